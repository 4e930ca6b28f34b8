/* TUN offloads (src/offload.c): cutting TSO/USO super-packets into segments
 * and coalescing segments back into one super-packet.
 *
 * Every checksum is checked with the naive big-endian sum below, not with
 * the code under test. Packets are built by hand: IPv4 with and without
 * options, IPv6 with and without extension headers, TCP with options.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "util/err.h"

enum { V4 = 4, V6 = 6, TCP = 6, UDP = 17, BUF = 70000 };

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static unsigned fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* The L4 checksum of a packet over the pseudo-header, with l4 the L4 offset:
 * 0xffff when the stored checksum is right. */
static unsigned l4_sum(const uint8_t *pkt, size_t len, size_t l4, unsigned proto)
{
	uint32_t s = 0;
	size_t l4len = len - l4;

	if (pkt[0] >> 4 == V4) {
		s = sum16(s, pkt + 12, 8);
	} else {
		s = sum16(s, pkt + 8, 32);
		s += (uint32_t)(l4len >> 16);
	}
	s += proto + (uint32_t)(l4len & 0xffff);
	s = sum16(s, pkt + l4, l4len);
	return fold(s);
}

static bool ip4_hdr_ok(const uint8_t *pkt)
{
	return fold(sum16(0, pkt, (size_t)(pkt[0] & 15) * 4)) == 0xffff;
}

/* ---- packet builders ---- */

struct spec {
	int ver;
	unsigned proto;
	size_t ipopt;		/* IPv4 option bytes (multiple of 4) */
	size_t ext;		/* IPv6: bytes of hop-by-hop + dest-options headers */
	size_t tcpopt;		/* TCP option bytes (multiple of 4) */
	size_t payload;
	uint8_t flags;		/* TCP flags */
	uint32_t seq;
	uint16_t id;
	uint16_t sport;
};

/* Builds the packet into p; returns its length, *l4 the L4 offset. The
 * payload is a counter pattern from seed. The L4 checksum is left 0. */
static size_t build(const struct spec *s, uint8_t *p, size_t *l4, unsigned seed)
{
	size_t ip, hl, len;
	unsigned last;

	if (s->ver == V4) {
		ip = 20 + s->ipopt;
	} else {
		ip = 40 + s->ext;
	}
	hl = s->proto == TCP ? 20 + s->tcpopt : 8;
	len = ip + hl + s->payload;
	memset(p, 0, ip + hl);
	if (s->ver == V4) {
		p[0] = (uint8_t)(0x40 | ip / 4);
		p[1] = 0x10;
		put16(p + 2, (unsigned)len);
		put16(p + 4, s->id);
		p[6] = 0x40;	/* DF */
		p[8] = 64;
		p[9] = (uint8_t)s->proto;
		put32(p + 12, 0x0a000001);
		put32(p + 16, 0x0a000002);
		for (size_t i = 20; i < ip; i++)
			p[i] = 1;	/* NOP options */
		put16(p + 10, ~fold(sum16(0, p, ip)) & 0xffff);
	} else {
		p[0] = 0x60;
		p[1] = 0x01;
		p[3] = 0x23;	/* flow label */
		put16(p + 4, (unsigned)(len - 40));
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
		last = s->proto;
		if (s->ext) {
			/* hop-by-hop (8 bytes), then dest options with the rest */
			p[6] = 0;
			p[40] = (uint8_t)(s->ext > 8 ? 60 : last);
			p[42] = 1;	/* PadN over the 6 option bytes */
			p[43] = 4;
			if (s->ext > 8) {
				p[48] = (uint8_t)last;
				p[49] = (uint8_t)((s->ext - 8) / 8 - 1);
				p[50] = 1;
				p[51] = (uint8_t)(s->ext - 8 - 4);
			}
		} else {
			p[6] = (uint8_t)last;
		}
	}
	*l4 = ip;
	put16(p + ip, s->sport);
	put16(p + ip + 2, 443);
	if (s->proto == TCP) {
		put32(p + ip + 4, s->seq);
		put32(p + ip + 8, 0x11223344);
		p[ip + 12] = (uint8_t)((hl / 4) << 4);
		p[ip + 13] = s->flags;
		put16(p + ip + 14, 502);
		for (size_t i = 20; i < hl; i += 4) {
			p[ip + i] = 1;
			p[ip + i + 1] = 1;
			p[ip + i + 2] = 8;	/* a short fake option shape; bytes only */
			p[ip + i + 3] = (uint8_t)i;
		}
	} else {
		put16(p + ip + 4, (unsigned)(hl + s->payload));
	}
	for (size_t i = 0; i < s->payload; i++)
		p[ip + hl + i] = (uint8_t)(seed + i * 7 + i / 251);
	return len;
}

