/* Making an invite token (`meshd invite`): one code path for both places
 * that may write the invite into the store. With the node running, the CLI
 * sends the control request "invite TTL USES [EP[,EP...]]" (ctl.h) and the
 * daemon calls meshd_invite_make() on the store it already holds, so no
 * second process takes the database's write lock while the daemon receives;
 * with no daemon, the CLI opens the store itself and calls the same
 * function. Either way the steps, the token and the one-line messages are
 * the same.
 *
 * Endpoints: MESHD_INVITE_ENDPOINTS is read by the CLI (it is the user's
 * environment, not the daemon's) and travels in the request; without it the
 * maker takes every usable address of this host (local_addrs.h) outside the
 * mesh's overlay prefixes, with the node's configured UDP port. They are
 * gathered before the invite is stored, so an invite nobody could use is
 * never kept.
 */
#ifndef MESHD_INVITE_H
#define MESHD_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/token.h"
#include "util/addr.h"

struct store;

enum {
	INVITE_USES_MAX = 1000000,
	INVITE_TTL_MAX_S = UINT32_MAX,	/* the token's expiry is a u32 */
	/* "invite" + " TTL" + " USES" + " " + MESH_TOKEN_MAX_EP "[v6]:port" and
	 * commas: what the longest request needs (< CTL_REQ_MAX) */
	INVITE_REQ_MAX = 6 + 11 + 8 + 1 + MESH_TOKEN_MAX_EP * (INET6_ADDRSTRLEN + 8),
};

struct meshd_invite_req {
	uint64_t ttl_s;		/* 1..INVITE_TTL_MAX_S */
	uint32_t uses;		/* 1..INVITE_USES_MAX */
	unsigned nep;		/* 0: the host's addresses */
	union endpoint ep[MESH_TOKEN_MAX_EP];	/* unicast, no scope, distinct */
};

/* What MESHD_E_INVAL of meshd_invite_add_ep() means, for messages. */
#define INVITE_EP_NOT_UNICAST "link-local, unspecified, multicast or broadcast"

/* Adds ep to r unless r holds it already. Returns 0; MESHD_E_INVAL for an
 * address nobody can be asked to reach (INVITE_EP_NOT_UNICAST) or a scoped
 * IPv6 one (a token cannot carry it);
 * MESHD_E_FULL when r holds MESH_TOKEN_MAX_EP. ep is unmapped first. */
int meshd_invite_add_ep(struct meshd_invite_req *r, const union endpoint *ep);

/* The control request line for r (no '\n') into out. Returns 0 or
 * MESHD_E_RANGE when len is too small (INVITE_REQ_MAX + 1 always fits). */
int meshd_invite_req_format(const struct meshd_invite_req *r, char *out, size_t len);

/* Parses what follows "invite " in a request: "TTL USES" or
 * "TTL USES EP[,EP...]", single spaces, decimal numbers without sign or
 * leading zeros, each endpoint as meshd_invite_add_ep() accepts, at most
 * MESH_TOKEN_MAX_EP of them, no duplicates. Returns 0, or MESHD_E_INVAL
 * with a one-line reason in err (r is zeroed). */
int meshd_invite_req_parse(const char *args, struct meshd_invite_req *r, char *err,
			   size_t errlen);

/* Creates the invite in st (mesh_node_add_invite) valid from now_unix for
 * r->ttl_s seconds and r->uses joins, and writes the token line into line
 * (NUL-terminated; the caller wipes it). dir names the state directory in
 * messages; skip_ifname is the node's TUN (its addresses are overlay ones).
 * Returns 0, or -1 with the user-facing one-line reason in err (no node,
 * not an admin, no usable address, store errors). Nothing is stored when
 * the endpoints cannot be found or the store refuses; only a token that
 * fails to encode (not expected: the endpoints were checked) leaves an
 * unused invite behind, as before. */
int meshd_invite_make(struct store *st, const struct meshd_invite_req *r, uint64_t now_unix,
		      const char *dir, const char *skip_ifname,
		      char line[MESH_TOKEN_STR_MAX + 1], char *err, size_t errlen);

#endif
