/* Tests for the transport-data AEAD (struct wg_aead_ctx in src/wg/crypto.c,
 * OpenSSL EVP): the RFC 8439 section 2.8.2 vector first, then a randomized
 * differential test against libsodium's crypto_aead_chacha20poly1305_ietf_*,
 * which the handshake path keeps using. Both must compute the same function
 * or meshd would stop talking to itself across a handshake/data boundary, and
 * to every other WireGuard.
 *
 * MESHD_TEST_SEED=N reruns the random test from another seed; a failure
 * prints the seed and the case that broke. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "wg/crypto.h"

/* RFC 8439 section 2.8.2: "Ladies and Gentlemen of the class of '99 ..." */
static const uint8_t rfc_key[32] = {
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
};
/* constant 07 00 00 00 || IV 40 .. 47 */
static const uint8_t rfc_nonce[12] = {
	0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
};
static const uint8_t rfc_aad[12] = {
	0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
};
static const char rfc_plain[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
	"the future, sunscreen would be it.";
static const uint8_t rfc_cipher[114] = {
	0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb, 0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2,
	0xa4, 0xad, 0xed, 0x51, 0x29, 0x6e, 0x08, 0xfe, 0xa9, 0xe2, 0xb5, 0xa7, 0x36, 0xee, 0x62, 0xd6,
	0x3d, 0xbe, 0xa4, 0x5e, 0x8c, 0xa9, 0x67, 0x12, 0x82, 0xfa, 0xfb, 0x69, 0xda, 0x92, 0x72, 0x8b,
	0x1a, 0x71, 0xde, 0x0a, 0x9e, 0x06, 0x0b, 0x29, 0x05, 0xd6, 0xa5, 0xb6, 0x7e, 0xcd, 0x3b, 0x36,
	0x92, 0xdd, 0xbd, 0x7f, 0x2d, 0x77, 0x8b, 0x8c, 0x98, 0x03, 0xae, 0xe3, 0x28, 0x09, 0x1b, 0x58,
	0xfa, 0xb3, 0x24, 0xe4, 0xfa, 0xd6, 0x75, 0x94, 0x55, 0x85, 0x80, 0x8b, 0x48, 0x31, 0xd7, 0xbc,
	0x3f, 0xf4, 0xde, 0xf0, 0x8e, 0x4b, 0x7a, 0x9d, 0xe5, 0x76, 0xd2, 0x65, 0x86, 0xce, 0xc6, 0x4b,
	0x61, 0x16,
};
static const uint8_t rfc_tag[16] = {
	0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91,
};

_Static_assert(sizeof rfc_plain - 1 == sizeof rfc_cipher, "RFC 8439 2.8.2 is 114 bytes");

enum {
	DIFF_KEYS = 48,		/* fresh context pairs */
	DIFF_MSGS_PER_KEY = 24,	/* messages through each context, as a keypair sees */
	DIFF_MAX_LEN = 65535,
	DIFF_MAX_AD = 64,
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* splitmix64: reproducible from the printed seed */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng_next();
}

START_TEST(test_aead_ctx_seal_rfc8439)
{
	struct wg_aead_ctx c = { 0 };
	uint8_t buf[sizeof rfc_cipher], tag[16];

	ck_assert_int_eq(wg_aead_ctx_init(&c, rfc_key, true), 0);
	memcpy(buf, rfc_plain, sizeof buf);
	ck_assert(wg_aead_ctx_seal(&c, buf, sizeof buf, rfc_aad, sizeof rfc_aad, rfc_nonce, tag));
	ck_assert_mem_eq(buf, rfc_cipher, sizeof buf);
	ck_assert_mem_eq(tag, rfc_tag, sizeof tag);
	/* The same context again: the per-packet nonce reset is complete. */
	memcpy(buf, rfc_plain, sizeof buf);
	ck_assert(wg_aead_ctx_seal(&c, buf, sizeof buf, rfc_aad, sizeof rfc_aad, rfc_nonce, tag));
	ck_assert_mem_eq(buf, rfc_cipher, sizeof buf);
	ck_assert_mem_eq(tag, rfc_tag, sizeof tag);
	wg_aead_ctx_clear(&c);
	ck_assert_uint_eq(c.id, 0);
}
END_TEST

START_TEST(test_aead_ctx_open_rfc8439)
{
	struct wg_aead_ctx c = { 0 };
	uint8_t buf[sizeof rfc_cipher];

	ck_assert_int_eq(wg_aead_ctx_init(&c, rfc_key, false), 0);
	memcpy(buf, rfc_cipher, sizeof buf);
	ck_assert(wg_aead_ctx_open(&c, buf, sizeof buf, rfc_aad, sizeof rfc_aad, rfc_nonce,
				   rfc_tag));
	ck_assert_mem_eq(buf, rfc_plain, sizeof buf);
	wg_aead_ctx_clear(&c);
}
END_TEST

/* Each kind of tampering fails, wipes the output, and leaves the context
 * good for the next packet. */
START_TEST(test_aead_ctx_open_rfc8439_rejects_tampering)
{
	static const uint8_t zero[sizeof rfc_cipher];
	struct wg_aead_ctx c = { 0 };
	uint8_t buf[sizeof rfc_cipher], tag[16], aad[sizeof rfc_aad], nonce[12];

	ck_assert_int_eq(wg_aead_ctx_init(&c, rfc_key, false), 0);
	for (int kind = 0; kind < 4; kind++) {
		memcpy(buf, rfc_cipher, sizeof buf);
		memcpy(tag, rfc_tag, sizeof tag);
		memcpy(aad, rfc_aad, sizeof aad);
		memcpy(nonce, rfc_nonce, sizeof nonce);
		switch (kind) {
		case 0: tag[15] ^= 0x80; break;
		case 1: buf[57] ^= 0x01; break;
		case 2: aad[0] ^= 0x01; break;
		case 3: nonce[11] ^= 0x01; break;
		}
		ck_assert_msg(!wg_aead_ctx_open(&c, buf, sizeof buf, aad, sizeof aad, nonce, tag),
			      "tampering kind %d accepted", kind);
		ck_assert_mem_eq(buf, zero, sizeof buf);
	}
	/* No AD at all is tampering too. */
	memcpy(buf, rfc_cipher, sizeof buf);
	ck_assert(!wg_aead_ctx_open(&c, buf, sizeof buf, NULL, 0, rfc_nonce, rfc_tag));
	memcpy(buf, rfc_cipher, sizeof buf);
	ck_assert(wg_aead_ctx_open(&c, buf, sizeof buf, rfc_aad, sizeof rfc_aad, rfc_nonce,
				   rfc_tag));
	ck_assert_mem_eq(buf, rfc_plain, sizeof buf);
	wg_aead_ctx_clear(&c);
}
END_TEST

/* The data path's counter nonce (4 zero bytes, little-endian counter) equals
 * what the libsodium handshake wrapper builds from the same counter. */
START_TEST(test_aead_ctx_encrypt_counter_matches_sodium_wrapper)
{
	static const uint64_t counters[] = { 0, 1, 255, 256, 0x0102030405060708ULL,
					     UINT64_MAX - 1 };
	struct wg_aead_ctx enc = { 0 }, dec = { 0 };
	uint8_t key[32], plain[100], buf[100], tag[16], ref[100 + 16];

	rng_state = 1;
	rng_fill(key, sizeof key);
	rng_fill(plain, sizeof plain);
	ck_assert_int_eq(wg_aead_ctx_init(&enc, key, true), 0);
	ck_assert_int_eq(wg_aead_ctx_init(&dec, key, false), 0);
	for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
		wg_aead_encrypt(ref, plain, sizeof plain, NULL, 0, counters[i], key);
		memcpy(buf, plain, sizeof buf);
		ck_assert(wg_aead_ctx_encrypt(&enc, buf, sizeof buf, tag, counters[i]));
		ck_assert_mem_eq(buf, ref, sizeof buf);
		ck_assert_mem_eq(tag, ref + sizeof buf, sizeof tag);
		ck_assert(wg_aead_ctx_decrypt(&dec, buf, sizeof buf, tag, counters[i]));
		ck_assert_mem_eq(buf, plain, sizeof buf);
		/* Under the next counter the same bytes are a forgery. */
		memcpy(buf, ref, sizeof buf);
		ck_assert(!wg_aead_ctx_decrypt(&dec, buf, sizeof buf, tag, counters[i] + 1));
	}
	wg_aead_ctx_clear(&enc);
	wg_aead_ctx_clear(&dec);
}
END_TEST

