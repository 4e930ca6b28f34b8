/* Control socket requests of the mesh daemon (ctl.h lists the protocol):
 * status, revoke, routes (table, approve, deny), set advertise-routes,
 * invite, down; set metrics and graph (metrics_daemon.c).
 * Each handler answers with a one-line error naming the bad value. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "daemon_internal.h"
#include "invite.h"
#include "mesh/routes.h"
#include "metrics_daemon.h"
#include "schedule.h"
#include "status.h"
#include "util/err.h"
#include "util/log.h"

static enum ctl_answer ctl_revoke(struct meshd *d, const char *name, char *err, size_t errlen)
{
	int r;

	if (!*name) {
		snprintf(err, errlen, "revoke needs a member name");
		return CTL_ANSWER_ERROR;
	}
	r = mesh_node_revoke(d->node, name, sched_now(), meshd_now_unix());
	wgdev_rearm(&d->dev);
	switch (r) {
	case 0:
		log_info("revoked member '%s'", name);
		return CTL_ANSWER_OK;
	case MESHD_E_PERM:
		snprintf(err, errlen, "this node is not an admin");
		break;
	case MESHD_E_NOENT:
		snprintf(err, errlen, "no member named '%s'", name);
		break;
	case MESHD_E_INVAL:
		snprintf(err, errlen, "a node cannot revoke itself");
		break;
	default:
		snprintf(err, errlen, "cannot revoke '%s': %s", name, meshd_strerror(r));
	}
	return CTL_ANSWER_ERROR;
}

/* "NODE CIDR" of `routes approve|deny NODE CIDR`. */
static enum ctl_answer ctl_route_set(struct meshd *d, const char *args, bool approve,
				     struct sbuf *body, char *err, size_t errlen)
{
	char name[MESH_NAME_MAX + 2], cidr[MESH_PREFIX_STRLEN], pbuf[MESH_PREFIX_STRLEN];
	const char *verb = approve ? "approve" : "deny";
	struct mesh_prefix r;
	uint8_t v4[4], v6[16];
	char extra;
	int e;

	if (sscanf(args, "%64s %63s %c", name, cidr, &extra) != 2) {
		snprintf(err, errlen, "usage: routes %s NODE CIDR", verb);
		return CTL_ANSWER_ERROR;
	}
	e = mesh_prefix_parse(cidr, &r, err, errlen);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "invalid prefix '%s'", cidr);
		return CTL_ANSWER_ERROR;
	}
	meshd_prefix_str(&r, pbuf);
	err[0] = '\0';
	e = mesh_node_route_set(d->node, name, &r, approve, sched_now(), meshd_now_unix(), err,
				errlen);
	wgdev_rearm(&d->dev);
	switch (e) {
	case 0:
		log_info("routes: %s %s for '%s'", approve ? "approved" : "denied", pbuf, name);
		if (approve && !mesh_node_member_advertises(d->node, name, &r))
			sbuf_printf(body, "note: '%s' does not advertise %s (yet): the route is "
				    "installed once it does\n", name, pbuf);
		return CTL_ANSWER_OK;
	case MESHD_E_PERM:
		snprintf(err, errlen, "this node is not an admin");
		break;
	case MESHD_E_NOENT:
		if (!approve && mesh_node_lookup_name(d->node, name, v4, v6) == 0)
			snprintf(err, errlen, "%s is not approved for '%s'", pbuf, name);
		else
			snprintf(err, errlen, "no member named '%s'", name);
		break;
	case MESHD_E_EXIST:
		snprintf(err, errlen, "%s is already approved for '%s'", pbuf, name);
		break;
	case MESHD_E_FULL:
		snprintf(err, errlen, "'%s' already has %d approved routes", name,
			 MESH_CERT_MAX_ROUTES);
		break;
	default:
		if (!err[0])
			snprintf(err, errlen, "cannot %s %s for '%s': %s", verb, pbuf, name,
				 meshd_strerror(e));
	}
	return CTL_ANSWER_ERROR;
}

