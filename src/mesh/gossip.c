/* Gossip engine: push-pull anti-entropy plus rumours (see gossip.h for the
 * exchange and docs/wire-formats.md "Gossip messages" for the bytes).
 *
 * The engine keeps no per-peer state: each message is answered from our
 * record set alone, so a lost datagram ends that exchange and the next round
 * starts another. What it caches is derived from the set: the bucket hashes,
 * each recomputed when the set says its bucket changed
 * (mesh_records_bucket_gen), and a scratch copy of one bucket's digest
 * entries at a time.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/gossip_internal.h"
#include "util/err.h"

_Static_assert((int)PULL_HDR_LEN + GOSSIP_PULL_MAX * (int)PULL_KEY_LEN <= (int)GOSSIP_DGRAM_MAX,
    "pull size");
_Static_assert((int)BUCKETS_LEN <= (int)GOSSIP_DGRAM_MAX, "buckets size");
_Static_assert((int)RECORDS_HDR_LEN + (int)RECORD_HDR_LEN + (int)MESH_CERT_MAX_LEN <=
    (int)GOSSIP_DGRAM_MAX,
    "a record fits a datagram");
_Static_assert(GOSSIP_BUCKETS == 2 * GOSSIP_BUCKETS_PER_MSG, "two halves");
_Static_assert((int)GOSSIP_BUCKETS == (int)MESH_RECORDS_BUCKETS, "our buckets are the set's");

_Static_assert((int)MESH_ROUTES_MAX_LEN <= (int)MESH_CERT_MAX_LEN, "routes fit the record cap");

/* ---- helpers ---- */

static int key_cmp(uint8_t ka, const uint8_t *ida, uint8_t kb, const uint8_t *idb)
{
	int c = gossip_id_cmp(ida, idb);

	if (c != 0)
		return c;
	return (int)ka - (int)kb;
}

static bool kind_known(uint8_t k)
{
	return k >= MESH_REC_CERT && k <= MESH_REC_ROUTES;
}

