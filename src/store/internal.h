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

/* migrate.c */

/* Brings the database to version target (<= STORE_SCHEMA_LATEST), one
 * transaction per migration. MESHD_E_RANGE if it is already newer than
 * STORE_SCHEMA_LATEST. */
int store_migrate(struct store *st, int target);

/* Test hook: like store_open() but migrates only up to version (1 ..
 * STORE_SCHEMA_LATEST), to build databases as an older meshd left them. */
int store_open_at_version(const char *path, int version, struct store **out);

#endif
