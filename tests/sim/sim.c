/* Deterministic gossip simulation (see sim.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/gossip.h"
#include "mesh/records.h"
#include "sim.h"
#include "util/buf.h"
#include "util/err.h"

enum ev_type { EV_DELIVER = 1, EV_TIMER = 2 };

struct ev {
	mtime_ns t;
	uint64_t seq;		/* tie-break: insertion order */
	uint8_t type;
	uint32_t node, from;
	uint64_t gen;		/* EV_TIMER: stale when != the node's */
	uint8_t *data;		/* EV_DELIVER: owned */
	size_t len;
};

struct node {
	struct sim *s;
	unsigned idx;
	uint8_t id[MESH_NODE_ID_LEN];
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];
	struct mesh_records *recs;
	struct mesh_gossip *g;
	bool *knows;		/* [total]: holds that node's cert */
	bool joined, online;
	uint64_t ep_seq;
	uint16_t ep_port;
	uint64_t timer_gen;
	mtime_ns timer_at;
	uint64_t bytes;
};

struct sim {
	struct sim_cfg cfg;
	uint64_t rng;
	mtime_ns now;
	uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
	uint8_t mesh_id[MESH_ID_LEN];
	struct mesh_rec_pool *pool;	/* record bytes, shared by every node */
	unsigned total;		/* cfg.nodes + cfg.spares */
	struct node *nodes;
	unsigned *by_id;	/* node indexes sorted by id */
	bool *revoked;
	uint8_t (*certs)[MESH_CERT_MAX_LEN];	/* as signed at setup, for joins */
	size_t *clen;
	struct ev *heap;
	size_t nheap, capheap;
	uint64_t seq;
	uint64_t delivered, lost, dropped_offline;
	uint64_t type_bytes[SIM_MSG_TYPES];	/* sent, by gossip message type */
};

static void die(const char *what)
{
	fprintf(stderr, "sim: %s\n", what);
	abort();
}

static uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rand_bytes(struct sim *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)sim_rand(s);
}

static uint64_t now_unix(const struct sim *s)
{
	return SIM_NOW_UNIX + s->now / SEC(1);
}

/* ---- event heap ---- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct sim *s, struct ev e)
{
	size_t i;

	if (s->nheap == s->capheap) {
		size_t cap = s->capheap ? 2 * s->capheap : 1024;
		struct ev *p = realloc(s->heap, cap * sizeof *p);

		if (p == NULL)
			die("out of memory");
		s->heap = p;
		s->capheap = cap;
	}
	e.seq = s->seq++;
	i = s->nheap++;
	while (i > 0 && ev_less(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static struct ev heap_pop(struct sim *s)
{
	struct ev top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_less(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	return top;
}

/* ---- nodes ---- */

static int find_node(const struct sim *s, const uint8_t *id)
{
	size_t lo = 0, hi = s->total;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->nodes[s->by_id[mid]].id, id, MESH_NODE_ID_LEN);

		if (c == 0)
			return (int)s->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void arm_timer(struct node *nd)
{
	mtime_ns t = mesh_gossip_next_expiry(nd->g);
	struct ev e;

	if (t == nd->timer_at)
		return;
	if (t < nd->s->now)
		t = nd->s->now;
	memset(&e, 0, sizeof e);
	e.t = t;
	e.type = EV_TIMER;
	e.node = nd->idx;
	e.gen = ++nd->timer_gen;
	nd->timer_at = mesh_gossip_next_expiry(nd->g);
	heap_push(nd->s, e);
}

static void on_send(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t *bytes,
    size_t len)
{
	struct node *nd = ctx;
	struct sim *s = nd->s;
	int to = find_node(s, node_id);
	struct ev e;

	if (to < 0)
		die("send to an unknown node");
	nd->bytes += len;
	s->type_bytes[len >= 2 && bytes[1] < SIM_MSG_TYPES ? bytes[1] : 0] += len;
	if (sim_rand(s) % 1000 < s->cfg.loss_permille) {
		s->lost++;
		return;
	}
	memset(&e, 0, sizeof e);
	e.t = s->now + s->cfg.latency;
	e.type = EV_DELIVER;
	e.node = (uint32_t)to;
	e.from = nd->idx;
	if ((e.data = malloc(len)) == NULL)
		die("out of memory");
	memcpy(e.data, bytes, len);
	e.len = len;
	heap_push(s, e);
}

