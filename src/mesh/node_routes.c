/* Mesh node: subnet routes (mesh/node.h "subnet routes", records in
 * mesh/routes.h). Which prefixes are installed for which member (approved in
 * its cert AND advertised in its ROUTES record, minus those refused for
 * overlapping the overlay, another member's route or a working underlay
 * path), putting them into wg allowed IPs and the kernel through
 * ops.route_add/route_del, and the two ways the set changes: our own
 * advertisement and an admin's approval (a re-issued cert).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "util/err.h"
#include "util/log.h"

/* ---- helpers that only touch one peer ---- */

static int prefix_af(const struct mesh_prefix *r)
{
	return r->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
}

static bool prefix_in(const struct mesh_prefix *r, const struct mesh_prefix *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++)
		if (mesh_prefix_cmp(r, &v[i]) == 0)
			return true;
	return false;
}

/* Takes p->inst[i] out: wg allowed IP, then the kernel route. */
static void route_uninstall(struct mesh_node *n, struct npeer *p, unsigned i)
{
	struct mesh_prefix r = p->inst[i];
	char a[MESH_PREFIX_STRLEN];

	if (p->wp != NULL)
		(void)wg_peer_allowedip_remove(n->wg, p->wp, prefix_af(&r), r.addr, r.len);
	p->inst[i] = p->inst[--p->ninst];
	memset(&p->inst[p->ninst], 0, sizeof p->inst[0]);
	if (p->ninst == 0) {
		free(p->inst);
		p->inst = NULL;
	}
	n->cands_dirty = true;
	(void)mesh_prefix_format(&r, a, sizeof a);
	log_info("mesh: member %s: route %s removed", p->name, a);
	if (n->ops.route_del != NULL)
		n->ops.route_del(n->ctx, &r);
}

static void route_install(struct mesh_node *n, struct npeer *p, const struct mesh_prefix *r)
{
	char a[MESH_PREFIX_STRLEN];
	int e;

	(void)mesh_prefix_format(r, a, sizeof a);
	if (p->wp == NULL || p->ninst >= MESH_CERT_MAX_ROUTES)
		return;
	if (p->inst == NULL && (p->inst = calloc(MESH_CERT_MAX_ROUTES, sizeof *p->inst)) == NULL) {
		log_warn("mesh: member %s: route %s: out of memory", p->name, a);
		return;
	}
	if ((e = wg_peer_allowedip_add(n->wg, p->wp, prefix_af(r), r->addr, r->len)) != 0) {
		log_warn("mesh: member %s: route %s: allowed IP: %s", p->name, a,
		    meshd_strerror(e));
		return;
	}
	p->inst[p->ninst++] = *r;
	n->cands_dirty = true;
	log_info("mesh: member %s: route %s installed", p->name, a);
	if (n->ops.route_add != NULL)
		n->ops.route_add(n->ctx, r);
}

/* Every installed route of p goes (revocation, expiry, farewell). */
void node_routes_uninstall_all(struct mesh_node *n, struct npeer *p)
{
	while (p->ninst > 0)
		route_uninstall(n, p, p->ninst - 1);
	p->nrefused = 0;
	free(p->refused);
	p->refused = NULL;
}

/* After wg lost p's allowed IPs (cleared, or a new wg peer): put the
 * installed routes back in wg; the kernel routes never left. */
void node_routes_rewire(struct mesh_node *n, struct npeer *p)
{
	for (unsigned i = 0; p->wp != NULL && i < p->ninst; i++)
		if (wg_peer_allowedip_add(n->wg, p->wp, prefix_af(&p->inst[i]), p->inst[i].addr,
		    p->inst[i].len) != 0)
			log_warn("mesh: member %s: a route's allowed IP not set", p->name);
}

/* ---- the installed sets ---- */

