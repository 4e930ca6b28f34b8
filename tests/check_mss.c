/* MSS clamping (src/mss.c): IPv4 and IPv6 SYNs get the option lowered and a
 * checksum that a full, independent recomputation accepts; anything that is
 * not a SYN with an MSS option above the clamp stays byte for byte the same;
 * truncated headers and options are never read past their end. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mss.h"

enum { V4 = 4, V6 = 6 };

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* The TCP checksum over the pseudo-header and segment as it stands, the
 * checksum field included: 0 when the stored checksum is right. */
static unsigned tcp_verify(const uint8_t *pkt, int ver)
{
	uint32_t s = 0;
	size_t off, tlen;

	if (ver == V4) {
		off = (size_t)(pkt[0] & 0x0f) * 4;
		tlen = get16(pkt + 2) - off;
		s = sum16(s, pkt + 12, 8);
	} else {
		off = 40;
		tlen = get16(pkt + 4);
		s = sum16(s, pkt + 8, 32);
	}
	s += 6 + (uint32_t)tlen;
	s = sum16(s, pkt + off, tlen);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (~s) & 0xffff;
}

static void tcp_fill_csum(uint8_t *pkt, int ver)
{
	size_t off = ver == V4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40;

	put16(pkt + off + 16, 0);
	put16(pkt + off + 16, tcp_verify(pkt, ver));
}

/* A SYN with the given options (padded with EOL to a multiple of 4) and
 * payload bytes; returns the packet length. */
static size_t build(uint8_t *pkt, int ver, uint8_t flags, const uint8_t *opt, size_t olen,
		    size_t payload)
{
	size_t ohl = (olen + 3) & ~(size_t)3, off = ver == V4 ? 20 : 40;
	size_t tlen = 20 + ohl + payload;
	uint8_t *tcp = pkt + off;

	memset(pkt, 0, off + tlen);
	if (ver == V4) {
		pkt[0] = 0x45;
		put16(pkt + 2, (unsigned)(off + tlen));
		put16(pkt + 6, 0x4000);
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, "\x0a\x01\x00\x05\x64\x40\x00\x02", 8);
	} else {
		pkt[0] = 0x60;
		put16(pkt + 4, (unsigned)tlen);
		pkt[6] = 6;
		pkt[7] = 64;
		for (int i = 0; i < 32; i++)
			pkt[8 + i] = (uint8_t)(0xfd + i * 37);
	}
	put16(tcp, 40000);
	put16(tcp + 2, 22);
	memcpy(tcp + 4, "\x12\x34\x56\x78", 4);
	tcp[12] = (uint8_t)(((20 + ohl) / 4) << 4);
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	memcpy(tcp + 20, opt, olen);
	for (size_t i = 0; i < payload; i++)
		tcp[20 + ohl + i] = (uint8_t)(i * 7 + 1);
	tcp_fill_csum(pkt, ver);
	return off + tlen;
}

static const uint8_t linux_syn[] = {	/* MSS 1460, SACK_PERM, TS, NOP, WS 7 */
	2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
};
static const uint8_t odd_syn[] = {	/* NOP, MSS 1460 (at an odd offset), WS */
	1, 2, 4, 0x05, 0xb4, 3, 3, 7,
};

static unsigned mss_at(const uint8_t *pkt, int ver, size_t optoff)
{
	return get16(pkt + (ver == V4 ? 20 : 40) + 20 + optoff + 2);
}

START_TEST(test_clamp)
{
	static const struct {
		int ver;
		const uint8_t *opt;
		size_t olen, optoff, payload;
		uint8_t flags;
		unsigned mtu, want;
	} t[] = {
		{ V4, linux_syn, sizeof linux_syn, 0, 0, 0x02, 1420, 1380 },
		{ V6, linux_syn, sizeof linux_syn, 0, 0, 0x02, 1420, 1360 },
		{ V4, linux_syn, sizeof linux_syn, 0, 0, 0x12, 1420, 1380 },	/* SYN-ACK */
		{ V4, odd_syn, sizeof odd_syn, 1, 0, 0x02, 1420, 1380 },
		{ V6, odd_syn, sizeof odd_syn, 1, 0, 0x02, 1280, 1220 },
		{ V4, linux_syn, sizeof linux_syn, 0, 3, 0x02, 1420, 1380 },	/* odd length */
		{ V6, odd_syn, sizeof odd_syn, 1, 5, 0x12, 1420, 1360 },
	};
	uint8_t pkt[256];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len = build(pkt, t[i].ver, t[i].flags, t[i].opt, t[i].olen, t[i].payload);

		ck_assert_uint_eq(tcp_verify(pkt, t[i].ver), 0);
		ck_assert(mss_maybe_syn(pkt, len));
		ck_assert_msg(mss_clamp(pkt, len, t[i].mtu), "case %zu", i);
		ck_assert_uint_eq(mss_at(pkt, t[i].ver, t[i].optoff), t[i].want);
		ck_assert_msg(tcp_verify(pkt, t[i].ver) == 0, "case %zu: bad checksum", i);
		/* a second pass finds nothing to do */
		ck_assert(!mss_clamp(pkt, len, t[i].mtu));
	}
}
END_TEST

