/* The mesh-mode daemon: struct meshd ties the wg device (wgdev.h), the store,
 * the mesh node (mesh/node.h) and the control socket together. See daemon.h
 * for the demultiplexing rules and the start/stop order. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "local_addrs.h"
#include "mesh/dns.h"
#include "mesh/node.h"
#include "mesh/relay.h"
#include "mesh/routes.h"
#include "mesh/wire.h"
#include "netlink.h"
#include "netmon.h"
#include "portmap_run.h"
#include "status.h"
#include "tun.h"
#include "util/daemonize.h"
#include "util/err.h"
#include "util/log.h"
#include "wgdev.h"

_Static_assert((int)WGDEV_MESH_MAGIC == (int)MESH_MSG_MAGIC, "wgdev demultiplexes on the mesh magic");

enum {
	IP4_HDR = 20,
	UDP_HDR = 8,
	GOSSIP_MAX = WGDEV_MAX_PACKET - IP4_HDR - UDP_HDR,
	DNS_QUERY_MAX = 4096,		/* EDNS queries may be longer than 512 */
	HOSTS_CHECK_S = 5,
	HOSTS_FILE_MAX = 4 * 1024 * 1024,	/* a larger hosts file is left alone */
};

/* One DNS responder socket (daemon.h "Names"). */
struct meshd_dns {
	uv_udp_t h;
	bool on;
	struct meshd *d;
};

struct meshd {
	struct wgdev dev;
	struct store *st;
	struct mesh_node *node;
	struct ctl_server ctl;
	uv_timer_t scan;
	bool scan_on;
	bool revoked;
	struct portmap_run portmap;	/* gateway mapping of the UDP port */
	struct netmon netmon;		/* rtnetlink: the network changed (roaming) */
	char dir[PATH_MAX];
	char pidfile[PATH_MAX + 16];
	char ifname[IFNAMSIZ];
	uint8_t ipv4[4], ipv6[16];
	struct mesh_prefix prefix4, prefix6;
	struct meshd_run_opts opts;	/* strings borrowed from the caller */
	int ifindex;			/* of the TUN, once configured (routes) */
	char domain[MESH_NAME_MAX + 1];	/* DNS: the mesh name */
	struct meshd_dns dns[2];	/* [0] overlay IPv4:53, [1] [overlay IPv6]:53 */
	uint8_t dnsq[DNS_QUERY_MAX];
	uint8_t dnsa[MESH_DNS_UDP_MAX];
	uv_timer_t hosts;		/* hosts_file upkeep */
	bool hosts_on;
	uint64_t hosts_hash;		/* of the last block written; 0: none */
	char hosts_path[PATH_MAX];	/* opts.hosts_file made absolute */
	uint8_t gbuf[WGDEV_MAX_PACKET];	/* outgoing gossip packet */
};

const char *meshd_state_dir(const char *dir_opt)
{
	const char *env;

	if (dir_opt && *dir_opt)
		return dir_opt;
	env = getenv("MESHD_STATE_DIR");
	if (env && *env)
		return env;
	return MESHD_DEFAULT_DIR;
}

static uint64_t now_unix(void)
{
	time_t t = time(NULL);

	return t > 0 ? (uint64_t)t : 0;
}

/* Our own revocation arrived: every peer has dropped us, nothing to serve. */
static void check_revoked(struct meshd *d)
{
	if (!d->node || d->revoked || !mesh_node_revoked(d->node))
		return;
	d->revoked = true;
	log_error("this node has been revoked from the mesh; stopping");
	wgdev_shutdown(&d->dev, "revoked");
}

/* ---- mesh node ops ---- */

static void op_send_underlay(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct meshd *d = ctx;

	if (wgdev_send_underlay(&d->dev, dst, p, len) != 0)
		log_ratelimited(LOG_LVL_DEBUG, "mesh: underlay send failed: %s", strerror(errno));
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4 (DF, TTL 64) + UDP (checksum 0: allowed for IPv4, and WireGuard
 * authenticates the whole packet anyway) around the payload. */
static void op_send_gossip(void *ctx, const uint8_t dst4[4], const uint8_t *p, size_t len)
{
	struct meshd *d = ctx;
	uint8_t *ip = d->gbuf, *udp = d->gbuf + IP4_HDR;
	size_t total = IP4_HDR + UDP_HDR + len;
	int r;

	if (len > GOSSIP_MAX)
		return;
	memset(ip, 0, IP4_HDR + UDP_HDR);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)total);
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, d->ipv4, 4);
	memcpy(ip + 16, dst4, 4);
	put16(ip + 10, ip_checksum(ip, IP4_HDR));
	put16(udp, MESH_GOSSIP_PORT);
	put16(udp + 2, MESH_GOSSIP_PORT);
	put16(udp + 4, (uint16_t)(UDP_HDR + len));
	memcpy(udp + UDP_HDR, p, len);
	r = wgdev_inject(&d->dev, d->gbuf, total);
	if (r)
		log_ratelimited(LOG_LVL_DEBUG, "mesh: gossip to %u.%u.%u.%u not sent: %s",
				dst4[0], dst4[1], dst4[2], dst4[3], meshd_strerror(r));
}

