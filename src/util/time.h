/* Time as the cores see it: a monotonic count of nanoseconds handed in by the
 * caller. Nothing below src/ reads a clock; only src/sched.c does. */
#ifndef MESHD_UTIL_TIME_H
#define MESHD_UTIL_TIME_H

#include <stdint.h>

typedef uint64_t mtime_ns;

#define MTIME_NEVER UINT64_MAX
#define NSEC(x) ((mtime_ns)(x))
#define USEC(x) ((mtime_ns)(x) * 1000ULL)
#define MSEC(x) ((mtime_ns)(x) * 1000000ULL)
#define SEC(x) ((mtime_ns)(x) * 1000000000ULL)

/* Wall-clock time (for TAI64N and "latest handshake"), also handed in. */
struct walltime {
	uint64_t sec;
	uint32_t nsec;
};

#endif
