/* Relay layer (mesh/relay.h): RELAY/RELAYED codec and strict decoding, the
 * relay's forwarding rules and limits, the receiving and sending sides, the
 * synthetic endpoint table, and an in-memory three-device WireGuard scenario
 * (A and B reach only R) where a handshake and data cross R both ways. */
#include <arpa/inet.h>
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/relay.h"
#include "util/endian.h"
#include "util/err.h"
#include "wg/wg.h"

enum { NOW0 = 1000 };

/* ---- a fake member table for the unit cases ---- */

enum { FM_MAX = 4 };

struct fake_members {
	size_t n;
	uint8_t id[FM_MAX][MESH_NODE_ID_LEN];
	union endpoint ep[FM_MAX];
	bool live[FM_MAX];
	bool relay[FM_MAX];
};

static struct fake_members fm;

static int fm_find(const struct fake_members *f, const uint8_t id[MESH_NODE_ID_LEN])
{
	for (size_t i = 0; i < f->n; i++)
		if (memcmp(f->id[i], id, MESH_NODE_ID_LEN) == 0)
			return (int)i;
	return -1;
}

static unsigned fm_at_calls;	/* member_at walks: the costly lookup */

static bool fm_member_at(void *ctx, const union endpoint *src, uint8_t id[MESH_NODE_ID_LEN])
{
	struct fake_members *f = ctx;

	fm_at_calls++;

	for (size_t i = 0; i < f->n; i++)
		if (f->live[i] && endpoint_eq(&f->ep[i], src)) {
			memcpy(id, f->id[i], MESH_NODE_ID_LEN);
			return true;
		}
	return false;
}

static bool fm_member_endpoint(void *ctx, const uint8_t id[MESH_NODE_ID_LEN],
    union endpoint *out)
{
	struct fake_members *f = ctx;
	int i = fm_find(f, id);

	if (i < 0 || !f->live[i] || !endpoint_is_set(&f->ep[i]))
		return false;
	*out = f->ep[i];
	return true;
}

static bool fm_is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	struct fake_members *f = ctx;
	int i = fm_find(f, id);

	return i >= 0 && f->relay[i];
}

/* members: 0 = A, 1 = B, 2 = R (a relay), 3 = C (not live) */
enum { M_A, M_B, M_R, M_C };
static const char *const fm_addr[FM_MAX] = {
	"192.0.2.1:51820", "[2001:db8::2]:51821", "203.0.113.3:51820", "198.51.100.4:4000",
};

static void fm_setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	memset(&fm, 0, sizeof fm);
	fm_at_calls = 0;
	fm.n = FM_MAX;
	for (int i = 0; i < FM_MAX; i++) {
		memset(fm.id[i], 0xa0 + i, MESH_NODE_ID_LEN);
		ck_assert_int_eq(endpoint_parse(&fm.ep[i], fm_addr[i], false), 0);
		fm.live[i] = i != M_C;
	}
	fm.relay[M_R] = true;
}

static struct mesh_relay *relay_new(bool offer, uint64_t bps, uint64_t bburst)
{
	struct mesh_relay_cfg cfg = {
		.member_at = fm_member_at,
		.member_endpoint = fm_member_endpoint,
		.is_relay = fm_is_relay,
		.ctx = &fm,
		.offer = offer,
		.bytes_per_s = bps,
		.bytes_burst = bburst,
	};
	struct mesh_relay *r;
	int err = 1;

	r = mesh_relay_new(&cfg, &err);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(err, 0);
	return r;
}

/* A fake WireGuard data message of n bytes (type 4, three zero bytes). */
static void fake_wg(uint8_t *p, size_t n, uint8_t fill)
{
	memset(p, fill, n);
	p[0] = 4;
	p[1] = p[2] = p[3] = 0;
}

/* RELAY from member `from` to member `to` with a WireGuard-looking inner. */
static size_t relay_msg(uint8_t *out, size_t cap, int to, size_t inner_len)
{
	uint8_t inner[MESH_RELAY_INNER_MAX];
	size_t n;

	fake_wg(inner, inner_len, 0x5a);
	n = mesh_relay_encode(MESH_MSG_RELAY, fm.id[to], inner, inner_len, out, cap);
	ck_assert_uint_eq(n, MESH_RELAY_HDR_LEN + inner_len);
	return n;
}

/* ---- codec ---- */

START_TEST(test_relay_codec_round_trip)
{
	static const uint8_t types[] = { MESH_MSG_RELAY, MESH_MSG_RELAYED };
	uint8_t inner[MESH_RELAY_INNER_MAX], buf[MESH_RELAY_DGRAM_MAX];
	struct mesh_relay_msg m;

	for (size_t t = 0; t < 2; t++) {
		static const size_t lens[] = { MESH_RELAY_INNER_MIN, 32, 148, MESH_RELAY_INNER_MAX };

		for (size_t l = 0; l < 4; l++) {
			size_t n;

			fake_wg(inner, lens[l], (uint8_t)l);
			n = mesh_relay_encode(types[t], fm.id[M_B], inner, lens[l], buf, sizeof buf);
			ck_assert_uint_eq(n, MESH_RELAY_HDR_LEN + lens[l]);
			ck_assert_uint_eq(buf[0], 'M');
			ck_assert_uint_eq(buf[1], types[t]);
			ck_assert(mesh_msg_is_mesh(buf, n));
			ck_assert_int_eq(mesh_relay_decode(buf, n, &m), 0);
			ck_assert_uint_eq(m.type, types[t]);
			ck_assert_mem_eq(m.id, fm.id[M_B], MESH_NODE_ID_LEN);
			ck_assert_uint_eq(m.inner_len, lens[l]);
			ck_assert_ptr_eq(m.inner, buf + MESH_RELAY_HDR_LEN);
			ck_assert_mem_eq(m.inner, inner, lens[l]);
		}
	}
	ck_assert_str_eq(mesh_msg_type_name(MESH_MSG_RELAY), "relay");
	ck_assert_str_eq(mesh_msg_type_name(MESH_MSG_RELAYED), "relayed");
}
END_TEST

