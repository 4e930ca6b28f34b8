/* A mesh node: the glue of the mesh layer, sans-I/O (docs/mesh-protocol.md
 * section 4). It owns the record set (mesh/records.h), the gossip engine
 * (mesh/gossip.h) and, on admin nodes, the join inviter (mesh/join.h); it
 * keeps the store (store/store.h) and the WireGuard device's peers (wg/wg.h)
 * in step with the records.
 *
 * The daemon (src/daemon.c) does the I/O: it hands in underlay mesh
 * datagrams (first byte MESH_MSG_MAGIC), the payloads of in-tunnel gossip
 * packets (UDP to our overlay IPv4 address, port MESH_GOSSIP_PORT, decrypted
 * by WireGuard from a known peer), the time, and our local endpoints; it
 * sends what the ops ask for and acts on the struct mesh_node_result the
 * underlay input and the relay send path return.
 *
 * Records and their effects:
 *   CERT (valid, not ours)  -> store_member_upsert; wg peer with the cert's
 *                              key, allowed IPs overlay /32 and /128,
 *                              persistent keepalive MESH_NODE_KEEPALIVE_S;
 *                              gossip reachable
 *   REVOKE / cert expired   -> store_revocation_put (revoked) and
 *                              store_member_delete; wg peer removed; gossip
 *                              unreachable. Our own revocation: see
 *                              mesh_node_revoked().
 *   ENDPOINTS (not ours)    -> store_endpoint_record_put; the peer's endpoint
 *                              candidates, handed to its path selector
 *                              (mesh/path.h): PROBE / PROBE_ACK on the
 *                              underlay (mesh/probe.h) pick the DIRECT
 *                              endpoint WireGuard uses; the ACKs also tell
 *                              us our reflexive endpoints. A peer that
 *                              roams is followed by WireGuard itself.
 *
 * Persistence. No input entry point (mesh_node_input_underlay,
 * mesh_node_input_gossip) writes records to the store: the daemon calls
 * them inside its UDP receive burst, and another process holding the
 * database's write lock (`meshd invite`) must not stall the data plane. A
 * NEW record is only marked dirty in memory; mesh_node_flush() writes every
 * mark in one transaction. mesh_node_handle_expiry() flushes whatever is
 * marked, and the first mark brings mesh_node_next_expiry() to at most
 * MESH_NODE_FLUSH_MS away, so the daemon's timer callback does the writing,
 * after the receive batch, one transaction for a whole burst. A flush that finds
 * the database locked (the daemon keeps the busy timeout short) writes
 * nothing, keeps every mark and is retried MESH_NODE_FLUSH_RETRY_MS later:
 * nothing is lost while the process lives. The calls the daemon makes
 * outside its receive path (mesh_node_set_endpoints, mesh_node_revoke,
 * mesh_node_set_advertised, mesh_node_route_set) flush before they return,
 * so what they acknowledge to the CLI is on disk unless the database was
 * locked at that moment (then the timers retry).
 * What SIGKILL can lose: the records received since the last successful
 * flush (normally the last MESH_NODE_FLUSH_MS; longer only while another
 * process holds the lock). Gossip re-delivers them after the restart: every
 * record a member accepted is held by the members it came from, and our own
 * endpoint and routes records are re-signed from the live state.
 * The join inviter (admin nodes) still reads and consumes its invite in the
 * store while answering a JOIN_REQ: the use count must be decided there.
 *
 * Our own endpoint record is signed with the node signing key, derived from
 * the WireGuard private key (mesh_node_sign_keypair); it is re-signed when
 * mesh_node_set_endpoints() changes the set and every MESH_NODE_RESIGN_S.
 *
 * Start-up (mesh_node_open) reads everything from the store: node, mesh,
 * members (certs), revocations, endpoint records; sets the device's private
 * key; merges the records (revocations first), which adds the wg peers.
 * Nothing else is needed to rejoin: no token, no inviter, no admin.
 *
 * Single-threaded; the ops run synchronously and must not call back into the
 * node (queue instead if needed).
 */
