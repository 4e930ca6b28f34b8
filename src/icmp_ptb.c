/* ICMP "fragmentation needed" / ICMPv6 "packet too big" (icmp_ptb.h). */
#include <string.h>

#include "icmp_ptb.h"
#include "util/csum.h"
#include "util/endian.h"
#include "util/tokens.h"

enum {
	V4_HDR = 20,
	V6_HDR = 40,
	ICMP_HDR = 8,
	IPPROTO_ICMP_ = 1,
	IPPROTO_ICMPV6_ = 58,
	ICMP_DEST_UNREACH = 3,
	ICMP_FRAG_NEEDED = 4,
	ICMPV6_PKT_TOOBIG = 2,
	TTL = 64,
};

bool icmp_ptb_v4_may_fragment(const uint8_t *pkt, size_t len)
{
	return len >= V4_HDR && pkt[0] >> 4 == 4 && (pkt[6] & 0x40) == 0;
}

/* ICMPv4 types that are errors (no error about an error). */
static bool v4_is_icmp_error(const uint8_t *pkt, size_t len, size_t ihl)
{
	if (pkt[9] != IPPROTO_ICMP_ || len <= ihl)
		return false;
	switch (pkt[ihl]) {
	case 3: case 4: case 5: case 11: case 12:
		return true;
	default:
		return false;
	}
}

/* What differs between the two errors' IP headers. */
struct ip_version {
	size_t hdr;		/* header length */
	size_t max;		/* the largest error (ICMP_PTB_V4_MAX, _V6_MAX) */
	uint8_t first;		/* first byte: version (and IPv4's IHL) */
	size_t addr_off;	/* source address; the destination follows */
	size_t alen;		/* address length */
};

static const struct ip_version ip4 = { V4_HDR, ICMP_PTB_V4_MAX, 0x45, 12, 4 };
static const struct ip_version ip6 = { V6_HDR, ICMP_PTB_V6_MAX, 0x60, 8, 16 };

/* Starts the error about pkt (len bytes) in out (cap bytes): zeroes its IP
 * and ICMP headers, sets the first byte and addresses it back to pkt's
 * source, from pkt's destination. It quotes all of pkt, or as much as keeps
 * the error within v->max bytes. Returns the error's length, or 0 when it
 * does not fit in cap. */
static size_t reply_start(const struct ip_version *v, const uint8_t *pkt, size_t len,
			  uint8_t *out, size_t cap)
{
	size_t room = v->max - v->hdr - ICMP_HDR;
	size_t total = v->hdr + ICMP_HDR + (len < room ? len : room);

	if (total > cap)
		return 0;
	memset(out, 0, v->hdr + ICMP_HDR);
	out[0] = v->first;
	/* from the unreachable destination */
	memcpy(out + v->addr_off, pkt + v->addr_off + v->alen, v->alen);
	memcpy(out + v->addr_off + v->alen, pkt + v->addr_off, v->alen);
	return total;
}

/* Writes the ICMP message that follows the IP header at icmp: type, code,
 * the MTU in the last 32 bits of the header (ICMPv4's unused 16 bits and
 * 16-bit next-hop MTU, RFC 1191; ICMPv6's 32-bit MTU, RFC 4443), quote
 * bytes of pkt, and the checksum seeded with sum (0, or IPv6's
 * pseudo-header sum). The header was zeroed by reply_start. */
static void icmp_finish(uint8_t *icmp, uint8_t type, uint8_t code, uint32_t mtu,
			const uint8_t *pkt, size_t quote, uint32_t sum)
{
	icmp[0] = type;
	icmp[1] = code;
	be32enc(icmp + 4, mtu);
	memcpy(icmp + ICMP_HDR, pkt, quote);
	be16enc(icmp + 2, csum_finish(csum_add(sum, icmp, ICMP_HDR + quote)));
}

static size_t build_v4(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, total;
	const uint8_t *src = pkt + 12;

	if (ihl < V4_HDR || len < ihl || ((size_t)pkt[2] << 8 | pkt[3]) < ihl)
		return 0;
	if ((pkt[6] & 0x40) == 0 || (pkt[6] & 0x1f) != 0 || pkt[7] != 0)
		return 0;	/* no DF, or not the first fragment */
	if (v4_is_icmp_error(pkt, len, ihl))
		return 0;
	if ((src[0] == 0 && src[1] == 0 && src[2] == 0 && src[3] == 0) || src[0] >= 224)
		return 0;	/* unspecified, multicast, broadcast, class E */
	if (mtu > 0xffff || (total = reply_start(&ip4, pkt, len, out, cap)) == 0)
		return 0;
	be16enc(out + 2, (uint16_t)total);
	out[8] = TTL;
	out[9] = IPPROTO_ICMP_;
	be16enc(out + 10, csum_finish(csum_add(0, out, V4_HDR)));
	icmp_finish(out + V4_HDR, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu, pkt,
		    total - V4_HDR - ICMP_HDR, 0);
	return total;
}

static size_t build_v6(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	static const uint8_t zero[16];
	const uint8_t *src = pkt + 8;
	size_t total, plen;
	uint32_t s;

	if (memcmp(src, zero, 16) == 0 || src[0] == 0xff)
		return 0;	/* unspecified or multicast source */
	/* an ICMPv6 error (type < 128) right after the fixed header */
	if (pkt[6] == IPPROTO_ICMPV6_ && len > V6_HDR && pkt[V6_HDR] < 128)
		return 0;
	if ((total = reply_start(&ip6, pkt, len, out, cap)) == 0)
		return 0;
	plen = total - V6_HDR;
	be16enc(out + 4, (uint16_t)plen);
	out[6] = IPPROTO_ICMPV6_;
	out[7] = TTL;
	/* pseudo-header: src, dst, upper-layer length, next header */
	s = csum_add(0, out + 8, 32);
	s += (uint32_t)(plen >> 16) + (uint32_t)(plen & 0xffff);
	s += IPPROTO_ICMPV6_;
	icmp_finish(out + V6_HDR, ICMPV6_PKT_TOOBIG, 0, mtu, pkt, plen - ICMP_HDR, s);
	return total;
}

size_t icmp_ptb_build(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	if (len >= V4_HDR && pkt[0] >> 4 == 4)
		return build_v4(pkt, len, mtu, out, cap);
	if (len >= V6_HDR && pkt[0] >> 4 == 6)
		return mtu >= 1280 ? build_v6(pkt, len, mtu, out, cap) : 0;
	return 0;
}

void icmp_ptb_limit_init(struct icmp_ptb_limit *l, mtime_ns now)
{
	l->tokens = ICMP_PTB_RATE;
	l->refill = now;
}

bool icmp_ptb_limit_take(struct icmp_ptb_limit *l, mtime_ns now)
{
	return tokens_take(&l->tokens, &l->refill, ICMP_PTB_RATE, ICMP_PTB_RATE, now);
}
