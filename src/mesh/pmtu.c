/* Path MTU discovery for one peer (mesh/pmtu.h). */
#include <string.h>

#include "mesh/pmtu.h"
#include "util/err.h"

void mesh_pmtu_init(struct mesh_pmtu *pm, const struct mesh_pmtu_cfg *cfg)
{
	memset(pm, 0, sizeof *pm);
	pm->cfg = *cfg;
	pm->state = MESH_PMTU_OFF;
	pm->deadline = pm->confirm_at = pm->raise_at = pm->retry_at = MTIME_NEVER;
}

static void set_mtu(struct mesh_pmtu *pm, uint16_t mtu)
{
	uint16_t old = pm->mtu;

	if (old == mtu)
		return;
	pm->mtu = mtu;
	if (pm->cfg.changed != NULL)
		pm->cfg.changed(pm->cfg.ctx, old, mtu);
}

static mtime_ns probe_timeout(const struct mesh_pmtu *pm)
{
	mtime_ns t = MSEC(MESH_PMTU_PROBE_TIMEOUT_MS) + 2 * pm->rtt;

	return t > MSEC(MESH_PMTU_PROBE_TIMEOUT_MAX_MS) ? MSEC(MESH_PMTU_PROBE_TIMEOUT_MAX_MS) : t;
}

/* Sends (or re-sends) the probe of size pm->size. */
static void send_probe(struct mesh_pmtu *pm, mtime_ns now)
{
	pm->txid = pm->cfg.rand != NULL ? pm->cfg.rand(pm->cfg.ctx) : pm->txid + 1;
	pm->tries++;
	pm->sent_at = now;
	pm->deadline = now + probe_timeout(pm);
	if (pm->cfg.probe != NULL)
		pm->cfg.probe(pm->cfg.ctx, pm->size, pm->txid);
}

static void probe_size(struct mesh_pmtu *pm, uint16_t size, mtime_ns now)
{
	pm->size = size;
	pm->tries = 0;
	send_probe(pm, now);
}

/* The search is over: lo is the path MTU. */
static void finish(struct mesh_pmtu *pm, mtime_ns now)
{
	pm->state = MESH_PMTU_DONE;
	pm->size = 0;
	pm->deadline = MTIME_NEVER;
	pm->confirming = false;
	pm->found_in = now - pm->search_started;
	set_mtu(pm, pm->lo);
	pm->confirm_at = now + SEC(MESH_PMTU_CONFIRM_S);
	pm->raise_at = pm->lo < pm->max ? now + SEC(MESH_PMTU_RAISE_S) : MTIME_NEVER;
}

/* The next step of a search: max first, BASE while nothing answered, then
 * halves of [lo, hi); done when no size is left in between. */
static void step(struct mesh_pmtu *pm, mtime_ns now)
{
	if (!pm->tried_max) {
		pm->tried_max = true;
		probe_size(pm, pm->max, now);
		return;
	}
	if (pm->lo == 0) {
		if (pm->hi <= MESH_PMTU_BASE) {
			/* BASE itself was lost: dead path or an old peer */
			pm->state = MESH_PMTU_NOANSWER;
			pm->size = 0;
			pm->deadline = MTIME_NEVER;
			pm->retry_at = now + SEC(MESH_PMTU_RETRY_S);
			return;
		}
		probe_size(pm, MESH_PMTU_BASE, now);
		return;
	}
	if (pm->hi - pm->lo <= 1) {
		finish(pm, now);
		return;
	}
	probe_size(pm, (uint16_t)(pm->lo + (pm->hi - pm->lo) / 2), now);
}

static void search(struct mesh_pmtu *pm, uint16_t lo, uint16_t hi, bool tried_max, mtime_ns now)
{
	pm->state = MESH_PMTU_SEARCH;
	pm->lo = lo;
	pm->hi = hi;
	pm->tried_max = tried_max;
	pm->confirming = false;
	pm->confirm_at = pm->raise_at = pm->retry_at = MTIME_NEVER;
	pm->search_started = now;
	step(pm, now);
}

void mesh_pmtu_start(struct mesh_pmtu *pm, uint16_t max, mtime_ns now)
{
	pm->max = max < MESH_PMTU_BASE ? MESH_PMTU_BASE : max;
	pm->rtt = 0;
	set_mtu(pm, 0);
	search(pm, 0, (uint16_t)(pm->max + 1), false, now);
}

void mesh_pmtu_stop(struct mesh_pmtu *pm)
{
	pm->state = MESH_PMTU_OFF;
	pm->size = 0;
	pm->deadline = pm->confirm_at = pm->raise_at = pm->retry_at = MTIME_NEVER;
	set_mtu(pm, 0);
}

