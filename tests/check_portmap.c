/* Port mapping lease state machine on a virtual clock, against a scripted
 * fake router that answers every operation at once (or as a test says). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <check.h>

#include "nat/portmap.h"
#include "util/err.h"

enum { PORT = 51820, MAX_OPS = 4096 };
#define T0 SEC(1000)

/* The fake router: which protocols it speaks and how it behaves. */
struct router {
	bool natpmp, upnp;
	bool down;		/* every operation times out */
	bool refuse_map;	/* MAP answers REFUSED */
	bool only_permanent;	/* UPnP 725 for any lease != 0 */
	uint16_t taken_port;	/* UPnP 718 for this external port */
	bool all_taken;		/* UPnP 718 for every port */
	uint32_t grant_s;	/* 0: grant what was asked */
	mtime_ns boot_at;	/* epoch counts from here ... */
	uint32_t epoch_base_s;	/* ... starting at this value */
	unsigned deletes;
};

struct logged {
	mtime_ns t;
	struct nat_pm_op op;
};

static struct nat_portmap pm;
static struct router rt;
static mtime_ns now;
static struct logged ops[MAX_OPS];
static size_t nops;
static uint64_t rng_state;

static uint64_t test_rand(void *ctx)
{
	uint64_t z;

	(void)ctx;
	z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct in_addr ext_ip(void)
{
	struct in_addr a;

	inet_pton(AF_INET, "198.51.100.7", &a);
	return a;
}

static uint32_t router_epoch(void)
{
	return rt.epoch_base_s + (uint32_t)((now - rt.boot_at) / SEC(1));
}

static void answer(const struct nat_pm_op *op, struct nat_pm_result *res)
{
	memset(res, 0, sizeof *res);
	res->id = op->id;
	if (rt.down) {
		res->status = NAT_PM_E_TIMEOUT;
		return;
	}
	if ((op->proto == NAT_PM_PROTO_NATPMP && !rt.natpmp) ||
	    (op->proto == NAT_PM_PROTO_UPNP && !rt.upnp)) {
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	res->proto = op->proto;
	if (op->proto == NAT_PM_PROTO_NATPMP)
		res->epoch_s = router_epoch();
	switch (op->kind) {
	case NAT_PM_OP_DISCOVER:
		res->ext_addr = ext_ip();
		break;
	case NAT_PM_OP_MAP:
		if (rt.refuse_map) {
			res->status = NAT_PM_E_REFUSED;
		} else if (op->proto == NAT_PM_PROTO_UPNP && rt.only_permanent &&
			   op->lease_s != 0) {
			res->status = NAT_PM_E_ONLY_PERMANENT;
		} else if (op->proto == NAT_PM_PROTO_UPNP &&
			   (rt.all_taken || op->external_port == rt.taken_port)) {
			res->status = NAT_PM_E_CONFLICT;
		} else {
			res->ext_port = op->external_port;
			if (op->proto == NAT_PM_PROTO_NATPMP)
				res->ext_addr = ext_ip();
			res->lifetime_s = op->lease_s;
			if (rt.grant_s && op->lease_s > rt.grant_s)
				res->lifetime_s = rt.grant_s;
		}
		break;
	case NAT_PM_OP_DELETE:
		rt.deletes++;
		break;
	default:
		ck_abort_msg("bad op kind %d", op->kind);
	}
}

/* Runs every operation due now, each answered at once. */
static void pump(void)
{
	struct nat_pm_op op;
	struct nat_pm_result res;
	int guard = 0;

	while (nat_portmap_next_op(&pm, now, &op)) {
		ck_assert_int_lt(guard++, 64);
		ck_assert_uint_lt(nops, MAX_OPS);
		ops[nops].t = now;
		ops[nops++].op = op;
		answer(&op, &res);
		ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	}
	ck_assert_uint_gt(nat_portmap_next_expiry(&pm), now);
}

/* Advances the clock to t, stopping at every deadline on the way. */
static void run_until(mtime_ns t)
{
	pump();
	while (nat_portmap_next_expiry(&pm) <= t) {
		now = nat_portmap_next_expiry(&pm);
		pump();
	}
	now = t;
	pump();
}

static void setup_with(bool natpmp, bool upnp)
{
	struct nat_portmap_cfg cfg = {
		.internal_port = PORT, .rand = test_rand, .rand_ctx = NULL,
	};

	memset(&rt, 0, sizeof rt);
	rt.natpmp = natpmp;
	rt.upnp = upnp;
	rt.epoch_base_s = 5000;
	rt.boot_at = T0;
	now = T0;
	nops = 0;
	rng_state = 42;
	ck_assert_int_eq(nat_portmap_init(&pm, &cfg, now), 0);
}

static void setup(void)
{
	setup_with(true, false);
}

static size_t count_ops(size_t from, enum nat_pm_op_kind kind)
{
	size_t n = 0;

	for (size_t i = from; i < nops; i++)
		n += ops[i].op.kind == kind;
	return n;
}

static void assert_mapped(uint16_t port)
{
	union endpoint ep;
	char buf[ENDPOINT_STRLEN], want[32];

	ck_assert(nat_portmap_mapping(&pm, &ep));
	snprintf(want, sizeof want, "198.51.100.7:%u", port);
	ck_assert_str_eq(endpoint_format(&ep, buf, sizeof buf), want);
}

START_TEST(test_portmap_init_rejects_port0)
{
	struct nat_portmap_cfg cfg = { .internal_port = 0 };

	ck_assert_int_eq(nat_portmap_init(&pm, &cfg, 0), MESHD_E_INVAL);
}
END_TEST

START_TEST(test_portmap_first_map)
{
	union endpoint ep;

	ck_assert(!nat_portmap_mapping(&pm, &ep));
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), T0);
	run_until(T0);
	ck_assert_uint_eq(nops, 2);
	ck_assert_int_eq(ops[0].op.kind, NAT_PM_OP_DISCOVER);
	ck_assert_int_eq(ops[0].op.proto, NAT_PM_PROTO_NATPMP);
	ck_assert_int_eq(ops[1].op.kind, NAT_PM_OP_MAP);
	ck_assert_int_eq(ops[1].op.proto, NAT_PM_PROTO_NATPMP);
	ck_assert_uint_eq(ops[1].op.internal_port, PORT);
	ck_assert_uint_eq(ops[1].op.external_port, PORT);
	ck_assert_uint_eq(ops[1].op.lease_s, NAT_PM_LEASE_S);
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_MAPPED);
	assert_mapped(PORT);
	ck_assert_uint_eq(nat_portmap_changed(&pm), 1);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), T0 + SEC(NAT_PM_LEASE_S / 2));
}
END_TEST

