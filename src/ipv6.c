/* IPv6 on this host (ipv6.h). */
#include "ipv6.h"

#include <errno.h>
#include <stdio.h>

bool meshd_ipv6_enabled(const char *ifname)
{
	char path[96];
	FILE *f;
	int c;

	if (snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		     ifname ? ifname : "all") >= (int)sizeof path)
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	c = fgetc(f);
	fclose(f);
	return c == '0';
}

bool meshd_ipv6_off_errno(int e)
{
	return e == EACCES || e == EPERM || e == EAFNOSUPPORT || e == EADDRNOTAVAIL;
}
