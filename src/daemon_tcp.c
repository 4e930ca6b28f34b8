/* The mesh daemon's TCP entry (docs/decisions.md D17; listener in
 * tcp_entry.c, protocol in mesh/tcpframe.h): members whose UDP is blocked
 * connect here and prove membership; their datagrams then enter WireGuard
 * and the node as if they had come over UDP from a synthetic endpoint
 * (tcp_entry_synth), and whatever WireGuard or the node sends to that
 * endpoint goes back down the connection (meshd_tcp_send).
 *
 * The port is the node's MESH_TCP_PORT_SETTING (`--tcp-port N` on init,
 * join, up and set; 0 or absent: off). A listener that cannot bind fails
 * the start, like the UDP port: the user asked for that port. It starts
 * before privileges are dropped, so 443 works without root afterwards;
 * `set --tcp-port` on a running daemon needs CAP_NET_BIND_SERVICE for
 * ports below 1024.
 *
 * Moving or stopping the listener closes its connections; the old struct
 * waits in a short list until its handles have closed (tcp_entry_idle). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "schedule.h"
#include "util/err.h"
#include "util/log.h"

static bool member_pk(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN], uint8_t pk[MESH_PK_LEN])
{
	struct meshd *d = ctx;

	return d->node != NULL && mesh_node_member_sign_pk(d->node, node_id, pk);
}

static void deliver(void *ctx, uint64_t conn_id, const uint8_t node_id[MESH_NODE_ID_LEN],
		    const union endpoint *peer, uint8_t *buf, size_t len, mtime_ns now)
{
	struct meshd *d = ctx;
	union endpoint src;

	(void)peer;
	if (!d->node || d->dev.stopping || len == 0)
		return;
	tcp_entry_synth(conn_id, &src);
	mesh_node_peer_pin(d->node, node_id, &src);
	d->tcp_input = true;
	if (buf[0] == WGDEV_MESH_MAGIC)
		meshd_underlay_input(d, &src, buf, len, now);
	else
		wgdev_input_datagram(&d->dev, buf, len, &src);
	d->tcp_input = false;
	wgdev_rearm(&d->dev);
	meshd_check_revoked(d);
}

/* A joiner's JOIN_REQ over TCP (its UDP gets no answer): to the inviter
 * as if from the connection's synthetic endpoint, so the answer goes back
 * down it. The per-source verification budget of the inviter sees all TCP
 * joiners as one source (100:0:0:1::/64); the entry's own limits (per-IP
 * connections, JOIN_REQs per connection) bound each of them first. */
static void join_in(void *ctx, uint64_t conn_id, const union endpoint *peer, uint8_t *buf,
		    size_t len, mtime_ns now)
{
	struct meshd *d = ctx;
	union endpoint src;
	char a[ENDPOINT_STRLEN];

	if (!d->node || d->dev.stopping)
		return;
	log_debug("tcp entry: join request from %s", endpoint_format(peer, a, sizeof a));
	tcp_entry_synth(conn_id, &src);
	d->tcp_input = true;
	meshd_underlay_input(d, &src, buf, len, now);
	d->tcp_input = false;
}

static void conn_closed(void *ctx, uint64_t conn_id, const uint8_t node_id[MESH_NODE_ID_LEN])
{
	struct meshd *d = ctx;

	(void)conn_id;
	if (d->node && !d->dev.stopping && (!d->tcp || !tcp_entry_has_member(d->tcp, node_id)))
		mesh_node_peer_pin(d->node, node_id, NULL);
}

bool meshd_tcp_send(struct meshd *d, const union endpoint *dst, const uint8_t *p, size_t len)
{
	uint64_t id;

	if (!tcp_entry_is_synth(dst, &id))
		return false;
	if (!d->tcp || tcp_entry_send(d->tcp, id, p, len) != 0)
		d->tcp_send_drops++;	/* the connection is gone: WireGuard retries */
	return true;
}

/* Frees the retired entries whose handles have all closed (all of them
 * when the loop has run dry). */
static void reap_retired(struct meshd *d, bool all)
{
	size_t k = 0;

	for (size_t i = 0; i < d->ntcp_old; i++) {
		if (all || tcp_entry_idle(d->tcp_old[i]))
			free(d->tcp_old[i]);
		else
			d->tcp_old[k++] = d->tcp_old[i];
	}
	d->ntcp_old = k;
}

