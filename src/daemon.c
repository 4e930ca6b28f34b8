/* The mesh-mode daemon: struct meshd (daemon_internal.h) ties the wg device
 * (wgdev.h), the store, the mesh node (mesh/node.h) and the control socket
 * together. This file holds its lifecycle: the start-up order, the wgdev
 * hooks that feed the node, the shutdown order and the foreground or
 * background run. See daemon.h for the demultiplexing rules. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon_internal.h"
#include "mesh/relay.h"
#include "mesh/wire.h"
#include "netlink.h"
#include "privs.h"
#include "schedule.h"
#include "tun.h"
#include "daemonize.h"
#include "metrics_daemon.h"
#include "util/err.h"
#include "util/log.h"

_Static_assert((int)WGDEV_MESH_MAGIC == (int)MESH_MSG_MAGIC, "wgdev demultiplexes on the mesh magic");

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

uint64_t meshd_now_unix(void)
{
	time_t t = time(NULL);

	return t > 0 ? (uint64_t)t : 0;
}

/* Our own revocation arrived: every peer has dropped us, nothing to serve. */
void meshd_check_revoked(struct meshd *d)
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

	if (meshd_tcp_send(d, dst, p, len) || meshd_fallback_send(d, dst, p, len))
		return;
	if (!d->in_input)
		meshd_fallback_udp_sent(d);	/* a probe: an answer is expected */
	if (wgdev_send_underlay(&d->dev, dst, p, len) != 0)
		log_ratelimited(LOG_LVL_DEBUG, "mesh: underlay send failed: %s", strerror(errno));
}

/* Acts on what the node returned (mesh/node.h struct mesh_node_result):
 * the node's call is over, so WireGuard input may enter the node again
 * (in-tunnel gossip, the relay send path). */
static void node_act(struct meshd *d, struct mesh_node_result *res)
{
	switch (res->act) {
	case MESH_NODE_ACT_NONE:
		break;
	case MESH_NODE_ACT_SEND:
		op_send_underlay(d, &res->ep, res->buf, res->len);
		break;
	case MESH_NODE_ACT_WG_INPUT:
		wgdev_input_datagram(&d->dev, res->buf, res->len, &res->ep);
		mesh_node_unroam(d->dev.wg, res);
		break;
	}
}

/* ---- wgdev hooks ---- */

/* Datagrams for a synthetic relay endpoint (100::/64) go to the node,
 * which hands back the RELAY to send; those for a TCP entry connection's
 * (100:0:0:1::/64) go down that connection. */
static bool hook_send_override(void *ctx, const union endpoint *dst, const uint8_t *p,
			       size_t len)
{
	struct meshd *d = ctx;
	struct mesh_node_result res;

	if (meshd_tcp_send(d, dst, p, len) || meshd_fallback_send(d, dst, p, len))
		return true;
	if (!mesh_relay_is_synth(dst))
		return false;
	if (!d->node || d->dev.stopping)
		return true;
	if (!mesh_node_wrap_relay(d->node, dst, p, len, sched_now(), meshd_now_unix(), &res))
		return false;
	node_act(d, &res);
	return true;
}

void meshd_underlay_input(struct meshd *d, const union endpoint *src, const uint8_t *p,
			  size_t len, mtime_ns now)
{
	struct mesh_node_result res;

	uint64_t acks;
	bool in;

	/* stopping: the rest of a receive batch is dropped, not fed to a node
	 * that is about to be freed */
	if (!d->node || d->dev.stopping)
		return;
	acks = mesh_node_probe_acks(d->node);
	in = d->in_input;
	d->in_input = true;	/* what the node sends now answers, expects nothing */
	mesh_node_input_underlay(d->node, src, p, len, now, meshd_now_unix(), &res);
	node_act(d, &res);
	d->in_input = in;
	if (res.act == MESH_NODE_ACT_SEND)
		sodium_memzero(res.buf, res.len);	/* a join answer, maybe */
	meshd_fallback_input_done(d, acks);
	meshd_check_revoked(d);
}

static void hook_underlay(void *ctx, const union endpoint *src, const uint8_t *p, size_t len,
			  mtime_ns now)
{
	meshd_underlay_input(ctx, src, p, len, now);
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
	mesh_node_handle_expiry(d->node, now, meshd_now_unix());
	meshd_check_revoked(d);
}

static void on_reap_closed(uv_handle_t *h)
{
	struct meshd *d = h->data;

	d->reap_on = false;
}

/* One loop turn after the shutdown began: nothing of the node is on the
 * stack any more. The wg device it borrows is released only after the loop
 * has run dry, which this handle's close callback still holds off. */