START_TEST(test_portmap_discover_falls_back_to_upnp)
{
	setup_with(false, true);
	run_until(T0);
	ck_assert_uint_eq(nops, 3);
	ck_assert_int_eq(ops[0].op.proto, NAT_PM_PROTO_NATPMP);
	ck_assert_int_eq(ops[1].op.kind, NAT_PM_OP_DISCOVER);
	ck_assert_int_eq(ops[1].op.proto, NAT_PM_PROTO_UPNP);
	ck_assert_int_eq(ops[2].op.kind, NAT_PM_OP_MAP);
	ck_assert_int_eq(ops[2].op.proto, NAT_PM_PROTO_UPNP);
	/* UPnP's AddPortMapping does not say the address: discovery's is used. */
	assert_mapped(PORT);
}
END_TEST

START_TEST(test_portmap_renew_at_half_life)
{
	run_until(T0);
	run_until(T0 + SEC(NAT_PM_LEASE_S / 2) - 1);
	ck_assert_uint_eq(nops, 2);
	run_until(T0 + SEC(NAT_PM_LEASE_S / 2));
	ck_assert_uint_eq(nops, 3);
	ck_assert_int_eq(ops[2].op.kind, NAT_PM_OP_MAP);
	ck_assert_uint_eq(ops[2].t, T0 + SEC(NAT_PM_LEASE_S / 2));
	/* An unchanged renewal is no change. */
	ck_assert_uint_eq(nat_portmap_changed(&pm), 1);
	assert_mapped(PORT);
	/* A router granting less (odd seconds): renewal at exactly half. */
	rt.grant_s = 1001;
	run_until(T0 + SEC(NAT_PM_LEASE_S));
	ck_assert_uint_eq(ops[3].t, T0 + SEC(NAT_PM_LEASE_S));
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm),
			  T0 + SEC(NAT_PM_LEASE_S) + MSEC(500500));
	run_until(T0 + SEC(NAT_PM_LEASE_S) + MSEC(500500));
	ck_assert_uint_eq(ops[4].t, T0 + SEC(NAT_PM_LEASE_S) + MSEC(500500));
}
END_TEST

