/* Gossip: push-pull anti-entropy of the record set (mesh/records.h) plus
 * rumours, sans-I/O (docs/mesh-protocol.md section 3).
 *
 * A round (every GOSSIP_INTERVAL_MS) sends SUMMARY (set hash, record count)
 * to GOSSIP_FANOUT random reachable members. Every message is handled
 * without per-peer state:
 *
 *	A -> B	SUMMARY		equal set hash: nothing more (the steady state)
 *	B -> A	BUCKETS		256 truncated bucket hashes (node id first byte),
 *				two datagrams of 128
 *	A -> B	DIGEST		A's digest entries of the buckets that differ,
 *				as groups "all my entries with node id in
 *				[lo, hi]"
 *	B -> A	RECORDS		what A lacks or holds older (B's push), and
 *		PULL		the keys B lacks or holds older
 *	A -> B	RECORDS		the answer to the PULL
 *
 * A bucket that differs and where A holds more than GOSSIP_SUBHASH_MIN
 * entries (a mesh of some thousands) is narrowed before it is listed, unless
 * B's bucket is empty or more than GOSSIP_SUBHASH_DIFF_MAX of the 128
 * buckets of that BUCKETS half differ (sets far apart, as in a bootstrap:
 * most entries would be listed anyway, and the round trip slowed the
 * bootstrap of 10,000 nodes from 13 to 17 rounds):
 *
 *	A -> B	SUBHASH		per such bucket, A's 16 sub-bucket hashes
 *				(second byte of the node id, high nibble)
 *	B -> A	DIGEST		B's entries of the sub-buckets that differ,
 *				one group per sub-bucket (an empty one too)
 *	A -> B	RECORDS, PULL	as above, with the roles swapped
 *
 * Under churn nearly every bucket of a large set differs in an entry or two,
 * and listing whole buckets cost ~30x what differs (10,000 members: ~78
 * entries a bucket). A node that predates SUBHASH drops it as malformed: in
 * exchanges that node starts itself, it lists whole buckets, which a new
 * node answers as before, so a mixed mesh still converges.
 *
 * Rumours: a record we publish, and a record that arrives in a RECORDS
 * message flagged RUMOUR and is NEW here, is pushed at once to
 * GOSSIP_FANOUT random reachable members (TTL-limited). Anti-entropy repairs
 * what rumours miss.
 *
 * Bounds: one message per datagram of at most GOSSIP_DGRAM_MAX bytes; each
 * input message causes a bounded amount of output (GOSSIP_DIGEST_DGRAMS_MAX
 * digest datagrams per BUCKETS half or SUBHASH, or one per
 * GOSSIP_DIGEST_RECORDS_PER_DGRAM records held if more, plus at most 15
 * SUBHASH datagrams per BUCKETS half; GOSSIP_PUSH_MAX records per DIGEST,
 * or that many per sub-bucket of one answering our SUBHASH up to
 * GOSSIP_PUSH_ANSWER_MAX; GOSSIP_PULL_MAX keys per PULL), and once a node has sent its round budget
 * it answers no more requests until its next round (so one answer's worth
 * above the budget at most); nothing is allocated from a count a peer sent.
 * Malformed input is dropped silently. The budget is GOSSIP_ROUND_BUDGET or
 * GOSSIP_BUDGET_PER_RECORD per record held, whichever is larger: a new member
 * needs the whole set (about 2 records per member), and a fixed budget made
 * the rounds a mesh needs to converge grow linearly with its size (17 rounds
 * at 1,000 members in the simulation, against 6 with the scaled budget). In
 * steady state only SUMMARY messages flow, so the budget is never reached.
 * The DIGEST cap scales for the same reason: when two large sets differ in
 * every bucket (late in a bootstrap, and under churn), a fixed 16 datagrams
 * per half compare only ~1,150 of the entries, so an exchange finds only
 * that share of what differs and the bootstrap's tail grew with the mesh
 * (15 rounds at 3,000 nodes, more than 26 at 10,000); one datagram per 64
 * records held covers about the whole set (a datagram holds ~35 entries).
 *
 * The transport (WireGuard, in the daemon) authenticates the sender and
 * protects against replay, so messages carry no crypto of their own; the
 * records they carry are signed and merged by mesh_records_merge().
 *
 * Signature checks: a record in RECORDS that we do not hold byte for byte
 * and that is newer than ours costs a signature check. Each sending member
 * has a budget for those (GOSSIP_VERIFY_PER_S, burst GOSSIP_VERIFY_BURST;
 * MESH_CHECK_SLOTS members tracked, least recently used beyond: checkbudget.h); past it
 * the records are skipped (anti-entropy brings them again later). A record
 * that fails its check empties the sender's budget and halves its rate
 * (down to 1/64), a NEW one from it restores one halving: a member that
 * floods bad records costs us a few checks a second, not a core.
 * Exception: a record about another member (node id not the sender's) from
 * a sender with no strike is checked outside the budget. A member cannot
 * sign another member's record (the authority signs certs and revocations,
 * each node its own endpoint and routes records), so such a record verifies
 * only if it is genuine and newer than ours: NEW once, and there are only as
 * many as the mesh made (a new member needs ~2 per member, far beyond any
 * fixed per-sender budget at 10,000 members). The first one that fails gives
 * the sender a strike, and with a strike all its records are budgeted until
 * budgeted NEW ones take the strikes away again; so every unbudgeted check
 * that fails follows a budgeted NEW one, and a flood of invalid records costs
 * at most twice the budget. (An admin member can sign certs: a hostile admin
 * is outside this model anyway.)
 *
 * Time: every entry point takes the monotonic now (scheduling) and the unix
 * second now_unix (record validity), both handed in by the caller.
 */
