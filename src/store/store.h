/* The node's persistent state: SQLite behind a small typed interface.
 *
 * Everything a node needs to rejoin its mesh after a restart, with no token
 * and no inviter, lives in one database file: this node (keys, name), the
 * mesh (authority key, prefixes), the members (certificates), revocations,
 * signed endpoint records, signed route records and invites.
 * docs/store.md describes the schema and the migration rules.
 *
 * Conventions:
 *  - Functions returning int return 0 (or a count where noted) on success and
 *    a negative MESHD_E_* code on failure. Every function also returns
 *    MESHD_E_NOMEM, MESHD_E_AGAIN (database locked by another process for
 *    longer than the busy timeout), MESHD_E_SYS (I/O error; errno saved),
 *    MESHD_E_PROTO (corrupt database) or MESHD_E_STATE (misuse, logged);
 *    those are not repeated below.
 *  - Times are wall-clock Unix seconds handed in by the caller: the store
 *    never reads a clock. 0 means "never" where a field says so.
 *  - Text fields are NUL-terminated and length-checked (MESHD_E_INVAL when
 *    empty where required or too long). Addresses are validated and stored in
 *    canonical form, so what a get returns may differ in spelling from what a
 *    put was given ("[::ffff:1.2.3.4]:5" comes back as "1.2.3.4:5").
 *  - Structs that carry secrets (store_node, store_mesh) must be wiped by the
 *    caller after use: store_node_clear(), store_mesh_clear().
 *  - Single-statement operations are atomic. Wrap several calls in
 *    store_tx_begin()/store_tx_commit() to make them atomic together.
 *  - Calls are short (one indexed statement each) but may block up to the busy
 *    timeout when another process holds the write lock; never call them from
 *    the data path.
 *  - foreach callbacks return 0 to continue; any other value stops the walk
 *    and is returned by the foreach. A callback may call other store
 *    functions but must not modify the table being walked nor start the same
 *    foreach again. The struct handed to it is valid only during the call.
 */
#ifndef MESHD_STORE_STORE_H
#define MESHD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NODE_ID_LEN	16	/* random node id */
#define STORE_KEY_LEN		32	/* X25519 / Ed25519 public or X25519 private */
#define STORE_MESH_ID_LEN	32	/* hash of the authority public key */
#define STORE_AUTH_SK_LEN	64	/* Ed25519 secret key (seed || public) */
#define STORE_INVITE_ID_LEN	8	/* invite id (mesh/join.h) */
#define STORE_NAME_MAX		63	/* node and mesh names: one DNS label */
#define STORE_IFNAME_MAX	15	/* IFNAMSIZ - 1 */
#define STORE_IP_STRLEN		46	/* INET6_ADDRSTRLEN, NUL included */
#define STORE_PREFIX_STRLEN	50	/* "addr/len", NUL included */
#define STORE_CERT_MAX		4096	/* signed node certificate */
#define STORE_RECORD_MAX	2048	/* signed revocation / endpoint record */
#define STORE_SETTING_KEY_MAX	32	/* settings: key length, bytes */
#define STORE_SETTING_MAX	255	/* settings: value length, bytes */

/* Schema version this build creates and understands. */
#define STORE_SCHEMA_LATEST	6

struct store;

/* This node (one row). */
struct store_node {
	uint8_t node_id[STORE_NODE_ID_LEN];
	char name[STORE_NAME_MAX + 1];
	uint8_t wg_private_key[STORE_KEY_LEN];	/* secret */
	uint16_t listen_port;			/* 0: pick one at start */
	char ifname[STORE_IFNAME_MAX + 1];
	int64_t created_at;
};

/* The mesh this node belongs to (one row). */
struct store_mesh {
	uint8_t mesh_id[STORE_MESH_ID_LEN];
	char name[STORE_NAME_MAX + 1];
	uint8_t authority_pk[STORE_KEY_LEN];
	bool has_authority_sk;			/* admin nodes only */
	uint8_t authority_sk[STORE_AUTH_SK_LEN];	/* secret */
	char prefix4[STORE_PREFIX_STRLEN];	/* IPv4 overlay, "100.64.0.0/16" */
	char prefix6[STORE_PREFIX_STRLEN];	/* IPv6 ULA, "fdxx:xxxx:xxxx::/48" */
	int64_t created_at;
};