static void on_reap(uv_idle_t *h)
{
	struct meshd *d = h->data;

	mesh_node_free(d->node);
	d->node = NULL;
	uv_idle_stop(h);
	uv_close((uv_handle_t *)h, on_reap_closed);
}

/* The shutdown can begin deep inside the node: our own revocation arriving
 * as gossip in a WireGuard packet that the node's relay input unwrapped
 * (mesh_node_input_underlay -> wg_input -> gossip -> meshd_check_revoked).
 * Freeing the node there would pull it from under its own caller, so the
 * free waits for the next loop turn. */
static void node_free_later(struct meshd *d)
{
	if (!d->node || d->reap_on)
		return;
	d->reap.data = d;
	if (uv_idle_init(&d->loop, &d->reap) != 0) {
		log_warn("cannot defer freeing the mesh node; freeing it now");
		mesh_node_free(d->node);
		d->node = NULL;
		return;
	}
	d->reap_on = true;
	if (uv_idle_start(&d->reap, on_reap) != 0)
		on_reap(&d->reap);
}

/* Shutdown begins: the control socket goes first so no client talks to a
 * half-stopped daemon; the node goes before the wg device it borrows, but
 * not before the current callback has returned (node_free_later). */
static void hook_stopping(void *ctx)
{
	struct meshd *d = ctx;

	ctl_server_stop(&d->ctl);
	meshd_metrics_stop(d);
	meshd_tcp_stop(d);
	meshd_fallback_stop(d);
	meshd_dns_stop(d);
	meshd_hosts_stop(d);
	meshd_endpoints_stop(d);	/* port mapping DELETE, netmon, rescan timer */
	if (d->sighup_on) {
		uv_close((uv_handle_t *)&d->sighup, NULL);
		d->sighup_on = false;
	}
	if (d->node && mesh_node_flush(d->node, sched_now(), meshd_now_unix()) != 0)
		log_warn("mesh: record changes of the last moments not stored (the "
			 "database is locked); members will gossip them again");
	node_free_later(d);
	if (d->pidfile[0])
		unlink(d->pidfile);
	d->pidfile[0] = '\0';
}

/* ---- start-up ---- */

/* SIGHUP (the terminal of a foreground run closed, or an admin's "reload"):
 * meshd has no configuration file to re-read, and dying of the default
 * action would leave the hosts-file block and the pid file behind, so it
 * stops cleanly like SIGTERM (wgdev handles SIGINT and SIGTERM). */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct meshd *d = h->data;

	(void)signum;
	wgdev_shutdown(&d->dev, "SIGHUP");
}

static int watch_sighup(struct meshd *d, char *err, size_t errlen)
{
	d->sighup.data = d;
	if (uv_signal_init(&d->loop, &d->sighup) != 0) {
		snprintf(err, errlen, "cannot install the SIGHUP handler");
		return MESHD_E_SYS;
	}
	d->sighup_on = true;
	if (uv_signal_start(&d->sighup, on_sighup, SIGHUP) != 0) {
		snprintf(err, errlen, "cannot install the SIGHUP handler");
		return MESHD_E_SYS;
	}
	return 0;
}

static int configure_tun(struct meshd *d, char *err, size_t errlen)
{
	int idx = (int)if_nametoindex(d->ifname);

	if (idx <= 0) {
		snprintf(err, errlen, "interface '%s' vanished: %s", d->ifname, strerror(errno));
		return MESHD_E_SYS;
	}
	if (netlink_addr_add(idx, AF_INET, d->ipv4, d->prefix4.len) != 0 ||
	    meshd_ipv6_try(d) != 0) {
		snprintf(err, errlen, "cannot add the overlay addresses to '%s': %s", d->ifname,
			 strerror(errno));
		return MESHD_E_SYS;
	}
	if (netlink_link_up(idx) != 0) {
		snprintf(err, errlen, "cannot bring '%s' up: %s", d->ifname, strerror(errno));
		return MESHD_E_SYS;
	}
	d->ifindex = idx;
	meshd_routes_install(d);
	meshd_dns_start(d);
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
		store_error_line(err, errlen, "cannot open", db, r);
		return r;
	}
	/* The loop never waits long on another process's lock (a CLI command):
	 * record writes that find it busy are retried by the node's flush. */
	(void)store_set_busy_timeout(d->st, MESHD_STORE_BUSY_MS);
	r = store_node_get(d->st, &sn);
	if (r) {
		if (r == MESHD_E_NOENT)
			not_initialised(d, err, errlen);
		else
			store_error_line(err, errlen, "cannot read", db, r);
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
			.send_gossip = meshd_gossip_send,
			.route_add = meshd_route_add,
			.route_del = meshd_route_del,
		},
		.ctx = d,
	};
	struct mesh_node_self self;
	char nerr[256] = "";
	const char *relay;
	int r;

	r = mesh_node_open(&d->node, &cfg, sched_now(), meshd_now_unix(), nerr, sizeof nerr);
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
	if (!d->opts.advertise)
		meshd_check_forwarding(self.adv, self.nadv, NULL);
	return 0;
}