START_TEST(test_portmap_renew_failure_backoff_then_lost)
{
	size_t first;
	uint64_t changed;
	mtime_ns prev, base;
	unsigned k;

	run_until(T0);
	changed = nat_portmap_changed(&pm);
	rt.down = true;
	first = nops;
	run_until(T0 + SEC(NAT_PM_LEASE_S) - 1);
	/* Held until the granted lease ends, renewals retried meanwhile. */
	assert_mapped(PORT);
	ck_assert_uint_eq(nat_portmap_changed(&pm), changed);
	ck_assert_uint_eq(ops[first].t, T0 + SEC(NAT_PM_LEASE_S / 2));
	prev = ops[first].t;
	for (k = 0; first + 1 + k < nops; k++) {
		mtime_ns d = ops[first + 1 + k].t - prev;

		base = k < 9 ? SEC(1) << k : SEC(NAT_PM_BACKOFF_MAX_S);
		if (base > SEC(NAT_PM_BACKOFF_MAX_S))
			base = SEC(NAT_PM_BACKOFF_MAX_S);
		ck_assert_int_eq(ops[first + 1 + k].op.kind, NAT_PM_OP_MAP);
		ck_assert_msg(d <= base && d >= base / 4 * 3,
			      "retry %u after %" PRIu64 " ns, base %" PRIu64, k, d, base);
		prev = ops[first + 1 + k].t;
	}
	ck_assert_uint_ge(k, 15);	/* 1+2+...+256 = 511 s, then 300 s steps */
	/* LOST exactly at the end of the lease. */
	run_until(T0 + SEC(NAT_PM_LEASE_S));
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_LOST);
	ck_assert(!nat_portmap_mapping(&pm, &(union endpoint){ 0 }));
	ck_assert_uint_eq(nat_portmap_changed(&pm), changed + 1);
	/* It keeps trying (rediscovery), still bounded by the cap. */
	first = nops;
	run_until(T0 + SEC(NAT_PM_LEASE_S) + SEC(3600));
	ck_assert_uint_gt(nops - first, 10);
	ck_assert_int_eq(ops[first].op.kind, NAT_PM_OP_DISCOVER);
	for (size_t i = first + 1; i < nops; i++)
		ck_assert_uint_le(ops[i].t - ops[i - 1].t, SEC(NAT_PM_BACKOFF_MAX_S));
	/* The router comes back: mapped again, backoff reset. */
	rt.down = false;
	run_until(now + SEC(NAT_PM_BACKOFF_MAX_S));
	assert_mapped(PORT);
	ck_assert_uint_eq(nat_portmap_changed(&pm), changed + 2);
	ck_assert_uint_eq(pm.fails, 0);
}
END_TEST

/* Router reboots at `boot`; the next answer (renewal at half-life) shows an
 * epoch that started at `base` then. */
