#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "netlink.h"
#include "netmon.h"
#include "util/err.h"
#include "util/log.h"

/* The payload of nlh when it holds at least len bytes, else NULL. */
static const void *payload(const struct nlmsghdr *nlh, size_t len)
{
	return mnl_nlmsg_get_payload_len(nlh) >= len ? mnl_nlmsg_get_payload(nlh) : NULL;
}

/* The first valid u32 attribute of type in a route message into *v;
 * false when there is none. */
static bool route_u32(const struct nlmsghdr *nlh, uint16_t type, uint32_t *v)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct rtmsg))
		if (mnl_attr_get_type(a) == type &&
		    mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
			*v = mnl_attr_get_u32(a);
			return true;
		}
	return false;
}

static bool route_relevant(const struct netmon *nm, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rt = payload(nlh, sizeof *rt);
	uint32_t table, oif;

	if (!rt || rt->rtm_protocol == NETLINK_RTPROT_MESHD || (rt->rtm_flags & RTM_F_CLONED))
		return false;
	/* RTA_TABLE holds ids above 255 */
	if (!route_u32(nlh, RTA_TABLE, &table))
		table = rt->rtm_table;
	if (table == RT_TABLE_LOCAL)
		return false;
	if (table != RT_TABLE_MAIN && rt->rtm_dst_len != 0)
		return false;
	return !route_u32(nlh, RTA_OIF, &oif) || (int)oif != nm->ignore_ifindex;
}

/* One message: true when it is a change worth a rescan. */
static bool relevant(const struct netmon *nm, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi;
	const struct ifaddrmsg *ifa;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		ifi = payload(nlh, sizeof *ifi);
		return ifi && ifi->ifi_index != nm->ignore_ifindex;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		ifa = payload(nlh, sizeof *ifa);
		return ifa && (int)ifa->ifa_index != nm->ignore_ifindex;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		return route_relevant(nm, nlh);
	default:
		return false;
	}
}

static void on_settled(uv_timer_t *t)
{
	struct netmon *nm = t->data;

	nm->pending = false;
	nm->changes++;
	nm->changed(nm->ctx);	/* may call netmon_stop() */
}

static void note_change(struct netmon *nm)
{
	if (nm->pending || !nm->on)
		return;
	nm->pending = true;
	uv_timer_start(&nm->timer, on_settled, NETMON_SETTLE_MS, 0);
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct netmon *nm = data;

	if (relevant(nm, nlh))
		note_change(nm);
	return MNL_CB_OK;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct netmon *nm = p->data;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	(void)events;
	if (status < 0) {
		log_ratelimited(LOG_LVL_WARN, "network monitor: poll failed: %s",
				uv_strerror(status));
		return;
	}
	for (int i = 0; i < NETMON_READS_MAX && nm->on; i++) {
		n = mnl_socket_recvfrom(nm->nl, buf, sizeof buf);
		if (n < 0) {
			if (errno == ENOBUFS) {	/* overrun: events were lost */
				log_debug("network monitor: receive buffer overrun");
				note_change(nm);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_ratelimited(LOG_LVL_WARN, "network monitor: receive failed: %s",
						strerror(errno));
			return;
		}
		/* seq 0 and portid 0: no checks (multicast notifications) */
		(void)mnl_cb_run(buf, (size_t)n, 0, 0, on_msg, nm);
	}
}

static void poll_closed(uv_handle_t *h)
{
	struct netmon *nm = h->data;

	if (nm->nl)
		mnl_socket_close(nm->nl);
	nm->nl = NULL;
}

static void timer_closed(uv_handle_t *h)
{
	(void)h;
}

int netmon_start(struct netmon *nm, uv_loop_t *loop, int ignore_ifindex,
		 void (*changed)(void *ctx), void *ctx)
{
	const unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
				RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int rcvbuf = NETMON_RCVBUF, e;

	memset(nm, 0, sizeof *nm);
	nm->ignore_ifindex = ignore_ifindex;
	nm->changed = changed;
	nm->ctx = ctx;
	nm->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nm->nl)
		return MESHD_E_SYS;
	/* best effort: a larger buffer makes overruns rarer */
	(void)setsockopt(mnl_socket_get_fd(nm->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			 sizeof rcvbuf);
	if (mnl_socket_bind(nm->nl, groups, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	if (uv_timer_init(loop, &nm->timer) != 0) {
		errno = ENOMEM;
		goto fail;
	}
	nm->timer.data = nm;
	e = uv_poll_init(loop, &nm->poll, mnl_socket_get_fd(nm->nl));
	if (e == 0) {
		nm->poll.data = nm;
		e = uv_poll_start(&nm->poll, UV_READABLE, on_readable);
		if (e) {
			uv_close((uv_handle_t *)&nm->poll, poll_closed);
			uv_close((uv_handle_t *)&nm->timer, timer_closed);
			errno = -e;
			return MESHD_E_SYS;	/* socket closed in poll_closed */
		}
	} else {
		uv_close((uv_handle_t *)&nm->timer, timer_closed);
		errno = -e;
		goto fail;
	}
	nm->on = true;
	return 0;
fail:
	e = errno;
	mnl_socket_close(nm->nl);
	nm->nl = NULL;
	errno = e;
	return MESHD_E_SYS;
}

void netmon_stop(struct netmon *nm)
{
	if (!nm->on)
		return;
	nm->on = false;
	nm->pending = false;
	uv_timer_stop(&nm->timer);
	uv_close((uv_handle_t *)&nm->timer, timer_closed);
	uv_poll_stop(&nm->poll);
	uv_close((uv_handle_t *)&nm->poll, poll_closed);
}
