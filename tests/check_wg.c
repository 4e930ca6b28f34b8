/* wg_input_datagram against hostile input: every malformed or
 * unauthenticated datagram is dropped with no reply; and the cookie path
 * (mac1/mac2 under load). */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "util/endian.h"
#include "wg/device.h"
#include "wg/messages.h"
#include "wg/peer.h"
#include "wgtest.h"

static struct wgt_net net;

static void setup(void)
{
	wgt_init(&net);
}

static void teardown(void)
{
	wgt_free(&net);
}

static struct wg_peer *peer_of(int node)
{
	return net.n[node].peer;
}

/* Feeds buf to B from A's address; asserts silence and no delivery. */
static void expect_dropped(uint8_t *buf, size_t len)
{
	struct wg_result res;
	unsigned delivered = net.n[1].delivered;

	wgt_input(&net, 1, buf, len, &net.n[0].addr, &res);
	ck_assert_int_eq(res.act, WG_ACT_NONE);
	ck_assert_uint_eq(net.qlen, 0);
	ck_assert_uint_eq(net.n[1].delivered, delivered);
}

static void expect_accepted(uint8_t *buf, size_t len)
{
	struct wg_result res;

	wgt_input(&net, 1, buf, len, &net.n[0].addr, &res);
	ck_assert_ptr_eq(res.peer, peer_of(1));
}

START_TEST(test_input_datagram_wrong_lengths_dropped)
{
	static const enum wg_load_mode modes[] = { WG_LOAD_FORCE_OFF, WG_LOAD_FORCE_ON,
						   WG_LOAD_AUTO };
	alignas(8) uint8_t buf[512];
	uint64_t id_before;

	wgt_handshake(&net, 0);
	wgt_pump(&net, 100);
	id_before = peer_of(1)->current->internal_id;
	for (size_t m = 0; m < 3; m++) {
		wg_device_set_load_mode(net.n[1].dev, modes[m]);
		for (uint32_t type = 0; type <= 6; type++) {
			for (size_t len = 0; len <= 200; len++) {
				randombytes_buf(buf, sizeof buf);
				if (len >= 4)
					le32enc(buf, type);
				expect_dropped(buf, len);
			}
		}
		for (size_t len = 0; len < 300; len++) {
			randombytes_buf(buf, sizeof buf);
			buf[0] = 0xff;
			expect_dropped(buf, len);
		}
	}
	ck_assert_uint_eq(peer_of(1)->current->internal_id, id_before);
	ck_assert_uint_eq(peer_of(1)->rx_bytes, peer_of(0)->tx_bytes);
}
END_TEST

/* A real message of each type, one length off in either direction. */
START_TEST(test_input_datagram_off_by_one_dropped)
{
	struct wgt_dgram ini, resp, d;
	struct wg_result res;

	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	ck_assert_uint_eq(ini.len, 148);
	d = ini;
	expect_dropped(d.buf, 147);
	d = ini;
	d.buf[148] = 0;
	expect_dropped(d.buf, 149);
	d = ini;
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert(wgt_pop(&net, &resp));
	ck_assert_uint_eq(resp.len, 92);
	/* The response, truncated or extended, to A. */
	d = resp;
	wgt_input(&net, 0, d.buf, 91, &d.src, &res);
	d = resp;
	d.buf[92] = 0;
	wgt_input(&net, 0, d.buf, 93, &d.src, &res);
	ck_assert_uint_eq(net.qlen, 0);
	ck_assert_ptr_null(peer_of(0)->current);
	d = resp;
	wgt_input(&net, 0, d.buf, d.len, &d.src, &res);
	ck_assert_ptr_nonnull(peer_of(0)->current);
	/* A's keepalive: data truncated by 1..16 bytes is dropped. */
	ck_assert(wgt_pop(&net, &ini));
	for (size_t cut = 1; cut <= 16; cut++) {
		d = ini;
		expect_dropped(d.buf, d.len - cut);
	}
	d = ini;
	expect_accepted(d.buf, d.len);
}
END_TEST

START_TEST(test_input_datagram_reserved_nonzero_dropped)
{
	struct wgt_dgram ini, d;

	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	for (int i = 1; i < 4; i++) {
		d = ini;
		d.buf[i] = 1;
		expect_dropped(d.buf, d.len);
	}
	d = ini;
	expect_accepted(d.buf, d.len);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	wgt_pump(&net, 100);

	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 30, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &ini));
	for (int i = 1; i < 4; i++) {
		d = ini;
		d.buf[i] = 0x80;
		expect_dropped(d.buf, d.len);
	}
	d = ini;
	expect_accepted(d.buf, d.len);
	ck_assert_uint_eq(net.n[1].delivered, 1);
}
END_TEST

