/* Tests for the allowed-IPs trie (src/wg/allowedips.c): table cases, then a
 * randomized differential test against a naive linear list. */
#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wg/allowedips.h"

enum {
	ADDR_MAX = 16,
	LIST_STR = 1024,
	DIFF_SEED = 0x3c6ef372,
	DIFF_OPS = 60000,
	DIFF_OWNERS = 8,
	DIFF_MAX_ENTRIES = 6000,
	DIFF_BASES = 256,
	DIFF_WIPE_ONE_IN = 30,		/* remove_by_owner on ~1 op in 3000 */
};

struct owner {
	struct wg_aip_owner aip;
	int id;
};

/* "10.1.0.0/16" or "2001:db8::/32"; a bare address means a host prefix. */
static void parse_prefix(const char *s, int *family, uint8_t *addr, uint8_t *cidr)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;

	ck_assert_uint_lt(strlen(s), sizeof buf);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(addr, 0, ADDR_MAX);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		*cidr = 32;
	} else {
		ck_assert_msg(inet_pton(AF_INET6, buf, addr) == 1, "bad test prefix '%s'", s);
		*family = AF_INET6;
		*cidr = 128;
	}
	if (slash != NULL)
		*cidr = (uint8_t)atoi(slash + 1);
}

static void ins(struct wg_allowedips *t, const char *p, struct owner *o, int want, int line)
{
	uint8_t addr[ADDR_MAX], cidr;
	int family, r;

	parse_prefix(p, &family, addr, &cidr);
	r = wg_allowedips_insert(t, family, addr, cidr, &o->aip);
	ck_assert_msg(r == want, "line %d: insert %s = %d, want %d", line, p, r, want);
}

static void rem(struct wg_allowedips *t, const char *p, struct owner *o, int want, int line)
{
	uint8_t addr[ADDR_MAX], cidr;
	int family, r;

	parse_prefix(p, &family, addr, &cidr);
	r = wg_allowedips_remove(t, family, addr, cidr, &o->aip);
	ck_assert_msg(r == want, "line %d: remove %s = %d, want %d", line, p, r, want);
}

static void look(struct wg_allowedips *t, const char *a, struct owner *want, int line)
{
	uint8_t addr[ADDR_MAX], cidr;
	struct wg_aip_owner *got;
	int family;

	parse_prefix(a, &family, addr, &cidr);
	got = wg_allowedips_lookup(t, family, addr);
	ck_assert_msg(got == (want ? &want->aip : NULL), "line %d: lookup %s = owner %d, want %d",
		      line, a, got ? container_of(got, struct owner, aip)->id : -1,
		      want ? want->id : -1);
}

#define INS(p, o) ins(&t, (p), (o), 0, __LINE__)
#define INS_RC(p, o, rc) ins(&t, (p), (o), (rc), __LINE__)
#define REM(p, o, rc) rem(&t, (p), (o), (rc), __LINE__)
#define LOOK(a, o) look(&t, (a), (o), __LINE__)

struct strbuf {
	char s[LIST_STR];
};

static void append_prefix(void *arg, int family, const uint8_t *addr, uint8_t cidr)
{
	struct strbuf *b = arg;
	char txt[INET6_ADDRSTRLEN];
	size_t n = strlen(b->s);

	ck_assert_ptr_nonnull(inet_ntop(family, addr, txt, sizeof txt));
	snprintf(b->s + n, sizeof b->s - n, "%s%s/%u", n ? " " : "", txt, cidr);
}

static void list_is(struct owner *o, const char *want, int line)
{
	struct strbuf b = { .s = "" };

	wg_allowedips_foreach(&o->aip, append_prefix, &b);
	ck_assert_msg(strcmp(b.s, want) == 0, "line %d: owner %d holds '%s', want '%s'", line,
		      o->id, b.s, want);
}

#define LIST(o, s) list_is((o), (s), __LINE__)

static struct owner A = { .id = 1 }, B = { .id = 2 }, C = { .id = 3 }, D = { .id = 4 };
static struct wg_allowedips t;

static void setup(void)
{
	wg_allowedips_init(&t);
	wg_aip_owner_init(&A.aip);
	wg_aip_owner_init(&B.aip);
	wg_aip_owner_init(&C.aip);
	wg_aip_owner_init(&D.aip);
}

static void teardown(void)
{
	wg_allowedips_clear(&t);
	ck_assert(list_empty(&A.aip.nodes) && list_empty(&B.aip.nodes));
	ck_assert(list_empty(&C.aip.nodes) && list_empty(&D.aip.nodes));
}

