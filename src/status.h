/* What the daemon answers on its control socket: the status of the node and
 * its peers, as a table (`meshd status`) or as one JSON object (`meshd status
 * --json`, the contract below), and the small string builder both use.
 *
 * Formatting is a pure function over struct status_self / status_peer (plain
 * strings and numbers), so tests/check_status.c checks it without a node;
 * status_collect() fills those structs from a live mesh node and wg device.
 *
 * JSON contract (keys in this order, one line):
 * {"running": bool (false: no daemon answered, the rest is the stored state),
 *  "node": {"name", "public_key" (base64), "overlay_ipv4", "overlay_ipv6",
 *           "ipv6_active" (false: IPv6 disabled on this host, overlay_ipv6 unused),
 *   "listen_port", "tcp_port" (0: off), "admin": bool, "endpoints":
 *   [{"addr": "ip:port", "source": "local|reflexive|portmap",
 *   "transport": "udp|tcp"}], "cert_expires": unix seconds},
 *  "peers": [{"name", "public_key", "overlay_ipv4", "overlay_ipv6",
 *   "path": "direct|relay|none", "transport": "udp|tcp",
 *   "endpoint": "ip:port" | null,
 *   "via": "name" | null, "latest_handshake": unix seconds | 0, "rx_bytes",
 *   "tx_bytes", "rtt_ms": number | null, "mtu": number | null,
 *   "routes": ["CIDR", ...], "cert_expires": unix seconds}]}
 * peers[].transport (an addition) is "tcp" while our traffic goes through
 * a member's TCP entry (every peer: the entry directly, the others relayed
 * by it) and for a member that reaches us over our own TCP entry (path
 * "direct", endpoint null); the table's TRANSPORT column.
 * tcp_port and endpoints[].transport (additions): the TCP entry for members whose UDP
 * is blocked (docs/decisions.md D17) is advertised as endpoints of
 * transport "tcp" (source "local": one of our public addresses); every
 * other endpoint is "udp".
 * cert_expires (an addition) is when the certificate expires; admins renew
 * certificates with a third of their life left, so it moves forward. When
 * ours is past that point with no renewal (no admin reachable) the table
 * carries a "warning:" line. The table's CERT column shows what is left.
 * mtu is the path MTU of the direct path (IP packet bytes of the underlay,
 * mesh/pmtu.h; null while unknown); the table's MTU column ("-" unknown).
 * routes (an addition) are the subnet prefixes installed here via
 * that peer. The table shows them in a ROUTES column ("-": none), and the
 * node line carries our DNS name NAME.MESH.
 * path is the node's path selection (mesh/path.h: DIRECT, RELAY via "via",
 * NONE) with its smoothed probe RTT ("rtt_ms", null when unknown) once
 * status_collect() filled have_path; without it (have_path false) the
 * legacy rule: "direct" when an endpoint is set and the latest handshake is
 * younger than STATUS_DIRECT_S, else "none". On path relay, "endpoint" is
 * null (WireGuard's is a synthetic one, mesh/relay.h) and the table's
 * ENDPOINT column says "via NAME".
 *
 * Not running (`meshd status` with no daemon, status_build_store()): the
 * same formats over what the store holds, read by the CLI: the node, the
 * mesh, the members, and as endpoints the last signed endpoint record of
 * each (ours in "endpoints"; a peer's first address as its "endpoint").
 * Every peer then has path "none", latest_handshake 0 (table: "never"), no
 * traffic and no routes; ipv6_active is false. The table starts with a line
 * "status:     not running (...)".
 * revoked (an addition, last key of "node"): true only in the stored state
 * of a node whose own revocation arrived (it stopped itself and `meshd up`
 * refuses it); its certificate is gone, so no overlay addresses or expiry,
 * and the table's first line says "revoked" instead. A running node is
 * never revoked (it stops at once).
 */
#ifndef MESHD_STATUS_H
#define MESHD_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#include "reqserv.h"
#include "sbuf.h"
#include "util/addr.h"
#include "util/list.h"

struct mesh_node;

