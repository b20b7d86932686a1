/* collection.c: a logical buffer collection: its node tree, its nodes' messages, failure, and allocation verdicts. */
#include <errno.h>
#include <fcntl.h>
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

static int node_io(int fd, uint32_t revents, void *userdata);

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
        c->buffers_indexed = true; /* nothing to index until it has buffers */
        c->weak_signal_fd = c->weak_client_fd = -1;
        c->created_usec = util_now_usec();
        c->creator = creator;
        if (creator) {
                creator->live_collections++;
                list_append(&creator->created, &c->creator_link);
                c->owner = creator->cred;
        } else {
                c->owner = (struct client_cred){.uid = (uid_t)-1, .gid = (gid_t)-1};
        }
        budget_charge(s, c->owner.uid, BUDGET_COLLECTIONS, 1);
        list_append(&s->collections, &c->link);
        if (++s->collection_count > s->collection_peak)
                s->collection_peak = s->collection_count;
        /* Like sysmem, say what an allocation still waits for after 5 s; it is only a log. */
        collection_arm_stuck_timer(c, c->created_usec + 5u * 1000000u);
        return c;
}

/* The server's one timer fires at the earliest deadline; it is moved only when that comes earlier. */
static void server_arm_stuck_timer(struct server *s) {
        struct deadline *top = deadline_heap_top(&s->stuck);
        uint64_t at = top ? top->usec : UINT64_MAX;
        if (at >= s->stuck_armed_usec)
                return; /* a timer that fires early finds nothing due and moves itself on */
        /* A time source is one-shot: once it has fired it is off until enabled again. */
        if (sd_event_source_set_time(s->stuck_timer, at) >= 0 &&
            sd_event_source_set_enabled(s->stuck_timer, SD_EVENT_ONESHOT) >= 0)
                s->stuck_armed_usec = at;
}

void collection_arm_stuck_timer(struct collection *c, uint64_t deadline_usec) {
        if (deadline_heap_set(&c->server->stuck, &c->stuck, deadline_usec) == 0)
                server_arm_stuck_timer(c->server);
        /* else: out of memory; the log is only a log */
}

static void collection_disarm_stuck_timer(struct collection *c) { deadline_heap_remove(&c->server->stuck, &c->stuck); }

void collection_stuck_log(struct collection *c) {
        uint64_t age = (util_now_usec() - c->created_usec) / 1000;
        log_warning("collection %llu%s%s is not allocated after %llu ms; waiting for:", (unsigned long long)c->id,
                    c->has_name ? " " : "", c->has_name ? c->name : "", (unsigned long long)age);
        list_for_each(n, &c->nodes, struct node, link) {
                bool attached = false;
                for (const struct node *x = n; x; x = x->parent)
                        attached |= x->attach_root;
                /* Attached subtrees never hold back the first allocation: they are not what it waits for. */
                if (n->dead || node_ready(n) || attached)
                        continue;
                const char *why = n->kind == NODE_TOKEN        ? "token not yet bound or released"
                                  : n->kind == NODE_COLLECTION ? "collection without SetConstraints"
                                                               : "group without AllChildrenPresent";
                log_warning("  %s '%s' (id %llu): %s", node_kind_name(n->kind), node_display_name(n),
                            (unsigned long long)n->debug_id, why);
        }
}

int collection_stuck_timer_fired(sd_event_source *src, uint64_t usec, void *userdata) {
        struct server *s = userdata;
        for (struct deadline *d; (d = deadline_heap_top(&s->stuck)) && d->usec <= usec;) {
                struct collection *c = container_of(d, struct collection, stuck);
                deadline_heap_remove(&s->stuck, d);
                if (c->dead || c->state != COLLECTION_NEGOTIATING)
                        continue;
                collection_stuck_log(c);
                /* Once more 30 s later, then never again (as sysmem does). */
                if (++c->stuck_logs < 2)
                        (void)deadline_heap_set(&s->stuck, d, usec + 30u * 1000000u);
        }
        s->stuck_armed_usec = UINT64_MAX;
        struct deadline *top = deadline_heap_top(&s->stuck);
        if (sd_event_source_set_time(src, top ? top->usec : UINT64_MAX) >= 0 &&
            sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) >= 0)
                s->stuck_armed_usec = top ? top->usec : UINT64_MAX;
        return 0;
}

