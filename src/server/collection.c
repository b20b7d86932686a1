/* collection.c: a logical buffer collection: its node tree, the messages of its nodes, failure, and allocation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/macros.h"
#include "common/util.h"
#include "server-internal.h"

int server_receive(struct server *s, int fd, uint8_t object_kind, struct wire_msg **ret_msg, char *err,
                   size_t err_size);

static int node_io(sd_event_source *src, int fd, uint32_t revents, void *userdata);

const char *node_kind_name(enum node_kind kind) {
        switch (kind) {
        case NODE_TOKEN:
                return "token";
        case NODE_COLLECTION:
                return "collection";
        case NODE_GROUP:
                return "group";
        }
        return "?";
}

const char *node_display_name(const struct node *n) { return n->debug_name[0] ? n->debug_name : "(unnamed)"; }

static uint8_t node_object_kind(const struct node *n) {
        switch (n->kind) {
        case NODE_TOKEN:
                return WIRE_OBJ_TOKEN;
        case NODE_COLLECTION:
                return WIRE_OBJ_COLLECTION;
        case NODE_GROUP:
                return WIRE_OBJ_GROUP;
        }
        return 0;
}

struct collection *collection_new(struct server *s, struct allocator_conn *creator) {
        struct collection *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->server = s;
        c->id = s->next_collection_id++;
        list_init(&c->nodes);
        c->state = COLLECTION_NEGOTIATING;
        for (size_t i = 0; i < SYSMEM_MAX_BUFFERS; i++)
                c->buffer_fds[i] = -1;
        c->creator = creator;
        if (creator)
                creator->live_collections++;
        list_append(&s->collections, &c->link);
        s->collection_count++;
        return c;
}

int node_attach_fd(struct node *n, int fd) {
        int r = sd_event_add_io(n->collection->server->event, &n->source, fd, EPOLLIN, node_io, n);
        if (r < 0)
                return r;
        n->fd = fd;
        n->ino = 0; /* looked up by node_ino() on first need: most nodes are never searched for */
        return 0;
}

/* The inode of the node's server end; an fstat per node at creation cost every Duplicate a syscall. */
static ino_t node_ino(struct node *n) {
        struct stat st;
        if (n->ino == 0 && n->fd >= 0 && fstat(n->fd, &st) == 0)
                n->ino = st.st_ino;
        return n->ino;
}

struct node *node_new(struct collection *c, struct node *parent, enum node_kind kind, int fd) {
        struct node *n = calloc(1, sizeof *n);
        if (!n)
                return NULL;
        n->collection = c;
        n->parent = parent;
        n->kind = kind;
        n->fd = -1;
        n->pending_bind_fd = -1;
        n->rights_mask = SYSMEM_RIGHTS_SAME;
        list_init(&n->children);
        if (parent) {
                /* A child starts with its parent's debug info and rights (sysmem-aggregation.md §0). */
                memcpy(n->debug_name, parent->debug_name, sizeof n->debug_name);
                n->debug_id = parent->debug_id;
                n->rights_mask = parent->rights_mask;
        }
        if (node_attach_fd(n, fd) < 0) {
                free(n);
                return NULL;
        }
        if (parent)
                list_append(&parent->children, &n->sibling_link);
        else
                c->root = n;
        list_append(&c->nodes, &n->link);
        c->node_count++;
        return n;
}

/* Stops serving the node's socket; the node may stay in the tree (orphan) or be removed later. */
static void node_detach_fd(struct node *n) {
        n->source = sd_event_source_disable_unref(n->source);
        if (n->fd >= 0)
                close(n->fd);
        n->fd = -1;
        if (n->pending_bind_fd >= 0)
                close(n->pending_bind_fd);
        n->pending_bind_fd = -1;
}

void node_free(struct node *n) {
        node_detach_fd(n);
        free(n->constraints);
        free(n);
}

/* Closes and forgets every buffer fd: retire and free both run, and a closed number may be reused in between. */
static void collection_close_buffers(struct collection *c) {
        for (uint32_t i = 0; i < SYSMEM_MAX_BUFFERS; i++)
                if (c->buffer_fds[i] >= 0)
                        close(take_fd(&c->buffer_fds[i]));
}

void collection_free(struct collection *c) {
        list_for_each_safe(n, &c->nodes, struct node, link) {
                list_remove(&n->link);
                node_free(n);
        }
        collection_close_buffers(c);
        free(c);
}

