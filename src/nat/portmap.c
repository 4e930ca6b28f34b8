/* Port mapping lease state machine; see portmap.h for the picture. */
#include <string.h>

#include "nat/portmap.h"
#include "util/err.h"
#include "util/log.h"

enum { BACKOFF_SHIFT_MAX = 20 };	/* 2^20 s is far above the cap */

/* What _mapping() answers, to notice changes. */
struct snap {
	bool held;
	uint32_t addr;
	uint16_t port;
};

static struct snap take_snap(const struct nat_portmap *pm)
{
	struct snap s = { false, 0, 0 };

	if (pm->state == NAT_PM_S_MAPPED) {
		s.held = true;
		s.addr = pm->ext_addr.s_addr;
		s.port = pm->ext_port;
	}
	return s;
}

static void note_change(struct nat_portmap *pm, const struct snap *before)
{
	struct snap after = take_snap(pm);

	if (after.held != before->held || after.addr != before->addr ||
	    after.port != before->port)
		pm->changed++;
}

static void set_state(struct nat_portmap *pm, enum nat_pm_state s)
{
	if (pm->state == s)
		return;
	log_debug("portmap %u: %s -> %s", pm->cfg.internal_port,
		  nat_pm_state_name(pm->state), nat_pm_state_name(s));
	pm->state = s;
}

static enum nat_pm_proto other_proto(enum nat_pm_proto p)
{
	return p == NAT_PM_PROTO_NATPMP ? NAT_PM_PROTO_UPNP : NAT_PM_PROTO_NATPMP;
}

static uint64_t rnd(struct nat_portmap *pm)
{
	return pm->cfg.rand ? pm->cfg.rand(pm->cfg.rand_ctx) : 0;
}

/* Next retry after a failure: 1 s, 2 s, 4 s ... NAT_PM_BACKOFF_MAX_S, each
 * taken from [3/4 d, d]. */
static void backoff(struct nat_portmap *pm, mtime_ns now)
{
	unsigned shift = pm->fails < BACKOFF_SHIFT_MAX ? pm->fails : BACKOFF_SHIFT_MAX;
	mtime_ns d = SEC(NAT_PM_BACKOFF_MIN_S) << shift;

	if (d > SEC(NAT_PM_BACKOFF_MAX_S))
		d = SEC(NAT_PM_BACKOFF_MAX_S);
	if (pm->cfg.rand)
		d -= rnd(pm) % (d / 4 + 1);
	if (pm->fails < BACKOFF_SHIFT_MAX)
		pm->fails++;
	pm->due = now + d;
}

static void forget_gateway(struct nat_portmap *pm)
{
	pm->gw_proto = NAT_PM_PROTO_NONE;
	pm->disc_proto = pm->disc_first;
	pm->gw_ext_addr.s_addr = 0;
	pm->permanent = false;
	pm->have_epoch = false;
}

/* Another external port to suggest after a CONFLICT. */
static void pick_other_port(struct nat_portmap *pm)
{
	uint16_t cur = pm->suggest_port;
	uint32_t p;

	if (pm->cfg.rand)
		p = NAT_PM_PORT_MIN + (uint32_t)(rnd(pm) % (65536 - NAT_PM_PORT_MIN));
	else
		p = (uint32_t)cur + 1;
	if (p == cur)
		p++;
	if (p > 65535 || p < NAT_PM_PORT_MIN)
		p = NAT_PM_PORT_MIN;
	pm->suggest_port = (uint16_t)p;
}

/* RFC 6886 section 3.6: true when the gateway lost its state since the last
 * answer. Records the answer either way. */
static bool epoch_reset(struct nat_portmap *pm, mtime_ns now, uint32_t epoch)
{
	bool reset = false;

	if (pm->have_epoch) {
		uint64_t client = now > pm->last_epoch_at ?
			(now - pm->last_epoch_at) / SEC(1) : 0;
		uint64_t min_server = client - client / 16;

		if (epoch < pm->last_epoch_s)
			reset = true;
		else if ((uint64_t)(epoch - pm->last_epoch_s) + NAT_PM_EPOCH_SLACK_S
			 < min_server)
			reset = true;
	}
	pm->have_epoch = true;
	pm->last_epoch_s = epoch;
	pm->last_epoch_at = now;
	return reset;
}

int nat_portmap_init(struct nat_portmap *pm, const struct nat_portmap_cfg *cfg,
		     mtime_ns now)
{
	memset(pm, 0, sizeof *pm);
	if (cfg->internal_port == 0)
		return MESHD_E_INVAL;
	pm->cfg = *cfg;
	if (pm->cfg.external_port == 0)
		pm->cfg.external_port = cfg->internal_port;
	pm->state = NAT_PM_S_DISCOVERING;
	pm->due = now;
	pm->expires_at = MTIME_NEVER;
	pm->next_id = 1;
	pm->disc_first = NAT_PM_PROTO_NATPMP;
	pm->disc_proto = NAT_PM_PROTO_NATPMP;
	pm->suggest_port = pm->cfg.external_port;
	return 0;
}

