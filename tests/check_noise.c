/* Noise_IKpsk2 handshake and the data path, end to end between two devices,
 * plus an independent re-derivation of the handshake from the whitepaper. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <blake2.h>
#include <check.h>
#include <sodium.h>

#include "util/endian.h"
#include "util/err.h"
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

START_TEST(test_handshake_a_initiates)
{
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 100, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	wgt_pump(&net, 100);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	/* The staged packet went out once the response arrived. */
	ck_assert_uint_eq(net.n[1].delivered, 1);
	ck_assert_uint_eq(net.n[1].last_len, 120);
	ck_assert_ptr_nonnull(peer_of(0)->current);
	ck_assert(peer_of(0)->current->i_am_initiator);
	/* B promoted its "next" keypair on the first data packet. */
	ck_assert_ptr_null(peer_of(1)->next);
	ck_assert_ptr_nonnull(peer_of(1)->current);
	ck_assert(!peer_of(1)->current->i_am_initiator);
	ck_assert_uint_ne(peer_of(0)->last_handshake.sec, 0);
	ck_assert_uint_ne(peer_of(1)->last_handshake.sec, 0);
}
END_TEST

START_TEST(test_handshake_b_initiates)
{
	ck_assert_int_eq(wgt_send_ip(&net, 1, true, 64, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_INITIATION), 1);
	wgt_pump(&net, 100);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_RESPONSE), 1);
	ck_assert_uint_eq(net.n[0].delivered, 1);
	ck_assert_uint_eq(net.n[0].last_len, 104);
	ck_assert(peer_of(1)->current->i_am_initiator);
	ck_assert_ptr_nonnull(peer_of(0)->current);
}
END_TEST

/* The node whose static public key is lower (sodium_compare): it keeps
 * its initiation when both initiate at once. */
static int lower_node(void)
{
	return sodium_compare(net.n[0].pub, net.n[1].pub, 32) < 0 ? 0 : 1;
}

/* Both ends initiate at the same instant: the lower key keeps initiating,
 * the higher answers, and the session is there after one round trip with
 * no retry (the clock never moves). Answering both ways would leave two
 * responders waiting REKEY_TIMEOUT. */
START_TEST(test_handshake_crossed_one_round_trip)
{
	int lo = lower_node(), hi = 1 - lo;
	mtime_ns t = net.now;

	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 100, NULL), WG_ACT_NONE);
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 100, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(net.qlen, 2);
	wgt_pump(&net, 100);
	ck_assert_uint_eq(net.now, t);
	ck_assert_uint_eq(wgt_sent(&net, lo, WG_MSG_RESPONSE), 0);
	ck_assert_uint_eq(wgt_sent(&net, hi, WG_MSG_RESPONSE), 1);
	ck_assert_uint_eq(wgt_sent(&net, hi, WG_MSG_INITIATION), 1);
	ck_assert_ptr_nonnull(peer_of(lo)->current);
	ck_assert(peer_of(lo)->current->i_am_initiator);
	ck_assert_ptr_nonnull(peer_of(hi)->current);
	ck_assert(!peer_of(hi)->current->i_am_initiator);
	ck_assert_ptr_null(peer_of(hi)->next);
	/* both staged packets went through */
	ck_assert_uint_eq(net.n[0].delivered, 1);
	ck_assert_uint_eq(net.n[1].delivered, 1);
}
END_TEST

/* The lower side's initiation is lost (the peer's NAT had no hole yet):
 * it sends the same initiation again, to where the peer's came from, and
 * the higher side answers that. */
