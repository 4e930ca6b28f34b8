/* Single-core ChaCha20-Poly1305 throughput: libsodium (the handshake path,
 * key passed per call) against meshd's transport path (struct wg_aead_ctx:
 * OpenSSL EVP keyed once, nonce per packet), same run, same buffers.
 *
 *   build/bench/bench_aead [seconds-per-cell]        (default 0.25)
 *
 * For each message size (64, 1420, 65536 bytes) and direction it runs
 * BENCH_ROUNDS rounds, alternating libsodium and EVP so that load from other
 * processes hits both alike, and prints the median. Throughput is plaintext
 * bytes per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so
 * time spent preempted on a busy machine does not count; the wall-clock
 * figure is printed beside it. Decryption copies the ciphertext back into
 * the buffer before each call (both libraries decrypt in place here and must
 * see a valid tag each time); that copy is inside the timing for both. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "wg/crypto.h"

enum {
	BENCH_ROUNDS = 5,
	BENCH_MAX_LEN = 65536,
};

enum impl { IMPL_SODIUM, IMPL_EVP };
enum dir { DIR_SEAL, DIR_OPEN };

struct cell {
	double cpu_gbps[BENCH_ROUNDS];
	double wall_gbps[BENCH_ROUNDS];
};

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct ctx {
	uint8_t key[WG_CRYPTO_KEY_LEN];
	struct wg_aead_ctx enc, dec;
	uint8_t *buf, *ct;		/* BENCH_MAX_LEN each */
	uint8_t tag[WG_CRYPTO_TAG_LEN];
};

/* One message through impl in direction dir; false if anything failed. */
static bool one(struct ctx *c, enum impl impl, enum dir dir, size_t len, uint64_t counter)
{
	uint8_t nonce[WG_CRYPTO_NONCE_LEN] = { 0 };

	if (dir == DIR_SEAL) {
		if (impl == IMPL_EVP)
			return wg_aead_ctx_encrypt(&c->enc, c->buf, len, c->tag, counter);
		memcpy(nonce + 4, &counter, sizeof counter);
		return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			       c->buf, c->tag, NULL, c->buf, len, NULL, 0, NULL, nonce, c->key) == 0;
	}
	/* c->ct/c->tag were sealed under counter 0. */
	memcpy(c->buf, c->ct, len);
	if (impl == IMPL_EVP)
		return wg_aead_ctx_decrypt(&c->dec, c->buf, len, c->tag, 0);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(c->buf, NULL, c->buf, len,
								  c->tag, NULL, 0, nonce,
								  c->key) == 0;
}

static bool run_cell(struct ctx *c, enum impl impl, enum dir dir, size_t len, double seconds,
		     double *cpu_gbps, double *wall_gbps)
{
	uint64_t n = 0, batch = len >= 8192 ? 16 : 1024;
	double c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC), c1;

	do {
		for (uint64_t i = 0; i < batch; i++, n++)
			if (!one(c, impl, dir, len, dir == DIR_SEAL ? n : 0))
				return false;
		c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
	} while (c1 - c0 < seconds);
	*cpu_gbps = (double)n * (double)len / (c1 - c0) / 1e9;
	*wall_gbps = (double)n * (double)len / (now_s(CLOCK_MONOTONIC) - w0) / 1e9;
	return true;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 64, 1420, 65536 };
	static const char *const impl_name[] = { "libsodium", "evp" };
	static const char *const dir_name[] = { "seal", "open" };
	double seconds = argc > 1 ? atof(argv[1]) : 0.25;
	struct ctx c = { 0 };

	if (sodium_init() < 0 || seconds <= 0) {
		fprintf(stderr, "usage: bench_aead [seconds-per-cell > 0]\n");
		return 2;
	}
	c.buf = malloc(BENCH_MAX_LEN);
	c.ct = malloc(BENCH_MAX_LEN);
	if (!c.buf || !c.ct)
		return 1;
	randombytes_buf(c.key, sizeof c.key);
	randombytes_buf(c.ct, BENCH_MAX_LEN);
	if (wg_aead_ctx_init(&c.enc, c.key, true) != 0 ||
	    wg_aead_ctx_init(&c.dec, c.key, false) != 0) {
		fprintf(stderr, "bench_aead: libcrypto context setup failed\n");
		return 1;
	}

	printf("%-7s %-5s %-10s %12s %12s   (median of %d rounds, %.2f s CPU each)\n", "bytes",
	       "op", "impl", "GB/s(cpu)", "GB/s(wall)", BENCH_ROUNDS, seconds);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t len = sizes[s];
		double ratio[2];

		for (int d = DIR_SEAL; d <= DIR_OPEN; d++) {
			struct cell cell[2];
			double med[2];

			if (d == DIR_OPEN) {
				/* a valid message for the open cells */
				memset(c.buf, 0xa5, len);
				if (!wg_aead_ctx_encrypt(&c.enc, c.buf, len, c.tag, 0))
					return 1;
				memcpy(c.ct, c.buf, len);
			}
			for (int r = 0; r < BENCH_ROUNDS; r++)
				for (int k = 0; k < 2; k++) {
					/* alternate which one goes first */
					enum impl impl = (enum impl)((k + r) % 2);

					if (!run_cell(&c, impl, (enum dir)d, len, seconds,
						      &cell[impl].cpu_gbps[r],
						      &cell[impl].wall_gbps[r])) {
						fprintf(stderr, "bench_aead: %s %s %zu failed\n",
							impl_name[impl], dir_name[d], len);
						return 1;
					}
				}
			for (int i = 0; i < 2; i++) {
				double wall;

				med[i] = median(cell[i].cpu_gbps, BENCH_ROUNDS);
				wall = median(cell[i].wall_gbps, BENCH_ROUNDS);
				printf("%-7zu %-5s %-10s %12.3f %12.3f\n", len, dir_name[d],
				       impl_name[i], med[i], wall);
				printf("RESULT aead impl=%s op=%s bytes=%zu gb_s=%.3f wall_gb_s=%.3f\n",
				       impl_name[i], dir_name[d], len, med[i], wall);
			}
			ratio[d] = med[IMPL_EVP] / med[IMPL_SODIUM];
		}
		printf("%-7zu evp/libsodium: seal x%.2f, open x%.2f\n", len, ratio[0], ratio[1]);
	}
	wg_aead_ctx_clear(&c.enc);
	wg_aead_ctx_clear(&c.dec);
	sodium_memzero(c.key, sizeof c.key);
	free(c.buf);
	free(c.ct);
	return 0;
}
