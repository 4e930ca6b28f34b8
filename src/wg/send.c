/* Sending: handshake messages, keepalives, staged packets and the data path
 * from the TUN (wg_input_tun). Data is encrypted in place in the caller's
 * buffer: [header 16][packet][padding][tag 16]. */
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "util/log.h"
#include "wg/crypto.h"
#include "wg/device.h"
#include "wg/messages.h"
#include "wg/peer.h"

_Static_assert(WG_HEADROOM == sizeof(struct wg_msg_data), "headroom is the data header");
_Static_assert(WG_TAILROOM == NOISE_AUTHTAG_LEN + WG_MSG_PADDING_MULTIPLE - 1,
	       "tailroom is tag + padding");

void wg_send_buffer(struct wg_device *dev, struct wg_peer *peer, const uint8_t *buf,
		    size_t len)
{
	if (!endpoint_is_set(&peer->endpoint))
		return;
	dev->ops.send(dev->ctx, &peer->endpoint, buf, len);
	peer->tx_bytes += len;
}

void wg_send_handshake_initiation(struct wg_device *dev, struct wg_peer *peer, bool is_retry,
				  mtime_ns now)
{
	struct wg_msg_initiation msg;

	if (!is_retry)
		peer->timers.handshake_attempts = 0;
	/* At most one initiation per REKEY_TIMEOUT. */
	if (!wg_birthdate_has_expired(peer->timers.last_sent_handshake, SEC(REKEY_TIMEOUT), now))
		return;
	peer->timers.last_sent_handshake = now;
	if (!wg_noise_create_initiation(dev, peer, &msg))
		return;
	wg_cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof msg, now);
	peer->hs.live->sent_initiation = msg;
	wg_timers_any_authenticated_packet_traversal(peer, now);
	wg_timers_any_authenticated_packet_sent(peer);
	log_debug("peer %llu: sending handshake initiation", (unsigned long long)peer->internal_id);
	wg_send_buffer(dev, peer, (const uint8_t *)&msg, sizeof msg);
	wg_timers_handshake_initiated(peer, now);
}

void wg_send_handshake_response(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	struct wg_msg_response msg;

	if (!wg_noise_create_response(dev, peer, &msg))
		return;
	wg_cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof msg, now);
	if (!wg_noise_begin_session(dev, peer, now))
		return;
	wg_timers_session_derived(peer, now);
	wg_timers_any_authenticated_packet_traversal(peer, now);
	wg_timers_any_authenticated_packet_sent(peer);
	peer->timers.last_sent_handshake = now;
	log_debug("peer %llu: sending handshake response", (unsigned long long)peer->internal_id);
	wg_send_buffer(dev, peer, (const uint8_t *)&msg, sizeof msg);
}

static bool keypair_can_send(const struct wg_keypair *kp, mtime_ns now)
{
	return kp && kp->sending_valid && kp->send_counter < REJECT_AFTER_MESSAGES &&
	       !wg_birthdate_has_expired(kp->birth, SEC(REJECT_AFTER_TIME), now);
}

/* Padding to a multiple of 16, capped at the MTU (kernel semantics). */
static size_t padded_len(const struct wg_device *dev, size_t len)
{
	size_t unit = len, padded;

	if (!dev->mtu)
		return (len + WG_MSG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_MSG_PADDING_MULTIPLE - 1);
	if (unit > dev->mtu)
		unit %= dev->mtu;
	padded = (unit + WG_MSG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_MSG_PADDING_MULTIPLE - 1);
	if (padded > dev->mtu)
		padded = dev->mtu;
	return len + (padded - unit);
}

/* Encrypts buf[WG_HEADROOM, +len) in place into a data message starting at
 * buf. Returns the datagram length, 0 if the keypair is exhausted, or if
 * libcrypto failed: then the plaintext is zeroed (the packet is lost) and
 * the keypair stops sending, so the next send starts a handshake. */
static size_t encrypt_packet(const struct wg_device *dev, struct wg_keypair *kp,
			     uint8_t *buf, size_t len, struct wg_crypt_job *job)
{
	size_t plen = padded_len(dev, len);
	uint64_t counter;

	if (kp->send_counter >= REJECT_AFTER_MESSAGES)
		return 0;
	counter = kp->send_counter++;
	memset(buf + WG_HEADROOM + len, 0, plen - len);
	le32enc(buf, WG_MSG_DATA);
	le32enc(buf + 4, kp->remote_index);
	le64enc(buf + 8, counter);
	if (job) {
		/* sealed later, maybe on another thread (wg.h) */
		wg_crypt_job_prepare(job, &kp->send, buf, plen, counter, true);
	} else if (!wg_aead_ctx_encrypt(&kp->send, buf + WG_HEADROOM, plen,
					buf + WG_HEADROOM + plen, counter)) {
		kp->sending_valid = false;
		return 0;
	}
	return WG_HEADROOM + plen + NOISE_AUTHTAG_LEN;
}

/* Send side of "keep the key fresh": a new handshake before the current
 * keypair runs out of messages, or (initiator) of time. */
static void keep_key_fresh(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	struct wg_keypair *kp = peer->current;

	if (kp && kp->sending_valid &&
	    (kp->send_counter > REKEY_AFTER_MESSAGES ||
	     (kp->i_am_initiator &&
	      wg_birthdate_has_expired(kp->birth, SEC(REKEY_AFTER_TIME), now))))
		wg_send_handshake_initiation(dev, peer, false, now);
}

