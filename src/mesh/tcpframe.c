/* TCP fallback: framing, send queue, auth and fallback state machines.
 * The protocol picture is in tcpframe.h. */
#include <string.h>

#include <sodium.h>

#include "mesh/tcpframe.h"
#include "mesh/wire.h"
#include "util/err.h"
#include "util/tokens.h"

/* ---- frame decoder ---------------------------------------------------- */

void mesh_tcp_dec_init(struct mesh_tcp_dec *d, size_t cap)
{
	if (cap == 0 || cap > MESH_TCP_FRAME_MAX)
		cap = MESH_TCP_FRAME_MAX;
	d->cap = cap;
	d->need = 0;
	d->have = 0;
	d->in_hdr = true;
	d->err = 0;
}

int mesh_tcp_dec_feed(struct mesh_tcp_dec *d, const uint8_t *p, size_t len, size_t *used,
    const uint8_t **frame, size_t *frame_len)
{
	size_t off = 0;

	*frame = NULL;
	*frame_len = 0;
	if (d->err != 0) {
		*used = 0;
		return d->err;
	}
	while (off < len) {
		if (d->in_hdr) {
			d->hdr[d->have++] = p[off++];
			if (d->have < MESH_TCP_LEN_HDR)
				continue;
			d->need = (size_t)d->hdr[0] << 8 | d->hdr[1];
			d->have = 0;
			/* Checked before any payload byte is buffered, so an
			 * absurd length costs nothing but the close. */
			if (d->need == 0)
				d->err = MESHD_E_PROTO;
			else if (d->need > d->cap)
				d->err = MESHD_E_RANGE;
			if (d->err != 0) {
				*used = off;
				return d->err;
			}
			d->in_hdr = false;
			continue;
		}
		size_t n = d->need - d->have;

		if (n > len - off)
			n = len - off;
		memcpy(d->buf + d->have, p + off, n);
		d->have += n;
		off += n;
		if (d->have == d->need) {
			*frame = d->buf;
			*frame_len = d->need;
			d->have = 0;
			d->in_hdr = true;
			*used = off;
			return 1;
		}
	}
	*used = off;
	return 0;
}

bool mesh_tcp_dec_partial(const struct mesh_tcp_dec *d)
{
	return d->err == 0 && (d->have > 0 || !d->in_hdr);
}

size_t mesh_tcp_frame_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	if (len == 0 || len > MESH_TCP_FRAME_MAX || cap < len + MESH_TCP_LEN_HDR)
		return 0;
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	memmove(out + MESH_TCP_LEN_HDR, payload, len);
	return len + MESH_TCP_LEN_HDR;
}

/* ---- bounded send queue ------------------------------------------------ */

void mesh_tcp_ring_init(struct mesh_tcp_ring *r)
{
	r->head = 0;
	r->used = 0;
	r->frames = 0;
	r->head_rest = 0;
	r->pushed = r->dropped = r->dropped_bytes = r->rejected = 0;
}

static size_t ring_at(size_t i)
{
	return i % MESH_TCP_RING_LEN;
}

/* Total length (header included) of the whole frame starting at ring index i. */
static size_t frame_len_at(const struct mesh_tcp_ring *r, size_t i)
{
	return ((size_t)r->buf[ring_at(i)] << 8 | r->buf[ring_at(i + 1)]) + MESH_TCP_LEN_HDR;
}

/* Drops the oldest frame that is not partly sent. When the head frame is
 * partly sent, the frame after it goes: the head's remaining bytes move
 * forward over it, so the stream stays byte-exact. Needs frames >= 1 (>= 2
 * when the head is partly sent). */
static void drop_oldest(struct mesh_tcp_ring *r)
{
	size_t victim;

	if (r->head_rest == 0) {
		victim = frame_len_at(r, r->head);
		r->head = ring_at(r->head + victim);
	} else {
		victim = frame_len_at(r, r->head + r->head_rest);
		/* copy the head's tail backwards, last byte first, so an
		 * overlapping move is safe */
		for (size_t k = r->head_rest; k-- > 0;)
			r->buf[ring_at(r->head + victim + k)] = r->buf[ring_at(r->head + k)];
		r->head = ring_at(r->head + victim);
	}
	r->used -= victim;
	r->frames--;
	r->dropped++;
	r->dropped_bytes += victim;
}

