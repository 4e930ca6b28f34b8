/* `meshd status`: ask the running node (control socket) for itself, its
 * peers and their paths; the daemon formats the table or JSON (status.c).
 */
#include "config.h"

#include <stdbool.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"

static const char usage_status[] =
	"Usage: meshd status [-d DIR] [--json]\n"
	"\n"
	"Show the running node: itself, its peers and their paths.\n"
	"\n"
	CLI_DIR_HELP
	"      --json         one JSON object instead of the table\n"
	CLI_HELP_HELP;

int cmd_status(int argc, char **argv)
{
	const char *dir = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{ CLI_SHORT("dir", 'd', CLI_DIR, &dir) },
		{ CLI_OPT("json", 'j', CLI_FLAG, &json) },
	};
	const struct cli_cmd cmd = { "status", usage_status, opts,
				     sizeof opts / sizeof opts[0], 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	return cli_ctl_print(meshd_state_dir(dir), json ? "status json" : "status");
}
