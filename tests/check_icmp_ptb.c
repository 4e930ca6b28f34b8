/* ICMP "fragmentation needed" / ICMPv6 "packet too big" answers
 * (src/icmp_ptb.h). Checksums are verified with this file's own
 * straightforward RFC 1071 sum (a second implementation, summing the whole
 * message including the checksum field to 0xffff), and one IPv4 answer is
 * compared byte for byte with a vector computed outside (Python's struct +
 * the RFC 1071 loop). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "icmp_ptb.h"

/* RFC 1071, the textbook loop over 16-bit words. */
static uint16_t rfc1071(const uint8_t *p, size_t n, uint32_t sum)
{
	while (n > 1) {
		sum += (uint32_t)(p[0] * 256 + p[1]);
		p += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)(p[0] * 256);
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

/* An IPv4 TCP packet of len bytes, DF set or not. */
static size_t v4_packet(uint8_t *p, size_t len, bool df)
{
	memset(p, 0xab, len);
	p[0] = 0x45;
	p[1] = 0;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[4] = 0x12;
	p[5] = 0x34;
	p[6] = df ? 0x40 : 0;
	p[7] = 0;
	p[8] = 64;
	p[9] = 6;
	p[10] = p[11] = 0;
	memcpy(p + 12, (uint8_t[]){ 192, 168, 7, 10 }, 4);
	memcpy(p + 16, (uint8_t[]){ 100, 64, 0, 2 }, 4);
	return len;
}

static size_t v6_packet(uint8_t *p, size_t len, uint8_t nh)
{
	memset(p, 0xcd, len);
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = nh;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = 1;
	p[24] = 0xfd;
	p[25] = 0x11;
	p[39] = 2;
	return len;
}

START_TEST(test_icmp_ptb_v4_frag_needed)
{
	uint8_t pkt[1420], out[ICMP_PTB_V6_MAX];
	size_t n = icmp_ptb_build(pkt, v4_packet(pkt, sizeof pkt, true), 1216, out, sizeof out);

	ck_assert_uint_eq(n, ICMP_PTB_V4_MAX);
	ck_assert_uint_eq(out[0], 0x45);
	ck_assert_uint_eq(out[2] << 8 | out[3], n);
	ck_assert_uint_eq(out[9], 1);
	/* from the unreachable destination to the sender */
	ck_assert_mem_eq(out + 12, pkt + 16, 4);
	ck_assert_mem_eq(out + 16, pkt + 12, 4);
	ck_assert_uint_eq(out[20], 3);
	ck_assert_uint_eq(out[21], 4);
	ck_assert_uint_eq(out[26] << 8 | out[27], 1216);
	ck_assert_mem_eq(out + 28, pkt, n - 28);
	ck_assert_uint_eq(rfc1071(out, 20, 0), 0xffff);
	ck_assert_uint_eq(rfc1071(out + 20, n - 20, 0), 0xffff);
}
END_TEST

/* Computed outside this code base:
 *   python3: ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 48, 0, 0, 64, 1, 0,
 *   bytes([10,0,0,2]), bytes([10,0,0,1])); icmp = struct.pack('!BBHHH', 3, 4,
 *   0, 0, 1280) + quoted 20-byte header; checksums by the RFC 1071 loop. */
START_TEST(test_icmp_ptb_v4_vector)
{
	static const uint8_t in[20] = {
		0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		10, 0, 0, 1, 10, 0, 0, 2,
	};
	static const uint8_t want[48] = {
		0x45, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x66, 0xcb,
		10, 0, 0, 2, 10, 0, 0, 1,
		0x03, 0x04, 0x1e, 0xd2, 0x00, 0x00, 0x05, 0x00,
		0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		10, 0, 0, 1, 10, 0, 0, 2,
	};
	uint8_t out[ICMP_PTB_V6_MAX];

	ck_assert_uint_eq(icmp_ptb_build(in, sizeof in, 1280, out, sizeof out), sizeof want);
	ck_assert_mem_eq(out, want, sizeof want);
}
END_TEST

START_TEST(test_icmp_ptb_v6_packet_too_big)
{
	uint8_t pkt[1420], out[ICMP_PTB_V6_MAX], pseudo[40];
	size_t n = icmp_ptb_build(pkt, v6_packet(pkt, sizeof pkt, 6), 1280, out, sizeof out);
	size_t plen = n - 40;

	ck_assert_uint_eq(n, ICMP_PTB_V6_MAX);
	ck_assert_uint_eq(out[0] >> 4, 6);
	ck_assert_uint_eq(out[4] << 8 | out[5], plen);
	ck_assert_uint_eq(out[6], 58);
	ck_assert_mem_eq(out + 8, pkt + 24, 16);
	ck_assert_mem_eq(out + 24, pkt + 8, 16);
	ck_assert_uint_eq(out[40], 2);
	ck_assert_uint_eq(out[41], 0);
	ck_assert_uint_eq((uint32_t)out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 1280);
	ck_assert_mem_eq(out + 48, pkt, n - 48);
	/* RFC 8200 §8.1 pseudo-header */
	memset(pseudo, 0, sizeof pseudo);
	memcpy(pseudo, out + 8, 32);
	pseudo[34] = (uint8_t)(plen >> 8);
	pseudo[35] = (uint8_t)plen;
	pseudo[39] = 58;
	ck_assert_uint_eq(rfc1071(out + 40, plen, rfc1071(pseudo, 40, 0)), 0xffff);
}
END_TEST

/* A short packet is quoted whole, with an odd length. */
START_TEST(test_icmp_ptb_short_quotes_whole)
{
	uint8_t pkt[61], out[ICMP_PTB_V6_MAX];
	size_t n = icmp_ptb_build(pkt, v4_packet(pkt, sizeof pkt, true), 1300, out, sizeof out);

	ck_assert_uint_eq(n, 28 + 61);
	ck_assert_uint_eq(rfc1071(out + 20, n - 20, 0), 0xffff);
	ck_assert_uint_eq(rfc1071(out, 20, 0), 0xffff);
}
END_TEST

START_TEST(test_icmp_ptb_no_answer)
{
	uint8_t pkt[1400], out[ICMP_PTB_V6_MAX];

	/* IPv4 without DF: may be fragmented */
	v4_packet(pkt, sizeof pkt, false);
	ck_assert(icmp_ptb_v4_may_fragment(pkt, sizeof pkt));
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	/* a non-first fragment */
	v4_packet(pkt, sizeof pkt, true);
	ck_assert(!icmp_ptb_v4_may_fragment(pkt, sizeof pkt));
	pkt[7] = 1;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	/* an ICMP error */
	v4_packet(pkt, sizeof pkt, true);
	pkt[9] = 1;
	pkt[20] = 3;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	pkt[20] = 8;	/* an echo request is answered */
	ck_assert_uint_ne(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	/* multicast / unspecified source */
	v4_packet(pkt, sizeof pkt, true);
	pkt[12] = 224;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	memset(pkt + 12, 0, 4);
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	/* IPv6: ICMPv6 error, multicast source, MTU below 1280 */
	v6_packet(pkt, sizeof pkt, 58);
	pkt[40] = 1;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	pkt[40] = 128;
	ck_assert_uint_ne(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1200, out, sizeof out), 0);
	v6_packet(pkt, sizeof pkt, 6);
	pkt[8] = 0xff;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	/* garbage and truncation */
	ck_assert_uint_eq(icmp_ptb_build(pkt, 19, 1280, out, sizeof out), 0);
	pkt[0] = 0x50;
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, sizeof out), 0);
	v4_packet(pkt, sizeof pkt, true);
	pkt[0] = 0x4f;	/* IHL 60 */
	ck_assert_uint_eq(icmp_ptb_build(pkt, 40, 1280, out, sizeof out), 0);
	/* too small an output buffer */
	v4_packet(pkt, sizeof pkt, true);
	ck_assert_uint_eq(icmp_ptb_build(pkt, sizeof pkt, 1280, out, 100), 0);
}
END_TEST

