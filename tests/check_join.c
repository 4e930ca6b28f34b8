/* The join protocol (mesh/join.h): invite keys, the three messages, and the
 * inviter and joiner state machines driven against each other in memory with
 * a virtual clock, a fake network (a queue with loss) and a fake store that
 * plays the authority (admit() signs with mesh_cert_sign()). */
#include <check.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/join.h"
#include "mesh/records.h"
#include "mesh/token.h"
#include "util/err.h"

enum { NOW = 1800000000 };	/* 2027-01-15 */

/* ---- keys ---- */

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t other_pk[MESH_PK_LEN], other_sk[MESH_SK_LEN];
static uint8_t mesh_id[MESH_ID_LEN];

/* ---- fake store: the authority's side of admit() ---- */

enum { STORE_MAX = JOIN_CACHE_N + 8 };

struct fake_invite {
	uint8_t id[MESH_JOIN_INVITE_ID_LEN];
	struct mesh_join_invite inv;
};

struct fake_store {
	struct fake_invite invites[STORE_MAX];
	unsigned ninvites;
	char names[STORE_MAX][MESH_NAME_MAX + 1];
	unsigned nnames;
	struct mesh_prefix prefix4, prefix6;
	unsigned lookups, admits, admitted;
	/* the inviter node's own records, for the roster */
	uint8_t own_cert[MESH_CERT_MAX_LEN];
	size_t own_cert_len;
	uint8_t own_eps[MESH_ENDPOINTS_MAX_LEN];
	size_t own_eps_len;
	uint8_t revoke[MESH_REVOKE_LEN];
};

static struct fake_invite *store_invite(struct fake_store *st, const uint8_t *id)
{
	for (unsigned i = 0; i < st->ninvites; i++)
		if (memcmp(st->invites[i].id, id, MESH_JOIN_INVITE_ID_LEN) == 0)
			return &st->invites[i];
	return NULL;
}

static int fs_lookup(void *ctx, const uint8_t *id, struct mesh_join_invite *out)
{
	struct fake_store *st = ctx;
	struct fake_invite *fi = store_invite(st, id);

	st->lookups++;
	if (fi == NULL)
		return MESHD_E_NOENT;
	*out = fi->inv;
	return 0;
}

/* A signed certificate for the mesh of auth, as the authority makes it. */
static void make_cert(struct mesh_cert *c, const uint8_t *sk, const char *name,
    const uint8_t *wg_pk, const uint8_t *sign_pk, const struct mesh_prefix *p4,
    const struct mesh_prefix *p6, uint64_t now)
{
	uint8_t pk[MESH_PK_LEN], a[16];

	memset(c, 0, sizeof *c);
	c->version = MESH_CERT_VERSION;
	mesh_identity_sk_to_pk(sk, pk);
	mesh_identity_mesh_id(pk, c->mesh_id);
	mesh_identity_node_id_new(c->node_id);
	strcpy(c->name, name);
	memcpy(c->wg_pubkey, wg_pk, MESH_WG_KEY_LEN);
	memcpy(c->sign_pk, sign_pk, MESH_PK_LEN);
	ck_assert_int_eq(mesh_identity_addr_for(p4, c->node_id, 0, a), 0);
	memcpy(c->ipv4, a, 4);
	ck_assert_int_eq(mesh_identity_addr_for(p6, c->node_id, 0, a), 0);
	memcpy(c->ipv6, a, 16);
	c->issued_at = now;
	c->expires_at = now + 30 * 86400;
	ck_assert_int_eq(mesh_cert_sign(c, sk), 0);
}

static int fs_admit(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg_pk,
    const uint8_t *sign_pk, uint64_t now, struct mesh_cert *cert)
{
	struct fake_store *st = ctx;
	struct fake_invite *fi = store_invite(st, id);

	st->admits++;
	if (fi == NULL)
		return MESH_JOIN_R_UNKNOWN_INVITE;
	if (now >= fi->inv.expires_at)
		return MESH_JOIN_R_EXPIRED;
	if (fi->inv.uses_left == 0)
		return MESH_JOIN_R_USED_UP;
	for (unsigned i = 0; i < st->nnames; i++)
		if (strcmp(st->names[i], name) == 0)
			return MESH_JOIN_R_NAME_TAKEN;
	if (st->nnames == STORE_MAX)
		return MESHD_E_FULL;
	make_cert(cert, auth_sk, name, wg_pk, sign_pk, &st->prefix4, &st->prefix6, now);
	fi->inv.uses_left--;
	strcpy(st->names[st->nnames++], name);
	st->admitted++;
	return 0;
}

static void fill_ep(struct mesh_ep *ep, uint8_t source, const char *a4, uint16_t port)
{
	memset(ep, 0, sizeof *ep);
	ep->source = source;
	ep->family = MESH_FAMILY_V4;
	ck_assert_int_eq(inet_pton(AF_INET, a4, ep->addr), 1);
	ep->port = port;
}

static int fs_roster(void *ctx, struct mesh_join_resp *resp)
{
	struct fake_store *st = ctx;
	struct mesh_ep ep;

	fill_ep(&ep, MESH_EP_LOCAL, "192.0.2.1", 51820);
	ck_assert_int_eq(mesh_join_resp_add_endpoint(resp, &ep), 0);
	ck_assert_int_eq(mesh_join_resp_add_record(resp, MESH_REC_CERT, st->own_cert,
	    st->own_cert_len), 0);
	ck_assert_int_eq(mesh_join_resp_add_record(resp, MESH_REC_ENDPOINTS, st->own_eps,
	    st->own_eps_len), 0);
	ck_assert_int_eq(mesh_join_resp_add_record(resp, MESH_REC_REVOKE, st->revoke,
	    sizeof st->revoke), 0);
	return 0;
}

/* ---- the world: one inviter, one joiner, a queue between them ---- */

enum { QUEUE_MAX = 64 };

struct pkt {
	union endpoint to;
	uint8_t p[MESH_MSG_DGRAM_MAX];
	size_t n;
};

struct world {
	struct mesh_join_inviter inv;
	struct mesh_join_joiner j;
	struct fake_store st;
	struct mesh_token tok;
	uint8_t secret[MESH_TOKEN_SECRET_LEN];
	uint8_t wg_pk[MESH_WG_KEY_LEN], wg_sk[MESH_WG_KEY_LEN];
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];
	mtime_ns now;			/* virtual monotonic clock */
	union endpoint src;		/* the joiner as the inviter sees it */
	int64_t joiner_skew;		/* joiner wall clock minus the inviter's */
	struct pkt q[QUEUE_MAX];	/* joiner -> network */
	unsigned qn;
	unsigned sent, sent_to[MESH_TOKEN_MAX_EP];
	unsigned drop_req, drop_resp;	/* drop the next n of each */
	bool unreachable;
	unsigned replies;
	uint8_t last_reply[MESH_MSG_DGRAM_MAX];
	size_t last_reply_len;
	uint8_t first_req[MESH_JOIN_REQ_MAX_LEN];
	size_t first_req_len;
};

static struct world W;

static uint64_t unix_now(void)
{
	return NOW + W.now / SEC(1);
}

static void net_send(void *ctx, const union endpoint *dst, const uint8_t *p, size_t n)
{
	struct world *w = ctx;

	ck_assert_uint_le(n, MESH_MSG_DGRAM_MAX);
	for (unsigned i = 0; i < w->tok.nep; i++)
		if (endpoint_eq(dst, &w->tok.ep[i]))
			w->sent_to[i]++;
	if (w->sent++ == 0) {
		memcpy(w->first_req, p, n);
		w->first_req_len = n;
	}
	if (w->unreachable)
		return;
	if (w->drop_req > 0) {
		w->drop_req--;
		return;
	}
	ck_assert_uint_lt(w->qn, QUEUE_MAX);
	w->q[w->qn].to = *dst;
	memcpy(w->q[w->qn].p, p, n);
	w->q[w->qn].n = n;
	w->qn++;
}