static void on_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct node *nd = ctx;
	int j = find_node(nd->s, ev->node_id);

	if (j < 0)
		return;
	if (ev->type == MESH_EV_MEMBER_ADDED) {
		nd->knows[j] = true;
		if (mesh_gossip_set_reachable(nd->g, ev->node_id, true) != 0)
			die("set_reachable");
	} else if (ev->type == MESH_EV_MEMBER_REMOVED) {
		nd->knows[j] = false;
		if (mesh_gossip_set_reachable(nd->g, ev->node_id, false) != 0)
			die("set_reachable");
	}
}

/* Builds and signs node i's certificate into buf. */
static size_t make_cert(struct sim *s, struct node *nd, uint8_t *buf, size_t cap)
{
	struct mesh_cert c;
	struct wr w;

	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	memcpy(c.mesh_id, s->mesh_id, MESH_ID_LEN);
	memcpy(c.node_id, nd->id, MESH_NODE_ID_LEN);
	snprintf(c.name, sizeof c.name, "n%u", nd->idx);
	rand_bytes(s, c.wg_pubkey, sizeof c.wg_pubkey);
	memcpy(c.sign_pk, nd->sign_pk, MESH_PK_LEN);
	c.ipv4[0] = 100;
	c.ipv4[1] = 64;
	c.ipv4[2] = (uint8_t)(nd->idx >> 8);
	c.ipv4[3] = (uint8_t)nd->idx;
	c.ipv6[0] = 0xfd;
	c.ipv6[14] = (uint8_t)(nd->idx >> 8);
	c.ipv6[15] = (uint8_t)nd->idx;
	c.issued_at = SIM_NOW_UNIX - 60;
	c.expires_at = SIM_NOW_UNIX + 30 * 86400;
	wr_init(&w, buf, cap);
	if (mesh_cert_sign(&c, s->auth_sk) != 0 || mesh_cert_encode(&c, &w) != 0)
		die("cert");
	return w.off;
}

static size_t make_endpoints(struct sim *s, struct node *nd, uint8_t *buf, size_t cap)
{
	struct mesh_endpoints e;
	struct wr w;

	memset(&e, 0, sizeof e);
	e.version = MESH_ENDPOINTS_VERSION;
	memcpy(e.mesh_id, s->mesh_id, MESH_ID_LEN);
	memcpy(e.node_id, nd->id, MESH_NODE_ID_LEN);
	e.seq = nd->ep_seq;
	e.timestamp = now_unix(s);
	e.nep = 1;
	e.ep[0].source = MESH_EP_LOCAL;
	e.ep[0].family = MESH_FAMILY_V4;
	e.ep[0].addr[0] = 198;
	e.ep[0].addr[1] = 18;
	e.ep[0].addr[2] = (uint8_t)(nd->idx >> 8);
	e.ep[0].addr[3] = (uint8_t)(nd->idx + 1);
	e.ep[0].port = nd->ep_port;
	wr_init(&w, buf, cap);
	if (mesh_endpoints_sign(&e, nd->sign_sk) != 0 || mesh_endpoints_encode(&e, &w) != 0)
		die("endpoints");
	return w.off;
}

static void merge_or_die(struct node *nd, enum mesh_rec_kind kind, const uint8_t *p, size_t n)
{
	int r = mesh_records_merge(nd->recs, kind, p, n, now_unix(nd->s));

	if (r != MESH_MERGE_NEW && r != MESH_MERGE_DUP)
		die("bootstrap merge");
}

struct id_idx {
	uint8_t id[MESH_NODE_ID_LEN];
	unsigned idx;
};

static int id_idx_cmp(const void *a, const void *b)
{
	return memcmp(((const struct id_idx *)a)->id, ((const struct id_idx *)b)->id,
	    MESH_NODE_ID_LEN);
}

/* s->by_id sorted by node id. */
static void sort_by_id(struct sim *s)
{
	struct id_idx *v = calloc(s->total, sizeof *v);

	if (v == NULL)
		die("out of memory");
	for (unsigned i = 0; i < s->total; i++) {
		memcpy(v[i].id, s->nodes[i].id, MESH_NODE_ID_LEN);
		v[i].idx = i;
	}
	qsort(v, s->total, sizeof *v, id_idx_cmp);
	for (unsigned i = 0; i < s->total; i++)
		s->by_id[i] = v[i].idx;
	free(v);
}

/* Node i is admitted by want (1-3) distinct members among cand[0..ncand):
 * each side gets the other's cert, as after a join. */
