/* `meshd routes`: list the subnet routes of the mesh (what each node
 * advertises, what an admin approved, what is installed here), or approve
 * or deny one (admin nodes only). All of it goes through the running node's
 * control socket; NODE and CIDR are checked here so that nothing but a
 * DNS label and one CIDR travel in the request.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"

static const char usage_routes[] =
	"Usage: meshd routes [-d DIR] [--json]\n"
	"       meshd routes approve NODE CIDR [-d DIR]\n"
	"       meshd routes deny NODE CIDR [-d DIR]\n"
	"\n"
	"Without a verb, list per node the subnet routes it advertises, those an\n"
	"admin approved, and those installed here. 'approve' lets NODE route CIDR\n"
	"for the mesh; 'deny' takes the approval back (admin nodes only; the node\n"
	"must be running).\n"
	"\n"
	CLI_DIR_HELP
	CLI_JSON_HELP
	CLI_HELP_HELP;

/* "approve|deny NODE CIDR": args[0..nargs). */
static int routes_verb(const struct cli_cmd *cmd, const char *dir, bool json, char **args,
		       int nargs)
{
	const char *verb = args[0], *node, *cidr;
	char req[CTL_REQ_MAX], err[512], b[CLI_SHOW_BUF], *body;
	bool approve;

	if (strcmp(verb, "approve") && strcmp(verb, "deny"))
		return cli_usage_error(cmd, "unknown verb '%s' (approve or deny)",
				       cli_show(verb, b, sizeof b));
	approve = !strcmp(verb, "approve");
	if (json)
		return cli_usage_error(cmd, "--json only goes with the listing");
	if (nargs < 3)
		return cli_usage_error(cmd, "%s needs NODE and CIDR", verb);
	if (nargs > 3)
		return cli_usage_error(cmd, "unexpected argument '%s'",
				       cli_show(args[3], b, sizeof b));
	node = args[1];
	cidr = args[2];
	if (cli_check_label("routes", "node name", node) ||
	    cli_check_routes("routes", "CIDR", cidr, false, NULL, NULL))
		return 2;
	snprintf(req, sizeof req, "routes %s %s %s", verb, node, cidr);
	if (ctl_request(dir, req, &body, err, sizeof err) != 0)
		return cli_fail("%s", err);
	printf("%s %s for '%s'\n", approve ? "approved" : "denied", cidr, node);
	cli_print_notes(body);	/* "note: NODE does not advertise it" */
	free(body);
	return 0;
}

int cmd_routes(int argc, char **argv)
{
	const char *dir = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
		{ CLI_JSON_OPT(&json) },
	};
	const struct cli_cmd cmd = { "routes", usage_routes, CLI_TABLE(opts), 0, CLI_ARGS_ANY,
				     NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	if (argi == argc)
		return cli_ctl_print(meshd_state_dir(dir), json ? "routes json" : "routes");
	return routes_verb(&cmd, meshd_state_dir(dir), json, argv + argi, argc - argi);
}