static void expire(struct nat_portmap *pm, mtime_ns now)
{
	if (pm->state == NAT_PM_S_MAPPED && now >= pm->expires_at) {
		log_debug("portmap %u: lease of external port %u expired unrenewed",
			  pm->cfg.internal_port, pm->ext_port);
		pm->router_has_map = false;
		pm->expires_at = MTIME_NEVER;
		forget_gateway(pm);
		set_state(pm, NAT_PM_S_LOST);
	}
}

void nat_portmap_handle_expiry(struct nat_portmap *pm, mtime_ns now)
{
	struct snap before = take_snap(pm);

	expire(pm, now);
	note_change(pm, &before);
}

bool nat_portmap_next_op(struct nat_portmap *pm, mtime_ns now,
			 struct nat_pm_op *op)
{
	nat_portmap_handle_expiry(pm, now);
	memset(op, 0, sizeof *op);
	if (pm->inflight != NAT_PM_OP_NONE || pm->state == NAT_PM_S_DONE ||
	    now < pm->due)
		return false;

	op->internal_port = pm->cfg.internal_port;
	if (pm->state == NAT_PM_S_STOPPING) {
		op->kind = NAT_PM_OP_DELETE;
		op->proto = pm->map_proto;
		op->external_port = pm->ext_port;
	} else if (pm->gw_proto == NAT_PM_PROTO_NONE) {
		op->kind = NAT_PM_OP_DISCOVER;
		op->proto = pm->disc_proto;
	} else {
		op->kind = NAT_PM_OP_MAP;
		op->proto = pm->gw_proto;
		op->external_port = pm->suggest_port;
		op->lease_s = pm->permanent ? 0 : NAT_PM_LEASE_S;
	}
	op->id = pm->next_id++;
	if (pm->next_id == 0)
		pm->next_id = 1;
	pm->inflight = op->kind;
	pm->inflight_id = op->id;
	pm->inflight_proto = op->proto;
	pm->stale = false;
	return true;
}

static void discover_done(struct nat_portmap *pm, mtime_ns now,
			  enum nat_pm_proto proto, const struct nat_pm_result *res)
{
	if (pm->state == NAT_PM_S_STOPPING)
		return;
	if (res->status == NAT_PM_OK) {
		pm->gw_proto = res->proto != NAT_PM_PROTO_NONE ? res->proto : proto;
		pm->gw_ext_addr = res->ext_addr;
		pm->have_epoch = false;
		if (pm->gw_proto == NAT_PM_PROTO_NATPMP)
			(void)epoch_reset(pm, now, res->epoch_s);
		if (pm->state != NAT_PM_S_MAPPED)
			set_state(pm, NAT_PM_S_MAPPING);
		pm->due = now;
		return;
	}
	/* NAT-PMP, then UPnP at once; both failed: back off. */
	if (proto == pm->disc_first) {
		pm->disc_proto = other_proto(proto);
		pm->due = now;
	} else {
		pm->disc_proto = pm->disc_first;
		backoff(pm, now);
	}
}

static void map_ok(struct nat_portmap *pm, mtime_ns now,
		   enum nat_pm_proto proto, const struct nat_pm_result *res)
{
	if (res->ext_addr.s_addr != 0)
		pm->ext_addr = res->ext_addr;
	else if (pm->gw_ext_addr.s_addr != 0)
		pm->ext_addr = pm->gw_ext_addr;
	pm->ext_port = res->ext_port != 0 ? res->ext_port : pm->suggest_port;
	pm->suggest_port = pm->ext_port;
	pm->lifetime_s = res->lifetime_s;
	pm->map_proto = proto;
	pm->router_has_map = true;
	if (pm->state == NAT_PM_S_STOPPING)
		return;
	pm->fails = 0;
	pm->conflicts = 0;
	pm->map_tries = 0;
	if (pm->lifetime_s > 0) {
		pm->due = now + SEC(pm->lifetime_s) / 2;
		pm->expires_at = now + SEC(pm->lifetime_s);
	} else {
		pm->due = now + SEC(NAT_PM_RECHECK_S);
		pm->expires_at = now + 2 * SEC(NAT_PM_RECHECK_S);
	}
	set_state(pm, NAT_PM_S_MAPPED);
	if (proto == NAT_PM_PROTO_NATPMP && epoch_reset(pm, now, res->epoch_s)) {
		log_debug("portmap %u: gateway epoch reset, mapping again",
			  pm->cfg.internal_port);
		pm->due = now;
	}
}

static void map_failed(struct nat_portmap *pm, mtime_ns now,
		       enum nat_pm_proto proto, enum nat_pm_status st)
{
	switch (st) {
	case NAT_PM_E_ONLY_PERMANENT:
		if (!pm->permanent) {
			pm->permanent = true;
			pm->due = now;
			return;
		}
		break;	/* asked for 0 already: a plain refusal */
	case NAT_PM_E_CONFLICT:
		pick_other_port(pm);
		if (++pm->conflicts <= NAT_PM_CONFLICT_MAX) {
			pm->due = now;
			return;
		}
		pm->conflicts = 0;
		break;
	case NAT_PM_E_NO_GATEWAY:
		forget_gateway(pm);
		backoff(pm, now);
		return;
	default:
		break;
	}
	backoff(pm, now);
	if (pm->state != NAT_PM_S_MAPPED && ++pm->map_tries >= NAT_PM_MAP_TRIES_MAX) {
		/* This gateway will not map for us: try the other protocol. */
		pm->map_tries = 0;
		pm->disc_first = other_proto(proto);
		forget_gateway(pm);
	}
}

