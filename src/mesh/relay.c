/* Relay of WireGuard ciphertext and synthetic endpoints (see relay.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/bucket.h"
#include "mesh/relay.h"
#include "util/err.h"
#include "wg/wg.h"

enum {
	SYNTH_PREFIX_LEN = 8,
};

/* 100::/64, RFC 6666 discard-only. */
static const uint8_t synth_prefix[SYNTH_PREFIX_LEN] = { 0x01, 0x00, 0, 0, 0, 0, 0, 0 };

struct src_slot {
	bool used;
	uint8_t id[MESH_NODE_ID_LEN];
	struct mesh_bucket b;
	mtime_ns last_use;
};

struct synth_slot {
	bool used;
	uint32_t gen;		/* bumped on every (re)assignment; never 0 in a handle */
	uint8_t relay[MESH_NODE_ID_LEN];
	uint8_t peer[MESH_NODE_ID_LEN];
	mtime_ns last_use;
};

/* A member found at an address (the key); a hint, confirmed on every use. */
struct ep_slot {
	bool used;
	union endpoint ep;
	uint8_t id[MESH_NODE_ID_LEN];
	mtime_ns last_use;
};

_Static_assert((MESH_RELAY_SRC_CACHE & (MESH_RELAY_SRC_CACHE - 1)) == 0, "power of two");

struct mesh_relay {
	struct mesh_relay_cfg cfg;
	struct mesh_bucket budget;
	struct mesh_bucket lookup;		/* member_at walks */
	uint8_t hkey[crypto_shorthash_KEYBYTES];	/* random: no chosen collisions */
	struct ep_slot epc[MESH_RELAY_SRC_CACHE];
	struct src_slot src[MESH_RELAY_SRC_MAX];
	struct synth_slot synth[MESH_RELAY_SYNTH_MAX];
	struct mesh_relay_stats st;
};

size_t mesh_relay_encode(uint8_t type, const uint8_t id[MESH_NODE_ID_LEN],
    const uint8_t *inner, size_t inner_len, uint8_t *out, size_t cap)
{
	if (type != MESH_MSG_RELAY && type != MESH_MSG_RELAYED)
		return 0;
	if (inner_len < MESH_RELAY_INNER_MIN || inner_len > MESH_RELAY_INNER_MAX ||
	    cap < MESH_RELAY_HDR_LEN + inner_len)
		return 0;
	memmove(out + MESH_RELAY_HDR_LEN, inner, inner_len);
	out[0] = MESH_MSG_MAGIC;
	out[1] = type;
	memcpy(out + MESH_MSG_HDR_LEN, id, MESH_NODE_ID_LEN);
	return MESH_RELAY_HDR_LEN + inner_len;
}

int mesh_relay_decode(const uint8_t *p, size_t len, struct mesh_relay_msg *out)
{
	memset(out, 0, sizeof *out);
	if (len < MESH_RELAY_HDR_LEN + MESH_RELAY_INNER_MIN || p[0] != MESH_MSG_MAGIC ||
	    (p[1] != MESH_MSG_RELAY && p[1] != MESH_MSG_RELAYED))
		return MESHD_E_PROTO;
	if (len > MESH_RELAY_DGRAM_MAX)
		return MESHD_E_RANGE;
	out->type = p[1];
	memcpy(out->id, p + MESH_MSG_HDR_LEN, MESH_NODE_ID_LEN);
	out->inner = p + MESH_RELAY_HDR_LEN;
	out->inner_len = len - MESH_RELAY_HDR_LEN;
	return 0;
}

struct mesh_relay *mesh_relay_new(const struct mesh_relay_cfg *cfg, int *err)
{
	struct mesh_relay *r;

	if (!cfg || !cfg->member_at || !cfg->member_endpoint || !cfg->is_relay) {
		*err = MESHD_E_INVAL;
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		*err = MESHD_E_NOMEM;
		return NULL;
	}
	r->cfg = *cfg;
	randombytes_buf(r->hkey, sizeof r->hkey);
	if (!r->cfg.src_pps)
		r->cfg.src_pps = MESH_RELAY_SRC_PPS;
	if (!r->cfg.src_burst)
		r->cfg.src_burst = MESH_RELAY_SRC_BURST;
	if (!r->cfg.bytes_per_s)
		r->cfg.bytes_per_s = MESH_RELAY_BYTES_PER_S;
	if (!r->cfg.bytes_burst)
		r->cfg.bytes_burst = MESH_RELAY_BYTES_BURST;
	*err = 0;
	return r;
}

