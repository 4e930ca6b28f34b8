/* settings: local key/value options of this node (schema v6). Values are
 * opaque text here; the caller validates what a key means (the metrics
 * listener address is checked by the CLI and the daemon, not the store). */
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

/* Where store_setting_get() copies the value. */
struct setting_out {
	char *buf;
	size_t cap;
};

/* Reads the value column into a struct setting_out (a store_read_fn). */
static int read_value(sqlite3_stmt *s, void *arg)
{
	const struct setting_out *o = arg;
	int n = sqlite3_column_bytes(s, 0);

	if (n < 0 || (size_t)n >= o->cap)
		return MESHD_E_RANGE;
	return store_col_text(s, 0, o->buf, o->cap);
}

int store_setting_get(struct store *st, const char *key, char *out, size_t cap)
{
	struct setting_out o = { out, cap };
	const struct store_arg a[] = { BIND_TEXT(key) };
	int r;

	if (store_check_text(key, STORE_SETTING_KEY_MAX, false) != 0 || cap == 0)
		return MESHD_E_INVAL;
	r = store_query(st, STMT_SETTING_GET, "SELECT value FROM settings WHERE key = ?1",
	    STORE_ARGS(a), STORE_ROW, read_value, &o);
	if (r != 0)
		out[0] = '\0';
	return r;
}

int store_setting_put(struct store *st, const char *key, const char *value)
{
	const struct store_arg a[] = { BIND_TEXT(key), BIND_TEXT(value) };

	if (store_check_text(key, STORE_SETTING_KEY_MAX, false) != 0 ||
	    (value != NULL && store_check_text(value, STORE_SETTING_MAX, false) != 0))
		return MESHD_E_INVAL;
	if (value == NULL)
		return store_query(st, STMT_SETTING_DEL, "DELETE FROM settings WHERE key = ?1",
		    a, 1, STORE_RUN, NULL, NULL);
	return store_query(st, STMT_SETTING_PUT, "INSERT INTO settings (key, value) "
	    "VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	    STORE_ARGS(a), STORE_RUN, NULL, NULL);
}
