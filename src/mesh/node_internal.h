/* Private to the mesh node (mesh/node.h), shared by the files that implement
 * it: node.c (lifecycle, input entry points, timers), node_peers.c (members
 * as WireGuard peers; record events marked for the store), node_store.c
 * (flushing those marks to the store), node_paths.c
 * (candidates, probes, punching), node_endpoints.c (our endpoint record),
 * node_routes.c (subnet routes), node_relay.c (relays), node_admin.c
 * (inviter and revocation), node_status.c (status walks) and node_setup.c
 * (store-only CLI operations). One node is one struct mesh_node; the files
 * are cut along its concerns so each can be read on its own, not to hide
 * state from one another: they all see both structs below.
 *
 * Functions shared between these files carry a node_ prefix; everything
 * else stays static in its file. Nothing here is for other modules.
 */
#ifndef MESHD_MESH_NODE_INTERNAL_H
#define MESHD_MESH_NODE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mesh/bucket.h"
#include "mesh/endpoints.h"
#include "mesh/node.h"
#include "mesh/path.h"
#include "mesh/pmtu.h"
#include "mesh/probe.h"
#include "mesh/routes.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/time.h"

/* Path probing (mesh/path.h, mesh/probe.h).
 *  - PROBE answers: a token bucket per peer, NODE_ACK_RATE per second with a
 *    burst of as many; each PROBE txid is answered once (a replayed probe
 *    with a forged source earns nothing).
 *  - Reflexive addresses: what ACKs report as our source address, kept
 *    NODE_REFL_TTL_S after the last report, at most NODE_REFL_PER_FAM per
 *    family. A member vouches for one address per family (its latest
 *    report). One member's word does not go into our signed record while
 *    another member says otherwise: an address is published when two
 *    members report its IP (ports may differ behind a symmetric NAT), or
 *    when a single member is the only one reporting anything for that
 *    family (there is no one to confirm it: a NAT'd node whose only contact
 *    is a public member). So a lying member cannot put a third party's
 *    address into our record once anyone else answers our probes.
 *  - PUNCH (in-tunnel, first byte NODE_MSG_PUNCH instead of GOSSIP_VERSION):
 *    'P' | target node id | origin node id; at most one per second per
 *    origin is acted on (forwarded or punched), and we send at most one per
 *    second per target. */
#define NODE_ACK_RATE 20
#define NODE_ACK_SEEN 32
#define NODE_REFL_TTL_S 60
#define NODE_REFL_PER_FAM 2
#define NODE_REFL_MAX (2 * NODE_REFL_PER_FAM)
#define NODE_REFL_WIT 2
#define NODE_MSG_PUNCH 0x50
#define NODE_PUNCH_LEN (1 + 2 * MESH_NODE_ID_LEN)
#define NODE_PUNCH_GAP_MS 1000

/* Probes to candidates that have never answered go through a token bucket
 * per destination address (IPv4 address, IPv6 /64), shared by all peers:
 * records that name a third party, however many and from whichever
 * members, draw at most NODE_DST_BURST probes at once and NODE_DST_PER_MIN
 * a minute from this node. A real endpoint answers its first probe and is
 * no longer charged, so an office NAT in front of up to NODE_DST_BURST
 * members is found at the usual speed. NODE_DST_N slots in a table keyed
 * by a keyed hash (no chosen collisions); a colliding address takes the
 * slot over with a fresh bucket. */
#define NODE_DST_N 256
#define NODE_DST_BURST 64
#define NODE_DST_PER_MIN 30
#define NODE_DST_COST (60 / NODE_DST_PER_MIN)

/* A revoked member is told so before it is cut off: its wg peer stays this
 * long (data to its overlay IPv4 still flows meanwhile: at most 3 s more), with
 * only its overlay IPv4 (the gossip address) routed, so that
 * anti-entropy with it brings it the tombstone. Nothing else would: once
 * every member has dropped it, no one can reach it any more. */
#define NODE_FAREWELL_S 3

/* Idle peers (node_paths.c): a peer is warm while it exchanged data (not
 * gossip) within NODE_IDLE_AFTER_S, or while it must stay warm (a site
 * gateway: approved routes installed; a relay a path of ours goes
 * through; while some peer has no direct path, the NODE_WARM_RELAYS
 * relay-offering members with the best direct paths, so that relaying,
 * which needs live sessions, is there when traffic comes). Warm peers keep WireGuard's persistent keepalive, the path
 * keepalives and re-evaluation; idle ones are quiet but for lazy re-probes
 * (mesh/path.h) and, per address family, one idle peer on a WAN path that
 * keeps probing so that our NAT mapping stays open. */
