/* Client side of the control socket (ctl.h): one blocking request per
 * connection, bounded in time (CTL_TIMEOUT_MS for the whole exchange) and in
 * size (CTL_RESP_MAX), so a wedged or hostile daemon cannot hang the CLI.
 *
 * When no daemon listens, err reads "not running (DIR/meshd.sock: REASON)";
 * the CLI (cli_not_running) tells that case from I/O errors by this prefix.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to DIR/meshd.sock. Returns the fd, -1 when nobody listens there
 * (err says so), -2 on other errors (err set). */
static int ctl_connect(const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", dir, CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof sun.sun_path) {
		snprintf(err, errlen, "state directory path too long for a unix socket: %s", dir);
		return -2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -2;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		return fd;
	n = errno;
	close(fd);
	if (n == ENOENT || n == ECONNREFUSED || n == ENOTDIR) {
		snprintf(err, errlen, "not running (%s: %s)", sun.sun_path, strerror(n));
		return -1;
	}
	snprintf(err, errlen, "%s: %s", sun.sun_path, strerror(n));
	return -2;
}

/* Waits until fd is ready for ev or the deadline passes. 0, or -1 (err set). */
static int wait_fd(int fd, short ev, int64_t deadline, char *err, size_t errlen)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "no answer from the daemon within %d ms",
				 CTL_TIMEOUT_MS);
			return -1;
		}
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline, char *err,
		    size_t errlen)
{
	ssize_t n;

	while (len > 0) {
		if (wait_fd(fd, POLLOUT, deadline, err, errlen) != 0)
			return -1;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "sending to the daemon: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until EOF into a malloc'd, NUL-terminated buffer. A reset after
 * some bytes (the daemon closed with our request unread) ends the answer
 * too, with *reset set. */
static int recv_all(int fd, char **out, size_t *outlen, bool *reset, int64_t deadline,
		    char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		if (len + 1 == cap) {
			if (cap > CTL_RESP_MAX) {
				snprintf(err, errlen, "answer from the daemon longer than %d bytes",
					 CTL_RESP_MAX);
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		if (wait_fd(fd, POLLIN, deadline, err, errlen) != 0)
			goto fail;
		n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "reading from the daemon: %s", strerror(errno));
			if (errno == ECONNRESET && len > 0) {
				*reset = true;
				break;
			}
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* Splits the answer: "ok\nBODY" -> 0 with the body moved to the front of
 * buf; "error: M\n..." -> 1 with M in err; anything else -> -1. */
static int parse_answer(char *buf, size_t len, char *err, size_t errlen)
{
	char *nl = memchr(buf, '\n', len);
	size_t first = nl ? (size_t)(nl - buf) : len;

	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "malformed answer from the daemon");
		return -1;
	}
	if (first == 2 && !memcmp(buf, "ok", 2)) {
		size_t skip = nl ? first + 1 : first;

		memmove(buf, buf + skip, len - skip + 1);
		return 0;
	}
	if (first >= 7 && !memcmp(buf, "error: ", 7)) {
		snprintf(err, errlen, "%.*s", (int)(first - 7), buf + 7);
		return 1;
	}
	snprintf(err, errlen, "malformed answer from the daemon");
	return -1;
}

/* One exchange on a new connection. Returns as ctl_request(). The answer
 * is read even when sending failed: a daemon that turns the connection
 * away (CTL_ERR_BUSY) writes why and closes without reading. */
static int ctl_exchange(const char *dir, const char *line, size_t len, int64_t deadline,
			char **body, char *err, size_t errlen)
{
	char serr[256], rerr[256];
	bool sent, reset = false;
	size_t rlen;
	char *buf = NULL;
	int fd, r = -1;

	fd = ctl_connect(dir, err, errlen);
	if (fd < 0)
		return -1;
	sent = send_all(fd, line, len, deadline, serr, sizeof serr) == 0;
	if (recv_all(fd, &buf, &rlen, &reset, deadline, err, errlen) != 0)
		goto out;
	if (!sent && rlen == 0)
		goto out;
	if (reset)
		snprintf(rerr, sizeof rerr, "%s", err);
	r = parse_answer(buf, rlen, err, errlen);
	/* after a reset only the busy answer is whole for sure */
	if (reset && (r != 1 || strcmp(err, CTL_ERR_BUSY) != 0)) {
		snprintf(err, errlen, "%s", rerr);
		r = -1;
		goto out;
	}
	if (r == 0) {
		*body = buf;
		buf = NULL;
	}
out:
	if (r < 0 && !sent)
		snprintf(err, errlen, "%s", serr);
	free(buf);
	close(fd);
	return r;
}

int ctl_request(const char *dir, const char *req, char **body, char *err, size_t errlen)
{
	char line[CTL_REQ_MAX + 1];
	int64_t deadline;
	size_t rlen;
	int r;

	*body = NULL;
	rlen = strlen(req);
	/* the request is one line: refuse what would smuggle a second one */
	if (rlen == 0 || rlen >= CTL_REQ_MAX || strpbrk(req, "\r\n")) {
		snprintf(err, errlen, "invalid control request");
		return -1;
	}
	memcpy(line, req, rlen);
	line[rlen] = '\n';
	deadline = now_ms() + CTL_TIMEOUT_MS;
	/* A busy daemon has not read the request: ask again until the
	 * deadline, CTL_BUSY_RETRY_MS apart. */
	for (;;) {
		r = ctl_exchange(dir, line, rlen + 1, deadline, body, err, errlen);
		if (r != 1 || strcmp(err, CTL_ERR_BUSY) != 0 ||
		    now_ms() + CTL_BUSY_RETRY_MS >= deadline)
			return r;
		poll(NULL, 0, CTL_BUSY_RETRY_MS);
	}
}

int ctl_running(const char *dir)
{
	char err[256];
	int fd = ctl_connect(dir, err, sizeof err);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
