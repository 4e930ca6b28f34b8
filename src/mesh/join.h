/* Joining a mesh with an invite token (docs/mesh-protocol.md §2): two
 * sans-I/O state machines, the inviter's and the joiner's, and the codecs of
 * their three underlay messages (mesh/wire.h framing; layouts in
 * docs/wire-formats.md, "Join messages").
 *
 * Invite key. Both sides derive an Ed25519 key pair from the token's 16-byte
 * secret s: seed = BLAKE2b-256(key = s, "meshd invite v1"), then
 * crypto_sign_seed_keypair(). The invite id is the first 8 bytes of
 * BLAKE2b-256(invite public key). The inviter stores only (id, public key,
 * expiry, uses): its database alone cannot forge a join.
 *
 *	joiner                                   inviter
 *	JOIN_REQ  ---- each token endpoint in turn, 250 ms doubling to 2 s --->
 *	  invite id, pin, name, wg pk, sign pk, unix time, request id,
 *	  sig by the invite key over "meshd join req v1" || all bytes before
 *	                                          pin not ours       -> ERR other-mesh
 *	                                          same bytes answered -> cached
 *	                                          unknown invite id  -> ERR
 *	                                          bad signature      -> drop
 *	                                          time off by > 300 s -> ERR
 *	                                          admit() (one store tx: use,
 *	                                          name, addresses, cert, member)
 *	<--- JOIN_RESP: request id | crypto_box_seal(joiner wg pk, cert,
 *	     authority pk, mesh name, prefixes, inviter endpoints, roster)
 *	<--- or JOIN_ERR: request id | reason (unauthenticated)
 *	opens with its wg key, checks hash(authority pk) against the token's pin
 *	(FOREIGN_MESH), verifies the cert and that it binds our name and keys
 *	(BAD_RESPONSE), hands the result to the caller, who stores it.
 *
 * Retransmits are the same bytes, so the inviter's cache of answered requests
 * (keyed by request id and the hash of the request) resends the response
 * without consuming a second use of the invite.
 *
 * JOIN_ERR is signed by nobody. The joiner treats it as final, for the CLI's
 * error text only: it changes no state. Someone who can see our request can
 * forge one and at worst abort this join (they could as well drop the
 * packets). A JOIN_RESP that does not open, or is not for our request id, is
 * dropped and the joiner keeps waiting; one that opens but names another
 * mesh or carries a wrong certificate is final (anyone can seal to our
 * public key, so this too can at worst abort the join).
 */
#ifndef MESHD_MESH_JOIN_H
#define MESHD_MESH_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/bucket.h"
#include "mesh/cert.h"
#include "mesh/endpoints.h"
#include "mesh/identity.h"
#include "mesh/records.h"
#include "mesh/token.h"
#include "mesh/wire.h"
#include "util/addr.h"
#include "util/buf.h"
#include "util/time.h"

enum {
	JOIN_SKEW_S = 300,		/* request time vs the inviter's clock */
	JOIN_TIMEOUT_S = 10,		/* joiner gives up ("unreachable") */
	JOIN_RETRY_FIRST_MS = 250,	/* first retransmit interval, doubling */
	JOIN_RETRY_MAX_MS = 2000,	/* to at most this */
	JOIN_CACHE_N = 64,		/* answered requests remembered */
	JOIN_CACHE_S = 2 * JOIN_SKEW_S,	/* for this long: as long as a request
					 * could still pass the time check */
	/* A cached answer is resent at most this often and this many times:
	 * a joiner retransmits 7 times in JOIN_TIMEOUT_S (250 ms doubling to
	 * 2 s), while a replayed request could otherwise draw the ~5x larger
	 * answer towards the joiner's address for all of JOIN_CACHE_S. */
	JOIN_RESEND_MAX = 8,
	JOIN_RESEND_GAP_MS = JOIN_RETRY_FIRST_MS / 2,
	/* Budget for Ed25519 verifications of requests (~73 us each), the
	 * only costly step anyone who knows an invite id can trigger. Per
	 * source address (IPv4 /32, IPv6 /64): a joiner verifies once per
	 * answered request, retransmits hit the cache. Global: caps the CPU a
	 * spoofing flood can burn (100/s is under 1 % of a core). */
	JOIN_VERIFY_SRC_PER_S = 2,
	JOIN_VERIFY_SRC_BURST = 8,
	JOIN_VERIFY_PER_S = 100,
	JOIN_VERIFY_BURST = 200,
	JOIN_SRC_N = 64,		/* sources with a bucket (LRU beyond) */
	JOIN_PURGE_S = 3600,		/* the inviter purges dead invites this often */
	JOIN_PURGE_GRACE_S = 86400,	/* keeps expired ones this long, so that a
					 * late joiner still reads "expired" */

