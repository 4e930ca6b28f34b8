/* Cryptokey routing: a longest-prefix-match trie for IPv4 and IPv6 mapping
 * prefixes to an owner (a peer). Each owner embeds a struct wg_aip_owner whose
 * list links all its nodes, so removing an owner's prefixes or listing them
 * costs only that owner's entries. Lookups are on the per-packet path: no
 * allocation, no recursion. */
#ifndef MESHD_WG_ALLOWEDIPS_H
#define MESHD_WG_ALLOWEDIPS_H

#include <stdint.h>

#include "util/list.h"

struct wg_aip_node;

struct wg_aip_owner {
	struct list nodes;	/* of struct wg_aip_node, via its owner link */
};

struct wg_allowedips {
	struct wg_aip_node *root4, *root6;
	uint64_t seq;		/* bumped on every change */
};

typedef void wg_aip_fn(void *arg, int family, const uint8_t *addr, uint8_t cidr);

void wg_aip_owner_init(struct wg_aip_owner *o);

void wg_allowedips_init(struct wg_allowedips *t);
/* Frees every node. Owners' lists are left empty. */
void wg_allowedips_clear(struct wg_allowedips *t);

/* Insert addr/cidr (family AF_INET/AF_INET6, addr in network order; host bits
 * beyond cidr are ignored and stored as zero). If the prefix exists its owner
 * changes to `owner`. Returns 0, MESHD_E_INVAL (bad family or cidr), MESHD_E_NOMEM. */
int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 struct wg_aip_owner *owner);
/* Removes the exact prefix if `owner` holds it: 0, or MESHD_E_NOENT. */
int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 struct wg_aip_owner *owner);
void wg_allowedips_remove_by_owner(struct wg_allowedips *t, struct wg_aip_owner *owner);
/* Longest-prefix match; NULL when nothing covers addr. */
struct wg_aip_owner *wg_allowedips_lookup(const struct wg_allowedips *t, int family,
					  const uint8_t *addr);
/* Calls fn for each prefix the owner holds (in insertion order). */
void wg_allowedips_foreach(const struct wg_aip_owner *owner, wg_aip_fn *fn, void *arg);

#endif
