/* The gossip engine (mesh/gossip.h): message handling between two and three
 * engines driven by hand, the steady state, rumours, the reachable set, and
 * malformed input dropped without an answer. The many-node behaviour is in
 * tests/sim/check_sim_gossip.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/gossip.h"
#include "mesh/records.h"
#include "util/buf.h"
#include "util/err.h"

enum { NOW = 1800000000, NNODES = 3, MAXQ = 4096, NIDS = 12 };

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t node_pk[MESH_PK_LEN], node_sk[MESH_SK_LEN];	/* every node's record key */
static uint8_t mesh_id[MESH_ID_LEN];

struct msg {
	unsigned from, to;
	uint8_t *p;
	size_t n;
};

struct peer {
	unsigned idx;
	uint8_t id[MESH_NODE_ID_LEN];
	struct mesh_records *recs;
	struct mesh_gossip *g;
};

static struct peer peers[NNODES];
static bool crowd;
static bool old_peer1;			/* peer 1 acts as from before SUBHASH */
static size_t type_bytes[NNODES][8];	/* sent by each peer, by message type */
static struct mesh_rec_pool *share;	/* non-NULL: peers_new's sets use it */
static struct msg q[MAXQ];
static size_t qhead, qtail;

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(auth_pk, auth_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(node_pk, node_sk), 0);
	mesh_identity_mesh_id(auth_pk, mesh_id);
	qhead = qtail = 0;
	crowd = false;
	old_peer1 = false;
	memset(type_bytes, 0, sizeof type_bytes);
	share = NULL;
}

/* Node ids: b x 15, 0x01; or, with crowd set, 0x50 | b | 0 ... so that many
 * nodes share bucket 0x50. */

static void id_of(uint8_t b, uint8_t id[MESH_NODE_ID_LEN])
{
	memset(id, b, MESH_NODE_ID_LEN);
	id[15] = 0x01;
	if (crowd && b >= 0x60) {
		memset(id, 0, MESH_NODE_ID_LEN);
		id[0] = 0x50;
		id[1] = b;
	}
}

static int peer_by_id(const uint8_t *id)
{
	for (unsigned i = 0; i < NNODES; i++)
		if (peers[i].g != NULL && memcmp(peers[i].id, id, MESH_NODE_ID_LEN) == 0)
			return (int)i;
	return -1;
}

static void on_send(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t *bytes,
    size_t len)
{
	struct peer *p = ctx;
	int to = peer_by_id(node_id);

	ck_assert_int_ge(to, 0);
	ck_assert_uint_le(len, GOSSIP_DGRAM_MAX);
	ck_assert_uint_lt(qtail, MAXQ);
	ck_assert_uint_ge(len, 2);
	type_bytes[p->idx][bytes[1] & 7] += len;
	q[qtail].from = p->idx;
	q[qtail].to = (unsigned)to;
	q[qtail].p = malloc(len);
	ck_assert_ptr_nonnull(q[qtail].p);
	memcpy(q[qtail].p, bytes, len);
	q[qtail].n = len;
	qtail++;
}

static void on_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct peer *p = ctx;

	/* only the engines under test have a tunnel to each other */
	if (peer_by_id(ev->node_id) < 0)
		return;
	if (ev->type == MESH_EV_MEMBER_ADDED)
		ck_assert_int_eq(mesh_gossip_set_reachable(p->g, ev->node_id, true), 0);
	else if (ev->type == MESH_EV_MEMBER_REMOVED)
		ck_assert_int_eq(mesh_gossip_set_reachable(p->g, ev->node_id, false), 0);
}

static size_t cert_for(uint8_t idb, uint8_t *buf, size_t cap)
{
	struct mesh_cert c;
	struct wr w;

	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	memcpy(c.mesh_id, mesh_id, MESH_ID_LEN);
	id_of(idb, c.node_id);
	strcpy(c.name, "node");
	memcpy(c.sign_pk, node_pk, MESH_PK_LEN);
	c.ipv4[0] = 100;
	c.ipv4[1] = 64;
	c.ipv4[3] = idb;
	c.issued_at = NOW - 60;
	c.expires_at = NOW + 86400;
	ck_assert_int_eq(mesh_cert_sign(&c, auth_sk), 0);
	wr_init(&w, buf, cap);
	ck_assert_int_eq(mesh_cert_encode(&c, &w), 0);
	return w.off;
}

static size_t ep_for(uint8_t idb, uint64_t seq, uint8_t *buf, size_t cap)
{
	struct mesh_endpoints e;
	struct wr w;

	memset(&e, 0, sizeof e);
	e.version = MESH_ENDPOINTS_VERSION;
	memcpy(e.mesh_id, mesh_id, MESH_ID_LEN);
	id_of(idb, e.node_id);
	e.seq = seq;
	e.timestamp = NOW;
	e.nep = 1;
	e.ep[0].source = MESH_EP_LOCAL;
	e.ep[0].family = MESH_FAMILY_V4;
	e.ep[0].addr[0] = 198;
	e.ep[0].addr[1] = 51;
	e.ep[0].addr[2] = 100;
	e.ep[0].addr[3] = idb;
	e.ep[0].port = 51820;
	ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
	wr_init(&w, buf, cap);
	ck_assert_int_eq(mesh_endpoints_encode(&e, &w), 0);
	return w.off;
}

static size_t revoke_for(uint8_t idb, uint8_t *buf, size_t cap)
{
	struct mesh_revoke rv;
	struct wr w;

	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	memcpy(rv.mesh_id, mesh_id, MESH_ID_LEN);
	id_of(idb, rv.node_id);
	rv.revoked_at = NOW;
	ck_assert_int_eq(mesh_revoke_sign(&rv, auth_sk), 0);
	wr_init(&w, buf, cap);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	return w.off;
}

