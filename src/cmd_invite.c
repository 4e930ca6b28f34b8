/* `meshd invite`: print a one-line invite token (admin nodes only). The
 * token carries this node's reachable endpoints: from
 * MESHD_INVITE_ENDPOINTS when set (behind NAT), else every usable interface
 * address. The endpoints are gathered before the invite is stored, so an
 * invite nobody could use is never kept.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "local_addrs.h"
#include "mesh/node.h"
#include "mesh/token.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/err.h"

enum {
	TTL_DEFAULT_S = 24 * 3600,
	USES_DEFAULT = 1,
	USES_MAX = 1000000,
};

static const char usage_invite[] =
	"Usage: meshd invite [-d DIR] [--ttl DURATION] [--uses N]\n"
	"\n"
	"Print a one-line invite token for `meshd join` (admin nodes only).\n"
	"\n"
	CLI_DIR_HELP
	"      --ttl DURATION  validity: Ns, Nm, Nh or Nd, e.g. 30m, 12h, 7d (default: 24h)\n"
	"      --uses N       how many nodes may join with it, 1..1000000 (default: 1)\n"
	CLI_HELP_HELP
	"\n"
	"The token carries this node's addresses (every up, non-loopback interface\n"
	"address, IPv4 first) and its UDP port. Behind NAT, name the reachable ones:\n"
	"  MESHD_INVITE_ENDPOINTS=203.0.113.7:51820,[2001:db8::7]:51820\n";

struct invite_args {
	const char *dir;
	uint64_t now;		/* wall clock, seconds: the token's expiry base */
	uint64_t ttl;		/* seconds */
	uint32_t uses;
};

/* --ttl "30s", "30m", "12h", "7d"; the expiry must fit the token's u32
 * (a cli_parse_fn on struct invite_args). */
static int parse_ttl(const char *cmd, const char *s, void *dest)
{
	struct invite_args *a = dest;
	char b[CLI_SHOW_BUF], num[24];
	size_t len = strlen(s);
	uint64_t v, mult;

	cli_show(s, b, sizeof b);
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
	if (!cli_parse_u64(num, UINT64_MAX, &v)) {
		/* digits that overflow are "too long", anything else is junk */
		if (strspn(num, "0123456789") == len - 1)
			goto too_long;
		goto junk;
	}
	if (v == 0)
		return cli_bad_value(cmd, "invalid --ttl '%s': an invite must be valid for "
				     "more than 0 seconds", b);
	if (v > UINT64_MAX / mult)
		goto too_long;
	v *= mult;
	if (v > UINT32_MAX || a->now + v > UINT32_MAX)
		goto too_long;
	a->ttl = v;
	return 0;
junk:
	return cli_bad_value(cmd, "invalid --ttl '%s': expected a number and a unit s, m, h "
			     "or d (e.g. 30m, 12h, 7d)", b);
too_long:
	return cli_bad_value(cmd, "invalid --ttl '%s': the invite would expire after the "
			     "year 2106, beyond what a token can carry", b);
}

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
	char copy[1024], b[CLI_SHOW_BUF], *save = NULL, *item;
	union endpoint ep;

	if (strlen(val) >= sizeof copy)
		return cli_fail("MESHD_INVITE_ENDPOINTS is too long");
	strcpy(copy, val);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		size_t n;

		while (*item == ' ')
			item++;
		for (n = strlen(item); n > 0 && item[n - 1] == ' '; n--)
			item[n - 1] = '\0';
		if (endpoint_parse(&ep, item, false) != 0)
			return cli_fail("MESHD_INVITE_ENDPOINTS: invalid endpoint '%s' (expected "
					"ip:port or [ipv6]:port)", cli_show(item, b, sizeof b));
		endpoint_unmap(&ep);
		if (ep.sa.sa_family == AF_INET6 && (ep.sin6.sin6_scope_id ||
		    IN6_IS_ADDR_LINKLOCAL(&ep.sin6.sin6_addr)))
			return cli_fail("MESHD_INVITE_ENDPOINTS: link-local address '%s' cannot "
					"be used in a token", cli_show(item, b, sizeof b));
		if (eps_has(e, &ep))
			continue;
		if (e->n == MESH_TOKEN_MAX_EP)
			return cli_fail("MESHD_INVITE_ENDPOINTS: at most %d endpoints",
					MESH_TOKEN_MAX_EP);
		e->ep[e->n++] = ep;
	}
	if (e->n == 0)
		return cli_fail("MESHD_INVITE_ENDPOINTS is set but names no endpoint");
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
	    !cli_parse_u64(slash + 1, max, &len))
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
		return cli_fail("the node has no fixed UDP port; set MESHD_INVITE_ENDPOINTS");
	if (local_addrs_foreach(node->ifname, invite_addr, &s) != 0)
		return cli_fail("getifaddrs: %s", strerror(errno));
	if (e->n == 0)
		return cli_fail("no usable address on this host for the token (only loopback, "
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
		return cli_fail("cannot read this node from the store: %s", meshd_strerror(r));
	if ((r = store_mesh_get(st, &mesh)) != 0) {
		store_node_clear(&node);
		return cli_fail("cannot read the mesh from the store: %s", meshd_strerror(r));
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

	if (cli_open_existing(dir, &st) != 0)
		return 1;
	/* endpoints first: an invite nobody can use must not be stored */
	if (invite_endpoints(st, &e) != 0)
		goto out;
	memset(&tok, 0, sizeof tok);
	r = mesh_node_add_invite(st, ttl, uses, now, &tok);
	if (r == MESHD_E_PERM) {
		cli_fail("this node is not an admin of the mesh; only admins can invite");
		goto out;
	}
	if (r == MESHD_E_NOENT) {
		cli_fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
		goto out;
	}
	if (r != 0) {
		cli_fail("cannot create the invite: %s", meshd_strerror(r));
		goto wipe;
	}
	tok.nep = (uint8_t)e.n;
	memcpy(tok.ep, e.ep, sizeof e.ep);
	r = mesh_token_encode(&tok, line, sizeof line);
	if (r != 0) {
		cli_fail("cannot encode the token: %s", meshd_strerror(r));
		goto wipe;
	}
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
		cli_fail("cannot write the token: %s", strerror(errno));
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
	struct invite_args a = {
		.now = (uint64_t)time(NULL), .ttl = TTL_DEFAULT_S, .uses = USES_DEFAULT,
	};
	const struct cli_opt opts[] = {
		{ CLI_SHORT("dir", 'd', CLI_DIR, &a.dir) },
		{ CLI_OPT("ttl", 't', CLI_PARSE, &a), .parse = parse_ttl },
		{ CLI_OPT("uses", 'u', CLI_COUNT, &a.uses), .max = USES_MAX },
	};
	const struct cli_cmd cmd = { "invite", usage_invite, opts,
				     sizeof opts / sizeof opts[0], 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	return do_invite(meshd_state_dir(a.dir), a.ttl, a.uses, a.now);
}
