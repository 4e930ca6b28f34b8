/* The WireGuard device's set-up and teardown (see wgdev.h): the TUN, the
 * core, the UDP sockets and their polls, the timer, signals, the UAPI socket
 * and its watch; UAPI rebinds; the stop. The data path is in wgdev.c. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mss.h"
#include "tun.h"
#include "wgdev.h"
#include "wgdev_internal.h"
#include "util/err.h"
#include "util/log.h"
#include "wg/wg.h"

/* ---- UDP poll handles ---- */

static void poll_freed(uv_handle_t *h)
{
	free(h->data);
}

static void udp_polls_stop(struct wgdev *dev)
{
	struct wgdev_poll **pp[2] = { &dev->poll4, &dev->poll6 };

	for (int i = 0; i < 2; i++) {
		if (!*pp[i])
			continue;
		uv_poll_stop(&(*pp[i])->h);
		uv_close((uv_handle_t *)&(*pp[i])->h, poll_freed);
		*pp[i] = NULL;
	}
}

static int udp_polls_start(struct wgdev *dev)
{
	int fds[2] = { dev->udp.fd4, dev->udp.fd6 };
	struct wgdev_poll **pp[2] = { &dev->poll4, &dev->poll6 };

	for (int i = 0; i < 2; i++) {
		struct wgdev_poll *p;
		int e;

		if (fds[i] < 0)
			continue;
		p = calloc(1, sizeof *p);
		if (!p) {
			errno = ENOMEM;
			return MESHD_E_SYS;
		}
		p->dev = dev;
		p->fd = fds[i];
		e = uv_poll_init(dev->loop, &p->h, fds[i]);
		if (e) {
			free(p);
			errno = -e;
			return MESHD_E_SYS;
		}
		p->h.data = p;
		*pp[i] = p;
		e = uv_poll_start(&p->h, UV_READABLE, wgdev_on_udp);
		if (e) {
			errno = -e;
			return MESHD_E_SYS;
		}
	}
	return 0;
}

/* UAPI: listen_port / fwmark changes. Returns 0 or a positive errno. */
static int host_rebind(void *ctx, uint16_t *port, uint32_t fwmark, bool port_changed)
{
	struct wgdev *dev = ctx;
	struct udp nu;

	if (!port_changed) {
		if (udp_set_fwmark(&dev->udp, fwmark) != 0) {
			log_warn("cannot set fwmark %u: %s", fwmark, strerror(errno));
			return EADDRINUSE;	/* the code wireguard-go answers */
		}
		return 0;
	}
	udp_init(&nu);
	if (udp_bind(&nu, *port, fwmark) != 0) {
		log_warn("cannot bind UDP port %u: %s", *port, strerror(errno));
		return EADDRINUSE;
	}
	udp_polls_stop(dev);
	udp_close(&dev->udp);
	dev->udp = nu;
	if (udp_polls_start(dev) != 0) {
		log_error("cannot poll UDP sockets: %s", strerror(errno));
		wgdev_shutdown(dev, "internal error");
		return EIO;
	}
	*port = nu.port;
	log_info("listening on UDP port %u", nu.port);
	return 0;
}

/* The core caps padding at the MTU. Without a netlink listener we re-read it
 * when a packet exceeds the cached value and after each UAPI request. */
void wgdev_refresh_mtu(struct wgdev *dev)
{
	int mtu;

	if (tun_get_mtu(dev->ifname, &mtu) == 0 && mtu > 0 && mtu != dev->mtu) {
		dev->mtu = mtu;
		wg_device_set_mtu(dev->wg, (unsigned)mtu);
	}
}

static void after_uapi(void *ctx)
{
	struct wgdev *dev = ctx;

	wgdev_refresh_mtu(dev);
	sched_rearm(&dev->sched);
}

/* ---- signals and the socket watch ---- */

