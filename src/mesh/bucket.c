/* Token buckets (see bucket.h). */
#include "mesh/bucket.h"

void mesh_bucket_refill(struct mesh_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst)
{
	uint64_t cap = burst * MESH_BUCKET_MILLI, dt;

	if (!b->primed) {
		b->primed = true;
		b->milli = cap;
		b->last = now;
		return;
	}
	if (now <= b->last)
		return;
	dt = now - b->last;
	if (dt > SEC(MESH_BUCKET_DT_MAX_S))
		dt = SEC(MESH_BUCKET_DT_MAX_S);
	b->milli += dt * rate / (SEC(1) / MESH_BUCKET_MILLI);
	if (b->milli > cap)
		b->milli = cap;
	b->last = now;
}

bool mesh_bucket_take1(struct mesh_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst)
{
	mesh_bucket_refill(b, now, rate, burst);
	if (!mesh_bucket_has(b, 1))
		return false;
	mesh_bucket_take(b, 1);
	return true;
}
