/* Tests of src/metrics.c and src/metrics_req.c: the Prometheus, HTML/SVG
 * and DOT renderers over a fixed snapshot, the escapers, and the strict
 * HTTP request parser (one line per case). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/path.h"
#include "metrics.h"
#include "util/err.h"

Suite *suite_metrics(void);

/* ---- fixture: us (n1) and three peers: direct, relayed via n2, none ---- */

static struct status_self self;
static struct status_peer peers[3];

static void peer_make(struct status_peer *p, const char *name, uint8_t path, int32_t rtt,
		      const char *via)
{
	unsigned k = (unsigned)(p - peers) % 10;

	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->ipv4, sizeof p->ipv4, "100.64.0.1%u", k);
	snprintf(p->ipv6, sizeof p->ipv6, "fd00::1%u", k);
	p->have_path = true;
	p->path = path;
	p->rtt_ms = rtt;
	snprintf(p->via, sizeof p->via, "%s", via);
	if (path == MESH_PATH_DIRECT)
		snprintf(p->endpoint, sizeof p->endpoint, "198.51.100.2:51820");
}

static struct metrics_snap snap_make(void)
{
	memset(&self, 0, sizeof self);
	snprintf(self.name, sizeof self.name, "n1");
	snprintf(self.mesh, sizeof self.mesh, "corp");
	snprintf(self.ipv4, sizeof self.ipv4, "100.64.0.1");
	snprintf(self.ipv6, sizeof self.ipv6, "fd00::1");
	self.members = 4;
	self.listen_port = 51820;
	peer_make(&peers[0], "n2", MESH_PATH_DIRECT, 3, "");
	peer_make(&peers[1], "n3", MESH_PATH_RELAY, 1234, "n2");
	peer_make(&peers[2], "n4", MESH_PATH_NONE, -1, "");
	peers[0].rx_bytes = 1000;
	peers[0].tx_bytes = 2000;
	peers[0].latest_handshake = 1700000000;
	return (struct metrics_snap){
		.self = &self, .peers = peers, .n = 3, .now_unix = 1700000010,
		.relay_forwarded_bytes = 77, .gossip_in = 5, .gossip_out = 6,
		.cert_expires_at = 1731536000, .version = "1.2\"x",
	};
}

static bool has(const struct sbuf *b, const char *s)
{
	return b->buf != NULL && strstr(b->buf, s) != NULL;
}

#define ck_has(b, s) ck_assert_msg(has(b, s), "missing: %s\n---\n%s", s, (b)->buf)
#define ck_hasnt(b, s) ck_assert_msg(!has(b, s), "unexpected: %s", s)

/* ---- Prometheus ---- */

START_TEST(test_prom_families_and_values)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };

	metrics_render_prom(&b, &s);
	ck_assert(!b.oom);
	ck_has(&b, "# TYPE meshd_peers gauge\n");
	ck_has(&b, "meshd_peers{path=\"direct\"} 1\n");
	ck_has(&b, "meshd_peers{path=\"relay\"} 1\n");
	ck_has(&b, "meshd_peers{path=\"none\"} 1\n");
	ck_has(&b, "# TYPE meshd_peer_rx_bytes_total counter\n");
	ck_has(&b, "meshd_peer_rx_bytes_total{peer=\"n2\"} 1000\n");
	ck_has(&b, "meshd_peer_tx_bytes_total{peer=\"n2\"} 2000\n");
	ck_has(&b, "meshd_peer_rtt_seconds{peer=\"n2\"} 0.003\n");
	ck_has(&b, "meshd_peer_rtt_seconds{peer=\"n3\"} 1.234\n");
	ck_hasnt(&b, "meshd_peer_rtt_seconds{peer=\"n4\"}");
	ck_has(&b, "meshd_peer_last_handshake_timestamp_seconds{peer=\"n2\"} 1700000000\n");
	ck_has(&b, "meshd_peer_last_handshake_timestamp_seconds{peer=\"n4\"} 0\n");
	ck_has(&b, "meshd_relay_forwarded_bytes_total 77\n");
	ck_has(&b, "meshd_gossip_messages_total{direction=\"in\"} 5\n");
	ck_has(&b, "meshd_gossip_messages_total{direction=\"out\"} 6\n");
	ck_has(&b, "meshd_members 4\n");
	ck_has(&b, "meshd_cert_expiry_timestamp_seconds 1731536000\n");
	ck_has(&b, "meshd_build_info{version=\"1.2\\\"x\"} 1\n");
	sbuf_free(&b);
}
END_TEST