	MESH_JOIN_INVITE_ID_LEN = 8,
	MESH_JOIN_REQUEST_ID_LEN = 16,
	MESH_JOIN_SEAL_LEN = 48,	/* crypto_box_SEALBYTES */
	MESH_JOIN_ROSTER_MAX = 16,	/* records in one response */
	MESH_JOIN_MAX_EP = MESH_ENDPOINTS_MAX,	/* inviter endpoints */

	/* JOIN_REQ: header, invite id, pin, name str, wg pk, sign pk, time,
	 * request id, signature */
	MESH_JOIN_REQ_FIXED_LEN = MESH_MSG_HDR_LEN + MESH_JOIN_INVITE_ID_LEN + MESH_TOKEN_ID_LEN +
	    1 + MESH_WG_KEY_LEN + MESH_PK_LEN + 8 + MESH_JOIN_REQUEST_ID_LEN + MESH_SIG_LEN,
	MESH_JOIN_REQ_MAX_LEN = MESH_JOIN_REQ_FIXED_LEN + MESH_NAME_MAX,
	/* JOIN_ERR: header, request id, reason */
	MESH_JOIN_ERR_LEN = MESH_MSG_HDR_LEN + MESH_JOIN_REQUEST_ID_LEN + 1,
	/* JOIN_RESP: header, request id, sealed box */
	MESH_JOIN_RESP_OUTER_LEN = MESH_MSG_HDR_LEN + MESH_JOIN_REQUEST_ID_LEN + MESH_JOIN_SEAL_LEN,
	MESH_JOIN_RESP_MAX_LEN = MESH_MSG_DGRAM_MAX,
	MESH_JOIN_RESP_PLAIN_MAX = MESH_JOIN_RESP_MAX_LEN - MESH_JOIN_RESP_OUTER_LEN,
};

#define MESH_JOIN_INVITE_DOMAIN "meshd invite v1"
#define MESH_JOIN_REQ_DOMAIN "meshd join req v1"

/* JOIN_ERR reasons (wire values). admit() returns these too. */
enum mesh_join_reason {
	MESH_JOIN_R_UNKNOWN_INVITE = 1,
	MESH_JOIN_R_EXPIRED = 2,
	MESH_JOIN_R_USED_UP = 3,
	MESH_JOIN_R_NAME_TAKEN = 4,
	MESH_JOIN_R_BAD_REQUEST = 5,
	MESH_JOIN_R_INTERNAL = 6,
	MESH_JOIN_R_OTHER_MESH = 7,	/* the pin is not ours: joiner -> FOREIGN_MESH */
	MESH_JOIN_R_END
};

/* Short name of a reason for logs ("name-taken"); never NULL. */
const char *mesh_join_reason_str(int reason);

/* ---- invite key ---- */

/* The invite key pair of a token secret. Returns 0 or MESHD_E_CRYPTO. The
 * caller wipes sk with sodium_memzero(). */
int mesh_join_invite_keypair(const uint8_t secret[MESH_TOKEN_SECRET_LEN],
    uint8_t pk[MESH_PK_LEN], uint8_t sk[MESH_SK_LEN]);

/* The id an invite is stored and found by: BLAKE2b-256(pk)[0..8]. */
void mesh_join_invite_id(const uint8_t pk[MESH_PK_LEN], uint8_t id[MESH_JOIN_INVITE_ID_LEN]);

