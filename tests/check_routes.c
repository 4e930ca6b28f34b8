/* mesh/routes: the ROUTES record codec and the prefix helpers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/routes.h"
#include "util/err.h"

enum { NOW = 1800000000 };

static uint8_t node_pk[MESH_PK_LEN], node_sk[MESH_SK_LEN];
static uint8_t mesh_id[MESH_ID_LEN];

static void keys_setup(void)
{
	ck_assert_int_eq(mesh_identity_authority_keygen(node_pk, node_sk), 0);
	memset(mesh_id, 0x42, sizeof mesh_id);
}

static void keys_teardown(void)
{
	sodium_memzero(node_sk, sizeof node_sk);
}

static struct mesh_prefix P(const char *s)
{
	struct mesh_prefix p;
	char err[160];

	ck_assert_msg(mesh_prefix_parse(s, &p, err, sizeof err) == 0, "%s: %s", s, err);
	return p;
}

/* A record with prefixes parsed from list (canonical order assumed). */
static void rt_fill(struct mesh_routes *rt, const char *list)
{
	char err[160];
	size_t n;

	memset(rt, 0, sizeof *rt);
	rt->version = MESH_ROUTES_VERSION;
	memcpy(rt->mesh_id, mesh_id, MESH_ID_LEN);
	memset(rt->node_id, 0x11, MESH_NODE_ID_LEN);
	rt->seq = (uint64_t)NOW * 1000;
	rt->timestamp = NOW;
	ck_assert_msg(mesh_routes_parse_list(list, rt->r, MESH_ROUTES_MAX, &n, err,
	    sizeof err) == 0, "%s", err);
	rt->n = (uint8_t)n;
}

static size_t rt_encode(const struct mesh_routes *rt, uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_init(&w, buf, cap);
	ck_assert_int_eq(mesh_routes_encode(rt, &w), 0);
	return w.off;
}

/* ---- codec ---- */

START_TEST(test_routes_roundtrip)
{
	static const char *lists[] = {
		"none", "10.2.0.0/24", "10.1.0.0/16,10.2.0.0/24,fd00:1::/64",
		"1.2.3.4/32,::1/128,2001:db8::/32",
	};
	uint8_t buf[MESH_ROUTES_MAX_LEN], buf2[MESH_ROUTES_MAX_LEN];
	struct mesh_routes rt, got;

	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		size_t n;

		rt_fill(&rt, lists[i]);
		mesh_routes_normalize(&rt);
		ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
		n = rt_encode(&rt, buf, sizeof buf);
		ck_assert_int_eq(mesh_routes_decode(buf, n, &got), 0);
		ck_assert_mem_eq(&rt, &got, sizeof rt);
		ck_assert_uint_eq(rt_encode(&got, buf2, sizeof buf2), n);
		ck_assert_mem_eq(buf, buf2, n);
		ck_assert(mesh_routes_verify(&got, node_pk, mesh_id, NOW));
	}
}
END_TEST

START_TEST(test_routes_max_size)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN + 1];
	struct mesh_routes rt, got;
	struct wr w;

	rt_fill(&rt, "none");
	for (unsigned i = 0; i < MESH_ROUTES_MAX; i++) {
		rt.r[i].family = MESH_FAMILY_V6;
		rt.r[i].len = 64;
		rt.r[i].addr[0] = 0xfd;
		rt.r[i].addr[7] = (uint8_t)i;
	}
	rt.n = MESH_ROUTES_MAX;
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
	ck_assert_uint_eq(rt_encode(&rt, buf, sizeof buf), MESH_ROUTES_MAX_LEN);
	ck_assert_int_eq(mesh_routes_decode(buf, MESH_ROUTES_MAX_LEN, &got), 0);
	/* 17 is not encodable; a 17 on the wire is not decodable */
	rt.n = MESH_ROUTES_MAX + 1;
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
	rt.n = MESH_ROUTES_MAX;
	(void)rt_encode(&rt, buf, sizeof buf);
	buf[1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 16] = MESH_ROUTES_MAX + 1;
	ck_assert_int_eq(mesh_routes_decode(buf, MESH_ROUTES_MAX_LEN, &got), MESHD_E_PROTO);
	/* a writer too small: RANGE, nothing written */
	wr_init(&w, buf, MESH_ROUTES_MAX_LEN - 1);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
}
END_TEST