/* Gives peer p the cert (and endpoint record when ep) of node idb. */
static void give(unsigned p, uint8_t idb, bool ep)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	size_t n = cert_for(idb, buf, sizeof buf);
	int r = mesh_records_merge(peers[p].recs, MESH_REC_CERT, buf, n, NOW);

	ck_assert(r == MESH_MERGE_NEW || r == MESH_MERGE_DUP);
	if (ep) {
		n = ep_for(idb, 1000, buf, sizeof buf);
		r = mesh_records_merge(peers[p].recs, MESH_REC_ENDPOINTS, buf, n, NOW);
		ck_assert(r == MESH_MERGE_NEW || r == MESH_MERGE_DUP);
	}
}

/* Peer i has node id 0x10 + i. */
static void peers_new(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct mesh_records_cfg rc;
		struct mesh_gossip_cfg gc;
		int err;

		peers[i].idx = i;
		id_of((uint8_t)(0x10 + i), peers[i].id);
		memset(&rc, 0, sizeof rc);
		memcpy(rc.authority_pk, auth_pk, MESH_PK_LEN);
		rc.on_event = on_event;
		rc.ctx = &peers[i];
		rc.pool = share;
		peers[i].recs = mesh_records_new(&rc, &err);
		ck_assert_ptr_nonnull(peers[i].recs);
		memset(&gc, 0, sizeof gc);
		memcpy(gc.node_id, peers[i].id, MESH_NODE_ID_LEN);
		gc.send = on_send;
		gc.rng_seed = 42 + i;
		gc.no_subhash = old_peer1 && i == 1;
		gc.ctx = &peers[i];
		peers[i].g = mesh_gossip_new(&gc, peers[i].recs, &err);
		ck_assert_ptr_nonnull(peers[i].g);
		give(i, (uint8_t)(0x10 + i), true);
	}
}

static void q_clear(void)
{
	for (size_t i = qhead; i < qtail; i++)
		free(q[i].p);
	qhead = qtail = 0;
}

static void peers_free(void)
{
	q_clear();
	for (unsigned i = 0; i < NNODES; i++) {
		mesh_gossip_free(peers[i].g);
		mesh_records_free(peers[i].recs);
		memset(&peers[i], 0, sizeof peers[i]);
	}
}

/* Delivers every queued message (and what they cause); returns how many. */
static size_t pump(void)
{
	size_t n = 0;

	while (qhead < qtail) {
		struct msg m = q[qhead++];

		ck_assert_int_eq(mesh_gossip_input(peers[m.to].g, peers[m.from].id, m.p, m.n,
		    SEC(1), NOW), 0);
		free(m.p);
		n++;
	}
	qhead = qtail = 0;
	return n;
}

/* Starts and runs one round at every peer. */
static void round_all(unsigned n, mtime_ns *t)
{
	for (unsigned i = 0; i < n; i++) {
		if (mesh_gossip_next_expiry(peers[i].g) == 0)
			ck_assert_int_eq(mesh_gossip_handle_expiry(peers[i].g, 0, NOW), 0);
	}
	*t += SEC(1);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(mesh_gossip_handle_expiry(peers[i].g, *t, NOW), 0);
}

static bool same_set(unsigned a, unsigned b)
{
	uint8_t ha[MESH_RECORDS_SET_HASH_LEN], hb[MESH_RECORDS_SET_HASH_LEN];

	ck_assert_int_eq(mesh_records_set_hash(peers[a].recs, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(peers[b].recs, hb), 0);
	return memcmp(ha, hb, sizeof ha) == 0;
}

START_TEST(test_gossip_new_rejects_missing_send)
{
	struct mesh_gossip_cfg gc;
	struct mesh_records_cfg rc;
	struct mesh_records *recs;
	int err;

	memset(&rc, 0, sizeof rc);
	recs = mesh_records_new(&rc, &err);
	ck_assert_ptr_nonnull(recs);
	memset(&gc, 0, sizeof gc);
	ck_assert_ptr_null(mesh_gossip_new(&gc, recs, &err));
	ck_assert_int_eq(err, MESHD_E_INVAL);
	mesh_gossip_free(NULL);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_gossip_reachable_set)
{
	uint8_t id[MESH_NODE_ID_LEN];

	peers_new(1);
	/* our own cert made us a member: not a peer of ourselves */
	ck_assert_uint_eq(mesh_gossip_reachable_count(peers[0].g), 0);
	for (uint8_t b = 0x40; b > 0x20; b--) {
		id_of(b, id);
		ck_assert_int_eq(mesh_gossip_set_reachable(peers[0].g, id, true), 0);
		ck_assert_int_eq(mesh_gossip_set_reachable(peers[0].g, id, true), 0);
	}
	ck_assert_uint_eq(mesh_gossip_reachable_count(peers[0].g), 32);
	id_of(0x30, id);
	ck_assert_int_eq(mesh_gossip_set_reachable(peers[0].g, id, false), 0);
	ck_assert_int_eq(mesh_gossip_set_reachable(peers[0].g, id, false), 0);
	ck_assert_uint_eq(mesh_gossip_reachable_count(peers[0].g), 31);
	peers_free();
}
END_TEST

START_TEST(test_gossip_first_expiry_sets_phase_only)
{
	mtime_ns t;

	peers_new(2);
	give(0, 0x11, false);
	ck_assert_uint_eq(mesh_gossip_reachable_count(peers[0].g), 1);
	ck_assert_uint_eq(mesh_gossip_next_expiry(peers[0].g), 0);
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, SEC(5), NOW), 0);
	t = mesh_gossip_next_expiry(peers[0].g);
	ck_assert_uint_ge(t, SEC(5));
	ck_assert_uint_lt(t, SEC(5) + MSEC(GOSSIP_INTERVAL_MS));
	ck_assert_uint_eq(qtail, 0);
	/* not yet due: nothing */
	if (t > SEC(5))
		ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, t - 1, NOW), 0);
	ck_assert_uint_eq(qtail, 0);
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, t, NOW), 0);
	ck_assert_uint_eq(qtail, 1);	/* one SUMMARY to the one peer */
	ck_assert_uint_eq(q[0].n, 2 + MESH_RECORDS_SET_HASH_LEN + 4);
	ck_assert_uint_eq(q[0].p[1], GOSSIP_MSG_SUMMARY);
	ck_assert_uint_eq(mesh_gossip_next_expiry(peers[0].g), t + MSEC(GOSSIP_INTERVAL_MS));
	peers_free();
}
END_TEST

