/* The mesh subcommands: init, up, invite, join, status, revoke, down, set,
 * routes.
 *
 * Every piece of user input (options, token, environment) is checked here,
 * strictly and with a message that quotes the bad value, before it reaches
 * the store, the network or the control socket. Failures print exactly one
 * line "meshd: REASON" and leave no half-done state: `init` and `join`
 * remove what they created when a later step fails, and `join` writes
 * nothing at all until the inviter has admitted us.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd_mesh.h"
#include "ctl.h"
#include "daemon.h"
#include "local_addrs.h"
#include "tun.h"
#include "mesh/join.h"
#include "mesh/node.h"
#include "mesh/token.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/time.h"

enum {
	TTL_DEFAULT_S = 24 * 3600,
	USES_DEFAULT = 1,
	USES_MAX = 1000000,
	DOWN_WAIT_MS = 10000,
	DOWN_POLL_MS = 50,
	TOKEN_LINE_MAX = 4096,
	SHOW_MAX = 64,		/* bytes of a bad value quoted back */
};

#define DIR_HELP \
	"  -d, --dir DIR      state directory (default: $MESHD_STATE_DIR, else " \
	MESHD_DEFAULT_DIR ")\n"
#define HELP_HELP "  -h, --help         show this help\n"

/* ---- messages ---- */

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("meshd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* A bad value the user gave: one line with the reason, one with a hint. */
__attribute__((format(printf, 2, 3)))
static int bad_value(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("meshd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'meshd %s --help' for usage.\n", cmd);
	return 2;
}

/* A printable copy of user input for messages: control bytes become '?',
 * long values are cut, so a hostile argument cannot forge output lines. */
static const char *show(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < len && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static int usage_error(FILE *f, const char *text, int code)
{
	fputs(text, f);
	return code;
}

/* getopt_long's complaint, in our words; returns 2. */
static int opt_error(const char *cmd, const char *text, int c, char **argv)
{
	char b[SHOW_MAX + 8];
	const char *arg = argv[optind - 1] ? argv[optind - 1] : "";

	if (c == ':')
		fprintf(stderr, "meshd %s: option '%s' needs a value\n", cmd, show(arg, b, sizeof b));
	else if (optopt && optopt < 0x80 && optopt >= 0x20)
		fprintf(stderr, "meshd %s: unknown option '-%c'\n", cmd, optopt);
	else
		fprintf(stderr, "meshd %s: unknown option '%s'\n", cmd, show(arg, b, sizeof b));
	return usage_error(stderr, text, 2);
}

/* ---- strict parsers ---- */

/* Decimal digits only (no sign, no spaces), at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static int parse_port(const char *cmd, const char *s, uint16_t *port)
{
	char b[SHOW_MAX + 8];
	uint64_t v;

	if (!parse_u64(s, 65535, &v) || v == 0)
		return bad_value(cmd, "invalid --port '%s': expected a UDP port 1..65535",
				 show(s, b, sizeof b));
	*port = (uint16_t)v;
	return 0;
}

/* "30s", "30m", "12h", "7d"; the expiry must fit the token's u32. */
static int parse_ttl(const char *s, uint64_t now, uint64_t *ttl)
{
	char b[SHOW_MAX + 8], num[24];
	size_t len = strlen(s);
	uint64_t v, mult;

	show(s, b, sizeof b);
	if (len < 2 || len - 1 >= sizeof num)
		goto junk;
	switch (s[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: goto junk;
	}
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (!parse_u64(num, UINT64_MAX, &v)) {
		/* digits that overflow are "too long", anything else is junk */
		if (strspn(num, "0123456789") == len - 1)
			goto too_long;
		goto junk;
	}
	if (v == 0)
		return bad_value("invite", "invalid --ttl '%s': an invite must be valid for "
				 "more than 0 seconds", b);
	if (v > UINT64_MAX / mult)
		goto too_long;
	v *= mult;
	if (v > UINT32_MAX || now + v > UINT32_MAX)
		goto too_long;
	*ttl = v;
	return 0;
junk:
	return bad_value("invite", "invalid --ttl '%s': expected a number and a unit s, m, h "
			 "or d (e.g. 30m, 12h, 7d)", b);
too_long:
	return bad_value("invite", "invalid --ttl '%s': the invite would expire after the "
			 "year 2106, beyond what a token can carry", b);
}

static int parse_uses(const char *s, uint32_t *uses)
{
	char b[SHOW_MAX + 8];
	uint64_t v;

	if (!parse_u64(s, USES_MAX, &v) || v == 0)
		return bad_value("invite", "invalid --uses '%s': expected a number 1..%d",
				 show(s, b, sizeof b), USES_MAX);
	*uses = (uint32_t)v;
	return 0;
}

static int check_name(const char *cmd, const char *s)
{
	char b[SHOW_MAX + 8];

	if (mesh_name_valid(s))
		return 0;
	return bad_value(cmd, "invalid node name '%s': use 1-63 characters a-z, 0-9 and '-', "
			 "not starting or ending with '-'", show(s, b, sizeof b));
}

static int check_ifname(const char *cmd, const char *s)
{
	char b[SHOW_MAX + 8];

	if (tun_name_valid(s))
		return 0;
	return bad_value(cmd, "invalid interface name '%s': use 1-15 characters, no '/', "
			 "':' or whitespace", show(s, b, sizeof b));
}

static int check_dir(const char *cmd, const char *s)
{
	if (*s && strlen(s) < PATH_MAX - 32)
		return 0;
	return bad_value(cmd, "invalid state directory: %s", *s ? "path too long" : "empty path");
}

/* An IPv4 prefix a.b.c.d/len for the overlay, len 8..24, host bits clear. */
static int parse_prefix(const char *s, struct mesh_prefix *p)
{
	char b[SHOW_MAX + 8], addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	uint32_t a, mask;
	uint64_t len;

	show(s, b, sizeof b);
	if (strchr(s, ':'))
		return bad_value("init", "invalid --prefix '%s': give an IPv4 prefix; the IPv6 "
				 "prefix is derived from the mesh id", b);
	if (!slash || (size_t)(slash - s) >= sizeof addr)
		goto bad;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1 || !parse_u64(slash + 1, 32, &len))
		goto bad;
	if (len < 8 || len > 24)
		return bad_value("init", "invalid --prefix '%s': the prefix length must be 8..24",
				 b);
	a = ntohl(in.s_addr);
	mask = ~0u << (32 - len);
	if (a & ~mask) {
		in.s_addr = htonl(a & mask);
		inet_ntop(AF_INET, &in, addr, sizeof addr);
		return bad_value("init", "invalid --prefix '%s': host bits are set (did you mean "
				 "%s/%u?)", b, addr, (unsigned)len);
	}
	memset(p, 0, sizeof *p);
	p->family = MESH_FAMILY_V4;
	p->len = (uint8_t)len;
	memcpy(p->addr, &in, 4);
	return 0;
bad:
	return bad_value("init", "invalid --prefix '%s': expected an IPv4 prefix such as "
			 "10.42.0.0/16", b);
}

/* ---- subnet routes: strict CIDR syntax before anything is sent ---- */

enum {
	ROUTE_LIST_MAX = CTL_REQ_MAX - 40,	/* fits "set advertise-routes LIST" */
	PREFIX_STR = INET6_ADDRSTRLEN + 4,	/* "ADDR/LEN" */
};

/* The mask of byte i of a prefix of len bits. */
static uint8_t byte_mask(unsigned len, size_t i)
{
	if (len >= 8 * (i + 1))
		return 0xff;
	if (len <= 8 * i)
		return 0;
	return (uint8_t)(0xff << (8 - (len - 8 * i)));
}

/* One prefix "ADDR/LEN" or "ADDR" (a host route), IPv4 or IPv6, host bits
 * clear. On error, why says what is wrong (with the canonical form when
 * only host bits are set). */
static bool parse_cidr(const char *s, struct mesh_prefix *p, char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s), bytes;
	uint64_t len;
	bool v6 = memchr(s, ':', alen) != NULL;

	memset(p, 0, sizeof *p);
	if (alen == 0 || alen >= sizeof addr) {
		snprintf(why, whylen, "expected an address/length such as 10.1.0.0/24 or "
			 "fd00:1::/64");
		return false;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, p->addr) != 1) {
		snprintf(why, whylen, "not an IPv%c address", v6 ? '6' : '4');
		return false;
	}
	p->family = v6 ? MESH_FAMILY_V6 : MESH_FAMILY_V4;
	len = v6 ? 128 : 32;
	if (slash && !parse_u64(slash + 1, v6 ? 128 : 32, &len)) {
		snprintf(why, whylen, "the prefix length must be 0..%d", v6 ? 128 : 32);
		return false;
	}
	if (len == 0) {
		snprintf(why, whylen, "a default route cannot be a subnet route");
		return false;
	}
	p->len = (uint8_t)len;
	bytes = v6 ? 16 : 4;
	for (size_t i = 0; i < bytes; i++) {
		if (!(p->addr[i] & ~byte_mask(p->len, i)))
			continue;
		for (size_t k = 0; k < bytes; k++)
			p->addr[k] &= byte_mask(p->len, k);
		inet_ntop(v6 ? AF_INET6 : AF_INET, p->addr, canon, sizeof canon);
		snprintf(why, whylen, "host bits are set (did you mean %s/%u?)", canon,
			 (unsigned)p->len);
		return false;
	}
	return true;
}

