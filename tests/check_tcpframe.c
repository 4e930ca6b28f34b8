/* TCP fallback core (mesh/tcpframe.h): the frame decoder against byte-at-a-
 * time and random chunking, its length errors, the drop-oldest send ring
 * against a naive model, the entry/client auth exchange and its failures,
 * and the UDP/TCP fallback decision on a virtual clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/tcpframe.h"
#include "mesh/wire.h"
#include "util/err.h"

enum { SEED = 20261204 };

/* deterministic xorshift, seeded per test; the seed is printed on failure */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Frames n random payloads (lengths 1..maxlen) into out; returns bytes.
 * lens/payloads receive what was framed. */
static size_t make_stream(uint8_t *out, size_t cap, size_t n, size_t maxlen, size_t *lens,
    uint8_t (*payloads)[MESH_TCP_FRAME_MAX])
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		lens[i] = 1 + rng() % maxlen;
		for (size_t k = 0; k < lens[i]; k++)
			payloads[i][k] = (uint8_t)rng();
		size_t w = mesh_tcp_frame_encode(payloads[i], lens[i], out + off, cap - off);

		ck_assert_uint_eq(w, lens[i] + 2);
		off += w;
	}
	return off;
}

enum { NFR = 64 };
static uint8_t stream[NFR * (MESH_TCP_FRAME_MAX + 2)];
static uint8_t payloads[NFR][MESH_TCP_FRAME_MAX];
static size_t lens[NFR];
static struct mesh_tcp_dec dec;

/* Feeds the stream in chunks chosen by chunk(); checks every frame. */
static void roundtrip(size_t total, size_t (*chunk)(void))
{
	size_t off = 0, got = 0;

	mesh_tcp_dec_init(&dec, 0);
	while (off < total) {
		size_t n = chunk();

		if (n > total - off)
			n = total - off;
		size_t fed = 0;

		while (fed < n) {
			const uint8_t *f;
			size_t flen, used;
			int r = mesh_tcp_dec_feed(&dec, stream + off + fed, n - fed, &used, &f, &flen);

			ck_assert_msg(r >= 0, "seed %d: error %d", SEED, r);
			fed += used;
			if (r == 1) {
				ck_assert_uint_lt(got, NFR);
				ck_assert_uint_eq(flen, lens[got]);
				ck_assert(memcmp(f, payloads[got], flen) == 0);
				got++;
			} else {
				ck_assert_uint_eq(fed, n);
			}
		}
		off += n;
	}
	ck_assert_uint_eq(got, NFR);
	ck_assert(!mesh_tcp_dec_partial(&dec));
}

static size_t chunk_one(void)
{
	return 1;
}

static size_t chunk_random(void)
{
	return 1 + rng() % 3000;
}

START_TEST(test_dec_byte_at_a_time)
{
	rng_state = SEED;
	size_t total = make_stream(stream, sizeof stream, NFR, MESH_TCP_FRAME_MAX, lens, payloads);

	roundtrip(total, chunk_one);
}
END_TEST

START_TEST(test_dec_random_chunks)
{
	for (int round = 0; round < 20; round++) {
		rng_state = SEED + (uint64_t)round;
		size_t total = make_stream(stream, sizeof stream, NFR,
		    round % 2 ? 40 : MESH_TCP_FRAME_MAX, lens, payloads);

		roundtrip(total, chunk_random);
	}
}
END_TEST

START_TEST(test_dec_one_big_chunk)
{
	rng_state = SEED + 99;
	size_t total = make_stream(stream, sizeof stream, NFR, 300, lens, payloads);
	size_t off = 0, got = 0;

	mesh_tcp_dec_init(&dec, 0);
	while (off < total) {
		const uint8_t *f;
		size_t flen, used;

		ck_assert_int_eq(mesh_tcp_dec_feed(&dec, stream + off, total - off, &used, &f, &flen), 1);
		ck_assert_uint_eq(flen, lens[got]);
		got++;
		off += used;
	}
	ck_assert_uint_eq(got, NFR);
}
END_TEST

static int feed_all(struct mesh_tcp_dec *d, const uint8_t *p, size_t n)
{
	size_t off = 0;
	int r = 0;

	while (off < n) {
		const uint8_t *f;
		size_t flen, used;

		r = mesh_tcp_dec_feed(d, p + off, n - off, &used, &f, &flen);
		if (r < 0)
			return r;
		off += used;
	}
	return r;
}

