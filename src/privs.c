/* Capability drop after set-up (see privs.h for what is kept and why).
 *
 * Order matters: PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set, so
 * the bounding set shrinks first and capset() (which removes CAP_SETPCAP
 * itself) comes last. Raw capget/capset with the v3 ABI (two 32-bit words)
 * instead of libcap: three system calls do not justify a dependency. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "privs.h"
#include "util/err.h"
#include "util/log.h"

_Static_assert(PRIVS_CAP_DAC_OVERRIDE == CAP_DAC_OVERRIDE, "capability numbers");
_Static_assert(PRIVS_CAP_NET_BIND_SERVICE == CAP_NET_BIND_SERVICE, "capability numbers");
_Static_assert(PRIVS_CAP_NET_ADMIN == CAP_NET_ADMIN, "capability numbers");
_Static_assert(PRIVS_CAP_NET_RAW == CAP_NET_RAW, "capability numbers");

/* Upper bound for the bounding-set walk; PR_CAPBSET_READ's EINVAL marks the
 * kernel's real last capability well before this. */
enum { PRIVS_CAP_WALK_MAX = 64 };

struct capsets {
	uint64_t eff, prm, inh;
};

static int caps_get(struct capsets *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof d);
	if (syscall(SYS_capget, &h, d) != 0)
		return MESHD_E_SYS;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(const struct capsets *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof d);
	d[0].effective = (uint32_t)c->eff;
	d[1].effective = (uint32_t)(c->eff >> 32);
	d[0].permitted = (uint32_t)c->prm;
	d[1].permitted = (uint32_t)(c->prm >> 32);
	d[0].inheritable = (uint32_t)c->inh;
	d[1].inheritable = (uint32_t)(c->inh >> 32);
	return syscall(SYS_capset, &h, d) == 0 ? 0 : MESHD_E_SYS;
}

/* The permission class (owner, group, other) that applies to us, as the
 * kernel picks it for a caller without CAP_DAC_OVERRIDE. */
static bool may(const struct stat *st, unsigned r, unsigned w, unsigned x)
{
	unsigned m = (unsigned)st->st_mode, shift = 0;

	if (st->st_uid == geteuid()) {
		shift = 6;
	} else {
		bool in = st->st_gid == getegid();
		int n = in ? 0 : getgroups(0, NULL);
		gid_t *groups = n > 0 ? calloc((size_t)n, sizeof *groups) : NULL;

		if (groups)
			n = getgroups(n, groups);
		for (int i = 0; groups && !in && i < n; i++)
			in = groups[i] == st->st_gid;
		free(groups);
		shift = in ? 3 : 0;
	}
	m >>= shift;
	return (!r || (m & 4)) && (!w || (m & 2)) && (!x || (m & 1));
}

bool privs_path_needs_dac(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	const char *slash;

	if (!path || !*path)
		return false;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return !may(&st, 1, 1, 1);
	if (stat(path, &st) == 0 && !may(&st, 1, 0, 0))
		return true;
	/* a file: mkstemp next to it and rename over it need its directory */
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) != 0)
		return false;	/* nothing we could fix by keeping a capability */
	return !may(&st, 0, 1, 1);
}

/* Threads other than the caller keep their own capabilities: say so. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Shrinks the bounding set to keep. Returns how many were dropped, or
 * MESHD_E_PERM (errno saved) when the kernel refused one (no CAP_SETPCAP). */
static int bounding_drop(uint64_t keep)
{
	int dropped = 0;

	for (int cap = 0; cap < PRIVS_CAP_WALK_MAX; cap++) {
		int in = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0UL, 0UL, 0UL);

		if (in < 0)
			break;		/* EINVAL: past the kernel's last capability */
		if (in == 0 || (keep & PRIVS_BIT(cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0UL, 0UL, 0UL) != 0)
			return MESHD_E_PERM;
		dropped++;
	}
	return dropped;
}

static void names(uint64_t set, char *out, size_t len)
{
	static const struct { int cap; const char *name; } known[] = {
		{ PRIVS_CAP_DAC_OVERRIDE, "cap_dac_override" },
		{ PRIVS_CAP_NET_BIND_SERVICE, "cap_net_bind_service" },
		{ PRIVS_CAP_NET_ADMIN, "cap_net_admin" },
		{ PRIVS_CAP_NET_RAW, "cap_net_raw" },
	};
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof known / sizeof known[0] && used < len; i++)
		if (set & PRIVS_BIT(known[i].cap))
			used += (size_t)snprintf(out + used, len - used, "%s%s",
						 used ? "," : "", known[i].name);
	if (!out[0])
		snprintf(out, len, "none");
}

int privs_drop(const char *const *paths)
{
	const char *env = getenv("MESHD_DROP_PRIVS");
	uint64_t keep = PRIVS_KEEP_DEFAULT;
	struct capsets now, want, got;
	char kept[128];
	int r = 0, nb, nt;

	if (env && !strcmp(env, "0")) {
		log_info("privileges: kept (MESHD_DROP_PRIVS=0)");
		return 0;
	}
	for (size_t i = 0; paths && paths[i]; i++) {
		if (privs_path_needs_dac(paths[i]) && !(keep & PRIVS_BIT(PRIVS_CAP_DAC_OVERRIDE))) {
			log_warn("privileges: %s is not writable by its owner class alone; "
				 "keeping cap_dac_override", paths[i]);
			keep |= PRIVS_BIT(PRIVS_CAP_DAC_OVERRIDE);
		}
	}
	if (caps_get(&now) != 0) {
		r = errno;
		log_warn("privileges: cannot read capabilities (%s); running with them all",
			 strerror(r));
		errno = r;
		return MESHD_E_SYS;
	}
	nb = bounding_drop(keep);
	if (nb < 0) {
		log_warn("privileges: cannot shrink the bounding set (%s); continuing",
			 strerror(errno));
		r = MESHD_E_PERM;
	}
	/* harmless where the kernel lacks ambient capabilities (EINVAL) */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL);
	want.prm = now.prm & keep;
	want.eff = want.prm;
	want.inh = 0;
	if (caps_set(&want) != 0) {
		log_warn("privileges: cannot drop capabilities (%s); continuing with them",
			 strerror(errno));
		r = MESHD_E_SYS;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
		log_warn("privileges: cannot set no_new_privs (%s)", strerror(errno));
		r = r ? r : MESHD_E_SYS;
	}
	if (caps_get(&got) == 0 && (got.prm & ~keep) != 0) {
		log_warn("privileges: capabilities beyond the kept ones remain (permitted %#llx)",
			 (unsigned long long)got.prm);
		r = r ? r : MESHD_E_PERM;
	}
	nt = count_threads();
	if (nt > 1)
		log_warn("privileges: %d other threads already run and keep their capabilities",
			 nt - 1);
	names(want.prm, kept, sizeof kept);
	log_info("privileges: keeping %s%s", kept,
		 nb > 0 ? "; bounding set reduced" : "");
	return r;
}
