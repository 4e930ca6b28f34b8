/* rtnetlink through libmnl: the few link and address changes the mesh daemon
 * makes to its own TUN device. One short-lived socket per call (these run at
 * start-up, never on the data path); every request asks for an ACK so the
 * kernel's error comes back as the call's result. */
#ifndef MESHD_NETLINK_H
#define MESHD_NETLINK_H

#include <stdint.h>

/* Adds addr/prefixlen to the interface (replacing an identical one: a restart
 * onto a TUN that kept its address is fine). family is AF_INET (addr: 4
 * bytes) or AF_INET6 (16 bytes; added with IFA_F_NODAD so it is usable at
 * once). Returns 0; MESHD_E_INVAL (bad family, prefix length or ifindex);
 * MESHD_E_SYS with errno set to the kernel's answer. */
int netlink_addr_add(int ifindex, int family, const void *addr, uint8_t prefixlen);

/* Sets IFF_UP on the interface. 0, MESHD_E_INVAL or MESHD_E_SYS (errno set). */
int netlink_link_up(int ifindex);

/* A route to addr/prefixlen through the interface (table main, scope link,
 * protocol NETLINK_RTPROT_MESHD so `ip route show proto 77` lists ours).
 * add replaces an existing route to the same prefix; del of a route that is
 * not there is MESHD_E_SYS with errno ESRCH. family and addr as for
 * netlink_addr_add(). 0, MESHD_E_INVAL or MESHD_E_SYS (errno set). */
enum {
	NETLINK_RTPROT_MESHD = 77,	/* unassigned in /etc/iproute2/rt_protos */
};
int netlink_route_add(int ifindex, int family, const void *addr, uint8_t prefixlen);
int netlink_route_del(int ifindex, int family, const void *addr, uint8_t prefixlen);

#endif
