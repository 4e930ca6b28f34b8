/* Test fixture for the WireGuard core: two devices, A and B, joined by a
 * virtual network (a FIFO of datagrams) and a virtual clock. Host ops send()
 * puts datagrams on the queue; wgt_pump() delivers them to the other side. */
#ifndef MESHD_TESTS_WGTEST_H
#define MESHD_TESTS_WGTEST_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/time.h"
#include "wg/wg.h"

enum { WGT_QMAX = 1024, WGT_BUF = 2048 };

struct wgt_dgram {
	int from;			/* node index */
	union endpoint src, dst;
	size_t len;
	alignas(8) uint8_t buf[WGT_BUF + WG_TAILROOM];
};

struct wgt_node {
	struct wg_device *dev;
	struct wg_peer *peer;		/* the other node, as this one sees it */
	union endpoint addr;		/* our source address on the wire */
	uint8_t priv[32], pub[32];
	unsigned sent[5];		/* datagrams handed to send(), by type 1..4 */
	unsigned sent_bytes;
	unsigned delivered;		/* inner packets delivered to the "TUN" */
	uint8_t last[WGT_BUF];		/* the last one */
	size_t last_len;
	struct wgt_net *net;
	int idx;
};

struct wgt_net {
	struct wgt_node n[2];
	struct wgt_dgram q[WGT_QMAX];
	unsigned qhead, qlen;
	mtime_ns now;
	uint64_t wall_base;		/* walltime seconds at now == 0 */
};

/* Fresh devices with random keys, each the other's peer, endpoints set,
 * allowed IPs: A 10.0.0.1/32 fd00::1/128, B 10.0.0.2/32 fd00::2/128. */
void wgt_init(struct wgt_net *net);
void wgt_free(struct wgt_net *net);

/* Builds an IPv4 (v6=false) or IPv6 packet with `payload` bytes from node
 * `from` to its peer's first address and feeds it to wg_input_tun; a SEND
 * result is queued. inner_src overrides the source address (NULL: own).
 * Returns the wg_result action. */
int wgt_send_ip(struct wgt_net *net, int from, bool v6, size_t payload,
		const uint8_t *inner_src);
/* Delivers queued datagrams (and whatever they cause) until the queue is
 * empty or `max` were delivered. Returns how many were delivered. */
unsigned wgt_pump(struct wgt_net *net, unsigned max);
/* Delivers one datagram; returns false when the queue is empty. */
bool wgt_deliver_one(struct wgt_net *net);
/* Takes the first queued datagram out without delivering it. */
bool wgt_pop(struct wgt_net *net, struct wgt_dgram *out);
/* Feeds a datagram to node `to` as if from `src`; records deliveries. */
void wgt_input(struct wgt_net *net, int to, uint8_t *buf, size_t len,
	       const union endpoint *src, struct wg_result *res);
/* Drops everything queued. */
void wgt_flush(struct wgt_net *net);
/* Advances the clock to `t`, running both devices' expiries on the way
 * (at every deadline, so retries happen when they should), delivering
 * datagrams only if `deliver`. */
void wgt_advance(struct wgt_net *net, mtime_ns t, bool deliver);
/* Sets the clock to t and runs both devices' expiries once; the queue is
 * left alone. */
void wgt_expire(struct wgt_net *net, mtime_ns t);
/* A full handshake A->B (or B->A with from=1) through a data packet. */
void wgt_handshake(struct wgt_net *net, int from);
/* Total datagrams of `type` node sent. */
unsigned wgt_sent(const struct wgt_net *net, int node, int type);

#endif
