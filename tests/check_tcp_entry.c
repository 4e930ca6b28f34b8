/* The TCP entry listener (src/tcp_entry.c) over real sockets: a member
 * authenticates and gets its datagram echoed, a non-member, an absurd
 * length and a silent client are closed, and the per-source limit holds.
 *
 * The program moves itself into a new network namespace (its own loopback)
 * first, so nothing touches the host's network; without root it skips (77).
 * Each client runs in a child process with blocking sockets and bounded
 * timeouts; the parent runs the libuv loop until the child exits or a
 * deadline passes. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "schedule.h"
#include "tcp_client.h"
#include "tcp_entry.h"
#include "mesh/wire.h"
#include "util/err.h"

static uint8_t mesh_id[MESH_ID_LEN], srv_key[MESH_TCP_KEY_LEN];
static uint8_t cli_id[MESH_NODE_ID_LEN], cli_pk[MESH_PK_LEN], cli_sk[MESH_SK_LEN];
static uint8_t bad_pk[MESH_PK_LEN], bad_sk[MESH_SK_LEN];
static struct tcp_entry entry;
static uv_loop_t loop;
static int delivered;
static bool echo = true;	/* deliver sends each datagram back */
static uint16_t port = 4430;

static bool member_pk(void *ctx, const uint8_t id[MESH_NODE_ID_LEN], uint8_t pk[MESH_PK_LEN])
{
	(void)ctx;
	if (memcmp(id, cli_id, MESH_NODE_ID_LEN) != 0)
		return false;
	memcpy(pk, cli_pk, MESH_PK_LEN);
	return true;
}

/* Echo: what a member sends comes back on its connection. */
static void deliver(void *ctx, uint64_t conn_id, const uint8_t node_id[MESH_NODE_ID_LEN],
    const union endpoint *peer, uint8_t *buf, size_t len, mtime_ns now)
{
	(void)ctx;
	(void)peer;
	(void)now;
	ck_assert(memcmp(node_id, cli_id, MESH_NODE_ID_LEN) == 0);
	delivered++;
	if (echo)
		ck_assert_int_eq(tcp_entry_send(&entry, conn_id, buf, len), 0);
}

/* A joiner's JOIN_REQ: answered with a "JOIN_RESP" (the request with its
 * type changed) on the same connection. */
static int joins;
static void join_cb(void *ctx, uint64_t conn_id, const union endpoint *peer, uint8_t *buf,
    size_t len, mtime_ns now)
{
	(void)ctx;
	(void)peer;
	(void)now;
	joins++;
	buf[1] = MESH_MSG_JOIN_RESP;
	ck_assert_int_eq(tcp_entry_send(&entry, conn_id, buf, len), 0);
}

static void start_limited(uint32_t fps, uint32_t burst)
{
	struct tcp_entry_cfg cfg = { 0 };

	ck_assert_int_ge(sodium_init(), 0);
	memset(mesh_id, 1, sizeof mesh_id);
	memset(srv_key, 2, sizeof srv_key);
	memset(cli_id, 3, sizeof cli_id);
	crypto_sign_keypair(cli_pk, cli_sk);
	crypto_sign_keypair(bad_pk, bad_sk);
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	cfg.loop = &loop;
	cfg.port = ++port;
	memcpy(cfg.mesh_id, mesh_id, sizeof mesh_id);
	memcpy(cfg.server_key, srv_key, sizeof srv_key);
	cfg.member_pk = member_pk;
	cfg.deliver = deliver;
	cfg.join = join_cb;
	joins = 0;
	cfg.frames_per_s = fps;
	cfg.frames_burst = burst;
	delivered = 0;
	echo = true;
	ck_assert_int_eq(tcp_entry_start(&entry, &cfg), 0);
}

static void start(void)
{
	start_limited(0, 0);
}

