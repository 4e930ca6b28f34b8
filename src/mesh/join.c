/* The join protocol: message codecs and the inviter's and joiner's state
 * machines. The protocol picture is in join.h; byte layouts in
 * docs/wire-formats.md ("Join messages"). */
#include "mesh/join.h"

#include <string.h>

#include <sodium.h>

#include "util/err.h"

_Static_assert((size_t)MESH_JOIN_SEAL_LEN == crypto_box_SEALBYTES, "seal overhead");
_Static_assert(MESH_WG_KEY_LEN == crypto_box_PUBLICKEYBYTES, "x25519 key");
_Static_assert(MESH_WG_KEY_LEN == crypto_box_SECRETKEYBYTES, "x25519 key");
_Static_assert(MESH_WG_KEY_LEN == crypto_scalarmult_BYTES, "x25519 key");
_Static_assert(MESH_TOKEN_SECRET_LEN >= crypto_generichash_KEYBYTES_MIN, "secret as key");
_Static_assert(MESH_PK_LEN == crypto_sign_PUBLICKEYBYTES, "ed25519 pk");
_Static_assert(MESH_SK_LEN == crypto_sign_SECRETKEYBYTES, "ed25519 sk");
_Static_assert((int)MESH_JOIN_REQ_MAX_LEN <= (int)MESH_MSG_DGRAM_MAX, "request fits");
_Static_assert(sizeof(MESH_JOIN_REQ_DOMAIN) - 1 + MESH_JOIN_REQ_MAX_LEN <= MESH_SIGNED_MAX,
    "request signable");
_Static_assert((int)MESH_JOIN_RESP_PLAIN_MAX <= UINT16_MAX, "u16 offsets");
_Static_assert((int)MESH_JOIN_ROSTER_MAX <= UINT8_MAX, "u8 counts");
/* JOIN_ERR reasons map onto outcomes in order. */
_Static_assert((int)MESH_JOIN_INTERNAL - (int)MESH_JOIN_UNKNOWN_INVITE ==
    (int)MESH_JOIN_R_INTERNAL - (int)MESH_JOIN_R_UNKNOWN_INVITE, "reason order");
_Static_assert(MESH_JOIN_OUTCOME_END == MESH_JOIN_INTERNAL + 1, "reason order");

enum {
	HASH_LEN = 32,
	MILLI = 1000,			/* bucket tokens are kept in thousandths */
	BUCKET_DT_MAX_S = 60,		/* longer idle times refill to full anyway */
	PREFIX4_LEN = 1 + 4 + 1,
	PREFIX6_LEN = 1 + 16 + 1,
	/* u16 cert len, authority pk, str name, prefixes, u8 nep, 3 counts */
	PLAIN_FIXED_LEN = 2 + MESH_PK_LEN + 1 + PREFIX4_LEN + PREFIX6_LEN + 1 + 3,
};

static const char *const reason_names[MESH_JOIN_R_END] = {
	[MESH_JOIN_R_UNKNOWN_INVITE] = "unknown-invite",
	[MESH_JOIN_R_EXPIRED] = "expired",
	[MESH_JOIN_R_USED_UP] = "used-up",
	[MESH_JOIN_R_NAME_TAKEN] = "name-taken",
	[MESH_JOIN_R_BAD_REQUEST] = "bad-request",
	[MESH_JOIN_R_INTERNAL] = "internal",
	[MESH_JOIN_R_OTHER_MESH] = "other-mesh",
};

const char *mesh_join_reason_str(int reason)
{
	if (reason <= 0 || reason >= MESH_JOIN_R_END)
		return "unknown";
	return reason_names[reason];
}

static bool reason_known(int reason)
{
	return reason > 0 && reason < MESH_JOIN_R_END;
}

/* ---- invite key ---- */

