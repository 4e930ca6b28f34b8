/* ROUTES records and advertised route lists (mesh/routes.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/routes.h"
#include "util/err.h"

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
		if ((r = mesh_prefix_encode(&rt->r[i], w)) != 0)
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
		if ((r = mesh_prefix_decode(&rd, &out->r[i])) != 0)
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