START_TEST(test_handshake_crossed_lost_initiation_resent)
{
	int lo = lower_node(), hi = 1 - lo;
	struct wgt_dgram first, again;
	mtime_ns t = net.now;

	ck_assert_int_eq(wgt_send_ip(&net, lo, false, 100, NULL), WG_ACT_NONE);
	ck_assert(wgt_pop(&net, &first));
	ck_assert_int_eq(wgt_send_ip(&net, hi, false, 100, NULL), WG_ACT_NONE);
	ck_assert(wgt_deliver_one(&net));		/* hi's initiation to lo */
	ck_assert_uint_eq(wgt_sent(&net, lo, WG_MSG_RESPONSE), 0);
	ck_assert(wgt_pop(&net, &again));
	ck_assert_uint_eq(again.len, first.len);
	ck_assert_mem_eq(again.buf, first.buf, first.len);
	wgt_input(&net, hi, again.buf, again.len, &again.src, &(struct wg_result){ 0 });
	wgt_pump(&net, 100);
	ck_assert_uint_eq(net.now, t);
	ck_assert_ptr_nonnull(peer_of(lo)->current);
	ck_assert_ptr_nonnull(peer_of(hi)->current);
	ck_assert_uint_eq(net.n[0].delivered, 1);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	/* the copy is a replay once answered: no second response */
	wgt_input(&net, hi, first.buf, first.len, &first.src, &(struct wg_result){ 0 });
	ck_assert_uint_eq(wgt_sent(&net, hi, WG_MSG_RESPONSE), 1);
}
END_TEST

/* An initiation of ours older than REKEY_TIMEOUT is presumed lost: the
 * lower side answers the peer's as usual. So does the higher side always. */
START_TEST(test_handshake_crossed_stale_answered)
{
	int lo = lower_node(), hi = 1 - lo;
	struct wgt_dgram d;
	struct wg_result res;

	ck_assert_int_eq(wgt_send_ip(&net, lo, false, 100, NULL), WG_ACT_NONE);
	wgt_flush(&net);
	net.now += SEC(REKEY_TIMEOUT);
	net.wall_base += REKEY_TIMEOUT;
	ck_assert_int_eq(wgt_send_ip(&net, hi, false, 100, NULL), WG_ACT_NONE);
	ck_assert(wgt_pop(&net, &d));
	wgt_input(&net, lo, d.buf, d.len, &d.src, &res);
	ck_assert_ptr_eq(res.peer, peer_of(lo));
	ck_assert_uint_eq(wgt_sent(&net, lo, WG_MSG_RESPONSE), 1);
	ck_assert_ptr_nonnull(peer_of(lo)->next);
}
END_TEST

START_TEST(test_handshake_responder_next_until_data)
{
	struct wgt_dgram d;
	struct wg_result res;

	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);	/* starts a handshake */
	ck_assert(wgt_deliver_one(&net));			/* initiation -> B */
	ck_assert_ptr_nonnull(peer_of(1)->next);
	ck_assert_ptr_null(peer_of(1)->current);
	/* B has only "next": it cannot send with it, so data is staged. */
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 10, NULL), WG_ACT_NONE);
	ck_assert(wgt_deliver_one(&net));			/* response -> A */
	ck_assert(wgt_pop(&net, &d));				/* A's keepalive */
	ck_assert_uint_eq(d.len, 32);
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert_int_eq(res.act, WG_ACT_NONE);
	ck_assert_ptr_null(peer_of(1)->next);
	ck_assert_ptr_nonnull(peer_of(1)->current);
	/* Promotion flushed B's staged packet to A. */
	wgt_pump(&net, 10);
	ck_assert_uint_eq(net.n[0].delivered, 1);
}
END_TEST