#ifndef MESHD_MESH_GOSSIP_H
#define MESHD_MESH_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "mesh/records.h"
#include "util/time.h"

enum {
	GOSSIP_INTERVAL_MS = 1000,
	GOSSIP_VERIFY_PER_S = 256,	/* signature checks per sender per second */
	GOSSIP_VERIFY_BURST = 1024,
	GOSSIP_FANOUT = 3,
	GOSSIP_DGRAM_MAX = 1200,	/* payload bytes per datagram */
	GOSSIP_VERSION = 1,
	GOSSIP_BUCKETS = 256,		/* by node id first byte */
	GOSSIP_BUCKET_HASH_LEN = 8,
	GOSSIP_BUCKETS_PER_MSG = 128,	/* BUCKETS comes in two halves */
	GOSSIP_DIGEST_DGRAMS_MAX = 16,	/* DIGEST datagrams per BUCKETS half ... */
	GOSSIP_DIGEST_RECORDS_PER_DGRAM = 64,	/* ... or one per this many records
					 * held, if more */
	GOSSIP_SUBBUCKETS = 16,		/* per bucket: node id byte 1, high nibble */
	GOSSIP_SUBHASH_MIN = 16,	/* narrow a differing bucket holding more, */
	GOSSIP_SUBHASH_DIFF_MAX = 96,	/* unless more buckets of the half differ */
	GOSSIP_PUSH_MAX = 64,		/* records pushed per DIGEST received, */
	GOSSIP_PUSH_ANSWER_MAX = 1024,	/* or 64 per sub-bucket listed in one
					 * answering our SUBHASH, up to this */
	GOSSIP_PULL_MAX = 64,		/* keys per PULL */
	GOSSIP_RUMOUR_TTL = 10,		/* hops a rumour travels at most */
	GOSSIP_ROUND_BUDGET = 64 * 1024,	/* bytes a node sends per round in answers
					 * before it defers further requests ... */
	GOSSIP_BUDGET_PER_RECORD = 256,	/* ... or this many per record held, if more */
};

/* Message types (second byte of every message; the first is GOSSIP_VERSION). */
enum gossip_msg_type {
	GOSSIP_MSG_SUMMARY = 1,
	GOSSIP_MSG_BUCKETS = 2,
	GOSSIP_MSG_DIGEST = 3,
	GOSSIP_MSG_RECORDS = 4,
	GOSSIP_MSG_PULL = 5,
	GOSSIP_MSG_SUBHASH = 6,
};

enum {
	GOSSIP_RECORDS_F_RUMOUR = 0x01,
	GOSSIP_RECORDS_F_KNOWN = GOSSIP_RECORDS_F_RUMOUR,
};

/* Hands one datagram payload to the transport for the member node_id. The
 * bytes are only valid during the call. It must not call back into the
 * engine (queue the datagram instead). */
typedef void mesh_gossip_send_fn(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN],
    const uint8_t *bytes, size_t len);
