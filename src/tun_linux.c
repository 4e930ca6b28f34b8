#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "tun.h"
#include "util/err.h"

bool tun_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			return false;
	return true;
}

int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return MESHD_E_SYS;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return MESHD_E_SYS;
	}
	return fd;
}

static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s, r, e;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return MESHD_E_SYS;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	r = ioctl(s, req, ifr);
	e = errno;
	close(s);
	errno = e;
	return r < 0 ? MESHD_E_SYS : 0;
}

int tun_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_mtu = mtu;
	return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

int tun_get_mtu(const char *name, int *mtu)
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof ifr);
	r = ifreq_ioctl(name, SIOCGIFMTU, &ifr);
	if (!r)
		*mtu = ifr.ifr_mtu;
	return r;
}

int tun_set_txqueuelen(const char *name, int qlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_qlen = qlen;
	return ifreq_ioctl(name, SIOCSIFTXQLEN, &ifr);
}
