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
#include "status.h"
#include "unixsock.h"
#include "util/err.h"
#include "util/log.h"

struct ctl_conn {
	struct list link;
	struct ctl_server *srv;
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sreq;
	char req[CTL_REQ_MAX + 1];
	size_t len;
	struct sbuf out;
	int open_handles;	/* freed when both handles are closed */
	bool answered;
	bool stop_after;	/* "down": stop once the answer is out */
	bool draining;		/* answered; reading to EOF before closing */
	bool closing;
};

static int sock_path(char *out, size_t len, const char *dir)
{
	int n = snprintf(out, len, "%s/%s", dir, CTL_SOCKET_NAME);

	return n < 0 || (size_t)n >= len ? MESHD_E_RANGE : 0;
}

int ctl_server_check(const char *dir)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (sock_path(sun.sun_path, sizeof sun.sun_path, dir) != 0)
		return MESHD_E_RANGE;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return MESHD_E_SYS;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	if (r == 0)
		return MESHD_E_EXIST;
	if (errno == ENOENT)
		return 0;
	if (errno == ECONNREFUSED) {
		/* a socket file nobody listens on: left by a killed daemon */
		if (unlink(sun.sun_path) < 0 && errno != ENOENT)
			return MESHD_E_SYS;
		return 0;
	}
	return MESHD_E_SYS;
}

/* ---- connections ---- */

static void conn_freed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	sbuf_free(&c->out);
	free(c);
}

static void conn_close(struct ctl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	list_remove(&c->link);
	c->srv->nconns--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_freed);
	uv_close((uv_handle_t *)&c->pipe, conn_freed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Closing with unread bytes (the rest of a too-long request) would reset the
 * connection and lose the answer: read to the client's EOF first, within the
 * connection's timer. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct ctl_conn *c = req->data;

	if (c->closing)
		return;
	c->draining = true;
	c->len = 0;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		conn_close(c);
}

static void on_written(uv_write_t *wr, int status)
{
	struct ctl_conn *c = wr->data;
	struct ctl_server *srv = c->srv;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->stop_after) {
		conn_close(c);
		if (srv->stop)
			srv->stop(srv->ctx);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->pipe, on_shutdown) != 0)
		conn_close(c);
}

static void conn_send(struct ctl_conn *c)
{
	uv_buf_t b;

	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (c->out.oom) {
		conn_close(c);
		return;
	}
	b = uv_buf_init(c->out.buf, (unsigned)c->out.len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0)
		conn_close(c);
	/* the timer keeps running: a client that never reads is cut off */
}

static void conn_error(struct ctl_conn *c, const char *msg)
{
	c->out.len = 0;
	sbuf_printf(&c->out, "error: %s\n", msg);
	conn_send(c);
}

static void conn_handle(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
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
		c->stop_after = a == CTL_ANSWER_OK_STOP;
		conn_send(c);
	}
	sbuf_free(&body);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ctl_conn *c = h->data;

	/* one byte more than a request may hold: a full buffer means too long */
	*buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof c->req - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct ctl_conn *c = s->data;
	char *nl;

	if (c->closing)
		return;
	if (c->draining) {
		if (n < 0)
			conn_close(c);
		c->len = 0;	/* discard */
		return;
	}
	if (c->answered)
		return;
	if (n == UV_EOF && c->len > 0) {
		/* the client closed its side mid-line: it can still read */
		conn_error(c, "request not terminated by a newline");
		return;
	}
	if (n < 0) {
		conn_close(c);	/* EOF with nothing sent, or a read error */
		return;
	}
	c->len += (size_t)n;
	nl = memchr(c->req, '\n', c->len);
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

static void on_timeout(uv_timer_t *t)
{
	struct ctl_conn *c = t->data;

	if (!c->answered) {
		conn_error(c, "timeout: no request line");
		return;
	}
	conn_close(c);	/* the client did not read its answer in time */
}

static void on_connection(uv_stream_t *l, int status)
{
	struct ctl_server *srv = l->data;
	struct ctl_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;	/* the connection stays in the backlog until retried */
	c->srv = srv;
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	list_insert_tail(&srv->conns, &c->link);
	srv->nconns++;
	if (uv_accept(l, (uv_stream_t *)&c->pipe) != 0) {
		conn_close(c);
		return;
	}
	if (srv->nconns > CTL_MAX_CONNS) {
		/* best effort, never queued: this slot is not ours to hold */
		static const char busy[] = "error: too many control connections\n";
		uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);

		log_ratelimited(LOG_LVL_WARN, "control socket: too many connections");
		(void)uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, CTL_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		conn_close(c);
}

/* ---- listener ---- */

static void listener_freed(uv_handle_t *h)
{
	free(h);
}

int ctl_server_start(struct ctl_server *srv, uv_loop_t *loop, const char *dir, ctl_handler_fn *handler,
		     void (*stop)(void *ctx), void *ctx, char *err, size_t errlen)
{
	int e;

	memset(srv, 0, sizeof *srv);
	list_init(&srv->conns);
	srv->loop = loop;
	srv->handler = handler;
	srv->stop = stop;
	srv->ctx = ctx;
	if (sock_path(srv->path, sizeof srv->path, dir) != 0) {
		snprintf(err, errlen, "state directory path too long for a socket: %s", dir);
		return MESHD_E_RANGE;
	}
	srv->listener = calloc(1, sizeof *srv->listener);
	if (!srv->listener) {
		snprintf(err, errlen, "out of memory");
		return MESHD_E_NOMEM;
	}
	e = meshd_unixsock_listen(loop, srv->listener, srv, srv->path, CTL_MAX_CONNS,
				  on_connection, listener_freed);
	if (e) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->path, uv_strerror(e));
		srv->listener = NULL;
		srv->path[0] = '\0';
		errno = -e;
		return MESHD_E_SYS;
	}
	srv->listening = true;
	return 0;
}

void ctl_server_stop(struct ctl_server *srv)
{
	struct list *pos, *tmp;

	if (!srv->listening)
		return;
	srv->listening = false;
	unlink(srv->path);
	uv_close((uv_handle_t *)srv->listener, listener_freed);
	srv->listener = NULL;
	list_for_each_safe(pos, tmp, &srv->conns)
		conn_close(container_of(pos, struct ctl_conn, link));
}
