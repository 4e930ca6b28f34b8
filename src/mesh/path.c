/* Per-peer path selection (mesh/path.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/bucket.h"
#include "mesh/path.h"
#include "util/err.h"

struct cand {
	struct mesh_ep ep;
	union endpoint sa;
	enum mesh_path_class cls;
	bool usable;
	bool has_rtt;
	uint64_t srtt_us, last_rtt_us;
	unsigned losses;		/* consecutive */
	mtime_ns unacked_since;		/* first probe sent since the last answer */
	mtime_ns last_ack;		/* 0: never */
	unsigned burst_left;
	mtime_ns next_burst;
	unsigned streak;		/* answers in a row clearly beating the active path */
	unsigned dry;			/* scheduled rounds without an answer */
	mtime_ns hold_until;		/* skips scheduled rounds until then */
	uint64_t sent, acked, lost;
	bool prflx;			/* peer-reflexive: learnt from a PROBE */
	bool trig;			/* the next burst probe is a triggered check */
	mtime_ns trigger_at;		/* no triggered check before then */
};

struct tx {
	uint64_t txid;
	mtime_ns sent, deadline;
	int cand;
	bool used;
};

struct mesh_path {
	struct mesh_path_cfg cfg;
	uint64_t rng;
	/* Sized to what is used (most peers have 2 to 4 candidates and a few
	 * probes out), not to the maxima: a peer's engine was 5 KB. */
	struct mesh_path_prefix *local;	/* nlocal entries */
	size_t nlocal;
	struct cand *cand;		/* cand_cap entries, ncand used */
	size_t ncand, cand_cap;
	struct mesh_path_relay relay[PATH_RELAY_MAX];
	size_t nrelay;
	struct tx *tx;			/* tx_cap slots (<= PATH_TX_MAX) */
	size_t tx_cap;
	int active;			/* direct: index into cand, else -1 */
	int relay_active;		/* relay: index into relay, else -1 */
	mtime_ns since;
	mtime_ns next_keepalive;	/* active direct path */
	mtime_ns next_round;
	bool idle;			/* mesh_path_set_idle() */
	bool idle_keepalive;		/* idle, but keep the NAT mapping */
	bool recheck;			/* idle: verify the active path now */
	mtime_ns idle_backoff;		/* until the next idle round */
	bool changed_once;
	mtime_ns change_round_at;	/* last round started by a candidate change */
	mtime_ns fresh_until;		/* a changed candidate set: warm rounds */
	struct mesh_bucket punch_b;	/* punch rounds (PATH_PUNCH_ROUNDS_*) */
	bool punch_pending;		/* a punch waits for a token */
	struct mesh_path_stats stats;
};

