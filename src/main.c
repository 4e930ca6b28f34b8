/* meshd: command-line entry. argv[1] picks a subcommand from the table;
 * the usage text is generated from the same table.
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd_mesh.h"
#include "daemon.h"
#include "wgdev.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{ "init", cmd_init,
	  "[-d DIR] [--name NODE] [--mesh-name NAME] [--prefix CIDR] [--port N]\n"
	  "        [--tcp-port N] [--cert-ttl DURATION]",
	  "create a new mesh with this node as its admin" },
	{ "up", cmd_up,
	  "[-d DIR] [-i IFNAME] [-f] [--advertise-routes CIDR[,CIDR...]] [--hosts-file [PATH]]\n"
	  "        [--hosts-file-short] [--metrics ADDR:PORT|off] [--tcp-port N]",
	  "start the node stored in DIR" },
	{ "invite", cmd_invite, "[-d DIR] [--ttl DURATION] [--uses N]",
	  "print an invite token (admin only)" },
	{ "join", cmd_join, "TOKEN [-d DIR] [--name NODE] [-i IFNAME] [--port N] [-f] [...]",
	  "join a mesh with a token ('-': from stdin), then start" },
	{ "status", cmd_status, "[-d DIR] [--json]", "show the running node and its peers" },
	{ "revoke", cmd_revoke, "NODE [-d DIR]", "revoke a member (admin only)" },
	{ "down", cmd_down, "[-d DIR]", "stop the running node" },
	{ "set", cmd_set,
	  "[-d DIR] [--advertise-routes CIDR[,CIDR...]|none] [--metrics ADDR:PORT|off]\n"
	  "        [--tcp-port N]",
	  "change what the running node advertises, its metrics listener or TCP entry" },
	{ "routes", cmd_routes, "[-d DIR] [--json] | approve|deny NODE CIDR [-d DIR]",
	  "list subnet routes; approve or deny one (admin only)" },
	{ "graph", cmd_graph, "[-d DIR]", "print the mesh as a Graphviz (DOT) graph" },
	{ "wg", cmd_wg, "[-f] IFNAME", "plain WireGuard interface (like wireguard-go)" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: meshd COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
			commands[i].help);
	}
	fprintf(f, "\nOptions:\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\nDIR defaults to $MESHD_STATE_DIR, else " MESHD_DEFAULT_DIR ".\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n"
		"Run 'meshd COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("meshd %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		if (sodium_init() < 0) {
			fprintf(stderr, "meshd: cannot initialise libsodium\n");
			return 1;
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "meshd: unknown command '%s' (see 'meshd --help')\n", cmd);
	return 2;
}
