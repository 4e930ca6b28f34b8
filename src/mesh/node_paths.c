/* Mesh node: the glue between the members and their path engines
 * (mesh/path.h): which endpoint candidates a peer gets and in what order,
 * the engines' upcalls (send a probe, a path changed), the underlay PROBE /
 * PROBE_ACK exchange (mesh/probe.h) with its anti-abuse limits, and PUNCH,
 * the in-tunnel request to probe each other at the same time.
 *
 * Every peer has a path engine fed with its endpoint record and join hint;
 * its DIRECT choice is WireGuard's endpoint, and the ACKs tell us our
 * reflexive endpoints (node_endpoints.c). Limits: NODE_ACK_RATE answers per
 * second per peer, each txid answered once; at most one PUNCH per second per
 * origin acted on and per target sent.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "mesh/pmtu.h"
#include "mesh/relay.h"
#include "mesh/wire.h"
#include "util/err.h"
#include "util/log.h"

/* ---- candidates ---- */

/* True when ep shares a /24 (IPv4) or /64 (IPv6) with one of our own local
 * endpoints: most likely the same LAN. */
static bool ep_near(const struct mesh_node *n, const struct mesh_ep *ep)
{
	size_t plen = ep->family == MESH_FAMILY_V4 ? 3 : 8;

	for (unsigned i = 0; n->have_eps && i < n->eps.nep && i < MESH_ENDPOINTS_MAX; i++) {
		const struct mesh_ep *o = &n->eps.ep[i];

		if (o->source == MESH_EP_LOCAL && o->family == ep->family &&
		    memcmp(o->addr, ep->addr, plen) == 0)
			return true;
	}
	return false;
}

/* Preference rank of a candidate: the order handed to the path engine, and
 * WireGuard's endpoint until the engine has a direct path (mesh/path.h):
 * 0 a local address on what looks like our LAN; 1 a public IPv4 address
 * (local, port-mapped or reflexive); 2 a public IPv6 address; 3 the rest
 * (private addresses of other networks: reachable only by luck). */
static int ep_rank(const struct mesh_node *n, const struct mesh_ep *ep)
{
	if (ep->source == MESH_EP_LOCAL && ep_near(n, ep))
		return 0;
	if (mesh_ep_private(ep))
		return 3;
	return ep->family == MESH_FAMILY_V4 ? 1 : 2;
}

static void ep_from_mesh(union endpoint *out, const struct mesh_ep *ep)
{
	memset(out, 0, sizeof *out);
	if (ep->family == MESH_FAMILY_V4) {
		out->sin.sin_family = AF_INET;
		memcpy(&out->sin.sin_addr, ep->addr, 4);
		out->sin.sin_port = htons(ep->port);
	} else {
		out->sin6.sin6_family = AF_INET6;
		memcpy(&out->sin6.sin6_addr, ep->addr, 16);
		out->sin6.sin6_port = htons(ep->port);
	}
}

/* The address of an endpoint, in our family terms. */
bool node_ep_addr(const union endpoint *ep, uint8_t *family, uint8_t addr[16])
{
	union endpoint e = *ep;

	endpoint_unmap(&e);
	memset(addr, 0, 16);
	if (e.sa.sa_family == AF_INET) {
		*family = MESH_FAMILY_V4;
		memcpy(addr, &e.sin.sin_addr, 4);
		return true;
	}
	if (e.sa.sa_family == AF_INET6) {
		*family = MESH_FAMILY_V6;
		memcpy(addr, &e.sin6.sin6_addr, 16);
		return true;
	}
	return false;
}

/* ep as a record entry of the given source; false when it is no valid one. */
bool node_ep_to_mesh(const union endpoint *ep, uint8_t source, struct mesh_ep *out)
{
	union endpoint e = *ep;

	memset(out, 0, sizeof *out);
	endpoint_unmap(&e);
	if (!node_ep_addr(&e, &out->family, out->addr))
		return false;
	out->source = source;
	out->port = ntohs(e.sa.sa_family == AF_INET ? e.sin.sin_port : e.sin6.sin6_port);
	return mesh_ep_valid(out);
}

/* True when an installed subnet route (of any member) covers ep: packets to
 * it would enter the tunnel, so it cannot be an underlay path. */
static bool cand_blocked(const struct mesh_node *n, const union endpoint *ep)
{
	uint8_t fam, addr[16];

	if (!node_ep_addr(ep, &fam, addr))
		return false;
	for (size_t i = 0; i < n->npeers; i++)
		for (unsigned j = 0; j < n->peers[i]->ninst; j++)
			if (mesh_prefix_contains_addr(&n->peers[i]->inst[j], fam, addr))
				return true;
	return false;
}

/* ---- path selection upcalls (mesh/path.h) ---- */

