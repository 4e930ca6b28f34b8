/* Path probe codecs (mesh/probe.h). */
#include <string.h>

#include <sodium.h>

#include "mesh/probe.h"
#include "util/err.h"

_Static_assert(MESH_PROBE_KEY_LEN == crypto_box_PUBLICKEYBYTES, "box public key");
_Static_assert(MESH_PROBE_KEY_LEN == crypto_box_SECRETKEYBYTES, "box secret key");
_Static_assert(MESH_PROBE_KEY_LEN == crypto_box_BEFORENMBYTES, "box shared key");
_Static_assert(MESH_PROBE_NONCE_LEN == crypto_box_NONCEBYTES, "box nonce");
_Static_assert(MESH_PROBE_MAC_LEN == crypto_box_MACBYTES, "box mac");

int mesh_probe_key_init(struct mesh_probe_key *k, const uint8_t our_pk[MESH_PROBE_KEY_LEN],
    const uint8_t our_sk[MESH_PROBE_KEY_LEN], const uint8_t peer_pk[MESH_PROBE_KEY_LEN])
{
	int c = sodium_compare(our_pk, peer_pk, MESH_PROBE_KEY_LEN);

	memset(k, 0, sizeof *k);
	if (c == 0)
		return MESHD_E_INVAL;
	if (crypto_box_beforenm(k->k, peer_pk, our_sk) != 0) {
		sodium_memzero(k, sizeof *k);
		return MESHD_E_CRYPTO;
	}
	memcpy(k->our_pk, our_pk, MESH_PROBE_KEY_LEN);
	memcpy(k->peer_pk, peer_pk, MESH_PROBE_KEY_LEN);
	k->dir_out = c < 0 ? 1 : 0;
	return 0;
}

void mesh_probe_key_clear(struct mesh_probe_key *k)
{
	sodium_memzero(k, sizeof *k);
}

/* Plaintext length of a message of the given type; PROBE: for the whole
 * datagram length len. */
static size_t plain_len(uint8_t type, uint8_t family, size_t len)
{
	if (type == MESH_MSG_PROBE)
		return len - MESH_PROBE_OUTER_LEN - MESH_PROBE_MAC_LEN;
	return family == 4 ? MESH_PROBE_ACK_PLAIN_V4_LEN : MESH_PROBE_ACK_PLAIN_V6_LEN;
}

int mesh_probe_peek(const uint8_t *p, size_t len, uint8_t *type,
    uint8_t sender_pk[MESH_PROBE_KEY_LEN])
{
	*type = 0;
	memset(sender_pk, 0, MESH_PROBE_KEY_LEN);
	if (len < MESH_PROBE_OUTER_LEN || p[0] != MESH_MSG_MAGIC)
		return MESHD_E_PROTO;
	if (p[1] == MESH_MSG_PROBE) {
		if (len < MESH_PROBE_LEN || len > MESH_PROBE_PADDED_MAX_LEN)
			return MESHD_E_PROTO;
	} else if (p[1] == MESH_MSG_PROBE_ACK) {
		if (len != MESH_PROBE_ACK_V4_LEN && len != MESH_PROBE_ACK_V6_LEN)
			return MESHD_E_PROTO;
	} else {
		return MESHD_E_PROTO;
	}
	*type = p[1];
	memcpy(sender_pk, p + MESH_MSG_HDR_LEN, MESH_PROBE_KEY_LEN);
	return 0;
}

/* The observed address as (family, addr, port); IPv4-mapped IPv6 becomes
 * IPv4. 0 or MESHD_E_INVAL. */
static int observed_split(const union endpoint *ep, uint8_t *family, uint8_t addr[16],
    uint16_t *port)
{
	union endpoint e = *ep;

	memset(addr, 0, 16);
	endpoint_unmap(&e);
	if (e.sa.sa_family == AF_INET) {
		*family = 4;
		memcpy(addr, &e.sin.sin_addr, 4);
		*port = ntohs(e.sin.sin_port);
	} else if (e.sa.sa_family == AF_INET6) {
		*family = 6;
		memcpy(addr, &e.sin6.sin6_addr, 16);
		*port = ntohs(e.sin6.sin6_port);
	} else {
		return MESHD_E_INVAL;
	}
	return *port != 0 ? 0 : MESHD_E_INVAL;
}

