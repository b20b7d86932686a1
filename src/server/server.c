/* server.c: the sysmem server: listening sockets, allocator connections, and the event loop around them. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "core/defaults.h"
#include "core/format-costs.h"
#include "server-internal.h"

static const struct sysmem_server_limits default_limits = {
        .max_connections = 1024,
        .max_collections_per_connection = 256,
        .max_collections = 4096,
        .max_nodes_per_collection = 256,
        .max_message_bytes = 131072,
        .max_fds_per_message = 8,
        .max_pending_waits = 16,
        .max_buffers = SYSMEM_MAX_BUFFERS,
        .max_buffer_bytes = CORE_DEFAULT_MAX_BUFFER_BYTES,
        .max_collection_bytes = CORE_DEFAULT_MAX_COLLECTION_BYTES,
        .max_total_bytes = 8ull << 30,
        .max_queued_replies = 64,
        .max_queued_bytes = 262144,
        .max_connections_per_uid = 256,
        .max_collections_per_uid = 1024,
        .max_nodes = 65536,
        .max_nodes_per_uid = 16384,
        .max_bytes_per_uid = 2ull << 30,
};

/* Spare token sockets held for all allocator connections together (each connection: WIRE_MAX_SPARES). */
#define SERVER_MAX_SPARES 1024u

static int allocator_io(int fd, uint32_t revents, void *userdata);
static void allocator_overflowed(void *owner, const char *reason);

/* ---- graveyard: objects that died during a dispatch pass are freed after it ---- */

static int reap(sd_event_source *s, void *userdata) {
        struct server *server = userdata;
        list_for_each_safe(n, &server->graveyard_nodes, struct node, link) {
                list_remove(&n->link);
                node_free(n);
        }
        list_for_each_safe(c, &server->graveyard_collections, struct collection, link) {
                list_remove(&c->link);
                collection_free(c);
        }
        list_for_each_safe(a, &server->connections, struct allocator_conn, link) {
                if (!a->dead)
                        continue;
                list_remove(&a->link);
                free(a);
        }
        /*
         * Most of what many collections took is free again: give it back to the system (malloc keeps it
         * otherwise, and a daemon that once held 10,000 collections would hold their memory for good).
         */
        if (server->collection_peak >= 256 && server->collection_count < server->collection_peak / 4) {
                (void)malloc_trim(0);
                server->collection_peak = server->collection_count;
        }
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* ---- allocator connections ---- */

static void allocator_close(struct allocator_conn *a) {
        if (a->dead)
                return;
        a->dead = true;
        endpoint_close(&a->ep); /* what the client has not read yet (an epitaph) still reaches it */
        a->server->connection_count--;
        budget_charge(a->server, a->cred.uid, BUDGET_CONNECTIONS, -1);
        if (a->cred.known)
                ino_index_remove(&a->server->conns_by_pid, 0, (ino_t)a->cred.pid, a);
        for (uint32_t i = 0; i < a->spare_count; i++)
                close(a->spare_fds[i]);
        a->server->spare_total -= a->spare_count;
        a->spare_count = 0;
        /*
         * Collections outlive the connection that created them; they stop counting against it. Only its own
         * are visited (no node keeps a pending_bind_allocator past node_bind_shared(), which runs at once).
         */
        list_for_each_safe(c, &a->created, struct collection, creator_link) {
                list_remove(&c->creator_link);
                c->creator = NULL;
        }
        server_schedule_reap(a->server);
}

static int allocator_check_new_collection(struct allocator_conn *a, uint16_t op, uint32_t txid) {
        struct server *s = a->server;
        char msg[160];
        if (s->collection_count >= s->limits.max_collections) {
                snprintf(msg, sizeof msg, "the server holds its limit of %u live collections",
                         s->limits.max_collections);
        } else if (a->live_collections >= s->limits.max_collections_per_connection) {
                snprintf(msg, sizeof msg, "this connection holds its limit of %u live collections",
                         s->limits.max_collections_per_connection);
        } else if (budget_check(s, a->cred.uid, BUDGET_COLLECTIONS, 1, msg, sizeof msg) == 0 &&
                   budget_check(s, a->cred.uid, BUDGET_NODES, 1, msg, sizeof msg) == 0 &&
                   server_check_node_total(s, 1, msg, sizeof msg) == 0) {
                return 0;
        }
        char who[96];
        log_warning("allocator '%s' (%s): %s", a->has_debug_info ? a->debug_name : "?",
                    client_cred_format(&a->cred, who, sizeof who), msg);
        server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, msg);
        return -ENOSPC;
}

static void apply_allocator_debug_info(struct allocator_conn *a, struct node *n) {
        if (!a || !a->has_debug_info)
                return;
        node_set_debug_name(n, a->debug_name);
        n->debug_id = a->debug_id;
}

