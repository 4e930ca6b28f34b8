/* Budgets for signature checks, one per sending member (sans-I/O): a token
 * bucket each, whose rate halves with every record that failed its check
 * (down to rate >> MESH_CHECK_STRIKES_MAX) and recovers a halving with every
 * good one. A fixed table of MESH_CHECK_SLOTS members; the least recently
 * used gives way. Used by gossip (mesh/gossip.h says the numbers). */
#ifndef MESHD_MESH_CHECKBUDGET_H
#define MESHD_MESH_CHECKBUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/bucket.h"
#include "mesh/identity.h"
#include "util/time.h"

enum {
	MESH_CHECK_SLOTS = 64,
	MESH_CHECK_STRIKES_MAX = 6,
};

struct mesh_check_budget {
	struct {
		bool used;
		uint8_t id[MESH_NODE_ID_LEN];
		uint8_t strikes;	/* rate >> strikes */
		mtime_ns last_use;
		struct mesh_bucket b;
	} s[MESH_CHECK_SLOTS];
};

/* The slot of member id (found, free, or the least recently used). */
unsigned mesh_check_budget_slot(struct mesh_check_budget *cb, const uint8_t id[MESH_NODE_ID_LEN],
    mtime_ns now);
/* May slot v have one more check now (rate per second, burst)? */
bool mesh_check_budget_allow(struct mesh_check_budget *cb, unsigned v, mtime_ns now,
    uint64_t rate, uint64_t burst);
/* A check was made: good (true) or failed (false: the budget empties). */
void mesh_check_budget_charge(struct mesh_check_budget *cb, unsigned v, bool good);

#endif