static void stop(void)
{
	tcp_entry_stop(&entry);
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
		;
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* Runs the loop until the child exits (its status) or timeout_ms. */
static int serve_until(pid_t child, int timeout_ms)
{
	mtime_ns end = sched_now() + MSEC(timeout_ms);
	int st;

	while (sched_now() < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (waitpid(child, &st, WNOHANG) == child)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
		usleep(1000);
	}
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	return 101;
}

/* ---- client side (child process, blocking sockets) ---- */

static int cli_connect_rcvbuf(int timeout_s, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* before connect, so the window is small from the start */
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
		_exit(10);
	return fd;
}

static int cli_connect(int timeout_s)
{
	return cli_connect_rcvbuf(timeout_s, 0);
}

/* Reads one frame: its length, or 0 on EOF, -1 on timeout/error. */
static int cli_read_frame(int fd, uint8_t *out, size_t cap)
{
	uint8_t hdr[2];
	size_t have = 0, len;

	while (have < 2) {
		ssize_t n = recv(fd, hdr + have, 2 - have, 0);

		if (n == 0)
			return 0;
		if (n < 0)
			return -1;
		have += (size_t)n;
	}
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (len > cap)
		return -1;
	for (have = 0; have < len;) {
		ssize_t n = recv(fd, out + have, len - have, 0);

		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return (int)len;
}

static void cli_send_frame(int fd, const uint8_t *p, size_t len)
{
	uint8_t buf[MESH_TCP_FRAME_MAX + 2];
	size_t n = mesh_tcp_frame_encode(p, len, buf, sizeof buf);

	if (n == 0 || send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		_exit(11);
}

/* Reads the challenge and answers it signed with sk. */
static void cli_auth(int fd, const uint8_t *sk)
{
	struct mesh_tcp_cli c;
	uint8_t f[MESH_TCP_FRAME_MAX], auth[MESH_TCP_AUTH_FRAME];
	int n = cli_read_frame(fd, f, sizeof f);

	mesh_tcp_cli_start(&c, mesh_id, srv_key, cli_id, 0);
	if (n <= 0 || mesh_tcp_cli_on_frame(&c, f, (size_t)n, sk, 1, auth) != MESH_TCP_CLI_SEND_AUTH)
		_exit(12);
	cli_send_frame(fd, auth, sizeof auth);
}

/* 0 when the server closes the connection (EOF or reset) before timeout. */
static int cli_expect_close(int fd)
{
	uint8_t f[MESH_TCP_FRAME_MAX];
	int n;

	while ((n = cli_read_frame(fd, f, sizeof f)) > 0)
		;
	if (n == 0 || errno == ECONNRESET)
		return 0;
	return 13;
}

START_TEST(test_entry_member_echo)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		const uint8_t dgram[] = { 4, 0, 0, 0, 0xaa, 0xbb, 0xcc };
		uint8_t f[MESH_TCP_FRAME_MAX];
		int fd = cli_connect(5);

		cli_auth(fd, cli_sk);
		if (cli_read_frame(fd, f, sizeof f) != MESH_TCP_OK_FRAME || f[2] != MESH_TCP_OK)
			_exit(20);
		for (int i = 0; i < 100; i++)
			cli_send_frame(fd, dgram, sizeof dgram);
		for (int i = 0; i < 100; i++)
			if (cli_read_frame(fd, f, sizeof f) != (int)sizeof dgram ||
			    memcmp(f, dgram, sizeof dgram) != 0)
				_exit(21);
		_exit(0);
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_int_eq(delivered, 100);
	ck_assert_uint_eq(entry.stats.auth_ok, 1);
	ck_assert_uint_eq(entry.stats.datagrams_out, 100);
	stop();
}
END_TEST

/* A machine that is no member yet joins: JOIN and its JOIN_REQ sent at
 * once, the answer comes back on the connection; anything else after JOIN
 * (here a WireGuard datagram) closes it, and nothing reaches deliver. */
START_TEST(test_entry_join)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t req[100], open[128], f[MESH_TCP_FRAME_MAX];
		const uint8_t wg[] = { 4, 0, 0, 0, 1 };
		size_t n;
		int fd = cli_connect(5), k;

		memset(req, 0x5a, sizeof req);
		req[0] = MESH_MSG_MAGIC;
		req[1] = MESH_MSG_JOIN_REQ;
		n = mesh_tcp_join_open(req, sizeof req, open, sizeof open);
		if (n == 0 || send(fd, open, n, MSG_NOSIGNAL) != (ssize_t)n)
			_exit(30);
		/* the CHALLENGE first (ignored by a joiner), then the answer */
		do
			k = cli_read_frame(fd, f, sizeof f);
		while (k > 0 && mesh_tcp_is_ctl(f, (size_t)k));
		if (k != (int)sizeof req || f[1] != MESH_MSG_JOIN_RESP ||
		    memcmp(f + 2, req + 2, sizeof req - 2) != 0)
			_exit(31);
		cli_send_frame(fd, wg, sizeof wg);
		_exit(cli_expect_close(fd));
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_int_eq(joins, 1);
	ck_assert_int_eq(delivered, 0);
	ck_assert_uint_eq(entry.stats.join_reqs, 1);
	ck_assert_uint_eq(entry.stats.closed_proto, 1);
	stop();
}
END_TEST

START_TEST(test_entry_non_member_closed)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		const uint8_t dgram[] = { 4, 0, 0, 0, 1 };
		int fd = cli_connect(5);

		cli_auth(fd, bad_sk);
		/* a datagram right behind the bad AUTH must not be forwarded */
		send(fd, "\0\5", 2, MSG_NOSIGNAL);
		send(fd, dgram, sizeof dgram, MSG_NOSIGNAL);
		_exit(cli_expect_close(fd));
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_int_eq(delivered, 0);
	ck_assert_uint_eq(entry.stats.auth_fail, 1);
	stop();
}
END_TEST

