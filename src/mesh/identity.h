/* Mesh and node identity: the mesh id, node ids, the authority's Ed25519 key
 * and the overlay address plan.
 *
 *   mesh id  = BLAKE2b-256("meshd mesh id v1" || authority Ed25519 public key)
 *   node id  = 16 random bytes
 *   IPv6     = ULA fd00::/8 + the first 40 bits of the mesh id -> a /48
 *   IPv4     = one /16 inside 100.64.0.0/10 (chosen from a random value)
 *   address  = prefix + host bits from BLAKE2b("meshd addr v1", node id,
 *              attempt); never the all-zeros or all-ones host part
 *
 * Ed25519 keys are libsodium's: public 32 bytes, secret 64 bytes (seed||pk).
 * Signatures are always over a domain string followed by the message, so a
 * signature made for one record type never verifies as another.
 */
#ifndef MESHD_MESH_IDENTITY_H
#define MESHD_MESH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/prefix.h"
#include "util/buf.h"

enum {
	MESH_ID_LEN = 32,
	MESH_NODE_ID_LEN = 16,
	MESH_PK_LEN = 32,		/* Ed25519 public key */
	MESH_SK_LEN = 64,		/* Ed25519 secret key (libsodium layout) */
	MESH_SIG_LEN = 64,
	MESH_SIGNED_MAX = 2048,		/* longest domain + message we sign */
};

enum {
	MESH_IPV4_PREFIX_LEN = 16,	/* overlay IPv4 prefix chosen by init */
	MESH_ULA_PREFIX_LEN = 48,	/* overlay IPv6 prefix from the mesh id */
	MESH_ADDR_MAX_ROUNDS = 64,	/* internal re-hashes per attempt */
};

#define MESH_ID_DOMAIN "meshd mesh id v1"
#define MESH_ADDR_DOMAIN "meshd addr v1"

/* out = BLAKE2b-256(MESH_ID_DOMAIN || authority_pk). */
void mesh_identity_mesh_id(const uint8_t authority_pk[MESH_PK_LEN], uint8_t out[MESH_ID_LEN]);

/* 16 bytes from the system CSPRNG. */
void mesh_identity_node_id_new(uint8_t out[MESH_NODE_ID_LEN]);

/* New authority key pair. Returns 0 or MESHD_E_CRYPTO. The caller zeroes sk
 * with sodium_memzero when done. */
int mesh_identity_authority_keygen(uint8_t pk[MESH_PK_LEN], uint8_t sk[MESH_SK_LEN]);

/* Public key of a secret key (libsodium keeps it in the second half). */
void mesh_identity_sk_to_pk(const uint8_t sk[MESH_SK_LEN], uint8_t pk[MESH_PK_LEN]);

/* Ed25519 signature over domain || msg. Returns 0; MESHD_E_RANGE when
 * strlen(domain) + len > MESH_SIGNED_MAX; MESHD_E_CRYPTO if libsodium fails
 * (sig is zeroed on error). */
int mesh_identity_sign(const uint8_t sk[MESH_SK_LEN], const char *domain,
    const uint8_t *msg, size_t len, uint8_t sig[MESH_SIG_LEN]);

/* True only when sig is a valid signature by pk over domain || msg. */
bool mesh_identity_verify(const uint8_t pk[MESH_PK_LEN], const char *domain,
    const uint8_t *msg, size_t len, const uint8_t sig[MESH_SIG_LEN]);

/* Writes the part of a record that its signature covers (everything
 * before sig); MESHD_E_INVAL when rec is not encodable. */
typedef int mesh_signed_body_fn(const void *rec, struct wr *w);

/* Appends body(rec) and then sig to w. Returns 0, body's error or w's
 * (MESHD_E_RANGE); nothing is written on error. */
int mesh_identity_encode_signed(mesh_signed_body_fn *body, const void *rec,
    const uint8_t sig[MESH_SIG_LEN], struct wr *w);

/* Reads the part of a record that its signature covers into rec, checking
 * each field as it goes; 0 or MESHD_E_PROTO. */
typedef int mesh_signed_read_fn(struct rd *rd, void *rec);

/* The inverse of mesh_identity_encode_signed: zeroes rec (size bytes), reads
 * body(rec) from p, then sig (which lies inside rec), and wants nothing after
 * it. Returns 0 or MESHD_E_PROTO (rec zeroed). */
int mesh_identity_decode_signed(mesh_signed_read_fn *body, const uint8_t *p, size_t len,
    void *rec, size_t size, uint8_t sig[MESH_SIG_LEN]);

/* mesh_identity_sign over body(rec). Returns 0; body's error (sig
 * untouched); MESHD_E_RANGE or MESHD_E_CRYPTO as mesh_identity_sign. */
int mesh_identity_sign_body(mesh_signed_body_fn *body, const void *rec, const char *domain,
    const uint8_t sk[MESH_SK_LEN], uint8_t sig[MESH_SIG_LEN]);

/* mesh_identity_verify over body(rec); false when rec is not encodable. */
bool mesh_identity_verify_body(mesh_signed_body_fn *body, const void *rec, const char *domain,
    const uint8_t pk[MESH_PK_LEN], const uint8_t sig[MESH_SIG_LEN]);

/* fd00::/8 + mesh_id[0..4] as a /48. */
void mesh_identity_ula_prefix(const uint8_t mesh_id[MESH_ID_LEN], struct mesh_prefix *out);

/* 100.(64 + (rnd % 64)).0.0/16: one of the 64 /16s of 100.64.0.0/10. The
 * caller passes randombytes_random(); tests pass fixed values. */
void mesh_identity_ipv4_prefix(uint32_t rnd, struct mesh_prefix *out);

/* The overlay address of a node inside prefix (16 bytes written; v4 uses
 * out[0..3], the rest is zeroed). Deterministic in (prefix, node_id, attempt):
 * when the address is already taken the caller retries with attempt + 1.
 * Never returns the all-zeros (network) or all-ones (broadcast) host part.
 * Returns 0; MESHD_E_INVAL for an invalid prefix or one with fewer than 2 host
 * bits (v4 /31, /32; v6 /127, /128). */
int mesh_identity_addr_for(const struct mesh_prefix *prefix,
    const uint8_t node_id[MESH_NODE_ID_LEN], uint32_t attempt, uint8_t out[16]);

#endif
