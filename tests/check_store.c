/* Tests for src/store/: schema and migrations, each table's round trip and
 * merge rules, invite consumption, transactions, file mode and durability
 * across a SIGKILL. Databases live in a fresh temporary directory per test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/internal.h"
#include "store/store.h"
#include "util/err.h"

Suite *suite_store(void);

/* ---- fixtures ---- */

struct tmpdb {
	char dir[64];
	char path[96];
};

static void tmpdb_init(struct tmpdb *t)
{
	const char *base = getenv("TMPDIR");

	snprintf(t->dir, sizeof t->dir, "%s/check_store.XXXXXX",
	    base != NULL && base[0] != '\0' && strlen(base) < 32 ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof t->path, "%s/meshd.db", t->dir);
}

static void tmpdb_clear(struct tmpdb *t)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

static struct store *open_mem(void)
{
	struct store *st = NULL;

	ck_assert_int_eq(store_open_memory(&st), 0);
	ck_assert_ptr_nonnull(st);
	return st;
}

static void id_fill(uint8_t id[STORE_NODE_ID_LEN], uint8_t b)
{
	memset(id, b, STORE_NODE_ID_LEN);
}

/* Member number n: name "node<n>", 100.64.0.<n>, fd00::<n>. */
static void member_make(struct store_member *m, uint8_t n)
{
	memset(m, 0, sizeof *m);
	id_fill(m->node_id, n);
	snprintf(m->name, sizeof m->name, "node%u", n);
	memset(m->wg_public_key, 0x80 + n, sizeof m->wg_public_key);
	snprintf(m->overlay4, sizeof m->overlay4, "100.64.0.%u", n);
	snprintf(m->overlay6, sizeof m->overlay6, "fd00::%x", n);
	m->cert_version = 1000 + n;
	m->cert_expires_at = 2000000000;
	m->admin = n == 1;
	m->updated_at = 1700000000 + n;
	m->cert_len = 100 + n;
	memset(m->cert, n, m->cert_len);
}

static void member_add(struct store *st, uint8_t n)
{
	struct store_member m;

	member_make(&m, n);
	ck_assert_int_eq(store_member_upsert(st, &m), 0);
}

static void node_make(struct store_node *n)
{
	memset(n, 0, sizeof *n);
	id_fill(n->node_id, 7);
	strcpy(n->name, "alpha");
	memset(n->wg_private_key, 0x5a, sizeof n->wg_private_key);
	n->listen_port = 51820;
	strcpy(n->ifname, "meshd0");
	n->created_at = 1700000000;
}

static void invite_make(struct store_invite *inv, uint8_t b, uint32_t uses,
    int64_t expires)
{
	memset(inv, 0, sizeof *inv);
	memset(inv->invite_id, b, sizeof inv->invite_id);
	memset(inv->invite_pk, b ^ 0xff, sizeof inv->invite_pk);
	inv->uses_left = uses;
	inv->expires_at = expires;
	inv->created_at = 1000;
}

static int count_cb(const void *rec, void *arg)
{
	(void)rec;
	(*(int *)arg)++;
	return 0;
}

static int count_member(const struct store_member *m, void *arg)
{
	return count_cb(m, arg);
}

static int count_revocation(const struct store_revocation *r, void *arg)
{
	return count_cb(r, arg);
}

static int count_record(const struct store_record *r, void *arg)
{
	return count_cb(r, arg);
}

static int count_invite(const struct store_invite *inv, void *arg)
{
	return count_cb(inv, arg);
}

/* Route record of member n at version v: record bytes n, length 10 + n. */
static void route_record_make(struct store_route_record *rec, uint8_t n,
    uint64_t v)
{
	memset(rec, 0, sizeof *rec);
	id_fill(rec->node_id, n);
	rec->version = v;
	rec->updated_at = 1700000000 + (int64_t)v;
	rec->record_len = 10 + (size_t)n;
	memset(rec->record, n, rec->record_len);
}

/* Opens the file with plain SQLite to look at or damage what the store
 * wrote. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	return db;
}

static int raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int raw_has_index(sqlite3 *db, const char *name)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'index' AND name = '%s'", name);
	return raw_int(db, sql);
}

static int raw_has_column(sqlite3 *db, const char *table, const char *col)
{
	char sql[160];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') "
	    "WHERE name = '%s'", table, col);
	return raw_int(db, sql);
}

/* A recognisable "secret hash", to look for in the file after the drop. */
#define V2_HASH_HEX "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2"
static const uint8_t v2_hash_head[8] = {
	0x5e, 0xc2, 0xe7, 0x5e, 0xc2, 0xe7, 0x5e, 0xc2,
};

