/* Private to the join protocol's files (mesh/join.h):
 *   join_wire.c     the message codecs (request, error, sealed response)
 *                   and the invite key
 *   join_inviter.c  the inviter's state machine: answer cache, rate limits
 *   join_joiner.c   the joiner's state machine: retries, response checks
 * Nothing here is for other modules. */
#ifndef MESHD_MESH_JOIN_INTERNAL_H
#define MESHD_MESH_JOIN_INTERNAL_H

#include <stdbool.h>

#include "mesh/join.h"

enum {
	JOIN_HASH_LEN = 32,	/* BLAKE2b-256: request hashes, key derivation */
};

/* A JOIN_ERR reason this version knows (MESH_JOIN_R_*). */
static inline bool join_reason_known(int reason)
{
	return reason > 0 && reason < MESH_JOIN_R_END;
}

#endif
