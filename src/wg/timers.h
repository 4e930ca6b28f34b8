/* Per-peer timers (whitepaper §6, with the Linux kernel's exact semantics).
 *
 *   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation was sent
 *                         with no response; retry, or after MAX_TIMER_HANDSHAKES
 *                         retries give up and drop the staged packets.
 *   send_keepalive        KEEPALIVE_TIMEOUT after data was received with
 *                         nothing sent back: send a keepalive.
 *   new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data
 *                         was sent with nothing received: new handshake.
 *   zero_key_material     REJECT_AFTER_TIME * 3 after the last session was
 *                         derived: wipe all keys and the handshake.
 *   persistent_keepalive  every interval after any authenticated packet.
 *
 * Deadlines are monotonic; MTIME_NEVER means "not armed". Events come in
 * through the wg_timers_<event>() hooks; expired timers run from
 * wg_timers_run_expired(), called by wg_handle_expiry().
 */
#ifndef MESHD_WG_TIMERS_H
#define MESHD_WG_TIMERS_H

#include <stdbool.h>

#include "util/time.h"

struct wg_device;
struct wg_peer;

/* True when `span` has passed since `birth` (MTIME_NEVER: long ago). */
static inline bool wg_birthdate_has_expired(mtime_ns birth, mtime_ns span, mtime_ns now)
{
	return birth == MTIME_NEVER || birth + span <= now;
}

enum wg_timer_id {
	WG_TIMER_RETRANSMIT_HANDSHAKE = 0,
	WG_TIMER_SEND_KEEPALIVE,
	WG_TIMER_NEW_HANDSHAKE,
	WG_TIMER_ZERO_KEY_MATERIAL,
	WG_TIMER_PERSISTENT_KEEPALIVE,
	WG_TIMER_COUNT,
};

struct wg_timers {
	mtime_ns deadline[WG_TIMER_COUNT];
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	mtime_ns last_sent_handshake;	/* monotonic; rate-limits initiations */
};

void wg_timers_init(struct wg_timers *t, mtime_ns now);
/* Disarm everything (peer removal, key wipe). */
void wg_timers_stop(struct wg_timers *t);
/* Earliest armed deadline, MTIME_NEVER if none. */
mtime_ns wg_timers_next(const struct wg_timers *t);
/* Run every timer of the peer whose deadline is <= now. */
void wg_timers_run_expired(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);

/* Call after a data packet (not a keepalive) was sent. */
void wg_timers_data_sent(struct wg_peer *peer, mtime_ns now);
/* Call after a data packet (not a keepalive) was received and authenticated. */
void wg_timers_data_received(struct wg_peer *peer, mtime_ns now);
/* Call after any authenticated packet (data, keepalive, handshake) was sent. */
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer);
/* Call after any authenticated packet was received. */
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer);
/* Call before an authenticated packet is sent or after one was received. */
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, mtime_ns now);
/* Call after a handshake initiation was sent. */
void wg_timers_handshake_initiated(struct wg_peer *peer, mtime_ns now);
/* Call when a handshake is confirmed (response consumed, or first data
 * packet under the responder's new keypair). */
void wg_timers_handshake_complete(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);
/* Call after a session key was derived (response sent or consumed). */
void wg_timers_session_derived(struct wg_peer *peer, mtime_ns now);
/* Call after the persistent keepalive interval changed (0 disarms it). */
void wg_timers_persistent_keepalive_changed(struct wg_peer *peer, mtime_ns now);

#endif
