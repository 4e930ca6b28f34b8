/* Signature verification with a memo, for the simulation only.
 *
 * Linked with -Wl,--wrap=crypto_sign_verify_detached, so every Ed25519
 * check the record set makes (mesh/records.c through mesh/identity.c) comes
 * here. In a simulation the same signed record is verified once per node that
 * receives it, so n nodes verify each of ~2n records: at 1,000 nodes that is
 * two million checks, and they were 90 % of the run time. A verification is
 * a pure function of (signature, message, public key), so the answer is
 * remembered under the BLAKE2b-256 of all three and the record set still
 * sees exactly what libsodium would say: a changed byte is a new key and is
 * checked for real.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim.h"

int __real_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk);
int __wrap_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk);

enum { MEMO_KEY_LEN = 32, MEMO_MIN = 1024 };

struct memo_slot {
	uint8_t key[MEMO_KEY_LEN];
	uint8_t used;
	int8_t result;
};

static struct memo_slot *memo;
static size_t memo_cap, memo_n;
static uint64_t memo_hits, memo_misses;

static size_t slot_of(const struct memo_slot *tab, size_t cap, const uint8_t *key)
{
	uint64_t h;
	size_t i;

	memcpy(&h, key, sizeof h);	/* the key is a hash already */
	for (i = (size_t)h & (cap - 1); tab[i].used && memcmp(tab[i].key, key, MEMO_KEY_LEN) != 0;
	    i = (i + 1) & (cap - 1))
		;
	return i;
}

/* False when out of memory: then the caller just does not remember. */
static bool memo_grow(void)
{
	size_t cap = memo_cap ? 2 * memo_cap : MEMO_MIN;
	struct memo_slot *tab = calloc(cap, sizeof *tab);

	if (tab == NULL)
		return false;
	for (size_t i = 0; i < memo_cap; i++)
		if (memo[i].used)
			tab[slot_of(tab, cap, memo[i].key)] = memo[i];
	free(memo);
	memo = tab;
	memo_cap = cap;
	return true;
}

int __wrap_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk)
{
	crypto_generichash_state st;
	uint8_t key[MEMO_KEY_LEN];
	size_t i;
	int r;

	crypto_generichash_init(&st, NULL, 0, sizeof key);
	crypto_generichash_update(&st, sig, crypto_sign_BYTES);
	crypto_generichash_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
	crypto_generichash_update(&st, m, mlen);
	crypto_generichash_final(&st, key, sizeof key);
	if (memo_cap != 0) {
		i = slot_of(memo, memo_cap, key);
		if (memo[i].used) {
			memo_hits++;
			return memo[i].result;
		}
	}
	memo_misses++;
	r = __real_crypto_sign_verify_detached(sig, m, mlen, pk);
	if ((memo_n + 1) * 2 > memo_cap && !memo_grow())
		return r;
	i = slot_of(memo, memo_cap, key);
	memcpy(memo[i].key, key, sizeof key);
	memo[i].used = 1;
	memo[i].result = (int8_t)r;
	memo_n++;
	return r;
}

void sim_verify_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = memo_hits;
	*misses = memo_misses;
}
