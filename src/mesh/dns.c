#include <string.h>

#include "mesh/cert.h"
#include "mesh/dns.h"
#include "util/buf.h"
#include "util/err.h"

/* header flag bits (RFC 1035 4.1.1), in the first and second flag octets */
enum {
	FLAG_QR = 0x80,
	FLAG_OPCODE = 0x78,
	FLAG_AA = 0x04,
	FLAG_RD = 0x01,
	OPCODE_QUERY = 0,
	LABEL_KIND = 0xc0,		/* 00 = plain label, 11 = pointer, 01/10 = extended */
	QNAME_OFF = MESH_DNS_HDR_LEN,
	PTR_QNAME = 0xc000 | QNAME_OFF,	/* compression pointer to the question name */
	MAX_ANSWERS = 2,		/* ANY: one A and one AAAA */
};

_Static_assert((int)MESH_DNS_LABEL_MAX == (int)MESH_NAME_MAX, "a member name is one DNS label");
enum {
	SOA_RNAME_LABEL_LEN = 10,	/* "hostmaster" */
	/* MNAME pointer, RNAME label and pointer, five 32-bit numbers */
	SOA_RDLEN = 2 + 1 + SOA_RNAME_LABEL_LEN + 2 + 5 * 4,
	SOA_RR_LEN = 12 + SOA_RDLEN,
};

/* the longest reply: header, question, then A and AAAA, or the SOA; no size
 * check can fail for cap >= 512 */
_Static_assert(MESH_DNS_HDR_LEN + MESH_DNS_NAME_MAX + 4 + (12 + 4) + (12 + 16) <=
    MESH_DNS_UDP_MAX, "reply size");
_Static_assert(MESH_DNS_HDR_LEN + MESH_DNS_NAME_MAX + 4 + SOA_RR_LEN <= MESH_DNS_UDP_MAX,
    "reply size with the SOA");

struct question {
	size_t name_len;	/* wire bytes of the name at QNAME_OFF, root octet included */
	unsigned nlabels;
	size_t first;		/* offset in q of the first label's length octet */
	size_t last;		/* offset in q of the last label's length octet */
	uint16_t qtype;
	uint16_t qclass;
};

struct answer {
	uint16_t type;
	uint8_t rdlen;
	uint8_t rdata[16];
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Copies a label of n bytes (n <= 63) as a lowercase C string into out[64].
 * Returns false when it holds a NUL: no member or domain has one. */
static bool label_lower(const uint8_t *p, size_t n, char out[MESH_DNS_LABEL_MAX + 1])
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0)
			return false;
		out[i] = (char)lower(p[i]);
	}
	out[n] = '\0';
	return true;
}

int mesh_dns_check_domain(const char *domain)
{
	char low[MESH_DNS_LABEL_MAX + 1];
	size_t n;

	if (domain == NULL)
		return MESHD_E_INVAL;
	n = strnlen(domain, MESH_DNS_LABEL_MAX + 1);
	if (n > MESH_DNS_LABEL_MAX || !label_lower((const uint8_t *)domain, n, low))
		return MESHD_E_INVAL;
	return mesh_name_valid(low) ? 0 : MESHD_E_INVAL;
}

/* Reads the question name: plain labels only, up to MESH_DNS_NAME_MAX
 * octets. Returns 0 or MESHD_E_PROTO. */
static int read_qname(struct rd *rd, struct question *qu)
{
	uint8_t len, label[MESH_DNS_LABEL_MAX];
	size_t start = rd->off, at;
	int r;

	for (;;) {
		at = rd->off;
		if ((r = rd_u8(rd, &len)) != 0)
			return r;
		if (len == 0)
			break;
		/* pointers (11) and extended types (01, 10); also every len > 63 */
		if ((len & LABEL_KIND) != 0)
			return MESHD_E_PROTO;
		/* this label plus at least the root octet must fit */
		if (at - start + 1 + len + 1 > MESH_DNS_NAME_MAX)
			return MESHD_E_PROTO;
		if ((r = rd_bytes(rd, label, len)) != 0)
			return r;
		if (qu->nlabels++ == 0)
			qu->first = at;
		qu->last = at;
	}
	qu->name_len = rd->off - start;
	return 0;
}

/* Reads an additional-section record and accepts only EDNS OPT (root owner
 * name, type 41). Its contents are ignored. Returns 0 or MESHD_E_PROTO. */
static int read_opt(struct rd *rd)
{
	uint8_t owner, skip[64];
	uint16_t type, udp_size, rdlen;
	uint32_t ttl;
	size_t n;
	int r;

	if ((r = rd_u8(rd, &owner)) != 0 || (r = rd_u16(rd, &type)) != 0 ||
	    (r = rd_u16(rd, &udp_size)) != 0 || (r = rd_u32(rd, &ttl)) != 0 ||
	    (r = rd_u16(rd, &rdlen)) != 0)
		return r;
	if (owner != 0 || type != MESH_DNS_TYPE_OPT)
		return MESHD_E_PROTO;
	while (rdlen > 0) {
		n = rdlen < sizeof skip ? rdlen : sizeof skip;
		if ((r = rd_bytes(rd, skip, n)) != 0)
			return r;
		rdlen = (uint16_t)(rdlen - n);
	}
	return 0;
}