/* ---- messages ---- */

struct mesh_join_req {
	uint8_t invite_id[MESH_JOIN_INVITE_ID_LEN];
	uint8_t pin[MESH_TOKEN_ID_LEN];		/* first bytes of the mesh id */
	char name[MESH_NAME_MAX + 1];		/* requested name, a DNS label */
	uint8_t wg_pk[MESH_WG_KEY_LEN];		/* joiner's WireGuard key */
	uint8_t sign_pk[MESH_PK_LEN];		/* joiner's Ed25519 key */
	uint64_t time;				/* joiner's unix s */
	uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN];
	uint8_t sig[MESH_SIG_LEN];		/* by the invite key */
};

/* Appends the whole JOIN_REQ (header included). 0; MESHD_E_INVAL (name not
 * a DNS label); MESHD_E_RANGE (w full; nothing written). */
int mesh_join_req_encode(const struct mesh_join_req *req, struct wr *w);
/* Strict decode of exactly len bytes. 0 or MESHD_E_PROTO (out zeroed). */
int mesh_join_req_decode(const uint8_t *p, size_t len, struct mesh_join_req *out);
/* Fills req->sig. 0; MESHD_E_INVAL (not encodable); MESHD_E_CRYPTO. */
int mesh_join_req_sign(struct mesh_join_req *req, const uint8_t invite_sk[MESH_SK_LEN]);
/* True only when req->sig is the invite key's signature over the request. */
bool mesh_join_req_verify(const struct mesh_join_req *req, const uint8_t invite_pk[MESH_PK_LEN]);

struct mesh_join_err {
	uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN];
	uint8_t reason;				/* enum mesh_join_reason */
};

/* 0; MESHD_E_INVAL (unknown reason); MESHD_E_RANGE. */
int mesh_join_err_encode(const struct mesh_join_err *e, struct wr *w);
/* 0 or MESHD_E_PROTO (bad length, unknown reason; out zeroed). */
int mesh_join_err_decode(const uint8_t *p, size_t len, struct mesh_join_err *out);

/* One roster record inside a response: its bytes live in resp->data. */
struct mesh_join_rec {
	uint8_t kind;				/* enum mesh_rec_kind */
	uint16_t off, len;			/* in mesh_join_resp.data */
};

/* What JOIN_RESP carries inside the sealed box. Build one with
 * mesh_join_resp_init() and the add functions, which keep the whole datagram
 * within MESH_JOIN_RESP_MAX_LEN. */
struct mesh_join_resp {
	uint8_t cert[MESH_CERT_MAX_LEN];	/* the joiner's certificate */
	uint16_t cert_len;
	uint8_t authority_pk[MESH_PK_LEN];
	char mesh_name[MESH_NAME_MAX + 1];	/* a DNS label */
	struct mesh_prefix prefix4, prefix6;	/* overlay prefixes */
	uint8_t nep;
	struct mesh_ep ep[MESH_JOIN_MAX_EP];	/* the inviter's endpoints */
	uint8_t nrec;
	struct mesh_join_rec rec[MESH_JOIN_ROSTER_MAX];	/* certs, then
						 * revocations, then endpoint
						 * records, each in added order */
	uint8_t data[MESH_JOIN_RESP_PLAIN_MAX];	/* roster record bytes */
	uint16_t data_len;
};

/* Starts a response around an encoded certificate. 0; MESHD_E_INVAL (cert
 * does not decode, name or a prefix invalid). */
int mesh_join_resp_init(struct mesh_join_resp *resp, const uint8_t *cert, size_t cert_len,
    const uint8_t authority_pk[MESH_PK_LEN], const char *mesh_name,
    const struct mesh_prefix *prefix4, const struct mesh_prefix *prefix6);
/* Adds an inviter endpoint. 0; MESHD_E_INVAL (not mesh_ep_valid());
 * MESHD_E_FULL (MESH_JOIN_MAX_EP held, or the datagram would grow too big). */
