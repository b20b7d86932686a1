/* diagnostics.c: the Allocator's read-only questions about live collections: GetVmoInfo and GetDiagnostics. */
#include <errno.h>
#include <stdlib.h>

#include "common/macros.h"
#include "common/util.h"
#include "server-internal.h"

void allocator_get_vmo_info(struct allocator_conn *a, struct wire_msg *m) {
        struct server *s = a->server;
        struct wire_fd_body *req = m->body;
        uint32_t index;
        struct collection *c = server_find_buffer(s, req->fd, &index);
        if (!c) {
                server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_NOT_FOUND,
                                   "the fd is not a buffer of a live collection of this sysmem server");
                return;
        }
        struct wire_vmo_info_reply rep = {
                .buffer_collection_id = c->id,
                .buffer_index = index,
                .has_buffer_index = true,
                .close_weak_asap = -1,
        };
        server_reply(&a->ep, m->opcode, m->txid, wire_message_lookup(m->opcode)->reply, &rep);
}

/* Diagnostics flags of a node, as sysmemctl shows them. */
static uint32_t diag_flags(const struct node *n) {
        return (n->released ? WIRE_DIAG_RELEASED : 0) | (n->orphaned ? WIRE_DIAG_ORPHANED : 0) |
               (n->constraints_set ? WIRE_DIAG_CONSTRAINTS_SET : 0) | (n->allocated ? WIRE_DIAG_ALLOCATED : 0) |
               (n->weak ? WIRE_DIAG_WEAK : 0) | (n->weak_ok ? WIRE_DIAG_WEAK_OK : 0) |
               (n->mode == MODE_PROPAGATE_BEFORE_ALLOCATION ? WIRE_DIAG_DISPENSABLE : 0) |
               (n->attach_root ? WIRE_DIAG_ATTACHED : 0) | (node_ready(n) ? WIRE_DIAG_READY : 0) |
               (n->children_present ? WIRE_DIAG_CHILDREN_PRESENT : 0) | (n->dead ? WIRE_DIAG_FAILED : 0);
}

/* One collection and its live nodes (at most max_nodes_per_collection of them, into nodes); d starts zeroed. */
static void diag_collection(const struct server *s, struct collection *c, uint64_t now,
                            struct wire_diag_collection *d, struct wire_diag_node *nodes) {
        d->id = c->id;
        d->name = c->has_name ? c->name : NULL;
        d->state = c->state;
        d->buffer_count = c->buffer_count;
        d->size_bytes = c->result.settings.buffer_settings.size_bytes;
        d->raw_vmo_size = c->result.settings.buffer_settings.raw_vmo_size;
        d->heap = c->state == COLLECTION_ALLOCATED ? c->result.settings.buffer_settings.heap.heap_type : NULL;
        if (c->state == COLLECTION_ALLOCATED && c->result.settings.has_image_format_constraints) {
                d->pixel_format = c->result.settings.image_format_constraints.pixel_format;
                d->pixel_format_modifier = c->result.settings.image_format_constraints.pixel_format_modifier;
                d->has_pixel_format_modifier = true;
        }
        d->age_usec = now - c->created_usec;
        if (c->owner.known) {
                d->has_owner = true;
                d->owner_pid = (uint32_t)c->owner.pid;
                d->owner_uid = (uint32_t)c->owner.uid;
                d->owner_comm = client_cred_comm(&c->owner)[0] ? c->owner.comm : NULL;
        }
        d->nodes = nodes;
        list_for_each(n, &c->nodes, struct node, link) {
                if (n->dead || d->node_count >= s->limits.max_nodes_per_collection)
                        continue;
                struct wire_diag_node *dn = &nodes[d->node_count++];
                dn->index = n->index;
                dn->parent = n->parent ? n->parent->index + 1 : 0;
                dn->kind = n->kind;
                dn->flags = diag_flags(n);
                dn->debug_name = n->debug_name;
                dn->debug_id = n->debug_id;
                if (n->cred.known) {
                        dn->has_sender = true;
                        dn->pid = (uint32_t)n->cred.pid;
                        dn->uid = (uint32_t)n->cred.uid;
                        dn->comm = client_cred_comm(&n->cred)[0] ? n->cred.comm : NULL;
                }
                bool gets = n->allocated && n->constraints && core_participant_gets_buffers(n->constraints) &&
                            (n->rights_mask & SYSMEM_RIGHT_READ) && !c->buffers_released;
                dn->bytes = gets ? d->raw_vmo_size * c->buffer_count : 0;
                if (n->weak)
                        d->weak_count++;
                else
                        d->strong_count++;
        }
}

