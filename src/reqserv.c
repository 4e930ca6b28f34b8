/* One-request stream servers (reqserv.h): the connection life cycle that
 * the control socket and the metrics listener share. */
#include "config.h"

#include <stdlib.h>

#include "reqserv.h"
#include "unixsock.h"
#include "util/err.h"

enum {
	REQSERV_DRAIN_BUF = 512,
};

static void conn_freed(uv_handle_t *h)
{
	struct reqserv_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	sbuf_free(&c->out);
	free(c);
}

void meshd_reqserv_close(struct reqserv_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	list_remove(&c->link);
	c->srv->nconns--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_freed);
	uv_close((uv_handle_t *)&c->h.stream, conn_freed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char drain[REQSERV_DRAIN_BUF];	/* discarded bytes; one thread */
	struct reqserv_conn *c = h->data;

	(void)hint;
	if (c->draining)
		*buf = uv_buf_init(drain, sizeof drain);
	else
		*buf = uv_buf_init(c->req + c->len, (unsigned)(c->srv->proto->req_max - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct reqserv_conn *c = s->data;

	(void)buf;
	if (c->closing)
		return;
	if (c->draining) {
		if (n < 0)
			meshd_reqserv_close(c);
		return;
	}
	if (c->answered)
		return;
	if (n == UV_EOF && c->len > 0) {
		c->srv->proto->truncated(c);
		return;
	}
	if (n < 0) {
		meshd_reqserv_close(c);	/* EOF with nothing sent, or a read error */
		return;
	}
	c->len += (size_t)n;
	c->srv->proto->input(c);
}

/* Closing with unread bytes (the rest of a too-long request) would reset the
 * connection and could destroy the answer in flight: read to the client's
 * EOF first, within the connection's timer. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct reqserv_conn *c = req->data;

	if (c->closing)
		return;
	c->draining = true;
	if (status < 0 || uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
		meshd_reqserv_close(c);
}

static void on_written(uv_write_t *wr, int status)
{
	struct reqserv_conn *c = wr->data;
	struct reqserv *rs = c->srv;

	if (c->closing)
		return;
	if (status < 0) {
		meshd_reqserv_close(c);
		return;
	}
	if (c->close_after) {
		meshd_reqserv_close(c);
		if (rs->proto->after_close)
			rs->proto->after_close(rs);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, &c->h.stream, on_shutdown) != 0)
		meshd_reqserv_close(c);
}

static void on_timeout(uv_timer_t *t)
{
	struct reqserv_conn *c = t->data;

	if (!c->answered && c->srv->proto->timeout) {
		c->srv->proto->timeout(c);
		return;
	}
	/* a client that does not read its answer or never closes: it loses
	 * its slot, nobody else waits */
	meshd_reqserv_close(c);
}

int meshd_reqserv_send(struct reqserv_conn *c)
{
	const struct reqserv_proto *p = c->srv->proto;
	uv_buf_t b;

	c->answered = true;
	uv_read_stop(&c->h.stream);
	if (c->out.oom) {
		meshd_reqserv_close(c);
		return MESHD_E_NOMEM;
	}
	/* without a write timeout the first timer keeps running: a client
	 * that never reads is cut off all the same */
	if (p->write_timeout_ms)
		uv_timer_start(&c->timer, on_timeout, p->write_timeout_ms, 0);
	b = uv_buf_init(c->out.buf, (unsigned)c->out.len);
	c->wr.data = c;
	if (uv_write(&c->wr, &c->h.stream, &b, 1, on_written) != 0)
		meshd_reqserv_close(c);
	return 0;
}

/* The listener's connection callback; the listener's data is rs. */
static void on_connection(uv_stream_t *l, int status)
{
	struct reqserv *rs = l->data;
	const struct reqserv_proto *p = rs->proto;
	struct reqserv_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c + p->req_max);
	if (!c)
		return;	/* the connection stays in the backlog until retried */
	c->srv = rs;
	if (p->tcp)
		uv_tcp_init(rs->loop, &c->h.tcp);
	else
		uv_pipe_init(rs->loop, &c->h.pipe, 0);
	c->h.stream.data = c;
	uv_timer_init(rs->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	list_insert_tail(&rs->conns, &c->link);
	rs->nconns++;
	if (uv_accept(l, &c->h.stream) != 0) {
		meshd_reqserv_close(c);
		return;
	}
	if (rs->nconns > p->max_conns) {
		p->refused(c);
		meshd_reqserv_close(c);
		return;
	}
	if (p->tcp)
		uv_tcp_nodelay(&c->h.tcp, 1);
	uv_timer_start(&c->timer, on_timeout, p->req_timeout_ms, 0);
	if (uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
		meshd_reqserv_close(c);
}

/* A close callback that frees a heap listener. */
static void listener_freed(uv_handle_t *h)
{
	free(h);
}

void meshd_reqserv_init(struct reqserv *rs, uv_loop_t *loop, const struct reqserv_proto *proto)
{
	rs->loop = loop;
	rs->proto = proto;
	rs->listener = NULL;
	rs->nconns = 0;
	list_init(&rs->conns);
}

int meshd_reqserv_listen_unix(struct reqserv *rs, const char *path, int backlog, int *uv_err)
{
	uv_pipe_t *p = calloc(1, sizeof *p);

	if (p == NULL)
		return MESHD_E_NOMEM;
	*uv_err = meshd_unixsock_listen(rs->loop, p, rs, path, backlog, on_connection,
					listener_freed);
	if (*uv_err)
		return MESHD_E_SYS;
	rs->listener = (uv_handle_t *)p;
	return 0;
}

int meshd_reqserv_listen_tcp(struct reqserv *rs, const union endpoint *ep, int backlog,
			     int *uv_err)
{
	uv_tcp_t *t = calloc(1, sizeof *t);
	int e;

	if (t == NULL)
		return MESHD_E_NOMEM;
	uv_tcp_init(rs->loop, t);
	t->data = rs;
	e = uv_tcp_bind(t, &ep->sa, ep->sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (e == 0)
		e = uv_listen((uv_stream_t *)t, backlog, on_connection);
	if ((*uv_err = e) != 0) {
		uv_close((uv_handle_t *)t, listener_freed);
		return MESHD_E_SYS;
	}
	rs->listener = (uv_handle_t *)t;
	return 0;
}

bool meshd_reqserv_stop(struct reqserv *rs)
{
	struct list *pos, *tmp;

	if (rs->listener == NULL)
		return false;
	uv_close(rs->listener, listener_freed);
	rs->listener = NULL;
	list_for_each_safe(pos, tmp, &rs->conns)
		meshd_reqserv_close(container_of(pos, struct reqserv_conn, link));
	return true;
}