/* Removes a failed collection from the server; its memory is freed after the dispatch pass. */
static void collection_retire(struct collection *c) {
        if (c->dead)
                return;
        struct server *s = c->server;
        c->dead = true;
        c->state = COLLECTION_FAILED;
        list_remove(&c->link);
        s->collection_count--;
        s->total_bytes -= c->bytes_charged;
        c->bytes_charged = 0;
        if (c->creator)
                c->creator->live_collections--;
        c->creator = NULL;
        /* The daemon lets go of its buffer fds now; the kernel frees pages when clients let go too. */
        collection_close_buffers(c);
        list_append(&s->graveyard_collections, &c->link);
        server_schedule_reap(s);
}

/* Fails one node: answers its waits, sends the epitaph, closes its socket, removes it from the tree. */
static void node_fail_one(struct node *n, enum sysmem_error error, const char *message) {
        struct server *s = n->collection->server;
        if (n->dead)
                return;
        n->dead = true;
        if (n->fd >= 0) {
                for (uint32_t i = 0; i < n->pending_wait_count; i++)
                        server_reply_error(s, n->fd, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, n->pending_waits[i], error,
                                           message);
                n->pending_wait_count = 0;
                server_send_epitaph(s, n->fd, error, message);
        }
        node_detach_fd(n);
}

void collection_fail(struct collection *c, enum sysmem_error error, const char *message) {
        if (c->dead)
                return;
        c->error = error;
        util_strlcpy(c->error_message, message, sizeof c->error_message);
        c->state = COLLECTION_FAILED;
        log_info("collection %llu%s%s failed: %s: %s", (unsigned long long)c->id, c->has_name ? " " : "",
                 c->has_name ? c->name : "", error_name(error), message);
        /* Leaves first (reverse creation order puts children before their parents). */
        for (struct list_link *k = c->nodes.head.prev; k != &c->nodes.head; k = k->prev)
                node_fail_one(list_entry(k, struct node, link), error, message);
        collection_retire(c);
}

/*
 * The subtree a failure takes down: for now every node propagates to its parent, so a failure
 * anywhere fails the whole collection (attached and dispensable subtrees come with the node tree).
 */
static struct node *find_tree_to_fail(struct node *n) {
        while (n->parent)
                n = n->parent;
        return n;
}

void node_fail(struct node *n, enum sysmem_error error, const char *fmt, ...) {
        /* Protocol reasons are short; the prefix below must still fit the wire's error message. */
        char reason[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        struct collection *c = n->collection;
        if (c->dead || n->dead)
                return;
        char message[sizeof c->error_message];
        snprintf(message, sizeof message, "participant '%s' (%s) failed: %s", node_display_name(n),
                 node_kind_name(n->kind), reason);
        log_warning("collection %llu: %s", (unsigned long long)c->id, message);
        /*
         * The node itself gets the precise error (PROTOCOL_DEVIATION for a bad request); the rest of
         * the failure domain gets UNSPECIFIED, as in sysmem2, with the reason spelled out.
         */
        node_fail_one(n, error, message);
        struct node *top = find_tree_to_fail(n);
        if (top == c->root) {
                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED, message);
                return;
        }
        node_fail_one(top, SYSMEM_ERROR_UNSPECIFIED, message);
}

/* ---- allocation ---- */

static bool node_ready(const struct node *n) {
        if (n->orphaned)
                return true;
        switch (n->kind) {
        case NODE_TOKEN:
                return false;
        case NODE_COLLECTION:
                return n->constraints_set;
        case NODE_GROUP:
                return false;
        }
        return false;
}

/* Breadth-first order, the order in which sysmem folds participants together. */
static size_t collect_bfs(struct collection *c, struct node **out, size_t cap) {
        size_t head = 0, tail = 0;
        if (!c->root || cap == 0)
                return 0;
        out[tail++] = c->root;
        while (head < tail) {
                struct node *n = out[head++];
                list_for_each(ch, &n->children, struct node, sibling_link) {
                        if (tail < cap && !ch->dead)
                                out[tail++] = ch;
                }
        }
        return tail;
}

static int send_info(struct collection *c, struct node *n, uint32_t txid) {
        struct wire_buffer buffers[SYSMEM_MAX_BUFFERS];
        bool gets = n->constraints && core_participant_gets_buffers(n->constraints);
        for (uint32_t i = 0; i < c->buffer_count; i++) {
                buffers[i].vmo = gets ? c->buffer_fds[i] : -1;
                buffers[i].vmo_usable_start = 0;
        }
        struct wire_collection_info info = {
                .settings = c->result.settings,
                .buffers = buffers,
                .buffer_count = c->buffer_count,
                .buffer_collection_id = c->id,
                .close_weak_asap = -1,
        };
        return server_reply(c->server, n->fd, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid,
                            &wire_collection_info_schema, &info);
}

