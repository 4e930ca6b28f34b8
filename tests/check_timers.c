/* Timers on a virtual clock: rekey, reject, retries with jitter, giving up,
 * keepalives (passive and persistent) and the final key wipe. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

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

/* Both sides exchange a packet every `step` until `until`, deliveries on. */
static void chat(mtime_ns until, mtime_ns step)
{
	while (net.now + step <= until) {
		wgt_advance(&net, net.now + step, true);
		wgt_send_ip(&net, 0, false, 10, NULL);
		wgt_pump(&net, 100);
		wgt_send_ip(&net, 1, false, 10, NULL);
		wgt_pump(&net, 100);
	}
}

START_TEST(test_timers_rekey_after_time)
{
	mtime_ns t0;
	struct wg_keypair *first;

	wgt_handshake(&net, 0);
	t0 = net.now;
	first = peer_of(0)->current;
	chat(t0 + SEC(REKEY_AFTER_TIME) - SEC(1), SEC(3));
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_INITIATION), 0);
	ck_assert_uint_eq(peer_of(0)->current->internal_id, first->internal_id);
	/* The first packet A sends after REKEY_AFTER_TIME starts a handshake. */
	wgt_advance(&net, t0 + SEC(REKEY_AFTER_TIME), true);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 2);
	wgt_pump(&net, 100);
	ck_assert_uint_ne(peer_of(0)->current->internal_id, first->internal_id);
	/* The responder never rekeys on time alone. */
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_INITIATION), 0);
}
END_TEST

static unsigned slots_held(int node)
{
	unsigned n = 0;

	for (int i = 0; i < 3; i++)
		n += peer_of(node)->slots[i] != NULL;
	return n;
}

/* Keypair memory: none before the first handshake, one per side after it,
 * at most three across rekeys, none again once the keys are zeroed. */
START_TEST(test_timers_keypair_memory)
{
	mtime_ns t0;

	ck_assert_uint_eq(slots_held(0), 0);
	ck_assert_uint_eq(slots_held(1), 0);
	wgt_handshake(&net, 0);
	ck_assert_uint_eq(slots_held(0), 1);
	ck_assert_uint_eq(slots_held(1), 1);
	t0 = net.now;
	chat(t0 + 3 * SEC(REKEY_AFTER_TIME), SEC(3));
	ck_assert_uint_ge(slots_held(0), 2);
	ck_assert_uint_le(slots_held(0), 3);
	ck_assert_uint_le(slots_held(1), 3);
	t0 = net.now;
	wgt_advance(&net, t0 + SEC(REJECT_AFTER_TIME * 3) + SEC(1), true);
	ck_assert_uint_eq(slots_held(0), 0);
	ck_assert_uint_eq(slots_held(1), 0);
	/* and a new session allocates again */
	wgt_handshake(&net, 1);
	ck_assert_uint_eq(slots_held(0), 1);
	ck_assert_ptr_nonnull(peer_of(1)->current);
}
END_TEST

/* Staged packets hold memory only while they wait: packets sent before the
 * first handshake are staged, then sent, and the ring is freed; an hour of
 * persistent keepalives (each staged, then sent) leaves nothing behind
 * (it used to keep a 2 KB buffer in each of the ring's 128 slots). */
START_TEST(test_timers_staged_memory)
{
	mtime_ns t0;

	ck_assert_ptr_null(peer_of(0)->staged);
	wgt_send_ip(&net, 0, false, 10, NULL);
	wgt_send_ip(&net, 0, false, 10, NULL);
	ck_assert_ptr_nonnull(peer_of(0)->staged);
	ck_assert_uint_eq(peer_of(0)->staged_count, 2);
	wgt_pump(&net, 100);
	ck_assert_ptr_nonnull(peer_of(0)->current);
	ck_assert_uint_eq(peer_of(0)->staged_count, 0);
	ck_assert_ptr_null(peer_of(0)->staged);
	ck_assert_uint_ge(wgt_sent(&net, 0, WG_MSG_DATA), 2);
	wg_peer_set_keepalive(net.n[0].dev, peer_of(0), 25, net.now);
	wg_peer_set_keepalive(net.n[1].dev, peer_of(1), 25, net.now);
	t0 = net.now;
	wgt_advance(&net, t0 + SEC(3600), true);
	ck_assert_uint_ge(wgt_sent(&net, 0, WG_MSG_DATA), 3600 / 25);
	ck_assert_ptr_null(peer_of(0)->staged);
	ck_assert_ptr_null(peer_of(1)->staged);
}
END_TEST

START_TEST(test_timers_rekey_on_receive_before_reject)
{
	mtime_ns t0, limit;

	wgt_handshake(&net, 0);
	t0 = net.now;
	limit = t0 + SEC(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT);
	/* Only B sends, and only keepalives (persistent, every 5 s), so A
	 * (the initiator) receives but never sends: only the receive-side
	 * rule can make it rekey. */
	wg_peer_set_keepalive(net.n[1].dev, peer_of(1), 5, net.now);
	wgt_advance(&net, limit - SEC(1), true);
	ck_assert_uint_ge(wgt_sent(&net, 1, WG_MSG_DATA), 30);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), 1);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	wgt_advance(&net, limit, true);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 2);
	ck_assert(peer_of(0)->timers.sent_lastminute_handshake == false);	/* completed */
	ck_assert_uint_eq(peer_of(0)->current->birth, limit);
}
END_TEST

