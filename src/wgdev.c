#include "config.h"

#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/mman.h>
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

/* ---- host upcalls for the core ---- */

static void host_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	struct wgdev *dev = ctx;

	if (dev->hooks.send_override && (dst->sa.sa_family == AF_INET6 || dev->override_all) &&
	    dev->hooks.send_override(dev->hooks.ctx, dst, buf, len))
		return;
	if (udp_send(&dev->udp, dst, buf, len) != 0) {
		char ep[ENDPOINT_STRLEN];

		dev->udp_send_errs++;
		log_ratelimited(LOG_LVL_DEBUG, "send to %s failed: %s",
				endpoint_format(dst, ep, sizeof ep), strerror(errno));
	}
}

static void host_walltime(void *ctx, struct walltime *out)
{
	sched_walltime(out);
}

const struct wg_host_ops wgdev_host_ops = {
	.send = host_send,
	.walltime = host_walltime,
};

/* ---- timers ---- */

mtime_ns wgdev_timer_next(void *ctx)
{
	struct wgdev *dev = ctx;
	mtime_ns t = wg_next_expiry(dev->wg), h;

	if (dev->hooks.next_expiry) {
		h = dev->hooks.next_expiry(dev->hooks.ctx);
		if (h < t)
			t = h;
	}
	return t;
}

/* glibc keeps the pages of freed heap memory: after a peak (joins, a burst
 * of gossip, a store flush) a member stays at the size of its largest
 * moment, and more so the more members it has. Every HEAP_TRIM_INTERVAL,
 * from the timers (which run every few seconds on a member with peers),
 * the free pages go back to the kernel; a heap walk, about as costly as
 * the free memory is fragmented. */
#define HEAP_TRIM_INTERVAL SEC(10)

static void heap_trim(struct wgdev *dev, mtime_ns now)
{
#ifdef __GLIBC__
	if (dev->heap_trimmed_at != 0 && now - dev->heap_trimmed_at < HEAP_TRIM_INTERVAL)
		return;
	dev->heap_trimmed_at = now;
	malloc_trim(0);
#else
	(void)dev;
	(void)now;
#endif
}

void wgdev_timer_fire(void *ctx, mtime_ns now)
{
	struct wgdev *dev = ctx;

	wg_handle_expiry(dev->wg, now);
	if (dev->hooks.expire && !dev->stopping)
		dev->hooks.expire(dev->hooks.ctx, now);
	heap_trim(dev, now);
}

/* ---- data path: UDP -> wg -> TUN ---- */

/* One packet on its own; with a vnet header, an all-zero one (no GSO, no
 * checksum request: the kernel checks the packet's own checksum). */
static void tun_write_one(struct wgdev *dev, const uint8_t *pkt, size_t len)
{
	static const uint8_t novnet[OFFLOAD_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)novnet, .iov_len = sizeof novnet },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};
	ssize_t r;

	if (dev->tun_ofl & TUN_OFL_VNET)
		r = writev(dev->tun_fd, iov, 2);
	else
		r = write(dev->tun_fd, pkt, len);
	if (r < 0) {
		dev->tun_write_errs++;
		log_ratelimited(LOG_LVL_DEBUG, "TUN write failed: %s", strerror(errno));
	}
}

/* The kernel refused coalesced item i (EINVAL/EIO): stop coalescing its
 * protocol for good, and write this one as the packets it was made of. The
 * spare TX buffer (stage) is free outside on_tun and holds the segments. */
