/* Tests for mac1/mac2 and cookie replies (src/wg/cookie.c). */
#include <blake2.h>
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/endian.h"
#include "wg/cookie.h"
#include "wg/messages.h"

enum {
	MSG_LEN = sizeof(struct wg_msg_initiation),
	RESP_LEN = sizeof(struct wg_msg_response),
	MAC1_OFF = MSG_LEN - 2 * WG_MAC_LEN,
	MAC2_OFF = MSG_LEN - WG_MAC_LEN,
	SENDER_INDEX = 0x11223344,
};

static const mtime_ns cookie_life = SEC(COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY);
static const mtime_ns secret_life = SEC(COOKIE_SECRET_MAX_AGE);
static const mtime_ns t0 = SEC(1000);

static uint8_t resp_pub[32], other_pub[32];
static struct wg_cookie_maker cm;
static struct wg_cookie_checker cc;

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	randombytes_buf(resp_pub, sizeof resp_pub);
	randombytes_buf(other_pub, sizeof other_pub);
	wg_cookie_maker_init(&cm, resp_pub);
	wg_cookie_checker_init(&cc);
	wg_cookie_checker_set_key(&cc, resp_pub);
}

static void teardown(void)
{
	wg_cookie_maker_clear(&cm);
	wg_cookie_checker_clear(&cc);
}

static void ep(union endpoint *e, const char *s)
{
	ck_assert_int_eq(endpoint_parse(e, s, false), 0);
}

/* A handshake-sized message with random contents and a sender index. */
static void new_msg(uint8_t *msg, size_t len)
{
	randombytes_buf(msg, len);
	le32enc(msg, WG_MSG_INITIATION);
	le32enc(msg + offsetof(struct wg_msg_initiation, sender_index), SENDER_INDEX);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return sodium_is_zero(p, n) == 1;
}

static void verdict(struct wg_cookie_checker *c, const uint8_t *msg, size_t len, const char *src,
		    mtime_ns now, enum wg_cookie_verdict want, int line)
{
	union endpoint e;
	enum wg_cookie_verdict got;

	ep(&e, src);
	got = wg_cookie_validate(c, msg, len, &e, now);
	ck_assert_msg(got == want, "line %d: validate from %s = %d, want %d", line, src, got,
		      want);
}

#define VERDICT(msg, src, now, want) verdict(&cc, (msg), MSG_LEN, (src), (now), (want), __LINE__)

/* The checker answers msg from src at `now`; the maker takes the reply. */
static bool answer(const uint8_t *msg, const char *src, mtime_ns now)
{
	uint8_t reply[WG_COOKIE_REPLY_LEN];
	union endpoint e;

	ep(&e, src);
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, MSG_LEN, &e, now);
	return wg_cookie_consume_reply(&cm, reply, sizeof reply, now);
}

START_TEST(test_cookie_add_macs_mac1_matches_spec)
{
	uint8_t msg[MSG_LEN], key[BLAKE2S_OUTBYTES], want[WG_MAC_LEN];
	uint8_t in[8 + sizeof resp_pub];

	/* mac1 = MAC(HASH("mac1----" || Spub), msg[0 .. len-32)), computed
	 * here with libb2 directly. */
	memcpy(in, "mac1----", 8);
	memcpy(in + 8, resp_pub, sizeof resp_pub);
	ck_assert_int_eq(blake2s(key, in, NULL, sizeof key, sizeof in, 0), 0);
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert_int_eq(blake2s(want, msg, key, sizeof want, MAC1_OFF, sizeof key), 0);
	ck_assert_mem_eq(msg + MAC1_OFF, want, WG_MAC_LEN);
	ck_assert(all_zero(msg + MAC2_OFF, WG_MAC_LEN));
}
END_TEST