static int allocate_buffers(struct collection *c, char *err, size_t err_size) {
        struct server *s = c->server;
        const struct sysmem_buffer_memory_settings *bs = &c->result.settings.buffer_settings;
        uint64_t total = bs->raw_vmo_size * c->result.buffer_count;
        if (total > s->limits.max_total_bytes - MIN(s->total_bytes, s->limits.max_total_bytes)) {
                snprintf(err, err_size,
                         "%u buffers of %llu bytes would take the server past its limit of %llu bytes in all "
                         "collections (%llu in use)",
                         c->result.buffer_count, (unsigned long long)bs->raw_vmo_size,
                         (unsigned long long)s->limits.max_total_bytes, (unsigned long long)s->total_bytes);
                return -ENOMEM;
        }
        for (uint32_t i = 0; i < c->result.buffer_count; i++) {
                char name[SYSMEM_MAX_NAME_LENGTH + 32];
                snprintf(name, sizeof name, "sysmem:%s:%u", c->has_name ? c->name : "", i);
                int r = heap_memfd_allocate(bs->raw_vmo_size, name, &c->buffer_fds[i]);
                if (r < 0) {
                        snprintf(err, err_size, "allocating buffer %u of %llu bytes from %s failed: %s", i,
                                 (unsigned long long)bs->raw_vmo_size, bs->heap.heap_type, strerror(-r));
                        for (uint32_t j = 0; j < i; j++)
                                close(take_fd(&c->buffer_fds[j]));
                        return r;
                }
        }
        c->buffer_count = c->result.buffer_count;
        c->bytes_charged = total;
        s->total_bytes += total;
        return 0;
}

void collection_maybe_allocate(struct collection *c) {
        struct server *s = c->server;
        if (c->dead || c->state != COLLECTION_NEGOTIATING)
                return;
        struct node *order[1024];
        size_t count = collect_bfs(c, order, ARRAY_LEN(order));

        /* Zero-client check: once nobody is connected, nobody can ever use the buffers. */
        bool connected = false;
        for (size_t i = 0; i < count; i++)
                if (!order[i]->orphaned)
                        connected = true;
        if (!connected) {
                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED,
                                "every participant released the collection before it was allocated");
                return;
        }
        for (size_t i = 0; i < count; i++)
                if (!node_ready(order[i]))
                        return;

        struct core_participant parts[1024];
        size_t np = 0;
        for (size_t i = 0; i < count; i++) {
                struct node *n = order[i];
                if (n->kind != NODE_COLLECTION || !n->constraints_set)
                        continue;
                parts[np].constraints = n->constraints;
                parts[np].debug_name = n->debug_name[0] ? n->debug_name : NULL;
                np++;
        }
        struct core_failure failure = {0};
        int r = core_aggregate(parts, np, &s->core_config, &c->result, &failure);
        if (r < 0) {
                log_info("collection %llu: negotiation failed: %s", (unsigned long long)c->id, failure.message);
                collection_fail(c, failure.error ? failure.error : SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY,
                                failure.message);
                return;
        }
        char err[CORE_MESSAGE_SIZE];
        if (allocate_buffers(c, err, sizeof err) < 0) {
                collection_fail(c, SYSMEM_ERROR_NO_MEMORY, err);
                return;
        }
        c->state = COLLECTION_ALLOCATED;
        log_debug("collection %llu allocated: %u x %llu bytes", (unsigned long long)c->id, c->buffer_count,
                  (unsigned long long)c->result.settings.buffer_settings.size_bytes);
        for (size_t i = 0; i < count; i++) {
                struct node *n = order[i];
                if (n->dead || n->fd < 0)
                        continue;
                for (uint32_t w = 0; w < n->pending_wait_count; w++)
                        if (send_info(c, n, n->pending_waits[w]) < 0)
                                log_debug("collection %llu: could not deliver buffers to '%s'",
                                          (unsigned long long)c->id, node_display_name(n));
                n->pending_wait_count = 0;
        }
}

/*
 * After allocation, the collection ends when its last participant has gone: the daemon drops its
 * buffer fds, and the kernel frees the memory once the participants' fds and mappings are gone too.
 */
void collection_maybe_end(struct collection *c) {
        if (c->dead)
                return;
        list_for_each(n, &c->nodes, struct node, link) if (!n->dead && !n->orphaned) return;
        log_debug("collection %llu: every participant released it; done", (unsigned long long)c->id);
        c->error = SYSMEM_ERROR_INVALID;
        collection_retire(c);
}

