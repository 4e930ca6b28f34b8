/* Node certificates and revocation records, both signed by the mesh authority.
 *
 * Certificate, version 1 (big-endian, see docs/wire-formats.md):
 *	u8 version | mesh_id[32] | node_id[16] | u8 name_len, name |
 *	wg_pubkey[32] | sign_pk[32] | ipv4[4] | ipv6[16] | u8 flags |
 *	u8 nroutes, nroutes x (u8 family, prefix[4|16], u8 len) |
 *	u64 issued_at | u64 expires_at | sig[64]
 * sig = Ed25519(authority, "meshd cert v1" || every byte before sig).
 *
 * Revocation, version 1:
 *	u8 version | mesh_id[32] | node_id[16] | u64 revoked_at | sig[64]
 * sig = Ed25519(authority, "meshd revoke v1" || every byte before sig).
 *
 * The encoding is canonical: decode() accepts exactly the byte strings that
 * encode() can produce (fixed lengths, known flags only, valid name, prefixes
 * with zero host bits, no trailing bytes), so decode(encode(c)) == c and
 * encode(decode(b)) == b. Times are unix seconds.
 */
#ifndef MESHD_MESH_CERT_H
#define MESHD_MESH_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "util/buf.h"

enum {
	MESH_CERT_VERSION = 1,
	MESH_REVOKE_VERSION = 1,
	MESH_NAME_MAX = 63,		/* one DNS label */
	MESH_WG_KEY_LEN = 32,
	MESH_CERT_MAX_ROUTES = 16,
	MESH_CERT_F_ADMIN = 0x01,
	MESH_CERT_F_KNOWN = MESH_CERT_F_ADMIN,	/* other bits are rejected */
	MESH_CERT_SKEW_S = 600,		/* issued_at may be this far ahead of now */
	/* fixed part + longest name + every route as IPv6 */
	MESH_CERT_FIXED_LEN = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 1 + MESH_WG_KEY_LEN +
	    MESH_PK_LEN + 4 + 16 + 1 + 1 + 8 + 8 + MESH_SIG_LEN,
	MESH_CERT_MAX_LEN = MESH_CERT_FIXED_LEN + MESH_NAME_MAX + MESH_CERT_MAX_ROUTES * (1 + 16 + 1),
	MESH_REVOKE_LEN = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 8 + MESH_SIG_LEN,
};

/* Lifetime of the member certificates admins issue (`meshd init
 * --cert-ttl`, kept in the store's settings under MESH_CERT_TTL_SETTING as
 * decimal seconds). */
#define MESH_CERT_TTL_DEFAULT_S (365ull * 86400)
#define MESH_CERT_TTL_MIN_S 60ull
#define MESH_CERT_TTL_MAX_S (3650ull * 86400)
#define MESH_CERT_TTL_SETTING "cert_ttl"

#define MESH_CERT_DOMAIN "meshd cert v1"
#define MESH_REVOKE_DOMAIN "meshd revoke v1"

struct mesh_cert {
	uint8_t version;			/* MESH_CERT_VERSION */
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t node_id[MESH_NODE_ID_LEN];
	char name[MESH_NAME_MAX + 1];		/* NUL-terminated DNS label */
	uint8_t wg_pubkey[MESH_WG_KEY_LEN];	/* WireGuard (X25519) public key */
	uint8_t sign_pk[MESH_PK_LEN];		/* the node's Ed25519 key: signs its
						 * endpoint records (mesh/endpoints.h) */
	uint8_t ipv4[4];			/* overlay addresses */
	uint8_t ipv6[16];
	uint8_t flags;				/* MESH_CERT_F_* */
	uint8_t nroutes;
	struct mesh_prefix routes[MESH_CERT_MAX_ROUTES];	/* approved subnets */
	uint64_t issued_at;			/* unix s */
	uint64_t expires_at;			/* unix s; invalid from this second */
	uint8_t sig[MESH_SIG_LEN];
};

struct mesh_revoke {
	uint8_t version;			/* MESH_REVOKE_VERSION */
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint64_t revoked_at;			/* unix s */
	uint8_t sig[MESH_SIG_LEN];
};

/* True when s is one DNS label: 1-63 of [a-z0-9-], not starting or ending
 * with '-'. Upper case is rejected (names are compared bytewise). */
bool mesh_name_valid(const char *s);

/* Appends the whole certificate (signature included) to w. Returns 0;
 * MESHD_E_INVAL when the struct is not encodable (unknown version or flags,
 * invalid name, too many routes, bad prefix); MESHD_E_RANGE when w is full. */
int mesh_cert_encode(const struct mesh_cert *c, struct wr *w);

/* Strict decode of exactly len bytes. Returns 0 or MESHD_E_PROTO (unknown
 * version, bad length, invalid name, unknown flags, bad route, trailing
 * bytes); out is zeroed on error. Does not check the signature. */
int mesh_cert_decode(const uint8_t *p, size_t len, struct mesh_cert *out);

/* Signs c in place with the authority secret key. Returns 0; MESHD_E_INVAL
 * when c is not encodable or c->mesh_id is not the id of sk's public key. */
int mesh_cert_sign(struct mesh_cert *c, const uint8_t authority_sk[MESH_SK_LEN]);

/* True only when: version known, c->mesh_id is the id of authority_pk, the
 * signature verifies, issued_at < expires_at, now < expires_at and issued_at
 * <= now + MESH_CERT_SKEW_S. Never says which check failed. */
bool mesh_cert_verify(const struct mesh_cert *c, const uint8_t authority_pk[MESH_PK_LEN],
    uint64_t now_unix);

/* Renewal. A certificate is due for renewal from the second less than a
 * third of its life (expires_at - issued_at) is left: the returned time.
 * Never later than expires_at. */
uint64_t mesh_cert_renew_at(const struct mesh_cert *c);

/* The renewal of old for a lifetime of ttl_s, unsigned (sig zeroed): the
 * same node, keys, name, flags, addresses and routes, issued_at =
 * mesh_cert_renew_at(old) and expires_at = issued_at + ttl_s. Taking the
 * due time rather than now makes the renewal the same bytes whichever
 * admin signs it, and whenever (Ed25519 signatures are deterministic), so
 * several admins renewing at once agree. An admin that comes late (the
 * renewal would itself be due already) issues at now_unix instead. False,
 * and *out untouched, when old is not due at now_unix, when the renewal
 * would not expire later than old (never shorten a membership), or on
 * overflow. */
bool mesh_cert_renewal(const struct mesh_cert *old, uint64_t ttl_s, uint64_t now_unix,
    struct mesh_cert *out);

/* A certificate lifetime: a decimal number with an optional unit s, m, h
 * or d ("90s", "12h", "365d"; no unit: seconds). Returns 0; MESHD_E_INVAL
 * (not such a string); MESHD_E_RANGE (below MESH_CERT_TTL_MIN_S or above
 * MESH_CERT_TTL_MAX_S). */
int mesh_cert_ttl_parse(const char *s, uint64_t *out);

/* Revocations: same contracts as the certificate functions above. A
 * revocation never expires and its time is not checked against now: a member
 * revoked "in the future" by a fast clock is still revoked. */
int mesh_revoke_encode(const struct mesh_revoke *rv, struct wr *w);
int mesh_revoke_decode(const uint8_t *p, size_t len, struct mesh_revoke *out);
int mesh_revoke_sign(struct mesh_revoke *rv, const uint8_t authority_sk[MESH_SK_LEN]);
bool mesh_revoke_verify(const struct mesh_revoke *rv, const uint8_t authority_pk[MESH_PK_LEN]);

#endif
