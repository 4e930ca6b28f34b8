/* WireGuard UAPI server: request parser (pure) and libuv unix-socket server.
 * See uapi.h for the protocol and error conventions. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "schedule.h"
#include "uapi.h"
#include "unixsock.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/str.h"
#include "util/hex.h"
#include "util/list.h"
#include "util/log.h"
#include "wg/wg.h"

/* ---- reply buffer ---- */

void uapi_out_clear(struct uapi_out *out)
{
	if (out->buf)
		sodium_memzero(out->buf, out->cap);	/* may hold a private key */
	free(out->buf);
	out->buf = NULL;
	out->len = out->cap = 0;
}

/* Makes *buf (capacity *cap, the first len bytes in use) hold need bytes,
 * doubling from first. The old buffer is wiped before it is freed: replies
 * and requests may hold a private key. 0 or MESHD_E_NOMEM (*buf unchanged). */
static int grow(char **buf, size_t *cap, size_t len, size_t need, size_t first)
{
	size_t c = *cap ? *cap : first;
	char *nb;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	nb = malloc(c);
	if (!nb)
		return MESHD_E_NOMEM;
	if (*buf) {
		memcpy(nb, *buf, len);
		sodium_memzero(*buf, *cap);
		free(*buf);
	}
	*buf = nb;
	*cap = c;
	return 0;
}

static int out_reserve(struct uapi_out *out, size_t more)
{
	return grow(&out->buf, &out->cap, out->len, out->len + more, 512);
}

static __attribute__((format(printf, 2, 3)))
int out_printf(struct uapi_out *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return MESHD_E_RANGE;
	if (out_reserve(out, (size_t)n) != 0)
		return MESHD_E_NOMEM;
	memcpy(out->buf + out->len, line, (size_t)n);
	out->len += (size_t)n;
	sodium_memzero(line, sizeof line);
	return 0;
}

static int out_key(struct uapi_out *out, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char hex[2 * WG_KEY_LEN + 1];
	int r;

	hex_encode(hex, key, WG_KEY_LEN);
	r = out_printf(out, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof hex);
	return r;
}

/* ---- framing ---- */

size_t uapi_request_len(const char *buf, size_t len)
{
	const char *nl, *p;

	if (len == 0)
		return 0;
	nl = memchr(buf, '\n', len);
	if (!nl)
		return 0;
	/* "get=1\n" is always followed by exactly one more byte (the empty line) */
	if (nl - buf == 5 && !memcmp(buf, "get=1", 5))
		return len >= 7 ? 7 : 0;
	/* anything but a set is answered (or refused) as soon as its first line is in */
	if (nl - buf != 5 || memcmp(buf, "set=1", 5))
		return (size_t)(nl - buf) + 1;
	p = memmem(nl, len - (size_t)(nl - buf), "\n\n", 2);
	return p ? (size_t)(p - buf) + 2 : 0;
}

/* ---- get ---- */

struct aip_ctx {
	struct uapi_out *out;
	int r;
};

static void emit_allowedip(void *arg, int family, const uint8_t *addr, uint8_t cidr)
{
	struct aip_ctx *c = arg;
	char ip[INET6_ADDRSTRLEN];

	if (c->r)
		return;
	if (!inet_ntop(family, addr, ip, sizeof ip))
		return;
	c->r = out_printf(c->out, "allowed_ip=%s/%u\n", ip, cidr);
}

static bool key_is_zero(const uint8_t key[WG_KEY_LEN])
{
	return sodium_is_zero(key, WG_KEY_LEN);
}

