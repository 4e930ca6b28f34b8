/* The TCP fallback client on libuv; the contract is in tcp_client.h. */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "tcp_client.h"
#include "tcp_stream.h"
#include "util/err.h"
#include "util/log.h"

struct tcp_client {
	uv_tcp_t h;
	uv_timer_t tick;
	uv_connect_t creq;
	uv_write_t wreq;
	struct tcp_client_cfg cfg;
	struct mesh_tcp_cli cli;
	struct mesh_tcp_dec dec;
	struct tcp_client_stats stats;
	unsigned open_handles;		/* h and tick until their close callbacks */
	bool connected, writing, failed, owner_gone;
	mtime_ns started, last_rx, tx_stuck_since;	/* tx_stuck_since: MTIME_NEVER */
	uint8_t rbuf[16384];
	uint8_t wbuf[16384];
	alignas(8) uint8_t dgram[MESH_TCP_FRAME_MAX];
	struct mesh_tcp_ring ring;	/* last: 64 KiB */
};

static void flush(struct tcp_client *c);

static void on_closed(uv_handle_t *h)
{
	struct tcp_client *c = h->data;

	if (--c->open_handles == 0 && c->owner_gone)
		free(c);
}

static void shut(struct tcp_client *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->h)) {
		uv_read_stop((uv_stream_t *)&c->h);
		uv_close((uv_handle_t *)&c->h, on_closed);
	}
	if (!uv_is_closing((uv_handle_t *)&c->tick))
		uv_close((uv_handle_t *)&c->tick, on_closed);
}

/* Once: tells the owner (unless it is gone), then closes. */
static void fail(struct tcp_client *c, const char *why)
{
	if (c->failed)
		return;
	c->failed = true;
	c->cli.state = MESH_TCP_CLI_FAILED;
	log_info("tcp fallback: connection to the entry lost: %s", why);
	shut(c);
	if (!c->owner_gone)
		c->cfg.state(c->cfg.ctx, TCP_CLIENT_FAILED);
}

/* A libuv callback's status: false when c has failed, before or now. */
static bool status_ok(struct tcp_client *c, int status)
{
	if (!c->failed && status < 0)
		fail(c, uv_strerror(status));
	return !c->failed;
}

static void on_write(uv_write_t *req, int status)
{
	struct tcp_client *c = req->data;

	c->writing = false;
	if (!status_ok(c, status))
		return;
	c->tx_stuck_since = MTIME_NEVER;
	flush(c);
}

/* Queued frames to the socket (tcp_stream.h). */
static void flush(struct tcp_client *c)
{
	bool progress;
	int r;

	if (c->writing || c->failed || !c->connected)
		return;
	r = tcp_stream_flush((uv_stream_t *)&c->h, &c->ring, c->wbuf, sizeof c->wbuf, &c->wreq,
	    on_write, &progress);
	if (r < 0) {
		fail(c, uv_strerror(r));
	} else if (r == TCP_STREAM_WRITING) {
		c->writing = true;
		if (c->tx_stuck_since == MTIME_NEVER)
			c->tx_stuck_since = sched_now();
	}
}

/* A control frame of ours (AUTH, KEEPALIVE): queued like a datagram. */
static void send_ctl(struct tcp_client *c, const uint8_t *p, size_t len)
{
	if (mesh_tcp_ring_push(&c->ring, p, len) == 0) {
		mesh_tcp_cli_on_sent(&c->cli, sched_now());
		flush(c);
	}
}

/* One frame from the entry; false once the connection has failed. */
static bool on_frame(void *ctx, const uint8_t *f, size_t len, mtime_ns now)
{
	struct tcp_client *c = ctx;
	uint8_t out[MESH_TCP_AUTH_FRAME];
	int v = c->cfg.frame(c->cfg.ctx, &c->cli, f, len, now, out);

	switch (v) {
	case MESH_TCP_CLI_SEND_AUTH:
		send_ctl(c, out, sizeof out);
		break;
	case MESH_TCP_CLI_NOW_READY:
		log_info("tcp fallback: the entry accepted us");
		if (!c->owner_gone)
			c->cfg.state(c->cfg.ctx, TCP_CLIENT_READY);
		break;
	case MESH_TCP_CLI_DATAGRAM:
		c->stats.datagrams_in++;
		memcpy(c->dgram, f, len);
		if (!c->owner_gone)
			c->cfg.deliver(c->cfg.ctx, c->dgram, len, now);
		break;
	case MESH_TCP_CLI_IGNORE:
		break;
	default:
		fail(c, v == MESHD_E_TIMEOUT ? "no answer to our AUTH in time" :
		    "the entry refused us or broke the protocol");
	}
	return !c->failed;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tcp_client *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_client *c = s->data;
	mtime_ns now = sched_now();

	if (nread < 0) {
		fail(c, nread == UV_EOF ? "closed by the entry" : uv_strerror((int)nread));
		return;
	}
	if (nread > 0)
		c->last_rx = now;
	if (tcp_stream_feed(&c->dec, (const uint8_t *)buf->base, (size_t)nread, now, on_frame,
	    c) != 0)
		fail(c, "bad framing from the entry");
}