START_TEST(test_routes_every_truncation_and_trailing)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN + 1];
	struct mesh_routes rt, got;
	size_t n;

	rt_fill(&rt, "10.1.0.0/16,fd00:1::/64");
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
	n = rt_encode(&rt, buf, sizeof buf);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(mesh_routes_decode(buf, i, &got), MESHD_E_PROTO);
		ck_assert_uint_eq(got.version, 0);	/* zeroed on error */
	}
	buf[n] = 0;
	ck_assert_int_eq(mesh_routes_decode(buf, n + 1, &got), MESHD_E_PROTO);
	ck_assert_int_eq(mesh_routes_decode(NULL, 0, &got), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_routes_every_bit_flip)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct mesh_routes rt, got;
	size_t n;

	rt_fill(&rt, "10.1.0.0/16,fd00:1::/64");
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
	n = rt_encode(&rt, buf, sizeof buf);
	for (size_t i = 0; i < n * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		/* either undecodable or no longer verifying */
		ck_assert_msg(mesh_routes_decode(buf, n, &got) != 0 ||
		    !mesh_routes_verify(&got, node_pk, mesh_id, NOW), "bit %zu", i);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), 0);
	ck_assert(mesh_routes_verify(&got, node_pk, mesh_id, NOW));
}
END_TEST

START_TEST(test_routes_canonical_rejections)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct mesh_routes rt, got;
	struct wr w;
	size_t n, off = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 8 + 8 + 1;

	/* out of order and duplicates: not encodable, not decodable */
	rt_fill(&rt, "10.2.0.0/16,10.1.0.0/16");
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), MESHD_E_INVAL);
	mesh_routes_normalize(&rt);
	n = rt_encode(&rt, buf, sizeof buf);
	/* swap the two 6-byte entries on the wire */
	{
		uint8_t t[6];

		memcpy(t, buf + off, 6);
		memcpy(buf + off, buf + off + 6, 6);
		memcpy(buf + off + 6, t, 6);
	}
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	memcpy(buf + off + 6, buf + off, 6);	/* a duplicate */
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	/* normalize also drops duplicates */
	rt_fill(&rt, "10.1.0.0/16,10.1.0.0/16,10.0.0.0/8");
	mesh_routes_normalize(&rt);
	ck_assert_uint_eq(rt.n, 2);
	ck_assert_uint_eq(rt.r[0].len, 8);
	/* host bits, bad family, len beyond the family, bad version */
	rt_fill(&rt, "10.1.0.0/16");
	n = rt_encode(&rt, buf, sizeof buf);
	buf[off + 3] = 1;			/* 10.1.1.0/16 */
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	n = rt_encode(&rt, buf, sizeof buf);
	buf[off] = 5;
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	n = rt_encode(&rt, buf, sizeof buf);
	buf[off + 5] = 33;
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	n = rt_encode(&rt, buf, sizeof buf);
	buf[0] = 2;
	ck_assert_int_eq(mesh_routes_decode(buf, n, &got), MESHD_E_PROTO);
	rt.r[0].addr[2] = 1;
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), MESHD_E_INVAL);
}
END_TEST

