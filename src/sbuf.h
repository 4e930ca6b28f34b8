/* A growable string for answers (status tables, JSON, metrics, the control
 * and metrics sockets); implemented in status.c. */
#ifndef MESHD_SBUF_H
#define MESHD_SBUF_H

#include <stdbool.h>
#include <stddef.h>

/* A growable NUL-terminated string. After an allocation failure it stops
 * growing and oom stays set (callers check once at the end). */
struct sbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};

void sbuf_free(struct sbuf *b);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included; bytes below 0x20, '"' and '\\'
 * escaped; other bytes copied (names are validated UTF-8 upstream). */
void sbuf_json_str(struct sbuf *b, const char *s);

#endif
