/* struct wg_device and the functions the core's files share (internal). */
#ifndef MESHD_WG_DEVICE_H
#define MESHD_WG_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/list.h"
#include "util/time.h"
#include "wg/allowedips.h"
#include "wg/cookie.h"
#include "wg/index.h"
#include "wg/ratelimit.h"
#include "wg/wg.h"

enum {
	/* Automatic load detection: the device counts itself "under load" once
	 * more than WG_LOAD_HANDSHAKES_PER_SEC handshake messages (types 1
	 * and 2, right length) arrive within one second, and stays so until
	 * WG_LOAD_HOLD_MS pass without that happening again (the kernel holds
	 * for one second as well). 256/s is far above what legitimate peers
	 * produce (one initiation per peer per REKEY_TIMEOUT) and far below
	 * what one core can answer. */
	WG_LOAD_HANDSHAKES_PER_SEC = 256,
	WG_LOAD_HOLD_MS = 1000,
};

struct wg_device {
	struct wg_host_ops ops;
	void *ctx;

	uint8_t static_private[32];
	uint8_t static_public[32];
	bool have_key;

	struct list peers;		/* of struct wg_peer, insertion order */
	uint64_t next_internal_id;
	struct wg_allowedips aip;
	struct wg_cookie_checker cookie;
	struct wg_ratelimit *ratelimit;

	enum wg_load_mode load_mode;
	mtime_ns load_window_start;	/* monotonic */
	unsigned load_window_count;
	mtime_ns last_under_load;	/* 0 = never */

	unsigned mtu;			/* 0 = do not cap padding */
	uint16_t quiet_port;		/* not activity (wg_peer_last_data); 0: none */

	struct wg_index index;		/* large: keep last */
};

/* True when the IP packet pkt (len bytes, maybe padded) is UDP from or to
 * dev->quiet_port: not activity for wg_peer_last_data(). */
bool wg_packet_is_quiet(const struct wg_device *dev, const uint8_t *pkt, size_t len);

/* The fixed IP header of a tunnelled packet. */
struct wg_ip_hdr {
	int family;			/* AF_INET or AF_INET6 */
	const uint8_t *src, *dst;	/* the addresses, inside the packet */
	size_t len;			/* the packet's length by its header */
};

/* Reads the IPv4 or IPv6 header of pkt (len bytes). False when pkt is
 * neither or shorter than the fixed header; h->len is not checked. */
bool wg_ip_hdr_parse(const uint8_t *pkt, size_t len, struct wg_ip_hdr *h);

/* send.c */
/* Start a handshake unless one was sent less than REKEY_TIMEOUT ago. A retry
 * keeps the attempt count; otherwise it is reset. */
void wg_send_handshake_initiation(struct wg_device *dev, struct wg_peer *peer, bool is_retry,
				  mtime_ns now);
void wg_send_handshake_response(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);
/* Stage a keepalive (when nothing is staged) and send what is staged. */
void wg_send_keepalive(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);
/* Encrypt and send every staged packet with the current keypair, or start a
 * handshake when there is none usable. */
void wg_send_staged(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);
/* wg_crypt_job_finish() of a sealed job (send.c). */
void wg_send_job_finish(struct wg_device *dev, struct wg_crypt_job *job,
			struct wg_result *res);
struct wg_aead_ctx;

/* Fills job for sealing or opening len payload bytes of the data message
 * at buf with aead (and its key id) at counter (receive.c). */
void wg_crypt_job_prepare(struct wg_crypt_job *job, struct wg_aead_ctx *aead, uint8_t *buf,
			  size_t len, uint64_t counter, bool seal);
/* Hand a datagram to the host and account for it. */
void wg_send_buffer(struct wg_device *dev, struct wg_peer *peer, const uint8_t *buf,
		    size_t len);

/* receive.c: the handshake rate accounting behind WG_LOAD_AUTO. */
bool wg_device_under_load(struct wg_device *dev, mtime_ns now);

#endif
