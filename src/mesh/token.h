/* Invite tokens: one copy-pasteable line that lets a new node find the mesh,
 * pin its authority and prove it was invited.
 *
 *	meshd-<base64url, no padding, of the payload>
 *
 * Payload, version 1 (big-endian; docs/wire-formats.md has the reasoning):
 *	u8 version | mesh_id[0..16] | secret[16] | u32 expires_at (unix s) |
 *	u8 nep (1..4), nep x (u8 family 4|6, addr[4|16], u16 port) |
 *	checksum[4] = BLAKE2b(key "meshd token checksum v1", all bytes before)
 *
 * Version 2 is the same layout; an endpoint's family byte may carry
 * MESH_TOKEN_EP_TCP (0x80): that endpoint is the inviter's TCP entry (a
 * joiner whose UDP gets no answer joins through it). A token is written as
 * version 2 only when it holds a TCP entry, so a token without one still
 * works with a meshd that knows only version 1; an older meshd reads a
 * version 2 token as "from a newer meshd", not as damaged. At least one
 * endpoint is UDP.
 *
 * The checksum sits at the end of every version, so parsing checks it before
 * looking at the version: a typo or a truncated paste reads as "malformed",
 * and only an intact token from a newer meshd reads as "unsupported version".
 * The checksum is not a MAC: anyone can make a well-formed token. A forged or
 * foreign token is caught at join time, when the authority key the inviter
 * presents does not hash to the pinned mesh id (mesh_token_pins()).
 */
#ifndef MESHD_MESH_TOKEN_H
#define MESHD_MESH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "util/addr.h"

enum {
	MESH_TOKEN_VERSION = 1,		/* no TCP entry */
	MESH_TOKEN_VERSION_TCP = 2,	/* with a TCP entry */
	MESH_TOKEN_EP_TCP = 0x80,	/* family flag (version 2) */
	MESH_TOKEN_ID_LEN = 16,		/* mesh id bytes carried: 128-bit pin */
	MESH_TOKEN_SECRET_LEN = 16,
	MESH_TOKEN_MAX_EP = 4,
	MESH_TOKEN_CSUM_LEN = 4,
	/* payload: fixed part, every endpoint IPv6, checksum */
	MESH_TOKEN_BIN_MAX = 1 + MESH_TOKEN_ID_LEN + MESH_TOKEN_SECRET_LEN + 4 + 1 +
	    MESH_TOKEN_MAX_EP * (1 + 16 + 2) + MESH_TOKEN_CSUM_LEN,
	MESH_TOKEN_B64_MAX = (4 * MESH_TOKEN_BIN_MAX + 2) / 3,
	MESH_TOKEN_PREFIX_LEN = 6,
	/* longest token string, without the NUL */
	MESH_TOKEN_STR_MAX = MESH_TOKEN_PREFIX_LEN + MESH_TOKEN_B64_MAX,
};

#define MESH_TOKEN_PREFIX "meshd-"
#define MESH_TOKEN_CSUM_DOMAIN "meshd token checksum v1"
#define MESH_TOKEN_HASH_DOMAIN "meshd invite secret v1"

struct mesh_token {
	uint8_t mesh_id[MESH_TOKEN_ID_LEN];	/* first bytes of the mesh id */
	uint8_t secret[MESH_TOKEN_SECRET_LEN];	/* one-time; wipe with mesh_token_clear() */
	uint32_t expires_at;			/* unix s; invalid from this second */
	uint8_t nep;
	uint8_t tcp;				/* bit i set: ep[i] is a TCP entry */
	union endpoint ep[MESH_TOKEN_MAX_EP];	/* the inviter's endpoints */
};

/* Writes the token line and a NUL into out. Returns 0; MESHD_E_INVAL when
 * the struct cannot be encoded (nep not 1..4, an endpoint that is not
 * AF_INET/AF_INET6, port 0, an IPv6 scope id or a v4-mapped IPv6 address,
 * tcp bits beyond nep or on every endpoint);
 * MESHD_E_RANGE when cap is too small (at most MESH_TOKEN_STR_MAX + 1 needed). */
int mesh_token_encode(const struct mesh_token *tok, char *out, size_t cap);

/* Parses a token line; ASCII whitespace around it is ignored, nothing else is
 * forgiven. Returns 0 or one of (out is zeroed on error):
 *	MESHD_E_INVAL	not a meshd token (does not start with "meshd-")
 *	MESHD_E_PROTO	malformed: empty or cut short (also inside the
 *			prefix), bad base64, too long, bad checksum, bad
 *			field, trailing bytes
 *	MESHD_E_RANGE	intact token of a version this meshd does not know
 * Expiry is not checked here: see mesh_token_check_expiry(). */
int mesh_token_parse(const char *s, struct mesh_token *out);

/* A one-line message for the codes above, for the command line. */
const char *mesh_token_strerror(int err);

/* 0, or MESHD_E_EXPIRED when now_unix >= tok->expires_at. */
int mesh_token_check_expiry(const struct mesh_token *tok, uint64_t now_unix);

/* True when the token's pin matches mesh_id (the hash of the authority key
 * the inviter presents). */
bool mesh_token_pins(const struct mesh_token *tok, const uint8_t mesh_id[MESH_ID_LEN]);

/* Zeroes the whole token, secret included. */
void mesh_token_clear(struct mesh_token *tok);

/* What the inviter stores for an invite, and the id it is found by:
 * out = BLAKE2b-256(key MESH_TOKEN_HASH_DOMAIN, secret). */
void mesh_token_secret_hash(const uint8_t secret[MESH_TOKEN_SECRET_LEN], uint8_t out[32]);

#endif
