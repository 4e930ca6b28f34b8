/* Receiving: wg_input_datagram. Each type's length is checked exactly before
 * the bytes are viewed as its struct; anything malformed or unauthenticated
 * is dropped without a reply. The endpoint of a peer moves to the source of
 * every authenticated handshake or data message (roaming). */
#include <string.h>

#include "util/endian.h"
#include "util/log.h"
#include "wg/crypto.h"
#include "wg/device.h"
#include "wg/messages.h"
#include "wg/peer.h"

bool wg_device_under_load(struct wg_device *dev, mtime_ns now)
{
	switch (dev->load_mode) {
	case WG_LOAD_FORCE_ON:
		return true;
	case WG_LOAD_FORCE_OFF:
		return false;
	case WG_LOAD_AUTO:
		break;
	}
	if (now < dev->load_window_start || now - dev->load_window_start >= SEC(1)) {
		dev->load_window_start = now;
		dev->load_window_count = 0;
	}
	if (++dev->load_window_count > WG_LOAD_HANDSHAKES_PER_SEC)
		dev->last_under_load = now;
	return dev->last_under_load != MTIME_NEVER && now >= dev->last_under_load &&
	       now - dev->last_under_load < MSEC(WG_LOAD_HOLD_MS);
}

static void set_endpoint(struct wg_peer *peer, const union endpoint *src)
{
	if (!endpoint_eq(&peer->endpoint, src))
		peer->endpoint = *src;
}

/* mac1 must be good. Under load mac2 must be good too (else the sender gets
 * a cookie reply) and the source must be within its rate. */
static bool handshake_admitted(struct wg_device *dev, const uint8_t *buf, size_t len,
			       const union endpoint *src, mtime_ns now)
{
	bool under_load = wg_device_under_load(dev, now);
	enum wg_cookie_verdict v = wg_cookie_validate(&dev->cookie, buf, len, src, now);
	uint8_t reply[WG_COOKIE_REPLY_LEN];

	if (v == WG_COOKIE_BAD_MAC1)
		return false;
	if (!under_load)
		return true;
	if (v != WG_COOKIE_MAC2_OK) {
		/* The sender index sits at offset 4 in types 1 and 2. */
		wg_cookie_make_reply(&dev->cookie, reply, le32dec(buf + 4), buf, len, src, now);
		dev->ops.send(dev->ctx, src, reply, sizeof reply);
		return false;
	}
	return wg_ratelimit_allow(dev->ratelimit, src, now);
}

static void account_received(struct wg_peer *peer, size_t len, mtime_ns now)
{
	peer->rx_bytes += len;
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer, now);
}

static void receive_initiation(struct wg_device *dev, uint8_t *buf, size_t len,
			       const union endpoint *src, mtime_ns now, struct wg_result *res)
{
	const struct wg_msg_initiation *msg = (const struct wg_msg_initiation *)buf;
	struct wg_peer *peer;
	bool crossed;

	if (!handshake_admitted(dev, buf, len, src, now))
		return;
	peer = wg_noise_consume_initiation(dev, msg, now, &crossed);
	if (!peer)
		return;
	res->peer = peer;
	set_endpoint(peer, src);
	if (crossed) {
		/* We keep initiating (noise.h). The peer may never have
		 * got our initiation (a NAT hole opened after it left, a
		 * stale endpoint): the same bytes again, to where this one
		 * came from, cost nothing when it did (a replay there). */
		log_debug("peer %llu: crossed handshake initiations, keeping ours",
			  (unsigned long long)peer->internal_id);
		wg_send_buffer(dev, peer, (const uint8_t *)&peer->hs.live->sent_initiation,
			       sizeof peer->hs.live->sent_initiation);
	} else {
		log_debug("peer %llu: received handshake initiation",
			  (unsigned long long)peer->internal_id);
		wg_send_handshake_response(dev, peer, now);
	}
	account_received(peer, len, now);
}

static void receive_response(struct wg_device *dev, uint8_t *buf, size_t len,
			     const union endpoint *src, mtime_ns now, struct wg_result *res)
{
	const struct wg_msg_response *msg = (const struct wg_msg_response *)buf;
	struct wg_peer *peer;

	if (!handshake_admitted(dev, buf, len, src, now))
		return;
	peer = wg_noise_consume_response(dev, msg);
	if (!peer)
		return;
	res->peer = peer;
	set_endpoint(peer, src);
	log_debug("peer %llu: received handshake response", (unsigned long long)peer->internal_id);
	if (wg_noise_begin_session(dev, peer, now)) {
		wg_timers_session_derived(peer, now);
		wg_timers_handshake_complete(dev, peer, now);
		/* Confirms the session to the responder (or carries what
		 * was staged). */
		wg_send_keepalive(dev, peer, now);
	}
	account_received(peer, len, now);
}

