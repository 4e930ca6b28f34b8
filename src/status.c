/* Status of a mesh node: collection from the node and wg device, and the two
 * output formats (see status.h for the JSON contract). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/endpoints.h"
#include "mesh/node.h"
#include "mesh/path.h"
#include "mesh/tcpframe.h"
#include "status.h"
#include "store/store.h"
#include "util/err.h"
#include "wg/wg.h"

/* ---- string builder ---- */

void sbuf_free(struct sbuf *b)
{
	/* an answer may carry a secret (the invite token) */
	if (b->buf)
		sodium_memzero(b->buf, b->cap);
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

static bool sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(b->buf, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_json_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': sbuf_add(b, "\\\"", 2); break;
		case '\\': sbuf_add(b, "\\\\", 2); break;
		case '\n': sbuf_add(b, "\\n", 2); break;
		case '\r': sbuf_add(b, "\\r", 2); break;
		case '\t': sbuf_add(b, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f)
				sbuf_printf(b, "\\u%04x", c);
			else
				sbuf_add(b, (const char *)&c, 1);
		}
	}
	sbuf_add(b, "\"", 1);
}

/* ---- formats ---- */

void status_prefix_format(const struct mesh_prefix *p, char out[STATUS_PREFIX_STRLEN])
{
	char a[INET6_ADDRSTRLEN];
	int af = p->family == MESH_FAMILY_V4 ? AF_INET : p->family == MESH_FAMILY_V6 ? AF_INET6 : 0;

	if (!af || !inet_ntop(af, p->addr, a, sizeof a)) {
		snprintf(out, STATUS_PREFIX_STRLEN, "?");
		return;
	}
	snprintf(out, STATUS_PREFIX_STRLEN, "%s/%u", a, p->len);
}

const char *status_path(const struct status_peer *p, uint64_t now_unix)
{
	if (p->have_path)
		return p->path == MESH_PATH_DIRECT ? "direct" :
		       p->path == MESH_PATH_RELAY ? "relay" : "none";
	if (!p->endpoint[0] || !p->latest_handshake)
		return "none";
	/* a handshake "from the future" (clock step back) still counts as fresh */
	if (p->latest_handshake > now_unix || now_unix - p->latest_handshake < STATUS_DIRECT_S)
		return "direct";
	return "none";
}

static void json_str_or_null(struct sbuf *b, const char *s)
{
	if (s[0])
		sbuf_json_str(b, s);
	else
		sbuf_puts(b, "null");
}

static void json_list(struct sbuf *b, const char (*v)[STATUS_PREFIX_STRLEN], size_t n)
{
	sbuf_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_puts(b, ", ");
		sbuf_json_str(b, v[i]);
	}
	sbuf_puts(b, "]");
}

/* `, "key": "v"` with v escaped: every string member after the first. */
static void json_field(struct sbuf *b, const char *key, const char *v)
{
	sbuf_printf(b, ", \"%s\": ", key);
	sbuf_json_str(b, v);
}

/* Opens the object of a node, ours or a peer's, with the members both
 * have. */
static void json_node_open(struct sbuf *b, const char *name, const char *public_key,
			   const char *ipv4, const char *ipv6)
{
	sbuf_puts(b, "{\"name\": ");
	sbuf_json_str(b, name);
	json_field(b, "public_key", public_key);
	json_field(b, "overlay_ipv4", ipv4);
	json_field(b, "overlay_ipv6", ipv6);
}

static void json_self(struct sbuf *b, const struct status_self *s)
{
	json_node_open(b, s->name, s->public_key, s->ipv4, s->ipv6);
	sbuf_printf(b, ", \"ipv6_active\": %s", s->ipv6_active ? "true" : "false");
	sbuf_printf(b, ", \"listen_port\": %u, \"tcp_port\": %u, \"admin\": %s, \"endpoints\": [",
		    s->listen_port, s->tcp_port, s->admin ? "true" : "false");
	for (size_t i = 0; i < s->nep; i++) {
		sbuf_puts(b, i ? ", {\"addr\": " : "{\"addr\": ");
		sbuf_json_str(b, s->ep[i].addr);
		json_field(b, "source", s->ep[i].source);
		json_field(b, "transport", s->ep[i].transport ? s->ep[i].transport : "udp");
		sbuf_puts(b, "}");
	}
	sbuf_printf(b, "], \"cert_expires\": %" PRIu64 ", \"revoked\": %s}", s->cert_expires,
		    s->revoked ? "true" : "false");
}