/* ---- subnet routes (daemon.h) ---- */

static const char *prefix_str(const struct mesh_prefix *r, char buf[MESH_PREFIX_STRLEN])
{
	if (mesh_prefix_format(r, buf, MESH_PREFIX_STRLEN) != 0)
		snprintf(buf, MESH_PREFIX_STRLEN, "?");
	return buf;
}

/* Before the TUN is up the kernel refuses routes through it: those are
 * installed by install_routes() once it is. */
static void op_route(struct meshd *d, const struct mesh_prefix *r, bool add)
{
	char buf[MESH_PREFIX_STRLEN];
	int af = r->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
	int e;

	if (d->ifindex <= 0)
		return;
	e = add ? netlink_route_add(d->ifindex, af, r->addr, r->len) :
		  netlink_route_del(d->ifindex, af, r->addr, r->len);
	if (e == 0)
		log_info("route %s %s dev %s", add ? "added:" : "removed:", prefix_str(r, buf),
			 d->ifname);
	else if (!(!add && errno == ESRCH))
		log_warn("cannot %s route %s dev %s: %s", add ? "add" : "remove",
			 prefix_str(r, buf), d->ifname,
			 e == MESHD_E_SYS ? strerror(errno) : meshd_strerror(e));
}

static void op_route_add(void *ctx, const struct mesh_prefix *r)
{
	op_route(ctx, r, true);
}

static void op_route_del(void *ctx, const struct mesh_prefix *r)
{
	op_route(ctx, r, false);
}

static int install_peer_routes(void *ctx, const struct mesh_node_peer *p)
{
	for (size_t i = 0; i < p->ninst; i++)
		op_route(ctx, &p->inst[i], true);
	return 0;
}

static void install_routes(struct meshd *d)
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
static void check_forwarding(const struct mesh_prefix *r, size_t n, struct sbuf *warn)
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
static int set_advertised(struct meshd *d, const char *list, struct sbuf *warn, char *err,
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
	e = mesh_node_set_advertised(d->node, r, n, sched_now(), now_unix(), err, errlen);
	wgdev_rearm(&d->dev);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "cannot advertise '%.100s': %s", list, meshd_strerror(e));
		return e;
	}
	check_forwarding(r, n, warn);
	return 0;
}

/* ---- DNS responder (daemon.h "Names") ---- */

static int dns_lookup(void *ctx, const char *label, uint8_t v4[4], bool *has4, uint8_t v6[16],
		      bool *has6)
{
	struct meshd *d = ctx;
	int e;

	if (!d->node)
		return MESHD_E_STATE;
	e = mesh_node_lookup_name(d->node, label, v4, v6);
	if (e == 0)
		*has4 = *has6 = true;
	return e;
}

static void dns_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct meshd_dns *s = h->data;

	(void)hint;
	buf->base = (char *)s->d->dnsq;
	buf->len = sizeof s->d->dnsq;
}

static void dns_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	struct meshd_dns *s = h->data;
	struct meshd *d = s->d;
	size_t alen = 0;
	uv_buf_t out;

	(void)buf;
	if (n <= 0 || !from || (flags & UV_UDP_PARTIAL))
		return;
	if (mesh_dns_answer(d->dnsq, (size_t)n, d->domain, dns_lookup, d, d->dnsa,
			    sizeof d->dnsa, &alen) != 0 || alen == 0)
		return;
	out = uv_buf_init((char *)d->dnsa, (unsigned)alen);
	if (uv_udp_try_send(h, &out, 1, from) < 0)
		log_ratelimited(LOG_LVL_DEBUG, "DNS: reply not sent");
}

static void dns_closed(uv_handle_t *h)
{
	(void)h;
}

static void dns_start_one(struct meshd *d, struct meshd_dns *s, const struct sockaddr *sa)
{
	char a[ENDPOINT_STRLEN];
	union endpoint ep;
	int e;

	memset(&ep, 0, sizeof ep);
	memcpy(&ep, sa, sa->sa_family == AF_INET ? sizeof ep.sin : sizeof ep.sin6);
	endpoint_format(&ep, a, sizeof a);
	s->d = d;
	if (uv_udp_init(&d->dev.loop, &s->h) != 0)
		return;
	s->h.data = s;
	s->on = true;
	e = uv_udp_bind(&s->h, sa, 0);
	if (!e)
		e = uv_udp_recv_start(&s->h, dns_alloc, dns_recv);
	if (e) {
		log_warn("DNS: cannot listen on %s: %s; names will not resolve there", a,
			 uv_strerror(e));
		uv_close((uv_handle_t *)&s->h, dns_closed);
		s->on = false;
		return;
	}
	log_info("DNS: answering for .%s on %s", d->domain, a);
}