START_TEST(test_dec_zero_length)
{
	const uint8_t z[] = { 0, 0, 0x41 };

	mesh_tcp_dec_init(&dec, 0);
	ck_assert_int_eq(feed_all(&dec, z, sizeof z), MESHD_E_PROTO);
	/* sticky */
	const uint8_t ok[] = { 0, 1, 0x41 };
	ck_assert_int_eq(feed_all(&dec, ok, sizeof ok), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_dec_oversize)
{
	const uint8_t big[] = { (MESH_TCP_FRAME_MAX + 1) >> 8, (MESH_TCP_FRAME_MAX + 1) & 0xff };
	const uint8_t huge[] = { 0xff, 0xff };
	const uint8_t at_cap[] = { 0, 100 };
	const uint8_t over_cap[] = { 0, 101 };
	const uint8_t *f;
	size_t used, flen;

	mesh_tcp_dec_init(&dec, 0);
	ck_assert_int_eq(mesh_tcp_dec_feed(&dec, big, 2, &used, &f, &flen), MESHD_E_RANGE);
	ck_assert_uint_eq(used, 2);
	mesh_tcp_dec_init(&dec, 0);
	ck_assert_int_eq(mesh_tcp_dec_feed(&dec, huge, 2, &used, &f, &flen), MESHD_E_RANGE);
	/* a smaller cap: exactly cap passes the header, cap + 1 does not */
	mesh_tcp_dec_init(&dec, 100);
	ck_assert_int_eq(mesh_tcp_dec_feed(&dec, at_cap, 2, &used, &f, &flen), 0);
	ck_assert(mesh_tcp_dec_partial(&dec));
	mesh_tcp_dec_init(&dec, 100);
	ck_assert_int_eq(mesh_tcp_dec_feed(&dec, over_cap, 2, &used, &f, &flen), MESHD_E_RANGE);
	/* the encoder refuses the same lengths */
	uint8_t out[MESH_TCP_FRAME_MAX + 8];
	ck_assert_uint_eq(mesh_tcp_frame_encode(out, 0, out, sizeof out), 0);
	ck_assert_uint_eq(mesh_tcp_frame_encode(stream, MESH_TCP_FRAME_MAX + 1, out, sizeof out), 0);
	ck_assert_uint_eq(mesh_tcp_frame_encode(stream, 10, out, 11), 0);
	ck_assert_uint_eq(mesh_tcp_frame_encode(stream, 10, out, 12), 12);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 10);
}
END_TEST

/* ---- ring vs a naive model ---- */

enum { MODEL_MAX = 4096 };

/* The model: a list of frames with their bytes left to send. */
struct model {
	size_t n;
	size_t len[MODEL_MAX];		/* frame length incl. header */
	size_t sent[MODEL_MAX];		/* bytes of it already sent (only [0]) */
	uint8_t *data[MODEL_MAX];
	size_t used;
	uint64_t dropped;
};

static struct mesh_tcp_ring ring;
static struct model mdl;
static uint8_t frames_store[MODEL_MAX][MESH_TCP_FRAME_MAX + 2];
static size_t next_store;

static void model_push(struct model *m, const uint8_t *p, size_t len)
{
	size_t need = len + 2;

	while (MESH_TCP_RING_LEN - m->used < need) {
		size_t v = m->sent[0] ? 1 : 0;	/* partly sent head stays */

		m->used -= m->len[v] - m->sent[v];
		memmove(&m->len[v], &m->len[v + 1], (m->n - v - 1) * sizeof m->len[0]);
		memmove(&m->sent[v], &m->sent[v + 1], (m->n - v - 1) * sizeof m->sent[0]);
		memmove(&m->data[v], &m->data[v + 1], (m->n - v - 1) * sizeof m->data[0]);
		m->n--;
		m->dropped++;
	}
	uint8_t *d = frames_store[next_store++ % MODEL_MAX];

	mesh_tcp_frame_encode(p, len, d, MESH_TCP_FRAME_MAX + 2);
	m->len[m->n] = need;
	m->sent[m->n] = 0;
	m->data[m->n] = d;
	m->n++;
	m->used += need;
}

/* Takes up to k bytes from the ring, checks them against the model. */
static void drain_check(size_t k)
{
	while (k > 0) {
		const uint8_t *p;
		size_t n = mesh_tcp_ring_peek(&ring, &p);

		if (n == 0) {
			ck_assert_uint_eq(mdl.used, 0);
			return;
		}
		if (n > k)
			n = k;
		/* plain compares: a Check assertion per byte costs a syscall */
		for (size_t i = 0; i < n; i++) {
			if (mdl.n == 0 || p[i] != mdl.data[0][mdl.sent[0]])
				ck_abort_msg("seed %d: byte mismatch", SEED);
			mdl.used--;
			if (++mdl.sent[0] == mdl.len[0]) {
				memmove(&mdl.len[0], &mdl.len[1], (mdl.n - 1) * sizeof mdl.len[0]);
				memmove(&mdl.sent[0], &mdl.sent[1], (mdl.n - 1) * sizeof mdl.sent[0]);
				memmove(&mdl.data[0], &mdl.data[1], (mdl.n - 1) * sizeof mdl.data[0]);
				mdl.n--;
			}
		}
		mesh_tcp_ring_consume(&ring, n);
		k -= n;
	}
}