/* `, "candidates": [...], "probes_denied": N, "punches_held": N`: what the
 * path engine knows of each direct candidate (the first thing to read when
 * a pair stays relayed). */
static void json_cands(struct sbuf *b, const struct status_peer *p)
{
	sbuf_puts(b, ", \"candidates\": [");
	for (size_t i = 0; i < p->ncand; i++) {
		const struct status_cand *c = &p->cand[i];

		sbuf_puts(b, i ? ", {\"addr\": " : "{\"addr\": ");
		sbuf_json_str(b, c->addr);
		json_field(b, "source", c->source);
		sbuf_printf(b, ", \"usable\": %s, \"active\": %s, \"rtt_ms\": ",
			    c->usable ? "true" : "false", c->active ? "true" : "false");
		if (c->rtt_ms >= 0)
			sbuf_printf(b, "%" PRId32, c->rtt_ms);
		else
			sbuf_puts(b, "null");
		sbuf_printf(b, ", \"sent\": %" PRIu64 ", \"acked\": %" PRIu64
			    ", \"lost\": %" PRIu64 "}", c->sent, c->acked, c->lost);
	}
	sbuf_printf(b, "], \"probes_denied\": %" PRIu64 ", \"punches_held\": %" PRIu64,
		    p->probes_denied, p->punches_held);
}

static void json_peer(struct sbuf *b, const struct status_peer *p, uint64_t now_unix)
{
	json_node_open(b, p->name, p->public_key, p->ipv4, p->ipv6);
	json_field(b, "path", status_path(p, now_unix));
	json_field(b, "transport", p->tcp ? "tcp" : "udp");
	sbuf_puts(b, ", \"endpoint\": ");
	json_str_or_null(b, p->endpoint);
	sbuf_puts(b, ", \"via\": ");
	json_str_or_null(b, p->via);
	sbuf_printf(b, ", \"latest_handshake\": %" PRIu64 ", \"rx_bytes\": %" PRIu64
		    ", \"tx_bytes\": %" PRIu64 ", \"rtt_ms\": ",
		    p->latest_handshake, p->rx_bytes, p->tx_bytes);
	if (p->have_path && p->rtt_ms >= 0)
		sbuf_printf(b, "%" PRId32, p->rtt_ms);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ", \"mtu\": ");
	if (p->mtu != 0)
		sbuf_printf(b, "%u", (unsigned)p->mtu);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ", \"routes\": ");
	json_list(b, p->routes, p->nroutes);
	sbuf_printf(b, ", \"cert_expires\": %" PRIu64, p->cert_expires);
	json_cands(b, p);
	sbuf_puts(b, "}");
}

void status_format_json(struct sbuf *b, const struct status_self *self,
			const struct status_peer *peers, size_t n, uint64_t now_unix)
{
	sbuf_printf(b, "{\"running\": %s, \"node\": ", self->running ? "true" : "false");
	json_self(b, self);
	sbuf_puts(b, ", \"peers\": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_puts(b, ", ");
		json_peer(b, &peers[i], now_unix);
	}
	sbuf_puts(b, "]}\n");
}

static void fmt_bytes(char *out, size_t len, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(out, len, "%" PRIu64 " B", v);
		return;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", d, unit[u]);
}

/* secs as "59s", "12m", "5h", "364d" (the largest unit that keeps two
 * of the next smaller), between pre and post. */
