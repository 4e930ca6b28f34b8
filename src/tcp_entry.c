/* TCP entry point on libuv; the contract is in tcp_entry.h, the protocol in
 * mesh/tcpframe.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "tcp_entry.h"
#include "tcp_stream.h"
#include "util/err.h"
#include "util/log.h"

struct tcp_conn {
	uv_tcp_t h;			/* first: the handle's data is the conn too */
	struct tcp_entry *e;
	uint64_t id;			/* slot | generation << 16 */
	size_t slot;
	union endpoint peer;
	struct mesh_tcp_srv srv;
	struct mesh_tcp_dec dec;
	uv_write_t wreq;
	bool writing, closing;
	uint8_t rbuf[TCP_ENTRY_RBUF];
	uint8_t wbuf[TCP_ENTRY_WBUF];
	alignas(8) uint8_t dgram[MESH_TCP_FRAME_MAX];
	struct mesh_tcp_ring ring;	/* last: 64 KiB */
};

static void conn_flush(struct tcp_conn *c);

static void on_conn_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	struct tcp_entry *e = c->e;

	if (c->slot < MESH_TCP_CONN_MAX && e->conns[c->slot] == c)
		e->conns[c->slot] = NULL;
	e->nconns--;
	free(c);
}

/* Idempotent. The memory lives until on_conn_closed, so a caller further up
 * the stack (read callback, deliver) may still look at c->closing. */
