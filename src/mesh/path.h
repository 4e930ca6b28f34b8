/* Path selection for one peer, sans-I/O (docs/wire-formats.md, "Probes and
 * path selection"; the probes themselves are mesh/probe.h).
 *
 * Inputs: the peer's candidate endpoints (its endpoint record), our own
 * local prefixes (to tell a same-LAN candidate), relay candidates (member
 * ids with an RTT measured elsewhere), probe answers (mesh_path_input_ack),
 * "punch now" requests, and the monotonic now. Outputs: probes to send (the
 * probe upcall: a destination and a txid; the caller seals and sends the
 * PROBE) and the chosen path, DIRECT(endpoint) / RELAY(member) / NONE,
 * reported through the changed upcall and mesh_path_current().
 *
 * Schedule. A probe round sends PATH_PUNCH_BURST probes PATH_PUNCH_GAP_MS
 * apart to every candidate. Rounds start when the candidate set changes (the
 * first set is the start), on mesh_path_punch() (the caller has both sides
 * punch at once), when the active path dies, every PATH_REEVAL_MS while a
 * direct path is active (re-evaluation of the alternatives) and every
 * PATH_RETRY_MS while there is none (on relay or nothing: direct attempts go
 * on in the background). A changed candidate set starts its round at once
 * only when the last such round is PATH_CHANGE_GAP_MS old, else then: a
 * member rewriting its record cannot make every other member probe at will.
 * A candidate that has never answered sits out scheduled rounds with an
 * exponential back-off (PATH_RETRY_MS doubling per silent round, capped at
 * PATH_BACKOFF_MAX_MS; a round that starts while its probes are still out,
 * not yet lost, is no silent one and leaves it alone); punch rounds still
 * probe it (both sides sending at
 * once is what opens NATs), but through a bucket: PATH_PUNCH_ROUNDS_BURST
 * at once, then one per PATH_PUNCH_ROUND_S; a punch that finds no token
 * is deferred until there is one, never lost (a member sending a PUNCH
 * every second gets 3 rounds in 10 s instead of 10); a changed candidate
 * set earns one round. An answer ends the
 * back-off. Every probe to a candidate that has never answered first asks
 * the optional allow upcall (the node's budget per destination address,
 * shared by all peers). The active direct path is probed every
 * PATH_KEEPALIVE_MIN_MS..PATH_KEEPALIVE_MAX_MS (jittered), under the usual
 * 30 s NAT idle timeout; a lost probe on it is retried at once.
 *
 * Policy. Classes rank LAN (a LOCAL candidate inside one of our prefixes) >
 * WAN (any other direct candidate) > RELAY; within a class the lower
 * smoothed RTT wins. A direct candidate is usable once it answered and until
 * it is dead: PATH_DEAD_LOSSES consecutive lost probes, or no answer for
 * PATH_DEAD_MS while probes are outstanding. The path switches
 *   - at once to a candidate of a better class when it answers;
 *   - within a class only for a clear gain: the candidate's smoothed and
 *     latest RTT both below the active one's smoothed RTT by more than
 *     PATH_SWITCH_PCT % and PATH_SWITCH_MIN_MS, for PATH_SWITCH_SUSTAIN
 *     answers in a row (no flapping on jitter);
 *   - at once to the next best when the active path dies (a usable direct
 *     candidate, probed at once; else the best relay; else NONE).
 * Relays: the lowest RTT relay is used when no direct path is; another relay
 * replaces it only for the same clear gain, or when it is withdrawn.
 *
 * Idle. An engine set idle (mesh_path_set_idle: the peer exchanged no
 * data for a while) stops the keepalive probes of the active path and the
 * re-evaluation and retry rounds: it re-probes lazily, one probe per
 * candidate per round, the first round PATH_IDLE_REPROBE_MIN_MS after it
 * went idle and each later one twice as late, up to
 * PATH_IDLE_REPROBE_MAX_MS. A changed candidate set (a new member, a
 * move) is the exception: for PATH_FRESH_MS, and while no direct path is
 * found, its rounds keep the warm schedule (PATH_RETRY_MS with the silent
 * back-off: rounds at 0, 5, 10 and 20 s), idle or not: the first round
 * often misses (the other side has not opened its NAT yet, or loss), and
 * the next idle round would come a minute later. So is an active path
 * that died with no other usable direct candidate left: most deaths are
 * short outages, and the peer may be the relay or the gossip partner of
 * a NAT'd member. Events still start full rounds at once
 * (candidates changed, a punch, the active path died), and a lost probe on
 * the active path is still checked again at once (a dead path is found
 * with PATH_DEAD_LOSSES probes). An idle engine asked to keep the NAT
 * mapping (keepalive) goes on probing its active path every
 * PATH_KEEPALIVE_MIN_MS..MAX_MS. Going warm again starts a full round and
 * probes the active path at once.
 *
 * Triggered checks (ICE's, RFC 8445 7.3.1.4). A PROBE the peer sent us
 * (mesh_path_input_probe) proves its source reaches us and that our NAT
 * lets it in, so our own probe to that source is likely to pass now: the
 * engine sends one at once (at most one per candidate per
 * PATH_TRIGGER_GAP_MS), without waiting for the candidate's back-off or a
 * punch token, and without the allow budget (the peer's own packet came
 * from there). A source that is none of the candidates becomes a
 * peer-reflexive one (PATH_SRC_PRFLX: the peer's NAT mapped it elsewhere
 * than its record says, as a Linux masquerade does when the port is taken);
 * at most PATH_PRFLX_MAX of them, kept across candidate changes, dropped
 * once silent for PATH_DEAD_LOSSES probes.
 *
 * Upcalls run inside the call that triggers them and must not call back
 * into the engine. Probes are only ever sent from mesh_path_handle_expiry();
 * the other entry points schedule (next_expiry becomes now).
 */
