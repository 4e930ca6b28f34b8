/* Private to the record set (mesh/records.h), shared by the files that
 * implement it:
 *   records.c        nodes in sorted buckets, the merge rules, pending
 *                    orphans, lifecycle, clone and expiry
 *   records_pool.c   blobs (a held record and what decoding it gave) and
 *                    the pool that interns them across sets
 *   records_query.c  what reads the set: lookups, walks, counts, digest
 *                    buckets and the set hash
 * The layout of the set is here so each file can be read on its own.
 * Functions shared between these files carry a records_ prefix; everything
 * else stays static in its file. Nothing here is for other modules. */
#ifndef MESHD_MESH_RECORDS_INTERNAL_H
#define MESHD_MESH_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/records.h"

enum {
	NKINDS = 4,
	K_CERT = MESH_REC_CERT - 1,
	K_REVOKE = MESH_REC_REVOKE - 1,
	K_EP = MESH_REC_ENDPOINTS - 1,
	K_RT = MESH_REC_ROUTES - 1,
	REC_HASH_LEN = 32,
	REC_LEN_MAX = UINT16_MAX,
};

_Static_assert((int)MESH_DIGEST_HASH_LEN <= (int)REC_HASH_LEN, "digest hash");
_Static_assert((int)MESH_CERT_MAX_LEN <= (int)REC_LEN_MAX, "record length fits a u16");

/* One record as held: immutable once made. */
struct blob {
	uint32_t refs;			/* sets holding it */
	uint16_t len;
	uint8_t kind;			/* MESH_REC_* */
	uint64_t version;		/* issued_at, revoked_at or seq */
	uint64_t expires;		/* unix s; UINT64_MAX for tombstones, routes */
	uint64_t pkey;			/* pooled: SipHash of kind and bytes */
	uint8_t hash[REC_HASH_LEN];
	uint8_t sign_pk[MESH_PK_LEN];	/* CERT: the member's key; else zeros */
	uint8_t bytes[];
};

/* The kinds most nodes never have (a tombstone, routes), out of line. */
struct rare {
	struct blob *revoke, *routes;
};

/* 40 bytes (64-bit): in a big mesh every member costs this in every set. */
struct node {
	uint8_t id[MESH_NODE_ID_LEN];
	struct blob *cert, *ep;		/* NULL when absent */
	struct rare *rare;		/* NULL when it would hold nothing */
};

struct bucket {
	struct node *v;			/* sorted by id */
	uint32_t n, cap;
	uint64_t gen;			/* mesh_records_bucket_gen() */
};

struct pending {
	uint8_t kind;			/* MESH_REC_ENDPOINTS or MESH_REC_ROUTES */
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint8_t *bytes;			/* owned */
	size_t len;
	uint64_t expires;		/* unix s */
	uint64_t order;			/* arrival; the smallest is evicted first */
};

struct mesh_records {
	uint8_t authority_pk[MESH_PK_LEN];
	uint8_t mesh_id[MESH_ID_LEN];
	size_t max_nodes, max_pending;
	mesh_records_event_fn *on_event;
	void *ctx;
	struct mesh_rec_pool *pool;	/* borrowed; NULL: private blobs */
	struct bucket *bk;		/* MESH_RECORDS_BUCKETS */
	uint64_t gen;			/* last bucket generation handed out */
	size_t nnodes;
	size_t count[NKINDS];
	struct pending *pend;		/* cappend entries, grown to need */
	size_t npend, cappend;		/* cappend <= max_pending */
	uint64_t pend_order;
	uint64_t next_exp;		/* lower bound of the next expiry */
	bool busy;			/* inside merge or expiry */
	bool hash_ok;
	uint8_t set_hash[MESH_RECORDS_SET_HASH_LEN];
};

static inline bool kind_ok(int kind)
{
	return kind >= MESH_REC_CERT && kind <= MESH_REC_ROUTES;
}

/* n's record of kind k (0-based), NULL when absent. */
static inline struct blob *rec_of(const struct node *n, unsigned k)
{
	switch (k) {
	case K_CERT:
		return n->cert;
	case K_EP:
		return n->ep;
	case K_REVOKE:
		return n->rare != NULL ? n->rare->revoke : NULL;
	default:
		return n->rare != NULL ? n->rare->routes : NULL;
	}
}

/* records_pool.c */

/* A reference to the blob of record (k, bytes): the pool's if it has one,
 * else a new one. version, expires and sign_pk (NULL: none) are what the
 * caller decoded from the bytes, so an interned blob has the same. 0 or
 * MESHD_E_NOMEM. */
int records_blob_get(struct mesh_records *recs, unsigned k, const uint8_t *bytes, size_t len,
    uint64_t version, uint64_t expires, const uint8_t *sign_pk, struct blob **out);
/* Drops a reference to b (NULL: nothing); the last one frees it. */
void records_blob_put(struct mesh_records *recs, struct blob *b);
/* A reference for a clone to hold: b itself when it is pooled (the clone
 * shares the pool), else a private copy. NULL when out of memory. */
struct blob *records_blob_clone(const struct mesh_records *recs, struct blob *b);

/* records.c */

/* The node with that id, NULL when the set holds nothing for it. */
struct node *records_node_lookup(const struct mesh_records *recs,
    const uint8_t id[MESH_NODE_ID_LEN]);

#endif
