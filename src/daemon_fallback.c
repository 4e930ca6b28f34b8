/* The TCP fallback, client side (docs/decisions.md D17): when no member
 * answers our UDP for MESH_TCP_FB_UDP_SILENT_MS, connect to the TCP entry of
 * a member (mesh_tcp_fb_pick_entry: lowest RTT) and carry our datagrams
 * over it.
 *
 * Only datagrams for one endpoint go down the connection: the entry's UDP
 * endpoint on the same address as its TCP entry (fb.entry_udp). WireGuard
 * and the path engine reach the entry there as if over UDP, and what the
 * entry sends back is handed in as coming from that endpoint, so probes to
 * it are answered and the entry's path is DIRECT. Every other member is
 * reached through the entry as a relay (mesh/relay.h), chosen by path
 * selection as usual once the entry is the only member with a live session.
 *
 * "UDP works" is a PROBE_ACK (mesh_node_probe_acks grew during an input)
 * or a member's gossip (authenticated by WireGuard, about one a second)
 * that did not come down a TCP connection, ours or our entry's; "UDP is
 * silent" is a probe sent over UDP with no such answer for 3 s. Gossip
 * counts because probes to one dead member must not look like a dead
 * network while the live ones, idle, are probed rarely. In TCP mode
 * a probe round to every member (mesh_node_reprobe) retries UDP every
 * MESH_TCP_FB_UDP_RETRY_MS; the first answer switches back and closes the
 * connection. An entry that fails is skipped for FB_BAD_S.
 *
 * The entry itself is retried too: of each retry round, the first PROBE to
 * entry_udp goes over UDP (udp_trial), the rest down the connection. With
 * only the entry and us in the mesh that probe is the only UDP there is.
 * One lost probe does not kill the entry's path (PATH_DEAD_LOSSES is 3,
 * and the probes through the connection answer). */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "schedule.h"
#include "util/err.h"
#include "util/log.h"

enum {
	FB_TICK_MS = 250,
	FB_BAD_S = 30,		/* a failed entry is skipped this long */
	FB_RETRY_MS = 2000,	/* between connection attempts */
	FB_ENTRIES_MAX = 64,	/* entry candidates looked at per attempt */
};

static bool ep_to_endpoint(const struct mesh_ep *e, union endpoint *out)
{
	memset(out, 0, sizeof *out);
	if (e->family == MESH_FAMILY_V4) {
		out->sin.sin_family = AF_INET;
		memcpy(&out->sin.sin_addr, e->addr, 4);
		out->sin.sin_port = htons(e->port);
		return true;
	}
	if (e->family == MESH_FAMILY_V6) {
		out->sin6.sin6_family = AF_INET6;
		memcpy(&out->sin6.sin6_addr, e->addr, 16);
		out->sin6.sin6_port = htons(e->port);
		return true;
	}
	return false;
}

static bool is_bad(const struct meshd_fallback *f, const uint8_t id[MESH_NODE_ID_LEN],
		   mtime_ns now)
{
	for (size_t i = 0; i < MESHD_FB_BAD_MAX; i++)
		if (f->bad[i].until > now && !memcmp(f->bad[i].id, id, MESH_NODE_ID_LEN))
			return true;
	return false;
}

static void mark_bad(struct meshd_fallback *f, const uint8_t id[MESH_NODE_ID_LEN], mtime_ns now)
{
	size_t k = 0;

	for (size_t i = 1; i < MESHD_FB_BAD_MAX; i++)
		if (f->bad[i].until < f->bad[k].until)
			k = i;
	memcpy(f->bad[k].id, id, MESH_NODE_ID_LEN);
	f->bad[k].until = now + SEC(FB_BAD_S);
}

/* One entry candidate: a member whose record has a TCP entry and a UDP
 * endpoint on the same address. */
struct pick {
	struct meshd *d;
	mtime_ns now;
	size_t n;
	struct mesh_tcp_entry e[FB_ENTRIES_MAX];
	union endpoint tcp[FB_ENTRIES_MAX], udp[FB_ENTRIES_MAX];
	uint8_t wg_pk[FB_ENTRIES_MAX][MESH_WG_KEY_LEN];
	char name[FB_ENTRIES_MAX][MESH_NAME_MAX + 1];
};