static void exchange(bool v6, size_t payload)
{
	unsigned d0 = net.n[0].delivered, d1 = net.n[1].delivered;
	size_t hdr = v6 ? 40 : 20;

	ck_assert_int_eq(wgt_send_ip(&net, 0, v6, payload, NULL), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(net.n[1].delivered, d1 + 1);
	ck_assert_uint_eq(net.n[1].last_len, hdr + payload);
	ck_assert_uint_eq(net.n[1].last[0] >> 4, v6 ? 6 : 4);
	for (size_t i = 0; i < payload; i++)
		ck_assert_uint_eq(net.n[1].last[hdr + i], (uint8_t)(i * 7));
	ck_assert_int_eq(wgt_send_ip(&net, 1, v6, payload, NULL), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(net.n[0].delivered, d0 + 1);
	ck_assert_uint_eq(net.n[0].last_len, hdr + payload);
	for (size_t i = 0; i < payload; i++)
		ck_assert_uint_eq(net.n[0].last[hdr + i], (uint8_t)(i * 7 + 1));
}

START_TEST(test_data_both_ways_v4_v6)
{
	struct wg_peer_info ia, ib;

	wgt_handshake(&net, 0);
	exchange(false, 0);
	exchange(false, 1000);
	exchange(true, 0);
	exchange(true, 1300);
	wg_peer_get_info(peer_of(0), &ia);
	wg_peer_get_info(peer_of(1), &ib);
	/* Datagram bytes, both directions, handshakes included. */
	ck_assert_uint_eq(ia.tx_bytes, net.n[0].sent_bytes);
	ck_assert_uint_eq(ib.tx_bytes, net.n[1].sent_bytes);
	ck_assert_uint_eq(ia.rx_bytes, ib.tx_bytes);
	ck_assert_uint_eq(ib.rx_bytes, ia.tx_bytes);
}
END_TEST

START_TEST(test_data_padding_trimmed)
{
	wgt_handshake(&net, 0);
	for (size_t payload = 0; payload < 40; payload++) {
		struct wgt_dgram d;
		size_t len = 20 + payload;
		size_t padded = (len + 15) & ~(size_t)15;

		ck_assert_int_eq(wgt_send_ip(&net, 0, false, payload, NULL), WG_ACT_SEND);
		ck_assert_uint_eq(net.qlen, 1);
		ck_assert_uint_eq(net.q[net.qhead].len, 16 + padded + 16);
		ck_assert(wgt_deliver_one(&net));
		ck_assert_uint_eq(net.n[1].last_len, len);
		(void)d;
	}
	/* With an MTU the padding never grows a packet past it. */
	wg_device_set_mtu(net.n[0].dev, 1420);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 1395, NULL), WG_ACT_SEND);
	ck_assert_uint_eq(net.q[net.qhead].len, 16 + 1420 + 16);
	ck_assert(wgt_deliver_one(&net));
	ck_assert_uint_eq(net.n[1].last_len, 1415);
}
END_TEST