static void set_ep(union endpoint *ep, const char *s)
{
	ck_assert_int_eq(endpoint_parse(ep, s, false), 0);
}

static void world_setup(void)
{
	struct mesh_join_inviter_cfg cfg;
	struct fake_store *st = &W.st;
	struct mesh_endpoints e;
	struct mesh_revoke rv;
	struct mesh_cert own;
	uint8_t ipk[MESH_PK_LEN], isk[MESH_SK_LEN], own_wg[32], own_sign_pk[32], own_sign_sk[64];
	struct wr w;

	ck_assert_int_ge(sodium_init(), 0);
	memset(&W, 0, sizeof W);
	ck_assert_int_eq(mesh_identity_authority_keygen(auth_pk, auth_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(other_pk, other_sk), 0);
	mesh_identity_mesh_id(auth_pk, mesh_id);

	/* the mesh */
	mesh_identity_ipv4_prefix(7, &st->prefix4);
	mesh_identity_ula_prefix(mesh_id, &st->prefix6);

	/* the inviter node's own cert, endpoint record, and some revocation */
	randombytes_buf(own_wg, sizeof own_wg);
	ck_assert_int_eq(mesh_identity_authority_keygen(own_sign_pk, own_sign_sk), 0);
	make_cert(&own, auth_sk, "alpha", own_wg, own_sign_pk, &st->prefix4, &st->prefix6, NOW);
	wr_init(&w, st->own_cert, sizeof st->own_cert);
	ck_assert_int_eq(mesh_cert_encode(&own, &w), 0);
	st->own_cert_len = w.off;
	memset(&e, 0, sizeof e);
	e.version = MESH_ENDPOINTS_VERSION;
	memcpy(e.mesh_id, mesh_id, sizeof e.mesh_id);
	memcpy(e.node_id, own.node_id, sizeof e.node_id);
	e.seq = (uint64_t)NOW * 1000;
	e.timestamp = NOW;
	e.nep = 1;
	fill_ep(&e.ep[0], MESH_EP_LOCAL, "192.0.2.1", 51820);
	ck_assert_int_eq(mesh_endpoints_sign(&e, own_sign_sk), 0);
	wr_init(&w, st->own_eps, sizeof st->own_eps);
	ck_assert_int_eq(mesh_endpoints_encode(&e, &w), 0);
	st->own_eps_len = w.off;
	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	memcpy(rv.mesh_id, mesh_id, sizeof rv.mesh_id);
	memset(rv.node_id, 0x77, sizeof rv.node_id);
	rv.revoked_at = NOW - 100;
	ck_assert_int_eq(mesh_revoke_sign(&rv, auth_sk), 0);
	wr_init(&w, st->revoke, sizeof st->revoke);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	sodium_memzero(own_sign_sk, sizeof own_sign_sk);

	/* an invite: 1 use, 1 hour */
	randombytes_buf(W.secret, sizeof W.secret);
	ck_assert_int_eq(mesh_join_invite_keypair(W.secret, ipk, isk), 0);
	sodium_memzero(isk, sizeof isk);
	mesh_join_invite_id(ipk, st->invites[0].id);
	memcpy(st->invites[0].inv.pk, ipk, sizeof ipk);
	st->invites[0].inv.expires_at = NOW + 3600;
	st->invites[0].inv.uses_left = 1;
	st->ninvites = 1;
	strcpy(st->names[st->nnames++], "alpha");

	/* its token: two endpoints, both reach the inviter */
	memcpy(W.tok.mesh_id, mesh_id, sizeof W.tok.mesh_id);
	memcpy(W.tok.secret, W.secret, sizeof W.secret);
	W.tok.expires_at = NOW + 3600;
	W.tok.nep = 2;
	set_ep(&W.tok.ep[0], "192.0.2.1:51820");
	set_ep(&W.tok.ep[1], "[2001:db8::1]:51820");
	set_ep(&W.src, "198.51.100.7:40000");

	/* the joiner's keys */
	crypto_box_keypair(W.wg_pk, W.wg_sk);
	ck_assert_int_eq(mesh_identity_authority_keygen(W.sign_pk, W.sign_sk), 0);

	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.authority_pk, auth_pk, sizeof auth_pk);
	strcpy(cfg.mesh_name, "home");
	cfg.prefix4 = st->prefix4;
	cfg.prefix6 = st->prefix6;
	cfg.ops.lookup = fs_lookup;
	cfg.ops.admit = fs_admit;
	cfg.ops.roster = fs_roster;
	cfg.ctx = st;
	ck_assert_int_eq(mesh_join_inviter_init(&W.inv, &cfg), 0);
}

static void world_teardown(void)
{
	mesh_join_inviter_clear(&W.inv);
	mesh_join_joiner_clear(&W.j);
	mesh_token_clear(&W.tok);
	sodium_memzero(&W, sizeof W);
	sodium_memzero(auth_sk, sizeof auth_sk);
	sodium_memzero(other_sk, sizeof other_sk);
}

static int start(const char *name)
{
	return mesh_join_joiner_start(&W.j, &W.tok, name, W.wg_pk, W.wg_sk, W.sign_pk, W.now,
	    (uint64_t)((int64_t)unix_now() + W.joiner_skew), net_send, &W);
}

/* The inviter answers one datagram (at its wall clock); the reply goes back
 * to the joiner unless it is to be lost. */
static void inviter_answer(const uint8_t *p, size_t n)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	size_t rlen = sizeof reply;

	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, p, n, W.now, unix_now(), reply, &rlen), 0);
	if (rlen == 0)
		return;
	ck_assert_uint_le(rlen, MESH_MSG_DGRAM_MAX);
	W.replies++;
	memcpy(W.last_reply, reply, rlen);
	W.last_reply_len = rlen;
	if (W.drop_resp > 0) {
		W.drop_resp--;
		return;
	}
	(void)mesh_join_joiner_input(&W.j, reply, rlen, &W.tok.ep[0], W.now);
}

static void pump(void)
{
	unsigned i;

	for (i = 0; i < W.qn; i++)
		inviter_answer(W.q[i].p, W.q[i].n);
	W.qn = 0;
}

/* Runs until the joiner is done (or limit): deliver, then advance the clock
 * to the joiner's next expiry. Returns the outcome. */
static int run(mtime_ns limit)
{
	mtime_ns next;

	pump();
	while (W.j.outcome == MESH_JOIN_PENDING) {
		next = mesh_join_joiner_next_expiry(&W.j);
		if (next == MTIME_NEVER || next > limit)
			break;
		ck_assert_uint_ge(next, W.now);
		W.now = next;
		(void)mesh_join_joiner_handle_expiry(&W.j, W.now);
		pump();
	}
	return W.j.outcome;
}

static unsigned uses_left(void)
{
	return W.st.invites[0].inv.uses_left;
}

/* ---- invite key ---- */