static void epoch_case(mtime_ns boot, uint32_t base, bool reset_seen)
{
	size_t first;

	setup();
	run_until(T0);
	run_until(boot);
	rt.boot_at = boot;
	rt.epoch_base_s = base;
	first = nops;
	run_until(T0 + SEC(NAT_PM_LEASE_S / 2));
	ck_assert_uint_eq(count_ops(first, NAT_PM_OP_MAP), (reset_seen ? 2u : 1u));
	for (size_t i = first; i < nops; i++)
		ck_assert_uint_eq(ops[i].t, T0 + SEC(NAT_PM_LEASE_S / 2));
	/* Then the normal schedule again. */
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm),
			  T0 + SEC(NAT_PM_LEASE_S / 2) + SEC(NAT_PM_LEASE_S / 2));
	assert_mapped(PORT);
}

START_TEST(test_portmap_epoch_reset_remaps_at_once)
{
	/* epoch at T0 was 5000 */
	epoch_case(T0 + SEC(1000), 0, true);		/* backwards */
	epoch_case(T0 + SEC(3000), 5000, true);	/* +600 s in 3600 s */
	epoch_case(T0, 5000, false);			/* no reboot */
	/* A slow router clock within 1/16 + 2 s is no reboot. */
	epoch_case(T0 + SEC(3600 / 16) - SEC(2), 5000, false);
	epoch_case(T0 + SEC(3600 / 16) + SEC(3), 5000, true);
}
END_TEST

START_TEST(test_portmap_only_permanent_then_recheck)
{
	setup_with(false, true);
	rt.only_permanent = true;
	run_until(T0);
	ck_assert_uint_eq(nops, 4);
	ck_assert_int_eq(ops[2].op.kind, NAT_PM_OP_MAP);
	ck_assert_uint_eq(ops[2].op.lease_s, NAT_PM_LEASE_S);
	ck_assert_int_eq(ops[3].op.kind, NAT_PM_OP_MAP);
	ck_assert_uint_eq(ops[3].op.lease_s, 0);
	ck_assert_uint_eq(ops[3].t, T0);
	assert_mapped(PORT);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), T0 + SEC(NAT_PM_RECHECK_S));
	run_until(T0 + SEC(3 * NAT_PM_RECHECK_S));
	ck_assert_uint_eq(nops, 7);
	for (size_t i = 4; i < 7; i++) {
		ck_assert_int_eq(ops[i].op.kind, NAT_PM_OP_MAP);
		ck_assert_uint_eq(ops[i].op.lease_s, 0);
		ck_assert_uint_eq(ops[i].t, T0 + SEC((i - 3) * NAT_PM_RECHECK_S));
	}
	ck_assert_uint_eq(nat_portmap_changed(&pm), 1);
}
END_TEST

START_TEST(test_portmap_conflict_picks_other_port)
{
	union endpoint ep;

	setup_with(false, true);
	rt.taken_port = PORT;
	run_until(T0);
	ck_assert_uint_eq(nops, 4);
	ck_assert_uint_eq(ops[2].op.external_port, PORT);
	ck_assert_uint_ne(ops[3].op.external_port, PORT);
	ck_assert_uint_ge(ops[3].op.external_port, NAT_PM_PORT_MIN);
	ck_assert_uint_eq(ops[3].t, T0);
	ck_assert(nat_portmap_mapping(&pm, &ep));
	ck_assert_uint_eq(ntohs(ep.sin.sin_port), ops[3].op.external_port);
	/* Renewals keep the granted port. */
	run_until(T0 + SEC(NAT_PM_LEASE_S / 2));
	ck_assert_uint_eq(ops[4].op.external_port, ops[3].op.external_port);
}
END_TEST