static void fmt_span(char *out, size_t len, const char *pre, uint64_t secs, const char *post)
{
	if (secs < 120)
		snprintf(out, len, "%s%" PRIu64 "s%s", pre, secs, post);
	else if (secs < 2 * 3600)
		snprintf(out, len, "%s%" PRIu64 "m%s", pre, secs / 60, post);
	else if (secs < 2 * 86400)
		snprintf(out, len, "%s%" PRIu64 "h%s", pre, secs / 3600, post);
	else
		snprintf(out, len, "%s%" PRIu64 "d%s", pre, secs / 86400, post);
}

void status_fmt_age(char *out, size_t len, uint64_t then, uint64_t now)
{
	if (!then)
		snprintf(out, len, "never");
	else
		fmt_span(out, len, "", now > then ? now - then : 0, " ago");
}

/* "in 59s", "in 12h", "in 364d"; "expired"; "-" unknown */
static void fmt_left(char *out, size_t len, uint64_t then, uint64_t now)
{
	if (!then)
		snprintf(out, len, "-");
	else if (then <= now)
		snprintf(out, len, "expired");
	else
		fmt_span(out, len, "in ", then - now, "");
}

enum { COLS = 12, CELL = STATUS_ROUTES_MAX * STATUS_PREFIX_STRLEN };

/* "a,b,c" or "-" */
static void join_list(char *out, size_t cap, const char (*v)[STATUS_PREFIX_STRLEN], size_t n)
{
	size_t len = 0;

	snprintf(out, cap, "-");
	for (size_t i = 0; i < n && len < cap; i++) {
		int w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", v[i]);

		if (w < 0)
			break;
		len += (size_t)w;
	}
}

static void peer_cells(const struct status_peer *p, uint64_t now, char cell[COLS][CELL])
{
	snprintf(cell[0], CELL, "%s", p->name);
	snprintf(cell[1], CELL, "%s", p->ipv4);
	snprintf(cell[2], CELL, "%s", p->ipv6);
	snprintf(cell[3], CELL, "%s", status_path(p, now));
	snprintf(cell[4], CELL, "%s", p->tcp ? "tcp" : "udp");
	if (p->have_path && p->path == MESH_PATH_RELAY && p->via[0])
		snprintf(cell[5], CELL, "via %s", p->via);
	else
		snprintf(cell[5], CELL, "%s", p->endpoint[0] ? p->endpoint : "-");
	if (p->mtu != 0)
		snprintf(cell[6], CELL, "%u", (unsigned)p->mtu);
	else
		snprintf(cell[6], CELL, "-");
	status_fmt_age(cell[7], CELL, p->latest_handshake, now);
	fmt_bytes(cell[8], CELL, p->rx_bytes);
	fmt_bytes(cell[9], CELL, p->tx_bytes);
	fmt_left(cell[10], CELL, p->cert_expires, now);
	join_list(cell[11], CELL, p->routes, p->nroutes);
}

static void text_row(struct sbuf *b, char cell[COLS][CELL], const int w[COLS])
{
	for (int c = 0; c < COLS - 1; c++)
		sbuf_printf(b, "%-*s  ", w[c], cell[c]);
	sbuf_printf(b, "%s\n", cell[COLS - 1]);
}

