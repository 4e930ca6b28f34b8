/* Signed records of members, one table keyed by (kind, node id) (schema
 * v5): the latest ENDPOINTS and ROUTES record of each member, newer
 * version wins. The typed endpoint/route functions are thin wrappers. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

#define RECORD_COLS	"kind, node_id, version, record, updated_at"

static bool kind_ok(int kind)
{
	return kind >= 1 && kind <= STORE_REC_KIND_MAX;
}

int store_record_put(struct store *st, const struct store_record *rec)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (!kind_ok(rec->kind) || rec->version > INT64_MAX || rec->record_len == 0 ||
	    rec->record_len > sizeof rec->record)
		return MESHD_E_INVAL;
	/* Newer replaces older in one statement: the WHERE on DO UPDATE
	 * leaves a stored record of the same or a higher version alone, and
	 * sqlite3_changes() then reports 0. */
	s = store_stmt(st, STMT_RECORD_PUT, "INSERT INTO records (" RECORD_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (kind, node_id) DO UPDATE SET version = excluded.version, "
	    "record = excluded.record, updated_at = excluded.updated_at "
	    "WHERE excluded.version > records.version", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_int(s, 1, rec->kind)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 2, rec->node_id, sizeof rec->node_id,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 3, (int64_t)rec->version)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 4, rec->record, (int)rec->record_len,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 5, rec->updated_at)) == SQLITE_OK)
		rc = sqlite3_step(s);
	r = store_finish_changes(st, s, rc);
	return r == 0 ? MESHD_E_EXIST : r < 0 ? r : 0;
}

/* Reads a row selected as RECORD_COLS (a store_read_fn). */
static int read_record(sqlite3_stmt *s, void *arg)
{
	struct store_record *out = arg;
	int64_t v;
	int kind, r;

	memset(out, 0, sizeof *out);
	kind = sqlite3_column_int(s, 0);
	if (!kind_ok(kind))
		return MESHD_E_PROTO;
	out->kind = (uint8_t)kind;
	if ((r = store_col_blob(s, 1, out->node_id, sizeof out->node_id,
	    NULL)) != 0 ||
	    (r = store_col_blob(s, 3, out->record, sizeof out->record,
	    &out->record_len)) != 0)
		return r;
	if ((v = sqlite3_column_int64(s, 2)) < 0)
		return MESHD_E_PROTO;
	out->version = (uint64_t)v;
	out->updated_at = sqlite3_column_int64(s, 4);
	return 0;
}

int store_record_get(struct store *st, int kind,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_record *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	memset(out, 0, sizeof *out);
	if (!kind_ok(kind))
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_RECORD_GET, "SELECT " RECORD_COLS
	    " FROM records WHERE kind = ?1 AND node_id = ?2", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_int(s, 1, kind)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(s, 2, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK)
		return store_finish(st, s, rc);
	return store_step_one(st, s, read_record, out);
}

struct record_walk {
	store_record_fn *fn;
	void *arg;
};

static int record_row(sqlite3_stmt *s, void *arg)
{
	const struct record_walk *w = arg;
	struct store_record rec;
	int r = read_record(s, &rec);

	return r != 0 ? r : w->fn(&rec, w->arg);
}

int store_record_foreach(struct store *st, int kind, store_record_fn *fn,
    void *arg)
{
	struct record_walk w = { fn, arg };
	sqlite3_stmt *s;
	int r = 0, rc;

	if (kind != 0 && !kind_ok(kind))
		return MESHD_E_INVAL;
	/* ?1 = 0 walks every kind */
	s = store_stmt(st, STMT_RECORD_ALL, "SELECT " RECORD_COLS
	    " FROM records WHERE ?1 = 0 OR kind = ?1 ORDER BY node_id, kind", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_int(s, 1, kind)) != SQLITE_OK)
		return store_finish(st, s, rc);
	return store_step_each(st, s, record_row, &w);
}

/* ---- typed wrappers ----
 *
 * struct store_endpoint_record and struct store_route_record are the
 * generic record without its kind; they convert field by field. */

#define TO_GENERIC(g, k, t) do {					\
	memset(&(g), 0, sizeof (g));					\
	(g).kind = (k);							\
	memcpy((g).node_id, (t)->node_id, sizeof (g).node_id);		\
	(g).version = (t)->version;					\
	(g).updated_at = (t)->updated_at;				\
	if ((t)->record_len > sizeof (g).record)			\
		return MESHD_E_INVAL;					\
	(g).record_len = (t)->record_len;				\
	memcpy((g).record, (t)->record, (t)->record_len);		\
} while (0)

#define FROM_GENERIC(t, g) do {						\
	memcpy((t)->node_id, (g).node_id, sizeof (t)->node_id);		\
	(t)->version = (g).version;					\
	(t)->updated_at = (g).updated_at;				\
	(t)->record_len = (g).record_len;				\
	memcpy((t)->record, (g).record, (g).record_len);		\
} while (0)

int store_endpoint_record_put(struct store *st,
    const struct store_endpoint_record *rec)
{
	struct store_record g;

	TO_GENERIC(g, STORE_REC_ENDPOINTS, rec);
	return store_record_put(st, &g);
}

int store_endpoint_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_endpoint_record *out)
{
	struct store_record g;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_record_get(st, STORE_REC_ENDPOINTS, id, &g)) != 0)
		return r;
	FROM_GENERIC(out, g);
	return 0;
}

int store_route_record_put(struct store *st,
    const struct store_route_record *rec)
{
	struct store_record g;

	TO_GENERIC(g, STORE_REC_ROUTES, rec);
	return store_record_put(st, &g);
}

int store_route_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_route_record *out)
{
	struct store_record g;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_record_get(st, STORE_REC_ROUTES, id, &g)) != 0)
		return r;
	FROM_GENERIC(out, g);
	return 0;
}

struct route_walk {
	store_route_record_fn *fn;
	void *arg;
};

static int route_walk_one(const struct store_record *g, void *arg)
{
	struct route_walk *w = arg;
	struct store_route_record rec;

	memset(&rec, 0, sizeof rec);
	FROM_GENERIC(&rec, *g);
	return w->fn(&rec, w->arg);
}

int store_route_record_foreach(struct store *st, store_route_record_fn *fn,
    void *arg)
{
	struct route_walk w = { fn, arg };

	return store_record_foreach(st, STORE_REC_ROUTES, route_walk_one, &w);
}
