/* The WireGuard protocol core: a sans-I/O state machine.
 *
 * Inputs:  a datagram and its source (wg_input_datagram), an IP packet read from
 *          the TUN (wg_input_tun), configuration calls, and the time ("now",
 *          monotonic ns). Wall-clock time (TAI64N, latest handshake) comes from
 *          the host through wg_host_ops.walltime.
 * Outputs: the in-place result of the input call (send these bytes there /
 *          deliver this plaintext), datagrams handed to wg_host_ops.send
 *          (handshakes, cookie replies, keepalives, packets staged while a
 *          handshake ran), and the next deadline (wg_next_expiry).
 *
 * This layer knows nothing of libuv, sockets, SQLite or the mesh. It uses
 * libsodium, libb2 and util/ only.
 *
 * Buffers: data-path buffers carry WG_HEADROOM bytes in front of the IP packet
 * and at least WG_TAILROOM bytes after it, so encryption and decryption run in
 * place with no copy and no allocation.
 */
#ifndef MESHD_WG_WG_H
#define MESHD_WG_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/time.h"

enum {
	WG_KEY_LEN = 32,
	WG_HEADROOM = 16,	/* type(4) + receiver(4) + counter(8) */
	WG_TAILROOM = 16 + 15,	/* Poly1305 tag + padding to 16 */
	WG_MAX_DATAGRAM = 65535,
};

struct wg_device;
struct wg_peer;

/* The core is single-threaded: one thread calls every wg_* function of a
 * device. The upcalls below run synchronously inside wg_input_tun,
 * wg_input_datagram, wg_handle_expiry and wg_peer_set_keepalive; they must not
 * call back into the device (no wg_* calls on it, above all no peer removal). */
struct wg_host_ops {
	/* Send one datagram now. buf is only borrowed for the duration of the call. */
	void (*send)(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len);
	/* Current wall-clock time (for TAI64N timestamps and latest-handshake). */
	void (*walltime)(void *ctx, struct walltime *out);
};

enum wg_action {
	WG_ACT_NONE = 0,	/* nothing to do (consumed, queued or dropped) */
	WG_ACT_SEND,		/* send buf[off, off+len) to dst */
	WG_ACT_DELIVER,		/* write buf[off, off+len) (an IP packet) to the TUN */
	WG_ACT_CRYPT,		/* (the _job inputs only) run the job, then finish it */
};

struct wg_result {
	enum wg_action act;
	size_t off, len;
	union endpoint dst;	/* for WG_ACT_SEND */
	struct wg_peer *peer;	/* the peer concerned, or NULL */
};

/* Creation. Returns NULL and sets *err (MESHD_E_NOMEM) on failure. ops is copied. */
struct wg_device *wg_device_new(const struct wg_host_ops *ops, void *ctx, int *err);
/* Frees the device, all peers and all key material (zeroed). NULL is a no-op. */
void wg_device_free(struct wg_device *dev);

/* Set the static private key (clamped as X25519 requires). An all-zero key
 * removes it. Peers whose public key equals the new public key are removed
 * (as the kernel does). Returns 0 or MESHD_E_INVAL. */
int wg_device_set_private_key(struct wg_device *dev, const uint8_t key[WG_KEY_LEN], mtime_ns now);
/* Copies the private/public key out; false when none is set. */
bool wg_device_get_private_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN]);
bool wg_device_get_public_key(const struct wg_device *dev, uint8_t out[WG_KEY_LEN]);

/* Data path. buf points WG_HEADROOM bytes before the IP packet of length len;
 * cap is the whole buffer size (>= WG_HEADROOM + len + WG_TAILROOM). On a
 * valid session the packet is encrypted in place and the result says
 * WG_ACT_SEND with the peer's endpoint. Without a session the packet is
 * queued (bounded) and a handshake is started; no route: dropped. */
void wg_input_tun(struct wg_device *dev, uint8_t *buf, size_t len, size_t cap,
		  mtime_ns now, struct wg_result *res);

/* A datagram from the UDP socket (buf must be 8-byte aligned). Data messages
 * are decrypted in place (WG_ACT_DELIVER); handshake and cookie messages are
 * consumed and any reply goes out through ops->send. Anything malformed or
 * unauthenticated is dropped without a reply. */
void wg_input_datagram(struct wg_device *dev, uint8_t *buf, size_t len,
		       const union endpoint *src, mtime_ns now, struct wg_result *res);