START_TEST(test_icmp_ptb_rate_limit)
{
	struct icmp_ptb_limit l;
	unsigned ok = 0;

	icmp_ptb_limit_init(&l, SEC(10));
	for (int i = 0; i < 1000; i++)
		ok += icmp_ptb_limit_take(&l, SEC(10));
	ck_assert_uint_eq(ok, ICMP_PTB_RATE);
	/* one second later, one second's worth */
	ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += icmp_ptb_limit_take(&l, SEC(11));
	ck_assert_uint_eq(ok, ICMP_PTB_RATE);
	ck_assert(!icmp_ptb_limit_take(&l, SEC(11) + MSEC(1)));
	ck_assert(icmp_ptb_limit_take(&l, SEC(11) + SEC(1) / ICMP_PTB_RATE));
}
END_TEST

static Suite *suite_icmp_ptb(void)
{
	Suite *s = suite_create("icmp_ptb");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_icmp_ptb_v4_frag_needed);
	tcase_add_test(tc, test_icmp_ptb_v4_vector);
	tcase_add_test(tc, test_icmp_ptb_v6_packet_too_big);
	tcase_add_test(tc, test_icmp_ptb_short_quotes_whole);
	tcase_add_test(tc, test_icmp_ptb_no_answer);
	tcase_add_test(tc, test_icmp_ptb_rate_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_icmp_ptb());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
