#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "util/err.h"

enum { NOW = 1800000000 };	/* 2027-01-15 */

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t other_pk[MESH_PK_LEN], other_sk[MESH_SK_LEN];

static void keys_setup(void)
{
	ck_assert_int_eq(mesh_identity_authority_keygen(auth_pk, auth_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(other_pk, other_sk), 0);
}

static void keys_teardown(void)
{
	sodium_memzero(auth_sk, sizeof auth_sk);
	sodium_memzero(other_sk, sizeof other_sk);
}

/* A signed certificate with nroutes routes (alternating v4 and v6). */
static void make_cert(struct mesh_cert *c, const char *name, unsigned nroutes)
{
	memset(c, 0, sizeof *c);
	c->version = MESH_CERT_VERSION;
	mesh_identity_mesh_id(auth_pk, c->mesh_id);
	memset(c->node_id, 0x11, sizeof c->node_id);
	strcpy(c->name, name);
	memset(c->wg_pubkey, 0x22, sizeof c->wg_pubkey);
	memset(c->sign_pk, 0x44, sizeof c->sign_pk);
	c->ipv4[0] = 100;
	c->ipv4[1] = 80;
	c->ipv4[2] = 3;
	c->ipv4[3] = 4;
	c->ipv6[0] = 0xfd;
	c->ipv6[15] = 9;
	c->flags = MESH_CERT_F_ADMIN;
	c->nroutes = (uint8_t)nroutes;
	for (unsigned i = 0; i < nroutes; i++) {
		struct mesh_prefix *p = &c->routes[i];

		if (i % 2 == 0) {
			p->family = MESH_FAMILY_V4;
			p->len = 24;
			p->addr[0] = 192;
			p->addr[1] = 168;
			p->addr[2] = (uint8_t)i;
		} else {
			p->family = MESH_FAMILY_V6;
			p->len = 64;
			p->addr[0] = 0x20;
			p->addr[1] = 0x01;
			p->addr[2] = 0x0d;
			p->addr[3] = 0xb8;
			p->addr[7] = (uint8_t)i;
		}
	}
	c->issued_at = NOW - 60;
	c->expires_at = NOW + 86400;
	ck_assert_int_eq(mesh_cert_sign(c, auth_sk), 0);
}

static size_t encode(const struct mesh_cert *c, uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_init(&w, buf, cap);
	ck_assert_int_eq(mesh_cert_encode(c, &w), 0);
	return w.off;
}

static void assert_cert_eq(const struct mesh_cert *a, const struct mesh_cert *b)
{
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_mem_eq(a->mesh_id, b->mesh_id, sizeof a->mesh_id);
	ck_assert_mem_eq(a->node_id, b->node_id, sizeof a->node_id);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_mem_eq(a->wg_pubkey, b->wg_pubkey, sizeof a->wg_pubkey);
	ck_assert_mem_eq(a->sign_pk, b->sign_pk, sizeof a->sign_pk);
	ck_assert_mem_eq(a->ipv4, b->ipv4, sizeof a->ipv4);
	ck_assert_mem_eq(a->ipv6, b->ipv6, sizeof a->ipv6);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->nroutes, b->nroutes);
	for (unsigned i = 0; i < a->nroutes; i++) {
		ck_assert_uint_eq(a->routes[i].family, b->routes[i].family);
		ck_assert_uint_eq(a->routes[i].len, b->routes[i].len);
		ck_assert_mem_eq(a->routes[i].addr, b->routes[i].addr, 16);
	}
	ck_assert_uint_eq(a->issued_at, b->issued_at);
	ck_assert_uint_eq(a->expires_at, b->expires_at);
	ck_assert_mem_eq(a->sig, b->sig, sizeof a->sig);
}

/* One name case. */
static void name_case(const char *name, bool want)
{
	ck_assert_msg(mesh_name_valid(name) == want, "name '%s'", name);
}

