#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "util/err.h"

bool mesh_name_valid(const char *s)
{
	size_t n = strnlen(s, MESH_NAME_MAX + 1), i;

	if (n == 0 || n > MESH_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return true;
}

/* The fields a struct may hold and still encode canonically. */
static bool cert_encodable(const struct mesh_cert *c)
{
	unsigned i;

	if (c->version != MESH_CERT_VERSION || (c->flags & ~MESH_CERT_F_KNOWN) != 0 ||
	    c->nroutes > MESH_CERT_MAX_ROUTES || !mesh_name_valid(c->name))
		return false;
	for (i = 0; i < c->nroutes; i++)
		if (!mesh_prefix_valid(&c->routes[i]))
			return false;
	return true;
}

/* The head both authority-signed records start with:
 * u8 version | mesh_id[32] | node_id[16]. */
static int head_write(struct wr *w, uint8_t version, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t node_id[MESH_NODE_ID_LEN])
{
	int r;

	if ((r = wr_u8(w, version)) != 0 ||
	    (r = wr_bytes(w, mesh_id, MESH_ID_LEN)) != 0 ||
	    (r = wr_bytes(w, node_id, MESH_NODE_ID_LEN)) != 0)
		return r;
	return 0;
}

/* Reads that head; MESHD_E_PROTO when the version is not want. */
static int head_read(struct rd *rd, uint8_t want, uint8_t *version,
    uint8_t mesh_id[MESH_ID_LEN], uint8_t node_id[MESH_NODE_ID_LEN])
{
	int r;

	if ((r = rd_u8(rd, version)) != 0)
		return r;
	if (*version != want)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(rd, mesh_id, MESH_ID_LEN)) != 0 ||
	    (r = rd_bytes(rd, node_id, MESH_NODE_ID_LEN)) != 0)
		return r;
	return 0;
}

/* Everything before the signature. */
static int cert_encode_body(const void *rec, struct wr *w)
{
	const struct mesh_cert *c = rec;
	unsigned i;
	int r;

	if (!cert_encodable(c))
		return MESHD_E_INVAL;
	if ((r = head_write(w, c->version, c->mesh_id, c->node_id)) != 0 ||
	    (r = wr_str(w, c->name)) != 0 ||
	    (r = wr_bytes(w, c->wg_pubkey, sizeof c->wg_pubkey)) != 0 ||
	    (r = wr_bytes(w, c->sign_pk, sizeof c->sign_pk)) != 0 ||
	    (r = wr_bytes(w, c->ipv4, sizeof c->ipv4)) != 0 ||
	    (r = wr_bytes(w, c->ipv6, sizeof c->ipv6)) != 0 ||
	    (r = wr_u8(w, c->flags)) != 0 ||
	    (r = wr_u8(w, c->nroutes)) != 0)
		return r;
	for (i = 0; i < c->nroutes; i++) {
		if ((r = mesh_prefix_encode(&c->routes[i], w)) != 0)
			return r;
	}
	if ((r = wr_u64(w, c->issued_at)) != 0 ||
	    (r = wr_u64(w, c->expires_at)) != 0)
		return r;
	return 0;
}

/* Everything before the signature, checked as it is read. rd_str's "does
 * not fit" cannot happen (cap > maxlen): still, one code. */
static int cert_read_body(struct rd *rd, void *rec)
{
	struct mesh_cert *out = rec;
	unsigned i;

	if (head_read(rd, MESH_CERT_VERSION, &out->version, out->mesh_id, out->node_id) != 0 ||
	    rd_str(rd, out->name, sizeof out->name, MESH_NAME_MAX) != 0 ||
	    rd_bytes(rd, out->wg_pubkey, sizeof out->wg_pubkey) != 0 ||
	    rd_bytes(rd, out->sign_pk, sizeof out->sign_pk) != 0 ||
	    rd_bytes(rd, out->ipv4, sizeof out->ipv4) != 0 ||
	    rd_bytes(rd, out->ipv6, sizeof out->ipv6) != 0 ||
	    rd_u8(rd, &out->flags) != 0 ||
	    rd_u8(rd, &out->nroutes) != 0)
		return MESHD_E_PROTO;
	if (!mesh_name_valid(out->name) || (out->flags & ~MESH_CERT_F_KNOWN) != 0 ||
	    out->nroutes > MESH_CERT_MAX_ROUTES)
		return MESHD_E_PROTO;
	for (i = 0; i < out->nroutes; i++)
		if (mesh_prefix_decode(rd, &out->routes[i]) != 0)
			return MESHD_E_PROTO;
	if (rd_u64(rd, &out->issued_at) != 0 || rd_u64(rd, &out->expires_at) != 0)
		return MESHD_E_PROTO;
	return 0;
}

int mesh_cert_encode(const struct mesh_cert *c, struct wr *w)
{
	return mesh_identity_encode_signed(cert_encode_body, c, c->sig, w);
}

int mesh_cert_decode(const uint8_t *p, size_t len, struct mesh_cert *out)
{
	return mesh_identity_decode_signed(cert_read_body, p, len, out, sizeof *out, out->sig);
}

/* True when mesh_id is the id of authority_pk. */
static bool mesh_id_matches(const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t authority_pk[MESH_PK_LEN])
{
	uint8_t want[MESH_ID_LEN];

	mesh_identity_mesh_id(authority_pk, want);
	return sodium_memcmp(want, mesh_id, MESH_ID_LEN) == 0;
}