/* Every family has HELP then TYPE, and every sample line belongs to the
 * family announced last. */
START_TEST(test_prom_every_sample_follows_its_type)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };
	char fam[128] = "", *line, *save = NULL;
	int families = 0;

	metrics_render_prom(&b, &s);
	for (line = strtok_r(b.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", fam), 1);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			ck_assert_int_eq(strncmp(line + 7, fam, strlen(fam)), 0);
			families++;
			continue;
		}
		ck_assert_msg(fam[0] && !strncmp(line, fam, strlen(fam)) &&
			      (line[strlen(fam)] == '{' || line[strlen(fam)] == ' '),
			      "sample '%s' outside family '%s'", line, fam);
	}
	ck_assert_int_eq(families, 10);
	sbuf_free(&b);
}
END_TEST

START_TEST(test_prom_no_peers)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };

	s.n = 0;
	metrics_render_prom(&b, &s);
	ck_has(&b, "meshd_peers{path=\"direct\"} 0\n");
	ck_has(&b, "# TYPE meshd_peer_rtt_seconds gauge\n");
	ck_hasnt(&b, "{peer=");
	sbuf_free(&b);
}
END_TEST

static void check_escape(void (*fn)(struct sbuf *, const char *), const char *in, const char *want)
{
	struct sbuf b = { 0 };

	fn(&b, in);
	ck_assert_str_eq(b.buf ? b.buf : "", want);
	sbuf_free(&b);
}

START_TEST(test_escapers)
{
	check_escape(metrics_prom_label, "a\\b\"c\nd", "a\\\\b\\\"c\\nd");
	check_escape(metrics_prom_label, "x\ty\x01", "xy");
	check_escape(metrics_xml_str, "<a href='x'>&\"</a>", "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	check_escape(metrics_xml_str, "ok\x02", "ok");
	check_escape(metrics_dot_str, "a\"b\\c", "\"a\\\"b\\\\c\"");
	check_escape(metrics_dot_str, "", "\"\"");
}
END_TEST

/* ---- HTML / SVG ---- */

START_TEST(test_html_page)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };

	metrics_render_html(&b, &s);
	ck_assert(!b.oom);
	ck_has(&b, "<!DOCTYPE html>");
	ck_has(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
	ck_has(&b, "<g class=\"self\"><title>n1</title>");
	ck_has(&b, "<line class=\"direct\"");
	ck_has(&b, "<polyline class=\"relay\"");	/* n3 through n2 */
	ck_has(&b, ">via n2, 1234 ms</text>");
	ck_has(&b, ">3 ms</text>");
	ck_has(&b, "<g class=\"nopath\"><title>n4</title>");
	ck_has(&b, ">no path</text>");
	ck_has(&b, "<td>n3</td><td>100.64.0.11</td>");
	ck_has(&b, "<td>via n2</td>");
	ck_hasnt(&b, "<script");
	ck_hasnt(&b, "src=");
	ck_hasnt(&b, "http://" "example");
	sbuf_free(&b);
}
END_TEST

