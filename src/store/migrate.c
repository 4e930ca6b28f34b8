/* Schema versions. PRAGMA user_version holds the version of the schema in the
 * file; migrations[i] takes a database from version i to version i + 1 and
 * runs in one transaction together with the version bump, so a crash leaves
 * the database at one version or the next, never in between. Migrations are
 * only ever appended: a released one is never edited. docs/store.md holds the
 * resulting schema.
 *
 * A migration that must rebuild a table (SQLite's ALTER TABLE is limited)
 * follows the "create new, copy, drop, rename" procedure; foreign_keys is on
 * for the connection and cannot be switched off inside the transaction, so
 * such a migration must keep every reference valid at each statement.
 */
#include <stdio.h>

#include "store/internal.h"
#include "util/err.h"
#include "util/log.h"

/* Text lengths in CHECKs count characters; the C side checks bytes, which
 * is stricter. Blob sizes mirror store.h. Single-row tables use id = 1. */
static const char schema_v1[] =
	"CREATE TABLE node ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" node_id BLOB NOT NULL CHECK (length(node_id) = 16),"
	" name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
	" wg_private_key BLOB NOT NULL CHECK (length(wg_private_key) = 32),"
	" listen_port INTEGER NOT NULL CHECK (listen_port BETWEEN 0 AND 65535),"
	" ifname TEXT NOT NULL CHECK (length(ifname) <= 15),"
	" created_at INTEGER NOT NULL);"

	"CREATE TABLE mesh ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" mesh_id BLOB NOT NULL CHECK (length(mesh_id) = 32),"
	" name TEXT NOT NULL DEFAULT 'mesh'"
	"  CHECK (length(name) BETWEEN 1 AND 63),"
	" authority_pk BLOB NOT NULL CHECK (length(authority_pk) = 32),"
	" authority_sk BLOB"
	"  CHECK (authority_sk IS NULL OR length(authority_sk) = 64),"
	" prefix4 TEXT NOT NULL,"
	" prefix6 TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"

	/* Names are DNS labels: unique without regard to case. */
	"CREATE TABLE members ("
	" node_id BLOB PRIMARY KEY CHECK (length(node_id) = 16),"
	" name TEXT NOT NULL COLLATE NOCASE UNIQUE"
	"  CHECK (length(name) BETWEEN 1 AND 63),"
	" wg_public_key BLOB NOT NULL UNIQUE"
	"  CHECK (length(wg_public_key) = 32),"
	" overlay4 TEXT NOT NULL UNIQUE,"
	" overlay6 TEXT NOT NULL UNIQUE,"
	" cert BLOB NOT NULL CHECK (length(cert) BETWEEN 1 AND 4096),"
	" cert_version INTEGER NOT NULL CHECK (cert_version >= 0),"
	" cert_expires_at INTEGER NOT NULL,"
	" admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
	" updated_at INTEGER NOT NULL);"

	/* No reference to members: a revocation may arrive before the
	 * certificate it kills, and must outlive it. */
	"CREATE TABLE revocations ("
	" node_id BLOB PRIMARY KEY CHECK (length(node_id) = 16),"
	" record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 2048),"
	" revoked_at INTEGER NOT NULL);"

	"CREATE TABLE endpoints ("
	" node_id BLOB NOT NULL"
	"  REFERENCES members (node_id) ON DELETE CASCADE,"
	" addr TEXT NOT NULL,"
	" source TEXT NOT NULL"
	"  CHECK (source IN ('local', 'reflexive', 'portmap')),"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" last_success INTEGER,"
	" rtt_us INTEGER CHECK (rtt_us IS NULL OR rtt_us >= 0),"
	" PRIMARY KEY (node_id, addr, source));"

	"CREATE TABLE endpoint_records ("
	" node_id BLOB PRIMARY KEY"
	"  REFERENCES members (node_id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL CHECK (version >= 0),"
	" record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 2048),"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE invites ("
	" id INTEGER PRIMARY KEY,"
	" secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),"
	" expires_at INTEGER NOT NULL,"
	" uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
	" created_at INTEGER NOT NULL);"

	/* Deleting the relay member deletes the paths through it: they are
	 * gone, and "no row" reads as "no path". */
	"CREATE TABLE paths ("
	" node_id BLOB PRIMARY KEY"
	"  REFERENCES members (node_id) ON DELETE CASCADE,"
	" kind TEXT NOT NULL CHECK (kind IN ('none', 'direct', 'relay')),"
	" endpoint TEXT,"
	" via BLOB REFERENCES members (node_id) ON DELETE CASCADE,"
	" since INTEGER NOT NULL,"
	" CHECK ((kind = 'none' AND endpoint IS NULL AND via IS NULL) OR"
	"  (kind = 'direct' AND endpoint IS NOT NULL AND via IS NULL) OR"
	"  (kind = 'relay' AND via IS NOT NULL AND via <> node_id)));"
	/* The cascade from members looks paths up by via. */
	"CREATE INDEX paths_via ON paths (via);";

/* v2: indexes for the periodic sweeps (stale endpoints, expiring
 * certificates). Small on purpose; it also keeps the v1 -> v2 path tested. */
static const char schema_v2[] =
	"CREATE INDEX endpoints_last_seen ON endpoints (last_seen);"
	"CREATE INDEX members_cert_expires ON members (cert_expires_at);";

/* v3: invites are keyed by the 8-byte invite id and hold the invite public
 * key (mesh/join.h derives an Ed25519 key pair from the token secret; only
 * the public key may be stored). The table is replaced, not converted: a v2
 * row holds a hash of the secret, from which no public key can be derived,
 * and no released meshd ever wrote one (there was no `invite` command), so
 * the rows are dropped. secure_delete zeroes them in the file. Nothing
 * references invites, so the drop keeps every foreign key valid. The primary
 * key is NOT NULL explicitly: SQLite allows NULL in a non-integer one. */
_Static_assert(STORE_INVITE_ID_LEN == 8 && STORE_KEY_LEN == 32,
    "schema_v3 CHECKs mirror store.h");
static const char schema_v3[] =
	"DROP TABLE invites;"
	"CREATE TABLE invites ("
	" invite_id BLOB NOT NULL PRIMARY KEY"
	"  CHECK (length(invite_id) = 8),"
	" invite_pk BLOB NOT NULL CHECK (length(invite_pk) = 32),"
	" expires_at INTEGER NOT NULL CHECK (expires_at > 0),"
	" uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
	" created_at INTEGER NOT NULL);";

/* v4: the latest signed ROUTES record (advertised subnet routes) of each
 * member, kept like endpoint_records. The cascade from members deletes it
 * with the member (store_member_delete). A new table only: nothing is
 * copied, every existing row and reference is left as it is. */
_Static_assert(STORE_NODE_ID_LEN == 16 && STORE_RECORD_MAX == 2048,
    "schema_v4 CHECKs mirror store.h");
static const char schema_v4[] =
	"CREATE TABLE route_records ("
	" node_id BLOB NOT NULL PRIMARY KEY"
	"  CHECK (length(node_id) = 16)"
	"  REFERENCES members (node_id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL CHECK (version >= 0),"
	" record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 2048),"
	" updated_at INTEGER NOT NULL);";

/* v5: one table of signed records keyed by (kind, node id) instead of one
 * table per kind, so a new record kind needs no migration. Kinds are the
 * gossip values (3 ENDPOINTS, 4 ROUTES). Every row of endpoint_records and
 * route_records is copied with its version, bytes and time, then the old
 * tables are dropped; both reference members the same way the new table
 * does, so every foreign key stays valid at each statement. The index
 * serves the cascade from members, which looks records up by node id. */
_Static_assert(STORE_REC_ENDPOINTS == 3 && STORE_REC_ROUTES == 4 &&
    STORE_REC_KIND_MAX == 255, "schema_v5 mirrors store.h");
static const char schema_v5[] =
	"CREATE TABLE records ("
	" kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 255),"
	" node_id BLOB NOT NULL CHECK (length(node_id) = 16)"
	"  REFERENCES members (node_id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL CHECK (version >= 0),"
	" record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 2048),"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (kind, node_id));"
	"CREATE INDEX records_node ON records (node_id);"
	"INSERT INTO records (kind, node_id, version, record, updated_at)"
	" SELECT 3, node_id, version, record, updated_at FROM endpoint_records;"
	"INSERT INTO records (kind, node_id, version, record, updated_at)"
	" SELECT 4, node_id, version, record, updated_at FROM route_records;"
	"DROP TABLE endpoint_records;"
	"DROP TABLE route_records;";