/* Whether the file at path contains needle anywhere. */
static bool file_contains(const char *path, const void *needle, size_t n)
{
	static uint8_t buf[1 << 20];
	ssize_t len, i;
	int fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	len = read(fd, buf, sizeof buf);
	close(fd);
	ck_assert_int_gt(len, 0);
	ck_assert_int_lt(len, (ssize_t)sizeof buf);
	for (i = 0; i + (ssize_t)n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return true;
	return false;
}

/* An invite row as schema v1/v2 stored it (a hash of the token secret), put
 * in with plain SQLite: the store's API speaks only the current schema. */
static void raw_add_v2_invite(const char *path)
{
	sqlite3 *db = raw_open(path);

	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites (secret_hash, "
	    "expires_at, uses_left, created_at) VALUES (x'" V2_HASH_HEX "', "
	    "5000, 2, 1000)", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM invites"), 1);
	sqlite3_close(db);
}

/* ---- open, schema, migrations ---- */

START_TEST(test_store_open_memory_latest)
{
	struct store *st = open_mem();

	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	store_close(st);
	store_close(NULL);
}
END_TEST

START_TEST(test_store_open_file_latest)
{
	struct tmpdb t;
	struct store *st = NULL;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	store_close(st);
	/* Reopening an up-to-date database changes nothing. */
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	store_close(st);
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"),
	    STORE_SCHEMA_LATEST);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('node', 'mesh', 'members', "
	    "'revocations', 'endpoints', 'records', 'invites', "
	    "'paths')"), 8);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_open_bad_args)
{
	struct store *st = NULL;

	ck_assert_int_eq(store_open(NULL, &st), MESHD_E_INVAL);
	ck_assert_int_eq(store_open("", &st), MESHD_E_INVAL);
	ck_assert_int_eq(store_open(":memory:", &st), MESHD_E_INVAL);
	ck_assert_int_eq(store_open_at_version("/tmp/x", 0, &st),
	    MESHD_E_INVAL);
	ck_assert_int_eq(store_open_at_version("/tmp/x",
	    STORE_SCHEMA_LATEST + 1, &st), MESHD_E_INVAL);
	ck_assert_int_eq(store_open("/nonexistent-dir-meshd/x.db", &st),
	    MESHD_E_SYS);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_store_open_file_mode_0600)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_node n;
	struct stat sb;
	char wal[128];
	mode_t old = umask(0);
	int fd;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	node_make(&n);
	ck_assert_int_eq(store_node_put(st, &n), 0);
	store_node_clear(&n);
	ck_assert_int_eq(stat(t.path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	/* The WAL holds the same secrets; SQLite copies the file's mode. */
	snprintf(wal, sizeof wal, "%s-wal", t.path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	store_close(st);
	tmpdb_clear(&t);

	/* An existing world-readable file is tightened, with its WAL. */
	tmpdb_init(&t);
	fd = open(t.path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(wal, sizeof wal, "%s-wal", t.path);
	fd = open(wal, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(stat(t.path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	store_close(st);
	tmpdb_clear(&t);
	umask(old);
}
END_TEST

START_TEST(test_store_open_refuses_future_version)
{
	struct tmpdb t;
	struct store *st = NULL;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	store_close(st);
	st = NULL;
	db = raw_open(t.path);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 999", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	ck_assert_int_eq(store_open(t.path, &st), MESHD_E_RANGE);
	ck_assert_ptr_null(st);
	/* Left as it was. */
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 999);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_open_rejects_non_database)
{
	static const char junk[] = "this is not an SQLite database, it is "
	    "a text file that is long enough to hold a header........";
	struct tmpdb t;
	struct store *st = NULL;
	int fd;

	tmpdb_init(&t);
	fd = open(t.path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	ck_assert_int_eq(store_open(t.path, &st), MESHD_E_PROTO);
	ck_assert_ptr_null(st);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_migrate_from_v1)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_node n;
	struct store_member m, got;
	uint8_t id[STORE_NODE_ID_LEN];
	int count = 0;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open_at_version(t.path, 1, &st), 0);
	ck_assert_int_eq(store_schema_version(st), 1);
	node_make(&n);
	ck_assert_int_eq(store_node_put(st, &n), 0);
	member_add(st, 1);
	member_add(st, 2);
	store_close(st);
	st = NULL;
	raw_add_v2_invite(t.path);

	db = raw_open(t.path);
	/* a candidate endpoint row as v1 had them (no API writes them now) */
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO endpoints VALUES "
	    "(x'02020202020202020202020202020202', '198.51.100.2:51820', "
	    "'reflexive', 50, 50, NULL, NULL)", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 1);
	ck_assert_int_eq(raw_has_index(db, "endpoints_last_seen"), 0);
	sqlite3_close(db);

	/* The full build migrates it and keeps every row. */
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	store_node_clear(&n);
	ck_assert_int_eq(store_node_get(st, &n), 0);
	ck_assert_str_eq(n.name, "alpha");
	store_node_clear(&n);
	member_make(&m, 2);
	id_fill(id, 2);
	ck_assert_int_eq(store_member_get_by_id(st, id, &got), 0);
	ck_assert_str_eq(got.name, m.name);
	ck_assert_uint_eq(got.cert_len, m.cert_len);
	ck_assert_mem_eq(got.cert, m.cert, m.cert_len);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 2);
	/* Except the old invites: v3 drops them (docs/store.md). */
	count = 0;
	ck_assert_int_eq(store_invite_foreach(st, count_invite, &count), 0);
	ck_assert_int_eq(count, 0);
	store_close(st);

	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"),
	    STORE_SCHEMA_LATEST);
	ck_assert_int_eq(raw_has_index(db, "endpoints_last_seen"), 1);
	ck_assert_int_eq(raw_has_index(db, "members_cert_expires"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM endpoints"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_migrate_from_v2_drops_invites)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_member m, got;
	struct store_invite inv, inv2;
	uint8_t id[STORE_NODE_ID_LEN];
	uint32_t left = 99;
	int count = 0;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open_at_version(t.path, 2, &st), 0);
	ck_assert_int_eq(store_schema_version(st), 2);
	member_add(st, 3);
	store_close(st);
	st = NULL;
	raw_add_v2_invite(t.path);
	db = raw_open(t.path);
	ck_assert_int_eq(raw_has_column(db, "invites", "secret_hash"), 1);
	ck_assert_int_eq(sqlite3_wal_checkpoint_v2(db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert(file_contains(t.path, v2_hash_head, sizeof v2_hash_head));

	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	/* The member is untouched... */
	member_make(&m, 3);
	id_fill(id, 3);
	ck_assert_int_eq(store_member_get_by_id(st, id, &got), 0);
	ck_assert_str_eq(got.name, m.name);
	ck_assert_mem_eq(got.wg_public_key, m.wg_public_key,
	    sizeof m.wg_public_key);
	ck_assert_uint_eq(got.cert_len, m.cert_len);
	ck_assert_mem_eq(got.cert, m.cert, m.cert_len);
	ck_assert_int_eq(got.cert_version, m.cert_version);
	/* ...the v2 invite is gone, and the new table works. */
	ck_assert_int_eq(store_invite_foreach(st, count_invite, &count), 0);
	ck_assert_int_eq(count, 0);
	invite_make(&inv, 0x21, 2, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 100, &left),
	    0);
	ck_assert_uint_eq(left, 1);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &inv2), 0);
	ck_assert_mem_eq(inv2.invite_pk, inv.invite_pk, sizeof inv.invite_pk);
	store_close(st);

	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"),
	    STORE_SCHEMA_LATEST);
	ck_assert_int_eq(raw_has_column(db, "invites", "secret_hash"), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM invites"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM members"), 1);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check <> 'ok'"), 0);
	sqlite3_close(db);
	/* secure_delete: the dropped row is not left in a free page (the last
	 * close checkpointed the WAL into the file). */
	ck_assert(!file_contains(t.path, v2_hash_head, sizeof v2_hash_head));
	tmpdb_clear(&t);
}
END_TEST

/* A new database is created at version 6 directly, with the v3 invites
 * table, the v5 records table (no per-kind record tables) and the v6
 * settings table, and their CHECKs hold against writers other than the
 * store. */
START_TEST(test_store_fresh_is_v6)
{
	struct tmpdb t;
	struct store *st = NULL;
	sqlite3 *db;

	ck_assert_int_eq(STORE_SCHEMA_LATEST, 6);
	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), 6);
	member_add(st, 1);
	store_close(st);
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO settings VALUES ('', 'x')", NULL, NULL,
	    NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL,
	    NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name IN ('endpoint_records', 'route_records')"), 0);
	ck_assert_int_eq(raw_has_column(db, "records", "kind"), 1);
	ck_assert_int_eq(raw_has_column(db, "records", "node_id"), 1);
	ck_assert_int_eq(raw_has_column(db, "records", "version"), 1);
	ck_assert_int_eq(raw_has_column(db, "records", "record"), 1);
	ck_assert_int_eq(raw_has_column(db, "records", "updated_at"), 1);
	ck_assert_int_eq(raw_has_index(db, "records_node"), 1);
	/* kind 0 and 256, NULL, short id, negative version, empty and long
	 * record, a node that is not a member, a second row for one key. */
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(0, x'01010101010101010101010101010101', 1, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(256, x'01010101010101010101010101010101', 1, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, NULL, 1, zeroblob(1), 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, zeroblob(15), 1, zeroblob(1), 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'01010101010101010101010101010101', -1, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'01010101010101010101010101010101', 1, zeroblob(0), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'01010101010101010101010101010101', 1, zeroblob(2049), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'02020202020202020202020202020202', 1, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM records"), 0);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'01010101010101010101010101010101', 1, zeroblob(2048), 0)",
	    NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(4, x'01010101010101010101010101010101', 2, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO records VALUES "
	    "(3, x'01010101010101010101010101010101', 2, zeroblob(1), 0)",
	    NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(raw_has_column(db, "invites", "invite_id"), 1);
	ck_assert_int_eq(raw_has_column(db, "invites", "invite_pk"), 1);
	ck_assert_int_eq(raw_has_column(db, "invites", "secret_hash"), 0);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites VALUES "
	    "(zeroblob(7), zeroblob(32), 5, 1, 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites VALUES "
	    "(zeroblob(8), zeroblob(31), 5, 1, 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites VALUES "
	    "(NULL, zeroblob(32), 5, 1, 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites VALUES "
	    "(zeroblob(8), zeroblob(32), 5, -1, 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO invites VALUES "
	    "(zeroblob(8), zeroblob(32), 0, 1, 0)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM invites"), 0);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

#define E7x33 "e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7"

/* A v3 database (as meshd before advertised routes left it) is migrated to
 * the latest version keeping its members, endpoint records and invites. */
START_TEST(test_store_migrate_from_v3)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_member m, got;
	struct store_endpoint_record er, egot;
	struct store_route_record rr, rgot;
	struct store_invite inv, igot;
	uint8_t id[STORE_NODE_ID_LEN];
	int count = 0;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open_at_version(t.path, 3, &st), 0);
	ck_assert_int_eq(store_schema_version(st), 3);
	member_add(st, 1);
	member_add(st, 2);
	memset(er.record, 0xe7, 33);
	invite_make(&inv, 0x31, 3, 9000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	store_close(st);
	st = NULL;
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 3);
	/* an endpoint record as v3 kept it (the API writes the v5 table) */
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO endpoint_records VALUES "
	    "(x'02020202020202020202020202020202', 7, x'" E7x33 "', 70)", NULL,
	    NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'route_records'"), 0);
	sqlite3_close(db);

	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	member_make(&m, 2);
	id_fill(id, 2);
	ck_assert_int_eq(store_member_get_by_id(st, id, &got), 0);
	ck_assert_str_eq(got.name, m.name);
	ck_assert_uint_eq(got.cert_len, m.cert_len);
	ck_assert_mem_eq(got.cert, m.cert, m.cert_len);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(store_endpoint_record_get(st, id, &egot), 0);
	ck_assert_uint_eq(egot.version, 7);
	ck_assert_int_eq(egot.updated_at, 70);
	ck_assert_uint_eq(egot.record_len, 33);
	ck_assert_mem_eq(egot.record, er.record, 33);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &igot), 0);
	ck_assert_mem_eq(igot.invite_pk, inv.invite_pk, sizeof inv.invite_pk);
	ck_assert_uint_eq(igot.uses_left, 3);
	ck_assert_int_eq(igot.expires_at, 9000);
	/* The new table is there, empty, and works. */
	ck_assert_int_eq(store_route_record_get(st, id, &rgot), MESHD_E_NOENT);
	route_record_make(&rr, 2, 1);
	ck_assert_int_eq(store_route_record_put(st, &rr), 0);
	ck_assert_int_eq(store_route_record_get(st, id, &rgot), 0);
	ck_assert_uint_eq(rgot.record_len, rr.record_len);
	store_close(st);

	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_LATEST);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM records"), 2);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check <> 'ok'"), 0);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

