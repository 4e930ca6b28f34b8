#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "util/err.h"

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n-- > 0)
		acc |= *p++;
	return acc == 0;
}

static bool v4_unicast(const uint8_t a[4])
{
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	if (all_zero(a, 4) || a[0] == 127 || (a[0] & 0xf0) == 224 || memcmp(a, bcast, 4) == 0)
		return false;
	return true;
}

static bool v6_unicast(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (all_zero(a, 16) || a[0] == 0xff || memcmp(a, mapped, sizeof mapped) == 0)
		return false;
	if (all_zero(a, 15) && a[15] == 1)	/* ::1 */
		return false;
	return true;
}

bool mesh_ep_valid(const struct mesh_ep *ep)
{
	if (ep->source < MESH_EP_LOCAL || ep->source > MESH_EP_PORTMAP || ep->port == 0)
		return false;
	if (ep->family == MESH_FAMILY_V4)
		return v4_unicast(ep->addr) && all_zero(ep->addr + 4, 12);
	if (ep->family == MESH_FAMILY_V6)
		return v6_unicast(ep->addr);
	return false;
}

/* The canonical order: source, family, address bytes, port. */
static int ep_cmp(const struct mesh_ep *a, const struct mesh_ep *b)
{
	int c;

	if (a->source != b->source)
		return a->source < b->source ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, sizeof a->addr)) != 0)
		return c < 0 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

static int ep_qsort_cmp(const void *a, const void *b)
{
	return ep_cmp(a, b);
}

void mesh_endpoints_normalize(struct mesh_endpoints *e)
{
	unsigned i, n = 0;

	if (e->nep > MESH_ENDPOINTS_MAX)
		e->nep = MESH_ENDPOINTS_MAX;
	qsort(e->ep, e->nep, sizeof e->ep[0], ep_qsort_cmp);
	for (i = 0; i < e->nep; i++)
		if (n == 0 || ep_cmp(&e->ep[n - 1], &e->ep[i]) != 0)
			e->ep[n++] = e->ep[i];
	for (i = n; i < e->nep; i++)
		memset(&e->ep[i], 0, sizeof e->ep[i]);
	e->nep = (uint8_t)n;
}

static bool endpoints_encodable(const struct mesh_endpoints *e)
{
	unsigned i;

	if (e->version != MESH_ENDPOINTS_VERSION || e->nep > MESH_ENDPOINTS_MAX)
		return false;
	for (i = 0; i < e->nep; i++) {
		if (!mesh_ep_valid(&e->ep[i]))
			return false;
		if (i > 0 && ep_cmp(&e->ep[i - 1], &e->ep[i]) >= 0)
			return false;
	}
	return true;
}

/* Everything before the signature. */
static int encode_body(const struct mesh_endpoints *e, struct wr *w)
{
	unsigned i;
	int r;

	if (!endpoints_encodable(e))
		return MESHD_E_INVAL;
	if ((r = wr_u8(w, e->version)) != 0 ||
	    (r = wr_bytes(w, e->mesh_id, sizeof e->mesh_id)) != 0 ||
	    (r = wr_bytes(w, e->node_id, sizeof e->node_id)) != 0 ||
	    (r = wr_u64(w, e->seq)) != 0 ||
	    (r = wr_u64(w, e->timestamp)) != 0 ||
	    (r = wr_u8(w, e->nep)) != 0)
		return r;
	for (i = 0; i < e->nep; i++) {
		const struct mesh_ep *ep = &e->ep[i];

		if ((r = wr_u8(w, ep->source)) != 0 ||
		    (r = wr_u8(w, ep->family)) != 0 ||
		    (r = wr_bytes(w, ep->addr, mesh_family_bytes(ep->family))) != 0 ||
		    (r = wr_u16(w, ep->port)) != 0)
			return r;
	}
	return 0;
}

