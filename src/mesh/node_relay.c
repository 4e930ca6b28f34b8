/* Mesh node: relays (mesh/relay.h). A member OFFERS relaying when its own
 * endpoint record holds a PORTMAP endpoint or a LOCAL public (not private)
 * address; every node sees that in the records it already has, so no new
 * record type is needed. The relay candidates for peer B are the offering
 * members (other than B) we have a DIRECT path and a live WireGuard session
 * with (the relay only forwards for members it has a session with), RTT =
 * our path RTT to them; they are handed to B's path engine (refreshed when
 * paths or records change, and every NODE_RELAY_REFRESH_S). A RELAY choice
 * via R points B's WireGuard endpoint at the synthetic endpoint synth(R, B);
 * the daemon's send path hands datagrams for synthetic endpoints to
 * mesh_node_wrap_relay(), and sends what its result says. Relayed input
 * comes back to the daemon the same way (mesh_node_input_underlay's
 * result): nothing here calls the daemon or feeds WireGuard itself.
 * mesh_node_set_relay(false) stops both offering and using relays.
 */
#include <string.h>

#include <sodium.h>

#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "mesh/relay.h"
#include "mesh/wire.h"

/* ---- offers and candidates ---- */

/* Whether an endpoint record offers relaying: a PORTMAP endpoint or a
 * LOCAL public address (reachable from anywhere). */
static bool eps_offer_relay(const struct mesh_endpoints *e)
{
	for (unsigned i = 0; i < e->nep && i < MESH_ENDPOINTS_MAX; i++) {
		const struct mesh_ep *ep = &e->ep[i];

		if (!mesh_ep_valid(ep))
			continue;
		if (ep->source == MESH_EP_PORTMAP ||
		    (ep->source == MESH_EP_LOCAL && !mesh_ep_private(ep)))
			return true;
	}
	return false;
}

/* p's WireGuard endpoint when it has a live session (a handshake within
 * NODE_SESSION_LIVE_S) and a real endpoint. */
static bool peer_live_endpoint(const struct mesh_node *n, const struct npeer *p,
    union endpoint *out)
{
	struct wg_peer_info info;
	bool live;

	if (p->wp == NULL || p->farewell)
		return false;
	wg_peer_get_info(p->wp, &info);
	live = info.last_handshake.sec != 0 &&
	    info.last_handshake.sec + NODE_SESSION_LIVE_S > n->now_unix &&
	    endpoint_is_set(&info.endpoint);
	if (live)
		*out = info.endpoint;
	sodium_memzero(&info, sizeof info);
	return live;
}

static bool relay_member_at(void *ctx, const union endpoint *src, uint8_t id[MESH_NODE_ID_LEN])
{
	struct mesh_node *n = ctx;
	union endpoint ep;

	for (size_t i = 0; i < n->npeers; i++) {
		if (peer_live_endpoint(n, n->peers[i], &ep) && endpoint_eq(&ep, src)) {
			memcpy(id, n->peers[i]->node_id, MESH_NODE_ID_LEN);
			return true;
		}
	}
	return false;
}

static bool relay_member_endpoint(void *ctx, const uint8_t id[MESH_NODE_ID_LEN],
    union endpoint *out)
{
	struct mesh_node *n = ctx;
	struct npeer *p = node_peer_find(n, id);

	return p != NULL && peer_live_endpoint(n, p, out);
}

static bool relay_is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	struct mesh_node *n = ctx;
	struct npeer *p = node_peer_find(n, id);

	return n->relay_on && p != NULL && !p->farewell && p->relay_cand;
}

/* The relay engine asks the node who is a member where (relay_member_at,
 * relay_member_endpoint) and who offers relaying (relay_is_relay). */
int node_relay_new(struct mesh_node *n)
{
	struct mesh_relay_cfg lc = {
		.member_at = relay_member_at, .member_endpoint = relay_member_endpoint,
		.is_relay = relay_is_relay, .ctx = n,
	};
	int r;

	if ((n->relay = mesh_relay_new(&lc, &r)) == NULL)
		return r;
	return 0;
}

/* Our offer, every member's offer, and every peer's relay candidates: the
 * offering members we have a direct path with, best RTT first. */
