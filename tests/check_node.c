/* The mesh node (mesh/node.h), all in memory: stores from store_open_memory(),
 * WireGuard devices whose datagrams go nowhere, joiners driven against the
 * inviter's underlay input, and gossip payloads handed straight to the
 * destination node (found by overlay IPv4) as if WireGuard had carried them.
 * A virtual clock drives everything. */
#include <check.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "mesh/gossip.h"
#include "mesh/join.h"
#include "mesh/node.h"
#include "mesh/node_internal.h"
#include "mesh/path.h"
#include "mesh/probe.h"
#include "mesh/relay.h"
#include "mesh/routes.h"
#include "mesh/token.h"
#include "store/store.h"
#include "util/err.h"
#include "wg/wg.h"

enum { NOW = 1800000000, NNODES = 4, GQ_MAX = 8192, UQ_MAX = 1024, WQ_MAX = 256 };

struct tnode {
	struct store *st;
	struct wg_device *wg;
	struct mesh_node *n;
	uint8_t wg_pk[32], wg_sk[32];
	union endpoint addr;		/* its underlay address */
	unsigned wg_sent;
	unsigned radd, rdel;		/* ops.route_add / route_del calls */
	struct mesh_prefix rlast;	/* the prefix of the last one */
	union endpoint nat;		/* set: behind a cone NAT with this
					 * public mapping (addr then reachable
					 * from its own /24 only) */
	bool cut[NNODES];		/* no underlay path to node j */
	unsigned w_rx;			/* data packets WireGuard delivered */
	unsigned u_sent;		/* underlay datagrams (probes ...) */
	unsigned u_victim;		/* of them, to 203.0.113.99 (any port) */
};

struct gmsg {
	int from;
	uint8_t dst4[4];
	size_t len;
	uint8_t p[GOSSIP_DGRAM_MAX];
};

struct umsg {
	int from;			/* -1: the joiner */
	union endpoint dst;
	size_t len;
	uint8_t p[MESH_RELAY_DGRAM_MAX];	/* RELAY datagrams are the largest */
};

/* A WireGuard datagram (w_deliver: carried between the devices). */
struct wmsg {
	int from;
	union endpoint dst;
	size_t len;
	_Alignas(8) uint8_t p[MESH_RELAY_DGRAM_MAX];
};

static struct tnode T[NNODES];
static mtime_ns now;
static struct gmsg *gq;
static size_t gq_head, gq_n, gq_dropped;
static struct umsg uq[UQ_MAX];
static size_t uq_n;
static bool u_deliver;		/* run() carries underlay datagrams between nodes */
static struct wmsg wq[WQ_MAX];
static size_t wq_n;
static bool w_deliver;		/* run() carries WireGuard datagrams and timers */

static uint64_t unix_now(void)
{
	return NOW + now / SEC(1);
}

static int idx(void *ctx)
{
	return (int)((struct tnode *)ctx - T);
}

/* ---- WireGuard stubs ---- */

static void wg_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	((struct tnode *)ctx)->wg_sent++;
	if (!w_deliver || wq_n >= WQ_MAX || len > sizeof wq[0].p)
		return;
	wq[wq_n].from = idx(ctx);
	wq[wq_n].dst = *dst;
	wq[wq_n].len = len;
	memcpy(wq[wq_n].p, buf, len);
	wq_n++;
}

/* A WireGuard datagram arriving at node `to` from src (aligned buf). */
static void w_input(int to, const union endpoint *src, uint8_t *buf, size_t len)
{
	struct wg_result res;

	wg_input_datagram(T[to].wg, buf, len, src, now, &res);
	if (res.act == WG_ACT_DELIVER && res.len > 0)
		T[to].w_rx++;
}

static void wg_walltime(void *ctx, struct walltime *out)
{
	(void)ctx;
	out->sec = unix_now();
	out->nsec = 0;
}

static const struct wg_host_ops wg_ops = { .send = wg_send, .walltime = wg_walltime };

static struct wg_device *new_wg(int i)
{
	int err = 0;
	struct wg_device *wg = wg_device_new(&wg_ops, &T[i], &err);

	ck_assert_ptr_nonnull(wg);
	return wg;
}

/* ---- node ops: queue, deliver later (ops must not re-enter the node) ---- */

static void node_send_underlay(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct umsg *m;

	ck_assert_uint_lt(uq_n, UQ_MAX);
	((struct tnode *)ctx)->u_sent++;
	if (dst->sa.sa_family == AF_INET && dst->sin.sin_addr.s_addr == htonl(0xcb007163))
		((struct tnode *)ctx)->u_victim++;	/* 203.0.113.99 */
	m = &uq[uq_n++];
	m->from = idx(ctx);
	m->dst = *dst;
	m->len = len;
	memcpy(m->p, p, len);
}

static void node_send_gossip(void *ctx, const uint8_t dst4[4], const uint8_t *p, size_t len)
{
	struct gmsg *m;

	ck_assert_uint_le(len, GOSSIP_DGRAM_MAX);
	if (gq_head + gq_n >= GQ_MAX) {
		gq_dropped++;
		return;
	}
	m = &gq[gq_head + gq_n++];
	m->from = idx(ctx);
	memcpy(m->dst4, dst4, 4);
	m->len = len;
	memcpy(m->p, p, len);
}

/* What the daemon does with a node result: send, or feed WireGuard (the
 * datagram came through a relay) and undo its roaming when asked. */
static void node_act(int i, struct mesh_node_result *res)
{
	if (res->act == MESH_NODE_ACT_SEND) {
		node_send_underlay(&T[i], &res->ep, res->buf, res->len);
	} else if (res->act == MESH_NODE_ACT_WG_INPUT) {
		ck_assert_uint_eq((uintptr_t)res->buf & 7, 0);
		w_input(i, &res->ep, res->buf, res->len);
		mesh_node_unroam(T[i].wg, res);
	}
}

/* An underlay datagram arriving at node i from src: one call down, then
 * the action. */
static void u_input(int i, const union endpoint *src, const uint8_t *p, size_t len)
{
	struct mesh_node_result res;

	mesh_node_input_underlay(T[i].n, src, p, len, now, unix_now(), &res);
	node_act(i, &res);
}

static void set_addr(int i, const char *a)
{
	memset(&T[i].addr, 0, sizeof T[i].addr);
	T[i].addr.sin.sin_family = AF_INET;
	T[i].addr.sin.sin_port = htons(51820);
	ck_assert_int_eq(inet_pton(AF_INET, a, &T[i].addr.sin.sin_addr), 1);
}

static void node_route_add(void *ctx, const struct mesh_prefix *r)
{
	((struct tnode *)ctx)->radd++;
	((struct tnode *)ctx)->rlast = *r;
}

static void node_route_del(void *ctx, const struct mesh_prefix *r)
{
	((struct tnode *)ctx)->rdel++;
	((struct tnode *)ctx)->rlast = *r;
}

static int open_node(int i)
{
	struct mesh_node_cfg cfg = {
		.st = T[i].st, .wg = T[i].wg,
		.ops = { .send_underlay = node_send_underlay, .send_gossip = node_send_gossip,
			 .route_add = node_route_add, .route_del = node_route_del },
		.ctx = &T[i],
	};
	char err[128];
	int r = mesh_node_open(&T[i].n, &cfg, now, unix_now(), err, sizeof err);

	if (r == 0)
		ck_assert(wg_device_get_public_key(T[i].wg, T[i].wg_pk));
	return r;
}

static int find_by_ipv4(const uint8_t dst4[4])
{
	struct mesh_node_self s;

	for (int i = 0; i < NNODES; i++) {
		if (T[i].n == NULL)
			continue;
		mesh_node_get_self(T[i].n, &s);
		if (memcmp(s.ipv4, dst4, 4) == 0)
			return i;
	}
	return -1;
}

static void pump_gossip(void)
{
	unsigned guard = 0;

	while (gq_n > 0 && guard++ < 200000) {
		struct gmsg *m = &gq[gq_head++];
		int to = find_by_ipv4(m->dst4);
		struct wg_peer *peer;

		gq_n--;
		if (to < 0 || T[m->from].n == NULL)
			continue;
		peer = wg_peer_lookup(T[to].wg, T[m->from].wg_pk);
		if (getenv("NODE_DEBUG"))
			fprintf(stderr, "gossip %d -> %d len %zu type %u peer %p\n", m->from, to,
			    m->len, m->len > 1 ? m->p[1] : 0, (void *)peer);
		if (peer != NULL)
			mesh_node_input_gossip(T[to].n, peer, m->p, m->len, now, unix_now());
	}
	gq_head = gq_n = 0;
}

static bool same24(const union endpoint *a, const union endpoint *b)
{
	return a->sa.sa_family == AF_INET && b->sa.sa_family == AF_INET &&
	    memcmp(&a->sin.sin_addr, &b->sin.sin_addr, 3) == 0;
}

/* The node a datagram from node `from` to dst reaches (-1: none), and the
 * source address it arrives with (NAT: the public mapping unless on the
 * same /24). A cut applies both ways. */
static int u_route(int from, const union endpoint *dst, union endpoint *src)
{
	*src = T[from].addr;
	if (endpoint_is_set(&T[from].nat) && !same24(&T[from].addr, dst))
		*src = T[from].nat;
	for (int j = 0; j < NNODES; j++) {
		if (j == from || T[j].n == NULL || T[from].cut[j] || T[j].cut[from])
			continue;
		if (endpoint_is_set(&T[j].nat) && endpoint_eq(dst, &T[j].nat))
			return j;
		if (endpoint_eq(dst, &T[j].addr) &&
		    (!endpoint_is_set(&T[j].nat) || same24(&T[j].addr, &T[from].addr)))
			return j;
	}
	return -1;
}

/* Delivers the underlay datagrams queued so far (answers wait for the
 * next call: one step of round trip); without u_deliver they are lost. */
static void pump_underlay(void)
{
	static struct umsg q[UQ_MAX];
	size_t n = uq_n;
	union endpoint src;

	memcpy(q, uq, n * sizeof q[0]);
	uq_n = 0;
	for (size_t k = 0; u_deliver && k < n; k++) {
		int to;

		if (q[k].from < 0 || (to = u_route(q[k].from, &q[k].dst, &src)) < 0)
			continue;
		u_input(to, &src, q[k].p, q[k].len);
	}
}

/* Delivers the WireGuard datagrams queued so far, as the daemon would:
 * those to a synthetic endpoint go to the node (relay), the others through
 * u_route() to the destination's device. */
static void pump_wg(void)
{
	static struct wmsg q[WQ_MAX];
	static struct mesh_node_result res;
	size_t n = wq_n;
	union endpoint src;

	memcpy(q, wq, n * sizeof q[0]);
	wq_n = 0;
	for (size_t k = 0; k < n; k++) {
		int from = q[k].from, to;

		if (T[from].n == NULL)
			continue;
		if (mesh_node_wrap_relay(T[from].n, &q[k].dst, q[k].p, q[k].len, now, unix_now(),
		    &res)) {
			node_act(from, &res);
			continue;
		}
		if ((to = u_route(from, &q[k].dst, &src)) >= 0)
			w_input(to, &src, q[k].p, q[k].len);
	}
}

