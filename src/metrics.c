/* Renderers of the metrics listener and of `meshd graph` (metrics.h): the
 * Prometheus text format, the HTML status page with its SVG picture, and
 * Graphviz DOT. Pure functions of a struct metrics_snap. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mesh/path.h"
#include "metrics.h"

/* ---- escaping ---- */

/* A character and what stands for it in an escaped string. */
struct esc {
	char c;
	const char *to;
};

static const struct esc prom_esc[] = {
	{ '\\', "\\\\" }, { '"', "\\\"" }, { '\n', "\\n" }, { 0, NULL },
};
static const struct esc xml_esc[] = {
	{ '&', "&amp;" }, { '<', "&lt;" }, { '>', "&gt;" }, { '"', "&quot;" },
	{ '\'', "&#39;" }, { 0, NULL },
};
static const struct esc dot_esc[] = {
	{ '"', "\\\"" }, { '\\', "\\\\" }, { 0, NULL },
};

/* Appends s with each character of map replaced and the other control
 * characters dropped (XML 1.0 forbids most of them even as references). */
static void escape(struct sbuf *b, const char *s, const struct esc *map)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const struct esc *e = map;

		while (e->to && e->c != *s)
			e++;
		if (e->to)
			sbuf_puts(b, e->to);
		else if (c >= 0x20 && c != 0x7f)
			sbuf_add(b, s, 1);
	}
}

void metrics_prom_label(struct sbuf *b, const char *s)
{
	escape(b, s, prom_esc);
}

void metrics_xml_str(struct sbuf *b, const char *s)
{
	escape(b, s, xml_esc);
}

void metrics_dot_str(struct sbuf *b, const char *s)
{
	sbuf_puts(b, "\"");
	escape(b, s, dot_esc);
	sbuf_puts(b, "\"");
}

/* ---- shared helpers ---- */

static const char *peer_path(const struct metrics_snap *s, const struct status_peer *p)
{
	return status_path(p, s->now_unix);
}

static bool peer_relayed(const struct metrics_snap *s, const struct status_peer *p)
{
	return !strcmp(peer_path(s, p), "relay");
}

/* Index of the member called name: 0 is this node, 1 + i is peers[i];
 * -1 when unknown. */
static long member_index(const struct metrics_snap *s, const char *name)
{
	if (!strcmp(name, s->self->name))
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(name, s->peers[i].name))
			return (long)i + 1;
	return -1;
}

/* "0.4 ms", "12 ms", or "" when unknown */
static void fmt_rtt(char *out, size_t len, const struct status_peer *p)
{
	if (!p->have_path || p->rtt_ms < 0)
		snprintf(out, len, "%s", "");
	else if (p->rtt_ms == 0)
		snprintf(out, len, "<1 ms");
	else
		snprintf(out, len, "%" PRId32 " ms", p->rtt_ms);
}

/* ---- Prometheus ---- */

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void peer_sample(struct sbuf *b, const char *name, const struct status_peer *p)
{
	sbuf_printf(b, "%s{peer=\"", name);
	metrics_prom_label(b, p->name);
	sbuf_puts(b, "\"} ");
}

/* A family with one sample per peer: the uint64_t at offset off in its
 * struct status_peer. */
static void peer_u64_family(struct sbuf *b, const struct metrics_snap *s, const char *name,
			    const char *type, const char *help, size_t off)
{
	family(b, name, type, help);
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];

		peer_sample(b, name, p);
		sbuf_printf(b, "%" PRIu64 "\n", *(const uint64_t *)((const char *)p + off));
	}
}