/* Deferred data-message crypto, so that the caller can spread the AEAD work
 * of a batch over threads while the core stays single-threaded and
 * lock-free (docs/decisions.md, "All cores").
 *
 * wg_input_tun_job() and wg_input_datagram_job() do what wg_input_tun() and
 * wg_input_datagram() do, except that when a data message's AEAD would run
 * they fill *job and answer WG_ACT_CRYPT instead of sealing or opening. The
 * caller then runs wg_crypt_job_run(job) on any thread (it touches only the
 * job's buffer and that thread's cipher context), and afterwards, on the
 * core's thread, wg_crypt_job_finish(dev, job, now, res) with the res the
 * _job call filled: it becomes WG_ACT_SEND (the sealed datagram, buf[0,
 * len)), WG_ACT_DELIVER (the opened packet, as wg_input_datagram says) or
 * WG_ACT_NONE (dropped: forged, replayed, or its keypair gone meanwhile).
 *
 * Rules:
 * - until a job has run, the only calls into the device are more _job
 *   calls (a job points into a keypair that other calls may clear); only
 *   data messages become jobs, any other message is handled at once, so
 *   pass one (wg_is_data_message()) only when no job is waiting to run;
 * - run every job of a batch before finishing any, and finish them in the
 *   order they were made (the replay window and timers see them in order);
 * - finish a sealed job before any other call (it may touch its peer);
 *   an opened job looks its keypair up again by index and key id when
 *   finished, so a keypair that was rotated out or cleared meanwhile
 *   drops its packet, and other calls may come between;
 * - every thread that ran jobs calls wg_crypt_thread_wipe() before it
 *   sleeps, so that no key stays in its cipher contexts.
 * Sealed jobs count as sent (timers, tx_bytes) when made. */
struct wg_aead_ctx;
struct wg_crypt_job {
	struct wg_aead_ctx *aead;	/* the keypair's seal or open context */
	uint8_t *buf;			/* the data message (its header at buf) */
	size_t len;			/* payload bytes, padding included, no tag */
	uint64_t counter;
	uint64_t key_id;		/* open: the keypair must still hold this key */
	union endpoint src;		/* open: where the datagram came from */
	bool seal;
	bool ok;			/* set by wg_crypt_job_run */
};
void wg_input_tun_job(struct wg_device *dev, uint8_t *buf, size_t len, size_t cap,
		      mtime_ns now, struct wg_result *res, struct wg_crypt_job *job);
void wg_input_datagram_job(struct wg_device *dev, uint8_t *buf, size_t len,
			   const union endpoint *src, mtime_ns now, struct wg_result *res,
			   struct wg_crypt_job *job);
/* A WireGuard data message (type 4, long enough): the kind that becomes a job. */
bool wg_is_data_message(const uint8_t *buf, size_t len);
/* Any thread. Returns job->ok. */
bool wg_crypt_job_run(struct wg_crypt_job *job);
void wg_crypt_job_finish(struct wg_device *dev, struct wg_crypt_job *job, mtime_ns now,
			 struct wg_result *res);
/* Wipes the calling thread's cipher contexts (no key left in them). */
void wg_crypt_thread_wipe(void);
/* Frees them: a thread that ran jobs calls it before it ends. */
void wg_crypt_thread_exit(void);

/* Timers: the earliest deadline of any peer (MTIME_NEVER if none), and the
 * handler to call at or after it; it does nothing when nothing expired.
 * Every other call (input, peer configuration) may move the deadline
 * earlier, so re-read wg_next_expiry() after each batch of calls.
 * wg_next_expiry() scans all peers (O(peers)). */
mtime_ns wg_next_expiry(const struct wg_device *dev);
void wg_handle_expiry(struct wg_device *dev, mtime_ns now);

/* Force "under load" (cookie replies for every initiation) on or off, or
 * leave it to the core's own measurement (WG_LOAD_AUTO). For tests and for a
 * host that knows its queues are filling. */
enum wg_load_mode { WG_LOAD_AUTO = 0, WG_LOAD_FORCE_ON, WG_LOAD_FORCE_OFF };
void wg_device_set_load_mode(struct wg_device *dev, enum wg_load_mode mode);

/* The TUN MTU: data padding (to a multiple of 16) never grows a packet past
 * it, as the kernel and wireguard-go do. 0 (the default) = no cap. */
