/* Mesh node: our own endpoint record. It holds the merge of the daemon's
 * endpoints (LOCAL, PORTMAP: mesh_node_set_endpoints) and the reflexive ones
 * that members' PROBE_ACKs report (kept NODE_REFL_TTL_S after the last
 * report, at most NODE_REFL_PER_FAM per family), cut to MESH_ENDPOINTS_MAX.
 * It is signed with the node signing key, stored and gossiped whenever the
 * set changes, and re-signed every MESH_NODE_RESIGN_S (node.c's timers).
 */
#include <string.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "util/err.h"
#include "util/log.h"

int node_sign_endpoints(struct mesh_node *n, const struct mesh_ep *eps, uint8_t nep)
{
	struct mesh_endpoints e;
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	struct wr w;
	uint64_t seq;
	int r;

	memset(&e, 0, sizeof e);
	e.version = MESH_ENDPOINTS_VERSION;
	memcpy(e.mesh_id, n->mesh_id, MESH_ID_LEN);
	memcpy(e.node_id, n->node_id, MESH_NODE_ID_LEN);
	seq = n->now_unix * 1000;
	if (seq <= n->ep_seq)
		seq = n->ep_seq + 1;
	e.seq = seq;
	e.timestamp = n->now_unix;
	e.nep = nep;
	memcpy(e.ep, eps, nep * sizeof eps[0]);
	wr_init(&w, buf, sizeof buf);
	if ((r = mesh_endpoints_sign(&e, n->sign_sk)) != 0 ||
	    (r = mesh_endpoints_encode(&e, &w)) != 0)
		return r;
	n->ep_seq = seq;
	r = mesh_gossip_publish(n->g, MESH_REC_ENDPOINTS, buf, w.off, n->now, n->now_unix);
	if (r < 0)
		return r;
	if (r != MESH_MERGE_NEW)
		return MESHD_E_STATE;
	n->resign_at = n->now + SEC(MESH_NODE_RESIGN_S);
	return 0;
}

static bool ep_same(const struct mesh_ep *a, const struct mesh_ep *b)
{
	size_t alen = a->family == MESH_FAMILY_V4 ? 4 : 16;

	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, alen) == 0;
}

static bool ep_is_local(const struct mesh_node *n, const struct mesh_ep *ep)
{
	for (unsigned i = 0; i < n->nlocal; i++)
		if (n->local[i].source == MESH_EP_LOCAL && ep_same(&n->local[i], ep))
			return true;
	return false;
}

static bool same_ip(const struct mesh_ep *a, const struct mesh_ep *b)
{
	return a->family == b->family &&
	    memcmp(a->addr, b->addr, a->family == MESH_FAMILY_V4 ? 4 : 16) == 0;
}

/* Distinct witnesses of reflexive entries of family fam (with ip set: of
 * entries with that IP only). Each witness vouches for one entry per family,
 * so the sum over entries counts each once. */
static unsigned refl_witnesses(const struct mesh_node *n, uint8_t fam, const struct mesh_ep *ip)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n->nrefl; i++)
		if (n->refl[i].ep.family == fam && (ip == NULL || same_ip(&n->refl[i].ep, ip)))
			k += n->refl[i].nwit;
	return k;
}

/* May reflexive entry i go into our record? Two members report its IP, or
 * its one witness is the only member reporting anything for the family. */
static bool refl_confirmed(const struct mesh_node *n, unsigned i)
{
	const struct mesh_ep *ep = &n->refl[i].ep;

	return refl_witnesses(n, ep->family, ep) >= 2 || refl_witnesses(n, ep->family, NULL) == 1;
}

/* Order in which endpoints get into our record when there are more than
 * MESH_ENDPOINTS_MAX: port-mapped, TCP entries (the only way in for members
 * whose UDP is blocked), reflexive, public local, private local (the last
 * are reachable from their own network only). */
static int ep_keep_rank(const struct mesh_ep *ep)
{
	if (ep->source == MESH_EP_PORTMAP)
		return 0;
	if (ep->source == MESH_EP_TCP)
		return 1;
	if (ep->source == MESH_EP_REFLEXIVE)
		return 2;
	return mesh_ep_private(ep) ? 4 : 3;
}

/* Our endpoint set: the daemon's endpoints merged with the reflexive ones
 * (those equal to a LOCAL one left out), cut to MESH_ENDPOINTS_MAX in the
 * ep_keep_rank() order. */
void node_endpoints_merge(const struct mesh_node *n, struct mesh_endpoints *e)
{
	struct mesh_ep all[MESH_ENDPOINTS_MAX + NODE_REFL_MAX];
	size_t na = 0;

	for (unsigned i = 0; i < n->nlocal; i++)
		all[na++] = n->local[i];
	for (unsigned i = 0; i < n->nrefl; i++)
		if (!ep_is_local(n, &n->refl[i].ep) && refl_confirmed(n, i))
			all[na++] = n->refl[i].ep;
	memset(e, 0, sizeof *e);
	for (int rank = 0; rank <= 4; rank++)
		for (size_t i = 0; i < na && e->nep < MESH_ENDPOINTS_MAX; i++)
			if (ep_keep_rank(&all[i]) == rank)
				e->ep[e->nep++] = all[i];
	mesh_endpoints_normalize(e);
}

/* Signs, stores and gossips our record when the merged set differs from
 * the current one. */
static int endpoints_publish(struct mesh_node *n)
{
	struct mesh_endpoints e;

	node_endpoints_merge(n, &e);
	if (n->have_eps && n->eps.nep == e.nep &&
	    memcmp(n->eps.ep, e.ep, e.nep * sizeof e.ep[0]) == 0)
		return 0;
	return node_sign_endpoints(n, e.ep, e.nep);
}

