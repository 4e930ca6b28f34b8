/* Mesh node: what only an admin node (one holding the authority key) does,
 * besides approving routes (node_routes.c): answering joiners through the
 * join inviter (mesh/join.h), whose ops are backed by the store here (invite
 * lookup and consumption, overlay address allocation, the roster), then
 * publishing the new member; and revoking members, online or offline (the
 * offline path is the CLI's, with no daemon running).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/gossip.h"
#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "util/err.h"
#include "util/log.h"

/* ---- inviter ops, backed by the store ---- */

static int inv_lookup(void *ctx, const uint8_t *id, struct mesh_join_invite *out)
{
	struct mesh_node *n = ctx;
	struct store_invite si;
	int r;

	if ((r = store_invite_get(n->st, id, &si)) != 0)
		return r;
	memcpy(out->pk, si.invite_pk, MESH_PK_LEN);
	out->expires_at = si.expires_at < 0 ? 0 : (uint64_t)si.expires_at;
	out->uses_left = si.uses_left;
	return 0;
}

/* An overlay address is taken when a member we know holds it. The store's
 * unique columns are the last word (upsert answers EXIST). */
static bool addr_taken(const struct mesh_node *n, const uint8_t *a4, const uint8_t *a6)
{
	if (memcmp(n->self.ipv4, a4, 4) == 0 || memcmp(n->self.ipv6, a6, 16) == 0)
		return true;
	for (size_t i = 0; i < n->npeers; i++)
		if (memcmp(n->peers[i]->ipv4, a4, 4) == 0 ||
		    memcmp(n->peers[i]->ipv6, a6, 16) == 0)
			return true;
	return false;
}

/* Fills in the new member's addresses, signs the cert and inserts the row,
 * retrying the allocation while an address is taken. */
static int admit_insert(struct mesh_node *n, struct mesh_cert *c)
{
	struct store_member m;
	uint8_t a4[16], a6[16], buf[MESH_CERT_MAX_LEN];
	size_t len;
	int r = MESHD_E_FULL;

	for (uint32_t at = 0; at < MESH_NODE_ADDR_ATTEMPTS; at++) {
		if ((r = mesh_identity_addr_for(&n->prefix4, c->node_id, at, a4)) != 0 ||
		    (r = mesh_identity_addr_for(&n->prefix6, c->node_id, at, a6)) != 0)
			return r;
		r = MESHD_E_EXIST;
		if (addr_taken(n, a4, a6))
			continue;
		memcpy(c->ipv4, a4, 4);
		memcpy(c->ipv6, a6, 16);
		if ((r = mesh_cert_sign(c, n->authority_sk)) != 0 ||
		    (r = node_cert_to_bytes(c, buf, sizeof buf, &len)) != 0 ||
		    (r = node_member_from_cert(&m, c, buf, len, n->now_unix)) != 0)
			return r;
		r = store_member_upsert(n->st, &m);
		if (r != MESHD_E_EXIST)
			return r;
	}
	return r;
}

static int inv_admit(void *ctx, const uint8_t *id, const char *name, const uint8_t *wg_pk,
    const uint8_t *sign_pk, uint64_t now_unix, struct mesh_cert *cert)
{
	struct mesh_node *n = ctx;
	struct store_member m;
	struct mesh_cert c;
	int r;

	if (now_unix > INT64_MAX - n->cert_ttl_s)
		return MESHD_E_RANGE;
	if ((r = store_tx_begin(n->st)) != 0)
		return r;
	r = store_invite_consume(n->st, id, (int64_t)now_unix, NULL);
	if (r == MESHD_E_NOENT)
		r = MESH_JOIN_R_UNKNOWN_INVITE;
	else if (r == MESHD_E_PERM)
		r = MESH_JOIN_R_USED_UP;
	else if (r == MESHD_E_EXPIRED)
		r = MESH_JOIN_R_EXPIRED;
	if (r != 0)
		goto fail;
	r = store_member_get_by_name(n->st, name, &m);
	if (r == 0) {
		r = MESH_JOIN_R_NAME_TAKEN;
		goto fail;
	}
	if (r != MESHD_E_NOENT)
		goto fail;
	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	memcpy(c.mesh_id, n->mesh_id, MESH_ID_LEN);
	mesh_identity_node_id_new(c.node_id);
	snprintf(c.name, sizeof c.name, "%s", name);
	memcpy(c.wg_pubkey, wg_pk, MESH_WG_KEY_LEN);
	memcpy(c.sign_pk, sign_pk, MESH_PK_LEN);
	c.issued_at = now_unix;
	c.expires_at = now_unix + n->cert_ttl_s;
	if ((r = admit_insert(n, &c)) != 0)
		goto fail;
	if ((r = store_tx_commit(n->st)) != 0)
		return r;	/* rolled back by the store */
	*cert = c;
	n->admitted_cert = c;
	n->admitted = true;
	return 0;
fail:
	(void)store_tx_rollback(n->st);
	return r;
}

