/* ROUTES records and prefix helpers (mesh/routes.h). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/routes.h"
#include "util/err.h"

static size_t family_bytes(uint8_t family)
{
	return family == MESH_FAMILY_V4 ? 4 : 16;
}

static unsigned family_bits(uint8_t family)
{
	return family == MESH_FAMILY_V4 ? 32 : 128;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* True when the first bits bits of a and b are equal. */
static bool bits_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Zeroes the host bits of p (p->len within the family). */
static void mask_host(struct mesh_prefix *p)
{
	unsigned bits = p->len, i;

	for (i = 0; i < sizeof p->addr; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		p->addr[i] &= (uint8_t)(0xff << (8 - bits));
		bits = 0;
	}
}

int mesh_prefix_cmp(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, sizeof a->addr)) != 0)
		return c < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

int mesh_prefix_format(const struct mesh_prefix *p, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int af;

	if (cap > 0)
		out[0] = '\0';
	if (!mesh_prefix_valid(p))
		return MESHD_E_INVAL;
	af = p->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
	if (inet_ntop(af, p->addr, a, sizeof a) == NULL)
		return MESHD_E_INVAL;
	if ((size_t)snprintf(out, cap, "%s/%u", a, (unsigned)p->len) >= cap)
		return MESHD_E_RANGE;
	return 0;
}

int mesh_prefix_parse(const char *s, struct mesh_prefix *out, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN], canon[MESH_PREFIX_STRLEN];
	const char *slash;
	struct mesh_prefix p;
	unsigned long len;
	size_t alen;
	char *end;

	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	if (s == NULL || *s == '\0') {
		set_err(err, errlen, "invalid route '': empty");
		return MESHD_E_INVAL;
	}
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof a)
		goto bad;
	memcpy(a, s, alen);
	a[alen] = '\0';
	p.family = strchr(a, ':') != NULL ? MESH_FAMILY_V6 : MESH_FAMILY_V4;
	if (inet_pton(p.family == MESH_FAMILY_V4 ? AF_INET : AF_INET6, a, p.addr) != 1)
		goto bad;
	if (slash == NULL) {
		len = family_bits(p.family);
	} else {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			goto bad;
		len = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || len > family_bits(p.family))
			goto bad;
	}
	p.len = (uint8_t)len;
	if (!mesh_prefix_valid(&p)) {
		mask_host(&p);
		(void)mesh_prefix_format(&p, canon, sizeof canon);
		set_err(err, errlen, "invalid route '%s': host bits set (did you mean %s?)", s,
		    canon);
		return MESHD_E_INVAL;
	}
	*out = p;
	return 0;
bad:
	set_err(err, errlen, "invalid route '%s': expected a prefix like 10.1.0.0/16 or "
	    "fd00:1::/64", s);
	return MESHD_E_INVAL;
}

bool mesh_prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	unsigned bits;

	if (a->family != b->family)
		return false;
	bits = a->len < b->len ? a->len : b->len;
	if (bits > family_bits(a->family))
		bits = family_bits(a->family);
	return bits_eq(a->addr, b->addr, bits);
}

bool mesh_prefix_contains_addr(const struct mesh_prefix *p, uint8_t family,
    const uint8_t *addr)
{
	if (p->family != family || (family != MESH_FAMILY_V4 && family != MESH_FAMILY_V6) ||
	    p->len > family_bits(family))
		return false;
	return bits_eq(p->addr, addr, p->len);
}

