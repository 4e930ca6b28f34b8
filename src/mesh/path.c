/* Per-peer path selection (mesh/path.h): probe rounds, probes and losses,
 * the choice of a path, idle peers, punching and timers. The candidate set
 * is in path_candidates.c, the state both share in path_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "mesh/path_internal.h"
#include "util/err.h"
#include "util/rand.h"

static uint64_t rnd(struct mesh_path *p)
{
	if (p->cfg.rand != NULL)
		return p->cfg.rand(p->cfg.ctx);
	return splitmix64(&p->rng);
}

/* Twice the probe slots, up to PATH_TX_MAX; false when at the maximum or
 * out of memory. */
static bool tx_grow(struct mesh_path *p)
{
	size_t n = p->tx_cap ? 2 * p->tx_cap : 4;
	struct tx *t;

	if (p->tx_cap >= PATH_TX_MAX)
		return false;
	if (n > PATH_TX_MAX)
		n = PATH_TX_MAX;
	if ((t = realloc(p->tx, n * sizeof *t)) == NULL)
		return false;
	memset(t + p->tx_cap, 0, (n - p->tx_cap) * sizeof *t);
	p->tx = t;
	p->tx_cap = n;
	return true;
}

static void choice_of(const struct mesh_path *p, struct mesh_path_choice *out)
{
	memset(out, 0, sizeof *out);
	out->since = p->since;
	if (p->active >= 0) {
		const struct cand *c = &p->cand[p->active];

		out->kind = MESH_PATH_DIRECT;
		out->cls = c->cls;
		out->ep = c->sa;
		out->rtt_ms = c->has_rtt ? us_to_ms(c->srtt_us) : 0;
	} else if (p->relay_active >= 0) {
		const struct mesh_path_relay *r = &p->relay[p->relay_active];

		out->kind = MESH_PATH_RELAY;
		out->cls = MESH_PATH_CLASS_RELAY;
		memcpy(out->relay_id, r->node_id, sizeof out->relay_id);
		out->rtt_ms = r->rtt_ms;
	}
}

static void notify(struct mesh_path *p)
{
	struct mesh_path_choice c;

	p->stats.switches++;
	if (p->cfg.changed == NULL)
		return;
	choice_of(p, &c);
	p->cfg.changed(p->cfg.ctx, &c);
}

static mtime_ns keepalive_delay(struct mesh_path *p)
{
	return MSEC(PATH_KEEPALIVE_MIN_MS +
	    rnd(p) % (PATH_KEEPALIVE_MAX_MS - PATH_KEEPALIVE_MIN_MS + 1));
}

/* New candidates, no direct path yet: the warm schedule, idle or not. */
static bool fresh(const struct mesh_path *p, mtime_ns now)
{
	return p->active < 0 && now < p->fresh_until;
}

/* When the next periodic round is due after one at now: warm (or fresh),
 * every PATH_REEVAL_MS (direct) or PATH_RETRY_MS; idle, after the
 * back-off, which then doubles. */
void path_schedule_round(struct mesh_path *p, mtime_ns now)
{
	if (p->ncand == 0) {
		p->next_round = MTIME_NEVER;
	} else if (p->idle && !fresh(p, now)) {
		p->next_round = now + p->idle_backoff;
		p->idle_backoff *= 2;
		if (p->idle_backoff > MSEC(PATH_IDLE_REPROBE_MAX_MS))
			p->idle_backoff = MSEC(PATH_IDLE_REPROBE_MAX_MS);
	} else {
		p->next_round = now + MSEC(p->active >= 0 ? PATH_REEVAL_MS : PATH_RETRY_MS);
	}
}

/* The hold after the dry-th silent round: PATH_RETRY_MS doubling, capped. */
static mtime_ns backoff(unsigned dry)
{
	uint64_t ms = PATH_RETRY_MS;

	while (dry-- > 1 && ms < PATH_BACKOFF_MAX_MS)
		ms *= 2;
	return MSEC(ms < PATH_BACKOFF_MAX_MS ? ms : PATH_BACKOFF_MAX_MS);
}

/* True while a probe to candidate i is out and not yet lost. */
static bool in_flight(const struct mesh_path *p, size_t i, mtime_ns now)
{
	for (size_t k = 0; k < p->tx_cap; k++)
		if (p->tx[k].used && p->tx[k].cand == (int)i && p->tx[k].deadline > now)
			return true;
	return false;
}

/* A punch round probes every candidate; any other skips the never-answering
 * candidates still held, and holds those that stayed silent once more. */
