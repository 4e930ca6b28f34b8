/* libFuzzer harness for subnet routes: the ROUTES record decoder
 * (mesh_routes_decode, then mesh_routes_verify as a merge would) and the
 * user-facing prefix parsers (mesh_prefix_parse, mesh_routes_parse_list,
 * mesh_routes_check_advert), which read `--advertise-routes` and control
 * socket values.
 *
 * The first input byte picks the mode (mod 2), the rest is the payload:
 *	0	a ROUTES record: whatever decodes must re-encode byte for byte
 *		and verify without crashing (node key seed 0x6e x 32, mesh id
 *		0x42 x 32)
 *	1	a NUL-terminated copy of the payload as a route list: whatever
 *		parses must format and parse back to the same prefixes, and
 *		the advert check must not crash; err is always a C string
 *
 * Nothing may crash or read out of bounds. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/routes.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000, LIST_MAX = 1024 };

static uint8_t node_pk[MESH_PK_LEN];
static uint8_t mesh_id[MESH_ID_LEN];

static void setup(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[MESH_SK_LEN];

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x6e, sizeof seed);
	crypto_sign_seed_keypair(node_pk, sk, seed);
	sodium_memzero(sk, sizeof sk);
	memset(mesh_id, 0x42, sizeof mesh_id);
}

static void record_case(const uint8_t *p, size_t n)
{
	uint8_t buf[MESH_ROUTES_MAX_LEN];
	struct mesh_routes rt;
	struct wr w;

	if (mesh_routes_decode(p, n, &rt) != 0)
		return;
	wr_init(&w, buf, sizeof buf);
	if (mesh_routes_encode(&rt, &w) != 0 || w.off != n || memcmp(buf, p, n) != 0)
		abort();
	(void)mesh_routes_verify(&rt, node_pk, mesh_id, NOW);
}

static void list_case(const uint8_t *p, size_t n)
{
	static const struct mesh_prefix o4 = { MESH_FAMILY_V4, 16, { 100, 64 } };
	static const struct mesh_prefix o6 = { MESH_FAMILY_V6, 48, { 0xfd, 1, 2, 3, 4, 5 } };
	struct mesh_prefix v[MESH_ROUTES_MAX], again;
	char s[LIST_MAX + 1], out[MESH_PREFIX_STRLEN], err[256];
	size_t cnt = 0;

	if (n > LIST_MAX)
		n = LIST_MAX;
	memcpy(s, p, n);
	s[n] = '\0';
	err[0] = '\0';
	if (mesh_routes_parse_list(s, v, MESH_ROUTES_MAX, &cnt, err, sizeof err) != 0) {
		if (memchr(err, '\0', sizeof err) == NULL)
			abort();
		return;
	}
	if (cnt > MESH_ROUTES_MAX)
		abort();
	for (size_t i = 0; i < cnt; i++) {
		if (!mesh_prefix_valid(&v[i]) || mesh_prefix_format(&v[i], out, sizeof out) != 0 ||
		    mesh_prefix_parse(out, &again, NULL, 0) != 0 ||
		    mesh_prefix_cmp(&v[i], &again) != 0)
			abort();
	}
	(void)mesh_routes_check_advert(v, cnt, &o4, &o6, err, sizeof err);
	if (memchr(err, '\0', sizeof err) == NULL)
		abort();
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
	if (data[0] % 2 == 0)
		record_case(data + 1, size - 1);
	else
		list_case(data + 1, size - 1);
	return 0;
}