START_TEST(test_cookie_validate_mac1_ok)
{
	uint8_t msg[MSG_LEN], resp[RESP_LEN];
	union endpoint e;

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	VERDICT(msg, "192.0.2.1:51820", t0, WG_COOKIE_MAC1_OK);
	VERDICT(msg, "[2001:db8::1]:51820", t0, WG_COOKIE_MAC1_OK);
	/* any length works: the macs are the last 32 bytes */
	ep(&e, "192.0.2.1:51820");
	new_msg(resp, sizeof resp);
	wg_cookie_add_macs(&cm, resp, sizeof resp, t0);
	ck_assert_int_eq(wg_cookie_validate(&cc, resp, sizeof resp, &e, t0), WG_COOKIE_MAC1_OK);
	ck_assert_int_eq(wg_cookie_validate(&cc, resp, sizeof resp - 1, &e, t0),
			 WG_COOKIE_BAD_MAC1);
	ck_assert_int_eq(wg_cookie_validate(&cc, resp, 2 * WG_MAC_LEN - 1, &e, t0),
			 WG_COOKIE_BAD_MAC1);
}
END_TEST

START_TEST(test_cookie_validate_rejects_flipped_byte)
{
	uint8_t msg[MSG_LEN];
	size_t i;

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	for (i = 0; i < sizeof msg; i++) {
		union endpoint e;
		enum wg_cookie_verdict v;

		msg[i] ^= 1 << (i % 8);
		ep(&e, "192.0.2.1:51820");
		v = wg_cookie_validate(&cc, msg, sizeof msg, &e, t0);
		/* mac1 covers everything up to mac2 (and is itself checked) */
		ck_assert_msg(v == (i < MAC2_OFF ? WG_COOKIE_BAD_MAC1 : WG_COOKIE_MAC1_OK),
			      "byte %zu flipped: verdict %d", i, v);
		msg[i] ^= 1 << (i % 8);
	}
	VERDICT(msg, "192.0.2.1:51820", t0, WG_COOKIE_MAC1_OK);
}
END_TEST

START_TEST(test_cookie_validate_rejects_wrong_key)
{
	uint8_t msg[MSG_LEN];
	struct wg_cookie_checker other;

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	wg_cookie_checker_init(&other);
	verdict(&other, msg, sizeof msg, "192.0.2.1:1", t0, WG_COOKIE_BAD_MAC1, __LINE__);
	wg_cookie_checker_set_key(&other, other_pub);
	verdict(&other, msg, sizeof msg, "192.0.2.1:1", t0, WG_COOKIE_BAD_MAC1, __LINE__);
	wg_cookie_checker_set_key(&other, resp_pub);
	verdict(&other, msg, sizeof msg, "192.0.2.1:1", t0, WG_COOKIE_MAC1_OK, __LINE__);
	wg_cookie_checker_set_key(&other, NULL);	/* forgotten */
	verdict(&other, msg, sizeof msg, "192.0.2.1:1", t0, WG_COOKIE_BAD_MAC1, __LINE__);
	ck_assert(all_zero(other.mac1_key, sizeof other.mac1_key));
	wg_cookie_checker_clear(&other);
}
END_TEST

START_TEST(test_cookie_add_macs_mac2_zero_without_cookie)
{
	uint8_t msg[MSG_LEN];

	new_msg(msg, sizeof msg);
	memset(msg + MAC2_OFF, 0xa5, WG_MAC_LEN);	/* must be overwritten */
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert(!cm.have_cookie);
	ck_assert(all_zero(msg + MAC2_OFF, WG_MAC_LEN));
	ck_assert(!all_zero(msg + MAC1_OFF, WG_MAC_LEN));
}
END_TEST

