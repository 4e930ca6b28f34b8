/* Address prefixes (mesh/prefix.h). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/prefix.h"
#include "util/err.h"
#include "util/str.h"

size_t mesh_family_bytes(uint8_t family)
{
	if (family == MESH_FAMILY_V4)
		return 4;
	if (family == MESH_FAMILY_V6)
		return 16;
	return 0;
}

unsigned mesh_family_bits(uint8_t family)
{
	return (unsigned)mesh_family_bytes(family) * 8;
}

bool mesh_bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

uint8_t mesh_prefix_mask(unsigned len, unsigned i)
{
	if (len >= 8 * (i + 1))
		return 0xff;
	if (len <= 8 * i)
		return 0x00;
	return (uint8_t)(0xff << (8 - (len - 8 * i)));
}

bool mesh_prefix_valid(const struct mesh_prefix *p)
{
	unsigned bits = mesh_family_bits(p->family), i;

	if (bits == 0 || p->len > bits)
		return false;
	for (i = 0; i < sizeof p->addr; i++) {
		uint8_t keep = i < bits / 8 ? mesh_prefix_mask(p->len, i) : 0;

		if ((p->addr[i] & (uint8_t)~keep) != 0)
			return false;
	}
	return true;
}

/* Zeroes the host bits of p (p->len within the family). */
static void mask_host(struct mesh_prefix *p)
{
	unsigned i;

	for (i = 0; i < sizeof p->addr; i++)
		p->addr[i] &= mesh_prefix_mask(p->len, i);
}

int mesh_prefix_cmp(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, sizeof a->addr)) != 0)
		return c < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}


int mesh_prefix_format(const struct mesh_prefix *p, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int af;

	if (cap > 0)
		out[0] = '\0';
	if (!mesh_prefix_valid(p))
		return MESHD_E_INVAL;
	af = p->family == MESH_FAMILY_V4 ? AF_INET : AF_INET6;
	if (inet_ntop(af, p->addr, a, sizeof a) == NULL)
		return MESHD_E_INVAL;
	if ((size_t)snprintf(out, cap, "%s/%u", a, (unsigned)p->len) >= cap)
		return MESHD_E_RANGE;
	return 0;
}

/* The "/len" part (NULL: a host route); false when it is not a decimal
 * within the family. */
static bool parse_len(const char *slash, uint8_t family, uint8_t *len)
{
	unsigned long v;
	char *end;

	if (slash == NULL) {
		*len = (uint8_t)mesh_family_bits(family);
		return true;
	}
	if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
		return false;
	v = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || v > mesh_family_bits(family))
		return false;
	*len = (uint8_t)v;
	return true;
}

int mesh_prefix_parse(const char *s, struct mesh_prefix *out, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN], canon[MESH_PREFIX_STRLEN];
	const char *slash;
	struct mesh_prefix p;
	size_t alen;

	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	if (s == NULL || *s == '\0') {
		meshd_errf(err, errlen, "invalid route '': empty");
		return MESHD_E_INVAL;
	}
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (!str_copy_n(a, sizeof a, s, alen))
		goto bad;
	p.family = strchr(a, ':') != NULL ? MESH_FAMILY_V6 : MESH_FAMILY_V4;
	if (inet_pton(p.family == MESH_FAMILY_V4 ? AF_INET : AF_INET6, a, p.addr) != 1 ||
	    !parse_len(slash, p.family, &p.len))
		goto bad;
	if (!mesh_prefix_valid(&p)) {
		mask_host(&p);
		(void)mesh_prefix_format(&p, canon, sizeof canon);
		meshd_errf(err, errlen, "invalid route '%s': host bits set (did you mean %s?)", s,
		    canon);
		return MESHD_E_INVAL;
	}
	*out = p;
	return 0;
bad:
	meshd_errf(err, errlen, "invalid route '%s': expected a prefix like 10.1.0.0/16 or "
	    "fd00:1::/64", s);
	return MESHD_E_INVAL;
}

bool mesh_prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	unsigned bits;

	if (a->family != b->family)
		return false;
	bits = a->len < b->len ? a->len : b->len;
	if (bits > mesh_family_bits(a->family))
		bits = mesh_family_bits(a->family);
	return mesh_bits_equal(a->addr, b->addr, bits);
}

bool mesh_prefix_contains_addr(const struct mesh_prefix *p, uint8_t family,
    const uint8_t *addr)
{
	unsigned bits = mesh_family_bits(family);

	if (p->family != family || bits == 0 || p->len > bits)
		return false;
	return mesh_bits_equal(p->addr, addr, p->len);
}

int mesh_prefix_encode(const struct mesh_prefix *p, struct wr *w)
{
	int r;

	if (!mesh_prefix_valid(p))
		return MESHD_E_INVAL;
	if ((r = wr_u8(w, p->family)) != 0 ||
	    (r = wr_bytes(w, p->addr, mesh_family_bytes(p->family))) != 0 ||
	    (r = wr_u8(w, p->len)) != 0)
		return r;
	return 0;
}

int mesh_prefix_decode(struct rd *rd, struct mesh_prefix *p)
{
	size_t n;

	memset(p, 0, sizeof *p);
	if (rd_u8(rd, &p->family) != 0 || (n = mesh_family_bytes(p->family)) == 0 ||
	    rd_bytes(rd, p->addr, n) != 0 || rd_u8(rd, &p->len) != 0 ||
	    !mesh_prefix_valid(p))
		return MESHD_E_PROTO;
	return 0;
}
