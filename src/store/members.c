/* Members (one row per certificate) and revocations. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

#define MEMBER_COLS "node_id, name, wg_public_key, overlay4, overlay6, " \
	"cert_version, cert_expires_at, admin, updated_at, cert"

static int read_member(sqlite3_stmt *s, struct store_member *m)
{
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

/* Steps a single-row query into out: 0, MESHD_E_NOENT or an error. */
static int get_one(struct store *st, sqlite3_stmt *s, struct store_member *out)
{
	int rc, r;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = read_member(s, out);
	else if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
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
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_blob(s, 3, m->wg_public_key,
	    sizeof m->wg_public_key, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 4, ip4, -1, SQLITE_STATIC)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 5, ip6, -1, SQLITE_STATIC)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 6, (int64_t)m->cert_version)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 7, m->cert_expires_at)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(s, 8, m->admin ? 1 : 0)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 9, m->updated_at)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(s, 10, m->cert, (int)m->cert_len,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_member_get_by_id(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_member *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_MEMBER_GET_ID, "SELECT " MEMBER_COLS
	    " FROM members WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		store_stmt_done(s);
		return store_err(st, rc);
	}
	return get_one(st, s, out);
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
	if (rc != SQLITE_OK) {
		store_stmt_done(s);
		return store_err(st, rc);
	}
	return get_one(st, s, out);
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
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else if (sqlite3_changes(st->db) == 0)
		r = MESHD_E_NOENT;
	store_stmt_done(s);
	return r;
}

int store_member_foreach(struct store *st, store_member_fn *fn, void *arg)
{
	struct store_member m;
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_MEMBER_ALL, "SELECT " MEMBER_COLS
	    " FROM members ORDER BY name", &r);
	if (s == NULL)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = read_member(s, &m)) != 0 || (r = fn(&m, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = store_err(st, rc);
out:
	store_stmt_done(s);
	return r;
}

/* ---- revocations ---- */

static int read_revocation(sqlite3_stmt *s, struct store_revocation *rv)
{
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
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(s, 2, rv->record, (int)rv->record_len,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 3, rv->revoked_at)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
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
	int r = 0, rc;

	s = store_stmt(st, STMT_REVOKE_GET, "SELECT node_id, record, "
	    "revoked_at FROM revocations WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK)
		r = store_err(st, rc);
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		r = read_revocation(s, out);
	else if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_revocation_foreach(struct store *st, store_revocation_fn *fn,
    void *arg)
{
	struct store_revocation rv;
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_REVOKE_ALL, "SELECT node_id, record, "
	    "revoked_at FROM revocations ORDER BY revoked_at, node_id", &r);
	if (s == NULL)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = read_revocation(s, &rv)) != 0 ||
		    (r = fn(&rv, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = store_err(st, rc);
out:
	store_stmt_done(s);
	return r;
}