START_TEST(test_allowedips_lookup_v4_lpm)
{
	LOOK("10.1.2.3", NULL);
	INS("10.0.0.0/8", &A);
	INS("10.1.0.0/16", &B);
	INS("10.1.2.0/24", &C);
	INS("10.1.2.3/32", &D);
	INS("192.168.0.0/16", &A);
	LOOK("10.1.2.3", &D);
	LOOK("10.1.2.4", &C);
	LOOK("10.1.3.4", &B);
	LOOK("10.2.3.4", &A);
	LOOK("11.0.0.1", NULL);
	LOOK("192.168.255.255", &A);
	LOOK("192.169.0.0", NULL);
	LOOK("9.255.255.255", NULL);
	LOOK("::a01:203", NULL);		/* families do not mix */
}
END_TEST

START_TEST(test_allowedips_lookup_v6_lpm)
{
	INS("2001:db8::/32", &A);
	INS("2001:db8:1::/48", &B);
	INS("2001:db8:1:2::/64", &C);
	INS("2001:db8:1:2::1/128", &D);
	INS("fd00::/8", &B);
	LOOK("2001:db8:1:2::1", &D);
	LOOK("2001:db8:1:2::2", &C);
	LOOK("2001:db8:1:3::1", &B);
	LOOK("2001:db8:2::1", &A);
	LOOK("2001:db9::1", NULL);
	LOOK("fdff:ffff::1", &B);
	LOOK("fe00::", NULL);
	LOOK("10.0.0.1", NULL);			/* families do not mix */
}
END_TEST

