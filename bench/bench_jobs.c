/* All cores, the crypto alone: bursts of data-message seals (1,420-byte
 * packets, WireGuard's counter nonce, one key) run on the fork-join pool of
 * the data path (src/workers.c) with 1, 2, ... threads, side by side.
 *
 *   build/bench/bench_jobs [seconds-per-cell] [max-threads] [burst]
 *                          (defaults 0.5, the CPU count, 64)
 *
 * Each cell seals bursts for the given wall-clock time; the thread counts
 * alternate round by round (BENCH_ROUNDS rounds) so that load from other
 * processes hits all alike, and the median is printed: GB/s of plaintext
 * per wall-clock second, the speed-up over one thread, and the pool's own
 * counters (bursts spread, bursts that lost and made the next ones run
 * alone). On a machine whose CPUs are busy with other work the pool backs
 * off and the speed-up tends to 1: that is the design (docs/decisions.md
 * D19), not a failure of the benchmark. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wg/crypto.h"
#include "workers.h"

enum {
	BENCH_ROUNDS = 5,
	PKT = 1420,
	MAX_BURST = 256,
	MAX_T = WORKERS_MAX + 1,
};

struct burst {
	struct wg_aead_ctx *ctx;
	uint64_t counter;
	alignas(64) uint8_t buf[MAX_BURST][PKT + 16];
};

static void seal_one(void *arg, unsigned i)
{
	struct burst *b = arg;

	if (!wg_aead_ctx_encrypt(b->ctx, b->buf[i], PKT, b->buf[i] + PKT, b->counter + i))
		abort();
}

static void wipe(void)
{
	wg_aead_thread_wipe();
}

static void leave(void)
{
	wg_aead_thread_free();
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	unsigned maxt = argc > 2 ? (unsigned)atoi(argv[2]) : workers_default_threads();
	unsigned burst = argc > 3 ? (unsigned)atoi(argv[3]) : 64;
	static struct workers w[MAX_T + 1];
	static double gbps[MAX_T + 1][BENCH_ROUNDS];
	static struct burst b;
	struct wg_aead_ctx ctx;
	uint8_t key[WG_CRYPTO_KEY_LEN];

	if (secs <= 0 || maxt < 1 || maxt > MAX_T || burst < 1 || burst > MAX_BURST) {
		fprintf(stderr, "usage: bench_jobs [seconds>0] [max-threads 1-%d] [burst 1-%d]\n",
			MAX_T, MAX_BURST);
		return 2;
	}
	memset(key, 7, sizeof key);
	memset(&ctx, 0, sizeof ctx);
	if (wg_aead_ctx_init(&ctx, key, true) != 0)
		return 1;
	b.ctx = &ctx;
	memset(b.buf, 0x5a, sizeof b.buf);
	for (unsigned t = 1; t <= maxt; t++)
		workers_init(&w[t], t, wipe, leave);
	for (unsigned r = 0; r < BENCH_ROUNDS; r++)
		for (unsigned k = 0; k < maxt; k++) {
			unsigned t = 1 + (r + k) % maxt;
			double t0 = wall(), t1;
			unsigned long long n = 0;

			do {
				workers_run(&w[t], burst, 4, seal_one, &b);
				b.counter += burst;
				n += burst;
			} while ((t1 = wall()) - t0 < secs);
			gbps[t][r] = (double)n * PKT / (t1 - t0) / 1e9;
		}
	printf("bench_jobs: bursts of %u x %d-byte seals, %d rounds x %.2f s per cell, medians\n",
	       burst, PKT, BENCH_ROUNDS, secs);
	for (unsigned t = 1; t <= maxt; t++) {
		double m, one;

		qsort(gbps[t], BENCH_ROUNDS, sizeof gbps[t][0], cmp);
		m = gbps[t][BENCH_ROUNDS / 2];
		one = gbps[1][BENCH_ROUNDS / 2];
		printf("  threads %2u: %6.3f GB/s  x%.2f   bursts %llu, spread %llu, lost %llu "
		       "(slept %llu, no worker %llu)\n",
		       t, m, m / one, w[t].batches, w[t].parallel_batches,
		       w[t].slept + w[t].useless, w[t].slept, w[t].useless);
		printf("RESULT jobs threads=%u gb_s=%.3f speedup=%.2f burst=%u\n", t, m, m / one,
		       burst);
	}
	for (unsigned t = 1; t <= maxt; t++)
		workers_free(&w[t]);
	wg_aead_ctx_clear(&ctx);
	return 0;
}
