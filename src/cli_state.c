/* The state directory of the mesh subcommands: finding, creating and (on a
 * failed init or join) removing a node's store. `init` and `join` remove
 * what they created when a later step fails, so a failure leaves no
 * half-made node behind; an existing directory that others can read is
 * tightened only when it is empty, since the store holds private keys.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "mesh/tcpframe.h"
#include "store/store.h"
#include "util/err.h"

int cli_db_path(const char *dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, MESHD_DB_NAME);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int store_fail(const char *what, const char *path, int r)
{
	char line[PATH_MAX + 128];

	store_error_line(line, sizeof line, what, path, r);
	return cli_fail("%s", line);
}

int cli_open_existing(const char *dir, struct store **st)
{
	char path[PATH_MAX];
	int r;

	if (cli_db_path(dir, path, sizeof path) != 0)
		return cli_fail("state directory path too long: %s", dir);
	if (access(path, F_OK) != 0)
		return cli_fail("no node in %s (run 'meshd init' or 'meshd join' first)", dir);
	r = store_open(path, st);
	if (r != 0)
		return store_fail("cannot open", path, r);
	return 0;
}

int cli_holds_node(const char *dir, char mesh_name[MESH_NAME_MAX + 1])
{
	struct store_node node;
	struct store_mesh mesh;
	char path[PATH_MAX];
	struct store *st;
	int r, ret;

	if (cli_db_path(dir, path, sizeof path) != 0) {
		cli_fail("state directory path too long: %s", dir);
		return -1;
	}
	if (access(path, F_OK) != 0)
		return 0;
	r = store_open(path, &st);
	if (r != 0) {
		store_fail("cannot open", path, r);
		return -1;
	}
	ret = store_node_get(st, &node) == 0;
	store_node_clear(&node);
	strcpy(mesh_name, "?");
	if (ret && store_mesh_get(st, &mesh) == 0)
		snprintf(mesh_name, MESH_NAME_MAX + 1, "%s", mesh.name);
	store_mesh_clear(&mesh);
	store_close(st);
	return ret;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

/* Removes the directories c says this command made (dir[0..c->last) up to
 * dir[0..c->top)), deepest first, each only if empty: rmdir refuses a
 * directory that holds anything, and then the ones above it stay too. */
static void remove_made_dirs(const char *dir, const struct cli_created *c)
{
	char path[PATH_MAX];
	size_t n = c->last;

	if (c->top == 0 || n >= sizeof path)
		return;
	memcpy(path, dir, n);
	while (n >= c->top) {
		path[n] = '\0';
		if (rmdir(path) != 0)
			return;
		while (n > 0 && path[n - 1] != '/')	/* the last component */
			n--;
		while (n > 1 && path[n - 1] == '/')	/* the slashes before it */
			n--;
		if (n == 0 || (n == 1 && path[0] == '/'))
			return;
	}
}

/* mkdir -p dir, the last component mode 0700. c->top and c->last tell
 * which directories are new (so a failure, here or later, removes them
 * again, and nothing that was there before). An existing directory others
 * can read is tightened when empty, refused otherwise. */
