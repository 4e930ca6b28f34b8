/* Endpoint records (mesh/endpoints.h) and the gossiped record set with its
 * merge rules (mesh/records.h), including a randomized differential test of
 * the merge against a "recompute from all records" reference model. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/records.h"
#include "mesh/routes.h"
#include "util/err.h"

enum { NOW = 1800000000 };	/* 2027-01-15 */

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t other_pk[MESH_PK_LEN], other_sk[MESH_SK_LEN];
static uint8_t node_pk[MESH_PK_LEN], node_sk[MESH_SK_LEN];	/* node 0x11's key */
static uint8_t node2_pk[MESH_PK_LEN], node2_sk[MESH_SK_LEN];	/* its next key */
static uint8_t mesh_id[MESH_ID_LEN];

static void keys_setup(void)
{
	ck_assert_int_eq(mesh_identity_authority_keygen(auth_pk, auth_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(other_pk, other_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(node_pk, node_sk), 0);
	ck_assert_int_eq(mesh_identity_authority_keygen(node2_pk, node2_sk), 0);
	mesh_identity_mesh_id(auth_pk, mesh_id);
}

static void keys_teardown(void)
{
	sodium_memzero(auth_sk, sizeof auth_sk);
	sodium_memzero(other_sk, sizeof other_sk);
	sodium_memzero(node_sk, sizeof node_sk);
	sodium_memzero(node2_sk, sizeof node2_sk);
}

/* ---- record builders ---- */

struct bytes {
	uint8_t p[MESH_CERT_MAX_LEN];
	size_t n;
};

/* Lexicographic order of byte strings; a proper prefix is smaller. */
static int bytes_cmp(const struct bytes *a, const struct bytes *b)
{
	int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);

	if (c != 0)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

static void set_id(uint8_t id[MESH_NODE_ID_LEN], uint8_t b)
{
	memset(id, b, MESH_NODE_ID_LEN);
}

/* A certificate for node id signed by sk (for the mesh of sk's key). */
static void cert_bytes_id(struct bytes *out, const uint8_t *sk, const uint8_t *id,
    const char *name, uint64_t issued, uint64_t expires, const uint8_t sign_pk[MESH_PK_LEN])
{
	struct mesh_cert c;
	uint8_t pk[MESH_PK_LEN];
	struct wr w;

	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	mesh_identity_sk_to_pk(sk, pk);
	mesh_identity_mesh_id(pk, c.mesh_id);
	memcpy(c.node_id, id, MESH_NODE_ID_LEN);
	strcpy(c.name, name);
	memset(c.wg_pubkey, id[0], sizeof c.wg_pubkey);
	memcpy(c.sign_pk, sign_pk, MESH_PK_LEN);
	c.ipv4[0] = 100;
	c.ipv4[1] = 64;
	c.ipv4[3] = id[0];
	c.issued_at = issued;
	c.expires_at = expires;
	ck_assert_int_eq(mesh_cert_sign(&c, sk), 0);
	wr_init(&w, out->p, sizeof out->p);
	ck_assert_int_eq(mesh_cert_encode(&c, &w), 0);
	out->n = w.off;
}

/* The same for node id 16 x idb. */
static void cert_bytes(struct bytes *out, const uint8_t *sk, uint8_t idb, const char *name,
    uint64_t issued, uint64_t expires, const uint8_t sign_pk[MESH_PK_LEN])
{
	uint8_t id[MESH_NODE_ID_LEN];

	set_id(id, idb);
	cert_bytes_id(out, sk, id, name, issued, expires, sign_pk);
}

static void revoke_bytes_id(struct bytes *out, const uint8_t *sk, const uint8_t *id,
    uint64_t at)
{
	struct mesh_revoke rv;
	uint8_t pk[MESH_PK_LEN];
	struct wr w;

	memset(&rv, 0, sizeof rv);
	rv.version = MESH_REVOKE_VERSION;
	mesh_identity_sk_to_pk(sk, pk);
	mesh_identity_mesh_id(pk, rv.mesh_id);
	memcpy(rv.node_id, id, MESH_NODE_ID_LEN);
	rv.revoked_at = at;
	ck_assert_int_eq(mesh_revoke_sign(&rv, sk), 0);
	wr_init(&w, out->p, sizeof out->p);
	ck_assert_int_eq(mesh_revoke_encode(&rv, &w), 0);
	out->n = w.off;
}

static void revoke_bytes(struct bytes *out, const uint8_t *sk, uint8_t idb, uint64_t at)
{
	uint8_t id[MESH_NODE_ID_LEN];

	set_id(id, idb);
	revoke_bytes_id(out, sk, id, at);
}

/* An endpoint record with nep endpoints (port = 51820 + i; v4 and v6). */
static void ep_fill(struct mesh_endpoints *e, uint8_t idb, uint64_t seq, uint64_t ts,
    unsigned nep)
{
	memset(e, 0, sizeof *e);
	e->version = MESH_ENDPOINTS_VERSION;
	memcpy(e->mesh_id, mesh_id, MESH_ID_LEN);
	set_id(e->node_id, idb);
	e->seq = seq;
	e->timestamp = ts;
	e->nep = (uint8_t)nep;
	for (unsigned i = 0; i < nep; i++) {
		struct mesh_ep *ep = &e->ep[i];

		ep->source = (uint8_t)(MESH_EP_LOCAL + i % 3);
		ep->port = (uint16_t)(51820 + i);
		if (i % 2 == 0) {
			ep->family = MESH_FAMILY_V4;
			ep->addr[0] = 198;
			ep->addr[1] = 51;
			ep->addr[2] = 100;
			ep->addr[3] = (uint8_t)(1 + i);
		} else {
			ep->family = MESH_FAMILY_V6;
			ep->addr[0] = 0x20;
			ep->addr[1] = 0x01;
			ep->addr[2] = 0x0d;
			ep->addr[3] = 0xb8;
			ep->addr[15] = (uint8_t)(1 + i);
		}
	}
	mesh_endpoints_normalize(e);
}

static void ep_encode(const struct mesh_endpoints *e, struct bytes *out)
{
	struct wr w;

	wr_init(&w, out->p, sizeof out->p);
	ck_assert_int_eq(mesh_endpoints_encode(e, &w), 0);
	out->n = w.off;
}

static void ep_bytes(struct bytes *out, const uint8_t *sk, uint8_t idb, uint64_t seq,
    uint64_t ts, unsigned nep)
{
	struct mesh_endpoints e;

	ep_fill(&e, idb, seq, ts, nep);
	ck_assert_int_eq(mesh_endpoints_sign(&e, sk), 0);
	ep_encode(&e, out);
}

/* ---- endpoint record codec ---- */

START_TEST(test_endpoints_roundtrip_canonical)
{
	static const unsigned neps[] = { 0, 1, 2, 5, MESH_ENDPOINTS_MAX };
	struct mesh_endpoints e, d;
	struct bytes b, b2;

	for (unsigned i = 0; i < 5; i++) {
		ep_fill(&e, 0x11, 1000 + i, NOW, neps[i]);
		ck_assert_uint_eq(e.nep, neps[i]);
		ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
		ep_encode(&e, &b);
		ck_assert_int_eq(mesh_endpoints_decode(b.p, b.n, &d), 0);
		ck_assert_mem_eq(&e, &d, sizeof e);
		ck_assert(mesh_endpoints_verify(&d, node_pk, mesh_id, NOW));
		ep_encode(&d, &b2);
		ck_assert_uint_eq(b.n, b2.n);
		ck_assert_mem_eq(b.p, b2.p, b.n);
	}
	/* pins the layout: 8 endpoints, 4 v4 and 4 v6 */
	ck_assert_uint_eq(b.n, MESH_ENDPOINTS_FIXED_LEN + 4 * (2 + 4 + 2) + 4 * (2 + 16 + 2));
	ck_assert_uint_eq(MESH_ENDPOINTS_FIXED_LEN, 130);
	ck_assert_uint_eq(MESH_ENDPOINTS_MAX_LEN, 290);
}
END_TEST

START_TEST(test_endpoints_every_bit_flip_rejected)
{
	struct mesh_endpoints d;
	struct bytes b;
	size_t bit;
	unsigned decoded = 0;

	ep_bytes(&b, node_sk, 0x11, 7, NOW, 3);
	for (bit = 0; bit < 8 * b.n; bit++) {
		b.p[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		if (mesh_endpoints_decode(b.p, b.n, &d) == 0) {
			decoded++;
			ck_assert_msg(!mesh_endpoints_verify(&d, node_pk, mesh_id, NOW),
			    "bit %zu accepted", bit);
		}
		b.p[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	ck_assert_uint_gt(decoded, 0);
	ck_assert_int_eq(mesh_endpoints_decode(b.p, b.n, &d), 0);
	ck_assert(mesh_endpoints_verify(&d, node_pk, mesh_id, NOW));
}
END_TEST

START_TEST(test_endpoints_decode_truncated_and_trailing)
{
	struct mesh_endpoints d;
	struct bytes b;
	size_t i;

	ep_bytes(&b, node_sk, 0x11, 7, NOW, 4);
	for (i = 0; i < b.n; i++) {
		memset(&d, 0xaa, sizeof d);
		ck_assert_int_eq(mesh_endpoints_decode(b.p, i, &d), MESHD_E_PROTO);
		ck_assert_uint_eq(d.version, 0);
		ck_assert_uint_eq(d.nep, 0);
	}
	b.p[b.n] = 0;
	ck_assert_int_eq(mesh_endpoints_decode(b.p, b.n + 1, &d), MESHD_E_PROTO);
	ck_assert_int_eq(mesh_endpoints_decode(NULL, 0, &d), MESHD_E_PROTO);
}
END_TEST

/* Offsets in an encoded record. */
enum {
	OFF_NEP = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN + 8 + 8,
	OFF_EP0 = OFF_NEP + 1,		/* first endpoint: source, family, addr, port */
};

/* Decodes orig with byte off set to val; expects MESHD_E_PROTO. */
static void ep_mutate_case(const struct bytes *orig, size_t off, uint8_t val)
{
	struct mesh_endpoints d;
	struct bytes b = *orig;

	b.p[off] = val;
	ck_assert_msg(mesh_endpoints_decode(b.p, b.n, &d) == MESHD_E_PROTO, "off %zu val %u",
	    off, val);
}

/* A record with one endpoint (source, family, addr, port) must not decode. */
static void ep_one_case(uint8_t source, uint8_t family, const char *addr_hex, uint16_t port)
{
	struct mesh_endpoints e, d;
	struct bytes b;
	struct wr w;
	size_t alen = family == MESH_FAMILY_V4 ? 4 : 16;

	ep_fill(&e, 0x11, 1, NOW, 0);
	/* written by hand: encode() would refuse it */
	wr_init(&w, b.p, sizeof b.p);
	ck_assert_int_eq(wr_u8(&w, e.version), 0);
	ck_assert_int_eq(wr_bytes(&w, e.mesh_id, MESH_ID_LEN), 0);
	ck_assert_int_eq(wr_bytes(&w, e.node_id, MESH_NODE_ID_LEN), 0);
	ck_assert_int_eq(wr_u64(&w, e.seq), 0);
	ck_assert_int_eq(wr_u64(&w, e.timestamp), 0);
	ck_assert_int_eq(wr_u8(&w, 1), 0);
	ck_assert_int_eq(wr_u8(&w, source), 0);
	ck_assert_int_eq(wr_u8(&w, family), 0);
	for (size_t i = 0; i < alen; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(addr_hex + 2 * i, "%2x", &v), 1);
		ck_assert_int_eq(wr_u8(&w, (uint8_t)v), 0);
	}
	ck_assert_int_eq(wr_u16(&w, port), 0);
	ck_assert_int_eq(wr_bytes(&w, e.sig, MESH_SIG_LEN), 0);
	ck_assert_msg(mesh_endpoints_decode(b.p, w.off, &d) == MESHD_E_PROTO, "%u %u %s %u",
	    source, family, addr_hex, port);
}

/* A TCP entry (source 4) is a valid entry: encodes, decodes, sorts last. */
START_TEST(test_endpoints_tcp_entry)
{
	struct mesh_endpoints e, d;
	struct bytes b;
	struct wr w;

	ep_fill(&e, 0x11, 1, NOW, 2);
	e.ep[1].source = MESH_EP_TCP;	/* after ep0 (local) */
	e.ep[1].port = 443;
	ck_assert(mesh_ep_valid(&e.ep[1]));
	ck_assert(mesh_ep_is_tcp(&e.ep[1]) && !mesh_ep_is_tcp(&e.ep[0]));
	mesh_endpoints_normalize(&e);
	ck_assert_uint_eq(e.ep[1].source, MESH_EP_TCP);
	ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
	wr_init(&w, b.p, sizeof b.p);
	ck_assert_int_eq(mesh_endpoints_encode(&e, &w), 0);
	ck_assert_int_eq(mesh_endpoints_decode(b.p, w.off, &d), 0);
	ck_assert_uint_eq(d.nep, 2);
	ck_assert_uint_eq(d.ep[1].source, MESH_EP_TCP);
	ck_assert_uint_eq(d.ep[1].port, 443);
}
END_TEST

START_TEST(test_endpoints_decode_rejects_table)
{
	struct bytes b;

	ep_bytes(&b, node_sk, 0x11, 7, NOW, 2);	/* ep0 local v4, ep1 reflexive v6 */
	ep_mutate_case(&b, 0, 0);			/* version 0 */
	ep_mutate_case(&b, 0, 2);			/* version 2 */
	ep_mutate_case(&b, OFF_NEP, MESH_ENDPOINTS_MAX + 1);	/* too many */
	ep_mutate_case(&b, OFF_NEP, 3);			/* count beyond the data */
	ep_mutate_case(&b, OFF_EP0, 0);			/* source 0 */
	ep_mutate_case(&b, OFF_EP0, 5);			/* unknown source */
	ep_mutate_case(&b, OFF_EP0, MESH_EP_PORTMAP);	/* now after ep1: unsorted */
	ep_mutate_case(&b, OFF_EP0 + 1, 5);		/* family */
	ep_mutate_case(&b, OFF_EP0 + 1, 6);		/* v4 bytes read as v6: length */
	ep_one_case(1, 4, "7f000001", 1);		/* 127.0.0.1 */
	ep_one_case(1, 4, "00000000", 1);		/* 0.0.0.0 */
	ep_one_case(1, 4, "ffffffff", 1);		/* broadcast */
	ep_one_case(1, 4, "e0000001", 1);		/* multicast */
	ep_one_case(1, 4, "c6336401", 0);		/* port 0 */
	ep_one_case(0, 4, "c6336401", 1);		/* source 0 */
	ep_one_case(5, 4, "c6336401", 1);		/* source 5 */
	ep_one_case(1, 6, "00000000000000000000000000000000", 1);	/* :: */
	ep_one_case(1, 6, "00000000000000000000000000000001", 1);	/* ::1 */
	ep_one_case(1, 6, "ff020000000000000000000000000001", 1);	/* ff02::1 */
	ep_one_case(1, 6, "00000000000000000000ffffc6336401", 1);	/* v4-mapped */
}
END_TEST

START_TEST(test_endpoints_normalize_and_encode_rejects)
{
	struct mesh_endpoints e, bad;
	uint8_t buf[MESH_ENDPOINTS_MAX_LEN];
	struct wr w;

	ep_fill(&e, 0x11, 1, NOW, 3);
	bad = e;
	bad.ep[0] = e.ep[1];
	bad.ep[1] = e.ep[0];			/* unsorted */
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_endpoints_sign(&bad, node_sk), MESHD_E_INVAL);
	mesh_endpoints_normalize(&bad);
	ck_assert_mem_eq(&bad, &e, sizeof e);
	bad.ep[2] = bad.ep[1];			/* duplicate */
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), MESHD_E_INVAL);
	mesh_endpoints_normalize(&bad);
	ck_assert_uint_eq(bad.nep, 2);
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), 0);
	bad = e;
	bad.nep = MESH_ENDPOINTS_MAX + 1;
	w.off = 0;
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), MESHD_E_INVAL);
	bad = e;
	bad.ep[0].addr[5] = 1;			/* junk after a v4 address */
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), MESHD_E_INVAL);
	bad = e;
	bad.version = 2;
	ck_assert_int_eq(mesh_endpoints_encode(&bad, &w), MESHD_E_INVAL);
	ck_assert_uint_eq(w.off, 0);
	wr_init(&w, buf, 40);			/* too small: nothing written */
	ck_assert_int_eq(mesh_endpoints_encode(&e, &w), MESHD_E_RANGE);
	ck_assert_uint_eq(w.off, 0);
}
END_TEST