START_TEST(test_cookie_make_reply_round_trip)
{
	uint8_t msg[MSG_LEN], reply[WG_COOKIE_REPLY_LEN], reply2[WG_COOKIE_REPLY_LEN];
	union endpoint src;

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	VERDICT(msg, "198.51.100.7:51820", t0, WG_COOKIE_MAC1_OK);

	ep(&src, "198.51.100.7:51820");
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);
	wg_cookie_make_reply(&cc, reply2, SENDER_INDEX, msg, sizeof msg, &src, t0);
	ck_assert_uint_eq(reply[0], WG_MSG_COOKIE);
	ck_assert(all_zero(reply + 1, 3));
	ck_assert_uint_eq(le32dec(reply + offsetof(struct wg_msg_cookie, receiver_index)),
			  SENDER_INDEX);
	/* fresh random nonce each time */
	ck_assert_mem_ne(reply + offsetof(struct wg_msg_cookie, nonce),
			 reply2 + offsetof(struct wg_msg_cookie, nonce), WG_COOKIE_NONCE_LEN);
	ck_assert(wg_cookie_consume_reply(&cm, reply, sizeof reply, t0 + SEC(1)));
	ck_assert(cm.have_cookie);

	/* the next message carries mac2, valid from this source only */
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + SEC(2));
	ck_assert(!all_zero(msg + MAC2_OFF, WG_MAC_LEN));
	VERDICT(msg, "198.51.100.7:51820", t0 + SEC(2), WG_COOKIE_MAC2_OK);
	VERDICT(msg, "198.51.100.8:51820", t0 + SEC(2), WG_COOKIE_MAC1_OK);
	VERDICT(msg, "198.51.100.7:51821", t0 + SEC(2), WG_COOKIE_MAC1_OK);
	VERDICT(msg, "[::ffff:198.51.100.7]:51820", t0 + SEC(2), WG_COOKIE_MAC1_OK);
	/* a flipped mac2 byte loses only the mac2 verdict */
	msg[MAC2_OFF + 3] ^= 0x40;
	VERDICT(msg, "198.51.100.7:51820", t0 + SEC(2), WG_COOKIE_MAC1_OK);
}
END_TEST

START_TEST(test_cookie_make_reply_matches_spec)
{
	uint8_t msg[MSG_LEN], reply[WG_COOKIE_REPLY_LEN], key[BLAKE2S_OUTBYTES];
	uint8_t in[8 + sizeof resp_pub], source[4 + 2], cookie[WG_COOKIE_LEN];
	uint8_t want[WG_COOKIE_LEN], mac2[WG_MAC_LEN];
	unsigned long long n;
	union endpoint src;

	/* Everything recomputed here with libb2 and libsodium directly:
	 * cookie = MAC(Rm, ip || port), sealed under HASH("cookie--" || Spub)
	 * with mac1 as AD; mac2 = MAC(cookie, msg[0 .. len-16)). */
	ep(&src, "198.51.100.7:51820");
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);

	memcpy(in, "cookie--", 8);
	memcpy(in + 8, resp_pub, sizeof resp_pub);
	ck_assert_int_eq(blake2s(key, in, NULL, sizeof key, sizeof in, 0), 0);
	ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &n, NULL,
			 reply + offsetof(struct wg_msg_cookie, encrypted_cookie),
			 sizeof(((struct wg_msg_cookie *)0)->encrypted_cookie),
			 msg + MAC1_OFF, WG_MAC_LEN,
			 reply + offsetof(struct wg_msg_cookie, nonce), key), 0);
	ck_assert_uint_eq(n, WG_COOKIE_LEN);
	memcpy(source, &src.sin.sin_addr, 4);
	memcpy(source + 4, &src.sin.sin_port, 2);
	ck_assert_uint_eq(source[4], 51820 >> 8);	/* port in network order */
	ck_assert_int_eq(blake2s(want, source, cc.secret, sizeof want, sizeof source,
				 sizeof cc.secret), 0);
	ck_assert_mem_eq(cookie, want, WG_COOKIE_LEN);

	ck_assert(wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));
	ck_assert_mem_eq(cm.cookie, want, WG_COOKIE_LEN);
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert_int_eq(blake2s(mac2, msg, cookie, sizeof mac2, MAC2_OFF, sizeof cookie), 0);
	ck_assert_mem_eq(msg + MAC2_OFF, mac2, WG_MAC_LEN);
}
END_TEST