START_TEST(test_ring_matches_model)
{
	uint8_t p[MESH_TCP_FRAME_MAX];
	uint64_t before = 0;
	int partial_drops = 0;

	rng_state = SEED;
	memset(&mdl, 0, sizeof mdl);
	next_store = 0;
	mesh_tcp_ring_init(&ring);
	for (int step = 0; step < 20000; step++) {
		if (rng() % 3 != 0) {
			size_t len = 1 + rng() % MESH_TCP_FRAME_MAX;

			for (size_t i = 0; i < len; i++)
				p[i] = (uint8_t)rng();
			before = ring.dropped;
			if (mesh_tcp_ring_push(&ring, p, len) != 0)
				ck_abort_msg("push %zu", len);
			model_push(&mdl, p, len);
		} else {
			drain_check(rng() % 1500);
		}
		if (mesh_tcp_ring_used(&ring) != mdl.used || ring.frames != mdl.n ||
		    ring.dropped != mdl.dropped || ring.used > MESH_TCP_RING_LEN)
			ck_abort_msg("seed %d step %d: ring and model differ", SEED, step);
		partial_drops += ring.head_rest != 0 && ring.dropped > before;
	}
	/* the test did exercise drops, also behind a partly sent head */
	ck_assert_uint_gt(ring.dropped, 100);
	ck_assert_int_gt(partial_drops, 100);
	drain_check(SIZE_MAX);
	ck_assert_uint_eq(mesh_tcp_ring_used(&ring), 0);
}
END_TEST

START_TEST(test_ring_drop_oldest_accounting)
{
	uint8_t p[1000];
	const uint8_t *q;

	mesh_tcp_ring_init(&ring);
	for (size_t i = 0; i < sizeof p; i++)
		p[i] = (uint8_t)i;
	/* 1002 bytes a frame: 65 fit in 65536, the 66th drops the first */
	for (int i = 0; i < 65; i++)
		ck_assert_int_eq(mesh_tcp_ring_push(&ring, p, sizeof p), 0);
	ck_assert_uint_eq(ring.dropped, 0);
	p[0] = 0xee;
	ck_assert_int_eq(mesh_tcp_ring_push(&ring, p, sizeof p), 0);
	ck_assert_uint_eq(ring.dropped, 1);
	ck_assert_uint_eq(ring.dropped_bytes, 1002);
	ck_assert_uint_eq(ring.frames, 65);
	ck_assert_uint_eq(ring.pushed, 66);
	/* partly send the head: a push must drop the second frame, not it */
	ck_assert_uint_gt(mesh_tcp_ring_peek(&ring, &q), 10);
	mesh_tcp_ring_consume(&ring, 10);
	ck_assert_int_eq(mesh_tcp_ring_push(&ring, p, sizeof p), 0);
	ck_assert_uint_eq(ring.dropped, 2);
	ck_assert_uint_eq(ring.head_rest, 992);
	/* rejects: empty and oversize, counted, nothing dropped */
	ck_assert_int_eq(mesh_tcp_ring_push(&ring, p, 0), MESHD_E_RANGE);
	ck_assert_int_eq(mesh_tcp_ring_push(&ring, stream, MESH_TCP_FRAME_MAX + 1), MESHD_E_RANGE);
	ck_assert_uint_eq(ring.rejected, 2);
	ck_assert_uint_eq(ring.dropped, 2);
}
END_TEST

/* ---- auth ---- */

static uint8_t mesh_id[MESH_ID_LEN], other_mesh[MESH_ID_LEN];
static uint8_t srv_key[MESH_TCP_KEY_LEN], other_key[MESH_TCP_KEY_LEN];
static uint8_t cli_id[MESH_NODE_ID_LEN], cli_pk[MESH_PK_LEN], cli_sk[MESH_SK_LEN];
static uint8_t bad_pk[MESH_PK_LEN], bad_sk[MESH_SK_LEN];
static int lookups;

static bool member_pk(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], uint8_t pk[MESH_PK_LEN])
{
	(void)ctx;
	lookups++;
	if (memcmp(id, cli_id, MESH_NODE_ID_LEN) != 0)
		return false;
	memcpy(pk, cli_pk, MESH_PK_LEN);
	return true;
}

static void auth_setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	memset(mesh_id, 0x11, sizeof mesh_id);
	memset(other_mesh, 0x12, sizeof other_mesh);
	memset(srv_key, 0x21, sizeof srv_key);
	memset(other_key, 0x22, sizeof other_key);
	memset(cli_id, 0x31, sizeof cli_id);
	crypto_sign_keypair(cli_pk, cli_sk);
	crypto_sign_keypair(bad_pk, bad_sk);
	lookups = 0;
}

static const mtime_ns T0 = SEC(100);

/* Runs the exchange with the given client parameters; returns the server's
 * verdict for the AUTH frame. */
static int exchange(const uint8_t *c_mesh, const uint8_t *c_key, const uint8_t *sk,
    mtime_ns auth_at, struct mesh_tcp_srv *s)
{
	struct mesh_tcp_cli c;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], auth[MESH_TCP_AUTH_FRAME];

	mesh_tcp_srv_start(s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, c_mesh, c_key, cli_id, T0);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ch, sizeof ch, sk, T0, auth),
	    MESH_TCP_CLI_SEND_AUTH);
	return mesh_tcp_srv_on_frame(s, auth, sizeof auth, member_pk, NULL, auth_at);
}

