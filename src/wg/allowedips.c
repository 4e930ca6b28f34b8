/* Cryptokey routing table: a path-compressed binary trie per address family.
 *
 * Every node stands for one prefix (key/cidr, host bits zero). A child's
 * prefix is strictly longer than its parent's and extends it; the child sits
 * in slot `bit(child key, parent cidr)`. Nodes that carry an owner are the
 * prefixes users inserted. Nodes without an owner only exist to split two
 * subtrees that diverge at their cidr, so they always have two children;
 * removing a prefix restores that invariant by unlinking nodes that became
 * useless (no owner and fewer than two children).
 *
 * Each owned node also sits on its owner's list, in insertion order, which
 * makes remove_by_owner and foreach proportional to that owner's prefixes.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wg/allowedips.h"

enum {
	V4_BITS = 32,
	V6_BITS = 128,
	KEY_BYTES = V6_BITS / 8,
};

struct wg_aip_node {
	struct wg_aip_node *child[2];
	struct wg_aip_node *parent;	/* NULL at a root */
	struct wg_aip_owner *owner;	/* NULL for a split-only node */
	struct list owner_link;		/* on owner->nodes; self-linked when no owner */
	uint8_t key[KEY_BYTES];		/* network order, bits past cidr are zero */
	uint8_t cidr;
	uint8_t family;			/* 4 or 6 */
};

static unsigned family_bits(int family)
{
	if (family == AF_INET)
		return V4_BITS;
	if (family == AF_INET6)
		return V6_BITS;
	return 0;
}