#ifndef MESHD_MESH_PATH_H
#define MESHD_MESH_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/endpoints.h"
#include "mesh/identity.h"
#include "util/addr.h"
#include "util/time.h"

enum {
	PATH_CAND_MAX = 16,		/* direct candidates per peer */
	PATH_RELAY_MAX = 8,		/* relay candidates per peer */
	PATH_LOCAL_MAX = 32,		/* our own prefixes */
	PATH_TX_MAX = 64,		/* outstanding probes per peer */
	PATH_PUNCH_BURST = 3,		/* probes per candidate per round */
	PATH_PUNCH_GAP_MS = 100,	/* between the probes of a burst */
	PATH_PUNCH_ROUND_S = 10,	/* punch rounds: one per this many s ... */
	PATH_PUNCH_ROUNDS_BURST = 2,	/* ... after a burst of this many */
	PATH_KEEPALIVE_MIN_MS = 15000,	/* active path probed every MIN..MAX */
	PATH_KEEPALIVE_MAX_MS = 25000,
	PATH_REEVAL_MS = 60000,		/* rounds while a direct path is active */
	PATH_RETRY_MS = 5000,		/* rounds while on relay or none */
	PATH_PROBE_TIMEOUT_MS = 1000,	/* a probe is lost after 3 x srtt */
	PATH_PROBE_TIMEOUT_MAX_MS = 3000,	/* clamped to [1 s, 3 s]; 3 s before
					 * the candidate's first answer */
	PATH_DEAD_LOSSES = 3,
	PATH_DEAD_MS = 10000,
	PATH_SWITCH_PCT = 20,
	PATH_SWITCH_MIN_MS = 5,
	PATH_SWITCH_SUSTAIN = 2,
	PATH_IDLE_BURST = 1,		/* probes per candidate per idle round */
	PATH_IDLE_REPROBE_MIN_MS = 60000,	/* idle rounds: back-off from ... */
	PATH_IDLE_REPROBE_MAX_MS = 480000,	/* ... doubling up to this */
	PATH_CHANGE_GAP_MS = 10000,	/* candidate changes start a round at
					 * most this often (later: deferred) */
	PATH_BACKOFF_MAX_MS = 60000,	/* cap of a silent candidate's back-off */
	PATH_TRIGGER_GAP_MS = 1000,	/* triggered checks per candidate */
	PATH_FRESH_MS = 30000,		/* new candidates: warm rounds this long */
	PATH_PRFLX_MAX = 2,		/* peer-reflexive candidates */
	PATH_SRC_PRFLX = 0x80,		/* mesh_ep.source of such a candidate
					 * (the engine's own; never in a record) */
};

