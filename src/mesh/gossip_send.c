/* The gossip engine's messages (gossip_internal.h): datagram builders for
 * RECORDS and DIGEST, and the senders of RECORDS, rumours, SUMMARY, BUCKETS,
 * DIGEST, SUBHASH and PULL. Bytes as in docs/wire-formats.md "Gossip messages". */
#include <stdlib.h>
#include <string.h>

#include "mesh/gossip_internal.h"
#include "util/err.h"

/* DIGEST datagrams we send per BUCKETS half (gossip.h). */
static unsigned digest_dgrams_max(const struct mesh_gossip *g)
{
	size_t scaled = mesh_records_count(g->recs, 0) / GOSSIP_DIGEST_RECORDS_PER_DGRAM;

	return scaled > GOSSIP_DIGEST_DGRAMS_MAX ? (unsigned)scaled : GOSSIP_DIGEST_DGRAMS_MAX;
}

static void hdr(struct wr *w, uint8_t type)
{
	(void)(wr_u8(w, GOSSIP_VERSION) || wr_u8(w, type));
}

/* A datagram of counted items (RECORDS or DIGEST) under construction: the
 * header is the version, the type, `npre` fixed bytes and the item count;
 * each datagram is sent when the next item does not fit. */
struct msg_out {
	struct mesh_gossip *g;
	const uint8_t *to;
	uint8_t type, npre, pre[2];
	uint8_t buf[GOSSIP_DGRAM_MAX];
	struct wr w;
	uint8_t n;		/* items in buf */
	unsigned sent;		/* datagrams sent */
};

static void out_start(struct msg_out *o)
{
	wr_init(&o->w, o->buf, sizeof o->buf);
	hdr(&o->w, o->type);
	(void)(wr_bytes(&o->w, o->pre, o->npre) || wr_u8(&o->w, 0));
	o->n = 0;
}

static void out_init(struct msg_out *o, struct mesh_gossip *g, const uint8_t *to, uint8_t type,
    uint8_t npre, const uint8_t *pre)
{
	o->g = g;
	o->to = to;
	o->type = type;
	o->npre = npre;
	if (npre > 0)
		memcpy(o->pre, pre, npre);
	o->sent = 0;
	out_start(o);
}

/* Sends the datagram if it holds an item, and starts the next. */
static void out_flush(struct msg_out *o)
{
	if (o->n == 0)
		return;
	o->buf[HDR_LEN + o->npre] = o->n;
	gossip_send_msg(o->g, o->to, o->buf, o->w.off);
	o->sent++;
	out_start(o);
}

/* Makes room for an item of need bytes (flushing when the datagram is full
 * or its count is). */
static void out_room(struct msg_out *o, size_t need)
{
	if (o->w.cap - o->w.off < need || o->n == UINT8_MAX)
		out_flush(o);
}

/* RECORDS datagrams: flags and ttl, then the count. */
static void rec_out_init(struct msg_out *o, struct mesh_gossip *g, const uint8_t *to,
    uint8_t flags, uint8_t ttl)
{
	const uint8_t pre[2] = { flags, ttl };

	out_init(o, g, to, GOSSIP_MSG_RECORDS, sizeof pre, pre);
}

static void rec_out_add(struct msg_out *o, uint8_t kind, const uint8_t *p, size_t len)
{
	if (len == 0 || len > MESH_CERT_MAX_LEN)
		return;
	out_room(o, RECORD_HDR_LEN + len);
	(void)(wr_u8(&o->w, kind) || wr_u16(&o->w, (uint16_t)len) || wr_bytes(&o->w, p, len));
	o->n++;
}

/* Sends the records we hold for keys, REVOKE first, then CERT, then
 * ENDPOINTS; keys we do not hold (any more) are skipped. */
void gossip_send_records(struct mesh_gossip *g, const uint8_t *to, const struct key *keys,
    size_t n)
{
	struct msg_out o;

	rec_out_init(&o, g, to, 0, 0);
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p;
			size_t len;

			if (keys[i].kind != gossip_kind_order[k] ||
			    mesh_records_get(g->recs, (enum mesh_rec_kind)keys[i].kind,
			    keys[i].node_id, &p, &len) != 0)
				continue;
			rec_out_add(&o, keys[i].kind, p, len);
		}
	out_flush(&o);
}

