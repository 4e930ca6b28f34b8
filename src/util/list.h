/* Intrusive doubly linked list (circular, with a head node). */
#ifndef MESHD_UTIL_LIST_H
#define MESHD_UTIL_LIST_H

#include <stddef.h>
#include <stdbool.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *h) { h->prev = h->next = h; }
static inline bool list_empty(const struct list *h) { return h->next == h; }

static inline void list_insert_tail(struct list *h, struct list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_remove(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