START_TEST(test_endpoints_verify_times_mesh_key)
{
	struct mesh_endpoints e;
	uint8_t other_id[MESH_ID_LEN];

	ep_fill(&e, 0x11, 1, NOW, 1);
	ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
	ck_assert(mesh_endpoints_verify(&e, node_pk, mesh_id, NOW));
	ck_assert(!mesh_endpoints_verify(&e, node2_pk, mesh_id, NOW));
	mesh_identity_mesh_id(other_pk, other_id);
	ck_assert(!mesh_endpoints_verify(&e, node_pk, other_id, NOW));
	ck_assert(mesh_endpoints_verify(&e, node_pk, mesh_id, NOW + MESH_ENDPOINTS_TTL_S - 1));
	ck_assert(!mesh_endpoints_verify(&e, node_pk, mesh_id, NOW + MESH_ENDPOINTS_TTL_S));
	ck_assert(mesh_endpoints_verify(&e, node_pk, mesh_id, NOW - MESH_CERT_SKEW_S));
	ck_assert(!mesh_endpoints_verify(&e, node_pk, mesh_id, NOW - MESH_CERT_SKEW_S - 1));
	ck_assert_uint_eq(mesh_endpoints_expiry(&e), NOW + MESH_ENDPOINTS_TTL_S);
	e.timestamp = UINT64_MAX - 1;
	ck_assert_uint_eq(mesh_endpoints_expiry(&e), UINT64_MAX);
}
END_TEST

START_TEST(test_endpoints_signature_is_domain_separated)
{
	uint8_t body[MESH_ENDPOINTS_MAX_LEN];
	struct mesh_endpoints e;
	struct wr w;

	ep_fill(&e, 0x11, 1, NOW, 2);
	wr_init(&w, body, sizeof body);
	ck_assert_int_eq(mesh_endpoints_encode(&e, &w), 0);
	ck_assert_int_eq(mesh_identity_sign(node_sk, MESH_CERT_DOMAIN, body,
	    w.off - MESH_SIG_LEN, e.sig), 0);
	ck_assert(!mesh_endpoints_verify(&e, node_pk, mesh_id, NOW));
	ck_assert_int_eq(mesh_identity_sign(node_sk, MESH_ENDPOINTS_DOMAIN, body,
	    w.off - MESH_SIG_LEN, e.sig), 0);
	ck_assert(mesh_endpoints_verify(&e, node_pk, mesh_id, NOW));
}
END_TEST

/* ---- the record set ---- */

enum { MAX_EVENTS = 64 };

struct ev_log {
	unsigned n;
	struct {
		enum mesh_rec_event_type type;
		uint8_t idb;
		bool has_ep;
		bool ep_held;		/* an endpoint record was held (peek) */
		enum mesh_rec_gone gone;
	} ev[MAX_EVENTS];
	struct mesh_records *recs;	/* for the re-entrancy test */
	struct mesh_records *peek;	/* read from inside the callback */
	int reentry;
};

static void log_event(void *ctx, const struct mesh_rec_event *ev)
{
	struct ev_log *log = ctx;

	if (log->recs != NULL) {
		uint8_t junk[1] = { 0 };

		log->reentry = mesh_records_merge(log->recs, MESH_REC_CERT, junk, 1, NOW);
	}
	ck_assert_uint_lt(log->n, MAX_EVENTS);
	log->ev[log->n].type = ev->type;
	log->ev[log->n].idb = ev->node_id[0];
	log->ev[log->n].has_ep = ev->endpoints != NULL;
	log->ev[log->n].gone = ev->gone;
	if (log->peek != NULL) {
		const uint8_t *p;
		size_t n;

		log->ev[log->n].ep_held = mesh_records_get(log->peek, MESH_REC_ENDPOINTS,
		    ev->node_id, &p, &n) == 0;
	}
	if (ev->type == MESH_EV_MEMBER_ADDED || ev->type == MESH_EV_MEMBER_CHANGED)
		ck_assert_ptr_nonnull(ev->cert);
	log->n++;
}

static struct mesh_records *new_set_in(struct mesh_rec_pool *pool, struct ev_log *log,
    size_t max_nodes, size_t max_pending)
{
	struct mesh_records_cfg cfg;
	struct mesh_records *recs;
	int err;

	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.authority_pk, auth_pk, MESH_PK_LEN);
	cfg.pool = pool;
	cfg.max_nodes = max_nodes;
	cfg.max_pending = max_pending;
	if (log != NULL) {
		memset(log, 0, sizeof *log);
		cfg.on_event = log_event;
		cfg.ctx = log;
	}
	recs = mesh_records_new(&cfg, &err);
	ck_assert_ptr_nonnull(recs);
	ck_assert_int_eq(err, 0);
	return recs;
}

static struct mesh_records *new_set(struct ev_log *log, size_t max_nodes, size_t max_pending)
{
	return new_set_in(NULL, log, max_nodes, max_pending);
}

static struct mesh_rec_pool *new_pool(void)
{
	int err;
	struct mesh_rec_pool *pool = mesh_rec_pool_new(&err);

	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(err, 0);
	return pool;
}

static int merge(struct mesh_records *recs, enum mesh_rec_kind kind, const struct bytes *b)
{
	return mesh_records_merge(recs, kind, b->p, b->n, NOW);
}

/* One merge case: kind, record, expected outcome. */
static void merge_case(struct mesh_records *recs, enum mesh_rec_kind kind, const struct bytes *b,
    int want, int line)
{
	int got = merge(recs, kind, b);

	ck_assert_msg(got == want, "line %d: got %s (%d), want %s", line, mesh_merge_str(got),
	    got, mesh_merge_str(want));
}
#define MERGE(recs, kind, b, want) merge_case(recs, kind, b, want, __LINE__)

static void assert_held(struct mesh_records *recs, enum mesh_rec_kind kind, uint8_t idb,
    const struct bytes *want)
{
	uint8_t id[MESH_NODE_ID_LEN];
	const uint8_t *p;
	size_t n;

	set_id(id, idb);
	if (want == NULL) {
		ck_assert_int_eq(mesh_records_get(recs, kind, id, &p, &n), MESHD_E_NOENT);
		ck_assert_ptr_null(p);
		return;
	}
	ck_assert_int_eq(mesh_records_get(recs, kind, id, &p, &n), 0);
	ck_assert_uint_eq(n, want->n);
	ck_assert_mem_eq(p, want->p, n);
}

START_TEST(test_records_merge_cert_newer_wins)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c1, c2;
	struct mesh_cert c;
	uint8_t id[MESH_NODE_ID_LEN];

	recs = new_set(&log, 0, 0);
	cert_bytes(&c1, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW - 50, NOW + 2000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_DUP);
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_STALE);
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_DUP);
	assert_held(recs, MESH_REC_CERT, 0x11, &c2);
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_CERT), 1);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 1);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_int_eq(log.ev[0].type, MESH_EV_MEMBER_ADDED);
	ck_assert_int_eq(log.ev[1].type, MESH_EV_MEMBER_CHANGED);
	ck_assert_uint_eq(log.ev[1].idb, 0x11);
	set_id(id, 0x11);
	ck_assert_int_eq(mesh_records_cert(recs, id, &c), 0);
	ck_assert_uint_eq(c.issued_at, NOW - 50);
	set_id(id, 0x12);
	ck_assert_int_eq(mesh_records_cert(recs, id, &c), MESHD_E_NOENT);
	mesh_records_free(recs);
	mesh_records_free(NULL);
}
END_TEST

/* Two different records with the same version: the larger bytes win, in
 * either arrival order. */
START_TEST(test_records_merge_equal_version_deterministic)
{
	struct mesh_records *a, *b;
	struct bytes x, y, *big, *small, ex, ey, *ebig, *esmall;
	uint8_t ha[32], hb[32];

	cert_bytes(&x, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&y, auth_sk, 0x11, "bravo", NOW - 100, NOW + 1000, node_pk);
	big = bytes_cmp(&x, &y) > 0 ? &x : &y;
	small = big == &x ? &y : &x;
	ep_bytes(&ex, node_sk, 0x11, 5, NOW, 1);
	ep_bytes(&ey, node_sk, 0x11, 5, NOW, 2);
	ebig = bytes_cmp(&ex, &ey) > 0 ? &ex : &ey;
	esmall = ebig == &ex ? &ey : &ex;

	a = new_set(NULL, 0, 0);
	b = new_set(NULL, 0, 0);
	MERGE(a, MESH_REC_CERT, small, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_CERT, big, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_CERT, small, MESH_MERGE_DUP);
	MERGE(b, MESH_REC_CERT, big, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_CERT, small, MESH_MERGE_DUP);
	assert_held(a, MESH_REC_CERT, 0x11, big);
	assert_held(b, MESH_REC_CERT, 0x11, big);
	MERGE(a, MESH_REC_ENDPOINTS, esmall, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, ebig, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_ENDPOINTS, ebig, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_ENDPOINTS, esmall, MESH_MERGE_DUP);
	assert_held(a, MESH_REC_ENDPOINTS, 0x11, ebig);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, ebig);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(b, hb), 0);
	ck_assert_mem_eq(ha, hb, sizeof ha);
	mesh_records_free(a);
	mesh_records_free(b);
}
END_TEST

