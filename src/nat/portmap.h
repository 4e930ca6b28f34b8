/* Port mapping lease state machine (NAT-PMP RFC 6886 / UPnP IGD), sans-I/O.
 *
 * One struct nat_portmap per local UDP port. It never talks to a router: it
 * says which blocking operation to run next, and the caller (src/, on
 * libuv's thread pool, through libnatpmp or miniupnpc) runs it and reports
 * the outcome. At most one operation is in flight at a time:
 *
 *	loop:	while (nat_portmap_next_op(pm, now, &op))
 *			start(op);		(thread pool)
 *		arm timer at nat_portmap_next_expiry(pm)
 *	done:	nat_portmap_op_done(pm, now, &result)	(result.id = op.id)
 *		then loop again; poll nat_portmap_changed() / _mapping()
 *
 * States and operations:
 *
 *	DISCOVERING --DISCOVER ok--> MAPPING --MAP ok--> MAPPED --+
 *	     ^    (NAT-PMP first,       |                  ^  |    | renew
 *	     |     then UPnP)           | fails            |  +----+ (MAP)
 *	     +---- backoff <------------+                  |
 *	LOST --DISCOVER/MAP ok-----------------------------+  | lease expired
 *	 ^----------------------------------------------------+ without renewal
 *	any --stop--> STOPPING --DELETE (one attempt)--> DONE
 *
 * - DISCOVER finds a gateway: NAT-PMP is tried first; when that fails
 *   (NO_GATEWAY, TIMEOUT, IO ...) the next DISCOVER (at once) asks for UPnP;
 *   when both fail, discovery backs off and starts again with NAT-PMP.
 *   miniupnpc's UPNP_GetValidIGD() returning 2 (an IGD whose external
 *   address is reserved/private: CGNAT, double NAT, our test routers) is
 *   usable: the caller reports it as DISCOVER success. Whether the mapped
 *   endpoint is reachable from outside is for peers' probes to find out.
 * - MAP asks for NAT_PM_LEASE_S; it is renewed at exactly half of the
 *   granted lifetime. A permanent lease (lifetime 0: UPnP error 725
 *   OnlyPermanentLeasesSupported answers ONLY_PERMANENT, we retry at once
 *   with lease 0 and keep asking for 0 on this gateway; ONLY_PERMANENT
 *   to a lease-0 request counts as REFUSED) is re-checked
 *   (MAP again) every NAT_PM_RECHECK_S, since routers forget; if it cannot
 *   be confirmed for another NAT_PM_RECHECK_S it counts as expired.
 * - CONFLICT (UPnP 718, external port taken): retry at once with another
 *   suggested external port (random in NAT_PM_PORT_MIN..65535); after
 *   NAT_PM_CONFLICT_MAX conflicts in a row, back off like any failure.
 * - Failures (REFUSED, TIMEOUT, IO) are retried with exponential backoff
 *   1 s, 2 s, 4 s ... capped at NAT_PM_BACKOFF_MAX_S, each delay taken
 *   uniformly from [3/4 d, d] with the caller's rand (so never above the
 *   cap). NO_GATEWAY on a MAP forgets the gateway (rediscover after the
 *   backoff). After NAT_PM_MAP_TRIES_MAX failed first MAPs, the gateway is
 *   forgotten and discovery starts with the other protocol.
 * - A held mapping whose renewals keep failing stays held until its granted
 *   lease expires; then the state is LOST (the external endpoint must be
 *   withdrawn: _mapping() turns false, _changed() moves) and the machine
 *   rediscovers with the running backoff. A late success maps again.
 * - NAT-PMP epoch (seconds since start of epoch, every NAT-PMP answer):
 *   if it goes backwards, or advanced less than our own clock did since
 *   the last answer (RFC 6886 section 3.6: server_delta < client_delta -
 *   client_delta/16 - 2 s), the router rebooted and lost its mappings: the
 *   answer is taken, and a MAP is due at once.
 * - nat_portmap_network_changed() (roaming): the gateway is forgotten, the
 *   mapping withdrawn (it lives on the old network), rediscovery at once;
 *   the result of an operation still in flight is then ignored.
 * - nat_portmap_stop(): a held mapping (or one a MAP in flight may still
 *   create) is deleted with one DELETE, whatever its outcome, then DONE.
 *
 * Every operation carries an id; op_done() with any other id, or with no
 * operation in flight, changes nothing and returns MESHD_E_STATE.
 * Time: mtime_ns from util/time.h, handed in; nothing here reads a clock.
 */
