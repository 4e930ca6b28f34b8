/* Opening the database, connection settings, the prepared-statement cache,
 * transactions and the mapping of SQLite errors onto MESHD_E_*.
 *
 * Durability: the database runs in WAL mode with synchronous=NORMAL. In WAL
 * mode a commit is complete once its frames are written to the -wal file
 * (write(2), no fsync), so a process crash, SIGKILL included, loses nothing
 * committed: the kernel still holds the data and the next opener replays the
 * WAL. Only an OS crash or power loss may roll back the last few commits
 * (never corrupt the database), which is acceptable for this state: gossip
 * brings it back. synchronous=FULL would fsync on every commit for nothing
 * the daemon needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/err.h"
#include "util/log.h"

/* SQLite page cache per connection, in KiB (a string: it is pasted into
 * the PRAGMA). */
#define STORE_CACHE_KIB	"64"

_Static_assert(STORE_IP_STRLEN == INET6_ADDRSTRLEN, "address text size");

/* The caller reports the code this returns (with errno for MESHD_E_SYS),
 * so SQLite's own text goes to the debug log only: one failure, one line.
 * A query bug (MESHD_E_STATE) is logged as an error, its text being the
 * only clue. */
int store_err(struct store *st, int rc)
{
	int sys;

	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return MESHD_E_EXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return MESHD_E_NOENT;
	}
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return MESHD_OK;
	case SQLITE_NOMEM:
		return MESHD_E_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MESHD_E_AGAIN;
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return MESHD_E_INVAL;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		log_debug("store: %s", sqlite3_errstr(rc));
		return MESHD_E_PROTO;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_PROTOCOL:
		sys = st != NULL && st->db != NULL ?
		    sqlite3_system_errno(st->db) : 0;
		log_debug("store: %s", sqlite3_errstr(rc));
		errno = sys != 0 ? sys : EIO;
		return MESHD_E_SYS;
	}
	/* SQLITE_ERROR, SQLITE_MISUSE...: a bug in a query or its use. */
	log_error("store: %s", st != NULL && st->db != NULL ?
	    sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
	return MESHD_E_STATE;
}

sqlite3_stmt *store_stmt(struct store *st, enum store_stmt id, const char *sql,
    int *err)
{
	int rc;

	if (st->stmt[id] != NULL)
		return st->stmt[id];
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		*err = store_err(st, rc);
		st->stmt[id] = NULL;
		return NULL;
	}
	return st->stmt[id];
}

void store_stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int store_step_one(struct store *st, sqlite3_stmt *s, store_read_fn *read,
    void *out)
{
	int rc, r;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = read(s, out);
	else if (rc == SQLITE_DONE)
		r = MESHD_E_NOENT;
	else
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_get_by_blob(struct store *st, sqlite3_stmt *s, const void *key,
    size_t len, store_read_fn *read, void *out)
{
	int rc;

	rc = sqlite3_bind_blob(s, 1, key, (int)len, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		store_stmt_done(s);
		return store_err(st, rc);
	}
	return store_step_one(st, s, read, out);
}

int store_step_each(struct store *st, sqlite3_stmt *s, store_read_fn *row,
    void *arg)
{
	int rc, r = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row(s, arg)) != 0)
			break;
	}
	/* store_err() reads the handle's message: map before the reset */
	if (r == 0 && rc != SQLITE_DONE)
		r = store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_finish(struct store *st, sqlite3_stmt *s, int rc)
{
	int r;

	/* store_err() reads the handle's message: map before the reset */
	r = rc == SQLITE_DONE ? 0 : store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_finish_changes(struct store *st, sqlite3_stmt *s, int rc)
{
	int r;

	if ((r = store_finish(st, s, rc)) != 0)
		return r;
	return sqlite3_changes(st->db);
}

int store_exec(struct store *st, const char *sql)
{
	int rc;

	rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_err(st, rc);
}

int store_user_version(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_err(st, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r = sqlite3_column_int(s, 0);
		if (r < 0)
			r = MESHD_E_PROTO;
	} else
		r = store_err(st, rc);
	sqlite3_finalize(s);
	return r;
}

int store_col_blob(sqlite3_stmt *s, int col, void *dst, size_t cap,
    size_t *len_out)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);

	if (n < 0 || (size_t)n > cap || (len_out == NULL && (size_t)n != cap))
		return MESHD_E_PROTO;
	if (n > 0)
		memcpy(dst, p, n);
	if (len_out != NULL)
		*len_out = n;
	return 0;
}