START_TEST(test_portmap_conflict_forever_backs_off)
{
	setup_with(false, true);
	rt.all_taken = true;
	run_until(T0);
	/* The first MAP and NAT_PM_CONFLICT_MAX re-picks at once, all on
	 * different ports; then the backoff. */
	ck_assert_uint_eq(count_ops(0, NAT_PM_OP_MAP), 1 + NAT_PM_CONFLICT_MAX);
	for (size_t i = 3; i < nops; i++)
		for (size_t j = 2; j < i; j++)
			ck_assert_uint_ne(ops[i].op.external_port, ops[j].op.external_port);
	ck_assert_uint_gt(nat_portmap_next_expiry(&pm), T0 + MSEC(749));
	ck_assert_uint_le(nat_portmap_next_expiry(&pm), T0 + SEC(1));
	/* Without a rand the suggestion counts up. */
	pm.cfg.rand = NULL;
	pm.suggest_port = PORT;
	rt.all_taken = false;
	rt.taken_port = PORT;
	run_until(T0 + SEC(1));
	assert_mapped(PORT + 1);
}
END_TEST

START_TEST(test_portmap_no_gateway_backoff)
{
	size_t i;

	setup_with(false, false);
	run_until(T0 + SEC(1200));
	ck_assert_uint_gt(nops, 10);
	ck_assert_uint_eq(nops % 2, 0);
	/* Rounds of NAT-PMP then UPnP at the same instant, then a pause. */
	for (i = 0; i < nops; i += 2) {
		ck_assert_int_eq(ops[i].op.kind, NAT_PM_OP_DISCOVER);
		ck_assert_int_eq(ops[i].op.proto, NAT_PM_PROTO_NATPMP);
		ck_assert_int_eq(ops[i + 1].op.proto, NAT_PM_PROTO_UPNP);
		ck_assert_uint_eq(ops[i + 1].t, ops[i].t);
		if (i >= 2) {
			unsigned k = (unsigned)(i / 2 - 1);
			mtime_ns base = k < 9 ? SEC(1) << k : SEC(NAT_PM_BACKOFF_MAX_S);
			mtime_ns d = ops[i].t - ops[i - 1].t;

			if (base > SEC(NAT_PM_BACKOFF_MAX_S))
				base = SEC(NAT_PM_BACKOFF_MAX_S);
			ck_assert(d <= base && d >= base / 4 * 3);
		}
	}
	ck_assert_uint_eq(nat_portmap_changed(&pm), 0);
	/* A gateway appears: found at the next round. */
	rt.natpmp = true;
	run_until(now + SEC(NAT_PM_BACKOFF_MAX_S));
	assert_mapped(PORT);
}
END_TEST

START_TEST(test_portmap_network_changed_rediscovers)
{
	struct nat_pm_op op;
	struct nat_pm_result res;
	size_t first;

	run_until(T0 + SEC(10));
	now = T0 + SEC(20);
	nat_portmap_network_changed(&pm, now);
	ck_assert(!nat_portmap_mapping(&pm, &(union endpoint){ 0 }));
	ck_assert_uint_eq(nat_portmap_changed(&pm), 2);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), now);
	first = nops;
	run_until(now);
	ck_assert_uint_eq(nops - first, 2);
	ck_assert_int_eq(ops[first].op.kind, NAT_PM_OP_DISCOVER);
	ck_assert_uint_eq(ops[first].t, T0 + SEC(20));
	assert_mapped(PORT);
	ck_assert_uint_eq(nat_portmap_changed(&pm), 3);

	/* Roaming while a renewal is in flight: its answer is void. */
	now = T0 + SEC(20) + SEC(NAT_PM_LEASE_S / 2);
	ck_assert(nat_portmap_next_op(&pm, now, &op));
	ck_assert_int_eq(op.kind, NAT_PM_OP_MAP);
	nat_portmap_network_changed(&pm, now);
	ck_assert(!nat_portmap_next_op(&pm, now, &(struct nat_pm_op){ 0 }));
	answer(&op, &res);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_DISCOVERING);
	ck_assert(!nat_portmap_mapping(&pm, &(union endpoint){ 0 }));
	ck_assert(nat_portmap_next_op(&pm, now, &op));
	ck_assert_int_eq(op.kind, NAT_PM_OP_DISCOVER);
}
END_TEST

