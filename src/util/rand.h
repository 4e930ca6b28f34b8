/* A small deterministic generator for simulations and jitter (not for keys:
 * those come from libsodium). splitmix64 (Steele, Lea, Flood 2014): one
 * 64-bit state word, every seed gives a full-period sequence. */
#ifndef MESHD_UTIL_RAND_H
#define MESHD_UTIL_RAND_H

#include <stdint.h>

/* Advances *state and returns the next value. */
static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
