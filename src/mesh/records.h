/* The record set a node gossips, in memory, with its merge rules.
 *
 * Four kinds of record travel, each keyed by the node id it is about and
 * ordered by a per-kind version:
 *
 *	kind       signed by                  version       effect
 *	CERT       authority                  issued_at     the node is a member
 *	REVOKE     authority                  revoked_at    tombstone, forever
 *	ENDPOINTS  the node (cert's sign_pk)  seq           where to reach it
 *	ROUTES     the node (cert's sign_pk)  seq           subnets it offers
 *	                                                    (never expires)
 *
 * Merge rules (docs/wire-formats.md has the full table). For one (kind, node):
 * the record with the larger version wins; at equal versions the one whose
 * bytes are lexicographically larger wins. That order is total and depends
 * only on the records, so any set of deliveries, in any order and with any
 * duplicates, ends in the same state on every node: the maximum. A tombstone
 * beats everything: it drops the node's cert, endpoint and routes records,
 * and every later record of those kinds for that node id is refused (a revoked node
 * rejoins under a new node id). Tombstones are never dropped: a cert issued
 * before the revocation may stay valid for a long time, and forgetting the
 * tombstone would let a stale copy of it back in.
 *
 * An ENDPOINTS or ROUTES record for a node whose cert we do not hold yet
 * (ORPHAN) cannot
 * be verified. It waits in a small bounded pending set (oldest evicted first,
 * dropped after MESH_RECORDS_PENDING_TTL_S) and is verified and merged when
 * the cert arrives. Pending records are not ours to vouch for: they are not in
 * the digest and not re-gossiped. Anti-entropy repairs whatever the pending
 * set loses.
 *
 * When a cert is replaced by one with a different sign_pk, the held endpoint
 * and routes records are re-verified under the new key and dropped if they
 * fail. Records
 * signed by the new key that arrived earlier were INVALID then; the gossip
 * round's digest brings them back. A gossip batch should be merged REVOKE
 * first, then CERT, then ENDPOINTS, then ROUTES.
 *
 * Time is unix seconds passed in (the certificates' expiries are absolute).
 * Expired records are dropped by mesh_records_handle_expiry() and, for the
 * node concerned, at the start of every merge. An authority that wants to
 * shorten a membership revokes it: a reissued cert should not expire earlier
 * than the one it replaces (if it does, the member is gone when it expires,
 * even though the older cert might still be valid).
 *
 * Sans-I/O: no clock, no sockets, no store. Events go to one callback,
 * synchronously, after the state has changed; the callback may read the set
 * (lookups, digest) but not merge or expire (MESHD_E_STATE).
 */
#ifndef MESHD_MESH_RECORDS_H
#define MESHD_MESH_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/identity.h"
#include "mesh/routes.h"

enum mesh_rec_kind {
	MESH_REC_CERT = 1,
	MESH_REC_REVOKE = 2,
	MESH_REC_ENDPOINTS = 3,
	MESH_REC_ROUTES = 4,
};

/* mesh_records_merge() outcomes (>= 0; errors are negative MESHD_E_*). */
enum mesh_merge {
	MESH_MERGE_NEW = 0,	/* stored (first or replacing an older one) */
	MESH_MERGE_DUP,		/* identical, or same version and not larger: ignored */
	MESH_MERGE_STALE,	/* older version than the one held: ignored */
	MESH_MERGE_INVALID,	/* undecodable, unknown kind, bad signature, other
				 * mesh, expired or too far in the future */
	MESH_MERGE_REVOKED,	/* the node has a tombstone: refused */
	MESH_MERGE_ORPHAN,	/* ENDPOINTS/ROUTES for a node without a cert:
				 * pending */
};

enum {
	MESH_RECORDS_MAX_NODES = 65536,		/* default cap on node ids held */
	MESH_RECORDS_PENDING_MAX = 256,		/* default cap on pending orphans */
	MESH_RECORDS_PENDING_TTL_S = 300,
	MESH_DIGEST_HASH_LEN = 8,		/* record hash bytes per entry */
	MESH_DIGEST_ENTRY_LEN = 1 + MESH_NODE_ID_LEN + 8 + MESH_DIGEST_HASH_LEN,
	MESH_RECORDS_SET_HASH_LEN = 32,
};

#define MESH_RECORD_HASH_DOMAIN "meshd record v1"
#define MESH_RECORDS_SET_DOMAIN "meshd records set v1"