/* The client reads none of its replies (endpoint.c): the node fails, as for any deviation. */
static void node_overflowed(void *owner, const char *reason) {
        node_fail(owner, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s", reason);
}

int node_attach_fd(struct node *n, int fd) {
        int r = endpoint_attach(&n->ep, fd);
        if (r < 0)
                return r;
        return 0;
}

struct node *node_new(struct collection *c, struct node *parent, enum node_kind kind, int fd) {
        struct node *n = calloc(1, sizeof *n);
        if (!n)
                return NULL;
        n->collection = c;
        n->parent = parent;
        n->kind = kind;
        endpoint_init(&n->ep, c->server, node_io, node_overflowed, n, ENDPOINT_NODE_REPLY_BYTES);
        n->node_ref_fd = n->node_ref_client_fd = -1;
        n->pending_bind_fd = -1;
        n->rights_mask = SYSMEM_RIGHTS_SAME;
        n->index = c->next_node_index++;
        list_init(&n->children);
        if (parent) {
                n->in_attached = parent->in_attached;
                /*
                 * A child starts with its parent's debug info, rights and weakness at the time it is made;
                 * weak-ok only if the parent asked for it for its children (sysmem-aggregation.md §0).
                 */
                node_set_debug_name(n, parent->debug_name);
                n->debug_id = parent->debug_id;
                n->rights_mask = parent->rights_mask;
                n->weak = parent->weak;
                n->weak_ok = parent->weak_ok_for_children;
                n->weak_ok_for_children = parent->weak_ok_for_children;
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
        c->server->node_total++;
        budget_charge(c->server, c->owner.uid, BUDGET_NODES, 1);
        node_refresh(n);
        return n;
}

void node_index_client_ino(struct node *n, dev_t client_dev, ino_t client_ino) {
        if (!client_ino || ino_index_add(&n->collection->server->tokens, client_dev, client_ino, n, 0) < 0)
                return; /* not found by its client end then: Validate says unknown, as for any fd */
        n->client_dev = client_dev;
        n->client_ino = client_ino;
}

void node_index_client_end(struct node *n, int client_fd) {
        struct stat st;
        if (fstat(client_fd, &st) == 0)
                node_index_client_ino(n, st.st_dev, st.st_ino);
}

/* Stops serving the node's socket; the node may stay in the tree (orphan) or be removed later. */
static void node_detach_fd(struct node *n) {
        if (n->client_ino) {
                ino_index_remove(&n->collection->server->tokens, n->client_dev, n->client_ino, n);
                n->client_ino = 0;
        }
        endpoint_close(&n->ep); /* what the client has not read yet (its epitaph) still reaches it */
        if (n->pending_bind_fd >= 0)
                close(n->pending_bind_fd);
        n->pending_bind_fd = -1;
}

void node_close_lifetime_trackers(struct node *n) {
        for (uint32_t i = 0; i < n->lifetime_count; i++)
                close(n->lifetime[i].fd);
        n->lifetime_count = 0;
}

void node_free(struct node *n) {
        node_detach_fd(n);
        node_close_lifetime_trackers(n);
        if (n->node_ref_fd >= 0) {
                ino_index_remove(&n->collection->server->node_refs, n->node_ref_dev, n->node_ref_ino, n);
                close(n->node_ref_fd);
        }
        if (n->node_ref_client_fd >= 0)
                close(n->node_ref_client_fd);
        free(n->constraints);
        free(n->pending_waits);
        free(n->lifetime);
        free(n->debug_name);
        free(n);
}

bool node_connected(const struct node *n) { return !n->dead && !n->orphaned; }

/* ---- the collection's counts (what collection_after_change asks instead of walking the tree) ---- */

static uint8_t node_flags(const struct node *n) {
        if (n->dead)
                return 0;
        uint8_t f = NODE_ACCT_CONNECTED * !n->orphaned;
        if (!n->orphaned && !n->weak)
                f |= NODE_ACCT_STRONG;
        if (!n->in_attached && !node_ready(n))
                f |= NODE_ACCT_BLOCKING;
        if (!n->allocated)
                f |= NODE_ACCT_UNALLOCATED;
        if (n->parent && n->mode != MODE_PROPAGATE)
                f |= NODE_ACCT_ISOLATED;
        return f;
}

/* A failure domain nobody is connected to any more (as accounted). */
static bool node_abandoned(const struct node *n) {
        return (n->accounted & NODE_ACCT_ISOLATED) && n->connected_below == 0;
}

static void count_flag(uint32_t *count, uint8_t before, uint8_t after, uint8_t flag) {
        if ((before ^ after) & flag)
                *count += (after & flag) ? 1u : (uint32_t)-1;
}

/* The most fds one reply on n can carry now: DuplicateSync's or CreateChildrenSync's tokens, or its buffers. */
static uint32_t node_max_reply_fds(const struct node *n) {
        if (n->kind != NODE_COLLECTION)
                return SYSMEM_MAX_DUPLICATES;
        uint32_t buffers = n->allocated ? n->collection->buffer_count : n->collection->server->limits.max_buffers;
        return buffers + 1; /* and close_weak_asap */
}

void node_refresh(struct node *n) {
        struct collection *c = n->collection;
        n->ep.max_reply_fds = node_max_reply_fds(n);
        uint8_t before = n->accounted, after = node_flags(n);
        if (before == after)
                return;
        count_flag(&c->n_strong, before, after, NODE_ACCT_STRONG);
        count_flag(&c->n_blocking, before, after, NODE_ACCT_BLOCKING);
        count_flag(&c->n_unallocated, before, after, NODE_ACCT_UNALLOCATED);
        count_flag(&c->n_connected, before, after, NODE_ACCT_CONNECTED);
        /* Its own domain first, with the subtree count as it is; then the change of connection up the tree. */
        c->n_abandoned -= node_abandoned(n);
        n->accounted = (uint8_t)((after & NODE_ACCT_ISOLATED) | (before & ~NODE_ACCT_ISOLATED));
        c->n_abandoned += node_abandoned(n);
        if ((before ^ after) & NODE_ACCT_CONNECTED) {
                uint32_t delta = (after & NODE_ACCT_CONNECTED) ? 1u : (uint32_t)-1;
                for (struct node *a = n; a; a = a->parent) {
                        c->n_abandoned -= node_abandoned(a);
                        a->connected_below += delta;
                        c->n_abandoned += node_abandoned(a);
                }
        }
        n->accounted = after;
}

#ifdef SYSMEM_CHECK_INVARIANTS
/* Test builds: the counts are what a walk of the tree finds (a missed node_refresh() aborts the test). */
static void collection_check_counts(const struct collection *c) {
        uint32_t connected = 0, strong = 0, blocking = 0, unallocated = 0, abandoned = 0;
        uint32_t *below = calloc(c->next_node_index + 1u, sizeof *below);
        if (!below)
                return;
        /* Children are made after their parents: in reverse creation order a subtree is summed before its root. */
        for (struct list_link *k = c->nodes.head.prev; k != &c->nodes.head; k = k->prev) {
                const struct node *n = list_entry(k, struct node, link);
                below[n->index] += node_connected(n);
                if (n->parent)
                        below[n->parent->index] += below[n->index];
        }
        list_for_each(n, &c->nodes, struct node, link) {
                uint8_t f = node_flags(n);
                if (f != n->accounted || below[n->index] != n->connected_below) {
                        log_error("collection %llu: node %u counted as 0x%x with %u connected below; is 0x%x with %u",
                                  (unsigned long long)c->id, n->index, n->accounted, n->connected_below, f,
                                  below[n->index]);
                        abort();
                }
                connected += !!(f & NODE_ACCT_CONNECTED);
                strong += !!(f & NODE_ACCT_STRONG);
                blocking += !!(f & NODE_ACCT_BLOCKING);
                unallocated += !!(f & NODE_ACCT_UNALLOCATED);
                abandoned += node_abandoned(n);
        }
        free(below);
        if (connected != c->n_connected || strong != c->n_strong || blocking != c->n_blocking ||
            unallocated != c->n_unallocated || abandoned != c->n_abandoned) {
                log_error("collection %llu: counts %u/%u/%u/%u/%u, the tree says %u/%u/%u/%u/%u",
                          (unsigned long long)c->id, c->n_connected, c->n_strong, c->n_blocking, c->n_unallocated,
                          c->n_abandoned, connected, strong, blocking, unallocated, abandoned);
                abort();
        }
}
#else
static void collection_check_counts(const struct collection *c) { (void)c; }
#endif

void collection_defer_index(struct collection *c) {
        c->buffers_indexed = false;
        list_append(&c->server->unindexed, &c->unindexed_link);
}

void server_index_pending_buffers(struct server *s) {
        list_for_each_safe(c, &s->unindexed, struct collection, unindexed_link) {
                struct stat st;
                for (uint32_t i = 0; i < c->buffer_count; i++) {
                        struct buffer_slot *b = &c->buffers[i];
                        if (b->fd >= 0 && fstat(b->fd, &st) == 0 &&
                            ino_index_add(&s->buffers, st.st_dev, st.st_ino, c, i) == 0) {
                                b->dev = st.st_dev;
                                b->ino = st.st_ino;
                        } /* else: not found by GetVmoInfo */
                }
                list_remove(&c->unindexed_link);
                c->buffers_indexed = true;
        }
}

/* Closes and forgets every buffer fd: retire and free both run, and a closed number may be reused in between. */
static void collection_close_buffers(struct collection *c) {
        if (!c->buffers_indexed) {
                list_remove(&c->unindexed_link);
                c->buffers_indexed = true;
        }
        for (uint32_t i = 0; i < c->buffer_count; i++) {
                struct buffer_slot *b = &c->buffers[i];
                if (b->ino) {
                        ino_index_remove(&c->server->buffers, b->dev, b->ino, c);
                        b->ino = 0;
                }
                if (b->fd >= 0)
                        close(take_fd(&b->fd));
                if (b->ro_fd >= 0)
                        close(take_fd(&b->ro_fd));
        }
        c->buffers_released = true;
}

/* close_weak_asap: hanging up the daemon's end tells every weak participant to close its buffers. */
static void collection_signal_weak(struct collection *c) {
        if (c->weak_signalled)
                return;
        c->weak_signalled = true;
        if (c->weak_signal_fd >= 0)
                close(take_fd(&c->weak_signal_fd));
        if (c->weak_client_fd >= 0)
                close(take_fd(&c->weak_client_fd));
}

void collection_free(struct collection *c) {
        list_for_each_safe(n, &c->nodes, struct node, link) {
                list_remove(&n->link);
                node_free(n);
        }
        collection_close_buffers(c);
        collection_signal_weak(c);
        collection_disarm_stuck_timer(c);
        free(c->buffers);
        free(c);
}

/*
 * Removes a collection from the server (failed, or every participant gone); its memory is freed
 * after the dispatch pass. Lifetime trackers fire here: from the daemon's point of view no
 * participant holds the buffers any more (docs/differences.md says what Linux lets it know).
 */
static void collection_retire(struct collection *c) {
        if (c->dead)
                return;
        struct server *s = c->server;
        c->dead = true;
        if (c->state != COLLECTION_ALLOCATED || c->error != SYSMEM_ERROR_INVALID)
                c->state = COLLECTION_FAILED;
        list_remove(&c->link);
        s->collection_count--;
        s->total_bytes -= c->bytes_charged;
        budget_charge(s, c->owner.uid, BUDGET_BYTES, -(int64_t)c->bytes_charged);
        budget_charge(s, c->owner.uid, BUDGET_COLLECTIONS, -1);
        /* Its nodes (failed ones too, as for max_nodes_per_collection) stop counting with it. */
        budget_charge(s, c->owner.uid, BUDGET_NODES, -(int64_t)c->node_count);
        s->node_total -= MIN(s->node_total, c->node_count);
        c->bytes_charged = 0;
        if (c->creator) {
                c->creator->live_collections--;
                list_remove(&c->creator_link);
        }
        c->creator = NULL;
        collection_disarm_stuck_timer(c);
        /* The daemon lets go of its buffer fds now; the kernel frees pages when clients let go too. */
        collection_close_buffers(c);
        collection_signal_weak(c);
        list_for_each(n, &c->nodes, struct node, link) node_close_lifetime_trackers(n);
        list_append(&s->graveyard_collections, &c->link);
        server_schedule_reap(s);
}

/* Fails one node: answers its waits, sends the epitaph, closes its socket, leaves the tree. */
static void node_fail_one(struct node *n, enum sysmem_error error, const char *message) {
        if (n->dead)
                return;
        n->dead = true;
        node_refresh(n);
        if (n->ep.fd >= 0) {
                for (uint32_t i = 0; i < n->pending_wait_count; i++)
                        server_reply_error(&n->ep, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, n->pending_waits[i], error,
                                           message);
                n->pending_wait_count = 0;
                server_send_epitaph(&n->ep, error, message);
        }
        node_detach_fd(n);
        /*
         * A node that failed before its (logical) allocation never gets the buffers: its trackers fire
         * now. One that had them keeps its trackers until the collection lets go of the buffers
         * (collection_retire, which closes those of dead nodes too): others may still hold them.
         */
        if (!n->allocated)
                node_close_lifetime_trackers(n);
}

void collection_fail(struct collection *c, enum sysmem_error error, const char *message) {
        if (c->dead)
                return;
        c->error = error;
        c->state = COLLECTION_FAILED;
        log_info("collection %llu%s%s failed: %s: %s", (unsigned long long)c->id, c->has_name ? " " : "",
                 c->has_name ? c->name : "", error_name(error), message);
        /* Leaves first (reverse creation order puts children before their parents). */
        for (struct list_link *k = c->nodes.head.prev; k != &c->nodes.head; k = k->prev)
                node_fail_one(list_entry(k, struct node, link), error, message);
        collection_retire(c);
}

/*
 * The subtree a failure of n takes down (sysmem's FindTreeToFail): climb until the root, an
 * isolated node (AttachToken root, unchosen group child), or a dispensable node whose buffers are
 * already allocated.
 */
static struct node *find_tree_to_fail(struct node *n) {
        for (;;) {
                if (!n->parent || n->mode == MODE_DO_NOT_PROPAGATE)
                        return n;
                if (n->mode == MODE_PROPAGATE_BEFORE_ALLOCATION && n->allocated)
                        return n;
                n = n->parent;
        }
}

/* Fails top and everything under it, leaves first; the nodes stay (dead) until the collection goes. */
static void fail_subtree(struct node *top, enum sysmem_error error, const char *message) {
        struct collection *c = top->collection;
        size_t cap = c->node_count + 1, count = 0, head = 0;
        struct node **order = calloc(cap, sizeof *order);
        if (!order) {
                collection_fail(c, SYSMEM_ERROR_NO_MEMORY, "out of memory while failing a subtree");
                return;
        }
        order[count++] = top;
        /*
         * Dead children too: node_fail() marks the failing node dead before it fails its domain from the top,
         * and that node's own children are in the domain (node_fail_one() skips what is dead already).
         */
        while (head < count) {
                struct node *n = order[head++];
                list_for_each(ch, &n->children, struct node, sibling_link) if (count < cap) order[count++] = ch;
        }
        for (size_t i = count; i-- > 0;)
                node_fail_one(order[i], error, message);
        free(order);
}

void collection_fail_subtree_only(struct node *top, enum sysmem_error error, const char *message) {
        if (!top->collection->dead)
                fail_subtree(top, error, message);
}

void collection_fail_domain(struct node *n, enum sysmem_error error, const char *message) {
        struct collection *c = n->collection;
        if (c->dead)
                return;
        struct node *top = find_tree_to_fail(n);
        if (top == c->root) {
                collection_fail(c, error, message);
                return;
        }
        log_info("collection %llu: the subtree of %s '%s' failed: %s: %s", (unsigned long long)c->id,
                 node_kind_name(top->kind), node_display_name(top), error_name(error), message);
        fail_subtree(top, error, message);
        collection_after_change(c);
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
        char message[WIRE_MAX_ERROR_MESSAGE];
        snprintf(message, sizeof message, "participant '%s' (%s) failed: %s", node_display_name(n),
                 node_kind_name(n->kind), reason);
        /* The log says which process it was; clients are told the participant's name only. */
        char who[96] = "";
        if (n->cred.known)
                client_cred_format(&n->cred, who, sizeof who);
        log_warning("collection %llu: %s%s%s%s", (unsigned long long)c->id, message, who[0] ? " [" : "", who,
                    who[0] ? "]" : "");
        /*
         * The node itself gets the precise error (PROTOCOL_DEVIATION for a bad request); the rest of
         * its failure domain gets UNSPECIFIED, as in sysmem2, with the reason spelled out.
         */
        struct node *top = find_tree_to_fail(n);
        node_fail_one(n, error, message);
        if (top == c->root) {
                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED, message);
                return;
        }
        fail_subtree(top, SYSMEM_ERROR_UNSPECIFIED, message);
        collection_after_change(c);
}

/* ---- applying what an allocation found (allocate.c searches; the tree changes here) ---- */

/* Lifetime trackers of allocated nodes: closed at once when the buffers that exist are already few enough. */
static void check_lifetime_trackers(struct node *n, uint32_t buffers_left) {
        for (uint32_t i = 0; i < n->lifetime_count;) {
                if (buffers_left <= n->lifetime[i].remaining) {
                        close(n->lifetime[i].fd);
                        n->lifetime[i] = n->lifetime[--n->lifetime_count];
                } else {
                        i++;
                }
        }
}

/* The first allocation failing fails the collection; a late one, only the joining subtree's domain. */
static void allocation_failed(struct collection *c, const struct allocate_verdict *v) {
        log_info("collection %llu: %s of '%s' failed: %s", (unsigned long long)c->id,
                 v->late ? "late allocation" : "allocation", node_display_name(v->root), v->message);
        if (!v->late)
                collection_fail(c, v->error, v->message);
        else
                collection_fail_domain(v->root, v->error, v->message);
}

/* The search worked: the visible nodes of the pruned subtree have their buffers. */
static void allocation_deliver(struct collection *c, const struct allocate_verdict *v) {
        if (!v->late) {
                c->state = COLLECTION_ALLOCATED;
                collection_disarm_stuck_timer(c);
                log_debug("collection %llu allocated: %u x %llu bytes after %u combination(s)",
                          (unsigned long long)c->id, c->buffer_count,
                          (unsigned long long)c->result.settings.buffer_settings.size_bytes, v->tried);
        } else {
                log_debug("collection %llu: '%s' joined the existing buffers", (unsigned long long)c->id,
                          node_display_name(v->root));
        }
        /*
         * The chosen nodes are marked allocated and get their buffers first; only then do the group
         * children that were not chosen fail (as if they did not fit). Failing them does not re-enter
         * allocation: the caller's loop looks at the tree again afterwards.
         */
        for (size_t i = 0; i < v->pruned_count; i++) {
                struct node *n = v->pruned[i];
                if (!n->dead && n->visible) {
                        n->allocated = true;
                        node_refresh(n);
                }
        }
        for (size_t i = 0; i < v->pruned_count; i++) {
                struct node *n = v->pruned[i];
                if (n->dead || !n->visible)
                        continue;
                if (n->ep.fd >= 0) {
                        for (uint32_t w = 0; w < n->pending_wait_count; w++)
                                if (collection_send_info(c, n, n->pending_waits[w]) < 0)
                                        log_debug("collection %llu: could not deliver buffers to '%s'",
                                                  (unsigned long long)c->id, node_display_name(n));
                        n->pending_wait_count = 0;
                }
                check_lifetime_trackers(n, c->buffer_count);
        }
        for (size_t i = 0; i < v->pruned_count; i++) {
                struct node *n = v->pruned[i];
                if (n->dead || n->visible)
                        continue;
                if (n->parent && n->parent->kind == NODE_GROUP && !n->parent->dead && n->parent->visible) {
                        n->mode = MODE_DO_NOT_PROPAGATE;
                        node_refresh(n);
                        collection_fail_subtree_only(n, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY,
                                                     "another child of its group was chosen");
                }
        }
}

/* Delivers or fails as the verdict says and frees it; returns whether anything changed (the subtree was ready). */
static bool apply_verdict(struct collection *c, struct allocate_verdict *v) {
        bool changed = v->result != ATTEMPT_NOT_READY;
        if (v->result == ATTEMPT_OK)
                allocation_deliver(c, v);
        else if (changed)
                allocation_failed(c, v);
        free(v->pruned);
        v->pruned = NULL;
        return changed;
}

/*
 * Allocates whatever can be: the whole tree first, then every AttachToken subtree (or token made
 * after allocation) whose parent has buffers, again and again until nothing changes.
 */
static void allocate_run(struct collection *c) {
        for (unsigned round = 0; round < ALLOCATE_MAX_TREE && !c->dead; round++) {
                if (c->state == COLLECTION_NEGOTIATING) {
                        if (c->n_blocking > 0)
                                return; /* allocate_subtree() would find that node not ready */
                        struct allocate_verdict v = allocate_subtree(c, c->root);
                        if (!apply_verdict(c, &v) || c->dead || c->state != COLLECTION_ALLOCATED)
                                return;
                        continue;
                }
                if (c->state != COLLECTION_ALLOCATED || c->n_unallocated == 0)
                        return;
                /* The first eligible subtree in creation order that is ready; the others wait as they are. */
                struct allocate_verdict v = {.result = ATTEMPT_NOT_READY};
                list_for_each(n, &c->nodes, struct node, link) {
                        if (n->dead || n->allocated || !n->parent || !n->parent->allocated || n->parent->dead)
                                continue;
                        v = allocate_subtree(c, n);
                        if (v.result != ATTEMPT_NOT_READY)
                                break;
                }
                if (!apply_verdict(c, &v))
                        return;
        }
}

/* ---- what follows any change of the tree ---- */

static bool subtree_has_client(const struct node *n) { return n->connected_below > 0; }

/*
 * Failure domains nobody is connected to any more can never use their buffers: sysmem fails them
 * (a dispensable one before allocation takes its parent's domain with it). Deeper domains first.
 * Returns whether it failed something.
 */
static bool fail_abandoned_domains(struct collection *c) {
        if (c->n_abandoned == 0)
                return false; /* the walk below would find none */
        for (struct list_link *k = c->nodes.head.prev; k != &c->nodes.head; k = k->prev) {
                struct node *n = list_entry(k, struct node, link);
                if (n->dead || !n->parent || n->mode == MODE_PROPAGATE)
                        continue;
                if (subtree_has_client(n))
                        continue;
                collection_fail_domain(n, SYSMEM_ERROR_UNSPECIFIED, "every participant of this subtree has left");
                return true;
        }
        return false;
}

void collection_after_change(struct collection *c) {
        for (int guard = 0; guard < 4096 && !c->dead; guard++) {
                collection_check_counts(c);
                if (fail_abandoned_domains(c))
                        continue;
                bool connected = c->root && subtree_has_client(c->root);
                if (c->state == COLLECTION_NEGOTIATING) {
                        if (!connected) {
                                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED,
                                                "every participant released the collection before it was allocated");
                                return;
                        }
                        /*
                         * Zero strong nodes before allocation fail the collection. A node that released and
                         * closed is no longer strong (nor is a failed one). sysmem makes this check in a posted
                         * task, after the change that left no strong node has had its chance to allocate: a last
                         * strong token released and closed may complete the tree, which is then allocated (and
                         * close_weak_asap given at once, below).
                         */
                        bool strong = c->n_strong > 0;
                        allocate_run(c);
                        if (c->dead)
                                return;
                        if (c->state == COLLECTION_NEGOTIATING) {
                                if (!strong)
                                        collection_fail(c, SYSMEM_ERROR_UNSPECIFIED,
                                                        "no strong participant is left before allocation; weak "
                                                        "ones alone cannot keep buffers");
                                return;
                        }
                        continue; /* allocated: late joiners and strong holders are looked at next */
                }
                if (!connected) {
                        /* The normal end: every participant has released or gone. */
                        log_debug("collection %llu: every participant has left; done", (unsigned long long)c->id);
                        collection_retire(c);
                        return;
                }
                /*
                 * When no strong participant holds the buffers any more, weak ones are told to close
                 * theirs and the daemon drops its own references, so the memory can go.
                 */
                /*
                 * While any strong node is connected (a collection, or a token or group that may yet bring
                 * one), the daemon keeps the buffers for it, as sysmem keeps its strong VMOs while strong
                 * nodes exist.
                 */
                if (c->n_strong == 0 && !c->buffers_released) {
                        log_debug("collection %llu: no strong participant holds the buffers; close_weak_asap",
                                  (unsigned long long)c->id);
                        collection_signal_weak(c);
                        collection_close_buffers(c);
                }
                allocate_run(c);
                return;
        }
}


