/* `meshd revoke NODE`: revoke a member (admin nodes only). With the node
 * running the daemon does it at once and gossips the revocation; otherwise
 * it is written to the store and takes effect at the next `meshd up`.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"
#include "mesh/node.h"
#include "store/store.h"
#include "util/err.h"

static const char usage_revoke[] =
	"Usage: meshd revoke NODE [-d DIR]\n"
	"\n"
	"Revoke the member NODE (admin nodes only). With the node running, at once;\n"
	"otherwise it is stored and takes effect at the next `meshd up`.\n"
	"\n"
	CLI_DIR_HELP
	CLI_HELP_HELP;

static int revoke_offline(const char *dir, const char *name)
{
	struct store *st;
	int r, sys;

	if (cli_open_existing(dir, &st) != 0)
		return 1;
	r = mesh_node_revoke_offline(st, name, (uint64_t)time(NULL));
	sys = errno;	/* MESHD_E_SYS: the reason, which closing may change */
	store_close(st);
	switch (r) {
	case 0:
		printf("revoked '%s'; the node is not running: the revocation takes effect at "
		       "the next 'meshd up'\n", name);
		return 0;
	case MESHD_E_PERM:
		return cli_fail("this node is not an admin of the mesh; only admins can revoke");
	case MESHD_E_NOENT:
		return cli_fail("no member called '%s' in the mesh", name);
	case MESHD_E_INVAL:
		return cli_fail("'%s' is this node; a node cannot revoke itself", name);
	case MESHD_E_EXIST:
		return cli_fail("'%s' is already revoked", name);
	}
	errno = sys;
	return cli_fail("cannot revoke '%s': %s", name, store_strerror(r));
}

int cmd_revoke(int argc, char **argv)
{
	char req[CTL_REQ_MAX], err[512], *body;
	const char *dir = NULL, *name;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
	};
	const struct cli_cmd cmd = { "revoke", usage_revoke, CLI_TABLE(opts), 1, 1,
				     "the NODE to revoke" };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	name = argv[argi];
	/* a valid DNS label has no space or newline: nothing can ride along */
	if (cli_check_label("revoke", "node name", name))
		return 2;
	dir = meshd_state_dir(dir);
	snprintf(req, sizeof req, "revoke %s", name);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r == 0) {
		printf("revoked '%s'\n", name);
		free(body);
		return 0;
	}
	if (r == 1 || !cli_not_running(err))
		return cli_fail("%s", err);
	return revoke_offline(dir, name);
}
