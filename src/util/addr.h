/* Underlay endpoints (IPv4 or IPv6 address + UDP port). Pure data: no syscalls. */
#ifndef MESHD_UTIL_ADDR_H
#define MESHD_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

union endpoint {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* Longest string endpoint_format() writes, NUL included: "[v6%scope]:65535". */
#define ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 16 + 8)

/* True when the endpoint holds an AF_INET or AF_INET6 address. */
bool endpoint_is_set(const union endpoint *ep);
/* Equal family, address and port (scope id for link-local v6). */
bool endpoint_eq(const union endpoint *a, const union endpoint *b);
/* Length to hand to sendto() and friends; 0 when unset. */
size_t endpoint_len(const union endpoint *ep);

/* Parse "1.2.3.4:51820", "[2001:db8::1]:51820" or "[fe80::1%2]:51820" (numeric
 * only, port 1..65535, or 0 when allow_port0). Returns 0 or MESHD_E_INVAL. */
int endpoint_parse(union endpoint *ep, const char *s, bool allow_port0);
/* Writes "ip:port" / "[ip]:port" into buf (size >= ENDPOINT_STRLEN); returns buf. */
char *endpoint_format(const union endpoint *ep, char *buf, size_t len);

/* An IPv4-mapped IPv6 endpoint (::ffff:a.b.c.d) turned into plain AF_INET. */
void endpoint_unmap(union endpoint *ep);

/* True for an IPv6 endpoint in 0100::/8 (reserved by the IETF, never
 * routed): where meshd's synthetic endpoints live (a relay's, a TCP entry
 * connection's), which name no socket and are never a peer's address. */
bool endpoint_is_synthetic(const union endpoint *ep);

#endif
