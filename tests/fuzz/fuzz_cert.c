/* libFuzzer harness for the authority-signed records members gossip:
 * mesh_cert_decode() then mesh_cert_verify(), and mesh_revoke_decode() then
 * mesh_revoke_verify(). The first input byte picks the record type, the rest
 * is the record.
 *
 * Nothing may crash or read out of bounds, and decoding must be canonical:
 * whatever decodes encodes back to exactly the same bytes. Verification runs
 * against a fixed authority key (seed 0x5e x 32), so a seed corpus signed by
 * that key lets mutations reach the signature check rather than stopping at
 * the mesh id comparison. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t auth_pk[MESH_PK_LEN];

static void setup(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[MESH_SK_LEN];

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x5e, sizeof seed);
	crypto_sign_seed_keypair(auth_pk, sk, seed);
	sodium_memzero(sk, sizeof sk);
}

static void cert_case(const uint8_t *p, size_t n)
{
	uint8_t buf[MESH_CERT_MAX_LEN];
	struct mesh_cert c;
	struct wr w;

	if (mesh_cert_decode(p, n, &c) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	if (mesh_cert_encode(&c, &w) != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
	(void)mesh_cert_verify(&c, auth_pk, 1800000000);
}

static void revoke_case(const uint8_t *p, size_t n)
{
	uint8_t buf[MESH_REVOKE_LEN];
	struct mesh_revoke rv;
	struct wr w;

	if (mesh_revoke_decode(p, n, &rv) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	if (mesh_revoke_encode(&rv, &w) != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
	(void)mesh_revoke_verify(&rv, auth_pk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		revoke_case(data + 1, size - 1);
	else
		cert_case(data + 1, size - 1);
	return 0;
}
