/* Invites: the inviter's record of each token it issued, keyed by the invite
 * id, holding the invite public key (mesh/join.h) with the expiry and the
 * uses left. Neither the token secret nor anything a join could be forged
 * from is stored: the public key only verifies a joiner's signature. */
#include <stdint.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

#define INVITE_COLS "invite_id, invite_pk, expires_at, uses_left, created_at"

int store_invite_add(struct store *st, const struct store_invite *inv)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if (inv == NULL || inv->uses_left == 0 || inv->expires_at <= 0)
		return MESHD_E_INVAL;
	s = store_stmt(st, STMT_INVITE_ADD, "INSERT INTO invites ("
	    INVITE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, inv->invite_id,
	    sizeof inv->invite_id, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(s, 2, inv->invite_pk,
	    sizeof inv->invite_pk, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 3, inv->expires_at)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 4, inv->uses_left)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 5, inv->created_at)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish(st, s, rc);
}

/* Reads a row selected as INVITE_COLS (a store_read_fn). */
static int read_invite(sqlite3_stmt *s, void *out)
{
	struct store_invite *inv = out;
	int64_t uses;
	int r;

	memset(inv, 0, sizeof *inv);
	if ((r = store_col_blob(s, 0, inv->invite_id, sizeof inv->invite_id,
	    NULL)) != 0 ||
	    (r = store_col_blob(s, 1, inv->invite_pk, sizeof inv->invite_pk,
	    NULL)) != 0)
		goto fail;
	uses = sqlite3_column_int64(s, 3);
	if (uses < 0 || uses > UINT32_MAX) {
		r = MESHD_E_PROTO;
		goto fail;
	}
	inv->expires_at = sqlite3_column_int64(s, 2);
	inv->uses_left = (uint32_t)uses;
	inv->created_at = sqlite3_column_int64(s, 4);
	return 0;
fail:
	memset(inv, 0, sizeof *inv);
	return r;
}

int store_invite_get(struct store *st,
    const uint8_t invite_id[STORE_INVITE_ID_LEN], struct store_invite *out)
{
	sqlite3_stmt *s;
	int r = 0;

	s = store_stmt(st, STMT_INVITE_GET, "SELECT " INVITE_COLS
	    " FROM invites WHERE invite_id = ?1", &r);
	if (s == NULL)
		return r;
	return store_get_by_blob(st, s, invite_id, STORE_INVITE_ID_LEN,
	    read_invite, out);
}

struct invite_walk {
	store_invite_fn *fn;
	void *arg;
};

static int invite_row(sqlite3_stmt *s, void *arg)
{
	const struct invite_walk *w = arg;
	struct store_invite inv;
	int r = read_invite(s, &inv);

	return r != 0 ? r : w->fn(&inv, w->arg);
}

int store_invite_foreach(struct store *st, store_invite_fn *fn, void *arg)
{
	struct invite_walk w = { fn, arg };
	sqlite3_stmt *s;
	int r = 0;

	/* invite_id breaks ties so the order does not depend on the plan. */
	s = store_stmt(st, STMT_INVITE_ALL, "SELECT " INVITE_COLS
	    " FROM invites ORDER BY created_at, invite_id", &r);
	if (s == NULL)
		return r;
	return store_step_each(st, s, invite_row, &w);
}

/* Returns 1 when the invite was used, 0 when the row did not qualify (or
 * does not exist), or an error. */
static int use_once(struct store *st, const uint8_t *invite_id, int64_t now)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = store_stmt(st, STMT_INVITE_USE, "UPDATE invites SET uses_left = "
	    "uses_left - 1 WHERE invite_id = ?1 AND uses_left > 0 AND "
	    "?2 < expires_at", &r);
	if (s == NULL)
		return r;
	if ((rc = sqlite3_bind_blob(s, 1, invite_id, STORE_INVITE_ID_LEN,
	    SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(s, 2, now)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish_changes(st, s, rc);
}

int store_invite_consume(struct store *st,
    const uint8_t invite_id[STORE_INVITE_ID_LEN], int64_t now,
    uint32_t *uses_left_out)
{
	struct store_invite inv;
	int r, used;

	/* The conditional UPDATE alone makes the use atomic (two joiners
	 * racing for the last use cannot both win); the savepoint makes the
	 * uses-left figure and the reason for a refusal consistent with it. */
	if ((r = store_sp_begin(st)) != 0)
		return r;
	if ((used = use_once(st, invite_id, now)) < 0) {
		r = used;
		goto out;
	}
	if ((r = store_invite_get(st, invite_id, &inv)) != 0)
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
	if ((rc = sqlite3_bind_int64(s, 1, now)) == SQLITE_OK)
		rc = sqlite3_step(s);
	return store_finish_changes(st, s, rc);
}