/*
 * The fd a participant that does not write gets for buffer i: a read-only open, made once and shared,
 * where the heap can make one; else the buffer fd itself (dma-bufs: docs/heaps.md). -errno on failure.
 */
static int buffer_ro_fd(struct collection *c, uint32_t i) {
        struct buffer_slot *b = &c->buffers[i];
        if (!c->heap->ops->open_read_only)
                return b->fd;
        if (b->ro_fd < 0) {
                int r = c->heap->ops->open_read_only(c->heap, b->fd);
                if (r < 0)
                        return r;
                b->ro_fd = r;
        }
        return b->ro_fd;
}

int collection_send_info(struct collection *c, struct node *n, uint32_t txid) {
        struct wire_buffer buffers[SYSMEM_MAX_BUFFERS];
        /*
         * Who gets which fds: nobody without usage; read-only fds unless the participant's usage
         * writes and its rights allow writing; nothing once the daemon has let go of the buffers.
         */
        bool gets = n->constraints && core_participant_gets_buffers(n->constraints) &&
                    (n->rights_mask & SYSMEM_RIGHT_READ) && !c->buffers_released;
        bool writes = gets && core_usage_needs_write(&n->constraints->usage) && (n->rights_mask & SYSMEM_RIGHT_WRITE);
        for (uint32_t i = 0; i < c->buffer_count; i++) {
                int fd = -1;
                if (gets) {
                        fd = writes ? c->buffers[i].fd : buffer_ro_fd(c, i);
                        if (fd < 0) {
                                char msg[160];
                                snprintf(msg, sizeof msg, "the daemon could not open buffer %u read-only: %s", i,
                                         strerror(-fd));
                                log_error("collection %llu: %s", (unsigned long long)c->id, msg);
                                /* Answer the wait, or it would hang: this participant gets no buffers. */
                                server_reply_error(&n->ep, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid,
                                                   SYSMEM_ERROR_NO_MEMORY, msg);
                                return -EIO;
                        }
                }
                buffers[i].vmo = fd;
                buffers[i].vmo_usable_start = 0;
        }
        int weak_fd = -1;
        if (n->weak) {
                if (c->weak_client_fd < 0 && !c->weak_signalled) {
                        int sv[2];
                        if (server_new_signal_pair(sv) < 0) {
                                server_reply_error(&n->ep, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid,
                                                   SYSMEM_ERROR_NO_MEMORY, "the daemon is out of sockets");
                                return -EIO;
                        }
                        c->weak_signal_fd = sv[0];
                        c->weak_client_fd = sv[1];
                }
                if (c->weak_signalled) {
                        /* The signal was given already: hand out an end that is hung up from the start. */
                        int sv[2];
                        if (server_new_socketpair(sv) < 0) {
                                server_reply_error(&n->ep, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid,
                                                   SYSMEM_ERROR_NO_MEMORY, "the daemon is out of sockets");
                                return -EIO;
                        }
                        close(sv[0]);
                        weak_fd = sv[1];
                } else {
                        weak_fd = c->weak_client_fd;
                }
        }
        struct wire_collection_info info = {
                .settings = c->result.settings,
                .buffers = buffers,
                .buffer_count = c->buffer_count,
                .buffer_collection_id = c->id,
                .close_weak_asap = weak_fd,
        };
        int r = server_reply(&n->ep, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid, &wire_collection_info_schema, &info);
        if (weak_fd >= 0 && weak_fd != c->weak_client_fd)
                close(weak_fd);
        return r;
}