static void run(unsigned seconds)
{
	for (unsigned s = 0; s < seconds * 10; s++) {
		now += MSEC(100);
		for (int i = 0; i < NNODES; i++)
			if (T[i].n != NULL && mesh_node_next_expiry(T[i].n) <= now)
				mesh_node_handle_expiry(T[i].n, now, unix_now());
		for (int i = 0; w_deliver && i < NNODES; i++)
			if (T[i].n != NULL && wg_next_expiry(T[i].wg) <= now)
				wg_handle_expiry(T[i].wg, now);
		pump_underlay();
		pump_gossip();
		if (w_deliver)
			pump_wg();
	}
}

/* ---- setup ---- */

static void setup(void)
{
	memset(T, 0, sizeof T);
	now = SEC(1000);
	gq = calloc(GQ_MAX, sizeof *gq);
	ck_assert_ptr_nonnull(gq);
	gq_head = gq_n = gq_dropped = uq_n = wq_n = 0;
	u_deliver = w_deliver = false;
	for (int i = 0; i < NNODES; i++) {
		char a[32];

		snprintf(a, sizeof a, "192.0.2.%d", i + 1);
		set_addr(i, a);
		ck_assert_int_eq(store_open_memory(&T[i].st), 0);
		T[i].wg = new_wg(i);
	}
}

static void teardown(void)
{
	for (int i = 0; i < NNODES; i++) {
		mesh_node_free(T[i].n);
		wg_device_free(T[i].wg);
		store_close(T[i].st);
	}
	free(gq);
}

static void set_eps(int i, const char *a, uint16_t port)
{
	struct mesh_ep ep;

	memset(&ep, 0, sizeof ep);
	ep.source = MESH_EP_LOCAL;
	ep.family = MESH_FAMILY_V4;
	ck_assert_int_eq(inet_pton(AF_INET, a, ep.addr), 1);
	ep.port = port;
	ck_assert_int_eq(mesh_node_set_endpoints(T[i].n, &ep, 1, now, unix_now()), 0);
}

/* Node 0: a fresh admin node reachable at 192.0.2.1:51820. */
static void init_admin(void)
{
	char err[160];
	struct mesh_prefix p4 = { .family = MESH_FAMILY_V4, .len = 16, .addr = { 100, 80 } };

	ck_assert_int_eq(mesh_node_init_store(T[0].st, "alpha", "lab", &p4, 51820, "mesh0",
	    unix_now(), err, sizeof err), 0);
	ck_assert_int_eq(open_node(0), 0);
	set_eps(0, "192.0.2.1", 51820);
}

static int count_member(const struct store_member *m, void *arg)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

static int store_members(struct store *st)
{
	int c = 0;

	ck_assert_int_eq(store_member_foreach(st, count_member, &c), 0);
	return c;
}

static void make_token(struct mesh_token *tok, uint64_t ttl, uint32_t uses, uint64_t at)
{
	ck_assert_int_eq(mesh_node_add_invite(T[0].st, ttl, uses, at, tok), 0);
	tok->nep = 1;
	tok->ep[0] = T[0].addr;
}

static void joiner_send(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len)
{
	struct umsg *m;

	(void)ctx;
	ck_assert_uint_lt(uq_n, UQ_MAX);
	m = &uq[uq_n++];
	m->from = -1;
	m->dst = *dst;
	m->len = len;
	memcpy(m->p, p, len);
}

/* Runs a join of node i (name) against node 0 with the joiner's clock at
 * junix; on OK stores the result in T[i].st. Returns the outcome. */
static int do_join(int i, const char *name, const struct mesh_token *tok, uint64_t junix)
{
	struct mesh_join_joiner *j = calloc(1, sizeof *j);
	uint8_t sign_pk[MESH_PK_LEN], sign_sk[MESH_SK_LEN];
	int out = MESH_JOIN_PENDING;

	ck_assert_ptr_nonnull(j);
	randombytes_buf(T[i].wg_sk, 32);
	ck_assert_int_eq(crypto_scalarmult_base(T[i].wg_pk, T[i].wg_sk), 0);
	ck_assert_int_eq(mesh_node_sign_keypair(T[i].wg_sk, sign_pk, sign_sk), 0);
	ck_assert_int_eq(mesh_join_joiner_start(j, tok, name, T[i].wg_pk, T[i].wg_sk, sign_pk,
	    now, junix, joiner_send, NULL), 0);
	for (unsigned step = 0; step < 200 && out == MESH_JOIN_PENDING; step++) {
		for (size_t k = 0; k < uq_n; k++) {
			struct umsg m = uq[k];

			if (m.from == -1 && endpoint_eq(&m.dst, &T[0].addr))
				u_input(0, &T[i].addr, m.p, m.len);
			else if (m.from == 0 && endpoint_eq(&m.dst, &T[i].addr))
				out = mesh_join_joiner_input(j, m.p, m.len, &T[0].addr, now);
		}
		/* answers queued while delivering were appended and handled
		 * by the same walk */
		uq_n = 0;
		if (out != MESH_JOIN_PENDING)
			break;
		now += MSEC(100);
		out = mesh_join_joiner_handle_expiry(j, now);
	}
	uq_n = 0;
	if (out == MESH_JOIN_OK)
		ck_assert_int_eq(mesh_node_persist_join(T[i].st, mesh_join_joiner_result(j),
		    T[i].wg_sk, 51820, "mesh0", unix_now()), 0);
	mesh_join_joiner_clear(j);
	free(j);
	sodium_memzero(sign_sk, sizeof sign_sk);
	pump_gossip();
	return out;
}

/* Joins node i and starts it with its endpoint. */
static void join_and_start(int i, const char *name)
{
	struct mesh_token tok;
	char a[32];

	make_token(&tok, 3600, 1, unix_now());
	ck_assert_int_eq(do_join(i, name, &tok, unix_now()), MESH_JOIN_OK);
	mesh_token_clear(&tok);
	ck_assert_int_eq(open_node(i), 0);
	snprintf(a, sizeof a, "192.0.2.%d", i + 1);
	set_eps(i, a, 51820);
	pump_gossip();
}

struct one {
	const char *name;
	struct mesh_node_peer p;
	bool found;
};

static int find_one(void *ctx, const struct mesh_node_peer *p)
{
	struct one *o = ctx;

	if (strcmp(p->name, o->name) == 0) {
		o->p = *p;
		o->found = true;
	}
	return 0;
}

static bool peer_of(int i, const char *name, struct mesh_node_peer *out)
{
	struct one o = { .name = name };

	ck_assert_int_eq(mesh_node_foreach_peer(T[i].n, find_one, &o), 0);
	if (o.found && out != NULL)
		*out = o.p;
	return o.found;
}

/* ---- tests ---- */

START_TEST(test_init_store)
{
	char err[160];
	struct store_node node;
	struct store_mesh mesh;
	struct store_member m;

	ck_assert_int_eq(mesh_node_init_store(T[1].st, "Bad_Name", NULL, NULL, 0, NULL,
	    unix_now(), err, sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "invalid node name 'Bad_Name'"));
	ck_assert_int_eq(mesh_node_init_store(T[1].st, "ok", "-bad", NULL, 0, NULL,
	    unix_now(), err, sizeof err), MESHD_E_INVAL);
	ck_assert_int_eq(store_node_get(T[1].st, &node), MESHD_E_NOENT);

	ck_assert_int_eq(mesh_node_init_store(T[1].st, "first", NULL, NULL, 0, "mesh0",
	    unix_now(), err, sizeof err), 0);
	ck_assert_int_eq(store_node_get(T[1].st, &node), 0);
	ck_assert_str_eq(node.name, "first");
	ck_assert_int_eq(store_mesh_get(T[1].st, &mesh), 0);
	ck_assert_str_eq(mesh.name, "mesh");
	ck_assert(mesh.has_authority_sk);
	ck_assert_int_eq(strncmp(mesh.prefix4, "100.", 4), 0);
	ck_assert_int_eq(strncmp(mesh.prefix6, "fd", 2), 0);
	ck_assert_int_eq(store_member_get_by_id(T[1].st, node.node_id, &m), 0);
	ck_assert(m.admin);
	store_node_clear(&node);
	store_mesh_clear(&mesh);
	ck_assert_int_eq(mesh_node_init_store(T[1].st, "again", NULL, NULL, 0, NULL,
	    unix_now(), err, sizeof err), MESHD_E_EXIST);
}
END_TEST

START_TEST(test_open)
{
	struct mesh_node_self s;
	uint8_t pk[32];
	char err[128];
	struct mesh_node_cfg cfg = { .st = T[1].st, .wg = T[1].wg };
	struct mesh_node *n = (struct mesh_node *)&cfg;

	ck_assert_int_eq(mesh_node_open(&n, &cfg, now, unix_now(), err, sizeof err),
	    MESHD_E_NOENT);
	ck_assert_ptr_null(n);
	ck_assert_uint_gt(strlen(err), 0);

	init_admin();
	mesh_node_get_self(T[0].n, &s);
	ck_assert_str_eq(s.name, "alpha");
	ck_assert_str_eq(s.mesh_name, "lab");
	ck_assert(s.admin);
	ck_assert_uint_eq(s.members, 1);
	ck_assert_uint_eq(s.ipv4[0], 100);
	ck_assert_uint_eq(s.ipv4[1], 80);
	ck_assert_uint_eq(s.nep, 1);
	ck_assert(wg_device_get_public_key(T[0].wg, pk));
	ck_assert_mem_eq(pk, s.wg_pk, 32);
	ck_assert_ptr_null(wg_peer_next(T[0].wg, NULL));	/* no peer for ourselves */
	ck_assert(!mesh_node_revoked(T[0].n));
	/* the re-signed record after open keeps a growing seq */
	ck_assert_int_eq(mesh_node_revoke(T[0].n, "alpha", now, unix_now()), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_revoke(T[0].n, "nobody", now, unix_now()), MESHD_E_NOENT);
}
END_TEST

static uint64_t own_ep_version(int i)
{
	struct mesh_node_self s;
	struct store_endpoint_record er;

	mesh_node_get_self(T[i].n, &s);
	ck_assert_int_eq(store_endpoint_record_get(T[i].st, s.node_id, &er), 0);
	return er.version;
}