void mesh_relay_free(struct mesh_relay *r)
{
	free(r);
}

void mesh_relay_set_offer(struct mesh_relay *r, bool offer)
{
	r->cfg.offer = offer;
}

bool mesh_relay_offers(const struct mesh_relay *r)
{
	return r->cfg.offer;
}

/* The bucket of source id: its slot, a free one, or the least recently used
 * one (a recycled slot starts full again). */
static struct mesh_bucket *src_bucket(struct mesh_relay *r, const uint8_t id[MESH_NODE_ID_LEN],
    mtime_ns now)
{
	struct src_slot *s, *victim = NULL;

	for (size_t i = 0; i < MESH_RELAY_SRC_MAX; i++) {
		s = &r->src[i];
		if (s->used && memcmp(s->id, id, MESH_NODE_ID_LEN) == 0) {
			s->last_use = now;
			return &s->b;
		}
		if (!s->used) {
			if (!victim || victim->used)
				victim = s;
		} else if (!victim || (victim->used && s->last_use < victim->last_use)) {
			victim = s;
		}
	}
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	memcpy(victim->id, id, MESH_NODE_ID_LEN);
	victim->last_use = now;
	return &victim->b;
}

/* The two cache slots an address may sit in. Only the address family,
 * address and port are hashed (the rest of the sockaddr is not compared by
 * endpoint_eq either). */
static struct ep_slot *epc_pair(struct mesh_relay *r, const union endpoint *ep)
{
	uint8_t k[2 + 16 + 2], h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t n;

	memset(k, 0, sizeof k);
	if (ep->sa.sa_family == AF_INET) {
		k[0] = 4;
		memcpy(k + 2, &ep->sin.sin_addr, 4);
		memcpy(k + 18, &ep->sin.sin_port, 2);
	} else {
		k[0] = 6;
		memcpy(k + 2, ep->sin6.sin6_addr.s6_addr, 16);
		memcpy(k + 18, &ep->sin6.sin6_port, 2);
	}
	crypto_shorthash(h, k, sizeof k, r->hkey);
	for (n = 0; n < sizeof h; n++)
		v = v << 8 | h[n];
	return &r->epc[(v & (MESH_RELAY_SRC_CACHE - 1)) & ~(uint64_t)1];
}

/* The member whose live endpoint is src (true, id set). Cached members
 * cost a hash probe and one member_endpoint; other addresses one member_at
 * walk each, within the global lookup budget. */
static bool src_member(struct mesh_relay *r, const union endpoint *src, mtime_ns now,
    uint8_t id[MESH_NODE_ID_LEN])
{
	struct ep_slot *pair = epc_pair(r, src), *s;
	union endpoint ep;

	for (int i = 0; i < 2; i++) {
		s = &pair[i];
		if (!s->used || !endpoint_eq(&s->ep, src))
			continue;
		if (r->cfg.member_endpoint(r->cfg.ctx, s->id, &ep) && endpoint_eq(&ep, src)) {
			s->last_use = now;
			memcpy(id, s->id, MESH_NODE_ID_LEN);
			return true;
		}
		s->used = false;	/* moved or gone: look it up afresh */
	}
	mesh_bucket_refill(&r->lookup, now, MESH_RELAY_LOOKUP_PER_S, MESH_RELAY_LOOKUP_BURST);
	if (!mesh_bucket_has(&r->lookup, 1)) {
		r->st.drop_lookup++;
		return false;
	}
	mesh_bucket_take(&r->lookup, 1);
	r->st.lookups++;
	if (!r->cfg.member_at(r->cfg.ctx, src, id) ||
	    !r->cfg.member_endpoint(r->cfg.ctx, id, &ep) || !endpoint_eq(&ep, src))
		return false;
	s = !pair[0].used ? &pair[0] : !pair[1].used ? &pair[1] :
	    pair[0].last_use <= pair[1].last_use ? &pair[0] : &pair[1];
	s->used = true;
	s->ep = *src;
	memcpy(s->id, id, MESH_NODE_ID_LEN);
	s->last_use = now;
	return true;
}

