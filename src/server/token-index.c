/*
 * token-index.c: tokens found by the inode of their client end, in O(1). The daemon makes every token's
 * socketpair, so it knows the client end's inode before anyone else holds it; a presented fd is that
 * token's exactly when its own inode is that one and the kernel says the socket was made by this daemon
 * (SO_PEERCRED of a socketpair end is its creator's). No NETLINK_SOCK_DIAG question is asked, so the cost
 * does not grow with the collections or with every other Unix socket on the machine. Calls nothing else
 * of the server.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server-internal.h"

#define TOMBSTONE ((struct node *)1)

static size_t slot_of(ino_t ino, size_t capacity) {
        uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
        return (size_t)(h >> 32) & (capacity - 1);
}

static int index_grow(struct token_index *ix) {
        size_t cap = ix->capacity ? 2 * ix->capacity : 64;
        struct token_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < ix->capacity; i++) {
                struct token_slot *o = &ix->slots[i];
                if (!o->node || o->node == TOMBSTONE)
                        continue;
                size_t j = slot_of(o->ino, cap);
                while (slots[j].node)
                        j = (j + 1) & (cap - 1);
                slots[j] = *o;
        }
        free(ix->slots);
        ix->slots = slots;
        ix->capacity = cap;
        ix->used = ix->count;
        return 0;
}

int token_index_add(struct token_index *ix, ino_t ino, struct node *n) {
        /* Live plus tombstones at most half the table: probes stay short. */
        if (2 * (ix->used + 1) > ix->capacity && index_grow(ix) < 0)
                return -ENOMEM;
        size_t j = slot_of(ino, ix->capacity);
        while (ix->slots[j].node && ix->slots[j].node != TOMBSTONE)
                j = (j + 1) & (ix->capacity - 1);
        if (!ix->slots[j].node)
                ix->used++;
        ix->slots[j] = (struct token_slot){ino, n};
        ix->count++;
        return 0;
}

void token_index_remove(struct token_index *ix, ino_t ino, struct node *n) {
        if (!ix->capacity)
                return;
        for (size_t j = slot_of(ino, ix->capacity); ix->slots[j].node; j = (j + 1) & (ix->capacity - 1))
                if (ix->slots[j].node == n && ix->slots[j].ino == ino) {
                        ix->slots[j].node = TOMBSTONE;
                        ix->count--;
                        return;
                }
}

struct node *token_index_find(const struct token_index *ix, ino_t ino) {
        if (!ix->capacity)
                return NULL;
        for (size_t j = slot_of(ino, ix->capacity); ix->slots[j].node; j = (j + 1) & (ix->capacity - 1))
                if (ix->slots[j].node != TOMBSTONE && ix->slots[j].ino == ino)
                        return ix->slots[j].node;
        return NULL;
}

void token_index_free(struct token_index *ix) {
        free(ix->slots);
        *ix = (struct token_index){0};
}

/* Whether fd is a Unix socket this process made (its SO_PEERCRED, for a socketpair end, is its maker's). */
static bool made_by_us(int fd) {
        struct ucred uc;
        socklen_t len = sizeof uc;
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof uc && uc.pid == getpid();
}

struct node *token_index_lookup_fd(const struct token_index *ix, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return NULL;
        struct node *n = token_index_find(ix, st.st_ino);
        return n && made_by_us(fd) ? n : NULL;
}