static void gro_heal(struct wgdev *dev, unsigned i, int e)
{
	struct offload_gro_item *it = &dev->gro.item[i];
	bool tcp = it->kind == OFFLOAD_TCP4 || it->kind == OFFLOAD_TCP6;
	struct offload_super sp;
	struct offload_vnet vh;
	size_t n;

	if (dev->gro.allow & (tcp ? OFFLOAD_GRO_TCP : OFFLOAD_GRO_UDP)) {
		dev->gro.allow &= tcp ? ~(unsigned)OFFLOAD_GRO_TCP : ~(unsigned)OFFLOAD_GRO_UDP;
		log_warn("TUN refused a coalesced %s packet (%s): %s coalescing off",
			 tcp ? "TCP" : "UDP", strerror(e), tcp ? "TCP" : "UDP");
	}
	offload_vnet_decode(&vh, it->buf);
	if (offload_super_parse(&sp, &vh, it->buf + OFFLOAD_VNET_HDR_LEN, it->len) != 0) {
		dev->tun_write_errs++;
		return;
	}
	for (unsigned k = 0; k < sp.nseg; k++) {
		if (offload_segment(&sp, k, dev->stage, WGDEV_BUF_SIZE, &n) != 0) {
			dev->tun_write_errs++;
			continue;
		}
		tun_write_one(dev, dev->stage, n);
	}
}

/* Writes out what the coalescer holds, one write per item. */
static void gro_flush(struct wgdev *dev)
{
	struct offload_gro *g = &dev->gro;

	for (unsigned i = 0; i < g->n; i++) {
		bool gso = g->item[i].nseg > 1;
		const uint8_t *o;
		size_t len;
		ssize_t r;

		o = offload_gro_item_out(g, i, &len);
		if (gso && (dev->fault & WGDEV_FAULT_TUN_GSO)) {
			errno = EINVAL;
			r = -1;
		} else {
			r = write(dev->tun_fd, o, len);
		}
		if (r >= 0)
			continue;
		if (gso && (errno == EINVAL || errno == EIO || errno == EOPNOTSUPP)) {
			gro_heal(dev, i, errno);
			continue;
		}
		dev->tun_write_errs++;
		log_ratelimited(LOG_LVL_DEBUG, "TUN write failed: %s", strerror(errno));
	}
	/* After WireGuard's AEAD a bad TCP/UDP checksum was bad when the peer
	 * encrypted it: its stack relies on an offload we do not have. Such
	 * packets are never merged (the kernel drops them), and after a few
	 * we stop paying for the checks. */
	if (g->csum_bad >= WGDEV_CSUM_BAD_MAX && g->allow) {
		log_warn("%llu decrypted packets failed their TCP/UDP checksum: coalescing off",
			 (unsigned long long)g->csum_bad);
		g->allow = 0;
	}
	offload_gro_reset(g);
}

static void deliver(struct wgdev *dev, const uint8_t *pkt, size_t len)
{
	if (dev->gro_batch) {
		int r = offload_gro_add(&dev->gro, pkt, len);

		if (r == MESHD_E_FULL) {
			gro_flush(dev);
			r = offload_gro_add(&dev->gro, pkt, len);
		}
		if (r == 0)
			return;
	}
	tun_write_one(dev, pkt, len);
}

/* The GRO segment size of a received message, or 0 when not coalesced. */
static size_t gro_size(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;

			memcpy(&v, CMSG_DATA(cm), sizeof v);
			return v > 0 ? (size_t)v : 0;
		}
	return 0;
}

/* A decrypted packet at buf + res->off: the layer above, or the TUN. */
static void deliver_result(struct wgdev *dev, uint8_t *buf, const struct wg_result *res,
			   mtime_ns now)
{
	if (res->act != WG_ACT_DELIVER || res->len == 0)
		return;
	if (dev->hooks.inner &&
	    dev->hooks.inner(dev->hooks.ctx, res->peer, buf + res->off, res->len, now))
		return;
	if (dev->hooks.mss_clamp && mss_maybe_syn(buf + res->off, res->len))
		mss_clamp(buf + res->off, res->len, (unsigned)dev->mtu);
	deliver(dev, buf + res->off, res->len);
}

static void input_wg(struct wgdev *dev, uint8_t *buf, size_t len, const union endpoint *src,
		     mtime_ns now)
{
	struct wg_result res;

	wg_input_datagram(dev->wg, buf, len, src, now, &res);
	deliver_result(dev, buf, &res, now);
}

