/* Path MTU of one peer's direct path, sans-I/O: packetization-layer PMTU
 * discovery after RFC 8899 (DPLPMTUD) with padded PROBEs (mesh/probe.h),
 * plus ICMP "fragmentation needed" / "packet too big" hints.
 *
 * Sizes are whole IP packets of the underlay (IP + UDP header + payload):
 * what a router's link MTU limits. The caller turns a size into a padded
 * PROBE of size - MESH_PMTU_HDR_V4/V6 bytes of UDP payload.
 *
 * Search. mesh_pmtu_start() (a new direct path) probes `max` first, the
 * size the tunnel needs (full-size inner packets plus WireGuard overhead):
 * on a normal path that one answer ends the search. When max is lost
 * MESH_PMTU_MAX_PROBES times, BASE (1280, IPv6's minimum) is probed: no
 * answer there means a dead path or a peer that does not speak padded
 * probes (older nodes drop them): NOANSWER, nothing is clamped, and the
 * search is retried after MESH_PMTU_RETRY_S. Otherwise a binary search
 * between the largest answered (lo) and the smallest lost (hi) size, to one
 * byte. Only lost probes cost time (MESH_PMTU_MAX_PROBES timeouts each), so
 * a path that drops ICMP is found in about 2 * 9 timeouts.
 *
 * ICMP. mesh_pmtu_input_ptb() (a frag-needed / packet-too-big the kernel
 * matched to our socket, or its own EMSGSIZE) takes effect at once, as the
 * kernel would do, so inner senders are told without waiting, and then the
 * size is confirmed by a probe (a forged ICMP can at worst lower the path
 * to BASE until the next raise). Values below BASE are ignored.
 *
 * After the search (DONE) the found size is re-probed every
 * MESH_PMTU_CONFIRM_S: MESH_PMTU_MAX_PROBES losses there while BASE still
 * answers is a black hole (the path shrank silently): the effective MTU
 * drops to BASE at once and the search runs again. Below max, a search
 * upwards runs every MESH_PMTU_RAISE_S.
 *
 * The effective MTU (mesh_pmtu_get) is 0, "unknown: do not clamp", until a
 * search or an ICMP hint says otherwise; a search that is still running
 * never lowers it (clamping to BASE meanwhile would make inner TCP
 * remember a small MTU for minutes on a path that has none).
 *
 * Upcalls run inside the call that triggers them and must not call back
 * into the engine. Probes go out from mesh_pmtu_start(), _input_ack(),
 * _input_ptb() and _handle_expiry().
 */
#ifndef MESHD_MESH_PMTU_H
#define MESHD_MESH_PMTU_H

#include <stdbool.h>
#include <stdint.h>

#include "util/time.h"

enum {
	MESH_PMTU_BASE = 1280,		/* BASE_PLPMTU: IPv6's minimum link MTU */
	MESH_PMTU_HDR_V4 = 20 + 8,	/* IPv4 + UDP headers */
	MESH_PMTU_HDR_V6 = 40 + 8,	/* IPv6 + UDP headers */
	MESH_PMTU_MAX_PROBES = 2,	/* losses before a size counts as too big */
	MESH_PMTU_PROBE_TIMEOUT_MS = 300,	/* + 2 x the last probe RTT */
	MESH_PMTU_PROBE_TIMEOUT_MAX_MS = 3000,
	MESH_PMTU_CONFIRM_S = 30,	/* re-probe of the found size */
	MESH_PMTU_RAISE_S = 600,	/* PMTU_RAISE_TIMER of RFC 8899 */
	MESH_PMTU_RETRY_S = 60,		/* BASE unanswered: start again */
};

enum mesh_pmtu_state {
	MESH_PMTU_OFF,			/* no direct path: not probing */
	MESH_PMTU_SEARCH,		/* probing (first max, then BASE, then halves) */
	MESH_PMTU_DONE,			/* found; confirming and raising later */
	MESH_PMTU_NOANSWER,		/* BASE unanswered: retry later */
};