START_TEST(test_portmap_stop_deletes_once)
{
	struct nat_pm_op op;
	size_t first;

	run_until(T0);
	now = T0 + SEC(5);
	nat_portmap_stop(&pm, now);
	ck_assert(!nat_portmap_mapping(&pm, &(union endpoint){ 0 }));
	ck_assert_uint_eq(nat_portmap_changed(&pm), 2);
	first = nops;
	rt.down = true;			/* the DELETE fails: not retried */
	run_until(now);
	ck_assert_uint_eq(nops - first, 1);
	ck_assert_int_eq(ops[first].op.kind, NAT_PM_OP_DELETE);
	ck_assert_uint_eq(ops[first].op.external_port, PORT);
	ck_assert_int_eq(ops[first].op.proto, NAT_PM_PROTO_NATPMP);
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_DONE);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), MTIME_NEVER);
	now += SEC(100000);
	ck_assert(!nat_portmap_next_op(&pm, now, &op));
	nat_portmap_network_changed(&pm, now);
	nat_portmap_stop(&pm, now);
	ck_assert(!nat_portmap_next_op(&pm, now, &op));
}
END_TEST

START_TEST(test_portmap_stop_without_mapping_is_done)
{
	struct nat_pm_op op;

	setup_with(false, false);
	run_until(T0 + SEC(3));
	nat_portmap_stop(&pm, now);
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_DONE);
	ck_assert(!nat_portmap_next_op(&pm, now, &op));
	ck_assert_uint_eq(nat_portmap_changed(&pm), 0);
}
END_TEST

START_TEST(test_portmap_stop_waits_for_map_in_flight)
{
	struct nat_pm_op op, dop;
	struct nat_pm_result res;

	ck_assert(nat_portmap_next_op(&pm, now, &op));
	answer(&op, &res);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	ck_assert(nat_portmap_next_op(&pm, now, &op));
	ck_assert_int_eq(op.kind, NAT_PM_OP_MAP);
	nat_portmap_stop(&pm, now);
	ck_assert(!nat_portmap_next_op(&pm, now, &dop));
	answer(&op, &res);		/* the router did map it */
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	ck_assert(!nat_portmap_mapping(&pm, &(union endpoint){ 0 }));
	ck_assert(nat_portmap_next_op(&pm, now, &dop));
	ck_assert_int_eq(dop.kind, NAT_PM_OP_DELETE);
	ck_assert_uint_eq(dop.external_port, PORT);
	answer(&dop, &res);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_DONE);
	ck_assert_uint_eq(rt.deletes, 1);
}
END_TEST

START_TEST(test_portmap_one_op_in_flight)
{
	struct nat_pm_op op, op2;
	struct nat_pm_result res;

	ck_assert(nat_portmap_next_op(&pm, now, &op));
	/* Nothing more, however late it gets. */
	ck_assert(!nat_portmap_next_op(&pm, now, &op2));
	ck_assert(!nat_portmap_next_op(&pm, now + SEC(100000), &op2));
	ck_assert_int_eq(op2.kind, NAT_PM_OP_NONE);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), MTIME_NEVER);
	/* Only the answer with the right id counts, and only once. */
	answer(&op, &res);
	res.id = op.id + 1;
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), MESHD_E_STATE);
	res.id = op.id;
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), MESHD_E_STATE);
	ck_assert(nat_portmap_next_op(&pm, now, &op2));
	ck_assert_uint_ne(op2.id, op.id);
	ck_assert_int_eq(op2.kind, NAT_PM_OP_MAP);
	/* A held mapping still expires while a renewal hangs. */
	answer(&op2, &res);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	now += SEC(NAT_PM_LEASE_S / 2);
	ck_assert(nat_portmap_next_op(&pm, now, &op));
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), T0 + SEC(NAT_PM_LEASE_S));
	now = T0 + SEC(NAT_PM_LEASE_S);
	ck_assert(!nat_portmap_next_op(&pm, now, &op2));
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_LOST);
	ck_assert_uint_eq(nat_portmap_next_expiry(&pm), MTIME_NEVER);
	/* ... and a late success maps again. */
	answer(&op, &res);
	ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	assert_mapped(PORT);
}
END_TEST

