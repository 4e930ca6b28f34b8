/* One-request stream servers on the loop, shared by the control socket
 * (ctl.c, a Unix socket) and the metrics listener (metrics_http.c, TCP):
 * accept, read one request into a fixed per-connection buffer, answer it,
 * shut down, read to the client's EOF, close. One timer bounds each
 * connection's life, so a slow or silent client costs a slot and nothing
 * else; beyond the cap a connection is accepted and closed at once. The
 * protocol (parsing, answers, refusals) stays with the caller. */
#ifndef MESHD_REQSERV_H
#define MESHD_REQSERV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sbuf.h"
#include "util/addr.h"
#include "util/list.h"

struct reqserv;
struct reqserv_conn;

/* What differs between the protocols; static and constant. */
struct reqserv_proto {
	bool tcp;		  /* uv_tcp_t connections (TCP_NODELAY), else uv_pipe_t */
	size_t req_max;		  /* request buffer: bytes one connection may send */
	unsigned max_conns;
	uint64_t req_timeout_ms;  /* from accept to the end of the answer */
	uint64_t write_timeout_ms; /* restarted at the answer; 0: keep the first */
	/* Bytes arrived: c->req[0, c->len) is the request so far. Answer it
	 * with meshd_reqserv_send(), or return to wait for more. */
	void (*input)(struct reqserv_conn *c);
	/* The client closed its side mid-request (c->len > 0); it can still
	 * read a refusal. */
	void (*truncated)(struct reqserv_conn *c);
	/* The timer ran out before an answer; NULL just closes. */
	void (*timeout)(struct reqserv_conn *c);
	/* A connection over max_conns, accepted; it is closed right after. */
	void (*refused)(struct reqserv_conn *c);
	/* An answer sent with c->close_after is written and c closed. */
	void (*after_close)(struct reqserv *rs);
};

struct reqserv {
	uv_loop_t *loop;
	const struct reqserv_proto *proto;
	uv_handle_t *listener;	/* heap, closed asynchronously; NULL: not listening */
	unsigned nconns;
	struct list conns;	/* live connections */
};

struct reqserv_conn {
	struct list link;
	struct reqserv *srv;
	union {
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sreq;
	struct sbuf out;	/* the answer, written by meshd_reqserv_send() */
	size_t len;		/* bytes in req */
	int open_handles;	/* freed when both handles are closed */
	bool answered;
	bool close_after;	/* close once written, then proto->after_close */
	bool draining;		/* answered; reading to EOF before closing */
	bool closing;
	char req[];		/* proto->req_max bytes */
};

void meshd_reqserv_init(struct reqserv *rs, uv_loop_t *loop, const struct reqserv_proto *proto);
/* Listens with backlog on a new heap listener, a Unix socket at path (made
 * as meshd_unixsock_listen does) or TCP on ep (v6: v6 only), which becomes
 * rs->listener. Returns 0; MESHD_E_NOMEM (no memory for the handle);
 * MESHD_E_SYS with the libuv error in *uv_err (the handle is closed, the
 * socket file removed). */
int meshd_reqserv_listen_unix(struct reqserv *rs, const char *path, int backlog, int *uv_err);
int meshd_reqserv_listen_tcp(struct reqserv *rs, const union endpoint *ep, int backlog,
			     int *uv_err);
/* Stops reading and writes c->out (closes c instead when it is out of
 * memory: returns MESHD_E_NOMEM then, else 0). */
int meshd_reqserv_send(struct reqserv_conn *c);
void meshd_reqserv_close(struct reqserv_conn *c);
/* Closes rs->listener (freed once closed) and every connection, and sets
 * it to NULL. Returns false, doing nothing, when it was not listening. */
bool meshd_reqserv_stop(struct reqserv *rs);

#endif