/* v6: node settings that are not part of any signed record (the metrics
 * listener today), as key/value text: a new setting needs no migration. */
static const char schema_v6[] =
	"CREATE TABLE settings ("
	" key TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 32),"
	" value TEXT NOT NULL CHECK (length(value) <= 255));";

static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
};

_Static_assert(sizeof migrations / sizeof migrations[0] ==
    STORE_SCHEMA_LATEST, "one migration per schema version");

/* One step inside an open transaction: returns 1 when a migration ran (from
 * version *from), 0 when the database is already at target. */
static int step(struct store *st, int target, int *from)
{
	char bump[48];
	int v, r;

	if ((v = store_user_version(st)) < 0)
		return v;
	*from = v;
	if (v > STORE_SCHEMA_LATEST) {
		log_debug("store: schema version %d is newer than this meshd "
		    "understands (%d): upgrade meshd", v, STORE_SCHEMA_LATEST);
		return MESHD_E_RANGE;
	}
	if (v >= target)
		return 0;
	if ((r = store_exec(st, migrations[v])) != 0) {
		log_debug("store: migration to schema version %d failed", v + 1);
		return r;
	}
	snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
	if ((r = store_exec(st, bump)) != 0)
		return r;
	return 1;
}

int store_migrate(struct store *st, int target)
{
	int r, r2, v, first = -1;

	if (target < 0 || target > STORE_SCHEMA_LATEST)
		return MESHD_E_INVAL;
	/* The version is read again under the write lock: two processes
	 * opening an old database at once migrate it once. */
	do {
		if ((r = store_exec(st, "BEGIN IMMEDIATE")) != 0)
			return r;
		r = step(st, target, &v);
		if (r < 0) {
			store_exec(st, "ROLLBACK");
			return r;
		}
		if ((r2 = store_exec(st, "COMMIT")) != 0) {
			store_exec(st, "ROLLBACK");
			return r2;
		}
		if (r == 1 && first < 0)
			first = v;
	} while (r == 1);
	if (first > 0)	/* not for a new database */
		log_info("store: schema upgraded from version %d to %d", first,
		    target);
	return 0;
}
