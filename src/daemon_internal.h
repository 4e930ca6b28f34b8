/* Private to the mesh daemon's files: struct meshd and what each part of
 * the daemon offers the others. The public entry points are in daemon.h.
 *
 *   daemon.c            struct meshd lifecycle: start-up order, wgdev hooks,
 *                       shutdown, foreground/background run
 *   daemon_gossip.c     mesh gossip inside the tunnel (IPv4/UDP to and from
 *                       our overlay address, MESH_GOSSIP_PORT)
 *   daemon_routes.c     subnet routes: kernel routes via the TUN, advertising
 *   daemon_dns.c        the DNS responder on our overlay addresses
 *   daemon_hosts.c      the managed block in --hosts-file
 *   daemon_endpoints.c  our local endpoints: periodic scan, port mapping,
 *                       network changes
 *   daemon_ctl.c        control socket requests (status, revoke, routes, down)
 *   daemon_tcp.c        the TCP entry for members whose UDP is blocked (D17)
 *   daemon_fallback.c   the other side: falling back to a member's TCP entry
 *
 * Everything runs on the wgdev loop's thread; nothing here locks. */
#ifndef MESHD_DAEMON_INTERNAL_H
#define MESHD_DAEMON_INTERNAL_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "icmp_ptb.h"
#include "ctl.h"
#include "daemon.h"
#include "mesh/dns.h"
#include "mesh/node.h"
#include "mesh/routes.h"
#include "metrics_http.h"
#include "netmon.h"
#include "portmap_run.h"
#include "status.h"
#include "tcp_client.h"
#include "tcp_entry.h"
#include "wgdev.h"

enum {
	MESHD_TCP_RETIRED_MAX = 8,	/* stopped TCP entries still closing */
	DNS_QUERY_MAX = 4096,		/* EDNS queries may be longer than 512 */
	MESHD_STORE_BUSY_MS = 20,	/* longest wait for the database lock on
					 * the loop (mesh/node.h "Persistence") */
};

/* One DNS responder socket (daemon.h "Names"). */
struct meshd_dns {
	uv_udp_t h;
	bool on;
	struct meshd *d;
};

enum { MESHD_FB_BAD_MAX = 8 };	/* failed entries remembered */

/* The TCP fallback's state (daemon_fallback.c). */
struct meshd_fallback {
	struct mesh_tcp_fb fb;		/* the decision: UDP or TCP mode */
	uv_timer_t timer;
	bool on;			/* timer running */
	struct tcp_client *cli;		/* the connection, or NULL */
	bool ready;			/* cli authenticated: datagrams flow */
	bool from_tcp;			/* inside an input that came from cli */
	bool said_none;			/* "no member offers a TCP entry" logged */
	mtime_ns next_connect;
	mtime_ns next_offer_check;	/* entry_offered() cache */
	bool offered;
	uint8_t entry_id[MESH_NODE_ID_LEN];
	char entry_name[MESH_NAME_MAX + 1];
	union endpoint entry_udp;	/* the entry's UDP endpoint we send to */
	unsigned udp_trial;		/* PROBEs to entry_udp still to send over
					 * UDP (a retry of UDP to the entry) */
	struct { uint8_t id[MESH_NODE_ID_LEN]; mtime_ns until; } bad[MESHD_FB_BAD_MAX];
	uint64_t send_drops;
};

