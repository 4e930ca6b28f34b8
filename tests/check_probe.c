/* Path probes (mesh/probe.h): round trips, strict lengths, forgeries,
 * reflection, wrong keys, the time window and the reflexive address. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/probe.h"
#include "util/err.h"

enum { NOW = 1800000000 };

static uint8_t a_pk[32], a_sk[32], b_pk[32], b_sk[32], c_pk[32], c_sk[32];
static struct mesh_probe_key ab, ba, cb, bc;

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	crypto_box_keypair(a_pk, a_sk);
	crypto_box_keypair(b_pk, b_sk);
	crypto_box_keypair(c_pk, c_sk);
	ck_assert_int_eq(mesh_probe_key_init(&ab, a_pk, a_sk, b_pk), 0);
	ck_assert_int_eq(mesh_probe_key_init(&ba, b_pk, b_sk, a_pk), 0);
	ck_assert_int_eq(mesh_probe_key_init(&cb, c_pk, c_sk, b_pk), 0);
	ck_assert_int_eq(mesh_probe_key_init(&bc, b_pk, b_sk, c_pk), 0);
}

static size_t seal(const struct mesh_probe_key *k, const struct mesh_probe *m, uint8_t *buf)
{
	struct wr w;

	wr_init(&w, buf, MESH_PROBE_MAX_LEN);
	ck_assert_int_eq(mesh_probe_seal(k, m, &w), 0);
	return w.off;
}

static struct mesh_probe probe_at(uint64_t txid, uint64_t t)
{
	struct mesh_probe m;

	memset(&m, 0, sizeof m);
	m.type = MESH_MSG_PROBE;
	m.txid = txid;
	m.time = t;
	return m;
}

static struct mesh_probe ack_for(uint64_t txid, const char *observed)
{
	struct mesh_probe m;

	memset(&m, 0, sizeof m);
	m.type = MESH_MSG_PROBE_ACK;
	m.txid = txid;
	m.time = NOW;
	ck_assert_int_eq(endpoint_parse(&m.observed, observed, false), 0);
	return m;
}

START_TEST(test_round_trip)
{
	struct mesh_probe m = probe_at(0x0102030405060708ULL, NOW), out;
	uint8_t buf[MESH_PROBE_MAX_LEN], pk[32], type;
	size_t n = seal(&ab, &m, buf);

	ck_assert_uint_eq(n, MESH_PROBE_LEN);
	ck_assert_uint_eq(buf[0], MESH_MSG_MAGIC);
	ck_assert_uint_eq(buf[1], MESH_MSG_PROBE);
	ck_assert(mesh_msg_is_mesh(buf, n));
	ck_assert_str_eq(mesh_msg_type_name(buf[1]), "probe");
	ck_assert_int_eq(mesh_probe_peek(buf, n, &type, pk), 0);
	ck_assert_uint_eq(type, MESH_MSG_PROBE);
	ck_assert_mem_eq(pk, a_pk, 32);
	ck_assert_int_eq(mesh_probe_open(&ba, buf, n, NOW, &out), 0);
	ck_assert_uint_eq(out.type, MESH_MSG_PROBE);
	ck_assert_uint_eq(out.txid, m.txid);
	ck_assert_uint_eq(out.time, NOW);
	ck_assert_int_eq(out.observed.sa.sa_family, 0);
	/* two seals of the same message differ (random nonce) */
	{
		uint8_t buf2[MESH_PROBE_MAX_LEN];

		ck_assert_uint_eq(seal(&ab, &m, buf2), n);
		ck_assert(memcmp(buf, buf2, n) != 0);
	}
}
END_TEST