START_TEST(test_resign_and_expiry)
{
	uint64_t v1, v2;
	struct mesh_node_self s;

	init_admin();
	v1 = own_ep_version(0);
	ck_assert_uint_ge(v1, (uint64_t)unix_now() * 1000);
	/* the same set again: nothing new */
	set_eps(0, "192.0.2.1", 51820);
	ck_assert_uint_eq(own_ep_version(0), v1);
	/* re-signed once MESH_NODE_RESIGN_S have passed */
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n), now + SEC(MESH_NODE_RESIGN_S));
	now += SEC(MESH_NODE_RESIGN_S);
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	v2 = own_ep_version(0);
	ck_assert_uint_gt(v2, v1);
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(s.nep, 1);

	/* a restart keeps seq growing even with the clock set back */
	mesh_node_free(T[0].n);
	T[0].n = NULL;
	now -= SEC(3600);
	ck_assert_int_eq(open_node(0), 0);
	set_eps(0, "192.0.2.99", 51820);
	ck_assert_uint_gt(own_ep_version(0), v2);

	/* our cert expired: the node does not start */
	mesh_node_free(T[0].n);
	T[0].n = NULL;
	now += SEC((uint64_t)MESH_NODE_CERT_DAYS * 86400 + 7200);
	ck_assert_int_eq(open_node(0), MESHD_E_EXPIRED);
	ck_assert_ptr_null(T[0].n);
}
END_TEST

START_TEST(test_bad_input)
{
	uint8_t junk[300];
	struct wg_peer *stranger;
	uint8_t pk[32];

	init_admin();
	join_and_start(1, "bravo");
	randombytes_buf(junk, sizeof junk);
	mesh_node_input_gossip(T[0].n, NULL, junk, sizeof junk, now, unix_now());
	/* a wg peer the node does not manage */
	randombytes_buf(pk, sizeof pk);
	ck_assert_int_eq(wg_peer_add(T[0].wg, pk, now, &stranger), 0);
	mesh_node_input_gossip(T[0].n, stranger, junk, sizeof junk, now, unix_now());
	for (size_t len = 0; len < sizeof junk; len += 7) {
		junk[0] = GOSSIP_VERSION;
		junk[1] = (uint8_t)(len % 6);
		mesh_node_input_gossip(T[0].n, wg_peer_lookup(T[0].wg, T[1].wg_pk), junk, len,
		    now, unix_now());
		junk[0] = MESH_MSG_MAGIC;
		junk[1] = MESH_MSG_JOIN_REQ;
		u_input(0, &T[2].addr, junk, len);
		u_input(1, &T[2].addr, junk, len);
	}
	pump_gossip();
	ck_assert_uint_eq(uq_n, 0);
	ck_assert(peer_of(0, "bravo", NULL));
	ck_assert_int_eq(store_members(T[0].st), 2);
}
END_TEST

START_TEST(test_add_invite)
{
	struct mesh_token tok;
	struct mesh_node_self s;
	struct store_invite inv;
	uint8_t pk[MESH_PK_LEN], sk[MESH_SK_LEN], id[MESH_JOIN_INVITE_ID_LEN];

	init_admin();
	ck_assert_int_eq(mesh_node_add_invite(T[0].st, 0, 1, unix_now(), &tok), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_add_invite(T[0].st, 60, 0, unix_now(), &tok), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_add_invite(T[0].st, UINT32_MAX, 1, unix_now(), &tok),
	    MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_add_invite(T[1].st, 60, 1, unix_now(), &tok), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_add_invite(T[0].st, 60, 2, unix_now(), &tok), 0);
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(tok.expires_at, unix_now() + 60);
	ck_assert_int_eq(mesh_join_invite_keypair(tok.secret, pk, sk), 0);
	mesh_join_invite_id(pk, id);
	ck_assert_int_eq(store_invite_get(T[0].st, id, &inv), 0);
	ck_assert_mem_eq(inv.invite_pk, pk, MESH_PK_LEN);
	ck_assert_uint_eq(inv.uses_left, 2);
}
END_TEST

START_TEST(test_join)
{
	struct mesh_token tok;
	struct mesh_node_peer p;
	struct wg_peer_info info;
	struct wg_peer *wp;
	int members;

	init_admin();
	make_token(&tok, 3600, 1, unix_now());
	ck_assert_int_eq(do_join(1, "bravo", &tok, unix_now()), MESH_JOIN_OK);
	ck_assert_int_eq(store_members(T[0].st), 2);
	/* A has B at once, its endpoint the join request's source */
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_ptr_nonnull(p.peer);
	wp = wg_peer_lookup(T[0].wg, T[1].wg_pk);
	ck_assert_ptr_eq(wp, p.peer);
	wg_peer_get_info(wp, &info);
	ck_assert(endpoint_eq(&info.endpoint, &T[1].addr));
	/* no traffic yet: idle, no persistent keepalive (node_paths.c) */
	ck_assert_uint_eq(info.keepalive_interval, 0);

	/* B opens from its store alone and has A with A's endpoint */
	ck_assert_int_eq(open_node(1), 0);
	ck_assert(!peer_of(1, "bravo", NULL));
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_ptr_nonnull(p.peer);
	ck_assert_uint_eq(p.nep, 1);
	wg_peer_get_info(p.peer, &info);
	ck_assert(endpoint_eq(&info.endpoint, &T[0].addr));

	/* the 1-use invite is used up: nothing changes on A */
	members = store_members(T[0].st);
	ck_assert_int_eq(do_join(2, "charlie", &tok, unix_now()), MESH_JOIN_USED_UP);
	ck_assert_int_eq(store_members(T[0].st), members);
	ck_assert(!peer_of(0, "charlie", NULL));
	mesh_token_clear(&tok);

	/* a taken name */
	make_token(&tok, 3600, 1, unix_now());
	ck_assert_int_eq(do_join(2, "bravo", &tok, unix_now()), MESH_JOIN_NAME_TAKEN);
	ck_assert_int_eq(store_members(T[0].st), members);
	mesh_token_clear(&tok);

	/* expired at the inviter, not yet at the joiner */
	make_token(&tok, 9, 1, unix_now() - 10);
	ck_assert_int_eq(do_join(2, "charlie", &tok, unix_now() - 2), MESH_JOIN_EXPIRED);
	ck_assert_int_eq(store_members(T[0].st), members);
	mesh_token_clear(&tok);
}
END_TEST

START_TEST(test_handle_expiry_purges_invites)
{
	struct mesh_token used, old, live;
	struct store_invite inv;
	uint8_t pk[MESH_PK_LEN], sk[MESH_SK_LEN];
	uint8_t id_used[MESH_JOIN_INVITE_ID_LEN], id_old[MESH_JOIN_INVITE_ID_LEN];
	uint8_t id_live[MESH_JOIN_INVITE_ID_LEN];

	init_admin();
	make_token(&used, 3600, 1, unix_now());
	make_token(&old, 60, 1, unix_now() - 2 * JOIN_PURGE_GRACE_S);
	make_token(&live, 3 * JOIN_PURGE_S, 1, unix_now());
	ck_assert_int_eq(mesh_join_invite_keypair(used.secret, pk, sk), 0);
	mesh_join_invite_id(pk, id_used);
	ck_assert_int_eq(mesh_join_invite_keypair(old.secret, pk, sk), 0);
	mesh_join_invite_id(pk, id_old);
	ck_assert_int_eq(mesh_join_invite_keypair(live.secret, pk, sk), 0);
	mesh_join_invite_id(pk, id_live);
	sodium_memzero(sk, sizeof sk);
	ck_assert_int_eq(store_invite_consume(T[0].st, id_used, (int64_t)unix_now(), NULL), 0);
	/* the first expiry only arms the purge */
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	ck_assert_int_eq(store_invite_get(T[0].st, id_old, &inv), 0);
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n), now + SEC(JOIN_PURGE_S));
	now += SEC(JOIN_PURGE_S);
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	ck_assert_int_eq(store_invite_get(T[0].st, id_used, &inv), MESHD_E_NOENT);
	ck_assert_int_eq(store_invite_get(T[0].st, id_old, &inv), MESHD_E_NOENT);
	ck_assert_int_eq(store_invite_get(T[0].st, id_live, &inv), 0);
	mesh_token_clear(&used);
	mesh_token_clear(&old);
	mesh_token_clear(&live);
}
END_TEST

START_TEST(test_persist_join_twice)
{
	struct mesh_token tok;
	struct mesh_join_joiner *j;

	init_admin();
	make_token(&tok, 3600, 2, unix_now());
	ck_assert_int_eq(do_join(1, "bravo", &tok, unix_now()), MESH_JOIN_OK);
	/* a second persist into the same store refuses */
	j = calloc(1, sizeof *j);
	ck_assert_ptr_nonnull(j);
	memset(&j->result, 0, sizeof j->result);
	ck_assert_int_eq(mesh_node_persist_join(T[1].st, &j->result, T[1].wg_sk, 0, NULL,
	    unix_now()), MESHD_E_EXIST);
	free(j);
	mesh_token_clear(&tok);
}
END_TEST

static bool ep_is(const struct mesh_node_peer *p, const char *a, uint16_t port)
{
	uint8_t b[4];

	inet_pton(AF_INET, a, b);
	return p->nep == 1 && memcmp(p->ep[0].addr, b, 4) == 0 && p->ep[0].port == port;
}

/* alpha (admin), bravo, charlie, all joined through alpha. */
static void three_nodes(void)
{
	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	run(10);
}

START_TEST(test_gossip_three)
{
	struct mesh_node_peer p;
	struct mesh_node_self s;

	three_nodes();
	ck_assert_uint_eq(gq_dropped, 0);
	/* bravo learnt charlie (joined after it) by gossip, with its endpoints */
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_ptr_nonnull(p.peer);
	ck_assert(ep_is(&p, "192.0.2.3", 51820));
	ck_assert_ptr_eq(wg_peer_lookup(T[1].wg, T[2].wg_pk), p.peer);
	ck_assert(peer_of(2, "bravo", &p));
	for (int i = 0; i < 3; i++) {
		mesh_node_get_self(T[i].n, &s);
		ck_assert_uint_eq(s.members, 3);
		ck_assert_int_eq(store_members(T[i].st), 3);
	}

	/* an endpoint change on charlie reaches alpha and bravo */
	set_eps(2, "203.0.113.7", 40000);
	run(10);
	ck_assert(peer_of(0, "charlie", &p));
	ck_assert(ep_is(&p, "203.0.113.7", 40000));
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert(ep_is(&p, "203.0.113.7", 40000));
	{
		struct store_member m;
		struct store_endpoint_record er;

		ck_assert_int_eq(store_member_get_by_name(T[1].st, "charlie", &m), 0);
		ck_assert_int_eq(store_endpoint_record_get(T[1].st, m.node_id, &er), 0);
	}

	/* revoke charlie on alpha: bravo drops the wg peer, charlie learns it */
	ck_assert_int_eq(mesh_node_revoke(T[1].n, "charlie", now, unix_now()), MESHD_E_PERM);
	ck_assert_int_eq(mesh_node_revoke(T[0].n, "charlie", now, unix_now()), 0);
	ck_assert(!peer_of(0, "charlie", NULL));
	ck_assert_int_eq(store_members(T[0].st), 2);
	run(15);
	ck_assert_ptr_null(wg_peer_lookup(T[0].wg, T[2].wg_pk));
	ck_assert(!peer_of(1, "charlie", NULL));
	ck_assert_ptr_null(wg_peer_lookup(T[1].wg, T[2].wg_pk));
	ck_assert_int_eq(store_members(T[1].st), 2);
	ck_assert(mesh_node_revoked(T[2].n));
	mesh_node_get_self(T[1].n, &s);
	ck_assert_uint_eq(s.members, 2);
}
END_TEST

