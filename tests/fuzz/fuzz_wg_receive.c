/* libFuzzer harness for the datagram receive path (wg_input_datagram).
 *
 * Two devices A and B complete a real handshake once at start-up, so B holds
 * a live session, a peer with allowed IPs and a cookie checker. Each input is
 * then split into datagrams (2-byte length prefix each) fed to B, with the
 * first byte choosing the load mode and whether the source address varies.
 * Nothing may crash, leak or read out of bounds; replies are counted only. */
#include <arpa/inet.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "wg/wg.h"

struct side {
	struct wg_device *dev;
	union endpoint addr;
	struct side *other;
	uint8_t q[8][2048];	/* datagrams in flight to `other` */
	size_t qlen[8];
	unsigned nq;
};

static struct side a, b;
static mtime_ns now = SEC(1000);
static unsigned long replies;

static void host_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	struct side *s = ctx;

	(void)dst;
	replies++;
	if (s->nq < 8 && len <= sizeof s->q[0]) {
		memcpy(s->q[s->nq], buf, len);
		s->qlen[s->nq++] = len;
	}
}

static void host_walltime(void *ctx, struct walltime *out)
{
	(void)ctx;
	out->sec = 1700000000 + now / SEC(1);
	out->nsec = (uint32_t)(now % SEC(1));
}

static const struct wg_host_ops ops = { .send = host_send, .walltime = host_walltime };

static void pump(void)
{
	alignas(8) uint8_t buf[2048 + WG_TAILROOM];
	struct wg_result res;

	for (int round = 0; round < 8; round++) {
		struct side *sides[2] = { &a, &b };
		int moved = 0;

		for (int i = 0; i < 2; i++) {
			struct side *s = sides[i];
			unsigned n = s->nq;

			s->nq = 0;
			for (unsigned k = 0; k < n; k++) {
				memcpy(buf, s->q[k], s->qlen[k]);
				wg_input_datagram(s->other->dev, buf, s->qlen[k], &s->addr, now, &res);
				moved++;
			}
		}
		if (!moved)
			break;
	}
}

static void setup(void)
{
	uint8_t ka[32], kb[32], pa[32], pb[32];
	alignas(8) uint8_t pkt[WG_HEADROOM + 64 + WG_TAILROOM];
	struct wg_peer *peer;
	struct wg_result res;
	uint8_t v4a[4] = { 100, 64, 0, 1 }, v4b[4] = { 100, 64, 0, 2 };
	int err;

	if (sodium_init() < 0)
		abort();
	a.dev = wg_device_new(&ops, &a, &err);
	b.dev = wg_device_new(&ops, &b, &err);
	if (!a.dev || !b.dev)
		abort();
	a.other = &b;
	b.other = &a;
	endpoint_parse(&a.addr, "198.51.100.1:51820", false);
	endpoint_parse(&b.addr, "198.51.100.2:51820", false);
	memset(ka, 0x11, 32);
	memset(kb, 0x22, 32);
	wg_device_set_private_key(a.dev, ka, now);
	wg_device_set_private_key(b.dev, kb, now);
	wg_device_get_public_key(a.dev, pa);
	wg_device_get_public_key(b.dev, pb);

	wg_peer_add(a.dev, pb, now, &peer);
	wg_peer_set_endpoint(peer, &b.addr);
	wg_peer_allowedip_add(a.dev, peer, AF_INET, v4b, 32);
	wg_peer_add(b.dev, pa, now, &peer);
	wg_peer_set_endpoint(peer, &a.addr);
	wg_peer_allowedip_add(b.dev, peer, AF_INET, v4a, 32);

	/* A sends an IPv4 packet to B: triggers the handshake; pump both ways. */
	memset(pkt, 0, sizeof pkt);
	pkt[WG_HEADROOM] = 0x45;
	be16enc(pkt + WG_HEADROOM + 2, 64);
	memcpy(pkt + WG_HEADROOM + 12, v4a, 4);
	memcpy(pkt + WG_HEADROOM + 16, v4b, 4);
	wg_input_tun(a.dev, pkt, 64, sizeof pkt, now, &res);
	pump();

	/* The harness is only worth running if B really holds a session. */
	{
		struct wg_peer_info info;

		wg_peer_get_info(wg_peer_lookup(b.dev, pa), &info);
		if (info.last_handshake.sec == 0) {
			fprintf(stderr, "fuzz_wg_receive: set-up handshake did not complete\n");
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	alignas(8) static uint8_t buf[4096 + WG_TAILROOM];
	union endpoint src;
	struct wg_result res;
	uint8_t mode;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	wg_device_set_load_mode(b.dev, (enum wg_load_mode)(mode % 3));
	src = a.addr;
	if (mode & 0x80)
		src.sin.sin_port = htons((uint16_t)(1000 + (mode & 0x7f)));

	while (size >= 2) {
		size_t len = be16dec(data);

		data += 2, size -= 2;
		if (len > size)
			len = size;
		if (len > 4096)
			len = 4096;
		memcpy(buf, data, len);
		wg_input_datagram(b.dev, buf, len, &src, now, &res);
		data += len, size -= len;
		now += MSEC(7);
	}
	if (mode & 0x40)
		wg_handle_expiry(b.dev, now);
	b.nq = 0;
	a.nq = 0;
	return 0;
}
