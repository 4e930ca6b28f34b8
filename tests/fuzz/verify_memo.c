/* Ed25519 verification with a memo of valid signatures, for fuzzers only.
 *
 * Linked with -Wl,--wrap=crypto_sign_verify_detached. A harness that builds
 * its engines from the same signed records on every input spent nearly all
 * its time re-verifying them (fuzz_gossip: 16 checks per input, ~800
 * inputs/s; it now starts from copies of sets built once, but its engines
 * still send each other those records on every input). A valid answer is a pure function of (signature, public key,
 * message), so it is remembered under the BLAKE2b-256 of all three in a
 * fixed direct-mapped table; anything not remembered valid (every fuzzed
 * signature) is checked for real, so the code under test sees exactly what
 * libsodium says and memory stays bounded.
 *
 * sign_memo.c (fuzz_records) also adds every signature libsodium makes for
 * the harness: an Ed25519 signature made with a secret key verifies under
 * that key's public half, so the records the harness signs for an input are
 * not checked again at full cost by the code under test.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "verify_memo.h"

int __real_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk);
int __wrap_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk);

enum { MEMO_N = 1024, MEMO_KEY_LEN = 32 };

static struct {
	uint8_t used;
	uint8_t key[MEMO_KEY_LEN];
} memo[MEMO_N];

/* The memo slot of (sig, pk, m), and its key. */
static size_t memo_key(const unsigned char *sig, const unsigned char *m, unsigned long long mlen,
    const unsigned char *pk, uint8_t key[MEMO_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, MEMO_KEY_LEN);
	crypto_generichash_update(&st, sig, crypto_sign_BYTES);
	crypto_generichash_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
	crypto_generichash_update(&st, m, mlen);
	crypto_generichash_final(&st, key, MEMO_KEY_LEN);
	return ((size_t)key[0] << 8 | key[1]) % MEMO_N;
}

void verify_memo_add(const unsigned char *sig, const unsigned char *m, unsigned long long mlen,
    const unsigned char *pk)
{
	uint8_t key[MEMO_KEY_LEN];
	size_t i = memo_key(sig, m, mlen, pk, key);

	memo[i].used = 1;
	memcpy(memo[i].key, key, sizeof key);
}

int __wrap_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk)
{
	uint8_t key[MEMO_KEY_LEN];
	size_t i = memo_key(sig, m, mlen, pk, key);
	int r;

	if (memo[i].used && memcmp(memo[i].key, key, sizeof key) == 0)
		return 0;
	r = __real_crypto_sign_verify_detached(sig, m, mlen, pk);
	if (r == 0) {
		memo[i].used = 1;
		memcpy(memo[i].key, key, sizeof key);
	}
	return r;
}
