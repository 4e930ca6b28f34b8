/* Ed25519 signing with a memo, for fuzzers only (with verify_memo.c).
 *
 * Linked with -Wl,--wrap=crypto_sign_detached. fuzz_records signs for every
 * input: a certificate for the payload's node id (most inputs share one) and
 * one or two endpoint bodies, which the records under test then verify.
 * Ed25519 signatures are deterministic, so a signature is remembered under
 * the BLAKE2b-256 of (secret key, message) in a fixed direct-mapped table and
 * handed out again, the same bytes libsodium would make. Every signature
 * made or handed out is also given to the verify memo: it verifies under the
 * public half of its secret key (libsodium's secret key holds it in its last
 * 32 bytes), so the code under test still calls its verify path, and pays a
 * hash instead of a full check for what the harness signed. Signatures the
 * harness did not make (every fuzzed one) are still checked for real.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "verify_memo.h"

int __real_crypto_sign_detached(unsigned char *sig, unsigned long long *siglen_p,
    const unsigned char *m, unsigned long long mlen, const unsigned char *sk);
int __wrap_crypto_sign_detached(unsigned char *sig, unsigned long long *siglen_p,
    const unsigned char *m, unsigned long long mlen, const unsigned char *sk);

enum { SMEMO_N = 1024, SMEMO_KEY_LEN = 32 };

static struct {
	uint8_t used;
	uint8_t key[SMEMO_KEY_LEN];
	uint8_t sig[crypto_sign_BYTES];
} smemo[SMEMO_N];

int __wrap_crypto_sign_detached(unsigned char *sig, unsigned long long *siglen_p,
    const unsigned char *m, unsigned long long mlen, const unsigned char *sk)
{
	crypto_generichash_state st;
	const unsigned char *pk = sk + crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES;
	uint8_t key[SMEMO_KEY_LEN];
	size_t i;
	int r;

	crypto_generichash_init(&st, NULL, 0, sizeof key);
	crypto_generichash_update(&st, sk, crypto_sign_SECRETKEYBYTES);
	crypto_generichash_update(&st, m, mlen);
	crypto_generichash_final(&st, key, sizeof key);
	i = ((size_t)key[0] << 8 | key[1]) % SMEMO_N;
	if (smemo[i].used && memcmp(smemo[i].key, key, sizeof key) == 0) {
		memcpy(sig, smemo[i].sig, crypto_sign_BYTES);
		if (siglen_p != NULL)
			*siglen_p = crypto_sign_BYTES;
		verify_memo_add(sig, m, mlen, pk);
		return 0;
	}
	r = __real_crypto_sign_detached(sig, siglen_p, m, mlen, sk);
	if (r == 0) {
		smemo[i].used = 1;
		memcpy(smemo[i].key, key, sizeof key);
		memcpy(smemo[i].sig, sig, crypto_sign_BYTES);
		verify_memo_add(sig, m, mlen, pk);
	}
	return r;
}