/* Random router answers, delays, roaming and time jumps. Checks: one op in
 * flight, next_expiry not in the past after handling, the next operation
 * within NAT_PM_BACKOFF_MAX_S of any failure, changed() moving exactly
 * when mapping() changes (reference: the previous answer), a held mapping
 * never past its lease. */
static struct {
	uint64_t seed;
	unsigned iter;
	bool held;
	union endpoint ep;
	uint64_t changed;
} ref;

static void check_changed(void)
{
	union endpoint ep;
	bool held = nat_portmap_mapping(&pm, &ep);
	bool differs = held != ref.held || (held && !endpoint_eq(&ep, &ref.ep));

	ck_assert_msg(nat_portmap_changed(&pm) == ref.changed + differs,
		      "seed %" PRIu64 " iter %u: changed %" PRIu64 " want %" PRIu64,
		      ref.seed, ref.iter, nat_portmap_changed(&pm), ref.changed + differs);
	if (held)
		ck_assert_uint_gt(pm.expires_at, now);
	ref.held = held;
	ref.ep = ep;
	ref.changed = nat_portmap_changed(&pm);
}

static void random_run(uint64_t seed)
{
	static const enum nat_pm_status st[] = {
		NAT_PM_OK, NAT_PM_OK, NAT_PM_OK, NAT_PM_E_NO_GATEWAY,
		NAT_PM_E_REFUSED, NAT_PM_E_ONLY_PERMANENT, NAT_PM_E_CONFLICT,
		NAT_PM_E_TIMEOUT, NAT_PM_E_IO,
	};
	struct nat_portmap_cfg cfg = { .internal_port = PORT, .rand = test_rand };
	struct nat_pm_op op, none;
	struct nat_pm_result res;
	bool inflight = false;
	mtime_ns failed_at = MTIME_NEVER, done_at = 0;
	uint32_t epoch = 0;
	unsigned maps = 0, lost = 0;

	rng_state = seed;
	now = T0;
	memset(&ref, 0, sizeof ref);
	ref.seed = seed;
	ck_assert_int_eq(nat_portmap_init(&pm, &cfg, now), 0);
	for (ref.iter = 0; ref.iter < 20000; ref.iter++) {
		uint64_t r = test_rand(NULL);

		if (!inflight) {
			mtime_ns e;

			if (nat_portmap_next_op(&pm, now, &op)) {
				ck_assert_msg(failed_at == MTIME_NEVER ||
					      now - failed_at <= SEC(NAT_PM_BACKOFF_MAX_S),
					      "seed %" PRIu64 " iter %u: retry after %" PRIu64 " ns",
					      seed, ref.iter, now - failed_at);
				failed_at = MTIME_NEVER;
				inflight = true;
				done_at = now + (r % 4 == 0 ? MSEC(r % 30000) : 0);
				maps += op.kind == NAT_PM_OP_MAP;
			} else {
				e = nat_portmap_next_expiry(&pm);
				ck_assert_msg(e > now && e != MTIME_NEVER,
					      "seed %" PRIu64 " iter %u", seed, ref.iter);
				now = e;
				nat_portmap_handle_expiry(&pm, now);
			}
			check_changed();
			continue;
		}
		if (r % 50 == 0) {
			nat_portmap_network_changed(&pm, now);
			failed_at = MTIME_NEVER;
			check_changed();
			continue;
		}
		/* Time passes while the op runs: nothing else starts. */
		while (nat_portmap_next_expiry(&pm) <= done_at) {
			now = nat_portmap_next_expiry(&pm);
			ck_assert(!nat_portmap_next_op(&pm, now, &none));
			lost += nat_portmap_state(&pm) == NAT_PM_S_LOST;
			check_changed();
			ck_assert_uint_gt(nat_portmap_next_expiry(&pm), now);
		}
		ck_assert(!nat_portmap_next_op(&pm, done_at, &none));
		now = done_at;
		check_changed();
		memset(&res, 0, sizeof res);
		res.id = op.id;
		res.status = st[(r >> 8) % (sizeof st / sizeof st[0])];
		res.proto = op.proto;
		res.ext_addr.s_addr = htonl(0xc6336400u | (uint32_t)((r >> 20) % 4));
		res.ext_port = (uint16_t)(op.external_port + (r >> 24) % 2);
		res.lifetime_s = (r >> 28) % 3 == 0 ? 0 : (uint32_t)((r >> 32) % 8000);
		epoch += (r >> 40) % 64 == 0 ? 0 : (uint32_t)((r >> 44) % 4000);
		res.epoch_s = epoch;
		{
			bool stale = pm.stale;

			ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
			if (res.status != NAT_PM_OK && !stale)
				failed_at = now;
		}
		inflight = false;
		check_changed();
		ck_assert_uint_ge(nat_portmap_next_expiry(&pm), now);
	}
	ck_assert_uint_gt(maps, 100);
	ck_assert_uint_gt(ref.changed, 10);
	/* Stop: at most one DELETE (after the op in flight), then DONE. */
	nat_portmap_stop(&pm, now);
	if (inflight) {
		memset(&res, 0, sizeof res);
		res.id = op.id;
		res.status = NAT_PM_OK;
		res.ext_port = op.external_port;
		ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	}
	if (nat_portmap_next_op(&pm, now, &op)) {
		ck_assert_int_eq(op.kind, NAT_PM_OP_DELETE);
		ck_assert(!nat_portmap_next_op(&pm, now, &none));
		res.id = op.id;
		res.status = NAT_PM_E_IO;
		ck_assert_int_eq(nat_portmap_op_done(&pm, now, &res), 0);
	}
	ck_assert_int_eq(nat_portmap_state(&pm), NAT_PM_S_DONE);
	ck_assert(!nat_portmap_next_op(&pm, now + SEC(1000000), &op));
	(void)lost;
}