/* Packets the clamp must leave exactly as they are. */
START_TEST(test_unchanged)
{
	static const uint8_t no_mss[] = { 1, 1, 4, 2, 1, 3, 3, 7 };
	static const uint8_t small[] = { 2, 4, 0x05, 0x00 };		/* 1280 */
	static const uint8_t eol_first[] = { 0, 2, 4, 0x05, 0xb4 };	/* MSS after EOL */
	static const uint8_t bad_len[] = { 2, 3, 0x05, 0xb4 };	/* MSS with length 3 */
	static const uint8_t zero_len[] = { 8, 0, 2, 4, 0x05, 0xb4 };	/* would loop */
	static const struct {
		int ver;
		uint8_t flags;
		const uint8_t *opt;
		size_t olen;
	} t[] = {
		{ V4, 0x02, no_mss, sizeof no_mss },
		{ V6, 0x02, NULL, 0 },
		{ V4, 0x10, linux_syn, sizeof linux_syn },	/* ACK, not a SYN */
		{ V6, 0x18, linux_syn, sizeof linux_syn },
		{ V4, 0x02, small, sizeof small },
		{ V4, 0x02, eol_first, sizeof eol_first },
		{ V4, 0x02, bad_len, sizeof bad_len },
		{ V6, 0x02, zero_len, sizeof zero_len },
	};
	uint8_t pkt[256], copy[256];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len = build(pkt, t[i].ver, t[i].flags, t[i].opt ? t[i].opt : no_mss,
				   t[i].olen, 0);

		memcpy(copy, pkt, len);
		ck_assert_msg(!mss_clamp(pkt, len, 1420), "case %zu", i);
		ck_assert_msg(!memcmp(pkt, copy, len), "case %zu changed", i);
	}
}
END_TEST

/* Not TCP, a fragment, or a UDP packet: the cheap test or the clamp says no. */
START_TEST(test_not_tcp)
{
	uint8_t pkt[256], copy[256];
	size_t len = build(pkt, V4, 0x02, linux_syn, sizeof linux_syn, 0);

	pkt[9] = 17;
	memcpy(copy, pkt, len);
	ck_assert(!mss_maybe_syn(pkt, len));
	ck_assert(!mss_clamp(pkt, len, 1420));
	ck_assert(!memcmp(pkt, copy, len));

	len = build(pkt, V4, 0x02, linux_syn, sizeof linux_syn, 0);
	put16(pkt + 6, 0x2000);		/* MF: a first fragment */
	ck_assert(!mss_clamp(pkt, len, 1420));
	put16(pkt + 6, 0x0001);		/* a later fragment */
	ck_assert(!mss_clamp(pkt, len, 1420));

	len = build(pkt, V6, 0x02, linux_syn, sizeof linux_syn, 0);
	pkt[6] = 44;			/* fragment header first */
	ck_assert(!mss_maybe_syn(pkt, len));
	ck_assert(!mss_clamp(pkt, len, 1420));
	pkt[0] = 0x50;
	ck_assert(!mss_maybe_syn(pkt, len));
	ck_assert(!mss_clamp(pkt, len, 1420));
}
END_TEST

/* Every truncation of a valid SYN, copied into a buffer of exactly that
 * size on the heap (so ASan/valgrind would catch a read past the end), with
 * the IP length fields either left (claiming more than there is) or fixed
 * up to the truncated length (options cut short). */
START_TEST(test_truncated)
{
	uint8_t pkt[256];

	for (int ver = V4; ver <= V6; ver += 2) {
		size_t full = build(pkt, ver, 0x02, linux_syn, sizeof linux_syn, 0);

		for (size_t len = 0; len < full; len++) {
			for (int fix = 0; fix < 2; fix++) {
				uint8_t *p = malloc(len ? len : 1);

				ck_assert_ptr_nonnull(p);
				memcpy(p, pkt, len);
				if (fix && ver == V4 && len >= 20)
					put16(p + 2, (unsigned)len);
				if (fix && ver == V6 && len >= 40)
					put16(p + 4, (unsigned)(len - 40));
				(void)mss_maybe_syn(p, len);
				if (mss_clamp(p, len, 1420))
					ck_assert_uint_ge(len, (ver == V4 ? 20u : 40u) + 24u);
				free(p);
			}
		}
	}
}
END_TEST

static Suite *suite_mss(void)
{
	Suite *s = suite_create("mss");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_clamp);
	tcase_add_test(tc, test_unchanged);
	tcase_add_test(tc, test_not_tcp);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_mss());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