/* Two nodes with overlapping sets (and a tombstone on one side) reach the
 * same set in one exchange, then only SUMMARYs flow. */
START_TEST(test_gossip_two_nodes_sync)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	mtime_ns t = 0;
	size_t n, before;

	peers_new(2);
	give(0, 0x11, false);
	give(1, 0x10, false);
	for (uint8_t b = 0x20; b < 0x20 + NIDS; b++) {
		if (b < 0x28)
			give(0, b, true);
		if (b >= 0x24)
			give(1, b, b % 2 == 0);
	}
	/* node 0x25 is revoked on peer 1's side only */
	n = revoke_for(0x25, buf, sizeof buf);
	ck_assert_int_eq(mesh_records_merge(peers[1].recs, MESH_REC_REVOKE, buf, n, NOW),
	    MESH_MERGE_NEW);
	ck_assert(!same_set(0, 1));
	round_all(2, &t);
	ck_assert_uint_gt(pump(), 2);
	ck_assert(same_set(0, 1));
	ck_assert_uint_eq(mesh_records_count(peers[0].recs, MESH_REC_REVOKE), 1);
	ck_assert_uint_eq(mesh_records_count(peers[0].recs, MESH_REC_CERT), 2 + NIDS - 1);
	/* endpoint records: 0x10, 0x11, 0x20-0x27 from 0, 0x28 and 0x2a from 1,
	 * less revoked 0x25 */
	ck_assert_uint_eq(mesh_records_count(peers[1].recs, MESH_REC_ENDPOINTS), 11);
	/* steady state: one SUMMARY each way, no answer */
	before = qtail;
	round_all(2, &t);
	ck_assert_uint_eq(qtail - before, 2);
	ck_assert_uint_eq(pump(), 2);
	peers_free();
}
END_TEST

/* An endpoint record differing only in content at the same seq settles on
 * the larger bytes on both sides (the "both ways" case of the diff). */
START_TEST(test_gossip_equal_version_conflict)
{
	uint8_t a[MESH_ENDPOINTS_MAX_LEN], b[MESH_ENDPOINTS_MAX_LEN];
	struct mesh_endpoints e;
	size_t na, nb;
	mtime_ns t = 0;

	peers_new(2);
	give(0, 0x11, true);
	give(1, 0x10, true);
	give(0, 0x30, false);
	give(1, 0x30, false);
	na = ep_for(0x30, 7, a, sizeof a);
	ck_assert_int_eq(mesh_endpoints_decode(a, na, &e), 0);
	e.ep[0].port = 4242;
	ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
	{
		struct wr w;

		wr_init(&w, b, sizeof b);
		ck_assert_int_eq(mesh_endpoints_encode(&e, &w), 0);
		nb = w.off;
	}
	ck_assert_int_eq(mesh_records_merge(peers[0].recs, MESH_REC_ENDPOINTS, a, na, NOW),
	    MESH_MERGE_NEW);
	ck_assert_int_eq(mesh_records_merge(peers[1].recs, MESH_REC_ENDPOINTS, b, nb, NOW),
	    MESH_MERGE_NEW);
	round_all(2, &t);
	pump();
	ck_assert(same_set(0, 1));
	peers_free();
}
END_TEST

/* A published record goes out as a rumour, is forwarded once with a lower
 * TTL, never back to its sender, and a duplicate is not forwarded. */
START_TEST(test_gossip_rumour_forwarded_once)
{
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	size_t n, before;

	peers_new(3);
	/* a line: 0 - 1 - 2 */
	give(0, 0x11, false);
	give(1, 0x10, false);
	give(1, 0x12, false);
	give(2, 0x11, false);
	give(2, 0x10, false);	/* 2 knows 0's cert, but 0 is not 2's peer ... */
	ck_assert_int_eq(mesh_gossip_set_reachable(peers[2].g, peers[0].id, false), 0);
	n = ep_for(0x10, 2000, buf, sizeof buf);
	ck_assert_int_eq(mesh_gossip_publish(peers[0].g, MESH_REC_ENDPOINTS, buf, n, 0, NOW),
	    MESH_MERGE_NEW);
	ck_assert_uint_eq(qtail, 1);
	ck_assert_uint_eq(q[0].to, 1);
	ck_assert_uint_eq(q[0].p[1], GOSSIP_MSG_RECORDS);
	ck_assert_uint_eq(q[0].p[2], GOSSIP_RECORDS_F_RUMOUR);
	ck_assert_uint_eq(q[0].p[3], GOSSIP_RUMOUR_TTL);
	/* 1 forwards to 2 only (not back to 0) */
	ck_assert_int_eq(mesh_gossip_input(peers[1].g, peers[0].id, q[0].p, q[0].n, 0, NOW), 0);
	ck_assert_uint_eq(qtail, 2);
	ck_assert_uint_eq(q[1].to, 2);
	ck_assert_uint_eq(q[1].p[3], GOSSIP_RUMOUR_TTL - 1);
	/* the same again at 1: a duplicate, no forwarding */
	before = qtail;
	ck_assert_int_eq(mesh_gossip_input(peers[1].g, peers[0].id, q[0].p, q[0].n, 0, NOW), 0);
	ck_assert_uint_eq(qtail, before);
	/* publishing it again is not NEW and sends nothing */
	ck_assert_int_eq(mesh_gossip_publish(peers[0].g, MESH_REC_ENDPOINTS, buf, n, 0, NOW),
	    MESH_MERGE_DUP);
	ck_assert_uint_eq(qtail, before);
	peers_free();
}
END_TEST

