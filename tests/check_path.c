/* The path selector (mesh/path.h) on a virtual clock against a scripted
 * fake network: per-candidate loss, RTT and jitter, links going up and
 * down, relays coming and going. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/path.h"
#include "util/err.h"

enum { MAXLINK = 8, MAXPEND = 4096, MAXLOG = 65536 };

struct link {
	struct mesh_ep ep;
	union endpoint sa;
	bool up;
	unsigned loss_pct;
	uint32_t rtt_ms;
	unsigned jitter_pct;	/* uniform +- */
};

struct pend {
	uint64_t txid;
	union endpoint src;
	mtime_ns at;
};

struct sent {
	union endpoint dst;
	mtime_ns at;
};

static struct {
	struct mesh_path *p;
	mtime_ns now;
	struct link link[MAXLINK];
	size_t nlink;
	struct pend pend[MAXPEND];
	size_t npend;
	struct sent log[MAXLOG];
	size_t nlog;
	uint64_t rng;
	unsigned changes;
	struct mesh_path_choice last;
	unsigned dup_pct;		/* duplicate ACK deliveries */
	unsigned dups_rejected;
	/* keepalive watch: largest gap between probes to the active endpoint */
	mtime_ns ka_last, ka_max_gap;
	union endpoint ka_ep;
} net;

static uint64_t nrand(void)
{
	uint64_t z = (net.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct link *link_of(const union endpoint *ep)
{
	size_t i;

	for (i = 0; i < net.nlink; i++)
		if (endpoint_eq(&net.link[i].sa, ep))
			return &net.link[i];
	return NULL;
}

static void on_probe(void *ctx, const union endpoint *dst, uint64_t txid)
{
	struct link *l = link_of(dst);
	mtime_ns rtt;
	int j;

	(void)ctx;
	ck_assert_uint_ne(txid, 0);
	if (net.nlog < MAXLOG) {
		net.log[net.nlog].dst = *dst;
		net.log[net.nlog].at = net.now;
		net.nlog++;
	}
	if (net.last.kind == MESH_PATH_DIRECT && endpoint_eq(dst, &net.last.ep)) {
		if (endpoint_eq(&net.ka_ep, dst) && net.now - net.ka_last > net.ka_max_gap)
			net.ka_max_gap = net.now - net.ka_last;
		net.ka_ep = *dst;
		net.ka_last = net.now;
	}
	if (l == NULL || !l->up || nrand() % 100 < l->loss_pct)
		return;
	ck_assert_uint_lt(net.npend, MAXPEND);
	j = l->jitter_pct > 0 ? (int)(nrand() % (2 * l->jitter_pct + 1)) - (int)l->jitter_pct : 0;
	rtt = MSEC(l->rtt_ms) * (mtime_ns)(100 + j) / 100;
	net.pend[net.npend].txid = txid;
	net.pend[net.npend].src = *dst;
	net.pend[net.npend].at = net.now + rtt;
	net.npend++;
}

static void on_changed(void *ctx, const struct mesh_path_choice *c)
{
	(void)ctx;
	net.changes++;
	net.last = *c;
	/* a new active endpoint starts a new keepalive watch */
	if (c->kind != MESH_PATH_DIRECT || !endpoint_eq(&c->ep, &net.ka_ep)) {
		memset(&net.ka_ep, 0, sizeof net.ka_ep);
		net.ka_last = net.now;
	}
}

static void setup(void)
{
	struct mesh_path_cfg cfg;
	int err;

	memset(&net, 0, sizeof net);
	net.rng = 42;
	memset(&cfg, 0, sizeof cfg);
	cfg.probe = on_probe;
	cfg.changed = on_changed;
	cfg.rng_seed = 7;
	net.p = mesh_path_new(&cfg, &err);
	ck_assert_ptr_nonnull(net.p);
	net.now = SEC(1000);
}

static void teardown(void)
{
	mesh_path_free(net.p);
	net.p = NULL;
}

static struct mesh_ep mk_ep(uint8_t source, const char *s)
{
	union endpoint e;
	struct mesh_ep ep;

	ck_assert_int_eq(endpoint_parse(&e, s, false), 0);
	memset(&ep, 0, sizeof ep);
	ep.source = source;
	if (e.sa.sa_family == AF_INET) {
		ep.family = MESH_FAMILY_V4;
		memcpy(ep.addr, &e.sin.sin_addr, 4);
		ep.port = ntohs(e.sin.sin_port);
	} else {
		ep.family = MESH_FAMILY_V6;
		memcpy(ep.addr, &e.sin6.sin6_addr, 16);
		ep.port = ntohs(e.sin6.sin6_port);
	}
	return ep;
}

static struct link *add_link(uint8_t source, const char *s, uint32_t rtt_ms, bool up)
{
	struct link *l = &net.link[net.nlink++];

	memset(l, 0, sizeof *l);
	l->ep = mk_ep(source, s);
	mesh_path_ep_to_endpoint(&l->ep, &l->sa);
	l->rtt_ms = rtt_ms;
	l->up = up;
	return l;
}

static void push_candidates(void)
{
	struct mesh_ep eps[MAXLINK];
	size_t i;

	for (i = 0; i < net.nlink; i++)
		eps[i] = net.link[i].ep;
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, net.nlink, net.now), 0);
}

static void set_lan(const char *addr, uint8_t plen)
{
	struct mesh_path_prefix pf;
	struct mesh_ep ep = mk_ep(MESH_EP_LOCAL, addr);

	memset(&pf, 0, sizeof pf);
	pf.family = ep.family;
	memcpy(pf.addr, ep.addr, 16);
	pf.plen = plen;
	ck_assert_int_eq(mesh_path_set_local(net.p, &pf, 1, net.now), 0);
}

static void set_relay(uint8_t id, uint32_t rtt_ms)
{
	struct mesh_path_relay r;

	memset(&r, 0, sizeof r);
	memset(r.node_id, id, sizeof r.node_id);
	r.rtt_ms = rtt_ms;
	ck_assert_int_eq(mesh_path_set_relays(net.p, &r, 1, net.now), 0);
}

/* The invariants that hold after every step. */
static void check_invariants(void)
{
	struct mesh_path_choice c;
	size_t i, n = mesh_path_ncand(net.p);
	bool usable = false;

	mesh_path_current(net.p, &c);
	for (i = 0; i < n; i++) {
		struct mesh_path_cand_stats st;

		ck_assert_int_eq(mesh_path_cand_stats(net.p, i, &st), 0);
		usable |= st.usable;
		if (st.active) {
			ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
			ck_assert(endpoint_eq(&st.addr, &c.ep));
			ck_assert(st.usable);
		}
		ck_assert_uint_le(st.acked + st.lost, st.sent);
	}
	if (c.kind != MESH_PATH_DIRECT)
		ck_assert_msg(!usable, "a usable direct candidate is not used");
	ck_assert_int_eq(c.kind, net.last.kind);
}

