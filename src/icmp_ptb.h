/* "Packet too big" answers to inner senders, built as a router would
 * (RFC 1191 / RFC 8201): for an inner packet that does not fit its peer's
 * path MTU, an ICMP "fragmentation needed" (IPv4, type 3 code 4, with the
 * next-hop MTU) or ICMPv6 "packet too big" (type 2) written back into the
 * TUN. Pure packet building plus a rate limiter; the daemon decides when.
 *
 * The answer's source is the original packet's destination (the host that
 * "cannot be reached" at that size): an address routed through the TUN, so
 * the kernel's reverse-path and martian checks accept it, also when it
 * forwards the answer on to a LAN host behind a site gateway. Like a router,
 * no answer for: IPv4 without DF (it may be fragmented), non-first IPv4
 * fragments, ICMP errors themselves, and unspecified, multicast or
 * broadcast sources.
 */
#ifndef MESHD_ICMP_PTB_H
#define MESHD_ICMP_PTB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/time.h"

enum {
	ICMP_PTB_V4_MAX = 576,		/* RFC 1812: an ICMPv4 error fits in 576 */
	ICMP_PTB_V6_MAX = 1280,		/* RFC 4443: as much as fits in 1280 */
	ICMP_PTB_RATE = 50,		/* answers per second (burst as many) */
};

/* Writes the answer to pkt (len bytes, an IP packet read from the TUN)
 * saying mtu into out (cap bytes; ICMP_PTB_V6_MAX is always enough).
 * Returns its length, or 0 when pkt gets no answer (see above) or is not a
 * well-formed IPv4/IPv6 header. */
size_t icmp_ptb_build(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap);

/* True for an IPv4 packet without DF: it may be fragmented on the way, so
 * it gets no "fragmentation needed". */
bool icmp_ptb_v4_may_fragment(const uint8_t *pkt, size_t len);

/* Token bucket for the answers. */
struct icmp_ptb_limit {
	uint32_t tokens;
	mtime_ns refill;
};
void icmp_ptb_limit_init(struct icmp_ptb_limit *l, mtime_ns now);
/* True (and one token spent) when an answer may go out now. */
bool icmp_ptb_limit_take(struct icmp_ptb_limit *l, mtime_ns now);

#endif
