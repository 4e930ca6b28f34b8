/* The TUN device: /dev/net/tun with IFF_TUN | IFF_NO_PI (raw IP packets),
 * optionally with IFF_VNET_HDR and offloads (see offload.h). */
#ifndef MESHD_TUN_H
#define MESHD_TUN_H

#include <stdbool.h>
#include <stddef.h>

enum {
	TUN_DEFAULT_MTU = 1420,
	TUN_TXQUEUELEN = 1000,
};

/* Whether name is a valid Linux interface name: 1..15 bytes, no '/', ':' or
 * whitespace, not "." or "..". */
bool tun_name_valid(const char *name);

/* Creates (or attaches to) the TUN interface name; returns a non-blocking,
 * close-on-exec fd or MESHD_E_SYS with errno saved. The kernel deletes the
 * interface when the last fd is closed. */
int tun_open(const char *name);

/* Offload features of an fd opened by tun_open_offload(). */
enum {
	TUN_OFL_VNET = 1,	/* every read and write carries a virtio_net_hdr */
	TUN_OFL_TSO = 2,	/* the kernel hands us TCP super-packets (TSO4/TSO6) */
	TUN_OFL_USO = 4,	/* ... and UDP ones (USO4/USO6), Linux >= 6.2 */
};

/* Like tun_open(), asking for IFF_VNET_HDR (little-endian headers) with
 * TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6, then without USO. When the kernel
 * refuses the header or every offload, the fd is reopened as a plain TUN.
 * *features gets the TUN_OFL_* bits in force (0: plain). Same returns as
 * tun_open(). */
int tun_open_offload(const char *name, unsigned *features);

/* Whether an interface called name exists and is not a TUN (its ethtool
 * driver is not "tun"; without driver information, it has a link-layer
 * type), so tun_open(name) would fail. Creates nothing. */
bool tun_name_held(const char *name);

/* Interface settings through an AF_INET datagram socket. 0 or MESHD_E_SYS. */
int tun_set_mtu(const char *name, int mtu);
int tun_get_mtu(const char *name, int *mtu);
int tun_set_txqueuelen(const char *name, int qlen);

#endif