int mesh_tcp_ring_push(struct mesh_tcp_ring *r, const uint8_t *payload, size_t len)
{
	size_t need = len + MESH_TCP_LEN_HDR;

	if (len == 0 || len > MESH_TCP_FRAME_MAX) {
		r->rejected++;
		return MESHD_E_RANGE;
	}
	_Static_assert(MESH_TCP_RING_LEN >= 2 * (MESH_TCP_FRAME_MAX + MESH_TCP_LEN_HDR),
	    "a partly sent frame and a new one must fit together");
	while (MESH_TCP_RING_LEN - r->used < need)
		drop_oldest(r);
	size_t tail = ring_at(r->head + r->used);

	r->buf[tail] = (uint8_t)(len >> 8);
	r->buf[ring_at(tail + 1)] = (uint8_t)len;
	size_t at = ring_at(tail + MESH_TCP_LEN_HDR);
	size_t first = MESH_TCP_RING_LEN - at;

	if (first > len)
		first = len;
	memcpy(r->buf + at, payload, first);
	memcpy(r->buf, payload + first, len - first);
	r->used += need;
	r->frames++;
	r->pushed++;
	return 0;
}

size_t mesh_tcp_ring_peek(const struct mesh_tcp_ring *r, const uint8_t **p)
{
	size_t n = MESH_TCP_RING_LEN - r->head;

	*p = r->buf + r->head;
	return n < r->used ? n : r->used;
}

void mesh_tcp_ring_consume(struct mesh_tcp_ring *r, size_t n)
{
	if (n > r->used)
		n = r->used;
	while (n > 0) {
		size_t rest = r->head_rest ? r->head_rest : frame_len_at(r, r->head);
		size_t k = n < rest ? n : rest;

		r->head = ring_at(r->head + k);
		r->used -= k;
		n -= k;
		if (k == rest) {
			r->head_rest = 0;
			r->frames--;
		} else {
			r->head_rest = rest - k;
		}
	}
}

size_t mesh_tcp_ring_take(struct mesh_tcp_ring *r, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (n < cap && mesh_tcp_ring_used(r) > 0) {
		const uint8_t *p;
		size_t k = mesh_tcp_ring_peek(r, &p);

		if (k > cap - n)
			k = cap - n;
		memcpy(out + n, p, k);
		mesh_tcp_ring_consume(r, k);
		n += k;
	}
	return n;
}

size_t mesh_tcp_ring_used(const struct mesh_tcp_ring *r)
{
	return r->used;
}

/* ---- auth ---------------------------------------------------------------- */

void mesh_tcp_auth_message(const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN],
    const uint8_t challenge[MESH_TCP_CHALLENGE_LEN], uint8_t out[MESH_TCP_SIGNED_LEN])
{
	memcpy(out, mesh_id, MESH_ID_LEN);
	memcpy(out + MESH_ID_LEN, server_key, MESH_TCP_KEY_LEN);
	memcpy(out + MESH_ID_LEN + MESH_TCP_KEY_LEN, challenge, MESH_TCP_CHALLENGE_LEN);
}

static void ctl_hdr(uint8_t *out, uint8_t type)
{
	out[0] = MESH_TCP_MAGIC;
	out[1] = MESH_TCP_VERSION;
	out[2] = type;
}

/* True when frame is a control frame of this type and exact length. */
static bool is_ctl(const uint8_t *frame, size_t len, uint8_t type, size_t want)
{
	return len == want && frame[0] == MESH_TCP_MAGIC && frame[1] == MESH_TCP_VERSION &&
	    frame[2] == type;
}

void mesh_tcp_keepalive(uint8_t out[MESH_TCP_KEEPALIVE_FRAME])
{
	ctl_hdr(out, MESH_TCP_KEEPALIVE);
}