/* Stores a correct L4 checksum, computed with the reference sum. */
static void fill_csum(uint8_t *p, size_t len, size_t l4, unsigned proto)
{
	size_t off = l4 + (proto == TCP ? 16 : 6);
	unsigned c;

	p[off] = p[off + 1] = 0;
	c = ~l4_sum(p, len, l4, proto) & 0xffff;
	if (proto == UDP && c == 0)
		c = 0xffff;
	put16(p + off, c);
}

static struct offload_vnet gso_hdr(const struct spec *s, size_t l4, uint16_t gso)
{
	struct offload_vnet vh = {
		.flags = OFFLOAD_F_NEEDS_CSUM,
		.gso_type = s->proto == UDP ? OFFLOAD_GSO_UDP_L4 :
			    s->ver == V4 ? OFFLOAD_GSO_TCPV4 : OFFLOAD_GSO_TCPV6,
		.hdr_len = (uint16_t)(l4 + (s->proto == TCP ? 20 + s->tcpopt : 8)),
		.gso_size = gso,
		.csum_start = (uint16_t)l4,
		.csum_offset = s->proto == TCP ? 16 : 6,
	};
	return vh;
}

static uint8_t *super_buf, *seg_buf[2048], *gro_mem;
static size_t seg_len[2048];

static void setup(void)
{
	super_buf = malloc(BUF);
	for (int i = 0; i < 2048; i++)
		seg_buf[i] = malloc(2048);
	gro_mem = malloc((size_t)OFFLOAD_GRO_SLOTS * OFFLOAD_GRO_SLOT_SIZE);
	ck_assert(super_buf && gro_mem);
}

static void teardown(void)
{
	free(super_buf);
	for (int i = 0; i < 2048; i++)
		free(seg_buf[i]);
	free(gro_mem);
}

/* Segments a super-packet built from s with gso and checks every segment
 * against what the kernel would have sent; returns the segment count. */