static void path_probe(void *ctx, const union endpoint *dst, uint64_t txid)
{
	struct npeer *p = ctx;
	struct mesh_node *n = p->n;
	struct mesh_probe m = { .type = MESH_MSG_PROBE, .txid = txid, .time = n->now_unix };
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct wr w;

	wr_init(&w, buf, sizeof buf);
	if (!p->have_pkey || n->ops.send_underlay == NULL || mesh_probe_seal(&p->pkey, &m, &w) != 0)
		return;
	n->ops.send_underlay(n->ctx, dst, buf, w.off);
}

/* The budget of probes to never-answering candidates (NODE_DST_*). */
static bool path_allow(void *ctx, const union endpoint *dst, mtime_ns now)
{
	struct npeer *p = ctx;
	struct mesh_node *n = p->n;
	uint8_t key[1 + 8] = { 0 }, h[crypto_shorthash_BYTES], fam;
	uint8_t addr[16];
	size_t slot;

	if (!node_ep_addr(dst, &fam, addr))
		return false;
	key[0] = fam;
	memcpy(key + 1, addr, fam == MESH_FAMILY_V4 ? 4 : 8);
	crypto_shorthash(h, key, sizeof key, n->dst_hkey);
	slot = h[0] % NODE_DST_N;
	if (!n->dst[slot].used || memcmp(n->dst[slot].key, key, sizeof key) != 0) {
		memset(&n->dst[slot], 0, sizeof n->dst[slot]);
		n->dst[slot].used = true;
		memcpy(n->dst[slot].key, key, sizeof key);
	}
	/* a token a second, a probe costs 60 / NODE_DST_PER_MIN of them */
	mesh_bucket_refill(&n->dst[slot].b, now, 1, NODE_DST_BURST * NODE_DST_COST);
	if (!mesh_bucket_has(&n->dst[slot].b, NODE_DST_COST)) {
		n->probes_denied++;
		return false;
	}
	mesh_bucket_take(&n->dst[slot].b, NODE_DST_COST);
	return true;
}

/* ---- path MTU (mesh/pmtu.h) ---- */

/* The tunnel's inner MTU the search aims at: WireGuard's default TUN MTU,
 * which the daemon sets. A larger path is of no use to it. */
#define NODE_PMTU_INNER 1420
#define NODE_PMTU_WG_OVERHEAD 32	/* data header 16 + tag 16 */

static unsigned ep_hdr(const union endpoint *ep)
{
	union endpoint e = *ep;

	endpoint_unmap(&e);
	return e.sa.sa_family == AF_INET ? MESH_PMTU_HDR_V4 : MESH_PMTU_HDR_V6;
}

/* A padded PROBE of size bytes of IP packet to the direct path. */
static void pmtu_probe(void *ctx, uint16_t size, uint64_t txid)
{
	struct npeer *p = ctx;
	struct mesh_node *n = p->n;
	struct mesh_probe m = { .type = MESH_MSG_PROBE, .txid = txid, .time = n->now_unix };
	uint8_t buf[NODE_PMTU_INNER + NODE_PMTU_WG_OVERHEAD];	/* the largest we search */
	unsigned hdr;
	struct wr w;

	if (p->choice.kind != MESH_PATH_DIRECT || !p->have_pkey || n->ops.send_underlay == NULL)
		return;
	hdr = ep_hdr(&p->choice.ep);
	if (size < hdr + MESH_PROBE_LEN || size - hdr > sizeof buf)
		return;
	m.len = (uint16_t)(size - hdr);
	wr_init(&w, buf, sizeof buf);
	if (mesh_probe_seal(&p->pkey, &m, &w) == 0)
		n->ops.send_underlay(n->ctx, &p->choice.ep, buf, w.off);
}

void node_pmtu_min_update(struct mesh_node *n)
{
	uint16_t min = 0;

	for (size_t i = 0; i < n->npeers; i++) {
		uint16_t m = mesh_pmtu_get(&n->peers[i]->pmtu);

		if (m != 0 && (min == 0 || m < min))
			min = m;
	}
	n->pmtu_min = min;
}

static void pmtu_changed(void *ctx, uint16_t old_mtu, uint16_t new_mtu)
{
	struct npeer *p = ctx;
	const struct mesh_pmtu *pm = &p->pmtu;

	if (new_mtu != 0)
		log_info("mesh: member %s: path MTU %u (was %u; search %llu ms)", p->name,
		    (unsigned)new_mtu, (unsigned)old_mtu,
		    (unsigned long long)((pm->state == MESH_PMTU_DONE ? pm->found_in :
		    p->n->now - pm->search_started) / MSEC(1)));
	node_pmtu_min_update(p->n);
}

