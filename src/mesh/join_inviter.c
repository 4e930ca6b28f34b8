/* The join protocol, inviter side (mesh/join.h): a JOIN_REQ is decoded,
 * checked against the invite (lookup, expiry, uses, signature, clock) under
 * per-source and global verification budgets, admitted through the ops and
 * answered with a sealed JOIN_RESP; answers are cached so that a
 * retransmitted request gets the same answer without a second use. */
#include <string.h>

#include <sodium.h>

#include "mesh/join_internal.h"
#include "util/err.h"

int mesh_join_inviter_init(struct mesh_join_inviter *inv, const struct mesh_join_inviter_cfg *cfg)
{
	memset(inv, 0, sizeof *inv);
	if (!mesh_name_valid(cfg->mesh_name) || cfg->prefix4.family != MESH_FAMILY_V4 ||
	    !mesh_prefix_valid(&cfg->prefix4) || cfg->prefix6.family != MESH_FAMILY_V6 ||
	    !mesh_prefix_valid(&cfg->prefix6) || cfg->ops.lookup == NULL ||
	    cfg->ops.admit == NULL)
		return MESHD_E_INVAL;
	inv->cfg = *cfg;
	mesh_identity_mesh_id(cfg->authority_pk, inv->mesh_id);
	return 0;
}

void mesh_join_inviter_clear(struct mesh_join_inviter *inv)
{
	sodium_memzero(inv, sizeof *inv);
}

static bool cache_live(const struct mesh_join_cached *c, uint64_t now_unix)
{
	return c->live && now_unix < c->at + JOIN_CACHE_S;
}

static struct mesh_join_cached *cache_find(struct mesh_join_inviter *inv,
    const uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN], uint64_t now_unix)
{
	unsigned i;

	for (i = 0; i < JOIN_CACHE_N; i++) {
		struct mesh_join_cached *c = &inv->cache[i];

		if (!cache_live(c, now_unix)) {
			c->live = false;
			continue;
		}
		if (memcmp(c->request_id, request_id, MESH_JOIN_REQUEST_ID_LEN) == 0)
			return c;
	}
	return NULL;
}

/* A free slot, else the least recently used one. */
static struct mesh_join_cached *cache_slot(struct mesh_join_inviter *inv, uint64_t now_unix)
{
	struct mesh_join_cached *lru = &inv->cache[0];
	unsigned i;

	for (i = 0; i < JOIN_CACHE_N; i++) {
		struct mesh_join_cached *c = &inv->cache[i];

		if (!cache_live(c, now_unix))
			return c;
		if (c->used < lru->used)
			lru = c;
	}
	return lru;
}

static void err_reply(const uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN], int reason,
    uint8_t *reply, size_t cap, size_t *reply_len)
{
	struct mesh_join_err e;
	struct wr w;

	memcpy(e.request_id, request_id, sizeof e.request_id);
	e.reason = (uint8_t)(join_reason_known(reason) ? reason : MESH_JOIN_R_INTERNAL);
	wr_init(&w, reply, cap);
	*reply_len = mesh_join_err_encode(&e, &w) == 0 ? w.off : 0;
}

/* A WireGuard public key that crypto_box can seal to (not a low-order
 * point): otherwise the member would be admitted with a useless key. */
static bool x25519_pk_usable(const uint8_t pk[MESH_WG_KEY_LEN])
{
	uint8_t sk[crypto_scalarmult_SCALARBYTES], q[crypto_scalarmult_BYTES];
	bool ok;

	randombytes_buf(sk, sizeof sk);
	ok = crypto_scalarmult(q, sk, pk) == 0;
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(q, sizeof q);
	return ok;
}

static bool cert_binds(const struct mesh_cert *c, const struct mesh_join_req *req,
    const uint8_t mesh_id[MESH_ID_LEN])
{
	return strcmp(c->name, req->name) == 0 &&
	    sodium_memcmp(c->wg_pubkey, req->wg_pk, MESH_WG_KEY_LEN) == 0 &&
	    sodium_memcmp(c->sign_pk, req->sign_pk, MESH_PK_LEN) == 0 &&
	    sodium_memcmp(c->mesh_id, mesh_id, MESH_ID_LEN) == 0;
}

/* Would b give a token now? (b itself unchanged) */
static bool bucket_has(const struct mesh_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst)
{
	struct mesh_bucket t = *b;

	mesh_bucket_refill(&t, now, rate, burst);
	return mesh_bucket_has(&t, 1);
}

/* What a source is limited by: its IPv4 address, or its IPv6 /64 (one host
 * usually holds a whole /64). */
static void src_key(const union endpoint *src, uint8_t key[1 + 8])
{
	union endpoint e = *src;

	memset(key, 0, 1 + 8);
	endpoint_unmap(&e);
	if (e.sa.sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &e.sin.sin_addr, 4);
	} else if (e.sa.sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, e.sin6.sin6_addr.s6_addr, 8);
	}
}