START_TEST(test_records_merge_endpoints_newer_older)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, e1, e2;
	struct mesh_endpoints got;
	uint8_t id[MESH_NODE_ID_LEN];

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	ep_bytes(&e1, node_sk, 0x11, 1000, NOW - 10, 2);
	ep_bytes(&e2, node_sk, 0x11, 2000, NOW - 20, 1);	/* newer seq, older clock */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e1, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e1, MESH_MERGE_STALE);
	MERGE(recs, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_DUP);
	set_id(id, 0x11);
	ck_assert_int_eq(mesh_records_endpoints(recs, id, &got), 0);
	ck_assert_uint_eq(got.seq, 2000);
	ck_assert_uint_eq(got.nep, 1);
	ck_assert_uint_eq(log.n, 3);
	ck_assert_int_eq(log.ev[1].type, MESH_EV_ENDPOINTS_CHANGED);
	ck_assert(log.ev[1].has_ep);
	ck_assert_int_eq(log.ev[2].type, MESH_EV_ENDPOINTS_CHANGED);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_revoke_removes_and_refuses)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, c2, e, e2, rv, rv_old, rv_new;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW, NOW + 5000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 1);
	ep_bytes(&e2, node_sk, 0x11, 2, NOW, 1);
	revoke_bytes(&rv, auth_sk, 0x11, NOW - 10);
	revoke_bytes(&rv_old, auth_sk, 0x11, NOW - 20);
	revoke_bytes(&rv_new, auth_sk, 0x11, NOW - 5);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	log.n = 0;
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	ck_assert_uint_eq(log.n, 1);
	ck_assert_int_eq(log.ev[0].type, MESH_EV_MEMBER_REMOVED);
	ck_assert_int_eq(log.ev[0].gone, MESH_GONE_REVOKED);
	assert_held(recs, MESH_REC_CERT, 0x11, NULL);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, NULL);
	assert_held(recs, MESH_REC_REVOKE, 0x11, &rv);
	/* refused forever, even a cert issued after the revocation */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_REVOKED);
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_REVOKED);
	MERGE(recs, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_REVOKED);
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	/* tombstones follow the same order as everything else */
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_DUP);
	MERGE(recs, MESH_REC_REVOKE, &rv_old, MESH_MERGE_STALE);
	MERGE(recs, MESH_REC_REVOKE, &rv_new, MESH_MERGE_NEW);
	assert_held(recs, MESH_REC_REVOKE, 0x11, &rv_new);
	ck_assert_uint_eq(log.n, 1);	/* no second "removed" */
	ck_assert_uint_eq(mesh_records_count(recs, 0), 1);
	/* a tombstone never expires */
	ck_assert_int_eq(mesh_records_handle_expiry(recs, UINT64_MAX - 1), 0);
	assert_held(recs, MESH_REC_REVOKE, 0x11, &rv_new);
	mesh_records_free(recs);
}
END_TEST

/* A record that loses on its version (or to a tombstone) is refused before
 * its signature is checked: the outcome is the same with a broken
 * signature, so a member replaying old genuine records spends none of our
 * signature checks, which the gossip budgets count only for NEW and
 * INVALID outcomes. A newer record with a broken signature is still
 * checked, and refused. */
START_TEST(test_records_merge_not_newer_costs_no_check)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c1, c2, c3, rv, rv_old, rv_new;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c1, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW - 50, NOW + 2000, node_pk);
	cert_bytes(&c3, auth_sk, 0x11, "alpha", NOW - 10, NOW + 3000, node_pk);
	revoke_bytes(&rv, auth_sk, 0x11, NOW - 5);
	revoke_bytes(&rv_old, auth_sk, 0x11, NOW - 20);
	revoke_bytes(&rv_new, auth_sk, 0x11, NOW - 1);
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	/* the last byte is the signature's: broken, every one of them */
	c1.p[c1.n - 1] ^= 0x01;
	c3.p[c3.n - 1] ^= 0x01;
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_STALE);	/* no check */
	MERGE(recs, MESH_REC_CERT, &c3, MESH_MERGE_INVALID);	/* checked */
	assert_held(recs, MESH_REC_CERT, 0x11, &c2);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	c2.p[c2.n - 1] ^= 0x01;
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_REVOKED);	/* no check */
	rv_old.p[rv_old.n - 1] ^= 0x01;
	rv_new.p[rv_new.n - 1] ^= 0x01;
	MERGE(recs, MESH_REC_REVOKE, &rv_old, MESH_MERGE_STALE);	/* no check */
	MERGE(recs, MESH_REC_REVOKE, &rv_new, MESH_MERGE_INVALID);	/* checked */
	assert_held(recs, MESH_REC_REVOKE, 0x11, &rv);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_revoke_before_cert)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, e, rv;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 1);
	revoke_bytes(&rv, auth_sk, 0x11, NOW - 10);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_ORPHAN);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_records_pending(recs), 0);	/* orphan dropped */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_REVOKED);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_REVOKED);
	ck_assert_uint_eq(log.n, 0);	/* never a member */
	ck_assert_uint_eq(mesh_records_count(recs, 0), 1);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_foreign_authority_invalid)
{
	struct mesh_records *recs;
	struct bytes c, rv, c_ok;

	recs = new_set(NULL, 0, 0);
	cert_bytes(&c_ok, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c, other_sk, 0x11, "alpha", NOW - 10, NOW + 1000, node_pk);
	revoke_bytes(&rv, other_sk, 0x11, NOW);
	MERGE(recs, MESH_REC_CERT, &c_ok, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_INVALID);
	/* our mesh id, but signed by the other key */
	memcpy(rv.p + 1, mesh_id, MESH_ID_LEN);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_INVALID);
	assert_held(recs, MESH_REC_CERT, 0x11, &c_ok);
	assert_held(recs, MESH_REC_REVOKE, 0x11, NULL);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_endpoints_wrong_key_invalid)
{
	struct mesh_records *recs;
	struct bytes c, e_bad, e_auth, e_other_mesh;
	struct mesh_endpoints e;

	recs = new_set(NULL, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(&e_bad, node2_sk, 0x11, 1, NOW, 1);
	ep_bytes(&e_auth, auth_sk, 0x11, 1, NOW, 1);	/* even the authority cannot */
	ep_fill(&e, 0x11, 1, NOW, 1);
	mesh_identity_mesh_id(other_pk, e.mesh_id);
	ck_assert_int_eq(mesh_endpoints_sign(&e, node_sk), 0);
	ep_encode(&e, &e_other_mesh);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_bad, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_auth, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_other_mesh, MESH_MERGE_INVALID);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, NULL);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_orphan_pending)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, e1, e2, e_bad, o[3];

	recs = new_set(&log, 0, 2);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(&e1, node_sk, 0x11, 1, NOW, 1);
	ep_bytes(&e2, node_sk, 0x11, 2, NOW, 2);
	ep_bytes(&e_bad, node2_sk, 0x11, 3, NOW, 1);
	MERGE(recs, MESH_REC_ENDPOINTS, &e1, MESH_MERGE_ORPHAN);
	MERGE(recs, MESH_REC_ENDPOINTS, &e1, MESH_MERGE_ORPHAN);
	ck_assert_uint_eq(mesh_records_pending(recs), 1);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_bad, MESH_MERGE_ORPHAN);
	ck_assert_uint_eq(mesh_records_pending(recs), 2);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 0);	/* not held, not in digest */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	/* e1 adopted, the forgery dropped */
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, &e1);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_int_eq(log.ev[0].type, MESH_EV_MEMBER_ADDED);
	ck_assert_int_eq(log.ev[1].type, MESH_EV_ENDPOINTS_CHANGED);
	MERGE(recs, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_NEW);
	/* bounded: the oldest orphan goes first */
	ep_bytes(&o[0], node_sk, 0x21, 1, NOW, 1);
	ep_bytes(&o[1], node_sk, 0x22, 1, NOW, 1);
	ep_bytes(&o[2], node_sk, 0x23, 1, NOW, 1);
	for (unsigned i = 0; i < 3; i++)
		MERGE(recs, MESH_REC_ENDPOINTS, &o[i], MESH_MERGE_ORPHAN);
	ck_assert_uint_eq(mesh_records_pending(recs), 2);
	cert_bytes(&c, auth_sk, 0x21, "n21", NOW - 100, NOW + 1000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x21, NULL);	/* evicted */
	cert_bytes(&c, auth_sk, 0x23, "n23", NOW - 100, NOW + 1000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x23, &o[2]);
	ck_assert_uint_eq(mesh_records_pending(recs), 1);
	/* orphans age out */
	ck_assert_uint_le(mesh_records_next_expiry(recs), NOW + MESH_RECORDS_PENDING_TTL_S);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + MESH_RECORDS_PENDING_TTL_S - 1), 0);
	ck_assert_uint_eq(mesh_records_pending(recs), 1);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + MESH_RECORDS_PENDING_TTL_S), 0);
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	mesh_records_free(recs);
}
END_TEST

/* The pending set grows to need (4, then doubling) up to its cap, and
 * evicts the oldest orphan there. */
START_TEST(test_records_orphan_pending_grows_to_cap)
{
	struct mesh_records *recs;
	struct bytes c, o[7];

	recs = new_set(NULL, 0, 6);
	for (unsigned i = 0; i < 7; i++) {
		ep_bytes(&o[i], node_sk, (uint8_t)(0x31 + i), 1, NOW, 1);
		MERGE(recs, MESH_REC_ENDPOINTS, &o[i], MESH_MERGE_ORPHAN);
		ck_assert_uint_eq(mesh_records_pending(recs), i < 6 ? i + 1 : 6);
	}
	MERGE(recs, MESH_REC_ENDPOINTS, &o[6], MESH_MERGE_ORPHAN);	/* held once */
	ck_assert_uint_eq(mesh_records_pending(recs), 6);
	for (unsigned i = 0; i < 7; i++) {
		cert_bytes(&c, auth_sk, (uint8_t)(0x31 + i), "n", NOW - 100, NOW + 1000, node_pk);
		MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
		assert_held(recs, MESH_REC_ENDPOINTS, (uint8_t)(0x31 + i), i == 0 ? NULL : &o[i]);
	}
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	mesh_records_free(recs);
}
END_TEST

/* The digests of a and b are the same, entry for entry. */
static void assert_same_digest(const struct mesh_records *a, const struct mesh_records *b)
{
	struct mesh_digest da = { 0 }, db = { 0 };

	ck_assert_int_eq(mesh_records_digest(a, &da), 0);
	ck_assert_int_eq(mesh_records_digest(b, &db), 0);
	ck_assert_uint_eq(da.n, db.n);
	for (size_t i = 0; i < da.n; i++) {
		ck_assert_uint_eq(da.e[i].kind, db.e[i].kind);
		ck_assert_mem_eq(da.e[i].node_id, db.e[i].node_id, MESH_NODE_ID_LEN);
		ck_assert_uint_eq(da.e[i].version, db.e[i].version);
		ck_assert_mem_eq(da.e[i].hash, db.e[i].hash, MESH_DIGEST_HASH_LEN);
	}
	mesh_digest_clear(&da);
	mesh_digest_clear(&db);
}

