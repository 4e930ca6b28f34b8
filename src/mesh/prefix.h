/* Address prefixes as they travel in meshd's formats (certificates, ROUTES
 * records, the overlay plan) and the helpers every user of them shares:
 * family sizes, containment, overlap, the canonical order, text and wire
 * forms. Families are MESH_FAMILY_V4 / MESH_FAMILY_V6 (not AF_*); v4
 * addresses use the first 4 of 16 bytes.
 *
 * Wire form of one prefix (big-endian, docs/wire-formats.md):
 *	u8 family 4|6 | addr[4|16] | u8 len
 * Only canonical prefixes (host bits zero) decode.
 */
#ifndef MESHD_MESH_PREFIX_H
#define MESHD_MESH_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Address families as they travel in our formats (not AF_*). */
enum {
	MESH_FAMILY_V4 = 4,
	MESH_FAMILY_V6 = 6,
};

enum {
	MESH_PREFIX_STRLEN = 64,	/* "ffff:...:ffff/128" and a NUL, rounded up */
	MESH_PREFIX_WIRE_MAX = 1 + 16 + 1,
};

/* An address prefix; addr bytes beyond the family's size and host bits
 * beyond len are zero. */
struct mesh_prefix {
	uint8_t family;		/* MESH_FAMILY_V4 or MESH_FAMILY_V6 */
	uint8_t len;		/* prefix length in bits */
	uint8_t addr[16];	/* v4 uses addr[0..3] */
};

/* Address bytes of a family: 4, 16, or 0 for an unknown family. */
size_t mesh_family_bytes(uint8_t family);
/* Address bits of a family: 32, 128, or 0 for an unknown family. */
unsigned mesh_family_bits(uint8_t family);

/* True when the first bits bits of a and b are equal (plain bytes, for
 * callers with their own prefix structs). */
bool mesh_bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits);

/* The bits of byte i of an address that a /len prefix covers (0xff, 0, or
 * a partial mask). */
uint8_t mesh_prefix_mask(unsigned len, unsigned i);

/* Checks that p is a well-formed prefix: known family, len within the
 * family, host bits and unused bytes zero. */
bool mesh_prefix_valid(const struct mesh_prefix *p);

/* The canonical order: family, address bytes, len. <0, 0, >0. */
int mesh_prefix_cmp(const struct mesh_prefix *a, const struct mesh_prefix *b);

/* Parses "10.1.0.0/16" or "fd00:1::/64" (no "/len": a host route, /32 or
 * /128). Returns 0; MESHD_E_INVAL with err naming the bad value (host bits
 * set: err suggests the canonical form). err may be NULL. */
int mesh_prefix_parse(const char *s, struct mesh_prefix *out, char *err, size_t errlen);

/* "10.1.0.0/16". Returns 0; MESHD_E_INVAL (invalid prefix); MESHD_E_RANGE
 * (cap too small). out always NUL-terminated when cap > 0. */
int mesh_prefix_format(const struct mesh_prefix *p, char *out, size_t cap);

/* True when a and b share an address (same family, one contains the
 * other). */
bool mesh_prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b);

/* True when addr (family MESH_FAMILY_V4: 4 bytes, MESH_FAMILY_V6: 16) lies
 * inside p. */
bool mesh_prefix_contains_addr(const struct mesh_prefix *p, uint8_t family,
    const uint8_t *addr);

/* Appends the wire form of p. 0; MESHD_E_INVAL (p not valid); MESHD_E_RANGE
 * (w full; partial bytes may have been written: callers roll back). */
int mesh_prefix_encode(const struct mesh_prefix *p, struct wr *w);
/* Reads one prefix in wire form; p is zeroed first. 0 or MESHD_E_PROTO
 * (unknown family, host bits set, short input). */
int mesh_prefix_decode(struct rd *rd, struct mesh_prefix *p);

#endif
