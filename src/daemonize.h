/* Going to the background once ready, shared by `meshd wg` and the mesh
 * daemon (`meshd up`, `meshd join`).
 *
 * The parent forks and waits on a pipe for one byte from the child: 0 once
 * the child is ready (the parent then returns 0), 1 when its start-up
 * failed (the child has already printed its one-line reason to the shared
 * stderr; the parent reaps it and returns 1). A child that dies without a
 * byte makes the parent print "meshd: daemon for LABEL exited during
 * start-up" and return 1. The ready child starts a new session, has its
 * cwd at /, points stdin (and stdout/stderr unless keep_logs) at /dev/null
 * and exits with what run() returns: it never returns to the caller. */
#ifndef MESHD_DAEMONIZE_H
#define MESHD_DAEMONIZE_H

#include <stdbool.h>

/* In the child: 0 ready, anything else failed (after printing why). */
typedef int daemonize_start_fn(void *ctx);
/* In the ready child: runs until stopped; the return value is the exit code. */
typedef int daemonize_run_fn(void *ctx);

/* Returns, in the parent only, 0 or 1 as above; "meshd: pipe: ..." and
 * "meshd: fork: ..." on stderr when those fail (1). */
int daemonize(const char *label, daemonize_start_fn *start, daemonize_run_fn *run, void *ctx,
	      bool keep_logs);

/* The values LOG_LEVEL takes, for messages and help. */
#define DAEMONIZE_LOG_LEVELS "error, info, verbose, debug or silent"

/* 0 when $LOG_LEVEL is unset, empty or one of DAEMONIZE_LOG_LEVELS; else 1
 * after "meshd: invalid LOG_LEVEL '...': use ..." on stderr. The mesh
 * commands that start a daemon (up, join) call it before they change
 * anything; `meshd wg` does not (it warns instead, as below). */
int daemonize_log_level_check(void);

/* The log level from $LOG_LEVEL (error|info|verbose|debug|silent; default:
 * warnings). An unknown value gets a one-line warning on stderr and the
 * default, as wireguard-go runs on with its default. Returns true when a
 * background daemon should keep its stdout/stderr, which is whenever
 * LOG_LEVEL is set to anything but silent (as wireguard-go). */
bool daemonize_log_level_from_env(void);

#endif