int mesh_join_resp_add_endpoint(struct mesh_join_resp *resp, const struct mesh_ep *ep);
/* Adds a roster record (copied). 0; MESHD_E_INVAL (does not decode as kind);
 * MESHD_E_FULL (would not fit: later, smaller records still may). */
int mesh_join_resp_add_record(struct mesh_join_resp *resp, enum mesh_rec_kind kind,
    const uint8_t *bytes, size_t len);
/* Length of the JOIN_RESP datagram resp makes. */
size_t mesh_join_resp_len(const struct mesh_join_resp *resp);

/* Appends the JOIN_RESP datagram: header, request id, resp sealed to the
 * joiner's WireGuard (X25519) public key. 0; MESHD_E_INVAL; MESHD_E_RANGE;
 * MESHD_E_CRYPTO. */
int mesh_join_resp_seal(const struct mesh_join_resp *resp,
    const uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN], const uint8_t wg_pk[MESH_WG_KEY_LEN],
    struct wr *w);
/* Reads a JOIN_RESP's request id without opening it. 0 or MESHD_E_PROTO. */
int mesh_join_resp_peek(const uint8_t *p, size_t len, uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN]);
/* Opens and strictly decodes a JOIN_RESP with the joiner's WireGuard key
 * pair. Every roster record decodes as its kind; no signature is checked.
 * 0; MESHD_E_CRYPTO (does not open); MESHD_E_PROTO (malformed). out is zeroed
 * on error. */
int mesh_join_resp_open(const uint8_t *p, size_t len, const uint8_t wg_pk[MESH_WG_KEY_LEN],
    const uint8_t wg_sk[MESH_WG_KEY_LEN], uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN],
    struct mesh_join_resp *out);

/* ---- inviter ---- */

/* An invite as the store holds it. */
struct mesh_join_invite {
	uint8_t pk[MESH_PK_LEN];		/* invite public key */
	uint64_t expires_at;			/* unix s; invalid from this second */
	uint32_t uses_left;
};

/* The store, as the inviter needs it. Called synchronously from
 * mesh_join_inviter_handle(). */
struct mesh_join_inviter_ops {
	/* 0 and *out, or MESHD_E_NOENT (any other error: internal). */
	int (*lookup)(void *ctx, const uint8_t invite_id[MESH_JOIN_INVITE_ID_LEN],
	    struct mesh_join_invite *out);
	/* In ONE store transaction: consume one use of the invite, check the
	 * name is free, allocate overlay addresses, sign the certificate
	 * (binding name, wg_pk, sign_pk) into *cert, insert the member. Returns
	 * 0; a positive MESH_JOIN_R_EXPIRED, _USED_UP, _NAME_TAKEN or
	 * _UNKNOWN_INVITE with nothing changed; a negative MESHD_E_* (internal,
	 * nothing changed). */
	int (*admit)(void *ctx, const uint8_t invite_id[MESH_JOIN_INVITE_ID_LEN],
	    const char *name, const uint8_t wg_pk[MESH_WG_KEY_LEN],
	    const uint8_t sign_pk[MESH_PK_LEN], uint64_t now_unix, struct mesh_cert *cert);
	/* Fills the roster with mesh_join_resp_add_endpoint() and
	 * mesh_join_resp_add_record(): the inviter's endpoints, its own cert and
	 * endpoint record first, then whatever else fits (MESHD_E_FULL from an
	 * add is not an error; gossip brings the rest). May be NULL. Its
	 * return value is ignored: the member is already admitted, so the
	 * response goes out with what was added. */
	int (*roster)(void *ctx, struct mesh_join_resp *resp);
};

struct mesh_join_inviter_cfg {
	uint8_t authority_pk[MESH_PK_LEN];
	char mesh_name[MESH_NAME_MAX + 1];
	struct mesh_prefix prefix4, prefix6;
	struct mesh_join_inviter_ops ops;
	void *ctx;
};