START_TEST(test_records_clone_independent)
{
	struct mesh_records *a, *b;
	struct ev_log log;
	struct bytes c11, e11, c12, r13, e21, c21;
	uint8_t ha[MESH_RECORDS_SET_HASH_LEN], hb[MESH_RECORDS_SET_HASH_LEN];
	int err;

	a = new_set(&log, 0, 4);
	cert_bytes(&c11, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(&e11, node_sk, 0x11, 1, NOW, 2);
	cert_bytes(&c12, auth_sk, 0x12, "beta", NOW - 100, NOW + 2000, node_pk);
	revoke_bytes(&r13, auth_sk, 0x13, NOW - 50);
	ep_bytes(&e21, node_sk, 0x21, 1, NOW, 1);
	cert_bytes(&c21, auth_sk, 0x21, "gamma", NOW - 100, NOW + 3000, node_pk);
	MERGE(a, MESH_REC_CERT, &c11, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, &e11, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_CERT, &c12, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_REVOKE, &r13, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, &e21, MESH_MERGE_ORPHAN);
	log.n = 0;

	b = mesh_records_clone(a, &err);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(log.n, 0);	/* no events */
	for (int k = 0; k <= MESH_REC_ROUTES; k++)
		ck_assert_uint_eq(mesh_records_count(b, k), mesh_records_count(a, k));
	ck_assert_uint_eq(mesh_records_pending(b), 1);
	ck_assert_uint_eq(mesh_records_next_expiry(b), mesh_records_next_expiry(a));
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(b, hb), 0);
	ck_assert_mem_eq(ha, hb, sizeof ha);
	assert_same_digest(a, b);
	/* the same merge rules and the same callback */
	MERGE(b, MESH_REC_CERT, &c11, MESH_MERGE_DUP);
	MERGE(b, MESH_REC_CERT, &c12, MESH_MERGE_DUP);
	MERGE(b, MESH_REC_CERT, &c21, MESH_MERGE_NEW);	/* adopts its orphan */
	assert_held(b, MESH_REC_ENDPOINTS, 0x21, &e21);
	ck_assert_uint_eq(mesh_records_pending(b), 0);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_int_eq(log.ev[0].type, MESH_EV_MEMBER_ADDED);
	ck_assert_int_eq(log.ev[1].type, MESH_EV_ENDPOINTS_CHANGED);
	MERGE(b, MESH_REC_CERT, &c21, MESH_MERGE_DUP);
	/* a is untouched, and gets to the same state the same way */
	assert_held(a, MESH_REC_CERT, 0x21, NULL);
	ck_assert_uint_eq(mesh_records_pending(a), 1);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(b, hb), 0);
	ck_assert_mem_ne(ha, hb, sizeof ha);
	MERGE(a, MESH_REC_CERT, &c21, MESH_MERGE_NEW);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_mem_eq(ha, hb, sizeof ha);
	assert_same_digest(a, b);
	/* b owns its memory: it outlives a */
	mesh_records_free(a);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, &e11);
	assert_held(b, MESH_REC_REVOKE, 0x13, &r13);
	ck_assert_int_eq(mesh_records_handle_expiry(b, NOW + 1000), 0);
	assert_held(b, MESH_REC_CERT, 0x11, NULL);
	assert_held(b, MESH_REC_CERT, 0x12, &c12);
	mesh_records_free(b);
}
END_TEST

START_TEST(test_records_handle_expiry_cert)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, c_exp, c_new, e;

	recs = new_set(&log, 0, 0);
	ck_assert_uint_eq(mesh_records_next_expiry(recs), UINT64_MAX);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100, node_pk);
	cert_bytes(&c_exp, auth_sk, 0x12, "bravo", NOW - 100, NOW, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 1);
	MERGE(recs, MESH_REC_CERT, &c_exp, MESH_MERGE_INVALID);	/* expired on arrival */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_records_next_expiry(recs), NOW + 100);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 99), 0);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 100), 0);
	ck_assert_uint_eq(log.n, 3);
	ck_assert_int_eq(log.ev[2].type, MESH_EV_MEMBER_REMOVED);
	ck_assert_int_eq(log.ev[2].gone, MESH_GONE_EXPIRED);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 0);
	ck_assert_uint_eq(mesh_records_next_expiry(recs), UINT64_MAX);
	/* a newer cert brings the member back */
	cert_bytes(&c_new, auth_sk, 0x11, "alpha", NOW + 50, NOW + 5000, node_pk);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_CERT, c_new.p, c_new.n, NOW + 100),
	    MESH_MERGE_NEW);
	ck_assert_uint_eq(log.n, 4);
	ck_assert_int_eq(log.ev[3].type, MESH_EV_MEMBER_ADDED);
	/* a merge notices an expired held cert without handle_expiry(): e is
	 * still within its TTL, but its node is no member any more */
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_ENDPOINTS, e.p, e.n, NOW + 5000),
	    MESH_MERGE_ORPHAN);
	ck_assert_uint_eq(log.n, 5);
	ck_assert_int_eq(log.ev[4].type, MESH_EV_MEMBER_REMOVED);
	ck_assert_int_eq(log.ev[4].gone, MESH_GONE_EXPIRED);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 0);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_handle_expiry_endpoints)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, e;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW - 100, 1);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_records_next_expiry(recs), NOW - 100 + MESH_ENDPOINTS_TTL_S);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW - 100 + MESH_ENDPOINTS_TTL_S), 0);
	ck_assert_uint_eq(log.n, 3);
	ck_assert_int_eq(log.ev[2].type, MESH_EV_ENDPOINTS_CHANGED);
	ck_assert(!log.ev[2].has_ep);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, NULL);
	assert_held(recs, MESH_REC_CERT, 0x11, &c);
	ck_assert_uint_eq(mesh_records_next_expiry(recs), NOW + 100000);
	/* expired or from the future on arrival */
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);	/* at NOW it is fresh */
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_ENDPOINTS, e.p, e.n,
	    NOW - 100 + MESH_ENDPOINTS_TTL_S), MESH_MERGE_INVALID);
	ep_bytes(&e, node_sk, 0x11, 2, NOW + MESH_CERT_SKEW_S + 1, 1);
	MERGE(recs, MESH_REC_ENDPOINTS, &e, MESH_MERGE_INVALID);
	mesh_records_free(recs);
}
END_TEST

/* A cert with a new signing key drops the endpoint record signed by the old
 * one; records by the new key are accepted from then on. */
START_TEST(test_records_merge_rekey_drops_endpoints)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c1, c2, e_old, e_new;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c1, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW - 50, NOW + 1000, node2_pk);
	ep_bytes(&e_old, node_sk, 0x11, 5, NOW, 1);
	ep_bytes(&e_new, node2_sk, 0x11, 6, NOW, 2);
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_old, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_new, MESH_MERGE_INVALID);	/* not yet */
	log.peek = recs;
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	ck_assert_uint_eq(log.n, 4);
	ck_assert_int_eq(log.ev[2].type, MESH_EV_MEMBER_CHANGED);
	ck_assert(!log.ev[2].ep_held);	/* settled before the first event */
	ck_assert_int_eq(log.ev[3].type, MESH_EV_ENDPOINTS_CHANGED);
	ck_assert(!log.ev[3].has_ep);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, NULL);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_old, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_ENDPOINTS, &e_new, MESH_MERGE_NEW);
	/* same key in a renewed cert: the record stays */
	cert_bytes(&c1, auth_sk, 0x11, "alpha", NOW - 10, NOW + 2000, node2_pk);
	MERGE(recs, MESH_REC_CERT, &c1, MESH_MERGE_NEW);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, &e_new);
	mesh_records_free(recs);
}
END_TEST

/* Remote garbage of every kind is INVALID and changes nothing. */
START_TEST(test_records_merge_invalid_table)
{
	struct mesh_records *recs;
	static uint8_t big[70000];
	struct bytes c, e, rv, t;

	recs = new_set(NULL, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 1);
	revoke_bytes(&rv, auth_sk, 0x12, NOW);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_CERT, NULL, 0, NOW), MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_CERT, big, 0, NOW), MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_CERT, big, sizeof big, NOW),
	    MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_ENDPOINTS, big, sizeof big, NOW),
	    MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, MESH_REC_REVOKE, big, sizeof big, NOW),
	    MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, (enum mesh_rec_kind)0, c.p, c.n, NOW),
	    MESH_MERGE_INVALID);
	ck_assert_int_eq(mesh_records_merge(recs, (enum mesh_rec_kind)4, c.p, c.n, NOW),
	    MESH_MERGE_INVALID);
	/* a record of one kind offered as another */
	MERGE(recs, MESH_REC_ENDPOINTS, &c, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_REVOKE, &c, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_CERT, &e, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_CERT, &rv, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_ENDPOINTS, &rv, MESH_MERGE_INVALID);
	t = c;
	t.n--;
	MERGE(recs, MESH_REC_CERT, &t, MESH_MERGE_INVALID);
	t = c;
	t.p[t.n - 1] ^= 1;
	MERGE(recs, MESH_REC_CERT, &t, MESH_MERGE_INVALID);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 0);
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	ck_assert_str_eq(mesh_merge_str(MESH_MERGE_ORPHAN), "orphan");
	ck_assert_str_eq(mesh_merge_str(MESHD_E_FULL), "error");
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_cap_full)
{
	struct mesh_records *recs;
	struct mesh_records_cfg cfg;
	struct bytes c, rv;
	int err;

	recs = new_set(NULL, 2, 0);
	cert_bytes(&c, auth_sk, 0x11, "a", NOW - 100, NOW + 1000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	revoke_bytes(&rv, auth_sk, 0x12, NOW);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	cert_bytes(&c, auth_sk, 0x13, "c", NOW - 100, NOW + 1000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESHD_E_FULL);
	revoke_bytes(&rv, auth_sk, 0x13, NOW);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESHD_E_FULL);
	/* nodes already held still take updates */
	revoke_bytes(&rv, auth_sk, 0x11, NOW);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 2);
	mesh_records_free(recs);
	/* caps above the built-in bounds are refused */
	memset(&cfg, 0, sizeof cfg);
	cfg.max_nodes = MESH_RECORDS_MAX_NODES + 1;
	ck_assert_ptr_null(mesh_records_new(&cfg, &err));
	ck_assert_int_eq(err, MESHD_E_INVAL);
	cfg.max_nodes = 0;
	cfg.max_pending = MESH_RECORDS_PENDING_MAX + 1;
	ck_assert_ptr_null(mesh_records_new(&cfg, &err));
	ck_assert_int_eq(err, MESHD_E_INVAL);
}
END_TEST

/* Many nodes: the table grows, and expiry deletes from the middle of probe
 * runs without losing anyone. */
START_TEST(test_records_handle_expiry_many_nodes)
{
	struct mesh_records *recs;
	struct bytes c;
	enum { N = 200 };
	char name[16];

	recs = new_set(NULL, 0, 0);
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, "n%u", i);
		/* every third one expires early */
		cert_bytes(&c, auth_sk, (uint8_t)i, name, NOW - 100,
		    i % 3 == 0 ? NOW + 10 : NOW + 1000, node_pk);
		MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	}
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_CERT), N);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 10), 0);
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_CERT), N - (N + 2) / 3);
	for (unsigned i = 0; i < N; i++) {
		uint8_t id[MESH_NODE_ID_LEN];
		const uint8_t *p;
		size_t n;

		set_id(id, (uint8_t)i);
		ck_assert_int_eq(mesh_records_get(recs, MESH_REC_CERT, id, &p, &n),
		    i % 3 == 0 ? MESHD_E_NOENT : 0);
	}
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_merge_reentry_refused)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c;

	recs = new_set(&log, 0, 0);
	log.recs = recs;
	log.reentry = 1;
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 10, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	ck_assert_int_eq(log.reentry, MESHD_E_STATE);
	log.reentry = 1;
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 10), 0);
	ck_assert_int_eq(log.reentry, MESHD_E_STATE);
	ck_assert_uint_eq(log.n, 2);
	mesh_records_free(recs);
}
END_TEST

/* ---- randomized differential test ----
 *
 * A world of DIFF_NODES nodes, each with a few certs (some expired, some
 * with equal issued_at and different content, some rotating the signing
 * key), maybe revocations, endpoint records (equal seqs, expired ones,
 * forgeries), records from a foreign authority and garbage. Every set gets
 * all of it in its own random order with duplicates, and again (the next
 * gossip rounds) until a pass changes nothing. All sets must then hold
 * exactly what the reference model computes from the whole pile. */

enum { DIFF_NODES = 16, DIFF_SETS = 4, DIFF_ITEMS_MAX = 512, DIFF_SEEDS = 12 };

struct item {
	enum mesh_rec_kind kind;
	struct bytes b;
};