/* Malformed messages: dropped, counted, never answered. */
static void drop_case(const char *hex)
{
	uint8_t p[GOSSIP_DGRAM_MAX + 16];
	size_t n = strlen(hex) / 2;
	struct mesh_gossip_stats before, after;

	ck_assert_uint_le(n, sizeof p);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		p[i] = (uint8_t)v;
	}
	mesh_gossip_get_stats(peers[0].g, &before);
	ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, p, n, 0, NOW), 0);
	mesh_gossip_get_stats(peers[0].g, &after);
	ck_assert_msg(after.msgs_dropped == before.msgs_dropped + 1, "not dropped: %s", hex);
	ck_assert_uint_eq(qtail, 0);
}

#define ID16(b) b b b b b b b b b b b b b b b "01"
#define H64(b) ID16(b) ID16(b) ID16(b) ID16(b)	/* 64 bytes: 8 sub-bucket hashes */

START_TEST(test_gossip_malformed_dropped)
{
	peers_new(2);
	give(0, 0x11, false);
	drop_case("");
	drop_case("01");
	drop_case("0201");			/* version 2 */
	drop_case("0109");			/* unknown type */
	drop_case("0101");			/* SUMMARY, short */
	drop_case("0101" "0000000000000000000000000000000000000000000000000000000000000000"
	    "00000001" "00");			/* SUMMARY, trailing byte */
	drop_case("010202");			/* BUCKETS, half 2 */
	drop_case("010300");			/* DIGEST, no group */
	/* DIGEST, lo > hi */
	drop_case("010301" ID16("22") ID16("21") "00");
	/* DIGEST, entry outside its group */
	drop_case("010301" ID16("21") ID16("21") "01" "01" ID16("22")
	    "0000000000000001" "0000000000000000");
	/* DIGEST, unknown kind */
	drop_case("010301" ID16("21") ID16("21") "01" "05" ID16("21")
	    "0000000000000001" "0000000000000000");
	/* DIGEST, entries out of order */
	drop_case("010301" ID16("21") ID16("21") "02"
	    "03" ID16("21") "0000000000000001" "0000000000000000"
	    "01" ID16("21") "0000000000000001" "0000000000000000");
	/* DIGEST, overlapping groups */
	drop_case("010302" ID16("21") ID16("23") "00" ID16("22") ID16("24") "00");
	drop_case("010600");			/* SUBHASH, no bucket */
	drop_case("010601" "50" H64("11"));	/* SUBHASH, short */
	drop_case("010601" "50" H64("11") H64("11") "00");	/* SUBHASH, trailing byte */
	drop_case("010602" "51" H64("11") H64("11") "50" H64("11") H64("11"));	/* unordered */
	drop_case("010602" "50" H64("11") H64("11") "50" H64("11") H64("11"));	/* twice */
	drop_case("01060a" "50" H64("11") H64("11"));	/* SUBHASH, count above the maximum */
	drop_case("010500");			/* PULL, none */
	drop_case("01050101" ID16("21") "00");	/* PULL, trailing byte */
	drop_case("0105020111111111111111111111111111111101"
	    "0111111111111111111111111111111101");	/* PULL, duplicate key */
	drop_case("01040200000103000001");	/* RECORDS, unknown flag */
	drop_case("0104000100" "030000");	/* RECORDS, ttl without rumour flag */
	drop_case("010401" "0b" "01" "030001ff");	/* RECORDS, ttl above the maximum */
	drop_case("010400000000");		/* RECORDS, count 0 */
	drop_case("01040000010300");		/* RECORDS, short length */
	drop_case("0104000001030000");		/* RECORDS, length 0 */
	drop_case("01040000010300020a");	/* RECORDS, truncated record */
	drop_case("01040000010500010a");	/* RECORDS, unknown kind */
	peers_free();
}
END_TEST

START_TEST(test_gossip_oversized_dropped)
{
	uint8_t *p = calloc(1, GOSSIP_DGRAM_MAX + 1);
	struct mesh_gossip_stats st;

	ck_assert_ptr_nonnull(p);
	peers_new(2);
	give(0, 0x11, false);
	p[0] = GOSSIP_VERSION;
	p[1] = GOSSIP_MSG_SUMMARY;
	ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, p, GOSSIP_DGRAM_MAX + 1, 0,
	    NOW), 0);
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_eq(st.msgs_dropped, 1);
	ck_assert_uint_eq(qtail, 0);
	free(p);
	peers_free();
}
END_TEST

/* Many records: the exchange spans several datagrams, each within the
 * size limit (checked in on_send), and still converges. */
