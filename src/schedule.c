#include "config.h"

#include <errno.h>
#include <time.h>

#include "schedule.h"
#include "util/err.h"

/* CLOCK_BOOTTIME, not CLOCK_MONOTONIC: it keeps counting while the machine is
 * suspended, so session keys age across a suspend as they do in the kernel
 * (a laptop that wakes after an hour must not keep using an hour-old keypair
 * its peer has long rejected). libuv's timers run on the monotonic clock, but
 * only the delay until the next deadline is handed to them, and a deadline
 * passed during a suspend simply fires at once on resume. */
mtime_ns sched_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return SEC(ts.tv_sec) + (mtime_ns)ts.tv_nsec;
}

void sched_walltime(struct walltime *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	out->sec = (uint64_t)ts.tv_sec;
	out->nsec = (uint32_t)ts.tv_nsec;
}

static void on_timer(uv_timer_t *t)
{
	struct sched *s = t->data;

	s->fired = s->armed;
	s->armed = MTIME_NEVER;
	s->fire(s->ctx, sched_now());
	sched_rearm(s);
}

int sched_init(struct sched *s, uv_loop_t *loop, sched_next_fn *next, sched_fire_fn *fire,
	       void *ctx)
{
	int e = uv_timer_init(loop, &s->timer);

	if (e) {
		errno = -e;
		return MESHD_E_SYS;
	}
	s->timer.data = s;
	s->armed = s->fired = MTIME_NEVER;
	s->next = next;
	s->fire = fire;
	s->ctx = ctx;
	return 0;
}

void sched_rearm(struct sched *s)
{
	mtime_ns when = s->next(s->ctx), now;
	uint64_t ms;

	if (when == s->armed)
		return;
	s->armed = when;
	if (when == MTIME_NEVER) {
		uv_timer_stop(&s->timer);
		return;
	}
	now = sched_now();
	/* Round up: firing early only costs a wasted wake-up and a re-arm. */
	ms = when > now ? (when - now + MSEC(1) - 1) / MSEC(1) : 0;
	/* A deadline that stays in the past after its handler ran must not spin. */
	if (ms == 0 && when == s->fired)
		ms = 1;
	/* libuv counts from its cached loop time, which may lag: correct for it. */
	uv_update_time(s->timer.loop);
	uv_timer_start(&s->timer, on_timer, ms, 0);
}

void sched_close(struct sched *s)
{
	uv_timer_stop(&s->timer);
	s->armed = MTIME_NEVER;
	uv_close((uv_handle_t *)&s->timer, NULL);
}