int mesh_probe_seal(const struct mesh_probe_key *k, const struct mesh_probe *m, struct wr *w)
{
	uint8_t nonce[MESH_PROBE_NONCE_LEN], addr[16], family = 0, *out, *plain;
	uint16_t port = 0;
	size_t pl, total;
	struct wr pw;
	int r = MESHD_E_INVAL;

	if (m->type == MESH_MSG_PROBE) {
		total = m->len == 0 ? MESH_PROBE_LEN : m->len;
		if (total < MESH_PROBE_LEN || total > MESH_PROBE_PADDED_MAX_LEN)
			return MESHD_E_INVAL;
	} else if (m->type == MESH_MSG_PROBE_ACK) {
		if (observed_split(&m->observed, &family, addr, &port) != 0)
			return MESHD_E_INVAL;
		total = family == 4 ? MESH_PROBE_ACK_V4_LEN : MESH_PROBE_ACK_V6_LEN;
	} else {
		return MESHD_E_INVAL;
	}
	if (w->cap - w->off < total)
		return MESHD_E_RANGE;
	pl = plain_len(m->type, family, total);
	/* The plaintext is built where its ciphertext goes and sealed in
	 * place (libsodium allows it), so a padded probe needs no copy. */
	out = w->p + w->off;
	plain = out + MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN;
	memset(plain, 0, pl);
	wr_init(&pw, plain, pl);
	if ((r = wr_u8(&pw, m->type)) != 0 ||
	    (r = wr_u64(&pw, m->txid)) != 0 ||
	    (r = wr_u64(&pw, m->time)) != 0)
		goto out;
	if (m->type == MESH_MSG_PROBE_ACK &&
	    ((r = wr_u8(&pw, family)) != 0 ||
	    (r = wr_bytes(&pw, addr, family == 4 ? 4 : 16)) != 0 ||
	    (r = wr_u16(&pw, port)) != 0))
		goto out;
	if (m->type == MESH_MSG_PROBE_ACK && pw.off != pl) {
		r = MESHD_E_INVAL;
		goto out;
	}
	randombytes_buf(nonce, sizeof nonce);
	nonce[0] = (uint8_t)((nonce[0] & 0xfe) | k->dir_out);
	out[0] = MESH_MSG_MAGIC;
	out[1] = m->type;
	memcpy(out + MESH_MSG_HDR_LEN, k->our_pk, MESH_PROBE_KEY_LEN);
	memcpy(out + MESH_MSG_HDR_LEN + MESH_PROBE_KEY_LEN, nonce, sizeof nonce);
	if (crypto_box_detached_afternm(plain, out + MESH_PROBE_OUTER_LEN, plain, pl, nonce,
	    k->k) != 0) {
		r = MESHD_E_CRYPTO;
		goto out;
	}
	w->off += total;
	return 0;
out:
	sodium_memzero(out, total);
	return r;
}

static int decode_plain(const uint8_t *plain, size_t pl, uint8_t type, struct mesh_probe *out)
{
	uint8_t t, family, addr[16];
	uint16_t port;
	struct rd rd;
	int r;

	rd_init(&rd, plain, pl);
	if ((r = rd_u8(&rd, &t)) != 0 ||
	    (r = rd_u64(&rd, &out->txid)) != 0 ||
	    (r = rd_u64(&rd, &out->time)) != 0)
		return r;
	if (t != type)
		return MESHD_E_PROTO;
	out->type = t;
	if (type == MESH_MSG_PROBE) {
		/* the rest is padding: zeros, at least MESH_PROBE_PAD_LEN */
		if (pl < MESH_PROBE_PLAIN_LEN + MESH_PROBE_PAD_LEN)
			return MESHD_E_PROTO;
		out->len = (uint16_t)(pl + MESH_PROBE_OUTER_LEN + MESH_PROBE_MAC_LEN);
		return sodium_is_zero(plain + MESH_PROBE_PLAIN_LEN, pl - MESH_PROBE_PLAIN_LEN) ?
		    0 : MESHD_E_PROTO;
	}
	if ((r = rd_u8(&rd, &family)) != 0)
		return r;
	if (family != 4 && family != 6)
		return MESHD_E_PROTO;
	if ((r = rd_bytes(&rd, addr, family == 4 ? 4 : 16)) != 0 ||
	    (r = rd_u16(&rd, &port)) != 0 ||
	    (r = rd_end(&rd)) != 0)
		return r;
	if (port == 0)
		return MESHD_E_PROTO;
	if (family == 4) {
		out->observed.sin.sin_family = AF_INET;
		memcpy(&out->observed.sin.sin_addr, addr, 4);
		out->observed.sin.sin_port = htons(port);
	} else {
		/* IPv4 travels only as family 4 */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)addr))
			return MESHD_E_PROTO;
		out->observed.sin6.sin6_family = AF_INET6;
		memcpy(&out->observed.sin6.sin6_addr, addr, 16);
		out->observed.sin6.sin6_port = htons(port);
	}
	return 0;
}

int mesh_probe_open(const struct mesh_probe_key *k, const uint8_t *p, size_t len,
    uint64_t now_unix, struct mesh_probe *out)
{
	uint8_t plain[MESH_PROBE_PADDED_MAX_LEN], pk[MESH_PROBE_KEY_LEN], type;
	const uint8_t *nonce = p + MESH_MSG_HDR_LEN + MESH_PROBE_KEY_LEN;
	size_t pl;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = mesh_probe_peek(p, len, &type, pk)) != 0)
		return r;
	if (sodium_memcmp(pk, k->peer_pk, sizeof pk) != 0)
		return MESHD_E_PROTO;
	pl = len - MESH_PROBE_OUTER_LEN - MESH_PROBE_MAC_LEN;
	/* sealed by the peer: its direction bit is the opposite of ours */
	if ((nonce[0] & 1) == k->dir_out)
		return MESHD_E_CRYPTO;
	if (crypto_box_open_easy_afternm(plain, p + MESH_PROBE_OUTER_LEN, len - MESH_PROBE_OUTER_LEN,
	    nonce, k->k) != 0) {
		r = MESHD_E_CRYPTO;
		goto out;
	}
	if ((r = decode_plain(plain, pl, type, out)) != 0)
		goto out;
	if (type == MESH_MSG_PROBE &&
	    (out->time > UINT64_MAX - MESH_PROBE_WINDOW_S ||
	    out->time + MESH_PROBE_WINDOW_S < now_unix ||
	    (now_unix <= UINT64_MAX - MESH_PROBE_WINDOW_S &&
	    out->time > now_unix + MESH_PROBE_WINDOW_S)))
		r = MESHD_E_EXPIRED;
out:
	sodium_memzero(plain, pl < sizeof plain ? pl : sizeof plain);
	if (r != 0)
		memset(out, 0, sizeof *out);
	return r;
}