static void allocator_new_collection(struct allocator_conn *a, struct wire_msg *m, bool shared) {
        struct server *s = a->server;
        uint16_t op = m->opcode;
        uint32_t txid = m->txid;
        /* AllocateSharedCollection may ask for the root's first duplicates: one round trip less. */
        const struct wire_allocate_shared *req = shared ? m->body : NULL;
        uint32_t dups = req ? req->rights_attenuation_mask_count : 0;
        for (uint32_t i = 0; i < dups; i++)
                if (req->rights_attenuation_masks[i] == 0) {
                        server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_PROTOCOL_DEVIATION,
                                           "AllocateSharedCollection with a rights mask of 0");
                        return;
                }
        if (1 + dups > s->limits.max_nodes_per_collection) {
                server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY,
                                   "more duplicates than the limit of nodes per collection");
                return;
        }
        if (allocator_check_new_collection(a, op, txid) < 0)
                return;
        int sv[2];
        int r = server_new_socketpair(sv);
        if (r < 0) {
                server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, "socketpair failed");
                return;
        }
        struct collection *c = collection_new(s, a);
        if (!c) {
                close(sv[0]);
                close(sv[1]);
                server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, "out of memory");
                return;
        }
        struct node *root = node_new(c, NULL, shared ? NODE_TOKEN : NODE_COLLECTION, sv[0]);
        if (root)
                node_index_client_end(root, sv[1]);
        if (!root) {
                close(sv[0]);
                close(sv[1]);
                collection_fail(c, SYSMEM_ERROR_NO_MEMORY, "out of memory");
                server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, "out of memory");
                return;
        }
        apply_allocator_debug_info(a, root);
        int dup_fds[SYSMEM_MAX_DUPLICATES];
        uint32_t made = 0;
        for (; made < dups; made++) {
                dup_fds[made] = node_new_child(root, NODE_TOKEN, req->rights_attenuation_masks[made], NULL);
                if (dup_fds[made] < 0)
                        break;
        }
        if (made < dups) {
                for (uint32_t i = 0; i < made; i++)
                        close(dup_fds[i]);
                close(sv[1]);
                collection_fail(c, SYSMEM_ERROR_NO_MEMORY, "could not create the duplicates");
                server_reply_error(&a->ep, op, txid, SYSMEM_ERROR_NO_MEMORY, "could not create the duplicates");
                return;
        }
        if (shared) {
                struct wire_allocate_shared_reply body = {.token = sv[1], .duplicates = dup_fds,
                                                          .duplicate_count = made};
                r = server_reply(&a->ep, op, txid, wire_message_lookup(op)->reply, &body);
        } else {
                struct wire_fd_body body = {.fd = sv[1]};
                r = server_reply(&a->ep, op, txid, wire_message_lookup(op)->reply, &body);
        }
        close(sv[1]);
        for (uint32_t i = 0; i < made; i++)
                close(dup_fds[i]);
        if (r < 0)
                /* The client never got its end: nobody can ever reach this collection. */
                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED, "the allocator connection failed before the reply");
        log_debug("collection %llu created (%s, %u duplicates) by '%s'", (unsigned long long)c->id,
                  shared ? "shared" : "non-shared", made, a->has_debug_info ? a->debug_name : "?");
}

/*
 * For a client that asked (spares_wanted), keeps token sockets made ahead and sends it their client
 * ends: its next AllocateSharedCollectionFromSpares needs no round trip. The daemon made both ends,
 * so a client still never holds a server end. Bounded per connection and for the whole server.
 */
static void allocator_top_up_spares(struct allocator_conn *a) {
        struct server *s = a->server;
        int ends[WIRE_MAX_SPARES];
        uint64_t ids[WIRE_MAX_SPARES];
        uint32_t n = 0;
        while (a->spare_count < a->spares_wanted && s->spare_total < SERVER_MAX_SPARES) {
                int sv[2] = {-1, -1};
                if (server_new_socketpair(sv) < 0)
                        break;
                struct stat st;
                a->spare_fds[a->spare_count] = sv[0];
                a->spare_client_inos[a->spare_count] = 0;
                if (fstat(sv[1], &st) == 0) {
                        a->spare_client_inos[a->spare_count] = st.st_ino;
                        a->spare_client_dev = st.st_dev;
                }
                a->spare_ids[a->spare_count] = ++a->next_spare_id;
                ids[n] = a->next_spare_id;
                ends[n++] = sv[1];
                a->spare_count++;
                s->spare_total++;
        }
        if (n == 0)
                return;
        struct wire_spare_ends body = {.ids = ids, .id_count = n, .ends = ends, .end_count = n};
        uint8_t buf[512];
        int fds[WIRE_MAX_SPARES];
        size_t len;
        uint32_t nfds;
        int r = wire_encode(wire_message_lookup(WIRE_OP_SPARE_ENDS)->request, WIRE_OP_SPARE_ENDS, WIRE_FLAG_EVENT, 0,
                            &body, buf, sizeof buf, &len, fds, WIRE_MAX_SPARES, &nfds);
        if (r >= 0)
                r = endpoint_send(&a->ep, buf, len, fds, nfds);
        for (uint32_t i = 0; i < n; i++)
                close(ends[i]);
        if (r < 0) {
                /* The client never got them: forget these spares. */
                for (uint32_t i = a->spare_count - n; i < a->spare_count; i++)
                        close(a->spare_fds[i]);
                a->spare_count -= n;
                s->spare_total -= n;
        }
}

/* Takes the spare with this id out of the pool (and its client end's inode); -1 when there is no such spare. */
static int allocator_take_spare(struct allocator_conn *a, uint64_t id, ino_t *ret_client_ino) {
        for (uint32_t i = 0; i < a->spare_count; i++)
                if (a->spare_ids[i] == id) {
                        int fd = a->spare_fds[i];
                        *ret_client_ino = a->spare_client_inos[i];
                        a->spare_fds[i] = a->spare_fds[--a->spare_count];
                        a->spare_client_inos[i] = a->spare_client_inos[a->spare_count];
                        a->spare_ids[i] = a->spare_ids[a->spare_count];
                        a->server->spare_total--;
                        return fd;
                }
        return -1;
}