/* ---- certificate renewal ---- */

/* alpha (admin, certs of ttl seconds), bravo, charlie joined through it. */
static void three_nodes_ttl(uint64_t ttl)
{
	char err[160];
	struct mesh_prefix p4 = { .family = MESH_FAMILY_V4, .len = 16, .addr = { 100, 80 } };

	ck_assert_int_eq(mesh_node_init_store(T[0].st, "alpha", "lab", &p4, 51820, "mesh0",
	    unix_now(), err, sizeof err), 0);
	ck_assert_int_eq(mesh_node_set_cert_ttl(T[0].st, MESH_CERT_TTL_MIN_S - 1), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_set_cert_ttl(T[0].st, ttl), 0);
	ck_assert_int_eq(open_node(0), 0);
	set_eps(0, "192.0.2.1", 51820);
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	run(2);
}

static uint64_t self_expiry(int i)
{
	struct mesh_node_self s;

	mesh_node_get_self(T[i].n, &s);
	return s.cert_expires_at;
}

static uint64_t stored_expiry(int i, const char *name)
{
	struct store_member m;

	ck_assert_int_eq(store_member_get_by_name(T[i].st, name, &m), 0);
	return (uint64_t)m.cert_expires_at;
}

/* The admin renews its own and every member's cert at 2/3 of their life,
 * to the same point on every node (memory and store), for several TTLs. */
START_TEST(test_cert_renew)
{
	uint64_t a0, b0, c0, t0 = unix_now();
	struct mesh_node_peer p;
	struct mesh_node_self s;

	three_nodes_ttl(90);
	a0 = self_expiry(0);
	b0 = self_expiry(1);
	c0 = self_expiry(2);
	ck_assert_uint_eq(a0, t0 + 90);		/* init --cert-ttl */
	ck_assert_uint_ge(b0, t0 + 90);		/* issued at the join */
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.cert_expires_at, b0);
	/* renewal is due at expires - 30: the timers wake for it */
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n), now + SEC(a0 - 30 - unix_now()));
	run((unsigned)(a0 - 30 - unix_now()) - 1);
	ck_assert_uint_eq(self_expiry(0), a0);	/* not yet */
	run(3);
	/* renewed from the due time: the same bytes whichever admin signs */
	ck_assert_uint_eq(self_expiry(0), a0 - 30 + 90);
	run((unsigned)(c0 - 30 - unix_now()) + 5);
	ck_assert_uint_eq(self_expiry(1), b0 + 60);
	ck_assert_uint_eq(self_expiry(2), c0 + 60);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(stored_expiry(i, "alpha"), a0 + 60);
		ck_assert_uint_eq(stored_expiry(i, "bravo"), b0 + 60);
		ck_assert_uint_eq(stored_expiry(i, "charlie"), c0 + 60);
	}
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_uint_eq(p.cert_expires_at, c0 + 60);
	/* four lifetimes later: still three members everywhere, certs moving */
	run(4 * 90);
	for (int i = 0; i < 3; i++) {
		mesh_node_get_self(T[i].n, &s);
		ck_assert_uint_eq(s.members, 3);
		ck_assert_int_eq(store_members(T[i].st), 3);
		ck_assert(!s.cert_unrenewed);
		ck_assert_uint_gt(s.cert_expires_at, unix_now() + 30 - 2);
	}
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_ptr_nonnull(p.peer);
	ck_assert_uint_eq(gq_dropped, 0);
}
END_TEST

/* Counts lines holding needle in what fd 2 got since capture_start(). */
static int cap_fd = -1, cap_saved = -1;
static char cap_path[] = "/tmp/check_node_logXXXXXX";

static void capture_start(void)
{
	fflush(stderr);
	cap_fd = mkstemp(cap_path);
	ck_assert_int_ge(cap_fd, 0);
	cap_saved = dup(2);
	ck_assert_int_ge(dup2(cap_fd, 2), 0);
}

static int capture_count(const char *needle)
{
	char line[512];
	int c = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(cap_path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			c++;
	fclose(f);
	return c;
}

static void capture_stop(void)
{
	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	close(cap_fd);
	unlink(cap_path);
}

/* No admin online: a member warns (status and log) once less than a third
 * of its cert's life is left and the grace has passed; once per day. */
START_TEST(test_cert_warn_without_admin)
{
	static const char warn[] = "no admin has renewed it";
	struct mesh_node_self s;
	uint64_t b0;

	three_nodes_ttl(3 * 86400);
	b0 = self_expiry(1);
	mesh_node_free(T[0].n);		/* the admin goes away */
	T[0].n = NULL;
	capture_start();
	/* just before the due time plus grace (life / 12, at most 900 s) */
	now += SEC(b0 - 86400 + 899 - unix_now());
	mesh_node_handle_expiry(T[1].n, now, unix_now());
	mesh_node_get_self(T[1].n, &s);
	ck_assert(!s.cert_unrenewed);
	ck_assert_int_eq(capture_count(warn), 0);
	ck_assert_uint_le(mesh_node_next_expiry(T[1].n), now + SEC(1));
	run(2);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(s.cert_unrenewed);
	ck_assert_int_eq(capture_count(warn), 2);	/* bravo and charlie */
	run(600);		/* no second line within the day */
	ck_assert_int_eq(capture_count(warn), 2);
	now += SEC(86400 - 600);
	mesh_node_handle_expiry(T[1].n, now, unix_now());
	ck_assert_int_eq(capture_count(warn), 3);
	capture_stop();
	ck_assert_uint_eq(self_expiry(1), b0);
}
END_TEST

/* A renewed cert replaces the old one: an admin that comes back late
 * issues from now, a stale copy of the old cert changes nothing, and a
 * second admin (same authority key) signs the same renewal bytes. */
START_TEST(test_cert_renew_replaces)
{
	struct store_member m_old, m_new;
	struct mesh_cert c_old, c_new, r1, r2;
	uint64_t b0;

	three_nodes_ttl(90);
	b0 = self_expiry(1);
	ck_assert_int_eq(store_member_get_by_name(T[1].st, "bravo", &m_old), 0);
	ck_assert_int_eq(mesh_cert_decode(m_old.cert, m_old.cert_len, &c_old), 0);
	/* idempotent across admins: the renewal does not depend on when */
	ck_assert(!mesh_cert_renewal(&c_old, 90, b0 - 31, &r1));
	ck_assert(mesh_cert_renewal(&c_old, 90, b0 - 30, &r1));
	ck_assert(mesh_cert_renewal(&c_old, 90, b0 - 10, &r2));
	ck_assert_mem_eq(&r1, &r2, sizeof r1);
	run((unsigned)(b0 - unix_now()) + 5);	/* past the old expiry */
	ck_assert_uint_eq(self_expiry(1), b0 + 60);
	ck_assert_int_eq(store_member_get_by_name(T[2].st, "bravo", &m_new), 0);
	ck_assert_int_eq(mesh_cert_decode(m_new.cert, m_new.cert_len, &c_new), 0);
	ck_assert_uint_gt(c_new.issued_at, c_old.issued_at);
	ck_assert_mem_eq(c_new.wg_pubkey, c_old.wg_pubkey, sizeof c_old.wg_pubkey);
	ck_assert_mem_eq(c_new.ipv4, c_old.ipv4, 4);
	ck_assert_str_eq(c_new.name, c_old.name);
	/* the old bytes arriving again (a slow member's gossip) change nothing */
	mesh_node_input_gossip(T[2].n, NULL, m_old.cert, m_old.cert_len, now, unix_now());
	ck_assert_uint_eq(stored_expiry(2, "bravo"), b0 + 60);
	/* late, still from the due time while that renewal is not due itself */
	ck_assert(mesh_cert_renewal(&c_new, 90, c_new.expires_at - 1, &r1));
	ck_assert_uint_eq(r1.issued_at, c_new.expires_at - 30);
	ck_assert_uint_eq(r1.expires_at, c_new.expires_at + 60);
	/* when it would be (a shorter ttl now), from now */
	ck_assert(mesh_cert_renewal(&c_new, 40, c_new.expires_at - 1, &r1));
	ck_assert_uint_eq(r1.issued_at, c_new.expires_at - 1);
	ck_assert_uint_eq(r1.expires_at, c_new.expires_at - 1 + 40);
	/* never shorter than the cert it replaces */
	ck_assert(!mesh_cert_renewal(&c_new, 20, c_new.expires_at - 25, &r1));
}
END_TEST

/* The version of node i's endpoint record in store st (0: none). */
static uint64_t stored_ep_version(struct store *st, int i)
{
	struct mesh_node_self s;
	struct store_endpoint_record er;

	mesh_node_get_self(T[i].n, &s);
	return store_endpoint_record_get(st, s.node_id, &er) == 0 ? er.version : 0;
}

/* Gossip input marks records; only a flush writes them. */
START_TEST(test_flush_after_receive)
{
	struct mesh_node_peer p;
	uint64_t v_old, v_new;

	init_admin();
	join_and_start(1, "bravo");
	run(2);
	ck_assert(!mesh_node_dirty(T[0].n));
	v_old = stored_ep_version(T[0].st, 1);
	ck_assert_uint_gt(v_old, 0);
	now += SEC(2);		/* a new seq: one per millisecond of wall time */
	set_eps(1, "203.0.113.20", 40020);
	v_new = stored_ep_version(T[1].st, 1);	/* bravo's own, flushed by set_eps */
	ck_assert_uint_gt(v_new, v_old);
	pump_gossip();		/* alpha receives it: input only, no timers */
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert(ep_is(&p, "203.0.113.20", 40020));
	ck_assert(mesh_node_dirty(T[0].n));
	ck_assert_uint_eq(stored_ep_version(T[0].st, 1), v_old);
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n), now + MSEC(MESH_NODE_FLUSH_MS));
	ck_assert_int_eq(mesh_node_flush(T[0].n, now, unix_now()), 0);
	ck_assert(!mesh_node_dirty(T[0].n));
	ck_assert_uint_eq(stored_ep_version(T[0].st, 1), v_new);
}
END_TEST

/* A store locked by another process: the flush writes nothing, keeps the
 * marks and the timers write them once the lock is gone. */
