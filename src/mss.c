/* TCP MSS clamping: see mss.h. */
#include "config.h"

#include "mss.h"

enum {
	TCP_HDR_MIN = 20,
	TCP_OPT_EOL = 0,
	TCP_OPT_NOP = 1,
	TCP_OPT_MSS = 2,
	TCP_OPT_MSS_LEN = 4,
	TCP_FLAG_SYN = 0x02,
	IP4_HDR_MIN = 20,
	IP6_HDR = 40,
	IPPROTO_TCP_ = 6,
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in ones' complement. */
static uint16_t csum_replace(uint16_t hc, uint16_t m, uint16_t m_new)
{
	uint32_t s = (uint32_t)(uint16_t)~hc + (uint16_t)~m + m_new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The TCP header of pkt: offset and the limit of what belongs to the
 * segment, or false when pkt is not an unfragmented TCP packet. */
static bool tcp_locate(const uint8_t *pkt, size_t len, bool *v6, size_t *off, size_t *end)
{
	if (len < IP4_HDR_MIN)
		return false;
	if (pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, total = rd16(pkt + 2);

		if (pkt[9] != IPPROTO_TCP_ || ihl < IP4_HDR_MIN || total > len || total < ihl)
			return false;
		if (rd16(pkt + 6) & 0x3fff)	/* MF or a fragment offset */
			return false;
		*v6 = false;
		*off = ihl;
		*end = total;
		return true;
	}
	if (pkt[0] >> 4 == 6) {
		size_t plen;

		if (len < IP6_HDR || pkt[6] != IPPROTO_TCP_)
			return false;
		plen = rd16(pkt + 4);
		if (plen > len - IP6_HDR)
			return false;
		*v6 = true;
		*off = IP6_HDR;
		*end = IP6_HDR + plen;
		return true;
	}
	return false;
}

bool mss_clamp(uint8_t *pkt, size_t len, unsigned mtu)
{
	size_t off, end, doff, i;
	unsigned clamp;
	uint8_t *tcp;
	bool v6;

	if (!tcp_locate(pkt, len, &v6, &off, &end) || end - off < TCP_HDR_MIN)
		return false;
	tcp = pkt + off;
	if (!(tcp[13] & TCP_FLAG_SYN))
		return false;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < TCP_HDR_MIN || doff > end - off)
		return false;
	if (mtu <= (v6 ? 60u : 40u))
		return false;
	clamp = mtu - (v6 ? 60u : 40u);
	if (clamp > 0xffff)
		clamp = 0xffff;
	for (i = TCP_HDR_MIN; i < doff;) {
		uint8_t kind = tcp[i], olen;

		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			break;
		olen = tcp[i + 1];
		if (olen < 2 || olen > doff - i)
			break;
		if (kind == TCP_OPT_MSS && olen == TCP_OPT_MSS_LEN) {
			uint16_t mss = rd16(tcp + i + 2);

			if (mss <= clamp)
				return false;
			/* the MSS value sits at an even offset only when i is
			 * even; the checksum is over 16-bit words, so fix the
			 * word(s) that hold it */
			if (!(i & 1)) {
				wr16(tcp + 16, csum_replace(rd16(tcp + 16), mss, (uint16_t)clamp));
				wr16(tcp + i + 2, (uint16_t)clamp);
			} else {
				size_t w = i + 1;	/* even: holds len | mss hi */
				uint16_t a = rd16(tcp + w), b = rd16(tcp + w + 2), na, nb;

				wr16(tcp + i + 2, (uint16_t)clamp);
				na = rd16(tcp + w);
				nb = rd16(tcp + w + 2);
				wr16(tcp + 16, csum_replace(csum_replace(rd16(tcp + 16), a, na), b, nb));
			}
			return true;
		}
		i += olen;
	}
	return false;
}