/* A v4 database with endpoint and route records of several members, as
 * meshd with per-kind tables left it, is migrated to v5: every record is in
 * the one table under its kind with its version, bytes and time, the old
 * tables are gone, newer-wins and the member cascade still hold. */
START_TEST(test_store_migrate_from_v4)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_endpoint_record egot;
	struct store_route_record rgot, rr;
	struct store_record g;
	uint8_t id[STORE_NODE_ID_LEN];
	int count = 0;
	sqlite3 *db;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open_at_version(t.path, 4, &st), 0);
	for (uint8_t n = 1; n <= 3; n++)
		member_add(st, n);
	store_close(st);
	st = NULL;
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 4);
	ck_assert_int_eq(sqlite3_exec(db,
	    "INSERT INTO endpoint_records VALUES "
	    "(x'01010101010101010101010101010101', 11, x'" E7x33 "', 110),"
	    "(x'02020202020202020202020202020202', 12, x'e2e2', 120);"
	    "INSERT INTO route_records VALUES "
	    "(x'02020202020202020202020202020202', 22, x'4242424242', 220),"
	    "(x'03030303030303030303030303030303', 9223372036854775807, "
	    "zeroblob(2048), 230);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_LATEST);
	id_fill(id, 1);
	ck_assert_int_eq(store_endpoint_record_get(st, id, &egot), 0);
	ck_assert_uint_eq(egot.version, 11);
	ck_assert_int_eq(egot.updated_at, 110);
	ck_assert_uint_eq(egot.record_len, 33);
	ck_assert_uint_eq(egot.record[32], 0xe7);
	ck_assert_int_eq(store_route_record_get(st, id, &rgot), MESHD_E_NOENT);
	id_fill(id, 2);
	ck_assert_int_eq(store_endpoint_record_get(st, id, &egot), 0);
	ck_assert_uint_eq(egot.version, 12);
	ck_assert_uint_eq(egot.record_len, 2);
	ck_assert_int_eq(store_route_record_get(st, id, &rgot), 0);
	ck_assert_uint_eq(rgot.version, 22);
	ck_assert_int_eq(rgot.updated_at, 220);
	ck_assert_uint_eq(rgot.record_len, 5);
	ck_assert_mem_eq(rgot.record, "BBBBB", 5);
	id_fill(id, 3);
	ck_assert_int_eq(store_record_get(st, STORE_REC_ROUTES, id, &g), 0);
	ck_assert_uint_eq(g.kind, STORE_REC_ROUTES);
	ck_assert_uint_eq(g.version, INT64_MAX);
	ck_assert_uint_eq(g.record_len, 2048);
	ck_assert_int_eq(store_record_get(st, STORE_REC_ENDPOINTS, id, &g),
	    MESHD_E_NOENT);
	/* the generic walk sees all four, in (node id, kind) order */
	ck_assert_int_eq(store_record_foreach(st, 0, count_record, &count), 0);
	ck_assert_int_eq(count, 4);
	/* newer wins across the migration, and the cascade still deletes */
	id_fill(id, 2);
	route_record_make(&rr, 2, 22);
	ck_assert_int_eq(store_route_record_put(st, &rr), MESHD_E_EXIST);
	route_record_make(&rr, 2, 23);
	ck_assert_int_eq(store_route_record_put(st, &rr), 0);
	ck_assert_int_eq(store_member_delete(st, id), 0);
	ck_assert_int_eq(store_endpoint_record_get(st, id, &egot),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_route_record_get(st, id, &rgot), MESHD_E_NOENT);
	store_close(st);

	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_LATEST);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name IN ('endpoint_records', 'route_records')"), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM records"), 2);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_int_eq(raw_int(db,
	    "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check <> 'ok'"), 0);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_migrate_failure_rolls_back)
{
	struct tmpdb t;
	struct store *st = NULL;
	sqlite3 *db;

	/* A v1 database in which v2's index name is already taken: the
	 * migration fails and the database stays at v1, unchanged. */
	tmpdb_init(&t);
	ck_assert_int_eq(store_open_at_version(t.path, 1, &st), 0);
	store_close(st);
	st = NULL;
	db = raw_open(t.path);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE members_cert_expires "
	    "(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_lt(store_open(t.path, &st), 0);
	ck_assert_ptr_null(st);
	db = raw_open(t.path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 1);
	ck_assert_int_eq(raw_has_index(db, "endpoints_last_seen"), 0);
	sqlite3_close(db);
	tmpdb_clear(&t);
}
END_TEST

/* ---- statement helpers (internal.h) ---- */

static sqlite3_stmt *prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	ck_assert_int_eq(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL),
	    SQLITE_OK);
	return s;
}

static int read_v(sqlite3_stmt *s, void *out)
{
	int v = sqlite3_column_int(s, 0);

	if (v < 0)
		return MESHD_E_PROTO;
	*(int *)out = v;
	return 0;
}

/* Sums the rows; returns 7 (stops the walk) at the value 30. */
static int sum_row(sqlite3_stmt *s, void *arg)
{
	int v, r;

	if ((r = read_v(s, &v)) != 0)
		return r;
	if (v == 30)
		return 7;
	*(int *)arg += v;
	return 0;
}

START_TEST(test_store_step_helpers)
{
	struct store *st = open_mem();
	sqlite3_stmt *s;
	int v = 0, sum = 0;

	ck_assert_int_eq(store_exec(st, "CREATE TEMP TABLE t (k BLOB PRIMARY "
	    "KEY, v INTEGER); INSERT INTO t VALUES (x'01', 10), (x'02', 20), "
	    "(x'03', 30), (x'04', -1);"), 0);

	s = prep(st, "SELECT v FROM t WHERE k = ?1");
	ck_assert_int_eq(store_get_by_blob(st, s, "\x02", 1, read_v, &v), 0);
	ck_assert_int_eq(v, 20);
	ck_assert_int_eq(store_get_by_blob(st, s, "\x09", 1, read_v, &v),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_get_by_blob(st, s, "\x04", 1, read_v, &v),
	    MESHD_E_PROTO);
	sqlite3_finalize(s);

	/* the walk ends with the callback's value, and starts over after */
	s = prep(st, "SELECT v FROM t ORDER BY k");
	ck_assert_int_eq(store_step_each(st, s, sum_row, &sum), 7);
	ck_assert_int_eq(sum, 30);
	sum = 0;
	ck_assert_int_eq(store_step_each(st, s, sum_row, &sum), 7);
	ck_assert_int_eq(sum, 30);
	sqlite3_finalize(s);
	s = prep(st, "SELECT v FROM t WHERE v < 30 ORDER BY k");
	sum = 0;
	ck_assert_int_eq(store_step_each(st, s, sum_row, &sum), MESHD_E_PROTO);
	sqlite3_finalize(s);
	s = prep(st, "SELECT v FROM t WHERE v BETWEEN 0 AND 20");
	sum = 0;
	ck_assert_int_eq(store_step_each(st, s, sum_row, &sum), 0);
	ck_assert_int_eq(sum, 30);
	sqlite3_finalize(s);

	/* finish: DONE is 0, a bind error is mapped; changes are counted */
	s = prep(st, "UPDATE t SET v = v + 1 WHERE v > ?1");
	ck_assert_int_eq(sqlite3_bind_int(s, 1, 15), SQLITE_OK);
	ck_assert_int_eq(store_finish_changes(st, s, sqlite3_step(s)), 2);
	ck_assert_int_eq(sqlite3_bind_int(s, 1, 100), SQLITE_OK);
	ck_assert_int_eq(store_finish_changes(st, s, sqlite3_step(s)), 0);
	ck_assert_int_lt(store_finish(st, s, sqlite3_bind_int(s, 9, 1)), 0);
	sqlite3_finalize(s);
	store_close(st);
}
END_TEST

