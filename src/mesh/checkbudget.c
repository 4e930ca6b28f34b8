/* Signature-check budgets per member (see checkbudget.h). */
#include <string.h>

#include "mesh/checkbudget.h"

unsigned mesh_check_budget_slot(struct mesh_check_budget *cb, const uint8_t id[MESH_NODE_ID_LEN],
    mtime_ns now)
{
	unsigned i, lru = 0;

	for (i = 0; i < MESH_CHECK_SLOTS; i++) {
		if (cb->s[i].used && memcmp(cb->s[i].id, id, MESH_NODE_ID_LEN) == 0)
			break;
		if (!cb->s[i].used || (cb->s[lru].used && cb->s[i].last_use < cb->s[lru].last_use))
			lru = i;
	}
	if (i == MESH_CHECK_SLOTS) {
		i = lru;
		memset(&cb->s[i], 0, sizeof cb->s[i]);
		cb->s[i].used = true;
		memcpy(cb->s[i].id, id, MESH_NODE_ID_LEN);
	}
	cb->s[i].last_use = now;
	return i;
}

bool mesh_check_budget_allow(struct mesh_check_budget *cb, unsigned v, mtime_ns now,
    uint64_t rate, uint64_t burst)
{
	mesh_bucket_refill(&cb->s[v].b, now, rate >> cb->s[v].strikes, burst);
	return mesh_bucket_has(&cb->s[v].b, 1);
}

void mesh_check_budget_charge(struct mesh_check_budget *cb, unsigned v, bool good)
{
	if (mesh_bucket_has(&cb->s[v].b, 1))
		mesh_bucket_take(&cb->s[v].b, 1);
	if (!good) {
		cb->s[v].b.milli = 0;
		if (cb->s[v].strikes < MESH_CHECK_STRIKES_MAX)
			cb->s[v].strikes++;
	} else if (cb->s[v].strikes > 0) {
		cb->s[v].strikes--;
	}
}
