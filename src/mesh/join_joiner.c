/* The join protocol, joiner side (mesh/join.h): sends the signed JOIN_REQ
 * to the token's endpoints with retries, opens the sealed answer and checks
 * that it is for us, for the mesh the token pins, and consistent. */
#include <string.h>

#include <sodium.h>

#include "mesh/join_internal.h"
#include "util/err.h"

static const char *const outcome_msgs[MESH_JOIN_OUTCOME_END] = {
	[MESH_JOIN_PENDING] = "join still in progress",
	[MESH_JOIN_OK] = "joined the mesh",
	[MESH_JOIN_TIMEOUT] = "inviter unreachable: no answer from the token's endpoints",
	[MESH_JOIN_FOREIGN_MESH] = "the inviter belongs to a different mesh than the token "
	    "names (wrong or forged token?)",
	[MESH_JOIN_BAD_RESPONSE] = "the inviter sent a certificate that is invalid or not "
	    "for this node",
	[MESH_JOIN_UNKNOWN_INVITE] = "the inviter does not know this invite (revoked, or "
	    "made by another node?)",
	[MESH_JOIN_EXPIRED] = "the invite has expired: ask for a new token",
	[MESH_JOIN_USED_UP] = "the invite has been used up: ask for a new token",
	[MESH_JOIN_NAME_TAKEN] = "that name is already taken in the mesh: choose another",
	[MESH_JOIN_BAD_REQUEST] = "the inviter refused the request: check this machine's "
	    "clock",
	[MESH_JOIN_INTERNAL] = "the inviter failed to admit this node (see its log)",
};

const char *mesh_join_strerror(int outcome)
{
	if (outcome < 0 || outcome >= MESH_JOIN_OUTCOME_END)
		return "unknown join outcome";
	return outcome_msgs[outcome];
}

static void finish(struct mesh_join_joiner *j, enum mesh_join_outcome outcome)
{
	j->state = MESH_JOINER_DONE;
	j->outcome = outcome;
	sodium_memzero(j->wg_sk, sizeof j->wg_sk);
}

static void send_next(struct mesh_join_joiner *j, mtime_ns now)
{
	const union endpoint *dst = &j->ep[j->next_ep];

	j->next_ep = (j->next_ep + 1) % j->nep;
	j->sent++;
	j->next_send = now + j->interval;
	j->interval = j->interval * 2 > MSEC(JOIN_RETRY_MAX_MS) ? MSEC(JOIN_RETRY_MAX_MS) :
	    j->interval * 2;
	j->send(j->ctx, dst, j->req, j->req_len);
}

int mesh_join_joiner_start(struct mesh_join_joiner *j, const struct mesh_token *tok,
    const char *name, const uint8_t wg_pk[MESH_WG_KEY_LEN], const uint8_t wg_sk[MESH_WG_KEY_LEN],
    const uint8_t sign_pk[MESH_PK_LEN], mtime_ns now, uint64_t now_unix,
    mesh_join_send_fn *send, void *ctx)
{
	uint8_t ipk[MESH_PK_LEN], isk[MESH_SK_LEN], chk[MESH_WG_KEY_LEN];
	struct mesh_join_req req;
	struct wr w;
	int r = MESHD_E_INVAL;

	memset(j, 0, sizeof *j);
	memset(&req, 0, sizeof req);
	if (tok->nep < 1 || tok->nep > MESH_TOKEN_MAX_EP || !mesh_name_valid(name) ||
	    send == NULL)
		goto out;
	if (crypto_scalarmult_base(chk, wg_sk) != 0 ||
	    sodium_memcmp(chk, wg_pk, MESH_WG_KEY_LEN) != 0)
		goto out;
	if ((r = mesh_token_check_expiry(tok, now_unix)) != 0 ||
	    (r = mesh_join_invite_keypair(tok->secret, ipk, isk)) != 0)
		goto out;

	mesh_join_invite_id(ipk, req.invite_id);
	memcpy(req.pin, tok->mesh_id, sizeof req.pin);
	strcpy(req.name, name);
	memcpy(req.wg_pk, wg_pk, sizeof req.wg_pk);
	memcpy(req.sign_pk, sign_pk, sizeof req.sign_pk);
	req.time = now_unix;
	randombytes_buf(req.request_id, sizeof req.request_id);
	wr_init(&w, j->req, sizeof j->req);
	if ((r = mesh_join_req_sign(&req, isk)) != 0 || (r = mesh_join_req_encode(&req, &w)) != 0)
		goto out;

	j->req_len = w.off;
	memcpy(j->pin, tok->mesh_id, sizeof j->pin);
	j->nep = tok->nep;
	memcpy(j->ep, tok->ep, sizeof j->ep);
	strcpy(j->name, name);
	memcpy(j->wg_pk, wg_pk, sizeof j->wg_pk);
	memcpy(j->wg_sk, wg_sk, sizeof j->wg_sk);
	memcpy(j->sign_pk, sign_pk, sizeof j->sign_pk);
	memcpy(j->request_id, req.request_id, sizeof j->request_id);
	j->started = now;
	j->deadline = now + SEC(JOIN_TIMEOUT_S);
	j->unix_at_start = now_unix;
	j->interval = MSEC(JOIN_RETRY_FIRST_MS);
	j->send = send;
	j->ctx = ctx;
	j->state = MESH_JOINER_WAITING;
	j->outcome = MESH_JOIN_PENDING;
	send_next(j, now);
	r = 0;
out:
	if (r != 0)
		mesh_join_joiner_clear(j);
	sodium_memzero(isk, sizeof isk);
	sodium_memzero(chk, sizeof chk);
	sodium_memzero(&req, sizeof req);
	return r;
}

