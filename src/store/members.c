/* Members (one row per certificate) and revocations. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

#define MEMBER_COLS "node_id, name, wg_public_key, overlay4, overlay6, " \
	"cert_version, cert_expires_at, admin, updated_at, cert"

/* Reads a row selected as MEMBER_COLS (a store_read_fn). */
static int read_member(sqlite3_stmt *s, void *out)
{
	struct store_member *m = out;
	const struct store_col c[] = {
		COL_BLOB(m->node_id, sizeof m->node_id),
		COL_TEXT(m->name, sizeof m->name),
		COL_BLOB(m->wg_public_key, sizeof m->wg_public_key),
		COL_TEXT(m->overlay4, sizeof m->overlay4),
		COL_TEXT(m->overlay6, sizeof m->overlay6),
		COL_INT(&m->cert_version, 0, INT64_MAX),
		COL_I64(&m->cert_expires_at),
		COL_INT(&m->admin, 0, 1),
		COL_I64(&m->updated_at),
		COL_BLOB_LEN(m->cert, sizeof m->cert, &m->cert_len),
	};

	return store_read_cols(s, STORE_COLS(c), m, sizeof *m);
}

int store_member_upsert(struct store *st, const struct store_member *m)
{
	char ip4[STORE_IP_STRLEN], ip6[STORE_IP_STRLEN];
	const struct store_arg a[] = {
		BIND_BLOB(m->node_id, sizeof m->node_id),
		BIND_TEXT(m->name),
		BIND_BLOB(m->wg_public_key, sizeof m->wg_public_key),
		BIND_TEXT(ip4),
		BIND_TEXT(ip6),
		BIND_INT((int64_t)m->cert_version),
		BIND_INT(m->cert_expires_at),
		BIND_INT(m->admin ? 1 : 0),
		BIND_INT(m->updated_at),
		BIND_BLOB(m->cert, m->cert_len),
	};

	if (store_check_name(m->name) != 0 ||
	    store_canon_ip(m->overlay4, AF_INET, ip4) != 0 ||
	    store_canon_ip(m->overlay6, AF_INET6, ip6) != 0 ||
	    m->cert_len == 0 || m->cert_len > sizeof m->cert ||
	    m->cert_version > INT64_MAX)
		return MESHD_E_INVAL;
	/* An upsert, not INSERT OR REPLACE: replacing would delete the row
	 * and cascade to the member's records. */
	return store_query(st, STMT_MEMBER_UPSERT, "INSERT INTO members ("
	    MEMBER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
	    "ON CONFLICT (node_id) DO UPDATE SET name = excluded.name, "
	    "wg_public_key = excluded.wg_public_key, "
	    "overlay4 = excluded.overlay4, overlay6 = excluded.overlay6, "
	    "cert_version = excluded.cert_version, "
	    "cert_expires_at = excluded.cert_expires_at, "
	    "admin = excluded.admin, updated_at = excluded.updated_at, "
	    "cert = excluded.cert", STORE_ARGS(a), STORE_RUN, NULL, NULL);
}

int store_member_get_by_id(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_member *out)
{
	return store_get_by_key(st, STMT_MEMBER_GET_ID, "SELECT " MEMBER_COLS
	    " FROM members WHERE node_id = ?1", id, STORE_NODE_ID_LEN,
	    read_member, out);
}

int store_member_get_by_name(struct store *st, const char *name,
    struct store_member *out)
{
	const struct store_arg a[] = { BIND_TEXT(name) };

	if (store_check_name(name) != 0)
		return MESHD_E_INVAL;
	return store_query(st, STMT_MEMBER_GET_NAME, "SELECT " MEMBER_COLS
	    " FROM members WHERE name = ?1", STORE_ARGS(a), STORE_ROW,
	    read_member, out);
}

int store_member_delete(struct store *st, const uint8_t id[STORE_NODE_ID_LEN])
{
	const struct store_arg a[] = { BIND_BLOB(id, STORE_NODE_ID_LEN) };
	int r = store_query(st, STMT_MEMBER_DELETE,
	    "DELETE FROM members WHERE node_id = ?1", STORE_ARGS(a),
	    STORE_RUN_CHANGES, NULL, NULL);

	return r == 0 ? MESHD_E_NOENT : r < 0 ? r : 0;
}

STORE_WALK_DEFINE(member, struct store_member, store_member_fn, read_member)

int store_member_foreach(struct store *st, store_member_fn *fn, void *arg)
{
	struct member_walk w = { fn, arg };

	return store_query(st, STMT_MEMBER_ALL, "SELECT " MEMBER_COLS
	    " FROM members ORDER BY name", NULL, 0, STORE_ROWS, member_row, &w);
}

/* ---- revocations ---- */

/* Reads a row (node_id, record, revoked_at) (a store_read_fn). */
static int read_revocation(sqlite3_stmt *s, void *out)
{
	struct store_revocation *rv = out;
	const struct store_col c[] = {
		COL_BLOB(rv->node_id, sizeof rv->node_id),
		COL_BLOB_LEN(rv->record, sizeof rv->record, &rv->record_len),
		COL_I64(&rv->revoked_at),
	};

	return store_read_cols(s, STORE_COLS(c), rv, sizeof *rv);
}

int store_revocation_put(struct store *st, const struct store_revocation *rv)
{
	const struct store_arg a[] = {
		BIND_BLOB(rv->node_id, sizeof rv->node_id),
		BIND_BLOB(rv->record, rv->record_len),
		BIND_INT(rv->revoked_at),
	};

	if (rv->record_len == 0 || rv->record_len > sizeof rv->record)
		return MESHD_E_INVAL;
	return store_query(st, STMT_REVOKE_PUT, "INSERT INTO revocations "
	    "(node_id, record, revoked_at) VALUES (?1, ?2, ?3)", STORE_ARGS(a),
	    STORE_RUN, NULL, NULL);
}

/* A store_read_fn for a row whose presence is the answer. */
static int read_nothing(sqlite3_stmt *s, void *out)
{
	(void)s;
	(void)out;
	return 0;
}

int store_revocation_exists(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN])
{
	int r = store_get_by_key(st, STMT_REVOKE_EXISTS,
	    "SELECT 1 FROM revocations WHERE node_id = ?1", id,
	    STORE_NODE_ID_LEN, read_nothing, NULL);

	return r == 0 ? 1 : r == MESHD_E_NOENT ? 0 : r;
}

int store_revocation_get(struct store *st, const uint8_t id[STORE_NODE_ID_LEN],
    struct store_revocation *out)
{
	return store_get_by_key(st, STMT_REVOKE_GET, "SELECT node_id, record, "
	    "revoked_at FROM revocations WHERE node_id = ?1", id,
	    STORE_NODE_ID_LEN, read_revocation, out);
}

STORE_WALK_DEFINE(revocation, struct store_revocation, store_revocation_fn,
    read_revocation)

int store_revocation_foreach(struct store *st, store_revocation_fn *fn,
    void *arg)
{
	struct revocation_walk w = { fn, arg };

	return store_query(st, STMT_REVOKE_ALL, "SELECT node_id, record, "
	    "revoked_at FROM revocations ORDER BY revoked_at, node_id", NULL, 0,
	    STORE_ROWS, revocation_row, &w);
}