struct roster_walk {
	struct mesh_node *n;
	struct mesh_join_resp *resp;
};

static int roster_one(void *ctx, enum mesh_rec_kind kind, const uint8_t *id,
    const uint8_t *bytes, size_t len)
{
	struct roster_walk *w = ctx;

	if (id_eq(id, w->n->node_id))
		return 0;	/* ours went first */
	return mesh_join_resp_add_record(w->resp, kind, bytes, len) == MESHD_E_FULL ?
	    MESHD_E_FULL : 0;
}

static int inv_roster(void *ctx, struct mesh_join_resp *resp)
{
	struct mesh_node *n = ctx;
	static const int kinds[] = { MESH_REC_CERT, MESH_REC_REVOKE, MESH_REC_ENDPOINTS };
	struct roster_walk w = { n, resp };
	const uint8_t *bytes;
	size_t len;
	int r = 0;

	for (unsigned i = 0; n->have_eps && i < n->eps.nep; i++)
		if (!mesh_ep_is_tcp(&n->eps.ep[i]) &&
		    mesh_join_resp_add_endpoint(resp, &n->eps.ep[i]) == MESHD_E_FULL)
			break;	/* UDP endpoints: the joiner sends WireGuard there */
	if (mesh_records_get(n->recs, MESH_REC_CERT, n->node_id, &bytes, &len) == 0)
		(void)mesh_join_resp_add_record(resp, MESH_REC_CERT, bytes, len);
	if (mesh_records_get(n->recs, MESH_REC_ENDPOINTS, n->node_id, &bytes, &len) == 0)
		(void)mesh_join_resp_add_record(resp, MESH_REC_ENDPOINTS, bytes, len);
	for (unsigned k = 0; k < 3 && r == 0; k++)
		r = mesh_records_foreach(n->recs, kinds[k], roster_one, &w);
	return 0;
}

/* The lifetime of the certs we issue: the mesh setting, else the default. */
static uint64_t cert_ttl_load(struct store *st)
{
	char v[STORE_SETTING_MAX + 1];
	uint64_t ttl;
	int r = store_setting_get(st, MESH_CERT_TTL_SETTING, v, sizeof v);

	if (r == 0 && mesh_cert_ttl_parse(v, &ttl) == 0)
		return ttl;
	if (r != MESHD_E_NOENT)
		log_warn("mesh: setting %s unusable (%s); certificates last %llu s",
		    MESH_CERT_TTL_SETTING, r != 0 ? meshd_strerror(r) : "bad value",
		    (unsigned long long)MESH_CERT_TTL_DEFAULT_S);
	return MESH_CERT_TTL_DEFAULT_S;
}

int node_inviter_new(struct mesh_node *n)
{
	struct mesh_join_inviter_cfg ic = {
		.ops = { .lookup = inv_lookup, .admit = inv_admit, .roster = inv_roster },
		.ctx = n,
	};

	n->cert_ttl_s = cert_ttl_load(n->st);
	if ((n->inv = calloc(1, sizeof *n->inv)) == NULL)
		return MESHD_E_NOMEM;
	memcpy(ic.authority_pk, n->authority_pk, MESH_PK_LEN);
	snprintf(ic.mesh_name, sizeof ic.mesh_name, "%s", n->mesh_name);
	ic.prefix4 = n->prefix4;
	ic.prefix6 = n->prefix6;
	return mesh_join_inviter_init(n->inv, &ic);
}

