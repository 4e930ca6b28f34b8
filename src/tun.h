/* The TUN device: /dev/net/tun with IFF_TUN | IFF_NO_PI (raw IP packets). */
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

/* Interface settings through an AF_INET datagram socket. 0 or MESHD_E_SYS. */
int tun_set_mtu(const char *name, int mtu);
int tun_get_mtu(const char *name, int *mtu);
int tun_set_txqueuelen(const char *name, int qlen);

#endif
