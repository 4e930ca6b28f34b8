/* Mesh node: writing record changes to the store, outside the receive path
 * (mesh/node.h "Persistence").
 *
 * The records event callback (node_peers.c) runs inside gossip input, which
 * the daemon calls from its UDP receive burst. Writing SQLite there would
 * let any other process holding the database's write lock (`meshd invite`,
 * `meshd revoke`) stall the data plane for the whole busy timeout. So an
 * event only marks the node id dirty (in memory, one small entry per id),
 * and mesh_node_flush() writes every mark in one transaction later: from
 * the node's timers, MESH_NODE_FLUSH_MS after the first mark, so a burst of
 * gossip costs one transaction and the UDP callback none.
 *
 * A flush writes the records as they are at flush time, not as they were at
 * the event: records only move forward (newer seq, newer cert, revocation),
 * so the latest state is what the event-by-event writes would have left.
 * When the database is busy (or the disk fails) the transaction is rolled
 * back and every mark kept; the next flush (MESH_NODE_FLUSH_RETRY_MS later)
 * writes them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/node_internal.h"
#include "mesh/records.h"
#include "mesh/tcpframe.h"
#include "util/err.h"
#include "util/log.h"

/* ---- marks ---- */

static struct node_dirty *dirty_find(struct mesh_node *n, const uint8_t *id)
{
	for (size_t i = 0; i < n->ndirty; i++)
		if (id_eq(n->dirty[i].id, id))
			return &n->dirty[i];
	return NULL;
}

void node_mark_dirty(struct mesh_node *n, const uint8_t *id, unsigned what)
{
	struct node_dirty *d;

	if (n->loading)
		return;		/* replaying the store: it holds these already */
	if ((d = dirty_find(n, id)) == NULL) {
		if (n->ndirty == n->dirty_cap) {
			size_t cap = n->dirty_cap ? 2 * n->dirty_cap : 16;
			struct node_dirty *nd = realloc(n->dirty, cap * sizeof *nd);

			if (nd == NULL) {
				/* the record stays in memory and in gossip; the
				 * next start learns it again from the members */
				log_error("mesh: record not queued for the store: out of memory");
				return;
			}
			n->dirty = nd;
			n->dirty_cap = cap;
		}
		d = &n->dirty[n->ndirty++];
		memset(d, 0, sizeof *d);
		memcpy(d->id, id, MESH_NODE_ID_LEN);
	}
	/* A new cert cancels an expiry's delete and the other way round; a
	 * revocation deletes the member whatever came before. */
	if (what & NODE_DIRTY_CERT)
		d->what &= ~NODE_DIRTY_GONE;
	if (what & NODE_DIRTY_GONE)
		d->what &= ~NODE_DIRTY_CERT;
	if (what & NODE_DIRTY_REVOKE)
		d->what &= ~(NODE_DIRTY_CERT | NODE_DIRTY_GONE);
	d->what |= what;
	if (n->ndirty == 1 && !n->flush_armed) {
		n->flush_armed = true;
		n->flush_at = n->now + MSEC(MESH_NODE_FLUSH_MS);
	}
}

bool mesh_node_dirty(const struct mesh_node *n)
{
	return n->ndirty > 0;
}

/* ---- writers: one record each, from the record set as it is now ---- */

/* Errors that say nothing about the record itself: the whole flush is
 * retried later. Anything else (a record the store refuses) is logged and
 * its mark dropped, as a retry would fail the same way. */
static bool retryable(int r)
{
	return r == MESHD_E_AGAIN || r == MESHD_E_SYS || r == MESHD_E_NOMEM ||
	    r == MESHD_E_STATE;
}

/* A write's result r, logged as "mesh: <what>: <reason>" when it is an
 * error that a retry would not cure. */
static __attribute__((format(printf, 2, 3)))
int write_done(int r, const char *fmt, ...)
{
	char what[96];
	int sys = errno;	/* MESHD_E_SYS: the store's reason */
	va_list ap;

	if (r == 0 || retryable(r))
		return r;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	log_warn("mesh: %s: %s", what, r == MESHD_E_SYS ? strerror(sys) : meshd_strerror(r));
	return r;
}

static int write_cert(struct mesh_node *n, const uint8_t *id)
{
	struct store_member m;
	struct mesh_cert c;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (mesh_records_cert(n->recs, id, &c) != 0 ||
	    mesh_records_get(n->recs, MESH_REC_CERT, id, &bytes, &len) != 0)
		return 0;	/* gone since the mark: a later mark says why */
	if ((r = node_member_from_cert(&m, &c, bytes, len, n->now_unix)) == 0)
		r = store_member_upsert(n->st, &m);
	return write_done(r, "storing member %s", c.name);
}

/* Deletes id's member row (one already gone is fine); what: "an expired",
 * "a revoked", for the log. */
static int delete_member(struct mesh_node *n, const uint8_t *id, const char *what)
{
	int r = store_member_delete(n->st, id);

	if (r == MESHD_E_NOENT)
		return 0;
	return write_done(r, "deleting %s member", what);
}

static int write_gone(struct mesh_node *n, const uint8_t *id)
{
	return delete_member(n, id, "an expired");
}

