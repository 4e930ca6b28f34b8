/* libFuzzer harness for the relay layer (mesh/relay.h): the bytes are one
 * underlay datagram, fed to the three entry points the daemon calls with it.
 *
 *   - mesh_relay_forward() as relay R, from member A's endpoint. On success
 *     the rewritten datagram must be a strict RELAYED from A, same length,
 *     inner bytes unchanged, addressed to B's endpoint.
 *   - mesh_relay_receive() as B, from relay R's endpoint. On success the
 *     inner datagram must be the input's tail, moved to the buffer start,
 *     and its synthetic source must resolve to (R, origin).
 *   - mesh_relay_decode() of the input, and when it decodes, a re-encode
 *     must give back the same bytes; mesh_relay_wrap() of its inner to a
 *     synthetic endpoint must decode again to the same inner.
 *
 * Members: A 0xa0.., B 0xa1.., R 0xa2.. (the relay B uses), all live; a
 * node is not its own member (as in the daemon: we are not our own peer). The
 * relay state (buckets, synthetic table) persists across inputs, as in the
 * daemon; "now" advances 1 ms per input. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/relay.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { M_A, M_B, M_R, M_N };

static uint8_t ids[M_N][MESH_NODE_ID_LEN];
static union endpoint eps[M_N];
static struct mesh_relay *relay_r, *relay_b;
static mtime_ns now;

/* ctx: the index of the node asking; it is not its own member. */
static bool member_at(void *ctx, const union endpoint *src, uint8_t id[MESH_NODE_ID_LEN])
{
	const int *self = ctx;

	for (int i = 0; i < M_N; i++)
		if (i != *self && endpoint_eq(&eps[i], src)) {
			memcpy(id, ids[i], MESH_NODE_ID_LEN);
			return true;
		}
	return false;
}

static bool member_endpoint(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], union endpoint *out)
{
	const int *self = ctx;

	for (int i = 0; i < M_N; i++)
		if (i != *self && memcmp(ids[i], id, MESH_NODE_ID_LEN) == 0) {
			*out = eps[i];
			return true;
		}
	return false;
}

static bool is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	(void)ctx;
	return memcmp(ids[M_R], id, MESH_NODE_ID_LEN) == 0;
}

static void init(void)
{
	static const char *const addr[M_N] = {
		"192.0.2.1:51820", "[2001:db8::2]:51821", "203.0.113.3:51820",
	};
	static const int self_r = M_R, self_b = M_B;
	struct mesh_relay_cfg cfg = {
		.member_at = member_at,
		.member_endpoint = member_endpoint,
		.is_relay = is_relay,
		.ctx = (void *)&self_r,
		.offer = true,
	};
	int err;

	for (int i = 0; i < M_N; i++) {
		memset(ids[i], 0xa0 + i, MESH_NODE_ID_LEN);
		if (endpoint_parse(&eps[i], addr[i], false) != 0)
			abort();
	}
	relay_r = mesh_relay_new(&cfg, &err);
	cfg.offer = false;
	cfg.ctx = (void *)&self_b;
	relay_b = mesh_relay_new(&cfg, &err);
	if (!relay_r || !relay_b)
		abort();
	now = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	alignas(8) static uint8_t buf[MESH_RELAY_DGRAM_MAX + 64];
	static uint8_t out[MESH_RELAY_DGRAM_MAX + 64];
	uint8_t rid[MESH_NODE_ID_LEN], pid[MESH_NODE_ID_LEN];
	struct mesh_relay_msg m, m2;
	union endpoint to, synth;
	size_t il, n;

	if (!relay_r)
		init();
	now += 1000000;
	if (size > sizeof buf)
		return 0;

	/* R: forward */
	memcpy(buf, data, size);
	if (mesh_relay_forward(relay_r, buf, size, &eps[M_A], now, &to) == 0) {
		if (mesh_relay_decode(buf, size, &m) != 0 || m.type != MESH_MSG_RELAYED ||
		    memcmp(m.id, ids[M_A], MESH_NODE_ID_LEN) != 0 ||
		    memcmp(buf + MESH_RELAY_HDR_LEN, data + MESH_RELAY_HDR_LEN,
			size - MESH_RELAY_HDR_LEN) != 0 || !endpoint_eq(&to, &eps[M_B]))
			abort();
	}

	/* B: receive */
	memcpy(buf, data, size);
	if (mesh_relay_receive(relay_b, buf, size, &eps[M_R], now, &il, &synth) == 0) {
		if (il + MESH_RELAY_HDR_LEN != size ||
		    memcmp(buf, data + MESH_RELAY_HDR_LEN, il) != 0 ||
		    !mesh_relay_is_synth(&synth) ||
		    !mesh_relay_synth_lookup(relay_b, &synth, now, rid, pid) ||
		    memcmp(rid, ids[M_R], MESH_NODE_ID_LEN) != 0 ||
		    memcmp(pid, data + MESH_MSG_HDR_LEN, MESH_NODE_ID_LEN) != 0)
			abort();
	}

	/* codec round trip and the sending side */
	if (mesh_relay_decode(data, size, &m) == 0) {
		n = mesh_relay_encode(m.type, m.id, m.inner, m.inner_len, out, sizeof out);
		if (n != size || memcmp(out, data, size) != 0)
			abort();
		mesh_relay_synth_make(relay_b, ids[M_R], m.id, now, &synth);
		n = mesh_relay_wrap(relay_b, &synth, m.inner, m.inner_len, out, sizeof out, now,
		    &to);
		if (n != size || mesh_relay_decode(out, n, &m2) != 0 ||
		    m2.type != MESH_MSG_RELAY || memcmp(m2.id, m.id, MESH_NODE_ID_LEN) != 0 ||
		    memcmp(m2.inner, m.inner, m.inner_len) != 0 || !endpoint_eq(&to, &eps[M_R]))
			abort();
	}
	return 0;
}
