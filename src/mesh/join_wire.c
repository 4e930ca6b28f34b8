/* The join protocol's messages: the invite key pair and id, the JOIN_REQ
 * and JOIN_ERR codecs, and the sealed JOIN_RESP (mesh/join.h). Byte layouts
 * in docs/wire-formats.md ("Join messages"); the state machines that use
 * them are join_inviter.c and join_joiner.c. */
#include <string.h>

#include <sodium.h>

#include "mesh/join_internal.h"
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
	uint8_t h[JOIN_HASH_LEN];

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

/* A prefix of this family, as a certificate route (mesh/prefix.h). */
static int prefix_read(struct rd *rd, uint8_t family, struct mesh_prefix *p)
{
	if (mesh_prefix_decode(rd, p) != 0 || p->family != family)
		return MESHD_E_PROTO;
	return 0;
}

/* An endpoint as in endpoint records (mesh_ep_encode). */
static size_t ep_wire_len(const struct mesh_ep *ep)
{
	return 1 + 1 + mesh_family_bytes(ep->family) + 2;
}

/* ---- JOIN_REQ ---- */

/* Header and every field before the signature. */
static int req_body(const void *rec, struct wr *w)
{
	const struct mesh_join_req *req = rec;
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

static int req_read_body(struct rd *rd, void *rec)
{
	struct mesh_join_req *out = rec;

	if (hdr_read(rd, MESH_MSG_JOIN_REQ) != 0 ||
	    rd_bytes(rd, out->invite_id, sizeof out->invite_id) != 0 ||
	    rd_bytes(rd, out->pin, sizeof out->pin) != 0 ||
	    rd_str(rd, out->name, sizeof out->name, MESH_NAME_MAX) != 0 ||
	    rd_bytes(rd, out->wg_pk, sizeof out->wg_pk) != 0 ||
	    rd_bytes(rd, out->sign_pk, sizeof out->sign_pk) != 0 ||
	    rd_u64(rd, &out->time) != 0 ||
	    rd_bytes(rd, out->request_id, sizeof out->request_id) != 0 ||
	    !mesh_name_valid(out->name))
		return MESHD_E_PROTO;
	return 0;
}

int mesh_join_req_encode(const struct mesh_join_req *req, struct wr *w)
{
	return mesh_identity_encode_signed(req_body, req, req->sig, w);
}

int mesh_join_req_decode(const uint8_t *p, size_t len, struct mesh_join_req *out)
{
	return mesh_identity_decode_signed(req_read_body, p, len, out, sizeof *out, out->sig);
}

int mesh_join_req_sign(struct mesh_join_req *req, const uint8_t invite_sk[MESH_SK_LEN])
{
	return mesh_identity_sign_body(req_body, req, MESH_JOIN_REQ_DOMAIN, invite_sk, req->sig);
}

bool mesh_join_req_verify(const struct mesh_join_req *req, const uint8_t invite_pk[MESH_PK_LEN])
{
	return mesh_identity_verify_body(req_body, req, MESH_JOIN_REQ_DOMAIN, invite_pk, req->sig);
}

/* ---- JOIN_ERR ---- */

int mesh_join_err_encode(const struct mesh_join_err *e, struct wr *w)
{
	size_t start = w->off;
	int r;

	if (!join_reason_known(e->reason))
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
	    rd_u8(&rd, &out->reason) != 0 || rd_end(&rd) != 0 || !join_reason_known(out->reason)) {
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
	    (r = mesh_prefix_encode(&resp->prefix4, w)) != 0 ||
	    (r = mesh_prefix_encode(&resp->prefix6, w)) != 0 ||
	    (r = wr_u8(w, resp->nep)) != 0)
		return r;
	for (i = 0; i < resp->nep; i++)
		if ((r = mesh_ep_encode(&resp->ep[i], w)) != 0)
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
		if ((r = mesh_ep_decode(&rd, &out->ep[i])) != 0)
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