/* A direct path to ep: search its MTU when it is new. */
static void pmtu_path(struct mesh_node *n, struct npeer *p, const struct mesh_path_choice *old)
{
	const struct mesh_path_choice *c = &p->choice;

	if (c->kind != MESH_PATH_DIRECT) {
		if (p->pmtu.state != MESH_PMTU_OFF)
			mesh_pmtu_stop(&p->pmtu);
		return;
	}
	if (old->kind == MESH_PATH_DIRECT && endpoint_eq(&old->ep, &c->ep) &&
	    p->pmtu.state != MESH_PMTU_OFF)
		return;
	mesh_pmtu_start(&p->pmtu,
	    (uint16_t)(NODE_PMTU_INNER + NODE_PMTU_WG_OVERHEAD + ep_hdr(&c->ep)), n->now);
}

/* DIRECT: WireGuard follows the chosen endpoint. NONE: WireGuard keeps what
 * it has (its own roaming may still find the peer). RELAY via R: WireGuard's
 * endpoint becomes synth(R, peer) (mesh/relay.h). */
static void path_changed(void *ctx, const struct mesh_path_choice *c)
{
	struct npeer *p = ctx;
	struct mesh_node *n = p->n;
	struct mesh_path_choice old = p->choice;
	struct wg_peer_info info;
	char a[ENDPOINT_STRLEN];

	p->choice = *c;
	pmtu_path(n, p, &old);
	n->routes_dirty = true;	/* "covers a peer's working path" may change */
	n->relays_dirty = true;	/* relay candidates depend on direct paths */
	if (c->kind == MESH_PATH_RELAY) {
		struct npeer *r = node_peer_find(n, c->relay_id);
		union endpoint syn;

		log_info("mesh: member %s: relay via %s (%u ms)", p->name,
		    r != NULL ? r->name : "?", (unsigned)c->rtt_ms);
		if (p->wp == NULL || n->relay == NULL || p->pinned)
			return;
		mesh_relay_synth_make(n->relay, c->relay_id, p->node_id, n->now, &syn);
		wg_peer_get_info(p->wp, &info);
		if (!endpoint_eq(&info.endpoint, &syn))
			wg_peer_set_endpoint(p->wp, &syn);
		sodium_memzero(&info, sizeof info);
		/* Both ends of a warm pair start a handshake: the other may not
		 * know us yet (gossip), and a lost initiation costs
		 * REKEY_TIMEOUT. */
		if (p->warm)
			wg_peer_initiate_now(n->wg, p->wp, n->now);
		return;
	}
	if (c->kind != MESH_PATH_DIRECT) {
		log_info("mesh: member %s: no direct path", p->name);
		return;
	}
	endpoint_format(&c->ep, a, sizeof a);
	log_info("mesh: member %s: direct path %s (%u ms)", p->name, a, (unsigned)c->rtt_ms);
	if (p->wp == NULL || p->pinned)
		return;
	wg_peer_get_info(p->wp, &info);
	if (!endpoint_eq(&info.endpoint, &c->ep))
		wg_peer_set_endpoint(p->wp, &c->ep);
	sodium_memzero(&info, sizeof info);
	/* A probe just came back on this path: if no session exists, the last
	 * initiation was likely lost (e.g. before the NAT had a hole), so start
	 * one now instead of waiting out WireGuard's 5 s retry. An idle peer
	 * gets its handshake when traffic (or gossip) needs one. */
	if (p->warm)
		wg_peer_initiate_now(n->wg, p->wp, n->now);
}

static uint64_t path_rand(void *ctx)
{
	uint64_t r;

	(void)ctx;
	randombytes_buf(&r, sizeof r);
	return r;
}

/* The probe key with p's current WireGuard key. */
void node_peer_key_init(struct mesh_node *n, struct npeer *p)
{
	mesh_probe_key_clear(&p->pkey);
	p->have_pkey = mesh_probe_key_init(&p->pkey, n->wg_pk, n->wg_sk, p->wg_pk) == 0;
	if (!p->have_pkey)
		log_warn("mesh: member %s: no probe key (bad WireGuard key)", p->name);
}

int node_peer_path_init(struct mesh_node *n, struct npeer *p)
{
	struct mesh_path_cfg pc = {
		.probe = path_probe, .changed = path_changed, .allow = path_allow,
		.rand = path_rand, .ctx = p,
	};
	struct mesh_pmtu_cfg mc = {
		.probe = pmtu_probe, .changed = pmtu_changed, .rand = path_rand, .ctx = p,
	};
	int r;

	p->n = n;
	mesh_pmtu_init(&p->pmtu, &mc);
	if ((p->path = mesh_path_new(&pc, &r)) == NULL)
		return r;
	(void)mesh_path_set_local(p->path, n->lpfx, n->nlpfx, n->now);
	/* idle until it has traffic; its first candidates still get a full
	 * round at once (mesh_path_set_candidates) */
	p->warm = false;
	mesh_path_set_idle(p->path, true, false, n->now);
	p->ack_tokens = NODE_ACK_RATE;
	p->ack_refill = n->now;
	return 0;
}