START_TEST(test_entry_absurd_length_closed)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t f[MESH_TCP_FRAME_MAX];
		int fd = cli_connect(5);

		if (cli_read_frame(fd, f, sizeof f) != MESH_TCP_CHALLENGE_FRAME)
			_exit(30);
		send(fd, "\xff\xff", 2, MSG_NOSIGNAL);
		_exit(cli_expect_close(fd));
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_uint_eq(entry.stats.closed_proto, 1);
	stop();
}
END_TEST

START_TEST(test_entry_silent_client_closed)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t f[MESH_TCP_FRAME_MAX];
		int fd = cli_connect(10);
		mtime_ns t0 = sched_now();

		if (cli_read_frame(fd, f, sizeof f) != MESH_TCP_CHALLENGE_FRAME)
			_exit(40);
		/* half an AUTH, then nothing (slowloris) */
		send(fd, "\0\123T\1", 4, MSG_NOSIGNAL);
		if (cli_expect_close(fd) != 0)
			_exit(41);
		mtime_ns dt = sched_now() - t0;

		/* 5 s auth limit, checked every TCP_ENTRY_SWEEP_MS */
		if (dt < MSEC(MESH_TCP_AUTH_TIMEOUT_MS) - MSEC(100) ||
		    dt > MSEC(MESH_TCP_AUTH_TIMEOUT_MS + TCP_ENTRY_SWEEP_MS) + MSEC(500))
			_exit(42);
		_exit(0);
	}
	ck_assert_int_eq(serve_until(pid, 15000), 0);
	ck_assert_uint_eq(entry.stats.closed_timeout, 1);
	stop();
}
END_TEST

START_TEST(test_entry_per_source_limit)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t f[MESH_TCP_FRAME_MAX];
		int fd[MESH_TCP_CONN_PER_SRC + 1];

		for (int i = 0; i <= MESH_TCP_CONN_PER_SRC; i++)
			fd[i] = cli_connect(5);
		for (int i = 0; i < MESH_TCP_CONN_PER_SRC; i++)
			if (cli_read_frame(fd[i], f, sizeof f) != MESH_TCP_CHALLENGE_FRAME)
				_exit(50);
		_exit(cli_expect_close(fd[MESH_TCP_CONN_PER_SRC]) ? 51 : 0);
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_uint_eq(entry.stats.accepted, MESH_TCP_CONN_PER_SRC);
	ck_assert_uint_eq(entry.stats.refused_limit, 1);
	stop();
}
END_TEST

START_TEST(test_entry_stalled_reader)
{
	start();
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t dgram[1400], f[MESH_TCP_FRAME_MAX];
		int fd = cli_connect_rcvbuf(5, 4096);

		memset(dgram, 4, sizeof dgram);
		cli_auth(fd, cli_sk);
		if (cli_read_frame(fd, f, sizeof f) != MESH_TCP_OK_FRAME)
			_exit(60);
		/* 28 MB echoed back to a client that never reads again: more
		 * than the kernel buffers on both sides hold */
		for (int i = 0; i < 20000; i++) {
			cli_send_frame(fd, dgram, sizeof dgram);
			if (i % 1000 == 999)	/* 10000 frames/s: below the flood limit */
				usleep(100000);
		}
		mtime_ns t0 = sched_now();
		struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

		if (poll(&pfd, 1, MESH_TCP_STALL_MS + 5000) != 1 || !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			_exit(61);
		if (sched_now() - t0 > MSEC(MESH_TCP_STALL_MS + TCP_ENTRY_SWEEP_MS) + MSEC(1000))
			_exit(62);
		_exit(0);
	}
	ck_assert_int_eq(serve_until(pid, 25000), 0);
	ck_assert_int_eq(delivered, 20000);
	ck_assert_uint_eq(entry.stats.closed_flood, 0);
	/* the queue stayed bounded: the oldest echoes were dropped */
	ck_assert_uint_gt(entry.stats.dropped_out, 0);
	ck_assert_uint_eq(entry.stats.closed_timeout, 1);
	fprintf(stderr, "stalled reader: %llu of %llu echoes dropped\n",
	    (unsigned long long)entry.stats.dropped_out,
	    (unsigned long long)entry.stats.datagrams_out);
	stop();
}
END_TEST

