/* TUN offloads in userspace: see offload.h. */
#include "config.h"

#include <string.h>

#include "offload.h"
#include "util/err.h"

enum {
	IP4_HDR = 20,
	IP6_HDR = 40,
	TCP_HDR = 20,
	UDP_HDR = 8,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	IP6_HOPOPTS = 0,
	IP6_ROUTING = 43,
	IP6_FRAGMENT = 44,
	IP6_DSTOPTS = 60,
	IP6_EXT_MAX = 8,	/* extension headers walked before giving up */
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
	IP4_FRAG_MASK = 0x3fff,	/* MF and the fragment offset; DF may be set */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* ---- the Internet checksum ----
 * Words are loaded in host order and summed wide; RFC 1071's byte-order
 * independence makes the folded sum, stored back in host order, the right
 * bytes. Regions must start at even offsets of the summed whole. */

/* 64-bit words with their carries counted apart (one add and one compare
 * per 8 bytes, no dependency on the carry flag): this runs at every byte
 * of the tunnel on both sides. The carries go back in at the end, which is
 * what ones'-complement addition does. */
static uint64_t csum_add(uint64_t s, const uint8_t *p, size_t n)
{
	uint64_t c = 0, v[4];

	while (n >= 32) {
		memcpy(v, p, 32);
		s += v[0];
		c += s < v[0];
		s += v[1];
		c += s < v[1];
		s += v[2];
		c += s < v[2];
		s += v[3];
		c += s < v[3];
		p += 32;
		n -= 32;
	}
	while (n >= 8) {
		memcpy(v, p, 8);
		s += v[0];
		c += s < v[0];
		p += 8;
		n -= 8;
	}
	if (n) {
		uint8_t t[8] = { 0 };

		memcpy(t, p, n);	/* a short tail sums as if zero-padded */
		memcpy(v, t, 8);
		s += v[0];
		c += s < v[0];
	}
	s += c;
	return s + (s < c);
}

static uint16_t csum_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void csum_store(uint8_t *p, uint16_t host_order_sum)
{
	memcpy(p, &host_order_sum, 2);
}

/* The pseudo-header sum for an L4 length and protocol. */
static uint64_t pseudo_sum(const uint8_t *ip, bool v6, unsigned proto, size_t l4len)
{
	uint8_t t[8] = { 0 };
	uint64_t s;

	if (v6) {
		s = csum_add(0, ip + 8, 32);
		wr32(t, (uint32_t)l4len);
		t[7] = (uint8_t)proto;
		return csum_add(s, t, 8);
	}
	s = csum_add(0, ip + 12, 8);
	t[1] = (uint8_t)proto;
	wr16(t + 2, (uint16_t)l4len);
	return csum_add(s, t, 4);
}

static void ip4_csum_fix(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	csum_store(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

/* ---- vnet header ---- */

void offload_vnet_decode(struct offload_vnet *vh, const uint8_t p[OFFLOAD_VNET_HDR_LEN])
{
	vh->flags = p[0];
	vh->gso_type = p[1];
	vh->hdr_len = le16(p + 2);
	vh->gso_size = le16(p + 4);
	vh->csum_start = le16(p + 6);
	vh->csum_offset = le16(p + 8);
}

void offload_vnet_encode(const struct offload_vnet *vh, uint8_t p[OFFLOAD_VNET_HDR_LEN])
{
	p[0] = vh->flags;
	p[1] = vh->gso_type;
	put_le16(p + 2, vh->hdr_len);
	put_le16(p + 4, vh->gso_size);
	put_le16(p + 6, vh->csum_start);
	put_le16(p + 8, vh->csum_offset);
}

/* ---- transmit side: cutting super-packets ---- */

/* The L4 header offset of an IPv6 packet after the extension headers the
 * kernel may put in front of a TSO/USO payload, and its protocol; false for
 * fragments, AH/ESP, a routing header still to be processed (its final
 * destination would change the pseudo-header) or a truncated chain. */
static bool ip6_l4(const uint8_t *pkt, size_t len, size_t *off, unsigned *proto)
{
	unsigned nh = pkt[6];
	size_t o = IP6_HDR;

	for (int i = 0; i < IP6_EXT_MAX; i++) {
		if (nh != IP6_HOPOPTS && nh != IP6_ROUTING && nh != IP6_DSTOPTS)
			break;
		if (o + 8 > len)
			return false;
		if (nh == IP6_ROUTING && pkt[o + 3] != 0)
			return false;
		nh = pkt[o];
		o += ((size_t)pkt[o + 1] + 1) * 8;
	}
	if (o > len || nh == IP6_HOPOPTS || nh == IP6_ROUTING || nh == IP6_DSTOPTS)
		return false;
	*off = o;
	*proto = nh;
	return true;
}

/* Completes a partial checksum as a NIC would: the sum from start to the
 * end (the field holds the pseudo-header part) stored at start + offset. A
 * zero result is sent as 0xffff, which means the same to TCP and is the
 * only form UDP allows. */
static int csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset)
{
	uint16_t c;

	if (start >= len || offset + 2 > len - start)
		return MESHD_E_PROTO;
	c = (uint16_t)~csum_fold(csum_add(0, pkt + start, len - start));
	csum_store(pkt + start + offset, c ? c : 0xffff);
	return 0;
}

int offload_super_parse(struct offload_super *sp, const struct offload_vnet *vh, uint8_t *pkt,
			size_t len)
{
	unsigned gt = vh->gso_type & (unsigned)~OFFLOAD_GSO_ECN, proto, ver;
	size_t l4off, hdrlen, payload;

	memset(sp, 0, sizeof *sp);
	sp->pkt = pkt;
	sp->len = len;
	sp->nseg = 1;
	if (len < IP4_HDR || len > OFFLOAD_MAX_PACKET)
		return MESHD_E_PROTO;
	if (gt == OFFLOAD_GSO_NONE) {
		sp->kind = OFFLOAD_PLAIN;
		if (vh->flags & OFFLOAD_F_NEEDS_CSUM)
			return csum_complete(pkt, len, vh->csum_start, vh->csum_offset);
		return 0;
	}
	if (!(vh->flags & OFFLOAD_F_NEEDS_CSUM) || vh->gso_size == 0)
		return MESHD_E_PROTO;
	ver = pkt[0] >> 4;
	if (ver == 4) {
		l4off = (size_t)(pkt[0] & 0x0f) * 4;
		if (gt != OFFLOAD_GSO_TCPV4 && gt != OFFLOAD_GSO_UDP_L4)
			return MESHD_E_PROTO;
		if (l4off < IP4_HDR || l4off > len || rd16(pkt + 2) != len ||
		    (rd16(pkt + 6) & IP4_FRAG_MASK))
			return MESHD_E_PROTO;
		proto = pkt[9];
	} else if (ver == 6) {
		if (gt != OFFLOAD_GSO_TCPV6 && gt != OFFLOAD_GSO_UDP_L4)
			return MESHD_E_PROTO;
		if (len < IP6_HDR || (size_t)rd16(pkt + 4) + IP6_HDR != len ||
		    !ip6_l4(pkt, len, &l4off, &proto))
			return MESHD_E_PROTO;
	} else {
		return MESHD_E_PROTO;
	}
	if (vh->csum_start != l4off)
		return MESHD_E_PROTO;
	if (gt == OFFLOAD_GSO_UDP_L4) {
		if (proto != PROTO_UDP || vh->csum_offset != UDP_CSUM_OFF)
			return MESHD_E_PROTO;
		hdrlen = l4off + UDP_HDR;
		if (hdrlen > len || rd16(pkt + l4off + 4) != len - l4off)
			return MESHD_E_PROTO;
		sp->kind = ver == 4 ? OFFLOAD_UDP4 : OFFLOAD_UDP6;
	} else {
		if (proto != PROTO_TCP || vh->csum_offset != TCP_CSUM_OFF || l4off + TCP_HDR > len)
			return MESHD_E_PROTO;
		hdrlen = l4off + (size_t)(pkt[l4off + 12] >> 4) * 4;
		if (hdrlen < l4off + TCP_HDR || hdrlen > len)
			return MESHD_E_PROTO;
		sp->kind = ver == 4 ? OFFLOAD_TCP4 : OFFLOAD_TCP6;
	}
	payload = len - hdrlen;
	sp->l4off = (uint16_t)l4off;
	sp->hdrlen = (uint16_t)hdrlen;
	sp->gso_size = vh->gso_size;
	sp->nseg = payload ? (unsigned)((payload + vh->gso_size - 1) / vh->gso_size) : 1;
	return 0;
}

int offload_segment(const struct offload_super *sp, unsigned idx, uint8_t *out, size_t cap,
		    size_t *outlen)
{
	size_t hdr = sp->hdrlen, l4 = sp->l4off, poff, plen, n;
	bool v6 = sp->kind == OFFLOAD_TCP6 || sp->kind == OFFLOAD_UDP6;
	bool tcp = sp->kind == OFFLOAD_TCP4 || sp->kind == OFFLOAD_TCP6;
	uint16_t c;

	if (idx >= sp->nseg)
		return MESHD_E_INVAL;
	if (sp->kind == OFFLOAD_PLAIN) {
		if (sp->len > cap)
			return MESHD_E_RANGE;
		memcpy(out, sp->pkt, sp->len);
		*outlen = sp->len;
		return 0;
	}
	poff = hdr + (size_t)idx * sp->gso_size;
	plen = sp->len - poff < sp->gso_size ? sp->len - poff : sp->gso_size;
	n = hdr + plen;
	if (n > cap)
		return MESHD_E_RANGE;
	memcpy(out, sp->pkt, hdr);
	memcpy(out + hdr, sp->pkt + poff, plen);
	if (v6) {
		wr16(out + 4, (uint16_t)(n - IP6_HDR));
	} else {
		wr16(out + 2, (uint16_t)n);
		wr16(out + 4, (uint16_t)(rd16(sp->pkt + 4) + idx));
		ip4_csum_fix(out, l4);
	}
	if (tcp) {
		wr32(out + l4 + 4, rd32(sp->pkt + l4 + 4) + (uint32_t)(idx * sp->gso_size));
		if (idx + 1 < sp->nseg)
			out[l4 + 13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (idx > 0)
			out[l4 + 13] &= (uint8_t)~TCP_CWR;
		out[l4 + TCP_CSUM_OFF] = out[l4 + TCP_CSUM_OFF + 1] = 0;
		c = (uint16_t)~csum_fold(csum_add(pseudo_sum(out, v6, PROTO_TCP, n - l4),
						  out + l4, n - l4));
		csum_store(out + l4 + TCP_CSUM_OFF, c);
	} else {
		wr16(out + l4 + 4, (uint16_t)(n - l4));
		out[l4 + UDP_CSUM_OFF] = out[l4 + UDP_CSUM_OFF + 1] = 0;
		c = (uint16_t)~csum_fold(csum_add(pseudo_sum(out, v6, PROTO_UDP, n - l4),
						  out + l4, n - l4));
		csum_store(out + l4 + UDP_CSUM_OFF, c ? c : 0xffff);
	}
	*outlen = n;
	return 0;
}

/* ---- receive side: coalescing ---- */

/* What a packet is to the coalescer. */
struct flow {
	enum offload_kind kind;	/* OFFLOAD_PLAIN: no flow key (never merged) */
	bool mergeable;		/* kind allows joining or being joined */
	size_t l4off, hdrlen, plen;
};

/* The flow of IPv4 (no options, not a fragment) and IPv6 (TCP/UDP as the
 * first next header) packets whose lengths agree. Mergeable are only those
 * the kernel's GRO would take: TCP with just ACK (and PSH), UDP with a
 * checksum, and only the protocols in allow. */
static void classify(const uint8_t *pkt, size_t len, unsigned allow, struct flow *f)
{
	unsigned proto;

	memset(f, 0, sizeof *f);
	f->kind = OFFLOAD_PLAIN;
	if (len < IP4_HDR)
		return;
	if (pkt[0] == 0x45) {
		if (rd16(pkt + 2) != len || (rd16(pkt + 6) & IP4_FRAG_MASK))
			return;
		proto = pkt[9];
		f->l4off = IP4_HDR;
	} else if (pkt[0] >> 4 == 6) {
		if (len < IP6_HDR || (size_t)rd16(pkt + 4) + IP6_HDR != len)
			return;
		proto = pkt[6];
		f->l4off = IP6_HDR;
	} else {
		return;
	}
	if (proto == PROTO_TCP) {
		if (len < f->l4off + TCP_HDR)
			return;
		f->hdrlen = f->l4off + (size_t)(pkt[f->l4off + 12] >> 4) * 4;
		if (f->hdrlen < f->l4off + TCP_HDR || f->hdrlen > len)
			return;
		f->kind = pkt[0] >> 4 == 4 ? OFFLOAD_TCP4 : OFFLOAD_TCP6;
		f->mergeable = (allow & OFFLOAD_GRO_TCP) &&
			       (pkt[f->l4off + 13] & (uint8_t)~TCP_PSH) == TCP_ACK;
	} else if (proto == PROTO_UDP) {
		f->hdrlen = f->l4off + UDP_HDR;
		if (len < f->hdrlen || rd16(pkt + f->l4off + 4) != len - f->l4off)
			return;
		f->kind = pkt[0] >> 4 == 4 ? OFFLOAD_UDP4 : OFFLOAD_UDP6;
		/* IPv4 without a UDP checksum: merging would invent one */
		f->mergeable = (allow & OFFLOAD_GRO_UDP) &&
			       !(pkt[0] >> 4 == 4 && rd16(pkt + f->l4off + UDP_CSUM_OFF) == 0);
	} else {
		return;
	}
	f->plen = len - f->hdrlen;
}

bool offload_l4_csum_ok(const uint8_t *pkt, size_t len)
{
	size_t l4off;
	unsigned proto;
	bool v6;

	if (len < IP4_HDR)
		return false;
	if (pkt[0] >> 4 == 4) {
		l4off = (size_t)(pkt[0] & 0x0f) * 4;
		if (l4off < IP4_HDR || rd16(pkt + 2) != len || l4off > len)
			return false;
		proto = pkt[9];
		v6 = false;
	} else if (pkt[0] >> 4 == 6) {
		if (len < IP6_HDR || (size_t)rd16(pkt + 4) + IP6_HDR != len ||
		    !ip6_l4(pkt, len, &l4off, &proto))
			return false;
		v6 = true;
	} else {
		return false;
	}
	if (proto == PROTO_TCP) {
		if (len - l4off < TCP_HDR)
			return false;
	} else if (proto == PROTO_UDP) {
		if (len - l4off < UDP_HDR)
			return false;
		if (!v6 && rd16(pkt + l4off + UDP_CSUM_OFF) == 0)
			return true;
	} else {
		return false;
	}
	return csum_fold(csum_add(pseudo_sum(pkt, v6, proto, len - l4off), pkt + l4off,
				  len - l4off)) == 0xffff;
}

void offload_gro_init(struct offload_gro *g, uint8_t *mem, unsigned allow)
{
	memset(g, 0, sizeof *g);
	for (unsigned i = 0; i < OFFLOAD_GRO_SLOTS; i++)
		g->item[i].buf = mem + (size_t)i * OFFLOAD_GRO_SLOT_SIZE;
	g->allow = allow;
}

void offload_gro_reset(struct offload_gro *g)
{
	g->n = 0;
}

static uint8_t *item_pkt(const struct offload_gro_item *it)
{
	return it->buf + OFFLOAD_VNET_HDR_LEN;
}

/* Same addresses and ports (the protocol is part of kind). */
static bool same_flow(const struct offload_gro_item *it, const uint8_t *pkt, bool v6)
{
	const uint8_t *q = item_pkt(it);

	if (v6 ? memcmp(q + 8, pkt + 8, 32) : memcmp(q + 12, pkt + 12, 8))
		return false;
	return memcmp(q + it->l4off, pkt + it->l4off, 4) == 0;
}

/* The IP fields a merged packet cannot carry per segment. */
static bool same_ip_fields(const uint8_t *q, const uint8_t *pkt, bool v6)
{
	if (v6)
		return memcmp(q, pkt, 4) == 0 && q[7] == pkt[7];
	return q[1] == pkt[1] && q[8] == pkt[8] && (q[6] & 0x40) == (pkt[6] & 0x40);
}

static bool can_merge(struct offload_gro_item *it, const uint8_t *pkt, const struct flow *f)
{
	const uint8_t *q = item_pkt(it);
	size_t l4 = it->l4off;
	bool v6 = it->kind == OFFLOAD_TCP6 || it->kind == OFFLOAD_UDP6;

	if (it->closed || it->nseg >= OFFLOAD_GRO_MAX_SEGS || f->plen == 0 ||
	    f->plen > it->seg || it->len + f->plen > OFFLOAD_MAX_PACKET ||
	    !same_ip_fields(q, pkt, v6))
		return false;
	if (it->kind == OFFLOAD_UDP4 || it->kind == OFFLOAD_UDP6)
		return true;
	/* TCP: next in sequence, same ack/window/options, flags equal but PSH */
	return f->hdrlen == it->hdrlen && rd32(pkt + l4 + 4) == it->next_seq &&
	       memcmp(q + l4 + 8, pkt + l4 + 8, 4) == 0 &&
	       memcmp(q + l4 + 14, pkt + l4 + 14, 2) == 0 &&
	       ((q[l4 + 13] ^ pkt[l4 + 13]) & (uint8_t)~TCP_PSH) == 0 &&
	       memcmp(q + l4 + TCP_HDR, pkt + l4 + TCP_HDR, it->hdrlen - l4 - TCP_HDR) == 0;
}

static void append(struct offload_gro *g, struct offload_gro_item *it, const uint8_t *pkt,
		   const struct flow *f)
{
	bool tcp = it->kind == OFFLOAD_TCP4 || it->kind == OFFLOAD_TCP6;

	memcpy(item_pkt(it) + it->len, pkt + f->hdrlen, f->plen);
	it->len += f->plen;
	it->nseg++;
	it->next_seq += (uint32_t)f->plen;
	g->merged++;
	if (f->plen < it->seg)
		it->closed = true;	/* only the last segment may be short */
	if (tcp && (pkt[it->l4off + 13] & TCP_PSH)) {
		item_pkt(it)[it->l4off + 13] |= TCP_PSH;
		it->closed = true;
	}
}

int offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len)
{
	struct offload_gro_item *it;
	struct flow f;

	if (len == 0 || len > OFFLOAD_MAX_PACKET)
		return MESHD_E_RANGE;
	classify(pkt, len, g->allow, &f);
	if (f.mergeable) {
		bool v6 = f.kind == OFFLOAD_TCP6 || f.kind == OFFLOAD_UDP6;

		/* Only the flow's newest item may grow: joining an older one
		 * would reorder the flow. */
		for (unsigned i = g->n; i-- > 0;) {
			it = &g->item[i];
			if (it->kind != f.kind || !same_flow(it, pkt, v6))
				continue;
			if (!can_merge(it, pkt, &f))
				break;
			/* Both checksums are checked before the first merge:
			 * the merged packet gets a fresh one from the kernel. */
			if (!it->verified) {
				if (!offload_l4_csum_ok(item_pkt(it), it->len)) {
					g->csum_bad++;
					it->closed = true;
					break;
				}
				it->verified = true;
			}
			if (!offload_l4_csum_ok(pkt, len)) {
				g->csum_bad++;
				f.mergeable = false;
				break;
			}
			append(g, it, pkt, &f);
			return 0;
		}
	}
	if (g->n == OFFLOAD_GRO_SLOTS)
		return MESHD_E_FULL;
	it = &g->item[g->n++];
	memcpy(item_pkt(it), pkt, len);
	it->len = len;
	it->kind = f.kind;
	it->nseg = 1;
	it->verified = false;
	it->closed = !f.mergeable || f.plen == 0;
	if (f.kind == OFFLOAD_PLAIN)
		return 0;
	it->l4off = (uint16_t)f.l4off;
	it->hdrlen = (uint16_t)f.hdrlen;
	it->seg = (uint16_t)f.plen;
	if (f.kind == OFFLOAD_TCP4 || f.kind == OFFLOAD_TCP6) {
		it->next_seq = rd32(pkt + f.l4off + 4) + (uint32_t)f.plen;
		if (pkt[f.l4off + 13] & TCP_PSH)
			it->closed = true;
	}
	return 0;
}

const uint8_t *offload_gro_item_out(struct offload_gro *g, unsigned i, size_t *len)
{
	struct offload_gro_item *it = &g->item[i];
	struct offload_vnet vh;
	uint8_t *q = item_pkt(it);
	size_t l4 = it->l4off, l4len;
	bool v6 = it->kind == OFFLOAD_TCP6 || it->kind == OFFLOAD_UDP6;
	bool tcp = it->kind == OFFLOAD_TCP4 || it->kind == OFFLOAD_TCP6;

	memset(&vh, 0, sizeof vh);
	if (it->nseg > 1) {
		l4len = it->len - l4;
		if (v6) {
			wr16(q + 4, (uint16_t)(it->len - IP6_HDR));
		} else {
			wr16(q + 2, (uint16_t)it->len);
			ip4_csum_fix(q, l4);
		}
		if (!tcp)
			wr16(q + l4 + 4, (uint16_t)l4len);
		/* NEEDS_CSUM: the field holds the (uncomplemented) pseudo-header sum */
		vh.csum_offset = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
		csum_store(q + l4 + vh.csum_offset,
			   csum_fold(pseudo_sum(q, v6, tcp ? PROTO_TCP : PROTO_UDP, l4len)));
		vh.flags = OFFLOAD_F_NEEDS_CSUM;
		vh.gso_type = !tcp ? OFFLOAD_GSO_UDP_L4 : v6 ? OFFLOAD_GSO_TCPV6 : OFFLOAD_GSO_TCPV4;
		vh.hdr_len = it->hdrlen;
		vh.gso_size = it->seg;
		vh.csum_start = (uint16_t)l4;
	}
	offload_vnet_encode(&vh, it->buf);
	*len = OFFLOAD_VNET_HDR_LEN + it->len;
	return it->buf;
}