/* Asks target to punch us at the same time: a PUNCH through the tunnel of a
 * member we have a direct path with (it forwards it once). */
static void send_punch_req(struct mesh_node *n, struct npeer *t)
{
	uint8_t m[NODE_PUNCH_LEN];

	if (n->ops.send_gossip == NULL ||
	    (t->punch_tx_at != 0 && n->now - t->punch_tx_at < MSEC(NODE_PUNCH_GAP_MS)))
		return;
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *via = n->peers[i];

		if (via == t || via->farewell || via->wp == NULL ||
		    via->choice.kind != MESH_PATH_DIRECT)
			continue;
		m[0] = NODE_MSG_PUNCH;
		memcpy(m + 1, t->node_id, MESH_NODE_ID_LEN);
		memcpy(m + 1 + MESH_NODE_ID_LEN, n->node_id, MESH_NODE_ID_LEN);
		n->ops.send_gossip(n->ctx, via->ipv4, m, sizeof m);
		t->punch_tx_at = n->now;
		return;
	}
}

/* A punch round on p now, and p asked to do the same. */
static void peer_punch(struct mesh_node *n, struct npeer *p)
{
	if (p->path == NULL || p->farewell)
		return;
	mesh_path_punch(p->path, n->now);
	send_punch_req(n, p);
}

/* Rebuilds p's candidates from its endpoint record (e may be NULL) and the
 * hint, leaving out those inside an installed subnet route, and hands them
 * to the path engine when they changed. Until the engine has a direct path,
 * WireGuard is pointed at the best-ranked candidate (unless it already
 * uses one of them) so that a handshake can go out at once. */
void node_peer_set_candidates(struct mesh_node *n, struct npeer *p,
    const struct mesh_endpoints *e)
{
	union endpoint cand[MESH_ENDPOINTS_MAX + 1];
	struct mesh_ep pc[MESH_ENDPOINTS_MAX + 1];
	struct wg_peer_info info;
	const union endpoint *set;
	unsigned i, k = 0;
	bool changed, have;
	int r;

	for (int rank = 0; e != NULL && rank <= 3; rank++) {
		for (i = 0; i < e->nep && i < MESH_ENDPOINTS_MAX; i++) {
			if (ep_rank(n, &e->ep[i]) != rank || !mesh_ep_valid(&e->ep[i]) ||
			    mesh_ep_is_tcp(&e->ep[i]))
				continue;
			ep_from_mesh(&cand[k], &e->ep[i]);
			if (cand_blocked(n, &cand[k]))
				continue;	/* a subnet route pulls it into the tunnel */
			pc[k++] = e->ep[i];
		}
	}
	if (endpoint_is_set(&p->hint) && !cand_blocked(n, &p->hint)) {
		for (i = 0; i < k && !endpoint_eq(&cand[i], &p->hint); i++)
			;
		if (i == k && node_ep_to_mesh(&p->hint, MESH_EP_REFLEXIVE, &pc[k]))
			cand[k++] = p->hint;
	}
	changed = k != p->ncand || (k > 0 && memcmp(pc, p->pcand, k * sizeof pc[0]) != 0);
	if (changed) {
		/* out of memory: none kept, the engine still gets them */
		free(p->pcand);
		p->pcand = k > 0 ? malloc(k * sizeof pc[0]) : NULL;
		p->ncand = p->pcand != NULL ? (uint8_t)k : 0;
		if (p->ncand > 0)
			memcpy(p->pcand, pc, k * sizeof pc[0]);
	}
	if (changed && p->path != NULL &&
	    (r = mesh_path_set_candidates(p->path, pc, k, n->now)) != 0)
		log_warn("mesh: member %s: path candidates: %s", p->name, meshd_strerror(r));
	if (p->wp == NULL || k == 0)
		return;
	(void)mesh_gossip_set_reachable(n->g, p->node_id, true);
	if (p->pinned)
		return;	/* reached over our TCP entry: keep that endpoint */
	wg_peer_get_info(p->wp, &info);
	if (p->choice.kind == MESH_PATH_DIRECT) {
		have = endpoint_eq(&info.endpoint, &p->choice.ep);
		set = &p->choice.ep;	/* e.g. a new wg peer after a rekey */
	} else if (p->choice.kind == MESH_PATH_RELAY && mesh_relay_is_synth(&info.endpoint)) {
		have = true;		/* relayed: path_changed() set it */
		set = &cand[0];
	} else {
		for (i = 0, have = false; i < k && !have; i++)
			have = endpoint_eq(&info.endpoint, &cand[i]);
		set = &cand[0];
	}
	sodium_memzero(&info, sizeof info);
	if (!have) {
		wg_peer_set_endpoint(p->wp, set);
		if (p->warm)
			wg_peer_set_keepalive(n->wg, p->wp, MESH_NODE_KEEPALIVE_S, n->now);
		n->routes_dirty = true;
	}
	if (changed && p->choice.kind != MESH_PATH_DIRECT && !n->loading)
		peer_punch(n, p);	/* none or relayed: try direct at once */
}

