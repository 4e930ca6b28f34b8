#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/err.h"
#include "util/str.h"

bool endpoint_is_set(const union endpoint *ep)
{
	return ep->sa.sa_family == AF_INET || ep->sa.sa_family == AF_INET6;
}

bool endpoint_eq(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->sin6.sin6_port == b->sin6.sin6_port &&
		       a->sin6.sin6_scope_id == b->sin6.sin6_scope_id &&
		       memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, 16) == 0;
	return false;
}

size_t endpoint_len(const union endpoint *ep)
{
	if (ep->sa.sa_family == AF_INET)
		return sizeof ep->sin;
	if (ep->sa.sa_family == AF_INET6)
		return sizeof ep->sin6;
	return 0;
}

static int parse_port(const char *s, bool allow_port0, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return MESHD_E_INVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > 65535 || (v == 0 && !allow_port0))
		return MESHD_E_INVAL;
	*port = (uint16_t)v;
	return 0;
}

int endpoint_parse(union endpoint *ep, const char *s, bool allow_port0)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *colon;
	uint16_t port;
	size_t n;

	memset(ep, 0, sizeof *ep);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		char *pct;

		if (!close || close[1] != ':')
			return MESHD_E_INVAL;
		n = (size_t)(close - s - 1);
		if (!str_copy_n(host, sizeof host, s + 1, n))
			return MESHD_E_INVAL;
		if (parse_port(close + 2, allow_port0, &port))
			return MESHD_E_INVAL;
		pct = strchr(host, '%');
		if (pct) {
			char *end;
			unsigned long scope;

			*pct++ = '\0';
			scope = strtoul(pct, &end, 10);
			if (*pct == '\0' || *end != '\0' || scope > UINT32_MAX) {
				scope = if_nametoindex(pct);
				if (!scope)
					return MESHD_E_INVAL;
			}
			ep->sin6.sin6_scope_id = (uint32_t)scope;
		}
		if (inet_pton(AF_INET6, host, &ep->sin6.sin6_addr) != 1)
			return MESHD_E_INVAL;
		ep->sin6.sin6_family = AF_INET6;
		ep->sin6.sin6_port = htons(port);
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon)
		return MESHD_E_INVAL;
	n = (size_t)(colon - s);
	if (!str_copy_n(host, sizeof host, s, n))
		return MESHD_E_INVAL;
	if (parse_port(colon + 1, allow_port0, &port))
		return MESHD_E_INVAL;
	if (inet_pton(AF_INET, host, &ep->sin.sin_addr) != 1)
		return MESHD_E_INVAL;
	ep->sin.sin_family = AF_INET;
	ep->sin.sin_port = htons(port);
	return 0;
}

char *endpoint_format(const union endpoint *ep, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->sin.sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(ep->sin.sin_port));
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->sin6.sin6_addr, host, sizeof host);
		if (ep->sin6.sin6_scope_id)
			snprintf(buf, len, "[%s%%%u]:%u", host, ep->sin6.sin6_scope_id,
				 ntohs(ep->sin6.sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", host, ntohs(ep->sin6.sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

void endpoint_unmap(union endpoint *ep)
{
	struct sockaddr_in sin;

	if (ep->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&ep->sin6.sin6_addr))
		return;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = ep->sin6.sin6_port;
	memcpy(&sin.sin_addr, &ep->sin6.sin6_addr.s6_addr[12], 4);
	memset(ep, 0, sizeof *ep);
	ep->sin = sin;
}

bool endpoint_is_synthetic(const union endpoint *ep)
{
	return ep->sa.sa_family == AF_INET6 && ep->sin6.sin6_addr.s6_addr[0] == 0x01;
}