START_TEST(test_relay_encode_in_place)
{
	uint8_t buf[MESH_RELAY_HDR_LEN + 64], ref[64];
	struct mesh_relay_msg m;

	fake_wg(ref, sizeof ref, 0x33);
	memcpy(buf + MESH_RELAY_HDR_LEN, ref, sizeof ref);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_RELAY, fm.id[M_A], buf + MESH_RELAY_HDR_LEN,
	    sizeof ref, buf, sizeof buf), sizeof buf);
	ck_assert_int_eq(mesh_relay_decode(buf, sizeof buf, &m), 0);
	ck_assert_mem_eq(m.inner, ref, sizeof ref);
}
END_TEST

START_TEST(test_relay_encode_rejects)
{
	uint8_t inner[MESH_RELAY_INNER_MAX + 1], buf[MESH_RELAY_DGRAM_MAX + 1];

	fake_wg(inner, sizeof inner, 1);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_PROBE, fm.id[0], inner, 32, buf, sizeof buf), 0);
	ck_assert_uint_eq(mesh_relay_encode(0, fm.id[0], inner, 32, buf, sizeof buf), 0);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_RELAY, fm.id[0], inner,
	    MESH_RELAY_INNER_MIN - 1, buf, sizeof buf), 0);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_RELAY, fm.id[0], inner,
	    MESH_RELAY_INNER_MAX + 1, buf, sizeof buf), 0);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_RELAY, fm.id[0], inner, 32, buf,
	    MESH_RELAY_HDR_LEN + 31), 0);
	ck_assert_uint_eq(mesh_relay_encode(MESH_MSG_RELAY, fm.id[0], inner, 32, buf,
	    MESH_RELAY_HDR_LEN + 32), MESH_RELAY_HDR_LEN + 32);
}
END_TEST

START_TEST(test_relay_decode_every_truncation)
{
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	struct mesh_relay_msg m;
	size_t n = relay_msg(buf, sizeof buf, M_B, 96);

	for (size_t len = 0; len <= n; len++) {
		int r = mesh_relay_decode(buf, len, &m);

		if (len < MESH_RELAY_HDR_LEN + MESH_RELAY_INNER_MIN) {
			ck_assert_msg(r == MESHD_E_PROTO, "len %zu: %d", len, r);
			ck_assert_ptr_null(m.inner);
		} else {
			/* the inner datagram is opaque: shorter is still well framed */
			ck_assert_msg(r == 0, "len %zu: %d", len, r);
			ck_assert_uint_eq(m.inner_len, len - MESH_RELAY_HDR_LEN);
		}
	}
}
END_TEST

START_TEST(test_relay_decode_wrong_magic_type_oversize)
{
	uint8_t buf[MESH_RELAY_DGRAM_MAX + 1];
	struct mesh_relay_msg m;
	size_t n = relay_msg(buf, sizeof buf, M_B, 64);

	for (unsigned t = 0; t < 256; t++) {
		buf[1] = (uint8_t)t;
		ck_assert_int_eq(mesh_relay_decode(buf, n, &m),
		    t == MESH_MSG_RELAY || t == MESH_MSG_RELAYED ? 0 : MESHD_E_PROTO);
	}
	buf[1] = MESH_MSG_RELAY;
	buf[0] = 'm';
	ck_assert_int_eq(mesh_relay_decode(buf, n, &m), MESHD_E_PROTO);
	buf[0] = 4;	/* a WireGuard type byte */
	ck_assert_int_eq(mesh_relay_decode(buf, n, &m), MESHD_E_PROTO);

	n = relay_msg(buf, sizeof buf, M_B, MESH_RELAY_INNER_MAX);
	ck_assert_int_eq(mesh_relay_decode(buf, n, &m), 0);
	buf[n] = 0;
	ck_assert_int_eq(mesh_relay_decode(buf, n + 1, &m), MESHD_E_RANGE);
}
END_TEST

/* ---- forwarding rules (R side) ---- */

START_TEST(test_relay_forward_rewrites_in_place)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	struct mesh_relay_stats st;
	uint8_t buf[MESH_RELAY_DGRAM_MAX], orig[MESH_RELAY_DGRAM_MAX];
	union endpoint to;
	struct mesh_relay_msg m;
	size_t n = relay_msg(buf, sizeof buf, M_B, 148);

	memcpy(orig, buf, n);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), 0);
	ck_assert(endpoint_eq(&to, &fm.ep[M_B]));
	ck_assert_int_eq(mesh_relay_decode(buf, n, &m), 0);
	ck_assert_uint_eq(m.type, MESH_MSG_RELAYED);
	ck_assert_mem_eq(m.id, fm.id[M_A], MESH_NODE_ID_LEN);
	ck_assert_mem_eq(m.inner, orig + MESH_RELAY_HDR_LEN, 148);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.forwarded, 1);
	ck_assert_uint_eq(st.forwarded_bytes, n);
	mesh_relay_free(r);
}
END_TEST

/* One line per refusal: the source endpoint, the dst member, how to spoil
 * the datagram, the expected code and which counter moves. */
enum spoil { SP_NONE, SP_NOT_WG, SP_MESH_INNER, SP_RELAYED, SP_SHORT };

static void forward_case(const char *src, int dst, enum spoil sp, int want,
    size_t stat_off, int line)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	struct mesh_relay_stats st;
	uint8_t buf[MESH_RELAY_DGRAM_MAX], orig[MESH_RELAY_DGRAM_MAX];
	uint8_t unknown[MESH_NODE_ID_LEN];
	union endpoint s, to;
	uint64_t cnt;
	size_t n;

	ck_assert_int_eq(endpoint_parse(&s, src, false), 0);
	if (dst >= 0) {
		n = relay_msg(buf, sizeof buf, dst, 96);
	} else {
		uint8_t inner[96];

		memset(unknown, 0x77, sizeof unknown);
		fake_wg(inner, sizeof inner, 1);
		n = mesh_relay_encode(MESH_MSG_RELAY, unknown, inner, sizeof inner, buf, sizeof buf);
	}
	if (sp == SP_NOT_WG)
		buf[MESH_RELAY_HDR_LEN] = 5;
	else if (sp == SP_MESH_INNER)
		buf[MESH_RELAY_HDR_LEN] = MESH_MSG_MAGIC;
	else if (sp == SP_RELAYED)
		buf[1] = MESH_MSG_RELAYED;
	else if (sp == SP_SHORT)
		n = MESH_RELAY_HDR_LEN + 3;
	memcpy(orig, buf, n);
	ck_assert_msg(mesh_relay_forward(r, buf, n, &s, SEC(NOW0), &to) == want,
	    "case at line %d", line);
	ck_assert_msg(memcmp(orig, buf, n) == 0, "buffer changed, line %d", line);
	mesh_relay_get_stats(r, &st);
	memcpy(&cnt, (const uint8_t *)&st + stat_off, sizeof cnt);
	ck_assert_msg(cnt == 1, "counter %llu, line %d", (unsigned long long)cnt, line);
	ck_assert_uint_eq(st.forwarded, 0);
	mesh_relay_free(r);
}