static void dns_start(struct meshd *d)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(MESH_DNS_PORT) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(MESH_DNS_PORT) };

	if (mesh_dns_check_domain(d->domain) != 0) {
		log_warn("DNS: mesh name '%s' is not a DNS label; no name service", d->domain);
		return;
	}
	memcpy(&s4.sin_addr, d->ipv4, 4);
	memcpy(&s6.sin6_addr, d->ipv6, 16);
	dns_start_one(d, &d->dns[0], (const struct sockaddr *)&s4);
	dns_start_one(d, &d->dns[1], (const struct sockaddr *)&s6);
}

static void dns_stop(struct meshd *d)
{
	for (int i = 0; i < 2; i++)
		if (d->dns[i].on) {
			uv_close((uv_handle_t *)&d->dns[i].h, dns_closed);
			d->dns[i].on = false;
		}
}

/* A WireGuard datagram that came through a relay (mesh/node.h wg_input). */
static void op_wg_input(void *ctx, const union endpoint *src, uint8_t *dgram, size_t len)
{
	struct meshd *d = ctx;

	wgdev_input_datagram(&d->dev, dgram, len, src);
}

/* ---- wgdev hooks ---- */

/* Datagrams for a synthetic relay endpoint (100::/64) go to the node. */
static bool hook_send_override(void *ctx, const union endpoint *dst, const uint8_t *p,
			       size_t len)
{
	struct meshd *d = ctx;

	if (!mesh_relay_is_synth(dst))
		return false;
	if (!d->node)
		return true;
	return mesh_node_wrap_relay(d->node, dst, p, len, sched_now(), now_unix());
}

static void hook_underlay(void *ctx, const union endpoint *src, const uint8_t *p, size_t len,
			  mtime_ns now)
{
	struct meshd *d = ctx;

	if (!d->node)
		return;
	mesh_node_input_underlay(d->node, src, p, len, now, now_unix());
	check_revoked(d);
}

/* In-tunnel gossip: an unfragmented IPv4/UDP packet to our overlay IPv4
 * address and MESH_GOSSIP_PORT. Lengths are checked against each other and
 * against what WireGuard delivered; anything else goes to the TUN. */
static bool hook_inner(void *ctx, struct wg_peer *peer, const uint8_t *pkt, size_t len,
		       mtime_ns now)
{
	struct meshd *d = ctx;
	size_t ihl, total, ulen;
	const uint8_t *udp;

	if (!d->node || len < IP4_HDR + UDP_HDR || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_UDP)
		return false;
	if (memcmp(pkt + 16, d->ipv4, 4) != 0)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	total = get16(pkt + 2);
	if (ihl < IP4_HDR || total > len || total < ihl + UDP_HDR)
		return false;
	if (get16(pkt + 6) & 0x3fff)	/* MF or a fragment offset */
		return false;
	udp = pkt + ihl;
	if (get16(udp + 2) != MESH_GOSSIP_PORT)
		return false;
	ulen = get16(udp + 4);
	if (ulen < UDP_HDR || ulen > total - ihl)
		return true;	/* ours, but malformed: drop, never to the kernel */
	mesh_node_input_gossip(d->node, peer, udp + UDP_HDR, ulen - UDP_HDR, now, now_unix());
	check_revoked(d);
	return true;
}

static mtime_ns hook_next(void *ctx)
{
	struct meshd *d = ctx;

	return d->node ? mesh_node_next_expiry(d->node) : MTIME_NEVER;
}

static void hook_expire(void *ctx, mtime_ns now)
{
	struct meshd *d = ctx;

	if (!d->node)
		return;
	mesh_node_handle_expiry(d->node, now, now_unix());
	check_revoked(d);
}

static void scan_closed(uv_handle_t *h)
{
	(void)h;
}

/* ---- hosts_file upkeep (daemon.h) ---- */

struct hosts_block {
	struct sbuf b;
	const char *mesh;
};

static void hosts_line(struct sbuf *b, const char *name, const char *mesh, const uint8_t v4[4],
		       const uint8_t v6[16])
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, v4, a4, sizeof a4);
	inet_ntop(AF_INET6, v6, a6, sizeof a6);
	sbuf_printf(b, "%s %s.%s %s\n%s %s.%s\n", a4, name, mesh, name, a6, name, mesh);
}

static int hosts_peer(void *ctx, const struct mesh_node_peer *p)
{
	struct hosts_block *hb = ctx;

	hosts_line(&hb->b, p->name, hb->mesh, p->ipv4, p->ipv6);
	return 0;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return h | 1;	/* never 0: 0 means "no block written" */
}

/* The file without our block, plus block (NULL: none), written to a
 * temporary file in the same directory and renamed over it, mode kept. */
