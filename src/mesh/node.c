/* The mesh node: records, gossip and the inviter, kept in step with the store
 * and the WireGuard peers (mesh/node.h). Sans-I/O: every entry point gets the
 * time handed in, every output leaves through the ops.
 *
 * This file holds the node's life: opening it from the store (the replay of
 * every stored record), freeing it, the two input entry points that dispatch
 * to the other node_*.c files, and the timers. The rest of the node is cut
 * by concern, all sharing mesh/node_internal.h:
 *   node_peers.c      members as WireGuard peers; record events -> marks, wg
 *   node_store.c      record marks -> the store (mesh_node_flush)
 *   node_paths.c      endpoint candidates, probes, punching (mesh/path.h)
 *   node_endpoints.c  our own endpoint record and reflexive endpoints
 *   node_routes.c     subnet routes: installed sets, advertising, approving
 *   node_relay.c      relay offers, candidates and forwarding (mesh/relay.h)
 *   node_admin.c      admin duties: the join inviter, revocation
 *   node_status.c     status walks for the control socket and DNS
 *   node_setup.c      store-only operations for the CLI (init, join, invite)
 *
 * Record changes are marked in the records event callback, except
 * revocations of nodes we never knew, which raise no event: those are swept
 * right after every merge (node_sweep_revocations). The marks reach the
 * store in one transaction per mesh_node_flush() (node_store.c), from the
 * timers, never from an input entry point. While mesh_node_open() replays
 * the store, nothing is marked.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/gossip.h"
#include "mesh/join.h"
#include "mesh/node_internal.h"
#include "mesh/path.h"
#include "mesh/records.h"
#include "mesh/relay.h"
#include "mesh/wire.h"
#include "util/err.h"
#include "util/str.h"
#include "util/log.h"

int mesh_node_sign_keypair(const uint8_t wg_sk[MESH_WG_KEY_LEN], uint8_t pk[MESH_PK_LEN],
    uint8_t sk[MESH_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int r = 0;

	if (crypto_generichash(seed, sizeof seed, (const uint8_t *)MESH_NODE_SIGN_DOMAIN,
	    strlen(MESH_NODE_SIGN_DOMAIN), wg_sk, MESH_WG_KEY_LEN) != 0 ||
	    crypto_sign_seed_keypair(pk, sk, seed) != 0)
		r = MESHD_E_CRYPTO;
	sodium_memzero(seed, sizeof seed);
	return r;
}

/* ---- gossip transport ---- */

static void gossip_send(void *ctx, const uint8_t *id, const uint8_t *bytes, size_t len)
{
	struct mesh_node *n = ctx;
	struct npeer *p = node_peer_find(n, id);

	if (p != NULL && n->ops.send_gossip != NULL)
		n->ops.send_gossip(n->ctx, p->ipv4, bytes, len);
}

/* ---- entry points: underlay and in-tunnel input ---- */

_Static_assert((int)MESH_NODE_RESULT_MAX >= (int)MESH_RELAY_DGRAM_MAX &&
    (int)MESH_NODE_RESULT_MAX >= (int)MESH_MSG_DGRAM_MAX, "a result holds any datagram we send");

void node_result_reset(struct mesh_node_result *res)
{
	res->act = MESH_NODE_ACT_NONE;
	res->len = 0;
	res->unroam = false;
}

void mesh_node_input_underlay(struct mesh_node *n, const union endpoint *src, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix, struct mesh_node_result *res)
{
	size_t rlen = MESH_MSG_DGRAM_MAX;

	node_result_reset(res);
	if (!n->revoked && len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC &&
	    (p[1] == MESH_MSG_PROBE || p[1] == MESH_MSG_PROBE_ACK)) {
		enter(n, now, now_unix);
		node_probe_input(n, src, p, len);
		return;
	}
	if (!n->revoked && len >= MESH_MSG_HDR_LEN && p[0] == MESH_MSG_MAGIC &&
	    (p[1] == MESH_MSG_RELAY || p[1] == MESH_MSG_RELAYED)) {
		enter(n, now, now_unix);
		node_relay_input(n, src, p, len, res);
		return;
	}
	if (n->inv == NULL || n->revoked || len < MESH_MSG_HDR_LEN ||
	    p[0] != MESH_MSG_MAGIC || p[1] != MESH_MSG_JOIN_REQ)
		return;
	enter(n, now, now_unix);
	n->admitted = false;
	if (mesh_join_inviter_handle(n->inv, src, p, len, now, now_unix, res->buf, &rlen) != 0)
		rlen = 0;
	if (rlen > 0 && src != NULL) {
		res->act = MESH_NODE_ACT_SEND;
		res->ep = *src;
		res->len = rlen;
	}
	if (n->admitted)
		node_publish_admitted(n, src);
}

