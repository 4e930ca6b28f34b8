/* One walk over getifaddrs() for every user of this host's addresses
 * (local_addrs.h). IPv4 goes first so that callers that keep only the first
 * few addresses prefer the family most peers can reach. */
#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "local_addrs.h"
#include "util/err.h"

static bool unicast4(const struct in_addr *in)
{
	uint32_t a = ntohl(in->s_addr);

	return a != 0 && (a >> 24) != 127 && (a >> 28) != 14;	/* 0, loopback, 224/4 */
}

static bool unicast6(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_MULTICAST(a) &&
	       !IN6_IS_ADDR_V4MAPPED(a);
}

static bool qualifies(const struct ifaddrs *ifa, int family, const char *skip_ifname)
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa || sa->sa_family != family || !(ifa->ifa_flags & IFF_UP) ||
	    (ifa->ifa_flags & IFF_LOOPBACK))
		return false;
	if (skip_ifname && !strcmp(ifa->ifa_name, skip_ifname))
		return false;
	if (family == AF_INET)
		return unicast4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	return unicast6(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

int local_addrs_foreach(const char *skip_ifname, local_addr_fn *fn, void *ctx)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct ifaddrs *ifs;
	bool more = true;

	if (getifaddrs(&ifs) < 0)
		return MESHD_E_SYS;
	for (int f = 0; f < 2 && more; f++)
		for (struct ifaddrs *i = ifs; i && more; i = i->ifa_next) {
			struct local_addr a;

			if (!qualifies(i, fams[f], skip_ifname))
				continue;
			a.ifname = i->ifa_name;
			a.addr = i->ifa_addr;
			a.netmask = i->ifa_netmask && i->ifa_netmask->sa_family == fams[f] ?
				    i->ifa_netmask : NULL;
			more = fn(ctx, &a);
		}
	freeifaddrs(ifs);
	return 0;
}