int mesh_routes_parse_list(const char *s, struct mesh_prefix *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char item[MESH_PREFIX_STRLEN];
	const char *p = s, *comma, *b, *e;
	int r;

	*n = 0;
	if (s == NULL || *s == '\0') {
		set_err(err, errlen, "empty route list (use 'none' for no routes)");
		return MESHD_E_INVAL;
	}
	if (strcmp(s, "none") == 0)
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		e = comma != NULL ? comma : p + strlen(p);
		for (b = p; b < e && *b == ' '; b++)
			;
		while (e > b && e[-1] == ' ')
			e--;
		if (e == b) {
			set_err(err, errlen, "invalid route list '%s': empty entry", s);
			return MESHD_E_INVAL;
		}
		if ((size_t)(e - b) >= sizeof item) {
			set_err(err, errlen, "invalid route '%.*s': too long", (int)(e - b), b);
			return MESHD_E_INVAL;
		}
		if (*n >= max) {
			set_err(err, errlen, "too many routes in '%s': at most %zu", s, max);
			return MESHD_E_INVAL;
		}
		memcpy(item, b, (size_t)(e - b));
		item[e - b] = '\0';
		if ((r = mesh_prefix_parse(item, &out[*n], err, errlen)) != 0)
			return r;
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int mesh_routes_check_advert(const struct mesh_prefix *list, size_t n,
    const struct mesh_prefix *prefix4, const struct mesh_prefix *prefix6, char *err,
    size_t errlen)
{
	char a[MESH_PREFIX_STRLEN], b[MESH_PREFIX_STRLEN];
	const struct mesh_prefix *ov[2] = { prefix4, prefix6 };
	size_t i, j;

	if (n > MESH_ROUTES_MAX) {
		set_err(err, errlen, "too many routes: %zu (at most %d)", n, MESH_ROUTES_MAX);
		return MESHD_E_INVAL;
	}
	for (i = 0; i < n; i++) {
		if (mesh_prefix_format(&list[i], a, sizeof a) != 0) {
			set_err(err, errlen, "invalid route #%zu", i + 1);
			return MESHD_E_INVAL;
		}
		if (list[i].len == 0) {
			set_err(err, errlen, "invalid route %s: default routes (exit nodes) are "
			    "not supported", a);
			return MESHD_E_INVAL;
		}
		for (j = 0; j < 2; j++) {
			if (ov[j] == NULL || !mesh_prefix_overlaps(&list[i], ov[j]))
				continue;
			(void)mesh_prefix_format(ov[j], b, sizeof b);
			set_err(err, errlen, "invalid route %s: overlaps the mesh overlay prefix %s",
			    a, b);
			return MESHD_E_INVAL;
		}
		for (j = 0; j < i; j++) {
			if (!mesh_prefix_overlaps(&list[i], &list[j]))
				continue;
			(void)mesh_prefix_format(&list[j], b, sizeof b);
			if (mesh_prefix_cmp(&list[i], &list[j]) == 0)
				set_err(err, errlen, "route %s is listed twice", a);
			else
				set_err(err, errlen, "routes %s and %s overlap", b, a);
			return MESHD_E_INVAL;
		}
	}
	return 0;
}

static int prefix_qsort_cmp(const void *a, const void *b)
{
	return mesh_prefix_cmp(a, b);
}

void mesh_routes_normalize(struct mesh_routes *rt)
{
	unsigned i, k = 0;

	if (rt->n > MESH_ROUTES_MAX)
		rt->n = MESH_ROUTES_MAX;
	qsort(rt->r, rt->n, sizeof rt->r[0], prefix_qsort_cmp);
	for (i = 0; i < rt->n; i++)
		if (k == 0 || mesh_prefix_cmp(&rt->r[k - 1], &rt->r[i]) != 0)
			rt->r[k++] = rt->r[i];
	for (i = k; i < rt->n; i++)
		memset(&rt->r[i], 0, sizeof rt->r[i]);
	rt->n = (uint8_t)k;
}

/* ---- the record ---- */

static bool routes_encodable(const struct mesh_routes *rt)
{
	unsigned i;

	if (rt->version != MESH_ROUTES_VERSION || rt->n > MESH_ROUTES_MAX)
		return false;
	for (i = 0; i < rt->n; i++) {
		if (!mesh_prefix_valid(&rt->r[i]))
			return false;
		if (i > 0 && mesh_prefix_cmp(&rt->r[i - 1], &rt->r[i]) >= 0)
			return false;
	}
	return true;
}

/* Everything before the signature. */
static int encode_body(const struct mesh_routes *rt, struct wr *w)
{
	unsigned i;
	int r;

	if (!routes_encodable(rt))
		return MESHD_E_INVAL;
	if ((r = wr_u8(w, rt->version)) != 0 ||
	    (r = wr_bytes(w, rt->mesh_id, sizeof rt->mesh_id)) != 0 ||
	    (r = wr_bytes(w, rt->node_id, sizeof rt->node_id)) != 0 ||
	    (r = wr_u64(w, rt->seq)) != 0 ||
	    (r = wr_u64(w, rt->timestamp)) != 0 ||
	    (r = wr_u8(w, rt->n)) != 0)
		return r;
	for (i = 0; i < rt->n; i++) {
		const struct mesh_prefix *p = &rt->r[i];

		if ((r = wr_u8(w, p->family)) != 0 ||
		    (r = wr_bytes(w, p->addr, family_bytes(p->family))) != 0 ||
		    (r = wr_u8(w, p->len)) != 0)
			return r;
	}
	return 0;
}

int mesh_routes_encode(const struct mesh_routes *rt, struct wr *w)
{
	size_t start = w->off;
	int r;

	if ((r = encode_body(rt, w)) != 0 ||
	    (r = wr_bytes(w, rt->sig, sizeof rt->sig)) != 0)
		w->off = start;
	return r;
}

static int prefix_decode(struct rd *rd, struct mesh_prefix *p)
{
	int r;

	if ((r = rd_u8(rd, &p->family)) != 0)
		return r;
	if (p->family != MESH_FAMILY_V4 && p->family != MESH_FAMILY_V6)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(rd, p->addr, family_bytes(p->family))) != 0 ||
	    (r = rd_u8(rd, &p->len)) != 0)
		return r;
	return mesh_prefix_valid(p) ? 0 : MESHD_E_PROTO;
}

