/* Mesh node: read-only views for the daemon: this node, every other member
 * with its path, endpoints and routes (`meshd status`), and name lookup for
 * the DNS responder (mesh/dns.h). Nothing here changes the node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "util/err.h"

void mesh_node_get_self(const struct mesh_node *n, struct mesh_node_self *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", n->name);
	snprintf(out->mesh_name, sizeof out->mesh_name, "%s", n->mesh_name);
	memcpy(out->node_id, n->node_id, MESH_NODE_ID_LEN);
	memcpy(out->mesh_id, n->mesh_id, MESH_ID_LEN);
	memcpy(out->wg_pk, n->wg_pk, MESH_WG_KEY_LEN);
	memcpy(out->ipv4, n->self.ipv4, 4);
	memcpy(out->ipv6, n->self.ipv6, 16);
	out->prefix4 = n->prefix4;
	out->prefix6 = n->prefix6;
	out->admin = n->admin;
	if (n->have_eps) {
		out->nep = n->eps.nep;
		memcpy(out->ep, n->eps.ep, sizeof out->ep);
	}
	out->members = mesh_records_count(n->recs, MESH_REC_CERT);
	if (n->have_rt) {
		out->nadv = n->rt.n;
		memcpy(out->adv, n->rt.r, sizeof out->adv);
	}
	out->nappr = n->self.nroutes;
	memcpy(out->appr, n->self.routes, sizeof out->appr);
	out->cert_expires_at = n->self.expires_at;
	out->cert_unrenewed = node_cert_unrenewed(n);
}

void mesh_node_gossip_stats(const struct mesh_node *n, struct mesh_gossip_stats *out)
{
	memset(out, 0, sizeof *out);
	if (n->g != NULL)
		mesh_gossip_get_stats(n->g, out);
}

int mesh_node_lookup_name(const struct mesh_node *n, const char *label, uint8_t v4[4],
    uint8_t v6[16])
{
	const uint8_t *a4 = NULL, *a6 = NULL;

	if (label == NULL)
		return MESHD_E_NOENT;
	if (strcmp(label, n->name) == 0) {
		a4 = n->self.ipv4;
		a6 = n->self.ipv6;
	}
	for (size_t i = 0; a4 == NULL && i < n->npeers; i++) {
		if (!n->peers[i]->farewell && strcmp(n->peers[i]->name, label) == 0) {
			a4 = n->peers[i]->ipv4;
			a6 = n->peers[i]->ipv6;
		}
	}
	if (a4 == NULL)
		return MESHD_E_NOENT;
	memcpy(v4, a4, 4);
	memcpy(v6, a6, 16);
	return 0;
}

static int peer_name_cmp(const void *a, const void *b)
{
	const struct npeer *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

int mesh_node_foreach_peer(const struct mesh_node *n, mesh_node_peer_fn *fn, void *ctx)
{
	struct npeer **v;
	struct mesh_node_peer mp;
	struct mesh_endpoints e;
	struct mesh_routes rt;
	struct mesh_cert c;
	size_t nv = 0;
	int r = 0;

	if (n->npeers == 0)
		return 0;
	if ((v = malloc(n->npeers * sizeof *v)) == NULL)
		return MESHD_E_NOMEM;
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell)
			v[nv++] = n->peers[i];
	qsort(v, nv, sizeof *v, peer_name_cmp);
	for (size_t i = 0; i < nv && r == 0; i++) {
		memset(&mp, 0, sizeof mp);
		snprintf(mp.name, sizeof mp.name, "%s", v[i]->name);
		memcpy(mp.node_id, v[i]->node_id, MESH_NODE_ID_LEN);
		memcpy(mp.wg_pk, v[i]->wg_pk, MESH_WG_KEY_LEN);
		memcpy(mp.ipv4, v[i]->ipv4, 4);
		memcpy(mp.ipv6, v[i]->ipv6, 16);
		mp.admin = v[i]->admin;
		mp.peer = v[i]->wp;
		mp.pinned = v[i]->pinned;
		if (mesh_records_endpoints(n->recs, v[i]->node_id, &e) == 0) {
			mp.nep = e.nep;
			memcpy(mp.ep, e.ep, sizeof mp.ep);
		}
		if (mesh_records_routes(n->recs, v[i]->node_id, &rt) == 0) {
			mp.nadv = rt.n;
			memcpy(mp.adv, rt.r, sizeof mp.adv);
		}
		if (mesh_records_cert(n->recs, v[i]->node_id, &c) == 0) {
			mp.nappr = c.nroutes;
			memcpy(mp.appr, c.routes, sizeof mp.appr);
			mp.cert_expires_at = c.expires_at;
		}
		mp.ninst = v[i]->ninst;
		if (mp.ninst > 0)
			memcpy(mp.inst, v[i]->inst, mp.ninst * sizeof mp.inst[0]);
		mp.rtt_ms = -1;
		mp.mtu = mesh_pmtu_get(&v[i]->pmtu);
		if (v[i]->path != NULL) {
			struct mesh_path_choice pc;

			struct mesh_path_stats ps;

			mesh_path_current(v[i]->path, &pc);
			for (size_t k = 0; k < mesh_path_ncand(v[i]->path) && k < PATH_CAND_MAX; k++)
				if (mesh_path_cand_stats(v[i]->path, k, &mp.cand[mp.ncand]) == 0)
					mp.ncand++;
			mesh_path_get_stats(v[i]->path, &ps);
			mp.probes_denied = ps.probes_denied;
			mp.punches_held = ps.punches_held;
			mp.path = (uint8_t)pc.kind;
			if (pc.kind != MESH_PATH_NONE)
				mp.rtt_ms = pc.rtt_ms > INT32_MAX ? INT32_MAX : (int32_t)pc.rtt_ms;
			if (pc.kind == MESH_PATH_RELAY) {
				const struct npeer *via = node_peer_find(n, pc.relay_id);

				memcpy(mp.via, pc.relay_id, MESH_NODE_ID_LEN);
				if (via != NULL)
					snprintf(mp.via_name, sizeof mp.via_name, "%s", via->name);
			}
		}
		r = fn(ctx, &mp);
	}
	free(v);
	return r;
}
