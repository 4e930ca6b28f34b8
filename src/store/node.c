/* The two single-row tables: this node and its mesh. Both hold secrets (the
 * WireGuard private key, the authority secret key on admin nodes): they are
 * bound with SQLITE_STATIC, so no copy is made on our side, and the bindings
 * are dropped right after the statement runs. */
#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

void store_node_clear(struct store_node *n)
{
	if (n != NULL)
		sodium_memzero(n, sizeof *n);
}

void store_mesh_clear(struct store_mesh *m)
{
	if (m != NULL)
		sodium_memzero(m, sizeof *m);
}

/* Reads the node row (a store_read_fn). */
static int read_node(sqlite3_stmt *s, void *arg)
{
	struct store_node *out = arg;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_col_blob(s, 0, out->node_id, sizeof out->node_id,
	    NULL)) != 0 ||
	    (r = store_col_text(s, 1, out->name, sizeof out->name)) != 0 ||
	    (r = store_col_blob(s, 2, out->wg_private_key,
	    sizeof out->wg_private_key, NULL)) != 0 ||
	    (r = store_col_text(s, 4, out->ifname, sizeof out->ifname)) != 0)
		return r;
	out->listen_port = (uint16_t)sqlite3_column_int(s, 3);
	out->created_at = sqlite3_column_int64(s, 5);
	return 0;
}

int store_node_get(struct store *st, struct store_node *out)
{
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_NODE_GET, "SELECT node_id, name, "
	    "wg_private_key, listen_port, ifname, created_at FROM node "
	    "WHERE id = 1", &r);
	if (s == NULL)
		return r;
	/* a half-read row may hold part of the private key */
	if ((r = store_step_one(st, s, read_node, out)) != 0)
		store_node_clear(out);
	return r;
}

int store_node_put(struct store *st, const struct store_node *n)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (store_check_name(n->name) != 0 ||
	    store_check_text(n->ifname, STORE_IFNAME_MAX, true) != 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_NODE_PUT, "INSERT INTO node (id, node_id, "
	    "name, wg_private_key, listen_port, ifname, created_at) "
	    "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET "
	    "node_id = excluded.node_id, name = excluded.name, "
	    "wg_private_key = excluded.wg_private_key, "
	    "listen_port = excluded.listen_port, ifname = excluded.ifname, "
	    "created_at = excluded.created_at", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, n->node_id, sizeof n->node_id,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 2, n->name, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 3, n->wg_private_key,
	    sizeof n->wg_private_key, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int(s, 4, n->listen_port)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 5, n->ifname, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 6, n->created_at)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish(st, s, rc);
}

/* Reads the mesh row (a store_read_fn). */
static int read_mesh(sqlite3_stmt *s, void *arg)
{
	struct store_mesh *out = arg;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_col_blob(s, 0, out->mesh_id, sizeof out->mesh_id,
	    NULL)) != 0 ||
	    (r = store_col_text(s, 1, out->name, sizeof out->name)) != 0 ||
	    (r = store_col_blob(s, 2, out->authority_pk,
	    sizeof out->authority_pk, NULL)) != 0 ||
	    (r = store_col_text(s, 4, out->prefix4, sizeof out->prefix4)) != 0 ||
	    (r = store_col_text(s, 5, out->prefix6, sizeof out->prefix6)) != 0)
		return r;
	if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
		if ((r = store_col_blob(s, 3, out->authority_sk,
		    sizeof out->authority_sk, NULL)) != 0)
			return r;
		out->has_authority_sk = true;
	}
	out->created_at = sqlite3_column_int64(s, 6);
	return 0;
}

int store_mesh_get(struct store *st, struct store_mesh *out)
{
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_MESH_GET, "SELECT mesh_id, name, "
	    "authority_pk, authority_sk, prefix4, prefix6, created_at "
	    "FROM mesh WHERE id = 1", &r);
	if (s == NULL)
		return r;
	/* a half-read row may hold part of the authority secret key */
	if ((r = store_step_one(st, s, read_mesh, out)) != 0)
		store_mesh_clear(out);
	return r;
}

int store_mesh_put(struct store *st, const struct store_mesh *m)
{
	char p4[STORE_PREFIX_STRLEN], p6[STORE_PREFIX_STRLEN];
	sqlite3_stmt *s;
	int r = 0, rc;

	if (store_check_name(m->name) != 0 ||
	    store_canon_prefix(m->prefix4, AF_INET, p4) != 0 ||
	    store_canon_prefix(m->prefix6, AF_INET6, p6) != 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_MESH_PUT, "INSERT INTO mesh (id, mesh_id, "
	    "name, authority_pk, authority_sk, prefix4, prefix6, created_at) "
	    "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE "
	    "SET mesh_id = excluded.mesh_id, name = excluded.name, "
	    "authority_pk = excluded.authority_pk, "
	    "authority_sk = excluded.authority_sk, "
	    "prefix4 = excluded.prefix4, prefix6 = excluded.prefix6, "
	    "created_at = excluded.created_at", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, m->mesh_id, sizeof m->mesh_id,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 3, m->authority_pk,
	    sizeof m->authority_pk, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = m->has_authority_sk ? sqlite3_bind_blob(s, 4,
	    m->authority_sk, sizeof m->authority_sk, SQLITE_STATIC) :
	    sqlite3_bind_null(s, 4)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 5, p4, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 6, p6, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 7, m->created_at)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish(st, s, rc);
}