static void deliver_due(void)
{
	size_t i = 0;

	while (i < net.npend) {
		if (net.pend[i].at <= net.now) {
			struct pend pd = net.pend[i];
			int r;

			net.pend[i] = net.pend[--net.npend];
			r = mesh_path_input_ack(net.p, pd.txid, &pd.src, net.now);
			ck_assert(r == 0 || r == MESHD_E_NOENT);
			if (r == 0 && net.dup_pct > 0 && nrand() % 100 < net.dup_pct) {
				ck_assert_int_eq(mesh_path_input_ack(net.p, pd.txid, &pd.src,
				    net.now), MESHD_E_NOENT);
				net.dups_rejected++;
			}
			continue;
		}
		i++;
	}
}

static void run_until(mtime_ns end)
{
	unsigned same = 0;

	for (;;) {
		mtime_ns t = mesh_path_next_expiry(net.p);
		size_t i;

		for (i = 0; i < net.npend; i++)
			if (net.pend[i].at < t)
				t = net.pend[i].at;
		if (t > end)
			break;
		if (t <= net.now) {
			ck_assert_uint_lt(++same, 1000);
			t = net.now;
		} else {
			same = 0;
		}
		net.now = t;
		deliver_due();
		if (mesh_path_next_expiry(net.p) <= net.now)
			mesh_path_handle_expiry(net.p, net.now);
		check_invariants();
	}
	net.now = end;
}

static void run_for(mtime_ns d)
{
	run_until(net.now + d);
}

static size_t probes_to(const struct link *l, mtime_ns from, mtime_ns to)
{
	size_t i, n = 0;

	for (i = 0; i < net.nlog; i++)
		if (net.log[i].at >= from && net.log[i].at < to && endpoint_eq(&net.log[i].dst, &l->sa))
			n++;
	return n;
}

START_TEST(test_lan_over_wan)
{
	struct link *lan, *wan;
	struct mesh_path_choice c;

	set_lan("192.168.1.10:1", 24);
	lan = add_link(MESH_EP_LOCAL, "192.168.1.20:51820", 40, true);
	wan = add_link(MESH_EP_REFLEXIVE, "203.0.113.5:40000", 10, true);
	push_candidates();
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), net.now);
	run_for(SEC(5));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	ck_assert_int_eq(c.cls, MESH_PATH_CLASS_LAN);
	ck_assert(endpoint_eq(&c.ep, &lan->sa));
	ck_assert_uint_ge(c.rtt_ms, 39);
	ck_assert_uint_le(c.rtt_ms, 41);
	/* the faster WAN answered first, then the LAN took over: two changes */
	ck_assert_uint_eq(net.changes, 2);
	run_for(SEC(600));
	ck_assert_uint_eq(net.changes, 2);
	ck_assert_uint_gt(probes_to(wan, 0, net.now), 3);
}
END_TEST

START_TEST(test_private_not_our_lan_is_wan)
{
	struct mesh_path_cand_stats st;

	set_lan("10.1.0.5:1", 16);
	add_link(MESH_EP_LOCAL, "192.168.1.20:51820", 5, true);
	add_link(MESH_EP_LOCAL, "10.1.7.7:51820", 5, true);
	add_link(MESH_EP_PORTMAP, "10.1.7.8:51820", 5, true);
	push_candidates();
	ck_assert_uint_eq(mesh_path_ncand(net.p), 3);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 0, &st), 0);
	ck_assert_int_eq(st.cls, MESH_PATH_CLASS_WAN);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 1, &st), 0);
	ck_assert_int_eq(st.cls, MESH_PATH_CLASS_LAN);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 2, &st), 0);
	ck_assert_int_eq(st.cls, MESH_PATH_CLASS_WAN);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 3, &st), MESHD_E_NOENT);
	/* a prefix length that is not a whole byte: 10.1.0.0/20 holds 10.1.7.7
	 * but not 10.1.16.1 */
	{
		struct mesh_path_prefix pf;
		struct mesh_ep far = mk_ep(MESH_EP_LOCAL, "10.1.16.1:51820");
		struct mesh_ep eps[4];

		memset(&pf, 0, sizeof pf);
		pf.family = MESH_FAMILY_V4;
		pf.addr[0] = 10;
		pf.addr[1] = 1;
		pf.plen = 20;
		ck_assert_int_eq(mesh_path_set_local(net.p, &pf, 1, net.now), 0);
		eps[0] = net.link[0].ep;
		eps[1] = net.link[1].ep;
		eps[2] = net.link[2].ep;
		eps[3] = far;
		ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 4, net.now), 0);
		ck_assert_int_eq(mesh_path_cand_stats(net.p, 1, &st), 0);
		ck_assert_int_eq(st.cls, MESH_PATH_CLASS_LAN);
		ck_assert_int_eq(mesh_path_cand_stats(net.p, 3, &st), 0);
		ck_assert_int_eq(st.cls, MESH_PATH_CLASS_WAN);
		/* bad prefixes: refused, nothing changed */
		pf.plen = 33;
		ck_assert_int_eq(mesh_path_set_local(net.p, &pf, 1, net.now), MESHD_E_RANGE);
		pf.family = 5;
		pf.plen = 8;
		ck_assert_int_eq(mesh_path_set_local(net.p, &pf, 1, net.now), MESHD_E_RANGE);
		ck_assert_int_eq(mesh_path_cand_stats(net.p, 1, &st), 0);
		ck_assert_int_eq(st.cls, MESH_PATH_CLASS_LAN);
		push_candidates();
	}
	/* our prefixes change: reclassified and a round at once */
	run_for(SEC(1));
	set_lan("192.168.1.1:1", 24);
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), net.now);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 0, &st), 0);
	ck_assert_int_eq(st.cls, MESH_PATH_CLASS_LAN);
}
END_TEST

START_TEST(test_wan_over_relay)
{
	struct link *wan;
	struct mesh_path_choice c;

	set_relay(0xaa, 20);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_RELAY);
	wan = add_link(MESH_EP_PORTMAP, "[2001:db8::7]:51820", 80, true);
	push_candidates();
	run_for(SEC(3));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	ck_assert_int_eq(c.cls, MESH_PATH_CLASS_WAN);
	ck_assert(endpoint_eq(&c.ep, &wan->sa));
	/* a better relay changes nothing while direct */
	set_relay(0xbb, 5);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
}
END_TEST