int mesh_relay_forward(struct mesh_relay *r, uint8_t *buf, size_t len,
    const union endpoint *src, mtime_ns now, union endpoint *to)
{
	struct mesh_relay_msg m;
	uint8_t src_id[MESH_NODE_ID_LEN];
	union endpoint dst_ep;
	struct mesh_bucket *b;

	if (mesh_relay_decode(buf, len, &m) != 0 || m.type != MESH_MSG_RELAY) {
		r->st.drop_malformed++;
		return MESHD_E_PROTO;
	}
	if (!r->cfg.offer) {
		r->st.drop_not_offered++;
		return MESHD_E_PERM;
	}
	if (!wg_is_wg_datagram(m.inner, m.inner_len)) {
		r->st.drop_payload++;
		return MESHD_E_PERM;
	}
	/* dst before the source: a lookup by id, and what an off-path host
	 * cannot guess */
	if (!r->cfg.member_endpoint(r->cfg.ctx, m.id, &dst_ep) ||
	    !endpoint_is_set(&dst_ep) || mesh_relay_is_synth(&dst_ep)) {
		r->st.drop_dst++;
		return MESHD_E_NOENT;
	}
	/* no open relay: the sender is a member at exactly this address */
	if (!src_member(r, src, now, src_id)) {
		r->st.drop_source++;
		return MESHD_E_PERM;
	}
	if (memcmp(m.id, src_id, MESH_NODE_ID_LEN) == 0) {
		r->st.drop_dst++;
		return MESHD_E_NOENT;
	}
	b = src_bucket(r, src_id, now);
	mesh_bucket_refill(b, now, r->cfg.src_pps, r->cfg.src_burst);
	if (!mesh_bucket_has(b, 1)) {
		r->st.drop_ratelimit++;
		return MESHD_E_AGAIN;
	}
	mesh_bucket_refill(&r->budget, now, r->cfg.bytes_per_s, r->cfg.bytes_burst);
	if (!mesh_bucket_has(&r->budget, len)) {
		r->st.drop_budget++;
		return MESHD_E_AGAIN;
	}
	mesh_bucket_take(b, 1);
	mesh_bucket_take(&r->budget, len);

	buf[1] = MESH_MSG_RELAYED;
	memcpy(buf + MESH_MSG_HDR_LEN, src_id, MESH_NODE_ID_LEN);
	*to = dst_ep;
	r->st.forwarded++;
	r->st.forwarded_bytes += len;
	return 0;
}

int mesh_relay_receive(struct mesh_relay *r, uint8_t *buf, size_t len,
    const union endpoint *src, mtime_ns now, size_t *inner_len, union endpoint *synth)
{
	struct mesh_relay_msg m;
	uint8_t relay_id[MESH_NODE_ID_LEN];

	*inner_len = 0;
	if (mesh_relay_decode(buf, len, &m) != 0 || m.type != MESH_MSG_RELAYED ||
	    !wg_is_wg_datagram(m.inner, m.inner_len)) {
		r->st.drop_rx++;
		return MESHD_E_PROTO;
	}
	if (!src_member(r, src, now, relay_id) || !r->cfg.is_relay(r->cfg.ctx, relay_id) ||
	    memcmp(relay_id, m.id, MESH_NODE_ID_LEN) == 0) {
		r->st.drop_rx++;
		return MESHD_E_PERM;
	}
	mesh_relay_synth_make(r, relay_id, m.id, now, synth);
	*inner_len = m.inner_len;
	memmove(buf, buf + MESH_RELAY_HDR_LEN, m.inner_len);
	r->st.received++;
	r->st.received_bytes += len;
	return 0;
}

size_t mesh_relay_wrap(struct mesh_relay *r, const union endpoint *dst,
    const uint8_t *inner, size_t inner_len, uint8_t *out, size_t cap,
    mtime_ns now, union endpoint *to)
{
	uint8_t relay_id[MESH_NODE_ID_LEN], peer_id[MESH_NODE_ID_LEN];
	union endpoint relay_ep;
	size_t n;

	if (!mesh_relay_synth_lookup(r, dst, now, relay_id, peer_id) ||
	    !r->cfg.member_endpoint(r->cfg.ctx, relay_id, &relay_ep) ||
	    !endpoint_is_set(&relay_ep) || mesh_relay_is_synth(&relay_ep)) {
		r->st.drop_tx++;
		return 0;
	}
	n = mesh_relay_encode(MESH_MSG_RELAY, peer_id, inner, inner_len, out, cap);
	if (n == 0) {
		r->st.drop_tx++;
		return 0;
	}
	*to = relay_ep;
	r->st.wrapped++;
	r->st.wrapped_bytes += n;
	return n;
}

