#include <stdarg.h>
#include <stdio.h>

#include "util/err.h"

const char *meshd_strerror(int err)
{
	switch (err) {
	case MESHD_OK: return "success";
	case MESHD_E_NOMEM: return "out of memory";
	case MESHD_E_INVAL: return "invalid argument";
	case MESHD_E_PROTO: return "protocol error";
	case MESHD_E_AGAIN: return "resource temporarily unavailable";
	case MESHD_E_EXPIRED: return "expired";
	case MESHD_E_SYS: return "system error";
	case MESHD_E_NOENT: return "not found";
	case MESHD_E_EXIST: return "already exists";
	case MESHD_E_RANGE: return "out of range";
	case MESHD_E_PERM: return "not permitted";
	case MESHD_E_CRYPTO: return "authentication failed";
	case MESHD_E_FULL: return "table full";
	case MESHD_E_TIMEOUT: return "timed out";
	case MESHD_E_STATE: return "invalid state";
	}
	return "unknown error";
}

void meshd_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
