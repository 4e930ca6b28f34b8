/* Signed ROUTES records of members (advertised subnet routes, schema v4):
 * the same newer-wins rule as endpoint records. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

int store_route_record_put(struct store *st,
    const struct store_route_record *rec)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (rec->version > INT64_MAX || rec->record_len == 0 ||
	    rec->record_len > sizeof rec->record)
		return MESHD_E_INVAL;
	/* The WHERE on DO UPDATE leaves a stored record of the same or a
	 * higher version alone, and sqlite3_changes() then reports 0. */
	s = store_stmt(st, STMT_ROUTEREC_PUT, "INSERT INTO route_records "
	    "(node_id, version, record, updated_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (node_id) DO UPDATE SET version = excluded.version, "
	    "record = excluded.record, updated_at = excluded.updated_at "
	    "WHERE excluded.version > route_records.version", &r);
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

#define ROUTEREC_COLS	"node_id, version, record, updated_at"

static int read_route_record(sqlite3_stmt *s, struct store_route_record *out)
{
	int64_t v;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_col_blob(s, 0, out->node_id, sizeof out->node_id,
	    NULL)) != 0 ||
	    (r = store_col_blob(s, 2, out->record, sizeof out->record,
	    &out->record_len)) != 0)
		return r;
	if ((v = sqlite3_column_int64(s, 1)) < 0)
		return MESHD_E_PROTO;
	out->version = (uint64_t)v;
	out->updated_at = sqlite3_column_int64(s, 3);
	return 0;
}

int store_route_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_route_record *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_ROUTEREC_GET, "SELECT " ROUTEREC_COLS
	    " FROM route_records WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	memset(out, 0, sizeof *out);
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK) {
		r = store_err(st, rc);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else if (rc != SQLITE_ROW)
		r = store_err(st, rc);
	else
		r = read_route_record(s, out);
out:
	store_stmt_done(s);
	return r;
}

int store_route_record_foreach(struct store *st, store_route_record_fn *fn,
    void *arg)
{
	struct store_route_record rec;
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_ROUTEREC_ALL, "SELECT " ROUTEREC_COLS
	    " FROM route_records ORDER BY node_id", &r);
	if (s == NULL)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = read_route_record(s, &rec)) != 0 ||
		    (r = fn(&rec, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = store_err(st, rc);
out:
	store_stmt_done(s);
	return r;
}
