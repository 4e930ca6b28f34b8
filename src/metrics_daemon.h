/* The mesh daemon's side of the metrics listener and of `meshd graph`
 * (src/metrics_daemon.c): collects a struct metrics_snap from the running
 * node and serves it through src/metrics_http.c. Daemon-internal. */
#ifndef MESHD_METRICS_DAEMON_H
#define MESHD_METRICS_DAEMON_H

#include <stddef.h>

#include "status.h"

struct meshd;

/* At start-up, once the TUN has its addresses (so an overlay address can
 * be used): listens where the store's METRICS_SETTING says; nothing when
 * unset. 0, or MESHD_E_* with err filled (a listener that cannot bind
 * fails the start: the address was asked for explicitly). */
int meshd_metrics_start(struct meshd *d, char *err, size_t errlen);
void meshd_metrics_stop(struct meshd *d);

/* Control requests: "set metrics ADDR:PORT|off" (moves the listener, then
 * stores the setting; on failure the old listener stays) and "graph" (the
 * DOT text). */
enum ctl_answer meshd_metrics_ctl_set(struct meshd *d, const char *value, struct sbuf *body,
				      char *err, size_t errlen);
enum ctl_answer meshd_metrics_ctl_graph(struct meshd *d, struct sbuf *body, char *err,
					size_t errlen);

#endif
