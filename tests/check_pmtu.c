/* Path MTU discovery (mesh/pmtu.h), driven by a model path: a probe passes
 * when its size is at most the model's MTU, and is answered (or lost) at the
 * next step of a virtual clock. Cases: a normal path (one probe), black-hole
 * paths of 1280 / 1492 / 1400 found exactly by search and within the time
 * budget, ICMP hints (immediate, then confirmed), an old peer (no answers),
 * black-hole detection after the path shrinks, the raise timer after it
 * grows, and a randomized sweep against the model. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/pmtu.h"
#include "util/err.h"

enum { MAX = 1480 };	/* 1420-byte inner packets over IPv4 */

struct model {
	struct mesh_pmtu pm;
	uint16_t path_mtu;	/* largest probe that passes; 0: nothing passes */
	bool answers;		/* the peer speaks padded probes */
	bool icmp;		/* the path reports too-big probes */
	uint64_t next_txid;
	/* the probe in flight, answered at the next step */
	bool pending;
	uint16_t pend_size;
	uint64_t pend_txid;
	unsigned probes, changes;
	uint16_t last_new;
	uint64_t seed;
};

static void m_probe(void *ctx, uint16_t size, uint64_t txid)
{
	struct model *m = ctx;

	m->probes++;
	m->pending = true;
	m->pend_size = size;
	m->pend_txid = txid;
}

static void m_changed(void *ctx, uint16_t old_mtu, uint16_t new_mtu)
{
	struct model *m = ctx;

	ck_assert_uint_ne(old_mtu, new_mtu);
	m->changes++;
	m->last_new = new_mtu;
}

static uint64_t m_rand(void *ctx)
{
	struct model *m = ctx;

	return ++m->next_txid * 0x9e3779b97f4a7c15ull;
}

static void m_init(struct model *m, uint16_t path_mtu, bool icmp)
{
	struct mesh_pmtu_cfg cfg = { .probe = m_probe, .changed = m_changed, .rand = m_rand,
	    .ctx = m };

	memset(m, 0, sizeof *m);
	m->path_mtu = path_mtu;
	m->answers = true;
	m->icmp = icmp;
	mesh_pmtu_init(&m->pm, &cfg);
}

/* Delivers the pending probe's fate at now: an ACK 1 ms later, an ICMP
 * too-big at once, or nothing. */
static void m_deliver(struct model *m, mtime_ns now)
{
	while (m->pending) {
		m->pending = false;
		if (m->answers && m->pend_size <= m->path_mtu)
			ck_assert_int_eq(mesh_pmtu_input_ack(&m->pm, m->pend_txid, now + MSEC(1)), 0);
		else if (m->icmp && m->pend_size > m->path_mtu && m->path_mtu != 0)
			mesh_pmtu_input_ptb(&m->pm, m->path_mtu, now);
	}
}

/* Runs the engine until it is DONE (or NOANSWER, or the limit), returning
 * the virtual time it took. */
static mtime_ns m_run(struct model *m, mtime_ns now, mtime_ns limit)
{
	mtime_ns start = now;

	m_deliver(m, now);
	while (now - start < limit &&
	    (m->pm.state == MESH_PMTU_SEARCH || m->pm.size != 0)) {
		mtime_ns t = mesh_pmtu_next_expiry(&m->pm);

		ck_assert_uint_ne(t, MTIME_NEVER);
		if (t > now)
			now = t;
		mesh_pmtu_handle_expiry(&m->pm, now);
		m_deliver(m, now);
	}
	return now - start;
}

START_TEST(test_pmtu_normal_path_one_probe)
{
	struct model m;

	m_init(&m, 1500, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	ck_assert_uint_eq(m.probes, 1);
	ck_assert_uint_eq(m.pend_size, MAX);
	ck_assert_uint_eq(m_run(&m, SEC(1), SEC(60)), 0);
	ck_assert_int_eq(m.pm.state, MESH_PMTU_DONE);
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
	ck_assert_uint_eq(m.probes, 1);
	/* at max: no raise timer, only confirmations */
	ck_assert_uint_eq(m.pm.raise_at, MTIME_NEVER);
	ck_assert_uint_eq(mesh_pmtu_next_expiry(&m.pm), SEC(1) + MSEC(1) + SEC(MESH_PMTU_CONFIRM_S));
}
END_TEST

static void black_hole_case(uint16_t path_mtu)
{
	struct model m;
	mtime_ns took;

	m_init(&m, path_mtu, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	took = m_run(&m, SEC(1), SEC(60));
	ck_assert_int_eq(m.pm.state, MESH_PMTU_DONE);
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), path_mtu);
	/* the search must end well within 10 s without any ICMP */
	ck_assert_msg(took < SEC(8), "mtu %u took %llu ms", path_mtu,
	    (unsigned long long)(took / MSEC(1)));
	/* the effective value was never lowered below the truth meanwhile */
	ck_assert_uint_eq(m.changes, 1);
}

START_TEST(test_pmtu_black_hole_1280)
{
	black_hole_case(1280);
}
END_TEST