START_TEST(test_allowedips_lookup_default_routes)
{
	INS("0.0.0.0/0", &A);
	INS("::/0", &B);
	INS("10.0.0.0/8", &C);
	INS("2001:db8::/32", &C);
	LOOK("1.2.3.4", &A);
	LOOK("255.255.255.255", &A);
	LOOK("0.0.0.0", &A);
	LOOK("10.9.9.9", &C);
	LOOK("::", &B);
	LOOK("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &B);
	LOOK("2001:db8::7", &C);
	REM("0.0.0.0/0", &A, 0);
	LOOK("1.2.3.4", NULL);
	LOOK("10.9.9.9", &C);
}
END_TEST

START_TEST(test_allowedips_lookup_host_prefixes)
{
	INS("192.0.2.1/32", &A);
	INS("192.0.2.0/32", &B);
	INS("192.0.2.3", &C);
	INS("2001:db8::1/128", &A);
	INS("2001:db8::/128", &B);
	LOOK("192.0.2.1", &A);
	LOOK("192.0.2.0", &B);
	LOOK("192.0.2.2", NULL);
	LOOK("192.0.2.3", &C);
	LOOK("2001:db8::1", &A);
	LOOK("2001:db8::", &B);
	LOOK("2001:db8::2", NULL);
	LOOK("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
}
END_TEST

START_TEST(test_allowedips_insert_overwrites_owner)
{
	INS("10.0.0.0/8", &A);
	INS("10.0.0.0/24", &A);
	INS("10.0.0.0/8", &B);
	LOOK("10.1.1.1", &B);
	LOOK("10.0.0.1", &A);
	LIST(&A, "10.0.0.0/24");
	LIST(&B, "10.0.0.0/8");
	INS("10.0.0.0/8", &B);			/* same owner again: unchanged */
	LIST(&B, "10.0.0.0/8");
	REM("10.0.0.0/8", &A, MESHD_E_NOENT);
	REM("10.0.0.0/8", &B, 0);
	LOOK("10.1.1.1", NULL);
}
END_TEST

START_TEST(test_allowedips_insert_masks_host_bits)
{
	INS("10.1.2.3/8", &A);
	INS("2001:db8:ffff::1/33", &B);
	INS("192.0.2.255/25", &C);
	LIST(&A, "10.0.0.0/8");
	LIST(&B, "2001:db8:8000::/33");
	LIST(&C, "192.0.2.128/25");
	LOOK("10.200.0.1", &A);
	LOOK("2001:db8:8000::5", &B);
	LOOK("2001:db8:7fff::5", NULL);
	LOOK("192.0.2.130", &C);
	LOOK("192.0.2.127", NULL);
	REM("10.9.9.9/8", &A, 0);		/* remove masks too */
	LIST(&A, "");
}
END_TEST

START_TEST(test_allowedips_insert_rejects_bad_args)
{
	uint8_t addr[ADDR_MAX] = { 10 };

	INS_RC("10.0.0.0/33", &A, MESHD_E_INVAL);
	INS_RC("::/129", &A, MESHD_E_INVAL);
	INS_RC("10.0.0.0/255", &A, MESHD_E_INVAL);
	ck_assert_int_eq(wg_allowedips_insert(&t, AF_UNIX, addr, 8, &A.aip), MESHD_E_INVAL);
	ck_assert_int_eq(wg_allowedips_remove(&t, AF_UNIX, addr, 8, &A.aip), MESHD_E_INVAL);
	REM("10.0.0.0/33", &A, MESHD_E_INVAL);
	ck_assert_ptr_null(wg_allowedips_lookup(&t, AF_UNIX, addr));
	LIST(&A, "");
}
END_TEST

START_TEST(test_allowedips_insert_reads_only_family_bytes)
{
	/* heap buffers of exactly 4 and 16 bytes: valgrind or ASan flags any
	 * read past them */
	uint8_t *v4 = malloc(4), *v6 = malloc(16);
	unsigned cidr;

	ck_assert(v4 != NULL && v6 != NULL);
	memset(v6, 0xfe, 16);
	for (cidr = 0; cidr <= 32; cidr++) {
		v4[0] = 10, v4[1] = 1, v4[2] = 2, v4[3] = (uint8_t)cidr;
		ck_assert_int_eq(wg_allowedips_insert(&t, AF_INET, v4, (uint8_t)cidr, &A.aip), 0);
		ck_assert_ptr_eq(wg_allowedips_lookup(&t, AF_INET, v4), &A.aip);
	}
	for (cidr = 0; cidr <= 128; cidr += 7) {
		ck_assert_int_eq(wg_allowedips_insert(&t, AF_INET6, v6, (uint8_t)cidr, &B.aip), 0);
		ck_assert_ptr_eq(wg_allowedips_lookup(&t, AF_INET6, v6), &B.aip);
	}
	v4[3] = 32;
	ck_assert_int_eq(wg_allowedips_remove(&t, AF_INET, v4, 32, &A.aip), 0);
	ck_assert_int_eq(wg_allowedips_remove(&t, AF_INET6, v6, 126, &B.aip), 0);
	free(v4);
	free(v6);
}
END_TEST

START_TEST(test_allowedips_remove_exact)
{
	INS("10.0.0.0/8", &A);
	INS("10.1.0.0/16", &B);
	INS("10.1.1.0/24", &C);
	REM("10.1.0.0/16", &B, 0);
	LOOK("10.1.1.1", &C);
	LOOK("10.1.2.1", &A);
	REM("10.1.0.0/16", &B, MESHD_E_NOENT);	/* already gone */
	REM("10.1.0.0/17", &A, MESHD_E_NOENT);	/* only an exact prefix */
	REM("10.0.0.0/7", &A, MESHD_E_NOENT);
	REM("10.1.1.0/24", &C, 0);
	REM("10.0.0.0/8", &A, 0);
	LOOK("10.1.1.1", NULL);
	REM("10.0.0.0/8", &A, MESHD_E_NOENT);
}
END_TEST

START_TEST(test_allowedips_remove_wrong_owner)
{
	INS("10.0.0.0/8", &A);
	INS("2001:db8::/32", &A);
	REM("10.0.0.0/8", &B, MESHD_E_NOENT);
	REM("2001:db8::/32", &B, MESHD_E_NOENT);
	LOOK("10.0.0.1", &A);
	LOOK("2001:db8::1", &A);
	/* a split node exists between these two: it has no owner at all */
	INS("10.1.0.0/16", &B);
	INS("10.2.0.0/16", &B);
	REM("10.0.0.0/14", &B, MESHD_E_NOENT);
	REM("10.0.0.0/14", &A, MESHD_E_NOENT);
}
END_TEST

START_TEST(test_allowedips_remove_collapses_splits)
{
	/* 10.1/16 and 10.2/16 hang below a split node at /14; removing one and
	 * then reinserting must behave as if the split never existed. */
	INS("10.1.0.0/16", &A);
	INS("10.2.0.0/16", &B);
	INS("10.3.0.0/16", &C);
	REM("10.2.0.0/16", &B, 0);
	LOOK("10.2.0.1", NULL);
	LOOK("10.1.0.1", &A);
	LOOK("10.3.0.1", &C);
	REM("10.1.0.0/16", &A, 0);
	LOOK("10.3.0.1", &C);
	INS("10.0.0.0/14", &D);			/* covers what is left */
	LOOK("10.1.0.1", &D);
	LOOK("10.3.0.1", &C);
	REM("10.3.0.0/16", &C, 0);
	REM("10.0.0.0/14", &D, 0);
	LOOK("10.3.0.1", NULL);
	ck_assert_ptr_null(t.root4);
}
END_TEST

START_TEST(test_allowedips_remove_by_owner)
{
	uint64_t seq;

	INS("10.0.0.0/8", &A);
	INS("10.1.0.0/16", &B);
	INS("10.1.1.0/24", &A);
	INS("2001:db8::/32", &A);
	INS("2001:db8:1::/48", &B);
	INS("0.0.0.0/0", &C);
	wg_allowedips_remove_by_owner(&t, &A.aip);
	LIST(&A, "");
	LOOK("10.1.1.1", &B);
	LOOK("10.2.0.1", &C);
	LOOK("2001:db8::1", NULL);
	LOOK("2001:db8:1::1", &B);
	seq = t.seq;
	wg_allowedips_remove_by_owner(&t, &A.aip);	/* nothing left: no change */
	ck_assert_uint_eq(t.seq, seq);
	wg_allowedips_remove_by_owner(&t, &B.aip);
	ck_assert_uint_gt(t.seq, seq);
	ck_assert_ptr_null(t.root6);
	LOOK("10.1.1.1", &C);
	wg_allowedips_remove_by_owner(&t, &C.aip);
	ck_assert_ptr_null(t.root4);
}
END_TEST

START_TEST(test_allowedips_foreach_insertion_order)
{
	INS("192.0.2.0/24", &A);
	INS("2001:db8::/32", &A);
	INS("10.0.0.0/8", &A);
	INS("10.0.0.0/16", &B);
	INS("0.0.0.0/0", &A);
	INS("::1/128", &A);
	LIST(&A, "192.0.2.0/24 2001:db8::/32 10.0.0.0/8 0.0.0.0/0 ::1/128");
	REM("10.0.0.0/8", &A, 0);
	INS("10.0.0.0/16", &A);			/* moves from B to the end of A */
	LIST(&A, "192.0.2.0/24 2001:db8::/32 0.0.0.0/0 ::1/128 10.0.0.0/16");
	LIST(&B, "");
	INS("10.0.0.0/8", &A);
	LIST(&A, "192.0.2.0/24 2001:db8::/32 0.0.0.0/0 ::1/128 10.0.0.0/16 10.0.0.0/8");
}
END_TEST

START_TEST(test_allowedips_clear_empties_owners)
{
	INS("10.0.0.0/8", &A);
	INS("10.0.0.0/24", &B);
	INS("::/0", &A);
	wg_allowedips_clear(&t);
	ck_assert_ptr_null(t.root4);
	ck_assert_ptr_null(t.root6);
	LIST(&A, "");
	LIST(&B, "");
	LOOK("10.0.0.1", NULL);
	INS("10.0.0.0/8", &A);			/* usable again */
	LOOK("10.0.0.1", &A);
}
END_TEST

/* Differential test against a linear list. */

struct entry {
	int family;
	uint8_t key[ADDR_MAX];
	uint8_t cidr;
	int owner;
	uint64_t order;			/* position on its owner's list */
	bool live;
};

struct model {
	struct entry *e;
	size_t n;
	uint64_t order;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void mask(uint8_t *key, unsigned nbytes, unsigned cidr)
{
	unsigned i;

	for (i = 0; i < nbytes; i++) {
		if (cidr >= 8 * (i + 1))
			continue;
		key[i] &= cidr <= 8 * i ? 0 : (uint8_t)(0xff << (8 - (cidr - 8 * i)));
	}
}

static bool covers(const struct entry *e, int family, const uint8_t *addr)
{
	uint8_t a[ADDR_MAX];

	if (e->family != family)
		return false;
	memcpy(a, addr, ADDR_MAX);
	mask(a, family == AF_INET ? 4 : 16, e->cidr);
	return memcmp(a, e->key, family == AF_INET ? 4 : 16) == 0;
}

static struct entry *model_find(struct model *m, int family, const uint8_t *key, uint8_t cidr)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].live && m->e[i].family == family && m->e[i].cidr == cidr &&
		    memcmp(m->e[i].key, key, ADDR_MAX) == 0)
			return &m->e[i];
	return NULL;
}

