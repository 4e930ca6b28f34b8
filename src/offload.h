/* TUN offloads in userspace: segmentation of the kernel's super-packets and
 * coalescing of received segments into super-packets.
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands the TUN reader one
 * "super-packet" of up to 64 KiB per TCP send (TSO) or UDP_SEGMENT send (USO),
 * behind a 10-byte virtio_net_hdr that says how to cut it (gso_type,
 * gso_size) and which checksum is still to be done (NEEDS_CSUM, csum_start,
 * csum_offset). WireGuard carries IP packets of at most the TUN MTU, so the
 * TX side cuts the super-packet back into MTU-sized packets here, each with
 * its own IP length, IPv4 id, TCP sequence number, flags and a complete
 * checksum: one read and one header walk per 64 KiB instead of per packet.
 *
 * The RX side does the opposite for the TUN write: decrypted segments of one
 * TCP (or UDP) flow that the kernel's own GRO would merge are merged into
 * one packet with a GSO virtio_net_hdr (NEEDS_CSUM: the L4 checksum field
 * holds the pseudo-header sum), so the kernel runs its stack once per 64 KiB.
 * Every packet's L4 checksum is verified before it is merged: merging
 * replaces the sender's checksums with NEEDS_CSUM, and a packet that arrived
 * broken must not come out looking valid. A packet written alone keeps its
 * own checksum (the kernel checks it as for a plain TUN), so the check is
 * done lazily, only when a second packet joins.
 *
 * Pure code over caller buffers: no allocation, no I/O, no libuv. The
 * virtio_net_hdr fields are little-endian (virtio 1.0; the TUN is put in
 * little-endian vnet mode by tun_linux.c).
 */
#ifndef MESHD_OFFLOAD_H
#define MESHD_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	OFFLOAD_VNET_HDR_LEN = 10,	/* struct virtio_net_hdr */
	OFFLOAD_MAX_PACKET = 65535,	/* largest IP packet (total length field) */

	/* virtio_net_hdr values (linux/virtio_net.h; UDP_L4 is newer than
	 * some userspace headers, so all are spelled here) */
	OFFLOAD_F_NEEDS_CSUM = 1,
	OFFLOAD_F_DATA_VALID = 2,
	OFFLOAD_GSO_NONE = 0,
	OFFLOAD_GSO_TCPV4 = 1,
	OFFLOAD_GSO_TCPV6 = 4,
	OFFLOAD_GSO_UDP_L4 = 5,
	OFFLOAD_GSO_ECN = 0x80,

	/* coalescing table: flows merged per flush, and what one item may hold */
	OFFLOAD_GRO_SLOTS = 16,
	OFFLOAD_GRO_SLOT_SIZE = (OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET + 63) & ~63,
	OFFLOAD_GRO_MAX_SEGS = 64,	/* UDP_MAX_SEGMENTS of older kernels */
};

/* The virtio_net_hdr, host byte order. */
struct offload_vnet {
	uint8_t flags;		/* OFFLOAD_F_* */
	uint8_t gso_type;	/* OFFLOAD_GSO_*, maybe | OFFLOAD_GSO_ECN */
	uint16_t hdr_len;	/* IP + L4 header bytes (a hint; not trusted) */
	uint16_t gso_size;	/* L4 payload bytes per segment */
	uint16_t csum_start;	/* offset of the L4 header */
	uint16_t csum_offset;	/* of the checksum field from csum_start */
};

void offload_vnet_decode(struct offload_vnet *vh, const uint8_t p[OFFLOAD_VNET_HDR_LEN]);
void offload_vnet_encode(const struct offload_vnet *vh, uint8_t p[OFFLOAD_VNET_HDR_LEN]);

enum offload_kind {
	OFFLOAD_PLAIN = 0,	/* one packet, nothing to cut */
	OFFLOAD_TCP4,
	OFFLOAD_TCP6,
	OFFLOAD_UDP4,
	OFFLOAD_UDP6,
};

/* A checked super-packet, ready to be cut by offload_segment(). */
struct offload_super {
	const uint8_t *pkt;	/* borrowed: the packet after the vnet header */
	size_t len;
	enum offload_kind kind;
	uint16_t l4off;		/* IP header bytes, extension headers included */
	uint16_t hdrlen;	/* l4off + TCP/UDP header */
	uint16_t gso_size;
	unsigned nseg;		/* >= 1 */
};

