/* libsodium and libcrypto wrappers (see crypto.h). */
#include <stdatomic.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "util/endian.h"
#include "util/err.h"
#include "wg/crypto.h"

_Static_assert(WG_CRYPTO_KEY_LEN == crypto_scalarmult_curve25519_BYTES, "x25519 size");
_Static_assert(WG_CRYPTO_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "aead key");
_Static_assert(WG_CRYPTO_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "aead tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == WG_CRYPTO_NONCE_LEN,
	       "aead nonce");

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

static void make_nonce(uint8_t nonce[WG_CRYPTO_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	le64enc(nonce + 4, counter);
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[WG_CRYPTO_NONCE_LEN];

	make_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL,
						  nonce, key);
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, uint64_t counter, const uint8_t key[WG_CRYPTO_KEY_LEN])
{
	uint8_t nonce[WG_CRYPTO_NONCE_LEN];

	if (len < WG_CRYPTO_TAG_LEN)
		return false;
	make_nonce(nonce, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen,
							 nonce, key) == 0;
}

/* This thread's libcrypto contexts ([0] opens, [1] seals) and the id of the
 * key each holds (0: none or wiped). A reachable pointer for the life of the
 * thread: no leak. */
static _Thread_local struct {
	EVP_CIPHER_CTX *evp[2];
	uint64_t keyed[2];
} aead_tl;
static atomic_uint_fast64_t aead_next_id = 1;

/* libcrypto's set-up, without the system's OpenSSL configuration: the data
 * plane's cipher is fixed by the WireGuard protocol, so a site-wide
 * openssl.cnf (a FIPS-only provider list, say, which has no ChaCha20) must
 * not be able to take it away, and not reading and applying the file keeps
 * about 0.6 MB of libcrypto out of RSS (bench/rss_floor.sh). Nor does
 * meshd look ciphers or digests up by name. The first call in the process
 * decides, and this file is libcrypto's only user in meshd. Thread-safe and
 * idempotent. */
static bool crypto_lib_init(void)
{
	return OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				   OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL) == 1;
}