START_TEST(test_auth_success)
{
	struct mesh_tcp_srv s;
	struct mesh_tcp_cli c;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], auth[MESH_TCP_AUTH_FRAME], ok[3], ka[3];
	const uint8_t dgram[] = { 4, 0, 0, 0, 9, 9 };

	auth_setup();
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_uint_eq(ch[0], 'T');
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0 + MSEC(10), auth),
	    MESH_TCP_CLI_SEND_AUTH);
	ck_assert_int_eq(c.state, MESH_TCP_CLI_WAIT_OK);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL,
	    T0 + MSEC(20)), MESH_TCP_SRV_SEND_OK);
	ck_assert_int_eq(s.state, MESH_TCP_SRV_AUTHED);
	ck_assert(memcmp(s.node_id, cli_id, MESH_NODE_ID_LEN) == 0);
	ok[0] = 'T';
	ok[1] = MESH_TCP_VERSION;
	ok[2] = MESH_TCP_OK;
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ok, sizeof ok, cli_sk, T0 + MSEC(30), auth),
	    MESH_TCP_CLI_NOW_READY);
	/* then datagrams both ways, keepalives ignored */
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, dgram, sizeof dgram, member_pk, NULL,
	    T0 + SEC(1)), MESH_TCP_SRV_DATAGRAM);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, dgram, sizeof dgram, cli_sk, T0 + SEC(1), auth),
	    MESH_TCP_CLI_DATAGRAM);
	mesh_tcp_keepalive(ka);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, ka, sizeof ka, member_pk, NULL, T0 + SEC(2)),
	    MESH_TCP_SRV_IGNORE);
	/* a second AUTH after success is a protocol error, not a re-login */
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL,
	    T0 + SEC(3)), MESHD_E_PROTO);
	ck_assert_int_eq(s.state, MESH_TCP_SRV_CLOSED);
}
END_TEST

START_TEST(test_auth_wrong_key)
{
	struct mesh_tcp_srv s;

	auth_setup();
	ck_assert_int_eq(exchange(mesh_id, srv_key, bad_sk, T0, &s), MESHD_E_CRYPTO);
	ck_assert_int_eq(s.state, MESH_TCP_SRV_CLOSED);
}
END_TEST

START_TEST(test_auth_wrong_mesh)
{
	struct mesh_tcp_srv s;

	auth_setup();
	ck_assert_int_eq(exchange(other_mesh, srv_key, cli_sk, T0, &s), MESHD_E_CRYPTO);
}
END_TEST

START_TEST(test_auth_wrong_server)
{
	struct mesh_tcp_srv s;

	auth_setup();
	/* signed for another entry: not valid here */
	ck_assert_int_eq(exchange(mesh_id, other_key, cli_sk, T0, &s), MESHD_E_CRYPTO);
}
END_TEST

START_TEST(test_auth_unknown_member)
{
	struct mesh_tcp_srv s;
	struct mesh_tcp_cli c;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], auth[MESH_TCP_AUTH_FRAME], id[MESH_NODE_ID_LEN];

	auth_setup();
	memset(id, 0x77, sizeof id);
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, id, T0);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0, auth),
	    MESH_TCP_CLI_SEND_AUTH);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL, T0),
	    MESHD_E_CRYPTO);
}
END_TEST

START_TEST(test_auth_stale_challenge)
{
	struct mesh_tcp_srv s1, s2;
	struct mesh_tcp_cli c;
	uint8_t ch1[MESH_TCP_CHALLENGE_FRAME], ch2[MESH_TCP_CHALLENGE_FRAME];
	uint8_t auth[MESH_TCP_AUTH_FRAME];

	auth_setup();
	/* an AUTH recorded on connection 1 replayed on connection 2 */
	mesh_tcp_srv_start(&s1, mesh_id, srv_key, T0, ch1);
	mesh_tcp_srv_start(&s2, mesh_id, srv_key, T0, ch2);
	ck_assert(memcmp(ch1, ch2, sizeof ch1) != 0);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ch1, sizeof ch1, cli_sk, T0, auth),
	    MESH_TCP_CLI_SEND_AUTH);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s2, auth, sizeof auth, member_pk, NULL, T0),
	    MESHD_E_CRYPTO);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s1, auth, sizeof auth, member_pk, NULL, T0),
	    MESH_TCP_SRV_SEND_OK);
}
END_TEST

START_TEST(test_auth_timeout)
{
	struct mesh_tcp_srv s;

	auth_setup();
	/* a correct AUTH one tick too late is refused */
	ck_assert_int_eq(exchange(mesh_id, srv_key, cli_sk, T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS), &s),
	    MESHD_E_TIMEOUT);
	ck_assert_int_eq(lookups, 0);
	/* and the deadline alone closes a silent client */
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME];

	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS));
	ck_assert(!mesh_tcp_srv_handle_expiry(&s, T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS) - 1));
	ck_assert(mesh_tcp_srv_handle_expiry(&s, T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS)));
	ck_assert_int_eq(s.state, MESH_TCP_SRV_CLOSED);
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), MTIME_NEVER);
}
END_TEST

START_TEST(test_auth_bad_first_frames)
{
	struct mesh_tcp_srv s;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], f[MESH_TCP_AUTH_FRAME + 1];
	const uint8_t dgram[] = { 4, 0, 0, 0, 1, 2, 3, 4 };

	auth_setup();
	/* a datagram before auth: not forwarded, closed */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, dgram, sizeof dgram, member_pk, NULL, T0),
	    MESHD_E_PROTO);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, dgram, sizeof dgram, member_pk, NULL, T0),
	    MESHD_E_STATE);
	/* AUTH one byte too long */
	memset(f, 0, sizeof f);
	f[0] = 'T';
	f[1] = MESH_TCP_VERSION;
	f[2] = MESH_TCP_AUTH;
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, f, sizeof f, member_pk, NULL, T0),
	    MESHD_E_PROTO);
	/* wrong version */
	f[1] = 2;
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, f, MESH_TCP_AUTH_FRAME, member_pk, NULL, T0),
	    MESHD_E_PROTO);
	ck_assert_int_eq(lookups, 0);
}
END_TEST