START_TEST(test_flush_busy_keeps_dirty)
{
	char dir[] = "/tmp/check_node.XXXXXX", path[64];
	struct store *other;
	struct mesh_node_peer p;
	uint64_t v_old, v_new;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/meshd.db", dir);
	store_close(T[0].st);
	ck_assert_int_eq(store_open(path, &T[0].st), 0);
	ck_assert_int_eq(store_set_busy_timeout(T[0].st, 10), 0);
	ck_assert_int_eq(store_open(path, &other), 0);
	init_admin();
	join_and_start(1, "bravo");
	run(2);
	v_old = stored_ep_version(T[0].st, 1);
	ck_assert_uint_gt(v_old, 0);

	ck_assert_int_eq(store_tx_begin(other), 0);	/* `meshd invite`, say */
	now += SEC(2);
	set_eps(1, "203.0.113.21", 40021);
	v_new = stored_ep_version(T[1].st, 1);
	ck_assert_uint_gt(v_new, v_old);
	pump_gossip();
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert(ep_is(&p, "203.0.113.21", 40021));
	ck_assert_int_eq(mesh_node_flush(T[0].n, now, unix_now()), MESHD_E_AGAIN);
	ck_assert(mesh_node_dirty(T[0].n));
	/* not before the retry time, even with the lock gone */
	ck_assert_int_eq(store_tx_rollback(other), 0);
	now += MSEC(MESH_NODE_FLUSH_RETRY_MS / 2);
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	ck_assert(mesh_node_dirty(T[0].n));
	ck_assert_uint_eq(stored_ep_version(other, 1), v_old);
	/* then the timers write it */
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n),
	    now + MSEC(MESH_NODE_FLUSH_RETRY_MS / 2));
	now += MSEC(MESH_NODE_FLUSH_RETRY_MS / 2);
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	ck_assert(!mesh_node_dirty(T[0].n));
	ck_assert_uint_eq(stored_ep_version(other, 1), v_new);
	store_close(other);
	mesh_node_free(T[0].n);
	T[0].n = NULL;
	store_close(T[0].st);
	T[0].st = NULL;
	unlink(path);
	{
		char aux[80];

		snprintf(aux, sizeof aux, "%s-wal", path);
		unlink(aux);
		snprintf(aux, sizeof aux, "%s-shm", path);
		unlink(aux);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_restart)
{
	struct mesh_node_peer p;
	struct wg_peer_info info;

	three_nodes();
	mesh_node_free(T[1].n);
	T[1].n = NULL;
	wg_device_free(T[1].wg);
	T[1].wg = new_wg(1);
	ck_assert_int_eq(open_node(1), 0);
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_ptr_nonnull(p.peer);
	wg_peer_get_info(p.peer, &info);
	ck_assert(endpoint_eq(&info.endpoint, &T[0].addr));
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert(ep_is(&p, "192.0.2.3", 51820));
	/* and it gossips again */
	set_eps(2, "203.0.113.9", 40001);
	run(10);
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert(ep_is(&p, "203.0.113.9", 40001));
}
END_TEST

START_TEST(test_revoke_offline)
{
	struct store_member m;
	struct mesh_node_self s;
	uint8_t cid[16];

	three_nodes();
	mesh_node_free(T[0].n);
	T[0].n = NULL;
	ck_assert_int_eq(mesh_node_revoke_offline(T[0].st, "alpha", unix_now()), MESHD_E_INVAL);
	ck_assert_int_eq(mesh_node_revoke_offline(T[0].st, "zulu", unix_now()), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_revoke_offline(T[1].st, "charlie", unix_now()), MESHD_E_PERM);
	ck_assert_int_eq(store_member_get_by_name(T[0].st, "charlie", &m), 0);
	memcpy(cid, m.node_id, 16);
	ck_assert_int_eq(mesh_node_revoke_offline(T[0].st, "charlie", unix_now()), 0);
	ck_assert_int_eq(store_member_get_by_name(T[0].st, "charlie", &m), MESHD_E_NOENT);
	ck_assert_int_eq(store_revocation_exists(T[0].st, cid), 1);

	wg_device_free(T[0].wg);
	T[0].wg = new_wg(0);
	ck_assert_int_eq(open_node(0), 0);
	ck_assert(!peer_of(0, "charlie", NULL));
	ck_assert(peer_of(0, "bravo", NULL));
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(s.members, 2);
	/* the start gossips it */
	run(15);
	ck_assert_ptr_null(wg_peer_lookup(T[1].wg, T[2].wg_pk));
	ck_assert(!peer_of(1, "charlie", NULL));
	ck_assert(mesh_node_revoked(T[2].n));

	/* charlie cannot start again */
	mesh_node_free(T[2].n);
	T[2].n = NULL;
	ck_assert_int_eq(open_node(2), MESHD_E_PERM);
}
END_TEST

/* ---- path selection (mesh/path.h, mesh/probe.h) ---- */

static void wg_ep_of(int i, int j, union endpoint *out)
{
	struct wg_peer_info info;
	struct wg_peer *wp = wg_peer_lookup(T[i].wg, T[j].wg_pk);

	ck_assert_ptr_nonnull(wp);
	wg_peer_get_info(wp, &info);
	*out = info.endpoint;
}

static union endpoint EP(const char *a, uint16_t port)
{
	union endpoint e;

	memset(&e, 0, sizeof e);
	e.sin.sin_family = AF_INET;
	e.sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, a, &e.sin.sin_addr), 1);
	return e;
}

static void set_prefix(int i, const char *s)
{
	struct mesh_prefix p;

	memset(&p, 0, sizeof p);
	p.family = MESH_FAMILY_V4;
	ck_assert_int_eq(inet_pton(AF_INET, s, p.addr), 1);
	p.len = 24;
	ck_assert_int_eq(mesh_node_set_local_prefixes(T[i].n, &p, 1, now), 0);
}

/* Probes of node i to dst waiting in the underlay queue. */
static unsigned queued_probes(int i, const union endpoint *dst)
{
	unsigned c = 0;

	for (size_t k = 0; k < uq_n; k++)
		if (uq[k].from == i && endpoint_eq(&uq[k].dst, dst) && uq[k].p[1] == MESH_MSG_PROBE)
			c++;
	return c;
}

/* bravo announces its LAN address and a port mapping that does not work:
 * alpha ends up DIRECT on the LAN address, never on the dead one, with an
 * RTT of one harness step (100 ms). */
static void send_ip(int i, int j);

START_TEST(test_path_lan_preferred)
{
	struct mesh_node_peer p;
	struct mesh_ep ep[2];
	union endpoint e;

	init_admin();
	join_and_start(1, "bravo");
	set_prefix(0, "192.0.2.1");
	set_prefix(1, "192.0.2.2");
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_NONE);
	ck_assert_int_eq(p.rtt_ms, -1);
	memset(ep, 0, sizeof ep);
	ep[0].source = MESH_EP_PORTMAP;
	ep[1].source = MESH_EP_LOCAL;
	ep[0].family = ep[1].family = MESH_FAMILY_V4;
	inet_pton(AF_INET, "198.51.100.1", ep[0].addr);
	inet_pton(AF_INET, "192.0.2.2", ep[1].addr);
	ep[0].port = 1000;
	ep[1].port = 51820;
	ck_assert_int_eq(mesh_node_set_endpoints(T[1].n, ep, 2, now, unix_now()), 0);
	pump_gossip();
	u_deliver = true;
	for (int s = 0; s < 30; s++) {
		run(1);
		ck_assert(peer_of(0, "bravo", &p));
		if (p.path == MESH_PATH_DIRECT) {
			wg_ep_of(0, 1, &e);
			ck_assert(endpoint_eq(&e, &T[1].addr));
		}
	}
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	ck_assert_int_ge(p.rtt_ms, 50);
	ck_assert_int_le(p.rtt_ms, 250);
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	wg_ep_of(1, 0, &e);
	ck_assert(endpoint_eq(&e, &T[0].addr));
	/* traffic makes the pair warm: a dead path is then noticed at once
	 * (idle pairs notice it at their next lazy re-probe) */
	send_ip(0, 1);
	run(3);
	send_ip(1, 0);
	run(1);
	/* the link dies: both fall back to NONE, WireGuard's endpoint stays */
	T[0].cut[1] = true;
	run(40);
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_NONE);
	ck_assert_int_eq(p.rtt_ms, -1);
	wg_ep_of(0, 1, &e);
	ck_assert(endpoint_eq(&e, &T[1].addr));
	/* and back */
	T[0].cut[1] = false;
	run(10);
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
}
END_TEST

static bool has_ep(const struct mesh_node_self *s, uint8_t source, const char *a,
    uint16_t port)
{
	uint8_t b[4];

	inet_pton(AF_INET, a, b);
	for (unsigned i = 0; i < s->nep; i++)
		if (s->ep[i].source == source && s->ep[i].family == MESH_FAMILY_V4 &&
		    memcmp(s->ep[i].addr, b, 4) == 0 && s->ep[i].port == port)
			return true;
	return false;
}

/* Reflexive addresses need a second witness once there is one: W1 alone
 * says 203.0.113.66 (published: no one else to ask); W2 says 203.0.113.2
 * (they disagree: neither is published); W3 agrees with W2 on the IP with
 * another port (symmetric NAT; the family's two slots are full, so it
 * counts for W2's entry): 203.0.113.2 published, W1's address not; W1
 * comes round to 203.0.113.2: its old report is gone. */