START_TEST(test_name_valid_table)
{
	name_case("a", true);
	name_case("node-1", true);
	name_case("0", true);
	name_case("a-b-c9", true);
	name_case("123456789012345678901234567890123456789012345678901234567890123", true);
	name_case("1234567890123456789012345678901234567890123456789012345678901234", false);
	name_case("", false);
	name_case("-a", false);
	name_case("a-", false);
	name_case("-", false);
	name_case("Node", false);
	name_case("a.b", false);
	name_case("a_b", false);
	name_case("a b", false);
	name_case("caf\xc3\xa9", false);
	name_case("a\n", false);
}
END_TEST

START_TEST(test_cert_sign_verify_ok)
{
	struct mesh_cert c;

	make_cert(&c, "alpha", 2);
	ck_assert(mesh_cert_verify(&c, auth_pk, NOW));
	ck_assert(!mesh_cert_verify(&c, other_pk, NOW));
	c.flags = 0;		/* any field change breaks the signature */
	ck_assert(!mesh_cert_verify(&c, auth_pk, NOW));
}
END_TEST

START_TEST(test_cert_verify_wrong_authority)
{
	struct mesh_cert c;

	make_cert(&c, "alpha", 0);
	/* the other key signs a cert naming our mesh: sign refuses it ... */
	ck_assert_int_eq(mesh_cert_sign(&c, other_sk), MESHD_E_INVAL);
	/* ... and a cert for the other mesh does not verify under ours */
	mesh_identity_mesh_id(other_pk, c.mesh_id);
	ck_assert_int_eq(mesh_cert_sign(&c, other_sk), 0);
	ck_assert(mesh_cert_verify(&c, other_pk, NOW));
	ck_assert(!mesh_cert_verify(&c, auth_pk, NOW));
	/* a right mesh id with a signature by another key */
	mesh_identity_mesh_id(auth_pk, c.mesh_id);
	ck_assert(!mesh_cert_verify(&c, auth_pk, NOW));
}
END_TEST

START_TEST(test_cert_verify_times)
{
	struct mesh_cert c;

	make_cert(&c, "alpha", 0);
	ck_assert(mesh_cert_verify(&c, auth_pk, c.expires_at - 1));
	ck_assert(!mesh_cert_verify(&c, auth_pk, c.expires_at));
	ck_assert(!mesh_cert_verify(&c, auth_pk, UINT64_MAX));
	ck_assert(mesh_cert_verify(&c, auth_pk, c.issued_at - MESH_CERT_SKEW_S));
	ck_assert(!mesh_cert_verify(&c, auth_pk, c.issued_at - MESH_CERT_SKEW_S - 1));
	ck_assert(mesh_cert_verify(&c, auth_pk, 0) == (c.issued_at <= MESH_CERT_SKEW_S));
	c.expires_at = c.issued_at;	/* empty validity */
	ck_assert_int_eq(mesh_cert_sign(&c, auth_sk), 0);
	ck_assert(!mesh_cert_verify(&c, auth_pk, c.issued_at));
	ck_assert(!mesh_cert_verify(&c, auth_pk, c.issued_at - 1));
}
END_TEST

