/* `meshd join TOKEN`: join the mesh of an invite token, then start the node
 * like `meshd up`. The network part (proving the token's secret to the
 * inviter, receiving the certificate and roster) runs before anything is
 * written: a join that fails leaves no state directory behind. Each way a
 * token can be wrong (not a token, cut short, mistyped, too new, expired)
 * has its own message.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "cli.h"
#include "cli_opts.h"
#include "cmd_mesh.h"
#include "daemonize.h"
#include "ipv6.h"
#include "mesh/join.h"
#include "mesh/node.h"
#include "mesh/tcpframe.h"
#include "mesh/token.h"
#include "schedule.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/time.h"
#include "wgdev.h"

enum {
	TOKEN_LINE_MAX = 4096,
	/* no answer over UDP for this long: join through the token's TCP
	 * entry too (the UDP retries go on) */
	JOIN_TCP_AFTER_MS = 2000,
};

static const char usage_join[] =
	"Usage: meshd join TOKEN [-d DIR] [--name NODE] [-i IFNAME] [--port N] [-f]\n"
	"                  [--advertise-routes CIDR[,CIDR...]] [--hosts-file [PATH]]\n"
	"                  [--hosts-file-short] [--tcp-port N]\n"
	"\n"
	"Join the mesh of an invite token (TOKEN '-' reads it from standard input),\n"
	"then start the node like `meshd up`. Nothing is stored unless the join\n"
	"succeeds.\n"
	"\n"
	CLI_DIR_HELP
	"      --name NODE    node name, a DNS label (default: from the host name)\n"
	"  -i, --interface IFNAME  interface name (default: " MESHD_DEFAULT_IFNAME ")\n"
	"      --port N       UDP listen port (default: 51820)\n"
	CLI_TCP_PORT_HELP
	"  -f, --foreground   stay in the foreground once joined\n"
	"      --advertise-routes LIST  offer these subnets once joined (see 'meshd up')\n"
	"      --hosts-file [PATH]  keep NODE.MESH names in PATH (default: /etc/hosts;\n"
	"                     not kept: see 'meshd up')\n"
	"      --hosts-file-short  also the bare NODE names (see 'meshd up')\n"
	CLI_HELP_HELP;

/* Reads the first line of stdin into buf, whitespace trimmed. */
static int token_from_stdin(char *buf, size_t len)
{
	size_t n;
	char *s;

	if (!fgets(buf, (int)len, stdin))
		return cli_fail("no invite token on standard input");
	n = strlen(buf);
	if (n == len - 1 && buf[n - 1] != '\n')
		return cli_fail("the line on standard input is too long to be an invite token");
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	n = strlen(s);
	while (n > 0 && strchr(" \t\r\n\v\f", s[n - 1]))
		n--;
	memmove(buf, s, n);
	buf[n] = '\0';
	if (n == 0)
		return cli_fail("no invite token on standard input");
	return 0;
}

/* A token that failed its checksum: cut short (only base64url characters,
 * and fewer than any complete token has) or mistyped? */
static bool token_truncated(const char *s)
{
	size_t n, bytes, len;
	const char *b64;

	while (*s && strchr(" \t\r\n\v\f", *s))
		s++;
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n\v\f", s[len - 1]))
		len--;
	if (len <= MESH_TOKEN_PREFIX_LEN)
		return true;	/* "meshd" or "meshd-": the parser said PROTO */
	b64 = s + MESH_TOKEN_PREFIX_LEN;
	n = len - MESH_TOKEN_PREFIX_LEN;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
			    b64[i]))
			return false;
	bytes = n * 6 / 8;
	/* a version 1 payload is 42 bytes + 7 or 19 per endpoint (1..4) */
	for (unsigned v4 = 0; v4 <= MESH_TOKEN_MAX_EP; v4++)
		for (unsigned v6 = 0; v4 + v6 <= MESH_TOKEN_MAX_EP; v6++)
			if (v4 + v6 > 0 && bytes == 42 + 7 * v4 + 19 * v6 && n % 4 != 1)
				return false;
	return bytes < MESH_TOKEN_BIN_MAX;
}