struct mesh_join_cached {
	bool live;
	uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN];
	uint8_t req_hash[32];			/* of the whole request datagram */
	union endpoint to;			/* the only address it is resent to */
	uint64_t at;				/* unix s of the answer */
	uint64_t used;				/* LRU tick */
	mtime_ns resent_at;			/* last resend (monotonic) */
	uint8_t resends;			/* times resent so far */
	uint16_t len;
	uint8_t resp[MESH_JOIN_RESP_MAX_LEN];
};

struct mesh_join_src {
	bool used;
	uint8_t key[1 + 8];			/* family, IPv4 address or IPv6 /64 */
	mtime_ns last_use;
	struct mesh_bucket b;
};

struct mesh_join_stats {
	uint64_t verified;			/* signature checks done */
	uint64_t drop_ratelimit;		/* per-source bucket empty */
	uint64_t drop_budget;			/* global bucket empty */
	uint64_t drop_replay;			/* cached request from another address */
	uint64_t drop_resend;			/* cached answer resent too often */
};

struct mesh_join_inviter {
	struct mesh_join_inviter_cfg cfg;
	uint8_t mesh_id[MESH_ID_LEN];
	uint64_t tick;
	struct mesh_join_cached cache[JOIN_CACHE_N];
	struct mesh_bucket budget;
	struct mesh_join_src src[JOIN_SRC_N];
	struct mesh_join_stats st;
};

/* 0; MESHD_E_INVAL (mesh name, prefixes or ops missing). */
int mesh_join_inviter_init(struct mesh_join_inviter *inv, const struct mesh_join_inviter_cfg *cfg);
void mesh_join_inviter_clear(struct mesh_join_inviter *inv);

/* Handles one underlay datagram of type JOIN_REQ from src (anything else,
 * or src NULL, is dropped). now is monotonic (rate limits), now_unix the
 * wall clock (request time, invite expiry). reply must hold
 * MESH_MSG_DGRAM_MAX bytes; *reply_len is set to the length of the datagram
 * to send back to src, 0 for none (silent drop).
 *
 * Anyone who can send UDP can send a JOIN_REQ, so: every answer that does
 * not need the invite's secret (JOIN_ERR) is smaller than any request; a
 * JOIN_RESP (larger) goes only to a request signed by the invite key, and
 * its cached copy only ever to the address it was first sent to (a replay
 * from elsewhere is dropped); requests for unknown, expired or used-up
 * invites are answered before any signature check; signature checks are
 * rate limited per source address and globally (over budget: silent drop).
 *
 * Returns 0, or MESHD_E_RANGE when *reply_len is too small on entry (it
 * carries reply's capacity in). */
int mesh_join_inviter_handle(struct mesh_join_inviter *inv, const union endpoint *src,
    const uint8_t *dgram, size_t len, mtime_ns now, uint64_t now_unix, uint8_t *reply,
    size_t *reply_len);
/* Counters of the defences above (for status and tests). */
void mesh_join_inviter_stats(const struct mesh_join_inviter *inv, struct mesh_join_stats *out);

/* ---- joiner ---- */

/* Sends one underlay datagram (p is borrowed for the call). Called from
 * mesh_join_joiner_start() and _handle_expiry(); it must not call back into
 * the joiner (queue the datagram instead). */
typedef void mesh_join_send_fn(void *ctx, const union endpoint *dst, const uint8_t *p, size_t len);

enum mesh_join_outcome {
	MESH_JOIN_PENDING = 0,		/* still waiting */
	MESH_JOIN_OK,			/* joined: see mesh_join_joiner_result() */
	MESH_JOIN_TIMEOUT,		/* no answer in JOIN_TIMEOUT_S */
	MESH_JOIN_FOREIGN_MESH,		/* authority key does not match the pin */
	MESH_JOIN_BAD_RESPONSE,		/* cert invalid or not ours */
	MESH_JOIN_UNKNOWN_INVITE,	/* JOIN_ERR reasons from here on */
	MESH_JOIN_EXPIRED,
	MESH_JOIN_USED_UP,
	MESH_JOIN_NAME_TAKEN,
	MESH_JOIN_BAD_REQUEST,
	MESH_JOIN_INTERNAL,
	MESH_JOIN_OUTCOME_END
};