static void start_round_n(struct mesh_path *p, mtime_ns now, unsigned burst, bool punch)
{
	size_t i;

	for (i = 0; i < p->ncand; i++) {
		struct cand *c = &p->cand[i];

		/* one that answered once (a link that went down) keeps the
		 * plain retry: it is worth finding again quickly */
		if (!punch && c->acked == 0 && c->unacked_since != MTIME_NEVER) {
			if (c->dry > 0 && now < c->hold_until)
				continue;
			/* Its last probes can still be answered: it has not
			 * been silent yet. A round right after another (the
			 * peer went warm 100 ms after the first round) must
			 * not count, or the back-off runs a step ahead. */
			if (in_flight(p, i, now))
				continue;
			c->dry++;
			c->hold_until = now + backoff(c->dry);
		}
		if (c->burst_left < burst)
			c->burst_left = burst;
		c->next_burst = now;
	}
	if (p->ncand > 0)
		p->stats.rounds++;
	path_schedule_round(p, now);
}

/* A full round (events: candidates, failure); silent candidates keep
 * their hold. */
void path_start_round(struct mesh_path *p, mtime_ns now)
{
	start_round_n(p, now, PATH_PUNCH_BURST, false);
}

/* The active path gets keepalive probes: warm, kept for its NAT mapping,
 * or to be verified after a loss. */
static bool keepalive_on(const struct mesh_path *p)
{
	return p->active >= 0 && (!p->idle || p->idle_keepalive || p->recheck);
}

/* A round for a changed candidate set: now, or when the last one is
 * PATH_CHANGE_GAP_MS old. */
void path_change_round(struct mesh_path *p, mtime_ns now)
{
	mtime_ns at = p->change_round_at + MSEC(PATH_CHANGE_GAP_MS);

	if (!p->changed_once || now >= at) {
		p->changed_once = true;
		p->change_round_at = now;
		path_start_round(p, now);
	} else if (p->ncand > 0 && at < p->next_round) {
		p->next_round = at;
	}
}

/* True when a beats b: class first, then smoothed RTT. */
static bool cand_better(const struct cand *a, const struct cand *b)
{
	if (a->cls != b->cls)
		return a->cls > b->cls;
	return a->srtt_us < b->srtt_us;
}

/* The clear-gain rule: rtt (us) below base (us) by > PCT % and > MIN ms. */
static bool clear_gain(uint64_t rtt, uint64_t base)
{
	return rtt * 100 < base * (100 - PATH_SWITCH_PCT) &&
	    rtt + (uint64_t)PATH_SWITCH_MIN_MS * 1000 < base;
}

static int best_relay(const struct mesh_path *p)
{
	int best = -1;
	size_t i;

	for (i = 0; i < p->nrelay; i++)
		if (best < 0 || p->relay[i].rtt_ms < p->relay[best].rtt_ms)
			best = (int)i;
	return best;
}

void path_reset_streaks(struct mesh_path *p)
{
	size_t i;

	for (i = 0; i < p->ncand; i++)
		p->cand[i].streak = 0;
}

static void set_direct(struct mesh_path *p, int i, mtime_ns now, bool verify)
{
	bool was_direct = p->active >= 0;

	p->active = i;
	p->relay_active = -1;
	p->since = now;
	p->next_keepalive = verify ? now : now + keepalive_delay(p);
	p->recheck = verify;
	path_reset_streaks(p);
	if (!was_direct && p->ncand > 0 && !p->idle)
		p->next_round = now + MSEC(PATH_REEVAL_MS);
	notify(p);
}

/* No usable direct path: the best relay, else NONE. Notifies on change. */
static void fall_back(struct mesh_path *p, mtime_ns now, bool was_direct)
{
	int r = best_relay(p);
	bool changed = was_direct || p->active >= 0 || p->relay_active != r;

	p->active = -1;
	p->relay_active = r;
	if (changed) {
		p->since = now;
		notify(p);
	}
}

/* The active direct path died: the next best usable candidate (probed at
 * once), else a relay; and a round to look for something better. */
void path_fail_over_kind(struct mesh_path *p, mtime_ns now, bool round)
{
	int best = -1;
	size_t i;

	for (i = 0; i < p->ncand; i++)
		if (p->cand[i].usable && (best < 0 || cand_better(&p->cand[i], &p->cand[best])))
			best = (int)i;
	if (best >= 0) {
		set_direct(p, best, now, true);
	} else {
		fall_back(p, now, true);
	}
	if (round)
		path_start_round(p, now);
}

