/* TCP MSS clamping for packets through the mesh TUN (subnet routes).
 *
 * A LAN host behind a subnet gateway does not know the tunnel's smaller MTU
 * and would announce (and be sent) full-size segments, which then need
 * fragmentation or PMTU discovery that ICMP filters often break. The gateway
 * lowers the MSS option of every SYN it forwards, both directions, to what
 * fits the TUN MTU: MTU - 40 (IPv4: 20 IP + 20 TCP) or MTU - 60 (IPv6).
 *
 * Pure function over one IP packet; no allocation, no I/O.
 */
#ifndef MESHD_MSS_H
#define MESHD_MSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When pkt (len bytes, starting at the IP header) is an unfragmented IPv4 or
 * IPv6 TCP segment with SYN set and an MSS option larger than the clamp for
 * mtu, lowers the option in place and fixes the TCP checksum incrementally
 * (RFC 1624). IPv6 extension headers are not walked: TCP must be the first
 * next header. Never reads beyond len; anything malformed is left alone.
 * Returns true when the packet was changed. */
bool mss_clamp(uint8_t *pkt, size_t len, unsigned mtu);

/* The cheap test for the data path: true when pkt may be a TCP SYN that
 * mss_clamp() would look at (IP version, protocol byte, SYN flag at the
 * fixed offset for an IPv4 header length or IPv6). */
static inline bool mss_maybe_syn(const uint8_t *pkt, size_t len)
{
	size_t off;

	if (len < 40)
		return false;
	if (pkt[0] >> 4 == 4) {
		if (pkt[9] != 6)
			return false;
		off = (size_t)(pkt[0] & 0x0f) * 4;
	} else if (pkt[0] >> 4 == 6) {
		if (pkt[6] != 6)
			return false;
		off = 40;
	} else {
		return false;
	}
	return len >= off + 14 && (pkt[off + 13] & 0x02);
}

#endif
