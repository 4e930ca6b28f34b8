/* Gossip at scale on the deterministic simulator (tests/sim/sim.h): rounds to
 * converge and bytes per node per round, for several mesh sizes, without and
 * with churn and loss. Not part of `make check`: big meshes take up to hours,
 * and memory grows as n^2 (every node holds every record: the bytes once, in
 * the sim's shared pool, plus a ~60-byte index entry per node and member).
 *
 *	make bench/bench_sim && ./bench/bench_sim [-v] [-c|-k] [-b] [-m PERMILLE] [-s SEED] [N ...]
 *
 * -v prints a line per simulated round to stderr (virtual time, wall time,
 * CPU time, RSS, bytes per online node in that round, and per online node the
 * records received in RECORDS, of them held already, merged NEW, skipped for
 * the sender's check budget, ORPHAN, and requests deferred). -c runs the churn
 * scenario only (half the time for a mesh that takes hours), -k the clean
 * scenario only (the two can then run as two processes). -b stops each run
 * once the bootstrap converged (no steady-state or churn phase). -m makes
 * PERMILLE of every 1000 nodes act as nodes from before SUBHASH (a mixed
 * mesh during an upgrade: mesh_gossip_cfg.no_subhash). With -v a second
 * line per round gives the bytes per node by message type.
 *
 * Per N, two scenarios:
 *   clean  no loss, no churn: bootstrap from the join tree (each node knows
 *          1-3 inviters) until every node holds every record, then
 *          STEADY_ROUNDS more rounds in sync;
 *   churn  5 % loss: bootstrap the same way, then CHURN_ROUNDS rounds in each
 *          of which 1 % of the nodes leave for good and as many new ones join
 *          through 1-3 online inviters, then rounds until in sync again.
 * Columns: conv = rounds until every online node holds every record;
 * conv B/n/r = bytes per node per round while converging; steady/churn B/n/r =
 * bytes per online node per round afterwards (in sync, or under churn);
 * join lag = rounds until a joiner's cert and endpoint record are held by
 * every online node (max over joiners); resync = rounds to converge after the
 * churn stops; seconds = wall time of the run, CPU s = its user + system time
 * (on a shared machine the wall time says mostly how loaded it was). A failed
 * run prints its seed.
 */
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim.h"

enum {
	STEADY_ROUNDS = 10,
	CHURN_ROUNDS = 10,
	CHURN_PERMILLE = 10,	/* leaving and joining, each, per round */
	LOSS_PERMILLE = 50,
	RUN_MAX_ROUNDS = 60,
	CONVERGE_LIMIT = 20,	/* what the table is checked against */
};

struct row {
	unsigned n;
	const char *scenario;
	unsigned conv, lag_max, resync;
	double conv_bpr, after_bpr, secs, cpu;	/* wall and CPU seconds */
	long rss_mb;
	bool own_peak;		/* rss_mb is this run's peak, not the process's */
	struct mesh_gossip_stats gs;	/* summed over nodes, bootstrap only */
	bool ok;
};

/* CPU seconds (user + system) of this process so far. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Peak RSS: reset at the start of each run (Linux: /proc/self/clear_refs
 * "5" resets VmHWM), so that a row's figure is its own run's and not the
 * largest so far. False when the reset is not possible. */
static bool peak_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	bool ok;

	if (f == NULL)
		return false;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/* VmHWM in MB, or the process's max RSS when /proc says nothing. */
static long peak_mb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	struct rusage ru;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (kb >= 0)
		return kb / 1024;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static uint64_t online_bytes(struct sim *s, unsigned total)
{
	uint64_t b = 0;

	for (unsigned i = 0; i < total; i++)
		b += sim_node_bytes(s, i);
	return b;
}

/* One round; returns the bytes all nodes sent in it. */
static bool verbose;	/* -v: a progress line per round on stderr */
static bool bootstrap_only;	/* -b: stop each run once converged */
static unsigned old_permille;	/* -m: nodes from before SUBHASH, per 1000 */
static double t_start, c_start;

static long rss_mb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb / 1024;
}

static uint64_t round_bytes(struct sim *s, unsigned total)
{
	uint64_t before = online_bytes(s, total), b;
	struct mesh_gossip_stats g0, g1;
	uint64_t t0[SIM_MSG_TYPES], t1[SIM_MSG_TYPES];
	double on;

	if (verbose) {
		sim_gossip_totals(s, &g0);
		sim_type_bytes(s, t0);
	}
	sim_run_until(s, sim_now(s) + SEC(1));
	b = online_bytes(s, total) - before;
	if (!verbose)
		return b;
	sim_gossip_totals(s, &g1);
	sim_type_bytes(s, t1);
	on = sim_online_count(s);
	/* B/node by message type: SUMMARY BUCKETS DIGEST RECORDS PULL, and
	 * the two-level bucket hashes */
	fprintf(stderr, "  t=%4.0f s  by type B/node: summary %.0f buckets %.0f digest %.0f"
	    " records %.0f pull %.0f subhash %.0f\n", (double)sim_now(s) / (double)SEC(1),
	    (double)(t1[1] - t0[1]) / on, (double)(t1[2] - t0[2]) / on,
	    (double)(t1[3] - t0[3]) / on, (double)(t1[4] - t0[4]) / on,
	    (double)(t1[5] - t0[5]) / on, (double)(t1[6] - t0[6]) / on);
	fprintf(stderr, "  t=%4.0f s  %7.1f s  cpu %7.1f s  %ld MB  %.0f B/node"
	    "  per node: recv %.0f held %.0f new %.0f skipped %.0f orphan %.0f deferred %.1f\n",
	    (double)sim_now(s) / (double)SEC(1), now_s() - t_start, cpu_s() - c_start,
	    rss_mb(), (double)b / on,
	    (double)(g1.records_recv - g0.records_recv) / on,
	    (double)(g1.records_held - g0.records_held) / on,
	    (double)(g1.records_new - g0.records_new) / on,
	    (double)(g1.records_skipped - g0.records_skipped) / on,
	    (double)(g1.records_orphan - g0.records_orphan) / on,
	    (double)(g1.msgs_deferred - g0.msgs_deferred) / on);
	return b;
}

