/* The mesh node: records, gossip and the inviter, kept in step with the store
 * and the WireGuard peers (mesh/node.h). Sans-I/O: every entry point gets the
 * time handed in, every output leaves through the ops.
 *
 * Store writes for records happen in the records event callback (reading the
 * set there is allowed), except revocations of nodes we never knew, which
 * raise no event: those are swept into the store right after every merge
 * (sweep_revocations). While mesh_node_open() replays the store, nothing is
 * written back.
 *
 * Paths: every peer has a path engine (mesh/path.h) fed with its endpoint
 * record and join hint; its probes and their answers (mesh/probe.h) are
 * underlay datagrams, its DIRECT choice is WireGuard's endpoint, and the
 * answers tell us our reflexive endpoints. This replaces the old round robin
 * over candidates.
 *
 * Relays (mesh/relay.h, issue 4): a member OFFERS relaying when its own
 * endpoint record holds a PORTMAP endpoint or a LOCAL public (not private)
 * address; every node sees that in the records it already has, so no new
 * record type is needed. The relay candidates for peer B are the offering
 * members (other than B) we have a DIRECT path and a live WireGuard session
 * with (the relay only forwards for members it has a session with), RTT =
 * our path RTT to them; they are handed to B's path engine (refreshed when
 * paths or records change, and every NODE_RELAY_REFRESH_S). A RELAY choice via R points B's
 * WireGuard endpoint at the synthetic endpoint synth(R, B); the daemon's
 * send path hands datagrams for synthetic endpoints to
 * mesh_node_wrap_relay(). mesh_node_set_relay(false) stops both offering
 * and using relays.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/gossip.h"
#include "mesh/node.h"
#include "mesh/path.h"
#include "mesh/probe.h"
#include "mesh/records.h"
#include "mesh/relay.h"
#include "mesh/routes.h"
#include "mesh/token.h"
#include "mesh/wire.h"
#include "util/err.h"
#include "util/log.h"

/* Path probing (mesh/path.h, mesh/probe.h).
 *  - PROBE answers: a token bucket per peer, NODE_ACK_RATE per second with a
 *    burst of as many; each PROBE txid is answered once (a replayed probe
 *    with a forged source earns nothing).
 *  - Reflexive addresses: what ACKs report as our source address, kept
 *    NODE_REFL_TTL_S after the last report, at most NODE_REFL_PER_FAM per
 *    family.
 *  - PUNCH (in-tunnel, first byte NODE_MSG_PUNCH instead of GOSSIP_VERSION):
 *    'P' | target node id | origin node id; at most one per second per
 *    origin is acted on (forwarded or punched), and we send at most one per
 *    second per target. */
#define NODE_ACK_RATE 20
#define NODE_ACK_SEEN 32
#define NODE_REFL_TTL_S 60
#define NODE_REFL_PER_FAM 2
#define NODE_REFL_MAX (2 * NODE_REFL_PER_FAM)
#define NODE_MSG_PUNCH 0x50
#define NODE_PUNCH_LEN (1 + 2 * MESH_NODE_ID_LEN)
#define NODE_PUNCH_GAP_MS 1000

/* A revoked member is told so before it is cut off: its wg peer stays this
 * long (data to its overlay IPv4 still flows meanwhile: at most 3 s more), with
 * only its overlay IPv4 (the gossip address) routed, so that
 * anti-entropy with it brings it the tombstone. Nothing else would: once
 * every member has dropped it, no one can reach it any more. */
#define NODE_FAREWELL_S 3

/* Relays: candidates are recomputed at least this often (RTTs move). A
 * WireGuard session is "live" for relaying within REJECT_AFTER_TIME. */
#define NODE_RELAY_REFRESH_S 1
#define NODE_SESSION_LIVE_S 180

/* One other member, as far as WireGuard is concerned. */
struct npeer {
	struct mesh_node *n;
	uint8_t node_id[MESH_NODE_ID_LEN];
	char name[MESH_NAME_MAX + 1];
	uint8_t wg_pk[MESH_WG_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];
	bool admin;
	struct wg_peer *wp;		/* NULL when wg refused it */
	/* endpoint candidates: from its record, in preference order, then the
	 * join request's source (hint); those inside an installed subnet route
	 * left out. The same set as handed to the path engine. */
	uint8_t ncand;
	union endpoint cand[MESH_ENDPOINTS_MAX + 1];
	struct mesh_ep pcand[MESH_ENDPOINTS_MAX + 1];
	union endpoint hint;
	/* path selection: the engine, the probe key with this peer, its
	 * latest choice */
	struct mesh_path *path;
	struct mesh_probe_key pkey;	/* secret */
	bool have_pkey;
	struct mesh_path_choice choice;
	bool relay_cand;		/* its record says it offers relaying */
	/* anti-abuse: ACK token bucket, answered txids, PUNCH limits */
	uint32_t ack_tokens;
	mtime_ns ack_refill;
	uint64_t ack_seen[NODE_ACK_SEEN];
	unsigned ack_seen_pos;
	mtime_ns punch_rx_at;		/* last PUNCH from this origin acted on */
	mtime_ns punch_tx_at;		/* last PUNCH we sent about this target */
	bool farewell;			/* revoked; dropped at farewell_at */
	mtime_ns farewell_at;
	/* subnet routes installed for it: in its wg allowed IPs and handed to
	 * ops.route_add; and the ones refused at the last recompute (each
	 * refusal is logged once) */
	uint8_t ninst, nrefused;
	struct mesh_prefix inst[MESH_CERT_MAX_ROUTES];
	struct mesh_prefix refused[MESH_CERT_MAX_ROUTES];
};

struct mesh_node {
	struct store *st;
	struct wg_device *wg;
	struct mesh_node_ops ops;
	void *ctx;

	uint8_t node_id[MESH_NODE_ID_LEN];
	char name[MESH_NAME_MAX + 1];
	char mesh_name[MESH_NAME_MAX + 1];
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t authority_pk[MESH_PK_LEN];
	bool admin;
	uint8_t authority_sk[MESH_SK_LEN];	/* secret; admin only */
	struct mesh_prefix prefix4, prefix6;
	uint8_t wg_pk[MESH_WG_KEY_LEN];
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];	/* sign_sk: secret */
	struct mesh_cert self;

	struct mesh_records *recs;
	struct mesh_gossip *g;
	struct mesh_join_inviter *inv;	/* admin only; large: on the heap */
	mtime_ns purge_at;		/* next purge of dead invites; 0: not armed */

	struct npeer **peers;
	size_t npeers, cap;

	bool loading;			/* replaying the store: no writes */
	bool revoked;
	mtime_ns now;			/* of the current entry point */
	uint64_t now_unix;
	size_t revokes_stored;		/* count at the last sweep */

	bool have_eps;			/* own: our current endpoint record */
	struct mesh_endpoints eps;
	/* the daemon's endpoints (LOCAL, PORTMAP) and the reflexive ones
	 * learnt from probe answers; our record holds the merge of both */
	uint8_t nlocal;
	struct mesh_ep local[MESH_ENDPOINTS_MAX];
	unsigned nrefl;
	struct {
		struct mesh_ep ep;
		mtime_ns seen;
	} refl[NODE_REFL_MAX];
	uint8_t wg_sk[MESH_WG_KEY_LEN];	/* secret: probe keys */
	size_t nlpfx;			/* our local prefixes (path classes) */
	struct mesh_path_prefix lpfx[PATH_LOCAL_MAX];
	uint64_t ep_seq;		/* last seq we signed (or found stored) */
	mtime_ns resign_at;

	bool admitted;			/* set by admit(), published after */
	struct mesh_cert admitted_cert;

	bool have_rt;			/* own: our current ROUTES record */
	struct mesh_routes rt;
	uint64_t rt_seq;		/* last seq we signed (or found stored) */
	bool routes_dirty;		/* a peer endpoint moved since the last
					 * routes_recompute() */
	bool cands_dirty;		/* installed routes changed since the last
					 * cands_refresh() */

	struct mesh_relay *relay;	/* relaying and synthetic endpoints */
	bool relay_on;			/* offer and use relays (default on) */
	bool relays_dirty;		/* paths or records changed since the
					 * last relays_refresh() */
	mtime_ns relays_at;		/* next periodic relays_refresh() */
};

/* ---- small helpers ---- */

static bool id_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, MESH_NODE_ID_LEN) == 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, arg);
}

static void set_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int prefix_format(const struct mesh_prefix *p, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int af = p->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;

	if (inet_ntop(af, p->addr, a, sizeof a) == NULL)
		return MESHD_E_INVAL;
	if ((size_t)snprintf(out, cap, "%s/%u", a, (unsigned)p->len) >= cap)
		return MESHD_E_RANGE;
	return 0;
}

static int prefix_parse(const char *s, uint8_t family, struct mesh_prefix *out)
{
	char a[STORE_PREFIX_STRLEN];
	const char *slash = strchr(s, '/');
	size_t n;
	char *end;
	unsigned long len;

	memset(out, 0, sizeof *out);
	if (slash == NULL || (n = (size_t)(slash - s)) >= sizeof a)
		return MESHD_E_PROTO;
	memcpy(a, s, n);
	a[n] = '\0';
	len = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || len > 128)
		return MESHD_E_PROTO;
	out->family = family;
	out->len = (uint8_t)len;
	if (inet_pton(family == MESH_FAMILY_V4 ? AF_INET : AF_INET6, a, out->addr) != 1 ||
	    !mesh_prefix_valid(out))
		return MESHD_E_PROTO;
	return 0;
}

/* The member row a certificate makes. */
static int member_from_cert(struct store_member *m, const struct mesh_cert *c,
    const uint8_t *bytes, size_t len, uint64_t now_unix)
{
	memset(m, 0, sizeof *m);
	if (len > sizeof m->cert || c->issued_at > INT64_MAX || c->expires_at > INT64_MAX)
		return MESHD_E_INVAL;
	memcpy(m->node_id, c->node_id, MESH_NODE_ID_LEN);
	snprintf(m->name, sizeof m->name, "%s", c->name);
	memcpy(m->wg_public_key, c->wg_pubkey, MESH_WG_KEY_LEN);
	if (inet_ntop(AF_INET, c->ipv4, m->overlay4, sizeof m->overlay4) == NULL ||
	    inet_ntop(AF_INET6, c->ipv6, m->overlay6, sizeof m->overlay6) == NULL)
		return MESHD_E_INVAL;
	m->cert_version = c->issued_at;
	m->cert_expires_at = (int64_t)c->expires_at;
	m->admin = (c->flags & MESH_CERT_F_ADMIN) != 0;
	m->updated_at = (int64_t)now_unix;
	m->cert_len = len;
	memcpy(m->cert, bytes, len);
	return 0;
}

static int cert_to_bytes(const struct mesh_cert *c, uint8_t *buf, size_t cap, size_t *len)
{
	struct wr w;
	int r;

	wr_init(&w, buf, cap);
	if ((r = mesh_cert_encode(c, &w)) != 0)
		return r;
	*len = w.off;
	return 0;
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

int mesh_node_sign_keypair(const uint8_t wg_sk[MESH_WG_KEY_LEN], uint8_t pk[MESH_PK_LEN],
    uint8_t sk[MESH_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int r = 0;

	if (crypto_generichash(seed, sizeof seed, (const uint8_t *)MESH_NODE_SIGN_DOMAIN,
	    strlen(MESH_NODE_SIGN_DOMAIN), wg_sk, MESH_WG_KEY_LEN) != 0 ||
	    crypto_sign_seed_keypair(pk, sk, seed) != 0)
		r = MESHD_E_CRYPTO;
	sodium_memzero(seed, sizeof seed);
	return r;
}

/* ---- peers ---- */

static struct npeer *peer_find(const struct mesh_node *n, const uint8_t *id)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (id_eq(n->peers[i]->node_id, id))
			return n->peers[i];
	return NULL;
}

/* ---- subnet routes: helpers that only touch one peer ---- */

static int prefix_af(const struct mesh_prefix *r)
{
	return r->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
}

static bool prefix_in(const struct mesh_prefix *r, const struct mesh_prefix *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++)
		if (mesh_prefix_cmp(r, &v[i]) == 0)
			return true;
	return false;
}

/* Takes p->inst[i] out: wg allowed IP, then the kernel route. */
static void route_uninstall(struct mesh_node *n, struct npeer *p, unsigned i)
{
	struct mesh_prefix r = p->inst[i];
	char a[MESH_PREFIX_STRLEN];

	if (p->wp != NULL)
		(void)wg_peer_allowedip_remove(n->wg, p->wp, prefix_af(&r), r.addr, r.len);
	p->inst[i] = p->inst[--p->ninst];
	memset(&p->inst[p->ninst], 0, sizeof p->inst[0]);
	n->cands_dirty = true;
	(void)mesh_prefix_format(&r, a, sizeof a);
	log_info("mesh: member %s: route %s removed", p->name, a);
	if (n->ops.route_del != NULL)
		n->ops.route_del(n->ctx, &r);
}