START_TEST(test_aead_ctx_clear_is_idempotent)
{
	struct wg_aead_ctx c = { 0 };
	uint8_t key[32] = { 1 }, buf[16] = { 0x55 }, tag[16] = { 0x55 };
	static const uint8_t zero[16];

	wg_aead_ctx_clear(&c);		/* never keyed */
	ck_assert_int_eq(wg_aead_ctx_init(&c, key, true), 0);
	ck_assert_uint_ne(c.id, 0);
	wg_aead_ctx_clear(&c);
	ck_assert_uint_eq(c.id, 0);
	ck_assert_mem_eq(c.key, (uint8_t[32]){ 0 }, 32);
	wg_aead_ctx_clear(&c);
	/* A cleared context refuses to seal and leaves no plaintext behind. */
	ck_assert(!wg_aead_ctx_seal(&c, buf, sizeof buf, NULL, 0, (const uint8_t[12]){ 0 }, tag));
	ck_assert_mem_eq(buf, zero, sizeof buf);
	ck_assert_mem_eq(tag, zero, sizeof tag);
}
END_TEST

/* Many keypairs share one libcrypto context per direction: packets for
 * different keys, interleaved at random, each give libsodium's output, and
 * open with libsodium's ciphertext; a key cleared while it sits in the
 * shared context leaves the others working. */
