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

/* How much of the offending packet an error quotes: all of it, or as much
 * as keeps the error within max bytes (hdr: the error's IP header). */
static size_t quote_len(size_t len, size_t max, size_t hdr)
{
	return len < max - hdr - ICMP_HDR ? len : max - hdr - ICMP_HDR;
}

/* Zeroes the error's IP and ICMP headers (hdr bytes of IP) and addresses it
 * back to pkt's source, from pkt's destination: the addresses are alen
 * bytes each, source at off, destination right after. */
static void reply_start(uint8_t *out, size_t hdr, const uint8_t *pkt, size_t off, size_t alen)
{
	memset(out, 0, hdr + ICMP_HDR);
	memcpy(out + off, pkt + off + alen, alen);	/* from the unreachable destination */
	memcpy(out + off + alen, pkt + off, alen);
}

static size_t build_v4(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, quote, total;
	const uint8_t *src = pkt + 12;

	if (ihl < V4_HDR || len < ihl || ((size_t)pkt[2] << 8 | pkt[3]) < ihl)
		return 0;
	if ((pkt[6] & 0x40) == 0 || (pkt[6] & 0x1f) != 0 || pkt[7] != 0)
		return 0;	/* no DF, or not the first fragment */
	if (v4_is_icmp_error(pkt, len, ihl))
		return 0;
	if ((src[0] == 0 && src[1] == 0 && src[2] == 0 && src[3] == 0) || src[0] >= 224)
		return 0;	/* unspecified, multicast, broadcast, class E */
	quote = quote_len(len, ICMP_PTB_V4_MAX, V4_HDR);
	total = V4_HDR + ICMP_HDR + quote;
	if (total > cap || mtu > 0xffff)
		return 0;
	reply_start(out, V4_HDR, pkt, 12, 4);
	out[0] = 0x45;
	be16enc(out + 2, (uint16_t)total);
	out[8] = TTL;
	out[9] = IPPROTO_ICMP_;
	be16enc(out + 10, csum_finish(csum_add(0, out, V4_HDR)));
	out[V4_HDR] = ICMP_DEST_UNREACH;
	out[V4_HDR + 1] = ICMP_FRAG_NEEDED;
	be16enc(out + V4_HDR + 6, (uint16_t)mtu);	/* next-hop MTU (RFC 1191) */
	memcpy(out + V4_HDR + ICMP_HDR, pkt, quote);
	be16enc(out + V4_HDR + 2, csum_finish(csum_add(0, out + V4_HDR, ICMP_HDR + quote)));
	return total;
}

static size_t build_v6(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	static const uint8_t zero[16];
	const uint8_t *src = pkt + 8;
	size_t quote, plen;
	uint32_t s;

	if (memcmp(src, zero, 16) == 0 || src[0] == 0xff)
		return 0;	/* unspecified or multicast source */
	/* an ICMPv6 error (type < 128) right after the fixed header */
	if (pkt[6] == IPPROTO_ICMPV6_ && len > V6_HDR && pkt[V6_HDR] < 128)
		return 0;
	quote = quote_len(len, ICMP_PTB_V6_MAX, V6_HDR);
	plen = ICMP_HDR + quote;
	if (V6_HDR + plen > cap)
		return 0;
	reply_start(out, V6_HDR, pkt, 8, 16);
	out[0] = 0x60;
	be16enc(out + 4, (uint16_t)plen);
	out[6] = IPPROTO_ICMPV6_;
	out[7] = TTL;
	out[V6_HDR] = ICMPV6_PKT_TOOBIG;
	be32enc(out + V6_HDR + 4, mtu);		/* MTU (RFC 4443) */
	memcpy(out + V6_HDR + ICMP_HDR, pkt, quote);
	/* pseudo-header: src, dst, upper-layer length, next header */
	s = csum_add(0, out + 8, 32);
	s += (uint32_t)(plen >> 16) + (uint32_t)(plen & 0xffff);
	s += IPPROTO_ICMPV6_;
	be16enc(out + V6_HDR + 2, csum_finish(csum_add(s, out + V6_HDR, plen)));
	return V6_HDR + plen;
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
