/* Tests for mesh/dns.c. Queries are built and replies decoded here by hand,
 * byte by byte, never with the module's own reader or writer. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/dns.h"
#include "util/err.h"

enum {
	T_A = 1, T_MX = 15, T_TXT = 16, T_AAAA = 28, T_OPT = 41, T_ANY = 255,
	C_IN = 1, C_CH = 3, C_NONE = 254, C_ANY = 255,
	R_NOERROR = 0, R_FORMERR = 1, R_SERVFAIL = 2, R_NXDOMAIN = 3, R_NOTIMP = 4, R_REFUSED = 5,
	F_RD = 0x01,
	ID = 0xbeef,
	BUF = 1024,
};

/* ---- stub member table ------------------------------------------------ */

struct member {
	const char *name;
	bool has4, has6;
	uint8_t v4[4];
	uint8_t v6[16];
};

static const struct member members[] = {
	{ "n2", true, true, { 100, 64, 0, 2 },
	    { 0xfd, 0x6d, 0x65, 0x73, 0x68, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 } },
	{ "v4only", true, false, { 100, 64, 0, 4 }, { 0 } },
	{ "v6only", false, true, { 0 }, { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6 } },
	{ "bare", false, false, { 0 }, { 0 } },
};

struct stub {
	unsigned calls;
	char last[128];
};

static int stub_lookup(void *ctx, const char *label, uint8_t v4[4], bool *has4, uint8_t v6[16],
    bool *has6)
{
	struct stub *st = ctx;

	st->calls++;
	snprintf(st->last, sizeof st->last, "%s", label);
	if (strcmp(label, "broken") == 0)
		return MESHD_E_SYS;
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
		if (strcmp(label, members[i].name) != 0)
			continue;
		*has4 = members[i].has4;
		*has6 = members[i].has6;
		memcpy(v4, members[i].v4, 4);
		memcpy(v6, members[i].v6, 16);
		return 0;
	}
	return MESHD_E_NOENT;
}

/* ---- building queries by hand ----------------------------------------- */

static size_t put16(uint8_t *p, size_t off, unsigned v)
{
	p[off] = (uint8_t)(v >> 8);
	p[off + 1] = (uint8_t)v;
	return off + 2;
}

/* Dotted name to wire labels at p[off]; "" is the root. No checks: tests
 * use it to build malformed names too. */
static size_t put_name(uint8_t *p, size_t off, const char *name)
{
	const char *s = name, *dot;
	size_t n;

	while (*s != '\0') {
		dot = strchr(s, '.');
		n = dot != NULL ? (size_t)(dot - s) : strlen(s);
		p[off++] = (uint8_t)n;
		memcpy(p + off, s, n);
		off += n;
		s += n;
		if (*s == '.')
			s++;
	}
	p[off++] = 0;
	return off;
}

static size_t mkq_full(uint8_t *p, unsigned f1, unsigned qd, unsigned an, unsigned ns,
    unsigned ar, const char *name, unsigned qtype, unsigned qclass)
{
	size_t off = 0;

	off = put16(p, off, ID);
	p[off++] = (uint8_t)f1;
	p[off++] = 0;
	off = put16(p, off, qd);
	off = put16(p, off, an);
	off = put16(p, off, ns);
	off = put16(p, off, ar);
	off = put_name(p, off, name);
	off = put16(p, off, qtype);
	return put16(p, off, qclass);
}

static size_t mkq(uint8_t *p, const char *name, unsigned qtype)
{
	return mkq_full(p, F_RD, 1, 0, 0, 0, name, qtype, C_IN);
}

/* Appends an EDNS OPT record (udp size 4096, DO bit, rdlen bytes of option). */
static size_t put_opt(uint8_t *p, size_t off, unsigned rdlen)
{
	p[off++] = 0;
	off = put16(p, off, T_OPT);
	off = put16(p, off, 4096);
	off = put16(p, off, 0);
	off = put16(p, off, 0x8000);
	off = put16(p, off, rdlen);
	memset(p + off, 0xab, rdlen);
	return off + rdlen;
}

/* ---- decoding replies by hand ----------------------------------------- */

