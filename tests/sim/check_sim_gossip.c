/* The gossip engine at scale, on the deterministic simulator (sim.h):
 * convergence from a join-shaped bootstrap, bytes per node per round during
 * convergence and in steady state, a published endpoint change, a
 * revocation, and how the steady-state cost scales with the mesh size.
 *
 * Bounds asserted, and why:
 * - convergence within CONVERGE_MAX_ROUNDS: push-pull anti-entropy spreads a
 *   record to all n nodes in O(log n) rounds (log2 200 ~ 8) once peers can
 *   reach each other; here reachability itself spreads by gossip from a
 *   sparse join tree, and each exchange is capped (GOSSIP_PUSH_MAX records
 *   per digest datagram), so allow 2.5 x log2 n.
 * - a published record everywhere within CHANGE_MAX_ROUNDS: it goes out as a
 *   rumour (fanout 3, each node forwards once), which alone covers most nodes
 *   in about log3 200 ~ 5 hops of 20 ms; anti-entropy (O(log n) rounds)
 *   catches what a lost datagram missed.
 * - steady state: SUMMARY only, GOSSIP_FANOUT small messages per node per
 *   round, independent of n: 200 nodes may cost at most 2x 50 nodes.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/records.h"
#include "sim.h"

enum {
	CONVERGE_MAX_ROUNDS = 20,
	CHANGE_MAX_ROUNDS = 10,
	STEADY_ROUNDS = 10,
	RUN_MAX_ROUNDS = 60,	/* give up measuring after this */
};

struct window {
	uint64_t total;		/* bytes by all nodes */
	uint64_t max;		/* most bytes one node sent in one round */
	unsigned rounds;
};

/* Runs one round (1 s of virtual time) and accounts its bytes. */
static void run_round(struct sim *s, unsigned n, struct window *w)
{
	uint64_t *before = calloc(n, sizeof *before);

	ck_assert_ptr_nonnull(before);
	for (unsigned i = 0; i < n; i++)
		before[i] = sim_node_bytes(s, i);
	sim_run_until(s, sim_now(s) + SEC(1));
	for (unsigned i = 0; i < n; i++) {
		uint64_t d = sim_node_bytes(s, i) - before[i];

		w->total += d;
		if (d > w->max)
			w->max = d;
	}
	w->rounds++;
	free(before);
}

static double avg(const struct window *w, unsigned n)
{
	return w->rounds ? (double)w->total / ((double)n * w->rounds) : 0;
}

struct result {
	unsigned rounds;
	struct window conv, steady;
};

/* Bootstrap, converge, then STEADY_ROUNDS in sync. */
static struct sim *converge(unsigned n, unsigned loss, uint64_t seed, struct result *res)
{
	struct sim_cfg cfg = { .nodes = n, .seed = seed, .loss_permille = loss };
	struct sim *s = sim_new(&cfg);

	memset(res, 0, sizeof *res);
	while (!sim_converged(s)) {
		ck_assert_msg(res->conv.rounds < RUN_MAX_ROUNDS,
		    "n=%u loss=%u seed=%" PRIu64 ": no convergence in %u rounds", n, loss, seed,
		    RUN_MAX_ROUNDS);
		run_round(s, n, &res->conv);
	}
	res->rounds = res->conv.rounds;
	for (unsigned r = 0; r < STEADY_ROUNDS; r++)
		run_round(s, n, &res->steady);
	ck_assert(sim_converged(s));
	printf("n=%u loss=%u.%u%% seed=%" PRIu64 ": converged in %u rounds; bytes/node/round "
	    "converging avg %.0f max %" PRIu64 ", steady avg %.1f max %" PRIu64
	    " (delivered %" PRIu64 ", lost %" PRIu64 ")\n",
	    n, loss / 10, loss % 10, seed, res->rounds, avg(&res->conv, n), res->conv.max,
	    avg(&res->steady, n), res->steady.max, sim_delivered(s), sim_lost(s));
	return s;
}

/* Rounds until cond holds (at most max, asserted). */
static unsigned rounds_until(struct sim *s, unsigned n, bool (*cond)(struct sim *, unsigned,
    uint64_t), unsigned a, uint64_t b, unsigned max, struct window *w)
{
	unsigned r = 0;

	while (!cond(s, a, b)) {
		ck_assert_msg(r < max, "not everywhere after %u rounds", max);
		run_round(s, n, w);
		r++;
	}
	return r;
}

static bool have_ep(struct sim *s, unsigned i, uint64_t seq)
{
	return sim_all_have_endpoints(s, i, seq);
}

static bool revoked(struct sim *s, unsigned i, uint64_t unused)
{
	(void)unused;
	return sim_all_revoked(s, i);
}

static bool converged(struct sim *s, unsigned i, uint64_t unused)
{
	(void)i;
	(void)unused;
	return sim_converged(s);
}

static void full_scenario(unsigned n, unsigned loss, uint64_t seed)
{
	struct result res;
	struct window w;
	struct sim *s = converge(n, loss, seed, &res);
	unsigned mover = n / 2, victim = n / 3, r;
	uint64_t seq;

	ck_assert_uint_le(res.rounds, CONVERGE_MAX_ROUNDS);

	/* an endpoint change, published by its owner */
	memset(&w, 0, sizeof w);
	ck_assert_int_eq(sim_publish_endpoints(s, mover, &seq), MESH_MERGE_NEW);
	r = rounds_until(s, n, have_ep, mover, seq, CHANGE_MAX_ROUNDS, &w);
	printf("n=%u loss=%u.%u%%: endpoint change everywhere after %u rounds "
	    "(bytes/node/round avg %.1f)\n", n, loss / 10, loss % 10, r, avg(&w, n));

	/* a revocation, published by an admin (node 0) */
	memset(&w, 0, sizeof w);
	ck_assert_int_eq(sim_publish_revoke(s, 0, victim), MESH_MERGE_NEW);
	r = rounds_until(s, n, revoked, victim, 0, CHANGE_MAX_ROUNDS, &w);
	printf("n=%u loss=%u.%u%%: revocation everywhere after %u rounds\n", n, loss / 10,
	    loss % 10, r);
	r = rounds_until(s, n, converged, 0, 0, CHANGE_MAX_ROUNDS, &w);
	printf("n=%u loss=%u.%u%%: in sync again after %u more rounds\n", n, loss / 10, loss % 10,
	    r);
	sim_free(s);
}