enum {
	STATUS_DIRECT_S = 180,		/* REJECT_AFTER_TIME: older sessions are dead */
	STATUS_NAME_MAX = 63,
	STATUS_KEY_B64 = 45,		/* base64 of 32 bytes + NUL */
	STATUS_EP_MAX = 8,
	STATUS_CAND_MAX = 16,		/* PATH_CAND_MAX */
	STATUS_ROUTES_MAX = 16,		/* MESH_CERT_MAX_ROUTES */
	STATUS_PREFIX_STRLEN = 64,	/* == MESH_PREFIX_STRLEN (mesh/routes.h) */
};

struct status_ep {
	char addr[ENDPOINT_STRLEN];	/* "ip:port" / "[ip]:port" */
	const char *source;		/* "local", "reflexive", "portmap" */
	const char *transport;		/* "udp", "tcp" */
};

struct status_self {
	bool running;			/* false: stored state, no daemon */
	char name[STATUS_NAME_MAX + 1];
	char mesh[STATUS_NAME_MAX + 1];
	char public_key[STATUS_KEY_B64];
	char ipv4[INET_ADDRSTRLEN], ipv6[INET6_ADDRSTRLEN];
	uint8_t prefix4_len, prefix6_len;
	bool ipv6_active;		/* false: IPv6 disabled on this host */
	uint16_t listen_port;
	uint16_t tcp_port;		/* 0: no TCP entry */
	bool admin;
	size_t members;
	size_t nep;
	struct status_ep ep[STATUS_EP_MAX];
	uint64_t cert_expires;		/* unix s; 0 unknown */
	bool cert_unrenewed;		/* a third of its life left, not renewed */
	bool revoked;			/* stored state only: this node was revoked */
};

/* A direct candidate of a peer, as our path engine probes it. */
struct status_cand {
	char addr[ENDPOINT_STRLEN];
	const char *source;		/* "local", "reflexive", "portmap" */
	bool usable, active;
	int32_t rtt_ms;			/* -1: never answered */
	uint64_t sent, acked, lost;
};

struct status_peer {
	char name[STATUS_NAME_MAX + 1];
	char public_key[STATUS_KEY_B64];
	char ipv4[INET_ADDRSTRLEN], ipv6[INET6_ADDRSTRLEN];
	char endpoint[ENDPOINT_STRLEN];	/* "" when none */
	uint64_t latest_handshake;	/* unix seconds, 0 = never */
	uint64_t rx_bytes, tx_bytes;
	size_t nroutes;			/* installed here via this peer */
	char routes[STATUS_ROUTES_MAX][STATUS_PREFIX_STRLEN];
	bool have_path;			/* path, rtt_ms, via below are set */
	bool tcp;			/* transport: its traffic goes over TCP
					 * (our fallback, or it reaches our entry) */
	uint8_t path;			/* enum mesh_path_kind */
	int32_t rtt_ms;			/* -1: unknown */
	uint16_t mtu;			/* path MTU; 0: unknown */
	char via[STATUS_NAME_MAX + 1];	/* RELAY: the relay's name */
	uint64_t cert_expires;		/* unix s; 0 unknown */
	size_t ncand;			/* running daemon only */
	struct status_cand cand[STATUS_CAND_MAX];
	uint64_t probes_denied, punches_held;
};

/* A past unix time as "12s ago", "5m ago", "3h ago", "2d ago" ("never"
 * for 0), for the status table and the metrics page. */
void status_fmt_age(char *out, size_t len, uint64_t then, uint64_t now);

/* "direct" or "none" (see above). */
const char *status_path(const struct status_peer *p, uint64_t now_unix);

void status_format_json(struct sbuf *b, const struct status_self *self,
			const struct status_peer *peers, size_t n, uint64_t now_unix);
void status_format_text(struct sbuf *b, const struct status_self *self,
			const struct status_peer *peers, size_t n, uint64_t now_unix);

/* What the daemon knows beside the node. */
struct status_opts {
	uint16_t listen_port;
	uint16_t tcp_port;		/* our TCP entry; 0: off */
	bool ipv6_active;
	bool tcp_fallback;		/* our traffic goes through a TCP entry */
};