/* Parses header counts, question and additional section. Returns
 * MESH_DNS_NOERROR when the query is well formed, else the RCODE of a
 * header-only reply (FORMERR, NOTIMP). */
static int parse_query(const uint8_t *q, size_t qlen, struct question *qu)
{
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
	struct rd rd;

	memset(qu, 0, sizeof *qu);
	rd_init(&rd, q, qlen);
	if (rd_u16(&rd, &id) != 0 || rd_u16(&rd, &flags) != 0 || rd_u16(&rd, &qdcount) != 0 ||
	    rd_u16(&rd, &ancount) != 0 || rd_u16(&rd, &nscount) != 0 ||
	    rd_u16(&rd, &arcount) != 0)
		return MESH_DNS_FORMERR;	/* the caller checked the length: unreachable */
	if ((q[2] & FLAG_OPCODE) != OPCODE_QUERY)
		return MESH_DNS_NOTIMP;
	if (qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1)
		return MESH_DNS_FORMERR;
	if (read_qname(&rd, qu) != 0 || rd_u16(&rd, &qu->qtype) != 0 ||
	    rd_u16(&rd, &qu->qclass) != 0)
		return MESH_DNS_FORMERR;
	if (arcount == 1 && read_opt(&rd) != 0)
		return MESH_DNS_FORMERR;
	if (rd_end(&rd) != 0)
		return MESH_DNS_FORMERR;
	return MESH_DNS_NOERROR;
}

/* True when the label whose length octet is at q[off] equals domain,
 * ignoring ASCII case. */
static bool label_is(const uint8_t *q, size_t off, const char *domain)
{
	size_t n = q[off];

	if (strlen(domain) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(q[off + 1 + i]) != lower((uint8_t)domain[i]))
			return false;
	return true;
}

static void add(struct answer *ans, unsigned *nans, uint16_t type, const uint8_t *p, uint8_t n)
{
	ans[*nans].type = type;
	ans[*nans].rdlen = n;
	memcpy(ans[*nans].rdata, p, n);
	(*nans)++;
}

/* Decides the RCODE and the answers of a well-formed query; *aa tells
 * whether the reply is about our domain. */
static int resolve(const uint8_t *q, const struct question *qu, const char *domain,
    mesh_dns_lookup_fn *lookup, void *ctx, struct answer *ans, unsigned *nans, bool *aa,
    bool *soa_answer)
{
	char label[MESH_DNS_LABEL_MAX + 1];
	uint8_t v4[4] = { 0 }, v6[16] = { 0 };
	bool has4 = false, has6 = false;
	int r;

	*nans = 0;
	*aa = false;
	*soa_answer = false;
	if (qu->qclass != MESH_DNS_CLASS_IN && qu->qclass != MESH_DNS_CLASS_ANY)
		return MESH_DNS_REFUSED;
	if (qu->nlabels == 0 || !label_is(q, qu->last, domain))
		return MESH_DNS_REFUSED;
	*aa = true;
	if (qu->nlabels == 1) {
		/* the apex: it exists, holds the SOA and no A/AAAA */
		*soa_answer = qu->qtype == MESH_DNS_TYPE_SOA || qu->qtype == MESH_DNS_TYPE_ANY;
		return MESH_DNS_NOERROR;
	}
	if (qu->nlabels > 2)
		return MESH_DNS_NXDOMAIN;	/* members have no subdomains */
	if (!label_lower(q + qu->first + 1, q[qu->first], label) || !mesh_name_valid(label))
		return MESH_DNS_NXDOMAIN;
	r = lookup(ctx, label, v4, &has4, v6, &has6);
	if (r == MESHD_E_NOENT)
		return MESH_DNS_NXDOMAIN;
	if (r != 0) {
		*aa = false;
		return MESH_DNS_SERVFAIL;
	}
	if (has4 && (qu->qtype == MESH_DNS_TYPE_A || qu->qtype == MESH_DNS_TYPE_ANY))
		add(ans, nans, MESH_DNS_TYPE_A, v4, sizeof v4);
	if (has6 && (qu->qtype == MESH_DNS_TYPE_AAAA || qu->qtype == MESH_DNS_TYPE_ANY))
		add(ans, nans, MESH_DNS_TYPE_AAAA, v6, sizeof v6);
	return MESH_DNS_NOERROR;	/* with no answers: NODATA */
}

