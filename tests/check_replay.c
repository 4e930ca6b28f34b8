/* Tests for the replay window (src/wg/replay.c): table cases, then a
 * randomized differential test against a naive "set of seen counters" model. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg/messages.h"
#include "wg/replay.h"

static const uint64_t reject_after = REJECT_AFTER_MESSAGES;
static const uint64_t big = (uint64_t)1 << 40;	/* a limit that never gets in the way */

enum {
	DIFF_OPS = 100000,
	DIFF_SEED = 0x6a09e667,
	SEEN_SLOTS = 1 << 18,		/* > 2 * DIFF_OPS, power of two */
};

/* One table row: update (or check) `c` and expect `want`. */
static void row(struct wg_replay *r, bool update, uint64_t c, uint64_t limit, bool want,
		int line)
{
	bool got = update ? wg_replay_update(r, c, limit) : wg_replay_check(r, c, limit);

	ck_assert_msg(got == want, "line %d: %s(%" PRIu64 ") = %d, want %d", line,
		      update ? "update" : "check", c, got, want);
}

#define UPD(c, want) row(&r, true, (c), big, (want), __LINE__)
#define CHK(c, want) row(&r, false, (c), big, (want), __LINE__)
#define UPD_L(c, lim, want) row(&r, true, (c), (lim), (want), __LINE__)
#define CHK_L(c, lim, want) row(&r, false, (c), (lim), (want), __LINE__)

START_TEST(test_replay_update_in_order)
{
	struct wg_replay r;
	uint64_t c;

	wg_replay_init(&r);
	for (c = 0; c < 3 * WG_REPLAY_BITS_TOTAL; c++)
		UPD(c, true);
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_rejects_duplicate)
{
	struct wg_replay r;

	wg_replay_init(&r);
	UPD(1, true);
	UPD(1, false);
	UPD(5, true);
	UPD(5, false);
	UPD(1, false);
	UPD(3, true);
	UPD(3, false);
	UPD(4, true);
	UPD(2, true);
	UPD(2, false);
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_counter_zero)
{
	struct wg_replay r;

	wg_replay_init(&r);
	CHK(0, true);
	UPD(0, true);
	UPD(0, false);
	CHK(0, false);
	UPD(1, true);
	UPD(0, false);

	/* 0 late, after higher counters */
	wg_replay_clear(&r);
	wg_replay_init(&r);
	UPD(7, true);
	UPD(0, true);
	UPD(0, false);
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_window_edge)
{
	struct wg_replay r;
	const uint64_t hi = WG_REPLAY_WINDOW + 1000;

	wg_replay_init(&r);
	UPD(hi, true);
	UPD(hi - WG_REPLAY_WINDOW - 1, false);		/* window + 1 behind: too old */
	CHK(hi - WG_REPLAY_WINDOW, true);
	UPD(hi - WG_REPLAY_WINDOW, true);		/* exactly window behind: once */
	UPD(hi - WG_REPLAY_WINDOW, false);
	UPD(hi - WG_REPLAY_WINDOW + 1, true);
	UPD(hi - 1, true);
	UPD(hi + 1, true);				/* top moves: the edge moves */
	UPD(hi - WG_REPLAY_WINDOW + 1, false);		/* now window + 0 behind, but seen */
	UPD(hi - WG_REPLAY_WINDOW + 2, true);
	UPD(hi - WG_REPLAY_WINDOW, false);		/* now window + 1 behind */
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_too_old)
{
	struct wg_replay r;

	wg_replay_init(&r);
	UPD(WG_REPLAY_WINDOW + 1, true);
	UPD(0, false);					/* exactly window + 1 behind */
	UPD(1, true);					/* exactly window behind */
	UPD(WG_REPLAY_BITS_TOTAL + 5000, true);
	UPD(5000 + 63, false);
	UPD(5000 + 64, true);				/* window behind */
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_far_jump)
{
	struct wg_replay r;
	uint64_t c;

	wg_replay_init(&r);
	for (c = 0; c < 200; c++)
		UPD(c, true);
	UPD(1000000, true);
	for (c = 0; c < 200; c++)
		UPD(c, false);				/* far behind now */
	UPD(1000000 - WG_REPLAY_WINDOW - 1, false);
	/* the ring was wiped: everything in the window is new except the top */
	for (c = 1000000 - WG_REPLAY_WINDOW; c < 1000000; c++)
		UPD(c, true);
	UPD(1000000, false);

	/* a jump of less than the ring keeps the words still in the window */
	wg_replay_clear(&r);
	wg_replay_init(&r);
	UPD(100, true);
	UPD(200, true);
	UPD(100 + WG_REPLAY_WINDOW, true);
	UPD(200, false);
	UPD(100, false);				/* exactly window behind, still recorded */
	UPD(150, true);
	UPD(150, false);
	UPD(100 + 2 * WG_REPLAY_WINDOW, true);		/* one more jump: 100..200 fall out */
	UPD(200, false);
	UPD(100 + WG_REPLAY_WINDOW, false);
	UPD(101 + WG_REPLAY_WINDOW, true);
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_update_limit)
{
	struct wg_replay r;

	wg_replay_init(&r);
	UPD_L(reject_after - 2, reject_after, true);
	UPD_L(reject_after - 1, reject_after, true);	/* last acceptable */
	UPD_L(reject_after, reject_after, false);
	UPD_L(reject_after + 1, reject_after, false);
	UPD_L(UINT64_MAX, reject_after, false);
	UPD_L(reject_after - 3, reject_after, true);	/* still within the window */
	UPD_L(reject_after - 1, reject_after, false);

	wg_replay_clear(&r);
	wg_replay_init(&r);
	CHK_L(10, 10, false);
	UPD_L(10, 10, false);
	UPD_L(9, 10, true);
	CHK_L(0, 0, false);
	wg_replay_clear(&r);
}
END_TEST

