/* The metrics listener: a tiny HTTP/1.0-1.1 server on the daemon's libuv
 * loop (requests: metrics.h). One request per connection, answered at once
 * from the loop, then the connection is shut down and closed. Each
 * connection has one fixed buffer (METRICS_REQ_MAX) and one timer bounding
 * the request (METRICS_REQ_TIMEOUT_MS) and then the answer
 * (METRICS_WRITE_TIMEOUT_MS); beyond METRICS_MAX_CONNS a connection is
 * accepted and closed at once. Nothing blocks the loop. */
#ifndef MESHD_METRICS_HTTP_H
#define MESHD_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "metrics.h"
#include "reqserv.h"
#include "util/addr.h"
#include "util/list.h"

/* Renders the body for target t (never METRICS_T_OTHER) into body and
 * sets *content_type; returns 0, or an error code (answered 500). */
typedef int metrics_http_fn(void *ctx, enum metrics_target t, struct sbuf *body,
			    const char **content_type);

struct metrics_http {
	metrics_http_fn *fn;
	void *ctx;
	struct reqserv rs;	/* the listener and the live connections */
	char addr[ENDPOINT_STRLEN];	/* where it listens, for logs */
	unsigned long served, refused;	/* answers sent; connections over the cap */
};

/* Listens on ep (TCP). Returns 0, or MESHD_E_SYS (errno set) with a reason
 * in err. */
int metrics_http_start(struct metrics_http *m, uv_loop_t *loop, const union endpoint *ep,
		       metrics_http_fn *fn, void *ctx, char *err, size_t errlen);
/* Closes the listener and every connection; m may be started again at
 * once. A no-op when not listening. */
void metrics_http_stop(struct metrics_http *m);

#endif
