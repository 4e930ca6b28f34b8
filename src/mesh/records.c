/* The gossiped record set: a hash table of nodes (open addressing, linear
 * probing, backward-shift deletion, SipHash with a per-set random key), each
 * node holding at most one record of each kind, plus a small pending set of
 * endpoint and routes records waiting for their node's cert. See records.h for the
 * rules. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/records.h"
#include "util/err.h"

enum {
	NKINDS = 4,
	K_CERT = MESH_REC_CERT - 1,
	K_REVOKE = MESH_REC_REVOKE - 1,
	K_EP = MESH_REC_ENDPOINTS - 1,
	K_RT = MESH_REC_ROUTES - 1,
	TABLE_MIN = 16,
	PENDING_MIN = 4,		/* first allocation of the pending set */
	REC_HASH_LEN = 32,
};

_Static_assert((int)MESH_DIGEST_HASH_LEN <= (int)REC_HASH_LEN, "digest hash");

struct rec {
	uint8_t *bytes;		/* owned; NULL when absent */
	size_t len;
	uint64_t version;	/* issued_at, revoked_at or seq */
	uint64_t expires;	/* unix s; UINT64_MAX for tombstones, routes */
	uint8_t hash[REC_HASH_LEN];
};

struct node {
	uint8_t id[MESH_NODE_ID_LEN];
	uint64_t home;			/* SipHash of id */
	struct rec rec[NKINDS];		/* indexed by kind - 1 */
	uint8_t sign_pk[MESH_PK_LEN];	/* from the held cert */
};

struct pending {
	uint8_t kind;			/* MESH_REC_ENDPOINTS or MESH_REC_ROUTES */
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint8_t *bytes;			/* owned */
	size_t len;
	uint64_t expires;		/* unix s */
	uint64_t order;			/* arrival; the smallest is evicted first */
};

struct mesh_records {
	uint8_t authority_pk[MESH_PK_LEN];
	uint8_t mesh_id[MESH_ID_LEN];
	size_t max_nodes, max_pending;
	mesh_records_event_fn *on_event;
	void *ctx;
	struct node **slots;
	size_t cap;			/* power of two */
	size_t nnodes;
	size_t count[NKINDS];
	struct pending *pend;		/* cappend entries, grown to need */
	size_t npend, cappend;		/* cappend <= max_pending */
	uint64_t pend_order;
	uint64_t next_exp;		/* lower bound of the next expiry */
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	bool busy;			/* inside merge or expiry */
	bool hash_ok;
	uint8_t set_hash[MESH_RECORDS_SET_HASH_LEN];
};

/* A record in digest order. */
struct ref {
	const struct node *n;
	unsigned k;
};

static bool kind_ok(int kind)
{
	return kind >= MESH_REC_CERT && kind <= MESH_REC_ROUTES;
}

/* ---- table ---- */

