/* mac1/mac2 and cookie replies (WireGuard §5.4.4, §5.4.7); see cookie.h.
 *
 * The initiator side (maker) keeps the last mac1 it sent, because a cookie
 * reply is only believable when it was encrypted with that mac1 as additional
 * data, and keeps the cookie it got for COOKIE_SECRET_MAX_AGE -
 * COOKIE_SECRET_LATENCY: a little less than the responder keeps its secret, so
 * a cookie is not used while the responder may already have rotated.
 *
 * The responder side (checker) derives cookies from a random secret that it
 * replaces once it is COOKIE_SECRET_MAX_AGE old, so every cookie it ever
 * handed out stops working after at most that long.
 */
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "wg/blake2s.h"
#include "wg/cookie.h"
#include "wg/messages.h"

#define LABEL_MAC1 "mac1----"
#define LABEL_COOKIE "cookie--"

enum {
	LABEL_LEN = sizeof(LABEL_MAC1) - 1,
	/* The macs close every handshake message: mac1 then mac2. */
	MACS_LEN = 2 * WG_MAC_LEN,
	/* What a cookie is computed over: address bytes then port. */
	PORT_LEN = 2,
	SOURCE_MAX = sizeof(struct in6_addr) + PORT_LEN,
	REPLY_TYPE_OFF = offsetof(struct wg_msg_cookie, header),
	REPLY_RECEIVER_OFF = offsetof(struct wg_msg_cookie, receiver_index),
	REPLY_NONCE_OFF = offsetof(struct wg_msg_cookie, nonce),
	REPLY_COOKIE_OFF = offsetof(struct wg_msg_cookie, encrypted_cookie),
};

_Static_assert(sizeof(LABEL_COOKIE) - 1 == LABEL_LEN, "labels are 8 bytes");
_Static_assert(WG_COOKIE_REPLY_LEN == sizeof(struct wg_msg_cookie), "cookie reply size");
_Static_assert((int)WG_COOKIE_LEN == (int)WG_MSG_COOKIE_LEN, "cookie size");
_Static_assert((int)WG_MAC_LEN == (int)WG_MSG_MAC_LEN, "mac size");
_Static_assert(WG_COOKIE_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "XChaCha20-Poly1305 nonce");
_Static_assert(NOISE_AUTHTAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "XChaCha20-Poly1305 tag");
_Static_assert(WG_BLAKE2S_HASH_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "XChaCha20-Poly1305 key");
_Static_assert(sizeof(((struct wg_cookie_checker *)0)->secret) == WG_BLAKE2S_HASH_LEN,
	       "secret is a MAC key");

/* MAC(key, in): keyed BLAKE2s with a 16-byte output. The key is a 32-byte
 * hash (mac1, the responder secret) or a 16-byte cookie (mac2). */
static void mac(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *in,
		size_t len)
{
	wg_blake2s_keyed(out, WG_MAC_LEN, key, keylen, in, len);
}

/* Derive HASH(label || public key) for mac1 and the cookie-reply AEAD. */
static void derive_keys(uint8_t mac1_key[WG_BLAKE2S_HASH_LEN],
			uint8_t cookie_key[WG_BLAKE2S_HASH_LEN], const uint8_t pub[32])
{
	wg_blake2s_hash2(mac1_key, LABEL_MAC1, LABEL_LEN, pub, NOISE_PUBLIC_KEY_LEN);
	wg_blake2s_hash2(cookie_key, LABEL_COOKIE, LABEL_LEN, pub, NOISE_PUBLIC_KEY_LEN);
}

/* True once `age` has passed since `birth` (or when time runs backwards). */
static bool has_expired(mtime_ns birth, mtime_ns now, mtime_ns age)
{
	return now < birth || now - birth >= age;
}

void wg_cookie_maker_init(struct wg_cookie_maker *cm, const uint8_t peer_public[32])
{
	memset(cm, 0, sizeof *cm);
	derive_keys(cm->mac1_key, cm->cookie_key, peer_public);
}

void wg_cookie_maker_clear(struct wg_cookie_maker *cm)
{
	sodium_memzero(cm, sizeof *cm);
}

void wg_cookie_add_macs(struct wg_cookie_maker *cm, uint8_t *msg, size_t len, mtime_ns now)
{
	uint8_t *mac1, *mac2;

	if (len < MACS_LEN)
		return;
	mac1 = msg + len - MACS_LEN;
	mac2 = msg + len - WG_MAC_LEN;

	mac(mac1, cm->mac1_key, sizeof cm->mac1_key, msg, len - MACS_LEN);
	memcpy(cm->last_mac1, mac1, WG_MAC_LEN);
	cm->have_last_mac1 = true;

	if (cm->have_cookie && !has_expired(cm->cookie_birth, now,
					    SEC(COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY)))
		mac(mac2, cm->cookie, sizeof cm->cookie, msg, len - WG_MAC_LEN);
	else
		memset(mac2, 0, WG_MAC_LEN);
}

