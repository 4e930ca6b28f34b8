/* The path selector's candidate set (mesh/path_internal.h): our prefixes
 * and the class (LAN or WAN) they give a candidate, the candidates a
 * peer's records name, peer-reflexive ones learnt from its PROBEs, and
 * their stats. A changed set starts a round (path.c). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/path_internal.h"
#include "util/err.h"

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
bool path_src_matches(const union endpoint *src, const union endpoint *c)
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
		path_start_round(p, now);
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
			path_fail_over_kind(p, now, false);
	}
	path_reset_streaks(p);
	if (p->idle)
		p->idle_backoff = MSEC(PATH_IDLE_REPROBE_MIN_MS);	/* news: back-off anew */
	p->fresh_until = now + MSEC(PATH_FRESH_MS);
	punch_credit(p);
	path_change_round(p, now);
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
		path_schedule_round(p, now);
	return i;
}

int mesh_path_input_probe(struct mesh_path *p, const union endpoint *src, mtime_ns now)
{
	struct mesh_ep ep;
	struct cand *c;
	int i = -1;

	for (size_t k = 0; k < p->ncand; k++)
		if (path_src_matches(src, &p->cand[k].sa)) {
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
void path_sweep_prflx(struct mesh_path *p)
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
