/* The gossiped record set: MESH_RECORDS_BUCKETS arrays of nodes (bucket =
 * first byte of the node id), each sorted by node id, each node holding at
 * most one record of each kind, plus a small pending set of endpoint and
 * routes records waiting for their node's cert. See records.h for the rules.
 *
 * A held record is a struct blob: its bytes and what decoding them gave
 * (version, expiry, record hash, a cert's signing key), immutable, counted
 * by its holders. With a pool (records.h) blobs are interned across sets;
 * without one each set's blobs are its own (count 1). Blobs and the pool
 * are in records_pool.c, the read side of the set in records_query.c, the
 * layout they share in records_internal.h.
 *
 * Sorted arrays instead of a hash table: the digest and the set hash walk
 * the records in digest order without sorting, and a node costs its id and
 * three pointers. Node ids come from authority-signed certs and revocations
 * (node-signed records of unknown nodes only reach the pending set), so
 * nobody else chooses how full a bucket gets; at MESH_RECORDS_MAX_NODES an
 * insert moves some 256 entries of 40 bytes at most. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/records_internal.h"
#include "util/err.h"

enum {
	PENDING_MIN = 4,		/* first allocation of the pending set */
};

/* ---- nodes ---- */

/* Where n keeps its record of kind k; allocates the rare part when asked
 * to. NULL when out of memory (or absent and alloc false). */
static struct blob **rec_slot(struct node *n, unsigned k, bool alloc)
{
	if (k == K_CERT)
		return &n->cert;
	if (k == K_EP)
		return &n->ep;
	if (n->rare == NULL && (!alloc || (n->rare = calloc(1, sizeof *n->rare)) == NULL))
		return NULL;
	return k == K_REVOKE ? &n->rare->revoke : &n->rare->routes;
}

/* Frees the rare part once it holds nothing. */
static void rare_gc(struct node *n)
{
	if (n->rare != NULL && n->rare->revoke == NULL && n->rare->routes == NULL) {
		free(n->rare);
		n->rare = NULL;
	}
}

