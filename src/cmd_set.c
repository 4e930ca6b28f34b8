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
		cli_warn_metrics_exposed(value);
	return 0;
}

/* Sends "set OPT VALUE" to the node running in dir. Returns 0 with its
 * reply in *body (malloc'd; dropped when body is NULL), 1 (message
 * printed), or -1 when no daemon runs and what is NULL (nothing printed);
 * with what, no daemon is a failure that says to start the node with --OPT
 * to get what. */
static int set_request(const char *dir, const char *opt, const char *value,
		       const char *what, char **body)
{
	char req[CTL_REQ_MAX], err[512], *reply;
	int r;

	snprintf(req, sizeof req, "set %s %s", opt, value);
	r = ctl_request(dir, req, &reply, err, sizeof err);
	if (r < 0 && cli_not_running(err)) {
		if (!what)
			return -1;
		return cli_fail("not running; use 'meshd up --%s ...' to start with %s", opt,
				what);
	}
	if (r != 0)
		return cli_fail("%s", err);
	if (body)
		*body = reply;
	else
		free(reply);
	return 0;
}

/* A setting only a running daemon takes: "set OPT VALUE", then one line
 * that says what it is now, and the daemon's warnings. */
struct live_setting {
	const char *opt, *what;		/* set_request's */
	const char *off, *off_line;	/* the value that turns it off; what to say */
	const char *on_pre, *on_post;	/* the line around the value (or the answer) */
	bool answer_is_value;		/* the daemon answers the value in use (the
					 * metrics address) instead of warnings */
};

static const struct live_setting metrics_setting = {
	"metrics", "metrics", "off", "metrics off", "metrics on http://", "/", true,
};

/* The daemon's answer holds its warnings ("warning: forwarding is off
 * ..."): the daemon's own log is /dev/null in the background, so this is
 * where the operator sees them. */
static const struct live_setting routes_setting = {
	"advertise-routes", "these routes", "none", "advertising no routes", "advertising ",
	" (each needs an admin's approval)", false,
};

static int set_live(const char *dir, const struct live_setting *ls, const char *value)
{
	char *body;
	int r;

	if ((r = set_request(dir, ls->opt, value, ls->what, &body)) != 0)
		return r;
	if (!strcmp(value, ls->off))
		printf("%s\n", ls->off_line);
	else
		printf("%s%s%s\n", ls->on_pre, ls->answer_is_value ? body : value, ls->on_post);
	if (!ls->answer_is_value)
		cli_print_notes(body);
	free(body);
	return 0;
}

static int set_tcp_port(const char *dir, int port)
{
	char v[16];
	int r;

	snprintf(v, sizeof v, "%d", port);
	r = set_request(dir, "tcp-port", v, NULL, NULL);
	if (r < 0) {
		/* no daemon: the setting waits for the next `meshd up` */
		r = cli_store_tcp_port_in(dir, port);
		if (r == 0)
			printf("tcp port %s (not running: used at the next 'meshd up')\n",
			       port ? "stored" : "off");
		return r;
	}
	if (r != 0)
		return r;
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
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
		{ CLI_OPT("advertise-routes", 'A', CLI_ROUTES, &adv) },
		{ CLI_OPT("metrics", 'M', CLI_PARSE, &metrics), .parse = parse_metrics },
		{ CLI_TCP_PORT_OPT(&tcp_port) },
	};
	const struct cli_cmd cmd = { "set", usage_set, CLI_TABLE(opts), 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	if (!adv && !metrics && tcp_port < 0)
		return cli_usage_error(&cmd, "nothing to set (give --advertise-routes, "
				       "--metrics or --tcp-port)");
	dir = meshd_state_dir(dir);
	/* The settings that need the daemon first: with no node running they
	 * fail before --tcp-port (which is then stored) changes anything. */
	if (metrics && (r = set_live(dir, &metrics_setting, metrics)) != 0)
		return r;
	if (adv && (r = set_live(dir, &routes_setting, adv)) != 0)
		return r;
	if (tcp_port >= 0 && (r = set_tcp_port(dir, tcp_port)) != 0)
		return r;
	return 0;
}
