/* Per-peer timers (see timers.h for the list and their purpose). */
#include "util/log.h"
#include "wg/crypto.h"
#include "wg/device.h"
#include "wg/messages.h"
#include "wg/peer.h"
#include "wg/timers.h"

static mtime_ns jitter(void)
{
	return MSEC(wg_random_below(REKEY_TIMEOUT_JITTER_MAX_MS));
}

void wg_timers_init(struct wg_timers *t, mtime_ns now)
{
	(void)now;
	wg_timers_stop(t);
	t->handshake_attempts = 0;
	t->need_another_keepalive = false;
	t->sent_lastminute_handshake = false;
	t->last_sent_handshake = MTIME_NEVER;
}

void wg_timers_stop(struct wg_timers *t)
{
	for (int i = 0; i < WG_TIMER_COUNT; i++)
		t->deadline[i] = MTIME_NEVER;
}

mtime_ns wg_timers_next(const struct wg_timers *t)
{
	mtime_ns m = MTIME_NEVER;

	for (int i = 0; i < WG_TIMER_COUNT; i++)
		if (t->deadline[i] < m)
			m = t->deadline[i];
	return m;
}

static bool pending(const struct wg_peer *peer, enum wg_timer_id id)
{
	return peer->timers.deadline[id] != MTIME_NEVER;
}

static void arm(struct wg_peer *peer, enum wg_timer_id id, mtime_ns when)
{
	peer->timers.deadline[id] = when;
}

static void disarm(struct wg_peer *peer, enum wg_timer_id id)
{
	peer->timers.deadline[id] = MTIME_NEVER;
}

void wg_timers_data_sent(struct wg_peer *peer, mtime_ns now)
{
	if (!pending(peer, WG_TIMER_NEW_HANDSHAKE))
		arm(peer, WG_TIMER_NEW_HANDSHAKE,
		    now + SEC(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + jitter());
}

void wg_timers_data_received(struct wg_peer *peer, mtime_ns now)
{
	if (!pending(peer, WG_TIMER_SEND_KEEPALIVE))
		arm(peer, WG_TIMER_SEND_KEEPALIVE, now + SEC(KEEPALIVE_TIMEOUT));
	else
		peer->timers.need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
	disarm(peer, WG_TIMER_SEND_KEEPALIVE);
}

void wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
	disarm(peer, WG_TIMER_NEW_HANDSHAKE);
}

void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, mtime_ns now)
{
	if (peer->keepalive_interval)
		arm(peer, WG_TIMER_PERSISTENT_KEEPALIVE, now + SEC(peer->keepalive_interval));
}

void wg_timers_handshake_initiated(struct wg_peer *peer, mtime_ns now)
{
	arm(peer, WG_TIMER_RETRANSMIT_HANDSHAKE, now + SEC(REKEY_TIMEOUT) + jitter());
}

void wg_timers_handshake_complete(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	(void)now;
	disarm(peer, WG_TIMER_RETRANSMIT_HANDSHAKE);
	peer->timers.handshake_attempts = 0;
	peer->timers.sent_lastminute_handshake = false;
	dev->ops.walltime(dev->ctx, &peer->last_handshake);
}

void wg_timers_session_derived(struct wg_peer *peer, mtime_ns now)
{
	arm(peer, WG_TIMER_ZERO_KEY_MATERIAL, now + SEC(REJECT_AFTER_TIME * 3));
}

void wg_timers_persistent_keepalive_changed(struct wg_peer *peer, mtime_ns now)
{
	(void)now;
	/* Turning it on arms nothing by itself (the keepalive sent at once,
	 * or the next authenticated packet, does), as in the kernel. */
	if (!peer->keepalive_interval)
		disarm(peer, WG_TIMER_PERSISTENT_KEEPALIVE);
}

static void expired_retransmit_handshake(struct wg_device *dev, struct wg_peer *peer,
					 mtime_ns now)
{
	if (peer->timers.handshake_attempts > MAX_TIMER_HANDSHAKES) {
		log_debug("peer %llu: handshake did not complete after %u attempts, giving up",
			  (unsigned long long)peer->internal_id, MAX_TIMER_HANDSHAKES + 2);
		disarm(peer, WG_TIMER_SEND_KEEPALIVE);
		wg_peer_purge_staged(peer);
		/* Keys may still linger from an older session: wipe them
		 * eventually even though no new session was derived. */
		if (!pending(peer, WG_TIMER_ZERO_KEY_MATERIAL))
			arm(peer, WG_TIMER_ZERO_KEY_MATERIAL, now + SEC(REJECT_AFTER_TIME * 3));
	} else {
		peer->timers.handshake_attempts++;
		log_debug("peer %llu: handshake retry %u", (unsigned long long)peer->internal_id,
			  peer->timers.handshake_attempts);
		wg_send_handshake_initiation(dev, peer, true, now);
	}
}

static void expired_send_keepalive(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	wg_send_keepalive(dev, peer, now);
	if (peer->timers.need_another_keepalive) {
		peer->timers.need_another_keepalive = false;
		arm(peer, WG_TIMER_SEND_KEEPALIVE, now + SEC(KEEPALIVE_TIMEOUT));
	}
}

static void expired_new_handshake(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	log_debug("peer %llu: sent data, nothing received for %d s: new handshake",
		  (unsigned long long)peer->internal_id, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
	wg_send_handshake_initiation(dev, peer, false, now);
}

static void expired_zero_key_material(struct wg_device *dev, struct wg_peer *peer,
				      mtime_ns now)
{
	(void)now;
	log_debug("peer %llu: no session for %d s: zeroing keys",
		  (unsigned long long)peer->internal_id, REJECT_AFTER_TIME * 3);
	wg_noise_keypairs_clear(dev, peer);
	wg_noise_handshake_clear(dev, peer);
}

static void expired_persistent_keepalive(struct wg_device *dev, struct wg_peer *peer,
					 mtime_ns now)
{
	if (peer->keepalive_interval)
		wg_send_keepalive(dev, peer, now);
}

void wg_timers_run_expired(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	static void (*const handlers[WG_TIMER_COUNT])(struct wg_device *, struct wg_peer *,
						      mtime_ns) = {
		[WG_TIMER_RETRANSMIT_HANDSHAKE] = expired_retransmit_handshake,
		[WG_TIMER_SEND_KEEPALIVE] = expired_send_keepalive,
		[WG_TIMER_NEW_HANDSHAKE] = expired_new_handshake,
		[WG_TIMER_ZERO_KEY_MATERIAL] = expired_zero_key_material,
		[WG_TIMER_PERSISTENT_KEEPALIVE] = expired_persistent_keepalive,
	};

	for (int i = 0; i < WG_TIMER_COUNT; i++) {
		if (peer->timers.deadline[i] > now)
			continue;
		peer->timers.deadline[i] = MTIME_NEVER;
		handlers[i](dev, peer, now);
	}
}
