/* The metrics listener's HTTP request parser and answer head (metrics.h).
 * Deliberately small: one GET or HEAD per connection, no body, no keep-alive;
 * everything else is refused so the daemon never holds state for a client
 * longer than one bounded buffer and one timer. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "metrics.h"
#include "util/err.h"

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-value bytes: VCHAR, SP, HTAB, obs-text */
static bool is_vchar(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* "GET /path HTTP/1.1" (line without CRLF). */
static int parse_request_line(const char *p, size_t len, struct metrics_req *out)
{
	const char *sp1, *sp2, *q;
	size_t tlen, plen;

	sp1 = memchr(p, ' ', len);
	if (sp1 == NULL)
		return MESHD_E_PROTO;
	if ((size_t)(sp1 - p) == 3 && !memcmp(p, "GET", 3))
		out->head = false;
	else if ((size_t)(sp1 - p) == 4 && !memcmp(p, "HEAD", 4))
		out->head = true;
	else
		return MESHD_E_PROTO;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
	if (sp2 == NULL)
		return MESHD_E_PROTO;
	tlen = (size_t)(sp2 - (sp1 + 1));
	if (tlen == 0 || tlen > METRICS_TARGET_MAX || sp1[1] != '/')
		return MESHD_E_PROTO;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)sp1[1 + i];

		if (c <= 0x20 || c >= 0x7f)
			return MESHD_E_PROTO;
	}
	if (len - (size_t)(sp2 + 1 - p) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return MESHD_E_PROTO;
	q = memchr(sp1 + 1, '?', tlen);
	plen = q ? (size_t)(q - (sp1 + 1)) : tlen;
	out->target = METRICS_T_OTHER;
	if (plen == 1)
		out->target = METRICS_T_PAGE;
	else if (plen == 8 && !memcmp(sp1 + 1, "/metrics", 8))
		out->target = METRICS_T_METRICS;
	else if (plen == 12 && !memcmp(sp1 + 1, "/status.json", 12))
		out->target = METRICS_T_STATUS;
	return 0;
}

/* "Name: value" (line without CRLF). */
static int parse_field(const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);
	size_t nlen, vlen;
	const char *v;

	if (colon == NULL || colon == p)
		return MESHD_E_PROTO;
	nlen = (size_t)(colon - p);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)p[i]))
			return MESHD_E_PROTO;
	v = colon + 1;
	vlen = len - nlen - 1;
	for (size_t i = 0; i < vlen; i++)
		if (!is_vchar((unsigned char)v[i]))
			return MESHD_E_PROTO;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	/* we read no body: refuse requests that announce one */
	if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17))
		return MESHD_E_PROTO;
	if (nlen == 14 && !strncasecmp(p, "Content-Length", 14) && !(vlen == 1 && v[0] == '0'))
		return MESHD_E_PROTO;
	return 0;
}

int metrics_req_parse(const char *buf, size_t len, struct metrics_req *out)
{
	size_t off = 0, nfields = 0;
	bool first = true;
	int r;

	memset(out, 0, sizeof *out);
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t llen;

		if (nl == NULL)
			break;
		llen = (size_t)(nl - line);
		if (llen == 0 || line[llen - 1] != '\r')
			return MESHD_E_PROTO;	/* bare LF */
		llen--;
		if (memchr(line, '\r', llen) != NULL)
			return MESHD_E_PROTO;	/* bare CR */
		off += llen + 2;
		if (first) {
			if ((r = parse_request_line(line, llen, out)) != 0)
				return r;
			first = false;
			continue;
		}
		if (llen == 0)
			return off == len ? 0 : MESHD_E_PROTO;
		if (line[0] == ' ' || line[0] == '\t')
			return MESHD_E_PROTO;	/* obsolete line folding */
		if (++nfields > METRICS_HEADERS_MAX)
			return MESHD_E_RANGE;
		if ((r = parse_field(line, llen)) != 0)
			return r;
	}
	/* an incomplete line: bytes that can never become valid fail now */
	for (size_t i = off; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c != '\r' && c != '\t' && (c < 0x20 || c == 0x7f))
			return MESHD_E_PROTO;
	}
	if (len >= METRICS_REQ_MAX)
		return MESHD_E_RANGE;
	return MESHD_E_AGAIN;
}

void metrics_http_head(struct sbuf *b, int code, const char *content_type, size_t body_len)
{
	const char *reason;

	switch (code) {
	case 200:
		reason = "OK";
		break;
	case 400:
		reason = "Bad Request";
		break;
	case 404:
		reason = "Not Found";
		break;
	default:
		code = 500;
		reason = "Internal Server Error";
	}
	sbuf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
		    "Connection: close\r\n\r\n", code, reason, content_type, body_len);
}

int metrics_addr_parse(const char *s, union endpoint *ep, bool *off)
{
	memset(ep, 0, sizeof *ep);
	*off = false;
	if (!strcmp(s, "off")) {
		*off = true;
		return 0;
	}
	if (endpoint_parse(ep, s, false) != 0)
		return MESHD_E_INVAL;
	return 0;
}

bool metrics_addr_is_loopback(const union endpoint *ep)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a;

	if (ep->sa.sa_family == AF_INET)
		return (ntohl(ep->sin.sin_addr.s_addr) >> 24) == 127;
	if (ep->sa.sa_family != AF_INET6)
		return false;
	a = ep->sin6.sin6_addr.s6_addr;
	if (IN6_IS_ADDR_LOOPBACK(&ep->sin6.sin6_addr))
		return true;
	return !memcmp(a, mapped, sizeof mapped) && a[12] == 127;
}