enum { SEEDS = 3 };

START_TEST(test_sim_200_no_loss)
{
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		full_scenario(200, 0, seed);
}
END_TEST

START_TEST(test_sim_200_loss_5pct)
{
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		full_scenario(200, 50, 100 + seed);
}
END_TEST

/* The same seed is the same run, to the byte. */
START_TEST(test_sim_replays_exactly)
{
	struct result a, b;
	struct sim *sa = converge(50, 50, 5, &a), *sb = converge(50, 50, 5, &b);

	ck_assert_uint_eq(a.rounds, b.rounds);
	ck_assert_uint_eq(a.conv.total, b.conv.total);
	ck_assert_uint_eq(a.conv.max, b.conv.max);
	ck_assert_uint_eq(a.steady.total, b.steady.total);
	ck_assert_uint_eq(sim_delivered(sa), sim_delivered(sb));
	ck_assert_uint_eq(sim_lost(sa), sim_lost(sb));
	for (unsigned i = 0; i < 50; i++)
		ck_assert_uint_eq(sim_node_bytes(sa, i), sim_node_bytes(sb, i));
	sim_free(sa);
	sim_free(sb);
}
END_TEST

START_TEST(test_sim_small_meshes)
{
	/* corner cases of the bootstrap: one node, two nodes */
	static const unsigned sizes[] = { 1, 2, 3, 10, 30 };

	for (unsigned i = 0; i < 5; i++) {
		struct result res;

		sim_free(converge(sizes[i], 0, 7 + i, &res));
		ck_assert_uint_le(res.rounds, CONVERGE_MAX_ROUNDS);
	}
}
END_TEST

START_TEST(test_sim_steady_cost_flat)
{
	static const unsigned sizes[] = { 50, 100, 200 };
	double steady[3];

	for (unsigned i = 0; i < 3; i++) {
		struct result res;

		sim_free(converge(sizes[i], 0, 3, &res));
		steady[i] = avg(&res.steady, sizes[i]);
		printf("scaling: n=%u steady-state bytes/node/round %.1f\n", sizes[i], steady[i]);
	}
	ck_assert_msg(steady[2] <= 2 * steady[0], "steady cost grows: %.1f at 200 vs %.1f at 50",
	    steady[2], steady[0]);
}
END_TEST

/* 1 % of the members leave and as many join in each of 10 rounds, with 5 %
 * loss; once the churn stops every online node holds every record again
 * within CONVERGE_MAX_ROUNDS. Steady state is back to SUMMARY only. */
START_TEST(test_sim_200_churn)
{
	enum { N = 200, PER_ROUND = 2, ROUNDS = 10 };
	struct sim_cfg cfg = { .nodes = N, .seed = 42, .loss_permille = 50,
	    .spares = PER_ROUND * ROUNDS };
	struct sim *s = sim_new(&cfg);
	struct window w;
	unsigned next = N, r = 0;
	uint64_t rng = 42;

	memset(&w, 0, sizeof w);
	while (!sim_converged(s)) {
		ck_assert_msg(r++ < CONVERGE_MAX_ROUNDS, "seed=%" PRIu64 ": no convergence",
		    cfg.seed);
		run_round(s, N + cfg.spares, &w);
	}
	for (unsigned k = 0; k < ROUNDS; k++) {
		for (unsigned j = 0; j < PER_ROUND; j++) {
			unsigned i;

			do
				i = (unsigned)((rng = rng * 6364136223846793005ULL + 1) >> 33) % next;
			while (!sim_online(s, i));
			sim_leave(s, i);
			sim_join(s, next++);
		}
		run_round(s, N + cfg.spares, &w);
	}
	ck_assert_uint_eq(sim_online_count(s), N);
	r = rounds_until(s, N + cfg.spares, converged, 0, 0, CONVERGE_MAX_ROUNDS, &w);
	printf("n=%u churn %u/round loss 5%% seed=%" PRIu64 ": in sync %u rounds after the "
	    "churn stopped (dropped to departed nodes %" PRIu64 ")\n", N, PER_ROUND, cfg.seed, r,
	    sim_dropped_offline(s));
	memset(&w, 0, sizeof w);
	for (unsigned k = 0; k < STEADY_ROUNDS; k++)
		run_round(s, N + cfg.spares, &w);
	ck_assert(sim_converged(s));
	sim_free(s);
}
END_TEST

static Suite *suite_sim_gossip(void)
{
	Suite *s = suite_create("sim_gossip");
	TCase *small = tcase_create("small");	/* quick: CK_RUN_CASE=small under valgrind */
	TCase *tc = tcase_create("sim");

	tcase_add_test(small, test_sim_small_meshes);
	tcase_add_test(small, test_sim_replays_exactly);
	suite_add_tcase(s, small);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sim_200_no_loss);
	tcase_add_test(tc, test_sim_200_loss_5pct);
	tcase_add_test(tc, test_sim_steady_cost_flat);
	tcase_add_test(tc, test_sim_200_churn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_sim_gossip());
	int failed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