void metrics_render_prom(struct sbuf *b, const struct metrics_snap *s)
{
	static const char *const paths[] = { "direct", "relay", "none" };
	size_t count[3] = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		const char *pp = peer_path(s, &s->peers[i]);

		for (size_t k = 0; k < 3; k++)
			if (!strcmp(pp, paths[k]))
				count[k]++;
	}
	family(b, "meshd_build_info", "gauge", "meshd build information; always 1.");
	sbuf_puts(b, "meshd_build_info{version=\"");
	metrics_prom_label(b, s->version ? s->version : "");
	sbuf_puts(b, "\"} 1\n");

	family(b, "meshd_members", "gauge", "Valid members of the mesh, this node included.");
	sbuf_printf(b, "meshd_members %zu\n", s->self->members);

	family(b, "meshd_peers", "gauge", "Peers by the path traffic takes to them.");
	for (size_t k = 0; k < 3; k++)
		sbuf_printf(b, "meshd_peers{path=\"%s\"} %zu\n", paths[k], count[k]);

	peer_u64_family(b, s, "meshd_peer_rx_bytes_total", "counter",
			"Bytes received from the peer through the tunnel.",
			offsetof(struct status_peer, rx_bytes));
	peer_u64_family(b, s, "meshd_peer_tx_bytes_total", "counter",
			"Bytes sent to the peer through the tunnel.",
			offsetof(struct status_peer, tx_bytes));
	family(b, "meshd_peer_rtt_seconds", "gauge",
	       "Smoothed probe round-trip time of the path in use (absent when unknown).");
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];

		if (!p->have_path || p->rtt_ms < 0)
			continue;
		peer_sample(b, "meshd_peer_rtt_seconds", p);
		sbuf_printf(b, "%" PRId32 ".%03" PRId32 "\n", p->rtt_ms / 1000, p->rtt_ms % 1000);
	}
	peer_u64_family(b, s, "meshd_peer_last_handshake_timestamp_seconds", "gauge",
			"Unix time of the latest WireGuard handshake with the peer; 0 = never.",
			offsetof(struct status_peer, latest_handshake));
	family(b, "meshd_relay_forwarded_bytes_total", "counter",
	       "Bytes of datagrams this node relayed between other members.");
	sbuf_printf(b, "meshd_relay_forwarded_bytes_total %" PRIu64 "\n",
		    s->relay_forwarded_bytes);

	family(b, "meshd_gossip_messages_total", "counter",
	       "Gossip messages received (in) and sent (out).");
	sbuf_printf(b, "meshd_gossip_messages_total{direction=\"in\"} %" PRIu64 "\n",
		    s->gossip_in);
	sbuf_printf(b, "meshd_gossip_messages_total{direction=\"out\"} %" PRIu64 "\n",
		    s->gossip_out);

	family(b, "meshd_cert_expiry_timestamp_seconds", "gauge",
	       "Unix time at which this node's membership certificate expires.");
	sbuf_printf(b, "meshd_cert_expiry_timestamp_seconds %" PRIu64 "\n", s->cert_expires_at);
}

/* ---- the picture: members on a circle ---- */

enum {
	SVG_MIN_RADIUS = 140,	/* px */
	SVG_PER_MEMBER = 16,	/* circumference px per member, beyond the minimum */
	SVG_MARGIN = 130,	/* room for names outside the circle */
	SVG_NODE_R = 14,
};

struct layout {
	double cx, cy, r;
	size_t total;		/* members: us + peers */
	int w, h;
};

static void layout_init(struct layout *l, size_t total)
{
	double r = (double)(total * SVG_PER_MEMBER) / (2 * M_PI) * 3;

	if (r < SVG_MIN_RADIUS)
		r = SVG_MIN_RADIUS;
	l->total = total;
	l->r = r;
	l->cx = l->cy = r + SVG_MARGIN;
	l->w = l->h = (int)(2 * (r + SVG_MARGIN));
}

/* Member k (0: us, at the top) clockwise. */
static void layout_pos(const struct layout *l, size_t k, double *x, double *y)
{
	double a = -M_PI / 2 + 2 * M_PI * (double)k / (double)l->total;

	*x = l->cx + l->r * cos(a);
	*y = l->cy + l->r * sin(a);
}

static void svg_label(struct sbuf *b, double x, double y, const char *cls, const char *text)
{
	sbuf_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", cls, x,
		    y);
	metrics_xml_str(b, text);
	sbuf_puts(b, "</text>\n");
}

static void svg_edges(struct sbuf *b, const struct metrics_snap *s, const struct layout *l)
{
	double x0, y0, x1, y1, xr, yr;
	char rtt[32], lab[2 * STATUS_NAME_MAX + 64];

	layout_pos(l, 0, &x0, &y0);
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];
		const char *pp = peer_path(s, p);
		long via;

		layout_pos(l, i + 1, &x1, &y1);
		fmt_rtt(rtt, sizeof rtt, p);
		if (!strcmp(pp, "direct")) {
			sbuf_printf(b, "<line class=\"direct\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				    "y2=\"%.1f\"><title>", x0, y0, x1, y1);
			metrics_xml_str(b, p->name);
			sbuf_puts(b, ": direct</title></line>\n");
			if (rtt[0])
				svg_label(b, (x0 + 2 * x1) / 3, (y0 + 2 * y1) / 3 - 4, "rtt", rtt);
		} else if (peer_relayed(s, p)) {
			via = p->via[0] ? member_index(s, p->via) : -1;
			if (via > 0) {
				layout_pos(l, (size_t)via, &xr, &yr);
				sbuf_printf(b, "<polyline class=\"relay\" points=\"%.1f,%.1f %.1f,%.1f "
					    "%.1f,%.1f\"><title>", x0, y0, xr, yr, x1, y1);
			} else {
				xr = (x0 + x1) / 2;
				yr = (y0 + y1) / 2;
				sbuf_printf(b, "<polyline class=\"relay\" points=\"%.1f,%.1f "
					    "%.1f,%.1f\"><title>", x0, y0, x1, y1);
			}
			metrics_xml_str(b, p->name);
			sbuf_puts(b, ": relayed via ");
			metrics_xml_str(b, p->via[0] ? p->via : "?");
			sbuf_puts(b, "</title></polyline>\n");
			snprintf(lab, sizeof lab, "via %s%s%s", p->via[0] ? p->via : "?",
				 rtt[0] ? ", " : "", rtt);
			svg_label(b, (xr + 2 * x1) / 3, (yr + 2 * y1) / 3 - 4, "rtt", lab);
		}
	}
}

