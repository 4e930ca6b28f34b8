/* `meshd down`: ask the running node to stop, then wait (bounded) until
 * the process is gone, so that a following `meshd up` finds the port and
 * the interface free.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"

enum {
	DOWN_WAIT_MS = 10000,
	DOWN_POLL_MS = 50,
};

static const char usage_down[] =
	"Usage: meshd down [-d DIR]\n"
	"\n"
	"Stop the running node and wait (up to 10 s) until it has exited.\n"
	"\n"
	CLI_DIR_HELP
	CLI_HELP_HELP;

/* The daemon's pid from DIR/meshd.pid; 0 when unknown. */
static pid_t read_pid(const char *dir)
{
	char path[PATH_MAX], buf[32];
	uint64_t v;
	size_t n;
	FILE *f;

	if (snprintf(path, sizeof path, "%s/meshd.pid", dir) >= (int)sizeof path)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!cli_parse_u64(buf, INT32_MAX, &v) || v < 2)
		return 0;
	return (pid_t)v;
}

static bool stopped(const char *dir, pid_t pid)
{
	if (pid > 0) {
		if (kill(pid, 0) == 0)
			return false;
		if (errno == ESRCH)
			return true;
		/* EPERM: not ours to probe; the socket tells instead */
	}
	return !ctl_running(dir);
}

int cmd_down(int argc, char **argv)
{
	const char *dir = NULL;
	char err[512], *body;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
	};
	const struct cli_cmd cmd = { "down", usage_down, CLI_TABLE(opts), 0, 0, NULL };
	pid_t pid;
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	dir = meshd_state_dir(dir);
	pid = read_pid(dir);	/* before asking: the daemon removes the file */
	r = ctl_request(dir, "down", &body, err, sizeof err);
	if (r < 0 && cli_not_running(err)) {
		fprintf(stderr, "meshd: not running\n");
		return 0;
	}
	if (r != 0)
		return cli_fail("%s", err);
	free(body);
	for (int waited = 0; waited < DOWN_WAIT_MS; waited += DOWN_POLL_MS) {
		if (stopped(dir, pid))
			return 0;
		usleep(DOWN_POLL_MS * 1000);
	}
	if (pid > 0)
		return cli_fail("the daemon (pid %d) did not stop within %d s", (int)pid,
				DOWN_WAIT_MS / 1000);
	return cli_fail("the daemon did not stop within %d s", DOWN_WAIT_MS / 1000);
}
