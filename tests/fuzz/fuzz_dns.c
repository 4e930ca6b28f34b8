/* libFuzzer harness for the DNS responder (mesh_dns_answer), the function
 * the daemon calls on every datagram to the overlay address, port 53.
 *
 * The whole input is the query. A stub member table answers for "n2" (both
 * families), "v4" (IPv4 only) and "x" (lookup failure). Nothing may crash or
 * read out of bounds, and every reply must hold what the header promises:
 * dropped only when shorter than a header or QR is set; else 12..512 bytes,
 * the query id, QR set, the lookup called at most once, and a cap one byte
 * short of the reply refused with MESHD_E_RANGE and nothing written past it. */
#include <stdlib.h>
#include <string.h>

#include "mesh/dns.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned calls;

static int lookup(void *ctx, const char *label, uint8_t v4[4], bool *has4, uint8_t v6[16],
    bool *has6)
{
	(void)ctx;
	calls++;
	if (strlen(label) < 1 || strlen(label) > MESH_DNS_LABEL_MAX)
		abort();
	if (strcmp(label, "x") == 0)
		return MESHD_E_SYS;
	if (strcmp(label, "n2") == 0 || strcmp(label, "v4") == 0) {
		memset(v4, 0x64, 4);
		*has4 = true;
		if (label[1] == '2') {
			memset(v6, 0xfd, 16);
			*has6 = true;
		}
		return 0;
	}
	return MESHD_E_NOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[MESH_DNS_UDP_MAX + 1], small[MESH_DNS_UDP_MAX + 1];
	size_t n, m;
	int r;

	calls = 0;
	r = mesh_dns_answer(data, size, NULL, lookup, NULL, out, sizeof out, &n);
	if (size < MESH_DNS_HDR_LEN || (data[2] & 0x80) != 0) {
		if (r != MESHD_E_PROTO || n != 0 || calls != 0)
			abort();
		return 0;
	}
	if (r != 0 || n < MESH_DNS_HDR_LEN || n > MESH_DNS_UDP_MAX || calls > 1)
		abort();
	if (out[0] != data[0] || out[1] != data[1] || (out[2] & 0x80) == 0)
		abort();
	/* the same reply again, one byte too little room: refused, nothing past cap */
	memset(small, 0xa5, sizeof small);
	if (mesh_dns_answer(data, size, NULL, lookup, NULL, small, n - 1, &m) != MESHD_E_RANGE ||
	    m != 0 || small[n - 1] != 0xa5)
		abort();
	return 0;
}