/*
 * AllocateSharedCollectionFromSpares: AllocateSharedCollection with duplicates, on sockets the client
 * already holds. One-way, so a refusal is told on the tokens' sockets (an epitaph), and a request
 * naming spares this connection does not have closes the connection.
 */
static void allocator_new_collection_from_spares(struct allocator_conn *a, struct wire_msg *m) {
        struct server *s = a->server;
        const struct wire_allocate_from_spares *req = m->body;
        uint32_t dups = req->spare_id_count ? req->spare_id_count - 1 : 0;
        int fds[WIRE_MAX_SPARES];
        ino_t inos[WIRE_MAX_SPARES];
        uint32_t got = 0;
        for (; got < req->spare_id_count; got++) {
                fds[got] = allocator_take_spare(a, req->spare_ids[got], &inos[got]);
                if (fds[got] < 0)
                        break;
        }
        const char *why = NULL;
        if (req->spare_id_count == 0 || got < req->spare_id_count)
                why = "AllocateSharedCollectionFromSpares names a spare this connection does not have";
        else if (req->rights_attenuation_mask_count != dups)
                why = "AllocateSharedCollectionFromSpares needs one rights mask per duplicate";
        for (uint32_t i = 0; !why && i < dups; i++)
                if (req->rights_attenuation_masks[i] == 0)
                        why = "AllocateSharedCollectionFromSpares with a rights mask of 0";
        if (why) {
                log_warning("allocator '%s': %s; closing the connection", a->has_debug_info ? a->debug_name : "?",
                            why);
                for (uint32_t i = 0; i < got; i++)
                        close(fds[i]);
                server_send_epitaph(&a->ep, SYSMEM_ERROR_PROTOCOL_DEVIATION, why);
                allocator_close(a);
                return;
        }
        char msg[160] = "out of memory";
        bool refused = true;
        if (s->collection_count >= s->limits.max_collections)
                snprintf(msg, sizeof msg, "the server holds its limit of %u live collections",
                         s->limits.max_collections);
        else if (a->live_collections >= s->limits.max_collections_per_connection)
                snprintf(msg, sizeof msg, "this connection holds its limit of %u live collections",
                         s->limits.max_collections_per_connection);
        else if (1 + dups > s->limits.max_nodes_per_collection)
                snprintf(msg, sizeof msg, "more duplicates than the limit of %u nodes per collection",
                         s->limits.max_nodes_per_collection);
        else if (budget_check(s, a->cred.uid, BUDGET_COLLECTIONS, 1, msg, sizeof msg) == 0 &&
                 budget_check(s, a->cred.uid, BUDGET_NODES, 1 + dups, msg, sizeof msg) == 0 &&
                 server_check_node_total(s, 1 + dups, msg, sizeof msg) == 0)
                refused = false;
        struct collection *c = refused ? NULL : collection_new(s, a);
        struct node *root = c ? node_new(c, NULL, NODE_TOKEN, fds[0]) : NULL;
        if (root)
                node_index_client_ino(root, a->spare_client_dev, inos[0]);
        if (!root) {
                /* Every token socket hears why, and then closes. */
                for (uint32_t i = 0; i < got; i++) {
                        server_send_epitaph_fd(fds[i], SYSMEM_ERROR_NO_MEMORY, msg);
                        close(fds[i]);
                }
                if (c)
                        collection_fail(c, SYSMEM_ERROR_NO_MEMORY, msg);
                allocator_top_up_spares(a);
                return;
        }
        apply_allocator_debug_info(a, root);
        for (uint32_t i = 0; i < dups; i++) {
                struct node *child = node_new_child_on(root, NODE_TOKEN, req->rights_attenuation_masks[i], fds[1 + i]);
                if (child) {
                        node_index_client_ino(child, a->spare_client_dev, inos[1 + i]);
                        continue;
                }
                /* Out of memory: the tokens not made close, which fails the collection as a crash would. */
                for (uint32_t j = i + 1; j < dups; j++)
                        close(fds[1 + j]);
                collection_fail(c, SYSMEM_ERROR_NO_MEMORY, "out of memory creating the duplicates");
                break;
        }
        log_debug("collection %llu created on spares (%u duplicates) by '%s'", (unsigned long long)c->id, dups,
                  a->has_debug_info ? a->debug_name : "?");
        allocator_top_up_spares(a);
}

static void allocator_bind_shared(struct allocator_conn *a, struct wire_msg *m) {
        struct server *s = a->server;
        struct wire_fd_body *req = m->body;
        struct node *token = server_find_token_by_peer_fd(s, req->fd);
        if (!token) {
                server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_NOT_FOUND,
                                   "the fd is not a live token of this sysmem server");
                return;
        }
        if (token->released || token->pending_bind_fd >= 0) {
                node_fail(token, SYSMEM_ERROR_PROTOCOL_DEVIATION, "BindSharedCollection on a token that %s",
                          token->released ? "was released" : "is already being bound");
                server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_PROTOCOL_DEVIATION,
                                   "the token was released or is already being bound");
                return;
        }
        int sv[2];
        if (server_new_socketpair(sv) < 0) {
                server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, "socketpair failed");
                return;
        }
        struct wire_fd_body body = {.fd = sv[1]};
        int r = server_reply(&a->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &body);
        close(sv[1]);
        if (r < 0) {
                close(sv[0]);
                node_fail(token, SYSMEM_ERROR_UNSPECIFIED, "BindSharedCollection reply could not be sent");
                return;
        }
        node_bind_shared(token, sv[0], a);
}