static void prefix_str(const struct mesh_prefix *p, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family == MESH_FAMILY_V6 ? AF_INET6 : AF_INET, p->addr, a, sizeof a);
	snprintf(out, len, "%s/%u", a, (unsigned)p->len);
}

static bool prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	unsigned len = a->len < b->len ? a->len : b->len;

	if (a->family != b->family)
		return false;
	for (size_t i = 0; i < 16; i++)
		if ((a->addr[i] ^ b->addr[i]) & byte_mask(len, i))
			return false;
	return true;
}

/* A subnet route argument of cmd: one CIDR (list false) or
 * "CIDR[,CIDR...]" / "none" (list true). Only [0-9a-fA-F.:/,] (no spaces:
 * the value travels as one word on the control socket), at most
 * MESH_CERT_MAX_ROUTES entries, no duplicates or overlaps. Fills out/n when
 * given. Returns 0 or 2 (usage error printed). */
static int check_routes(const char *cmd, const char *what, const char *s, bool list,
			struct mesh_prefix *out, size_t *n)
{
	struct mesh_prefix r[MESH_CERT_MAX_ROUTES];
	char b[SHOW_MAX + 8], e[SHOW_MAX + 8], why[128], one[INET6_ADDRSTRLEN + 8];
	size_t cnt = 0;
	const char *p = s;

	show(s, b, sizeof b);
	if (list && !strcmp(s, "none"))
		goto done;
	if (!*s)
		return bad_value(cmd, "invalid %s '': %s", what, list ?
				 "give CIDR[,CIDR...] or 'none'" : "give a CIDR");
	if (strlen(s) > ROUTE_LIST_MAX)
		return bad_value(cmd, "invalid %s '%s': longer than %d characters", what, b,
				 ROUTE_LIST_MAX);
	if (strspn(s, "0123456789abcdefABCDEF.:/,") != strlen(s) || (!list && strchr(s, ',')))
		return bad_value(cmd, "invalid %s '%s': only digits, a-f, '.', ':', '/'%s are "
				 "allowed", what, b, list ? " and ','" : "");
	for (;;) {
		size_t l = strcspn(p, ",");

		if (l == 0 || l >= sizeof one)
			return bad_value(cmd, "invalid %s '%s': %s entry", what, b,
					 l ? "an overlong" : "an empty");
		if (cnt == MESH_CERT_MAX_ROUTES)
			return bad_value(cmd, "invalid %s '%s': at most %d prefixes", what, b,
					 MESH_CERT_MAX_ROUTES);
		memcpy(one, p, l);
		one[l] = '\0';
		if (!parse_cidr(one, &r[cnt], why, sizeof why))
			return bad_value(cmd, "invalid %s: '%s': %s", what,
					 show(one, e, sizeof e), why);
		for (size_t i = 0; i < cnt; i++)
			if (prefix_overlaps(&r[i], &r[cnt]))
				return bad_value(cmd, "invalid %s '%s': '%s' overlaps another "
						 "entry", what, b, show(one, e, sizeof e));
		cnt++;
		if (!p[l])
			break;
		p += l + 1;
	}
done:
	if (out)
		memcpy(out, r, cnt * sizeof r[0]);
	if (n)
		*n = cnt;
	return 0;
}

/* --hosts-file [PATH]: getopt gives optarg only for "--hosts-file=PATH";
 * a following word that is not an option is the PATH too. */
static const char *hosts_file_arg(int argc, char **argv)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] && argv[optind][0] != '-')
		return argv[optind++];
	return "/etc/hosts";
}

static int check_hosts_file(const char *cmd, const char *s)
{
	char b[SHOW_MAX + 8];

	if (*s == '/' && strlen(s) < PATH_MAX - 32)
		return 0;
	return bad_value(cmd, "invalid --hosts-file '%s': give an absolute path", show(s, b, sizeof b));
}

/* The host name reduced to one DNS label: first component, lower case,
 * anything else to '-', no '-' at either end; "node" when nothing is left. */