START_TEST(test_input_datagram_data_unknown_receiver_dropped)
{
	struct wgt_dgram pkt, d;

	wgt_handshake(&net, 0);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 30, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &pkt));
	d = pkt;
	le32enc(d.buf + 4, le32dec(d.buf + 4) ^ 0x01000000);
	expect_dropped(d.buf, d.len);
	/* B's own index (a keypair of B's, but the wrong direction key). */
	d = pkt;
	le32enc(d.buf + 4, peer_of(0)->current->entry.id);
	expect_dropped(d.buf, d.len);
	/* An index that names a handshake in progress, not a keypair. */
	peer_of(1)->timers.last_sent_handshake = MTIME_NEVER;
	wg_send_handshake_initiation(net.n[1].dev, peer_of(1), false, net.now);
	wgt_flush(&net);
	d = pkt;
	le32enc(d.buf + 4, peer_of(1)->hs.live->entry.id);
	expect_dropped(d.buf, d.len);
	d = pkt;
	expect_accepted(d.buf, d.len);
}
END_TEST

START_TEST(test_input_datagram_data_bad_tag_dropped)
{
	struct wgt_dgram pkt, d;

	wgt_handshake(&net, 0);
	ck_assert_int_eq(wgt_send_ip(&net, 0, true, 100, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &pkt));
	for (size_t i = 16; i < pkt.len; i += 7) {
		d = pkt;
		d.buf[i] ^= 0x20;
		expect_dropped(d.buf, d.len);
	}
	d = pkt;
	d.buf[d.len - 1] ^= 1;
	expect_dropped(d.buf, d.len);
	/* A forged counter far ahead must not move the replay window. */
	d = pkt;
	le64enc(d.buf + 8, 1000000);
	expect_dropped(d.buf, d.len);
	d = pkt;
	expect_accepted(d.buf, d.len);
	ck_assert_uint_eq(net.n[1].delivered, 2);
}
END_TEST

START_TEST(test_input_datagram_data_replay_dropped)
{
	struct wgt_dgram p1, p2, d;

	wgt_handshake(&net, 0);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &p1));
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &p2));
	/* Out of order is fine, twice is not. */
	d = p2;
	expect_accepted(d.buf, d.len);
	d = p1;
	expect_accepted(d.buf, d.len);
	ck_assert_uint_eq(net.n[1].delivered, 3);
	d = p1;
	expect_dropped(d.buf, d.len);
	d = p2;
	expect_dropped(d.buf, d.len);
	ck_assert_uint_eq(net.n[1].delivered, 3);
}
END_TEST

START_TEST(test_input_datagram_cookie_reply_garbage_dropped)
{
	alignas(8) uint8_t buf[64];

	wgt_handshake(&net, 0);
	/* Right length and a live receiver index, wrong contents. */
	randombytes_buf(buf, sizeof buf);
	le32enc(buf, WG_MSG_COOKIE);
	le32enc(buf + 4, peer_of(1)->current->entry.id);
	expect_dropped(buf, sizeof buf);
	ck_assert(!peer_of(1)->cookie.have_cookie);
}
END_TEST

START_TEST(test_cookie_reply_under_load)
{
	struct wgt_dgram ini, reply, retry;
	struct wg_result res;

	wg_device_set_load_mode(net.n[1].dev, WG_LOAD_FORCE_ON);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 20, NULL), WG_ACT_NONE);
	ck_assert(wgt_pop(&net, &ini));
	ck_assert(sodium_is_zero(ini.buf + 132, 16));		/* no mac2 yet */
	wgt_input(&net, 1, ini.buf, ini.len, &ini.src, &res);
	/* Exactly one reply: a 64-byte cookie reply to the sender. */
	ck_assert_uint_eq(net.qlen, 1);
	ck_assert(wgt_pop(&net, &reply));
	ck_assert_uint_eq(reply.len, WG_COOKIE_REPLY_LEN);
	ck_assert_uint_eq(le32dec(reply.buf), WG_MSG_COOKIE);
	ck_assert_uint_eq(le32dec(reply.buf + 4), le32dec(ini.buf + 4));
	ck_assert(endpoint_eq(&reply.dst, &net.n[0].addr));
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 0);
	ck_assert_ptr_null(peer_of(1)->next);

	wgt_input(&net, 0, reply.buf, reply.len, &reply.src, &res);
	ck_assert(peer_of(0)->cookie.have_cookie);
	/* The retry, REKEY_TIMEOUT later, carries mac2 and succeeds. */
	wgt_expire(&net, wg_next_expiry(net.n[0].dev));
	ck_assert_uint_eq(net.qlen, 1);
	ck_assert(wgt_pop(&net, &retry));
	ck_assert_uint_eq(le32dec(retry.buf), WG_MSG_INITIATION);
	ck_assert(!sodium_is_zero(retry.buf + 132, 16));
	wgt_input(&net, 1, retry.buf, retry.len, &retry.src, &res);
	ck_assert_ptr_eq(res.peer, peer_of(1));
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	wgt_pump(&net, 100);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 1);
}
END_TEST

