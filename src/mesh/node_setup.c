/* Mesh node: store-only operations for the CLI, run with no node open and
 * often with no daemon at all: creating a mesh (`meshd init`), persisting a
 * successful join (`meshd join`: the roster is verified record by record),
 * and adding an invite (`meshd invite`). Each writes in one transaction, so
 * a failure leaves the store as it was.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "mesh/token.h"
#include "util/err.h"

static int prefix_format(const struct mesh_prefix *p, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int af = p->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;

	if (inet_ntop(af, p->addr, a, sizeof a) == NULL)
		return MESHD_E_INVAL;
	if ((size_t)snprintf(out, cap, "%s/%u", a, (unsigned)p->len) >= cap)
		return MESHD_E_RANGE;
	return 0;
}

/* The rows a node starts with, written together by `init` and `join`: the
 * node, its mesh and its own member row. node and mesh hold secrets. */
struct start_rows {
	struct store_node node;
	struct store_mesh mesh;
	struct store_member self;
};

static void rows_clear(struct start_rows *rows)
{
	store_node_clear(&rows->node);
	store_mesh_clear(&rows->mesh);
}

static int rows_put(struct store *st, const struct start_rows *rows)
{
	int r;

	if ((r = store_node_put(st, &rows->node)) != 0 ||
	    (r = store_mesh_put(st, &rows->mesh)) != 0 ||
	    (r = store_member_upsert(st, &rows->self)) != 0)
		return r;
	return 0;
}

/* ---- joining ---- */

static int verify_roster_endpoints(struct store *st, const struct mesh_endpoints *e,
    const uint8_t *mesh_id, uint64_t now_unix)
{
	struct store_member m;
	struct mesh_cert c;

	if (store_member_get_by_id(st, e->node_id, &m) != 0 ||
	    mesh_cert_decode(m.cert, m.cert_len, &c) != 0 ||
	    !mesh_endpoints_verify(e, c.sign_pk, mesh_id, now_unix))
		return MESHD_E_CRYPTO;
	return 0;
}

/* One roster record into the store; a record that does not verify, or
 * that the store refuses, is skipped (gossip brings the truth later). */
static int persist_record(struct store *st, const struct mesh_join_result *res,
    const struct mesh_join_rec *rec, uint64_t now_unix)
{
	const uint8_t *b = res->resp.data + rec->off;
	union {
		struct store_member m;
		struct store_revocation rv;
		struct store_record er;
	} u;
	struct mesh_cert c;
	struct mesh_revoke rv;
	struct mesh_endpoints e;
	int r = 0;

	if ((size_t)rec->off + rec->len > res->resp.data_len)
		return 0;
	switch (rec->kind) {
	case MESH_REC_CERT:
		if (mesh_cert_decode(b, rec->len, &c) != 0 ||
		    !mesh_cert_verify(&c, res->resp.authority_pk, now_unix) ||
		    id_eq(c.node_id, res->cert.node_id) ||
		    node_member_from_cert(&u.m, &c, b, rec->len, now_unix) != 0)
			return 0;
		r = store_member_upsert(st, &u.m);
		break;
	case MESH_REC_REVOKE:
		if (node_revocation_row(&u.rv, &rv, b, rec->len) != 0 ||
		    !mesh_revoke_verify(&rv, res->resp.authority_pk))
			return 0;
		r = store_revocation_put(st, &u.rv);
		if (r == 0 || r == MESHD_E_EXIST)
			r = store_member_delete(st, rv.node_id);
		break;
	case MESH_REC_ENDPOINTS:
		if (mesh_endpoints_decode(b, rec->len, &e) != 0 ||
		    node_record_row(&u.er, MESH_REC_ENDPOINTS, e.node_id, e.seq, b, rec->len,
		    now_unix) != 0 ||
		    verify_roster_endpoints(st, &e, res->mesh_id, now_unix) != 0)
			return 0;
		r = store_record_put(st, &u.er);
		break;
	}
	/* conflicts and strays are skipped; real store failures are not */
	if (r == MESHD_E_EXIST || r == MESHD_E_NOENT || r == MESHD_E_INVAL)
		r = 0;
	return r;
}

