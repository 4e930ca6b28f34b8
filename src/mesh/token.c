#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#include "mesh/token.h"
#include "util/buf.h"
#include "util/err.h"

_Static_assert(sizeof(MESH_TOKEN_PREFIX) - 1 == MESH_TOKEN_PREFIX_LEN, "prefix length");
_Static_assert(sizeof(MESH_TOKEN_CSUM_DOMAIN) - 1 >= crypto_generichash_KEYBYTES_MIN, "key");
_Static_assert(sizeof(MESH_TOKEN_HASH_DOMAIN) - 1 >= crypto_generichash_KEYBYTES_MIN, "key");
_Static_assert((int)MESH_TOKEN_ID_LEN <= (int)MESH_ID_LEN, "pin");

static void checksum(const uint8_t *p, size_t len, uint8_t out[MESH_TOKEN_CSUM_LEN])
{
	uint8_t h[crypto_generichash_BYTES_MIN];

	crypto_generichash(h, sizeof h, p, len, (const uint8_t *)MESH_TOKEN_CSUM_DOMAIN,
	    strlen(MESH_TOKEN_CSUM_DOMAIN));
	memcpy(out, h, MESH_TOKEN_CSUM_LEN);
}

static int ep_encode(const union endpoint *ep, bool tcp, struct wr *w)
{
	uint8_t family = tcp ? MESH_TOKEN_EP_TCP : 0;
	const uint8_t *addr;
	size_t alen;
	in_port_t port;
	int r;

	if (ep->sa.sa_family == AF_INET) {
		family |= MESH_FAMILY_V4;
		addr = (const uint8_t *)&ep->sin.sin_addr;
		alen = 4;
		port = ep->sin.sin_port;
	} else if (ep->sa.sa_family == AF_INET6 && ep->sin6.sin6_scope_id == 0 &&
	    !IN6_IS_ADDR_V4MAPPED(&ep->sin6.sin6_addr)) {
		family |= MESH_FAMILY_V6;
		addr = (const uint8_t *)&ep->sin6.sin6_addr;
		alen = 16;
		port = ep->sin6.sin6_port;
	} else {
		return MESHD_E_INVAL;
	}
	if (port == 0)
		return MESHD_E_INVAL;
	if ((r = wr_u8(w, family)) != 0 || (r = wr_bytes(w, addr, alen)) != 0 ||
	    (r = wr_u16(w, ntohs(port))) != 0)
		return r;
	return 0;
}