bool mesh_relay_is_synth(const union endpoint *ep)
{
	return ep->sa.sa_family == AF_INET6 &&
	    memcmp(ep->sin6.sin6_addr.s6_addr, synth_prefix, SYNTH_PREFIX_LEN) == 0;
}

static void synth_endpoint(const struct synth_slot *s, size_t idx, union endpoint *out)
{
	uint8_t *a;

	memset(out, 0, sizeof *out);
	out->sin6.sin6_family = AF_INET6;
	out->sin6.sin6_port = htons(MESH_RELAY_SYNTH_PORT);
	a = out->sin6.sin6_addr.s6_addr;
	memcpy(a, synth_prefix, SYNTH_PREFIX_LEN);
	a[8] = (uint8_t)(s->gen >> 24);
	a[9] = (uint8_t)(s->gen >> 16);
	a[10] = (uint8_t)(s->gen >> 8);
	a[11] = (uint8_t)s->gen;
	a[12] = (uint8_t)(idx >> 24);
	a[13] = (uint8_t)(idx >> 16);
	a[14] = (uint8_t)(idx >> 8);
	a[15] = (uint8_t)idx;
}

void mesh_relay_synth_make(struct mesh_relay *r, const uint8_t relay_id[MESH_NODE_ID_LEN],
    const uint8_t peer_id[MESH_NODE_ID_LEN], mtime_ns now, union endpoint *out)
{
	struct synth_slot *s, *victim = NULL;
	size_t vi = 0;

	for (size_t i = 0; i < MESH_RELAY_SYNTH_MAX; i++) {
		s = &r->synth[i];
		if (s->used && memcmp(s->relay, relay_id, MESH_NODE_ID_LEN) == 0 &&
		    memcmp(s->peer, peer_id, MESH_NODE_ID_LEN) == 0) {
			s->last_use = now;
			synth_endpoint(s, i, out);
			return;
		}
		if (!s->used) {
			if (!victim || victim->used) {
				victim = s;
				vi = i;
			}
		} else if (!victim || (victim->used && s->last_use < victim->last_use)) {
			victim = s;
			vi = i;
		}
	}
	if (victim->used)
		r->st.synth_evictions++;
	victim->used = true;
	victim->gen++;
	if (victim->gen == 0)
		victim->gen = 1;
	memcpy(victim->relay, relay_id, MESH_NODE_ID_LEN);
	memcpy(victim->peer, peer_id, MESH_NODE_ID_LEN);
	victim->last_use = now;
	synth_endpoint(victim, vi, out);
}

bool mesh_relay_synth_lookup(struct mesh_relay *r, const union endpoint *ep, mtime_ns now,
    uint8_t relay_id[MESH_NODE_ID_LEN], uint8_t peer_id[MESH_NODE_ID_LEN])
{
	const uint8_t *a;
	uint32_t gen, idx;
	struct synth_slot *s;

	if (!mesh_relay_is_synth(ep) || ntohs(ep->sin6.sin6_port) != MESH_RELAY_SYNTH_PORT)
		return false;
	a = ep->sin6.sin6_addr.s6_addr;
	gen = (uint32_t)a[8] << 24 | (uint32_t)a[9] << 16 | (uint32_t)a[10] << 8 | a[11];
	idx = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
	if (idx >= MESH_RELAY_SYNTH_MAX)
		return false;
	s = &r->synth[idx];
	if (!s->used || s->gen != gen)
		return false;
	s->last_use = now;
	memcpy(relay_id, s->relay, MESH_NODE_ID_LEN);
	memcpy(peer_id, s->peer, MESH_NODE_ID_LEN);
	return true;
}

size_t mesh_relay_synth_count(const struct mesh_relay *r)
{
	size_t n = 0;

	for (size_t i = 0; i < MESH_RELAY_SYNTH_MAX; i++)
		n += r->synth[i].used;
	return n;
}

uint32_t mesh_relay_rtt(uint32_t to_relay_ms, uint32_t relay_to_target_ms)
{
	if (relay_to_target_ms > UINT32_MAX - to_relay_ms)
		return UINT32_MAX;
	return to_relay_ms + relay_to_target_ms;
}

void mesh_relay_get_stats(const struct mesh_relay *r, struct mesh_relay_stats *out)
{
	*out = r->st;
}
