#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/tokens.h"

START_TEST(test_endpoint_parse_v4)
{
	union endpoint ep;
	char buf[ENDPOINT_STRLEN];

	ck_assert_int_eq(endpoint_parse(&ep, "198.51.100.7:51820", false), 0);
	ck_assert_int_eq(ep.sa.sa_family, AF_INET);
	ck_assert_uint_eq(ntohs(ep.sin.sin_port), 51820);
	ck_assert_str_eq(endpoint_format(&ep, buf, sizeof buf), "198.51.100.7:51820");
}
END_TEST

START_TEST(test_endpoint_parse_v6)
{
	union endpoint ep;
	char buf[ENDPOINT_STRLEN];

	ck_assert_int_eq(endpoint_parse(&ep, "[2001:db8::1]:1", false), 0);
	ck_assert_int_eq(ep.sa.sa_family, AF_INET6);
	ck_assert_str_eq(endpoint_format(&ep, buf, sizeof buf), "[2001:db8::1]:1");
	ck_assert_int_eq(endpoint_parse(&ep, "[fe80::1%7]:9", false), 0);
	ck_assert_uint_eq(ep.sin6.sin6_scope_id, 7);
}
END_TEST

static void bad(const char *s)
{
	union endpoint ep;

	ck_assert_msg(endpoint_parse(&ep, s, false) == MESHD_E_INVAL, "accepted '%s'", s);
}

START_TEST(test_endpoint_parse_rejects)
{
	bad("");
	bad("1.2.3.4");
	bad("1.2.3.4:");
	bad("1.2.3.4:0");
	bad("1.2.3.4:65536");
	bad("1.2.3.4:-1");
	bad("1.2.3.4:12x");
	bad("1.2.3:80");
	bad("[::1]80");
	bad("[::1:80");
	bad("[]:80");
	bad("::1:80");
	bad("host.example:80");
}
END_TEST

START_TEST(test_endpoint_eq_and_unmap)
{
	union endpoint a, b;

	ck_assert_int_eq(endpoint_parse(&a, "[::ffff:203.0.113.9]:7", false), 0);
	endpoint_unmap(&a);
	ck_assert_int_eq(endpoint_parse(&b, "203.0.113.9:7", false), 0);
	ck_assert(endpoint_eq(&a, &b));
	b.sin.sin_port = htons(8);
	ck_assert(!endpoint_eq(&a, &b));
}
END_TEST

START_TEST(test_hex_roundtrip_and_rejects)
{
	uint8_t in[4] = { 0x00, 0xab, 0xCD, 0xff }, out[4];
	char s[9];

	hex_encode(s, in, 4);
	ck_assert_str_eq(s, "00abcdff");
	ck_assert_int_eq(hex_decode(out, 4, "00ABcdff"), 0);
	ck_assert_mem_eq(in, out, 4);
	ck_assert_int_eq(hex_decode(out, 4, "00abcdf"), MESHD_E_INVAL);
	ck_assert_int_eq(hex_decode(out, 4, "00abcdfg"), MESHD_E_INVAL);
	ck_assert_int_eq(hex_decode(out, 4, "00abcdff0"), MESHD_E_INVAL);
}
END_TEST

START_TEST(test_errf_formats_and_truncates)
{
	char err[8] = "x";

	meshd_errf(NULL, 0, "%d", 1);		/* no buffer: nothing happens */
	meshd_errf(err, 0, "%d", 1);
	ck_assert_str_eq(err, "x");
	meshd_errf(err, sizeof err, "bad %s", "value");
	ck_assert_str_eq(err, "bad val");
	meshd_errf(err, sizeof err, "n=%d", 42);
	ck_assert_str_eq(err, "n=42");
}
END_TEST

/* LOG_TIME=1's prefix: "HH:MM:SS.mmm " before the usual "meshd TAG: LEVEL: ". */
START_TEST(test_log_timestamps)
{
	char buf[256] = "";
	int fds[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fds[1], STDERR_FILENO), 0);
	log_set_level(LOG_LVL_INFO);
	log_set_tag("t0");
	log_set_timestamps(true);
	log_info("stamped %d", 1);
	log_set_timestamps(false);
	log_info("plain");
	fflush(stderr);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_msg(strlen(buf) > 13 && buf[2] == ':' && buf[5] == ':' && buf[8] == '.' &&
	    buf[12] == ' ', "no timestamp in '%s'", buf);
	ck_assert_str_eq(strchr(buf, '\n') + 1, "meshd t0: info: plain\n");
	ck_assert(strncmp(buf + 13, "meshd t0: info: stamped 1\n", 26) == 0);
}
END_TEST

START_TEST(test_strerror_covers_codes)
{
	for (int e = MESHD_OK; e >= MESHD_E_STATE; e--)
		ck_assert_str_ne(meshd_strerror(e), "unknown error");
	ck_assert_str_eq(meshd_strerror(-999), "unknown error");
}
END_TEST

START_TEST(test_tokens_take_burst_then_rate)
{
	uint32_t tokens = 3;
	mtime_ns refilled = SEC(10);
	int i;

	/* a full bucket of 3, then nothing until a token period (SEC(1)/4) */
	for (i = 0; i < 3; i++)
		ck_assert(tokens_take(&tokens, &refilled, 4, 3, SEC(10)));
	ck_assert(!tokens_take(&tokens, &refilled, 4, 3, SEC(10)));
	ck_assert(!tokens_take(&tokens, &refilled, 4, 3, SEC(10) + MSEC(249)));
	ck_assert(tokens_take(&tokens, &refilled, 4, 3, SEC(10) + MSEC(250)));
	ck_assert(!tokens_take(&tokens, &refilled, 4, 3, SEC(10) + MSEC(260)));
	/* a long pause refills to the burst, not beyond */
	for (i = 0; i < 3; i++)
		ck_assert(tokens_take(&tokens, &refilled, 4, 3, SEC(100)));
	ck_assert(!tokens_take(&tokens, &refilled, 4, 3, SEC(100)));
}
END_TEST

static Suite *suite_util(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_endpoint_parse_v4);
	tcase_add_test(tc, test_endpoint_parse_v6);
	tcase_add_test(tc, test_endpoint_parse_rejects);
	tcase_add_test(tc, test_endpoint_eq_and_unmap);
	tcase_add_test(tc, test_hex_roundtrip_and_rejects);
	tcase_add_test(tc, test_strerror_covers_codes);
	tcase_add_test(tc, test_errf_formats_and_truncates);
	tcase_add_test(tc, test_log_timestamps);
	tcase_add_test(tc, test_tokens_take_burst_then_rate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_util());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