static int persist_rows(struct store *st, const struct mesh_join_result *res,
    const uint8_t *wg_sk, uint16_t listen_port, const char *ifname, uint64_t now_unix)
{
	struct start_rows rows;
	struct store_node *node = &rows.node;
	struct store_mesh *mesh = &rows.mesh;
	int r;

	memset(&rows, 0, sizeof rows);
	memcpy(node->node_id, res->cert.node_id, MESH_NODE_ID_LEN);
	snprintf(node->name, sizeof node->name, "%s", res->cert.name);
	memcpy(node->wg_private_key, wg_sk, MESH_WG_KEY_LEN);
	node->listen_port = listen_port;
	r = MESHD_E_INVAL;
	if (ifname != NULL &&
	    (size_t)snprintf(node->ifname, sizeof node->ifname, "%s", ifname) >= sizeof node->ifname)
		goto out;
	node->created_at = (int64_t)now_unix;
	memcpy(mesh->mesh_id, res->mesh_id, MESH_ID_LEN);
	snprintf(mesh->name, sizeof mesh->name, "%s", res->resp.mesh_name);
	memcpy(mesh->authority_pk, res->resp.authority_pk, MESH_PK_LEN);
	mesh->created_at = (int64_t)now_unix;
	if ((r = prefix_format(&res->resp.prefix4, mesh->prefix4, sizeof mesh->prefix4)) != 0 ||
	    (r = prefix_format(&res->resp.prefix6, mesh->prefix6, sizeof mesh->prefix6)) != 0 ||
	    (r = node_member_from_cert(&rows.self, &res->cert, res->resp.cert,
	    res->resp.cert_len, now_unix)) != 0 ||
	    (r = rows_put(st, &rows)) != 0)
		goto out;
	for (unsigned i = 0; i < res->resp.nrec && r == 0; i++)
		r = persist_record(st, res, &res->resp.rec[i], now_unix);
out:
	rows_clear(&rows);
	return r;
}

int mesh_node_persist_join(struct store *st, const struct mesh_join_result *res,
    const uint8_t wg_sk[MESH_WG_KEY_LEN], uint16_t listen_port, const char *ifname,
    uint64_t now_unix)
{
	struct store_node cur;
	uint8_t pk[MESH_WG_KEY_LEN];
	int r;

	if (now_unix > INT64_MAX)
		return MESHD_E_RANGE;
	if ((r = store_node_get(st, &cur)) != MESHD_E_NOENT) {
		store_node_clear(&cur);
		return r == 0 ? MESHD_E_EXIST : r;
	}
	if (crypto_scalarmult_base(pk, wg_sk) != 0 ||
	    memcmp(pk, res->cert.wg_pubkey, MESH_WG_KEY_LEN) != 0)
		return MESHD_E_INVAL;
	if ((r = store_tx_begin(st)) != 0)
		return r;
	if ((r = persist_rows(st, res, wg_sk, listen_port, ifname, now_unix)) != 0) {
		(void)store_tx_rollback(st);
		return r;
	}
	return store_tx_commit(st);
}

/* ---- a new mesh ---- */

static int init_keys(struct store_node *node, struct store_mesh *mesh, struct mesh_cert *c,
    const struct mesh_prefix *p4, uint64_t now_unix)
{
	struct mesh_prefix p6;
	uint8_t sk[MESH_SK_LEN], a[16];
	int r;

	if ((r = mesh_identity_authority_keygen(mesh->authority_pk, mesh->authority_sk)) != 0)
		return r;
	mesh->has_authority_sk = true;
	mesh_identity_mesh_id(mesh->authority_pk, mesh->mesh_id);
	mesh_identity_ula_prefix(mesh->mesh_id, &p6);
	if ((r = prefix_format(p4, mesh->prefix4, sizeof mesh->prefix4)) != 0 ||
	    (r = prefix_format(&p6, mesh->prefix6, sizeof mesh->prefix6)) != 0)
		return r;
	randombytes_buf(node->wg_private_key, sizeof node->wg_private_key);
	mesh_identity_node_id_new(node->node_id);

	memset(c, 0, sizeof *c);
	c->version = MESH_CERT_VERSION;
	memcpy(c->mesh_id, mesh->mesh_id, MESH_ID_LEN);
	memcpy(c->node_id, node->node_id, MESH_NODE_ID_LEN);
	snprintf(c->name, sizeof c->name, "%s", node->name);
	c->flags = MESH_CERT_F_ADMIN;
	c->issued_at = now_unix;
	c->expires_at = now_unix + (uint64_t)MESH_NODE_CERT_DAYS * 86400;
	if (crypto_scalarmult_base(c->wg_pubkey, node->wg_private_key) != 0 ||
	    mesh_node_sign_keypair(node->wg_private_key, c->sign_pk, sk) != 0)
		r = MESHD_E_CRYPTO;
	sodium_memzero(sk, sizeof sk);
	if (r != 0 || (r = mesh_identity_addr_for(p4, c->node_id, 0, a)) != 0)
		return r;
	memcpy(c->ipv4, a, 4);
	if ((r = mesh_identity_addr_for(&p6, c->node_id, 0, a)) != 0)
		return r;
	memcpy(c->ipv6, a, 16);
	return mesh_cert_sign(c, mesh->authority_sk);
}

