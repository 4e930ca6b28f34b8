/* One-time invites: only a hash of the token's secret is stored, with its
 * expiry and remaining uses. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

int store_invite_add(struct store *st, const struct store_invite *inv,
    int64_t *id_out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (inv->uses_left == 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_INVITE_ADD, "INSERT INTO invites (secret_hash, "
	    "expires_at, uses_left, created_at) VALUES (?1, ?2, ?3, ?4)", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, inv->secret_hash,
	    sizeof inv->secret_hash, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 2, inv->expires_at)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 3, inv->uses_left)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 4, inv->created_at)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else if (id_out != NULL)
		*id_out = sqlite3_last_insert_rowid(st->db);
	store_stmt_done(s);
	return r;
}

static int read_invite(sqlite3_stmt *s, struct store_invite *inv)
{
	int64_t uses;
	int r;

	memset(inv, 0, sizeof *inv);
	if ((r = store_col_blob(s, 1, inv->secret_hash,
	    sizeof inv->secret_hash, NULL)) != 0)
		return r;
	uses = sqlite3_column_int64(s, 3);
	if (uses < 0 || uses > UINT32_MAX)
		return MESHD_E_PROTO;
	inv->id = sqlite3_column_int64(s, 0);
	inv->expires_at = sqlite3_column_int64(s, 2);
	inv->uses_left = (uint32_t)uses;
	inv->created_at = sqlite3_column_int64(s, 4);
	return 0;
}

int store_invite_get(struct store *st,
    const uint8_t secret_hash[STORE_HASH_LEN], struct store_invite *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_INVITE_GET, "SELECT id, secret_hash, "
	    "expires_at, uses_left, created_at FROM invites "
	    "WHERE secret_hash = ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, secret_hash, STORE_HASH_LEN,
	    SQLITE_STATIC)) != SQLITE_OK)
		r = store_err(st, rc);
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		r = read_invite(s, out);
	else if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

static int use_once(struct store *st, const uint8_t *hash, int64_t now)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_INVITE_USE, "UPDATE invites SET uses_left = "
	    "uses_left - 1 WHERE secret_hash = ?1 AND uses_left > 0 AND "
	    "expires_at > ?2", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, hash, STORE_HASH_LEN,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 2, now)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else
		r = sqlite3_changes(st->db);
	store_stmt_done(s);
	return r;
}

int store_invite_consume(struct store *st,
    const uint8_t secret_hash[STORE_HASH_LEN], int64_t now,
    uint32_t *uses_left_out)
{
	struct store_invite inv;
	int r, used;

	/* The conditional UPDATE alone makes the use atomic (two joiners
	 * racing for the last use cannot both win); the savepoint makes the
	 * uses-left figure and the reason for a refusal consistent with it. */
	if ((r = store_sp_begin(st)) != 0)
		return r;
	if ((used = use_once(st, secret_hash, now)) < 0) {
		r = used;
		goto out;
	}
	if ((r = store_invite_get(st, secret_hash, &inv)) != 0)
		goto out;
	if (used > 0) {
		if (uses_left_out != NULL)
			*uses_left_out = inv.uses_left;
	} else if (inv.uses_left == 0)
		r = MESHD_E_PERM;
	else
		r = MESHD_E_EXPIRED;
out:
	/* A refusal changed nothing, so releasing is as good as rolling
	 * back; an error rolls back. */
	if (r == 0 || r == MESHD_E_PERM || r == MESHD_E_EXPIRED ||
	    r == MESHD_E_NOENT) {
		int r2 = store_sp_end(st, true);

		if (r2 != 0)
			r = r2;
	} else
		store_sp_end(st, false);
	return r;
}

int store_invite_purge(struct store *st, int64_t now)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_INVITE_PURGE, "DELETE FROM invites "
	    "WHERE uses_left = 0 OR expires_at <= ?1", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_int64(s, 1, now)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_DONE)
		r = store_err(st, rc);
	else
		r = sqlite3_changes(st->db);
	store_stmt_done(s);
	return r;
}
