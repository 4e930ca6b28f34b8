/* Bounds-checked reader and writer for meshd's own variable-length formats
 * (certificates, revocations, invite tokens, gossip, control socket).
 *
 * All integers are big-endian (network order). This is for OUR formats only;
 * WireGuard's wire structs are little-endian and use util/endian.h directly.
 *
 * Read with chained calls and one `int r`:
 *	if ((r = rd_u8(&rd, &ver)) != 0 ||
 *	    (r = rd_bytes(&rd, id, sizeof id)) != 0 ||
 *	    (r = rd_end(&rd)) != 0)
 *		goto out;
 *
 * Contracts shared by every rd_* call: on error the output is zeroed and the
 * read position does not move; a short input is MESHD_E_PROTO. Every wr_*
 * call either writes all of its bytes or none of them (MESHD_E_RANGE when the
 * buffer is full).
 */
#ifndef MESHD_UTIL_BUF_H
#define MESHD_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Longest string rd_str()/wr_str() can carry (u8 length prefix). */
#define BUF_STR_MAX 255

struct rd {
	const uint8_t *p;
	size_t len;	/* bytes in p */
	size_t off;	/* next byte to read */
};

struct wr {
	uint8_t *p;
	size_t cap;	/* bytes available in p */
	size_t off;	/* bytes written so far */
};

void rd_init(struct rd *rd, const uint8_t *p, size_t len);
/* Bytes not yet read. */
size_t rd_left(const struct rd *rd);

/* 0 or MESHD_E_PROTO (input too short). */
int rd_u8(struct rd *rd, uint8_t *out);
int rd_u16(struct rd *rd, uint16_t *out);
int rd_u32(struct rd *rd, uint32_t *out);
int rd_u64(struct rd *rd, uint64_t *out);
int rd_bytes(struct rd *rd, uint8_t *out, size_t n);

/* Reads a u8 length and that many bytes into out as a NUL-terminated string.
 * Returns 0; MESHD_E_PROTO when the input is short, the length exceeds maxlen
 * or the bytes contain a NUL; MESHD_E_RANGE when the string does not fit in
 * out (cap bytes, NUL included: a caller bug when cap > maxlen). */
int rd_str(struct rd *rd, char *out, size_t cap, size_t maxlen);

/* 0 when every byte has been read, MESHD_E_PROTO when bytes are left over. */
int rd_end(const struct rd *rd);

void wr_init(struct wr *wr, uint8_t *p, size_t cap);

/* 0 or MESHD_E_RANGE (buffer full; nothing written). */
int wr_u8(struct wr *wr, uint8_t v);
int wr_u16(struct wr *wr, uint16_t v);
int wr_u32(struct wr *wr, uint32_t v);
int wr_u64(struct wr *wr, uint64_t v);
int wr_bytes(struct wr *wr, const uint8_t *p, size_t n);
/* Writes strlen(s) as a u8 and the bytes (no NUL). MESHD_E_RANGE when the
 * string is longer than BUF_STR_MAX or the buffer is full. */
int wr_str(struct wr *wr, const char *s);

#endif