struct meshd {
	uv_loop_t loop;			/* ours; every handle below is on it */
	struct wgdev dev;
	struct store *st;
	struct mesh_node *node;
	struct ctl_server ctl;
	uv_timer_t scan;
	bool scan_on;
	bool revoked;
	struct portmap_run portmap;	/* gateway mapping of the UDP port */
	struct netmon netmon;		/* rtnetlink: the network changed (roaming) */
	char dir[PATH_MAX];
	char pidfile[PATH_MAX + 16];
	char ifname[IFNAMSIZ];
	uint8_t ipv4[4], ipv6[16];
	struct mesh_prefix prefix4, prefix6;
	struct meshd_run_opts opts;	/* strings borrowed from the caller */
	int ifindex;			/* of the TUN, once configured (routes) */
	char domain[MESH_NAME_MAX + 1];	/* DNS: the mesh name */
	struct meshd_dns dns[2];	/* [0] overlay IPv4:53, [1] [overlay IPv6]:53 */
	bool ipv6_active;		/* overlay IPv6 address on the TUN */
	bool ipv6_warned;		/* "IPv6 is disabled" said once */
	uint8_t dnsq[DNS_QUERY_MAX];
	uint8_t dnsa[MESH_DNS_UDP_MAX];
	uv_timer_t hosts;		/* hosts_file upkeep */
	bool hosts_on;
	uint64_t hosts_hash;		/* of the last block written; 0: none */
	char hosts_path[PATH_MAX];	/* opts.hosts_file made absolute */
	uint8_t gbuf[WGDEV_MAX_PACKET];	/* outgoing gossip packet */
	uv_idle_t reap;			/* frees the node after shutdown (daemon.c) */
	uv_signal_t sighup;		/* SIGHUP: a clean stop, like SIGTERM */
	bool reap_on, sighup_on;
	struct icmp_ptb_limit ptb_limit;	/* too-big answers into the TUN */
	uint8_t ptb_buf[ICMP_PTB_V6_MAX];
	struct metrics_http metrics;	/* --metrics listener (metrics_daemon.h) */
	struct tcp_entry *tcp;		/* --tcp-port listener, or NULL */
	uint16_t tcp_port;		/* its port; 0 when off */
	struct tcp_entry *tcp_old[MESHD_TCP_RETIRED_MAX];	/* stopped, closing */
	size_t ntcp_old;
	uint64_t tcp_send_drops;	/* datagrams for a connection that is gone */
	struct meshd_fallback fb;	/* client side of the TCP entry */
	bool in_input;			/* inside meshd_underlay_input */
	bool tcp_input;			/* inside our TCP entry's deliver */
};

/* daemon.c */
/* Wall-clock seconds for certificates and records (0 before 1970). */
uint64_t meshd_now_unix(void);
/* Call after the node took input or ran its timers: stops the daemon once
 * our own revocation has arrived. */
void meshd_check_revoked(struct meshd *d);

/* The node's input for a mesh datagram from the underlay (wgdev's hook, and
 * the TCP entry's). */
void meshd_underlay_input(struct meshd *d, const union endpoint *src, const uint8_t *p,
			  size_t len, mtime_ns now);

/* daemon_gossip.c: the node's send_gossip op and wgdev's inner hook. */
void meshd_gossip_send(void *ctx, const uint8_t dst4[4], const uint8_t *p, size_t len);
bool meshd_gossip_input(void *ctx, struct wg_peer *peer, const uint8_t *pkt, size_t len,
			mtime_ns now);

/* daemon_routes.c */
/* r formatted into buf ("?" if it cannot be); returns buf. */
const char *meshd_prefix_str(const struct mesh_prefix *r, char buf[MESH_PREFIX_STRLEN]);
/* The node's route_add/route_del ops; no-ops until the TUN has an ifindex. */
void meshd_route_add(void *ctx, const struct mesh_prefix *r);
void meshd_route_del(void *ctx, const struct mesh_prefix *r);
/* Call once the TUN is up: installs the routes the node already holds. */
void meshd_routes_install(struct meshd *d);
/* Warns (log, and warn when non-NULL) per family in r whose forwarding
 * sysctl is off. */
void meshd_check_forwarding(const struct mesh_prefix *r, size_t n, struct sbuf *warn);
/* Parses list ("CIDR[,CIDR...]" or "none") and makes it our advertised set.
 * 0, or an error code with err filled. */
int meshd_set_advertised(struct meshd *d, const char *list, struct sbuf *warn, char *err,
			 size_t errlen);

/* daemon_dns.c: start once the overlay addresses exist; a socket that
 * cannot bind is a warning. */
void meshd_dns_start(struct meshd *d);
/* The [overlay IPv6]:53 listener alone, once IPv6 has become active. */
void meshd_dns_start_v6(struct meshd *d);
void meshd_dns_stop(struct meshd *d);