START_TEST(test_cert_roundtrip_canonical)
{
	static const char *names[] = { "a", "alpha-2",
	    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0" };
	static const unsigned nroutes[] = { 0, 1, 2, MESH_CERT_MAX_ROUTES };
	uint8_t buf[MESH_CERT_MAX_LEN], buf2[MESH_CERT_MAX_LEN];
	struct mesh_cert c, d;
	size_t n, n2;

	for (unsigned i = 0; i < 3; i++) {
		for (unsigned j = 0; j < 4; j++) {
			make_cert(&c, names[i], nroutes[j]);
			n = encode(&c, buf, sizeof buf);
			ck_assert_uint_le(n, MESH_CERT_MAX_LEN);
			ck_assert_int_eq(mesh_cert_decode(buf, n, &d), 0);
			assert_cert_eq(&c, &d);
			ck_assert(mesh_cert_verify(&d, auth_pk, NOW));
			n2 = encode(&d, buf2, sizeof buf2);
			ck_assert_uint_eq(n, n2);
			ck_assert_mem_eq(buf, buf2, n);
		}
	}
	/* pins the layout: 63-byte name, 8 v4 and 8 v6 routes */
	ck_assert_uint_eq(n, MESH_CERT_FIXED_LEN + 63 + 8 * (1 + 4 + 1) + 8 * (1 + 16 + 1));
	/* the largest certificate: every route IPv6; it fits the signing buffers */
	for (unsigned i = 0; i < MESH_CERT_MAX_ROUTES; i++) {
		memset(&c.routes[i], 0, sizeof c.routes[i]);
		c.routes[i].family = MESH_FAMILY_V6;
		c.routes[i].len = 128;
		c.routes[i].addr[15] = (uint8_t)i;
	}
	ck_assert_int_eq(mesh_cert_sign(&c, auth_sk), 0);
	ck_assert(mesh_cert_verify(&c, auth_pk, NOW));
	n = encode(&c, buf, sizeof buf);
	ck_assert_uint_eq(n, MESH_CERT_MAX_LEN);
	ck_assert_int_eq(mesh_cert_decode(buf, n, &d), 0);
	assert_cert_eq(&c, &d);
}
END_TEST

START_TEST(test_cert_every_bit_flip_rejected)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert c, d;
	size_t n, bit;
	unsigned decoded = 0;

	make_cert(&c, "bravo", 3);
	n = encode(&c, buf, sizeof buf);
	for (bit = 0; bit < 8 * n; bit++) {
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		if (mesh_cert_decode(buf, n, &d) == 0) {
			decoded++;
			ck_assert_msg(!mesh_cert_verify(&d, auth_pk, NOW), "bit %zu accepted", bit);
		}
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	ck_assert_uint_gt(decoded, 0);	/* the signature check was exercised */
	ck_assert_int_eq(mesh_cert_decode(buf, n, &d), 0);
	ck_assert(mesh_cert_verify(&d, auth_pk, NOW));
}
END_TEST

START_TEST(test_cert_decode_truncated_and_trailing)
{
	uint8_t buf[MESH_CERT_MAX_LEN + 1];
	struct mesh_cert c, d;
	size_t n, i;

	make_cert(&c, "charlie", 2);
	n = encode(&c, buf, sizeof buf);
	for (i = 0; i < n; i++) {
		memset(&d, 0xaa, sizeof d);
		ck_assert_int_eq(mesh_cert_decode(buf, i, &d), MESHD_E_PROTO);
		ck_assert_uint_eq(d.version, 0);
		ck_assert_uint_eq(d.name[0], 0);
	}
	buf[n] = 0;
	ck_assert_int_eq(mesh_cert_decode(buf, n + 1, &d), MESHD_E_PROTO);
	ck_assert_int_eq(mesh_cert_decode(NULL, 0, &d), MESHD_E_PROTO);
}
END_TEST

/* Offsets in an encoded certificate with name length nl and no routes. */
enum { OFF_NAMELEN = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN, OFF_NAME = OFF_NAMELEN + 1 };
#define OFF_WG(nl) (OFF_NAME + (nl))
#define OFF_SIGN_PK(nl) (OFF_WG(nl) + MESH_WG_KEY_LEN)
#define OFF_FLAGS(nl) (OFF_SIGN_PK(nl) + MESH_PK_LEN + 4 + 16)

/* Decodes buf with one byte changed; expects MESHD_E_PROTO. */
static void mutate_case(const uint8_t *orig, size_t n, size_t off, uint8_t val)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert d;

	memcpy(buf, orig, n);
	buf[off] = val;
	ck_assert_msg(mesh_cert_decode(buf, n, &d) == MESHD_E_PROTO, "off %zu val %u", off, val);
}