/* Bit `i` (0 = most significant) of a network-order key. */
static inline unsigned bit_at(const uint8_t *key, unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

/* Number of leading bits a and b share, at most `max`. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; n < max; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x != 0) {
			while (!(x & 0x80)) {
				x <<= 1;
				n++;
			}
			break;
		}
		n += 8;
	}
	return n < max ? n : max;
}

/* True when the first `cidr` bits of addr equal the node's key. */
static inline bool prefix_matches(const struct wg_aip_node *node, const uint8_t *addr)
{
	unsigned full = node->cidr / 8, rest = node->cidr % 8;

	if (memcmp(node->key, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((node->key[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static void mask_key(uint8_t *out, const uint8_t *addr, unsigned nbytes, unsigned cidr)
{
	unsigned i;

	memset(out, 0, KEY_BYTES);
	memcpy(out, addr, nbytes);
	for (i = cidr / 8; i < nbytes; i++)
		out[i] = 0;
	if (cidr % 8)
		out[cidr / 8] = addr[cidr / 8] & (uint8_t)(0xff << (8 - cidr % 8));
}

static struct wg_aip_node **root_of(struct wg_allowedips *t, unsigned family)
{
	return family == 4 ? &t->root4 : &t->root6;
}

/* The pointer that points at node: its parent's slot or the root. */
static struct wg_aip_node **link_of(struct wg_allowedips *t, struct wg_aip_node *node)
{
	struct wg_aip_node *p = node->parent;

	if (p == NULL)
		return root_of(t, node->family);
	return p->child[0] == node ? &p->child[0] : &p->child[1];
}

static struct wg_aip_node *node_new(const uint8_t *key, unsigned cidr, unsigned family)
{
	struct wg_aip_node *n = calloc(1, sizeof *n);

	if (n == NULL)
		return NULL;
	memcpy(n->key, key, KEY_BYTES);
	n->cidr = cidr;
	n->family = family;
	list_init(&n->owner_link);
	return n;
}

static void set_owner(struct wg_aip_node *n, struct wg_aip_owner *owner)
{
	if (n->owner == owner)
		return;
	list_remove(&n->owner_link);
	n->owner = owner;
	list_insert_tail(&owner->nodes, &n->owner_link);
}

static void attach(struct wg_aip_node *parent, struct wg_aip_node *child)
{
	parent->child[bit_at(child->key, parent->cidr)] = child;
	child->parent = parent;
}

void wg_aip_owner_init(struct wg_aip_owner *o)
{
	list_init(&o->nodes);
}

void wg_allowedips_init(struct wg_allowedips *t)
{
	t->root4 = t->root6 = NULL;
	t->seq = 0;
}

/* Frees a whole subtree without recursion: rotate left children up until
 * the top node has none, then free it and continue with its right child. */
static void free_tree(struct wg_aip_node *node)
{
	struct wg_aip_node *next;

	while (node != NULL) {
		if (node->child[0] != NULL) {
			next = node->child[0];
			node->child[0] = next->child[1];
			next->child[1] = node;
			node = next;
			continue;
		}
		next = node->child[1];
		list_remove(&node->owner_link);
		free(node);
		node = next;
	}
}

void wg_allowedips_clear(struct wg_allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	t->root4 = t->root6 = NULL;
	t->seq++;
}

int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 struct wg_aip_owner *owner)
{
	unsigned bits = family_bits(family), fam, common = 0;
	struct wg_aip_node **link, *parent = NULL, *node, *fresh, *split;
	uint8_t key[KEY_BYTES];

	if (bits == 0 || cidr > bits || owner == NULL)
		return MESHD_E_INVAL;
	fam = bits == V4_BITS ? 4 : 6;
	mask_key(key, addr, bits / 8, cidr);

	link = root_of(t, fam);
	while ((node = *link) != NULL) {
		common = common_bits(node->key, key, node->cidr < cidr ? node->cidr : cidr);
		if (common < node->cidr)
			break;		/* the new prefix branches off above node */
		if (node->cidr == cidr) {
			set_owner(node, owner);
			t->seq++;
			return 0;
		}
		parent = node;
		link = &node->child[bit_at(key, node->cidr)];
	}

	if ((fresh = node_new(key, cidr, fam)) == NULL)
		return MESHD_E_NOMEM;
	set_owner(fresh, owner);
	fresh->parent = parent;
	if (node == NULL) {
		*link = fresh;
	} else if (common == cidr) {
		/* New prefix covers node: it goes in between. */
		*link = fresh;
		attach(fresh, node);
	} else {
		/* They diverge at bit `common`: add a split node above both. */
		split = node_new(key, common, fam);
		if (split == NULL) {
			list_remove(&fresh->owner_link);
			free(fresh);
			return MESHD_E_NOMEM;
		}
		mask_key(split->key, key, bits / 8, common);
		split->parent = parent;
		*link = split;
		attach(split, node);
		attach(split, fresh);
	}
	t->seq++;
	return 0;
}

/* Unlinks node if it carries no owner and has at most one child, and does
 * the same for its parent when that one became a split node with one child. */
static void collapse(struct wg_allowedips *t, struct wg_aip_node *node)
{
	struct wg_aip_node *child, *parent;

	while (node != NULL && node->owner == NULL) {
		if (node->child[0] != NULL && node->child[1] != NULL)
			return;
		child = node->child[0] != NULL ? node->child[0] : node->child[1];
		parent = node->parent;
		*link_of(t, node) = child;
		if (child != NULL)
			child->parent = parent;
		free(node);
		/* Only a removed leaf leaves its parent with one child. */
		node = child == NULL ? parent : NULL;
	}
}

static void unown(struct wg_allowedips *t, struct wg_aip_node *node)
{
	list_remove(&node->owner_link);
	node->owner = NULL;
	collapse(t, node);
}

int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 struct wg_aip_owner *owner)
{
	unsigned bits = family_bits(family);
	struct wg_aip_node *node;
	uint8_t key[KEY_BYTES];

	if (bits == 0 || cidr > bits)
		return MESHD_E_INVAL;
	mask_key(key, addr, bits / 8, cidr);
	node = *root_of(t, bits == V4_BITS ? 4 : 6);
	while (node != NULL && node->cidr <= cidr && prefix_matches(node, key)) {
		if (node->cidr == cidr) {
			if (node->owner == NULL || node->owner != owner)
				return MESHD_E_NOENT;
			unown(t, node);
			t->seq++;
			return 0;
		}
		node = node->child[bit_at(key, node->cidr)];
	}
	return MESHD_E_NOENT;
}

void wg_allowedips_remove_by_owner(struct wg_allowedips *t, struct wg_aip_owner *owner)
{
	struct list *pos, *tmp;

	if (list_empty(&owner->nodes))
		return;
	list_for_each_safe(pos, tmp, &owner->nodes)
		unown(t, container_of(pos, struct wg_aip_node, owner_link));
	t->seq++;
}

struct wg_aip_owner *wg_allowedips_lookup(const struct wg_allowedips *t, int family,
					  const uint8_t *addr)
{
	const struct wg_aip_node *node;
	struct wg_aip_owner *best = NULL;
	unsigned bits = family_bits(family);

	if (bits == 0)
		return NULL;
	node = bits == V4_BITS ? t->root4 : t->root6;
	while (node != NULL && prefix_matches(node, addr)) {
		if (node->owner != NULL)
			best = node->owner;
		if (node->cidr == bits)
			break;
		node = node->child[bit_at(addr, node->cidr)];
	}
	return best;
}

void wg_allowedips_foreach(const struct wg_aip_owner *owner, wg_aip_fn *fn, void *arg)
{
	const struct list *pos;
	const struct wg_aip_node *node;

	for (pos = owner->nodes.next; pos != &owner->nodes; pos = pos->next) {
		node = container_of(pos, const struct wg_aip_node, owner_link);
		fn(arg, node->family == 4 ? AF_INET : AF_INET6, node->key, node->cidr);
	}
}