int node_revocation_row(struct store_revocation *row, struct mesh_revoke *rv,
    const uint8_t *bytes, size_t len)
{
	if (len > sizeof row->record || mesh_revoke_decode(bytes, len, rv) != 0 ||
	    rv->revoked_at > INT64_MAX)
		return MESHD_E_PROTO;
	memset(row, 0, sizeof *row);
	memcpy(row->node_id, rv->node_id, MESH_NODE_ID_LEN);
	row->revoked_at = (int64_t)rv->revoked_at;
	row->record_len = len;
	memcpy(row->record, bytes, len);
	return 0;
}

static int write_revoke(struct mesh_node *n, const uint8_t *id)
{
	struct store_revocation rv;
	struct mesh_revoke d;
	const uint8_t *bytes;
	size_t len;
	int r;

	if (mesh_records_get(n->recs, MESH_REC_REVOKE, id, &bytes, &len) != 0 ||
	    node_revocation_row(&rv, &d, bytes, len) != 0)
		return 0;
	r = store_revocation_put(n->st, &rv);	/* keeps the first one */
	if (r != 0 && r != MESHD_E_EXIST)
		return write_done(r, "storing a revocation");
	return delete_member(n, d.node_id, "a revoked");
}

_Static_assert((int)MESH_REC_ENDPOINTS == STORE_REC_ENDPOINTS &&
    (int)MESH_REC_ROUTES == STORE_REC_ROUTES, "record kinds");

int node_record_row(struct store_record *row, enum mesh_rec_kind kind, const uint8_t *id,
    uint64_t seq, const uint8_t *bytes, size_t len, uint64_t now_unix)
{
	if (seq > INT64_MAX || len > sizeof row->record)
		return MESHD_E_INVAL;
	memset(row, 0, sizeof *row);
	row->kind = (uint8_t)kind;
	memcpy(row->node_id, id, MESH_NODE_ID_LEN);
	row->version = seq;
	row->updated_at = (int64_t)now_unix;
	row->record_len = len;
	memcpy(row->record, bytes, len);
	return 0;
}

/* The held ENDPOINTS or ROUTES record of id into the store, versioned by
 * its seq (a record we no longer hold, or cannot version, is skipped). */
static int write_record(struct mesh_node *n, enum mesh_rec_kind kind, const uint8_t *id)
{
	struct store_record rec;
	struct mesh_endpoints e;
	struct mesh_routes rt;
	const uint8_t *bytes;
	uint64_t seq = 0;
	size_t len;
	int r;

	if (kind == MESH_REC_ENDPOINTS) {
		if ((r = mesh_records_endpoints(n->recs, id, &e)) == 0)
			seq = e.seq;
	} else if ((r = mesh_records_routes(n->recs, id, &rt)) == 0) {
		seq = rt.seq;
	}
	if (r != 0 || mesh_records_get(n->recs, kind, id, &bytes, &len) != 0 ||
	    node_record_row(&rec, kind, id, seq, bytes, len, n->now_unix) != 0)
		return 0;
	r = store_record_put(n->st, &rec);
	if (r == MESHD_E_EXIST)
		return 0;
	return write_done(r, "storing %s record",
	    kind == MESH_REC_ENDPOINTS ? "an endpoint" : "a routes");
}

/* One id's marks, in dependency order: the member row before the records
 * that refer to it, the revocation last (it deletes the row). */
static int write_one(struct mesh_node *n, const struct node_dirty *d)
{
	int r = 0;

	if ((d->what & NODE_DIRTY_CERT) && retryable(r = write_cert(n, d->id)))
		return r;
	if ((d->what & NODE_DIRTY_GONE) && retryable(r = write_gone(n, d->id)))
		return r;
	if ((d->what & NODE_DIRTY_ENDPOINTS) && retryable(r = write_record(n, MESH_REC_ENDPOINTS, d->id)))
		return r;
	if ((d->what & NODE_DIRTY_ROUTES) && retryable(r = write_record(n, MESH_REC_ROUTES, d->id)))
		return r;
	if ((d->what & NODE_DIRTY_REVOKE) && retryable(r = write_revoke(n, d->id)))
		return r;
	return 0;
}

int mesh_node_flush(struct mesh_node *n, mtime_ns now, uint64_t now_unix)
{
	size_t count = n->ndirty;
	int r;

	enter(n, now, now_unix);
	if (count == 0) {
		n->flush_armed = n->flush_retry = false;
		return 0;
	}
	if ((r = store_tx_begin(n->st)) == 0) {
		for (size_t i = 0; i < count && r == 0; i++)
			r = write_one(n, &n->dirty[i]);
		if (r == 0)
			r = store_tx_commit(n->st);	/* rolls back itself on failure */
		else
			(void)store_tx_rollback(n->st);
	}
	if (r != 0) {
		n->flush_busy++;
		n->flush_retry = true;
		n->flush_armed = true;
		n->flush_at = now + MSEC(MESH_NODE_FLUSH_RETRY_MS);
		log_ratelimited(LOG_LVL_DEBUG, "mesh: %zu record changes not stored yet: %s",
		    count, meshd_strerror(r));
		return r;
	}
	n->ndirty = 0;
	n->flush_armed = n->flush_retry = false;
	n->flushes++;
	return 0;
}

int mesh_node_tcp_port(struct store *st, uint16_t *port)
{
	char v[STORE_SETTING_MAX + 1];
	int r = store_setting_get(st, MESH_TCP_PORT_SETTING, v, sizeof v);

	*port = 0;
	if (r == MESHD_E_NOENT)
		return 0;
	if (r)
		return r;
	return mesh_tcp_port_parse(v, port) ? 0 : MESHD_E_INVAL;
}
