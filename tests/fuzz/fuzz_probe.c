/* libFuzzer harness for path probes (mesh/probe.h): what a node receives
 * from the network before it knows anything about the sender.
 *
 * The first input byte picks the mode, the rest is the input:
 *   0: a datagram, as is: peeked, then opened with B's key for A;
 *   1: a plaintext, boxed from A to B with the right framing and direction
 *      (type PROBE when bit 1 of the mode byte is clear, PROBE_ACK when
 *      set), so mutations reach the decoder behind the box.
 * Nothing may crash; what opens is well formed, and sealing it again opens
 * to the same message (canonical). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/probe.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000 };

static uint8_t a_pk[32], a_sk[32], b_pk[32], b_sk[32];
static struct mesh_probe_key ab, ba;

static void setup(void)
{
	uint8_t seed[32];

	if (sodium_init() < 0)
		abort();
	memset(seed, 1, sizeof seed);
	crypto_box_seed_keypair(a_pk, a_sk, seed);
	memset(seed, 2, sizeof seed);
	crypto_box_seed_keypair(b_pk, b_sk, seed);
	if (mesh_probe_key_init(&ab, a_pk, a_sk, b_pk) != 0 ||
	    mesh_probe_key_init(&ba, b_pk, b_sk, a_pk) != 0)
		abort();
}

static void open_check(const uint8_t *p, size_t n)
{
	uint8_t buf[MESH_PROBE_MAX_LEN], pk[32], type;
	struct mesh_probe m, m2;
	struct wr w;
	int r, rp;

	rp = mesh_probe_peek(p, n, &type, pk);
	if (rp != 0 && rp != MESHD_E_PROTO)
		abort();
	r = mesh_probe_open(&ba, p, n, NOW, &m);
	if (r != 0 && r != MESHD_E_PROTO && r != MESHD_E_CRYPTO && r != MESHD_E_EXPIRED)
		abort();
	if (r != MESHD_E_PROTO && rp != 0)
		abort();	/* anything past the framing passed peek */
	if (r != 0)
		return;
	if (m.type != type || (m.type != MESH_MSG_PROBE && m.type != MESH_MSG_PROBE_ACK))
		abort();
	if (m.type == MESH_MSG_PROBE_ACK && (m.observed.sa.sa_family != AF_INET &&
	    m.observed.sa.sa_family != AF_INET6))
		abort();
	wr_init(&w, buf, sizeof buf);
	if (mesh_probe_seal(&ab, &m, &w) != 0 || w.off != n)
		abort();
	if (mesh_probe_open(&ba, buf, w.off, NOW, &m2) != 0 || m2.type != m.type ||
	    m2.txid != m.txid || m2.time != m.time ||
	    (m.type == MESH_MSG_PROBE_ACK && !endpoint_eq(&m.observed, &m2.observed)))
		abort();
}

static void boxed(uint8_t type, const uint8_t *plain, size_t n)
{
	uint8_t dg[MESH_PROBE_MAX_LEN], *nonce = dg + MESH_MSG_HDR_LEN + 32;

	if (n > MESH_PROBE_MAX_LEN - MESH_PROBE_OUTER_LEN - MESH_PROBE_MAC_LEN)
		return;
	dg[0] = MESH_MSG_MAGIC;
	dg[1] = type;
	memcpy(dg + MESH_MSG_HDR_LEN, a_pk, 32);
	memset(nonce, 0x5a, MESH_PROBE_NONCE_LEN);
	nonce[0] = (uint8_t)((nonce[0] & 0xfe) | ab.dir_out);
	if (crypto_box_easy_afternm(dg + MESH_PROBE_OUTER_LEN, plain, n, nonce, ab.k) != 0)
		abort();
	open_check(dg, MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1 || size - 1 > MESH_MSG_DGRAM_MAX)
		return 0;
	if ((data[0] & 1) == 0)
		open_check(data + 1, size - 1);
	else
		boxed((data[0] & 2) != 0 ? MESH_MSG_PROBE_ACK : MESH_MSG_PROBE, data + 1, size - 1);
	return 0;
}
