/* Cryptographic primitives of the WireGuard core: X25519, ChaCha20-Poly1305
 * (IETF, 96-bit nonce = 4 zero bytes || little-endian 64-bit counter) and
 * randomness.
 *
 * Two AEAD paths compute the same function (tests/check_aead.c holds them to
 * RFC 8439 and to each other):
 *   wg_aead_encrypt/decrypt      libsodium, key passed per call: handshake
 *                                messages, a few per session;
 *   struct wg_aead_ctx           OpenSSL libcrypto (EVP), a shared context
 *                                per direction re-keyed only when the
 *                                keypair changes, a nonce per packet:
 *                                transport data, the hot path. Its
 *                                vectorized code is ~3x libsodium 1.0.18 here
 *                                (bench/bench_aead.c, docs/decisions.md).
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

enum {
	WG_CRYPTO_NONCE_LEN = 12,
	/* EVP takes int lengths; WireGuard messages are far below this. */
	WG_AEAD_CTX_MAX_LEN = 1 << 30,
};

struct evp_cipher_ctx_st;	/* OpenSSL's EVP_CIPHER_CTX, opaque outside crypto.c */

/* One direction (seal or open) of one transport keypair. Embedded in the
 * keypair; holds the only copy of that direction's key (secret).
 *
 * The libcrypto work is done by one EVP context per direction and thread,
 * shared by all keys: a context is about 1 KB (measured: 1,055 B), a key 32
 * B, and a keypair had two contexts, so a peer with a live session carried
 * 2-4 KB of them. The shared context is re-keyed only when the key changes
 * between two packets (ChaCha20 has no key schedule: the re-key copies the
 * key), so a flow of packets for one keypair pays nothing. Each context is
 * used by the thread that seals or opens with it; the wg core runs on one
 * thread and may hand data-message jobs to others (wg.h), which read the
 * key from struct wg_aead_ctx into their own contexts. */
struct wg_aead_ctx {
	uint64_t id;			/* unique while keyed; 0: not keyed */
	bool encrypt;
	uint8_t key[WG_CRYPTO_KEY_LEN];
};

/* Keys c for sealing (encrypt true) or opening. c must be cleared (or
 * zero-initialized). Returns 0, or MESHD_E_NOMEM when libcrypto cannot
 * allocate or set up this thread's shared context (c stays cleared then):
 * the first call on a thread allocates it, later ones never allocate. */
int wg_aead_ctx_init(struct wg_aead_ctx *c, const uint8_t key[WG_CRYPTO_KEY_LEN],
		     bool encrypt);
/* Wipes the key, and this thread's shared context when it holds that key.
 * No-op on a cleared context. */
void wg_aead_ctx_clear(struct wg_aead_ctx *c);

/* Wipes the key out of this thread's shared contexts (a thread that seals
 * or opens for keypairs it does not own calls it before it sleeps: only the
 * owner's wg_aead_ctx_clear() runs when a keypair dies, on its own thread). */
void wg_aead_thread_wipe(void);
/* Frees this thread's shared contexts (a thread that ends; the next use on
 * it would allocate them again). */
void wg_aead_thread_free(void);
/* In place with an explicit 96-bit nonce: buf[0, len) is replaced by its
 * ciphertext and the tag goes to tag[16]; ad may be NULL when adlen is 0.
 * False (buf and tag zeroed, so no plaintext can leave by mistake) when
 * libcrypto fails or len/adlen exceed WG_AEAD_CTX_MAX_LEN. No allocation. */
bool wg_aead_ctx_seal(struct wg_aead_ctx *c, uint8_t *buf, size_t len, const uint8_t *ad,
		      size_t adlen, const uint8_t nonce[WG_CRYPTO_NONCE_LEN],
		      uint8_t tag[WG_CRYPTO_TAG_LEN]);
/* The inverse: true and buf[0, len) holds the plaintext when the tag
 * verifies; false and buf zeroed otherwise (the decryption runs before the
 * tag is checked, so the unauthenticated plaintext is wiped). */
bool wg_aead_ctx_open(struct wg_aead_ctx *c, uint8_t *buf, size_t len, const uint8_t *ad,
		      size_t adlen, const uint8_t nonce[WG_CRYPTO_NONCE_LEN],
		      const uint8_t tag[WG_CRYPTO_TAG_LEN]);

/* Transport data (no additional data, WireGuard's counter nonce). */
bool wg_aead_ctx_encrypt(struct wg_aead_ctx *c, uint8_t *buf, size_t len,
			 uint8_t tag[WG_CRYPTO_TAG_LEN], uint64_t counter);
bool wg_aead_ctx_decrypt(struct wg_aead_ctx *c, uint8_t *buf, size_t len,
			 const uint8_t tag[WG_CRYPTO_TAG_LEN], uint64_t counter);

uint32_t wg_random_u32(void);
/* Uniform in [0, bound). */
uint32_t wg_random_below(uint32_t bound);

#endif
