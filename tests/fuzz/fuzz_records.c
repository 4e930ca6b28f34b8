/* libFuzzer harness for the gossiped record set: mesh_records_merge() with
 * arbitrary bytes of each kind, the endpoint record decoder past its
 * signature, and the digest the gossip engine builds from the set.
 *
 * The first input byte picks the mode (mod 6), the rest is the payload:
 *	0, 1, 2, 4	merge the payload as a CERT, REVOKE, ENDPOINTS or ROUTES
 *		record
 *	3	the payload is the body of an endpoint record (everything before
 *		the signature): the harness puts our mesh id in it (and a fresh
 *		timestamp unless the field's top bit is set), signs it with a
 *		fixed node key, first merges a cert that binds that key for the
 *		payload's node id, then merges the record, again, and once more
 *		with seq's low bit flipped, so mutations reach the checks after
 *		the signature (version order, events, expiry)
 *	5	a sequence of the above against one set, with the clock moving
 *		(see sequence_case())
 *
 * Whatever decodes must re-encode byte for byte, and the set's digest must
 * list every held record once, in order. Each input starts from a copy
 * (mesh_records_clone) of one empty set made at start-up, so a crash
 * reproduces from its input alone, and every input sees the same table key
 * (a fresh set drew a random one each time, with a getrandom() call). Keys:
 * authority seed 0x5e x 32 (as fuzz_cert), node key seed 0x6e x 32.
 *
 * Signatures: linked with sign_memo.c and verify_memo.c (--wrap), so what
 * the harness signs again (the cert, most often) is not signed again, and
 * what it signed is not verified again at full cost; the records still go
 * through their verify path, and fuzzed signatures are checked for real. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/records.h"
#include "mesh/routes.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000 };

static uint8_t auth_pk[MESH_PK_LEN], auth_sk[MESH_SK_LEN];
static uint8_t node_pk[MESH_PK_LEN], node_sk[MESH_SK_LEN];
static uint8_t mesh_id[MESH_ID_LEN];
static struct mesh_records *empty_set;	/* what every input starts from */

static void setup(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x5e, sizeof seed);
	crypto_sign_seed_keypair(auth_pk, auth_sk, seed);
	memset(seed, 0x6e, sizeof seed);
	crypto_sign_seed_keypair(node_pk, node_sk, seed);
	mesh_identity_mesh_id(auth_pk, mesh_id);
}

static unsigned nevents;

static void on_event(void *ctx, const struct mesh_rec_event *ev)
{
	(void)ctx;
	if (ev->node_id == NULL)
		abort();
	nevents++;
}

static struct mesh_records *set_new(void)
{
	struct mesh_records_cfg cfg;
	struct mesh_records *recs;
	int err;

	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.authority_pk, auth_pk, MESH_PK_LEN);
	cfg.max_nodes = 64;
	cfg.max_pending = 4;
	cfg.on_event = on_event;
	if ((recs = mesh_records_new(&cfg, &err)) == NULL)
		abort();
	return recs;
}

/* A valid cert for node_id binding the fixed node key. */
static size_t make_cert(const uint8_t node_id[MESH_NODE_ID_LEN], uint8_t *buf, size_t cap)
{
	struct mesh_cert c;
	struct wr w;

	memset(&c, 0, sizeof c);
	c.version = MESH_CERT_VERSION;
	memcpy(c.mesh_id, mesh_id, MESH_ID_LEN);
	memcpy(c.node_id, node_id, MESH_NODE_ID_LEN);
	strcpy(c.name, "fuzz");
	memcpy(c.sign_pk, node_pk, MESH_PK_LEN);
	c.issued_at = NOW - 60;
	c.expires_at = NOW + 86400;
	wr_init(&w, buf, cap);
	if (mesh_cert_sign(&c, auth_sk) != 0 || mesh_cert_encode(&c, &w) != 0)
		abort();
	return w.off;
}

