/* Subnet routes: the ROUTES record a node signs to advertise the prefixes
 * behind it, and the checks on a list of them (the prefix helpers are in
 * mesh/prefix.h).
 *
 * ROUTES record, version 1 (big-endian, see docs/wire-formats.md):
 *	u8 version | mesh_id[32] | node_id[16] | u64 seq | u64 timestamp |
 *	u8 n (0..16), n x (u8 family 4|6, addr[4|16], u8 len) | sig[64]
 * sig = Ed25519(node sign key, "meshd routes v1" || every byte before sig).
 *
 * seq only grows for a node (the owner uses max(last seq + 1, unix ms)); the
 * newest seq wins a merge (mesh/records.h). A ROUTES record does not expire:
 * it says what the node offers until it signs another one, and it goes with
 * the node's membership (revocation or cert expiry). timestamp is the
 * owner's unix seconds at signing and may not be ahead of the receiver's
 * clock by more than MESH_CERT_SKEW_S.
 *
 * The prefix list is a set: canonical prefixes (host bits zero) strictly
 * ascending by (family, address bytes, len), so one set has exactly one
 * encoding. Advertising a prefix does not route it anywhere: an admin must
 * also approve it in the node's certificate (mesh/node.h "subnet routes").
 */
#ifndef MESHD_MESH_ROUTES_H
#define MESHD_MESH_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/cert.h"
#include "mesh/envelope.h"
#include "mesh/identity.h"
#include "mesh/prefix.h"
#include "util/buf.h"

enum {
	MESH_ROUTES_VERSION = 1,
	MESH_ROUTES_MAX = MESH_CERT_MAX_ROUTES,	/* prefixes per record */
	MESH_ROUTE_ENTRY_MAX_LEN = MESH_PREFIX_WIRE_MAX,
	MESH_ROUTES_FIXED_LEN = MESH_ENVELOPE_FIXED_LEN + 1,
	MESH_ROUTES_MAX_LEN = MESH_ROUTES_FIXED_LEN + MESH_ROUTES_MAX * MESH_ROUTE_ENTRY_MAX_LEN,
};

#define MESH_ROUTES_DOMAIN "meshd routes v1"

/* version is MESH_ROUTES_VERSION; the header fields are the envelope's
 * (mesh/envelope.h). */
struct mesh_routes {
	union {
		struct mesh_envelope env;
		struct {
			MESH_ENVELOPE_FIELDS;
		};
	};
	uint8_t n;
	struct mesh_prefix r[MESH_ROUTES_MAX];	/* strictly ascending */
	uint8_t sig[MESH_SIG_LEN];
};

/* Parses a comma-separated list ("10.1.0.0/16,fd00:1::/64", spaces around
 * entries allowed) or "none" (n = 0) into out[0..max). Does not check
 * overlaps (mesh_routes_check_advert does). Returns 0; MESHD_E_INVAL with
 * err set (bad entry, empty entry or list, more than max). */
int mesh_routes_parse_list(const char *s, struct mesh_prefix *out, size_t max, size_t *n,
    char *err, size_t errlen);

/* Checks a list of prefixes a node wants to advertise: at most
 * MESH_ROUTES_MAX, each valid, none a default route, no duplicates or
 * overlaps among them, none overlapping the overlay prefixes (either may be
 * NULL). Returns 0 or MESHD_E_INVAL with err naming the culprit. */
int mesh_routes_check_advert(const struct mesh_prefix *list, size_t n,
    const struct mesh_prefix *prefix4, const struct mesh_prefix *prefix6, char *err,
    size_t errlen);

/* Sorts rt->r[0..n) into the canonical order and removes duplicates. */
void mesh_routes_normalize(struct mesh_routes *rt);

/* ---- the record ---- */

/* The envelope kind of ROUTES records (domain, version, no TTL, body). */
extern const struct mesh_envelope_kind mesh_routes_kind;

/* Appends the whole record (signature included) to w. Returns 0;
 * MESHD_E_INVAL (not encodable: unknown version, n > 16, invalid prefix,
 * not strictly ascending); MESHD_E_RANGE (w full; nothing written). */
int mesh_routes_encode(const struct mesh_routes *rt, struct wr *w);

/* Strict decode of exactly len bytes. Returns 0 or MESHD_E_PROTO; out is
 * zeroed on error. Does not check the signature, the mesh or the time. */
int mesh_routes_decode(const uint8_t *p, size_t len, struct mesh_routes *out);

/* Signs rt in place with the node's Ed25519 secret key. Returns 0;
 * MESHD_E_INVAL (not encodable); MESHD_E_CRYPTO. */
int mesh_routes_sign(struct mesh_routes *rt, const uint8_t node_sk[MESH_SK_LEN]);

/* True only when: version known, rt->mesh_id equals mesh_id, encodable,
 * timestamp <= now + MESH_CERT_SKEW_S and the signature by sign_pk (the
 * node's certified key) verifies. Never says which check failed. */
bool mesh_routes_verify(const struct mesh_routes *rt, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix);

#endif