/* --advertise-routes: signed and stored as our routes record, so it is the
 * last step of the start, once nothing else can fail it. A start that
 * fails earlier leaves the stored routes as they were: a signed record can
 * only be replaced by a newer one, so there would be no putting the old
 * one back afterwards (as `up` does for its settings). */
static int apply_advertised(struct meshd *d, char *err, size_t errlen)
{
	char nerr[256] = "";
	int r;

	if (!d->opts.advertise)
		return 0;
	r = meshd_set_advertised(d, d->opts.advertise, NULL, nerr, sizeof nerr);
	if (r)
		snprintf(err, errlen, "%s", nerr[0] ? nerr : meshd_strerror(r));
	return r;
}

/* ---- the loop: ours; the wg device, the node's timers, the control and
 * metrics sockets, DNS, netmon and port mapping are handles on it ---- */

/* The close callbacks of whatever was closed, then the loop itself. */
static void loop_finish(struct meshd *d)
{
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0)
		log_debug("loop still had handles at exit");
}

/* Until the shutdown (wgdev_shutdown: a signal, `meshd down`, our own
 * revocation, the TUN disappearing) closed every handle; then the device's
 * resources and the loop. */
static void loop_run(struct meshd *d)
{
	uv_run(&d->loop, UV_RUN_DEFAULT);
	wgdev_close(&d->dev);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	wgdev_free(&d->dev);
	loop_finish(d);
}

static int daemon_start(struct meshd *d, const char *ifname_opt, char *err, size_t errlen)
{
	struct wgdev_hooks hooks = {
		.underlay = hook_underlay,
		.inner = meshd_gossip_input,
		.send_override = hook_send_override,
		.tun_drop_udp_port = MESH_GOSSIP_PORT,
		.mss_clamp = true,
		.next_expiry = hook_next,
		.expire = hook_expire,
		.stopping = hook_stopping,
		.path_mtu = meshd_path_mtu,
		.tun_too_big = meshd_tun_too_big,
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
	r = uv_loop_init(&d->loop);
	if (r) {
		snprintf(err, errlen, "cannot create event loop: %s", uv_strerror(r));
		goto fail;
	}
	r = wgdev_start_hooks(&d->dev, &d->loop, d->ifname, port, &hooks, err, errlen);
	if (r) {
		loop_finish(d);
		goto fail;
	}
	r = watch_sighup(d, err, errlen);
	if (!r)
		r = open_node(d, err, errlen);
	if (!r)
		r = configure_tun(d, err, errlen);
	if (!r)	/* before privileges go: port 443 needs CAP_NET_BIND_SERVICE */
		r = meshd_tcp_start(d, err, errlen);
	/* here: the privileged set-up is done and no thread exists yet (port
	 * mapping starts the libuv pool); failure is logged, never fatal */
	if (!r)
		(void)privs_drop((const char *[]){ d->dir, UAPI_SOCKET_DIR, d->opts.hosts_file, NULL });
	if (!r)
		r = meshd_endpoints_start(d, err, errlen);
	if (!r && meshd_fallback_start(d) != 0)
		log_warn("cannot start the TCP fallback timer; UDP only");
	if (!r)
		r = meshd_metrics_start(d, err, errlen);
	if (!r)
		r = ctl_server_start(&d->ctl, &d->loop, d->dir, meshd_ctl_handle,
				     meshd_ctl_stop, d, err, errlen);
	if (!r)	/* last: see apply_advertised() */
		r = apply_advertised(d, err, errlen);
	if (r) {
		wgdev_shutdown(&d->dev, "start-up failed");
		loop_run(d);
		meshd_tcp_free(d);
		goto fail;
	}
	if (ifname_opt)
		store_ifname(d);
	write_pidfile(d);
	meshd_hosts_start(d);
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
	loop_run(d);
	meshd_tcp_free(d);
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
		if (d->opts.start_hint)
			fprintf(stderr, "meshd: %s\n", d->opts.start_hint);
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
	if (!foreground) {
		int rc = daemonize(d.dir, bg_start, bg_run, &d, keep_logs);

		/* the parent: 0 once the child runs */
		if (rc == 0 && o->started)
			*o->started = true;
		return rc;
	}
	if (start_or_say(&d, ifname) != 0)
		return 1;
	if (o->started)
		*o->started = true;
	return daemon_loop(&d);
}