#define FWD(src, dst, sp, want, field) \
	forward_case(src, dst, sp, want, offsetof(struct mesh_relay_stats, field), __LINE__)

START_TEST(test_relay_forward_refusals)
{
	/* forged / unknown sources */
	FWD("192.0.2.99:51820", M_B, SP_NONE, MESHD_E_PERM, drop_source);
	FWD("192.0.2.1:51821", M_B, SP_NONE, MESHD_E_PERM, drop_source);	/* A's ip, other port */
	FWD("198.51.100.4:4000", M_B, SP_NONE, MESHD_E_PERM, drop_source);	/* C: no session */
	/* destinations */
	FWD("192.0.2.1:51820", -1, SP_NONE, MESHD_E_NOENT, drop_dst);		/* unknown */
	FWD("192.0.2.1:51820", M_A, SP_NONE, MESHD_E_NOENT, drop_dst);	/* dst == src */
	FWD("192.0.2.1:51820", M_C, SP_NONE, MESHD_E_NOENT, drop_dst);	/* no session */
	/* payloads */
	FWD("192.0.2.1:51820", M_B, SP_NOT_WG, MESHD_E_PERM, drop_payload);
	FWD("192.0.2.1:51820", M_B, SP_MESH_INNER, MESHD_E_PERM, drop_payload);
	/* framing */
	FWD("192.0.2.1:51820", M_B, SP_RELAYED, MESHD_E_PROTO, drop_malformed);
	FWD("192.0.2.1:51820", M_B, SP_SHORT, MESHD_E_PROTO, drop_malformed);
}
END_TEST

START_TEST(test_relay_forward_dst_behind_relay)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint to;
	size_t n = relay_msg(buf, sizeof buf, M_B, 64);

	/* we reach B only through another relay: never relay twice */
	mesh_relay_synth_make(r, fm.id[M_C], fm.id[M_B], SEC(NOW0), &fm.ep[M_B]);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to),
	    MESHD_E_NOENT);
	mesh_relay_free(r);
}
END_TEST

START_TEST(test_relay_forward_not_offered)
{
	struct mesh_relay *r = relay_new(false, 0, 0);
	struct mesh_relay_stats st;
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint to;
	size_t n = relay_msg(buf, sizeof buf, M_B, 64);

	ck_assert(!mesh_relay_offers(r));
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), MESHD_E_PERM);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.drop_not_offered, 1);
	mesh_relay_set_offer(r, true);
	ck_assert(mesh_relay_offers(r));
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), 0);
	mesh_relay_free(r);
}
END_TEST

static unsigned forward_burst(struct mesh_relay *r, int from, int to, unsigned tries,
    mtime_ns now)
{
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint dst;
	unsigned ok = 0;

	for (unsigned i = 0; i < tries; i++) {
		size_t n = relay_msg(buf, sizeof buf, to, 100);

		ok += mesh_relay_forward(r, buf, n, &fm.ep[from], now, &dst) == 0;
	}
	return ok;
}

START_TEST(test_relay_ratelimit_per_source)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	struct mesh_relay_stats st;
	mtime_ns t = SEC(NOW0);

	const unsigned over = MESH_RELAY_SRC_BURST + 50, per_10ms = MESH_RELAY_SRC_PPS / 100;

	/* the burst, then nothing at the same instant */
	ck_assert_uint_eq(forward_burst(r, M_A, M_B, over, t), MESH_RELAY_SRC_BURST);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.drop_ratelimit, over - MESH_RELAY_SRC_BURST);
	/* another source is not affected */
	ck_assert_uint_eq(forward_burst(r, M_B, M_A, 10, t), 10);
	/* 10 ms refill 1/100 of the rate */
	t += MSEC(10);
	ck_assert_uint_eq(forward_burst(r, M_A, M_B, per_10ms + 50, t), per_10ms);
	/* idle long enough: full burst again, not more */
	t += SEC(10);
	ck_assert_uint_eq(forward_burst(r, M_A, M_B, over, t), MESH_RELAY_SRC_BURST);
	mesh_relay_free(r);
}
END_TEST

START_TEST(test_relay_global_byte_budget)
{
	/* 118-byte datagrams; budget 11800 B/s, burst 1180 B = 10 datagrams */
	struct mesh_relay *r = relay_new(true, 11800, 1180);
	struct mesh_relay_stats st;
	mtime_ns t = SEC(NOW0);

	ck_assert_uint_eq(forward_burst(r, M_A, M_B, 8, t), 8);
	ck_assert_uint_eq(forward_burst(r, M_B, M_A, 8, t), 2);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.drop_budget, 6);
	ck_assert_uint_eq(st.drop_ratelimit, 0);
	/* 50 ms refill 590 bytes: 5 more datagrams */
	t += MSEC(50);
	ck_assert_uint_eq(forward_burst(r, M_B, M_A, 8, t), 5);
	mesh_relay_free(r);
}
END_TEST

/* ---- receiving side (B) ---- */

static size_t relayed_msg(uint8_t *out, size_t cap, int origin, size_t inner_len)
{
	uint8_t inner[MESH_RELAY_INNER_MAX];

	fake_wg(inner, inner_len, 0x6b);
	return mesh_relay_encode(MESH_MSG_RELAYED, fm.id[origin], inner, inner_len, out, cap);
}