struct want {
	struct npeer *p;
	uint8_t nw;
	struct mesh_prefix w[MESH_CERT_MAX_ROUTES];	/* approved and advertised */
	bool ok[MESH_CERT_MAX_ROUTES];			/* chosen for installing */
	const char *why[MESH_CERT_MAX_ROUTES];		/* refused: why */
};

static int want_name_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	return strcmp(x->p->name, y->p->name);
}

/* Why r may never be installed for any member, or NULL.
 *  - A route that covers one of our own underlay addresses: we are on that
 *    network, and the route would pull our own LAN (and our tunnel's
 *    packets) into the tunnel.
 *  - A route that covers the working underlay path of a peer (the path
 *    engine's DIRECT endpoint: probes came back from it): the tunnel would
 *    route into itself. Candidates that are merely being tried do not
 *    count (a gateway's own LAN address is always in its LAN route); they
 *    are skipped instead once such a route is installed (cand_blocked). */
static const char *route_refusal(const struct mesh_node *n, const struct mesh_prefix *r)
{
	uint8_t fam, addr[16];

	if (r->len == 0)
		return "default routes (exit nodes) are not supported";
	if (mesh_prefix_overlaps(r, &n->prefix4) || mesh_prefix_overlaps(r, &n->prefix6))
		return "overlaps the mesh overlay";
	for (unsigned i = 0; n->have_eps && i < n->eps.nep && i < MESH_ENDPOINTS_MAX; i++)
		if (n->eps.ep[i].source == MESH_EP_LOCAL &&
		    mesh_prefix_contains_addr(r, n->eps.ep[i].family, n->eps.ep[i].addr))
			return "covers this node's own underlay address (it is on that network)";
	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		if (p->wp == NULL || p->farewell || p->choice.kind != MESH_PATH_DIRECT)
			continue;
		if (node_ep_addr(&p->choice.ep, &fam, addr) && mesh_prefix_contains_addr(r, fam, addr))
			return "covers the working underlay path to a member";
	}
	return NULL;
}

/* The prefixes that are both approved (cert) and advertised (ROUTES). */
static void want_fill(const struct mesh_node *n, struct want *w)
{
	struct mesh_cert c;
	struct mesh_routes rt;

	w->nw = 0;
	if (w->p->wp == NULL || w->p->farewell ||
	    mesh_records_routes(n->recs, w->p->node_id, &rt) != 0 || rt.n == 0 ||
	    mesh_records_cert(n->recs, w->p->node_id, &c) != 0)
		return;
	for (unsigned i = 0; i < c.nroutes && i < MESH_CERT_MAX_ROUTES; i++) {
		if (!prefix_in(&c.routes[i], rt.r, rt.n))
			continue;
		w->w[w->nw] = c.routes[i];
		w->why[w->nw] = route_refusal(n, &c.routes[i]);
		w->ok[w->nw] = false;
		w->nw++;
	}
}

/* True when r overlaps a prefix already chosen for a member other than
 * v[self]. */
static bool route_taken(const struct want *v, size_t nv, size_t self,
    const struct mesh_prefix *r)
{
	for (size_t i = 0; i < nv; i++)
		for (unsigned j = 0; i != self && j < v[i].nw; j++)
			if (v[i].ok[j] && mesh_prefix_overlaps(&v[i].w[j], r))
				return true;
	return false;
}

/* One pass choosing the wanted prefixes that are (installed == true) or are
 * not (false) installed now; the first pass lets installed routes keep
 * their place (first come keeps it). */
static void want_choose(struct want *v, size_t nv, bool installed)
{
	for (size_t i = 0; i < nv; i++) {
		for (unsigned j = 0; j < v[i].nw; j++) {
			if (v[i].why[j] != NULL || v[i].ok[j] ||
			    prefix_in(&v[i].w[j], v[i].p->inst, v[i].p->ninst) != installed)
				continue;
			if (route_taken(v, nv, i, &v[i].w[j]))
				v[i].why[j] = "overlaps a route installed for another member";
			else
				v[i].ok[j] = true;
		}
	}
}