/* The cert admit() just stored: merge and gossip it, and point wg at the
 * joiner's request source so it is reachable before its endpoint record. */
void node_publish_admitted(struct mesh_node *n, const union endpoint *src)
{
	struct mesh_endpoints e;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	struct npeer *p;
	int r;

	n->admitted = false;
	if ((r = node_cert_to_bytes(&n->admitted_cert, buf, sizeof buf, &len)) != 0 ||
	    (r = mesh_gossip_publish(n->g, MESH_REC_CERT, buf, len, n->now, n->now_unix)) < 0) {
		log_warn("mesh: publishing member %s: %s", n->admitted_cert.name,
		    meshd_strerror(r));
		return;
	}
	/* a joiner through a TCP entry has no address to try (yet) */
	if ((p = node_peer_find(n, n->admitted_cert.node_id)) == NULL || src == NULL ||
	    !endpoint_is_set(src) || endpoint_is_synthetic(src))
		return;
	p->hint = *src;
	endpoint_unmap(&p->hint);
	node_peer_set_candidates(n, p, mesh_records_endpoints(n->recs, p->node_id, &e) == 0 ? &e : NULL);
	node_routes_recompute(n);	/* its endpoint may have changed */
}

/* ---- revocation ---- */

static int revoke_make(const struct store_mesh *mesh, const uint8_t *id, uint64_t now_unix,
    struct store_revocation *out)
{
	struct mesh_revoke rv;
	struct wr w;
	int r;

	if (now_unix > INT64_MAX)
		return MESHD_E_RANGE;
	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	memcpy(rv.mesh_id, mesh->mesh_id, MESH_ID_LEN);
	memcpy(rv.node_id, id, MESH_NODE_ID_LEN);
	rv.revoked_at = now_unix;
	if ((r = mesh_revoke_sign(&rv, mesh->authority_sk)) != 0)
		return r;
	memset(out, 0, sizeof *out);
	memcpy(out->node_id, id, MESH_NODE_ID_LEN);
	out->revoked_at = (int64_t)now_unix;
	wr_init(&w, out->record, sizeof out->record);
	if ((r = mesh_revoke_encode(&rv, &w)) != 0)
		return r;
	out->record_len = w.off;
	return 0;
}

/* Signs and stores the revocation of name and deletes the member, in one
 * transaction; *rv gets the record. */
static int revoke_store(struct store *st, const char *name, uint64_t now_unix,
    struct store_revocation *rv)
{
	struct store_mesh mesh;
	struct store_node node;
	struct store_member m;
	int r;

	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	if ((r = store_node_get(st, &node)) != 0)
		goto out;
	r = MESHD_E_PERM;
	if (!mesh.has_authority_sk)
		goto out;
	if ((r = store_member_get_by_name(st, name, &m)) != 0)
		goto out;
	r = MESHD_E_INVAL;
	if (id_eq(m.node_id, node.node_id))
		goto out;
	if ((r = revoke_make(&mesh, m.node_id, now_unix, rv)) != 0 ||
	    (r = store_tx_begin(st)) != 0)
		goto out;
	if ((r = store_revocation_put(st, rv)) != 0 && r != MESHD_E_EXIST)
		goto rollback;
	if ((r = store_member_delete(st, m.node_id)) != 0)
		goto rollback;
	r = store_tx_commit(st);
	goto out;
rollback:
	(void)store_tx_rollback(st);
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}

int mesh_node_revoke_offline(struct store *st, const char *name, uint64_t now_unix)
{
	struct store_revocation rv;

	return revoke_store(st, name, now_unix, &rv);
}

int mesh_node_revoke(struct mesh_node *n, const char *name, mtime_ns now, uint64_t now_unix)
{
	struct store_revocation rv;
	int r;

	if (!n->admin)
		return MESHD_E_PERM;
	enter(n, now, now_unix);
	if ((r = revoke_store(n->st, name, now_unix, &rv)) != 0)
		return r;
	r = mesh_gossip_publish(n->g, MESH_REC_REVOKE, rv.record, rv.record_len, now, now_unix);
	node_sweep_revocations(n);
	(void)mesh_node_flush(n, now, now_unix);	/* busy: the timers retry */
	return r < 0 ? r : 0;
}