#ifndef MESHD_MESH_NODE_H
#define MESHD_MESH_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/identity.h"
#include "mesh/join.h"
#include "mesh/path.h"
#include "mesh/tcpframe.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/time.h"
#include "wg/wg.h"

enum {
	MESH_GOSSIP_PORT = 4789 + 1,	/* 4790: UDP port of in-tunnel gossip */
	MESH_NODE_KEEPALIVE_S = 25,	/* persistent keepalive on every peer */
	MESH_NODE_RESIGN_S = MESH_ENDPOINTS_TTL_S / 4,
	MESH_NODE_CERT_DAYS = 365,	/* default validity of certificates we issue
					 * (MESH_CERT_TTL_DEFAULT_S; the mesh's
					 * cert_ttl setting wins) */
	MESH_NODE_ADDR_ATTEMPTS = 64,	/* overlay address allocation retries */
	MESH_NODE_FLUSH_MS = 100,	/* first record mark -> store write */
	MESH_NODE_FLUSH_RETRY_MS = 500,	/* after a flush found the store busy */
};

#define MESH_NODE_SIGN_DOMAIN "meshd node sign v1"

struct mesh_node;

struct mesh_node_ops {
	/* An underlay datagram (a join answer) to dst, from our UDP port. */
	void (*send_underlay)(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len);
	/* A gossip payload for the member whose overlay IPv4 address is dst4:
	 * the daemon wraps it in IPv4/UDP (our overlay IPv4 -> dst4, both ports
	 * MESH_GOSSIP_PORT) and feeds it to WireGuard as if read from the TUN. */
	void (*send_gossip)(void *ctx, const uint8_t dst4[4], const uint8_t *p, size_t len);
	/* Subnet routes: a route through the mesh interface to
	 * install in / remove from the kernel routing table. Called when a
	 * member's INSTALLED set changes (see "Subnet routes" below). May be
	 * NULL (tests). Return value ignored (the daemon logs failures). */
	void (*route_add)(void *ctx, const struct mesh_prefix *r);
	void (*route_del)(void *ctx, const struct mesh_prefix *r);
};

/* What the daemon does once mesh_node_input_underlay() or
 * mesh_node_wrap_relay() has returned, the way it acts on a wg_result: the
 * relay path is one call down and one return, the node never calls back
 * into the daemon or the device on it. At most one action per call. */
enum mesh_node_act {
	MESH_NODE_ACT_NONE = 0,
	/* Send buf[0, len) from our UDP port to ep: a join answer, a RELAY we
	 * wrapped, a RELAYED we forward for others. */
	MESH_NODE_ACT_SEND,
	/* A WireGuard datagram that came through a relay: give buf[0, len)
	 * (8-byte aligned, writable) to the normal datagram input
	 * (wg_input_datagram, then the TUN or the in-tunnel hook) with the
	 * synthetic source ep (mesh/relay.h); then mesh_node_unroam(). */
	MESH_NODE_ACT_WG_INPUT,
};

enum { MESH_NODE_RESULT_MAX = 1536 };	/* >= MESH_RELAY_DGRAM_MAX, MESH_MSG_DGRAM_MAX */

struct mesh_node_result {
	enum mesh_node_act act;
	union endpoint ep;		/* SEND: destination; WG_INPUT: source */
	size_t len;
	/* WG_INPUT: our own path to the datagram's origin is DIRECT. The
	 * origin may still be on the relay for a moment, but we keep the
	 * direct path we measured: WireGuard's roaming to the synthetic
	 * source is undone by mesh_node_unroam(). */
	bool unroam;
	uint8_t unroam_pk[MESH_WG_KEY_LEN];	/* the origin's WireGuard key */
	union endpoint unroam_ep;		/* its direct endpoint */
	_Alignas(8) uint8_t buf[MESH_NODE_RESULT_MAX];
};