void wg_device_set_mtu(struct wg_device *dev, unsigned mtu);

/* Peers. */
/* Adds a peer; MESHD_E_EXIST if present (*out then points to it), MESHD_E_INVAL
 * if it is our own public key, MESHD_E_NOMEM. */
int wg_peer_add(struct wg_device *dev, const uint8_t pubkey[WG_KEY_LEN], mtime_ns now,
		struct wg_peer **out);
struct wg_peer *wg_peer_lookup(const struct wg_device *dev, const uint8_t pubkey[WG_KEY_LEN]);
/* Removes the peer, its sessions, allowed IPs and queued packets. */
void wg_peer_remove(struct wg_device *dev, struct wg_peer *peer);
void wg_peer_remove_all(struct wg_device *dev);
/* Iterates in insertion order: wg_peer_next(dev, NULL) is the first. */
struct wg_peer *wg_peer_next(const struct wg_device *dev, const struct wg_peer *prev);

/* The layer above found a working underlay path to peer (a probe answered)
 * while there is no usable session: send a handshake initiation now, even
 * if one went out less than REKEY_TIMEOUT ago (it most likely went down a
 * path that did not work, e.g. into a NAT that had no hole yet). Does
 * nothing with a usable session or no endpoint, and at most once per
 * WG_INITIATE_NOW_MIN_MS per peer. */
enum { WG_INITIATE_NOW_MIN_MS = 1000 };
void wg_peer_initiate_now(struct wg_device *dev, struct wg_peer *peer, mtime_ns now);

/* All-zero clears the preshared key. */
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t psk[WG_KEY_LEN]);
void wg_peer_set_endpoint(struct wg_peer *peer, const union endpoint *ep);
/* Persistent keepalive interval in seconds (0 = off). When turned on for a
 * peer with an endpoint, a keepalive is sent at once (as wireguard-go does). */
void wg_peer_set_keepalive(struct wg_device *dev, struct wg_peer *peer, uint16_t interval_s,
			   mtime_ns now);
/* Cryptokey routing. family is AF_INET or AF_INET6; addr in network order;
 * cidr is clamped to the family's width (MESHD_E_INVAL if larger). Adding a
 * prefix another peer holds moves it to this peer. */
int wg_peer_allowedip_add(struct wg_device *dev, struct wg_peer *peer, int family,
			  const void *addr, uint8_t cidr);
int wg_peer_allowedip_remove(struct wg_device *dev, struct wg_peer *peer, int family,
			     const void *addr, uint8_t cidr);
void wg_peer_allowedips_clear(struct wg_device *dev, struct wg_peer *peer);
typedef void wg_allowedip_fn(void *arg, int family, const uint8_t *addr, uint8_t cidr);
void wg_peer_allowedips_foreach(const struct wg_device *dev, const struct wg_peer *peer,
				wg_allowedip_fn *fn, void *arg);

struct wg_peer_info {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];	/* all-zero when none */
	union endpoint endpoint;		/* AF_UNSPEC when none */
	struct walltime last_handshake;		/* zero when never */
	uint64_t rx_bytes, tx_bytes;		/* datagram bytes as wireguard-go counts them */
	uint16_t keepalive_interval;		/* seconds, 0 = off */
};
void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *out);

/* Activity, for a layer above that keeps idle peers quiet: the monotonic
 * time of the last data packet routed to the peer (sent, or staged for a
 * handshake) or received from it and authenticated; 0 when never.
 * Keepalives, handshakes and packets to or from the quiet port (below) do
 * not count. */
mtime_ns wg_peer_last_data(const struct wg_peer *peer);
/* Inner IPv4/IPv6 UDP packets whose source or destination port is port
 * are not activity (the mesh's own in-tunnel gossip); 0 (the default)
 * means every data packet is. */
void wg_device_set_quiet_port(struct wg_device *dev, uint16_t port);

/* Opaque per-peer pointer for the layer above (the mesh keeps its node here). */
void wg_peer_set_user(struct wg_peer *peer, void *user);
void *wg_peer_get_user(const struct wg_peer *peer);

/* Whether a message type byte belongs to WireGuard (1..4, other bytes zero):
 * lets the host demultiplex WireGuard from other protocols on one socket. */
bool wg_is_wg_datagram(const uint8_t *buf, size_t len);

#endif