/* ---- all cores: the AEAD of a burst as jobs (wg.h, workers.h) ---- */

static void txq_add(struct wgdev *dev, uint8_t *data, size_t len, const union endpoint *dst);

static void job_run(void *arg, unsigned i)
{
	struct wgdev *dev = arg;

	(void)wg_crypt_job_run(&dev->job[i]);
}

/* Runs the waiting jobs, spread over the threads when the burst is big
 * enough, then finishes them in order on this thread. A burst is all seals
 * (on_tun) or all opens (on_udp). Seals are all finished before any is
 * queued (the queue's hook may call into the layer above, and a sealed job
 * must be finished before any other call). Each open is delivered right
 * after its finish, before the next finish: the layer above (hooks.inner)
 * may remove a peer, and the next finish then finds its keypair gone
 * instead of handing out a stale peer. */
static void jobs_flush(struct wgdev *dev, mtime_ns now)
{
	unsigned n = dev->njob;
	bool par = dev->job_bytes >= WGDEV_PAR_MIN_BYTES;

	if (n == 0)
		return;
	workers_run(&dev->workers, n, par ? WGDEV_PAR_MIN_JOBS : UINT_MAX, job_run, dev);
	dev->njob = 0;
	dev->job_bytes = 0;
	if (!dev->job[0].seal) {
		for (unsigned i = 0; i < n; i++) {
			wg_crypt_job_finish(dev->wg, &dev->job[i], now, &dev->jres[i]);
			deliver_result(dev, dev->job[i].buf, &dev->jres[i], now);
		}
		return;
	}
	for (unsigned i = 0; i < n; i++)
		wg_crypt_job_finish(dev->wg, &dev->job[i], now, &dev->jres[i]);
	for (unsigned i = 0; i < n; i++) {
		struct wg_result *r = &dev->jres[i];

		if (r->act == WG_ACT_SEND)
			txq_add(dev, dev->job[i].buf + r->off, r->len, &r->dst);
	}
}

/* A datagram of the UDP burst: data messages wait as jobs, anything else
 * runs after the jobs before it. */
static void input_one(struct wgdev *dev, uint8_t *buf, size_t len, const union endpoint *src,
		      mtime_ns now)
{
	struct wg_result *res;

	if (!wg_is_data_message(buf, len)) {
		jobs_flush(dev, now);
		if (dev->hooks.underlay && len > 0 && buf[0] == WGDEV_MESH_MAGIC &&
		    !wg_is_wg_datagram(buf, len)) {
			dev->hooks.underlay(dev->hooks.ctx, src, buf, len, now);
			return;
		}
		input_wg(dev, buf, len, src, now);
		return;
	}
	if (dev->njob == WGDEV_JOBS)
		jobs_flush(dev, now);
	res = &dev->jres[dev->njob];
	wg_input_datagram_job(dev->wg, buf, len, src, now, res, &dev->job[dev->njob]);
	if (res->act == WG_ACT_CRYPT) {
		dev->job_bytes += len;
		dev->njob++;
	}
}

void wgdev_input_datagram(struct wgdev *dev, uint8_t *buf, size_t len, const union endpoint *src)
{
	if (dev->stopping)
		return;
	input_wg(dev, buf, len, src, sched_now());
}

/* The receive batch is 64 slots of 64 KB (GRO), and every datagram makes
 * the first page of its slot resident: a member whose peers' keepalives
 * and gossip arrive k at a time would keep k pages for good, 256 KB at
 * most, a cost that grows with the mesh. After a burst that did not fill
 * the batch (one that did says more are coming) and at most once per
 * RX_TRIM_INTERVAL, the pages past the first go back to the kernel; they
 * come back zeroed at the next burst that needs them. Under load the
 * batch fills and nothing is trimmed; below that, one madvise a second
 * and a page fault per page touched again. Nothing refers to rxbuf once
 * a burst is handled (jobs and GRO are flushed). */
