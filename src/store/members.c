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
	int64_t v;
	int r;

	memset(m, 0, sizeof *m);
	if ((r = store_col_blob(s, 0, m->node_id, sizeof m->node_id,
	    NULL)) != 0 ||
	    (r = store_col_text(s, 1, m->name, sizeof m->name)) != 0 ||
	    (r = store_col_blob(s, 2, m->wg_public_key,
	    sizeof m->wg_public_key, NULL)) != 0 ||
	    (r = store_col_text(s, 3, m->overlay4, sizeof m->overlay4)) != 0 ||
	    (r = store_col_text(s, 4, m->overlay6, sizeof m->overlay6)) != 0 ||
	    (r = store_col_blob(s, 9, m->cert, sizeof m->cert,
	    &m->cert_len)) != 0)
		return r;
	if ((v = sqlite3_column_int64(s, 5)) < 0)
		return MESHD_E_PROTO;
	m->cert_version = (uint64_t)v;
	m->cert_expires_at = sqlite3_column_int64(s, 6);
	m->admin = sqlite3_column_int(s, 7) != 0;
	m->updated_at = sqlite3_column_int64(s, 8);
	return 0;
}

int store_member_upsert(struct store *st, const struct store_member *m)
{
	char ip4[STORE_IP_STRLEN], ip6[STORE_IP_STRLEN];
	sqlite3_stmt *s;
	int r = 0, rc;

	if (store_check_name(m->name) != 0 ||
	    store_canon_ip(m->overlay4, AF_INET, ip4) != 0 ||
	    store_canon_ip(m->overlay6, AF_INET6, ip6) != 0 ||
	    m->cert_len == 0 || m->cert_len > sizeof m->cert ||
	    m->cert_version > INT64_MAX)
		return MESHD_E_INVAL;
	/* An upsert, not INSERT OR REPLACE: replacing would delete the row
	 * and cascade to the member's records. */
	s = store_stmt(st, STMT_MEMBER_UPSERT, "INSERT INTO members ("
	    MEMBER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
	    "ON CONFLICT (node_id) DO UPDATE SET name = excluded.name, "
	    "wg_public_key = excluded.wg_public_key, "
	    "overlay4 = excluded.overlay4, overlay6 = excluded.overlay6, "
	    "cert_version = excluded.cert_version, "
	    "cert_expires_at = excluded.cert_expires_at, "
	    "admin = excluded.admin, updated_at = excluded.updated_at, "
	    "cert = excluded.cert", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, m->node_id, sizeof m->node_id,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 3, m->wg_public_key,
	    sizeof m->wg_public_key, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 4, ip4, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_text(s, 5, ip6, -1, SQLITE_STATIC)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 6, (int64_t)m->cert_version)) ==
	    SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 7, m->cert_expires_at)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int(s, 8, m->admin ? 1 : 0)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 9, m->updated_at)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 10, m->cert, (int)m->cert_len,
	    SQLITE_STATIC)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish(st, s, rc);
}

int store_member_get_by_id(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_member *out)
{
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_MEMBER_GET_ID, "SELECT " MEMBER_COLS
	    " FROM members WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	return store_get_by_blob(st, s, id, STORE_NODE_ID_LEN, read_member,
	    out);
}

int store_member_get_by_name(struct store *st, const char *name,
    struct store_member *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (store_check_name(name) != 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_MEMBER_GET_NAME, "SELECT " MEMBER_COLS
	    " FROM members WHERE name = ?1", &r);
	if (s == NULL)
		return r;
	rc = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return store_finish(st, s, rc);
	return store_step_one(st, s, read_member, out);
}

int store_member_delete(struct store *st, const uint8_t id[STORE_NODE_ID_LEN])
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_MEMBER_DELETE,
	    "DELETE FROM members WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) == SQLITE_OK)
		rc = sqlite3_step(s);
	r = store_finish_changes(st, s, rc);
	return r == 0 ? MESHD_E_NOENT : r < 0 ? r : 0;
}

struct member_walk {
	store_member_fn *fn;
	void *arg;
};

static int member_row(sqlite3_stmt *s, void *arg)
{
	const struct member_walk *w = arg;
	struct store_member m;
	int r = read_member(s, &m);

	return r != 0 ? r : w->fn(&m, w->arg);
}

int store_member_foreach(struct store *st, store_member_fn *fn, void *arg)
{
	struct member_walk w = { fn, arg };
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_MEMBER_ALL, "SELECT " MEMBER_COLS
	    " FROM members ORDER BY name", &r);
	if (s == NULL)
		return r;
	return store_step_each(st, s, member_row, &w);
}

/* ---- revocations ---- */

/* Reads a row (node_id, record, revoked_at) (a store_read_fn). */
static int read_revocation(sqlite3_stmt *s, void *out)
{
	struct store_revocation *rv = out;
	int r;

	memset(rv, 0, sizeof *rv);
	if ((r = store_col_blob(s, 0, rv->node_id, sizeof rv->node_id,
	    NULL)) != 0 ||
	    (r = store_col_blob(s, 1, rv->record, sizeof rv->record,
	    &rv->record_len)) != 0)
		return r;
	rv->revoked_at = sqlite3_column_int64(s, 2);
	return 0;
}

int store_revocation_put(struct store *st, const struct store_revocation *rv)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (rv->record_len == 0 || rv->record_len > sizeof rv->record)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_REVOKE_PUT, "INSERT INTO revocations "
	    "(node_id, record, revoked_at) VALUES (?1, ?2, ?3)", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, rv->node_id, sizeof rv->node_id,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 2, rv->record, (int)rv->record_len,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 3, rv->revoked_at)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish(st, s, rc);
}

int store_revocation_exists(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN])
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_REVOKE_EXISTS,
	    "SELECT 1 FROM revocations WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK)
		r = store_err(st, rc);
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		r = 1;
	else if (rc != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_revocation_get(struct store *st, const uint8_t id[STORE_NODE_ID_LEN],
    struct store_revocation *out)
{
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_REVOKE_GET, "SELECT node_id, record, "
	    "revoked_at FROM revocations WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	return store_get_by_blob(st, s, id, STORE_NODE_ID_LEN,
	    read_revocation, out);
}

struct revocation_walk {
	store_revocation_fn *fn;
	void *arg;
};

static int revocation_row(sqlite3_stmt *s, void *arg)
{
	const struct revocation_walk *w = arg;
	struct store_revocation rv;
	int r = read_revocation(s, &rv);

	return r != 0 ? r : w->fn(&rv, w->arg);
}

int store_revocation_foreach(struct store *st, store_revocation_fn *fn,
    void *arg)
{
	struct revocation_walk w = { fn, arg };
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_REVOKE_ALL, "SELECT node_id, record, "
	    "revoked_at FROM revocations ORDER BY revoked_at, node_id", &r);
	if (s == NULL)
		return r;
	return store_step_each(st, s, revocation_row, &w);
}