int store_col_text(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
	const unsigned char *p = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);

	if (n < 0 || (size_t)n >= cap)
		return MESHD_E_PROTO;
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int store_check_text(const char *s, size_t max, bool allow_empty)
{
	size_t n;

	if (s == NULL)
		return MESHD_E_INVAL;
	n = strnlen(s, max + 1);
	if (n > max || (n == 0 && !allow_empty))
		return MESHD_E_INVAL;
	return 0;
}

int store_check_name(const char *s)
{
	return store_check_text(s, STORE_NAME_MAX, false);
}

int store_canon_ip(const char *s, int af, char *dst)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (store_check_text(s, STORE_IP_STRLEN - 1, false) != 0 ||
	    inet_pton(af, s, bin) != 1 ||
	    inet_ntop(af, bin, dst, STORE_IP_STRLEN) == NULL)
		return MESHD_E_INVAL;
	return 0;
}

int store_canon_prefix(const char *s, int af, char *dst)
{
	char ip[STORE_PREFIX_STRLEN], canon[STORE_IP_STRLEN];
	const char *slash;
	char *end;
	unsigned long len;
	int max = af == AF_INET ? 32 : 128;

	if (store_check_text(s, STORE_PREFIX_STRLEN - 1, false) != 0 ||
	    (slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof ip)
		return MESHD_E_INVAL;
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	if (slash[1] < '0' || slash[1] > '9')
		return MESHD_E_INVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || len > (unsigned long)max ||
	    store_canon_ip(ip, af, canon) != 0)
		return MESHD_E_INVAL;
	snprintf(dst, STORE_PREFIX_STRLEN, "%s/%lu", canon, len);
	return 0;
}

/* Tightens an existing file that group or others may read. */
static int tighten(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return errno == ENOENT ? 0 : MESHD_E_SYS;
	if (S_ISREG(sb.st_mode) && (sb.st_mode & 077) != 0 &&
	    chmod(path, 0600) != 0)
		return MESHD_E_SYS;
	return 0;
}

/* Creates the file with mode 0600 before SQLite sees it (SQLite would use
 * 0644 & ~umask), and tightens an existing one along with its -wal and -shm
 * files. SQLite creates those with the mode of the database file. */
static int create_private(const char *path)
{
	static const char *const sfx[] = { "-wal", "-shm" };
	char aux[PATH_MAX];
	struct stat sb;
	size_t i;
	int fd, r = 0, saved;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return MESHD_E_SYS;
	if (fstat(fd, &sb) != 0)
		r = MESHD_E_SYS;
	else if (!S_ISREG(sb.st_mode)) {
		errno = EINVAL;
		r = MESHD_E_SYS;
	} else if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0)
		r = MESHD_E_SYS;
	saved = errno;
	close(fd);
	errno = saved;
	for (i = 0; r == 0 && i < sizeof sfx / sizeof sfx[0]; i++) {
		if ((size_t)snprintf(aux, sizeof aux, "%s%s", path, sfx[i]) >=
		    sizeof aux) {
			errno = ENAMETOOLONG;
			return MESHD_E_SYS;
		}
		r = tighten(aux);
	}
	return r;
}

static int configure(struct store *st, bool file)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	int rc, r = 0;

	sqlite3_extended_result_codes(st->db, 1);
	rc = sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return store_err(st, rc);
	/* foreign_keys is per connection and a no-op inside a transaction:
	 * set it before the migrations run. secure_delete overwrites deleted
	 * content (old keys) with zeros instead of leaving it in free pages. */
	if ((r = store_exec(st, "PRAGMA foreign_keys = ON;"
	    "PRAGMA secure_delete = ON;")) != 0)
		return r;
	if (!file)
		return 0;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		return store_err(st, rc);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		r = store_err(st, rc);
	else if ((mode = (const char *)sqlite3_column_text(s, 0)) == NULL ||
	    sqlite3_stricmp(mode, "wal") != 0) {
		log_debug("store: cannot enable WAL mode");
		errno = ENOTSUP;
		r = MESHD_E_SYS;
	}
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	/* Durable against process crash in WAL mode: see the top of file.
	 * The page cache is capped at a fixed STORE_CACHE_KIB instead of
	 * SQLite's default 2 MB, which it fills as the database grows (about
	 * 5 KB a member): pages it drops are read back from the kernel's page
	 * cache, and the daemon touches the store outside the packet path. */
	return store_exec(st, "PRAGMA synchronous = NORMAL;"
	    "PRAGMA cache_size = -" STORE_CACHE_KIB ";");
}

