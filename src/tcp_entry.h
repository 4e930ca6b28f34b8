/* The TCP entry point: a member's listener for members whose UDP is blocked
 * (protocol and limits in mesh/tcpframe.h, docs/wire-formats.md "TCP entry").
 *
 * I/O glue only: libuv accepts, reads and writes; every decision (framing,
 * auth, deadlines, queue drops) is mesh_tcp_*. A connection forwards
 * nothing until its member has proven itself; then each datagram goes to
 * the deliver callback with the member's node id and the connection id,
 * and tcp_entry_send() queues datagrams back to it by that id.
 *
 * Connections are identified by a 64-bit id (slot | generation << 16), so
 * an id kept after its connection closed never reaches a new one.
 * Limits: MESH_TCP_CONN_MAX in total and MESH_TCP_CONN_PER_SRC per source
 * address (extra connections are closed at once); deadlines are checked by
 * one timer every TCP_ENTRY_SWEEP_MS, which is fine against limits of 5 s
 * and more. */
#ifndef MESHD_TCP_ENTRY_H
#define MESHD_TCP_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "mesh/tcpframe.h"
#include "util/addr.h"
#include "util/time.h"

enum {
	TCP_ENTRY_SWEEP_MS = 500,
	TCP_ENTRY_BACKLOG = 64,
	TCP_ENTRY_RBUF = 16384,		/* read buffer per connection, bytes */
	TCP_ENTRY_WBUF = 16384,		/* bytes in flight per connection */
};

/* A datagram from an authenticated member: buf is 8-byte aligned and
 * writable, valid during the call only. */
typedef void tcp_entry_deliver_fn(void *ctx, uint64_t conn_id,
    const uint8_t node_id[MESH_NODE_ID_LEN], const union endpoint *peer, uint8_t *buf,
    size_t len, mtime_ns now);

/* A JOIN_REQ from a joining connection (mesh/tcpframe.h "Joining"): buf as
 * for deliver; answers go back with tcp_entry_send(conn_id). */
typedef void tcp_entry_join_fn(void *ctx, uint64_t conn_id, const union endpoint *peer,
    uint8_t *buf, size_t len, mtime_ns now);

/* An authenticated connection is closing (any reason, tcp_entry_stop
 * included). */
typedef void tcp_entry_closed_fn(void *ctx, uint64_t conn_id,
    const uint8_t node_id[MESH_NODE_ID_LEN]);

struct tcp_entry_cfg {
	uv_loop_t *loop;
	uint16_t port;
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t server_key[MESH_TCP_KEY_LEN];	/* our WireGuard public key */
	mesh_tcp_member_pk_fn *member_pk;	/* required */
	tcp_entry_deliver_fn *deliver;		/* required */
	tcp_entry_closed_fn *closed;		/* optional */
	tcp_entry_join_fn *join;		/* optional; NULL: JOIN refused */
	uint32_t frames_per_s, frames_burst;	/* flood limit; 0: MESH_TCP_FRAMES_* */
	void *ctx;
};

struct tcp_entry_stats {
	uint64_t accepted, refused_limit, auth_ok, auth_fail, closed_timeout, closed_proto;
	uint64_t closed_flood;
	uint64_t datagrams_in, datagrams_out, dropped_out;
	uint64_t join_reqs;		/* JOIN_REQs from joining connections */
};

struct tcp_conn;

struct tcp_entry {
	struct tcp_entry_cfg cfg;
	uv_tcp_t lis4, lis6;
	bool lis4_on, lis6_on;
	uv_timer_t sweep;
	bool sweep_on, stopping;
	size_t nconns;
	unsigned handles;		/* listeners and timer not closed yet */
	uint32_t gen;			/* of the last id handed out */
	struct tcp_conn *conns[MESH_TCP_CONN_MAX];
	struct tcp_entry_stats stats;
};

/* Listens on cfg->port, IPv4 and IPv6 (a family the host lacks may be
 * missing). Returns 0, MESHD_E_INVAL (a callback missing), MESHD_E_SYS
 * (errno saved: the port is busy or not allowed in either family, or no
 * family could listen; what was opened is closing: wait for
 * tcp_entry_idle before freeing e). */
int tcp_entry_start(struct tcp_entry *e, const struct tcp_entry_cfg *cfg);

/* Closes the listeners and every connection (handles close on the next loop
 * turns; e must stay alive until the loop has run them). */
void tcp_entry_stop(struct tcp_entry *e);

/* True when node_id holds an authenticated connection that is not closing. */
bool tcp_entry_has_member(const struct tcp_entry *e, const uint8_t node_id[MESH_NODE_ID_LEN]);

/* True once every handle of a stopped (or never started) entry has
 * closed: e may then be freed or started again. */
bool tcp_entry_idle(const struct tcp_entry *e);

/* The endpoint under which the daemon hands a connection's datagrams to
 * WireGuard and the node, so that answers find their way back:
 * [100:0:0:1:<conn id>]:1. 100:0:0:1::/64 lies in 0100::/8, reserved by
 * the IETF and never routed (the relay's synthetic endpoints use 100::/64
 * next to it, mesh/relay.h); sends to it never reach a socket. */
void tcp_entry_synth(uint64_t conn_id, union endpoint *out);
/* True, with the connection id, for such an endpoint. */
bool tcp_entry_is_synth(const union endpoint *ep, uint64_t *conn_id);

/* Queues a datagram to the connection conn_id (drop-oldest when its queue
 * is full). Returns 0; MESHD_E_NOENT (no such authenticated or joining
 * connection);
 * MESHD_E_RANGE (empty or longer than MESH_TCP_FRAME_MAX). */
int tcp_entry_send(struct tcp_entry *e, uint64_t conn_id, const uint8_t *p, size_t len);

#endif
