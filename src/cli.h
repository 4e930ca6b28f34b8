/* Helpers shared by the mesh subcommands (src/cmd_*.c): messages, strict
 * value checks that quote the bad value, subnet-route syntax, and the state
 * directory. Exit-code conventions: functions named *_fail / cli_bad_value
 * print their message and return the exit code to pass on (1 failure,
 * 2 usage error); cli_check_* return 0 when the value is fine, else 2 after
 * printing. */
#ifndef MESHD_CLI_H
#define MESHD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "daemon.h"
#include "mesh/cert.h"
#include "mesh/identity.h"

struct store;

enum {
	CLI_SHOW_MAX = 64,			/* bytes of a bad value quoted back */
	CLI_SHOW_BUF = CLI_SHOW_MAX + 8,	/* room for cli_show's output */
};

#define CLI_DIR_HELP \
	"  -d, --dir DIR      state directory (default: $MESHD_STATE_DIR, else " \
	MESHD_DEFAULT_DIR ")\n"
#define CLI_HELP_HELP "  -h, --help         show this help\n"
#define CLI_JSON_HELP \
	"      --json         one JSON object instead of the table\n"

/* Entries of a struct cli_opt table (cli_opts.h) for the options several
 * commands share, each described by the *_HELP text next to it. */
#define CLI_DIR_OPT(d)		CLI_SHORT("dir", 'd', CLI_DIR, d)
#define CLI_JSON_OPT(d)		CLI_OPT("json", 'j', CLI_FLAG, d)
#define CLI_TCP_PORT_OPT(d)	\
	CLI_OPT("tcp-port", 'C', CLI_PARSE, d), .parse = cli_parse_tcp_port

/* "meshd: REASON" on stderr; returns 1. */
__attribute__((format(printf, 1, 2)))
int cli_fail(const char *fmt, ...);

/* A bad value the user gave to cmd: the reason, then a hint to run
 * 'meshd CMD --help'; returns 2. */
__attribute__((format(printf, 2, 3)))
int cli_bad_value(const char *cmd, const char *fmt, ...);

/* A printable copy of user input for messages into buf (CLI_SHOW_BUF
 * bytes): control bytes become '?', long values are cut, so a hostile
 * argument cannot forge output lines. Returns buf. */
const char *cli_show(const char *s, char *buf, size_t len);

/* Decimal digits only (no sign, no spaces), at most max. */
bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* what ("node name", "mesh name") must be a DNS label (mesh_name_valid). */
int cli_check_label(const char *cmd, const char *what, const char *s);
int cli_check_ifname(const char *cmd, const char *s);
int cli_check_dir(const char *cmd, const char *s);
/* The value of --opt must be an absolute path. */
int cli_check_abspath(const char *cmd, const char *opt, const char *s);

/* The host name reduced to one DNS label: first component, lower case,
 * anything else to '-', no '-' at either end; "node" when nothing is left. */
void cli_default_name(char out[MESH_NAME_MAX + 1]);

/* ---- subnet routes ---- */

enum {
	CLI_PREFIX_STR = INET6_ADDRSTRLEN + 4,	/* "ADDR/LEN" */
};

/* One prefix "ADDR/LEN" or "ADDR" (a host route), IPv4 or IPv6, host bits
 * clear. On error, why says what is wrong (with the canonical form when
 * only host bits are set). */
bool cli_parse_cidr(const char *s, struct mesh_prefix *p, char *why, size_t whylen);
void cli_prefix_str(const struct mesh_prefix *p, char *out, size_t len);
bool cli_prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b);

/* A subnet route argument (named what in messages) of cmd: one CIDR (list
 * false) or "CIDR[,CIDR...]" / "none" (list true). Only [0-9a-fA-F.:/,]
 * (no spaces: the value travels as one word on the control socket), at most
 * MESH_CERT_MAX_ROUTES entries, no duplicates or overlaps. Fills out/n when
 * given. Returns 0 or 2 (usage error printed). */
int cli_check_routes(const char *cmd, const char *what, const char *s, bool list,
		     struct mesh_prefix *out, size_t *n);

/* ---- the control socket ---- */

/* ctl_request's "the daemon is not running" error. */
bool cli_not_running(const char *err);

/* Sends req to the daemon in dir; prints the reply body (if any) with a
 * final newline. Returns 0 or 1 (message printed). */
int cli_ctl_print(const char *dir, const char *req);
/* Prints a daemon's reply body (malloc'd; freed here) with a final
 * newline. Returns 0 or 1 (message printed). */
int cli_print_body(char *body);
/* Each line of a daemon's reply body (its warnings and notes) to stderr as
 * "meshd: LINE"; NULL or "" prints nothing. */
void cli_print_notes(const char *body);

/* ---- state directory and store (src/cli_state.c) ---- */

/* dir/MESHD_DB_NAME into buf; -1 when it does not fit. */
int cli_db_path(const char *dir, char *buf, size_t len);

/* Opens an existing store; a missing one is "no node here". Returns 0 or 1
 * (message printed). */
int cli_open_existing(const char *dir, struct store **st);

/* 1 when dir holds an initialised node (its mesh name in mesh_name), 0 when
 * not, -1 on error (message printed). Never creates anything. */
int cli_holds_node(const char *dir, char mesh_name[MESH_NAME_MAX + 1]);

/* What cli_create_store made, for cli_undo_create: the directories
 * dir[0..top) down to dir[0..last) (0: none; `init -d /a/b/c` with only /a
 * existing makes /a/b and /a/b/c), and the database file. */
struct cli_created {
	size_t top, last;
	bool db;
};

/* Creates dir (mode 0700, and its missing parents, if needed) and opens a
 * new store in it; tells what it created in *c. Returns 0 or 1 (message
 * printed, nothing left behind). */
int cli_create_store(const char *dir, struct store **st, struct cli_created *c);

/* Whether cli_create_store(dir) would get past the directory (make_dir's
 * checks, and write permission), creating and changing nothing: for a
 * join, before the inviter spends the invite. 0, or 1 (printed). */
int cli_check_store_dir(const char *dir);

/* Removes a store this command created, and the directories it made
 * (deepest first, each only while empty). */
void cli_undo_create(const char *dir, const struct cli_created *c);

/* --tcp-port N (init, join, up, set): a cli_parse_fn into an int (callers
 * start it at -1: not given). 0..65535; 0 turns the TCP entry off. */
int cli_parse_tcp_port(const char *cmd, const char *value, void *dest);
#define CLI_TCP_PORT_HELP \
	"      --tcp-port N   also listen on TCP port N (443 passes most firewalls) as\n" \
	"                     an entry for members whose UDP is blocked; stored;\n" \
	"                     0 turns it off (default: off)\n"
/* --metrics ADDR:PORT|off (up, set): a cli_parse_fn that checks the value
 * while parsing, so a typo is a usage error; *(const char **)dest = value. */
int cli_parse_metrics(const char *cmd, const char *value, void *dest);
/* The warning for a metrics listener on addr (as the user should see it)
 * that is not loopback-only. */
void cli_warn_metrics_exposed(const char *addr);
/* Stores port (< 0: nothing to do; 0: off) in st. 0, or 1 (printed). */
int cli_store_tcp_port(struct store *st, const char *dir, int port);
/* The same in the store of the node in dir, opened for it. */
int cli_store_tcp_port_in(const char *dir, int port);

#endif