static void receive_cookie(struct wg_device *dev, uint8_t *buf, size_t len, mtime_ns now,
			   struct wg_result *res)
{
	const struct wg_msg_cookie *msg = (const struct wg_msg_cookie *)buf;
	struct wg_index_entry *e = wg_index_lookup(&dev->index, le32dec(&msg->receiver_index));

	if (!e)
		return;
	if (wg_cookie_consume_reply(&e->peer->cookie, buf, len, now))
		res->peer = e->peer;
}

/* Receive side of "keep the key fresh": the initiator starts a handshake
 * before its keypair's REJECT_AFTER_TIME, once. */
static void keep_key_fresh(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	struct wg_keypair *kp = peer->current;

	if (peer->timers.sent_lastminute_handshake)
		return;
	if (kp && kp->sending_valid && kp->i_am_initiator &&
	    wg_birthdate_has_expired(kp->birth,
				     SEC(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT), now)) {
		peer->timers.sent_lastminute_handshake = true;
		wg_send_handshake_initiation(dev, peer, false, now);
	}
}

/* The keypair a data message names, if it may still receive; NULL when not. */
static struct wg_keypair *data_keypair(struct wg_device *dev, const uint8_t *buf, mtime_ns now)
{
	struct wg_index_entry *e = wg_index_lookup(&dev->index, le32dec(buf + 4));
	struct wg_keypair *kp;

	if (!e || e->kind != WG_INDEX_KEYPAIR)
		return NULL;
	kp = container_of(e, struct wg_keypair, entry);
	if (!kp->receiving_valid ||
	    wg_birthdate_has_expired(kp->birth, SEC(REJECT_AFTER_TIME), now))
		return NULL;
	return kp;
}

/* A data message whose tag verified (its payload decrypted in place). */
static void data_authenticated(struct wg_device *dev, struct wg_keypair *kp, uint8_t *buf,
			       size_t len, uint64_t counter, const union endpoint *src,
			       mtime_ns now, struct wg_result *res)
{
	struct wg_peer *peer = kp->entry.peer;
	struct wg_aip_owner *owner;
	size_t clen = len - WG_MSG_DATA_MIN_LEN;
	uint8_t *pkt = buf + sizeof(struct wg_msg_data);
	struct wg_ip_hdr ip;

	if (!wg_replay_update(&kp->replay, counter, REJECT_AFTER_MESSAGES))
		return;

	/* Authenticated. */
	res->peer = peer;
	set_endpoint(peer, src);
	if (wg_noise_received_with_keypair(dev, peer, kp)) {
		wg_timers_handshake_complete(dev, peer, now);
		wg_send_staged(dev, peer, now);
	}
	keep_key_fresh(dev, peer, now);
	account_received(peer, len, now);
	if (clen == 0)
		return;		/* keepalive */
	wg_timers_data_received(peer, now);
	if (!wg_packet_is_quiet(dev, pkt, clen))
		peer->last_data = now;

	if (!wg_ip_hdr_parse(pkt, clen, &ip) || ip.len < 20 || ip.len > clen)
		return;
	owner = wg_allowedips_lookup(&dev->aip, ip.family, ip.src);
	if (owner != &peer->aip) {
		log_ratelimited(LOG_LVL_DEBUG, "peer %llu: inner source not allowed, dropped",
				(unsigned long long)peer->internal_id);
		return;
	}
	res->act = WG_ACT_DELIVER;
	res->off = sizeof(struct wg_msg_data);
	res->len = ip.len;
}

static void receive_data(struct wg_device *dev, uint8_t *buf, size_t len,
			 const union endpoint *src, mtime_ns now, struct wg_result *res,
			 struct wg_crypt_job *job)
{
	struct wg_keypair *kp = data_keypair(dev, buf, now);
	size_t clen = len - WG_MSG_DATA_MIN_LEN;
	uint8_t *pkt = buf + sizeof(struct wg_msg_data);
	uint64_t counter;