START_TEST(test_relay_receive_accepts_from_relay)
{
	struct mesh_relay *r = relay_new(false, 0, 0);
	alignas(8) uint8_t buf[MESH_RELAY_DGRAM_MAX];
	uint8_t inner[80], rid[MESH_NODE_ID_LEN], pid[MESH_NODE_ID_LEN];
	union endpoint synth, synth2;
	struct mesh_relay_stats st;
	size_t n = relayed_msg(buf, sizeof buf, M_A, sizeof inner), il;

	fake_wg(inner, sizeof inner, 0x6b);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &il, &synth), 0);
	ck_assert_uint_eq(il, sizeof inner);
	ck_assert_mem_eq(buf, inner, sizeof inner);
	ck_assert(mesh_relay_is_synth(&synth));
	ck_assert_uint_eq(ntohs(synth.sin6.sin6_port), MESH_RELAY_SYNTH_PORT);
	ck_assert(mesh_relay_synth_lookup(r, &synth, SEC(NOW0), rid, pid));
	ck_assert_mem_eq(rid, fm.id[M_R], MESH_NODE_ID_LEN);
	ck_assert_mem_eq(pid, fm.id[M_A], MESH_NODE_ID_LEN);
	/* the same pair maps to the same endpoint (WireGuard's roaming stays put) */
	n = relayed_msg(buf, sizeof buf, M_A, sizeof inner);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0 + 1), &il, &synth2), 0);
	ck_assert(endpoint_eq(&synth, &synth2));
	ck_assert_uint_eq(mesh_relay_synth_count(r), 1);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.received, 2);
	mesh_relay_free(r);
}
END_TEST

START_TEST(test_relay_receive_refusals)
{
	struct mesh_relay *r = relay_new(false, 0, 0);
	alignas(8) uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint synth, stranger;
	struct mesh_relay_stats st;
	size_t n, il;

	/* from A: a member, but not one of our relays */
	n = relayed_msg(buf, sizeof buf, M_B, 64);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_A], SEC(NOW0), &il, &synth),
	    MESHD_E_PERM);
	/* from nobody we know */
	ck_assert_int_eq(endpoint_parse(&stranger, "203.0.113.3:9999", false), 0);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &stranger, SEC(NOW0), &il, &synth),
	    MESHD_E_PERM);
	/* a relay claiming to be the origin */
	n = relayed_msg(buf, sizeof buf, M_R, 64);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &il, &synth),
	    MESHD_E_PERM);
	/* not WireGuard inside */
	n = relayed_msg(buf, sizeof buf, M_A, 64);
	buf[MESH_RELAY_HDR_LEN] = 9;
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &il, &synth),
	    MESHD_E_PROTO);
	/* a RELAY (not RELAYED) */
	n = relay_msg(buf, sizeof buf, M_A, 64);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &il, &synth),
	    MESHD_E_PROTO);
	/* the relay lost its session */
	fm.live[M_R] = false;
	n = relayed_msg(buf, sizeof buf, M_A, 64);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &il, &synth),
	    MESHD_E_PERM);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.drop_rx, 6);
	ck_assert_uint_eq(st.received, 0);
	ck_assert_uint_eq(mesh_relay_synth_count(r), 0);
	mesh_relay_free(r);
}
END_TEST

/* ---- sending side (A) ---- */

START_TEST(test_relay_wrap)
{
	struct mesh_relay *r = relay_new(false, 0, 0);
	uint8_t inner[120], out[MESH_RELAY_DGRAM_MAX];
	union endpoint synth, to, plain;
	struct mesh_relay_msg m;
	struct mesh_relay_stats st;
	size_t n;

	fake_wg(inner, sizeof inner, 0x42);
	mesh_relay_synth_make(r, fm.id[M_R], fm.id[M_B], SEC(NOW0), &synth);
	n = mesh_relay_wrap(r, &synth, inner, sizeof inner, out, sizeof out, SEC(NOW0), &to);
	ck_assert_uint_eq(n, MESH_RELAY_HDR_LEN + sizeof inner);
	ck_assert(endpoint_eq(&to, &fm.ep[M_R]));
	ck_assert_int_eq(mesh_relay_decode(out, n, &m), 0);
	ck_assert_uint_eq(m.type, MESH_MSG_RELAY);
	ck_assert_mem_eq(m.id, fm.id[M_B], MESH_NODE_ID_LEN);
	ck_assert_mem_eq(m.inner, inner, sizeof inner);
	/* not synthetic, a handle never issued, a wrong port, too small a buffer */
	ck_assert_int_eq(endpoint_parse(&plain, "[100::7]:1", false), 0);
	ck_assert_uint_eq(mesh_relay_wrap(r, &plain, inner, sizeof inner, out, sizeof out,
	    SEC(NOW0), &to), 0);
	plain = synth;
	plain.sin6.sin6_port = htons(2);
	ck_assert_uint_eq(mesh_relay_wrap(r, &plain, inner, sizeof inner, out, sizeof out,
	    SEC(NOW0), &to), 0);
	ck_assert_uint_eq(mesh_relay_wrap(r, &fm.ep[M_B], inner, sizeof inner, out, sizeof out,
	    SEC(NOW0), &to), 0);
	ck_assert_uint_eq(mesh_relay_wrap(r, &synth, inner, sizeof inner, out, 100,
	    SEC(NOW0), &to), 0);
	/* the relay has no session: nothing to send to */
	fm.live[M_R] = false;
	ck_assert_uint_eq(mesh_relay_wrap(r, &synth, inner, sizeof inner, out, sizeof out,
	    SEC(NOW0), &to), 0);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.wrapped, 1);
	ck_assert_uint_eq(st.drop_tx, 5);
	mesh_relay_free(r);
}
END_TEST

/* ---- synthetic endpoint table ---- */

