/* struct wg_device: keys, peers, tables; timers dispatch (see wg.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "util/err.h"
#include "util/log.h"
#include "wg/crypto.h"
#include "wg/device.h"
#include "wg/noise.h"
#include "wg/peer.h"

struct wg_device *wg_device_new(const struct wg_host_ops *ops, void *ctx, int *err)
{
	struct wg_device *dev;

	if (sodium_init() < 0) {
		if (err)
			*err = MESHD_E_NOMEM;
		return NULL;
	}
	wg_noise_init();
	dev = calloc(1, sizeof *dev);
	if (!dev)
		goto nomem;
	dev->ratelimit = wg_ratelimit_new();
	if (!dev->ratelimit)
		goto nomem;
	dev->ops = *ops;
	dev->ctx = ctx;
	list_init(&dev->peers);
	wg_allowedips_init(&dev->aip);
	wg_cookie_checker_init(&dev->cookie);
	wg_index_init(&dev->index);
	dev->load_mode = WG_LOAD_AUTO;
	dev->last_under_load = MTIME_NEVER;
	if (err)
		*err = 0;
	return dev;
nomem:
	free(dev);
	if (err)
		*err = MESHD_E_NOMEM;
	return NULL;
}

void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	wg_peer_remove_all(dev);
	wg_allowedips_clear(&dev->aip);
	wg_cookie_checker_clear(&dev->cookie);
	wg_ratelimit_free(dev->ratelimit);
	sodium_memzero(dev, sizeof *dev);
	free(dev);
}

/* After our static key changed: redo the static-static DH and force every
 * peer through a new handshake (kernel semantics). */
static void rekey_all_peers(struct wg_device *dev)
{
	struct list *pos;

	for (pos = dev->peers.next; pos != &dev->peers; pos = pos->next) {
		struct wg_peer *peer = container_of(pos, struct wg_peer, link);

		wg_noise_precompute_ss(dev, peer);
		wg_noise_handshake_clear(dev, peer);
		wg_noise_expire_current_keypairs(peer);
		peer->timers.last_sent_handshake = MTIME_NEVER;
	}
}

int wg_device_set_private_key(struct wg_device *dev, const uint8_t key[WG_KEY_LEN], mtime_ns now)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_peer *same;
	int r = 0;

	(void)now;
	if (sodium_is_zero(key, WG_KEY_LEN)) {
		if (dev->have_key) {
			sodium_memzero(dev->static_private, sizeof dev->static_private);
			sodium_memzero(dev->static_public, sizeof dev->static_public);
			dev->have_key = false;
			wg_cookie_checker_set_key(&dev->cookie, NULL);
			rekey_all_peers(dev);
		}
		goto out;
	}
	memcpy(priv, key, WG_KEY_LEN);
	wg_crypto_clamp(priv);
	if (!wg_crypto_public(pub, priv)) {
		r = MESHD_E_INVAL;
		goto out;
	}
	if (dev->have_key && sodium_memcmp(priv, dev->static_private, WG_KEY_LEN) == 0)
		goto out;
	same = wg_peer_lookup(dev, pub);
	if (same)
		wg_peer_remove(dev, same);
	memcpy(dev->static_private, priv, WG_KEY_LEN);
	memcpy(dev->static_public, pub, WG_KEY_LEN);
	dev->have_key = true;
	wg_cookie_checker_set_key(&dev->cookie, pub);
	rekey_all_peers(dev);
out:
	sodium_memzero(priv, sizeof priv);
	return r;
}

bool wg_device_get_private_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN])
{
	if (!dev->have_key)
		return false;
	memcpy(out, dev->static_private, WG_KEY_LEN);
	return true;
}

bool wg_device_get_public_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN])
{
	if (!dev->have_key)
		return false;
	memcpy(out, dev->static_public, WG_KEY_LEN);
	return true;
}

void wg_device_set_load_mode(struct wg_device *dev, enum wg_load_mode mode)
{
	dev->load_mode = mode;
}

void wg_device_set_quiet_port(struct wg_device *dev, uint16_t port)
{
	dev->quiet_port = port;
}

bool wg_packet_is_quiet(const struct wg_device *dev, const uint8_t *pkt, size_t len)
{
	size_t l4;
	uint16_t sport, dport;

	if (dev->quiet_port == 0 || len < 1)
		return false;
	switch (pkt[0] >> 4) {
	case 4:
		if (len < 20 || pkt[9] != 17)
			return false;
		l4 = (size_t)(pkt[0] & 0x0f) * 4;
		break;
	case 6:
		/* no extension headers: gossip never carries any */
		if (len < 40 || pkt[6] != 17)
			return false;
		l4 = 40;
		break;
	default:
		return false;
	}
	if (l4 < 20 || len < l4 + 4)
		return false;
	sport = (uint16_t)(pkt[l4] << 8 | pkt[l4 + 1]);
	dport = (uint16_t)(pkt[l4 + 2] << 8 | pkt[l4 + 3]);
	return sport == dev->quiet_port || dport == dev->quiet_port;
}

bool wg_ip_hdr_parse(const uint8_t *pkt, size_t len, struct wg_ip_hdr *h)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		h->family = AF_INET;
		h->src = pkt + 12;
		h->dst = pkt + 16;
		h->len = be16dec(pkt + 2);
		return true;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		h->family = AF_INET6;
		h->src = pkt + 8;
		h->dst = pkt + 24;
		h->len = 40 + (size_t)be16dec(pkt + 4);
		return true;
	}
	return false;
}

void wg_device_set_mtu(struct wg_device *dev, unsigned mtu)
{
	dev->mtu = mtu;
}

/* Scans every peer: O(peers). A heap keyed by deadline can replace this
 * when peer counts make it matter. */
mtime_ns wg_next_expiry(const struct wg_device *dev)
{
	mtime_ns m = MTIME_NEVER;
	const struct list *pos;

	for (pos = dev->peers.next; pos != &dev->peers; pos = pos->next) {
		const struct wg_peer *peer = container_of((struct list *)pos, struct wg_peer, link);
		mtime_ns t = wg_timers_next(&peer->timers);

		if (t < m)
			m = t;
	}
	return m;
}

void wg_handle_expiry(struct wg_device *dev, mtime_ns now)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, &dev->peers) {
		struct wg_peer *peer = container_of(pos, struct wg_peer, link);

		if (wg_timers_next(&peer->timers) <= now)
			wg_timers_run_expired(dev, peer, now);
	}
}