static void default_name(char out[MESH_NAME_MAX + 1])
{
	char host[256] = "";
	size_t i, n = 0, start;

	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	for (i = 0; host[i] && host[i] != '.' && n < MESH_NAME_MAX; i++) {
		char c = host[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	for (start = 0; out[start] == '-'; start++)
		;
	memmove(out, out + start, n - start + 1);
	if (!mesh_name_valid(out))
		strcpy(out, "node");
}

/* ---- state directory and store ---- */

static int db_path(const char *dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, MESHD_DB_NAME);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int store_fail(const char *what, const char *path, int r)
{
	if (r == MESHD_E_SYS)
		return fail("%s %s: %s", what, path, strerror(errno));
	if (r == MESHD_E_RANGE)
		return fail("%s was written by a newer meshd", path);
	if (r == MESHD_E_AGAIN)
		return fail("%s is locked by another process", path);
	return fail("%s %s: %s", what, path, meshd_strerror(r));
}

/* Opens an existing store; a missing one is "no node here". */
static int open_existing(const char *dir, struct store **st)
{
	char path[PATH_MAX];
	int r;

	if (db_path(dir, path, sizeof path) != 0)
		return fail("state directory path too long: %s", dir);
	if (access(path, F_OK) != 0)
		return fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
	r = store_open(path, st);
	if (r != 0)
		return store_fail("cannot open", path, r);
	return 0;
}

/* 1 when dir holds an initialised node (its mesh name in mesh_name), 0 when
 * not, -1 on error (message printed). Never creates anything. */
static int holds_node(const char *dir, char mesh_name[MESH_NAME_MAX + 1])
{
	struct store_node node;
	struct store_mesh mesh;
	char path[PATH_MAX];
	struct store *st;
	int r, ret;

	if (db_path(dir, path, sizeof path) != 0) {
		fail("state directory path too long: %s", dir);
		return -1;
	}
	if (access(path, F_OK) != 0)
		return 0;
	r = store_open(path, &st);
	if (r != 0) {
		store_fail("cannot open", path, r);
		return -1;
	}
	ret = store_node_get(st, &node) == 0;
	store_node_clear(&node);
	strcpy(mesh_name, "?");
	if (ret && store_mesh_get(st, &mesh) == 0)
		snprintf(mesh_name, MESH_NAME_MAX + 1, "%s", mesh.name);
	store_mesh_clear(&mesh);
	store_close(st);
	return ret;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

/* mkdir -p dir, the last component mode 0700. *created tells whether dir
 * itself is new (so a failure later may remove it). An existing directory
 * others can read is tightened when empty, refused otherwise. */
static int make_dir(const char *dir, bool *created)
{
	char path[PATH_MAX];
	struct stat sb;
	size_t i;

	*created = false;
	snprintf(path, sizeof path, "%s", dir);
	for (i = 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return fail("cannot create %s: %s", path, strerror(errno));
		path[i] = '/';
	}
	if (mkdir(dir, 0700) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return fail("cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &sb) != 0)
		return fail("%s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return fail("%s exists and is not a directory", dir);
	if (!(sb.st_mode & 077))
		return 0;
	if (!dir_is_empty(dir))
		return fail("%s is accessible by other users; use an empty or private "
			    "directory (chmod 700)", dir);
	if (chmod(dir, 0700) != 0)
		return fail("cannot chmod %s: %s", dir, strerror(errno));
	return 0;
}

/* Removes a store this command created, and the directory if it is new. */
static void undo_create(const char *dir, bool dir_created, bool db_created)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char path[PATH_MAX + 16];

	if (db_created)
		for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
			snprintf(path, sizeof path, "%s/%s%s", dir, MESHD_DB_NAME, sfx[i]);
			unlink(path);
		}
	if (dir_created)
		rmdir(dir);
}

/* Creates dir (if needed) and opens a new store in it. */
static int create_store(const char *dir, struct store **st, bool *dir_created,
			bool *db_created)
{
	char path[PATH_MAX];
	int r;

	*db_created = false;
	if (db_path(dir, path, sizeof path) != 0)
		return fail("state directory path too long: %s", dir);
	if (make_dir(dir, dir_created) != 0)
		return 1;
	*db_created = access(path, F_OK) != 0;
	r = store_open(path, st);
	if (r != 0) {
		store_fail("cannot create", path, r);
		undo_create(dir, *dir_created, *db_created);
		return 1;
	}
	return 0;
}

/* ---- init ---- */

static const char usage_init[] =
	"Usage: meshd init [-d DIR] [--name NODE] [--mesh-name NAME] [--prefix CIDR]\n"
	"                  [--port N]\n"
	"\n"
	"Create a new mesh with this node as its first member and admin.\n"
	"\n"
	DIR_HELP
	"      --name NODE    node name, a DNS label (default: from the host name)\n"
	"      --mesh-name NAME  the mesh's name, a DNS label: members answer as\n"
	"                     NODE.NAME (default: mesh)\n"
	"      --prefix CIDR  overlay IPv4 prefix, /8 to /24 (default: a random /16\n"
	"                     in 100.64.0.0/10)\n"
	"      --port N       UDP listen port (default: 51820)\n"
	HELP_HELP;

static void print_summary(struct store *st, const char *dir)
{
	struct store_member m;
	struct store_node node;
	struct store_mesh mesh;

	if (store_node_get(st, &node) != 0 || store_mesh_get(st, &mesh) != 0) {
		printf("initialised a new mesh in %s\n", dir);
	} else {
		printf("node:     %s (admin of new mesh '%s')\n", node.name, mesh.name);
		printf("mesh:     %s  %s\n", mesh.prefix4, mesh.prefix6);
		if (store_member_get_by_name(st, node.name, &m) == 0)
			printf("address:  %s  %s\n", m.overlay4, m.overlay6);
		printf("port:     %u/udp\n", (unsigned)node.listen_port);
	}
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	printf("next: meshd up -d %s\n", dir);
}

static int do_init(const char *dir, const char *name, const char *mesh,
		   const struct mesh_prefix *prefix, uint16_t port)
{
	char mesh_name[MESH_NAME_MAX + 1], err[256] = "";
	bool dir_created, db_created;
	struct store *st;
	int r;

	r = holds_node(dir, mesh_name);
	if (r < 0)
		return 1;
	if (r > 0)
		return fail("%s already holds a node (mesh '%s'); remove it or use another -d",
			    dir, mesh_name);
	if (create_store(dir, &st, &dir_created, &db_created) != 0)
		return 1;
	r = mesh_node_init_store(st, name, mesh, prefix, port, MESHD_DEFAULT_IFNAME,
				 (uint64_t)time(NULL), err, sizeof err);
	if (r != 0) {
		store_close(st);
		undo_create(dir, dir_created, db_created);
		if (r == MESHD_E_EXIST)
			return fail("%s already holds a node; remove it or use another -d", dir);
		return fail("init failed: %s", *err ? err : meshd_strerror(r));
	}
	print_summary(st, dir);
	store_close(st);
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "mesh-name", required_argument, NULL, 'm' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dir = NULL, *name = NULL, *mesh = NULL, *prefix = NULL;
	char defname[MESH_NAME_MAX + 1], b[SHOW_MAX + 8];
	struct mesh_prefix p4;
	uint16_t port = MESHD_DEFAULT_PORT;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_init, 0);
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'm': mesh = optarg; break;
		case 'p': prefix = optarg; break;
		case 'P':
			if (parse_port("init", optarg, &port))
				return 2;
			break;
		default: return opt_error("init", usage_init, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd init: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_init, 2);
	}
	if (dir && check_dir("init", dir))
		return 2;
	if (!name) {
		default_name(defname);
		name = defname;
	}
	if (check_name("init", name) || (prefix && parse_prefix(prefix, &p4)))
		return 2;
	if (mesh && !mesh_name_valid(mesh))
		return bad_value("init", "invalid mesh name '%s': use 1-63 characters a-z, 0-9 "
				 "and '-', not starting or ending with '-'", show(mesh, b, sizeof b));
	umask(077);
	return do_init(meshd_state_dir(dir), name, mesh, prefix ? &p4 : NULL, port);
}

/* ---- up ---- */

static const char usage_up[] =
	"Usage: meshd up [-d DIR] [-i IFNAME] [-f] [--advertise-routes CIDR[,CIDR...]]\n"
	"                [--hosts-file [PATH]]\n"
	"\n"
	"Start the node stored in DIR. Without -f, returns once it runs in the\n"
	"background.\n"
	"\n"
	DIR_HELP
	"  -i, --interface IFNAME  interface name (default: the stored one, " MESHD_DEFAULT_IFNAME ")\n"
	"  -f, --foreground   stay in the foreground\n"
	"      --advertise-routes LIST  offer the subnets LIST (IPv4/IPv6 CIDRs, comma-\n"
	"                     separated; 'none' withdraws) to the mesh; an admin must\n"
	"                     approve them ('meshd routes approve'). Kept in DIR.\n"
	"      --hosts-file [PATH]  keep NODE.MESH names of the members in a managed\n"
	"                     block of PATH (default: /etc/hosts)\n"
	HELP_HELP
	"\n"
	"Environment: LOG_LEVEL=error|info|verbose|debug|silent.\n";

/* The advertised prefixes must stay outside the overlay prefixes of the
 * mesh in dir (the daemon checks again; this says it before forking). */
static int check_advert_overlay(const char *dir, const struct mesh_prefix *r, size_t n)
{
	struct mesh_prefix ov[2];
	struct store_mesh mesh;
	struct store *st;
	char why[128], a[PREFIX_STR], o[PREFIX_STR];
	const char *ovs[2];
	int ret = 0;

	if (n == 0)
		return 0;
	if (open_existing(dir, &st) != 0)
		return 1;
	if (store_mesh_get(st, &mesh) != 0) {
		store_close(st);
		return fail("cannot read the mesh from %s", dir);
	}
	ovs[0] = mesh.prefix4;
	ovs[1] = mesh.prefix6;
	for (size_t k = 0; k < 2 && !ret; k++) {
		if (!parse_cidr(ovs[k], &ov[k], why, sizeof why))
			continue;
		for (size_t i = 0; i < n && !ret; i++) {
			if (!prefix_overlaps(&r[i], &ov[k]))
				continue;
			prefix_str(&r[i], a, sizeof a);
			prefix_str(&ov[k], o, sizeof o);
			ret = fail("cannot advertise %s: it overlaps the mesh's overlay prefix %s",
				   a, o);
		}
	}
	store_mesh_clear(&mesh);
	store_close(st);
	return ret;
}

static int start_node(const char *dir, const struct meshd_run_opts *o)
{
	struct mesh_prefix r[MESH_CERT_MAX_ROUTES];
	char path[PATH_MAX];
	size_t n = 0;

	if (db_path(dir, path, sizeof path) != 0)
		return fail("state directory path too long: %s", dir);
	if (access(path, F_OK) != 0)
		return fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
	if (ctl_running(dir))
		return fail("already running (%s/%s answers)", dir, CTL_SOCKET_NAME);
	if (o->advertise) {
		if (check_routes("up", "--advertise-routes", o->advertise, true, r, &n))
			return 2;
		if (check_advert_overlay(dir, r, n))
			return 1;
	}
	fflush(NULL);
	return meshd_daemon_run_opts(dir, o);
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "interface", required_argument, NULL, 'i' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "advertise-routes", required_argument, NULL, 'A' },
		{ "hosts-file", optional_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct meshd_run_opts o = { 0 };
	const char *dir = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:i:f", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_up, 0);
		case 'd': dir = optarg; break;
		case 'i': o.ifname = optarg; break;
		case 'f': o.foreground = true; break;
		case 'A': o.advertise = optarg; break;
		case 'H': o.hosts_file = hosts_file_arg(argc, argv); break;
		default: return opt_error("up", usage_up, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd up: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_up, 2);
	}
	if ((dir && check_dir("up", dir)) || (o.ifname && check_ifname("up", o.ifname)) ||
	    (o.advertise && check_routes("up", "--advertise-routes", o.advertise, true, NULL,
					 NULL)) ||
	    (o.hosts_file && check_hosts_file("up", o.hosts_file)))
		return 2;
	return start_node(meshd_state_dir(dir), &o);
}

/* ---- invite ---- */

static const char usage_invite[] =
	"Usage: meshd invite [-d DIR] [--ttl DURATION] [--uses N]\n"
	"\n"
	"Print a one-line invite token for `meshd join` (admin nodes only).\n"
	"\n"
	DIR_HELP
	"      --ttl DURATION  validity: Ns, Nm, Nh or Nd, e.g. 30m, 12h, 7d (default: 24h)\n"
	"      --uses N       how many nodes may join with it, 1..1000000 (default: 1)\n"
	HELP_HELP
	"\n"
	"The token carries this node's addresses (every up, non-loopback interface\n"
	"address, IPv4 first) and its UDP port. Behind NAT, name the reachable ones:\n"
	"  MESHD_INVITE_ENDPOINTS=203.0.113.7:51820,[2001:db8::7]:51820\n";

struct eps {
	union endpoint ep[MESH_TOKEN_MAX_EP];
	unsigned n;
};

static bool eps_has(const struct eps *e, const union endpoint *ep)
{
	for (unsigned i = 0; i < e->n; i++)
		if (endpoint_eq(&e->ep[i], ep))
			return true;
	return false;
}

/* MESHD_INVITE_ENDPOINTS=ip:port,[ip6]:port */
static int eps_from_env(const char *val, struct eps *e)
{
	char copy[1024], b[SHOW_MAX + 8], *save = NULL, *item;
	union endpoint ep;

	if (strlen(val) >= sizeof copy)
		return fail("MESHD_INVITE_ENDPOINTS is too long");
	strcpy(copy, val);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		size_t n;

		while (*item == ' ')
			item++;
		for (n = strlen(item); n > 0 && item[n - 1] == ' '; n--)
			item[n - 1] = '\0';
		if (endpoint_parse(&ep, item, false) != 0)
			return fail("MESHD_INVITE_ENDPOINTS: invalid endpoint '%s' (expected "
				    "ip:port or [ipv6]:port)", show(item, b, sizeof b));
		endpoint_unmap(&ep);
		if (ep.sa.sa_family == AF_INET6 && (ep.sin6.sin6_scope_id ||
		    IN6_IS_ADDR_LINKLOCAL(&ep.sin6.sin6_addr)))
			return fail("MESHD_INVITE_ENDPOINTS: link-local address '%s' cannot "
				    "be used in a token", show(item, b, sizeof b));
		if (eps_has(e, &ep))
			continue;
		if (e->n == MESH_TOKEN_MAX_EP)
			return fail("MESHD_INVITE_ENDPOINTS: at most %d endpoints",
				    MESH_TOKEN_MAX_EP);
		e->ep[e->n++] = ep;
	}
	if (e->n == 0)
		return fail("MESHD_INVITE_ENDPOINTS is set but names no endpoint");
	return 0;
}