static void route_install(struct mesh_node *n, struct npeer *p, const struct mesh_prefix *r)
{
	char a[MESH_PREFIX_STRLEN];
	int e;

	(void)mesh_prefix_format(r, a, sizeof a);
	if (p->wp == NULL || p->ninst >= MESH_CERT_MAX_ROUTES)
		return;
	if ((e = wg_peer_allowedip_add(n->wg, p->wp, prefix_af(r), r->addr, r->len)) != 0) {
		log_warn("mesh: member %s: route %s: allowed IP: %s", p->name, a,
		    meshd_strerror(e));
		return;
	}
	p->inst[p->ninst++] = *r;
	n->cands_dirty = true;
	log_info("mesh: member %s: route %s installed", p->name, a);
	if (n->ops.route_add != NULL)
		n->ops.route_add(n->ctx, r);
}

/* Every installed route of p goes (revocation, expiry, farewell). */
static void routes_uninstall_all(struct mesh_node *n, struct npeer *p)
{
	while (p->ninst > 0)
		route_uninstall(n, p, p->ninst - 1);
	p->nrefused = 0;
}

/* After wg lost p's allowed IPs (cleared, or a new wg peer): put the
 * installed routes back in wg; the kernel routes never left. */
static void routes_rewire(struct mesh_node *n, struct npeer *p)
{
	for (unsigned i = 0; p->wp != NULL && i < p->ninst; i++)
		if (wg_peer_allowedip_add(n->wg, p->wp, prefix_af(&p->inst[i]), p->inst[i].addr,
		    p->inst[i].len) != 0)
			log_warn("mesh: member %s: a route's allowed IP not set", p->name);
}

static void peer_free(struct npeer *p)
{
	mesh_path_free(p->path);
	mesh_probe_key_clear(&p->pkey);
	sodium_memzero(p, sizeof *p);
	free(p);
}

static void peer_drop(struct mesh_node *n, struct npeer *p)
{
	routes_uninstall_all(n, p);
	for (size_t i = 0; i < n->npeers; i++) {
		if (n->peers[i] != p)
			continue;
		n->peers[i] = n->peers[--n->npeers];
		break;
	}
	if (p->wp != NULL)
		wg_peer_remove(n->wg, p->wp);
	(void)mesh_gossip_set_reachable(n->g, p->node_id, false);
	peer_free(p);
}

static void peer_farewell(struct mesh_node *n, struct npeer *p)
{
	routes_uninstall_all(n, p);
	p->farewell = true;
	p->farewell_at = n->now + SEC(NODE_FAREWELL_S);
	(void)wg_peer_allowedip_remove(n->wg, p->wp, AF_INET6, p->ipv6, 128);
}

/* Addresses that are only reachable on their own network: RFC 1918,
 * CGNAT 100.64/10, link-local, ULA. */
static bool addr_private(const struct mesh_ep *ep)
{
	const uint8_t *a = ep->addr;

	if (ep->family == MESH_FAMILY_V4)
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		    (a[0] == 169 && a[1] == 254);
	return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

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
	if (addr_private(ep))
		return 3;
	return ep->family == MESH_FAMILY_V4 ? 1 : 2;
}

/* The address of an endpoint, in our family terms. */
static bool ep_addr(const union endpoint *ep, uint8_t *family, uint8_t addr[16])
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
static bool ep_to_mesh(const union endpoint *ep, uint8_t source, struct mesh_ep *out)
{
	union endpoint e = *ep;

	memset(out, 0, sizeof *out);
	endpoint_unmap(&e);
	if (!ep_addr(&e, &out->family, out->addr))
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

	if (!ep_addr(ep, &fam, addr))
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

/* DIRECT: WireGuard follows the chosen endpoint. NONE: WireGuard keeps what
 * it has (its own roaming may still find the peer). RELAY via R: WireGuard's
 * endpoint becomes synth(R, peer) (mesh/relay.h). */
static void path_changed(void *ctx, const struct mesh_path_choice *c)
{
	struct npeer *p = ctx;
	struct mesh_node *n = p->n;
	struct wg_peer_info info;
	char a[ENDPOINT_STRLEN];

	p->choice = *c;
	n->routes_dirty = true;	/* "covers a peer's working path" may change */
	n->relays_dirty = true;	/* relay candidates depend on direct paths */
	if (c->kind == MESH_PATH_RELAY) {
		struct npeer *r = peer_find(n, c->relay_id);
		union endpoint syn;

		log_info("mesh: member %s: relay via %s (%u ms)", p->name,
		    r != NULL ? r->name : "?", (unsigned)c->rtt_ms);
		if (p->wp == NULL || n->relay == NULL)
			return;
		mesh_relay_synth_make(n->relay, c->relay_id, p->node_id, n->now, &syn);
		wg_peer_get_info(p->wp, &info);
		if (!endpoint_eq(&info.endpoint, &syn))
			wg_peer_set_endpoint(p->wp, &syn);
		sodium_memzero(&info, sizeof info);
		/* Both ends start a handshake: the other may not know us yet
		 * (gossip), and a lost initiation costs REKEY_TIMEOUT. */
		wg_peer_initiate_now(n->wg, p->wp, n->now);
		return;
	}
	if (c->kind != MESH_PATH_DIRECT) {
		log_info("mesh: member %s: no direct path", p->name);
		return;
	}
	endpoint_format(&c->ep, a, sizeof a);
	log_info("mesh: member %s: direct path %s (%u ms)", p->name, a, (unsigned)c->rtt_ms);
	if (p->wp == NULL)
		return;
	wg_peer_get_info(p->wp, &info);
	if (!endpoint_eq(&info.endpoint, &c->ep))
		wg_peer_set_endpoint(p->wp, &c->ep);
	sodium_memzero(&info, sizeof info);
	/* A probe just came back on this path: if no session exists, the last
	 * initiation was likely lost (e.g. before the NAT had a hole), so start
	 * one now instead of waiting out WireGuard's 5 s retry. */
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
static void peer_key_init(struct mesh_node *n, struct npeer *p)
{
	mesh_probe_key_clear(&p->pkey);
	p->have_pkey = mesh_probe_key_init(&p->pkey, n->wg_pk, n->wg_sk, p->wg_pk) == 0;
	if (!p->have_pkey)
		log_warn("mesh: member %s: no probe key (bad WireGuard key)", p->name);
}

static int peer_path_init(struct mesh_node *n, struct npeer *p)
{
	struct mesh_path_cfg pc = {
		.probe = path_probe, .changed = path_changed, .rand = path_rand, .ctx = p,
	};
	int r;

	p->n = n;
	if ((p->path = mesh_path_new(&pc, &r)) == NULL)
		return r;
	(void)mesh_path_set_local(p->path, n->lpfx, n->nlpfx, n->now);
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
static void peer_set_candidates(struct mesh_node *n, struct npeer *p,
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
			if (ep_rank(n, &e->ep[i]) != rank || !mesh_ep_valid(&e->ep[i]))
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
		if (i == k && ep_to_mesh(&p->hint, MESH_EP_REFLEXIVE, &pc[k]))
			cand[k++] = p->hint;
	}
	changed = k != p->ncand || memcmp(pc, p->pcand, k * sizeof pc[0]) != 0;
	p->ncand = (uint8_t)k;
	memcpy(p->cand, cand, k * sizeof cand[0]);
	memcpy(p->pcand, pc, k * sizeof pc[0]);
	if (changed && p->path != NULL &&
	    (r = mesh_path_set_candidates(p->path, pc, k, n->now)) != 0)
		log_warn("mesh: member %s: path candidates: %s", p->name, meshd_strerror(r));
	if (p->wp == NULL || k == 0)
		return;
	(void)mesh_gossip_set_reachable(n->g, p->node_id, true);
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
		wg_peer_set_keepalive(n->wg, p->wp, MESH_NODE_KEEPALIVE_S, n->now);
		n->routes_dirty = true;
	}
	if (changed && p->choice.kind != MESH_PATH_DIRECT && !n->loading)
		peer_punch(n, p);	/* none or relayed: try direct at once */
}

/* MEMBER_ADDED / CHANGED for another node. */
static void peer_update(struct mesh_node *n, const struct mesh_cert *c)
{
	struct npeer *p = peer_find(n, c->node_id);
	struct mesh_endpoints e;
	int r;

	if (p == NULL) {
		if (n->npeers == n->cap) {
			size_t cap = n->cap ? 2 * n->cap : 16;
			struct npeer **np = realloc(n->peers, cap * sizeof *np);

			if (np == NULL)
				goto nomem;
			n->peers = np;
			n->cap = cap;
		}
		if ((p = calloc(1, sizeof *p)) == NULL)
			goto nomem;
		if (peer_path_init(n, p) != 0) {
			peer_free(p);
			p = NULL;
			goto nomem;
		}
		memcpy(p->node_id, c->node_id, MESH_NODE_ID_LEN);
		n->peers[n->npeers++] = p;
	}
	if (p->wp != NULL && memcmp(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		wg_peer_remove(n->wg, p->wp);	/* rekeyed: a new wg peer */
		p->wp = NULL;
	}
	snprintf(p->name, sizeof p->name, "%s", c->name);
	if (!p->have_pkey || memcmp(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		memcpy(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN);
		peer_key_init(n, p);
	}
	memcpy(p->ipv4, c->ipv4, 4);
	memcpy(p->ipv6, c->ipv6, 16);
	p->admin = (c->flags & MESH_CERT_F_ADMIN) != 0;
	if (p->wp == NULL) {
		r = wg_peer_add(n->wg, p->wg_pk, n->now, &p->wp);
		if (r == MESHD_E_EXIST && wg_peer_get_user(p->wp) != NULL) {
			log_warn("mesh: member %s shares a WireGuard key; ignored", c->name);
			p->wp = NULL;
			return;
		}
		if (r != 0 && r != MESHD_E_EXIST) {
			log_warn("mesh: member %s: wg peer: %s", c->name, meshd_strerror(r));
			p->wp = NULL;
			return;
		}
		wg_peer_set_user(p->wp, p);
	}
	wg_peer_allowedips_clear(n->wg, p->wp);
	if (wg_peer_allowedip_add(n->wg, p->wp, AF_INET, p->ipv4, 32) != 0 ||
	    wg_peer_allowedip_add(n->wg, p->wp, AF_INET6, p->ipv6, 128) != 0)
		log_warn("mesh: member %s: allowed IPs not set", c->name);
	routes_rewire(n, p);	/* routes_recompute() follows the event */
	peer_set_candidates(n, p, mesh_records_endpoints(n->recs, p->node_id, &e) == 0 ?
	    &e : NULL);
	return;
nomem:
	free(p);
	log_error("mesh: member %s: out of memory", c->name);
}

/* ---- subnet routes: the installed sets ---- */

struct want {
	struct npeer *p;
	uint8_t nw;
	struct mesh_prefix w[MESH_CERT_MAX_ROUTES];	/* approved and advertised */
	bool ok[MESH_CERT_MAX_ROUTES];			/* chosen for installing */
	const char *why[MESH_CERT_MAX_ROUTES];		/* refused: why */
};

static int want_name_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	return strcmp(x->p->name, y->p->name);
}

/* Why r may never be installed for any member, or NULL.
 *  - A route that covers one of our own underlay addresses: we are on that
 *    network, and the route would pull our own LAN (and our tunnel's
 *    packets) into the tunnel.
 *  - A route that covers the working underlay path of a peer (the path
 *    engine's DIRECT endpoint: probes came back from it): the tunnel would
 *    route into itself. Candidates that are merely being tried do not
 *    count (a gateway's own LAN address is always in its LAN route); they
 *    are skipped instead once such a route is installed (cand_blocked). */
static const char *route_refusal(const struct mesh_node *n, const struct mesh_prefix *r)
{
	uint8_t fam, addr[16];

	if (r->len == 0)
		return "default routes (exit nodes) are not supported";
	if (mesh_prefix_overlaps(r, &n->prefix4) || mesh_prefix_overlaps(r, &n->prefix6))
		return "overlaps the mesh overlay";
	for (unsigned i = 0; n->have_eps && i < n->eps.nep && i < MESH_ENDPOINTS_MAX; i++)
		if (n->eps.ep[i].source == MESH_EP_LOCAL &&
		    mesh_prefix_contains_addr(r, n->eps.ep[i].family, n->eps.ep[i].addr))
			return "covers this node's own underlay address (it is on that network)";
	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		if (p->wp == NULL || p->farewell || p->choice.kind != MESH_PATH_DIRECT)
			continue;
		if (ep_addr(&p->choice.ep, &fam, addr) && mesh_prefix_contains_addr(r, fam, addr))
			return "covers the working underlay path to a member";
	}
	return NULL;
}

/* The prefixes that are both approved (cert) and advertised (ROUTES). */
static void want_fill(const struct mesh_node *n, struct want *w)
{
	struct mesh_cert c;
	struct mesh_routes rt;

	w->nw = 0;
	if (w->p->wp == NULL || w->p->farewell ||
	    mesh_records_routes(n->recs, w->p->node_id, &rt) != 0 || rt.n == 0 ||
	    mesh_records_cert(n->recs, w->p->node_id, &c) != 0)
		return;
	for (unsigned i = 0; i < c.nroutes && i < MESH_CERT_MAX_ROUTES; i++) {
		if (!prefix_in(&c.routes[i], rt.r, rt.n))
			continue;
		w->w[w->nw] = c.routes[i];
		w->why[w->nw] = route_refusal(n, &c.routes[i]);
		w->ok[w->nw] = false;
		w->nw++;
	}
}

/* True when r overlaps a prefix already chosen for a member other than
 * v[self]. */
static bool route_taken(const struct want *v, size_t nv, size_t self,
    const struct mesh_prefix *r)
{
	for (size_t i = 0; i < nv; i++)
		for (unsigned j = 0; i != self && j < v[i].nw; j++)
			if (v[i].ok[j] && mesh_prefix_overlaps(&v[i].w[j], r))
				return true;
	return false;
}

/* One pass choosing the wanted prefixes that are (installed == true) or are
 * not (false) installed now; the first pass lets installed routes keep
 * their place (first come keeps it). */
static void want_choose(struct want *v, size_t nv, bool installed)
{
	for (size_t i = 0; i < nv; i++) {
		for (unsigned j = 0; j < v[i].nw; j++) {
			if (v[i].why[j] != NULL || v[i].ok[j] ||
			    prefix_in(&v[i].w[j], v[i].p->inst, v[i].p->ninst) != installed)
				continue;
			if (route_taken(v, nv, i, &v[i].w[j]))
				v[i].why[j] = "overlaps a route installed for another member";
			else
				v[i].ok[j] = true;
		}
	}
}

/* Logs the refusals of w that were not refused last time, and remembers
 * them. */
static void want_log(struct want *w)
{
	struct npeer *p = w->p;
	struct mesh_prefix old[MESH_CERT_MAX_ROUTES];
	uint8_t nold = p->nrefused;
	char a[MESH_PREFIX_STRLEN];

	memcpy(old, p->refused, sizeof old);
	p->nrefused = 0;
	for (unsigned j = 0; j < w->nw; j++) {
		if (w->ok[j])
			continue;
		p->refused[p->nrefused++] = w->w[j];
		if (prefix_in(&w->w[j], old, nold))
			continue;
		(void)mesh_prefix_format(&w->w[j], a, sizeof a);
		log_warn("mesh: member %s: route %s not installed: %s", p->name, a,
		    w->why[j] != NULL ? w->why[j] : "refused");
	}
}

/* After the installed routes changed: every peer's candidates again (those
 * inside an installed route are left out). */
static void cands_refresh(struct mesh_node *n)
{
	struct mesh_endpoints e;

	if (!n->cands_dirty)
		return;
	n->cands_dirty = false;
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell)
			peer_set_candidates(n, n->peers[i],
			    mesh_records_endpoints(n->recs, n->peers[i]->node_id, &e) == 0 ?
			    &e : NULL);
}