START_TEST(test_invite_keypair_deterministic)
{
	uint8_t s1[16], s2[16], pk1[32], sk1[64], pk2[32], sk2[64], id1[8], id2[8];
	uint8_t h[32];

	memset(s1, 0x42, sizeof s1);
	memcpy(s2, s1, sizeof s2);
	ck_assert_int_eq(mesh_join_invite_keypair(s1, pk1, sk1), 0);
	ck_assert_int_eq(mesh_join_invite_keypair(s2, pk2, sk2), 0);
	ck_assert_mem_eq(pk1, pk2, 32);
	ck_assert_mem_eq(sk1, sk2, 64);
	s2[15] ^= 1;
	ck_assert_int_eq(mesh_join_invite_keypair(s2, pk2, sk2), 0);
	ck_assert(memcmp(pk1, pk2, 32) != 0);
	mesh_join_invite_id(pk1, id1);
	mesh_join_invite_id(pk2, id2);
	ck_assert(memcmp(id1, id2, 8) != 0);
	crypto_generichash(h, sizeof h, pk1, 32, NULL, 0);
	ck_assert_mem_eq(id1, h, 8);
	sodium_memzero(sk1, sizeof sk1);
	sodium_memzero(sk2, sizeof sk2);
}
END_TEST

/* ---- the state machines ---- */

START_TEST(test_joiner_input_happy_path)
{
	const struct mesh_join_result *res;
	struct mesh_cert c;
	unsigned i;

	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	ck_assert_uint_eq(W.sent, 1);
	ck_assert_uint_eq(W.now, 0);
	res = mesh_join_joiner_result(&W.j);
	ck_assert_ptr_nonnull(res);
	ck_assert(mesh_cert_verify(&res->cert, auth_pk, NOW));
	ck_assert_str_eq(res->cert.name, "beta");
	ck_assert_mem_eq(res->cert.wg_pubkey, W.wg_pk, 32);
	ck_assert_mem_eq(res->cert.sign_pk, W.sign_pk, 32);
	ck_assert_mem_eq(res->resp.authority_pk, auth_pk, 32);
	ck_assert_mem_eq(res->mesh_id, mesh_id, 32);
	ck_assert_str_eq(res->resp.mesh_name, "home");
	ck_assert_mem_eq(&res->resp.prefix4, &W.st.prefix4, sizeof W.st.prefix4);
	ck_assert_mem_eq(&res->resp.prefix6, &W.st.prefix6, sizeof W.st.prefix6);
	ck_assert(endpoint_eq(&res->from, &W.tok.ep[0]));
	ck_assert_uint_eq(res->resp.nep, 1);
	ck_assert_uint_eq(res->resp.ep[0].port, 51820);
	/* roster: certs first (the inviter's), then revocations, then endpoints */
	ck_assert_uint_eq(res->resp.nrec, 3);
	ck_assert_uint_eq(res->resp.rec[0].kind, MESH_REC_CERT);
	ck_assert_uint_eq(res->resp.rec[0].len, W.st.own_cert_len);
	ck_assert_mem_eq(res->resp.data + res->resp.rec[0].off, W.st.own_cert, W.st.own_cert_len);
	ck_assert_int_eq(mesh_cert_decode(res->resp.data + res->resp.rec[0].off,
	    res->resp.rec[0].len, &c), 0);
	ck_assert(mesh_cert_verify(&c, auth_pk, NOW));
	ck_assert_uint_eq(res->resp.rec[1].kind, MESH_REC_REVOKE);
	ck_assert_uint_eq(res->resp.rec[2].kind, MESH_REC_ENDPOINTS);
	ck_assert_mem_eq(res->resp.data + res->resp.rec[2].off, W.st.own_eps, W.st.own_eps_len);
	/* every roster record merges into a record set under the authority */
	{
		struct mesh_records_cfg rc = { .ctx = NULL };
		struct mesh_records *recs;
		int err;

		memcpy(rc.authority_pk, auth_pk, sizeof auth_pk);
		recs = mesh_records_new(&rc, &err);
		ck_assert_ptr_nonnull(recs);
		for (i = 0; i < res->resp.nrec; i++)
			ck_assert_int_eq(mesh_records_merge(recs, res->resp.rec[i].kind,
			    res->resp.data + res->resp.rec[i].off, res->resp.rec[i].len, NOW),
			    MESH_MERGE_NEW);
		mesh_records_free(recs);
	}
	ck_assert_uint_eq(uses_left(), 0);
	ck_assert_uint_eq(W.st.admits, 1);
	ck_assert_uint_le(W.last_reply_len, MESH_MSG_DGRAM_MAX);
	/* done: no more timers, the wg secret is gone */
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MTIME_NEVER);
	ck_assert(sodium_is_zero(W.j.wg_sk, sizeof W.j.wg_sk));
}
END_TEST

START_TEST(test_joiner_handle_expiry_lost_request)
{
	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;		/* the first request is lost */
	W.drop_req = 1;		/* and the first retransmit too */
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	ck_assert_uint_eq(W.sent, 3);
	/* in turn: ep0, ep1, ep0 */
	ck_assert_uint_eq(W.sent_to[0], 2);
	ck_assert_uint_eq(W.sent_to[1], 1);
	ck_assert_uint_eq(W.now, MSEC(250 + 500));
	ck_assert_uint_eq(W.st.admits, 1);
	ck_assert_uint_eq(uses_left(), 0);
}
END_TEST

START_TEST(test_inviter_handle_lost_response_answers_from_cache)
{
	uint8_t first[MESH_MSG_DGRAM_MAX];
	size_t first_len;

	W.drop_resp = 1;
	ck_assert_int_eq(start("beta"), 0);
	pump();
	ck_assert_int_eq(W.j.outcome, MESH_JOIN_PENDING);
	ck_assert_uint_eq(W.replies, 1);
	memcpy(first, W.last_reply, W.last_reply_len);
	first_len = W.last_reply_len;
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	ck_assert_uint_eq(W.sent, 2);
	ck_assert_uint_eq(W.replies, 2);
	/* the same bytes again, and one use consumed, once */
	ck_assert_uint_eq(W.last_reply_len, first_len);
	ck_assert_mem_eq(W.last_reply, first, first_len);
	ck_assert_uint_eq(W.st.admits, 1);
	ck_assert_uint_eq(W.st.admitted, 1);
	ck_assert_uint_eq(uses_left(), 0);
}
END_TEST

START_TEST(test_inviter_handle_replay_after_success)
{
	uint8_t first[MESH_MSG_DGRAM_MAX], reply[MESH_MSG_DGRAM_MAX];
	size_t first_len, rlen;

	W.st.invites[0].inv.uses_left = 5;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	memcpy(first, W.last_reply, W.last_reply_len);
	first_len = W.last_reply_len;
	/* a replay 100 s later gets the cached answer and burns nothing */
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req, W.first_req_len, W.now,
	    NOW + 100, reply, &rlen), 0);
	ck_assert_uint_eq(rlen, first_len);
	ck_assert_mem_eq(reply, first, first_len);
	ck_assert_uint_eq(W.st.admits, 1);
	ck_assert_uint_eq(uses_left(), 4);
	/* once the cache entry is gone, the time window has closed too */
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req, W.first_req_len, W.now,
	    NOW + JOIN_CACHE_S, reply, &rlen), 0);
	ck_assert_uint_eq(rlen, MESH_JOIN_ERR_LEN);
	ck_assert_uint_eq(reply[MESH_JOIN_ERR_LEN - 1], MESH_JOIN_R_BAD_REQUEST);
	ck_assert_uint_eq(W.st.admits, 1);
	ck_assert_uint_eq(uses_left(), 4);
}
END_TEST

START_TEST(test_inviter_handle_expired)
{
	W.st.invites[0].inv.expires_at = NOW - 1;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_EXPIRED);
	ck_assert_uint_eq(uses_left(), 1);
	ck_assert_ptr_null(mesh_join_joiner_result(&W.j));
}
END_TEST