/* Index of the first reachable id >= id. */
static size_t reach_find(const struct mesh_gossip *g, const uint8_t *id)
{
	size_t lo = 0, hi = g->nreach;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (gossip_id_cmp(g->reach[mid], id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Up to GOSSIP_FANOUT distinct random reachable members other than
 * exclude (may be NULL). Returns how many were written to out. */
size_t gossip_pick_peers(struct mesh_gossip *g, const uint8_t *exclude,
    size_t out[GOSSIP_FANOUT])
{
	size_t skip = SIZE_MAX, avail = g->nreach, k = 0;

	if (exclude != NULL) {
		size_t i = reach_find(g, exclude);

		if (i < g->nreach && gossip_id_cmp(g->reach[i], exclude) == 0) {
			skip = i;
			avail--;
		}
	}
	if (avail <= GOSSIP_FANOUT) {
		for (size_t i = 0; i < g->nreach; i++)
			if (i != skip)
				out[k++] = i;
		return k;
	}
	/* rejection sampling: avail > FANOUT, so it ends quickly */
	while (k < GOSSIP_FANOUT) {
		size_t i = (size_t)(gossip_rnd(g) % g->nreach);
		bool dup = i == skip;

		for (size_t j = 0; j < k && !dup; j++)
			dup = out[j] == i;
		if (!dup)
			out[k++] = i;
	}
	return k;
}

/* Bytes we may send in answers this round (gossip.h: the budget). */
static uint64_t round_budget(const struct mesh_gossip *g)
{
	uint64_t scaled = (uint64_t)mesh_records_count(g->recs, 0) * GOSSIP_BUDGET_PER_RECORD;

	return scaled > GOSSIP_ROUND_BUDGET ? scaled : GOSSIP_ROUND_BUDGET;
}

/* ---- our buckets ---- */

/* g->scr[0..nscr) := our digest entries of bucket b (kept while the bucket
 * does not change). 0 or MESHD_E_NOMEM. */
int gossip_load_bucket(struct mesh_gossip *g, unsigned b)
{
	uint64_t gen = mesh_records_bucket_gen(g->recs, b);
	size_t n;

	if (g->scr_ok && g->scr_b == b && g->scr_gen == gen)
		return 0;
	g->scr_ok = false;
	n = mesh_records_bucket_digest(g->recs, b, g->scr, g->capscr);
	if (n > g->capscr) {
		size_t cap = n + n / 2 + 8;
		struct mesh_digest_entry *p = realloc(g->scr, cap * sizeof *p);

		if (p == NULL)
			return MESHD_E_NOMEM;
		g->scr = p;
		g->capscr = cap;
		n = mesh_records_bucket_digest(g->recs, b, g->scr, g->capscr);
	}
	g->nscr = n;
	g->scr_ok = true;
	g->scr_b = b;
	g->scr_gen = gen;
	return 0;
}

/* The hash of n digest entries under domain, truncated; zeros when n == 0. */
static void hash_entries(const char *domain, const struct mesh_digest_entry *e, size_t n,
    uint8_t out[GOSSIP_BUCKET_HASH_LEN])
{
	crypto_generichash_state st;
	uint8_t h[crypto_generichash_BYTES_MIN];

	memset(out, 0, GOSSIP_BUCKET_HASH_LEN);
	if (n == 0)
		return;
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
	for (size_t i = 0; i < n; i++) {
		uint8_t ent[MESH_DIGEST_ENTRY_LEN];
		struct wr w;

		wr_init(&w, ent, sizeof ent);
		(void)(wr_u8(&w, e[i].kind) || wr_bytes(&w, e[i].node_id, MESH_NODE_ID_LEN) ||
		    wr_u64(&w, e[i].version) || wr_bytes(&w, e[i].hash, MESH_DIGEST_HASH_LEN));
		crypto_generichash_update(&st, ent, sizeof ent);
	}
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(out, h, GOSSIP_BUCKET_HASH_LEN);
}

/* Brings the bucket hashes of the buckets that changed up to date. */
static int cache_refresh(struct mesh_gossip *g)
{
	int r;

	for (unsigned b = 0; b < GOSSIP_BUCKETS; b++) {
		uint64_t gen = mesh_records_bucket_gen(g->recs, b);

		if (gen == g->bgen[b])
			continue;
		if ((r = gossip_load_bucket(g, b)) != 0)
			return r;
		hash_entries(GOSSIP_BUCKET_DOMAIN, g->scr, g->nscr, g->bhash[b]);
		g->bgen[b] = gen;
	}
	return 0;
}

int gossip_sub_refresh(struct mesh_gossip *g, unsigned b)
{
	uint64_t gen = mesh_records_bucket_gen(g->recs, b);
	size_t i = 0;
	int r;

	if (g->sub[b] == NULL && (g->sub[b] = calloc(1, sizeof *g->sub[b])) == NULL)
		return MESHD_E_NOMEM;
	if ((r = gossip_load_bucket(g, b)) != 0)
		return r;
	if (g->sub[b]->made && g->sub[b]->gen == gen)
		return 0;
	/* entries are in node id order, so each sub-bucket is one run (no
	 * entries: scr may be NULL, and every hash is zeros) */
	for (unsigned sb = 0; sb < GOSSIP_SUBBUCKETS; sb++) {
		size_t j = i;

		while (j < g->nscr && gossip_sub_of(&g->scr[j]) == sb)
			j++;
		hash_entries(GOSSIP_SUB_DOMAIN, j > i ? &g->scr[i] : NULL, j - i,
		    g->sub[b]->h[sb]);
		i = j;
	}
	g->sub[b]->gen = gen;
	g->sub[b]->made = true;
	return 0;
}

/* ---- input handlers ---- */

static int on_summary(struct mesh_gossip *g, const uint8_t *from, struct rd *rd)
{
	uint8_t theirs[MESH_RECORDS_SET_HASH_LEN], ours[MESH_RECORDS_SET_HASH_LEN];
	uint32_t count;
	int r;

	if (rd_bytes(rd, theirs, sizeof theirs) != 0 || rd_u32(rd, &count) != 0 ||
	    rd_end(rd) != 0)
		return MESHD_E_PROTO;
	/* Another record count is another set: no need for our set hash,
	 * which costs a pass over every record after each change. */
	if (count == gossip_summary_count(g)) {
		if ((r = mesh_records_set_hash(g->recs, ours)) != 0)
			return r;
		if (memcmp(theirs, ours, sizeof theirs) == 0)
			return 0;
	}
	if ((r = cache_refresh(g)) != 0)
		return r;
	gossip_send_buckets(g, from);
	return 0;
}

static int on_buckets(struct mesh_gossip *g, const uint8_t *from, struct rd *rd)
{
	uint8_t half, theirs[GOSSIP_BUCKETS_PER_MSG][GOSSIP_BUCKET_HASH_LEN];
	int r;

	if (rd_u8(rd, &half) != 0 || half > 1 || rd_bytes(rd, &theirs[0][0], sizeof theirs) != 0 ||
	    rd_end(rd) != 0)
		return MESHD_E_PROTO;
	if ((r = cache_refresh(g)) != 0)
		return r;
	return gossip_send_digests(g, from, half, (const uint8_t (*)[GOSSIP_BUCKET_HASH_LEN])theirs);
}

static int on_subhash(struct mesh_gossip *g, const uint8_t *from, struct rd *rd)
{
	uint8_t n, buckets[SUBHASH_PER_MSG];
	gossip_sub_hashes theirs[SUBHASH_PER_MSG];

	if (g->cfg.no_subhash || rd_u8(rd, &n) != 0 || n == 0 || n > SUBHASH_PER_MSG)
		return MESHD_E_PROTO;
	for (size_t i = 0; i < n; i++)
		if (rd_u8(rd, &buckets[i]) != 0 || (i > 0 && buckets[i] <= buckets[i - 1]) ||
		    rd_bytes(rd, &theirs[i][0][0], sizeof theirs[i]) != 0)
			return MESHD_E_PROTO;
	if (rd_end(rd) != 0)
		return MESHD_E_PROTO;
	return gossip_send_sub_digests(g, from, buckets, (const gossip_sub_hashes *)theirs, n);
}

struct group {
	uint8_t lo[MESH_NODE_ID_LEN], hi[MESH_NODE_ID_LEN];
	size_t first, n;	/* into the entry array */
};

enum { DIGEST_ENTRIES_MAX = (GOSSIP_DGRAM_MAX - DIGEST_HDR_LEN) / MESH_DIGEST_ENTRY_LEN };

struct diff_out {
	struct key push[GOSSIP_PUSH_ANSWER_MAX];
	struct key pull[GOSSIP_PULL_MAX];
	size_t npush, npull;
	size_t push_cap;	/* push_cap_of() */
};

static void add_key(struct key *v, size_t *n, size_t cap, uint8_t kind, const uint8_t *id)
{
	if (*n == cap)
		return;
	v[*n].kind = kind;
	memcpy(v[*n].node_id, id, MESH_NODE_ID_LEN);
	(*n)++;
}

/* One node id: ours[k] / theirs[k] (NULL when absent) for kind k + 1. */
static void diff_node(struct diff_out *d, const uint8_t *id,
    const struct mesh_digest_entry *ours[NKINDS], const struct mesh_digest_entry *theirs[NKINDS])
{
	bool tomb = ours[MESH_REC_REVOKE - 1] != NULL || theirs[MESH_REC_REVOKE - 1] != NULL;

	for (size_t k = 0; k < NKINDS; k++) {
		const struct mesh_digest_entry *o = ours[k], *t = theirs[k];
		uint8_t kind = (uint8_t)(k + 1);
		bool push = false, pull = false;

		/* a tombstone on either side masks the node's other kinds */
		if (kind != MESH_REC_REVOKE && tomb)
			continue;
		if (o != NULL && t == NULL)
			push = true;
		else if (o == NULL && t != NULL)
			pull = true;
		else if (o != NULL && t != NULL) {
			if (o->version > t->version)
				push = true;
			else if (o->version < t->version)
				pull = true;
			else if (memcmp(o->hash, t->hash, MESH_DIGEST_HASH_LEN) != 0)
				push = pull = true;
		}
		if (push)
			add_key(d->push, &d->npush, d->push_cap, kind, id);
		if (pull)
			add_key(d->pull, &d->npull, GOSSIP_PULL_MAX, kind, id);
	}
}

/* Compares our entries with node id in [lo, hi] with theirs (sorted, all
 * within [lo, hi]), one of our buckets at a time. Stops early once both key
 * lists are full. 0 or MESHD_E_NOMEM. */
static int diff_group(struct mesh_gossip *g, struct diff_out *d, const struct group *gr,
    const struct mesh_digest_entry *te)
{
	size_t ti = 0;
	int r;

	for (unsigned b = gr->lo[0]; b <= gr->hi[0]; b++) {
		size_t oi = 0, tend = ti;

		if (d->npush == d->push_cap && d->npull == GOSSIP_PULL_MAX)
			break;
		if ((r = gossip_load_bucket(g, b)) != 0)
			return r;
		while (oi < g->nscr && gossip_id_cmp(g->scr[oi].node_id, gr->lo) < 0)
			oi++;
		while (tend < gr->n && te[tend].node_id[0] == b)
			tend++;
		for (;;) {
			const struct mesh_digest_entry *ours[NKINDS] = { NULL },
			    *theirs[NKINDS] = { NULL };
			const uint8_t *id;
			bool o_ok = oi < g->nscr && gossip_id_cmp(g->scr[oi].node_id, gr->hi) <= 0;
			bool t_ok = ti < tend;

			if (!o_ok && !t_ok)
				break;
			if (o_ok && (!t_ok || gossip_id_cmp(g->scr[oi].node_id, te[ti].node_id) <= 0))
				id = g->scr[oi].node_id;
			else
				id = te[ti].node_id;
			while (oi < g->nscr && gossip_id_cmp(g->scr[oi].node_id, id) == 0) {
				ours[g->scr[oi].kind - 1] = &g->scr[oi];
				oi++;
			}
			while (ti < tend && gossip_id_cmp(te[ti].node_id, id) == 0) {
				theirs[te[ti].kind - 1] = &te[ti];
				ti++;
			}
			diff_node(d, id, ours, theirs);
		}
	}
	return 0;
}

/* How many whole sub-buckets a DIGEST group covers when it covers part of
 * one bucket along sub-bucket lines (the answer to a SUBHASH we sent:
 * gossip_send_sub_digests), else 0. */
static size_t group_subs(const struct group *gr)
{
	if (gr->lo[0] != gr->hi[0] || (gr->lo[1] & 0x0f) != 0 || (gr->hi[1] & 0x0f) != 0x0f ||
	    (gr->lo[1] == 0 && gr->hi[1] == 0xff))
		return 0;
	for (size_t i = 2; i < MESH_NODE_ID_LEN; i++)
		if (gr->lo[i] != 0 || gr->hi[i] != 0xff)
			return 0;
	return (size_t)(gr->hi[1] >> 4) - (size_t)(gr->lo[1] >> 4) + 1;
}

/* How many records we push for one DIGEST: GOSSIP_PUSH_MAX, or that many
 * per sub-bucket it lists when it answers our SUBHASH (up to
 * GOSSIP_PUSH_ANSWER_MAX). There the peer lists its entries of the
 * sub-buckets that differ, and what it lacks, we push: had we listed the
 * buckets whole instead, it would have pulled as much from our digest
 * datagrams. One cap of 64 for the whole answer held a peer far behind to
 * 64 records an exchange and slowed the end of a bootstrap (bench/README,
 * "Sub-bucket hashes"). */
static size_t push_cap_of(const struct group *gr, size_t ngroups)
{
	size_t nsub = 0;

	for (size_t i = 0; i < ngroups; i++)
		nsub += group_subs(&gr[i]);
	if (nsub <= 1)
		return GOSSIP_PUSH_MAX;
	return nsub * GOSSIP_PUSH_MAX < GOSSIP_PUSH_ANSWER_MAX ? nsub * GOSSIP_PUSH_MAX :
								   GOSSIP_PUSH_ANSWER_MAX;
}

static int on_digest(struct mesh_gossip *g, const uint8_t *from, struct rd *rd)
{
	struct mesh_digest_entry te[DIGEST_ENTRIES_MAX];
	struct group gr[DIGEST_GROUPS_MAX];
	struct diff_out *d;
	uint8_t ngroups;
	size_t nte = 0;
	int r = 0;

	if (rd_u8(rd, &ngroups) != 0 || ngroups == 0 || ngroups > DIGEST_GROUPS_MAX)
		return MESHD_E_PROTO;
	for (size_t i = 0; i < ngroups; i++) {
		uint8_t n;

		if (rd_bytes(rd, gr[i].lo, MESH_NODE_ID_LEN) != 0 ||
		    rd_bytes(rd, gr[i].hi, MESH_NODE_ID_LEN) != 0 || rd_u8(rd, &n) != 0 ||
		    gossip_id_cmp(gr[i].lo, gr[i].hi) > 0 ||
		    (i > 0 && gossip_id_cmp(gr[i - 1].hi, gr[i].lo) >= 0) ||
		    n > DIGEST_ENTRIES_MAX - nte)
			return MESHD_E_PROTO;
		gr[i].first = nte;
		gr[i].n = n;
		for (size_t k = 0; k < n; k++) {
			struct mesh_digest_entry *e = &te[nte];

			if (rd_u8(rd, &e->kind) != 0 || !kind_known(e->kind) ||
			    rd_bytes(rd, e->node_id, MESH_NODE_ID_LEN) != 0 ||
			    rd_u64(rd, &e->version) != 0 ||
			    rd_bytes(rd, e->hash, MESH_DIGEST_HASH_LEN) != 0 ||
			    gossip_id_cmp(e->node_id, gr[i].lo) < 0 || gossip_id_cmp(e->node_id, gr[i].hi) > 0 ||
			    (k > 0 && key_cmp(te[nte - 1].kind, te[nte - 1].node_id, e->kind,
			    e->node_id) >= 0))
				return MESHD_E_PROTO;
			nte++;
		}
	}
	if (rd_end(rd) != 0)
		return MESHD_E_PROTO;
	if ((d = malloc(sizeof *d)) == NULL)
		return MESHD_E_NOMEM;
	d->npush = d->npull = 0;
	d->push_cap = push_cap_of(gr, ngroups);
	for (size_t i = 0; i < ngroups && r == 0; i++)
		r = diff_group(g, d, &gr[i], te + gr[i].first);
	gossip_send_records(g, from, d->push, d->npush);
	gossip_send_pull(g, from, d->pull, d->npull);
	free(d);
	return r;
}

static int on_pull(struct mesh_gossip *g, const uint8_t *from, struct rd *rd)
{
	struct key keys[GOSSIP_PULL_MAX];
	uint8_t n;

	if (rd_u8(rd, &n) != 0 || n == 0 || n > GOSSIP_PULL_MAX)
		return MESHD_E_PROTO;
	for (size_t i = 0; i < n; i++)
		if (rd_u8(rd, &keys[i].kind) != 0 || !kind_known(keys[i].kind) ||
		    rd_bytes(rd, keys[i].node_id, MESH_NODE_ID_LEN) != 0 ||
		    (i > 0 && key_cmp(keys[i - 1].kind, keys[i - 1].node_id, keys[i].kind,
		    keys[i].node_id) >= 0))
			return MESHD_E_PROTO;
	if (rd_end(rd) != 0)
		return MESHD_E_PROTO;
	gossip_send_records(g, from, keys, n);
	return 0;
}

/* True when we hold exactly these bytes already: a duplicate, skipped
 * before mesh_records_merge() spends a signature check on it. Every record
 * kind has the node id at the same offset (after version and mesh id). */
static bool held_identical(const struct mesh_gossip *g, uint8_t kind, const uint8_t *p,
    size_t len)
{
	const uint8_t *held;
	size_t hlen;

	if (len < 1 + MESH_ID_LEN + MESH_NODE_ID_LEN ||
	    mesh_records_get(g->recs, (enum mesh_rec_kind)kind, p + 1 + MESH_ID_LEN, &held,
	    &hlen) != 0)
		return false;
	return hlen == len && memcmp(held, p, len) == 0;
}

enum { MERGE_SKIPPED = 1000 };	/* not a MESH_MERGE_* nor a MESHD_E_* */

/* Merges one record from member from (budget slot v); the outcome, or
 * MERGE_SKIPPED. NEW and INVALID cost a check (DUP and STALE are found
 * before it, an ORPHAN waits for its cert). A record about another member
 * from a sender whose records have all verified (no strike) is checked
 * without the budget: the sender cannot sign such a record, so a valid one
 * is a genuine record newer than ours, NEW here once, and the number of
 * those is the mesh's own (a bootstrap needs every member's). The first
 * invalid one gives the sender a strike, and from then on every record it
 * sends is budgeted as its own are (gossip.h). */
static int merge_budgeted(struct mesh_gossip *g, const uint8_t *from, unsigned v, uint8_t kind,
    const uint8_t *p, size_t len, mtime_ns now, uint64_t now_unix)
{
	bool foreign = len >= 1 + MESH_ID_LEN + MESH_NODE_ID_LEN &&
	    gossip_id_cmp(p + 1 + MESH_ID_LEN, from) != 0;
	bool unbudgeted = foreign && g->checks.s[v].strikes == 0;
	/* refilled (and primed) either way, so that a strike empties it */
	bool allowed = mesh_check_budget_allow(&g->checks, v, now, GOSSIP_VERIFY_PER_S,
	    GOSSIP_VERIFY_BURST);
	int r;

	if (!unbudgeted && !allowed) {
		g->st.records_skipped++;
		return MERGE_SKIPPED;
	}
	r = mesh_records_merge(g->recs, (enum mesh_rec_kind)kind, p, len, now_unix);
	if (r == MESH_MERGE_NEW || r == MESH_MERGE_INVALID) {
		g->st.records_checked++;
		g->st.records_invalid += r == MESH_MERGE_INVALID;
		g->st.records_unbudgeted += unbudgeted;
		if (!unbudgeted || r == MESH_MERGE_INVALID)
			mesh_check_budget_charge(&g->checks, v, r == MESH_MERGE_NEW);
	}
	g->st.records_orphan += r == MESH_MERGE_ORPHAN;
	return r;
}

static int on_records(struct mesh_gossip *g, const uint8_t *from, struct rd *rd,
    mtime_ns now, uint64_t now_unix)
{
	uint8_t flags, ttl, n, kinds[RECORDS_MAX], fkinds[RECORDS_MAX];
	const uint8_t *ps[RECORDS_MAX], *fps[RECORDS_MAX];
	size_t lens[RECORDS_MAX], flens[RECORDS_MAX], nf = 0;
	unsigned v;
	int err = 0;

	if (rd_u8(rd, &flags) != 0 || (flags & ~GOSSIP_RECORDS_F_KNOWN) != 0 ||
	    rd_u8(rd, &ttl) != 0 || ttl > GOSSIP_RUMOUR_TTL ||
	    (ttl != 0 && !(flags & GOSSIP_RECORDS_F_RUMOUR)) ||
	    rd_u8(rd, &n) != 0 || n == 0)
		return MESHD_E_PROTO;
	for (size_t i = 0; i < n; i++) {
		uint16_t len;

		if (rd_u8(rd, &kinds[i]) != 0 || !kind_known(kinds[i]) || rd_u16(rd, &len) != 0 ||
		    len == 0 || len > MESH_CERT_MAX_LEN || rd_left(rd) < len)
			return MESHD_E_PROTO;
		ps[i] = rd->p + rd->off;
		lens[i] = len;
		rd->off += len;
	}
	if (rd_end(rd) != 0)
		return MESHD_E_PROTO;
	v = mesh_check_budget_slot(&g->checks, from, now);
	g->st.records_recv += n;
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t i = 0; i < n; i++) {
			int r;

			if (kinds[i] != gossip_kind_order[k])
				continue;
			if (held_identical(g, kinds[i], ps[i], lens[i])) {
				g->st.records_held++;
				continue;
			}
			r = merge_budgeted(g, from, v, kinds[i], ps[i], lens[i], now, now_unix);
			if (r == MESHD_E_NOMEM)
				err = r;
			if (r != MESH_MERGE_NEW)
				continue;
			g->st.records_new++;
			fkinds[nf] = kinds[i];
			fps[nf] = ps[i];
			flens[nf] = lens[i];
			nf++;
		}
	if ((flags & GOSSIP_RECORDS_F_RUMOUR) && ttl > 0)
		gossip_send_rumour(g, from, (uint8_t)(ttl - 1), fkinds, fps, flens, nf);
	return err;
}

typedef int request_fn(struct mesh_gossip *g, const uint8_t *from, struct rd *rd);

/* The requests (every type but RECORDS), by message type. */
static request_fn *const requests[] = {
	[GOSSIP_MSG_SUMMARY] = on_summary,
	[GOSSIP_MSG_BUCKETS] = on_buckets,
	[GOSSIP_MSG_DIGEST] = on_digest,
	[GOSSIP_MSG_PULL] = on_pull,
	[GOSSIP_MSG_SUBHASH] = on_subhash,
};

/* ---- public API ---- */

struct mesh_gossip *mesh_gossip_new(const struct mesh_gossip_cfg *cfg, struct mesh_records *recs,
    int *err)
{
	struct mesh_gossip *g;

	if (cfg == NULL || cfg->send == NULL || recs == NULL) {
		*err = MESHD_E_INVAL;
		return NULL;
	}
	if ((g = calloc(1, sizeof *g)) == NULL) {
		*err = MESHD_E_NOMEM;
		return NULL;
	}
	g->cfg = *cfg;
	g->recs = recs;
	g->rng = cfg->rng_seed;
	*err = 0;
	return g;
}

void mesh_gossip_free(struct mesh_gossip *g)
{
	if (g == NULL)
		return;
	free(g->scr);
	for (unsigned b = 0; b < GOSSIP_BUCKETS; b++)
		free(g->sub[b]);
	free(g->reach);
	free(g);
}

int mesh_gossip_set_reachable(struct mesh_gossip *g, const uint8_t node_id[MESH_NODE_ID_LEN],
    bool reachable)
{
	size_t i;
	bool have;

	if (gossip_id_cmp(node_id, g->cfg.node_id) == 0)
		return 0;
	i = reach_find(g, node_id);
	have = i < g->nreach && gossip_id_cmp(g->reach[i], node_id) == 0;
	if (reachable == have)
		return 0;
	if (!reachable) {
		memmove(g->reach[i], g->reach[i + 1], (g->nreach - i - 1) * sizeof g->reach[0]);
		g->nreach--;
		return 0;
	}
	if (g->nreach == g->capreach) {
		/* a quarter more: in a mesh of n members this array is 16 n
		 * bytes in every member, so the slack matters */
		size_t cap = g->capreach + g->capreach / 4 + 16;
		void *p = realloc(g->reach, cap * sizeof g->reach[0]);

		if (p == NULL)
			return MESHD_E_NOMEM;
		g->reach = p;
		g->capreach = cap;
	}
	memmove(g->reach[i + 1], g->reach[i], (g->nreach - i) * sizeof g->reach[0]);
	memcpy(g->reach[i], node_id, MESH_NODE_ID_LEN);
	g->nreach++;
	return 0;
}

size_t mesh_gossip_reachable_count(const struct mesh_gossip *g)
{
	return g->nreach;
}

int mesh_gossip_input(struct mesh_gossip *g, const uint8_t from_id[MESH_NODE_ID_LEN],
    const uint8_t *bytes, size_t len, mtime_ns now, uint64_t now_unix)
{
	uint8_t from[MESH_NODE_ID_LEN], ver, type;
	struct rd rd;
	int r;

	g->st.msgs_recv++;
	g->st.bytes_recv += len;
	if (len > GOSSIP_DGRAM_MAX) {
		g->st.msgs_dropped++;
		return 0;
	}
	memcpy(from, from_id, sizeof from);	/* may point into state we change */
	rd_init(&rd, bytes, len);
	if (rd_u8(&rd, &ver) != 0 || ver != GOSSIP_VERSION || rd_u8(&rd, &type) != 0) {
		g->st.msgs_dropped++;
		return 0;
	}
	/* over this round's budget: answer nothing (rumours still pass); the
	 * peer's next round asks again */
	if (type != GOSSIP_MSG_RECORDS && g->round_bytes >= round_budget(g)) {
		g->st.msgs_deferred++;
		return 0;
	}
	if (type == GOSSIP_MSG_RECORDS)
		r = on_records(g, from, &rd, now, now_unix);
	else if (type < sizeof requests / sizeof requests[0] && requests[type] != NULL)
		r = requests[type](g, from, &rd);
	else
		r = MESHD_E_PROTO;
	if (r == MESHD_E_PROTO) {
		g->st.msgs_dropped++;
		return 0;
	}
	return r;
}

mtime_ns mesh_gossip_next_expiry(const struct mesh_gossip *g)
{
	return g->started ? g->next_round : 0;
}

int mesh_gossip_handle_expiry(struct mesh_gossip *g, mtime_ns now, uint64_t now_unix)
{
	size_t peers[GOSSIP_FANOUT], np;
	uint8_t to[GOSSIP_FANOUT][MESH_NODE_ID_LEN];
	int r;

	if (!g->started) {
		g->started = true;
		g->next_round = now + gossip_rnd(g) % MSEC(GOSSIP_INTERVAL_MS);
		return 0;
	}
	if (now < g->next_round)
		return 0;
	g->next_round += MSEC(GOSSIP_INTERVAL_MS);
	if (g->next_round <= now)
		g->next_round = now + MSEC(GOSSIP_INTERVAL_MS);
	if (mesh_records_next_expiry(g->recs) <= now_unix &&
	    (r = mesh_records_handle_expiry(g->recs, now_unix)) != 0)
		return r;
	g->st.rounds++;
	g->round_bytes = 0;
	np = gossip_pick_peers(g, NULL, peers);
	/* copy first: send may change the reachable set */
	for (size_t i = 0; i < np; i++)
		memcpy(to[i], g->reach[peers[i]], MESH_NODE_ID_LEN);
	for (size_t i = 0; i < np; i++)
		gossip_send_summary(g, to[i]);
	return 0;
}

int mesh_gossip_publish(struct mesh_gossip *g, enum mesh_rec_kind kind, const uint8_t *bytes,
    size_t len, mtime_ns now, uint64_t now_unix)
{
	uint8_t k = (uint8_t)kind;
	int r;

	(void)now;
	if (!kind_known(k) || len == 0 || len > MESH_CERT_MAX_LEN)
		return MESHD_E_INVAL;
	r = mesh_records_merge(g->recs, kind, bytes, len, now_unix);
	if (r == MESH_MERGE_NEW) {
		g->st.records_new++;
		gossip_send_rumour(g, NULL, GOSSIP_RUMOUR_TTL, &k, &bytes, &len, 1);
	}
	return r;
}

void mesh_gossip_get_stats(const struct mesh_gossip *g, struct mesh_gossip_stats *out)
{
	*out = g->st;
}
