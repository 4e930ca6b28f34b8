/* Our local endpoints (daemon.h): every qualifying interface address
 * (local_addrs.h) with our UDP port, plus the gateway's port mapping, handed
 * to mesh_node_set_endpoints() at start, every MESHD_ENDPOINT_SCAN_S, when
 * the mapping changes and when rtnetlink reports a network change. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "local_addrs.h"
#include "schedule.h"
#include "util/err.h"
#include "util/log.h"

static void scan_closed(uv_handle_t *h)
{
	(void)h;
}

/* One of our addresses (local_addrs.h) as a local endpoint; false when it
 * is not one: no socket of its family, or inside the mesh's own prefixes. */
static bool local_ep(const struct meshd *d, const struct sockaddr *sa, struct mesh_ep *ep)
{
	bool v4 = sa->sa_family == AF_INET;

	memset(ep, 0, sizeof *ep);
	ep->source = MESH_EP_LOCAL;
	ep->port = d->dev.udp.port;
	ep->family = v4 ? MESH_FAMILY_V4 : MESH_FAMILY_V6;
	if ((v4 ? d->dev.udp.fd4 : d->dev.udp.fd6) < 0)
		return false;
	if (v4)
		memcpy(ep->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else
		memcpy(ep->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	if (mesh_prefix_contains_addr(v4 ? &d->prefix4 : &d->prefix6, ep->family, ep->addr))
		return false;
	return mesh_ep_valid(ep);
}

enum { SCAN_PREFIX_MAX = 32 };	/* local prefixes handed to the node */

/* The prefix length of a netmask (contiguous bits from the top). */
static uint8_t mask_len(const uint8_t *m, size_t n)
{
	uint8_t len = 0;

	for (size_t i = 0; i < n && m[i] == 0xff; i++)
		len += 8;
	if (len / 8 < n)
		for (uint8_t b = m[len / 8]; b & 0x80; b = (uint8_t)(b << 1))
			len++;
	return len;
}

/* The interface prefix of a qualifying local endpoint (path selection tells
 * a same-LAN candidate by it); false without a netmask. */
static bool local_prefix(const struct sockaddr *m, const struct mesh_ep *ep,
			 struct mesh_prefix *p)
{
	if (!m)
		return false;
	memset(p, 0, sizeof *p);
	p->family = ep->family;
	memcpy(p->addr, ep->addr, 16);
	if (ep->family == MESH_FAMILY_V4) {
		const struct sockaddr_in *m4 = (const struct sockaddr_in *)(const void *)m;

		p->len = mask_len((const uint8_t *)&m4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *m6 = (const struct sockaddr_in6 *)(const void *)m;

		p->len = mask_len(m6->sin6_addr.s6_addr, 16);
	}
	return true;
}

/* What one scan gathers: the first max endpoints, the first
 * SCAN_PREFIX_MAX of their interface prefixes. */
struct scan {
	const struct meshd *d;
	struct mesh_ep eps[MESH_ENDPOINTS_MAX];
	size_t n, max;
	struct mesh_prefix pfx[SCAN_PREFIX_MAX];
	size_t npfx;
};

static bool scan_addr(void *ctx, const struct local_addr *a)
{
	struct scan *s = ctx;
	struct mesh_ep ep;

	if (!local_ep(s->d, a->addr, &ep))
		return true;
	if (s->n < s->max)
		s->eps[s->n++] = ep;
	if (s->npfx < SCAN_PREFIX_MAX && local_prefix(a->netmask, &ep, &s->pfx[s->npfx]))
		s->npfx++;
	return s->n < s->max || s->npfx < SCAN_PREFIX_MAX;
}

static void scan_endpoints(struct meshd *d)
{
	union endpoint pm;
	bool have_pm = portmap_run_endpoint(&d->portmap, &pm);
	struct scan s = { .d = d, .max = MESH_ENDPOINTS_MAX };
	struct mesh_ep out[MESH_ENDPOINTS_MAX];
	size_t nout = 0;
	int r;

	if (!d->node)
		return;
	if (local_addrs_foreach(d->ifname, scan_addr, &s) != 0) {
		log_warn("cannot list interface addresses: %s", strerror(errno));
		return;
	}
	if (mesh_node_set_local_prefixes(d->node, s.pfx, s.npfx, sched_now()) != 0)
		log_warn("cannot set the local prefixes");
	/* what the node keeps first when there are too many: the gateway's
	 * mapping, the TCP entries, then the interface addresses */
	if (have_pm && pm.sa.sa_family == AF_INET) {	/* mapped on the gateway */
		memset(&out[nout], 0, sizeof out[nout]);
		out[nout].source = MESH_EP_PORTMAP;
		out[nout].family = MESH_FAMILY_V4;
		memcpy(out[nout].addr, &pm.sin.sin_addr, 4);
		out[nout].port = ntohs(pm.sin.sin_port);
		nout++;
	}
	nout += meshd_tcp_entries(d, s.eps, s.n, out + nout, MESH_ENDPOINTS_MAX - nout);
	for (size_t i = 0; i < s.n && nout < MESH_ENDPOINTS_MAX; i++)
		out[nout++] = s.eps[i];
	r = mesh_node_set_endpoints(d->node, out, nout, sched_now(), meshd_now_unix());
	if (r)
		log_warn("cannot publish local endpoints: %s", meshd_strerror(r));
	wgdev_rearm(&d->dev);
}

void meshd_endpoints_rescan(struct meshd *d)
{
	scan_endpoints(d);
}

static void ipv6_retry(struct meshd *d)
{
	if (meshd_ipv6_try(d) != 0)
		log_ratelimited(LOG_LVL_WARN, "cannot add the overlay IPv6 address: %s",
				strerror(errno));
}

static void on_scan(uv_timer_t *t)
{
	ipv6_retry(t->data);
	scan_endpoints(t->data);
}

static void on_portmap_changed(void *ctx)
{
	scan_endpoints(ctx);
}

/* rtnetlink (netmon.h), a burst coalesced: forget the gateway's mapping,
 * re-probe every peer's path, then publish the new local endpoints. */
static void on_network_changed(void *ctx)
{
	struct meshd *d = ctx;

	if (!d->node)
		return;
	log_info("network changed: rescanning");
	ipv6_retry(d);
	portmap_run_network_changed(&d->portmap);
	mesh_node_network_changed(d->node, sched_now(), meshd_now_unix());
	scan_endpoints(d);
}

int meshd_endpoints_start(struct meshd *d, char *err, size_t errlen)
{
	uint64_t ms = (uint64_t)MESHD_ENDPOINT_SCAN_S * 1000;

	if (uv_timer_init(&d->loop, &d->scan) != 0) {
		snprintf(err, errlen, "cannot create timer");
		return MESHD_E_SYS;
	}
	d->scan.data = d;
	d->scan_on = true;
	uv_timer_start(&d->scan, on_scan, ms, ms);
	if (portmap_run_start(&d->portmap, &d->loop, d->dev.udp.port, on_portmap_changed, d))
		log_warn("cannot start port mapping; continuing without");
	if (netmon_start(&d->netmon, &d->loop, d->ifindex, on_network_changed, d))
		log_warn("cannot watch for network changes (%s); rescanning every %d s only",
			 strerror(errno), (int)MESHD_ENDPOINT_SCAN_S);
	scan_endpoints(d);
	return 0;
}


/* The order the daemon always stopped them in: mapping, monitor, timer. */
void meshd_endpoints_stop(struct meshd *d)
{
	portmap_run_stop(&d->portmap, NULL);	/* DELETE; the loop waits for it */
	netmon_stop(&d->netmon);
	if (d->scan_on) {
		uv_timer_stop(&d->scan);
		uv_close((uv_handle_t *)&d->scan, scan_closed);
		d->scan_on = false;
	}
}

/* ---- path MTU ---- */

void meshd_path_mtu(void *ctx, const union endpoint *dst, unsigned mtu)
{
	struct meshd *d = ctx;

	mesh_node_path_mtu_hint(d->node, dst, mtu, sched_now(), meshd_now_unix());
}

/* As a router would: IPv6 and IPv4 with DF get a too-big answer (at most
 * ICMP_PTB_RATE a second) and are dropped; IPv4 without DF goes on as it
 * is (the path may still carry it fragmented or not at all, as before). */
bool meshd_tun_too_big(void *ctx, const uint8_t *pkt, size_t len, mtime_ns now)
{
	struct meshd *d = ctx;
	unsigned lim;
	size_t n;

	if (d->node == NULL || d->dev.mtu <= 0)
		return false;
	lim = mesh_node_inner_mtu(d->node, pkt, len, (unsigned)d->dev.mtu);
	if (lim == 0 || len <= lim || icmp_ptb_v4_may_fragment(pkt, len))
		return false;
	if (d->ptb_limit.refill == 0)
		icmp_ptb_limit_init(&d->ptb_limit, now);
	if (!icmp_ptb_limit_take(&d->ptb_limit, now))
		return true;
	n = icmp_ptb_build(pkt, len, lim, d->ptb_buf, sizeof d->ptb_buf);
	if (n > 0)
		wgdev_tun_write(&d->dev, d->ptb_buf, n);
	return true;
}