struct rr {
	unsigned name, type, klass, rdlen;
	unsigned long ttl;
	const uint8_t *rdata;
};

struct reply {
	unsigned id, f1, f2, qd, an, ns, ar;
	size_t qend;		/* offset just past the question */
	struct rr rr[4];
};

static unsigned get16(const uint8_t *p, size_t off)
{
	return (unsigned)p[off] << 8 | p[off + 1];
}

static void decode(const uint8_t *p, size_t len, struct reply *rp)
{
	size_t off = 12;

	memset(rp, 0, sizeof *rp);
	ck_assert_uint_ge(len, 12);
	ck_assert_uint_le(len, 512);
	rp->id = get16(p, 0);
	rp->f1 = p[2];
	rp->f2 = p[3];
	rp->qd = get16(p, 4);
	rp->an = get16(p, 6);
	rp->ns = get16(p, 8);
	rp->ar = get16(p, 10);
	ck_assert_uint_le(rp->qd, 1);
	ck_assert_uint_le(rp->an, 4);
	if (rp->qd == 1) {
		while (p[off] != 0) {
			ck_assert_uint_lt(p[off], 64);
			off += 1 + p[off];
			ck_assert_uint_lt(off, len);
		}
		off += 1 + 4;
	}
	rp->qend = off;
	ck_assert_uint_le(rp->an + rp->ns, 4);
	for (unsigned i = 0; i < rp->an + rp->ns; i++) {
		struct rr *r = &rp->rr[i];

		ck_assert_uint_le(off + 10, len);
		r->name = get16(p, off);
		r->type = get16(p, off + 2);
		r->klass = get16(p, off + 4);
		r->ttl = (unsigned long)get16(p, off + 6) << 16 | get16(p, off + 8);
		r->rdlen = get16(p, off + 10);
		r->rdata = p + off + 12;
		off += 12 + r->rdlen;
		ck_assert_uint_le(off, len);
	}
	ck_assert_uint_eq(off, len);		/* nothing after the answers */
}

/* The zone's SOA for the default domain "mesh" at offset dom of the reply:
 * the record r, whose bytes are at p (owner, MNAME and RNAME's parent are
 * pointers to dom). */
static void check_soa(const uint8_t *p, const struct rr *r, unsigned dom)
{
	static const uint8_t rdata_tail[] = {
		10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r',
	};
	const uint8_t *d = r->rdata;

	ck_assert_uint_eq(r->name, 0xc000 | dom);
	ck_assert_uint_eq(p[dom], 4);
	ck_assert(!strncasecmp((const char *)p + dom + 1, "mesh", 4));
	ck_assert_uint_eq(p[dom + 5], 0);
	ck_assert_uint_eq(r->type, 6);
	ck_assert_uint_eq(r->klass, C_IN);
	ck_assert_uint_eq(r->ttl, MESH_DNS_NEG_TTL);
	ck_assert_uint_eq(r->rdlen, 35);
	ck_assert_uint_eq(get16(d, 0), 0xc000 | dom);		/* MNAME */
	ck_assert_mem_eq(d + 2, rdata_tail, sizeof rdata_tail);	/* RNAME */
	ck_assert_uint_eq(get16(d, 13), 0xc000 | dom);
	ck_assert_uint_eq(get16(d, 15) << 16 | get16(d, 17), 1);	/* serial */
	ck_assert_uint_eq(get16(d, 31) << 16 | get16(d, 33), MESH_DNS_NEG_TTL);	/* minimum */
}

/* Runs one query with the default domain and decodes the reply. */
static void ask(const uint8_t *q, size_t qlen, struct stub *st, struct reply *rp, uint8_t *out,
    size_t *outlen)
{
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, st, out, BUF, outlen), 0);
	decode(out, *outlen, rp);
	ck_assert_uint_eq(rp->id, ID);
	ck_assert(rp->f1 & 0x80);			/* QR */
	ck_assert_uint_eq(rp->f1 & 0x02, 0);		/* TC */
	ck_assert_uint_eq(rp->f2 & 0xf0, 0);		/* RA, Z */
	ck_assert_uint_eq(rp->ar, 0);
	/* the SOA in the authority section: for negative answers about our
	 * domain only (RFC 2308), and then the only record there */
	if ((rp->f1 & 0x04) && rp->an == 0 &&
	    ((rp->f2 & 0x0f) == R_NOERROR || (rp->f2 & 0x0f) == R_NXDOMAIN)) {
		ck_assert_uint_eq(rp->ns, 1);
		check_soa(out, &rp->rr[0], (unsigned)(rp->qend - 5 - 5));
	} else {
		ck_assert_uint_eq(rp->ns, 0);
	}
	for (unsigned i = 0; i < rp->an; i++)
		if (rp->rr[i].type == 6)		/* the apex's SOA */
			check_soa(out, &rp->rr[i], (unsigned)(rp->qend - 5 - 5));
}

