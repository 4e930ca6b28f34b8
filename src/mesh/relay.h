/* Relaying WireGuard ciphertext through a third member, sans-I/O
 * (docs/architecture.md §3 "Relay").
 *
 * When no direct path between A and B works, A sends its WireGuard datagrams
 * for B to a member R that both reach and that offers relaying (a member with
 * a public or port-mapped address), and R passes them on. R sees ciphertext
 * only: end-to-end encryption is WireGuard's, unchanged.
 *
 *	RELAY    A -> R:  u8 'M' | u8 6 | dst node id[16] | WireGuard datagram
 *	RELAYED  R -> B:  u8 'M' | u8 7 | src node id[16] | WireGuard datagram
 *
 * The inner datagram is opaque: 4..MESH_RELAY_INNER_MAX bytes that look like
 * WireGuard (wg_is_wg_datagram). R rewrites RELAY into RELAYED in place (same
 * length: only the type and the id change) and sends it to B's current
 * endpoint. These are the only mesh datagrams larger than MESH_MSG_DGRAM_MAX.
 *
 * Relay rules (mesh_relay_forward, R side). Forward only when
 *   - this node offers relaying (a node setting);
 *   - the source is a member with a live WireGuard session whose current
 *     endpoint is exactly the datagram's source (no open relay: an outsider,
 *     or a member spoofing another's address, gets nothing forwarded);
 *   - dst is another member (dst != src) with a live session and an endpoint;
 *   - the inner datagram looks like WireGuard and is at most 1500 bytes;
 *   - the source's token bucket (packets) and the global byte budget allow.
 * Everything else is dropped silently and counted (mesh_relay_get_stats).
 * The checks run cheapest first (framing, offer, payload, then the source
 * by address through a cache, see MESH_RELAY_SRC_CACHE); the per-source
 * bucket is charged only once dst is known to be a member, so an off-path
 * host that spoofs a member's address but cannot name a member gets
 * nothing forwarded and drains nothing. Neither message is ever answered
 * to its source: a RELAY goes on to dst at its own length, a RELAYED to
 * WireGuard, which answers only authenticated packets.
 *
 * Synthetic endpoints. WireGuard knows nothing of relays: it sends to a
 * peer's endpoint and roams a peer's endpoint to the source of its last
 * authenticated datagram. So a relayed peer's endpoint is a synthetic IPv6
 * endpoint [100::<64-bit handle>]:1 in 100::/64 (RFC 6666 discard-only
 * prefix: never routed, never a real source) whose handle names an entry
 * (relay id, peer id) in a small table owned by this module; the handle
 * carries a generation so a recycled slot never answers for an old handle.
 *   - Sender (A): when path selection picks RELAY via R for peer B, the node
 *     sets B's WireGuard endpoint to mesh_relay_synth_make(R, B). The daemon's
 *     send path checks mesh_relay_is_synth(dst) (a cheap prefix compare) and
 *     calls mesh_relay_wrap(): RELAY(dst B) to R's current endpoint.
 *   - Receiver (B): a RELAYED from R carrying A's datagram is accepted by
 *     mesh_relay_receive() only if it comes from the current endpoint of a
 *     member R that B considers a relay; the inner datagram goes to
 *     wg_input_datagram() with source synth(R, A). WireGuard's roaming then
 *     sets A's endpoint to it, and B's answers go back through R as
 *     RELAY(dst A). When a direct path answers later, the node sets the real
 *     endpoint again and the synthetic one falls out of use.
 *
 * Relay RTT (mesh_relay_rtt): probing through the relay is not done. The RTT
 * handed to mesh_path_set_relays() is our direct-path RTT to the relay plus
 * the RTT the relay advertises to the target when known, else ours alone (an
 * underestimate, which only matters when choosing between relays).
 *
 * Rate limits use "now" from the caller; nothing here reads a clock, sends,
 * or allocates after mesh_relay_new().
 */
#ifndef MESHD_MESH_RELAY_H
#define MESHD_MESH_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "mesh/wire.h"
#include "util/addr.h"
#include "util/time.h"

enum {
	MESH_RELAY_HDR_LEN = MESH_MSG_HDR_LEN + MESH_NODE_ID_LEN,	/* 18 */
	MESH_RELAY_INNER_MIN = 4,	/* a WireGuard message header */
	MESH_RELAY_INNER_MAX = 1500,
	MESH_RELAY_DGRAM_MAX = MESH_RELAY_HDR_LEN + MESH_RELAY_INNER_MAX,