/* ---- node messages ---- */

static bool check_node_capacity(struct node *n, uint16_t op, uint32_t txid, uint32_t more) {
        struct collection *c = n->collection;
        struct server *s = c->server;
        char msg[192];
        if (c->node_count + more > s->limits.max_nodes_per_collection)
                snprintf(msg, sizeof msg, "the collection would exceed its limit of %u nodes",
                         s->limits.max_nodes_per_collection);
        else if (budget_check(s, c->owner.uid, BUDGET_NODES, more, msg, sizeof msg) == 0 &&
                 server_check_node_total(s, more, msg, sizeof msg) == 0)
                return true;
        server_reply_error(&n->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, msg);
        return false;
}

/* Creates a child of n (a token, or a group) and returns the client end of its socket, or -errno. */
struct node *node_new_child_on(struct node *n, enum node_kind kind, uint32_t mask, int fd) {
        struct node *child = node_new(n->collection, n, kind, fd);
        if (!child) {
                close(fd);
                return NULL;
        }
        /* A mask of 0 is deprecated in Fuchsia and means "same rights", like SYSMEM_RIGHTS_SAME. */
        if (mask != SYSMEM_RIGHTS_SAME && mask != 0)
                child->rights_mask &= mask;
        return child;
}

int node_new_child(struct node *n, enum node_kind kind, uint32_t mask, struct node **ret_child) {
        int sv[2];
        int r = server_new_socketpair(sv);
        if (r < 0)
                return r;
        struct node *child = node_new(n->collection, n, kind, sv[0]);
        if (!child) {
                close(sv[0]);
                close(sv[1]);
                return -ENOMEM;
        }
        node_index_client_end(child, sv[1]);
        /* A mask of 0 is deprecated in Fuchsia and means "same rights", like SYSMEM_RIGHTS_SAME. */
        if (mask != SYSMEM_RIGHTS_SAME && mask != 0)
                child->rights_mask &= mask;
        if (ret_child)
                *ret_child = child;
        return sv[1];
}