/* name, qtype -> rcode, answer count, AA; and the question echoed verbatim */
static void expect(const char *name, unsigned qtype, unsigned rcode, unsigned an, bool aa)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, n;

	qlen = mkq(q, name, qtype);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_msg((rp.f2 & 0x0f) == rcode, "%s/%u: rcode %u, want %u", name, qtype,
	    rp.f2 & 0x0f, rcode);
	ck_assert_msg(rp.an == an, "%s/%u: %u answers, want %u", name, qtype, rp.an, an);
	ck_assert_msg(!!(rp.f1 & 0x04) == aa, "%s/%u: AA", name, qtype);
	ck_assert_uint_eq(rp.qd, 1);
	ck_assert_uint_eq(rp.qend, qlen);
	ck_assert_mem_eq(out + 12, q + 12, qlen - 12);
}

/* A header-only reply with this rcode (FORMERR, NOTIMP). */
static void expect_bare(const uint8_t *q, size_t qlen, unsigned rcode)
{
	uint8_t out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t n;

	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(rp.f2 & 0x0f, rcode);
	ck_assert_uint_eq(rp.qd, 0);
	ck_assert_uint_eq(rp.an, 0);
	ck_assert_uint_eq(rp.f1 & 0x04, 0);
	ck_assert_uint_eq(rp.f1 & 0x79, q[2] & 0x79);	/* opcode, RD copied */
	ck_assert_uint_eq(st.calls, 0);
}

/* ---- answers ----------------------------------------------------------- */

START_TEST(test_dns_answer_a_bytes)
{
	static const uint8_t query[] = {
		0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		2, 'n', '2', 4, 'm', 'e', 's', 'h', 0, 0x00, 0x01, 0x00, 0x01,
	};
	static const uint8_t want[] = {
		0xbe, 0xef, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		2, 'n', '2', 4, 'm', 'e', 's', 'h', 0, 0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
		100, 64, 0, 2,
	};
	uint8_t out[BUF];
	struct stub st = { 0 };
	size_t n;

	ck_assert_int_eq(mesh_dns_answer(query, sizeof query, "mesh", stub_lookup, &st, out,
	    sizeof out, &n), 0);
	ck_assert_uint_eq(n, sizeof want);
	ck_assert_mem_eq(out, want, sizeof want);
	ck_assert_uint_eq(st.calls, 1);
	ck_assert_str_eq(st.last, "n2");
}
END_TEST

