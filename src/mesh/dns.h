/* DNS responder for member names (NAME.DOMAIN), so that members reach each
 * other by name instead of by overlay address.
 *
 * meshd answers DNS queries on the node's overlay address, port 53, for the
 * mesh's own domain and nothing else. This is the sans-I/O part: the daemon
 * reads one UDP datagram, calls mesh_dns_answer() and sends what it built
 * back to the sender, or nothing.
 *
 * What is answered (RFC 1035; DOMAIN is one label, "mesh" by default):
 *	NAME.DOMAIN, a member	A, AAAA, ANY: its addresses (TTL MESH_DNS_TTL);
 *				any other type, or no address of that
 *				family: NOERROR with no answer (NODATA)
 *	NAME.DOMAIN, unknown	NXDOMAIN (also a.b.DOMAIN and deeper, and a
 *				NAME that is not a valid member name)
 *	DOMAIN itself		SOA, ANY: the zone's SOA (below); any
 *				other type: NOERROR with no answer
 *	anything else		REFUSED (other domains, classes other than IN
 *				and ANY)
 *	malformed query		FORMERR, header only, id echoed: QDCOUNT != 1,
 *				answer or authority records, an additional
 *				record other than one EDNS OPT, compression
 *				pointers or extended label types in the
 *				question, labels > 63 or names > 255 octets,
 *				truncated or trailing bytes
 *	opcode other than QUERY	NOTIMP, header only
 *	lookup failure		SERVFAIL (the lookup returned neither 0 nor
 *				MESHD_E_NOENT)
 *
 * Names are compared case-insensitively and the question is echoed as it was
 * received, so 0x20 case randomisation survives. The reply copies ID, opcode
 * and RD; sets QR; clears TC, RA and Z. AA is set when the answer is about
 * DOMAIN (NOERROR, NODATA, NXDOMAIN) and clear otherwise: meshd is not an
 * authority for names it refuses. An EDNS OPT record in the query is accepted
 * and ignored: the reply carries no OPT and so never exceeds
 * MESH_DNS_UDP_MAX. Answer owner names are a compression pointer to the
 * question name (0xC00C).
 *
 * Negative answers (NXDOMAIN, NODATA) carry the zone's SOA in the authority
 * section, as RFC 2308 section 3 asks of an authoritative server (without
 * it a resolver may not cache the answer at all, and asks again at once):
 * owner DOMAIN, MNAME DOMAIN, RNAME hostmaster.DOMAIN (pointers into the
 * question), serial 1, refresh 3600, retry 600, expire 86400, and minimum
 * and TTL MESH_DNS_NEG_TTL: a member who joins is resolvable within that
 * many seconds wherever its name was asked before.
 */
#ifndef MESHD_MESH_DNS_H
#define MESHD_MESH_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MESH_DNS_PORT = 53,
	MESH_DNS_TTL = 60,		/* s, on every address record */
	MESH_DNS_NEG_TTL = 5,		/* s, negative answers (the SOA's) */
	MESH_DNS_UDP_MAX = 512,		/* RFC 1035 4.2.1: no reply is longer */
	MESH_DNS_HDR_LEN = 12,
	MESH_DNS_LABEL_MAX = 63,
	MESH_DNS_NAME_MAX = 255,	/* wire form: length octets and root included */
};

/* RR types and classes (RFC 1035 3.2.2-3.2.5, RFC 3596, RFC 6891) */
enum {
	MESH_DNS_TYPE_A = 1,
	MESH_DNS_TYPE_SOA = 6,
	MESH_DNS_TYPE_AAAA = 28,
	MESH_DNS_TYPE_OPT = 41,
	MESH_DNS_TYPE_ANY = 255,
	MESH_DNS_CLASS_IN = 1,
	MESH_DNS_CLASS_ANY = 255,
};

/* RCODE values (RFC 1035 4.1.1) */
enum {
	MESH_DNS_NOERROR = 0,
	MESH_DNS_FORMERR = 1,
	MESH_DNS_SERVFAIL = 2,
	MESH_DNS_NXDOMAIN = 3,
	MESH_DNS_NOTIMP = 4,
	MESH_DNS_REFUSED = 5,
};

#define MESH_DNS_DOMAIN_DEFAULT "mesh"

/* Looks up a member: label is the single lowercase label before ".DOMAIN"
 * (e.g. "n2"), already a valid member name (mesh_name_valid()). Fills v4/v6
 * and sets *has4 and *has6 (both false and zeroed on entry). Returns 0 when the
 * member exists (even with no address), MESHD_E_NOENT when it does not; any
 * other code makes the reply SERVFAIL. */
typedef int mesh_dns_lookup_fn(void *ctx, const char *label, uint8_t v4[4], bool *has4,
    uint8_t v6[16], bool *has6);

/* 0 when domain is one DNS label: 1-63 of [A-Za-z0-9-], not starting or
 * ending with '-' (compared case-insensitively); MESHD_E_INVAL otherwise. */
int mesh_dns_check_domain(const char *domain);

/* Builds the reply to one UDP query q of qlen bytes; domain NULL means
 * MESH_DNS_DOMAIN_DEFAULT. Returns 0 with *outlen (at most MESH_DNS_UDP_MAX)
 * bytes in out to send, or (*outlen is then 0):
 *	MESHD_E_PROTO	send nothing: shorter than a header, or QR set (a
 *			response: answering it could start a loop)
 *	MESHD_E_INVAL	domain is not one DNS label, or a NULL argument
 *	MESHD_E_RANGE	the reply does not fit in cap bytes (cap >=
 *			MESH_DNS_UDP_MAX always suffices)
 * lookup is called at most once, only for NAME.DOMAIN questions. */
int mesh_dns_answer(const uint8_t *q, size_t qlen, const char *domain, mesh_dns_lookup_fn *lookup,
    void *ctx, uint8_t *out, size_t cap, size_t *outlen);

#endif
