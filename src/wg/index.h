/* Two lookup tables of a device:
 *  - receiver indices: random 32-bit ids we hand out as "sender index" in our
 *    handshake messages; the peer echoes them as "receiver index". Each id
 *    names a handshake in progress or an established keypair. A new id is
 *    drawn at random until it is unused (collision retry).
 *  - public keys: static public key -> peer, through a keyed SipHash so that
 *    chains stay short whatever keys are configured.
 * Both use intrusive entries: no allocation after wg_index_init(). */
#ifndef MESHD_WG_INDEX_H
#define MESHD_WG_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "util/list.h"

struct wg_peer;

enum wg_index_kind {
	WG_INDEX_NONE = 0,
	WG_INDEX_HANDSHAKE,
	WG_INDEX_KEYPAIR,
};

struct wg_index_entry {
	struct list link;		/* in a bucket when kind != WG_INDEX_NONE */
	uint32_t id;			/* host order; sent little-endian */
	enum wg_index_kind kind;
	struct wg_peer *peer;
};

enum {
	WG_INDEX_BUCKETS = 1 << 13,
	WG_PUBKEY_BUCKETS = 1 << 11,
};

struct wg_index {
	struct list buckets[WG_INDEX_BUCKETS];
	struct list pubkeys[WG_PUBKEY_BUCKETS];
	uint8_t hash_key[16];		/* SipHash key for the public-key table */
};

void wg_index_init(struct wg_index *ix);

/* Gives e a fresh random id and inserts it (removing it first if listed). */
void wg_index_insert_new(struct wg_index *ix, struct wg_index_entry *e,
			 enum wg_index_kind kind, struct wg_peer *peer);
/* Puts `to` in place of `from`, keeping from's id; `from` ends up unlisted. */
void wg_index_replace(struct wg_index *ix, struct wg_index_entry *from,
		      struct wg_index_entry *to, enum wg_index_kind kind);
/* Unlists e (no-op if not listed). */
void wg_index_remove(struct wg_index *ix, struct wg_index_entry *e);
/* The entry with that id, or NULL. */
struct wg_index_entry *wg_index_lookup(const struct wg_index *ix, uint32_t id);

/* Public keys: link is the peer's pubkey_link. */
void wg_index_pubkey_add(struct wg_index *ix, struct list *link, const uint8_t key[32]);
void wg_index_pubkey_remove(struct list *link);
struct wg_peer *wg_index_pubkey_lookup(const struct wg_index *ix, const uint8_t key[32]);

#endif