enum mesh_path_kind {
	MESH_PATH_NONE = 0,
	MESH_PATH_DIRECT = 1,
	MESH_PATH_RELAY = 2,
};

/* Higher is better. */
enum mesh_path_class {
	MESH_PATH_CLASS_NONE = 0,
	MESH_PATH_CLASS_RELAY = 1,
	MESH_PATH_CLASS_WAN = 2,	/* public, port-mapped or reflexive */
	MESH_PATH_CLASS_LAN = 3,	/* same LAN as one of our prefixes */
};

/* One of our own addresses with its prefix length (an interface address). */
struct mesh_path_prefix {
	uint8_t family;		/* MESH_FAMILY_V4 or MESH_FAMILY_V6 */
	uint8_t addr[16];
	uint8_t plen;		/* <= 32 or 128 */
};

struct mesh_path_relay {
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint32_t rtt_ms;	/* through that member, end to end */
};

struct mesh_path_choice {
	enum mesh_path_kind kind;
	enum mesh_path_class cls;
	union endpoint ep;			/* DIRECT */
	uint8_t relay_id[MESH_NODE_ID_LEN];	/* RELAY */
	uint32_t rtt_ms;			/* smoothed; 0 for NONE */
	mtime_ns since;
};

struct mesh_path_cand_stats {
	struct mesh_ep ep;
	union endpoint addr;
	enum mesh_path_class cls;
	bool usable;		/* answered and not dead */
	bool active;
	uint32_t rtt_ms;	/* smoothed; 0 before the first answer */
	uint32_t last_rtt_ms;
	uint64_t sent, acked, lost;
};

/* switches counts every change of the chosen path, the first one included. */
struct mesh_path_stats {
	uint64_t probes_sent, acks, acks_rejected, losses, switches, rounds;
	uint64_t keepalives;	/* probes_sent on the active path outside rounds */
	uint64_t probes_denied;	/* to never-answering candidates, refused by allow */
	uint64_t punches_held;	/* punch requests deferred (no round token) */
	uint64_t triggered;	/* triggered checks sent (mesh_path_input_probe) */
	uint64_t prflx_added;	/* peer-reflexive candidates learnt */
};

/* Send a PROBE with this txid to dst (the caller seals it, mesh/probe.h). */
typedef void mesh_path_probe_fn(void *ctx, const union endpoint *dst, uint64_t txid);
/* May a probe go to dst, a candidate that has never answered? The node
 * budgets such probes per destination address across all its peers, so that
 * records naming a third party cannot aim the mesh at it. */
typedef bool mesh_path_allow_fn(void *ctx, const union endpoint *dst, mtime_ns now);
/* The chosen path changed. */
typedef void mesh_path_changed_fn(void *ctx, const struct mesh_path_choice *c);
/* 64 random bits (txids must be unpredictable: use randombytes in the daemon). */
typedef uint64_t mesh_path_rand_fn(void *ctx);

struct mesh_path_cfg {
	mesh_path_probe_fn *probe;	/* required */
	mesh_path_changed_fn *changed;	/* optional */
	mesh_path_allow_fn *allow;	/* optional: NULL allows every probe */
	mesh_path_rand_fn *rand;	/* NULL: internal generator from rng_seed */
	uint64_t rng_seed;
	void *ctx;
};

struct mesh_path;

/* NULL with *err = MESHD_E_INVAL (no probe upcall) or MESHD_E_NOMEM. */
struct mesh_path *mesh_path_new(const struct mesh_path_cfg *cfg, int *err);
/* NULL is a no-op. */
void mesh_path_free(struct mesh_path *p);

/* Our own prefixes (replaces the previous set). A candidate changing class
 * starts a round. 0, MESHD_E_RANGE (n > PATH_LOCAL_MAX or a bad entry:
 * nothing changed) or MESHD_E_NOMEM (nothing changed). */
