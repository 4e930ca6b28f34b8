#include <string.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/entryset.h"
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
	if (ep->source < MESH_EP_LOCAL || ep->source > MESH_EP_TCP || ep->port == 0)
		return false;
	if (ep->family == MESH_FAMILY_V4)
		return v4_unicast(ep->addr) && all_zero(ep->addr + 4, 12);
	if (ep->family == MESH_FAMILY_V6)
		return v6_unicast(ep->addr);
	return false;
}

bool mesh_ep_private(const struct mesh_ep *ep)
{
	const uint8_t *a = ep->addr;

	if (ep->family == MESH_FAMILY_V4)
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		    (a[0] == 169 && a[1] == 254);
	return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/* The canonical order: source, family, address bytes, port. */
static int ep_cmp(const void *pa, const void *pb)
{
	const struct mesh_ep *a = pa, *b = pb;
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

static bool ep_valid_any(const void *ep)
{
	return mesh_ep_valid(ep);
}

int mesh_ep_encode(const struct mesh_ep *ep, struct wr *w)
{
	int r;

	if ((r = wr_u8(w, ep->source)) != 0 ||
	    (r = wr_u8(w, ep->family)) != 0 ||
	    (r = wr_bytes(w, ep->addr, mesh_family_bytes(ep->family))) != 0 ||
	    (r = wr_u16(w, ep->port)) != 0)
		return r;
	return 0;
}

static int ep_encode_any(const void *ep, struct wr *w)
{
	return mesh_ep_encode(ep, w);
}

int mesh_ep_decode(struct rd *rd, struct mesh_ep *ep)
{
	size_t n;

	memset(ep, 0, sizeof *ep);
	if (rd_u8(rd, &ep->source) != 0 || rd_u8(rd, &ep->family) != 0 ||
	    (n = mesh_family_bytes(ep->family)) == 0 ||
	    rd_bytes(rd, ep->addr, n) != 0 || rd_u16(rd, &ep->port) != 0)
		return MESHD_E_PROTO;
	return mesh_ep_valid(ep) ? 0 : MESHD_E_PROTO;
}

static int ep_decode_any(struct rd *rd, void *ep)
{
	return mesh_ep_decode(rd, ep);
}

/* The body: u8 nep | nep x (u8 source | u8 family | addr | u16 port). */
static const struct mesh_entryset_kind ep_set = {
	.size = sizeof(struct mesh_ep),
	.max = MESH_ENDPOINTS_MAX,
	.cmp = ep_cmp,
	.valid = ep_valid_any,
	.encode = ep_encode_any,
	.decode = ep_decode_any,
};

void mesh_endpoints_normalize(struct mesh_endpoints *e)
{
	mesh_entryset_normalize(&ep_set, e->ep, &e->nep);
}

static int body_encode(const void *rec, struct wr *w)
{
	const struct mesh_endpoints *e = rec;

	return mesh_entryset_encode(&ep_set, e->ep, e->nep, w);
}

static int body_decode(struct rd *rd, void *rec)
{
	struct mesh_endpoints *e = rec;

	return mesh_entryset_decode(&ep_set, rd, e->ep, &e->nep);
}

const struct mesh_envelope_kind mesh_endpoints_kind = {
	.domain = MESH_ENDPOINTS_DOMAIN,
	.version = MESH_ENDPOINTS_VERSION,
	.ttl_s = MESH_ENDPOINTS_TTL_S,
	.max_len = MESH_ENDPOINTS_MAX_LEN,
	.body_encode = body_encode,
	.body_decode = body_decode,
};

int mesh_endpoints_encode(const struct mesh_endpoints *e, struct wr *w)
{
	return mesh_envelope_encode(&mesh_endpoints_kind, &e->env, e, e->sig, w);
}

int mesh_endpoints_decode(const uint8_t *p, size_t len, struct mesh_endpoints *out)
{
	return mesh_envelope_decode(&mesh_endpoints_kind, p, len, &out->env, out, sizeof *out,
	    out->sig);
}

int mesh_endpoints_sign(struct mesh_endpoints *e, const uint8_t node_sk[MESH_SK_LEN])
{
	return mesh_envelope_sign(&mesh_endpoints_kind, &e->env, e, node_sk, e->sig);
}

uint64_t mesh_endpoints_expiry(const struct mesh_endpoints *e)
{
	return mesh_envelope_expiry(&mesh_endpoints_kind, &e->env);
}

bool mesh_endpoints_verify(const struct mesh_endpoints *e, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	return mesh_envelope_verify(&mesh_endpoints_kind, &e->env, e, e->sig, sign_pk, mesh_id,
	    now_unix);
}