static void on_connect(uv_connect_t *req, int status)
{
	struct tcp_client *c = req->data;

	if (!status_ok(c, status))
		return;
	c->connected = true;
	c->last_rx = sched_now();
	uv_tcp_nodelay(&c->h, 1);
	mesh_tcp_cli_start(&c->cli, c->cfg.mesh_id, c->cfg.server_key, c->cfg.node_id, sched_now());
	if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) != 0)
		fail(c, "cannot read");
}

static void on_tick(uv_timer_t *t)
{
	struct tcp_client *c = t->data;
	mtime_ns now = sched_now();
	uint8_t ka[MESH_TCP_KEEPALIVE_FRAME];

	if (c->failed)
		return;
	if (!c->connected || c->cli.state != MESH_TCP_CLI_READY) {
		if (now - c->started > MSEC(TCP_CLIENT_CONNECT_MS))
			fail(c, c->connected ? "no OK from the entry in time" : "connect timed out");
		return;
	}
	if (now - c->last_rx > MSEC(MESH_TCP_IDLE_MS)) {
		fail(c, "the entry went silent");
		return;
	}
	if (c->tx_stuck_since != MTIME_NEVER && now - c->tx_stuck_since > MSEC(MESH_TCP_STALL_MS)) {
		fail(c, "the entry does not take our data");
		return;
	}
	if (mesh_tcp_cli_handle_expiry(&c->cli, now) == MESH_TCP_CLI_KEEPALIVE_DUE) {
		mesh_tcp_keepalive(ka);
		send_ctl(c, ka, sizeof ka);
	}
}

struct tcp_client *tcp_client_start(const struct tcp_client_cfg *cfg)
{
	struct tcp_client *c;

	if (!cfg->loop || !cfg->frame || !cfg->deliver || !cfg->state) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->tx_stuck_since = MTIME_NEVER;
	c->started = sched_now();
	mesh_tcp_dec_init(&c->dec, MESH_TCP_FRAME_MAX);
	mesh_tcp_ring_init(&c->ring);
	c->cli.state = MESH_TCP_CLI_WAIT_CHALLENGE;
	if (uv_tcp_init(cfg->loop, &c->h) != 0) {
		free(c);
		return NULL;
	}
	c->h.data = c;
	c->open_handles++;
	if (uv_timer_init(cfg->loop, &c->tick) != 0) {
		c->owner_gone = true;	/* nobody to tell: the caller gets NULL */
		uv_close((uv_handle_t *)&c->h, on_closed);
		return NULL;
	}
	c->tick.data = c;
	c->open_handles++;
	c->creq.data = c;
	c->wreq.data = c;
	if (uv_tcp_connect(&c->creq, &c->h, &cfg->entry.sa, on_connect) != 0 ||
	    uv_timer_start(&c->tick, on_tick, TCP_CLIENT_TICK_MS, TCP_CLIENT_TICK_MS) != 0) {
		c->owner_gone = true;
		c->failed = true;
		shut(c);
		errno = ECONNREFUSED;
		return NULL;
	}
	return c;
}

int tcp_client_send(struct tcp_client *c, const uint8_t *p, size_t len)
{
	uint64_t before;
	int r;

	if (c->failed || c->cli.state != MESH_TCP_CLI_READY)
		return MESHD_E_STATE;
	before = c->ring.dropped;
	r = mesh_tcp_ring_push(&c->ring, p, len);
	if (r != 0)
		return r;
	c->stats.datagrams_out++;
	c->stats.dropped_out += c->ring.dropped - before;
	mesh_tcp_cli_on_sent(&c->cli, sched_now());
	flush(c);
	return 0;
}

bool tcp_client_ready(const struct tcp_client *c)
{
	return !c->failed && c->cli.state == MESH_TCP_CLI_READY;
}

void tcp_client_get_stats(const struct tcp_client *c, struct tcp_client_stats *out)
{
	*out = c->stats;
}

void tcp_client_free(struct tcp_client *c)
{
	if (!c)
		return;
	c->owner_gone = true;
	c->failed = true;
	shut(c);
	if (c->open_handles == 0)
		free(c);
}
