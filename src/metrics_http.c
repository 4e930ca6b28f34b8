/* The metrics listener (metrics_http.h): accept, read one request into a
 * fixed buffer, answer it, shut down, drain to the client's EOF, close. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"
#include "util/err.h"
#include "util/log.h"

enum {
	METRICS_BACKLOG = 32,
	METRICS_DRAIN_BUF = 512,
};

struct metrics_conn {
	struct list link;
	struct metrics_http *srv;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sreq;
	char req[METRICS_REQ_MAX];
	size_t len;
	struct sbuf out;
	int open_handles;	/* freed when both handles are closed */
	bool answered;
	bool draining;		/* answered; reading to EOF before closing */
	bool closing;
};

static void conn_freed(uv_handle_t *h)
{
	struct metrics_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	sbuf_free(&c->out);
	free(c);
}

static void conn_close(struct metrics_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	list_remove(&c->link);
	c->srv->nconns--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_freed);
	uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Closing with unread bytes would reset the connection and could destroy
 * the answer in flight: read to the client's EOF first, within the timer. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct metrics_conn *c = req->data;

	if (c->closing)
		return;
	c->draining = true;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

static void on_written(uv_write_t *wr, int status)
{
	struct metrics_conn *c = wr->data;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		conn_close(c);
}

static void on_timeout(uv_timer_t *t)
{
	/* a slow client (no complete request yet), or one that does not read
	 * its answer or never closes: it loses its slot, nobody else waits */
	conn_close(t->data);
}

static void conn_send(struct metrics_conn *c, int code, const char *ctype, const struct sbuf *body,
		      bool head)
{
	uv_buf_t b;

	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	metrics_http_head(&c->out, code, ctype, body ? body->len : 0);
	if (body && !head && body->len)
		sbuf_add(&c->out, body->buf, body->len);
	if (c->out.oom) {
		conn_close(c);
		return;
	}
	c->srv->served++;
	uv_timer_start(&c->timer, on_timeout, METRICS_WRITE_TIMEOUT_MS, 0);
	b = uv_buf_init(c->out.buf, (unsigned)c->out.len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
		conn_close(c);
}

static void conn_error(struct metrics_conn *c, int code, const char *msg)
{
	struct sbuf body = { 0 };

	sbuf_printf(&body, "%s\n", msg);
	conn_send(c, code, METRICS_CT_TEXT, &body, false);
	sbuf_free(&body);
}

static void conn_handle(struct metrics_conn *c, const struct metrics_req *rq)
{
	struct sbuf body = { 0 };
	const char *ctype = METRICS_CT_TEXT;
	int r;

	if (rq->target == METRICS_T_OTHER) {
		conn_error(c, 404, "not found (try /, /metrics or /status.json)");
		return;
	}
	r = c->srv->fn(c->srv->ctx, rq->target, &body, &ctype);
	if (r != 0 || body.oom) {
		sbuf_free(&body);
		conn_error(c, 500, "cannot render the answer");
		return;
	}
	conn_send(c, 200, ctype, &body, rq->head);
	sbuf_free(&body);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char drain[METRICS_DRAIN_BUF];	/* discarded bytes; one thread */
	struct metrics_conn *c = h->data;

	(void)hint;
	if (c->draining)
		*buf = uv_buf_init(drain, sizeof drain);
	else
		*buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof c->req - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct metrics_conn *c = s->data;
	struct metrics_req rq;
	int r;

	(void)buf;
	if (c->closing)
		return;
	if (c->draining) {
		if (n < 0)
			conn_close(c);
		return;
	}
	if (c->answered)
		return;
	if (n == UV_EOF && c->len > 0) {
		/* half-closed mid-request: it can still read the refusal */
		conn_error(c, 400, "bad request: incomplete");
		return;
	}
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	r = metrics_req_parse(c->req, c->len, &rq);
	if (r == MESHD_E_AGAIN)
		return;
	if (r != 0) {
		log_ratelimited(LOG_LVL_DEBUG, "metrics: bad request (%s)", meshd_strerror(r));
		conn_error(c, 400, r == MESHD_E_RANGE ? "bad request: too large" : "bad request");
		return;
	}
	conn_handle(c, &rq);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct metrics_http *srv = l->data;
	struct metrics_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;	/* stays in the backlog until retried */
	c->srv = srv;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	list_insert_tail(&srv->conns, &c->link);
	srv->nconns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	if (srv->nconns > METRICS_MAX_CONNS) {
		srv->refused++;
		log_ratelimited(LOG_LVL_WARN, "metrics: too many connections");
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_start(&c->timer, on_timeout, METRICS_REQ_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

static void listener_freed(uv_handle_t *h)
{
	free(h);
}

int metrics_http_start(struct metrics_http *m, uv_loop_t *loop, const union endpoint *ep,
		       metrics_http_fn *fn, void *ctx, char *err, size_t errlen)
{
	int e;

	memset(m, 0, sizeof *m);
	list_init(&m->conns);
	m->loop = loop;
	m->fn = fn;
	m->ctx = ctx;
	endpoint_format(ep, m->addr, sizeof m->addr);
	m->listener = calloc(1, sizeof *m->listener);
	if (!m->listener) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return MESHD_E_SYS;
	}
	uv_tcp_init(loop, m->listener);
	m->listener->data = m;
	e = uv_tcp_bind(m->listener, &ep->sa, ep->sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (e == 0)
		e = uv_listen((uv_stream_t *)m->listener, METRICS_BACKLOG, on_connection);
	if (e) {
		snprintf(err, errlen, "cannot listen on %s for metrics: %s", m->addr,
			 uv_strerror(e));
		uv_close((uv_handle_t *)m->listener, listener_freed);
		m->listener = NULL;
		errno = -e;
		return MESHD_E_SYS;
	}
	m->listening = true;
	return 0;
}

void metrics_http_stop(struct metrics_http *m)
{
	struct list *pos, *tmp;

	if (!m->listening)
		return;
	m->listening = false;
	uv_close((uv_handle_t *)m->listener, listener_freed);
	m->listener = NULL;
	list_for_each_safe(pos, tmp, &m->conns)
		conn_close(container_of(pos, struct metrics_conn, link));
}
