/* The fork-join pool (workers.h). */
#include "config.h"

#include "workers.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Items of the current batch until none is left; the last one done wakes
 * the owner if it sleeps. */
static unsigned take_items(struct workers *w, void (*fn)(void *, unsigned), void *arg, unsigned n)
{
	unsigned i, mine = 0;

	while ((i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed)) < n) {
		fn(arg, i);
		/* release: the item's writes are visible to whoever sees the count */
		if (atomic_fetch_add_explicit(&w->finished, 1, memory_order_acq_rel) + 1 == n) {
			pthread_mutex_lock(&w->mu);
			pthread_cond_signal(&w->done_cv);
			pthread_mutex_unlock(&w->mu);
		}
		mine++;
	}
	return mine;
}

static void *worker_main(void *p)
{
	struct workers *w = p;
	unsigned long seen = 0;

	pthread_mutex_lock(&w->mu);
	seen = w->gen;
	for (;;) {
		void (*fn)(void *, unsigned);
		void *arg;
		unsigned n;

		while (w->gen == seen && !w->quit)
			pthread_cond_wait(&w->go, &w->mu);
		if (w->quit)
			break;
		seen = w->gen;
		fn = w->fn;
		arg = w->arg;
		n = w->n;
		w->joined++;
		pthread_mutex_unlock(&w->mu);

		take_items(w, fn, arg, n);
		if (w->idle)
			w->idle();

		pthread_mutex_lock(&w->mu);
		if (--w->joined == 0)
			pthread_cond_signal(&w->done_cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (w->leave)
		w->leave();
	return NULL;
}

void workers_init(struct workers *w, unsigned threads, void (*idle)(void), void (*leave)(void))
{
	memset(w, 0, sizeof *w);
	w->inited = true;
	if (threads > WORKERS_MAX + 1)
		threads = WORKERS_MAX + 1;
	w->want = threads > 1 ? threads - 1 : 0;
	w->idle = idle;
	w->leave = leave;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->go, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	atomic_init(&w->next, 0);
	atomic_init(&w->finished, 0);
}

/* Starts the threads (first parallel batch). False: run alone. */
static bool start(struct workers *w)
{
	if (w->started == w->want)
		return w->started > 0;
	if (w->failed)
		return false;
	sigset_t all, old;

	/* Workers take no signals: the event loop's thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (w->started < w->want) {
		int e = pthread_create(&w->tid[w->started], NULL, worker_main, w);

		if (e != 0) {
			log_warn("cannot start a crypto worker thread (%s): %u running",
				 strerror(e), w->started);
			w->failed = true;
			w->want = w->started;
			break;
		}
		w->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w->started > 0;
}

void workers_free(struct workers *w)
{
	if (!w->inited)
		return;
	w->inited = false;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->go);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->started; i++)
		pthread_join(w->tid[i], NULL);
	w->started = 0;
	pthread_cond_destroy(&w->done_cv);
	pthread_cond_destroy(&w->go);
	pthread_mutex_destroy(&w->mu);
}

/* The next `skip` batches run alone: at least `first`, doubling while the
 * losses go on, at most WORKERS_BACKOFF_MAX. */
static void backoff(struct workers *w, unsigned first)
{
	w->backoff = w->backoff ? w->backoff * 2 : first;
	if (w->backoff < first)
		w->backoff = first;
	if (w->backoff > WORKERS_BACKOFF_MAX)
		w->backoff = WORKERS_BACKOFF_MAX;
	w->skip = w->backoff;
}

void workers_run(struct workers *w, unsigned n, unsigned min_parallel,
		 void (*fn)(void *arg, unsigned i), void *arg)
{
	unsigned mine;

	w->batches++;
	w->items += n;
	if (n == 0)
		return;
	if (w->want == 0 || n < min_parallel || n < 2 || w->skip > 0 || !start(w)) {
		if (w->skip > 0 && n >= min_parallel && n >= 2)
			w->skip--;
		for (unsigned i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	w->parallel_batches++;
	pthread_mutex_lock(&w->mu);
	/* Workers still inside the last batch may be about to take from its
	 * counter: wait until they left (they are done with its items). */
	while (w->joined > 0)
		pthread_cond_wait(&w->done_cv, &w->mu);
	w->fn = fn;
	w->arg = arg;
	w->n = n;
	atomic_store_explicit(&w->next, 0, memory_order_relaxed);
	atomic_store_explicit(&w->finished, 0, memory_order_relaxed);
	w->gen++;
	pthread_cond_broadcast(&w->go);
	pthread_mutex_unlock(&w->mu);

	mine = take_items(w, fn, arg, n);
	/* Items that workers started: spin a little (they are short), then sleep. */
	for (unsigned spin = 0; spin < WORKERS_SPIN; spin++)
		if (atomic_load_explicit(&w->finished, memory_order_acquire) == n) {
			if (mine == n) {
				/* no worker came in time: the wake-up was wasted */
				w->useless++;
				backoff(w, WORKERS_BACKOFF_USELESS);
			} else {
				w->backoff /= 2;
			}
			return;
		}
	/* A worker holds an item but is not running (the CPUs are taken by
	 * others): this batch took longer than doing it alone. Stay alone for
	 * a while, longer each time it happens again. */
	w->slept++;
	backoff(w, WORKERS_BACKOFF_SLEPT);
	pthread_mutex_lock(&w->mu);
	while (atomic_load_explicit(&w->finished, memory_order_acquire) != n)
		pthread_cond_wait(&w->done_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

unsigned workers_default_threads(void)
{
	const char *env = getenv("MESHD_THREADS");
	cpu_set_t set;
	int n = 0;

	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (*end == '\0' && v >= 1)
			return v > WORKERS_MAX + 1 ? WORKERS_MAX + 1 : (unsigned)v;
		log_warn("MESHD_THREADS='%s' is not a number >= 1: ignored", env);
	}
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	return n > WORKERS_MAX + 1 ? WORKERS_MAX + 1 : (unsigned)n;
}
