/* The WireGuard cross-platform userspace configuration API (wireguard.com/xplatform),
 * server side: the text protocol `wg(8)` speaks over /var/run/wireguard/IFNAME.sock.
 *
 *   get=1\n\n                -> key=value lines ... errno=0\n\n
 *   set=1\n key=value ... \n  -> errno=0\n\n  or  errno=-N\n\n
 *
 * Error replies carry a negative errno, exactly as wireguard-go writes them and as
 * wg(8)'s reader expects (it sets errno = -value): -EINVAL for a bad key or value,
 * -EPROTO for a line without '=' or a line that is too long, -EADDRINUSE when the
 * listen port cannot be bound, -ENOMEM.
 *
 * A set is validated completely before anything is applied: a bad line leaves the
 * device untouched (wireguard-go applies line by line; all-or-nothing is stricter
 * and what a configuration tool wants). The port is bound before the rest is
 * applied, so a busy port also changes nothing.
 *
 * The parser is a pure function over (request bytes, struct uapi_host): no I/O of
 * its own, so unit tests and the fuzzer (tests/fuzz/fuzz_uapi.c) drive it
 * directly. The libuv server around it lives in the same file.
 */
#ifndef MESHD_UAPI_H
#define MESHD_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/list.h"
#include "util/time.h"

struct wg_device;

enum {
	UAPI_MAX_LINE = 4096,			/* bytes per line, '\n' included */
	UAPI_MAX_REQUEST = 8 * 1024 * 1024,	/* bytes per request (about 50k peers) */
	/* Reply bytes a client may leave unread before another request of its is
	 * handled (one reply, however large, is always queued). */
	UAPI_MAX_UNREAD = 1024 * 1024,
};

/* What a request operates on. port/fwmark are the source of truth for `get`. */
struct uapi_host {
	struct wg_device *wg;
	uint16_t port;		/* the port actually bound */
	uint32_t fwmark;
	/* Rebind the UDP sockets to *port (0 = pick one) and apply fwmark; on success
	 * store the bound port in *port and return 0, else return a positive errno.
	 * May be NULL (tests, fuzzer): the values are then just recorded. */
	int (*rebind)(void *ctx, uint16_t *port, uint32_t fwmark, bool port_changed);
	void *ctx;
	/* A mesh node's interface: its key, port and peers belong to the mesh,
	 * which would not notice a change made behind its back (peers silently
	 * gone, a key or port its members do not know). A set then takes only
	 * fwmark; any other key refuses the whole request with -EPERM. */
	bool managed;
};

/* A growable reply buffer. */
struct uapi_out {
	char *buf;
	size_t len, cap;
};

void uapi_out_clear(struct uapi_out *out);

/* Length of the first complete request in buf (through its terminating empty
 * line), or 0 when more bytes are needed. */
size_t uapi_request_len(const char *buf, size_t len);

enum uapi_status {
	UAPI_OK = 0,		/* reply appended; keep the connection */
	UAPI_CLOSE = 1,		/* not a get/set request: drop the connection (like wireguard-go) */
};

/* Handles one request: req[0, len) are the bytes uapi_request_len() delimited
 * (any bytes are tolerated; a missing final empty line is treated as present).
 * Appends the reply to *out. Returns UAPI_OK or UAPI_CLOSE; MESHD_E_NOMEM
 * when the reply could not be built (out is then empty). This is the entry
 * point for the fuzzer. */
int uapi_handle_request(struct uapi_host *host, const char *req, size_t len, mtime_ns now,
			struct uapi_out *out);

/* The libuv server on the unix socket. */
struct uapi_server {
	uv_pipe_t listener;
	char path[108];
	bool listening;
	struct uapi_host *host;
	/* Called after each batch of requests (a set may have changed timers). */
	void (*after_set)(void *ctx);
	void *ctx;
	struct list clients;
	unsigned nclients;
};

/* Directory for the sockets and the socket path of an interface. */
#define UAPI_SOCKET_DIR "/var/run/wireguard"
/* Writes UAPI_SOCKET_DIR "/IFNAME.sock" into path (size >= 108). */
void uapi_socket_path(char *path, size_t len, const char *ifname);

/* Checks whether a live daemon already answers on the socket of ifname.
 * Returns 0 when the path is free (a stale socket is removed), MESHD_E_EXIST
 * when it is in use, MESHD_E_SYS (errno saved) on another failure. */
int uapi_socket_check(const char *ifname);

/* Creates the directory (0755) and the socket (0600) and starts listening.
 * Returns 0 or MESHD_E_SYS with errno saved; *what names the failed step. */
int uapi_server_start(struct uapi_server *srv, uv_loop_t *loop, const char *ifname,
		      struct uapi_host *host, const char **what);
/* Stops listening, closes every client and removes the socket file. */
void uapi_server_stop(struct uapi_server *srv);

#endif