#ifndef MESHD_NAT_PORTMAP_H
#define MESHD_NAT_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "util/addr.h"
#include "util/time.h"

enum {
	NAT_PM_LEASE_S = 7200,		/* lifetime we ask for */
	NAT_PM_RECHECK_S = 600,		/* re-check period of a permanent lease */
	NAT_PM_BACKOFF_MIN_S = 1,
	NAT_PM_BACKOFF_MAX_S = 300,
	NAT_PM_CONFLICT_MAX = 8,	/* immediate port re-picks in a row */
	NAT_PM_MAP_TRIES_MAX = 4,	/* failed first MAPs before rediscovery */
	NAT_PM_PORT_MIN = 1024,		/* lowest external port we suggest */
	NAT_PM_EPOCH_SLACK_S = 2,	/* RFC 6886 3.6 tolerance */
};

enum nat_pm_proto {
	NAT_PM_PROTO_NONE = 0,
	NAT_PM_PROTO_NATPMP,
	NAT_PM_PROTO_UPNP,
};

enum nat_pm_op_kind {
	NAT_PM_OP_NONE = 0,
	NAT_PM_OP_DISCOVER,	/* find a gateway speaking op.proto */
	NAT_PM_OP_MAP,		/* add or renew the UDP mapping */
	NAT_PM_OP_DELETE,	/* remove it */
};

enum nat_pm_state {
	NAT_PM_S_DISCOVERING,	/* no gateway known */
	NAT_PM_S_MAPPING,	/* gateway known, no mapping yet */
	NAT_PM_S_MAPPED,	/* mapping held (renewing when due) */
	NAT_PM_S_LOST,		/* mapping expired unrenewed; rediscovering */
	NAT_PM_S_STOPPING,	/* DELETE pending or in flight */
	NAT_PM_S_DONE,		/* stopped: no more operations */
};

enum nat_pm_status {
	NAT_PM_OK = 0,
	NAT_PM_E_NO_GATEWAY,	/* no NAT-PMP answer / no valid IGD */
	NAT_PM_E_REFUSED,	/* NAT-PMP result code != 0, other UPnP error */
	NAT_PM_E_ONLY_PERMANENT,	/* UPnP 725 OnlyPermanentLeasesSupported */
	NAT_PM_E_CONFLICT,	/* UPnP 718 ConflictInMappingEntry */
	NAT_PM_E_TIMEOUT,	/* no answer in time */
	NAT_PM_E_IO,		/* socket or HTTP/SOAP failure */
};

/* What to run now. */
struct nat_pm_op {
	uint32_t id;			/* echo it in nat_pm_result.id */
	enum nat_pm_op_kind kind;
	enum nat_pm_proto proto;	/* DISCOVER: which protocol to try */
	uint16_t internal_port;
	uint16_t external_port;		/* MAP: suggestion; DELETE: the mapping */
	uint32_t lease_s;		/* MAP: NAT_PM_LEASE_S, or 0 = permanent */
};

/* What came of it. Only status matters for failures. */
struct nat_pm_result {
	uint32_t id;
	enum nat_pm_status status;
	enum nat_pm_proto proto;	/* DISCOVER: the protocol that answered */
	struct in_addr ext_addr;	/* 0 when the operation did not tell */
	uint16_t ext_port;		/* MAP: granted external port */
	uint32_t lifetime_s;		/* MAP: granted lifetime, 0 = permanent */
	uint32_t epoch_s;		/* NAT-PMP answers only: SSSoE */
};

/* Returns 64 random bits. */
typedef uint64_t nat_pm_rand_fn(void *ctx);

