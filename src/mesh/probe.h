/* Path probes: PROBE and PROBE_ACK, the underlay mesh datagrams that test
 * whether a candidate endpoint of a peer answers, measure its round trip and
 * tell the prober its own reflexive address (docs/mesh-protocol.md §1;
 * layouts in docs/wire-formats.md, "Probes and path selection").
 *
 *	u8 magic 'M' | u8 type (PROBE 4 | PROBE_ACK 5) | sender pk[32] |
 *	nonce[24] | crypto_box(receiver pk, sender sk, nonce, plaintext)
 *
 *	PROBE plaintext:     u8 type | u64 txid | u64 unix time | zero[19]
 *	PROBE_ACK plaintext: u8 type | u64 txid (the PROBE's, echoed) |
 *	                     u64 unix time | u8 family 4|6 | addr[4|16] | u16 port
 *
 * The keys are the two nodes' WireGuard static X25519 keys, used directly by
 * crypto_box. The box key is the same in both directions, so two things bind
 * a message to its direction and kind: the low bit of nonce[0] is 1 when the
 * sender's public key sorts below the receiver's (so a message reflected
 * back to its sender, claiming to come from the peer, does not open as
 * theirs), and the plaintext repeats the header's type (so a PROBE cannot be
 * passed off as an ACK or the reverse; their lengths differ as well).
 *
 * Padded PROBE (path MTU probing, mesh/pmtu.h): a PROBE of any length from
 * MESH_PROBE_LEN to MESH_PROBE_PADDED_MAX_LEN, its plaintext's zero padding
 * grown to fill it. It is answered by the same small PROBE_ACK, so the ACK
 * is never larger than the PROBE. Nodes from before padded probes accept
 * only MESH_PROBE_LEN and drop the rest silently: to them a padded probe is
 * a lost one.
 *
 * Replay: a PROBE whose time is more than MESH_PROBE_WINDOW_S away from the
 * receiver's clock is dropped (MESHD_E_EXPIRED); within the window a replay
 * only earns the replayer an ACK it cannot read. A PROBE_ACK is accepted
 * only for a txid the prober still has outstanding, once
 * (mesh_path_input_ack() in mesh/path.h keeps that table).
 */
#ifndef MESHD_MESH_PROBE_H
#define MESHD_MESH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/wire.h"
#include "util/addr.h"
#include "util/buf.h"

enum {
	MESH_PROBE_KEY_LEN = 32,	/* X25519 public key, secret key, box key */
	MESH_PROBE_NONCE_LEN = 24,	/* crypto_box_NONCEBYTES */
	MESH_PROBE_MAC_LEN = 16,	/* crypto_box_MACBYTES */
	MESH_PROBE_WINDOW_S = 30,	/* PROBE time vs the receiver's clock */

	MESH_PROBE_OUTER_LEN = MESH_MSG_HDR_LEN + MESH_PROBE_KEY_LEN + MESH_PROBE_NONCE_LEN,
	MESH_PROBE_PLAIN_LEN = 1 + 8 + 8,
	MESH_PROBE_ACK_PLAIN_V4_LEN = MESH_PROBE_PLAIN_LEN + 1 + 4 + 2,
	MESH_PROBE_ACK_PLAIN_V6_LEN = MESH_PROBE_PLAIN_LEN + 1 + 16 + 2,
	/* A PROBE is padded with zeros to the size of the largest ACK, so
	 * that an ACK is never larger than the PROBE it answers, even one
	 * replayed from a spoofed address. */
	MESH_PROBE_PAD_LEN = 1 + 16 + 2,
	MESH_PROBE_LEN = MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN + MESH_PROBE_PLAIN_LEN +
	    MESH_PROBE_PAD_LEN,
	MESH_PROBE_ACK_V4_LEN = MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN +
	    MESH_PROBE_ACK_PLAIN_V4_LEN,
	MESH_PROBE_ACK_V6_LEN = MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN +
	    MESH_PROBE_ACK_PLAIN_V6_LEN,
	MESH_PROBE_MAX_LEN = MESH_PROBE_ACK_V6_LEN,	/* 110 */
	/* largest padded PROBE accepted (a jumbo frame's UDP payload) */
	MESH_PROBE_PADDED_MAX_LEN = 9216,
};

