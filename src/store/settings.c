/* settings: local key/value options of this node (schema v6). Values are
 * opaque text here; the caller validates what a key means (the metrics
 * listener address is checked by the CLI and the daemon, not the store). */
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

int store_setting_get(struct store *st, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *s;
	int r = 0, rc, n;

	if (store_check_text(key, STORE_SETTING_KEY_MAX, false) != 0 || cap == 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_SETTING_GET, "SELECT value FROM settings WHERE key = ?1", &r);
	if (s == NULL)
		return r;
	out[0] = '\0';
	if ((rc = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC)) != SQLITE_OK) {
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
	n = sqlite3_column_bytes(s, 0);
	if (n < 0 || (size_t)n >= cap) {
		r = MESHD_E_RANGE;
		goto out;
	}
	r = store_col_text(s, 0, out, cap);
out:
	store_stmt_done(s);
	if (r != 0)
		out[0] = '\0';
	return r;
}

int store_setting_put(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (store_check_text(key, STORE_SETTING_KEY_MAX, false) != 0 ||
	    (value != NULL && store_check_text(value, STORE_SETTING_MAX, false) != 0))
		return MESHD_E_INVAL;
	if (value == NULL)
		s = store_stmt(st, STMT_SETTING_DEL, "DELETE FROM settings WHERE key = ?1", &r);
	else
		s = store_stmt(st, STMT_SETTING_PUT, "INSERT INTO settings (key, value) "
		    "VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		    &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (value != NULL &&
	     (rc = sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC)) != SQLITE_OK) ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}
