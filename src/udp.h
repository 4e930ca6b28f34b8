/* The UDP underlay: one IPv4 and one IPv6 (IPV6_V6ONLY) socket on the same port,
 * non-blocking, large buffers, optional fwmark. Batching is done by the caller
 * with recvmmsg/sendmmsg on the raw fds. */
#ifndef MESHD_UDP_H
#define MESHD_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

enum {
	UDP_SOCKBUF = 8 * 1024 * 1024,	/* requested SO_RCVBUF/SO_SNDBUF (forced if allowed) */
	UDP_BIND_TRIES = 64,		/* random-port attempts to find one free in both families */
};

struct udp {
	int fd4, fd6;		/* -1 when absent (e.g. IPv6 disabled) */
	uint16_t port;
	uint32_t fwmark;
};

/* Marks both fds absent. */
void udp_init(struct udp *u);
/* Binds both families to port (0: a random port free in both). Returns 0 or
 * MESHD_E_SYS with errno saved (EADDRINUSE when the port is taken). The
 * previous sockets, if any, are closed only on success. */
int udp_bind(struct udp *u, uint16_t port, uint32_t fwmark);
/* SO_MARK on both sockets (0 clears). 0 or MESHD_E_SYS. */
int udp_set_fwmark(struct udp *u, uint32_t fwmark);
void udp_close(struct udp *u);

/* The socket for a destination family, or -1. */
static inline int udp_fd_for(const struct udp *u, const union endpoint *dst)
{
	return dst->sa.sa_family == AF_INET6 ? u->fd6 : dst->sa.sa_family == AF_INET ? u->fd4 : -1;
}

/* Path MTU: both sockets send with DF and ignore the kernel's path MTU
 * cache (IP_PMTUDISC_PROBE / IPV6_PMTUDISC_PROBE), so the mesh's own probes
 * measure the path (mesh/pmtu.h); IP_RECVERR / IPV6_RECVERR queue what the
 * kernel learns (ICMP frag-needed / packet-too-big, local EMSGSIZE) for
 * udp_read_errors(). A readable error queue shows as POLLERR. */
typedef void udp_ptb_fn(void *ctx, const union endpoint *dst, unsigned mtu);
/* Drains fd's error queue (non-blocking); calls fn for every "too big" with
 * the original destination (port 0 for local errors) and the MTU. Other
 * errors (unreachable, refused) are read and dropped. Returns the number of
 * messages read. */
unsigned udp_read_errors(int fd, udp_ptb_fn *fn, void *ctx);

/* One datagram now (control path: handshakes, keepalives). Returns 0 or MESHD_E_SYS. */
int udp_send(const struct udp *u, const union endpoint *dst, const void *buf, size_t len);

#endif