/* True when sa lies in the prefix "addr/len" (false if it does not parse). */
static bool in_prefix(const char *prefix, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(prefix, '/');
	uint8_t net[16];
	const uint8_t *a;
	uint64_t len;
	int af;
	size_t i, max;

	if (!slash || (size_t)(slash - prefix) >= sizeof addr)
		return false;
	memcpy(addr, prefix, (size_t)(slash - prefix));
	addr[slash - prefix] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET ? 32 : 128;
	if (af != sa->sa_family || inet_pton(af, addr, net) != 1 ||
	    !parse_u64(slash + 1, max, &len))
		return false;
	a = af == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr :
	    (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	for (i = 0; i < len / 8; i++)
		if (a[i] != net[i])
			return false;
	if (len % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - len % 8));

		if ((a[i] & m) != (net[i] & m))
			return false;
	}
	return true;
}

struct invite_scan {
	struct eps *e;
	uint16_t port;
	const struct store_mesh *mesh;
};

/* One of our addresses (local_addrs.h) outside the mesh's prefixes. */
static bool invite_addr(void *ctx, const struct local_addr *a)
{
	struct invite_scan *s = ctx;
	union endpoint ep;

	if (in_prefix(s->mesh->prefix4, a->addr) || in_prefix(s->mesh->prefix6, a->addr))
		return true;
	memset(&ep, 0, sizeof ep);
	if (a->addr->sa_family == AF_INET) {
		ep.sin = *(const struct sockaddr_in *)(const void *)a->addr;
		ep.sin.sin_port = htons(s->port);
	} else {
		ep.sin6 = *(const struct sockaddr_in6 *)(const void *)a->addr;
		ep.sin6.sin6_port = htons(s->port);
		ep.sin6.sin6_scope_id = 0;
		ep.sin6.sin6_flowinfo = 0;
	}
	if (!eps_has(s->e, &ep))
		s->e->ep[s->e->n++] = ep;
	return s->e->n < MESH_TOKEN_MAX_EP;
}

