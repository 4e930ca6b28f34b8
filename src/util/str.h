/* Small string helpers. */
#ifndef MESHD_UTIL_STR_H
#define MESHD_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Copies the n bytes at s into out as a string (the head of a "host:port"
 * or "addr/len" before its separator). False, out untouched, when n is 0
 * or the string would not fit in cap bytes. */
static inline bool str_copy_n(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

#endif