_Static_assert(MESH_PROBE_MAX_LEN < 200, "probes stay small");
_Static_assert(MESH_PROBE_LEN >= MESH_PROBE_ACK_V6_LEN && MESH_PROBE_LEN >= MESH_PROBE_ACK_V4_LEN,
    "no ACK larger than its PROBE");

/* What one node needs to talk probes with one peer: both public keys and
 * the precomputed box key (crypto_box_beforenm). Holds a secret: clear it
 * with mesh_probe_key_clear(). */
struct mesh_probe_key {
	uint8_t our_pk[MESH_PROBE_KEY_LEN];
	uint8_t peer_pk[MESH_PROBE_KEY_LEN];
	uint8_t k[MESH_PROBE_KEY_LEN];
	uint8_t dir_out;	/* nonce[0] bit 0 of what we send */
};

/* One probe message, decoded. */
struct mesh_probe {
	uint8_t type;			/* MESH_MSG_PROBE or MESH_MSG_PROBE_ACK */
	uint64_t txid;			/* PROBE: fresh; ACK: the PROBE's */
	uint64_t time;			/* sender's unix seconds */
	union endpoint observed;	/* ACK only: the PROBE's source address
					 * (AF_INET or AF_INET6, port != 0) */
	uint16_t len;			/* PROBE: whole datagram length; 0 when
					 * sealing means MESH_PROBE_LEN */
};

/* Precomputes the box key between our key pair and a peer's public key.
 * Returns 0; MESHD_E_INVAL when both public keys are equal; MESHD_E_CRYPTO
 * when the peer key is a low-order point (k is zeroed then). */
int mesh_probe_key_init(struct mesh_probe_key *k, const uint8_t our_pk[MESH_PROBE_KEY_LEN],
    const uint8_t our_sk[MESH_PROBE_KEY_LEN], const uint8_t peer_pk[MESH_PROBE_KEY_LEN]);
/* Zeroes k. */
void mesh_probe_key_clear(struct mesh_probe_key *k);

/* Reads the type and sender public key of a probe datagram without opening
 * it, so that the caller can find the peer's key. Checks the header and that
 * len is valid for the type (PROBE: MESH_PROBE_LEN..MESH_PROBE_PADDED_MAX_LEN;
 * ACK: the v4 or v6 length). Returns 0 or MESHD_E_PROTO. */
int mesh_probe_peek(const uint8_t *p, size_t len, uint8_t *type,
    uint8_t sender_pk[MESH_PROBE_KEY_LEN]);

/* Appends m sealed for the peer of k, with a random nonce. m->observed is
 * used for an ACK only and must be AF_INET or AF_INET6 with a port (an
 * IPv4-mapped IPv6 address is sent as IPv4). m->len pads a PROBE to that
 * whole length. Returns 0; MESHD_E_INVAL (bad type, observed address or
 * len); MESHD_E_RANGE (w full, nothing written). */
int mesh_probe_seal(const struct mesh_probe_key *k, const struct mesh_probe *m, struct wr *w);

/* Opens a probe datagram from the peer of k. now_unix is our clock. Returns
 * 0 with *out filled; MESHD_E_PROTO (malformed: header, length, a sender
 * other than k's peer, or a plaintext that does not decode strictly);
 * MESHD_E_CRYPTO (does not open, or is sealed in our own direction);
 * MESHD_E_EXPIRED (a PROBE outside the time window). out is zeroed on
 * error. An ACK's txid must still be matched against the outstanding ones. */
int mesh_probe_open(const struct mesh_probe_key *k, const uint8_t *p, size_t len,
    uint64_t now_unix, struct mesh_probe *out);

#endif