static int eps_from_interfaces(struct eps *e, const struct store_node *node,
			       const struct store_mesh *mesh)
{
	struct invite_scan s = { .e = e, .port = node->listen_port, .mesh = mesh };

	if (node->listen_port == 0)
		return fail("the node has no fixed UDP port; set MESHD_INVITE_ENDPOINTS");
	if (local_addrs_foreach(node->ifname, invite_addr, &s) != 0)
		return fail("getifaddrs: %s", strerror(errno));
	if (e->n == 0)
		return fail("no usable address on this host for the token (only loopback, "
			    "link-local or mesh addresses); set MESHD_INVITE_ENDPOINTS");
	return 0;
}

static int invite_endpoints(struct store *st, struct eps *e)
{
	const char *env = getenv("MESHD_INVITE_ENDPOINTS");
	struct store_node node;
	struct store_mesh mesh;
	int r;

	memset(e, 0, sizeof *e);
	if (env)
		return eps_from_env(env, e);
	if ((r = store_node_get(st, &node)) != 0)
		return fail("cannot read this node from the store: %s", meshd_strerror(r));
	if ((r = store_mesh_get(st, &mesh)) != 0) {
		store_node_clear(&node);
		return fail("cannot read the mesh from the store: %s", meshd_strerror(r));
	}
	r = eps_from_interfaces(e, &node, &mesh);
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

static int do_invite(const char *dir, uint64_t ttl, uint32_t uses, uint64_t now)
{
	char line[MESH_TOKEN_STR_MAX + 1];
	struct mesh_token tok;
	struct store *st;
	struct eps e;
	int r, ret = 1;

	if (open_existing(dir, &st) != 0)
		return 1;
	/* endpoints first: an invite nobody can use must not be stored */
	if (invite_endpoints(st, &e) != 0)
		goto out;
	memset(&tok, 0, sizeof tok);
	r = mesh_node_add_invite(st, ttl, uses, now, &tok);
	if (r == MESHD_E_PERM) {
		fail("this node is not an admin of the mesh; only admins can invite");
		goto out;
	}
	if (r == MESHD_E_NOENT) {
		fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
		goto out;
	}
	if (r != 0) {
		fail("cannot create the invite: %s", meshd_strerror(r));
		goto wipe;
	}
	tok.nep = (uint8_t)e.n;
	memcpy(tok.ep, e.ep, sizeof e.ep);
	r = mesh_token_encode(&tok, line, sizeof line);
	if (r != 0) {
		fail("cannot encode the token: %s", meshd_strerror(r));
		goto wipe;
	}
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
		fail("cannot write the token: %s", strerror(errno));
		goto wipe;
	}
	ret = 0;
wipe:
	sodium_memzero(line, sizeof line);
	mesh_token_clear(&tok);
out:
	store_close(st);
	return ret;
}

int cmd_invite(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 't' },
		{ "uses", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t now = (uint64_t)time(NULL), ttl = TTL_DEFAULT_S;
	uint32_t uses = USES_DEFAULT;
	const char *dir = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_invite, 0);
		case 'd': dir = optarg; break;
		case 't':
			if (parse_ttl(optarg, now, &ttl))
				return 2;
			break;
		case 'u':
			if (parse_uses(optarg, &uses))
				return 2;
			break;
		default: return opt_error("invite", usage_invite, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd invite: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_invite, 2);
	}
	if (dir && check_dir("invite", dir))
		return 2;
	return do_invite(meshd_state_dir(dir), ttl, uses, now);
}

/* ---- join ---- */

static const char usage_join[] =
	"Usage: meshd join TOKEN [-d DIR] [--name NODE] [-i IFNAME] [--port N] [-f]\n"
	"                  [--advertise-routes CIDR[,CIDR...]] [--hosts-file [PATH]]\n"
	"\n"
	"Join the mesh of an invite token (TOKEN '-' reads it from standard input),\n"
	"then start the node like `meshd up`. Nothing is stored unless the join\n"
	"succeeds.\n"
	"\n"
	DIR_HELP
	"      --name NODE    node name, a DNS label (default: from the host name)\n"
	"  -i, --interface IFNAME  interface name (default: " MESHD_DEFAULT_IFNAME ")\n"
	"      --port N       UDP listen port (default: 51820)\n"
	"  -f, --foreground   stay in the foreground once joined\n"
	"      --advertise-routes LIST  offer these subnets once joined (see 'meshd up')\n"
	"      --hosts-file [PATH]  keep NODE.MESH names in PATH (default: /etc/hosts)\n"
	HELP_HELP;

/* Reads the first line of stdin into buf, whitespace trimmed. */
static int token_from_stdin(char *buf, size_t len)
{
	size_t n;
	char *s;

	if (!fgets(buf, (int)len, stdin))
		return fail("no invite token on standard input");
	n = strlen(buf);
	if (n == len - 1 && buf[n - 1] != '\n')
		return fail("the line on standard input is too long to be an invite token");
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	n = strlen(s);
	while (n > 0 && strchr(" \t\r\n\v\f", s[n - 1]))
		n--;
	memmove(buf, s, n);
	buf[n] = '\0';
	if (n == 0)
		return fail("no invite token on standard input");
	return 0;
}

/* A token that failed its checksum: cut short (only base64url characters,
 * and fewer than any complete token has) or mistyped? */
