/* Network change monitor (roaming): an rtnetlink socket subscribed
 * to link, address and route events, polled on the daemon's libuv loop.
 *
 * What counts as a change: a link, or an address on an interface, coming,
 * going or changing, except on ignore_ifindex (our own TUN); a route in the
 * main table, or a default route in any other table but "local", except
 * routes we install ourselves (protocol NETLINK_RTPROT_MESHD), routes out of
 * ignore_ifindex and cloned (cache) routes. An overrun of the socket's
 * receive buffer (ENOBUFS: events were lost) counts as a change too.
 *
 * Bursts are coalesced: the first change arms a NETMON_SETTLE_MS timer and
 * changed(ctx) is called once when it fires, however many events arrived in
 * between (a fixed window, so a storm of events cannot postpone it forever).
 * changed runs on the loop thread and may call netmon_stop().
 */
#ifndef MESHD_NETMON_H
#define MESHD_NETMON_H

#include <stdbool.h>
#include <uv.h>

enum {
	NETMON_SETTLE_MS = 50,		/* wait for more events after the first */
	NETMON_READS_MAX = 64,		/* datagrams per poll callback (starvation cap) */
	NETMON_RCVBUF = 1 << 20,	/* socket receive buffer asked for */
};

struct mnl_socket;

struct netmon {
	struct mnl_socket *nl;
	uv_poll_t poll;
	uv_timer_t timer;
	bool on;			/* started; handles open */
	bool pending;			/* timer armed */
	int ignore_ifindex;
	unsigned long changes;		/* coalesced changes reported */
	void (*changed)(void *ctx);
	void *ctx;
};

/* Opens the socket, joins the groups and starts polling on loop. The struct
 * must stay in place until the loop has run the close callbacks after
 * netmon_stop(). Returns 0, or MESHD_E_SYS (errno set: socket, bind, poll). */
int netmon_start(struct netmon *nm, uv_loop_t *loop, int ignore_ifindex,
		 void (*changed)(void *ctx), void *ctx);

/* Stops polling, drops a pending change and closes the handles (the socket
 * is closed once the poll handle is). No-op when not started. */
void netmon_stop(struct netmon *nm);

#endif
