/* Candidate endpoints of members and their signed endpoint records. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

static const char *const source_names[] = {
	[STORE_EP_LOCAL] = "local",
	[STORE_EP_REFLEXIVE] = "reflexive",
	[STORE_EP_PORTMAP] = "portmap",
};

#define NSOURCES (sizeof source_names / sizeof source_names[0])

static int source_parse(const char *s, enum store_ep_source *out)
{
	size_t i;

	for (i = 0; i < NSOURCES; i++) {
		if (strcmp(s, source_names[i]) == 0) {
			*out = (enum store_ep_source)i;
			return 0;
		}
	}
	return MESHD_E_PROTO;
}

int store_endpoint_upsert(struct store *st, const struct store_endpoint *ep)
{
	char addr[STORE_ADDR_STRLEN];
	sqlite3_stmt *s;
	int r = 0, rc;

	if ((unsigned)ep->source >= NSOURCES || ep->last_seen < 0 ||
	    ep->first_seen < 0 || ep->last_success < 0 || ep->rtt_us < -1 ||
	    store_canon_endpoint(ep->addr, addr) != 0)
		return MESHD_E_INVAL;
	/* In DO UPDATE, bare column names are the stored row. max() of a
	 * NULL is NULL, hence the coalesce/nullif around last_success. */
	s = store_stmt(st, STMT_EP_UPSERT, "INSERT INTO endpoints (node_id, "
	    "addr, source, first_seen, last_seen, last_success, rtt_us) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (node_id, addr, source) DO UPDATE SET "
	    "last_seen = max(last_seen, excluded.last_seen), "
	    "last_success = nullif(max(coalesce(last_success, 0), "
	    "coalesce(excluded.last_success, 0)), 0), "
	    "rtt_us = coalesce(excluded.rtt_us, rtt_us)", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, ep->node_id, sizeof ep->node_id,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC)) !=
	    SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 3, source_names[ep->source], -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 4, ep->first_seen != 0 ?
	    ep->first_seen : ep->last_seen)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 5, ep->last_seen)) != SQLITE_OK ||
	    (rc = ep->last_success != 0 ? sqlite3_bind_int64(s, 6,
	    ep->last_success) : sqlite3_bind_null(s, 6)) != SQLITE_OK ||
	    (rc = ep->rtt_us >= 0 ? sqlite3_bind_int64(s, 7, ep->rtt_us) :
	    sqlite3_bind_null(s, 7)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

static int read_endpoint(sqlite3_stmt *s, struct store_endpoint *ep)
{
	int r;

	memset(ep, 0, sizeof *ep);
	if ((r = store_col_blob(s, 0, ep->node_id, sizeof ep->node_id,
	    NULL)) != 0 ||
	    (r = store_col_text(s, 1, ep->addr, sizeof ep->addr)) != 0 ||
	    (r = source_parse((const char *)sqlite3_column_text(s, 2),
	    &ep->source)) != 0)
		return r;
	ep->first_seen = sqlite3_column_int64(s, 3);
	ep->last_seen = sqlite3_column_int64(s, 4);
	ep->last_success = sqlite3_column_int64(s, 5);	/* NULL reads 0 */
	ep->rtt_us = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, 6);
	return 0;
}

int store_endpoint_foreach_for_node(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], store_endpoint_fn *fn, void *arg)
{
	struct store_endpoint ep;
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_EP_FOR_NODE, "SELECT node_id, addr, source, "
	    "first_seen, last_seen, last_success, rtt_us FROM endpoints "
	    "WHERE node_id = ?1 ORDER BY last_success IS NULL, "
	    "last_success DESC, last_seen DESC, addr, source", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK) {
		r = store_err(st, rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = read_endpoint(s, &ep)) != 0 ||
		    (r = fn(&ep, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = store_err(st, rc);
out:
	store_stmt_done(s);
	return r;
}

int store_endpoint_delete_stale(struct store *st, int64_t before)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_EP_DELETE_STALE,
	    "DELETE FROM endpoints WHERE last_seen < ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_int64(s, 1, before)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else
		r = sqlite3_changes(st->db);
	store_stmt_done(s);
	return r;
}

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