/* After the daemon handed a WG_INPUT result to WireGuard: when res says so
 * and the origin's wg peer now has a synthetic endpoint, puts its direct
 * endpoint back. Touches only wg (the peer is found by key: the datagram
 * may have changed the membership); no node state. */
void mesh_node_unroam(struct wg_device *wg, const struct mesh_node_result *res);

struct mesh_node_cfg {
	struct store *st;		/* borrowed; opened by the caller */
	struct wg_device *wg;		/* borrowed; peers are the node's to manage */
	struct mesh_node_ops ops;
	void *ctx;
};

/* The node signing key pair (Ed25519), derived from the WireGuard private
 * key: seed = BLAKE2b-256(key = wg_sk, MESH_NODE_SIGN_DOMAIN). Its public key
 * is the cert's sign_pk. Returns 0 or MESHD_E_CRYPTO; wipe sk after use. */
int mesh_node_sign_keypair(const uint8_t wg_sk[MESH_WG_KEY_LEN], uint8_t pk[MESH_PK_LEN],
    uint8_t sk[MESH_SK_LEN]);

/* Loads the node from the store and configures wg (private key, peers).
 * Returns 0; MESHD_E_NOENT (store not initialised: no node or no mesh row,
 * or our own cert missing); MESHD_E_EXPIRED (our own cert expired);
 * MESHD_E_PERM (we are revoked); other MESHD_E_*. On failure *out is NULL
 * and err holds one line for the user. */
int mesh_node_open(struct mesh_node **out, const struct mesh_node_cfg *cfg, mtime_ns now,
    uint64_t now_unix, char *err, size_t errlen);
/* Frees the node (the wg peers stay; the device is the caller's). NULL ok. */
void mesh_node_free(struct mesh_node *n);

/* An underlay datagram starting with MESH_MSG_MAGIC. res says what to do
 * next (always set): JOIN_REQ on an admin node goes to the inviter, whose
 * answer is res's SEND; RELAY (we relay) becomes a SEND of the RELAYED;
 * RELAYED (from a relay) becomes a WG_INPUT. PROBE and PROBE_ACK are the
 * path engine's (answers through ops.send_underlay). Anything else is
 * dropped silently. */
void mesh_node_input_underlay(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix, struct mesh_node_result *res);
/* The UDP payload of an in-tunnel gossip packet that WireGuard decrypted
 * from peer (its source address already checked against the peer's allowed
 * IPs by WireGuard). Unknown peers and malformed payloads: dropped. */
void mesh_node_input_gossip(struct mesh_node *n, struct wg_peer *peer, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix);

/* Timers: gossip rounds, record expiry, endpoint candidate rotation, our
 * endpoint record's re-signing, and the store flush (last). */
mtime_ns mesh_node_next_expiry(const struct mesh_node *n);
void mesh_node_handle_expiry(struct mesh_node *n, mtime_ns now, uint64_t now_unix);

/* Writes every record change marked since the last flush to the store, in
 * one transaction (see "Persistence" above); the timers call it when due,
 * the daemon also before it frees the node. Returns 0 (nothing dirty left);
 * MESHD_E_AGAIN (the database is locked by another process) or another
 * MESHD_E_* from the store: nothing written, every mark kept, and the
 * timers retry after MESH_NODE_FLUSH_RETRY_MS. */
int mesh_node_flush(struct mesh_node *n, mtime_ns now, uint64_t now_unix);
/* True while record changes wait for a flush. */
bool mesh_node_dirty(const struct mesh_node *n);

/* Our current local endpoints (any order, at most MESH_ENDPOINTS_MAX used;
 * invalid ones skipped). When the set differs from the one in our record,
 * signs a new endpoint record, stores it and gossips it at once. Returns 0
 * or a negative MESHD_E_*. */
