/* The TCP fallback's client: one connection from a member whose UDP is
 * blocked to a member's TCP entry (protocol in mesh/tcpframe.h, decision
 * D17 in docs/decisions.md; the entry is src/tcp_entry.c).
 *
 * I/O glue only: libuv connects, reads and writes; every decision (framing,
 * auth, keepalives, queue drops) is mesh_tcp_*. The entry speaks first (a
 * CHALLENGE), the client answers with AUTH (signed by the frame callback,
 * which holds the key), the entry says OK: the client is READY and carries
 * datagrams both ways, each as one frame.
 *
 * A client that fails (connect refused or timed out, the auth deadline,
 * a protocol error, a read error, the entry silent for MESH_TCP_IDLE_MS,
 * a send queue stalled for MESH_TCP_STALL_MS) calls state(FAILED) once and
 * closes itself; its memory is freed when the handles have closed. The
 * owner must call tcp_client_free() exactly once (on its side, any time):
 * after it no callback runs. One allocation per connection (the 64 KiB
 * send ring in it), none per datagram; TCP_NODELAY is on. */
#ifndef MESHD_TCP_CLIENT_H
#define MESHD_TCP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "mesh/tcpframe.h"
#include "util/addr.h"
#include "util/time.h"

enum {
	TCP_CLIENT_CONNECT_MS = 5000,	/* connect + challenge + OK */
	TCP_CLIENT_TICK_MS = 500,	/* deadline checks */
};

enum tcp_client_state {
	TCP_CLIENT_READY = 1,		/* the entry accepted us */
	TCP_CLIENT_FAILED = 2,		/* gone; pick another entry */
};

/* The frame callback: mesh_tcp_cli_on_frame with the node's signing key
 * (mesh_node_tcp_cli_frame). */
typedef int tcp_client_frame_fn(void *ctx, struct mesh_tcp_cli *c, const uint8_t *f, size_t len,
    mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME]);
/* A datagram from the entry: buf 8-byte aligned and writable, valid during
 * the call only. */
typedef void tcp_client_deliver_fn(void *ctx, uint8_t *buf, size_t len, mtime_ns now);
typedef void tcp_client_state_fn(void *ctx, enum tcp_client_state st);

struct tcp_client_cfg {
	uv_loop_t *loop;
	union endpoint entry;			/* TCP address and port */
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t server_key[MESH_TCP_KEY_LEN];	/* the entry's WireGuard public key */
	uint8_t node_id[MESH_NODE_ID_LEN];	/* ours */
	tcp_client_frame_fn *frame;		/* all required */
	tcp_client_deliver_fn *deliver;
	tcp_client_state_fn *state;
	void *ctx;
};

struct tcp_client_stats {
	uint64_t datagrams_in, datagrams_out, dropped_out;
};

struct tcp_client;

/* Starts connecting. NULL (errno set) when nothing could be started. */
struct tcp_client *tcp_client_start(const struct tcp_client_cfg *cfg);

/* READY: the datagram is queued (drop-oldest when the queue is full);
 * returns 0. MESHD_E_STATE before READY or after a failure; MESHD_E_RANGE
 * for an empty or longer than MESH_TCP_FRAME_MAX datagram. */
int tcp_client_send(struct tcp_client *c, const uint8_t *p, size_t len);

bool tcp_client_ready(const struct tcp_client *c);
void tcp_client_get_stats(const struct tcp_client *c, struct tcp_client_stats *out);

/* Closes (if still open) and gives the memory up; no callback after it. */
void tcp_client_free(struct tcp_client *c);

#endif