START_TEST(test_relay_synth_table_eviction)
{
	struct mesh_relay *r = relay_new(false, 0, 0);
	union endpoint ep[MESH_RELAY_SYNTH_MAX + 1], again;
	uint8_t rid[MESH_NODE_ID_LEN], pid[MESH_NODE_ID_LEN], want[MESH_NODE_ID_LEN];
	struct mesh_relay_stats st;

	for (unsigned i = 0; i < MESH_RELAY_SYNTH_MAX; i++) {
		memset(pid, 0, sizeof pid);
		pid[0] = (uint8_t)i;
		mesh_relay_synth_make(r, fm.id[M_R], pid, SEC(NOW0 + i), &ep[i]);
		for (unsigned j = 0; j < i; j++)
			ck_assert(!endpoint_eq(&ep[i], &ep[j]));
	}
	ck_assert_uint_eq(mesh_relay_synth_count(r), MESH_RELAY_SYNTH_MAX);
	/* touching entry 0 makes entry 1 the least recently used */
	ck_assert(mesh_relay_synth_lookup(r, &ep[0], SEC(NOW0 + 100), rid, pid));
	memset(pid, 0xff, sizeof pid);
	mesh_relay_synth_make(r, fm.id[M_A], pid, SEC(NOW0 + 101), &ep[MESH_RELAY_SYNTH_MAX]);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_eq(st.synth_evictions, 1);
	ck_assert_uint_eq(mesh_relay_synth_count(r), MESH_RELAY_SYNTH_MAX);
	ck_assert(!mesh_relay_synth_lookup(r, &ep[1], SEC(NOW0 + 102), rid, pid));
	ck_assert(mesh_relay_synth_lookup(r, &ep[0], SEC(NOW0 + 102), rid, pid));
	memset(want, 0, sizeof want);
	ck_assert_mem_eq(pid, want, MESH_NODE_ID_LEN);
	ck_assert(mesh_relay_synth_lookup(r, &ep[2], SEC(NOW0 + 102), rid, pid));
	want[0] = 2;
	ck_assert_mem_eq(pid, want, MESH_NODE_ID_LEN);
	ck_assert(mesh_relay_synth_lookup(r, &ep[MESH_RELAY_SYNTH_MAX], SEC(NOW0 + 102), rid, pid));
	ck_assert_mem_eq(rid, fm.id[M_A], MESH_NODE_ID_LEN);
	/* the recycled slot got a new handle: the old endpoint stays dead even
	 * when the old pair comes back (it gets a fresh endpoint) */
	memset(pid, 0, sizeof pid);
	pid[0] = 1;
	mesh_relay_synth_make(r, fm.id[M_R], pid, SEC(NOW0 + 103), &again);
	ck_assert(!endpoint_eq(&again, &ep[1]));
	ck_assert(mesh_relay_synth_lookup(r, &again, SEC(NOW0 + 104), rid, pid));
	mesh_relay_free(r);
}
END_TEST

/* ---- hostile senders ---- */

static void spoofed(union endpoint *ep, unsigned i)
{
	char a[64];

	snprintf(a, sizeof a, "10.%u.%u.%u:%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff,
	    1024 + i % 60000);
	ck_assert_int_eq(endpoint_parse(ep, a, false), 0);
}

START_TEST(test_relay_forward_junk_walks_bounded)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	struct mesh_relay_stats st;
	union endpoint to, src;
	size_t n;
	unsigned i;

	/* A is a member that has relayed before */
	n = relay_msg(buf, sizeof buf, M_B, 32);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), 0);
	ck_assert_uint_eq(fm_at_calls, 1);
	/* 10000 RELAYs to a real member from spoofed addresses */
	for (i = 0; i < 10000; i++) {
		spoofed(&src, i);
		n = relay_msg(buf, sizeof buf, M_B, 32);
		ck_assert_int_eq(mesh_relay_forward(r, buf, n, &src, SEC(NOW0), &to),
		    MESHD_E_PERM);
	}
	ck_assert_uint_le(fm_at_calls, 1 + MESH_RELAY_LOOKUP_BURST);
	mesh_relay_get_stats(r, &st);
	ck_assert_uint_ge(st.drop_lookup, 10000 - MESH_RELAY_LOOKUP_BURST);
	/* the member is not starved: found by the cache, no walk */
	n = relay_msg(buf, sizeof buf, M_B, 32);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), 0);
	ck_assert(endpoint_eq(&to, &fm.ep[M_B]));
	ck_assert_uint_le(fm_at_calls, 1 + MESH_RELAY_LOOKUP_BURST);
	/* the cache is only a hint: A moved, its old address is refused */
	ck_assert_int_eq(endpoint_parse(&src, "192.0.2.99:1", false), 0);
	to = fm.ep[M_A];
	fm.ep[M_A] = src;
	n = relay_msg(buf, sizeof buf, M_B, 32);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &to, SEC(NOW0 + 10), &to),
	    MESHD_E_PERM);
	n = relay_msg(buf, sizeof buf, M_B, 32);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &src, SEC(NOW0 + 10), &to), 0);
	mesh_relay_free(r);
}
END_TEST

START_TEST(test_relay_cheap_checks_first)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	uint8_t buf[MESH_RELAY_DGRAM_MAX], inner[64];
	size_t inner_len;
	union endpoint to, src, syn;
	size_t n;

	spoofed(&src, 7);
	/* inner not WireGuard, or dst not a member: no walk, either side */
	memset(inner, 0xee, sizeof inner);
	n = mesh_relay_encode(MESH_MSG_RELAY, fm.id[M_B], inner, sizeof inner, buf, sizeof buf);
	ck_assert_int_eq(mesh_relay_forward(r, buf, n, &src, SEC(NOW0), &to), MESHD_E_PERM);
	fake_wg(inner, sizeof inner, 1);
	{
		uint8_t nobody[MESH_NODE_ID_LEN];

		memset(nobody, 0x77, sizeof nobody);
		n = mesh_relay_encode(MESH_MSG_RELAY, nobody, inner, sizeof inner, buf,
		    sizeof buf);
		ck_assert_int_eq(mesh_relay_forward(r, buf, n, &src, SEC(NOW0), &to),
		    MESHD_E_NOENT);
	}
	memset(inner, 0xee, sizeof inner);
	n = mesh_relay_encode(MESH_MSG_RELAYED, fm.id[M_A], inner, sizeof inner, buf, sizeof buf);
	ck_assert_int_eq(mesh_relay_receive(r, buf, n, &src, SEC(NOW0), &inner_len, &syn),
	    MESHD_E_PROTO);
	ck_assert_uint_eq(fm_at_calls, 0);
	mesh_relay_free(r);
}
END_TEST

/* Neither RELAY nor RELAYED is ever answered to its source, and what a
 * relay sends on is exactly as long as what it got. */
