/* libFuzzer harness for the metrics listener's request parser
 * (metrics_req_parse, what src/metrics_http.c calls on every read) and the
 * --metrics address parser.
 *
 * The input is cut to METRICS_REQ_MAX bytes, the listener's buffer. The
 * server parses the bytes received so far after each read, so the harness
 * checks the parser's streaming contract too:
 *  - every prefix of a complete request (result 0) is "valid so far"
 *    (MESHD_E_AGAIN): the server never answers early;
 *  - once a prefix is refused (PROTO or RANGE), every longer prefix is
 *    refused too: junk is never un-refused by more bytes;
 *  - the target of a complete request is one of the known values.
 * The first input byte chooses where the input is split into two reads,
 * as in the server. The address parser gets the input as a C string; an
 * accepted address must format to a string that parses to the same one. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util/addr.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stream(const char *buf, size_t len, size_t split)
{
	struct metrics_req rq;
	int first, full;

	first = metrics_req_parse(buf, split, &rq);
	full = metrics_req_parse(buf, len, &rq);
	if (full == 0) {
		if (rq.target > METRICS_T_STATUS || (split < len && first != MESHD_E_AGAIN))
			abort();
		/* and no shorter prefix is complete either */
		for (size_t k = len > 64 ? len - 64 : 0; k < len; k++)
			if (metrics_req_parse(buf, k, &rq) != MESHD_E_AGAIN)
				abort();
	} else if (full != MESHD_E_AGAIN && full != MESHD_E_PROTO && full != MESHD_E_RANGE) {
		abort();
	}
	if ((first == MESHD_E_PROTO || first == MESHD_E_RANGE) && full != MESHD_E_PROTO &&
	    full != MESHD_E_RANGE)
		abort();
}

static void check_addr(const uint8_t *data, size_t size)
{
	char s[128], back[ENDPOINT_STRLEN];
	union endpoint ep, ep2;
	bool off, off2;
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	if (metrics_addr_parse(s, &ep, &off) != 0 || off)
		return;
	(void)metrics_addr_is_loopback(&ep);
	endpoint_format(&ep, back, sizeof back);
	if (metrics_addr_parse(back, &ep2, &off2) != 0 || off2 || !endpoint_eq(&ep, &ep2))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[METRICS_REQ_MAX];
	size_t split, len;

	if (size == 0)
		return 0;
	len = size - 1 < METRICS_REQ_MAX ? size - 1 : METRICS_REQ_MAX;
	memcpy(buf, data + 1, len);
	split = len ? (size_t)data[0] * len / 255 : 0;
	check_stream(buf, len, split);
	check_addr(data + 1, size - 1);
	return 0;
}
