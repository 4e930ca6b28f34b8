/* UPnP IGD backend over miniupnpc: blocking.
 *
 * DISCOVER: SSDP search (NAT_UPNP_DISCOVER_MS), UPNP_GetValidIGD() (1: a
 * connected IGD; 2: an IGD whose external address is reserved or that says
 * it is not connected: CGNAT, double NAT, our test routers; both usable),
 * then GetExternalIPAddress. The IGD's control URL, service type and our
 * LAN address facing it (the internal client of every mapping) are kept
 * until the next DISCOVER. MAP: AddPortMapping with the lease; the granted
 * lease is read back with GetSpecificPortMappingEntry where the IGD tells.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>

#include "nat/backend.h"

enum {
	UPNP_ERR_CONFLICT = 718,	/* ConflictInMappingEntry */
	UPNP_ERR_ONLY_PERMANENT = 725,	/* OnlyPermanentLeasesSupported */
	UPNP_SSDP_TTL = 2,
};

#define UPNP_MAP_DESC "meshd"

struct nat_upnp {
	struct UPNPUrls urls;
	struct IGDdatas data;
	bool have_igd;			/* urls/data/lanaddr valid */
	char lanaddr[64];		/* our address facing the IGD */
};

struct nat_upnp *nat_upnp_new(void)
{
	return calloc(1, sizeof(struct nat_upnp));
}

static void forget_igd(struct nat_upnp *u)
{
	if (u->have_igd)
		FreeUPNPUrls(&u->urls);
	memset(&u->urls, 0, sizeof(u->urls));
	memset(&u->data, 0, sizeof(u->data));
	u->lanaddr[0] = '\0';
	u->have_igd = false;
}

void nat_upnp_free(struct nat_upnp *u)
{
	if (u == NULL)
		return;
	forget_igd(u);
	free(u);
}

const char *nat_upnp_lanaddr(const struct nat_upnp *u)
{
	return u->have_igd ? u->lanaddr : "";
}

static void result_init(struct nat_pm_result *res, const struct nat_pm_op *op)
{
	memset(res, 0, sizeof(*res));
	res->id = op->id;
	res->proto = NAT_PM_PROTO_UPNP;
}

/* Status of a failed SOAP command (UPnP error code or UPNPCOMMAND_*). */
static enum nat_pm_status cmd_status(int r)
{
	switch (r) {
	case UPNP_ERR_CONFLICT:
		return NAT_PM_E_CONFLICT;
	case UPNP_ERR_ONLY_PERMANENT:
		return NAT_PM_E_ONLY_PERMANENT;
	case UPNPCOMMAND_HTTP_ERROR:
		/* The IGD no longer answers at this URL (restarted on another
		 * port, gone): rediscover it. */
		return NAT_PM_E_NO_GATEWAY;
	case UPNPCOMMAND_UNKNOWN_ERROR:
	case UPNPCOMMAND_INVALID_ARGS:
	case UPNPCOMMAND_INVALID_RESPONSE:
	case UPNPCOMMAND_MEM_ALLOC_ERROR:
		return NAT_PM_E_IO;
	default:
		return r < 0 ? NAT_PM_E_IO : NAT_PM_E_REFUSED;
	}
}

/* Whether the host has a route for SSDP's multicast group: connect() on
 * a UDP socket looks the route up and sends nothing. miniupnpc sends its
 * search anyway and prints "sendto: Network is unreachable" to stderr at
 * every attempt on a host without one (no default route, no multicast
 * route), which is just noise in a daemon's log: such a host has no
 * gateway to ask. Any other failure: try, and let discovery say. */
