/* All cores: the core's deferred data-message crypto (wg.h, "Deferred
 * data-message crypto") and the fork-join pool that runs it (workers.h).
 * The jobs are checked against the synchronous path and the real receiver:
 * sealed jobs open on the peer, opened jobs deliver the same packets in
 * the same order, replays and keypairs gone meanwhile drop cleanly, and
 * the same holds when the jobs run on 1-4 threads. */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "util/endian.h"
#include "wg/wg.h"
#include "wgtest.h"
#include "workers.h"

enum { NPKT = 96, PAYLOAD = 1200 };

static const uint8_t a4[4] = { 10, 0, 0, 1 }, b4[4] = { 10, 0, 0, 2 };

struct pkt {
	alignas(8) uint8_t buf[WG_HEADROOM + 1500 + WG_TAILROOM];
	size_t len;			/* datagram length once sealed */
	struct wg_crypt_job job;
	struct wg_result res;
};

/* An IPv4/UDP packet A -> B at buf + WG_HEADROOM whose payload encodes k. */
static size_t build(uint8_t *buf, unsigned k, size_t payload)
{
	uint8_t *p = buf + WG_HEADROOM;
	size_t len = 20 + payload;

	memset(p, 0, 20);
	p[0] = 0x45;
	be16enc(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, a4, 4);
	memcpy(p + 16, b4, 4);
	for (size_t i = 0; i < payload; i++)
		p[20 + i] = (uint8_t)(i * 13 + k);
	return len;
}

static bool payload_is(const uint8_t *p, size_t len, unsigned k, size_t payload)
{
	if (len != 20 + payload)
		return false;
	for (size_t i = 0; i < payload; i++)
		if (p[20 + i] != (uint8_t)(i * 13 + k))
			return false;
	return true;
}

static void run_one(void *arg, unsigned i)
{
	struct pkt *v = arg;

	(void)wg_crypt_job_run(&v[i].job);
}

/* Seals n packets on A as jobs (threads: 1 = this thread alone). */
static void seal_batch(struct wgt_net *net, struct pkt *v, unsigned n, struct workers *w)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = build(v[i].buf, i, PAYLOAD);

		wg_input_tun_job(net->n[0].dev, v[i].buf, len, sizeof v[i].buf, net->now, &v[i].res,
				 &v[i].job);
		ck_assert_int_eq(v[i].res.act, WG_ACT_CRYPT);
		ck_assert(v[i].job.seal);
	}
	workers_run(w, n, 2, run_one, v);
	for (unsigned i = 0; i < n; i++) {
		wg_crypt_job_finish(net->n[0].dev, &v[i].job, net->now, &v[i].res);
		ck_assert_int_eq(v[i].res.act, WG_ACT_SEND);
		ck_assert_uint_eq(v[i].res.off, 0);
		v[i].len = v[i].res.len;
	}
}

/* Opens v[0, n) on B as jobs; returns how many were delivered, checking
 * that delivered ones come in order with the right payload. */
static unsigned open_batch(struct wgt_net *net, struct pkt *v, unsigned n, struct workers *w,
			   const unsigned *expect_k)
{
	unsigned got = 0;

	for (unsigned i = 0; i < n; i++) {
		wg_input_datagram_job(net->n[1].dev, v[i].buf, v[i].len, &net->n[0].addr, net->now,
				      &v[i].res, &v[i].job);
		ck_assert_int_eq(v[i].res.act, WG_ACT_CRYPT);
	}
	workers_run(w, n, 2, run_one, v);
	for (unsigned i = 0; i < n; i++) {
		wg_crypt_job_finish(net->n[1].dev, &v[i].job, net->now, &v[i].res);
		if (v[i].res.act != WG_ACT_DELIVER)
			continue;
		ck_assert_ptr_eq(v[i].res.peer, net->n[1].peer);
		ck_assert(payload_is(v[i].buf + v[i].res.off, v[i].res.len,
				     expect_k ? expect_k[got] : i, PAYLOAD));
		got++;
	}
	return got;
}

static struct pkt *pkts(void)
{
	struct pkt *v = calloc(NPKT, sizeof *v);

	ck_assert_ptr_nonnull(v);
	return v;
}