static void svg_nodes(struct sbuf *b, const struct metrics_snap *s, const struct layout *l)
{
	for (size_t k = 0; k <= s->n; k++) {
		const char *name = k ? s->peers[k - 1].name : s->self->name;
		const char *cls = "member";
		double x, y, dx, dy, norm;

		if (k == 0)
			cls = "self";
		else if (!strcmp(peer_path(s, &s->peers[k - 1]), "none"))
			cls = "nopath";
		layout_pos(l, k, &x, &y);
		sbuf_printf(b, "<g class=\"%s\"><title>", cls);
		metrics_xml_str(b, name);
		sbuf_printf(b, "</title><circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\"/>\n", x, y,
			    SVG_NODE_R);
		/* the name outside the circle, along the radius */
		dx = x - l->cx;
		dy = y - l->cy;
		norm = sqrt(dx * dx + dy * dy);
		if (norm < 1)
			norm = 1;
		x += dx / norm * (SVG_NODE_R + 22);
		y += dy / norm * (SVG_NODE_R + 22) + 4;
		svg_label(b, x, y, "name", name);
		if (k == 0)
			svg_label(b, x, y + 14, "note", "(this node)");
		else if (!strcmp(cls, "nopath"))
			svg_label(b, x, y + 14, "note", "no path");
		sbuf_puts(b, "</g>\n");
	}
}

static void render_svg(struct sbuf *b, const struct metrics_snap *s)
{
	struct layout l;

	layout_init(&l, s->n + 1);
	sbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		    "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"mesh ", l.w, l.h, l.w, l.h);
	metrics_xml_str(b, s->self->mesh);
	sbuf_puts(b, "\">\n<style>"
		  "line.direct{stroke:#2a7;stroke-width:2.5}"
		  "polyline.relay{fill:none;stroke:#d80;stroke-width:2;stroke-dasharray:7 5}"
		  "g circle{fill:#fff;stroke:#345;stroke-width:2}"
		  "g.self circle{fill:#36c;stroke:#123;stroke-width:4}"
		  "g.nopath circle{fill:#ddd;stroke:#c33;stroke-dasharray:4 3}"
		  "text{font:13px sans-serif;fill:#222}"
		  "text.rtt{font-size:11px;fill:#555}"
		  "text.note{font-size:11px;fill:#c33}"
		  "g.self text.name{font-weight:bold}"
		  "g.self text.note{fill:#36c}"
		  "</style>\n");
	svg_edges(b, s, &l);
	svg_nodes(b, s, &l);
	sbuf_puts(b, "</svg>\n");
}

/* ---- the HTML page ---- */

static void html_cell(struct sbuf *b, const char *text)
{
	sbuf_puts(b, "<td>");
	metrics_xml_str(b, text);
	sbuf_puts(b, "</td>");
}

static void html_table(struct sbuf *b, const struct metrics_snap *s)
{
	char cell[STATUS_ROUTES_MAX * STATUS_PREFIX_STRLEN];

	sbuf_puts(b, "<table>\n<tr><th>NAME</th><th>OVERLAY-IPV4</th><th>OVERLAY-IPV6</th>"
		  "<th>PATH</th><th>ENDPOINT</th><th>RTT</th><th>HANDSHAKE</th><th>RX</th>"
		  "<th>TX</th><th>ROUTES</th></tr>\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];
		const char *pp = peer_path(s, p);
		size_t len = 0;

		sbuf_printf(b, "<tr class=\"%s\">", pp);
		html_cell(b, p->name);
		html_cell(b, p->ipv4);
		html_cell(b, p->ipv6);
		html_cell(b, pp);
		if (peer_relayed(s, p) && p->via[0])
			snprintf(cell, sizeof cell, "via %s", p->via);
		else
			snprintf(cell, sizeof cell, "%s", p->endpoint[0] ? p->endpoint : "-");
		html_cell(b, cell);
		fmt_rtt(cell, sizeof cell, p);
		html_cell(b, cell[0] ? cell : "-");
		status_fmt_age(cell, sizeof cell, p->latest_handshake, s->now_unix);
		html_cell(b, cell);
		sbuf_printf(b, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td>", p->rx_bytes,
			    p->tx_bytes);
		snprintf(cell, sizeof cell, "-");
		for (size_t k = 0; k < p->nroutes && len < sizeof cell; k++) {
			int w = snprintf(cell + len, sizeof cell - len, "%s%s", k ? "," : "",
					 p->routes[k]);

			if (w < 0)
				break;
			len += (size_t)w;
		}
		html_cell(b, cell);
		sbuf_puts(b, "</tr>\n");
	}
	sbuf_puts(b, "</table>\n");
}