void mesh_node_input_gossip(struct mesh_node *n, struct wg_peer *peer, const uint8_t *p,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	struct npeer *np;
	uint8_t id[MESH_NODE_ID_LEN];

	if (peer == NULL || (np = wg_peer_get_user(peer)) == NULL || np->wp != peer)
		return;
	enter(n, now, now_unix);
	memcpy(id, np->node_id, sizeof id);	/* np may go during the input */
	/* it just reached us through the tunnel: it can carry gossip */
	(void)mesh_gossip_set_reachable(n->g, id, true);
	if (len > 0 && p[0] == NODE_MSG_PUNCH) {
		node_punch_input(n, np, p, len);
		return;
	}
	(void)mesh_gossip_input(n->g, id, p, len, now, now_unix);
	node_sweep_revocations(n);
}

/* ---- timers ---- */

mtime_ns mesh_node_next_expiry(const struct mesh_node *n)
{
	mtime_ns t = mesh_gossip_next_expiry(n->g), it = node_paths_next_expiry(n);

	for (size_t i = 0; i < n->npeers; i++) {
		const struct npeer *p = n->peers[i];

		mtime_ns pt;

		if (p->farewell && p->farewell_at < t)
			t = p->farewell_at;
		else if (!p->farewell && p->path != NULL &&
		    (pt = mesh_path_next_expiry(p->path)) < t)
			t = pt;
		/* path MTU probes only for warm peers: an idle path stays quiet */
		if (!p->farewell && p->warm && (pt = mesh_pmtu_next_expiry(&p->pmtu)) < t)
			t = pt;
	}
	if (it < t)
		t = it;
	for (unsigned i = 0; i < n->nrefl; i++)
		if (n->refl[i].seen + SEC(NODE_REFL_TTL_S) < t)
			t = n->refl[i].seen + SEC(NODE_REFL_TTL_S);
	if (n->routes_dirty && n->now < t)
		t = n->now;
	if (n->relays_dirty && n->now < t)
		t = n->now;
	if (n->relays_at < t)
		t = n->relays_at;
	if (n->have_eps && n->resign_at < t)
		t = n->resign_at;
	if (n->inv != NULL && n->purge_at < t)
		t = n->purge_at;
	if (n->flush_armed && n->flush_at < t)
		t = n->flush_at;
	t = node_certs_next_expiry(n, t);
	return t;
}