START_TEST(test_refl_two_witnesses)
{
	struct mesh_node_self s;
	uint8_t w1[MESH_NODE_ID_LEN], w2[MESH_NODE_ID_LEN], w3[MESH_NODE_ID_LEN];
	union endpoint lie = EP("203.0.113.66", 53), a = EP("203.0.113.2", 40000);
	union endpoint b = EP("203.0.113.2", 40001);

	memset(w1, 0xa1, sizeof w1);
	memset(w2, 0xa2, sizeof w2);
	memset(w3, 0xa3, sizeof w3);
	init_admin();
	join_and_start(1, "bravo");
	/* a probe seen over a TCP entry or a relay: a synthetic address,
	 * never a reflexive endpoint */
	union endpoint syn;
	ck_assert_int_eq(endpoint_parse(&syn, "[100::1:0:0:e:1]:1", false), 0);
	node_refl_note(T[1].n, &syn, w1);
	ck_assert_uint_eq(T[1].n->nrefl, 0);
	node_refl_note(T[1].n, &lie, w1);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.66", 53));
	node_refl_note(T[1].n, &a, w2);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(!has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.66", 53));
	ck_assert(!has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.2", 40000));
	node_refl_note(T[1].n, &b, w3);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(!has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.66", 53));
	ck_assert(has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.2", 40000));
	/* the same witness again changes nothing; W1 moving drops its lie */
	node_refl_note(T[1].n, &lie, w1);
	node_refl_note(T[1].n, &a, w1);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(!has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.66", 53));
	ck_assert(has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.2", 40000));
	ck_assert_uint_eq(T[1].n->nrefl, 1);
	ck_assert_uint_eq(T[1].n->refl[0].nwit, 2);
}
END_TEST

/* Two hostile members publish records whose 8 endpoints all name a third
 * party (203.0.113.99, a new set of ports every 5 s). Whatever they do,
 * alpha sends that address at most NODE_DST_BURST probes at once and
 * NODE_DST_PER_MIN a minute; the real members' paths are untouched. */
START_TEST(test_probe_budget_per_destination)
{
	struct mesh_ep ep[MESH_ENDPOINTS_MAX];
	struct mesh_node_peer p;
	unsigned round;

	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	join_and_start(3, "delta");
	u_deliver = w_deliver = true;
	run(10);
	ck_assert(peer_of(0, "delta", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	T[0].u_victim = 0;
	for (round = 0; round < 12; round++) {
		for (int i = 1; i <= 2; i++) {
			memset(ep, 0, sizeof ep);
			for (unsigned k = 0; k < MESH_ENDPOINTS_MAX; k++) {
				ep[k].source = MESH_EP_PORTMAP;
				ep[k].family = MESH_FAMILY_V4;
				inet_pton(AF_INET, "203.0.113.99", ep[k].addr);
				ep[k].port = (uint16_t)(1000 + round * 100 + (unsigned)i * 10 + k);
			}
			ck_assert_int_eq(mesh_node_set_endpoints(T[i].n, ep, MESH_ENDPOINTS_MAX,
			    now, unix_now()), 0);
		}
		pump_gossip();
		for (int t = 0; t < 5; t++) {
			send_ip(1, 0);	/* they keep themselves warm */
			send_ip(2, 0);
			run(1);
		}
	}
	/* 60 s: the burst and a minute's refill, at most */
	ck_assert_uint_le(T[0].u_victim, NODE_DST_BURST + NODE_DST_PER_MIN + 1);
	ck_assert_uint_gt(T[0].u_victim, 0);
	ck_assert(peer_of(0, "delta", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
}
END_TEST

/* bravo sits behind a cone NAT (10.1.1.2 -> 203.0.113.2:40000): alpha's
 * answers tell it its public mapping, which goes into its record as
 * REFLEXIVE; alpha then reaches it there (its private address never
 * answers from outside). The reflexive endpoint goes 60 s after the last
 * answer. */
START_TEST(test_path_reflexive)
{
	struct mesh_token tok;
	struct mesh_node_peer p;
	struct mesh_node_self s;
	union endpoint e, pub = EP("203.0.113.2", 40000);

	init_admin();
	set_addr(1, "10.1.1.2");
	T[1].nat = pub;
	make_token(&tok, 3600, 1, unix_now());
	ck_assert_int_eq(do_join(1, "bravo", &tok, unix_now()), MESH_JOIN_OK);
	mesh_token_clear(&tok);
	ck_assert_int_eq(open_node(1), 0);
	set_eps(1, "10.1.1.2", 51820);
	pump_gossip();
	u_deliver = true;
	run(5);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.2", 40000));
	ck_assert(has_ep(&s, MESH_EP_LOCAL, "10.1.1.2", 51820));
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.nep, 2);
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	ck_assert_int_ge(p.rtt_ms, 0);
	wg_ep_of(0, 1, &e);
	ck_assert(endpoint_eq(&e, &pub));
	/* alpha is public: no reflexive endpoint of its own (it equals a LOCAL) */
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(s.nep, 1);
	/* no more answers: gone after 60 s */
	T[0].cut[1] = true;
	run(70);
	mesh_node_get_self(T[1].n, &s);
	ck_assert(!has_ep(&s, MESH_EP_REFLEXIVE, "203.0.113.2", 40000));
	ck_assert_uint_eq(s.nep, 1);
}
END_TEST

/* bravo and charlie cannot reach each other (yet); both have a direct path
 * to alpha. bravo's network change punches every peer and sends a PUNCH for
 * charlie through alpha, which forwards it; charlie probes bravo at once. */
START_TEST(test_path_punch_forwarded)
{
	struct mesh_node_peer p;
	uint8_t m[1 + 32];
	struct mesh_node_self s0, s1, s2;

	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	T[1].cut[2] = true;
	u_deliver = true;
	run(10);
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	ck_assert(peer_of(2, "alpha", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	/* no WireGuard sessions here (datagrams go nowhere): no relay either */
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_NONE);
	run(2);
	uq_n = 0;
	ck_assert_uint_eq(gq_n, 0);
	mesh_node_network_changed(T[1].n, now, unix_now());
	ck_assert_uint_eq(gq_n, 1);
	ck_assert_uint_eq(gq[gq_head].p[0], 0x50);
	ck_assert_uint_eq(gq[gq_head].len, 33);
	mesh_node_get_self(T[0].n, &s0);
	mesh_node_get_self(T[1].n, &s1);
	mesh_node_get_self(T[2].n, &s2);
	ck_assert_mem_eq(gq[gq_head].dst4, s0.ipv4, 4);
	ck_assert_mem_eq(gq[gq_head].p + 1, s2.node_id, 16);
	ck_assert_mem_eq(gq[gq_head].p + 17, s1.node_id, 16);
	/* at most one per second per target */
	mesh_node_network_changed(T[1].n, now, unix_now());
	ck_assert_uint_eq(gq_n, 1);
	memcpy(m, gq[gq_head].p, sizeof m);
	pump_gossip();
	ck_assert_uint_le(mesh_node_next_expiry(T[2].n), now);
	mesh_node_handle_expiry(T[2].n, now, unix_now());
	ck_assert_uint_ge(queued_probes(2, &T[1].addr), 1);
	/* the link opens: both get there */
	T[1].cut[2] = false;
	run(3);
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);

	/* a PUNCH whose origin is not its sender is not forwarded, and one for
	 * us from a forwarder is rate-limited per origin */
	uq_n = 0;
	now += SEC(2);
	mesh_node_input_gossip(T[0].n, wg_peer_lookup(T[0].wg, T[2].wg_pk), m, sizeof m, now,
	    unix_now());
	ck_assert_uint_eq(gq_n, 0);
	m[5] ^= 1;	/* unknown target */
	mesh_node_input_gossip(T[0].n, wg_peer_lookup(T[0].wg, T[1].wg_pk), m, sizeof m, now,
	    unix_now());
	ck_assert_uint_eq(gq_n, 0);
	mesh_node_input_gossip(T[0].n, wg_peer_lookup(T[0].wg, T[1].wg_pk), m, 20, now,
	    unix_now());
	ck_assert_uint_eq(gq_n, 0);
}
END_TEST

/* An IPv4/UDP packet from node i's overlay address to node j's, encrypted by
 * i's device and sent as the daemon does (synthetic: through the node). */
static void send_ip(int i, int j)
{
	static _Alignas(8) uint8_t buf[256];
	struct mesh_node_self si, sj;
	struct wg_result res;
	uint8_t *ip = buf + WG_HEADROOM;

	mesh_node_get_self(T[i].n, &si);
	mesh_node_get_self(T[j].n, &sj);
	memset(buf, 0, sizeof buf);
	ip[0] = 0x45;
	ip[3] = 32;		/* total length */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, si.ipv4, 4);
	memcpy(ip + 16, sj.ipv4, 4);
	ip[22] = 0;
	ip[23] = 9;		/* UDP to port 9 */
	ip[25] = 12;
	memcpy(ip + 28, "ping", 4);
	wg_input_tun(T[i].wg, buf, 32, sizeof buf, now, &res);
	if (res.act == WG_ACT_SEND)
		wg_send(&T[i], &res.dst, buf + res.off, res.len);
}

/* Both nodes of a pair on one LAN (no NAT anchor needed: LAN paths). */
static void set_lan24(int i)
{
	struct mesh_prefix pf;

	memset(&pf, 0, sizeof pf);
	pf.family = MESH_FAMILY_V4;
	inet_pton(AF_INET, "192.0.2.0", pf.addr);
	pf.len = 24;
	ck_assert_int_eq(mesh_node_set_local_prefixes(T[i].n, &pf, 1, now), 0);
}

/* Two members that exchange no data: after the first probe round, ten
 * minutes of nothing on WireGuard (no keepalive, no handshake) and on the
 * underlay only the lazy re-probes (rounds 60 s, 180 s, 420 s after going
 * idle: one probe per candidate, and its answer). */
START_TEST(test_idle_peer_quiet)
{
	struct mesh_node_peer p;
	struct wg_peer_info info;

	init_admin();
	join_and_start(1, "bravo");
	set_lan24(0);
	set_lan24(1);
	u_deliver = w_deliver = true;
	run(20);
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	wg_peer_get_info(p.peer, &info);
	ck_assert_uint_eq(info.keepalive_interval, 0);
	T[0].wg_sent = T[1].wg_sent = T[0].u_sent = T[1].u_sent = 0;
	run(600);
	ck_assert_uint_eq(T[0].wg_sent, 0);
	ck_assert_uint_eq(T[1].wg_sent, 0);
	/* 3 rounds x (1 probe + 1 answer) per candidate, a candidate or two */
	ck_assert_uint_le(T[0].u_sent, 3 * 2 * 2);
	ck_assert_uint_le(T[1].u_sent, 3 * 2 * 2);
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
}
END_TEST

/* On a WAN path (no shared LAN) one idle peer per family keeps our NAT
 * mapping: its path is probed every 15-25 s, and that is all. */
START_TEST(test_idle_nat_anchor)
{
	init_admin();
	join_and_start(1, "bravo");
	u_deliver = w_deliver = true;
	run(20);
	T[0].wg_sent = T[1].wg_sent = T[0].u_sent = T[1].u_sent = 0;
	run(600);
	ck_assert_uint_eq(T[0].wg_sent, 0);
	/* own probes every <= 25 s, the peer's answered, plus re-probes */
	ck_assert_uint_ge(T[0].u_sent, 2 * 600 / 25);
	ck_assert_uint_le(T[0].u_sent, 2 * 600 / 15 + 12);
}
END_TEST

/* Traffic for an idle peer: the packet is staged and a handshake leaves at
 * once; the node sees the demand at once (next expiry = now) and probes
 * the path in the same instant; the packet arrives within the RTT, and the
 * pair is warm (persistent keepalive on). */
START_TEST(test_idle_peer_wakes_on_traffic)
{
	struct mesh_node_peer p;
	struct wg_peer_info info;
	unsigned rx;

	init_admin();
	join_and_start(1, "bravo");
	set_lan24(0);
	set_lan24(1);
	u_deliver = w_deliver = true;
	run(600);	/* idle, any session long gone */
	rx = T[1].w_rx;
	T[0].wg_sent = T[0].u_sent = 0;
	send_ip(0, 1);
	ck_assert_uint_ge(T[0].wg_sent, 1);	/* the initiation */
	ck_assert_uint_le(mesh_node_next_expiry(T[0].n), now);
	mesh_node_handle_expiry(T[0].n, now, unix_now());
	ck_assert_uint_ge(T[0].u_sent, 1);	/* probe(s) at once */
	for (int k = 0; k < 3 && T[1].w_rx == rx; k++)
		run(1);
	ck_assert_uint_eq(T[1].w_rx, rx + 1);	/* the staged packet, not lost */
	ck_assert(peer_of(0, "bravo", &p));
	wg_peer_get_info(p.peer, &info);
	ck_assert_uint_eq(info.keepalive_interval, MESH_NODE_KEEPALIVE_S);
	ck_assert(peer_of(1, "alpha", &p));
	wg_peer_get_info(p.peer, &info);
	ck_assert_uint_eq(info.keepalive_interval, MESH_NODE_KEEPALIVE_S);
	/* and idle again NODE_IDLE_AFTER_S after the last data */
	run(200);
	ck_assert(peer_of(0, "bravo", &p));
	wg_peer_get_info(p.peer, &info);
	ck_assert_uint_eq(info.keepalive_interval, 0);
}
END_TEST

/* Node i lists node j's member (by name) with path RELAY. */
static bool relayed(int i, int j)
{
	static const char *const names[] = { "alpha", "bravo", "charlie" };
	struct mesh_node_peer p;

	return peer_of(i, names[j], &p) && p.path == MESH_PATH_RELAY &&
	    peer_of(j, names[i], &p) && p.path == MESH_PATH_RELAY;
}

/* Relay (issue 4): bravo and charlie cannot reach each other, both reach
 * alpha (a public address: it offers relaying). bravo -> charlie goes RELAY
 * via alpha, WireGuard handshakes and data cross alpha as RELAY/RELAYED;
 * when the link is restored the direct path takes over. */
START_TEST(test_relay_path)
{
	struct mesh_node_peer p;
	struct mesh_relay_stats r0, r1, r2;
	union endpoint ep;
	unsigned rx;

	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	T[1].cut[2] = true;
	u_deliver = w_deliver = true;
	/* sessions with alpha first (the joins' handshakes went nowhere: the
	 * retry comes after REKEY_TIMEOUT), then alpha is a relay candidate */
	for (unsigned t = 0; t < 30 && !relayed(1, 2); t++)
		run(1);
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_RELAY);
	ck_assert_str_eq(p.via_name, "alpha");
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_RELAY);
	ck_assert_str_eq(p.via_name, "alpha");
	wg_ep_of(1, 2, &ep);
	ck_assert(mesh_relay_is_synth(&ep));
	/* data both ways through alpha (both ends started a handshake at
	 * the same virtual instant: crossed initiations settle on WireGuard's
	 * retries after REKEY_TIMEOUT, with jitter) */
	rx = T[2].w_rx;
	for (unsigned t = 0; t < 30 && T[2].w_rx == rx; t++) {
		send_ip(1, 2);
		run(1);
	}
	ck_assert_uint_gt(T[2].w_rx, rx);
	rx = T[1].w_rx;
	send_ip(2, 1);
	run(1);
	ck_assert_uint_eq(T[1].w_rx, rx + 1);
	mesh_node_relay_stats(T[0].n, &r0);
	mesh_node_relay_stats(T[1].n, &r1);
	mesh_node_relay_stats(T[2].n, &r2);
	ck_assert_uint_ge(r0.forwarded, 4);	/* a handshake and a packet each way */
	ck_assert_uint_ge(r1.wrapped, 2);
	ck_assert_uint_ge(r2.received, 2);
	/* the link comes back: direct within a retry period */
	T[1].cut[2] = false;
	run(PATH_RETRY_MS / 1000 + 3);
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_uint_eq(p.path, MESH_PATH_DIRECT);
	ck_assert_str_eq(p.via_name, "");
	wg_ep_of(1, 2, &ep);
	ck_assert(endpoint_eq(&ep, &T[2].addr));
	mesh_node_relay_stats(T[0].n, &r0);
	rx = T[2].w_rx;
	send_ip(1, 2);
	run(1);
	ck_assert_uint_eq(T[2].w_rx, rx + 1);
	mesh_node_relay_stats(T[0].n, &r1);
	ck_assert_uint_eq(r1.forwarded, r0.forwarded);	/* not through alpha */
}
END_TEST

/* The relay goes away for a minute (a reboot) while bravo and charlie, who
 * cannot reach each other, are idle and relayed through it. Once it is
 * back, bravo finds it within a warm retry round, not after the idle
 * back-off (a minute or more): with no relay-offering member on a direct
 * path, all of them are kept warm. */
START_TEST(test_relay_outage_found_again)
{
	struct mesh_node_peer p;
	unsigned t;

	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	T[1].cut[2] = true;
	u_deliver = w_deliver = true;
	for (t = 0; t < 30 && !relayed(1, 2); t++)
		run(1);
	ck_assert(relayed(1, 2));
	run(400);		/* no data: idle, sessions gone */
	ck_assert(relayed(1, 2));
	T[0].cut[1] = T[0].cut[2] = true;
	run(60);
	ck_assert(peer_of(1, "alpha", &p));
	ck_assert_uint_ne(p.path, MESH_PATH_DIRECT);
	T[0].cut[1] = T[0].cut[2] = false;
	for (t = 0; t < 60; t++) {
		run(1);
		if (peer_of(1, "alpha", &p) && p.path == MESH_PATH_DIRECT)
			break;
	}
	ck_assert_msg(t <= PATH_RETRY_MS / 1000 + 2, "bravo -> alpha direct %u s after the outage", t);
	for (t = 0; t < 30 && !relayed(1, 2); t++)
		run(1);
	ck_assert(relayed(1, 2));
}
END_TEST

/* A RELAY from a non-member, or when relaying is off, is not forwarded. */
START_TEST(test_relay_refused)
{
	struct mesh_relay_stats st;
	struct mesh_node_self s1, s2;
	uint8_t inner[32] = { 4 }, buf[64];
	union endpoint out = EP("203.0.113.9", 4000);
	size_t len;

	init_admin();
	join_and_start(1, "bravo");
	join_and_start(2, "charlie");
	u_deliver = w_deliver = true;
	run(5);
	mesh_node_get_self(T[1].n, &s1);
	mesh_node_get_self(T[2].n, &s2);
	/* from an outsider: refused, at the dst check (it runs first: a
	 * lookup by id) or at the source */
	len = mesh_relay_encode(MESH_MSG_RELAY, s1.node_id, inner, sizeof inner, buf, sizeof buf);
	ck_assert_uint_gt(len, 0);
	uq_n = 0;
	u_input(0, &out, buf, len);
	ck_assert_uint_eq(uq_n, 0);
	mesh_node_relay_stats(T[0].n, &st);
	ck_assert_uint_eq(st.drop_source + st.drop_dst, 1);
	ck_assert_uint_eq(st.forwarded, 0);
	mesh_node_set_relay(T[0].n, false);
	len = mesh_relay_encode(MESH_MSG_RELAY, s2.node_id, inner, sizeof inner, buf, sizeof buf);
	u_input(0, &T[1].addr, buf, len);
	ck_assert_uint_eq(uq_n, 0);
	mesh_node_relay_stats(T[0].n, &st);
	ck_assert_uint_eq(st.forwarded, 0);
}
END_TEST

/* Only members get answers, once per probe, at most 20 a second; a probe
 * that does not open, or from a key that is no member's, gets nothing; an
 * unsolicited ACK changes nothing. */
START_TEST(test_probe_abuse)
{
	struct mesh_probe_key k, stranger;
	struct mesh_probe m, a;
	struct mesh_node_self s;
	uint8_t buf[MESH_PROBE_MAX_LEN], spk[32], ssk[32];
	struct wr w;
	size_t len;
	unsigned answered = 0;

	init_admin();
	join_and_start(1, "bravo");
	ck_assert_int_eq(mesh_probe_key_init(&k, T[1].wg_pk, T[1].wg_sk, T[0].wg_pk), 0);
	memset(&m, 0, sizeof m);
	m.type = MESH_MSG_PROBE;
	m.txid = 77;
	m.time = unix_now();
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&k, &m, &w), 0);
	len = w.off;
	uq_n = 0;
	u_input(0, &T[1].addr, buf, len);
	ck_assert_uint_eq(uq_n, 1);
	ck_assert(endpoint_eq(&uq[0].dst, &T[1].addr));
	ck_assert_int_eq(mesh_probe_open(&k, uq[0].p, uq[0].len, unix_now(), &a), 0);
	ck_assert_uint_eq(a.type, MESH_MSG_PROBE_ACK);
	ck_assert_uint_eq(a.txid, 77);
	ck_assert(endpoint_eq(&a.observed, &T[1].addr));
	/* a replay, even from elsewhere: nothing */
	u_input(0, &T[2].addr, buf, len);
	ck_assert_uint_eq(uq_n, 1);
	/* tampered */
	m.txid = 78;
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&k, &m, &w), 0);
	buf[len - 1] ^= 1;
	u_input(0, &T[1].addr, buf, len);
	ck_assert_uint_eq(uq_n, 1);
	/* a stranger's key */
	randombytes_buf(ssk, sizeof ssk);
	ck_assert_int_eq(crypto_scalarmult_base(spk, ssk), 0);
	ck_assert_int_eq(mesh_probe_key_init(&stranger, spk, ssk, T[0].wg_pk), 0);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&stranger, &m, &w), 0);
	u_input(0, &T[1].addr, buf, w.off);
	ck_assert_uint_eq(uq_n, 1);
	/* an ACK nobody asked for: no reflexive endpoint */
	memset(&a, 0, sizeof a);
	a.type = MESH_MSG_PROBE_ACK;
	a.txid = 5;
	a.time = unix_now();
	a.observed = EP("198.51.100.77", 999);
	wr_init(&w, buf, sizeof buf);
	ck_assert_int_eq(mesh_probe_seal(&k, &a, &w), 0);
	u_input(0, &T[1].addr, buf, w.off);
	ck_assert_uint_eq(uq_n, 1);
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(s.nep, 1);
	/* a flood: at most the bucket (20) answered */
	uq_n = 0;
	for (unsigned i = 0; i < 40; i++) {
		m.txid = 1000 + i;
		wr_init(&w, buf, sizeof buf);
		ck_assert_int_eq(mesh_probe_seal(&k, &m, &w), 0);
		u_input(0, &T[1].addr, buf, w.off);
	}
	answered = (unsigned)uq_n;
	ck_assert_uint_le(answered, 20);
	ck_assert_uint_ge(answered, 18);
	mesh_probe_key_clear(&k);
	mesh_probe_key_clear(&stranger);
}
END_TEST

