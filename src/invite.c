/* Invite tokens, made by the daemon or (no daemon) the CLI: see invite.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "invite.h"
#include "local_addrs.h"
#include "mesh/endpoints.h"
#include "mesh/node.h"
#include "store/store.h"
#include "util/err.h"

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool has_ep(const struct meshd_invite_req *r, const union endpoint *ep)
{
	for (unsigned i = 0; i < r->nep; i++)
		if (endpoint_eq(&r->ep[i], ep))
			return true;
	return false;
}

int meshd_invite_add_ep(struct meshd_invite_req *r, const union endpoint *in)
{
	union endpoint ep = *in;

	endpoint_unmap(&ep);
	if (ep.sa.sa_family == AF_INET6 && (ep.sin6.sin6_scope_id ||
	    IN6_IS_ADDR_LINKLOCAL(&ep.sin6.sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&ep.sin6.sin6_addr) ||
	    IN6_IS_ADDR_MULTICAST(&ep.sin6.sin6_addr)))
		return MESHD_E_INVAL;
	if (ep.sa.sa_family == AF_INET) {
		uint32_t a = ntohl(ep.sin.sin_addr.s_addr);

		/* 0.0.0.0/8, multicast, 255.255.255.255: nobody to reach */
		if ((a >> 24) == 0 || (a >> 28) == 0xe || a == 0xffffffffu)
			return MESHD_E_INVAL;
	}
	if (has_ep(r, &ep))
		return 0;
	if (r->nep == MESH_TOKEN_MAX_EP)
		return MESHD_E_FULL;
	r->ep[r->nep++] = ep;
	return 0;
}

/* ---- the control request ---- */

int meshd_invite_req_format(const struct meshd_invite_req *r, char *out, size_t len)
{
	char a[ENDPOINT_STRLEN];
	size_t used;
	int n;

	n = snprintf(out, len, "invite %llu %u", (unsigned long long)r->ttl_s, (unsigned)r->uses);
	if (n < 0 || (size_t)n >= len)
		return MESHD_E_RANGE;
	used = (size_t)n;
	for (unsigned i = 0; i < r->nep; i++) {
		endpoint_format(&r->ep[i], a, sizeof a);
		n = snprintf(out + used, len - used, "%c%s", i ? ',' : ' ', a);
		if (n < 0 || (size_t)n >= len - used)
			return MESHD_E_RANGE;
		used += (size_t)n;
	}
	return 0;
}

/* One decimal field of exactly len bytes: digits only, no leading zero. */
static bool parse_num(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "EP[,EP...]": the rest of the request. */
static int parse_eps(const char *s, struct meshd_invite_req *r, char *err, size_t errlen)
{
	char one[ENDPOINT_STRLEN];
	union endpoint ep;
	unsigned before;
	int e;

	for (;;) {
		size_t l = strcspn(s, ",");

		if (l == 0 || l >= sizeof one)
			return fail(err, errlen, "invite: %s endpoint", l ? "an overlong" :
				    "an empty");
		memcpy(one, s, l);
		one[l] = '\0';
		if (strchr(one, ' ') || endpoint_parse(&ep, one, false) != 0)
			return fail(err, errlen, "invite: invalid endpoint '%s' (expected "
				    "ip:port or [ipv6]:port)", one);
		before = r->nep;
		e = meshd_invite_add_ep(r, &ep);
		if (e == MESHD_E_INVAL)
			return fail(err, errlen, "invite: address '%s' cannot be used in a "
				    "token (" INVITE_EP_NOT_UNICAST ")", one);
		if (e == MESHD_E_FULL)
			return fail(err, errlen, "invite: at most %d endpoints",
				    MESH_TOKEN_MAX_EP);
		if (r->nep == before)
			return fail(err, errlen, "invite: endpoint '%s' given twice", one);
		if (!s[l])
			return 0;
		s += l + 1;
	}
}

int meshd_invite_req_parse(const char *args, struct meshd_invite_req *r, char *err,
			   size_t errlen)
{
	const char *p = args, *sp;
	uint64_t v;
	int e = MESHD_E_INVAL;

	memset(r, 0, sizeof *r);
	sp = strchr(p, ' ');
	if (!sp || !parse_num(p, (size_t)(sp - p), INVITE_TTL_MAX_S, &v) || v == 0) {
		fail(err, errlen, "invite: expected TTL (seconds, 1..%u) USES [EP,...]",
		     (unsigned)INVITE_TTL_MAX_S);
		goto bad;
	}
	r->ttl_s = v;
	p = sp + 1;
	sp = strchr(p, ' ');
	if (!parse_num(p, sp ? (size_t)(sp - p) : strlen(p), INVITE_USES_MAX, &v) || v == 0) {
		fail(err, errlen, "invite: expected USES (1..%d) after the TTL",
		     INVITE_USES_MAX);
		goto bad;
	}
	r->uses = (uint32_t)v;
	if (!sp)
		return 0;
	if (parse_eps(sp + 1, r, err, errlen) == 0)
		return 0;
bad:
	memset(r, 0, sizeof *r);
	return e;
}

/* ---- making the invite ---- */

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
	    !parse_num(slash + 1, strlen(slash + 1), max, &len))
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

struct scan {
	struct meshd_invite_req *r;
	uint16_t port;
	const struct store_mesh *mesh;
};

