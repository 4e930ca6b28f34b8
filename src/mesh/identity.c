#include <string.h>

#include <sodium.h>

#include "mesh/identity.h"
#include "util/endian.h"
#include "util/err.h"

_Static_assert(MESH_PK_LEN == crypto_sign_PUBLICKEYBYTES, "ed25519 pk");
_Static_assert(MESH_SK_LEN == crypto_sign_SECRETKEYBYTES, "ed25519 sk");
_Static_assert(MESH_SIG_LEN == crypto_sign_BYTES, "ed25519 sig");
_Static_assert(MESH_ID_LEN <= crypto_generichash_BYTES_MAX, "blake2b out");

void mesh_identity_mesh_id(const uint8_t authority_pk[MESH_PK_LEN], uint8_t out[MESH_ID_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, MESH_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)MESH_ID_DOMAIN, strlen(MESH_ID_DOMAIN));
	crypto_generichash_update(&st, authority_pk, MESH_PK_LEN);
	crypto_generichash_final(&st, out, MESH_ID_LEN);
}

void mesh_identity_node_id_new(uint8_t out[MESH_NODE_ID_LEN])
{
	randombytes_buf(out, MESH_NODE_ID_LEN);
}

int mesh_identity_authority_keygen(uint8_t pk[MESH_PK_LEN], uint8_t sk[MESH_SK_LEN])
{
	if (crypto_sign_keypair(pk, sk) != 0) {
		sodium_memzero(sk, MESH_SK_LEN);
		return MESHD_E_CRYPTO;
	}
	return 0;
}

void mesh_identity_sk_to_pk(const uint8_t sk[MESH_SK_LEN], uint8_t pk[MESH_PK_LEN])
{
	crypto_sign_ed25519_sk_to_pk(pk, sk);
}

/* Lays out domain || msg in buf; false when that is longer than the buffer. */
static bool join_domain(uint8_t buf[MESH_SIGNED_MAX], const char *domain,
    const uint8_t *msg, size_t len, size_t *n)
{
	size_t dlen = strlen(domain);

	*n = 0;
	if (dlen > MESH_SIGNED_MAX || len > MESH_SIGNED_MAX - dlen)
		return false;
	memcpy(buf, domain, dlen);
	if (len > 0)
		memcpy(buf + dlen, msg, len);
	*n = dlen + len;
	return true;
}

int mesh_identity_sign(const uint8_t sk[MESH_SK_LEN], const char *domain,
    const uint8_t *msg, size_t len, uint8_t sig[MESH_SIG_LEN])
{
	uint8_t buf[MESH_SIGNED_MAX];
	size_t n;
	int r = MESHD_E_RANGE;

	memset(sig, 0, MESH_SIG_LEN);
	if (!join_domain(buf, domain, msg, len, &n))
		goto out;
	if (crypto_sign_detached(sig, NULL, buf, n, sk) != 0) {
		memset(sig, 0, MESH_SIG_LEN);
		r = MESHD_E_CRYPTO;
		goto out;
	}
	r = 0;
out:
	sodium_memzero(buf, sizeof buf);
	return r;
}

bool mesh_identity_verify(const uint8_t pk[MESH_PK_LEN], const char *domain,
    const uint8_t *msg, size_t len, const uint8_t sig[MESH_SIG_LEN])
{
	uint8_t buf[MESH_SIGNED_MAX];
	size_t n;

	if (!join_domain(buf, domain, msg, len, &n))
		return false;
	return crypto_sign_verify_detached(sig, buf, n, pk) == 0;
}

int mesh_identity_encode_signed(mesh_signed_body_fn *body, const void *rec,
    const uint8_t sig[MESH_SIG_LEN], struct wr *w)
{
	size_t start = w->off;
	int r;

	if ((r = body(rec, w)) != 0 || (r = wr_bytes(w, sig, MESH_SIG_LEN)) != 0)
		w->off = start;
	return r;
}

