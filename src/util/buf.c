#include <string.h>

#include "util/buf.h"
#include "util/endian.h"
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

int rd_u8(struct rd *rd, uint8_t *out)
{
	const uint8_t *q = take(rd, 1);

	*out = q != NULL ? q[0] : 0;
	return q != NULL ? 0 : MESHD_E_PROTO;
}

int rd_u16(struct rd *rd, uint16_t *out)
{
	const uint8_t *q = take(rd, 2);

	*out = q != NULL ? be16dec(q) : 0;
	return q != NULL ? 0 : MESHD_E_PROTO;
}

int rd_u32(struct rd *rd, uint32_t *out)
{
	const uint8_t *q = take(rd, 4);

	*out = q != NULL ? be32dec(q) : 0;
	return q != NULL ? 0 : MESHD_E_PROTO;
}

int rd_u64(struct rd *rd, uint64_t *out)
{
	const uint8_t *q = take(rd, 8);

	*out = q != NULL ? be64dec(q) : 0;
	return q != NULL ? 0 : MESHD_E_PROTO;
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

int wr_u8(struct wr *wr, uint8_t v)
{
	uint8_t *q = room(wr, 1);

	if (q == NULL)
		return MESHD_E_RANGE;
	q[0] = v;
	return 0;
}

int wr_u16(struct wr *wr, uint16_t v)
{
	uint8_t *q = room(wr, 2);

	if (q == NULL)
		return MESHD_E_RANGE;
	be16enc(q, v);
	return 0;
}

int wr_u32(struct wr *wr, uint32_t v)
{
	uint8_t *q = room(wr, 4);

	if (q == NULL)
		return MESHD_E_RANGE;
	be32enc(q, v);
	return 0;
}

int wr_u64(struct wr *wr, uint64_t v)
{
	uint8_t *q = room(wr, 8);

	if (q == NULL)
		return MESHD_E_RANGE;
	be64enc(q, v);
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