/* Signs what body writes of rec with the authority key, which must be the
 * one mesh_id comes from. */
static int authority_sign(mesh_signed_body_fn *body, const void *rec,
    const uint8_t mesh_id[MESH_ID_LEN], const char *domain,
    const uint8_t authority_sk[MESH_SK_LEN], uint8_t sig[MESH_SIG_LEN])
{
	uint8_t pk[MESH_PK_LEN];

	mesh_identity_sk_to_pk(authority_sk, pk);
	if (!mesh_id_matches(mesh_id, pk))
		return MESHD_E_INVAL;
	return mesh_identity_sign_body(body, rec, domain, authority_sk, sig);
}

int mesh_cert_sign(struct mesh_cert *c, const uint8_t authority_sk[MESH_SK_LEN])
{
	return authority_sign(cert_encode_body, c, c->mesh_id, MESH_CERT_DOMAIN, authority_sk,
	    c->sig);
}

bool mesh_cert_verify(const struct mesh_cert *c, const uint8_t authority_pk[MESH_PK_LEN],
    uint64_t now_unix)
{
	if (c->version != MESH_CERT_VERSION || !mesh_id_matches(c->mesh_id, authority_pk))
		return false;
	if (c->issued_at >= c->expires_at || now_unix >= c->expires_at ||
	    (c->issued_at > now_unix && c->issued_at - now_unix > MESH_CERT_SKEW_S))
		return false;
	return mesh_identity_verify_body(cert_encode_body, c, MESH_CERT_DOMAIN, authority_pk,
	    c->sig);
}

uint64_t mesh_cert_renew_at(const struct mesh_cert *c)
{
	uint64_t life = c->expires_at > c->issued_at ? c->expires_at - c->issued_at : 0;

	return c->expires_at - life / 3;
}

bool mesh_cert_renewal(const struct mesh_cert *old, uint64_t ttl_s, uint64_t now_unix,
    struct mesh_cert *out)
{
	struct mesh_cert c;
	uint64_t at = mesh_cert_renew_at(old);

	if (now_unix < at || ttl_s == 0 || at > UINT64_MAX - ttl_s)
		return false;
	c = *old;
	c.issued_at = at;
	c.expires_at = at + ttl_s;
	if (mesh_cert_renew_at(&c) <= now_unix) {
		/* late: the renewal from the due time would be due itself */
		if (now_unix > UINT64_MAX - ttl_s)
			return false;
		c.issued_at = now_unix;
		c.expires_at = now_unix + ttl_s;
	}
	if (c.issued_at <= old->issued_at || c.expires_at <= old->expires_at)
		return false;
	memset(c.sig, 0, sizeof c.sig);
	*out = c;
	return true;
}

int mesh_cert_ttl_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return MESHD_E_RANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return MESHD_E_INVAL;
	switch (s[i]) {
	case '\0': break;
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return MESHD_E_INVAL;
	}
	if (s[i] != '\0' && s[i + 1] != '\0')
		return MESHD_E_INVAL;
	if (v > MESH_CERT_TTL_MAX_S / mult)
		return MESHD_E_RANGE;
	v *= mult;
	if (v < MESH_CERT_TTL_MIN_S || v > MESH_CERT_TTL_MAX_S)
		return MESHD_E_RANGE;
	*out = v;
	return 0;
}

static int revoke_encode_body(const void *rec, struct wr *w)
{
	const struct mesh_revoke *rv = rec;
	int r;

	if (rv->version != MESH_REVOKE_VERSION)
		return MESHD_E_INVAL;
	if ((r = head_write(w, rv->version, rv->mesh_id, rv->node_id)) != 0 ||
	    (r = wr_u64(w, rv->revoked_at)) != 0)
		return r;
	return 0;
}

static int revoke_read_body(struct rd *rd, void *rec)
{
	struct mesh_revoke *out = rec;

	if (head_read(rd, MESH_REVOKE_VERSION, &out->version, out->mesh_id, out->node_id) != 0 ||
	    rd_u64(rd, &out->revoked_at) != 0)
		return MESHD_E_PROTO;
	return 0;
}

int mesh_revoke_encode(const struct mesh_revoke *rv, struct wr *w)
{
	return mesh_identity_encode_signed(revoke_encode_body, rv, rv->sig, w);
}

int mesh_revoke_decode(const uint8_t *p, size_t len, struct mesh_revoke *out)
{
	return mesh_identity_decode_signed(revoke_read_body, p, len, out, sizeof *out, out->sig);
}

int mesh_revoke_sign(struct mesh_revoke *rv, const uint8_t authority_sk[MESH_SK_LEN])
{
	return authority_sign(revoke_encode_body, rv, rv->mesh_id, MESH_REVOKE_DOMAIN,
	    authority_sk, rv->sig);
}

bool mesh_revoke_verify(const struct mesh_revoke *rv, const uint8_t authority_pk[MESH_PK_LEN])
{
	if (rv->version != MESH_REVOKE_VERSION || !mesh_id_matches(rv->mesh_id, authority_pk))
		return false;
	return mesh_identity_verify_body(revoke_encode_body, rv, MESH_REVOKE_DOMAIN, authority_pk,
	    rv->sig);
}