/* Replies with one new child's fd (Duplicate, CreateChild, AttachToken, CreateBufferCollectionTokenGroup). */
static struct node *reply_new_child(struct node *n, struct wire_msg *m, enum node_kind kind, uint32_t mask) {
        if (!check_node_capacity(n, m->opcode, m->txid, 1))
                return NULL;
        struct node *child = NULL;
        int fd = node_new_child(n, kind, mask, &child);
        if (fd < 0) {
                server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, strerror(-fd));
                return NULL;
        }
        struct wire_fd_body body = {.fd = fd};
        server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
        close(fd);
        return child;
}

/* DuplicateSync and CreateChildrenSync: one token per mask, all or nothing. */
static void reply_new_children(struct node *n, struct wire_msg *m) {
        struct wire_duplicate_sync *req = m->body;
        for (uint32_t i = 0; i < req->rights_attenuation_mask_count; i++)
                if (req->rights_attenuation_masks[i] == 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s with a rights mask of 0",
                                  wire_message_lookup(m->opcode)->name);
                        return;
                }
        if (!check_node_capacity(n, m->opcode, m->txid, req->rights_attenuation_mask_count))
                return;
        int fds[SYSMEM_MAX_DUPLICATES];
        uint32_t made = 0;
        for (; made < req->rights_attenuation_mask_count; made++) {
                fds[made] = node_new_child(n, NODE_TOKEN, req->rights_attenuation_masks[made], NULL);
                if (fds[made] < 0)
                        break;
        }
        if (made < req->rights_attenuation_mask_count) {
                /* The children made so far close with their client ends; that fails them, so fail cleanly now. */
                for (uint32_t i = 0; i < made; i++)
                        close(fds[i]);
                node_fail(n, SYSMEM_ERROR_NO_MEMORY, "%s could not create %u tokens",
                          wire_message_lookup(m->opcode)->name, req->rights_attenuation_mask_count);
                return;
        }
        struct wire_duplicate_sync_reply body = {.tokens = fds, .token_count = made};
        server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
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
        if (n->weak && !n->weak_ok) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION,
                          "a weak collection must send SetWeakOk before WaitForAllBuffersAllocated");
                return;
        }
        n->wait_seen = true;
        if (n->allocated) {
                collection_send_info(c, n, m->txid);
                return;
        }
        if (n->pending_wait_count >= s->limits.max_pending_waits) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "more than %u WaitForAllBuffersAllocated outstanding",
                          s->limits.max_pending_waits);
                return;
        }
        if (!util_array_reserve((void **)&n->pending_waits, &n->pending_wait_capacity, n->pending_wait_count + 1,
                           sizeof *n->pending_waits)) {
                node_fail(n, SYSMEM_ERROR_NO_MEMORY, "out of memory for its WaitForAllBuffersAllocated");
                return;
        }
        n->pending_waits[n->pending_wait_count++] = m->txid;
}