START_TEST(test_staged_queue_bounded)
{
	/* 130 packets queue up before the handshake even starts to complete: the oldest two go. */
	for (size_t k = 0; k < MAX_STAGED_PACKETS + 2; k++)
		ck_assert_int_eq(wgt_send_ip(&net, 0, false, k, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(peer_of(0)->staged_count, MAX_STAGED_PACKETS);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	wgt_pump(&net, 10000);
	ck_assert_uint_eq(net.n[1].delivered, MAX_STAGED_PACKETS);
	ck_assert_uint_eq(net.n[1].last_len, 20 + MAX_STAGED_PACKETS + 1);
	ck_assert_uint_eq(peer_of(0)->staged_count, 0);
}
END_TEST

START_TEST(test_psk_match)
{
	uint8_t psk[32];

	randombytes_buf(psk, sizeof psk);
	wg_peer_set_psk(peer_of(0), psk);
	wg_peer_set_psk(peer_of(1), psk);
	wgt_handshake(&net, 0);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	exchange(true, 77);
}
END_TEST

START_TEST(test_psk_mismatch_fails)
{
	uint8_t psk[32];

	randombytes_buf(psk, sizeof psk);
	wg_peer_set_psk(peer_of(0), psk);
	psk[0] ^= 1;
	wg_peer_set_psk(peer_of(1), psk);
	wgt_handshake(&net, 0);
	/* B answers (it cannot tell), A cannot authenticate the response. */
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	ck_assert_ptr_null(peer_of(0)->current);
	ck_assert_uint_eq(net.n[1].delivered, 0);
	/* Only one side with a PSK fails as well. */
	wg_peer_set_psk(peer_of(1), NULL);
	wgt_advance(&net, net.now + SEC(6), true);
	ck_assert_ptr_null(peer_of(0)->current);
	ck_assert_uint_eq(net.n[1].delivered, 0);
}
END_TEST

START_TEST(test_wrong_static_key_fails)
{
	uint8_t other[32], pub[32];
	struct wg_peer *p;

	/* B knows some other key instead of A's. */
	wg_peer_remove(net.n[1].dev, peer_of(1));
	randombytes_buf(other, sizeof other);
	other[0] &= 248;
	crypto_scalarmult_curve25519_base(pub, other);
	ck_assert_int_eq(wg_peer_add(net.n[1].dev, pub, net.now, &p), 0);
	net.n[1].peer = p;
	wgt_handshake(&net, 0);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 1);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 0);
	ck_assert_ptr_null(peer_of(0)->current);

	/* A initiating towards a key that is not B's: B cannot decrypt. */
	wg_peer_remove(net.n[1].dev, p);
	ck_assert_int_eq(wg_peer_add(net.n[1].dev, net.n[0].pub, net.now, &p), 0);
	net.n[1].peer = p;
	wg_peer_remove(net.n[0].dev, peer_of(0));
	ck_assert_int_eq(wg_peer_add(net.n[0].dev, pub, net.now, &p), 0);
	net.n[0].peer = p;
	wg_peer_set_endpoint(p, &net.n[1].addr);
	wg_send_keepalive(net.n[0].dev, p, net.now);
	ck_assert_uint_eq(wgt_sent(&net, 0, WG_MSG_INITIATION), 2);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 0);
}
END_TEST

START_TEST(test_initiation_replay_dropped)
{
	struct wgt_dgram d, copy;
	struct wg_result res;

	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &d));
	copy = d;
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	/* The same bytes again, even much later: timestamp not newer. */
	net.now += SEC(30);
	d = copy;
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	ck_assert_ptr_null(res.peer);
}
END_TEST

START_TEST(test_initiation_flood_dropped)
{
	struct wgt_dgram d;
	struct wg_result res;

	/* Two fresh initiations from A 10 ms apart: the second is too soon
	 * (1 s / INITIATIONS_PER_SECOND = 20 ms) even though its timestamp
	 * would be newer. */
	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &d));
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
	wgt_flush(&net);
	net.now += MSEC(10);
	net.wall_base += 1;	/* a strictly newer timestamp */
	peer_of(0)->timers.last_sent_handshake = MTIME_NEVER;
	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &d));
	ck_assert_uint_eq(d.buf[0], WG_MSG_INITIATION);
	wgt_input(&net, 1, d.buf, d.len, &d.src, &res);
	ck_assert_uint_eq(wgt_sent(&net, 1, WG_MSG_RESPONSE), 1);
}
END_TEST