void mesh_tcp_srv_start_with(struct mesh_tcp_srv *s, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN],
    const uint8_t challenge[MESH_TCP_CHALLENGE_LEN], mtime_ns now,
    uint8_t out[MESH_TCP_CHALLENGE_FRAME])
{
	memset(s, 0, sizeof *s);
	s->state = MESH_TCP_SRV_CHALLENGED;
	memcpy(s->mesh_id, mesh_id, MESH_ID_LEN);
	memcpy(s->server_key, server_key, MESH_TCP_KEY_LEN);
	memcpy(s->challenge, challenge, MESH_TCP_CHALLENGE_LEN);
	s->auth_deadline = now + MSEC(MESH_TCP_AUTH_TIMEOUT_MS);
	s->last_rx = now;
	s->last_tx_progress = now;
	s->rate = MESH_TCP_FRAMES_PER_S;
	s->burst = MESH_TCP_FRAMES_BURST;
	s->tokens = s->burst;
	s->refilled = now;
	ctl_hdr(out, MESH_TCP_CHALLENGE);
	memcpy(out + MESH_TCP_CTL_HDR, challenge, MESH_TCP_CHALLENGE_LEN);
}

void mesh_tcp_srv_start(struct mesh_tcp_srv *s, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN], mtime_ns now,
    uint8_t out[MESH_TCP_CHALLENGE_FRAME])
{
	uint8_t challenge[MESH_TCP_CHALLENGE_LEN];

	randombytes_buf(challenge, sizeof challenge);
	mesh_tcp_srv_start_with(s, mesh_id, server_key, challenge, now, out);
}

static int srv_close(struct mesh_tcp_srv *s, int r)
{
	s->state = MESH_TCP_SRV_CLOSED;
	return r;
}

/* CHALLENGED: the only acceptable frame is one AUTH. */
static int srv_on_auth(struct mesh_tcp_srv *s, const uint8_t *frame, size_t len,
    mesh_tcp_member_pk_fn *member_pk, void *ctx)
{
	uint8_t msg[MESH_TCP_SIGNED_LEN];
	uint8_t pk[MESH_PK_LEN];
	const uint8_t *id = frame + MESH_TCP_CTL_HDR;
	const uint8_t *sig = id + MESH_NODE_ID_LEN;

	if (is_ctl(frame, len, MESH_TCP_JOIN, MESH_TCP_CTL_HDR)) {
		sodium_memzero(s->challenge, sizeof s->challenge);
		s->state = MESH_TCP_SRV_JOINING;
		s->join_frames = 0;
		s->auth_deadline = s->last_rx + MSEC(MESH_TCP_JOIN_TIMEOUT_MS);
		return MESH_TCP_SRV_IGNORE;
	}
	if (!is_ctl(frame, len, MESH_TCP_AUTH, MESH_TCP_AUTH_FRAME))
		return srv_close(s, MESHD_E_PROTO);
	if (!member_pk(ctx, id, pk))
		return srv_close(s, MESHD_E_CRYPTO);
	mesh_tcp_auth_message(s->mesh_id, s->server_key, s->challenge, msg);
	if (!mesh_identity_verify(pk, MESH_TCP_DOMAIN, msg, sizeof msg, sig))
		return srv_close(s, MESHD_E_CRYPTO);
	memcpy(s->node_id, id, MESH_NODE_ID_LEN);
	/* single use: a replayed AUTH on this connection finds AUTHED */
	sodium_memzero(s->challenge, sizeof s->challenge);
	s->state = MESH_TCP_SRV_AUTHED;
	return MESH_TCP_SRV_SEND_OK;
}

/* Token bucket over frames; refills in whole tokens so no rounding drift
 * accumulates (refilled advances by exactly the time the tokens cost). */
void mesh_tcp_srv_set_flood_limit(struct mesh_tcp_srv *s, uint32_t rate, uint32_t burst)
{
	if (rate == 0 || burst == 0 || rate > SEC(1))
		return;
	s->rate = rate;
	s->burst = burst;
	if (s->tokens > burst)
		s->tokens = burst;
}

static bool frame_allowed(struct mesh_tcp_srv *s, mtime_ns now)
{
	return tokens_take(&s->tokens, &s->refilled, s->rate, s->burst, now);
}