START_TEST(test_ack_reflexive_v4_v6)
{
	static const char *const addrs[] = {
		"198.51.100.7:40001", "[2001:db8::42]:65535", "10.0.0.1:1",
		"[fe80::1]:51820",
	};
	static const size_t lens[] = {
		MESH_PROBE_ACK_V4_LEN, MESH_PROBE_ACK_V6_LEN, MESH_PROBE_ACK_V4_LEN,
		MESH_PROBE_ACK_V6_LEN,
	};
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m, out;
	size_t i, n;

	for (i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
		m = ack_for(1000 + i, addrs[i]);
		n = seal(&ba, &m, buf);
		ck_assert_uint_eq(n, lens[i]);
		ck_assert_uint_lt(n, 200);
		ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), 0);
		ck_assert_uint_eq(out.type, MESH_MSG_PROBE_ACK);
		ck_assert_uint_eq(out.txid, 1000 + i);
		ck_assert(endpoint_eq(&out.observed, &m.observed));
		/* an ACK has no time window: the txid guards it */
		ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW + 3600, &out), 0);
	}
	/* an IPv4-mapped source is sent as IPv4 */
	m = ack_for(7, "[::ffff:192.0.2.9]:4242");
	n = seal(&ba, &m, buf);
	ck_assert_uint_eq(n, MESH_PROBE_ACK_V4_LEN);
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), 0);
	ck_assert_int_eq(out.observed.sa.sa_family, AF_INET);
	{
		union endpoint want;

		ck_assert_int_eq(endpoint_parse(&want, "192.0.2.9:4242", false), 0);
		ck_assert(endpoint_eq(&out.observed, &want));
	}
}
END_TEST

START_TEST(test_seal_invalid)
{
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m = probe_at(1, NOW);
	struct wr w;

	m.type = 3;
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_INVAL);
	m.type = MESH_MSG_PROBE_ACK;	/* no observed address */
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_INVAL);
	m = ack_for(1, "192.0.2.1:1");
	m.observed.sin.sin_port = 0;
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
	/* a buffer one byte short: nothing written */
	m = probe_at(1, NOW);
	wr_init(&w, buf, MESH_PROBE_LEN - 1);
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
	/* keys: our own key as the peer's, a low-order point */
	{
		struct mesh_probe_key k;
		uint8_t zero[32] = { 0 };

		ck_assert_int_eq(mesh_probe_key_init(&k, a_pk, a_sk, a_pk), MESHD_E_INVAL);
		ck_assert_int_eq(mesh_probe_key_init(&k, a_pk, a_sk, zero), MESHD_E_CRYPTO);
		mesh_probe_key_clear(&k);
	}
}
END_TEST

START_TEST(test_truncations)
{
	uint8_t buf[MESH_PROBE_MAX_LEN + 1], pk[32], type;
	struct mesh_probe m, out;
	size_t n, len;
	int kind;

	for (kind = 0; kind < 3; kind++) {
		if (kind == 0)
			m = probe_at(5, NOW);
		else
			m = ack_for(5, kind == 1 ? "192.0.2.1:9" : "[2001:db8::1]:9");
		n = seal(kind == 0 ? &ab : &ba, &m, buf);
		for (len = 0; len < n; len++) {
			int r = mesh_probe_open(kind == 0 ? &ba : &ab, buf, len, NOW, &out);

			/* a v6 ACK cut to the v4 length is framed right: the box fails */
			if (kind == 2 && len == MESH_PROBE_ACK_V4_LEN)
				ck_assert_int_eq(r, MESHD_E_CRYPTO);
			else
				ck_assert_msg(r == MESHD_E_PROTO, "kind %d len %zu: %d", kind, len, r);
			ck_assert_uint_eq(out.txid, 0);
		}
		/* one byte too many: framed as a padded PROBE, it fails the box;
		 * an ACK has no padded form */
		buf[n] = 0;
		ck_assert_int_eq(mesh_probe_peek(buf, n + 1, &type, pk),
		    kind == 0 ? 0 : MESHD_E_PROTO);
		ck_assert_int_eq(mesh_probe_open(kind == 0 ? &ba : &ab, buf, n + 1, NOW, &out),
		    kind == 0 ? MESHD_E_CRYPTO : MESHD_E_PROTO);
	}
}
END_TEST

START_TEST(test_bit_flips)
{
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m, out;
	size_t n, byte;
	int bit, kind;

	for (kind = 0; kind < 2; kind++) {
		m = kind == 0 ? probe_at(77, NOW) : ack_for(77, "[2001:db8::5]:777");
		n = seal(kind == 0 ? &ab : &ba, &m, buf);
		for (byte = 0; byte < n; byte++)
			for (bit = 0; bit < 8; bit++) {
				int r;

				buf[byte] ^= (uint8_t)(1u << bit);
				r = mesh_probe_open(kind == 0 ? &ba : &ab, buf, n, NOW, &out);
				ck_assert_msg(r == MESHD_E_CRYPTO || r == MESHD_E_PROTO,
				    "byte %zu bit %d: %d", byte, bit, r);
				/* header and sender key: PROTO; nonce and box: CRYPTO */
				if (byte < MESH_MSG_HDR_LEN + 32)
					ck_assert_int_eq(r, MESHD_E_PROTO);
				else
					ck_assert_int_eq(r, MESHD_E_CRYPTO);
				buf[byte] ^= (uint8_t)(1u << bit);
			}
		ck_assert_int_eq(mesh_probe_open(kind == 0 ? &ba : &ab, buf, n, NOW, &out), 0);
	}
}
END_TEST

