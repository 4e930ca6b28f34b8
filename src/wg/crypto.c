/* libsodium wrappers (see crypto.h). */
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "wg/crypto.h"

_Static_assert(WG_CRYPTO_KEY_LEN == crypto_scalarmult_curve25519_BYTES, "x25519 size");
_Static_assert(WG_CRYPTO_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "aead key");
_Static_assert(WG_CRYPTO_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "aead tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "aead nonce");

void wg_crypto_clamp(uint8_t key[WG_CRYPTO_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void wg_crypto_generate(uint8_t priv[WG_CRYPTO_KEY_LEN])
{
	randombytes_buf(priv, WG_CRYPTO_KEY_LEN);
	wg_crypto_clamp(priv);
}

bool wg_crypto_public(uint8_t pub[WG_CRYPTO_KEY_LEN], const uint8_t priv[WG_CRYPTO_KEY_LEN])
{
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0 ||
	    sodium_is_zero(pub, WG_CRYPTO_KEY_LEN)) {
		sodium_memzero(pub, WG_CRYPTO_KEY_LEN);
		return false;
	}
	return true;
}

bool wg_crypto_dh(uint8_t out[WG_CRYPTO_KEY_LEN], const uint8_t priv[WG_CRYPTO_KEY_LEN],
		  const uint8_t pub[WG_CRYPTO_KEY_LEN])
{
	/* libsodium already refuses an all-zero result; check again so that
	 * the guarantee does not depend on the library's build options. */
	if (crypto_scalarmult_curve25519(out, priv, pub) != 0 ||
	    sodium_is_zero(out, WG_CRYPTO_KEY_LEN)) {
		sodium_memzero(out, WG_CRYPTO_KEY_LEN);
		return false;
	}
	return true;
}

static void make_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	le64enc(nonce + 4, counter);
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[12];

	make_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL,
						  nonce, key);
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[12];

	if (len < WG_CRYPTO_TAG_LEN)
		return false;
	make_nonce(nonce, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen,
							 nonce, key) == 0;
}

void wg_aead_encrypt_inplace(uint8_t *buf, size_t len, uint8_t tag[WG_CRYPTO_TAG_LEN],
			     uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[12];

	make_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, len, NULL, 0,
							   NULL, nonce, key);
}

bool wg_aead_decrypt_inplace(uint8_t *buf, size_t len, const uint8_t tag[WG_CRYPTO_TAG_LEN],
			     uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[12];

	make_nonce(nonce, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, len, tag,
								  NULL, 0, nonce, key) == 0;
}

uint32_t wg_random_u32(void)
{
	return randombytes_random();
}

uint32_t wg_random_below(uint32_t bound)
{
	return randombytes_uniform(bound);
}
