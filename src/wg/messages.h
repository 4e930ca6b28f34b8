/* WireGuard wire formats and protocol constants (whitepaper §5.4, §6).
 *
 * Every message starts with a little-endian 32-bit word whose low byte is the
 * type and whose three upper bytes are reserved zero; reading that word with
 * le32dec() and comparing it with WG_MSG_* checks both at once. Multi-byte
 * integers are little-endian on the wire and are read and written only through
 * le32enc()/le64dec() and friends, never through the struct fields directly.
 * Lengths are checked exactly per type before a buffer is viewed as a struct.
 */
#ifndef MESHD_WG_MESSAGES_H
#define MESHD_WG_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

enum wg_msg_type {
	WG_MSG_INITIATION = 1,
	WG_MSG_RESPONSE = 2,
	WG_MSG_COOKIE = 3,
	WG_MSG_DATA = 4,
};

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_HASH_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,	/* TAI64N */
	NOISE_AUTHTAG_LEN = 16,
	WG_MSG_MAC_LEN = 16,
	WG_MSG_COOKIE_NONCE_LEN = 24,
	WG_MSG_COOKIE_LEN = 16,
};

#define noise_encrypted_len(plain) ((plain) + NOISE_AUTHTAG_LEN)

struct wg_msg_header {
	uint32_t type;			/* type byte + 3 reserved zero bytes */
};

struct wg_msg_macs {
	uint8_t mac1[WG_MSG_MAC_LEN];
	uint8_t mac2[WG_MSG_MAC_LEN];
};

struct wg_msg_initiation {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct wg_msg_macs macs;
};

struct wg_msg_response {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[noise_encrypted_len(0)];
	struct wg_msg_macs macs;
};

struct wg_msg_cookie {
	struct wg_msg_header header;
	uint32_t receiver_index;
	uint8_t nonce[WG_MSG_COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[noise_encrypted_len(WG_MSG_COOKIE_LEN)];
};

struct wg_msg_data {
	struct wg_msg_header header;
	uint32_t receiver_index;
	uint64_t counter;
	uint8_t encrypted_data[];
};

_Static_assert(sizeof(struct wg_msg_initiation) == 148, "wire size");
_Static_assert(sizeof(struct wg_msg_response) == 92, "wire size");
_Static_assert(sizeof(struct wg_msg_cookie) == 64, "wire size");
_Static_assert(sizeof(struct wg_msg_data) == 16, "wire size");
_Static_assert(offsetof(struct wg_msg_initiation, sender_index) == 4, "wire offset");
_Static_assert(offsetof(struct wg_msg_initiation, macs) == 116, "wire offset");
_Static_assert(offsetof(struct wg_msg_initiation, macs.mac2) == 132, "wire offset");
_Static_assert(offsetof(struct wg_msg_response, receiver_index) == 8, "wire offset");
_Static_assert(offsetof(struct wg_msg_response, macs) == 60, "wire offset");
_Static_assert(offsetof(struct wg_msg_response, macs.mac2) == 76, "wire offset");
_Static_assert(offsetof(struct wg_msg_cookie, nonce) == 8, "wire offset");
_Static_assert(offsetof(struct wg_msg_data, counter) == 8, "wire offset");

enum {
	/* A data message: header + at least an empty (keepalive) payload's tag. */
	WG_MSG_DATA_MIN_LEN = sizeof(struct wg_msg_data) + noise_encrypted_len(0),
	WG_MSG_PADDING_MULTIPLE = 16,
};

/* Protocol constants, named as in the whitepaper §6.1. Times in seconds. */
enum {
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	REKEY_TIMEOUT = 5,
	KEEPALIVE_TIMEOUT = 10,
	COOKIE_SECRET_MAX_AGE = 120,
	COOKIE_SECRET_LATENCY = 5,
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	/* Jitter added to each handshake (re)transmission: uniform in
	 * [0, REKEY_TIMEOUT_JITTER_MAX_MS) milliseconds, as the kernel does. */
	REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	/* Packets held per peer while a handshake runs (oldest dropped first). */
	MAX_STAGED_PACKETS = 128,
	/* Initiations accepted per peer and second (flood protection). */
	INITIATIONS_PER_SECOND = 50,
};

/* Message-count limits do not fit an int enum: 64-bit macros. */
#define REKEY_AFTER_MESSAGES ((uint64_t)1 << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - ((uint64_t)1 << 13))	/* 2^64 - 2^13 - 1 */

#endif