static void account_sent(struct wg_peer *peer, bool keepalive, mtime_ns now)
{
	wg_timers_any_authenticated_packet_traversal(peer, now);
	wg_timers_any_authenticated_packet_sent(peer);
	if (!keepalive)
		wg_timers_data_sent(peer, now);
}

void wg_send_staged(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	struct wg_keypair *kp = peer->current;
	bool sent = false;

	if (!peer->staged_count)
		return;
	if (!keypair_can_send(kp, now)) {
		wg_send_handshake_initiation(dev, peer, false, now);
		return;
	}
	while (peer->staged_count) {
		struct wg_staged *s = &peer->staged[peer->staged_head];
		size_t out = encrypt_packet(dev, kp, s->buf, s->len, NULL);

		if (!out) {
			wg_send_handshake_initiation(dev, peer, false, now);
			break;
		}
		account_sent(peer, s->len == 0, now);
		wg_send_buffer(dev, peer, s->buf, out);
		peer->staged_head = (peer->staged_head + 1) % peer->staged_cap;
		peer->staged_count--;
		sent = true;
	}
	if (!peer->staged_count)
		wg_peer_purge_staged(peer);	/* all sent: no memory held */
	if (sent)
		keep_key_fresh(dev, peer, now);
}

void wg_send_keepalive(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	if (!peer->staged_count && wg_peer_stage(peer, NULL, 0) != 0)
		return;
	wg_send_staged(dev, peer, now);
}

static void input_tun(struct wg_device *dev, uint8_t *buf, size_t len, size_t cap,
		      mtime_ns now, struct wg_result *res, struct wg_crypt_job *job)
{
	const uint8_t *pkt = buf + WG_HEADROOM;
	struct wg_aip_owner *owner;
	struct wg_peer *peer;
	struct wg_keypair *kp;
	size_t out;
	struct wg_ip_hdr ip;

	res->act = WG_ACT_NONE;
	res->peer = NULL;
	res->off = res->len = 0;
	if (len < 1 || cap < WG_HEADROOM + WG_TAILROOM ||
	    len > cap - WG_HEADROOM - WG_TAILROOM ||
	    len > WG_MAX_DATAGRAM - WG_HEADROOM - WG_TAILROOM)
		return;
	if (!wg_ip_hdr_parse(pkt, len, &ip))
		return;
	owner = wg_allowedips_lookup(&dev->aip, ip.family, ip.dst);
	if (!owner)
		return;
	peer = container_of(owner, struct wg_peer, aip);
	res->peer = peer;
	if (!wg_packet_is_quiet(dev, pkt, len))
		peer->last_data = now;
	if (!endpoint_is_set(&peer->endpoint))
		return;

	kp = peer->current;
	if (!peer->staged_count && keypair_can_send(kp, now) &&
	    (out = encrypt_packet(dev, kp, buf, len, job)) != 0) {
		account_sent(peer, false, now);
		peer->tx_bytes += out;
		res->act = job ? WG_ACT_CRYPT : WG_ACT_SEND;
		res->off = 0;
		res->len = out;
		res->dst = peer->endpoint;
		keep_key_fresh(dev, peer, now);
		return;
	}
	/* No usable session (or older packets wait): keep it for later. */
	if (wg_peer_stage(peer, pkt, len) != 0)
		return;
	wg_send_staged(dev, peer, now);
}

void wg_input_tun(struct wg_device *dev, uint8_t *buf, size_t len, size_t cap,
		  mtime_ns now, struct wg_result *res)
{
	input_tun(dev, buf, len, cap, now, res, NULL);
}

void wg_input_tun_job(struct wg_device *dev, uint8_t *buf, size_t len, size_t cap,
		      mtime_ns now, struct wg_result *res, struct wg_crypt_job *job)
{
	input_tun(dev, buf, len, cap, now, res, job);
}

/* The seal half of wg_crypt_job_finish (receive.c has the other). */
void wg_send_job_finish(struct wg_device *dev, struct wg_crypt_job *job,
			struct wg_result *res)
{
	struct wg_keypair *kp;

	if (job->ok) {
		res->act = WG_ACT_SEND;
		return;
	}
	/* libcrypto failed (the payload is zeroed): drop it, and as the
	 * synchronous path does, stop sending with that keypair. */
	res->act = WG_ACT_NONE;
	if (res->peer && (kp = res->peer->current) && kp->send.id == job->key_id)
		kp->sending_valid = false;
	(void)dev;
}

void wg_peer_initiate_now(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	/* A usable session, or one we answered and that waits for its first
	 * packet (peer->next, responder side): nothing to do. */
	if (!endpoint_is_set(&peer->endpoint) || keypair_can_send(peer->current, now) ||
	    peer->next != NULL)
		return;
	/* One early initiation per WG_INITIATE_NOW_MIN_MS at most, whatever
	 * the layer above asks. */
	if (peer->initiated_now_at &&
	    !wg_birthdate_has_expired(peer->initiated_now_at, MSEC(WG_INITIATE_NOW_MIN_MS), now))
		return;
	peer->initiated_now_at = now;
	/* Lift the REKEY_TIMEOUT rate limit once: the last initiation most
	 * likely went down a path that did not work. */
	peer->timers.last_sent_handshake = MTIME_NEVER;
	log_debug("peer %llu: path found, initiating at once",
		  (unsigned long long)peer->internal_id);
	wg_send_handshake_initiation(dev, peer, false, now);
}