/* The nearest common ancestor of a and b is a group: they are alternatives, never both chosen. */
static bool is_alternate(struct node *a, struct node *b) {
        for (struct node *x = a; x; x = x->parent)
                for (struct node *y = b; y; y = y->parent)
                        if (x == y)
                                return x->kind == NODE_GROUP;
        return false;
}

static void node_get_ref(struct node *n, struct wire_msg *m) {
        if (n->node_ref_fd < 0) {
                /*
                 * A socketpair nobody reads: its client end is the node's identity (found by its inode, and
                 * the kernel vouches that the daemon made it: ino-index.c). Every GetNodeRef hands out the
                 * same client end again.
                 */
                int sv[2];
                struct stat st;
                if (server_new_signal_pair(sv) < 0) {
                        server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, "socketpair failed");
                        return;
                }
                struct server *s = n->collection->server;
                if (fstat(sv[1], &st) < 0 || ino_index_add(&s->node_refs, st.st_dev, st.st_ino, n, 0) < 0) {
                        close(sv[0]);
                        close(sv[1]);
                        server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY,
                                           "could not record the node reference");
                        return;
                }
                n->node_ref_fd = sv[0];
                n->node_ref_client_fd = sv[1];
                n->node_ref_dev = st.st_dev;
                n->node_ref_ino = st.st_ino;
        }
        struct wire_fd_body body = {.fd = n->node_ref_client_fd};
        server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
}

static void node_is_alternate_for(struct node *n, struct wire_msg *m) {
        struct collection *c = n->collection;
        struct wire_fd_body *req = m->body;
        struct stat st;
        if (fstat(req->fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_PROTOCOL_DEVIATION,
                                   "the fd is not a node reference");
                return;
        }
        struct node *other = collection_find_node_ref(c, req->fd);
        if (!other) {
                server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NOT_FOUND,
                                   "the fd is not a node reference of a live node of this collection");
                return;
        }
        struct wire_is_alternate_reply rep = {.is_alternate = is_alternate(n, other)};
        server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
}

static void node_attach_lifetime(struct node *n, struct wire_msg *m) {
        struct collection *c = n->collection;
        struct wire_attach_lifetime_tracking *req = m->body;
        if (n->lifetime_count >= NODE_MAX_LIFETIME_TRACKERS) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "more than %u AttachLifetimeTracking on one collection",
                          NODE_MAX_LIFETIME_TRACKERS);
                return;
        }
        /*
         * The daemon makes the pair and keeps its own end, never an fd the client sent: a client's fd could be
         * the daemon's own peer (a node's socket) and keep the collection alive forever (docs/differences.md).
         */
        int sv[2];
        if (!util_array_reserve((void **)&n->lifetime, &n->lifetime_capacity, n->lifetime_count + 1, sizeof *n->lifetime)) {
                server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, "out of memory");
                return;
        }
        if (server_new_signal_pair(sv) < 0) {
                server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, "the daemon is out of sockets");
                return;
        }
        struct wire_fd_body body = {.fd = sv[1]};
        int r = server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
        close(sv[1]);
        /* Already allocated with few enough buffers (or the reply could not go): nothing to wait for. */
        if (r < 0 || (n->allocated && c->buffer_count <= req->buffers_remaining)) {
                close(sv[0]);
                return;
        }
        n->lifetime[n->lifetime_count++] = (struct lifetime_tracker){.fd = sv[0], .remaining = req->buffers_remaining};
}

/* Messages that may only come before the node is ready for allocation. */
static bool weak_allowed(const struct node *n) {
        switch (n->kind) {
        case NODE_TOKEN:
                return true;
        case NODE_COLLECTION:
                return !n->constraints_set;
        case NODE_GROUP:
                return !n->children_present;
        }
        return false;
}

static void node_set_name(struct collection *c, const struct wire_set_name *req) {
        /* A later name wins only with a strictly greater priority. */
        if (!c->has_name || req->priority > c->name_priority) {
                util_strlcpy(c->name, req->name, sizeof c->name);
                c->name_priority = req->priority;
                c->has_name = true;
        }
}

static void node_set_weak(struct node *n) {
        if (!weak_allowed(n)) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetWeak after the %s became ready",
                          node_kind_name(n->kind));
                return;
        }
        n->weak = true;
        n->weak_ok = true; /* the newest sysmem: SetWeak implies SetWeakOk for this node */
        node_refresh(n);
        collection_after_change(n->collection);
}

static void node_set_weak_ok(struct node *n, const struct wire_set_weak_ok *req) {
        if (n->kind == NODE_COLLECTION && n->wait_seen) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetWeakOk after WaitForAllBuffersAllocated");
                return;
        }
        n->weak_ok = true;
        if (req->for_child_nodes_also)
                n->weak_ok_for_children = true; /* sticky: cannot be taken back */
}