	if (!kp)
		return;
	counter = le64dec(buf + 8);
	if (!wg_replay_check(&kp->replay, counter, REJECT_AFTER_MESSAGES))
		return;
	if (job) {
		/* opened later, maybe on another thread (wg.h) */
		wg_crypt_job_prepare(job, &kp->recv, buf, clen, counter, false);
		job->src = *src;
		res->act = WG_ACT_CRYPT;
		return;
	}
	if (!wg_aead_ctx_decrypt(&kp->recv, pkt, clen, pkt + clen, counter))
		return;
	data_authenticated(dev, kp, buf, len, counter, src, now, res);
}

void wg_crypt_job_prepare(struct wg_crypt_job *job, struct wg_aead_ctx *aead, uint8_t *buf,
			  size_t len, uint64_t counter, bool seal)
{
	/* the whole job: nothing left over from its last use */
	*job = (struct wg_crypt_job){ .aead = aead, .buf = buf, .len = len, .counter = counter,
				      .key_id = aead->id, .seal = seal, .ok = false };
}

bool wg_crypt_job_run(struct wg_crypt_job *job)
{
	uint8_t *p = job->buf + sizeof(struct wg_msg_data);

	if (job->seal)
		job->ok = wg_aead_ctx_encrypt(job->aead, p, job->len, p + job->len, job->counter);
	else
		job->ok = wg_aead_ctx_decrypt(job->aead, p, job->len, p + job->len, job->counter);
	return job->ok;
}

void wg_crypt_job_finish(struct wg_device *dev, struct wg_crypt_job *job, mtime_ns now,
			 struct wg_result *res)
{
	struct wg_keypair *kp;

	if (job->seal) {
		wg_send_job_finish(dev, job, res);
		return;
	}
	res->act = WG_ACT_NONE;
	res->peer = NULL;
	res->off = res->len = 0;
	/* The keypair may have been rotated out or cleared by an earlier
	 * finish (or reused with another key): look it up again. */
	kp = data_keypair(dev, job->buf, now);
	if (!job->ok || !kp || kp->recv.id != job->key_id)
		return;
	data_authenticated(dev, kp, job->buf, job->len + WG_MSG_DATA_MIN_LEN, job->counter,
			   &job->src, now, res);
}

void wg_crypt_thread_wipe(void)
{
	wg_aead_thread_wipe();
}

void wg_crypt_thread_exit(void)
{
	wg_aead_thread_free();
}

static void input_datagram(struct wg_device *dev, uint8_t *buf, size_t len,
			   const union endpoint *src, mtime_ns now, struct wg_result *res,
			   struct wg_crypt_job *job)
{
	res->act = WG_ACT_NONE;
	res->peer = NULL;
	res->off = res->len = 0;
	if (len < sizeof(struct wg_msg_header) || !endpoint_is_set(src))
		return;
	switch (le32dec(buf)) {
	case WG_MSG_INITIATION:
		if (len == sizeof(struct wg_msg_initiation))
			receive_initiation(dev, buf, len, src, now, res);
		break;
	case WG_MSG_RESPONSE:
		if (len == sizeof(struct wg_msg_response))
			receive_response(dev, buf, len, src, now, res);
		break;
	case WG_MSG_COOKIE:
		if (len == sizeof(struct wg_msg_cookie))
			receive_cookie(dev, buf, len, now, res);
		break;
	case WG_MSG_DATA:
		if (len >= WG_MSG_DATA_MIN_LEN && len <= WG_MAX_DATAGRAM)
			receive_data(dev, buf, len, src, now, res, job);
		break;
	default:
		break;
	}
}

void wg_input_datagram(struct wg_device *dev, uint8_t *buf, size_t len,
		       const union endpoint *src, mtime_ns now, struct wg_result *res)
{
	input_datagram(dev, buf, len, src, now, res, NULL);
}

void wg_input_datagram_job(struct wg_device *dev, uint8_t *buf, size_t len,
			   const union endpoint *src, mtime_ns now, struct wg_result *res,
			   struct wg_crypt_job *job)
{
	input_datagram(dev, buf, len, src, now, res, job);
}

bool wg_is_data_message(const uint8_t *buf, size_t len)
{
	return len >= WG_MSG_DATA_MIN_LEN && len <= WG_MAX_DATAGRAM && le32dec(buf) == WG_MSG_DATA;
}

bool wg_is_wg_datagram(const uint8_t *buf, size_t len)
{
	uint32_t t;

	if (len < sizeof(struct wg_msg_header))
		return false;
	t = le32dec(buf);
	return t >= WG_MSG_INITIATION && t <= WG_MSG_DATA;
}