struct world {
	struct item item[DIFF_ITEMS_MAX];
	size_t n;
	uint8_t id[DIFF_NODES][MESH_NODE_ID_LEN];
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

static void rng_keypair(uint64_t *s, uint8_t pk[MESH_PK_LEN], uint8_t sk[MESH_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	for (size_t i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)rng_next(s);
	crypto_sign_seed_keypair(pk, sk, seed);
}

static struct item *world_add(struct world *w, enum mesh_rec_kind kind)
{
	ck_assert_uint_lt(w->n, DIFF_ITEMS_MAX);
	w->item[w->n].kind = kind;
	return &w->item[w->n++];
}

static void world_build(struct world *w, uint64_t *s, bool rotate)
{
	uint8_t pk[2][MESH_PK_LEN], sk[2][MESH_SK_LEN], spk[MESH_PK_LEN], ssk[MESH_SK_LEN];
	char name[32];

	memset(w, 0, sizeof *w);
	rng_keypair(s, spk, ssk);	/* a stranger */
	for (unsigned i = 0; i < DIFF_NODES; i++) {
		unsigned ncert = 1 + rng_below(s, 3), nrv = 0, nep = rng_below(s, 5);

		for (unsigned j = 0; j < MESH_NODE_ID_LEN; j++)
			w->id[i][j] = (uint8_t)rng_next(s);
		rng_keypair(s, pk[0], sk[0]);
		rng_keypair(s, pk[1], sk[1]);
		for (unsigned j = 0; j < ncert; j++) {
			uint64_t issued = NOW - 100 * rng_below(s, 3);
			uint64_t expires = NOW + 1000 + rng_below(s, 1000);
			unsigned key = rotate ? rng_below(s, 2) : 0;
			const uint8_t *auth = rng_below(s, 10) == 0 ? other_sk : auth_sk;

			if (rng_below(s, 8) == 0)
				expires = NOW - rng_below(s, 2);	/* dead on arrival */
			snprintf(name, sizeof name, "n%u-%u", i, rng_below(s, 3));
			cert_bytes_id(&world_add(w, MESH_REC_CERT)->b, auth, w->id[i], name, issued,
			    expires, pk[key]);
		}
		if (rng_below(s, 5) == 0)
			nrv = 1 + rng_below(s, 2);
		for (unsigned j = 0; j < nrv; j++)
			revoke_bytes_id(&world_add(w, MESH_REC_REVOKE)->b,
			    rng_below(s, 10) == 0 ? other_sk : auth_sk, w->id[i],
			    NOW - rng_below(s, 3));
		for (unsigned j = 0; j < nep; j++) {
			struct mesh_endpoints e;
			unsigned key = rotate ? rng_below(s, 2) : 0;
			uint64_t ts = NOW - rng_below(s, 3) * 1000;

			if (rng_below(s, 10) == 0)
				ts = NOW - MESH_ENDPOINTS_TTL_S;	/* expired */
			ep_fill(&e, 0, 1 + rng_below(s, 3), ts, rng_below(s, 4));
			memcpy(e.node_id, w->id[i], MESH_NODE_ID_LEN);
			ck_assert_int_eq(mesh_endpoints_sign(&e,
			    rng_below(s, 10) == 0 ? ssk : sk[key]), 0);
			ep_encode(&e, &world_add(w, MESH_REC_ENDPOINTS)->b);
		}
	}
	for (unsigned i = 0; i < 4; i++) {	/* garbage of each kind */
		struct item *it = world_add(w, (enum mesh_rec_kind)(1 + rng_below(s, 3)));

		it->b.n = rng_below(s, sizeof it->b.p);
		for (size_t j = 0; j < it->b.n; j++)
			it->b.p[j] = (uint8_t)rng_next(s);
	}
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(ssk, sizeof ssk);
}

/* The reference: for each node, straight from the definitions. */
struct expect {
	const struct bytes *rec[DIFF_NODES][3];
	size_t total;
};

static bool beats(uint64_t va, const struct bytes *a, uint64_t vb, const struct bytes *b)
{
	return b == NULL || va > vb || (va == vb && bytes_cmp(a, b) > 0);
}

static void reference(const struct world *w, struct expect *x)
{
	memset(x, 0, sizeof *x);
	for (unsigned i = 0; i < DIFF_NODES; i++) {
		const struct bytes *best_rv = NULL, *best_c = NULL, *best_e = NULL;
		uint64_t v_rv = 0, v_c = 0, v_e = 0;
		struct mesh_cert cert;

		for (size_t k = 0; k < w->n; k++) {
			const struct item *it = &w->item[k];
			struct mesh_revoke rv;
			struct mesh_cert c;

			if (it->kind == MESH_REC_REVOKE &&
			    mesh_revoke_decode(it->b.p, it->b.n, &rv) == 0 &&
			    memcmp(rv.node_id, w->id[i], MESH_NODE_ID_LEN) == 0 &&
			    mesh_revoke_verify(&rv, auth_pk) && beats(rv.revoked_at, &it->b, v_rv, best_rv)) {
				best_rv = &it->b;
				v_rv = rv.revoked_at;
			}
			if (it->kind == MESH_REC_CERT &&
			    mesh_cert_decode(it->b.p, it->b.n, &c) == 0 &&
			    memcmp(c.node_id, w->id[i], MESH_NODE_ID_LEN) == 0 &&
			    mesh_cert_verify(&c, auth_pk, NOW) && beats(c.issued_at, &it->b, v_c, best_c)) {
				best_c = &it->b;
				v_c = c.issued_at;
				cert = c;
			}
		}
		if (best_rv != NULL) {
			x->rec[i][MESH_REC_REVOKE - 1] = best_rv;
			x->total++;
			continue;
		}
		if (best_c == NULL)
			continue;
		x->rec[i][MESH_REC_CERT - 1] = best_c;
		x->total++;
		for (size_t k = 0; k < w->n; k++) {
			const struct item *it = &w->item[k];
			struct mesh_endpoints e;

			if (it->kind == MESH_REC_ENDPOINTS &&
			    mesh_endpoints_decode(it->b.p, it->b.n, &e) == 0 &&
			    memcmp(e.node_id, w->id[i], MESH_NODE_ID_LEN) == 0 &&
			    mesh_endpoints_verify(&e, cert.sign_pk, mesh_id, NOW) &&
			    beats(e.seq, &it->b, v_e, best_e)) {
				best_e = &it->b;
				v_e = e.seq;
			}
		}
		if (best_e != NULL) {
			x->rec[i][MESH_REC_ENDPOINTS - 1] = best_e;
			x->total++;
		}
	}
}

/* Delivers the whole world in a random order with duplicates; returns how
 * many merges said NEW. */
static unsigned deliver(struct mesh_records *recs, const struct world *w, uint64_t *s,
    uint64_t seed)
{
	static size_t order[3 * DIFF_ITEMS_MAX];
	size_t n = 0;
	unsigned fresh = 0;

	for (size_t k = 0; k < w->n; k++)
		for (unsigned d = 1 + rng_below(s, 3); d > 0; d--)
			order[n++] = k;
	for (size_t k = n; k > 1; k--) {
		size_t j = rng_below(s, (unsigned)k), t = order[k - 1];

		order[k - 1] = order[j];
		order[j] = t;
	}
	for (size_t k = 0; k < n; k++) {
		const struct item *it = &w->item[order[k]];
		int r = mesh_records_merge(recs, it->kind, it->b.p, it->b.n, NOW);

		ck_assert_msg(r >= 0, "seed %" PRIu64 ": merge error %d", seed, r);
		fresh += r == MESH_MERGE_NEW;
	}
	return fresh;
}

static void assert_matches(struct mesh_records *recs, const struct world *w,
    const struct expect *x, uint64_t seed, unsigned set)
{
	ck_assert_msg(mesh_records_count(recs, 0) == x->total, "seed %" PRIu64 " set %u: %zu "
	    "records, reference %zu", seed, set, mesh_records_count(recs, 0), x->total);
	for (unsigned i = 0; i < DIFF_NODES; i++) {
		for (int kind = MESH_REC_CERT; kind <= MESH_REC_ENDPOINTS; kind++) {
			const struct bytes *want = x->rec[i][kind - 1];
			const uint8_t *p;
			size_t n;
			int r = mesh_records_get(recs, kind, w->id[i], &p, &n);

			if (want == NULL) {
				ck_assert_msg(r == MESHD_E_NOENT, "seed %" PRIu64 " set %u node %u "
				    "kind %d: held, reference has none", seed, set, i, kind);
				continue;
			}
			ck_assert_msg(r == 0 && n == want->n && memcmp(p, want->p, n) == 0,
			    "seed %" PRIu64 " set %u node %u kind %d: differs from reference",
			    seed, set, i, kind);
		}
	}
}

static void differential_run(uint64_t seed, bool rotate)
{
	static struct world w;
	struct expect x;
	struct mesh_records *sets[DIFF_SETS], *ref;
	struct mesh_rec_pool *pool = new_pool();
	uint8_t h0[32], h[32];
	uint64_t s = seed;

	world_build(&w, &s, rotate);
	reference(&w, &x);
	for (unsigned k = 0; k < DIFF_SETS; k++) {
		unsigned pass, fresh = 1;

		/* every other set keeps its records in a shared pool */
		sets[k] = new_set_in(k % 2 ? pool : NULL, NULL, 0, 0);
		/* Without key rotation one pass is enough: the pending set holds
		 * early endpoint records. With it, endpoint records signed by a
		 * newer key than the held cert's are INVALID until that cert
		 * arrives, and the next round brings them back. */
		for (pass = 0; pass < 3 && fresh > 0; pass++)
			fresh = deliver(sets[k], &w, &s, seed);
		ck_assert_msg(fresh == 0, "seed %" PRIu64 " set %u: not quiet after 3 passes",
		    seed, k);
		ck_assert_msg(pass <= (rotate ? 3u : 2u), "seed %" PRIu64 " set %u: %u passes",
		    seed, k, pass);
		assert_matches(sets[k], &w, &x, seed, k);
	}
	/* the reference's records alone, in kind order, give the same set hash */
	ref = new_set(NULL, 0, 0);
	for (int kind = MESH_REC_REVOKE; kind != 0;
	    kind = kind == MESH_REC_REVOKE ? MESH_REC_CERT :
	    kind == MESH_REC_CERT ? MESH_REC_ENDPOINTS : 0)
		for (unsigned i = 0; i < DIFF_NODES; i++)
			if (x.rec[i][kind - 1] != NULL)
				ck_assert_msg(mesh_records_merge(ref, kind, x.rec[i][kind - 1]->p,
				    x.rec[i][kind - 1]->n, NOW) == MESH_MERGE_NEW,
				    "seed %" PRIu64 ": reference record refused", seed);
	ck_assert_int_eq(mesh_records_set_hash(ref, h0), 0);
	for (unsigned k = 0; k < DIFF_SETS; k++) {
		struct mesh_digest d, dk;

		ck_assert_int_eq(mesh_records_set_hash(sets[k], h), 0);
		ck_assert_msg(memcmp(h, h0, sizeof h) == 0, "seed %" PRIu64 " set %u: set hash",
		    seed, k);
		/* and the same digest, entry for entry */
		ck_assert_int_eq(mesh_records_digest(ref, &d), 0);
		ck_assert_int_eq(mesh_records_digest(sets[k], &dk), 0);
		ck_assert_msg(d.n == dk.n && memcmp(d.e, dk.e, d.n * sizeof d.e[0]) == 0,
		    "seed %" PRIu64 " set %u: digest %zu/%zu", seed, k, d.n, dk.n);
		mesh_digest_clear(&d);
		mesh_digest_clear(&dk);
		/* the pooled sets hold the same records: one copy of each */
		if (k % 2)
			ck_assert_uint_eq(mesh_rec_pool_count(pool), x.total);
	}
	for (unsigned k = 0; k < DIFF_SETS; k++)
		mesh_records_free(sets[k]);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), 0);
	mesh_rec_pool_free(pool);
	mesh_records_free(ref);
}

/* Sets sharing a pool hold one copy of a record between them, each decides
 * on its own what it accepts, and a copy goes when its last holder drops
 * it. */
START_TEST(test_records_pool_shares_records)
{
	struct mesh_rec_pool *pool = new_pool();
	struct mesh_records *a = new_set_in(pool, NULL, 0, 0), *b = new_set_in(pool, NULL, 0, 0);
	struct mesh_records *solo = new_set(NULL, 0, 0);
	struct bytes c, c2, e, e2, rv;
	const uint8_t *pa, *pb;
	uint8_t id[MESH_NODE_ID_LEN], ha[32], hs[32];
	size_t na, nb;

	set_id(id, 0x11);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW - 50, NOW + 1000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 1);
	ep_bytes(&e2, node_sk, 0x11, 2, NOW, 1);
	revoke_bytes(&rv, auth_sk, 0x11, NOW - 10);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	MERGE(a, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), c.n + e.n);
	/* b still verifies for itself: an endpoint record before the cert is
	 * an orphan there, although the pool holds it */
	MERGE(b, MESH_REC_ENDPOINTS, &e, MESH_MERGE_ORPHAN);
	MERGE(b, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, &e);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	ck_assert_int_eq(mesh_records_get(a, MESH_REC_CERT, id, &pa, &na), 0);
	ck_assert_int_eq(mesh_records_get(b, MESH_REC_CERT, id, &pb, &nb), 0);
	ck_assert_ptr_eq(pa, pb);	/* one copy */
	/* the same set hash as a set with its own buffers */
	MERGE(solo, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(solo, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(solo, hs), 0);
	ck_assert_mem_eq(ha, hs, sizeof ha);
	/* a newer record in one set: both versions live while both are held */
	MERGE(a, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 3);
	MERGE(b, MESH_REC_ENDPOINTS, &e2, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	MERGE(a, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), c2.n + e2.n);
	/* a tombstone drops the others; the copies go with their last holder */
	MERGE(a, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 3);
	MERGE(b, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 1);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), rv.n);
	mesh_records_free(a);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 1);
	mesh_records_free(b);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	mesh_rec_pool_free(pool);
	mesh_rec_pool_free(NULL);
	mesh_records_free(solo);
}
END_TEST