/* One of our addresses (local_addrs.h) outside the mesh's prefixes. */
static bool scan_addr(void *ctx, const struct local_addr *a)
{
	struct scan *s = ctx;
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
	(void)meshd_invite_add_ep(s->r, &ep);	/* local_addrs skips link-local */
	return s->r->nep < MESH_TOKEN_MAX_EP;
}

/* The host's addresses with the node's port into r (r->nep is 0). */
static int scan_host(struct store *st, struct meshd_invite_req *r, const char *skip_ifname,
		     char *err, size_t errlen)
{
	struct store_node node;
	struct store_mesh mesh;
	struct scan s = { .r = r, .mesh = &mesh };
	int e, ret = -1;

	if ((e = store_node_get(st, &node)) != 0)
		return fail(err, errlen, "cannot read this node from the store: %s",
			    meshd_strerror(e));
	s.port = node.listen_port;
	store_node_clear(&node);
	if ((e = store_mesh_get(st, &mesh)) != 0)
		return fail(err, errlen, "cannot read the mesh from the store: %s",
			    meshd_strerror(e));
	if (s.port == 0)
		fail(err, errlen, "the node has no fixed UDP port; set MESHD_INVITE_ENDPOINTS");
	else if (local_addrs_foreach(skip_ifname, scan_addr, &s) != 0)
		fail(err, errlen, "getifaddrs: %s", strerror(errno));
	else if (r->nep == 0)
		fail(err, errlen, "no usable address on this host for the token (only "
		     "loopback, link-local or mesh addresses); set MESHD_INVITE_ENDPOINTS");
	else
		ret = 0;
	store_mesh_clear(&mesh);
	return ret;
}

/* A public address first: the TCP entry is for joiners outside. */
static bool ep_private(const union endpoint *ep)
{
	struct mesh_ep m;

	memset(&m, 0, sizeof m);
	m.family = ep->sa.sa_family == AF_INET ? MESH_FAMILY_V4 : MESH_FAMILY_V6;
	if (m.family == MESH_FAMILY_V4)
		memcpy(m.addr, &ep->sin.sin_addr, 4);
	else
		memcpy(m.addr, &ep->sin6.sin6_addr, 16);
	return mesh_ep_private(&m);
}

/* When the node listens on TCP (`--tcp-port`), the token also names its
 * TCP entry: the address of one of its UDP endpoints (public before
 * private, IPv4 before IPv6) with the TCP port, so a joiner whose UDP is
 * blocked can still join (docs/wire-formats.md "Invite token"). It takes
 * the place of the fourth UDP endpoint if there are four. */
static void add_tcp_entry(struct mesh_token *tok, uint16_t port)
{
	int best = -1, score, best_score = 4;
	unsigned n;

	if (port == 0)
		return;
	n = tok->nep < MESH_TOKEN_MAX_EP ? tok->nep : MESH_TOKEN_MAX_EP - 1;
	for (unsigned i = 0; i < n; i++) {
		score = 2 * ep_private(&tok->ep[i]) + (tok->ep[i].sa.sa_family == AF_INET6);
		if (score < best_score) {
			best_score = score;
			best = (int)i;
		}
	}
	if (best < 0)
		return;
	tok->ep[n] = tok->ep[best];
	if (tok->ep[n].sa.sa_family == AF_INET)
		tok->ep[n].sin.sin_port = htons(port);
	else
		tok->ep[n].sin6.sin6_port = htons(port);
	tok->tcp = (uint8_t)(1u << n);
	tok->nep = (uint8_t)(n + 1);
}

int meshd_invite_make(struct store *st, const struct meshd_invite_req *req, uint64_t now_unix,
		      const char *dir, const char *skip_ifname,
		      char line[MESH_TOKEN_STR_MAX + 1], char *err, size_t errlen)
{
	struct meshd_invite_req r = *req;
	struct mesh_token tok;
	uint16_t tcp_port;
	int e, ret = -1;

	line[0] = '\0';
	/* endpoints first: an invite nobody can use must not be stored */
	if (r.nep == 0 && scan_host(st, &r, skip_ifname, err, errlen) != 0)
		return -1;
	if ((e = mesh_node_tcp_port(st, &tcp_port)) != 0)
		return fail(err, errlen, "cannot read the TCP port setting: %s (meshd set "
			    "--tcp-port 0 clears it)", meshd_strerror(e));
	memset(&tok, 0, sizeof tok);
	e = mesh_node_add_invite(st, r.ttl_s, r.uses, now_unix, &tok);
	if (e == MESHD_E_PERM)
		return fail(err, errlen, "this node is not an admin of the mesh; only admins "
			    "can invite");
	if (e == MESHD_E_NOENT)
		return fail(err, errlen, "no node in %s (run 'meshd init' or 'meshd join' first)",
			    dir);
	if (e != 0) {
		fail(err, errlen, "cannot create the invite: %s", meshd_strerror(e));
		goto out;
	}
	tok.nep = (uint8_t)r.nep;
	memcpy(tok.ep, r.ep, sizeof r.ep);
	add_tcp_entry(&tok, tcp_port);
	e = mesh_token_encode(&tok, line, MESH_TOKEN_STR_MAX + 1);
	if (e != 0) {
		fail(err, errlen, "cannot encode the token: %s", meshd_strerror(e));
		sodium_memzero(line, MESH_TOKEN_STR_MAX + 1);
		goto out;
	}
	ret = 0;
out:
	mesh_token_clear(&tok);
	return ret;
}