START_TEST(test_cert_decode_rejects_table)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert c;
	size_t n, fl, rt;

	make_cert(&c, "delta", 1);	/* route 0: v4 192.168.0.0/24 */
	n = encode(&c, buf, sizeof buf);
	fl = OFF_FLAGS(5);
	rt = fl + 2;			/* first route */
	mutate_case(buf, n, 0, 0);		/* version 0 */
	mutate_case(buf, n, 0, 2);		/* version 2 */
	mutate_case(buf, n, OFF_NAMELEN, 0);	/* empty name */
	mutate_case(buf, n, OFF_NAMELEN, 64);	/* name over 63 */
	mutate_case(buf, n, OFF_NAME, 'D');	/* upper case */
	mutate_case(buf, n, OFF_NAME, '-');	/* leading dash */
	mutate_case(buf, n, OFF_NAME + 4, '-');	/* trailing dash */
	mutate_case(buf, n, OFF_NAME + 2, '\0');	/* NUL inside */
	mutate_case(buf, n, fl, 0x02);		/* unknown flag */
	mutate_case(buf, n, fl, 0x80);
	mutate_case(buf, n, fl + 1, MESH_CERT_MAX_ROUTES + 1);	/* too many routes */
	mutate_case(buf, n, rt, 0);		/* route family */
	mutate_case(buf, n, rt, 5);
	mutate_case(buf, n, rt + 4, 1);		/* host bit set under /24 */
	mutate_case(buf, n, rt + 5, 33);	/* v4 len > 32 */
	mutate_case(buf, n, rt + 5, 12);	/* 192.168.0.0/12 has host bits set */
}
END_TEST