/* Many members in few buckets through one pool: inserts land in the middle
 * of a bucket, and each set's expiry drops its own references only. */
START_TEST(test_records_pool_many_expire)
{
	enum { N = 300 };
	struct mesh_rec_pool *pool = new_pool();
	struct mesh_records *a = new_set_in(pool, NULL, 0, 0), *b = new_set_in(pool, NULL, 0, 0);
	uint8_t id[N][MESH_NODE_ID_LEN];

	for (unsigned i = 0; i < N; i++) {
		struct bytes c;

		/* four buckets; within one, ids arrive out of order */
		memset(id[i], 0, MESH_NODE_ID_LEN);
		id[i][0] = (uint8_t)(i % 4);
		id[i][1] = (uint8_t)(i * 37);
		id[i][2] = (uint8_t)i;
		id[i][3] = (uint8_t)(i >> 8);
		cert_bytes_id(&c, auth_sk, id[i], "m", NOW - 100,
		    i % 3 == 0 ? NOW + 10 : NOW + 1000, node_pk);
		MERGE(a, MESH_REC_CERT, &c, MESH_MERGE_NEW);
		MERGE(b, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	}
	ck_assert_uint_eq(mesh_rec_pool_count(pool), N);
	ck_assert_int_eq(mesh_records_handle_expiry(a, NOW + 10), 0);
	ck_assert_uint_eq(mesh_records_count(a, MESH_REC_CERT), N - (N + 2) / 3);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), N);	/* b holds them all */
	ck_assert_int_eq(mesh_records_handle_expiry(b, NOW + 10), 0);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), N - (N + 2) / 3);
	for (unsigned i = 0; i < N; i++) {
		const uint8_t *pa, *pb;
		size_t na, nb;
		int want = i % 3 == 0 ? MESHD_E_NOENT : 0;

		ck_assert_int_eq(mesh_records_get(a, MESH_REC_CERT, id[i], &pa, &na), want);
		ck_assert_int_eq(mesh_records_get(b, MESH_REC_CERT, id[i], &pb, &nb), want);
		ck_assert_ptr_eq(pa, pb);
	}
	mesh_records_free(a);
	mesh_records_free(b);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	mesh_rec_pool_free(pool);
}
END_TEST

START_TEST(test_records_merge_differential_random)
{
	const char *env = getenv("MESHD_TEST_SEED");
	uint64_t base = env != NULL ? strtoull(env, NULL, 0) : 0x5eed;

	for (uint64_t i = 0; i < DIFF_SEEDS; i++)
		differential_run(base + i, i % 2 == 1);
}
END_TEST

/* ---- ROUTES records in the set ---- */

/* A routes record for node 16 x idb with n prefixes 10.<i>.0.0/16, signed
 * by sk. */
static void rt_bytes(struct bytes *out, const uint8_t *sk, uint8_t idb, uint64_t seq,
    uint64_t ts, unsigned n)
{
	struct mesh_routes rt;
	struct wr w;

	memset(&rt, 0, sizeof rt);
	rt.version = MESH_ROUTES_VERSION;
	memcpy(rt.mesh_id, mesh_id, MESH_ID_LEN);
	set_id(rt.node_id, idb);
	rt.seq = seq;
	rt.timestamp = ts;
	rt.n = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		rt.r[i].family = MESH_FAMILY_V4;
		rt.r[i].len = 16;
		rt.r[i].addr[0] = 10;
		rt.r[i].addr[1] = (uint8_t)i;
	}
	ck_assert_int_eq(mesh_routes_sign(&rt, sk), 0);
	wr_init(&w, out->p, sizeof out->p);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), 0);
	out->n = w.off;
}

START_TEST(test_records_routes_newer_wins)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, r1, r2, r0;
	struct mesh_routes got;
	uint8_t id[MESH_NODE_ID_LEN];

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	rt_bytes(&r1, node_sk, 0x11, 1000, NOW - 10, 2);
	rt_bytes(&r2, node_sk, 0x11, 2000, NOW - 20, 1);	/* newer seq, older clock */
	rt_bytes(&r0, node_sk, 0x11, 3000, NOW, 0);		/* withdraws everything */
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ROUTES, &r2, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_STALE);
	MERGE(recs, MESH_REC_ROUTES, &r2, MESH_MERGE_DUP);
	set_id(id, 0x11);
	ck_assert_int_eq(mesh_records_routes(recs, id, &got), 0);
	ck_assert_uint_eq(got.seq, 2000);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_ROUTES), 1);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 2);
	ck_assert_uint_eq(log.n, 3);
	ck_assert_int_eq(log.ev[1].type, MESH_EV_ROUTES_CHANGED);
	ck_assert_int_eq(log.ev[2].type, MESH_EV_ROUTES_CHANGED);
	MERGE(recs, MESH_REC_ROUTES, &r0, MESH_MERGE_NEW);
	ck_assert_int_eq(mesh_records_routes(recs, id, &got), 0);
	ck_assert_uint_eq(got.n, 0);
	/* no expiry: still held years later */
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 90000), 0);
	assert_held(recs, MESH_REC_ROUTES, 0x11, &r0);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_routes_equal_seq_larger_bytes_wins)
{
	struct mesh_records *a, *b;
	struct bytes c, x, y, *big, *small;
	uint8_t ha[MESH_RECORDS_SET_HASH_LEN], hb[MESH_RECORDS_SET_HASH_LEN];

	a = new_set(NULL, 0, 0);
	b = new_set(NULL, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	rt_bytes(&x, node_sk, 0x11, 5000, NOW - 1, 1);
	rt_bytes(&y, node_sk, 0x11, 5000, NOW - 2, 2);	/* same seq, other content */
	big = bytes_cmp(&x, &y) > 0 ? &x : &y;
	small = big == &x ? &y : &x;
	MERGE(a, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ROUTES, small, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ROUTES, big, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_ROUTES, big, MESH_MERGE_NEW);
	MERGE(b, MESH_REC_ROUTES, small, MESH_MERGE_DUP);
	assert_held(a, MESH_REC_ROUTES, 0x11, big);
	assert_held(b, MESH_REC_ROUTES, 0x11, big);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(b, hb), 0);
	ck_assert_mem_eq(ha, hb, sizeof ha);
	mesh_records_free(a);
	mesh_records_free(b);
}
END_TEST

START_TEST(test_records_routes_orphan_then_cert)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, r1, forged, e1;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	rt_bytes(&r1, node_sk, 0x11, 10, NOW, 1);
	rt_bytes(&forged, node2_sk, 0x11, 11, NOW, 2);
	ep_bytes(&e1, node_sk, 0x11, 10, NOW, 1);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_ORPHAN);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_ORPHAN);
	MERGE(recs, MESH_REC_ROUTES, &forged, MESH_MERGE_ORPHAN);
	MERGE(recs, MESH_REC_ENDPOINTS, &e1, MESH_MERGE_ORPHAN);
	ck_assert_uint_eq(mesh_records_pending(recs), 3);
	ck_assert_uint_eq(mesh_records_count(recs, 0), 0);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_records_pending(recs), 0);
	assert_held(recs, MESH_REC_ROUTES, 0x11, &r1);	/* the forgery dropped */
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, &e1);
	ck_assert_uint_eq(log.n, 3);
	ck_assert_int_eq(log.ev[0].type, MESH_EV_MEMBER_ADDED);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_routes_tombstone_drops)
{
	struct mesh_records *recs;
	struct ev_log log;
	struct bytes c, r1, r2, rv, c2;

	recs = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	rt_bytes(&r1, node_sk, 0x11, 10, NOW, 1);
	rt_bytes(&r2, node_sk, 0x11, 20, NOW, 2);
	revoke_bytes(&rv, auth_sk, 0x11, NOW);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_REVOKE, &rv, MESH_MERGE_NEW);
	assert_held(recs, MESH_REC_ROUTES, 0x11, NULL);
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_ROUTES), 0);
	MERGE(recs, MESH_REC_ROUTES, &r2, MESH_MERGE_REVOKED);
	/* the removal is one event: no separate ROUTES_CHANGED */
	ck_assert_int_eq(log.ev[log.n - 1].type, MESH_EV_MEMBER_REMOVED);
	ck_assert_int_eq(log.ev[log.n - 1].gone, MESH_GONE_REVOKED);
	/* an expired cert takes the routes record with it too */
	cert_bytes(&c2, auth_sk, 0x12, "beta", NOW - 100, NOW + 100, node_pk);
	rt_bytes(&r1, node_sk, 0x12, 10, NOW, 1);
	MERGE(recs, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	MERGE(recs, MESH_REC_ROUTES, &r1, MESH_MERGE_NEW);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 100), 0);
	assert_held(recs, MESH_REC_ROUTES, 0x12, NULL);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_routes_invalid)
{
	struct mesh_records *recs;
	struct bytes c, bad, future, flipped, other;
	struct mesh_routes rt;
	struct wr w;

	recs = new_set(NULL, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	rt_bytes(&bad, node2_sk, 0x11, 10, NOW, 1);		/* not its key */
	MERGE(recs, MESH_REC_ROUTES, &bad, MESH_MERGE_INVALID);
	rt_bytes(&future, node_sk, 0x11, 10, NOW + MESH_CERT_SKEW_S + 1, 1);
	MERGE(recs, MESH_REC_ROUTES, &future, MESH_MERGE_INVALID);
	rt_bytes(&flipped, node_sk, 0x11, 10, NOW, 1);
	flipped.p[flipped.n - 1] ^= 1;
	MERGE(recs, MESH_REC_ROUTES, &flipped, MESH_MERGE_INVALID);
	/* another mesh */
	ck_assert_int_eq(mesh_routes_decode(flipped.p, flipped.n, &rt), 0);
	rt.mesh_id[0] ^= 1;
	ck_assert_int_eq(mesh_routes_sign(&rt, node_sk), 0);
	wr_init(&w, other.p, sizeof other.p);
	ck_assert_int_eq(mesh_routes_encode(&rt, &w), 0);
	other.n = w.off;
	MERGE(recs, MESH_REC_ROUTES, &other, MESH_MERGE_INVALID);
	/* an endpoint record is not a routes record */
	ep_bytes(&bad, node_sk, 0x11, 10, NOW, 1);
	MERGE(recs, MESH_REC_ROUTES, &bad, MESH_MERGE_INVALID);
	ck_assert_uint_eq(mesh_records_count(recs, MESH_REC_ROUTES), 0);
	mesh_records_free(recs);
}
END_TEST

START_TEST(test_records_routes_rekey)
{
	struct mesh_records *a;
	struct ev_log log;
	struct bytes c, c2, r1;
	struct mesh_digest da = { 0 };

	a = new_set(&log, 0, 0);
	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	cert_bytes(&c2, auth_sk, 0x11, "alpha", NOW - 50, NOW + 100000, node2_pk);
	rt_bytes(&r1, node_sk, 0x11, 10, NOW, 1);
	MERGE(a, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ROUTES, &r1, MESH_MERGE_NEW);
	/* the digest carries kind 4 */
	ck_assert_int_eq(mesh_records_digest(a, &da), 0);
	ck_assert_uint_eq(da.n, 2);
	ck_assert_uint_eq(da.e[1].kind, MESH_REC_ROUTES);
	ck_assert_uint_eq(da.e[1].version, 10);
	mesh_digest_clear(&da);
	/* a cert with a new signing key drops the old key's routes record */
	MERGE(a, MESH_REC_CERT, &c2, MESH_MERGE_NEW);
	assert_held(a, MESH_REC_ROUTES, 0x11, NULL);
	ck_assert_int_eq(log.ev[log.n - 1].type, MESH_EV_ROUTES_CHANGED);
	mesh_records_free(a);
}
END_TEST

/* ---- the shared pool, clones, bucket generations ---- */

/* The record's bytes as held by recs (NULL when absent). */
static const uint8_t *held_ptr(const struct mesh_records *recs, enum mesh_rec_kind kind,
    uint8_t idb)
{
	uint8_t id[MESH_NODE_ID_LEN];
	const uint8_t *p;
	size_t n;

	set_id(id, idb);
	return mesh_records_get(recs, kind, id, &p, &n) == 0 ? p : NULL;
}

/* A record whose last holder dropped it leaves the pool; bringing it back
 * makes a new copy that is shared again. Merges that store nothing (dup,
 * stale, invalid, orphan) take no reference: once the sets are gone the
 * pool is empty. */
START_TEST(test_records_pool_reuse_after_free)
{
	struct mesh_rec_pool *pool = new_pool();
	struct mesh_records *a = new_set_in(pool, NULL, 0, 0), *b, *d;
	struct bytes c, c_old, c_foreign, e, o;

	cert_bytes(&c, auth_sk, 0x11, "alpha", NOW - 50, NOW + 1000, node_pk);
	cert_bytes(&c_old, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	cert_bytes(&c_foreign, other_sk, 0x11, "alpha", NOW - 10, NOW + 1000, node_pk);
	ep_bytes(&e, node_sk, 0x11, 1, NOW, 2);
	ep_bytes(&o, node_sk, 0x22, 1, NOW, 1);
	MERGE(a, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	mesh_records_free(a);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), 0);

	b = new_set_in(pool, NULL, 0, 0);
	d = new_set_in(pool, NULL, 0, 0);
	MERGE(b, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 1);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), c.n);
	assert_held(b, MESH_REC_CERT, 0x11, &c);
	MERGE(b, MESH_REC_CERT, &c, MESH_MERGE_DUP);
	MERGE(b, MESH_REC_CERT, &c_old, MESH_MERGE_STALE);
	MERGE(b, MESH_REC_CERT, &c_foreign, MESH_MERGE_INVALID);
	MERGE(b, MESH_REC_ENDPOINTS, &o, MESH_MERGE_ORPHAN);	/* pending: its own copy */
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 1);
	MERGE(b, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	MERGE(d, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	MERGE(d, MESH_REC_ENDPOINTS, &e, MESH_MERGE_NEW);
	MERGE(d, MESH_REC_ENDPOINTS, &e, MESH_MERGE_DUP);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), c.n + e.n);
	ck_assert_ptr_eq(held_ptr(b, MESH_REC_CERT, 0x11), held_ptr(d, MESH_REC_CERT, 0x11));
	ck_assert_ptr_eq(held_ptr(b, MESH_REC_ENDPOINTS, 0x11),
	    held_ptr(d, MESH_REC_ENDPOINTS, 0x11));
	mesh_records_free(d);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 2);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, &e);
	mesh_records_free(b);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), 0);
	mesh_rec_pool_free(pool);
}
END_TEST