START_TEST(test_replay_check_does_not_record)
{
	struct wg_replay r;

	wg_replay_init(&r);
	CHK(0, true);
	CHK(0, true);
	CHK(1000, true);
	UPD(5, true);
	CHK(1000, true);
	CHK(4, true);					/* 1000 was not recorded: 4 is new */
	UPD(4, true);
	UPD(1000, true);
	CHK(1000, false);
	CHK(999, true);
	CHK(999, true);
	wg_replay_clear(&r);
}
END_TEST

/* Differential test against a naive model. */

struct seen_set {
	uint64_t *slot;			/* counter + 1; 0 = empty */
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static bool seen_has(const struct seen_set *s, uint64_t c)
{
	uint64_t i = mix64(c);

	for (;; i++) {
		uint64_t v = s->slot[i & (SEEN_SLOTS - 1)];

		if (v == 0)
			return false;
		if (v == c + 1)
			return true;
	}
}

static void seen_add(struct seen_set *s, uint64_t c)
{
	uint64_t i = mix64(c);

	while (s->slot[i & (SEEN_SLOTS - 1)] != 0)
		i++;
	s->slot[i & (SEEN_SLOTS - 1)] = c + 1;
}

struct model {
	struct seen_set seen;
	bool any;
	uint64_t highest;
};

static bool model_check(const struct model *m, uint64_t c, uint64_t limit)
{
	if (c >= limit)
		return false;
	if (m->any && c < m->highest && m->highest - c > WG_REPLAY_WINDOW)
		return false;
	return !seen_has(&m->seen, c);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* A counter to try: spread over the window and beyond, or (near) the
 * traffic of a session without the ring: mostly in order, reordered or
 * jumping by around 64, from a first counter near 64. */
static uint64_t diff_pick(const struct model *m, uint64_t limit, bool near)
{
	uint64_t pick = rnd_below(100);

	if (near) {
		if (!m->any)
			return rnd_below(70);
		if (pick < 70)
			return m->highest + 1;
		if (pick < 85)
			return sub_floor(m->highest, rnd_below(70));
		if (pick < 97)
			return m->highest + 1 + rnd_below(70);
		return sub_floor(m->highest, rnd_below(WG_REPLAY_WINDOW + 200));
	}
	if (pick < 40)
		return m->highest + 1 + rnd_below(3);		/* mostly in order */
	if (pick < 65)
		return sub_floor(m->highest, rnd_below(WG_REPLAY_WINDOW + 200));
	if (pick < 75)
		return sub_floor(m->highest, WG_REPLAY_WINDOW + rnd_below(2)); /* edge */
	if (pick < 85)
		return sub_floor(m->highest, rnd_below(64));	/* recent duplicates */
	if (pick < 93)
		return m->highest + rnd_below(3 * WG_REPLAY_BITS_TOTAL); /* jump */
	if (pick < 96)
		return m->highest + WG_REPLAY_BITS_TOTAL - 64 + rnd_below(128);
	if (pick < 99)
		return limit - 1 - rnd_below(3 * WG_REPLAY_BITS_TOTAL) + rnd_below(8);
	return rnd_below(m->highest + 1);			/* anywhere seen */
}

/* near: diff_pick's near mode, and a fresh state every 300 operations or
 * so (each one goes without the ring, then mostly brings it in). */
static void diff_run(uint64_t seed, bool near)
{
	const uint64_t limit = 40000000;
	struct wg_replay r;
	struct model m = { .any = false, .highest = 0 };
	uint64_t c;
	int i, accepted = 0;

	m.seen.slot = calloc(SEEN_SLOTS, sizeof *m.seen.slot);
	ck_assert_ptr_nonnull(m.seen.slot);
	rng_state = seed;
	wg_replay_init(&r);
	for (i = 0; i < DIFF_OPS; i++) {
		bool want, got, update = rnd_below(4) != 0;

		c = diff_pick(&m, limit, near);

		want = model_check(&m, c, limit);
		got = update ? wg_replay_update(&r, c, limit) : wg_replay_check(&r, c, limit);
		ck_assert_msg(got == want,
			      "seed %#" PRIx64 " op %d: %s(%" PRIu64 ") highest %" PRIu64
			      " = %d, model %d", seed, i, update ? "update" : "check", c,
			      m.highest, got, want);
		if (update && want) {
			seen_add(&m.seen, c);
			accepted++;
			if (!m.any || c > m.highest)
				m.highest = c;
			m.any = true;
		}
		/* Occasionally restart from a fresh state so the limit region
		 * does not dominate once it has been reached. */
		if (near ? rnd_below(300) == 0 :
		    m.highest > limit - 2 * WG_REPLAY_BITS_TOTAL && rnd_below(50) == 0) {
			memset(m.seen.slot, 0, SEEN_SLOTS * sizeof *m.seen.slot);
			m.any = false;
			m.highest = 0;
			wg_replay_clear(&r);
			wg_replay_init(&r);
		}
	}
	ck_assert_int_gt(accepted, DIFF_OPS / 4);
	free(m.seen.slot);
	wg_replay_clear(&r);
}

START_TEST(test_replay_update_matches_model)
{
	diff_run(DIFF_SEED, false);
}
END_TEST

START_TEST(test_replay_update_matches_model_near)
{
	diff_run(DIFF_SEED + 1, true);
}
END_TEST

/* In-order traffic, and reordering by less than 64, need no ring; a
 * counter lost inside the window brings it in; clear rejects everything. */
START_TEST(test_replay_ring_on_demand)
{
	struct wg_replay r;
	uint64_t c;

	wg_replay_init(&r);
	for (c = 0; c < 3 * WG_REPLAY_BITS_TOTAL; c++)
		UPD(c, true);
	UPD(c + 63, true);
	for (uint64_t k = c; k < c + 63; k++)
		UPD(k, true);
	ck_assert_ptr_null(r.ring);
	c += 64;
	UPD(c + 1, true);				/* c is lost ... */
	ck_assert_ptr_null(r.ring);
	UPD(c + 64, true);				/* ... and leaves recent */
	ck_assert_ptr_nonnull(r.ring);
	UPD(c, true);
	UPD(c, false);
	UPD(c + 1, false);
	UPD(c + 63, true);
	wg_replay_clear(&r);
	ck_assert_ptr_null(r.ring);
	CHK(0, false);
	CHK(c + 100, false);
	wg_replay_init(&r);
	UPD(64, true);					/* 0..63 unseen */
	ck_assert_ptr_nonnull(r.ring);
	UPD(0, true);
	UPD(0, false);
	wg_replay_clear(&r);
}
END_TEST

Suite *suite_replay(void);

Suite *suite_replay(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_replay_update_in_order);
	tcase_add_test(tc, test_replay_update_rejects_duplicate);
	tcase_add_test(tc, test_replay_update_counter_zero);
	tcase_add_test(tc, test_replay_update_window_edge);
	tcase_add_test(tc, test_replay_update_too_old);
	tcase_add_test(tc, test_replay_update_far_jump);
	tcase_add_test(tc, test_replay_update_limit);
	tcase_add_test(tc, test_replay_check_does_not_record);
	tcase_add_test(tc, test_replay_update_matches_model);
	tcase_add_test(tc, test_replay_update_matches_model_near);
	tcase_add_test(tc, test_replay_ring_on_demand);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_replay());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