START_TEST(test_gossip_many_records_multi_datagram)
{
	mtime_ns t = 0;
	unsigned rounds = 0;

	peers_new(2);
	give(0, 0x11, false);
	give(1, 0x10, false);
	for (unsigned b = 0x20; b < 0xe0; b++)
		give(b % 3 == 0 ? 1 : 0, (uint8_t)b, true);
	while (!same_set(0, 1)) {
		ck_assert_uint_lt(rounds, 10);
		round_all(2, &t);
		pump();
		rounds++;
	}
	ck_assert_uint_eq(mesh_records_count(peers[0].recs, MESH_REC_ENDPOINTS), 2 + 0xc0);
	peers_free();
}
END_TEST

/* 60 nodes in one bucket: more entries than one DIGEST group holds, so the
 * bucket is split into groups that together cover it. */
START_TEST(test_gossip_crowded_bucket_split)
{
	mtime_ns t = 0;
	unsigned rounds = 0;

	crowd = true;
	peers_new(2);
	give(0, 0x11, false);
	give(1, 0x10, false);
	for (unsigned b = 0x60; b < 0x60 + 60; b++) {
		give(0, (uint8_t)b, b % 4 != 0);
		if (b % 3 == 0)
			give(1, (uint8_t)b, true);
	}
	while (!same_set(0, 1)) {
		ck_assert_uint_lt(rounds, 10);
		round_all(2, &t);
		pump();
		rounds++;
	}
	ck_assert_uint_eq(mesh_records_count(peers[1].recs, MESH_REC_CERT), 62);
	peers_free();
}
END_TEST

/* Both peers hold the same 60 crowded nodes (bucket 0x50, 120 entries: more
 * than GOSSIP_SUBHASH_MIN), then each gets one newer endpoint record of its
 * own (no rumour): the exchange narrows the bucket to the two sub-buckets
 * that differ. Returns the rounds until both sets are equal. */
static void ep_direct(unsigned p, uint8_t idb, uint64_t seq);

static unsigned crowded_one_newer(void)
{
	mtime_ns t = 0;
	unsigned rounds = 0;

	crowd = true;
	peers_new(2);
	give(0, 0x11, true);
	give(1, 0x10, true);
	for (unsigned b = 0x60; b < 0x60 + 60; b++) {
		give(0, (uint8_t)b, true);
		give(1, (uint8_t)b, true);
	}
	ck_assert(same_set(0, 1));
	ep_direct(0, 0x61, 2000);	/* sub-bucket 6 */
	ep_direct(1, 0x95, 2000);	/* sub-bucket 9 */
	while (!same_set(0, 1)) {
		ck_assert_uint_lt(rounds, 10);
		round_all(2, &t);
		pump();
		rounds++;
	}
	return rounds;
}

START_TEST(test_gossip_subhash_narrows)
{
	ck_assert_uint_eq(crowded_one_newer(), 1);
	for (unsigned p = 0; p < 2; p++) {
		/* SUBHASH went out, and the DIGEST answers listed two
		 * sub-buckets (~32 entries each), not the bucket (120) */
		ck_assert_uint_gt(type_bytes[p][GOSSIP_MSG_SUBHASH], 0);
		ck_assert_uint_lt(type_bytes[p][GOSSIP_MSG_DIGEST], 70 * MESH_DIGEST_ENTRY_LEN);
	}
	peers_free();
}
END_TEST

/* A peer far behind in one bucket: peer 0 holds 160 crowded nodes (320
 * entries over sub-buckets 6-15 of bucket 0x50), peer 1 one node of each of
 * those sub-buckets (20 entries). Only peer 0 starts an exchange: it narrows
 * the bucket, peer 1 answers with its entries of the ten sub-buckets, and
 * peer 0 pushes all 300 records it lacks at once (64 per sub-bucket listed),
 * not 64 for the whole answer. */
START_TEST(test_gossip_subhash_answer_push_cap)
{
	mtime_ns t = 0;

	crowd = true;
	peers_new(2);
	for (unsigned p = 0; p < 2; p++) {
		give(p, 0x10, true);
		give(p, 0x11, true);
	}
	for (unsigned b = 0x60; b <= 0xff; b++) {
		give(0, (uint8_t)b, true);
		if ((b & 0x0f) == 0)
			give(1, (uint8_t)b, true);
	}
	round_all(1, &t);	/* peer 0 only */
	pump();
	ck_assert_uint_gt(type_bytes[0][GOSSIP_MSG_SUBHASH], 0);
	ck_assert_uint_eq(mesh_records_count(peers[1].recs, MESH_REC_CERT), 2 + 160);
	ck_assert_uint_eq(mesh_records_count(peers[1].recs, MESH_REC_ENDPOINTS), 2 + 160);
	ck_assert(same_set(0, 1));
	peers_free();
}
END_TEST

/* Peer 1 acts as a node from before SUBHASH: it never narrows and drops
 * SUBHASH; the two still converge (peer 1 lists whole buckets, which
 * peer 0 answers as always). */
START_TEST(test_gossip_subhash_old_peer)
{
	struct mesh_gossip_stats st;

	old_peer1 = true;
	ck_assert_uint_le(crowded_one_newer(), 3);
	ck_assert_uint_eq(type_bytes[1][GOSSIP_MSG_SUBHASH], 0);
	ck_assert_uint_gt(type_bytes[0][GOSSIP_MSG_SUBHASH], 0);
	mesh_gossip_get_stats(peers[1].g, &st);
	ck_assert_uint_gt(st.msgs_dropped, 0);
	peers_free();
}
END_TEST

/* Merges endpoint record seq of node idb into peer p's set directly (no
 * rumour: only an exchange brings it to the other peer). */