static int do_get(struct uapi_host *host, struct uapi_out *out)
{
	uint8_t key[WG_KEY_LEN];
	struct wg_peer_info info;
	struct wg_peer *peer;
	int r = 0;

	if (wg_device_get_private_key(host->wg, key))
		r = out_key(out, "private_key", key);
	sodium_memzero(key, sizeof key);
	if (!r && host->port)
		r = out_printf(out, "listen_port=%u\n", host->port);
	if (!r && host->fwmark)
		r = out_printf(out, "fwmark=%u\n", host->fwmark);
	for (peer = wg_peer_next(host->wg, NULL); !r && peer; peer = wg_peer_next(host->wg, peer)) {
		char ep[ENDPOINT_STRLEN];
		struct aip_ctx ac = { out, 0 };

		wg_peer_get_info(peer, &info);
		r = out_key(out, "public_key", info.public_key);
		if (!r && !key_is_zero(info.preshared_key))
			r = out_key(out, "preshared_key", info.preshared_key);
		if (!r)
			r = out_printf(out, "protocol_version=1\n");
		if (!r && endpoint_is_set(&info.endpoint))
			r = out_printf(out, "endpoint=%s\n",
				       endpoint_format(&info.endpoint, ep, sizeof ep));
		if (!r)
			r = out_printf(out, "last_handshake_time_sec=%llu\n"
				       "last_handshake_time_nsec=%u\n",
				       (unsigned long long)info.last_handshake.sec,
				       info.last_handshake.nsec);
		if (!r)
			r = out_printf(out, "tx_bytes=%llu\nrx_bytes=%llu\n",
				       (unsigned long long)info.tx_bytes,
				       (unsigned long long)info.rx_bytes);
		if (!r)
			r = out_printf(out, "persistent_keepalive_interval=%u\n",
				       info.keepalive_interval);
		sodium_memzero(&info, sizeof info);
		if (!r) {
			wg_peer_allowedips_foreach(host->wg, peer, emit_allowedip, &ac);
			r = ac.r;
		}
	}
	return r;
}

/* ---- set: phase 1, parse and validate every line into ops ---- */

enum op_kind {
	OP_PRIVATE_KEY,
	OP_LISTEN_PORT,
	OP_FWMARK,
	OP_REPLACE_PEERS,
	OP_PEER,		/* public_key=: starts a peer section */
	OP_REMOVE,
	OP_PRESHARED_KEY,
	OP_ENDPOINT,
	OP_KEEPALIVE,
	OP_REPLACE_ALLOWED_IPS,
	OP_ALLOWED_IP,
	OP_ALLOWED_IP_REMOVE,	/* "allowed_ip=-prefix": what recent wg(8) sends to remove one */
};

struct op {
	uint8_t kind;
	uint8_t cidr;		/* OP_ALLOWED_IP */
	bool update_only;	/* OP_PEER: the section says update_only=true */
	int family;		/* OP_ALLOWED_IP */
	uint32_t num;		/* port, fwmark, keepalive */
	union {
		uint8_t key[WG_KEY_LEN];
		union endpoint ep;
		uint8_t addr[16];
	} u;
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static void ops_clear(struct ops *ops)
{
	if (ops->v)
		sodium_memzero(ops->v, ops->cap * sizeof *ops->v);
	free(ops->v);
	ops->v = NULL;
	ops->n = ops->cap = 0;
}

static struct op *ops_push(struct ops *ops, enum op_kind kind)
{
	struct op *op;

	if (ops->n == ops->cap) {
		size_t cap = ops->cap ? ops->cap * 2 : 16;
		struct op *nv = calloc(cap, sizeof *nv);

		if (!nv)
			return NULL;
		if (ops->v) {
			memcpy(nv, ops->v, ops->n * sizeof *nv);
			sodium_memzero(ops->v, ops->cap * sizeof *ops->v);
			free(ops->v);
		}
		ops->v = nv;
		ops->cap = cap;
	}
	op = &ops->v[ops->n++];
	memset(op, 0, sizeof *op);
	op->kind = (uint8_t)kind;
	return op;
}

/* Unsigned decimal, no sign, no spaces, no leading '+'; at most max. */
static bool parse_uint(const char *s, unsigned long long max, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool parse_prefix(const char *s, int *family, uint8_t addr[16], uint8_t *cidr)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n;
	uint32_t bits;

	if (!slash)
		return false;
	n = (size_t)(slash - s);
	if (!str_copy_n(ip, sizeof ip, s, n))
		return false;
	memset(addr, 0, 16);
	if (strchr(ip, ':')) {
		if (inet_pton(AF_INET6, ip, addr) != 1)
			return false;
		*family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, ip, addr) != 1)
			return false;
		*family = AF_INET;
	}
	if (!parse_uint(slash + 1, *family == AF_INET ? 32 : 128, &bits))
		return false;
	*cidr = (uint8_t)bits;
	return true;
}

