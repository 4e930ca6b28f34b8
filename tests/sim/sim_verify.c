/* Signature verification with a memo, for the simulation only.
 *
 * Linked with -Wl,--wrap=crypto_sign_verify_detached, so every Ed25519
 * check the record set makes (mesh/records.c through mesh/identity.c) comes
 * here. In a simulation the same signed record is verified once per node that
 * receives it, so n nodes verify each of ~2n records: at 1,000 nodes that is
 * two million checks, and they were 90 % of the run time. A verification is
 * a pure function of (signature, message, public key), so the answer is
 * remembered with a copy of all three and the record set still sees exactly
 * what libsodium would say: a lookup compares the inputs byte for byte (a
 * keyed SipHash only picks the slot), and anything not seen before, a changed
 * byte included, is checked for real.
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

enum {
	MEMO_MIN = 1024,
	MEMO_IN_MAX = 4096,	/* longer inputs are checked, not remembered */
};

struct memo_slot {
	uint8_t *in;		/* sig | pk | m; NULL: empty slot */
	uint64_t h;
	uint32_t len;
	int8_t result;
};

static struct memo_slot *memo;
static size_t memo_cap, memo_n;
static uint64_t memo_hits, memo_misses;
static uint8_t memo_key[crypto_shorthash_KEYBYTES];

static size_t slot_of(const struct memo_slot *tab, size_t cap, uint64_t h, const uint8_t *in,
    size_t len)
{
	size_t i;

	for (i = (size_t)h & (cap - 1); tab[i].in != NULL &&
	    !(tab[i].h == h && tab[i].len == len && memcmp(tab[i].in, in, len) == 0);
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
	if (memo_cap == 0)
		crypto_shorthash_keygen(memo_key);	/* picks slots only: any key */
	for (size_t i = 0; i < memo_cap; i++)
		if (memo[i].in != NULL)
			tab[slot_of(tab, cap, memo[i].h, memo[i].in, memo[i].len)] = memo[i];
	free(memo);
	memo = tab;
	memo_cap = cap;
	return true;
}

int __wrap_crypto_sign_verify_detached(const unsigned char *sig, const unsigned char *m,
    unsigned long long mlen, const unsigned char *pk)
{
	uint8_t in[MEMO_IN_MAX], hb[crypto_shorthash_BYTES];
	size_t len = crypto_sign_BYTES + crypto_sign_PUBLICKEYBYTES + (size_t)mlen, i = 0;
	uint64_t h;
	int r;

	if (mlen > MEMO_IN_MAX - crypto_sign_BYTES - crypto_sign_PUBLICKEYBYTES) {
		memo_misses++;
		return __real_crypto_sign_verify_detached(sig, m, mlen, pk);
	}
	memcpy(in, sig, crypto_sign_BYTES);
	memcpy(in + crypto_sign_BYTES, pk, crypto_sign_PUBLICKEYBYTES);
	memcpy(in + crypto_sign_BYTES + crypto_sign_PUBLICKEYBYTES, m, (size_t)mlen);
	if (memo_cap == 0 && !memo_grow()) {
		memo_misses++;
		return __real_crypto_sign_verify_detached(sig, m, mlen, pk);
	}
	crypto_shorthash(hb, in, len, memo_key);
	memcpy(&h, hb, sizeof h);
	i = slot_of(memo, memo_cap, h, in, len);
	if (memo[i].in != NULL) {
		memo_hits++;
		return memo[i].result;
	}
	memo_misses++;
	r = __real_crypto_sign_verify_detached(sig, m, mlen, pk);
	if ((memo_n + 1) * 2 > memo_cap) {
		if (!memo_grow())
			return r;
		i = slot_of(memo, memo_cap, h, in, len);
	}
	if ((memo[i].in = malloc(len)) == NULL)
		return r;
	memcpy(memo[i].in, in, len);
	memo[i].h = h;
	memo[i].len = (uint32_t)len;
	memo[i].result = (int8_t)r;
	memo_n++;
	return r;
}

void sim_verify_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = memo_hits;
	*misses = memo_misses;
}
