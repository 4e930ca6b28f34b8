#include "config.h"

#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp.h"
#include "ipv6.h"
#include "util/err.h"

void udp_init(struct udp *u)
{
	u->fd4 = u->fd6 = -1;
	u->port = 0;
	u->fwmark = 0;
}

static void set_bufs(int fd)
{
	int sz = UDP_SOCKBUF;

	/* FORCE needs CAP_NET_ADMIN and ignores rmem_max; else the kernel caps it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

/* DF always, no local fragmentation from a cached path MTU (the mesh's
 * probes must see the real path), and the kernel's findings queued for
 * udp_read_errors(). Optional: without them the mesh still probes. */
static void set_pmtu(int fd, int family)
{
	int one = 1, v;

	if (family == AF_INET6) {
		v = IPV6_PMTUDISC_PROBE;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
	} else {
		v = IP_PMTUDISC_PROBE;
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
	}
}

/* Returns the fd, or -1 with errno set. */
static int open_one(int family, uint16_t port, uint32_t fwmark, uint16_t *bound)
{
	union endpoint ep;
	socklen_t len;
	int fd, one = 1, e;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	memset(&ep, 0, sizeof ep);
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
			goto fail;
		ep.sin6.sin6_family = AF_INET6;
		ep.sin6.sin6_addr = in6addr_any;
		ep.sin6.sin6_port = htons(port);
		len = sizeof ep.sin6;
	} else {
		ep.sin.sin_family = AF_INET;
		ep.sin.sin_addr.s_addr = htonl(INADDR_ANY);
		ep.sin.sin_port = htons(port);
		len = sizeof ep.sin;
	}
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) < 0)
		goto fail;
	set_bufs(fd);
	set_pmtu(fd, family);
	/* Let the kernel hand us coalesced datagrams (split in wgdev.c); optional. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
	if (bind(fd, &ep.sa, len) < 0)
		goto fail;
	len = sizeof ep;
	if (getsockname(fd, &ep.sa, &len) < 0)
		goto fail;
	*bound = ntohs(family == AF_INET6 ? ep.sin6.sin6_port : ep.sin.sin_port);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static bool family_unsupported(int e)
{
	return e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == EADDRNOTAVAIL;
}

int udp_bind(struct udp *u, uint16_t port, uint32_t fwmark)
{
	int fd4 = -1, fd6 = -1;
	uint16_t got4 = 0, got6 = 0;

	for (int i = 0; i < UDP_BIND_TRIES; i++) {
		fd4 = open_one(AF_INET, port, fwmark, &got4);
		if (fd4 < 0 && !family_unsupported(errno))
			return MESHD_E_SYS;
		/* IPv6 disabled: a socket would bind but every send would fail. */
		if (!meshd_ipv6_enabled(NULL)) {
			fd6 = -1;
			errno = EAFNOSUPPORT;
		} else {
			fd6 = open_one(AF_INET6, fd4 >= 0 ? got4 : port, fwmark, &got6);
		}
		if (fd6 >= 0 || family_unsupported(errno)) {
			if (fd4 < 0 && fd6 < 0)
				return MESHD_E_SYS;
			break;
		}
		/* v6 busy: with a random port, try another one */
		if (fd4 >= 0) {
			int e = errno;

			close(fd4);
			errno = e;
		}
		fd4 = -1;
		if (port != 0 || errno != EADDRINUSE)
			return MESHD_E_SYS;
	}
	if (fd4 < 0 && fd6 < 0) {
		errno = EADDRINUSE;
		return MESHD_E_SYS;
	}
	udp_close(u);
	u->fd4 = fd4;
	u->fd6 = fd6;
	u->port = fd4 >= 0 ? got4 : got6;
	u->fwmark = fwmark;
	return 0;
}

int udp_set_fwmark(struct udp *u, uint32_t fwmark)
{
	int fds[2] = { u->fd4, u->fd6 };

	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && setsockopt(fds[i], SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) < 0)
			return MESHD_E_SYS;
	u->fwmark = fwmark;
	return 0;
}

void udp_close(struct udp *u)
{
	if (u->fd4 >= 0)
		close(u->fd4);
	if (u->fd6 >= 0)
		close(u->fd6);
	u->fd4 = u->fd6 = -1;
}

int udp_send(const struct udp *u, const union endpoint *dst, const void *buf, size_t len)
{
	int fd = udp_fd_for(u, dst);

	if (fd < 0) {
		errno = EAFNOSUPPORT;
		return MESHD_E_SYS;
	}
	for (int i = 0; i < 2; i++) {
		if (sendto(fd, buf, len, 0, &dst->sa, (socklen_t)endpoint_len(dst)) >= 0)
			return 0;
		/* With IP_RECVERR an ICMP error about an earlier datagram (to
		 * anyone: a dead member's port unreachable, a frag-needed) is
		 * also left pending on the socket, and the next send returns it
		 * instead of sending. Returning it cleared it: send once more. */
		if (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH &&
		    errno != EHOSTDOWN && errno != EMSGSIZE && errno != EPROTO)
			break;
	}
	return MESHD_E_SYS;
}

unsigned udp_read_errors(int fd, udp_ptb_fn *fn, void *ctx)
{
	unsigned n = 0;

	/* bounded: the queue is bounded by the receive buffer anyway */
	for (int i = 0; i < 256; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
			    sizeof(struct sockaddr_in6))];
		} ctl;
		union endpoint dst;
		uint8_t data[64];
		struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
		struct msghdr mh = {
			.msg_name = &dst, .msg_namelen = sizeof dst,
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
		};

		memset(&dst, 0, sizeof dst);
		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		n++;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			struct sock_extended_err ee;

			if (!((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
			    (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)) ||
			    cm->cmsg_len < CMSG_LEN(sizeof ee))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof ee);
			/* ICMP frag-needed, ICMPv6 packet-too-big and the local
			 * EMSGSIZE all arrive as EMSGSIZE with the MTU in ee_info */
			if (ee.ee_errno == EMSGSIZE && ee.ee_info > 0 && fn != NULL &&
			    endpoint_is_set(&dst))
				fn(ctx, &dst, ee.ee_info);
		}
	}
	return n;
}
