#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/identity.h"
#include "util/err.h"

START_TEST(test_mesh_id_is_domain_hash)
{
	uint8_t pk[MESH_PK_LEN], id[MESH_ID_LEN], want[MESH_ID_LEN], in[16 + MESH_PK_LEN];

	for (size_t i = 0; i < sizeof pk; i++)
		pk[i] = (uint8_t)i;
	mesh_identity_mesh_id(pk, id);
	/* independent computation: one-shot hash of the concatenation */
	memcpy(in, "meshd mesh id v1", 16);
	memcpy(in + 16, pk, sizeof pk);
	crypto_generichash(want, sizeof want, in, sizeof in, NULL, 0);
	ck_assert_mem_eq(id, want, sizeof id);
	pk[31] ^= 1;
	mesh_identity_mesh_id(pk, want);
	ck_assert_mem_ne(id, want, sizeof id);
}
END_TEST

START_TEST(test_node_id_new_random)
{
	uint8_t a[MESH_NODE_ID_LEN], b[MESH_NODE_ID_LEN];

	mesh_identity_node_id_new(a);
	mesh_identity_node_id_new(b);
	ck_assert_mem_ne(a, b, sizeof a);
}
END_TEST

START_TEST(test_sign_verify_domain_separated)
{
	uint8_t pk[MESH_PK_LEN], pk2[MESH_PK_LEN], sk[MESH_SK_LEN], sk2[MESH_SK_LEN];
	uint8_t sig[MESH_SIG_LEN], msg[40], big[MESH_SIGNED_MAX];

	memset(msg, 0x5a, sizeof msg);
	ck_assert_int_eq(mesh_identity_authority_keygen(pk, sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(pk2, sk2), 0);
	mesh_identity_sk_to_pk(sk, pk2);
	ck_assert_mem_eq(pk, pk2, sizeof pk);
	mesh_identity_sk_to_pk(sk2, pk2);
	ck_assert_int_eq(mesh_identity_sign(sk, "meshd test v1", msg, sizeof msg, sig), 0);
	ck_assert(mesh_identity_verify(pk, "meshd test v1", msg, sizeof msg, sig));
	ck_assert(!mesh_identity_verify(pk, "meshd test v2", msg, sizeof msg, sig));
	ck_assert(!mesh_identity_verify(pk2, "meshd test v1", msg, sizeof msg, sig));
	ck_assert(!mesh_identity_verify(pk, "meshd test v1", msg, sizeof msg - 1, sig));
	msg[0] ^= 1;
	ck_assert(!mesh_identity_verify(pk, "meshd test v1", msg, sizeof msg, sig));
	memset(big, 0, sizeof big);
	ck_assert_int_eq(mesh_identity_sign(sk, "d", big, sizeof big, sig), MESHD_E_RANGE);
	for (size_t i = 0; i < sizeof sig; i++)
		ck_assert_uint_eq(sig[i], 0);
	ck_assert_int_eq(mesh_identity_sign(sk, "d", big, sizeof big - 1, sig), 0);
	ck_assert(mesh_identity_verify(pk, "d", big, sizeof big - 1, sig));
	ck_assert(!mesh_identity_verify(pk, "d", big, sizeof big, sig));
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(sk2, sizeof sk2);
}
END_TEST

START_TEST(test_ula_prefix_from_mesh_id)
{
	uint8_t id[MESH_ID_LEN];
	struct mesh_prefix p;
	static const uint8_t want[16] = { 0xfd, 0x10, 0x11, 0x12, 0x13, 0x14 };

	for (size_t i = 0; i < sizeof id; i++)
		id[i] = (uint8_t)(0x10 + i);
	mesh_identity_ula_prefix(id, &p);
	ck_assert_uint_eq(p.family, MESH_FAMILY_V6);
	ck_assert_uint_eq(p.len, 48);
	ck_assert_mem_eq(p.addr, want, 16);
	ck_assert(mesh_prefix_valid(&p));
}
END_TEST

/* One IPv4 prefix case: random input and expected second octet. */
static void v4_case(uint32_t rnd, uint8_t octet)
{
	struct mesh_prefix p;

	mesh_identity_ipv4_prefix(rnd, &p);
	ck_assert_uint_eq(p.family, MESH_FAMILY_V4);
	ck_assert_uint_eq(p.len, 16);
	ck_assert_msg(p.addr[0] == 100 && p.addr[1] == octet && p.addr[2] == 0 && p.addr[3] == 0,
	    "rnd %u: got 100.%u", (unsigned)rnd, p.addr[1]);
	ck_assert(mesh_prefix_valid(&p));
}

START_TEST(test_ipv4_prefix_table)
{
	v4_case(0, 64);
	v4_case(1, 65);
	v4_case(63, 127);
	v4_case(64, 64);
	v4_case(0xffffffff, 127);
	v4_case(0x12345678, 64 + (0x78 & 63));
}
END_TEST

/* One prefix validity case. */
static void prefix_case(uint8_t family, uint8_t len, const uint8_t addr[16], bool want)
{
	struct mesh_prefix p;

	memset(&p, 0, sizeof p);
	p.family = family;
	p.len = len;
	memcpy(p.addr, addr, 16);
	ck_assert_msg(mesh_prefix_valid(&p) == want, "family %u len %u", family, len);
}

START_TEST(test_prefix_valid_table)
{
	static const uint8_t z[16], v4[16] = { 100, 64 }, v4host[16] = { 100, 64, 0, 1 };
	static const uint8_t v4tail[16] = { 100, 64, 0, 0, 1 }, v6[16] = { 0xfd, 1, 2, 3, 4, 5 };
	static const uint8_t v6host[16] = { 0xfd, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t odd[16] = { 0xff, 0xc0 };

	prefix_case(MESH_FAMILY_V4, 16, v4, true);
	prefix_case(MESH_FAMILY_V4, 16, v4host, false);
	prefix_case(MESH_FAMILY_V4, 32, v4host, true);
	prefix_case(MESH_FAMILY_V4, 33, v4, false);
	prefix_case(MESH_FAMILY_V4, 16, v4tail, false);	/* bytes past a v4 address */
	prefix_case(MESH_FAMILY_V4, 0, z, true);
	prefix_case(MESH_FAMILY_V4, 10, odd, true);
	prefix_case(MESH_FAMILY_V4, 9, odd, false);
	prefix_case(MESH_FAMILY_V6, 48, v6, true);
	prefix_case(MESH_FAMILY_V6, 48, v6host, false);
	prefix_case(MESH_FAMILY_V6, 128, v6host, true);
	prefix_case(MESH_FAMILY_V6, 129, v6, false);
	prefix_case(0, 0, z, false);
	prefix_case(5, 0, z, false);
}
END_TEST

/* Checks that a is inside p and is neither its network nor broadcast. */
static void assert_host_in(const struct mesh_prefix *p, const uint8_t a[16])
{
	unsigned bits = p->family == MESH_FAMILY_V4 ? 32 : 128, i;
	bool zero = true, ones = true;

	for (i = 0; i < bits; i++) {
		bool bit = (a[i / 8] >> (7 - i % 8)) & 1;
		bool pbit = (p->addr[i / 8] >> (7 - i % 8)) & 1;

		if (i < p->len) {
			ck_assert_int_eq(bit, pbit);
			continue;
		}
		zero = zero && !bit;
		ones = ones && bit;
	}
	ck_assert(!zero && !ones);
	for (i = bits / 8; i < 16; i++)
		ck_assert_uint_eq(a[i], 0);
}

START_TEST(test_addr_for_inside_and_deterministic)
{
	struct mesh_prefix v4, v6;
	uint8_t node[MESH_NODE_ID_LEN], id[MESH_ID_LEN], a[16], b[16];
	unsigned same = 0;

	memset(node, 0x42, sizeof node);
	memset(id, 0x99, sizeof id);
	mesh_identity_ipv4_prefix(7, &v4);
	mesh_identity_ula_prefix(id, &v6);
	for (uint32_t att = 0; att < 200; att++) {
		ck_assert_int_eq(mesh_identity_addr_for(&v4, node, att, a), 0);
		assert_host_in(&v4, a);
		ck_assert_int_eq(mesh_identity_addr_for(&v4, node, att, b), 0);
		ck_assert_mem_eq(a, b, 16);
		ck_assert_int_eq(mesh_identity_addr_for(&v4, node, att + 1, b), 0);
		same += memcmp(a, b, 16) == 0;
		ck_assert_int_eq(mesh_identity_addr_for(&v6, node, att, a), 0);
		assert_host_in(&v6, a);
	}
	ck_assert_uint_le(same, 2);	/* 1/65534 per pair: attempts do move */
}
END_TEST

START_TEST(test_addr_for_small_prefixes_never_edges)
{
	struct mesh_prefix p;
	uint8_t node[MESH_NODE_ID_LEN], a[16];
	bool seen[4] = { false };

	memset(&p, 0, sizeof p);
	p.family = MESH_FAMILY_V4;
	p.len = 30;
	p.addr[0] = 10;
	for (uint32_t i = 0; i < 400; i++) {
		memset(node, 0, sizeof node);
		memcpy(node, &i, sizeof i);
		ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), 0);
		assert_host_in(&p, a);
		seen[a[3] & 3] = true;
	}
	ck_assert(!seen[0] && seen[1] && seen[2] && !seen[3]);
	p.len = 31;
	ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), MESHD_E_INVAL);
	p.len = 32;
	ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), MESHD_E_INVAL);
	p.family = MESH_FAMILY_V6;
	p.len = 127;
	ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), MESHD_E_INVAL);
	p.len = 126;
	ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), 0);
	assert_host_in(&p, a);
	p.addr[15] = 1;		/* host bits set: not a prefix */
	ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), MESHD_E_INVAL);
}
END_TEST