#define RX_TRIM_INTERVAL SEC(1)

static void rx_trim(struct wgdev *dev, unsigned n, mtime_ns now)
{
	if (dev->rx_touched <= dev->page || n >= dev->rx_vlen ||
	    now - dev->rx_trimmed_at < RX_TRIM_INTERVAL)
		return;
	/* rxbuf is page-aligned (wgdev_setup.c) */
	madvise(dev->rxbuf + dev->page, (dev->rx_touched - 1) / dev->page * dev->page,
		MADV_DONTNEED);
	dev->rx_touched = dev->page;
	dev->rx_trimmed_at = now;
}

void wgdev_on_udp(uv_poll_t *h, int status, int events)
{
	struct wgdev_poll *p = h->data;
	struct wgdev *dev = p->dev;
	unsigned npkts;
	mtime_ns now;
	int n;

	if (status < 0) {
		/* libuv stops a poll handle on POLLERR. A pending socket error
		 * (e.g. an ICMP error queued on the socket) must not end receive
		 * for good: read and clear it, drain the error queue (path MTU
		 * news go up), and poll again. */
		int soerr = 0;
		socklen_t sl = sizeof soerr;

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (udp_read_errors(p->fd, dev->hooks.path_mtu, dev->hooks.ctx) == 0)
			log_ratelimited(LOG_LVL_WARN, "UDP socket error: %s (%s); still listening",
					uv_strerror(status), soerr ? strerror(soerr) : "no pending error");
		if (uv_poll_start(h, UV_READABLE, wgdev_on_udp) != 0)
			wgdev_shutdown(dev, "UDP socket error");
		return;
	}
	for (unsigned i = 0; i < dev->rx_vlen; i++) {
		struct msghdr *mh = &dev->rxmsg[i].msg_hdr;

		mh->msg_namelen = sizeof dev->rxsrc[i];
		mh->msg_control = dev->rxctl[i].buf;
		mh->msg_controllen = sizeof dev->rxctl[i].buf;
		mh->msg_flags = 0;
	}
	n = recvmmsg(p->fd, dev->rxmsg, dev->rx_vlen, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	/* slots fill in order, each message below WGDEV_BUF_SIZE: the last ends last */
	if ((size_t)(n - 1) * WGDEV_BUF_SIZE + dev->rxmsg[n - 1].msg_len > dev->rx_touched)
		dev->rx_touched = (size_t)(n - 1) * WGDEV_BUF_SIZE + dev->rxmsg[n - 1].msg_len;
	now = sched_now();
	npkts = 0;
	dev->gro_batch = (dev->tun_ofl & TUN_OFL_VNET) && dev->gro.allow;
	for (int i = 0; i < n; i++) {
		uint8_t *buf = dev->rxbuf + (size_t)i * WGDEV_BUF_SIZE;
		struct msghdr *mh = &dev->rxmsg[i].msg_hdr;
		size_t len = dev->rxmsg[i].msg_len, seg;

		if (mh->msg_flags & MSG_TRUNC)
			continue;
		if (dev->rxsrc[i].sa.sa_family == AF_INET6)
			endpoint_unmap(&dev->rxsrc[i]);
		seg = gro_size(mh);
		if (seg == 0 || seg >= len) {
			input_one(dev, buf, len, &dev->rxsrc[i], now);
			npkts++;
			continue;
		}
		npkts += (len + seg - 1) / seg;
		/* Coalesced by UDP GRO: equal segments, the last may be shorter. The
		 * core wants 8-byte aligned datagrams: copy the unaligned ones. */
		for (size_t off = 0; off < len; off += seg) {
			size_t sl = len - off < seg ? len - off : seg;
			uint8_t *s = buf + off;

			if ((uintptr_t)s & 7) {
				/* scratch is one buffer: no job may point into it */
				jobs_flush(dev, now);
				memcpy(dev->scratch, s, sl);
				input_wg(dev, dev->scratch, sl, &dev->rxsrc[i], now);
				continue;
			}
			input_one(dev, s, sl, &dev->rxsrc[i], now);
		}
	}
	jobs_flush(dev, now);
	if (dev->gro_batch)
		gro_flush(dev);
	dev->gro_batch = false;
	rx_trim(dev, (unsigned)n, now);
	/* With GRO one message may hold dozens of packets: keep a callback's
	 * work near one burst so the TUN side is not starved. */
	if (npkts > 4 * WGDEV_BURST && dev->rx_vlen > 4)
		dev->rx_vlen /= 2;
	else if (npkts <= 2 * WGDEV_BURST && dev->rx_vlen < WGDEV_BURST)
		dev->rx_vlen *= 2;
	sched_rearm(&dev->sched);
}

/* ---- data path: TUN -> wg -> UDP ---- */

/* Builds the messages for packets [from, q->n): one per run of same-destination,
 * same-length packets when GSO is on, else one per packet. Returns the count. */
static unsigned txq_build(struct wgdev *dev, struct wgdev_txq *q, unsigned from)
{
	unsigned m = 0, i = from;

	while (i < q->n) {
		struct msghdr *mh = &q->msg[m].msg_hdr;
		size_t seg = q->iov[i].iov_len, total = seg;
		unsigned j = i + 1;

		if (!dev->gso_off) {
			while (j < q->n && j - i < WGDEV_GSO_MAX_SEGS &&
			       total + q->iov[j].iov_len <= WGDEV_GSO_MAX_BYTES &&
			       q->iov[j].iov_len <= seg && endpoint_eq(&q->dst[j], &q->dst[i])) {
				total += q->iov[j].iov_len;
				if (q->iov[j++].iov_len < seg)
					break;	/* a shorter packet ends the run */
			}
		}
		memset(mh, 0, sizeof *mh);
		mh->msg_name = &q->dst[i];
		mh->msg_namelen = (socklen_t)endpoint_len(&q->dst[i]);
		mh->msg_iov = &q->iov[i];
		mh->msg_iovlen = j - i;
		if (j - i > 1) {
			struct cmsghdr *cm;

			mh->msg_control = q->ctl[m].buf;
			mh->msg_controllen = sizeof q->ctl[m].buf;
			cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			*(uint16_t *)(void *)CMSG_DATA(cm) = (uint16_t)seg;
			mh->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
		}
		q->first[m++] = i;
		i = j;
	}
	return m;
}

static void txq_flush(struct wgdev *dev, struct wgdev_txq *q, int fd)
{
	unsigned nmsg = txq_build(dev, q, 0), off = 0;

	while (off < nmsg) {
		int r;

		if ((dev->fault & WGDEV_FAULT_UDP_GSO) && q->msg[off].msg_hdr.msg_iovlen > 1) {
			errno = EIO;
			r = -1;
		} else {
			r = sendmmsg(fd, q->msg + off, nmsg - off, 0);
		}

		if (r > 0) {
			off += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (q->msg[off].msg_hdr.msg_iovlen > 1 &&
		    (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
			/* No UDP GSO on this path (EIO: no checksum offload; EINVAL:
			 * segment larger than the path MTU): go one by one. */
			log_info("UDP GSO unavailable (%s): sending datagrams one by one",
				 strerror(errno));
			dev->gso_off = true;
			nmsg = txq_build(dev, q, q->first[off]);
			off = 0;
			continue;
		}
		/* EAGAIN: the socket buffer is full, drop the rest of the burst (the
		 * inner transport backs off as it would on a full qdisc). Any other
		 * error belongs to the first message: skip it, keep the others. */
		dev->udp_send_errs++;
		log_ratelimited(LOG_LVL_DEBUG, "sendmmsg: %s", strerror(errno));
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		off++;
	}
	q->n = 0;
}

static void txq_add(struct wgdev *dev, uint8_t *data, size_t len, const union endpoint *dst)
{
	int fam = dst->sa.sa_family == AF_INET6 ? 1 : 0;
	struct wgdev_txq *q = &dev->txq[fam];
	unsigned i = q->n;

	if (dst->sa.sa_family != AF_INET && dst->sa.sa_family != AF_INET6)
		return;
	if ((fam == 1 || dev->override_all) && dev->hooks.send_override &&
	    dev->hooks.send_override(dev->hooks.ctx, dst, data, len))
		return;		/* relayed: never in a sendmmsg/GSO batch */
	q->iov[i].iov_base = data;
	q->iov[i].iov_len = len;
	q->dst[i] = *dst;
	q->n++;
}

/* Mesh mode: a local program's IPv4 UDP packet to the gossip port. Only the
 * daemon sends gossip, as this node. Non-first fragments carry no port and
 * pass: the receiving daemon hands every fragment to its kernel, never to
 * its gossip engine. */
static bool tun_drop(const struct wgdev *dev, const uint8_t *pkt, size_t len)
{
	size_t ihl;

	if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_UDP)
		return false;
	if ((pkt[6] & 0x1f) != 0 || pkt[7] != 0)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < 20 || len < ihl + 4)
		return true;
	return ((unsigned)pkt[ihl + 2] << 8 | pkt[ihl + 3]) == dev->hooks.tun_drop_udp_port;
}

/* One IP packet at buf + WG_HEADROOM: encrypted in place and queued. */
static void tun_one(struct wgdev *dev, uint8_t *buf, size_t n, mtime_ns now)
{
	struct wg_result *res;

	if (n > (size_t)dev->mtu)
		wgdev_refresh_mtu(dev);
	if (dev->hooks.tun_drop_udp_port && tun_drop(dev, buf + WG_HEADROOM, n))
		return;
	if (dev->hooks.mss_clamp && mss_maybe_syn(buf + WG_HEADROOM, n))
		mss_clamp(buf + WG_HEADROOM, n, (unsigned)dev->mtu);
	/* Too big for the peer's path: answered with ICMP, before a nonce is spent. */
	if (dev->hooks.tun_too_big && dev->hooks.tun_too_big(dev->hooks.ctx, buf + WG_HEADROOM, n, now))
		return;
	res = &dev->jres[dev->njob];
	wg_input_tun_job(dev->wg, buf, n, WGDEV_BUF_SIZE, now, res, &dev->job[dev->njob]);
	if (res->act == WG_ACT_CRYPT) {
		dev->job_bytes += n;
		dev->njob++;
	}
}

/* Seals what waits, then sends everything queued. */
static void tx_flush(struct wgdev *dev, mtime_ns now)
{
	jobs_flush(dev, now);
	if (dev->txq[0].n)
		txq_flush(dev, &dev->txq[0], dev->udp.fd4);
	if (dev->txq[1].n)
		txq_flush(dev, &dev->txq[1], dev->udp.fd6);
}

/* Reads go to the spare buffer (stage), behind a vnet header when the TUN
 * has offloads. A plain packet swaps places with the next free slot (no
 * copy); a super-packet is cut into the slots. When the slots run out the
 * queued datagrams are sent first, which frees them all. */
void wgdev_on_tun(uv_poll_t *h, int status, int events)
{
	struct wgdev_poll *p = h->data;
	struct wgdev *dev = p->dev;
	size_t hdr = dev->tun_ofl & TUN_OFL_VNET ? OFFLOAD_VNET_HDR_LEN : 0;
	unsigned used = 0, done = 0;
	mtime_ns now = 0;
	bool any = false;

	if (status < 0) {
		wgdev_shutdown(dev, "TUN device error");
		return;
	}
	while (done < WGDEV_TUN_BUDGET) {
		uint8_t *rd = dev->stage + WG_HEADROOM - hdr;
		struct offload_super sp;
		struct offload_vnet vh;
		ssize_t n = read(dev->tun_fd, rd, WGDEV_MAX_PACKET + hdr);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			/* EBADFD and friends: the interface was deleted under us */
			log_info("TUN read: %s", strerror(errno));
			wgdev_shutdown(dev, "TUN device gone");
			return;
		}
		if (n == 0)
			break;
		if (!any)
			now = sched_now();
		any = true;
		if ((size_t)n <= hdr)
			continue;
		if (hdr)
			offload_vnet_decode(&vh, rd);
		else
			memset(&vh, 0, sizeof vh);
		if (offload_super_parse(&sp, &vh, dev->stage + WG_HEADROOM, (size_t)n - hdr) != 0) {
			dev->tun_bad_gso++;
			log_ratelimited(LOG_LVL_DEBUG, "TUN packet of %zd bytes (gso %u/%u) dropped",
					n, vh.gso_type, vh.gso_size);
			continue;
		}
		if (sp.kind == OFFLOAD_PLAIN) {
			uint8_t *t;

			if (used == WGDEV_BURST) {
				tx_flush(dev, now);
				used = 0;
			}
			t = dev->txslot[used];
			dev->txslot[used] = dev->stage;
			dev->stage = t;
			tun_one(dev, dev->txslot[used++], sp.len, now);
			done++;
			continue;
		}
		for (unsigned k = 0; k < sp.nseg; k++) {
			size_t sl;

			if (used == WGDEV_BURST) {
				tx_flush(dev, now);
				used = 0;
			}
			if (offload_segment(&sp, k, dev->txslot[used] + WG_HEADROOM,
					    WGDEV_MAX_PACKET, &sl) != 0)
				break;
			tun_one(dev, dev->txslot[used++], sl, now);
		}
		done += sp.nseg;
	}
	tx_flush(dev, now);
	if (any)
		sched_rearm(&dev->sched);
}