START_TEST(test_dns_answer_aaaa_and_any)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, n;

	qlen = mkq(q, "n2.mesh", T_AAAA);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f2, R_NOERROR);
	ck_assert_uint_eq(rp.an, 1);
	ck_assert_uint_eq(rp.rr[0].name, 0xc00c);
	ck_assert_uint_eq(rp.rr[0].type, T_AAAA);
	ck_assert_uint_eq(rp.rr[0].klass, C_IN);
	ck_assert_uint_eq(rp.rr[0].ttl, 60);
	ck_assert_uint_eq(rp.rr[0].rdlen, 16);
	ck_assert_mem_eq(rp.rr[0].rdata, members[0].v6, 16);
	ck_assert_uint_eq(n, 12 + (qlen - 12) + 12 + 16);

	qlen = mkq(q, "n2.mesh", T_ANY);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f2, R_NOERROR);
	ck_assert_uint_eq(rp.an, 2);
	ck_assert_uint_eq(rp.rr[0].name, 0xc00c);
	ck_assert_uint_eq(rp.rr[0].type, T_A);
	ck_assert_uint_eq(rp.rr[0].klass, C_IN);
	ck_assert_uint_eq(rp.rr[0].ttl, 60);
	ck_assert_uint_eq(rp.rr[0].rdlen, 4);
	ck_assert_mem_eq(rp.rr[0].rdata, members[0].v4, 4);
	ck_assert_uint_eq(rp.rr[1].name, 0xc00c);
	ck_assert_uint_eq(rp.rr[1].type, T_AAAA);
	ck_assert_uint_eq(rp.rr[1].klass, C_IN);
	ck_assert_uint_eq(rp.rr[1].ttl, 60);
	ck_assert_uint_eq(rp.rr[1].rdlen, 16);
	ck_assert_mem_eq(rp.rr[1].rdata, members[0].v6, 16);

	/* class ANY in the question: answers are still class IN */
	qlen = mkq_full(q, 0, 1, 0, 0, 0, "n2.mesh", T_A, C_ANY);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.an, 1);
	ck_assert_uint_eq(rp.rr[0].klass, C_IN);
	ck_assert_uint_eq(rp.f1, 0x84);			/* QR AA, RD not set */
}
END_TEST

START_TEST(test_dns_answer_rcodes)
{
	/* one line per case: name, qtype -> rcode, answers, AA */
	expect("n2.mesh", T_A, R_NOERROR, 1, true);
	expect("n2.mesh", T_AAAA, R_NOERROR, 1, true);
	expect("n2.mesh", T_ANY, R_NOERROR, 2, true);
	expect("n2.mesh", T_MX, R_NOERROR, 0, true);		/* NODATA */
	expect("n2.mesh", T_TXT, R_NOERROR, 0, true);
	expect("v4only.mesh", T_A, R_NOERROR, 1, true);
	expect("v4only.mesh", T_AAAA, R_NOERROR, 0, true);
	expect("v4only.mesh", T_ANY, R_NOERROR, 1, true);
	expect("v6only.mesh", T_A, R_NOERROR, 0, true);
	expect("v6only.mesh", T_AAAA, R_NOERROR, 1, true);
	expect("bare.mesh", T_ANY, R_NOERROR, 0, true);
	expect("n9.mesh", T_A, R_NXDOMAIN, 0, true);
	expect("n9.mesh", T_MX, R_NXDOMAIN, 0, true);
	expect("a.n2.mesh", T_A, R_NXDOMAIN, 0, true);
	expect("a.b.c.mesh", T_AAAA, R_NXDOMAIN, 0, true);
	expect("-bad.mesh", T_A, R_NXDOMAIN, 0, true);		/* not a member name */
	expect("n_2.mesh", T_A, R_NXDOMAIN, 0, true);
	expect("mesh", T_A, R_NOERROR, 0, true);			/* apex */
	expect("mesh", T_ANY, R_NOERROR, 1, true);		/* the SOA */
	expect("MESH", T_AAAA, R_NOERROR, 0, true);
	expect("mesh", 6, R_NOERROR, 1, true);			/* apex SOA */
	expect("n2.mesh", 6, R_NOERROR, 0, true);		/* NODATA */
	expect("broken.mesh", T_A, R_SERVFAIL, 0, false);
	expect("", T_A, R_REFUSED, 0, false);			/* root */
	expect("example.com", T_A, R_REFUSED, 0, false);
	expect("n2.mesh.com", T_A, R_REFUSED, 0, false);
	expect("n2.meshx", T_A, R_REFUSED, 0, false);
	expect("n2.mes", T_A, R_REFUSED, 0, false);
	expect("com", T_A, R_REFUSED, 0, false);
}
END_TEST

START_TEST(test_dns_answer_lookup_only_for_members)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	size_t qlen, n;
	static const char *no_lookup[] = { "mesh", "a.n2.mesh", "-x.mesh", "x.example", "" };

	for (size_t i = 0; i < sizeof no_lookup / sizeof no_lookup[0]; i++) {
		qlen = mkq(q, no_lookup[i], T_A);
		ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out,
		    &n), 0);
	}
	ck_assert_uint_eq(st.calls, 0);
	/* a NUL inside the label never reaches the lookup as a shorter name */
	qlen = mkq(q, "n2.mesh", T_A);
	q[14] = 0;
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &n), 0);
	ck_assert_uint_eq(out[3] & 0x0f, R_NXDOMAIN);
	ck_assert_uint_eq(st.calls, 0);
}
END_TEST