struct nat_portmap_cfg {
	uint16_t internal_port;		/* the local UDP port, 1..65535 */
	uint16_t external_port;		/* first suggestion; 0: internal_port */
	nat_pm_rand_fn *rand;		/* NULL: no jitter, ports counted up */
	void *rand_ctx;
};

struct nat_portmap {
	struct nat_portmap_cfg cfg;
	enum nat_pm_state state;
	mtime_ns due;			/* next operation may start (monotonic) */
	mtime_ns expires_at;		/* MAPPED: held lease ends (NEVER: none) */
	unsigned fails;			/* consecutive failures (backoff step) */
	unsigned conflicts;		/* consecutive CONFLICT answers */
	unsigned map_tries;		/* failed MAPs without a held mapping */

	/* operation in flight */
	enum nat_pm_op_kind inflight;	/* NONE: nothing in flight */
	uint32_t inflight_id;
	enum nat_pm_proto inflight_proto;
	uint32_t next_id;
	bool stale;			/* result of the in-flight op is void */

	/* gateway */
	enum nat_pm_proto gw_proto;	/* NONE: no gateway known */
	enum nat_pm_proto disc_first;	/* where the next discovery starts */
	enum nat_pm_proto disc_proto;	/* protocol of the next DISCOVER */
	struct in_addr gw_ext_addr;	/* as discovery reported it */
	bool permanent;			/* gateway wants lease 0 */
	bool have_epoch;
	uint32_t last_epoch_s;
	mtime_ns last_epoch_at;

	/* mapping (valid when held, or as the DELETE target when stopping) */
	bool router_has_map;		/* DELETE needed when stopping */
	enum nat_pm_proto map_proto;	/* protocol that made the mapping */
	struct in_addr ext_addr;
	uint16_t ext_port;		/* granted */
	uint16_t suggest_port;		/* next MAP suggestion */
	uint32_t lifetime_s;		/* granted, 0 = permanent */

	uint64_t changed;		/* bumped when _mapping() would differ */
};

/* Sets up pm to discover at once. Returns 0, or MESHD_E_INVAL for port 0. */
int nat_portmap_init(struct nat_portmap *pm, const struct nat_portmap_cfg *cfg,
		     mtime_ns now);

/* Handles time (lease expiry -> LOST); nat_portmap_next_op() calls it too.
 * Does nothing when nothing has expired. */
void nat_portmap_handle_expiry(struct nat_portmap *pm, mtime_ns now);

/* The operation to start now, if any: returns true and fills *op, and the
 * operation is then in flight until nat_portmap_op_done() with op->id.
 * Returns false while one is in flight, before it is due, and when DONE. */
bool nat_portmap_next_op(struct nat_portmap *pm, mtime_ns now,
			 struct nat_pm_op *op);

/* Call when the operation in flight has finished (res->id = its id).
 * Returns 0, or MESHD_E_STATE (nothing in flight, or another id): then
 * nothing changed. */
int nat_portmap_op_done(struct nat_portmap *pm, mtime_ns now,
			const struct nat_pm_result *res);

/* Call when local addresses or routes change (roaming). */
void nat_portmap_network_changed(struct nat_portmap *pm, mtime_ns now);

/* Call at shutdown; then run next_op() until DONE (one DELETE at most). */
void nat_portmap_stop(struct nat_portmap *pm, mtime_ns now);

/* When the caller should call next_op()/handle_expiry() again; MTIME_NEVER
 * when waiting for a result only or DONE. */
mtime_ns nat_portmap_next_expiry(const struct nat_portmap *pm);

/* True, with the external endpoint (AF_INET), while a mapping is held. */
bool nat_portmap_mapping(const struct nat_portmap *pm, union endpoint *ep);

/* Counter bumped whenever _mapping()'s answer changes (held or not,
 * address, port): poll it to re-announce or withdraw endpoint records. */
uint64_t nat_portmap_changed(const struct nat_portmap *pm);

static inline enum nat_pm_state nat_portmap_state(const struct nat_portmap *pm)
{
	return pm->state;
}

const char *nat_pm_state_name(enum nat_pm_state s);
const char *nat_pm_status_name(enum nat_pm_status s);

#endif
