/* `meshd set --advertise-routes LIST`: change the subnet routes the running
 * node advertises; the daemon keeps the new list in its store. The list is
 * checked here first, so only well-formed CIDRs reach the control socket.
 * `meshd set --metrics ADDR:PORT|off` moves or stops the metrics listener
 * the same way (the daemon stores it once it listens).
 * `meshd set --tcp-port N` moves, starts or (0) stops the TCP entry of the
 * running node, which stores it; with no daemon running it is only stored,
 * for the next `meshd up`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"
#include "metrics.h"
#include "store/store.h"

static const char usage_set[] =
	"Usage: meshd set [-d DIR] [--advertise-routes CIDR[,CIDR...]|none]\n"
	"                 [--metrics ADDR:PORT|off] [--tcp-port N]\n"
	"\n"
	"Change a setting of the running node; it is kept in DIR.\n"
	"\n"
	CLI_DIR_HELP
	"      --advertise-routes LIST  the subnets this node offers to the mesh\n"
	"                     (IPv4/IPv6 CIDRs, comma-separated; 'none' withdraws\n"
	"                     them all). An admin must approve each one.\n"
	"      --metrics ADDR:PORT  listen for metrics and the status page on\n"
	"                     ADDR:PORT ('off': stop). A non-loopback ADDR shows\n"
	"                     member names and counters to anyone who can reach it.\n"
	CLI_TCP_PORT_HELP
	CLI_HELP_HELP;

/* --metrics: checked as for up, and a warning when it is not loopback-only. */
static int parse_metrics(const char *cmd, const char *value, void *dest)
{
	union endpoint ep;
	bool off;
	int r = cli_parse_metrics(cmd, value, dest);

	if (r != 0)
		return r;
	if (metrics_addr_parse(value, &ep, &off) == 0 && !off && !metrics_addr_is_loopback(&ep))
		fprintf(stderr, "meshd: warning: metrics on %s are not loopback-only: anyone who "
			"can reach it sees member names, addresses and counters\n", value);
	return 0;
}

static int set_metrics(const char *dir, const char *value)
{
	char req[CTL_REQ_MAX], err[512], *body;
	int r;

	snprintf(req, sizeof req, "set metrics %s", value);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r < 0 && cli_not_running(err))
		return cli_fail("not running; use 'meshd up --metrics ...' to start with "
				"metrics");
	if (r != 0)
		return cli_fail("%s", err);
	if (!strcmp(value, "off"))
		printf("metrics off\n");
	else
		printf("metrics on http://%s/\n", body);
	free(body);
	return 0;
}

static int set_tcp_port(const char *dir, int port)
{
	char req[64], err[512], *body;
	struct store *st;
	int r;

	snprintf(req, sizeof req, "set tcp-port %d", port);
	r = ctl_request(dir, req, &body, err, sizeof err);
	if (r < 0 && cli_not_running(err)) {
		/* no daemon: the setting waits for the next `meshd up` */
		if (cli_open_existing(dir, &st) != 0)
			return 1;
		r = cli_store_tcp_port(st, dir, port);
		store_close(st);
		if (r == 0)
			printf("tcp port %s (not running: used at the next 'meshd up')\n",
			       port ? "stored" : "off");
		return r;
	}
	if (r != 0)
		return cli_fail("%s", err);
	free(body);
	if (port)
		printf("tcp port %d\n", port);
	else
		printf("tcp port off\n");
	return 0;
}

int cmd_set(int argc, char **argv)
{
	const char *dir = NULL, *adv = NULL, *metrics = NULL;
	int tcp_port = -1;
	char req[CTL_REQ_MAX], err[512], *body;
	const struct cli_opt opts[] = {
		{ CLI_SHORT("dir", 'd', CLI_DIR, &dir) },
		{ CLI_OPT("advertise-routes", 'A', CLI_ROUTES, &adv) },
		{ CLI_OPT("metrics", 'M', CLI_PARSE, &metrics), .parse = parse_metrics },
		{ CLI_OPT("tcp-port", 'C', CLI_PARSE, &tcp_port), .parse = cli_parse_tcp_port },
	};
	const struct cli_cmd cmd = { "set", usage_set, opts, sizeof opts / sizeof opts[0],
				     0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	if (!adv && !metrics && tcp_port < 0)
		return cli_usage_error(&cmd, "nothing to set (give --advertise-routes, "
				       "--metrics or --tcp-port)");
	dir = meshd_state_dir(dir);
	if (metrics && (r = set_metrics(dir, metrics)) != 0)
		return r;
	if (tcp_port >= 0 && (r = set_tcp_port(dir, tcp_port)) != 0)
		return r;
	if (!adv)
		return 0;
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
