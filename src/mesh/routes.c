/* ROUTES records and advertised route lists (mesh/routes.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mesh/entryset.h"
#include "mesh/routes.h"
#include "util/err.h"


int mesh_routes_parse_list(const char *s, struct mesh_prefix *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char item[MESH_PREFIX_STRLEN];
	const char *p = s, *comma, *b, *e;
	int r;

	*n = 0;
	if (s == NULL || *s == '\0') {
		meshd_errf(err, errlen, "empty route list (use 'none' for no routes)");
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
			meshd_errf(err, errlen, "invalid route list '%s': empty entry", s);
			return MESHD_E_INVAL;
		}
		if ((size_t)(e - b) >= sizeof item) {
			meshd_errf(err, errlen, "invalid route '%.*s': too long", (int)(e - b), b);
			return MESHD_E_INVAL;
		}
		if (*n >= max) {
			meshd_errf(err, errlen, "too many routes in '%s': at most %zu", s, max);
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
		meshd_errf(err, errlen, "too many routes: %zu (at most %d)", n, MESH_ROUTES_MAX);
		return MESHD_E_INVAL;
	}
	for (i = 0; i < n; i++) {
		if (mesh_prefix_format(&list[i], a, sizeof a) != 0) {
			meshd_errf(err, errlen, "invalid route #%zu", i + 1);
			return MESHD_E_INVAL;
		}
		if (list[i].len == 0) {
			meshd_errf(err, errlen, "invalid route %s: default routes (exit nodes) are "
			    "not supported", a);
			return MESHD_E_INVAL;
		}
		for (j = 0; j < 2; j++) {
			if (ov[j] == NULL || !mesh_prefix_overlaps(&list[i], ov[j]))
				continue;
			(void)mesh_prefix_format(ov[j], b, sizeof b);
			meshd_errf(err, errlen, "invalid route %s: overlaps the mesh overlay prefix %s",
			    a, b);
			return MESHD_E_INVAL;
		}
		for (j = 0; j < i; j++) {
			if (!mesh_prefix_overlaps(&list[i], &list[j]))
				continue;
			(void)mesh_prefix_format(&list[j], b, sizeof b);
			if (mesh_prefix_cmp(&list[i], &list[j]) == 0)
				meshd_errf(err, errlen, "route %s is listed twice", a);
			else
				meshd_errf(err, errlen, "routes %s and %s overlap", b, a);
			return MESHD_E_INVAL;
		}
	}
	return 0;
}

static int prefix_cmp_any(const void *a, const void *b)
{
	return mesh_prefix_cmp(a, b);
}

static bool prefix_valid_any(const void *p)
{
	return mesh_prefix_valid(p);
}

static int prefix_encode_any(const void *p, struct wr *w)
{
	return mesh_prefix_encode(p, w);
}

static int prefix_decode_any(struct rd *rd, void *p)
{
	return mesh_prefix_decode(rd, p);
}

/* The list and the record body: u8 n | n x prefix (mesh/prefix.h). */
static const struct mesh_entryset_kind prefix_set = {
	.size = sizeof(struct mesh_prefix),
	.max = MESH_ROUTES_MAX,
	.cmp = prefix_cmp_any,
	.valid = prefix_valid_any,
	.encode = prefix_encode_any,
	.decode = prefix_decode_any,
};

void mesh_routes_normalize(struct mesh_routes *rt)
{
	mesh_entryset_normalize(&prefix_set, rt->r, &rt->n);
}

/* ---- the record ---- */

static int body_encode(const void *rec, struct wr *w)
{
	const struct mesh_routes *rt = rec;

	return mesh_entryset_encode(&prefix_set, rt->r, rt->n, w);
}

static int body_decode(struct rd *rd, void *rec)
{
	struct mesh_routes *rt = rec;

	return mesh_entryset_decode(&prefix_set, rd, rt->r, &rt->n);
}

const struct mesh_envelope_kind mesh_routes_kind = {
	.domain = MESH_ROUTES_DOMAIN,
	.version = MESH_ROUTES_VERSION,
	.ttl_s = 0,
	.max_len = MESH_ROUTES_MAX_LEN,
	.body_encode = body_encode,
	.body_decode = body_decode,
};

int mesh_routes_encode(const struct mesh_routes *rt, struct wr *w)
{
	return mesh_envelope_encode(&mesh_routes_kind, &rt->env, rt, rt->sig, w);
}

int mesh_routes_decode(const uint8_t *p, size_t len, struct mesh_routes *out)
{
	return mesh_envelope_decode(&mesh_routes_kind, p, len, &out->env, out, sizeof *out,
	    out->sig);
}

int mesh_routes_sign(struct mesh_routes *rt, const uint8_t node_sk[MESH_SK_LEN])
{
	return mesh_envelope_sign(&mesh_routes_kind, &rt->env, rt, node_sk, rt->sig);
}

bool mesh_routes_verify(const struct mesh_routes *rt, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	return mesh_envelope_verify(&mesh_routes_kind, &rt->env, rt, rt->sig, sign_pk, mesh_id,
	    now_unix);
}