static unsigned split_and_check(const struct spec *s, uint16_t gso)
{
	struct offload_super sp;
	struct offload_vnet vh;
	size_t l4, len, hl, got = 0;
	unsigned n;

	len = build(s, super_buf, &l4, 3);
	hl = l4 + (s->proto == TCP ? 20 + s->tcpopt : 8);
	vh = gso_hdr(s, l4, gso);
	ck_assert_int_eq(offload_super_parse(&sp, &vh, super_buf, len), 0);
	n = (unsigned)((s->payload + gso - 1) / gso);
	if (n == 0)
		n = 1;
	ck_assert_uint_eq(sp.nseg, n);
	ck_assert_uint_eq(sp.hdrlen, hl);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *o = seg_buf[i];
		size_t pl;

		ck_assert_int_eq(offload_segment(&sp, i, o, 2048, &seg_len[i]), 0);
		pl = seg_len[i] - hl;
		ck_assert_uint_eq(pl, i + 1 < n ? gso : s->payload - (size_t)gso * (n - 1));
		ck_assert_mem_eq(o + hl, super_buf + hl + got, pl);
		got += pl;
		if (s->ver == V4) {
			ck_assert_uint_eq(get16(o + 2), seg_len[i]);
			ck_assert_uint_eq(get16(o + 4), (uint16_t)(s->id + i));
			ck_assert(ip4_hdr_ok(o));
			ck_assert_mem_eq(o + 20, super_buf + 20, l4 - 20);	/* options */
		} else {
			ck_assert_uint_eq(get16(o + 4), seg_len[i] - 40);
			ck_assert_mem_eq(o + 40, super_buf + 40, l4 - 40);	/* ext headers */
		}
		ck_assert_uint_eq(l4_sum(o, seg_len[i], l4, s->proto), 0xffff);
		if (s->proto == TCP) {
			uint8_t want = s->flags;

			ck_assert_uint_eq(get32(o + l4 + 4), s->seq + (uint32_t)(i * gso));
			if (i + 1 < n)
				want &= (uint8_t)~0x09;	/* FIN, PSH */
			if (i > 0)
				want &= (uint8_t)~0x80;	/* CWR */
			ck_assert_uint_eq(o[l4 + 13], want);
			ck_assert_mem_eq(o + l4 + 20, super_buf + l4 + 20, s->tcpopt);
		} else {
			ck_assert_uint_eq(get16(o + l4 + 4), seg_len[i] - l4);
		}
	}
	ck_assert_uint_eq(got, s->payload);
	return n;
}

START_TEST(test_segment_tcp4_odd_last_short)
{
	struct spec s = { .ver = V4, .proto = TCP, .payload = 10000, .flags = 0x19,
			  .seq = 0xfffff000, .id = 0xfffe, .sport = 1 };

	/* seq and id wrap; FIN+PSH only on the last of 8 */
	ck_assert_uint_eq(split_and_check(&s, 1337), 8);
}
END_TEST

START_TEST(test_segment_tcp4_options_exact_multiple)
{
	struct spec s = { .ver = V4, .proto = TCP, .ipopt = 12, .tcpopt = 12,
			  .payload = 1368 * 5, .flags = 0x98, .seq = 7, .id = 9, .sport = 2 };

	/* CWR only on the first segment */
	ck_assert_uint_eq(split_and_check(&s, 1368), 5);
}
END_TEST

START_TEST(test_segment_tcp6_ext_headers)
{
	struct spec s = { .ver = V6, .proto = TCP, .ext = 24, .tcpopt = 12, .payload = 4001,
			  .flags = 0x18, .seq = 100, .sport = 3 };

	ck_assert_uint_eq(split_and_check(&s, 1000), 5);
}
END_TEST

START_TEST(test_segment_tcp6_plain_one_segment)
{
	struct spec s = { .ver = V6, .proto = TCP, .payload = 500, .flags = 0x18, .sport = 4 };

	ck_assert_uint_eq(split_and_check(&s, 1200), 1);
}
END_TEST

START_TEST(test_segment_udp4_udp6)
{
	struct spec a = { .ver = V4, .proto = UDP, .ipopt = 4, .payload = 3001, .id = 5 };
	struct spec b = { .ver = V6, .proto = UDP, .ext = 16, .payload = 2400 };

	ck_assert_uint_eq(split_and_check(&a, 1000), 4);
	ck_assert_uint_eq(split_and_check(&b, 1200), 2);
}
END_TEST

/* GSO_NONE with NEEDS_CSUM: the field holds the pseudo-header sum (as the
 * kernel leaves it), and the parse completes it in place. */