/* Sealed jobs open on the receiver's synchronous path, counters in order. */
START_TEST(test_jobs_seal_opens_on_peer)
{
	struct wgt_net net;
	struct workers w;
	struct pkt *v = pkts();

	wgt_init(&net);
	wgt_handshake(&net, 0);
	workers_init(&w, 1, wg_crypt_thread_wipe, wg_crypt_thread_exit);
	seal_batch(&net, v, NPKT, &w);
	for (unsigned i = 0; i < NPKT; i++) {
		struct wg_result res;

		ck_assert_uint_eq(le32dec(v[i].buf), 4);
		if (i > 0)
			ck_assert_uint_eq(le64dec(v[i].buf + 8), le64dec(v[i - 1].buf + 8) + 1);
		wgt_input(&net, 1, v[i].buf, v[i].len, &net.n[0].addr, &res);
		ck_assert_int_eq(res.act, WG_ACT_DELIVER);
		ck_assert(payload_is(net.n[1].last, net.n[1].last_len, i, PAYLOAD));
	}
	workers_free(&w);
	wgt_free(&net);
	free(v);
}
END_TEST

/* Opened jobs deliver what the synchronous path would, in order; a replay
 * inside the batch and a forged tag are dropped. */
START_TEST(test_jobs_open_in_order_replay_forgery)
{
	struct wgt_net net;
	struct workers w;
	struct pkt *v = pkts();
	unsigned expect[NPKT], ne = 0;

	wgt_init(&net);
	wgt_handshake(&net, 0);
	workers_init(&w, 1, wg_crypt_thread_wipe, wg_crypt_thread_exit);
	seal_batch(&net, v, NPKT - 1, &w);
	/* the last one replays packet 5; packet 7 gets a flipped tag bit */
	memcpy(v[NPKT - 1].buf, v[5].buf, v[5].len);
	v[NPKT - 1].len = v[5].len;
	v[7].buf[v[7].len - 1] ^= 1;
	for (unsigned i = 0; i < NPKT - 1; i++)
		if (i != 7)
			expect[ne++] = i;
	ck_assert_uint_eq(open_batch(&net, v, NPKT, &w, expect), ne);
	ck_assert_ptr_null(v[7].res.peer);
	ck_assert_int_eq(v[NPKT - 1].res.act, WG_ACT_NONE);
	workers_free(&w);
	wgt_free(&net);
	free(v);
}
END_TEST

/* The peer is removed (its keypairs cleared) after the jobs ran and before
 * they are finished: every one is dropped, nothing is touched. */
START_TEST(test_jobs_open_keypair_gone)
{
	struct wgt_net net;
	struct workers w;
	struct pkt *v = pkts();

	wgt_init(&net);
	wgt_handshake(&net, 0);
	workers_init(&w, 1, wg_crypt_thread_wipe, wg_crypt_thread_exit);
	seal_batch(&net, v, 8, &w);
	for (unsigned i = 0; i < 8; i++)
		wg_input_datagram_job(net.n[1].dev, v[i].buf, v[i].len, &net.n[0].addr, net.now,
				      &v[i].res, &v[i].job);
	workers_run(&w, 8, 2, run_one, v);
	for (unsigned i = 0; i < 8; i++)
		ck_assert(v[i].job.ok);
	wg_peer_remove(net.n[1].dev, net.n[1].peer);
	net.n[1].peer = NULL;
	for (unsigned i = 0; i < 8; i++) {
		wg_crypt_job_finish(net.n[1].dev, &v[i].job, net.now, &v[i].res);
		ck_assert_int_eq(v[i].res.act, WG_ACT_NONE);
		ck_assert_ptr_null(v[i].res.peer);
	}
	workers_free(&w);
	wgt_free(&net);
	free(v);
}
END_TEST

/* No session yet: the packet is staged behind a handshake, no job. And a
 * message that is not data is handled at once by the _job input. */
START_TEST(test_jobs_only_data)
{
	struct wgt_net net;
	struct pkt *v = pkts();
	struct wgt_dgram d;
	size_t len;

	wgt_init(&net);
	len = build(v[0].buf, 0, 100);
	wg_input_tun_job(net.n[0].dev, v[0].buf, len, sizeof v[0].buf, net.now, &v[0].res,
			 &v[0].job);
	ck_assert_int_eq(v[0].res.act, WG_ACT_NONE);
	ck_assert_uint_eq(wgt_sent(&net, 0, 1), 1);	/* an initiation went out */
	ck_assert(wgt_pop(&net, &d));
	ck_assert(!wg_is_data_message(d.buf, d.len));
	wg_input_datagram_job(net.n[1].dev, d.buf, d.len, &d.src, net.now, &v[1].res, &v[1].job);
	ck_assert_int_eq(v[1].res.act, WG_ACT_NONE);
	ck_assert_uint_eq(wgt_sent(&net, 1, 2), 1);	/* answered at once */
	wgt_free(&net);
	free(v);
}
END_TEST