int mesh_endpoints_encode(const struct mesh_endpoints *e, struct wr *w)
{
	size_t start = w->off;
	int r;

	if ((r = encode_body(e, w)) != 0 ||
	    (r = wr_bytes(w, e->sig, sizeof e->sig)) != 0)
		w->off = start;
	return r;
}

static int ep_decode(struct rd *rd, struct mesh_ep *ep)
{
	int r;

	if ((r = rd_u8(rd, &ep->source)) != 0 ||
	    (r = rd_u8(rd, &ep->family)) != 0)
		return r;
	if (ep->family != MESH_FAMILY_V4 && ep->family != MESH_FAMILY_V6)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(rd, ep->addr, mesh_family_bytes(ep->family))) != 0 ||
	    (r = rd_u16(rd, &ep->port)) != 0)
		return r;
	return mesh_ep_valid(ep) ? 0 : MESHD_E_PROTO;
}

int mesh_endpoints_decode(const uint8_t *p, size_t len, struct mesh_endpoints *out)
{
	struct rd rd;
	unsigned i;
	int r;

	memset(out, 0, sizeof *out);
	rd_init(&rd, p, len);
	if ((r = rd_u8(&rd, &out->version)) != 0)
		goto out;
	if (out->version != MESH_ENDPOINTS_VERSION) {
		r = MESHD_E_PROTO;
		goto out;
	}
	if ((r = rd_bytes(&rd, out->mesh_id, sizeof out->mesh_id)) != 0 ||
	    (r = rd_bytes(&rd, out->node_id, sizeof out->node_id)) != 0 ||
	    (r = rd_u64(&rd, &out->seq)) != 0 ||
	    (r = rd_u64(&rd, &out->timestamp)) != 0 ||
	    (r = rd_u8(&rd, &out->nep)) != 0)
		goto out;
	if (out->nep > MESH_ENDPOINTS_MAX) {
		r = MESHD_E_PROTO;
		goto out;
	}
	for (i = 0; i < out->nep; i++) {
		if ((r = ep_decode(&rd, &out->ep[i])) != 0)
			goto out;
		if (i > 0 && ep_cmp(&out->ep[i - 1], &out->ep[i]) >= 0) {
			r = MESHD_E_PROTO;	/* unsorted or duplicate */
			goto out;
		}
	}
	if ((r = rd_bytes(&rd, out->sig, sizeof out->sig)) != 0 ||
	    (r = rd_end(&rd)) != 0)
		goto out;
out:
	if (r != 0) {
		r = MESHD_E_PROTO;
		memset(out, 0, sizeof *out);
	}
	return r;
}

int mesh_endpoints_sign(struct mesh_endpoints *e, const uint8_t node_sk[MESH_SK_LEN])
{
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	struct wr w;
	int r;

	wr_init(&w, buf, sizeof buf);
	if ((r = encode_body(e, &w)) != 0)
		return r;
	return mesh_identity_sign(node_sk, MESH_ENDPOINTS_DOMAIN, buf, w.off, e->sig);
}

uint64_t mesh_endpoints_expiry(const struct mesh_endpoints *e)
{
	if (e->timestamp > UINT64_MAX - MESH_ENDPOINTS_TTL_S)
		return UINT64_MAX;
	return e->timestamp + MESH_ENDPOINTS_TTL_S;
}

bool mesh_endpoints_verify(const struct mesh_endpoints *e, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	struct wr w;

	if (e->version != MESH_ENDPOINTS_VERSION ||
	    sodium_memcmp(e->mesh_id, mesh_id, MESH_ID_LEN) != 0)
		return false;
	if (now_unix >= mesh_endpoints_expiry(e) ||
	    (e->timestamp > now_unix && e->timestamp - now_unix > MESH_CERT_SKEW_S))
		return false;
	wr_init(&w, buf, sizeof buf);
	if (encode_body(e, &w) != 0)
		return false;
	return mesh_identity_verify(sign_pk, MESH_ENDPOINTS_DOMAIN, buf, w.off, e->sig);
}