START_TEST(test_plain_needs_csum_completed)
{
	struct spec specs[] = {
		{ .ver = V4, .proto = TCP, .ipopt = 8, .payload = 333, .flags = 0x18 },
		{ .ver = V6, .proto = UDP, .ext = 8, .payload = 77 },
		{ .ver = V4, .proto = UDP, .payload = 0 },
	};

	for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
		struct offload_super sp;
		struct offload_vnet vh;
		size_t l4, len = build(&specs[k], super_buf, &l4, 1), off;
		unsigned proto = specs[k].proto;
		uint32_t ps = 0;

		off = l4 + (proto == TCP ? 16 : 6);
		if (specs[k].ver == V4)
			ps = sum16(ps, super_buf + 12, 8);
		else
			ps = sum16(ps, super_buf + 8, 32);
		ps += proto + (uint32_t)(len - l4);
		put16(super_buf + off, fold(ps));
		vh = (struct offload_vnet){ .flags = OFFLOAD_F_NEEDS_CSUM,
					    .csum_start = (uint16_t)l4,
					    .csum_offset = (uint16_t)(off - l4) };
		ck_assert_int_eq(offload_super_parse(&sp, &vh, super_buf, len), 0);
		ck_assert_int_eq(sp.kind, OFFLOAD_PLAIN);
		ck_assert_uint_eq(sp.nseg, 1);
		ck_assert_uint_eq(l4_sum(super_buf, len, l4, proto), 0xffff);
		ck_assert(offload_l4_csum_ok(super_buf, len));
		ck_assert_int_eq(offload_segment(&sp, 0, seg_buf[0], 2048, &seg_len[0]), 0);
		ck_assert_uint_eq(seg_len[0], len);
		ck_assert_mem_eq(seg_buf[0], super_buf, len);
	}
}
END_TEST

static int parse_mutated(const struct spec *s, uint16_t gso, void (*mut)(uint8_t *, size_t,
							  struct offload_vnet *))
{
	struct offload_super sp;
	struct offload_vnet vh;
	size_t l4, len = build(s, super_buf, &l4, 0);

	vh = gso_hdr(s, l4, gso);
	mut(super_buf, l4, &vh);
	return offload_super_parse(&sp, &vh, super_buf, len);
}

static void m_none(uint8_t *p, size_t l4, struct offload_vnet *vh) { }
static void m_gso0(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->gso_size = 0; }
static void m_start(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->csum_start += 4; }
static void m_offset(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->csum_offset = 6; }
static void m_offset16(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->csum_offset = 16; }
static void m_nocsum(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->flags = 0; }
static void m_type6(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->gso_type = OFFLOAD_GSO_TCPV6; }
static void m_ufo(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->gso_type = 3; }
static void m_totlen(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[3]++; }
static void m_frag(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[6] |= 0x20; }
static void m_doff(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[l4 + 12] = 0x40; }
static void m_doffbig(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[l4 + 12] = 0xf0; }
static void m_ecn(uint8_t *p, size_t l4, struct offload_vnet *vh) { vh->gso_type |= OFFLOAD_GSO_ECN; }
static void m_plen6(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[5]++; }
static void m_frag6(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[6] = 44; }
static void m_route6(uint8_t *p, size_t l4, struct offload_vnet *vh)
{
	p[6] = 43;	/* a routing header with one segment left */
	p[40 + 3] = 1;
}
static void m_udplen(uint8_t *p, size_t l4, struct offload_vnet *vh) { p[l4 + 5]++; }