/* ---- node messages ---- */


static bool check_node_capacity(struct node *n, uint16_t op, uint32_t txid, uint32_t more) {
        struct collection *c = n->collection;
        struct server *s = c->server;
        if (c->node_count + more <= s->limits.max_nodes_per_collection)
                return true;
        char msg[160];
        snprintf(msg, sizeof msg, "the collection would exceed its limit of %u nodes",
                 s->limits.max_nodes_per_collection);
        server_reply_error(s, n->fd, op, txid, SYSMEM_ERROR_NO_MEMORY, msg);
        return false;
}

/* Creates a child token of n and returns the client end of its socket, or -errno. */
static int new_child_token(struct node *n, uint32_t mask) {
        int sv[2];
        int r = server_new_socketpair(sv);
        if (r < 0)
                return r;
        struct node *child = node_new(n->collection, n, NODE_TOKEN, sv[0]);
        if (!child) {
                close(sv[0]);
                close(sv[1]);
                return -ENOMEM;
        }
        if (mask != SYSMEM_RIGHTS_SAME && mask != 0)
                child->rights_mask &= mask;
        return sv[1];
}

static void token_duplicate(struct node *n, struct wire_msg *m) {
        struct server *s = n->collection->server;
        if (!check_node_capacity(n, m->opcode, m->txid, 1))
                return;
        struct wire_duplicate *req = m->body;
        /* A mask of 0 is deprecated in Fuchsia and means "same rights". */
        int fd = new_child_token(n, req->rights_attenuation_mask);
        if (fd < 0) {
                server_reply_error(s, n->fd, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, strerror(-fd));
                return;
        }
        struct wire_fd_body body = {.fd = fd};
        server_reply(s, n->fd, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
        close(fd);
}

static void token_duplicate_sync(struct node *n, struct wire_msg *m) {
        struct server *s = n->collection->server;
        struct wire_duplicate_sync *req = m->body;
        for (uint32_t i = 0; i < req->rights_attenuation_mask_count; i++)
                if (req->rights_attenuation_masks[i] == 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "DuplicateSync with a rights mask of 0");
                        return;
                }
        if (!check_node_capacity(n, m->opcode, m->txid, req->rights_attenuation_mask_count))
                return;
        int fds[SYSMEM_MAX_DUPLICATES];
        uint32_t made = 0;
        for (; made < req->rights_attenuation_mask_count; made++) {
                fds[made] = new_child_token(n, req->rights_attenuation_masks[made]);
                if (fds[made] < 0)
                        break;
        }
        if (made < req->rights_attenuation_mask_count) {
                /* The children made so far close with their client ends; that fails them, so fail cleanly now. */
                for (uint32_t i = 0; i < made; i++)
                        close(fds[i]);
                node_fail(n, SYSMEM_ERROR_NO_MEMORY, "DuplicateSync could not create %u tokens",
                          req->rights_attenuation_mask_count);
                return;
        }
        struct wire_duplicate_sync_reply body = {.tokens = fds, .token_count = made};
        server_reply(s, n->fd, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
        for (uint32_t i = 0; i < made; i++)
                close(fds[i]);
}

static void collection_wait(struct node *n, struct wire_msg *m) {
        struct collection *c = n->collection;
        struct server *s = c->server;
        if (!n->constraints_set) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "WaitForAllBuffersAllocated before SetConstraints");
                return;
        }
        if (c->state == COLLECTION_ALLOCATED) {
                send_info(c, n, m->txid);
                return;
        }
        if (n->pending_wait_count >= s->limits.max_pending_waits) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "more than %u WaitForAllBuffersAllocated outstanding",
                          s->limits.max_pending_waits);
                return;
        }
        n->pending_waits[n->pending_wait_count++] = m->txid;
}