static void admit(struct sim *s, unsigned i, const unsigned *cand, unsigned ncand)
{
	unsigned want, got = 0;
	unsigned picked[3];

	s->nodes[i].joined = true;
	s->nodes[i].online = true;
	if (ncand == 0)
		return;		/* the first member */
	want = 1 + (unsigned)(sim_rand(s) % 3);
	if (want > ncand)
		want = ncand;
	while (got < want) {
		unsigned j = cand[sim_rand(s) % ncand];
		bool dup = false;

		for (unsigned k = 0; k < got; k++)
			dup |= picked[k] == j;
		if (dup)
			continue;
		picked[got++] = j;
		merge_or_die(&s->nodes[i], MESH_REC_CERT, s->certs[j], s->clen[j]);
		merge_or_die(&s->nodes[j], MESH_REC_CERT, s->certs[i], s->clen[i]);
	}
}

struct sim *sim_new(const struct sim_cfg *cfg)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	struct sim *s;
	unsigned n = cfg->nodes + cfg->spares, *cand;
	int err;

	if (sodium_init() < 0)
		die("sodium_init");
	if ((s = calloc(1, sizeof *s)) == NULL)
		die("out of memory");
	s->cfg = *cfg;
	if (s->cfg.latency == 0)
		s->cfg.latency = MSEC(20);
	s->rng = cfg->seed;
	if ((s->pool = mesh_rec_pool_new(&err)) == NULL)
		die("pool");
	rand_bytes(s, seed, sizeof seed);
	crypto_sign_seed_keypair(s->auth_pk, s->auth_sk, seed);
	mesh_identity_mesh_id(s->auth_pk, s->mesh_id);
	s->total = n;
	s->nodes = calloc(n, sizeof *s->nodes);
	s->by_id = calloc(n, sizeof *s->by_id);
	s->revoked = calloc(n, sizeof *s->revoked);
	s->certs = calloc(n, sizeof *s->certs);
	s->clen = calloc(n, sizeof *s->clen);
	cand = calloc(n, sizeof *cand);
	if (s->nodes == NULL || s->by_id == NULL || s->revoked == NULL || s->certs == NULL ||
	    s->clen == NULL || cand == NULL)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		struct node *nd = &s->nodes[i];
		struct mesh_records_cfg rc;
		struct mesh_gossip_cfg gc;

		nd->s = s;
		nd->idx = i;
		rand_bytes(s, nd->id, sizeof nd->id);
		rand_bytes(s, seed, sizeof seed);
		crypto_sign_seed_keypair(nd->sign_pk, nd->sign_sk, seed);
		nd->ep_seq = 1000;
		nd->ep_port = 51820;
		nd->timer_at = MTIME_NEVER;
		if ((nd->knows = calloc(n, sizeof *nd->knows)) == NULL)
			die("out of memory");
		memset(&rc, 0, sizeof rc);
		memcpy(rc.authority_pk, s->auth_pk, MESH_PK_LEN);
		rc.pool = s->pool;
		rc.on_event = on_event;
		rc.ctx = nd;
		if ((nd->recs = mesh_records_new(&rc, &err)) == NULL)
			die("records");
		memset(&gc, 0, sizeof gc);
		memcpy(gc.node_id, nd->id, MESH_NODE_ID_LEN);
		gc.send = on_send;
		gc.rand = NULL;
		gc.rng_seed = sim_rand(s);
		gc.no_subhash = (uint64_t)i * 1000 / n < s->cfg.old_permille;
		gc.ctx = nd;
		if ((nd->g = mesh_gossip_new(&gc, nd->recs, &err)) == NULL)
			die("gossip");
	}
	sort_by_id(s);
	for (unsigned i = 0; i < n; i++) {
		struct node *nd = &s->nodes[i];
		uint8_t ep[MESH_ENDPOINTS_MAX_LEN];
		size_t elen;

		s->clen[i] = make_cert(s, nd, s->certs[i], sizeof s->certs[i]);
		merge_or_die(nd, MESH_REC_CERT, s->certs[i], s->clen[i]);
		elen = make_endpoints(s, nd, ep, sizeof ep);
		merge_or_die(nd, MESH_REC_ENDPOINTS, ep, elen);
	}
	/* joins: 1-3 inviters among the earlier nodes */
	for (unsigned i = 0; i < cfg->nodes; i++) {
		admit(s, i, cand, i);
		cand[i] = i;
	}
	free(cand);
	for (unsigned i = 0; i < cfg->nodes; i++)
		arm_timer(&s->nodes[i]);
	return s;
}

