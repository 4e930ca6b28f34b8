/* Cost of junk underlay mesh datagrams from hostile hosts, per type:
 * microseconds per packet for RELAY/RELAYED from spoofed addresses at 100
 * and 1000 members (the member table is a flat array walked like the
 * node's), and for JOIN_REQ with a known invite id and a junk signature.
 *
 * Not part of `make check`. Build from a configured build directory:
 *   make bench/bench_junk && ./bench/bench_junk
 * Build it against an older relay.c to get the "before" numbers.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mesh/join.h"
#include "mesh/relay.h"
#include "util/err.h"

enum { MEMBERS_MAX = 1000, PKTS = 200000, JOIN_PKTS = 2000 };

static size_t nmem;
static uint8_t ids[MEMBERS_MAX][MESH_NODE_ID_LEN];
static union endpoint eps[MEMBERS_MAX];

static bool member_at(void *ctx, const union endpoint *src, uint8_t id[MESH_NODE_ID_LEN])
{
	(void)ctx;
	for (size_t i = 0; i < nmem; i++)
		if (endpoint_eq(&eps[i], src)) {
			memcpy(id, ids[i], MESH_NODE_ID_LEN);
			return true;
		}
	return false;
}

static bool member_endpoint(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], union endpoint *out)
{
	(void)ctx;
	for (size_t i = 0; i < nmem; i++)
		if (memcmp(ids[i], id, MESH_NODE_ID_LEN) == 0) {
			*out = eps[i];
			return true;
		}
	return false;
}

static bool is_relay(void *ctx, const uint8_t id[MESH_NODE_ID_LEN])
{
	(void)ctx;
	(void)id;
	return true;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ep_v4(union endpoint *ep, uint32_t a, uint16_t port)
{
	memset(ep, 0, sizeof *ep);
	ep->sin.sin_family = AF_INET;
	ep->sin.sin_addr.s_addr = htonl(a);
	ep->sin.sin_port = htons(port);
}

/* type: RELAY to a real member (worst case: the attacker knows an id) or
 * RELAYED; 48-byte datagrams from a new spoofed address each. */
static double bench_relay(size_t members, uint8_t type)
{
	struct mesh_relay_cfg cfg = {
		.member_at = member_at, .member_endpoint = member_endpoint,
		.is_relay = is_relay, .offer = true,
	};
	uint8_t inner[30] = { 4 }, buf[64];
	union endpoint src, to, syn;
	struct mesh_relay *r;
	size_t n, il;
	double t0, t1;
	int err;

	nmem = members;
	for (size_t i = 0; i < members; i++) {
		randombytes_buf(ids[i], MESH_NODE_ID_LEN);
		ep_v4(&eps[i], 0xc6120000u + (uint32_t)i, 51820);
	}
	r = mesh_relay_new(&cfg, &err);
	if (r == NULL)
		abort();
	t0 = now_s();
	for (uint32_t k = 0; k < PKTS; k++) {
		n = mesh_relay_encode(type, ids[k % members], inner, sizeof inner, buf, sizeof buf);
		ep_v4(&src, 0x0a000000u + k, (uint16_t)(1024 + k % 60000));
		if (type == MESH_MSG_RELAY)
			(void)mesh_relay_forward(r, buf, n, &src, SEC(1) + k * USEC(10), &to);
		else
			(void)mesh_relay_receive(r, buf, n, &src, SEC(1) + k * USEC(10), &il, &syn);
	}
	t1 = now_s();
	mesh_relay_free(r);
	return (t1 - t0) * 1e6 / PKTS;
}

/* ---- JOIN_REQ with a known invite id and a junk signature ---- */

static uint8_t inv_pk[MESH_PK_LEN];

static int lookup(void *ctx, const uint8_t id[MESH_JOIN_INVITE_ID_LEN],
    struct mesh_join_invite *out)
{
	(void)ctx;
	(void)id;
	memcpy(out->pk, inv_pk, MESH_PK_LEN);
	out->expires_at = UINT64_MAX;
	out->uses_left = 1;
	return 0;
}

