/* A token bucket over the caller's own fields: at most burst tokens, one
 * more every SEC(1) / rate. Sans-I/O: time comes in as now. Used for the
 * ICMP "packet too big" answers (icmp_ptb.c) and the frames of a TCP entry
 * connection (mesh/tcpframe.c). */
#ifndef MESHD_UTIL_TOKENS_H
#define MESHD_UTIL_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/time.h"

/* Refills *tokens for the whole token periods since *refilled (a full
 * bucket restarts the clock at now), then takes one. Returns false, taking
 * nothing, when none is left. rate must not be 0. */
bool tokens_take(uint32_t *tokens, mtime_ns *refilled, uint32_t rate, uint32_t burst,
		 mtime_ns now);

#endif
