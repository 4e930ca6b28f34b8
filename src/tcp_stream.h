/* The stream plumbing that the TCP fallback's client (tcp_client.c) and
 * entry (tcp_entry.c) share.
 *
 * Sending: frames wait in a mesh_tcp_ring; a flush writes them
 * straight to the socket while it takes the bytes (a burst of datagrams
 * must not overflow the ring while one write is in flight), and what the
 * socket refuses goes out with one asynchronous write, while the ring is
 * free to drop frames meanwhile (never the partly taken head). */
#ifndef MESHD_TCP_STREAM_H
#define MESHD_TCP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "mesh/tcpframe.h"
#include "util/time.h"

enum tcp_stream_status {
	TCP_STREAM_IDLE = 0,	/* the ring is empty: everything went out */
	TCP_STREAM_WRITING = 1,	/* the rest is in one asynchronous write */
};

/* Drains ring into s through buf[0..cap). Returns TCP_STREAM_IDLE, or
 * TCP_STREAM_WRITING when req is in flight (cb gets it; req->data is the
 * caller's); a negative libuv error when the socket failed or refused the
 * write. *progress: some bytes went out during this call. Must not be
 * called while the caller's previous write is in flight. */
int tcp_stream_flush(uv_stream_t *s, struct mesh_tcp_ring *ring, uint8_t *buf, size_t cap,
    uv_write_t *req, uv_write_cb cb, bool *progress);

/* Receiving: one whole frame; false stops the feed (the connection is
 * closing). */
typedef bool tcp_stream_frame_fn(void *ctx, const uint8_t *f, size_t len, mtime_ns now);

/* Feeds p[0..n) to dec and hands each whole frame to fn until fn returns
 * false. Returns 0; MESHD_E_PROTO on bad framing (the rest is not read). */
int tcp_stream_feed(struct mesh_tcp_dec *dec, const uint8_t *p, size_t n, mtime_ns now,
    tcp_stream_frame_fn *fn, void *ctx);

#endif