START_TEST(test_wrong_receiver)
{
	uint8_t buf[MESH_PROBE_MAX_LEN], c2[MESH_PROBE_MAX_LEN];
	struct mesh_probe m = probe_at(9, NOW), out;
	struct mesh_probe_key ca;
	size_t n = seal(&ab, &m, buf);

	/* for B, opened by C with A as the claimed peer */
	ck_assert_int_eq(mesh_probe_key_init(&ca, c_pk, c_sk, a_pk), 0);
	ck_assert_int_eq(mesh_probe_open(&ca, buf, n, NOW, &out), MESHD_E_CRYPTO);
	/* for B from A, opened by B believing it is from C: sender differs */
	ck_assert_int_eq(mesh_probe_open(&bc, buf, n, NOW, &out), MESHD_E_PROTO);
	/* C rewrites the sender field to its own key: does not open */
	memcpy(c2, buf, n);
	memcpy(c2 + MESH_MSG_HDR_LEN, c_pk, 32);
	ck_assert_int_eq(mesh_probe_open(&bc, c2, n, NOW, &out), MESHD_E_CRYPTO);
	/* C's own probe to B opens with B's key for C only */
	n = seal(&cb, &m, buf);
	ck_assert_int_eq(mesh_probe_open(&bc, buf, n, NOW, &out), 0);
	ck_assert_int_eq(mesh_probe_open(&ba, buf, n, NOW, &out), MESHD_E_PROTO);
	mesh_probe_key_clear(&ca);
}
END_TEST

START_TEST(test_reflection)
{
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m = probe_at(11, NOW), out;
	size_t n = seal(&ab, &m, buf);

	/* A's own probe sent back to A with B's key in the sender field: the
	 * box key is the same, the direction bit is not */
	memcpy(buf + MESH_MSG_HDR_LEN, b_pk, 32);
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), MESHD_E_CRYPTO);
	/* the same for an ACK */
	m = ack_for(12, "192.0.2.1:1000");
	n = seal(&ab, &m, buf);
	memcpy(buf + MESH_MSG_HDR_LEN, b_pk, 32);
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), MESHD_E_CRYPTO);
}
END_TEST

START_TEST(test_type_confusion)
{
	uint8_t buf[MESH_PROBE_MAX_LEN], pk[32], type;
	struct mesh_probe m = ack_for(13, "192.0.2.1:1000"), out;
	size_t n = seal(&ba, &m, buf);

	/* an ACK relabelled as a PROBE has the wrong length */
	buf[1] = MESH_MSG_PROBE;
	ck_assert_int_eq(mesh_probe_peek(buf, n, &type, pk), MESHD_E_PROTO);
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), MESHD_E_PROTO);
	buf[1] = MESH_MSG_JOIN_REQ;
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), MESHD_E_PROTO);
	buf[1] = MESH_MSG_PROBE_ACK;
	buf[0] = 1;
	ck_assert_int_eq(mesh_probe_open(&ab, buf, n, NOW, &out), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_stale_time)
{
	static const struct {
		uint64_t t;
		int want;
	} cases[] = {
		{ NOW, 0 },
		{ NOW - MESH_PROBE_WINDOW_S, 0 },
		{ NOW - MESH_PROBE_WINDOW_S - 1, MESHD_E_EXPIRED },
		{ NOW + MESH_PROBE_WINDOW_S, 0 },
		{ NOW + MESH_PROBE_WINDOW_S + 1, MESHD_E_EXPIRED },
		{ 0, MESHD_E_EXPIRED },
		{ UINT64_MAX, MESHD_E_EXPIRED },
		{ UINT64_MAX - MESH_PROBE_WINDOW_S, MESHD_E_EXPIRED },
	};
	uint8_t buf[MESH_PROBE_MAX_LEN];
	struct mesh_probe m, out;
	size_t i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		m = probe_at(99, cases[i].t);
		n = seal(&ab, &m, buf);
		ck_assert_msg(mesh_probe_open(&ba, buf, n, NOW, &out) == cases[i].want,
		    "case %zu", i);
		if (cases[i].want != 0)
			ck_assert_uint_eq(out.txid, 0);
	}
	/* a receiver whose clock is near the end of time */
	m = probe_at(1, UINT64_MAX - MESH_PROBE_WINDOW_S);
	n = seal(&ab, &m, buf);
	ck_assert_int_eq(mesh_probe_open(&ba, buf, n, UINT64_MAX - 5, &out), 0);
}
END_TEST