/* ---- probes (mesh/probe.h) ---- */

static struct npeer *peer_by_wg_pk(const struct mesh_node *n, const uint8_t *pk)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && n->peers[i]->have_pkey &&
		    memcmp(n->peers[i]->wg_pk, pk, MESH_WG_KEY_LEN) == 0)
			return n->peers[i];
	return NULL;
}

/* One ACK token for p (NODE_ACK_RATE per second, as many in a burst). */
static bool ack_allowed(struct mesh_node *n, struct npeer *p)
{
	mtime_ns per = SEC(1) / NODE_ACK_RATE;

	if (n->now > p->ack_refill) {
		mtime_ns add = (n->now - p->ack_refill) / per;

		if (add >= NODE_ACK_RATE - p->ack_tokens) {
			p->ack_tokens = NODE_ACK_RATE;
			p->ack_refill = n->now;
		} else {
			p->ack_tokens += (uint32_t)add;
			p->ack_refill += add * per;
		}
	}
	if (p->ack_tokens == 0)
		return false;
	p->ack_tokens--;
	return true;
}

/* True the first time txid is seen (among the last NODE_ACK_SEEN; by its
 * low 32 bits, random: a fresh txid taken for a seen one costs one
 * unanswered probe). */
static bool ack_fresh(struct npeer *p, uint64_t txid)
{
	uint32_t t = (uint32_t)txid;

	for (unsigned i = 0; i < NODE_ACK_SEEN; i++)
		if (p->ack_seen[i] == t)
			return false;
	p->ack_seen[p->ack_seen_pos] = t;
	p->ack_seen_pos = (p->ack_seen_pos + 1) % NODE_ACK_SEEN;
	return true;
}

/* PROBE from a member: answered to its source (which the ACK reports);
 * PROBE_ACK: to the peer's path engine, and its observed address is one of
 * our reflexive candidates. Non-members and anything that does not open:
 * dropped. */
void node_probe_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len)
{
	uint8_t type, spk[MESH_PROBE_KEY_LEN], buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m, a;
	struct npeer *np;
	struct wr w;

	if (src == NULL || !endpoint_is_set(src) || mesh_probe_peek(p, len, &type, spk) != 0 ||
	    (np = peer_by_wg_pk(n, spk)) == NULL || np->path == NULL ||
	    mesh_probe_open(&np->pkey, p, len, n->now_unix, &m) != 0)
		return;
	if (m.type == MESH_MSG_PROBE_ACK) {
		if (mesh_pmtu_input_ack(&np->pmtu, m.txid, n->now) == 0)
			return;
		if (mesh_path_input_ack(np->path, m.txid, src, n->now) == 0) {
			n->probe_acks++;
			node_refl_note(n, &m.observed, np->node_id);
		}
		return;
	}
	if (n->ops.send_underlay == NULL || !ack_fresh(np, m.txid) || !ack_allowed(n, np))
		return;
	memset(&a, 0, sizeof a);
	a.type = MESH_MSG_PROBE_ACK;
	a.txid = m.txid;
	a.time = n->now_unix;
	a.observed = *src;
	endpoint_unmap(&a.observed);
	wr_init(&w, buf, sizeof buf);
	if (mesh_probe_seal(&np->pkey, &a, &w) == 0)
		n->ops.send_underlay(n->ctx, src, buf, w.off);
	/* Its source reaches us: a triggered check back to it (a
	 * peer-reflexive candidate when its record does not name it). */
	mesh_path_input_probe(np->path, src, n->now);
	/* The peer is probing us and we have no direct path to it: its NAT
	 * has just opened a hole towards us, so a probe round from our side
	 * now is likely to get through (instead of the next round in 5 s). */
	if (np->choice.kind != MESH_PATH_DIRECT &&
	    (np->punch_rx_at == 0 || n->now - np->punch_rx_at >= MSEC(NODE_PUNCH_GAP_MS))) {
		np->punch_rx_at = n->now;
		mesh_path_punch(np->path, n->now);
	}
}

/* ---- path MTU: ICMP hints and the inner packet limit ---- */

static bool ep_same_host(const union endpoint *a, const union endpoint *b)
{
	uint8_t fa, fb, aa[16], ab[16];
	union endpoint x = *a, y = *b;
	uint16_t pa, pb;

	if (!node_ep_addr(a, &fa, aa) || !node_ep_addr(b, &fb, ab) || fa != fb ||
	    memcmp(aa, ab, 16) != 0)
		return false;
	endpoint_unmap(&x);
	endpoint_unmap(&y);
	pa = x.sa.sa_family == AF_INET ? x.sin.sin_port : x.sin6.sin6_port;
	pb = y.sa.sa_family == AF_INET ? y.sin.sin_port : y.sin6.sin6_port;
	return pa == 0 || pb == 0 || pa == pb;	/* local errors carry no port */
}

