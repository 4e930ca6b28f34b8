/* The --hosts-file block of the mesh daemon: "NAME.MESH" lines for every
 * member between "# BEGIN meshd MESH" and "# END meshd MESH", rebuilt every
 * HOSTS_CHECK_S and written (temporary file, rename; in place when the file
 * is a mount point, as a container's /etc/hosts) only when its hash
 * changes; removed at stop. The rest of the file is kept byte for byte.
 *
 * Only fully qualified names by default: a joiner picks its own NAME, and a
 * bare "wpad", "proxy" or "gitlab" line would capture this host's
 * single-label lookups (WPAD auto-proxy, search-domain names) for whoever
 * joined under that name. The bare name needs opts.hosts_short. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "util/log.h"

enum {
	HOSTS_CHECK_S = 5,
	HOSTS_FILE_MAX = 4 * 1024 * 1024,	/* a larger hosts file is left alone */
};

static void hosts_closed(uv_handle_t *h)
{
	(void)h;
}

struct hosts_block {
	struct sbuf b;
	const char *mesh;
	bool short_names;	/* opts.hosts_short */
};

static void hosts_line(struct hosts_block *hb, const char *name, const uint8_t v4[4],
		       const uint8_t v6[16])
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, v4, a4, sizeof a4);
	inet_ntop(AF_INET6, v6, a6, sizeof a6);
	sbuf_printf(&hb->b, "%s %s.%s%s%s\n%s %s.%s\n", a4, name, hb->mesh,
		    hb->short_names ? " " : "", hb->short_names ? name : "", a6, name, hb->mesh);
}

static int hosts_peer(void *ctx, const struct mesh_node_peer *p)
{
	struct hosts_block *hb = ctx;

	hosts_line(hb, p->name, p->ipv4, p->ipv6);
	return 0;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return h | 1;	/* never 0: 0 means "no block written" */
}

/* Overwrites path with buf in place (the file stays the same inode). */
static int write_in_place(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), r = -1, e;

	if (fd < 0)
		return -1;
	if (write(fd, buf, len) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0 &&
	    fsync(fd) == 0)
		r = 0;
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* The file without our block, plus block (NULL: none), written to a
 * temporary file in the same directory and renamed over it, mode kept.
 * A hosts file that is a mount point cannot be renamed over (EBUSY: a
 * container's /etc/hosts is a bind mount), nor can a temporary file be
 * made beside it in a read-only directory: the file is then rewritten in
 * place, which is not atomic, but the only way to change it at all. */
static int hosts_write(const struct meshd *d, const char *block)
{
	char begin[MESH_NAME_MAX + 32], end[MESH_NAME_MAX + 32], tmp[PATH_MAX + 16];
	struct sbuf out = { 0 };
	struct stat sb;
	mode_t mode = 0644;
	char *old = NULL, *b, *e;
	size_t olen = 0;
	bool existed = false;
	FILE *f;
	int fd, r = -1;

	snprintf(begin, sizeof begin, "# BEGIN meshd %s\n", d->domain);
	snprintf(end, sizeof end, "# END meshd %s\n", d->domain);
	f = fopen(d->opts.hosts_file, "re");
	if (f) {
		existed = true;
		if (fstat(fileno(f), &sb) == 0)
			mode = sb.st_mode & 07777;
		old = malloc(HOSTS_FILE_MAX + 1);
		if (old)
			olen = fread(old, 1, HOSTS_FILE_MAX, f);
		fclose(f);
		if (!old || olen == HOSTS_FILE_MAX) {
			free(old);
			errno = old ? EFBIG : ENOMEM;
			return -1;
		}
		old[olen] = '\0';
	} else if (errno != ENOENT) {
		return -1;
	}
	/* our old block: from a line equal to begin to the next line equal to end */
	b = old;
	while (b && (b = strstr(b, begin)) && b != old && b[-1] != '\n')
		b += strlen(begin);
	e = b ? strstr(b, end) : NULL;
	if (b && e) {
		sbuf_add(&out, old, (size_t)(b - old));
		sbuf_puts(&out, e + strlen(end));
	} else if (old) {
		sbuf_add(&out, old, olen);
	}
	free(old);
	if (block) {
		if (out.len && out.buf[out.len - 1] != '\n')
			sbuf_puts(&out, "\n");
		sbuf_puts(&out, begin);
		sbuf_puts(&out, block);
		sbuf_puts(&out, end);
	}
	if (out.oom) {
		sbuf_free(&out);
		errno = ENOMEM;
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s.meshdXXXXXX", d->opts.hosts_file);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		if (existed && (errno == EROFS || errno == EACCES))
			r = write_in_place(d->opts.hosts_file, out.buf ? out.buf : "", out.len);
		sbuf_free(&out);
		return r;
	}
	if (fchmod(fd, mode) == 0 && write(fd, out.buf ? out.buf : "", out.len) == (ssize_t)out.len &&
	    fsync(fd) == 0)
		r = 0;
	close(fd);
	if (r == 0 && rename(tmp, d->opts.hosts_file) != 0) {
		bool mounted = errno == EBUSY || errno == EXDEV;
		int saved = errno;

		unlink(tmp);
		r = mounted ? write_in_place(d->opts.hosts_file, out.buf ? out.buf : "", out.len) : -1;
		if (!mounted)
			errno = saved;
		sbuf_free(&out);
		return r;
	}
	if (r)
		unlink(tmp);
	sbuf_free(&out);
	return r;
}

static void hosts_update(struct meshd *d)
{
	struct hosts_block hb = { .b = { 0 }, .mesh = d->domain,
				  .short_names = d->opts.hosts_short };
	struct mesh_node_self self;
	uint64_t h;

	if (!d->node || !d->opts.hosts_file)
		return;
	mesh_node_get_self(d->node, &self);
	hosts_line(&hb, self.name, self.ipv4, self.ipv6);
	mesh_node_foreach_peer(d->node, hosts_peer, &hb);
	if (hb.b.oom) {
		sbuf_free(&hb.b);
		return;
	}
	h = fnv1a(hb.b.buf, hb.b.len);
	if (h != d->hosts_hash) {
		if (hosts_write(d, hb.b.buf) == 0)
			d->hosts_hash = h;
		else
			log_ratelimited(LOG_LVL_WARN, "cannot update %s: %s", d->opts.hosts_file,
					strerror(errno));
	}
	sbuf_free(&hb.b);
}

static void on_hosts(uv_timer_t *t)
{
	hosts_update(t->data);
}

void meshd_hosts_start(struct meshd *d)
{
	uint64_t ms = (uint64_t)HOSTS_CHECK_S * 1000;

	if (!d->opts.hosts_file || uv_timer_init(&d->loop, &d->hosts) != 0)
		return;
	d->hosts.data = d;
	d->hosts_on = true;
	uv_timer_start(&d->hosts, on_hosts, ms, ms);
	hosts_update(d);
}

/* At stop: the timer goes and our block leaves the file. */
void meshd_hosts_stop(struct meshd *d)
{
	if (d->hosts_on) {
		uv_timer_stop(&d->hosts);
		uv_close((uv_handle_t *)&d->hosts, hosts_closed);
		d->hosts_on = false;
	}
	if (d->hosts_hash && hosts_write(d, NULL) != 0)
		log_warn("cannot remove the meshd block from %s: %s", d->opts.hosts_file,
			 strerror(errno));
	d->hosts_hash = 0;
}