START_TEST(test_aead_ctx_shared_interleaved)
{
	enum { NK = 5, ROUNDS = 400 };
	struct wg_aead_ctx enc[NK], dec[NK];
	uint8_t key[NK][32], buf[200], ref[200 + 16], tag[16];

	memset(enc, 0, sizeof enc);
	memset(dec, 0, sizeof dec);
	for (int k = 0; k < NK; k++) {
		randombytes_buf(key[k], sizeof key[k]);
		ck_assert_int_eq(wg_aead_ctx_init(&enc[k], key[k], true), 0);
		ck_assert_int_eq(wg_aead_ctx_init(&dec[k], key[k], false), 0);
		ck_assert_uint_ne(enc[k].id, dec[k].id);
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		int k = (int)randombytes_uniform(NK);
		size_t len = randombytes_uniform(sizeof buf + 1);
		uint64_t ctr = randombytes_random();

		if (r == ROUNDS / 2) {
			/* k's key is in both shared contexts now: clear it,
			 * the next packets still use the others' keys */
			ck_assert(wg_aead_ctx_encrypt(&enc[0], buf, 0, tag, 1));
			wg_aead_ctx_clear(&enc[0]);
			wg_aead_ctx_clear(&dec[0]);
			ck_assert(!wg_aead_ctx_encrypt(&enc[0], buf, 0, tag, 1));
		}
		if (r >= ROUNDS / 2 && k == 0)
			k = 1;
		randombytes_buf(buf, len);
		wg_aead_encrypt(ref, buf, len, NULL, 0, ctr, key[k]);
		ck_assert(wg_aead_ctx_encrypt(&enc[k], buf, len, tag, ctr));
		ck_assert_mem_eq(buf, ref, len);
		ck_assert_mem_eq(tag, ref + len, 16);
		/* and back, through the other shared context */
		ck_assert(wg_aead_ctx_decrypt(&dec[k], buf, len, tag, ctr));
		ck_assert(wg_aead_decrypt(ref, ref, len + 16, NULL, 0, ctr, key[k]));
		ck_assert_mem_eq(buf, ref, len);
		/* a wrong key's context refuses it */
		if (len > 0) {
			int o = k == NK - 1 ? 1 : k + 1;

			ck_assert(wg_aead_ctx_encrypt(&enc[k], buf, len, tag, ctr));
			ck_assert(!wg_aead_ctx_decrypt(&dec[o], buf, len, tag, ctr));
		}
	}
	/* a context keyed for one direction does not serve the other */
	ck_assert(!wg_aead_ctx_decrypt(&enc[1], buf, 0, tag, 1));
	for (int k = 0; k < NK; k++) {
		wg_aead_ctx_clear(&enc[k]);
		wg_aead_ctx_clear(&dec[k]);
	}
}
END_TEST

