/* The control socket of a mesh node: DIR/meshd.sock (mode 0600, owned by the
 * daemon's user), one request per connection.
 *
 * Request: one line of at most CTL_REQ_MAX bytes, '\n'-terminated:
 *	status		the status table (what `meshd status` prints)
 *	status json	one JSON object, contract in status.h and docs/mesh-protocol.md
 *	revoke NAME	admin only: revoke the member NAME now
 *	down		stop the daemon (it answers first, then shuts down)
 *	invite TTL USES [EP[,EP...]]
 *			admin only: store an invite valid TTL seconds for USES
 *			joins; the body is the token line. EPs (ip:port or
 *			[ipv6]:port, at most 4) go into the token; without them
 *			the host's addresses and the node's port (invite.h)
 *	set advertise-routes LIST
 *			LIST: CIDR[,CIDR...] or "none"; our advertised subnet
 *			routes (persisted in our signed ROUTES record)
 *	routes		table: per node (us included) advertised, approved and
 *			installed-here prefixes
 *	routes json	the same as one JSON object {"nodes": [{"name",
 *			"advertised": [..], "approved": [..], "installed": [..]}]}
 *	routes approve NODE CIDR
 *	routes deny NODE CIDR
 *			admin only: mesh_node_route_set()
 *	set metrics ADDR:PORT|off
 *			move or stop the metrics listener (kept in the store)
 *	graph		the mesh as this node sees it, Graphviz DOT
 * Response: a first line "ok" or "error: MESSAGE", then the body (may be
 * empty), then the server closes the connection. A request that is too long,
 * ends at the client's EOF without a newline,
 * not a line within CTL_TIMEOUT_MS, or unknown gets "error: ..." and the
 * connection closed; the daemon never blocks on a slow client (libuv, one
 * bounded buffer per connection, at most CTL_MAX_CONNS at once).
 */
#ifndef MESHD_CTL_H
#define MESHD_CTL_H

#include <stddef.h>

enum {
	CTL_REQ_MAX = 256,
	CTL_TIMEOUT_MS = 5000,
	CTL_MAX_CONNS = 16,
	CTL_RESP_MAX = 4 * 1024 * 1024,	/* client refuses longer answers */
	CTL_BUSY_RETRY_MS = 50,		/* client: pause before asking a busy daemon again */
};

/* The error a daemon with CTL_MAX_CONNS connections open answers a new one
 * with, before closing it unread; ctl_request() asks again (within
 * CTL_TIMEOUT_MS) when it gets it. */
#define CTL_ERR_BUSY "too many control connections"

#define CTL_SOCKET_NAME "meshd.sock"

/* Client side (src/ctl_client.c): connects to DIR/meshd.sock, sends req
 * (without '\n'), reads the whole answer. On "ok": returns 0 and *body (malloc'd,
 * NUL-terminated, caller frees). On "error: M": returns 1 and copies M into
 * err. Returns -1 with err set when the daemon is not running (no socket, or
 * connection refused: err = "not running (DIR/meshd.sock: REASON)") or on
 * I/O errors / timeout (CTL_TIMEOUT_MS). A daemon that is busy
 * (CTL_ERR_BUSY) is asked again until CTL_TIMEOUT_MS has passed. */
int ctl_request(const char *dir, const char *req, char **body, char *err, size_t errlen);

/* True when a daemon answers on DIR/meshd.sock. */
int ctl_running(const char *dir);

#endif
