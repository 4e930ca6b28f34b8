#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net/if.h>
#include <net/if_arp.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

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

static int open_flags(const char *name, short flags)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return MESHD_E_SYS;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = flags;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return MESHD_E_SYS;
	}
	return fd;
}

int tun_open(const char *name)
{
	return open_flags(name, IFF_TUN | IFF_NO_PI);
}

/* Newer than some userspace headers (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

int tun_open_offload(const char *name, unsigned *features)
{
	static const struct {
		unsigned tun_f, ofl;
	} tries[] = {
		{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
		  TUN_OFL_VNET | TUN_OFL_TSO | TUN_OFL_USO },
		{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_OFL_VNET | TUN_OFL_TSO },
	};
	int fd, le = 1, hsz = 10;	/* struct virtio_net_hdr */

	*features = 0;
	fd = open_flags(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
	if (fd < 0)
		return open_flags(name, IFF_TUN | IFF_NO_PI);
	/* Little-endian headers whatever the host (offload.c reads them so). */
	if (ioctl(fd, TUNSETVNETHDRSZ, &hsz) == 0 && ioctl(fd, TUNSETVNETLE, &le) == 0) {
		for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
			if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i].tun_f) == 0) {
				*features = tries[i].ofl;
				return fd;
			}
		}
	}
	/* The kernel takes the header but no offload: a plain TUN costs
	 * less than ten useless bytes per packet. Closing the last fd
	 * deletes a non-persistent interface; the reopen creates it again. */
	close(fd);
	return open_flags(name, IFF_TUN | IFF_NO_PI);
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

bool tun_name_held(const char *name)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;

	if (if_nametoindex(name) == 0)
		return false;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_data = (void *)&info;
	if (ifreq_ioctl(name, SIOCETHTOOL, &ifr) == 0)
		return strcmp(info.driver, "tun") != 0;
	/* no driver info (lo has none): a TUN has no link-layer address */
	memset(&ifr, 0, sizeof ifr);
	if (ifreq_ioctl(name, SIOCGIFHWADDR, &ifr) == 0)
		return ifr.ifr_hwaddr.sa_family != ARPHRD_NONE;
	return false;	/* cannot tell: let the open say */
}

int tun_set_txqueuelen(const char *name, int qlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_qlen = qlen;
	return ifreq_ioctl(name, SIOCSIFTXQLEN, &ifr);
}
