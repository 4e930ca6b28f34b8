/* `meshd set --advertise-routes LIST`: change the subnet routes the running
 * node advertises; the daemon keeps the new list in its store. The list is
 * checked here first, so only well-formed CIDRs reach the control socket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"

static const char usage_set[] =
	"Usage: meshd set [-d DIR] --advertise-routes CIDR[,CIDR...]|none\n"
	"\n"
	"Change a setting of the running node; it is kept in DIR.\n"
	"\n"
	CLI_DIR_HELP
	"      --advertise-routes LIST  the subnets this node offers to the mesh\n"
	"                     (IPv4/IPv6 CIDRs, comma-separated; 'none' withdraws\n"
	"                     them all). An admin must approve each one.\n"
	CLI_HELP_HELP;

int cmd_set(int argc, char **argv)
{
	const char *dir = NULL, *adv = NULL;
	char req[CTL_REQ_MAX], err[512], *body;
	const struct cli_opt opts[] = {
		{ CLI_SHORT("dir", 'd', CLI_DIR, &dir) },
		{ CLI_OPT("advertise-routes", 'A', CLI_ROUTES, &adv),
		  .missing = "nothing to set (give --advertise-routes)" },
	};
	const struct cli_cmd cmd = { "set", usage_set, opts, sizeof opts / sizeof opts[0],
				     0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	dir = meshd_state_dir(dir);
	snprintf(req, sizeof req, "set advertise-routes %s", adv);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r < 0 && cli_not_running(err))
		return cli_fail("not running; use 'meshd up --advertise-routes ...' to start "
				"with these routes");
	if (r != 0)
		return cli_fail("%s", err);
	free(body);
	if (!strcmp(adv, "none"))
		printf("advertising no routes\n");
	else
		printf("advertising %s (each needs an admin's approval)\n", adv);
	return 0;
}