START_TEST(test_keypair_rotation)
{
	struct wg_keypair *a1, *b1, *a2;
	uint64_t a1_id;
	struct wgt_dgram old;
	struct wg_result res;

	wgt_handshake(&net, 0);
	a1 = peer_of(0)->current;
	b1 = peer_of(1)->current;
	a1_id = a1->internal_id;
	ck_assert_ptr_nonnull(a1);
	ck_assert_ptr_nonnull(b1);
	ck_assert_uint_eq(a1->remote_index, b1->entry.id);
	ck_assert_uint_eq(b1->remote_index, a1->entry.id);
	/* a finished handshake keeps none of its transient state */
	ck_assert_int_eq(peer_of(0)->hs.state, WG_HS_ZEROED);
	ck_assert_ptr_null(peer_of(0)->hs.live);
	ck_assert_ptr_null(peer_of(1)->hs.live);

	/* A packet under the first session, held back. */
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 16, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &old));

	/* Second handshake, A again. */
	net.now += SEC(REKEY_TIMEOUT + 1);
	wg_send_handshake_initiation(net.n[0].dev, peer_of(0), false, net.now);
	ck_assert(wgt_deliver_one(&net));		/* initiation -> B */
	ck_assert_ptr_eq(peer_of(1)->current, b1);	/* B: new one is "next" */
	ck_assert_ptr_nonnull(peer_of(1)->next);
	ck_assert_ptr_ne(peer_of(1)->next, b1);
	ck_assert_ptr_null(peer_of(1)->previous);
	ck_assert(wgt_deliver_one(&net));		/* response -> A */
	a2 = peer_of(0)->current;
	ck_assert_ptr_ne(a2, a1);
	ck_assert_ptr_eq(peer_of(0)->previous, a1);	/* A: current -> previous */
	wgt_pump(&net, 10);				/* A's keepalive: B promotes */
	ck_assert_ptr_null(peer_of(1)->next);
	ck_assert_ptr_ne(peer_of(1)->current, b1);
	ck_assert_ptr_eq(peer_of(1)->previous, b1);

	/* The held-back packet under the previous keypair still decrypts. */
	wgt_input(&net, 1, old.buf, old.len, &old.src, &res);
	ck_assert_int_eq(res.act, WG_ACT_DELIVER);
	exchange(false, 50);

	/* A third handshake drops the oldest keypair for good. */
	net.now += SEC(REKEY_TIMEOUT + 1);
	wg_send_handshake_initiation(net.n[0].dev, peer_of(0), false, net.now);
	wgt_pump(&net, 10);
	ck_assert_ptr_eq(peer_of(0)->previous, a2);
	ck_assert_uint_ne(peer_of(0)->current->internal_id, a1_id);
	ck_assert_uint_ne(peer_of(0)->previous->internal_id, a1_id);
	exchange(true, 50);
}
END_TEST

START_TEST(test_roaming_moves_endpoint)
{
	union endpoint moved;
	struct wg_peer_info info;

	wgt_handshake(&net, 0);
	endpoint_parse(&moved, "203.0.113.9:4500", false);
	net.n[0].addr = moved;
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	wgt_pump(&net, 10);
	wg_peer_get_info(peer_of(1), &info);
	ck_assert(endpoint_eq(&info.endpoint, &moved));
	/* B's replies now go to the new address. */
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 10, NULL), WG_ACT_SEND);
	ck_assert(endpoint_eq(&net.q[net.qhead].dst, &moved));
}
END_TEST

START_TEST(test_roaming_not_on_forged_packet)
{
	union endpoint moved, before;
	struct wgt_dgram d;
	struct wg_result res;
	struct wg_peer_info info;

	wgt_handshake(&net, 0);
	wg_peer_get_info(peer_of(1), &info);
	before = info.endpoint;
	endpoint_parse(&moved, "203.0.113.9:4500", false);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &d));
	d.buf[d.len - 1] ^= 1;
	wgt_input(&net, 1, d.buf, d.len, &moved, &res);
	wg_peer_get_info(peer_of(1), &info);
	ck_assert(endpoint_eq(&info.endpoint, &before));
}
END_TEST

START_TEST(test_inner_source_not_allowed_dropped)
{
	static const uint8_t bad4[4] = { 10, 0, 0, 99 };
	static const uint8_t bad6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99 };
	static const uint8_t other_peer4[4] = { 10, 0, 0, 2 };	/* B's own: not A's */

	wgt_handshake(&net, 0);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, bad4), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_int_eq(wgt_send_ip(&net, 0, true, 10, bad6), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, other_peer4), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(net.n[1].delivered, 1);
	/* Widen A's allowed IPs on B: now accepted. */
	ck_assert_int_eq(wg_peer_allowedip_add(net.n[1].dev, peer_of(1), AF_INET, bad4, 32), 0);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, bad4), WG_ACT_SEND);
	wgt_pump(&net, 10);
	ck_assert_uint_eq(net.n[1].delivered, 2);
}
END_TEST