/* Checks pkt (len bytes) against the vnet header vh read with it. A GSO
 * packet (TCPV4/TCPV6/UDP_L4) becomes sp->nseg segments of sp->gso_size
 * payload bytes (the last may be shorter). A GSO_NONE packet with
 * NEEDS_CSUM gets its checksum completed in place (hence pkt is writable)
 * and is one OFFLOAD_PLAIN segment; without NEEDS_CSUM it is passed as is.
 * IPv4 options and IPv6 hop-by-hop, destination-options and routing headers
 * (with no segments left) are allowed in GSO packets; fragments are not.
 * Returns 0, or MESHD_E_PROTO for anything inconsistent (wrong version for
 * the gso_type, lengths that disagree, csum_start not at the L4 header, a
 * checksum position past the end, gso_size 0). */
int offload_super_parse(struct offload_super *sp, const struct offload_vnet *vh, uint8_t *pkt,
			size_t len);

/* Writes segment idx (< sp->nseg) as a complete IP packet into out (cap
 * bytes): headers copied, IP length and IPv4 id (+idx) and header checksum,
 * TCP sequence number advanced by idx * gso_size, FIN and PSH kept only on
 * the last segment and CWR only on the first, UDP length, and a complete
 * L4 checksum. For OFFLOAD_PLAIN it copies the packet. Returns 0 with
 * *outlen set, MESHD_E_RANGE when cap is too small, MESHD_E_INVAL for a bad
 * idx. */
int offload_segment(const struct offload_super *sp, unsigned idx, uint8_t *out, size_t cap,
		    size_t *outlen);

/* ---- receive side: coalescing for the TUN write ---- */

enum {
	OFFLOAD_GRO_TCP = 1,	/* allow merging TCP (the TUN has TSO4/TSO6) */
	OFFLOAD_GRO_UDP = 2,	/* allow merging UDP (the TUN has USO4/USO6) */
};

struct offload_gro_item {
	uint8_t *buf;		/* slot: OFFLOAD_VNET_HDR_LEN bytes, then the packet */
	size_t len;		/* packet bytes so far */
	enum offload_kind kind;	/* OFFLOAD_PLAIN: not mergeable */
	uint16_t l4off, hdrlen;
	uint16_t seg;		/* payload bytes of the first segment (gso_size) */
	uint16_t nseg;
	uint32_t next_seq;	/* TCP: sequence number the next segment must have */
	bool closed;		/* a short segment or PSH ended it */
	bool verified;		/* L4 checksum checked (and right) */
};

struct offload_gro {
	struct offload_gro_item item[OFFLOAD_GRO_SLOTS];
	unsigned n;
	unsigned allow;		/* OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP */
	uint64_t csum_bad;	/* packets whose L4 checksum was wrong (not merged) */
	uint64_t merged;	/* packets appended to an earlier one */
};

/* mem: OFFLOAD_GRO_SLOTS * OFFLOAD_GRO_SLOT_SIZE bytes owned by the caller. */
void offload_gro_init(struct offload_gro *g, uint8_t *mem, unsigned allow);
/* Takes a copy of the IP packet pkt: appended to the newest item of its
 * flow when the kernel's GRO rules allow it (same addresses, ports and IP
 * fields; TCP: next sequence number, only ACK/PSH, same ack, window and
 * options, not longer than the first segment; UDP: not longer than the
 * first), else in a new item. Items keep arrival order, so one flow's
 * packets stay in order. Returns 0; MESHD_E_FULL when a new item is needed
 * and all slots are used (write the items out, reset, add again);
 * MESHD_E_RANGE when len is 0 or too long. */
int offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len);
/* Item i (< g->n) ready for one TUN write: fixes the merged packet's
 * headers, writes the vnet header in front and returns its start; *len is
 * vnet header + packet. Call once per item, after the last add. */
const uint8_t *offload_gro_item_out(struct offload_gro *g, unsigned i, size_t *len);
/* Empties the table (the counters stay). */
void offload_gro_reset(struct offload_gro *g);

/* True when pkt is an IPv4/IPv6 TCP or UDP packet whose L4 checksum, pseudo
 * header included, verifies (UDP over IPv4 with checksum 0 counts as right).
 * IPv4 options and IPv6 extension headers are walked as in
 * offload_super_parse(). */
bool offload_l4_csum_ok(const uint8_t *pkt, size_t len);

#endif
