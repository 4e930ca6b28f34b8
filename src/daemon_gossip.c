/* Mesh gossip inside the tunnel. Members gossip over WireGuard as IPv4/UDP
 * between their overlay addresses on MESH_GOSSIP_PORT: outgoing messages get
 * a minimal IPv4 + UDP header and are encrypted like a TUN packet; incoming
 * ones are taken off the decrypted stream before the TUN, so the kernel never
 * sees them (daemon.h). */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "daemon_internal.h"
#include "mesh/wire.h"
#include "util/csum.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/log.h"

enum {
	IP4_HDR = 20,
	UDP_HDR = 8,
	GOSSIP_MAX = WGDEV_MAX_PACKET - IP4_HDR - UDP_HDR,
};

/* IPv4 (DF, TTL 64) + UDP (checksum 0: allowed for IPv4, and WireGuard
 * authenticates the whole packet anyway) around the payload. */
void meshd_gossip_send(void *ctx, const uint8_t dst4[4], const uint8_t *p, size_t len)
{
	struct meshd *d = ctx;
	uint8_t *ip = d->gbuf, *udp = d->gbuf + IP4_HDR;
	size_t total = IP4_HDR + UDP_HDR + len;
	int r;

	if (len > GOSSIP_MAX)
		return;
	if (!d->in_input)
		meshd_fallback_udp_sent(d);	/* a gossip round: members answer */
	memset(ip, 0, IP4_HDR + UDP_HDR);
	ip[0] = 0x45;
	be16enc(ip + 2, (uint16_t)total);
	be16enc(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, d->ipv4, 4);
	memcpy(ip + 16, dst4, 4);
	be16enc(ip + 10, csum_finish(csum_add(0, ip, IP4_HDR)));
	be16enc(udp, MESH_GOSSIP_PORT);
	be16enc(udp + 2, MESH_GOSSIP_PORT);
	be16enc(udp + 4, (uint16_t)(UDP_HDR + len));
	memcpy(udp + UDP_HDR, p, len);
	r = wgdev_inject(&d->dev, d->gbuf, total);
	if (r)
		log_ratelimited(LOG_LVL_DEBUG, "mesh: gossip to %u.%u.%u.%u not sent: %s",
				dst4[0], dst4[1], dst4[2], dst4[3], meshd_strerror(r));
}

/* In-tunnel gossip: an unfragmented IPv4/UDP packet to our overlay IPv4
 * address and MESH_GOSSIP_PORT. Lengths are checked against each other and
 * against what WireGuard delivered; anything else goes to the TUN. */
bool meshd_gossip_input(void *ctx, struct wg_peer *peer, const uint8_t *pkt, size_t len,
			mtime_ns now)
{
	struct meshd *d = ctx;
	size_t ihl, total, ulen;
	const uint8_t *udp;
	bool in;

	if (!d->node || len < IP4_HDR + UDP_HDR || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_UDP)
		return false;
	if (memcmp(pkt + 16, d->ipv4, 4) != 0)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	total = be16dec(pkt + 2);
	if (ihl < IP4_HDR || total > len || total < ihl + UDP_HDR)
		return false;
	if (be16dec(pkt + 6) & 0x3fff)	/* MF or a fragment offset */
		return false;
	udp = pkt + ihl;
	if (be16dec(udp + 2) != MESH_GOSSIP_PORT)
		return false;
	ulen = be16dec(udp + 4);
	if (ulen < UDP_HDR || ulen > total - ihl)
		return true;	/* ours, but malformed: drop, never to the kernel */
	/* a member's gossip, authenticated by WireGuard: UDP works unless it
	 * came down a TCP connection */
	meshd_fallback_udp_answer(d);
	in = d->in_input;
	d->in_input = true;	/* what the node sends now answers, expects nothing */
	mesh_node_input_gossip(d->node, peer, udp + UDP_HDR, ulen - UDP_HDR, now, meshd_now_unix());
	d->in_input = in;
	meshd_check_revoked(d);
	return true;
}