START_TEST(test_parse_rejects_inconsistent)
{
	struct spec t4 = { .ver = V4, .proto = TCP, .payload = 3000, .flags = 0x10 };
	struct spec t6 = { .ver = V6, .proto = TCP, .ext = 8, .payload = 3000, .flags = 0x10 };
	struct spec u4 = { .ver = V4, .proto = UDP, .payload = 3000 };

	ck_assert_int_eq(parse_mutated(&t4, 1000, m_none), 0);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_ecn), 0);
	ck_assert_int_eq(parse_mutated(&t6, 1000, m_none), 0);
	ck_assert_int_eq(parse_mutated(&u4, 1000, m_none), 0);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_gso0), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_start), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_offset), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_nocsum), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_type6), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_ufo), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_totlen), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_frag), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_doff), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t4, 1000, m_doffbig), 0);	/* 60 bytes still fit */
	ck_assert_int_eq(parse_mutated(&t6, 1000, m_plen6), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t6, 1000, m_frag6), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&t6, 1000, m_route6), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&u4, 1000, m_udplen), MESHD_E_PROTO);
	ck_assert_int_eq(parse_mutated(&u4, 1000, m_offset16), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_segment_cap_and_index)
{
	struct spec s = { .ver = V4, .proto = TCP, .payload = 3000, .flags = 0x10 };
	struct offload_super sp;
	struct offload_vnet vh;
	size_t l4, len = build(&s, super_buf, &l4, 0), n;

	vh = gso_hdr(&s, l4, 1400);
	ck_assert_int_eq(offload_super_parse(&sp, &vh, super_buf, len), 0);
	ck_assert_int_eq(offload_segment(&sp, 0, seg_buf[0], 1439, &n), MESHD_E_RANGE);
	ck_assert_int_eq(offload_segment(&sp, 0, seg_buf[0], 1440, &n), 0);
	ck_assert_int_eq(offload_segment(&sp, 3, seg_buf[0], 2048, &n), MESHD_E_INVAL);
}
END_TEST

/* ---- coalescing ---- */

/* Simulates the kernel taking a GRO item: checks the vnet header, then cuts
 * it again (as the stack would for forwarding) and compares with the
 * segments that went in. */
static void check_item_is(struct offload_gro *g, unsigned i, unsigned first, unsigned n,
			  const struct spec *s)
{
	struct offload_vnet vh;
	struct offload_super sp;
	const uint8_t *o;
	uint8_t *copy = malloc(BUF);
	size_t len, l4 = s->ver == V4 ? 20 : 40, hl = l4 + (s->proto == TCP ? 20 + s->tcpopt : 8);

	o = offload_gro_item_out(g, i, &len);
	offload_vnet_decode(&vh, o);
	if (n == 1) {
		ck_assert_uint_eq(vh.gso_type, 0);
		ck_assert_uint_eq(len - OFFLOAD_VNET_HDR_LEN, seg_len[first]);
		ck_assert_mem_eq(o + OFFLOAD_VNET_HDR_LEN, seg_buf[first], seg_len[first]);
		free(copy);
		return;
	}
	ck_assert_uint_eq(vh.flags, OFFLOAD_F_NEEDS_CSUM);
	ck_assert_uint_eq(vh.gso_type, s->proto == UDP ? OFFLOAD_GSO_UDP_L4 :
			  s->ver == V4 ? OFFLOAD_GSO_TCPV4 : OFFLOAD_GSO_TCPV6);
	ck_assert_uint_eq(vh.csum_start, l4);
	ck_assert_uint_eq(vh.hdr_len, hl);
	ck_assert_uint_eq(vh.gso_size, seg_len[first] - hl);
	len -= OFFLOAD_VNET_HDR_LEN;
	memcpy(copy, o + OFFLOAD_VNET_HDR_LEN, len);
	if (s->ver == V4) {
		ck_assert_uint_eq(get16(copy + 2), len);
		ck_assert(ip4_hdr_ok(copy));
	} else {
		ck_assert_uint_eq(get16(copy + 4), len - 40);
	}
	/* the field holds the pseudo-header sum: completing it gives a valid packet */
	{
		size_t off = l4 + vh.csum_offset;
		unsigned c = ~fold(sum16(0, copy + l4, len - l4)) & 0xffff;

		put16(copy + off, c);
		ck_assert_uint_eq(l4_sum(copy, len, l4, s->proto), 0xffff);
		put16(copy + off, get16(o + OFFLOAD_VNET_HDR_LEN + off));
	}
	ck_assert_int_eq(offload_super_parse(&sp, &vh, copy, len), 0);
	ck_assert_uint_eq(sp.nseg, n);
	for (unsigned k = 0; k < n; k++) {
		uint8_t out[2048];
		size_t ol;

		ck_assert_int_eq(offload_segment(&sp, k, out, sizeof out, &ol), 0);
		ck_assert_uint_eq(ol, seg_len[first + k]);
		if (s->ver == V4)	/* ids are renumbered from the first */
			ck_assert_uint_eq(get16(out + 4), (get16(seg_buf[first] + 4) + k) & 0xffff);
		/* everything but the IPv4 id and header checksum is the same */
		ck_assert_mem_eq(out + 12, seg_buf[first + k] + 12, ol - 12);
		ck_assert_mem_eq(out, seg_buf[first + k], 4);
	}
	free(copy);
}

