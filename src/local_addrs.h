/* This host's own interface addresses, as candidates for endpoints: the one
 * getifaddrs() walk behind the daemon's local endpoints (daemon_endpoints.c)
 * and the inviter endpoints of `meshd invite` (cmd_mesh.c).
 *
 * Only addresses a peer could send to qualify: the interface is up and not a
 * loopback, and the address is unicast (not 0.0.0.0, 127/8, 224/4; not ::,
 * ::1, fe80::/10, ff00::/8, ::ffff:0:0/96). Each caller adds its own rules
 * (its mesh's overlay prefixes, the sockets it has). */
#ifndef MESHD_LOCAL_ADDRS_H
#define MESHD_LOCAL_ADDRS_H

#include <stdbool.h>
#include <sys/socket.h>

struct local_addr {
	const char *ifname;
	const struct sockaddr *addr;	/* AF_INET or AF_INET6 */
	const struct sockaddr *netmask;	/* same family as addr; NULL when unknown */
};

/* Return false to end the walk early. a and what it points to are borrowed
 * for the duration of the call. */
typedef bool local_addr_fn(void *ctx, const struct local_addr *a);

/* Calls fn for every qualifying address of an interface other than
 * skip_ifname (NULL or "": none), all IPv4 addresses first, then IPv6, each
 * family in the kernel's order. 0; MESHD_E_SYS with errno from getifaddrs. */
int local_addrs_foreach(const char *skip_ifname, local_addr_fn *fn, void *ctx);

#endif