static int init_check(struct store *st, const char *name, const char *mesh_name,
    const struct mesh_prefix *prefix4, const char *ifname, char *err, size_t errlen)
{
	struct store_node node;
	uint8_t a[16], id[MESH_NODE_ID_LEN] = { 0 };
	int r;

	if (name == NULL || !mesh_name_valid(name)) {
		set_err(err, errlen, "invalid node name '%s': must be a DNS label "
		    "(letters, digits, '-', 1-63 chars)", name ? name : "");
		return MESHD_E_INVAL;
	}
	if (!mesh_name_valid(mesh_name)) {
		set_err(err, errlen, "invalid mesh name '%s': must be a DNS label "
		    "(letters, digits, '-', 1-63 chars)", mesh_name);
		return MESHD_E_INVAL;
	}
	if (prefix4 != NULL && (prefix4->family != MESH_FAMILY_V4 ||
	    mesh_identity_addr_for(prefix4, id, 0, a) != 0)) {
		set_err(err, errlen, "%s", "invalid IPv4 prefix: need a network of /30 or larger");
		return MESHD_E_INVAL;
	}
	if (ifname != NULL && strlen(ifname) > STORE_IFNAME_MAX) {
		set_err(err, errlen, "invalid interface name '%s': too long", ifname);
		return MESHD_E_INVAL;
	}
	if ((r = store_node_get(st, &node)) != MESHD_E_NOENT) {
		store_node_clear(&node);
		set_err(err, errlen, "%s", r == 0 ? "already initialised" : meshd_strerror(r));
		return r == 0 ? MESHD_E_EXIST : r;
	}
	return 0;
}

int mesh_node_init_store(struct store *st, const char *name, const char *mesh_name,
    const struct mesh_prefix *prefix4, uint16_t listen_port, const char *ifname,
    uint64_t now_unix, char *err, size_t errlen)
{
	struct start_rows rows;
	struct mesh_cert c;
	struct mesh_prefix p4;
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t len;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (mesh_name == NULL)
		mesh_name = "mesh";
	if ((r = init_check(st, name, mesh_name, prefix4, ifname, err, errlen)) != 0)
		return r;
	if (now_unix > INT64_MAX / 2)
		return MESHD_E_RANGE;
	if (prefix4 != NULL)
		p4 = *prefix4;
	else
		mesh_identity_ipv4_prefix(randombytes_random(), &p4);
	memset(&rows, 0, sizeof rows);
	snprintf(rows.node.name, sizeof rows.node.name, "%s", name);
	snprintf(rows.node.ifname, sizeof rows.node.ifname, "%s", ifname ? ifname : "");
	rows.node.listen_port = listen_port;
	rows.node.created_at = (int64_t)now_unix;
	snprintf(rows.mesh.name, sizeof rows.mesh.name, "%s", mesh_name);
	rows.mesh.created_at = (int64_t)now_unix;
	if ((r = init_keys(&rows.node, &rows.mesh, &c, &p4, now_unix)) != 0 ||
	    (r = node_cert_to_bytes(&c, buf, sizeof buf, &len)) != 0 ||
	    (r = node_member_from_cert(&rows.self, &c, buf, len, now_unix)) != 0)
		goto out;
	if ((r = store_tx_begin(st)) != 0)
		goto out;
	if ((r = rows_put(st, &rows)) != 0) {
		(void)store_tx_rollback(st);
		goto out;
	}
	r = store_tx_commit(st);
out:
	if (r != 0 && err != NULL && errlen > 0 && err[0] == '\0')
		set_err(err, errlen, "%s", meshd_strerror(r));
	rows_clear(&rows);
	return r;
}

/* ---- invites ---- */

int mesh_node_add_invite(struct store *st, uint64_t ttl_s, uint32_t uses, uint64_t now_unix,
    struct mesh_token *tok)
{
	struct store_mesh mesh;
	struct store_invite inv;
	uint8_t sk[MESH_SK_LEN];
	int r;

	memset(tok, 0, sizeof *tok);
	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	r = MESHD_E_PERM;
	if (!mesh.has_authority_sk)
		goto out;
	r = MESHD_E_INVAL;
	if (ttl_s == 0 || uses == 0 || now_unix >= UINT32_MAX || ttl_s > UINT32_MAX - now_unix)
		goto out;
	memset(&inv, 0, sizeof inv);
	randombytes_buf(tok->secret, sizeof tok->secret);
	if ((r = mesh_join_invite_keypair(tok->secret, inv.invite_pk, sk)) != 0)
		goto out;
	mesh_join_invite_id(inv.invite_pk, inv.invite_id);
	inv.expires_at = (int64_t)(now_unix + ttl_s);
	inv.uses_left = uses;
	inv.created_at = (int64_t)now_unix;
	if ((r = store_invite_add(st, &inv)) != 0)
		goto out;
	memcpy(tok->mesh_id, mesh.mesh_id, MESH_TOKEN_ID_LEN);
	tok->expires_at = (uint32_t)(now_unix + ttl_s);
out:
	if (r != 0)
		mesh_token_clear(tok);
	sodium_memzero(sk, sizeof sk);
	store_mesh_clear(&mesh);
	return r;
}
