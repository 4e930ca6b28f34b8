/* One table-driven option parser for all mesh subcommands (src/cmd_*.c).
 *
 * A command describes its options as a table of struct cli_opt (long name,
 * kind, destination) and its positional arguments by count; cli_parse()
 * drives getopt_long from it and says every complaint the same way:
 * "meshd CMD: unknown option '--x'" / "option '-d' needs a value" /
 * "unexpected argument 'x'" / "missing ...", followed by the usage text on
 * stderr and exit code 2; --help prints the usage on stdout (exit 0).
 *
 * Checks run in a fixed order, which decides the message when several
 * things are wrong at once:
 *   1. while scanning argv: --help, getopt errors, and the kinds checked at
 *      once (CLI_PORT, CLI_COUNT, CLI_PARSE) for every occurrence;
 *   2. the number of positional arguments;
 *   3. required options (.missing set) in table order;
 *   4. the other kinds, on the last occurrence of each option, in table order.
 */
#ifndef MESHD_CLI_OPTS_H
#define MESHD_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cli_kind {
	CLI_FLAG,	/* bool *: set when given; takes no value */
	CLI_DIR,	/* const char **: a state directory */
	CLI_IFNAME,	/* const char **: an interface name (tun_name_valid) */
	CLI_LABEL,	/* const char **: a DNS label, called .what in messages */
	CLI_ROUTES,	/* const char **: "CIDR[,CIDR...]" or "none" */
	CLI_PATH_OPT,	/* const char **: an absolute path; the value is optional
			 * (the next word that is not an option counts too),
			 * .def without one */
	CLI_PORT,	/* uint16_t *: a UDP port 1..65535 */
	CLI_COUNT,	/* uint32_t *: a number 1...max */
	CLI_PARSE,	/* .parse(cmd, value, dest) on each occurrence */
	CLI_PARSE_LATE,	/* .parse(cmd, value, dest) once, in step 4 */
};

/* A CLI_PARSE(_LATE) callback: 0, or 2 after printing the usage error
 * (cli_bad_value). */
typedef int cli_parse_fn(const char *cmd, const char *value, void *dest);

struct cli_opt {
	const char *name;	/* long option, without "--" */
	char key;		/* getopt_long's value for it (a flag given
				 * "=VALUE" comes back through optopt: "option
				 * '--json' takes no value") */
	bool short_opt;		/* "-KEY" is accepted too */
	enum cli_kind kind;
	void *dest;
	const char *what;	/* CLI_LABEL: "node name", ... */
	const char *def;	/* CLI_PATH_OPT: the value when none is given */
	uint32_t max;		/* CLI_COUNT */
	cli_parse_fn *parse;	/* CLI_PARSE, CLI_PARSE_LATE */
	const char *missing;	/* set: required; the complaint when absent */
};

/* Table entries: { CLI_OPT("name", 'n', CLI_LABEL, &name), .what = "node name" };
 * CLI_SHORT also accepts "-KEY". */
#define CLI_OPT(lname, k, kd, d) .name = (lname), .key = (k), .kind = (kd), .dest = (d)
#define CLI_SHORT(lname, k, kd, d) CLI_OPT(lname, k, kd, d), .short_opt = true
/* A table as struct cli_cmd's opts and nopts. */
#define CLI_TABLE(o) (o), sizeof (o) / sizeof (o)[0]

enum {
	CLI_OPTS_MAX = 16,	/* options a command may have, besides --help */
	CLI_ARGS_ANY = -1,	/* max_args: no limit (the command checks) */
	CLI_GO = -1,		/* cli_parse: run the command */
};

struct cli_cmd {
	const char *name;	/* "init" */
	const char *usage;	/* the whole --help text */
	const struct cli_opt *opts;
	size_t nopts;
	int min_args, max_args;	/* positional arguments */
	const char *missing;	/* when fewer than min_args: "the invite TOKEN" */
};

/* Parses argv (argv[0] the subcommand) by cmd's table, filling the
 * destinations of the options given (the others keep their values).
 * Returns CLI_GO with *argi the index of the first positional argument, or
 * the exit code to return: 0 after --help, 2 after a usage error (printed).
 * Uses getopt's globals: call once per process. */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *argi);

/* "meshd CMD: MESSAGE" and cmd's usage on stderr; returns 2. For the
 * usage errors a command finds in its positional arguments. */
__attribute__((format(printf, 2, 3)))
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...);

#endif
