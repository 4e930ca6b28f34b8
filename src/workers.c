/* The fork-join pool (workers.h). */
#include "config.h"

#include "workers.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

/* The batch word: generation (32 bits) | items (16) | next item (16). One
 * atomic word, so a thread that takes an item learns in the same step which
 * batch it belongs to and how many items that batch has: an item i < n of
 * batch g is not finished, so the owner has not moved on and fn/arg are
 * g's. A take past n changes nothing (next never reaches 2^16: n < 2^15 and
 * each thread overshoots once). */
static uint64_t word(uint32_t gen, unsigned n)
{
	return (uint64_t)gen << 32 | (uint64_t)n << 16;
}

static uint32_t word_gen(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

static unsigned word_n(uint64_t v)
{
	return (unsigned)(v >> 16) & 0xffff;
}

static unsigned word_next(uint64_t v)
{
	return (unsigned)v & 0xffff;
}

/* Items of batch gen until none is left; the last one done wakes the owner
 * if it sleeps. Returns how many this thread did. */
static unsigned take_items(struct workers *w, uint32_t gen)
{
	unsigned mine = 0;

	for (;;) {
		uint64_t v = atomic_load_explicit(&w->word, memory_order_acquire);
		unsigned n = word_n(v);

		if (word_gen(v) != gen || word_next(v) >= n)
			return mine;
		v = atomic_fetch_add_explicit(&w->word, 1, memory_order_acq_rel);
		if (word_gen(v) != gen || word_next(v) >= n)
			return mine;
		w->fn(w->arg, word_next(v));
		mine++;
		/* release: the item's writes are visible to whoever sees the count */
		if (atomic_fetch_add_explicit(&w->finished, 1, memory_order_acq_rel) + 1 == n) {
			pthread_mutex_lock(&w->mu);
			pthread_cond_signal(&w->done_cv);
			pthread_mutex_unlock(&w->mu);
		}
	}
}

static double mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Waits for a batch newer than seen: polls for WORKERS_LINGER_US (bursts
 * come back to back under load, and waking a sleeping thread costs tens of
 * microseconds on a virtual machine), then sleeps. Returns the batch's
 * generation, or seen when the pool quits. */
static uint32_t next_batch(struct workers *w, uint32_t seen)
{
	double until = mono_us() + WORKERS_LINGER_US;
	uint32_t g;

	for (unsigned k = 1;; k++) {
		if ((g = word_gen(atomic_load_explicit(&w->word, memory_order_acquire))) != seen)
			return g;
		if (atomic_load_explicit(&w->quit, memory_order_relaxed))
			return seen;
		cpu_relax();
		if ((k & 63) == 0 && mono_us() > until)
			break;
	}
	if (w->idle)
		w->idle();
	pthread_mutex_lock(&w->mu);
	/* seq_cst with the owner's store of the word and load of sleepers:
	 * either we see its batch or it sees us asleep and broadcasts. */
	atomic_fetch_add(&w->sleepers, 1);
	while ((g = word_gen(atomic_load(&w->word))) == seen && !atomic_load(&w->quit))
		pthread_cond_wait(&w->go, &w->mu);
	atomic_fetch_sub(&w->sleepers, 1);
	pthread_mutex_unlock(&w->mu);
	return g;
}

static void *worker_main(void *p)
{
	struct workers *w = p;
	uint32_t seen = word_gen(atomic_load(&w->word));

	for (;;) {
		uint32_t g = next_batch(w, seen);

		if (g == seen)
			break;	/* quit */
		seen = g;
		take_items(w, g);
	}
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
	atomic_init(&w->word, 0);
	atomic_init(&w->finished, 0);
	atomic_init(&w->sleepers, 0);
	atomic_init(&w->quit, false);
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
	atomic_store(&w->quit, true);
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
	if (w->want == 0 || n < min_parallel || n < 2 || n > WORKERS_BATCH_MAX || w->skip > 0 ||
	    !start(w)) {
		if (w->skip > 0 && n >= min_parallel && n >= 2)
			w->skip--;
		for (unsigned i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	w->parallel_batches++;
	w->fn = fn;
	w->arg = arg;
	w->gen++;
	atomic_store_explicit(&w->finished, 0, memory_order_relaxed);
	/* seq_cst: pairs with a worker going to sleep (next_batch) */
	atomic_store(&w->word, word(w->gen, n));
	if (atomic_load(&w->sleepers) > 0) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_broadcast(&w->go);
		pthread_mutex_unlock(&w->mu);
	}

	mine = take_items(w, w->gen);
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
