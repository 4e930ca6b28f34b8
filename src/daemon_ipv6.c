/* The overlay IPv6 address on hosts that may have IPv6 disabled.
 *
 * Many servers and laptops run with net.ipv6.conf.all.disable_ipv6=1; there
 * the kernel refuses IPv6 addresses (EACCES). Such a node runs IPv4-only
 * inside the tunnel: it says so once, keeps its assigned overlay IPv6 (status
 * shows it as not active), installs no IPv6 routes and no IPv6 DNS listener,
 * and adds the address, then DNS and routes, as soon as IPv6 is enabled on
 * the TUN again (checked on every endpoint scan and network change). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>

#include "daemon_internal.h"
#include "ipv6.h"
#include "netlink.h"
#include "util/err.h"
#include "util/log.h"

static void disabled_say(struct meshd *d)
{
	char a[INET6_ADDRSTRLEN];

	if (d->ipv6_warned)
		return;
	d->ipv6_warned = true;
	inet_ntop(AF_INET6, d->ipv6, a, sizeof a);
	log_warn("IPv6 is disabled on this host: running IPv4-only inside the tunnel "
		 "(overlay %s is assigned but not active; added when IPv6 comes back)", a);
}

int meshd_ipv6_try(struct meshd *d)
{
	char a[INET6_ADDRSTRLEN];
	bool startup = d->ifindex <= 0;	/* configure_tun: DNS and routes follow */
	int idx = startup ? (int)if_nametoindex(d->ifname) : d->ifindex;

	if (d->ipv6_active || idx <= 0)
		return 0;
	if (!meshd_ipv6_enabled(d->ifname)) {
		disabled_say(d);
		return 0;
	}
	if (netlink_addr_add(idx, AF_INET6, d->ipv6, d->prefix6.len) != 0) {
		if (meshd_ipv6_off_errno(errno)) {
			disabled_say(d);
			return 0;
		}
		return MESHD_E_SYS;
	}
	d->ipv6_active = true;
	if (startup)
		return 0;
	inet_ntop(AF_INET6, d->ipv6, a, sizeof a);
	log_warn("IPv6 is enabled again: overlay %s added", a);
	meshd_dns_start_v6(d);
	meshd_routes_install(d);
	return 0;
}