static void allocator_handle(struct allocator_conn *a, struct wire_msg *m) {
        struct server *s = a->server;
        switch (m->opcode) {
        case WIRE_OP_ALLOCATE_SHARED_COLLECTION: {
                const struct wire_allocate_shared *req = m->body;
                a->spares_wanted = MIN(req->spares_wanted, WIRE_MAX_SPARES);
                allocator_new_collection(a, m, true);
                if (!a->dead)
                        allocator_top_up_spares(a);
                break;
        }
        case WIRE_OP_ALLOCATE_SHARED_FROM_SPARES:
                allocator_new_collection_from_spares(a, m);
                break;
        case WIRE_OP_ALLOCATE_NON_SHARED_COLLECTION:
                allocator_new_collection(a, m, false);
                break;
        case WIRE_OP_BIND_SHARED_COLLECTION:
                allocator_bind_shared(a, m);
                break;
        case WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN: {
                struct wire_fd_body *req = m->body;
                struct wire_validate_reply rep = {.is_known = server_find_token_by_peer_fd(s, req->fd) != NULL};
                server_reply(&a->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
                break;
        }
        case WIRE_OP_GET_VMO_INFO:
                allocator_get_vmo_info(a, m);
                break;
        case WIRE_OP_GET_DIAGNOSTICS:
                allocator_get_diagnostics(a, m);
                break;
        case WIRE_OP_GET_SERVER_INFO: {
                /* The handshake: what this daemon speaks and has (docs/protocol.md, GetServerInfo). */
                const struct wire_server_info_request *req = m->body;
                struct wire_server_info_reply rep = {
                        .protocol_version = SYSMEM_PROTOCOL_VERSION,
                        .min_protocol_version = SERVER_MIN_PROTOCOL_VERSION,
                        .features = SYSMEM_FEATURE_SPARE_TOKENS | SYSMEM_FEATURE_HEAPS |
                                    SYSMEM_FEATURE_DEVICE_LAYOUTS | SYSMEM_FEATURE_SERVER_LIFETIME_FD |
                                    SYSMEM_FEATURE_PER_UID_LIMITS | SYSMEM_FEATURE_SENDER_CREDENTIALS,
                        .version = (char *)SYSMEM_VERSION,
                };
                if (req->protocol_version && req->protocol_version < SERVER_MIN_PROTOCOL_VERSION)
                        log_info("allocator '%s' speaks protocol %u, older than the %u this daemon serves",
                                 a->has_debug_info ? a->debug_name : "?", req->protocol_version,
                                 SERVER_MIN_PROTOCOL_VERSION);
                server_reply(&a->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
                break;
        }
        case WIRE_OP_GET_HEAPS: {
                struct sysmem_heap_info infos[HEAP_MAX];
                struct wire_heaps_reply rep = {.heaps = infos, .heap_count = (uint32_t)s->heaps.count};
                for (size_t i = 0; i < s->heaps.count; i++)
                        infos[i] = s->heaps.heaps[i]->info;
                server_reply(&a->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
                break;
        }
        case WIRE_OP_ALLOCATOR_SET_DEBUG_CLIENT_INFO: {
                struct wire_debug_client_info *req = m->body;
                util_strlcpy(a->debug_name, req->name, sizeof a->debug_name);
                a->debug_id = req->id;
                a->has_debug_info = true;
                break;
        }
        default:
                break;
        }
}

/* The client reads none of its replies (endpoint.c): the connection closes after its epitaph. */
static void allocator_overflowed(void *owner, const char *reason) {
        struct allocator_conn *a = owner;
        if (a->dead)
                return;
        log_warning("allocator '%s': %s; closing the connection", a->has_debug_info ? a->debug_name : "?", reason);
        server_send_epitaph(&a->ep, SYSMEM_ERROR_PROTOCOL_DEVIATION, reason);
        allocator_close(a);
}

static int allocator_io(int fd, uint32_t revents, void *userdata) {
        struct allocator_conn *a = userdata;
        struct server *s = a->server;
        /*
         * A bounded batch per wakeup keeps one busy client from starving the others; none while its
         * replies pile up unread (endpoint.c).
         */
        for (int i = 0; !a->dead; i++) {
                /* Packets already received are handled whatever the bound (at most SERVER_RX_BATCH - 1 more). */
                if (!server_rx_pending(s, fd) && (i >= 32 || !endpoint_reading(&a->ep)))
                        break;
                struct wire_msg *m = NULL;
                char err[320];
                int r = server_receive(s, fd, endpoint_read_budget(&a->ep), WIRE_OBJ_ALLOCATOR, &m, err, sizeof err);
                if (r == -EAGAIN)
                        break;
                if (r == 0) {
                        allocator_close(a);
                        break;
                }
                if (r < 0) {
                        log_warning("allocator '%s': %s; closing the connection",
                                    a->has_debug_info ? a->debug_name : "?", err);
                        server_send_epitaph(&a->ep, SYSMEM_ERROR_PROTOCOL_DEVIATION, err);
                        allocator_close(a);
                        break;
                }
                allocator_handle(a, m);
                wire_msg_free(m);
        }
        const char *overflow = a->dead ? NULL : endpoint_overflow_reason(&a->ep);
        if (overflow)
                allocator_overflowed(a, overflow);
        return 0;
}

static int add_connection(struct server *s, int fd) {
        struct client_cred cred;
        char who[96], msg[192];
        client_cred_of_socket(fd, &cred);
        if (s->connection_count >= s->limits.max_connections) {
                log_warning("refusing a connection from %s: limit of %u allocator connections reached",
                            client_cred_format(&cred, who, sizeof who), s->limits.max_connections);
                server_send_epitaph_fd(fd, SYSMEM_ERROR_NO_MEMORY, "the server's connection limit is reached");
                close(fd);
                return -ENOSPC;
        }
        if (budget_check(s, cred.uid, BUDGET_CONNECTIONS, 1, msg, sizeof msg) < 0) {
                log_warning("refusing a connection from %s: %s", client_cred_format(&cred, who, sizeof who), msg);
                server_send_epitaph_fd(fd, SYSMEM_ERROR_NO_MEMORY, msg);
                close(fd);
                return -ENOSPC;
        }
        struct allocator_conn *a = calloc(1, sizeof *a);
        if (!a) {
                close(fd);
                return -ENOMEM;
        }
        a->server = s;
        list_init(&a->created);
        a->cred = cred;
        a->admin = client_is_admin(fd, &cred, s->admin_gid);
        /* Its largest replies are diagnostics pages (diagnostics.c), up to a message each. */
        endpoint_init(&a->ep, s, allocator_io, allocator_overflowed, a,
                      MAX(ENDPOINT_NODE_REPLY_BYTES, MIN(s->limits.max_message_bytes, 131072u)));
        int r = endpoint_attach(&a->ep, fd);
        if (r < 0) {
                close(fd);
                free(a);
                return r;
        }
        list_append(&s->connections, &a->link);
        s->connection_count++;
        budget_charge(s, cred.uid, BUDGET_CONNECTIONS, 1);
        /* Nodes this process sends on take its command name from here (no /proc read per participant). */
        if (cred.known)
                (void)ino_index_add(&s->conns_by_pid, 0, (ino_t)cred.pid, a, 0); /* else its nodes read /proc */
        log_debug("connection from %s", client_cred_format(&cred, who, sizeof who));
        return 0;
}

#define LISTENER_PAUSE_US (250 * 1000)          /* how long accepting pauses when the daemon is out of fds */
#define LISTENER_WARN_INTERVAL_US (10 * 1000 * 1000) /* at most one warning about it in this time */

static int listener_resume(sd_event_source *src, uint64_t usec, void *userdata) {
        struct listener *l = userdata;
        l->resume = sd_event_source_unref(l->resume);
        (void)sd_event_source_set_enabled(l->source, SD_EVENT_ON);
        return 0;
}

/*
 * accept() failed for want of fds or memory: the pending connection stays queued and the listener stays
 * readable, so accepting again at once would spin. Pause for a while (the queue waits in the kernel, up to
 * its backlog), then try again; warn once per interval with the count of failures in between.
 */
static void listener_pause(struct listener *l, int error) {
        struct server *s = l->server;
        uint64_t now = 0;
        (void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        l->failures_since_warning++;
        if (l->last_warning_us == 0 || now - l->last_warning_us >= LISTENER_WARN_INTERVAL_US) {
                log_warning("accept: %s: pausing new connections for %d ms (%llu failures since the last warning; "
                            "%u connections open)",
                            strerror(error), LISTENER_PAUSE_US / 1000,
                            (unsigned long long)l->failures_since_warning, s->connection_count);
                l->last_warning_us = now;
                l->failures_since_warning = 0;
        }
        if (l->resume)
                return;
        if (sd_event_add_time_relative(s->event, &l->resume, CLOCK_MONOTONIC, LISTENER_PAUSE_US, 0, listener_resume,
                                       l) < 0)
                return; /* cannot pause: stay on, the next attempt will tell */
        (void)sd_event_source_set_enabled(l->source, SD_EVENT_OFF);
        l->paused_at_us = now;
}

static int listener_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct listener *l = userdata;
        for (int i = 0; i < 16; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                                listener_pause(l, errno);
                        else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning("accept: %s", strerror(errno));
                        break;
                }
                (void)add_connection(l->server, c);
        }
        return 0;
}

/* ---- public API ---- */

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct server *server = userdata;
        log_info("received %s, shutting down", strsignal((int)si->ssi_signo));
        sysmem_server_exit((struct sysmem_server *)server);
        return 0;
}

/* The core asks a device heap about pairs only its device lays out; the heap answers through its backend. */
static bool core_heap_lays_out(const struct core_heap *ch, uint32_t pixel_format, uint64_t modifier) {
        struct heap *h = ch->device;
        return h->ops->lays_out(h, pixel_format, modifier);
}

static int core_heap_layout(const struct core_heap *ch, uint32_t pixel_format, uint64_t modifier,
                            struct sysmem_size size, uint64_t *ret_bytes, uint32_t *ret_bytes_per_row) {
        struct heap *h = ch->device;
        return h->ops->layout(h, pixel_format, modifier, size.width, size.height, ret_bytes, ret_bytes_per_row);
}

/* The heap's description as the core chooses from it: the flags say it all. */
static struct core_heap core_heap_of(struct heap *h) {
        uint32_t f = h->info.flags;
        bool device = h->ops->lays_out && h->ops->layout;
        return (struct core_heap){
                .lays_out = device ? core_heap_lays_out : NULL,
                .layout = device ? core_heap_layout : NULL,
                .device = h,
                .heap_type = h->info.heap.heap_type,
                .id = h->info.heap.id,
                .cpu_supported = f & SYSMEM_HEAP_FLAG_CPU_DOMAIN,
                .ram_supported = f & SYSMEM_HEAP_FLAG_RAM_DOMAIN,
                .inaccessible_supported = f & SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN,
                .secure = f & SYSMEM_HEAP_FLAG_SECURE,
                .contiguous_capable = f & SYSMEM_HEAP_FLAG_CONTIGUOUS,
                .max_buffer_bytes = h->info.max_buffer_bytes,
        };
}

/* Probes the heaps selection enables (NULL: all) and makes them the ones negotiations choose from. */
static int server_set_heaps(struct server *s, const char *selection, char *error, size_t error_size) {
        struct heap_set set;
        char err[256] = "";
        int r = heaps_probe(selection, &set, err, sizeof err);
        if (r < 0) {
                if (error_size)
                        util_strlcpy(error, err, error_size);
                return r;
        }
        heaps_free(&s->heaps);
        s->heaps = set;
        for (size_t i = 0; i < set.count; i++)
                s->core_heaps[i] = core_heap_of(set.heaps[i]);
        s->core_config.heaps = s->core_heaps;
        s->core_config.heap_count = set.count;
        return 0;
}

/* Once, when the server first has a client to serve: which heaps it allocates from. */
/* Says so when the fd limit is short of what the limits let clients make the daemon hold (it then stalls). */
static void server_check_fd_limit(const struct server *s) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return;
        /* Up to 3 per live collection (two participants' sockets and a buffer), 1 per connection, some spare. */
        uint64_t need = (uint64_t)s->limits.max_collections * 3 + s->limits.max_connections + 64;
        if ((uint64_t)rl.rlim_cur < need)
                log_warning("the fd limit is %llu, below the %llu that --max-collections %u and --max-connections %u "
                            "can need (about 3 per collection of two participants, 1 per connection): past it new "
                            "clients wait (EMFILE); raise LimitNOFILE, or lower those limits",
                            (unsigned long long)rl.rlim_cur, (unsigned long long)need, s->limits.max_collections,
                            s->limits.max_connections);
}