/* Lengths every run covers besides the random ones. */
static const size_t fixed_lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 1420, 1440, DIFF_MAX_LEN };

static size_t pick_len(unsigned msg)
{
	if (msg < sizeof fixed_lens / sizeof fixed_lens[0])
		return fixed_lens[msg];
	/* Mostly packet sizes, sometimes anything up to 64 KiB. */
	if (rng_next() % 4)
		return (size_t)(rng_next() % 1501);
	return (size_t)(rng_next() % (DIFF_MAX_LEN + 1));
}

static void differential_run(uint64_t seed, uint8_t *plain, uint8_t *ref, uint8_t *buf)
{
	rng_state = seed;
	for (unsigned k = 0; k < DIFF_KEYS; k++) {
		struct wg_aead_ctx enc = { 0 }, dec = { 0 };
		uint8_t key[32];

		rng_fill(key, sizeof key);
		ck_assert_int_eq(wg_aead_ctx_init(&enc, key, true), 0);
		ck_assert_int_eq(wg_aead_ctx_init(&dec, key, false), 0);
		for (unsigned m = 0; m < DIFF_MSGS_PER_KEY; m++) {
			uint8_t nonce[12], ad[DIFF_MAX_AD], tag[16], ref_tag[16];
			size_t len = pick_len(m), adlen = rng_next() % 3 ? 0 : rng_next() % DIFF_MAX_AD;
			size_t bit;

			rng_fill(nonce, sizeof nonce);
			rng_fill(ad, adlen);
			rng_fill(plain, len);
			crypto_aead_chacha20poly1305_ietf_encrypt_detached(
				ref, ref_tag, NULL, plain, len, ad, adlen, NULL, nonce, key);

			memcpy(buf, plain, len);
			ck_assert_msg(wg_aead_ctx_seal(&enc, buf, len, ad, adlen, nonce, tag),
				      "seed %" PRIu64 " key %u msg %u len %zu: seal failed", seed,
				      k, m, len);
			ck_assert_msg(memcmp(buf, ref, len) == 0 &&
					      memcmp(tag, ref_tag, sizeof tag) == 0,
				      "seed %" PRIu64 " key %u msg %u len %zu ad %zu: EVP and "
				      "libsodium disagree", seed, k, m, len, adlen);

			/* Open libsodium's output. */
			ck_assert_msg(wg_aead_ctx_open(&dec, buf, len, ad, adlen, nonce, ref_tag) &&
					      memcmp(buf, plain, len) == 0,
				      "seed %" PRIu64 " key %u msg %u len %zu: open failed", seed,
				      k, m, len);

			/* One flipped bit of the tag, or of the ciphertext. */
			memcpy(buf, ref, len);
			memcpy(tag, ref_tag, sizeof tag);
			bit = (size_t)(rng_next() % ((len + sizeof tag) * 8));
			if (bit < sizeof tag * 8)
				tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			else
				buf[bit / 8 - sizeof tag] ^= (uint8_t)(1u << (bit % 8));
			/* libsodium first: it leaves buf alone, ours wipes it. */
			ck_assert_msg(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
					      ref, NULL, buf, len, tag, ad, adlen, nonce, key) != 0,
				      "seed %" PRIu64 ": libsodium accepted a flipped bit", seed);
			ck_assert_msg(!wg_aead_ctx_open(&dec, buf, len, ad, adlen, nonce, tag),
				      "seed %" PRIu64 " key %u msg %u len %zu: bit %zu flipped "
				      "and accepted", seed, k, m, len, bit);
		}
		wg_aead_ctx_clear(&enc);
		wg_aead_ctx_clear(&dec);
	}
}

