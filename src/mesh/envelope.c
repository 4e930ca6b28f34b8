/* The node-signed record envelope (mesh/envelope.h). */
#include <string.h>

#include <sodium.h>

#include "mesh/cert.h"
#include "mesh/envelope.h"
#include "util/err.h"

enum { SIGNED_MAX = 2048 };	/* longest header + body of any kind */

/* Everything before the signature. */
static int encode_signed(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, struct wr *w)
{
	int r;

	if (env->version != k->version)
		return MESHD_E_INVAL;
	if ((r = wr_u8(w, env->version)) != 0 ||
	    (r = wr_bytes(w, env->mesh_id, sizeof env->mesh_id)) != 0 ||
	    (r = wr_bytes(w, env->node_id, sizeof env->node_id)) != 0 ||
	    (r = wr_u64(w, env->seq)) != 0 ||
	    (r = wr_u64(w, env->timestamp)) != 0)
		return r;
	return k->body_encode(rec, w);
}

int mesh_envelope_encode(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t sig[MESH_SIG_LEN], struct wr *w)
{
	size_t start = w->off;
	int r;

	if ((r = encode_signed(k, env, rec, w)) != 0 ||
	    (r = wr_bytes(w, sig, MESH_SIG_LEN)) != 0)
		w->off = start;
	return r;
}

int mesh_envelope_decode(const struct mesh_envelope_kind *k, const uint8_t *p, size_t len,
    struct mesh_envelope *env, void *rec, size_t size, uint8_t sig[MESH_SIG_LEN])
{
	struct rd rd;

	memset(rec, 0, size);
	rd_init(&rd, p, len);
	if (rd_u8(&rd, &env->version) != 0 || env->version != k->version ||
	    rd_bytes(&rd, env->mesh_id, sizeof env->mesh_id) != 0 ||
	    rd_bytes(&rd, env->node_id, sizeof env->node_id) != 0 ||
	    rd_u64(&rd, &env->seq) != 0 ||
	    rd_u64(&rd, &env->timestamp) != 0 ||
	    k->body_decode(&rd, rec) != 0 ||
	    rd_bytes(&rd, sig, MESH_SIG_LEN) != 0 ||
	    rd_end(&rd) != 0) {
		memset(rec, 0, size);
		return MESHD_E_PROTO;
	}
	return 0;
}

int mesh_envelope_sign(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t node_sk[MESH_SK_LEN], uint8_t sig[MESH_SIG_LEN])
{
	uint8_t buf[SIGNED_MAX];
	struct wr w;
	int r;

	wr_init(&w, buf, sizeof buf);
	if ((r = encode_signed(k, env, rec, &w)) != 0)
		return r == MESHD_E_RANGE ? MESHD_E_INVAL : r;
	return mesh_identity_sign(node_sk, k->domain, buf, w.off, sig);
}

uint64_t mesh_envelope_expiry(const struct mesh_envelope_kind *k,
    const struct mesh_envelope *env)
{
	if (k->ttl_s == 0 || env->timestamp > UINT64_MAX - k->ttl_s)
		return UINT64_MAX;
	return env->timestamp + k->ttl_s;
}

bool mesh_envelope_fresh(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	if (sodium_memcmp(env->mesh_id, mesh_id, MESH_ID_LEN) != 0)
		return false;
	if (now_unix >= mesh_envelope_expiry(k, env))
		return false;
	return !(env->timestamp > now_unix && env->timestamp - now_unix > MESH_CERT_SKEW_S);
}

bool mesh_envelope_verify(const struct mesh_envelope_kind *k, const struct mesh_envelope *env,
    const void *rec, const uint8_t sig[MESH_SIG_LEN], const uint8_t sign_pk[MESH_PK_LEN],
    const uint8_t mesh_id[MESH_ID_LEN], uint64_t now_unix)
{
	uint8_t buf[SIGNED_MAX];
	struct wr w;

	if (env->version != k->version || !mesh_envelope_fresh(k, env, mesh_id, now_unix))
		return false;
	wr_init(&w, buf, sizeof buf);
	if (encode_signed(k, env, rec, &w) != 0)
		return false;
	return mesh_identity_verify(sign_pk, k->domain, buf, w.off, sig);
}
