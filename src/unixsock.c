#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"
#include "util/err.h"

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

int meshd_unixsock_reclaim(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof sun.sun_path)
		return MESHD_E_RANGE;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return MESHD_E_SYS;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	if (r == 0)
		return MESHD_E_EXIST;
	if (errno == ENOENT)
		return 0;
	if (errno != ECONNREFUSED)
		return MESHD_E_SYS;
	/* a socket file nobody listens on: left by a killed daemon */
	if (unlink(path) < 0 && errno != ENOENT)
		return MESHD_E_SYS;
	return 0;
}