START_TEST(test_inviter_handle_used_up)
{
	W.st.invites[0].inv.uses_left = 0;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_USED_UP);
}
END_TEST

START_TEST(test_inviter_handle_unknown_invite)
{
	W.st.ninvites = 0;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_UNKNOWN_INVITE);
	ck_assert_uint_eq(W.st.admits, 0);
}
END_TEST

START_TEST(test_inviter_handle_name_taken)
{
	ck_assert_int_eq(start("alpha"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_NAME_TAKEN);
	ck_assert_uint_eq(uses_left(), 1);
	ck_assert_uint_eq(W.st.admitted, 0);
}
END_TEST

/* admit() racing past the early checks (another join used the last use in
 * between) still yields the admit's reason. */
static int admit_used_up(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg_pk,
    const uint8_t *sign_pk, uint64_t now, struct mesh_cert *cert)
{
	((struct fake_store *)ctx)->admits++;
	return MESH_JOIN_R_USED_UP;
}

static int admit_fails(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg_pk,
    const uint8_t *sign_pk, uint64_t now, struct mesh_cert *cert)
{
	return MESHD_E_SYS;
}

START_TEST(test_inviter_handle_admit_reasons)
{
	W.inv.cfg.ops.admit = admit_used_up;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_USED_UP);
	ck_assert_uint_eq(W.st.admits, 1);
	mesh_join_joiner_clear(&W.j);
	W.inv.cfg.ops.admit = admit_fails;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_INTERNAL);
}
END_TEST

START_TEST(test_inviter_handle_bad_signature_silent)
{
	struct mesh_join_req req;
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN], reply[MESH_MSG_DGRAM_MAX], bad[16];
	uint8_t pk[32], sk[64];
	size_t rlen;
	struct wr w;

	/* someone who knows the invite id (it travels in clear) but holds the
	 * wrong secret */
	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	ck_assert_int_eq(mesh_join_req_decode(W.first_req, W.first_req_len, &req), 0);
	memset(bad, 0x99, sizeof bad);
	ck_assert_int_eq(mesh_join_invite_keypair(bad, pk, sk), 0);
	ck_assert_int_eq(mesh_join_req_sign(&req, sk), 0);
	sodium_memzero(sk, sizeof sk);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_join_req_encode(&req, &w), 0);
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, buf, w.off, W.now, NOW, reply, &rlen), 0);
	ck_assert_uint_eq(rlen, 0);
	ck_assert_uint_eq(W.st.admits, 0);
	ck_assert_uint_eq(uses_left(), 1);
	/* and a token with the wrong secret altogether: unknown invite id */
	mesh_join_joiner_clear(&W.j);
	memcpy(W.tok.secret, bad, sizeof bad);
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_UNKNOWN_INVITE);
	ck_assert_uint_eq(W.st.admits, 0);
}
END_TEST

START_TEST(test_inviter_handle_pin_mismatch)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_err e;
	size_t rlen;

	/* a token for another mesh: answered "other mesh", nothing looked up,
	 * and the joiner ends with FOREIGN_MESH rather than a timeout */
	W.tok.mesh_id[0] ^= 1;
	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req, W.first_req_len, W.now, NOW,
	    reply, &rlen), 0);
	ck_assert_uint_eq(rlen, MESH_JOIN_ERR_LEN);
	ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
	ck_assert_uint_eq(e.reason, MESH_JOIN_R_OTHER_MESH);
	ck_assert_uint_eq(W.st.lookups, 0);
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, reply, rlen, NULL, 0), MESH_JOIN_FOREIGN_MESH);
	ck_assert_uint_eq(W.st.admits, 0);
}
END_TEST

START_TEST(test_inviter_handle_time_skew)
{
	/* just inside the window works */
	W.joiner_skew = JOIN_SKEW_S;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	mesh_join_joiner_clear(&W.j);
	W.st.invites[0].inv.uses_left = 2;
	/* outside it, either way: bad request, nothing consumed */
	W.joiner_skew = JOIN_SKEW_S + 1;
	ck_assert_int_eq(start("gamma"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_BAD_REQUEST);
	mesh_join_joiner_clear(&W.j);
	W.joiner_skew = -(JOIN_SKEW_S + 1);
	ck_assert_int_eq(start("gamma"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_BAD_REQUEST);
	ck_assert_uint_eq(uses_left(), 2);
	ck_assert_uint_eq(W.st.admits, 1);
}
END_TEST

/* A response sealed to the joiner for its request id, made by anyone. */
static void forge_resp(const uint8_t *a_pk, const uint8_t *a_sk, const uint8_t *wg_pk_in_cert,
    uint8_t *out, size_t *out_len)
{
	struct mesh_join_resp resp;
	struct mesh_join_req req;
	struct mesh_prefix p6;
	struct mesh_cert c;
	uint8_t cb[MESH_CERT_MAX_LEN], mid[MESH_ID_LEN];
	struct wr w;

	ck_assert_int_eq(mesh_join_req_decode(W.first_req, W.first_req_len, &req), 0);
	mesh_identity_mesh_id(a_pk, mid);
	mesh_identity_ula_prefix(mid, &p6);
	make_cert(&c, a_sk, req.name, wg_pk_in_cert, req.sign_pk, &W.st.prefix4, &p6, NOW);
	wr_init(&w, cb, sizeof cb);
	ck_assert_int_eq(mesh_cert_encode(&c, &w), 0);
	ck_assert_int_eq(mesh_join_resp_init(&resp, cb, w.off, a_pk, "home", &W.st.prefix4, &p6),
	    0);
	wr_init(&w, out, MESH_MSG_DGRAM_MAX);
	ck_assert_int_eq(mesh_join_resp_seal(&resp, req.request_id, req.wg_pk, &w), 0);
	*out_len = w.off;
}

START_TEST(test_joiner_input_foreign_mesh)
{
	uint8_t p[MESH_MSG_DGRAM_MAX];
	size_t n;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	forge_resp(other_pk, other_sk, W.wg_pk, p, &n);
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, p, n, &W.tok.ep[0], MSEC(10)),
	    MESH_JOIN_FOREIGN_MESH);
	ck_assert_ptr_null(mesh_join_joiner_result(&W.j));
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MTIME_NEVER);
}
END_TEST

START_TEST(test_joiner_input_cert_for_other_key)
{
	uint8_t p[MESH_MSG_DGRAM_MAX], other_wg[32];
	size_t n;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	memset(other_wg, 0x5a, sizeof other_wg);
	forge_resp(auth_pk, auth_sk, other_wg, p, &n);
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, p, n, &W.tok.ep[0], MSEC(10)),
	    MESH_JOIN_BAD_RESPONSE);
	ck_assert_ptr_null(mesh_join_joiner_result(&W.j));
}
END_TEST

START_TEST(test_joiner_input_other_request_ignored)
{
	uint8_t p[MESH_MSG_DGRAM_MAX];
	size_t n;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	forge_resp(auth_pk, auth_sk, W.wg_pk, p, &n);
	/* another request id: ignored, still waiting; the real one is fine */
	p[MESH_MSG_HDR_LEN] ^= 1;
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, p, n, NULL, 0), MESH_JOIN_PENDING);
	p[MESH_MSG_HDR_LEN] ^= 1;
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, p, n, NULL, 0), MESH_JOIN_OK);
}
END_TEST