enum mesh_rec_event_type {
	MESH_EV_MEMBER_ADDED,		/* first valid cert for a node */
	MESH_EV_MEMBER_CHANGED,		/* its cert was replaced by a newer one */
	MESH_EV_MEMBER_REMOVED,		/* revoked or its cert expired */
	MESH_EV_ENDPOINTS_CHANGED,	/* new endpoint record, or none any more */
	MESH_EV_ROUTES_CHANGED,		/* new routes record, or none any more
					 * (only when the cert stays) */
};

enum mesh_rec_gone {
	MESH_GONE_REVOKED = 1,
	MESH_GONE_EXPIRED = 2,
};

struct mesh_rec_event {
	enum mesh_rec_event_type type;
	const uint8_t *node_id;			/* MESH_NODE_ID_LEN bytes */
	const struct mesh_cert *cert;		/* ADDED, CHANGED: the new cert */
	const struct mesh_endpoints *endpoints;	/* ENDPOINTS_CHANGED: NULL = none */
	const struct mesh_routes *routes;	/* ROUTES_CHANGED: NULL = none */
	enum mesh_rec_gone gone;		/* REMOVED: why */
};

/* All pointers in ev are borrowed for the duration of the call. A removed
 * member's endpoint and routes records go with it: no separate
 * ENDPOINTS_CHANGED or ROUTES_CHANGED. */
typedef void mesh_records_event_fn(void *ctx, const struct mesh_rec_event *ev);

/* ---- shared record buffers ----
 *
 * A pool holds the bytes of signed records once for several record sets:
 * a record (kind and bytes) that n sets hold is stored once, with a count of
 * its holders, and each set keeps a pointer. What a set stores per record is
 * then a small index entry instead of a copy of a few hundred bytes. Every
 * set still decodes and verifies a record itself before it takes a
 * reference: sharing changes where the bytes live, not what a set accepts.
 * Records are interned by a keyed hash of their bytes and compared byte for
 * byte. A set without a pool keeps its own buffers.
 *
 * Not thread-safe: every set of one pool must be used from one thread. The
 * pool must outlive its sets (free it after the last of them).
 */
struct mesh_rec_pool;

/* A new, empty pool. NULL with *err = MESHD_E_NOMEM. */
struct mesh_rec_pool *mesh_rec_pool_new(int *err);
/* Frees the pool; NULL is a no-op. Every set using it must be freed first. */
void mesh_rec_pool_free(struct mesh_rec_pool *pool);
/* Distinct records held by the pool's sets, and the sum of their lengths. */
size_t mesh_rec_pool_count(const struct mesh_rec_pool *pool);
size_t mesh_rec_pool_bytes(const struct mesh_rec_pool *pool);

struct mesh_records_cfg {
	uint8_t authority_pk[MESH_PK_LEN];
	struct mesh_rec_pool *pool;	/* NULL: this set's own buffers */
	size_t max_nodes;		/* 0: MESH_RECORDS_MAX_NODES */
	size_t max_pending;		/* 0: MESH_RECORDS_PENDING_MAX */
	mesh_records_event_fn *on_event;	/* may be NULL */
	void *ctx;
};

struct mesh_records;

/* A new, empty set. NULL with *err = MESHD_E_NOMEM, or MESHD_E_INVAL when a
 * cap is larger than MESH_RECORDS_MAX_NODES / MESH_RECORDS_PENDING_MAX. */
struct mesh_records *mesh_records_new(const struct mesh_records_cfg *cfg, int *err);
/* Frees the set and every record; NULL is a no-op. No events. */
void mesh_records_free(struct mesh_records *recs);
/* A new set holding what src holds (records, pending orphans, caps, event
 * callback and ctx, pool, bucket generations), so that it answers and merges
 * exactly as src would from here on; the two are independent afterwards.
 * With a pool the clone uses src's pool (it takes references to src's
 * records, so the pool must outlive it too); without one it copies them.
 * No events, no signature checks: a snapshot to start many runs from one
 * state. NULL with *err = MESHD_E_NOMEM, or MESHD_E_STATE (called from
 * src's event callback). */
struct mesh_records *mesh_records_clone(const struct mesh_records *src, int *err);

/* Merges one record received from anyone (the bytes are copied). Returns a
 * MESH_MERGE_* outcome, or MESHD_E_NOMEM, MESHD_E_FULL (a record for a new
 * node id while max_nodes are held; nothing changed), MESHD_E_STATE (called
 * from the event callback). */