/*
 * A client sees the collections its own uid created (names, trees and debug names are its business),
 * every collection when it is root or in the admin group (sysmemd --admin-group).
 */
static bool diag_may_see(const struct allocator_conn *a, const struct collection *c) {
        return a->admin || (a->cred.known && c->owner.known && a->cred.uid == c->owner.uid);
}

/*
 * One page of the live collections this client may see, with their trees, in id order after
 * start_after_id. A page holds as many collections as fit in one message; `more` says there are others.
 */
void allocator_get_diagnostics(struct allocator_conn *a, struct wire_msg *m) {
        struct server *s = a->server;
        const struct wire_diag_request *req = m->body;
        enum { PAGE = 32 };
        struct wire_diag_collection *cols = calloc(PAGE, sizeof *cols);
        struct wire_diag_node *nodes = calloc((size_t)PAGE * s->limits.max_nodes_per_collection, sizeof *nodes);
        /* Clients receive at least 128 KiB (docs/protocol.md), whatever this server accepts. */
        size_t cap = MIN(s->limits.max_message_bytes, 131072u);
        uint8_t *buf = malloc(cap);
        if (!cols || !nodes || !buf) {
                free(cols);
                free(nodes);
                free(buf);
                server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY, "out of memory");
                return;
        }
        uint32_t count = 0, node_used = 0;
        bool more = false;
        uint64_t now = util_now_usec();
        /* Collections are appended as they are made, so the list is already in id order. */
        uint64_t visible_bytes = 0;
        uint32_t visible_total = 0;
        list_for_each(c, &s->collections, struct collection, link) {
                if (!diag_may_see(a, c))
                        continue;
                visible_bytes += c->bytes_charged;
                visible_total++;
        }
        list_for_each(c, &s->collections, struct collection, link) {
                if (c->id <= req->start_after_id || !diag_may_see(a, c))
                        continue;
                if (count == PAGE) {
                        more = true;
                        break;
                }
                struct wire_diag_collection *d = &cols[count++];
                diag_collection(s, c, now, d, &nodes[node_used]);
                node_used += d->node_count;
        }
        struct wire_diag_reply rep = {.collections = cols,
                                      .collection_count = count,
                                      .more = more,
                                      .total_bytes = visible_bytes,
                                      .collection_total = visible_total};
        /* Shrink the page until it fits one message; a client asks again from the last id. */
        for (;;) {
                size_t len;
                uint32_t nfds;
                int r = wire_encode(wire_message_lookup(m->opcode)->reply, m->opcode, WIRE_FLAG_REPLY, m->txid, &rep,
                                    buf, cap, &len, NULL, 0, &nfds);
                if (r == -EMSGSIZE && rep.collection_count > 1) {
                        rep.collection_count /= 2;
                        rep.more = true;
                        continue;
                }
                if (r < 0)
                        server_reply_error(&a->ep, m->opcode, m->txid, SYSMEM_ERROR_NO_MEMORY,
                                           "the diagnostics do not fit in a message");
                else
                        (void)endpoint_send(&a->ep, buf, len, NULL, 0);
                break;
        }
        free(cols);
        free(nodes);
        free(buf);
}