	/* Per-source token bucket: rate and depth, in datagrams. 8000/s is
	 * about 90 Mbit/s of full-size datagrams, just under the global
	 * budget; the depth lets a TCP window's burst through. 2000/s with a
	 * depth of 200, the first values, held a relayed TCP transfer to
	 * 12 Mbit/s (tcp_fallback.sh step 3: 84.5 Mbit/s now). */
	MESH_RELAY_SRC_PPS = 8000,
	MESH_RELAY_SRC_BURST = 1000,
	MESH_RELAY_BYTES_PER_S = 12500000,	/* global budget: 100 Mbit/s */
	MESH_RELAY_BYTES_BURST = 1000000,
	MESH_RELAY_SRC_MAX = 64,	/* sources with a bucket (LRU beyond) */
	/* Source lookups. A RELAY or RELAYED names its sender only by its
	 * address, which anyone can send from; finding the member at an
	 * address walks every member (member_at). So members found once are
	 * remembered by address (a hashed, two-way cache, each hit confirmed
	 * by the cheap member_endpoint), and walks for addresses not in it are
	 * capped globally: junk from spoofed addresses costs a hash probe,
	 * and cannot evict a member (only a found member is cached). */
	MESH_RELAY_SRC_CACHE = 4096,	/* slots, a power of two */
	MESH_RELAY_LOOKUP_PER_S = 200,	/* member_at walks per second */
	MESH_RELAY_LOOKUP_BURST = 200,

	MESH_RELAY_SYNTH_MAX = 64,	/* synthetic endpoint table (LRU beyond) */
	MESH_RELAY_SYNTH_PORT = 1,
};

/* A decoded RELAY or RELAYED; inner points into the decoded buffer. */
struct mesh_relay_msg {
	uint8_t type;				/* MESH_MSG_RELAY or MESH_MSG_RELAYED */
	uint8_t id[MESH_NODE_ID_LEN];		/* RELAY: dst; RELAYED: src */
	const uint8_t *inner;
	size_t inner_len;
};

/* Writes 'M' | type | id | inner into out (cap bytes). inner may overlap out
 * (e.g. inner == out + MESH_RELAY_HDR_LEN to frame in place). Returns the
 * length, or 0 when type is not RELAY/RELAYED, inner_len is out of
 * [MESH_RELAY_INNER_MIN, MESH_RELAY_INNER_MAX] or cap is too small. */
size_t mesh_relay_encode(uint8_t type, const uint8_t id[MESH_NODE_ID_LEN],
    const uint8_t *inner, size_t inner_len, uint8_t *out, size_t cap);

/* Strict decode. 0; MESHD_E_PROTO (no magic, another type, shorter than a
 * header plus MESH_RELAY_INNER_MIN); MESHD_E_RANGE (inner longer than
 * MESH_RELAY_INNER_MAX). The inner bytes are not examined here. */
int mesh_relay_decode(const uint8_t *p, size_t len, struct mesh_relay_msg *out);

/* Lookups the relay needs from the node. "Live session": a WireGuard
 * session that is currently usable (a handshake within REJECT_AFTER_TIME).
 * member_at: the member whose current endpoint is src and that has a live
 * session; copies its node id to id and returns true, else false.
 * member_endpoint: the current endpoint of member id if it has a live
 * session and an endpoint (true), else false.
 * is_relay: whether we use member id as a relay (it is one of our relay
 * candidates); RELAYED from anyone else is dropped. */
typedef bool mesh_relay_member_at_fn(void *ctx, const union endpoint *src,
    uint8_t id[MESH_NODE_ID_LEN]);
typedef bool mesh_relay_member_endpoint_fn(void *ctx, const uint8_t id[MESH_NODE_ID_LEN],
    union endpoint *out);
typedef bool mesh_relay_is_relay_fn(void *ctx, const uint8_t id[MESH_NODE_ID_LEN]);

struct mesh_relay_cfg {
	mesh_relay_member_at_fn *member_at;		/* required */
	mesh_relay_member_endpoint_fn *member_endpoint;	/* required */
	mesh_relay_is_relay_fn *is_relay;		/* required */
	void *ctx;
	bool offer;		/* forward for others (mesh_relay_set_offer) */
	/* Limits; 0 takes the MESH_RELAY_* default. */
	uint32_t src_pps, src_burst;
	uint64_t bytes_per_s, bytes_burst;
};

