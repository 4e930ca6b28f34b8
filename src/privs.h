/* Least privilege for a daemon that has finished its set-up.
 *
 * meshd starts as root: it opens /dev/net/tun, adds addresses and routes,
 * binds the UDP port, the UAPI and control sockets and the DNS listener. Once
 * that is done the running daemon needs only
 *   CAP_NET_ADMIN         routes, addresses (IPv6 coming back), SO_MARK,
 *                         SO_RCVBUFFORCE/SO_SNDBUFFORCE on a rebind;
 *   CAP_NET_BIND_SERVICE  the DNS listener on port 53, re-bound when IPv6
 *                         returns, and a UAPI listen-port below 1024.
 * No code path uses raw or packet sockets or SO_BINDTODEVICE, so CAP_NET_RAW
 * is dropped. The process stays uid 0: files and directories root owns (the
 * state directory, the hosts file, /var/run/wireguard) stay writable by plain
 * DAC as their owner. A path we write later that root does not own, or that
 * denies its owner, keeps CAP_DAC_OVERRIDE as well (logged), rather than
 * breaking the daemon half-way through its life.
 *
 * Capabilities are per thread: a thread created before the drop keeps its
 * own full set. Call privs_drop() before anything starts a thread (the
 * libuv thread pool starts with the first uv_queue_work); threads created
 * afterwards inherit the reduced sets.
 */
#ifndef MESHD_PRIVS_H
#define MESHD_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

/* Capability numbers as in <linux/capability.h>, repeated so callers and
 * tests need not include the kernel header. */
enum {
	PRIVS_CAP_DAC_OVERRIDE = 1,
	PRIVS_CAP_NET_BIND_SERVICE = 10,
	PRIVS_CAP_NET_ADMIN = 12,
	PRIVS_CAP_NET_RAW = 13,
};

#define PRIVS_BIT(cap) ((uint64_t)1 << (cap))
/* What a running daemon keeps. */
#define PRIVS_KEEP_DEFAULT (PRIVS_BIT(PRIVS_CAP_NET_ADMIN) | PRIVS_BIT(PRIVS_CAP_NET_BIND_SERVICE))

/* Whether the process, with CAP_DAC_OVERRIDE gone but still uid/gid as now,
 * could still do what the daemon does later with path: for a directory,
 * create and remove entries in it; for a file, read it and replace it by a
 * rename in its directory (the hosts file). A path that does not exist is
 * judged by its directory. */
bool privs_path_needs_dac(const char *path);

/* Drops every capability but PRIVS_KEEP_DEFAULT (plus CAP_DAC_OVERRIDE when
 * privs_path_needs_dac() says so for one of paths, a NULL-terminated list)
 * from the bounding set, then from the permitted and effective sets; clears
 * the inheritable and ambient sets and sets no_new_privs. Logs what it kept.
 * MESHD_DROP_PRIVS=0 in the environment skips it (debugging).
 * Never fatal: a process without CAP_SETPCAP (a container, a non-root run)
 * keeps its bounding set and gets a warning; the caller continues either way.
 * Returns 0 when the sets are as asked (or the drop was skipped on purpose),
 * MESHD_E_PERM when some capability could not be dropped, MESHD_E_SYS
 * (errno saved) when the capability calls themselves failed. */
int privs_drop(const char *const *paths);

#endif