int mesh_join_invite_keypair(const uint8_t secret[MESH_TOKEN_SECRET_LEN],
    uint8_t pk[MESH_PK_LEN], uint8_t sk[MESH_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int r = MESHD_E_CRYPTO;

	if (crypto_generichash(seed, sizeof seed, (const uint8_t *)MESH_JOIN_INVITE_DOMAIN,
	    strlen(MESH_JOIN_INVITE_DOMAIN), secret, MESH_TOKEN_SECRET_LEN) != 0 ||
	    crypto_sign_seed_keypair(pk, sk, seed) != 0) {
		sodium_memzero(pk, MESH_PK_LEN);
		sodium_memzero(sk, MESH_SK_LEN);
		goto out;
	}
	r = 0;
out:
	sodium_memzero(seed, sizeof seed);
	return r;
}

void mesh_join_invite_id(const uint8_t pk[MESH_PK_LEN], uint8_t id[MESH_JOIN_INVITE_ID_LEN])
{
	uint8_t h[HASH_LEN];

	crypto_generichash(h, sizeof h, pk, MESH_PK_LEN, NULL, 0);
	memcpy(id, h, MESH_JOIN_INVITE_ID_LEN);
}

/* ---- small codecs ---- */

static int hdr_read(struct rd *rd, uint8_t type)
{
	uint8_t magic, t;
	int r;

	if ((r = rd_u8(rd, &magic)) != 0 || (r = rd_u8(rd, &t)) != 0)
		return r;
	return magic == MESH_MSG_MAGIC && t == type ? 0 : MESHD_E_PROTO;
}

static int hdr_write(struct wr *w, uint8_t type)
{
	int r;

	if ((r = wr_u8(w, MESH_MSG_MAGIC)) != 0 || (r = wr_u8(w, type)) != 0)
		return r;
	return 0;
}

static size_t addr_len(uint8_t family)
{
	return family == MESH_FAMILY_V4 ? 4 : 16;
}

/* u8 family | addr[4|16] | u8 len, as a certificate route. */
static int prefix_write(struct wr *w, const struct mesh_prefix *p)
{
	int r;

	if ((r = wr_u8(w, p->family)) != 0 ||
	    (r = wr_bytes(w, p->addr, addr_len(p->family))) != 0 ||
	    (r = wr_u8(w, p->len)) != 0)
		return r;
	return 0;
}

static int prefix_read(struct rd *rd, uint8_t family, struct mesh_prefix *p)
{
	int r;

	memset(p, 0, sizeof *p);
	if ((r = rd_u8(rd, &p->family)) != 0)
		return r;
	if (p->family != family)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(rd, p->addr, addr_len(family))) != 0 || (r = rd_u8(rd, &p->len)) != 0)
		return r;
	return mesh_prefix_valid(p) ? 0 : MESHD_E_PROTO;
}

static size_t ep_wire_len(const struct mesh_ep *ep)
{
	return 1 + 1 + addr_len(ep->family) + 2;
}

/* u8 source | u8 family | addr[4|16] | u16 port, as in endpoint records. */
static int ep_write(struct wr *w, const struct mesh_ep *ep)
{
	int r;

	if ((r = wr_u8(w, ep->source)) != 0 || (r = wr_u8(w, ep->family)) != 0 ||
	    (r = wr_bytes(w, ep->addr, addr_len(ep->family))) != 0 ||
	    (r = wr_u16(w, ep->port)) != 0)
		return r;
	return 0;
}

static int ep_read(struct rd *rd, struct mesh_ep *ep)
{
	int r;

	memset(ep, 0, sizeof *ep);
	if ((r = rd_u8(rd, &ep->source)) != 0 || (r = rd_u8(rd, &ep->family)) != 0)
		return r;
	if (ep->family != MESH_FAMILY_V4 && ep->family != MESH_FAMILY_V6)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(rd, ep->addr, addr_len(ep->family))) != 0 ||
	    (r = rd_u16(rd, &ep->port)) != 0)
		return r;
	return mesh_ep_valid(ep) ? 0 : MESHD_E_PROTO;
}

/* ---- JOIN_REQ ---- */

/* Header and every field before the signature. */
static int req_body(const struct mesh_join_req *req, struct wr *w)
{
	int r;

	if (!mesh_name_valid(req->name))
		return MESHD_E_INVAL;
	if ((r = hdr_write(w, MESH_MSG_JOIN_REQ)) != 0 ||
	    (r = wr_bytes(w, req->invite_id, sizeof req->invite_id)) != 0 ||
	    (r = wr_bytes(w, req->pin, sizeof req->pin)) != 0 ||
	    (r = wr_str(w, req->name)) != 0 ||
	    (r = wr_bytes(w, req->wg_pk, sizeof req->wg_pk)) != 0 ||
	    (r = wr_bytes(w, req->sign_pk, sizeof req->sign_pk)) != 0 ||
	    (r = wr_u64(w, req->time)) != 0 ||
	    (r = wr_bytes(w, req->request_id, sizeof req->request_id)) != 0)
		return r;
	return 0;
}

int mesh_join_req_encode(const struct mesh_join_req *req, struct wr *w)
{
	size_t start = w->off;
	int r;

	if ((r = req_body(req, w)) != 0 || (r = wr_bytes(w, req->sig, sizeof req->sig)) != 0) {
		w->off = start;
		return r;
	}
	return 0;
}

int mesh_join_req_decode(const uint8_t *p, size_t len, struct mesh_join_req *out)
{
	struct rd rd;
	int r;

	memset(out, 0, sizeof *out);
	rd_init(&rd, p, len);
	if ((r = hdr_read(&rd, MESH_MSG_JOIN_REQ)) != 0 ||
	    (r = rd_bytes(&rd, out->invite_id, sizeof out->invite_id)) != 0 ||
	    (r = rd_bytes(&rd, out->pin, sizeof out->pin)) != 0 ||
	    (r = rd_str(&rd, out->name, sizeof out->name, MESH_NAME_MAX)) != 0 ||
	    (r = rd_bytes(&rd, out->wg_pk, sizeof out->wg_pk)) != 0 ||
	    (r = rd_bytes(&rd, out->sign_pk, sizeof out->sign_pk)) != 0 ||
	    (r = rd_u64(&rd, &out->time)) != 0 ||
	    (r = rd_bytes(&rd, out->request_id, sizeof out->request_id)) != 0 ||
	    (r = rd_bytes(&rd, out->sig, sizeof out->sig)) != 0 ||
	    (r = rd_end(&rd)) != 0)
		goto fail;
	if (!mesh_name_valid(out->name))
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof *out);
	return MESHD_E_PROTO;
}