START_TEST(test_routes_verify_rules)
{
	struct mesh_routes rt;
	uint8_t other[MESH_ID_LEN], pk2[MESH_PK_LEN], sk2[MESH_SK_LEN];

	rt_fill(&rt, "10.1.0.0/16");
	rt.timestamp = NOW + MESH_CERT_SKEW_S;
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
	ck_assert(mesh_routes_verify(&rt, node_pk, mesh_id, NOW));
	ck_assert(!mesh_routes_verify(&rt, node_pk, mesh_id, NOW - 1));	/* too far ahead */
	ck_assert(mesh_routes_verify(&rt, node_pk, mesh_id, (uint64_t)NOW * 3));	/* no expiry */
	memcpy(other, mesh_id, sizeof other);
	other[31] ^= 1;
	ck_assert(!mesh_routes_verify(&rt, node_pk, other, NOW));
	ck_assert_int_eq(mesh_identity_authority_keygen(pk2, sk2), 0);
	ck_assert(!mesh_routes_verify(&rt, pk2, mesh_id, NOW));
	/* domain separation: the same body signed as something else fails */
	ck_assert_int_eq(mesh_identity_sign(node_sk, "meshd endpoints v1", (const uint8_t *)"x", 1,
	    rt.sig), 0);
	ck_assert(!mesh_routes_verify(&rt, node_pk, mesh_id, NOW));
	sodium_memzero(sk2, sizeof sk2);
}
END_TEST

/* ---- prefixes ---- */

static void parse_ok(const char *s, const char *canon, uint8_t family, uint8_t len)
{
	struct mesh_prefix p;
	char out[MESH_PREFIX_STRLEN], err[160];

	ck_assert_msg(mesh_prefix_parse(s, &p, err, sizeof err) == 0, "%s: %s", s, err);
	ck_assert_uint_eq(p.family, family);
	ck_assert_uint_eq(p.len, len);
	ck_assert_int_eq(mesh_prefix_format(&p, out, sizeof out), 0);
	ck_assert_str_eq(out, canon);
}

