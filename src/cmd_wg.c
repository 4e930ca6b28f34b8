/* `meshd wg [-f] IFNAME`: plain WireGuard, like `wireguard-go [-f] IFNAME`.
 *
 * Without -f the process forks: the child sets everything up and reports back
 * through a pipe (one byte: 0 ready, 1 failed; its error line has already gone
 * to the shared stderr); the parent exits 0 or 1 accordingly. The ready child
 * then detaches its stdio (kept when LOG_LEVEL asks for logs, as wireguard-go).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tun.h"
#include "wgdev.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: meshd wg [-f|--foreground] IFNAME\n"
		"\n"
		"Run a plain WireGuard interface, like wireguard-go: create the TUN device\n"
		"IFNAME and serve the userspace API on " UAPI_SOCKET_DIR "/IFNAME.sock, so\n"
		"that wg(8) configures it. Bring it up with `ip link set IFNAME up`.\n"
		"\n"
		"  -f, --foreground  stay in the foreground (default: daemonize once ready)\n"
		"  -h, --help        show this help\n"
		"\n"
		"Environment: LOG_LEVEL=error|info|verbose|debug|silent (default: warnings;\n"
		"a daemon keeps stdout/stderr only when LOG_LEVEL is set).\n");
}

/* Returns true when logs should stay on stderr in the background. */
static bool setup_logging(void)
{
	const char *lvl = getenv("LOG_LEVEL");

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

static int start(struct wgdev *dev, const char *ifname)
{
	char err[512];

	if (wgdev_start(dev, ifname, err, sizeof err) != 0) {
		fprintf(stderr, "meshd: %s\n", err);
		return 1;
	}
	return 0;
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

static int run_background(struct wgdev *dev, const char *ifname, bool keep_logs)
{
	int pfd[2], status;
	char c = 1;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "meshd: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "meshd: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid > 0) {
		close(pfd[1]);
		do
			n = read(pfd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		close(pfd[0]);
		if (n == 1 && c == 0)
			return 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (n != 1)
			fprintf(stderr, "meshd: daemon for '%s' exited during start-up\n", ifname);
		return 1;
	}
	/* child */
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		_exit(1);
	if (start(dev, ifname) != 0) {
		c = 1;
		(void)!write(pfd[1], &c, 1);
		_exit(1);
	}
	detach_stdio(keep_logs);
	c = 0;
	(void)!write(pfd[1], &c, 1);
	close(pfd[1]);
	exit(wgdev_run(dev));
}

int cmd_wg(int argc, char **argv)
{
	static struct wgdev dev;	/* large (burst buffers' descriptors); zeroed */
	bool foreground = false, keep_logs;
	const char *ifname = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
			foreground = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--")) {
			if (i + 1 < argc && !ifname)
				ifname = argv[++i];
			if (i + 1 < argc)
				goto usage_err;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "meshd wg: unknown option '%s'\n", a);
			goto usage_err;
		} else if (!ifname) {
			ifname = a;
		} else {
			fprintf(stderr, "meshd wg: unexpected argument '%s'\n", a);
			goto usage_err;
		}
	}
	if (!ifname) {
		fprintf(stderr, "meshd wg: missing interface name\n");
		goto usage_err;
	}
	if (!tun_name_valid(ifname)) {
		fprintf(stderr, "meshd: invalid interface name '%s': use 1-15 characters, "
			"no '/', ':' or whitespace\n", ifname);
		return 1;
	}

	keep_logs = setup_logging();
	log_set_tag(ifname);
	signal(SIGPIPE, SIG_IGN);

	if (!foreground)
		return run_background(&dev, ifname, keep_logs);
	if (start(&dev, ifname) != 0)
		return 1;
	return wgdev_run(&dev);

usage_err:
	fprintf(stderr, "Usage: meshd wg [-f|--foreground] IFNAME (see 'meshd wg --help')\n");
	return 2;
}
