/* UAPI parser and formatter (src/uapi.c) against a real wg_device. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "uapi.h"
#include "util/hex.h"
#include "util/log.h"
#include "wg/wg.h"

static struct wg_device *wg;
static struct uapi_host host;
static int rebind_calls, rebind_errno;
static uint16_t rebind_port_seen;

static void fake_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len) {}

static void fake_walltime(void *ctx, struct walltime *out)
{
	out->sec = 1700000000;
	out->nsec = 0;
}

static const struct wg_host_ops ops = { fake_send, fake_walltime };

static int fake_rebind(void *ctx, uint16_t *port, uint32_t fwmark, bool changed)
{
	rebind_calls++;
	rebind_port_seen = *port;
	if (rebind_errno)
		return rebind_errno;
	if (changed && *port == 0)
		*port = 40000;
	return 0;
}

static void setup(void)
{
	int err = 0;

	ck_assert_int_ge(sodium_init(), 0);
	wg = wg_device_new(&ops, NULL, &err);
	ck_assert_ptr_nonnull(wg);
	memset(&host, 0, sizeof host);
	host.wg = wg;
	host.port = 51820;
	host.rebind = fake_rebind;
	rebind_calls = rebind_errno = 0;
	rebind_port_seen = 0;
}

static void teardown(void)
{
	wg_device_free(wg);
	wg = NULL;
}

/* Runs one request; returns the reply as a NUL-terminated heap string. */
static char *req_n(const char *req, size_t len)
{
	struct uapi_out out = { 0 };
	char *s;
	int r;

	r = uapi_handle_request(&host, req, len, 1000000000ULL, &out);
	ck_assert_int_eq(r, UAPI_OK);
	s = malloc(out.len + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, out.buf, out.len);
	s[out.len] = '\0';
	uapi_out_clear(&out);
	return s;
}

static char *req(const char *r)
{
	return req_n(r, strlen(r));
}

static void expect(const char *request, const char *reply)
{
	char *got = req(request);

	ck_assert_msg(!strcmp(got, reply), "request '%s': got '%s', want '%s'", request, got,
		      reply);
	free(got);
}

static int count_peers(void)
{
	int n = 0;

	for (struct wg_peer *p = wg_peer_next(wg, NULL); p; p = wg_peer_next(wg, p))
		n++;
	return n;
}

/* 64-hex keys: k(1) = 00..01 etc. */
static const char *hexkey(int n)
{
	static char buf[4][65];
	static int slot;
	char *b = buf[slot++ & 3];

	snprintf(b, 65, "%064x", n);
	return b;
}

START_TEST(test_uapi_get_empty)
{
	expect("get=1\n\n", "listen_port=51820\nerrno=0\n\n");
	host.fwmark = 7;
	expect("get=1\n\n", "listen_port=51820\nfwmark=7\nerrno=0\n\n");
}
END_TEST

START_TEST(test_uapi_set_get_roundtrip)
{
	char request[2048], *got, want[1024];
	uint8_t priv[32], pub[32];
	char privhex[65], pubhex[65];

	randombytes_buf(priv, sizeof priv);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	hex_encode(privhex, priv, 32);
	randombytes_buf(pub, sizeof pub);
	hex_encode(pubhex, pub, 32);
	snprintf(request, sizeof request,
		 "set=1\nprivate_key=%s\nreplace_peers=true\n"
		 "public_key=%s\nprotocol_version=1\npreshared_key=%s\n"
		 "endpoint=198.51.100.7:51821\npersistent_keepalive_interval=25\n"
		 "replace_allowed_ips=true\nallowed_ip=10.9.0.0/24\nallowed_ip=fd00::/64\n\n",
		 privhex, pubhex, hexkey(9));
	expect(request, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 1);

	got = req("get=1\n\n");
	snprintf(want, sizeof want, "private_key=%s\nlisten_port=51820\n", privhex);
	ck_assert_msg(!strncmp(got, want, strlen(want)), "got '%s'", got);
	snprintf(want, sizeof want, "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		 "endpoint=198.51.100.7:51821\nlast_handshake_time_sec=0\n"
		 "last_handshake_time_nsec=0\ntx_bytes=", pubhex, hexkey(9));
	ck_assert_msg(strstr(got, want) != NULL, "got '%s'", got);
	ck_assert_ptr_nonnull(strstr(got, "persistent_keepalive_interval=25\n"));
	ck_assert_ptr_nonnull(strstr(got, "allowed_ip=10.9.0.0/24\n"));
	ck_assert_ptr_nonnull(strstr(got, "allowed_ip=fd00::/64\n"));
	ck_assert_msg(strlen(got) > 9 && !strcmp(got + strlen(got) - 9, "errno=0\n\n"), "got '%s'", got);
	free(got);
}
END_TEST

