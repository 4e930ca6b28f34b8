/* Little/big-endian load and store on byte arrays (no alignment assumed). */
#ifndef MESHD_UTIL_ENDIAN_H
#define MESHD_UTIL_ENDIAN_H

#include <stdint.h>
#include <string.h>

static inline uint32_t le32dec(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void le32enc(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = v; b[1] = v >> 8; b[2] = v >> 16; b[3] = v >> 24;
}

static inline uint64_t le64dec(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)le32dec(b) | (uint64_t)le32dec(b + 4) << 32;
}

static inline void le64enc(void *p, uint64_t v)
{
	uint8_t *b = p;
	le32enc(b, (uint32_t)v);
	le32enc(b + 4, (uint32_t)(v >> 32));
}

static inline uint16_t be16dec(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void be16enc(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = v >> 8; b[1] = v;
}

static inline uint32_t be32dec(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline void be32enc(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v;
}

static inline void be64enc(void *p, uint64_t v)
{
	uint8_t *b = p;
	be32enc(b, (uint32_t)(v >> 32));
	be32enc(b + 4, (uint32_t)v);
}

static inline uint64_t be64dec(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)be32dec(b) << 32 | be32dec(b + 4);
}

#endif
