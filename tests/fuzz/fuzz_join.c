/* libFuzzer harness for the join protocol's inputs: the datagrams the
 * inviter (mesh_join_inviter_handle) and a waiting joiner
 * (mesh_join_joiner_input) receive from the network.
 *
 * The first input byte picks the mode, the rest is the input:
 *   0: a datagram to the inviter, as is;
 *   1: a datagram to the joiner (waiting for its request), as is; with bit 2
 *      of the mode byte set, bytes 2-17 become the joiner's request id (it
 *      is random per run) so JOIN_ERR and JOIN_RESP reach the checks;
 *   2: a JOIN_REQ to the inviter: when it decodes, it is re-signed with the
 *      invite key first, so mutations reach the time check, admit() and
 *      the response;
 *   3: the plaintext of a JOIN_RESP: sealed to the joiner for its request
 *      id, so mutations reach the decoder behind the box and the checks.
 * Nothing may crash, every reply fits a datagram, and every message that
 * decodes is canonical (encoding it again gives back the same bytes). */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <sodium.h>

#include "mesh/join.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000 };

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t invite_pk[MESH_PK_LEN], invite_sk[MESH_SK_LEN];
static uint8_t invite_id[MESH_JOIN_INVITE_ID_LEN];
static uint8_t wg_pk[32], wg_sk[32], sign_pk[32];
static struct mesh_prefix p4, p6;
static struct mesh_join_inviter inv;
static struct mesh_join_joiner joiner_template, joiner;
static unsigned uses_left, nadmitted;

static int fz_lookup(void *ctx, const uint8_t *id, struct mesh_join_invite *out)
{
	if (memcmp(id, invite_id, sizeof invite_id) != 0)
		return MESHD_E_NOENT;
	memcpy(out->pk, invite_pk, sizeof invite_pk);
	out->expires_at = NOW + 3600;
	out->uses_left = uses_left;
	return 0;
}

static int fz_admit(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg,
    const uint8_t *spk, uint64_t now, struct mesh_cert *c)
{
	uint8_t a[16];

	if (uses_left == 0)
		return MESH_JOIN_R_USED_UP;
	if (strcmp(name, "alpha") == 0)
		return MESH_JOIN_R_NAME_TAKEN;
	memset(c, 0, sizeof *c);
	c->version = MESH_CERT_VERSION;
	mesh_identity_mesh_id(auth_pk, c->mesh_id);
	memset(c->node_id, 0x11, sizeof c->node_id);
	strcpy(c->name, name);
	memcpy(c->wg_pubkey, wg, 32);
	memcpy(c->sign_pk, spk, 32);
	if (mesh_identity_addr_for(&p4, c->node_id, 0, a) != 0)
		abort();
	memcpy(c->ipv4, a, 4);
	if (mesh_identity_addr_for(&p6, c->node_id, 0, a) != 0)
		abort();
	memcpy(c->ipv6, a, 16);
	c->issued_at = now;
	c->expires_at = now + 86400;
	if (mesh_cert_sign(c, auth_sk) != 0)
		abort();
	uses_left--;
	nadmitted++;
	return 0;
}

static void fz_send(void *ctx, const union endpoint *dst, const uint8_t *p, size_t n)
{
	if (n > MESH_MSG_DGRAM_MAX)
		abort();
}

static void setup(void)
{
	struct mesh_join_inviter_cfg cfg;
	struct mesh_token tok;
	uint8_t seed[32], mid[MESH_ID_LEN];

	if (sodium_init() < 0)
		abort();
	/* fixed keys: a deterministic harness */
	memset(seed, 1, sizeof seed);
	crypto_sign_seed_keypair(auth_pk, auth_sk, seed);
	memset(seed, 2, sizeof seed);
	crypto_box_seed_keypair(wg_pk, wg_sk, seed);
	memset(sign_pk, 3, sizeof sign_pk);
	mesh_identity_mesh_id(auth_pk, mid);
	mesh_identity_ipv4_prefix(5, &p4);
	mesh_identity_ula_prefix(mid, &p6);

	memset(&tok, 0, sizeof tok);
	memcpy(tok.mesh_id, mid, sizeof tok.mesh_id);
	memset(tok.secret, 4, sizeof tok.secret);
	tok.expires_at = NOW + 3600;
	tok.nep = 1;
	if (endpoint_parse(&tok.ep[0], "192.0.2.1:51820", false) != 0 ||
	    mesh_join_invite_keypair(tok.secret, invite_pk, invite_sk) != 0)
		abort();
	mesh_join_invite_id(invite_pk, invite_id);
	if (mesh_join_joiner_start(&joiner_template, &tok, "beta", wg_pk, wg_sk, sign_pk, 0, NOW,
	    fz_send, NULL) != 0)
		abort();

	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.authority_pk, auth_pk, sizeof auth_pk);
	strcpy(cfg.mesh_name, "home");
	cfg.prefix4 = p4;
	cfg.prefix6 = p6;
	cfg.ops.lookup = fz_lookup;
	cfg.ops.admit = fz_admit;
	if (mesh_join_inviter_init(&inv, &cfg) != 0)
		abort();
}