START_TEST(test_html_escapes_names)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };

	snprintf(self.mesh, sizeof self.mesh, "<b>&co");
	snprintf(peers[0].name, sizeof peers[0].name, "x\"><script>");
	metrics_render_html(&b, &s);
	ck_hasnt(&b, "<script>");
	ck_hasnt(&b, "<b>&co");
	ck_has(&b, "&lt;b&gt;&amp;co");
	ck_has(&b, "x&quot;&gt;&lt;script&gt;");
	sbuf_free(&b);
}
END_TEST

/* ---- DOT ---- */

START_TEST(test_dot_graph)
{
	struct metrics_snap s = snap_make();
	struct sbuf b = { 0 };

	metrics_render_dot(&b, &s);
	ck_assert(!b.oom);
	ck_assert_int_eq(strncmp(b.buf, "graph mesh {\n", 13), 0);
	ck_has(&b, "\"n1\" -- \"n2\" [color=\"#22aa77\", penwidth=2, label=\"3 ms\"];");
	ck_has(&b, "\"n2\" -- \"n3\" [style=dashed");
	ck_has(&b, "label=\"relay for n1, 1234 ms\"");
	ck_has(&b, "label=\"n4 (no path)\"");
	ck_assert_str_eq(b.buf + b.len - 2, "}\n");
	sbuf_free(&b);
}
END_TEST

/* ---- the request parser ---- */

static void req_case(const char *in, int want, enum metrics_target t, bool head)
{
	struct metrics_req rq;
	int r = metrics_req_parse(in, strlen(in), &rq);

	ck_assert_msg(r == want, "'%s': got %d want %d", in, r, want);
	if (want == 0) {
		ck_assert_int_eq(rq.target, t);
		ck_assert_int_eq(rq.head, head);
	}
}