static bool token_truncated(const char *s)
{
	size_t n, bytes, len;
	const char *b64;

	while (*s && strchr(" \t\r\n\v\f", *s))
		s++;
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n\v\f", s[len - 1]))
		len--;
	if (len <= MESH_TOKEN_PREFIX_LEN)
		return true;	/* "meshd" or "meshd-": the parser said PROTO */
	b64 = s + MESH_TOKEN_PREFIX_LEN;
	n = len - MESH_TOKEN_PREFIX_LEN;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
			    b64[i]))
			return false;
	bytes = n * 6 / 8;
	/* a version 1 payload is 42 bytes + 7 or 19 per endpoint (1..4) */
	for (unsigned v4 = 0; v4 <= MESH_TOKEN_MAX_EP; v4++)
		for (unsigned v6 = 0; v4 + v6 <= MESH_TOKEN_MAX_EP; v6++)
			if (v4 + v6 > 0 && bytes == 42 + 7 * v4 + 19 * v6 && n % 4 != 1)
				return false;
	return bytes < MESH_TOKEN_BIN_MAX;
}

static int token_error(int r, const char *s)
{
	switch (r) {
	case MESHD_E_INVAL:
		return fail("this is not a meshd invite token (a token starts with '"
			    MESH_TOKEN_PREFIX "')");
	case MESHD_E_PROTO:
		if (token_truncated(s))
			return fail("the invite token is incomplete: it was cut short; copy "
				    "the whole line");
		return fail("the invite token is malformed (mistyped or altered); copy it "
			    "again");
	case MESHD_E_RANGE:
		return fail("the invite token comes from a newer meshd (unsupported token "
			    "version); upgrade meshd");
	case MESHD_E_EXPIRED:
		return fail("the invite token has expired; ask an admin for a new one "
			    "('meshd invite')");
	}
	return fail("invalid invite token: %s", meshd_strerror(r));
}

struct join_io {
	int fd[2];		/* AF_INET, AF_INET6; -1 when unused */
	uint16_t port;
};

static mtime_ns mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return SEC(ts.tv_sec) + NSEC(ts.tv_nsec);
}

static void join_send(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct join_io *io = ctx;
	int fd = io->fd[dst->sa.sa_family == AF_INET6];

	/* a lost datagram is retransmitted by the joiner; nothing to do here */
	if (fd >= 0)
		(void)!sendto(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, &dst->sa,
			      (socklen_t)endpoint_len(dst));
}

static int bind_udp(int af, uint16_t port, int *out)
{
	union endpoint ep;
	int fd, one = 1, e;

	memset(&ep, 0, sizeof ep);
	fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (af == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		ep.sin6.sin6_family = AF_INET6;
		ep.sin6.sin6_port = htons(port);
		ep.sin6.sin6_addr = in6addr_any;
	} else {
		ep.sin.sin_family = AF_INET;
		ep.sin.sin_port = htons(port);
	}
	if (bind(fd, &ep.sa, (socklen_t)endpoint_len(&ep)) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

static void join_io_close(struct join_io *io)
{
	for (int i = 0; i < 2; i++)
		if (io->fd[i] >= 0) {
			close(io->fd[i]);
			io->fd[i] = -1;
		}
}

/* One socket per family the token's endpoints use, on the port the node
 * will keep: a busy port is an error, not a reason to pick another. */
static int join_io_open(struct join_io *io, const struct mesh_token *tok, uint16_t port)
{
	bool need[2] = { false, false };
	int r;

	io->fd[0] = io->fd[1] = -1;
	io->port = port;
	for (unsigned i = 0; i < tok->nep; i++)
		need[tok->ep[i].sa.sa_family == AF_INET6] = true;
	for (int f = 0; f < 2; f++) {
		if (!need[f])
			continue;
		r = bind_udp(f ? AF_INET6 : AF_INET, port, &io->fd[f]);
		if (r == -EADDRINUSE) {
			join_io_close(io);
			return fail("UDP port %u is in use (another meshd?); choose one with "
				    "--port", (unsigned)port);
		}
		/* no IPv6 here: fine while an IPv4 endpoint remains */
		if (r == -EAFNOSUPPORT && f == 1 && need[0])
			continue;
		if (r != 0) {
			join_io_close(io);
			return fail("cannot bind UDP port %u (%s): %s", (unsigned)port,
				    f ? "IPv6" : "IPv4", strerror(-r));
		}
	}
	return 0;
}

static int join_receive(struct mesh_join_joiner *j, int fd, mtime_ns now)
{
	uint8_t buf[MESH_MSG_DGRAM_MAX + 1];
	union endpoint src;
	socklen_t slen;
	ssize_t n;
	int out = MESH_JOIN_PENDING;

	for (int i = 0; i < 64 && out == MESH_JOIN_PENDING; i++) {
		slen = sizeof src;
		n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, &src.sa, &slen);
		if (n < 0)
			break;
		if ((size_t)n > MESH_MSG_DGRAM_MAX)
			continue;
		endpoint_unmap(&src);
		out = mesh_join_joiner_input(j, buf, (size_t)n, &src, now);
	}
	return out;
}

/* Runs the joiner until it has an outcome. */
static int join_run(struct mesh_join_joiner *j, struct join_io *io)
{
	struct pollfd pfd[2];
	mtime_ns now, next;
	int out = MESH_JOIN_PENDING, n, ms;

	while (out == MESH_JOIN_PENDING) {
		now = mono_now();
		next = mesh_join_joiner_next_expiry(j);
		if (next == MTIME_NEVER)
			return j->outcome != MESH_JOIN_PENDING ? (int)j->outcome : MESH_JOIN_TIMEOUT;
		if (next <= now) {
			out = mesh_join_joiner_handle_expiry(j, now);
			continue;
		}
		ms = (int)((next - now + MSEC(1) - 1) / MSEC(1));
		n = 0;
		for (int f = 0; f < 2; f++)
			if (io->fd[f] >= 0)
				pfd[n++] = (struct pollfd){ .fd = io->fd[f], .events = POLLIN };
		if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR)
			return MESH_JOIN_INTERNAL;
		now = mono_now();
		for (int i = 0; i < n && out == MESH_JOIN_PENDING; i++)
			if (pfd[i].revents & POLLIN)
				out = join_receive(j, pfd[i].fd, now);
	}
	return out;
}

/* The network part: no state is written here. */
static int join_exchange(struct mesh_join_joiner *j, const struct mesh_token *tok,
			 const char *name, const uint8_t wg_pk[32], const uint8_t wg_sk[32],
			 uint16_t port)
{
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];
	struct join_io io;
	int r, out;

	r = mesh_node_sign_keypair(wg_sk, sign_pk, sign_sk);
	sodium_memzero(sign_sk, sizeof sign_sk);
	if (r != 0)
		return fail("cannot derive the node signing key: %s", meshd_strerror(r));
	if (join_io_open(&io, tok, port) != 0)
		return 1;
	r = mesh_join_joiner_start(j, tok, name, wg_pk, wg_sk, sign_pk, mono_now(),
				   (uint64_t)time(NULL), join_send, &io);
	if (r != 0) {
		join_io_close(&io);
		if (r == MESHD_E_EXPIRED)
			return token_error(r, "");
		return fail("cannot start the join: %s", meshd_strerror(r));
	}
	out = join_run(j, &io);
	join_io_close(&io);
	if (out != MESH_JOIN_OK)
		return fail("%s", mesh_join_strerror(out));
	return 0;
}