/* Cuts a super-packet into seg_buf[at..] and returns the segment count. */
static unsigned cut(const struct spec *s, uint16_t gso, unsigned at)
{
	struct offload_super sp;
	struct offload_vnet vh;
	size_t l4, len = build(s, super_buf, &l4, s->sport);

	vh = gso_hdr(s, l4, gso);
	ck_assert_int_eq(offload_super_parse(&sp, &vh, super_buf, len), 0);
	for (unsigned i = 0; i < sp.nseg; i++)
		ck_assert_int_eq(offload_segment(&sp, i, seg_buf[at + i], 2048, &seg_len[at + i]),
				 0);
	return sp.nseg;
}

START_TEST(test_gro_round_trip_tcp_udp)
{
	struct spec specs[] = {
		{ .ver = V4, .proto = TCP, .tcpopt = 12, .payload = 30000, .flags = 0x18,
		  .seq = 0xfffffff0, .id = 0xfff0, .sport = 10 },
		{ .ver = V6, .proto = TCP, .payload = 20001, .flags = 0x10, .seq = 5, .sport = 11 },
		{ .ver = V4, .proto = UDP, .payload = 9000, .id = 3, .sport = 12 },
		{ .ver = V6, .proto = UDP, .payload = 5555, .sport = 13 },
	};
	struct offload_gro g;

	for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
		unsigned n = cut(&specs[k], 1300, 0);

		offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP);
		for (unsigned i = 0; i < n; i++)
			ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
		ck_assert_uint_eq(g.n, 1);
		ck_assert_uint_eq(g.merged, n - 1);
		ck_assert_uint_eq(g.csum_bad, 0);
		check_item_is(&g, 0, 0, n, &specs[k]);
	}
}
END_TEST

START_TEST(test_gro_interleaved_flows_keep_order)
{
	struct spec a = { .ver = V4, .proto = TCP, .payload = 6000, .flags = 0x10, .sport = 20 };
	struct spec b = { .ver = V4, .proto = TCP, .payload = 6000, .flags = 0x10, .sport = 21 };
	struct offload_gro g;
	unsigned na = cut(&a, 1200, 0), nb = cut(&b, 1200, 100);

	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < na || i < nb; i++) {
		if (i < na)
			ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
		if (i < nb)
			ck_assert_int_eq(offload_gro_add(&g, seg_buf[100 + i], seg_len[100 + i]), 0);
	}
	ck_assert_uint_eq(g.n, 2);
	check_item_is(&g, 0, 0, na, &a);
	check_item_is(&g, 1, 100, nb, &b);
}
END_TEST

