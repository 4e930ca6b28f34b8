/* The metrics listener inside the mesh daemon (metrics_daemon.h): where it
 * listens (the store's METRICS_SETTING, changed by `up --metrics` before
 * start and by `set --metrics` at run time), and the snapshot every answer
 * is rendered from. Everything here runs on the loop thread and reads the
 * node's in-memory state only: a scrape never touches SQLite. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "mesh/gossip.h"
#include "mesh/relay.h"
#include "metrics.h"
#include "metrics_daemon.h"
#include "util/err.h"
#include "util/log.h"

/* ---- the snapshot ---- */

struct snap_buf {
	struct status_self self;
	struct status_peer *peers;
	struct metrics_snap s;
};

static int snap_collect(struct meshd *d, struct snap_buf *sb)
{
	struct mesh_relay_stats rs;
	struct mesh_gossip_stats gs;
	struct mesh_node_self ms;
	struct status_opts o;
	size_t n = 0;
	int r;

	memset(sb, 0, sizeof *sb);
	meshd_status_opts(d, &o);
	r = status_collect(d->node, &o, &sb->self, &sb->peers, &n);
	if (r)
		return r;
	sb->self.ipv6_active = d->ipv6_active;
	memset(&rs, 0, sizeof rs);
	mesh_node_relay_stats(d->node, &rs);
	mesh_node_gossip_stats(d->node, &gs);
	mesh_node_get_self(d->node, &ms);
	sb->s = (struct metrics_snap){
		.self = &sb->self,
		.peers = sb->peers,
		.n = n,
		.now_unix = meshd_now_unix(),
		.relay_forwarded_bytes = rs.forwarded_bytes,
		.gossip_in = gs.msgs_recv,
		.gossip_out = gs.msgs_sent,
		.cert_expires_at = ms.cert_expires_at,
		.version = PACKAGE_VERSION,
	};
	return 0;
}

static int render(void *ctx, enum metrics_target t, struct sbuf *body, const char **ctype)
{
	struct meshd *d = ctx;
	struct snap_buf sb;
	int r;

	if (!d->node)
		return MESHD_E_STATE;	/* stopping */
	if (t == METRICS_T_STATUS) {
		struct status_opts o;

		*ctype = METRICS_CT_JSON;
		meshd_status_opts(d, &o);
		return status_build(body, d->node, &o, true, meshd_now_unix());
	}
	r = snap_collect(d, &sb);
	if (r)
		return r;
	if (t == METRICS_T_METRICS) {
		*ctype = METRICS_CT_PROM;
		metrics_render_prom(body, &sb.s);
	} else {
		*ctype = METRICS_CT_HTML;
		metrics_render_html(body, &sb.s);
	}
	free(sb.peers);
	return body->oom ? MESHD_E_NOMEM : 0;
}

/* ---- the listener ---- */

static int listen_on(struct meshd *d, const union endpoint *ep, char *err, size_t errlen)
{
	int r = metrics_http_start(&d->metrics, &d->loop, ep, render, d, err, errlen);

	if (r)
		return r;
	if (metrics_addr_is_loopback(ep))
		log_info("metrics: listening on http://%s/", d->metrics.addr);
	else
		log_warn("metrics: listening on http://%s/ (not loopback: anyone who can reach "
			 "it sees member names, addresses and traffic counters)", d->metrics.addr);
	return 0;
}

int meshd_metrics_start(struct meshd *d, char *err, size_t errlen)
{
	char v[STORE_SETTING_MAX + 1];
	union endpoint ep;
	bool off;
	int r;

	r = store_setting_get(d->st, METRICS_SETTING, v, sizeof v);
	if (r == MESHD_E_NOENT)
		return 0;
	if (r) {
		snprintf(err, errlen, "cannot read the metrics setting: %s", meshd_strerror(r));
		return r;
	}
	if (metrics_addr_parse(v, &ep, &off) != 0) {
		snprintf(err, errlen, "invalid stored metrics address '%.64s' (meshd set "
			 "--metrics off clears it)", v);
		return MESHD_E_INVAL;
	}
	if (off)
		return 0;
	return listen_on(d, &ep, err, errlen);
}

void meshd_metrics_stop(struct meshd *d)
{
	metrics_http_stop(&d->metrics);
}

enum ctl_answer meshd_metrics_ctl_set(struct meshd *d, const char *value, struct sbuf *body,
				      char *err, size_t errlen)
{
	char canon[ENDPOINT_STRLEN], old[ENDPOINT_STRLEN] = "";
	union endpoint ep, oldep;
	bool off, was = d->metrics.rs.listener != NULL;
	int r;

	if (metrics_addr_parse(value, &ep, &off) != 0) {
		snprintf(err, errlen, "invalid metrics address '%.64s': use ADDR:PORT or off",
			 value);
		return CTL_ANSWER_ERROR;
	}
	if (was) {
		snprintf(old, sizeof old, "%s", d->metrics.addr);
		metrics_http_stop(&d->metrics);
	}
	if (!off && listen_on(d, &ep, err, errlen) != 0) {
		/* keep what worked before */
		char e2[128];

		if (was && metrics_addr_parse(old, &oldep, &off) == 0 &&
		    listen_on(d, &oldep, e2, sizeof e2) != 0)
			log_warn("metrics: cannot listen on %s again: %s", old, e2);
		return CTL_ANSWER_ERROR;
	}
	if (!off)
		endpoint_format(&ep, canon, sizeof canon);
	r = store_setting_put(d->st, METRICS_SETTING, off ? NULL : canon);
	if (r) {
		snprintf(err, errlen, "metrics %s, but cannot store the setting: %s",
			 off ? "stopped" : "moved", meshd_strerror(r));
		return CTL_ANSWER_ERROR;
	}
	if (off)
		log_info("metrics: off");
	else
		sbuf_printf(body, "%s", d->metrics.addr);
	return CTL_ANSWER_OK;
}

enum ctl_answer meshd_metrics_ctl_graph(struct meshd *d, struct sbuf *body, char *err,
					size_t errlen)
{
	struct snap_buf sb;

	if (snap_collect(d, &sb) != 0) {
		snprintf(err, errlen, "out of memory");
		return CTL_ANSWER_ERROR;
	}
	metrics_render_dot(body, &sb.s);
	free(sb.peers);
	if (body->oom) {
		snprintf(err, errlen, "out of memory");
		return CTL_ANSWER_ERROR;
	}
	return CTL_ANSWER_OK;
}