int mesh_join_req_sign(struct mesh_join_req *req, const uint8_t invite_sk[MESH_SK_LEN])
{
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN];
	struct wr w;
	int r;

	wr_init(&w, buf, sizeof buf);
	if ((r = req_body(req, &w)) != 0)
		return r;
	return mesh_identity_sign(invite_sk, MESH_JOIN_REQ_DOMAIN, buf, w.off, req->sig);
}

bool mesh_join_req_verify(const struct mesh_join_req *req, const uint8_t invite_pk[MESH_PK_LEN])
{
	uint8_t buf[MESH_JOIN_REQ_MAX_LEN];
	struct wr w;

	wr_init(&w, buf, sizeof buf);
	if (req_body(req, &w) != 0)
		return false;
	return mesh_identity_verify(invite_pk, MESH_JOIN_REQ_DOMAIN, buf, w.off, req->sig);
}

/* ---- JOIN_ERR ---- */

int mesh_join_err_encode(const struct mesh_join_err *e, struct wr *w)
{
	size_t start = w->off;
	int r;

	if (!reason_known(e->reason))
		return MESHD_E_INVAL;
	if ((r = hdr_write(w, MESH_MSG_JOIN_ERR)) != 0 ||
	    (r = wr_bytes(w, e->request_id, sizeof e->request_id)) != 0 ||
	    (r = wr_u8(w, e->reason)) != 0) {
		w->off = start;
		return r;
	}
	return 0;
}

int mesh_join_err_decode(const uint8_t *p, size_t len, struct mesh_join_err *out)
{
	struct rd rd;

	memset(out, 0, sizeof *out);
	rd_init(&rd, p, len);
	if (hdr_read(&rd, MESH_MSG_JOIN_ERR) != 0 ||
	    rd_bytes(&rd, out->request_id, sizeof out->request_id) != 0 ||
	    rd_u8(&rd, &out->reason) != 0 || rd_end(&rd) != 0 || !reason_known(out->reason)) {
		memset(out, 0, sizeof *out);
		return MESHD_E_PROTO;
	}
	return 0;
}

/* ---- JOIN_RESP ---- */

/* Strict decode of one roster record as its kind (signatures unchecked). */
static int rec_check(uint8_t kind, const uint8_t *p, size_t len)
{
	struct mesh_cert c;
	struct mesh_revoke rv;
	struct mesh_endpoints e;

	switch (kind) {
	case MESH_REC_CERT:
		return mesh_cert_decode(p, len, &c) == 0 ? 0 : MESHD_E_PROTO;
	case MESH_REC_REVOKE:
		return mesh_revoke_decode(p, len, &rv) == 0 ? 0 : MESHD_E_PROTO;
	case MESH_REC_ENDPOINTS:
		return mesh_endpoints_decode(p, len, &e) == 0 ? 0 : MESHD_E_PROTO;
	default:
		return MESHD_E_PROTO;
	}
}

static size_t rec_max(uint8_t kind)
{
	switch (kind) {
	case MESH_REC_CERT:
		return MESH_CERT_MAX_LEN;
	case MESH_REC_REVOKE:
		return MESH_REVOKE_LEN;
	case MESH_REC_ENDPOINTS:
		return MESH_ENDPOINTS_MAX_LEN;
	default:
		return 0;
	}
}

static size_t plain_len(const struct mesh_join_resp *resp)
{
	size_t n = PLAIN_FIXED_LEN + resp->cert_len + strlen(resp->mesh_name);
	unsigned i;

	for (i = 0; i < resp->nep; i++)
		n += ep_wire_len(&resp->ep[i]);
	for (i = 0; i < resp->nrec; i++)
		n += 2 + resp->rec[i].len;
	return n;
}

size_t mesh_join_resp_len(const struct mesh_join_resp *resp)
{
	return MESH_JOIN_RESP_OUTER_LEN + plain_len(resp);
}

int mesh_join_resp_init(struct mesh_join_resp *resp, const uint8_t *cert, size_t cert_len,
    const uint8_t authority_pk[MESH_PK_LEN], const char *mesh_name,
    const struct mesh_prefix *prefix4, const struct mesh_prefix *prefix6)
{
	struct mesh_cert c;

	memset(resp, 0, sizeof *resp);
	if (cert_len > MESH_CERT_MAX_LEN || mesh_cert_decode(cert, cert_len, &c) != 0 ||
	    !mesh_name_valid(mesh_name) || prefix4->family != MESH_FAMILY_V4 ||
	    !mesh_prefix_valid(prefix4) || prefix6->family != MESH_FAMILY_V6 ||
	    !mesh_prefix_valid(prefix6))
		return MESHD_E_INVAL;
	memcpy(resp->cert, cert, cert_len);
	resp->cert_len = (uint16_t)cert_len;
	memcpy(resp->authority_pk, authority_pk, MESH_PK_LEN);
	strcpy(resp->mesh_name, mesh_name);
	resp->prefix4 = *prefix4;
	resp->prefix6 = *prefix6;
	return 0;
}

