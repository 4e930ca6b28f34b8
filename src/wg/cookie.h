/* mac1/mac2 and cookie replies (WireGuard §5.4.4, §5.4.7).
 *
 * Every handshake message ends with mac1 (16 bytes) then mac2 (16 bytes):
 *   mac1 = MAC(HASH("mac1----" || Spub_responder), msg[0 .. len-32))
 *   mac2 = MAC(cookie, msg[0 .. len-16))   or zeros without a fresh cookie
 * The responder's cookie for a source is MAC(Rm, ip bytes || port (2 bytes,
 * network order)), Rm a random secret that changes every COOKIE_SECRET_MAX_AGE.
 * A cookie reply (type 3, 64 bytes) carries it encrypted with XChaCha20-Poly1305
 * under HASH("cookie--" || Spub_responder), a random 24-byte nonce, and the
 * answered message's mac1 as additional data.
 *
 * All functions work on raw message bytes: they need only the total length.
 */
#ifndef MESHD_WG_COOKIE_H
#define MESHD_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/time.h"

enum {
	WG_COOKIE_LEN = 16,
	WG_COOKIE_NONCE_LEN = 24,
	WG_COOKIE_REPLY_LEN = 64,	/* type(4) receiver(4) nonce(24) cookie(16) tag(16) */
	WG_MAC_LEN = 16,
};

/* Initiator side: one per peer, keyed by the peer's public key. */
struct wg_cookie_maker {
	uint8_t mac1_key[32];
	uint8_t cookie_key[32];		/* decrypts cookie replies */
	uint8_t cookie[WG_COOKIE_LEN];
	mtime_ns cookie_birth;
	bool have_cookie;
	uint8_t last_mac1[WG_MAC_LEN];	/* of the last message we sent */
	bool have_last_mac1;
};

void wg_cookie_maker_init(struct wg_cookie_maker *cm, const uint8_t peer_public[32]);
/* Zeroes the key material. */
void wg_cookie_maker_clear(struct wg_cookie_maker *cm);
/* Write mac1 and mac2 into the last 32 bytes of msg (len >= 32). mac2 is
 * zero unless a cookie younger than COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY is held. */
void wg_cookie_add_macs(struct wg_cookie_maker *cm, uint8_t *msg, size_t len, mtime_ns now);
/* A cookie reply addressed to us (the caller found the peer by receiver
 * index). Accepts it only if it decrypts against the last mac1 we sent. */
bool wg_cookie_consume_reply(struct wg_cookie_maker *cm, const uint8_t *reply, size_t len,
			     mtime_ns now);

/* Responder side: one per device, keyed by our public key. */
struct wg_cookie_checker {
	uint8_t secret[32];
	mtime_ns secret_birth;
	bool have_secret;
	uint8_t mac1_key[32];
	uint8_t cookie_key[32];		/* encrypts cookie replies */
	bool have_key;
};

enum wg_cookie_verdict {
	WG_COOKIE_BAD_MAC1 = 0,	/* drop */
	WG_COOKIE_MAC1_OK,	/* mac1 good, mac2 missing or wrong */
	WG_COOKIE_MAC2_OK,	/* both good: the source proved it owns its address */
};

void wg_cookie_checker_init(struct wg_cookie_checker *cc);
/* Set (or with NULL forget) our public key. */
void wg_cookie_checker_set_key(struct wg_cookie_checker *cc, const uint8_t our_public[32]);
void wg_cookie_checker_clear(struct wg_cookie_checker *cc);
/* Checks mac1 and (when mac1 is good) mac2 of a handshake message from src. */
enum wg_cookie_verdict wg_cookie_validate(struct wg_cookie_checker *cc, const uint8_t *msg,
					  size_t len, const union endpoint *src, mtime_ns now);
/* Builds the 64-byte cookie reply to msg (whose mac1 was good) from src.
 * receiver_index is the sender index of msg, as read from it (host order). */
void wg_cookie_make_reply(struct wg_cookie_checker *cc, uint8_t reply[WG_COOKIE_REPLY_LEN],
			  uint32_t receiver_index, const uint8_t *msg, size_t len,
			  const union endpoint *src, mtime_ns now);

#endif