static int token_error(int r, const char *s)
{
	switch (r) {
	case MESHD_E_INVAL:
		return cli_fail("this is not a meshd invite token (a token starts with '"
				MESH_TOKEN_PREFIX "')");
	case MESHD_E_PROTO:
		if (token_truncated(s))
			return cli_fail("the invite token is incomplete: it was cut short; copy "
					"the whole line");
		return cli_fail("the invite token is malformed (mistyped or altered); copy it "
				"again");
	case MESHD_E_RANGE:
		return cli_fail("the invite token comes from a newer meshd (unsupported token "
				"version); upgrade meshd");
	case MESHD_E_EXPIRED:
		return cli_fail("the invite token has expired; ask an admin for a new one "
				"('meshd invite')");
	}
	return cli_fail("invalid invite token: %s", meshd_strerror(r));
}

struct join_io {
	int fd[2];		/* AF_INET, AF_INET6; -1 when unused */
	uint16_t port;
};

static void join_send(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct join_io *io = ctx;
	int fd = io->fd[dst->sa.sa_family == AF_INET6];

	/* a lost datagram is retransmitted by the joiner; nothing to do here */
	if (fd >= 0)
		(void)!sendto(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, &dst->sa,
			      (socklen_t)endpoint_len(dst));
}

static int bind_udp(int af, uint16_t port, int *out)
{
	union endpoint ep;
	int fd, one = 1, e;

	memset(&ep, 0, sizeof ep);
	fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (af == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		ep.sin6.sin6_family = AF_INET6;
		ep.sin6.sin6_port = htons(port);
		ep.sin6.sin6_addr = in6addr_any;
	} else {
		ep.sin.sin_family = AF_INET;
		ep.sin.sin_port = htons(port);
	}
	if (bind(fd, &ep.sa, (socklen_t)endpoint_len(&ep)) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

static void join_io_close(struct join_io *io)
{
	for (int i = 0; i < 2; i++)
		if (io->fd[i] >= 0) {
			close(io->fd[i]);
			io->fd[i] = -1;
		}
}

/* One socket per family the token's endpoints use, on the port the node
 * will keep: a busy port is an error, not a reason to pick another. */
static int join_io_open(struct join_io *io, const struct mesh_token *tok, uint16_t port)
{
	bool need[2] = { false, false };
	int r;

	io->fd[0] = io->fd[1] = -1;
	io->port = port;
	for (unsigned i = 0; i < tok->nep; i++)
		need[tok->ep[i].sa.sa_family == AF_INET6] = true;
	/* IPv6 disabled here: such a socket binds, but every send fails. */
	if (need[0] && need[1] && !meshd_ipv6_enabled(NULL))
		need[1] = false;
	for (int f = 0; f < 2; f++) {
		if (!need[f])
			continue;
		r = bind_udp(f ? AF_INET6 : AF_INET, port, &io->fd[f]);
		if (r == -EADDRINUSE) {
			join_io_close(io);
			return cli_fail("UDP port %u is in use (another meshd?); choose one with "
					"--port", (unsigned)port);
		}
		/* no IPv6 here: fine while an IPv4 endpoint remains */
		if (r == -EAFNOSUPPORT && f == 1 && need[0])
			continue;
		if (r != 0) {
			join_io_close(io);
			return cli_fail("cannot bind UDP port %u (%s): %s", (unsigned)port,
					f ? "IPv6" : "IPv4", strerror(-r));
		}
	}
	return 0;
}

static int join_receive(struct mesh_join_joiner *j, int fd, mtime_ns now)
{
	uint8_t buf[MESH_MSG_DGRAM_MAX + 1];
	union endpoint src;
	socklen_t slen;
	ssize_t n;
	int out = MESH_JOIN_PENDING;

	for (int i = 0; i < 64 && out == MESH_JOIN_PENDING; i++) {
		slen = sizeof src;
		n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, &src.sa, &slen);
		if (n < 0)
			break;
		if ((size_t)n > MESH_MSG_DGRAM_MAX)
			continue;
		endpoint_unmap(&src);
		out = mesh_join_joiner_input(j, buf, (size_t)n, &src, now);
	}
	return out;
}

/* The join's own event loop: a poll per socket and the one timer of
 * schedule.c, stopped once the joiner has an outcome. */
struct join_loop {
	uv_loop_t loop;
	struct mesh_join_joiner *j;
	struct join_io *io;
	uv_poll_t poll[2];
	bool poll_on[2];
	struct sched sched;
	bool sched_on;
	int out;
	bool via_tcp;			/* the outcome came over the TCP entry */
	/* the TCP entry (mesh/tcpframe.h "Joining"), when the token has one */
	const union endpoint *tcp_ep;
	mtime_ns tcp_at;		/* when to connect; MTIME_NEVER: done */
	int tfd;
	uv_poll_t tpoll;
	bool tpoll_on, tconnected;
	uint8_t obuf[2 * MESH_TCP_LEN_HDR + MESH_TCP_CTL_HDR + MESH_JOIN_REQ_MAX_LEN];
	size_t olen, ooff;
	struct mesh_tcp_dec dec;
};

/* The outcome: the polls close and the timer stops (join_next), so the
 * loop runs dry; the timer itself is closed after it (schedule.c re-arms it
 * on return from join_fire). */
static void on_tcp_closed(uv_handle_t *h)
{
	struct join_loop *jl = h->data;

	close(jl->tfd);
	jl->tfd = -1;
}

/* Gives up on the TCP entry (the UDP tries go on until the deadline). */
static void join_tcp_close(struct join_loop *jl)
{
	jl->tcp_at = MTIME_NEVER;
	if (jl->tpoll_on) {
		uv_close((uv_handle_t *)&jl->tpoll, on_tcp_closed);
		jl->tpoll_on = false;
	} else if (jl->tfd >= 0) {
		close(jl->tfd);
		jl->tfd = -1;
	}
}

static void join_loop_stop(struct join_loop *jl, int out)
{
	jl->out = out;
	for (int f = 0; f < 2; f++)
		if (jl->poll_on[f]) {
			uv_close((uv_handle_t *)&jl->poll[f], NULL);
			jl->poll_on[f] = false;
		}
	join_tcp_close(jl);
	if (jl->sched_on)
		sched_rearm(&jl->sched);
}

static mtime_ns join_next(void *ctx)
{
	struct join_loop *jl = ctx;
	mtime_ns t;

	if (jl->out != MESH_JOIN_PENDING)
		return MTIME_NEVER;
	t = mesh_join_joiner_next_expiry(jl->j);
	return jl->tfd < 0 && jl->tcp_at < t ? jl->tcp_at : t;
}

/* Frames from the entry: control frames are ignored, the rest go to the
 * joiner as if from the token's first UDP endpoint (the answer is
 * authenticated by its box and the pin, not by where it came from). */
static int join_tcp_frames(struct join_loop *jl, const uint8_t *p, size_t n, mtime_ns now)
{
	const uint8_t *f;
	size_t used, flen;
	int r, out = MESH_JOIN_PENDING;

	while (n > 0 && out == MESH_JOIN_PENDING) {
		r = mesh_tcp_dec_feed(&jl->dec, p, n, &used, &f, &flen);
		if (r < 0)
			return -1;
		p += used;
		n -= used;
		if (r == 1 && !mesh_tcp_is_ctl(f, flen))
			out = mesh_join_joiner_input(jl->j, f, flen, &jl->j->ep[0], now);
	}
	jl->via_tcp = out != MESH_JOIN_PENDING;
	return out;
}

static void on_join_tcp(uv_poll_t *h, int status, int events)
{
	struct join_loop *jl = h->data;
	uint8_t buf[4096];
	ssize_t n;
	int err = 0, out;
	socklen_t elen = sizeof err;

	if (status < 0) {
		join_tcp_close(jl);
		return;
	}
	if (!jl->tconnected && (events & UV_WRITABLE)) {
		if (getsockopt(jl->tfd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
			join_tcp_close(jl);
			return;
		}
		jl->tconnected = true;
	}
	if (jl->tconnected && jl->ooff < jl->olen) {
		n = send(jl->tfd, jl->obuf + jl->ooff, jl->olen - jl->ooff, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			join_tcp_close(jl);
			return;
		}
		if (n > 0)
			jl->ooff += (size_t)n;
		if (jl->ooff == jl->olen)
			(void)uv_poll_start(&jl->tpoll, UV_READABLE, on_join_tcp);
	}
	if (!(events & UV_READABLE))
		return;
	n = recv(jl->tfd, buf, sizeof buf, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		join_tcp_close(jl);	/* the entry closed it: refused, or too late */
		return;
	}
	if (n < 0)
		return;
	out = join_tcp_frames(jl, buf, (size_t)n, sched_now());
	if (out < 0)
		join_tcp_close(jl);
	else if (out != MESH_JOIN_PENDING)
		join_loop_stop(jl, out);
}

/* Connects to the token's TCP entry and queues JOIN and our JOIN_REQ. */
static void join_tcp_start(struct join_loop *jl)
{
	char a[ENDPOINT_STRLEN];
	int one = 1;

	jl->tcp_at = MTIME_NEVER;
	jl->olen = mesh_tcp_join_open(jl->j->req, jl->j->req_len, jl->obuf, sizeof jl->obuf);
	if (jl->olen == 0)
		return;
	mesh_tcp_dec_init(&jl->dec, 0);
	jl->tfd = socket(jl->tcp_ep->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (jl->tfd < 0)
		return;
	(void)setsockopt(jl->tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fprintf(stderr, "meshd: no answer over UDP yet; also trying the TCP entry %s\n",
		endpoint_format(jl->tcp_ep, a, sizeof a));
	if ((connect(jl->tfd, &jl->tcp_ep->sa, (socklen_t)endpoint_len(jl->tcp_ep)) != 0 &&
	     errno != EINPROGRESS) ||
	    uv_poll_init(&jl->loop, &jl->tpoll, jl->tfd) != 0) {
		join_tcp_close(jl);
		return;
	}
	jl->tpoll.data = jl;
	jl->tpoll_on = true;
	if (uv_poll_start(&jl->tpoll, UV_READABLE | UV_WRITABLE, on_join_tcp) != 0)
		join_tcp_close(jl);
}

static void join_fire(void *ctx, mtime_ns now)
{
	struct join_loop *jl = ctx;
	int out;

	if (jl->tfd < 0 && now >= jl->tcp_at)
		join_tcp_start(jl);
	out = mesh_join_joiner_handle_expiry(jl->j, now);

	if (out == MESH_JOIN_PENDING && mesh_join_joiner_next_expiry(jl->j) == MTIME_NEVER)
		out = jl->j->outcome != MESH_JOIN_PENDING ? (int)jl->j->outcome : MESH_JOIN_TIMEOUT;
	if (out != MESH_JOIN_PENDING)
		join_loop_stop(jl, out);
}

static void on_join_readable(uv_poll_t *h, int status, int events)
{
	struct join_loop *jl = h->data;
	int out;

	(void)events;
	if (status < 0) {
		join_loop_stop(jl, MESH_JOIN_INTERNAL);
		return;
	}
	out = join_receive(jl->j, jl->io->fd[h == &jl->poll[1]], sched_now());
	if (out != MESH_JOIN_PENDING)
		join_loop_stop(jl, out);
	else
		sched_rearm(&jl->sched);
}

static int join_loop_start(struct join_loop *jl)
{
	if (sched_init(&jl->sched, &jl->loop, join_next, join_fire, jl) != 0)
		return MESH_JOIN_INTERNAL;
	jl->sched_on = true;
	for (int f = 0; f < 2; f++) {
		if (jl->io->fd[f] < 0)
			continue;
		if (uv_poll_init(&jl->loop, &jl->poll[f], jl->io->fd[f]) != 0)
			return MESH_JOIN_INTERNAL;
		jl->poll[f].data = jl;
		jl->poll_on[f] = true;
		if (uv_poll_start(&jl->poll[f], UV_READABLE, on_join_readable) != 0)
			return MESH_JOIN_INTERNAL;
	}
	sched_rearm(&jl->sched);
	return MESH_JOIN_PENDING;
}

/* Runs the joiner until it has an outcome; tcp_ep: the token's TCP entry,
 * tried when UDP has no answer after JOIN_TCP_AFTER_MS (NULL: none). */
static int join_run(struct mesh_join_joiner *j, struct join_io *io, const union endpoint *tcp_ep,
		    bool *via_tcp)
{
	struct join_loop jl = { .j = j, .io = io, .out = MESH_JOIN_PENDING, .tcp_ep = tcp_ep,
				.tcp_at = tcp_ep ? sched_now() + MSEC(JOIN_TCP_AFTER_MS) : MTIME_NEVER,
				.tfd = -1 };
	int out;

	if (uv_loop_init(&jl.loop) != 0)
		return MESH_JOIN_INTERNAL;
	out = join_loop_start(&jl);
	if (out != MESH_JOIN_PENDING)
		join_loop_stop(&jl, out);
	uv_run(&jl.loop, UV_RUN_DEFAULT);	/* until join_loop_stop */
	if (jl.sched_on)
		sched_close(&jl.sched);
	join_tcp_close(&jl);
	uv_run(&jl.loop, UV_RUN_DEFAULT);	/* the close callbacks */
	(void)uv_loop_close(&jl.loop);
	*via_tcp = jl.via_tcp;
	return jl.out != MESH_JOIN_PENDING ? jl.out : MESH_JOIN_INTERNAL;
}

/* The network part: no state is written here. */
static int join_exchange(struct mesh_join_joiner *j, const struct mesh_token *tok,
			 const char *name, const uint8_t wg_pk[32], const uint8_t wg_sk[32],
			 uint16_t port, bool *via_tcp)
{
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];
	struct mesh_token udp;
	union endpoint tcp_ep;
	bool have_tcp = false;
	struct join_io io;
	int r, out;

	r = mesh_node_sign_keypair(wg_sk, sign_pk, sign_sk);
	sodium_memzero(sign_sk, sizeof sign_sk);
	if (r != 0)
		return cli_fail("cannot derive the node signing key: %s", meshd_strerror(r));
	/* UDP endpoints to the joiner; the (first) TCP entry to join_run */
	udp = *tok;
	udp.nep = 0;
	udp.tcp = 0;
	for (unsigned i = 0; i < tok->nep; i++) {
		if (!((tok->tcp >> i) & 1))
			udp.ep[udp.nep++] = tok->ep[i];
		else if (!have_tcp) {
			tcp_ep = tok->ep[i];
			have_tcp = true;
		}
	}
	if (join_io_open(&io, &udp, port) != 0) {
		mesh_token_clear(&udp);
		return 1;
	}
	r = mesh_join_joiner_start(j, &udp, name, wg_pk, wg_sk, sign_pk, sched_now(),
				   (uint64_t)time(NULL), join_send, &io);
	mesh_token_clear(&udp);
	if (r != 0) {
		join_io_close(&io);
		if (r == MESHD_E_EXPIRED)
			return token_error(r, "");
		return cli_fail("cannot start the join: %s", meshd_strerror(r));
	}
	out = join_run(j, &io, have_tcp ? &tcp_ep : NULL, via_tcp);
	join_io_close(&io);
	if (out != MESH_JOIN_OK)
		return cli_fail("%s", mesh_join_strerror(out));
	return 0;
}

static int join_persist(const char *dir, const struct mesh_join_result *res,
			const uint8_t wg_sk[32], uint16_t port, int tcp_port, const char *ifname)
{
	struct cli_created made;
	struct store *st;
	int r;

	if (cli_create_store(dir, &st, &made) != 0)
		return 1;
	r = mesh_node_persist_join(st, res, wg_sk, port, ifname, (uint64_t)time(NULL));
	if (r == 0 && cli_store_tcp_port(st, dir, tcp_port) != 0) {
		store_close(st);
		cli_undo_create(dir, &made);
		return 1;
	}
	store_close(st);
	if (r != 0) {
		cli_undo_create(dir, &made);
		if (r == MESHD_E_EXIST)
			return cli_fail("%s already holds a node; remove it or use another -d",
					dir);
		return cli_fail("joined, but cannot store the node in %s: %s", dir,
				store_strerror(r));
	}
	printf("joined mesh '%s' as '%s'\n", res->resp.mesh_name, res->cert.name);
	fflush(stdout);
	return 0;
}

/* 0 when TCP port can be bound in each family the host has (as the TCP
 * entry binds it: SO_REUSEADDR, IPv6 only on the IPv6 socket), else errno. */
static int tcp_port_error(uint16_t port)
{
	for (int f = 0; f < 2; f++) {
		int af = f ? AF_INET6 : AF_INET, one = 1, fd, e = 0;
		union endpoint ep;

		memset(&ep, 0, sizeof ep);
		fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == EAFNOSUPPORT)
				continue;
			return errno;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (f) {
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
			ep.sin6.sin6_family = AF_INET6;
			ep.sin6.sin6_port = htons(port);
		} else {
			ep.sin.sin_family = AF_INET;
			ep.sin.sin_port = htons(port);
		}
		if (bind(fd, &ep.sa, (socklen_t)endpoint_len(&ep)) != 0 &&
		    errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT)
			e = errno;
		close(fd);
		if (e)
			return e;
	}
	return 0;
}

/* What would stop the node from starting once joined, checked before the
 * join uses up the invite: the interface (taken by another interface or
 * daemon, no permission) and the TCP entry's port. 0 or 1 (printed). */
static int join_preflight(const char *ifname, int tcp_port)
{
	char err[256];
	int e;

	if (wgdev_check_ifname(ifname, err, sizeof err) != 0)
		return cli_fail("%s; nothing was joined", err);
	if (tcp_port > 0 && (e = tcp_port_error((uint16_t)tcp_port)) != 0)
		return cli_fail("cannot listen on TCP port %d: %s%s; nothing was joined", tcp_port,
				strerror(e), e == EADDRINUSE ? " (choose another with --tcp-port)" :
				e == EACCES ? " (ports below 1024 need CAP_NET_BIND_SERVICE)" : "");
	return 0;
}

static int do_join(const char *dir, const char *tokstr, const char *name,
		   struct meshd_run_opts *o, uint16_t port, int tcp_port)
{
	uint8_t wg_pk[32], wg_sk[32];
	char mesh_name[MESH_NAME_MAX + 1], hint[2 * PATH_MAX + 96];
	struct mesh_join_joiner *j = NULL;
	struct mesh_token tok;
	int r, ret = 1;

	r = mesh_token_parse(tokstr, &tok);
	if (r == 0)
		r = mesh_token_check_expiry(&tok, (uint64_t)time(NULL));
	if (r != 0) {
		mesh_token_clear(&tok);
		return token_error(r, tokstr);
	}
	r = cli_holds_node(dir, mesh_name);
	if (r != 0) {
		mesh_token_clear(&tok);
		if (r > 0)
			cli_fail("%s already holds a node (mesh '%s'); remove it or use another -d",
				 dir, mesh_name);
		return 1;
	}
	if (cli_check_store_dir(dir) != 0 ||
	    join_preflight(o->ifname ? o->ifname : MESHD_DEFAULT_IFNAME, tcp_port) != 0) {
		mesh_token_clear(&tok);
		return 1;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		mesh_token_clear(&tok);
		return cli_fail("out of memory");
	}
	crypto_box_keypair(wg_pk, wg_sk);
	if (join_exchange(j, &tok, name, wg_pk, wg_sk, port, &o->udp_blocked) != 0)
		goto out;
	if (join_persist(dir, mesh_join_joiner_result(j), wg_sk, port, tcp_port,
			 o->ifname ? o->ifname : MESHD_DEFAULT_IFNAME) != 0)
		goto out;
	ret = 2;
out:
	mesh_token_clear(&tok);
	sodium_memzero(wg_sk, sizeof wg_sk);
	mesh_join_joiner_clear(j);
	free(j);
	if (ret != 2)
		return ret;
	/* the invite is used up and the node stored: say how to go on */
	snprintf(hint, sizeof hint, "the node has joined and is stored in %s; once that is "
		 "fixed, 'meshd up -d %s' starts it", dir, dir);
	o->start_hint = hint;
	fflush(NULL);
	return meshd_daemon_run_opts(dir, o);
}

/* The token holds the invite secret, and argv stays readable in
 * /proc/PID/cmdline (to every local user, for the daemon's whole life):
 * copy it out and overwrite the argument in place, before anything slow
 * (the join exchange) runs. `join -` never puts it there. */
static int scrub_token_arg(char *arg, char *buf, size_t len)
{
	size_t n = strlen(arg);

	if (n >= len) {
		sodium_memzero(arg, n);
		return cli_fail("the argument is too long to be an invite token");
	}
	memcpy(buf, arg, n + 1);
	sodium_memzero(arg, n);
	return 0;
}

int cmd_join(int argc, char **argv)
{
	struct meshd_run_opts o = { 0 };
	const char *dir = NULL, *name = NULL, *tok;
	char defname[MESH_NAME_MAX + 1], line[TOKEN_LINE_MAX];
	uint16_t port = MESHD_DEFAULT_PORT;
	int tcp_port = -1;
	const struct cli_opt opts[] = {
		{ CLI_DIR_OPT(&dir) },
		{ CLI_SHORT("interface", 'i', CLI_IFNAME, &o.ifname) },
		{ CLI_OPT("advertise-routes", 'A', CLI_ROUTES, &o.advertise) },
		{ CLI_OPT("hosts-file", 'H', CLI_PATH_OPT, &o.hosts_file),
		  .def = "/etc/hosts" },
		{ CLI_OPT("hosts-file-short", 'S', CLI_FLAG, &o.hosts_short) },
		{ CLI_OPT("name", 'n', CLI_LABEL, &name), .what = "node name" },
		{ CLI_OPT("port", 'P', CLI_PORT, &port) },
		{ CLI_TCP_PORT_OPT(&tcp_port) },
		{ CLI_SHORT("foreground", 'f', CLI_FLAG, &o.foreground) },
	};
	const struct cli_cmd cmd = { "join", usage_join, CLI_TABLE(opts), 1, 1,
				     "the invite TOKEN" };
	int r, argi;

	if ((r = cli_parse(&cmd, argc, argv, &argi)) != CLI_GO)
		return r;
	/* before the invite is spent: a daemon that could not start */
	if (daemonize_log_level_check() != 0)
		return 1;
	if (!name) {
		cli_default_name(defname);
		name = defname;
	}
	if (!strcmp(argv[argi], "-")) {
		if (token_from_stdin(line, sizeof line) != 0)
			return 1;
	} else if (scrub_token_arg(argv[argi], line, sizeof line) != 0) {
		return 1;
	}
	tok = line;
	umask(077);
	r = do_join(meshd_state_dir(dir), tok, name, &o, port, tcp_port);
	sodium_memzero(line, sizeof line);
	return r;
}
