/* Blobs and the record pool (mesh/records_internal.h): a held record is a
 * struct blob, immutable, counted by its holders. With a pool (records.h)
 * blobs are interned across sets; without one each set's blobs are its own
 * (count 1). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/records_internal.h"
#include "util/err.h"

enum {
	POOL_MIN = 64,
};

/* Looked up by a keyed SipHash of the bytes, so that a record the pool has
 * already costs no BLAKE2b (its record hash is in the blob). */
struct mesh_rec_pool {
	struct blob **slots;		/* open addressing by pkey, linear probing */
	size_t cap;			/* power of two */
	size_t n, bytes;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

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

static uint64_t pool_key(const struct mesh_rec_pool *p, uint8_t kind, const uint8_t *bytes,
    size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, bytes, len, p->key);
	memcpy(&v, h, sizeof v);
	return v ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ULL);
}

static size_t pool_home(size_t cap, uint64_t pkey)
{
	return (size_t)pkey & (cap - 1);
}

static bool blob_is(const struct blob *b, uint64_t pkey, uint8_t kind, const uint8_t *bytes,
    size_t len)
{
	return b->pkey == pkey && b->kind == kind && b->len == len &&
	    memcmp(b->bytes, bytes, len) == 0;
}

/* The slot holding that record, or the empty slot where it would go. */
static size_t pool_find(const struct mesh_rec_pool *p, uint64_t pkey, uint8_t kind,
    const uint8_t *bytes, size_t len)
{
	size_t mask = p->cap - 1, i = pool_home(p->cap, pkey);

	while (p->slots[i] != NULL && !blob_is(p->slots[i], pkey, kind, bytes, len))
		i = (i + 1) & mask;
	return i;
}

static int pool_grow(struct mesh_rec_pool *p)
{
	size_t ncap = p->cap ? 2 * p->cap : POOL_MIN, i, j;
	struct blob **ns = calloc(ncap, sizeof *ns);

	if (ns == NULL)
		return MESHD_E_NOMEM;
	for (i = 0; i < p->cap; i++) {
		struct blob *b = p->slots[i];

		if (b == NULL)
			continue;
		for (j = pool_home(ncap, b->pkey); ns[j] != NULL; j = (j + 1) & (ncap - 1))
			;
		ns[j] = b;
	}
	free(p->slots);
	p->slots = ns;
	p->cap = ncap;
	return 0;
}

/* Takes b out of the table (backward-shift deletion). */
static void pool_remove(struct mesh_rec_pool *p, const struct blob *b)
{
	size_t mask = p->cap - 1, i = pool_home(p->cap, b->pkey), j;

	while (p->slots[i] != b)
		i = (i + 1) & mask;
	p->slots[i] = NULL;
	p->n--;
	p->bytes -= b->len;
	for (j = i;;) {
		struct blob *m;
		size_t k;
		bool stay;

		j = (j + 1) & mask;
		if ((m = p->slots[j]) == NULL)
			break;
		k = pool_home(p->cap, m->pkey);
		stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stay)
			continue;
		p->slots[i] = m;
		p->slots[j] = NULL;
		i = j;
	}
}

struct mesh_rec_pool *mesh_rec_pool_new(int *err)
{
	struct mesh_rec_pool *p = calloc(1, sizeof *p);

	*err = 0;
	if (p == NULL || pool_grow(p) != 0) {
		free(p);
		*err = MESHD_E_NOMEM;
		return NULL;
	}
	crypto_shorthash_keygen(p->key);
	return p;
}

void mesh_rec_pool_free(struct mesh_rec_pool *pool)
{
	if (pool == NULL)
		return;
	free(pool->slots);
	free(pool);
}

size_t mesh_rec_pool_count(const struct mesh_rec_pool *pool)
{
	return pool->n;
}

size_t mesh_rec_pool_bytes(const struct mesh_rec_pool *pool)
{
	return pool->bytes;
}

int records_blob_get(struct mesh_records *recs, unsigned k, const uint8_t *bytes, size_t len,
    uint64_t version, uint64_t expires, const uint8_t *sign_pk, struct blob **out)
{
	struct mesh_rec_pool *p = recs->pool;
	uint8_t kind = (uint8_t)(k + 1);
	uint64_t pkey = 0;
	struct blob *b;
	size_t i = 0;

	*out = NULL;
	if (len > REC_LEN_MAX)
		return MESHD_E_NOMEM;	/* cannot happen: the kinds cap lengths */
	if (p != NULL) {
		pkey = pool_key(p, kind, bytes, len);
		i = pool_find(p, pkey, kind, bytes, len);
		if ((b = p->slots[i]) != NULL) {
			if (b->refs == UINT32_MAX)
				return MESHD_E_NOMEM;
			b->refs++;
			*out = b;
			return 0;
		}
		if ((p->n + 1) * 2 > p->cap) {
			if (pool_grow(p) != 0)
				return MESHD_E_NOMEM;
			i = pool_find(p, pkey, kind, bytes, len);
		}
	}
	if ((b = malloc(sizeof *b + len)) == NULL)
		return MESHD_E_NOMEM;
	memset(b, 0, sizeof *b);
	b->refs = 1;
	b->len = (uint16_t)len;
	b->kind = kind;
	b->version = version;
	b->expires = expires;
	b->pkey = pkey;
	rec_hash(k, bytes, len, b->hash);
	if (sign_pk != NULL)
		memcpy(b->sign_pk, sign_pk, MESH_PK_LEN);
	memcpy(b->bytes, bytes, len);
	if (p != NULL) {
		p->slots[i] = b;
		p->n++;
		p->bytes += len;
	}
	*out = b;
	return 0;
}

void records_blob_put(struct mesh_records *recs, struct blob *b)
{
	if (b == NULL || --b->refs > 0)
		return;
	if (recs->pool != NULL)
		pool_remove(recs->pool, b);
	free(b);
}

struct blob *records_blob_clone(const struct mesh_records *recs, struct blob *b)
{
	struct blob *c;

	if (recs->pool != NULL) {
		if (b->refs == UINT32_MAX)
			return NULL;
		b->refs++;
		return b;
	}
	if ((c = malloc(sizeof *c + b->len)) == NULL)
		return NULL;
	memcpy(c, b, sizeof *c + b->len);
	c->refs = 1;
	return c;
}
