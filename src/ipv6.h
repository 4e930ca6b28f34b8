/* Is IPv6 usable on this host? Many servers and laptops run with
 * net.ipv6.conf.all.disable_ipv6=1 (or a kernel without IPv6): there the
 * kernel refuses IPv6 addresses (EACCES) and IPv6 sends fail, so the daemon
 * runs IPv4-only until IPv6 comes back. */
#ifndef MESHD_IPV6_H
#define MESHD_IPV6_H

#include <stdbool.h>

/* True when IPv6 is enabled on interface ifname (NULL: on the host as a
 * whole, "all"), read from /proc/sys/net/ipv6/conf/NAME/disable_ipv6 of the
 * caller's network namespace. False when that file is missing (no IPv6 in
 * the kernel, or no such interface) or says 1. */
bool meshd_ipv6_enabled(const char *ifname);

/* True when errno from adding an IPv6 address means "IPv6 is off here"
 * rather than a real failure. */
bool meshd_ipv6_off_errno(int e);

#endif
