/* The WireGuard device: the TUN device, the UDP sockets, the WireGuard core and
 * the UAPI server, as handles on an event loop that its user owns and runs
 * (`meshd wg IFNAME` in src/cmd_wg.c, the mesh daemon in src/daemon.c):
 *
 *	uv_loop_init(&loop); wgdev_start(&dev, &loop, ...);
 *	uv_run(&loop, UV_RUN_DEFAULT);	returns once wgdev_shutdown() closed all
 *	wgdev_close(&dev);		(only if the loop ran dry by itself)
 *	uv_run(&loop, UV_RUN_DEFAULT);	the close callbacks
 *	wgdev_free(&dev); uv_loop_close(&loop);
 *
 * Start order: TUN (+ MTU, txqueuelen) -> wg core -> UDP -> loop handles (polls,
 * timer, signals) -> UAPI socket (last, so that its presence means "ready").
 * Stop order is the reverse: the socket goes first so that no client sees a
 * half-dead daemon; the TUN is closed last (the kernel then deletes it).
 *
 * Data path (no allocation; the AEAD of a burst spread over the CPUs):
 *   TUN readable: read packets (with TUN offloads: super-packets of up to
 *     64 KiB, cut into MTU-sized segments by offload.c) into preallocated
 *     buffers at WG_HEADROOM, each a sealing job (wg_input_tun_job); the
 *     jobs run on the worker pool (workers.h), are finished in order, and
 *     per family one sendmmsg sends them, same-size runs as UDP GSO messages.
 *   UDP readable: one recvmmsg of up to WGDEV_BURST datagrams (UDP GRO may
 *     pack many in one); data messages become opening jobs
 *     (wg_input_datagram_job), anything else first runs and finishes the
 *     jobs before it; opened packets, in order: with TUN offloads one
 *     flow's segments are coalesced (offload.c) into one TUN write, else
 *     each plaintext is written alone.
 *   The wg core itself stays on the loop's thread: workers only run the
 *   AEAD of jobs (wg.h, "Deferred data-message crypto").
 * A bounded amount of work per readiness callback keeps TUN and UDP from
 * starving each other. Offloads heal: a GSO send or coalesced TUN write the
 * kernel refuses turns that offload off (logged once) and the data goes out
 * packet by packet; MESHD_FAULT=udp_gso,tun_gso,tun_plain fakes those
 * refusals for tests.
 *
 * Mesh mode (wgdev_start_hooks, used by src/daemon.c) adds struct wgdev_hooks:
 * non-WireGuard datagrams starting with WGDEV_MESH_MAGIC go to hooks.underlay,
 * decrypted packets pass hooks.inner before the TUN, and the layer above's
 * deadlines share the one timer. wgdev_inject() sends packets of its own.
 */
#ifndef MESHD_WGDEV_H
#define MESHD_WGDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <net/if.h>
#include <uv.h>

#include "offload.h"
#include "schedule.h"
#include "uapi.h"
#include "udp.h"
#include "util/addr.h"
#include "wg/wg.h"
#include "workers.h"

struct wg_device;
struct wg_peer;

enum {
	WGDEV_BURST = 64,
	/* one buffer: headroom + the largest IP packet / datagram + tailroom, rounded */
	WGDEV_BUF_SIZE = (16 + 65535 + 31 + 63) & ~63,
	WGDEV_MAX_PACKET = 65535,
	WGDEV_GSO_MAX_SEGS = 64,	/* UDP_MAX_SEGMENTS of older kernels */
	WGDEV_GSO_MAX_BYTES = 65000,	/* under the 64 KiB IP datagram limit */
	WGDEV_TUN_BUDGET = 2 * WGDEV_BURST,	/* segments per TUN callback */
	WGDEV_CSUM_BAD_MAX = 16,	/* bad checksums before coalescing stops */
	/* All cores: data messages waiting for their AEAD (wg.h jobs) at most;
	 * a burst is spread over threads when it has this many messages ... */
	WGDEV_JOBS = 2 * WGDEV_BURST,
	WGDEV_PAR_MIN_JOBS = 4,
	/* ... and this many payload bytes (below it waking a thread costs
	 * more than the AEAD work it would take over) */
	WGDEV_PAR_MIN_BYTES = 16 * 1024,
};

/* Optional hooks for the mesh daemon (src/daemon.c). A NULL member is never
 * called; `meshd wg` sets none, so its data path costs one pointer test. */