int mesh_routes_decode(const uint8_t *p, size_t len, struct mesh_routes *out)
{
	struct rd rd;
	unsigned i;
	int r;

	memset(out, 0, sizeof *out);
	rd_init(&rd, p, len);
	if ((r = rd_u8(&rd, &out->version)) != 0)
		goto out;
	if (out->version != MESH_ROUTES_VERSION) {
		r = MESHD_E_PROTO;
		goto out;
	}
	if ((r = rd_bytes(&rd, out->mesh_id, sizeof out->mesh_id)) != 0 ||
	    (r = rd_bytes(&rd, out->node_id, sizeof out->node_id)) != 0 ||
	    (r = rd_u64(&rd, &out->seq)) != 0 ||
	    (r = rd_u64(&rd, &out->timestamp)) != 0 ||
	    (r = rd_u8(&rd, &out->n)) != 0)
		goto out;
	if (out->n > MESH_ROUTES_MAX) {
		r = MESHD_E_PROTO;
		goto out;
	}
	for (i = 0; i < out->n; i++) {
		if ((r = prefix_decode(&rd, &out->r[i])) != 0)
			goto out;
		if (i > 0 && mesh_prefix_cmp(&out->r[i - 1], &out->r[i]) >= 0) {
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

int mesh_routes_sign(struct mesh_routes *rt, const uint8_t node_sk[MESH_SK_LEN])
{
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct wr w;
	int r;

	wr_init(&w, buf, sizeof buf);
	if ((r = encode_body(rt, &w)) != 0)
		return r;
	return mesh_identity_sign(node_sk, MESH_ROUTES_DOMAIN, buf, w.off, rt->sig);
}

bool mesh_routes_verify(const struct mesh_routes *rt, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct wr w;

	if (rt->version != MESH_ROUTES_VERSION ||
	    sodium_memcmp(rt->mesh_id, mesh_id, MESH_ID_LEN) != 0)
		return false;
	if (rt->timestamp > now_unix && rt->timestamp - now_unix > MESH_CERT_SKEW_S)
		return false;
	wr_init(&w, buf, sizeof buf);
	if (encode_body(rt, &w) != 0)
		return false;
	return mesh_identity_verify(sign_pk, MESH_ROUTES_DOMAIN, buf, w.off, rt->sig);
}