int mesh_node_set_endpoints(struct mesh_node *n, const struct mesh_ep *eps, size_t count,
    mtime_ns now, uint64_t now_unix);

/* Our local prefixes (interface address + prefix length, both families),
 * for path selection to tell a same-LAN candidate (mesh/path.h). The daemon
 * passes them with every endpoint scan. Returns 0 or a negative MESHD_E_*. */
int mesh_node_set_local_prefixes(struct mesh_node *n, const struct mesh_prefix *p,
    size_t count, mtime_ns now);

/* The network changed (an address, link or default route came or went:
 * rtnetlink): every peer's path is re-probed at once (punch rounds), so a
 * roaming node finds its new paths within about a second. The daemon also
 * rescans endpoints (mesh_node_set_endpoints) right after. */
void mesh_node_network_changed(struct mesh_node *n, mtime_ns now, uint64_t now_unix);

/* ---- path MTU (mesh/pmtu.h) ----
 *
 * Every DIRECT path's MTU is searched with padded probes; the daemon adds
 * what the kernel learns (ICMP too-big, local EMSGSIZE) and asks, for big
 * packets read from the TUN, how large an inner packet may be. */

/* The kernel says datagrams to dst (its port 0: any port) above mtu bytes
 * of IP packet do not pass. */
void mesh_node_path_mtu_hint(struct mesh_node *n, const union endpoint *dst, unsigned mtu,
    mtime_ns now, uint64_t now_unix);
/* The largest inner packet (bytes) that the path to the peer routing pkt's
 * destination carries, for a TUN MTU of tun_mtu; 0 when not limited (no
 * such peer, no known path MTU, or pkt fits every known path). Cheap when
 * no path is small: safe to call for every packet. */
unsigned mesh_node_inner_mtu(const struct mesh_node *n, const uint8_t *pkt, size_t len,
    unsigned tun_mtu);

/* Admin only: revokes the member called name: signs the revocation, stores
 * it, removes the member, gossips the revocation at once. Returns 0;
 * MESHD_E_PERM (not an admin node); MESHD_E_NOENT (no such member);
 * MESHD_E_INVAL (that is this node). */
int mesh_node_revoke(struct mesh_node *n, const char *name, mtime_ns now, uint64_t now_unix);

/* True once a revocation of this node has arrived (the daemon then stops:
 * every peer has dropped us). */
bool mesh_node_revoked(const struct mesh_node *n);

/* ---- relays (mesh/relay.h) ----
 *
 * A member offers relaying when its own endpoint record holds a PORTMAP
 * endpoint or a LOCAL public address; nothing else is announced. For a
 * peer B without a direct path, the path engine picks the offering member
 * R with the lowest RTT among those we have a direct path with; B's
 * WireGuard endpoint becomes the synthetic [100::handle]:1 and datagrams to
 * it must go to mesh_node_wrap_relay() instead of the socket. Underlay
 * RELAY datagrams are forwarded (when we offer, under the rules of
 * mesh/relay.h), RELAYED ones come back as a WG_INPUT result. Direct
 * probing goes on and a direct path takes over when it answers. */

/* On (the default): offer relaying when our record allows it and use
 * relays; off: neither (MESHD_RELAY=0 in the daemon). */
void mesh_node_set_relay(struct mesh_node *n, bool on);

/* WireGuard wants to send dgram to dst. False: dst is not synthetic (send
 * it to the socket as usual). True: taken: res is a SEND of the RELAY to
 * the relay's endpoint, or NONE when the relay is not usable (dropped).
 * res is always set. Does not enter the path engines: safe from the send
 * path, also while the node is calling WireGuard. */
bool mesh_node_wrap_relay(struct mesh_node *n, const union endpoint *dst, const uint8_t *dgram,
    size_t len, mtime_ns now, uint64_t now_unix, struct mesh_node_result *res);