/* ---- subnet routes ---- */

static struct mesh_prefix P(const char *s)
{
	struct mesh_prefix p;

	ck_assert_int_eq(mesh_prefix_parse(s, &p, NULL, 0), 0);
	return p;
}

struct aip_find {
	struct mesh_prefix want;
	bool found;
};

static void aip_one(void *arg, int family, const uint8_t *addr, uint8_t cidr)
{
	struct aip_find *f = arg;
	int af = f->want.family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;

	if (family == af && cidr == f->want.len &&
	    memcmp(addr, f->want.addr, af == AF_INET ? 4 : 16) == 0)
		f->found = true;
}

/* True when node i's wg peer for node j holds r as an allowed IP. */
static bool has_aip(int i, int j, const char *r)
{
	struct wg_peer *peer = wg_peer_lookup(T[i].wg, T[j].wg_pk);
	struct aip_find f = { .want = P(r) };

	if (peer == NULL)
		return false;
	wg_peer_allowedips_foreach(T[i].wg, peer, aip_one, &f);
	return f.found;
}

static void restart(int i)
{
	mesh_node_free(T[i].n);
	T[i].n = NULL;
	wg_device_free(T[i].wg);
	T[i].wg = new_wg(i);
	ck_assert_int_eq(open_node(i), 0);
}

