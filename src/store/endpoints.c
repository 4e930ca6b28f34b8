/* Signed endpoint records of members. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

/* ---- signed endpoint records ---- */

int store_endpoint_record_put(struct store *st,
    const struct store_endpoint_record *rec)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (rec->version > INT64_MAX || rec->record_len == 0 ||
	    rec->record_len > sizeof rec->record)
		return MESHD_E_INVAL;
	/* Newer replaces older in one statement: the WHERE on DO UPDATE
	 * leaves a stored record of the same or a higher version alone, and
	 * sqlite3_changes() then reports 0. */
	s = store_stmt(st, STMT_EPREC_PUT, "INSERT INTO endpoint_records "
	    "(node_id, version, record, updated_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (node_id) DO UPDATE SET version = excluded.version, "
	    "record = excluded.record, updated_at = excluded.updated_at "
	    "WHERE excluded.version > endpoint_records.version", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, rec->node_id, sizeof rec->node_id,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 2, (int64_t)rec->version)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_blob(s, 3, rec->record, (int)rec->record_len,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 4, rec->updated_at)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else if (sqlite3_changes(st->db) == 0)
		r = MESHD_E_EXIST;
	store_stmt_done(s);
	return r;
}

int store_endpoint_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_endpoint_record *out)
{
	sqlite3_stmt *s;
	int64_t v;
	int r = 0, rc;

	s = store_stmt(st, STMT_EPREC_GET, "SELECT node_id, version, record, "
	    "updated_at FROM endpoint_records WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	memset(out, 0, sizeof *out);
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK) {
		r = store_err(st, rc);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = MESHD_E_NOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_err(st, rc);
		goto out;
	}
	if ((r = store_col_blob(s, 0, out->node_id, sizeof out->node_id,
	    NULL)) != 0 ||
	    (r = store_col_blob(s, 2, out->record, sizeof out->record,
	    &out->record_len)) != 0)
		goto out;
	if ((v = sqlite3_column_int64(s, 1)) < 0) {
		r = MESHD_E_PROTO;
		goto out;
	}
	out->version = (uint64_t)v;
	out->updated_at = sqlite3_column_int64(s, 3);
out:
	store_stmt_done(s);
	return r;
}
