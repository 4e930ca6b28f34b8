/* Hex encode/decode with strict lengths (UAPI keys are 64 lowercase hex chars). */
#ifndef MESHD_UTIL_HEX_H
#define MESHD_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len hex digits and a NUL into out (size >= 2*len+1). */
void hex_encode(char *out, const uint8_t *in, size_t len);
/* Decodes exactly 2*outlen hex digits (either case) from a NUL-terminated
 * string. Returns 0, or MESHD_E_INVAL on a wrong length or a non-hex digit
 * (out is then zeroed). */
int hex_decode(uint8_t *out, size_t outlen, const char *in);

#endif