int mesh_identity_decode_signed(mesh_signed_read_fn *body, const uint8_t *p, size_t len,
    void *rec, size_t size, uint8_t sig[MESH_SIG_LEN])
{
	struct rd rd;

	memset(rec, 0, size);
	rd_init(&rd, p, len);
	if (body(&rd, rec) != 0 || rd_bytes(&rd, sig, MESH_SIG_LEN) != 0 || rd_end(&rd) != 0) {
		memset(rec, 0, size);
		return MESHD_E_PROTO;
	}
	return 0;
}

int mesh_identity_sign_body(mesh_signed_body_fn *body, const void *rec, const char *domain,
    const uint8_t sk[MESH_SK_LEN], uint8_t sig[MESH_SIG_LEN])
{
	uint8_t buf[MESH_SIGNED_MAX];
	struct wr w;
	int r;

	wr_init(&w, buf, sizeof buf);
	if ((r = body(rec, &w)) != 0)
		return r;
	return mesh_identity_sign(sk, domain, buf, w.off, sig);
}

bool mesh_identity_verify_body(mesh_signed_body_fn *body, const void *rec, const char *domain,
    const uint8_t pk[MESH_PK_LEN], const uint8_t sig[MESH_SIG_LEN])
{
	uint8_t buf[MESH_SIGNED_MAX];
	struct wr w;

	wr_init(&w, buf, sizeof buf);
	if (body(rec, &w) != 0)
		return false;
	return mesh_identity_verify(pk, domain, buf, w.off, sig);
}

void mesh_identity_ula_prefix(const uint8_t mesh_id[MESH_ID_LEN], struct mesh_prefix *out)
{
	memset(out, 0, sizeof *out);
	out->family = MESH_FAMILY_V6;
	out->len = MESH_ULA_PREFIX_LEN;
	out->addr[0] = 0xfd;
	memcpy(out->addr + 1, mesh_id, 5);
}

void mesh_identity_ipv4_prefix(uint32_t rnd, struct mesh_prefix *out)
{
	memset(out, 0, sizeof *out);
	out->family = MESH_FAMILY_V4;
	out->len = MESH_IPV4_PREFIX_LEN;
	out->addr[0] = 100;
	out->addr[1] = 64 + (rnd & 63);	/* 100.64.0.0/10 holds 64 /16s */
}

int mesh_identity_addr_for(const struct mesh_prefix *prefix,
    const uint8_t node_id[MESH_NODE_ID_LEN], uint32_t attempt, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t h[32], ctr[8];
	unsigned bits, nbytes, i, round;
	bool zero, ones;

	memset(out, 0, 16);
	if (!mesh_prefix_valid(prefix))
		return MESHD_E_INVAL;
	bits = mesh_family_bits(prefix->family);
	if (bits - prefix->len < 2)
		return MESHD_E_INVAL;
	nbytes = bits / 8;
	for (round = 0; round < MESH_ADDR_MAX_ROUNDS; round++) {
		be32enc(ctr, attempt);
		be32enc(ctr + 4, round);
		crypto_generichash_init(&st, NULL, 0, sizeof h);
		crypto_generichash_update(&st, (const uint8_t *)MESH_ADDR_DOMAIN,
		    strlen(MESH_ADDR_DOMAIN));
		crypto_generichash_update(&st, prefix->addr, 16);
		crypto_generichash_update(&st, &prefix->len, 1);
		crypto_generichash_update(&st, node_id, MESH_NODE_ID_LEN);
		crypto_generichash_update(&st, ctr, sizeof ctr);
		crypto_generichash_final(&st, h, sizeof h);
		zero = ones = true;
		for (i = 0; i < nbytes; i++) {
			uint8_t m = mesh_prefix_mask(prefix->len, i);
			uint8_t hostmask = (uint8_t)~m, host = h[i] & hostmask;

			out[i] = (prefix->addr[i] & m) | host;
			if (host != 0)
				zero = false;
			if (host != hostmask)
				ones = false;
		}
		if (!zero && !ones)
			return 0;
	}
	/* Unreachable in practice: each round fails with p <= 1/2. */
	memset(out, 0, 16);
	return MESHD_E_RANGE;
}