/* Many records through one pool: it grows several times, loses records
 * from all over its table (expiry in one set while another keeps a third of
 * them), and still finds every record it holds (a third set's merges take
 * references instead of copies) and takes back every one it lost. */
START_TEST(test_records_pool_grow_remove_find)
{
	enum { N = 700 };
	static struct bytes c[N];
	static uint8_t id[N][MESH_NODE_ID_LEN];
	struct mesh_rec_pool *pool = new_pool();
	struct mesh_records *a = new_set_in(pool, NULL, 0, 0), *b = new_set_in(pool, NULL, 0, 0);
	struct mesh_records *x = new_set_in(pool, NULL, 0, 0);
	size_t kept = 0, bytes = 0, kept_bytes = 0;

	for (unsigned i = 0; i < N; i++) {
		memset(id[i], 0, MESH_NODE_ID_LEN);
		id[i][0] = (uint8_t)(i * 7);
		id[i][1] = (uint8_t)i;
		id[i][2] = (uint8_t)(i >> 8);
		cert_bytes_id(&c[i], auth_sk, id[i], "m", NOW - 100,
		    i % 2 ? NOW + 10 : NOW + 1000, node_pk);
		MERGE(a, MESH_REC_CERT, &c[i], MESH_MERGE_NEW);
		if (i % 3 == 0)
			MERGE(b, MESH_REC_CERT, &c[i], MESH_MERGE_NEW);
		bytes += c[i].n;
		if (i % 2 == 0 || i % 3 == 0) {
			kept++;
			kept_bytes += c[i].n;
		}
	}
	ck_assert_uint_eq(mesh_rec_pool_count(pool), N);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), bytes);
	ck_assert_int_eq(mesh_records_handle_expiry(a, NOW + 10), 0);
	ck_assert_uint_eq(mesh_records_count(a, MESH_REC_CERT), (N + 1) / 2);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), kept);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), kept_bytes);
	/* every record still pooled is found: no new copy */
	for (unsigned i = 0; i < N; i++) {
		const uint8_t *p, *q;
		size_t n, m;

		if (i % 2 && i % 3)
			continue;
		MERGE(x, MESH_REC_CERT, &c[i], MESH_MERGE_NEW);
		ck_assert_int_eq(mesh_records_get(x, MESH_REC_CERT, id[i], &p, &n), 0);
		ck_assert_int_eq(mesh_records_get(i % 2 ? b : a, MESH_REC_CERT, id[i], &q, &m), 0);
		ck_assert_ptr_eq(p, q);
	}
	ck_assert_uint_eq(mesh_rec_pool_count(pool), kept);
	/* and the lost ones come back, one new copy each */
	for (unsigned i = 0; i < N; i++)
		if (i % 2 && i % 3)
			MERGE(x, MESH_REC_CERT, &c[i], MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), N);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), bytes);
	for (unsigned i = 0; i < N; i++) {
		const uint8_t *p;
		size_t n;

		ck_assert_int_eq(mesh_records_get(x, MESH_REC_CERT, id[i], &p, &n), 0);
		ck_assert_uint_eq(n, c[i].n);
		ck_assert_mem_eq(p, c[i].p, n);
	}
	mesh_records_free(a);
	mesh_records_free(x);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), (N + 2) / 3);
	mesh_records_free(b);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), 0);
	mesh_rec_pool_free(pool);
}
END_TEST

/* Fills a with one record of every kind (routes and a tombstone included),
 * and an orphan. */
static void fill_all_kinds(struct mesh_records *a, struct bytes *c11, struct bytes *e11,
    struct bytes *r11, struct bytes *rv13, struct bytes *e21)
{
	cert_bytes(c11, auth_sk, 0x11, "alpha", NOW - 100, NOW + 1000, node_pk);
	ep_bytes(e11, node_sk, 0x11, 1, NOW, 2);
	rt_bytes(r11, node_sk, 0x11, 1, NOW, 2);
	revoke_bytes(rv13, auth_sk, 0x13, NOW - 50);
	ep_bytes(e21, node_sk, 0x21, 1, NOW, 1);
	MERGE(a, MESH_REC_CERT, c11, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, e11, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ROUTES, r11, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_REVOKE, rv13, MESH_MERGE_NEW);
	MERGE(a, MESH_REC_ENDPOINTS, e21, MESH_MERGE_ORPHAN);
}

static void assert_same_gens(const struct mesh_records *a, const struct mesh_records *b)
{
	for (unsigned k = 0; k < MESH_RECORDS_BUCKETS; k++)
		ck_assert_uint_eq(mesh_records_bucket_gen(a, k), mesh_records_bucket_gen(b, k));
}

/* A clone of a pooled set holds references to the same pooled records (no
 * new copy), keeps them after the original is gone, and its own changes
 * make copies of their own. */
START_TEST(test_records_clone_pool_shares)
{
	static const enum mesh_rec_kind kinds[] = {
		MESH_REC_CERT, MESH_REC_ENDPOINTS, MESH_REC_ROUTES,
	};
	struct mesh_rec_pool *pool = new_pool();
	struct mesh_records *a = new_set_in(pool, NULL, 0, 4), *b;
	struct bytes c11, e11, r11, rv13, e21, e11b, c21;
	uint8_t ha[MESH_RECORDS_SET_HASH_LEN], hb[MESH_RECORDS_SET_HASH_LEN];
	size_t count;
	int err;

	fill_all_kinds(a, &c11, &e11, &r11, &rv13, &e21);
	count = mesh_rec_pool_count(pool);
	ck_assert_uint_eq(count, 4);
	b = mesh_records_clone(a, &err);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), count);
	for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		ck_assert_ptr_eq(held_ptr(a, kinds[i], 0x11), held_ptr(b, kinds[i], 0x11));
	ck_assert_ptr_eq(held_ptr(a, MESH_REC_REVOKE, 0x13), held_ptr(b, MESH_REC_REVOKE, 0x13));
	ck_assert_uint_eq(mesh_records_pending(b), 1);
	assert_same_digest(a, b);
	assert_same_gens(a, b);
	ck_assert_int_eq(mesh_records_set_hash(a, ha), 0);
	ck_assert_int_eq(mesh_records_set_hash(b, hb), 0);
	ck_assert_mem_eq(ha, hb, sizeof ha);
	/* a change in the clone: a copy of its own, a's record stays */
	ep_bytes(&e11b, node_sk, 0x11, 2, NOW, 1);
	MERGE(b, MESH_REC_ENDPOINTS, &e11b, MESH_MERGE_NEW);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), count + 1);
	assert_held(a, MESH_REC_ENDPOINTS, 0x11, &e11);
	ck_assert_uint_ne(mesh_records_bucket_gen(b, 0x11), mesh_records_bucket_gen(a, 0x11));
	/* the original goes: the clone keeps every record it references */
	mesh_records_free(a);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), count);
	assert_held(b, MESH_REC_CERT, 0x11, &c11);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, &e11b);
	assert_held(b, MESH_REC_ROUTES, 0x11, &r11);
	assert_held(b, MESH_REC_REVOKE, 0x13, &rv13);
	/* its orphan is adopted with its cert, into the pool */
	cert_bytes(&c21, auth_sk, 0x21, "gamma", NOW - 100, NOW + 3000, node_pk);
	MERGE(b, MESH_REC_CERT, &c21, MESH_MERGE_NEW);
	assert_held(b, MESH_REC_ENDPOINTS, 0x21, &e21);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), count + 2);
	mesh_records_free(b);
	ck_assert_uint_eq(mesh_rec_pool_count(pool), 0);
	ck_assert_uint_eq(mesh_rec_pool_bytes(pool), 0);
	mesh_rec_pool_free(pool);
}
END_TEST

/* A clone of a set without a pool has copies of every kind of record of its
 * own, routes and tombstones included. */
START_TEST(test_records_clone_private_copies)
{
	static const enum mesh_rec_kind kinds[] = {
		MESH_REC_CERT, MESH_REC_ENDPOINTS, MESH_REC_ROUTES,
	};
	struct mesh_records *a = new_set(NULL, 0, 4), *b;
	struct bytes c11, e11, r11, rv13, e21;
	int err;

	fill_all_kinds(a, &c11, &e11, &r11, &rv13, &e21);
	b = mesh_records_clone(a, &err);
	ck_assert_ptr_nonnull(b);
	for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		ck_assert_ptr_nonnull(held_ptr(b, kinds[i], 0x11));
		ck_assert_ptr_ne(held_ptr(a, kinds[i], 0x11), held_ptr(b, kinds[i], 0x11));
	}
	ck_assert_ptr_ne(held_ptr(a, MESH_REC_REVOKE, 0x13), held_ptr(b, MESH_REC_REVOKE, 0x13));
	assert_same_digest(a, b);
	assert_same_gens(a, b);
	mesh_records_free(a);
	assert_held(b, MESH_REC_CERT, 0x11, &c11);
	assert_held(b, MESH_REC_ENDPOINTS, 0x11, &e11);
	assert_held(b, MESH_REC_ROUTES, 0x11, &r11);
	assert_held(b, MESH_REC_REVOKE, 0x13, &rv13);
	/* the tombstone still refuses, the routes record is still compared */
	MERGE(b, MESH_REC_CERT, &c11, MESH_MERGE_DUP);
	MERGE(b, MESH_REC_ROUTES, &r11, MESH_MERGE_DUP);
	cert_bytes(&c11, auth_sk, 0x13, "delta", NOW - 100, NOW + 1000, node_pk);
	MERGE(b, MESH_REC_CERT, &c11, MESH_MERGE_REVOKED);
	mesh_records_free(b);
}
END_TEST

/* gen values seen for one bucket: each change gives one never seen. */
struct gens {
	uint64_t v[32];
	unsigned n;
};