START_TEST(test_no_route_or_no_endpoint_dropped)
{
	alignas(8) uint8_t buf[WG_HEADROOM + 64 + WG_TAILROOM];
	struct wg_result res;

	memset(buf, 0, sizeof buf);
	buf[WG_HEADROOM] = 0x45;
	be16enc(buf + WG_HEADROOM + 2, 64);
	buf[WG_HEADROOM + 16] = 192;		/* 192.x: no peer */
	wg_input_tun(net.n[0].dev, buf, 64, sizeof buf, net.now, &res);
	ck_assert_int_eq(res.act, WG_ACT_NONE);
	ck_assert_uint_eq(net.qlen, 0);
	wg_peer_set_endpoint(peer_of(0), NULL);
	ck_assert_int_eq(wgt_send_ip(&net, 0, false, 10, NULL), WG_ACT_NONE);
	ck_assert_uint_eq(net.qlen, 0);
}
END_TEST

START_TEST(test_peer_api)
{
	uint8_t key[32], pub[32];
	struct wg_peer *p;
	int n = 0;

	ck_assert_int_eq(wg_peer_add(net.n[0].dev, net.n[1].pub, net.now, &p), MESHD_E_EXIST);
	ck_assert_ptr_eq(p, peer_of(0));
	ck_assert_int_eq(wg_peer_add(net.n[0].dev, net.n[0].pub, net.now, &p), MESHD_E_INVAL);
	ck_assert_ptr_eq(wg_peer_lookup(net.n[0].dev, net.n[1].pub), peer_of(0));
	for (p = wg_peer_next(net.n[0].dev, NULL); p; p = wg_peer_next(net.n[0].dev, p))
		n++;
	ck_assert_int_eq(n, 1);
	ck_assert(wg_device_get_private_key(net.n[0].dev, key));
	crypto_scalarmult_curve25519_base(pub, key);
	ck_assert_mem_eq(pub, net.n[0].pub, 32);
	/* Setting our key to the peer's key removes that peer. */
	ck_assert_int_eq(wg_device_set_private_key(net.n[0].dev, net.n[1].priv, net.now), 0);
	ck_assert_ptr_null(wg_peer_next(net.n[0].dev, NULL));
	memset(key, 0, sizeof key);
	ck_assert_int_eq(wg_device_set_private_key(net.n[0].dev, key, net.now), 0);
	ck_assert(!wg_device_get_public_key(net.n[0].dev, pub));
	ck_assert(wg_is_wg_datagram((const uint8_t *)"\x01\0\0\0", 4));
	ck_assert(!wg_is_wg_datagram((const uint8_t *)"\x05\0\0\0", 4));
	ck_assert(!wg_is_wg_datagram((const uint8_t *)"\x01\0\0\x01", 4));
	net.n[0].peer = NULL;
}
END_TEST

/* ---- Independent re-derivation from the whitepaper (§5.4.2, §5.4.3, §5.4.5),
 * with libb2 and libsodium called directly, not through the core. ---- */

static void H(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	blake2s_state s;

	blake2s_init(&s, 32);
	blake2s_update(&s, a, alen);
	blake2s_update(&s, b, blen);
	blake2s_final(&s, out, 32);
}

static void hmac(uint8_t out[32], const uint8_t key[32], const void *in, size_t inlen)
{
	uint8_t k[64] = { 0 }, ih[32];

	memcpy(k, key, 32);
	for (int i = 0; i < 64; i++)
		k[i] ^= 0x36;
	H(ih, k, 64, in, inlen);
	for (int i = 0; i < 64; i++)
		k[i] ^= 0x36 ^ 0x5c;
	H(out, k, 64, ih, 32);
}