START_TEST(test_dns_answer_case_insensitive_0x20)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, n;

	qlen = mkq(q, "N2.mEsH", T_A);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f2, R_NOERROR);
	ck_assert_uint_eq(rp.an, 1);
	ck_assert_str_eq(st.last, "n2");		/* the lookup sees lowercase */
	ck_assert_mem_eq(out + 12, "\x02N2\x04mEsH\x00", 9);	/* echoed as sent */
	ck_assert_mem_eq(rp.rr[0].rdata, members[0].v4, 4);

	qlen = mkq(q, "V4Only.MESH", T_ANY);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.an, 1);
	ck_assert_str_eq(st.last, "v4only");
	ck_assert_mem_eq(out + 12, "\x06V4Only\x04MESH\x00", 13);

	/* a configured domain in any case matches queries in any case */
	qlen = mkq(q, "n2.CoRp", T_A);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "Corp", stub_lookup, &st, out, sizeof out, &n),
	    0);
	decode(out, n, &rp);
	ck_assert_uint_eq(rp.f2, R_NOERROR);
	ck_assert_uint_eq(rp.an, 1);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &n), 0);
	ck_assert_uint_eq(out[3] & 0x0f, R_REFUSED);
}
END_TEST

START_TEST(test_dns_answer_header_flags)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, n;

	/* RD copied, RA/Z/AD/CD clear, TC clear */
	qlen = mkq_full(q, F_RD, 1, 0, 0, 0, "n2.mesh", T_A, C_IN);
	q[3] = 0xf0;					/* RA Z AD CD in a query: ignored */
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f1, 0x85);
	ck_assert_uint_eq(rp.f2, 0x00);
	qlen = mkq_full(q, 0x02, 1, 0, 0, 0, "n2.mesh", T_A, C_IN);	/* TC in a query */
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f1, 0x84);
}
END_TEST

