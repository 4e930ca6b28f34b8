/* Token buckets for the anti-abuse limits (join verifications, relay
 * sources and bytes, probes to one destination). Sans-I/O: the monotonic
 * time is handed in. Tokens are kept in thousandths so that slow rates
 * refill smoothly; an idle time longer than MESH_BUCKET_DT_MAX_S counts as
 * that long (it refills to full anyway). A zeroed bucket is fresh and starts
 * full at its first use. */
#ifndef MESHD_MESH_BUCKET_H
#define MESHD_MESH_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "util/time.h"

enum {
	MESH_BUCKET_MILLI = 1000,
	MESH_BUCKET_DT_MAX_S = 60,
};

struct mesh_bucket {
	uint64_t milli;		/* tokens x MESH_BUCKET_MILLI */
	mtime_ns last;		/* last refill */
	bool primed;		/* false: never used (starts full) */
};

/* Refills b at rate tokens/s up to burst tokens (rate x 60 s x 1000 and
 * burst x 1000 must fit 64 bits: any rate below 3e11/s does). */
void mesh_bucket_refill(struct mesh_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst);

/* True when b holds cost tokens (after a refill). */
static inline bool mesh_bucket_has(const struct mesh_bucket *b, uint64_t cost)
{
	return b->milli >= cost * MESH_BUCKET_MILLI;
}

/* Takes cost tokens; mesh_bucket_has(b, cost) must be true. */
static inline void mesh_bucket_take(struct mesh_bucket *b, uint64_t cost)
{
	b->milli -= cost * MESH_BUCKET_MILLI;
}

/* Refill, then take one token if there is one. */
bool mesh_bucket_take1(struct mesh_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst);

#endif
