/* `meshd invite`: print a one-line invite token (admin nodes only). The
 * token carries this node's reachable endpoints: from
 * MESHD_INVITE_ENDPOINTS when set (behind NAT), else every usable interface
 * address. With the node running, the daemon makes the invite (control
 * request "invite", invite.h): the store is written by the process that
 * holds it, and a join is never kept waiting on a lock the CLI took. Only
 * when no daemon answers does this command open the store itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"
#include "invite.h"
#include "mesh/token.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/err.h"

enum {
	TTL_DEFAULT_S = 24 * 3600,
	USES_DEFAULT = 1,
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

/* MESHD_INVITE_ENDPOINTS=ip:port,[ip6]:port into r: read here, in the
 * user's environment, whether the daemon or this process makes the invite. */
static int eps_from_env(const char *val, struct meshd_invite_req *r)
{
	char copy[1024], b[CLI_SHOW_BUF], *save = NULL, *item;
	union endpoint ep;
	int e;

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
		e = meshd_invite_add_ep(r, &ep);
		if (e == MESHD_E_INVAL)
			return cli_fail("MESHD_INVITE_ENDPOINTS: address '%s' cannot be used "
					"in a token (" INVITE_EP_NOT_UNICAST ")",
					cli_show(item, b, sizeof b));
		if (e == MESHD_E_FULL)
			return cli_fail("MESHD_INVITE_ENDPOINTS: at most %d endpoints",
					MESH_TOKEN_MAX_EP);
	}
	if (r->nep == 0)
		return cli_fail("MESHD_INVITE_ENDPOINTS is set but names no endpoint");
	return 0;
}

/* Prints the token line (it carries a secret: wiped after). */
static int print_token(char *line)
{
	int r = 0;

	if (printf("%s\n", line) < 0 || fflush(stdout) != 0)
		r = cli_fail("cannot write the token: %s", strerror(errno));
	sodium_memzero(line, strlen(line));
	return r;
}

/* No daemon runs: the invite goes into the store from here. */
static int invite_offline(const char *dir, const struct meshd_invite_req *req, uint64_t now)
{
	char line[MESH_TOKEN_STR_MAX + 1], err[512];
	struct store_node node;
	char ifname[STORE_IFNAME_MAX + 1] = "";
	struct store *st;
	int r;

	if (cli_open_existing(dir, &st) != 0)
		return 1;
	/* the TUN's addresses are overlay ones, never a way in */
	if (store_node_get(st, &node) == 0)
		snprintf(ifname, sizeof ifname, "%s", node.ifname);
	store_node_clear(&node);
	r = meshd_invite_make(st, req, now, dir, ifname, line, err, sizeof err);
	store_close(st);
	if (r != 0)
		return cli_fail("%s", err);
	return print_token(line);
}

/* The running daemon makes the invite on the store it holds (invite.h);
 * only when none answers does this process open the store. */
static int do_invite(const char *dir, const struct meshd_invite_req *req, uint64_t now)
{
	char line[CTL_REQ_MAX], err[512], *body;
	size_t n;
	int r;

	if (meshd_invite_req_format(req, line, sizeof line) != 0)
		return cli_fail("invite request too long");
	r = ctl_request(dir, line, &body, err, sizeof err);
	if (r < 0 && cli_not_running(err))
		return invite_offline(dir, req, now);
	if (r != 0)
		return cli_fail("%s", err);
	n = strcspn(body, "\n");
	body[n] = '\0';
	if (strncmp(body, MESH_TOKEN_PREFIX, strlen(MESH_TOKEN_PREFIX)) != 0) {
		sodium_memzero(body, n);
		free(body);
		return cli_fail("malformed answer from the daemon");
	}
	r = print_token(body);
	free(body);
	return r;
}

int cmd_invite(int argc, char **argv)
{
	struct invite_args a = {
		.now = (uint64_t)time(NULL), .ttl = TTL_DEFAULT_S, .uses = USES_DEFAULT,
	};
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&a.dir) },
		{ CLI_OPT("ttl", 't', CLI_PARSE, &a), .parse = parse_ttl },
		{ CLI_OPT("uses", 'u', CLI_COUNT, &a.uses), .max = INVITE_USES_MAX },
	};
	const struct cli_cmd cmd = { "invite", usage_invite, CLI_TABLE(opts), 0, 0, NULL };
	const char *env = getenv("MESHD_INVITE_ENDPOINTS");
	struct meshd_invite_req req = { 0 };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	req.ttl_s = a.ttl;
	req.uses = a.uses;
	if (env && eps_from_env(env, &req) != 0)
		return 1;
	return do_invite(meshd_state_dir(a.dir), &req, a.now);
}