static uint64_t rnd(struct mesh_path *p)
{
	uint64_t z;

	if (p->cfg.rand != NULL)
		return p->cfg.rand(p->cfg.ctx);
	/* splitmix64 */
	z = (p->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Room for n candidates (n <= PATH_CAND_MAX); false when out of memory. */
static bool cand_reserve(struct mesh_path *p, size_t n)
{
	struct cand *c;

	if (n <= p->cand_cap)
		return true;
	if ((c = realloc(p->cand, n * sizeof *c)) == NULL)
		return false;
	p->cand = c;
	p->cand_cap = n;
	return true;
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

void mesh_path_ep_to_endpoint(const struct mesh_ep *ep, union endpoint *out)
{
	memset(out, 0, sizeof *out);
	if (ep->family == MESH_FAMILY_V4) {
		out->sin.sin_family = AF_INET;
		memcpy(&out->sin.sin_addr, ep->addr, 4);
		out->sin.sin_port = htons(ep->port);
	} else if (ep->family == MESH_FAMILY_V6) {
		out->sin6.sin6_family = AF_INET6;
		memcpy(&out->sin6.sin6_addr, ep->addr, 16);
		out->sin6.sin6_port = htons(ep->port);
	}
}

static bool same_addr(const struct mesh_ep *a, const struct mesh_ep *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

/* src (possibly IPv4-mapped, with a scope id) names the candidate's address. */
static bool src_matches(const union endpoint *src, const union endpoint *c)
{
	union endpoint s = *src;

	endpoint_unmap(&s);
	if (s.sa.sa_family != c->sa.sa_family)
		return false;
	if (s.sa.sa_family == AF_INET)
		return s.sin.sin_port == c->sin.sin_port &&
		    memcmp(&s.sin.sin_addr, &c->sin.sin_addr, 4) == 0;
	if (s.sa.sa_family == AF_INET6)
		return s.sin6.sin6_port == c->sin6.sin6_port &&
		    memcmp(&s.sin6.sin6_addr, &c->sin6.sin6_addr, 16) == 0;
	return false;
}

static bool in_prefix(const struct mesh_path_prefix *pf, const struct mesh_ep *ep)
{
	return pf->family == ep->family && pf->plen <= mesh_family_bits(ep->family) &&
	    mesh_bits_equal(pf->addr, ep->addr, pf->plen);
}

static enum mesh_path_class classify(const struct mesh_path *p, const struct mesh_ep *ep)
{
	size_t i;

	if (ep->source == MESH_EP_LOCAL || ep->source == PATH_SRC_PRFLX)
		for (i = 0; i < p->nlocal; i++)
			if (in_prefix(&p->local[i], ep))
				return MESH_PATH_CLASS_LAN;
	return MESH_PATH_CLASS_WAN;
}

static uint32_t us_to_ms(uint64_t us)
{
	uint64_t ms = (us + 500) / 1000;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
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
static void schedule_round(struct mesh_path *p, mtime_ns now)
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
	schedule_round(p, now);
}

/* A full round (events: candidates, failure); silent candidates keep
 * their hold. */
static void start_round(struct mesh_path *p, mtime_ns now)
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
static void change_round(struct mesh_path *p, mtime_ns now)
{
	mtime_ns at = p->change_round_at + MSEC(PATH_CHANGE_GAP_MS);

	if (!p->changed_once || now >= at) {
		p->changed_once = true;
		p->change_round_at = now;
		start_round(p, now);
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

static void reset_streaks(struct mesh_path *p)
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
	reset_streaks(p);
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
static void fail_over_kind(struct mesh_path *p, mtime_ns now, bool round)
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
		start_round(p, now);
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
	fail_over_kind(p, now, true);
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

int mesh_path_set_local(struct mesh_path *p, const struct mesh_path_prefix *pfx, size_t n,
    mtime_ns now)
{
	bool changed = false;
	size_t i;

	if (n > PATH_LOCAL_MAX)
		return MESHD_E_RANGE;
	for (i = 0; i < n; i++)
		if (!((pfx[i].family == MESH_FAMILY_V4 && pfx[i].plen <= 32) ||
		    (pfx[i].family == MESH_FAMILY_V6 && pfx[i].plen <= 128)))
			return MESHD_E_RANGE;
	if (n != p->nlocal) {
		struct mesh_path_prefix *l = NULL;

		if (n > 0 && (l = malloc(n * sizeof *l)) == NULL)
			return MESHD_E_NOMEM;
		free(p->local);
		p->local = l;
	}
	if (n > 0)
		memcpy(p->local, pfx, n * sizeof *pfx);
	p->nlocal = n;
	for (i = 0; i < p->ncand; i++) {
		enum mesh_path_class cls = classify(p, &p->cand[i].ep);

		if (cls != p->cand[i].cls) {
			p->cand[i].cls = cls;
			changed = true;
		}
	}
	if (changed)
		start_round(p, now);
	return 0;
}

/* News (a changed candidate set) earns one punch round: the new
 * candidates are worth punching at once, and changes are rate-limited. */
static void punch_credit(struct mesh_path *p)
{
	uint64_t cap = (uint64_t)PATH_PUNCH_ROUNDS_BURST * PATH_PUNCH_ROUND_S * MESH_BUCKET_MILLI;

	if (!p->punch_b.primed)
		return;		/* fresh: full anyway */
	p->punch_b.milli += (uint64_t)PATH_PUNCH_ROUND_S * MESH_BUCKET_MILLI;
	if (p->punch_b.milli > cap)
		p->punch_b.milli = cap;
}

int mesh_path_set_candidates(struct mesh_path *p, const struct mesh_ep *eps, size_t n,
    mtime_ns now)
{
	struct cand next[PATH_CAND_MAX];
	int map[PATH_CAND_MAX];	/* old index -> new index, or -1 */
	size_t nn = 0, i, j;
	bool changed;
	int was_active = p->active;

	for (i = 0; i < n; i++) {
		enum mesh_path_class cls;

		if (!mesh_ep_valid(&eps[i]))
			continue;
		cls = classify(p, &eps[i]);
		for (j = 0; j < nn; j++)
			if (same_addr(&next[j].ep, &eps[i]))
				break;
		if (j < nn) {
			if (cls > next[j].cls) {
				next[j].cls = cls;
				next[j].ep.source = eps[i].source;
			}
			continue;
		}
		if (nn == PATH_CAND_MAX)
			return MESHD_E_RANGE;
		memset(&next[nn], 0, sizeof next[nn]);
		next[nn].ep = eps[i];
		mesh_path_ep_to_endpoint(&eps[i], &next[nn].sa);
		next[nn].cls = cls;
		next[nn].unacked_since = MTIME_NEVER;
		nn++;
	}
	/* peer-reflexive candidates stay unless the record names them now */
	for (i = 0; i < p->ncand && nn < PATH_CAND_MAX; i++) {
		if (!p->cand[i].prflx)
			continue;
		for (j = 0; j < nn; j++)
			if (same_addr(&next[j].ep, &p->cand[i].ep))
				break;
		if (j < nn)
			continue;
		memset(&next[nn], 0, sizeof next[nn]);
		next[nn].ep = p->cand[i].ep;
		next[nn].sa = p->cand[i].sa;
		next[nn].cls = classify(p, &p->cand[i].ep);
		next[nn].unacked_since = MTIME_NEVER;
		nn++;
	}
	/* carry the state of candidates we keep */
	changed = nn != p->ncand;
	for (i = 0; i < p->ncand; i++) {
		map[i] = -1;
		for (j = 0; j < nn; j++)
			if (same_addr(&p->cand[i].ep, &next[j].ep)) {
				enum mesh_path_class cls = next[j].cls;
				struct mesh_ep ep = next[j].ep;

				if (cls != p->cand[i].cls || ep.source != p->cand[i].ep.source ||
				    i != j)
					changed = true;
				next[j] = p->cand[i];
				next[j].cls = cls;
				next[j].ep = ep;
				next[j].prflx = ep.source == PATH_SRC_PRFLX;
				map[i] = (int)j;
				break;
			}
		if (map[i] < 0)
			changed = true;
	}
	if (!changed)
		return 0;
	if (!cand_reserve(p, nn))
		return MESHD_E_NOMEM;
	for (i = 0; i < p->tx_cap; i++) {
		if (!p->tx[i].used)
			continue;
		if (map[p->tx[i].cand] < 0)
			p->tx[i].used = false;
		else
			p->tx[i].cand = map[p->tx[i].cand];
	}
	if (nn > 0)
		memcpy(p->cand, next, nn * sizeof next[0]);
	p->ncand = nn;
	if (was_active >= 0) {
		p->active = map[was_active];
		if (p->active < 0)
			fail_over_kind(p, now, false);
	}
	reset_streaks(p);
	if (p->idle)
		p->idle_backoff = MSEC(PATH_IDLE_REPROBE_MIN_MS);	/* news: back-off anew */
	p->fresh_until = now + MSEC(PATH_FRESH_MS);
	punch_credit(p);
	change_round(p, now);
	return 0;
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
		start_round(p, now);
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
	if (src != NULL && !src_matches(src, &c->sa)) {
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

/* src as a peer-reflexive mesh_ep; false for anything that is no unicast
 * address and port, and for the synthetic endpoints of relays and TCP
 * entries (0100::/8). */
static bool prflx_of(const union endpoint *src, struct mesh_ep *ep)
{
	union endpoint s = *src;

	endpoint_unmap(&s);
	memset(ep, 0, sizeof *ep);
	ep->source = MESH_EP_LOCAL;	/* for mesh_ep_valid */
	if (s.sa.sa_family == AF_INET) {
		ep->family = MESH_FAMILY_V4;
		memcpy(ep->addr, &s.sin.sin_addr, 4);
		ep->port = ntohs(s.sin.sin_port);
	} else if (s.sa.sa_family == AF_INET6) {
		ep->family = MESH_FAMILY_V6;
		memcpy(ep->addr, &s.sin6.sin6_addr, 16);
		ep->port = ntohs(s.sin6.sin6_port);
		if (endpoint_is_synthetic(&s))
			return false;
	} else {
		return false;
	}
	if (!mesh_ep_valid(ep))
		return false;
	ep->source = PATH_SRC_PRFLX;
	return true;
}

static void drop_tx_of(struct mesh_path *p, int i)
{
	for (size_t k = 0; k < p->tx_cap; k++)
		if (p->tx[k].used && p->tx[k].cand == i)
			p->tx[k].used = false;
}

/* A slot for a new peer-reflexive candidate: a free one while fewer than
 * PATH_PRFLX_MAX exist, else the inactive one heard from longest ago. */
static int add_prflx(struct mesh_path *p, const struct mesh_ep *ep, mtime_ns now)
{
	size_t nprflx = 0, k;
	int victim = -1, i;
	struct cand *c;

	for (k = 0; k < p->ncand; k++) {
		if (!p->cand[k].prflx)
			continue;
		nprflx++;
		if (p->active != (int)k &&
		    (victim < 0 || p->cand[k].last_ack < p->cand[victim].last_ack))
			victim = (int)k;
	}
	if (nprflx < PATH_PRFLX_MAX && p->ncand < PATH_CAND_MAX && cand_reserve(p, p->ncand + 1)) {
		i = (int)p->ncand++;
	} else if (victim >= 0) {
		i = victim;
		drop_tx_of(p, i);
	} else {
		return -1;
	}
	c = &p->cand[i];
	memset(c, 0, sizeof *c);
	c->ep = *ep;
	mesh_path_ep_to_endpoint(ep, &c->sa);
	c->cls = classify(p, ep);
	c->unacked_since = MTIME_NEVER;
	c->prflx = true;
	p->stats.prflx_added++;
	if (p->next_round == MTIME_NEVER)
		schedule_round(p, now);
	return i;
}

int mesh_path_input_probe(struct mesh_path *p, const union endpoint *src, mtime_ns now)
{
	struct mesh_ep ep;
	struct cand *c;
	int i = -1;

	for (size_t k = 0; k < p->ncand; k++)
		if (src_matches(src, &p->cand[k].sa)) {
			i = (int)k;
			break;
		}
	if (i < 0) {
		if (!prflx_of(src, &ep))
			return MESHD_E_INVAL;
		if ((i = add_prflx(p, &ep, now)) < 0)
			return MESHD_E_RANGE;
	}
	c = &p->cand[i];
	if ((p->active == i && c->usable) || now < c->trigger_at)
		return 0;
	c->trigger_at = now + MSEC(PATH_TRIGGER_GAP_MS);
	c->trig = true;
	if (c->burst_left == 0)
		c->burst_left = 1;
	c->next_burst = now;
	return 0;
}

/* Peer-reflexive candidates that went silent leave (not the active one). */
static void sweep_prflx(struct mesh_path *p)
{
	size_t i = 0;

	while (i < p->ncand) {
		struct cand *c = &p->cand[i];

		if (!c->prflx || c->usable || p->active == (int)i || c->burst_left > 0 ||
		    c->losses < PATH_DEAD_LOSSES) {
			i++;
			continue;
		}
		drop_tx_of(p, (int)i);
		for (size_t k = 0; k < p->tx_cap; k++)
			if (p->tx[k].used && p->tx[k].cand > (int)i)
				p->tx[k].cand--;
		memmove(c, c + 1, (p->ncand - i - 1) * sizeof *c);
		p->ncand--;
		if (p->active > (int)i)
			p->active--;
	}
	if (p->ncand == 0)
		p->next_round = MTIME_NEVER;
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
	sweep_prflx(p);
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

size_t mesh_path_ncand(const struct mesh_path *p)
{
	return p->ncand;
}

int mesh_path_cand_stats(const struct mesh_path *p, size_t i, struct mesh_path_cand_stats *out)
{
	const struct cand *c;

	memset(out, 0, sizeof *out);
	if (i >= p->ncand)
		return MESHD_E_NOENT;
	c = &p->cand[i];
	out->ep = c->ep;
	out->addr = c->sa;
	out->cls = c->cls;
	out->usable = c->usable;
	out->active = p->active == (int)i;
	out->rtt_ms = c->has_rtt ? us_to_ms(c->srtt_us) : 0;
	out->last_rtt_ms = c->has_rtt ? us_to_ms(c->last_rtt_us) : 0;
	out->sent = c->sent;
	out->acked = c->acked;
	out->lost = c->lost;
	return 0;
}

void mesh_path_get_stats(const struct mesh_path *p, struct mesh_path_stats *out)
{
	*out = p->stats;
}
