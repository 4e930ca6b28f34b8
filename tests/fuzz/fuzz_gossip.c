/* libFuzzer harness for the gossip engine: mesh_gossip_input() with
 * arbitrary bytes, against an engine holding a few records.
 *
 * Input: a sequence of chunks u16 length (big-endian) | that many bytes,
 * each fed to engine A as a datagram from peer B (a last short chunk takes
 * what is left). Whatever A sends in answer must be at most GOSSIP_DGRAM_MAX
 * bytes and is delivered to engine B (another record set, overlapping A's),
 * whose answers go back to A, for a bounded number of hops: every message an
 * engine builds must be accepted by the other (no malformed drop), so the
 * encoders and decoders agree. A rumour TTL or a deferral may end an
 * exchange early; that is fine.
 *
 * Keys: authority seed 0x5e x 32, node record key seed 0x6e x 32 (as the
 * other mesh fuzzers). Each input starts from the same state: fresh engines
 * over clones (mesh_records_clone) of the two record sets, which are merged
 * once at start-up. Merging them again for every input, signature checks
 * included, was nine tenths of the harness's time, and gave every set a new
 * random table key, so the same input could take other probe paths. Engine
 * B is only made when A first sends it something: nothing reaches B before
 * that, so it is the engine it would have been from the start, and the many
 * inputs A drops unanswered do not pay for a second set and engine. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/gossip.h"
#include "mesh/records.h"
#include "util/buf.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000, NREC = 6, QMAX = 256, HOPS_MAX = 512 };

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t node_pk[MESH_PK_LEN], node_sk[MESH_SK_LEN];
static uint8_t mesh_id[MESH_ID_LEN];

struct rec {
	uint8_t kind;
	uint8_t p[MESH_CERT_MAX_LEN];
	size_t n;
};

/* certs and endpoint records of nodes 0x10 (A), 0x11 (B), 0x20-0x23 */
static struct rec certs[NREC], eps[NREC], rev;

static void id_of(uint8_t b, uint8_t id[MESH_NODE_ID_LEN])
{
	memset(id, b, MESH_NODE_ID_LEN);
}

static void build(void)
{
	static const uint8_t ids[NREC] = { 0x10, 0x11, 0x20, 0x21, 0x22, 0x23 };
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x5e, sizeof seed);
	crypto_sign_seed_keypair(auth_pk, auth_sk, seed);
	memset(seed, 0x6e, sizeof seed);
	crypto_sign_seed_keypair(node_pk, node_sk, seed);
	mesh_identity_mesh_id(auth_pk, mesh_id);
	for (size_t i = 0; i < NREC; i++) {
		struct mesh_cert c;
		struct mesh_endpoints e;
		struct wr w;

		memset(&c, 0, sizeof c);
		c.version = MESH_CERT_VERSION;
		memcpy(c.mesh_id, mesh_id, MESH_ID_LEN);
		id_of(ids[i], c.node_id);
		strcpy(c.name, "fuzz");
		memcpy(c.sign_pk, node_pk, MESH_PK_LEN);
		c.issued_at = NOW - 60;
		c.expires_at = NOW + 86400;
		wr_init(&w, certs[i].p, sizeof certs[i].p);
		if (mesh_cert_sign(&c, auth_sk) != 0 || mesh_cert_encode(&c, &w) != 0)
			abort();
		certs[i].kind = MESH_REC_CERT;
		certs[i].n = w.off;

		memset(&e, 0, sizeof e);
		e.version = MESH_ENDPOINTS_VERSION;
		memcpy(e.mesh_id, mesh_id, MESH_ID_LEN);
		id_of(ids[i], e.node_id);
		e.seq = 1000 + i;
		e.timestamp = NOW;
		e.nep = 1;
		e.ep[0].source = MESH_EP_LOCAL;
		e.ep[0].family = MESH_FAMILY_V4;
		e.ep[0].addr[0] = 198;
		e.ep[0].addr[1] = 51;
		e.ep[0].addr[2] = 100;
		e.ep[0].addr[3] = ids[i];
		e.ep[0].port = 51820;
		wr_init(&w, eps[i].p, sizeof eps[i].p);
		if (mesh_endpoints_sign(&e, node_sk) != 0 || mesh_endpoints_encode(&e, &w) != 0)
			abort();
		eps[i].kind = MESH_REC_ENDPOINTS;
		eps[i].n = w.off;
	}
	{
		struct mesh_revoke rv;
		struct wr w;

		memset(&rv, 0, sizeof rv);
		rv.version = MESH_REVOKE_VERSION;
		memcpy(rv.mesh_id, mesh_id, MESH_ID_LEN);
		id_of(0x23, rv.node_id);
		rv.revoked_at = NOW;
		wr_init(&w, rev.p, sizeof rev.p);
		if (mesh_revoke_sign(&rv, auth_sk) != 0 || mesh_revoke_encode(&rv, &w) != 0)
			abort();
		rev.kind = MESH_REC_REVOKE;
		rev.n = w.off;
	}
}

struct qmsg {
	int to;			/* 0: A, 1: B */
	uint8_t p[GOSSIP_DGRAM_MAX];
	size_t n;
};

