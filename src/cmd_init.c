/* `meshd init`: create a new mesh with this node as its first member and
 * admin. Nothing is left behind when it fails: a store or directory it
 * created is removed again.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "mesh/node.h"
#include "store/store.h"
#include "util/err.h"

static const char usage_init[] =
	"Usage: meshd init [-d DIR] [--name NODE] [--mesh-name NAME] [--prefix CIDR]\n"
	"                  [--port N] [--tcp-port N] [--cert-ttl DURATION]\n"
	"\n"
	"Create a new mesh with this node as its first member and admin.\n"
	"\n"
	CLI_DIR_HELP
	"      --name NODE    node name, a DNS label (default: from the host name)\n"
	"      --mesh-name NAME  the mesh's name, a DNS label: members answer as\n"
	"                     NODE.NAME (default: mesh)\n"
	"      --prefix CIDR  overlay IPv4 prefix, /8 to /24 (default: a random /16\n"
	"                     in 100.64.0.0/10)\n"
	"      --port N       UDP listen port (default: 51820)\n"
	CLI_TCP_PORT_HELP
	"      --cert-ttl DURATION  how long member certificates last: Ns, Nm, Nh or\n"
	"                     Nd, 60s to 3650d (default: 365d); admins renew them\n"
	"                     when a third of that is left\n"
	CLI_HELP_HELP;

struct init_args {
	const char *dir, *name, *mesh;
	bool has_prefix;
	struct mesh_prefix prefix;
	uint16_t port;
	int tcp_port;		/* -1: not given */
	uint64_t cert_ttl;	/* seconds */
};

/* --prefix: an IPv4 prefix a.b.c.d/len for the overlay, len 8..24, host
 * bits clear (a cli_parse_fn on struct init_args). */
static int parse_prefix(const char *cmd, const char *s, void *dest)
{
	struct init_args *a = dest;
	char b[CLI_SHOW_BUF], addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	uint32_t ip, mask;
	uint64_t len;

	cli_show(s, b, sizeof b);
	if (strchr(s, ':'))
		return cli_bad_value(cmd, "invalid --prefix '%s': give an IPv4 prefix; the IPv6 "
				     "prefix is derived from the mesh id", b);
	if (!slash || (size_t)(slash - s) >= sizeof addr)
		goto bad;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1 || !cli_parse_u64(slash + 1, 32, &len))
		goto bad;
	if (len < 8 || len > 24)
		return cli_bad_value(cmd, "invalid --prefix '%s': the prefix length must be "
				     "8..24", b);
	ip = ntohl(in.s_addr);
	mask = ~0u << (32 - len);
	if (ip & ~mask) {
		in.s_addr = htonl(ip & mask);
		inet_ntop(AF_INET, &in, addr, sizeof addr);
		return cli_bad_value(cmd, "invalid --prefix '%s': host bits are set (did you "
				     "mean %s/%u?)", b, addr, (unsigned)len);
	}
	memset(&a->prefix, 0, sizeof a->prefix);
	a->prefix.family = MESH_FAMILY_V4;
	a->prefix.len = (uint8_t)len;
	memcpy(a->prefix.addr, &in, 4);
	a->has_prefix = true;
	return 0;
bad:
	return cli_bad_value(cmd, "invalid --prefix '%s': expected an IPv4 prefix such as "
			     "10.42.0.0/16", b);
}

/* --cert-ttl: "90s", "30m", "12h", "365d" (mesh/cert.h limits). */
static int parse_cert_ttl(const char *cmd, const char *s, void *dest)
{
	struct init_args *a = dest;
	char b[CLI_SHOW_BUF];
	int r = mesh_cert_ttl_parse(s, &a->cert_ttl);

	cli_show(s, b, sizeof b);
	if (r == MESHD_E_RANGE)
		return cli_bad_value(cmd, "invalid --cert-ttl '%s': certificates must last "
				     "from 60s to 3650d", b);
	if (r != 0)
		return cli_bad_value(cmd, "invalid --cert-ttl '%s': expected a number and a "
				     "unit s, m, h or d, e.g. 90s or 365d", b);
	return 0;
}

/* "certs: last 365d (31536000 s), ...": in the largest unit of --cert-ttl
 * that divides the lifetime, and in seconds. */