/* The bucket of src: its slot, a free one, or the least recently used one
 * (a recycled slot starts full: a spoofer cycling addresses gains nothing
 * the global budget does not take away again). */
static struct mesh_bucket *src_bucket(struct mesh_join_inviter *inv,
    const union endpoint *src, mtime_ns now)
{
	struct mesh_join_src *victim = NULL;
	uint8_t key[1 + 8];

	src_key(src, key);
	for (unsigned i = 0; i < JOIN_SRC_N; i++) {
		struct mesh_join_src *s = &inv->src[i];

		if (s->used && memcmp(s->key, key, sizeof key) == 0) {
			s->last_use = now;
			return &s->b;
		}
		if (victim == NULL || (victim->used &&
		    (!s->used || s->last_use < victim->last_use)))
			victim = s;
	}
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	memcpy(victim->key, key, sizeof key);
	victim->last_use = now;
	return &victim->b;
}

/* One signature check for src, if both its bucket and the global one
 * allow; neither is charged when either refuses. */
static bool verify_allowed(struct mesh_join_inviter *inv, const union endpoint *src,
    mtime_ns now)
{
	struct mesh_bucket *b = src_bucket(inv, src, now);

	if (!bucket_has(b, now, JOIN_VERIFY_SRC_PER_S, JOIN_VERIFY_SRC_BURST)) {
		inv->st.drop_ratelimit++;
		return false;
	}
	if (!mesh_bucket_take1(&inv->budget, now, JOIN_VERIFY_PER_S, JOIN_VERIFY_BURST)) {
		inv->st.drop_budget++;
		return false;
	}
	(void)mesh_bucket_take1(b, now, JOIN_VERIFY_SRC_PER_S, JOIN_VERIFY_SRC_BURST);
	inv->st.verified++;
	return true;
}

/* The very same bytes were answered: say it again, consume nothing. They
 * were verified when first answered, so no key is needed (the invite may be
 * used up or gone by now). The answer is about 5 times the request, and
 * anyone who captured the request can replay it with any source address:
 * so it goes only where it went the first time (a joiner that moved
 * meanwhile times out and joins with a new token), and only as often as a
 * joiner retransmits (JOIN_RESEND_MAX, JOIN_RESEND_GAP_MS apart), so a
 * replay flood towards that address gains nothing. True: handled (answered
 * again or dropped); false: not answered before. */
static bool answer_again(struct mesh_join_inviter *inv, const struct mesh_join_req *req,
    const uint8_t h[JOIN_HASH_LEN], const union endpoint *src, mtime_ns now,
    uint64_t now_unix, uint8_t *reply, size_t *reply_len)
{
	struct mesh_join_cached *cached = cache_find(inv, req->request_id, now_unix);

	if (cached == NULL)
		return false;
	if (memcmp(cached->req_hash, h, JOIN_HASH_LEN) != 0)
		return true;	/* other bytes under an answered id */
	if (!endpoint_eq(&cached->to, src)) {
		inv->st.drop_replay++;
		return true;
	}
	if (cached->resends >= JOIN_RESEND_MAX ||
	    (cached->resends > 0 && now - cached->resent_at < MSEC(JOIN_RESEND_GAP_MS))) {
		inv->st.drop_resend++;
		return true;
	}
	cached->resends++;
	cached->resent_at = now;
	memcpy(reply, cached->resp, cached->len);
	*reply_len = cached->len;
	cached->used = ++inv->tick;
	return true;
}

/* Checks the request against its invite, cheapest first. 0: go on and
 * admit; 1: answered (a JOIN_ERR in reply) or dropped. */