START_TEST(test_cookie_make_reply_round_trip_v6)
{
	uint8_t msg[MSG_LEN];

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert(answer(msg, "[2001:db8::7]:443", t0));
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	VERDICT(msg, "[2001:db8::7]:443", t0, WG_COOKIE_MAC2_OK);
	VERDICT(msg, "[2001:db8::8]:443", t0, WG_COOKIE_MAC1_OK);
	VERDICT(msg, "[2001:db8::7]:444", t0, WG_COOKIE_MAC1_OK);
	VERDICT(msg, "[2001:db8:0:1::7]:443", t0, WG_COOKIE_MAC1_OK);
}
END_TEST

START_TEST(test_cookie_consume_reply_rejects_wrong_ad)
{
	uint8_t first[MSG_LEN], second[MSG_LEN], reply[WG_COOKIE_REPLY_LEN];
	union endpoint src;

	ep(&src, "203.0.113.5:9");
	new_msg(first, sizeof first);
	wg_cookie_add_macs(&cm, first, sizeof first, t0);
	new_msg(second, sizeof second);
	wg_cookie_add_macs(&cm, second, sizeof second, t0);
	/* an answer to an older message is not an answer to our last one */
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, first, sizeof first, &src, t0);
	ck_assert(!wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));
	ck_assert(!cm.have_cookie);
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, second, sizeof second, &src, t0);
	ck_assert(wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));
}
END_TEST

START_TEST(test_cookie_consume_reply_rejects_bad_replies)
{
	uint8_t msg[MSG_LEN], reply[WG_COOKIE_REPLY_LEN];
	struct wg_cookie_checker other;
	union endpoint src;
	size_t i;

	ep(&src, "203.0.113.5:9");
	new_msg(msg, sizeof msg);
	/* nothing sent yet: nothing to answer */
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);
	ck_assert(!wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));

	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);
	ck_assert(!wg_cookie_consume_reply(&cm, reply, sizeof reply - 1, t0));
	/* any flipped byte outside the receiver index breaks it */
	for (i = 0; i < sizeof reply; i++) {
		if (i >= offsetof(struct wg_msg_cookie, receiver_index) &&
		    i < offsetof(struct wg_msg_cookie, nonce))
			continue;
		reply[i] ^= 0x01;
		ck_assert_msg(!wg_cookie_consume_reply(&cm, reply, sizeof reply, t0),
			      "reply accepted with byte %zu flipped", i);
		reply[i] ^= 0x01;
	}
	/* a reply sealed under another responder's key */
	wg_cookie_checker_init(&other);
	wg_cookie_checker_set_key(&other, other_pub);
	wg_cookie_make_reply(&other, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);
	ck_assert(!wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));
	wg_cookie_checker_clear(&other);
	ck_assert(!cm.have_cookie);

	/* the genuine reply works once; a replay of it does not */
	wg_cookie_make_reply(&cc, reply, SENDER_INDEX, msg, sizeof msg, &src, t0);
	ck_assert(wg_cookie_consume_reply(&cm, reply, sizeof reply, t0));
	ck_assert(!wg_cookie_consume_reply(&cm, reply, sizeof reply, t0 + SEC(1)));
	ck_assert_uint_eq(cm.cookie_birth, t0);
}
END_TEST

START_TEST(test_cookie_add_macs_cookie_expires)
{
	uint8_t msg[MSG_LEN];

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert(answer(msg, "192.0.2.9:7", t0));

	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + cookie_life - 1);
	ck_assert(!all_zero(msg + MAC2_OFF, WG_MAC_LEN));
	VERDICT(msg, "192.0.2.9:7", t0 + cookie_life - 1, WG_COOKIE_MAC2_OK);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + cookie_life);
	ck_assert(all_zero(msg + MAC2_OFF, WG_MAC_LEN));
	VERDICT(msg, "192.0.2.9:7", t0 + cookie_life, WG_COOKIE_MAC1_OK);
	/* a new reply revives it */
	ck_assert(answer(msg, "192.0.2.9:7", t0 + cookie_life));
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + cookie_life + SEC(1));
	VERDICT(msg, "192.0.2.9:7", t0 + cookie_life + SEC(1), WG_COOKIE_MAC2_OK);
}
END_TEST