START_TEST(test_gro_breaks)
{
	struct spec s = { .ver = V4, .proto = TCP, .payload = 6000, .flags = 0x10, .sport = 30 };
	struct offload_gro g;
	unsigned n;

	/* a gap in the sequence: [0,1] [3,4] */
	n = cut(&s, 1200, 0);
	ck_assert_uint_eq(n, 5);
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	offload_gro_add(&g, seg_buf[0], seg_len[0]);
	offload_gro_add(&g, seg_buf[1], seg_len[1]);
	offload_gro_add(&g, seg_buf[3], seg_len[3]);
	offload_gro_add(&g, seg_buf[4], seg_len[4]);
	ck_assert_uint_eq(g.n, 2);
	check_item_is(&g, 0, 0, 2, &s);
	check_item_is(&g, 1, 3, 2, &s);

	/* PSH on segment 1 ends the item there */
	n = cut(&s, 1200, 0);
	seg_buf[1][20 + 13] |= 0x08;
	fill_csum(seg_buf[1], seg_len[1], 20, TCP);
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < n; i++)
		offload_gro_add(&g, seg_buf[i], seg_len[i]);
	ck_assert_uint_eq(g.n, 2);
	check_item_is(&g, 0, 0, 2, &s);
	check_item_is(&g, 1, 2, 3, &s);

	/* FIN is not merged; a changed ack or window starts a new item */
	n = cut(&s, 1200, 0);
	seg_buf[2][20 + 13] |= 0x01;
	fill_csum(seg_buf[2], seg_len[2], 20, TCP);
	seg_buf[4][20 + 15] ^= 1;	/* window */
	fill_csum(seg_buf[4], seg_len[4], 20, TCP);
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < n; i++)
		offload_gro_add(&g, seg_buf[i], seg_len[i]);
	ck_assert_uint_eq(g.n, 4);
	check_item_is(&g, 0, 0, 2, &s);
	check_item_is(&g, 1, 2, 1, &s);
	check_item_is(&g, 3, 4, 1, &s);

	/* a segment longer than the first is not merged; one shorter ends it */
	s.payload = 2500;
	n = cut(&s, 1000, 0);	/* 1000 1000 500 */
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	offload_gro_add(&g, seg_buf[2], seg_len[2]);	/* wrong order: 500 first */
	ck_assert_uint_eq(g.n, 1);
	s.payload = 6000;
	n = cut(&s, 1200, 0);
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[0], seg_len[0]), 0);
	/* a short one in the middle: the next full one must not join */
	{
		uint8_t shortp[2048];
		size_t sl = seg_len[1] - 200;

		memcpy(shortp, seg_buf[1], sl);
		put16(shortp + 2, (unsigned)sl);
		put16(shortp + 10, 0);
		put16(shortp + 10, ~fold(sum16(0, shortp, 20)) & 0xffff);
		fill_csum(shortp, sl, 20, TCP);
		ck_assert_int_eq(offload_gro_add(&g, shortp, sl), 0);
	}
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[2], seg_len[2]), 0);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.item[0].nseg, 2);
}
END_TEST

START_TEST(test_gro_bad_checksum_not_merged)
{
	struct spec s = { .ver = V6, .proto = TCP, .payload = 4800, .flags = 0x10, .sport = 40 };
	struct offload_gro g;
	unsigned n = cut(&s, 1200, 0);

	ck_assert_uint_eq(n, 4);
	seg_buf[2][100] ^= 0x40;	/* payload byte of segment 2 */
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
	ck_assert_uint_eq(g.csum_bad, 1);
	ck_assert_uint_eq(g.n, 3);	/* [0,1] [2 alone, as received] [3] */
	check_item_is(&g, 0, 0, 2, &s);
	check_item_is(&g, 1, 2, 1, &s);
	check_item_is(&g, 2, 3, 1, &s);

	/* a broken first packet: found when the second would join */
	n = cut(&s, 1200, 0);
	seg_buf[0][41] ^= 0x01;		/* IPv6 traffic class is not in the sum: use payload */
	seg_buf[0][41] ^= 0x01;
	seg_buf[0][80] ^= 0x01;
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < n; i++)
		offload_gro_add(&g, seg_buf[i], seg_len[i]);
	ck_assert_uint_eq(g.csum_bad, 1);
	ck_assert_uint_eq(g.n, 2);
	check_item_is(&g, 0, 0, 1, &s);
	check_item_is(&g, 1, 1, 3, &s);
}
END_TEST

