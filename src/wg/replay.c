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
 */
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
	memset(r, 0, sizeof *r);
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
	return (r->ring[word_index(counter) & RING_MASK] & bit_of(counter)) == 0;
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
	if (counter >= r->top)
		advance(r, counter);
	r->ring[word_index(counter) & RING_MASK] |= bit_of(counter);
	return true;
}