/* Once, when the server starts serving: the heaps it allocates from, and whether its fds suffice. */
static void server_log_heaps(struct server *s) {
        if (s->heaps_logged)
                return;
        s->heaps_logged = true;
        heaps_log(&s->heaps);
        server_check_fd_limit(s);
}

SYSMEM_EXPORT int sysmem_server_set_heaps(struct sysmem_server *ss, const char *selection, char *error,
                                          size_t error_size) {
        struct server *s = (struct server *)ss;
        if (!s || (!error && error_size > 0))
                return -EINVAL;
        /* Collections hold pointers to their heap: the set is changed only while there are none. */
        if (s->collection_count > 0 || !list_empty(&s->collections)) {
                if (error_size)
                        util_strlcpy(error, "heaps can only be changed while no collection exists", error_size);
                return -EBUSY;
        }
        s->heaps_logged = false;
        return server_set_heaps(s, selection, error, error_size);
}

SYSMEM_EXPORT size_t sysmem_server_get_heaps(struct sysmem_server *ss, struct sysmem_heap_info *ret, size_t capacity) {
        struct server *s = (struct server *)ss;
        if (!s)
                return 0;
        for (size_t i = 0; i < s->heaps.count && i < capacity; i++)
                ret[i] = s->heaps.heaps[i]->info;
        return s->heaps.count;
}

