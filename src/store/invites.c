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
	if (inv == NULL || inv->uses_left == 0 || inv->expires_at <= 0)
		return MESHD_E_INVAL;

	const struct store_arg a[] = {
		BIND_BLOB(inv->invite_id, sizeof inv->invite_id),
		BIND_BLOB(inv->invite_pk, sizeof inv->invite_pk),
		BIND_INT(inv->expires_at),
		BIND_INT(inv->uses_left),
		BIND_INT(inv->created_at),
	};

	return store_query(st, STMT_INVITE_ADD, "INSERT INTO invites ("
	    INVITE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)", STORE_ARGS(a),
	    STORE_RUN, NULL, NULL);
}

/* Reads a row selected as INVITE_COLS (a store_read_fn). */
static int read_invite(sqlite3_stmt *s, void *out)
{
	struct store_invite *inv = out;
	const struct store_col c[] = {
		COL_BLOB(inv->invite_id, sizeof inv->invite_id),
		COL_BLOB(inv->invite_pk, sizeof inv->invite_pk),
		COL_I64(&inv->expires_at),
		COL_INT(&inv->uses_left, 0, UINT32_MAX),
		COL_I64(&inv->created_at),
	};

	return store_read_cols(s, STORE_COLS(c), inv, sizeof *inv);
}

int store_invite_get(struct store *st,
    const uint8_t invite_id[STORE_INVITE_ID_LEN], struct store_invite *out)
{
	return store_get_by_key(st, STMT_INVITE_GET, "SELECT " INVITE_COLS
	    " FROM invites WHERE invite_id = ?1", invite_id,
	    STORE_INVITE_ID_LEN, read_invite, out);
}

STORE_WALK_DEFINE(invite, struct store_invite, store_invite_fn, read_invite)

int store_invite_foreach(struct store *st, store_invite_fn *fn, void *arg)
{
	struct invite_walk w = { fn, arg };

	/* invite_id breaks ties so the order does not depend on the plan. */
	return store_query(st, STMT_INVITE_ALL, "SELECT " INVITE_COLS
	    " FROM invites ORDER BY created_at, invite_id", NULL, 0,
	    STORE_ROWS, invite_row, &w);
}

/* Returns 1 when the invite was used, 0 when the row did not qualify (or
 * does not exist), or an error. */
static int use_once(struct store *st, const uint8_t *invite_id, int64_t now)
{
	const struct store_arg a[] = {
		BIND_BLOB(invite_id, STORE_INVITE_ID_LEN),
		BIND_INT(now),
	};

	return store_query(st, STMT_INVITE_USE, "UPDATE invites SET uses_left "
	    "= uses_left - 1 WHERE invite_id = ?1 AND uses_left > 0 AND "
	    "?2 < expires_at", STORE_ARGS(a), STORE_RUN_CHANGES, NULL, NULL);
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
	const struct store_arg a[] = { BIND_INT(now) };

	return store_query(st, STMT_INVITE_PURGE, "DELETE FROM invites "
	    "WHERE uses_left = 0 OR expires_at <= ?1", STORE_ARGS(a),
	    STORE_RUN_CHANGES, NULL, NULL);
}