static void to_inviter(const uint8_t *p, size_t n)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX], again[MESH_MSG_DGRAM_MAX];
	size_t rlen = sizeof reply, alen = sizeof again;
	unsigned admitted = nadmitted;
	union endpoint src;

	/* every input starts from an empty cache: runs are reproducible */
	memset(inv.cache, 0, sizeof inv.cache);
	memset(inv.src, 0, sizeof inv.src);
	memset(&inv.budget, 0, sizeof inv.budget);
	uses_left = 1;
	memset(&src, 0, sizeof src);
	src.sin.sin_family = AF_INET;
	src.sin.sin_port = htons(40000);
	src.sin.sin_addr.s_addr = htonl(0xc6336407);	/* 198.51.100.7 */
	if (mesh_join_inviter_handle(&inv, &src, p, n, 0, NOW, reply, &rlen) != 0 ||
	    rlen > MESH_MSG_DGRAM_MAX)
		abort();
	/* the same bytes again: the same answer, no second admission */
	if (mesh_join_inviter_handle(&inv, &src, p, n, 0, NOW, again, &alen) != 0)
		abort();
	if (nadmitted > admitted + 1)
		abort();
	if (nadmitted == admitted + 1 && (alen != rlen || memcmp(again, reply, rlen) != 0))
		abort();
}

static void check_req(const uint8_t *p, size_t n)
{
	struct mesh_join_req req;
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN];
	struct wr w;

	if (mesh_join_req_decode(p, n, &req) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	if (mesh_join_req_encode(&req, &w) != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
}

static void check_err(const uint8_t *p, size_t n)
{
	struct mesh_join_err e;
	uint8_t buf[MESH_JOIN_ERR_LEN];
	struct wr w;

	if (mesh_join_err_decode(p, n, &e) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	if (mesh_join_err_encode(&e, &w) != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
}

static void to_joiner(const uint8_t *p, size_t n)
{
	int o;

	memcpy(&joiner, &joiner_template, sizeof joiner);
	o = mesh_join_joiner_input(&joiner, p, n, NULL, MSEC(100));
	if (o < 0 || o >= MESH_JOIN_OUTCOME_END)
		abort();
	if (o == MESH_JOIN_OK && mesh_join_joiner_result(&joiner) == NULL)
		abort();
}

/* mode 2 */
static void signed_req(const uint8_t *p, size_t n)
{
	struct mesh_join_req req;
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN];
	struct wr w;

	if (mesh_join_req_decode(p, n, &req) != 0) {
		to_inviter(p, n);
		return;
	}
	if (mesh_join_req_sign(&req, invite_sk) != 0)
		abort();
	wr_init(&w, buf, sizeof buf);
	if (mesh_join_req_encode(&req, &w) != 0)
		abort();
	to_inviter(buf, w.off);
}

/* mode 3 */
static void sealed_resp(const uint8_t *p, size_t n)
{
	uint8_t dg[MESH_MSG_DGRAM_MAX], dg2[MESH_MSG_DGRAM_MAX], rid[16];
	struct mesh_join_resp a, b;
	struct wr w;
	size_t len;

	if (n > MESH_JOIN_RESP_PLAIN_MAX)
		return;
	dg[0] = MESH_MSG_MAGIC;
	dg[1] = MESH_MSG_JOIN_RESP;
	memcpy(dg + 2, joiner_template.request_id, 16);
	if (crypto_box_seal(dg + MESH_JOIN_RESP_OUTER_LEN - MESH_JOIN_SEAL_LEN, p, n, wg_pk) != 0)
		abort();
	len = MESH_JOIN_RESP_OUTER_LEN + n;
	to_joiner(dg, len);
	if (mesh_join_resp_open(dg, len, wg_pk, wg_sk, rid, &a) != 0)
		return;
	/* canonical: sealing what was decoded gives the same plaintext length
	 * and the same decoded response */
	if (mesh_join_resp_len(&a) != len)
		abort();
	wr_init(&w, dg2, sizeof dg2);
	if (mesh_join_resp_seal(&a, rid, wg_pk, &w) != 0 || w.off != len ||
	    mesh_join_resp_open(dg2, w.off, wg_pk, wg_sk, rid, &b) != 0 ||
	    memcmp(&a, &b, sizeof a) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1 || size - 1 > MESH_MSG_DGRAM_MAX)
		return 0;
	switch (data[0] & 3) {
	case 0:
		check_req(data + 1, size - 1);
		to_inviter(data + 1, size - 1);
		break;
	case 1:
		check_err(data + 1, size - 1);
		if ((data[0] & 4) != 0 && size - 1 >= MESH_MSG_HDR_LEN + MESH_JOIN_REQUEST_ID_LEN) {
			uint8_t p[MESH_MSG_DGRAM_MAX];

			memcpy(p, data + 1, size - 1);
			memcpy(p + MESH_MSG_HDR_LEN, joiner_template.request_id,
			    MESH_JOIN_REQUEST_ID_LEN);
			to_joiner(p, size - 1);
		} else {
			to_joiner(data + 1, size - 1);
		}
		break;
	case 2:
		signed_req(data + 1, size - 1);
		break;
	default:
		sealed_resp(data + 1, size - 1);
		break;
	}
	return 0;
}