START_TEST(test_relay_then_direct)
{
	struct link *wan;
	struct mesh_path_choice c;
	mtime_ns t0, t;

	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.9:41641", 30, false);
	push_candidates();
	set_relay(0x42, 60);
	run_for(SEC(2));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_RELAY);
	ck_assert_uint_eq(c.relay_id[0], 0x42);
	ck_assert_uint_eq(c.rtt_ms, 60);
	/* background direct attempts go on, backing off while it is silent:
	 * bursts at 5, 10, 20, 40 s after the first, then every 60 s (72
	 * probes in these 120 s without the back-off, 18 with it) */
	t0 = net.now;
	run_for(SEC(120));
	for (t = t0; t + SEC(60) <= net.now; t += SEC(60))
		ck_assert_uint_ge(probes_to(wan, t, t + SEC(60)), PATH_PUNCH_BURST);
	ck_assert_uint_le(probes_to(wan, t0, net.now), 6 * PATH_PUNCH_BURST);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_RELAY);
	/* the direct path starts answering: it takes over by the next
	 * scheduled attempt at the latest (a punch would not wait) */
	wan->up = true;
	t0 = net.now;
	while (net.last.kind != MESH_PATH_DIRECT && net.now < t0 + MSEC(PATH_BACKOFF_MAX_MS + 5000))
		run_for(MSEC(10));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert_uint_le(net.now - t0, MSEC(PATH_BACKOFF_MAX_MS + 200));
	/* the relay goes away: nothing changes */
	ck_assert_int_eq(mesh_path_set_relays(net.p, NULL, 0, net.now), 0);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	/* the direct path dies: no relay left, NONE */
	wan->up = false;
	run_for(SEC(40));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_NONE);
	/* a relay appears: used at once */
	set_relay(0x43, 70);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_RELAY);
	ck_assert_uint_eq(c.relay_id[0], 0x43);
}
END_TEST

START_TEST(test_relay_hysteresis)
{
	struct mesh_path_relay r[2];
	struct mesh_path_choice c;

	memset(r, 0, sizeof r);
	memset(r[0].node_id, 1, sizeof r[0].node_id);
	memset(r[1].node_id, 2, sizeof r[1].node_id);
	r[0].rtt_ms = 50;
	r[1].rtt_ms = 60;
	ck_assert_int_eq(mesh_path_set_relays(net.p, r, 2, net.now), 0);
	mesh_path_current(net.p, &c);
	ck_assert_uint_eq(c.relay_id[0], 1);
	/* 45 vs 50: not a clear gain */
	r[1].rtt_ms = 45;
	ck_assert_int_eq(mesh_path_set_relays(net.p, r, 2, net.now), 0);
	mesh_path_current(net.p, &c);
	ck_assert_uint_eq(c.relay_id[0], 1);
	/* 30 vs 50: clear */
	r[1].rtt_ms = 30;
	ck_assert_int_eq(mesh_path_set_relays(net.p, r, 2, net.now), 0);
	mesh_path_current(net.p, &c);
	ck_assert_uint_eq(c.relay_id[0], 2);
	/* the one in use is withdrawn */
	ck_assert_int_eq(mesh_path_set_relays(net.p, r, 1, net.now), 0);
	mesh_path_current(net.p, &c);
	ck_assert_uint_eq(c.relay_id[0], 1);
	ck_assert_uint_eq(net.changes, 3);
}
END_TEST

static void no_flap(unsigned jitter, uint32_t rtt_a, uint32_t rtt_b)
{
	struct link *a, *b;
	unsigned settled;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", rtt_a, true);
	b = add_link(MESH_EP_PORTMAP, "203.0.113.2:2000", rtt_b, true);
	a->jitter_pct = b->jitter_pct = jitter;
	push_candidates();
	run_for(SEC(130));	/* two re-evaluations to settle */
	settled = net.changes;
	ck_assert_uint_le(settled, 2);
	run_for(SEC(6 * 3600));
	ck_assert_uint_eq(net.changes, settled);
}

START_TEST(test_no_flap_equal)
{
	net.rng = 1000 + (uint64_t)_i;
	no_flap(15, 50, 50);
}
END_TEST

START_TEST(test_no_flap_close)
{
	/* 10 % apart: inside the hysteresis */
	net.rng = 2000 + (uint64_t)_i;
	no_flap(15, 50, 55);
}
END_TEST

START_TEST(test_switch_on_clear_gain)
{
	struct link *a, *b;
	struct mesh_path_choice c;
	mtime_ns t0;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 100, true);
	b = add_link(MESH_EP_REFLEXIVE, "203.0.113.2:2000", 40, false);
	push_candidates();
	run_for(SEC(5));
	mesh_path_current(net.p, &c);
	ck_assert(endpoint_eq(&c.ep, &a->sa));
	/* b comes up: taken at the next re-evaluation, after two answers */
	b->up = true;
	t0 = net.now;
	run_for(MSEC(PATH_REEVAL_MS + 1000));
	mesh_path_current(net.p, &c);
	ck_assert(endpoint_eq(&c.ep, &b->sa));
	ck_assert_uint_ge(c.since, t0);
	ck_assert_uint_eq(net.changes, 2);
}
END_TEST

START_TEST(test_dead_detection)
{
	struct link *a, *b;
	struct mesh_path_choice c;
	mtime_ns t_break, first = MTIME_NEVER;
	size_t i, mark;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 20, true);
	b = add_link(MESH_EP_REFLEXIVE, "203.0.113.2:2000", 80, true);
	push_candidates();
	run_for(SEC(20));
	mesh_path_current(net.p, &c);
	ck_assert(endpoint_eq(&c.ep, &a->sa));
	a->up = false;
	t_break = net.now;
	mark = net.nlog;
	while (endpoint_eq(&net.last.ep, &a->sa) && net.now < t_break + SEC(60))
		run_for(MSEC(10));
	for (i = mark; i < net.nlog; i++)
		if (endpoint_eq(&net.log[i].dst, &a->sa)) {
			first = net.log[i].at;
			break;
		}
	ck_assert_uint_ne(first, MTIME_NEVER);
	/* within 10 s of the first unanswered probe, and that probe came
	 * within one keepalive interval */
	ck_assert_uint_le(first, t_break + MSEC(PATH_KEEPALIVE_MAX_MS));
	ck_assert_uint_le(net.now - first, SEC(10));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&c.ep, &b->sa));
	/* and the new path is probed at once */
	ck_assert_uint_ge(probes_to(b, c.since, c.since + 1), 1);
	/* a comes back: better, taken at a re-evaluation */
	a->up = true;
	run_for(MSEC(PATH_REEVAL_MS + 1000));
	mesh_path_current(net.p, &c);
	ck_assert(endpoint_eq(&c.ep, &a->sa));
}
END_TEST

START_TEST(test_dead_slow_path)
{
	/* a path with a long RTT (3 s probe timeouts): the 10 s rule */
	struct link *a;
	mtime_ns t_break, first = MTIME_NEVER;
	size_t i, mark;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 1500, true);
	push_candidates();
	run_for(SEC(30));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	a->up = false;
	t_break = net.now;
	mark = net.nlog;
	while (net.last.kind == MESH_PATH_DIRECT && net.now < t_break + SEC(60))
		run_for(MSEC(10));
	for (i = mark; i < net.nlog; i++)
		if (endpoint_eq(&net.log[i].dst, &a->sa)) {
			first = net.log[i].at;
			break;
		}
	ck_assert_int_eq(net.last.kind, MESH_PATH_NONE);
	ck_assert_uint_le(net.now - first, SEC(10));
}
END_TEST