/* Messages every node takes (Node protocol, opcodes 16-31). */
static void node_handle_common(struct node *n, struct wire_msg *m) {
        struct collection *c = n->collection;
        switch (m->opcode) {
        case WIRE_OP_SYNC: {
                struct wire_empty e = {0};
                server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &e);
                break;
        }
        case WIRE_OP_RELEASE:
                if (n->pending_bind_fd >= 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "Release of a token that is being bound");
                        return;
                }
                if (n->kind == NODE_GROUP && !n->children_present) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "Release of a group before AllChildrenPresent");
                        return;
                }
                n->released = true;
                break;
        case WIRE_OP_SET_NAME:
                node_set_name(c, m->body);
                break;
        case WIRE_OP_SET_DEBUG_CLIENT_INFO: {
                struct wire_debug_client_info *req = m->body;
                node_set_debug_name(n, req->name);
                n->debug_id = req->id;
                break;
        }
        case WIRE_OP_GET_BUFFER_COLLECTION_ID: {
                struct wire_collection_id_reply rep = {.buffer_collection_id = c->id};
                server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
                break;
        }
        case WIRE_OP_SET_DEBUG_TIMEOUT_LOG_DEADLINE: {
                struct wire_deadline *req = m->body;
                /* Ignored once the log ran or a result exists, as in sysmem. */
                if (c->state == COLLECTION_NEGOTIATING && c->stuck_logs == 0)
                        collection_arm_stuck_timer(c, req->deadline / 1000u);
                break;
        }
        case WIRE_OP_SET_VERBOSE_LOGGING:
                c->verbose = true;
                break;
        case WIRE_OP_GET_NODE_REF:
                node_get_ref(n, m);
                break;
        case WIRE_OP_IS_ALTERNATE_FOR:
                node_is_alternate_for(n, m);
                break;
        case WIRE_OP_SET_WEAK:
                node_set_weak(n);
                break;
        case WIRE_OP_SET_WEAK_OK:
                node_set_weak_ok(n, m->body);
                break;
        default:
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unexpected opcode %u", m->opcode);
                break;
        }
}

/* Token messages (opcodes 32-47); DuplicateSync's twin CreateChildrenSync is a group's. */
static void token_handle(struct node *n, struct wire_msg *m) {
        switch (m->opcode) {
        case WIRE_OP_DUPLICATE: {
                struct wire_duplicate *req = m->body;
                reply_new_child(n, m, NODE_TOKEN, req->rights_attenuation_mask);
                collection_after_change(n->collection); /* a token made after allocation may join at once */
                break;
        }
        case WIRE_OP_DUPLICATE_SYNC:
                reply_new_children(n, m);
                break;
        case WIRE_OP_BIND:
                if (n->pending_bind_fd >= 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "Bind on a token already being bound");
                        return;
                }
                n->kind = NODE_COLLECTION;
                node_refresh(n);
                break;
        case WIRE_OP_SET_DISPENSABLE:
                /* Only ever more isolation (as sysmem): an attached token stays DoNotPropagate. */
                if (n->mode == MODE_PROPAGATE)
                        n->mode = MODE_PROPAGATE_BEFORE_ALLOCATION;
                node_refresh(n);
                break;
        case WIRE_OP_CREATE_BUFFER_COLLECTION_TOKEN_GROUP:
                reply_new_child(n, m, NODE_GROUP, SYSMEM_RIGHTS_SAME);
                break;
        default:
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unexpected opcode %u", m->opcode);
                break;
        }
}

static void collection_set_constraints(struct node *n, const struct wire_set_constraints *req) {
        if (n->constraints_set) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetConstraints sent twice");
                return;
        }
        if (n->allocated) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetConstraints after allocation");
                return;
        }
        if (req->constraints && constraints_clone(req->constraints, &n->constraints) < 0) {
                node_fail(n, SYSMEM_ERROR_NO_MEMORY, "could not store its constraints");
                return;
        }
        n->constraints_set = true;
        node_refresh(n);
        collection_after_change(n->collection);
}

static void collection_attach_token(struct node *n, struct wire_msg *m) {
        struct wire_duplicate *req = m->body;
        if (req->rights_attenuation_mask == 0) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "AttachToken with a rights mask of 0");
                return;
        }
        if (n->weak) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "AttachToken on a weak collection");
                return;
        }
        struct node *child = reply_new_child(n, m, NODE_TOKEN, req->rights_attenuation_mask);
        if (child) {
                /* Its own failure domain, allocated later against the buffers that exist. */
                child->attach_root = true;
                child->in_attached = true;
                child->mode = MODE_DO_NOT_PROPAGATE;
                node_refresh(child);
                char name[SYSMEM_MAX_CLIENT_NAME_LENGTH + 1];
                snprintf(name, sizeof name, "%.200s then AttachToken()", node_display_name(n));
                node_set_debug_name(child, name);
        }
}

/* Collection messages (opcodes 48-63). */
static void collection_handle(struct node *n, struct wire_msg *m) {
        switch (m->opcode) {
        case WIRE_OP_SET_CONSTRAINTS:
                collection_set_constraints(n, m->body);
                break;
        case WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED:
                collection_wait(n, m);
                break;
        case WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED:
                if (n->allocated) {
                        struct wire_empty e = {0};
                        server_reply(&n->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &e);
                } else {
                        server_reply_error(&n->ep, m->opcode, m->txid, SYSMEM_ERROR_PENDING,
                                           "the collection is not allocated yet");
                }
                break;
        case WIRE_OP_ATTACH_TOKEN:
                collection_attach_token(n, m);
                break;
        case WIRE_OP_ATTACH_LIFETIME_TRACKING:
                node_attach_lifetime(n, m);
                break;
        default:
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unexpected opcode %u", m->opcode);
                break;
        }
}

static void group_create_child(struct node *n, struct wire_msg *m) {
        struct wire_duplicate *req = m->body;
        if (n->children_present) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "CreateChild after AllChildrenPresent");
                return;
        }
        /*
         * As for DuplicateSync and CreateChildrenSync, a mask of 0 is a deviation (only Duplicate keeps
         * Fuchsia's deprecated "0 means same rights"); an absent mask means the same rights, as in sysmem2.
         */
        if (req->has_rights_attenuation_mask && req->rights_attenuation_mask == 0) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "CreateChild with a rights mask of 0");
                return;
        }
        reply_new_child(n, m, NODE_TOKEN, req->has_rights_attenuation_mask ? req->rights_attenuation_mask
                                                                            : SYSMEM_RIGHTS_SAME);
}

static void group_all_children_present(struct node *n) {
        uint32_t children = 0;
        list_for_each(ch, &n->children, struct node, sibling_link) children++;
        if (n->children_present || children == 0) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "AllChildrenPresent %s",
                          n->children_present ? "sent twice" : "without any child");
                return;
        }
        n->children_present = true;
        node_refresh(n);
        collection_after_change(n->collection);
}

