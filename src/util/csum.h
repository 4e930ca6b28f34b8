/* The Internet checksum (RFC 1071) over big-endian 16-bit words. */
#ifndef MESHD_UTIL_CSUM_H
#define MESHD_UTIL_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds p[0..n) to the running sum s (an odd last byte is padded with 0). */
static inline uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* The checksum field for a running sum: folded to 16 bits, complemented. */
static inline uint16_t csum_finish(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