static void node_handle(struct node *n, struct wire_msg *m) {
        struct collection *c = n->collection;
        struct server *s = c->server;
        if (n->released) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s after Release", wire_message_lookup(m->opcode)->name);
                return;
        }
        switch (m->opcode) {
        case WIRE_OP_SYNC: {
                struct wire_empty e = {0};
                server_reply(s, n->fd, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &e);
                break;
        }
        case WIRE_OP_RELEASE:
                n->released = true;
                break;
        case WIRE_OP_SET_NAME: {
                struct wire_set_name *req = m->body;
                /* A later name wins only with a strictly greater priority. */
                if (!c->has_name || req->priority > c->name_priority) {
                        util_strlcpy(c->name, req->name, sizeof c->name);
                        c->name_priority = req->priority;
                        c->has_name = true;
                }
                break;
        }
        case WIRE_OP_SET_DEBUG_CLIENT_INFO: {
                struct wire_debug_client_info *req = m->body;
                util_strlcpy(n->debug_name, req->name, sizeof n->debug_name);
                n->debug_id = req->id;
                break;
        }
        case WIRE_OP_GET_BUFFER_COLLECTION_ID: {
                struct wire_collection_id_reply rep = {.buffer_collection_id = c->id};
                server_reply(s, n->fd, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
                break;
        }
        case WIRE_OP_DUPLICATE:
                token_duplicate(n, m);
                break;
        case WIRE_OP_DUPLICATE_SYNC:
                token_duplicate_sync(n, m);
                break;
        case WIRE_OP_BIND:
                if (n->pending_bind_fd >= 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "Bind on a token already being bound");
                        return;
                }
                n->kind = NODE_COLLECTION;
                break;
        case WIRE_OP_SET_CONSTRAINTS: {
                struct wire_set_constraints *req = m->body;
                if (n->constraints_set) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetConstraints sent twice");
                        return;
                }
                if (c->state != COLLECTION_NEGOTIATING) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetConstraints after allocation");
                        return;
                }
                n->constraints_set = true;
                if (req->constraints && constraints_clone(req->constraints, &n->constraints) < 0) {
                        node_fail(n, SYSMEM_ERROR_NO_MEMORY, "could not store its constraints");
                        return;
                }
                collection_maybe_allocate(c);
                break;
        }
        case WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED:
                collection_wait(n, m);
                break;
        case WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED:
                if (c->state == COLLECTION_ALLOCATED) {
                        struct wire_empty e = {0};
                        server_reply(s, n->fd, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &e);
                } else {
                        server_reply_error(s, n->fd, m->opcode, m->txid, SYSMEM_ERROR_PENDING,
                                           "the collection is not allocated yet");
                }
                break;
        default:
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unexpected opcode %u", m->opcode);
                break;
        }
}

/* The client closed its end: a clean exit after Release, a bind completing, or a failure. */
static void node_closed(struct node *n) {
        struct collection *c = n->collection;
        if (n->pending_bind_fd >= 0 && !n->released) {
                int fd = take_fd(&n->pending_bind_fd);
                struct allocator_conn *a = n->pending_bind_allocator;
                n->pending_bind_allocator = NULL;
                node_detach_fd(n);
                n->kind = NODE_COLLECTION;
                if (a && a->has_debug_info) {
                        util_strlcpy(n->debug_name, a->debug_name, sizeof n->debug_name);
                        n->debug_id = a->debug_id;
                }
                if (node_attach_fd(n, fd) < 0) {
                        close(fd);
                        node_fail(n, SYSMEM_ERROR_NO_MEMORY, "could not serve the bound collection");
                }
                return;
        }
        if (n->released) {
                node_detach_fd(n);
                n->orphaned = true;
                log_debug("collection %llu: %s '%s' released", (unsigned long long)c->id, node_kind_name(n->kind),
                          node_display_name(n));
                if (c->state == COLLECTION_ALLOCATED)
                        collection_maybe_end(c);
                else
                        collection_maybe_allocate(c);
                return;
        }
        node_fail(n, SYSMEM_ERROR_UNSPECIFIED, "it closed its %s without Release (it exited or was killed)",
                  node_kind_name(n->kind));
}

static int node_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct node *n = userdata;
        struct server *s = n->collection->server;
        for (int i = 0; i < 32; i++) {
                if (n->dead || n->fd != fd)
                        break;
                struct wire_msg *m = NULL;
                char err[320];
                int r = server_receive(s, fd, node_object_kind(n), &m, err, sizeof err);
                if (r == -EAGAIN)
                        break;
                if (r == 0) {
                        node_closed(n);
                        break;
                }
                if (r < 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s", err);
                        break;
                }
                node_handle(n, m);
                wire_msg_free(m);
        }
        return 0;
}

struct node *server_find_token_by_peer_fd(struct server *s, int fd) {
        ino_t peer;
        if (sock_diag_peer_inode(s, fd, &peer) < 0)
                return NULL;
        list_for_each(c, &s->collections, struct collection, link)
                list_for_each(n, &c->nodes, struct node, link)
                        if (!n->dead && n->fd >= 0 && n->kind == NODE_TOKEN && node_ino(n) == peer)
                                return n;
        return NULL;
}