/* Brings every member's installed routes in line with its approved and
 * advertised ones (mesh/node.h "subnet routes"): removals first, so that a
 * prefix moving between members is never held twice. */
static void routes_recompute(struct mesh_node *n)
{
	struct want *v;
	size_t nv = n->npeers;

	if (n->loading)
		return;
	n->routes_dirty = false;
	if (nv == 0)
		return;
	if ((v = calloc(nv, sizeof *v)) == NULL) {
		log_error("mesh: routes: out of memory");
		return;
	}
	for (size_t i = 0; i < nv; i++) {
		v[i].p = n->peers[i];
		want_fill(n, &v[i]);
	}
	qsort(v, nv, sizeof *v, want_name_cmp);
	want_choose(v, nv, true);
	want_choose(v, nv, false);
	for (size_t i = 0; i < nv; i++) {
		struct npeer *p = v[i].p;

		for (unsigned j = p->ninst; j-- > 0; ) {
			bool keep = false;

			for (unsigned k = 0; k < v[i].nw && !keep; k++)
				keep = v[i].ok[k] && mesh_prefix_cmp(&v[i].w[k], &p->inst[j]) == 0;
			if (!keep)
				route_uninstall(n, p, j);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		for (unsigned k = 0; k < v[i].nw; k++)
			if (v[i].ok[k] && !prefix_in(&v[i].w[k], v[i].p->inst, v[i].p->ninst))
				route_install(n, v[i].p, &v[i].w[k]);
		want_log(&v[i]);
	}
	free(v);
	cands_refresh(n);
}

/* ---- records events -> store and wg ---- */

static void store_cert(struct mesh_node *n, const struct mesh_cert *c)
{
	struct store_member m;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (n->loading || mesh_records_get(n->recs, MESH_REC_CERT, c->node_id, &bytes, &len) != 0)
		return;
	if ((r = member_from_cert(&m, c, bytes, len, n->now_unix)) == 0)
		r = store_member_upsert(n->st, &m);
	if (r != 0)
		log_warn("mesh: storing member %s: %s", c->name, meshd_strerror(r));
}

static void store_revoke_bytes(struct mesh_node *n, const uint8_t *bytes, size_t len)
{
	struct store_revocation rv;
	struct mesh_revoke d;
	int r;

	if (mesh_revoke_decode(bytes, len, &d) != 0 || len > sizeof rv.record ||
	    d.revoked_at > INT64_MAX)
		return;
	memset(&rv, 0, sizeof rv);
	memcpy(rv.node_id, d.node_id, MESH_NODE_ID_LEN);
	rv.revoked_at = (int64_t)d.revoked_at;
	rv.record_len = len;
	memcpy(rv.record, bytes, len);
	r = store_revocation_put(n->st, &rv);
	if (r != 0 && r != MESHD_E_EXIST)
		log_warn("mesh: storing a revocation: %s", meshd_strerror(r));
	r = store_member_delete(n->st, d.node_id);
	if (r != 0 && r != MESHD_E_NOENT)
		log_warn("mesh: deleting a revoked member: %s", meshd_strerror(r));
}

static void store_endpoints(struct mesh_node *n, const struct mesh_endpoints *e)
{
	struct store_endpoint_record rec;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (n->loading || e->seq > INT64_MAX ||
	    mesh_records_get(n->recs, MESH_REC_ENDPOINTS, e->node_id, &bytes, &len) != 0 ||
	    len > sizeof rec.record)
		return;
	memset(&rec, 0, sizeof rec);
	memcpy(rec.node_id, e->node_id, MESH_NODE_ID_LEN);
	rec.version = e->seq;
	rec.updated_at = (int64_t)n->now_unix;
	rec.record_len = len;
	memcpy(rec.record, bytes, len);
	r = store_endpoint_record_put(n->st, &rec);
	if (r != 0 && r != MESHD_E_EXIST)
		log_warn("mesh: storing an endpoint record: %s", meshd_strerror(r));
}

static void store_routes(struct mesh_node *n, const struct mesh_routes *rt)
{
	struct store_route_record rec;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (n->loading || rt->seq > INT64_MAX ||
	    mesh_records_get(n->recs, MESH_REC_ROUTES, rt->node_id, &bytes, &len) != 0 ||
	    len > sizeof rec.record)
		return;
	memset(&rec, 0, sizeof rec);
	memcpy(rec.node_id, rt->node_id, MESH_NODE_ID_LEN);
	rec.version = rt->seq;
	rec.updated_at = (int64_t)n->now_unix;
	rec.record_len = len;
	memcpy(rec.record, bytes, len);
	r = store_route_record_put(n->st, &rec);
	if (r != 0 && r != MESHD_E_EXIST)
		log_warn("mesh: storing a routes record: %s", meshd_strerror(r));
}

static void on_removed(struct mesh_node *n, const struct mesh_rec_event *ev)
{
	struct npeer *p;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (id_eq(ev->node_id, n->node_id)) {
		if (ev->gone == MESH_GONE_REVOKED)
			n->revoked = true;
	} else if ((p = peer_find(n, ev->node_id)) != NULL) {
		if (ev->gone == MESH_GONE_REVOKED && p->wp != NULL && !n->loading)
			peer_farewell(n, p);
		else
			peer_drop(n, p);
	}
	if (n->loading)
		return;
	if (ev->gone == MESH_GONE_REVOKED &&
	    mesh_records_get(n->recs, MESH_REC_REVOKE, ev->node_id, &bytes, &len) == 0) {
		store_revoke_bytes(n, bytes, len);
	} else if (ev->gone == MESH_GONE_EXPIRED && !id_eq(ev->node_id, n->node_id)) {
		r = store_member_delete(n->st, ev->node_id);
		if (r != 0 && r != MESHD_E_NOENT)
			log_warn("mesh: deleting an expired member: %s", meshd_strerror(r));
	}
}

static void on_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct mesh_node *n = ctx;
	bool self = id_eq(ev->node_id, n->node_id);
	struct npeer *p;

	n->relays_dirty = true;	/* offers and members may have changed */
	switch (ev->type) {
	case MESH_EV_MEMBER_ADDED:
	case MESH_EV_MEMBER_CHANGED:
		store_cert(n, ev->cert);
		if (self)
			n->self = *ev->cert;
		else
			peer_update(n, ev->cert);
		break;
	case MESH_EV_MEMBER_REMOVED:
		on_removed(n, ev);
		break;
	case MESH_EV_ENDPOINTS_CHANGED:
		if (ev->endpoints != NULL)
			store_endpoints(n, ev->endpoints);
		if (self) {
			n->have_eps = ev->endpoints != NULL;
			if (n->have_eps) {
				n->eps = *ev->endpoints;
				if (n->eps.seq > n->ep_seq)
					n->ep_seq = n->eps.seq;
			}
		} else if ((p = peer_find(n, ev->node_id)) != NULL) {
			peer_set_candidates(n, p, ev->endpoints);
		}
		break;
	case MESH_EV_ROUTES_CHANGED:
		if (ev->routes != NULL)
			store_routes(n, ev->routes);
		if (self) {
			n->have_rt = ev->routes != NULL;
			if (n->have_rt) {
				n->rt = *ev->routes;
				if (n->rt.seq > n->rt_seq)
					n->rt_seq = n->rt.seq;
			}
		}
		break;
	}
	/* our own routes are never installed here: we are their gateway */
	if (!self || ev->type == MESH_EV_MEMBER_REMOVED)
		routes_recompute(n);
}

static int sweep_one(void *ctx, enum mesh_rec_kind kind, const uint8_t *id,
    const uint8_t *bytes, size_t len)
{
	(void)kind;
	(void)id;
	store_revoke_bytes(ctx, bytes, len);
	return 0;
}

/* Revocations of nodes that were never members raise no event: store every
 * held one when the count moved (store_revocation_put keeps the first). */
static void sweep_revocations(struct mesh_node *n)
{
	size_t c = mesh_records_count(n->recs, MESH_REC_REVOKE);

	if (c == n->revokes_stored || n->loading)
		return;
	(void)mesh_records_foreach(n->recs, MESH_REC_REVOKE, sweep_one, n);
	n->revokes_stored = c;
}

static void enter(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	n->now = now;
	n->now_unix = now_unix;
}

/* ---- gossip transport ---- */

static void gossip_send(void *ctx, const uint8_t *id, const uint8_t *bytes, size_t len)
{
	struct mesh_node *n = ctx;
	struct npeer *p = peer_find(n, id);

	if (p != NULL && n->ops.send_gossip != NULL)
		n->ops.send_gossip(n->ctx, p->ipv4, bytes, len);
}

/* ---- inviter ops, backed by the store ---- */

static int inv_lookup(void *ctx, const uint8_t *id, struct mesh_join_invite *out)
{
	struct mesh_node *n = ctx;
	struct store_invite si;
	int r;

	if ((r = store_invite_get(n->st, id, &si)) != 0)
		return r;
	memcpy(out->pk, si.invite_pk, MESH_PK_LEN);
	out->expires_at = si.expires_at < 0 ? 0 : (uint64_t)si.expires_at;
	out->uses_left = si.uses_left;
	return 0;
}

/* An overlay address is taken when a member we know holds it. The store's
 * unique columns are the last word (upsert answers EXIST). */