bool mesh_node_revoked(const struct mesh_node *n)
{
	return n->revoked;
}

/* ---- certificate renewal ----
 *
 * Any admin re-issues every held certificate (its own included) from the
 * second less than a third of its life is left (mesh_cert_renewal): the
 * newer issued_at wins the merge everywhere and gossip carries it. The
 * record set is scanned at most every NODE_RENEW_SCAN_S (a cert that
 * arrives meanwhile waits that long at worst) and at its earliest due
 * time; at most NODE_RENEW_BURST certs are signed per scan, the rest one
 * second later, so a mesh whose certs were all issued together does not
 * stall the node. A member whose own cert stays unrenewed for a grace
 * period (no admin reachable) warns in the log, once per
 * NODE_CERT_WARN_EVERY_S at most, and in status. */
#define NODE_RENEW_SCAN_S 5
#define NODE_RENEW_BURST 4
#define NODE_RENEW_AGAIN_MS 1000
#define NODE_CERT_WARN_GRACE_MAX_S 900
#define NODE_CERT_WARN_EVERY_S 86400

/* The monotonic time of unix second t, as seen at the current entry point;
 * far deadlines are cut to a day (the timer then just looks again). */
static mtime_ns unix_to_mono(const struct mesh_node *n, uint64_t t)
{
	uint64_t d;

	if (t <= n->now_unix)
		return n->now;
	d = t - n->now_unix;
	return n->now + SEC(d < 86400 ? d : 86400);
}

/* When our cert counts as unrenewed: a grace after its due time, long
 * enough for an online admin's renewal to reach us by gossip. */
static uint64_t warn_from(const struct mesh_cert *c)
{
	uint64_t life = c->expires_at > c->issued_at ? c->expires_at - c->issued_at : 0;
	uint64_t grace = life / 12 < NODE_CERT_WARN_GRACE_MAX_S ? life / 12 :
	    NODE_CERT_WARN_GRACE_MAX_S;

	return mesh_cert_renew_at(c) + grace;
}

bool node_cert_unrenewed(const struct mesh_node *n)
{
	return n->now_unix >= warn_from(&n->self);
}

struct renew_scan {
	uint64_t now_unix, ttl_s;
	size_t ndue;
	struct mesh_cert due[NODE_RENEW_BURST];	/* renewals, unsigned */
	bool more;			/* due ones left for the next round */
	uint64_t next;			/* earliest due time not yet reached */
};

static int renew_scan_one(void *ctx, enum mesh_rec_kind kind, const uint8_t *id,
    const uint8_t *bytes, size_t len)
{
	struct renew_scan *rs = ctx;
	struct mesh_cert c;
	uint64_t at;

	(void)kind;
	(void)id;
	if (mesh_cert_decode(bytes, len, &c) != 0)
		return 0;
	at = mesh_cert_renew_at(&c);
	if (at > rs->now_unix) {
		if (at < rs->next)
			rs->next = at;
	} else if (rs->ndue == NODE_RENEW_BURST) {
		rs->more = true;
	} else if (mesh_cert_renewal(&c, rs->ttl_s, rs->now_unix, &rs->due[rs->ndue])) {
		rs->ndue++;
	}
	/* due but not renewable (our lifetime would shorten it): left alone;
	 * it expires as issued */
	return 0;
}

/* Signs and gossips the renewal nc; false on error. */
static bool renew_one(struct mesh_node *n, struct mesh_cert *nc)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	int r;

	if ((r = mesh_cert_sign(nc, n->authority_sk)) != 0 ||
	    (r = node_cert_to_bytes(nc, buf, sizeof buf, &len)) != 0 ||
	    (r = mesh_gossip_publish(n->g, MESH_REC_CERT, buf, len, n->now, n->now_unix)) < 0) {
		log_warn("mesh: renewing the certificate of %s: %s", nc->name, meshd_strerror(r));
		return false;
	}
	/* DUP: another admin's identical renewal got here first */
	if (r == MESH_MERGE_NEW)
		log_info("mesh: renewed the certificate of %s until %llu", nc->name,
		    (unsigned long long)nc->expires_at);
	return true;
}