START_TEST(test_portmap_random_run_invariants)
{
	for (uint64_t seed = 1; seed <= 20; seed++)
		random_run(seed);
}
END_TEST

static Suite *suite_portmap(void)
{
	Suite *s = suite_create("portmap");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_portmap_init_rejects_port0);
	tcase_add_test(tc, test_portmap_first_map);
	tcase_add_test(tc, test_portmap_discover_falls_back_to_upnp);
	tcase_add_test(tc, test_portmap_renew_at_half_life);
	tcase_add_test(tc, test_portmap_renew_failure_backoff_then_lost);
	tcase_add_test(tc, test_portmap_epoch_reset_remaps_at_once);
	tcase_add_test(tc, test_portmap_only_permanent_then_recheck);
	tcase_add_test(tc, test_portmap_conflict_picks_other_port);
	tcase_add_test(tc, test_portmap_conflict_forever_backs_off);
	tcase_add_test(tc, test_portmap_no_gateway_backoff);
	tcase_add_test(tc, test_portmap_network_changed_rediscovers);
	tcase_add_test(tc, test_portmap_stop_deletes_once);
	tcase_add_test(tc, test_portmap_stop_without_mapping_is_done);
	tcase_add_test(tc, test_portmap_stop_waits_for_map_in_flight);
	tcase_add_test(tc, test_portmap_one_op_in_flight);
	tcase_add_test(tc, test_portmap_random_run_invariants);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_portmap());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