static int pick_peer(void *ctx, const struct mesh_node_peer *p)
{
	struct pick *k = ctx;
	const struct mesh_ep *t = NULL, *u = NULL;

	if (k->n == FB_ENTRIES_MAX)
		return 1;
	for (unsigned i = 0; i < p->nep && !t; i++)
		if (mesh_ep_is_tcp(&p->ep[i]))
			t = &p->ep[i];
	for (unsigned i = 0; t && i < p->nep && !u; i++)
		if (!mesh_ep_is_tcp(&p->ep[i]) && p->ep[i].family == t->family &&
		    !memcmp(p->ep[i].addr, t->addr, 16))
			u = &p->ep[i];
	if (!t || !u || !ep_to_endpoint(t, &k->tcp[k->n]) || !ep_to_endpoint(u, &k->udp[k->n]))
		return 0;
	memcpy(k->e[k->n].node_id, p->node_id, MESH_NODE_ID_LEN);
	k->e[k->n].rtt_ms = p->rtt_ms > 0 ? (uint32_t)p->rtt_ms : 0;
	k->e[k->n].usable = !is_bad(&k->d->fb, p->node_id, k->now);
	memcpy(k->wg_pk[k->n], p->wg_pk, MESH_WG_KEY_LEN);
	snprintf(k->name[k->n], sizeof k->name[k->n], "%s", p->name);
	k->n++;
	return 0;
}

static int has_entry(void *ctx, const struct mesh_node_peer *p)
{
	(void)ctx;
	for (unsigned i = 0; i < p->nep; i++)
		if (mesh_ep_is_tcp(&p->ep[i]))
			return 1;	/* stops the walk */
	return 0;
}

/* Does any member advertise a TCP entry? Asked only while UDP is silent,
 * and at most every FB_RETRY_MS. */
static bool entry_offered(struct meshd *d, mtime_ns now)
{
	struct meshd_fallback *f = &d->fb;

	if (now < f->next_offer_check)
		return f->offered;
	f->next_offer_check = now + MSEC(FB_RETRY_MS);
	f->offered = mesh_node_foreach_peer(d->node, has_entry, NULL) == 1;
	return f->offered;
}

static int cli_frame(void *ctx, struct mesh_tcp_cli *c, const uint8_t *f, size_t len,
		     mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME])
{
	struct meshd *d = ctx;

	return d->node ? mesh_node_tcp_cli_frame(d->node, c, f, len, now, out) : MESHD_E_STATE;
}

static void cli_deliver(void *ctx, uint8_t *buf, size_t len, mtime_ns now)
{
	struct meshd *d = ctx;

	if (!d->node || d->dev.stopping || len == 0)
		return;
	d->fb.from_tcp = true;
	if (buf[0] == WGDEV_MESH_MAGIC)
		meshd_underlay_input(d, &d->fb.entry_udp, buf, len, now);
	else
		wgdev_input_datagram(&d->dev, buf, len, &d->fb.entry_udp);
	d->fb.from_tcp = false;
	wgdev_rearm(&d->dev);
	meshd_check_revoked(d);
}

static void cli_state(void *ctx, enum tcp_client_state st)
{
	struct meshd *d = ctx;
	struct meshd_fallback *f = &d->fb;
	mtime_ns now = sched_now();

	if (st == TCP_CLIENT_READY) {
		log_info("tcp fallback: traffic goes through %s's TCP entry", f->entry_name);
		f->ready = true;
		d->dev.override_all = true;
		if (d->node) {
			/* UDP has been silent for seconds: every other member
			 * through the entry now, not after probe time-outs */
			mesh_node_udp_lost(d->node, f->entry_id, now, meshd_now_unix());
			wgdev_rearm(&d->dev);
		}
		return;
	}
	/* FAILED: the client closes itself; freed here, another entry next */
	tcp_client_free(f->cli);
	f->cli = NULL;
	f->ready = false;
	d->dev.override_all = false;
	mark_bad(f, f->entry_id, now);
	f->next_connect = now + MSEC(FB_RETRY_MS);
}

static void disconnect(struct meshd *d)
{
	struct meshd_fallback *f = &d->fb;

	if (f->cli) {
		tcp_client_free(f->cli);
		f->cli = NULL;
	}
	f->ready = false;
	d->dev.override_all = false;
}

