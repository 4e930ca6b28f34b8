/* Canonical entry sets (mesh/entryset.h). */
#include <stdlib.h>
#include <string.h>

#include "mesh/entryset.h"
#include "util/err.h"

static const void *at(const struct mesh_entryset_kind *k, const void *v, unsigned i)
{
	return (const uint8_t *)v + (size_t)i * k->size;
}

static void *at_mut(const struct mesh_entryset_kind *k, void *v, unsigned i)
{
	return (uint8_t *)v + (size_t)i * k->size;
}

void mesh_entryset_normalize(const struct mesh_entryset_kind *k, void *v, uint8_t *n)
{
	unsigned i, m = 0;

	if (*n > k->max)
		*n = (uint8_t)k->max;
	qsort(v, *n, k->size, k->cmp);
	for (i = 0; i < *n; i++)
		if (m == 0 || k->cmp(at(k, v, m - 1), at(k, v, i)) != 0) {
			if (m != i)
				memcpy(at_mut(k, v, m), at(k, v, i), k->size);
			m++;
		}
	if (*n > m)
		memset(at_mut(k, v, m), 0, (size_t)(*n - m) * k->size);
	*n = (uint8_t)m;
}

/* Entry i is valid and above entry i - 1. */
static bool in_order(const struct mesh_entryset_kind *k, const void *v, unsigned i)
{
	return k->valid(at(k, v, i)) && (i == 0 || k->cmp(at(k, v, i - 1), at(k, v, i)) < 0);
}

int mesh_entryset_encode(const struct mesh_entryset_kind *k, const void *v, uint8_t n,
    struct wr *w)
{
	unsigned i;
	int r;

	if (n > k->max)
		return MESHD_E_INVAL;
	for (i = 0; i < n; i++)
		if (!in_order(k, v, i))
			return MESHD_E_INVAL;
	if ((r = wr_u8(w, n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if ((r = k->encode(at(k, v, i), w)) != 0)
			return r;
	return 0;
}

int mesh_entryset_decode(const struct mesh_entryset_kind *k, struct rd *rd, void *v,
    uint8_t *n)
{
	unsigned i;

	if (rd_u8(rd, n) != 0 || *n > k->max)
		return MESHD_E_PROTO;
	for (i = 0; i < *n; i++)
		if (k->decode(rd, at_mut(k, v, i)) != 0 || !in_order(k, v, i))
			return MESHD_E_PROTO;	/* malformed, unsorted or duplicate */
	return 0;
}