struct mesh_relay_stats {
	/* relay side */
	uint64_t forwarded, forwarded_bytes;	/* bytes: whole datagrams */
	uint64_t drop_malformed;	/* not a strict RELAY */
	uint64_t drop_not_offered;	/* we do not relay */
	uint64_t drop_source;		/* unknown source, no session, or endpoint mismatch */
	uint64_t drop_dst;		/* unknown dst, no session/endpoint, or dst == src */
	uint64_t drop_payload;		/* inner is not WireGuard */
	uint64_t drop_ratelimit;	/* per-source bucket empty */
	uint64_t drop_budget;		/* global byte budget spent */
	uint64_t drop_lookup;		/* unknown address, lookup budget spent */
	uint64_t lookups;		/* member_at walks done */
	/* receiving side */
	uint64_t received, received_bytes;
	uint64_t drop_rx;		/* RELAYED refused (malformed, not from a relay, ...) */
	/* sending side */
	uint64_t wrapped, wrapped_bytes;
	uint64_t drop_tx;		/* stale synthetic endpoint or relay unreachable */
	/* synthetic endpoint table */
	uint64_t synth_evictions;
};

struct mesh_relay;

/* NULL with *err = MESHD_E_INVAL (a callback missing) or MESHD_E_NOMEM. */
struct mesh_relay *mesh_relay_new(const struct mesh_relay_cfg *cfg, int *err);
/* NULL is a no-op. */
void mesh_relay_free(struct mesh_relay *r);

/* Offer relaying to other members, or stop (takes effect at once). */
void mesh_relay_set_offer(struct mesh_relay *r, bool offer);
bool mesh_relay_offers(const struct mesh_relay *r);

/* R side: a RELAY datagram (buf, len) from src. On 0 the datagram has been
 * rewritten in place into the RELAYED to send: buf[0, len) to *to.
 * Errors (the datagram is dropped, buf is unchanged): MESHD_E_PROTO (malformed),
 * MESHD_E_PERM (not offering, source not a live member at that endpoint,
 * inner not WireGuard), MESHD_E_NOENT (dst unknown, without a session or
 * a real endpoint (a synthetic one would mean relaying twice), or dst ==
 * src), MESHD_E_AGAIN (rate limit or byte budget). */
int mesh_relay_forward(struct mesh_relay *r, uint8_t *buf, size_t len,
    const union endpoint *src, mtime_ns now, union endpoint *to);

/* B side: a RELAYED datagram (buf, len) from src. On 0 the inner WireGuard
 * datagram has been moved to buf[0, *inner_len) (so an 8-byte aligned buf
 * stays aligned for wg_input_datagram) and *synth is the source to give it
 * (synth(relay, origin)). Errors: MESHD_E_PROTO (malformed or not
 * WireGuard), MESHD_E_PERM (src is not the current endpoint of a member we
 * use as a relay, or the origin is the relay itself). */
int mesh_relay_receive(struct mesh_relay *r, uint8_t *buf, size_t len,
    const union endpoint *src, mtime_ns now, size_t *inner_len, union endpoint *synth);

/* A side: WireGuard wants to send inner (inner_len bytes) to the synthetic
 * endpoint dst. Writes the RELAY datagram into out (cap >= inner_len +
 * MESH_RELAY_HDR_LEN; inner may be out + MESH_RELAY_HDR_LEN) and sets *to
 * to the relay's current endpoint. Returns its length, or 0 when dst is not
 * a live synthetic endpoint, the relay has no endpoint, or the sizes are
 * wrong (the datagram is dropped and counted). */
size_t mesh_relay_wrap(struct mesh_relay *r, const union endpoint *dst,
    const uint8_t *inner, size_t inner_len, uint8_t *out, size_t cap,
    mtime_ns now, union endpoint *to);

/* Synthetic endpoints. make: the endpoint for (relay, peer), the same one
 * while the entry lives; when the table is full the least recently used
 * entry is evicted (its old endpoint stops resolving). lookup: the pair an
 * endpoint stands for (true), refreshing its use time; false when ep is not
 * synthetic or its entry was evicted. is_synth: ep is in 100::/64 (no table
 * access: for the send path). */
void mesh_relay_synth_make(struct mesh_relay *r, const uint8_t relay_id[MESH_NODE_ID_LEN],
    const uint8_t peer_id[MESH_NODE_ID_LEN], mtime_ns now, union endpoint *out);
bool mesh_relay_synth_lookup(struct mesh_relay *r, const union endpoint *ep, mtime_ns now,
    uint8_t relay_id[MESH_NODE_ID_LEN], uint8_t peer_id[MESH_NODE_ID_LEN]);
bool mesh_relay_is_synth(const union endpoint *ep);
/* Entries in use (for status and tests). */
size_t mesh_relay_synth_count(const struct mesh_relay *r);

/* RTT to report for relaying to a target through a relay: ours to the relay
 * plus the relay's advertised RTT to the target (0 = unknown: ours only),
 * saturating. */
uint32_t mesh_relay_rtt(uint32_t to_relay_ms, uint32_t relay_to_target_ms);

void mesh_relay_get_stats(const struct mesh_relay *r, struct mesh_relay_stats *out);

#endif