static void parse_bad(const char *s, const char *needle)
{
	struct mesh_prefix p;
	char err[160] = "";

	ck_assert_int_eq(mesh_prefix_parse(s, &p, err, sizeof err), MESHD_E_INVAL);
	ck_assert_msg(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", s, err, needle);
	ck_assert_uint_eq(p.family, 0);
}

START_TEST(test_prefix_parse_format)
{
	char small[8];
	struct mesh_prefix p;

	parse_ok("10.1.0.0/16", "10.1.0.0/16", MESH_FAMILY_V4, 16);
	parse_ok("0.0.0.0/0", "0.0.0.0/0", MESH_FAMILY_V4, 0);
	parse_ok("192.168.1.7/32", "192.168.1.7/32", MESH_FAMILY_V4, 32);
	parse_ok("192.168.1.7", "192.168.1.7/32", MESH_FAMILY_V4, 32);
	parse_ok("fd00:1::/64", "fd00:1::/64", MESH_FAMILY_V6, 64);
	parse_ok("FD00:1:0::/64", "fd00:1::/64", MESH_FAMILY_V6, 64);
	parse_ok("::/0", "::/0", MESH_FAMILY_V6, 0);
	parse_ok("2001:db8::1/128", "2001:db8::1/128", MESH_FAMILY_V6, 128);
	parse_bad("10.1.2.0/16", "did you mean 10.1.0.0/16?");
	parse_bad("fd00:1::1/64", "did you mean fd00:1::/64?");
	parse_bad("10.1.0.0/33", "expected a prefix");
	parse_bad("fd00::/129", "expected a prefix");
	parse_bad("10.1.0.0/", "expected a prefix");
	parse_bad("10.1.0.0/-1", "expected a prefix");
	parse_bad("10.1.0.0/+8", "expected a prefix");
	parse_bad("10.1.0.0/16x", "expected a prefix");
	parse_bad("10.1.0/16", "expected a prefix");
	parse_bad("/16", "expected a prefix");
	parse_bad("host.example/16", "host.example/16");
	parse_bad("", "empty");
	/* format: too small a buffer, invalid prefix */
	p = P("10.1.0.0/16");
	ck_assert_int_eq(mesh_prefix_format(&p, small, sizeof small), MESHD_E_RANGE);
	p.addr[3] = 1;
	ck_assert_int_eq(mesh_prefix_format(&p, small, sizeof small), MESHD_E_INVAL);
	ck_assert_str_eq(small, "");
}
END_TEST

static void overlap_case(const char *a, const char *b, bool want)
{
	struct mesh_prefix x = P(a), y = P(b);

	ck_assert_msg(mesh_prefix_overlaps(&x, &y) == want, "%s %s", a, b);
	ck_assert_msg(mesh_prefix_overlaps(&y, &x) == want, "%s %s", b, a);
}

START_TEST(test_prefix_overlaps)
{
	overlap_case("10.0.0.0/8", "10.2.0.0/24", true);
	overlap_case("10.2.0.0/24", "10.2.0.0/24", true);
	overlap_case("10.2.0.0/24", "10.2.1.0/24", false);
	overlap_case("10.2.0.0/23", "10.2.1.0/24", true);
	overlap_case("0.0.0.0/0", "203.0.113.9/32", true);
	overlap_case("10.2.0.1/32", "10.2.0.2/32", false);
	overlap_case("0.0.0.0/0", "::/0", false);		/* families differ */
	overlap_case("10.0.0.0/8", "a00::/8", false);
	overlap_case("fd00::/8", "fd00:1::/64", true);
	overlap_case("fd00:1::/64", "fd00:2::/64", false);
	overlap_case("::/0", "2001:db8::1/128", true);
	overlap_case("2001:db8::1/128", "2001:db8::1/128", true);
	overlap_case("2001:db8::1/128", "2001:db8::2/128", false);
	overlap_case("128.0.0.0/1", "127.255.255.255/32", false);
}
END_TEST

START_TEST(test_prefix_contains_addr)
{
	static const uint8_t a4[4] = { 10, 2, 0, 7 }, b4[4] = { 10, 3, 0, 7 };
	static const uint8_t a6[16] = { 0xfd, 0, 0, 1, [15] = 9 };
	struct mesh_prefix p;

	p = P("10.2.0.0/24");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, a4));
	ck_assert(!mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, b4));
	ck_assert(!mesh_prefix_contains_addr(&p, MESH_FAMILY_V6, a6));
	ck_assert(!mesh_prefix_contains_addr(&p, 7, a4));
	p = P("0.0.0.0/0");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, b4));
	p = P("10.2.0.7/32");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, a4));
	ck_assert(!mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, b4));
	p = P("fd00:1::/64");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V6, a6));
	ck_assert(!mesh_prefix_contains_addr(&p, MESH_FAMILY_V4, a4));
	p = P("fd00:1::9/128");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V6, a6));
	p = P("::/0");
	ck_assert(mesh_prefix_contains_addr(&p, MESH_FAMILY_V6, a6));
}
END_TEST