/* The receive buffers, the heaps and the loop: its sources for the endpoints, the reaper and the stuck log. */
static int server_setup_loop(struct server *s) {
        size_t rx_size = (size_t)s->limits.max_message_bytes + 1;
        s->rx_buf = malloc((SERVER_RX_BATCH + 1) * rx_size);
        s->rx.fd = -1;
        for (size_t i = 0; s->rx_buf && i < SERVER_RX_BATCH; i++)
                s->rx.slot[i] = (struct wire_rx){.buf = s->rx_buf + (i + 1) * rx_size, .cap = rx_size};
        int r = s->rx_buf ? server_set_heaps(s, NULL, NULL, 0) : -ENOMEM;
        if (r >= 0)
                r = sd_event_new(&s->event);
        if (r >= 0 && (s->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
                r = -errno;
        if (r >= 0)
                r = sd_event_add_io(s->event, &s->epoll_source, s->epoll_fd, EPOLLIN, endpoints_dispatch, s);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &s->reaper, reap, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->reaper, SD_EVENT_OFF);
        /*
         * One CLOCK_MONOTONIC timer logs every stuck allocation (collection.c); made now, the loop's timer
         * fd exists from the start, so the daemon's fd count only moves with clients' objects.
         */
        s->stuck_armed_usec = UINT64_MAX;
        if (r >= 0)
                r = sd_event_add_time(s->event, &s->stuck_timer, CLOCK_MONOTONIC, UINT64_MAX, 100000,
                                      collection_stuck_timer_fired, s);
        return r;
}

SYSMEM_EXPORT int sysmem_server_new(const struct sysmem_server_limits *limits, struct sysmem_server **ret_server) {
        if (!ret_server)
                return -EINVAL;
        struct server *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->limits = default_limits;
        if (limits) {
#define TAKE(f)                                                                                                        \
        if (limits->f)                                                                                                 \
        s->limits.f = limits->f
                TAKE(max_connections);
                TAKE(max_collections_per_connection);
                TAKE(max_collections);
                TAKE(max_nodes_per_collection);
                TAKE(max_message_bytes);
                TAKE(max_fds_per_message);
                TAKE(max_pending_waits);
                TAKE(max_buffers);
                TAKE(max_buffer_bytes);
                TAKE(max_collection_bytes);
                TAKE(max_total_bytes);
                TAKE(max_queued_replies);
                TAKE(max_queued_bytes);
                TAKE(max_connections_per_uid);
                TAKE(max_collections_per_uid);
                TAKE(max_nodes);
                TAKE(max_nodes_per_uid);
                TAKE(max_bytes_per_uid);
#undef TAKE
        }
        s->limits.max_buffers = MIN(s->limits.max_buffers, SYSMEM_MAX_BUFFERS);
        s->limits.max_pending_waits = MIN(s->limits.max_pending_waits, 64u);
        s->limits.max_fds_per_message = MIN(s->limits.max_fds_per_message, WIRE_MAX_FDS);
        if (s->limits.max_message_bytes < 256)
                s->limits.max_message_bytes = 256;
        s->wire_limits = (struct wire_limits){
                .max_message_bytes = s->limits.max_message_bytes,
                .max_fds = s->limits.max_fds_per_message,
                .max_array_elements = 1024,
        };
        list_init(&s->listeners);
        list_init(&s->connections);
        list_init(&s->collections);
        list_init(&s->unindexed);
        list_init(&s->graveyard_nodes);
        list_init(&s->graveyard_collections);
        list_init(&s->lingering);
        s->admin_gid = (gid_t)-1;
        s->epoll_fd = -1;
        s->next_collection_id = 2; /* 0 is invalid and 1 is reserved, as in Fuchsia */
        s->core_config = (struct core_config){
                .limits =
                        {
                                .max_buffers = s->limits.max_buffers,
                                .max_buffer_bytes = s->limits.max_buffer_bytes,
                                .max_collection_bytes = s->limits.max_collection_bytes,
                                .page_size = util_page_size(),
                        },
                .format_costs = core_default_format_costs,
                .format_cost_count = core_default_format_cost_count,
        };
        int r = server_setup_loop(s);
        if (r < 0) {
                sysmem_server_free((struct sysmem_server *)s);
                return r;
        }
        *ret_server = (struct sysmem_server *)s;
        return 0;
}

SYSMEM_EXPORT int sysmem_server_set_format_costs(struct sysmem_server *ss, const char *text, size_t length,
                                                char *error, size_t error_size) {
        struct server *s = (struct server *)ss;
        if (!s || (!text && length > 0) || (!error && error_size > 0))
                return -EINVAL;
        /* One entry per line at most; the cap keeps a runaway file from pinning memory. */
        size_t lines = 1;
        for (size_t i = 0; i < length; i++)
                lines += text[i] == '\n';
        size_t capacity = MIN(lines, (size_t)65536);
        struct core_format_cost *costs = calloc(capacity, sizeof(*costs));
        if (!costs)
                return -ENOMEM;
        size_t count = 0;
        int r = core_format_costs_parse(text, length, costs, capacity, &count, error, error_size);
        if (r < 0) {
                free(costs);
                return r;
        }
        free(s->format_costs);
        s->format_costs = costs;
        s->core_config.format_costs = costs;
        s->core_config.format_cost_count = count;
        log_info("format costs: %zu entries loaded", count);
        return 0;
}

SYSMEM_EXPORT void sysmem_server_free(struct sysmem_server *ss) {
        struct server *s = (struct server *)ss;
        if (!s)
                return;
        list_for_each_safe(c, &s->collections, struct collection, link)
                collection_fail(c, SYSMEM_ERROR_UNSPECIFIED, "the sysmem server is shutting down");
        list_for_each_safe(a, &s->connections, struct allocator_conn, link) allocator_close(a);
        if (s->reaper)
                reap(s->reaper, s);
        list_for_each_safe(l, &s->listeners, struct listener, link) {
                list_remove(&l->link);
                sd_event_source_disable_unref(l->resume);
                sd_event_source_disable_unref(l->source);
                close(l->fd);
                free(l);
        }
        server_free_lingering(s);
        sd_event_source_disable_unref(s->reaper);
        sd_event_source_disable_unref(s->epoll_source);
        if (s->epoll_fd >= 0)
                close(s->epoll_fd);
        sd_event_source_disable_unref(s->stuck_timer);
        deadline_heap_free(&s->stuck);
        sd_event_unref(s->event);
        free(s->rx_buf);
        free(s->format_costs);
        free(s->budgets);
        ino_index_free(&s->tokens);
        ino_index_free(&s->buffers);
        ino_index_free(&s->node_refs);
        ino_index_free(&s->conns_by_pid);
        heaps_free(&s->heaps);
        free(s);
}

SYSMEM_EXPORT void sysmem_server_set_admin_group(struct sysmem_server *ss, gid_t gid) {
        struct server *s = (struct server *)ss;
        if (s)
                s->admin_gid = gid;
}

SYSMEM_EXPORT void sysmem_server_set_log_level(struct sysmem_server *server, enum sysmem_log_level level) {
        (void)server;
        log_set_level((enum log_level)level);
}

SYSMEM_EXPORT int sysmem_server_listen_fd(struct sysmem_server *ss, int fd) {
        struct server *s = (struct server *)ss;
        if (!s || fd < 0)
                return -EINVAL;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        struct listener *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->server = s;
        l->fd = fd;
        int r = sd_event_add_io(s->event, &l->source, fd, EPOLLIN, listener_io, l);
        if (r < 0) {
                free(l);
                return r;
        }
        list_append(&s->listeners, &l->link);
        server_log_heaps(s);
        return 0;
}

/* 1 when a server accepts connections at sa, 0 when nobody does (a stale file), or -errno. */
static int socket_is_served(const struct sockaddr_un *sa) {
        int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0)
                return -errno;
        int r = connect(probe, (const struct sockaddr *)sa, sizeof *sa);
        int e = errno;
        close(probe);
        if (r == 0 || e == EAGAIN) /* EAGAIN: its backlog is full, but it is alive */
                return 1;
        return e == ECONNREFUSED || e == ENOENT ? 0 : -e;
}