/* Fills self and a malloc'd array of peers (*peers, *n; free() it) from the
 * node. Returns 0 or MESHD_E_NOMEM. */
int status_collect(const struct mesh_node *node, const struct status_opts *o,
		   struct status_self *self, struct status_peer **peers, size_t *n);

/* status_collect + format into b. Returns 0 or MESHD_E_NOMEM. */
int status_build(struct sbuf *b, const struct mesh_node *node, const struct status_opts *o,
		 bool json, uint64_t now_unix);

struct store;
/* The stored state when no daemon runs (see the top): fills self (running
 * false) and a malloc'd array of peers, one per member but us, in name
 * order. Only reads st. Returns 0; MESHD_E_NOENT (no node in st);
 * MESHD_E_NOMEM; a store error. */
int status_collect_store(struct store *st, struct status_self *self, struct status_peer **peers,
			 size_t *n);
/* status_collect_store + format into b. Returns as status_collect_store. */
int status_build_store(struct sbuf *b, struct store *st, bool json, uint64_t now_unix);

/* ---- subnet routes (`routes`, `routes json`; ctl.h) ---- */

/* One node's routes as strings; installed is empty for ourselves. */
struct status_routes {
	char name[STATUS_NAME_MAX + 1];
	bool self;
	size_t nadv, nappr, ninst;
	char adv[STATUS_ROUTES_MAX][STATUS_PREFIX_STRLEN];
	char appr[STATUS_ROUTES_MAX][STATUS_PREFIX_STRLEN];
	char inst[STATUS_ROUTES_MAX][STATUS_PREFIX_STRLEN];
};

/* Table: NODE ADVERTISED APPROVED INSTALLED-HERE, one row per node (prefix
 * lists comma-separated, "-" when empty; our own name marked "(self)").
 * JSON: {"nodes": [{"name", "self": bool (this node), "advertised": [..],
 * "approved": [..], "installed": [..]}]}. */
void status_format_routes(struct sbuf *b, const struct status_routes *rows, size_t n, bool json);

/* Collects rows (us first, then the peers in name order) and formats them.
 * Returns 0 or MESHD_E_NOMEM. */
int status_routes_build(struct sbuf *b, const struct mesh_node *node, bool json);

/* "10.1.0.0/16" from a mesh prefix (family MESH_FAMILY_V4/V6); "?" when the
 * family is unknown. */
struct mesh_prefix;
void status_prefix_format(const struct mesh_prefix *p, char out[STATUS_PREFIX_STRLEN]);

/* ---- the control socket server (client side and protocol: ctl.h) ---- */

/* A request handler: req is the line without '\n' (NUL-terminated). Fills
 * body and returns CTL_ANSWER_OK or CTL_ANSWER_OK_STOP (ok, then stop() is
 * called once the answer is written), or writes a one-line message into err
 * and returns CTL_ANSWER_ERROR. */
enum ctl_answer {
	CTL_ANSWER_OK = 0,
	CTL_ANSWER_OK_STOP = 1,
	CTL_ANSWER_ERROR = -1,
};
typedef enum ctl_answer ctl_handler_fn(void *ctx, const char *req, struct sbuf *body, char *err,
				       size_t errlen);

struct ctl_server {
	char path[108];
	ctl_handler_fn *handler;
	void (*stop)(void *ctx);
	void *ctx;
	struct reqserv rs;	/* the listener and the live connections */
};

/* Whether dir's socket is free: 0 (absent, or stale and removed),
 * MESHD_E_EXIST (a daemon answers), MESHD_E_RANGE (path too long),
 * MESHD_E_SYS. */
int ctl_server_check(const char *dir);
/* Binds DIR/meshd.sock (0600) on loop and listens. Returns 0 or a MESHD_E_*
 * code with a reason in err. */
int ctl_server_start(struct ctl_server *srv, uv_loop_t *loop, const char *dir, ctl_handler_fn *handler,
		     void (*stop)(void *ctx), void *ctx, char *err, size_t errlen);
/* Closes the listener and every connection and removes the socket file. */
void ctl_server_stop(struct ctl_server *srv);

#endif
