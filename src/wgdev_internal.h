/* Shared by wgdev.c (the data path) and wgdev_setup.c (set-up and
 * teardown); not for other files. */
#ifndef MESHD_WGDEV_INTERNAL_H
#define MESHD_WGDEV_INTERNAL_H

#include "wgdev.h"
#include "wg/wg.h"

extern const struct wg_host_ops wgdev_host_ops;

mtime_ns wgdev_timer_next(void *ctx);
void wgdev_timer_fire(void *ctx, mtime_ns now);
void wgdev_on_udp(uv_poll_t *h, int status, int events);
void wgdev_on_tun(uv_poll_t *h, int status, int events);
/* Re-reads the TUN's MTU into the core (it was changed from outside). */
void wgdev_refresh_mtu(struct wgdev *dev);

#endif