/* daemon_hosts.c: nothing without opts.hosts_file. Stop removes our block. */
void meshd_hosts_start(struct meshd *d);
void meshd_hosts_stop(struct meshd *d);

/* daemon_endpoints.c: the rescan timer, port mapping and network monitor,
 * then a first scan. 0 or MESHD_E_SYS with err filled. Stop releases them
 * (the port mapping is deleted; the loop waits for it). */
int meshd_endpoints_start(struct meshd *d, char *err, size_t errlen);
void meshd_endpoints_stop(struct meshd *d);
/* Scans and publishes our endpoints now (a setting that changes them). */
void meshd_endpoints_rescan(struct meshd *d);
/* wgdev hooks for the path MTU (mesh/pmtu.h): the kernel's too-big news
 * for the node, and packets from the TUN that do not fit their peer's path
 * answered with ICMP (icmp_ptb.h) and dropped. */
void meshd_path_mtu(void *ctx, const union endpoint *dst, unsigned mtu);
bool meshd_tun_too_big(void *ctx, const uint8_t *pkt, size_t len, mtime_ns now);

/* daemon_tcp.c. Start: listens on the stored port (nothing when unset);
 * 0, or MESHD_E_* with err filled. Stop closes it; free releases the
 * memory once the loop has run dry. */
int meshd_tcp_start(struct meshd *d, char *err, size_t errlen);
void meshd_tcp_stop(struct meshd *d);
void meshd_tcp_free(struct meshd *d);
/* True when dst is a TCP connection's synthetic endpoint: the datagram was
 * queued to that connection (or dropped when it is gone). */
bool meshd_tcp_send(struct meshd *d, const union endpoint *dst, const uint8_t *p, size_t len);
/* The TCP entries to advertise: one per family, on the first public LOCAL
 * endpoint of local[0..n) whose family the listener serves. Returns how
 * many were written to out (at most max). */
size_t meshd_tcp_entries(const struct meshd *d, const struct mesh_ep *local, size_t n,
			 struct mesh_ep *out, size_t max);
/* "set tcp-port N": moves, starts or (0) stops the listener, stores the
 * setting and re-publishes our endpoints. */
enum ctl_answer meshd_tcp_ctl_set(struct meshd *d, const char *value, struct sbuf *body,
				  char *err, size_t errlen);

/* daemon_fallback.c. Start: the decision timer (never fails the node:
 * MESHD_E_SYS is logged by the caller). */
int meshd_fallback_start(struct meshd *d);
void meshd_fallback_stop(struct meshd *d);
/* True when dst is the entry's endpoint and the connection is up: the
 * datagram went down it (or was dropped when its queue refused it). */
bool meshd_fallback_send(struct meshd *d, const union endpoint *dst, const uint8_t *p, size_t len);
/* The node sent a datagram over UDP (an answer is expected). */
void meshd_fallback_udp_sent(struct meshd *d);
/* Something authenticated from a member arrived (not over TCP). */
void meshd_fallback_udp_answer(struct meshd *d);
/* After an underlay input: acks_before is mesh_node_probe_acks() before. */
void meshd_fallback_input_done(struct meshd *d, uint64_t acks_before);
/* True while our traffic goes through a TCP entry. */
bool meshd_fallback_tcp(const struct meshd *d);

/* What status reports beside the node (daemon_ctl.c). */
void meshd_status_opts(const struct meshd *d, struct status_opts *o);

/* daemon_ctl.c: the ctl_server callbacks (ctl.h). */
enum ctl_answer meshd_ctl_handle(void *ctx, const char *req, struct sbuf *body, char *err,
				 size_t errlen);
void meshd_ctl_stop(void *ctx);

/* daemon_ipv6.c: adds the overlay IPv6 address when IPv6 is enabled on the
 * TUN and it is not there yet (a host with IPv6 disabled runs IPv4-only
 * until then); DNS and routes follow. Called at start-up and on every scan
 * and network change. Returns 0, or MESHD_E_SYS (errno set) for a failure
 * other than "IPv6 is off". */
int meshd_ipv6_try(struct meshd *d);

#endif
