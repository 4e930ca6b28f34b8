/* libFuzzer harness for the TCP entry (mesh/tcpframe.h): the bytes a
 * stranger can send to a member's TCP port, and what an entry can send to
 * a client.
 *
 * The first input byte picks the mode, the second the chunk size:
 *   0: the rest is the stream an entry receives: decoded in chunks and each
 *      frame given to the server state machine, as the daemon does;
 *   1: the rest is the stream a client receives from an entry;
 *   2: the rest drives the send ring: each byte pushes a frame of that
 *      length (x 9, so lengths reach past MESH_TCP_FRAME_MAX) or, when odd,
 *      drains that many bytes; the queued bytes must stay a valid stream.
 * Nothing may crash; the entry never forwards before a valid AUTH, decoder
 * errors stay sticky, the ring's bytes always decode to its frame count.
 * The challenge is all zeros here, so the seed tests/fuzz/corpus/tcpframe/
 * server_auth_data carries a valid AUTH by the member below and mutations
 * behind it reach the authenticated state. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/tcpframe.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mesh_id[MESH_ID_LEN], srv_key[MESH_TCP_KEY_LEN];
static uint8_t member_id[MESH_NODE_ID_LEN], member_pk_[MESH_PK_LEN], member_sk[MESH_SK_LEN];
static struct mesh_tcp_dec dec, check_dec;
static struct mesh_tcp_ring ring;

static void setup(void)
{
	uint8_t seed[32];

	if (sodium_init() < 0)
		abort();
	memset(mesh_id, 1, sizeof mesh_id);
	memset(srv_key, 2, sizeof srv_key);
	memset(member_id, 3, sizeof member_id);
	memset(seed, 4, sizeof seed);
	crypto_sign_seed_keypair(member_pk_, member_sk, seed);
}

static bool member_pk(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], uint8_t pk[MESH_PK_LEN])
{
	(void)ctx;
	if (memcmp(id, member_id, MESH_NODE_ID_LEN) != 0)
		return false;
	memcpy(pk, member_pk_, MESH_PK_LEN);
	return true;
}

static void run_server(const uint8_t *p, size_t n, size_t chunk)
{
	struct mesh_tcp_srv s;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME], zero[MESH_TCP_CHALLENGE_LEN] = { 0 };
	mtime_ns now = SEC(10);
	size_t off = 0;

	mesh_tcp_srv_start_with(&s, mesh_id, srv_key, zero, now, ch);
	mesh_tcp_dec_init(&dec, 0);
	while (off < n && s.state != MESH_TCP_SRV_CLOSED) {
		const uint8_t *f;
		size_t flen, used, k = n - off < chunk ? n - off : chunk;
		int r = mesh_tcp_dec_feed(&dec, p + off, k, &used, &f, &flen);

		if (r < 0) {
			if (r != MESHD_E_PROTO && r != MESHD_E_RANGE)
				abort();
			size_t u2;
			if (mesh_tcp_dec_feed(&dec, p, n, &u2, &f, &flen) != r || u2 != 0)
				abort();	/* not sticky */
			return;
		}
		if (used == 0 || used > k)
			abort();
		off += used;
		now += MSEC(1);
		if (r == 1) {
			if (flen == 0 || flen > MESH_TCP_FRAME_MAX)
				abort();
			enum mesh_tcp_srv_state before = s.state;
			int v = mesh_tcp_srv_on_frame(&s, f, flen, member_pk, NULL, now);

			if (before == MESH_TCP_SRV_CHALLENGED && v == MESH_TCP_SRV_DATAGRAM)
				abort();	/* forwarded before auth */
			if (v < 0 && s.state != MESH_TCP_SRV_CLOSED)
				abort();
		}
		(void)mesh_tcp_srv_handle_expiry(&s, now);
	}
}

static void run_client(const uint8_t *p, size_t n, size_t chunk)
{
	struct mesh_tcp_cli c;
	uint8_t out[MESH_TCP_AUTH_FRAME];
	mtime_ns now = SEC(10);
	size_t off = 0;

	mesh_tcp_cli_start(&c, mesh_id, srv_key, member_id, now);
	mesh_tcp_dec_init(&dec, 0);
	while (off < n && c.state != MESH_TCP_CLI_FAILED) {
		const uint8_t *f;
		size_t flen, used, k = n - off < chunk ? n - off : chunk;
		int r = mesh_tcp_dec_feed(&dec, p + off, k, &used, &f, &flen);

		if (r < 0)
			return;
		off += used;
		now += MSEC(1);
		if (r == 1) {
			int v = mesh_tcp_cli_on_frame(&c, f, flen, member_sk, now, out);

			if (v < 0 && c.state != MESH_TCP_CLI_FAILED)
				abort();
		}
		(void)mesh_tcp_cli_handle_expiry(&c, now);
	}
}

/* The queued bytes must decode into whole frames (checks the framing after
 * drops); returns the number of frames. */
static size_t ring_frames(void)
{
	const uint8_t *p;
	size_t frames = 0;
	struct mesh_tcp_ring copy;

	memcpy(&copy, &ring, sizeof ring);
	mesh_tcp_dec_init(&check_dec, 0);
	/* a partly sent head: its bytes before head are gone; skip it */
	size_t skip = copy.head_rest;

	while (mesh_tcp_ring_used(&copy) > 0) {
		size_t n = mesh_tcp_ring_peek(&copy, &p), off = 0;

		if (skip > 0) {
			size_t k = n < skip ? n : skip;

			mesh_tcp_ring_consume(&copy, k);
			skip -= k;
			if (skip == 0 && copy.head_rest == 0)
				frames++;
			continue;
		}
		while (off < n) {
			const uint8_t *f;
			size_t flen, used;
			int r = mesh_tcp_dec_feed(&check_dec, p + off, n - off, &used, &f, &flen);

			if (r < 0)
				abort();
			frames += r == 1;
			off += used;
		}
		mesh_tcp_ring_consume(&copy, n);
	}
	if (mesh_tcp_dec_partial(&check_dec))
		abort();
	return frames;
}

static void run_ring(const uint8_t *p, size_t n)
{
	static uint8_t payload[MESH_TCP_FRAME_MAX + 300];

	memset(payload, 0xab, sizeof payload);
	mesh_tcp_ring_init(&ring);
	for (size_t i = 0; i < n; i++) {
		if (p[i] & 1) {
			const uint8_t *q;
			size_t k = mesh_tcp_ring_peek(&ring, &q);

			mesh_tcp_ring_consume(&ring, k < p[i] ? k : p[i]);
		} else {
			size_t len = (size_t)p[i] * 9;
			int r = mesh_tcp_ring_push(&ring, payload, len);

			if ((len == 0 || len > MESH_TCP_FRAME_MAX) != (r == MESHD_E_RANGE))
				abort();
		}
		if (mesh_tcp_ring_used(&ring) > MESH_TCP_RING_LEN)
			abort();
	}
	if (ring_frames() != ring.frames)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 2)
		return 0;
	size_t chunk = 1 + data[1];

	switch (data[0] % 3) {
	case 0:
		run_server(data + 2, size - 2, chunk);
		break;
	case 1:
		run_client(data + 2, size - 2, chunk);
		break;
	default:
		run_ring(data + 2, size - 2);
		break;
	}
	return 0;
}