/* A joiner: JOIN, then JOIN_REQs only, a few of them, for a bounded time. */
START_TEST(test_join_mode)
{
	struct mesh_tcp_srv s;
	struct mesh_tcp_dec d;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], open[64], req[40], ka[3];
	const uint8_t *fr;
	size_t n, used, off, flen;
	const uint8_t wg[] = { 1, 0, 0, 0, 9, 9, 9, 9 };
	const uint8_t probe[] = { MESH_MSG_MAGIC, MESH_MSG_PROBE, 0, 0 };

	auth_setup();
	memset(req, 0xab, sizeof req);
	req[0] = MESH_MSG_MAGIC;
	req[1] = MESH_MSG_JOIN_REQ;
	ck_assert_uint_eq(mesh_tcp_join_open(req, sizeof req, open, 2 * 2 + 3 + sizeof req - 1), 0);
	ck_assert_uint_eq(mesh_tcp_join_open(req, 0, open, sizeof open), 0);
	n = mesh_tcp_join_open(req, sizeof req, open, sizeof open);
	ck_assert_uint_eq(n, 2 * 2 + 3 + sizeof req);

	/* the opening decodes to JOIN, then the request */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_dec_init(&d, 0);
	off = 0;
	ck_assert_int_eq(mesh_tcp_dec_feed(&d, open, n, &used, &fr, &flen), 1);
	off += used;
	ck_assert(mesh_tcp_is_ctl(fr, flen));
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, fr, flen, member_pk, NULL, T0 + MSEC(5)),
	    MESH_TCP_SRV_IGNORE);
	ck_assert_int_eq(s.state, MESH_TCP_SRV_JOINING);
	ck_assert_int_eq(mesh_tcp_dec_feed(&d, open + off, n - off, &used, &fr, &flen), 1);
	ck_assert(!mesh_tcp_is_ctl(fr, flen));
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, fr, flen, member_pk, NULL, T0 + MSEC(6)),
	    MESH_TCP_SRV_JOIN_REQ);
	ck_assert_int_eq(lookups, 0);		/* no member lookup, no signature */
	/* keepalives pass; up to MESH_TCP_JOIN_FRAMES requests; then closed */
	mesh_tcp_keepalive(ka);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, ka, sizeof ka, member_pk, NULL, T0 + SEC(1)),
	    MESH_TCP_SRV_IGNORE);
	for (unsigned i = 1; i < MESH_TCP_JOIN_FRAMES; i++)
		ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, req, sizeof req, member_pk, NULL,
		    T0 + SEC(1)), MESH_TCP_SRV_JOIN_REQ);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, req, sizeof req, member_pk, NULL, T0 + SEC(1)),
	    MESHD_E_PROTO);
	ck_assert_int_eq(s.state, MESH_TCP_SRV_CLOSED);

	/* anything but a JOIN_REQ closes it: WireGuard, another mesh message,
	 * AUTH, a second JOIN, a short frame */
	const uint8_t *bad[] = { wg, probe, req, ka };
	const size_t badlen[] = { sizeof wg, sizeof probe, 1, 2 };
	for (unsigned i = 0; i < 4; i++) {
		mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
		ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL, T0),
		    MESH_TCP_SRV_IGNORE);
		ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, bad[i], badlen[i], member_pk, NULL, T0),
		    MESHD_E_PROTO);
	}
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL, T0),
	    MESH_TCP_SRV_IGNORE);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL, T0),
	    MESHD_E_PROTO);

	/* the whole joining connection lives MESH_TCP_JOIN_TIMEOUT_MS */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL, T0 + SEC(1)),
	    MESH_TCP_SRV_IGNORE);
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), T0 + SEC(1) + MSEC(MESH_TCP_JOIN_TIMEOUT_MS));
	ck_assert(!mesh_tcp_srv_handle_expiry(&s, T0 + SEC(1) + MSEC(MESH_TCP_JOIN_TIMEOUT_MS) - 1));
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, req, sizeof req, member_pk, NULL,
	    T0 + SEC(1) + MSEC(MESH_TCP_JOIN_TIMEOUT_MS)), MESHD_E_TIMEOUT);
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL, T0),
	    MESH_TCP_SRV_IGNORE);
	ck_assert(mesh_tcp_srv_handle_expiry(&s, T0 + MSEC(MESH_TCP_JOIN_TIMEOUT_MS)));
	/* JOIN after the auth deadline: too late, like AUTH */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, open + 2, 3, member_pk, NULL,
	    T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS)), MESHD_E_TIMEOUT);
}
END_TEST

