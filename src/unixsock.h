/* Unix-socket listeners on the loop, shared by the control socket (ctl.c)
 * and the WireGuard UAPI socket (uapi.c). */
#ifndef MESHD_UNIXSOCK_H
#define MESHD_UNIXSOCK_H

#include <uv.h>

/* Initialises pipe on loop (pipe->data = data), binds it to path with mode
 * 0600 and listens with backlog, calling on_conn per connection. Returns 0,
 * or a negative libuv error code (-errno) after removing the socket file
 * and closing pipe with on_closed, which may be NULL. The file must not
 * exist: the callers remove a stale one first. */
int meshd_unixsock_listen(uv_loop_t *loop, uv_pipe_t *pipe, void *data, const char *path,
			  int backlog, uv_connection_cb on_conn, uv_close_cb on_closed);

/* Whether a server answers on path: MESHD_E_EXIST when one does; 0 when
 * the path is free (no file, or a socket file nobody listens on, which is
 * removed); MESHD_E_RANGE when path does not fit a socket address; else
 * MESHD_E_SYS with errno saved. */
int meshd_unixsock_reclaim(const char *path);

#endif