void sim_free(struct sim *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nheap; i++)
		free(s->heap[i].data);
	free(s->heap);
	for (unsigned i = 0; i < s->total; i++) {
		mesh_gossip_free(s->nodes[i].g);
		mesh_records_free(s->nodes[i].recs);
		free(s->nodes[i].knows);
		sodium_memzero(s->nodes[i].sign_sk, MESH_SK_LEN);
	}
	sodium_memzero(s->auth_sk, sizeof s->auth_sk);
	mesh_rec_pool_free(s->pool);	/* after every set that used it */
	free(s->nodes);
	free(s->by_id);
	free(s->revoked);
	free(s->certs);
	free(s->clen);
	free(s);
}

mtime_ns sim_now(const struct sim *s)
{
	return s->now;
}

void sim_run_until(struct sim *s, mtime_ns t)
{
	while (s->nheap > 0 && s->heap[0].t <= t) {
		struct ev e = heap_pop(s);
		struct node *nd = &s->nodes[e.node];

		s->now = e.t;
		if (!nd->online) {
			if (e.type == EV_DELIVER)
				s->dropped_offline++;
			free(e.data);
			continue;	/* it left: no rounds, nothing received */
		}
		if (e.type == EV_TIMER) {
			if (e.gen != nd->timer_gen)
				continue;
			nd->timer_at = MTIME_NEVER;
			if (mesh_gossip_handle_expiry(nd->g, s->now, now_unix(s)) != 0)
				die("handle_expiry");
		} else {
			/* the tunnel exists only if the receiver knows the sender */
			if (nd->knows[e.from]) {
				s->delivered++;
				if (mesh_gossip_input(nd->g, s->nodes[e.from].id, e.data, e.len,
				    s->now, now_unix(s)) != 0)
					die("gossip_input");
			}
			free(e.data);
		}
		arm_timer(nd);
	}
	if (s->now < t)
		s->now = t;
}

bool sim_converged(struct sim *s)
{
	uint8_t h0[MESH_RECORDS_SET_HASH_LEN], h[MESH_RECORDS_SET_HASH_LEN];
	size_t live = 0;
	bool first = true;

	for (unsigned i = 0; i < s->total; i++)
		live += s->nodes[i].online && !s->revoked[i];
	for (unsigned i = 0; i < s->total; i++) {
		struct node *nd = &s->nodes[i];

		if (s->revoked[i] || !nd->online)
			continue;
		if (mesh_records_count(nd->recs, MESH_REC_CERT) < live ||
		    mesh_records_count(nd->recs, MESH_REC_ENDPOINTS) < live)
			return false;
		if (mesh_records_set_hash(nd->recs, first ? h0 : h) != 0)
			die("set hash");
		if (!first && memcmp(h0, h, sizeof h) != 0)
			return false;
		first = false;
	}
	return true;
}

void sim_type_bytes(const struct sim *s, uint64_t out[SIM_MSG_TYPES])
{
	memcpy(out, s->type_bytes, sizeof s->type_bytes);
}

uint64_t sim_node_bytes(const struct sim *s, unsigned i)
{
	return s->nodes[i].bytes;
}

uint64_t sim_delivered(const struct sim *s)
{
	return s->delivered;
}

uint64_t sim_lost(const struct sim *s)
{
	return s->lost;
}

int sim_publish_endpoints(struct sim *s, unsigned i, uint64_t *seq_out)
{
	struct node *nd = &s->nodes[i];
	uint8_t ep[MESH_ENDPOINTS_MAX_LEN];
	size_t elen;
	int r;

	nd->ep_seq++;
	nd->ep_port++;
	elen = make_endpoints(s, nd, ep, sizeof ep);
	*seq_out = nd->ep_seq;
	r = mesh_gossip_publish(nd->g, MESH_REC_ENDPOINTS, ep, elen, s->now, now_unix(s));
	arm_timer(nd);
	return r;
}

bool sim_all_have_endpoints(struct sim *s, unsigned i, uint64_t seq)
{
	for (unsigned j = 0; j < s->total; j++) {
		struct mesh_endpoints e;

		if (s->revoked[j] || !s->nodes[j].online)
			continue;
		if (mesh_records_endpoints(s->nodes[j].recs, s->nodes[i].id, &e) != 0 ||
		    e.seq < seq)
			return false;
	}
	return true;
}