/* Rounds until converged (RUN_MAX_ROUNDS + 1 when never); bytes added to *b. */
static unsigned until_converged(struct sim *s, unsigned total, uint64_t *b)
{
	unsigned r = 0;

	while (!sim_converged(s)) {
		if (r > RUN_MAX_ROUNDS)
			break;
		*b += round_bytes(s, total);
		r++;
	}
	return r;
}

static uint64_t rng_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void run(unsigned n, bool churn, uint64_t seed, struct row *row)
{
	unsigned per_round = churn ? (n * CHURN_PERMILLE + 999) / 1000 : 0;
	unsigned spares = per_round * CHURN_ROUNDS, total = n + spares;
	struct sim_cfg cfg = {
		.nodes = n, .seed = seed, .spares = spares,
		.loss_permille = churn ? LOSS_PERMILLE : 0,
		.old_permille = old_permille,
	};
	bool own_peak = peak_reset();
	double t0 = t_start = now_s(), c0 = c_start = cpu_s();
	struct sim *s = sim_new(&cfg);
	unsigned *join_round = calloc(total, sizeof *join_round);
	bool *done = calloc(total, sizeof *done);
	uint64_t b = 0, rng = seed ^ 0x5eed;

	if (join_round == NULL || done == NULL)
		abort();
	memset(row, 0, sizeof *row);
	row->n = n;
	row->scenario = churn ? "churn 1%+loss 5%" : "clean";
	row->conv = until_converged(s, total, &b);
	sim_gossip_totals(s, &row->gs);
	row->conv_bpr = row->conv ? (double)b / ((double)n * row->conv) : 0;
	row->ok = row->conv <= CONVERGE_LIMIT;
	b = 0;
	if (bootstrap_only) {
		/* -b: the bootstrap alone */
	} else if (!churn) {
		for (unsigned r = 0; r < STEADY_ROUNDS; r++)
			b += round_bytes(s, total);
		row->after_bpr = (double)b / ((double)n * STEADY_ROUNDS);
		row->ok &= sim_converged(s);
	} else {
		unsigned next_spare = n;
		uint64_t online_rounds = 0;

		for (unsigned r = 0; r < CHURN_ROUNDS; r++) {
			for (unsigned k = 0; k < per_round; k++) {
				unsigned i;

				do
					i = (unsigned)(rng_next(&rng) % next_spare);
				while (!sim_online(s, i));
				sim_leave(s, i);
			}
			for (unsigned k = 0; k < per_round; k++) {
				join_round[next_spare] = r;
				sim_join(s, next_spare++);
			}
			b += round_bytes(s, total);
			online_rounds += sim_online_count(s);
			for (unsigned i = n; i < next_spare; i++) {
				if (!sim_online(s, i))
					done[i] = true;	/* left again: nothing to wait for */
				if (done[i] || sim_known_by(s, i) != sim_online_count(s))
					continue;
				done[i] = true;
				if (r + 1 - join_round[i] > row->lag_max)
					row->lag_max = r + 1 - join_round[i];
			}
		}
		row->after_bpr = (double)b / (double)online_rounds;
		b = 0;
		row->resync = until_converged(s, total, &b);
		/* joiners still pending when the churn stopped are everywhere
		 * once in sync again */
		for (unsigned i = n; i < next_spare; i++)
			if (!done[i] && CHURN_ROUNDS - join_round[i] + row->resync > row->lag_max)
				row->lag_max = CHURN_ROUNDS - join_round[i] + row->resync;
		row->ok &= row->resync <= CONVERGE_LIMIT;
		/* online nodes that hold less than half the certs: cut off? */
		for (unsigned i = 0, shown = 0; !row->ok && i < next_spare && shown < 5; i++) {
			size_t certs;
			unsigned known;

			if (!sim_online(s, i))
				continue;
			sim_node_view(s, i, &certs, &known);
			if (certs * 2 >= sim_online_count(s))
				continue;
			fprintf(stderr, "  node %u%s holds %zu certs; %u of the members it knows "
			    "are online\n", i, i >= n ? " (a joiner)" : "", certs, known);
			if (i >= n)
				fprintf(stderr, "    joined in churn round %u\n", join_round[i]);
			shown++;
		}
		for (unsigned i = n, shown = 0; !row->ok && i < next_spare && shown < 5; i++) {
			if (!sim_online(s, i) || sim_known_by(s, i) == sim_online_count(s))
				continue;
			fprintf(stderr, "  joiner %u (round %u) known by %u of %u online\n", i,
			    join_round[i], sim_known_by(s, i), sim_online_count(s));
			shown++;
		}
	}
	row->secs = now_s() - t0;
	row->cpu = cpu_s() - c0;
	row->rss_mb = peak_mb();
	row->own_peak = own_peak;
	if (!row->ok)
		fprintf(stderr, "FAIL n=%u %s seed=%" PRIu64 ": conv %u resync %u (limit %u)\n",
		    n, row->scenario, seed, row->conv, row->resync, CONVERGE_LIMIT);
	sim_free(s);
	free(join_round);
	free(done);
#ifdef __GLIBC__
	malloc_trim(0);	/* so that the next run's peak starts from little */
#endif
}

