#include <string.h>

#include "util/buf.h"
#include "util/err.h"

/* Stands in for a NULL buffer so that take()/room() never do NULL + 0. */
static uint8_t empty[1];

void rd_init(struct rd *rd, const uint8_t *p, size_t len)
{
	rd->p = p != NULL ? p : empty;
	rd->len = p != NULL ? len : 0;
	rd->off = 0;
}

size_t rd_left(const struct rd *rd)
{
	return rd->len - rd->off;
}

/* Points at the next n bytes and consumes them, or NULL when short. */
static const uint8_t *take(struct rd *rd, size_t n)
{
	const uint8_t *q;

	if (n > rd_left(rd))
		return NULL;
	q = rd->p + rd->off;
	rd->off += n;
	return q;
}

/* Reads an n-byte big-endian integer (n <= 8); on a short buffer *out is 0
 * and the result MESHD_E_PROTO. The fixed-width readers are this. */
static int rd_be(struct rd *rd, size_t n, uint64_t *out)
{
	const uint8_t *q = take(rd, n);
	uint64_t v = 0;
	size_t i;

	if (q == NULL) {
		*out = 0;
		return MESHD_E_PROTO;
	}
	for (i = 0; i < n; i++)
		v = v << 8 | q[i];
	*out = v;
	return 0;
}

/* rd_u8/16/32/64 and wr_u8/16/32/64 (buf.h) differ only in their width. */
#define BUF_UINT(bits)							\
int rd_u##bits(struct rd *rd, uint##bits##_t *out)			\
{									\
	uint64_t v;							\
	int r = rd_be(rd, (bits) / 8, &v);				\
									\
	*out = (uint##bits##_t)v;					\
	return r;							\
}									\
									\
int wr_u##bits(struct wr *wr, uint##bits##_t v)				\
{									\
	return wr_be(wr, v, (bits) / 8);				\
}

int rd_bytes(struct rd *rd, uint8_t *out, size_t n)
{
	const uint8_t *q = take(rd, n);

	if (q == NULL) {
		if (n > 0)
			memset(out, 0, n);
		return MESHD_E_PROTO;
	}
	if (n > 0)
		memcpy(out, q, n);
	return 0;
}

int rd_str(struct rd *rd, char *out, size_t cap, size_t maxlen)
{
	size_t start = rd->off;
	const uint8_t *q;
	uint8_t n;
	int r;

	if (cap > 0)
		memset(out, 0, cap);
	if ((r = rd_u8(rd, &n)) != 0)
		return r;
	if (n > maxlen || n > rd_left(rd) || memchr(rd->p + rd->off, '\0', n) != NULL) {
		r = MESHD_E_PROTO;
		goto fail;
	}
	if ((size_t)n >= cap) {
		r = MESHD_E_RANGE;
		goto fail;
	}
	q = take(rd, n);
	memcpy(out, q, n);
	out[n] = '\0';
	return 0;
fail:
	rd->off = start;
	return r;
}

int rd_end(const struct rd *rd)
{
	return rd_left(rd) == 0 ? 0 : MESHD_E_PROTO;
}

void wr_init(struct wr *wr, uint8_t *p, size_t cap)
{
	wr->p = p != NULL ? p : empty;
	wr->cap = p != NULL ? cap : 0;
	wr->off = 0;
}

/* Reserves the next n bytes, or NULL when they do not fit. */
static uint8_t *room(struct wr *wr, size_t n)
{
	uint8_t *q;

	if (n > wr->cap - wr->off)
		return NULL;
	q = wr->p + wr->off;
	wr->off += n;
	return q;
}

/* Writes the low n bytes of v big-endian (n <= 8), or MESHD_E_RANGE when
 * they do not fit. The fixed-width writers are this. */
static int wr_be(struct wr *wr, uint64_t v, size_t n)
{
	uint8_t *q = room(wr, n);

	if (q == NULL)
		return MESHD_E_RANGE;
	while (n-- > 0) {
		q[n] = (uint8_t)v;
		v >>= 8;
	}
	return 0;
}

int wr_bytes(struct wr *wr, const uint8_t *p, size_t n)
{
	uint8_t *q = room(wr, n);

	if (q == NULL)
		return MESHD_E_RANGE;
	if (n > 0)
		memcpy(q, p, n);
	return 0;
}

int wr_str(struct wr *wr, const char *s)
{
	size_t n = strlen(s);
	uint8_t *q;

	if (n > BUF_STR_MAX)
		return MESHD_E_RANGE;
	if ((q = room(wr, 1 + n)) == NULL)
		return MESHD_E_RANGE;
	q[0] = (uint8_t)n;
	memcpy(q + 1, s, n);
	return 0;
}

BUF_UINT(8)
BUF_UINT(16)
BUF_UINT(32)
BUF_UINT(64)
