/* Private to the gossip engine (gossip.c: state, input, rounds;
 * gossip_send.c: the messages it builds and sends). Not for other files. */
#ifndef MESHD_MESH_GOSSIP_INTERNAL_H
#define MESHD_MESH_GOSSIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mesh/checkbudget.h"
#include "mesh/gossip.h"
#include "util/buf.h"
#include "util/rand.h"

#define GOSSIP_BUCKET_DOMAIN "meshd gossip bucket v1"
#define GOSSIP_SUB_DOMAIN "meshd gossip sub-bucket v1"

enum {
	HDR_LEN = 2,			/* u8 version | u8 type */
	SUMMARY_LEN = HDR_LEN + MESH_RECORDS_SET_HASH_LEN + 4,
	BUCKETS_LEN = HDR_LEN + 1 + GOSSIP_BUCKETS_PER_MSG * GOSSIP_BUCKET_HASH_LEN,
	GROUP_HDR_LEN = 2 * MESH_NODE_ID_LEN + 1,
	DIGEST_HDR_LEN = HDR_LEN + 1,	/* + u8 group count */
	/* entries that fit in a DIGEST with one group */
	GROUP_MAX = (GOSSIP_DGRAM_MAX - DIGEST_HDR_LEN - GROUP_HDR_LEN) / MESH_DIGEST_ENTRY_LEN,
	DIGEST_GROUPS_MAX = (GOSSIP_DGRAM_MAX - DIGEST_HDR_LEN) / GROUP_HDR_LEN,
	RECORDS_HDR_LEN = HDR_LEN + 3,	/* u8 flags | u8 ttl | u8 count */
	RECORD_HDR_LEN = 3,		/* u8 kind | u16 len */
	RECORDS_MAX = UINT8_MAX,	/* the count is a u8 (and a record is >= 4 bytes) */
	PULL_KEY_LEN = 1 + MESH_NODE_ID_LEN,
	PULL_HDR_LEN = HDR_LEN + 1,
	NKINDS = 4,
	/* SUBHASH: u8 count | count x (u8 bucket | 16 sub-bucket hashes) */
	SUBHASH_HDR_LEN = HDR_LEN + 1,
	SUBHASH_ITEM_LEN = 1 + GOSSIP_SUBBUCKETS * GOSSIP_BUCKET_HASH_LEN,
	SUBHASH_PER_MSG = (GOSSIP_DGRAM_MAX - SUBHASH_HDR_LEN) / SUBHASH_ITEM_LEN,
};

typedef uint8_t gossip_sub_hashes[GOSSIP_SUBBUCKETS][GOSSIP_BUCKET_HASH_LEN];

/* One bucket's sub-bucket hashes, made when first needed (only buckets of
 * more than GOSSIP_SUBHASH_MIN entries are narrowed): h is of the set's
 * bucket generation gen. */
struct gossip_sub_cache {
	bool made;
	uint64_t gen;
	gossip_sub_hashes h;
};

/* Merge order of a batch: REVOKE, then CERT, then ENDPOINTS, then ROUTES. */
static const uint8_t gossip_kind_order[NKINDS] = {
	MESH_REC_REVOKE, MESH_REC_CERT, MESH_REC_ENDPOINTS, MESH_REC_ROUTES,
};

struct key {
	uint8_t kind;
	uint8_t node_id[MESH_NODE_ID_LEN];
};

struct mesh_gossip {
	struct mesh_gossip_cfg cfg;
	struct mesh_records *recs;
	uint64_t rng;
	bool started;
	mtime_ns next_round;

	uint8_t (*reach)[MESH_NODE_ID_LEN];	/* sorted, without us */
	size_t nreach, capreach;

	uint64_t bgen[GOSSIP_BUCKETS];		/* the set's bucket gen bhash is of */
	uint8_t bhash[GOSSIP_BUCKETS][GOSSIP_BUCKET_HASH_LEN];
	struct mesh_digest_entry *scr;		/* one bucket's entries (load_bucket) */
	size_t nscr, capscr;
	bool scr_ok;				/* scr holds bucket scr_b at gen scr_gen */
	unsigned scr_b;
	uint64_t scr_gen;
	struct gossip_sub_cache *sub[GOSSIP_BUCKETS];	/* NULL: not needed yet */

	uint64_t round_bytes;			/* sent since the last round began */

	struct mesh_check_budget checks;	/* signature checks per sender */

	struct mesh_gossip_stats st;
};

static inline uint64_t gossip_rnd(struct mesh_gossip *g)
{
	if (g->cfg.rand != NULL)
		return g->cfg.rand(g->cfg.ctx);
	return splitmix64(&g->rng);
}

static inline void gossip_send_msg(struct mesh_gossip *g, const uint8_t *to, const uint8_t *p, size_t n)
{
	g->st.msgs_sent++;
	g->st.bytes_sent += n;
	g->round_bytes += n;
	g->cfg.send(g->cfg.ctx, to, p, n);
}

/* The sub-bucket of an entry within its bucket. */
static inline unsigned gossip_sub_of(const struct mesh_digest_entry *e)
{
	return e->node_id[1] >> 4;
}

static inline int gossip_id_cmp(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, MESH_NODE_ID_LEN);
}

/* gossip.c */
size_t gossip_pick_peers(struct mesh_gossip *g, const uint8_t *exclude,
    size_t out[GOSSIP_FANOUT]);
int gossip_load_bucket(struct mesh_gossip *g, unsigned b);
/* Brings g->sub[b] up to date (and loads bucket b). 0 or MESHD_E_NOMEM. */
int gossip_sub_refresh(struct mesh_gossip *g, unsigned b);

/* gossip_send.c */
uint32_t gossip_summary_count(const struct mesh_gossip *g);
void gossip_send_records(struct mesh_gossip *g, const uint8_t *to, const struct key *keys,
    size_t n);
void gossip_send_rumour(struct mesh_gossip *g, const uint8_t *exclude, uint8_t ttl,
    const uint8_t *kinds, const uint8_t *const *ps, const size_t *lens, size_t n);
void gossip_send_summary(struct mesh_gossip *g, const uint8_t *to);
void gossip_send_buckets(struct mesh_gossip *g, const uint8_t *to);
void gossip_send_pull(struct mesh_gossip *g, const uint8_t *to, const struct key *keys,
    size_t n);
/* DIGEST datagrams for the buckets of half whose hashes differ from theirs
 * (bucket hashes fresh). 0 or MESHD_E_NOMEM. */
int gossip_send_digests(struct mesh_gossip *g, const uint8_t *to, uint8_t half,
    const uint8_t theirs[GOSSIP_BUCKETS_PER_MSG][GOSSIP_BUCKET_HASH_LEN]);
/* DIGEST datagrams for the sub-buckets of buckets[0..n) (ascending) whose
 * hashes differ from theirs[i]: one group per run of adjacent such
 * sub-buckets, empty ones too. 0 or MESHD_E_NOMEM. */
int gossip_send_sub_digests(struct mesh_gossip *g, const uint8_t *to, const uint8_t *buckets,
    const gossip_sub_hashes *theirs, size_t n);

#endif
