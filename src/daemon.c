/* The mesh-mode daemon: struct meshd ties the wg device (wgdev.h), the store,
 * the mesh node (mesh/node.h) and the control socket together. See daemon.h
 * for the demultiplexing rules and the start/stop order. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "mesh/node.h"
#include "mesh/wire.h"
#include "netlink.h"
#include "status.h"
#include "tun.h"
#include "util/err.h"
#include "util/log.h"
#include "wgdev.h"

_Static_assert((int)WGDEV_MESH_MAGIC == (int)MESH_MSG_MAGIC, "wgdev demultiplexes on the mesh magic");

enum {
	IP4_HDR = 20,
	UDP_HDR = 8,
	GOSSIP_MAX = WGDEV_MAX_PACKET - IP4_HDR - UDP_HDR,
};

struct meshd {
	struct wgdev dev;
	struct store *st;
	struct mesh_node *node;
	struct ctl_server ctl;
	uv_timer_t scan;
	bool scan_on;
	bool revoked;
	char dir[PATH_MAX];
	char pidfile[PATH_MAX + 16];
	char ifname[IFNAMSIZ];
	uint8_t ipv4[4], ipv6[16];
	struct mesh_prefix prefix4, prefix6;
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

/* ---- wgdev hooks ---- */

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

/* Shutdown begins: the control socket goes first so no client talks to a
 * half-stopped daemon; the node goes before the wg device it borrows. */
static void hook_stopping(void *ctx)
{
	struct meshd *d = ctx;

	ctl_server_stop(&d->ctl);
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

/* One interface address as a local endpoint; false when it does not qualify. */
static bool local_ep(const struct meshd *d, const struct ifaddrs *ifa, int family,
		     struct mesh_ep *ep)
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa || sa->sa_family != family || !(ifa->ifa_flags & IFF_UP) ||
	    (ifa->ifa_flags & IFF_LOOPBACK) || !strcmp(ifa->ifa_name, d->ifname))
		return false;
	memset(ep, 0, sizeof *ep);
	ep->source = MESH_EP_LOCAL;
	ep->port = d->dev.udp.port;
	if (family == AF_INET) {
		if (d->dev.udp.fd4 < 0)
			return false;
		ep->family = MESH_FAMILY_V4;
		memcpy(ep->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		if (in_prefix(&d->prefix4, ep->addr, MESH_FAMILY_V4))
			return false;
	} else {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (d->dev.udp.fd6 < 0 || IN6_IS_ADDR_LINKLOCAL(a6))
			return false;
		ep->family = MESH_FAMILY_V6;
		memcpy(ep->addr, a6, 16);
		if (in_prefix(&d->prefix6, ep->addr, MESH_FAMILY_V6))
			return false;
	}
	return mesh_ep_valid(ep);
}

static void scan_endpoints(struct meshd *d)
{
	static const int fams[2] = { AF_INET, AF_INET6 };	/* IPv4 first */
	struct mesh_ep eps[MESH_ENDPOINTS_MAX];
	struct ifaddrs *ifs;
	size_t n = 0;
	int r;

	if (!d->node)
		return;
	if (getifaddrs(&ifs) < 0) {
		log_warn("cannot list interface addresses: %s", strerror(errno));
		return;
	}
	for (int f = 0; f < 2; f++)
		for (struct ifaddrs *i = ifs; i && n < MESH_ENDPOINTS_MAX; i = i->ifa_next)
			if (local_ep(d, i, fams[f], &eps[n]))
				n++;
	freeifaddrs(ifs);
	r = mesh_node_set_endpoints(d->node, eps, n, sched_now(), now_unix());
	if (r)
		log_warn("cannot publish local endpoints: %s", meshd_strerror(r));
	wgdev_rearm(&d->dev);
}

static void on_scan(uv_timer_t *t)
{
	scan_endpoints(t->data);
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
		.ops = { .send_underlay = op_send_underlay, .send_gossip = op_send_gossip },
		.ctx = d,
	};
	struct mesh_node_self self;
	char nerr[256] = "";
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
	mesh_node_get_self(d->node, &self);
	memcpy(d->ipv4, self.ipv4, 4);
	memcpy(d->ipv6, self.ipv6, 16);
	d->prefix4 = self.prefix4;
	d->prefix6 = self.prefix6;
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
	scan_endpoints(d);
	return 0;
}

static int daemon_start(struct meshd *d, const char *ifname_opt, char *err, size_t errlen)
{
	struct wgdev_hooks hooks = {
		.underlay = hook_underlay,
		.inner = hook_inner,
		.tun_drop_udp_port = MESH_GOSSIP_PORT,
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

/* Returns true when logs should stay on stderr in the background. */
static bool setup_logging(void)
{
	const char *lvl = getenv("LOG_LEVEL");

	log_set_level(LOG_LVL_WARN);
	if (!lvl || !*lvl)
		return false;
	if (!strcmp(lvl, "verbose") || !strcmp(lvl, "debug"))
		log_set_level(LOG_LVL_DEBUG);
	else if (!strcmp(lvl, "info"))
		log_set_level(LOG_LVL_INFO);
	else if (!strcmp(lvl, "error"))
		log_set_level(LOG_LVL_ERROR);
	else if (!strcmp(lvl, "silent"))
		return false;
	return true;
}

static void detach_stdio(bool keep_logs)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	if (!keep_logs) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	if (fd > STDERR_FILENO)
		close(fd);
}

static int start_or_say(struct meshd *d, const char *ifname)
{
	char err[512] = "";

	if (daemon_start(d, ifname, err, sizeof err) != 0) {
		fprintf(stderr, "meshd: %s\n", err[0] ? err : "start-up failed");
		return 1;
	}
	return 0;
}

/* As cmd_wg.c: the child reports one byte (0 ready, 1 failed; its error line
 * has gone to the shared stderr) once the control socket listens. */
static int run_background(struct meshd *d, const char *ifname, bool keep_logs)
{
	int pfd[2], status;
	char c = 1;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "meshd: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "meshd: fork: %s\n", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return 1;
	}
	if (pid > 0) {
		close(pfd[1]);
		do
			n = read(pfd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		close(pfd[0]);
		if (n == 1 && c == 0)
			return 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (n != 1)
			fprintf(stderr, "meshd: daemon for %s exited during start-up\n", d->dir);
		return 1;
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		_exit(1);
	if (start_or_say(d, ifname) != 0) {
		(void)!write(pfd[1], &c, 1);
		_exit(1);
	}
	detach_stdio(keep_logs);
	c = 0;
	(void)!write(pfd[1], &c, 1);
	close(pfd[1]);
	exit(daemon_loop(d));
}

int meshd_daemon_run(const char *dir, const char *ifname, bool foreground)
{
	static struct meshd d;	/* large; zeroed */
	bool keep_logs;

	memset(&d, 0, sizeof d);
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
	keep_logs = setup_logging();
	signal(SIGPIPE, SIG_IGN);
	if (!foreground)
		return run_background(&d, ifname, keep_logs);
	if (start_or_say(&d, ifname) != 0)
		return 1;
	return daemon_loop(&d);
}