/* An ACK (the only answer a PROBE gets) is never larger than the PROBE,
 * whatever address it reports, so even a replayed PROBE from a spoofed
 * source amplifies nothing; a PROBE from a non-member does not open at all
 * (no answer), and the padding must be zeros. */
START_TEST(test_reply_never_larger)
{
	static const char *const obs[] = { "192.0.2.1:1", "[2001:db8::1]:65535" };
	uint8_t p[MESH_PROBE_MAX_LEN], a[MESH_PROBE_MAX_LEN], key[32];
	struct mesh_probe m = probe_at(1, NOW), out, ack;
	size_t n, k;

	n = seal(&ab, &m, p);
	ck_assert_uint_eq(n, MESH_PROBE_LEN);
	for (size_t i = 0; i < 2; i++) {
		ack = ack_for(1, obs[i]);
		k = seal(&ba, &ack, a);
		ck_assert_uint_le(k, n);
	}
	/* c is no member of b's: its PROBE does not open under b's key for a */
	n = seal(&cb, &m, p);
	ck_assert_int_ne(mesh_probe_open(&ba, p, n, NOW, &out), 0);
	/* non-zero padding: sealed by hand with the right key, refused */
	{
		uint8_t plain[MESH_PROBE_PLAIN_LEN + MESH_PROBE_PAD_LEN], nonce[24];

		memset(plain, 0, sizeof plain);
		plain[0] = MESH_MSG_PROBE;
		plain[16] = (uint8_t)NOW;
		plain[15] = (uint8_t)(NOW >> 8);
		plain[14] = (uint8_t)(NOW >> 16);
		plain[13] = (uint8_t)(NOW >> 24);
		plain[sizeof plain - 1] = 1;
		randombytes_buf(nonce, sizeof nonce);
		nonce[0] = (uint8_t)((nonce[0] & 0xfe) | ab.dir_out);
		p[0] = MESH_MSG_MAGIC;
		p[1] = MESH_MSG_PROBE;
		memcpy(p + 2, a_pk, 32);
		memcpy(p + 34, nonce, 24);
		memcpy(key, ab.k, 32);
		ck_assert_int_eq(crypto_box_easy_afternm(p + MESH_PROBE_OUTER_LEN, plain,
		    sizeof plain, nonce, key), 0);
		ck_assert_int_eq(mesh_probe_open(&ba, p, MESH_PROBE_LEN, NOW, &out), MESHD_E_PROTO);
		plain[sizeof plain - 1] = 0;
		ck_assert_int_eq(crypto_box_easy_afternm(p + MESH_PROBE_OUTER_LEN, plain,
		    sizeof plain, nonce, key), 0);
		ck_assert_int_eq(mesh_probe_open(&ba, p, MESH_PROBE_LEN, NOW, &out), 0);
		sodium_memzero(key, sizeof key);
	}
}
END_TEST

/* Padded PROBEs (path MTU): any length in range round-trips with its
 * length reported; the ACK stays small. */
START_TEST(test_padded_round_trip)
{
	static uint8_t buf[MESH_PROBE_PADDED_MAX_LEN + 1];
	static const size_t lens[] = { MESH_PROBE_LEN, MESH_PROBE_LEN + 1, 1252, 1452, 1472,
	    MESH_PROBE_PADDED_MAX_LEN };
	struct mesh_probe m, out;
	uint8_t pk[32], type;
	struct wr w;

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		m = probe_at(100 + i, NOW);
		m.len = (uint16_t)lens[i];
		wr_init(&w, buf, sizeof buf);
		ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), 0);
		ck_assert_uint_eq(w.off, lens[i]);
		ck_assert_int_eq(mesh_probe_peek(buf, w.off, &type, pk), 0);
		ck_assert_uint_eq(type, MESH_MSG_PROBE);
		ck_assert_int_eq(mesh_probe_open(&ba, buf, w.off, NOW, &out), 0);
		ck_assert_uint_eq(out.txid, 100 + i);
		ck_assert_uint_eq(out.len, lens[i]);
	}
	ck_assert_uint_le(MESH_PROBE_ACK_V6_LEN, MESH_PROBE_LEN);
}
END_TEST