static void connect_entry(struct meshd *d, mtime_ns now)
{
	struct meshd_fallback *f = &d->fb;
	struct mesh_node_self self;
	struct tcp_client_cfg cfg = { .loop = &d->loop, .frame = cli_frame,
				      .deliver = cli_deliver, .state = cli_state, .ctx = d };
	struct pick *k;
	char a[ENDPOINT_STRLEN];
	int i;

	f->next_connect = now + MSEC(FB_RETRY_MS);
	k = calloc(1, sizeof *k);
	if (!k)
		return;
	k->d = d;
	k->now = now;
	(void)mesh_node_foreach_peer(d->node, pick_peer, k);
	i = mesh_tcp_fb_pick_entry(k->e, k->n);
	if (i < 0) {
		if (!f->said_none)
			log_warn("tcp fallback: no member offers a usable TCP entry (meshd set "
				 "--tcp-port 443 on a member with a public address)");
		f->said_none = true;
		free(k);
		return;
	}
	f->said_none = false;
	mesh_node_get_self(d->node, &self);
	cfg.entry = k->tcp[i];
	memcpy(cfg.mesh_id, self.mesh_id, MESH_ID_LEN);
	memcpy(cfg.server_key, k->wg_pk[i], MESH_TCP_KEY_LEN);
	memcpy(cfg.node_id, self.node_id, MESH_NODE_ID_LEN);
	memcpy(f->entry_id, k->e[i].node_id, MESH_NODE_ID_LEN);
	f->entry_udp = k->udp[i];
	snprintf(f->entry_name, sizeof f->entry_name, "%s", k->name[i]);
	log_info("tcp fallback: connecting to %s's TCP entry %s", f->entry_name,
		 endpoint_format(&k->tcp[i], a, sizeof a));
	f->cli = tcp_client_start(&cfg);
	if (!f->cli)
		mark_bad(f, f->entry_id, now);
	free(k);
}

static void on_tick(uv_timer_t *t)
{
	struct meshd *d = t->data;
	struct meshd_fallback *f = &d->fb;
	mtime_ns now = sched_now();
	int act;

	if (!d->node || d->dev.stopping)
		return;
	/* UDP silent, but no member offers an entry: stay on UDP and leave the
	 * path engines alone (a joining node behind a NAT is silent for
	 * seconds too); the switch happens once an entry shows up */
	if (f->fb.mode == MESH_TCP_FB_UDP && mesh_tcp_fb_next_expiry(&f->fb) <= now &&
	    !entry_offered(d, now))
		return;
	act = mesh_tcp_fb_handle_expiry(&f->fb, now);
	if (act & MESH_TCP_FB_TO_TCP)
		log_info("tcp fallback: no member answered over UDP for %d s: trying TCP",
			 MESH_TCP_FB_UDP_SILENT_MS / 1000);
	if (act & MESH_TCP_FB_TRY_UDP) {
		f->udp_trial = 1;
		mesh_node_reprobe(d->node, now, meshd_now_unix());
		wgdev_rearm(&d->dev);
	}
	if (f->fb.mode == MESH_TCP_FB_TCP && !f->cli && now >= f->next_connect)
		connect_entry(d, now);
}

bool meshd_fallback_send(struct meshd *d, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct meshd_fallback *f = &d->fb;

	if (!f->ready || !endpoint_eq(dst, &f->entry_udp))
		return false;
	if (f->udp_trial > 0 && len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC &&
	    p[1] == MESH_MSG_PROBE) {
		f->udp_trial--;
		return false;	/* this one tries UDP */
	}
	if (tcp_client_send(f->cli, p, len) != 0)
		f->send_drops++;
	return true;
}

void meshd_fallback_udp_sent(struct meshd *d)
{
	if (d->fb.on)
		mesh_tcp_fb_on_udp_sent(&d->fb.fb, sched_now());
}

void meshd_fallback_udp_answer(struct meshd *d)
{
	struct meshd_fallback *f = &d->fb;

	if (!f->on || f->from_tcp || d->tcp_input)
		return;
	if (mesh_tcp_fb_on_udp_answer(&f->fb, sched_now())) {
		log_info("tcp fallback: UDP answers again: back to UDP");
		disconnect(d);
	}
}

void meshd_fallback_input_done(struct meshd *d, uint64_t acks_before)
{
	if (d->node && mesh_node_probe_acks(d->node) != acks_before)
		meshd_fallback_udp_answer(d);
}

bool meshd_fallback_tcp(const struct meshd *d)
{
	return d->fb.ready;
}

int meshd_fallback_start(struct meshd *d)
{
	struct meshd_fallback *f = &d->fb;

	mesh_tcp_fb_init(&f->fb);
	if (uv_timer_init(&d->loop, &f->timer) != 0)
		return MESHD_E_SYS;
	f->timer.data = d;
	f->on = true;
	/* the join just now found UDP blocked: no 3 s of silence first */
	if (d->opts.udp_blocked && mesh_tcp_fb_on_udp_error(&f->fb, sched_now()))
		log_info("tcp fallback: the join got no answer over UDP: starting over TCP");
	uv_timer_start(&f->timer, on_tick, FB_TICK_MS, FB_TICK_MS);
	return 0;
}

void meshd_fallback_stop(struct meshd *d)
{
	struct meshd_fallback *f = &d->fb;

	if (!f->on)
		return;
	disconnect(d);
	uv_close((uv_handle_t *)&f->timer, NULL);
	f->on = false;
}