/* ---- node and mesh ---- */

START_TEST(test_store_node_roundtrip)
{
	struct store *st = open_mem();
	struct store_node n, got;

	ck_assert_int_eq(store_node_get(st, &got), MESHD_E_NOENT);
	node_make(&n);
	ck_assert_int_eq(store_node_put(st, &n), 0);
	ck_assert_int_eq(store_node_get(st, &got), 0);
	ck_assert_mem_eq(got.node_id, n.node_id, sizeof n.node_id);
	ck_assert_str_eq(got.name, "alpha");
	ck_assert_mem_eq(got.wg_private_key, n.wg_private_key,
	    sizeof n.wg_private_key);
	ck_assert_uint_eq(got.listen_port, 51820);
	ck_assert_str_eq(got.ifname, "meshd0");
	ck_assert_int_eq(got.created_at, 1700000000);

	/* Put replaces the single row. */
	n.listen_port = 0;
	strcpy(n.ifname, "");
	ck_assert_int_eq(store_node_put(st, &n), 0);
	ck_assert_int_eq(store_node_get(st, &got), 0);
	ck_assert_uint_eq(got.listen_port, 0);
	ck_assert_str_eq(got.ifname, "");

	store_node_clear(&got);
	ck_assert_uint_eq(got.wg_private_key[0], 0);
	store_node_clear(&n);
	store_close(st);
}
END_TEST

START_TEST(test_store_setting_roundtrip)
{
	struct store *st = open_mem();
	char v[16], big[STORE_SETTING_MAX + 2];

	ck_assert_int_eq(store_setting_get(st, "metrics", v, sizeof v), MESHD_E_NOENT);
	ck_assert_int_eq(store_setting_put(st, "metrics", "127.0.0.1:9100"), 0);
	ck_assert_int_eq(store_setting_get(st, "metrics", v, sizeof v), 0);
	ck_assert_str_eq(v, "127.0.0.1:9100");
	ck_assert_int_eq(store_setting_put(st, "metrics", "[::1]:9"), 0);
	ck_assert_int_eq(store_setting_get(st, "metrics", v, sizeof v), 0);
	ck_assert_str_eq(v, "[::1]:9");
	/* a value that does not fit the caller's buffer is an error, not a cut */
	ck_assert_int_eq(store_setting_get(st, "metrics", v, 4), MESHD_E_RANGE);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(store_setting_put(st, "metrics", NULL), 0);
	ck_assert_int_eq(store_setting_get(st, "metrics", v, sizeof v), MESHD_E_NOENT);
	ck_assert_int_eq(store_setting_put(st, "metrics", NULL), 0);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(store_setting_put(st, "metrics", big), MESHD_E_INVAL);
	ck_assert_int_eq(store_setting_put(st, "metrics", ""), MESHD_E_INVAL);
	ck_assert_int_eq(store_setting_put(st, "", "x"), MESHD_E_INVAL);
	store_close(st);
}
END_TEST

START_TEST(test_store_node_put_rejects_bad_text)
{
	struct store *st = open_mem();
	struct store_node n;

	node_make(&n);
	n.name[0] = '\0';
	ck_assert_int_eq(store_node_put(st, &n), MESHD_E_INVAL);
	memset(n.name, 'a', STORE_NAME_MAX);
	n.name[STORE_NAME_MAX] = '\0';
	ck_assert_int_eq(store_node_put(st, &n), 0);	/* 63: fits */
	memset(n.ifname, 'i', sizeof n.ifname);		/* unterminated */
	ck_assert_int_eq(store_node_put(st, &n), MESHD_E_INVAL);
	store_node_clear(&n);
	store_close(st);
}
END_TEST

static void mesh_make(struct store_mesh *m, bool admin)
{
	memset(m, 0, sizeof *m);
	memset(m->mesh_id, 0x33, sizeof m->mesh_id);
	strcpy(m->name, "mesh");
	memset(m->authority_pk, 0x44, sizeof m->authority_pk);
	m->has_authority_sk = admin;
	if (admin)
		memset(m->authority_sk, 0x55, sizeof m->authority_sk);
	strcpy(m->prefix4, "100.64.0.0/16");
	strcpy(m->prefix6, "FD12:3456:789a::/48");
	m->created_at = 1700000000;
}

START_TEST(test_store_mesh_roundtrip)
{
	struct store *st = open_mem();
	struct store_mesh m, got;

	ck_assert_int_eq(store_mesh_get(st, &got), MESHD_E_NOENT);
	mesh_make(&m, true);
	ck_assert_int_eq(store_mesh_put(st, &m), 0);
	ck_assert_int_eq(store_mesh_get(st, &got), 0);
	ck_assert_mem_eq(got.mesh_id, m.mesh_id, sizeof m.mesh_id);
	ck_assert_str_eq(got.name, "mesh");
	ck_assert_mem_eq(got.authority_pk, m.authority_pk,
	    sizeof m.authority_pk);
	ck_assert(got.has_authority_sk);
	ck_assert_mem_eq(got.authority_sk, m.authority_sk,
	    sizeof m.authority_sk);
	ck_assert_str_eq(got.prefix4, "100.64.0.0/16");
	ck_assert_str_eq(got.prefix6, "fd12:3456:789a::/48");	/* canonical */
	ck_assert_int_eq(got.created_at, 1700000000);
	store_mesh_clear(&got);

	/* A non-admin node keeps no authority secret. */
	mesh_make(&m, false);
	ck_assert_int_eq(store_mesh_put(st, &m), 0);
	ck_assert_int_eq(store_mesh_get(st, &got), 0);
	ck_assert(!got.has_authority_sk);
	store_mesh_clear(&got);
	store_mesh_clear(&m);
	store_close(st);
}
END_TEST

static void mesh_bad_prefix(struct store *st, const char *p4, const char *p6)
{
	struct store_mesh m;

	mesh_make(&m, false);
	strcpy(m.prefix4, p4);
	strcpy(m.prefix6, p6);
	ck_assert_msg(store_mesh_put(st, &m) == MESHD_E_INVAL,
	    "accepted '%s' '%s'", p4, p6);
}

START_TEST(test_store_mesh_put_rejects_bad_prefix)
{
	struct store *st = open_mem();

	mesh_bad_prefix(st, "100.64.0.0", "fd00::/48");
	mesh_bad_prefix(st, "100.64.0.0/33", "fd00::/48");
	mesh_bad_prefix(st, "100.64.0.0/", "fd00::/48");
	mesh_bad_prefix(st, "100.64.0.0/-1", "fd00::/48");
	mesh_bad_prefix(st, "100.64.0.0/16x", "fd00::/48");
	mesh_bad_prefix(st, "fd00::/48", "fd00::/48");
	mesh_bad_prefix(st, "100.64.0.0/16", "100.64.0.0/16");
	mesh_bad_prefix(st, "100.64.0.0/16", "fd00::/129");
	store_close(st);
}
END_TEST

/* ---- members ---- */

START_TEST(test_store_member_roundtrip)
{
	struct store *st = open_mem();
	struct store_member m, got;

	member_make(&m, 3);
	ck_assert_int_eq(store_member_get_by_id(st, m.node_id, &got),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_member_get_by_name(st, "node3", &got),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_member_upsert(st, &m), 0);
	ck_assert_int_eq(store_member_get_by_id(st, m.node_id, &got), 0);
	ck_assert_mem_eq(got.node_id, m.node_id, sizeof m.node_id);
	ck_assert_str_eq(got.name, "node3");
	ck_assert_mem_eq(got.wg_public_key, m.wg_public_key,
	    sizeof m.wg_public_key);
	ck_assert_str_eq(got.overlay4, "100.64.0.3");
	ck_assert_str_eq(got.overlay6, "fd00::3");
	ck_assert_uint_eq(got.cert_version, 1003);
	ck_assert_int_eq(got.cert_expires_at, 2000000000);
	ck_assert(!got.admin);
	ck_assert_int_eq(got.updated_at, 1700000003);
	ck_assert_uint_eq(got.cert_len, 103);
	ck_assert_mem_eq(got.cert, m.cert, 103);
	/* Names are DNS labels: case does not matter. */
	ck_assert_int_eq(store_member_get_by_name(st, "NODE3", &got), 0);
	ck_assert_mem_eq(got.node_id, m.node_id, sizeof m.node_id);

	/* Same node id: replaced in place (a renewed certificate). */
	m.cert_version = 2000;
	m.admin = true;
	strcpy(m.name, "renamed");
	ck_assert_int_eq(store_member_upsert(st, &m), 0);
	ck_assert_int_eq(store_member_get_by_name(st, "renamed", &got), 0);
	ck_assert_uint_eq(got.cert_version, 2000);
	ck_assert(got.admin);
	ck_assert_int_eq(store_member_get_by_name(st, "node3", &got),
	    MESHD_E_NOENT);
	store_close(st);
}
END_TEST

