/* Port mapping on the libuv loop: see portmap_run.h. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "nat/backend.h"
#include "portmap_run.h"
#include "schedule.h"
#include "util/err.h"
#include "util/log.h"

/* One operation on the thread pool. While w->pr is set, the backend is
 * pr's; once pr detaches it (stop deadline), the item owns the backend and
 * frees both in its after-work callback. */
struct portmap_work {
	uv_work_t req;
	struct portmap_run *pr;		/* NULL: detached */
	struct nat_pm_backend *b;
	struct nat_pm_op op;
	struct nat_pm_result res;
};

static void pump(struct portmap_run *pr);

static uint64_t rand64(void *ctx)
{
	uint64_t v = 0;

	(void)ctx;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint64_t)sched_now() * 0x9e3779b97f4a7c15ULL;
	return v;
}

static const char *proto_name(enum nat_pm_proto p)
{
	switch (p) {
	case NAT_PM_PROTO_NATPMP: return "natpmp";
	case NAT_PM_PROTO_UPNP: return "upnp";
	case NAT_PM_PROTO_NONE: break;
	}
	return "none";
}

static void work_run(uv_work_t *req)
{
	struct portmap_work *w = req->data;

	nat_pm_backend_run(w->b, &w->op, &w->res);
	w->res.id = w->op.id;
}

/* Logs a change of the mapping and tells the daemon (not while stopping). */
static void notice(struct portmap_run *pr)
{
	char a[ENDPOINT_STRLEN], b[ENDPOINT_STRLEN];
	union endpoint ep;
	uint64_t c = nat_portmap_changed(&pr->pm);
	bool held;

	if (c == pr->seen)
		return;
	pr->seen = c;
	held = nat_portmap_mapping(&pr->pm, &ep);
	if (held) {
		log_info("port mapping: mapped ext=%s (internal port %u, %s, lease %u s)",
			 endpoint_format(&ep, a, sizeof a), pr->pm.cfg.internal_port,
			 proto_name(pr->pm.map_proto), pr->pm.lifetime_s);
	} else if (pr->held && !pr->stopping) {
		log_info("port mapping: lost ext=%s (%s)", endpoint_format(&pr->ext, b, sizeof b),
			 nat_pm_state_name(nat_portmap_state(&pr->pm)));
	}
	pr->held = held;
	if (held)
		pr->ext = ep;
	if (!pr->stopping && pr->changed)
		pr->changed(pr->ctx);
}

static void log_result(const struct portmap_run *pr, const struct nat_pm_op *op,
		       const struct nat_pm_result *res)
{
	char a[INET_ADDRSTRLEN];

	switch (op->kind) {
	case NAT_PM_OP_DISCOVER:
		if (res->status == NAT_PM_OK)
			log_debug("port mapping: %s gateway found (external address %s)",
				  proto_name(res->proto),
				  inet_ntop(AF_INET, &res->ext_addr, a, sizeof a));
		else
			log_debug("port mapping: no %s gateway (%s)", proto_name(op->proto),
				  nat_pm_status_name(res->status));
		return;
	case NAT_PM_OP_MAP:
		if (res->status != NAT_PM_OK)
			log_debug("port mapping: MAP of port %u failed (%s)", op->internal_port,
				  nat_pm_status_name(res->status));
		return;
	case NAT_PM_OP_DELETE:
		if (res->status == NAT_PM_OK)
			log_info("port mapping: deleted ext_port=%u (%s)", op->external_port,
				 proto_name(op->proto));
		else
			log_info("port mapping: delete of ext_port=%u failed (%s)",
				 op->external_port, nat_pm_status_name(res->status));
		return;
	case NAT_PM_OP_NONE:
		break;
	}
	(void)pr;
}

static void work_done(uv_work_t *req, int status)
{
	struct portmap_work *w = req->data;
	struct portmap_run *pr = w->pr;

	if (status != 0) {	/* UV_ECANCELED: never ran */
		memset(&w->res, 0, sizeof w->res);
		w->res.id = w->op.id;
		w->res.status = NAT_PM_E_IO;
	}
	if (pr == NULL) {		/* detached at the stop deadline */
		nat_pm_backend_free(w->b);
		free(w);
		return;
	}
	pr->work = NULL;
	log_result(pr, &w->op, &w->res);
	if (nat_portmap_op_done(&pr->pm, sched_now(), &w->res) != 0)
		log_debug("port mapping: stale result of operation %u", w->op.id);
	free(w);
	notice(pr);
	pump(pr);
}

static void timer_closed(uv_handle_t *h)
{
	struct portmap_run *pr = h->data;
	void (*done)(void *ctx) = pr->done;

	nat_pm_backend_free(pr->backend);
	pr->backend = NULL;
	pr->done = NULL;
	if (done)
		done(pr->ctx);
}

