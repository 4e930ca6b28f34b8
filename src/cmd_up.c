/* `meshd up`: start the node stored in the state directory. The routes to
 * advertise are checked here (syntax, and not inside the mesh's overlay)
 * before the daemon forks, so a mistake is a message, not a dead daemon.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "ctl.h"
#include "daemonize.h"
#include "metrics.h"
#include "mesh/tcpframe.h"
#include "store/store.h"
#include "util/err.h"

static const char usage_up[] =
	"Usage: meshd up [-d DIR] [-i IFNAME] [-f] [--advertise-routes CIDR[,CIDR...]]\n"
	"                [--hosts-file [PATH]] [--hosts-file-short]\n"
	"                [--metrics ADDR:PORT|off] [--tcp-port N]\n"
	"\n"
	"Start the node stored in DIR. Without -f, returns once it runs in the\n"
	"background.\n"
	"\n"
	CLI_DIR_HELP
	"  -i, --interface IFNAME  interface name (default: the stored one, " MESHD_DEFAULT_IFNAME ")\n"
	"  -f, --foreground   stay in the foreground\n"
	"      --advertise-routes LIST  offer the subnets LIST (IPv4/IPv6 CIDRs, comma-\n"
	"                     separated; 'none' withdraws) to the mesh; an admin must\n"
	"                     approve them ('meshd routes approve'). Kept in DIR.\n"
	"      --hosts-file [PATH]  keep NODE.MESH names of the members in a managed\n"
	"                     block of PATH (default: /etc/hosts). Not kept: give it\n"
	"                     at every start.\n"
	"      --hosts-file-short  also the bare NODE on each IPv4 line (any member\n"
	"                     then answers single-label names such as 'wpad')\n"
	"      --metrics ADDR:PORT  serve Prometheus metrics (/metrics), a status page\n"
	"                     (/) and /status.json over HTTP on ADDR:PORT, e.g.\n"
	"                     127.0.0.1:9100; 'off' stops it (default). Kept in DIR.\n"
	"                     A non-loopback ADDR shows member names and counters to\n"
	"                     anyone who can reach it.\n"
	CLI_TCP_PORT_HELP
	CLI_HELP_HELP
	"\n"
	"Environment: LOG_LEVEL=error|info|verbose|debug|silent (another value is\n"
	"refused).\n";

/* The advertised prefixes must stay outside the overlay prefixes of the
 * mesh in dir (the daemon checks again; this says it before forking). */
static int check_advert_overlay(const char *dir, const struct mesh_prefix *r, size_t n)
{
	struct mesh_prefix ov[2];
	struct store_mesh mesh;
	struct store *st;
	char why[128], a[CLI_PREFIX_STR], o[CLI_PREFIX_STR];
	const char *ovs[2];
	int ret = 0;

	if (n == 0)
		return 0;
	if (cli_open_existing(dir, &st) != 0)
		return 1;
	if ((ret = store_mesh_get(st, &mesh)) != 0) {
		ret = cli_fail("cannot read the mesh from %s: %s", dir, store_strerror(ret));
		store_close(st);
		return ret;
	}
	ovs[0] = mesh.prefix4;
	ovs[1] = mesh.prefix6;
	for (size_t k = 0; k < 2 && !ret; k++) {
		if (!cli_parse_cidr(ovs[k], &ov[k], why, sizeof why))
			continue;
		for (size_t i = 0; i < n && !ret; i++) {
			if (!cli_prefix_overlaps(&r[i], &ov[k]))
				continue;
			cli_prefix_str(&r[i], a, sizeof a);
			cli_prefix_str(&ov[k], o, sizeof o);
			ret = cli_fail("cannot advertise %s: it overlaps the mesh's overlay "
				       "prefix %s", a, o);
		}
	}
	store_mesh_clear(&mesh);
	store_close(st);
	return ret;
}

/* The listener address is a setting of the node: stored before the
 * daemon starts (which reads it), canonical, or removed by "off". */