struct wgdev_hooks {
	/* A non-WireGuard datagram whose first byte is WGDEV_MESH_MAGIC. */
	void (*underlay)(void *ctx, const union endpoint *src, const uint8_t *p, size_t len,
			 mtime_ns now);
	/* A decrypted IP packet from peer; true: consumed, not written to the TUN. */
	bool (*inner)(void *ctx, struct wg_peer *peer, const uint8_t *pkt, size_t len,
		      mtime_ns now);
	/* Relays: every datagram the core sends to an IPv6
	 * destination (handshakes, keepalives, cookies, data) is offered here
	 * first; true: taken (the destination was a synthetic relay endpoint),
	 * not sent to the socket nor put in a sendmmsg/GSO batch. With
	 * struct wgdev's override_all set (the TCP fallback), IPv4
	 * destinations are offered too. */
	bool (*send_override)(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len);
	/* Path MTU: the kernel says datagrams to dst above mtu bytes do not
	 * pass (udp_read_errors()). */
	void (*path_mtu)(void *ctx, const union endpoint *dst, unsigned mtu);
	/* A packet read from the TUN, before encryption; true: too big for its
	 * peer's path, answered (ICMP) and dropped. */
	bool (*tun_too_big)(void *ctx, const uint8_t *pkt, size_t len, mtime_ns now);
	/* Timers of the layer above, merged with the core's into one libuv timer. */
	mtime_ns (*next_expiry)(void *ctx);
	void (*expire)(void *ctx, mtime_ns now);
	/* Called once when shutdown begins, before the UAPI socket and the TUN
	 * go, so the layer above closes its own handles first. */
	void (*stopping)(void *ctx);
	/* Non-zero: IPv4 UDP packets read from the TUN with this destination
	 * port are dropped (only the daemon speaks gossip, through
	 * wgdev_inject; docs/decisions.md D11). */
	uint16_t tun_drop_udp_port;
	/* Clamp the MSS of TCP SYNs read from and written to the TUN to
	 * the TUN MTU (mss.h), for traffic forwarded to subnet routes. */
	bool mss_clamp;
	void *ctx;
};

enum {
	WGDEV_FAULT_UDP_GSO = 1,	/* every UDP GSO sendmmsg fails with EIO */
	WGDEV_FAULT_TUN_GSO = 2,	/* every coalesced TUN write fails with EINVAL */
	WGDEV_FAULT_TUN_PLAIN = 4,	/* the TUN is opened without offloads */
};

enum {
	WGDEV_MESH_MAGIC = 0x4d,	/* == MESH_MSG_MAGIC (checked in daemon.c) */
};

struct wgdev_poll {
	uv_poll_t h;
	struct wgdev *dev;
	int fd;
};

/* Cmsg space for one UDP_SEGMENT / UDP_GRO value. */
#define WGDEV_CMSG_SPACE CMSG_SPACE(sizeof(int))

/* Encrypted packets of one burst for one socket family. At flush, runs of
 * packets to the same destination with the same length (the last one may be
 * shorter) become one UDP GSO message (UDP_SEGMENT), so the kernel builds one
 * skb for the run; one sendmmsg carries all messages. */
struct wgdev_txq {
	struct iovec iov[WGDEV_BURST];		/* one per packet */
	union endpoint dst[WGDEV_BURST];
	unsigned n;				/* packets */
	struct mmsghdr msg[WGDEV_BURST];	/* one per run */
	unsigned first[WGDEV_BURST];		/* index of a message's first packet */
	union {
		struct cmsghdr align;
		char buf[WGDEV_CMSG_SPACE];
	} ctl[WGDEV_BURST];
};

struct wgdev {
	uv_loop_t *loop;		/* borrowed: the user owns and runs it */
	char ifname[IFNAMSIZ];
	int tun_fd;
	int mtu;			/* last MTU read from the interface */
	struct wgdev_poll tun_poll;
	bool tun_poll_on;
	struct udp udp;
	struct wgdev_poll *poll4, *poll6;	/* heap: closed asynchronously on rebind */
	struct wg_device *wg;
	bool override_all;		/* hooks.send_override for IPv4 too */
	struct sched sched;
	bool sched_on;
	struct uapi_host host;
	struct uapi_server uapi;
	uv_signal_t sigint, sigterm;
	bool signals_on;
	uv_fs_event_t sockwatch;
	bool sockwatch_on;
	bool stopping;

	uint8_t *txbuf;			/* WGDEV_BURST + 1 buffers of WGDEV_BUF_SIZE, 64-byte aligned */
	uint8_t *txslot[WGDEV_BURST];	/* into txbuf; the TUN is read into stage */
	uint8_t *stage;			/* the spare one (swapped with a slot for plain packets) */
	uint8_t *rxbuf;
	struct wgdev_txq txq[2];	/* [0] IPv4, [1] IPv6 */
	struct mmsghdr rxmsg[WGDEV_BURST];
	struct iovec rxiov[WGDEV_BURST];
	union endpoint rxsrc[WGDEV_BURST];
	union {
		struct cmsghdr align;
		char buf[WGDEV_CMSG_SPACE];
	} rxctl[WGDEV_BURST];
	uint8_t *scratch;		/* one aligned buffer for unaligned GRO segments */
	unsigned rx_vlen;		/* messages per recvmmsg (shrinks when GRO packs many) */
	/* rxbuf bytes written since the last rx_trim() (wgdev.c), the time of
	 * that trim, and the page size: each datagram makes its slot's first
	 * page resident, and a burst of k small datagrams k pages. */
	size_t rx_touched, page;
	mtime_ns rx_trimmed_at;
	mtime_ns heap_trimmed_at;	/* last malloc_trim (wgdev.c); 0: never */
	bool gso_off;			/* the kernel refused UDP GSO: send one by one */

