/* Port mapping in the running daemon: one struct nat_portmap (nat/portmap.h)
 * for the daemon's UDP port, driven on the libuv loop.
 *
 * - A uv_timer fires at nat_portmap_next_expiry().
 * - Each operation from nat_portmap_next_op() runs on the thread pool
 *   (uv_queue_work): the blocking backend call (nat/backend.h) in the work
 *   callback, nat_portmap_op_done() in the after-work callback on the loop
 *   thread. The state machine keeps at most one in flight.
 * - changed(ctx) is called on the loop thread whenever
 *   portmap_run_endpoint()'s answer changes (never after portmap_run_stop()).
 *
 * Stopping: portmap_run_stop() asks the state machine to stop, which runs
 * one DELETE for a held mapping (after the operation in flight, if any, has
 * finished), bounded by PORTMAP_RUN_STOP_MS; then the timer is closed and
 * done(ctx) is called. The loop stays alive until then (the timer handle is
 * open). A work item still running at the deadline cannot be cancelled: it
 * is detached (it owns the backend from then on and frees it and itself in
 * its after-work callback, which never touches struct portmap_run again),
 * and uv_run() returns only after it has finished. So struct portmap_run
 * may be freed once done has been called.
 *
 * Environment: MESHD_PORTMAP=0 disables port mapping (start does nothing
 * but log; stop calls done at once).
 */
#ifndef MESHD_PORTMAP_RUN_H
#define MESHD_PORTMAP_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "nat/portmap.h"
#include "util/addr.h"

enum {
	PORTMAP_RUN_STOP_MS = 3000,	/* bound on the DELETE at shutdown */
};

struct portmap_work;
struct nat_pm_backend;

struct portmap_run {
	uv_loop_t *loop;
	struct nat_portmap pm;
	struct nat_pm_backend *backend;
	struct portmap_work *work;	/* in flight, or NULL */
	uv_timer_t timer;
	bool on;			/* started; timer open */
	bool stopping;
	bool held;			/* last logged: a mapping is held */
	union endpoint ext;		/* last logged mapping */
	uint64_t seen;			/* nat_portmap_changed() last seen */
	mtime_ns stop_deadline;
	void (*changed)(void *ctx);
	void (*done)(void *ctx);
	void *ctx;
};

/* Starts mapping UDP port on the gateway. Returns 0 (also when disabled by
 * MESHD_PORTMAP=0), MESHD_E_INVAL (port 0), MESHD_E_NOMEM or MESHD_E_SYS. */
int portmap_run_start(struct portmap_run *pr, uv_loop_t *loop, uint16_t port,
		      void (*changed)(void *ctx), void *ctx);

/* True, with the external endpoint (AF_INET), while a mapping is held. */
bool portmap_run_endpoint(const struct portmap_run *pr, union endpoint *out);

/* Local addresses or routes changed: forget the gateway, map again. */
void portmap_run_network_changed(struct portmap_run *pr);

/* Deletes the mapping (bounded) and closes the timer, then calls done(ctx)
 * (may be NULL). When nothing runs (never started, disabled, already
 * stopped), done is called before this returns. */
void portmap_run_stop(struct portmap_run *pr, void (*done)(void *ctx));

#endif