bool wg_cookie_consume_reply(struct wg_cookie_maker *cm, const uint8_t *reply, size_t len,
			     mtime_ns now)
{
	uint8_t cookie[WG_COOKIE_LEN];
	unsigned long long cookie_len;
	bool ok = false;

	if (len != WG_COOKIE_REPLY_LEN || le32dec(reply + REPLY_TYPE_OFF) != WG_MSG_COOKIE ||
	    !cm->have_last_mac1)
		return false;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &cookie_len, NULL,
						       reply + REPLY_COOKIE_OFF,
						       WG_COOKIE_REPLY_LEN - REPLY_COOKIE_OFF,
						       cm->last_mac1, WG_MAC_LEN,
						       reply + REPLY_NONCE_OFF,
						       cm->cookie_key) != 0 ||
	    cookie_len != WG_COOKIE_LEN)
		goto out;
	memcpy(cm->cookie, cookie, WG_COOKIE_LEN);
	cm->cookie_birth = now;
	cm->have_cookie = true;
	/* One reply per message sent: a replayed reply finds nothing to answer. */
	cm->have_last_mac1 = false;
	ok = true;
out:
	sodium_memzero(cookie, sizeof cookie);
	return ok;
}

void wg_cookie_checker_init(struct wg_cookie_checker *cc)
{
	memset(cc, 0, sizeof *cc);
}

void wg_cookie_checker_set_key(struct wg_cookie_checker *cc, const uint8_t our_public[32])
{
	if (our_public == NULL) {
		sodium_memzero(cc->mac1_key, sizeof cc->mac1_key);
		sodium_memzero(cc->cookie_key, sizeof cc->cookie_key);
		cc->have_key = false;
		return;
	}
	derive_keys(cc->mac1_key, cc->cookie_key, our_public);
	cc->have_key = true;
}

void wg_cookie_checker_clear(struct wg_cookie_checker *cc)
{
	sodium_memzero(cc, sizeof *cc);
}

/* Address bytes then port, both in network order; 0 for a non-IP source. */
static size_t source_bytes(uint8_t out[SOURCE_MAX], const union endpoint *src)
{
	switch (src->sa.sa_family) {
	case AF_INET:
		memcpy(out, &src->sin.sin_addr, sizeof src->sin.sin_addr);
		memcpy(out + sizeof src->sin.sin_addr, &src->sin.sin_port, PORT_LEN);
		return sizeof src->sin.sin_addr + PORT_LEN;
	case AF_INET6:
		memcpy(out, &src->sin6.sin6_addr, sizeof src->sin6.sin6_addr);
		memcpy(out + sizeof src->sin6.sin6_addr, &src->sin6.sin6_port, PORT_LEN);
		return sizeof src->sin6.sin6_addr + PORT_LEN;
	default:
		return 0;
	}
}

/* cookie = MAC(Rm, source), rotating Rm first when it is too old. */
static void make_cookie(struct wg_cookie_checker *cc, uint8_t cookie[WG_COOKIE_LEN],
			const uint8_t *source, size_t source_len, mtime_ns now)
{
	if (!cc->have_secret || has_expired(cc->secret_birth, now, SEC(COOKIE_SECRET_MAX_AGE))) {
		randombytes_buf(cc->secret, sizeof cc->secret);
		cc->secret_birth = now;
		cc->have_secret = true;
	}
	mac(cookie, cc->secret, sizeof cc->secret, source, source_len);
}

enum wg_cookie_verdict wg_cookie_validate(struct wg_cookie_checker *cc, const uint8_t *msg,
					  size_t len, const union endpoint *src, mtime_ns now)
{
	enum wg_cookie_verdict v = WG_COOKIE_BAD_MAC1;
	uint8_t want[WG_MAC_LEN], cookie[WG_COOKIE_LEN], source[SOURCE_MAX];
	size_t source_len;

	if (!cc->have_key || len < MACS_LEN)
		return WG_COOKIE_BAD_MAC1;

	mac(want, cc->mac1_key, sizeof cc->mac1_key, msg, len - MACS_LEN);
	if (sodium_memcmp(want, msg + len - MACS_LEN, WG_MAC_LEN) != 0)
		goto out;
	v = WG_COOKIE_MAC1_OK;

	if ((source_len = source_bytes(source, src)) == 0)
		goto out;
	make_cookie(cc, cookie, source, source_len, now);
	mac(want, cookie, sizeof cookie, msg, len - WG_MAC_LEN);
	if (sodium_memcmp(want, msg + len - WG_MAC_LEN, WG_MAC_LEN) == 0)
		v = WG_COOKIE_MAC2_OK;
out:
	sodium_memzero(cookie, sizeof cookie);
	sodium_memzero(want, sizeof want);
	return v;
}

void wg_cookie_make_reply(struct wg_cookie_checker *cc, uint8_t reply[WG_COOKIE_REPLY_LEN],
			  uint32_t receiver_index, const uint8_t *msg, size_t len,
			  const union endpoint *src, mtime_ns now)
{
	uint8_t cookie[WG_COOKIE_LEN], source[SOURCE_MAX];
	size_t source_len;

	memset(reply, 0, WG_COOKIE_REPLY_LEN);
	if (len < MACS_LEN)
		return;
	le32enc(reply + REPLY_TYPE_OFF, WG_MSG_COOKIE);
	le32enc(reply + REPLY_RECEIVER_OFF, receiver_index);
	randombytes_buf(reply + REPLY_NONCE_OFF, WG_COOKIE_NONCE_LEN);

	source_len = source_bytes(source, src);
	make_cookie(cc, cookie, source, source_len, now);
	crypto_aead_xchacha20poly1305_ietf_encrypt(reply + REPLY_COOKIE_OFF, NULL, cookie,
						   WG_COOKIE_LEN, msg + len - MACS_LEN,
						   WG_MAC_LEN, NULL, reply + REPLY_NONCE_OFF,
						   cc->cookie_key);
	sodium_memzero(cookie, sizeof cookie);
}
