/* pm_tool: runs the port-mapping state machine (nat/portmap.h) with the
 * real NAT-PMP/UPnP backends (nat/backend.h) and the monotonic clock, one
 * blocking operation at a time; for tests/netns/portmap.sh. Not installed.
 *
 *	pm_tool PORT SECONDS	(SECONDS 0: until SIGTERM/SIGINT)
 *
 * Prints one line per event on stdout ("[  t.ttt] event ..."): discover
 * ok/failed, mapped, renewed, map failed, lost, stopping, deleted. On
 * SIGTERM/SIGINT or after SECONDS it calls nat_portmap_stop() and runs the
 * DELETE before exiting. Environment:
 *	PM_TOOL_LEASE=N		ask for N-second leases instead of NAT_PM_LEASE_S
 *	PM_TOOL_PROTO=natpmp|upnp	use only this protocol (a DISCOVER of
 *				the other answers "no gateway" untried)
 *	PM_TOOL_DEBUG=1		debug log (state machine transitions) on stderr
 * Exit: 0 after a clean stop, 1 when the DELETE failed, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "nat/backend.h"
#include "nat/portmap.h"
#include "util/log.h"

enum { PM_TOOL_MAX_SLEEP_MS = 200 };	/* bounds signal-check latency */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static mtime_ns mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return SEC(ts.tv_sec) + NSEC(ts.tv_nsec);
}

static uint64_t rand64(void *ctx)
{
	uint64_t v = 0;

	(void)ctx;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)mono_now() * 0x9e3779b97f4a7c15ULL;
	return v;
}

static mtime_ns t0;

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	mtime_ns t = mono_now() - t0;
	va_list ap;

	printf("[%4" PRIu64 ".%03" PRIu64 "] ", (uint64_t)(t / SEC(1)),
	       (uint64_t)((t % SEC(1)) / MSEC(1)));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
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

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static void report(const struct nat_portmap *pm, const struct nat_pm_op *op,
		   const struct nat_pm_result *res, uint64_t changed_before)
{
	char a[INET_ADDRSTRLEN] = "0.0.0.0";
	union endpoint ep;

	if (res->status != NAT_PM_OK) {
		event("%s failed proto=%s: %s",
		      op->kind == NAT_PM_OP_DISCOVER ? "discover" :
		      op->kind == NAT_PM_OP_MAP ? "map" : "delete",
		      proto_name(op->proto), nat_pm_status_name(res->status));
		return;
	}
	switch (op->kind) {
	case NAT_PM_OP_DISCOVER:
		inet_ntop(AF_INET, &res->ext_addr, a, sizeof(a));
		event("discover ok proto=%s ext=%s", proto_name(res->proto), a);
		break;
	case NAT_PM_OP_MAP:
		if (!nat_portmap_mapping(pm, &ep))
			break;	/* stopping: the DELETE follows */
		inet_ntop(AF_INET, &ep.sin.sin_addr, a, sizeof(a));
		event("%s ext=%s:%u lifetime=%" PRIu32 " proto=%s",
		      nat_portmap_changed(pm) != changed_before ? "mapped" :
								  "renewed",
		      a, (unsigned)ntohs(ep.sin.sin_port), res->lifetime_s,
		      proto_name(op->proto));
		break;
	case NAT_PM_OP_DELETE:
		event("deleted ext_port=%u proto=%s", (unsigned)op->external_port,
		      proto_name(op->proto));
		break;
	case NAT_PM_OP_NONE:
		break;
	}
}