#define NODE_IDLE_AFTER_S 180
#define NODE_WARM_RELAYS 2

/* Relays: candidates are recomputed at least this often (RTTs move). A
 * WireGuard session is "live" for relaying within REJECT_AFTER_TIME. */
#define NODE_RELAY_REFRESH_S 1
#define NODE_SESSION_LIVE_S 180
/* A member's datagram came through a relay although our path to it is
 * DIRECT: WireGuard's roaming to the relay is undone only when that path
 * answered a probe this recently; otherwise the member likely lost it
 * (its network changed, or started blocking UDP), so we answer through
 * the relay and re-check the direct path at once. */
#define NODE_UNROAM_FRESH_MS 3000

/* Record changes waiting for the store (node_store.c): one entry per node
 * id, the kinds of record to write for it. */
enum {
	NODE_DIRTY_CERT = 1 << 0,	/* upsert the member row from its cert */
	NODE_DIRTY_GONE = 1 << 1,	/* cert expired: delete the member row */
	NODE_DIRTY_REVOKE = 1 << 2,	/* store the revocation, delete the row */
	NODE_DIRTY_ENDPOINTS = 1 << 3,	/* its endpoint record */
	NODE_DIRTY_ROUTES = 1 << 4,	/* its routes record */
};

struct node_dirty {
	uint8_t id[MESH_NODE_ID_LEN];
	unsigned what;			/* NODE_DIRTY_* */
};

struct mesh_gossip;
struct mesh_join_inviter;
struct mesh_rec_event;
struct mesh_records;
struct mesh_relay;

/* One other member, as far as WireGuard is concerned. Fields are grouped
 * by alignment (pointers and times, then byte arrays, then flags) so that
 * the struct has no holes: there is one per member. */
struct npeer {
	struct mesh_node *n;
	struct wg_peer *wp;		/* NULL when wg refused it */
	/* path selection: the engine (its latest choice and the probe key
	 * below) */
	struct mesh_path *path;
	/* subnet routes installed for it: in its wg allowed IPs and handed to
	 * ops.route_add; and the ones refused at the last recompute (each
	 * refusal is logged once). Arrays of MESH_CERT_MAX_ROUTES allocated
	 * at first use and freed when empty (NULL then): most members
	 * route nothing, and two inline arrays were 576 of a peer's bytes.
	 * Counts: ninst, nrefused below. */
	struct mesh_prefix *inst;
	struct mesh_prefix *refused;
	/* endpoint candidates: from its record, in preference order, then the
	 * join request's source (hint); those inside an installed subnet route
	 * left out. The same set as handed to the path engine: ncand of them,
	 * allocated to that size (NULL when none; nine inline were 180 B a
	 * peer, most members have one to three). */
	struct mesh_ep *pcand;
	struct mesh_path_choice choice;
	struct mesh_pmtu pmtu;		/* path MTU of the DIRECT path (node_paths.c) */
	/* anti-abuse: ACK token bucket, answered txids (their low 32 bits),
	 * PUNCH limits */
	mtime_ns ack_refill;
	mtime_ns punch_rx_at;		/* last PUNCH from this origin acted on */
	mtime_ns punch_tx_at;		/* last PUNCH we sent about this target */
	mtime_ns farewell_at;		/* see farewell */
	uint32_t ack_tokens;
	unsigned ack_seen_pos;
	uint32_t ack_seen[NODE_ACK_SEEN];
	union endpoint hint;		/* the join request's source */
	uint8_t ncand;
	uint8_t ninst, nrefused;
	uint8_t node_id[MESH_NODE_ID_LEN];
	char name[MESH_NAME_MAX + 1];
	uint8_t wg_pk[MESH_WG_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];
	struct mesh_probe_key pkey;	/* secret */
	bool have_pkey;
	bool admin;
	bool warm;			/* see NODE_IDLE_AFTER_S */
	bool nat_anchor;		/* idle, probed for our NAT mapping */
	bool relay_warm;		/* kept warm as a relay candidate */
	bool relay_cand;		/* its record says it offers relaying */
	bool pinned;			/* reached over our TCP entry: path
					 * selection leaves its WireGuard
					 * endpoint alone (mesh_node_peer_pin) */
	bool farewell;			/* revoked; dropped at farewell_at */
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
	struct node_dirty *dirty;	/* changes not in the store yet */
	size_t ndirty, dirty_cap;
	bool flush_armed;		/* flush_at is set */
	bool flush_retry;		/* the last flush failed: wait for flush_at */
	mtime_ns flush_at;		/* next mesh_node_flush() from the timers */
	uint64_t flushes, flush_busy;	/* flushes written / failed (retried) */
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
		uint8_t nwit;		/* witnesses below (distinct members) */
		uint8_t wit[NODE_REFL_WIT][MESH_NODE_ID_LEN];
	} refl[NODE_REFL_MAX];
	uint8_t wg_sk[MESH_WG_KEY_LEN];	/* secret: probe keys */
	uint8_t dst_hkey[16];		/* random: probe budget table key */
	struct {
		bool used;
		uint8_t key[1 + 8];	/* family, IPv4 address or IPv6 /64 */
		struct mesh_bucket b;
	} dst[NODE_DST_N];
	uint64_t probes_denied;		/* by the per-destination budget */
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
					 * node_routes_recompute() */
	bool cands_dirty;		/* installed routes changed since the last
					 * cands_refresh() */

	struct mesh_relay *relay;	/* relaying and synthetic endpoints */
	bool relay_on;			/* offer and use relays (default on) */
	uint64_t probe_acks;		/* PROBE_ACKs accepted (mesh_node_probe_acks) */
	bool relays_dirty;		/* paths or records changed since the
					 * last node_relays_refresh() */
	mtime_ns relays_at;		/* next periodic node_relays_refresh() */
	uint16_t pmtu_min;		/* smallest known path MTU of any peer; 0 none */

	/* certificates (node_admin.c): the lifetime of those we issue, the
	 * admin's next renewal scan, our own expiry warning */
	uint64_t cert_ttl_s;
	mtime_ns renew_at;
	uint64_t cert_warned;		/* unix s of the last log warning; 0 never */
};