START_TEST(test_relay_reply_never_larger_unauthenticated)
{
	struct mesh_relay *r = relay_new(true, 0, 0);
	uint8_t buf[MESH_RELAY_DGRAM_MAX];
	union endpoint to, syn;
	size_t n, inner_len, k;

	for (k = MESH_RELAY_INNER_MIN; k <= MESH_RELAY_INNER_MAX; k += 97) {
		n = relay_msg(buf, sizeof buf, M_B, k);
		memset(&to, 0, sizeof to);
		ck_assert_int_eq(mesh_relay_forward(r, buf, n, &fm.ep[M_A], SEC(NOW0), &to), 0);
		ck_assert(!endpoint_eq(&to, &fm.ep[M_A]));
		ck_assert_uint_eq(buf[1], MESH_MSG_RELAYED);
		/* the receiving side hands the inner datagram on: shorter */
		n = relay_msg(buf, sizeof buf, M_B, k);
		buf[1] = MESH_MSG_RELAYED;
		ck_assert_int_eq(mesh_relay_receive(r, buf, n, &fm.ep[M_R], SEC(NOW0), &inner_len,
		    &syn), 0);
		ck_assert_uint_lt(inner_len, n);
	}
	mesh_relay_free(r);
}
END_TEST

START_TEST(test_relay_is_synth)
{
	static const char *const no[] = {
		"192.0.2.1:1", "1.0.0.0:1", "[2001:db8::1]:1", "[::1]:1", "[::ffff:1.0.0.0]:1",
		"[100:0:0:1::5]:1", "[101::5]:1", "[1000::5]:1",
	};
	static const char *const yes[] = { "[100::5]:1", "[100::ffff:ffff:ffff:ffff]:7" };
	union endpoint ep;

	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		ck_assert_int_eq(endpoint_parse(&ep, no[i], false), 0);
		ck_assert_msg(!mesh_relay_is_synth(&ep), "%s", no[i]);
	}
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		ck_assert_int_eq(endpoint_parse(&ep, yes[i], false), 0);
		ck_assert_msg(mesh_relay_is_synth(&ep), "%s", yes[i]);
	}
	memset(&ep, 0, sizeof ep);
	ck_assert(!mesh_relay_is_synth(&ep));
}
END_TEST

START_TEST(test_relay_rtt_and_new)
{
	struct mesh_relay_cfg cfg = { .member_at = fm_member_at, .is_relay = fm_is_relay };
	int err = 0;

	ck_assert_uint_eq(mesh_relay_rtt(30, 0), 30);
	ck_assert_uint_eq(mesh_relay_rtt(30, 25), 55);
	ck_assert_uint_eq(mesh_relay_rtt(UINT32_MAX - 1, 5), UINT32_MAX);
	ck_assert_ptr_null(mesh_relay_new(&cfg, &err));
	ck_assert_int_eq(err, MESHD_E_INVAL);
	ck_assert_ptr_null(mesh_relay_new(NULL, &err));
	mesh_relay_free(NULL);
}
END_TEST

/* ---- end to end: three WireGuard devices, A and B reach only R ----
 *
 *	A 192.0.2.1 ----+            +---- B 198.51.100.2
 *	  10.0.0.1      +-- R -------+       10.0.0.2
 *	              203.0.113.3 (offers relay), 10.0.0.3
 *
 * Every node runs the same host glue as the daemon will: WireGuard sends to
 * a synthetic endpoint are wrapped as RELAY to the relay; datagrams in are
 * demultiplexed: WireGuard -> wg core, RELAY -> forward, RELAYED -> receive
 * and then the wg core with the synthetic source. */

enum { E_A, E_B, E_R, E_N = 3, EQ_MAX = 256, E_BUF = 2048 };

struct e_dgram {
	int from;
	union endpoint src, dst;
	size_t len;
	alignas(8) uint8_t buf[E_BUF];
};

struct e_node {
	struct wg_device *dev;
	struct mesh_relay *relay;
	struct wg_peer *peer[E_N];
	uint8_t id[MESH_NODE_ID_LEN];
	uint8_t pub[32];
	union endpoint addr;
	uint8_t ov4[4];
	unsigned delivered, relayed_out, wg_in;
	uint8_t last_src[4];
	int idx;
};

static struct e_node en[E_N];
static struct e_dgram eq[EQ_MAX];
static unsigned eq_head, eq_len, e_dropped;
static mtime_ns e_now;
static bool e_direct_ok;	/* A <-> B reachable */

static void e_enqueue(int from, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	struct e_dgram *d;

	ck_assert_uint_lt(eq_len, EQ_MAX);
	ck_assert_uint_le(len, E_BUF);
	d = &eq[(eq_head + eq_len++) % EQ_MAX];
	d->from = from;
	d->src = en[from].addr;
	d->dst = *dst;
	d->len = len;
	memcpy(d->buf, buf, len);
}

/* The daemon's send path. */
static void e_send(struct e_node *n, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	uint8_t out[MESH_RELAY_DGRAM_MAX];
	union endpoint to;
	size_t m;

	if (mesh_relay_is_synth(dst)) {
		m = mesh_relay_wrap(n->relay, dst, buf, len, out, sizeof out, e_now, &to);
		if (m) {
			n->relayed_out++;
			e_enqueue(n->idx, &to, out, m);
		}
		return;
	}
	e_enqueue(n->idx, dst, buf, len);
}

static void e_host_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	e_send(ctx, dst, buf, len);
}

static void e_walltime(void *ctx, struct walltime *out)
{
	(void)ctx;
	out->sec = 1700000000 + e_now / SEC(1);
	out->nsec = (uint32_t)(e_now % SEC(1));
}

static const struct wg_host_ops e_ops = { .send = e_host_send, .walltime = e_walltime };

static int e_by_id(const uint8_t id[MESH_NODE_ID_LEN])
{
	for (int i = 0; i < E_N; i++)
		if (memcmp(en[i].id, id, MESH_NODE_ID_LEN) == 0)
			return i;
	return -1;
}

/* live session: a handshake completed (enough for this test's time span) */
static bool e_peer_live(const struct wg_peer *p, struct wg_peer_info *info)
{
	wg_peer_get_info(p, info);
	return info->last_handshake.sec != 0;
}

