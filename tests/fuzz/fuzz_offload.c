/* libFuzzer harness for the TUN offload path (src/offload.c): the daemon
 * calls offload_super_parse() and offload_segment() on every read from a
 * TUN opened with IFF_VNET_HDR, and offload_gro_add()/_item_out() on every
 * decrypted packet.
 *
 * Input: 10 bytes of virtio_net_hdr, then the packet. Nothing may crash or
 * read out of bounds. When the parse accepts the packet, every segment must
 * fit hdrlen + gso_size, the payloads must add up to the super-packet's,
 * and each TCP/UDP segment's checksum must verify. The segments then go
 * through the coalescer; every item it hands out must parse again with its
 * own vnet header and cut into segments that verify. */
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pkt[OFFLOAD_MAX_PACKET], seg[OFFLOAD_MAX_PACKET], again[OFFLOAD_MAX_PACKET];
static uint8_t *gro_mem;

static void check_item(const uint8_t *o, size_t len)
{
	struct offload_vnet vh;
	struct offload_super sp;
	size_t n;

	if (len < OFFLOAD_VNET_HDR_LEN)
		abort();
	offload_vnet_decode(&vh, o);
	len -= OFFLOAD_VNET_HDR_LEN;
	memcpy(again, o + OFFLOAD_VNET_HDR_LEN, len);
	if (vh.gso_type == OFFLOAD_GSO_NONE)
		return;
	if (offload_super_parse(&sp, &vh, again, len) != 0)
		abort();
	/* complete the NEEDS_CSUM checksum as the kernel would, per segment */
	for (unsigned i = 0; i < sp.nseg; i++) {
		if (offload_segment(&sp, i, seg, sizeof seg, &n) != 0)
			abort();
		if (!offload_l4_csum_ok(seg, n))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct offload_vnet vh;
	struct offload_super sp;
	struct offload_gro g;
	size_t len, n, total = 0;
	bool l4;

	if (!gro_mem && !(gro_mem = malloc((size_t)OFFLOAD_GRO_SLOTS * OFFLOAD_GRO_SLOT_SIZE)))
		abort();
	if (size < OFFLOAD_VNET_HDR_LEN || size - OFFLOAD_VNET_HDR_LEN > sizeof pkt)
		return 0;
	offload_vnet_decode(&vh, data);
	len = size - OFFLOAD_VNET_HDR_LEN;
	memcpy(pkt, data + OFFLOAD_VNET_HDR_LEN, len);
	if (offload_super_parse(&sp, &vh, pkt, len) != 0)
		return 0;
	if (sp.nseg == 0 || sp.pkt != pkt || sp.len != len)
		abort();
	l4 = sp.kind != OFFLOAD_PLAIN;
	offload_gro_init(&g, gro_mem, OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP);
	for (unsigned i = 0; i < sp.nseg; i++) {
		if (offload_segment(&sp, i, seg, sizeof seg, &n) != 0)
			abort();
		if (l4) {
			if (n < sp.hdrlen || n > (size_t)sp.hdrlen + sp.gso_size)
				abort();
			total += n - sp.hdrlen;
			if (!offload_l4_csum_ok(seg, n))
				abort();
		} else if (n != len) {
			abort();
		}
		if (offload_gro_add(&g, seg, n) == MESHD_E_FULL) {
			for (unsigned k = 0; k < g.n; k++) {
				const uint8_t *o = offload_gro_item_out(&g, k, &n);

				check_item(o, n);
			}
			offload_gro_reset(&g);
			if (offload_segment(&sp, i, seg, sizeof seg, &n) != 0 ||
			    offload_gro_add(&g, seg, n) != 0)
				abort();
		}
	}
	if (l4 && total != len - sp.hdrlen)
		abort();
	for (unsigned k = 0; k < g.n; k++) {
		const uint8_t *o = offload_gro_item_out(&g, k, &n);

		check_item(o, n);
	}
	return 0;
}