static void renew_due(struct mesh_node *n)
{
	struct renew_scan rs = { .now_unix = n->now_unix, .ttl_s = n->cert_ttl_s,
				 .next = UINT64_MAX };
	bool failed = false;

	(void)mesh_records_foreach(n->recs, MESH_REC_CERT, renew_scan_one, &rs);
	for (size_t i = 0; i < rs.ndue; i++)
		if (!renew_one(n, &rs.due[i]))
			failed = true;
	n->renew_at = n->now + SEC(NODE_RENEW_SCAN_S);
	if (rs.more || failed)
		n->renew_at = n->now + MSEC(NODE_RENEW_AGAIN_MS);
	else if (rs.next != UINT64_MAX && unix_to_mono(n, rs.next) < n->renew_at)
		n->renew_at = unix_to_mono(n, rs.next);
}

mtime_ns node_certs_next_expiry(const struct mesh_node *n, mtime_ns t)
{
	uint64_t w = warn_from(&n->self);

	if (n->cert_warned != 0 && n->cert_warned + NODE_CERT_WARN_EVERY_S > w)
		w = n->cert_warned + NODE_CERT_WARN_EVERY_S;
	if (!n->revoked && unix_to_mono(n, w) < t)
		t = unix_to_mono(n, w);
	if (n->admin && !n->revoked && n->renew_at < t)
		t = n->renew_at;
	return t;
}

void node_certs_handle_expiry(struct mesh_node *n)
{
	uint64_t left;

	if (n->revoked)
		return;
	if (n->admin && n->now >= n->renew_at)
		renew_due(n);
	if (!node_cert_unrenewed(n) ||
	    (n->cert_warned != 0 && n->now_unix < n->cert_warned + NODE_CERT_WARN_EVERY_S))
		return;
	left = n->self.expires_at > n->now_unix ? n->self.expires_at - n->now_unix : 0;
	log_warn("mesh: our certificate expires in %llu s (unix %llu) and no admin has "
	    "renewed it: is an admin node online?", (unsigned long long)left,
	    (unsigned long long)n->self.expires_at);
	n->cert_warned = n->now_unix;
}

/* `meshd init --cert-ttl`: the setting, and our own cert re-issued with
 * that lifetime from its issue time, in one transaction. */
int mesh_node_set_cert_ttl(struct store *st, uint64_t ttl_s)
{
	char v[24];
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct store_mesh mesh;
	struct store_node node;
	struct store_member m;
	struct mesh_cert c;
	size_t len;
	int r;

	if (ttl_s < MESH_CERT_TTL_MIN_S || ttl_s > MESH_CERT_TTL_MAX_S)
		return MESHD_E_INVAL;
	memset(&node, 0, sizeof node);
	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	r = MESHD_E_PERM;
	if (!mesh.has_authority_sk || (r = store_node_get(st, &node)) != 0 ||
	    (r = store_member_get_by_id(st, node.node_id, &m)) != 0)
		goto out;
	r = MESHD_E_PROTO;
	if (mesh_cert_decode(m.cert, m.cert_len, &c) != 0 ||
	    c.issued_at > (uint64_t)INT64_MAX - ttl_s)
		goto out;
	c.expires_at = c.issued_at + ttl_s;
	snprintf(v, sizeof v, "%llu", (unsigned long long)ttl_s);
	if ((r = mesh_cert_sign(&c, mesh.authority_sk)) != 0 ||
	    (r = node_cert_to_bytes(&c, buf, sizeof buf, &len)) != 0 ||
	    (r = node_member_from_cert(&m, &c, buf, len, c.issued_at)) != 0 ||
	    (r = store_tx_begin(st)) != 0)
		goto out;
	if ((r = store_setting_put(st, MESH_CERT_TTL_SETTING, v)) != 0 ||
	    (r = store_member_upsert(st, &m)) != 0) {
		(void)store_tx_rollback(st);
		goto out;
	}
	r = store_tx_commit(st);
out:
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	return r;
}