START_TEST(test_timers_reject_after_time)
{
	mtime_ns t0;
	struct wgt_dgram d;
	struct wg_result res;

	wgt_handshake(&net, 0);
	t0 = net.now;
	/* A packet from B under the session, delivered late. */
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 10, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &d));
	wgt_advance(&net, t0 + SEC(REJECT_AFTER_TIME) - SEC(1), false);
	/* Still usable just before (B, the responder, does not rekey). */
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 10, NULL), WG_ACT_SEND);
	wgt_flush(&net);
	wgt_advance(&net, t0 + SEC(REJECT_AFTER_TIME), false);
	/* Not sent on the old keypair: staged, a handshake starts instead. */
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 10, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(net.qlen, 1);
	ck_assert_uint_eq(net.q[net.qhead].buf[0], WG_MSG_INITIATION);
	ck_assert_uint_eq(peer_of(1)->staged_count, 1);
	/* And nothing is accepted under it either. */
	wgt_input(&net, 0, d.buf, d.len, &d.src, &res);
	ck_assert_int_eq(res.act, WG_ACT_NONE);
	ck_assert_uint_eq(net.n[0].delivered, 0);
}
END_TEST

START_TEST(test_timers_retransmit_jitter_and_give_up)
{
	mtime_ns last;
	unsigned n;

	/* B is unreachable: nothing is ever delivered. */
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_NONE);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(peer_of(0)->staged_count, 2);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	wgt_flush(&net);
	last = net.now;
	for (n = 1;; n++) {
		mtime_ns next = wg_next_expiry(net.n[0].dev);

		ck_assert_uint_ne(next, MTIME_NEVER);
		ck_assert_uint_eq(next, peer_of(0)->timers.deadline[WG_TIMER_RETRANSMIT_HANDSHAKE]);
		ck_assert_uint_ge(next - last, SEC(REKEY_TIMEOUT));
		ck_assert_uint_le(next - last, SEC(REKEY_TIMEOUT) + MSEC(333));
		net.now = next;
		wg_handle_expiry(net.n[0].dev, net.now);
		wgt_flush(&net);
		if (wgt_sent(&net, 0, WG_MSG_INITIATION) == n)
			break;		/* gave up: nothing sent */
		ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), n + 1);
		last = net.now;
	}
	/* Kernel semantics: the first initiation, then retries while the
	 * attempt count is <= MAX_TIMER_HANDSHAKES; the next expiry (about
	 * REKEY_ATTEMPT_TIME + 2 * REKEY_TIMEOUT after the start) gives up. */
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), MAX_TIMER_HANDSHAKES + 2);
	ck_assert_uint_ge(net.now - SEC(1000), SEC(REKEY_ATTEMPT_TIME));
	ck_assert_uint_eq(peer_of(0)->staged_count, 0);
	ck_assert_uint_eq(peer_of(0)->timers.deadline[WG_TIMER_RETRANSMIT_HANDSHAKE], MTIME_NEVER);
	/* Only the key wipe is left; nothing more goes out. */
	ck_assert_uint_eq(wg_next_expiry(net.n[0].dev),
			  peer_of(0)->timers.deadline[WG_TIMER_ZERO_KEY_MATERIAL]);
	wgt_advance(&net, net.now + SEC(REJECT_AFTER_TIME * 3 + 10), true);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), MAX_TIMER_HANDSHAKES + 2);
	ck_assert_uint_eq(net.n[1].delivered, 0);
	ck_assert_uint_eq(wg_next_expiry(net.n[0].dev), MTIME_NEVER);
}
END_TEST

START_TEST(test_timers_retry_then_success)
{
	/* The first initiation is lost; the retry REKEY_TIMEOUT later works
	 * and the staged packet arrives. */
	wgt_send_ip(&net, 0, false, 10, NULL);
	wgt_flush(&net);
	wgt_advance(&net, net.now + SEC(REKEY_TIMEOUT) + MSEC(400), true);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 2);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	ck_assert_uint_eq(peer_of(0)->timers.handshake_attempts, 0);
	ck_assert_uint_eq(peer_of(0)->timers.deadline[WG_TIMER_RETRANSMIT_HANDSHAKE], MTIME_NEVER);
}
END_TEST