START_TEST(test_srv_idle_and_stall)
{
	struct mesh_tcp_srv s;
	struct mesh_tcp_cli c;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], auth[MESH_TCP_AUTH_FRAME];

	auth_setup();
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0, auth);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL, T0),
	    MESH_TCP_SRV_SEND_OK);
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), T0 + MSEC(MESH_TCP_IDLE_MS));
	/* a queue that stops draining: stall deadline first */
	mesh_tcp_srv_on_tx(&s, true, false, T0 + SEC(1));
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), T0 + SEC(1) + MSEC(MESH_TCP_STALL_MS));
	mesh_tcp_srv_on_tx(&s, true, false, T0 + SEC(5));	/* more queued, no drain */
	ck_assert_uint_eq(mesh_tcp_srv_next_expiry(&s), T0 + SEC(1) + MSEC(MESH_TCP_STALL_MS));
	mesh_tcp_srv_on_tx(&s, true, true, T0 + SEC(8));	/* a drain: clock restarts */
	ck_assert(!mesh_tcp_srv_handle_expiry(&s, T0 + SEC(12)));
	ck_assert(mesh_tcp_srv_handle_expiry(&s, T0 + SEC(8) + MSEC(MESH_TCP_STALL_MS)));
	/* idle: no frame for IDLE closes */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0, auth);
	mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL, T0);
	ck_assert(!mesh_tcp_srv_handle_expiry(&s, T0 + MSEC(MESH_TCP_IDLE_MS) - 1));
	ck_assert(mesh_tcp_srv_handle_expiry(&s, T0 + MSEC(MESH_TCP_IDLE_MS)));
}
END_TEST

START_TEST(test_srv_flood_closed)
{
	struct mesh_tcp_srv s;
	struct mesh_tcp_cli c;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], auth[MESH_TCP_AUTH_FRAME];
	const uint8_t dgram[] = { 4, 0, 0, 0, 1 };
	const mtime_ns gap = SEC(1) / MESH_TCP_FRAMES_PER_S;
	mtime_ns t = T0;
	int i;

	auth_setup();
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0, auth);
	ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, auth, sizeof auth, member_pk, NULL, T0),
	    MESH_TCP_SRV_SEND_OK);
	/* exactly the allowed rate, for 3 s: never closed */
	for (i = 0; i < 3 * MESH_TCP_FRAMES_PER_S; i++, t += gap)
		ck_assert_int_eq(mesh_tcp_srv_on_frame(&s, dgram, sizeof dgram, member_pk, NULL, t),
		    MESH_TCP_SRV_DATAGRAM);
	/* twice the rate: the burst allowance (minus the token spent on the
	 * AUTH) runs out after about 2 x burst frames, then closed */
	for (i = 0; i < 10 * MESH_TCP_FRAMES_BURST; i++, t += gap / 2)
		if (mesh_tcp_srv_on_frame(&s, dgram, sizeof dgram, member_pk, NULL, t) < 0)
			break;
	ck_assert_int_eq(s.state, MESH_TCP_SRV_CLOSED);
	ck_assert_int_ge(i, 2 * MESH_TCP_FRAMES_BURST - 4);
	ck_assert_int_le(i, 2 * MESH_TCP_FRAMES_BURST + 4);
}
END_TEST

START_TEST(test_cli_timeout_and_keepalive)
{
	struct mesh_tcp_cli c;
	uint8_t auth[MESH_TCP_AUTH_FRAME], ok[3] = { 'T', MESH_TCP_VERSION, MESH_TCP_OK };
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME];
	struct mesh_tcp_srv s;

	auth_setup();
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	ck_assert_int_eq(mesh_tcp_cli_handle_expiry(&c, T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS) - 1), 0);
	ck_assert_int_eq(mesh_tcp_cli_handle_expiry(&c, T0 + MSEC(MESH_TCP_AUTH_TIMEOUT_MS)),
	    MESH_TCP_CLI_TIMED_OUT);
	ck_assert_int_eq(c.state, MESH_TCP_CLI_FAILED);
	/* OK before CHALLENGE is refused */
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	ck_assert_int_eq(mesh_tcp_cli_on_frame(&c, ok, sizeof ok, cli_sk, T0, auth), MESHD_E_PROTO);
	/* keepalive due KEEPALIVE_MS after the last send */
	mesh_tcp_srv_start(&s, mesh_id, srv_key, T0, ch);
	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, T0);
	mesh_tcp_cli_on_frame(&c, ch, sizeof ch, cli_sk, T0, auth);
	mesh_tcp_cli_on_frame(&c, ok, sizeof ok, cli_sk, T0, auth);
	ck_assert_int_eq(c.state, MESH_TCP_CLI_READY);
	mesh_tcp_cli_on_sent(&c, T0 + SEC(3));
	ck_assert_uint_eq(mesh_tcp_cli_next_expiry(&c), T0 + SEC(3) + MSEC(MESH_TCP_KEEPALIVE_MS));
	ck_assert_int_eq(mesh_tcp_cli_handle_expiry(&c, T0 + SEC(3) + MSEC(MESH_TCP_KEEPALIVE_MS)),
	    MESH_TCP_CLI_KEEPALIVE_DUE);
	ck_assert_int_eq(c.state, MESH_TCP_CLI_READY);
	ck_assert(MESH_TCP_KEEPALIVE_MS < MESH_TCP_IDLE_MS / 2);
}
END_TEST

/* ---- fallback on a virtual clock ---- */