/* One line for the command line, per outcome; never NULL. */
const char *mesh_join_strerror(int outcome);

enum mesh_joiner_state {
	MESH_JOINER_IDLE = 0,
	MESH_JOINER_WAITING,
	MESH_JOINER_DONE,
};

/* What a successful join hands the caller to store. */
struct mesh_join_result {
	struct mesh_join_resp resp;		/* as received */
	struct mesh_cert cert;			/* resp.cert decoded and verified */
	uint8_t mesh_id[MESH_ID_LEN];		/* of resp.authority_pk */
	union endpoint from;			/* where the response came from */
};

struct mesh_join_joiner {
	enum mesh_joiner_state state;
	enum mesh_join_outcome outcome;
	uint8_t pin[MESH_TOKEN_ID_LEN];
	uint8_t nep;
	union endpoint ep[MESH_TOKEN_MAX_EP];	/* the token's endpoints */
	char name[MESH_NAME_MAX + 1];
	uint8_t wg_pk[MESH_WG_KEY_LEN], wg_sk[MESH_WG_KEY_LEN];	/* wg_sk: secret */
	uint8_t sign_pk[MESH_PK_LEN];
	uint8_t request_id[MESH_JOIN_REQUEST_ID_LEN];
	uint8_t req[MESH_JOIN_REQ_MAX_LEN];	/* sent as is on every try */
	size_t req_len;
	mtime_ns started, deadline, next_send, interval;	/* monotonic */
	uint64_t unix_at_start;
	unsigned next_ep;
	unsigned sent;				/* datagrams sent, first included */
	mesh_join_send_fn *send;
	void *ctx;
	struct mesh_join_result result;
};

/* Builds the signed JOIN_REQ and sends it to the token's first endpoint at
 * once. now is monotonic, now_unix the wall clock (the request's time and
 * the certificate check use now_unix plus the monotonic time elapsed).
 * Returns 0; MESHD_E_EXPIRED (token expired at now_unix); MESHD_E_INVAL (bad
 * name, wg_sk not the key of wg_pk, no endpoints); MESHD_E_CRYPTO. The token
 * secret is not kept. */
int mesh_join_joiner_start(struct mesh_join_joiner *j, const struct mesh_token *tok,
    const char *name, const uint8_t wg_pk[MESH_WG_KEY_LEN], const uint8_t wg_sk[MESH_WG_KEY_LEN],
    const uint8_t sign_pk[MESH_PK_LEN], mtime_ns now, uint64_t now_unix,
    mesh_join_send_fn *send, void *ctx);

/* When mesh_join_joiner_handle_expiry() next has work; MTIME_NEVER when
 * not waiting. */
mtime_ns mesh_join_joiner_next_expiry(const struct mesh_join_joiner *j);
/* Retransmits (to the next endpoint in turn) or gives up with TIMEOUT. Does
 * nothing before the expiry. Returns the outcome (PENDING while waiting). */
int mesh_join_joiner_handle_expiry(struct mesh_join_joiner *j, mtime_ns now);
/* Handles one underlay datagram from src (may be NULL; it is only recorded
 * in the result: the response is authenticated by the box and the pin, not
 * by its source). Anything that is not a JOIN_RESP or JOIN_ERR for our
 * request id, or does not open, is dropped. Returns the outcome (PENDING
 * while waiting; once done, every later call returns the same outcome). */
int mesh_join_joiner_input(struct mesh_join_joiner *j, const uint8_t *dgram, size_t len,
    const union endpoint *src, mtime_ns now);
/* The result, valid while outcome is OK, until mesh_join_joiner_clear(). */
const struct mesh_join_result *mesh_join_joiner_result(const struct mesh_join_joiner *j);
/* Wipes everything, keys included. */
void mesh_join_joiner_clear(struct mesh_join_joiner *j);

#endif