static bool addr_taken(const struct mesh_node *n, const uint8_t *a4, const uint8_t *a6)
{
	if (memcmp(n->self.ipv4, a4, 4) == 0 || memcmp(n->self.ipv6, a6, 16) == 0)
		return true;
	for (size_t i = 0; i < n->npeers; i++)
		if (memcmp(n->peers[i]->ipv4, a4, 4) == 0 ||
		    memcmp(n->peers[i]->ipv6, a6, 16) == 0)
			return true;
	return false;
}

/* Fills in the new member's addresses, signs the cert and inserts the row,
 * retrying the allocation while an address is taken. */
static int admit_insert(struct mesh_node *n, struct mesh_cert *c)
{
	struct store_member m;
	uint8_t a4[16], a6[16], buf[MESH_CERT_MAX_LEN];
	size_t len;
	int r = MESHD_E_FULL;

	for (uint32_t at = 0; at < MESH_NODE_ADDR_ATTEMPTS; at++) {
		if ((r = mesh_identity_addr_for(&n->prefix4, c->node_id, at, a4)) != 0 ||
		    (r = mesh_identity_addr_for(&n->prefix6, c->node_id, at, a6)) != 0)
			return r;
		r = MESHD_E_EXIST;
		if (addr_taken(n, a4, a6))
			continue;
		memcpy(c->ipv4, a4, 4);
		memcpy(c->ipv6, a6, 16);
		if ((r = mesh_cert_sign(c, n->authority_sk)) != 0 ||
		    (r = cert_to_bytes(c, buf, sizeof buf, &len)) != 0 ||
		    (r = member_from_cert(&m, c, buf, len, n->now_unix)) != 0)
			return r;
		r = store_member_upsert(n->st, &m);
		if (r != MESHD_E_EXIST)
			return r;
	}
	return r;
}

static int inv_admit(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg_pk,
    const uint8_t *sign_pk, uint64_t now_unix, struct mesh_cert *cert)
{
	struct mesh_node *n = ctx;
	struct store_member m;
	struct mesh_cert c;
	int r;

	if (now_unix > INT64_MAX - (uint64_t)MESH_NODE_CERT_DAYS * 86400)
		return MESHD_E_RANGE;
	if ((r = store_tx_begin(n->st)) != 0)
		return r;
	r = store_invite_consume(n->st, id, (int64_t)now_unix, NULL);
	if (r == MESHD_E_NOENT)
		r = MESH_JOIN_R_UNKNOWN_INVITE;
	else if (r == MESHD_E_PERM)
		r = MESH_JOIN_R_USED_UP;
	else if (r == MESHD_E_EXPIRED)
		r = MESH_JOIN_R_EXPIRED;
	if (r != 0)
		goto fail;
	r = store_member_get_by_name(n->st, name, &m);
	if (r == 0) {
		r = MESH_JOIN_R_NAME_TAKEN;
		goto fail;
	}
	if (r != MESHD_E_NOENT)
		goto fail;
	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	memcpy(c.mesh_id, n->mesh_id, MESH_ID_LEN);
	mesh_identity_node_id_new(c.node_id);
	snprintf(c.name, sizeof c.name, "%s", name);
	memcpy(c.wg_pubkey, wg_pk, MESH_WG_KEY_LEN);
	memcpy(c.sign_pk, sign_pk, MESH_PK_LEN);
	c.issued_at = now_unix;
	c.expires_at = now_unix + (uint64_t)MESH_NODE_CERT_DAYS * 86400;
	if ((r = admit_insert(n, &c)) != 0)
		goto fail;
	if ((r = store_tx_commit(n->st)) != 0)
		return r;	/* rolled back by the store */
	*cert = c;
	n->admitted_cert = c;
	n->admitted = true;
	return 0;
fail:
	(void)store_tx_rollback(n->st);
	return r;
}

struct roster_walk {
	struct mesh_node *n;
	struct mesh_join_resp *resp;
};

static int roster_one(void *ctx, enum mesh_rec_kind kind, const uint8_t *id,
    const uint8_t *bytes, size_t len)
{
	struct roster_walk *w = ctx;

	if (id_eq(id, w->n->node_id))
		return 0;	/* ours went first */
	return mesh_join_resp_add_record(w->resp, kind, bytes, len) == MESHD_E_FULL ?
	    MESHD_E_FULL : 0;
}

static int inv_roster(void *ctx, struct mesh_join_resp *resp)
{
	struct mesh_node *n = ctx;
	static const int kinds[] = { MESH_REC_CERT, MESH_REC_REVOKE, MESH_REC_ENDPOINTS };
	struct roster_walk w = { n, resp };
	const uint8_t *bytes;
	size_t len;
	int r = 0;

	for (unsigned i = 0; n->have_eps && i < n->eps.nep; i++)
		if (mesh_join_resp_add_endpoint(resp, &n->eps.ep[i]) == MESHD_E_FULL)
			break;
	if (mesh_records_get(n->recs, MESH_REC_CERT, n->node_id, &bytes, &len) == 0)
		(void)mesh_join_resp_add_record(resp, MESH_REC_CERT, bytes, len);
	if (mesh_records_get(n->recs, MESH_REC_ENDPOINTS, n->node_id, &bytes, &len) == 0)
		(void)mesh_join_resp_add_record(resp, MESH_REC_ENDPOINTS, bytes, len);
	for (unsigned k = 0; k < 3 && r == 0; k++)
		r = mesh_records_foreach(n->recs, kinds[k], roster_one, &w);
	return 0;
}

/* The cert admit() just stored: merge and gossip it, and point wg at the
 * joiner's request source so it is reachable before its endpoint record. */
static void publish_admitted(struct mesh_node *n, const union endpoint *src)
{
	struct mesh_endpoints e;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	struct npeer *p;
	int r;

	n->admitted = false;
	if ((r = cert_to_bytes(&n->admitted_cert, buf, sizeof buf, &len)) != 0 ||
	    (r = mesh_gossip_publish(n->g, MESH_REC_CERT, buf, len, n->now, n->now_unix)) < 0) {
		log_warn("mesh: publishing member %s: %s", n->admitted_cert.name,
		    meshd_strerror(r));
		return;
	}
	if ((p = peer_find(n, n->admitted_cert.node_id)) == NULL || src == NULL ||
	    !endpoint_is_set(src))
		return;
	p->hint = *src;
	endpoint_unmap(&p->hint);
	peer_set_candidates(n, p, mesh_records_endpoints(n->recs, p->node_id, &e) == 0 ? &e : NULL);
	routes_recompute(n);	/* its endpoint may have changed */
}

/* ---- our endpoint record ---- */

static int sign_endpoints(struct mesh_node *n, const struct mesh_ep *eps, uint8_t nep)
{
	struct mesh_endpoints e;
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	struct wr w;
	uint64_t seq;
	int r;

	memset(&e, 0, sizeof e);
	e.version = MESH_ENDPOINTS_VERSION;
	memcpy(e.mesh_id, n->mesh_id, MESH_ID_LEN);
	memcpy(e.node_id, n->node_id, MESH_NODE_ID_LEN);
	seq = n->now_unix * 1000;
	if (seq <= n->ep_seq)
		seq = n->ep_seq + 1;
	e.seq = seq;
	e.timestamp = n->now_unix;
	e.nep = nep;
	memcpy(e.ep, eps, nep * sizeof eps[0]);
	wr_init(&w, buf, sizeof buf);
	if ((r = mesh_endpoints_sign(&e, n->sign_sk)) != 0 ||
	    (r = mesh_endpoints_encode(&e, &w)) != 0)
		return r;
	n->ep_seq = seq;
	r = mesh_gossip_publish(n->g, MESH_REC_ENDPOINTS, buf, w.off, n->now, n->now_unix);
	if (r < 0)
		return r;
	if (r != MESH_MERGE_NEW)
		return MESHD_E_STATE;
	n->resign_at = n->now + SEC(MESH_NODE_RESIGN_S);
	return 0;
}

/* ---- probes (mesh/probe.h) and reflexive endpoints ---- */

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

/* True the first time txid is seen (among the last NODE_ACK_SEEN). */
static bool ack_fresh(struct npeer *p, uint64_t txid)
{
	for (unsigned i = 0; i < NODE_ACK_SEEN; i++)
		if (p->ack_seen[i] == txid)
			return false;
	p->ack_seen[p->ack_seen_pos] = txid;
	p->ack_seen_pos = (p->ack_seen_pos + 1) % NODE_ACK_SEEN;
	return true;
}

static bool ep_same(const struct mesh_ep *a, const struct mesh_ep *b)
{
	size_t alen = a->family == MESH_FAMILY_V4 ? 4 : 16;

	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, alen) == 0;
}

static bool ep_is_local(const struct mesh_node *n, const struct mesh_ep *ep)
{
	for (unsigned i = 0; i < n->nlocal; i++)
		if (n->local[i].source == MESH_EP_LOCAL && ep_same(&n->local[i], ep))
			return true;
	return false;
}

/* Order in which endpoints get into our record when there are more than
 * MESH_ENDPOINTS_MAX: port-mapped, reflexive, public local, private local
 * (the last are reachable from their own network only). */
static int ep_keep_rank(const struct mesh_ep *ep)
{
	if (ep->source == MESH_EP_PORTMAP)
		return 0;
	if (ep->source == MESH_EP_REFLEXIVE)
		return 1;
	return addr_private(ep) ? 3 : 2;
}

/* Our endpoint set: the daemon's endpoints merged with the reflexive ones
 * (those equal to a LOCAL one left out), cut to MESH_ENDPOINTS_MAX in the
 * ep_keep_rank() order. */
static void endpoints_merge(const struct mesh_node *n, struct mesh_endpoints *e)
{
	struct mesh_ep all[MESH_ENDPOINTS_MAX + NODE_REFL_MAX];
	size_t na = 0;

	for (unsigned i = 0; i < n->nlocal; i++)
		all[na++] = n->local[i];
	for (unsigned i = 0; i < n->nrefl; i++)
		if (!ep_is_local(n, &n->refl[i].ep))
			all[na++] = n->refl[i].ep;
	memset(e, 0, sizeof *e);
	for (int rank = 0; rank <= 3; rank++)
		for (size_t i = 0; i < na && e->nep < MESH_ENDPOINTS_MAX; i++)
			if (ep_keep_rank(&all[i]) == rank)
				e->ep[e->nep++] = all[i];
	mesh_endpoints_normalize(e);
}

/* Signs, stores and gossips our record when the merged set differs from
 * the current one. */
static int endpoints_publish(struct mesh_node *n)
{
	struct mesh_endpoints e;

	endpoints_merge(n, &e);
	if (n->have_eps && n->eps.nep == e.nep &&
	    memcmp(n->eps.ep, e.ep, e.nep * sizeof e.ep[0]) == 0)
		return 0;
	return sign_endpoints(n, e.ep, e.nep);
}

/* A member's ACK says it saw our probe come from observed. */
static void refl_note(struct mesh_node *n, const union endpoint *observed)
{
	struct mesh_ep ep;
	unsigned i, same = 0, oldest = NODE_REFL_MAX;
	int r;

	if (!ep_to_mesh(observed, MESH_EP_REFLEXIVE, &ep) || ep_is_local(n, &ep))
		return;
	for (i = 0; i < n->nrefl; i++) {
		if (ep_same(&n->refl[i].ep, &ep)) {
			n->refl[i].seen = n->now;
			return;
		}
		if (n->refl[i].ep.family != ep.family)
			continue;
		same++;
		if (oldest == NODE_REFL_MAX || n->refl[i].seen < n->refl[oldest].seen)
			oldest = i;
	}
	/* a full family gives way only to stale entries: behind a symmetric
	 * NAT every member sees another port, and the record must not churn */
	if (same >= NODE_REFL_PER_FAM && n->now - n->refl[oldest].seen < SEC(NODE_REFL_TTL_S / 2))
		return;
	if (same >= NODE_REFL_PER_FAM)
		i = oldest;
	else if (n->nrefl < NODE_REFL_MAX)
		i = n->nrefl++;
	else
		return;
	n->refl[i].ep = ep;
	n->refl[i].seen = n->now;
	if (!n->revoked && (r = endpoints_publish(n)) != 0)
		log_warn("mesh: publishing a reflexive endpoint: %s", meshd_strerror(r));
}

/* Reflexive endpoints not reported for NODE_REFL_TTL_S go. */
static void refl_expire(struct mesh_node *n)
{
	bool gone = false;
	int r;

	for (unsigned i = 0; i < n->nrefl; ) {
		if (n->now - n->refl[i].seen >= SEC(NODE_REFL_TTL_S)) {
			n->refl[i] = n->refl[--n->nrefl];
			gone = true;
		} else {
			i++;
		}
	}
	if (gone && !n->revoked && (r = endpoints_publish(n)) != 0)
		log_warn("mesh: publishing our endpoints: %s", meshd_strerror(r));
}