mtime_ns mesh_join_joiner_next_expiry(const struct mesh_join_joiner *j)
{
	if (j->state != MESH_JOINER_WAITING)
		return MTIME_NEVER;
	return j->next_send < j->deadline ? j->next_send : j->deadline;
}

int mesh_join_joiner_handle_expiry(struct mesh_join_joiner *j, mtime_ns now)
{
	if (j->state != MESH_JOINER_WAITING)
		return j->outcome;
	if (now >= j->deadline)
		finish(j, MESH_JOIN_TIMEOUT);
	else if (now >= j->next_send)
		send_next(j, now);
	return j->outcome;
}

/* The response names our mesh's authority (else FOREIGN_MESH) and carries a
 * valid certificate for exactly us in its prefixes (else BAD_RESPONSE). */
static enum mesh_join_outcome check_resp(struct mesh_join_joiner *j, mtime_ns now)
{
	struct mesh_join_result *res = &j->result;
	struct mesh_prefix ula;
	uint64_t now_unix = j->unix_at_start;

	if (now > j->started)
		now_unix += (now - j->started) / SEC(1);
	mesh_identity_mesh_id(res->resp.authority_pk, res->mesh_id);
	if (sodium_memcmp(res->mesh_id, j->pin, sizeof j->pin) != 0)
		return MESH_JOIN_FOREIGN_MESH;
	mesh_identity_ula_prefix(res->mesh_id, &ula);
	if (mesh_cert_decode(res->resp.cert, res->resp.cert_len, &res->cert) != 0 ||
	    !mesh_cert_verify(&res->cert, res->resp.authority_pk, now_unix) ||
	    strcmp(res->cert.name, j->name) != 0 ||
	    sodium_memcmp(res->cert.wg_pubkey, j->wg_pk, sizeof j->wg_pk) != 0 ||
	    sodium_memcmp(res->cert.sign_pk, j->sign_pk, sizeof j->sign_pk) != 0 ||
	    mesh_prefix_cmp(&ula, &res->resp.prefix6) != 0 ||
	    !mesh_prefix_contains_addr(&res->resp.prefix6, MESH_FAMILY_V6, res->cert.ipv6) ||
	    !mesh_prefix_contains_addr(&res->resp.prefix4, MESH_FAMILY_V4, res->cert.ipv4))
		return MESH_JOIN_BAD_RESPONSE;
	return MESH_JOIN_OK;
}

int mesh_join_joiner_input(struct mesh_join_joiner *j, const uint8_t *dgram, size_t len,
    const union endpoint *src, mtime_ns now)
{
	uint8_t rid[MESH_JOIN_REQUEST_ID_LEN];
	struct mesh_join_err e;
	enum mesh_join_outcome o;

	if (j->state != MESH_JOINER_WAITING || !mesh_msg_is_mesh(dgram, len))
		return j->outcome;
	if (dgram[1] == MESH_MSG_JOIN_ERR) {
		if (mesh_join_err_decode(dgram, len, &e) != 0 ||
		    sodium_memcmp(e.request_id, j->request_id, sizeof rid) != 0)
			return j->outcome;
		if (e.reason == MESH_JOIN_R_OTHER_MESH)
			o = MESH_JOIN_FOREIGN_MESH;
		else
			o = (enum mesh_join_outcome)(MESH_JOIN_UNKNOWN_INVITE +
			    (e.reason - MESH_JOIN_R_UNKNOWN_INVITE));
		finish(j, o);
		return j->outcome;
	}
	if (dgram[1] != MESH_MSG_JOIN_RESP || mesh_join_resp_peek(dgram, len, rid) != 0 ||
	    sodium_memcmp(rid, j->request_id, sizeof rid) != 0)
		return j->outcome;
	if (mesh_join_resp_open(dgram, len, j->wg_pk, j->wg_sk, rid, &j->result.resp) != 0)
		return j->outcome;
	o = check_resp(j, now);
	if (o == MESH_JOIN_OK && src != NULL)
		j->result.from = *src;
	if (o != MESH_JOIN_OK)
		memset(&j->result, 0, sizeof j->result);
	finish(j, o);
	return j->outcome;
}

const struct mesh_join_result *mesh_join_joiner_result(const struct mesh_join_joiner *j)
{
	return j->state == MESH_JOINER_DONE && j->outcome == MESH_JOIN_OK ? &j->result : NULL;
}

void mesh_join_joiner_clear(struct mesh_join_joiner *j)
{
	sodium_memzero(j, sizeof *j);
}
