#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

enum { LOG_RL_BURST = 10 };

static enum log_level cur_level = LOG_LVL_INFO;
static char cur_tag[32];
static bool cur_stamp;

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }

void log_set_timestamps(bool on) { cur_stamp = on; }

void log_set_tag(const char *tag)
{
	snprintf(cur_tag, sizeof cur_tag, "%s", tag ? tag : "");
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	va_list ap;
	int n;

	if (lvl > cur_level)
		return;
	n = 0;
	if (cur_stamp) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000);
	}
	n += snprintf(line + n, sizeof line - (size_t)n, "meshd%s%s: %s: ",
		      cur_tag[0] ? " " : "", cur_tag, names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

int log_rl_allow(struct log_rl *rl)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if ((uint64_t)ts.tv_sec != rl->window_start_s) {
		rl->window_start_s = (uint64_t)ts.tv_sec;
		rl->count = 0;
	}
	return rl->count++ < LOG_RL_BURST;
}
