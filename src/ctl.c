/* The control socket server (protocol: ctl.h; interface: status.h). One
 * request line per connection, answered from the loop; every connection has
 * a fixed request buffer and one timer that bounds its whole life, so a slow
 * or silent client costs a slot and nothing else. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "reqserv.h"
#include "status.h"
#include "unixsock.h"
#include "util/err.h"
#include "util/log.h"

static int sock_path(char *out, size_t len, const char *dir)
{
	int n = snprintf(out, len, "%s/%s", dir, CTL_SOCKET_NAME);

	return n < 0 || (size_t)n >= len ? MESHD_E_RANGE : 0;
}

int ctl_server_check(const char *dir)
{
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];

	if (sock_path(path, sizeof path, dir) != 0)
		return MESHD_E_RANGE;
	return meshd_unixsock_reclaim(path);
}

/* ---- connections (the life cycle: reqserv.c) ---- */

static struct ctl_server *conn_server(const struct reqserv_conn *c)
{
	return container_of(c->srv, struct ctl_server, rs);
}

static void conn_error(struct reqserv_conn *c, const char *msg)
{
	c->out.len = 0;
	sbuf_printf(&c->out, "error: %s\n", msg);
	meshd_reqserv_send(c);
}

static void conn_handle(struct reqserv_conn *c)
{
	struct ctl_server *srv = conn_server(c);
	struct sbuf body = { 0 };
	char err[256] = "";
	enum ctl_answer a;

	a = srv->handler(srv->ctx, c->req, &body, err, sizeof err);
	if (a == CTL_ANSWER_ERROR) {
		conn_error(c, err[0] ? err : "failed");
	} else if (body.oom || body.len > CTL_RESP_MAX) {
		conn_error(c, "answer too large");
	} else {
		sbuf_puts(&c->out, "ok\n");
		if (body.len)
			sbuf_add(&c->out, body.buf, body.len);
		/* "down": stop once the answer is out */
		c->close_after = a == CTL_ANSWER_OK_STOP;
		meshd_reqserv_send(c);
	}
	sbuf_free(&body);
}

static void conn_input(struct reqserv_conn *c)
{
	char *nl = memchr(c->req, '\n', c->len);

	if (!nl) {
		if (c->len >= CTL_REQ_MAX)
			conn_error(c, "request too long");
		return;
	}
	if (memchr(c->req, '\0', (size_t)(nl - c->req))) {
		conn_error(c, "request contains a NUL byte");
		return;
	}
	*nl = '\0';
	if (nl > c->req && nl[-1] == '\r')
		nl[-1] = '\0';
	conn_handle(c);
}

static void conn_truncated(struct reqserv_conn *c)
{
	/* the client closed its side mid-line: it can still read */
	conn_error(c, "request not terminated by a newline");
}

static void conn_timeout(struct reqserv_conn *c)
{
	conn_error(c, "timeout: no request line");
}

static void conn_refused(struct reqserv_conn *c)
{
	/* best effort, never queued: this slot is not ours to hold */
	static const char busy[] = "error: " CTL_ERR_BUSY "\n";
	uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);

	log_ratelimited(LOG_LVL_WARN, "control socket: too many connections");
	(void)uv_try_write(&c->h.stream, &b, 1);
}

static void after_stop_answer(struct reqserv *rs)
{
	struct ctl_server *srv = container_of(rs, struct ctl_server, rs);

	if (srv->stop)
		srv->stop(srv->ctx);
}

static const struct reqserv_proto ctl_proto = {
	.tcp = false,
	/* one byte more than a request may hold: a full buffer means too long */
	.req_max = CTL_REQ_MAX + 1,
	.max_conns = CTL_MAX_CONNS,
	.req_timeout_ms = CTL_TIMEOUT_MS,
	.write_timeout_ms = 0,	/* the timer keeps running: a client that never reads is cut off */
	.input = conn_input,
	.truncated = conn_truncated,
	.timeout = conn_timeout,
	.refused = conn_refused,
	.after_close = after_stop_answer,
};

/* ---- listener ---- */

int ctl_server_start(struct ctl_server *srv, uv_loop_t *loop, const char *dir, ctl_handler_fn *handler,
		     void (*stop)(void *ctx), void *ctx, char *err, size_t errlen)
{
	int r, e;

	memset(srv, 0, sizeof *srv);
	meshd_reqserv_init(&srv->rs, loop, &ctl_proto);
	srv->handler = handler;
	srv->stop = stop;
	srv->ctx = ctx;
	if (sock_path(srv->path, sizeof srv->path, dir) != 0) {
		snprintf(err, errlen, "state directory path too long for a socket: %s", dir);
		return MESHD_E_RANGE;
	}
	r = meshd_reqserv_listen_unix(&srv->rs, srv->path, CTL_MAX_CONNS, &e);
	if (r == MESHD_E_NOMEM) {
		snprintf(err, errlen, "out of memory");
	} else if (r != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->path, uv_strerror(e));
		srv->path[0] = '\0';
		errno = -e;
	}
	return r;
}

void ctl_server_stop(struct ctl_server *srv)
{
	if (meshd_reqserv_stop(&srv->rs))
		unlink(srv->path);
}