int nat_portmap_op_done(struct nat_portmap *pm, mtime_ns now,
			const struct nat_pm_result *res)
{
	struct snap before = take_snap(pm);
	enum nat_pm_op_kind kind = pm->inflight;
	enum nat_pm_proto proto = pm->inflight_proto;

	if (kind == NAT_PM_OP_NONE || res->id != pm->inflight_id)
		return MESHD_E_STATE;
	pm->inflight = NAT_PM_OP_NONE;
	log_debug("portmap %u: op %u done: %s", pm->cfg.internal_port, res->id,
		  nat_pm_status_name(res->status));

	if (pm->stale) {
		pm->stale = false;
	} else if (kind == NAT_PM_OP_DISCOVER) {
		discover_done(pm, now, proto, res);
	} else if (kind == NAT_PM_OP_MAP) {
		if (res->status == NAT_PM_OK)
			map_ok(pm, now, proto, res);
		else if (pm->state != NAT_PM_S_STOPPING)
			map_failed(pm, now, proto, res->status);
	} else {
		/* DELETE: one attempt, whatever it says. */
		pm->router_has_map = false;
	}
	if (pm->state == NAT_PM_S_STOPPING && !pm->router_has_map)
		set_state(pm, NAT_PM_S_DONE);
	if (pm->due < now)	/* overdue while the op ran: due now */
		pm->due = now;
	expire(pm, now);
	note_change(pm, &before);
	return 0;
}

void nat_portmap_network_changed(struct nat_portmap *pm, mtime_ns now)
{
	struct snap before = take_snap(pm);

	if (pm->state == NAT_PM_S_STOPPING || pm->state == NAT_PM_S_DONE)
		return;
	if (pm->inflight != NAT_PM_OP_NONE)
		pm->stale = true;
	pm->disc_first = NAT_PM_PROTO_NATPMP;
	forget_gateway(pm);
	pm->router_has_map = false;
	pm->expires_at = MTIME_NEVER;
	pm->fails = 0;
	pm->conflicts = 0;
	pm->map_tries = 0;
	pm->suggest_port = pm->cfg.external_port;
	pm->due = now;
	set_state(pm, NAT_PM_S_DISCOVERING);
	note_change(pm, &before);
}

void nat_portmap_stop(struct nat_portmap *pm, mtime_ns now)
{
	struct snap before = take_snap(pm);

	if (pm->state == NAT_PM_S_STOPPING || pm->state == NAT_PM_S_DONE)
		return;
	pm->due = now;
	pm->expires_at = MTIME_NEVER;
	if (pm->router_has_map || pm->inflight != NAT_PM_OP_NONE)
		set_state(pm, NAT_PM_S_STOPPING);
	else
		set_state(pm, NAT_PM_S_DONE);
	note_change(pm, &before);
}

mtime_ns nat_portmap_next_expiry(const struct nat_portmap *pm)
{
	mtime_ns t;

	if (pm->state == NAT_PM_S_DONE)
		return MTIME_NEVER;
	t = pm->inflight != NAT_PM_OP_NONE ? MTIME_NEVER : pm->due;
	if (pm->state == NAT_PM_S_MAPPED && pm->expires_at < t)
		t = pm->expires_at;
	return t;
}

bool nat_portmap_mapping(const struct nat_portmap *pm, union endpoint *ep)
{
	memset(ep, 0, sizeof *ep);
	if (pm->state != NAT_PM_S_MAPPED)
		return false;
	ep->sin.sin_family = AF_INET;
	ep->sin.sin_addr = pm->ext_addr;
	ep->sin.sin_port = htons(pm->ext_port);
	return true;
}

uint64_t nat_portmap_changed(const struct nat_portmap *pm)
{
	return pm->changed;
}

const char *nat_pm_state_name(enum nat_pm_state s)
{
	switch (s) {
	case NAT_PM_S_DISCOVERING: return "discovering";
	case NAT_PM_S_MAPPING: return "mapping";
	case NAT_PM_S_MAPPED: return "mapped";
	case NAT_PM_S_LOST: return "lost";
	case NAT_PM_S_STOPPING: return "stopping";
	case NAT_PM_S_DONE: return "done";
	}
	return "?";
}

const char *nat_pm_status_name(enum nat_pm_status s)
{
	switch (s) {
	case NAT_PM_OK: return "ok";
	case NAT_PM_E_NO_GATEWAY: return "no gateway";
	case NAT_PM_E_REFUSED: return "refused";
	case NAT_PM_E_ONLY_PERMANENT: return "only permanent leases";
	case NAT_PM_E_CONFLICT: return "external port taken";
	case NAT_PM_E_TIMEOUT: return "timeout";
	case NAT_PM_E_IO: return "i/o error";
	}
	return "?";
}