static int check_request(struct mesh_join_inviter *inv, const struct mesh_join_req *req,
    const union endpoint *src, mtime_ns now, uint64_t now_unix, uint8_t *reply, size_t cap,
    size_t *reply_len)
{
	struct mesh_join_invite invite;
	int r;

	memset(&invite, 0, sizeof invite);
	r = inv->cfg.ops.lookup(inv->cfg.ctx, req->invite_id, &invite);
	if (r != 0) {
		err_reply(req->request_id, r == MESHD_E_NOENT ? MESH_JOIN_R_UNKNOWN_INVITE :
		    MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return 1;
	}
	/* A dead invite is refused before its signature is checked, so that
	 * knowing an old invite id buys no Ed25519 verifications. Saying so
	 * tells only what UNKNOWN_INVITE tells of any id. admit() checks both
	 * again inside its transaction. */
	if (now_unix >= invite.expires_at) {
		err_reply(req->request_id, MESH_JOIN_R_EXPIRED, reply, cap, reply_len);
		return 1;
	}
	if (invite.uses_left == 0) {
		err_reply(req->request_id, MESH_JOIN_R_USED_UP, reply, cap, reply_len);
		return 1;
	}
	if (!verify_allowed(inv, src, now))
		return 1;
	/* No oracle for someone guessing secrets: a bad signature gets nothing. */
	if (!mesh_join_req_verify(req, invite.pk))
		return 1;
	if (req->time > now_unix + (uint64_t)JOIN_SKEW_S ||
	    now_unix > req->time + (uint64_t)JOIN_SKEW_S || !x25519_pk_usable(req->wg_pk)) {
		err_reply(req->request_id, MESH_JOIN_R_BAD_REQUEST, reply, cap, reply_len);
		return 1;
	}
	return 0;
}

/* Admits the joiner through the ops and seals its answer into reply
 * (reply_len 0 when a JOIN_ERR could not be made either). True: a sealed
 * JOIN_RESP, to be cached. */
static bool admit_and_seal(struct mesh_join_inviter *inv, const struct mesh_join_req *req,
    uint64_t now_unix, uint8_t *reply, size_t cap, size_t *reply_len)
{
	uint8_t cert_bytes[MESH_CERT_MAX_LEN];
	struct mesh_join_resp resp;
	struct mesh_cert cert;
	struct wr w;
	int r;

	memset(&cert, 0, sizeof cert);
	r = inv->cfg.ops.admit(inv->cfg.ctx, req->invite_id, req->name, req->wg_pk,
	    req->sign_pk, now_unix, &cert);
	if (r != 0) {
		err_reply(req->request_id, r > 0 ? r : MESH_JOIN_R_INTERNAL, reply, cap,
		    reply_len);
		return false;
	}
	wr_init(&w, cert_bytes, sizeof cert_bytes);
	if (!cert_binds(&cert, req, inv->mesh_id) || mesh_cert_encode(&cert, &w) != 0 ||
	    mesh_join_resp_init(&resp, cert_bytes, w.off, inv->cfg.authority_pk,
	    inv->cfg.mesh_name, &inv->cfg.prefix4, &inv->cfg.prefix6) != 0) {
		err_reply(req->request_id, MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return false;
	}
	if (inv->cfg.ops.roster != NULL)
		(void)inv->cfg.ops.roster(inv->cfg.ctx, &resp);
	wr_init(&w, reply, cap);
	if (mesh_join_resp_seal(&resp, req->request_id, req->wg_pk, &w) != 0) {
		err_reply(req->request_id, MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return false;
	}
	*reply_len = w.off;
	return true;
}

int mesh_join_inviter_handle(struct mesh_join_inviter *inv, const union endpoint *src,
    const uint8_t *dgram, size_t len, mtime_ns now, uint64_t now_unix, uint8_t *reply,
    size_t *reply_len)
{
	uint8_t h[JOIN_HASH_LEN];
	struct mesh_join_cached *cached;
	struct mesh_join_req req;
	size_t cap = *reply_len;

	*reply_len = 0;
	if (cap < MESH_MSG_DGRAM_MAX)
		return MESHD_E_RANGE;
	/* Nowhere to answer, or malformed: silent drop. */
	if (src == NULL || !endpoint_is_set(src) || mesh_join_req_decode(dgram, len, &req) != 0)
		return 0;
	/* For another mesh: say so (unauthenticated, smaller than the request,
	 * and it tells nothing an UNKNOWN_INVITE answer would not), so that a
	 * token pointing at the wrong mesh fails with its own message instead
	 * of a timeout. */
	if (sodium_memcmp(req.pin, inv->mesh_id, MESH_TOKEN_ID_LEN) != 0) {
		err_reply(req.request_id, MESH_JOIN_R_OTHER_MESH, reply, cap, reply_len);
		return 0;
	}
	crypto_generichash(h, sizeof h, dgram, len, NULL, 0);
	if (answer_again(inv, &req, h, src, now, now_unix, reply, reply_len) ||
	    check_request(inv, &req, src, now, now_unix, reply, cap, reply_len) != 0 ||
	    !admit_and_seal(inv, &req, now_unix, reply, cap, reply_len))
		return 0;

	cached = cache_slot(inv, now_unix);
	cached->live = true;
	memcpy(cached->request_id, req.request_id, sizeof cached->request_id);
	memcpy(cached->req_hash, h, sizeof h);
	cached->to = *src;
	cached->at = now_unix;
	cached->used = ++inv->tick;
	cached->resends = 0;
	cached->resent_at = 0;
	cached->len = (uint16_t)*reply_len;
	memcpy(cached->resp, reply, *reply_len);
	return 0;
}

void mesh_join_inviter_stats(const struct mesh_join_inviter *inv, struct mesh_join_stats *out)
{
	*out = inv->st;
}