START_TEST(test_store_member_upsert_conflicts)
{
	struct store *st = open_mem();
	struct store_member m;

	member_add(st, 1);
	member_make(&m, 2);
	strcpy(m.name, "node1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	strcpy(m.name, "NoDe1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	member_make(&m, 2);
	memset(m.wg_public_key, 0x81, sizeof m.wg_public_key);
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	member_make(&m, 2);
	strcpy(m.overlay4, "100.64.0.1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	member_make(&m, 2);
	strcpy(m.overlay6, "fd00:0::1");	/* same address, other spelling */
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	member_make(&m, 2);
	ck_assert_int_eq(store_member_upsert(st, &m), 0);
	store_close(st);
}
END_TEST

START_TEST(test_store_member_upsert_rejects_invalid)
{
	struct store *st = open_mem();
	struct store_member m;

	member_make(&m, 1);
	strcpy(m.overlay4, "100.64.0.300");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	member_make(&m, 1);
	strcpy(m.overlay4, "fd00::1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	member_make(&m, 1);
	strcpy(m.overlay6, "100.64.0.1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	member_make(&m, 1);
	m.cert_len = 0;
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	m.cert_len = STORE_CERT_MAX + 1;
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	member_make(&m, 1);
	m.cert_version = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	member_make(&m, 1);
	memset(m.name, 'n', sizeof m.name);
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_INVAL);
	ck_assert_int_eq(store_member_get_by_name(st, "", &m), MESHD_E_INVAL);
	store_close(st);
}
END_TEST

static int stop_at_two(const struct store_member *m, void *arg)
{
	int *n = arg;

	return ++*n == 2 ? 42 : 0;
}

static int collect_names(const struct store_member *m, void *arg)
{
	strcat(arg, m->name);
	strcat(arg, ",");
	return 0;
}

START_TEST(test_store_member_foreach_counts)
{
	struct store *st = open_mem();
	char names[64] = "";
	int count = 0;

	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 0);
	member_add(st, 3);
	member_add(st, 1);
	member_add(st, 2);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(store_member_foreach(st, collect_names, names), 0);
	ck_assert_str_eq(names, "node1,node2,node3,");
	count = 0;
	ck_assert_int_eq(store_member_foreach(st, stop_at_two, &count), 42);
	ck_assert_int_eq(count, 2);
	/* The statement was reset: a new walk starts from the beginning. */
	count = 0;
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 3);
	store_close(st);
}
END_TEST

START_TEST(test_store_member_delete_cascades)
{
	struct store *st = open_mem();
	struct store_endpoint_record rec;
	struct store_route_record rr;
	uint8_t id1[STORE_NODE_ID_LEN], id2[STORE_NODE_ID_LEN];
	uint8_t id3[STORE_NODE_ID_LEN];

	member_add(st, 1);
	member_add(st, 2);
	member_add(st, 3);
	id_fill(id1, 1);
	id_fill(id2, 2);
	id_fill(id3, 3);
	memset(&rec, 0, sizeof rec);
	memcpy(rec.node_id, id2, sizeof id2);
	rec.version = 1;
	rec.record_len = 8;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), 0);
	route_record_make(&rr, 2, 1);
	ck_assert_int_eq(store_route_record_put(st, &rr), 0);
	route_record_make(&rr, 3, 1);
	ck_assert_int_eq(store_route_record_put(st, &rr), 0);
	ck_assert_int_eq(store_member_delete(st, id2), 0);
	ck_assert_int_eq(store_member_delete(st, id2), MESHD_E_NOENT);
	ck_assert_int_eq(store_endpoint_record_get(st, id2, &rec),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_route_record_get(st, id2, &rr), MESHD_E_NOENT);
	ck_assert_int_eq(store_route_record_get(st, id3, &rr), 0);
	/* A fresh record for a deleted member is refused. */
	route_record_make(&rr, 2, 2);
	ck_assert_int_eq(store_route_record_put(st, &rr), MESHD_E_NOENT);
	ck_assert_int_eq(store_member_get_by_id(st, id1,
	    &(struct store_member){ 0 }), 0);
	ck_assert_int_eq(store_member_get_by_id(st, id3,
	    &(struct store_member){ 0 }), 0);
	store_close(st);
}
END_TEST

/* ---- revocations ---- */

START_TEST(test_store_revocation_roundtrip)
{
	struct store *st = open_mem();
	struct store_revocation rv, got;
	uint8_t other[STORE_NODE_ID_LEN];
	int count = 0;

	memset(&rv, 0, sizeof rv);
	id_fill(rv.node_id, 9);		/* not a member: allowed */
	rv.revoked_at = 1234;
	rv.record_len = 96;
	memset(rv.record, 0xee, rv.record_len);
	ck_assert_int_eq(store_revocation_exists(st, rv.node_id), 0);
	ck_assert_int_eq(store_revocation_get(st, rv.node_id, &got),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_revocation_put(st, &rv), 0);
	ck_assert_int_eq(store_revocation_exists(st, rv.node_id), 1);
	ck_assert_int_eq(store_revocation_get(st, rv.node_id, &got), 0);
	ck_assert_mem_eq(got.node_id, rv.node_id, sizeof rv.node_id);
	ck_assert_int_eq(got.revoked_at, 1234);
	ck_assert_uint_eq(got.record_len, 96);
	ck_assert_mem_eq(got.record, rv.record, 96);

	/* The first revocation is kept. */
	rv.revoked_at = 9999;
	ck_assert_int_eq(store_revocation_put(st, &rv), MESHD_E_EXIST);
	ck_assert_int_eq(store_revocation_get(st, rv.node_id, &got), 0);
	ck_assert_int_eq(got.revoked_at, 1234);

	id_fill(other, 8);
	ck_assert_int_eq(store_revocation_exists(st, other), 0);
	memcpy(rv.node_id, other, sizeof other);
	rv.record_len = 0;
	ck_assert_int_eq(store_revocation_put(st, &rv), MESHD_E_INVAL);
	rv.record_len = STORE_RECORD_MAX + 1;
	ck_assert_int_eq(store_revocation_put(st, &rv), MESHD_E_INVAL);
	rv.record_len = STORE_RECORD_MAX;
	ck_assert_int_eq(store_revocation_put(st, &rv), 0);
	ck_assert_int_eq(store_revocation_foreach(st, count_revocation,
	    &count), 0);
	ck_assert_int_eq(count, 2);
	store_close(st);
}
END_TEST

/* ---- signed records ---- */

START_TEST(test_store_endpoint_record_newer_wins)
{
	struct store *st = open_mem();
	struct store_endpoint_record rec, got;

	member_add(st, 1);
	memset(&rec, 0, sizeof rec);
	id_fill(rec.node_id, 1);
	ck_assert_int_eq(store_endpoint_record_get(st, rec.node_id, &got),
	    MESHD_E_NOENT);
	rec.version = 5;
	rec.updated_at = 500;
	rec.record_len = 40;
	memset(rec.record, 5, rec.record_len);
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), 0);

	/* Equal and older versions are refused and change nothing. */
	rec.updated_at = 999;
	memset(rec.record, 9, rec.record_len);
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), MESHD_E_EXIST);
	rec.version = 4;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), MESHD_E_EXIST);
	ck_assert_int_eq(store_endpoint_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, 5);
	ck_assert_int_eq(got.updated_at, 500);
	ck_assert_uint_eq(got.record[0], 5);

	rec.version = 6;
	rec.record_len = 50;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), 0);
	ck_assert_int_eq(store_endpoint_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, 6);
	ck_assert_uint_eq(got.record_len, 50);
	ck_assert_mem_eq(got.record, rec.record, 50);

	rec.version = (uint64_t)INT64_MAX;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), 0);
	rec.version = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), MESHD_E_INVAL);
	rec.version = 1;
	rec.record_len = 0;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), MESHD_E_INVAL);
	id_fill(rec.node_id, 2);	/* not a member */
	rec.record_len = 1;
	ck_assert_int_eq(store_endpoint_record_put(st, &rec), MESHD_E_NOENT);
	store_close(st);
}
END_TEST