struct mesh_relay_stats;
/* Relay counters (mesh/relay.h). */
void mesh_node_relay_stats(const struct mesh_node *n, struct mesh_relay_stats *out);

struct mesh_gossip_stats;
/* Gossip engine counters (mesh/gossip.h), for metrics. */
void mesh_node_gossip_stats(const struct mesh_node *n, struct mesh_gossip_stats *out);

/* ---- subnet routes (records in mesh/routes.h) ----
 *
 * A member ADVERTISES prefixes in a ROUTES record signed by itself (kind
 * MESH_REC_ROUTES, newest seq wins, gossiped like endpoint records). An
 * admin APPROVES a prefix for a member by re-issuing the member's
 * certificate with the prefix in its routes (cert.routes; a newer issued_at
 * replaces the old cert everywhere). Every member INSTALLS, for every other
 * member, the prefixes that are both approved and advertised (withdrawing
 * an advertisement therefore removes the route everywhere without an admin;
 * revocation removes everything): added to that member's wg peer allowed
 * IPs and handed to ops.route_add. A prefix is not installed (and a warning
 * logged once) when it overlaps our own overlay prefixes, overlaps a prefix
 * already installed for another member, or covers the current endpoint
 * address of any peer (that would route the tunnel into itself). Our own
 * approved routes are never installed here: we are their gateway. */

/* Our advertised prefixes (`up --advertise-routes`, `set`): validated
 * (mesh_routes_check_advert), then, when they differ from our current
 * ROUTES record, a new record is signed, stored and gossiped at once.
 * count 0 withdraws everything. Returns 0; MESHD_E_INVAL with err set (bad
 * or overlapping prefix, one that overlaps the overlay); other MESHD_E_*. */
int mesh_node_set_advertised(struct mesh_node *n, const struct mesh_prefix *r, size_t count,
    mtime_ns now, uint64_t now_unix, char *err, size_t errlen);

/* Admin only: approve (true) or deny (false: remove from the approved set)
 * prefix r for member name, by re-issuing its certificate (same expiry
 * rule as new members: the cert_ttl setting from now); stored and gossiped at once.
 * Approving needs no advertisement (it is installed once advertised).
 * Returns 0; MESHD_E_PERM (not admin); MESHD_E_NOENT (no such member, or
 * deny of a prefix not approved); MESHD_E_EXIST (approve: already
 * approved); MESHD_E_INVAL with err set (invalid, overlaps the overlay or a
 * prefix approved for another member: err names it); MESHD_E_FULL (16
 * approved routes already). */
int mesh_node_route_set(struct mesh_node *n, const char *name, const struct mesh_prefix *r,
    bool approve, mtime_ns now, uint64_t now_unix, char *err, size_t errlen);

/* Whether member name (us included) advertises exactly r in its ROUTES
 * record, as we hold it: an approval of a prefix not (yet) advertised is
 * valid, but installs nothing until it is. */
bool mesh_node_member_advertises(const struct mesh_node *n, const char *name,
    const struct mesh_prefix *r);

/* ---- status ---- */

struct mesh_node_self {
	char name[MESH_NAME_MAX + 1];
	char mesh_name[MESH_NAME_MAX + 1];
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t wg_pk[MESH_WG_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];		/* overlay addresses */
	struct mesh_prefix prefix4, prefix6;	/* the mesh's overlay prefixes */
	bool admin;				/* holds the authority key */
	uint8_t nep;
	struct mesh_ep ep[MESH_ENDPOINTS_MAX];	/* in our current record */
	size_t members;				/* valid members, us included */
	uint8_t nadv, nappr;			/* our subnet routes: advertised, */
	struct mesh_prefix adv[MESH_CERT_MAX_ROUTES];	/* approved (our cert) */
	struct mesh_prefix appr[MESH_CERT_MAX_ROUTES];
	uint64_t cert_expires_at;		/* our certificate, unix s */
	bool cert_unrenewed;			/* less than a third of its life
						 * left and no admin renewed it */
};
void mesh_node_get_self(const struct mesh_node *n, struct mesh_node_self *out);

