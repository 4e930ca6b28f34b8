/* Background start with a readiness pipe (daemonize.h). Only libc and the
 * log level setter: the callers bring their own start-up and run loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemonize.h"
#include "util/log.h"

/* LOG_LEVEL's values and what each sets; keep = a background daemon keeps
 * its stdout/stderr for the logs. */
static const struct {
	const char *name;
	enum log_level lvl;
	bool keep;
} log_levels[] = {
	{ "error", LOG_LVL_ERROR, true },
	{ "info", LOG_LVL_INFO, true },
	{ "verbose", LOG_LVL_DEBUG, true },
	{ "debug", LOG_LVL_DEBUG, true },
	{ "silent", LOG_LVL_WARN, false },
};

/* The entry for lvl, or -1 for a value none names. */
static int log_level_find(const char *lvl)
{
	for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++)
		if (!strcmp(lvl, log_levels[i].name))
			return (int)i;
	return -1;
}

int daemonize_log_level_check(void)
{
	const char *lvl = getenv("LOG_LEVEL");

	if (!lvl || !*lvl || log_level_find(lvl) >= 0)
		return 0;
	fprintf(stderr, "meshd: invalid LOG_LEVEL '%.40s': use " DAEMONIZE_LOG_LEVELS
		" (or unset it)\n", lvl);
	return 1;
}

bool daemonize_log_level_from_env(void)
{
	const char *lvl = getenv("LOG_LEVEL");
	const char *stamp = getenv("LOG_TIME");
	int i;

	log_set_timestamps(stamp != NULL && strcmp(stamp, "1") == 0);
	log_set_level(LOG_LVL_WARN);	/* quiet by default, as wireguard-go */
	if (!lvl || !*lvl)
		return false;
	i = log_level_find(lvl);
	if (i < 0) {
		/* wireguard-go runs on with its default here, and keeps the
		 * streams (LOG_LEVEL is set and not "silent") */
		fprintf(stderr, "meshd: warning: unknown LOG_LEVEL '%.40s' (use "
			DAEMONIZE_LOG_LEVELS "); logging warnings and errors\n", lvl);
		return true;
	}
	log_set_level(log_levels[i].lvl);
	return log_levels[i].keep;
}

static void detach_stdio(bool keep_logs)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	if (!keep_logs) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	if (fd > STDERR_FILENO)
		close(fd);
}

/* The parent: one byte, or EOF when the child died before writing it. */
static int wait_ready(const char *label, pid_t pid, int rfd)
{
	char c = 1;
	ssize_t n;
	int status;

	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(rfd);
	if (n == 1 && c == 0)
		return 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != 1)
		fprintf(stderr, "meshd: daemon for %s exited during start-up\n", label);
	return 1;
}

int daemonize(const char *label, daemonize_start_fn *start, daemonize_run_fn *run, void *ctx,
	      bool keep_logs)
{
	int pfd[2];
	char c = 1;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "meshd: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);	/* nothing buffered may be written twice */
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "meshd: fork: %s\n", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return 1;
	}
	if (pid > 0) {
		close(pfd[1]);
		return wait_ready(label, pid, pfd[0]);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		_exit(1);
	if (start(ctx) != 0) {
		(void)!write(pfd[1], &c, 1);
		_exit(1);
	}
	detach_stdio(keep_logs);
	c = 0;
	(void)!write(pfd[1], &c, 1);
	close(pfd[1]);
	exit(run(ctx));
}
