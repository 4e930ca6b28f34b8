/* Mesh node: the other members as WireGuard peers (struct npeer), and the
 * records event callback that keeps the store and the wg device in step with
 * the record set (mesh/node.h "Records and their effects").
 *
 * A member gets a wg peer (its cert's key, overlay /32 and /128, persistent
 * keepalive) and a path engine when its cert arrives; a revoked member keeps
 * its peer NODE_FAREWELL_S longer so that gossip can bring it the tombstone.
 * Every NEW record is marked dirty here (node_mark_dirty) and reaches the
 * store at the next mesh_node_flush() (node_store.c), never inside the merge.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "util/err.h"
#include "util/log.h"

/* ---- helpers ---- */

/* The member row a certificate makes. */
int node_member_from_cert(struct store_member *m, const struct mesh_cert *c,
    const uint8_t *bytes, size_t len, uint64_t now_unix)
{
	memset(m, 0, sizeof *m);
	if (len > sizeof m->cert || c->issued_at > INT64_MAX || c->expires_at > INT64_MAX)
		return MESHD_E_INVAL;
	memcpy(m->node_id, c->node_id, MESH_NODE_ID_LEN);
	snprintf(m->name, sizeof m->name, "%s", c->name);
	memcpy(m->wg_public_key, c->wg_pubkey, MESH_WG_KEY_LEN);
	if (inet_ntop(AF_INET, c->ipv4, m->overlay4, sizeof m->overlay4) == NULL ||
	    inet_ntop(AF_INET6, c->ipv6, m->overlay6, sizeof m->overlay6) == NULL)
		return MESHD_E_INVAL;
	m->cert_version = c->issued_at;
	m->cert_expires_at = (int64_t)c->expires_at;
	m->admin = (c->flags & MESH_CERT_F_ADMIN) != 0;
	m->updated_at = (int64_t)now_unix;
	m->cert_len = len;
	memcpy(m->cert, bytes, len);
	return 0;
}

int node_cert_to_bytes(const struct mesh_cert *c, uint8_t *buf, size_t cap, size_t *len)
{
	struct wr w;
	int r;

	wr_init(&w, buf, cap);
	if ((r = mesh_cert_encode(c, &w)) != 0)
		return r;
	*len = w.off;
	return 0;
}

/* ---- peers ---- */

struct npeer *node_peer_find(const struct mesh_node *n, const uint8_t *id)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (id_eq(n->peers[i]->node_id, id))
			return n->peers[i];
	return NULL;
}

bool mesh_node_member_sign_pk(const struct mesh_node *n, const uint8_t node_id[MESH_NODE_ID_LEN],
    uint8_t pk[MESH_PK_LEN])
{
	const struct npeer *p = node_peer_find(n, node_id);
	struct mesh_cert c;

	if (p == NULL || p->farewell || mesh_records_cert(n->recs, node_id, &c) != 0)
		return false;
	memcpy(pk, c.sign_pk, MESH_PK_LEN);
	return true;
}

void node_peer_free(struct npeer *p)
{
	mesh_path_free(p->path);
	mesh_probe_key_clear(&p->pkey);
	free(p->inst);
	free(p->refused);
	free(p->pcand);
	sodium_memzero(p, sizeof *p);
	free(p);
}

void node_peer_drop(struct mesh_node *n, struct npeer *p)
{
	node_routes_uninstall_all(n, p);
	for (size_t i = 0; i < n->npeers; i++) {
		if (n->peers[i] != p)
			continue;
		n->peers[i] = n->peers[--n->npeers];
		break;
	}
	if (p->wp != NULL)
		wg_peer_remove(n->wg, p->wp);
	(void)mesh_gossip_set_reachable(n->g, p->node_id, false);
	node_peer_free(p);
}

static void peer_farewell(struct mesh_node *n, struct npeer *p)
{
	node_routes_uninstall_all(n, p);
	p->farewell = true;
	p->farewell_at = n->now + SEC(NODE_FAREWELL_S);
	(void)wg_peer_allowedip_remove(n->wg, p->wp, AF_INET6, p->ipv6, 128);
}