int mesh_path_set_local(struct mesh_path *p, const struct mesh_path_prefix *pfx, size_t n,
    mtime_ns now);

/* The peer's candidates (replaces the previous set). Invalid entries
 * (mesh_ep_valid) are skipped and duplicate addresses merged (the better
 * class wins). Candidates kept keep their state; a changed set starts a
 * round; losing the active candidate fails over. 0, MESHD_E_RANGE (more
 * than PATH_CAND_MAX distinct valid entries: nothing changed) or
 * MESHD_E_NOMEM (nothing changed). */
int mesh_path_set_candidates(struct mesh_path *p, const struct mesh_ep *eps, size_t n,
    mtime_ns now);

/* Relay candidates (replaces the previous set; updates RTTs). 0 or
 * MESHD_E_RANGE (n > PATH_RELAY_MAX: nothing changed). */
int mesh_path_set_relays(struct mesh_path *p, const struct mesh_path_relay *r, size_t n,
    mtime_ns now);

/* Idle policy (see the top of this file): idle stops keepalives and
 * periodic rounds but for the lazy re-probes; keepalive (idle only) keeps
 * probing the active path for its NAT mapping. Leaving idle starts a full
 * round and probes the active path now. */
void mesh_path_set_idle(struct mesh_path *p, bool idle, bool keepalive, mtime_ns now);
bool mesh_path_is_idle(const struct mesh_path *p);

/* Punch now: a round of bursts to every candidate, from now, or as soon as
 * the punch-round bucket allows (stats.punches_held). */
void mesh_path_punch(struct mesh_path *p, mtime_ns now);

/* When the active direct path last answered a probe (0: never, or no
 * direct path). */
mtime_ns mesh_path_last_ack(const struct mesh_path *p);
/* Probe the active direct path now (a hint that it may be dead). */
void mesh_path_recheck(struct mesh_path *p, mtime_ns now);

/* The caller knows UDP is down (no member answered for seconds, the TCP
 * fallback): every direct candidate is dead now, not after its probes time
 * out; the best relay, else NONE, takes over. An answer revives one as
 * usual. */
void mesh_path_udp_lost(struct mesh_path *p, mtime_ns now);

/* A PROBE_ACK from src (NULL: not checked) echoing txid, already opened by
 * mesh_probe_open(). Returns 0 (accepted, consumed); MESHD_E_NOENT (no such
 * outstanding txid: unknown, late or a replay); MESHD_E_PROTO (src is not
 * the candidate the probe went to; the txid stays outstanding). */
int mesh_path_input_ack(struct mesh_path *p, uint64_t txid, const union endpoint *src,
    mtime_ns now);

/* The peer's PROBE came from src (authenticated, fresh: the caller
 * answered it). A triggered check to src (see the top of this file);
 * src becomes a peer-reflexive candidate when it is none of them. 0;
 * MESHD_E_INVAL (src is no unicast address and port, or a synthetic one in
 * 0100::/8); MESHD_E_RANGE (no room for another candidate). */
int mesh_path_input_probe(struct mesh_path *p, const union endpoint *src, mtime_ns now);

/* When mesh_path_handle_expiry() has work next; MTIME_NEVER when none. */
mtime_ns mesh_path_next_expiry(const struct mesh_path *p);
/* Times out probes, fails over dead paths, starts rounds and sends the
 * probes that are due. */
void mesh_path_handle_expiry(struct mesh_path *p, mtime_ns now);

void mesh_path_current(const struct mesh_path *p, struct mesh_path_choice *out);

size_t mesh_path_ncand(const struct mesh_path *p);
/* 0 or MESHD_E_NOENT (i out of range). */
int mesh_path_cand_stats(const struct mesh_path *p, size_t i, struct mesh_path_cand_stats *out);
void mesh_path_get_stats(const struct mesh_path *p, struct mesh_path_stats *out);

/* mesh_ep -> sockaddr form (port in network order). */
void mesh_path_ep_to_endpoint(const struct mesh_ep *ep, union endpoint *out);

#endif