int mesh_join_resp_add_endpoint(struct mesh_join_resp *resp, const struct mesh_ep *ep)
{
	if (!mesh_ep_valid(ep))
		return MESHD_E_INVAL;
	if (resp->nep >= MESH_JOIN_MAX_EP ||
	    mesh_join_resp_len(resp) + ep_wire_len(ep) > MESH_JOIN_RESP_MAX_LEN)
		return MESHD_E_FULL;
	resp->ep[resp->nep++] = *ep;
	return 0;
}

int mesh_join_resp_add_record(struct mesh_join_resp *resp, enum mesh_rec_kind kind,
    const uint8_t *bytes, size_t len)
{
	struct mesh_join_rec *rec;

	if (len > rec_max((uint8_t)kind) || rec_check((uint8_t)kind, bytes, len) != 0)
		return MESHD_E_INVAL;
	if (resp->nrec >= MESH_JOIN_ROSTER_MAX ||
	    mesh_join_resp_len(resp) + 2 + len > MESH_JOIN_RESP_MAX_LEN ||
	    resp->data_len + len > sizeof resp->data)
		return MESHD_E_FULL;
	rec = &resp->rec[resp->nrec++];
	rec->kind = (uint8_t)kind;
	rec->off = resp->data_len;
	rec->len = (uint16_t)len;
	memcpy(resp->data + resp->data_len, bytes, len);
	resp->data_len = (uint16_t)(resp->data_len + len);
	return 0;
}

static const uint8_t rec_order[] = { MESH_REC_CERT, MESH_REC_REVOKE, MESH_REC_ENDPOINTS };

static unsigned rec_count(const struct mesh_join_resp *resp, uint8_t kind)
{
	unsigned i, n = 0;

	for (i = 0; i < resp->nrec; i++)
		n += resp->rec[i].kind == kind;
	return n;
}

static int plain_encode(const struct mesh_join_resp *resp, struct wr *w)
{
	unsigned i, k;
	int r;

	if ((r = wr_u16(w, resp->cert_len)) != 0 ||
	    (r = wr_bytes(w, resp->cert, resp->cert_len)) != 0 ||
	    (r = wr_bytes(w, resp->authority_pk, sizeof resp->authority_pk)) != 0 ||
	    (r = wr_str(w, resp->mesh_name)) != 0 ||
	    (r = prefix_write(w, &resp->prefix4)) != 0 ||
	    (r = prefix_write(w, &resp->prefix6)) != 0 ||
	    (r = wr_u8(w, resp->nep)) != 0)
		return r;
	for (i = 0; i < resp->nep; i++)
		if ((r = ep_write(w, &resp->ep[i])) != 0)
			return r;
	for (k = 0; k < sizeof rec_order; k++)
		if ((r = wr_u8(w, (uint8_t)rec_count(resp, rec_order[k]))) != 0)
			return r;
	for (k = 0; k < sizeof rec_order; k++)
		for (i = 0; i < resp->nrec; i++) {
			const struct mesh_join_rec *rec = &resp->rec[i];

			if (rec->kind != rec_order[k])
				continue;
			if ((r = wr_u16(w, rec->len)) != 0 ||
			    (r = wr_bytes(w, resp->data + rec->off, rec->len)) != 0)
				return r;
		}
	return 0;
}

static int plain_decode(const uint8_t *p, size_t len, struct mesh_join_resp *out)
{
	uint8_t counts[sizeof rec_order];
	struct mesh_cert c;
	struct rd rd;
	unsigned i, k, total = 0;
	int r;

	memset(out, 0, sizeof *out);
	rd_init(&rd, p, len);
	if ((r = rd_u16(&rd, &out->cert_len)) != 0)
		return r;
	if (out->cert_len > MESH_CERT_MAX_LEN)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(&rd, out->cert, out->cert_len)) != 0 ||
	    (r = rd_bytes(&rd, out->authority_pk, sizeof out->authority_pk)) != 0 ||
	    (r = rd_str(&rd, out->mesh_name, sizeof out->mesh_name, MESH_NAME_MAX)) != 0 ||
	    (r = prefix_read(&rd, MESH_FAMILY_V4, &out->prefix4)) != 0 ||
	    (r = prefix_read(&rd, MESH_FAMILY_V6, &out->prefix6)) != 0 ||
	    (r = rd_u8(&rd, &out->nep)) != 0)
		return r;
	if (mesh_cert_decode(out->cert, out->cert_len, &c) != 0 ||
	    !mesh_name_valid(out->mesh_name) || out->nep > MESH_JOIN_MAX_EP)
		return MESHD_E_PROTO;
	for (i = 0; i < out->nep; i++)
		if ((r = ep_read(&rd, &out->ep[i])) != 0)
			return r;
	for (k = 0; k < sizeof rec_order; k++) {
		if ((r = rd_u8(&rd, &counts[k])) != 0)
			return r;
		total += counts[k];
	}
	if (total > MESH_JOIN_ROSTER_MAX)
		return MESHD_E_PROTO;
	for (k = 0; k < sizeof rec_order; k++)
		for (i = 0; i < counts[k]; i++) {
			struct mesh_join_rec *rec = &out->rec[out->nrec];
			uint16_t n;

			if ((r = rd_u16(&rd, &n)) != 0)
				return r;
			if (n > rec_max(rec_order[k]) || out->data_len + n > sizeof out->data)
				return MESHD_E_PROTO;
			if ((r = rd_bytes(&rd, out->data + out->data_len, n)) != 0)
				return r;
			if (rec_check(rec_order[k], out->data + out->data_len, n) != 0)
				return MESHD_E_PROTO;
			rec->kind = rec_order[k];
			rec->off = out->data_len;
			rec->len = n;
			out->data_len = (uint16_t)(out->data_len + n);
			out->nrec++;
		}
	return rd_end(&rd);
}