/* Asserts that bucket b's generation changed (changed) or not, and
 * remembers a new one. */
static void gen_check(const struct mesh_records *recs, unsigned b, struct gens *g, bool changed,
    int line)
{
	uint64_t now = mesh_records_bucket_gen(recs, b);
	uint64_t last = g->n > 0 ? g->v[g->n - 1] : 0;

	if (!changed) {
		ck_assert_msg(now == last, "line %d: bucket %02x gen %llu, was %llu", line, b,
		    (unsigned long long)now, (unsigned long long)last);
		return;
	}
	for (unsigned i = 0; i < g->n; i++)
		ck_assert_msg(now != g->v[i], "line %d: bucket %02x gen %llu again", line, b,
		    (unsigned long long)now);
	ck_assert_msg(now != 0, "line %d: bucket %02x gen 0 after a change", line, b);
	ck_assert_uint_lt(g->n, 32);
	g->v[g->n++] = now;
}

#define GEN(recs, b, g, changed) gen_check(recs, b, g, changed, __LINE__)

/* A bucket's generation changes with every record stored in or dropped from
 * it, and with nothing else: not with merges that store nothing, not with
 * other buckets' changes, not with an expiry pass that drops nothing. The
 * cached set hash follows the same changes. */
START_TEST(test_records_bucket_gen_tracks_changes)
{
	struct mesh_records *recs = new_set(NULL, 0, 4);
	struct bytes c11, c11_old, c11_foreign, e11, e11b, r11, c12, rv12, o22;
	struct gens g11 = { .n = 0 }, g12 = { .n = 0 }, g22 = { .n = 0 };
	uint8_t h0[MESH_RECORDS_SET_HASH_LEN], h[MESH_RECORDS_SET_HASH_LEN];

	for (unsigned b = 0; b < MESH_RECORDS_BUCKETS; b++)
		ck_assert_uint_eq(mesh_records_bucket_gen(recs, b), 0);
	ck_assert_uint_eq(mesh_records_bucket_gen(recs, MESH_RECORDS_BUCKETS), 0);
	cert_bytes(&c11, auth_sk, 0x11, "alpha", NOW - 50, NOW + 100000, node_pk);
	cert_bytes(&c11_old, auth_sk, 0x11, "alpha", NOW - 100, NOW + 100000, node_pk);
	cert_bytes(&c11_foreign, other_sk, 0x11, "alpha", NOW - 10, NOW + 100000, node_pk);
	ep_bytes(&e11, node_sk, 0x11, 1, NOW, 1);
	ep_bytes(&e11b, node_sk, 0x11, 2, NOW, 2);
	rt_bytes(&r11, node_sk, 0x11, 1, NOW, 1);
	cert_bytes(&c12, auth_sk, 0x12, "beta", NOW - 100, NOW + 100000, node_pk);
	revoke_bytes(&rv12, auth_sk, 0x12, NOW - 10);
	ep_bytes(&o22, node_sk, 0x22, 1, NOW, 1);

	MERGE(recs, MESH_REC_CERT, &c11, MESH_MERGE_NEW);
	GEN(recs, 0x11, &g11, true);
	for (unsigned b = 0; b < MESH_RECORDS_BUCKETS; b++)
		if (b != 0x11)
			ck_assert_uint_eq(mesh_records_bucket_gen(recs, b), 0);
	ck_assert_int_eq(mesh_records_set_hash(recs, h0), 0);
	/* nothing stored: the same generation and set hash */
	MERGE(recs, MESH_REC_CERT, &c11, MESH_MERGE_DUP);
	MERGE(recs, MESH_REC_CERT, &c11_old, MESH_MERGE_STALE);
	MERGE(recs, MESH_REC_CERT, &c11_foreign, MESH_MERGE_INVALID);
	MERGE(recs, MESH_REC_ENDPOINTS, &o22, MESH_MERGE_ORPHAN);
	GEN(recs, 0x11, &g11, false);
	GEN(recs, 0x22, &g22, false);
	ck_assert_int_eq(mesh_records_set_hash(recs, h), 0);
	ck_assert_mem_eq(h, h0, sizeof h);
	/* each kind stored or replaced */
	MERGE(recs, MESH_REC_ENDPOINTS, &e11, MESH_MERGE_NEW);
	GEN(recs, 0x11, &g11, true);
	ck_assert_int_eq(mesh_records_set_hash(recs, h), 0);
	ck_assert_mem_ne(h, h0, sizeof h);
	memcpy(h0, h, sizeof h);
	MERGE(recs, MESH_REC_ENDPOINTS, &e11b, MESH_MERGE_NEW);
	GEN(recs, 0x11, &g11, true);
	MERGE(recs, MESH_REC_ROUTES, &r11, MESH_MERGE_NEW);
	GEN(recs, 0x11, &g11, true);
	ck_assert_int_eq(mesh_records_set_hash(recs, h), 0);
	ck_assert_mem_ne(h, h0, sizeof h);
	/* another bucket's changes leave this one alone */
	MERGE(recs, MESH_REC_CERT, &c12, MESH_MERGE_NEW);
	GEN(recs, 0x12, &g12, true);
	GEN(recs, 0x11, &g11, false);
	MERGE(recs, MESH_REC_REVOKE, &rv12, MESH_MERGE_NEW);	/* stores one, drops one */
	GEN(recs, 0x12, &g12, true);
	GEN(recs, 0x11, &g11, false);
	/* expiry: a pass that drops nothing changes nothing */
	ck_assert_int_eq(mesh_records_set_hash(recs, h0), 0);
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + 1), 0);
	GEN(recs, 0x11, &g11, false);
	GEN(recs, 0x12, &g12, false);
	ck_assert_int_eq(mesh_records_set_hash(recs, h), 0);
	ck_assert_mem_eq(h, h0, sizeof h);
	/* ... and one that drops 0x11's endpoint record changes its bucket */
	ck_assert_int_eq(mesh_records_handle_expiry(recs, NOW + MESH_ENDPOINTS_TTL_S), 0);
	assert_held(recs, MESH_REC_ENDPOINTS, 0x11, NULL);
	GEN(recs, 0x11, &g11, true);
	GEN(recs, 0x12, &g12, false);
	ck_assert_int_eq(mesh_records_set_hash(recs, h), 0);
	ck_assert_mem_ne(h, h0, sizeof h);
	/* the orphan's node gets its cert: bucket 0x22 changes */
	cert_bytes(&c12, auth_sk, 0x22, "c", NOW - 100, NOW + 100000, node_pk);
	MERGE(recs, MESH_REC_CERT, &c12, MESH_MERGE_NEW);
	GEN(recs, 0x22, &g22, true);
	mesh_records_free(recs);
}
END_TEST

/* A bucket's digest is that bucket's slice of the whole digest, in the same
 * order; a short buffer gets the first entries and the full count. */
START_TEST(test_records_bucket_digest_slices)
{
	enum { PER = 5 };
	struct mesh_records *recs = new_set(NULL, 0, 0);
	struct mesh_digest d = { 0 };
	struct mesh_digest_entry out[4 * PER], sentinel;
	size_t at = 0;

	for (unsigned i = 0; i < 3 * PER; i++) {
		uint8_t id[MESH_NODE_ID_LEN];
		struct bytes c;

		/* buckets 0x40, 0x41 and 0xff, ids arriving out of order */
		memset(id, 0, sizeof id);
		id[0] = i % 3 == 2 ? 0xff : (uint8_t)(0x40 + i % 3);
		id[1] = (uint8_t)(0xf0 - 16 * i);
		cert_bytes_id(&c, auth_sk, id, "m", NOW - 100, NOW + 1000, node_pk);
		MERGE(recs, MESH_REC_CERT, &c, MESH_MERGE_NEW);
	}
	ck_assert_int_eq(mesh_records_digest(recs, &d), 0);
	ck_assert_uint_eq(d.n, 3 * PER);
	for (unsigned b = 0; b < MESH_RECORDS_BUCKETS; b++) {
		size_t n = mesh_records_bucket_digest(recs, b, out, sizeof out / sizeof out[0]);

		ck_assert_uint_eq(n, b == 0x40 || b == 0x41 || b == 0xff ? PER : 0);
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_eq(out[i].node_id[0], b);
			ck_assert_uint_eq(out[i].kind, d.e[at + i].kind);
			ck_assert_mem_eq(out[i].node_id, d.e[at + i].node_id, MESH_NODE_ID_LEN);
			ck_assert_uint_eq(out[i].version, d.e[at + i].version);
			ck_assert_mem_eq(out[i].hash, d.e[at + i].hash, MESH_DIGEST_HASH_LEN);
		}
		at += n;
	}
	ck_assert_uint_eq(at, d.n);
	memset(&sentinel, 0xa5, sizeof sentinel);
	out[2] = sentinel;
	ck_assert_uint_eq(mesh_records_bucket_digest(recs, 0x41, out, 2), PER);
	ck_assert_uint_eq(out[2].kind, sentinel.kind);
	ck_assert_mem_eq(out[2].node_id, sentinel.node_id, MESH_NODE_ID_LEN);
	ck_assert_uint_eq(out[2].version, sentinel.version);
	ck_assert_uint_eq(mesh_records_bucket_digest(recs, 0x41, NULL, 0), PER);
	ck_assert_uint_eq(mesh_records_bucket_digest(recs, MESH_RECORDS_BUCKETS, out, 4), 0);
	mesh_digest_clear(&d);
	mesh_records_free(recs);
}
END_TEST

Suite *suite_records(void);

Suite *suite_records(void)
{
	Suite *s = suite_create("records");
	TCase *tc = tcase_create("endpoints");

	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_endpoints_roundtrip_canonical);
	tcase_add_test(tc, test_endpoints_every_bit_flip_rejected);
	tcase_add_test(tc, test_endpoints_decode_truncated_and_trailing);
	tcase_add_test(tc, test_endpoints_tcp_entry);
	tcase_add_test(tc, test_endpoints_decode_rejects_table);
	tcase_add_test(tc, test_endpoints_normalize_and_encode_rejects);
	tcase_add_test(tc, test_endpoints_verify_times_mesh_key);
	tcase_add_test(tc, test_endpoints_signature_is_domain_separated);
	suite_add_tcase(s, tc);

	tc = tcase_create("merge");
	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 600);	/* the differential test under valgrind */
	tcase_add_test(tc, test_records_merge_cert_newer_wins);
	tcase_add_test(tc, test_records_merge_equal_version_deterministic);
	tcase_add_test(tc, test_records_merge_endpoints_newer_older);
	tcase_add_test(tc, test_records_merge_revoke_removes_and_refuses);
	tcase_add_test(tc, test_records_merge_not_newer_costs_no_check);
	tcase_add_test(tc, test_records_merge_revoke_before_cert);
	tcase_add_test(tc, test_records_merge_foreign_authority_invalid);
	tcase_add_test(tc, test_records_merge_endpoints_wrong_key_invalid);
	tcase_add_test(tc, test_records_merge_orphan_pending);
	tcase_add_test(tc, test_records_orphan_pending_grows_to_cap);
	tcase_add_test(tc, test_records_clone_independent);
	tcase_add_test(tc, test_records_handle_expiry_cert);
	tcase_add_test(tc, test_records_handle_expiry_endpoints);
	tcase_add_test(tc, test_records_merge_rekey_drops_endpoints);
	tcase_add_test(tc, test_records_merge_invalid_table);
	tcase_add_test(tc, test_records_merge_cap_full);
	tcase_add_test(tc, test_records_handle_expiry_many_nodes);
	tcase_add_test(tc, test_records_merge_reentry_refused);
	tcase_add_test(tc, test_records_merge_differential_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("routes");
	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_records_routes_newer_wins);
	tcase_add_test(tc, test_records_routes_equal_seq_larger_bytes_wins);
	tcase_add_test(tc, test_records_routes_orphan_then_cert);
	tcase_add_test(tc, test_records_routes_tombstone_drops);
	tcase_add_test(tc, test_records_routes_invalid);
	tcase_add_test(tc, test_records_routes_rekey);
	tcase_add_test(tc, test_records_pool_shares_records);
	tcase_add_test(tc, test_records_pool_many_expire);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 600);	/* under valgrind */
	tcase_add_test(tc, test_records_pool_reuse_after_free);
	tcase_add_test(tc, test_records_pool_grow_remove_find);
	tcase_add_test(tc, test_records_clone_pool_shares);
	tcase_add_test(tc, test_records_clone_private_copies);
	tcase_add_test(tc, test_records_bucket_gen_tracks_changes);
	tcase_add_test(tc, test_records_bucket_digest_slices);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(suite_records());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
