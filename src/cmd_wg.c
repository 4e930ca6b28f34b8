/* `meshd wg [-f] IFNAME`: plain WireGuard, like `wireguard-go [-f] IFNAME`.
 *
 * Without -f the process forks: the child sets everything up and reports back
 * through a pipe (one byte: 0 ready, 1 failed; its error line has already gone
 * to the shared stderr); the parent exits 0 or 1 accordingly. The ready child
 * then detaches its stdio (kept when LOG_LEVEL asks for logs, as wireguard-go).
 */
#include "config.h"

#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "privs.h"
#include "tun.h"
#include "uapi.h"
#include "wgdev.h"
#include "daemonize.h"
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
		"Environment: LOG_LEVEL=error|info|verbose|debug|silent (default, and for\n"
		"any other value after a warning: warnings; a daemon keeps stdout/stderr\n"
		"only when LOG_LEVEL is set).\n");
}

/* The loop is ours; the device is a set of handles on it. */
static uv_loop_t loop;

/* Runs the loop until the device shut down, then frees it and the loop. */
static int run(struct wgdev *dev)
{
	uv_run(&loop, UV_RUN_DEFAULT);
	wgdev_close(dev);
	uv_run(&loop, UV_RUN_DEFAULT);	/* the close callbacks */
	wgdev_free(dev);
	if (uv_loop_close(&loop) != 0)
		log_debug("loop still had handles at exit");
	return 0;
}

static int start(struct wgdev *dev, const char *ifname)
{
	char err[512];
	int e = uv_loop_init(&loop);

	if (e) {
		fprintf(stderr, "meshd: cannot create event loop: %s\n", uv_strerror(e));
		return 1;
	}
	if (wgdev_start(dev, &loop, ifname, err, sizeof err) != 0) {
		fprintf(stderr, "meshd: %s\n", err);
		uv_run(&loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&loop);
		return 1;
	}
	(void)privs_drop((const char *[]){ UAPI_SOCKET_DIR, NULL });
	return 0;
}

/* What the background child needs (daemonize() callbacks). */
struct bg {
	struct wgdev *dev;
	const char *ifname;
};

static int bg_start(void *ctx)
{
	struct bg *bg = ctx;

	return start(bg->dev, bg->ifname);
}

static int bg_run(void *ctx)
{
	struct bg *bg = ctx;

	return run(bg->dev);
}

static int run_background(struct wgdev *dev, const char *ifname, bool keep_logs)
{
	struct bg bg = { .dev = dev, .ifname = ifname };
	char label[IFNAMSIZ + 2];

	snprintf(label, sizeof label, "'%s'", ifname);
	return daemonize(label, bg_start, bg_run, &bg, keep_logs);
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
	keep_logs = daemonize_log_level_from_env();
	if (!tun_name_valid(ifname)) {
		fprintf(stderr, "meshd: invalid interface name '%s': use 1-15 characters, "
			"no '/', ':' or whitespace\n", ifname);
		return 1;
	}

	log_set_tag(ifname);
	signal(SIGPIPE, SIG_IGN);

	if (!foreground)
		return run_background(&dev, ifname, keep_logs);
	if (start(&dev, ifname) != 0)
		return 1;
	return run(&dev);

usage_err:
	fprintf(stderr, "Usage: meshd wg [-f|--foreground] IFNAME (see 'meshd wg --help')\n");
	return 2;
}