/* Stopped (DONE, or the deadline passed): close the timer, then done. */
static void finish(struct portmap_run *pr)
{
	if (!pr->on)
		return;
	pr->on = false;
	if (pr->work) {		/* cannot be cancelled: let it free itself */
		log_info("port mapping: DELETE not finished within %u ms, abandoned",
			 (unsigned)PORTMAP_RUN_STOP_MS);
		pr->work->pr = NULL;
		pr->work = NULL;
		pr->backend = NULL;
	}
	uv_timer_stop(&pr->timer);
	uv_close((uv_handle_t *)&pr->timer, timer_closed);
}

static void on_timer(uv_timer_t *t)
{
	pump(t->data);
}

/* Starts what is due, then arms the timer at the next deadline. */
static void pump(struct portmap_run *pr)
{
	mtime_ns now = sched_now(), next;
	struct nat_pm_op op;

	if (!pr->on)
		return;
	if (pr->stopping && now >= pr->stop_deadline) {
		finish(pr);
		return;
	}
	if (pr->work == NULL && nat_portmap_next_op(&pr->pm, now, &op)) {
		struct portmap_work *w = calloc(1, sizeof *w);

		if (w == NULL) {
			struct nat_pm_result res = { .id = op.id, .status = NAT_PM_E_IO };

			log_warn("port mapping: out of memory");
			nat_portmap_op_done(&pr->pm, now, &res);
		} else {
			w->req.data = w;
			w->pr = pr;
			w->b = pr->backend;
			w->op = op;
			if (uv_queue_work(pr->loop, &w->req, work_run, work_done) != 0) {
				struct nat_pm_result res = { .id = op.id,
							     .status = NAT_PM_E_IO };

				log_warn("port mapping: cannot queue work");
				free(w);
				nat_portmap_op_done(&pr->pm, now, &res);
			} else {
				pr->work = w;
			}
		}
		notice(pr);
	}
	if (pr->stopping && pr->work == NULL &&
	    nat_portmap_state(&pr->pm) == NAT_PM_S_DONE) {
		finish(pr);
		return;
	}
	next = nat_portmap_next_expiry(&pr->pm);
	if (pr->stopping && next > pr->stop_deadline)
		next = pr->stop_deadline;
	uv_timer_stop(&pr->timer);
	if (next != MTIME_NEVER) {
		uint64_t ms = next > now ? (next - now + MSEC(1) - 1) / MSEC(1) : 0;

		uv_timer_start(&pr->timer, on_timer, ms, 0);
	}
}

int portmap_run_start(struct portmap_run *pr, uv_loop_t *loop, uint16_t port,
		      void (*changed)(void *ctx), void *ctx)
{
	struct nat_portmap_cfg cfg = { .internal_port = port, .rand = rand64 };
	const char *env = getenv("MESHD_PORTMAP");
	int r;

	memset(pr, 0, sizeof *pr);
	if (env && !strcmp(env, "0")) {
		log_info("port mapping disabled (MESHD_PORTMAP=0)");
		return 0;
	}
	r = nat_portmap_init(&pr->pm, &cfg, sched_now());
	if (r)
		return r;
	pr->backend = nat_pm_backend_new();
	if (pr->backend == NULL)
		return MESHD_E_NOMEM;
	if (uv_timer_init(loop, &pr->timer) != 0) {
		nat_pm_backend_free(pr->backend);
		pr->backend = NULL;
		return MESHD_E_SYS;
	}
	pr->timer.data = pr;
	pr->loop = loop;
	pr->changed = changed;
	pr->ctx = ctx;
	pr->seen = nat_portmap_changed(&pr->pm);
	pr->on = true;
	log_info("port mapping: looking for a gateway (NAT-PMP, UPnP) for UDP port %u", port);
	pump(pr);
	return 0;
}

bool portmap_run_endpoint(const struct portmap_run *pr, union endpoint *out)
{
	if (!pr->on || pr->stopping)
		return false;
	return nat_portmap_mapping(&pr->pm, out);
}

void portmap_run_network_changed(struct portmap_run *pr)
{
	if (!pr->on || pr->stopping)
		return;
	nat_portmap_network_changed(&pr->pm, sched_now());
	notice(pr);
	pump(pr);
}

void portmap_run_stop(struct portmap_run *pr, void (*done)(void *ctx))
{
	mtime_ns now = sched_now();

	if (!pr->on || pr->stopping) {
		if (!pr->on && done)
			done(pr->ctx);
		return;
	}
	pr->stopping = true;
	pr->done = done;
	pr->stop_deadline = now + MSEC(PORTMAP_RUN_STOP_MS);
	nat_portmap_stop(&pr->pm, now);
	notice(pr);
	pump(pr);
}