static void conn_close(struct tcp_conn *c)
{
	bool authed = c->srv.state == MESH_TCP_SRV_AUTHED;

	if (c->closing)
		return;
	c->closing = true;
	c->srv.state = MESH_TCP_SRV_CLOSED;
	if (authed && c->e->cfg.closed)
		c->e->cfg.closed(c->e->cfg.ctx, c->id, c->srv.node_id);
	uv_read_stop((uv_stream_t *)&c->h);
	/* A reset, not a FIN: a FIN would queue behind unsent data that a
	 * stalled client never takes, and keep the kernel's buffers (and the
	 * socket) busy long after we gave up on it. */
	if (uv_tcp_close_reset(&c->h, on_conn_closed) != 0)
		uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void on_write(uv_write_t *req, int status)
{
	struct tcp_conn *c = req->data;

	c->writing = false;
	if (c->closing)
		return;		/* ECANCELED from uv_close, or a late completion */
	if (status < 0) {
		log_ratelimited(LOG_LVL_DEBUG, "tcp entry: write failed: %s", uv_strerror(status));
		conn_close(c);
		return;
	}
	mesh_tcp_srv_on_tx(&c->srv, mesh_tcp_ring_used(&c->ring) > 0, true, sched_now());
	conn_flush(c);
}

/* Queued frames to the socket (tcp_stream.h); the stall clock follows. */
static void conn_flush(struct tcp_conn *c)
{
	bool progress;
	int r;

	if (c->writing || c->closing)
		return;
	r = tcp_stream_flush((uv_stream_t *)&c->h, &c->ring, c->wbuf, sizeof c->wbuf, &c->wreq,
	    on_write, &progress);
	if (r < 0) {
		conn_close(c);
		return;
	}
	c->writing = r == TCP_STREAM_WRITING;
	mesh_tcp_srv_on_tx(&c->srv, c->writing, progress, sched_now());
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

/* One decoded frame. Returns false when the connection is closing. */
static bool conn_frame(void *ctx, const uint8_t *f, size_t len, mtime_ns now)
{
	struct tcp_conn *c = ctx;
	struct tcp_entry *e = c->e;
	uint8_t ok[MESH_TCP_OK_FRAME];
	int v = mesh_tcp_srv_on_frame(&c->srv, f, len, e->cfg.member_pk, e->cfg.ctx, now);

	switch (v) {
	case MESH_TCP_SRV_SEND_OK:
		e->stats.auth_ok++;
		log_debug("tcp entry: member %02x%02x%02x%02x authenticated",
		    c->srv.node_id[0], c->srv.node_id[1], c->srv.node_id[2], c->srv.node_id[3]);
		ok[0] = MESH_TCP_MAGIC;
		ok[1] = MESH_TCP_VERSION;
		ok[2] = MESH_TCP_OK;
		mesh_tcp_ring_push(&c->ring, ok, sizeof ok);
		conn_flush(c);
		return !c->closing;
	case MESH_TCP_SRV_DATAGRAM:
		e->stats.datagrams_in++;
		memcpy(c->dgram, f, len);
		e->cfg.deliver(e->cfg.ctx, c->id, c->srv.node_id, &c->peer, c->dgram, len, now);
		return !c->closing;	/* deliver may have stopped the entry */
	case MESH_TCP_SRV_JOIN_REQ:
		if (!e->cfg.join)
			break;
		e->stats.join_reqs++;
		memcpy(c->dgram, f, len);
		e->cfg.join(e->cfg.ctx, c->id, &c->peer, c->dgram, len, now);
		return !c->closing;
	case MESH_TCP_SRV_IGNORE:
		return true;
	case MESHD_E_CRYPTO:
		e->stats.auth_fail++;
		break;
	case MESHD_E_TIMEOUT:
		e->stats.closed_timeout++;
		break;
	case MESHD_E_AGAIN:
		e->stats.closed_flood++;
		log_ratelimited(LOG_LVL_INFO, "tcp entry: member %02x%02x%02x%02x flooding: closed",
		    c->srv.node_id[0], c->srv.node_id[1], c->srv.node_id[2], c->srv.node_id[3]);
		break;
	default:
		e->stats.closed_proto++;
		break;
	}
	conn_close(c);
	return false;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;

	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (tcp_stream_feed(&c->dec, (const uint8_t *)buf->base, (size_t)nread, sched_now(),
	    conn_frame, c) != 0) {
		c->e->stats.closed_proto++;
		conn_close(c);
	}
}

static bool same_ip(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, sizeof a->sin6.sin6_addr) == 0;
}

/* A free slot under the limits, or -1. */
static int admit(struct tcp_entry *e, const union endpoint *peer)
{
	size_t from_peer = 0;
	int free_slot = -1;

	if (e->nconns >= MESH_TCP_CONN_MAX)
		return -1;
	for (size_t i = 0; i < MESH_TCP_CONN_MAX; i++) {
		if (!e->conns[i]) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if (same_ip(&e->conns[i]->peer, peer)) {
			from_peer++;
		}
	}
	return from_peer >= MESH_TCP_CONN_PER_SRC ? -1 : free_slot;
}

/* Listeners and the sweep timer: counted so the owner knows when e may go. */
static void on_handle_closed(uv_handle_t *h)
{
	struct tcp_entry *e = h->data;

	e->handles--;
}

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

static void on_connection(uv_stream_t *lis, int status)
{
	struct tcp_entry *e = lis->data;
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	uint8_t ch[MESH_TCP_CHALLENGE_FRAME];
	struct tcp_conn *c;
	int slot;

	if (status < 0 || e->stopping)
		return;
	/* One allocation per connection (not per datagram): the 64 KiB ring
	 * is paid only by connections that exist. */
	c = calloc(1, sizeof *c);
	if (!c) {
		/* accept into a bare handle just to close it, else the listen
		 * queue keeps signalling */
		uv_tcp_t *t = malloc(sizeof *t);

		if (t && uv_tcp_init(e->cfg.loop, t) == 0) {
			if (uv_accept(lis, (uv_stream_t *)t) != 0)
				log_ratelimited(LOG_LVL_DEBUG, "tcp entry: accept failed");
			uv_close((uv_handle_t *)t, on_refused_closed);
		} else {
			free(t);
		}
		return;
	}
	c->e = e;
	if (uv_tcp_init(e->cfg.loop, &c->h) != 0) {
		free(c);
		return;
	}
	c->h.data = c;
	e->nconns++;		/* on_conn_closed decrements, whatever happens next */
	c->slot = MESH_TCP_CONN_MAX;	/* not in the table yet */
	if (uv_accept(lis, (uv_stream_t *)&c->h) != 0 ||
	    uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &sslen) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->h, on_conn_closed);
		return;
	}
	memset(&c->peer, 0, sizeof c->peer);
	memcpy(&c->peer, &ss, (size_t)sslen < sizeof c->peer ? (size_t)sslen : sizeof c->peer);
	endpoint_unmap(&c->peer);
	e->nconns--;		/* admit() counts the others */
	slot = admit(e, &c->peer);
	e->nconns++;
	if (slot < 0) {
		e->stats.refused_limit++;
		log_ratelimited(LOG_LVL_DEBUG, "tcp entry: connection refused (limits)");
		c->closing = true;
		uv_close((uv_handle_t *)&c->h, on_conn_closed);
		return;
	}
	c->slot = (size_t)slot;
	c->id = (uint64_t)slot | (uint64_t)++e->gen << 16;
	e->conns[slot] = c;
	e->stats.accepted++;
	uv_tcp_nodelay(&c->h, 1);
	mesh_tcp_dec_init(&c->dec, 0);
	mesh_tcp_ring_init(&c->ring);
	c->wreq.data = c;
	mesh_tcp_srv_start(&c->srv, e->cfg.mesh_id, e->cfg.server_key, sched_now(), ch);
	if (e->cfg.frames_per_s && e->cfg.frames_burst)
		mesh_tcp_srv_set_flood_limit(&c->srv, e->cfg.frames_per_s, e->cfg.frames_burst);
	mesh_tcp_ring_push(&c->ring, ch, sizeof ch);
	if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void on_sweep(uv_timer_t *t)
{
	struct tcp_entry *e = t->data;
	mtime_ns now = sched_now();

	for (size_t i = 0; i < MESH_TCP_CONN_MAX; i++) {
		struct tcp_conn *c = e->conns[i];

		if (c && !c->closing && mesh_tcp_srv_handle_expiry(&c->srv, now)) {
			e->stats.closed_timeout++;
			conn_close(c);
		}
	}
}