START_TEST(test_req_table)
{
	const enum metrics_target O = METRICS_T_OTHER, M = METRICS_T_METRICS;

	req_case("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, M, false);
	req_case("GET /metrics HTTP/1.0\r\n\r\n", 0, M, false);
	req_case("HEAD / HTTP/1.1\r\n\r\n", 0, METRICS_T_PAGE, true);
	req_case("GET /status.json HTTP/1.1\r\nAccept: */*\r\n\r\n", 0, METRICS_T_STATUS, false);
	req_case("GET /metrics?x=1 HTTP/1.1\r\n\r\n", 0, M, false);
	req_case("GET /nope HTTP/1.1\r\n\r\n", 0, O, false);
	req_case("GET /metrics/ HTTP/1.1\r\n\r\n", 0, O, false);
	req_case("GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, M, false);
	req_case("GET /metrics HTTP/1.1\r\nX:  spaced \t\r\n\r\n", 0, M, false);
	/* incomplete but fine so far */
	req_case("", MESHD_E_AGAIN, O, false);
	req_case("GET /met", MESHD_E_AGAIN, O, false);
	req_case("GET /metrics HTTP/1.1\r\nHost: x\r", MESHD_E_AGAIN, O, false);
	req_case("GET /metrics HTTP/1.1\r\nHost: x\r\n", MESHD_E_AGAIN, O, false);
	/* refused: 400 */
	req_case("POST /metrics HTTP/1.1\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("get /metrics HTTP/1.1\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\n\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/2.0\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1 \r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET  /metrics HTTP/1.1\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET http://h/metrics HTTP/1.1\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\n: empty\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n", MESHD_E_PROTO, O, false);
	req_case("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", MESHD_E_PROTO, O,
		 false);
	req_case("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", MESHD_E_PROTO,
		 O, false);
	req_case("GET /metrics HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", MESHD_E_PROTO, O, false);
	/* junk is refused before the request could end */
	req_case("\x16\x03\x01\x02", MESHD_E_PROTO, O, false);
	req_case("hello\r\n", MESHD_E_PROTO, O, false);
}
END_TEST

START_TEST(test_req_nul_in_line)
{
	static const char in[] = "GET /metrics HTTP/1.1\r\nA: b\0c\r\n\r\n";
	struct metrics_req rq;

	ck_assert_int_eq(metrics_req_parse(in, sizeof in - 1, &rq), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_req_caps)
{
	static char buf[METRICS_REQ_MAX + 64];
	struct metrics_req rq;
	size_t len;

	/* one header line that never ends */
	len = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nX: ");
	memset(buf + len, 'a', METRICS_REQ_MAX - len);
	ck_assert_int_eq(metrics_req_parse(buf, METRICS_REQ_MAX - 1, &rq), MESHD_E_AGAIN);
	ck_assert_int_eq(metrics_req_parse(buf, METRICS_REQ_MAX, &rq), MESHD_E_RANGE);
	/* too many fields */
	len = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= METRICS_HEADERS_MAX; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "X%d: y\r\n", i);
	ck_assert_int_eq(metrics_req_parse(buf, len, &rq), MESHD_E_RANGE);
	/* a target longer than METRICS_TARGET_MAX */
	len = (size_t)snprintf(buf, sizeof buf, "GET /");
	memset(buf + len, 'a', METRICS_TARGET_MAX);
	len += METRICS_TARGET_MAX;
	len += (size_t)snprintf(buf + len, sizeof buf - len, " HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(metrics_req_parse(buf, len, &rq), MESHD_E_PROTO);
}
END_TEST

START_TEST(test_http_head)
{
	struct sbuf b = { 0 };

	metrics_http_head(&b, 404, METRICS_CT_TEXT, 12);
	ck_assert_str_eq(b.buf, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: 12\r\nCache-Control: no-store\r\n"
			 "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
	sbuf_free(&b);
	metrics_http_head(&b, 302, METRICS_CT_TEXT, 0);
	ck_assert_int_eq(strncmp(b.buf, "HTTP/1.1 500 ", 13), 0);
	sbuf_free(&b);
}
END_TEST

static void addr_case(const char *in, int want, bool off, bool loopback)
{
	union endpoint ep;
	bool o;

	ck_assert_msg(metrics_addr_parse(in, &ep, &o) == want, "'%s'", in);
	if (want)
		return;
	ck_assert_int_eq(o, off);
	if (!off)
		ck_assert_msg(metrics_addr_is_loopback(&ep) == loopback, "'%s' loopback", in);
}

START_TEST(test_addr_table)
{
	addr_case("off", 0, true, false);
	addr_case("127.0.0.1:9100", 0, false, true);
	addr_case("127.3.2.1:1", 0, false, true);
	addr_case("[::1]:9100", 0, false, true);
	addr_case("[::ffff:127.0.0.1]:9100", 0, false, true);
	addr_case("0.0.0.0:9100", 0, false, false);
	addr_case("100.64.0.1:9100", 0, false, false);
	addr_case("[::]:9100", 0, false, false);
	addr_case("127.0.0.1:0", MESHD_E_INVAL, false, false);
	addr_case("127.0.0.1", MESHD_E_INVAL, false, false);
	addr_case("localhost:9100", MESHD_E_INVAL, false, false);
	addr_case("9100", MESHD_E_INVAL, false, false);
	addr_case("", MESHD_E_INVAL, false, false);
	addr_case("OFF", MESHD_E_INVAL, false, false);
}
END_TEST

Suite *suite_metrics(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, test_prom_families_and_values);
	tcase_add_test(tc, test_prom_every_sample_follows_its_type);
	tcase_add_test(tc, test_prom_no_peers);
	tcase_add_test(tc, test_escapers);
	tcase_add_test(tc, test_html_page);
	tcase_add_test(tc, test_html_escapes_names);
	tcase_add_test(tc, test_dot_graph);
	suite_add_tcase(s, tc);
	tc = tcase_create("http");
	tcase_add_test(tc, test_req_table);
	tcase_add_test(tc, test_req_nul_in_line);
	tcase_add_test(tc, test_req_caps);
	tcase_add_test(tc, test_http_head);
	tcase_add_test(tc, test_addr_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_metrics());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