START_TEST(test_keepalive_interval)
{
	struct link *a;
	mtime_ns prev = 0, gap, min_gap = MTIME_NEVER, max_gap = 0;
	size_t i;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	add_link(MESH_EP_REFLEXIVE, "203.0.113.2:1000", 300, true);
	push_candidates();
	run_for(SEC(2 * 3600));
	ck_assert(endpoint_eq(&net.last.ep, &a->sa));
	for (i = 0; i < net.nlog; i++) {
		if (!endpoint_eq(&net.log[i].dst, &a->sa))
			continue;
		if (prev != 0) {
			gap = net.log[i].at - prev;
			if (gap > max_gap)
				max_gap = gap;
			if (gap > SEC(1) && gap < min_gap)
				min_gap = gap;
		}
		prev = net.log[i].at;
	}
	ck_assert_uint_lt(max_gap, SEC(30));
	ck_assert_uint_le(max_gap, MSEC(PATH_KEEPALIVE_MAX_MS));
	ck_assert_uint_lt(net.ka_max_gap, SEC(30));
	/* jittered, not a fixed period */
	ck_assert_uint_lt(min_gap, MSEC(PATH_KEEPALIVE_MAX_MS));
}
END_TEST

/* Probes to dst logged in [from, to). */
static size_t probes_between(const union endpoint *dst, mtime_ns from, mtime_ns to)
{
	size_t i, k = 0;

	for (i = 0; i < net.nlog; i++)
		if (net.log[i].at >= from && net.log[i].at < to &&
		    (dst == NULL || endpoint_eq(&net.log[i].dst, dst)))
			k++;
	return k;
}

/* An idle peer with a direct path: over 30 min only the lazy re-probes
 * (one probe per candidate per round, rounds 60 s, 120 s, 240 s, 480 s,
 * 480 s ... apart), against ~130 probes per candidate when warm. */
START_TEST(test_idle_quiet)
{
	struct link *a, *b;
	mtime_ns t0;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	b = add_link(MESH_EP_PORTMAP, "[2001:db8::1]:1000", 40, true);
	push_candidates();
	run_for(SEC(5));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	t0 = net.now;
	mesh_path_set_idle(net.p, true, false, net.now);
	ck_assert(mesh_path_is_idle(net.p));
	run_for(SEC(59));
	ck_assert_uint_eq(probes_between(NULL, t0, net.now), 0);
	run_for(SEC(30 * 60 - 59));
	/* rounds at 60, 180, 420, 900, 1380 s: five each */
	ck_assert_uint_eq(probes_between(&a->sa, t0, net.now), 5);
	ck_assert_uint_eq(probes_between(&b->sa, t0, net.now), 5);
	ck_assert(endpoint_eq(&net.last.ep, &a->sa));
	ck_assert_uint_eq(net.changes, 1);
}
END_TEST

/* Traffic for an idle peer: a full round and a probe of the active path
 * in the same instant. */
START_TEST(test_idle_wake_probes_at_once)
{
	struct link *a, *b;
	mtime_ns t0;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	b = add_link(MESH_EP_PORTMAP, "[2001:db8::1]:1000", 40, true);
	push_candidates();
	run_for(SEC(5));
	mesh_path_set_idle(net.p, true, false, net.now);
	run_for(SEC(600));
	t0 = net.now;
	mesh_path_set_idle(net.p, false, false, net.now);
	ck_assert(!mesh_path_is_idle(net.p));
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), net.now);
	mesh_path_handle_expiry(net.p, net.now);
	ck_assert_uint_ge(probes_between(&a->sa, t0, t0 + 1), 1);
	ck_assert_uint_eq(probes_between(&b->sa, t0, t0 + 1), 1);
	/* and warm again: keepalives on the active path */
	run_for(SEC(60));
	ck_assert_uint_ge(probes_between(&a->sa, t0, net.now), PATH_PUNCH_BURST + 2);
}
END_TEST

/* Idle with keepalive (the one peer that keeps our NAT mapping): the
 * active path is probed every 15-25 s, no other round but the re-probes. */
START_TEST(test_idle_keepalive)
{
	struct link *a, *b;
	mtime_ns t0;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	b = add_link(MESH_EP_PORTMAP, "[2001:db8::1]:1000", 40, true);
	push_candidates();
	run_for(SEC(5));
	net.ka_max_gap = 0;
	t0 = net.now;
	mesh_path_set_idle(net.p, true, true, net.now);
	run_for(SEC(30 * 60));
	ck_assert_uint_lt(net.ka_max_gap, SEC(30));
	ck_assert_uint_ge(probes_between(&a->sa, t0, net.now), 30 * 60 / 25);
	ck_assert_uint_eq(probes_between(&b->sa, t0, net.now), 5);
	/* keepalive off again: quiet but for the re-probes */
	t0 = net.now;
	mesh_path_set_idle(net.p, true, false, net.now);
	run_for(SEC(30 * 60));
	ck_assert_uint_le(probes_between(&a->sa, t0, net.now), 5);
}
END_TEST

/* An idle peer whose active path dies is still noticed: the lost re-probe
 * is checked again at once, and the path fails over to the other one. */
START_TEST(test_idle_dead_path_fails_over)
{
	struct link *a, *b;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	b = add_link(MESH_EP_PORTMAP, "[2001:db8::1]:1000", 40, true);
	push_candidates();
	run_for(SEC(5));
	ck_assert(endpoint_eq(&net.last.ep, &a->sa));
	mesh_path_set_idle(net.p, true, false, net.now);
	a->up = false;
	run_for(SEC(60 + 15));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &b->sa));
	ck_assert(mesh_path_is_idle(net.p));
}
END_TEST

/* An idle peer kept for the NAT mapping (a NAT'd member's relay) loses its
 * only path to a short outage (three keepalive probes lost: a busy host,
 * loss). When the outage ends, the path is found again within a warm retry
 * round (PATH_RETRY_MS), not after the idle back-off of a minute or more. */
