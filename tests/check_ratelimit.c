/* Tests for the per-source token buckets (src/wg/ratelimit.c), on a virtual
 * clock. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "util/addr.h"
#include "wg/ratelimit.h"

enum {
	FLOOD_SOURCES = 100000,
	RECLAIM_SOURCES = 1000,
	/* Heap the flood may still add once the table is full: allocator
	 * bookkeeping only, far below one more table's worth. */
	FLOOD_SLACK_BYTES = 4096,
};

static const mtime_ns cost = SEC(1) / WG_RATELIMIT_PPS;
static const mtime_ns t0 = SEC(5000);

static struct wg_ratelimit *rl;

static void setup(void)
{
	rl = wg_ratelimit_new();
	ck_assert_ptr_nonnull(rl);
}

static void teardown(void)
{
	wg_ratelimit_free(rl);
	rl = NULL;
}

static union endpoint ep(const char *s)
{
	union endpoint e;

	ck_assert_msg(endpoint_parse(&e, s, false) == 0, "bad test endpoint %s", s);
	return e;
}

static void allow(const char *src, mtime_ns now, bool want, int line)
{
	union endpoint e = ep(src);
	bool got = wg_ratelimit_allow(rl, &e, now);

	ck_assert_msg(got == want, "line %d: allow(%s, t0%+lld ns) = %d, want %d", line, src,
		      (long long)(now - t0), got, want);
}

#define ALLOW(src, now) allow((src), (now), true, __LINE__)
#define DENY(src, now) allow((src), (now), false, __LINE__)

/* Sends n packets from src at `now`; returns how many passed. */
static int burst(const char *src, mtime_ns now, int n)
{
	union endpoint e = ep(src);
	int i, passed = 0;

	for (i = 0; i < n; i++)
		passed += wg_ratelimit_allow(rl, &e, now);
	return passed;
}

START_TEST(test_ratelimit_allow_burst_then_limited)
{
	ck_assert_int_eq(burst("192.0.2.1:1000", t0, 5), WG_RATELIMIT_BURST);
	DENY("192.0.2.1:1000", t0);
	DENY("192.0.2.1:1000", t0 + 1);
	ck_assert_int_eq(burst("192.0.2.1:1000", t0, 100), 0);
	/* ports do not matter, the address does */
	DENY("192.0.2.1:2000", t0);
	ALLOW("192.0.2.2:1000", t0);
}
END_TEST

START_TEST(test_ratelimit_allow_refills_at_pps)
{
	union endpoint e = ep("198.51.100.1:51820");
	mtime_ns t;
	int passed = 0;

	ck_assert_int_eq(burst("198.51.100.1:51820", t0, 10), WG_RATELIMIT_BURST);
	DENY("198.51.100.1:51820", t0 + cost - 1);
	ALLOW("198.51.100.1:51820", t0 + cost);
	DENY("198.51.100.1:51820", t0 + cost);
	DENY("198.51.100.1:51820", t0 + 2 * cost - 1);
	ALLOW("198.51.100.1:51820", t0 + 2 * cost);

	/* a packet every millisecond for ten seconds: PPS per second get through */
	for (t = t0 + SEC(1); t < t0 + SEC(11); t += MSEC(1))
		passed += wg_ratelimit_allow(rl, &e, t);
	ck_assert_int_ge(passed, 10 * WG_RATELIMIT_PPS);
	ck_assert_int_le(passed, 10 * WG_RATELIMIT_PPS + WG_RATELIMIT_BURST);
}
END_TEST

START_TEST(test_ratelimit_allow_burst_is_capped)
{
	ck_assert_int_eq(burst("192.0.2.1:1", t0, 10), WG_RATELIMIT_BURST);
	/* just under the idle timeout the entry is kept: credit stops at BURST */
	ck_assert_int_eq(burst("192.0.2.1:1", t0 + SEC(1), 10), WG_RATELIMIT_BURST);
	/* long idle: a fresh entry, still no more than BURST */
	ck_assert_int_eq(burst("192.0.2.1:1", t0 + SEC(60), 10), WG_RATELIMIT_BURST);
}
END_TEST