/* ---- small helpers used everywhere ---- */

static inline bool id_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, MESH_NODE_ID_LEN) == 0;
}

static inline void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, arg);
}

/* the node files' name for util/err.h's message formatter */
#define set_errf meshd_errf

/* Every entry point starts here: the time of this call for all that follows. */
static inline void enter(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	n->now = now;
	n->now_unix = now_unix;
}

/* node_peers.c */
/* Borrowed pointer to the member with node id id, or NULL. */
struct npeer *node_peer_find(const struct mesh_node *n, const uint8_t *id);
/* Frees p (path engine, probe key wiped); its wg peer is the caller's. */
void node_peer_free(struct npeer *p);
/* Removes p for good: routes, wg peer, gossip reachability; frees it. */
void node_peer_drop(struct mesh_node *n, struct npeer *p);
/* The records event callback (mesh/records.h): store and wg follow. */
void node_on_record_event(void *ctx, const struct mesh_rec_event *ev);
/* Stores revocations that raised no event (call after every merge). */
void node_sweep_revocations(struct mesh_node *n);
/* The store_member row for cert c (bytes: its encoding); 0 or MESHD_E_INVAL. */
int node_member_from_cert(struct store_member *m, const struct mesh_cert *c,
    const uint8_t *bytes, size_t len, uint64_t now_unix);
/* Encodes c into buf; 0 or the encoder's MESHD_E_*. */
int node_cert_to_bytes(const struct mesh_cert *c, uint8_t *buf, size_t cap, size_t *len);

/* node.c */
/* res: no action (every entry point that returns one starts here). */
void node_result_reset(struct mesh_node_result *res);

/* node_store.c */
/* Marks the record(s) what (NODE_DIRTY_*) of node id for the next flush;
 * nothing while loading. Arms the flush timer on the first mark. */
void node_mark_dirty(struct mesh_node *n, const uint8_t *id, unsigned what);
/* The revocations row for the revocation record bytes, decoded into *rv;
 * 0 or MESHD_E_PROTO (too long, does not decode, time out of range). */
int node_revocation_row(struct store_revocation *row, struct mesh_revoke *rv,
    const uint8_t *bytes, size_t len);
/* The records row for node id's record of kind (ENDPOINTS, ROUTES) with
 * sequence number seq, stored at now_unix; 0 or MESHD_E_INVAL (seq over
 * INT64_MAX, record too long). */