void mesh_node_path_mtu_hint(struct mesh_node *n, const union endpoint *dst, unsigned mtu,
    mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	if (mtu > UINT16_MAX)
		return;
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];

		if (!p->farewell && p->choice.kind == MESH_PATH_DIRECT &&
		    ep_same_host(&p->choice.ep, dst))
			mesh_pmtu_input_ptb(&p->pmtu, (uint16_t)mtu, now);
	}
}

/* The member whose overlay address or installed route (longest prefix)
 * holds addr, or NULL. */
static const struct npeer *peer_for_addr(const struct mesh_node *n, uint8_t fam,
    const uint8_t addr[16])
{
	const struct npeer *best = NULL;
	int best_len = -1;

	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		if (p->farewell)
			continue;
		if ((fam == MESH_FAMILY_V4 && memcmp(p->ipv4, addr, 4) == 0) ||
		    (fam == MESH_FAMILY_V6 && memcmp(p->ipv6, addr, 16) == 0))
			return p;
		for (unsigned j = 0; j < p->ninst; j++)
			if (p->inst[j].len > best_len &&
			    mesh_prefix_contains_addr(&p->inst[j], fam, addr)) {
				best = p;
				best_len = p->inst[j].len;
			}
	}
	return best;
}

unsigned mesh_node_inner_mtu(const struct mesh_node *n, const uint8_t *pkt, size_t len,
    unsigned tun_mtu)
{
	const struct npeer *p;
	uint8_t fam, addr[16];
	uint16_t mtu;

	/* the fast path: nothing is small, or this packet fits any path */
	if (n->pmtu_min == 0 || len <= mesh_pmtu_inner_max(n->pmtu_min, MESH_PMTU_HDR_V6, tun_mtu))
		return 0;
	memset(addr, 0, sizeof addr);
	if (len >= 20 && pkt[0] >> 4 == 4) {
		fam = MESH_FAMILY_V4;
		memcpy(addr, pkt + 16, 4);
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		fam = MESH_FAMILY_V6;
		memcpy(addr, pkt + 24, 16);
	} else {
		return 0;
	}
	if ((p = peer_for_addr(n, fam, addr)) == NULL || p->choice.kind != MESH_PATH_DIRECT ||
	    (mtu = mesh_pmtu_get(&p->pmtu)) == 0)
		return 0;
	return mesh_pmtu_inner_max(mtu, ep_hdr(&p->choice.ep), tun_mtu);
}

/* ---- PUNCH (in-tunnel, node level) ---- */

/* PUNCH = 'P' | target id | origin id, from member `from`. For us: punch
 * the origin at once (sent by the origin itself or by a forwarder). For
 * another member: forwarded once, and only when `from` is the origin. */
void node_punch_input(struct mesh_node *n, struct npeer *from, const uint8_t *m, size_t len)
{
	const uint8_t *target = m + 1, *origin = m + 1 + MESH_NODE_ID_LEN;
	struct npeer *o, *t;

	if (len != NODE_PUNCH_LEN || (o = node_peer_find(n, origin)) == NULL || o->farewell)
		return;
	if (o->punch_rx_at != 0 && n->now - o->punch_rx_at < MSEC(NODE_PUNCH_GAP_MS))
		return;
	if (id_eq(target, n->node_id)) {
		o->punch_rx_at = n->now;
		if (o->path != NULL)
			mesh_path_punch(o->path, n->now);
		return;
	}
	if (o != from || (t = node_peer_find(n, target)) == NULL || t == from || t->farewell ||
	    t->wp == NULL || n->ops.send_gossip == NULL)
		return;
	o->punch_rx_at = n->now;
	n->ops.send_gossip(n->ctx, t->ipv4, m, len);
}

/* ---- idle policy (NODE_IDLE_AFTER_S) ---- */

/* Traffic within NODE_IDLE_AFTER_S: the time it goes stale, or 0. */
static mtime_ns data_fresh_until(const struct mesh_node *n, const struct npeer *p)
{
	mtime_ns last = wg_peer_last_data(p->wp);

	if (last == 0 || last + SEC(NODE_IDLE_AFTER_S) <= n->now)
		return 0;
	return last + SEC(NODE_IDLE_AFTER_S);
}

static bool policy_applies(const struct npeer *p)
{
	return !p->farewell && p->wp != NULL && p->path != NULL;
}

/* Kept warm without traffic: site gateways (routes installed: the LAN
 * behind them expects an answer at once) and relays our paths go through
 * (relaying needs a live session with both ends). */