/* ---- route records ---- */

START_TEST(test_store_route_record_newer_wins)
{
	struct store *st = open_mem();
	struct store_route_record rec, got;

	member_add(st, 1);
	route_record_make(&rec, 1, 5);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_route_record_put(st, &rec), 0);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got), 0);
	ck_assert_mem_eq(got.node_id, rec.node_id, sizeof rec.node_id);
	ck_assert_uint_eq(got.version, 5);
	ck_assert_int_eq(got.updated_at, rec.updated_at);
	ck_assert_uint_eq(got.record_len, rec.record_len);
	ck_assert_mem_eq(got.record, rec.record, rec.record_len);

	/* Equal and older versions are refused and change nothing. */
	rec.updated_at = 999;
	memset(rec.record, 9, rec.record_len);
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_EXIST);
	rec.version = 4;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_EXIST);
	rec.version = 0;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_EXIST);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, 5);
	ck_assert_int_eq(got.updated_at, 1700000005);
	ck_assert_uint_eq(got.record[0], 1);

	/* Newer replaces, including the length. */
	rec.version = 6;
	rec.record_len = 50;
	ck_assert_int_eq(store_route_record_put(st, &rec), 0);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, 6);
	ck_assert_int_eq(got.updated_at, 999);
	ck_assert_uint_eq(got.record_len, 50);
	ck_assert_mem_eq(got.record, rec.record, 50);

	/* Bounds: version up to INT64_MAX, record 1 .. STORE_RECORD_MAX. */
	rec.version = (uint64_t)INT64_MAX;
	rec.record_len = STORE_RECORD_MAX;
	ck_assert_int_eq(store_route_record_put(st, &rec), 0);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, (uint64_t)INT64_MAX);
	ck_assert_uint_eq(got.record_len, STORE_RECORD_MAX);
	rec.version = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_INVAL);
	rec.version = UINT64_MAX;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_INVAL);
	rec.version = 1;
	rec.record_len = 0;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_INVAL);
	rec.record_len = STORE_RECORD_MAX + 1;
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_INVAL);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got), 0);
	ck_assert_uint_eq(got.version, (uint64_t)INT64_MAX);

	/* Not a member: refused, nothing stored. */
	route_record_make(&rec, 2, 1);
	ck_assert_int_eq(store_route_record_put(st, &rec), MESHD_E_NOENT);
	ck_assert_int_eq(store_route_record_get(st, rec.node_id, &got),
	    MESHD_E_NOENT);
	store_close(st);
}
END_TEST

struct route_walk {
	int n;
	int stop_at;			/* 0: never stop */
	uint8_t first_bytes[8];
};

static int route_walk_cb(const struct store_route_record *r, void *arg)
{
	struct route_walk *w = arg;

	ck_assert_int_lt(w->n, 8);
	ck_assert_uint_eq(r->record_len, 10 + (size_t)r->node_id[0]);
	ck_assert_uint_eq(r->record[0], r->node_id[0]);
	ck_assert_uint_eq(r->version, 100 + r->node_id[0]);
	w->first_bytes[w->n++] = r->node_id[0];
	return w->n == w->stop_at ? 42 : 0;
}

START_TEST(test_store_route_record_foreach)
{
	struct store *st = open_mem();
	struct store_route_record rec;
	struct route_walk w;
	static const uint8_t order_in[] = { 5, 2, 9, 1 };
	size_t i;

	memset(&w, 0, sizeof w);
	ck_assert_int_eq(store_route_record_foreach(st, route_walk_cb, &w), 0);
	ck_assert_int_eq(w.n, 0);
	for (i = 0; i < sizeof order_in; i++) {
		member_add(st, order_in[i]);
		route_record_make(&rec, order_in[i], 100 + order_in[i]);
		ck_assert_int_eq(store_route_record_put(st, &rec), 0);
	}
	member_add(st, 3);	/* a member without a record is not walked */

	/* In node id order. */
	ck_assert_int_eq(store_route_record_foreach(st, route_walk_cb, &w), 0);
	ck_assert_int_eq(w.n, 4);
	ck_assert_uint_eq(w.first_bytes[0], 1);
	ck_assert_uint_eq(w.first_bytes[1], 2);
	ck_assert_uint_eq(w.first_bytes[2], 5);
	ck_assert_uint_eq(w.first_bytes[3], 9);

	/* A non-zero return stops the walk and is returned. */
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	ck_assert_int_eq(store_route_record_foreach(st, route_walk_cb, &w), 42);
	ck_assert_int_eq(w.n, 2);
	ck_assert_uint_eq(w.first_bytes[1], 2);

	/* The statement was reset: a new walk starts from the beginning. */
	memset(&w, 0, sizeof w);
	ck_assert_int_eq(store_route_record_foreach(st, route_walk_cb, &w), 0);
	ck_assert_int_eq(w.n, 4);
	store_close(st);
}
END_TEST

/* Randomized: record puts of both kinds (newer wins), member deletes and
 * re-adds against a naive model kept in arrays. The seed is fixed and
 * printed on failure. */

#define RND_SEED	0x6d657368u
#define RND_NODES	3
#define RND_KINDS	2	/* 0: endpoint record, 1: route record */

struct model {
	bool member[RND_NODES];
	bool has_rec[RND_NODES][RND_KINDS];
	uint64_t rec_version[RND_NODES][RND_KINDS];
};

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Puts a record of kind k for node n at version v through the typed API;
 * the first record byte is the version, the second the kind. */
static int rnd_put(struct store *st, int k, int n, uint64_t v)
{
	struct store_endpoint_record er;
	struct store_route_record rr;

	if (k == 0) {
		memset(&er, 0, sizeof er);
		id_fill(er.node_id, (uint8_t)(n + 1));
		er.version = v;
		er.record_len = 2;
		er.record[0] = (uint8_t)v;
		er.record[1] = 0xe0;
		return store_endpoint_record_put(st, &er);
	}
	memset(&rr, 0, sizeof rr);
	id_fill(rr.node_id, (uint8_t)(n + 1));
	rr.version = v;
	rr.record_len = 2;
	rr.record[0] = (uint8_t)v;
	rr.record[1] = 0x40;
	return store_route_record_put(st, &rr);
}

static void model_compare(struct store *st, const struct model *m)
{
	struct store_endpoint_record er;
	struct store_route_record rr;
	uint8_t id[STORE_NODE_ID_LEN];
	int n, r;

	for (n = 0; n < RND_NODES; n++) {
		id_fill(id, (uint8_t)(n + 1));
		r = store_endpoint_record_get(st, id, &er);
		ck_assert_msg(r == (m->has_rec[n][0] ? 0 : MESHD_E_NOENT),
		    "seed %#x: node %d endpoint record %d", RND_SEED, n, r);
		if (r == 0) {
			ck_assert_uint_eq(er.version, m->rec_version[n][0]);
			ck_assert_uint_eq(er.record[0], (uint8_t)er.version);
			ck_assert_uint_eq(er.record[1], 0xe0);
		}
		r = store_route_record_get(st, id, &rr);
		ck_assert_msg(r == (m->has_rec[n][1] ? 0 : MESHD_E_NOENT),
		    "seed %#x: node %d route record %d", RND_SEED, n, r);
		if (r == 0) {
			ck_assert_uint_eq(rr.version, m->rec_version[n][1]);
			ck_assert_uint_eq(rr.record[0], (uint8_t)rr.version);
			ck_assert_uint_eq(rr.record[1], 0x40);
		}
	}
}