START_TEST(test_uapi_endpoint_v6)
{
	char request[512], *got;

	snprintf(request, sizeof request, "set=1\npublic_key=%s\nendpoint=[2001:db8::1]:51820\n\n",
		 hexkey(1));
	expect(request, "errno=0\n\n");
	got = req("get=1\n\n");
	ck_assert_ptr_nonnull(strstr(got, "endpoint=[2001:db8::1]:51820\n"));
	free(got);
}
END_TEST

static void expect_errno_unchanged(const char *request, int e)
{
	char want[32], *before, *after;

	before = req("get=1\n\n");
	snprintf(want, sizeof want, "errno=%d\n\n", -e);
	expect(request, want);
	after = req("get=1\n\n");
	ck_assert_msg(!strcmp(before, after), "request '%s' changed the device", request);
	free(before);
	free(after);
}

START_TEST(test_uapi_set_rejects)
{
	char r[512];

	expect_errno_unchanged("set=1\nbogus=1\n\n", EINVAL);
	expect_errno_unchanged("set=1\nlisten_port=abc\n\n", EINVAL);
	expect_errno_unchanged("set=1\nlisten_port=65536\n\n", EINVAL);
	expect_errno_unchanged("set=1\nlisten_port=-1\n\n", EINVAL);
	expect_errno_unchanged("set=1\nfwmark=4294967296\n\n", EINVAL);
	expect_errno_unchanged("set=1\nreplace_peers=false\n\n", EINVAL);
	expect_errno_unchanged("set=1\nnoequals\n\n", EPROTO);
	expect_errno_unchanged("set=1\nprivate_key=zz\n\n", EINVAL);
	/* 63 hex digits, then a non-hex one */
	snprintf(r, sizeof r, "set=1\nprivate_key=%.63s\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\nprivate_key=%.63sg\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	/* peer keys before a public_key, device keys after one */
	expect_errno_unchanged("set=1\nendpoint=1.2.3.4:5\n\n", EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nlisten_port=1\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	/* a valid peer followed by a bad line: nothing applied */
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/8\nendpoint=1.2.3.4\n\n",
		 hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	ck_assert_int_eq(count_peers(), 0);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nendpoint=[::1:80\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/33\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=fd00::/129\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.0.0.0\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/+8\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nprotocol_version=2\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\npersistent_keepalive_interval=65536\n\n",
		 hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nremove=1\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	ck_assert_int_eq(count_peers(), 0);
	expect_errno_unchanged("get=1\nx", EINVAL);
}
END_TEST

/* A local client that pipelines requests and never reads the replies must not
 * make the server queue replies without bound (wireguard-go answers one
 * request at a time with a blocking write): it is disconnected. Needs to
 * create a socket in UAPI_SOCKET_DIR, so it does nothing without permission. */
START_TEST(test_uapi_unread_replies_bounded)
{
	struct uapi_server srv;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char ifname[32], r[256];
	const char *what;
	uv_loop_t loop;
	int fd, small = 4096;
	bool closed = false;

	/* ~200 peers: each get reply is some 40 KB */
	for (int i = 1; i <= 200; i++) {
		snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.%d.%d.0/24\n\n",
			 hexkey(i), i / 256, i % 256);
		expect(r, "errno=0\n\n");
	}
	snprintf(ifname, sizeof ifname, "chkuapi%d", (int)getpid());
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	memset(&srv, 0, sizeof srv);
	if (uapi_server_start(&srv, &loop, ifname, &host, &what) != 0) {
		fprintf(stderr, "test_uapi_unread_replies_bounded: skipped (%s: %s)\n", what,
			strerror(errno));
		uv_loop_close(&loop);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	memcpy(sun.sun_path, srv.path, sizeof sun.sun_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	ck_assert_uint_eq(srv.nclients, 1);
	/* 1000 gets (~40 MB of replies), a few at a time, never reading */
	for (int i = 0; i < 250 && !closed; i++) {
		static const char gets[] = "get=1\n\nget=1\n\nget=1\n\nget=1\n\n";

		if (send(fd, gets, sizeof gets - 1, MSG_NOSIGNAL) < 0)
			closed = errno == EPIPE || errno == ECONNRESET;
		uv_run(&loop, UV_RUN_NOWAIT);
		closed = closed || srv.nclients == 0;
	}
	close(fd);
	uapi_server_stop(&srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	ck_assert_msg(closed, "server still queues replies for a client that never reads");
}
END_TEST

START_TEST(test_uapi_huge_line)
{
	size_t n = 3 * UAPI_MAX_LINE;
	char *r = malloc(n + 16), *got;

	memcpy(r, "set=1\nprivate_key=", 18);
	memset(r + 18, 'a', n - 18);
	memcpy(r + n, "\n\n", 3);
	got = req_n(r, n + 2);
	ck_assert_str_eq(got, "errno=-71\n\n");
	free(got);
	free(r);
}
END_TEST

START_TEST(test_uapi_peer_remove_update_only_replace)
{
	char r[1024], *got;

	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.1.0.0/16\n"
		 "public_key=%s\nallowed_ip=10.2.0.0/16\n\n", hexkey(1), hexkey(2));
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 2);

	/* update_only on an unknown key creates nothing */
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=10.3.0.0/16\n\n",
		 hexkey(3));
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 2);
	/* update_only on a known key updates */
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nupdate_only=true\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.4.0.0/16\n\n", hexkey(1));
	expect(r, "errno=0\n\n");
	got = req("get=1\n\n");
	ck_assert_ptr_nonnull(strstr(got, "allowed_ip=10.4.0.0/16\n"));
	ck_assert_ptr_null(strstr(got, "allowed_ip=10.1.0.0/16\n"));
	free(got);

	/* remove */
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nremove=true\n\n", hexkey(2));
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 1);
	ck_assert_ptr_null(wg_peer_lookup(wg, (const uint8_t[32]){ [31] = 2 }));

	/* replace_peers */
	snprintf(r, sizeof r, "set=1\nreplace_peers=true\npublic_key=%s\n\n", hexkey(5));
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 1);
	ck_assert_ptr_nonnull(wg_peer_lookup(wg, (const uint8_t[32]){ [31] = 5 }));
}
END_TEST