START_TEST(test_addr_for_spreads_nodes)
{
	struct mesh_prefix p;
	uint8_t node[MESH_NODE_ID_LEN], a[16];
	static uint8_t hits[256];
	unsigned used = 0;

	mesh_identity_ipv4_prefix(0, &p);
	memset(hits, 0, sizeof hits);
	for (uint32_t i = 0; i < 1000; i++) {
		memset(node, 0, sizeof node);
		memcpy(node + 4, &i, sizeof i);
		ck_assert_int_eq(mesh_identity_addr_for(&p, node, 0, a), 0);
		hits[a[2]]++;
	}
	for (unsigned i = 0; i < 256; i++)
		used += hits[i] != 0;
	ck_assert_uint_gt(used, 200);	/* ~252 expected for uniform third octets */
}
END_TEST

Suite *suite_identity(void);

Suite *suite_identity(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mesh_id_is_domain_hash);
	tcase_add_test(tc, test_node_id_new_random);
	tcase_add_test(tc, test_sign_verify_domain_separated);
	tcase_add_test(tc, test_ula_prefix_from_mesh_id);
	tcase_add_test(tc, test_ipv4_prefix_table);
	tcase_add_test(tc, test_prefix_valid_table);
	tcase_add_test(tc, test_addr_for_inside_and_deterministic);
	tcase_add_test(tc, test_addr_for_small_prefixes_never_edges);
	tcase_add_test(tc, test_addr_for_spreads_nodes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(suite_identity());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