START_TEST(test_store_records_random_vs_model)
{
	static struct model m;
	struct store *st = open_mem();
	uint8_t id[STORE_NODE_ID_LEN];
	uint32_t x = RND_SEED;
	int i, n, k, want;

	memset(&m, 0, sizeof m);
	for (i = 0; i < 3000; i++) {
		uint32_t op = rnd(&x) % 16;

		n = (int)(rnd(&x) % RND_NODES);
		id_fill(id, (uint8_t)(n + 1));
		if (op < 13) {
			uint64_t v = rnd(&x) % 64;

			k = (int)(rnd(&x) % RND_KINDS);
			want = !m.member[n] ? MESHD_E_NOENT :
			    m.has_rec[n][k] && v <= m.rec_version[n][k] ?
			    MESHD_E_EXIST : 0;
			ck_assert_msg(rnd_put(st, k, n, v) == want,
			    "seed %#x: op %d put", RND_SEED, i);
			if (want == 0) {
				m.has_rec[n][k] = true;
				m.rec_version[n][k] = v;
			}
		} else if (op < 15) {
			if (!m.member[n]) {
				member_add(st, (uint8_t)(n + 1));
				m.member[n] = true;
			}
		} else {
			want = m.member[n] ? 0 : MESHD_E_NOENT;
			ck_assert_int_eq(store_member_delete(st, id), want);
			memset(&m.has_rec[n], 0, sizeof m.has_rec[n]);
			m.member[n] = false;
		}
		if (i % 500 == 0)
			model_compare(st, &m);
	}
	model_compare(st, &m);
	store_close(st);
}
END_TEST

/* ---- invites ---- */

START_TEST(test_store_invite_consume_counts_down)
{
	struct store *st = open_mem();
	struct store_invite inv, got;
	uint32_t left = 99;

	invite_make(&inv, 0xa1, 2, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 4000,
	    &left), 0);
	ck_assert_uint_eq(left, 1);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 4000,
	    &left), 0);
	ck_assert_uint_eq(left, 0);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 4000,
	    NULL), MESHD_E_PERM);
	/* Used up wins over expired. */
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 6000,
	    NULL), MESHD_E_PERM);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &got), 0);
	ck_assert_mem_eq(got.invite_id, inv.invite_id, sizeof inv.invite_id);
	ck_assert_mem_eq(got.invite_pk, inv.invite_pk, sizeof inv.invite_pk);
	ck_assert_uint_eq(got.uses_left, 0);
	ck_assert_int_eq(got.expires_at, 5000);
	ck_assert_int_eq(got.created_at, 1000);
	store_close(st);
}
END_TEST

START_TEST(test_store_invite_consume_expired)
{
	struct store *st = open_mem();
	struct store_invite inv, got;

	invite_make(&inv, 0xa2, 1, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 5000,
	    NULL), MESHD_E_EXPIRED);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 7000,
	    NULL), MESHD_E_EXPIRED);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &got), 0);
	ck_assert_uint_eq(got.uses_left, 1);	/* refusal changed nothing */
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 4999,
	    NULL), 0);
	store_close(st);
}
END_TEST

START_TEST(test_store_invite_consume_unknown)
{
	struct store *st = open_mem();
	struct store_invite inv;
	uint8_t other[STORE_INVITE_ID_LEN];

	memset(other, 0xbb, sizeof other);
	ck_assert_int_eq(store_invite_consume(st, other, 1, NULL),
	    MESHD_E_NOENT);
	invite_make(&inv, 0xa3, 1, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_consume(st, other, 1, NULL),
	    MESHD_E_NOENT);
	ck_assert_int_eq(store_invite_get(st, other, &inv), MESHD_E_NOENT);
	store_close(st);
}
END_TEST

START_TEST(test_store_invite_add_rejects_and_purge)
{
	struct store *st = open_mem();
	struct store_invite inv;

	invite_make(&inv, 0xa4, 0, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_INVAL);
	invite_make(&inv, 0xa4, 1, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_EXIST);
	invite_make(&inv, 0xa5, 1, 9000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	invite_make(&inv, 0xa6, 1, 9000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 10, NULL),
	    0);
	/* 0xa4 expired at 6000, 0xa6 used up; 0xa5 stays. */
	ck_assert_int_eq(store_invite_purge(st, 6000), 2);
	ck_assert_int_eq(store_invite_purge(st, 6000), 0);
	memset(inv.invite_id, 0xa5, sizeof inv.invite_id);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 6000, NULL),
	    0);
	store_close(st);
}
END_TEST

START_TEST(test_store_invite_add_rejects)
{
	struct store *st = open_mem();
	struct store_invite inv, got;
	int count = 0;

	invite_make(&inv, 0xa7, 0, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_INVAL);
	invite_make(&inv, 0xa7, 1, 0);
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_INVAL);
	invite_make(&inv, 0xa7, 1, -5);
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_INVAL);
	ck_assert_int_eq(store_invite_foreach(st, count_invite, &count), 0);
	ck_assert_int_eq(count, 0);

	/* The id is the key: another public key under a stored id is
	 * refused and the first invite stays as it was. */
	invite_make(&inv, 0xa7, 3, 5000);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	memset(inv.invite_pk, 0x01, sizeof inv.invite_pk);
	inv.uses_left = 9;
	ck_assert_int_eq(store_invite_add(st, &inv), MESHD_E_EXIST);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &got), 0);
	ck_assert_uint_eq(got.uses_left, 3);
	ck_assert_uint_eq(got.invite_pk[0], 0xa7 ^ 0xff);
	/* The same public key under another id is a different invite. */
	invite_make(&inv, 0xa7, 1, 5000);
	memset(inv.invite_id, 0xa8, sizeof inv.invite_id);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	store_close(st);
}
END_TEST

struct invite_walk {
	int n;
	int stop_at;		/* stop with 42 after this many; 0: never */
	uint8_t first_byte[8];
	uint32_t uses[8];
};

static int walk_invite(const struct store_invite *inv, void *arg)
{
	struct invite_walk *w = arg;

	ck_assert_int_lt(w->n, 8);
	w->first_byte[w->n] = inv->invite_id[0];
	w->uses[w->n] = inv->uses_left;
	w->n++;
	return w->stop_at != 0 && w->n == w->stop_at ? 42 : 0;
}

START_TEST(test_store_invite_foreach)
{
	static const struct {
		uint8_t b;
		int64_t created;
	} add[] = {
		{ 0xb3, 300 }, { 0xb1, 100 }, { 0xb4, 200 }, { 0xb2, 100 },
	};
	struct store *st = open_mem();
	struct store_invite inv;
	struct invite_walk w;
	size_t i;

	memset(&w, 0, sizeof w);
	ck_assert_int_eq(store_invite_foreach(st, walk_invite, &w), 0);
	ck_assert_int_eq(w.n, 0);
	for (i = 0; i < sizeof add / sizeof add[0]; i++) {
		invite_make(&inv, add[i].b, 1 + i, 5000);
		inv.created_at = add[i].created;
		ck_assert_int_eq(store_invite_add(st, &inv), 0);
	}
	/* created_at order, ties by id. */
	ck_assert_int_eq(store_invite_foreach(st, walk_invite, &w), 0);
	ck_assert_int_eq(w.n, 4);
	ck_assert_uint_eq(w.first_byte[0], 0xb1);
	ck_assert_uint_eq(w.first_byte[1], 0xb2);
	ck_assert_uint_eq(w.first_byte[2], 0xb4);
	ck_assert_uint_eq(w.first_byte[3], 0xb3);
	ck_assert_uint_eq(w.uses[0], 2);
	ck_assert_uint_eq(w.uses[3], 1);
	/* A non-zero return stops the walk and comes back. */
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	ck_assert_int_eq(store_invite_foreach(st, walk_invite, &w), 42);
	ck_assert_int_eq(w.n, 2);
	/* The statement was reset: a second walk sees everything again, and
	 * consumes and purges show in it. */
	memset(inv.invite_id, 0xb1, sizeof inv.invite_id);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 10, NULL), 0);
	memset(inv.invite_id, 0xb3, sizeof inv.invite_id);
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 10, NULL), 0);
	ck_assert_int_eq(store_invite_purge(st, 10), 1);	/* 0xb3 used up */
	memset(&w, 0, sizeof w);
	ck_assert_int_eq(store_invite_foreach(st, walk_invite, &w), 0);
	ck_assert_int_eq(w.n, 3);
	ck_assert_uint_eq(w.first_byte[0], 0xb1);
	ck_assert_uint_eq(w.uses[0], 1);
	ck_assert_uint_eq(w.first_byte[2], 0xb4);
	store_close(st);
}
END_TEST

