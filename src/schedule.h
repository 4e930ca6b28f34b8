/* (Named schedule.h, not sched.h: -I src would shadow the system <sched.h>.) */
/* The only code that reads the clocks and owns a uv_timer_t.
 *
 * A core exposes next_expiry()/handle_expiry(now); struct sched keeps one libuv
 * timer armed at the earliest deadline. Call sched_rearm() after every batch of
 * input to the core (it only touches the timer when the deadline moved).
 */
#ifndef MESHD_SCHEDULE_H
#define MESHD_SCHEDULE_H

#include <uv.h>

#include "util/time.h"

/* CLOCK_MONOTONIC in ns (what the cores call "now"). */
mtime_ns sched_now(void);
/* CLOCK_REALTIME (for TAI64N and "latest handshake"). */
void sched_walltime(struct walltime *out);

typedef mtime_ns sched_next_fn(void *ctx);
typedef void sched_fire_fn(void *ctx, mtime_ns now);

struct sched {
	uv_timer_t timer;
	mtime_ns armed;		/* deadline the timer is armed for, MTIME_NEVER if stopped */
	mtime_ns fired;		/* deadline of the last expiry handled */
	sched_next_fn *next;
	sched_fire_fn *fire;
	void *ctx;
};

/* Returns 0 or MESHD_E_SYS. */
int sched_init(struct sched *s, uv_loop_t *loop, sched_next_fn *next, sched_fire_fn *fire,
	       void *ctx);
/* Re-reads next() and moves the timer if the deadline changed. */
void sched_rearm(struct sched *s);
/* Stops and closes the timer (two-phase close: the loop must run once more). */
void sched_close(struct sched *s);

#endif