/* A member of the mesh, as its certificate describes it. The store does not
 * parse the certificate: the other fields are what the mesh layer extracted
 * from it after verifying it, kept in columns so they can be looked up. */
struct store_member {
	uint8_t node_id[STORE_NODE_ID_LEN];
	char name[STORE_NAME_MAX + 1];		/* unique */
	uint8_t wg_public_key[STORE_KEY_LEN];	/* unique */
	char overlay4[STORE_IP_STRLEN];		/* unique, "100.64.0.7" */
	char overlay6[STORE_IP_STRLEN];		/* unique */
	uint64_t cert_version;			/* <= INT64_MAX; e.g. issued_at */
	int64_t cert_expires_at;
	bool admin;
	int64_t updated_at;
	size_t cert_len;
	uint8_t cert[STORE_CERT_MAX];
};

struct store_revocation {
	uint8_t node_id[STORE_NODE_ID_LEN];
	int64_t revoked_at;
	size_t record_len;
	uint8_t record[STORE_RECORD_MAX];	/* signed by the authority */
};

/* ---- signed records (schema v5: one table keyed by kind) ---- */

/* Record kinds, the values gossip uses for them (mesh/records.h
 * MESH_REC_*). CERT and REVOKE live in members and revocations. */
enum {
	STORE_REC_ENDPOINTS = 3,
	STORE_REC_ROUTES = 4,
	STORE_REC_KIND_MAX = 255,
};

/* The fields of a signed record of a node, as gossip carries it: those of
 * struct store_record after its kind, and of each typed view below. */
#define STORE_RECORD_FIELDS						\
	uint8_t node_id[STORE_NODE_ID_LEN];				\
	uint64_t version;			/* <= INT64_MAX */	\
	int64_t updated_at;						\
	size_t record_len;						\
	uint8_t record[STORE_RECORD_MAX]	/* signed by that node */

/* The latest signed record of one kind of a node, as gossip carries it. */
struct store_record {
	uint8_t kind;				/* 1..STORE_REC_KIND_MAX */
	STORE_RECORD_FIELDS;
};

/* Stores the record if it is newer than the stored one of the same kind and
 * node (or none is stored). Returns 0 (stored); MESHD_E_EXIST (this or a
 * higher version is stored: nothing changed); MESHD_E_INVAL (kind, version
 * > INT64_MAX, record length); MESHD_E_NOENT (node is not a member).
 * store_member_delete() deletes the member's records. */
int store_record_put(struct store *st, const struct store_record *rec);
/* Returns 0; MESHD_E_NOENT; MESHD_E_INVAL (kind). */
int store_record_get(struct store *st, int kind,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_record *out);
typedef int store_record_fn(const struct store_record *r, void *arg);
/* Records of kind (0: every kind) in (node id, kind) order. Returns 0, the
 * callback's non-zero value, or an error (MESHD_E_INVAL: kind). */
int store_record_foreach(struct store *st, int kind, store_record_fn *fn,
    void *arg);

/* ---- settings (schema v6): local options kept across restarts ----
 *
 * Plain text values under short keys ("metrics": the ADDR:PORT of the
 * metrics listener). Nothing here is signed or gossiped. */

/* Copies the value of key into out (cap bytes, NUL included). Returns 0;
 * MESHD_E_NOENT (not set); MESHD_E_INVAL (key empty or too long);
 * MESHD_E_RANGE (value does not fit in cap). */
int store_setting_get(struct store *st, const char *key, char *out, size_t cap);
/* Sets key to value; value NULL removes it (removing an absent key is 0).
 * Returns 0; MESHD_E_INVAL (key or value empty/too long). */
int store_setting_put(struct store *st, const char *key, const char *value);

/* Typed views of the same table, for callers that handle one kind. */

/* The latest signed endpoint record of a node, as gossip carries it. */
struct store_endpoint_record {
	STORE_RECORD_FIELDS;
};

struct store_invite {
	uint8_t invite_id[STORE_INVITE_ID_LEN];	/* unique: BLAKE2b(invite_pk)[0..8] */
	uint8_t invite_pk[STORE_KEY_LEN];	/* invite public key (derived from the
						 * token secret by a one-way hash) */
	int64_t expires_at;			/* valid while now < expires_at */
	uint32_t uses_left;
	int64_t created_at;
};