START_TEST(test_joiner_handle_expiry_timeout)
{
	/* retries at 0, .25, .75, 1.75, 3.75, 5.75, 7.75, 9.75 s; gives up at 10 */
	W.unreachable = true;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_TIMEOUT);
	ck_assert_uint_eq(W.now, SEC(JOIN_TIMEOUT_S));
	ck_assert_uint_eq(W.sent, 8);
	ck_assert_uint_eq(W.sent_to[0], 4);
	ck_assert_uint_eq(W.sent_to[1], 4);
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MTIME_NEVER);
	ck_assert_str_eq(mesh_join_strerror(MESH_JOIN_TIMEOUT),
	    "inviter unreachable: no answer from the token's endpoints");
}
END_TEST

START_TEST(test_joiner_handle_expiry_early_is_noop)
{
	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MSEC(JOIN_RETRY_FIRST_MS));
	ck_assert_int_eq(mesh_join_joiner_handle_expiry(&W.j, MSEC(249)), MESH_JOIN_PENDING);
	ck_assert_uint_eq(W.sent, 1);
	ck_assert_int_eq(mesh_join_joiner_handle_expiry(&W.j, MSEC(250)), MESH_JOIN_PENDING);
	ck_assert_uint_eq(W.sent, 2);
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MSEC(750));
}
END_TEST

START_TEST(test_joiner_start_rejects)
{
	uint8_t bad_sk[32];

	ck_assert_int_eq(start("Beta"), MESHD_E_INVAL);
	ck_assert_int_eq(start(""), MESHD_E_INVAL);
	memcpy(bad_sk, W.wg_sk, 32);
	bad_sk[0] ^= 0x08;
	ck_assert_int_eq(mesh_join_joiner_start(&W.j, &W.tok, "beta", W.wg_pk, bad_sk, W.sign_pk,
	    0, NOW, net_send, &W), MESHD_E_INVAL);
	W.tok.expires_at = NOW;
	ck_assert_int_eq(start("beta"), MESHD_E_EXPIRED);
	ck_assert_uint_eq(W.sent, 0);
	ck_assert_uint_eq(mesh_join_joiner_next_expiry(&W.j), MTIME_NEVER);
}
END_TEST

/* ---- codecs ---- */

START_TEST(test_join_req_roundtrip_and_sizes)
{
	struct mesh_join_req req, back;
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN + 1];
	struct wr w;

	ck_assert_int_eq(start("beta"), 0);
	ck_assert_uint_eq(W.first_req_len, MESH_JOIN_REQ_FIXED_LEN + 4);
	ck_assert_uint_eq(MESH_JOIN_REQ_FIXED_LEN, 179);
	ck_assert_uint_eq(MESH_JOIN_REQ_MAX_LEN, 242);
	ck_assert_uint_eq(MESH_JOIN_ERR_LEN, 19);
	ck_assert_int_eq(mesh_join_req_decode(W.first_req, W.first_req_len, &req), 0);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_join_req_encode(&req, &w), 0);
	ck_assert_uint_eq(w.off, W.first_req_len);
	ck_assert_mem_eq(buf, W.first_req, w.off);
	ck_assert(mesh_join_req_verify(&req, W.st.invites[0].inv.pk));
	/* a trailing byte */
	buf[w.off] = 0;
	ck_assert_int_eq(mesh_join_req_decode(buf, w.off + 1, &back), MESHD_E_PROTO);
	/* a name that is not a DNS label */
	req.name[0] = 'B';
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_join_req_encode(&req, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
}
END_TEST

START_TEST(test_join_err_roundtrip)
{
	struct mesh_join_err e, back;
	uint8_t buf[MESH_JOIN_ERR_LEN];
	struct wr w;
	int reason;

	for (reason = 0; reason <= MESH_JOIN_R_END; reason++) {
		memset(&e, 0, sizeof e);
		memset(e.request_id, reason, sizeof e.request_id);
		e.reason = (uint8_t)reason;
		wr_init(&w, buf, sizeof buf);
		if (reason == 0 || reason == MESH_JOIN_R_END) {
			ck_assert_int_eq(mesh_join_err_encode(&e, &w), MESHD_E_INVAL);
			buf[0] = MESH_MSG_MAGIC;
			buf[1] = MESH_MSG_JOIN_ERR;
			buf[MESH_JOIN_ERR_LEN - 1] = (uint8_t)reason;
			ck_assert_int_eq(mesh_join_err_decode(buf, sizeof buf, &back),
			    MESHD_E_PROTO);
			continue;
		}
		ck_assert_int_eq(mesh_join_err_encode(&e, &w), 0);
		ck_assert_uint_eq(w.off, MESH_JOIN_ERR_LEN);
		ck_assert_int_eq(mesh_join_err_decode(buf, w.off, &back), 0);
		ck_assert_mem_eq(&back, &e, sizeof e);
		ck_assert_str_ne(mesh_join_reason_str(reason), "unknown");
	}
}
END_TEST

START_TEST(test_join_resp_roster_capped)
{
	struct mesh_join_resp resp;
	uint8_t out[MESH_MSG_DGRAM_MAX], rid[16], pk[32], sk[32];
	struct mesh_join_resp back;
	struct wr w;
	unsigned added = 0;
	int r;

	ck_assert_int_eq(mesh_join_resp_init(&resp, W.st.own_cert, W.st.own_cert_len, auth_pk,
	    "home", &W.st.prefix4, &W.st.prefix6), 0);
	while ((r = mesh_join_resp_add_record(&resp, MESH_REC_CERT, W.st.own_cert,
	    W.st.own_cert_len)) == 0)
		added++;
	ck_assert_int_eq(r, MESHD_E_FULL);
	ck_assert_uint_ge(added, 2);
	ck_assert_uint_le(mesh_join_resp_len(&resp), MESH_MSG_DGRAM_MAX);
	/* a smaller record may still fit */
	while (mesh_join_resp_add_record(&resp, MESH_REC_REVOKE, W.st.revoke,
	    sizeof W.st.revoke) == 0)
		;
	ck_assert_uint_le(mesh_join_resp_len(&resp), MESH_MSG_DGRAM_MAX);
	ck_assert_uint_gt(mesh_join_resp_len(&resp) + 2 + MESH_REVOKE_LEN, MESH_MSG_DGRAM_MAX);
	/* junk is refused */
	ck_assert_int_eq(mesh_join_resp_add_record(&resp, MESH_REC_CERT, W.st.revoke,
	    sizeof W.st.revoke), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_join_resp_add_record(&resp, 9, W.st.revoke,
	    sizeof W.st.revoke), MESHD_E_INVAL);
	crypto_box_keypair(pk, sk);
	memset(rid, 3, sizeof rid);
	wr_init(&w, out, sizeof out);
	ck_assert_int_eq(mesh_join_resp_seal(&resp, rid, pk, &w), 0);
	ck_assert_uint_eq(w.off, mesh_join_resp_len(&resp));
	ck_assert_int_eq(mesh_join_resp_open(out, w.off, pk, sk, rid, &back), 0);
	ck_assert_uint_eq(back.nrec, resp.nrec);
	ck_assert_uint_eq(back.data_len, resp.data_len);
	ck_assert_mem_eq(back.data, resp.data, resp.data_len);
	/* a full response does not fit a buffer one byte short */
	wr_init(&w, out, mesh_join_resp_len(&resp) - 1);
	ck_assert_int_eq(mesh_join_resp_seal(&resp, rid, pk, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
	sodium_memzero(sk, sizeof sk);
}
END_TEST

START_TEST(test_inviter_handle_cache_lru)
{
	static uint8_t reqs[JOIN_CACHE_N + 1][MESH_JOIN_REQ_MAX_LEN];
	static uint8_t resps[JOIN_CACHE_N + 1][MESH_MSG_DGRAM_MAX];
	size_t req_len[JOIN_CACHE_N + 1], resp_len[JOIN_CACHE_N + 1];
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_err e;
	char name[16];
	size_t rlen;
	unsigned i;

	W.st.invites[0].inv.uses_left = JOIN_CACHE_N + 1;
	for (i = 0; i <= JOIN_CACHE_N; i++) {
		/* joiners half a second apart: within one source's budget */
		W.now += MSEC(500);
		mesh_join_joiner_clear(&W.j);
		snprintf(name, sizeof name, "n%u", i);
		ck_assert_int_eq(start(name), 0);
		ck_assert_uint_eq(W.qn, 1);
		memcpy(reqs[i], W.q[0].p, W.q[0].n);
		req_len[i] = W.q[0].n;
		pump();
		ck_assert_int_eq(W.j.outcome, MESH_JOIN_OK);
		memcpy(resps[i], W.last_reply, W.last_reply_len);
		resp_len[i] = W.last_reply_len;
	}
	ck_assert_uint_eq(W.st.admitted, JOIN_CACHE_N + 1);
	ck_assert_uint_eq(uses_left(), 0);
	/* the newest 64 are answered from the cache */
	for (i = 1; i <= JOIN_CACHE_N; i++) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, reqs[i], req_len[i], W.now, NOW, reply,
		    &rlen), 0);
		ck_assert_uint_eq(rlen, resp_len[i]);
		ck_assert_mem_eq(reply, resps[i], rlen);
	}
	/* the oldest was evicted: it is handled afresh, and refused */
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, reqs[0], req_len[0], W.now, NOW, reply, &rlen),
	    0);
	ck_assert_uint_eq(rlen, MESH_JOIN_ERR_LEN);
	ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
	ck_assert_uint_eq(e.reason, MESH_JOIN_R_USED_UP);
	ck_assert_uint_eq(W.st.admitted, JOIN_CACHE_N + 1);
	/* entries die after JOIN_CACHE_S (reqs[1] was answered a second in);
	 * the used-up invite is refused before anything else is checked */
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, reqs[1], req_len[1], W.now,
	    NOW + 1 + JOIN_CACHE_S, reply, &rlen), 0);
	ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
	ck_assert_uint_eq(e.reason, MESH_JOIN_R_USED_UP);
}
END_TEST