/* update_only after enough lines to move the op array (regression). */
START_TEST(test_uapi_update_only_after_many_lines)
{
	char r[8192];
	int n;

	n = snprintf(r, sizeof r, "set=1\npublic_key=%s\n", hexkey(1));
	for (int i = 0; i < 100; i++)
		n += snprintf(r + n, sizeof r - (size_t)n, "allowed_ip=10.%d.0.0/16\n", i);
	snprintf(r + n, sizeof r - (size_t)n, "update_only=true\n\n");
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 0);
}
END_TEST

/* Recent wg(8) removes single allowed IPs with "allowed_ip=-prefix"
 * (as the kernel's WGALLOWEDIP_F_REMOVE_ME): only that prefix of that peer
 * goes; removing one the peer does not hold is not an error. */
START_TEST(test_uapi_allowed_ip_remove)
{
	char r[1024], *got;

	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.1.0.0/16\nallowed_ip=10.2.0.0/16\n"
		 "allowed_ip=fd00::/64\npublic_key=%s\nallowed_ip=10.3.0.0/16\n\n",
		 hexkey(1), hexkey(2));
	expect(r, "errno=0\n\n");
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=-10.1.0.0/16\n"
		 "allowed_ip=-fd00::1/64\nallowed_ip=-10.3.0.0/16\nallowed_ip=-10.9.0.0/16\n\n",
		 hexkey(1));
	expect(r, "errno=0\n\n");
	got = req("get=1\n\n");
	ck_assert_ptr_null(strstr(got, "allowed_ip=10.1.0.0/16\n"));
	ck_assert_ptr_null(strstr(got, "allowed_ip=fd00::/64\n"));
	ck_assert_ptr_nonnull(strstr(got, "allowed_ip=10.2.0.0/16\n"));
	ck_assert_ptr_nonnull(strstr(got, "allowed_ip=10.3.0.0/16\n"));	/* peer 2's */
	free(got);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=-10.2.0.0/33\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=--10.2.0.0/16\n\n", hexkey(1));
	expect_errno_unchanged(r, EINVAL);
}
END_TEST