START_TEST(test_dns_answer_edns_ignored)
{
	uint8_t q[BUF], q0[BUF], out[BUF], out0[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, qlen0, n, n0;

	qlen0 = mkq(q0, "n2.mesh", T_ANY);
	ask(q0, qlen0, &st, &rp, out0, &n0);
	for (unsigned rdlen = 0; rdlen <= 300; rdlen += 100) {
		qlen = mkq_full(q, F_RD, 1, 0, 0, 1, "n2.mesh", T_ANY, C_IN);
		qlen = put_opt(q, qlen, rdlen);
		ask(q, qlen, &st, &rp, out, &n);
		ck_assert_uint_eq(rp.an, 2);
		ck_assert_uint_eq(n, n0);		/* same reply, no OPT */
		ck_assert_mem_eq(out, out0, n);
	}
	/* an OPT whose rdata runs past the end */
	qlen = mkq_full(q, F_RD, 1, 0, 0, 1, "n2.mesh", T_A, C_IN);
	qlen = put_opt(q, qlen, 8);
	q[qlen - 9] = 9;
	expect_bare(q, qlen, R_FORMERR);
}
END_TEST

/* ---- malformed queries ------------------------------------------------- */

START_TEST(test_dns_answer_formerr)
{
	uint8_t q[BUF];
	size_t qlen, off;
	char name[400];

	expect_bare(q, mkq_full(q, F_RD, 0, 0, 0, 0, "n2.mesh", T_A, C_IN), R_FORMERR);
	expect_bare(q, mkq_full(q, F_RD, 2, 0, 0, 0, "n2.mesh", T_A, C_IN), R_FORMERR);
	expect_bare(q, mkq_full(q, F_RD, 1, 1, 0, 0, "n2.mesh", T_A, C_IN), R_FORMERR);
	expect_bare(q, mkq_full(q, F_RD, 1, 0, 1, 0, "n2.mesh", T_A, C_IN), R_FORMERR);
	expect_bare(q, mkq_full(q, F_RD, 1, 0, 0, 2, "n2.mesh", T_A, C_IN), R_FORMERR);
	/* ARCOUNT 1 but nothing there; and a record that is not OPT */
	expect_bare(q, mkq_full(q, F_RD, 1, 0, 0, 1, "n2.mesh", T_A, C_IN), R_FORMERR);
	qlen = mkq_full(q, F_RD, 1, 0, 0, 1, "n2.mesh", T_A, C_IN);
	qlen = put_opt(q, qlen, 0);
	q[qlen - 10] = 0;
	q[qlen - 9] = 250;				/* TSIG */
	expect_bare(q, qlen, R_FORMERR);
	qlen = mkq_full(q, F_RD, 1, 0, 0, 1, "n2.mesh", T_A, C_IN);
	q[qlen] = 1;					/* owner name not the root */
	q[qlen + 1] = 'x';
	qlen = put_opt(q, qlen + 2, 0);
	expect_bare(q, qlen, R_FORMERR);
	/* trailing byte */
	qlen = mkq(q, "n2.mesh", T_A);
	q[qlen] = 0;
	expect_bare(q, qlen + 1, R_FORMERR);
	/* compression pointer in the question: whole name, and after a label */
	mkq(q, "", T_A);
	off = put16(q, 12, 0xc00c);
	off = put16(q, off, T_A);
	expect_bare(q, put16(q, off, C_IN), R_FORMERR);
	off = put_name(q, 12, "n2") - 1;		/* drop the root octet */
	off = put16(q, off, 0xc00c);
	off = put16(q, off, T_A);
	expect_bare(q, put16(q, off, C_IN), R_FORMERR);
	/* extended label types 01 and 10 (a length octet 64..191) */
	qlen = mkq(q, "n2.mesh", T_A);
	q[12] = 0x40;
	expect_bare(q, qlen, R_FORMERR);
	q[12] = 0x80;
	expect_bare(q, qlen, R_FORMERR);
	/* a 64-byte label */
	memset(name, 'a', 64);
	strcpy(name + 64, ".mesh");
	expect_bare(q, mkq(q, name, T_A), R_FORMERR);
	/* names of 255 octets are fine, 256 are not: 3 x (1+63) + (1+56) + (1+4) + 1 */
	memset(name, 'a', sizeof name);
	name[63] = name[127] = name[191] = name[248] = '.';
	strcpy(name + 249, "mesh");
	qlen = mkq(q, name, T_A);
	ck_assert_uint_eq(qlen, 12 + 255 + 4);
	expect(name, T_A, R_NXDOMAIN, 0, true);
	name[248] = 'a';
	name[249] = '.';
	strcpy(name + 250, "mesh");
	qlen = mkq(q, name, T_A);
	ck_assert_uint_eq(qlen, 12 + 256 + 4);
	expect_bare(q, qlen, R_FORMERR);
	/* 200 one-byte labels: too long, whatever it ends with */
	for (off = 0; off < 200; off++) {
		name[2 * off] = 'a';
		name[2 * off + 1] = '.';
	}
	name[399] = '\0';
	expect_bare(q, mkq(q, name, T_A), R_FORMERR);
}
END_TEST

START_TEST(test_dns_answer_notimp)
{
	uint8_t q[BUF];

	for (unsigned opcode = 1; opcode < 16; opcode++)
		expect_bare(q, mkq_full(q, opcode << 3 | F_RD, 1, 0, 0, 0, "n2.mesh", T_A, C_IN),
		    R_NOTIMP);
	/* NOTIMP wins over a malformed body */
	expect_bare(q, mkq_full(q, 5 << 3, 0, 3, 1, 4, "n2.mesh", T_A, C_IN), R_NOTIMP);
}
END_TEST

START_TEST(test_dns_answer_refused_class)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	struct reply rp;
	size_t qlen, n;

	qlen = mkq_full(q, 0, 1, 0, 0, 0, "n2.mesh", T_A, C_CH);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f2, R_REFUSED);
	ck_assert_uint_eq(rp.qd, 1);
	ck_assert_uint_eq(st.calls, 0);
	qlen = mkq_full(q, 0, 1, 0, 0, 0, "n2.mesh", T_A, C_NONE);
	ask(q, qlen, &st, &rp, out, &n);
	ck_assert_uint_eq(rp.f2, R_REFUSED);
}
END_TEST