/* Returns 64 random bits. */
typedef uint64_t mesh_gossip_rand_fn(void *ctx);

struct mesh_gossip_cfg {
	uint8_t node_id[MESH_NODE_ID_LEN];	/* ours: never picked as a peer */
	mesh_gossip_send_fn *send;		/* required */
	mesh_gossip_rand_fn *rand;		/* NULL: internal generator from rng_seed */
	uint64_t rng_seed;			/* simulations pass a fixed seed */
	bool no_subhash;			/* act as a node from before SUBHASH:
						 * never narrow, drop SUBHASH (tests and
						 * simulations of mixed meshes) */
	void *ctx;				/* for send and rand */
};

/* Counters since mesh_gossip_new(), for logs and the simulation. */
struct mesh_gossip_stats {
	uint64_t msgs_sent, bytes_sent;
	uint64_t msgs_recv, bytes_recv, msgs_dropped;	/* dropped: malformed */
	uint64_t msgs_deferred;		/* not answered: round budget spent */
	uint64_t rounds;
	uint64_t records_new;		/* merges that returned NEW */
	uint64_t records_checked;	/* merges that cost a signature check */
	uint64_t records_invalid;	/* of them, refused (bad signature ...) */
	uint64_t records_skipped;	/* sender's check budget spent: skipped */
	uint64_t records_recv;		/* records in RECORDS messages received */
	uint64_t records_held;		/* of them, held byte for byte already */
	uint64_t records_orphan;	/* merges that returned ORPHAN (no cert yet) */
	uint64_t records_unbudgeted;	/* checks of records about other members
					 * from a sender without strikes */
};

struct mesh_gossip;

/* A new engine gossiping recs (borrowed: it must outlive the engine). No
 * member is reachable yet. NULL with *err = MESHD_E_INVAL (no send upcall)
 * or MESHD_E_NOMEM. */
struct mesh_gossip *mesh_gossip_new(const struct mesh_gossip_cfg *cfg, struct mesh_records *recs,
    int *err);
/* NULL is a no-op. */
void mesh_gossip_free(struct mesh_gossip *g);

/* Call when a WireGuard session with member node_id can (true) or can no
 * longer (false) carry gossip: typically on MEMBER_ADDED / MEMBER_REMOVED.
 * Our own node id is ignored. May be called from the records event callback,
 * also during a merge the engine started. Returns 0 or MESHD_E_NOMEM. */
int mesh_gossip_set_reachable(struct mesh_gossip *g, const uint8_t node_id[MESH_NODE_ID_LEN],
    bool reachable);
size_t mesh_gossip_reachable_count(const struct mesh_gossip *g);

/* A gossip datagram from member from_id (already authenticated by the
 * transport). Malformed input is dropped silently (counted in msgs_dropped);
 * may call send. Returns 0, or MESHD_E_NOMEM (the message was not fully
 * handled; gossip repairs it later). */
int mesh_gossip_input(struct mesh_gossip *g, const uint8_t from_id[MESH_NODE_ID_LEN],
    const uint8_t *bytes, size_t len, mtime_ns now, uint64_t now_unix);

/* When mesh_gossip_handle_expiry() has work next (0 before the first call). */
mtime_ns mesh_gossip_next_expiry(const struct mesh_gossip *g);
/* Runs a round if one is due: SUMMARY to GOSSIP_FANOUT random reachable
 * members. The first call only picks a random phase within one interval,
 * so that nodes started together do not gossip in lockstep. Also drops
 * expired records (mesh_records_handle_expiry). Returns 0 or MESHD_E_NOMEM. */
int mesh_gossip_handle_expiry(struct mesh_gossip *g, mtime_ns now, uint64_t now_unix);

/* Our own new record (an endpoint record we signed, or a revocation from an
 * admin): merged locally and, when NEW, pushed as a rumour to GOSSIP_FANOUT
 * random reachable members. Returns the mesh_records_merge() outcome (>= 0)
 * or a negative MESHD_E_*. */
int mesh_gossip_publish(struct mesh_gossip *g, enum mesh_rec_kind kind, const uint8_t *bytes,
    size_t len, mtime_ns now, uint64_t now_unix);

void mesh_gossip_get_stats(const struct mesh_gossip *g, struct mesh_gossip_stats *out);

#endif