static int listen_port(struct meshd *d, uint16_t port, char *err, size_t errlen)
{
	struct mesh_node_self self;
	struct tcp_entry_cfg cfg = { .loop = &d->loop, .port = port, .member_pk = member_pk,
				     .deliver = deliver, .closed = conn_closed, .join = join_in,
				     .ctx = d };
	struct tcp_entry *e = calloc(1, sizeof *e);

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return MESHD_E_NOMEM;
	}
	mesh_node_get_self(d->node, &self);
	memcpy(cfg.mesh_id, self.mesh_id, MESH_ID_LEN);
	memcpy(cfg.server_key, self.wg_pk, MESH_TCP_KEY_LEN);
	if (tcp_entry_start(e, &cfg) != 0) {
		int saved = errno;

		snprintf(err, errlen, "cannot listen on TCP port %u: %s%s", (unsigned)port,
			 strerror(saved), saved == EADDRINUSE ? " (choose another with --tcp-port)" :
			 saved == EACCES ? " (ports below 1024 need CAP_NET_BIND_SERVICE)" : "");
		/* its handles are closing: freed once idle (there is room:
		 * start-up has an empty list, meshd_tcp_ctl_set checks first) */
		if (tcp_entry_idle(e))
			free(e);
		else
			d->tcp_old[d->ntcp_old++] = e;
		errno = saved;
		return MESHD_E_SYS;
	}
	d->tcp = e;
	d->tcp_port = port;
	return 0;
}

/* Stops the current entry, which waits in the retired list until idle. */
static void retire(struct meshd *d)
{
	if (!d->tcp)
		return;
	tcp_entry_stop(d->tcp);
	d->tcp_old[d->ntcp_old++] = d->tcp;
	d->tcp = NULL;
	d->tcp_port = 0;
}

int meshd_tcp_start(struct meshd *d, char *err, size_t errlen)
{
	uint16_t port;
	int r = mesh_node_tcp_port(d->st, &port);

	if (r) {
		snprintf(err, errlen, "cannot read the TCP port setting: %s (meshd set --tcp-port 0 "
			 "clears it)", meshd_strerror(r));
		return r;
	}
	return port ? listen_port(d, port, err, errlen) : 0;
}

void meshd_tcp_stop(struct meshd *d)
{
	if (d->tcp)
		tcp_entry_stop(d->tcp);	/* freed by meshd_tcp_free */
}

void meshd_tcp_free(struct meshd *d)
{
	reap_retired(d, true);
	free(d->tcp);	/* only when the loop ended without a shutdown */
	d->tcp = NULL;
}

size_t meshd_tcp_entries(const struct meshd *d, const struct mesh_ep *local, size_t n,
			 struct mesh_ep *out, size_t max)
{
	bool fam_done[2] = { false, false };
	size_t k = 0;

	if (!d->tcp)
		return 0;
	for (size_t i = 0; i < n && k < max; i++) {
		const struct mesh_ep *l = &local[i];
		unsigned f = l->family == MESH_FAMILY_V6;

		if (l->source != MESH_EP_LOCAL || mesh_ep_private(l) || fam_done[f] ||
		    !(f ? d->tcp->lis6_on : d->tcp->lis4_on))
			continue;
		out[k] = *l;
		out[k].source = MESH_EP_TCP;
		out[k].port = d->tcp_port;
		fam_done[f] = true;
		k++;
	}
	return k;
}

enum ctl_answer meshd_tcp_ctl_set(struct meshd *d, const char *value, struct sbuf *body,
				  char *err, size_t errlen)
{
	uint16_t old = d->tcp_port, n;
	char v[8];
	int r;

	if (!mesh_tcp_port_parse(value, &n)) {
		snprintf(err, errlen, "invalid TCP port '%.32s': use 1-65535, or 0 for off", value);
		return CTL_ANSWER_ERROR;
	}
	if (n != old) {
		/* room for the current entry and two failed starts (the new
		 * port, then the old one again) */
		reap_retired(d, false);
		if (d->ntcp_old + 3 > MESHD_TCP_RETIRED_MAX) {
			snprintf(err, errlen, "the TCP entry is still closing; try again in a second");
			return CTL_ANSWER_ERROR;
		}
		retire(d);
		if (n && listen_port(d, n, err, errlen) != 0) {
			char e2[160];

			if (old && listen_port(d, old, e2, sizeof e2) != 0)
				log_warn("tcp entry: cannot listen on port %u again: %s", old, e2);
			return CTL_ANSWER_ERROR;
		}
	}
	snprintf(v, sizeof v, "%u", (unsigned)n);
	r = store_setting_put(d->st, MESH_TCP_PORT_SETTING, n ? v : NULL);
	if (r) {
		snprintf(err, errlen, "TCP entry %s, but cannot store the setting: %s",
			 n ? "moved" : "stopped", meshd_strerror(r));
		return CTL_ANSWER_ERROR;
	}
	meshd_endpoints_rescan(d);	/* advertise it, or withdraw it */
	if (n)
		sbuf_printf(body, "%u", (unsigned)n);
	else
		log_info("tcp entry: off");
	return CTL_ANSWER_OK;
}