START_TEST(test_idle_dead_path_retried_warm)
{
	struct link *a;
	mtime_ns down, back, t;

	a = add_link(MESH_EP_LOCAL, "198.51.100.10:51820", 1, true);
	push_candidates();
	run_for(SEC(5));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	mesh_path_set_idle(net.p, true, true, net.now);
	run_for(SEC(120));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	a->up = false;
	down = net.now;
	while (net.last.kind == MESH_PATH_DIRECT && net.now < down + SEC(40))
		run_for(MSEC(100));
	ck_assert_int_eq(net.last.kind, MESH_PATH_NONE);
	ck_assert_uint_le(net.now - down, SEC(25 + 3 * PATH_PROBE_TIMEOUT_MS / 1000 + 1));
	/* the immediate round after the death misses too: still out */
	run_for(SEC(1));
	a->up = true;
	back = net.now;
	t = back;
	while (net.last.kind != MESH_PATH_DIRECT && net.now < back + SEC(120))
		run_for(MSEC(100));
	ck_assert_int_eq(net.last.kind, MESH_PATH_DIRECT);
	t = net.now - back;
	ck_assert_msg(t <= MSEC(PATH_RETRY_MS) + SEC(1), "direct again %llu ms after the outage",
	    (unsigned long long)(t / 1000000));
	ck_assert(mesh_path_is_idle(net.p));
	/* and back to the idle pace afterwards: keepalives only */
	t = net.now + MSEC(PATH_FRESH_MS);
	run_for(MSEC(PATH_FRESH_MS) + SEC(60));
	ck_assert_uint_le(probes_to(a, t, net.now), 60 / 15 + 1);
}
END_TEST

START_TEST(test_punch_burst)
{
	struct link *a, *b;
	mtime_ns t0;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, false);
	b = add_link(MESH_EP_PORTMAP, "[2001:db8::1]:1000", 30, false);
	push_candidates();
	set_relay(9, 50);
	run_for(MSEC(2500));
	t0 = net.now;
	mesh_path_punch(net.p, net.now);
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), t0);
	mesh_path_handle_expiry(net.p, net.now);
	ck_assert_uint_eq(probes_to(a, t0, t0 + 1), 1);
	ck_assert_uint_eq(probes_to(b, t0, t0 + 1), 1);
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), t0 + MSEC(PATH_PUNCH_GAP_MS));
	run_until(t0 + MSEC(2 * PATH_PUNCH_GAP_MS));
	ck_assert_uint_eq(probes_to(a, t0, t0 + MSEC(2 * PATH_PUNCH_GAP_MS) + 1), 3);
	ck_assert_uint_eq(probes_to(b, t0 + MSEC(PATH_PUNCH_GAP_MS),
	    t0 + MSEC(PATH_PUNCH_GAP_MS) + 1), 1);
	ck_assert_uint_eq(probes_to(b, t0 + MSEC(2 * PATH_PUNCH_GAP_MS),
	    t0 + MSEC(2 * PATH_PUNCH_GAP_MS) + 1), 1);
	/* changing the candidates: a burst at once as well, once the last
	 * change's round is PATH_CHANGE_GAP_MS old */
	run_for(MSEC(PATH_CHANGE_GAP_MS));
	add_link(MESH_EP_LOCAL, "192.0.2.77:1000", 30, true);
	push_candidates();
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), net.now);
	/* the same set again: nothing */
	run_for(SEC(1));
	push_candidates();
	ck_assert_uint_gt(mesh_path_next_expiry(net.p), net.now);
}
END_TEST

START_TEST(test_ack_checks)
{
	struct link *a;
	union endpoint other;
	struct mesh_path_stats st;
	uint64_t txid;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	a->up = false;
	push_candidates();
	mesh_path_handle_expiry(net.p, net.now);
	ck_assert_uint_eq(net.nlog, 1);
	/* our fake network dropped it; answer by hand */
	a->up = true;
	ck_assert_int_eq(endpoint_parse(&other, "203.0.113.1:1001", false), 0);
	ck_assert_int_eq(mesh_path_input_ack(net.p, 12345, NULL, net.now), MESHD_E_NOENT);
	ck_assert_int_eq(mesh_path_input_ack(net.p, 0, NULL, net.now), MESHD_E_NOENT);
	/* find the txid: the only outstanding one answers from a */
	{
		struct mesh_path_cfg cfg;
		int err;

		mesh_path_free(net.p);
		memset(&cfg, 0, sizeof cfg);
		cfg.probe = on_probe;
		cfg.changed = on_changed;
		cfg.rng_seed = 7;
		net.p = mesh_path_new(&cfg, &err);
		ck_assert_ptr_nonnull(net.p);
		net.npend = 0;
		push_candidates();
		mesh_path_handle_expiry(net.p, net.now);
		ck_assert_uint_eq(net.npend, 1);
		txid = net.pend[0].txid;
		net.npend = 0;
	}
	ck_assert_int_eq(mesh_path_input_ack(net.p, txid, &other, net.now + MSEC(30)), MESHD_E_PROTO);
	ck_assert_int_eq(mesh_path_input_ack(net.p, txid, &a->sa, net.now + MSEC(30)), 0);
	ck_assert_int_eq(mesh_path_input_ack(net.p, txid, &a->sa, net.now + MSEC(31)), MESHD_E_NOENT);
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_eq(st.acks, 1);
	ck_assert_uint_eq(st.acks_rejected, 2);
	/* a late answer after the timeout is rejected */
	net.now += MSEC(100);
	mesh_path_handle_expiry(net.p, net.now);
	while (net.npend == 0)
		run_for(MSEC(100));
	txid = net.pend[0].txid;
	net.npend = 0;
	run_for(SEC(4));
	ck_assert_int_eq(mesh_path_input_ack(net.p, txid, &a->sa, net.now), MESHD_E_NOENT);
	{
		struct mesh_path_cfg cfg;
		int err;

		memset(&cfg, 0, sizeof cfg);
		ck_assert_ptr_null(mesh_path_new(&cfg, &err));
		ck_assert_int_eq(err, MESHD_E_INVAL);
		mesh_path_free(NULL);
	}
}
END_TEST

START_TEST(test_candidates_change)
{
	struct link *a, *b;
	struct mesh_ep eps[PATH_CAND_MAX + 1];
	struct mesh_path_cand_stats st;
	size_t i;

	a = add_link(MESH_EP_REFLEXIVE, "203.0.113.1:1000", 30, true);
	b = add_link(MESH_EP_REFLEXIVE, "203.0.113.2:1000", 60, true);
	push_candidates();
	run_for(SEC(5));
	ck_assert(endpoint_eq(&net.last.ep, &a->sa));
	/* a disappears from the record: fail over at once */
	eps[0] = b->ep;
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 1, net.now), 0);
	ck_assert(endpoint_eq(&net.last.ep, &b->sa));
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 0, &st), 0);
	ck_assert_uint_ge(st.acked, 1);	/* state carried over */
	/* duplicates merge (better class wins), invalid entries are skipped */
	eps[1] = b->ep;
	eps[1].source = MESH_EP_LOCAL;
	eps[2] = b->ep;
	eps[2].port = 0;
	set_lan("203.0.113.100:1", 24);
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 3, net.now), 0);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 1);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, 0, &st), 0);
	ck_assert_int_eq(st.cls, MESH_PATH_CLASS_LAN);
	/* too many */
	for (i = 0; i < PATH_CAND_MAX + 1; i++) {
		eps[i] = b->ep;
		eps[i].port = (uint16_t)(100 + i);
	}
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, PATH_CAND_MAX + 1, net.now),
	    MESHD_E_RANGE);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 1);
	/* none left: NONE, and nothing more to do */
	ck_assert_int_eq(mesh_path_set_candidates(net.p, NULL, 0, net.now), 0);
	ck_assert_int_eq(net.last.kind, MESH_PATH_NONE);
	run_for(SEC(5));
	ck_assert_uint_eq(mesh_path_next_expiry(net.p), MTIME_NEVER);
}
END_TEST