void mesh_node_handle_expiry(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	int r;

	enter(n, now, now_unix);
	if ((r = mesh_gossip_handle_expiry(n->g, now, now_unix)) != 0)
		log_warn("mesh: gossip: %s", meshd_strerror(r));
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && n->peers[i]->path != NULL)
			mesh_path_handle_expiry(n->peers[i]->path, now);
	for (size_t i = 0; i < n->npeers; i++)
		if (!n->peers[i]->farewell && n->peers[i]->warm)
			mesh_pmtu_handle_expiry(&n->peers[i]->pmtu, now);
	node_paths_expiry(n);	/* idle policy; handshake retries of warm peers */
	node_refl_expire(n);
	for (size_t i = 0; i < n->npeers; ) {
		if (n->peers[i]->farewell && now >= n->peers[i]->farewell_at)
			node_peer_drop(n, n->peers[i]);	/* moves the last one to i */
		else
			i++;
	}
	if (n->relays_dirty || now >= n->relays_at)
		node_relays_refresh(n);	/* may switch paths: before the routes */
	if (n->routes_dirty)
		node_routes_recompute(n);	/* paths changed */
	if (n->have_eps && now >= n->resign_at && !n->revoked) {
		struct mesh_endpoints e;

		node_endpoints_merge(n, &e);
		if ((r = node_sign_endpoints(n, e.ep, e.nep)) != 0) {
			log_warn("mesh: re-signing our endpoints: %s", meshd_strerror(r));
			n->resign_at = now + SEC(60);
		}
	}
	node_certs_handle_expiry(n);	/* renewals: merged before the flush */
	node_sweep_revocations(n);
	/* Dead invites cost nothing at join time any more (refused before
	 * the signature check), but the table would grow forever. Expired
	 * ones stay a grace period so that a late joiner reads "expired";
	 * the first purge waits one period after start. */
	if (n->inv != NULL && now >= n->purge_at) {
		if (n->purge_at != 0 && now_unix > JOIN_PURGE_GRACE_S &&
		    (r = store_invite_purge(n->st, (int64_t)(now_unix - JOIN_PURGE_GRACE_S))) < 0)
			log_warn("mesh: purging invites: %s", meshd_strerror(r));
		n->purge_at = now + SEC(JOIN_PURGE_S);
	}
	/* Last: it writes what everything above changed. A timer run is
	 * outside the receive burst, so anything dirty goes now, unless the
	 * last flush failed and its retry time has not come. */
	if (n->ndirty > 0 && (!n->flush_retry || now >= n->flush_at))
		(void)mesh_node_flush(n, now, now_unix);
}

/* ---- open / free ---- */

static int prefix_parse(const char *s, uint8_t family, struct mesh_prefix *out)
{
	char a[STORE_PREFIX_STRLEN];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long len;

	memset(out, 0, sizeof *out);
	if (slash == NULL || !str_copy_n(a, sizeof a, s, (size_t)(slash - s)))
		return MESHD_E_PROTO;
	len = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || len > 128)
		return MESHD_E_PROTO;
	out->family = family;
	out->len = (uint8_t)len;
	if (inet_pton(family == MESH_FAMILY_V4 ? AF_INET : AF_INET6, a, out->addr) != 1 ||
	    !mesh_prefix_valid(out))
		return MESHD_E_PROTO;
	return 0;
}

static int load_revocation(const struct store_revocation *rv, void *arg)
{
	struct mesh_node *n = arg;

	(void)mesh_records_merge(n->recs, MESH_REC_REVOKE, rv->record, rv->record_len,
	    n->now_unix);
	return 0;
}

static int load_member(const struct store_member *m, void *arg)
{
	struct mesh_node *n = arg;
	int r = mesh_records_merge(n->recs, MESH_REC_CERT, m->cert, m->cert_len, n->now_unix);

	if (r != MESH_MERGE_NEW && r != MESH_MERGE_DUP)
		log_info("mesh: stored member %s not loaded: %s", m->name, mesh_merge_str(r));
	return r == MESHD_E_NOMEM ? r : 0;
}

static int load_endpoints(const struct store_member *m, void *arg)
{
	struct mesh_node *n = arg;
	struct store_endpoint_record rec;
	int r = store_endpoint_record_get(n->st, m->node_id, &rec);

	if (r == MESHD_E_NOENT)
		return 0;
	if (r != 0)
		return r;
	if (id_eq(m->node_id, n->node_id) && rec.version > n->ep_seq)
		n->ep_seq = rec.version;	/* seq only grows, even if expired */
	r = mesh_records_merge(n->recs, MESH_REC_ENDPOINTS, rec.record, rec.record_len,
	    n->now_unix);
	return r == MESHD_E_NOMEM ? r : 0;
}

static int load_routes(const struct store_route_record *rec, void *arg)
{
	struct mesh_node *n = arg;
	int r;

	if (id_eq(rec->node_id, n->node_id) && rec->version > n->rt_seq)
		n->rt_seq = rec->version;	/* seq only grows */
	r = mesh_records_merge(n->recs, MESH_REC_ROUTES, rec->record, rec->record_len,
	    n->now_unix);
	return r == MESHD_E_NOMEM ? r : 0;
}