/* Group messages (opcodes 64-79). */
static void group_handle(struct node *n, struct wire_msg *m) {
        switch (m->opcode) {
        case WIRE_OP_CREATE_CHILD:
                group_create_child(n, m);
                break;
        case WIRE_OP_CREATE_CHILDREN_SYNC:
                if (n->children_present) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "CreateChildrenSync after AllChildrenPresent");
                        return;
                }
                reply_new_children(n, m);
                break;
        case WIRE_OP_ALL_CHILDREN_PRESENT:
                group_all_children_present(n);
                break;
        default:
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unexpected opcode %u", m->opcode);
                break;
        }
}

/* One validated message (server_receive checked that this kind of node takes the opcode). */
static void node_handle(struct node *n, struct wire_msg *m) {
        /* sysmem lets SetDispensable through after Release; every other message is a deviation. */
        if (n->released && m->opcode != WIRE_OP_SET_DISPENSABLE) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s after Release", wire_message_lookup(m->opcode)->name);
                return;
        }
        if (m->opcode >= WIRE_OP_CREATE_CHILD)
                group_handle(n, m);
        else if (m->opcode >= WIRE_OP_SET_CONSTRAINTS)
                collection_handle(n, m);
        else if (m->opcode >= WIRE_OP_DUPLICATE)
                token_handle(n, m);
        else
                node_handle_common(n, m);
        node_refresh(n); /* whatever the message changed (handlers that look at the tree refresh first) */
}

/* The client closed its end: a clean exit after Release, or a failure. */
static void node_closed(struct node *n) {
        struct collection *c = n->collection;
        if (n->released) {
                node_detach_fd(n);
                n->orphaned = true;
                node_refresh(n);
                log_debug("collection %llu: %s '%s' released", (unsigned long long)c->id, node_kind_name(n->kind),
                          node_display_name(n));
                collection_after_change(c);
                return;
        }
        node_fail(n, SYSMEM_ERROR_UNSPECIFIED, "it closed its %s without Release (it exited or was killed)",
                  node_kind_name(n->kind));
}

/* Who sent on n, with the command name its allocator connection already read when the process has one. */
static void node_note_sender(struct node *n, const struct wire_cred *sender) {
        if (!client_cred_changes(&n->cred, sender))
                return;
        struct server *s = n->collection->server;
        const struct allocator_conn *a = ino_index_find(&s->conns_by_pid, 0, (ino_t)sender->pid, NULL);
        client_cred_note(&n->cred, sender, a && a->cred.known && a->cred.uid == sender->uid ? a->cred.comm : NULL);
}

static int node_io(int fd, uint32_t revents, void *userdata) {
        struct node *n = userdata;
        struct server *s = n->collection->server;
        for (int i = 0;; i++) {
                if (n->dead || n->ep.fd != fd || n->collection->dead)
                        break;
                /*
                 * Not while its replies pile up unread (endpoint.c): the client is slowed down, not served. Packets
                 * already received are handled whatever the bound (at most SERVER_RX_BATCH - 1 more).
                 */
                if (!server_rx_pending(s, fd) && (i >= 32 || !endpoint_reading(&n->ep)))
                        break;
                struct wire_msg *m = NULL;
                char err[320];
                struct wire_cred sender;
                int r = server_receive_from(s, fd, endpoint_read_budget(&n->ep), node_object_kind(n), &m, &sender, err,
                                            sizeof err);
                if (r > 0)
                        node_note_sender(n, &sender);
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
        const char *overflow = n->ep.fd == fd ? endpoint_overflow_reason(&n->ep) : NULL;
        if (overflow && !n->dead)
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s", overflow);
        return 0;
}

/* The token's node, now a collection served on the socket BindSharedCollection made. */
static void node_become_bound(struct node *n) {
        int fd = take_fd(&n->pending_bind_fd);
        struct allocator_conn *a = n->pending_bind_allocator;
        n->pending_bind_allocator = NULL;
        node_detach_fd(n); /* closes the token's socket: every copy of its client end sees the hang-up */
        n->kind = NODE_COLLECTION;
        node_refresh(n);
        if (a && a->has_debug_info) {
                node_set_debug_name(n, a->debug_name);
                n->debug_id = a->debug_id;
        }
        if (node_attach_fd(n, fd) < 0) {
                close(fd);
                node_fail(n, SYSMEM_ERROR_NO_MEMORY, "could not serve the bound collection");
        }
}

void node_bind_shared(struct node *n, int fd, struct allocator_conn *a) {
        struct server *s = n->collection->server;
        n->pending_bind_fd = fd;
        n->pending_bind_allocator = a;
        /*
         * What the client sent on the token before it asked for the bind is queued on the token's socket
         * already: handle it first (as Fuchsia does), then serve the collection at once, whoever still holds
         * a copy of the token fd. A client writing on the token concurrently cannot keep this going.
         */
        for (int i = 0;; i++) {
                if (n->dead || n->collection->dead) {
                        n->pending_bind_allocator = NULL;
                        return; /* node_fail closed the pending fd with the token's */
                }
                if (i == BIND_DRAIN_MAX) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION,
                                  "more than %d messages queued on the token at BindSharedCollection", BIND_DRAIN_MAX);
                        n->pending_bind_allocator = NULL;
                        return;
                }
                struct wire_msg *m = NULL;
                char err[320];
                struct wire_cred sender;
                int r = server_receive_one_from(s, n->ep.fd, node_object_kind(n), &m, &sender, err, sizeof err);
                if (r > 0)
                        node_note_sender(n, &sender);
                if (r == -EAGAIN || r == 0)
                        break;
                if (r < 0) {
                        node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s", err);
                        n->pending_bind_allocator = NULL;
                        return;
                }
                node_handle(n, m);
                wire_msg_free(m);
        }
        /* The replies to what was queued on the token went to its socket; a client that reads none fails here. */
        const char *overflow = endpoint_overflow_reason(&n->ep);
        if (overflow) {
                node_fail(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "%s", overflow);
                n->pending_bind_allocator = NULL;
                return;
        }
        node_become_bound(n);
}

struct node *server_find_token_by_peer_fd(struct server *s, int fd) {
        /* O(1), and no sock_diag: ino-index.c says why the fd's own inode and SO_PEERCRED suffice. */
        struct node *n = ino_index_find_socket(&s->tokens, fd);
        return n && !n->dead && n->ep.fd >= 0 && n->kind == NODE_TOKEN ? n : NULL;
}

struct node *collection_find_node_ref(struct collection *c, int fd) {
        /* O(1): by the presented end's own inode, as for tokens. */
        struct node *n = ino_index_find_socket(&c->server->node_refs, fd);
        return n && n->collection == c && !n->dead ? n : NULL;
}

/*
 * By identity (device and inode): every fd of a buffer, read-only or not, is the same memfd; a dma-buf
 * is one file with an inode of its own in the dma-buf filesystem, whichever process holds it.
 */
struct collection *server_find_buffer(struct server *s, int fd, uint32_t *ret_index) {
        struct stat st;
        if (fstat(fd, &st) < 0 || S_ISSOCK(st.st_mode) || S_ISDIR(st.st_mode))
                return NULL;
        /* O(1): buffers are indexed by inode while the daemon holds them (amortized: each is indexed once). */
        server_index_pending_buffers(s);
        return ino_index_find(&s->buffers, st.st_dev, st.st_ino, ret_index);
}