START_TEST(test_dns_answer_dropped)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	size_t qlen, n = 99;

	qlen = mkq(q, "n2.mesh", T_A);
	for (size_t i = 0; i < 12; i++) {
		n = 99;
		ck_assert_int_eq(mesh_dns_answer(q, i, NULL, stub_lookup, &st, out, sizeof out, &n),
		    MESHD_E_PROTO);
		ck_assert_uint_eq(n, 0);
	}
	q[2] |= 0x80;					/* a response */
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &n),
	    MESHD_E_PROTO);
	q[2] |= 0x78;					/* even with another opcode */
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &n),
	    MESHD_E_PROTO);
	ck_assert_int_eq(mesh_dns_answer(NULL, 0, NULL, stub_lookup, &st, out, sizeof out, &n),
	    MESHD_E_PROTO);
	ck_assert_uint_eq(st.calls, 0);
}
END_TEST

START_TEST(test_dns_answer_every_truncation)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	size_t qlen, n;
	int r;

	for (int edns = 0; edns <= 1; edns++) {
		qlen = mkq_full(q, F_RD, 1, 0, 0, (unsigned)edns, "n2.mesh", T_ANY, C_IN);
		if (edns)
			qlen = put_opt(q, qlen, 6);
		for (size_t i = 0; i < qlen; i++) {
			r = mesh_dns_answer(q, i, NULL, stub_lookup, &st, out, sizeof out, &n);
			if (i < 12) {
				ck_assert_int_eq(r, MESHD_E_PROTO);
				continue;
			}
			ck_assert_msg(r == 0, "cut at %zu: %d", i, r);
			ck_assert_uint_eq(n, 12);
			ck_assert_mem_eq(out, q, 2);
			ck_assert_uint_eq(out[3] & 0x0f, R_FORMERR);
		}
		ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out,
		    &n), 0);
		ck_assert_uint_eq(out[3], R_NOERROR);
	}
	ck_assert_uint_eq(st.calls, 2);	/* only the two whole queries */
}
END_TEST

/* ---- arguments and limits ---------------------------------------------- */

START_TEST(test_dns_answer_cap)
{
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	size_t qlen, n, full;

	qlen = mkq(q, "n2.mesh", T_ANY);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &full),
	    0);
	ck_assert_uint_eq(full, 12 + 13 + 16 + 28);
	for (size_t cap = 0; cap < full; cap++) {
		n = 99;
		ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, cap, &n),
		    MESHD_E_RANGE);
		ck_assert_uint_eq(n, 0);
	}
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, full, &n), 0);
	ck_assert_uint_eq(n, full);
	/* header-only replies need 12 */
	qlen = mkq_full(q, 0, 2, 0, 0, 0, "n2.mesh", T_A, C_IN);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, 11, &n),
	    MESHD_E_RANGE);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, 12, &n), 0);
}
END_TEST

START_TEST(test_dns_check_domain)
{
	static const char *good[] = { "mesh", "MESH", "corp-net", "a", "x1", "0",
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123" };
	static const char *bad[] = { "", "-mesh", "mesh-", "a.b", "mesh.", ".mesh", "me sh",
	    "me_sh", "m\xc3\xa9sh",
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234" };
	uint8_t q[BUF], out[BUF];
	struct stub st = { 0 };
	size_t qlen, n;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(mesh_dns_check_domain(good[i]) == 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(mesh_dns_check_domain(bad[i]) == MESHD_E_INVAL, "%s", bad[i]);
	ck_assert_int_eq(mesh_dns_check_domain(NULL), MESHD_E_INVAL);

	qlen = mkq(q, "n2.mesh", T_A);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "a.b", stub_lookup, &st, out, sizeof out, &n),
	    MESHD_E_INVAL);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "", stub_lookup, &st, out, sizeof out, &n),
	    MESHD_E_INVAL);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "mesh", NULL, &st, out, sizeof out, &n),
	    MESHD_E_INVAL);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "mesh", stub_lookup, &st, NULL, sizeof out, &n),
	    MESHD_E_INVAL);
	ck_assert_int_eq(mesh_dns_answer(q, qlen, "mesh", stub_lookup, &st, out, sizeof out, NULL),
	    MESHD_E_INVAL);
	ck_assert_uint_eq(st.calls, 0);
}
END_TEST