static int listen_on(struct tcp_entry *e, uv_tcp_t *h, const struct sockaddr *sa,
    unsigned flags)
{
	int r = uv_tcp_init(e->cfg.loop, h);

	if (r != 0)
		return r;
	h->data = e;
	e->handles++;
	r = uv_tcp_bind(h, sa, flags);
	if (r == 0)
		r = uv_listen((uv_stream_t *)h, TCP_ENTRY_BACKLOG, on_connection);
	if (r != 0)
		uv_close((uv_handle_t *)h, on_handle_closed);
	return r;
}

/* 0 (listening) or an error that only says the family is absent here. */
static bool family_missing(int r)
{
	return r == 0 || r == UV_EAFNOSUPPORT || r == UV_EADDRNOTAVAIL || r == UV_EPROTONOSUPPORT;
}

int tcp_entry_start(struct tcp_entry *e, const struct tcp_entry_cfg *cfg)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	int r4, r6;

	memset(e, 0, sizeof *e);
	if (!cfg->loop || !cfg->member_pk || !cfg->deliver)
		return MESHD_E_INVAL;
	e->cfg = *cfg;
	uv_ip4_addr("0.0.0.0", cfg->port, &sin);
	uv_ip6_addr("::", cfg->port, &sin6);
	r4 = listen_on(e, &e->lis4, (const struct sockaddr *)&sin, 0);
	e->lis4_on = r4 == 0;
	r6 = listen_on(e, &e->lis6, (const struct sockaddr *)&sin6, UV_TCP_IPV6ONLY);
	e->lis6_on = r6 == 0;
	/* A family the host lacks is fine; a port that is busy or not ours in
	 * either family is an error (half a listener would hide it). */
	if (!e->lis4_on && !e->lis6_on) {
		tcp_entry_stop(e);
		errno = -r4;
		return MESHD_E_SYS;
	}
	if (!family_missing(r4) || !family_missing(r6)) {
		tcp_entry_stop(e);
		errno = -(family_missing(r4) ? r6 : r4);
		return MESHD_E_SYS;
	}
	if (uv_timer_init(cfg->loop, &e->sweep) == 0) {
		e->sweep.data = e;
		e->sweep_on = true;
		e->handles++;
		uv_timer_start(&e->sweep, on_sweep, TCP_ENTRY_SWEEP_MS, TCP_ENTRY_SWEEP_MS);
	}
	log_info("tcp entry: listening on port %u (IPv4 %s, IPv6 %s)", cfg->port,
	    e->lis4_on ? "yes" : "no", e->lis6_on ? "yes" : "no");
	return 0;
}

