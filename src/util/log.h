/* Logging: one process-wide sink and level (the only mutable globals we allow).
 * Never log keys, tokens or secrets. Messages that outside input can trigger go
 * through log_ratelimited(). */
#ifndef MESHD_UTIL_LOG_H
#define MESHD_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Start every line with the UTC wall-clock time, HH:MM:SS.mmm (LOG_TIME=1),
 * to line logs up with each other and with a test's clock. */
void log_set_timestamps(bool on);
/* Prefix every line with this tag (e.g. the interface name); copied. */
void log_set_tag(const char *tag);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* At most `burst` messages per second from one call site; the rest are counted
 * and reported with the next message that gets through. */
#define log_ratelimited(lvl, ...) do { \
		static struct log_rl rl__; \
		if (log_rl_allow(&rl__)) log_msg((lvl), __VA_ARGS__); \
	} while (0)

struct log_rl {
	uint64_t window_start_s;
	unsigned count;
};
int log_rl_allow(struct log_rl *rl);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