/* ---- random input ------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Checks one reply against what must hold for any input. */
static void check_any(const uint8_t *q, size_t qlen, uint64_t seed, unsigned iter)
{
	uint8_t out[BUF];
	struct stub st = { 0 };
	size_t n = 99;
	int r;

	r = mesh_dns_answer(q, qlen, NULL, stub_lookup, &st, out, sizeof out, &n);
	if (qlen < 12 || (q[2] & 0x80) != 0) {
		ck_assert_msg(r == MESHD_E_PROTO && n == 0, "seed %llu iter %u: not dropped",
		    (unsigned long long)seed, iter);
		return;
	}
	ck_assert_msg(r == 0, "seed %llu iter %u: r %d", (unsigned long long)seed, iter, r);
	ck_assert_msg(n >= 12 && n <= 512, "seed %llu iter %u: %zu bytes",
	    (unsigned long long)seed, iter, n);
	ck_assert_msg(out[0] == q[0] && out[1] == q[1] && (out[2] & 0x80) != 0,
	    "seed %llu iter %u: header", (unsigned long long)seed, iter);
	ck_assert_uint_le(st.calls, 1);
}

START_TEST(test_dns_answer_random_bytes)
{
	const uint64_t seed = 0x6d657368646e73ULL;
	uint8_t q[BUF];
	size_t qlen;

	rng_state = seed;
	for (unsigned iter = 0; iter < 100000; iter++) {
		qlen = rng() % 600;
		for (size_t i = 0; i < qlen; i++)
			q[i] = (uint8_t)rng();
		check_any(q, qlen, seed, iter);
	}
}
END_TEST

/* Random bytes almost never get past the header checks: also mutate valid
 * queries a few bytes at a time. */
START_TEST(test_dns_answer_random_mutations)
{
	static const char *names[] = { "n2.mesh", "V4ONLY.mesh", "mesh", "a.b.mesh", "x.com" };
	const uint64_t seed = 20240605;
	uint8_t q[BUF];
	size_t qlen;

	rng_state = seed;
	for (unsigned iter = 0; iter < 100000; iter++) {
		qlen = mkq_full(q, rng() % 8 == 0 ? rng() & 0x7f : rng() & 0x07, 1, 0, 0, rng() % 4 == 0,
		    names[rng() % (sizeof names / sizeof names[0])], rng() % 2 ? T_A : T_ANY, C_IN);
		if (q[11] == 1)
			qlen = put_opt(q, qlen, rng() % 8);
		for (unsigned k = rng() % 4; k > 0; k--)
			q[rng() % qlen] = (uint8_t)rng();
		if (rng() % 4 == 0)
			qlen = rng() % (qlen + 1);
		check_any(q, qlen, seed, iter);
	}
}
END_TEST

static Suite *suite_dns(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dns_answer_a_bytes);
	tcase_add_test(tc, test_dns_answer_aaaa_and_any);
	tcase_add_test(tc, test_dns_answer_rcodes);
	tcase_add_test(tc, test_dns_answer_lookup_only_for_members);
	tcase_add_test(tc, test_dns_answer_case_insensitive_0x20);
	tcase_add_test(tc, test_dns_answer_header_flags);
	tcase_add_test(tc, test_dns_answer_edns_ignored);
	tcase_add_test(tc, test_dns_answer_formerr);
	tcase_add_test(tc, test_dns_answer_notimp);
	tcase_add_test(tc, test_dns_answer_refused_class);
	tcase_add_test(tc, test_dns_answer_dropped);
	tcase_add_test(tc, test_dns_answer_every_truncation);
	tcase_add_test(tc, test_dns_answer_cap);
	tcase_add_test(tc, test_dns_check_domain);
	tcase_add_test(tc, test_dns_answer_random_bytes);
	tcase_add_test(tc, test_dns_answer_random_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(suite_dns());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
