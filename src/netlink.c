#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "netlink.h"
#include "util/err.h"

/* Sends one request and waits for its ACK. errno holds the kernel's error. */
static int talk(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned portid, seq;
	ssize_t n;
	int r = -1, e;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return MESHD_E_SYS;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	portid = mnl_socket_get_portid(nl);
	seq = (unsigned)time(NULL);
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	/* mnl_cb_run returns MNL_CB_STOP (0) on the ACK, -1 with errno on an
	 * error message, MNL_CB_OK while more is to come. */
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0)
			goto out;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
	} while (r > 0);
out:
	e = errno;
	mnl_socket_close(nl);
	errno = e;
	return r == 0 ? 0 : MESHD_E_SYS;
}

/* Starts a request in buf (MNL_SOCKET_BUFFER_SIZE); talk() adds the
 * request and ACK flags. */
static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

/* An address or route request's subject: addr/prefixlen of family on the
 * interface ifindex. */
struct prefix_msg {
	int ifindex;
	int family;
	const void *addr;
	uint8_t prefixlen;
	size_t alen;		/* set by put_prefix_msg: 4 or 16 */
};

/* Starts a request for m in buf (put_header) with a family header of
 * hdr_len bytes after it, zeroed and returned; NULL when an argument is
 * invalid (no interface, no address, another family, a prefix longer than
 * the address). */
static void *put_prefix_msg(char *buf, uint16_t type, uint16_t flags, size_t hdr_len,
			    struct prefix_msg *m, struct nlmsghdr **nlh)
{
	if (m->ifindex <= 0 || !m->addr)
		return NULL;
	if (m->family == AF_INET)
		m->alen = 4;
	else if (m->family == AF_INET6)
		m->alen = 16;
	else
		return NULL;
	if (m->prefixlen > m->alen * 8)
		return NULL;
	*nlh = put_header(buf, type, flags);
	return mnl_nlmsg_put_extra_header(*nlh, hdr_len);
}

int netlink_addr_add(int ifindex, int family, const void *addr, uint8_t prefixlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct prefix_msg m = { ifindex, family, addr, prefixlen, 0 };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	ifa = put_prefix_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof *ifa, &m, &nlh);
	if (!ifa)
		return MESHD_E_INVAL;
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	/* NODAD: nobody else is on a TUN, and DAD would hold the address
	 * "tentative" for a second or more, failing early binds and sends. */
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, m.alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, m.alen, addr);
	if (family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return talk(nlh);
}

int netlink_link_up(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return MESHD_E_INVAL;
	nlh = put_header(buf, RTM_NEWLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return talk(nlh);
}

static int route(uint16_t type, uint16_t flags, int ifindex, int family, const void *addr,
		 uint8_t prefixlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct prefix_msg m = { ifindex, family, addr, prefixlen, 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (!(rtm = put_prefix_msg(buf, type, flags, sizeof *rtm, &m, &nlh)))
		return MESHD_E_INVAL;
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefixlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = NETLINK_RTPROT_MESHD;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, m.alen, addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return talk(nlh);
}

int netlink_route_add(int ifindex, int family, const void *addr, uint8_t prefixlen)
{
	return route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifindex, family, addr, prefixlen);
}

int netlink_route_del(int ifindex, int family, const void *addr, uint8_t prefixlen)
{
	return route(RTM_DELROUTE, 0, ifindex, family, addr, prefixlen);
}
