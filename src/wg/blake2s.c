/* BLAKE2s constructions used by WireGuard, on top of libb2.
 * Every intermediate buffer that held key material is wiped before return. */
#include <string.h>

#include <blake2.h>
#include <sodium.h>

#include "wg/blake2s.h"

_Static_assert((int)WG_BLAKE2S_HASH_LEN == (int)BLAKE2S_OUTBYTES, "libb2 output size");
_Static_assert((int)WG_BLAKE2S_BLOCK_LEN == (int)BLAKE2S_BLOCKBYTES, "libb2 block size");

void wg_blake2s_hash(uint8_t out[WG_BLAKE2S_HASH_LEN], const void *in, size_t inlen)
{
	blake2s(out, in, NULL, WG_BLAKE2S_HASH_LEN, inlen, 0);
}

void wg_blake2s_hash2(uint8_t out[WG_BLAKE2S_HASH_LEN], const void *a, size_t alen,
		      const void *b, size_t blen)
{
	blake2s_state s;

	blake2s_init(&s, WG_BLAKE2S_HASH_LEN);
	blake2s_update(&s, a, alen);
	blake2s_update(&s, b, blen);
	blake2s_final(&s, out, WG_BLAKE2S_HASH_LEN);
	sodium_memzero(&s, sizeof s);
}

void wg_blake2s_keyed(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
		      const void *in, size_t inlen)
{
	blake2s(out, in, key, outlen, inlen, keylen);
}

void wg_hmac_blake2s(uint8_t out[WG_BLAKE2S_HASH_LEN], const uint8_t *key, size_t keylen,
		     const void *in, size_t inlen)
{
	uint8_t k[WG_BLAKE2S_BLOCK_LEN], inner[WG_BLAKE2S_HASH_LEN];
	blake2s_state s;
	size_t i;

	memset(k, 0, sizeof k);
	if (keylen > WG_BLAKE2S_BLOCK_LEN)
		wg_blake2s_hash(k, key, keylen);
	else if (keylen)
		memcpy(k, key, keylen);

	/* inner = HASH((K ^ ipad) || in) */
	for (i = 0; i < sizeof k; i++)
		k[i] ^= 0x36;
	blake2s_init(&s, WG_BLAKE2S_HASH_LEN);
	blake2s_update(&s, k, sizeof k);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, inner, sizeof inner);

	/* out = HASH((K ^ opad) || inner) */
	for (i = 0; i < sizeof k; i++)
		k[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&s, WG_BLAKE2S_HASH_LEN);
	blake2s_update(&s, k, sizeof k);
	blake2s_update(&s, inner, sizeof inner);
	blake2s_final(&s, out, WG_BLAKE2S_HASH_LEN);

	sodium_memzero(k, sizeof k);
	sodium_memzero(inner, sizeof inner);
	sodium_memzero(&s, sizeof s);
}

void wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[WG_BLAKE2S_HASH_LEN],
	    const void *input, size_t inlen)
{
	uint8_t t0[WG_BLAKE2S_HASH_LEN], buf[WG_BLAKE2S_HASH_LEN + 1];
	uint8_t out[WG_BLAKE2S_HASH_LEN];

	/* t0 = HMAC(ck, input) */
	wg_hmac_blake2s(t0, ck, WG_BLAKE2S_HASH_LEN, input, inlen);

	/* t1 = HMAC(t0, 0x1) */
	buf[0] = 0x1;
	wg_hmac_blake2s(out, t0, sizeof t0, buf, 1);
	if (t1)
		memcpy(t1, out, sizeof out);
	if (!t2 && !t3)
		goto out;

	/* t2 = HMAC(t0, t1 || 0x2) */
	memcpy(buf, out, sizeof out);
	buf[WG_BLAKE2S_HASH_LEN] = 0x2;
	wg_hmac_blake2s(out, t0, sizeof t0, buf, sizeof buf);
	if (t2)
		memcpy(t2, out, sizeof out);
	if (!t3)
		goto out;

	/* t3 = HMAC(t0, t2 || 0x3) */
	memcpy(buf, out, sizeof out);
	buf[WG_BLAKE2S_HASH_LEN] = 0x3;
	wg_hmac_blake2s(out, t0, sizeof t0, buf, sizeof buf);
	memcpy(t3, out, sizeof out);
out:
	sodium_memzero(t0, sizeof t0);
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(out, sizeof out);
}
