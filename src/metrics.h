/* Metrics and the status page of a mesh node: pure renderers over plain
 * structs (status.h) and a strict parser for the one HTTP request a
 * connection of the metrics listener may carry (src/metrics_http.c does the
 * I/O, src/metrics_daemon.c collects the snapshot).
 *
 * Nothing here reads a clock, a socket or the node: a struct metrics_snap
 * comes in, text goes out, so tests/check_metrics.c checks every format.
 *
 * Formats:
 *  - metrics_render_prom: Prometheus text exposition format 0.0.4, one
 *    "# HELP" and "# TYPE" line per family, label values escaped (\\, \",
 *    \n). Families (all always present; per-peer ones have no sample
 *    without peers, meshd_peer_rtt_seconds none for a peer with unknown RTT):
 *	meshd_build_info{version}			gauge, always 1
 *	meshd_members					gauge
 *	meshd_peers{path="direct|relay|none"}		gauge
 *	meshd_peer_rx_bytes_total{peer}			counter
 *	meshd_peer_tx_bytes_total{peer}			counter
 *	meshd_peer_rtt_seconds{peer}			gauge
 *	meshd_peer_last_handshake_timestamp_seconds{peer}  gauge, 0 = never
 *	meshd_relay_forwarded_bytes_total		counter
 *	meshd_gossip_messages_total{direction="in|out"}	counter
 *	meshd_cert_expiry_timestamp_seconds		gauge
 *  - metrics_render_html: one self-contained HTML page (no external asset,
 *    no script): an inline SVG of the mesh as this node sees it (members on
 *    a circle, this node highlighted; a direct path a solid line, a relayed
 *    one a dashed line through the relay, each labelled with its RTT; a
 *    member without a path drawn grey with a dashed red ring and "no
 *    path"), then a table like `meshd status`. Every name is XML-escaped.
 *  - metrics_render_dot: the same picture as a Graphviz undirected graph
 *    (`meshd graph | dot -Tsvg`).
 */
#ifndef MESHD_METRICS_H
#define MESHD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "util/addr.h"

struct metrics_snap {
	const struct status_self *self;
	const struct status_peer *peers;	/* n of them, in name order */
	size_t n;
	uint64_t now_unix;
	uint64_t relay_forwarded_bytes;		/* whole datagrams we relayed */
	uint64_t gossip_in, gossip_out;		/* gossip messages */
	uint64_t cert_expires_at;		/* our certificate, unix s */
	const char *version;			/* PACKAGE_VERSION */
};

void metrics_render_prom(struct sbuf *b, const struct metrics_snap *s);
void metrics_render_html(struct sbuf *b, const struct metrics_snap *s);
void metrics_render_dot(struct sbuf *b, const struct metrics_snap *s);

/* Escapers, each appending to b: a Prometheus label value (without the
 * quotes), XML/HTML text or attribute content (& < > " '), a DOT quoted
 * string (quotes included). Control bytes are dropped by all three
 * except '\n' in a label value, which becomes "\n". */
void metrics_prom_label(struct sbuf *b, const char *s);
void metrics_xml_str(struct sbuf *b, const char *s);
void metrics_dot_str(struct sbuf *b, const char *s);

/* ---- the HTTP request (one per connection) ---- */

enum {
	METRICS_REQ_MAX = 8192,		/* request line + headers, bytes */
	METRICS_TARGET_MAX = 1024,	/* request-target, bytes */
	METRICS_HEADERS_MAX = 64,	/* header fields */
	METRICS_REQ_TIMEOUT_MS = 5000,	/* whole request, from accept */
	METRICS_WRITE_TIMEOUT_MS = 10000,	/* the answer, once started */
	METRICS_MAX_CONNS = 16,		/* beyond: accepted and closed at once */
};

enum metrics_target {
	METRICS_T_OTHER = 0,	/* 404 */
	METRICS_T_PAGE,		/* "/" */
	METRICS_T_METRICS,	/* "/metrics" */
	METRICS_T_STATUS,	/* "/status.json" */
};

struct metrics_req {
	bool head;			/* HEAD: headers only */
	enum metrics_target target;
};

/* Parses what a client has sent so far (buf, len; any bytes, no NUL
 * needed). Strict HTTP/1.0 and 1.1: request line "GET|HEAD SP origin-form
 * SP HTTP/1.0|HTTP/1.1", header fields "token: value", every line ended by
 * CRLF, an empty line last, nothing after it; no body (Content-Length
 * other than 0, or any Transfer-Encoding, is refused); a query string is
 * ignored. Complete lines are checked as they arrive, so junk is refused
 * without waiting for the end.
 * Returns 0 (complete: *out filled; target METRICS_T_OTHER means 404);
 * MESHD_E_AGAIN (valid so far, incomplete); MESHD_E_PROTO (malformed or
 * another method: answer 400); MESHD_E_RANGE (len reached METRICS_REQ_MAX,
 * or more than METRICS_HEADERS_MAX fields, without an end: answer 400). */
int metrics_req_parse(const char *buf, size_t len, struct metrics_req *out);

/* The status line and headers of an answer with a body of body_len bytes
 * (Content-Length, Connection: close, no caching). code 200, 400, 404 or
 * 500 (other values are sent as 500). */
void metrics_http_head(struct sbuf *b, int code, const char *content_type, size_t body_len);

/* ---- the listener address (`--metrics ADDR:PORT|off`) ---- */

#define METRICS_SETTING "metrics"	/* its store setting (store_setting_get) */

/* "off" (*off true), or a numeric "IPv4:PORT" / "[IPv6]:PORT" with a port
 * 1-65535 (*off false, *ep filled). Host names are refused: the address
 * is a deliberate choice, never a lookup. 0 or MESHD_E_INVAL. */
int metrics_addr_parse(const char *s, union endpoint *ep, bool *off);
/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104: reachable from this host only
 * (in its network namespace). Anything else exposes member names,
 * addresses and traffic counters to whoever can reach it. */
bool metrics_addr_is_loopback(const union endpoint *ep);

#define METRICS_CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CT_HTML "text/html; charset=utf-8"
#define METRICS_CT_JSON "application/json"
#define METRICS_CT_TEXT "text/plain; charset=utf-8"

#endif