/* ---- open, close, transactions ---- */

/* Opens (creating it with mode 0600 if needed; the directory must exist) the
 * database at path and migrates it to STORE_SCHEMA_LATEST. An existing file
 * readable by others is tightened to 0600. *out is NULL on failure.
 * Returns 0; MESHD_E_INVAL (NULL, empty or ":memory:" path: use
 * store_open_memory); MESHD_E_RANGE (written by a newer meshd: schema version
 * above STORE_SCHEMA_LATEST; the file is left untouched); MESHD_E_PROTO (not
 * a database, or corrupt); MESHD_E_SYS (cannot create or open the file, or
 * WAL not available). */
int store_open(const char *path, struct store **out);

/* An in-memory database with the same schema, for tests. */
int store_open_memory(struct store **out);

/* What a store error r means, in words for a user: errno's text for
 * MESHD_E_SYS (so call it before anything else changes errno), "not a meshd
 * database, or a damaged one", "written by a newer meshd; upgrade meshd",
 * "locked by another process", else meshd_strerror(r). The store logs none
 * of the errors it returns (only at debug level): the caller's line is the
 * only one. */
const char *store_strerror(int r);

/* The whole line for store error r on path (at most len bytes, cut short
 * if need be): "PATH was written by a newer meshd; upgrade meshd", "PATH is
 * locked by another process", or "WHAT PATH: store_strerror(r)" (what:
 * "cannot open", say). */
void store_error_line(char *buf, size_t len, const char *what, const char *path, int r);

/* Closes the database, rolling back an open transaction. NULL is a no-op. */
void store_close(struct store *st);

/* How long a call waits for another process's write lock before failing
 * with MESHD_E_AGAIN (default STORE_BUSY_TIMEOUT_MS in store/internal.h).
 * The daemon lowers it so that a CLI command holding the lock never stalls
 * the event loop. Returns 0 or MESHD_E_INVAL. */
int store_set_busy_timeout(struct store *st, unsigned ms);

/* The schema version of the open database (>= 0), or a negative error. */
int store_schema_version(struct store *st);

/* BEGIN IMMEDIATE: takes the write lock now, so the transaction cannot fail
 * later for lock upgrade. Transactions do not nest.
 * Returns 0; MESHD_E_STATE (already in a transaction); MESHD_E_AGAIN. */
int store_tx_begin(struct store *st);
/* Returns 0; MESHD_E_STATE (no transaction open). On any other error the
 * transaction has been rolled back. */
int store_tx_commit(struct store *st);
/* Returns 0; MESHD_E_STATE (no transaction open). */
int store_tx_rollback(struct store *st);

/* ---- this node ---- */

/* Returns 0 or MESHD_E_NOENT (not initialised). */
int store_node_get(struct store *st, struct store_node *out);
/* Creates or replaces the row. Returns 0 or MESHD_E_INVAL (empty or long
 * name, long ifname). */
int store_node_put(struct store *st, const struct store_node *node);
/* Wipes the secret in n. */
void store_node_clear(struct store_node *n);

/* ---- the mesh ---- */

/* Returns 0 or MESHD_E_NOENT (no mesh yet). */
int store_mesh_get(struct store *st, struct store_mesh *out);
/* Creates or replaces the row. Returns 0 or MESHD_E_INVAL (empty or long
 * name; prefix4 not an IPv4 prefix; prefix6 not an IPv6 prefix). */
int store_mesh_put(struct store *st, const struct store_mesh *mesh);
/* Wipes the secret in m. */
void store_mesh_clear(struct store_mesh *m);

/* ---- members ---- */

/* Inserts, or replaces the member with the same node id. Whether a
 * certificate is newer is the mesh layer's rule: read the current one with
 * store_member_get_by_id inside a transaction to compare atomically.
 * Returns 0; MESHD_E_INVAL (bad name, address, cert length, version);
 * MESHD_E_EXIST (another member already has this name, WireGuard key or
 * overlay address). */
int store_member_upsert(struct store *st, const struct store_member *m);
/* Return 0 or MESHD_E_NOENT. */
int store_member_get_by_id(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_member *out);
int store_member_get_by_name(struct store *st, const char *name,
    struct store_member *out);