void node_relays_refresh(struct mesh_node *n)
{
	struct mesh_endpoints e;

	n->relays_dirty = false;
	n->relays_at = n->now + SEC(NODE_RELAY_REFRESH_S);
	if (n->relay == NULL)
		return;
	mesh_relay_set_offer(n->relay, n->relay_on && n->have_eps && eps_offer_relay(&n->eps));
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *x = n->peers[i];

		x->relay_cand = n->relay_on && !x->farewell &&
		    mesh_records_endpoints(n->recs, x->node_id, &e) == 0 && eps_offer_relay(&e);
	}
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *b = n->peers[i];
		struct mesh_path_relay r[PATH_RELAY_MAX];
		size_t k = 0;

		if (b->farewell || b->path == NULL)
			continue;
		for (size_t j = 0; j < n->npeers; j++) {
			struct npeer *x = n->peers[j];
			struct mesh_path_relay c;
			union endpoint xe;
			size_t at;

			if (x == b || !x->relay_cand || x->choice.kind != MESH_PATH_DIRECT ||
			    !peer_live_endpoint(n, x, &xe))
				continue;
			memcpy(c.node_id, x->node_id, MESH_NODE_ID_LEN);
			c.rtt_ms = mesh_relay_rtt(x->choice.rtt_ms, 0);
			/* insertion into the PATH_RELAY_MAX best, by RTT */
			for (at = k; at > 0 && r[at - 1].rtt_ms > c.rtt_ms; at--)
				;
			if (at >= PATH_RELAY_MAX)
				continue;
			if (k < PATH_RELAY_MAX)
				k++;
			memmove(&r[at + 1], &r[at], (k - 1 - at) * sizeof r[0]);
			r[at] = c;
		}
		(void)mesh_path_set_relays(b->path, r, k, n->now);
	}
}

/* ---- relayed datagrams ---- */

void mesh_node_set_relay(struct mesh_node *n, bool on)
{
	n->relay_on = on;
	n->relays_dirty = true;
}

bool mesh_node_wrap_relay(struct mesh_node *n, const union endpoint *dst, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix, struct mesh_node_result *res)
{
	union endpoint to;
	size_t k;

	node_result_reset(res);
	if (!mesh_relay_is_synth(dst))
		return false;
	if (n->relay == NULL || !n->relay_on || n->revoked)
		return true;	/* never to the socket: 100::/64 goes nowhere */
	enter(n, now, now_unix);
	k = mesh_relay_wrap(n->relay, dst, p, len, res->buf, sizeof res->buf, now, &to);
	if (k > 0) {
		res->act = MESH_NODE_ACT_SEND;
		res->ep = to;
		res->len = k;
	}
	return true;
}

/* RELAY (we relay for others: the rewritten datagram is res's SEND) or
 * RELAYED (a member's datagram through a relay: res's WG_INPUT with the
 * synthetic source). When our own path to its origin is DIRECT and
 * answered within NODE_UNROAM_FRESH_MS, res asks for WireGuard's roaming
 * to the synthetic source to be undone afterwards (mesh_node_unroam): the
 * origin may still be on the relay for a moment, we keep the direct path
 * we measured. An older direct path is re-checked instead, and the answers
 * go through the relay meanwhile. */
void node_relay_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len, struct mesh_node_result *res)
{
	union endpoint to, syn;
	struct npeer *o;
	size_t inner;

	if (n->relay == NULL || !n->relay_on || src == NULL || len > sizeof res->buf)
		return;
	memcpy(res->buf, p, len);
	if (p[1] == MESH_MSG_RELAY) {
		if (mesh_relay_forward(n->relay, res->buf, len, src, n->now, &to) == 0) {
			res->act = MESH_NODE_ACT_SEND;
			res->ep = to;
			res->len = len;
		}
		return;
	}
	if (mesh_relay_receive(n->relay, res->buf, len, src, n->now, &inner, &syn) != 0)
		return;
	res->act = MESH_NODE_ACT_WG_INPUT;
	res->ep = syn;
	res->len = inner;
	/* the origin's id is in p (res->buf now holds the inner datagram) */
	if ((o = node_peer_find(n, p + MESH_MSG_HDR_LEN)) == NULL || o->wp == NULL ||
	    o->choice.kind != MESH_PATH_DIRECT || o->path == NULL)
		return;
	if (n->now - mesh_path_last_ack(o->path) > MSEC(NODE_UNROAM_FRESH_MS)) {
		mesh_path_recheck(o->path, n->now);
		return;
	}
	res->unroam = true;
	memcpy(res->unroam_pk, o->wg_pk, MESH_WG_KEY_LEN);
	res->unroam_ep = o->choice.ep;
}

void mesh_node_unroam(struct wg_device *wg, const struct mesh_node_result *res)
{
	struct wg_peer_info info;
	struct wg_peer *p;

	if (res->act != MESH_NODE_ACT_WG_INPUT || !res->unroam ||
	    (p = wg_peer_lookup(wg, res->unroam_pk)) == NULL)
		return;
	wg_peer_get_info(p, &info);
	if (mesh_relay_is_synth(&info.endpoint))
		wg_peer_set_endpoint(p, &res->unroam_ep);
	sodium_memzero(&info, sizeof info);
}

void mesh_node_relay_stats(const struct mesh_node *n, struct mesh_relay_stats *out)
{
	if (n->relay != NULL)
		mesh_relay_get_stats(n->relay, out);
	else
		memset(out, 0, sizeof *out);
}