static void usage(void)
{
	fputs("usage: bench_sim [-v] [-c|-k] [-b] [-m PERMILLE] [-s SEED] [N ...]\n"
	      "  N: nodes per run, 2 to 100000 (default: 100 and 1000), at most 16 runs\n", stderr);
	exit(2);
}

/* argv value s as a number in [lo, hi], or the usage and exit 2. */
static unsigned long long num_arg(const char *what, const char *s, unsigned long long lo,
				  unsigned long long hi)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "bench_sim: %s '%s': want a number from %llu to %llu\n", what, s,
			lo, hi);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	static const unsigned defaults[] = { 100, 1000 };
	static struct row rows[16][2];
	unsigned sizes[16], nsizes = 0;
	uint64_t seed = 1, hits, misses;
	bool fail = false, churn_only = false, clean_only = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			seed = num_arg("-s", argv[++i], 0, UINT64_MAX);
		else if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "-c") == 0)
			churn_only = true;
		else if (strcmp(argv[i], "-k") == 0)
			clean_only = true;
		else if (strcmp(argv[i], "-b") == 0)
			bootstrap_only = true;
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			old_permille = (unsigned)num_arg("-m", argv[++i], 0, 1000);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "bench_sim: unknown option '%s'\n", argv[i]);
			usage();
		} else if (nsizes < 16)
			sizes[nsizes++] = (unsigned)num_arg("N", argv[i], 2, 100000);
		else
			usage();
	}
	if (churn_only && clean_only) {
		fputs("bench_sim: -c and -k exclude each other\n", stderr);
		usage();
	}
	if (nsizes == 0)
		for (; nsizes < 2; nsizes++)
			sizes[nsizes] = defaults[nsizes];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("seed %" PRIu64 "%s\n", seed, old_permille > 0 ? " (mixed mesh: -m)" : "");
	if (old_permille > 0)
		printf("%u of 1000 nodes act as from before SUBHASH\n", old_permille);
	printf("%7s  %-17s %5s %11s %13s %8s %7s %8s %8s %8s\n", "nodes", "scenario", "conv",
	    "conv B/n/r", "after B/n/r", "join lag", "resync", "seconds", "CPU s", "peak RSS");
	for (unsigned k = 0; k < nsizes; k++)
		for (int churn = churn_only; churn < (clean_only ? 1 : 2); churn++) {
			char lag[16] = "-", resync[16] = "-";
			struct row r;

			run(sizes[k], churn, seed, &r);
			rows[k][churn] = r;
			fail |= !r.ok;
			if (churn) {
				snprintf(lag, sizeof lag, "%u", r.lag_max);
				snprintf(resync, sizeof resync, "%u", r.resync);
			}
			printf("%7u  %-17s %5u %11.0f %13.1f %8s %7s %8.1f %8.1f %6ldMB%s%s\n", r.n,
			    r.scenario, r.conv, r.conv_bpr, r.after_bpr, lag, resync, r.secs, r.cpu,
			    r.rss_mb, r.own_peak ? "" : " (process max)", r.ok ? "" : "  FAIL");
		}
	printf("\nwhile converging (bootstrap), per node: records merged NEW, skipped (the "
	    "sender's\nsignature-check budget was spent), requests not answered (round byte "
	    "budget spent)\n");
	for (unsigned k = 0; k < nsizes; k++)
		for (int churn = churn_only; churn < (clean_only ? 1 : 2); churn++) {
			const struct row *r = &rows[k][churn];

			printf("%7u  %-17s new %8.0f  skipped %8.0f  deferred %6.1f\n", r->n,
			    r->scenario, (double)r->gs.records_new / r->n,
			    (double)r->gs.records_skipped / r->n,
			    (double)r->gs.msgs_deferred / r->n);
		}
	sim_verify_stats(&hits, &misses);
	printf("signature checks: %" PRIu64 " done, %" PRIu64 " answered from the memo\n", misses,
	    hits);
	return fail ? EXIT_FAILURE : EXIT_SUCCESS;
}
