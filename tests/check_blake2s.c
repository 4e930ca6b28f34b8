/* BLAKE2s (RFC 7693), HMAC-BLAKE2s and the WireGuard KDF. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "util/hex.h"
#include "wg/blake2s.h"

static void unhex(uint8_t *out, size_t len, const char *s)
{
	ck_assert_int_eq(hex_decode(out, len, s), 0);
}

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
START_TEST(test_blake2s_hash_rfc7693_abc)
{
	uint8_t out[32], want[32];

	unhex(want, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	wg_blake2s_hash(out, "abc", 3);
	ck_assert_mem_eq(out, want, 32);
	/* The two-part form hashes the concatenation. */
	wg_blake2s_hash2(out, "a", 1, "bc", 2);
	ck_assert_mem_eq(out, want, 32);
	wg_blake2s_hash2(out, "abc", 3, "", 0);
	ck_assert_mem_eq(out, want, 32);
}
END_TEST

/* RFC 7693 Appendix E: deterministic input (a Fibonacci-like generator
 * seeded per length), hashed unkeyed and keyed for every digest length in
 * {16, 20, 28, 32} and input length in {0, 3, 64, 65, 255, 1024}; all
 * digests are hashed again into one 32-byte "grand hash". */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

START_TEST(test_blake2s_keyed_rfc7693_selftest)
{
	static const size_t md_len[] = { 16, 20, 28, 32 };
	static const size_t in_len[] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], md[32], key[32], grand[32], want[32];
	uint8_t all[4 * 6 * 2 * 32];
	size_t n = 0;

	unhex(want, 32, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
	for (size_t i = 0; i < 4; i++) {
		size_t outlen = md_len[i];

		for (size_t j = 0; j < 6; j++) {
			size_t inlen = in_len[j];

			selftest_seq(in, inlen, (uint32_t)inlen);
			wg_blake2s_keyed(md, outlen, NULL, 0, in, inlen);
			memcpy(all + n, md, outlen);
			n += outlen;
			selftest_seq(key, outlen, (uint32_t)outlen);
			wg_blake2s_keyed(md, outlen, key, outlen, in, inlen);
			memcpy(all + n, md, outlen);
			n += outlen;
		}
	}
	wg_blake2s_hash(grand, all, n);
	ck_assert_mem_eq(grand, want, 32);
}
END_TEST

/* Keyed BLAKE2s-256, key 00..1f (BLAKE2 reference known answers). */
START_TEST(test_blake2s_keyed_vectors)
{
	static const struct {
		size_t inlen;
		const char *hex;
	} v[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		{ 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
	};
	uint8_t key[32], in[64], out[32], want[32];

	for (size_t i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		unhex(want, 32, v[i].hex);
		wg_blake2s_keyed(out, 32, key, 32, in, v[i].inlen);
		ck_assert_mem_eq(out, want, 32);
	}
}
END_TEST

START_TEST(test_hmac_blake2s_vectors)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t out[32], want[32], longkey[100];

	unhex(want, 32, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");
	wg_hmac_blake2s(out, (const uint8_t *)"key", 3, fox, strlen(fox));
	ck_assert_mem_eq(out, want, 32);
	/* A key longer than the block is hashed first. */
	for (size_t i = 0; i < sizeof longkey; i++)
		longkey[i] = (uint8_t)i;
	unhex(want, 32, "7c5a4a1c1150b1eadcba56974986fd860c4aca9cd69fa0c65c9f67dadad9883a");
	wg_hmac_blake2s(out, longkey, sizeof longkey, "x", 1);
	ck_assert_mem_eq(out, want, 32);
}
END_TEST

START_TEST(test_kdf_vectors)
{
	static const char ikm[] = "input keying material";
	uint8_t ck[32], t1[32], t2[32], t3[32], want[32];

	memset(ck, 7, sizeof ck);
	wg_kdf(t1, t2, t3, ck, ikm, strlen(ikm));
	unhex(want, 32, "4b3479954a5695b80bdc4ea4dcb7d3051054c910ddef978c5a133a3a02b38c93");
	ck_assert_mem_eq(t1, want, 32);
	unhex(want, 32, "416f7ad665456000505eb04c1a8b63f52c85f2b9e909f50e3446ad0fb1f77517");
	ck_assert_mem_eq(t2, want, 32);
	unhex(want, 32, "554530de938738bbe2680f2d67c48937fe0a1e2ba244f3e6987a218a393c9cdb");
	ck_assert_mem_eq(t3, want, 32);
}
END_TEST

/* The outputs chain as the definition says, NULL outputs change nothing,
 * and the output may alias the chaining key (C = KDF1(C, x)). */
START_TEST(test_kdf_chains_hmac)
{
	uint8_t ck[32], t0[32], t1[32], t2[32], t3[32], u1[32], u2[32], buf[33], x[32];

	for (size_t i = 0; i < 32; i++)
		ck[i] = (uint8_t)(i * 3);
	wg_kdf(t1, t2, t3, ck, "abc", 3);
	wg_hmac_blake2s(t0, ck, 32, "abc", 3);
	buf[0] = 1;
	wg_hmac_blake2s(x, t0, 32, buf, 1);
	ck_assert_mem_eq(x, t1, 32);
	memcpy(buf, t1, 32);
	buf[32] = 2;
	wg_hmac_blake2s(x, t0, 32, buf, 33);
	ck_assert_mem_eq(x, t2, 32);
	memcpy(buf, t2, 32);
	buf[32] = 3;
	wg_hmac_blake2s(x, t0, 32, buf, 33);
	ck_assert_mem_eq(x, t3, 32);

	wg_kdf(u1, NULL, NULL, ck, "abc", 3);
	ck_assert_mem_eq(u1, t1, 32);
	wg_kdf(NULL, u2, NULL, ck, "abc", 3);
	ck_assert_mem_eq(u2, t2, 32);
	wg_kdf(ck, NULL, NULL, ck, "abc", 3);
	ck_assert_mem_eq(ck, t1, 32);
	/* Empty input (the transport-key split). */
	wg_kdf(u1, u2, NULL, t1, NULL, 0);
	wg_hmac_blake2s(t0, t1, 32, "", 0);
	buf[0] = 1;
	wg_hmac_blake2s(x, t0, 32, buf, 1);
	ck_assert_mem_eq(x, u1, 32);
}
END_TEST

Suite *suite_blake2s(void);

Suite *suite_blake2s(void)
{
	Suite *s = suite_create("blake2s");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_blake2s_hash_rfc7693_abc);
	tcase_add_test(tc, test_blake2s_keyed_rfc7693_selftest);
	tcase_add_test(tc, test_blake2s_keyed_vectors);
	tcase_add_test(tc, test_hmac_blake2s_vectors);
	tcase_add_test(tc, test_kdf_vectors);
	tcase_add_test(tc, test_kdf_chains_hmac);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_blake2s());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