static void print_cert_life(uint64_t s)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' } };

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (s >= units[i].secs && s % units[i].secs == 0) {
			printf("certs:    last %llu%c (%llu s), renewed by any online admin\n",
			       (unsigned long long)(s / units[i].secs), units[i].unit,
			       (unsigned long long)s);
			return;
		}
	printf("certs:    last %llu s, renewed by any online admin\n", (unsigned long long)s);
}

static void print_summary(struct store *st, const char *dir)
{
	struct store_member m;
	struct store_node node;
	struct store_mesh mesh;
	struct mesh_cert c;

	if (store_node_get(st, &node) != 0 || store_mesh_get(st, &mesh) != 0) {
		printf("initialised a new mesh in %s\n", dir);
	} else {
		printf("node:     %s (admin of new mesh '%s')\n", node.name, mesh.name);
		printf("mesh:     %s  %s\n", mesh.prefix4, mesh.prefix6);
		if (store_member_get_by_name(st, node.name, &m) == 0)
			printf("address:  %s  %s\n", m.overlay4, m.overlay6);
		printf("port:     %u/udp\n", (unsigned)node.listen_port);
		if (store_member_get_by_name(st, node.name, &m) == 0 &&
		    mesh_cert_decode(m.cert, m.cert_len, &c) == 0)
			print_cert_life(c.expires_at - c.issued_at);
	}
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	printf("next: meshd up -d %s\n", dir);
}

static int do_init(const char *dir, const struct init_args *a)
{
	char mesh_name[MESH_NAME_MAX + 1], err[256] = "";
	struct cli_created made;
	struct store *st;
	int r;

	r = cli_holds_node(dir, mesh_name);
	if (r < 0)
		return 1;
	if (r > 0)
		return cli_fail("%s already holds a node (mesh '%s'); remove it or use another "
				"-d", dir, mesh_name);
	if (cli_create_store(dir, &st, &made) != 0)
		return 1;
	r = mesh_node_init_store(st, a->name, a->mesh, a->has_prefix ? &a->prefix : NULL,
				 a->port, MESHD_DEFAULT_IFNAME, (uint64_t)time(NULL), err,
				 sizeof err);
	if (r == 0 && (r = mesh_node_set_cert_ttl(st, a->cert_ttl)) != 0)
		snprintf(err, sizeof err, "storing the certificate lifetime: %s",
			 store_strerror(r));
	if (r == 0 && cli_store_tcp_port(st, dir, a->tcp_port) != 0) {
		store_close(st);	/* said so already */
		cli_undo_create(dir, &made);
		return 1;
	}
	if (r != 0) {
		if (!*err)	/* now: errno may change below */
			snprintf(err, sizeof err, "%s", store_strerror(r));
		store_close(st);
		cli_undo_create(dir, &made);
		if (r == MESHD_E_EXIST)
			return cli_fail("%s already holds a node; remove it or use another -d",
					dir);
		return cli_fail("init failed: %s", err);
	}
	print_summary(st, dir);
	store_close(st);
	return 0;
}

int cmd_init(int argc, char **argv)
{
	struct init_args a = { .port = MESHD_DEFAULT_PORT, .tcp_port = -1,
			       .cert_ttl = MESH_CERT_TTL_DEFAULT_S };
	char defname[MESH_NAME_MAX + 1];
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&a.dir) },
		{ CLI_OPT("name", 'n', CLI_LABEL, &a.name), .what = "node name" },
		{ CLI_OPT("prefix", 'p', CLI_PARSE_LATE, &a), .parse = parse_prefix },
		{ CLI_OPT("mesh-name", 'm', CLI_LABEL, &a.mesh), .what = "mesh name" },
		{ CLI_OPT("port", 'P', CLI_PORT, &a.port) },
		{ CLI_TCP_PORT_OPT(&a.tcp_port) },
		{ CLI_OPT("cert-ttl", 'T', CLI_PARSE_LATE, &a), .parse = parse_cert_ttl },
	};
	const struct cli_cmd cmd = { "init", usage_init, CLI_TABLE(opts), 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	if (!a.name) {
		cli_default_name(defname);
		a.name = defname;
	}
	umask(077);
	return do_init(meshd_state_dir(a.dir), &a);
}
