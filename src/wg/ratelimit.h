/* Per-source token bucket for handshake initiations while under load
 * (WireGuard §5.3: at most ~20 per second per source, burst 5). Sources are
 * keyed by IPv4 /32 or IPv6 /64. The table is bounded (oldest entries go
 * first) and ages out idle entries, so a flood of sources cannot grow it. */
#ifndef MESHD_WG_RATELIMIT_H
#define MESHD_WG_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/addr.h"
#include "util/time.h"

enum {
	WG_RATELIMIT_PPS = 20,
	WG_RATELIMIT_BURST = 5,
	WG_RATELIMIT_TABLE = 8192,	/* entries at most */
};

struct wg_ratelimit;

struct wg_ratelimit *wg_ratelimit_new(void);
void wg_ratelimit_free(struct wg_ratelimit *rl);
/* True when a packet from src may be processed now (and charges it). */
bool wg_ratelimit_allow(struct wg_ratelimit *rl, const union endpoint *src, mtime_ns now);
/* Number of sources currently tracked (at most WG_RATELIMIT_TABLE). */
size_t wg_ratelimit_count(const struct wg_ratelimit *rl);

#endif
