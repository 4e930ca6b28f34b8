/* Token buckets for handshake initiations under load (see ratelimit.h).
 *
 * Tokens are kept in nanoseconds of credit: a packet costs PACKET_COST (one
 * second / WG_RATELIMIT_PPS), credit accrues one-for-one with elapsed time,
 * and the bucket holds at most WG_RATELIMIT_BURST packets' worth.
 *
 * Entries live in a chained hash table keyed by SipHash (crypto_shorthash)
 * with a random per-table key, so a remote sender cannot aim its sources at
 * one chain. They are also on a list ordered by last use (oldest first):
 * entries idle for more than IDLE_TIMEOUT are freed from its head on each
 * call, and when the table is full the oldest entry is recycled. An idle
 * entry's bucket would have refilled completely, so forgetting it changes no
 * verdict. Each entry is freed at most once per insertion: O(1) amortized.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "util/list.h"
#include "wg/ratelimit.h"

enum {
	V6_PREFIX_BYTES = 8,		/* IPv6 sources are grouped per /64 */
	V4_ADDR_BYTES = 4,
	KEY_BYTES = 1 + V6_PREFIX_BYTES, /* family tag, then address bytes */
	FAMILY_V4 = 4,
	FAMILY_V6 = 6,
};

_Static_assert((WG_RATELIMIT_TABLE & (WG_RATELIMIT_TABLE - 1)) == 0,
	       "bucket count must be a power of two");

#define PACKET_COST (SEC(1) / WG_RATELIMIT_PPS)
#define BUCKET_MAX (PACKET_COST * WG_RATELIMIT_BURST)
#define IDLE_TIMEOUT SEC(1)

struct rl_entry {
	struct rl_entry *next;		/* hash chain */
	struct rl_entry **pprev;	/* the pointer that points at us */
	struct list lru;		/* on wg_ratelimit.lru, oldest first */
	uint8_t key[KEY_BYTES];
	mtime_ns last;			/* last packet seen (monotonic) */
	mtime_ns tokens;		/* credit in ns, at most BUCKET_MAX */
};

struct wg_ratelimit {
	struct rl_entry *chain[WG_RATELIMIT_TABLE];
	struct list lru;
	size_t count;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

/* Reduce the source to its bucket key; false for a non-IP source. */
static bool source_key(uint8_t key[KEY_BYTES], const union endpoint *src)
{
	memset(key, 0, KEY_BYTES);
	switch (src->sa.sa_family) {
	case AF_INET:
		key[0] = FAMILY_V4;
		memcpy(key + 1, &src->sin.sin_addr, V4_ADDR_BYTES);
		return true;
	case AF_INET6:
		key[0] = FAMILY_V6;
		memcpy(key + 1, &src->sin6.sin6_addr, V6_PREFIX_BYTES);
		return true;
	default:
		return false;
	}
}

static struct rl_entry **chain_of(struct wg_ratelimit *rl, const uint8_t key[KEY_BYTES])
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, key, KEY_BYTES, rl->hash_key);
	return &rl->chain[le64dec(h) & (WG_RATELIMIT_TABLE - 1)];
}

static void chain_insert(struct rl_entry **head, struct rl_entry *e)
{
	e->next = *head;
	if (e->next != NULL)
		e->next->pprev = &e->next;
	e->pprev = head;
	*head = e;
}

static void chain_remove(struct rl_entry *e)
{
	*e->pprev = e->next;
	if (e->next != NULL)
		e->next->pprev = e->pprev;
}

static struct rl_entry *oldest(struct wg_ratelimit *rl)
{
	return container_of(rl->lru.next, struct rl_entry, lru);
}

/* Frees entries idle for more than IDLE_TIMEOUT; they sit at the head. */
static void reclaim_idle(struct wg_ratelimit *rl, mtime_ns now)
{
	struct rl_entry *e;

	while (!list_empty(&rl->lru)) {
		e = oldest(rl);
		if (now <= e->last || now - e->last <= IDLE_TIMEOUT)
			break;
		chain_remove(e);
		list_remove(&e->lru);
		free(e);
		rl->count--;
	}
}

struct wg_ratelimit *wg_ratelimit_new(void)
{
	struct wg_ratelimit *rl = calloc(1, sizeof *rl);

	if (rl == NULL)
		return NULL;
	list_init(&rl->lru);
	crypto_shorthash_keygen(rl->hash_key);
	return rl;
}

void wg_ratelimit_free(struct wg_ratelimit *rl)
{
	struct list *pos, *tmp;

	if (rl == NULL)
		return;
	list_for_each_safe(pos, tmp, &rl->lru)
		free(container_of(pos, struct rl_entry, lru));
	sodium_memzero(rl->hash_key, sizeof rl->hash_key);
	free(rl);
}

size_t wg_ratelimit_count(const struct wg_ratelimit *rl)
{
	return rl->count;
}

bool wg_ratelimit_allow(struct wg_ratelimit *rl, const union endpoint *src, mtime_ns now)
{
	uint8_t key[KEY_BYTES];
	struct rl_entry **head, *e;

	if (!source_key(key, src))
		return false;
	reclaim_idle(rl, now);

	head = chain_of(rl, key);
	for (e = *head; e != NULL; e = e->next) {
		if (memcmp(e->key, key, KEY_BYTES) != 0)
			continue;
		if (now > e->last) {
			e->tokens += now - e->last;
			if (e->tokens > BUCKET_MAX)
				e->tokens = BUCKET_MAX;
			e->last = now;
		}
		list_remove(&e->lru);
		list_insert_tail(&rl->lru, &e->lru);
		if (e->tokens < PACKET_COST)
			return false;
		e->tokens -= PACKET_COST;
		return true;
	}

	if (rl->count >= WG_RATELIMIT_TABLE) {
		/* Full: recycle the least recently used entry. */
		e = oldest(rl);
		chain_remove(e);
		list_remove(&e->lru);
	} else {
		if ((e = malloc(sizeof *e)) == NULL)
			return false;	/* under memory pressure, shed load */
		rl->count++;
	}
	memcpy(e->key, key, KEY_BYTES);
	e->last = now;
	e->tokens = BUCKET_MAX - PACKET_COST;
	chain_insert(head, e);
	list_insert_tail(&rl->lru, &e->lru);
	return true;
}