static int make_dir(const char *dir, struct cli_created *c)
{
	char path[PATH_MAX];
	struct stat sb;
	size_t i;
	int ret;

	c->top = c->last = 0;
	snprintf(path, sizeof path, "%s", dir);
	for (i = 1; path[i]; i++) {
		if (path[i] != '/' || path[i - 1] == '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) == 0) {
			if (c->top == 0)
				c->top = i;
			c->last = i;
		} else if (errno != EEXIST) {
			ret = cli_fail("cannot create %s: %s", path, strerror(errno));
			goto fail;
		}
		path[i] = '/';
	}
	if (mkdir(dir, 0700) == 0) {
		if (c->top == 0)
			c->top = strlen(dir);
		c->last = strlen(dir);
		return 0;
	}
	if (errno != EEXIST) {
		ret = cli_fail("cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (stat(dir, &sb) != 0) {
		ret = cli_fail("%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sb.st_mode)) {
		ret = cli_fail("%s exists and is not a directory", dir);
		goto fail;
	}
	if (!(sb.st_mode & 077))
		return 0;
	if (!dir_is_empty(dir)) {
		ret = cli_fail("%s is accessible by other users; use an empty or private "
			       "directory (chmod 700)", dir);
		goto fail;
	}
	if (chmod(dir, 0700) != 0) {
		ret = cli_fail("cannot chmod %s: %s", dir, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	remove_made_dirs(dir, c);
	c->top = c->last = 0;
	return ret;
}

/* The nearest existing ancestor of dir (dir not existing) must be a
 * directory we may create entries in. */
static int check_parent(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;
	char *slash;

	snprintf(path, sizeof path, "%s", dir);
	for (;;) {
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(path, sizeof path, ".");
		else if (slash == path)
			path[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &sb) == 0)
			break;
		if (errno != ENOENT || !slash || slash == path)
			return cli_fail("cannot create %s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return cli_fail("cannot create %s: %s", dir, strerror(ENOTDIR));
	if (access(path, W_OK | X_OK) != 0)
		return cli_fail("cannot create %s: %s", dir, strerror(errno));
	return 0;
}

int cli_check_store_dir(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;

	if (cli_db_path(dir, path, sizeof path) != 0)
		return cli_fail("state directory path too long: %s", dir);
	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT)
			return check_parent(dir);
		return cli_fail("cannot create %s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return cli_fail("%s exists and is not a directory", dir);
	if ((sb.st_mode & 077) && !dir_is_empty(dir))
		return cli_fail("%s is accessible by other users; use an empty or private "
				"directory (chmod 700)", dir);
	if (access(dir, W_OK | X_OK) != 0)
		return cli_fail("cannot write in %s: %s", dir, strerror(errno));
	return 0;
}

void cli_undo_create(const char *dir, const struct cli_created *c)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char path[PATH_MAX + 16];

	if (c->db)
		for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
			snprintf(path, sizeof path, "%s/%s%s", dir, MESHD_DB_NAME, sfx[i]);
			unlink(path);
		}
	remove_made_dirs(dir, c);
}

int cli_create_store(const char *dir, struct store **st, struct cli_created *c)
{
	char path[PATH_MAX];
	int r;

	c->db = false;
	c->top = c->last = 0;
	if (cli_db_path(dir, path, sizeof path) != 0)
		return cli_fail("state directory path too long: %s", dir);
	if (make_dir(dir, c) != 0)
		return 1;
	c->db = access(path, F_OK) != 0;
	r = store_open(path, st);
	if (r != 0) {
		store_fail("cannot create", path, r);
		cli_undo_create(dir, c);
		return 1;
	}
	return 0;
}

int cli_parse_tcp_port(const char *cmd, const char *value, void *dest)
{
	char b[CLI_SHOW_BUF];
	uint64_t v;

	if (!cli_parse_u64(value, 65535, &v))
		return cli_bad_value(cmd, "invalid --tcp-port '%s': use 1-65535, or 0 for off",
				     cli_show(value, b, sizeof b));
	*(int *)dest = (int)v;
	return 0;
}

int cli_parse_metrics(const char *cmd, const char *value, void *dest)
{
	union endpoint ep;
	bool off;

	if (metrics_addr_parse(value, &ep, &off) != 0)
		return cli_bad_value(cmd, "invalid --metrics '%s': use ADDR:PORT (numeric, "
				     "e.g. 127.0.0.1:9100 or [::1]:9100) or off", value);
	*(const char **)dest = value;
	return 0;
}

void cli_warn_metrics_exposed(const char *addr)
{
	fprintf(stderr, "meshd: warning: metrics on %s are not loopback-only: anyone who can "
		"reach it sees member names, addresses and counters\n", addr);
}

int cli_store_tcp_port(struct store *st, const char *dir, int port)
{
	char v[16];
	int r;

	if (port < 0)
		return 0;
	snprintf(v, sizeof v, "%d", port);
	r = store_setting_put(st, MESH_TCP_PORT_SETTING, port ? v : NULL);
	if (r != 0)
		return cli_fail("cannot store --tcp-port in %s: %s", dir, store_strerror(r));
	return 0;
}

int cli_store_tcp_port_in(const char *dir, int port)
{
	struct store *st;
	int r;

	if (port < 0)
		return 0;
	if (cli_open_existing(dir, &st) != 0)
		return 1;
	r = cli_store_tcp_port(st, dir, port);
	store_close(st);
	return r;
}
