/* Peer lifecycle and configuration (the wg_peer_* part of wg.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "wg/device.h"
#include "wg/peer.h"

/* Slots of a staged ring when first allocated (struct wg_peer). */
#define STAGED_MIN 4
_Static_assert(MAX_STAGED_PACKETS <= UINT16_MAX, "staged counts are 16-bit");

const char *wg_peer_fpr(const struct wg_peer *peer, char buf[9])
{
	hex_encode(buf, peer->public_key, 4);
	return buf;
}

int wg_peer_add(struct wg_device *dev, const uint8_t pubkey[WG_KEY_LEN], mtime_ns now,
		struct wg_peer **out)
{
	struct wg_peer *peer;
	char fpr[9];

	if (out)
		*out = NULL;
	if (dev->have_key && sodium_memcmp(pubkey, dev->static_public, WG_KEY_LEN) == 0)
		return MESHD_E_INVAL;
	peer = wg_peer_lookup(dev, pubkey);
	if (peer) {
		if (out)
			*out = peer;
		return MESHD_E_EXIST;
	}
	peer = calloc(1, sizeof *peer);
	if (!peer)
		return MESHD_E_NOMEM;
	peer->dev = dev;
	peer->internal_id = ++dev->next_internal_id;
	memcpy(peer->public_key, pubkey, WG_KEY_LEN);
	memcpy(peer->hs.remote_static, pubkey, WG_KEY_LEN);
	peer->hs.state = WG_HS_ZEROED;
	wg_noise_precompute_ss(dev, peer);
	wg_cookie_maker_init(&peer->cookie, pubkey);
	wg_aip_owner_init(&peer->aip);
	peer->endpoint.sa.sa_family = AF_UNSPEC;
	wg_timers_init(&peer->timers, now);
	list_insert_tail(&dev->peers, &peer->link);
	wg_index_pubkey_add(&dev->index, &peer->pubkey_link, pubkey);
	log_debug("peer %llu (%s) created", (unsigned long long)peer->internal_id,
		  wg_peer_fpr(peer, fpr));
	if (out)
		*out = peer;
	return 0;
}

struct wg_peer *wg_peer_lookup(const struct wg_device *dev, const uint8_t pubkey[WG_KEY_LEN])
{
	return wg_index_pubkey_lookup(&dev->index, pubkey);
}

static void staged_free(struct wg_peer *peer)
{
	if (!peer->staged)
		return;
	for (size_t i = 0; i < peer->staged_cap; i++) {
		if (peer->staged[i].buf)
			sodium_memzero(peer->staged[i].buf, peer->staged[i].cap);
		free(peer->staged[i].buf);
	}
	free(peer->staged);
	peer->staged = NULL;
	peer->staged_head = peer->staged_count = peer->staged_cap = 0;
}

void wg_peer_remove(struct wg_device *dev, struct wg_peer *peer)
{
	char fpr[9];

	if (!peer)
		return;
	log_debug("peer %llu (%s) removed", (unsigned long long)peer->internal_id,
		  wg_peer_fpr(peer, fpr));
	wg_noise_keypairs_clear(dev, peer);
	wg_noise_handshake_clear(dev, peer);
	wg_allowedips_remove_by_owner(&dev->aip, &peer->aip);
	staged_free(peer);
	wg_cookie_maker_clear(&peer->cookie);
	wg_timers_stop(&peer->timers);
	list_remove(&peer->link);
	wg_index_pubkey_remove(&peer->pubkey_link);
	sodium_memzero(peer, sizeof *peer);
	free(peer);
}

void wg_peer_remove_all(struct wg_device *dev)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, &dev->peers)
		wg_peer_remove(dev, container_of(pos, struct wg_peer, link));
}

struct wg_peer *wg_peer_next(const struct wg_device *dev, const struct wg_peer *prev)
{
	const struct list *n = prev ? prev->link.next : dev->peers.next;

	if (n == &dev->peers)
		return NULL;
	return container_of((struct list *)n, struct wg_peer, link);
}

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t psk[WG_KEY_LEN])
{
	if (psk)
		memcpy(peer->hs.psk, psk, WG_KEY_LEN);
	else
		sodium_memzero(peer->hs.psk, WG_KEY_LEN);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const union endpoint *ep)
{
	if (ep && endpoint_is_set(ep))
		peer->endpoint = *ep;
	else {
		memset(&peer->endpoint, 0, sizeof peer->endpoint);
		peer->endpoint.sa.sa_family = AF_UNSPEC;
	}
}

