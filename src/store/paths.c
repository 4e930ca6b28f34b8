/* The path chosen for each peer: direct to an endpoint, through a relay
 * member, or none. */
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

static const char *const kind_names[] = {
	[STORE_PATH_NONE] = "none",
	[STORE_PATH_DIRECT] = "direct",
	[STORE_PATH_RELAY] = "relay",
};

#define NKINDS (sizeof kind_names / sizeof kind_names[0])

int store_path_put(struct store *st, const struct store_path *p)
{
	char ep[STORE_ADDR_STRLEN];
	bool has_ep;
	sqlite3_stmt *s;
	int r = 0, rc;

	if ((unsigned)p->kind >= NKINDS ||
	    store_check_text(p->endpoint, STORE_ADDR_STRLEN - 1, true) != 0)
		return MESHD_E_INVAL;
	has_ep = p->endpoint[0] != '\0';
	if (has_ep && store_canon_endpoint(p->endpoint, ep) != 0)
		return MESHD_E_INVAL;
	if ((p->kind == STORE_PATH_NONE && has_ep) ||
	    (p->kind == STORE_PATH_DIRECT && !has_ep) ||
	    (p->kind == STORE_PATH_RELAY &&
	    memcmp(p->via, p->node_id, sizeof p->via) == 0))
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_PATH_PUT, "INSERT INTO paths (node_id, kind, "
	    "endpoint, via, since) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (node_id) DO UPDATE SET kind = excluded.kind, "
	    "endpoint = excluded.endpoint, via = excluded.via, "
	    "since = excluded.since", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, p->node_id, sizeof p->node_id,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(s, 2, kind_names[p->kind], -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = has_ep ? sqlite3_bind_text(s, 3, ep, -1, SQLITE_STATIC) :
	    sqlite3_bind_null(s, 3)) != SQLITE_OK ||
	    (rc = p->kind == STORE_PATH_RELAY ? sqlite3_bind_blob(s, 4,
	    p->via, sizeof p->via, SQLITE_STATIC) :
	    sqlite3_bind_null(s, 4)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 5, p->since)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

static int read_path(sqlite3_stmt *s, struct store_path *p)
{
	const char *kind;
	size_t i;
	int r;

	memset(p, 0, sizeof *p);
	if ((r = store_col_blob(s, 0, p->node_id, sizeof p->node_id,
	    NULL)) != 0 ||
	    (r = store_col_text(s, 2, p->endpoint, sizeof p->endpoint)) != 0)
		return r;
	if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
	    (r = store_col_blob(s, 3, p->via, sizeof p->via, NULL)) != 0)
		return r;
	kind = (const char *)sqlite3_column_text(s, 1);
	for (i = 0; i < NKINDS; i++)
		if (kind != NULL && strcmp(kind, kind_names[i]) == 0)
			break;
	if (i == NKINDS)
		return MESHD_E_PROTO;
	p->kind = (enum store_path_kind)i;
	p->since = sqlite3_column_int64(s, 4);
	return 0;
}

int store_path_get(struct store *st, const uint8_t id[STORE_NODE_ID_LEN],
    struct store_path *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_PATH_GET, "SELECT node_id, kind, endpoint, "
	    "via, since FROM paths WHERE node_id = ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, id, STORE_NODE_ID_LEN,
	    SQLITE_STATIC)) != SQLITE_OK)
		r = store_err(st, rc);
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		r = read_path(s, out);
	else if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_path_foreach(struct store *st, store_path_fn *fn, void *arg)
{
	struct store_path p;
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_PATH_ALL, "SELECT node_id, kind, endpoint, "
	    "via, since FROM paths ORDER BY node_id", &r);
	if (s == NULL)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = read_path(s, &p)) != 0 || (r = fn(&p, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = store_err(st, rc);
out:
	store_stmt_done(s);
	return r;
}