/* The active path died (lost probes). Without another usable direct
 * candidate, the rounds that look for one keep the warm schedule for
 * PATH_FRESH_MS, idle or not, as for new candidates: a path that just
 * died is most often a short outage (loss, a busy host, a NAT that
 * forgot the mapping), and an idle peer's next round would otherwise come
 * PATH_IDLE_REPROBE_MIN_MS or more later, leaving a member that still
 * answers without a path (and a relay's clients without their relay)
 * for a minute. */
static void fail_over(struct mesh_path *p, mtime_ns now)
{
	bool other = false;

	for (size_t i = 0; i < p->ncand; i++)
		other |= p->cand[i].usable;
	if (!other) {
		p->fresh_until = now + MSEC(PATH_FRESH_MS);
		if (p->idle)
			p->idle_backoff = MSEC(PATH_IDLE_REPROBE_MIN_MS);
	}
	path_fail_over_kind(p, now, true);
}

static void mark_dead(struct mesh_path *p, int i, mtime_ns now)
{
	struct cand *c = &p->cand[i];

	c->usable = false;
	c->streak = 0;
	if (p->active == i)
		fail_over(p, now);
}

static mtime_ns probe_timeout(const struct cand *c)
{
	/* nothing known yet: the longest wait */
	uint64_t ms = c->has_rtt ? 3 * c->srtt_us / 1000 : PATH_PROBE_TIMEOUT_MAX_MS;

	if (ms < PATH_PROBE_TIMEOUT_MS)
		ms = PATH_PROBE_TIMEOUT_MS;
	if (ms > PATH_PROBE_TIMEOUT_MAX_MS)
		ms = PATH_PROBE_TIMEOUT_MAX_MS;
	return MSEC(ms);
}

static void lose(struct mesh_path *p, struct tx *t, mtime_ns now)
{
	int i = t->cand;
	struct cand *c = &p->cand[i];

	t->used = false;
	c->lost++;
	c->losses++;
	p->stats.losses++;
	if (c->usable && c->losses >= PATH_DEAD_LOSSES) {
		mark_dead(p, i, now);
		return;
	}
	/* the active path missed one: check again at once */
	if (p->active == i) {
		p->next_keepalive = now;
		p->recheck = true;
	}
}

static void send_probe(struct mesh_path *p, int i, mtime_ns now)
{
	struct cand *c = &p->cand[i];
	struct tx *t = NULL;
	uint64_t txid;
	size_t k;

	for (k = 0; k < p->tx_cap; k++)
		if (!p->tx[k].used) {
			t = &p->tx[k];
			break;
		}
	if (t == NULL && tx_grow(p))
		t = &p->tx[k];		/* the first new slot */
	if (t == NULL) {
		if (p->tx_cap == 0)
			return;		/* no memory for even one probe slot */
		/* full: the oldest outstanding probe counts as lost */
		t = &p->tx[0];
		for (k = 1; k < p->tx_cap; k++)
			if (p->tx[k].deadline < t->deadline)
				t = &p->tx[k];
		lose(p, t, now);
	}
	for (;;) {
		txid = rnd(p);
		if (txid == 0)
			continue;
		for (k = 0; k < p->tx_cap; k++)
			if (p->tx[k].used && p->tx[k].txid == txid)
				break;
		if (k == p->tx_cap)
			break;
	}
	t->used = true;
	t->txid = txid;
	t->sent = now;
	t->deadline = now + probe_timeout(c);
	t->cand = i;
	c->sent++;
	if (c->unacked_since == MTIME_NEVER)
		c->unacked_since = now;
	p->stats.probes_sent++;
	if (p->active == i) {
		p->next_keepalive = now + keepalive_delay(p);
		p->recheck = false;
	}
	p->cfg.probe(p->cfg.ctx, &c->sa, txid);
}

struct mesh_path *mesh_path_new(const struct mesh_path_cfg *cfg, int *err)
{
	struct mesh_path *p;

	if (cfg->probe == NULL) {
		*err = MESHD_E_INVAL;
		return NULL;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL) {
		*err = MESHD_E_NOMEM;
		return NULL;
	}
	p->cfg = *cfg;
	p->rng = cfg->rng_seed;
	p->active = -1;
	p->relay_active = -1;
	p->next_keepalive = MTIME_NEVER;
	p->next_round = MTIME_NEVER;
	*err = 0;
	return p;
}

void mesh_path_free(struct mesh_path *p)
{
	if (p == NULL)
		return;
	free(p->local);
	free(p->cand);
	free(p->tx);
	free(p);
}

