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
};

/* ---- connections (the life cycle: reqserv.c) ---- */

static struct metrics_http *conn_server(const struct reqserv_conn *c)
{
	return container_of(c->srv, struct metrics_http, rs);
}

static void conn_send(struct reqserv_conn *c, int code, const char *ctype, const struct sbuf *body,
		      bool head)
{
	metrics_http_head(&c->out, code, ctype, body ? body->len : 0);
	if (body && !head && body->len)
		sbuf_add(&c->out, body->buf, body->len);
	if (meshd_reqserv_send(c) == 0)
		conn_server(c)->served++;
}

static void conn_error(struct reqserv_conn *c, int code, const char *msg)
{
	struct sbuf body = { 0 };

	sbuf_printf(&body, "%s\n", msg);
	conn_send(c, code, METRICS_CT_TEXT, &body, false);
	sbuf_free(&body);
}

static void conn_handle(struct reqserv_conn *c, const struct metrics_req *rq)
{
	struct metrics_http *srv = conn_server(c);
	struct sbuf body = { 0 };
	const char *ctype = METRICS_CT_TEXT;
	int r;

	if (rq->target == METRICS_T_OTHER) {
		conn_error(c, 404, "not found (try /, /metrics or /status.json)");
		return;
	}
	r = srv->fn(srv->ctx, rq->target, &body, &ctype);
	if (r != 0 || body.oom) {
		sbuf_free(&body);
		conn_error(c, 500, "cannot render the answer");
		return;
	}
	conn_send(c, 200, ctype, &body, rq->head);
	sbuf_free(&body);
}

static void conn_input(struct reqserv_conn *c)
{
	struct metrics_req rq;
	int r;

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

static void conn_truncated(struct reqserv_conn *c)
{
	/* half-closed mid-request: it can still read the refusal */
	conn_error(c, 400, "bad request: incomplete");
}

static void conn_refused(struct reqserv_conn *c)
{
	conn_server(c)->refused++;
	log_ratelimited(LOG_LVL_WARN, "metrics: too many connections");
}

static const struct reqserv_proto metrics_proto = {
	.tcp = true,
	.req_max = METRICS_REQ_MAX,
	.max_conns = METRICS_MAX_CONNS,
	/* a slow client (no complete request yet), or one that does not read
	 * its answer or never closes: it loses its slot, nobody else waits */
	.req_timeout_ms = METRICS_REQ_TIMEOUT_MS,
	.write_timeout_ms = METRICS_WRITE_TIMEOUT_MS,
	.input = conn_input,
	.truncated = conn_truncated,
	.timeout = NULL,	/* close */
	.refused = conn_refused,
};

/* ---- listener ---- */

int metrics_http_start(struct metrics_http *m, uv_loop_t *loop, const union endpoint *ep,
		       metrics_http_fn *fn, void *ctx, char *err, size_t errlen)
{
	int r, e;

	memset(m, 0, sizeof *m);
	meshd_reqserv_init(&m->rs, loop, &metrics_proto);
	m->fn = fn;
	m->ctx = ctx;
	endpoint_format(ep, m->addr, sizeof m->addr);
	r = meshd_reqserv_listen_tcp(&m->rs, ep, METRICS_BACKLOG, &e);
	if (r == MESHD_E_NOMEM) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return MESHD_E_SYS;
	}
	if (r != 0) {
		snprintf(err, errlen, "cannot listen on %s for metrics: %s", m->addr,
			 uv_strerror(e));
		errno = -e;
	}
	return r;
}

void metrics_http_stop(struct metrics_http *m)
{
	(void)meshd_reqserv_stop(&m->rs);
}