START_TEST(test_padded_limits)
{
	static uint8_t buf[MESH_PROBE_PADDED_MAX_LEN + 8];
	struct mesh_probe m, out;
	uint8_t pk[32], type;
	struct wr w;

	m = probe_at(7, NOW);
	m.len = MESH_PROBE_LEN - 1;
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_INVAL);
	m.len = MESH_PROBE_PADDED_MAX_LEN + 1;
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
	/* the buffer too small for the padded length: nothing written */
	m.len = 1400;
	wr_init(&w, buf, 1399);
	ck_assert_int_eq(mesh_probe_seal(&ab, &m, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
	/* longer than the maximum on the wire: not even framed */
	memset(buf, 0, sizeof buf);
	buf[0] = MESH_MSG_MAGIC;
	buf[1] = MESH_MSG_PROBE;
	ck_assert_int_eq(mesh_probe_peek(buf, MESH_PROBE_PADDED_MAX_LEN + 1, &type, pk),
	    MESHD_E_PROTO);
	ck_assert_int_eq(mesh_probe_open(&ba, buf, MESH_PROBE_PADDED_MAX_LEN + 1, NOW, &out),
	    MESHD_E_PROTO);
}
END_TEST

/* The padding must be zeros: a PROBE sealed (with the right key) around a
 * non-zero pad byte is refused, whatever the length. */
START_TEST(test_padded_nonzero_pad)
{
	static uint8_t buf[1500], plain[1500];
	const size_t lens[] = { MESH_PROBE_LEN, 1400 };
	struct mesh_probe out;

	for (size_t i = 0; i < 2; i++) {
		size_t pl = lens[i] - MESH_PROBE_OUTER_LEN - MESH_PROBE_MAC_LEN;
		uint8_t *nonce = buf + MESH_MSG_HDR_LEN + MESH_PROBE_KEY_LEN;
		struct wr w;

		memset(plain, 0, sizeof plain);
		wr_init(&w, plain, pl);
		ck_assert_int_eq(wr_u8(&w, MESH_MSG_PROBE), 0);
		ck_assert_int_eq(wr_u64(&w, 9), 0);
		ck_assert_int_eq(wr_u64(&w, NOW), 0);
		plain[pl - 1] = 1;
		buf[0] = MESH_MSG_MAGIC;
		buf[1] = MESH_MSG_PROBE;
		memcpy(buf + MESH_MSG_HDR_LEN, a_pk, 32);
		randombytes_buf(nonce, MESH_PROBE_NONCE_LEN);
		nonce[0] = (uint8_t)((nonce[0] & 0xfe) | ab.dir_out);
		ck_assert_int_eq(crypto_box_easy_afternm(buf + MESH_PROBE_OUTER_LEN, plain, pl, nonce,
		    ab.k), 0);
		ck_assert_int_eq(mesh_probe_open(&ba, buf, lens[i], NOW, &out), MESHD_E_PROTO);
		/* the same with a zero pad opens */
		plain[pl - 1] = 0;
		ck_assert_int_eq(crypto_box_easy_afternm(buf + MESH_PROBE_OUTER_LEN, plain, pl, nonce,
		    ab.k), 0);
		ck_assert_int_eq(mesh_probe_open(&ba, buf, lens[i], NOW, &out), 0);
	}
}
END_TEST

static Suite *suite_probe(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_ack_reflexive_v4_v6);
	tcase_add_test(tc, test_seal_invalid);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_bit_flips);
	tcase_add_test(tc, test_wrong_receiver);
	tcase_add_test(tc, test_reflection);
	tcase_add_test(tc, test_type_confusion);
	tcase_add_test(tc, test_stale_time);
	tcase_add_test(tc, test_reply_never_larger);
	tcase_add_test(tc, test_padded_round_trip);
	tcase_add_test(tc, test_padded_limits);
	tcase_add_test(tc, test_padded_nonzero_pad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_probe());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