static bool refl_has_witness(const struct mesh_node *n, unsigned i, const uint8_t *w)
{
	for (unsigned k = 0; k < n->refl[i].nwit; k++)
		if (memcmp(n->refl[i].wit[k], w, MESH_NODE_ID_LEN) == 0)
			return true;
	return false;
}

/* w now vouches for ep: it no longer vouches for another entry of the
 * family (one that no one vouches for any more goes). */
static void refl_move_witness(struct mesh_node *n, const struct mesh_ep *ep, const uint8_t *w)
{
	for (unsigned i = 0; i < n->nrefl; ) {
		struct mesh_ep *e = &n->refl[i].ep;

		if (e->family == ep->family && !ep_same(e, ep) && refl_has_witness(n, i, w)) {
			unsigned k = 0;

			while (memcmp(n->refl[i].wit[k], w, MESH_NODE_ID_LEN) != 0)
				k++;
			memmove(n->refl[i].wit[k], n->refl[i].wit[k + 1],
			    (size_t)(n->refl[i].nwit - k - 1) * MESH_NODE_ID_LEN);
			if (--n->refl[i].nwit == 0) {
				n->refl[i] = n->refl[--n->nrefl];
				continue;
			}
		}
		i++;
	}
}

/* The entry for ep: found, or a new one (a full family gives way only to
 * stale entries: behind a symmetric NAT every member sees another port,
 * and the record must not churn; there, a report of a held IP with another
 * port counts for the held entry); NODE_REFL_MAX when there is no room. */
static unsigned refl_slot(struct mesh_node *n, const struct mesh_ep *ep)
{
	unsigned i, same = 0, oldest = NODE_REFL_MAX;

	for (i = 0; i < n->nrefl; i++) {
		if (ep_same(&n->refl[i].ep, ep))
			return i;
		if (n->refl[i].ep.family != ep->family)
			continue;
		same++;
		if (oldest == NODE_REFL_MAX || n->refl[i].seen < n->refl[oldest].seen)
			oldest = i;
	}
	if (same >= NODE_REFL_PER_FAM) {
		/* full: another port of a held IP vouches for that IP */
		for (i = 0; i < n->nrefl; i++)
			if (same_ip(&n->refl[i].ep, ep))
				return i;
	}
	if (same >= NODE_REFL_PER_FAM && n->now - n->refl[oldest].seen < SEC(NODE_REFL_TTL_S / 2))
		return NODE_REFL_MAX;
	if (same >= NODE_REFL_PER_FAM)
		i = oldest;
	else if (n->nrefl < NODE_REFL_MAX)
		i = n->nrefl++;
	else
		return NODE_REFL_MAX;
	memset(&n->refl[i], 0, sizeof n->refl[i]);
	n->refl[i].ep = *ep;
	return i;
}

/* Member witness's ACK says it saw our probe come from observed. */
void node_refl_note(struct mesh_node *n, const union endpoint *observed,
    const uint8_t witness[MESH_NODE_ID_LEN])
{
	struct mesh_ep ep;
	unsigned i;
	int r;

	/* a probe that went down a TCP connection or through a relay was
	 * seen from a synthetic endpoint: that says nothing of our NAT */
	if (endpoint_is_synthetic(observed) ||
	    !node_ep_to_mesh(observed, MESH_EP_REFLEXIVE, &ep) || ep_is_local(n, &ep))
		return;
	refl_move_witness(n, &ep, witness);
	if ((i = refl_slot(n, &ep)) == NODE_REFL_MAX)
		return;
	n->refl[i].seen = n->now;
	if (!refl_has_witness(n, i, witness)) {
		if (n->refl[i].nwit == NODE_REFL_WIT)
			memmove(n->refl[i].wit[0], n->refl[i].wit[1],
			    (NODE_REFL_WIT - 1) * MESH_NODE_ID_LEN);
		else
			n->refl[i].nwit++;
		memcpy(n->refl[i].wit[n->refl[i].nwit - 1], witness, MESH_NODE_ID_LEN);
	}
	if (!n->revoked && (r = endpoints_publish(n)) != 0)
		log_warn("mesh: publishing a reflexive endpoint: %s", meshd_strerror(r));
}

/* Reflexive endpoints not reported for NODE_REFL_TTL_S go. */
void node_refl_expire(struct mesh_node *n)
{
	bool gone = false;
	int r;

	for (unsigned i = 0; i < n->nrefl; ) {
		if (n->now - n->refl[i].seen >= SEC(NODE_REFL_TTL_S)) {
			n->refl[i] = n->refl[--n->nrefl];
			gone = true;
		} else {
			i++;
		}
	}
	if (gone && !n->revoked && (r = endpoints_publish(n)) != 0)
		log_warn("mesh: publishing our endpoints: %s", meshd_strerror(r));
}

int mesh_node_set_endpoints(struct mesh_node *n, const struct mesh_ep *eps, size_t count,
    mtime_ns now, uint64_t now_unix)
{
	int r;

	enter(n, now, now_unix);
	n->nlocal = 0;
	for (size_t i = 0; i < count && n->nlocal < MESH_ENDPOINTS_MAX; i++)
		if (mesh_ep_valid(&eps[i]) && eps[i].source != MESH_EP_REFLEXIVE)
			n->local[n->nlocal++] = eps[i];
	if ((r = endpoints_publish(n)) != 0)
		return r;
	/* the daemon's scan, not its receive path: store at once (a busy
	 * store is retried by the timers) */
	(void)mesh_node_flush(n, now, now_unix);
	return 0;
}