/* Rumour: the given records to FANOUT random peers other than exclude. */
void gossip_send_rumour(struct mesh_gossip *g, const uint8_t *exclude, uint8_t ttl,
    const uint8_t *kinds, const uint8_t *const *ps, const size_t *lens, size_t n)
{
	size_t peers[GOSSIP_FANOUT], np;
	uint8_t to[GOSSIP_FANOUT][MESH_NODE_ID_LEN];

	if (n == 0)
		return;
	np = gossip_pick_peers(g, exclude, peers);
	/* copy first: send may change the reachable set */
	for (size_t j = 0; j < np; j++)
		memcpy(to[j], g->reach[peers[j]], MESH_NODE_ID_LEN);
	for (size_t j = 0; j < np; j++) {
		struct msg_out o;

		rec_out_init(&o, g, to[j], GOSSIP_RECORDS_F_RUMOUR, ttl);
		for (size_t i = 0; i < n; i++)
			rec_out_add(&o, kinds[i], ps[i], lens[i]);
		out_flush(&o);
	}
}

/* The record count a SUMMARY carries (saturated). */
uint32_t gossip_summary_count(const struct mesh_gossip *g)
{
	size_t count = mesh_records_count(g->recs, 0);

	return count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
}

void gossip_send_summary(struct mesh_gossip *g, const uint8_t *to)
{
	uint8_t buf[SUMMARY_LEN], h[MESH_RECORDS_SET_HASH_LEN];
	struct wr w;

	if (mesh_records_set_hash(g->recs, h) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	hdr(&w, GOSSIP_MSG_SUMMARY);
	(void)(wr_bytes(&w, h, sizeof h) || wr_u32(&w, gossip_summary_count(g)));
	gossip_send_msg(g, to, buf, w.off);
}

void gossip_send_buckets(struct mesh_gossip *g, const uint8_t *to)
{
	for (unsigned half = 0; half < 2; half++) {
		uint8_t buf[BUCKETS_LEN];
		struct wr w;

		wr_init(&w, buf, sizeof buf);
		hdr(&w, GOSSIP_MSG_BUCKETS);
		(void)wr_u8(&w, (uint8_t)half);
		for (size_t b = 0; b < GOSSIP_BUCKETS_PER_MSG; b++)
			(void)wr_bytes(&w, g->bhash[half * GOSSIP_BUCKETS_PER_MSG + b],
			    GOSSIP_BUCKET_HASH_LEN);
		gossip_send_msg(g, to, buf, w.off);
	}
}

/* DIGEST datagrams under construction, at most max of them. */
struct dig_out {
	struct msg_out m;
	unsigned max;
};

/* Adds the group [lo, hi] with our entries [i, j). False once the datagram
 * budget is spent. */
static bool dig_out_group(struct dig_out *o, const uint8_t *lo, const uint8_t *hi, size_t i,
    size_t j)
{
	struct msg_out *m = &o->m;

	out_room(m, GROUP_HDR_LEN + (j - i) * MESH_DIGEST_ENTRY_LEN);
	if (m->sent >= o->max)
		return false;
	(void)(wr_bytes(&m->w, lo, MESH_NODE_ID_LEN) || wr_bytes(&m->w, hi, MESH_NODE_ID_LEN) ||
	    wr_u8(&m->w, (uint8_t)(j - i)));
	for (size_t k = i; k < j; k++) {
		const struct mesh_digest_entry *e = &m->g->scr[k];

		(void)(wr_u8(&m->w, e->kind) || wr_bytes(&m->w, e->node_id, MESH_NODE_ID_LEN) ||
		    wr_u64(&m->w, e->version) || wr_bytes(&m->w, e->hash, MESH_DIGEST_HASH_LEN));
	}
	m->n++;
	return true;
}

static void id_dec(uint8_t id[MESH_NODE_ID_LEN])
{
	for (size_t i = MESH_NODE_ID_LEN; i-- > 0;)
		if (id[i]-- != 0)
			break;
}

/* The node ids of bucket b, or of its sub-bucket sb (sb < GOSSIP_SUBBUCKETS):
 * [lo, hi]. */
static void range_of(unsigned b, unsigned sb, uint8_t lo[MESH_NODE_ID_LEN],
    uint8_t hi[MESH_NODE_ID_LEN])
{
	memset(lo, 0, MESH_NODE_ID_LEN);
	memset(hi, 0xff, MESH_NODE_ID_LEN);
	lo[0] = hi[0] = (uint8_t)b;
	if (sb < GOSSIP_SUBBUCKETS) {
		lo[1] = (uint8_t)(sb << 4);
		hi[1] = (uint8_t)(sb << 4 | 0x0f);
	}
}

/* Our entries scr[i, end) (loaded with gossip_load_bucket), which are those
 * with node id in [lo0, hi0], as groups of at most GROUP_MAX entries, never
 * splitting one node id's entries; the groups cover [lo0, hi0] (one empty
 * group when there are no entries). */
static bool dig_out_range(struct dig_out *o, const uint8_t *lo0, const uint8_t *hi0, size_t i,
    size_t end)
{
	struct mesh_gossip *g = o->m.g;
	uint8_t lo[MESH_NODE_ID_LEN], hi[MESH_NODE_ID_LEN];

	memcpy(lo, lo0, sizeof lo);
	do {
		size_t j = i;

		while (j < end) {
			size_t k = j;

			while (k < end && gossip_id_cmp(g->scr[k].node_id, g->scr[j].node_id) == 0)
				k++;
			if (k - i > GROUP_MAX)
				break;
			j = k;
		}
		if (j == i && i < end)
			return false;	/* cannot happen: at most 4 entries per id */
		if (j >= end) {
			memcpy(hi, hi0, sizeof hi);
		} else {
			memcpy(hi, g->scr[j].node_id, sizeof hi);
			id_dec(hi);
		}
		if (!dig_out_group(o, lo, hi, i, j))
			return false;
		if (j < end)
			memcpy(lo, g->scr[j].node_id, sizeof lo);
		i = j;
	} while (i < end);
	return true;
}

void gossip_send_pull(struct mesh_gossip *g, const uint8_t *to, const struct key *keys, size_t n)
{
	uint8_t buf[PULL_HDR_LEN + GOSSIP_PULL_MAX * PULL_KEY_LEN];
	struct wr w;

	if (n == 0)
		return;
	wr_init(&w, buf, sizeof buf);
	hdr(&w, GOSSIP_MSG_PULL);
	(void)wr_u8(&w, (uint8_t)n);
	for (size_t i = 0; i < n; i++)
		(void)(wr_u8(&w, keys[i].kind) || wr_bytes(&w, keys[i].node_id, MESH_NODE_ID_LEN));
	gossip_send_msg(g, to, buf, w.off);
}

static bool hash_zero(const uint8_t h[GOSSIP_BUCKET_HASH_LEN])
{
	static const uint8_t zero[GOSSIP_BUCKET_HASH_LEN];

	return memcmp(h, zero, sizeof zero) == 0;
}

/* SUBHASH datagrams for the buckets b of half with narrow[b % 128] set. */
static int send_subhash(struct mesh_gossip *g, const uint8_t *to, unsigned half,
    const bool narrow[GOSSIP_BUCKETS_PER_MSG])
{
	uint8_t buf[SUBHASH_HDR_LEN + SUBHASH_PER_MSG * SUBHASH_ITEM_LEN];
	struct wr w;
	uint8_t n = 0;
	int r;

	wr_init(&w, buf, sizeof buf);
	for (unsigned i = 0; i <= GOSSIP_BUCKETS_PER_MSG; i++) {
		unsigned b = half * GOSSIP_BUCKETS_PER_MSG + i;

		if (n > 0 && (i == GOSSIP_BUCKETS_PER_MSG || n == SUBHASH_PER_MSG)) {
			buf[HDR_LEN] = n;
			gossip_send_msg(g, to, buf, w.off);
			n = 0;
		}
		if (i == GOSSIP_BUCKETS_PER_MSG || !narrow[i])
			continue;
		if ((r = gossip_sub_refresh(g, b)) != 0)
			return r;
		if (n == 0) {
			wr_init(&w, buf, sizeof buf);
			hdr(&w, GOSSIP_MSG_SUBHASH);
			(void)wr_u8(&w, 0);
		}
		(void)(wr_u8(&w, (uint8_t)b) ||
		    wr_bytes(&w, &g->sub[b]->h[0][0], sizeof g->sub[b]->h));
		n++;
	}
	return 0;
}

static bool sub_differs(const struct mesh_gossip *g, unsigned b, const gossip_sub_hashes theirs,
    unsigned sb)
{
	return memcmp(theirs[sb], g->sub[b]->h[sb], GOSSIP_BUCKET_HASH_LEN) != 0;
}

int gossip_send_sub_digests(struct mesh_gossip *g, const uint8_t *to, const uint8_t *buckets,
    const gossip_sub_hashes *theirs, size_t n)
{
	struct dig_out *o;
	int r = 0;

	if ((o = malloc(sizeof *o)) == NULL)
		return MESHD_E_NOMEM;
	out_init(&o->m, g, to, GOSSIP_MSG_DIGEST, 0, NULL);
	o->max = digest_dgrams_max(g);
	for (size_t k = 0; k < n && r == 0; k++) {
		unsigned b = buckets[k];
		size_t i = 0;

		if ((r = gossip_sub_refresh(g, b)) != 0)
			break;
		for (unsigned sb = 0, se; sb < GOSSIP_SUBBUCKETS; sb = se) {
			uint8_t lo[MESH_NODE_ID_LEN], hi[MESH_NODE_ID_LEN], x[MESH_NODE_ID_LEN];
			size_t j = i;

			/* a run of sub-buckets that all differ, or all agree */
			for (se = sb; se < GOSSIP_SUBBUCKETS && sub_differs(g, b, theirs[k], se) ==
			    sub_differs(g, b, theirs[k], sb); se++)
				while (j < g->nscr && gossip_sub_of(&g->scr[j]) == se)
					j++;
			if (sub_differs(g, b, theirs[k], sb)) {
				/* one group for the run: during a bootstrap most
				 * sub-buckets differ, and a group header is 33 bytes */
				range_of(b, sb, lo, x);
				range_of(b, se - 1, x, hi);
				if (!dig_out_range(o, lo, hi, i, j))
					break;
			}
			i = j;
		}
		if (o->m.sent >= o->max)
			break;
	}
	if (o->m.sent < o->max)
		out_flush(&o->m);
	free(o);
	return r;
}

/* DIGEST answers to a BUCKETS half; SUBHASH for the large buckets that
 * differ (gossip.h). */
int gossip_send_digests(struct mesh_gossip *g, const uint8_t *to, uint8_t half,
    const uint8_t theirs[GOSSIP_BUCKETS_PER_MSG][GOSSIP_BUCKET_HASH_LEN])
{
	bool narrow[GOSSIP_BUCKETS_PER_MSG], any = false;
	struct dig_out *o;
	unsigned start, ndiff = 0;
	int r = 0;

	for (unsigned i = 0; i < GOSSIP_BUCKETS_PER_MSG; i++)
		ndiff += memcmp(theirs[i], g->bhash[half * GOSSIP_BUCKETS_PER_MSG + i],
		    GOSSIP_BUCKET_HASH_LEN) != 0;
	/* nearly every bucket differs: the sets are far apart (a bootstrap),
	 * most entries would be listed anyway, and narrowing only adds a
	 * round trip */
	for (unsigned i = 0; i < GOSSIP_BUCKETS_PER_MSG; i++) {
		unsigned b = half * GOSSIP_BUCKETS_PER_MSG + i;

		narrow[i] = !g->cfg.no_subhash && ndiff <= GOSSIP_SUBHASH_DIFF_MAX &&
		    memcmp(theirs[i], g->bhash[b], GOSSIP_BUCKET_HASH_LEN) != 0 &&
		    !hash_zero(theirs[i]) &&
		    mesh_records_bucket_digest(g->recs, b, NULL, 0) > GOSSIP_SUBHASH_MIN;
		any |= narrow[i];
	}
	if ((o = malloc(sizeof *o)) == NULL)
		return MESHD_E_NOMEM;
	out_init(&o->m, g, to, GOSSIP_MSG_DIGEST, 0, NULL);
	o->max = digest_dgrams_max(g);
	/* a random start, so that a capped exchange does not always favour
	 * the low buckets */
	start = (unsigned)(gossip_rnd(g) % GOSSIP_BUCKETS_PER_MSG);
	for (unsigned k = 0; k < GOSSIP_BUCKETS_PER_MSG; k++) {
		unsigned i = (start + k) % GOSSIP_BUCKETS_PER_MSG;
		unsigned b = half * GOSSIP_BUCKETS_PER_MSG + i;
		uint8_t lo[MESH_NODE_ID_LEN], hi[MESH_NODE_ID_LEN];

		/* groups ascend within a datagram: a new one at the wrap */
		if (i == 0 && k > 0) {
			out_flush(&o->m);
			if (o->m.sent >= o->max)
				break;
		}
		if (narrow[i] || memcmp(theirs[i], g->bhash[b], GOSSIP_BUCKET_HASH_LEN) == 0)
			continue;
		if ((r = gossip_load_bucket(g, b)) != 0)
			break;
		range_of(b, GOSSIP_SUBBUCKETS, lo, hi);
		if (!dig_out_range(o, lo, hi, 0, g->nscr))
			break;
	}
	if (o->m.sent < o->max)
		out_flush(&o->m);
	free(o);
	if (r == 0 && any)
		r = send_subhash(g, to, half, narrow);
	return r;
}