/* Seeded random runs: links flap, loss and RTT change, relays come and go,
 * candidates change; the invariants are checked after every step. */
START_TEST(test_random_invariants)
{
	static const char *const addrs[] = {
		"192.168.7.2:51820", "203.0.113.10:40000", "198.51.100.3:1234",
		"[2001:db8::9]:51820", "[fd00::2]:51820", "192.0.2.200:5000",
	};
	unsigned seed = (unsigned)_i + 1, step;
	size_t i;

	net.rng = seed * 1000003ULL;
	net.dup_pct = 5;
	{
		struct mesh_path_prefix pf[2];

		memset(pf, 0, sizeof pf);
		pf[0].family = MESH_FAMILY_V4;
		pf[0].addr[0] = 192;
		pf[0].addr[1] = 168;
		pf[0].addr[2] = 7;
		pf[0].plen = 24;
		pf[1].family = MESH_FAMILY_V6;
		pf[1].addr[0] = 0xfd;
		pf[1].plen = 64;
		ck_assert_int_eq(mesh_path_set_local(net.p, pf, 2, net.now), 0);
	}
	for (i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
		struct link *l = add_link(i % 3 == 0 ? MESH_EP_LOCAL : (uint8_t)(1 + i % 3),
		    addrs[i], 5 + (uint32_t)(nrand() % 300), nrand() % 2 == 0);

		l->loss_pct = (unsigned)(nrand() % 4 == 0 ? nrand() % 100 : 0);
		l->jitter_pct = (unsigned)(nrand() % 30);
	}
	push_candidates();
	for (step = 0; step < 200; step++) {
		unsigned what = (unsigned)(nrand() % 10);
		struct link *l = &net.link[nrand() % net.nlink];

		switch (what) {
		case 0:
		case 1:
		case 2:
			l->up = !l->up;
			break;
		case 3:
			l->loss_pct = (unsigned)(nrand() % 101);
			break;
		case 4:
			l->rtt_ms = 1 + (uint32_t)(nrand() % 2000);
			break;
		case 5:
			if (nrand() % 2)
				set_relay((uint8_t)(nrand() % 4), 10 + (uint32_t)(nrand() % 200));
			else
				ck_assert_int_eq(mesh_path_set_relays(net.p, NULL, 0, net.now), 0);
			break;
		case 6: {
			struct mesh_ep eps[MAXLINK];
			size_t n = 0;

			for (i = 0; i < net.nlink; i++)
				if (nrand() % 3 != 0)
					eps[n++] = net.link[i].ep;
			ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, n, net.now), 0);
			break;
		}
		case 7:
			mesh_path_punch(net.p, net.now);
			break;
		case 8: {
			/* a PROBE from a link, in the record or not (peer-reflexive) */
			int r = mesh_path_input_probe(net.p, &l->sa, net.now);

			ck_assert(r == 0 || r == MESHD_E_RANGE);
			break;
		}
		default:
			break;
		}
		check_invariants();
		run_for(MSEC(nrand() % 60000));
		/* a direct path in use is probed at least every 30 s */
		ck_assert_uint_lt(net.ka_max_gap, SEC(30));
	}
	{
		struct mesh_path_stats st;

		mesh_path_get_stats(net.p, &st);
		ck_assert_uint_gt(st.probes_sent, 0);
		/* bounded probing: < 12 probes a second on average for 6 candidates */
		ck_assert_uint_lt(st.probes_sent, 12 * (net.now - SEC(1000)) / SEC(1));
	}
}
END_TEST

/* A hostile member points its record at a victim that never answers and
 * rewrites the record every 5 s (the victim stays, a decoy port changes):
 * the probes one engine sends to the victim in 60 s. Measured: 47 before
 * the change gap and the back-off, 15 after. */
START_TEST(test_victim_flapping_record)
{
	struct link *victim;
	mtime_ns t0;
	char decoy[32];

	victim = add_link(MESH_EP_PORTMAP, "192.0.2.200:53", 30, false);
	add_link(MESH_EP_PORTMAP, "192.0.2.201:1000", 30, false);
	t0 = net.now;
	for (unsigned k = 0; k < 12; k++) {
		snprintf(decoy, sizeof decoy, "192.0.2.201:%u", 1000 + k);
		net.link[1].ep = mk_ep(MESH_EP_PORTMAP, decoy);
		mesh_path_ep_to_endpoint(&net.link[1].ep, &net.link[1].sa);
		push_candidates();
		run_for(SEC(5));
	}
	ck_assert_uint_le(probes_to(victim, t0, net.now), 5 * PATH_PUNCH_BURST);
	ck_assert_uint_ge(probes_to(victim, t0, net.now), 2 * PATH_PUNCH_BURST);
}
END_TEST

/* One PUNCH a second for 10 s (what a hostile member may send: the node acts
 * on one per second per origin) at a peer whose record names a silent
 * victim: before, each started a round (3 probes per candidate: 30 in 10 s
 * to the victim alone); now PATH_PUNCH_ROUNDS_BURST rounds, then one per
 * PATH_PUNCH_ROUND_S. The held punch is deferred, not lost. */
START_TEST(test_punch_flood_held)
{
	struct link *victim;
	struct mesh_path_stats st;
	mtime_ns t0;

	victim = add_link(MESH_EP_PORTMAP, "192.0.2.200:53", 30, false);
	push_candidates();
	run_for(SEC(1));
	t0 = net.now;
	for (unsigned k = 0; k < 10; k++) {
		mesh_path_punch(net.p, net.now);
		run_for(SEC(1));
	}
	ck_assert_uint_le(probes_to(victim, t0, net.now),
	    (PATH_PUNCH_ROUNDS_BURST + 1) * PATH_PUNCH_BURST);
	ck_assert_uint_ge(probes_to(victim, t0, net.now), PATH_PUNCH_BURST);
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_ge(st.punches_held, 7);
	/* the last held punch still runs, once a round's token is there */
	t0 = net.now;
	run_for(SEC(PATH_PUNCH_ROUND_S));
	ck_assert_uint_ge(probes_to(victim, t0, net.now), PATH_PUNCH_BURST);
}
END_TEST