static bool keep_warm(const struct mesh_node *n, const struct npeer *p)
{
	if (p->ninst > 0 || p->relay_warm)
		return true;
	for (size_t i = 0; i < n->npeers; i++)
		if (n->peers[i]->choice.kind == MESH_PATH_RELAY &&
		    id_eq(n->peers[i]->choice.relay_id, p->node_id))
			return true;
	return false;
}

mtime_ns node_paths_next_expiry(const struct mesh_node *n)
{
	mtime_ns t = MTIME_NEVER, until;

	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		if (!policy_applies(p))
			continue;
		until = data_fresh_until(n, p);
		if (!p->warm && until != 0)
			return n->now;			/* traffic for an idle peer */
		if (p->warm && until != 0 && until < t)
			t = until;			/* goes idle then */
	}
	return t;
}

static void peer_warm(struct mesh_node *n, struct npeer *p, bool traffic)
{
	p->warm = true;
	p->nat_anchor = false;
	log_debug("mesh: member %s: warm (%s)", p->name, traffic ? "traffic" : "kept warm");
	mesh_path_set_idle(p->path, false, false, n->now);
	mesh_path_handle_expiry(p->path, n->now);	/* the probes leave now */
	/* keepalives, and at once: a handshake when there is no session */
	wg_peer_set_keepalive(n->wg, p->wp, MESH_NODE_KEEPALIVE_S, n->now);
	/* its NAT may have closed our hole while we were quiet: have it
	 * punch too (one in-tunnel message through a member) */
	if (traffic)
		send_punch_req(n, p);
}

static void peer_cool(struct mesh_node *n, struct npeer *p)
{
	p->warm = false;
	log_debug("mesh: member %s: idle", p->name);
	wg_peer_set_keepalive(n->wg, p->wp, 0, n->now);
	mesh_path_set_idle(p->path, true, false, n->now);
}

/* Per address family, the idle peer whose probes keep our NAT mapping:
 * none needed when a warm peer already has a WAN path of that family
 * (its keepalives do it); else the first idle one on a WAN path. One
 * mapping per local socket is all an endpoint-independent NAT needs. */
static void pick_anchors(struct mesh_node *n)
{
	struct npeer *anchor[2] = { NULL, NULL };
	bool covered[2] = { false, false };

	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		int f;

		if (!policy_applies(p) || p->choice.kind != MESH_PATH_DIRECT ||
		    p->choice.cls != MESH_PATH_CLASS_WAN)
			continue;
		f = p->choice.ep.sa.sa_family == AF_INET6 &&
		    !IN6_IS_ADDR_V4MAPPED(&p->choice.ep.sin6.sin6_addr);
		if (p->warm)
			covered[f] = true;
		else if (anchor[f] == NULL)
			anchor[f] = p;
	}
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		bool a;

		if (!policy_applies(p) || p->warm)
			continue;
		a = (p == anchor[0] && !covered[0]) || (p == anchor[1] && !covered[1]);
		if (a != p->nat_anchor) {
			p->nat_anchor = a;
			mesh_path_set_idle(p->path, true, a, n->now);
		}
	}
}

/* While some peer has no direct path, the NODE_WARM_RELAYS relay-offering
 * members with the best direct paths stay warm (relay candidates need a
 * live session: node_relay.c). When no relay-offering member has a direct
 * path (their outage, or ours), all of them stay warm: their engines then
 * look for a path every PATH_RETRY_MS instead of on the idle back-off of a
 * minute or more, which would keep a NAT'd member cut off from the mesh
 * (no relay, no gossip) long after its relay is back. */
static void pick_warm_relays(struct mesh_node *n)
{
	struct npeer *best[NODE_WARM_RELAYS] = { NULL };
	bool need = false;

	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];

		p->relay_warm = false;
		if (policy_applies(p) && p->choice.kind != MESH_PATH_DIRECT)
			need = true;
	}
	if (!need || !n->relay_on)
		return;
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		size_t at = NODE_WARM_RELAYS;

		if (!policy_applies(p) || !p->relay_cand || p->choice.kind != MESH_PATH_DIRECT)
			continue;
		while (at > 0 && (best[at - 1] == NULL ||
		    best[at - 1]->choice.rtt_ms > p->choice.rtt_ms))
			at--;
		if (at >= NODE_WARM_RELAYS)
			continue;
		memmove(&best[at + 1], &best[at], (NODE_WARM_RELAYS - 1 - at) * sizeof best[0]);
		best[at] = p;
	}
	for (size_t k = 0; k < NODE_WARM_RELAYS; k++)
		if (best[k] != NULL)
			best[k]->relay_warm = true;
	if (best[0] != NULL)
		return;
	for (size_t i = 0; i < n->npeers; i++)
		if (policy_applies(n->peers[i]) && n->peers[i]->relay_cand)
			n->peers[i]->relay_warm = true;
}