static void list_bad(const char *s, size_t max, const char *needle)
{
	struct mesh_prefix v[MESH_ROUTES_MAX];
	char err[200] = "";
	size_t n = 99;

	ck_assert_int_eq(mesh_routes_parse_list(s, v, max, &n, err, sizeof err), MESHD_E_INVAL);
	ck_assert_msg(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", s, err, needle);
}

START_TEST(test_routes_parse_list)
{
	struct mesh_prefix v[MESH_ROUTES_MAX];
	char err[200];
	size_t n = 99;

	ck_assert_int_eq(mesh_routes_parse_list("none", v, MESH_ROUTES_MAX, &n, err, sizeof err),
	    0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mesh_routes_parse_list("10.1.0.0/16, fd00:1::/64 ", v, MESH_ROUTES_MAX,
	    &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(v[1].family, MESH_FAMILY_V6);
	list_bad("", MESH_ROUTES_MAX, "none");
	list_bad("10.1.0.0/16,", MESH_ROUTES_MAX, "empty entry");
	list_bad(",10.1.0.0/16", MESH_ROUTES_MAX, "empty entry");
	list_bad("10.1.0.0/16,,10.2.0.0/16", MESH_ROUTES_MAX, "empty entry");
	list_bad("10.1.0.0/16,10.2.0.0/16,10.3.0.0/16", 2, "at most 2");
	list_bad("10.1.0.0/16,10.2.5.0/16", MESH_ROUTES_MAX, "did you mean 10.2.0.0/16?");
	list_bad("None", MESH_ROUTES_MAX, "'None'");
}
END_TEST

static void advert_case(const char *list, const char *needle)
{
	struct mesh_prefix v[MESH_ROUTES_MAX], o4 = P("100.64.0.0/16"), o6 = P("fd12:3456:789a::/48");
	char err[200] = "";
	size_t n;

	ck_assert_int_eq(mesh_routes_parse_list(list, v, MESH_ROUTES_MAX, &n, err, sizeof err), 0);
	if (needle == NULL) {
		ck_assert_msg(mesh_routes_check_advert(v, n, &o4, &o6, err, sizeof err) == 0,
		    "%s: %s", list, err);
		return;
	}
	ck_assert_int_eq(mesh_routes_check_advert(v, n, &o4, &o6, err, sizeof err),
	    MESHD_E_INVAL);
	ck_assert_msg(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", list, err, needle);
}

START_TEST(test_routes_check_advert)
{
	struct mesh_prefix v[MESH_ROUTES_MAX + 1];
	char err[200];

	advert_case("none", NULL);
	advert_case("10.2.0.0/24,10.3.0.0/24,fd00:1::/64", NULL);
	advert_case("0.0.0.0/0", "default routes (exit nodes) are not supported");
	advert_case("::/0", "default routes (exit nodes) are not supported");
	advert_case("10.2.0.0/24,10.2.0.0/24", "listed twice");
	advert_case("10.0.0.0/8,10.2.0.0/24", "routes 10.0.0.0/8 and 10.2.0.0/24 overlap");
	advert_case("100.64.3.0/24", "overlaps the mesh overlay prefix 100.64.0.0/16");
	advert_case("100.0.0.0/8", "overlaps the mesh overlay prefix 100.64.0.0/16");
	advert_case("fd12:3456:789a:1::/64", "overlay prefix fd12:3456:789a::/48");
	/* no overlay given: only the list itself is checked */
	v[0] = P("100.64.3.0/24");
	ck_assert_int_eq(mesh_routes_check_advert(v, 1, NULL, NULL, err, sizeof err), 0);
	for (unsigned i = 0; i <= MESH_ROUTES_MAX; i++) {
		v[i] = P("10.0.0.0/24");
		v[i].addr[1] = (uint8_t)i;
	}
	ck_assert_int_eq(mesh_routes_check_advert(v, MESH_ROUTES_MAX, NULL, NULL, err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_routes_check_advert(v, MESH_ROUTES_MAX + 1, NULL, NULL, err,
	    sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many routes"));
	v[0].addr[3] = 1;	/* host bits */
	ck_assert_int_eq(mesh_routes_check_advert(v, 1, NULL, NULL, NULL, 0), MESHD_E_INVAL);
}
END_TEST

static Suite *suite_routes(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("record");

	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_routes_roundtrip);
	tcase_add_test(tc, test_routes_max_size);
	tcase_add_test(tc, test_routes_every_truncation_and_trailing);
	tcase_add_test(tc, test_routes_every_bit_flip);
	tcase_add_test(tc, test_routes_canonical_rejections);
	tcase_add_test(tc, test_routes_verify_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("prefix");
	tcase_add_test(tc, test_prefix_parse_format);
	tcase_add_test(tc, test_prefix_overlaps);
	tcase_add_test(tc, test_prefix_contains_addr);
	tcase_add_test(tc, test_routes_parse_list);
	tcase_add_test(tc, test_routes_check_advert);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(suite_routes());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