int main(int argc, char **argv)
{
	struct nat_portmap_cfg cfg = { .rand = rand64 };
	struct nat_pm_backend *b;
	struct nat_portmap pm;
	struct sigaction sa;
	unsigned long port, secs, lease = 0;
	enum nat_pm_proto only = NAT_PM_PROTO_NONE;
	enum nat_pm_state st;
	mtime_ns end, now;
	bool stopped = false;
	int rc = 0;
	const char *e;

	if (argc != 3 || parse_uint(argv[1], 65535, &port) < 0 || port == 0 ||
	    parse_uint(argv[2], 86400, &secs) < 0) {
		fprintf(stderr, "usage: pm_tool PORT(1-65535) SECONDS(0-86400)\n");
		return 2;
	}
	if ((e = getenv("PM_TOOL_LEASE")) != NULL && *e != '\0' &&
	    (parse_uint(e, UINT32_MAX, &lease) < 0 || lease == 0)) {
		fprintf(stderr, "pm_tool: invalid PM_TOOL_LEASE '%s'\n", e);
		return 2;
	}
	if ((e = getenv("PM_TOOL_PROTO")) != NULL && *e != '\0') {
		if (strcmp(e, "natpmp") == 0)
			only = NAT_PM_PROTO_NATPMP;
		else if (strcmp(e, "upnp") == 0)
			only = NAT_PM_PROTO_UPNP;
		else {
			fprintf(stderr, "pm_tool: invalid PM_TOOL_PROTO '%s': natpmp or upnp\n", e);
			return 2;
		}
	}
	log_set_tag("pm_tool");
	if ((e = getenv("PM_TOOL_DEBUG")) != NULL && strcmp(e, "1") == 0)
		log_set_level(LOG_LVL_DEBUG);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() wakes up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	t0 = now = mono_now();
	end = secs ? now + SEC(secs) : MTIME_NEVER;
	cfg.internal_port = (uint16_t)port;
	if (nat_portmap_init(&pm, &cfg, now) != 0 ||
	    (b = nat_pm_backend_new()) == NULL) {
		fprintf(stderr, "pm_tool: init failed\n");
		return 1;
	}
	event("start port=%lu lease=%lu only=%s", port,
	      lease ? lease : (unsigned long)NAT_PM_LEASE_S, proto_name(only));
	st = nat_portmap_state(&pm);

	for (;;) {
		struct nat_pm_op op;
		struct nat_pm_result res;
		mtime_ns next;
		uint64_t changed;

		now = mono_now();
		if (!stopped && (got_signal || now >= end)) {
			event("stopping (%s)", got_signal ? "signal" : "time");
			nat_portmap_stop(&pm, now);
			stopped = true;
		}
		if (nat_portmap_next_op(&pm, now, &op)) {
			struct nat_pm_op run = op;

			if (run.kind == NAT_PM_OP_MAP && run.lease_s != 0 && lease)
				run.lease_s = (uint32_t)lease;
			changed = nat_portmap_changed(&pm);
			if (run.kind == NAT_PM_OP_DISCOVER &&
			    only != NAT_PM_PROTO_NONE && run.proto != only) {
				memset(&res, 0, sizeof(res));
				res.id = run.id;
				res.status = NAT_PM_E_NO_GATEWAY;
			} else {
				nat_pm_backend_run(b, &run, &res);
			}
			if (run.kind == NAT_PM_OP_DELETE && res.status != NAT_PM_OK)
				rc = 1;
			nat_portmap_op_done(&pm, mono_now(), &res);
			if (!(run.kind == NAT_PM_OP_DISCOVER &&
			      only != NAT_PM_PROTO_NONE && run.proto != only))
				report(&pm, &run, &res, changed);
		}
		if (nat_portmap_state(&pm) != st) {
			if (nat_portmap_state(&pm) == NAT_PM_S_LOST)
				event("lost");
			st = nat_portmap_state(&pm);
		}
		if (st == NAT_PM_S_DONE)
			break;
		next = nat_portmap_next_expiry(&pm);
		if (!stopped && end < next)
			next = end;
		now = mono_now();
		if (next > now) {
			mtime_ns d = next - now;
			int ms = d > MSEC(PM_TOOL_MAX_SLEEP_MS) ? PM_TOOL_MAX_SLEEP_MS :
				(int)((d + MSEC(1) - 1) / MSEC(1));

			if (!got_signal || stopped)
				(void)poll(NULL, 0, ms);
		}
	}
	event("done");
	nat_pm_backend_free(b);
	return rc;
}