static bool e_member_at(void *ctx, const union endpoint *src, uint8_t id[MESH_NODE_ID_LEN])
{
	struct e_node *n = ctx;
	struct wg_peer_info info;

	for (int j = 0; j < E_N; j++) {
		if (j == n->idx || !e_peer_live(n->peer[j], &info) ||
		    !endpoint_eq(&info.endpoint, src))
			continue;
		memcpy(id, en[j].id, MESH_NODE_ID_LEN);
		return true;
	}
	return false;
}

static bool e_member_endpoint(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], union endpoint *out)
{
	struct e_node *n = ctx;
	struct wg_peer_info info;
	int j = e_by_id(id);

	if (j < 0 || j == n->idx || !e_peer_live(n->peer[j], &info) ||
	    !endpoint_is_set(&info.endpoint))
		return false;
	*out = info.endpoint;
	return true;
}

static bool e_is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	(void)ctx;
	return e_by_id(id) == E_R;
}

static void e_setup(void)
{
	static const char *const addr[E_N] = {
		"192.0.2.1:51820", "198.51.100.2:51820", "203.0.113.3:51820",
	};
	uint8_t priv[32];
	int err;

	ck_assert_int_ge(sodium_init(), 0);
	memset(en, 0, sizeof en);
	eq_head = eq_len = e_dropped = 0;
	e_direct_ok = false;
	e_now = SEC(NOW0);
	for (int i = 0; i < E_N; i++) {
		struct e_node *n = &en[i];
		struct mesh_relay_cfg cfg = {
			.member_at = e_member_at,
			.member_endpoint = e_member_endpoint,
			.is_relay = e_is_relay,
			.ctx = n,
			.offer = i == E_R,
		};

		n->idx = i;
		memset(n->id, 0xa0 + i, sizeof n->id);
		ck_assert_int_eq(endpoint_parse(&n->addr, addr[i], false), 0);
		n->ov4[0] = 10;
		n->ov4[3] = (uint8_t)(i + 1);
		n->dev = wg_device_new(&e_ops, n, &err);
		ck_assert_ptr_nonnull(n->dev);
		randombytes_buf(priv, sizeof priv);
		ck_assert_int_eq(wg_device_set_private_key(n->dev, priv, e_now), 0);
		ck_assert(wg_device_get_public_key(n->dev, n->pub));
		n->relay = mesh_relay_new(&cfg, &err);
		ck_assert_ptr_nonnull(n->relay);
	}
	sodium_memzero(priv, sizeof priv);
	for (int i = 0; i < E_N; i++)
		for (int j = 0; j < E_N; j++) {
			if (i == j)
				continue;
			ck_assert_int_eq(wg_peer_add(en[i].dev, en[j].pub, e_now, &en[i].peer[j]), 0);
			ck_assert_int_eq(wg_peer_allowedip_add(en[i].dev, en[i].peer[j], AF_INET,
			    en[j].ov4, 32), 0);
		}
	/* A and B know where R is; R learns them by roaming */
	wg_peer_set_endpoint(en[E_A].peer[E_R], &en[E_R].addr);
	wg_peer_set_endpoint(en[E_B].peer[E_R], &en[E_R].addr);
}

static void e_teardown(void)
{
	for (int i = 0; i < E_N; i++) {
		wg_device_free(en[i].dev);
		mesh_relay_free(en[i].relay);
	}
}

static void e_result(struct e_node *n, const uint8_t *buf, const struct wg_result *res)
{
	if (res->act == WG_ACT_DELIVER) {
		n->delivered++;
		ck_assert_uint_ge(res->len, 20);
		memcpy(n->last_src, buf + res->off + 12, 4);
	} else if (res->act == WG_ACT_SEND) {
		e_send(n, &res->dst, buf + res->off, res->len);
	}
}

/* The daemon's receive path. */
static void e_input(struct e_node *n, uint8_t *buf, size_t len, const union endpoint *src)
{
	struct wg_result res;
	union endpoint to, synth;
	size_t il;

	if (wg_is_wg_datagram(buf, len)) {
		n->wg_in++;
		wg_input_datagram(n->dev, buf, len, src, e_now, &res);
		e_result(n, buf, &res);
	} else if (len >= 2 && buf[0] == MESH_MSG_MAGIC && buf[1] == MESH_MSG_RELAY) {
		if (mesh_relay_forward(n->relay, buf, len, src, e_now, &to) == 0)
			e_enqueue(n->idx, &to, buf, len);
	} else if (len >= 2 && buf[0] == MESH_MSG_MAGIC && buf[1] == MESH_MSG_RELAYED) {
		if (mesh_relay_receive(n->relay, buf, len, src, e_now, &il, &synth) == 0) {
			wg_input_datagram(n->dev, buf, il, &synth, e_now, &res);
			e_result(n, buf, &res);
		}
	}
}

static bool e_reach(int a, int b)
{
	return e_direct_ok || !((a == E_A && b == E_B) || (a == E_B && b == E_A));
}

static void e_pump(void)
{
	static struct e_dgram d;

	for (unsigned guard = 0; eq_len && guard < 10000; guard++) {
		int to = -1;

		d = eq[eq_head];
		eq_head = (eq_head + 1) % EQ_MAX;
		eq_len--;
		for (int i = 0; i < E_N; i++)
			if (endpoint_eq(&en[i].addr, &d.dst))
				to = i;
		if (to < 0 || !e_reach(d.from, to)) {
			e_dropped++;
			continue;
		}
		e_input(&en[to], d.buf, d.len, &d.src);
	}
	ck_assert_uint_eq(eq_len, 0);
}

/* An IPv4/UDP packet of 64 payload bytes from node `from` to node `to`. */
static void e_send_ip(int from, int to)
{
	alignas(8) uint8_t buf[WG_HEADROOM + 128 + WG_TAILROOM];
	uint8_t *p = buf + WG_HEADROOM;
	struct wg_result res;
	size_t len = 20 + 64;

	memset(buf, 0, sizeof buf);
	p[0] = 0x45;
	be16enc(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, en[from].ov4, 4);
	memcpy(p + 16, en[to].ov4, 4);
	for (size_t i = 20; i < len; i++)
		p[i] = (uint8_t)(i ^ (unsigned)from);
	wg_input_tun(en[from].dev, buf, len, sizeof buf, e_now, &res);
	e_result(&en[from], buf, &res);
}

