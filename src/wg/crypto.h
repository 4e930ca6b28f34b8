/* libsodium wrappers for the WireGuard core: X25519, ChaCha20-Poly1305 (IETF,
 * 96-bit nonce = 4 zero bytes || little-endian 64-bit counter) and randomness.
 * Verification answers bool only: callers learn nothing about why it failed. */
#ifndef MESHD_WG_CRYPTO_H
#define MESHD_WG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WG_CRYPTO_KEY_LEN = 32,
	WG_CRYPTO_TAG_LEN = 16,
};

/* Clamp a private key as X25519 requires (in place). */
void wg_crypto_clamp(uint8_t key[WG_CRYPTO_KEY_LEN]);
/* A fresh clamped private key. */
void wg_crypto_generate(uint8_t priv[WG_CRYPTO_KEY_LEN]);
/* pub = X25519(priv, basepoint). False on an all-zero result. */
bool wg_crypto_public(uint8_t pub[WG_CRYPTO_KEY_LEN], const uint8_t priv[WG_CRYPTO_KEY_LEN]);
/* out = X25519(priv, pub). False (out zeroed) when the result is all zero,
 * i.e. pub is of low order. */
bool wg_crypto_dh(uint8_t out[WG_CRYPTO_KEY_LEN], const uint8_t priv[WG_CRYPTO_KEY_LEN],
		  const uint8_t pub[WG_CRYPTO_KEY_LEN]);

/* AEAD with a whole-message output: dst gets len + WG_CRYPTO_TAG_LEN bytes. */
void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN]);
/* src holds len bytes of ciphertext including the tag; dst gets len - 16. */
bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN]);

/* In place, no additional data (transport data): buf[0, len) is replaced by
 * its ciphertext and the tag goes to tag[16]. */
void wg_aead_encrypt_inplace(uint8_t *buf, size_t len, uint8_t tag[WG_CRYPTO_TAG_LEN],
			     uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN]);
bool wg_aead_decrypt_inplace(uint8_t *buf, size_t len, const uint8_t tag[WG_CRYPTO_TAG_LEN],
			     uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN]);

uint32_t wg_random_u32(void);
/* Uniform in [0, bound). */
uint32_t wg_random_below(uint32_t bound);

#endif
