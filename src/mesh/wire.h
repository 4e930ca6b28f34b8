/* Underlay mesh datagrams: the framing shared by every mesh message that
 * travels on the node's UDP socket beside WireGuard (docs/mesh-protocol.md
 * §1). Every such datagram starts with
 *
 *	u8 magic = 0x4d ('M') | u8 type (enum mesh_msg_type) | body
 *
 * WireGuard's messages start with a type byte of 1-4 followed by three zero
 * bytes, so a first byte of 0x4d never collides with them. A datagram with
 * the magic but an unknown type is dropped silently.
 */
#ifndef MESHD_MESH_WIRE_H
#define MESHD_MESH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MESH_MSG_MAGIC = 0x4d,		/* 'M' */
	MESH_MSG_HDR_LEN = 2,		/* magic, type */
	MESH_MSG_DGRAM_MAX = 1200,	/* largest underlay mesh datagram we send */
};

/* Wire values; never reuse a retired one. */
enum mesh_msg_type {
	MESH_MSG_JOIN_REQ = 1,		/* joiner -> inviter (mesh/join.h) */
	MESH_MSG_JOIN_RESP = 2,		/* inviter -> joiner, sealed */
	MESH_MSG_JOIN_ERR = 3,		/* inviter -> joiner, unauthenticated */
	MESH_MSG_PROBE = 4,		/* path probe, boxed (mesh/probe.h) */
	MESH_MSG_PROBE_ACK = 5,		/* its answer, boxed, with the reflexive address */
	MESH_MSG_RELAY = 6,		/* to a relay: dst node id + WireGuard datagram (mesh/relay.h) */
	MESH_MSG_RELAYED = 7,		/* from a relay: src node id + WireGuard datagram */
	MESH_MSG_TYPE_END		/* one past the last known type */
};

/* Short name of a message type for logs ("join-req", ...); "unknown" for
 * anything else. Never NULL. */
static inline const char *mesh_msg_type_name(int type)
{
	static const char *const names[MESH_MSG_TYPE_END] = {
		[MESH_MSG_JOIN_REQ] = "join-req",
		[MESH_MSG_JOIN_RESP] = "join-resp",
		[MESH_MSG_JOIN_ERR] = "join-err",
		[MESH_MSG_PROBE] = "probe",
		[MESH_MSG_PROBE_ACK] = "probe-ack",
		[MESH_MSG_RELAY] = "relay",
		[MESH_MSG_RELAYED] = "relayed",
	};

	if (type <= 0 || type >= MESH_MSG_TYPE_END || names[type] == NULL)
		return "unknown";
	return names[type];
}

/* True when p looks like a mesh datagram (magic and a known type); the body
 * is not examined. */
static inline bool mesh_msg_is_mesh(const uint8_t *p, size_t len)
{
	return len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC && p[1] > 0 &&
	    p[1] < MESH_MSG_TYPE_END;
}

#endif