START_TEST(test_ratelimit_allow_v6_per_64)
{
	ck_assert_int_eq(burst("[2001:db8:1:2::1]:1", t0, 3), 3);
	ck_assert_int_eq(burst("[2001:db8:1:2:ffff:ffff:ffff:ffff]:2", t0, 3), 2);
	DENY("[2001:db8:1:2:abcd::9]:3", t0);
	/* neighbouring /64s have their own buckets */
	ck_assert_int_eq(burst("[2001:db8:1:3::1]:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_int_eq(burst("[2001:db8:1:1::1]:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_int_eq(burst("[2001:db9:1:2::1]:1", t0, 10), WG_RATELIMIT_BURST);
	/* and v4 is never confused with the v6 prefix of the same bytes */
	ck_assert_int_eq(burst("32.1.13.184:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_uint_eq(wg_ratelimit_count(rl), 5);
}
END_TEST

START_TEST(test_ratelimit_allow_v4_per_address)
{
	ck_assert_int_eq(burst("10.0.0.1:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_int_eq(burst("10.0.0.2:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_int_eq(burst("10.0.1.1:1", t0, 10), WG_RATELIMIT_BURST);
	ck_assert_uint_eq(wg_ratelimit_count(rl), 3);
}
END_TEST

START_TEST(test_ratelimit_allow_rejects_non_ip)
{
	union endpoint e;

	memset(&e, 0, sizeof e);
	e.sa.sa_family = AF_UNIX;
	ck_assert(!wg_ratelimit_allow(rl, &e, t0));
	ck_assert_uint_eq(wg_ratelimit_count(rl), 0);
	wg_ratelimit_free(NULL);
}
END_TEST

static size_t heap_in_use(void)
{
#ifdef __GLIBC__
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

/* Distinct v4 (and v6 /64) sources from a counter. */
static union endpoint nth_source(uint32_t i, bool v6)
{
	union endpoint e;

	memset(&e, 0, sizeof e);
	if (v6) {
		e.sin6.sin6_family = AF_INET6;
		e.sin6.sin6_addr.s6_addr[0] = 0x20;
		e.sin6.sin6_addr.s6_addr[1] = 0x01;
		memcpy(&e.sin6.sin6_addr.s6_addr[4], &i, sizeof i);	/* inside the /64 */
		e.sin6.sin6_addr.s6_addr[15] = 1;
		e.sin6.sin6_port = htons(1);
	} else {
		e.sin.sin_family = AF_INET;
		e.sin.sin_addr.s_addr = htonl(0x0a000000u + i);
		e.sin.sin_port = htons(1);
	}
	return e;
}

START_TEST(test_ratelimit_allow_table_bounded)
{
	size_t full_heap = 0;
	uint32_t i;
	union endpoint e;

	for (i = 0; i < FLOOD_SOURCES; i++) {
		/* all within the idle timeout: nothing ages out */
		mtime_ns now = t0 + (mtime_ns)i * USEC(5);

		e = nth_source(i, i % 2);
		ck_assert_msg(wg_ratelimit_allow(rl, &e, now), "new source %u refused", i);
		ck_assert_uint_le(wg_ratelimit_count(rl), WG_RATELIMIT_TABLE);
		if (i + 1 == WG_RATELIMIT_TABLE)
			full_heap = heap_in_use();
	}
	ck_assert_uint_eq(wg_ratelimit_count(rl), WG_RATELIMIT_TABLE);
	ck_assert_uint_le(heap_in_use(), full_heap + FLOOD_SLACK_BYTES);
	/* the oldest went first: the newest sources are still limited */
	e = nth_source(FLOOD_SOURCES - 1, (FLOOD_SOURCES - 1) % 2);
	for (i = 1; i < WG_RATELIMIT_BURST; i++)
		ck_assert(wg_ratelimit_allow(rl, &e, t0 + SEC(1) / 2));
	ck_assert(!wg_ratelimit_allow(rl, &e, t0 + SEC(1) / 2));
}
END_TEST

START_TEST(test_ratelimit_allow_reclaims_idle)
{
	size_t before;
	uint32_t i;
	union endpoint e;

	before = heap_in_use();
	for (i = 0; i < RECLAIM_SOURCES; i++) {
		e = nth_source(i, false);
		ck_assert(wg_ratelimit_allow(rl, &e, t0));
	}
	ck_assert_uint_eq(wg_ratelimit_count(rl), RECLAIM_SOURCES);
	/* idle for exactly one second is not yet "more than a second" */
	ALLOW("192.0.2.77:1", t0 + SEC(1));
	ck_assert_uint_eq(wg_ratelimit_count(rl), RECLAIM_SOURCES + 1);
	/* half a second later the first thousand have idled too long */
	ALLOW("192.0.2.78:1", t0 + SEC(1) + SEC(1) / 2);
	ck_assert_uint_eq(wg_ratelimit_count(rl), 2);
	ck_assert_uint_le(heap_in_use(), before + FLOOD_SLACK_BYTES);
	/* a reclaimed source starts over with a full burst */
	e = nth_source(0, false);
	ck_assert(wg_ratelimit_allow(rl, &e, t0 + SEC(2)));
	/* and one that was kept alive is still charged */
	ck_assert_int_eq(burst("192.0.2.78:1", t0 + SEC(2), 10), WG_RATELIMIT_BURST);
}
END_TEST

Suite *suite_ratelimit(void);

Suite *suite_ratelimit(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ratelimit_allow_burst_then_limited);
	tcase_add_test(tc, test_ratelimit_allow_refills_at_pps);
	tcase_add_test(tc, test_ratelimit_allow_burst_is_capped);
	tcase_add_test(tc, test_ratelimit_allow_v6_per_64);
	tcase_add_test(tc, test_ratelimit_allow_v4_per_address);
	tcase_add_test(tc, test_ratelimit_allow_rejects_non_ip);
	tcase_add_test(tc, test_ratelimit_allow_table_bounded);
	tcase_add_test(tc, test_ratelimit_allow_reclaims_idle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_ratelimit());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