/* The flood limit closes the connection. A low limit (2000 frames/s, burst
 * 400) makes any machine, however loaded, read frames faster than the
 * refill; the bucket's arithmetic is check_tcpframe's (virtual clock). */
START_TEST(test_entry_flood_closed)
{
	start_limited(2000, 400);
	echo = false;
	pid_t pid = fork();

	if (pid == 0) {
		static uint8_t burst[50000 * 5];
		uint8_t f[MESH_TCP_FRAME_MAX];
		int fd = cli_connect(5);

		cli_auth(fd, cli_sk);
		if (cli_read_frame(fd, f, sizeof f) != MESH_TCP_OK_FRAME)
			_exit(70);
		/* 50000 3-byte datagrams at once: far above 2000/s */
		for (size_t i = 0; i < sizeof burst; i += 5)
			memcpy(burst + i, "\0\3\4\0\0", 5);
		for (size_t off = 0; off < sizeof burst;) {
			ssize_t n = send(fd, burst + off, sizeof burst - off, MSG_NOSIGNAL);

			if (n <= 0)
				break;	/* reset by the entry: expected */
			off += (size_t)n;
		}
		_exit(cli_expect_close(fd) ? 71 : 0);
	}
	ck_assert_int_eq(serve_until(pid, 10000), 0);
	ck_assert_uint_eq(entry.stats.closed_flood, 1);
	ck_assert_int_lt(delivered, 50000);
	fprintf(stderr, "flood: closed after %d of 50000 datagrams\n", delivered);
	stop();
}
END_TEST

/* A private network namespace with its loopback up. */
static bool own_netns(void)
{
	struct ifreq ifr;
	int fd;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		return close(fd), false;
	ifr.ifr_flags |= IFF_UP;
	bool ok = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;

	close(fd);
	return ok;
}

/* A port busy in one family fails the start with EADDRINUSE (half a
 * listener would hide it), and what was opened closes: the entry goes idle. */
START_TEST(test_entry_busy_port_refused)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(++port) };
	struct tcp_entry_cfg cfg = { 0 };
	struct tcp_entry e;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	cfg.loop = &loop;
	cfg.port = port;
	cfg.member_pk = member_pk;
	cfg.deliver = deliver;
	errno = 0;
	ck_assert_int_eq(tcp_entry_start(&e, &cfg), MESHD_E_SYS);
	ck_assert_int_eq(errno, EADDRINUSE);
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
		;
	ck_assert(tcp_entry_idle(&e));
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	close(fd);
}
END_TEST

/* The synthetic endpoint of a connection id: [100:0:0:1:<id>]:1, read back
 * to the same id, never one of the relay's 100::/64 nor a real address. */
START_TEST(test_synth_roundtrip)
{
	const uint64_t ids[] = { 0, 1, 0x10005, 0xffffffffffffffffull, 0x0123456789abcdefull };
	union endpoint ep, other;
	uint64_t id;

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		tcp_entry_synth(ids[i], &ep);
		ck_assert_int_eq(ep.sa.sa_family, AF_INET6);
		ck_assert_uint_eq(ep.sin6.sin6_addr.s6_addr[0], 0x01);
		ck_assert_uint_eq(ep.sin6.sin6_addr.s6_addr[7], 0x01);
		ck_assert(tcp_entry_is_synth(&ep, &id));
		ck_assert_uint_eq(id, ids[i]);
	}
	ck_assert_int_eq(endpoint_parse(&other, "[100::5]:1", false), 0);	/* a relay one */
	ck_assert(!tcp_entry_is_synth(&other, &id));
	ck_assert_int_eq(endpoint_parse(&other, "[2001:db8::1]:443", false), 0);
	ck_assert(!tcp_entry_is_synth(&other, &id));
	ck_assert_int_eq(endpoint_parse(&other, "198.51.100.1:443", false), 0);
	ck_assert(!tcp_entry_is_synth(&other, &id));
}
END_TEST

/* ---- the client (tcp_client.c) against the entry, on one loop ---- */

static struct tcp_client *cli;
static int cli_ready, cli_failed, cli_got;
static const uint8_t *cli_key;	/* the signing key the client uses */