static uint64_t node_hash(const struct mesh_records *recs, const uint8_t id[MESH_NODE_ID_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	unsigned i;

	crypto_shorthash(h, id, MESH_NODE_ID_LEN, recs->hkey);
	for (i = 0; i < sizeof h; i++)
		v = (v << 8) | h[i];
	return v;
}

static size_t slot_find(const struct mesh_records *recs, const uint8_t id[MESH_NODE_ID_LEN],
    uint64_t h)
{
	size_t mask = recs->cap - 1, i = h & mask;

	while (recs->slots[i] != NULL && memcmp(recs->slots[i]->id, id, MESH_NODE_ID_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static struct node *node_lookup(const struct mesh_records *recs,
    const uint8_t id[MESH_NODE_ID_LEN])
{
	return recs->slots[slot_find(recs, id, node_hash(recs, id))];
}

static int table_grow(struct mesh_records *recs)
{
	size_t ncap = recs->cap * 2, i, mask = ncap - 1;
	struct node **ns = calloc(ncap, sizeof *ns);

	if (ns == NULL)
		return MESHD_E_NOMEM;
	for (i = 0; i < recs->cap; i++) {
		struct node *n = recs->slots[i];
		size_t j;

		if (n == NULL)
			continue;
		for (j = n->home & mask; ns[j] != NULL; j = (j + 1) & mask)
			;
		ns[j] = n;
	}
	free(recs->slots);
	recs->slots = ns;
	recs->cap = ncap;
	return 0;
}

/* A new empty node for id (not held yet). MESHD_E_FULL or MESHD_E_NOMEM. */
static int node_insert(struct mesh_records *recs, const uint8_t id[MESH_NODE_ID_LEN],
    struct node **out)
{
	struct node *n;
	int r;

	*out = NULL;
	if (recs->nnodes >= recs->max_nodes)
		return MESHD_E_FULL;
	if ((recs->nnodes + 1) * 2 > recs->cap && (r = table_grow(recs)) != 0)
		return r;
	if ((n = calloc(1, sizeof *n)) == NULL)
		return MESHD_E_NOMEM;
	memcpy(n->id, id, MESH_NODE_ID_LEN);
	n->home = node_hash(recs, id);
	recs->slots[slot_find(recs, id, n->home)] = n;
	recs->nnodes++;
	*out = n;
	return 0;
}

/* Empties slot i and moves later members of its probe run back so that
 * every node stays reachable from its home slot. */
static void slot_delete(struct mesh_records *recs, size_t i)
{
	size_t mask = recs->cap - 1, j = i;

	recs->slots[i] = NULL;
	for (;;) {
		struct node *n;
		size_t k;
		bool stay;

		j = (j + 1) & mask;
		if ((n = recs->slots[j]) == NULL)
			break;
		k = n->home & mask;
		stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stay)
			continue;
		recs->slots[i] = n;
		recs->slots[j] = NULL;
		i = j;
	}
}

static bool node_empty(const struct node *n)
{
	unsigned k;

	for (k = 0; k < NKINDS; k++)
		if (n->rec[k].bytes != NULL)
			return false;
	return true;
}

static void node_free(struct node *n)
{
	unsigned k;

	for (k = 0; k < NKINDS; k++)
		free(n->rec[k].bytes);
	free(n);
}

/* Removes n from the table when it holds nothing any more. */
static void node_gc(struct mesh_records *recs, struct node *n)
{
	if (n == NULL || !node_empty(n))
		return;
	slot_delete(recs, slot_find(recs, n->id, n->home));
	recs->nnodes--;
	node_free(n);
}

/* ---- records ---- */

static void rec_hash(unsigned k, const uint8_t *bytes, size_t len, uint8_t out[REC_HASH_LEN])
{
	crypto_generichash_state st;
	uint8_t kind = (uint8_t)(k + 1);

	crypto_generichash_init(&st, NULL, 0, REC_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)MESH_RECORD_HASH_DOMAIN,
	    strlen(MESH_RECORD_HASH_DOMAIN));
	crypto_generichash_update(&st, &kind, 1);
	crypto_generichash_update(&st, bytes, len);
	crypto_generichash_final(&st, out, REC_HASH_LEN);
}

/* The total order of the merge: version, then the bytes (a proper prefix is
 * smaller). <0, 0 (identical), >0. */
static int rec_cmp(uint64_t va, const uint8_t *a, size_t alen, const struct rec *b)
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
static int not_newer(uint64_t version, const uint8_t *bytes, size_t len, const struct rec *held)
{
	int c = rec_cmp(version, bytes, len, held);

	if (c == 0 || version == held->version)
		return MESH_MERGE_DUP;
	return MESH_MERGE_STALE;
}

static int rec_set(struct mesh_records *recs, struct node *n, unsigned k, const uint8_t *bytes,
    size_t len, uint64_t version, uint64_t expires)
{
	struct rec *rc = &n->rec[k];
	uint8_t *copy = malloc(len);

	if (copy == NULL)
		return MESHD_E_NOMEM;
	memcpy(copy, bytes, len);
	if (rc->bytes == NULL)
		recs->count[k]++;
	free(rc->bytes);
	rc->bytes = copy;
	rc->len = len;
	rc->version = version;
	rc->expires = expires;
	rec_hash(k, bytes, len, rc->hash);
	if (expires < recs->next_exp)
		recs->next_exp = expires;
	recs->hash_ok = false;
	return 0;
}

static void rec_drop(struct mesh_records *recs, struct node *n, unsigned k)
{
	struct rec *rc = &n->rec[k];

	if (rc->bytes == NULL)
		return;
	free(rc->bytes);
	memset(rc, 0, sizeof *rc);
	recs->count[k]--;
	recs->hash_ok = false;
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

	memset(out, 0, sizeof *out);
	if (len > ek->max_len)
		return MESHD_E_PROTO;
	return mesh_envelope_decode(ek, bytes, len, &out->env, out, signed_sig(k, out));
}

static bool signed_verify(const struct mesh_records *recs, const struct node *n, unsigned k,
    union signed_rec *rec, uint64_t now)
{
	return mesh_envelope_verify(signed_kinds[k].env, &rec->env, rec, signed_sig(k, rec),
	    n->sign_pk, recs->mesh_id, now);
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
	if (n->rec[K_CERT].bytes != NULL && now >= n->rec[K_CERT].expires) {
		rec_drop(recs, n, K_CERT);
		rec_drop(recs, n, K_EP);
		rec_drop(recs, n, K_RT);
		memset(n->sign_pk, 0, sizeof n->sign_pk);
		emit(recs, MESH_EV_MEMBER_REMOVED, n->id, NULL, NULL, MESH_GONE_EXPIRED);
	} else if (n->rec[K_EP].bytes != NULL && now >= n->rec[K_EP].expires) {
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
	struct rec *held = &n->rec[k];
	int r;

	/* not newer: ignored whatever its signature, so no check is spent */
	if (held->bytes != NULL && rec_cmp(rec->env.seq, bytes, len, held) <= 0)
		return not_newer(rec->env.seq, bytes, len, held);
	if (!signed_verify(recs, n, k, rec, now))
		return MESH_MERGE_INVALID;
	if ((r = rec_set(recs, n, k, bytes, len, rec->env.seq,
	    mesh_envelope_expiry(signed_kinds[k].env, &rec->env))) != 0)
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

	if (len > MESH_CERT_MAX_LEN || mesh_cert_decode(bytes, len, &c) != 0 ||
	    !mesh_cert_verify(&c, recs->authority_pk, now))
		return MESH_MERGE_INVALID;
	if ((n = node_lookup(recs, c.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (n->rec[K_REVOKE].bytes != NULL)
			return MESH_MERGE_REVOKED;
		if (n->rec[K_CERT].bytes != NULL &&
		    rec_cmp(c.issued_at, bytes, len, &n->rec[K_CERT]) <= 0)
			return not_newer(c.issued_at, bytes, len, &n->rec[K_CERT]);
	} else if ((r = node_insert(recs, c.node_id, &n)) != 0) {
		return r;
	}
	had = n->rec[K_CERT].bytes != NULL;
	if ((r = rec_set(recs, n, K_CERT, bytes, len, c.issued_at, c.expires_at)) != 0)
		return r;
	rekeyed = had && sodium_memcmp(n->sign_pk, c.sign_pk, MESH_PK_LEN) != 0;
	memcpy(n->sign_pk, c.sign_pk, MESH_PK_LEN);
	/* a new key: the held node-signed records must verify under it, and
	 * the state is settled before any event reports it */
	for (k = 0; rekeyed && k < NKINDS; k++) {
		union signed_rec rec;

		if (signed_kinds[k].env == NULL || n->rec[k].bytes == NULL)
			continue;
		dropped[k] = signed_decode(k, n->rec[k].bytes, n->rec[k].len, &rec) != 0 ||
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

	if (len != MESH_REVOKE_LEN || mesh_revoke_decode(bytes, len, &rv) != 0 ||
	    !mesh_revoke_verify(&rv, recs->authority_pk))
		return MESH_MERGE_INVALID;
	if ((n = node_lookup(recs, rv.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (n->rec[K_REVOKE].bytes != NULL &&
		    rec_cmp(rv.revoked_at, bytes, len, &n->rec[K_REVOKE]) <= 0)
			return not_newer(rv.revoked_at, bytes, len, &n->rec[K_REVOKE]);
	} else if ((r = node_insert(recs, rv.node_id, &n)) != 0) {
		return r;
	}
	if ((r = rec_set(recs, n, K_REVOKE, bytes, len, rv.revoked_at, UINT64_MAX)) != 0)
		return r;
	member = n->rec[K_CERT].bytes != NULL;
	rec_drop(recs, n, K_CERT);
	rec_drop(recs, n, K_EP);
	rec_drop(recs, n, K_RT);
	memset(n->sign_pk, 0, sizeof n->sign_pk);
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
	if ((n = node_lookup(recs, rec.env.node_id)) != NULL) {
		expire_node(recs, n, now);
		if (n->rec[K_REVOKE].bytes != NULL)
			return MESH_MERGE_REVOKED;
		if (n->rec[K_CERT].bytes != NULL)
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
	    (n = node_lookup(recs, bytes + 1 + MESH_ID_LEN)) != NULL)
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
	recs->cap = TABLE_MIN;
	recs->next_exp = UINT64_MAX;
	crypto_shorthash_keygen(recs->hkey);
	if ((recs->slots = calloc(recs->cap, sizeof *recs->slots)) == NULL)
		goto nomem;
	return recs;
nomem:
	mesh_records_free(recs);
	*err = MESHD_E_NOMEM;
	return NULL;
}

void mesh_records_free(struct mesh_records *recs)
{
	size_t i;

	if (recs == NULL)
		return;
	for (i = 0; recs->slots != NULL && i < recs->cap; i++)
		if (recs->slots[i] != NULL)
			node_free(recs->slots[i]);
	for (i = 0; recs->pend != NULL && i < recs->npend; i++)
		free(recs->pend[i].bytes);
	free(recs->slots);
	free(recs->pend);
	free(recs);
}

/* A copy of n whose record bytes are its own; NULL when out of memory. */
static struct node *node_dup(const struct node *n)
{
	struct node *c;
	unsigned k;

	if ((c = malloc(sizeof *c)) == NULL)
		return NULL;
	*c = *n;
	for (k = 0; k < NKINDS; k++) {
		if (n->rec[k].bytes == NULL)
			continue;
		if ((c->rec[k].bytes = malloc(n->rec[k].len)) == NULL) {
			while (k-- > 0)
				free(c->rec[k].bytes);
			free(c);
			return NULL;
		}
		memcpy(c->rec[k].bytes, n->rec[k].bytes, n->rec[k].len);
	}
	return c;
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
	recs->npend = 0;
	recs->cappend = src->npend;
	recs->pend = NULL;
	if ((recs->slots = calloc(recs->cap, sizeof *recs->slots)) == NULL ||
	    (src->npend > 0 && (recs->pend = calloc(src->npend, sizeof *recs->pend)) == NULL))
		goto nomem;
	/* same key and capacity: every node goes to the slot it had */
	for (i = 0; i < src->cap; i++)
		if (src->slots[i] != NULL && (recs->slots[i] = node_dup(src->slots[i])) == NULL)
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
	size_t i = 0;
	unsigned k;

	if (recs->busy)
		return MESHD_E_STATE;
	recs->busy = true;
	while (i < recs->cap) {
		struct node *n = recs->slots[i];

		if (n == NULL) {
			i++;
			continue;
		}
		expire_node(recs, n, now_unix);
		if (node_empty(n)) {
			/* slot i now holds a node moved back, or nothing */
			slot_delete(recs, i);
			recs->nnodes--;
			node_free(n);
			continue;
		}
		i++;
	}
	i = 0;
	while (i < recs->npend) {
		if (now_unix >= recs->pend[i].expires)
			pending_remove(recs, i);
		else
			i++;
	}
	/* the exact next expiry, now that everything expired is gone */
	for (i = 0; i < recs->cap; i++)
		for (k = 0; recs->slots[i] != NULL && k < NKINDS; k++)
			if (recs->slots[i]->rec[k].bytes != NULL && recs->slots[i]->rec[k].expires < next)
				next = recs->slots[i]->rec[k].expires;
	for (i = 0; i < recs->npend; i++)
		if (recs->pend[i].expires < next)
			next = recs->pend[i].expires;
	recs->next_exp = next;
	recs->busy = false;
	return 0;
}

/* ---- lookups ---- */

int mesh_records_get(const struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t **bytes, size_t *len)
{
	const struct node *n;

	*bytes = NULL;
	*len = 0;
	if (!kind_ok(kind) || (n = node_lookup(recs, node_id)) == NULL ||
	    n->rec[kind - 1].bytes == NULL)
		return MESHD_E_NOENT;
	*bytes = n->rec[kind - 1].bytes;
	*len = n->rec[kind - 1].len;
	return 0;
}

int mesh_records_cert(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_cert *out)
{
	const uint8_t *b;
	size_t len;

	memset(out, 0, sizeof *out);
	if (mesh_records_get(recs, MESH_REC_CERT, node_id, &b, &len) != 0)
		return MESHD_E_NOENT;
	return mesh_cert_decode(b, len, out) == 0 ? 0 : MESHD_E_NOENT;
}

int mesh_records_endpoints(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_endpoints *out)
{
	const uint8_t *b;
	size_t len;

	memset(out, 0, sizeof *out);
	if (mesh_records_get(recs, MESH_REC_ENDPOINTS, node_id, &b, &len) != 0)
		return MESHD_E_NOENT;
	return mesh_endpoints_decode(b, len, out) == 0 ? 0 : MESHD_E_NOENT;
}

int mesh_records_routes(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_routes *out)
{
	const uint8_t *b;
	size_t len;

	memset(out, 0, sizeof *out);
	if (mesh_records_get(recs, MESH_REC_ROUTES, node_id, &b, &len) != 0)
		return MESHD_E_NOENT;
	return mesh_routes_decode(b, len, out) == 0 ? 0 : MESHD_E_NOENT;
}

int mesh_records_foreach(const struct mesh_records *recs, int kind,
    mesh_records_walk_fn *fn, void *ctx)
{
	size_t i;
	unsigned k;
	int r;

	for (i = 0; i < recs->cap; i++) {
		const struct node *n = recs->slots[i];

		for (k = 0; n != NULL && k < NKINDS; k++) {
			if (n->rec[k].bytes == NULL || (kind != 0 && kind != (int)k + 1))
				continue;
			if ((r = fn(ctx, (enum mesh_rec_kind)(k + 1), n->id, n->rec[k].bytes,
			    n->rec[k].len)) != 0)
				return r;
		}
	}
	return 0;
}

size_t mesh_records_count(const struct mesh_records *recs, int kind)
{
	if (kind == 0)
		return recs->count[K_CERT] + recs->count[K_REVOKE] + recs->count[K_EP] +
		    recs->count[K_RT];
	return kind_ok(kind) ? recs->count[kind - 1] : 0;
}

size_t mesh_records_pending(const struct mesh_records *recs)
{
	return recs->npend;
}

/* ---- digest ---- */

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = memcmp(x->n->id, y->n->id, MESH_NODE_ID_LEN);

	if (c != 0)
		return c;
	return x->k < y->k ? -1 : x->k > y->k;
}

/* Every held record, in digest order. *out is NULL-safe to free. */
static int collect(const struct mesh_records *recs, struct ref **out, size_t *nout)
{
	size_t total = mesh_records_count(recs, 0), i, n = 0;
	struct ref *v;
	unsigned k;

	*out = NULL;
	*nout = 0;
	if ((v = malloc((total + 1) * sizeof *v)) == NULL)
		return MESHD_E_NOMEM;
	for (i = 0; i < recs->cap; i++)
		for (k = 0; recs->slots[i] != NULL && k < NKINDS; k++)
			if (recs->slots[i]->rec[k].bytes != NULL)
				v[n++] = (struct ref){ .n = recs->slots[i], .k = k };
	qsort(v, n, sizeof *v, ref_cmp);
	*out = v;
	*nout = n;
	return 0;
}

static void ref_entry(const struct ref *rf, struct mesh_digest_entry *e)
{
	e->kind = (uint8_t)(rf->k + 1);
	memcpy(e->node_id, rf->n->id, MESH_NODE_ID_LEN);
	e->version = rf->n->rec[rf->k].version;
	memcpy(e->hash, rf->n->rec[rf->k].hash, MESH_DIGEST_HASH_LEN);
}

void mesh_digest_clear(struct mesh_digest *d)
{
	free(d->e);
	d->e = NULL;
	d->n = 0;
}

int mesh_records_digest(const struct mesh_records *recs, struct mesh_digest *d)
{
	struct ref *v;
	size_t n, i;
	int r;

	d->e = NULL;
	d->n = 0;
	if ((r = collect(recs, &v, &n)) != 0)
		return r;
	if ((d->e = calloc(n + 1, sizeof *d->e)) == NULL) {
		free(v);
		return MESHD_E_NOMEM;
	}
	for (i = 0; i < n; i++)
		ref_entry(&v[i], &d->e[i]);
	d->n = n;
	free(v);
	return 0;
}

int mesh_records_set_hash(struct mesh_records *recs, uint8_t out[MESH_RECORDS_SET_HASH_LEN])
{
	crypto_generichash_state st;
	struct ref *v;
	size_t n, i;
	int r;

	if (recs->hash_ok) {
		memcpy(out, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
		return 0;
	}
	memset(out, 0, MESH_RECORDS_SET_HASH_LEN);
	if ((r = collect(recs, &v, &n)) != 0)
		return r;
	crypto_generichash_init(&st, NULL, 0, MESH_RECORDS_SET_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)MESH_RECORDS_SET_DOMAIN,
	    strlen(MESH_RECORDS_SET_DOMAIN));
	for (i = 0; i < n; i++) {
		const struct rec *rc = &v[i].n->rec[v[i].k];
		uint8_t hdr[1 + MESH_NODE_ID_LEN + 8];
		struct wr w;

		wr_init(&w, hdr, sizeof hdr);
		(void)wr_u8(&w, (uint8_t)(v[i].k + 1));
		(void)wr_bytes(&w, v[i].n->id, MESH_NODE_ID_LEN);
		(void)wr_u64(&w, rc->version);
		crypto_generichash_update(&st, hdr, sizeof hdr);
		crypto_generichash_update(&st, rc->hash, sizeof rc->hash);
	}
	crypto_generichash_final(&st, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
	free(v);
	recs->hash_ok = true;
	memcpy(out, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
	return 0;
}
