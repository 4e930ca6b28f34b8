/* The envelope of node-signed records (ENDPOINTS, ROUTES, and any later
 * record a node signs about itself): one header, one signature rule, one
 * set of time checks, so a record kind only brings its body codec.
 *
 * Wire form (big-endian, see docs/wire-formats.md):
 *	u8 version | mesh_id[32] | node_id[16] | u64 seq | u64 timestamp |
 *	body | sig[64]
 * sig = Ed25519(node sign key, domain || every byte before sig), with a
 * domain string per kind ("meshd endpoints v1", "meshd routes v1"), so a
 * signature made for one kind never verifies as another.
 *
 * seq is the record's version (the owner uses max(last seq + 1, unix ms));
 * timestamp is the owner's unix seconds at signing. A record may not be
 * ahead of the receiver's clock by more than MESH_CERT_SKEW_S, and a kind
 * with a TTL dies at timestamp + TTL.
 *
 * A kind's struct starts with MESH_ENVELOPE_FIELDS inside an anonymous union
 * with a struct mesh_envelope (see mesh/endpoints.h), so its users keep
 * writing e->seq while the codec sees &e->env.
 *
 * CERT and REVOKE records are signed by the authority and carry no seq or
 * timestamp after the node id: they share the signing primitive
 * (mesh_identity_sign with a domain), not this header.
 */
#ifndef MESHD_MESH_ENVELOPE_H
#define MESHD_MESH_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "util/buf.h"

enum {
	MESH_ENVELOPE_HDR_LEN = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 8 + 8,
	MESH_ENVELOPE_FIXED_LEN = MESH_ENVELOPE_HDR_LEN + MESH_SIG_LEN,
};

#define MESH_ENVELOPE_FIELDS						\
	uint8_t version;			/* the kind's version */	\
	uint8_t mesh_id[MESH_ID_LEN];					\
	uint8_t node_id[MESH_NODE_ID_LEN];				\
	uint64_t seq;				/* record version; owner's unix ms */ \
	uint64_t timestamp			/* unix s at signing */

struct mesh_envelope {
	MESH_ENVELOPE_FIELDS;
};

/* What a record kind brings. The body codec sees only the bytes between the
 * header and the signature. */
struct mesh_envelope_kind {
	const char *domain;		/* signature domain */
	uint8_t version;		/* the only version accepted */
	uint64_t ttl_s;			/* 0: never expires */
	size_t max_len;			/* longest whole record */
	/* Appends the body; MESHD_E_INVAL when rec is not encodable. */
	int (*body_encode)(const void *rec, struct wr *w);
	/* Reads the body (not the signature); MESHD_E_PROTO when malformed. */
	int (*body_decode)(struct rd *rd, void *rec);
};

/* Appends header, body and sig to w. Returns 0; MESHD_E_INVAL (unknown
 * version, body not encodable); MESHD_E_RANGE (w full). Nothing is written
 * on error. */
int mesh_envelope_encode(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t sig[MESH_SIG_LEN], struct wr *w);

/* Strict decode of exactly len bytes into env, the body in rec and sig
 * (env and sig lie inside rec, the kind's struct of size bytes). Zeroes rec
 * first; returns 0 or MESHD_E_PROTO, with rec zeroed again. Checks neither
 * the signature nor the mesh nor the times. */
int mesh_envelope_decode(const struct mesh_envelope_kind *k, const uint8_t *p, size_t len,
    struct mesh_envelope *env, void *rec, size_t size, uint8_t sig[MESH_SIG_LEN]);

/* Signs header and body with the node's Ed25519 secret key into sig.
 * Returns 0; MESHD_E_INVAL (not encodable); MESHD_E_CRYPTO. */
int mesh_envelope_sign(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t node_sk[MESH_SK_LEN], uint8_t sig[MESH_SIG_LEN]);

/* True when env is of this mesh, not expired and not too far ahead of
 * now_unix. The checks a receiver can make before it knows the signer. */
bool mesh_envelope_fresh(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix);

/* True only when: version known, mesh_envelope_fresh(), the record is
 * encodable and sig by sign_pk verifies. Never says which check failed. */
bool mesh_envelope_verify(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t sig[MESH_SIG_LEN], const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix);

/* The unix second from which the record is expired (timestamp + TTL,
 * saturating); UINT64_MAX for a kind without a TTL. */
uint64_t mesh_envelope_expiry(const struct mesh_envelope_kind *k,
    const struct mesh_envelope *env);

#endif
