/* NAT-PMP (RFC 6886) backend over libnatpmp: blocking, bounded.
 *
 * libnatpmp's own retry schedule (250 ms doubling, 9 tries) can take about a
 * minute to give up. We keep its retransmissions but stop waiting after
 * NAT_PMP_WAIT_MS: a select() on the gateway socket with our own monotonic
 * deadline, readnatpmpresponseorretry() after each wake-up. The socket is
 * drained before every request, so a late answer to an earlier request is
 * not taken for the current one; an answer of the wrong kind or for another
 * port is dropped and the request sent again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

#include <natpmp.h>

#include "nat/backend.h"

struct nat_natpmp {
	natpmp_t np;
	bool open;			/* np holds a socket to the gateway */
};

/* One request: what to send and which answer to accept. */
struct pmp_req {
	int type;			/* NATPMP_RESPTYPE_* */
	uint16_t private_port;
	uint16_t public_port;
	uint32_t lifetime_s;
};

struct nat_natpmp *nat_natpmp_new(void)
{
	return calloc(1, sizeof(struct nat_natpmp));
}

static void pmp_close(struct nat_natpmp *n)
{
	if (n->open)
		closenatpmp(&n->np);
	n->open = false;
}

void nat_natpmp_free(struct nat_natpmp *n)
{
	if (n == NULL)
		return;
	pmp_close(n);
	free(n);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(int fd)
{
	unsigned char buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static int send_req(struct nat_natpmp *n, const struct pmp_req *q)
{
	if (q->type == NATPMP_RESPTYPE_PUBLICADDRESS)
		return sendpublicaddressrequest(&n->np);
	return sendnewportmappingrequest(&n->np, NATPMP_PROTOCOL_UDP,
					 q->private_port, q->public_port,
					 q->lifetime_s);
}

static bool answers(const struct pmp_req *q, const natpmpresp_t *r)
{
	if (r->type != q->type)
		return false;
	return q->type == NATPMP_RESPTYPE_PUBLICADDRESS ||
	       r->pnu.newportmapping.privateport == q->private_port;
}

/* Status of a libnatpmp error code; no_answer is what silence means. */
static enum nat_pm_status pmp_status(int r, int err, enum nat_pm_status no_answer)
{
	switch (r) {
	case NATPMP_TRYAGAIN:
	case NATPMP_ERR_NOGATEWAYSUPPORT:
		return no_answer;
	case NATPMP_ERR_RECVFROM:
	case NATPMP_ERR_SENDERR:
		/* ICMP port unreachable: nothing listens on 5351. */
		return err == ECONNREFUSED ? NAT_PM_E_NO_GATEWAY : NAT_PM_E_IO;
	case NATPMP_ERR_CANNOTGETGATEWAY:
		return NAT_PM_E_NO_GATEWAY;
	case NATPMP_ERR_UNSUPPORTEDVERSION:
	case NATPMP_ERR_UNSUPPORTEDOPCODE:
	case NATPMP_ERR_UNDEFINEDERROR:
	case NATPMP_ERR_NOTAUTHORIZED:
	case NATPMP_ERR_NETWORKFAILURE:
	case NATPMP_ERR_OUTOFRESOURCES:
		return NAT_PM_E_REFUSED;
	default:
		return NAT_PM_E_IO;
	}
}

/* Sends q and waits (at most NAT_PMP_WAIT_MS) for its answer in *resp. */
static enum nat_pm_status transact(struct nat_natpmp *n, const struct pmp_req *q,
				   enum nat_pm_status no_answer,
				   natpmpresp_t *resp)
{
	int64_t deadline = mono_ms() + NAT_PMP_WAIT_MS;
	int r;

	drain(n->np.s);
	if ((r = send_req(n, q)) < 0)
		return pmp_status(r, errno, no_answer);
	for (;;) {
		struct timeval tv;
		fd_set fds;
		int64_t left = deadline - mono_ms();
		int64_t wait_ms;

		if (left <= 0)
			return no_answer;
		wait_ms = left;
		if (getnatpmprequesttimeout(&n->np, &tv) == 0) {
			int64_t retry = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;

			if (retry < 0)
				retry = 0;
			if (retry < wait_ms)
				wait_ms = retry;
		}
		tv.tv_sec = wait_ms / 1000;
		tv.tv_usec = (wait_ms % 1000) * 1000;
		FD_ZERO(&fds);
		FD_SET(n->np.s, &fds);
		if (select(n->np.s + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return NAT_PM_E_IO;
		memset(resp, 0, sizeof(*resp));
		r = readnatpmpresponseorretry(&n->np, resp);
		if (r == NATPMP_TRYAGAIN)
			continue;
		if (r < 0)
			return pmp_status(r, errno, no_answer);
		if (answers(q, resp))
			return NAT_PM_OK;
		/* A stray answer ended libnatpmp's pending request: ask again. */
		if ((r = send_req(n, q)) < 0)
			return pmp_status(r, errno, no_answer);
	}
}

static void result_init(struct nat_pm_result *res, const struct nat_pm_op *op)
{
	memset(res, 0, sizeof(*res));
	res->id = op->id;
	res->proto = NAT_PM_PROTO_NATPMP;
}

void nat_natpmp_discover(struct nat_natpmp *n, const struct nat_pm_op *op,
			 struct nat_pm_result *res)
{
	struct pmp_req q = { .type = NATPMP_RESPTYPE_PUBLICADDRESS };
	natpmpresp_t resp;
	int r;

	result_init(res, op);
	pmp_close(n);
	if ((r = initnatpmp(&n->np, 0, 0)) < 0) {
		res->status = r == NATPMP_ERR_CANNOTGETGATEWAY ?
			NAT_PM_E_NO_GATEWAY : NAT_PM_E_IO;
		return;
	}
	n->open = true;
	res->status = transact(n, &q, NAT_PM_E_NO_GATEWAY, &resp);
	if (res->status != NAT_PM_OK) {
		pmp_close(n);
		return;
	}
	res->ext_addr = resp.pnu.publicaddress.addr;
	res->epoch_s = resp.epoch;
}

/* MAP (lifetime > 0) or DELETE (external port 0, lifetime 0). */
static void map_or_delete(struct nat_natpmp *n, const struct pmp_req *q,
			  struct nat_pm_result *res)
{
	natpmpresp_t resp;

	if (!n->open) {
		res->status = NAT_PM_E_NO_GATEWAY;
		return;
	}
	res->status = transact(n, q, NAT_PM_E_TIMEOUT, &resp);
	if (res->status != NAT_PM_OK)
		return;
	res->ext_port = resp.pnu.newportmapping.mappedpublicport;
	res->lifetime_s = resp.pnu.newportmapping.lifetime;
	res->epoch_s = resp.epoch;
}

void nat_natpmp_map(struct nat_natpmp *n, const struct nat_pm_op *op,
		    struct nat_pm_result *res)
{
	struct pmp_req q = {
		.type = NATPMP_RESPTYPE_UDPPORTMAPPING,
		.private_port = op->internal_port,
		.public_port = op->external_port ? op->external_port :
						   op->internal_port,
		/* lifetime 0 would delete: NAT-PMP has no permanent leases */
		.lifetime_s = op->lease_s ? op->lease_s : NAT_PM_LEASE_S,
	};

	result_init(res, op);
	map_or_delete(n, &q, res);
}

void nat_natpmp_delete(struct nat_natpmp *n, const struct nat_pm_op *op,
		       struct nat_pm_result *res)
{
	struct pmp_req q = {
		.type = NATPMP_RESPTYPE_UDPPORTMAPPING,
		.private_port = op->internal_port,
	};

	result_init(res, op);
	map_or_delete(n, &q, res);
}
