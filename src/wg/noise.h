/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (whitepaper §5.4).
 *
 *   initiator                                   responder
 *   -> e, es, s, ss, {timestamp}       (type 1, 148 bytes)
 *   <- e, ee, se, psk, {}              (type 2, 92 bytes)
 *   both: (Tsend, Trecv) = KDF2(C, empty)
 *
 * Each peer holds one handshake and three keypair slots:
 *   next      the responder's fresh keypair, not yet confirmed: it becomes
 *             current when the first data message arrives under it;
 *   current   the keypair we send with;
 *   previous  the one before, still accepted for received packets.
 * The slots are allocated by the handshakes that fill them; a keypair's
 * receiver index takes over the index of the handshake that produced it.
 */
#ifndef MESHD_WG_NOISE_H
#define MESHD_WG_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/time.h"
#include "wg/crypto.h"
#include "wg/index.h"
#include "wg/messages.h"
#include "wg/replay.h"

struct wg_device;
struct wg_peer;

enum wg_handshake_state {
	WG_HS_ZEROED = 0,
	WG_HS_CREATED_INITIATION,
	WG_HS_CONSUMED_INITIATION,
	WG_HS_CREATED_RESPONSE,
	WG_HS_CONSUMED_RESPONSE,
};

/* What a handshake in progress needs, allocated when it starts (we create
 * or accept its first message) and freed, zeroed, by
 * wg_noise_handshake_clear(): a peer between handshakes holds none of it. */
struct wg_handshake_live {
	struct wg_index_entry entry;	/* our sender index, once we sent a message */
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint32_t remote_index;		/* host order */
	/* The initiation of CREATED_INITIATION as sent (macs included):
	 * public bytes, sent again when initiations cross (receive.c). */
	struct wg_msg_initiation sent_initiation;
};

struct wg_handshake {
	struct wg_handshake_live *live;	/* NULL exactly when state is WG_HS_ZEROED */
	enum wg_handshake_state state;
	bool have_ss;			/* false: no private key or low-order peer key */
	bool have_consumed_initiation;	/* last_initiation_consumption is set */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t precomputed_ss[NOISE_PUBLIC_KEY_LEN];	/* DH(Spriv_local, Spub_remote) */
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];	/* greatest seen from the peer */
	mtime_ns last_initiation_consumption;		/* monotonic; 0 = never */
};

struct wg_keypair {
	struct wg_index_entry entry;	/* local index; kind NONE when the slot is free */
	struct wg_aead_ctx send;		/* keyed with Tsend; id 0 when free */
	struct wg_aead_ctx recv;		/* keyed with Trecv */
	uint64_t send_counter;		/* next counter to use */
	struct wg_replay replay;
	mtime_ns birth;			/* monotonic */
	uint32_t remote_index;		/* host order */
	bool sending_valid;
	bool receiving_valid;
	bool i_am_initiator;
	uint64_t internal_id;		/* for logs */
};

/* Computes the initial chaining key and hash once; safe to call repeatedly. */
void wg_noise_init(void);

/* Recomputes the handshake's static-static DH (after a key change). */
void wg_noise_precompute_ss(struct wg_device *dev, struct wg_peer *peer);

/* Builds an initiation for the peer. False when no private key is set or the
 * peer's key is unusable. */
bool wg_noise_create_initiation(struct wg_device *dev, struct wg_peer *peer,
				struct wg_msg_initiation *msg);
/* Authenticates an initiation (mac1 already checked) and returns its peer, or
 * NULL. Rejects replayed timestamps and initiations faster than
 * INITIATIONS_PER_SECOND per peer.
 *
 * Crossed initiations: when our own initiation to that peer is in flight
 * (CREATED_INITIATION, sent less than REKEY_TIMEOUT ago), the side whose
 * static public key is lower (sodium_compare) keeps its initiator state:
 * then *crossed is set, the peer is returned, its timestamp is recorded
 * (no later replay), and nothing else changes; the caller must not answer.
 * The higher side answers as usual, so one round trip makes the session,
 * where answering both ways leaves two responders waiting for a
 * confirmation that never comes (until REKEY_TIMEOUT). Peers without this
 * rule (the kernel, wireguard-go) answer every initiation, so they still
 * answer ours. */
struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev,
					    const struct wg_msg_initiation *msg, mtime_ns now,
					    bool *crossed);
bool wg_noise_create_response(struct wg_device *dev, struct wg_peer *peer,
			      struct wg_msg_response *msg);
struct wg_peer *wg_noise_consume_response(struct wg_device *dev,
					  const struct wg_msg_response *msg);
/* Derives the transport keys from a finished handshake and installs them
 * (initiator: current; responder: next). False if the handshake was not in a
 * state that allows it, or the cipher contexts could not be allocated (then
 * the keypair slots are left as they were). */
bool wg_noise_begin_session(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);
/* Call after a packet authenticated under kp. Promotes `next` to current when
 * kp is it; returns true then (the handshake is confirmed). */
bool wg_noise_received_with_keypair(struct wg_device *dev, struct wg_peer *peer,
				    struct wg_keypair *kp);
/* Forget the handshake in progress (index unlisted, secrets zeroed). */
void wg_noise_handshake_clear(struct wg_device *dev, struct wg_peer *peer);
/* Drop all three keypairs (zeroed). */
void wg_noise_keypairs_clear(struct wg_device *dev, struct wg_peer *peer);
/* Stop sending with next/current (forces a new handshake on the next send). */
void wg_noise_expire_current_keypairs(struct wg_peer *peer);

/* TAI64N of a wall-clock time, nanoseconds whitened to a multiple of 2^24
 * (finer than the flood limit lets anyone use, as the kernel does). */
void wg_noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t sec, uint32_t nsec);

#endif