/* The node and mesh rows and our own cert. */
static int open_identity(struct mesh_node *n, uint8_t wg_sk[MESH_WG_KEY_LEN], uint64_t now_unix,
    char *err, size_t errlen)
{
	struct store_node node;
	struct store_mesh mesh;
	struct store_member m;
	int r;

	memset(&node, 0, sizeof node);
	memset(&mesh, 0, sizeof mesh);
	if ((r = store_node_get(n->st, &node)) != 0 || (r = store_mesh_get(n->st, &mesh)) != 0) {
		set_err(err, errlen, "%s", r == MESHD_E_NOENT ?
		    "not initialised: run 'meshd init' or 'meshd join' first" :
		    meshd_strerror(r));
		goto out;
	}
	memcpy(n->node_id, node.node_id, MESH_NODE_ID_LEN);
	snprintf(n->name, sizeof n->name, "%s", node.name);
	snprintf(n->mesh_name, sizeof n->mesh_name, "%s", mesh.name);
	memcpy(n->mesh_id, mesh.mesh_id, MESH_ID_LEN);
	memcpy(n->authority_pk, mesh.authority_pk, MESH_PK_LEN);
	n->admin = mesh.has_authority_sk;
	memcpy(n->authority_sk, mesh.authority_sk, MESH_SK_LEN);
	memcpy(wg_sk, node.wg_private_key, MESH_WG_KEY_LEN);
	if ((r = prefix_parse(mesh.prefix4, MESH_FAMILY_V4, &n->prefix4)) != 0 ||
	    (r = prefix_parse(mesh.prefix6, MESH_FAMILY_V6, &n->prefix6)) != 0) {
		set_err(err, errlen, "%s", "bad overlay prefix in the store");
		goto out;
	}
	if ((r = store_revocation_exists(n->st, n->node_id)) != 0) {
		if (r > 0)
			r = MESHD_E_PERM;
		set_err(err, errlen, "%s", r == MESHD_E_PERM ?
		    "this node has been revoked from the mesh" : meshd_strerror(r));
		goto out;
	}
	if ((r = store_member_get_by_id(n->st, n->node_id, &m)) != 0 ||
	    (r = mesh_cert_decode(m.cert, m.cert_len, &n->self)) != 0) {
		set_err(err, errlen, "%s", r == MESHD_E_NOENT ?
		    "our own certificate is missing from the store" : meshd_strerror(r));
		r = r == MESHD_E_NOENT ? r : MESHD_E_PROTO;
		goto out;
	}
	if (n->self.expires_at <= now_unix) {
		set_err(err, errlen, "%s", "our certificate has expired: ask an admin for a new invite");
		r = MESHD_E_EXPIRED;
		goto out;
	}
	if (!mesh_cert_verify(&n->self, n->authority_pk, now_unix)) {
		set_err(err, errlen, "%s", "our certificate does not verify");
		r = MESHD_E_PROTO;
	}
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

static int open_engines(struct mesh_node *n)
{
	struct mesh_records_cfg rc = { .on_event = node_on_record_event, .ctx = n };
	struct mesh_gossip_cfg gc = { .send = gossip_send, .ctx = n };
	int r;

	memcpy(rc.authority_pk, n->authority_pk, MESH_PK_LEN);
	if ((n->recs = mesh_records_new(&rc, &r)) == NULL)
		return r;
	memcpy(gc.node_id, n->node_id, MESH_NODE_ID_LEN);
	randombytes_buf(&gc.rng_seed, sizeof gc.rng_seed);
	if ((n->g = mesh_gossip_new(&gc, n->recs, &r)) == NULL)
		return r;
	if ((r = node_relay_new(n)) != 0)
		return r;
	if (!n->admin)
		return 0;
	return node_inviter_new(n);
}

int mesh_node_open(struct mesh_node **out, const struct mesh_node_cfg *cfg, mtime_ns now,
    uint64_t now_unix, char *err, size_t errlen)
{
	struct mesh_node *n;
	uint8_t wg_sk[MESH_WG_KEY_LEN];
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cfg == NULL || cfg->st == NULL || cfg->wg == NULL)
		return MESHD_E_INVAL;
	if ((n = calloc(1, sizeof *n)) == NULL)
		return MESHD_E_NOMEM;
	n->st = cfg->st;
	n->wg = cfg->wg;
	n->ops = cfg->ops;
	n->ctx = cfg->ctx;
	n->relay_on = true;
	n->relays_dirty = true;
	randombytes_buf(n->dst_hkey, sizeof n->dst_hkey);
	enter(n, now, now_unix);
	if ((r = open_identity(n, wg_sk, now_unix, err, errlen)) != 0)
		goto fail;
	r = MESHD_E_PROTO;
	if (mesh_node_sign_keypair(wg_sk, n->sign_pk, n->sign_sk) != 0 ||
	    crypto_scalarmult_base(n->wg_pk, wg_sk) != 0 ||
	    memcmp(n->sign_pk, n->self.sign_pk, MESH_PK_LEN) != 0 ||
	    memcmp(n->wg_pk, n->self.wg_pubkey, MESH_WG_KEY_LEN) != 0) {
		set_err(err, errlen, "%s", "our keys do not match our certificate");
		goto fail;
	}
	memcpy(n->wg_sk, wg_sk, MESH_WG_KEY_LEN);	/* probe keys */
	wg_device_set_quiet_port(n->wg, MESH_GOSSIP_PORT);	/* gossip is no traffic */
	if ((r = wg_device_set_private_key(n->wg, wg_sk, now)) != 0) {
		set_err(err, errlen, "%s", "cannot set the WireGuard private key");
		goto fail;
	}
	if ((r = open_engines(n)) != 0) {
		set_err(err, errlen, "%s", meshd_strerror(r));
		goto fail;
	}
	n->loading = true;
	if ((r = store_revocation_foreach(n->st, load_revocation, n)) == 0 &&
	    (r = store_member_foreach(n->st, load_member, n)) == 0 &&
	    (r = store_member_foreach(n->st, load_endpoints, n)) == 0)
		r = store_route_record_foreach(n->st, load_routes, n);
	n->loading = false;
	node_routes_recompute(n);	/* the kernel routes are ours to set again */
	n->revokes_stored = mesh_records_count(n->recs, MESH_REC_REVOKE);
	if (r == 0 && mesh_records_count(n->recs, MESH_REC_CERT) == 0)
		r = MESHD_E_PROTO;	/* not even our own cert merged */
	if (r != 0) {
		set_err(err, errlen, "loading the store: %s", meshd_strerror(r));
		goto fail;
	}
	/* the daemon's part of the stored record until it sets its own */
	for (unsigned i = 0; n->have_eps && i < n->eps.nep && i < MESH_ENDPOINTS_MAX; i++)
		if (n->eps.ep[i].source != MESH_EP_REFLEXIVE)
			n->local[n->nlocal++] = n->eps.ep[i];
	/* resign at once when the stored record is old */
	n->resign_at = now;
	if (n->have_eps && n->eps.timestamp + MESH_NODE_RESIGN_S > now_unix)
		n->resign_at = now + SEC(n->eps.timestamp + MESH_NODE_RESIGN_S - now_unix);
	sodium_memzero(wg_sk, sizeof wg_sk);
	*out = n;
	return 0;
fail:
	sodium_memzero(wg_sk, sizeof wg_sk);
	mesh_node_free(n);
	return r;
}

void mesh_node_free(struct mesh_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->npeers; i++) {
		if (n->peers[i]->wp != NULL)
			wg_peer_set_user(n->peers[i]->wp, NULL);
		node_peer_free(n->peers[i]);
	}
	free(n->peers);
	free(n->dirty);
	mesh_gossip_free(n->g);
	mesh_records_free(n->recs);
	mesh_relay_free(n->relay);
	if (n->inv != NULL) {
		mesh_join_inviter_clear(n->inv);
		free(n->inv);
	}
	sodium_memzero(n, sizeof *n);
	free(n);
}