void metrics_render_html(struct sbuf *b, const struct metrics_snap *s)
{
	const struct status_self *me = s->self;

	sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		  "<meta http-equiv=\"refresh\" content=\"10\">\n<title>meshd ");
	metrics_xml_str(b, me->name);
	sbuf_puts(b, ".");
	metrics_xml_str(b, me->mesh);
	sbuf_puts(b, "</title>\n<style>body{font:14px sans-serif;margin:1.5em;color:#222}"
		  "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px;"
		  "text-align:left}th{background:#eee}tr.none td{color:#c33}"
		  ".legend span{margin-right:1.5em}</style>\n</head><body>\n<h1>");
	metrics_xml_str(b, me->name);
	sbuf_puts(b, " <small>in mesh ");
	metrics_xml_str(b, me->mesh);
	sbuf_printf(b, " (%zu members)</small></h1>\n<p>overlay ", me->members);
	metrics_xml_str(b, me->ipv4);
	sbuf_puts(b, " ");
	metrics_xml_str(b, me->ipv6);
	sbuf_printf(b, ", UDP port %u, %s, meshd ", me->listen_port,
		    me->admin ? "admin" : "member");
	metrics_xml_str(b, s->version ? s->version : "");
	sbuf_puts(b, "</p>\n<p class=\"legend\"><span>solid green: direct path</span>"
		  "<span>dashed orange: relayed, drawn through the relay</span>"
		  "<span>grey with red ring: no path</span></p>\n");
	render_svg(b, s);
	if (s->n)
		html_table(b, s);
	else
		sbuf_puts(b, "<p>no peers</p>\n");
	sbuf_puts(b, "<p><a href=\"/metrics\">/metrics</a> &middot; "
		  "<a href=\"/status.json\">/status.json</a></p>\n</body></html>\n");
}

/* ---- Graphviz ---- */

void metrics_render_dot(struct sbuf *b, const struct metrics_snap *s)
{
	char rtt[32], lab[2 * STATUS_NAME_MAX + 64];

	sbuf_puts(b, "graph mesh {\n\tgraph [label=");
	snprintf(lab, sizeof lab, "mesh %s seen from %s", s->self->mesh, s->self->name);
	metrics_dot_str(b, lab);
	sbuf_puts(b, ", labelloc=t, layout=circo];\n\tnode [shape=ellipse, fontname=\"sans\"];\n"
		  "\tedge [fontname=\"sans\", fontsize=10];\n\t");
	metrics_dot_str(b, s->self->name);
	sbuf_puts(b, " [style=\"filled,bold\", fillcolor=\"#99bbee\"];\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];

		sbuf_puts(b, "\t");
		metrics_dot_str(b, p->name);
		if (!strcmp(peer_path(s, p), "none")) {
			snprintf(lab, sizeof lab, "%s (no path)", p->name);
			sbuf_puts(b, " [style=\"filled,dashed\", color=red, fillcolor=\"#dddddd\", "
				  "label=");
			metrics_dot_str(b, lab);
			sbuf_puts(b, "]");
		}
		sbuf_puts(b, ";\n");
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct status_peer *p = &s->peers[i];
		const char *pp = peer_path(s, p);

		fmt_rtt(rtt, sizeof rtt, p);
		if (!strcmp(pp, "direct")) {
			sbuf_puts(b, "\t");
			metrics_dot_str(b, s->self->name);
			sbuf_puts(b, " -- ");
			metrics_dot_str(b, p->name);
			sbuf_puts(b, " [color=\"#22aa77\", penwidth=2, label=");
			metrics_dot_str(b, rtt[0] ? rtt : "direct");
			sbuf_puts(b, "];\n");
		} else if (peer_relayed(s, p)) {
			/* the leg to the relay is its own direct edge; this is the
			 * relay's leg on our behalf */
			sbuf_puts(b, "\t");
			if (p->via[0] && member_index(s, p->via) >= 0)
				metrics_dot_str(b, p->via);
			else
				metrics_dot_str(b, s->self->name);
			sbuf_puts(b, " -- ");
			metrics_dot_str(b, p->name);
			snprintf(lab, sizeof lab, "relay for %s%s%s", s->self->name,
				 rtt[0] ? ", " : "", rtt);
			sbuf_puts(b, " [style=dashed, color=\"#dd8800\", label=");
			metrics_dot_str(b, lab);
			sbuf_puts(b, "];\n");
		}
	}
	sbuf_puts(b, "}\n");
}
