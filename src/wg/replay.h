/* Sliding replay window for data-message counters (RFC 6479 style: a ring of
 * 64-bit words; the window is WG_REPLAY_WINDOW counters behind the highest seen).
 * Contract: call wg_replay_check() before spending work on a packet, and
 * wg_replay_update() only after the packet authenticated. */
#ifndef MESHD_WG_REPLAY_H
#define MESHD_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	WG_REPLAY_BITS_TOTAL = 8192,	/* ring size in bits (a power of two) */
	WG_REPLAY_WORDS = WG_REPLAY_BITS_TOTAL / 64,
	WG_REPLAY_WINDOW = WG_REPLAY_BITS_TOTAL - 64,	/* counters accepted behind the top */
};

struct wg_replay {
	uint64_t top;			/* next counter above the highest accepted */
	uint64_t ring[WG_REPLAY_WORDS];
};

void wg_replay_init(struct wg_replay *r);
/* True when `counter` (< limit) is new and inside the window. Does not record it. */
bool wg_replay_check(const struct wg_replay *r, uint64_t counter, uint64_t limit);
/* Same test, and records the counter when it passes. Returns the verdict. */
bool wg_replay_update(struct wg_replay *r, uint64_t counter, uint64_t limit);

#endif
