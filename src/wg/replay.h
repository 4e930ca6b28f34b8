/* Sliding replay window for data-message counters (RFC 6479 style: a ring of
 * 64-bit words; the window is WG_REPLAY_WINDOW counters behind the highest seen).
 * Contract: call wg_replay_check() before spending work on a packet, and
 * wg_replay_update() only after the packet authenticated; wg_replay_clear()
 * before the memory goes or is initialised again.
 *
 * The ring (1 KB) is allocated only when it is needed: while every counter
 * more than 64 behind the highest has been seen (traffic in order, or
 * reordered by less than 64), the last 64 counters in `recent` say all
 * there is to know. The first counter that leaves `recent` unseen while
 * still inside the window (a lost packet, a reordering of 64 or more, a
 * first counter of 64 or more) brings the ring in; the answers are the same
 * either way. An idle or loss-free session (most of a mesh's) holds 24 bytes
 * instead of 1,032. */
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
	uint64_t recent;		/* no ring: bit i set when top - 1 - i was
					 * seen (or is below 0); every counter
					 * below top - 64 was seen */
	uint64_t *ring;			/* WG_REPLAY_WORDS words, or NULL */
};

void wg_replay_init(struct wg_replay *r);
/* Frees the ring; the window then rejects every counter (until init). */
void wg_replay_clear(struct wg_replay *r);
/* True when `counter` (< limit) is new and inside the window. Does not record it. */
bool wg_replay_check(const struct wg_replay *r, uint64_t counter, uint64_t limit);
/* Same test, and records the counter when it passes. Returns the verdict. */
bool wg_replay_update(struct wg_replay *r, uint64_t counter, uint64_t limit);

#endif