/* Logs the refusals of w that were not refused last time, and remembers
 * them. */
static void want_log(struct want *w)
{
	struct npeer *p = w->p;
	struct mesh_prefix old[MESH_CERT_MAX_ROUTES];
	uint8_t nold = p->nrefused;
	char a[MESH_PREFIX_STRLEN];

	if (nold > 0)
		memcpy(old, p->refused, nold * sizeof old[0]);
	p->nrefused = 0;
	for (unsigned j = 0; j < w->nw; j++) {
		if (w->ok[j])
			continue;
		if (p->refused == NULL &&
		    (p->refused = calloc(MESH_CERT_MAX_ROUTES, sizeof *p->refused)) == NULL)
			break;	/* only the log-once memory is lost */
		p->refused[p->nrefused++] = w->w[j];
		if (prefix_in(&w->w[j], old, nold))
			continue;
		(void)mesh_prefix_format(&w->w[j], a, sizeof a);
		log_warn("mesh: member %s: route %s not installed: %s", p->name, a,
		    w->why[j] != NULL ? w->why[j] : "refused");
	}
	if (p->nrefused == 0) {
		free(p->refused);
		p->refused = NULL;
	}
}

/* After the installed routes changed: every peer's candidates again (those
 * inside an installed route are left out). */
static void cands_refresh(struct mesh_node *n)
{
	struct mesh_endpoints e;

	if (!n->cands_dirty)
		return;
	n->cands_dirty = false;
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell)
			node_peer_set_candidates(n, n->peers[i],
			    mesh_records_endpoints(n->recs, n->peers[i]->node_id, &e) == 0 ?
			    &e : NULL);
}

/* Brings every member's installed routes in line with its approved and
 * advertised ones (mesh/node.h "subnet routes"): removals first, so that a
 * prefix moving between members is never held twice. */