START_TEST(test_uapi_own_key_ignored)
{
	uint8_t priv[32], pub[32];
	char privhex[65], pubhex[65], r[512];

	randombytes_buf(priv, sizeof priv);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	crypto_scalarmult_base(pub, priv);
	hex_encode(privhex, priv, 32);
	hex_encode(pubhex, pub, 32);
	snprintf(r, sizeof r, "set=1\nprivate_key=%s\npublic_key=%s\nallowed_ip=10.0.0.0/8\n\n",
		 privhex, pubhex);
	expect(r, "errno=0\n\n");
	ck_assert_int_eq(count_peers(), 0);
}
END_TEST

START_TEST(test_uapi_listen_port)
{
	char r[256];

	/* same port: no rebind */
	expect("set=1\nlisten_port=51820\n\n", "errno=0\n\n");
	ck_assert_int_eq(rebind_calls, 0);
	expect("set=1\nlisten_port=0\n\n", "errno=0\n\n");
	ck_assert_int_eq(rebind_calls, 1);
	expect("get=1\n\n", "listen_port=40000\nerrno=0\n\n");
	expect("set=1\nfwmark=5\n\n", "errno=0\n\n");
	ck_assert_int_eq(rebind_calls, 2);
	expect("get=1\n\n", "listen_port=40000\nfwmark=5\nerrno=0\n\n");
	/* busy port: EADDRINUSE and nothing else applied */
	rebind_errno = EADDRINUSE;
	snprintf(r, sizeof r, "set=1\nlisten_port=1234\npublic_key=%s\n\n", hexkey(1));
	expect_errno_unchanged(r, EADDRINUSE);
	ck_assert_int_eq(rebind_port_seen, 1234);
	ck_assert_int_eq(count_peers(), 0);
}
END_TEST

/* A mesh node's interface (managed): `wg set` may change fwmark only; a
 * key, port, peer or replace_peers refuses the whole request (EPERM) and
 * changes nothing; get still works. */
START_TEST(test_uapi_managed)
{
	char r[512], *got;

	snprintf(r, sizeof r, "set=1\npublic_key=%s\nallowed_ip=10.0.0.2/32\n\n", hexkey(2));
	expect(r, "errno=0\n\n");
	host.managed = true;
	expect_errno_unchanged("set=1\nlisten_port=4000\n\n", EPERM);
	snprintf(r, sizeof r, "set=1\nprivate_key=%s\n\n", hexkey(9));
	expect_errno_unchanged(r, EPERM);
	snprintf(r, sizeof r, "set=1\npublic_key=%s\nremove=true\n\n", hexkey(2));
	expect_errno_unchanged(r, EPERM);
	snprintf(r, sizeof r, "set=1\nfwmark=3\npublic_key=%s\nendpoint=192.0.2.1:1\n\n",
		 hexkey(3));
	expect_errno_unchanged(r, EPERM);
	expect_errno_unchanged("set=1\nreplace_peers=true\n\n", EPERM);
	ck_assert_int_eq(count_peers(), 1);
	expect_errno_unchanged("set=1\nfwmark=x\n\n", EINVAL);	/* bad value first */
	expect("set=1\nfwmark=5\n\n", "errno=0\n\n");
	got = req("get=1\n\n");
	ck_assert_msg(!strncmp(got, "listen_port=51820\nfwmark=5\npublic_key=", 38), "%s", got);
	free(got);
}
END_TEST