START_TEST(test_aead_ctx_matches_sodium_random)
{
	const char *env = getenv("MESHD_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0xae4d5eed;
	uint8_t *plain = malloc(DIFF_MAX_LEN), *ref = malloc(DIFF_MAX_LEN),
		*buf = malloc(DIFF_MAX_LEN);

	ck_assert(plain && ref && buf);
	for (uint64_t i = 0; i < 4; i++)
		differential_run(seed + i, plain, ref, buf);
	free(plain);
	free(ref);
	free(buf);
}
END_TEST

/* A system OpenSSL configuration that would take ChaCha20-Poly1305 away
 * (default properties "fips=yes": the default provider has no FIPS
 * algorithms, as on a host in FIPS mode) does not reach the data plane:
 * crypto.c sets libcrypto up without reading it. Each side runs in its own
 * child, so that OPENSSL_CONF and libcrypto's one-time set-up are its own
 * whatever check's fork mode; the control child shows that the file does
 * take the cipher away from a program that loads it. */
static const char hostile_cnf[] = "openssl_conf = openssl_init\n"
				  "[openssl_init]\nalg_section = algs\n"
				  "[algs]\ndefault_properties = fips=yes\n";

static int child_status(const char *conf, bool load_config)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct wg_aead_ctx c;
		uint8_t key[32] = { 1 }, nonce[12] = { 0 }, buf[64] = { 0 }, tag[16];
		bool ok;

		memset(&c, 0, sizeof c);
		setenv("OPENSSL_CONF", conf, 1);
		if (load_config) {
			EVP_CIPHER *f;

			OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
			f = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
			_exit(f == NULL ? 3 : 4);
		}
		ok = wg_aead_ctx_init(&c, key, true) == 0 &&
		     wg_aead_ctx_seal(&c, buf, sizeof buf, NULL, 0, nonce, tag);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_aead_ctx_ignores_openssl_conf)
{
	char path[] = "/tmp/check_aead_cnf.XXXXXX";
	int fd = mkstemp(path), loaded, ours;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, hostile_cnf, sizeof hostile_cnf - 1),
			 (ssize_t)(sizeof hostile_cnf - 1));
	close(fd);
	loaded = child_status(path, true);
	ours = child_status(path, false);
	unlink(path);
	/* 3: the configuration hides the cipher from a program that loads it */
	ck_assert_int_eq(loaded, 3);
	/* 0: the data plane seals all the same */
	ck_assert_int_eq(ours, 0);
}
END_TEST

Suite *suite_aead(void);

Suite *suite_aead(void)
{
	Suite *s = suite_create("aead");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_aead_ctx_seal_rfc8439);
	tcase_add_test(tc, test_aead_ctx_open_rfc8439);
	tcase_add_test(tc, test_aead_ctx_open_rfc8439_rejects_tampering);
	tcase_add_test(tc, test_aead_ctx_encrypt_counter_matches_sodium_wrapper);
	tcase_add_test(tc, test_aead_ctx_clear_is_idempotent);
	tcase_add_test(tc, test_aead_ctx_shared_interleaved);
	tcase_add_test(tc, test_aead_ctx_matches_sodium_random);
	tcase_add_test(tc, test_aead_ctx_ignores_openssl_conf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_aead());
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