/* PROBE from a member: answered to its source (which the ACK reports);
 * PROBE_ACK: to the peer's path engine, and its observed address is one of
 * our reflexive candidates. Non-members and anything that does not open:
 * dropped. */
static void probe_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
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
		if (mesh_path_input_ack(np->path, m.txid, src, n->now) == 0)
			refl_note(n, &m.observed);
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
	/* The peer is probing us and we have no direct path to it: its NAT
	 * has just opened a hole towards us, so a probe round from our side
	 * now is likely to get through (instead of the next round in 5 s). */
	if (np->choice.kind != MESH_PATH_DIRECT &&
	    (np->punch_rx_at == 0 || n->now - np->punch_rx_at >= MSEC(NODE_PUNCH_GAP_MS))) {
		np->punch_rx_at = n->now;
		mesh_path_punch(np->path, n->now);
	}
}

/* ---- PUNCH (in-tunnel, node level) ---- */

/* PUNCH = 'P' | target id | origin id, from member `from`. For us: punch
 * the origin at once (sent by the origin itself or by a forwarder). For
 * another member: forwarded once, and only when `from` is the origin. */
static void punch_input(struct mesh_node *n, struct npeer *from, const uint8_t *m, size_t len)
{
	const uint8_t *target = m + 1, *origin = m + 1 + MESH_NODE_ID_LEN;
	struct npeer *o, *t;

	if (len != NODE_PUNCH_LEN || (o = peer_find(n, origin)) == NULL || o->farewell)
		return;
	if (o->punch_rx_at != 0 && n->now - o->punch_rx_at < MSEC(NODE_PUNCH_GAP_MS))
		return;
	if (id_eq(target, n->node_id)) {
		o->punch_rx_at = n->now;
		if (o->path != NULL)
			mesh_path_punch(o->path, n->now);
		return;
	}
	if (o != from || (t = peer_find(n, target)) == NULL || t == from || t->farewell ||
	    t->wp == NULL || n->ops.send_gossip == NULL)
		return;
	o->punch_rx_at = n->now;
	n->ops.send_gossip(n->ctx, t->ipv4, m, len);
}

int mesh_node_set_endpoints(struct mesh_node *n, const struct mesh_ep *eps, size_t count,
    mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	n->nlocal = 0;
	for (size_t i = 0; i < count && n->nlocal < MESH_ENDPOINTS_MAX; i++)
		if (mesh_ep_valid(&eps[i]) && eps[i].source != MESH_EP_REFLEXIVE)
			n->local[n->nlocal++] = eps[i];
	return endpoints_publish(n);
}

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

void mesh_node_network_changed(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	enter(n, now, now_unix);
	n->nrefl = 0;	/* learnt again from the next answers; the rescan republishes */
	for (size_t i = 0; i < n->npeers; i++)
		peer_punch(n, n->peers[i]);
}

/* ---- entry points: underlay and in-tunnel input ---- */

static void relay_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len);

void mesh_node_input_underlay(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	size_t rlen = sizeof reply;

	if (!n->revoked && len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC &&
	    (p[1] == MESH_MSG_PROBE || p[1] == MESH_MSG_PROBE_ACK)) {
		enter(n, now, now_unix);
		probe_input(n, src, p, len);
		return;
	}
	if (!n->revoked && len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC &&
	    (p[1] == MESH_MSG_RELAY || p[1] == MESH_MSG_RELAYED)) {
		enter(n, now, now_unix);
		relay_input(n, src, p, len);
		return;
	}
	if (n->inv == NULL || n->revoked || len < MESH_MSG_HDR_LEN ||
	    p[0] != MESH_MSG_MAGIC || p[1] != MESH_MSG_JOIN_REQ)
		return;
	enter(n, now, now_unix);
	n->admitted = false;
	if (mesh_join_inviter_handle(n->inv, src, p, len, now, now_unix, reply, &rlen) != 0)
		rlen = 0;
	if (rlen > 0 && src != NULL && n->ops.send_underlay != NULL)
		n->ops.send_underlay(n->ctx, src, reply, rlen);
	if (n->admitted)
		publish_admitted(n, src);
	sodium_memzero(reply, sizeof reply);
}

void mesh_node_input_gossip(struct mesh_node *n, struct wg_peer *peer, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	struct npeer *np;
	uint8_t id[MESH_NODE_ID_LEN];

	if (peer == NULL || (np = wg_peer_get_user(peer)) == NULL || np->wp != peer)
		return;
	enter(n, now, now_unix);
	memcpy(id, np->node_id, sizeof id);	/* np may go during the input */
	/* it just reached us through the tunnel: it can carry gossip */
	(void)mesh_gossip_set_reachable(n->g, id, true);
	if (len > 0 && p[0] == NODE_MSG_PUNCH) {
		punch_input(n, np, p, len);
		return;
	}
	(void)mesh_gossip_input(n->g, id, p, len, now, now_unix);
	sweep_revocations(n);
}

/* ---- subnet routes: our advertisement, approvals ---- */

int mesh_node_set_advertised(struct mesh_node *n, const struct mesh_prefix *r, size_t count,
    mtime_ns now, uint64_t now_unix, char *err, size_t errlen)
{
	struct mesh_routes rt;
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct wr w;
	uint64_t seq;
	int e;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (count > 0 && r == NULL)
		return MESHD_E_INVAL;
	if ((e = mesh_routes_check_advert(r, count, &n->prefix4, &n->prefix6, err, errlen)) != 0)
		return e;
	enter(n, now, now_unix);
	memset(&rt, 0, sizeof rt);
	rt.version = MESH_ROUTES_VERSION;
	memcpy(rt.mesh_id, n->mesh_id, MESH_ID_LEN);
	memcpy(rt.node_id, n->node_id, MESH_NODE_ID_LEN);
	rt.n = (uint8_t)count;
	if (count > 0)
		memcpy(rt.r, r, count * sizeof r[0]);
	mesh_routes_normalize(&rt);
	if (n->have_rt ? (n->rt.n == rt.n && memcmp(n->rt.r, rt.r, rt.n * sizeof rt.r[0]) == 0) :
	    rt.n == 0)
		return 0;
	seq = now_unix * 1000;
	if (seq <= n->rt_seq)
		seq = n->rt_seq + 1;
	rt.seq = seq;
	rt.timestamp = now_unix;
	wr_init(&w, buf, sizeof buf);
	if ((e = mesh_routes_sign(&rt, n->sign_sk)) != 0 ||
	    (e = mesh_routes_encode(&rt, &w)) != 0)
		goto fail;
	n->rt_seq = seq;
	e = mesh_gossip_publish(n->g, MESH_REC_ROUTES, buf, w.off, now, now_unix);
	if (e >= 0 && e != MESH_MERGE_NEW)
		e = MESHD_E_STATE;
	if (e < 0)
		goto fail;
	return 0;
fail:
	set_err(err, errlen, "signing our routes: %s", meshd_strerror(e));
	return e;
}

/* The cert of the member called name (us included): 0 or MESHD_E_NOENT. */
static int member_cert_by_name(const struct mesh_node *n, const char *name,
    struct mesh_cert *out)
{
	if (strcmp(name, n->name) == 0)
		return mesh_records_cert(n->recs, n->node_id, out);
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && strcmp(n->peers[i]->name, name) == 0)
			return mesh_records_cert(n->recs, n->peers[i]->node_id, out);
	return MESHD_E_NOENT;
}

/* MESHD_E_INVAL with err set when r overlaps a prefix approved for a member
 * other than node id except. */
static int approved_elsewhere(const struct mesh_node *n, const struct mesh_prefix *r,
    const uint8_t *except, char *err, size_t errlen)
{
	char a[MESH_PREFIX_STRLEN], b[MESH_PREFIX_STRLEN];
	struct mesh_cert c;
	size_t i;

	for (i = 0; i <= n->npeers; i++) {
		const uint8_t *id = i < n->npeers ? n->peers[i]->node_id : n->node_id;

		if (id_eq(id, except) || (i < n->npeers && n->peers[i]->farewell) ||
		    mesh_records_cert(n->recs, id, &c) != 0)
			continue;
		for (unsigned k = 0; k < c.nroutes && k < MESH_CERT_MAX_ROUTES; k++) {
			if (!mesh_prefix_overlaps(r, &c.routes[k]))
				continue;
			(void)mesh_prefix_format(r, a, sizeof a);
			(void)mesh_prefix_format(&c.routes[k], b, sizeof b);
			set_errf(err, errlen, "route %s overlaps %s, approved for member %s", a, b,
			    c.name);
			return MESHD_E_INVAL;
		}
	}
	return 0;
}

int mesh_node_route_set(struct mesh_node *n, const char *name, const struct mesh_prefix *r,
    bool approve, mtime_ns now, uint64_t now_unix, char *err, size_t errlen)
{
	char a[MESH_PREFIX_STRLEN], b[MESH_PREFIX_STRLEN];
	struct mesh_routes tmp;
	struct mesh_cert c;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	unsigned k;
	int e;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!n->admin)
		return MESHD_E_PERM;
	if (name == NULL || r == NULL)
		return MESHD_E_INVAL;
	if (mesh_prefix_format(r, a, sizeof a) != 0) {
		set_err(err, errlen, "%s", "invalid route prefix");
		return MESHD_E_INVAL;
	}
	if (member_cert_by_name(n, name, &c) != 0) {
		set_err(err, errlen, "no member called '%s'", name);
		return MESHD_E_NOENT;
	}
	for (k = 0; k < c.nroutes && mesh_prefix_cmp(&c.routes[k], r) != 0; k++)
		;
	if (!approve) {
		if (k == c.nroutes) {
			set_errf(err, errlen, "route %s is not approved for %s", a, name);
			return MESHD_E_NOENT;
		}
		c.routes[k] = c.routes[--c.nroutes];
		memset(&c.routes[c.nroutes], 0, sizeof c.routes[0]);
	} else {
		if (k < c.nroutes) {
			set_errf(err, errlen, "route %s is already approved for %s", a, name);
			return MESHD_E_EXIST;
		}
		if (r->len == 0) {
			set_errf(err, errlen, "invalid route %s: default routes (exit nodes) are "
			    "not supported", a);
			return MESHD_E_INVAL;
		}
		if (mesh_prefix_overlaps(r, &n->prefix4) || mesh_prefix_overlaps(r, &n->prefix6)) {
			(void)mesh_prefix_format(r->family == MESH_FAMILY_V4 ? &n->prefix4 :
			    &n->prefix6, b, sizeof b);
			set_errf(err, errlen, "invalid route %s: overlaps the mesh overlay prefix %s",
			    a, b);
			return MESHD_E_INVAL;
		}
		if ((e = approved_elsewhere(n, r, c.node_id, err, errlen)) != 0)
			return e;
		if (c.nroutes >= MESH_CERT_MAX_ROUTES) {
			set_err(err, errlen, "%s already has the maximum of 16 approved routes",
			    name);
			return MESHD_E_FULL;
		}
		c.routes[c.nroutes++] = *r;
	}
	/* canonical order, as in ROUTES records */
	memset(&tmp, 0, sizeof tmp);
	tmp.n = c.nroutes;
	memcpy(tmp.r, c.routes, sizeof tmp.r);
	mesh_routes_normalize(&tmp);
	memcpy(c.routes, tmp.r, sizeof c.routes);
	enter(n, now, now_unix);
	if (now_unix > INT64_MAX - (uint64_t)MESH_NODE_CERT_DAYS * 86400)
		return MESHD_E_RANGE;
	c.issued_at = now_unix > c.issued_at ? now_unix : c.issued_at + 1;
	c.expires_at = now_unix + (uint64_t)MESH_NODE_CERT_DAYS * 86400;
	if (c.expires_at <= c.issued_at)
		c.expires_at = c.issued_at + 1;
	if ((e = mesh_cert_sign(&c, n->authority_sk)) != 0 ||
	    (e = cert_to_bytes(&c, buf, sizeof buf, &len)) != 0)
		goto fail;
	e = mesh_gossip_publish(n->g, MESH_REC_CERT, buf, len, now, now_unix);
	if (e >= 0 && e != MESH_MERGE_NEW)
		e = MESHD_E_STATE;
	if (e < 0)
		goto fail;
	return 0;
fail:
	set_err(err, errlen, "re-issuing the certificate: %s", meshd_strerror(e));
	return e;
}

/* ---- revocation ---- */

static int revoke_make(const struct store_mesh *mesh, const uint8_t *id, uint64_t now_unix,
    struct store_revocation *out)
{
	struct mesh_revoke rv;
	struct wr w;
	int r;

