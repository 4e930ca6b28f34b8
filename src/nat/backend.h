/* Blocking port-mapping backends: NAT-PMP (libnatpmp) and UPnP IGD
 * (miniupnpc). They perform the operations struct nat_portmap asks for
 * (portmap.h) and describe the outcome in a struct nat_pm_result.
 *
 * Each call blocks (network round trips; at most NAT_PMP_WAIT_MS for
 * NAT-PMP, about NAT_UPNP_DISCOVER_MS plus HTTP time for UPnP), so the
 * daemon runs them on libuv's thread pool, one at a time per mapping. No
 * global state: one struct nat_pm_backend per mapping, used by one thread
 * at a time, keeps the discovered gateway between calls.
 *
 *	b = nat_pm_backend_new();
 *	nat_pm_backend_run(b, &op, &res);	(op from nat_portmap_next_op)
 *	nat_portmap_op_done(pm, now, &res);
 *	nat_pm_backend_free(b);
 *
 * Status mapping (both protocols): no answer from a NAT-PMP gateway or no
 * usable IGD -> NO_GATEWAY on DISCOVER; a MAP/DELETE before a successful
 * DISCOVER of that protocol -> NO_GATEWAY; NAT-PMP result codes != 0 and
 * UPnP errors other than 718/725 -> REFUSED; UPnP 718 -> CONFLICT, 725 ->
 * ONLY_PERMANENT; no NAT-PMP answer to a MAP in time -> TIMEOUT; socket,
 * HTTP or SOAP failures -> IO (HTTP: the IGD went away -> NO_GATEWAY, so
 * the state machine rediscovers it).
 */
#ifndef MESHD_NAT_BACKEND_H
#define MESHD_NAT_BACKEND_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nat/portmap.h"

enum {
	NAT_PMP_WAIT_MS = 2500,		/* whole NAT-PMP request incl. retries */
	NAT_UPNP_DISCOVER_MS = 1000,	/* SSDP M-SEARCH answer wait */
};

struct nat_natpmp;
struct nat_upnp;

/* NAT-PMP (RFC 6886) over libnatpmp. _new returns NULL when out of memory;
 * _free(NULL) is a no-op. */
struct nat_natpmp *nat_natpmp_new(void);
void nat_natpmp_free(struct nat_natpmp *n);
/* Each fills *res completely (res->id = op->id); op->proto is ignored. */
void nat_natpmp_discover(struct nat_natpmp *n, const struct nat_pm_op *op,
			 struct nat_pm_result *res);
void nat_natpmp_map(struct nat_natpmp *n, const struct nat_pm_op *op,
		    struct nat_pm_result *res);
void nat_natpmp_delete(struct nat_natpmp *n, const struct nat_pm_op *op,
		       struct nat_pm_result *res);

/* UPnP IGD over miniupnpc (SSDP discovery, SOAP over HTTP). */
struct nat_upnp *nat_upnp_new(void);
void nat_upnp_free(struct nat_upnp *u);
void nat_upnp_discover(struct nat_upnp *u, const struct nat_pm_op *op,
		       struct nat_pm_result *res);
void nat_upnp_map(struct nat_upnp *u, const struct nat_pm_op *op,
		  struct nat_pm_result *res);
void nat_upnp_delete(struct nat_upnp *u, const struct nat_pm_op *op,
		     struct nat_pm_result *res);
/* Our LAN address facing the IGD (the mapping's internal client), "" when
 * none was discovered. Borrowed, valid until the next call on u. */
const char *nat_upnp_lanaddr(const struct nat_upnp *u);

/* Both backends of one mapping. */
struct nat_pm_backend {
	struct nat_natpmp *natpmp;
	struct nat_upnp *upnp;
};

/* Returns NULL when out of memory. */
static inline struct nat_pm_backend *nat_pm_backend_new(void)
{
	struct nat_pm_backend *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->natpmp = nat_natpmp_new();
	b->upnp = nat_upnp_new();
	if (b->natpmp == NULL || b->upnp == NULL) {
		nat_natpmp_free(b->natpmp);
		nat_upnp_free(b->upnp);
		free(b);
		return NULL;
	}
	return b;
}

static inline void nat_pm_backend_free(struct nat_pm_backend *b)
{
	if (b == NULL)
		return;
	nat_natpmp_free(b->natpmp);
	nat_upnp_free(b->upnp);
	free(b);
}

/* Runs op with the backend of op->proto (DISCOVER: the protocol to try;
 * MAP/DELETE: the discovered gateway's) and fills *res. Blocks. */
static inline void nat_pm_backend_run(struct nat_pm_backend *b,
				      const struct nat_pm_op *op,
				      struct nat_pm_result *res)
{
	bool pmp = op->proto == NAT_PM_PROTO_NATPMP;

	switch (op->kind) {
	case NAT_PM_OP_DISCOVER:
		if (pmp)
			nat_natpmp_discover(b->natpmp, op, res);
		else
			nat_upnp_discover(b->upnp, op, res);
		return;
	case NAT_PM_OP_MAP:
		if (pmp)
			nat_natpmp_map(b->natpmp, op, res);
		else
			nat_upnp_map(b->upnp, op, res);
		return;
	case NAT_PM_OP_DELETE:
		if (pmp)
			nat_natpmp_delete(b->natpmp, op, res);
		else
			nat_upnp_delete(b->upnp, op, res);
		return;
	case NAT_PM_OP_NONE:
		break;
	}
	memset(res, 0, sizeof(*res));
	res->id = op->id;
	res->status = NAT_PM_E_IO;
}

#endif