START_TEST(test_timers_passive_keepalive)
{
	mtime_ns t;
	unsigned ka;

	wgt_handshake(&net, 0);
	/* B got data during the handshake: its keepalive goes at +10 s. */
	wgt_advance(&net, net.now + SEC(KEEPALIVE_TIMEOUT) + SEC(1), true);
	ka = wgt_sent(&net, 1, WG_MSG_DATA);
	ck_assert_uint_eq(ka, 1);
	t = net.now;
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(peer_of(1)->timers.deadline[WG_TIMER_SEND_KEEPALIVE],
			  t + SEC(KEEPALIVE_TIMEOUT));
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT) - MSEC(1), true);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_DATA), ka);
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT), true);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_DATA), ka + 1);
	/* Nothing more while nothing more comes in. */
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT * 3), true);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_DATA), ka + 1);

	/* Data sent back in time cancels the keepalive. */
	t = net.now;
	wgt_send_ip(&net, 0, false, 10, NULL);
	wgt_pump(&net, 10);
	wgt_advance(&net, t + SEC(2), true);
	wgt_send_ip(&net, 1, false, 10, NULL);
	wgt_pump(&net, 10);
	ka = wgt_sent(&net, 1, WG_MSG_DATA);
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT) + SEC(1), true);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_DATA), ka);
}
END_TEST

START_TEST(test_timers_new_handshake_when_unanswered)
{
	mtime_ns t;

	wgt_handshake(&net, 0);
	wgt_advance(&net, net.now + SEC(1), true);
	t = net.now;
	/* A sends; B receives but everything B sends is lost. */
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_ge(peer_of(0)->timers.deadline[WG_TIMER_NEW_HANDSHAKE],
			  t + SEC(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT));
	ck_assert_uint_le(peer_of(0)->timers.deadline[WG_TIMER_NEW_HANDSHAKE],
			  t + SEC(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + MSEC(333));
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) - MSEC(1), false);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	wgt_advance(&net, t + SEC(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + MSEC(334), false);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 2);
}
END_TEST

START_TEST(test_timers_persistent_keepalive)
{
	mtime_ns t;
	unsigned ka;

	wgt_handshake(&net, 0);
	wgt_advance(&net, net.now + SEC(30), true);
	ka = wgt_sent(&net, 0, WG_MSG_DATA);
	t = net.now;
	/* Turning it on sends one at once. */
	wg_peer_set_keepalive(net.n[0].dev, peer_of(0), 25, net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), ka + 1);
	wgt_pump(&net, 10);
	/* (3 rounds: a 4th would cross REKEY_AFTER_TIME and rekey.) */
	for (int i = 1; i <= 3; i++) {
		wgt_advance(&net, t + SEC(25) * i - MSEC(1), true);
		ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), ka + i);
		wgt_advance(&net, t + SEC(25) * i, true);
		ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), ka + i + 1);
	}
	/* Setting the same interval again does not send; turning off stops. */
	wg_peer_set_keepalive(net.n[0].dev, peer_of(0), 25, net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), ka + 4);
	wg_peer_set_keepalive(net.n[0].dev, peer_of(0), 0, net.now);
	wgt_advance(&net, net.now + SEC(100), true);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_DATA), ka + 4);
}
END_TEST

START_TEST(test_timers_keys_zeroed_after_540s)
{
	mtime_ns t0;

	wgt_handshake(&net, 0);
	t0 = net.now;
	ck_assert_uint_eq(peer_of(0)->timers.deadline[WG_TIMER_ZERO_KEY_MATERIAL],
			  t0 + SEC(REJECT_AFTER_TIME * 3));
	wgt_advance(&net, t0 + SEC(REJECT_AFTER_TIME * 3) - MSEC(1), true);
	ck_assert_ptr_nonnull(peer_of(0)->current);
	ck_assert_ptr_nonnull(peer_of(1)->current);
	wgt_advance(&net, t0 + SEC(REJECT_AFTER_TIME * 3), true);
	ck_assert_ptr_null(peer_of(0)->current);
	ck_assert_ptr_null(peer_of(0)->previous);
	ck_assert_ptr_null(peer_of(0)->next);
	ck_assert_ptr_null(peer_of(1)->current);
	for (int i = 0; i < 3; i++) {		/* keypair memory freed too */
		ck_assert_ptr_null(peer_of(0)->slots[i]);
		ck_assert_ptr_null(peer_of(1)->slots[i]);
	}
	ck_assert_int_eq(peer_of(0)->hs.state, WG_HS_ZEROED);
	ck_assert_uint_eq(wg_next_expiry(net.n[0].dev), MTIME_NEVER);
	/* Traffic afterwards simply starts over. */
	wgt_handshake(&net, 1);
	ck_assert_uint_eq(net.n[0].delivered, 1);
}
END_TEST

Suite *suite_timers(void);

Suite *suite_timers(void)
{
	Suite *s = suite_create("timers");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timers_rekey_after_time);
	tcase_add_test(tc, test_timers_keypair_memory);
	tcase_add_test(tc, test_timers_staged_memory);
	tcase_add_test(tc, test_timers_rekey_on_receive_before_reject);
	tcase_add_test(tc, test_timers_reject_after_time);
	tcase_add_test(tc, test_timers_retransmit_jitter_and_give_up);
	tcase_add_test(tc, test_timers_retry_then_success);
	tcase_add_test(tc, test_timers_passive_keepalive);
	tcase_add_test(tc, test_timers_new_handshake_when_unanswered);
	tcase_add_test(tc, test_timers_persistent_keepalive);
	tcase_add_test(tc, test_timers_keys_zeroed_after_540s);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_timers());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