int mesh_pmtu_input_ack(struct mesh_pmtu *pm, uint64_t txid, mtime_ns now)
{
	if (pm->size == 0 || txid != pm->txid || pm->state == MESH_PMTU_OFF)
		return MESHD_E_NOENT;
	pm->rtt = now > pm->sent_at ? now - pm->sent_at : 0;
	pm->deadline = MTIME_NEVER;
	if (pm->state == MESH_PMTU_DONE) {
		uint16_t lost = pm->lo;

		pm->size = 0;
		pm->confirm_at = now + SEC(MESH_PMTU_CONFIRM_S);
		if (pm->confirming) {
			pm->confirming = false;
			return 0;	/* the found size still passes */
		}
		/* BASE passes where the found size no longer does: a black
		 * hole. BASE at once, then search below the lost size. */
		set_mtu(pm, MESH_PMTU_BASE);
		search(pm, MESH_PMTU_BASE, lost, true, now);
		return 0;
	}
	if (pm->size > pm->lo)
		pm->lo = pm->size;
	pm->size = 0;
	step(pm, now);
	return 0;
}

void mesh_pmtu_input_ptb(struct mesh_pmtu *pm, uint16_t mtu, mtime_ns now)
{
	if (mtu < MESH_PMTU_BASE)
		return;		/* below what any IPv6 path may have: not believed */
	if (pm->state == MESH_PMTU_OFF || pm->state == MESH_PMTU_NOANSWER) {
		if (pm->mtu == 0 || mtu < pm->mtu)
			set_mtu(pm, mtu);
		return;
	}
	if (mtu >= pm->hi || (pm->state == MESH_PMTU_DONE && pm->mtu != 0 && mtu >= pm->mtu))
		return;		/* says nothing new */
	/* Believe it now (the inner senders learn at once), confirm by probe. */
	if (pm->mtu == 0 || mtu < pm->mtu)
		set_mtu(pm, mtu);
	if (pm->state != MESH_PMTU_SEARCH)
		pm->search_started = now;
	pm->state = MESH_PMTU_SEARCH;
	if (pm->lo > mtu)
		pm->lo = 0;	/* a larger one passed before: the path changed */
	pm->hi = (uint16_t)(mtu + 1);
	pm->tried_max = true;
	pm->confirming = false;
	pm->confirm_at = pm->raise_at = pm->retry_at = MTIME_NEVER;
	if (pm->lo == mtu)
		finish(pm, now);
	else
		probe_size(pm, mtu, now);	/* the hinted size itself first */
}

mtime_ns mesh_pmtu_next_expiry(const struct mesh_pmtu *pm)
{
	mtime_ns t = pm->deadline;

	if (pm->confirm_at < t)
		t = pm->confirm_at;
	if (pm->raise_at < t)
		t = pm->raise_at;
	if (pm->retry_at < t)
		t = pm->retry_at;
	return t;
}

/* The outstanding probe was lost. */
static void probe_lost(struct mesh_pmtu *pm, mtime_ns now)
{
	pm->deadline = MTIME_NEVER;
	if (pm->tries < MESH_PMTU_MAX_PROBES) {
		send_probe(pm, now);
		return;
	}
	if (pm->state == MESH_PMTU_DONE) {
		if (pm->confirming && pm->lo > MESH_PMTU_BASE) {
			/* the found size no longer passes: is the path alive? */
			pm->confirming = false;
			probe_size(pm, MESH_PMTU_BASE, now);
			return;
		}
		/* BASE lost too: the path is dead, not small; the path engine
		 * deals with that. Check again later. */
		pm->confirming = false;
		pm->size = 0;
		pm->confirm_at = now + SEC(MESH_PMTU_CONFIRM_S);
		return;
	}
	if (pm->size < pm->hi)
		pm->hi = pm->size;
	pm->size = 0;
	step(pm, now);
}

void mesh_pmtu_handle_expiry(struct mesh_pmtu *pm, mtime_ns now)
{
	if (pm->state == MESH_PMTU_OFF)
		return;
	if (pm->deadline <= now) {
		probe_lost(pm, now);
		return;
	}
	if (pm->retry_at <= now && pm->state == MESH_PMTU_NOANSWER) {
		pm->retry_at = MTIME_NEVER;
		search(pm, 0, (uint16_t)(pm->max + 1), false, now);
		return;
	}
	if (pm->state != MESH_PMTU_DONE || pm->size != 0)
		return;
	if (pm->raise_at <= now) {
		search(pm, pm->lo, (uint16_t)(pm->max + 1), false, now);
		return;
	}
	if (pm->confirm_at <= now) {
		pm->confirm_at = MTIME_NEVER;
		pm->confirming = true;
		probe_size(pm, pm->lo, now);
	}
}
