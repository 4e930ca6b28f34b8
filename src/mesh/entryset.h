/* A canonical set of fixed-size entries, the body of the node-signed records
 * (ENDPOINTS and ROUTES, mesh/envelope.h):
 *
 *	u8 n | n x entry
 *
 * Entries are strictly ascending in the kind's order, so there are no
 * duplicates and one set has exactly one encoding; every entry must be
 * valid. A kind brings the entry size, its order, its validity check and
 * its codec.
 */
#ifndef MESHD_MESH_ENTRYSET_H
#define MESHD_MESH_ENTRYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct mesh_entryset_kind {
	size_t size;			/* bytes of one entry in memory */
	unsigned max;			/* entries at most (<= 255) */
	/* The canonical order: <0, 0, >0 (also qsort's comparator). */
	int (*cmp)(const void *a, const void *b);
	bool (*valid)(const void *e);
	/* Appends one valid entry. */
	int (*encode)(const void *e, struct wr *w);
	/* Reads one entry; MESHD_E_PROTO when malformed or not valid. */
	int (*decode)(struct rd *rd, void *e);
};

/* Sorts v[0..*n) into the canonical order and removes duplicates (*n may
 * shrink; a count above max is cut to max); the freed slots are zeroed.
 * Does not validate the entries. */
void mesh_entryset_normalize(const struct mesh_entryset_kind *k, void *v, uint8_t *n);

/* Appends u8 n and the n entries. Returns 0; MESHD_E_INVAL when the set is
 * not encodable (n > max, an invalid entry, entries not strictly
 * ascending); w's error (MESHD_E_RANGE) when full. */
int mesh_entryset_encode(const struct mesh_entryset_kind *k, const void *v, uint8_t n,
    struct wr *w);

/* Reads u8 n and the n entries into v (which the caller has zeroed).
 * Returns 0 or MESHD_E_PROTO (too many, malformed, invalid, unsorted or
 * duplicate entries). */
int mesh_entryset_decode(const struct mesh_entryset_kind *k, struct rd *rd, void *v,
    uint8_t *n);

#endif
