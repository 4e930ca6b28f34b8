/* `meshd status`: ask the running node (control socket) for itself, its
 * peers and their paths; the daemon formats the table or JSON (status.c).
 * With no daemon, the stored state (node, mesh, members, last endpoint
 * records) in the same formats, marked not running, and still exit 1 with
 * the one-line "not running" message: scripts test the exit code to learn
 * whether the node runs.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"
#include "status.h"
#include "store/store.h"
#include "util/err.h"

static const char usage_status[] =
	"Usage: meshd status [-d DIR] [--json]\n"
	"\n"
	"Show the running node: itself, its peers and their paths. When it does\n"
	"not run, show what DIR holds (marked not running) and exit 1.\n"
	"\n"
	CLI_DIR_HELP
	CLI_JSON_HELP
	CLI_HELP_HELP;

/* No daemon answered (why: ctl_request's "not running (...)"): print the
 * stored state, then fail with why. A directory without a node prints
 * nothing more than why. */
static int status_offline(const char *dir, bool json, const char *why)
{
	char path[PATH_MAX];
	struct sbuf b = { 0 };
	struct store *st;
	int r;

	if (cli_db_path(dir, path, sizeof path) != 0 || access(path, F_OK) != 0)
		return cli_fail("%s", why);
	r = store_open(path, &st);
	if (r == 0) {
		r = status_build_store(&b, st, json, (uint64_t)time(NULL));
		store_close(st);
	}
	if (r == MESHD_E_NOENT) {
		sbuf_free(&b);
		return cli_fail("%s", why);
	}
	if (r != 0) {
		sbuf_free(&b);
		return cli_fail("%s; cannot read the stored state: %s", why,
				store_strerror(r));
	}
	fputs(b.buf, stdout);
	sbuf_free(&b);
	if (fflush(stdout) != 0)
		return cli_fail("cannot write: %s", strerror(errno));
	return cli_fail("%s", why);
}

int cmd_status(int argc, char **argv)
{
	const char *dir = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
		{ CLI_JSON_OPT(&json) },
	};
	const struct cli_cmd cmd = { "status", usage_status, CLI_TABLE(opts), 0, 0, NULL };
	int r, argi;

	char err[512], *body;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	dir = meshd_state_dir(dir);
	r = ctl_request(dir, json ? "status json" : "status", &body, err, sizeof err);
	if (r < 0 && cli_not_running(err))
		return status_offline(dir, json, err);
	if (r != 0)
		return cli_fail("%s", err);
	return cli_print_body(body);
}