/* Whatever decodes re-encodes to the same bytes. */
static void check_canonical(int kind, const uint8_t *p, size_t n)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_endpoints e;
	struct mesh_cert c;
	struct mesh_revoke rv;
	struct mesh_routes rt;
	struct wr w;
	int r = -1;

	wr_init(&w, buf, sizeof buf);
	if (kind == MESH_REC_ENDPOINTS && mesh_endpoints_decode(p, n, &e) == 0)
		r = mesh_endpoints_encode(&e, &w);
	else if (kind == MESH_REC_CERT && mesh_cert_decode(p, n, &c) == 0)
		r = mesh_cert_encode(&c, &w);
	else if (kind == MESH_REC_REVOKE && mesh_revoke_decode(p, n, &rv) == 0)
		r = mesh_revoke_encode(&rv, &w);
	else if (kind == MESH_REC_ROUTES && mesh_routes_decode(p, n, &rt) == 0)
		r = mesh_routes_encode(&rt, &w);
	else
		return;
	if (r != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
}

static void merge_checked(struct mesh_records *recs, int kind, const uint8_t *p, size_t n,
    uint64_t now)
{
	int r = mesh_records_merge(recs, (enum mesh_rec_kind)kind, p, n, now);

	if (r < 0 && r != MESHD_E_NOMEM && r != MESHD_E_FULL)
		abort();
	if (r == MESH_MERGE_NEW) {
		const uint8_t *held;
		size_t len;

		/* what was stored is what came in */
		if (mesh_records_get(recs, (enum mesh_rec_kind)kind, p + 1 + MESH_ID_LEN,
		    &held, &len) != 0 || len != n || memcmp(held, p, n) != 0)
			abort();
	}
}

/* Offsets in an endpoint record. */
enum { OFF_SEQ = 1 + MESH_ID_LEN + MESH_NODE_ID_LEN, OFF_TS = OFF_SEQ + 8 };

/* Signs the n-byte body in rec with the node key and appends the signature. */
static void sign_append(uint8_t *rec, size_t n)
{
	if (mesh_identity_sign(node_sk, MESH_ENDPOINTS_DOMAIN, rec, n, rec + n) != 0)
		abort();
}

/* with_cert: merge a cert binding the node key for the record's node id
 * first; without it the record is an orphan (until a later chunk's cert). */
static void signed_endpoints(struct mesh_records *recs, const uint8_t *p, size_t n,
    bool with_cert, uint64_t now)
{
	uint8_t rec[MESH_ENDPOINTS_MAX_LEN + MESH_SIG_LEN], cert[MESH_CERT_MAX_LEN];
	size_t clen;

	if (n < 1 + MESH_ID_LEN + MESH_NODE_ID_LEN || n > MESH_ENDPOINTS_MAX_LEN - MESH_SIG_LEN)
		return;
	memcpy(rec, p, n);
	memcpy(rec + 1, mesh_id, MESH_ID_LEN);
	/* most timestamps are out of the window: unless the fuzzer sets the top
	 * bit of the field, put one inside it (now minus up to 255 minutes) */
	if (n >= OFF_TS + 8 && (rec[OFF_TS] & 0x80) == 0) {
		uint64_t ts = now - 60 * (uint64_t)rec[OFF_TS + 7];

		for (unsigned i = 0; i < 8; i++)
			rec[OFF_TS + i] = (uint8_t)(ts >> (56 - 8 * i));
	}
	if (with_cert) {
		int r;

		clen = make_cert(rec + 1 + MESH_ID_LEN, cert, sizeof cert);
		r = mesh_records_merge(recs, MESH_REC_CERT, cert, clen, now);
		if (r < 0 && r != MESHD_E_NOMEM && r != MESHD_E_FULL)
			abort();
	}
	sign_append(rec, n);
	check_canonical(MESH_REC_ENDPOINTS, rec, n + MESH_SIG_LEN);
	merge_checked(recs, MESH_REC_ENDPOINTS, rec, n + MESH_SIG_LEN, now);
	/* the same record again is never NEW */
	if (mesh_records_merge(recs, MESH_REC_ENDPOINTS, rec, n + MESH_SIG_LEN, now) ==
	    MESH_MERGE_NEW)
		abort();
	/* a neighbour version (seq - 1 or + 1, re-signed): STALE, DUP or NEW */
	if (n >= OFF_SEQ + 8) {
		rec[OFF_SEQ + 7] ^= 1;
		sign_append(rec, n);
		merge_checked(recs, MESH_REC_ENDPOINTS, rec, n + MESH_SIG_LEN, now);
	}
}