int mesh_tcp_srv_on_frame(struct mesh_tcp_srv *s, const uint8_t *frame, size_t len,
    mesh_tcp_member_pk_fn *member_pk, void *ctx, mtime_ns now)
{
	if (s->state != MESH_TCP_SRV_CLOSED && !frame_allowed(s, now))
		return srv_close(s, MESHD_E_AGAIN);
	switch (s->state) {
	case MESH_TCP_SRV_CHALLENGED:
		if (now >= s->auth_deadline)
			return srv_close(s, MESHD_E_TIMEOUT);
		s->last_rx = now;
		return srv_on_auth(s, frame, len, member_pk, ctx);
	case MESH_TCP_SRV_AUTHED:
		if (len == 0 || len > MESH_TCP_FRAME_MAX)
			return srv_close(s, MESHD_E_PROTO);
		s->last_rx = now;
		if (frame[0] != MESH_TCP_MAGIC)
			return MESH_TCP_SRV_DATAGRAM;
		if (is_ctl(frame, len, MESH_TCP_KEEPALIVE, MESH_TCP_KEEPALIVE_FRAME))
			return MESH_TCP_SRV_IGNORE;
		return srv_close(s, MESHD_E_PROTO);
	case MESH_TCP_SRV_JOINING:
		if (now >= s->auth_deadline)
			return srv_close(s, MESHD_E_TIMEOUT);
		s->last_rx = now;
		if (is_ctl(frame, len, MESH_TCP_KEEPALIVE, MESH_TCP_KEEPALIVE_FRAME))
			return MESH_TCP_SRV_IGNORE;
		if (len < MESH_MSG_HDR_LEN || frame[0] != MESH_MSG_MAGIC ||
		    frame[1] != MESH_MSG_JOIN_REQ || ++s->join_frames > MESH_TCP_JOIN_FRAMES)
			return srv_close(s, MESHD_E_PROTO);
		return MESH_TCP_SRV_JOIN_REQ;
	case MESH_TCP_SRV_CLOSED:
		break;
	}
	return MESHD_E_STATE;
}

void mesh_tcp_srv_on_tx(struct mesh_tcp_srv *s, bool pending, bool progress, mtime_ns now)
{
	if (progress || !s->tx_pending)
		s->last_tx_progress = now;
	s->tx_pending = pending;
}

mtime_ns mesh_tcp_srv_next_expiry(const struct mesh_tcp_srv *s)
{
	mtime_ns t;

	switch (s->state) {
	case MESH_TCP_SRV_CHALLENGED:
	case MESH_TCP_SRV_JOINING:
		return s->auth_deadline;
	case MESH_TCP_SRV_AUTHED:
		t = s->last_rx + MSEC(MESH_TCP_IDLE_MS);
		if (s->tx_pending && s->last_tx_progress + MSEC(MESH_TCP_STALL_MS) < t)
			t = s->last_tx_progress + MSEC(MESH_TCP_STALL_MS);
		return t;
	case MESH_TCP_SRV_CLOSED:
		break;
	}
	return MTIME_NEVER;
}

bool mesh_tcp_srv_handle_expiry(struct mesh_tcp_srv *s, mtime_ns now)
{
	if (s->state == MESH_TCP_SRV_CLOSED)
		return false;
	if (now < mesh_tcp_srv_next_expiry(s))
		return false;
	s->state = MESH_TCP_SRV_CLOSED;
	return true;
}

bool mesh_tcp_port_parse(const char *s, uint16_t *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return false;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* ---- client side --------------------------------------------------------- */

size_t mesh_tcp_join_open(const uint8_t *req, size_t req_len, uint8_t *out, size_t cap)
{
	const uint8_t join[MESH_TCP_CTL_HDR] = { MESH_TCP_MAGIC, MESH_TCP_VERSION, MESH_TCP_JOIN };
	size_t a, b;

	if (req_len == 0 || req_len > MESH_TCP_FRAME_MAX ||
	    cap < 2 * MESH_TCP_LEN_HDR + MESH_TCP_CTL_HDR + req_len)
		return 0;
	a = mesh_tcp_frame_encode(join, sizeof join, out, cap);
	b = mesh_tcp_frame_encode(req, req_len, out + a, cap - a);
	return a && b ? a + b : 0;
}

bool mesh_tcp_is_ctl(const uint8_t *frame, size_t len)
{
	return len >= 1 && frame[0] == MESH_TCP_MAGIC;
}

void mesh_tcp_cli_start(struct mesh_tcp_cli *c, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN], const uint8_t node_id[MESH_NODE_ID_LEN],
    mtime_ns now)
{
	memset(c, 0, sizeof *c);
	c->state = MESH_TCP_CLI_WAIT_CHALLENGE;
	memcpy(c->mesh_id, mesh_id, MESH_ID_LEN);
	memcpy(c->server_key, server_key, MESH_TCP_KEY_LEN);
	memcpy(c->node_id, node_id, MESH_NODE_ID_LEN);
	c->auth_deadline = now + MSEC(MESH_TCP_AUTH_TIMEOUT_MS);
	c->last_tx = now;
}