/* Deletes the member with its endpoints, endpoint record, route record and
 * path, and every path relayed through it. Returns 0 or MESHD_E_NOENT. */
int store_member_delete(struct store *st, const uint8_t id[STORE_NODE_ID_LEN]);
typedef int store_member_fn(const struct store_member *m, void *arg);
/* In name order. Returns 0, the callback's non-zero value, or an error. */
int store_member_foreach(struct store *st, store_member_fn *fn, void *arg);

/* ---- revocations ---- */

/* Revocations are permanent: the first one stored for a node is kept. They
 * need no member row (one may arrive before, or outlive, the certificate).
 * Returns 0; MESHD_E_EXIST (already revoked); MESHD_E_INVAL (record length). */
int store_revocation_put(struct store *st, const struct store_revocation *r);
/* Returns 1 (revoked), 0 (not revoked) or a negative error. */
int store_revocation_exists(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN]);
/* Returns 0 or MESHD_E_NOENT. */
int store_revocation_get(struct store *st, const uint8_t id[STORE_NODE_ID_LEN],
    struct store_revocation *out);
typedef int store_revocation_fn(const struct store_revocation *r, void *arg);
/* In revoked_at order. Returns 0, the callback's non-zero value, or an error. */
int store_revocation_foreach(struct store *st, store_revocation_fn *fn,
    void *arg);

/* ---- endpoints ---- */

/* Stores the record if it is newer than the stored one (or none is stored).
 * Returns 0 (stored); MESHD_E_EXIST (a record with this or a higher version
 * is already stored: nothing changed); MESHD_E_INVAL (version > INT64_MAX,
 * record length); MESHD_E_NOENT (node is not a member). */
int store_endpoint_record_put(struct store *st,
    const struct store_endpoint_record *rec);
/* Returns 0 or MESHD_E_NOENT. */
int store_endpoint_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_endpoint_record *out);

/* The latest signed ROUTES record of a node (mesh/routes.h), as gossip
 * carries it. Same rules as endpoint records. */
struct store_route_record {
	STORE_RECORD_FIELDS;
};

/* Stores the record if it is newer than the stored one (or none is stored).
 * Returns 0 (stored); MESHD_E_EXIST (same or higher version stored: nothing
 * changed); MESHD_E_INVAL (version > INT64_MAX, record length);
 * MESHD_E_NOENT (node is not a member). store_member_delete() deletes it. */
int store_route_record_put(struct store *st,
    const struct store_route_record *rec);
/* Returns 0 or MESHD_E_NOENT. */
int store_route_record_get(struct store *st,
    const uint8_t id[STORE_NODE_ID_LEN], struct store_route_record *out);
typedef int store_route_record_fn(const struct store_route_record *r,
    void *arg);
/* In node id order. Returns 0, the callback's non-zero value, or an error. */
int store_route_record_foreach(struct store *st, store_route_record_fn *fn,
    void *arg);

/* ---- invites ---- */

/* Stores an invite. Returns 0; MESHD_E_INVAL (uses_left 0, expires_at <= 0);
 * MESHD_E_EXIST (same invite id already stored). */
int store_invite_add(struct store *st, const struct store_invite *inv);
/* Uses the invite once, atomically: decrements uses_left when it is > 0 and
 * now < expires_at. *uses_left_out (may be NULL) gets the uses remaining.
 * Returns 0; MESHD_E_NOENT (unknown id); MESHD_E_PERM (used up);
 * MESHD_E_EXPIRED (expired, uses left). A used-up invite is reported as used
 * up even when it has also expired. */
int store_invite_consume(struct store *st,
    const uint8_t invite_id[STORE_INVITE_ID_LEN], int64_t now,
    uint32_t *uses_left_out);
/* Returns 0 or MESHD_E_NOENT. */
int store_invite_get(struct store *st,
    const uint8_t invite_id[STORE_INVITE_ID_LEN], struct store_invite *out);
typedef int store_invite_fn(const struct store_invite *inv, void *arg);
/* In created_at order. Returns 0, the callback's non-zero value, or an error. */
int store_invite_foreach(struct store *st, store_invite_fn *fn, void *arg);
/* Deletes invites that are used up or expired at now. Returns the number
 * deleted (>= 0) or a negative error. */
int store_invite_purge(struct store *st, int64_t now);

#endif