/* Reseals a modified plaintext of a real response for the same joiner. */
static int reseal_open(const uint8_t *plain, size_t n, const uint8_t *rid,
    struct mesh_join_resp *out)
{
	uint8_t dg[MESH_MSG_DGRAM_MAX + 64], rid2[16];

	dg[0] = MESH_MSG_MAGIC;
	dg[1] = MESH_MSG_JOIN_RESP;
	memcpy(dg + 2, rid, 16);
	ck_assert_int_eq(crypto_box_seal(dg + 18, plain, n, W.wg_pk), 0);
	return mesh_join_resp_open(dg, 18 + MESH_JOIN_SEAL_LEN + n, W.wg_pk, W.wg_sk, rid2, out);
}

START_TEST(test_join_resp_open_strict)
{
	uint8_t plain[MESH_MSG_DGRAM_MAX + 1], rid[16];
	static struct mesh_join_resp out;
	size_t n;

	W.drop_resp = 1;
	ck_assert_int_eq(start("beta"), 0);
	pump();
	ck_assert_int_eq(mesh_join_resp_peek(W.last_reply, W.last_reply_len, rid), 0);
	n = W.last_reply_len - MESH_JOIN_RESP_OUTER_LEN;
	ck_assert_int_eq(crypto_box_seal_open(plain, W.last_reply + 18, W.last_reply_len - 18,
	    W.wg_pk, W.wg_sk), 0);
	ck_assert_int_eq(reseal_open(plain, n, rid, &out), 0);
	ck_assert_uint_eq(out.nrec, 3);
	/* a trailing byte, one byte short */
	plain[n] = 0;
	ck_assert_int_eq(reseal_open(plain, n + 1, rid, &out), MESHD_E_PROTO);
	ck_assert_uint_eq(out.nrec, 0);
	ck_assert_int_eq(reseal_open(plain, n - 1, rid, &out), MESHD_E_PROTO);
	/* more records announced than there are (the cert count byte sits
	 * before the records: 3 counts, then 3 records of known sizes) */
	{
		size_t counts = n - (2 + W.st.own_cert_len) - (2 + MESH_REVOKE_LEN) -
		    (2 + W.st.own_eps_len) - 3;

		ck_assert_uint_eq(plain[counts], 1);
		plain[counts] = 2;
		ck_assert_int_eq(reseal_open(plain, n, rid, &out), MESHD_E_PROTO);
		plain[counts] = 17;
		ck_assert_int_eq(reseal_open(plain, n, rid, &out), MESHD_E_PROTO);
		plain[counts] = 1;
		/* a record of the wrong kind: the revocation counted as a cert */
		plain[counts] = 2;
		plain[counts + 1] = 0;
		ck_assert_int_eq(reseal_open(plain, n, rid, &out), MESHD_E_PROTO);
		plain[counts] = 1;
		plain[counts + 1] = 1;
	}
	ck_assert_int_eq(reseal_open(plain, n, rid, &out), 0);
	/* not sealed to us */
	{
		uint8_t pk[32], sk[32], dg[MESH_MSG_DGRAM_MAX], rid2[16];

		crypto_box_keypair(pk, sk);
		memcpy(dg, W.last_reply, W.last_reply_len);
		ck_assert_int_eq(crypto_box_seal(dg + 18, plain, n, pk), 0);
		ck_assert_int_eq(mesh_join_resp_open(dg, W.last_reply_len, W.wg_pk, W.wg_sk, rid2,
		    &out), MESHD_E_CRYPTO);
		sodium_memzero(sk, sizeof sk);
	}
}
END_TEST

/* ---- damaged messages: never a crash, never a state change ---- */

START_TEST(test_inviter_handle_damaged_requests)
{
	uint8_t p[MESH_JOIN_REQ_MAX_LEN], reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_err e;
	size_t n, i, rlen;
	unsigned bit;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	n = W.first_req_len;
	for (i = 0; i < n; i++) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req, i, W.now, NOW, reply,
		    &rlen), 0);
		ck_assert_uint_eq(rlen, 0);
	}
	for (i = 0; i < n * 8; i++) {
		memcpy(p, W.first_req, n);
		bit = (unsigned)(i % 8);
		p[i / 8] ^= (uint8_t)(1u << bit);
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, p, n, W.now, NOW, reply, &rlen), 0);
		/* at most an unknown-invite answer (the id was hit) or, for a
		 * flip in the pin, other-mesh */
		if (rlen != 0) {
			ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
			ck_assert(e.reason == MESH_JOIN_R_UNKNOWN_INVITE ||
			    e.reason == MESH_JOIN_R_OTHER_MESH);
		}
	}
	ck_assert_uint_eq(W.st.admits, 0);
	ck_assert_uint_eq(uses_left(), 1);
	/* the intact request still works, once the flood's signature
	 * budget has refilled */
	W.now += SEC(60);
	inviter_answer(W.first_req, n);
	ck_assert_int_eq(W.j.outcome, MESH_JOIN_OK);
}
END_TEST