void status_format_text(struct sbuf *b, const struct status_self *self,
			const struct status_peer *peers, size_t n, uint64_t now_unix)
{
	static const char *const head[COLS] = { "NAME", "OVERLAY-IPV4", "OVERLAY-IPV6", "PATH",
						"TRANSPORT", "ENDPOINT", "MTU", "HANDSHAKE", "RX", "TX",
						"CERT", "ROUTES" };
	static char cell[COLS][CELL];	/* 7 KiB: single-threaded daemon */
	int w[COLS];

	if (!self->running && self->revoked)
		sbuf_puts(b, "status:     revoked (this node is no longer a member of the mesh; "
			  "it cannot start again)\n");
	else if (!self->running)
		sbuf_puts(b, "status:     not running (stored state: no paths, handshakes or "
			  "traffic)\n");
	sbuf_printf(b, "node:       %s (%s.%s)\n", self->name, self->name, self->mesh);
	sbuf_printf(b, "mesh:       %s (%zu members)\n", self->mesh, self->members);
	sbuf_printf(b, "public key: %s\n", self->public_key);
	if (!self->ipv4[0] && !self->ipv6[0])	/* no certificate (revoked) */
		sbuf_puts(b, "overlay:    none\n");
	else
		sbuf_printf(b, "overlay:    %s/%u  %s/%u%s\n", self->ipv4, self->prefix4_len,
			    self->ipv6, self->prefix6_len,
			    self->ipv6_active || !self->running ? "" :
			    " (IPv6 not active: disabled on this host)");
	sbuf_printf(b, "port:       %u\n", self->listen_port);
	if (self->tcp_port)
		sbuf_printf(b, "tcp port:   %u (entry for members whose UDP is blocked)\n",
			    self->tcp_port);
	sbuf_printf(b, "admin:      %s\n", self->admin ? "yes" : "no");
	if (self->cert_expires) {
		char left[32];

		fmt_left(left, sizeof left, self->cert_expires, now_unix);
		sbuf_printf(b, "cert:       expires %s (unix %" PRIu64 ")\n", left,
			    self->cert_expires);
	}
	if (self->cert_unrenewed)
		sbuf_puts(b, "warning:    certificate expires soon and no admin has renewed it "
			  "(is an admin node online?)\n");
	sbuf_puts(b, "endpoints: ");
	for (size_t i = 0; i < self->nep; i++)
		sbuf_printf(b, " %s (%s%s)", self->ep[i].addr, self->ep[i].source,
			    self->ep[i].transport && !strcmp(self->ep[i].transport, "tcp") ? ", tcp" : "");
	sbuf_puts(b, self->nep ? "\n" : " none\n");
	if (!n) {
		sbuf_puts(b, "\nno peers\n");
		return;
	}
	for (int c = 0; c < COLS; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		peer_cells(&peers[i], now_unix, cell);
		for (int c = 0; c < COLS; c++)
			if ((int)strlen(cell[c]) > w[c])
				w[c] = (int)strlen(cell[c]);
	}
	sbuf_puts(b, "\n");
	for (int c = 0; c < COLS; c++)
		snprintf(cell[c], CELL, "%s", head[c]);
	text_row(b, cell, w);
	for (size_t i = 0; i < n; i++) {
		peer_cells(&peers[i], now_unix, cell);
		text_row(b, cell, w);
	}
}

/* ---- collection ---- */

static const char *ep_source(uint8_t s)
{
	switch (s) {
	case MESH_EP_LOCAL: return "local";
	case MESH_EP_REFLEXIVE: return "reflexive";
	case MESH_EP_PORTMAP: return "portmap";
	case MESH_EP_TCP: return "local";	/* on one of our addresses */
	case PATH_SRC_PRFLX: return "peer-reflexive";	/* a peer's candidate */
	}
	return "local";
}

static void ep_format(const struct mesh_ep *e, char *out, size_t len)
{
	union endpoint ep;

	memset(&ep, 0, sizeof ep);
	if (e->family == MESH_FAMILY_V4) {
		ep.sin.sin_family = AF_INET;
		memcpy(&ep.sin.sin_addr, e->addr, 4);
		ep.sin.sin_port = htons(e->port);
	} else {
		ep.sin6.sin6_family = AF_INET6;
		memcpy(&ep.sin6.sin6_addr, e->addr, 16);
		ep.sin6.sin6_port = htons(e->port);
	}
	endpoint_format(&ep, out, len);
}

