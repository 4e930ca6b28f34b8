/* A small fork-join pool: workers_run() calls fn(arg, i) for every i in
 * [0, n), spread over the calling thread and the pool's threads, and returns
 * when all calls returned. The data path uses it to seal or open a batch of
 * data messages on all cores (wg.h, "Deferred data-message crypto";
 * docs/decisions.md, "All cores").
 *
 * Items are handed out one at a time from a shared atomic word that also
 * names the batch, and the caller takes items too: a worker that comes late
 * finds fewer (or none) left, so a batch never waits for a thread to be
 * scheduled, only for items already started. Threads start on the first
 * batch that wants them (after the daemon has dropped its privileges: Linux
 * capabilities are per thread); between batches each polls the word for
 * WORKERS_LINGER_US (bursts come back to back under load, and waking a
 * sleeping thread costs tens of microseconds on a virtual machine), then
 * sleeps on a condition variable. Before sleeping each
 * runs the pool's `idle` callback (the data path wipes its cipher keys),
 * and `leave` before it ends (the data path frees its cipher contexts).
 *
 * Threads only help when CPUs are idle. When they are not, a worker can be
 * preempted holding an item and the caller must wait for it: so a batch
 * that lost (the caller slept, or no worker came) makes the next ones run
 * alone, for longer while losses repeat (WORKERS_BACKOFF_*); on a machine
 * whose CPUs are all busy the pool stays out of the way.
 *
 * One thread (the owner) calls workers_run(); fn must be safe to run
 * concurrently for different i. */
#ifndef MESHD_WORKERS_H
#define MESHD_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	WORKERS_MAX = 15,	/* threads besides the caller */
	/* After its own items the caller spins this many checks (a few
	 * microseconds: an item is about one) for items workers started. */
	WORKERS_SPIN = 8192,
	/* Batches run alone after a parallel batch that lost: no worker took
	 * an item (the wake-up cost for nothing), or the caller had to sleep
	 * for a worker that holds an item but is not running; doubled while
	 * losses repeat, halved by each batch that gained, capped. */
	WORKERS_BACKOFF_USELESS = 4,
	WORKERS_BACKOFF_SLEPT = 32,
	WORKERS_BACKOFF_MAX = 4096,
	/* A worker polls this long for the next batch before it sleeps. */
	WORKERS_LINGER_US = 100,
	/* Bigger batches run alone (the batch word holds 16-bit counts). */
	WORKERS_BATCH_MAX = 1 << 14,
};

struct workers {
	bool inited;
	unsigned want;			/* threads to run besides the caller */
	unsigned started;		/* threads running */
	bool failed;			/* pthread_create failed: run alone */
	void (*idle)(void);		/* run by a worker before it sleeps */
	void (*leave)(void);		/* run by a worker before it ends */
	pthread_t tid[WORKERS_MAX];
	pthread_mutex_t mu;		/* for sleeping only */
	pthread_cond_t go, done_cv;
	/* the current batch: written by the owner before it publishes the
	 * batch word, read by the threads that take its items */
	void (*fn)(void *arg, unsigned i);
	void *arg;
	uint32_t gen;			/* owner's batch number */
	_Atomic uint64_t word;		/* generation | items | next item (workers.c) */
	atomic_uint finished;		/* items of the batch done */
	atomic_uint sleepers;		/* workers asleep on go */
	atomic_bool quit;
	/* adaptivity (owner thread) */
	unsigned skip, backoff;
	/* statistics (owner thread) */
	unsigned long long batches, parallel_batches, items, useless, slept;
};

/* threads: how many threads work on a batch, the caller included (1: the
 * caller alone, no thread is ever started; capped at WORKERS_MAX + 1). */
void workers_init(struct workers *w, unsigned threads, void (*idle)(void), void (*leave)(void));
/* Stops and joins the threads. A no-op on a zeroed or freed pool. */
void workers_free(struct workers *w);
/* fn(arg, i) for i in [0, n). With fewer than min_parallel items (or one
 * thread) the caller runs them all itself, in order. */
void workers_run(struct workers *w, unsigned n, unsigned min_parallel,
		 void (*fn)(void *arg, unsigned i), void *arg);
/* The number of threads to use by default: the CPUs this process may run on,
 * at most WORKERS_MAX + 1; MESHD_THREADS=N in the environment overrides it
 * (1 = no worker threads). */
unsigned workers_default_threads(void);

#endif