/* PROBE_ACKs accepted so far: the daemon compares it around an input call
 * to learn that a member answered (the TCP fallback's "UDP works"). */
uint64_t mesh_node_probe_acks(const struct mesh_node *n);

/* A probe round to every member now (budgeted like any punch): the TCP
 * fallback's periodic UDP retry. */
void mesh_node_reprobe(struct mesh_node *n, mtime_ns now, uint64_t now_unix);

/* UDP is down (the TCP fallback is up through member except_id): every
 * other member's direct paths are dead at once (mesh_path_udp_lost), so
 * relaying through that member starts now; that member gets a probe round
 * at once unless its path is direct already. */
void mesh_node_udp_lost(struct mesh_node *n, const uint8_t except_id[MESH_NODE_ID_LEN],
    mtime_ns now, uint64_t now_unix);

/* A member reaches us over our TCP entry at ep (the daemon's synthetic
 * endpoint for the connection), or no longer does (ep NULL): while pinned
 * its WireGuard endpoint is ep at once (so its RELAYs pass the relay's
 * source check before it sent WireGuard over the connection), path
 * selection does not move it, and status says so. Unpinning puts the
 * endpoint of its current path, or its best candidate, back. */
void mesh_node_peer_pin(struct mesh_node *n, const uint8_t node_id[MESH_NODE_ID_LEN],
    const union endpoint *ep);

/* The TCP fallback client's frames (mesh/tcpframe.h mesh_tcp_cli_on_frame)
 * with our node signing key, which stays inside the node. */
int mesh_node_tcp_cli_frame(const struct mesh_node *n, struct mesh_tcp_cli *c,
    const uint8_t *frame, size_t len, mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME]);

/* The TCP entry's membership check (mesh/tcpframe.h mesh_tcp_member_pk_fn):
 * true, with the signing key of its certificate, when
 * node_id is a current member other than us (not revoked). */
bool mesh_node_member_sign_pk(const struct mesh_node *n, const uint8_t node_id[MESH_NODE_ID_LEN],
    uint8_t pk[MESH_PK_LEN]);

struct mesh_node_peer {
	char name[MESH_NAME_MAX + 1];
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint8_t wg_pk[MESH_WG_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];
	bool admin;
	struct wg_peer *peer;			/* for wg_peer_get_info(); may be NULL */
	uint8_t nep;
	struct mesh_ep ep[MESH_ENDPOINTS_MAX];	/* its current record; nep 0: none */
	uint8_t path;				/* enum mesh_path_kind (mesh/path.h) */
	int32_t rtt_ms;				/* smoothed probe RTT; -1 unknown */
	uint16_t mtu;				/* path MTU (IP bytes); 0 unknown */
	uint8_t via[MESH_NODE_ID_LEN];		/* path RELAY: the relay's node id */
	char via_name[MESH_NAME_MAX + 1];	/* and name ("" otherwise) */
	uint8_t nadv, nappr, ninst;		/* subnet routes: advertised, approved */
	struct mesh_prefix adv[MESH_CERT_MAX_ROUTES];	/* (its cert), installed here */
	struct mesh_prefix appr[MESH_CERT_MAX_ROUTES];
	struct mesh_prefix inst[MESH_CERT_MAX_ROUTES];
	uint64_t cert_expires_at;		/* its certificate, unix s */
	bool pinned;				/* reaches us over our TCP entry */
	uint8_t ncand;				/* its direct candidates, as probed */
	struct mesh_path_cand_stats cand[PATH_CAND_MAX];
	uint64_t probes_denied;			/* by the per-address budget */
	uint64_t punches_held;			/* punch rounds deferred */
};
/* Calls fn for every other valid member, in name order. fn returns 0 to go
 * on; anything else stops the walk and is returned. */