int sim_publish_revoke(struct sim *s, unsigned by, unsigned target)
{
	struct node *nd = &s->nodes[by];
	uint8_t buf[MESH_REVOKE_LEN];
	struct mesh_revoke rv;
	struct wr w;
	int r;

	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	memcpy(rv.mesh_id, s->mesh_id, MESH_ID_LEN);
	memcpy(rv.node_id, s->nodes[target].id, MESH_NODE_ID_LEN);
	rv.revoked_at = now_unix(s);
	wr_init(&w, buf, sizeof buf);
	if (mesh_revoke_sign(&rv, s->auth_sk) != 0 || mesh_revoke_encode(&rv, &w) != 0)
		die("revoke");
	s->revoked[target] = true;
	r = mesh_gossip_publish(nd->g, MESH_REC_REVOKE, buf, w.off, s->now, now_unix(s));
	arm_timer(nd);
	return r;
}

bool sim_all_revoked(struct sim *s, unsigned target)
{
	for (unsigned j = 0; j < s->total; j++) {
		struct mesh_cert c;
		const uint8_t *p;
		size_t len;

		if (j == target || !s->nodes[j].online)
			continue;
		if (mesh_records_cert(s->nodes[j].recs, s->nodes[target].id, &c) == 0 ||
		    mesh_records_get(s->nodes[j].recs, MESH_REC_REVOKE, s->nodes[target].id, &p,
		    &len) != 0)
			return false;
	}
	return true;
}

void sim_join(struct sim *s, unsigned i)
{
	unsigned *cand, ncand = 0;

	if (i >= s->total || s->nodes[i].joined)
		die("join: no such spare node");
	if ((cand = calloc(s->total, sizeof *cand)) == NULL)
		die("out of memory");
	for (unsigned j = 0; j < s->total; j++)
		if (s->nodes[j].online && !s->revoked[j])
			cand[ncand++] = j;
	if (ncand == 0)
		die("join: nobody online to admit it");
	admit(s, i, cand, ncand);
	free(cand);
	arm_timer(&s->nodes[i]);
}

void sim_leave(struct sim *s, unsigned i)
{
	s->nodes[i].online = false;
}

bool sim_online(const struct sim *s, unsigned i)
{
	return s->nodes[i].online;
}

unsigned sim_online_count(const struct sim *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->total; i++)
		n += s->nodes[i].online;
	return n;
}

void sim_node_view(const struct sim *s, unsigned i, size_t *certs, unsigned *known_online)
{
	*certs = mesh_records_count(s->nodes[i].recs, MESH_REC_CERT);
	*known_online = 0;
	for (unsigned j = 0; j < s->total; j++)
		*known_online += j != i && s->nodes[i].knows[j] && s->nodes[j].online;
}

unsigned sim_known_by(struct sim *s, unsigned i)
{
	unsigned n = 0;

	for (unsigned j = 0; j < s->total; j++) {
		const uint8_t *p;
		size_t len;

		if (!s->nodes[j].online)
			continue;
		n += mesh_records_get(s->nodes[j].recs, MESH_REC_CERT, s->nodes[i].id, &p,
		    &len) == 0 &&
		    mesh_records_get(s->nodes[j].recs, MESH_REC_ENDPOINTS, s->nodes[i].id, &p,
		    &len) == 0;
	}
	return n;
}

uint64_t sim_dropped_offline(const struct sim *s)
{
	return s->dropped_offline;
}

void sim_gossip_totals(const struct sim *s, struct mesh_gossip_stats *sum)
{
	memset(sum, 0, sizeof *sum);
	for (unsigned i = 0; i < s->total; i++) {
		struct mesh_gossip_stats st;

		mesh_gossip_get_stats(s->nodes[i].g, &st);
		sum->msgs_sent += st.msgs_sent;
		sum->bytes_sent += st.bytes_sent;
		sum->msgs_recv += st.msgs_recv;
		sum->bytes_recv += st.bytes_recv;
		sum->msgs_dropped += st.msgs_dropped;
		sum->msgs_deferred += st.msgs_deferred;
		sum->rounds += st.rounds;
		sum->records_new += st.records_new;
		sum->records_checked += st.records_checked;
		sum->records_invalid += st.records_invalid;
		sum->records_skipped += st.records_skipped;
		sum->records_recv += st.records_recv;
		sum->records_held += st.records_held;
		sum->records_orphan += st.records_orphan;
		sum->records_unbudgeted += st.records_unbudgeted;
	}
}

void sim_pool_stats(const struct sim *s, size_t *records, size_t *bytes)
{
	*records = mesh_rec_pool_count(s->pool);
	*bytes = mesh_rec_pool_bytes(s->pool);
}