static void on_signal(uv_signal_t *h, int signum)
{
	struct wgdev *dev = h->data;

	wgdev_shutdown(dev, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Removing the socket stops the daemon, as with wireguard-go. */
static void on_sockwatch(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct wgdev *dev = h->data;
	struct stat st;

	if (dev->stopping)
		return;
	if (lstat(dev->uapi.path, &st) < 0 && errno == ENOENT) {
		dev->uapi.path[0] = '\0';	/* not ours to unlink any more */
		wgdev_shutdown(dev, "UAPI socket removed");
	}
}

/* ---- start / stop ---- */

/* n buffers of WGDEV_BUF_SIZE, align-byte aligned (a power of two). */
static void *buf_alloc(size_t n, size_t align)
{
	void *p = NULL;

	if (posix_memalign(&p, align, n * WGDEV_BUF_SIZE) != 0)
		return NULL;
	return p;
}

static void setup_msgs(struct wgdev *dev)
{
	for (int i = 0; i < WGDEV_BURST; i++) {
		dev->rxiov[i].iov_base = dev->rxbuf + (size_t)i * WGDEV_BUF_SIZE;
		dev->rxiov[i].iov_len = WGDEV_MAX_PACKET;
		memset(&dev->rxmsg[i], 0, sizeof dev->rxmsg[i]);
		dev->rxmsg[i].msg_hdr.msg_name = &dev->rxsrc[i];
		dev->rxmsg[i].msg_hdr.msg_iov = &dev->rxiov[i];
		dev->rxmsg[i].msg_hdr.msg_iovlen = 1;
	}
	dev->txq[0].n = dev->txq[1].n = 0;
	dev->rx_vlen = WGDEV_BURST;
	for (int i = 0; i < WGDEV_BURST; i++)
		dev->txslot[i] = dev->txbuf + (size_t)i * WGDEV_BUF_SIZE;
	dev->stage = dev->txbuf + (size_t)WGDEV_BURST * WGDEV_BUF_SIZE;
}

static void close_handles(struct wgdev *dev)
{
	uapi_server_stop(&dev->uapi);
	if (dev->sockwatch_on) {
		uv_fs_event_stop(&dev->sockwatch);
		uv_close((uv_handle_t *)&dev->sockwatch, NULL);
		dev->sockwatch_on = false;
	}
	if (dev->signals_on) {
		uv_close((uv_handle_t *)&dev->sigint, NULL);
		uv_close((uv_handle_t *)&dev->sigterm, NULL);
		dev->signals_on = false;
	}
	if (dev->sched_on) {
		sched_close(&dev->sched);
		dev->sched_on = false;
	}
	udp_polls_stop(dev);
	if (dev->tun_poll_on) {
		uv_poll_stop(&dev->tun_poll.h);
		uv_close((uv_handle_t *)&dev->tun_poll.h, NULL);
		dev->tun_poll_on = false;
	}
}

/* Frees everything once the loop has no more handles. */
static void release(struct wgdev *dev)
{
	udp_close(&dev->udp);
	wg_device_free(dev->wg);
	dev->wg = NULL;
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);	/* the kernel deletes the interface */
	dev->tun_fd = -1;
	workers_free(&dev->workers);	/* before the keys go: no job runs any more */
	free(dev->txbuf);
	free(dev->rxbuf);
	free(dev->scratch);
	free(dev->injbuf);
	free(dev->gro_mem);
	dev->txbuf = dev->rxbuf = dev->scratch = dev->injbuf = dev->gro_mem = NULL;
}

void wgdev_shutdown(struct wgdev *dev, const char *why)
{
	if (dev->stopping)
		return;
	dev->stopping = true;
	if (dev->hooks.stopping)
		dev->hooks.stopping(dev->hooks.ctx);
	log_info("shutting down (%s); errors: TUN write %llu, UDP send %llu", why,
		 (unsigned long long)dev->tun_write_errs, (unsigned long long)dev->udp_send_errs);
	close_handles(dev);
}

/* MESHD_FAULT=udp_gso,tun_gso,tun_plain: fake the kernel refusing those
 * offloads (tun_plain: every TUN offload, as a kernel without them). */
static void fault_init(struct wgdev *dev)
{
	const char *f = getenv("MESHD_FAULT");

	dev->fault = 0;
	if (!f)
		return;
	if (strstr(f, "udp_gso"))
		dev->fault |= WGDEV_FAULT_UDP_GSO;
	if (strstr(f, "tun_gso"))
		dev->fault |= WGDEV_FAULT_TUN_GSO;
	if (strstr(f, "tun_plain"))
		dev->fault |= WGDEV_FAULT_TUN_PLAIN;
	if (dev->fault)
		log_warn("MESHD_FAULT=%s: faking offload failures", f);
}

/* The start-up steps below each fill err and return MESHD_E_SYS on failure;
 * start() then undoes whatever the earlier steps set up (close_handles and
 * release look at the *_on flags and the fds, not at how far we got). */
#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return MESHD_E_SYS; } while (0)

/* A second daemon must not take over a live interface's UAPI socket. */
static int check_uapi_free(const char *ifname, char *err, size_t errlen)
{
	char path[108];
	int r = uapi_socket_check(ifname);

	if (r == 0)
		return 0;
	uapi_socket_path(path, sizeof path, ifname);
	if (r == MESHD_E_EXIST)
		FAIL("interface '%s' is already served by a running daemon (%s)", ifname, path);
	FAIL("cannot use %s: %s", path, strerror(errno));
}

/* Why tun_open*() failed (errno), as one line in err. */
static int tun_fail(const char *ifname, char *err, size_t errlen)
{
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		FAIL("cannot create TUN '%s': /dev/net/tun: %s", ifname, strerror(errno));
	if (errno == EINVAL && if_nametoindex(ifname) != 0)
		FAIL("cannot create TUN '%s': an interface of another type has that name", ifname);
	FAIL("cannot create TUN '%s': %s", ifname, strerror(errno));
}

static int open_tun(struct wgdev *dev, const char *ifname, char *err, size_t errlen)
{
	int mtu;

	fault_init(dev);
	dev->tun_fd = dev->fault & WGDEV_FAULT_TUN_PLAIN ? tun_open(ifname) :
		      tun_open_offload(ifname, &dev->tun_ofl);
	if (dev->tun_fd < 0)
		return tun_fail(ifname, err, errlen);
	/* Keep an MTU the user already chose (re-attaching), else the WireGuard default. */
	if (tun_get_mtu(ifname, &mtu) != 0 || mtu == 1500) {
		if (tun_set_mtu(ifname, TUN_DEFAULT_MTU) != 0)
			FAIL("cannot set MTU of '%s': %s", ifname, strerror(errno));
	}
	if (tun_set_txqueuelen(ifname, TUN_TXQUEUELEN) != 0)
		log_warn("cannot set txqueuelen of '%s': %s", ifname, strerror(errno));
	return 0;
}

int wgdev_check_ifname(const char *ifname, char *err, size_t errlen)
{
	int r = check_uapi_free(ifname, err, errlen);

	if (r != 0)
		return r;
	if (tun_name_held(ifname)) {
		errno = EINVAL;
		return tun_fail(ifname, err, errlen);
	}
	return 0;
}

/* Burst buffers, the wg core (at the TUN's MTU) and the UDP sockets. */
static int open_core(struct wgdev *dev, const char *ifname, uint16_t port, char *err,
		     size_t errlen)
{
	bool inject = dev->hooks.inner || dev->hooks.underlay;
	int r, mtu;

	dev->page = (size_t)sysconf(_SC_PAGESIZE);
	dev->txbuf = buf_alloc(WGDEV_BURST + 1, 64);
	/* page-aligned: rx_trim (wgdev.c) gives back whole pages of it */
	dev->rxbuf = buf_alloc(WGDEV_BURST, dev->page);
	dev->scratch = buf_alloc(1, 64);
	if (inject)
		dev->injbuf = buf_alloc(1, 64);
	if (!dev->txbuf || !dev->rxbuf || !dev->scratch || (inject && !dev->injbuf))
		FAIL("out of memory");
	setup_msgs(dev);
	if (dev->tun_ofl & TUN_OFL_VNET) {
		unsigned allow = (dev->tun_ofl & TUN_OFL_TSO ? OFFLOAD_GRO_TCP : 0) |
				 (dev->tun_ofl & TUN_OFL_USO ? OFFLOAD_GRO_UDP : 0);
		void *m = NULL;

		if (posix_memalign(&m, 64, (size_t)OFFLOAD_GRO_SLOTS * OFFLOAD_GRO_SLOT_SIZE) != 0)
			FAIL("out of memory");
		dev->gro_mem = m;
		offload_gro_init(&dev->gro, dev->gro_mem, allow);
	}
	log_info("TUN offloads: %s", !(dev->tun_ofl & TUN_OFL_VNET) ? "none (plain TUN)" :
		 dev->tun_ofl & TUN_OFL_USO ? "checksum, TSO4/6, USO4/6" : "checksum, TSO4/6");

	dev->wg = wg_device_new(&wgdev_host_ops, dev, &r);
	if (!dev->wg)
		FAIL("cannot create WireGuard device: %s", meshd_strerror(r));

	if (tun_get_mtu(ifname, &mtu) == 0 && mtu > 0) {
		dev->mtu = mtu;
		wg_device_set_mtu(dev->wg, (unsigned)mtu);
	}

	if (udp_bind(&dev->udp, port, 0) != 0) {
		if (port && errno == EADDRINUSE)
			FAIL("UDP port %u is in use", port);
		FAIL("cannot bind UDP socket: %s", strerror(errno));
	}
	return 0;
}

/* The loop and its handles: TUN and UDP polls, the timer, SIGINT/SIGTERM. */
static int start_loop(struct wgdev *dev, char *err, size_t errlen)
{
	int e;

	dev->tun_poll.dev = dev;
	dev->tun_poll.fd = dev->tun_fd;
	e = uv_poll_init(dev->loop, &dev->tun_poll.h, dev->tun_fd);
	if (e)
		FAIL("cannot poll TUN: %s", uv_strerror(e));
	dev->tun_poll.h.data = &dev->tun_poll;
	dev->tun_poll_on = true;
	e = uv_poll_start(&dev->tun_poll.h, UV_READABLE, wgdev_on_tun);
	if (e)
		FAIL("cannot poll TUN: %s", uv_strerror(e));
	if (udp_polls_start(dev) != 0)
		FAIL("cannot poll UDP sockets: %s", strerror(errno));

	if (sched_init(&dev->sched, dev->loop, wgdev_timer_next, wgdev_timer_fire, dev) != 0)
		FAIL("cannot create timer: %s", strerror(errno));
	dev->sched_on = true;

	uv_signal_init(dev->loop, &dev->sigint);
	uv_signal_init(dev->loop, &dev->sigterm);
	dev->sigint.data = dev->sigterm.data = dev;
	dev->signals_on = true;
	if (uv_signal_start(&dev->sigint, on_signal, SIGINT) ||
	    uv_signal_start(&dev->sigterm, on_signal, SIGTERM))
		FAIL("cannot install signal handlers");
	return 0;
}

/* The UAPI socket, and a watch that stops us when someone removes it. */
static int start_uapi(struct wgdev *dev, const char *ifname, char *err, size_t errlen)
{
	const char *what;

	dev->host.wg = dev->wg;
	dev->host.port = dev->udp.port;
	dev->host.fwmark = 0;
	dev->host.rebind = host_rebind;
	dev->host.ctx = dev;
	dev->uapi.after_set = after_uapi;
	dev->uapi.ctx = dev;
	if (uapi_server_start(&dev->uapi, dev->loop, ifname, &dev->host, &what) != 0) {
		char path[108];

		uapi_socket_path(path, sizeof path, ifname);
		FAIL("%s %s: %s", what, path, strerror(errno));
	}
	if (uv_fs_event_init(dev->loop, &dev->sockwatch) == 0) {
		dev->sockwatch.data = dev;
		dev->sockwatch_on = true;
		if (uv_fs_event_start(&dev->sockwatch, on_sockwatch, dev->uapi.path, 0) != 0) {
			uv_close((uv_handle_t *)&dev->sockwatch, NULL);
			dev->sockwatch_on = false;
		}
	}
	return 0;
}

#undef FAIL

static int start(struct wgdev *dev, uv_loop_t *loop, const char *ifname, uint16_t port,
		 char *err, size_t errlen)
{
	int r;

	dev->loop = loop;
	dev->tun_fd = -1;
	udp_init(&dev->udp);
	workers_init(&dev->workers, workers_default_threads(), wg_crypt_thread_wipe,
		     wg_crypt_thread_exit);
	snprintf(dev->ifname, sizeof dev->ifname, "%s", ifname);

	r = check_uapi_free(ifname, err, errlen);
	if (!r)
		r = open_tun(dev, ifname, err, errlen);
	if (!r)
		r = open_core(dev, ifname, port, err, errlen);
	if (!r)
		r = start_loop(dev, err, errlen);
	if (!r)
		r = start_uapi(dev, ifname, err, errlen);
	if (r) {
		dev->stopping = true;
		close_handles(dev);
		release(dev);
		return MESHD_E_SYS;
	}
	log_info("interface %s up, UDP port %u, UAPI %s, %u crypto thread%s", ifname, dev->udp.port,
		 dev->uapi.path, dev->workers.want + 1, dev->workers.want ? "s" : "");
	return 0;
}

void wgdev_close(struct wgdev *dev)
{
	if (!dev->stopping) {
		dev->stopping = true;
		close_handles(dev);
	}
}

void wgdev_free(struct wgdev *dev)
{
	release(dev);
}

int wgdev_start(struct wgdev *dev, uv_loop_t *loop, const char *ifname, char *err,
		size_t errlen)
{
	return start(dev, loop, ifname, 0, err, errlen);
}

int wgdev_start_hooks(struct wgdev *dev, uv_loop_t *loop, const char *ifname, uint16_t port,
		      const struct wgdev_hooks *hooks, char *err, size_t errlen)
{
	int r;

	dev->hooks = *hooks;
	r = start(dev, loop, ifname, port, err, errlen);
	if (r == 0)
		dev->host.managed = true;	/* peers, key and port are the mesh's */
	return r;
}
