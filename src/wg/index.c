/* Receiver-index and public-key tables (see index.h). */
#include <sodium.h>

#include "wg/crypto.h"
#include "wg/index.h"
#include "wg/peer.h"

_Static_assert((WG_INDEX_BUCKETS & (WG_INDEX_BUCKETS - 1)) == 0, "power of two");
_Static_assert((WG_PUBKEY_BUCKETS & (WG_PUBKEY_BUCKETS - 1)) == 0, "power of two");
_Static_assert(sizeof(((struct wg_index *)0)->hash_key) == crypto_shorthash_KEYBYTES,
	       "siphash key");

void wg_index_init(struct wg_index *ix)
{
	for (size_t i = 0; i < WG_INDEX_BUCKETS; i++)
		list_init(&ix->buckets[i]);
	for (size_t i = 0; i < WG_PUBKEY_BUCKETS; i++)
		list_init(&ix->pubkeys[i]);
	randombytes_buf(ix->hash_key, sizeof ix->hash_key);
}

/* Ids are random, so their low bits spread them well enough. */
static struct list *bucket(const struct wg_index *ix, uint32_t id)
{
	return (struct list *)&ix->buckets[id & (WG_INDEX_BUCKETS - 1)];
}

struct wg_index_entry *wg_index_lookup(const struct wg_index *ix, uint32_t id)
{
	struct list *h = bucket(ix, id), *pos;

	for (pos = h->next; pos != h; pos = pos->next) {
		struct wg_index_entry *e = container_of(pos, struct wg_index_entry, link);

		if (e->id == id)
			return e;
	}
	return NULL;
}

void wg_index_remove(struct wg_index *ix, struct wg_index_entry *e)
{
	(void)ix;
	if (e->kind != WG_INDEX_NONE) {
		list_remove(&e->link);
		e->kind = WG_INDEX_NONE;
	}
}

void wg_index_insert_new(struct wg_index *ix, struct wg_index_entry *e,
			 enum wg_index_kind kind, struct wg_peer *peer)
{
	uint32_t id;

	wg_index_remove(ix, e);
	do
		id = wg_random_u32();
	while (wg_index_lookup(ix, id) != NULL);
	e->id = id;
	e->kind = kind;
	e->peer = peer;
	list_insert_tail(bucket(ix, id), &e->link);
}

void wg_index_replace(struct wg_index *ix, struct wg_index_entry *from,
		      struct wg_index_entry *to, enum wg_index_kind kind)
{
	wg_index_remove(ix, to);
	to->id = from->id;
	to->peer = from->peer;
	wg_index_remove(ix, from);
	to->kind = kind;
	list_insert_tail(bucket(ix, to->id), &to->link);
}

static struct list *pubkey_bucket(const struct wg_index *ix, const uint8_t key[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, key, 32, ix->hash_key);
	v = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	return (struct list *)&ix->pubkeys[v & (WG_PUBKEY_BUCKETS - 1)];
}

void wg_index_pubkey_add(struct wg_index *ix, struct list *link, const uint8_t key[32])
{
	list_insert_tail(pubkey_bucket(ix, key), link);
}

void wg_index_pubkey_remove(struct list *link)
{
	list_remove(link);
}

struct wg_peer *wg_index_pubkey_lookup(const struct wg_index *ix, const uint8_t key[32])
{
	struct list *h = pubkey_bucket(ix, key), *pos;

	for (pos = h->next; pos != h; pos = pos->next) {
		struct wg_peer *p = container_of(pos, struct wg_peer, pubkey_link);

		if (sodium_memcmp(p->public_key, key, 32) == 0)
			return p;
	}
	return NULL;
}