START_TEST(test_routes_approve_advertise)
{
	struct mesh_prefix r = P("10.2.0.0/24"), r2 = P("10.2.0.0/16"), ov = P("100.80.5.0/24");
	struct mesh_node_peer p;
	struct mesh_node_self s;
	char err[200];

	three_nodes();
	/* advertised, not approved: nothing anywhere */
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.nadv, 1);
	ck_assert_uint_eq(p.nappr, 0);
	ck_assert_uint_eq(p.ninst, 0);
	ck_assert_uint_eq(T[0].radd + T[2].radd, 0);
	ck_assert(!has_aip(2, 1, "10.2.0.0/24"));
	mesh_node_get_self(T[1].n, &s);
	ck_assert_uint_eq(s.nadv, 1);
	ck_assert_int_eq(mesh_prefix_cmp(&s.adv[0], &r), 0);
	/* the same set again: no new record */
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);

	/* only an admin approves */
	ck_assert_int_eq(mesh_node_route_set(T[1].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), MESHD_E_PERM);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "nobody", &r, true, now, unix_now(), err,
	    sizeof err), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), MESHD_E_EXIST);
	run(10);
	ck_assert_uint_eq(T[2].radd, 1);
	ck_assert_uint_eq(T[2].rdel, 0);
	ck_assert_int_eq(mesh_prefix_cmp(&T[2].rlast, &r), 0);
	ck_assert(has_aip(2, 1, "10.2.0.0/24"));
	ck_assert_uint_eq(T[0].radd, 1);
	ck_assert(has_aip(0, 1, "10.2.0.0/24"));
	ck_assert_uint_eq(T[1].radd, 0);	/* our own: never installed */
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.nappr, 1);
	ck_assert_uint_eq(p.ninst, 1);
	mesh_node_get_self(T[1].n, &s);
	ck_assert_uint_eq(s.nappr, 1);

	/* refusals: overlap with bravo's approved route, the overlay, a default */
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "charlie", &r2, true, now, unix_now(), err,
	    sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "approved for member bravo"));
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "charlie", &ov, true, now, unix_now(), err,
	    sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlay"));
	ck_assert_int_eq(mesh_node_set_advertised(T[2].n, &ov, 1, now, unix_now(), err,
	    sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlaps the mesh overlay prefix 100.80.0.0/16"));
	r2 = P("0.0.0.0/0");
	ck_assert_int_eq(mesh_node_set_advertised(T[2].n, &r2, 1, now, unix_now(), err,
	    sizeof err), MESHD_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "exit nodes"));

	/* withdrawn: removed everywhere without an admin */
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, NULL, 0, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert_uint_eq(T[2].radd, 1);
	ck_assert_uint_eq(T[2].rdel, 1);
	ck_assert(!has_aip(2, 1, "10.2.0.0/24"));
	ck_assert(peer_of(2, "bravo", &p));
	ck_assert_uint_eq(p.ninst, 0);
	ck_assert_uint_eq(p.nadv, 0);

	/* advertised again: back */
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert_uint_eq(T[2].radd, 2);
	ck_assert(has_aip(2, 1, "10.2.0.0/24"));

	/* charlie restarts from its store: the route is installed again */
	restart(2);
	ck_assert_uint_eq(T[2].radd, 3);
	ck_assert_int_eq(mesh_prefix_cmp(&T[2].rlast, &r), 0);
	ck_assert(has_aip(2, 1, "10.2.0.0/24"));
	run(5);
	ck_assert_uint_eq(T[2].radd, 3);

	/* denied: gone; denying again: NOENT */
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, false, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert_uint_eq(T[2].rdel, 2);
	ck_assert(!has_aip(2, 1, "10.2.0.0/24"));
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, false, now, unix_now(), err,
	    sizeof err), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert_uint_eq(T[2].radd, 4);

	/* the admin gateway approves its own route the same way */
	r2 = P("fd00:9::/64");
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "alpha", &r2, true, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_set_advertised(T[0].n, &r2, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert(has_aip(2, 0, "fd00:9::/64"));
	ck_assert(has_aip(1, 0, "fd00:9::/64"));
	ck_assert_uint_eq(T[2].radd, 5);
	mesh_node_get_self(T[0].n, &s);
	ck_assert_uint_eq(s.nappr, 1);
	ck_assert_uint_eq(s.nadv, 1);
	ck_assert_uint_eq(T[0].radd, 3);	/* bravo's 3 times, never its own */

	/* revoked: all of bravo's routes go */
	ck_assert_int_eq(mesh_node_revoke(T[0].n, "bravo", now, unix_now()), 0);
	run(15);
	ck_assert_uint_eq(T[2].rdel, 3);
	ck_assert_int_eq(mesh_prefix_cmp(&T[2].rlast, &r), 0);
	ck_assert(!has_aip(2, 1, "10.2.0.0/24"));
	ck_assert(has_aip(2, 0, "fd00:9::/64"));
	ck_assert_uint_eq(gq_dropped, 0);
}
END_TEST

/* A prefix moves from one member to another: denied for the first (still
 * advertised there), approved and advertised for the second. */
START_TEST(test_routes_move_between_members)
{
	struct mesh_prefix r = P("10.7.0.0/24");
	struct mesh_node_peer p;
	char err[200];

	three_nodes();
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert(has_aip(2, 1, "10.7.0.0/24"));
	/* deny for bravo (kept advertised): approving it for charlie is no
	 * overlap any more */
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, false, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "charlie", &r, true, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_set_advertised(T[2].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(10);
	ck_assert(has_aip(1, 2, "10.7.0.0/24"));
	ck_assert(has_aip(0, 2, "10.7.0.0/24"));
	ck_assert(!has_aip(0, 1, "10.7.0.0/24"));
	ck_assert(peer_of(1, "charlie", &p));
	ck_assert_uint_eq(p.ninst, 1);
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.ninst, 0);
}
END_TEST

/* A route must not pull the tunnel into itself: one that covers this node's
 * own underlay address is refused; a candidate endpoint inside an installed
 * route is skipped instead of refusing the route (a gateway's own LAN
 * address is always inside its LAN route). */
START_TEST(test_routes_refuse_covering_endpoint)
{
	struct mesh_prefix r = P("203.0.113.0/24");
	struct mesh_prefix own = P("192.0.2.0/24");
	struct mesh_node_peer p;
	struct wg_peer_info info;
	char err[200];

	three_nodes();
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &r, true, now, unix_now(), err,
	    sizeof err), 0);
	ck_assert_int_eq(mesh_node_set_advertised(T[1].n, &r, 1, now, unix_now(), err,
	    sizeof err), 0);
	run(2);
	ck_assert_uint_eq(T[0].radd, 1);
	/* charlie's only announced endpoint moves into bravo's route: the route
	 * stays (nothing works there yet), and alpha's rotation never picks
	 * that candidate: it stays on charlie's other one (its join address) */
	set_eps(2, "203.0.113.7", 40000);
	run(16);
	ck_assert_uint_eq(T[0].rdel, 0);
	ck_assert(has_aip(0, 1, "203.0.113.0/24"));
	ck_assert(peer_of(0, "charlie", &p));
	wg_peer_get_info(p.peer, &info);
	ck_assert_uint_ne(ntohl(info.endpoint.sin.sin_addr.s_addr), 0xcb007107);
	/* a route over alpha's own underlay network (192.0.2.1) is refused on
	 * alpha, installed on charlie */
	set_eps(0, "192.0.2.1", 51820);
	ck_assert_int_eq(mesh_node_route_set(T[0].n, "bravo", &own, true, now, unix_now(), err,
	    sizeof err), 0);
	{
		struct mesh_prefix both[2] = { own, r };

		ck_assert_int_eq(mesh_node_set_advertised(T[1].n, both, 2, now, unix_now(),
		    err, sizeof err), 0);
	}
	run(3);
	ck_assert(!has_aip(0, 1, "192.0.2.0/24"));
	ck_assert(has_aip(2, 1, "192.0.2.0/24"));
	ck_assert(peer_of(0, "bravo", &p));
	ck_assert_uint_eq(p.nappr, 2);
	ck_assert_uint_eq(p.ninst, 1);
}
END_TEST

START_TEST(test_lookup_name)
{
	struct mesh_node_self s;
	struct mesh_node_peer p;
	uint8_t v4[4], v6[16];

	three_nodes();
	mesh_node_get_self(T[2].n, &s);
	ck_assert_int_eq(mesh_node_lookup_name(T[2].n, "charlie", v4, v6), 0);
	ck_assert_mem_eq(v4, s.ipv4, 4);
	ck_assert_mem_eq(v6, s.ipv6, 16);
	ck_assert(peer_of(2, "alpha", &p));
	ck_assert_int_eq(mesh_node_lookup_name(T[2].n, "alpha", v4, v6), 0);
	ck_assert_mem_eq(v4, p.ipv4, 4);
	ck_assert_mem_eq(v6, p.ipv6, 16);
	ck_assert_int_eq(mesh_node_lookup_name(T[2].n, "nobody", v4, v6), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_lookup_name(T[2].n, "ALPHA", v4, v6), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_lookup_name(T[2].n, "", v4, v6), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_node_revoke(T[0].n, "bravo", now, unix_now()), 0);
	ck_assert_int_eq(mesh_node_lookup_name(T[0].n, "bravo", v4, v6), MESHD_E_NOENT);
}
END_TEST

static Suite *suite_node(void)
{
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("node");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init_store);
	tcase_add_test(tc, test_open);
	tcase_add_test(tc, test_resign_and_expiry);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_add_invite);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_handle_expiry_purges_invites);
	tcase_add_test(tc, test_persist_join_twice);
	tcase_add_test(tc, test_gossip_three);
	tcase_add_test(tc, test_cert_renew);
	tcase_add_test(tc, test_cert_warn_without_admin);
	tcase_add_test(tc, test_cert_renew_replaces);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_flush_after_receive);
	tcase_add_test(tc, test_flush_busy_keeps_dirty);
	tcase_add_test(tc, test_revoke_offline);
	tcase_add_test(tc, test_path_lan_preferred);
	tcase_add_test(tc, test_path_reflexive);
	tcase_add_test(tc, test_probe_budget_per_destination);
	tcase_add_test(tc, test_refl_two_witnesses);
	tcase_add_test(tc, test_path_punch_forwarded);
	tcase_add_test(tc, test_probe_abuse);
	tcase_add_test(tc, test_relay_path);
	tcase_add_test(tc, test_relay_outage_found_again);
	tcase_add_test(tc, test_idle_peer_quiet);
	tcase_add_test(tc, test_idle_nat_anchor);
	tcase_add_test(tc, test_idle_peer_wakes_on_traffic);
	tcase_add_test(tc, test_relay_refused);
	tcase_add_test(tc, test_routes_approve_advertise);
	tcase_add_test(tc, test_routes_move_between_members);
	tcase_add_test(tc, test_routes_refuse_covering_endpoint);
	tcase_add_test(tc, test_lookup_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return 1;
	sr = srunner_create(suite_node());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