START_TEST(test_joiner_input_damaged_responses)
{
	uint8_t resp[MESH_MSG_DGRAM_MAX], p[MESH_MSG_DGRAM_MAX];
	size_t n, i;

	W.drop_resp = 1;
	ck_assert_int_eq(start("beta"), 0);
	pump();
	ck_assert_uint_eq(W.replies, 1);
	n = W.last_reply_len;
	memcpy(resp, W.last_reply, n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(mesh_join_joiner_input(&W.j, resp, i, NULL, 0),
		    MESH_JOIN_PENDING);
	for (i = 0; i < n * 8; i++) {
		memcpy(p, resp, n);
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_eq(mesh_join_joiner_input(&W.j, p, n, NULL, 0), MESH_JOIN_PENDING);
	}
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, resp, n, NULL, 0), MESH_JOIN_OK);
}
END_TEST

START_TEST(test_joiner_input_damaged_errors)
{
	uint8_t err[MESH_JOIN_ERR_LEN], p[MESH_JOIN_ERR_LEN];
	size_t i;
	int o;

	W.st.ninvites = 0;
	ck_assert_int_eq(start("beta"), 0);
	W.drop_resp = 1;
	pump();
	ck_assert_uint_eq(W.last_reply_len, MESH_JOIN_ERR_LEN);
	memcpy(err, W.last_reply, sizeof err);
	for (i = 0; i < sizeof err; i++)
		ck_assert_int_eq(mesh_join_joiner_input(&W.j, err, i, NULL, 0),
		    MESH_JOIN_PENDING);
	for (i = 0; i < sizeof err * 8; i++) {
		memcpy(p, err, sizeof p);
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
		o = mesh_join_joiner_input(&W.j, p, sizeof p, NULL, 0);
		if (i / 8 == MESH_JOIN_ERR_LEN - 1 && o != MESH_JOIN_PENDING) {
			/* the reason byte is not authenticated: another valid
			 * reason is a valid (if wrong) message */
			ck_assert_int_ge(o, MESH_JOIN_UNKNOWN_INVITE);
			ck_assert_int_le(o, MESH_JOIN_INTERNAL);
			mesh_join_joiner_clear(&W.j);
			ck_assert_int_eq(start("beta"), 0);
			W.qn = 0;
			memcpy(err + MESH_MSG_HDR_LEN, W.j.request_id, MESH_JOIN_REQUEST_ID_LEN);
			continue;
		}
		ck_assert_int_eq(o, MESH_JOIN_PENDING);
	}
	ck_assert_int_eq(mesh_join_joiner_input(&W.j, err, sizeof err, NULL, 0),
	    MESH_JOIN_UNKNOWN_INVITE);
}
END_TEST

/* ---- hostile senders: no amplification, bounded signature checks ---- */

/* The request with its signature replaced by junk (the invite id is known:
 * it travels in clear) under a fresh request id. */
static size_t junk_sig_req(uint8_t *out, size_t cap)
{
	ck_assert_uint_le(W.first_req_len, cap);
	memcpy(out, W.first_req, W.first_req_len);
	memset(out + W.first_req_len - MESH_SIG_LEN, 0x5a, MESH_SIG_LEN);
	/* and a request id of its own, so that it is not taken for a changed
	 * copy of an answered request */
	out[W.first_req_len - MESH_SIG_LEN - 1] ^= 0xa5;
	return W.first_req_len;
}

START_TEST(test_inviter_handle_replay_other_source_dropped)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	union endpoint victim;
	struct mesh_join_stats st;
	size_t rlen;

	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	ck_assert_uint_gt(W.last_reply_len, W.first_req_len);
	/* a captured request replayed with a spoofed source: nothing */
	set_ep(&victim, "203.0.113.9:53");
	for (int i = 0; i < 10; i++) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &victim, W.first_req,
		    W.first_req_len, W.now, NOW + 1, reply, &rlen), 0);
		ck_assert_uint_eq(rlen, 0);
	}
	/* the same joiner's port changed: also another address */
	set_ep(&victim, "198.51.100.7:40001");
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &victim, W.first_req, W.first_req_len,
	    W.now, NOW + 1, reply, &rlen), 0);
	ck_assert_uint_eq(rlen, 0);
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.drop_replay, 11);
	/* the joiner's own retransmit still gets the cached answer */
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req, W.first_req_len,
	    W.now, NOW + 1, reply, &rlen), 0);
	ck_assert_uint_eq(rlen, W.last_reply_len);
	ck_assert_mem_eq(reply, W.last_reply, rlen);
	ck_assert_uint_eq(W.st.admits, 1);
}
END_TEST

/* A request replayed with the joiner's own source address: the cached answer
 * goes out at most JOIN_RESEND_MAX times in all, JOIN_RESEND_GAP_MS apart,
 * however fast and however long the replays come. */
START_TEST(test_inviter_handle_replay_same_source_capped)
{
	uint8_t reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_stats st0, st;
	size_t rlen, sent_bytes = 0, in_bytes = 0;
	unsigned answers = 0;
	mtime_ns t;

	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	mesh_join_inviter_stats(&W.inv, &st0);
	t = W.now + SEC(1);
	/* a burst at one instant: one answer */
	for (int i = 0; i < 1000; i++) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req,
		    W.first_req_len, t, NOW + 1, reply, &rlen), 0);
		answers += rlen > 0;
	}
	ck_assert_uint_eq(answers, 1);
	/* one replay per millisecond for the rest of the cache's life (after it,
	 * the request is answered by a JOIN_ERR, smaller than itself) */
	for (unsigned ms = 1; ms < (JOIN_CACHE_S - 5) * 1000U; ms += 1) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, W.first_req,
		    W.first_req_len, t + MSEC(ms), NOW + 1 + ms / 1000, reply, &rlen), 0);
		in_bytes += W.first_req_len;
		sent_bytes += rlen;
		answers += rlen > 0;
		if (rlen > 0)
			ck_assert_mem_eq(reply, W.last_reply, rlen);
	}
	ck_assert_uint_le(answers + 0, JOIN_RESEND_MAX);
	ck_assert_uint_ge(answers, 1);
	/* counting the joiner's own retransmits during run() too */
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_gt(st.drop_resend, st0.drop_resend + 500000);
	ck_assert_uint_lt(sent_bytes, in_bytes / 1000);
	ck_assert_uint_eq(W.st.admits, 1);
}
END_TEST

/* Everything a host without the invite secret can send (or replay) is
 * answered with at most as many bytes as it sent. */
START_TEST(test_inviter_handle_reply_never_larger_unauthenticated)
{
	uint8_t p[MESH_JOIN_REQ_MAX_LEN], reply[MESH_MSG_DGRAM_MAX];
	union endpoint spoof;
	size_t n, rlen;
	unsigned answered = 0;

	set_ep(&spoof, "[2001:db8:66::1]:9");
	W.st.invites[0].inv.uses_left = 3;
	ck_assert_int_eq(start("beta"), 0);
	ck_assert_int_eq(run(SEC(60)), MESH_JOIN_OK);
	/* cases: 0 replay, 1 junk signature, 2 unknown invite id, 3 foreign
	 * pin, 4 expired invite, 5 used-up invite, 6 truncated */
	for (int c = 0; c < 7; c++) {
		n = junk_sig_req(p, sizeof p);
		switch (c) {
		case 0: memcpy(p, W.first_req, n); break;
		case 1: break;
		case 2: p[MESH_MSG_HDR_LEN] ^= 0xff; break;
		case 3: p[MESH_MSG_HDR_LEN + MESH_JOIN_INVITE_ID_LEN] ^= 0xff; break;
		case 4: W.st.invites[0].inv.expires_at = NOW - 1; break;
		case 5: W.st.invites[0].inv.expires_at = NOW + 3600;
			W.st.invites[0].inv.uses_left = 0; break;
		case 6: n = MESH_JOIN_REQ_FIXED_LEN - 1; break;
		}
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &spoof, p, n, W.now, NOW + 1,
		    reply, &rlen), 0);
		ck_assert_msg(rlen <= n, "case %d: %zu bytes answered to %zu", c, rlen, n);
		answered += rlen > 0;
	}
	ck_assert_uint_eq(answered, 4);	/* 2..5 get a 19-byte JOIN_ERR */
	ck_assert_uint_eq(W.st.admits, 1);
}
END_TEST