static int join_persist(const char *dir, const struct mesh_join_result *res,
			const uint8_t wg_sk[32], uint16_t port, const char *ifname)
{
	bool dir_created, db_created;
	struct store *st;
	int r;

	if (create_store(dir, &st, &dir_created, &db_created) != 0)
		return 1;
	r = mesh_node_persist_join(st, res, wg_sk, port, ifname, (uint64_t)time(NULL));
	store_close(st);
	if (r != 0) {
		undo_create(dir, dir_created, db_created);
		if (r == MESHD_E_EXIST)
			return fail("%s already holds a node; remove it or use another -d", dir);
		return fail("joined, but cannot store the node in %s: %s", dir,
			    meshd_strerror(r));
	}
	printf("joined mesh '%s' as '%s'\n", res->resp.mesh_name, res->cert.name);
	fflush(stdout);
	return 0;
}

static int do_join(const char *dir, const char *tokstr, const char *name,
		   const struct meshd_run_opts *o, uint16_t port)
{
	uint8_t wg_pk[32], wg_sk[32];
	char mesh_name[MESH_NAME_MAX + 1];
	struct mesh_join_joiner *j = NULL;
	struct mesh_token tok;
	int r, ret = 1;

	r = mesh_token_parse(tokstr, &tok);
	if (r == 0)
		r = mesh_token_check_expiry(&tok, (uint64_t)time(NULL));
	if (r != 0) {
		mesh_token_clear(&tok);
		return token_error(r, tokstr);
	}
	r = holds_node(dir, mesh_name);
	if (r != 0) {
		mesh_token_clear(&tok);
		if (r > 0)
			fail("%s already holds a node (mesh '%s'); remove it or use another -d",
			     dir, mesh_name);
		return 1;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		mesh_token_clear(&tok);
		return fail("out of memory");
	}
	crypto_box_keypair(wg_pk, wg_sk);
	if (join_exchange(j, &tok, name, wg_pk, wg_sk, port) != 0)
		goto out;
	if (join_persist(dir, mesh_join_joiner_result(j), wg_sk, port,
			 o->ifname ? o->ifname : MESHD_DEFAULT_IFNAME) != 0)
		goto out;
	ret = 2;
out:
	mesh_token_clear(&tok);
	sodium_memzero(wg_sk, sizeof wg_sk);
	mesh_join_joiner_clear(j);
	free(j);
	if (ret != 2)
		return ret;
	fflush(NULL);
	return meshd_daemon_run_opts(dir, o);
}

int cmd_join(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "interface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'P' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "advertise-routes", required_argument, NULL, 'A' },
		{ "hosts-file", optional_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct meshd_run_opts o = { 0 };
	const char *dir = NULL, *name = NULL, *tok;
	char defname[MESH_NAME_MAX + 1], line[TOKEN_LINE_MAX];
	uint16_t port = MESHD_DEFAULT_PORT;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:i:f", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_join, 0);
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'i': o.ifname = optarg; break;
		case 'f': o.foreground = true; break;
		case 'A': o.advertise = optarg; break;
		case 'H': o.hosts_file = hosts_file_arg(argc, argv); break;
		case 'P':
			if (parse_port("join", optarg, &port))
				return 2;
			break;
		default: return opt_error("join", usage_join, c, argv);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "meshd join: missing the invite TOKEN\n");
		return usage_error(stderr, usage_join, 2);
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "meshd join: unexpected argument '%s'\n", argv[optind + 1]);
		return usage_error(stderr, usage_join, 2);
	}
	if ((dir && check_dir("join", dir)) || (o.ifname && check_ifname("join", o.ifname)) ||
	    (o.advertise && check_routes("join", "--advertise-routes", o.advertise, true, NULL,
					 NULL)) ||
	    (o.hosts_file && check_hosts_file("join", o.hosts_file)))
		return 2;
	if (!name) {
		default_name(defname);
		name = defname;
	}
	if (check_name("join", name))
		return 2;
	tok = argv[optind];
	if (!strcmp(tok, "-")) {
		if (token_from_stdin(line, sizeof line) != 0)
			return 1;
		tok = line;
	}
	umask(077);
	r = do_join(meshd_state_dir(dir), tok, name, &o, port);
	sodium_memzero(line, sizeof line);
	return r;
}

/* ---- status, revoke, down: the control socket ---- */

static bool not_running(const char *err)
{
	return !strncmp(err, "not running", 11);
}

static const char usage_status[] =
	"Usage: meshd status [-d DIR] [--json]\n"
	"\n"
	"Show the running node: itself, its peers and their paths.\n"
	"\n"
	DIR_HELP
	"      --json         one JSON object instead of the table\n"
	HELP_HELP;

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dir = NULL;
	char err[512], *body;
	bool json = false;
	size_t n;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_status, 0);
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		default: return opt_error("status", usage_status, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd status: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_status, 2);
	}
	if (dir && check_dir("status", dir))
		return 2;
	r = ctl_request(meshd_state_dir(dir), json ? "status json" : "status", &body, err,
			sizeof err);
	if (r != 0)
		return fail("%s", err);
	n = strlen(body);
	fputs(body, stdout);
	if (n > 0 && body[n - 1] != '\n')
		fputc('\n', stdout);
	free(body);
	return fflush(stdout) == 0 ? 0 : fail("cannot write: %s", strerror(errno));
}

static const char usage_revoke[] =
	"Usage: meshd revoke NODE [-d DIR]\n"
	"\n"
	"Revoke the member NODE (admin nodes only). With the node running, at once;\n"
	"otherwise it is stored and takes effect at the next `meshd up`.\n"
	"\n"
	DIR_HELP
	HELP_HELP;

static int revoke_offline(const char *dir, const char *name)
{
	struct store *st;
	int r;

	if (open_existing(dir, &st) != 0)
		return 1;
	r = mesh_node_revoke_offline(st, name, (uint64_t)time(NULL));
	store_close(st);
	switch (r) {
	case 0:
		printf("revoked '%s'; the node is not running: the revocation takes effect at "
		       "the next 'meshd up'\n", name);
		return 0;
	case MESHD_E_PERM:
		return fail("this node is not an admin of the mesh; only admins can revoke");
	case MESHD_E_NOENT:
		return fail("no member called '%s' in the mesh", name);
	case MESHD_E_INVAL:
		return fail("'%s' is this node; a node cannot revoke itself", name);
	case MESHD_E_EXIST:
		return fail("'%s' is already revoked", name);
	}
	return fail("cannot revoke '%s': %s", name, meshd_strerror(r));
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char req[CTL_REQ_MAX], err[512], *body;
	const char *dir = NULL, *name;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_revoke, 0);
		case 'd': dir = optarg; break;
		default: return opt_error("revoke", usage_revoke, c, argv);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "meshd revoke: missing the NODE to revoke\n");
		return usage_error(stderr, usage_revoke, 2);
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "meshd revoke: unexpected argument '%s'\n", argv[optind + 1]);
		return usage_error(stderr, usage_revoke, 2);
	}
	name = argv[optind];
	/* a valid DNS label has no space or newline: nothing can ride along */
	if ((dir && check_dir("revoke", dir)) || check_name("revoke", name))
		return 2;
	dir = meshd_state_dir(dir);
	snprintf(req, sizeof req, "revoke %s", name);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r == 0) {
		printf("revoked '%s'\n", name);
		free(body);
		return 0;
	}
	if (r == 1)
		return fail("%s", err);
	if (!not_running(err))
		return fail("%s", err);
	return revoke_offline(dir, name);
}