/* A tiny world: the node sends something over UDP every second (gossip,
 * probes); UDP is up or down per the schedule; the scheduler fires the
 * fallback's deadline exactly when due. */
struct fb_world {
	struct mesh_tcp_fb f;
	mtime_ns now;
	bool udp_up;
	mtime_ns next_send;
	mtime_ns switched_tcp_at, switched_udp_at;
	int udp_tries;
	mtime_ns last_try;
	mtime_ns max_try_gap;
};

static void fb_step_to(struct fb_world *w, mtime_ns until)
{
	while (w->now < until) {
		mtime_ns t = mesh_tcp_fb_next_expiry(&w->f);

		if (w->next_send < t)
			t = w->next_send;
		if (t > until)
			t = until;
		w->now = t;
		if (w->now == w->next_send) {
			/* in TCP mode, regular traffic goes by TCP: no UDP */
			if (w->f.mode == MESH_TCP_FB_UDP) {
				mesh_tcp_fb_on_udp_sent(&w->f, w->now);
				/* answered after 20 ms: delivered as an event now,
				 * the answer is counted right away for simplicity */
				if (w->udp_up)
					mesh_tcp_fb_on_udp_answer(&w->f, w->now);
			}
			w->next_send = w->now + SEC(1);
		}
		int a = mesh_tcp_fb_handle_expiry(&w->f, w->now);

		if (a & MESH_TCP_FB_TO_TCP)
			w->switched_tcp_at = w->now;
		if (a & MESH_TCP_FB_TRY_UDP) {
			if (w->last_try && w->now - w->last_try > w->max_try_gap)
				w->max_try_gap = w->now - w->last_try;
			w->last_try = w->now;
			w->udp_tries++;
			mesh_tcp_fb_on_udp_sent(&w->f, w->now);
			if (w->udp_up && mesh_tcp_fb_on_udp_answer(&w->f, w->now + MSEC(20)))
				w->switched_udp_at = w->now + MSEC(20);
		}
	}
}

START_TEST(test_fb_silence_to_tcp_and_back)
{
	struct fb_world w;

	memset(&w, 0, sizeof w);
	mesh_tcp_fb_init(&w.f);
	w.now = SEC(1000);
	w.next_send = w.now;
	w.udp_up = true;
	fb_step_to(&w, SEC(1060));
	ck_assert_int_eq(w.f.mode, MESH_TCP_FB_UDP);
	ck_assert_uint_eq(w.f.switches_to_tcp, 0);
	/* UDP blocked after the send at 1060 s: the one at 1061 s is the first
	 * unanswered */
	w.udp_up = false;
	fb_step_to(&w, SEC(1100));
	ck_assert_int_eq(w.f.mode, MESH_TCP_FB_TCP);
	ck_assert_uint_eq(w.switched_tcp_at, SEC(1061) + MSEC(MESH_TCP_FB_UDP_SILENT_MS));
	/* retries: every 15 s while on TCP */
	ck_assert_int_ge(w.udp_tries, 2);
	ck_assert_uint_eq(w.max_try_gap, MSEC(MESH_TCP_FB_UDP_RETRY_MS));
	/* UDP back at 1100.5 s: in use again within 30 s */
	fb_step_to(&w, SEC(1100) + MSEC(500));
	w.udp_up = true;
	mtime_ns back = w.now;

	fb_step_to(&w, SEC(1200));
	ck_assert_int_eq(w.f.mode, MESH_TCP_FB_UDP);
	ck_assert_uint_eq(w.f.switches_to_udp, 1);
	ck_assert_uint_gt(w.switched_udp_at, back);
	ck_assert_uint_lt(w.switched_udp_at - back, SEC(30));
	ck_assert_uint_le(w.switched_udp_at - back, MSEC(MESH_TCP_FB_UDP_RETRY_MS) + MSEC(20));
	ck_assert_uint_eq(w.f.switches_to_tcp, 1);
}
END_TEST

START_TEST(test_fb_worst_case_return)
{
	/* UDP comes back just after each possible retry phase: the return
	 * always happens within 30 s */
	for (int ms = 1; ms < MESH_TCP_FB_UDP_RETRY_MS; ms += 997) {
		struct fb_world w;

		memset(&w, 0, sizeof w);
		mesh_tcp_fb_init(&w.f);
		w.now = SEC(50);
		w.next_send = w.now;
		w.udp_up = false;
		fb_step_to(&w, SEC(80));
		ck_assert_int_eq(w.f.mode, MESH_TCP_FB_TCP);
		fb_step_to(&w, SEC(80) + MSEC(ms));
		w.udp_up = true;
		mtime_ns back = w.now;

		fb_step_to(&w, SEC(200));
		ck_assert_int_eq(w.f.mode, MESH_TCP_FB_UDP);
		ck_assert_msg(w.switched_udp_at - back < SEC(30), "phase %d ms", ms);
	}
}
END_TEST