static int open_at(const char *path, int version, struct store **out)
{
	struct store *st = NULL;
	bool file = path != NULL;
	int rc, r = 0, v;

	if (out == NULL || (file && path[0] == '\0') || version < 1 ||
	    version > STORE_SCHEMA_LATEST)
		return MESHD_E_INVAL;
	*out = NULL;
	if (file && (r = create_private(path)) != 0) {
		log_debug("store: cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		r = MESHD_E_NOMEM;
		goto out;
	}
	rc = sqlite3_open_v2(file ? path : ":memory:", &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = st->db == NULL ? MESHD_E_NOMEM : store_err(st, rc);
		goto out;
	}
	/* Refuse a newer schema before anything (even the switch to WAL)
	 * writes to the file. */
	if ((v = store_user_version(st)) < 0) {
		r = v;
		goto out;
	}
	if (v > STORE_SCHEMA_LATEST) {
		log_debug("store: %s has schema version %d, newer than this "
		    "meshd understands (%d): upgrade meshd", file ? path :
		    ":memory:", v, STORE_SCHEMA_LATEST);
		r = MESHD_E_RANGE;
		goto out;
	}
	if ((r = configure(st, file)) != 0 ||
	    (r = store_migrate(st, version)) != 0)
		goto out;
	*out = st;
	st = NULL;
out:
	if (st != NULL) {
		int saved = errno;	/* MESHD_E_SYS carries it */

		store_close(st);
		errno = saved;
	}
	return r;
}

/* ":memory:" would give an in-memory database but leave a file of that name
 * behind: store_open_memory() is the way to ask for one. */
const char *store_strerror(int r)
{
	switch (r) {
	case MESHD_E_SYS:
		return strerror(errno);
	case MESHD_E_PROTO:
		return "not a meshd database, or a damaged one";
	case MESHD_E_RANGE:
		return "written by a newer meshd; upgrade meshd";
	case MESHD_E_AGAIN:
		return "locked by another process";
	}
	return meshd_strerror(r);
}

void store_error_line(char *buf, size_t len, const char *what, const char *path, int r)
{
	if (r == MESHD_E_RANGE || r == MESHD_E_AGAIN)
		snprintf(buf, len, "%s %s %s", path, r == MESHD_E_RANGE ? "was" : "is",
			 store_strerror(r));
	else
		snprintf(buf, len, "%s %s: %s", what, path, store_strerror(r));
}

int store_open(const char *path, struct store **out)
{
	if (out != NULL)
		*out = NULL;
	if (path == NULL || strcmp(path, ":memory:") == 0)
		return MESHD_E_INVAL;
	return open_at(path, STORE_SCHEMA_LATEST, out);
}

int store_open_memory(struct store **out)
{
	return open_at(NULL, STORE_SCHEMA_LATEST, out);
}

int store_open_at_version(const char *path, int version, struct store **out)
{
	if (out != NULL)
		*out = NULL;
	if (path == NULL)
		return MESHD_E_INVAL;
	return open_at(path, version, out);
}

void store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < STMT__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	/* Rolls back an open transaction; with no statements left the
	 * connection closes now. */
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_error("store: close: %s", sqlite3_errmsg(st->db));
	free(st);
}

int store_schema_version(struct store *st)
{
	return store_user_version(st);
}

int store_run(struct store *st, enum store_stmt id, const char *sql)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	if ((s = store_stmt(st, id, sql, &r)) == NULL)
		return r;
	rc = sqlite3_step(s);
	r = rc == SQLITE_DONE ? 0 : store_err(st, rc);
	store_stmt_done(s);
	return r;
}

int store_set_busy_timeout(struct store *st, unsigned ms)
{
	if (st == NULL || ms > INT32_MAX)
		return MESHD_E_INVAL;
	return store_err(st, sqlite3_busy_timeout(st->db, (int)ms));
}

int store_tx_begin(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return MESHD_E_STATE;
	return store_run(st, STMT_TX_BEGIN, "BEGIN IMMEDIATE");
}

int store_tx_commit(struct store *st)
{
	int r;

	if (sqlite3_get_autocommit(st->db))
		return MESHD_E_STATE;
	r = store_run(st, STMT_TX_COMMIT, "COMMIT");
	if (r != 0 && !sqlite3_get_autocommit(st->db))
		store_run(st, STMT_TX_ROLLBACK, "ROLLBACK");
	return r;
}

int store_tx_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return MESHD_E_STATE;
	return store_run(st, STMT_TX_ROLLBACK, "ROLLBACK");
}

int store_sp_begin(struct store *st)
{
	return store_run(st, STMT_SP_BEGIN, "SAVEPOINT store_op");
}

int store_sp_end(struct store *st, bool commit)
{
	int r = 0;

	if (!commit)
		r = store_run(st, STMT_SP_ROLLBACK, "ROLLBACK TO store_op");
	if (r == 0)
		r = store_run(st, STMT_SP_RELEASE, "RELEASE store_op");
	return r;
}
