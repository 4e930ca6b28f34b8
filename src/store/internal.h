/* Store internals shared by the files of src/store/ (and by its tests).
 * Nothing outside src/store/ and tests/check_store.c includes this. */
#ifndef MESHD_STORE_INTERNAL_H
#define MESHD_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* How long a call waits for another process's write lock. Writers are the
 * daemon and short CLI commands; their transactions last milliseconds. */
#define STORE_BUSY_TIMEOUT_MS	2000

/* One cached prepared statement per query, prepared on first use (so a
 * statement is never prepared against a schema that lacks its table). */
enum store_stmt {
	STMT_NODE_GET,
	STMT_NODE_PUT,
	STMT_MESH_GET,
	STMT_MESH_PUT,
	STMT_MEMBER_UPSERT,
	STMT_MEMBER_GET_ID,
	STMT_MEMBER_GET_NAME,
	STMT_MEMBER_DELETE,
	STMT_MEMBER_ALL,
	STMT_REVOKE_PUT,
	STMT_REVOKE_EXISTS,
	STMT_REVOKE_GET,
	STMT_REVOKE_ALL,
	STMT_RECORD_PUT,
	STMT_RECORD_GET,
	STMT_RECORD_ALL,
	STMT_INVITE_ADD,
	STMT_INVITE_USE,
	STMT_INVITE_GET,
	STMT_INVITE_ALL,
	STMT_INVITE_PURGE,
	STMT_SETTING_GET,
	STMT_SETTING_PUT,
	STMT_SETTING_DEL,
	STMT_TX_BEGIN,
	STMT_TX_COMMIT,
	STMT_TX_ROLLBACK,
	STMT_SP_BEGIN,
	STMT_SP_RELEASE,
	STMT_SP_ROLLBACK,
	STMT__COUNT
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT__COUNT];
};

/* db.c */

/* Maps a SQLite result code (extended codes understood) to MESHD_E_*; for
 * I/O errors it sets errno from the VFS and returns MESHD_E_SYS. */
int store_err(struct store *st, int rc);
/* The cached statement for id, prepared from sql on first use; NULL on
 * failure with *err set. The caller binds, steps, then calls stmt_done(). */
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt id, const char *sql,
    int *err);
/* Resets s and drops its bindings (so no pointer to a caller's buffer, which
 * may hold a secret, outlives the call). */
void store_stmt_done(sqlite3_stmt *s);
/* Runs SQL that returns no rows (one-off, not cached); 0 or MESHD_E_*. */
int store_exec(struct store *st, const char *sql);
/* Runs the cached statement id (no parameters, no rows); 0 or MESHD_E_*. */
int store_run(struct store *st, enum store_stmt id, const char *sql);
/* A savepoint around a multi-statement operation: nests inside a caller's
 * transaction, or is a transaction of its own outside one. */
int store_sp_begin(struct store *st);
int store_sp_end(struct store *st, bool commit);
/* Reads PRAGMA user_version; returns it (>= 0) or a negative error. */
int store_user_version(struct store *st);

/* Reads the current row of s into out (a struct of the caller's choosing);
 * 0 or MESHD_E_* (MESHD_E_PROTO for a stored value out of range). */
typedef int store_read_fn(sqlite3_stmt *s, void *out);
/* Steps s once: a row is read into out by read (0 or its error), no row is
 * MESHD_E_NOENT, a failed step is mapped by store_err(). Always ends with
 * store_stmt_done(s), so the caller returns what this returns. */
int store_step_one(struct store *st, sqlite3_stmt *s, store_read_fn *read,
    void *out);
/* Binds key (len bytes) as ?1, then store_step_one(): the lookup of one row
 * by a blob primary key. */
int store_get_by_blob(struct store *st, sqlite3_stmt *s, const void *key,
    size_t len, store_read_fn *read, void *out);
/* Steps s through all its rows, calling row for each; stops at the first
 * non-zero value of row and returns it. 0 when every row was seen, or a
 * mapped step error. Always ends with store_stmt_done(s). */
int store_step_each(struct store *st, sqlite3_stmt *s, store_read_fn *row,
    void *arg);
/* Ends a statement that returns no rows: rc is the last SQLite code its
 * caller got (a failed bind, or the step's); 0 for SQLITE_DONE, otherwise
 * the mapped error. Always ends with store_stmt_done(s). The callers bind
 * with `(rc = bind...) == SQLITE_OK && ...` and step only when all held. */
int store_finish(struct store *st, sqlite3_stmt *s, int rc);

/* store_finish(), then the number of rows the statement changed (>= 0) when
 * it succeeded; for the UPDATE/DELETE/upsert whose "nothing matched" means
 * something to the caller. */
int store_finish_changes(struct store *st, sqlite3_stmt *s, int rc);

/* Copies a blob column into dst (capacity cap); MESHD_E_PROTO when the stored
 * value is longer than cap or the wrong size when exact. */
int store_col_blob(sqlite3_stmt *s, int col, void *dst, size_t cap,
    size_t *len_out);
/* Copies a text column into dst (size cap, NUL included). */
int store_col_text(sqlite3_stmt *s, int col, char *dst, size_t cap);

/* Length checks for text fields: 0 or MESHD_E_INVAL. */
int store_check_name(const char *s);
int store_check_text(const char *s, size_t max, bool allow_empty);
/* Validate and canonicalise into dst: an address of family af
 * (STORE_IP_STRLEN), "addr/len" of family af (STORE_PREFIX_STRLEN). 0 or
 * MESHD_E_INVAL. */