static int hosts_write(const struct meshd *d, const char *block)
{
	char begin[MESH_NAME_MAX + 32], end[MESH_NAME_MAX + 32], tmp[PATH_MAX + 16];
	struct sbuf out = { 0 };
	struct stat sb;
	mode_t mode = 0644;
	char *old = NULL, *b, *e;
	size_t olen = 0;
	FILE *f;
	int fd, r = -1;

	snprintf(begin, sizeof begin, "# BEGIN meshd %s\n", d->domain);
	snprintf(end, sizeof end, "# END meshd %s\n", d->domain);
	f = fopen(d->opts.hosts_file, "re");
	if (f) {
		if (fstat(fileno(f), &sb) == 0)
			mode = sb.st_mode & 07777;
		old = malloc(HOSTS_FILE_MAX + 1);
		if (old)
			olen = fread(old, 1, HOSTS_FILE_MAX, f);
		fclose(f);
		if (!old || olen == HOSTS_FILE_MAX) {
			free(old);
			errno = old ? EFBIG : ENOMEM;
			return -1;
		}
		old[olen] = '\0';
	} else if (errno != ENOENT) {
		return -1;
	}
	/* our old block: from a line equal to begin to the next line equal to end */
	b = old;
	while (b && (b = strstr(b, begin)) && b != old && b[-1] != '\n')
		b += strlen(begin);
	e = b ? strstr(b, end) : NULL;
	if (b && e) {
		sbuf_add(&out, old, (size_t)(b - old));
		sbuf_puts(&out, e + strlen(end));
	} else if (old) {
		sbuf_add(&out, old, olen);
	}
	free(old);
	if (block) {
		if (out.len && out.buf[out.len - 1] != '\n')
			sbuf_puts(&out, "\n");
		sbuf_puts(&out, begin);
		sbuf_puts(&out, block);
		sbuf_puts(&out, end);
	}
	if (out.oom) {
		sbuf_free(&out);
		errno = ENOMEM;
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s.meshdXXXXXX", d->opts.hosts_file);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		sbuf_free(&out);
		return -1;
	}
	if (fchmod(fd, mode) == 0 && write(fd, out.buf ? out.buf : "", out.len) == (ssize_t)out.len &&
	    fsync(fd) == 0)
		r = 0;
	close(fd);
	if (r == 0 && rename(tmp, d->opts.hosts_file) != 0)
		r = -1;
	if (r)
		unlink(tmp);
	sbuf_free(&out);
	return r;
}

static void hosts_update(struct meshd *d)
{
	struct hosts_block hb = { .b = { 0 }, .mesh = d->domain };
	struct mesh_node_self self;
	uint64_t h;

	if (!d->node || !d->opts.hosts_file)
		return;
	mesh_node_get_self(d->node, &self);
	hosts_line(&hb.b, self.name, d->domain, self.ipv4, self.ipv6);
	mesh_node_foreach_peer(d->node, hosts_peer, &hb);
	if (hb.b.oom) {
		sbuf_free(&hb.b);
		return;
	}
	h = fnv1a(hb.b.buf, hb.b.len);
	if (h != d->hosts_hash) {
		if (hosts_write(d, hb.b.buf) == 0)
			d->hosts_hash = h;
		else
			log_ratelimited(LOG_LVL_WARN, "cannot update %s: %s", d->opts.hosts_file,
					strerror(errno));
	}
	sbuf_free(&hb.b);
}

static void on_hosts(uv_timer_t *t)
{
	hosts_update(t->data);
}

static void hosts_start(struct meshd *d)
{
	uint64_t ms = (uint64_t)HOSTS_CHECK_S * 1000;

	if (!d->opts.hosts_file || uv_timer_init(&d->dev.loop, &d->hosts) != 0)
		return;
	d->hosts.data = d;
	d->hosts_on = true;
	uv_timer_start(&d->hosts, on_hosts, ms, ms);
	hosts_update(d);
}

/* At stop: the timer goes and our block leaves the file. */
static void hosts_stop(struct meshd *d)
{
	if (d->hosts_on) {
		uv_timer_stop(&d->hosts);
		uv_close((uv_handle_t *)&d->hosts, scan_closed);
		d->hosts_on = false;
	}
	if (d->hosts_hash && hosts_write(d, NULL) != 0)
		log_warn("cannot remove the meshd block from %s: %s", d->opts.hosts_file,
			 strerror(errno));
	d->hosts_hash = 0;
}

/* Shutdown begins: the control socket goes first so no client talks to a
 * half-stopped daemon; the node goes before the wg device it borrows. */
static void hook_stopping(void *ctx)
{
	struct meshd *d = ctx;

	ctl_server_stop(&d->ctl);
	dns_stop(d);
	hosts_stop(d);
	portmap_run_stop(&d->portmap, NULL);	/* DELETE; the loop waits for it */
	netmon_stop(&d->netmon);
	if (d->scan_on) {
		uv_timer_stop(&d->scan);
		uv_close((uv_handle_t *)&d->scan, scan_closed);
		d->scan_on = false;
	}
	mesh_node_free(d->node);
	d->node = NULL;
	if (d->pidfile[0])
		unlink(d->pidfile);
	d->pidfile[0] = '\0';
}