static int write_header(struct wr *w, const uint8_t *q, bool aa, int rcode, uint16_t qdcount,
    uint16_t ancount, uint16_t nscount)
{
	uint8_t f1 = (uint8_t)(FLAG_QR | (q[2] & (FLAG_OPCODE | FLAG_RD)) | (aa ? FLAG_AA : 0));
	int r;

	if ((r = wr_bytes(w, q, 2)) != 0 || (r = wr_u8(w, f1)) != 0 ||
	    (r = wr_u8(w, (uint8_t)rcode)) != 0 || (r = wr_u16(w, qdcount)) != 0 ||
	    (r = wr_u16(w, ancount)) != 0 || (r = wr_u16(w, nscount)) != 0 ||
	    (r = wr_u16(w, 0)) != 0)
		return r;
	return 0;
}

static int write_answer(struct wr *w, const struct answer *a)
{
	int r;

	if ((r = wr_u16(w, PTR_QNAME)) != 0 || (r = wr_u16(w, a->type)) != 0 ||
	    (r = wr_u16(w, MESH_DNS_CLASS_IN)) != 0 || (r = wr_u32(w, MESH_DNS_TTL)) != 0 ||
	    (r = wr_u16(w, a->rdlen)) != 0 || (r = wr_bytes(w, a->rdata, a->rdlen)) != 0)
		return r;
	return 0;
}

/* The zone's SOA record (dns.h); the owner, MNAME and RNAME's parent are
 * pointers to DOMAIN, the question's last label at offset dom in q. */
static int write_soa(struct wr *w, size_t dom)
{
	static const uint8_t rname[SOA_RNAME_LABEL_LEN] = { 'h', 'o', 's', 't', 'm', 'a', 's',
							    't', 'e', 'r' };
	static const uint32_t times[5] = { 1, 3600, 600, 86400, MESH_DNS_NEG_TTL };
	uint16_t ptr = (uint16_t)(0xc000 | dom);
	int r;

	if ((r = wr_u16(w, ptr)) != 0 || (r = wr_u16(w, MESH_DNS_TYPE_SOA)) != 0 ||
	    (r = wr_u16(w, MESH_DNS_CLASS_IN)) != 0 || (r = wr_u32(w, MESH_DNS_NEG_TTL)) != 0 ||
	    (r = wr_u16(w, SOA_RDLEN)) != 0 || (r = wr_u16(w, ptr)) != 0 ||
	    (r = wr_u8(w, SOA_RNAME_LABEL_LEN)) != 0 ||
	    (r = wr_bytes(w, rname, sizeof rname)) != 0 || (r = wr_u16(w, ptr)) != 0)
		return r;
	for (size_t i = 0; i < 5; i++)
		if ((r = wr_u32(w, times[i])) != 0)
			return r;
	return 0;
}

int mesh_dns_answer(const uint8_t *q, size_t qlen, const char *domain, mesh_dns_lookup_fn *lookup,
    void *ctx, uint8_t *out, size_t cap, size_t *outlen)
{
	struct answer ans[MAX_ANSWERS];
	struct question qu;
	unsigned nans = 0, i;
	bool aa = false, soa_answer, soa_auth;
	struct wr w;
	int rcode, r;

	if (outlen == NULL)
		return MESHD_E_INVAL;
	*outlen = 0;
	if (domain == NULL)
		domain = MESH_DNS_DOMAIN_DEFAULT;
	if (lookup == NULL || out == NULL || mesh_dns_check_domain(domain) != 0)
		return MESHD_E_INVAL;
	if (q == NULL || qlen < MESH_DNS_HDR_LEN || (q[2] & FLAG_QR) != 0)
		return MESHD_E_PROTO;
	wr_init(&w, out, cap < MESH_DNS_UDP_MAX ? cap : MESH_DNS_UDP_MAX);
	rcode = parse_query(q, qlen, &qu);
	if (rcode != MESH_DNS_NOERROR) {
		r = write_header(&w, q, false, rcode, 0, 0, 0);
		goto out;
	}
	rcode = resolve(q, &qu, domain, lookup, ctx, ans, &nans, &aa, &soa_answer);
	/* a negative answer about our domain: NXDOMAIN, or NODATA */
	soa_auth = aa && !soa_answer && nans == 0 &&
		   (rcode == MESH_DNS_NXDOMAIN || rcode == MESH_DNS_NOERROR);
	if ((r = write_header(&w, q, aa, rcode, 1, (uint16_t)(nans + soa_answer), soa_auth)) != 0 ||
	    (r = wr_bytes(&w, q + QNAME_OFF, qu.name_len + 4)) != 0)
		goto out;
	for (i = 0; i < nans; i++)
		if ((r = write_answer(&w, &ans[i])) != 0)
			goto out;
	if (soa_answer || soa_auth)
		r = write_soa(&w, qu.last);
out:
	if (r != 0)
		return r;
	*outlen = w.off;
	return 0;
}