void node_paths_expiry(struct mesh_node *n)
{
	pick_warm_relays(n);
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		bool traffic, want;

		if (!policy_applies(p))
			continue;
		traffic = data_fresh_until(n, p) != 0;
		want = traffic || keep_warm(n, p);
		if (want && !p->warm) {
			peer_warm(n, p, traffic);
			/* the packet that woke it started a handshake just now: a
			 * second one would replace it and both would be lost */
			continue;
		}
		if (!want && p->warm)
			peer_cool(n, p);
		/* A path that answers probes but no session yet: the initiation
		 * was probably lost (a hole that opened a moment too late). Try
		 * again now rather than after WireGuard's 5 s retry;
		 * wg_peer_initiate_now() does nothing with a session and limits
		 * itself to one per second. Idle peers wait for traffic. */
		if (p->warm && p->choice.kind == MESH_PATH_DIRECT)
			wg_peer_initiate_now(n->wg, p->wp, n->now);
	}
	pick_anchors(n);
}

/* ---- network changes ---- */

int mesh_node_set_local_prefixes(struct mesh_node *n, const struct mesh_prefix *p,
    size_t count, mtime_ns now)
{
	n->now = now;
	n->nlpfx = 0;
	for (size_t i = 0; i < count && n->nlpfx < PATH_LOCAL_MAX; i++) {
		struct mesh_path_prefix *q = &n->lpfx[n->nlpfx];

		if ((p[i].family != MESH_FAMILY_V4 || p[i].len > 32) &&
		    (p[i].family != MESH_FAMILY_V6 || p[i].len > 128))
			continue;
		memset(q, 0, sizeof *q);
		q->family = p[i].family;
		memcpy(q->addr, p[i].addr, 16);
		q->plen = p[i].len;
		n->nlpfx++;
	}
	for (size_t i = 0; i < n->npeers; i++)
		if (n->peers[i]->path != NULL)
			(void)mesh_path_set_local(n->peers[i]->path, n->lpfx, n->nlpfx, now);
	return 0;
}

uint64_t mesh_node_probe_acks(const struct mesh_node *n)
{
	return n->probe_acks;
}

void mesh_node_reprobe(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	for (size_t i = 0; i < n->npeers; i++)
		peer_punch(n, n->peers[i]);
}

void mesh_node_udp_lost(struct mesh_node *n, const uint8_t except_id[MESH_NODE_ID_LEN],
    mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	node_relays_refresh(n);	/* the entry must be a relay candidate now */
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];

		if (p->path == NULL || p->farewell)
			continue;
		if (memcmp(p->node_id, except_id, MESH_NODE_ID_LEN) != 0)
			mesh_path_udp_lost(p->path, n->now);
		else if (p->choice.kind != MESH_PATH_DIRECT)
			/* the entry: its probes go down the new connection now,
			 * not at the next round of a back-off that began while
			 * UDP was silent (a node that joined over TCP) */
			mesh_path_punch(p->path, n->now);
	}
}

void mesh_node_peer_pin(struct mesh_node *n, const uint8_t node_id[MESH_NODE_ID_LEN],
    const union endpoint *ep)
{
	struct npeer *p = node_peer_find(n, node_id);
	bool on = ep != NULL;

	if (p == NULL)
		return;
	if (on && p->wp != NULL) {
		struct wg_peer_info info;

		wg_peer_get_info(p->wp, &info);
		if (!endpoint_eq(&info.endpoint, ep))
			wg_peer_set_endpoint(p->wp, ep);	/* a new connection too */
		sodium_memzero(&info, sizeof info);
	}
	if (p->pinned == on)
		return;
	p->pinned = on;
	log_info("mesh: member %s: %s our TCP entry", p->name, on ? "reaches us over" : "left");
	if (on || p->wp == NULL)
		return;
	if (p->choice.kind == MESH_PATH_DIRECT) {
		wg_peer_set_endpoint(p->wp, &p->choice.ep);
	} else if (p->choice.kind == MESH_PATH_RELAY && n->relay != NULL) {
		union endpoint syn;

		mesh_relay_synth_make(n->relay, p->choice.relay_id, p->node_id, n->now, &syn);
		wg_peer_set_endpoint(p->wp, &syn);
	} else if (p->ncand > 0) {
		union endpoint first;

		ep_from_mesh(&first, &p->pcand[0]);
		wg_peer_set_endpoint(p->wp, &first);
	}
}

int mesh_node_tcp_cli_frame(const struct mesh_node *n, struct mesh_tcp_cli *c,
    const uint8_t *frame, size_t len, mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME])
{
	return mesh_tcp_cli_on_frame(c, frame, len, n->sign_sk, now, out);
}

void mesh_node_network_changed(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	n->nrefl = 0;	/* learnt again from the next answers; the rescan republishes */
	for (size_t i = 0; i < n->npeers; i++)
		peer_punch(n, n->peers[i]);
}