typedef int mesh_node_peer_fn(void *ctx, const struct mesh_node_peer *p);
int mesh_node_foreach_peer(const struct mesh_node *n, mesh_node_peer_fn *fn, void *ctx);

/* Name lookup for the DNS responder: label is one lowercase DNS label (a
 * member name, us included). 0 and both overlay addresses, or
 * MESHD_E_NOENT. */
int mesh_node_lookup_name(const struct mesh_node *n, const char *label, uint8_t v4[4],
    uint8_t v6[16]);

/* ---- joining (used by `meshd join` before any daemon runs) ---- */

/* Writes a successful join to an empty store in ONE transaction: the node
 * row (name, wg private key, listen port, ifname), the mesh row (no
 * authority key), our member row (the new cert) and every roster record
 * (certs as members, revocations, endpoint records; a record that does not
 * verify is skipped). Returns 0; MESHD_E_EXIST (the store already holds a
 * node); other MESHD_E_* with nothing written. */
int mesh_node_persist_join(struct store *st, const struct mesh_join_result *res,
    const uint8_t wg_sk[MESH_WG_KEY_LEN], uint16_t listen_port, const char *ifname,
    uint64_t now_unix);

/* Creates a new mesh in an empty store (`meshd init`): authority key pair,
 * mesh id, prefixes (prefix4 NULL: a random /16 in 100.64.0.0/10; the ULA /48
 * from the mesh id), our node keys and id, our admin certificate and member
 * row, the node and mesh rows; one transaction. mesh_name NULL: "mesh".
 * Returns 0; MESHD_E_EXIST (already initialised); MESHD_E_INVAL (bad name or
 * prefix: err says which); other MESHD_E_*. */
int mesh_node_init_store(struct store *st, const char *name, const char *mesh_name,
    const struct mesh_prefix *prefix4, uint16_t listen_port, const char *ifname,
    uint64_t now_unix, char *err, size_t errlen);

/* Adds an invite to the store (`meshd invite`, admin only): a fresh secret,
 * its invite key's id and public key, expiry now_unix + ttl_s, uses. Fills
 * tok (mesh pin, secret, expiry; the caller adds the endpoints and encodes
 * it, then wipes it). Returns 0; MESHD_E_PERM (not an admin node);
 * MESHD_E_INVAL (ttl 0 or beyond the token's 32-bit expiry, uses 0); other
 * MESHD_E_*. */
int mesh_node_add_invite(struct store *st, uint64_t ttl_s, uint32_t uses, uint64_t now_unix,
    struct mesh_token *tok);

/* The stored TCP entry port (MESH_TCP_PORT_SETTING; 0: off, also when
 * absent). Returns 0, MESHD_E_INVAL for a stored value that is no port, or
 * the store's error. */
int mesh_node_tcp_port(struct store *st, uint16_t *port);

/* `meshd init --cert-ttl` (admin store, no daemon): member certificates
 * last ttl_s (MESH_CERT_TTL_MIN_S..MESH_CERT_TTL_MAX_S) from now on: the
 * mesh setting MESH_CERT_TTL_SETTING is written and our own cert re-issued
 * with that lifetime from its issue time, in one transaction. Admins renew
 * every cert (theirs included) once less than a third of its life is left
 * (mesh/cert.h mesh_cert_renewal) and gossip the renewal. Returns 0;
 * MESHD_E_INVAL (ttl out of range); MESHD_E_PERM (not an admin store);
 * other MESHD_E_*. */
int mesh_node_set_cert_ttl(struct store *st, uint64_t ttl_s);

/* Offline revocation (`meshd revoke` with no daemon running): signs the
 * revocation, stores it and deletes the member, in one transaction; the
 * next start gossips it. Returns as mesh_node_revoke(). */
int mesh_node_revoke_offline(struct store *st, const char *name, uint64_t now_unix);

#endif