void node_routes_recompute(struct mesh_node *n)
{
	struct want *v;
	size_t nv = n->npeers;

	if (n->loading)
		return;
	n->routes_dirty = false;
	if (nv == 0)
		return;
	if ((v = calloc(nv, sizeof *v)) == NULL) {
		log_error("mesh: routes: out of memory");
		return;
	}
	for (size_t i = 0; i < nv; i++) {
		v[i].p = n->peers[i];
		want_fill(n, &v[i]);
	}
	qsort(v, nv, sizeof *v, want_name_cmp);
	want_choose(v, nv, true);
	want_choose(v, nv, false);
	for (size_t i = 0; i < nv; i++) {
		struct npeer *p = v[i].p;

		for (unsigned j = p->ninst; j-- > 0; ) {
			bool keep = false;

			for (unsigned k = 0; k < v[i].nw && !keep; k++)
				keep = v[i].ok[k] && mesh_prefix_cmp(&v[i].w[k], &p->inst[j]) == 0;
			if (!keep)
				route_uninstall(n, p, j);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		for (unsigned k = 0; k < v[i].nw; k++)
			if (v[i].ok[k] && !prefix_in(&v[i].w[k], v[i].p->inst, v[i].p->ninst))
				route_install(n, v[i].p, &v[i].w[k]);
		want_log(&v[i]);
	}
	free(v);
	cands_refresh(n);
}

/* ---- our advertisement, approvals ---- */

/* Hands a record we have just signed to gossip, which must take it as new
 * (anything else means our own sequence went wrong: MESHD_E_STATE), then
 * flushes the store. 0 or a negative MESHD_E_*. */
static int publish_new(struct mesh_node *n, enum mesh_rec_kind kind, const uint8_t *buf,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	int e = mesh_gossip_publish(n->g, kind, buf, len, now, now_unix);

	if (e >= 0 && e != MESH_MERGE_NEW)
		return MESHD_E_STATE;
	if (e < 0)
		return e;
	(void)mesh_node_flush(n, now, now_unix);	/* busy: the timers retry */
	return 0;
}

int mesh_node_set_advertised(struct mesh_node *n, const struct mesh_prefix *r, size_t count,
    mtime_ns now, uint64_t now_unix, char *err, size_t errlen)
{
	struct mesh_routes rt;
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct wr w;
	uint64_t seq;
	int e;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (count > 0 && r == NULL)
		return MESHD_E_INVAL;
	if ((e = mesh_routes_check_advert(r, count, &n->prefix4, &n->prefix6, err, errlen)) != 0)
		return e;
	enter(n, now, now_unix);
	memset(&rt, 0, sizeof rt);
	rt.version = MESH_ROUTES_VERSION;
	memcpy(rt.mesh_id, n->mesh_id, MESH_ID_LEN);
	memcpy(rt.node_id, n->node_id, MESH_NODE_ID_LEN);
	rt.n = (uint8_t)count;
	if (count > 0)
		memcpy(rt.r, r, count * sizeof r[0]);
	mesh_routes_normalize(&rt);
	if (n->have_rt ? (n->rt.n == rt.n && memcmp(n->rt.r, rt.r, rt.n * sizeof rt.r[0]) == 0) :
	    rt.n == 0)
		return 0;
	seq = now_unix * 1000;
	if (seq <= n->rt_seq)
		seq = n->rt_seq + 1;
	rt.seq = seq;
	rt.timestamp = now_unix;
	wr_init(&w, buf, sizeof buf);
	if ((e = mesh_routes_sign(&rt, n->sign_sk)) != 0 ||
	    (e = mesh_routes_encode(&rt, &w)) != 0)
		goto fail;
	n->rt_seq = seq;
	if ((e = publish_new(n, MESH_REC_ROUTES, buf, w.off, now, now_unix)) != 0)
		goto fail;
	return 0;
fail:
	set_err(err, errlen, "signing our routes: %s", meshd_strerror(e));
	return e;
}

/* The cert of the member called name (us included): 0 or MESHD_E_NOENT. */
static int member_cert_by_name(const struct mesh_node *n, const char *name,
    struct mesh_cert *out)
{
	if (strcmp(name, n->name) == 0)
		return mesh_records_cert(n->recs, n->node_id, out);
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && strcmp(n->peers[i]->name, name) == 0)
			return mesh_records_cert(n->recs, n->peers[i]->node_id, out);
	return MESHD_E_NOENT;
}

bool mesh_node_member_advertises(const struct mesh_node *n, const char *name,
    const struct mesh_prefix *r)
{
	struct mesh_routes rt;
	struct mesh_cert c;

	if (name == NULL || r == NULL || member_cert_by_name(n, name, &c) != 0 ||
	    mesh_records_routes(n->recs, c.node_id, &rt) != 0)
		return false;
	for (size_t k = 0; k < rt.n; k++)
		if (mesh_prefix_cmp(&rt.r[k], r) == 0)
			return true;
	return false;
}

/* MESHD_E_INVAL with err set when r overlaps a prefix approved for a member
 * other than node id except. */
static int approved_elsewhere(const struct mesh_node *n, const struct mesh_prefix *r,
    const uint8_t *except, char *err, size_t errlen)
{
	char a[MESH_PREFIX_STRLEN], b[MESH_PREFIX_STRLEN];
	struct mesh_cert c;
	size_t i;

	for (i = 0; i <= n->npeers; i++) {
		const uint8_t *id = i < n->npeers ? n->peers[i]->node_id : n->node_id;

		if (id_eq(id, except) || (i < n->npeers && n->peers[i]->farewell) ||
		    mesh_records_cert(n->recs, id, &c) != 0)
			continue;
		for (unsigned k = 0; k < c.nroutes && k < MESH_CERT_MAX_ROUTES; k++) {
			if (!mesh_prefix_overlaps(r, &c.routes[k]))
				continue;
			(void)mesh_prefix_format(r, a, sizeof a);
			(void)mesh_prefix_format(&c.routes[k], b, sizeof b);
			set_errf(err, errlen, "route %s overlaps %s, approved for member %s", a, b,
			    c.name);
			return MESHD_E_INVAL;
		}
	}
	return 0;
}