static const char usage_down[] =
	"Usage: meshd down [-d DIR]\n"
	"\n"
	"Stop the running node and wait (up to 10 s) until it has exited.\n"
	"\n"
	DIR_HELP
	HELP_HELP;

/* The daemon's pid from DIR/meshd.pid; 0 when unknown. */
static pid_t read_pid(const char *dir)
{
	char path[PATH_MAX], buf[32];
	uint64_t v;
	size_t n;
	FILE *f;

	if (snprintf(path, sizeof path, "%s/meshd.pid", dir) >= (int)sizeof path)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!parse_u64(buf, INT32_MAX, &v) || v < 2)
		return 0;
	return (pid_t)v;
}

static bool stopped(const char *dir, pid_t pid)
{
	if (pid > 0) {
		if (kill(pid, 0) == 0)
			return false;
		if (errno == ESRCH)
			return true;
		/* EPERM: not ours to probe; the socket tells instead */
	}
	return !ctl_running(dir);
}

int cmd_down(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dir = NULL;
	char err[512], *body;
	pid_t pid;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_down, 0);
		case 'd': dir = optarg; break;
		default: return opt_error("down", usage_down, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd down: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_down, 2);
	}
	if (dir && check_dir("down", dir))
		return 2;
	dir = meshd_state_dir(dir);
	pid = read_pid(dir);	/* before asking: the daemon removes the file */
	r = ctl_request(dir, "down", &body, err, sizeof err);
	if (r < 0 && not_running(err)) {
		fprintf(stderr, "meshd: not running\n");
		return 0;
	}
	if (r != 0)
		return fail("%s", err);
	free(body);
	for (int waited = 0; waited < DOWN_WAIT_MS; waited += DOWN_POLL_MS) {
		if (stopped(dir, pid))
			return 0;
		usleep(DOWN_POLL_MS * 1000);
	}
	if (pid > 0)
		return fail("the daemon (pid %d) did not stop within %d s", (int)pid,
			    DOWN_WAIT_MS / 1000);
	return fail("the daemon did not stop within %d s", DOWN_WAIT_MS / 1000);
}

/* ---- set, routes: subnet routes over the control socket ---- */

/* Sends req; prints the body (if any) on success. */
static int ctl_print(const char *dir, const char *req)
{
	char err[512], *body;
	size_t n;

	if (ctl_request(dir, req, &body, err, sizeof err) != 0)
		return fail("%s", err);
	n = strlen(body);
	fputs(body, stdout);
	if (n > 0 && body[n - 1] != '\n')
		fputc('\n', stdout);
	free(body);
	return fflush(stdout) == 0 ? 0 : fail("cannot write: %s", strerror(errno));
}

static const char usage_set[] =
	"Usage: meshd set [-d DIR] --advertise-routes CIDR[,CIDR...]|none\n"
	"\n"
	"Change a setting of the running node; it is kept in DIR.\n"
	"\n"
	DIR_HELP
	"      --advertise-routes LIST  the subnets this node offers to the mesh\n"
	"                     (IPv4/IPv6 CIDRs, comma-separated; 'none' withdraws\n"
	"                     them all). An admin must approve each one.\n"
	HELP_HELP;

int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "advertise-routes", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dir = NULL, *adv = NULL;
	char req[CTL_REQ_MAX], err[512], *body;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_set, 0);
		case 'd': dir = optarg; break;
		case 'A': adv = optarg; break;
		default: return opt_error("set", usage_set, c, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshd set: unexpected argument '%s'\n", argv[optind]);
		return usage_error(stderr, usage_set, 2);
	}
	if (!adv) {
		fprintf(stderr, "meshd set: nothing to set (give --advertise-routes)\n");
		return usage_error(stderr, usage_set, 2);
	}
	if ((dir && check_dir("set", dir)) ||
	    check_routes("set", "--advertise-routes", adv, true, NULL, NULL))
		return 2;
	dir = meshd_state_dir(dir);
	snprintf(req, sizeof req, "set advertise-routes %s", adv);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r < 0 && not_running(err))
		return fail("not running; use 'meshd up --advertise-routes ...' to start with "
			    "these routes");
	if (r != 0)
		return fail("%s", err);
	free(body);
	if (!strcmp(adv, "none"))
		printf("advertising no routes\n");
	else
		printf("advertising %s (each needs an admin's approval)\n", adv);
	return 0;
}

static const char usage_routes[] =
	"Usage: meshd routes [-d DIR] [--json]\n"
	"       meshd routes approve NODE CIDR [-d DIR]\n"
	"       meshd routes deny NODE CIDR [-d DIR]\n"
	"\n"
	"Without a verb, list per node the subnet routes it advertises, those an\n"
	"admin approved, and those installed here. 'approve' lets NODE route CIDR\n"
	"for the mesh; 'deny' takes the approval back (admin nodes only; the node\n"
	"must be running).\n"
	"\n"
	DIR_HELP
	"      --json         one JSON object instead of the table\n"
	HELP_HELP;

int cmd_routes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dir = NULL, *verb, *node, *cidr;
	char req[CTL_REQ_MAX], err[512], b[SHOW_MAX + 8], *body;
	bool json = false, approve;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage_error(stdout, usage_routes, 0);
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		default: return opt_error("routes", usage_routes, c, argv);
		}
	}
	if (dir && check_dir("routes", dir))
		return 2;
	if (optind == argc)
		return ctl_print(meshd_state_dir(dir), json ? "routes json" : "routes");
	verb = argv[optind];
	if (strcmp(verb, "approve") && strcmp(verb, "deny")) {
		fprintf(stderr, "meshd routes: unknown verb '%s' (approve or deny)\n",
			show(verb, b, sizeof b));
		return usage_error(stderr, usage_routes, 2);
	}
	approve = !strcmp(verb, "approve");
	if (json) {
		fprintf(stderr, "meshd routes: --json only goes with the listing\n");
		return usage_error(stderr, usage_routes, 2);
	}
	if (argc - optind != 3) {
		if (argc - optind < 3)
			fprintf(stderr, "meshd routes: %s needs NODE and CIDR\n", verb);
		else
			fprintf(stderr, "meshd routes: unexpected argument '%s'\n",
				show(argv[optind + 3], b, sizeof b));
		return usage_error(stderr, usage_routes, 2);
	}
	node = argv[optind + 1];
	cidr = argv[optind + 2];
	if (check_name("routes", node) || check_routes("routes", "CIDR", cidr, false, NULL, NULL))
		return 2;
	snprintf(req, sizeof req, "routes %s %s %s", verb, node, cidr);
	r = ctl_request(meshd_state_dir(dir), req, &body, err, sizeof err);
	if (r != 0)
		return fail("%s", err);
	free(body);
	printf("%s %s for '%s'\n", approve ? "approved" : "denied", cidr, node);
	return 0;
}
