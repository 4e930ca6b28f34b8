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

/* Reads the one row of a table that holds a secret into out (size bytes),
 * wiped unless the row was read whole (a half-read row may hold part of
 * the secret). */
static int get_secret_row(struct store *st, enum store_stmt id,
    const char *sql, store_read_fn *read, void *out, size_t size)
{
	int r = store_query(st, id, sql, NULL, 0, STORE_ROW, read, out);

	if (r != 0)
		sodium_memzero(out, size);
	return r;
}

/* Reads the node row (a store_read_fn). */
static int read_node(sqlite3_stmt *s, void *arg)
{
	struct store_node *out = arg;
	const struct store_col c[] = {
		COL_BLOB(out->node_id, sizeof out->node_id),
		COL_TEXT(out->name, sizeof out->name),
		COL_BLOB(out->wg_private_key, sizeof out->wg_private_key),
		COL_INT(&out->listen_port, 0, UINT16_MAX),
		COL_TEXT(out->ifname, sizeof out->ifname),
		COL_I64(&out->created_at),
	};

	return store_read_cols(s, STORE_COLS(c), out, sizeof *out);
}

int store_node_get(struct store *st, struct store_node *out)
{
	return get_secret_row(st, STMT_NODE_GET, "SELECT node_id, name, "
	    "wg_private_key, listen_port, ifname, created_at FROM node "
	    "WHERE id = 1", read_node, out, sizeof *out);
}

int store_node_put(struct store *st, const struct store_node *n)
{
	const struct store_arg a[] = {
		BIND_BLOB(n->node_id, sizeof n->node_id),
		BIND_TEXT(n->name),
		BIND_BLOB(n->wg_private_key, sizeof n->wg_private_key),
		BIND_INT(n->listen_port),
		BIND_TEXT(n->ifname),
		BIND_INT(n->created_at),
	};

	if (store_check_name(n->name) != 0 ||
	    store_check_text(n->ifname, STORE_IFNAME_MAX, true) != 0)
		return MESHD_E_INVAL;
	return store_query(st, STMT_NODE_PUT, "INSERT INTO node (id, node_id, "
	    "name, wg_private_key, listen_port, ifname, created_at) "
	    "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET "
	    "node_id = excluded.node_id, name = excluded.name, "
	    "wg_private_key = excluded.wg_private_key, "
	    "listen_port = excluded.listen_port, ifname = excluded.ifname, "
	    "created_at = excluded.created_at", STORE_ARGS(a), STORE_RUN, NULL,
	    NULL);
}

/* Reads the mesh row (a store_read_fn). */
static int read_mesh(sqlite3_stmt *s, void *arg)
{
	struct store_mesh *out = arg;
	const struct store_col c[] = {
		COL_BLOB(out->mesh_id, sizeof out->mesh_id),
		COL_TEXT(out->name, sizeof out->name),
		COL_BLOB(out->authority_pk, sizeof out->authority_pk),
		COL_BLOB_OR_NULL(out->authority_sk, sizeof out->authority_sk,
		    &out->has_authority_sk),
		COL_TEXT(out->prefix4, sizeof out->prefix4),
		COL_TEXT(out->prefix6, sizeof out->prefix6),
		COL_I64(&out->created_at),
	};

	return store_read_cols(s, STORE_COLS(c), out, sizeof *out);
}

int store_mesh_get(struct store *st, struct store_mesh *out)
{
	return get_secret_row(st, STMT_MESH_GET, "SELECT mesh_id, name, "
	    "authority_pk, authority_sk, prefix4, prefix6, created_at "
	    "FROM mesh WHERE id = 1", read_mesh, out, sizeof *out);
}

int store_mesh_put(struct store *st, const struct store_mesh *m)
{
	char p4[STORE_PREFIX_STRLEN], p6[STORE_PREFIX_STRLEN];
	const struct store_arg a[] = {
		BIND_BLOB(m->mesh_id, sizeof m->mesh_id),
		BIND_TEXT(m->name),
		BIND_BLOB(m->authority_pk, sizeof m->authority_pk),
		m->has_authority_sk ?
		    BIND_BLOB(m->authority_sk, sizeof m->authority_sk) : BIND_NULL,
		BIND_TEXT(p4),
		BIND_TEXT(p6),
		BIND_INT(m->created_at),
	};

	if (store_check_name(m->name) != 0 ||
	    store_canon_prefix(m->prefix4, AF_INET, p4) != 0 ||
	    store_canon_prefix(m->prefix6, AF_INET6, p6) != 0)
		return MESHD_E_INVAL;
	return store_query(st, STMT_MESH_PUT, "INSERT INTO mesh (id, mesh_id, "
	    "name, authority_pk, authority_sk, prefix4, prefix6, created_at) "
	    "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE "
	    "SET mesh_id = excluded.mesh_id, name = excluded.name, "
	    "authority_pk = excluded.authority_pk, "
	    "authority_sk = excluded.authority_sk, "
	    "prefix4 = excluded.prefix4, prefix6 = excluded.prefix6, "
	    "created_at = excluded.created_at", STORE_ARGS(a), STORE_RUN, NULL,
	    NULL);
}
