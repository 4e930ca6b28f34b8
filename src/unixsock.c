#include "config.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unixsock.h"

int meshd_unixsock_listen(uv_loop_t *loop, uv_pipe_t *pipe, void *data, const char *path,
			  int backlog, uv_connection_cb on_conn, uv_close_cb on_closed)
{
	mode_t old;
	int e;

	uv_pipe_init(loop, pipe, 0);
	pipe->data = data;
	/* umask, not chmod after bind: no window where others may connect;
	 * the chmod only asserts the mode whatever the umask did */
	old = umask(0177);
	e = uv_pipe_bind(pipe, path);
	umask(old);
	if (e == 0) {
		if (chmod(path, 0600) < 0)
			e = -errno;
		else
			e = uv_listen((uv_stream_t *)pipe, backlog, on_conn);
		if (e)
			unlink(path);
	}
	if (e)
		uv_close((uv_handle_t *)pipe, on_closed);
	return e;
}
