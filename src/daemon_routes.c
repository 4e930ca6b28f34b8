/* Subnet routes of the mesh daemon (daemon.h "Subnet routes"): the node's
 * route_add/route_del ops become kernel routes via the TUN, and our own
 * advertised set is parsed, applied and checked against the forwarding
 * sysctls here. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon_internal.h"
#include "mesh/routes.h"
#include "netlink.h"
#include "schedule.h"
#include "util/err.h"
#include "util/log.h"

const char *meshd_prefix_str(const struct mesh_prefix *r, char buf[MESH_PREFIX_STRLEN])
{
	if (mesh_prefix_format(r, buf, MESH_PREFIX_STRLEN) != 0)
		snprintf(buf, MESH_PREFIX_STRLEN, "?");
	return buf;
}

/* Before the TUN is up the kernel refuses routes through it: those are
 * installed by meshd_routes_install() once it is. */
static void op_route(struct meshd *d, const struct mesh_prefix *r, bool add)
{
	char buf[MESH_PREFIX_STRLEN];
	int af = r->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
	int e;

	if (d->ifindex <= 0)
		return;
	if (af == AF_INET6 && !d->ipv6_active)
		return;		/* installed by meshd_ipv6_try() when IPv6 comes back */
	e = add ? netlink_route_add(d->ifindex, af, r->addr, r->len) :
		  netlink_route_del(d->ifindex, af, r->addr, r->len);
	if (e == 0)
		log_info("route %s %s dev %s", add ? "added:" : "removed:",
			 meshd_prefix_str(r, buf), d->ifname);
	else if (!(!add && errno == ESRCH))
		log_warn("cannot %s route %s dev %s: %s", add ? "add" : "remove",
			 meshd_prefix_str(r, buf), d->ifname,
			 e == MESHD_E_SYS ? strerror(errno) : meshd_strerror(e));
}

void meshd_route_add(void *ctx, const struct mesh_prefix *r)
{
	op_route(ctx, r, true);
}

void meshd_route_del(void *ctx, const struct mesh_prefix *r)
{
	op_route(ctx, r, false);
}

static int install_peer_routes(void *ctx, const struct mesh_node_peer *p)
{
	for (size_t i = 0; i < p->ninst; i++)
		op_route(ctx, &p->inst[i], true);
	return 0;
}

void meshd_routes_install(struct meshd *d)
{
	mesh_node_foreach_peer(d->node, install_peer_routes, d);
}

static bool sysctl_off(const char *path)
{
	char c = '1';
	FILE *f = fopen(path, "re");

	if (!f)
		return false;	/* unknown: say nothing */
	if (fread(&c, 1, 1, f) != 1)
		c = '1';
	fclose(f);
	return c == '0';
}

/* Advertising a family whose forwarding is off makes this node a gateway
 * that drops what it is sent: one warning per family, into warn too when
 * given (the ctl answer). */
void meshd_check_forwarding(const struct mesh_prefix *r, size_t n, struct sbuf *warn)
{
	static const struct {
		uint8_t family;
		const char *path, *sysctl;
	} f[2] = {
		{ MESH_FAMILY_V4, "/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward" },
		{ MESH_FAMILY_V6, "/proc/sys/net/ipv6/conf/all/forwarding",
		  "net.ipv6.conf.all.forwarding" },
	};

	for (int k = 0; k < 2; k++) {
		bool used = false;

		for (size_t i = 0; i < n; i++)
			used |= r[i].family == f[k].family;
		if (!used || !sysctl_off(f[k].path))
			continue;
		log_warn("forwarding is off: LAN hosts will not reach the mesh through this "
			 "gateway (sysctl -w %s=1)", f[k].sysctl);
		if (warn)
			sbuf_printf(warn, "warning: forwarding is off: LAN hosts will not reach "
				    "the mesh through this gateway (sysctl -w %s=1)\n", f[k].sysctl);
	}
}

/* Parses and applies an advertise list ("none" withdraws everything). */
int meshd_set_advertised(struct meshd *d, const char *list, struct sbuf *warn, char *err,
			 size_t errlen)
{
	struct mesh_prefix r[MESH_ROUTES_MAX];
	size_t n = 0;
	int e;

	e = mesh_routes_parse_list(list, r, MESH_ROUTES_MAX, &n, err, errlen);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "invalid route list '%.100s'", list);
		return e;
	}
	e = mesh_node_set_advertised(d->node, r, n, sched_now(), meshd_now_unix(), err, errlen);
	wgdev_rearm(&d->dev);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "cannot advertise '%.100s': %s", list, meshd_strerror(e));
		return e;
	}
	meshd_check_forwarding(r, n, warn);
	return 0;
}