/* Binds fd at addr and listens, then opens it to SERVER_SOCKET_MODE (who may connect is the directory's call). */
static int bind_listen(int fd, const struct sockaddr_un *addr) {
        if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 || listen(fd, SOMAXCONN) < 0 ||
            chmod(addr->sun_path, SERVER_SOCKET_MODE) < 0)
                return -errno;
        return 0;
}

/*
 * The socket appears at sa's path only once it is listening, so a client that sees the file never gets
 * ECONNREFUSED (a connect() between bind() and listen() would): bound under a random name beside it, then
 * linked into place. link() never replaces: a file that appeared meanwhile is refused, as bind() would. On a
 * filesystem without hard links it is renamed instead, only where nothing is at the path. A path too long
 * for the extra name is bound in place (docs/protocol.md says so).
 */
static int bind_then_publish(int fd, const struct sockaddr_un *sa) {
        struct sockaddr_un tmp = {.sun_family = AF_UNIX};
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
                rnd = ((uint64_t)getpid() << 32) ^ util_now_usec();
        int n = snprintf(tmp.sun_path, sizeof tmp.sun_path, "%s.%016llx", sa->sun_path, (unsigned long long)rnd);
        if (n <= 0 || (size_t)n >= sizeof tmp.sun_path)
                return bind_listen(fd, sa);
        int r = bind_listen(fd, &tmp);
        if (r == 0 && link(tmp.sun_path, sa->sun_path) < 0) {
                r = errno == EEXIST ? -EADDRINUSE : -errno;
                struct stat st;
                if (r == -EPERM || r == -EOPNOTSUPP || r == -EMLINK)
                        r = lstat(sa->sun_path, &st) == 0 ? -EADDRINUSE
                            : rename(tmp.sun_path, sa->sun_path) < 0 ? -errno
                                                                       : 0;
                if (r == 0)
                        return 0; /* renamed: the temporary name is gone with it */
        }
        (void)unlink(tmp.sun_path);
        return r;
}

