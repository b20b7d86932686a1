/*
 * ino-index.c: kernel objects found by (device, inode) in O(1): tokens by their client end's inode, and
 * buffers (GetVmoInfo). An open-addressing table with tombstones, at most half full. Calls nothing else of
 * the server.
 *
 * Tokens and node references: the daemon makes every such socketpair, so it knows the client end's inode
 * before anyone else holds it; a presented fd is that end exactly when its own inode is that one and the
 * kernel says the socket was made by this daemon (SO_PEERCRED of a socketpair end is its creator's). No
 * NETLINK_SOCK_DIAG question is asked, so the cost does not grow with the collections or with every
 * other Unix socket on the machine, and the daemon needs no unix_diag module.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server-internal.h"

#define TOMBSTONE ((void *)1)

static size_t slot_of(dev_t dev, ino_t ino, size_t capacity) {
        uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 40)) * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
        return (size_t)(h >> 32) & (capacity - 1);
}

/*
 * Rebuilds the table sized for what is live, not for its tombstones: at most a third full afterwards, so
 * the next rebuild (at half full) is a sixth of the capacity of additions away (O(1) amortized), and adding
 * and removing for ever never grows it (sizing by the old capacity doubled it at every rebuild, live
 * entries or not).
 */
static int index_grow(struct ino_index *ix) {
        size_t cap = 64;
        while (cap < 3 * (ix->count + 1))
                cap *= 2;
        struct ino_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < ix->capacity; i++) {
                struct ino_slot *o = &ix->slots[i];
                if (!o->value || o->value == TOMBSTONE)
                        continue;
                size_t j = slot_of(o->dev, o->ino, cap);
                while (slots[j].value)
                        j = (j + 1) & (cap - 1);
                slots[j] = *o;
        }
        free(ix->slots);
        ix->slots = slots;
        ix->capacity = cap;
        ix->used = ix->count;
        return 0;
}

int ino_index_add(struct ino_index *ix, dev_t dev, ino_t ino, void *value, uint32_t aux) {
        if (2 * (ix->used + 1) > ix->capacity && index_grow(ix) < 0)
                return -ENOMEM;
        size_t j = slot_of(dev, ino, ix->capacity);
        while (ix->slots[j].value && ix->slots[j].value != TOMBSTONE)
                j = (j + 1) & (ix->capacity - 1);
        if (!ix->slots[j].value)
                ix->used++;
        ix->slots[j] = (struct ino_slot){dev, ino, value, aux};
        ix->count++;
        return 0;
}

void ino_index_remove(struct ino_index *ix, dev_t dev, ino_t ino, const void *value) {
        if (!ix->capacity)
                return;
        for (size_t j = slot_of(dev, ino, ix->capacity); ix->slots[j].value; j = (j + 1) & (ix->capacity - 1)) {
                struct ino_slot *sl = &ix->slots[j];
                if (sl->value == value && sl->ino == ino && sl->dev == dev) {
                        sl->value = TOMBSTONE;
                        ix->count--;
                        return;
                }
        }
}

void *ino_index_find(const struct ino_index *ix, dev_t dev, ino_t ino, uint32_t *ret_aux) {
        if (!ix->capacity)
                return NULL;
        for (size_t j = slot_of(dev, ino, ix->capacity); ix->slots[j].value; j = (j + 1) & (ix->capacity - 1)) {
                const struct ino_slot *sl = &ix->slots[j];
                if (sl->value != TOMBSTONE && sl->ino == ino && sl->dev == dev) {
                        if (ret_aux)
                                *ret_aux = sl->aux;
                        return sl->value;
                }
        }
        return NULL;
}

void ino_index_free(struct ino_index *ix) {
        free(ix->slots);
        *ix = (struct ino_index){0};
}

/* Whether fd is a Unix socket this process made (its SO_PEERCRED, for a socketpair end, is its maker's). */
static bool made_by_us(int fd) {
        struct ucred uc;
        socklen_t len = sizeof uc;
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof uc && uc.pid == getpid();
}

struct node *ino_index_find_socket(const struct ino_index *ix, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return NULL;
        struct node *n = ino_index_find(ix, st.st_dev, st.st_ino, NULL);
        return n && made_by_us(fd) ? n : NULL;
}