static int cli_frame(void *ctx, struct mesh_tcp_cli *c, const uint8_t *f, size_t len,
    mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME])
{
	(void)ctx;
	return mesh_tcp_cli_on_frame(c, f, len, cli_key, now, out);
}

static void cli_deliver(void *ctx, uint8_t *buf, size_t len, mtime_ns now)
{
	(void)ctx;
	(void)now;
	ck_assert_uint_eq(len, 7);
	ck_assert_uint_eq(buf[0], 4);
	cli_got++;
}

static void cli_state(void *ctx, enum tcp_client_state st)
{
	(void)ctx;
	if (st == TCP_CLIENT_READY)
		cli_ready++;
	else
		cli_failed++;
}

static void cli_run(const uint8_t *key)
{
	struct tcp_client_cfg cfg = { .loop = &loop, .frame = cli_frame, .deliver = cli_deliver,
				      .state = cli_state };

	cli_key = key;
	cli_ready = cli_failed = cli_got = 0;
	cfg.entry.sin.sin_family = AF_INET;
	cfg.entry.sin.sin_port = htons(port);
	cfg.entry.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(cfg.mesh_id, mesh_id, sizeof mesh_id);
	memcpy(cfg.server_key, srv_key, sizeof srv_key);
	memcpy(cfg.node_id, cli_id, sizeof cli_id);
	cli = tcp_client_start(&cfg);
	ck_assert_ptr_nonnull(cli);
}

/* run the loop until cond or timeout_ms */
#define RUN_UNTIL(cond, timeout_ms) do { \
	mtime_ns end_ = sched_now() + MSEC(timeout_ms); \
	while (!(cond) && sched_now() < end_) { \
		uv_run(&loop, UV_RUN_NOWAIT); \
		usleep(500); \
	} \
} while (0)

START_TEST(test_client_echo)
{
	const uint8_t dgram[] = { 4, 0, 0, 0, 0xaa, 0xbb, 0xcc };

	start();
	cli_run(cli_sk);
	RUN_UNTIL(cli_ready || cli_failed, 5000);
	ck_assert_int_eq(cli_ready, 1);
	ck_assert(tcp_client_ready(cli));
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(tcp_client_send(cli, dgram, sizeof dgram), 0);
	RUN_UNTIL(cli_got == 100, 5000);
	ck_assert_int_eq(cli_got, 100);
	ck_assert_int_eq(delivered, 100);
	ck_assert_int_eq(cli_failed, 0);
	tcp_client_free(cli);
	stop();
}
END_TEST

/* A client the entry does not know: closed silently; the client fails. */
START_TEST(test_client_refused)
{
	const uint8_t dgram[] = { 4, 0, 0, 0, 1, 2, 3 };

	start();
	cli_run(bad_sk);
	RUN_UNTIL(cli_failed, 8000);
	ck_assert_int_eq(cli_ready, 0);
	ck_assert_int_eq(cli_failed, 1);
	ck_assert_int_eq(tcp_client_send(cli, dgram, sizeof dgram), MESHD_E_STATE);
	ck_assert_uint_eq(entry.stats.auth_fail, 1);
	tcp_client_free(cli);
	stop();
}
END_TEST

/* Nobody listens: the connect fails and the client says so. */
START_TEST(test_client_no_entry)
{
	start();
	port++;		/* nothing there */
	cli_run(cli_sk);
	RUN_UNTIL(cli_failed, 8000);
	ck_assert_int_eq(cli_failed, 1);
	tcp_client_free(cli);
	stop();
}
END_TEST

static Suite *suite_tcp_entry(void)
{
	Suite *s = suite_create("tcp_entry");
	TCase *tc = tcase_create("entry");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_entry_member_echo);
	tcase_add_test(tc, test_entry_join);
	tcase_add_test(tc, test_entry_non_member_closed);
	tcase_add_test(tc, test_entry_absurd_length_closed);
	tcase_add_test(tc, test_entry_silent_client_closed);
	tcase_add_test(tc, test_entry_per_source_limit);
	tcase_add_test(tc, test_entry_stalled_reader);
	tcase_add_test(tc, test_entry_flood_closed);
	tcase_add_test(tc, test_entry_busy_port_refused);
	tcase_add_test(tc, test_synth_roundtrip);
	tcase_add_test(tc, test_client_echo);
	tcase_add_test(tc, test_client_refused);
	tcase_add_test(tc, test_client_no_entry);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!own_netns()) {
		fprintf(stderr, "check_tcp_entry: needs root for a private network namespace: skip\n");
		return 77;
	}
	SRunner *sr = srunner_create(suite_tcp_entry());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
