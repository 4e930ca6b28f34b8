#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"

START_TEST(test_rd_ints_big_endian)
{
	static const uint8_t in[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	struct rd rd;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	rd_init(&rd, in, sizeof in);
	ck_assert_int_eq(rd_u8(&rd, &a), 0);
	ck_assert_int_eq(rd_u16(&rd, &b), 0);
	ck_assert_int_eq(rd_u32(&rd, &c), 0);
	ck_assert_int_eq(rd_u64(&rd, &d), 0);
	ck_assert_uint_eq(a, 0x01);
	ck_assert_uint_eq(b, 0x0203);
	ck_assert_uint_eq(c, 0x04050607);
	ck_assert_uint_eq(d, 0x08090a0b0c0d0e0fULL);
	ck_assert_int_eq(rd_end(&rd), 0);
}
END_TEST

START_TEST(test_rd_short_zeroes_and_keeps_offset)
{
	static const uint8_t in[] = { 0xff, 0xff, 0xff };
	struct rd rd;
	uint32_t c = 0xdeadbeef;
	uint64_t d = 1;
	uint16_t b = 7;
	uint8_t out[4] = { 9, 9, 9, 9 };

	rd_init(&rd, in, sizeof in);
	ck_assert_int_eq(rd_u32(&rd, &c), MESHD_E_PROTO);
	ck_assert_uint_eq(c, 0);
	ck_assert_int_eq(rd_u64(&rd, &d), MESHD_E_PROTO);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(rd_bytes(&rd, out, 4), MESHD_E_PROTO);
	ck_assert_uint_eq(out[0] | out[1] | out[2] | out[3], 0);
	ck_assert_uint_eq(rd.off, 0);
	ck_assert_int_eq(rd_u16(&rd, &b), 0);
	ck_assert_uint_eq(b, 0xffff);
	ck_assert_int_eq(rd_u16(&rd, &b), MESHD_E_PROTO);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(rd_left(&rd), 1);
}
END_TEST

START_TEST(test_rd_end_rejects_trailing)
{
	static const uint8_t in[] = { 1, 2 };
	struct rd rd;
	uint8_t a;

	rd_init(&rd, in, sizeof in);
	ck_assert_int_eq(rd_u8(&rd, &a), 0);
	ck_assert_int_eq(rd_end(&rd), MESHD_E_PROTO);
	ck_assert_int_eq(rd_u8(&rd, &a), 0);
	ck_assert_int_eq(rd_end(&rd), 0);
	ck_assert_int_eq(rd_u8(&rd, &a), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_rd_empty_and_null)
{
	struct rd rd;
	uint8_t a = 5;

	rd_init(&rd, NULL, 10);
	ck_assert_uint_eq(rd_left(&rd), 0);
	ck_assert_int_eq(rd_u8(&rd, &a), MESHD_E_PROTO);
	ck_assert_uint_eq(a, 0);
	ck_assert_int_eq(rd_bytes(&rd, &a, 0), 0);
	ck_assert_int_eq(rd_end(&rd), 0);
}
END_TEST

/* One rd_str() case: input bytes, cap, maxlen, expected code and string. */
static void str_case(const char *in, size_t inlen, size_t cap, size_t maxlen, int want,
    const char *want_s)
{
	struct rd rd;
	char out[16];
	size_t i;

	ck_assert_uint_le(cap, sizeof out);
	memset(out, 'x', sizeof out);
	rd_init(&rd, (const uint8_t *)in, inlen);
	ck_assert_msg(rd_str(&rd, out, cap, maxlen) == want, "case %zu/%zu/%zu", inlen, cap, maxlen);
	if (want == 0) {
		ck_assert_str_eq(out, want_s);
		ck_assert_uint_eq(rd.off, 1 + strlen(want_s));
	} else {
		for (i = 0; i < cap; i++)
			ck_assert_int_eq(out[i], 0);
		ck_assert_uint_eq(rd.off, 0);
	}
}

START_TEST(test_rd_str_table)
{
	str_case("\x03" "abc", 4, 16, 63, 0, "abc");
	str_case("\x00", 1, 16, 63, 0, "");
	str_case("\x03" "abcd", 5, 16, 63, 0, "abc");		/* rest left for the caller */
	str_case("\x03" "abc", 4, 4, 63, 0, "abc");		/* exactly fits with NUL */
	str_case("\x03" "abc", 4, 3, 63, MESHD_E_RANGE, "");	/* no room for NUL */
	str_case("\x03" "abc", 4, 16, 2, MESHD_E_PROTO, "");	/* over maxlen */
	str_case("\x04" "abc", 4, 16, 63, MESHD_E_PROTO, "");	/* truncated */
	str_case("\x03" "a\0c", 4, 16, 63, MESHD_E_PROTO, "");	/* NUL inside */
	str_case("", 0, 16, 63, MESHD_E_PROTO, "");		/* no length byte */
}
END_TEST

START_TEST(test_wr_roundtrip)
{
	uint8_t buf[64];
	struct wr w;
	struct rd rd;
	uint8_t a, bytes[3];
	uint16_t b;
	uint32_t c;
	uint64_t d;
	char s[8];

	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(wr_u8(&w, 0xab), 0);
	ck_assert_int_eq(wr_u16(&w, 0x1234), 0);
	ck_assert_int_eq(wr_u32(&w, 0x89abcdef), 0);
	ck_assert_int_eq(wr_u64(&w, 0x0102030405060708ULL), 0);
	ck_assert_int_eq(wr_bytes(&w, (const uint8_t *)"xyz", 3), 0);
	ck_assert_int_eq(wr_str(&w, "node"), 0);
	ck_assert_uint_eq(w.off, 1 + 2 + 4 + 8 + 3 + 5);
	ck_assert_uint_eq(buf[1], 0x12);
	ck_assert_uint_eq(buf[3], 0x89);
	ck_assert_uint_eq(buf[14], 0x08);

	rd_init(&rd, buf, w.off);
	ck_assert_int_eq(rd_u8(&rd, &a), 0);
	ck_assert_int_eq(rd_u16(&rd, &b), 0);
	ck_assert_int_eq(rd_u32(&rd, &c), 0);
	ck_assert_int_eq(rd_u64(&rd, &d), 0);
	ck_assert_int_eq(rd_bytes(&rd, bytes, 3), 0);
	ck_assert_int_eq(rd_str(&rd, s, sizeof s, 7), 0);
	ck_assert_int_eq(rd_end(&rd), 0);
	ck_assert_uint_eq(a, 0xab);
	ck_assert_uint_eq(b, 0x1234);
	ck_assert_uint_eq(c, 0x89abcdef);
	ck_assert_uint_eq(d, 0x0102030405060708ULL);
	ck_assert_mem_eq(bytes, "xyz", 3);
	ck_assert_str_eq(s, "node");
}
END_TEST

START_TEST(test_wr_full_writes_nothing)
{
	uint8_t buf[5];
	struct wr w;

	memset(buf, 0xee, sizeof buf);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(wr_u32(&w, 1), 0);
	ck_assert_int_eq(wr_u16(&w, 2), MESHD_E_RANGE);
	ck_assert_int_eq(wr_u32(&w, 2), MESHD_E_RANGE);
	ck_assert_int_eq(wr_u64(&w, 2), MESHD_E_RANGE);
	ck_assert_int_eq(wr_bytes(&w, (const uint8_t *)"ab", 2), MESHD_E_RANGE);
	ck_assert_int_eq(wr_str(&w, "a"), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 4);
	ck_assert_uint_eq(buf[4], 0xee);
	ck_assert_int_eq(wr_str(&w, ""), 0);
	ck_assert_uint_eq(buf[4], 0);
	ck_assert_int_eq(wr_u8(&w, 1), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 5);
}
END_TEST

START_TEST(test_wr_str_too_long)
{
	uint8_t buf[300];
	char s[BUF_STR_MAX + 2];
	struct wr w;

	memset(s, 'a', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(wr_str(&w, s), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
	s[BUF_STR_MAX] = '\0';
	ck_assert_int_eq(wr_str(&w, s), 0);
	ck_assert_uint_eq(w.off, 1 + BUF_STR_MAX);
	ck_assert_uint_eq(buf[0], BUF_STR_MAX);
}
END_TEST

Suite *suite_buf(void);

Suite *suite_buf(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rd_ints_big_endian);
	tcase_add_test(tc, test_rd_short_zeroes_and_keeps_offset);
	tcase_add_test(tc, test_rd_end_rejects_trailing);
	tcase_add_test(tc, test_rd_empty_and_null);
	tcase_add_test(tc, test_rd_str_table);
	tcase_add_test(tc, test_wr_roundtrip);
	tcase_add_test(tc, test_wr_full_writes_nothing);
	tcase_add_test(tc, test_wr_str_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_buf());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
