/* list.h: an intrusive doubly linked list; removal is O(1) and safe while iterating with list_for_each_safe. */
#ifndef SYSMEM_LIST_H
#define SYSMEM_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_link {
        struct list_link *prev, *next;
};
struct list {
        struct list_link head;
};

static inline void list_init(struct list *l) { l->head.prev = l->head.next = &l->head; }
static inline bool list_empty(const struct list *l) { return l->head.next == &l->head; }
static inline void list_link_init(struct list_link *k) { k->prev = k->next = NULL; }
static inline bool list_linked(const struct list_link *k) { return k->next != NULL; }
static inline void list_append(struct list *l, struct list_link *k) {
        k->prev = l->head.prev;
        k->next = &l->head;
        l->head.prev->next = k;
        l->head.prev = k;
}
static inline void list_remove(struct list_link *k) {
        if (!k->next)
                return;
        k->prev->next = k->next;
        k->next->prev = k->prev;
        k->prev = k->next = NULL;
}

#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each(pos, l, type, member)                                                                            \
        for (type *pos = list_entry((l)->head.next, type, member); &pos->member != &(l)->head;                         \
             pos = list_entry(pos->member.next, type, member))
#define list_for_each_safe(pos, l, type, member)                                                                       \
        for (type *pos = list_entry((l)->head.next, type, member),                                                     \
                  *pos##_next = list_entry(pos->member.next, type, member);                                            \
             &pos->member != &(l)->head; pos = pos##_next, pos##_next = list_entry(pos->member.next, type, member))

#endif