int mesh_path_set_relays(struct mesh_path *p, const struct mesh_path_relay *r, size_t n,
    mtime_ns now)
{
	uint8_t cur[MESH_NODE_ID_LEN];
	bool had = p->relay_active >= 0;
	int keep = -1, best;
	size_t i;

	if (n > PATH_RELAY_MAX)
		return MESHD_E_RANGE;
	if (had)
		memcpy(cur, p->relay[p->relay_active].node_id, sizeof cur);
	if (n > 0)
		memcpy(p->relay, r, n * sizeof *r);
	p->nrelay = n;
	if (p->active >= 0)
		return 0;
	if (had)
		for (i = 0; i < n; i++)
			if (memcmp(p->relay[i].node_id, cur, sizeof cur) == 0)
				keep = (int)i;
	best = best_relay(p);
	if (keep >= 0 && best >= 0 && best != keep &&
	    !clear_gain((uint64_t)p->relay[best].rtt_ms * 1000,
	    (uint64_t)p->relay[keep].rtt_ms * 1000))
		best = keep;
	if (keep >= 0 && best == keep) {
		p->relay_active = keep;	/* same relay, maybe a new slot or RTT */
		return 0;
	}
	p->relay_active = best;
	if (had || best >= 0) {
		p->since = now;
		notify(p);
	}
	return 0;
}

void mesh_path_set_idle(struct mesh_path *p, bool idle, bool keepalive, mtime_ns now)
{
	if (!idle) {
		p->idle_keepalive = false;
		if (!p->idle)
			return;
		p->idle = false;
		/* traffic is waiting: look now, and verify the active path */
		path_start_round(p, now);
		if (p->active >= 0)
			p->next_keepalive = now;
		return;
	}
	if (keepalive && !p->idle_keepalive && p->active >= 0 &&
	    p->next_keepalive > now + keepalive_delay(p))
		p->next_keepalive = now + keepalive_delay(p);
	p->idle_keepalive = keepalive;
	if (p->idle)
		return;
	p->idle = true;
	p->idle_backoff = MSEC(PATH_IDLE_REPROBE_MIN_MS);
	if (p->ncand > 0 && !fresh(p, now)) {
		p->next_round = now + p->idle_backoff;
		p->idle_backoff *= 2;
	}
}

bool mesh_path_is_idle(const struct mesh_path *p)
{
	return p->idle;
}

/* The punch-round bucket, refilled: a token a second, PATH_PUNCH_ROUND_S
 * tokens a round. */
static bool punch_token(struct mesh_path *p, mtime_ns now)
{
	mesh_bucket_refill(&p->punch_b, now, 1, PATH_PUNCH_ROUNDS_BURST * PATH_PUNCH_ROUND_S);
	return mesh_bucket_has(&p->punch_b, PATH_PUNCH_ROUND_S);
}

static void punch_round(struct mesh_path *p, mtime_ns now)
{
	mesh_bucket_take(&p->punch_b, PATH_PUNCH_ROUND_S);
	p->punch_pending = false;
	start_round_n(p, now, PATH_PUNCH_BURST, true);
}

void mesh_path_punch(struct mesh_path *p, mtime_ns now)
{
	if (punch_token(p, now)) {
		punch_round(p, now);
		return;
	}
	p->stats.punches_held++;
	p->punch_pending = true;
}

mtime_ns mesh_path_last_ack(const struct mesh_path *p)
{
	return p->active >= 0 ? p->cand[p->active].last_ack : 0;
}

void mesh_path_recheck(struct mesh_path *p, mtime_ns now)
{
	if (p->active < 0 || p->recheck)
		return;
	p->next_keepalive = now;
	p->recheck = true;
}

void mesh_path_udp_lost(struct mesh_path *p, mtime_ns now)
{
	bool was_direct = p->active >= 0;

	for (size_t i = 0; i < p->ncand; i++) {
		p->cand[i].usable = false;
		p->cand[i].streak = 0;
	}
	if (was_direct)
		fall_back(p, now, true);
}