/* ---- paths ---- */

START_TEST(test_store_tx_rollback_leaves_nothing)
{
	struct store *st = open_mem();
	struct store_member m;
	struct store_invite inv;
	int count = 0;

	ck_assert_int_eq(store_tx_commit(st), MESHD_E_STATE);
	ck_assert_int_eq(store_tx_rollback(st), MESHD_E_STATE);
	ck_assert_int_eq(store_tx_begin(st), 0);
	ck_assert_int_eq(store_tx_begin(st), MESHD_E_STATE);
	member_add(st, 1);
	member_add(st, 2);
	invite_make(&inv, 0xc1, 1, 100);
	ck_assert_int_eq(store_invite_add(st, &inv), 0);
	/* An operation that uses a savepoint inside the transaction. */
	ck_assert_int_eq(store_invite_consume(st, inv.invite_id, 1, NULL),
	    0);
	ck_assert_int_eq(store_tx_rollback(st), 0);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(store_invite_get(st, inv.invite_id, &inv),
	    MESHD_E_NOENT);

	ck_assert_int_eq(store_tx_begin(st), 0);
	member_add(st, 1);
	/* A failed statement does not end the transaction. */
	member_make(&m, 2);
	strcpy(m.name, "node1");
	ck_assert_int_eq(store_member_upsert(st, &m), MESHD_E_EXIST);
	member_add(st, 2);
	ck_assert_int_eq(store_tx_commit(st), 0);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 2);
	store_close(st);
}
END_TEST

START_TEST(test_store_close_rolls_back_open_tx)
{
	struct tmpdb t;
	struct store *st = NULL;
	int count = 0;

	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_tx_begin(st), 0);
	member_add(st, 1);
	store_close(st);
	ck_assert_int_eq(store_open(t.path, &st), 0);
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 0);
	store_close(st);
	tmpdb_clear(&t);
}
END_TEST

START_TEST(test_store_tx_begin_busy_is_again)
{
	struct tmpdb t;
	struct store *a = NULL, *b = NULL;
	struct store_member m;
	int count = 0;

	/* Two connections (daemon and CLI): a writer waits at most the busy
	 * timeout for the other's write lock, then gets MESHD_E_AGAIN; a
	 * reader is never blocked (WAL) and sees only committed data. */
	tmpdb_init(&t);
	ck_assert_int_eq(store_open(t.path, &a), 0);
	ck_assert_int_eq(store_open(t.path, &b), 0);
	ck_assert_int_eq(store_tx_begin(a), 0);
	member_add(a, 1);
	ck_assert_int_eq(store_tx_begin(b), MESHD_E_AGAIN);
	member_make(&m, 2);
	ck_assert_int_eq(store_member_foreach(b, count_member, &count), 0);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(store_tx_commit(a), 0);
	ck_assert_int_eq(store_member_upsert(b, &m), 0);
	ck_assert_int_eq(store_member_foreach(a, count_member, &count), 0);
	ck_assert_int_eq(count, 2);
	store_close(a);
	store_close(b);
	tmpdb_clear(&t);
}
END_TEST

/* ---- durability ---- */

/* One line per store error, in a user's words (the CLI and the daemon both
 * print these). */
START_TEST(test_store_error_line)
{
	char line[96];

	store_error_line(line, sizeof line, "cannot open", "/d/meshd.db", MESHD_E_RANGE);
	ck_assert_str_eq(line, "/d/meshd.db was written by a newer meshd; upgrade meshd");
	store_error_line(line, sizeof line, "cannot open", "/d/meshd.db", MESHD_E_AGAIN);
	ck_assert_str_eq(line, "/d/meshd.db is locked by another process");
	store_error_line(line, sizeof line, "cannot open", "/d/meshd.db", MESHD_E_PROTO);
	ck_assert_str_eq(line, "cannot open /d/meshd.db: not a meshd database, or a damaged one");
	errno = EACCES;
	store_error_line(line, sizeof line, "cannot read", "/d/meshd.db", MESHD_E_SYS);
	ck_assert_str_eq(line, "cannot read /d/meshd.db: Permission denied");
	/* cut short, still terminated */
	store_error_line(line, 8, "cannot open", "/d/meshd.db", MESHD_E_PROTO);
	ck_assert_str_eq(line, "cannot ");
}
END_TEST

START_TEST(test_store_commit_survives_sigkill)
{
	struct tmpdb t;
	struct store *st = NULL;
	struct store_member got;
	uint8_t id[STORE_NODE_ID_LEN];
	int status, count = 0;
	pid_t pid;

	tmpdb_init(&t);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Child: commit, leave a transaction open, die without
		 * closing anything. Exit codes 1-3 report a failed step. */
		struct store_member m;

		if (store_open(t.path, &st) != 0)
			_exit(1);
		member_make(&m, 1);
		if (store_member_upsert(st, &m) != 0)
			_exit(2);
		if (store_tx_begin(st) != 0)
			_exit(3);
		member_make(&m, 2);
		if (store_member_upsert(st, &m) != 0)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child did not die by SIGKILL (status %#x)", status);

	ck_assert_int_eq(store_open(t.path, &st), 0);
	id_fill(id, 1);
	ck_assert_int_eq(store_member_get_by_id(st, id, &got), 0);
	ck_assert_str_eq(got.name, "node1");
	ck_assert_int_eq(store_member_foreach(st, count_member, &count), 0);
	ck_assert_int_eq(count, 1);	/* the open transaction is gone */
	store_close(st);
	tmpdb_clear(&t);
}
END_TEST

Suite *suite_store(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("schema");
	tcase_add_test(tc, test_store_open_memory_latest);
	tcase_add_test(tc, test_store_step_helpers);
	tcase_add_test(tc, test_store_open_file_latest);
	tcase_add_test(tc, test_store_open_bad_args);
	tcase_add_test(tc, test_store_open_file_mode_0600);
	tcase_add_test(tc, test_store_open_refuses_future_version);
	tcase_add_test(tc, test_store_open_rejects_non_database);
	tcase_add_test(tc, test_store_migrate_from_v1);
	tcase_add_test(tc, test_store_migrate_from_v2_drops_invites);
	tcase_add_test(tc, test_store_fresh_is_v6);
	tcase_add_test(tc, test_store_migrate_from_v4);
	tcase_add_test(tc, test_store_migrate_from_v3);
	tcase_add_test(tc, test_store_migrate_failure_rolls_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_test(tc, test_store_node_roundtrip);
	tcase_add_test(tc, test_store_node_put_rejects_bad_text);
	tcase_add_test(tc, test_store_setting_roundtrip);
	tcase_add_test(tc, test_store_mesh_roundtrip);
	tcase_add_test(tc, test_store_mesh_put_rejects_bad_prefix);
	tcase_add_test(tc, test_store_member_roundtrip);
	tcase_add_test(tc, test_store_member_upsert_conflicts);
	tcase_add_test(tc, test_store_member_upsert_rejects_invalid);
	tcase_add_test(tc, test_store_member_foreach_counts);
	tcase_add_test(tc, test_store_member_delete_cascades);
	tcase_add_test(tc, test_store_revocation_roundtrip);
	tcase_add_test(tc, test_store_endpoint_record_newer_wins);
	tcase_add_test(tc, test_store_route_record_newer_wins);
	tcase_add_test(tc, test_store_route_record_foreach);
	tcase_add_test(tc, test_store_records_random_vs_model);
	tcase_add_test(tc, test_store_invite_consume_counts_down);
	tcase_add_test(tc, test_store_invite_consume_expired);
	tcase_add_test(tc, test_store_invite_consume_unknown);
	tcase_add_test(tc, test_store_invite_add_rejects_and_purge);
	tcase_add_test(tc, test_store_invite_add_rejects);
	tcase_add_test(tc, test_store_invite_foreach);
	suite_add_tcase(s, tc);

	tc = tcase_create("transactions");
	tcase_set_timeout(tc, 60);	/* one busy wait; valgrind */
	tcase_add_test(tc, test_store_tx_rollback_leaves_nothing);
	tcase_add_test(tc, test_store_close_rolls_back_open_tx);
	tcase_add_test(tc, test_store_tx_begin_busy_is_again);
	tcase_add_test(tc, test_store_commit_survives_sigkill);
	tcase_add_test(tc, test_store_error_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_store());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