int mesh_join_resp_seal(const struct mesh_join_resp *resp,
    const uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN], const uint8_t wg_pk[MESH_WG_KEY_LEN],
    struct wr *w)
{
	uint8_t plain[MESH_JOIN_RESP_PLAIN_MAX];
	size_t start = w->off;
	struct wr pw;
	int r;

	wr_init(&pw, plain, sizeof plain);
	if ((r = plain_encode(resp, &pw)) != 0) {
		r = r == MESHD_E_RANGE ? MESHD_E_RANGE : MESHD_E_INVAL;
		goto out;
	}
	if (w->cap - w->off < MESH_JOIN_RESP_OUTER_LEN + pw.off) {
		r = MESHD_E_RANGE;
		goto out;
	}
	if ((r = hdr_write(w, MESH_MSG_JOIN_RESP)) != 0 ||
	    (r = wr_bytes(w, request_id, MESH_JOIN_REQUEST_ID_LEN)) != 0)
		goto out;
	if (crypto_box_seal(w->p + w->off, plain, pw.off, wg_pk) != 0) {
		r = MESHD_E_CRYPTO;
		goto out;
	}
	w->off += pw.off + MESH_JOIN_SEAL_LEN;
	r = 0;
out:
	if (r != 0)
		w->off = start;
	sodium_memzero(plain, sizeof plain);
	return r;
}

int mesh_join_resp_peek(const uint8_t *p, size_t len, uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN])
{
	struct rd rd;

	rd_init(&rd, p, len);
	if (len < MESH_JOIN_RESP_OUTER_LEN || len > MESH_JOIN_RESP_MAX_LEN ||
	    hdr_read(&rd, MESH_MSG_JOIN_RESP) != 0 ||
	    rd_bytes(&rd, request_id, MESH_JOIN_REQUEST_ID_LEN) != 0) {
		memset(request_id, 0, MESH_JOIN_REQUEST_ID_LEN);
		return MESHD_E_PROTO;
	}
	return 0;
}

int mesh_join_resp_open(const uint8_t *p, size_t len, const uint8_t wg_pk[MESH_WG_KEY_LEN],
    const uint8_t wg_sk[MESH_WG_KEY_LEN], uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN],
    struct mesh_join_resp *out)
{
	uint8_t plain[MESH_JOIN_RESP_PLAIN_MAX];
	size_t clen;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = mesh_join_resp_peek(p, len, request_id)) != 0)
		return r;
	clen = len - MESH_MSG_HDR_LEN - MESH_JOIN_REQUEST_ID_LEN;
	if (crypto_box_seal_open(plain, p + MESH_MSG_HDR_LEN + MESH_JOIN_REQUEST_ID_LEN, clen,
	    wg_pk, wg_sk) != 0) {
		r = MESHD_E_CRYPTO;
		goto out;
	}
	r = plain_decode(plain, clen - MESH_JOIN_SEAL_LEN, out) == 0 ? 0 : MESHD_E_PROTO;
out:
	if (r != 0) {
		memset(out, 0, sizeof *out);
		memset(request_id, 0, MESH_JOIN_REQUEST_ID_LEN);
	}
	sodium_memzero(plain, sizeof plain);
	return r;
}

/* ---- inviter ---- */

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
	e.reason = (uint8_t)(reason_known(reason) ? reason : MESH_JOIN_R_INTERNAL);
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

/* Refills b at rate tokens/s up to burst and takes one token if it can. A
 * fresh bucket starts full. */
static bool bucket_take(struct mesh_join_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst)
{
	uint64_t cap = burst * MILLI;

	if (!b->primed) {
		b->primed = true;
		b->milli = cap;
		b->last = now;
	} else if (now > b->last) {
		mtime_ns dt = now - b->last;

		if (dt > SEC(BUCKET_DT_MAX_S))
			dt = SEC(BUCKET_DT_MAX_S);
		b->milli += dt * rate / (SEC(1) / MILLI);
		if (b->milli > cap)
			b->milli = cap;
		b->last = now;
	}
	if (b->milli < MILLI)
		return false;
	b->milli -= MILLI;
	return true;
}