/* The allow upcall gates every probe to a candidate that never answered,
 * and only those: an answering candidate is probed as before. */
static unsigned allow_asked, allow_budget;

static bool allow_some(void *ctx, const union endpoint *dst, mtime_ns now)
{
	(void)ctx;
	(void)dst;
	(void)now;
	allow_asked++;
	if (allow_budget == 0)
		return false;
	allow_budget--;
	return true;
}

START_TEST(test_allow_gates_silent_candidates)
{
	struct mesh_path_cfg cfg;
	struct mesh_path_stats st;
	struct link *victim, *good;
	int err;

	mesh_path_free(net.p);
	memset(&cfg, 0, sizeof cfg);
	cfg.probe = on_probe;
	cfg.changed = on_changed;
	cfg.allow = allow_some;
	cfg.rng_seed = 7;
	net.p = mesh_path_new(&cfg, &err);
	ck_assert_ptr_nonnull(net.p);
	allow_asked = 0;
	allow_budget = 4;	/* enough for good's first probe and a few more */
	good = add_link(MESH_EP_PORTMAP, "198.51.100.7:51820", 20, true);
	victim = add_link(MESH_EP_PORTMAP, "192.0.2.200:53", 30, false);
	push_candidates();
	run_for(SEC(120));
	/* the victim got at most the budget's probes; good kept its path */
	ck_assert_uint_le(probes_to(victim, SEC(0), net.now), 4);
	ck_assert_uint_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &good->sa));
	ck_assert_uint_gt(probes_to(good, SEC(0), net.now), 4);
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_gt(st.probes_denied, 0);
	ck_assert_uint_eq(st.probes_denied + 4, allow_asked);
}
END_TEST

/* UDP is known down (the TCP fallback): the direct path goes at once, the
 * relay takes over with no probe time-out; an answer later revives direct. */
START_TEST(test_udp_lost_falls_back_at_once)
{
	struct link *wan;
	struct mesh_path_choice c;
	mtime_ns acked;

	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.9:41641", 20, true);
	push_candidates();
	set_relay(0x42, 60);
	run_for(SEC(3));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	acked = mesh_path_last_ack(net.p);
	ck_assert_uint_gt(acked, 0);
	ck_assert_uint_le(acked, net.now);
	wan->up = false;
	mesh_path_udp_lost(net.p, net.now);
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_RELAY);
	ck_assert_uint_eq(c.relay_id[0], 0x42);
	ck_assert_uint_eq(mesh_path_last_ack(net.p), 0);	/* no direct path */
	/* UDP works again: the next attempt finds it and direct wins */
	wan->up = true;
	run_for(MSEC(PATH_BACKOFF_MAX_MS + 5000));
	mesh_path_current(net.p, &c);
	ck_assert_int_eq(c.kind, MESH_PATH_DIRECT);
	check_invariants();
}
END_TEST

/* A triggered check: the peer's PROBE from a candidate sends our probe to
 * it at once, past the candidate's back-off (here 20 s) and the allow
 * budget; one per candidate per PATH_TRIGGER_GAP_MS. */
START_TEST(test_triggered_check)
{
	struct mesh_path_stats st;
	struct link *wan;
	mtime_ns t0;

	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.2:51861", 20, false);
	push_candidates();
	run_for(SEC(21));	/* silent: 3 rounds, now held until 40 s */
	ck_assert_uint_eq(net.last.kind, MESH_PATH_NONE);
	wan->up = true;		/* the peer's NAT opened */
	t0 = net.now;
	ck_assert_int_eq(mesh_path_input_probe(net.p, &wan->sa, net.now), 0);
	ck_assert_int_eq(mesh_path_input_probe(net.p, &wan->sa, net.now), 0);
	run_for(MSEC(100));
	ck_assert_uint_eq(probes_to(wan, t0, net.now), 1);	/* once, not twice */
	ck_assert_uint_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &wan->sa));
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_eq(st.triggered, 1);
	ck_assert_uint_eq(st.prflx_added, 0);
	/* on the active, usable path a PROBE triggers nothing */
	t0 = net.now;
	ck_assert_int_eq(mesh_path_input_probe(net.p, &wan->sa, net.now + SEC(2)), 0);
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_eq(st.triggered, 1);
	check_invariants();
}
END_TEST

static size_t cand_index(const struct link *l)
{
	struct mesh_path_cand_stats cs;

	for (size_t i = 0; i < mesh_path_ncand(net.p); i++) {
		ck_assert_int_eq(mesh_path_cand_stats(net.p, i, &cs), 0);
		if (endpoint_eq(&cs.addr, &l->sa))
			return i;
	}
	return SIZE_MAX;
}

/* A peer-reflexive candidate: the peer's record names a port its NAT did
 * not map (Linux masquerade picked another), its PROBE comes from the real
 * one: that source becomes a candidate and the path goes direct there. It
 * survives record changes, turns into a plain candidate when the record
 * names it, and leaves when it goes silent; at most PATH_PRFLX_MAX;
 * synthetic endpoints (relay, TCP entry: 0100::/8) never become one. */
START_TEST(test_peer_reflexive)
{
	struct mesh_path_cand_stats cs;
	struct mesh_path_stats st;
	struct link *rec, *real, *other;
	struct mesh_ep eps[2];
	union endpoint syn;
	size_t i;

	rec = add_link(MESH_EP_REFLEXIVE, "198.51.100.2:51861", 20, false);
	real = add_link(MESH_EP_REFLEXIVE, "198.51.100.2:40001", 20, true);
	other = add_link(MESH_EP_LOCAL, "10.2.0.20:51861", 20, false);
	eps[0] = rec->ep;
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 1, net.now), 0);
	run_for(SEC(2));
	ck_assert_uint_eq(mesh_path_ncand(net.p), 1);
	ck_assert_int_eq(mesh_path_input_probe(net.p, &real->sa, net.now), 0);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 2);
	i = cand_index(real);
	ck_assert_uint_eq(i, 1);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, i, &cs), 0);
	ck_assert_uint_eq(cs.ep.source, PATH_SRC_PRFLX);
	ck_assert_int_eq(cs.cls, MESH_PATH_CLASS_WAN);
	run_for(MSEC(100));
	ck_assert_uint_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &real->sa));
	/* a new record (one more candidate) keeps it, and the path */
	eps[1] = other->ep;
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 2, net.now), 0);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 3);
	ck_assert(endpoint_eq(&net.last.ep, &real->sa));
	run_for(SEC(1));
	ck_assert(endpoint_eq(&net.last.ep, &real->sa));
	/* the record names it now: a plain candidate, still active */
	eps[1] = real->ep;
	ck_assert_int_eq(mesh_path_set_candidates(net.p, eps, 2, net.now), 0);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 2);
	ck_assert_int_eq(mesh_path_cand_stats(net.p, cand_index(real), &cs), 0);
	ck_assert_uint_eq(cs.ep.source, MESH_EP_REFLEXIVE);
	ck_assert(cs.active);
	/* synthetic sources are refused */
	ck_assert_int_eq(endpoint_parse(&syn, "[100::1:2]:1", false), 0);
	ck_assert_int_eq(mesh_path_input_probe(net.p, &syn, net.now), MESHD_E_INVAL);
	ck_assert_int_eq(endpoint_parse(&syn, "[100:0:0:1::9]:1", false), 0);
	ck_assert_int_eq(mesh_path_input_probe(net.p, &syn, net.now), MESHD_E_INVAL);
	ck_assert_uint_eq(mesh_path_ncand(net.p), 2);
	/* three silent sources: at most PATH_PRFLX_MAX at a time */
	for (unsigned k = 0; k < 3; k++) {
		char a[32];

		snprintf(a, sizeof a, "203.0.113.9:%u", 7000 + k);
		ck_assert_int_eq(endpoint_parse(&syn, a, false), 0);
		ck_assert_int_eq(mesh_path_input_probe(net.p, &syn, net.now), 0);
	}
	ck_assert_uint_eq(mesh_path_ncand(net.p), 2 + PATH_PRFLX_MAX);
	mesh_path_get_stats(net.p, &st);
	ck_assert_uint_eq(st.prflx_added, 4);
	/* silent, they leave; the path stays */
	run_for(SEC(PATH_REEVAL_MS / 1000 + 10));
	ck_assert_uint_eq(mesh_path_ncand(net.p), 2);
	ck_assert(endpoint_eq(&net.last.ep, &real->sa));
	check_invariants();
}
END_TEST