static int admit(void *ctx, const uint8_t id[MESH_JOIN_INVITE_ID_LEN], const char *name,
    const uint8_t wg_pk[MESH_WG_KEY_LEN], const uint8_t sign_pk[MESH_PK_LEN],
    uint64_t now_unix, struct mesh_cert *cert)
{
	(void)ctx; (void)id; (void)name; (void)wg_pk; (void)sign_pk; (void)now_unix; (void)cert;
	return MESH_JOIN_R_INTERNAL;
}

static void bench_join(double *per_pkt, double *verify_us)
{
	static struct mesh_join_inviter inv;
	struct mesh_join_inviter_cfg cfg;
	uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN], sk[MESH_SK_LEN];
	uint8_t secret[MESH_TOKEN_SECRET_LEN], reqb[MESH_JOIN_REQ_MAX_LEN];
	uint8_t reply[MESH_MSG_DGRAM_MAX], mesh_id[MESH_ID_LEN];
	struct mesh_join_req req;
	union endpoint src;
	size_t rlen;
	struct wr w;
	double t0, t1;

	crypto_sign_keypair(auth_pk, auth_sk);
	randombytes_buf(secret, sizeof secret);
	if (mesh_join_invite_keypair(secret, inv_pk, sk) != 0)
		abort();
	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.authority_pk, auth_pk, MESH_PK_LEN);
	strcpy(cfg.mesh_name, "bench");
	cfg.prefix4.family = MESH_FAMILY_V4;
	cfg.prefix4.addr[0] = 100;
	cfg.prefix4.addr[1] = 64;
	cfg.prefix4.len = 16;
	cfg.prefix6.family = MESH_FAMILY_V6;
	cfg.prefix6.addr[0] = 0xfd;
	cfg.prefix6.len = 48;
	cfg.ops.lookup = lookup;
	cfg.ops.admit = admit;
	if (mesh_join_inviter_init(&inv, &cfg) != 0)
		abort();
	mesh_identity_mesh_id(auth_pk, mesh_id);
	memset(&req, 0, sizeof req);
	mesh_join_invite_id(inv_pk, req.invite_id);
	memcpy(req.pin, mesh_id, sizeof req.pin);
	strcpy(req.name, "x");
	randombytes_buf(req.wg_pk, sizeof req.wg_pk);
	req.time = (uint64_t)time(NULL);
	/* junk, but canonical (S < 2^252): libsodium rejects a non-canonical
	 * S before any curve arithmetic, a canonical one costs a full check */
	randombytes_buf(req.sig, sizeof req.sig);
	req.sig[MESH_SIG_LEN - 1] &= 0x0f;
	t0 = now_s();
	for (int k = 0; k < JOIN_PKTS; k++) {
		randombytes_buf(req.request_id, sizeof req.request_id);
		wr_init(&w, reqb, sizeof reqb);
		if (mesh_join_req_encode(&req, &w) != 0)
			abort();
		ep_v4(&src, 0x0a000000u + (uint32_t)k, 1024);
		rlen = sizeof reply;
		(void)mesh_join_inviter_handle(&inv, &src, reqb, w.off, SEC(1) + (mtime_ns)k * USEC(100),
		    req.time, reply, &rlen);
	}
	t1 = now_s();
	*per_pkt = (t1 - t0) * 1e6 / JOIN_PKTS;
	t0 = now_s();
	for (int k = 0; k < JOIN_PKTS; k++)
		(void)mesh_join_req_verify(&req, inv_pk);
	t1 = now_s();
	*verify_us = (t1 - t0) * 1e6 / JOIN_PKTS;
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(auth_sk, sizeof auth_sk);
	mesh_join_inviter_clear(&inv);
}

int main(void)
{
	static const size_t sizes[] = { 100, 1000 };
	double join_pkt, verify;

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < 2; i++) {
		printf("relay    %4zu members: %.3f us/pkt\n", sizes[i],
		    bench_relay(sizes[i], MESH_MSG_RELAY));
		printf("relayed  %4zu members: %.3f us/pkt\n", sizes[i],
		    bench_relay(sizes[i], MESH_MSG_RELAYED));
	}
	bench_join(&join_pkt, &verify);
	printf("join-req junk sig, 10k pkt/s spoofed: %.3f us/pkt (one Ed25519 verify: %.1f us)\n",
	    join_pkt, verify);
	return 0;
}