START_TEST(test_cert_encode_rejects_invalid)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert c, bad;
	struct wr w;

	make_cert(&c, "echo", 1);
	bad = c;
	strcpy(bad.name, "Echo");
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_cert_encode(&bad, &w), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_cert_sign(&bad, auth_sk), MESHD_E_INVAL);
	ck_assert(!mesh_cert_verify(&bad, auth_pk, NOW));
	bad = c;
	bad.flags = 0x40;
	ck_assert_int_eq(mesh_cert_encode(&bad, &w), MESHD_E_INVAL);
	bad = c;
	bad.version = 2;
	ck_assert_int_eq(mesh_cert_encode(&bad, &w), MESHD_E_INVAL);
	bad = c;
	bad.nroutes = MESH_CERT_MAX_ROUTES + 1;
	ck_assert_int_eq(mesh_cert_encode(&bad, &w), MESHD_E_INVAL);
	bad = c;
	bad.routes[0].addr[3] = 1;
	ck_assert_int_eq(mesh_cert_encode(&bad, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
	/* a full writer leaves nothing half-written */
	wr_init(&w, buf, 100);
	ck_assert_int_eq(wr_u8(&w, 7), 0);
	ck_assert_int_eq(mesh_cert_encode(&c, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 1);
}
END_TEST

/* The node signing key sits after the WireGuard key, is covered by the
 * authority's signature, and the smallest certificate is 217 bytes. */
START_TEST(test_cert_sign_pk_layout_and_signed)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert c, d;
	size_t n;

	make_cert(&c, "a", 0);
	n = encode(&c, buf, sizeof buf);
	ck_assert_uint_eq(n, 217);
	ck_assert_uint_eq(n, MESH_CERT_FIXED_LEN + 1);
	ck_assert_mem_eq(buf + OFF_WG(1), c.wg_pubkey, MESH_WG_KEY_LEN);
	ck_assert_mem_eq(buf + OFF_SIGN_PK(1), c.sign_pk, MESH_PK_LEN);
	buf[OFF_SIGN_PK(1) + 7] ^= 0x01;
	ck_assert_int_eq(mesh_cert_decode(buf, n, &d), 0);
	ck_assert_uint_eq(d.sign_pk[7], c.sign_pk[7] ^ 0x01);
	ck_assert(!mesh_cert_verify(&d, auth_pk, NOW));
	d.sign_pk[7] ^= 0x01;
	ck_assert(mesh_cert_verify(&d, auth_pk, NOW));
}
END_TEST

static void make_revoke(struct mesh_revoke *rv)
{
	memset(rv, 0, sizeof *rv);
	rv->version = MESH_REVOKE_VERSION;
	mesh_identity_mesh_id(auth_pk, rv->mesh_id);
	memset(rv->node_id, 0x33, sizeof rv->node_id);
	rv->revoked_at = NOW;
	ck_assert_int_eq(mesh_revoke_sign(rv, auth_sk), 0);
}

START_TEST(test_revoke_roundtrip_and_verify)
{
	uint8_t buf[MESH_REVOKE_LEN + 1], buf2[MESH_REVOKE_LEN];
	struct mesh_revoke rv, d;
	struct wr w;

	make_revoke(&rv);
	ck_assert(mesh_revoke_verify(&rv, auth_pk));
	ck_assert(!mesh_revoke_verify(&rv, other_pk));
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	ck_assert_uint_eq(w.off, MESH_REVOKE_LEN);
	ck_assert_int_eq(mesh_revoke_decode(buf, w.off, &d), 0);
	ck_assert(mesh_revoke_verify(&d, auth_pk));
	ck_assert_mem_eq(d.node_id, rv.node_id, sizeof d.node_id);
	ck_assert_uint_eq(d.revoked_at, rv.revoked_at);
	wr_init(&w, buf2, sizeof buf2);
	ck_assert_int_eq(mesh_revoke_encode(&d, &w), 0);
	ck_assert_mem_eq(buf, buf2, MESH_REVOKE_LEN);
	/* other authority cannot sign for our mesh */
	ck_assert_int_eq(mesh_revoke_sign(&rv, other_sk), MESHD_E_INVAL);
}
END_TEST

START_TEST(test_revoke_every_bit_flip_and_length_rejected)
{
	uint8_t buf[MESH_REVOKE_LEN + 1];
	struct mesh_revoke rv, d;
	struct wr w;
	size_t bit, i;

	make_revoke(&rv);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	for (bit = 0; bit < 8 * MESH_REVOKE_LEN; bit++) {
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		if (mesh_revoke_decode(buf, MESH_REVOKE_LEN, &d) == 0)
			ck_assert_msg(!mesh_revoke_verify(&d, auth_pk), "bit %zu accepted", bit);
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (i = 0; i < MESH_REVOKE_LEN; i++)
		ck_assert_int_eq(mesh_revoke_decode(buf, i, &d), MESHD_E_PROTO);
	buf[MESH_REVOKE_LEN] = 0;
	ck_assert_int_eq(mesh_revoke_decode(buf, MESH_REVOKE_LEN + 1, &d), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_revoke_signature_is_domain_separated)
{
	uint8_t body[MESH_REVOKE_LEN];
	struct mesh_revoke rv;
	struct wr w;

	make_revoke(&rv);
	wr_init(&w, body, sizeof body);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	/* same bytes signed under the certificate domain do not make a revocation */
	ck_assert_int_eq(mesh_identity_sign(auth_sk, MESH_CERT_DOMAIN, body,
	    MESH_REVOKE_LEN - MESH_SIG_LEN, rv.sig), 0);
	ck_assert(!mesh_revoke_verify(&rv, auth_pk));
	ck_assert_int_eq(mesh_identity_sign(auth_sk, MESH_REVOKE_DOMAIN, body,
	    MESH_REVOKE_LEN - MESH_SIG_LEN, rv.sig), 0);
	ck_assert(mesh_revoke_verify(&rv, auth_pk));
}
END_TEST

/* --cert-ttl values: units, limits, junk. */
START_TEST(test_cert_ttl_parse)
{
	static const struct { const char *s; int r; uint64_t v; } t[] = {
		{ "90s", 0, 90 }, { "60", 0, 60 }, { "5m", 0, 300 }, { "2h", 0, 7200 },
		{ "365d", 0, 365 * 86400ull }, { "3650d", 0, 3650 * 86400ull },
		{ "59s", MESHD_E_RANGE, 0 }, { "0", MESHD_E_RANGE, 0 },
		{ "3651d", MESHD_E_RANGE, 0 }, { "99999999999999999999999", MESHD_E_RANGE, 0 },
		{ "", MESHD_E_INVAL, 0 }, { "d", MESHD_E_INVAL, 0 }, { "5x", MESHD_E_INVAL, 0 },
		{ "5dd", MESHD_E_INVAL, 0 }, { "-5d", MESHD_E_INVAL, 0 }, { " 5d", MESHD_E_INVAL, 0 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		v = 7;
		ck_assert_msg(mesh_cert_ttl_parse(t[i].s, &v) == t[i].r, "%s", t[i].s);
		ck_assert_uint_eq(v, t[i].r == 0 ? t[i].v : 7);
	}
}
END_TEST

/* Due with a third of the life left; the renewal keeps everything but the
 * times and is the same whenever it is made. */
START_TEST(test_cert_renewal)
{
	struct mesh_cert c, r1, r2;

	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	strcpy(c.name, "bravo");
	c.ipv4[0] = 100;
	c.nroutes = 1;
	c.routes[0].family = MESH_FAMILY_V4;
	c.routes[0].len = 8;
	c.routes[0].addr[0] = 10;
	memset(c.sig, 0xaa, sizeof c.sig);
	c.issued_at = 1000;
	c.expires_at = 1090;
	ck_assert_uint_eq(mesh_cert_renew_at(&c), 1060);
	ck_assert(!mesh_cert_renewal(&c, 90, 1059, &r1));
	ck_assert(mesh_cert_renewal(&c, 90, 1060, &r1));
	ck_assert(mesh_cert_renewal(&c, 90, 1089, &r2));
	ck_assert_mem_eq(&r1, &r2, sizeof r1);
	ck_assert_uint_eq(r1.issued_at, 1060);
	ck_assert_uint_eq(r1.expires_at, 1150);
	ck_assert_str_eq(r1.name, "bravo");
	ck_assert_uint_eq(r1.nroutes, 1);
	ck_assert_int_eq(mesh_prefix_cmp(&r1.routes[0], &c.routes[0]), 0);
	for (size_t i = 0; i < sizeof r1.sig; i++)
		ck_assert_uint_eq(r1.sig[i], 0);
	/* a year's cert: due with 121 days and 16 hours left */
	c.expires_at = c.issued_at + 365 * 86400ull;
	ck_assert_uint_eq(mesh_cert_renew_at(&c), c.expires_at - 365 * 86400ull / 3);
	/* no lifetime that would end before the old cert */
	ck_assert(!mesh_cert_renewal(&c, 86400, mesh_cert_renew_at(&c), &r1));
	ck_assert(!mesh_cert_renewal(&c, 90, UINT64_MAX, &r1));
}
END_TEST

Suite *suite_cert(void);

Suite *suite_cert(void)
{
	Suite *s = suite_create("cert");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_name_valid_table);
	tcase_add_test(tc, test_cert_sign_verify_ok);
	tcase_add_test(tc, test_cert_verify_wrong_authority);
	tcase_add_test(tc, test_cert_verify_times);
	tcase_add_test(tc, test_cert_roundtrip_canonical);
	tcase_add_test(tc, test_cert_every_bit_flip_rejected);
	tcase_add_test(tc, test_cert_decode_truncated_and_trailing);
	tcase_add_test(tc, test_cert_decode_rejects_table);
	tcase_add_test(tc, test_cert_encode_rejects_invalid);
	tcase_add_test(tc, test_cert_sign_pk_layout_and_signed);
	tcase_add_test(tc, test_revoke_roundtrip_and_verify);
	tcase_add_test(tc, test_revoke_every_bit_flip_and_length_rejected);
	tcase_add_test(tc, test_revoke_signature_is_domain_separated);
	tcase_add_test(tc, test_cert_ttl_parse);
	tcase_add_test(tc, test_cert_renewal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(suite_cert());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
