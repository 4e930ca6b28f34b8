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

bool daemonize_log_level_from_env(void)
{
	const char *lvl = getenv("LOG_LEVEL");
	const char *stamp = getenv("LOG_TIME");

	log_set_timestamps(stamp != NULL && strcmp(stamp, "1") == 0);
	log_set_level(LOG_LVL_WARN);	/* quiet by default, as wireguard-go */
	if (!lvl || !*lvl)
		return false;
	if (!strcmp(lvl, "verbose") || !strcmp(lvl, "debug"))
		log_set_level(LOG_LVL_DEBUG);
	else if (!strcmp(lvl, "info"))
		log_set_level(LOG_LVL_INFO);
	else if (!strcmp(lvl, "error"))
		log_set_level(LOG_LVL_ERROR);
	else if (!strcmp(lvl, "silent"))
		return false;
	return true;
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
