/* BLAKE2s (RFC 7693, through libb2) and the constructions WireGuard builds on
 * it: HASH, MAC (keyed BLAKE2s, 16-byte output), HMAC-BLAKE2s and the KDF. */
#ifndef MESHD_WG_BLAKE2S_H
#define MESHD_WG_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum { WG_BLAKE2S_HASH_LEN = 32, WG_BLAKE2S_BLOCK_LEN = 64 };

/* HASH(in): unkeyed, 32-byte output. */
void wg_blake2s_hash(uint8_t out[WG_BLAKE2S_HASH_LEN], const void *in, size_t inlen);
/* HASH(a || b) without concatenating. */
void wg_blake2s_hash2(uint8_t out[WG_BLAKE2S_HASH_LEN], const void *a, size_t alen,
		      const void *b, size_t blen);
/* Keyed BLAKE2s with outlen bytes of output (MAC uses 16). keylen <= 32. */
void wg_blake2s_keyed(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
		      const void *in, size_t inlen);
/* HMAC-BLAKE2s (RFC 2104 with BLAKE2s-256). */
void wg_hmac_blake2s(uint8_t out[WG_BLAKE2S_HASH_LEN], const uint8_t *key, size_t keylen,
		     const void *in, size_t inlen);
/* KDF_n as in the WireGuard paper: t0 = HMAC(ck, input), t1 = HMAC(t0, 0x1),
 * t2 = HMAC(t0, t1 || 0x2), t3 = HMAC(t0, t2 || 0x3). Outputs may be NULL. */
void wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[WG_BLAKE2S_HASH_LEN],
	    const void *input, size_t inlen);

#endif