static void key_b64(char out[STATUS_KEY_B64], const uint8_t key[32])
{
	sodium_bin2base64(out, STATUS_KEY_B64, key, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* v (cap elements of size, n in use) with room for one more: v itself, or
 * the array moved into twice the space (first elements for the first
 * one). NULL when out of memory, v then unchanged and still owned by the
 * caller. */
static void *room_for_one(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t ncap = *cap ? 2 * *cap : first;
	void *nv;

	if (n < *cap)
		return v;
	if ((nv = reallocarray(v, ncap, size)) != NULL)
		*cap = ncap;
	return nv;
}

struct collect {
	struct status_peer *v;
	size_t n, cap;
	bool tcp_fallback;
};

static int collect_peer(void *ctx, const struct mesh_node_peer *mp)
{
	struct collect *c = ctx;
	struct status_peer *v = room_for_one(c->v, &c->cap, c->n, sizeof *v, 16);
	struct status_peer *p;

	if (v == NULL)
		return MESHD_E_NOMEM;
	c->v = v;
	p = &c->v[c->n++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", mp->name);
	key_b64(p->public_key, mp->wg_pk);
	inet_ntop(AF_INET, mp->ipv4, p->ipv4, sizeof p->ipv4);
	inet_ntop(AF_INET6, mp->ipv6, p->ipv6, sizeof p->ipv6);
	p->have_path = true;
	p->path = mp->path;
	p->rtt_ms = mp->rtt_ms;
	p->mtu = mp->mtu;
	p->cert_expires = mp->cert_expires_at;
	snprintf(p->via, sizeof p->via, "%s", mp->via_name);
	p->tcp = c->tcp_fallback || mp->pinned;
	if (mp->pinned)
		p->path = MESH_PATH_DIRECT;	/* over our TCP entry */
	for (size_t i = 0; i < mp->ninst && p->nroutes < STATUS_ROUTES_MAX; i++)
		status_prefix_format(&mp->inst[i], p->routes[p->nroutes++]);
	for (size_t i = 0; i < mp->ncand && p->ncand < STATUS_CAND_MAX; i++) {
		const struct mesh_path_cand_stats *cs = &mp->cand[i];
		struct status_cand *sc = &p->cand[p->ncand++];

		endpoint_format(&cs->addr, sc->addr, sizeof sc->addr);
		sc->source = ep_source(cs->ep.source);
		sc->usable = cs->usable;
		sc->active = cs->active;
		sc->rtt_ms = cs->acked ? (int32_t)(cs->rtt_ms > INT32_MAX ? INT32_MAX : cs->rtt_ms) : -1;
		sc->sent = cs->sent;
		sc->acked = cs->acked;
		sc->lost = cs->lost;
	}
	p->probes_denied = mp->probes_denied;
	p->punches_held = mp->punches_held;
	if (mp->peer) {
		struct wg_peer_info info;

		wg_peer_get_info(mp->peer, &info);
		/* relayed: the endpoint is a synthetic one (mesh/relay.h),
		 * meaningless outside; "via" names the relay */
		if (endpoint_is_set(&info.endpoint) && mp->path != MESH_PATH_RELAY && !mp->pinned)
			endpoint_format(&info.endpoint, p->endpoint, sizeof p->endpoint);
		p->latest_handshake = info.last_handshake.sec;
		p->rx_bytes = info.rx_bytes;
		p->tx_bytes = info.tx_bytes;
		sodium_memzero(&info, sizeof info);	/* it carries the preshared key */
	}
	return 0;
}

int status_collect(const struct mesh_node *node, const struct status_opts *o,
		   struct status_self *self, struct status_peer **peers, size_t *n)
{
	struct mesh_node_self ms;
	struct collect c = { .tcp_fallback = o->tcp_fallback };
	int r;

	mesh_node_get_self(node, &ms);
	memset(self, 0, sizeof *self);
	snprintf(self->name, sizeof self->name, "%s", ms.name);
	snprintf(self->mesh, sizeof self->mesh, "%s", ms.mesh_name);
	key_b64(self->public_key, ms.wg_pk);
	inet_ntop(AF_INET, ms.ipv4, self->ipv4, sizeof self->ipv4);
	inet_ntop(AF_INET6, ms.ipv6, self->ipv6, sizeof self->ipv6);
	self->prefix4_len = ms.prefix4.len;
	self->prefix6_len = ms.prefix6.len;
	self->listen_port = o->listen_port;
	self->tcp_port = o->tcp_port;
	self->admin = ms.admin;
	self->members = ms.members;
	self->cert_expires = ms.cert_expires_at;
	self->cert_unrenewed = ms.cert_unrenewed;
	for (size_t i = 0; i < ms.nep && self->nep < STATUS_EP_MAX; i++) {
		struct status_ep *e = &self->ep[self->nep++];

		ep_format(&ms.ep[i], e->addr, sizeof e->addr);
		e->source = ep_source(ms.ep[i].source);
		e->transport = mesh_ep_is_tcp(&ms.ep[i]) ? "tcp" : "udp";
	}
	r = mesh_node_foreach_peer(node, collect_peer, &c);
	if (r) {
		free(c.v);
		return r < 0 ? r : MESHD_E_NOMEM;
	}
	*peers = c.v;
	*n = c.n;
	return 0;
}

/* Formats self and peers as JSON or text into b, then frees peers. */
static int format_all(struct sbuf *b, const struct status_self *self, struct status_peer *peers,
		      size_t n, uint64_t now_unix, bool json)
{
	if (json)
		status_format_json(b, self, peers, n, now_unix);
	else
		status_format_text(b, self, peers, n, now_unix);
	free(peers);
	return b->oom ? MESHD_E_NOMEM : 0;
}

int status_build(struct sbuf *b, const struct mesh_node *node, const struct status_opts *o,
		 bool json, uint64_t now_unix)
{
	struct status_self self;
	struct status_peer *peers = NULL;
	size_t n = 0;
	int r;

	r = status_collect(node, o, &self, &peers, &n);
	if (r)
		return r;
	self.running = true;
	self.ipv6_active = o->ipv6_active;
	return format_all(b, &self, peers, n, now_unix, json);
}

/* ---- the stored state (no daemon) ---- */

/* The addresses of node_id's last stored endpoint record; 0 when it has
 * none (or it does not decode: it is shown, not trusted, so no signature
 * check). */
static int stored_eps(struct store *st, const uint8_t id[STORE_NODE_ID_LEN],
		      struct mesh_endpoints *out)
{
	struct store_endpoint_record rec;
	int r;

	memset(out, 0, sizeof *out);
	r = store_endpoint_record_get(st, id, &rec);
	if (r == MESHD_E_NOENT)
		return 0;
	if (r != 0)
		return r;
	if (mesh_endpoints_decode(rec.record, rec.record_len, out) != 0)
		memset(out, 0, sizeof *out);
	return 0;
}

/* "100.64.0.0/16" -> 16 (0 when it does not parse) */
static uint8_t prefix_len(const char *prefix)
{
	const char *slash = strchr(prefix, '/');
	unsigned long v;
	char *end;

	if (!slash)
		return 0;
	v = strtoul(slash + 1, &end, 10);
	return *end || v > 128 ? 0 : (uint8_t)v;
}

struct store_collect {
	struct collect c;
	struct store *st;
	const uint8_t *self_id;
	struct status_self *self;
	int err;
};

static int store_member(const struct store_member *m, void *arg)
{
	struct store_collect *sc = arg;
	struct mesh_endpoints eps;
	struct status_peer *p;
	int r;

	sc->self->members++;
	if (!memcmp(m->node_id, sc->self_id, STORE_NODE_ID_LEN)) {
		snprintf(sc->self->ipv4, sizeof sc->self->ipv4, "%.15s", m->overlay4);
		snprintf(sc->self->ipv6, sizeof sc->self->ipv6, "%s", m->overlay6);
		key_b64(sc->self->public_key, m->wg_public_key);
		sc->self->cert_expires = m->cert_expires_at > 0 ? (uint64_t)m->cert_expires_at : 0;
		if ((r = stored_eps(sc->st, m->node_id, &eps)) != 0)
			return sc->err = r;
		for (size_t i = 0; i < eps.nep && sc->self->nep < STATUS_EP_MAX; i++) {
			struct status_ep *e = &sc->self->ep[sc->self->nep++];

			ep_format(&eps.ep[i], e->addr, sizeof e->addr);
			e->source = ep_source(eps.ep[i].source);
			e->transport = mesh_ep_is_tcp(&eps.ep[i]) ? "tcp" : "udp";
		}
		return 0;
	}
	if (sc->c.n == sc->c.cap) {
		size_t cap = sc->c.cap ? 2 * sc->c.cap : 16;
		struct status_peer *v = reallocarray(sc->c.v, cap, sizeof *v);

		if (!v)
			return sc->err = MESHD_E_NOMEM;
		sc->c.v = v;
		sc->c.cap = cap;
	}
	p = &sc->c.v[sc->c.n++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", m->name);
	key_b64(p->public_key, m->wg_public_key);
	snprintf(p->ipv4, sizeof p->ipv4, "%.15s", m->overlay4);
	snprintf(p->ipv6, sizeof p->ipv6, "%s", m->overlay6);
	p->have_path = true;
	p->path = MESH_PATH_NONE;
	p->rtt_ms = -1;
	p->cert_expires = m->cert_expires_at > 0 ? (uint64_t)m->cert_expires_at : 0;
	if ((r = stored_eps(sc->st, m->node_id, &eps)) != 0)
		return sc->err = r;
	if (eps.nep)
		ep_format(&eps.ep[0], p->endpoint, sizeof p->endpoint);
	return 0;
}

/* The stored TCP entry port (mesh/tcpframe.h MESH_TCP_PORT_SETTING); 0
 * when unset or not a port. */
static uint16_t stored_tcp_port(struct store *st)
{
	char v[STORE_SETTING_MAX + 1], *end;
	unsigned long p;

	if (store_setting_get(st, MESH_TCP_PORT_SETTING, v, sizeof v) != 0)
		return 0;
	errno = 0;
	p = strtoul(v, &end, 10);
	return errno == 0 && *end == '\0' && end != v && p <= 65535 ? (uint16_t)p : 0;
}

int status_collect_store(struct store *st, struct status_self *self, struct status_peer **peers,
			 size_t *n)
{
	struct store_node node;
	struct store_mesh mesh;
	uint8_t id[STORE_NODE_ID_LEN], pk[crypto_scalarmult_curve25519_BYTES];
	struct store_collect sc = { .st = st, .self_id = id, .self = self };
	int r;

	memset(self, 0, sizeof *self);
	*peers = NULL;
	*n = 0;
	if ((r = store_node_get(st, &node)) != 0)
		return r;
	memcpy(id, node.node_id, sizeof id);
	snprintf(self->name, sizeof self->name, "%s", node.name);
	self->listen_port = node.listen_port;
	/* The public key from the private one: a revoked node has no member
	 * row (certificate) of its own left to read it from. */
	if (crypto_scalarmult_curve25519_base(pk, node.wg_private_key) == 0)
		key_b64(self->public_key, pk);
	store_node_clear(&node);
	if ((r = store_revocation_exists(st, id)) < 0)
		return r;
	self->revoked = r > 0;
	self->tcp_port = stored_tcp_port(st);	/* it carries the private key */
	if ((r = store_mesh_get(st, &mesh)) != 0)
		return r;
	snprintf(self->mesh, sizeof self->mesh, "%s", mesh.name);
	self->prefix4_len = prefix_len(mesh.prefix4);
	self->prefix6_len = prefix_len(mesh.prefix6);
	self->admin = mesh.has_authority_sk;
	store_mesh_clear(&mesh);
	r = store_member_foreach(st, store_member, &sc);
	if (r) {
		free(sc.c.v);
		return sc.err ? sc.err : r < 0 ? r : MESHD_E_NOMEM;
	}
	*peers = sc.c.v;
	*n = sc.c.n;
	return 0;
}

int status_build_store(struct sbuf *b, struct store *st, bool json, uint64_t now_unix)
{
	struct status_self self;
	struct status_peer *peers = NULL;
	size_t n = 0;
	int r;

	r = status_collect_store(st, &self, &peers, &n);
	if (r)
		return r;
	return format_all(b, &self, peers, n, now_unix, json);
}

/* ---- subnet routes ---- */

void status_format_routes(struct sbuf *b, const struct status_routes *rows, size_t n, bool json)
{
	static const char *const head[4] = { "NODE", "ADVERTISED", "APPROVED", "INSTALLED-HERE" };
	static char cell[4][CELL];
	int w[4];

	if (json) {
		sbuf_puts(b, "{\"nodes\": [");
		for (size_t i = 0; i < n; i++) {
			sbuf_puts(b, i ? ", {\"name\": " : "{\"name\": ");
			sbuf_json_str(b, rows[i].name);
			sbuf_puts(b, rows[i].self ? ", \"self\": true" : ", \"self\": false");
			sbuf_puts(b, ", \"advertised\": ");
			json_list(b, rows[i].adv, rows[i].nadv);
			sbuf_puts(b, ", \"approved\": ");
			json_list(b, rows[i].appr, rows[i].nappr);
			sbuf_puts(b, ", \"installed\": ");
			json_list(b, rows[i].inst, rows[i].ninst);
			sbuf_puts(b, "}");
		}
		sbuf_puts(b, "]}\n");
		return;
	}
	for (int c = 0; c < 4; c++)
		w[c] = (int)strlen(head[c]);
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			sbuf_printf(b, "%-*s  %-*s  %-*s  %s\n", w[0], head[0], w[1], head[1], w[2],
				    head[2], head[3]);
		}
		for (size_t i = 0; i < n; i++) {
			const struct status_routes *r = &rows[i];

			snprintf(cell[0], CELL, "%s%s", r->name, r->self ? " (self)" : "");
			join_list(cell[1], CELL, r->adv, r->nadv);
			join_list(cell[2], CELL, r->appr, r->nappr);
			join_list(cell[3], CELL, r->inst, r->ninst);
			if (!pass) {
				for (int c = 0; c < 4; c++)
					if ((int)strlen(cell[c]) > w[c])
						w[c] = (int)strlen(cell[c]);
				continue;
			}
			sbuf_printf(b, "%-*s  %-*s  %-*s  %s\n", w[0], cell[0], w[1], cell[1], w[2],
				    cell[2], cell[3]);
		}
	}
}

struct routes_collect {
	struct status_routes *v;
	size_t n, cap;
};

static struct status_routes *routes_row(struct routes_collect *c)
{
	struct status_routes *v = room_for_one(c->v, &c->cap, c->n, sizeof *v, 8);

	if (v == NULL)
		return NULL;
	c->v = v;
	memset(&c->v[c->n], 0, sizeof c->v[c->n]);
	return &c->v[c->n++];
}

static void routes_fill(char (*out)[STATUS_PREFIX_STRLEN], size_t *nout,
			const struct mesh_prefix *in, size_t n)
{
	for (*nout = 0; *nout < n && *nout < STATUS_ROUTES_MAX; (*nout)++)
		status_prefix_format(&in[*nout], out[*nout]);
}

static int routes_peer(void *ctx, const struct mesh_node_peer *mp)
{
	struct status_routes *r = routes_row(ctx);

	if (!r)
		return MESHD_E_NOMEM;
	snprintf(r->name, sizeof r->name, "%s", mp->name);
	routes_fill(r->adv, &r->nadv, mp->adv, mp->nadv);
	routes_fill(r->appr, &r->nappr, mp->appr, mp->nappr);
	routes_fill(r->inst, &r->ninst, mp->inst, mp->ninst);
	return 0;
}

int status_routes_build(struct sbuf *b, const struct mesh_node *node, bool json)
{
	struct routes_collect c = { 0 };
	struct mesh_node_self ms;
	struct status_routes *r;
	int err;

	mesh_node_get_self(node, &ms);
	r = routes_row(&c);
	if (!r)
		return MESHD_E_NOMEM;
	snprintf(r->name, sizeof r->name, "%s", ms.name);
	r->self = true;
	routes_fill(r->adv, &r->nadv, ms.adv, ms.nadv);
	routes_fill(r->appr, &r->nappr, ms.appr, ms.nappr);
	err = mesh_node_foreach_peer(node, routes_peer, &c);
	if (err) {
		free(c.v);
		return err < 0 ? err : MESHD_E_NOMEM;
	}
	status_format_routes(b, c.v, c.n, json);
	free(c.v);
	return b->oom ? MESHD_E_NOMEM : 0;
}
