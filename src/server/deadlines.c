/*
 * deadlines.c: a binary min-heap of deadlines embedded in their owners (struct deadline), so that one loop
 * timer serves any number of them: adding, moving and removing one is O(log n) and makes no syscall.
 * Calls nothing else of the server.
 */
#include <errno.h>
#include <stdlib.h>

#include "server-internal.h"

static void place(struct deadline_heap *h, uint32_t i, struct deadline *d) {
        h->items[i] = d;
        d->slot = i + 1;
}

static void sift_up(struct deadline_heap *h, uint32_t i) {
        struct deadline *d = h->items[i];
        while (i > 0) {
                uint32_t parent = (i - 1) / 2;
                if (h->items[parent]->usec <= d->usec)
                        break;
                place(h, i, h->items[parent]);
                i = parent;
        }
        place(h, i, d);
}

static void sift_down(struct deadline_heap *h, uint32_t i) {
        struct deadline *d = h->items[i];
        for (;;) {
                uint32_t child = 2 * i + 1;
                if (child >= h->count)
                        break;
                if (child + 1 < h->count && h->items[child + 1]->usec < h->items[child]->usec)
                        child++;
                if (d->usec <= h->items[child]->usec)
                        break;
                place(h, i, h->items[child]);
                i = child;
        }
        place(h, i, d);
}

int deadline_heap_set(struct deadline_heap *h, struct deadline *d, uint64_t usec) {
        if (d->slot) {
                d->usec = usec;
                sift_up(h, d->slot - 1);
                sift_down(h, d->slot - 1);
                return 0;
        }
        if (h->count == h->capacity) {
                uint32_t cap = h->capacity ? h->capacity * 2 : 64;
                struct deadline **items = realloc(h->items, (size_t)cap * sizeof *items);
                if (!items)
                        return -ENOMEM;
                h->items = items;
                h->capacity = cap;
        }
        d->usec = usec;
        place(h, h->count++, d);
        sift_up(h, h->count - 1);
        return 0;
}

void deadline_heap_remove(struct deadline_heap *h, struct deadline *d) {
        if (!d->slot)
                return;
        uint32_t i = d->slot - 1;
        d->slot = 0;
        struct deadline *last = h->items[--h->count];
        if (i == h->count)
                return;
        place(h, i, last);
        sift_up(h, i);
        sift_down(h, last->slot - 1);
}

struct deadline *deadline_heap_top(const struct deadline_heap *h) { return h->count ? h->items[0] : NULL; }

void deadline_heap_free(struct deadline_heap *h) {
        for (uint32_t i = 0; i < h->count; i++)
                h->items[i]->slot = 0;
        free(h->items);
        *h = (struct deadline_heap){0};
}