START_TEST(test_fb_send_error_and_quiet)
{
	struct mesh_tcp_fb f;

	mesh_tcp_fb_init(&f);
	/* nothing sent: no deadline, no switch however long we wait */
	ck_assert_uint_eq(mesh_tcp_fb_next_expiry(&f), MTIME_NEVER);
	ck_assert_int_eq(mesh_tcp_fb_handle_expiry(&f, SEC(1000)), 0);
	/* 2.999 s unanswered is not enough; an answer resets */
	mesh_tcp_fb_on_udp_sent(&f, SEC(10));
	mesh_tcp_fb_on_udp_sent(&f, SEC(11));	/* keeps the first time */
	ck_assert_uint_eq(mesh_tcp_fb_next_expiry(&f), SEC(10) + MSEC(MESH_TCP_FB_UDP_SILENT_MS));
	ck_assert_int_eq(mesh_tcp_fb_handle_expiry(&f, SEC(13) - 1), 0);
	ck_assert(!mesh_tcp_fb_on_udp_answer(&f, SEC(13) - 1));
	ck_assert_uint_eq(mesh_tcp_fb_next_expiry(&f), MTIME_NEVER);
	/* a send error switches at once */
	ck_assert(mesh_tcp_fb_on_udp_error(&f, SEC(20)));
	ck_assert_int_eq(f.mode, MESH_TCP_FB_TCP);
	ck_assert(!mesh_tcp_fb_on_udp_error(&f, SEC(21)));
	ck_assert_uint_eq(mesh_tcp_fb_next_expiry(&f), SEC(20) + MSEC(MESH_TCP_FB_UDP_RETRY_MS));
	/* a late timer does not cause catch-up bursts */
	ck_assert_int_eq(mesh_tcp_fb_handle_expiry(&f, SEC(100)), MESH_TCP_FB_TRY_UDP);
	ck_assert_uint_eq(mesh_tcp_fb_next_expiry(&f), SEC(100) + MSEC(MESH_TCP_FB_UDP_RETRY_MS));
	ck_assert(mesh_tcp_fb_on_udp_answer(&f, SEC(101)));
	ck_assert_int_eq(f.mode, MESH_TCP_FB_UDP);
}
END_TEST

static void entry(struct mesh_tcp_entry *e, uint8_t id, uint32_t rtt, bool usable)
{
	memset(e->node_id, id, MESH_NODE_ID_LEN);
	e->rtt_ms = rtt;
	e->usable = usable;
}

START_TEST(test_fb_pick_entry)
{
	struct mesh_tcp_entry e[5] = { 0 };

	ck_assert_int_eq(mesh_tcp_fb_pick_entry(e, 0), -1);
	entry(&e[0], 1, 0, true);	/* unknown RTT */
	entry(&e[1], 2, 80, true);
	entry(&e[2], 3, 20, false);	/* best but failed recently */
	entry(&e[3], 4, 30, true);
	entry(&e[4], 5, 30, true);	/* tie: lower id (4) wins */
	ck_assert_int_eq(mesh_tcp_fb_pick_entry(e, 5), 3);
	e[2].usable = true;
	ck_assert_int_eq(mesh_tcp_fb_pick_entry(e, 5), 2);
	for (int i = 1; i < 5; i++)
		e[i].usable = false;
	ck_assert_int_eq(mesh_tcp_fb_pick_entry(e, 5), 0);
	e[0].usable = false;
	ck_assert_int_eq(mesh_tcp_fb_pick_entry(e, 5), -1);
}
END_TEST

static Suite *suite_tcpframe(void)
{
	Suite *s = suite_create("tcpframe");
	TCase *dec_tc = tcase_create("decoder");
	TCase *ring_tc = tcase_create("ring");
	TCase *auth_tc = tcase_create("auth");
	TCase *fb_tc = tcase_create("fallback");

	tcase_add_test(dec_tc, test_dec_byte_at_a_time);
	tcase_add_test(dec_tc, test_dec_random_chunks);
	tcase_add_test(dec_tc, test_dec_one_big_chunk);
	tcase_add_test(dec_tc, test_dec_zero_length);
	tcase_add_test(dec_tc, test_dec_oversize);
	suite_add_tcase(s, dec_tc);
	tcase_add_test(ring_tc, test_ring_matches_model);
	tcase_add_test(ring_tc, test_ring_drop_oldest_accounting);
	suite_add_tcase(s, ring_tc);
	tcase_add_test(auth_tc, test_auth_success);
	tcase_add_test(auth_tc, test_auth_wrong_key);
	tcase_add_test(auth_tc, test_auth_wrong_mesh);
	tcase_add_test(auth_tc, test_auth_wrong_server);
	tcase_add_test(auth_tc, test_auth_unknown_member);
	tcase_add_test(auth_tc, test_auth_stale_challenge);
	tcase_add_test(auth_tc, test_auth_timeout);
	tcase_add_test(auth_tc, test_auth_bad_first_frames);
	tcase_add_test(auth_tc, test_join_mode);
	tcase_add_test(auth_tc, test_srv_idle_and_stall);
	tcase_add_test(auth_tc, test_srv_flood_closed);
	tcase_add_test(auth_tc, test_cli_timeout_and_keepalive);
	suite_add_tcase(s, auth_tc);
	tcase_add_test(fb_tc, test_fb_silence_to_tcp_and_back);
	tcase_add_test(fb_tc, test_fb_worst_case_return);
	tcase_add_test(fb_tc, test_fb_send_error_and_quiet);
	tcase_add_test(fb_tc, test_fb_pick_entry);
	suite_add_tcase(s, fb_tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_tcpframe());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
