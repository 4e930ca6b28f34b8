/* `meshd graph`: the mesh as the running node sees it, as Graphviz DOT on
 * stdout (`meshd graph | dot -Tsvg > mesh.svg`); the daemon renders it
 * (metrics.h metrics_render_dot) from the same snapshot as the status page.
 */
#include "config.h"

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"

static const char usage_graph[] =
	"Usage: meshd graph [-d DIR]\n"
	"\n"
	"Print the mesh as the running node sees it, as a Graphviz graph (DOT):\n"
	"members, direct paths (solid) and relayed ones (dashed, through the\n"
	"relay) with their RTT; members without a path are marked.\n"
	"Example: meshd graph | dot -Tsvg > mesh.svg\n"
	"\n"
	CLI_DIR_HELP
	CLI_HELP_HELP;

int cmd_graph(int argc, char **argv)
{
	const char *dir = NULL;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
	};
	const struct cli_cmd cmd = { "graph", usage_graph, CLI_TABLE(opts), 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	return cli_ctl_print(meshd_state_dir(dir), "graph");
}