void wg_peer_set_keepalive(struct wg_device *dev, struct wg_peer *peer, uint16_t interval_s,
			   mtime_ns now)
{
	bool turned_on = peer->keepalive_interval == 0 && interval_s != 0;

	peer->keepalive_interval = interval_s;
	wg_timers_persistent_keepalive_changed(peer, now);
	if (turned_on && endpoint_is_set(&peer->endpoint))
		wg_send_keepalive(dev, peer, now);
}

int wg_peer_allowedip_add(struct wg_device *dev, struct wg_peer *peer, int family,
			  const void *addr, uint8_t cidr)
{
	return wg_allowedips_insert(&dev->aip, family, addr, cidr, &peer->aip);
}

int wg_peer_allowedip_remove(struct wg_device *dev, struct wg_peer *peer, int family,
			     const void *addr, uint8_t cidr)
{
	return wg_allowedips_remove(&dev->aip, family, addr, cidr, &peer->aip);
}

void wg_peer_allowedips_clear(struct wg_device *dev, struct wg_peer *peer)
{
	wg_allowedips_remove_by_owner(&dev->aip, &peer->aip);
}

void wg_peer_allowedips_foreach(const struct wg_device *dev, const struct wg_peer *peer,
				wg_allowedip_fn *fn, void *arg)
{
	(void)dev;
	wg_allowedips_foreach(&peer->aip, fn, arg);
}

void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->public_key, peer->public_key, WG_KEY_LEN);
	memcpy(out->preshared_key, peer->hs.psk, WG_KEY_LEN);
	out->endpoint = peer->endpoint;
	out->last_handshake = peer->last_handshake;
	out->rx_bytes = peer->rx_bytes;
	out->tx_bytes = peer->tx_bytes;
	out->keepalive_interval = peer->keepalive_interval;
}

mtime_ns wg_peer_last_data(const struct wg_peer *peer)
{
	return peer->last_data;
}

void wg_peer_set_user(struct wg_peer *peer, void *user)
{
	peer->user = user;
}

void *wg_peer_get_user(const struct wg_peer *peer)
{
	return peer->user;
}

/* Room a staged buffer needs for len bytes of packet, encrypted in place. */
static size_t staged_room(size_t len)
{
	return WG_HEADROOM + len + WG_TAILROOM;
}

/* Doubles the ring (STAGED_MIN slots at first, MAX_STAGED_PACKETS at
 * most), its slots laid out again from the head. */
static int staged_grow(struct wg_peer *peer)
{
	uint16_t cap = peer->staged_cap ? 2 * peer->staged_cap : STAGED_MIN;
	struct wg_staged *v;

	if (cap > MAX_STAGED_PACKETS)
		cap = MAX_STAGED_PACKETS;
	v = calloc(cap, sizeof *v);
	if (!v)
		return MESHD_E_NOMEM;
	for (unsigned i = 0; i < peer->staged_cap; i++)
		v[i] = peer->staged[(peer->staged_head + i) % peer->staged_cap];
	free(peer->staged);
	peer->staged = v;
	peer->staged_head = 0;
	peer->staged_cap = cap;
	return 0;
}

int wg_peer_stage(struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
	struct wg_staged *s;
	unsigned slot;

	if (peer->staged_count == peer->staged_cap &&
	    peer->staged_cap < MAX_STAGED_PACKETS &&
	    staged_grow(peer) != 0)
		return MESHD_E_NOMEM;
	if (peer->staged_count == MAX_STAGED_PACKETS) {
		/* Full: the oldest goes, as in the kernel. */
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
	}
	slot = (peer->staged_head + peer->staged_count) % peer->staged_cap;
	s = &peer->staged[slot];
	if (s->cap < staged_room(len)) {
		/* Sized to the packet (a keepalive needs only the head and tail
		 * room); grows only for a packet bigger than this slot held. */
		size_t cap = staged_room(len);
		uint8_t *b = malloc(cap);

		if (!b)
			return MESHD_E_NOMEM;
		if (s->buf)
			sodium_memzero(s->buf, s->cap);
		free(s->buf);
		s->buf = b;
		s->cap = cap;
	}
	if (len)
		memcpy(s->buf + WG_HEADROOM, pkt, len);
	s->len = len;
	peer->staged_count++;
	return 0;
}

void wg_peer_purge_staged(struct wg_peer *peer)
{
	staged_free(peer);
}