START_TEST(test_cookie_bad_mac1_no_reply)
{
	static const enum wg_load_mode modes[] = { WG_LOAD_FORCE_OFF, WG_LOAD_FORCE_ON,
						   WG_LOAD_AUTO };
	struct wgt_dgram ini, d;

	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	for (size_t m = 0; m < 3; m++) {
		wg_device_set_load_mode(net.n[1].dev, modes[m]);
		for (size_t i = 116; i < 132; i++) {
			d = ini;
			d.buf[i] ^= 0x04;
			expect_dropped(d.buf, d.len);
		}
		/* Any change to the body breaks mac1 too. */
		d = ini;
		d.buf[50] ^= 1;
		expect_dropped(d.buf, d.len);
	}
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 0);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 0);
}
END_TEST

START_TEST(test_cookie_bound_to_source)
{
	struct wgt_dgram ini, reply, retry;
	struct wg_result res;
	union endpoint other;

	wg_device_set_load_mode(net.n[1].dev, WG_LOAD_FORCE_ON);
	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	wgt_input(&net, 1, ini.buf, ini.len, &ini.src, &res);
	ck_assert(wgt_pop(&net, &reply));
	wgt_input(&net, 0, reply.buf, reply.len, &reply.src, &res);
	wgt_expire(&net, wg_next_expiry(net.n[0].dev));
	ck_assert(wgt_pop(&net, &retry));
	/* The same retry from another address: its mac2 does not fit there,
	 * so it gets a fresh cookie reply rather than a response. */
	endpoint_parse(&other, "198.51.100.77:999", false);
	wgt_input(&net, 1, retry.buf, retry.len, &other, &res);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 0);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 2);
	ck_assert(wgt_pop(&net, &reply));
	ck_assert(endpoint_eq(&reply.dst, &other));
}
END_TEST

START_TEST(test_load_auto_measures_handshake_rate)
{
	struct wgt_dgram ini, d;
	unsigned i;

	/* A valid-mac1 initiation repeated: after the first, each is a
	 * replay (dropped) until the rate crosses the threshold; then the
	 * device is under load and answers with cookie replies. */
	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	for (i = 0; i < WG_LOAD_HANDSHAKES_PER_SEC; i++) {
		struct wg_result res;

		d = ini;
		wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
		wgt_flush(&net);
		net.now += MSEC(1);
	}
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 0);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	d = ini;
	{
		struct wg_result res;

		wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	}
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 1);
	wgt_flush(&net);
	/* Load ends a second after the last burst. */
	net.now += SEC(2);
	d = ini;
	expect_dropped(d.buf, d.len);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_COOKIE), 1);
}
END_TEST

/* wg_peer_initiate_now: an early initiation when the layer above found a
 * path, past the REKEY_TIMEOUT limit but at most once a second, and never
 * with a usable session. */
START_TEST(test_initiate_now)
{
	mtime_ns t = net.now;

	/* a first initiation, lost */
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(wgt_sent(&net, 0, 1), 1);
	wgt_flush(&net);
	/* the plain path would wait REKEY_TIMEOUT: initiate_now does not */
	wgt_expire(&net, t + MSEC(1500));
	wg_peer_initiate_now(net.n[0].dev, peer_of(0), net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, 1), 2);
	/* again within WG_INITIATE_NOW_MIN_MS: nothing */
	wgt_expire(&net, t + MSEC(1500 + WG_INITIATE_NOW_MIN_MS - 1));
	wg_peer_initiate_now(net.n[0].dev, peer_of(0), net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, 1), 2);
	/* this one gets through: a session, then initiate_now is a no-op */
	wgt_pump(&net, 100);
	ck_assert_ptr_nonnull(peer_of(0)->current);
	wgt_expire(&net, t + SEC(4));
	wg_peer_initiate_now(net.n[0].dev, peer_of(0), net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, 1), 2);
}
END_TEST

Suite *suite_wg(void);

Suite *suite_wg(void)
{
	Suite *s = suite_create("wg");
	TCase *tc = tcase_create("input");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_input_datagram_wrong_lengths_dropped);
	tcase_add_test(tc, test_input_datagram_off_by_one_dropped);
	tcase_add_test(tc, test_input_datagram_reserved_nonzero_dropped);
	tcase_add_test(tc, test_input_datagram_data_unknown_receiver_dropped);
	tcase_add_test(tc, test_input_datagram_data_bad_tag_dropped);
	tcase_add_test(tc, test_input_datagram_data_replay_dropped);
	tcase_add_test(tc, test_input_datagram_cookie_reply_garbage_dropped);
	tcase_add_test(tc, test_cookie_reply_under_load);
	tcase_add_test(tc, test_cookie_bad_mac1_no_reply);
	tcase_add_test(tc, test_cookie_bound_to_source);
	tcase_add_test(tc, test_load_auto_measures_handshake_rate);
	tcase_add_test(tc, test_initiate_now);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_wg());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