START_TEST(test_uapi_not_get_or_set_closes)
{
	struct uapi_out out = { 0 };

	ck_assert_int_eq(uapi_handle_request(&host, "foo=1\n", 6, 0, &out), UAPI_CLOSE);
	ck_assert_int_eq(uapi_handle_request(&host, "\n", 1, 0, &out), UAPI_CLOSE);
	ck_assert_int_eq(uapi_handle_request(&host, "", 0, 0, &out), UAPI_CLOSE);
	ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(test_uapi_request_len)
{
	ck_assert_uint_eq(uapi_request_len("", 0), 0);
	ck_assert_uint_eq(uapi_request_len("get=1\n", 6), 0);
	ck_assert_uint_eq(uapi_request_len("get=1\n\nget=1\n\n", 14), 7);
	ck_assert_uint_eq(uapi_request_len("get=1\nx", 7), 7);
	ck_assert_uint_eq(uapi_request_len("set=1\nfoo=1\n", 12), 0);
	ck_assert_uint_eq(uapi_request_len("set=1\nfoo=1\n\nget", 16), 13);
	ck_assert_uint_eq(uapi_request_len("set=1\n\n", 7), 7);
	ck_assert_uint_eq(uapi_request_len("set=1", 5), 0);
	ck_assert_uint_eq(uapi_request_len("bogus\nmore", 10), 6);
	ck_assert_uint_eq(uapi_request_len("\n", 1), 1);
}
END_TEST

/* Random and mutated requests: never crash, always a well-formed reply. */
START_TEST(test_uapi_random_garbage)
{
	static const char *alphabet[] = { "set=1\n", "get=1\n", "\n", "=", "public_key",
		"private_key", "allowed_ip", "endpoint", "remove=true", "update_only=true",
		"replace_peers=true", "replace_allowed_ips=true", "listen_port", "fwmark",
		"persistent_keepalive_interval", "preshared_key", "protocol_version=1",
		"0000000000000000000000000000000000000000000000000000000000000001",
		"10.0.0.0/8", "fd00::/64", "[::1]:1", "1.2.3.4:5", "0", "65535", "/", ":",
		"\0", "\xff", "true" };
	enum { N = sizeof alphabet / sizeof alphabet[0] };
	unsigned seed = 12345;
	char buf[1024];

	for (int iter = 0; iter < 20000; iter++) {
		struct uapi_out out = { 0 };
		size_t len = 0;
		int parts = rand_r(&seed) % 20, r;

		if (rand_r(&seed) & 1) {
			memcpy(buf, "set=1\n", 6);
			len = 6;
		}
		for (int i = 0; i < parts; i++) {
			const char *a = alphabet[rand_r(&seed) % N];
			size_t al = a[0] ? strlen(a) : 1;

			if (len + al >= sizeof buf)
				break;
			memcpy(buf + len, a, al);
			len += al;
		}
		r = uapi_handle_request(&host, buf, len, (mtime_ns)iter * 1000000, &out);
		ck_assert_msg(r == UAPI_OK || r == UAPI_CLOSE, "seed 12345 iter %d: r=%d", iter, r);
		if (r == UAPI_OK)
			ck_assert_msg(out.len >= 9 && !memcmp(out.buf + out.len - 2, "\n\n", 2),
				      "seed 12345 iter %d", iter);
		uapi_out_clear(&out);
	}
}
END_TEST

static Suite *suite_uapi(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_uapi_get_empty);
	tcase_add_test(tc, test_uapi_set_get_roundtrip);
	tcase_add_test(tc, test_uapi_endpoint_v6);
	tcase_add_test(tc, test_uapi_set_rejects);
	tcase_add_test(tc, test_uapi_huge_line);
	tcase_add_test(tc, test_uapi_unread_replies_bounded);
	tcase_add_test(tc, test_uapi_peer_remove_update_only_replace);
	tcase_add_test(tc, test_uapi_update_only_after_many_lines);
	tcase_add_test(tc, test_uapi_own_key_ignored);
	tcase_add_test(tc, test_uapi_allowed_ip_remove);
	tcase_add_test(tc, test_uapi_listen_port);
	tcase_add_test(tc, test_uapi_managed);
	tcase_add_test(tc, test_uapi_not_get_or_set_closes);
	tcase_add_test(tc, test_uapi_request_len);
	tcase_add_test(tc, test_uapi_random_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_uapi());
	int failed;

	log_set_level(LOG_LVL_ERROR);	/* rejected requests are expected here */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