int node_record_row(struct store_record *row, enum mesh_rec_kind kind, const uint8_t *id,
    uint64_t seq, const uint8_t *bytes, size_t len, uint64_t now_unix);

/* node_paths.c */
/* RFC 1918, CGNAT, link-local or ULA: reachable on its own network only. */
/* The address of ep in MESH_FAMILY_* terms; false for no IP endpoint. */
bool node_ep_addr(const union endpoint *ep, uint8_t *family, uint8_t addr[16]);
/* ep as a record entry of the given source; false when it is no valid one. */
bool node_ep_to_mesh(const union endpoint *ep, uint8_t source, struct mesh_ep *out);
/* The probe key with p's current WireGuard key (p->have_pkey says if set). */
void node_peer_key_init(struct mesh_node *n, struct npeer *p);
/* Gives p its path engine (ctx p) and fresh ACK limits; 0 or MESHD_E_*. */
int node_peer_path_init(struct mesh_node *n, struct npeer *p);
/* Rebuilds p's candidates from e (may be NULL) and its hint; see there. */
void node_peer_set_candidates(struct mesh_node *n, struct npeer *p,
    const struct mesh_endpoints *e);
/* Underlay PROBE / PROBE_ACK (first byte MESH_MSG_MAGIC). */
void node_probe_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len);
/* The smallest known path MTU over all peers, into n->pmtu_min. */
void node_pmtu_min_update(struct mesh_node *n);
/* In-tunnel PUNCH from member from. */
void node_punch_input(struct mesh_node *n, struct npeer *from, const uint8_t *m, size_t len);
/* When node_paths_expiry() has work: an idle peer with fresh data (now),
 * or a warm one due to go idle. */
mtime_ns node_paths_next_expiry(const struct mesh_node *n);
/* The idle policy: warms peers with traffic (a full probe round, a punch
 * request, keepalives on), cools down the quiet ones, picks the NAT
 * anchors, and retries the handshake of warm peers whose path answers
 * but that have no session yet. */
void node_paths_expiry(struct mesh_node *n);

/* node_endpoints.c */
/* Signs, stores and gossips our endpoint record with eps; 0 or MESHD_E_*. */
int node_sign_endpoints(struct mesh_node *n, const struct mesh_ep *eps, uint8_t nep);
/* Our endpoint set: the daemon's and the reflexive ones, cut to the max. */
void node_endpoints_merge(const struct mesh_node *n, struct mesh_endpoints *e);
/* A member's ACK says it saw our probe come from observed. */
void node_refl_note(struct mesh_node *n, const union endpoint *observed,
    const uint8_t witness[MESH_NODE_ID_LEN]);
/* Drops reflexive endpoints not reported for NODE_REFL_TTL_S. */
void node_refl_expire(struct mesh_node *n);

/* node_routes.c */
/* Every installed route of p goes (revocation, expiry, farewell). */
void node_routes_uninstall_all(struct mesh_node *n, struct npeer *p);
/* Puts p's installed routes back into its (new or cleared) wg peer. */
void node_routes_rewire(struct mesh_node *n, struct npeer *p);
/* Installs and removes routes so every member has what it should. */
void node_routes_recompute(struct mesh_node *n);

/* node_relay.c */
/* Creates n->relay with the node as its member oracle; 0 or MESHD_E_*. */
int node_relay_new(struct mesh_node *n);
/* Every peer's relay candidates and our own offer, now. */
void node_relays_refresh(struct mesh_node *n);
/* Underlay RELAY / RELAYED; res (reset by the caller) gets the action. */
void node_relay_input(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len, struct mesh_node_result *res);

/* node_admin.c */
/* Admin nodes: creates n->inv, the join inviter backed by the store; 0 or
 * MESHD_E_*. */
int node_inviter_new(struct mesh_node *n);
/* After the inviter admitted a joiner: merge and gossip its cert. */
void node_publish_admitted(struct mesh_node *n, const union endpoint *src);
/* Certificate renewal (admins) and our expiry warning, for the timers:
 * the earlier of t and the next deadline of these. */
mtime_ns node_certs_next_expiry(const struct mesh_node *n, mtime_ns t);
void node_certs_handle_expiry(struct mesh_node *n);
/* True when our cert is past its renewal time by a grace period with no
 * renewal arrived: no admin has been reachable. */
bool node_cert_unrenewed(const struct mesh_node *n);

#endif