static int cli_fail(struct mesh_tcp_cli *c, int r)
{
	c->state = MESH_TCP_CLI_FAILED;
	return r;
}

static int cli_on_challenge(struct mesh_tcp_cli *c, const uint8_t *frame, size_t len,
    const uint8_t sk[MESH_SK_LEN], mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME])
{
	uint8_t msg[MESH_TCP_SIGNED_LEN];

	if (!is_ctl(frame, len, MESH_TCP_CHALLENGE, MESH_TCP_CHALLENGE_FRAME))
		return cli_fail(c, MESHD_E_PROTO);
	mesh_tcp_auth_message(c->mesh_id, c->server_key, frame + MESH_TCP_CTL_HDR, msg);
	ctl_hdr(out, MESH_TCP_AUTH);
	memcpy(out + MESH_TCP_CTL_HDR, c->node_id, MESH_NODE_ID_LEN);
	if (mesh_identity_sign(sk, MESH_TCP_DOMAIN, msg, sizeof msg,
	    out + MESH_TCP_CTL_HDR + MESH_NODE_ID_LEN) != 0)
		return cli_fail(c, MESHD_E_CRYPTO);
	c->state = MESH_TCP_CLI_WAIT_OK;
	c->last_tx = now;
	return MESH_TCP_CLI_SEND_AUTH;
}

int mesh_tcp_cli_on_frame(struct mesh_tcp_cli *c, const uint8_t *frame, size_t len,
    const uint8_t sk[MESH_SK_LEN], mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME])
{
	if (len == 0)
		return cli_fail(c, MESHD_E_PROTO);
	switch (c->state) {
	case MESH_TCP_CLI_WAIT_CHALLENGE:
		if (now >= c->auth_deadline)
			return cli_fail(c, MESHD_E_TIMEOUT);
		return cli_on_challenge(c, frame, len, sk, now, out);
	case MESH_TCP_CLI_WAIT_OK:
		if (now >= c->auth_deadline)
			return cli_fail(c, MESHD_E_TIMEOUT);
		if (!is_ctl(frame, len, MESH_TCP_OK, MESH_TCP_OK_FRAME))
			return cli_fail(c, MESHD_E_PROTO);
		c->state = MESH_TCP_CLI_READY;
		return MESH_TCP_CLI_NOW_READY;
	case MESH_TCP_CLI_READY:
		if (frame[0] != MESH_TCP_MAGIC)
			return MESH_TCP_CLI_DATAGRAM;
		if (is_ctl(frame, len, MESH_TCP_KEEPALIVE, MESH_TCP_KEEPALIVE_FRAME))
			return MESH_TCP_CLI_IGNORE;
		return cli_fail(c, MESHD_E_PROTO);
	case MESH_TCP_CLI_FAILED:
		break;
	}
	return MESHD_E_STATE;
}

void mesh_tcp_cli_on_sent(struct mesh_tcp_cli *c, mtime_ns now)
{
	c->last_tx = now;
}

mtime_ns mesh_tcp_cli_next_expiry(const struct mesh_tcp_cli *c)
{
	switch (c->state) {
	case MESH_TCP_CLI_WAIT_CHALLENGE:
	case MESH_TCP_CLI_WAIT_OK:
		return c->auth_deadline;
	case MESH_TCP_CLI_READY:
		return c->last_tx + MSEC(MESH_TCP_KEEPALIVE_MS);
	case MESH_TCP_CLI_FAILED:
		break;
	}
	return MTIME_NEVER;
}