int mesh_records_merge(struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t *bytes, size_t len, uint64_t now_unix);

/* Short name of an outcome ("new", "dup", ...) for logs; never NULL. */
const char *mesh_merge_str(int outcome);

/* The earliest unix second at which a held record (or pending orphan)
 * expires, UINT64_MAX when none does. May be early, never late. */
uint64_t mesh_records_next_expiry(const struct mesh_records *recs);
/* Drops every record expired at now (events: MEMBER_REMOVED with
 * MESH_GONE_EXPIRED, ENDPOINTS_CHANGED with NULL). Returns 0 or
 * MESHD_E_STATE (called from the event callback). */
int mesh_records_handle_expiry(struct mesh_records *recs, uint64_t now_unix);

/* The stored bytes of one record: a borrowed pointer valid until the next
 * merge or expiry. Returns 0 or MESHD_E_NOENT. */
int mesh_records_get(const struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t **bytes, size_t *len);
/* Decoded views of the held cert / endpoint / routes record. 0 or
 * MESHD_E_NOENT. */
int mesh_records_cert(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_cert *out);
int mesh_records_endpoints(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_endpoints *out);
int mesh_records_routes(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_routes *out);

/* Calls fn for every held record of kind (0: every kind), in no particular
 * order. fn returns 0 to go on, anything else stops the walk and is returned.
 * fn may not merge or expire. */
typedef int mesh_records_walk_fn(void *ctx, enum mesh_rec_kind kind,
    const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t *bytes, size_t len);
int mesh_records_foreach(const struct mesh_records *recs, int kind,
    mesh_records_walk_fn *fn, void *ctx);

/* Held records of a kind (0: all kinds; MESH_REC_CERT counts members), and
 * pending orphans. */
size_t mesh_records_count(const struct mesh_records *recs, int kind);
size_t mesh_records_pending(const struct mesh_records *recs);

/* ---- anti-entropy ----
 *
 * A digest lists every held record as (kind, node id, version, first 8 bytes
 * of the record hash), sorted by (node id, kind). The record hash is
 * BLAKE2b-256(MESH_RECORD_HASH_DOMAIN || u8 kind || bytes); it tells apart two
 * records with the same version, which the version alone cannot. The gossip
 * engine (mesh/gossip.h) carries the entries in buckets of its own wire
 * format, MESH_DIGEST_ENTRY_LEN bytes each.
 *
 * The set hash is BLAKE2b-256(MESH_RECORDS_SET_DOMAIN || for each record in
 * digest order: u8 kind | node_id | u64 version | full record hash[32]). Two
 * nodes hold the same records exactly when their set hashes match, so a
 * gossip round starts with 32 bytes and sends a digest only on mismatch.
 */
struct mesh_digest_entry {
	uint8_t kind;
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint64_t version;
	uint8_t hash[MESH_DIGEST_HASH_LEN];
};

struct mesh_digest {
	struct mesh_digest_entry *e;	/* owned; free with mesh_digest_clear() */
	size_t n;
};

/* Records are kept in digest order, in MESH_RECORDS_BUCKETS buckets by the
 * first byte of the node id, so a digest costs no sort, and a reader that
 * caches something per bucket (gossip's bucket hashes) can tell which
 * buckets changed. */
enum { MESH_RECORDS_BUCKETS = 256 };

/* A number that changes whenever a record of bucket b (node ids starting
 * with byte b) is stored or dropped, and never comes back within one set;
 * 0 for a bucket that never held anything. */
uint64_t mesh_records_bucket_gen(const struct mesh_records *recs, unsigned b);
/* The digest entries of bucket b, in digest order: writes the first
 * min(n, cap) to out and returns n, the number of entries in the bucket. */
size_t mesh_records_bucket_digest(const struct mesh_records *recs, unsigned b,
    struct mesh_digest_entry *out, size_t cap);

/* Fills d (initially empty or cleared) with our digest. 0 or MESHD_E_NOMEM. */
int mesh_records_digest(const struct mesh_records *recs, struct mesh_digest *d);
void mesh_digest_clear(struct mesh_digest *d);

/* The set hash; cached between changes. 0 or MESHD_E_NOMEM (out zeroed). */
int mesh_records_set_hash(struct mesh_records *recs, uint8_t out[MESH_RECORDS_SET_HASH_LEN]);

#endif