/* A new member's candidates, idle engine: the first round misses (its NAT
 * is not open yet), and the warm schedule goes on for PATH_FRESH_MS
 * instead of the idle minute: direct at the 10 s round. Past the window,
 * a silent candidate gets the idle schedule again. */
START_TEST(test_fresh_candidates_retried_idle)
{
	struct link *wan, *dead;
	mtime_ns t0;

	mesh_path_set_idle(net.p, true, false, net.now);
	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.2:51861", 20, false);
	dead = add_link(MESH_EP_LOCAL, "10.2.0.20:51861", 20, false);
	push_candidates();
	t0 = net.now;
	run_for(SEC(7));
	ck_assert_uint_eq(probes_to(wan, t0, net.now), 2 * PATH_PUNCH_BURST);	/* 0 s, 5 s */
	wan->up = true;
	run_for(SEC(5));
	ck_assert_uint_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &wan->sa));
	/* direct, and the window over: dead gets the idle pace (one probe
	 * a round, a minute or more apart), not the warm one */
	t0 = net.now + MSEC(PATH_FRESH_MS);
	run_for(MSEC(PATH_FRESH_MS) + SEC(55));
	ck_assert_uint_le(probes_to(dead, t0, net.now), PATH_IDLE_BURST);
	check_invariants();
}
END_TEST

/* An idle peer goes warm 100 ms after its first round (the node keeps it
 * warm for a moment): the full round that starts then finds the first
 * probes still out, which is no silent round. Rounds go on at 0, 5, 10
 * and 20 s; counted as one, the back-off ran a step ahead and the round
 * at 10 s skipped the candidate (a link back at 9 s was found at 20 s). */
START_TEST(test_round_in_flight_not_silent)
{
	struct link *wan;
	mtime_ns t0;

	mesh_path_set_idle(net.p, true, false, net.now);
	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.2:51861", 20, false);
	push_candidates();
	t0 = net.now;
	run_for(MSEC(100));
	mesh_path_set_idle(net.p, false, false, net.now);
	run_for(SEC(9));
	ck_assert_uint_eq(probes_to(wan, t0, net.now), 2 * PATH_PUNCH_BURST);	/* 0 s, 5 s */
	wan->up = true;
	run_for(SEC(3));
	ck_assert_uint_eq(probes_to(wan, t0 + SEC(10), t0 + SEC(11)), PATH_PUNCH_BURST);
	ck_assert_uint_eq(net.last.kind, MESH_PATH_DIRECT);
	ck_assert(endpoint_eq(&net.last.ep, &wan->sa));
}
END_TEST

/* A recheck probes the active path now instead of at the next keepalive. */
START_TEST(test_recheck_probes_now)
{
	struct link *wan;
	mtime_ns t0;

	wan = add_link(MESH_EP_REFLEXIVE, "198.51.100.9:41641", 20, true);
	push_candidates();
	run_for(SEC(5));	/* direct, keepalives 15-25 s apart from here */
	t0 = net.now;
	run_for(MSEC(50));
	ck_assert_uint_eq(probes_to(wan, t0, net.now), 0);
	t0 = net.now;
	mesh_path_recheck(net.p, net.now);
	run_for(MSEC(50));
	ck_assert_uint_ge(probes_to(wan, t0, net.now), 1);
	ck_assert_uint_ge(mesh_path_last_ack(net.p), t0);
}
END_TEST

static Suite *suite_path(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lan_over_wan);
	tcase_add_test(tc, test_private_not_our_lan_is_wan);
	tcase_add_test(tc, test_wan_over_relay);
	tcase_add_test(tc, test_relay_then_direct);
	tcase_add_test(tc, test_relay_hysteresis);
	tcase_add_loop_test(tc, test_no_flap_equal, 0, 10);
	tcase_add_loop_test(tc, test_no_flap_close, 0, 10);
	tcase_add_test(tc, test_switch_on_clear_gain);
	tcase_add_test(tc, test_dead_detection);
	tcase_add_test(tc, test_dead_slow_path);
	tcase_add_test(tc, test_keepalive_interval);
	tcase_add_test(tc, test_punch_burst);
	tcase_add_test(tc, test_idle_quiet);
	tcase_add_test(tc, test_idle_wake_probes_at_once);
	tcase_add_test(tc, test_idle_keepalive);
	tcase_add_test(tc, test_idle_dead_path_fails_over);
	tcase_add_test(tc, test_idle_dead_path_retried_warm);
	tcase_add_test(tc, test_ack_checks);
	tcase_add_test(tc, test_candidates_change);
	tcase_add_test(tc, test_victim_flapping_record);
	tcase_add_test(tc, test_punch_flood_held);
	tcase_add_test(tc, test_udp_lost_falls_back_at_once);
	tcase_add_test(tc, test_recheck_probes_now);
	tcase_add_test(tc, test_round_in_flight_not_silent);
	tcase_add_test(tc, test_triggered_check);
	tcase_add_test(tc, test_peer_reflexive);
	tcase_add_test(tc, test_fresh_candidates_retried_idle);
	tcase_add_test(tc, test_allow_gates_silent_candidates);
	tcase_add_loop_test(tc, test_random_invariants, 0, 20);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_path());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