int mesh_tcp_cli_handle_expiry(struct mesh_tcp_cli *c, mtime_ns now)
{
	if (now < mesh_tcp_cli_next_expiry(c))
		return 0;
	switch (c->state) {
	case MESH_TCP_CLI_WAIT_CHALLENGE:
	case MESH_TCP_CLI_WAIT_OK:
		c->state = MESH_TCP_CLI_FAILED;
		return MESH_TCP_CLI_TIMED_OUT;
	case MESH_TCP_CLI_READY:
		c->last_tx = now;	/* the caller sends the keepalive now */
		return MESH_TCP_CLI_KEEPALIVE_DUE;
	case MESH_TCP_CLI_FAILED:
		break;
	}
	return 0;
}

/* ---- fallback decision ----------------------------------------------------- */

void mesh_tcp_fb_init(struct mesh_tcp_fb *f)
{
	memset(f, 0, sizeof *f);
	f->mode = MESH_TCP_FB_UDP;
	f->unanswered_since = MTIME_NEVER;
	f->next_udp_try = MTIME_NEVER;
}

static void fb_to_tcp(struct mesh_tcp_fb *f, mtime_ns now)
{
	f->mode = MESH_TCP_FB_TCP;
	f->unanswered_since = MTIME_NEVER;
	f->next_udp_try = now + MSEC(MESH_TCP_FB_UDP_RETRY_MS);
	f->switches_to_tcp++;
}

void mesh_tcp_fb_on_udp_sent(struct mesh_tcp_fb *f, mtime_ns now)
{
	if (f->unanswered_since == MTIME_NEVER)
		f->unanswered_since = now;
}

bool mesh_tcp_fb_on_udp_error(struct mesh_tcp_fb *f, mtime_ns now)
{
	if (f->mode == MESH_TCP_FB_TCP)
		return false;
	fb_to_tcp(f, now);
	return true;
}

bool mesh_tcp_fb_on_udp_answer(struct mesh_tcp_fb *f, mtime_ns now)
{
	(void)now;
	f->unanswered_since = MTIME_NEVER;
	if (f->mode == MESH_TCP_FB_UDP)
		return false;
	f->mode = MESH_TCP_FB_UDP;
	f->next_udp_try = MTIME_NEVER;
	f->switches_to_udp++;
	return true;
}

mtime_ns mesh_tcp_fb_next_expiry(const struct mesh_tcp_fb *f)
{
	if (f->mode == MESH_TCP_FB_TCP)
		return f->next_udp_try;
	if (f->unanswered_since == MTIME_NEVER)
		return MTIME_NEVER;
	return f->unanswered_since + MSEC(MESH_TCP_FB_UDP_SILENT_MS);
}

int mesh_tcp_fb_handle_expiry(struct mesh_tcp_fb *f, mtime_ns now)
{
	mtime_ns t = mesh_tcp_fb_next_expiry(f);

	if (t == MTIME_NEVER || now < t)
		return 0;
	if (f->mode == MESH_TCP_FB_UDP) {
		fb_to_tcp(f, now);
		return MESH_TCP_FB_TO_TCP;
	}
	/* Next try counted from now, not from the missed deadline: a late
	 * timer does not cause a burst of catch-up tries. */
	f->next_udp_try = now + MSEC(MESH_TCP_FB_UDP_RETRY_MS);
	return MESH_TCP_FB_TRY_UDP;
}

int mesh_tcp_fb_pick_entry(const struct mesh_tcp_entry *e, size_t n)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (!e[i].usable)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		const struct mesh_tcp_entry *b = &e[best];
		/* unknown (0) sorts after every known RTT */
		uint64_t ri = e[i].rtt_ms ? e[i].rtt_ms : UINT64_MAX;
		uint64_t rb = b->rtt_ms ? b->rtt_ms : UINT64_MAX;

		if (ri < rb || (ri == rb && memcmp(e[i].node_id, b->node_id, MESH_NODE_ID_LEN) < 0))
			best = (int)i;
	}
	return best;
}
