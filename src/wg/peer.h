/* struct wg_peer: one remote static key and everything we keep about it.
 * Created by wg_peer_add(), destroyed (secrets zeroed) by wg_peer_remove(). */
#ifndef MESHD_WG_PEER_H
#define MESHD_WG_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/list.h"
#include "util/time.h"
#include "wg/allowedips.h"
#include "wg/cookie.h"
#include "wg/noise.h"
#include "wg/timers.h"
#include "wg/wg.h"

/* One packet held while a handshake runs. The buffer keeps WG_HEADROOM in
 * front and WG_TAILROOM behind so it can be encrypted in place later. */
struct wg_staged {
	uint8_t *buf;
	size_t cap;			/* bytes allocated */
	size_t len;			/* IP packet length (0 = keepalive) */
};

struct wg_peer {
	struct wg_device *dev;
	struct list link;		/* device's peer list, insertion order */
	struct list pubkey_link;	/* device's public-key table */
	uint64_t internal_id;		/* for logs */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];

	struct wg_handshake hs;
	struct wg_cookie_maker cookie;
	/* Keypair memory (about 1.1 KB each, mostly the replay window):
	 * allocated by the first handshakes, freed when the keys are zeroed
	 * (no session for REJECT_AFTER_TIME * 3), so an idle peer holds none. */
	struct wg_keypair *slots[3];
	struct wg_keypair *next, *current, *previous;

	struct wg_aip_owner aip;
	union endpoint endpoint;	/* AF_UNSPEC when unknown */
	uint64_t rx_bytes, tx_bytes;
	struct walltime last_handshake;
	mtime_ns last_data;		/* wg_peer_last_data(); 0: never */
	mtime_ns initiated_now_at;	/* last wg_peer_initiate_now() initiation; 0: never */
	struct wg_timers timers;

	/* Staged packets (no session yet, or a keepalive): a ring of
	 * staged_cap slots (0 = not allocated), allocated on first use and
	 * doubled as it fills, up to MAX_STAGED_PACKETS, with a buffer the
	 * size of its packet per slot used; all freed again once the ring is
	 * empty. A peer with a session sends without staging, so a peer holds
	 * this memory only while it waits for a handshake. (Kept, a ring whose
	 * head turns with every keepalive ended up holding all 128 buffers,
	 * 260 KB a peer; a full-size ring and a 2 KB buffer for every staged
	 * keepalive left the heap fragmented.) */
	struct wg_staged *staged;
	uint16_t staged_head, staged_count, staged_cap;	/* <= MAX_STAGED_PACKETS */
	uint16_t keepalive_interval;	/* seconds; 0 = off */

	void *user;
};

/* Stage a packet (len bytes of IP packet, or 0 for a keepalive); when full
 * the oldest is dropped. Returns 0 or MESHD_E_NOMEM. */
int wg_peer_stage(struct wg_peer *peer, const uint8_t *pkt, size_t len);
/* Drops the staged packets and frees the ring. */
void wg_peer_purge_staged(struct wg_peer *peer);

/* Short fingerprint of the public key for logs ("peer 1 (abcd1234)"). */
const char *wg_peer_fpr(const struct wg_peer *peer, char buf[9]);

#endif
