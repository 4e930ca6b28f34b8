/* The mesh daemon's DNS responder (daemon.h "Names"): one libuv UDP socket
 * on port 53 of each overlay address, answering for NAME.MESH from the
 * member list (mesh/dns.h builds the answers). */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "daemon_internal.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/log.h"

static int dns_lookup(void *ctx, const char *label, uint8_t v4[4], bool *has4, uint8_t v6[16],
		      bool *has6)
{
	struct meshd *d = ctx;
	int e;

	if (!d->node)
		return MESHD_E_STATE;
	e = mesh_node_lookup_name(d->node, label, v4, v6);
	if (e == 0)
		*has4 = *has6 = true;
	return e;
}

static void dns_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct meshd_dns *s = h->data;

	(void)hint;
	buf->base = (char *)s->d->dnsq;
	buf->len = sizeof s->d->dnsq;
}

static void dns_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	struct meshd_dns *s = h->data;
	struct meshd *d = s->d;
	size_t alen = 0;
	uv_buf_t out;

	(void)buf;
	if (n <= 0 || !from || (flags & UV_UDP_PARTIAL))
		return;
	if (mesh_dns_answer(d->dnsq, (size_t)n, d->domain, dns_lookup, d, d->dnsa,
			    sizeof d->dnsa, &alen) != 0 || alen == 0)
		return;
	out = uv_buf_init((char *)d->dnsa, (unsigned)alen);
	if (uv_udp_try_send(h, &out, 1, from) < 0)
		log_ratelimited(LOG_LVL_DEBUG, "DNS: reply not sent");
}

static void dns_closed(uv_handle_t *h)
{
	(void)h;
}

static void dns_start_one(struct meshd *d, struct meshd_dns *s, const struct sockaddr *sa)
{
	char a[ENDPOINT_STRLEN];
	union endpoint ep;
	int e;

	memset(&ep, 0, sizeof ep);
	memcpy(&ep, sa, sa->sa_family == AF_INET ? sizeof ep.sin : sizeof ep.sin6);
	endpoint_format(&ep, a, sizeof a);
	s->d = d;
	if (uv_udp_init(&d->loop, &s->h) != 0)
		return;
	s->h.data = s;
	s->on = true;
	e = uv_udp_bind(&s->h, sa, 0);
	if (!e)
		e = uv_udp_recv_start(&s->h, dns_alloc, dns_recv);
	if (e) {
		log_warn("DNS: cannot listen on %s: %s; names will not resolve there", a,
			 uv_strerror(e));
		uv_close((uv_handle_t *)&s->h, dns_closed);
		s->on = false;
		return;
	}
	log_info("DNS: answering for .%s on %s", d->domain, a);
}

void meshd_dns_start(struct meshd *d)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(MESH_DNS_PORT) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(MESH_DNS_PORT) };

	if (mesh_dns_check_domain(d->domain) != 0) {
		log_warn("DNS: mesh name '%s' is not a DNS label; no name service", d->domain);
		return;
	}
	memcpy(&s4.sin_addr, d->ipv4, 4);
	memcpy(&s6.sin6_addr, d->ipv6, 16);
	dns_start_one(d, &d->dns[0], (const struct sockaddr *)&s4);
	if (d->ipv6_active)
		dns_start_one(d, &d->dns[1], (const struct sockaddr *)&s6);
}

void meshd_dns_start_v6(struct meshd *d)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(MESH_DNS_PORT) };

	if (d->dns[1].on || !d->dns[0].on || mesh_dns_check_domain(d->domain) != 0)
		return;
	memcpy(&s6.sin6_addr, d->ipv6, 16);
	dns_start_one(d, &d->dns[1], (const struct sockaddr *)&s6);
}

void meshd_dns_stop(struct meshd *d)
{
	for (int i = 0; i < 2; i++)
		if (d->dns[i].on) {
			uv_close((uv_handle_t *)&d->dns[i].h, dns_closed);
			d->dns[i].on = false;
		}
}