static void ep_direct(unsigned p, uint8_t idb, uint64_t seq)
{
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	size_t n = ep_for(idb, seq, buf, sizeof buf);

	ck_assert_int_eq(mesh_records_merge(peers[p].recs, MESH_REC_ENDPOINTS, buf, n, NOW),
	    MESH_MERGE_NEW);
}

/* One round and what it causes brings peers 0 and 1 to the same set, and
 * the round after is the steady state (one SUMMARY each way). */
static void sync_one_round(mtime_ns *t, int line)
{
	size_t before;

	ck_assert_msg(!same_set(0, 1), "line %d: already in sync", line);
	round_all(2, t);
	pump();
	ck_assert_msg(same_set(0, 1), "line %d: not in sync after a round", line);
	before = qtail;
	round_all(2, t);
	ck_assert_uint_eq(qtail - before, 2);
	ck_assert_uint_eq(pump(), 2);
}

/* Both engines have cached every bucket hash (they differed at first);
 * then their sets change behind their backs, one bucket at a time, with
 * and without a change of the record count. Each change must reach the
 * other side in one round: a bucket hash kept from before the change
 * would equal the other side's and hide it. */
static void cache_follows_changes(void)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	mtime_ns t = 0;
	unsigned rounds = 0;
	size_t n;

	peers_new(2);
	give(0, 0x11, false);
	give(1, 0x10, false);
	for (uint8_t b = 0x20; b < 0x30; b++) {
		give(0, b, true);
		if (b % 2 == 0)
			give(1, b, true);
	}
	while (!same_set(0, 1)) {
		ck_assert_uint_lt(rounds, 5);
		round_all(2, &t);
		pump();
		rounds++;
	}
	/* the same record count: a newer record replaces one in bucket 0x22 */
	ep_direct(1, 0x22, 2000);
	sync_one_round(&t, __LINE__);
	/* two changes to one bucket between rounds */
	ep_direct(0, 0x23, 2000);
	ep_direct(0, 0x23, 3000);
	sync_one_round(&t, __LINE__);
	/* a record dropped (and a tombstone stored) in bucket 0x24 */
	n = revoke_for(0x24, buf, sizeof buf);
	ck_assert_int_eq(mesh_records_merge(peers[0].recs, MESH_REC_REVOKE, buf, n, NOW),
	    MESH_MERGE_NEW);
	sync_one_round(&t, __LINE__);
	ck_assert_uint_eq(mesh_records_count(peers[1].recs, MESH_REC_REVOKE), 1);
	/* both sides at once, in different buckets of the same half */
	ep_direct(0, 0x25, 2000);
	ep_direct(1, 0x26, 2000);
	sync_one_round(&t, __LINE__);
	/* bucket 0x22 again, changed on the other side this time */
	ep_direct(0, 0x22, 4000);
	sync_one_round(&t, __LINE__);
	peers_free();
}

START_TEST(test_gossip_cache_follows_changes)
{
	cache_follows_changes();
}
END_TEST

/* The same with both sets on one record pool, as in the simulation: a
 * record pushed to the other side is the same pooled copy. */
START_TEST(test_gossip_cache_follows_changes_pooled)
{
	int err;

	share = mesh_rec_pool_new(&err);
	ck_assert_ptr_nonnull(share);
	cache_follows_changes();
	ck_assert_uint_eq(mesh_rec_pool_count(share), 0);
	mesh_rec_pool_free(share);
	share = NULL;
}
END_TEST

/* A node flooded with requests stops answering once its round budget is
 * spent, and answers again after its next round. */
START_TEST(test_gossip_round_budget)
{
	uint8_t msg[2 + MESH_RECORDS_SET_HASH_LEN + 4];
	struct mesh_gossip_stats st;
	mtime_ns t;
	size_t answered = 0;

	peers_new(2);
	give(0, 0x11, false);
	memset(msg, 0, sizeof msg);
	msg[0] = GOSSIP_VERSION;
	msg[1] = GOSSIP_MSG_SUMMARY;
	msg[2] = 0xee;	/* a set hash that never matches */
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, 0, NOW), 0);
	t = mesh_gossip_next_expiry(peers[0].g);
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, t, NOW), 0);
	q_clear();
	for (unsigned i = 0; i < 200; i++) {
		size_t before = qtail;

		ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, msg, sizeof msg, t,
		    NOW), 0);
		answered += qtail > before;
		q_clear();
	}
	/* the round's own SUMMARY (38 bytes) counts; each answer is two BUCKETS
	 * datagrams of 1027 bytes: answered while 38 + 2054 k < budget */
	ck_assert_uint_eq(answered, (GOSSIP_ROUND_BUDGET - 38 + 2 * 1027 - 1) / (2 * 1027));
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_eq(st.msgs_deferred, 200 - answered);
	t += MSEC(GOSSIP_INTERVAL_MS);
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, t, NOW), 0);
	q_clear();
	ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, msg, sizeof msg, t, NOW), 0);
	ck_assert_uint_eq(qtail, 2);
	peers_free();
}
END_TEST

/* With many records held the budget grows with the set: GOSSIP_BUDGET_PER_RECORD
 * per record, so that a large set can still be handed over in a few rounds. */