/* ---- local endpoints ---- */

static bool in_prefix(const struct mesh_prefix *p, const uint8_t *a, uint8_t family)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->family != family || p->len == 0)
		return false;
	if (memcmp(a, p->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[full] ^ p->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* One of our addresses (local_addrs.h) as a local endpoint; false when it
 * is not one: no socket of its family, or inside the mesh's own prefixes. */
static bool local_ep(const struct meshd *d, const struct sockaddr *sa, struct mesh_ep *ep)
{
	memset(ep, 0, sizeof *ep);
	ep->source = MESH_EP_LOCAL;
	ep->port = d->dev.udp.port;
	if (sa->sa_family == AF_INET) {
		if (d->dev.udp.fd4 < 0)
			return false;
		ep->family = MESH_FAMILY_V4;
		memcpy(ep->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		if (in_prefix(&d->prefix4, ep->addr, MESH_FAMILY_V4))
			return false;
	} else {
		if (d->dev.udp.fd6 < 0)
			return false;
		ep->family = MESH_FAMILY_V6;
		memcpy(ep->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		if (in_prefix(&d->prefix6, ep->addr, MESH_FAMILY_V6))
			return false;
	}
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
	struct scan s = { .d = d, .max = MESH_ENDPOINTS_MAX - (have_pm ? 1 : 0) };
	int r;

	if (!d->node)
		return;
	if (local_addrs_foreach(d->ifname, scan_addr, &s) != 0) {
		log_warn("cannot list interface addresses: %s", strerror(errno));
		return;
	}
	if (mesh_node_set_local_prefixes(d->node, s.pfx, s.npfx, sched_now()) != 0)
		log_warn("cannot set the local prefixes");
	if (have_pm && pm.sa.sa_family == AF_INET) {	/* mapped on the gateway */
		memset(&s.eps[s.n], 0, sizeof s.eps[s.n]);
		s.eps[s.n].source = MESH_EP_PORTMAP;
		s.eps[s.n].family = MESH_FAMILY_V4;
		memcpy(s.eps[s.n].addr, &pm.sin.sin_addr, 4);
		s.eps[s.n].port = ntohs(pm.sin.sin_port);
		s.n++;
	}
	r = mesh_node_set_endpoints(d->node, s.eps, s.n, sched_now(), now_unix());
	if (r)
		log_warn("cannot publish local endpoints: %s", meshd_strerror(r));
	wgdev_rearm(&d->dev);
}

static void on_scan(uv_timer_t *t)
{
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
	portmap_run_network_changed(&d->portmap);
	mesh_node_network_changed(d->node, sched_now(), now_unix());
	scan_endpoints(d);
}

/* ---- control socket requests ---- */

static enum ctl_answer ctl_revoke(struct meshd *d, const char *name, char *err, size_t errlen)
{
	int r;

	if (!*name) {
		snprintf(err, errlen, "revoke needs a member name");
		return CTL_ANSWER_ERROR;
	}
	r = mesh_node_revoke(d->node, name, sched_now(), now_unix());
	wgdev_rearm(&d->dev);
	switch (r) {
	case 0:
		log_info("revoked member '%s'", name);
		return CTL_ANSWER_OK;
	case MESHD_E_PERM:
		snprintf(err, errlen, "this node is not an admin");
		break;
	case MESHD_E_NOENT:
		snprintf(err, errlen, "no member named '%s'", name);
		break;
	case MESHD_E_INVAL:
		snprintf(err, errlen, "a node cannot revoke itself");
		break;
	default:
		snprintf(err, errlen, "cannot revoke '%s': %s", name, meshd_strerror(r));
	}
	return CTL_ANSWER_ERROR;
}

/* "NODE CIDR" of `routes approve|deny NODE CIDR`. */
static enum ctl_answer ctl_route_set(struct meshd *d, const char *args, bool approve, char *err,
				     size_t errlen)
{
	char name[MESH_NAME_MAX + 2], cidr[MESH_PREFIX_STRLEN], pbuf[MESH_PREFIX_STRLEN];
	const char *verb = approve ? "approve" : "deny";
	struct mesh_prefix r;
	uint8_t v4[4], v6[16];
	char extra;
	int e;

	if (sscanf(args, "%64s %63s %c", name, cidr, &extra) != 2) {
		snprintf(err, errlen, "usage: routes %s NODE CIDR", verb);
		return CTL_ANSWER_ERROR;
	}
	e = mesh_prefix_parse(cidr, &r, err, errlen);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "invalid prefix '%s'", cidr);
		return CTL_ANSWER_ERROR;
	}
	prefix_str(&r, pbuf);
	err[0] = '\0';
	e = mesh_node_route_set(d->node, name, &r, approve, sched_now(), now_unix(), err, errlen);
	wgdev_rearm(&d->dev);
	switch (e) {
	case 0:
		log_info("routes: %s %s for '%s'", approve ? "approved" : "denied", pbuf, name);
		return CTL_ANSWER_OK;
	case MESHD_E_PERM:
		snprintf(err, errlen, "this node is not an admin");
		break;
	case MESHD_E_NOENT:
		if (!approve && mesh_node_lookup_name(d->node, name, v4, v6) == 0)
			snprintf(err, errlen, "%s is not approved for '%s'", pbuf, name);
		else
			snprintf(err, errlen, "no member named '%s'", name);
		break;
	case MESHD_E_EXIST:
		snprintf(err, errlen, "%s is already approved for '%s'", pbuf, name);
		break;
	case MESHD_E_FULL:
		snprintf(err, errlen, "'%s' already has %d approved routes", name,
			 MESH_CERT_MAX_ROUTES);
		break;
	default:
		if (!err[0])
			snprintf(err, errlen, "cannot %s %s for '%s': %s", verb, pbuf, name,
				 meshd_strerror(e));
	}
	return CTL_ANSWER_ERROR;
}

static enum ctl_answer ctl_routes(struct meshd *d, const char *req, struct sbuf *body, char *err,
				  size_t errlen)
{
	if (!strcmp(req, "") || !strcmp(req, " json")) {
		if (status_routes_build(body, d->node, req[0] != '\0') != 0) {
			snprintf(err, errlen, "out of memory");
			return CTL_ANSWER_ERROR;
		}
		return CTL_ANSWER_OK;
	}
	if (!strncmp(req, " approve ", 9))
		return ctl_route_set(d, req + 9, true, err, errlen);
	if (!strncmp(req, " deny ", 6))
		return ctl_route_set(d, req + 6, false, err, errlen);
	snprintf(err, errlen, "unknown request 'routes%.64s'", req);
	return CTL_ANSWER_ERROR;
}

static enum ctl_answer ctl_handle(void *ctx, const char *req, struct sbuf *body, char *err,
				  size_t errlen)
{
	struct meshd *d = ctx;
	bool json;

	if (!d->node) {
		snprintf(err, errlen, "the daemon is stopping");
		return CTL_ANSWER_ERROR;
	}
	if (!strcmp(req, "status") || !strcmp(req, "status json")) {
		json = req[6] != '\0';
		if (status_build(body, d->node, d->dev.udp.port, json, now_unix()) != 0) {
			snprintf(err, errlen, "out of memory");
			return CTL_ANSWER_ERROR;
		}
		return CTL_ANSWER_OK;
	}
	if (!strncmp(req, "revoke ", 7))
		return ctl_revoke(d, req + 7, err, errlen);
	if (!strcmp(req, "down"))
		return CTL_ANSWER_OK_STOP;
	if (!strncmp(req, "routes", 6))
		return ctl_routes(d, req + 6, body, err, errlen);
	if (!strncmp(req, "set advertise-routes ", 21)) {
		err[0] = '\0';
		if (set_advertised(d, req + 21, body, err, errlen) != 0)
			return CTL_ANSWER_ERROR;
		log_info("advertised routes set to '%s'", req + 21);
		return CTL_ANSWER_OK;
	}
	snprintf(err, errlen, "unknown request '%.64s'", req);
	return CTL_ANSWER_ERROR;
}

static void ctl_stop(void *ctx)
{
	struct meshd *d = ctx;

	wgdev_shutdown(&d->dev, "meshd down");
}

/* ---- start-up ---- */

static int configure_tun(struct meshd *d, char *err, size_t errlen)
{
	int idx = (int)if_nametoindex(d->ifname);

	if (idx <= 0) {
		snprintf(err, errlen, "interface '%s' vanished: %s", d->ifname, strerror(errno));
		return MESHD_E_SYS;
	}
	if (netlink_addr_add(idx, AF_INET, d->ipv4, d->prefix4.len) != 0 ||
	    netlink_addr_add(idx, AF_INET6, d->ipv6, d->prefix6.len) != 0) {
		snprintf(err, errlen, "cannot add the overlay addresses to '%s': %s", d->ifname,
			 strerror(errno));
		return MESHD_E_SYS;
	}
	if (netlink_link_up(idx) != 0) {
		snprintf(err, errlen, "cannot bring '%s' up: %s", d->ifname, strerror(errno));
		return MESHD_E_SYS;
	}
	d->ifindex = idx;
	install_routes(d);
	dns_start(d);
	return 0;
}

static void write_pidfile(struct meshd *d)
{
	FILE *f;

	snprintf(d->pidfile, sizeof d->pidfile, "%s/meshd.pid", d->dir);
	f = fopen(d->pidfile, "we");
	if (!f) {
		log_warn("cannot write %s: %s", d->pidfile, strerror(errno));
		d->pidfile[0] = '\0';
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

static void not_initialised(const struct meshd *d, char *err, size_t errlen)
{
	snprintf(err, errlen, "%.300s is not initialised (run 'meshd init' or 'meshd join')", d->dir);
}

/* A name given on the command line is remembered, once it is known to work. */
static void store_ifname(struct meshd *d)
{
	struct store_node sn;
	int r;

	r = store_node_get(d->st, &sn);
	if (r == 0 && strcmp(sn.ifname, d->ifname) != 0) {
		snprintf(sn.ifname, sizeof sn.ifname, "%s", d->ifname);
		r = store_node_put(d->st, &sn);
	}
	store_node_clear(&sn);
	if (r)
		log_warn("cannot store interface name '%s': %s", d->ifname, meshd_strerror(r));
}

/* Store and node row; picks the interface name. */
static int open_store(struct meshd *d, const char *ifname_opt, uint16_t *port, char *err,
		      size_t errlen)
{
	struct store_node sn;
	char db[PATH_MAX + sizeof MESHD_DB_NAME + 1];
	int r;

	snprintf(db, sizeof db, "%s/%s", d->dir, MESHD_DB_NAME);
	if (access(db, F_OK) != 0) {
		not_initialised(d, err, errlen);
		return MESHD_E_NOENT;
	}
	r = store_open(db, &d->st);
	if (r) {
		snprintf(err, errlen, "cannot open %.300s: %s", db,
			 r == MESHD_E_SYS ? strerror(errno) : meshd_strerror(r));
		return r;
	}
	r = store_node_get(d->st, &sn);
	if (r) {
		if (r == MESHD_E_NOENT)
			not_initialised(d, err, errlen);
		else
			snprintf(err, errlen, "cannot read %.300s: %s", db, meshd_strerror(r));
		return r;
	}
	if (ifname_opt)
		snprintf(d->ifname, sizeof d->ifname, "%s", ifname_opt);
	else
		snprintf(d->ifname, sizeof d->ifname, "%s",
			 sn.ifname[0] ? sn.ifname : MESHD_DEFAULT_IFNAME);
	log_set_tag(d->ifname);
	*port = sn.listen_port;
	store_node_clear(&sn);
	return 0;
}

static int open_node(struct meshd *d, char *err, size_t errlen)
{
	struct mesh_node_cfg cfg = {
		.st = d->st,
		.wg = d->dev.wg,
		.ops = {
			.send_underlay = op_send_underlay,
			.send_gossip = op_send_gossip,
			.route_add = op_route_add,
			.route_del = op_route_del,
			.wg_input = op_wg_input,
		},
		.ctx = d,
	};
	struct mesh_node_self self;
	char nerr[256] = "";
	const char *relay;
	int r;

	r = mesh_node_open(&d->node, &cfg, sched_now(), now_unix(), nerr, sizeof nerr);
	if (r == MESHD_E_NOENT) {
		not_initialised(d, err, errlen);
		return r;
	}
	if (r) {
		snprintf(err, errlen, "%s", nerr[0] ? nerr : meshd_strerror(r));
		return r;
	}
	relay = getenv("MESHD_RELAY");
	if (relay && strcmp(relay, "0") == 0) {
		mesh_node_set_relay(d->node, false);
		log_info("relays disabled (MESHD_RELAY=0)");
	}
	mesh_node_get_self(d->node, &self);
	memcpy(d->ipv4, self.ipv4, 4);
	memcpy(d->ipv6, self.ipv6, 16);
	d->prefix4 = self.prefix4;
	d->prefix6 = self.prefix6;
	snprintf(d->domain, sizeof d->domain, "%s", self.mesh_name);
	if (d->opts.advertise) {
		nerr[0] = '\0';
		r = set_advertised(d, d->opts.advertise, NULL, nerr, sizeof nerr);
		if (r) {
			snprintf(err, errlen, "%s", nerr);
			return r;
		}
	} else {
		check_forwarding(self.adv, self.nadv, NULL);
	}
	return 0;
}

static int start_scan(struct meshd *d, char *err, size_t errlen)
{
	uint64_t ms = (uint64_t)MESHD_ENDPOINT_SCAN_S * 1000;

	if (uv_timer_init(&d->dev.loop, &d->scan) != 0) {
		snprintf(err, errlen, "cannot create timer");
		return MESHD_E_SYS;
	}
	d->scan.data = d;
	d->scan_on = true;
	uv_timer_start(&d->scan, on_scan, ms, ms);
	if (portmap_run_start(&d->portmap, &d->dev.loop, d->dev.udp.port, on_portmap_changed, d))
		log_warn("cannot start port mapping; continuing without");
	if (netmon_start(&d->netmon, &d->dev.loop, d->ifindex, on_network_changed, d))
		log_warn("cannot watch for network changes (%s); rescanning every %d s only",
			 strerror(errno), (int)MESHD_ENDPOINT_SCAN_S);
	scan_endpoints(d);
	return 0;
}

static int daemon_start(struct meshd *d, const char *ifname_opt, char *err, size_t errlen)
{
	struct wgdev_hooks hooks = {
		.underlay = hook_underlay,
		.inner = hook_inner,
		.send_override = hook_send_override,
		.tun_drop_udp_port = MESH_GOSSIP_PORT,
		.mss_clamp = true,
		.next_expiry = hook_next,
		.expire = hook_expire,
		.stopping = hook_stopping,
		.ctx = d,
	};
	uint16_t port = 0;
	int r;

	/* before anything changes: a second daemon must not touch the first's */
	r = ctl_server_check(d->dir);
	if (r == MESHD_E_EXIST) {
		snprintf(err, errlen, "meshd is already running for %.300s", d->dir);
		goto fail;
	}
	if (r) {
		snprintf(err, errlen, "cannot use %.300s/%s: %s", d->dir, CTL_SOCKET_NAME,
			 r == MESHD_E_SYS ? strerror(errno) : meshd_strerror(r));
		goto fail;
	}
	r = open_store(d, ifname_opt, &port, err, errlen);
	if (r)
		goto fail;
	r = wgdev_start_hooks(&d->dev, d->ifname, port, &hooks, err, errlen);
	if (r)
		goto fail;
	r = open_node(d, err, errlen);
	if (!r)
		r = configure_tun(d, err, errlen);
	if (!r)
		r = start_scan(d, err, errlen);
	if (!r)
		r = ctl_server_start(&d->ctl, &d->dev.loop, d->dir, ctl_handle, ctl_stop, d, err,
				     errlen);
	if (r) {
		wgdev_shutdown(&d->dev, "start-up failed");
		wgdev_run(&d->dev);
		goto fail;
	}
	if (ifname_opt)
		store_ifname(d);
	write_pidfile(d);
	hosts_start(d);
	wgdev_rearm(&d->dev);
	log_info("mesh node up on %s, UDP port %u, control socket %s", d->ifname,
		 d->dev.udp.port, d->ctl.path);
	return 0;
fail:
	store_close(d->st);
	d->st = NULL;
	return r ? r : MESHD_E_SYS;
}

static int daemon_loop(struct meshd *d)
{
	wgdev_run(&d->dev);
	mesh_node_free(d->node);	/* normally gone already (hook_stopping) */
	d->node = NULL;
	store_close(d->st);
	d->st = NULL;
	return d->revoked ? 1 : 0;
}

/* ---- foreground / background ---- */

static int start_or_say(struct meshd *d, const char *ifname)
{
	char err[512] = "";

	if (daemon_start(d, ifname, err, sizeof err) != 0) {
		fprintf(stderr, "meshd: %s\n", err[0] ? err : "start-up failed");
		return 1;
	}
	return 0;
}

/* daemonize() callbacks: d->opts.ifname is the -i name (NULL: the stored one). */
static int bg_start(void *ctx)
{
	struct meshd *d = ctx;

	return start_or_say(d, d->opts.ifname);
}

static int bg_run(void *ctx)
{
	return daemon_loop(ctx);
}

int meshd_daemon_run(const char *dir, const char *ifname, bool foreground)
{
	struct meshd_run_opts o = { .ifname = ifname, .foreground = foreground };

	return meshd_daemon_run_opts(dir, &o);
}

int meshd_daemon_run_opts(const char *dir, const struct meshd_run_opts *o)
{
	static struct meshd d;	/* large; zeroed */
	const char *ifname = o->ifname;
	bool foreground = o->foreground, keep_logs;

	memset(&d, 0, sizeof d);
	d.opts = *o;
	/* absolute: the background child changes to / */
	if (o->hosts_file && o->hosts_file[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof cwd) ||
		    (size_t)snprintf(d.hosts_path, sizeof d.hosts_path, "%s/%s", cwd,
				     o->hosts_file) >= sizeof d.hosts_path) {
			fprintf(stderr, "meshd: cannot use hosts file '%s'\n", o->hosts_file);
			return 1;
		}
		d.opts.hosts_file = d.hosts_path;
	}
	if (ifname && !tun_name_valid(ifname)) {
		fprintf(stderr, "meshd: invalid interface name '%s': use 1-15 characters, "
			"no '/', ':' or whitespace\n", ifname);
		return 1;
	}
	/* absolute: the background child changes to / */
	if (!realpath(dir, d.dir)) {
		if (errno == ENOENT)
			fprintf(stderr, "meshd: %s is not initialised (run 'meshd init' or "
				"'meshd join')\n", dir);
		else
			fprintf(stderr, "meshd: cannot use %s: %s\n", dir, strerror(errno));
		return 1;
	}
	keep_logs = daemonize_log_level_from_env();
	signal(SIGPIPE, SIG_IGN);
	if (!foreground)
		return daemonize(d.dir, bg_start, bg_run, &d, keep_logs);
	if (start_or_say(&d, ifname) != 0)
		return 1;
	return daemon_loop(&d);
}