START_TEST(test_relay_e2e_three_devices)
{
	union endpoint synth_b;
	struct wg_peer_info info;
	struct mesh_relay_stats st;
	uint8_t rid[MESH_NODE_ID_LEN], pid[MESH_NODE_ID_LEN];
	unsigned r_delivered, b_wg_in;

	/* sessions with the relay (A -> R, B -> R) */
	e_send_ip(E_A, E_R);
	e_pump();
	e_send_ip(E_B, E_R);
	e_pump();
	ck_assert_uint_eq(en[E_R].delivered, 2);
	r_delivered = en[E_R].delivered;
	b_wg_in = en[E_B].wg_in;	/* R's handshake response */

	/* no direct path: A sends to B directly and nothing arrives */
	wg_peer_set_endpoint(en[E_A].peer[E_B], &en[E_B].addr);
	e_send_ip(E_A, E_B);
	e_pump();
	ck_assert_uint_gt(e_dropped, 0);
	ck_assert_uint_eq(en[E_B].wg_in, b_wg_in);

	/* path selection chose RELAY via R for B: A points B at synth(R, B) */
	mesh_relay_synth_make(en[E_A].relay, en[E_R].id, en[E_B].id, e_now, &synth_b);
	wg_peer_set_endpoint(en[E_A].peer[E_B], &synth_b);
	e_now += SEC(6);	/* REKEY_TIMEOUT: the retry goes out now */
	while (wg_next_expiry(en[E_A].dev) <= e_now) {
		wg_handle_expiry(en[E_A].dev, e_now);
		e_pump();
	}
	e_send_ip(E_A, E_B);
	e_pump();

	/* the handshake and the data crossed R */
	ck_assert_uint_ge(en[E_B].delivered, 1);
	ck_assert_mem_eq(en[E_B].last_src, en[E_A].ov4, 4);
	/* B's endpoint for A roamed to synth(R, A) */
	wg_peer_get_info(en[E_B].peer[E_A], &info);
	ck_assert(mesh_relay_is_synth(&info.endpoint));
	ck_assert(mesh_relay_synth_lookup(en[E_B].relay, &info.endpoint, e_now, rid, pid));
	ck_assert_mem_eq(rid, en[E_R].id, MESH_NODE_ID_LEN);
	ck_assert_mem_eq(pid, en[E_A].id, MESH_NODE_ID_LEN);
	ck_assert_uint_ne(info.last_handshake.sec, 0);

	/* and back: B -> A through R */
	e_send_ip(E_B, E_A);
	e_pump();
	ck_assert_uint_eq(en[E_A].delivered, 1);
	ck_assert_mem_eq(en[E_A].last_src, en[E_B].ov4, 4);
	wg_peer_get_info(en[E_A].peer[E_B], &info);
	ck_assert(endpoint_eq(&info.endpoint, &synth_b));

	/* R forwarded ciphertext only: its own wg core got nothing new */
	ck_assert_uint_eq(en[E_R].delivered, r_delivered);
	mesh_relay_get_stats(en[E_R].relay, &st);
	ck_assert_uint_ge(st.forwarded, 4);	/* initiation, response, data both ways */
	ck_assert_uint_eq(st.drop_source + st.drop_dst + st.drop_payload + st.drop_malformed, 0);
	ck_assert_uint_gt(en[E_A].relayed_out, 0);
	ck_assert_uint_gt(en[E_B].relayed_out, 0);
	ck_assert_uint_eq(en[E_B].wg_in, b_wg_in);	/* nothing from A came directly */

	/* a direct path starts working: the node sets the real endpoint and
	 * WireGuard's roaming moves B over on the first direct packet */
	e_direct_ok = true;
	wg_peer_set_endpoint(en[E_A].peer[E_B], &en[E_B].addr);
	mesh_relay_get_stats(en[E_R].relay, &st);
	e_send_ip(E_A, E_B);
	e_pump();
	ck_assert_uint_gt(en[E_B].wg_in, b_wg_in);
	wg_peer_get_info(en[E_B].peer[E_A], &info);
	ck_assert(endpoint_eq(&info.endpoint, &en[E_A].addr));
	{
		struct mesh_relay_stats st2;
		unsigned a_before = en[E_A].delivered;

		e_send_ip(E_B, E_A);
		e_pump();
		ck_assert_uint_eq(en[E_A].delivered, a_before + 1);
		mesh_relay_get_stats(en[E_R].relay, &st2);
		ck_assert_uint_eq(st2.forwarded, st.forwarded);	/* R is out of the path */
	}
}
END_TEST

static Suite *suite_relay(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("unit");
	TCase *e2e = tcase_create("e2e");

	tcase_add_checked_fixture(tc, fm_setup, NULL);
	tcase_add_test(tc, test_relay_codec_round_trip);
	tcase_add_test(tc, test_relay_encode_in_place);
	tcase_add_test(tc, test_relay_encode_rejects);
	tcase_add_test(tc, test_relay_decode_every_truncation);
	tcase_add_test(tc, test_relay_decode_wrong_magic_type_oversize);
	tcase_add_test(tc, test_relay_forward_rewrites_in_place);
	tcase_add_test(tc, test_relay_forward_refusals);
	tcase_add_test(tc, test_relay_forward_dst_behind_relay);
	tcase_add_test(tc, test_relay_forward_not_offered);
	tcase_add_test(tc, test_relay_ratelimit_per_source);
	tcase_add_test(tc, test_relay_global_byte_budget);
	tcase_add_test(tc, test_relay_receive_accepts_from_relay);
	tcase_add_test(tc, test_relay_receive_refusals);
	tcase_add_test(tc, test_relay_wrap);
	tcase_add_test(tc, test_relay_synth_table_eviction);
	tcase_add_test(tc, test_relay_forward_junk_walks_bounded);
	tcase_add_test(tc, test_relay_cheap_checks_first);
	tcase_add_test(tc, test_relay_reply_never_larger_unauthenticated);
	tcase_add_test(tc, test_relay_is_synth);
	tcase_add_test(tc, test_relay_rtt_and_new);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(e2e, e_setup, e_teardown);
	tcase_add_test(e2e, test_relay_e2e_three_devices);
	suite_add_tcase(s, e2e);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_relay());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