	if (now_unix > INT64_MAX)
		return MESHD_E_RANGE;
	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	memcpy(rv.mesh_id, mesh->mesh_id, MESH_ID_LEN);
	memcpy(rv.node_id, id, MESH_NODE_ID_LEN);
	rv.revoked_at = now_unix;
	if ((r = mesh_revoke_sign(&rv, mesh->authority_sk)) != 0)
		return r;
	memset(out, 0, sizeof *out);
	memcpy(out->node_id, id, MESH_NODE_ID_LEN);
	out->revoked_at = (int64_t)now_unix;
	wr_init(&w, out->record, sizeof out->record);
	if ((r = mesh_revoke_encode(&rv, &w)) != 0)
		return r;
	out->record_len = w.off;
	return 0;
}

/* Signs and stores the revocation of name and deletes the member, in one
 * transaction; *rv gets the record. */
static int revoke_store(struct store *st, const char *name, uint64_t now_unix,
    struct store_revocation *rv)
{
	struct store_mesh mesh;
	struct store_node node;
	struct store_member m;
	int r;

	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	if ((r = store_node_get(st, &node)) != 0)
		goto out;
	r = MESHD_E_PERM;
	if (!mesh.has_authority_sk)
		goto out;
	if ((r = store_member_get_by_name(st, name, &m)) != 0)
		goto out;
	r = MESHD_E_INVAL;
	if (id_eq(m.node_id, node.node_id))
		goto out;
	if ((r = revoke_make(&mesh, m.node_id, now_unix, rv)) != 0 ||
	    (r = store_tx_begin(st)) != 0)
		goto out;
	if ((r = store_revocation_put(st, rv)) != 0 && r != MESHD_E_EXIST)
		goto rollback;
	if ((r = store_member_delete(st, m.node_id)) != 0)
		goto rollback;
	r = store_tx_commit(st);
	goto out;
rollback:
	(void)store_tx_rollback(st);
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

int mesh_node_revoke_offline(struct store *st, const char *name, uint64_t now_unix)
{
	struct store_revocation rv;

	return revoke_store(st, name, now_unix, &rv);
}

int mesh_node_revoke(struct mesh_node *n, const char *name, mtime_ns now, uint64_t now_unix)
{
	struct store_revocation rv;
	int r;

	if (!n->admin)
		return MESHD_E_PERM;
	enter(n, now, now_unix);
	if ((r = revoke_store(n->st, name, now_unix, &rv)) != 0)
		return r;
	r = mesh_gossip_publish(n->g, MESH_REC_REVOKE, rv.record, rv.record_len, now, now_unix);
	sweep_revocations(n);
	return r < 0 ? r : 0;
}

bool mesh_node_revoked(const struct mesh_node *n)
{
	return n->revoked;
}

/* ---- relays (mesh/relay.h) ---- */

/* Whether an endpoint record offers relaying: a PORTMAP endpoint or a
 * LOCAL public address (reachable from anywhere). */
static bool eps_offer_relay(const struct mesh_endpoints *e)
{
	for (unsigned i = 0; i < e->nep && i < MESH_ENDPOINTS_MAX; i++) {
		const struct mesh_ep *ep = &e->ep[i];

		if (!mesh_ep_valid(ep))
			continue;
		if (ep->source == MESH_EP_PORTMAP ||
		    (ep->source == MESH_EP_LOCAL && !addr_private(ep)))
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
	struct npeer *p = peer_find(n, id);

	return p != NULL && peer_live_endpoint(n, p, out);
}

static bool relay_is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	struct mesh_node *n = ctx;
	struct npeer *p = peer_find(n, id);

	return n->relay_on && p != NULL && !p->farewell && p->relay_cand;
}

/* Our offer, every member's offer, and every peer's relay candidates: the
 * offering members we have a direct path with, best RTT first. */
static void relays_refresh(struct mesh_node *n)
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

void mesh_node_set_relay(struct mesh_node *n, bool on)
{
	n->relay_on = on;
	n->relays_dirty = true;
}

bool mesh_node_wrap_relay(struct mesh_node *n, const union endpoint *dst, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint to;
	size_t k;

	if (!mesh_relay_is_synth(dst))
		return false;
	if (n->relay == NULL || !n->relay_on || n->revoked)
		return true;	/* never to the socket: 100::/64 goes nowhere */
	enter(n, now, now_unix);
	k = mesh_relay_wrap(n->relay, dst, p, len, buf, sizeof buf, now, &to);
	if (k > 0 && n->ops.send_underlay != NULL)
		n->ops.send_underlay(n->ctx, &to, buf, k);
	return true;
}

/* RELAY (we relay for others) or RELAYED (a member's datagram through a
 * relay: to WireGuard with the synthetic source, last). When our own path
 * to its origin is DIRECT, WireGuard's roaming to the synthetic source is
 * undone: the origin may still be on the relay for a moment, we keep the
 * direct path we measured. */
static void relay_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len)
{
	_Alignas(8) uint8_t buf[MESH_RELAY_DGRAM_MAX];
	uint8_t origin[MESH_NODE_ID_LEN];
	struct wg_peer_info info;
	union endpoint to, syn;
	struct npeer *o;
	size_t inner;

	if (n->relay == NULL || !n->relay_on || src == NULL || len > sizeof buf)
		return;
	memcpy(buf, p, len);
	if (p[1] == MESH_MSG_RELAY) {
		if (mesh_relay_forward(n->relay, buf, len, src, n->now, &to) == 0 &&
		    n->ops.send_underlay != NULL)
			n->ops.send_underlay(n->ctx, &to, buf, len);
		return;
	}
	if (mesh_relay_receive(n->relay, buf, len, src, n->now, &inner, &syn) != 0 ||
	    n->ops.wg_input == NULL)
		return;
	memcpy(origin, p + MESH_MSG_HDR_LEN, MESH_NODE_ID_LEN);
	n->ops.wg_input(n->ctx, &syn, buf, inner);
	if ((o = peer_find(n, origin)) == NULL || o->wp == NULL ||
	    o->choice.kind != MESH_PATH_DIRECT)
		return;
	wg_peer_get_info(o->wp, &info);
	if (mesh_relay_is_synth(&info.endpoint))
		wg_peer_set_endpoint(o->wp, &o->choice.ep);
	sodium_memzero(&info, sizeof info);
}

void mesh_node_relay_stats(const struct mesh_node *n, struct mesh_relay_stats *out)
{
	if (n->relay != NULL)
		mesh_relay_get_stats(n->relay, out);
	else
		memset(out, 0, sizeof *out);
}

/* ---- timers ---- */

mtime_ns mesh_node_next_expiry(const struct mesh_node *n)
{
	mtime_ns t = mesh_gossip_next_expiry(n->g);

	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		mtime_ns pt;

		if (p->farewell && p->farewell_at < t)
			t = p->farewell_at;
		else if (!p->farewell && p->path != NULL &&
		    (pt = mesh_path_next_expiry(p->path)) < t)
			t = pt;
	}
	for (unsigned i = 0; i < n->nrefl; i++)
		if (n->refl[i].seen + SEC(NODE_REFL_TTL_S) < t)
			t = n->refl[i].seen + SEC(NODE_REFL_TTL_S);
	if (n->routes_dirty && n->now < t)
		t = n->now;
	if (n->relays_dirty && n->now < t)
		t = n->now;
	if (n->relays_at < t)
		t = n->relays_at;
	if (n->have_eps && n->resign_at < t)
		t = n->resign_at;
	if (n->inv != NULL && n->purge_at < t)
		t = n->purge_at;
	return t;
}

void mesh_node_handle_expiry(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	int r;

	enter(n, now, now_unix);
	if ((r = mesh_gossip_handle_expiry(n->g, now, now_unix)) != 0)
		log_warn("mesh: gossip: %s", meshd_strerror(r));
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && n->peers[i]->path != NULL)
			mesh_path_handle_expiry(n->peers[i]->path, now);
	/* A path that answers probes but no session yet: the initiation was
	 * probably lost (a hole that opened a moment too late). Try again now
	 * rather than after WireGuard's 5 s retry; wg_peer_initiate_now() does
	 * nothing with a session and limits itself to one per second. */
	for (size_t i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];

		if (!p->farewell && p->wp != NULL && p->choice.kind == MESH_PATH_DIRECT)
			wg_peer_initiate_now(n->wg, p->wp, now);
	}
	refl_expire(n);
	for (size_t i = 0; i < n->npeers; ) {
		if (n->peers[i]->farewell && now >= n->peers[i]->farewell_at)
			peer_drop(n, n->peers[i]);	/* moves the last one to i */
		else
			i++;
	}
	if (n->relays_dirty || now >= n->relays_at)
		relays_refresh(n);	/* may switch paths: before the routes */
	if (n->routes_dirty)
		routes_recompute(n);	/* paths changed */
	if (n->have_eps && now >= n->resign_at && !n->revoked) {
		struct mesh_endpoints e;

		endpoints_merge(n, &e);
		if ((r = sign_endpoints(n, e.ep, e.nep)) != 0) {
			log_warn("mesh: re-signing our endpoints: %s", meshd_strerror(r));
			n->resign_at = now + SEC(60);
		}
	}
	sweep_revocations(n);
	/* Dead invites cost nothing at join time any more (refused before
	 * the signature check), but the table would grow forever. Expired
	 * ones stay a grace period so that a late joiner reads "expired";
	 * the first purge waits one period after start. */
	if (n->inv != NULL && now >= n->purge_at) {
		if (n->purge_at != 0 && now_unix > JOIN_PURGE_GRACE_S &&
		    (r = store_invite_purge(n->st, (int64_t)(now_unix - JOIN_PURGE_GRACE_S))) < 0)
			log_warn("mesh: purging invites: %s", meshd_strerror(r));
		n->purge_at = now + SEC(JOIN_PURGE_S);
	}
}

/* ---- open / free ---- */

static int load_revocation(const struct store_revocation *rv, void *arg)
{
	struct mesh_node *n = arg;

	(void)mesh_records_merge(n->recs, MESH_REC_REVOKE, rv->record, rv->record_len,
	    n->now_unix);
	return 0;
}

static int load_member(const struct store_member *m, void *arg)
{
	struct mesh_node *n = arg;
	int r = mesh_records_merge(n->recs, MESH_REC_CERT, m->cert, m->cert_len, n->now_unix);

	if (r != MESH_MERGE_NEW && r != MESH_MERGE_DUP)
		log_info("mesh: stored member %s not loaded: %s", m->name, mesh_merge_str(r));
	return r == MESHD_E_NOMEM ? r : 0;
}

static int load_endpoints(const struct store_member *m, void *arg)
{
	struct mesh_node *n = arg;
	struct store_endpoint_record rec;
	int r = store_endpoint_record_get(n->st, m->node_id, &rec);

	if (r == MESHD_E_NOENT)
		return 0;
	if (r != 0)
		return r;
	if (id_eq(m->node_id, n->node_id) && rec.version > n->ep_seq)
		n->ep_seq = rec.version;	/* seq only grows, even if expired */
	r = mesh_records_merge(n->recs, MESH_REC_ENDPOINTS, rec.record, rec.record_len,
	    n->now_unix);
	return r == MESHD_E_NOMEM ? r : 0;
}

static int load_routes(const struct store_route_record *rec, void *arg)
{
	struct mesh_node *n = arg;
	int r;

	if (id_eq(rec->node_id, n->node_id) && rec->version > n->rt_seq)
		n->rt_seq = rec->version;	/* seq only grows */
	r = mesh_records_merge(n->recs, MESH_REC_ROUTES, rec->record, rec->record_len,
	    n->now_unix);
	return r == MESHD_E_NOMEM ? r : 0;
}