int mesh_path_input_ack(struct mesh_path *p, uint64_t txid, const union endpoint *src,
    mtime_ns now)
{
	struct tx *t = NULL;
	struct cand *c, *a;
	uint64_t rtt;
	size_t k;
	int i;

	for (k = 0; k < p->tx_cap; k++)
		if (p->tx[k].used && p->tx[k].txid == txid) {
			t = &p->tx[k];
			break;
		}
	if (t == NULL || txid == 0) {
		p->stats.acks_rejected++;
		return MESHD_E_NOENT;
	}
	i = t->cand;
	c = &p->cand[i];
	if (src != NULL && !path_src_matches(src, &c->sa)) {
		p->stats.acks_rejected++;
		return MESHD_E_PROTO;
	}
	t->used = false;
	rtt = now > t->sent ? (now - t->sent) / 1000 : 0;
	c->acked++;
	c->last_ack = now;
	p->stats.acks++;
	c->losses = 0;
	c->unacked_since = MTIME_NEVER;
	c->dry = 0;
	c->hold_until = 0;
	c->usable = true;
	c->last_rtt_us = rtt;
	c->srtt_us = c->has_rtt ? (7 * c->srtt_us + rtt) / 8 : rtt;
	c->has_rtt = true;

	if (p->active == i)
		return 0;
	if (p->active < 0) {
		set_direct(p, i, now, false);
		return 0;
	}
	a = &p->cand[p->active];
	if (c->cls > a->cls) {
		set_direct(p, i, now, false);
		return 0;
	}
	if (c->cls == a->cls && clear_gain(c->srtt_us, a->srtt_us) &&
	    clear_gain(c->last_rtt_us, a->srtt_us)) {
		if (++c->streak >= PATH_SWITCH_SUSTAIN)
			set_direct(p, i, now, false);
	} else {
		c->streak = 0;
	}
	return 0;
}

mtime_ns mesh_path_next_expiry(const struct mesh_path *p)
{
	mtime_ns t = p->next_round;
	size_t i;

#define EARLIER(x) do { if ((x) < t) t = (x); } while (0)
	for (i = 0; i < p->tx_cap; i++)
		if (p->tx[i].used)
			EARLIER(p->tx[i].deadline);
	for (i = 0; i < p->ncand; i++) {
		const struct cand *c = &p->cand[i];

		if (c->burst_left > 0)
			EARLIER(c->next_burst);
		if (c->usable && c->unacked_since != MTIME_NEVER)
			EARLIER(c->unacked_since + MSEC(PATH_DEAD_MS));
	}
	if (keepalive_on(p))
		EARLIER(p->next_keepalive);
	if (p->punch_pending) {
		/* the bucket gains a thousandth of a token a millisecond */
		uint64_t need = (uint64_t)PATH_PUNCH_ROUND_S * MESH_BUCKET_MILLI;

		EARLIER(p->punch_b.last + MSEC(need > p->punch_b.milli ? need - p->punch_b.milli : 0));
	}
#undef EARLIER
	return t;
}

void mesh_path_handle_expiry(struct mesh_path *p, mtime_ns now)
{
	size_t i;

	/* losses first: they may fail over and start a round */
	for (i = 0; i < p->tx_cap; i++)
		if (p->tx[i].used && p->tx[i].deadline <= now)
			lose(p, &p->tx[i], now);
	for (i = 0; i < p->ncand; i++) {
		struct cand *c = &p->cand[i];

		if (c->usable && c->unacked_since != MTIME_NEVER &&
		    now >= c->unacked_since + MSEC(PATH_DEAD_MS))
			mark_dead(p, (int)i, now);
	}
	path_sweep_prflx(p);
	if (p->punch_pending && punch_token(p, now))
		punch_round(p, now);
	if (p->next_round <= now)
		start_round_n(p, now, p->idle && !fresh(p, now) ? PATH_IDLE_BURST : PATH_PUNCH_BURST,
		    false);
	for (i = 0; i < p->ncand; i++) {
		struct cand *c = &p->cand[i];

		if (c->burst_left > 0 && c->next_burst <= now) {
			bool trig = c->trig;

			c->trig = false;
			c->burst_left--;
			c->next_burst = now + MSEC(PATH_PUNCH_GAP_MS);
			if (!trig && c->acked == 0 && p->cfg.allow != NULL &&
			    !p->cfg.allow(p->cfg.ctx, &c->sa, now)) {
				p->stats.probes_denied++;
			} else {
				p->stats.triggered += trig;
				send_probe(p, (int)i, now);
			}
		}
	}
	if (keepalive_on(p) && p->next_keepalive <= now) {
		p->stats.keepalives++;
		send_probe(p, p->active, now);
	}
}

void mesh_path_current(const struct mesh_path *p, struct mesh_path_choice *out)
{
	choice_of(p, out);
}

void mesh_path_get_stats(const struct mesh_path *p, struct mesh_path_stats *out)
{
	*out = p->stats;
}