START_TEST(test_cookie_validate_secret_rotation)
{
	uint8_t msg[MSG_LEN];
	const mtime_ns late = t0 + SEC(100);

	/* the secret is born at t0 (first cookie computed), the cookie handed
	 * out at t0 + 100 s is still from it */
	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	VERDICT(msg, "192.0.2.9:7", t0, WG_COOKIE_MAC1_OK);
	wg_cookie_add_macs(&cm, msg, sizeof msg, late);
	ck_assert(answer(msg, "192.0.2.9:7", late));
	ck_assert_uint_eq(cc.secret_birth, t0);

	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + secret_life - 1);
	VERDICT(msg, "192.0.2.9:7", t0 + secret_life - 1, WG_COOKIE_MAC2_OK);
	/* the maker still trusts its 20 s old cookie, but the secret rotated */
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + secret_life);
	ck_assert(!all_zero(msg + MAC2_OFF, WG_MAC_LEN));
	VERDICT(msg, "192.0.2.9:7", t0 + secret_life, WG_COOKIE_MAC1_OK);
	ck_assert_uint_eq(cc.secret_birth, t0 + secret_life);
	/* a cookie from the new secret works again */
	ck_assert(answer(msg, "192.0.2.9:7", t0 + secret_life));
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0 + secret_life + SEC(1));
	VERDICT(msg, "192.0.2.9:7", t0 + secret_life + SEC(1), WG_COOKIE_MAC2_OK);
}
END_TEST

START_TEST(test_cookie_maker_clear_wipes_keys)
{
	uint8_t msg[MSG_LEN];

	new_msg(msg, sizeof msg);
	wg_cookie_add_macs(&cm, msg, sizeof msg, t0);
	ck_assert(answer(msg, "192.0.2.9:7", t0));
	wg_cookie_maker_clear(&cm);
	ck_assert(all_zero((const uint8_t *)&cm, sizeof cm));
	VERDICT(msg, "192.0.2.9:7", t0, WG_COOKIE_MAC1_OK);
	wg_cookie_checker_clear(&cc);
	ck_assert(all_zero((const uint8_t *)&cc, sizeof cc));
	VERDICT(msg, "192.0.2.9:7", t0, WG_COOKIE_BAD_MAC1);
}
END_TEST

Suite *suite_cookie(void);

Suite *suite_cookie(void)
{
	Suite *s = suite_create("cookie");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cookie_add_macs_mac1_matches_spec);
	tcase_add_test(tc, test_cookie_validate_mac1_ok);
	tcase_add_test(tc, test_cookie_validate_rejects_flipped_byte);
	tcase_add_test(tc, test_cookie_validate_rejects_wrong_key);
	tcase_add_test(tc, test_cookie_add_macs_mac2_zero_without_cookie);
	tcase_add_test(tc, test_cookie_make_reply_round_trip);
	tcase_add_test(tc, test_cookie_make_reply_matches_spec);
	tcase_add_test(tc, test_cookie_make_reply_round_trip_v6);
	tcase_add_test(tc, test_cookie_consume_reply_rejects_wrong_ad);
	tcase_add_test(tc, test_cookie_consume_reply_rejects_bad_replies);
	tcase_add_test(tc, test_cookie_add_macs_cookie_expires);
	tcase_add_test(tc, test_cookie_validate_secret_rotation);
	tcase_add_test(tc, test_cookie_maker_clear_wipes_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_cookie());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