static bool ssdp_routable(void)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return true;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(1900);
	a.sin_addr.s_addr = htonl(0xeffffffaU);	/* 239.255.255.250 */
	e = connect(fd, (const struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno;
	close(fd);
	return e != ENETUNREACH;
}

void nat_upnp_discover(struct nat_upnp *u, const struct nat_pm_op *op,
		       struct nat_pm_result *res)
{
	struct UPNPDev *devs;
	char ext[40];
	int err = 0, r;

	result_init(res, op);
	forget_igd(u);
	if (!ssdp_routable()) {
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	devs = upnpDiscover(NAT_UPNP_DISCOVER_MS, NULL, NULL,
			    UPNP_LOCAL_PORT_ANY, 0, UPNP_SSDP_TTL, &err);
	if (devs == NULL) {
		/* Nothing answered, or no route for the SSDP multicast. */
		res->status = err == UPNPDISCOVER_MEMORY_ERROR ?
			NAT_PM_E_IO : NAT_PM_E_NO_GATEWAY;
		return;
	}
	r = UPNP_GetValidIGD(devs, &u->urls, &u->data, u->lanaddr,
			     (int)sizeof(u->lanaddr));
	freeUPNPDevlist(devs);
	if (r != 0)
		u->have_igd = true;	/* urls allocated: free them later */
	if ((r != 1 && r != 2) || u->urls.controlURL == NULL ||
	    u->lanaddr[0] == '\0') {
		forget_igd(u);
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	ext[0] = '\0';
	if (UPNP_GetExternalIPAddress(u->urls.controlURL,
				      u->data.first.servicetype, ext) == 0)
		(void)inet_pton(AF_INET, ext, &res->ext_addr);
	res->status = NAT_PM_OK;
}

/* The lease the IGD holds for ext_port (seconds left), 0 when unknown. */
static uint32_t granted_lease(struct nat_upnp *u, const char *ext_port)
{
	char client[64], port[8], desc[96], enabled[8], lease[24];
	unsigned long v;
	char *end;

	client[0] = port[0] = desc[0] = enabled[0] = lease[0] = '\0';
	if (UPNP_GetSpecificPortMappingEntry(u->urls.controlURL,
					     u->data.first.servicetype,
					     ext_port, "UDP", NULL, client,
					     port, desc, enabled, lease) != 0)
		return 0;
	if (strcmp(client, u->lanaddr) != 0)
		return 0;
	v = strtoul(lease, &end, 10);
	if (end == lease || *end != '\0' || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

void nat_upnp_map(struct nat_upnp *u, const struct nat_pm_op *op,
		  struct nat_pm_result *res)
{
	char ext[8], in[8], lease[16];
	uint16_t ext_port = op->external_port ? op->external_port :
						op->internal_port;
	uint32_t got;
	int r;

	result_init(res, op);
	if (!u->have_igd) {
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	snprintf(ext, sizeof(ext), "%u", (unsigned)ext_port);
	snprintf(in, sizeof(in), "%u", (unsigned)op->internal_port);
	snprintf(lease, sizeof(lease), "%u", (unsigned)op->lease_s);
	r = UPNP_AddPortMapping(u->urls.controlURL, u->data.first.servicetype,
				ext, in, u->lanaddr, UPNP_MAP_DESC, "UDP", NULL,
				lease);
	if (r != UPNPCOMMAND_SUCCESS) {
		res->status = cmd_status(r);
		if (res->status == NAT_PM_E_NO_GATEWAY)
			forget_igd(u);
		return;
	}
	res->status = NAT_PM_OK;
	res->ext_port = ext_port;
	res->lifetime_s = op->lease_s;
	/* Some IGDs shorten leases: take the shorter one they report. */
	got = op->lease_s ? granted_lease(u, ext) : 0;
	if (got > 0 && got < res->lifetime_s)
		res->lifetime_s = got;
}

void nat_upnp_delete(struct nat_upnp *u, const struct nat_pm_op *op,
		     struct nat_pm_result *res)
{
	char ext[8];
	int r;

	result_init(res, op);
	if (!u->have_igd) {
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	snprintf(ext, sizeof(ext), "%u", (unsigned)op->external_port);
	r = UPNP_DeletePortMapping(u->urls.controlURL, u->data.first.servicetype,
				   ext, "UDP", NULL);
	res->status = r == UPNPCOMMAND_SUCCESS ? NAT_PM_OK : cmd_status(r);
}
