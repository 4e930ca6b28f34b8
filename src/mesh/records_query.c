/* Reading the record set (mesh/records_internal.h): lookups, walks, counts,
 * the digest buckets and the set hash. The walks go in digest order: bucket
 * by bucket, node id within a bucket, kind within a node. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/records_internal.h"
#include "util/err.h"

int mesh_records_get(const struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t node_id[MESH_NODE_ID_LEN], const uint8_t **bytes, size_t *len)
{
	const struct node *n;

	*bytes = NULL;
	*len = 0;
	if (!kind_ok(kind) || (n = records_node_lookup(recs, node_id)) == NULL || rec_of(n, kind - 1) == NULL)
		return MESHD_E_NOENT;
	*bytes = rec_of(n, kind - 1)->bytes;
	*len = rec_of(n, kind - 1)->len;
	return 0;
}

/* The held record of that kind decoded into out, the kind's struct (zeroed
 * first): one lookup and one error for the three decoded views below.
 * 0 or MESHD_E_NOENT. */
static int get_decoded(const struct mesh_records *recs, enum mesh_rec_kind kind,
    const uint8_t node_id[MESH_NODE_ID_LEN], void *out, size_t out_len)
{
	const uint8_t *b;
	size_t len;
	int r = MESHD_E_NOENT;

	memset(out, 0, out_len);
	if (mesh_records_get(recs, kind, node_id, &b, &len) != 0)
		return MESHD_E_NOENT;
	if (kind == MESH_REC_CERT)
		r = mesh_cert_decode(b, len, out);
	else if (kind == MESH_REC_ENDPOINTS)
		r = mesh_endpoints_decode(b, len, out);
	else if (kind == MESH_REC_ROUTES)
		r = mesh_routes_decode(b, len, out);
	return r == 0 ? 0 : MESHD_E_NOENT;
}

int mesh_records_cert(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_cert *out)
{
	return get_decoded(recs, MESH_REC_CERT, node_id, out, sizeof *out);
}

int mesh_records_endpoints(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_endpoints *out)
{
	return get_decoded(recs, MESH_REC_ENDPOINTS, node_id, out, sizeof *out);
}

int mesh_records_routes(const struct mesh_records *recs,
    const uint8_t node_id[MESH_NODE_ID_LEN], struct mesh_routes *out)
{
	return get_decoded(recs, MESH_REC_ROUTES, node_id, out, sizeof *out);
}

int mesh_records_foreach(const struct mesh_records *recs, int kind,
    mesh_records_walk_fn *fn, void *ctx)
{
	size_t b, i;
	unsigned k;
	int r;

	for (b = 0; b < MESH_RECORDS_BUCKETS; b++)
		for (i = 0; i < recs->bk[b].n; i++) {
			const struct node *n = &recs->bk[b].v[i];

			for (k = 0; k < NKINDS; k++) {
				const struct blob *bl = rec_of(n, k);

				if (bl == NULL || (kind != 0 && kind != (int)k + 1))
					continue;
				if ((r = fn(ctx, (enum mesh_rec_kind)(k + 1), n->id, bl->bytes,
				    bl->len)) != 0)
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

static void entry_of(const struct node *n, unsigned k, struct mesh_digest_entry *e)
{
	const struct blob *bl = rec_of(n, k);

	e->kind = (uint8_t)(k + 1);
	memcpy(e->node_id, n->id, MESH_NODE_ID_LEN);
	e->version = bl->version;
	memcpy(e->hash, bl->hash, MESH_DIGEST_HASH_LEN);
}

uint64_t mesh_records_bucket_gen(const struct mesh_records *recs, unsigned b)
{
	return b < MESH_RECORDS_BUCKETS ? recs->bk[b].gen : 0;
}

size_t mesh_records_bucket_digest(const struct mesh_records *recs, unsigned b,
    struct mesh_digest_entry *out, size_t cap)
{
	size_t i, n = 0;
	unsigned k;

	if (b >= MESH_RECORDS_BUCKETS)
		return 0;
	for (i = 0; i < recs->bk[b].n; i++)
		for (k = 0; k < NKINDS; k++) {
			if (rec_of(&recs->bk[b].v[i], k) == NULL)
				continue;
			if (n < cap)
				entry_of(&recs->bk[b].v[i], k, &out[n]);
			n++;
		}
	return n;
}

void mesh_digest_clear(struct mesh_digest *d)
{
	free(d->e);
	d->e = NULL;
	d->n = 0;
}

int mesh_records_digest(const struct mesh_records *recs, struct mesh_digest *d)
{
	size_t total = mesh_records_count(recs, 0), b;

	d->e = NULL;
	d->n = 0;
	if ((d->e = calloc(total + 1, sizeof *d->e)) == NULL)
		return MESHD_E_NOMEM;
	for (b = 0; b < MESH_RECORDS_BUCKETS; b++)
		d->n += mesh_records_bucket_digest(recs, (unsigned)b, d->e + d->n, total - d->n);
	return 0;
}

int mesh_records_set_hash(struct mesh_records *recs, uint8_t out[MESH_RECORDS_SET_HASH_LEN])
{
	enum { ENT_LEN = 1 + MESH_NODE_ID_LEN + 8 + REC_HASH_LEN, BATCH = 32 };
	crypto_generichash_state st;
	uint8_t buf[BATCH * ENT_LEN];
	struct wr w;
	size_t b, i;
	unsigned k;

	if (recs->hash_ok) {
		memcpy(out, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
		return 0;
	}
	crypto_generichash_init(&st, NULL, 0, MESH_RECORDS_SET_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)MESH_RECORDS_SET_DOMAIN,
	    strlen(MESH_RECORDS_SET_DOMAIN));
	/* entries go to the hash BATCH at a time: the same bytes, fewer calls */
	wr_init(&w, buf, sizeof buf);
	for (b = 0; b < MESH_RECORDS_BUCKETS; b++)
		for (i = 0; i < recs->bk[b].n; i++) {
			const struct node *n = &recs->bk[b].v[i];

			for (k = 0; k < NKINDS; k++) {
				const struct blob *bl = rec_of(n, k);

				if (bl == NULL)
					continue;
				if (w.cap - w.off < ENT_LEN) {
					crypto_generichash_update(&st, buf, w.off);
					wr_init(&w, buf, sizeof buf);
				}
				(void)(wr_u8(&w, (uint8_t)(k + 1)) ||
				    wr_bytes(&w, n->id, MESH_NODE_ID_LEN) ||
				    wr_u64(&w, bl->version) || wr_bytes(&w, bl->hash, REC_HASH_LEN));
			}
		}
	crypto_generichash_update(&st, buf, w.off);
	crypto_generichash_final(&st, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
	recs->hash_ok = true;
	memcpy(out, recs->set_hash, MESH_RECORDS_SET_HASH_LEN);
	return 0;
}