SYSMEM_EXPORT int sysmem_server_listen(struct sysmem_server *ss, const char *path) {
        if (!ss || !path)
                return -EINVAL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Replace a stale socket file, but never a regular file, nor a socket another server answers on. */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                int r = socket_is_served(&sa);
                if (r != 0) {
                        close(fd);
                        return r > 0 ? -EADDRINUSE : r;
                }
                (void)unlink(path);
        }
        /* The mode is set, not left to the umask: created 0600 (bind takes the socket inode's mode). */
        int r = fchmod(fd, 0600) < 0 ? -errno : bind_then_publish(fd, &sa);
        if (r < 0) {
                close(fd);
                return r;
        }
        r = sysmem_server_listen_fd(ss, fd);
        if (r < 0)
                close(fd);
        return r;
}

SYSMEM_EXPORT int sysmem_server_serve_connection(struct sysmem_server *ss, int fd) {
        struct server *s = (struct server *)ss;
        if (!s || fd < 0)
                return -EINVAL;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        server_log_heaps(s);
        return add_connection(s, fd);
}

SYSMEM_EXPORT int sysmem_server_get_fd(struct sysmem_server *ss) {
        struct server *s = (struct server *)ss;
        return s ? sd_event_get_fd(s->event) : -EINVAL;
}

SYSMEM_EXPORT int sysmem_server_dispatch(struct sysmem_server *ss, uint64_t timeout_usec) {
        struct server *s = (struct server *)ss;
        if (!s)
                return -EINVAL;
        int r = sd_event_run(s->event, timeout_usec);
        return r < 0 ? r : 0;
}

SYSMEM_EXPORT int sysmem_server_run(struct sysmem_server *ss, bool install_signal_handlers) {
        struct server *s = (struct server *)ss;
        if (!s)
                return -EINVAL;
        if (install_signal_handlers) {
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGINT);
                sigprocmask(SIG_BLOCK, &mask, NULL);
                int r = sd_event_add_signal(s->event, NULL, SIGTERM, on_signal, s);
                if (r >= 0)
                        r = sd_event_add_signal(s->event, NULL, SIGINT, on_signal, s);
                if (r < 0)
                        return r;
        }
        signal(SIGPIPE, SIG_IGN);
        return sd_event_loop(s->event);
}

SYSMEM_EXPORT void sysmem_server_exit(struct sysmem_server *ss) {
        struct server *s = (struct server *)ss;
        if (!s)
                return;
        s->exiting = true;
        (void)sd_event_exit(s->event, 0);
}