static bool bucket_has(struct mesh_join_bucket *b, mtime_ns now, uint64_t rate, uint64_t burst)
{
	struct mesh_join_bucket t = *b;

	return bucket_take(&t, now, rate, burst);
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
static struct mesh_join_bucket *src_bucket(struct mesh_join_inviter *inv,
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
	struct mesh_join_bucket *b = src_bucket(inv, src, now);

	if (!bucket_has(b, now, JOIN_VERIFY_SRC_PER_S, JOIN_VERIFY_SRC_BURST)) {
		inv->st.drop_ratelimit++;
		return false;
	}
	if (!bucket_take(&inv->budget, now, JOIN_VERIFY_PER_S, JOIN_VERIFY_BURST)) {
		inv->st.drop_budget++;
		return false;
	}
	(void)bucket_take(b, now, JOIN_VERIFY_SRC_PER_S, JOIN_VERIFY_SRC_BURST);
	inv->st.verified++;
	return true;
}

int mesh_join_inviter_handle(struct mesh_join_inviter *inv, const union endpoint *src,
    const uint8_t *dgram, size_t len, mtime_ns now, uint64_t now_unix, uint8_t *reply,
    size_t *reply_len)
{
	uint8_t cert_bytes[MESH_CERT_MAX_LEN], h[HASH_LEN];
	struct mesh_join_invite invite;
	struct mesh_join_cached *cached;
	struct mesh_join_resp resp;
	struct mesh_join_req req;
	struct mesh_cert cert;
	size_t cap = *reply_len;
	struct wr w;
	int r;

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

	/* The very same bytes were answered: say it again, consume nothing.
	 * They were verified when first answered, so no key is needed (the
	 * invite may be used up or gone by now). The answer is about 5 times
	 * the request, and anyone who captured the request can replay it with
	 * any source address: so it goes only where it went the first time
	 * (a joiner that moved meanwhile times out and joins with a new
	 * token). */
	crypto_generichash(h, sizeof h, dgram, len, NULL, 0);
	cached = cache_find(inv, req.request_id, now_unix);
	if (cached != NULL) {
		if (memcmp(cached->req_hash, h, sizeof h) != 0)
			return 0;	/* other bytes under an answered id */
		if (!endpoint_eq(&cached->to, src)) {
			inv->st.drop_replay++;
			return 0;
		}
		memcpy(reply, cached->resp, cached->len);
		*reply_len = cached->len;
		cached->used = ++inv->tick;
		return 0;
	}

	memset(&invite, 0, sizeof invite);
	r = inv->cfg.ops.lookup(inv->cfg.ctx, req.invite_id, &invite);
	if (r != 0) {
		err_reply(req.request_id, r == MESHD_E_NOENT ? MESH_JOIN_R_UNKNOWN_INVITE :
		    MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return 0;
	}
	/* A dead invite is refused before its signature is checked, so that
	 * knowing an old invite id buys no Ed25519 verifications. Saying so
	 * tells only what UNKNOWN_INVITE tells of any id. admit() checks both
	 * again inside its transaction. */
	if (now_unix >= invite.expires_at) {
		err_reply(req.request_id, MESH_JOIN_R_EXPIRED, reply, cap, reply_len);
		return 0;
	}
	if (invite.uses_left == 0) {
		err_reply(req.request_id, MESH_JOIN_R_USED_UP, reply, cap, reply_len);
		return 0;
	}
	if (!verify_allowed(inv, src, now))
		return 0;
	/* No oracle for someone guessing secrets: a bad signature gets nothing. */
	if (!mesh_join_req_verify(&req, invite.pk))
		return 0;
	if (req.time > now_unix + (uint64_t)JOIN_SKEW_S ||
	    now_unix > req.time + (uint64_t)JOIN_SKEW_S || !x25519_pk_usable(req.wg_pk)) {
		err_reply(req.request_id, MESH_JOIN_R_BAD_REQUEST, reply, cap, reply_len);
		return 0;
	}

	memset(&cert, 0, sizeof cert);
	r = inv->cfg.ops.admit(inv->cfg.ctx, req.invite_id, req.name, req.wg_pk, req.sign_pk,
	    now_unix, &cert);
	if (r != 0) {
		err_reply(req.request_id, r > 0 ? r : MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return 0;
	}
	wr_init(&w, cert_bytes, sizeof cert_bytes);
	if (!cert_binds(&cert, &req, inv->mesh_id) || mesh_cert_encode(&cert, &w) != 0 ||
	    mesh_join_resp_init(&resp, cert_bytes, w.off, inv->cfg.authority_pk,
	    inv->cfg.mesh_name, &inv->cfg.prefix4, &inv->cfg.prefix6) != 0) {
		err_reply(req.request_id, MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return 0;
	}
	if (inv->cfg.ops.roster != NULL)
		(void)inv->cfg.ops.roster(inv->cfg.ctx, &resp);
	wr_init(&w, reply, cap);
	if (mesh_join_resp_seal(&resp, req.request_id, req.wg_pk, &w) != 0) {
		err_reply(req.request_id, MESH_JOIN_R_INTERNAL, reply, cap, reply_len);
		return 0;
	}
	*reply_len = w.off;

	cached = cache_slot(inv, now_unix);
	cached->live = true;
	memcpy(cached->request_id, req.request_id, sizeof cached->request_id);
	memcpy(cached->req_hash, h, sizeof h);
	cached->to = *src;
	cached->at = now_unix;
	cached->used = ++inv->tick;
	cached->len = (uint16_t)w.off;
	memcpy(cached->resp, reply, w.off);
	return 0;
}

void mesh_join_inviter_stats(const struct mesh_join_inviter *inv, struct mesh_join_stats *out)
{
	*out = inv->st;
}

/* ---- joiner ---- */

static const char *const outcome_msgs[MESH_JOIN_OUTCOME_END] = {
	[MESH_JOIN_PENDING] = "join still in progress",
	[MESH_JOIN_OK] = "joined the mesh",
	[MESH_JOIN_TIMEOUT] = "inviter unreachable: no answer from the token's endpoints",
	[MESH_JOIN_FOREIGN_MESH] = "the inviter belongs to a different mesh than the token "
	    "names (wrong or forged token?)",
	[MESH_JOIN_BAD_RESPONSE] = "the inviter sent a certificate that is invalid or not "
	    "for this node",
	[MESH_JOIN_UNKNOWN_INVITE] = "the inviter does not know this invite (revoked, or "
	    "made by another node?)",
	[MESH_JOIN_EXPIRED] = "the invite has expired: ask for a new token",
	[MESH_JOIN_USED_UP] = "the invite has been used up: ask for a new token",
	[MESH_JOIN_NAME_TAKEN] = "that name is already taken in the mesh: choose another",
	[MESH_JOIN_BAD_REQUEST] = "the inviter refused the request: check this machine's "
	    "clock",
	[MESH_JOIN_INTERNAL] = "the inviter failed to admit this node (see its log)",
};

const char *mesh_join_strerror(int outcome)
{
	if (outcome < 0 || outcome >= MESH_JOIN_OUTCOME_END)
		return "unknown join outcome";
	return outcome_msgs[outcome];
}

static void finish(struct mesh_join_joiner *j, enum mesh_join_outcome outcome)
{
	j->state = MESH_JOINER_DONE;
	j->outcome = outcome;
	sodium_memzero(j->wg_sk, sizeof j->wg_sk);
}

static void send_next(struct mesh_join_joiner *j, mtime_ns now)
{
	const union endpoint *dst = &j->ep[j->next_ep];

	j->next_ep = (j->next_ep + 1) % j->nep;
	j->sent++;
	j->next_send = now + j->interval;
	j->interval = j->interval * 2 > MSEC(JOIN_RETRY_MAX_MS) ? MSEC(JOIN_RETRY_MAX_MS) :
	    j->interval * 2;
	j->send(j->ctx, dst, j->req, j->req_len);
}

int mesh_join_joiner_start(struct mesh_join_joiner *j, const struct mesh_token *tok,
    const char *name, const uint8_t wg_pk[MESH_WG_KEY_LEN], const uint8_t wg_sk[MESH_WG_KEY_LEN],
    const uint8_t sign_pk[MESH_PK_LEN], mtime_ns now, uint64_t now_unix,
    mesh_join_send_fn *send, void *ctx)
{
	uint8_t ipk[MESH_PK_LEN], isk[MESH_SK_LEN], chk[MESH_WG_KEY_LEN];
	struct mesh_join_req req;
	struct wr w;
	int r = MESHD_E_INVAL;

	memset(j, 0, sizeof *j);
	memset(&req, 0, sizeof req);
	if (tok->nep < 1 || tok->nep > MESH_TOKEN_MAX_EP || !mesh_name_valid(name) ||
	    send == NULL)
		goto out;
	if (crypto_scalarmult_base(chk, wg_sk) != 0 ||
	    sodium_memcmp(chk, wg_pk, MESH_WG_KEY_LEN) != 0)
		goto out;
	if ((r = mesh_token_check_expiry(tok, now_unix)) != 0 ||
	    (r = mesh_join_invite_keypair(tok->secret, ipk, isk)) != 0)
		goto out;

	mesh_join_invite_id(ipk, req.invite_id);
	memcpy(req.pin, tok->mesh_id, sizeof req.pin);
	strcpy(req.name, name);
	memcpy(req.wg_pk, wg_pk, sizeof req.wg_pk);
	memcpy(req.sign_pk, sign_pk, sizeof req.sign_pk);
	req.time = now_unix;
	randombytes_buf(req.request_id, sizeof req.request_id);
	wr_init(&w, j->req, sizeof j->req);
	if ((r = mesh_join_req_sign(&req, isk)) != 0 || (r = mesh_join_req_encode(&req, &w)) != 0)
		goto out;

	j->req_len = w.off;
	memcpy(j->pin, tok->mesh_id, sizeof j->pin);
	j->nep = tok->nep;
	memcpy(j->ep, tok->ep, sizeof j->ep);
	strcpy(j->name, name);
	memcpy(j->wg_pk, wg_pk, sizeof j->wg_pk);
	memcpy(j->wg_sk, wg_sk, sizeof j->wg_sk);
	memcpy(j->sign_pk, sign_pk, sizeof j->sign_pk);
	memcpy(j->request_id, req.request_id, sizeof j->request_id);
	j->started = now;
	j->deadline = now + SEC(JOIN_TIMEOUT_S);
	j->unix_at_start = now_unix;
	j->interval = MSEC(JOIN_RETRY_FIRST_MS);
	j->send = send;
	j->ctx = ctx;
	j->state = MESH_JOINER_WAITING;
	j->outcome = MESH_JOIN_PENDING;
	send_next(j, now);
	r = 0;
out:
	if (r != 0)
		mesh_join_joiner_clear(j);
	sodium_memzero(isk, sizeof isk);
	sodium_memzero(chk, sizeof chk);
	sodium_memzero(&req, sizeof req);
	return r;
}

mtime_ns mesh_join_joiner_next_expiry(const struct mesh_join_joiner *j)
{
	if (j->state != MESH_JOINER_WAITING)
		return MTIME_NEVER;
	return j->next_send < j->deadline ? j->next_send : j->deadline;
}

int mesh_join_joiner_handle_expiry(struct mesh_join_joiner *j, mtime_ns now)
{
	if (j->state != MESH_JOINER_WAITING)
		return j->outcome;
	if (now >= j->deadline)
		finish(j, MESH_JOIN_TIMEOUT);
	else if (now >= j->next_send)
		send_next(j, now);
	return j->outcome;
}

/* The response names our mesh's authority (else FOREIGN_MESH) and carries a
 * valid certificate for exactly us in its prefixes (else BAD_RESPONSE). */
static enum mesh_join_outcome check_resp(struct mesh_join_joiner *j, mtime_ns now)
{
	struct mesh_join_result *res = &j->result;
	struct mesh_prefix ula;
	uint64_t now_unix = j->unix_at_start;

	if (now > j->started)
		now_unix += (now - j->started) / SEC(1);
	mesh_identity_mesh_id(res->resp.authority_pk, res->mesh_id);
	if (sodium_memcmp(res->mesh_id, j->pin, sizeof j->pin) != 0)
		return MESH_JOIN_FOREIGN_MESH;
	mesh_identity_ula_prefix(res->mesh_id, &ula);
	if (mesh_cert_decode(res->resp.cert, res->resp.cert_len, &res->cert) != 0 ||
	    !mesh_cert_verify(&res->cert, res->resp.authority_pk, now_unix) ||
	    strcmp(res->cert.name, j->name) != 0 ||
	    sodium_memcmp(res->cert.wg_pubkey, j->wg_pk, sizeof j->wg_pk) != 0 ||
	    sodium_memcmp(res->cert.sign_pk, j->sign_pk, sizeof j->sign_pk) != 0 ||
	    mesh_prefix_cmp(&ula, &res->resp.prefix6) != 0 ||
	    !mesh_prefix_contains_addr(&res->resp.prefix6, MESH_FAMILY_V6, res->cert.ipv6) ||
	    !mesh_prefix_contains_addr(&res->resp.prefix4, MESH_FAMILY_V4, res->cert.ipv4))
		return MESH_JOIN_BAD_RESPONSE;
	return MESH_JOIN_OK;
}

int mesh_join_joiner_input(struct mesh_join_joiner *j, const uint8_t *dgram, size_t len,
    const union endpoint *src, mtime_ns now)
{
	uint8_t rid[MESH_JOIN_REQUEST_ID_LEN];
	struct mesh_join_err e;
	enum mesh_join_outcome o;

	if (j->state != MESH_JOINER_WAITING || !mesh_msg_is_mesh(dgram, len))
		return j->outcome;
	if (dgram[1] == MESH_MSG_JOIN_ERR) {
		if (mesh_join_err_decode(dgram, len, &e) != 0 ||
		    sodium_memcmp(e.request_id, j->request_id, sizeof rid) != 0)
			return j->outcome;
		if (e.reason == MESH_JOIN_R_OTHER_MESH)
			o = MESH_JOIN_FOREIGN_MESH;
		else
			o = (enum mesh_join_outcome)(MESH_JOIN_UNKNOWN_INVITE +
			    (e.reason - MESH_JOIN_R_UNKNOWN_INVITE));
		finish(j, o);
		return j->outcome;
	}
	if (dgram[1] != MESH_MSG_JOIN_RESP || mesh_join_resp_peek(dgram, len, rid) != 0 ||
	    sodium_memcmp(rid, j->request_id, sizeof rid) != 0)
		return j->outcome;
	if (mesh_join_resp_open(dgram, len, j->wg_pk, j->wg_sk, rid, &j->result.resp) != 0)
		return j->outcome;
	o = check_resp(j, now);
	if (o == MESH_JOIN_OK && src != NULL)
		j->result.from = *src;
	if (o != MESH_JOIN_OK)
		memset(&j->result, 0, sizeof j->result);
	finish(j, o);
	return j->outcome;
}

const struct mesh_join_result *mesh_join_joiner_result(const struct mesh_join_joiner *j)
{
	return j->state == MESH_JOINER_DONE && j->outcome == MESH_JOIN_OK ? &j->result : NULL;
}

void mesh_join_joiner_clear(struct mesh_join_joiner *j)
{
	sodium_memzero(j, sizeof *j);
}