static int model_lookup(const struct model *m, int family, const uint8_t *addr)
{
	const struct entry *best = NULL;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].live && covers(&m->e[i], family, addr) &&
		    (best == NULL || m->e[i].cidr > best->cidr))
			best = &m->e[i];
	return best ? best->owner : -1;
}

/* Random addresses cluster around a few bases so that prefixes nest and
 * diverge at every depth. */
static void random_addr(const uint8_t bases[][ADDR_MAX], int *family, uint8_t *addr)
{
	unsigned i, flip = rnd_below(8);

	*family = rnd_below(2) ? AF_INET : AF_INET6;
	memcpy(addr, bases[rnd_below(DIFF_BASES)], ADDR_MAX);
	if (*family == AF_INET)
		memset(addr + 4, 0, ADDR_MAX - 4);
	for (i = 0; i < flip; i++) {
		unsigned b = rnd_below(*family == AF_INET ? 32 : 128);

		addr[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
	}
}

static uint8_t random_cidr(int family)
{
	unsigned max = family == AF_INET ? 32 : 128;

	switch (rnd_below(4)) {
	case 0:
		return (uint8_t)max;
	case 1:
		return (uint8_t)rnd_below(max / 4 + 1);
	default:
		return (uint8_t)rnd_below(max + 1);
	}
}

static struct owner diff_owner[DIFF_OWNERS];

static int owner_id(const struct wg_aip_owner *o)
{
	return o ? container_of(o, struct owner, aip)->id : -1;
}

struct collect {
	const struct model *m;
	int owner;
	uint64_t last_order;
	size_t count;
	uint64_t seed;
};

static void check_listed(void *arg, int family, const uint8_t *addr, uint8_t cidr)
{
	struct collect *c = arg;
	uint8_t key[ADDR_MAX] = { 0 };
	const struct entry *e;

	memcpy(key, addr, family == AF_INET ? 4 : 16);
	e = model_find((struct model *)c->m, family, key, cidr);
	ck_assert_msg(e != NULL && e->owner == c->owner && (c->count == 0 ||
		      e->order > c->last_order),
		      "seed %#" PRIx64 ": foreach of owner %d lists a wrong or misordered prefix",
		      c->seed, c->owner);
	c->last_order = e->order;
	c->count++;
}

static void check_owner_lists(const struct model *m, uint64_t seed)
{
	int o;
	size_t i, want;

	for (o = 0; o < DIFF_OWNERS; o++) {
		struct collect c = { .m = m, .owner = o, .seed = seed };

		wg_allowedips_foreach(&diff_owner[o].aip, check_listed, &c);
		for (i = 0, want = 0; i < m->n; i++)
			want += m->e[i].live && m->e[i].owner == o;
		ck_assert_msg(c.count == want, "seed %#" PRIx64 ": owner %d lists %zu, want %zu",
			      seed, o, c.count, want);
	}
}

static void model_compact(struct model *m)
{
	size_t i, j;

	for (i = j = 0; i < m->n; i++)
		if (m->e[i].live)
			m->e[j++] = m->e[i];
	m->n = j;
}

START_TEST(test_allowedips_lookup_matches_model)
{
	const uint64_t seed = DIFF_SEED;
	uint8_t bases[DIFF_BASES][ADDR_MAX], addr[ADDR_MAX], key[ADDR_MAX];
	struct model m = { .n = 0, .order = 0 };
	struct wg_allowedips tr;
	int i, j, family, o, got, want, r, lookups = 0, hits = 0;
	uint8_t cidr;
	struct entry *e;

	rng_state = seed;
	m.e = calloc(DIFF_MAX_ENTRIES + 1, sizeof *m.e);
	ck_assert_ptr_nonnull(m.e);
	for (i = 0; i < DIFF_BASES; i++)
		for (j = 0; j < ADDR_MAX; j++)
			bases[i][j] = (uint8_t)rnd();
	for (o = 0; o < DIFF_OWNERS; o++) {
		diff_owner[o].id = o;
		wg_aip_owner_init(&diff_owner[o].aip);
	}
	wg_allowedips_init(&tr);

	for (i = 0; i < DIFF_OPS; i++) {
		unsigned op = rnd_below(100);

		if (op < 45 && m.n < DIFF_MAX_ENTRIES) {
			random_addr((const uint8_t (*)[ADDR_MAX])bases, &family, addr);
			cidr = random_cidr(family);
			o = (int)rnd_below(DIFF_OWNERS);
			memcpy(key, addr, ADDR_MAX);
			mask(key, ADDR_MAX, cidr);
			r = wg_allowedips_insert(&tr, family, addr, cidr, &diff_owner[o].aip);
			ck_assert_msg(r == 0, "seed %#" PRIx64 " op %d: insert = %d", seed, i, r);
			e = model_find(&m, family, key, cidr);
			if (e == NULL) {
				e = &m.e[m.n++];
				e->family = family;
				memcpy(e->key, key, ADDR_MAX);
				e->cidr = cidr;
				e->live = true;
				e->owner = -1;
			}
			if (e->owner != o) {
				e->owner = o;
				e->order = ++m.order;
			}
		} else if (op < 55 && m.n > 0) {
			/* a listed prefix, possibly removed already, and
			 * sometimes with the wrong owner */
			e = &m.e[rnd_below((unsigned)m.n)];
			o = rnd_below(5) == 0 ? (int)rnd_below(DIFF_OWNERS) : e->owner;
			family = e->family;
			memcpy(key, e->key, ADDR_MAX);
			cidr = e->cidr;
			e = model_find(&m, family, key, cidr);
			want = e != NULL && o == e->owner ? 0 : MESHD_E_NOENT;
			r = wg_allowedips_remove(&tr, family, key, cidr, &diff_owner[o].aip);
			ck_assert_msg(r == want, "seed %#" PRIx64 " op %d: remove = %d, want %d",
				      seed, i, r, want);
			if (r == 0)
				e->live = false;
		} else if (op == 55 && rnd_below(DIFF_WIPE_ONE_IN) == 0) {
			o = (int)rnd_below(DIFF_OWNERS);
			wg_allowedips_remove_by_owner(&tr, &diff_owner[o].aip);
			for (j = 0; j < (int)m.n; j++)
				if (m.e[j].owner == o)
					m.e[j].live = false;
			model_compact(&m);
		} else {
			random_addr((const uint8_t (*)[ADDR_MAX])bases, &family, addr);
			got = owner_id(wg_allowedips_lookup(&tr, family, addr));
			want = model_lookup(&m, family, addr);
			ck_assert_msg(got == want,
				      "seed %#" PRIx64 " op %d: lookup = owner %d, want %d",
				      seed, i, got, want);
			lookups++;
			hits += want >= 0;
		}
		if (i % 5000 == 0) {
			model_compact(&m);
			check_owner_lists(&m, seed);
		}
	}
	model_compact(&m);
	check_owner_lists(&m, seed);
	/* the run must exercise both outcomes */
	ck_assert_int_gt(hits, lookups / 10);
	ck_assert_int_lt(hits, lookups);
	wg_allowedips_clear(&tr);
	for (o = 0; o < DIFF_OWNERS; o++)
		ck_assert(list_empty(&diff_owner[o].aip.nodes));
	free(m.e);
}
END_TEST

Suite *suite_allowedips(void);

Suite *suite_allowedips(void)
{
	Suite *s = suite_create("allowedips");
	TCase *tc = tcase_create("table");
	TCase *diff = tcase_create("differential");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_allowedips_lookup_v4_lpm);
	tcase_add_test(tc, test_allowedips_lookup_v6_lpm);
	tcase_add_test(tc, test_allowedips_lookup_default_routes);
	tcase_add_test(tc, test_allowedips_lookup_host_prefixes);
	tcase_add_test(tc, test_allowedips_insert_overwrites_owner);
	tcase_add_test(tc, test_allowedips_insert_masks_host_bits);
	tcase_add_test(tc, test_allowedips_insert_rejects_bad_args);
	tcase_add_test(tc, test_allowedips_insert_reads_only_family_bytes);
	tcase_add_test(tc, test_allowedips_remove_exact);
	tcase_add_test(tc, test_allowedips_remove_wrong_owner);
	tcase_add_test(tc, test_allowedips_remove_collapses_splits);
	tcase_add_test(tc, test_allowedips_remove_by_owner);
	tcase_add_test(tc, test_allowedips_foreach_insertion_order);
	tcase_add_test(tc, test_allowedips_clear_empties_owners);
	suite_add_tcase(s, tc);
	tcase_set_timeout(diff, 120);
	tcase_add_test(diff, test_allowedips_lookup_matches_model);
	suite_add_tcase(s, diff);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_allowedips());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