/* The same round trips with the jobs spread over 2, 3 and 4 threads, many
 * batches of varied sizes: every packet arrives once, in order. */
START_TEST(test_jobs_threads_round_trip)
{
	static const unsigned threads[] = { 2, 3, 4 };
	struct pkt *v = pkts();

	for (unsigned t = 0; t < 3; t++) {
		struct wgt_net net;
		struct workers w;

		wgt_init(&net);
		wgt_handshake(&net, 0);
		workers_init(&w, threads[t], wg_crypt_thread_wipe, wg_crypt_thread_exit);
		for (unsigned round = 0; round < 60; round++) {
			unsigned n = 1 + (round * 37) % NPKT;

			seal_batch(&net, v, n, &w);
			ck_assert_uint_eq(open_batch(&net, v, n, &w, NULL), n);
		}
		ck_assert_uint_gt(w.parallel_batches, 0);
		ck_assert_uint_eq(w.started, threads[t] - 1);
		workers_free(&w);
		wgt_free(&net);
	}
	free(v);
}
END_TEST

/* ---- the pool alone ---- */

struct count {
	atomic_uint hits[512];
	atomic_uint calls;
};

static void count_one(void *arg, unsigned i)
{
	struct count *c = arg;

	atomic_fetch_add(&c->hits[i], 1);
	atomic_fetch_add(&c->calls, 1);
}

static atomic_uint idles;

static void on_idle(void)
{
	atomic_fetch_add(&idles, 1);
}

/* Every item exactly once per batch, over hundreds of batches of every
 * size, with 1 to 5 threads; small batches stay on the caller. */
START_TEST(test_workers_each_item_once)
{
	static struct count c;

	for (unsigned threads = 1; threads <= 5; threads++) {
		struct workers w;

		workers_init(&w, threads, on_idle, NULL);
		for (unsigned b = 0; b < 400; b++) {
			unsigned n = (b * 7919) % 513;

			for (unsigned i = 0; i < 512; i++)
				atomic_store(&c.hits[i], 0);
			atomic_store(&c.calls, 0);
			workers_run(&w, n, 4, count_one, &c);
			ck_assert_uint_eq(atomic_load(&c.calls), n);
			for (unsigned i = 0; i < n; i++)
				ck_assert_uint_eq(atomic_load(&c.hits[i]), 1);
		}
		ck_assert_uint_eq(w.started, threads - 1);
		if (threads == 1)
			ck_assert_uint_eq(w.parallel_batches, 0);
		workers_free(&w);
		workers_free(&w);	/* a second free is a no-op */
	}
	ck_assert_uint_gt(atomic_load(&idles), 0);
}
END_TEST

START_TEST(test_workers_default_threads_env)
{
	setenv("MESHD_THREADS", "3", 1);
	ck_assert_uint_eq(workers_default_threads(), 3);
	setenv("MESHD_THREADS", "1000", 1);
	ck_assert_uint_eq(workers_default_threads(), WORKERS_MAX + 1);
	setenv("MESHD_THREADS", "0", 1);
	ck_assert_uint_ge(workers_default_threads(), 1);	/* ignored: the CPU count */
	setenv("MESHD_THREADS", "x", 1);
	ck_assert_uint_ge(workers_default_threads(), 1);
	unsetenv("MESHD_THREADS");
	ck_assert_uint_ge(workers_default_threads(), 1);
	ck_assert_uint_le(workers_default_threads(), WORKERS_MAX + 1);
}
END_TEST

static Suite *jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_jobs_seal_opens_on_peer);
	tcase_add_test(tc, test_jobs_open_in_order_replay_forgery);
	tcase_add_test(tc, test_jobs_open_keypair_gone);
	tcase_add_test(tc, test_jobs_only_data);
	tcase_add_test(tc, test_jobs_threads_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("workers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_workers_each_item_once);
	tcase_add_test(tc, test_workers_default_threads_env);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jobs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
