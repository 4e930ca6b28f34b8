/* meshd: command-line entry. argv[1] picks a subcommand from the table;
 * the usage text is generated from the same table.
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "wgdev.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{ "wg", cmd_wg, "[-f] IFNAME", "plain WireGuard interface (like wireguard-go)" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: meshd COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		char lhs[64];

		snprintf(lhs, sizeof lhs, "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-22s %s\n", lhs, commands[i].help);
	}
	fprintf(f, "\nOptions:\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\nRun 'meshd COMMAND --help' for a command's options.\n");
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
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "meshd: unknown command '%s' (see 'meshd --help')\n", cmd);
	return 2;
}