static int store_metrics(const char *dir, const char *value)
{
	char canon[ENDPOINT_STRLEN];
	union endpoint ep;
	struct store *st;
	bool off;
	int r;

	if (metrics_addr_parse(value, &ep, &off) != 0)
		return 2;	/* cli_parse_metrics said so already */
	if (!off) {
		endpoint_format(&ep, canon, sizeof canon);
		if (!metrics_addr_is_loopback(&ep))
			cli_warn_metrics_exposed(canon);
	}
	if (cli_open_existing(dir, &st) != 0)
		return 1;
	r = store_setting_put(st, METRICS_SETTING, off ? NULL : canon);
	if (r)
		r = cli_fail("cannot store --metrics in %s: %s", dir, store_strerror(r));
	store_close(st);
	return r;
}

/* The stored settings that up's options replace before the daemon starts
 * (it reads them there), kept to be put back when the start fails: a
 * failed `up --tcp-port N` must not leave N for the next plain `up`. */
struct saved_setting {
	const char *key;
	bool saved, present;
	char value[128];
};

/* 0, or 1 when the store cannot be opened (said so: the caller stops, as
 * every later step would fail on it again). */
static int settings_save(const char *dir, struct saved_setting *s, size_t n)
{
	struct store *st;
	int r;

	if (cli_open_existing(dir, &st) != 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		r = store_setting_get(st, s[i].key, s[i].value, sizeof s[i].value);
		s[i].present = r == 0;
		s[i].saved = r == 0 || r == MESHD_E_NOENT;
	}
	store_close(st);
	return 0;
}

static void settings_restore(const char *dir, const struct saved_setting *s, size_t n)
{
	struct store *st;
	int r;

	if (cli_open_existing(dir, &st) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (s[i].saved && (r = store_setting_put(st, s[i].key,
							 s[i].present ? s[i].value : NULL)) != 0)
			cli_fail("cannot put back the stored %s setting in %s: %s", s[i].key, dir,
				 store_strerror(r));
	store_close(st);
}

static int start_node(const char *dir, struct meshd_run_opts *o, const char *metrics,
		      int tcp_port)
{
	struct mesh_prefix r[MESH_CERT_MAX_ROUTES];
	struct saved_setting saved[2] = {
		{ .key = METRICS_SETTING }, { .key = MESH_TCP_PORT_SETTING },
	};
	char path[PATH_MAX];
	bool started = false;
	size_t n = 0;
	int rc;

	if (cli_db_path(dir, path, sizeof path) != 0)
		return cli_fail("state directory path too long: %s", dir);
	if (access(path, F_OK) != 0)
		return cli_fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
	if (ctl_running(dir))
		return cli_fail("already running (%s/%s answers)", dir, CTL_SOCKET_NAME);
	if (o->advertise) {
		if (cli_check_routes("up", "--advertise-routes", o->advertise, true, r, &n))
			return 2;
		if (check_advert_overlay(dir, r, n))
			return 1;
	}
	if ((metrics || tcp_port >= 0) && settings_save(dir, saved, 2) != 0)
		return 1;
	if (metrics && (rc = store_metrics(dir, metrics)) != 0)
		return rc;
	if (cli_store_tcp_port_in(dir, tcp_port) != 0) {
		settings_restore(dir, saved, 2);
		return 1;
	}
	fflush(NULL);
	o->started = &started;
	rc = meshd_daemon_run_opts(dir, o);
	if (!started && (metrics || tcp_port >= 0))
		settings_restore(dir, saved, 2);
	return rc;
}

int cmd_up(int argc, char **argv)
{
	struct meshd_run_opts o = { 0 };
	const char *dir = NULL, *metrics = NULL;
	int tcp_port = -1;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
		{ CLI_SHORT("interface", 'i', CLI_IFNAME, &o.ifname) },
		{ CLI_SHORT("foreground", 'f', CLI_FLAG, &o.foreground) },
		{ CLI_OPT("advertise-routes", 'A', CLI_ROUTES, &o.advertise) },
		{ CLI_OPT("hosts-file", 'H', CLI_PATH_OPT, &o.hosts_file),
		  .def = "/etc/hosts" },
		{ CLI_OPT("hosts-file-short", 'S', CLI_FLAG, &o.hosts_short) },
		{ CLI_OPT("metrics", 'M', CLI_PARSE, &metrics), .parse = cli_parse_metrics },
		{ CLI_TCP_PORT_OPT(&tcp_port) },
	};
	const struct cli_cmd cmd = { "up", usage_up, CLI_TABLE(opts), 0, 0, NULL };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	if (daemonize_log_level_check() != 0)
		return 1;
	return start_node(meshd_state_dir(dir), &o, metrics, tcp_port);
}