int store_canon_ip(const char *s, int af, char *dst);
int store_canon_prefix(const char *s, int af, char *dst);

/* query.c: a cached statement with its parameters given as an array */

/* One parameter, bound as ?1, ?2, ... in array order. Text (NUL-terminated)
 * and blobs are bound without a copy (SQLITE_STATIC); store_query() drops
 * the bindings before it returns. */
struct store_arg {
	enum { STORE_ARG_NULL, STORE_ARG_INT, STORE_ARG_TEXT, STORE_ARG_BLOB } type;
	int64_t i;
	const void *p;
	size_t len;
};
#define BIND_NULL	((struct store_arg){ .type = STORE_ARG_NULL })
#define BIND_INT(v)	((struct store_arg){ .type = STORE_ARG_INT, .i = (v) })
#define BIND_TEXT(s)	((struct store_arg){ .type = STORE_ARG_TEXT, .p = (s) })
#define BIND_BLOB(b, n)	\
	((struct store_arg){ .type = STORE_ARG_BLOB, .p = (b), .len = (n) })
/* An array of struct store_arg as store_query()'s args and n. */
#define STORE_ARGS(a)	(a), sizeof (a) / sizeof (a)[0]

/* What store_query() does once the parameters are bound. */
enum store_step {
	STORE_RUN,		/* run a statement that returns no rows: 0 */
	STORE_RUN_CHANGES,	/* the same: the number of rows changed (>= 0) */
	STORE_ROW,		/* store_step_one(s, read, arg) */
	STORE_ROWS,		/* store_step_each(s, read, arg) */
};

/* Prepares sql as the cached statement id (on first use), binds
 * args[0..n) (NULL when n is 0) and does step; read and arg serve
 * STORE_ROW and STORE_ROWS only. Returns what step says, or MESHD_E_* (a
 * failed bind or step mapped by store_err()). */
int store_query(struct store *st, enum store_stmt id, const char *sql,
    const struct store_arg *args, size_t n, enum store_step step,
    store_read_fn *read, void *arg);

/* store_query(STORE_ROW) with key (len bytes) bound as ?1: the lookup of
 * one row by a blob key. */
int store_get_by_key(struct store *st, enum store_stmt id, const char *sql,
    const void *key, size_t len, store_read_fn *read, void *out);

/* One column of a result row, read by store_read_cols() into a field of
 * the caller's row struct. */
struct store_col {
	enum { STORE_COL_BLOB, STORE_COL_TEXT, STORE_COL_INT } type;
	void *dst;
	size_t size;		/* blob, text: capacity of dst; int: sizeof *dst
				 * (1, 2, 4 or 8: a bool or an [u]intN_t) */
	size_t *len;		/* blob: gets its length (NULL: exactly size) */
	bool *present;		/* blob: NULL allowed, says whether one was read */
	int64_t min, max;	/* int: the range, else MESHD_E_PROTO */
};
#define COL_BLOB(d, cap)	\
	((struct store_col){ .type = STORE_COL_BLOB, .dst = (d), .size = (cap) })
#define COL_BLOB_LEN(d, cap, lenp)	((struct store_col){		\
	.type = STORE_COL_BLOB, .dst = (d), .size = (cap), .len = (lenp) })
#define COL_BLOB_OR_NULL(d, cap, presentp)	((struct store_col){	\
	.type = STORE_COL_BLOB, .dst = (d), .size = (cap),		\
	.present = (presentp) })
#define COL_TEXT(d, cap)	\
	((struct store_col){ .type = STORE_COL_TEXT, .dst = (d), .size = (cap) })
#define COL_INT(d, lo, hi)	((struct store_col){ .type = STORE_COL_INT, \
	.dst = (d), .size = sizeof *(d), .min = (lo), .max = (hi) })
#define COL_I64(d)		COL_INT(d, INT64_MIN, INT64_MAX)
/* An array of struct store_col as store_read_cols()'s cols and n. */
#define STORE_COLS(c)	(c), sizeof (c) / sizeof (c)[0]

/* Zeroes row (size bytes), then reads column i of the current row of s into
 * cols[i] for i in 0..n. Returns 0, or MESHD_E_PROTO (a value that does not
 * fit its field or range) with row zeroed again. */
int store_read_cols(sqlite3_stmt *s, const struct store_col *cols, size_t n,
    void *row, size_t size);

/* Defines struct NAME_walk { fn, arg } and NAME_row(), the store_read_fn
 * of a typed foreach: reads the row into a TYPE with READ and hands it to
 * w->fn; a non-zero value of either stops the walk. */
#define STORE_WALK_DEFINE(name, type, fn_type, read)			\
struct name##_walk {							\
	fn_type *fn;							\
	void *arg;							\
};									\
static int name##_row(sqlite3_stmt *s, void *arg)			\
{									\
	const struct name##_walk *w = arg;				\
	type v;								\
	int r = read(s, &v);						\
									\
	return r != 0 ? r : w->fn(&v, w->arg);				\
}

/* migrate.c */

/* Brings the database to version target (<= STORE_SCHEMA_LATEST), one
 * transaction per migration. MESHD_E_RANGE if it is already newer than
 * STORE_SCHEMA_LATEST. */
int store_migrate(struct store *st, int target);

/* Test hook: like store_open() but migrates only up to version (1 ..
 * STORE_SCHEMA_LATEST), to build databases as an older meshd left them. */
int store_open_at_version(const char *path, int version, struct store **out);

#endif