/* MEMBER_ADDED / CHANGED for another node. */
static void peer_update(struct mesh_node *n, const struct mesh_cert *c)
{
	struct npeer *p = node_peer_find(n, c->node_id);
	struct mesh_endpoints e;
	int r;

	if (p == NULL) {
		if (n->npeers == n->cap) {
			size_t cap = n->cap ? 2 * n->cap : 16;
			struct npeer **np = realloc(n->peers, cap * sizeof *np);

			if (np == NULL)
				goto nomem;
			n->peers = np;
			n->cap = cap;
		}
		if ((p = calloc(1, sizeof *p)) == NULL)
			goto nomem;
		if (node_peer_path_init(n, p) != 0) {
			node_peer_free(p);
			p = NULL;
			goto nomem;
		}
		memcpy(p->node_id, c->node_id, MESH_NODE_ID_LEN);
		n->peers[n->npeers++] = p;
	}
	if (p->wp != NULL && memcmp(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		wg_peer_remove(n->wg, p->wp);	/* rekeyed: a new wg peer */
		p->wp = NULL;
	}
	snprintf(p->name, sizeof p->name, "%s", c->name);
	if (!p->have_pkey || memcmp(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		memcpy(p->wg_pk, c->wg_pubkey, MESH_WG_KEY_LEN);
		node_peer_key_init(n, p);
	}
	memcpy(p->ipv4, c->ipv4, 4);
	memcpy(p->ipv6, c->ipv6, 16);
	p->admin = (c->flags & MESH_CERT_F_ADMIN) != 0;
	if (p->wp == NULL) {
		r = wg_peer_add(n->wg, p->wg_pk, n->now, &p->wp);
		if (r == MESHD_E_EXIST && wg_peer_get_user(p->wp) != NULL) {
			log_warn("mesh: member %s shares a WireGuard key; ignored", c->name);
			p->wp = NULL;
			return;
		}
		if (r != 0 && r != MESHD_E_EXIST) {
			log_warn("mesh: member %s: wg peer: %s", c->name, meshd_strerror(r));
			p->wp = NULL;
			return;
		}
		wg_peer_set_user(p->wp, p);
	}
	wg_peer_allowedips_clear(n->wg, p->wp);
	if (wg_peer_allowedip_add(n->wg, p->wp, AF_INET, p->ipv4, 32) != 0 ||
	    wg_peer_allowedip_add(n->wg, p->wp, AF_INET6, p->ipv6, 128) != 0)
		log_warn("mesh: member %s: allowed IPs not set", c->name);
	node_routes_rewire(n, p);	/* node_routes_recompute() follows the event */
	node_peer_set_candidates(n, p, mesh_records_endpoints(n->recs, p->node_id, &e) == 0 ?
	    &e : NULL);
	return;
nomem:
	free(p);
	log_error("mesh: member %s: out of memory", c->name);
}

/* ---- records events -> store and wg ---- */

static void on_removed(struct mesh_node *n, const struct mesh_rec_event *ev)
{
	struct npeer *p;

	if (id_eq(ev->node_id, n->node_id)) {
		if (ev->gone == MESH_GONE_REVOKED)
			n->revoked = true;
	} else if ((p = node_peer_find(n, ev->node_id)) != NULL) {
		if (ev->gone == MESH_GONE_REVOKED && p->wp != NULL && !n->loading)
			peer_farewell(n, p);
		else
			node_peer_drop(n, p);
	}
	if (ev->gone == MESH_GONE_REVOKED)
		node_mark_dirty(n, ev->node_id, NODE_DIRTY_REVOKE);
	else if (ev->gone == MESH_GONE_EXPIRED && !id_eq(ev->node_id, n->node_id))
		node_mark_dirty(n, ev->node_id, NODE_DIRTY_GONE);
}

/* Our own node-signed record (ENDPOINTS or ROUTES) as the set now holds it
 * (rec NULL: none): copied to own, and *seq kept at the highest seq seen,
 * so the next one we sign is newer. Returns whether we hold one. Both
 * record structs start with their envelope (mesh/envelope.h). */
_Static_assert(offsetof(struct mesh_endpoints, env) == 0 &&
    offsetof(struct mesh_routes, env) == 0, "envelope first");

static bool keep_own(void *own, const void *rec, size_t size, uint64_t *seq)
{
	const struct mesh_envelope *env = rec;

	if (rec == NULL)
		return false;
	memcpy(own, rec, size);
	if (env->seq > *seq)
		*seq = env->seq;
	return true;
}

void node_on_record_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct mesh_node *n = ctx;
	bool self = id_eq(ev->node_id, n->node_id);
	struct npeer *p;

	n->relays_dirty = true;	/* offers and members may have changed */
	switch (ev->type) {
	case MESH_EV_MEMBER_ADDED:
	case MESH_EV_MEMBER_CHANGED:
		node_mark_dirty(n, ev->node_id, NODE_DIRTY_CERT);
		if (self)
			n->self = *ev->cert;
		else
			peer_update(n, ev->cert);
		break;
	case MESH_EV_MEMBER_REMOVED:
		on_removed(n, ev);
		break;
	case MESH_EV_ENDPOINTS_CHANGED:
		if (ev->endpoints != NULL)
			node_mark_dirty(n, ev->node_id, NODE_DIRTY_ENDPOINTS);
		if (self)
			n->have_eps = keep_own(&n->eps, ev->endpoints, sizeof n->eps, &n->ep_seq);
		else if ((p = node_peer_find(n, ev->node_id)) != NULL)
			node_peer_set_candidates(n, p, ev->endpoints);
		break;
	case MESH_EV_ROUTES_CHANGED:
		if (ev->routes != NULL)
			node_mark_dirty(n, ev->node_id, NODE_DIRTY_ROUTES);
		if (self)
			n->have_rt = keep_own(&n->rt, ev->routes, sizeof n->rt, &n->rt_seq);
		break;
	}
	/* our own routes are never installed here: we are their gateway */
	if (!self || ev->type == MESH_EV_MEMBER_REMOVED)
		node_routes_recompute(n);
}

static int sweep_one(void *ctx, enum mesh_rec_kind kind, const uint8_t *id,
    const uint8_t *bytes, size_t len)
{
	(void)kind;
	(void)bytes;
	(void)len;
	node_mark_dirty(ctx, id, NODE_DIRTY_REVOKE);
	return 0;
}

/* Revocations of nodes that were never members raise no event: mark every
 * held one for the store when the count moved (store_revocation_put keeps
 * the first). */
void node_sweep_revocations(struct mesh_node *n)
{
	size_t c = mesh_records_count(n->recs, MESH_REC_REVOKE);

	if (c == n->revokes_stored || n->loading)
		return;
	(void)mesh_records_foreach(n->recs, MESH_REC_REVOKE, sweep_one, n);
	n->revokes_stored = c;
}