	unsigned tun_ofl;		/* TUN_OFL_* in force (tun.h) */
	struct offload_gro gro;		/* receive-side coalescing, on when tun_ofl has VNET */
	uint8_t *gro_mem;
	bool gro_batch;			/* inside on_udp: TUN writes go through gro */
	unsigned fault;			/* WGDEV_FAULT_* (MESHD_FAULT), for tests */
	uint64_t tun_bad_gso;		/* super-packets offload.c refused (dropped) */

	uint64_t tun_write_errs, udp_send_errs;	/* packets dropped by those calls */

	/* All cores (docs/decisions.md): the AEAD of a burst's data messages
	 * runs as jobs on dev->workers; TX and RX each run theirs before their
	 * callback returns, so one array serves both. */
	struct workers workers;
	struct wg_crypt_job job[WGDEV_JOBS];
	struct wg_result jres[WGDEV_JOBS];
	unsigned njob;
	size_t job_bytes;

	struct wgdev_hooks hooks;	/* all NULL for `meshd wg` */
	uint8_t *injbuf;		/* one buffer for wgdev_inject() (mesh mode only) */
};

/* Writes one IP packet into the TUN as if it had come out of the tunnel
 * (e.g. an ICMP "packet too big" answer), with the all-zero vnet header
 * the TUN expects when it has offloads. Errors are counted and logged. */
void wgdev_tun_write(struct wgdev *dev, const uint8_t *pkt, size_t len);

/* Sets up everything on loop (initialised by the caller, who runs it); on
 * failure writes one line (without "meshd: " and without '\n') into err and
 * returns a negative MESHD_E_* code, having undone what it did (the handles'
 * close callbacks still need a run of the loop before uv_loop_close). dev
 * must be zeroed by the caller. */
int wgdev_start(struct wgdev *dev, uv_loop_t *loop, const char *ifname, char *err,
		size_t errlen);
/* Whether the interface name ifname is free for wgdev_start(): no live
 * daemon serves it and no interface of another type holds it. Creates
 * nothing (permission is not checked: that needs a TUN made). For a
 * command that must not do anything lasting (a join) before it knows the
 * start will not fail there. 0, or MESHD_E_* with the reason in err as
 * wgdev_start() words it. */
int wgdev_check_ifname(const char *ifname, char *err, size_t errlen);
/* The mesh variant: the UDP sockets are bound to port (0: a random one; a
 * busy port fails with "UDP port N is in use") and hooks are installed
 * (copied). */
int wgdev_start_hooks(struct wgdev *dev, uv_loop_t *loop, const char *ifname, uint16_t port,
		      const struct wgdev_hooks *hooks, char *err, size_t errlen);
/* One datagram to dst from our UDP port (control path). 0 or MESHD_E_SYS. */
int wgdev_send_underlay(struct wgdev *dev, const union endpoint *dst, const uint8_t *p,
			size_t len);
/* Encrypts the IP packet ippkt as if read from the TUN and sends it (or the
 * core queues it behind a handshake). 0; MESHD_E_RANGE (too long);
 * MESHD_E_STATE (not a mesh device, or stopping); MESHD_E_NOENT (no peer
 * routes it); MESHD_E_SYS (send failed). Does not re-arm the timer: call
 * wgdev_rearm() after the batch, unless inside a wgdev callback (those
 * re-arm on return). */
int wgdev_inject(struct wgdev *dev, const uint8_t *ippkt, size_t len);
/* A WireGuard datagram (buf 8-byte aligned and writable) from src, through
 * the normal input path minus the mesh demultiplexing: wg_input_datagram,
 * then hooks.inner or the TUN. For datagrams that came through a relay. */
void wgdev_input_datagram(struct wgdev *dev, uint8_t *buf, size_t len, const union endpoint *src);
/* Re-reads the deadlines after the layer above changed the core outside a
 * loop callback of ours (e.g. added peers). */
void wgdev_rearm(struct wgdev *dev);
/* Stops the device: closes its handles, so that the loop returns once the
 * user's own handles are closed too (safe from any loop callback; SIGINT,
 * SIGTERM, the TUN disappearing or the UAPI socket being removed call it). */
void wgdev_shutdown(struct wgdev *dev, const char *why);
/* After the loop returned: closes what is still open (the loop ran dry
 * without a shutdown, which should not happen). Run the loop once more for
 * the close callbacks, then wgdev_free(). */
void wgdev_close(struct wgdev *dev);
/* Closes the TUN (the kernel deletes the interface), the sockets, the core
 * and the buffers; the handles' close callbacks must have run. */
void wgdev_free(struct wgdev *dev);

/* `meshd wg [-f] IFNAME` (src/cmd_wg.c): argv[0] is "wg". Returns the exit code. */
int cmd_wg(int argc, char **argv);

#endif