START_TEST(test_gro_respects_allow_and_fills)
{
	struct spec u = { .ver = V4, .proto = UDP, .payload = 3000, .sport = 50 };
	struct spec t = { .ver = V4, .proto = TCP, .payload = 3000, .flags = 0x10 };
	struct offload_gro g;
	unsigned n = cut(&u, 1000, 0);

	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
	ck_assert_uint_eq(g.n, 3);	/* no USO on the TUN: UDP stays apart */

	/* IPv4 options: never merged, but kept in order */
	t.ipopt = 8;
	n = cut(&t, 1000, 0);
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
	ck_assert_uint_eq(g.n, 3);

	/* distinct flows until the table is full */
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP);
	t.ipopt = 0;
	for (unsigned i = 0; i < OFFLOAD_GRO_SLOTS; i++) {
		t.sport = (uint16_t)(100 + i);
		cut(&t, 1000, 0);
		ck_assert_int_eq(offload_gro_add(&g, seg_buf[0], seg_len[0]), 0);
	}
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[1], seg_len[1]), 0);	/* joins the last */
	t.sport = 999;
	cut(&t, 1000, 0);
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[0], seg_len[0]), MESHD_E_FULL);
	offload_gro_reset(&g);
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[0], seg_len[0]), 0);
	ck_assert_int_eq(offload_gro_add(&g, seg_buf[0], 0), MESHD_E_RANGE);
}
END_TEST

/* Random sizes, fixed seed: cut then coalesce gives back the stream. */
START_TEST(test_round_trip_random)
{
	unsigned seed = 0x5eed;
	struct offload_gro g;

	srand(seed);
	for (int iter = 0; iter < 300; iter++) {
		struct spec s = { 0 };
		unsigned gso, n, total = 0;

		s.ver = rand() & 1 ? V4 : V6;
		s.proto = rand() % 3 ? TCP : UDP;
		s.tcpopt = (size_t)(rand() % 4) * 4;
		s.payload = 1 + (size_t)rand() % 60000;
		s.flags = rand() & 1 ? 0x18 : 0x10;
		s.seq = (uint32_t)rand();
		s.id = (uint16_t)rand();
		s.sport = (uint16_t)rand();
		gso = 200 + (unsigned)rand() % 1200;
		if (s.payload / gso >= OFFLOAD_GRO_MAX_SEGS)
			s.payload = (size_t)gso * (OFFLOAD_GRO_MAX_SEGS - 1);
		n = cut(&s, (uint16_t)gso, 0);
		offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP);
		for (unsigned i = 0; i < n; i++)
			ck_assert_int_eq(offload_gro_add(&g, seg_buf[i], seg_len[i]), 0);
		if (g.n != 1)
			fprintf(stderr, "seed %#x iter %d: %u items\n", seed, iter, g.n);
		ck_assert_uint_eq(g.n, 1);
		check_item_is(&g, 0, 0, n, &s);
		total += n;
		(void)total;
	}
}
END_TEST

static Suite *suite_offload(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_segment_tcp4_odd_last_short);
	tcase_add_test(tc, test_segment_tcp4_options_exact_multiple);
	tcase_add_test(tc, test_segment_tcp6_ext_headers);
	tcase_add_test(tc, test_segment_tcp6_plain_one_segment);
	tcase_add_test(tc, test_segment_udp4_udp6);
	tcase_add_test(tc, test_plain_needs_csum_completed);
	tcase_add_test(tc, test_parse_rejects_inconsistent);
	tcase_add_test(tc, test_segment_cap_and_index);
	tcase_add_test(tc, test_gro_round_trip_tcp_udp);
	tcase_add_test(tc, test_gro_interleaved_flows_keep_order);
	tcase_add_test(tc, test_gro_breaks);
	tcase_add_test(tc, test_gro_bad_checksum_not_merged);
	tcase_add_test(tc, test_gro_respects_allow_and_fills);
	tcase_add_test(tc, test_round_trip_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_offload());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