/* KDF_n(key, input), n = 1..3 */
static void kdf(uint8_t *o1, uint8_t *o2, uint8_t *o3, const uint8_t ck[32], const void *in,
		size_t inlen)
{
	uint8_t t0[32], t[33], r1[32], r2[32];

	hmac(t0, ck, in, inlen);
	t[0] = 1;
	hmac(r1, t0, t, 1);
	memcpy(t, r1, 32);
	t[32] = 2;
	hmac(r2, t0, t, 33);
	if (o3) {
		memcpy(t, r2, 32);
		t[32] = 3;
		hmac(o3, t0, t, 33);
	}
	memcpy(o1, r1, 32);
	if (o2)
		memcpy(o2, r2, 32);
}

static int aead_open(uint8_t *out, const uint8_t *c, size_t clen, const uint8_t h[32],
		     const uint8_t key[32], uint64_t ctr)
{
	uint8_t nonce[12] = { 0 };

	le64enc(nonce + 4, ctr);
	return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, c, clen, h, h ? 32 : 0,
							 nonce, key);
}

START_TEST(test_handshake_matches_whitepaper)
{
	static const char cons[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char ident[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t psk[32], C[32], Hh[32], k[32], dh[32], s[32], ts[12], tau[32], mk[32], mac[16];
	uint8_t ti_send[32], ti_recv[32], epriv_i[32];
	uint8_t pkt[64];
	struct wgt_dgram ini, resp, data;
	struct wg_result res;
	const uint8_t *e;

	randombytes_buf(psk, sizeof psk);
	wg_peer_set_psk(peer_of(0), psk);
	wg_peer_set_psk(peer_of(1), psk);
	wg_send_keepalive(net.n[0].dev, peer_of(0), net.now);
	ck_assert(wgt_pop(&net, &ini));
	ck_assert_uint_eq(ini.len, 148);
	memcpy(epriv_i, peer_of(0)->hs.live->ephemeral_private, 32);

	/* Initiation, as the responder B computes it. */
	blake2s(C, cons, NULL, 32, strlen(cons), 0);
	H(Hh, C, 32, ident, strlen(ident));
	H(Hh, Hh, 32, net.n[1].pub, 32);
	e = ini.buf + 8;
	kdf(C, NULL, NULL, C, e, 32);
	H(Hh, Hh, 32, e, 32);
	ck_assert_int_eq(crypto_scalarmult_curve25519(dh, net.n[1].priv, e), 0);
	kdf(C, k, NULL, C, dh, 32);
	ck_assert_int_eq(aead_open(s, ini.buf + 40, 48, Hh, k, 0), 0);
	ck_assert_mem_eq(s, net.n[0].pub, 32);
	H(Hh, Hh, 32, ini.buf + 40, 48);
	ck_assert_int_eq(crypto_scalarmult_curve25519(dh, net.n[1].priv, net.n[0].pub), 0);
	kdf(C, k, NULL, C, dh, 32);
	ck_assert_int_eq(aead_open(ts, ini.buf + 88, 28, Hh, k, 0), 0);
	H(Hh, Hh, 32, ini.buf + 88, 28);
	/* TAI64N: 2^62 + 10 + seconds, nanoseconds whitened to 2^24. */
	ck_assert_uint_eq(be64dec(ts), 0x400000000000000aULL + net.wall_base + net.now / SEC(1));
	ck_assert_uint_eq(be32dec(ts + 8) & ((1u << 24) - 1), 0);
	/* mac1 = MAC(HASH("mac1----" || Spub_m'), msg_alpha) */
	H(mk, "mac1----", 8, net.n[1].pub, 32);
	blake2s(mac, ini.buf, mk, 16, 116, 32);
	ck_assert_mem_eq(mac, ini.buf + 116, 16);
	ck_assert(sodium_is_zero(ini.buf + 132, 16));

	/* Response from the real B. */
	wgt_input(&net, 1, ini.buf, ini.len, &ini.src, &res);
	ck_assert(wgt_pop(&net, &resp));
	ck_assert_uint_eq(resp.len, 92);
	ck_assert_uint_eq(le32dec(resp.buf + 8), le32dec(ini.buf + 4));
	e = resp.buf + 12;
	kdf(C, NULL, NULL, C, e, 32);
	H(Hh, Hh, 32, e, 32);
	ck_assert_int_eq(crypto_scalarmult_curve25519(dh, epriv_i, e), 0);
	kdf(C, NULL, NULL, C, dh, 32);
	ck_assert_int_eq(crypto_scalarmult_curve25519(dh, net.n[0].priv, e), 0);
	kdf(C, NULL, NULL, C, dh, 32);
	kdf(C, tau, k, C, psk, 32);
	H(Hh, Hh, 32, tau, 32);
	ck_assert_int_eq(aead_open(NULL, resp.buf + 44, 16, Hh, k, 0), 0);
	H(mk, "mac1----", 8, net.n[0].pub, 32);
	blake2s(mac, resp.buf, mk, 16, 60, 32);
	ck_assert_mem_eq(mac, resp.buf + 60, 16);

	/* Transport keys: (T_send_i, T_recv_i) = KDF2(C, empty). */
	kdf(ti_send, ti_recv, NULL, C, NULL, 0);
	wgt_input(&net, 0, resp.buf, resp.len, &resp.src, &res);
	ck_assert(wgt_pop(&net, &data));		/* A's keepalive, counter 0 */
	ck_assert_uint_eq(data.len, 32);
	ck_assert_uint_eq(le32dec(data.buf), 4);
	ck_assert_uint_eq(le32dec(data.buf + 4), le32dec(resp.buf + 4));
	ck_assert_uint_eq(le64dec(data.buf + 8), 0);
	ck_assert_int_eq(aead_open(pkt, data.buf + 16, 16, NULL, ti_send, 0), 0);
	/* And the other direction with T_recv_i. */
	wgt_input(&net, 1, data.buf, data.len, &data.src, &res);
	ck_assert_int_eq(wgt_send_ip(&net, 1, false, 5, NULL), WG_ACT_SEND);
	ck_assert(wgt_pop(&net, &data));
	ck_assert_uint_eq(data.len, 16 + 32 + 16);
	ck_assert_int_eq(aead_open(pkt, data.buf + 16, 48, NULL, ti_recv, 0), 0);
	ck_assert_uint_eq(pkt[0], 0x45);
	ck_assert_uint_eq(be16dec(pkt + 2), 25);
	ck_assert(sodium_is_zero(pkt + 25, 7));		/* zero padding to 32 */
}
END_TEST

Suite *suite_noise(void);

Suite *suite_noise(void)
{
	Suite *s = suite_create("noise");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_handshake_a_initiates);
	tcase_add_test(tc, test_handshake_b_initiates);
	tcase_add_test(tc, test_handshake_crossed_one_round_trip);
	tcase_add_test(tc, test_handshake_crossed_lost_initiation_resent);
	tcase_add_test(tc, test_handshake_crossed_stale_answered);
	tcase_add_test(tc, test_handshake_responder_next_until_data);
	tcase_add_test(tc, test_handshake_matches_whitepaper);
	tcase_add_test(tc, test_data_both_ways_v4_v6);
	tcase_add_test(tc, test_data_padding_trimmed);
	tcase_add_test(tc, test_staged_queue_bounded);
	tcase_add_test(tc, test_psk_match);
	tcase_add_test(tc, test_psk_mismatch_fails);
	tcase_add_test(tc, test_wrong_static_key_fails);
	tcase_add_test(tc, test_initiation_replay_dropped);
	tcase_add_test(tc, test_initiation_flood_dropped);
	tcase_add_test(tc, test_keypair_rotation);
	tcase_add_test(tc, test_roaming_moves_endpoint);
	tcase_add_test(tc, test_roaming_not_on_forged_packet);
	tcase_add_test(tc, test_inner_source_not_allowed_dropped);
	tcase_add_test(tc, test_no_route_or_no_endpoint_dropped);
	tcase_add_test(tc, test_peer_api);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_noise());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