static enum ctl_answer ctl_routes(struct meshd *d, const char *req, struct sbuf *body, char *err,
				  size_t errlen)
{
	if (!strcmp(req, "") || !strcmp(req, " json")) {
		if (status_routes_build(body, d->node, req[0] != '\0') != 0) {
			snprintf(err, errlen, "out of memory");
			return CTL_ANSWER_ERROR;
		}
		return CTL_ANSWER_OK;
	}
	if (!strncmp(req, " approve ", 9))
		return ctl_route_set(d, req + 9, true, body, err, errlen);
	if (!strncmp(req, " deny ", 6))
		return ctl_route_set(d, req + 6, false, body, err, errlen);
	snprintf(err, errlen, "unknown request 'routes%.64s'", req);
	return CTL_ANSWER_ERROR;
}

/* `invite TTL USES [EP,...]`: the invite goes into the store this daemon
 * holds, between two loop events, so no other process takes its write lock
 * (invite.h). The answer body is the token line; the log never shows it. */
static enum ctl_answer ctl_invite(struct meshd *d, const char *args, struct sbuf *body,
				  char *err, size_t errlen)
{
	char line[MESH_TOKEN_STR_MAX + 1];
	struct meshd_invite_req r;
	enum ctl_answer a = CTL_ANSWER_ERROR;

	if (meshd_invite_req_parse(args, &r, err, errlen) != 0)
		return CTL_ANSWER_ERROR;
	if (meshd_invite_make(d->st, &r, meshd_now_unix(), d->dir, d->ifname, line, err,
			      errlen) != 0) {
		log_info("control: invite refused: %s", err);
		return CTL_ANSWER_ERROR;
	}
	sbuf_printf(body, "%s\n", line);
	if (!body->oom) {
		log_info("control: invite created (valid %llu s, %u use%s, %s endpoints)",
			 (unsigned long long)r.ttl_s, (unsigned)r.uses, r.uses == 1 ? "" : "s",
			 r.nep ? "given" : "this host's");
		a = CTL_ANSWER_OK;
	} else {
		snprintf(err, errlen, "out of memory");
	}
	sodium_memzero(line, sizeof line);
	return a;
}

void meshd_status_opts(const struct meshd *d, struct status_opts *o)
{
	memset(o, 0, sizeof *o);
	o->listen_port = d->dev.udp.port;
	o->tcp_port = d->tcp_port;
	o->ipv6_active = d->ipv6_active;
	o->tcp_fallback = meshd_fallback_tcp(d);
}

enum ctl_answer meshd_ctl_handle(void *ctx, const char *req, struct sbuf *body, char *err,
				 size_t errlen)
{
	struct meshd *d = ctx;
	bool json;

	if (!d->node) {
		snprintf(err, errlen, "the daemon is stopping");
		return CTL_ANSWER_ERROR;
	}
	if (!strcmp(req, "status") || !strcmp(req, "status json")) {
		json = req[6] != '\0';
		struct status_opts o;

		meshd_status_opts(d, &o);
		if (status_build(body, d->node, &o, json, meshd_now_unix()) != 0) {
			snprintf(err, errlen, "out of memory");
			return CTL_ANSWER_ERROR;
		}
		return CTL_ANSWER_OK;
	}
	if (!strncmp(req, "revoke ", 7))
		return ctl_revoke(d, req + 7, err, errlen);
	if (!strcmp(req, "down"))
		return CTL_ANSWER_OK_STOP;
	if (!strncmp(req, "invite ", 7))
		return ctl_invite(d, req + 7, body, err, errlen);
	if (!strncmp(req, "routes", 6))
		return ctl_routes(d, req + 6, body, err, errlen);
	if (!strncmp(req, "set advertise-routes ", 21)) {
		err[0] = '\0';
		if (meshd_set_advertised(d, req + 21, body, err, errlen) != 0)
			return CTL_ANSWER_ERROR;
		log_info("advertised routes set to '%s'", req + 21);
		return CTL_ANSWER_OK;
	}
	if (!strncmp(req, "set metrics ", 12))
		return meshd_metrics_ctl_set(d, req + 12, body, err, errlen);
	if (!strncmp(req, "set tcp-port ", 13))
		return meshd_tcp_ctl_set(d, req + 13, body, err, errlen);
	if (!strcmp(req, "graph"))
		return meshd_metrics_ctl_graph(d, body, err, errlen);
	snprintf(err, errlen, "unknown request '%.64s'", req);
	return CTL_ANSWER_ERROR;
}

void meshd_ctl_stop(void *ctx)
{
	struct meshd *d = ctx;

	wgdev_shutdown(&d->dev, "meshd down");
}