struct mesh_pmtu_cfg {
	/* Send one padded PROBE of `size` bytes (IP packet) with this txid. */
	void (*probe)(void *ctx, uint16_t size, uint64_t txid);
	/* The effective path MTU changed (0: unknown). */
	void (*changed)(void *ctx, uint16_t old_mtu, uint16_t new_mtu);
	uint64_t (*rand)(void *ctx);	/* txids */
	void *ctx;
};

struct mesh_pmtu {
	struct mesh_pmtu_cfg cfg;
	enum mesh_pmtu_state state;
	uint16_t max;			/* largest size worth probing */
	uint16_t mtu;			/* effective; 0 unknown */
	uint16_t lo;			/* largest answered size this search; 0 none */
	uint16_t hi;			/* smallest lost size; max + 1 when none */
	bool tried_max;			/* max probed this search */
	bool confirming;		/* DONE: the outstanding probe re-checks mtu */
	uint16_t size;			/* outstanding probe's size; 0 none */
	uint64_t txid;
	unsigned tries;			/* probes sent at size so far */
	mtime_ns sent_at;
	mtime_ns deadline;		/* outstanding probe lost at; or MTIME_NEVER */
	mtime_ns confirm_at, raise_at, retry_at;	/* MTIME_NEVER when unarmed */
	mtime_ns rtt;			/* of the last answered probe */
	mtime_ns search_started;	/* for logs: time to find */
	mtime_ns found_in;		/* duration of the last finished search */
};

/* OFF, nothing armed; cfg is copied. */
void mesh_pmtu_init(struct mesh_pmtu *pm, const struct mesh_pmtu_cfg *cfg);
/* A new direct path (or a changed one): search from scratch, probing max
 * (clamped to at least MESH_PMTU_BASE) now. The effective MTU is reset to
 * unknown. */
void mesh_pmtu_start(struct mesh_pmtu *pm, uint16_t max, mtime_ns now);
/* No direct path any more: OFF, effective MTU unknown. */
void mesh_pmtu_stop(struct mesh_pmtu *pm);
/* An ACK for txid. Returns 0 when it answered our outstanding probe;
 * MESHD_E_NOENT when it is not ours (the caller tries the path engine). */
int mesh_pmtu_input_ack(struct mesh_pmtu *pm, uint64_t txid, mtime_ns now);
/* ICMP or the local stack said packets above mtu do not pass. Also works
 * while OFF or NOANSWER (the value is then taken as it is). */
void mesh_pmtu_input_ptb(struct mesh_pmtu *pm, uint16_t mtu, mtime_ns now);
mtime_ns mesh_pmtu_next_expiry(const struct mesh_pmtu *pm);
void mesh_pmtu_handle_expiry(struct mesh_pmtu *pm, mtime_ns now);

/* Effective path MTU (IP packet bytes), 0 when unknown. */
static inline uint16_t mesh_pmtu_get(const struct mesh_pmtu *pm)
{
	return pm->mtu;
}

/* Largest inner packet that fits a path MTU of mtu for the family's outer
 * headers (hdr: MESH_PMTU_HDR_V4/V6), given WireGuard's 32 bytes of data
 * header and tag and its padding of the plaintext to 16 (but never beyond
 * the TUN's MTU, tun_mtu): tun_mtu when everything fits, else rounded down
 * to 16 so that padding never pushes a fitting packet over. 0 for mtu 0. */
static inline unsigned mesh_pmtu_inner_max(unsigned mtu, unsigned hdr, unsigned tun_mtu)
{
	unsigned avail;

	if (mtu == 0 || mtu < hdr + 32 + 68)
		return 0;
	avail = mtu - hdr - 32;
	return avail >= tun_mtu ? tun_mtu : avail & ~15u;
}

#endif