/* The node and mesh rows and our own cert. */
static int open_identity(struct mesh_node *n, uint8_t wg_sk[MESH_WG_KEY_LEN], uint64_t now_unix,
    char *err, size_t errlen)
{
	struct store_node node;
	struct store_mesh mesh;
	struct store_member m;
	int r;

	memset(&node, 0, sizeof node);
	memset(&mesh, 0, sizeof mesh);
	if ((r = store_node_get(n->st, &node)) != 0 || (r = store_mesh_get(n->st, &mesh)) != 0) {
		set_err(err, errlen, "%s", r == MESHD_E_NOENT ?
		    "not initialised: run 'meshd init' or 'meshd join' first" :
		    meshd_strerror(r));
		goto out;
	}
	memcpy(n->node_id, node.node_id, MESH_NODE_ID_LEN);
	snprintf(n->name, sizeof n->name, "%s", node.name);
	snprintf(n->mesh_name, sizeof n->mesh_name, "%s", mesh.name);
	memcpy(n->mesh_id, mesh.mesh_id, MESH_ID_LEN);
	memcpy(n->authority_pk, mesh.authority_pk, MESH_PK_LEN);
	n->admin = mesh.has_authority_sk;
	memcpy(n->authority_sk, mesh.authority_sk, MESH_SK_LEN);
	memcpy(wg_sk, node.wg_private_key, MESH_WG_KEY_LEN);
	if ((r = prefix_parse(mesh.prefix4, MESH_FAMILY_V4, &n->prefix4)) != 0 ||
	    (r = prefix_parse(mesh.prefix6, MESH_FAMILY_V6, &n->prefix6)) != 0) {
		set_err(err, errlen, "%s", "bad overlay prefix in the store");
		goto out;
	}
	if ((r = store_revocation_exists(n->st, n->node_id)) != 0) {
		if (r > 0)
			r = MESHD_E_PERM;
		set_err(err, errlen, "%s", r == MESHD_E_PERM ?
		    "this node has been revoked from the mesh" : meshd_strerror(r));
		goto out;
	}
	if ((r = store_member_get_by_id(n->st, n->node_id, &m)) != 0 ||
	    (r = mesh_cert_decode(m.cert, m.cert_len, &n->self)) != 0) {
		set_err(err, errlen, "%s", r == MESHD_E_NOENT ?
		    "our own certificate is missing from the store" : meshd_strerror(r));
		r = r == MESHD_E_NOENT ? r : MESHD_E_PROTO;
		goto out;
	}
	if (n->self.expires_at <= now_unix) {
		set_err(err, errlen, "%s", "our certificate has expired: ask an admin for a new invite");
		r = MESHD_E_EXPIRED;
		goto out;
	}
	if (!mesh_cert_verify(&n->self, n->authority_pk, now_unix)) {
		set_err(err, errlen, "%s", "our certificate does not verify");
		r = MESHD_E_PROTO;
	}
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

static int open_engines(struct mesh_node *n)
{
	struct mesh_records_cfg rc = { .on_event = on_event, .ctx = n };
	struct mesh_gossip_cfg gc = { .send = gossip_send, .ctx = n };
	struct mesh_relay_cfg lc = {
		.member_at = relay_member_at, .member_endpoint = relay_member_endpoint,
		.is_relay = relay_is_relay, .ctx = n,
	};
	struct mesh_join_inviter_cfg ic = {
		.ops = { .lookup = inv_lookup, .admit = inv_admit, .roster = inv_roster },
		.ctx = n,
	};
	int r;

	memcpy(rc.authority_pk, n->authority_pk, MESH_PK_LEN);
	if ((n->recs = mesh_records_new(&rc, &r)) == NULL)
		return r;
	memcpy(gc.node_id, n->node_id, MESH_NODE_ID_LEN);
	randombytes_buf(&gc.rng_seed, sizeof gc.rng_seed);
	if ((n->g = mesh_gossip_new(&gc, n->recs, &r)) == NULL)
		return r;
	if ((n->relay = mesh_relay_new(&lc, &r)) == NULL)
		return r;
	if (!n->admin)
		return 0;
	if ((n->inv = calloc(1, sizeof *n->inv)) == NULL)
		return MESHD_E_NOMEM;
	memcpy(ic.authority_pk, n->authority_pk, MESH_PK_LEN);
	snprintf(ic.mesh_name, sizeof ic.mesh_name, "%s", n->mesh_name);
	ic.prefix4 = n->prefix4;
	ic.prefix6 = n->prefix6;
	return mesh_join_inviter_init(n->inv, &ic);
}

int mesh_node_open(struct mesh_node **out, const struct mesh_node_cfg *cfg, mtime_ns now,
    uint64_t now_unix, char *err, size_t errlen)
{
	struct mesh_node *n;
	uint8_t wg_sk[MESH_WG_KEY_LEN];
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cfg == NULL || cfg->st == NULL || cfg->wg == NULL)
		return MESHD_E_INVAL;
	if ((n = calloc(1, sizeof *n)) == NULL)
		return MESHD_E_NOMEM;
	n->st = cfg->st;
	n->wg = cfg->wg;
	n->ops = cfg->ops;
	n->ctx = cfg->ctx;
	n->relay_on = true;
	n->relays_dirty = true;
	enter(n, now, now_unix);
	if ((r = open_identity(n, wg_sk, now_unix, err, errlen)) != 0)
		goto fail;
	r = MESHD_E_PROTO;
	if (mesh_node_sign_keypair(wg_sk, n->sign_pk, n->sign_sk) != 0 ||
	    crypto_scalarmult_base(n->wg_pk, wg_sk) != 0 ||
	    memcmp(n->sign_pk, n->self.sign_pk, MESH_PK_LEN) != 0 ||
	    memcmp(n->wg_pk, n->self.wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		set_err(err, errlen, "%s", "our keys do not match our certificate");
		goto fail;
	}
	memcpy(n->wg_sk, wg_sk, MESH_WG_KEY_LEN);	/* probe keys */
	if ((r = wg_device_set_private_key(n->wg, wg_sk, now)) != 0) {
		set_err(err, errlen, "%s", "cannot set the WireGuard private key");
		goto fail;
	}
	if ((r = open_engines(n)) != 0) {
		set_err(err, errlen, "%s", meshd_strerror(r));
		goto fail;
	}
	n->loading = true;
	if ((r = store_revocation_foreach(n->st, load_revocation, n)) == 0 &&
	    (r = store_member_foreach(n->st, load_member, n)) == 0 &&
	    (r = store_member_foreach(n->st, load_endpoints, n)) == 0)
		r = store_route_record_foreach(n->st, load_routes, n);
	n->loading = false;
	routes_recompute(n);	/* the kernel routes are ours to set again */
	n->revokes_stored = mesh_records_count(n->recs, MESH_REC_REVOKE);
	if (r == 0 && mesh_records_count(n->recs, MESH_REC_CERT) == 0)
		r = MESHD_E_PROTO;	/* not even our own cert merged */
	if (r != 0) {
		set_err(err, errlen, "loading the store: %s", meshd_strerror(r));
		goto fail;
	}
	/* the daemon's part of the stored record until it sets its own */
	for (unsigned i = 0; n->have_eps && i < n->eps.nep && i < MESH_ENDPOINTS_MAX; i++)
		if (n->eps.ep[i].source != MESH_EP_REFLEXIVE)
			n->local[n->nlocal++] = n->eps.ep[i];
	/* resign at once when the stored record is old */
	n->resign_at = now;
	if (n->have_eps && n->eps.timestamp + MESH_NODE_RESIGN_S > now_unix)
		n->resign_at = now + SEC(n->eps.timestamp + MESH_NODE_RESIGN_S - now_unix);
	sodium_memzero(wg_sk, sizeof wg_sk);
	*out = n;
	return 0;
fail:
	sodium_memzero(wg_sk, sizeof wg_sk);
	mesh_node_free(n);
	return r;
}

void mesh_node_free(struct mesh_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->npeers; i++) {
		if (n->peers[i]->wp != NULL)
			wg_peer_set_user(n->peers[i]->wp, NULL);
		peer_free(n->peers[i]);
	}
	free(n->peers);
	mesh_gossip_free(n->g);
	mesh_records_free(n->recs);
	mesh_relay_free(n->relay);
	if (n->inv != NULL) {
		mesh_join_inviter_clear(n->inv);
		free(n->inv);
	}
	sodium_memzero(n, sizeof *n);
	free(n);
}

/* ---- status ---- */

void mesh_node_get_self(const struct mesh_node *n, struct mesh_node_self *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", n->name);
	snprintf(out->mesh_name, sizeof out->mesh_name, "%s", n->mesh_name);
	memcpy(out->node_id, n->node_id, MESH_NODE_ID_LEN);
	memcpy(out->wg_pk, n->wg_pk, MESH_WG_KEY_LEN);
	memcpy(out->ipv4, n->self.ipv4, 4);
	memcpy(out->ipv6, n->self.ipv6, 16);
	out->prefix4 = n->prefix4;
	out->prefix6 = n->prefix6;
	out->admin = n->admin;
	if (n->have_eps) {
		out->nep = n->eps.nep;
		memcpy(out->ep, n->eps.ep, sizeof out->ep);
	}
	out->members = mesh_records_count(n->recs, MESH_REC_CERT);
	if (n->have_rt) {
		out->nadv = n->rt.n;
		memcpy(out->adv, n->rt.r, sizeof out->adv);
	}
	out->nappr = n->self.nroutes;
	memcpy(out->appr, n->self.routes, sizeof out->appr);
}

int mesh_node_lookup_name(const struct mesh_node *n, const char *label, uint8_t v4[4],
    uint8_t v6[16])
{
	const uint8_t *a4 = NULL, *a6 = NULL;

	if (label == NULL)
		return MESHD_E_NOENT;
	if (strcmp(label, n->name) == 0) {
		a4 = n->self.ipv4;
		a6 = n->self.ipv6;
	}
	for (size_t i = 0; a4 == NULL && i < n->npeers; i++) {
		if (!n->peers[i]->farewell && strcmp(n->peers[i]->name, label) == 0) {
			a4 = n->peers[i]->ipv4;
			a6 = n->peers[i]->ipv6;
		}
	}
	if (a4 == NULL)
		return MESHD_E_NOENT;
	memcpy(v4, a4, 4);
	memcpy(v6, a6, 16);
	return 0;
}

static int peer_name_cmp(const void *a, const void *b)
{
	const struct npeer *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

int mesh_node_foreach_peer(const struct mesh_node *n, mesh_node_peer_fn *fn, void *ctx)
{
	struct npeer **v;
	struct mesh_node_peer mp;
	struct mesh_endpoints e;
	struct mesh_routes rt;
	struct mesh_cert c;
	size_t nv = 0;
	int r = 0;

	if (n->npeers == 0)
		return 0;
	if ((v = malloc(n->npeers * sizeof *v)) == NULL)
		return MESHD_E_NOMEM;
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell)
			v[nv++] = n->peers[i];
	qsort(v, nv, sizeof *v, peer_name_cmp);
	for (size_t i = 0; i < nv && r == 0; i++) {
		memset(&mp, 0, sizeof mp);
		snprintf(mp.name, sizeof mp.name, "%s", v[i]->name);
		memcpy(mp.node_id, v[i]->node_id, MESH_NODE_ID_LEN);
		memcpy(mp.wg_pk, v[i]->wg_pk, MESH_WG_KEY_LEN);
		memcpy(mp.ipv4, v[i]->ipv4, 4);
		memcpy(mp.ipv6, v[i]->ipv6, 16);
		mp.admin = v[i]->admin;
		mp.peer = v[i]->wp;
		if (mesh_records_endpoints(n->recs, v[i]->node_id, &e) == 0) {
			mp.nep = e.nep;
			memcpy(mp.ep, e.ep, sizeof mp.ep);
		}
		if (mesh_records_routes(n->recs, v[i]->node_id, &rt) == 0) {
			mp.nadv = rt.n;
			memcpy(mp.adv, rt.r, sizeof mp.adv);
		}
		if (mesh_records_cert(n->recs, v[i]->node_id, &c) == 0) {
			mp.nappr = c.nroutes;
			memcpy(mp.appr, c.routes, sizeof mp.appr);
		}
		mp.ninst = v[i]->ninst;
		memcpy(mp.inst, v[i]->inst, sizeof mp.inst);
		mp.rtt_ms = -1;
		if (v[i]->path != NULL) {
			struct mesh_path_choice pc;

			mesh_path_current(v[i]->path, &pc);
			mp.path = (uint8_t)pc.kind;
			if (pc.kind != MESH_PATH_NONE)
				mp.rtt_ms = pc.rtt_ms > INT32_MAX ? INT32_MAX : (int32_t)pc.rtt_ms;
			if (pc.kind == MESH_PATH_RELAY) {
				const struct npeer *via = peer_find(n, pc.relay_id);

				memcpy(mp.via, pc.relay_id, MESH_NODE_ID_LEN);
				if (via != NULL)
					snprintf(mp.via_name, sizeof mp.via_name, "%s", via->name);
			}
		}
		r = fn(ctx, &mp);
	}
	free(v);
	return r;
}

/* ---- store-only helpers for the CLI ---- */

static int verify_roster_endpoints(struct store *st, const struct mesh_endpoints *e,
    const uint8_t *mesh_id, uint64_t now_unix)
{
	struct store_member m;
	struct mesh_cert c;

	if (store_member_get_by_id(st, e->node_id, &m) != 0 ||
	    mesh_cert_decode(m.cert, m.cert_len, &c) != 0 ||
	    !mesh_endpoints_verify(e, c.sign_pk, mesh_id, now_unix))
		return MESHD_E_CRYPTO;
	return 0;
}

/* One roster record into the store; a record that does not verify, or
 * that the store refuses, is skipped (gossip brings the truth later). */