static EVP_CIPHER_CTX *shared_ctx(bool encrypt)
{
	EVP_CIPHER_CTX *evp = aead_tl.evp[encrypt];

	if (evp)
		return evp;
	if (!crypto_lib_init() || !(evp = EVP_CIPHER_CTX_new()))
		return NULL;
	/* The length checks pin the cipher we got. */
	if (EVP_CipherInit_ex(evp, EVP_chacha20_poly1305(), NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_get_key_length(evp) != WG_CRYPTO_KEY_LEN ||
	    EVP_CIPHER_CTX_get_iv_length(evp) != WG_CRYPTO_NONCE_LEN) {
		EVP_CIPHER_CTX_free(evp);
		return NULL;
	}
	aead_tl.evp[encrypt] = evp;
	aead_tl.keyed[encrypt] = 0;
	return evp;
}

int wg_aead_ctx_init(struct wg_aead_ctx *c, const uint8_t key[WG_CRYPTO_KEY_LEN],
		     bool encrypt)
{
	c->id = 0;
	if (!shared_ctx(encrypt))
		return MESHD_E_NOMEM;
	memcpy(c->key, key, WG_CRYPTO_KEY_LEN);
	c->encrypt = encrypt;
	c->id = atomic_fetch_add(&aead_next_id, 1);
	return 0;
}

void wg_aead_ctx_clear(struct wg_aead_ctx *c)
{
	static const uint8_t zero[WG_CRYPTO_KEY_LEN];

	if (c->id == 0)
		return;
	if (aead_tl.evp[c->encrypt] && aead_tl.keyed[c->encrypt] == c->id) {
		/* overwrite the key in the shared context */
		(void)EVP_CipherInit_ex(aead_tl.evp[c->encrypt], NULL, NULL, zero, NULL, -1);
		aead_tl.keyed[c->encrypt] = 0;
	}
	sodium_memzero(c, sizeof *c);
}

void wg_aead_thread_wipe(void)
{
	static const uint8_t zero[WG_CRYPTO_KEY_LEN];

	for (int e = 0; e < 2; e++)
		if (aead_tl.evp[e] && aead_tl.keyed[e] != 0) {
			(void)EVP_CipherInit_ex(aead_tl.evp[e], NULL, NULL, zero, NULL, -1);
			aead_tl.keyed[e] = 0;
		}
}

void wg_aead_thread_free(void)
{
	wg_aead_thread_wipe();
	for (int e = 0; e < 2; e++) {
		EVP_CIPHER_CTX_free(aead_tl.evp[e]);
		aead_tl.evp[e] = NULL;
	}
}

/* This thread's context for c, with c's key and this nonce in it, the
 * additional data absorbed; NULL on any libcrypto failure. */
static EVP_CIPHER_CTX *ctx_start(struct wg_aead_ctx *c, size_t len, const uint8_t *ad,
				 size_t adlen, const uint8_t nonce[WG_CRYPTO_NONCE_LEN])
{
	EVP_CIPHER_CTX *evp;
	const uint8_t *key = NULL;
	int outl;

	if (c->id == 0 || len > WG_AEAD_CTX_MAX_LEN || adlen > WG_AEAD_CTX_MAX_LEN ||
	    !(evp = shared_ctx(c->encrypt)))
		return NULL;
	if (aead_tl.keyed[c->encrypt] != c->id)
		key = c->key;
	/* No cipher, enc -1: keep both; the key only when it changes; reset
	 * the state to this nonce. */
	if (EVP_CipherInit_ex(evp, NULL, NULL, key, nonce, -1) != 1) {
		aead_tl.keyed[c->encrypt] = 0;
		return NULL;
	}
	aead_tl.keyed[c->encrypt] = c->id;
	if (adlen != 0 && EVP_CipherUpdate(evp, NULL, &outl, ad, (int)adlen) != 1)
		return NULL;
	return evp;
}

static bool ctx_crypt(EVP_CIPHER_CTX *evp, uint8_t *buf, size_t len)
{
	int outl = 0, finl = 0;

	if (len && (EVP_CipherUpdate(evp, buf, &outl, buf, (int)len) != 1 || (size_t)outl != len))
		return false;
	/* A stream cipher: Final emits nothing, it computes (seal) or checks
	 * (open) the tag. */
	return EVP_CipherFinal_ex(evp, buf + len, &finl) == 1 && finl == 0;
}

bool wg_aead_ctx_seal(struct wg_aead_ctx *c, uint8_t *buf, size_t len, const uint8_t *ad,
		      size_t adlen, const uint8_t nonce[WG_CRYPTO_NONCE_LEN],
		      uint8_t tag[WG_CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *evp = c->encrypt ? ctx_start(c, len, ad, adlen, nonce) : NULL;

	if (evp && ctx_crypt(evp, buf, len) &&
	    EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, WG_CRYPTO_TAG_LEN, tag) == 1)
		return true;
	sodium_memzero(buf, len);
	sodium_memzero(tag, WG_CRYPTO_TAG_LEN);
	return false;
}

bool wg_aead_ctx_open(struct wg_aead_ctx *c, uint8_t *buf, size_t len, const uint8_t *ad,
		      size_t adlen, const uint8_t nonce[WG_CRYPTO_NONCE_LEN],
		      const uint8_t tag[WG_CRYPTO_TAG_LEN])
{
	uint8_t expect[WG_CRYPTO_TAG_LEN];	/* ctrl takes a non-const pointer */
	EVP_CIPHER_CTX *evp = !c->encrypt ? ctx_start(c, len, ad, adlen, nonce) : NULL;

	if (!evp)
		return false;
	memcpy(expect, tag, sizeof expect);
	if (EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_SET_TAG, WG_CRYPTO_TAG_LEN, expect) == 1 &&
	    ctx_crypt(evp, buf, len))
		return true;
	sodium_memzero(buf, len);
	return false;
}

bool wg_aead_ctx_encrypt(struct wg_aead_ctx *c, uint8_t *buf, size_t len,
			 uint8_t tag[WG_CRYPTO_TAG_LEN], uint64_t counter)
{
	uint8_t nonce[WG_CRYPTO_NONCE_LEN];

	make_nonce(nonce, counter);
	return wg_aead_ctx_seal(c, buf, len, NULL, 0, nonce, tag);
}

bool wg_aead_ctx_decrypt(struct wg_aead_ctx *c, uint8_t *buf, size_t len,
			 const uint8_t tag[WG_CRYPTO_TAG_LEN], uint64_t counter)
{
	uint8_t nonce[WG_CRYPTO_NONCE_LEN];

	make_nonce(nonce, counter);
	return wg_aead_ctx_open(c, buf, len, NULL, 0, nonce, tag);
}

uint32_t wg_random_u32(void)
{
	return randombytes_random();
}

uint32_t wg_random_below(uint32_t bound)
{
	return randombytes_uniform(bound);
}
