/* Endpoint records: where a node can be reached on the underlay, signed by
 * the node itself with the Ed25519 key its certificate binds (sign_pk), so
 * any member can carry the record without being trusted.
 *
 * Endpoint record, version 1 (big-endian, see docs/wire-formats.md):
 *	u8 version | mesh_id[32] | node_id[16] | u64 seq | u64 timestamp |
 *	u8 nep (0..8), nep x (u8 source, u8 family 4|6, addr[4|16], u16 port) |
 *	sig[64]
 * sig = Ed25519(node sign key, "meshd endpoints v1" || every byte before sig).
 *
 * seq is the record's version: it only grows for a node (the owner uses
 * max(last seq + 1, unix ms) and persists it), and the newest seq wins a merge
 * (mesh/records.h). timestamp is the owner's unix seconds at signing; it bounds
 * the record's life (MESH_ENDPOINTS_TTL_S) and may not be ahead of the
 * receiver's clock by more than MESH_CERT_SKEW_S.
 *
 * The endpoint list is a set: entries are strictly ascending by (source,
 * family, addr, port), so there are no duplicates and one set has exactly one
 * encoding (mesh_endpoints_normalize() sorts and dedups a list). An address
 * must be unicast: not unspecified, loopback, multicast, the IPv4 broadcast
 * address or an IPv4-mapped IPv6 address (IPv4 travels only as family 4). The
 * port is never 0. Which of these addresses are worth probing is the path
 * layer's policy, not this format's.
 */
#ifndef MESHD_MESH_ENDPOINTS_H
#define MESHD_MESH_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/envelope.h"
#include "mesh/identity.h"
#include "util/buf.h"

enum {
	MESH_ENDPOINTS_VERSION = 1,
	MESH_ENDPOINTS_MAX = 8,			/* endpoints per record */
	MESH_ENDPOINTS_TTL_S = 6 * 3600,	/* a record dies this long after its
						 * timestamp; owners re-sign at
						 * least every TTL / 4 */
	MESH_EP_ENTRY_MAX_LEN = 1 + 1 + 16 + 2,
	MESH_ENDPOINTS_FIXED_LEN = MESH_ENVELOPE_FIXED_LEN + 1,
	MESH_ENDPOINTS_MAX_LEN = MESH_ENDPOINTS_FIXED_LEN + MESH_ENDPOINTS_MAX * MESH_EP_ENTRY_MAX_LEN,
};

/* Where an endpoint came from (wire values). */
enum mesh_ep_source {
	MESH_EP_LOCAL = 1,	/* an address of one of the node's interfaces */
	MESH_EP_REFLEXIVE = 2,	/* the node's address as another member saw it */
	MESH_EP_PORTMAP = 3,	/* mapped on the node's gateway (NAT-PMP, UPnP) */
	MESH_EP_TCP = 4,	/* a TCP entry (docs/decisions.md D17): the node
				 * accepts fallback connections from members on
				 * this address and TCP port; never a UDP
				 * candidate */
};

#define MESH_ENDPOINTS_DOMAIN "meshd endpoints v1"

struct mesh_ep {
	uint8_t source;		/* enum mesh_ep_source */
	uint8_t family;		/* MESH_FAMILY_V4 or MESH_FAMILY_V6 */
	uint8_t addr[16];	/* v4 uses addr[0..3]; the rest is zero */
	uint16_t port;		/* host order, never 0 */
};

/* version is MESH_ENDPOINTS_VERSION; the header fields are the envelope's
 * (mesh/envelope.h). */
struct mesh_endpoints {
	union {
		struct mesh_envelope env;
		struct {
			MESH_ENVELOPE_FIELDS;
		};
	};
	uint8_t nep;
	struct mesh_ep ep[MESH_ENDPOINTS_MAX];	/* strictly ascending */
	uint8_t sig[MESH_SIG_LEN];
};

/* The envelope kind of endpoint records (domain, version, TTL, body). */
extern const struct mesh_envelope_kind mesh_endpoints_kind;

/* True when ep is one well-formed entry (known source and family, unicast
 * address, unused address bytes zero, port not 0). */
bool mesh_ep_valid(const struct mesh_ep *ep);

/* A TCP entry (MESH_EP_TCP), not a UDP endpoint. */
static inline bool mesh_ep_is_tcp(const struct mesh_ep *ep)
{
	return ep->source == MESH_EP_TCP;
}

/* One entry on the wire: u8 source | u8 family | addr[4|16] | u16 port.
 * encode appends it (w's error when full; ep must be valid); decode reads
 * one and returns 0, or MESHD_E_PROTO when it is malformed or not valid
 * (ep is zeroed first). */
int mesh_ep_encode(const struct mesh_ep *ep, struct wr *w);
int mesh_ep_decode(struct rd *rd, struct mesh_ep *ep);

/* Addresses that are only reachable on their own network: RFC 1918,
 * CGNAT 100.64/10, link-local, ULA. */
bool mesh_ep_private(const struct mesh_ep *ep);

/* Sorts e->ep[0..nep) into the canonical order and removes duplicates
 * (nep may shrink). Does not validate the entries. */
void mesh_endpoints_normalize(struct mesh_endpoints *e);

/* Appends the whole record (signature included) to w. Returns 0;
 * MESHD_E_INVAL when the struct is not encodable (unknown version, nep > 8,
 * an invalid entry, entries not strictly ascending); MESHD_E_RANGE when w is
 * full (nothing written). */
int mesh_endpoints_encode(const struct mesh_endpoints *e, struct wr *w);

/* Strict decode of exactly len bytes. Returns 0 or MESHD_E_PROTO; out is
 * zeroed on error. Does not check the signature, the mesh or the times. */
int mesh_endpoints_decode(const uint8_t *p, size_t len, struct mesh_endpoints *out);

/* Signs e in place with the node's Ed25519 secret key. Returns 0;
 * MESHD_E_INVAL when e is not encodable; MESHD_E_CRYPTO. */
int mesh_endpoints_sign(struct mesh_endpoints *e, const uint8_t node_sk[MESH_SK_LEN]);

/* True only when: version known, e->mesh_id equals mesh_id, the record is
 * encodable, timestamp <= now + MESH_CERT_SKEW_S, now < timestamp +
 * MESH_ENDPOINTS_TTL_S, and the signature by sign_pk (the node's certified
 * key) verifies. Never says which check failed. */
bool mesh_endpoints_verify(const struct mesh_endpoints *e, const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix);

/* The unix second from which e is expired (timestamp + TTL, saturating). */
uint64_t mesh_endpoints_expiry(const struct mesh_endpoints *e);

#endif
