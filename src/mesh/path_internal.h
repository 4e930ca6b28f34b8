/* Private to the path selector (mesh/path.h), shared by the files that
 * implement it:
 *   path.c             probe rounds and their schedule, probes and losses,
 *                      the choice of a path (switching, fail-over, relays),
 *                      idle peers, punching, timers
 *   path_candidates.c  the candidate set: our prefixes and the class they
 *                      give, candidates from records, peer-reflexive ones
 *                      learnt from PROBEs, per-candidate stats
 * One selector is one struct mesh_path; both files see all of it.
 * Functions shared between these files carry a path_ prefix; everything
 * else stays static in its file. Nothing here is for other modules. */
#ifndef MESHD_MESH_PATH_INTERNAL_H
#define MESHD_MESH_PATH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/bucket.h"
#include "mesh/path.h"
#include "util/addr.h"
#include "util/time.h"

struct cand {
	struct mesh_ep ep;
	union endpoint sa;
	enum mesh_path_class cls;
	bool usable;
	bool has_rtt;
	uint64_t srtt_us, last_rtt_us;
	unsigned losses;		/* consecutive */
	mtime_ns unacked_since;		/* first probe sent since the last answer */
	mtime_ns last_ack;		/* 0: never */
	unsigned burst_left;
	mtime_ns next_burst;
	unsigned streak;		/* answers in a row clearly beating the active path */
	unsigned dry;			/* scheduled rounds without an answer */
	mtime_ns hold_until;		/* skips scheduled rounds until then */
	uint64_t sent, acked, lost;
	bool prflx;			/* peer-reflexive: learnt from a PROBE */
	bool trig;			/* the next burst probe is a triggered check */
	mtime_ns trigger_at;		/* no triggered check before then */
};

struct tx {
	uint64_t txid;
	mtime_ns sent, deadline;
	int cand;
	bool used;
};

struct mesh_path {
	struct mesh_path_cfg cfg;
	uint64_t rng;
	/* Sized to what is used (most peers have 2 to 4 candidates and a few
	 * probes out), not to the maxima: a peer's engine was 5 KB. */
	struct mesh_path_prefix *local;	/* nlocal entries */
	size_t nlocal;
	struct cand *cand;		/* cand_cap entries, ncand used */
	size_t ncand, cand_cap;
	struct mesh_path_relay relay[PATH_RELAY_MAX];
	size_t nrelay;
	struct tx *tx;			/* tx_cap slots (<= PATH_TX_MAX) */
	size_t tx_cap;
	int active;			/* direct: index into cand, else -1 */
	int relay_active;		/* relay: index into relay, else -1 */
	mtime_ns since;
	mtime_ns next_keepalive;	/* active direct path */
	mtime_ns next_round;
	bool idle;			/* mesh_path_set_idle() */
	bool idle_keepalive;		/* idle, but keep the NAT mapping */
	bool recheck;			/* idle: verify the active path now */
	mtime_ns idle_backoff;		/* until the next idle round */
	bool changed_once;
	mtime_ns change_round_at;	/* last round started by a candidate change */
	mtime_ns fresh_until;		/* a changed candidate set: warm rounds */
	struct mesh_bucket punch_b;	/* punch rounds (PATH_PUNCH_ROUNDS_*) */
	bool punch_pending;		/* a punch waits for a token */
	struct mesh_path_stats stats;
};

static inline uint32_t us_to_ms(uint64_t us)
{
	uint64_t ms = (us + 500) / 1000;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* path.c */

/* A full round (events: candidates, failure); silent candidates keep
 * their hold. */
void path_start_round(struct mesh_path *p, mtime_ns now);
/* When the next periodic round is due after one at now. */
void path_schedule_round(struct mesh_path *p, mtime_ns now);
/* A round for a changed candidate set: now, or when the last one is
 * PATH_CHANGE_GAP_MS old. */
void path_change_round(struct mesh_path *p, mtime_ns now);
void path_reset_streaks(struct mesh_path *p);
/* The active direct path died: the next best usable candidate (probed at
 * once), else a relay; and a round (when round) to look for something
 * better. */
void path_fail_over_kind(struct mesh_path *p, mtime_ns now, bool round);

/* path_candidates.c */

/* src (possibly IPv4-mapped, with a scope id) names the candidate's address. */
bool path_src_matches(const union endpoint *src, const union endpoint *c);
/* Peer-reflexive candidates that went silent leave (not the active one). */
void path_sweep_prflx(struct mesh_path *p);

#endif