START_TEST(test_inviter_handle_dead_invite_refused_before_verify)
{
	uint8_t p[MESH_JOIN_REQ_MAX_LEN], reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_stats st;
	struct mesh_join_err e;
	size_t n, rlen;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	n = junk_sig_req(p, sizeof p);
	W.st.invites[0].inv.expires_at = NOW - 1;
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, p, n, W.now, NOW, reply,
	    &rlen), 0);
	ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
	ck_assert_uint_eq(e.reason, MESH_JOIN_R_EXPIRED);
	W.st.invites[0].inv.expires_at = NOW + 3600;
	W.st.invites[0].inv.uses_left = 0;
	rlen = sizeof reply;
	ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, p, n, W.now, NOW, reply,
	    &rlen), 0);
	ck_assert_int_eq(mesh_join_err_decode(reply, rlen, &e), 0);
	ck_assert_uint_eq(e.reason, MESH_JOIN_R_USED_UP);
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.verified, 0);
}
END_TEST

START_TEST(test_inviter_handle_verify_budget)
{
	uint8_t p[MESH_JOIN_REQ_MAX_LEN], reply[MESH_MSG_DGRAM_MAX];
	struct mesh_join_stats st;
	union endpoint src;
	char a[64];
	size_t n, rlen;
	unsigned i;

	ck_assert_int_eq(start("beta"), 0);
	W.qn = 0;
	n = junk_sig_req(p, sizeof p);
	/* one source: its burst, then silence */
	for (i = 0; i < 100; i++) {
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &W.src, p, n, W.now, NOW, reply,
		    &rlen), 0);
		ck_assert_uint_eq(rlen, 0);
	}
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.verified, JOIN_VERIFY_SRC_BURST);
	ck_assert_uint_eq(st.drop_ratelimit, 100 - JOIN_VERIFY_SRC_BURST);
	/* the same /64 is one source */
	set_ep(&src, "[2001:db8:1:2::1]:1");
	for (i = 0; i < 2 * JOIN_VERIFY_SRC_BURST; i++) {
		src.sin6.sin6_addr.s6_addr[15] = (uint8_t)i;
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &src, p, n, W.now, NOW, reply,
		    &rlen), 0);
	}
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.verified, 2 * JOIN_VERIFY_SRC_BURST);
	/* many spoofed sources: the global budget */
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof a, "10.%u.%u.1:7", i / 256, i % 256);
		set_ep(&src, a);
		rlen = sizeof reply;
		ck_assert_int_eq(mesh_join_inviter_handle(&W.inv, &src, p, n, W.now, NOW, reply,
		    &rlen), 0);
	}
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.verified, JOIN_VERIFY_BURST);
	ck_assert_uint_ge(st.drop_budget, 1000 - JOIN_VERIFY_BURST);
	/* a second later the budget has refilled by its rate, and the real
	 * joiner (its own source refilled too) gets in */
	W.now += SEC(1);
	inviter_answer(W.first_req, W.first_req_len);
	ck_assert_int_eq(W.j.outcome, MESH_JOIN_OK);
	mesh_join_inviter_stats(&W.inv, &st);
	ck_assert_uint_eq(st.verified, JOIN_VERIFY_BURST + 1);
}
END_TEST

START_TEST(test_mesh_join_strerror_every_outcome)
{
	for (int o = 0; o < MESH_JOIN_OUTCOME_END; o++) {
		ck_assert_ptr_nonnull(mesh_join_strerror(o));
		ck_assert_str_ne(mesh_join_strerror(o), "unknown join outcome");
		for (int p = 0; p < o; p++)
			ck_assert_str_ne(mesh_join_strerror(o), mesh_join_strerror(p));
	}
	ck_assert_str_eq(mesh_join_strerror(-1), "unknown join outcome");
	ck_assert_str_eq(mesh_join_strerror(MESH_JOIN_OUTCOME_END), "unknown join outcome");
	ck_assert_str_eq(mesh_msg_type_name(MESH_MSG_JOIN_REQ), "join-req");
	ck_assert(mesh_msg_is_mesh((const uint8_t *)"M\x01", 2));
	{
		uint8_t end[2] = { MESH_MSG_MAGIC, MESH_MSG_TYPE_END };

		ck_assert(!mesh_msg_is_mesh(end, 2));
	}
	ck_assert(!mesh_msg_is_mesh((const uint8_t *)"M", 1));
	ck_assert(!mesh_msg_is_mesh((const uint8_t *)"\x01\x00\x00\x00", 4));
	ck_assert_str_eq(mesh_msg_type_name(0), "unknown");
	ck_assert_str_eq(mesh_msg_type_name(MESH_MSG_TYPE_END), "unknown");
}
END_TEST

Suite *suite_join(void);

Suite *suite_join(void)
{
	Suite *s = suite_create("join");
	TCase *tc = tcase_create("join");

	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, test_invite_keypair_deterministic);
	tcase_add_test(tc, test_joiner_input_happy_path);
	tcase_add_test(tc, test_joiner_handle_expiry_lost_request);
	tcase_add_test(tc, test_inviter_handle_lost_response_answers_from_cache);
	tcase_add_test(tc, test_inviter_handle_replay_after_success);
	tcase_add_test(tc, test_inviter_handle_expired);
	tcase_add_test(tc, test_inviter_handle_used_up);
	tcase_add_test(tc, test_inviter_handle_unknown_invite);
	tcase_add_test(tc, test_inviter_handle_name_taken);
	tcase_add_test(tc, test_inviter_handle_admit_reasons);
	tcase_add_test(tc, test_inviter_handle_bad_signature_silent);
	tcase_add_test(tc, test_inviter_handle_pin_mismatch);
	tcase_add_test(tc, test_inviter_handle_time_skew);
	tcase_add_test(tc, test_joiner_input_foreign_mesh);
	tcase_add_test(tc, test_joiner_input_cert_for_other_key);
	tcase_add_test(tc, test_joiner_input_other_request_ignored);
	tcase_add_test(tc, test_joiner_handle_expiry_timeout);
	tcase_add_test(tc, test_joiner_handle_expiry_early_is_noop);
	tcase_add_test(tc, test_joiner_start_rejects);
	tcase_add_test(tc, test_join_req_roundtrip_and_sizes);
	tcase_add_test(tc, test_join_err_roundtrip);
	tcase_add_test(tc, test_join_resp_roster_capped);
	tcase_add_test(tc, test_join_resp_open_strict);
	tcase_add_test(tc, test_inviter_handle_cache_lru);
	tcase_add_test(tc, test_inviter_handle_damaged_requests);
	tcase_add_test(tc, test_joiner_input_damaged_responses);
	tcase_add_test(tc, test_joiner_input_damaged_errors);
	tcase_add_test(tc, test_inviter_handle_replay_other_source_dropped);
	tcase_add_test(tc, test_inviter_handle_replay_same_source_capped);
	tcase_add_test(tc, test_inviter_handle_reply_never_larger_unauthenticated);
	tcase_add_test(tc, test_inviter_handle_dead_invite_refused_before_verify);
	tcase_add_test(tc, test_inviter_handle_verify_budget);
	tcase_add_test(tc, test_mesh_join_strerror_every_outcome);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(suite_join());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