START_TEST(test_gossip_round_budget_scales)
{
	uint8_t msg[2 + MESH_RECORDS_SET_HASH_LEN + 4];
	size_t answered = 0, budget;
	struct mesh_gossip_stats st;
	uint64_t round0;
	mtime_ns t;

	peers_new(2);
	for (unsigned i = 0; i < 200; i++)
		give(0, (uint8_t)(0x20 + i), true);
	ck_assert_uint_ge(mesh_records_count(peers[0].recs, 0), 400);
	budget = mesh_records_count(peers[0].recs, 0) * GOSSIP_BUDGET_PER_RECORD;
	ck_assert_uint_gt(budget, GOSSIP_ROUND_BUDGET);
	memset(msg, 0, sizeof msg);
	msg[0] = GOSSIP_VERSION;
	msg[1] = GOSSIP_MSG_SUMMARY;
	msg[2] = 0xee;
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, 0, NOW), 0);
	t = mesh_gossip_next_expiry(peers[0].g);
	ck_assert_int_eq(mesh_gossip_handle_expiry(peers[0].g, t, NOW), 0);
	mesh_gossip_get_stats(peers[0].g, &st);
	round0 = st.bytes_sent;		/* the round's own SUMMARYs count */
	q_clear();
	for (unsigned i = 0; i < 200; i++) {
		size_t before = qtail;

		ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, msg, sizeof msg, t,
		    NOW), 0);
		answered += qtail > before;
		q_clear();
	}
	/* two BUCKETS datagrams of 1027 bytes per answer, answered while
	 * round0 + 2054 k < budget: more than the fixed budget allows */
	ck_assert_uint_eq(answered, (budget - round0 + 2 * 1027 - 1) / (2 * 1027));
	ck_assert_uint_gt(answered, (GOSSIP_ROUND_BUDGET - round0 + 2 * 1027 - 1) / (2 * 1027));
	peers_free();
}
END_TEST

/* One RECORDS message from peer 1 to peer 0 holding four ENDPOINTS records
 * of node idb, seqs seq..seq+3, signatures spoiled when bad. Returns the
 * message length. */
static size_t records_msg(uint8_t idb, uint64_t seq, bool bad, uint8_t *m, size_t cap)
{
	size_t off = 5;

	m[0] = GOSSIP_VERSION;
	m[1] = GOSSIP_MSG_RECORDS;
	m[2] = 0;
	m[3] = 0;
	m[4] = 4;
	for (unsigned k = 0; k < 4; k++) {
		uint8_t rec[MESH_ENDPOINTS_MAX_LEN];
		size_t n = ep_for(idb, seq + k, rec, sizeof rec);

		if (bad)
			rec[n - 1] ^= 0x55;
		ck_assert_uint_le(off + 3 + n, cap);
		m[off] = MESH_REC_ENDPOINTS;
		m[off + 1] = (uint8_t)(n >> 8);
		m[off + 2] = (uint8_t)n;
		memcpy(m + off + 3, rec, n);
		off += 3 + n;
	}
	return off;
}

/* The same, of node 0x11: peer 1's own records. */
static size_t flood_msg(uint64_t seq, bool bad, uint8_t *m, size_t cap)
{
	return records_msg(0x11, seq, bad, m, cap);
}

/* A member floods 1500 RECORDS messages a second for 5 s (4 records each,
 * 30,000 in all) that each need a signature check: with bad signatures it
 * gets a handful of checks, with good ones (its own records, ever newer) at
 * most the burst and GOSSIP_VERIFY_PER_S a second; afterwards a good record
 * from it still gets through. */
START_TEST(test_gossip_verify_budget)
{
	uint8_t m[GOSSIP_DGRAM_MAX];
	struct mesh_gossip_stats st;
	uint64_t seq = 2000;
	mtime_ns t = SEC(100);

	for (int bad = 1; bad >= 0; bad--) {
		peers_new(2);
		give(0, 0x11, true);
		for (unsigned i = 0; i < 7500; i++, seq += 4) {
			size_t n = flood_msg(seq, bad, m, sizeof m);

			t += SEC(1) / 1500;
			ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, m, n, t, NOW), 0);
			q_clear();
		}
		mesh_gossip_get_stats(peers[0].g, &st);
		if (bad) {
			ck_assert_uint_eq(st.records_new, 0);
			ck_assert_uint_le(st.records_checked, 64);
			ck_assert_uint_ge(st.records_skipped, 29000);
			/* a good record later still gets in (within a second) */
			for (unsigned i = 0; i < 10 && st.records_new == 0; i++) {
				size_t n = flood_msg(seq, false, m, sizeof m);

				seq += 4;
				t += SEC(1) / 10;
				ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, m, n, t,
				    NOW), 0);
				q_clear();
				mesh_gossip_get_stats(peers[0].g, &st);
			}
			ck_assert_uint_gt(st.records_new, 0);
		} else {
			ck_assert_uint_le(st.records_checked,
			    GOSSIP_VERIFY_BURST + 5 * GOSSIP_VERIFY_PER_S + 4);
			ck_assert_uint_ge(st.records_checked, GOSSIP_VERIFY_BURST);
			ck_assert_uint_eq(st.records_invalid, 0);
		}
		peers_free();
	}
}
END_TEST

enum { FOREIGN_NODES = 128, FOREIGN_MSGS = 1000 };

/* Peer 1 sends FOREIGN_MSGS RECORDS messages within one second, 4 records
 * each about the other members 0x20.. (ever newer): from phase 0 on. */
static void foreign_flood(bool bad, uint64_t *seq, mtime_ns *t)
{
	uint8_t m[GOSSIP_DGRAM_MAX];

	for (unsigned i = 0; i < FOREIGN_MSGS; i++) {
		size_t n = records_msg((uint8_t)(0x20 + i % FOREIGN_NODES),
		    *seq + (i / FOREIGN_NODES) * 4, bad, m, sizeof m);

		*t += SEC(1) / FOREIGN_MSGS;
		ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, m, n, *t, NOW), 0);
		q_clear();
	}
	*seq += (FOREIGN_MSGS / FOREIGN_NODES + 1) * 4;
}

