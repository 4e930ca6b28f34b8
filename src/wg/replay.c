/* Replay window for data-message counters (RFC 6479, section 3).
 *
 * The window is a ring of WG_REPLAY_WORDS 64-bit words. Counter c owns bit
 * (c % 64) of word (c / 64) % WG_REPLAY_WORDS. When the highest counter moves
 * forward into a new word, the words between the old and the new highest are
 * cleared: they held counters that have just fallen out of the window. One
 * word is always being recycled, which is why the window is one word shorter
 * than the ring (WG_REPLAY_WINDOW = WG_REPLAY_BITS_TOTAL - 64): every counter
 * at most WG_REPLAY_WINDOW behind the highest still has its own bit.
 *
 * `top` is the highest accepted counter plus one, so 0 means "nothing seen
 * yet" and counter 0 needs no special case.
 *
 * Until the ring is needed (wg/replay.h) it is not allocated: `recent`
 * holds the last 64 counters below `top`, bit i for counter top - 1 - i,
 * and every counter below those was seen. At init `recent` is all ones:
 * counters below 0 do not exist, which is as good as seen. When `top`
 * moves forward by s, the s oldest bits leave `recent`; if one of them is
 * a counter not seen (or s > 64: the counters jumped over), the ring is
 * allocated and filled from `recent` first, then the ring algorithm
 * carries on. Counters still in the window have the same bit either way;
 * older bits never matter (check rejects them by distance, and a word is
 * cleared when it is taken again).
 */
#include <stdlib.h>
#include <string.h>

#include "wg/replay.h"

enum {
	WORD_BITS = 64,
	WORD_SHIFT = 6,			/* log2(WORD_BITS) */
	WORD_MASK = WORD_BITS - 1,
	RING_MASK = WG_REPLAY_WORDS - 1,
};

_Static_assert((WG_REPLAY_WORDS & RING_MASK) == 0, "ring size must be a power of two");
_Static_assert(1 << WORD_SHIFT == WORD_BITS, "word shift");

static inline uint64_t word_index(uint64_t counter)
{
	return counter >> WORD_SHIFT;
}

static inline uint64_t bit_of(uint64_t counter)
{
	return (uint64_t)1 << (counter & WORD_MASK);
}

void wg_replay_init(struct wg_replay *r)
{
	r->top = 0;
	r->recent = ~(uint64_t)0;
	r->ring = NULL;
}

void wg_replay_clear(struct wg_replay *r)
{
	free(r->ring);
	r->ring = NULL;
	r->recent = ~(uint64_t)0;
	/* top - 1 - counter > WG_REPLAY_WINDOW for every counter below any
	 * limit: all rejected */
	r->top = UINT64_MAX;
}

bool wg_replay_check(const struct wg_replay *r, uint64_t counter, uint64_t limit)
{
	uint64_t highest;

	if (counter >= limit)
		return false;
	if (counter >= r->top)
		return true;
	highest = r->top - 1;
	if (highest - counter > WG_REPLAY_WINDOW)
		return false;
	if (!r->ring)
		return highest - counter < WORD_BITS &&
		       ((r->recent >> (highest - counter)) & 1) == 0;
	return (r->ring[word_index(counter) & RING_MASK] & bit_of(counter)) == 0;
}

/* Allocates the ring and records in it what `recent` and the rule "every
 * counter below it was seen" say about the counters in the window.
 * Returns false when out of memory. */
static bool ring_in(struct wg_replay *r)
{
	uint64_t c, lo;

	r->ring = calloc(WG_REPLAY_WORDS, sizeof *r->ring);
	if (!r->ring)
		return false;
	if (r->top == 0)
		return true;
	lo = r->top - 1 > WG_REPLAY_WINDOW ? r->top - 1 - WG_REPLAY_WINDOW : 0;
	for (c = lo; c < r->top; c++) {
		uint64_t d = r->top - 1 - c;

		if (d >= WORD_BITS || ((r->recent >> d) & 1))
			r->ring[word_index(c) & RING_MASK] |= bit_of(c);
	}
	return true;
}

/* Records counter (which passed check) while there is no ring, when
 * `recent` can: true when done. */
static bool update_recent(struct wg_replay *r, uint64_t counter)
{
	uint64_t s, leaving;

	if (counter < r->top) {
		/* check passed: counter is in recent, not seen */
		r->recent |= (uint64_t)1 << (r->top - 1 - counter);
		return true;
	}
	s = counter + 1 - r->top;
	if (s > WORD_BITS)
		return false;		/* jumps over counters: not seen */
	leaving = s == WORD_BITS ? r->recent : r->recent >> (WORD_BITS - s);
	if (leaving != ~(uint64_t)0 >> (WORD_BITS - s))
		return false;		/* an unseen counter would leave */
	r->recent = (s == WORD_BITS ? 0 : r->recent << s) | 1;
	r->top = counter + 1;
	return true;
}

/* Moves the top of the window to `counter` (> highest seen), clearing the words
 * that now belong to counters beyond the old highest. */
static void advance(struct wg_replay *r, uint64_t counter)
{
	uint64_t cur, n, i;

	if (r->top == 0) {
		/* Nothing recorded yet: the ring is still all zero. */
		r->top = counter + 1;
		return;
	}
	cur = word_index(r->top - 1);
	n = word_index(counter) - cur;
	if (n > WG_REPLAY_WORDS)
		n = WG_REPLAY_WORDS;
	for (i = 1; i <= n; i++)
		r->ring[(cur + i) & RING_MASK] = 0;
	r->top = counter + 1;
}

bool wg_replay_update(struct wg_replay *r, uint64_t counter, uint64_t limit)
{
	if (!wg_replay_check(r, counter, limit))
		return false;
	if (!r->ring) {
		if (update_recent(r, counter))
			return true;
		if (!ring_in(r))
			return false;	/* out of memory: the packet is dropped */
	}
	if (counter >= r->top)
		advance(r, counter);
	r->ring[word_index(counter) & RING_MASK] |= bit_of(counter);
	return true;
}