/* Index of the first node of bk with id >= id. */
static size_t bucket_find(const struct bucket *bk, const uint8_t id[MESH_NODE_ID_LEN])
{
	size_t lo = 0, hi = bk->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(bk->v[mid].id, id, MESH_NODE_ID_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct node *records_node_lookup(const struct mesh_records *recs,
    const uint8_t id[MESH_NODE_ID_LEN])
{
	const struct bucket *bk = &recs->bk[id[0]];
	size_t i = bucket_find(bk, id);

	if (i < bk->n && memcmp(bk->v[i].id, id, MESH_NODE_ID_LEN) == 0)
		return &bk->v[i];
	return NULL;
}

/* A new empty node for id (not held yet). MESHD_E_FULL or MESHD_E_NOMEM.
 * Moves the nodes of id's bucket: node pointers into it are stale after. */
static int node_insert(struct mesh_records *recs, const uint8_t id[MESH_NODE_ID_LEN],
    struct node **out)
{
	struct bucket *bk = &recs->bk[id[0]];
	size_t i;

	*out = NULL;
	if (recs->nnodes >= recs->max_nodes)
		return MESHD_E_FULL;
	if (bk->n == bk->cap) {
		/* grow by a quarter: the slack is per-member memory */
		uint32_t cap = bk->cap + bk->cap / 4 + 4;
		struct node *v = realloc(bk->v, (size_t)cap * sizeof *v);

		if (v == NULL)
			return MESHD_E_NOMEM;
		bk->v = v;
		bk->cap = cap;
	}
	i = bucket_find(bk, id);
	memmove(&bk->v[i + 1], &bk->v[i], (bk->n - i) * sizeof *bk->v);
	memset(&bk->v[i], 0, sizeof *bk->v);
	memcpy(bk->v[i].id, id, MESH_NODE_ID_LEN);
	bk->n++;
	recs->nnodes++;
	*out = &bk->v[i];
	return 0;
}

static bool node_empty(const struct node *n)
{
	return n->cert == NULL && n->ep == NULL && n->rare == NULL;
}

/* Removes n from its bucket when it holds nothing any more. */
static void node_gc(struct mesh_records *recs, struct node *n)
{
	struct bucket *bk;
	size_t i;

	if (n == NULL || !node_empty(n))
		return;
	bk = &recs->bk[n->id[0]];
	i = (size_t)(n - bk->v);
	memmove(&bk->v[i], &bk->v[i + 1], (bk->n - i - 1) * sizeof *bk->v);
	bk->n--;
	recs->nnodes--;
	if (bk->n == 0) {
		free(bk->v);
		bk->v = NULL;
		bk->cap = 0;
	}
}

/* ---- records ---- */

/* The total order of the merge: version, then the bytes (a proper prefix is
 * smaller). <0, 0 (identical), >0. */
static int rec_cmp(uint64_t va, const uint8_t *a, size_t alen, const struct blob *b)
{
	int c;

	if (va != b->version)
		return va < b->version ? -1 : 1;
	c = memcmp(a, b->bytes, alen < b->len ? alen : b->len);
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (alen != b->len)
		return alen < b->len ? -1 : 1;
	return 0;
}

/* The outcome for an incoming record that does not beat the held one. */
static int not_newer(uint64_t version, const uint8_t *bytes, size_t len, const struct blob *held)
{
	int c = rec_cmp(version, bytes, len, held);

	if (c == 0 || version == held->version)
		return MESH_MERGE_DUP;
	return MESH_MERGE_STALE;
}

/* n's bucket changed: a new generation, and the set hash is stale. */
static void touch(struct mesh_records *recs, const struct node *n)
{
	recs->bk[n->id[0]].gen = ++recs->gen;
	recs->hash_ok = false;
}

static int rec_set(struct mesh_records *recs, struct node *n, unsigned k, const uint8_t *bytes,
    size_t len, uint64_t version, uint64_t expires, const uint8_t *sign_pk)
{
	struct blob *b, **slot = rec_slot(n, k, true);
	int r;

	if (slot == NULL)
		return MESHD_E_NOMEM;
	if ((r = records_blob_get(recs, k, bytes, len, version, expires, sign_pk, &b)) != 0) {
		rare_gc(n);
		return r;
	}
	if (*slot == NULL)
		recs->count[k]++;
	records_blob_put(recs, *slot);
	*slot = b;
	if (expires < recs->next_exp)
		recs->next_exp = expires;
	touch(recs, n);
	return 0;
}

static void rec_drop(struct mesh_records *recs, struct node *n, unsigned k)
{
	struct blob **slot = rec_slot(n, k, false);

	if (slot == NULL || *slot == NULL)
		return;
	records_blob_put(recs, *slot);
	*slot = NULL;
	rare_gc(n);
	recs->count[k]--;
	touch(recs, n);
}

static void emit(struct mesh_records *recs, enum mesh_rec_event_type type, const uint8_t *id,
    const struct mesh_cert *cert, const struct mesh_endpoints *ep, enum mesh_rec_gone gone)
{
	struct mesh_rec_event ev = {
		.type = type, .node_id = id, .cert = cert, .endpoints = ep, .gone = gone,
	};

	if (recs->on_event != NULL)
		recs->on_event(recs->ctx, &ev);
}

/* ---- node-signed kinds ----
 *
 * ENDPOINTS and ROUTES share the envelope (mesh/envelope.h) and every merge
 * rule; a kind differs only in its codec and its event. A new node-signed
 * kind adds a line here and a member to union signed_rec. */

union signed_rec {
	struct mesh_envelope env;	/* every member starts with it */
	struct mesh_endpoints e;
	struct mesh_routes rt;
};

struct signed_kind {
	const struct mesh_envelope_kind *env;
	size_t sig_off;			/* offsetof the kind's sig */
	enum mesh_rec_event_type changed;
};

static const struct signed_kind signed_kinds[NKINDS] = {
	[K_EP] = { &mesh_endpoints_kind, offsetof(struct mesh_endpoints, sig),
		MESH_EV_ENDPOINTS_CHANGED },
	[K_RT] = { &mesh_routes_kind, offsetof(struct mesh_routes, sig),
		MESH_EV_ROUTES_CHANGED },
};

static uint8_t *signed_sig(unsigned k, union signed_rec *rec)
{
	return (uint8_t *)rec + signed_kinds[k].sig_off;
}

static int signed_decode(unsigned k, const uint8_t *bytes, size_t len, union signed_rec *out)
{
	const struct mesh_envelope_kind *ek = signed_kinds[k].env;

	if (len > ek->max_len) {
		memset(out, 0, sizeof *out);
		return MESHD_E_PROTO;
	}
	return mesh_envelope_decode(ek, bytes, len, &out->env, out, sizeof *out,
	    signed_sig(k, out));
}

/* n holds a cert: its key signs n's records. */
static bool signed_verify(const struct mesh_records *recs, const struct node *n, unsigned k,
    union signed_rec *rec, uint64_t now)
{
	return mesh_envelope_verify(signed_kinds[k].env, &rec->env, rec, signed_sig(k, rec),
	    n->cert->sign_pk, recs->mesh_id, now);
}

/* The record's new state for kind k (rec NULL: none any more). */
static void emit_signed(struct mesh_records *recs, unsigned k, const uint8_t *id,
    const union signed_rec *rec)
{
	struct mesh_rec_event ev = { .type = signed_kinds[k].changed, .node_id = id };

	if (rec != NULL && k == K_EP)
		ev.endpoints = &rec->e;
	else if (rec != NULL && k == K_RT)
		ev.routes = &rec->rt;
	if (recs->on_event != NULL)
		recs->on_event(recs->ctx, &ev);
}

/* Drops n's records that are expired at now, with their events. */
static void expire_node(struct mesh_records *recs, struct node *n, uint64_t now)
{
	if (n->cert != NULL && now >= n->cert->expires) {
		rec_drop(recs, n, K_CERT);
		rec_drop(recs, n, K_EP);
		rec_drop(recs, n, K_RT);
		emit(recs, MESH_EV_MEMBER_REMOVED, n->id, NULL, NULL, MESH_GONE_EXPIRED);
	} else if (n->ep != NULL && now >= n->ep->expires) {
		rec_drop(recs, n, K_EP);
		emit(recs, MESH_EV_ENDPOINTS_CHANGED, n->id, NULL, NULL, 0);
	}
}

/* ---- pending orphans ---- */

static void pending_remove(struct mesh_records *recs, size_t i)
{
	free(recs->pend[i].bytes);
	recs->pend[i] = recs->pend[recs->npend - 1];
	memset(&recs->pend[recs->npend - 1], 0, sizeof recs->pend[0]);
	recs->npend--;
}

static void pending_drop_node(struct mesh_records *recs, const uint8_t id[MESH_NODE_ID_LEN])
{
	size_t i = 0;

	while (i < recs->npend) {
		if (memcmp(recs->pend[i].node_id, id, MESH_NODE_ID_LEN) == 0)
			pending_remove(recs, i);
		else
			i++;
	}
}

/* exp: the record's own expiry (UINT64_MAX for routes). */
static int pending_add(struct mesh_records *recs, uint8_t kind, const uint8_t *node_id,
    uint64_t exp, const uint8_t *bytes, size_t len, uint64_t now)
{
	struct pending *p;
	size_t i, oldest = 0;

	for (i = 0; i < recs->npend; i++) {
		p = &recs->pend[i];
		if (p->kind == kind && p->len == len && memcmp(p->bytes, bytes, len) == 0)
			return MESH_MERGE_ORPHAN;
		if (p->order < recs->pend[oldest].order)
			oldest = i;
	}
	if (recs->npend == recs->max_pending)
		pending_remove(recs, oldest);
	if (recs->npend == recs->cappend) {
		size_t cap = recs->cappend ? 2 * recs->cappend : PENDING_MIN;

		if (cap > recs->max_pending)
			cap = recs->max_pending;
		if ((p = realloc(recs->pend, cap * sizeof *p)) == NULL)
			return MESHD_E_NOMEM;
		recs->pend = p;
		recs->cappend = cap;
	}
	p = &recs->pend[recs->npend];
	if ((p->bytes = malloc(len)) == NULL)
		return MESHD_E_NOMEM;
	memcpy(p->bytes, bytes, len);
	memcpy(p->node_id, node_id, MESH_NODE_ID_LEN);
	p->kind = kind;
	p->len = len;
	if (now < UINT64_MAX - MESH_RECORDS_PENDING_TTL_S && now + MESH_RECORDS_PENDING_TTL_S < exp)
		exp = now + MESH_RECORDS_PENDING_TTL_S;
	p->expires = exp;
	p->order = recs->pend_order++;
	recs->npend++;
	if (exp < recs->next_exp)
		recs->next_exp = exp;
	return MESH_MERGE_ORPHAN;
}

/* ---- merge ---- */

/* A node-signed record of kind k for n, which holds a cert. */
static int signed_apply(struct mesh_records *recs, struct node *n, unsigned k,
    union signed_rec *rec, const uint8_t *bytes, size_t len, uint64_t now)
{
	const struct blob *held = rec_of(n, k);
	int r;

	/* not newer: ignored whatever its signature, so no check is spent */
	if (held != NULL && rec_cmp(rec->env.seq, bytes, len, held) <= 0)
		return not_newer(rec->env.seq, bytes, len, held);
	if (!signed_verify(recs, n, k, rec, now))
		return MESH_MERGE_INVALID;
	if ((r = rec_set(recs, n, k, bytes, len, rec->env.seq,
	    mesh_envelope_expiry(signed_kinds[k].env, &rec->env), NULL)) != 0)
		return r;
	emit_signed(recs, k, n->id, rec);
	return MESH_MERGE_NEW;
}

/* Merges the orphans waiting for n, which just got its cert. */
static void pending_adopt(struct mesh_records *recs, struct node *n, uint64_t now)
{
	size_t i = 0;

	while (i < recs->npend) {
		struct pending p = recs->pend[i];
		union signed_rec rec;

		if (memcmp(p.node_id, n->id, MESH_NODE_ID_LEN) != 0) {
			i++;
			continue;
		}
		recs->pend[i].bytes = NULL;	/* p owns it now */
		pending_remove(recs, i);
		if (signed_decode(p.kind - 1u, p.bytes, p.len, &rec) == 0)
			(void)signed_apply(recs, n, p.kind - 1u, &rec, p.bytes, p.len, now);
		free(p.bytes);
	}
}

static int merge_cert(struct mesh_records *recs, const uint8_t *bytes, size_t len, uint64_t now)
{
	struct mesh_cert c;
	struct node *n;
	bool had, rekeyed, dropped[NKINDS] = { false };
	unsigned k;
	int r;

	if (len > MESH_CERT_MAX_LEN || mesh_cert_decode(bytes, len, &c) != 0)
		return MESH_MERGE_INVALID;
	/* revoked, or not newer: ignored whatever its signature, so no check
	 * is spent (a signature is checked only for a NEW or INVALID outcome,
	 * which is what the callers' check budgets count) */
	if ((n = records_node_lookup(recs, c.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (rec_of(n, K_REVOKE) != NULL)
			return MESH_MERGE_REVOKED;
		if (n->cert != NULL && rec_cmp(c.issued_at, bytes, len, n->cert) <= 0)
			return not_newer(c.issued_at, bytes, len, n->cert);
	}
	if (!mesh_cert_verify(&c, recs->authority_pk, now))
		return MESH_MERGE_INVALID;
	if (n == NULL && (r = node_insert(recs, c.node_id, &n)) != 0)
		return r;
	had = n->cert != NULL;
	rekeyed = had && sodium_memcmp(n->cert->sign_pk, c.sign_pk, MESH_PK_LEN) != 0;
	if ((r = rec_set(recs, n, K_CERT, bytes, len, c.issued_at, c.expires_at, c.sign_pk)) != 0)
		return r;
	/* a new key: the held node-signed records must verify under it, and
	 * the state is settled before any event reports it */
	for (k = 0; rekeyed && k < NKINDS; k++) {
		union signed_rec rec;

		const struct blob *held = rec_of(n, k);

		if (signed_kinds[k].env == NULL || held == NULL)
			continue;
		dropped[k] = signed_decode(k, held->bytes, held->len, &rec) != 0 ||
		    !signed_verify(recs, n, k, &rec, now);
		if (dropped[k])
			rec_drop(recs, n, k);
	}
	emit(recs, had ? MESH_EV_MEMBER_CHANGED : MESH_EV_MEMBER_ADDED, n->id, &c, NULL, 0);
	for (k = 0; k < NKINDS; k++)
		if (dropped[k])
			emit_signed(recs, k, n->id, NULL);
	/* the cert is stored: an orphan lost to NOMEM comes back by gossip */
	pending_adopt(recs, n, now);
	return MESH_MERGE_NEW;
}

static int merge_revoke(struct mesh_records *recs, const uint8_t *bytes, size_t len,
    uint64_t now)
{
	struct mesh_revoke rv;
	struct node *n;
	bool member;
	int r;

	if (len != MESH_REVOKE_LEN || mesh_revoke_decode(bytes, len, &rv) != 0)
		return MESH_MERGE_INVALID;
	/* not newer: ignored whatever its signature (as for certs) */
	if ((n = records_node_lookup(recs, rv.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (rec_of(n, K_REVOKE) != NULL &&
		    rec_cmp(rv.revoked_at, bytes, len, rec_of(n, K_REVOKE)) <= 0)
			return not_newer(rv.revoked_at, bytes, len, rec_of(n, K_REVOKE));
	}
	if (!mesh_revoke_verify(&rv, recs->authority_pk))
		return MESH_MERGE_INVALID;
	if (n == NULL && (r = node_insert(recs, rv.node_id, &n)) != 0)
		return r;
	if ((r = rec_set(recs, n, K_REVOKE, bytes, len, rv.revoked_at, UINT64_MAX, NULL)) != 0)
		return r;
	member = n->cert != NULL;
	rec_drop(recs, n, K_CERT);
	rec_drop(recs, n, K_EP);
	rec_drop(recs, n, K_RT);
	pending_drop_node(recs, n->id);
	if (member)
		emit(recs, MESH_EV_MEMBER_REMOVED, n->id, NULL, NULL, MESH_GONE_REVOKED);
	return MESH_MERGE_NEW;
}

/* An ENDPOINTS or ROUTES record from anyone. */
static int merge_signed(struct mesh_records *recs, unsigned k, const uint8_t *bytes, size_t len,
    uint64_t now)
{
	union signed_rec rec;
	struct node *n;

	if (signed_decode(k, bytes, len, &rec) != 0 ||
	    !mesh_envelope_fresh(signed_kinds[k].env, &rec.env, recs->mesh_id, now))
		return MESH_MERGE_INVALID;
	if ((n = records_node_lookup(recs, rec.env.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (rec_of(n, K_REVOKE) != NULL)
			return MESH_MERGE_REVOKED;
		if (n->cert != NULL)
			return signed_apply(recs, n, k, &rec, bytes, len, now);
	}
	return pending_add(recs, (uint8_t)(k + 1), rec.env.node_id,
	    mesh_envelope_expiry(signed_kinds[k].env, &rec.env), bytes, len, now);
}

int mesh_records_merge(struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t *bytes, size_t len, uint64_t now_unix)
{
	struct node *n;
	int r;

	if (recs->busy)
		return MESHD_E_STATE;
	if (bytes == NULL)
		return MESH_MERGE_INVALID;
	recs->busy = true;
	switch (kind) {
	case MESH_REC_CERT:
		r = merge_cert(recs, bytes, len, now_unix);
		break;
	case MESH_REC_REVOKE:
		r = merge_revoke(recs, bytes, len, now_unix);
		break;
	case MESH_REC_ENDPOINTS:
	case MESH_REC_ROUTES:
		r = merge_signed(recs, kind - 1u, bytes, len, now_unix);
		break;
	default:
		r = MESH_MERGE_INVALID;
		break;
	}
	/* A merge may leave its node empty (its cert expired, or an insert
	 * failed half-way). Every kind starts with u8 version | mesh_id |
	 * node_id, so the node is found again from the bytes. */
	if (kind_ok(kind) && len >= 1 + MESH_ID_LEN + MESH_NODE_ID_LEN &&
	    (n = records_node_lookup(recs, bytes + 1 + MESH_ID_LEN)) != NULL)
		node_gc(recs, n);
	recs->busy = false;
	return r;
}

const char *mesh_merge_str(int outcome)
{
	switch (outcome) {
	case MESH_MERGE_NEW: return "new";
	case MESH_MERGE_DUP: return "dup";
	case MESH_MERGE_STALE: return "stale";
	case MESH_MERGE_INVALID: return "invalid";
	case MESH_MERGE_REVOKED: return "revoked";
	case MESH_MERGE_ORPHAN: return "orphan";
	default: return "error";
	}
}

/* ---- lifecycle ---- */

struct mesh_records *mesh_records_new(const struct mesh_records_cfg *cfg, int *err)
{
	struct mesh_records *recs;

	*err = 0;
	if (cfg->max_nodes > MESH_RECORDS_MAX_NODES || cfg->max_pending > MESH_RECORDS_PENDING_MAX) {
		*err = MESHD_E_INVAL;
		return NULL;
	}
	if ((recs = calloc(1, sizeof *recs)) == NULL)
		goto nomem;
	memcpy(recs->authority_pk, cfg->authority_pk, MESH_PK_LEN);
	mesh_identity_mesh_id(recs->authority_pk, recs->mesh_id);
	recs->max_nodes = cfg->max_nodes ? cfg->max_nodes : MESH_RECORDS_MAX_NODES;
	recs->max_pending = cfg->max_pending ? cfg->max_pending : MESH_RECORDS_PENDING_MAX;
	recs->on_event = cfg->on_event;
	recs->ctx = cfg->ctx;
	recs->pool = cfg->pool;
	recs->next_exp = UINT64_MAX;
	if ((recs->bk = calloc(MESH_RECORDS_BUCKETS, sizeof *recs->bk)) == NULL)
		goto nomem;
	return recs;
nomem:
	mesh_records_free(recs);
	*err = MESHD_E_NOMEM;
	return NULL;
}

void mesh_records_free(struct mesh_records *recs)
{
	size_t b, i;
	unsigned k;

	if (recs == NULL)
		return;
	for (b = 0; recs->bk != NULL && b < MESH_RECORDS_BUCKETS; b++) {
		for (i = 0; i < recs->bk[b].n; i++) {
			for (k = 0; k < NKINDS; k++)
				records_blob_put(recs, rec_of(&recs->bk[b].v[i], k));
			free(recs->bk[b].v[i].rare);
		}
		free(recs->bk[b].v);
	}
	for (i = 0; recs->pend != NULL && i < recs->npend; i++)
		free(recs->pend[i].bytes);
	free(recs->bk);
	free(recs->pend);
	free(recs);
}

/* Fills the empty bucket dst with src's nodes and references to their
 * records. On failure dst holds what it could take (mesh_records_free()
 * walks it) and MESHD_E_NOMEM is returned. */
static int bucket_clone(struct mesh_records *recs, struct bucket *dst, const struct bucket *src)
{
	size_t i;
	unsigned k;

	dst->gen = src->gen;
	if (src->n == 0)
		return 0;
	if ((dst->v = calloc(src->n, sizeof *dst->v)) == NULL)
		return MESHD_E_NOMEM;
	dst->cap = src->n;
	for (i = 0; i < src->n; i++) {
		memcpy(dst->v[i].id, src->v[i].id, MESH_NODE_ID_LEN);
		dst->n++;
		for (k = 0; k < NKINDS; k++) {
			struct blob *b = rec_of(&src->v[i], k), **slot;

			if (b == NULL)
				continue;
			if ((slot = rec_slot(&dst->v[i], k, true)) == NULL ||
			    (*slot = records_blob_clone(recs, b)) == NULL)
				return MESHD_E_NOMEM;
		}
	}
	return 0;
}

struct mesh_records *mesh_records_clone(const struct mesh_records *src, int *err)
{
	struct mesh_records *recs;
	size_t i;

	*err = 0;
	if (src->busy) {
		*err = MESHD_E_STATE;
		return NULL;
	}
	if ((recs = malloc(sizeof *recs)) == NULL)
		goto nomem;
	*recs = *src;
	/* what mesh_records_free() walks, filled one owned piece at a time */
	recs->bk = NULL;
	recs->npend = 0;
	recs->cappend = src->npend;
	recs->pend = NULL;
	if ((recs->bk = calloc(MESH_RECORDS_BUCKETS, sizeof *recs->bk)) == NULL ||
	    (src->npend > 0 && (recs->pend = calloc(src->npend, sizeof *recs->pend)) == NULL))
		goto nomem;
	for (i = 0; i < MESH_RECORDS_BUCKETS; i++)
		if (bucket_clone(recs, &recs->bk[i], &src->bk[i]) != 0)
			goto nomem;
	for (i = 0; i < src->npend; i++) {
		recs->pend[i] = src->pend[i];
		if ((recs->pend[i].bytes = malloc(src->pend[i].len)) == NULL)
			goto nomem;
		memcpy(recs->pend[i].bytes, src->pend[i].bytes, src->pend[i].len);
		recs->npend++;
	}
	return recs;
nomem:
	mesh_records_free(recs);
	*err = MESHD_E_NOMEM;
	return NULL;
}

/* ---- expiry ---- */

uint64_t mesh_records_next_expiry(const struct mesh_records *recs)
{
	return recs->next_exp;
}

int mesh_records_handle_expiry(struct mesh_records *recs, uint64_t now_unix)
{
	uint64_t next = UINT64_MAX;
	size_t b, i;
	unsigned k;

	if (recs->busy)
		return MESHD_E_STATE;
	recs->busy = true;
	/* first every expiry with its events (the callback may look nodes up:
	 * emptied ones stay in place until the second pass) */
	for (b = 0; b < MESH_RECORDS_BUCKETS; b++)
		for (i = 0; i < recs->bk[b].n; i++)
			expire_node(recs, &recs->bk[b].v[i], now_unix);
	for (b = 0; b < MESH_RECORDS_BUCKETS; b++) {
		struct bucket *bk = &recs->bk[b];
		size_t w = 0;

		for (i = 0; i < bk->n; i++) {
			if (node_empty(&bk->v[i])) {
				recs->nnodes--;
				continue;
			}
			if (w != i)
				bk->v[w] = bk->v[i];
			w++;
			/* the exact next expiry, now that everything expired is gone */
			for (k = 0; k < NKINDS; k++)
				if (rec_of(&bk->v[i], k) != NULL && rec_of(&bk->v[i], k)->expires < next)
					next = rec_of(&bk->v[i], k)->expires;
		}
		bk->n = (uint32_t)w;
	}
	i = 0;
	while (i < recs->npend) {
		if (now_unix >= recs->pend[i].expires)
			pending_remove(recs, i);
		else
			i++;
	}
	for (i = 0; i < recs->npend; i++)
		if (recs->pend[i].expires < next)
			next = recs->pend[i].expires;
	recs->next_exp = next;
	recs->busy = false;
	return 0;
}