/* Records about other members (a bootstrap's bulk) from a sender whose
 * records all verified are checked beyond the per-sender budget: 4,000 in
 * one second, all NEW. A flood of invalid ones is capped as one of the
 * sender's own (one unbudgeted check, then a handful), and after it the
 * sender's good records are budgeted until NEW ones took its strikes away. */
START_TEST(test_gossip_verify_foreign)
{
	struct mesh_gossip_stats st;
	uint64_t seq = 2000;
	mtime_ns t = SEC(100);

	/* genuine, all verifying: no budget */
	peers_new(2);
	for (unsigned i = 0; i < FOREIGN_NODES; i++)
		give(0, (uint8_t)(0x20 + i), false);
	foreign_flood(false, &seq, &t);
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_eq(st.records_new, 4 * FOREIGN_MSGS);
	ck_assert_uint_eq(st.records_skipped, 0);
	ck_assert_uint_eq(st.records_unbudgeted, 4 * FOREIGN_MSGS);
	ck_assert_uint_gt(st.records_checked, GOSSIP_VERIFY_BURST + GOSSIP_VERIFY_PER_S);
	peers_free();

	/* invalid ones: one unbudgeted check, then the budget with strikes;
	 * 5 floods of one second each (20,000 records) */
	peers_new(2);
	for (unsigned i = 0; i < FOREIGN_NODES; i++)
		give(0, (uint8_t)(0x20 + i), false);
	for (unsigned k = 0; k < 5; k++)
		foreign_flood(true, &seq, &t);
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_eq(st.records_new, 0);
	ck_assert_uint_eq(st.records_unbudgeted, 1);
	ck_assert_uint_le(st.records_checked, 64);
	ck_assert_uint_ge(st.records_skipped, 5 * 4 * FOREIGN_MSGS - 64);
	/* then good ones from the same sender: budgeted until NEW ones have
	 * worked its strikes off, unbudgeted again after that */
	foreign_flood(false, &seq, &t);
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_gt(st.records_skipped, 5 * 4 * FOREIGN_MSGS);
	ck_assert_uint_gt(st.records_new, 0);
	ck_assert_uint_gt(st.records_unbudgeted, 1);
	peers_free();
}
END_TEST

/* A member alternates invalid records about others (unbudgeted while it has
 * no strike) with valid ones of its own (budgeted; a NEW one takes a strike
 * away): each unbudgeted check needs a budgeted NEW before it, so its
 * checks stay within twice the budget. 1500 messages a second for 2 s,
 * 12,000 records. */
START_TEST(test_gossip_verify_foreign_alternating)
{
	uint8_t m[GOSSIP_DGRAM_MAX];
	struct mesh_gossip_stats st;
	uint64_t own = 5000, seq = 2000;
	mtime_ns t = SEC(100);

	peers_new(2);
	give(0, 0x11, true);
	for (unsigned i = 0; i < FOREIGN_NODES; i++)
		give(0, (uint8_t)(0x20 + i), false);
	for (unsigned i = 0; i < 3000; i++) {
		size_t n = i % 2 == 0 ? records_msg((uint8_t)(0x20 + (i / 2) % FOREIGN_NODES),
		    seq + (i / 2 / FOREIGN_NODES) * 4, true, m, sizeof m) :
		    flood_msg(own += 4, false, m, sizeof m);

		t += SEC(1) / 1500;
		ck_assert_int_eq(mesh_gossip_input(peers[0].g, peers[1].id, m, n, t, NOW), 0);
		q_clear();
	}
	mesh_gossip_get_stats(peers[0].g, &st);
	ck_assert_uint_le(st.records_unbudgeted, st.records_new + 1);
	ck_assert_uint_le(st.records_checked,
	    2 * (GOSSIP_VERIFY_BURST + 2 * GOSSIP_VERIFY_PER_S) + 1);
	ck_assert_uint_ge(st.records_skipped, 12000 - 2 * (GOSSIP_VERIFY_BURST +
	    2 * GOSSIP_VERIFY_PER_S) - 1);
	peers_free();
}
END_TEST

static Suite *suite_gossip(void)
{
	Suite *s = suite_create("gossip");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_gossip_new_rejects_missing_send);
	tcase_add_test(tc, test_gossip_reachable_set);
	tcase_add_test(tc, test_gossip_first_expiry_sets_phase_only);
	tcase_add_test(tc, test_gossip_two_nodes_sync);
	tcase_add_test(tc, test_gossip_equal_version_conflict);
	tcase_add_test(tc, test_gossip_rumour_forwarded_once);
	tcase_add_test(tc, test_gossip_malformed_dropped);
	tcase_add_test(tc, test_gossip_oversized_dropped);
	tcase_add_test(tc, test_gossip_many_records_multi_datagram);
	tcase_add_test(tc, test_gossip_crowded_bucket_split);
	tcase_add_test(tc, test_gossip_subhash_narrows);
	tcase_add_test(tc, test_gossip_subhash_old_peer);
	tcase_add_test(tc, test_gossip_subhash_answer_push_cap);
	tcase_add_test(tc, test_gossip_cache_follows_changes);
	tcase_add_test(tc, test_gossip_cache_follows_changes_pooled);
	tcase_add_test(tc, test_gossip_round_budget);
	tcase_add_test(tc, test_gossip_round_budget_scales);
	tcase_add_test(tc, test_gossip_verify_budget);
	tcase_add_test(tc, test_gossip_verify_foreign);
	tcase_add_test(tc, test_gossip_verify_foreign_alternating);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_gossip());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
