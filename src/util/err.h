/* One error space for the whole project.
 *
 * int-returning functions return 0 on success or a negative MESHD_E_* code.
 * meshd_strerror() is the only translator. MESHD_E_SYS means "a system call
 * failed": the caller saved errno (see meshd_strerror_sys()). Crypto checks do
 * not use these codes: they answer bool, so nothing reveals which check failed.
 */
#ifndef MESHD_UTIL_ERR_H
#define MESHD_UTIL_ERR_H

#include <stddef.h>

enum meshd_err {
	MESHD_OK = 0,
	MESHD_E_NOMEM = -1,	/* allocation failed */
	MESHD_E_INVAL = -2,	/* bad argument or value from the user */
	MESHD_E_PROTO = -3,	/* malformed or unexpected message */
	MESHD_E_AGAIN = -4,	/* try again later (queue full, would block) */
	MESHD_E_EXPIRED = -5,	/* a token, certificate or session is too old */
	MESHD_E_SYS = -6,	/* system call failed; errno saved by the caller */
	MESHD_E_NOENT = -7,	/* no such object (peer, key, file) */
	MESHD_E_EXIST = -8,	/* object already exists */
	MESHD_E_RANGE = -9,	/* value or length out of range */
	MESHD_E_PERM = -10,	/* not allowed */
	MESHD_E_CRYPTO = -11,	/* authentication failed (no detail on purpose) */
	MESHD_E_FULL = -12,	/* table or buffer full */
	MESHD_E_TIMEOUT = -13,	/* no answer in time */
	MESHD_E_STATE = -14,	/* operation not valid in the current state */
};

/* Returns a static string describing the code; never NULL. */
const char *meshd_strerror(int err);

/* Formats a message for a caller's error buffer (err, errlen), the way the
 * parsers explain a refusal; does nothing when err is NULL or errlen 0. */
void meshd_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