int mesh_node_route_set(struct mesh_node *n, const char *name, const struct mesh_prefix *r,
    bool approve, mtime_ns now, uint64_t now_unix, char *err, size_t errlen)
{
	char a[MESH_PREFIX_STRLEN], b[MESH_PREFIX_STRLEN];
	struct mesh_routes tmp;
	struct mesh_cert c;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	unsigned k;
	int e;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!n->admin)
		return MESHD_E_PERM;
	if (name == NULL || r == NULL)
		return MESHD_E_INVAL;
	if (mesh_prefix_format(r, a, sizeof a) != 0) {
		set_err(err, errlen, "%s", "invalid route prefix");
		return MESHD_E_INVAL;
	}
	if (member_cert_by_name(n, name, &c) != 0) {
		set_err(err, errlen, "no member called '%s'", name);
		return MESHD_E_NOENT;
	}
	for (k = 0; k < c.nroutes && mesh_prefix_cmp(&c.routes[k], r) != 0; k++)
		;
	if (!approve) {
		if (k == c.nroutes) {
			set_errf(err, errlen, "route %s is not approved for %s", a, name);
			return MESHD_E_NOENT;
		}
		c.routes[k] = c.routes[--c.nroutes];
		memset(&c.routes[c.nroutes], 0, sizeof c.routes[0]);
	} else {
		if (k < c.nroutes) {
			set_errf(err, errlen, "route %s is already approved for %s", a, name);
			return MESHD_E_EXIST;
		}
		if (r->len == 0) {
			set_errf(err, errlen, "invalid route %s: default routes (exit nodes) are "
			    "not supported", a);
			return MESHD_E_INVAL;
		}
		if (mesh_prefix_overlaps(r, &n->prefix4) || mesh_prefix_overlaps(r, &n->prefix6)) {
			(void)mesh_prefix_format(r->family == MESH_FAMILY_V4 ? &n->prefix4 :
			    &n->prefix6, b, sizeof b);
			set_errf(err, errlen, "invalid route %s: overlaps the mesh overlay prefix %s",
			    a, b);
			return MESHD_E_INVAL;
		}
		if ((e = approved_elsewhere(n, r, c.node_id, err, errlen)) != 0)
			return e;
		if (c.nroutes >= MESH_CERT_MAX_ROUTES) {
			set_err(err, errlen, "%s already has the maximum of 16 approved routes",
			    name);
			return MESHD_E_FULL;
		}
		c.routes[c.nroutes++] = *r;
	}
	/* canonical order, as in ROUTES records */
	memset(&tmp, 0, sizeof tmp);
	tmp.n = c.nroutes;
	memcpy(tmp.r, c.routes, sizeof tmp.r);
	mesh_routes_normalize(&tmp);
	memcpy(c.routes, tmp.r, sizeof c.routes);
	enter(n, now, now_unix);
	if (now_unix > INT64_MAX - n->cert_ttl_s)
		return MESHD_E_RANGE;
	c.issued_at = now_unix > c.issued_at ? now_unix : c.issued_at + 1;
	c.expires_at = now_unix + n->cert_ttl_s;
	if (c.expires_at <= c.issued_at)
		c.expires_at = c.issued_at + 1;
	if ((e = mesh_cert_sign(&c, n->authority_sk)) != 0 ||
	    (e = node_cert_to_bytes(&c, buf, sizeof buf, &len)) != 0)
		goto fail;
	if ((e = publish_new(n, MESH_REC_CERT, buf, len, now, now_unix)) != 0)
		goto fail;
	return 0;
fail:
	set_err(err, errlen, "re-issuing the certificate: %s", meshd_strerror(e));
	return e;
}
