/* The prepare-bind-step sequence every typed query shares: a cached
 * statement whose parameters come as an array (struct store_arg), run to
 * completion, for one row or for each row. Every path ends with
 * store_stmt_done(), so no binding (which may point at a secret in the
 * caller's buffer) outlives the call. Rows are read by a column table
 * (struct store_col) with the same range checks for every table. */
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

/* Binds args[0..n) as ?1..?n. Returns SQLITE_OK or the code of the first
 * bind that failed. */
static int bind_args(sqlite3_stmt *s, const struct store_arg *args, size_t n)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct store_arg *a = &args[i];
		int k = (int)i + 1;

		switch (a->type) {
		case STORE_ARG_NULL:
			rc = sqlite3_bind_null(s, k);
			break;
		case STORE_ARG_INT:
			rc = sqlite3_bind_int64(s, k, a->i);
			break;
		case STORE_ARG_TEXT:
			rc = sqlite3_bind_text(s, k, a->p, -1, SQLITE_STATIC);
			break;
		case STORE_ARG_BLOB:
			rc = sqlite3_bind_blob(s, k, a->p, (int)a->len,
			    SQLITE_STATIC);
			break;
		}
	}
	return rc;
}

int store_query(struct store *st, enum store_stmt id, const char *sql,
    const struct store_arg *args, size_t n, enum store_step step,
    store_read_fn *read, void *arg)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if ((s = store_stmt(st, id, sql, &r)) == NULL)
		return r;
	if ((rc = bind_args(s, args, n)) != SQLITE_OK)
		return store_finish(st, s, rc);
	switch (step) {
	case STORE_ROW:
		return store_step_one(st, s, read, arg);
	case STORE_ROWS:
		return store_step_each(st, s, read, arg);
	case STORE_RUN_CHANGES:
		return store_finish_changes(st, s, sqlite3_step(s));
	case STORE_RUN:
		break;
	}
	return store_finish(st, s, sqlite3_step(s));
}

int store_get_by_key(struct store *st, enum store_stmt id, const char *sql,
    const void *key, size_t len, store_read_fn *read, void *out)
{
	const struct store_arg a[] = { BIND_BLOB(key, len) };

	return store_query(st, id, sql, STORE_ARGS(a), STORE_ROW, read, out);
}

/* Reads column i of s into c's field. */
static int read_col(sqlite3_stmt *s, int i, const struct store_col *c)
{
	int64_t v;

	switch (c->type) {
	case STORE_COL_TEXT:
		return store_col_text(s, i, c->dst, c->size);
	case STORE_COL_BLOB:
		if (c->present != NULL) {
			*c->present = sqlite3_column_type(s, i) != SQLITE_NULL;
			if (!*c->present)
				return 0;
		}
		return store_col_blob(s, i, c->dst, c->size, c->len);
	case STORE_COL_INT:
		break;
	}
	v = sqlite3_column_int64(s, i);
	if (v < c->min || v > c->max)
		return MESHD_E_PROTO;
	switch (c->size) {
	case 1:
		*(uint8_t *)c->dst = (uint8_t)v;
		return 0;
	case 2:
		*(uint16_t *)c->dst = (uint16_t)v;
		return 0;
	case 4:
		*(uint32_t *)c->dst = (uint32_t)v;
		return 0;
	case 8:
		*(int64_t *)c->dst = v;
		return 0;
	}
	return MESHD_E_STATE;
}

int store_read_cols(sqlite3_stmt *s, const struct store_col *cols, size_t n,
    void *row, size_t size)
{
	int r = 0;

	memset(row, 0, size);
	for (size_t i = 0; i < n && r == 0; i++)
		r = read_col(s, (int)i, &cols[i]);
	if (r != 0)
		memset(row, 0, size);
	return r;
}
