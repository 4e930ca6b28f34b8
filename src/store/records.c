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
	const struct store_arg a[] = {
		BIND_INT(rec->kind),
		BIND_BLOB(rec->node_id, sizeof rec->node_id),
		BIND_INT((int64_t)rec->version),
		BIND_BLOB(rec->record, rec->record_len),
		BIND_INT(rec->updated_at),
	};
	int r;

	if (!kind_ok(rec->kind) || rec->version > INT64_MAX || rec->record_len == 0 ||
	    rec->record_len > sizeof rec->record)
		return MESHD_E_INVAL;
	/* Newer replaces older in one statement: the WHERE on DO UPDATE
	 * leaves a stored record of the same or a higher version alone, and
	 * sqlite3_changes() then reports 0. */
	r = store_query(st, STMT_RECORD_PUT, "INSERT INTO records (" RECORD_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (kind, node_id) DO UPDATE SET version = excluded.version, "
	    "record = excluded.record, updated_at = excluded.updated_at "
	    "WHERE excluded.version > records.version", STORE_ARGS(a),
	    STORE_RUN_CHANGES, NULL, NULL);
	return r == 0 ? MESHD_E_EXIST : r < 0 ? r : 0;
}

/* Reads a row selected as RECORD_COLS (a store_read_fn). */
static int read_record(sqlite3_stmt *s, void *arg)
{
	struct store_record *out = arg;
	const struct store_col c[] = {
		COL_INT(&out->kind, 1, STORE_REC_KIND_MAX),
		COL_BLOB(out->node_id, sizeof out->node_id),
		COL_INT(&out->version, 0, INT64_MAX),
		COL_BLOB_LEN(out->record, sizeof out->record, &out->record_len),
		COL_I64(&out->updated_at),
	};

	return store_read_cols(s, STORE_COLS(c), out, sizeof *out);
}

int store_record_get(struct store *st, int kind,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_record *out)
{
	const struct store_arg a[] = {
		BIND_INT(kind),
		BIND_BLOB(id, STORE_NODE_ID_LEN),
	};

	memset(out, 0, sizeof *out);
	if (!kind_ok(kind))
		return MESHD_E_INVAL;
	return store_query(st, STMT_RECORD_GET, "SELECT " RECORD_COLS
	    " FROM records WHERE kind = ?1 AND node_id = ?2", STORE_ARGS(a),
	    STORE_ROW, read_record, out);
}

STORE_WALK_DEFINE(record, struct store_record, store_record_fn, read_record)

int store_record_foreach(struct store *st, int kind, store_record_fn *fn,
    void *arg)
{
	struct record_walk w = { fn, arg };
	const struct store_arg a[] = { BIND_INT(kind) };

	if (kind != 0 && !kind_ok(kind))
		return MESHD_E_INVAL;
	/* ?1 = 0 walks every kind */
	return store_query(st, STMT_RECORD_ALL, "SELECT " RECORD_COLS
	    " FROM records WHERE ?1 = 0 OR kind = ?1 ORDER BY node_id, kind",
	    STORE_ARGS(a), STORE_ROWS, record_row, &w);
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

/* Defines store_NAME_put() and store_NAME_get(), the view of one kind as
 * struct store_NAME (store.h), over store_record_put()/_get(). */
#define TYPED_RECORD_FNS(name, kind)					\
int store_##name##_put(struct store *st, const struct store_##name *rec) \
{									\
	struct store_record g;						\
									\
	TO_GENERIC(g, kind, rec);					\
	return store_record_put(st, &g);				\
}									\
									\
int store_##name##_get(struct store *st,				\
    const uint8_t id[STORE_NODE_ID_LEN], struct store_##name *out)	\
{									\
	struct store_record g;						\
	int r;								\
									\
	memset(out, 0, sizeof *out);					\
	if ((r = store_record_get(st, kind, id, &g)) != 0)		\
		return r;						\
	FROM_GENERIC(out, g);						\
	return 0;							\
}

/* store_endpoint_record_put(), store_endpoint_record_get() */
TYPED_RECORD_FNS(endpoint_record, STORE_REC_ENDPOINTS)
/* store_route_record_put(), store_route_record_get() */
TYPED_RECORD_FNS(route_record, STORE_REC_ROUTES)

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