int mesh_token_encode(const struct mesh_token *tok, char *out, size_t cap)
{
	uint8_t bin[MESH_TOKEN_BIN_MAX];
	struct wr w;
	size_t need;
	unsigned i;
	int r;

	if (cap > 0)
		out[0] = '\0';
	if (tok->nep < 1 || tok->nep > MESH_TOKEN_MAX_EP || (tok->tcp >> tok->nep) != 0 ||
	    tok->tcp == (1u << tok->nep) - 1)
		return MESHD_E_INVAL;
	wr_init(&w, bin, sizeof bin);
	if ((r = wr_u8(&w, tok->tcp ? MESH_TOKEN_VERSION_TCP : MESH_TOKEN_VERSION)) != 0 ||
	    (r = wr_bytes(&w, tok->mesh_id, sizeof tok->mesh_id)) != 0 ||
	    (r = wr_bytes(&w, tok->secret, sizeof tok->secret)) != 0 ||
	    (r = wr_u32(&w, tok->expires_at)) != 0 ||
	    (r = wr_u8(&w, tok->nep)) != 0)
		goto out;
	for (i = 0; i < tok->nep; i++)
		if ((r = ep_encode(&tok->ep[i], (tok->tcp >> i) & 1, &w)) != 0)
			goto out;
	/* The buffer is sized for the largest payload: this cannot fail. */
	checksum(bin, w.off, bin + w.off);
	w.off += MESH_TOKEN_CSUM_LEN;
	need = MESH_TOKEN_PREFIX_LEN + sodium_base64_encoded_len(w.off,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (cap < need) {
		r = MESHD_E_RANGE;
		goto out;
	}
	memcpy(out, MESH_TOKEN_PREFIX, MESH_TOKEN_PREFIX_LEN);
	sodium_bin2base64(out + MESH_TOKEN_PREFIX_LEN, cap - MESH_TOKEN_PREFIX_LEN, bin, w.off,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	r = 0;
out:
	sodium_memzero(bin, sizeof bin);
	return r;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* One endpoint; *tcp says whether it is a TCP entry (allowed: version 2). */
static int ep_decode(struct rd *rd, bool allow_tcp, union endpoint *ep, bool *tcp)
{
	uint8_t family;
	uint16_t port;
	int r;

	if ((r = rd_u8(rd, &family)) != 0)
		return r;
	*tcp = (family & MESH_TOKEN_EP_TCP) != 0;
	if (*tcp && !allow_tcp)
		return MESHD_E_PROTO;
	family &= (uint8_t)~MESH_TOKEN_EP_TCP;
	if (family == MESH_FAMILY_V4) {
		ep->sin.sin_family = AF_INET;
		if ((r = rd_bytes(rd, (uint8_t *)&ep->sin.sin_addr, 4)) != 0 ||
		    (r = rd_u16(rd, &port)) != 0)
			return r;
		ep->sin.sin_port = htons(port);
	} else if (family == MESH_FAMILY_V6) {
		ep->sin6.sin6_family = AF_INET6;
		if ((r = rd_bytes(rd, (uint8_t *)&ep->sin6.sin6_addr, 16)) != 0 ||
		    (r = rd_u16(rd, &port)) != 0)
			return r;
		/* v4 travels as family 4 only: one encoding per endpoint */
		if (IN6_IS_ADDR_V4MAPPED(&ep->sin6.sin6_addr))
			return MESHD_E_PROTO;
		ep->sin6.sin6_port = htons(port);
	} else {
		return MESHD_E_PROTO;
	}
	return port != 0 ? 0 : MESHD_E_PROTO;
}

/* A version 1 or 2 payload, checksum already checked and cut off. */
static int parse_v1(const uint8_t *p, size_t len, struct mesh_token *out)
{
	struct rd rd;
	uint8_t version;
	unsigned i;
	bool tcp;
	int r;

	rd_init(&rd, p, len);
	if ((r = rd_u8(&rd, &version)) != 0 ||
	    (r = rd_bytes(&rd, out->mesh_id, sizeof out->mesh_id)) != 0 ||
	    (r = rd_bytes(&rd, out->secret, sizeof out->secret)) != 0 ||
	    (r = rd_u32(&rd, &out->expires_at)) != 0 ||
	    (r = rd_u8(&rd, &out->nep)) != 0)
		return r;
	if (out->nep < 1 || out->nep > MESH_TOKEN_MAX_EP)
		return MESHD_E_PROTO;
	for (i = 0; i < out->nep; i++) {
		if ((r = ep_decode(&rd, version == MESH_TOKEN_VERSION_TCP, &out->ep[i], &tcp)) != 0)
			return r;
		out->tcp |= (uint8_t)(tcp << i);
	}
	/* version 2 exactly when there is a TCP entry; never only TCP */
	if ((version == MESH_TOKEN_VERSION_TCP) != (out->tcp != 0) ||
	    out->tcp == (1u << out->nep) - 1)
		return MESHD_E_PROTO;
	return rd_end(&rd);
}

int mesh_token_parse(const char *s, struct mesh_token *out)
{
	uint8_t bin[MESH_TOKEN_BIN_MAX], want[MESH_TOKEN_CSUM_LEN];
	const char *b64;
	size_t n, blen;
	int r;

	memset(out, 0, sizeof *out);
	if (s == NULL)
		return MESHD_E_INVAL;
	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	/* "", "m" ... "meshd-": a token cut short, not a foreign string */
	if (n <= MESH_TOKEN_PREFIX_LEN && memcmp(s, MESH_TOKEN_PREFIX, n) == 0)
		return MESHD_E_PROTO;
	if (n < MESH_TOKEN_PREFIX_LEN || memcmp(s, MESH_TOKEN_PREFIX, MESH_TOKEN_PREFIX_LEN) != 0)
		return MESHD_E_INVAL;
	if (n > MESH_TOKEN_STR_MAX)
		return MESHD_E_PROTO;
	b64 = s + MESH_TOKEN_PREFIX_LEN;
	r = MESHD_E_PROTO;
	if (sodium_base642bin(bin, sizeof bin, b64, n - MESH_TOKEN_PREFIX_LEN, NULL, &blen, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		goto out;
	if (blen < 1 + MESH_TOKEN_CSUM_LEN)
		goto out;
	blen -= MESH_TOKEN_CSUM_LEN;
	checksum(bin, blen, want);
	if (sodium_memcmp(want, bin + blen, MESH_TOKEN_CSUM_LEN) != 0)
		goto out;
	if (bin[0] != MESH_TOKEN_VERSION && bin[0] != MESH_TOKEN_VERSION_TCP) {
		r = MESHD_E_RANGE;
		goto out;
	}
	r = parse_v1(bin, blen, out);
out:
	if (r != 0) {
		r = r == MESHD_E_RANGE ? r : MESHD_E_PROTO;
		mesh_token_clear(out);
	}
	sodium_memzero(bin, sizeof bin);
	return r;
}

const char *mesh_token_strerror(int err)
{
	switch (err) {
	case 0: return "valid token";
	case MESHD_E_INVAL: return "not a meshd invite token (it should start with '" MESH_TOKEN_PREFIX "')";
	case MESHD_E_PROTO: return "malformed invite token (mistyped or cut short?)";
	case MESHD_E_RANGE: return "invite token from an unsupported meshd version";
	case MESHD_E_EXPIRED: return "invite token has expired";
	}
	return meshd_strerror(err);
}

int mesh_token_check_expiry(const struct mesh_token *tok, uint64_t now_unix)
{
	return now_unix >= tok->expires_at ? MESHD_E_EXPIRED : 0;
}

bool mesh_token_pins(const struct mesh_token *tok, const uint8_t mesh_id[MESH_ID_LEN])
{
	return sodium_memcmp(tok->mesh_id, mesh_id, MESH_TOKEN_ID_LEN) == 0;
}

void mesh_token_clear(struct mesh_token *tok)
{
	sodium_memzero(tok, sizeof *tok);
}

void mesh_token_secret_hash(const uint8_t secret[MESH_TOKEN_SECRET_LEN], uint8_t out[32])
{
	crypto_generichash(out, 32, secret, MESH_TOKEN_SECRET_LEN,
	    (const uint8_t *)MESH_TOKEN_HASH_DOMAIN, strlen(MESH_TOKEN_HASH_DOMAIN));
}