struct side {
	int idx;
	uint8_t id[MESH_NODE_ID_LEN];
	struct mesh_records *recs;
	struct mesh_gossip *g;
};

static struct qmsg q[QMAX];
static size_t qn;
static struct side sides[2];
static struct mesh_records *start_recs[2];	/* each side's set before any input */

static void on_send(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t *bytes,
    size_t len)
{
	struct side *s = ctx;

	if (len > GOSSIP_DGRAM_MAX || len == 0)
		abort();
	if (memcmp(node_id, sides[1 - s->idx].id, MESH_NODE_ID_LEN) != 0)
		abort();	/* only the other side is reachable */
	if (qn == QMAX)
		return;		/* the harness's own bound, not the engine's */
	q[qn].to = 1 - s->idx;
	memcpy(q[qn].p, bytes, len);
	q[qn].n = len;
	qn++;
}

static void on_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct side *s = ctx;

	if (s->g == NULL || memcmp(ev->node_id, sides[1 - s->idx].id, MESH_NODE_ID_LEN) != 0)
		return;
	(void)mesh_gossip_set_reachable(s->g, ev->node_id,
	    ev->type != MESH_EV_MEMBER_REMOVED);
}

/* Builds side idx's starting record set. Events go to on_event, which
 * ignores them while the side has no engine. */
static void side_init(int idx, const struct rec *const *recs, size_t n)
{
	struct side *s = &sides[idx];
	struct mesh_records_cfg rc;
	int err;

	s->idx = idx;
	id_of((uint8_t)(0x10 + idx), s->id);
	memset(&rc, 0, sizeof rc);
	memcpy(rc.authority_pk, auth_pk, MESH_PK_LEN);
	rc.max_nodes = 64;
	rc.on_event = on_event;
	rc.ctx = s;
	if ((start_recs[idx] = mesh_records_new(&rc, &err)) == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		(void)mesh_records_merge(start_recs[idx], recs[i]->kind, recs[i]->p, recs[i]->n,
		    NOW);
}

/* Side idx as every input finds it: a fresh engine over a copy of its
 * starting set, with the other side reachable when the set holds its cert
 * (what MEMBER_ADDED does). */
static void side_start(int idx)
{
	struct side *s = &sides[idx];
	const uint8_t *other = sides[1 - idx].id, *p;
	struct mesh_gossip_cfg gc;
	size_t n;
	int err;

	s->g = NULL;
	if ((s->recs = mesh_records_clone(start_recs[idx], &err)) == NULL)
		abort();
	memset(&gc, 0, sizeof gc);
	memcpy(gc.node_id, s->id, MESH_NODE_ID_LEN);
	gc.send = on_send;
	gc.rng_seed = 7 + (uint64_t)idx;
	gc.ctx = s;
	if ((s->g = mesh_gossip_new(&gc, s->recs, &err)) == NULL)
		abort();
	if (mesh_records_get(s->recs, MESH_REC_CERT, other, &p, &n) == 0 &&
	    mesh_gossip_set_reachable(s->g, other, true) != 0)
		abort();
}

static uint64_t dropped(int idx)
{
	struct mesh_gossip_stats st;

	mesh_gossip_get_stats(sides[idx].g, &st);
	return st.msgs_dropped;
}

/* Delivers queued messages back and forth, at most HOPS_MAX. */
static void pump(void)
{
	size_t hops = 0, head = 0;

	while (head < qn && hops < HOPS_MAX) {
		struct qmsg *m = &q[head++];
		struct side *to = &sides[m->to];
		uint64_t before;

		if (to->g == NULL)
			side_start(m->to);	/* B's first message */
		before = dropped(m->to);

		(void)mesh_gossip_input(to->g, sides[1 - m->to].id, m->p, m->n, SEC(1), NOW);
		/* what an engine builds, the other accepts */
		if (dropped(m->to) != before)
			abort();
		hops++;
		if (head == qn)
			head = qn = 0;
	}
	qn = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	const struct rec *ra[] = { &certs[0], &eps[0], &certs[1], &certs[2], &eps[2], &certs[3],
		&eps[3], &certs[5], &eps[5] };
	const struct rec *rb[] = { &certs[1], &eps[1], &certs[0], &certs[3], &certs[4], &eps[4],
		&rev };

	if (!ready) {
		build();
		side_init(0, ra, sizeof ra / sizeof ra[0]);
		side_init(1, rb, sizeof rb / sizeof rb[0]);
		ready = true;
	}
	qn = 0;
	side_start(0);
	while (size > 0) {
		size_t n;

		if (size >= 2) {
			n = (size_t)data[0] << 8 | data[1];
			data += 2;
			size -= 2;
			if (n > size)
				n = size;
		} else {
			n = size;
		}
		if (mesh_gossip_input(sides[0].g, sides[1].id, data, n, SEC(1), NOW) ==
		    MESHD_E_PROTO)
			abort();	/* malformed input is dropped, not reported */
		pump();
		data += n;
		size -= n;
	}
	for (int i = 0; i < 2; i++) {
		mesh_gossip_free(sides[i].g);
		mesh_records_free(sides[i].recs);
		sides[i].g = NULL;
		sides[i].recs = NULL;
	}
	return 0;
}
