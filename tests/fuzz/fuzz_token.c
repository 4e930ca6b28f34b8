/* libFuzzer harness for invite token parsing (mesh_token_parse), the function
 * `meshd join` calls on the user's input.
 *
 * The first input byte picks the mode, the rest is the input:
 *   even: the rest is the pasted string itself (cut at the first NUL);
 *   odd:  the rest is a token payload; the harness appends its checksum and
 *         wraps it as "meshd-" + base64url, so mutations get past the checksum
 *         and reach the field parser.
 * Nothing may crash or read out of bounds, and every accepted token must be
 * canonical: encoding it again gives back exactly the input minus surrounding
 * whitespace, and that parses to the same token. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mesh/token.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PAYLOAD_MAX = 512 };

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* "meshd-" + base64url(payload || checksum), as a new string. */
static char *wrap(const uint8_t *p, size_t n)
{
	uint8_t bin[PAYLOAD_MAX + MESH_TOKEN_CSUM_LEN], h[crypto_generichash_BYTES_MIN];
	size_t cap;
	char *s;

	memcpy(bin, p, n);
	crypto_generichash(h, sizeof h, bin, n, (const uint8_t *)MESH_TOKEN_CSUM_DOMAIN,
	    strlen(MESH_TOKEN_CSUM_DOMAIN));
	memcpy(bin + n, h, MESH_TOKEN_CSUM_LEN);
	cap = MESH_TOKEN_PREFIX_LEN + sodium_base64_encoded_len(n + MESH_TOKEN_CSUM_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((s = malloc(cap)) == NULL)
		return NULL;
	memcpy(s, MESH_TOKEN_PREFIX, MESH_TOKEN_PREFIX_LEN);
	sodium_bin2base64(s + MESH_TOKEN_PREFIX_LEN, cap - MESH_TOKEN_PREFIX_LEN, bin,
	    n + MESH_TOKEN_CSUM_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

static void check(const char *s)
{
	char out[MESH_TOKEN_STR_MAX + 1];
	struct mesh_token t, u;
	const char *a;
	size_t n;
	int r;

	r = mesh_token_parse(s, &t);
	if (r != 0 && r != MESHD_E_INVAL && r != MESHD_E_PROTO && r != MESHD_E_RANGE)
		abort();
	if (r == 0) {
		(void)mesh_token_check_expiry(&t, 1800000000);
		if (mesh_token_encode(&t, out, sizeof out) != 0)
			abort();
		for (a = s; is_space(*a); a++)
			;
		n = strlen(a);
		while (n > 0 && is_space(a[n - 1]))
			n--;
		if (strlen(out) != n || memcmp(out, a, n) != 0)
			abort();
		if (mesh_token_parse(out, &u) != 0 || u.nep != t.nep ||
		    u.expires_at != t.expires_at ||
		    memcmp(u.secret, t.secret, sizeof t.secret) != 0 ||
		    memcmp(u.mesh_id, t.mesh_id, sizeof t.mesh_id) != 0)
			abort();
		mesh_token_clear(&u);
	}
	mesh_token_clear(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	char *s;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (size - 1 > PAYLOAD_MAX)
			return 0;
		s = wrap(data + 1, size - 1);
	} else {
		if ((s = malloc(size)) != NULL) {
			memcpy(s, data + 1, size - 1);
			s[size - 1] = '\0';
		}
	}
	if (s == NULL)
		return 0;
	check(s);
	free(s);
	return 0;
}
