/* The TCP fallback's stream plumbing (tcp_stream.h). */
#include "tcp_stream.h"
#include "util/err.h"

int tcp_stream_flush(uv_stream_t *s, struct mesh_tcp_ring *ring, uint8_t *buf, size_t cap,
    uv_write_t *req, uv_write_cb cb, bool *progress)
{
	*progress = false;
	for (;;) {
		size_t n = mesh_tcp_ring_take(ring, buf, cap), done;
		uv_buf_t b;
		int w;

		if (n == 0)
			return TCP_STREAM_IDLE;
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
		return TCP_STREAM_WRITING;
	}
}

int tcp_stream_feed(struct mesh_tcp_dec *dec, const uint8_t *p, size_t n, mtime_ns now,
    tcp_stream_frame_fn *fn, void *ctx)
{
	size_t off = 0;

	while (off < n) {
		const uint8_t *f;
		size_t flen, used;
		int r = mesh_tcp_dec_feed(dec, p + off, n - off, &used, &f, &flen);

		if (r < 0)
			return MESHD_E_PROTO;
		off += used;
		if (r == 1 && !fn(ctx, f, flen, now))
			break;
	}
	return 0;
}