int wgdev_send_underlay(struct wgdev *dev, const union endpoint *dst, const uint8_t *p,
			size_t len)
{
	if (dev->stopping || len > WGDEV_MAX_PACKET)
		return MESHD_E_STATE;
	if (udp_send(&dev->udp, dst, p, len) != 0) {
		dev->udp_send_errs++;
		return MESHD_E_SYS;
	}
	return 0;
}

void wgdev_rearm(struct wgdev *dev)
{
	if (dev->sched_on && !dev->stopping)
		sched_rearm(&dev->sched);
}

void wgdev_tun_write(struct wgdev *dev, const uint8_t *pkt, size_t len)
{
	tun_write_one(dev, pkt, len);
}

/* Its own buffer, not scratch: inject may run inside input_one (a gossip
 * answer to a gossip packet) while scratch still holds the datagram. */
int wgdev_inject(struct wgdev *dev, const uint8_t *ippkt, size_t len)
{
	struct wg_result res;

	if (!dev->injbuf || dev->stopping)
		return MESHD_E_STATE;
	if (len == 0 || len > WGDEV_MAX_PACKET)
		return MESHD_E_RANGE;
	memcpy(dev->injbuf + WG_HEADROOM, ippkt, len);
	/* No re-arm here: this runs inside the layer above's calls, which
	 * must not be re-entered (the deadline query is theirs too). */
	wg_input_tun(dev->wg, dev->injbuf, len, WGDEV_BUF_SIZE, sched_now(), &res);
	if (res.act != WG_ACT_SEND)
		return res.peer ? 0 : MESHD_E_NOENT;	/* queued behind a handshake, or no route */
	if (dev->hooks.send_override && (res.dst.sa.sa_family == AF_INET6 || dev->override_all) &&
	    dev->hooks.send_override(dev->hooks.ctx, &res.dst, dev->injbuf + res.off, res.len))
		return 0;
	if (udp_send(&dev->udp, &res.dst, dev->injbuf + res.off, res.len) != 0) {
		dev->udp_send_errs++;
		return MESHD_E_SYS;
	}
	return 0;
}