void tcp_entry_stop(struct tcp_entry *e)
{
	if (e->stopping)
		return;
	e->stopping = true;
	if (e->lis4_on)
		uv_close((uv_handle_t *)&e->lis4, on_handle_closed);
	if (e->lis6_on)
		uv_close((uv_handle_t *)&e->lis6, on_handle_closed);
	e->lis4_on = e->lis6_on = false;
	if (e->sweep_on)
		uv_close((uv_handle_t *)&e->sweep, on_handle_closed);
	e->sweep_on = false;
	for (size_t i = 0; i < MESH_TCP_CONN_MAX; i++)
		if (e->conns[i])
			conn_close(e->conns[i]);
}

bool tcp_entry_has_member(const struct tcp_entry *e, const uint8_t node_id[MESH_NODE_ID_LEN])
{
	for (size_t i = 0; i < MESH_TCP_CONN_MAX; i++) {
		const struct tcp_conn *c = e->conns[i];

		if (c && !c->closing && c->srv.state == MESH_TCP_SRV_AUTHED &&
		    memcmp(c->srv.node_id, node_id, MESH_NODE_ID_LEN) == 0)
			return true;
	}
	return false;
}

bool tcp_entry_idle(const struct tcp_entry *e)
{
	return e->handles == 0 && e->nconns == 0;
}

int tcp_entry_send(struct tcp_entry *e, uint64_t conn_id, const uint8_t *p, size_t len)
{
	size_t slot = (size_t)(conn_id & 0xffff);
	struct tcp_conn *c = slot < MESH_TCP_CONN_MAX ? e->conns[slot] : NULL;

	if (!c || c->id != conn_id || c->closing || (c->srv.state != MESH_TCP_SRV_AUTHED &&
	    c->srv.state != MESH_TCP_SRV_JOINING))
		return MESHD_E_NOENT;
	uint64_t before = c->ring.dropped;
	int r = mesh_tcp_ring_push(&c->ring, p, len);

	if (r != 0)
		return r;
	e->stats.datagrams_out++;
	e->stats.dropped_out += c->ring.dropped - before;
	conn_flush(c);
	return 0;
}

static const uint8_t synth_prefix[8] = { 0x01, 0x00, 0, 0, 0, 0, 0, 0x01 };

void tcp_entry_synth(uint64_t conn_id, union endpoint *out)
{
	uint8_t *a = out->sin6.sin6_addr.s6_addr;

	memset(out, 0, sizeof *out);
	out->sin6.sin6_family = AF_INET6;
	out->sin6.sin6_port = htons(1);
	memcpy(a, synth_prefix, sizeof synth_prefix);
	for (int i = 0; i < 8; i++)
		a[8 + i] = (uint8_t)(conn_id >> (56 - 8 * i));
}

bool tcp_entry_is_synth(const union endpoint *ep, uint64_t *conn_id)
{
	const uint8_t *a = ep->sin6.sin6_addr.s6_addr;
	uint64_t id = 0;

	if (ep->sa.sa_family != AF_INET6 || memcmp(a, synth_prefix, sizeof synth_prefix) != 0)
		return false;
	for (int i = 0; i < 8; i++)
		id = id << 8 | a[8 + i];
	*conn_id = id;
	return true;
}
