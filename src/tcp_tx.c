/* The TCP fallback's send side (tcp_tx.h). */
#include "tcp_tx.h"

int tcp_tx_flush(uv_stream_t *s, struct mesh_tcp_ring *ring, uint8_t *buf, size_t cap,
    uv_write_t *req, uv_write_cb cb, bool *progress)
{
	*progress = false;
	for (;;) {
		size_t n = mesh_tcp_ring_take(ring, buf, cap), done;
		uv_buf_t b;
		int w;

		if (n == 0)
			return TCP_TX_IDLE;
		b = uv_buf_init((char *)buf, (unsigned)n);
		w = uv_try_write(s, &b, 1);
		if (w == (int)n) {
			*progress = true;
			continue;
		}
		if (w < 0 && w != UV_EAGAIN)
			return w;
		done = w > 0 ? (size_t)w : 0;
		if (done > 0)
			*progress = true;
		b = uv_buf_init((char *)buf + done, (unsigned)(n - done));
		if ((w = uv_write(req, s, &b, 1, cb)) != 0)
			return w < 0 ? w : UV_EINVAL;
		return TCP_TX_WRITING;
	}
}