/* Queue an operation carrying a hex key / a number up to max, or one that
 * takes only the value "true". 0, -ENOMEM or -EINVAL. */
static int push_key(struct ops *ops, enum op_kind kind, const char *value)
{
	struct op *op = ops_push(ops, kind);

	if (!op)
		return -ENOMEM;
	return hex_decode(op->u.key, WG_KEY_LEN, value) ? -EINVAL : 0;
}

static int push_uint(struct ops *ops, enum op_kind kind, const char *value,
		     unsigned long long max)
{
	struct op *op = ops_push(ops, kind);

	if (!op)
		return -ENOMEM;
	return parse_uint(value, max, &op->num) ? 0 : -EINVAL;
}

static int push_true(struct ops *ops, enum op_kind kind, const char *value)
{
	if (strcmp(value, "true"))
		return -EINVAL;
	return ops_push(ops, kind) ? 0 : -ENOMEM;
}

/* Parses one "key=value" line (NUL-terminated, no '\n'). Returns 0 or a
 * negative errno for the reply. */
static int parse_line(struct ops *ops, char *line, bool *in_peer, size_t *peer_idx)
{
	char *value = strchr(line, '=');
	const char *key = line;
	struct op *op;

	if (!value)
		return -EPROTO;
	*value++ = '\0';

	if (!strcmp(key, "public_key")) {
		int r = push_key(ops, OP_PEER, value);

		if (r)
			return r;
		*in_peer = true;
		*peer_idx = ops->n - 1;	/* an index: ops_push may move the array */
		return 0;
	}
	if (!*in_peer) {
		if (!strcmp(key, "private_key"))
			return push_key(ops, OP_PRIVATE_KEY, value);
		if (!strcmp(key, "listen_port"))
			return push_uint(ops, OP_LISTEN_PORT, value, 65535);
		if (!strcmp(key, "fwmark"))
			return push_uint(ops, OP_FWMARK, value, UINT32_MAX);
		if (!strcmp(key, "replace_peers"))
			return push_true(ops, OP_REPLACE_PEERS, value);
		return -EINVAL;
	}
	/* peer keys */
	if (!strcmp(key, "update_only")) {
		if (strcmp(value, "true"))
			return -EINVAL;
		ops->v[*peer_idx].update_only = true;
	} else if (!strcmp(key, "remove")) {
		return push_true(ops, OP_REMOVE, value);
	} else if (!strcmp(key, "preshared_key")) {
		return push_key(ops, OP_PRESHARED_KEY, value);
	} else if (!strcmp(key, "endpoint")) {
		if (!(op = ops_push(ops, OP_ENDPOINT)))
			return -ENOMEM;
		if (endpoint_parse(&op->u.ep, value, false))
			return -EINVAL;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		return push_uint(ops, OP_KEEPALIVE, value, 65535);
	} else if (!strcmp(key, "replace_allowed_ips")) {
		return push_true(ops, OP_REPLACE_ALLOWED_IPS, value);
	} else if (!strcmp(key, "allowed_ip")) {
		bool remove = value[0] == '-';

		if (!(op = ops_push(ops, remove ? OP_ALLOWED_IP_REMOVE : OP_ALLOWED_IP)))
			return -ENOMEM;
		if (!parse_prefix(value + remove, &op->family, op->u.addr, &op->cidr))
			return -EINVAL;
	} else if (!strcmp(key, "protocol_version")) {
		if (strcmp(value, "1"))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Splits the body (after "set=1\n") into lines and parses each. */
static int parse_set(struct ops *ops, const char *body, size_t len)
{
	char line[UAPI_MAX_LINE + 1];
	bool in_peer = false;
	size_t peer_idx = 0;
	int r = 0;

	while (len > 0) {
		const char *nl = memchr(body, '\n', len);
		size_t n = nl ? (size_t)(nl - body) : len;

		if (n == 0)
			break;		/* the empty line: end of request */
		if (n >= sizeof line) {
			r = -EPROTO;
			goto out;
		}
		if (memchr(body, '\0', n)) {
			r = -EPROTO;
			goto out;
		}
		memcpy(line, body, n);
		line[n] = '\0';
		r = parse_line(ops, line, &in_peer, &peer_idx);
		if (r)
			goto out;
		body += n + (nl ? 1 : 0);
		len -= n + (nl ? 1 : 0);
	}
out:
	sodium_memzero(line, sizeof line);
	return r;
}

/* ---- set: phase 2, apply ---- */

static int apply_port(struct uapi_host *host, const struct ops *ops)
{
	bool have_port = false, have_mark = false;
	uint16_t port = host->port;
	uint32_t mark = host->fwmark;
	int e;

	for (size_t i = 0; i < ops->n; i++) {
		if (ops->v[i].kind == OP_LISTEN_PORT) {
			have_port = true;
			port = (uint16_t)ops->v[i].num;
		} else if (ops->v[i].kind == OP_FWMARK) {
			have_mark = true;
			mark = ops->v[i].num;
		}
	}
	if (!have_port && !have_mark)
		return 0;
	if (have_port && port == host->port)
		have_port = false;	/* already bound there */
	if (!have_port && mark == host->fwmark)
		return 0;
	if (host->rebind) {
		e = host->rebind(host->ctx, &port, mark, have_port);
		if (e)
			return -e;
	}
	host->port = port;
	host->fwmark = mark;
	return 0;
}

static void finish_peer(struct uapi_host *host, struct wg_peer *peer, bool ka_set,
			uint16_t ka, mtime_ns now)
{
	if (peer && ka_set)
		wg_peer_set_keepalive(host->wg, peer, ka, now);
}

static int apply_set(struct uapi_host *host, const struct ops *ops, mtime_ns now)
{
	struct wg_peer *peer = NULL;	/* NULL: no section, or a skipped one */
	bool ka_set = false;
	uint16_t ka = 0;
	int r;

	r = apply_port(host, ops);
	if (r)
		return r;
	for (size_t i = 0; i < ops->n; i++) {
		const struct op *op = &ops->v[i];

		switch (op->kind) {
		case OP_PRIVATE_KEY:
			if (wg_device_set_private_key(host->wg, op->u.key, now))
				return -EINVAL;
			break;
		case OP_LISTEN_PORT:
		case OP_FWMARK:
			break;	/* done by apply_port */
		case OP_REPLACE_PEERS:
			wg_peer_remove_all(host->wg);
			break;
		case OP_PEER:
			finish_peer(host, peer, ka_set, ka, now);
			ka_set = false;
			peer = wg_peer_lookup(host->wg, op->u.key);
			if (!peer && !op->update_only) {
				r = wg_peer_add(host->wg, op->u.key, now, &peer);
				if (r == MESHD_E_NOMEM)
					return -ENOMEM;
				if (r == MESHD_E_INVAL)
					peer = NULL;	/* our own key: ignored, as wireguard-go does */
				else if (r && r != MESHD_E_EXIST)
					return -EINVAL;
			}
			break;
		case OP_REMOVE:
			if (peer)
				wg_peer_remove(host->wg, peer);
			peer = NULL;
			ka_set = false;
			break;
		case OP_PRESHARED_KEY:
			if (peer)
				wg_peer_set_psk(peer, op->u.key);
			break;
		case OP_ENDPOINT:
			if (peer)
				wg_peer_set_endpoint(peer, &op->u.ep);
			break;
		case OP_KEEPALIVE:
			ka_set = true;
			ka = (uint16_t)op->num;
			break;
		case OP_REPLACE_ALLOWED_IPS:
			if (peer)
				wg_peer_allowedips_clear(host->wg, peer);
			break;
		case OP_ALLOWED_IP:
			if (peer) {
				r = wg_peer_allowedip_add(host->wg, peer, op->family, op->u.addr,
							  op->cidr);
				if (r == MESHD_E_NOMEM)
					return -ENOMEM;
				if (r)
					return -EINVAL;
			}
			break;
		case OP_ALLOWED_IP_REMOVE:
			/* A prefix the peer does not hold: nothing to do (kernel). */
			if (peer)
				wg_peer_allowedip_remove(host->wg, peer, op->family, op->u.addr,
							 op->cidr);
			break;
		}
	}
	finish_peer(host, peer, ka_set, ka, now);
	return 0;
}

/* ---- entry point ---- */

/* Whether a managed host (struct uapi_host.managed) may apply ops: fwmark
 * only. */
static bool managed_ok(const struct ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		if (ops->v[i].kind != OP_FWMARK)
			return false;
	return true;
}

int uapi_handle_request(struct uapi_host *host, const char *req, size_t len, mtime_ns now,
			struct uapi_out *out)
{
	struct ops ops = { 0 };
	size_t start = out->len;
	int e = 0, r;

	if (len >= 6 && !memcmp(req, "get=1\n", 6)) {
		if (len < 7 || req[6] != '\n')
			e = -EINVAL;	/* wireguard-go: trailing character in get */
		else
			e = do_get(host, out) ? -ENOMEM : 0;
	} else if (len >= 6 && !memcmp(req, "set=1\n", 6)) {
		if (len > UAPI_MAX_REQUEST)
			e = -EPROTO;
		else
			e = parse_set(&ops, req + 6, len - 6);
		if (!e && host->managed && !managed_ok(&ops))
			e = -EPERM;
		if (!e)
			e = apply_set(host, &ops, now);
		ops_clear(&ops);
	} else {
		return UAPI_CLOSE;
	}
	if (e && out->len > start) {
		/* a failed get sends no partial data */
		sodium_memzero(out->buf + start, out->len - start);
		out->len = start;
	}
	r = out_printf(out, "errno=%d\n\n", e);
	if (r) {
		uapi_out_clear(out);
		return MESHD_E_NOMEM;
	}
	if (e)
		log_ratelimited(LOG_LVL_WARN, "uapi: request failed: %s", strerror(-e));
	return UAPI_OK;
}

/* ---- socket path ---- */

void uapi_socket_path(char *path, size_t len, const char *ifname)
{
	snprintf(path, len, "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
}

int uapi_socket_check(const char *ifname)
{
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	struct stat st;

	uapi_socket_path(path, sizeof path, ifname);
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : MESHD_E_SYS;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return MESHD_E_SYS;
	}
	return meshd_unixsock_reclaim(path);
}

/* ---- server ---- */

struct uapi_client {
	uv_pipe_t pipe;
	struct list node;	/* in uapi_server.clients */
	struct uapi_server *srv;
	char *buf;
	size_t len, cap;
	bool finishing;		/* shutting down after the queued writes */
	bool closing;
};

struct uapi_write {
	uv_write_t req;
	struct uapi_out out;
	struct uapi_client *client;
};

static void client_closed(uv_handle_t *h)
{
	struct uapi_client *c = h->data;

	c->srv->nclients--;
	if (c->buf)
		sodium_memzero(c->buf, c->cap);
	free(c->buf);
	free(c);
}

static void client_close(struct uapi_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	list_remove(&c->node);
	uv_read_stop((uv_stream_t *)&c->pipe);
	/* pending writes are cancelled by uv_close (their callbacks still run) */
	uv_close((uv_handle_t *)&c->pipe, client_closed);
}

static void write_done(uv_write_t *req, int status)
{
	struct uapi_write *w = container_of(req, struct uapi_write, req);

	uapi_out_clear(&w->out);
	free(w);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
	struct uapi_client *c = req->data;

	free(req);
	client_close(c);
}

/* Close after everything queued has been written. */
static void client_finish(struct uapi_client *c)
{
	uv_shutdown_t *req;

	if (c->closing || c->finishing)
		return;
	c->finishing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	req = malloc(sizeof *req);
	if (!req || uv_shutdown(req, (uv_stream_t *)&c->pipe, shutdown_done) != 0) {
		free(req);
		client_close(c);
		return;
	}
	req->data = c;
}

static void client_send(struct uapi_client *c, struct uapi_out *out)
{
	struct uapi_write *w = malloc(sizeof *w);
	uv_buf_t b;

	if (!w) {
		uapi_out_clear(out);
		client_close(c);
		return;
	}
	w->out = *out;
	w->client = c;
	memset(out, 0, sizeof *out);
	b = uv_buf_init(w->out.buf, (unsigned)w->out.len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, write_done) != 0) {
		uapi_out_clear(&w->out);
		free(w);
		client_close(c);
	}
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct uapi_client *c = h->data;
	enum { CHUNK = 16384 };

	if (grow(&c->buf, &c->cap, c->len, c->len + CHUNK, CHUNK * 2) != 0) {
		*b = uv_buf_init(NULL, 0);
		return;
	}
	*b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct uapi_client *c = s->data;
	struct uapi_server *srv = c->srv;
	size_t off = 0, n;

	if (nread == UV_EOF) {
		client_finish(c);	/* the client is done sending: flush replies, then close */
		return;
	}
	if (nread < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)nread;
	while (!c->closing && !c->finishing && (n = uapi_request_len(c->buf + off, c->len - off)) > 0) {
		struct uapi_out out = { 0 };
		int r;

		/* Replies the client has not read yet stay queued in memory: one that
		 * keeps sending without reading is dropped, not served without bound. */
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > UAPI_MAX_UNREAD) {
			log_ratelimited(LOG_LVL_WARN, "uapi: client does not read its replies, closing");
			client_close(c);
			break;
		}
		r = uapi_handle_request(srv->host, c->buf + off, n, sched_now(), &out);
		off += n;
		if (r == UAPI_CLOSE) {
			client_finish(c);
			break;
		}
		if (r < 0) {
			client_close(c);
			break;
		}
		client_send(c, &out);
	}
	if (!c->closing && !c->finishing) {
		const char *tail = c->buf + off;
		size_t tlen = c->len - off;
		const char *lastnl = tlen ? memrchr(tail, '\n', tlen) : NULL;
		size_t partial = lastnl ? tlen - (size_t)(lastnl - tail) - 1 : tlen;

		if (partial > UAPI_MAX_LINE || tlen > UAPI_MAX_REQUEST) {
			struct uapi_out out = { 0 };

			if (out_printf(&out, "errno=%d\n\n", -EPROTO) == 0)
				client_send(c, &out);
			log_ratelimited(LOG_LVL_WARN, "uapi: request too long, closing");
			client_finish(c);
		}
	}
	if (off) {
		sodium_memzero(c->buf, off);
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (srv->after_set)
		srv->after_set(srv->ctx);
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct uapi_server *srv = ls->data;
	struct uapi_client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->srv = srv;
	uv_pipe_init(ls->loop, &c->pipe, 0);
	c->pipe.data = c;
	list_insert_tail(&srv->clients, &c->node);
	srv->nclients++;
	if (uv_accept(ls, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_read) != 0)
		client_close(c);
}

int uapi_server_start(struct uapi_server *srv, uv_loop_t *loop, const char *ifname,
		      struct uapi_host *host, const char **what)
{
	int e;

	srv->host = host;
	srv->listening = false;
	list_init(&srv->clients);
	uapi_socket_path(srv->path, sizeof srv->path, ifname);
	*what = "cannot create directory " UAPI_SOCKET_DIR;
	if (mkdir(UAPI_SOCKET_DIR, 0755) < 0 && errno != EEXIST)
		return MESHD_E_SYS;
	*what = "cannot create UAPI socket";
	e = meshd_unixsock_listen(loop, &srv->listener, srv, srv->path, 64, on_connection, NULL);
	if (e) {
		errno = -e;
		return MESHD_E_SYS;
	}
	srv->listening = true;
	return 0;
}

void uapi_server_stop(struct uapi_server *srv)
{
	struct list *pos, *tmp;

	if (!srv->listening)
		return;
	srv->listening = false;
	list_for_each_safe(pos, tmp, &srv->clients)
		client_close(container_of(pos, struct uapi_client, node));
	uv_close((uv_handle_t *)&srv->listener, NULL);
	unlink(srv->path);
}