/* Mode 5: a sequence of chunks u8 op | u8 len | len bytes against one set.
 * op & 3: 0-2 raw merge of kind 1-3 (of kind 4, ROUTES, when op & 4), 3
 * signed endpoint body (with a cert first when op & 4); op & 8 also runs the expiry, with the clock moved on
 * by (op >> 4) x 1000 s. Exercises orphans waiting and being evicted,
 * adoption, replacement and deletion from the table. */
static void sequence_case(struct mesh_records *recs, const uint8_t *p, size_t n)
{
	uint64_t now = NOW;

	while (n >= 2) {
		uint8_t op = p[0];
		size_t len = p[1] < n - 2 ? p[1] : n - 2;
		const uint8_t *body = p + 2;

		if ((op & 3) == 3) {
			signed_endpoints(recs, body, len, (op & 4) != 0, now);
		} else if (op & 4) {
			check_canonical(MESH_REC_ROUTES, body, len);
			merge_checked(recs, MESH_REC_ROUTES, body, len, now);
		} else {
			merge_checked(recs, 1 + (op & 3), body, len, now);
		}
		if (op & 8) {
			now += 1000 * (uint64_t)(op >> 4);
			if (mesh_records_handle_expiry(recs, now) != 0 ||
			    mesh_records_next_expiry(recs) <= now)
				abort();
		}
		p += 2 + len;
		n -= 2 + len;
	}
}

/* The digest the gossip engine sends lists every held record once, sorted
 * by (node id, kind). */
static void check_digest(const struct mesh_records *recs)
{
	struct mesh_digest d;
	size_t i;

	if (mesh_records_digest(recs, &d) != 0)
		return;
	if (d.n != mesh_records_count(recs, 0))
		abort();
	for (i = 1; i < d.n; i++) {
		int c = memcmp(d.e[i - 1].node_id, d.e[i].node_id, MESH_NODE_ID_LEN);

		if (c > 0 || (c == 0 && d.e[i - 1].kind >= d.e[i].kind))
			abort();
	}
	mesh_digest_clear(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct mesh_records *recs;
	uint8_t h[MESH_RECORDS_SET_HASH_LEN];
	int kind, err;

	if (!ready) {
		setup();
		empty_set = set_new();
		ready = true;
	}
	if (size < 1)
		return 0;
	if ((recs = mesh_records_clone(empty_set, &err)) == NULL)
		abort();
	switch (data[0] % 6) {
	case 0:
	case 1:
	case 2:
	case 4:
		kind = data[0] % 6 == 4 ? MESH_REC_ROUTES : 1 + data[0] % 6;
		check_canonical(kind, data + 1, size - 1);
		merge_checked(recs, kind, data + 1, size - 1, NOW);
		break;
	case 3:
		signed_endpoints(recs, data + 1, size - 1, true, NOW);
		(void)mesh_records_handle_expiry(recs, NOW + MESH_ENDPOINTS_TTL_S);
		break;
	default:
		sequence_case(recs, data + 1, size - 1);
		break;
	}
	check_digest(recs);
	(void)mesh_records_set_hash(recs, h);
	mesh_records_free(recs);
	return 0;
}