START_TEST(test_pmtu_black_hole_1492_pppoe)
{
	struct model m;

	/* PPPoE carries 1480-byte IPv4 outer packets: no change needed */
	m_init(&m, 1492, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	m_run(&m, SEC(1), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
	/* over IPv6 the tunnel needs 1500: the search finds 1492 */
	m_init(&m, 1492, false);
	mesh_pmtu_start(&m.pm, 1500, SEC(1));
	m_run(&m, SEC(1), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1492);
}
END_TEST

START_TEST(test_pmtu_black_hole_odd_sizes)
{
	black_hole_case(1281);
	black_hole_case(1400);
	black_hole_case(1479);
}
END_TEST

START_TEST(test_pmtu_icmp_immediate)
{
	struct model m;
	mtime_ns took;

	m_init(&m, 1280, true);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	took = m_run(&m, SEC(1), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1280);
	ck_assert_int_eq(m.pm.state, MESH_PMTU_DONE);
	/* the max probe, then the hinted size confirmed: no timeout at all */
	ck_assert_uint_eq(took, 0);
	ck_assert_uint_eq(m.probes, 2);
}
END_TEST

START_TEST(test_pmtu_icmp_below_base_ignored)
{
	struct model m;

	m_init(&m, 1500, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	m_run(&m, SEC(1), SEC(60));
	mesh_pmtu_input_ptb(&m.pm, 576, SEC(2));
	mesh_pmtu_input_ptb(&m.pm, 68, SEC(2));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
	ck_assert_uint_eq(m.probes, 1);
	/* and one that says nothing new */
	mesh_pmtu_input_ptb(&m.pm, MAX, SEC(2));
	ck_assert_uint_eq(m.probes, 1);
}
END_TEST

/* A forged (or stale) ICMP lowers the MTU at once, but the probe of the
 * hinted size is answered and a later raise restores the truth. */
START_TEST(test_pmtu_icmp_forged_recovers)
{
	struct model m;
	mtime_ns now = SEC(1);

	m_init(&m, 1500, false);
	mesh_pmtu_start(&m.pm, MAX, now);
	m_run(&m, now, SEC(60));
	mesh_pmtu_input_ptb(&m.pm, 1300, SEC(2));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1300);
	m_run(&m, SEC(2), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1300);
	ck_assert_uint_ne(m.pm.raise_at, MTIME_NEVER);
	now = m.pm.raise_at;
	mesh_pmtu_handle_expiry(&m.pm, now);
	m_run(&m, now, SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
}
END_TEST

/* A peer that drops padded probes (older nodes): nothing is clamped, and
 * the search is retried later. */
START_TEST(test_pmtu_old_peer_noanswer)
{
	struct model m;
	mtime_ns took;

	m_init(&m, 1500, false);
	m.answers = false;
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	took = m_run(&m, SEC(1), SEC(60));
	ck_assert_int_eq(m.pm.state, MESH_PMTU_NOANSWER);
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 0);
	ck_assert_uint_eq(m.changes, 0);
	/* max twice, BASE twice */
	ck_assert_uint_eq(m.probes, 2 * MESH_PMTU_MAX_PROBES);
	ck_assert_uint_le(took, SEC(2));
	ck_assert_uint_eq(mesh_pmtu_next_expiry(&m.pm), SEC(1) + took + SEC(MESH_PMTU_RETRY_S));
	/* an ICMP hint is still used as it is */
	mesh_pmtu_input_ptb(&m.pm, 1400, SEC(5));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1400);
	/* the peer upgraded: the retry finds the path */
	m.answers = true;
	mesh_pmtu_handle_expiry(&m.pm, mesh_pmtu_next_expiry(&m.pm));
	m_run(&m, mesh_pmtu_next_expiry(&m.pm), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
}
END_TEST

/* The path shrinks silently: the next confirmation is lost, BASE still
 * passes, so the MTU drops to BASE at once and the search finds the new one. */
START_TEST(test_pmtu_black_hole_detected)
{
	struct model m;
	mtime_ns now = SEC(1), t;

	m_init(&m, 1500, false);
	mesh_pmtu_start(&m.pm, MAX, now);
	m_run(&m, now, SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), MAX);
	m.path_mtu = 1350;
	t = mesh_pmtu_next_expiry(&m.pm);
	ck_assert_uint_eq(t, now + MSEC(1) + SEC(MESH_PMTU_CONFIRM_S));
	mesh_pmtu_handle_expiry(&m.pm, t);
	ck_assert_uint_eq(m.pend_size, MAX);
	m_run(&m, t, SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1350);
	ck_assert_int_eq(m.pm.state, MESH_PMTU_DONE);
}
END_TEST

/* The path dies altogether: confirmation and BASE lost; the MTU is kept
 * (a dead path is the path engine's business) and checked again later. */
START_TEST(test_pmtu_dead_path_keeps_mtu)
{
	struct model m;
	mtime_ns t;

	m_init(&m, 1400, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	m_run(&m, SEC(1), SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1400);
	m.path_mtu = 0;
	t = mesh_pmtu_next_expiry(&m.pm);
	mesh_pmtu_handle_expiry(&m.pm, t);
	m_run(&m, t, SEC(60));
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 1400);
	ck_assert_int_eq(m.pm.state, MESH_PMTU_DONE);
	ck_assert_uint_eq(m.pm.size, 0);
	ck_assert_uint_ne(m.pm.confirm_at, MTIME_NEVER);
}
END_TEST

START_TEST(test_pmtu_stale_ack_ignored)
{
	struct model m;

	m_init(&m, 1500, false);
	mesh_pmtu_start(&m.pm, MAX, SEC(1));
	ck_assert_int_eq(mesh_pmtu_input_ack(&m.pm, m.pend_txid + 1, SEC(1)), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_pmtu_input_ack(&m.pm, m.pend_txid, SEC(1)), 0);
	/* answered once only */
	ck_assert_int_eq(mesh_pmtu_input_ack(&m.pm, m.pend_txid, SEC(1)), MESHD_E_NOENT);
	mesh_pmtu_stop(&m.pm);
	ck_assert_uint_eq(mesh_pmtu_get(&m.pm), 0);
	ck_assert_uint_eq(mesh_pmtu_next_expiry(&m.pm), MTIME_NEVER);
}
END_TEST

START_TEST(test_pmtu_inner_max)
{
	/* IPv4 1280: 1280 - 28 - 32 = 1220 -> 1216 (padding to 16) */
	ck_assert_uint_eq(mesh_pmtu_inner_max(1280, MESH_PMTU_HDR_V4, 1420), 1216);
	ck_assert_uint_eq(mesh_pmtu_inner_max(1280, MESH_PMTU_HDR_V6, 1420), 1200);
	/* the padding stops at the TUN MTU: 1420 itself fits in 1480 */
	ck_assert_uint_eq(mesh_pmtu_inner_max(1480, MESH_PMTU_HDR_V4, 1420), 1420);
	ck_assert_uint_eq(mesh_pmtu_inner_max(1479, MESH_PMTU_HDR_V4, 1420), 1408);
	ck_assert_uint_eq(mesh_pmtu_inner_max(1500, MESH_PMTU_HDR_V6, 1420), 1420);
	ck_assert_uint_eq(mesh_pmtu_inner_max(1492, MESH_PMTU_HDR_V6, 1420), 1408);
	ck_assert_uint_eq(mesh_pmtu_inner_max(9000, MESH_PMTU_HDR_V4, 1420), 1420);
	ck_assert_uint_eq(mesh_pmtu_inner_max(0, MESH_PMTU_HDR_V4, 1420), 0);
}
END_TEST

/* Randomized: any path MTU in [BASE, max], with or without ICMP, is found
 * exactly and within the budget. The seed is printed on failure. */
START_TEST(test_pmtu_random_sweep)
{
	uint64_t seed = 0x5eed1234u;

	for (int i = 0; i < 300; i++) {
		struct model m;
		uint16_t mtu, max;
		bool icmp;
		mtime_ns took;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		max = (uint16_t)(MESH_PMTU_BASE + (seed >> 33) % 600);
		mtu = (uint16_t)(MESH_PMTU_BASE + (seed >> 17) % (unsigned)(max - MESH_PMTU_BASE + 1));
		icmp = (seed >> 5) & 1;
		m_init(&m, mtu, icmp);
		mesh_pmtu_start(&m.pm, max, SEC(1));
		took = m_run(&m, SEC(1), SEC(60));
		ck_assert_msg(mesh_pmtu_get(&m.pm) == mtu && took < SEC(9),
		    "seed %llu: path %u max %u icmp %d: got %u in %llu ms",
		    (unsigned long long)seed, mtu, max, icmp, mesh_pmtu_get(&m.pm),
		    (unsigned long long)(took / MSEC(1)));
	}
}
END_TEST

static Suite *suite_pmtu(void)
{
	Suite *s = suite_create("pmtu");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_pmtu_normal_path_one_probe);
	tcase_add_test(tc, test_pmtu_black_hole_1280);
	tcase_add_test(tc, test_pmtu_black_hole_1492_pppoe);
	tcase_add_test(tc, test_pmtu_black_hole_odd_sizes);
	tcase_add_test(tc, test_pmtu_icmp_immediate);
	tcase_add_test(tc, test_pmtu_icmp_below_base_ignored);
	tcase_add_test(tc, test_pmtu_icmp_forged_recovers);
	tcase_add_test(tc, test_pmtu_old_peer_noanswer);
	tcase_add_test(tc, test_pmtu_black_hole_detected);
	tcase_add_test(tc, test_pmtu_dead_path_keeps_mtu);
	tcase_add_test(tc, test_pmtu_stale_ack_ignored);
	tcase_add_test(tc, test_pmtu_inner_max);
	tcase_add_test(tc, test_pmtu_random_sweep);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_pmtu());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