static int persist_record(struct store *st, const struct mesh_join_result *res,
    const struct mesh_join_rec *rec, uint64_t now_unix)
{
	const uint8_t *b = res->resp.data + rec->off;
	union {
		struct store_member m;
		struct store_revocation rv;
		struct store_endpoint_record er;
	} u;
	struct mesh_cert c;
	struct mesh_revoke rv;
	struct mesh_endpoints e;
	int r = 0;

	if ((size_t)rec->off + rec->len > res->resp.data_len)
		return 0;
	switch (rec->kind) {
	case MESH_REC_CERT:
		if (mesh_cert_decode(b, rec->len, &c) != 0 ||
		    !mesh_cert_verify(&c, res->resp.authority_pk, now_unix) ||
		    id_eq(c.node_id, res->cert.node_id) ||
		    member_from_cert(&u.m, &c, b, rec->len, now_unix) != 0)
			return 0;
		r = store_member_upsert(st, &u.m);
		break;
	case MESH_REC_REVOKE:
		if (rec->len > sizeof u.rv.record || mesh_revoke_decode(b, rec->len, &rv) != 0 ||
		    !mesh_revoke_verify(&rv, res->resp.authority_pk) || rv.revoked_at > INT64_MAX)
			return 0;
		memset(&u.rv, 0, sizeof u.rv);
		memcpy(u.rv.node_id, rv.node_id, MESH_NODE_ID_LEN);
		u.rv.revoked_at = (int64_t)rv.revoked_at;
		u.rv.record_len = rec->len;
		memcpy(u.rv.record, b, rec->len);
		r = store_revocation_put(st, &u.rv);
		if (r == 0 || r == MESHD_E_EXIST)
			r = store_member_delete(st, rv.node_id);
		break;
	case MESH_REC_ENDPOINTS:
		if (rec->len > sizeof u.er.record || mesh_endpoints_decode(b, rec->len, &e) != 0 ||
		    e.seq > INT64_MAX ||
		    verify_roster_endpoints(st, &e, res->mesh_id, now_unix) != 0)
			return 0;
		memset(&u.er, 0, sizeof u.er);
		memcpy(u.er.node_id, e.node_id, MESH_NODE_ID_LEN);
		u.er.version = e.seq;
		u.er.updated_at = (int64_t)now_unix;
		u.er.record_len = rec->len;
		memcpy(u.er.record, b, rec->len);
		r = store_endpoint_record_put(st, &u.er);
		break;
	}
	/* conflicts and strays are skipped; real store failures are not */
	if (r == MESHD_E_EXIST || r == MESHD_E_NOENT || r == MESHD_E_INVAL)
		r = 0;
	return r;
}

static int persist_rows(struct store *st, const struct mesh_join_result *res,
    const uint8_t *wg_sk, uint16_t listen_port, const char *ifname, uint64_t now_unix)
{
	struct store_node node;
	struct store_mesh mesh;
	struct store_member m;
	int r;

	memset(&node, 0, sizeof node);
	memset(&mesh, 0, sizeof mesh);
	memcpy(node.node_id, res->cert.node_id, MESH_NODE_ID_LEN);
	snprintf(node.name, sizeof node.name, "%s", res->cert.name);
	memcpy(node.wg_private_key, wg_sk, MESH_WG_KEY_LEN);
	node.listen_port = listen_port;
	r = MESHD_E_INVAL;
	if (ifname != NULL &&
	    (size_t)snprintf(node.ifname, sizeof node.ifname, "%s", ifname) >= sizeof node.ifname)
		goto out;
	node.created_at = (int64_t)now_unix;
	memcpy(mesh.mesh_id, res->mesh_id, MESH_ID_LEN);
	snprintf(mesh.name, sizeof mesh.name, "%s", res->resp.mesh_name);
	memcpy(mesh.authority_pk, res->resp.authority_pk, MESH_PK_LEN);
	mesh.created_at = (int64_t)now_unix;
	if ((r = prefix_format(&res->resp.prefix4, mesh.prefix4, sizeof mesh.prefix4)) != 0 ||
	    (r = prefix_format(&res->resp.prefix6, mesh.prefix6, sizeof mesh.prefix6)) != 0 ||
	    (r = member_from_cert(&m, &res->cert, res->resp.cert, res->resp.cert_len,
	    now_unix)) != 0)
		goto out;
	if ((r = store_node_put(st, &node)) != 0 || (r = store_mesh_put(st, &mesh)) != 0 ||
	    (r = store_member_upsert(st, &m)) != 0)
		goto out;
	for (unsigned i = 0; i < res->resp.nrec && r == 0; i++)
		r = persist_record(st, res, &res->resp.rec[i], now_unix);
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

int mesh_node_persist_join(struct store *st, const struct mesh_join_result *res,
    const uint8_t wg_sk[MESH_WG_KEY_LEN], uint16_t listen_port, const char *ifname,
    uint64_t now_unix)
{
	struct store_node cur;
	uint8_t pk[MESH_WG_KEY_LEN];
	int r;

	if (now_unix > INT64_MAX)
		return MESHD_E_RANGE;
	if ((r = store_node_get(st, &cur)) != MESHD_E_NOENT) {
		store_node_clear(&cur);
		return r == 0 ? MESHD_E_EXIST : r;
	}
	if (crypto_scalarmult_base(pk, wg_sk) != 0 ||
	    memcmp(pk, res->cert.wg_pubkey, MESH_WG_KEY_LEN) != 0)
		return MESHD_E_INVAL;
	if ((r = store_tx_begin(st)) != 0)
		return r;
	if ((r = persist_rows(st, res, wg_sk, listen_port, ifname, now_unix)) != 0) {
		(void)store_tx_rollback(st);
		return r;
	}
	return store_tx_commit(st);
}

static int init_keys(struct store_node *node, struct store_mesh *mesh, struct mesh_cert *c,
    const struct mesh_prefix *p4, uint64_t now_unix)
{
	struct mesh_prefix p6;
	uint8_t sk[MESH_SK_LEN], a[16];
	int r;

	if ((r = mesh_identity_authority_keygen(mesh->authority_pk, mesh->authority_sk)) != 0)
		return r;
	mesh->has_authority_sk = true;
	mesh_identity_mesh_id(mesh->authority_pk, mesh->mesh_id);
	mesh_identity_ula_prefix(mesh->mesh_id, &p6);
	if ((r = prefix_format(p4, mesh->prefix4, sizeof mesh->prefix4)) != 0 ||
	    (r = prefix_format(&p6, mesh->prefix6, sizeof mesh->prefix6)) != 0)
		return r;
	randombytes_buf(node->wg_private_key, sizeof node->wg_private_key);
	mesh_identity_node_id_new(node->node_id);

	memset(c, 0, sizeof *c);
	c->version = MESH_CERT_VERSION;
	memcpy(c->mesh_id, mesh->mesh_id, MESH_ID_LEN);
	memcpy(c->node_id, node->node_id, MESH_NODE_ID_LEN);
	snprintf(c->name, sizeof c->name, "%s", node->name);
	c->flags = MESH_CERT_F_ADMIN;
	c->issued_at = now_unix;
	c->expires_at = now_unix + (uint64_t)MESH_NODE_CERT_DAYS * 86400;
	if (crypto_scalarmult_base(c->wg_pubkey, node->wg_private_key) != 0 ||
	    mesh_node_sign_keypair(node->wg_private_key, c->sign_pk, sk) != 0)
		r = MESHD_E_CRYPTO;
	sodium_memzero(sk, sizeof sk);
	if (r != 0 || (r = mesh_identity_addr_for(p4, c->node_id, 0, a)) != 0)
		return r;
	memcpy(c->ipv4, a, 4);
	if ((r = mesh_identity_addr_for(&p6, c->node_id, 0, a)) != 0)
		return r;
	memcpy(c->ipv6, a, 16);
	return mesh_cert_sign(c, mesh->authority_sk);
}

static int init_check(struct store *st, const char *name, const char *mesh_name,
    const struct mesh_prefix *prefix4, const char *ifname, char *err, size_t errlen)
{
	struct store_node node;
	uint8_t a[16], id[MESH_NODE_ID_LEN] = { 0 };
	int r;

	if (name == NULL || !mesh_name_valid(name)) {
		set_err(err, errlen, "invalid node name '%s': must be a DNS label "
		    "(letters, digits, '-', 1-63 chars)", name ? name : "");
		return MESHD_E_INVAL;
	}
	if (!mesh_name_valid(mesh_name)) {
		set_err(err, errlen, "invalid mesh name '%s': must be a DNS label "
		    "(letters, digits, '-', 1-63 chars)", mesh_name);
		return MESHD_E_INVAL;
	}
	if (prefix4 != NULL && (prefix4->family != MESH_FAMILY_V4 ||
	    mesh_identity_addr_for(prefix4, id, 0, a) != 0)) {
		set_err(err, errlen, "%s", "invalid IPv4 prefix: need a network of /30 or larger");
		return MESHD_E_INVAL;
	}
	if (ifname != NULL && strlen(ifname) > STORE_IFNAME_MAX) {
		set_err(err, errlen, "invalid interface name '%s': too long", ifname);
		return MESHD_E_INVAL;
	}
	if ((r = store_node_get(st, &node)) != MESHD_E_NOENT) {
		store_node_clear(&node);
		set_err(err, errlen, "%s", r == 0 ? "already initialised" : meshd_strerror(r));
		return r == 0 ? MESHD_E_EXIST : r;
	}
	return 0;
}

int mesh_node_init_store(struct store *st, const char *name, const char *mesh_name,
    const struct mesh_prefix *prefix4, uint16_t listen_port, const char *ifname,
    uint64_t now_unix, char *err, size_t errlen)
{
	struct store_node node;
	struct store_mesh mesh;
	struct store_member m;
	struct mesh_cert c;
	struct mesh_prefix p4;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (mesh_name == NULL)
		mesh_name = "mesh";
	if ((r = init_check(st, name, mesh_name, prefix4, ifname, err, errlen)) != 0)
		return r;
	if (now_unix > INT64_MAX / 2)
		return MESHD_E_RANGE;
	if (prefix4 != NULL)
		p4 = *prefix4;
	else
		mesh_identity_ipv4_prefix(randombytes_random(), &p4);
	memset(&node, 0, sizeof node);
	memset(&mesh, 0, sizeof mesh);
	snprintf(node.name, sizeof node.name, "%s", name);
	snprintf(node.ifname, sizeof node.ifname, "%s", ifname ? ifname : "");
	node.listen_port = listen_port;
	node.created_at = (int64_t)now_unix;
	snprintf(mesh.name, sizeof mesh.name, "%s", mesh_name);
	mesh.created_at = (int64_t)now_unix;
	if ((r = init_keys(&node, &mesh, &c, &p4, now_unix)) != 0 ||
	    (r = cert_to_bytes(&c, buf, sizeof buf, &len)) != 0 ||
	    (r = member_from_cert(&m, &c, buf, len, now_unix)) != 0)
		goto out;
	if ((r = store_tx_begin(st)) != 0)
		goto out;
	if ((r = store_node_put(st, &node)) != 0 || (r = store_mesh_put(st, &mesh)) != 0 ||
	    (r = store_member_upsert(st, &m)) != 0) {
		(void)store_tx_rollback(st);
		goto out;
	}
	r = store_tx_commit(st);
out:
	if (r != 0 && err != NULL && errlen > 0 && err[0] == '\0')
		set_err(err, errlen, "%s", meshd_strerror(r));
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

int mesh_node_add_invite(struct store *st, uint64_t ttl_s, uint32_t uses, uint64_t now_unix,
    struct mesh_token *tok)
{
	struct store_mesh mesh;
	struct store_invite inv;
	uint8_t sk[MESH_SK_LEN];
	int r;

	memset(tok, 0, sizeof *tok);
	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	r = MESHD_E_PERM;
	if (!mesh.has_authority_sk)
		goto out;
	r = MESHD_E_INVAL;
	if (ttl_s == 0 || uses == 0 || now_unix >= UINT32_MAX || ttl_s > UINT32_MAX - now_unix)
		goto out;
	memset(&inv, 0, sizeof inv);
	randombytes_buf(tok->secret, sizeof tok->secret);
	if ((r = mesh_join_invite_keypair(tok->secret, inv.invite_pk, sk)) != 0)
		goto out;
	mesh_join_invite_id(inv.invite_pk, inv.invite_id);
	inv.expires_at = (int64_t)(now_unix + ttl_s);
	inv.uses_left = uses;
	inv.created_at = (int64_t)now_unix;
	if ((r = store_invite_add(st, &inv)) != 0)
		goto out;
	memcpy(tok->mesh_id, mesh.mesh_id, MESH_TOKEN_ID_LEN);
	tok->expires_at = (uint32_t)(now_unix + ttl_s);
out:
	if (r != 0)
		mesh_token_clear(tok);
	sodium_memzero(sk, sizeof sk);
	store_mesh_clear(&mesh);
	return r;
}
