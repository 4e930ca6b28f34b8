/* The mesh-mode daemon (`meshd up`, and `meshd join` after a successful join):
 * struct meshd owns the wg device (struct wgdev: loop, TUN, UDP, UAPI), the
 * store, the mesh node (mesh/node.h) and the control socket (ctl.h).
 *
 *  - UDP datagrams: WireGuard (wg_is_wg_datagram) to the wg core; a first byte
 *    MESH_MSG_MAGIC to mesh_node_input_underlay(); anything else dropped.
 *  - Decrypted packets: IPv4 UDP to our overlay IPv4 address, port
 *    MESH_GOSSIP_PORT, go to mesh_node_input_gossip() and never reach the
 *    kernel; everything else goes to the TUN.
 *  - Outgoing gossip: wrapped in IPv4/UDP and encrypted like a TUN packet.
 *  - The TUN gets the overlay addresses (IPv4 with the mesh's /16 prefix
 *    length, IPv6 with /48, no DAD) and is brought up, over rtnetlink.
 *  - Local endpoints (every up, non-loopback interface address except the
 *    TUN's and link-local IPv6, with our UDP port) are gathered at start and
 *    every MESHD_ENDPOINT_SCAN_S and handed to mesh_node_set_endpoints().
 *  - Names: a DNS responder (mesh/dns.h) on UDP port 53 of our
 *    overlay IPv4 and IPv6 addresses answers for MESH (the mesh name) only.
 *  - Subnet routes: ops.route_add/route_del of the node become
 *    kernel routes via the TUN (rtnetlink); TCP SYNs through the TUN in both
 *    directions get their MSS clamped to the TUN MTU minus 40 (IPv4) / 60
 *    (IPv6); a warning at start when we advertise routes of a family whose
 *    forwarding sysctl is off.
 *    Implementation: kernel routes carry protocol NETLINK_RTPROT_MESHD (77:
 *    `ip route show proto 77`); routes the node installs before the TUN is
 *    up are added right after it is. The DNS sockets are libuv UDP handles
 *    bound once the overlay addresses exist; a bind failure is a warning.
 *    The hosts_file block is rebuilt every few seconds from the member list
 *    and rewritten only when its hash changes.
 *  - SIGINT/SIGTERM, `meshd down`, or our own revocation stop it cleanly:
 *    ctl socket removed first, then UAPI socket, TUN, store closed last.
 */
#ifndef MESHD_DAEMON_H
#define MESHD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

enum {
	MESHD_ENDPOINT_SCAN_S = 10,
};

#define MESHD_DB_NAME "meshd.db"
#define MESHD_DEFAULT_DIR "/var/lib/meshd"
#define MESHD_DEFAULT_IFNAME "meshd0"
#define MESHD_DEFAULT_PORT 51820

/* Runs the node stored in dir. ifname NULL: the stored one (else it is
 * stored). Without foreground, forks: the parent returns 0 once the child is
 * ready (ctl socket answering) or 1 after printing the child's one-line
 * reason to stderr; the child detaches and runs until stopped. With
 * foreground, runs in this process and returns the exit code when stopped
 * (1 with one line on stderr when start-up fails). Errors are printed as
 * "meshd: REASON". */
int meshd_daemon_run(const char *dir, const char *ifname, bool foreground);
/* The same with options: advertise (NULL: keep what the store holds; else
 * "CIDR[,CIDR...]" or "none", applied with mesh_node_set_advertised() as
 * the last step of the start, so a start that fails otherwise leaves the
 * stored routes as they were, and a bad list fails the start with its
 * message); hosts_file (NULL:
 * none; else a file such as /etc/hosts in which the daemon keeps a managed
 * block "NAME.MESH" -> overlay addresses, rewritten atomically when members
 * change and removed at stop); hosts_short (also the bare "NAME" on each
 * IPv4 line: opt-in, since a member then answers single-label lookups such
 * as "wpad" or "proxy" for the whole host). */
struct meshd_run_opts {
	const char *ifname;
	bool foreground;
	const char *advertise;
	const char *hosts_file;
	bool hosts_short;
	bool udp_blocked;	/* `join` got its answer only over TCP: start
				 * on the TCP fallback at once */
	const char *start_hint;	/* a second line after the reason when the
				 * start fails (`join`: the node is stored) */
	bool *started;		/* if set: made true once the node runs, so a
				 * failure can be told from a failed start */
};
int meshd_daemon_run_opts(const char *dir, const struct meshd_run_opts *o);

/* The state directory: dir_opt, else $MESHD_STATE_DIR, else MESHD_DEFAULT_DIR. */
const char *meshd_state_dir(const char *dir_opt);

#endif
