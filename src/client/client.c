/* client.c: libsysmem: allocator, token and collection objects over sysmemd's sockets; blocking and dispatch APIs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include <sysmem/sysmem.h>

#include "common/socket-path.h"
#include "common/errors.h"
#include "common/macros.h"
#include "common/util.h"
#include "core/image-format.h"
#include "wire/messages.h"

#define TX_BUF_SIZE 131072u
#define RX_BUF_SIZE 131072u
#define MAX_ASYNC_WAITS 16u

enum object_kind { OBJ_ALLOCATOR, OBJ_TOKEN, OBJ_COLLECTION, OBJ_GROUP };

struct async_wait {
        uint32_t txid;
        sysmem_allocated_fn callback;
        void *userdata;
};

/* Everything that talks to one server-side object over one socket. */
struct sysmem_node {
        int fd;
        enum object_kind kind;
        uint32_t next_txid;
        bool failed;             /* the server failed or closed this object: every call now returns its error */
        enum sysmem_error error; /* why it failed; else the last error a request was answered with, or INVALID */
        char error_message[WIRE_MAX_ERROR_MESSAGE + 1];
        struct async_wait waits[MAX_ASYNC_WAITS];
        uint32_t wait_count;
};

struct sysmem_allocator {
        struct sysmem_node node;
        /* Token sockets the daemon made ahead (SpareEnds): allocating with them needs no round trip. */
        int spare_fds[WIRE_MAX_SPARES];
        uint64_t spare_ids[WIRE_MAX_SPARES];
        uint32_t spare_count;
};
struct sysmem_token {
        struct sysmem_node node;
};
struct sysmem_collection {
        struct sysmem_node node;
};
struct sysmem_group {
        struct sysmem_node node;
};

static const struct wire_limits client_wire_limits = {
        .max_message_bytes = RX_BUF_SIZE,
        .max_fds = WIRE_MAX_FDS,
        .max_array_elements = 1024,
};

SYSMEM_EXPORT const char *sysmem_error_name(enum sysmem_error error) { return error_name(error); }
SYSMEM_EXPORT int sysmem_error_to_errno(enum sysmem_error error) { return error_to_errno(error); }

static void node_init(struct sysmem_node *n, int fd, enum object_kind kind) {
        memset(n, 0, sizeof *n);
        n->fd = fd;
        n->kind = kind;
        n->next_txid = 1;
}

static void node_set_error(struct sysmem_node *n, enum sysmem_error error, const char *message) {
        n->error = error == SYSMEM_ERROR_INVALID ? SYSMEM_ERROR_UNSPECIFIED : error;
        util_strlcpy(n->error_message, message ? message : "", sizeof n->error_message);
}

/* The first failure wins: an epitaph read after it does not replace the reason. */
static int node_set_failed(struct sysmem_node *n, enum sysmem_error error, const char *message) {
        if (!n->failed) {
                n->failed = true;
                node_set_error(n, error, message);
        }
        return -error_to_errno(n->error);
}

static int node_failure(const struct sysmem_node *n) { return -error_to_errno(n->error); }

static uint32_t node_txid(struct sysmem_node *n) {
        uint32_t t = n->next_txid++;
        if (n->next_txid == 0)
                n->next_txid = 1;
        return t;
}

static int node_closed_by_server(struct sysmem_node *n);

static int node_send(struct sysmem_node *n, uint16_t opcode, uint32_t txid, const void *body) {
        const struct wire_message_def *def = wire_message_lookup(opcode);
        uint8_t *buf = malloc(TX_BUF_SIZE);
        if (!buf)
                return -ENOMEM;
        int fds[WIRE_MAX_FDS];
        size_t len;
        uint32_t nfds;
        int r = wire_encode(def->request, opcode, 0, txid, body, buf, TX_BUF_SIZE, &len, fds, WIRE_MAX_FDS, &nfds);
        if (r >= 0)
                r = wire_send(n->fd, buf, len, fds, nfds);
        free(buf);
        if (r == -EPIPE || r == -ECONNRESET)
                return node_closed_by_server(n);
        return r;
}

static struct sysmem_collection_info *info_from_wire(struct wire_msg *m) {
        const struct wire_collection_info *w = m->body;
        struct sysmem_collection_info *info = calloc(1, sizeof *info);
        if (!info)
                return NULL;
        info->settings = w->settings;
        info->buffer_collection_id = w->buffer_collection_id;
        info->close_weak_asap_fd = w->close_weak_asap >= 0 ? wire_msg_take_fd(m, w->close_weak_asap) : -1;
        info->buffer_count = MIN(w->buffer_count, SYSMEM_MAX_BUFFERS);
        for (uint32_t i = 0; i < SYSMEM_MAX_BUFFERS; i++)
                info->buffers[i].fd = -1;
        for (uint32_t i = 0; i < info->buffer_count; i++) {
                info->buffers[i].fd = w->buffers[i].vmo >= 0 ? wire_msg_take_fd(m, w->buffers[i].vmo) : -1;
                info->buffers[i].vmo_usable_start = w->buffers[i].vmo_usable_start;
        }
        return info;
}

/* Decodes a reply against the right schema; error replies record the error on the node. */
static int decode_reply(struct sysmem_node *n, const struct wire_message_def *def, uint16_t flags, const uint8_t *buf,
                        size_t len, int *fds, uint32_t nfds, struct wire_msg **ret) {
        char err[256];
        if (flags & WIRE_FLAG_ERROR) {
                struct wire_msg *m;
                int r = wire_decode(&wire_error_schema, buf, len, fds, nfds, &client_wire_limits, &m, err, sizeof err);
                if (r < 0)
                        return node_set_failed(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, err);
                const struct wire_error_body *e = m->body;
                enum sysmem_error error = e->error ? (enum sysmem_error)e->error : SYSMEM_ERROR_UNSPECIFIED;
                /*
                 * An error answer fails the request, not the object (a refused Duplicate leaves the token
                 * usable); when the object failed too, its epitaph follows. PENDING is not worth remembering.
                 */
                int ret_err = -error_to_errno(error);
                if (error != SYSMEM_ERROR_PENDING)
                        node_set_error(n, error, e->message);
                wire_msg_free(m);
                return ret_err;
        }
        int r = wire_decode(def->reply, buf, len, fds, nfds, &client_wire_limits, ret, err, sizeof err);
        if (r < 0)
                return node_set_failed(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, err);
        return 0;
}

static void run_async_wait(struct sysmem_node *n, uint32_t index, int result, struct sysmem_collection_info *info) {
        struct async_wait w = n->waits[index];
        n->waits[index] = n->waits[--n->wait_count];
        w.callback((struct sysmem_collection *)n, result, info, w.userdata);
}

static void fail_async_waits(struct sysmem_node *n) {
        while (n->wait_count > 0)
                run_async_wait(n, n->wait_count - 1, node_failure(n), NULL);
}

/* Keeps the spare token sockets the daemon sent (as many as fit; the rest are closed). */
static void store_spares(struct sysmem_allocator *a, const struct wire_message_def *def, const uint8_t *buf,
                         size_t len, int *fds, uint32_t nfds) {
        struct wire_msg *m = NULL;
        char err[128];
        if (wire_decode(def->request, buf, len, fds, nfds, &client_wire_limits, &m, err, sizeof err) < 0)
                return; /* not worth failing the allocator: it only costs the next call a round trip */
        const struct wire_spare_ends *sp = m->body;
        for (uint32_t i = 0; i < sp->end_count && i < sp->id_count && a->spare_count < WIRE_MAX_SPARES; i++) {
                int fd = wire_msg_take_fd(m, sp->ends[i]);
                if (fd < 0)
                        continue;
                a->spare_fds[a->spare_count] = fd;
                a->spare_ids[a->spare_count++] = sp->ids[i];
        }
        wire_msg_free(m);
}

/*
 * Receives one message and handles it. Returns 1 if it was the reply to want_txid (then *ret holds it, or
 * *ret_reply_err the error it answered with), 0 if it was something else (handled), or a negative errno
 * (the object failed or the socket broke).
 */
static int node_receive_one(struct sysmem_node *n, uint32_t want_txid, struct wire_msg **ret, int *ret_reply_err) {
        uint8_t *buf = malloc(RX_BUF_SIZE);
        if (!buf)
                return -ENOMEM;
        int fds[WIRE_MAX_FDS];
        uint32_t nfds = 0;
        ssize_t len = wire_recv(n->fd, buf, RX_BUF_SIZE, fds, WIRE_MAX_FDS, &nfds);
        if (len == -ECONNRESET)
                /*
                 * The server closed this object before it read a request of ours. The kernel reports that
                 * ahead of the messages still queued for us, the epitaph among them: read on.
                 */
                len = wire_recv(n->fd, buf, RX_BUF_SIZE, fds, WIRE_MAX_FDS, &nfds);
        int r;
        if (len == 0 || len == -ECONNRESET) {
                r = node_set_failed(n, SYSMEM_ERROR_UNSPECIFIED, "the sysmem server closed this object");
                fail_async_waits(n);
                goto out;
        }
        if (len < 0) {
                r = (int)len;
                if (r != -EAGAIN && r != -EINTR) {
                        r = node_set_failed(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "malformed message from the server");
                        fail_async_waits(n);
                }
                goto out;
        }
        uint16_t opcode, flags;
        uint32_t txid, hnfds;
        const struct wire_message_def *def = NULL;
        if (wire_peek_header(buf, (size_t)len, &opcode, &flags, &txid, &hnfds) < 0 ||
            !(def = wire_message_lookup(opcode))) {
                for (uint32_t i = 0; i < nfds; i++)
                        close(fds[i]);
                r = node_set_failed(n, SYSMEM_ERROR_PROTOCOL_DEVIATION, "unknown message from the server");
                fail_async_waits(n);
                goto out;
        }
        if ((flags & WIRE_FLAG_EVENT) && opcode == WIRE_OP_SPARE_ENDS && n->kind == OBJ_ALLOCATOR) {
                store_spares((struct sysmem_allocator *)n, def, buf, (size_t)len, fds, nfds);
                r = 0;
                goto out;
        }
        if (flags & WIRE_FLAG_EVENT) {
                struct wire_msg *m = NULL;
                char err[128];
                if (opcode == WIRE_OP_EPITAPH && wire_decode(&wire_error_schema, buf, (size_t)len, fds, nfds,
                                                             &client_wire_limits, &m, err, sizeof err) >= 0) {
                        const struct wire_error_body *e = m->body;
                        node_set_failed(n, (enum sysmem_error)e->error, e->message);
                        wire_msg_free(m);
                } else {
                        if (opcode != WIRE_OP_EPITAPH)
                                for (uint32_t i = 0; i < nfds; i++)
                                        close(fds[i]);
                        node_set_failed(n, SYSMEM_ERROR_UNSPECIFIED, "the server failed this object");
                }
                r = node_failure(n);
                fail_async_waits(n);
                goto out;
        }
        if (want_txid && txid == want_txid) {
                *ret_reply_err = decode_reply(n, def, flags, buf, (size_t)len, fds, nfds, ret);
                if (n->failed)
                        fail_async_waits(n); /* the reply itself was malformed */
                r = 1;
                goto out;
        }
        for (uint32_t i = 0; i < n->wait_count; i++) {
                if (n->waits[i].txid != txid || opcode != WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED)
                        continue;
                struct wire_msg *m = NULL;
                int rr = decode_reply(n, def, flags, buf, (size_t)len, fds, nfds, &m);
                struct sysmem_collection_info *info = NULL;
                if (rr >= 0) {
                        info = info_from_wire(m);
                        wire_msg_free(m);
                        rr = info ? 0 : -ENOMEM;
                }
                run_async_wait(n, i, rr, info);
                if (n->failed)
                        fail_async_waits(n);
                r = 0;
                goto out;
        }
        /* A reply nobody waits for (e.g. after a timeout): drop it. */
        for (uint32_t i = 0; i < nfds; i++)
                close(fds[i]);
        r = 0;
out:
        free(buf);
        return r;
}

/*
 * The server closed this object (a send failed with EPIPE). Why is in its epitaph, still queued on the
 * socket: read what is there without blocking, so the caller learns the real error and not just "closed".
 */
static int node_closed_by_server(struct sysmem_node *n) {
        for (int i = 0; i < 256 && !n->failed; i++) {
                struct pollfd p = {.fd = n->fd, .events = POLLIN};
                if (poll(&p, 1, 0) <= 0)
                        break;
                int r = node_receive_one(n, 0, NULL, NULL);
                if (r < 0 && r != -EINTR)
                        break;
        }
        int r = node_set_failed(n, SYSMEM_ERROR_UNSPECIFIED, "the sysmem server closed this object");
        fail_async_waits(n);
        return r;
}

/* Sends a request and blocks for its reply; *ret (if not NULL) receives the decoded reply. */
static int node_call(struct sysmem_node *n, uint16_t opcode, const void *body, struct wire_msg **ret) {
        if (n->failed)
                return node_failure(n);
        uint32_t txid = node_txid(n);
        int r = node_send(n, opcode, txid, body);
        if (r < 0)
                return r;
        for (;;) {
                struct wire_msg *m = NULL;
                int reply_err = 0;
                r = node_receive_one(n, txid, &m, &reply_err);
                if (r == -EINTR || r == 0)
                        continue;
                if (r == -EAGAIN) {
                        /* A caller made the socket non-blocking: wait for the reply anyway. */
                        struct pollfd p = {.fd = n->fd, .events = POLLIN};
                        (void)poll(&p, 1, -1);
                        continue;
                }
                if (r < 0)
                        return r;
                if (reply_err < 0)
                        return reply_err;
                if (ret)
                        *ret = m;
                else
                        wire_msg_free(m);
                return 0;
        }
}

static int node_oneway(struct sysmem_node *n, uint16_t opcode, const void *body) {
        if (n->failed)
                return node_failure(n);
        return node_send(n, opcode, 0, body);
}

/* Closes an object's socket and frees it; what a Release is followed by, or a failure. */
static void object_close(struct sysmem_node *n) {
        if (!n)
                return;
        close(n->fd);
        free(n);
}

/* The clean exit of any node: Release, then close. */
static int object_release(struct sysmem_node *n) {
        if (!n)
                return -EINVAL;
        struct wire_empty e = {0};
        int r = node_oneway(n, WIRE_OP_RELEASE, &e);
        object_close(n);
        return r;
}

/* ---- allocator ---- */

SYSMEM_EXPORT int sysmem_allocator_connect(const char *path, struct sysmem_allocator **ret_allocator) {
        if (!ret_allocator)
                return -EINVAL;
        int fd = socket_path_connect(path, NULL); /* path NULL: the lookup order of common/socket-path.h */
        if (fd < 0)
                return fd;
        return sysmem_allocator_from_fd(fd, ret_allocator);
}

SYSMEM_EXPORT int sysmem_allocator_from_fd(int fd, struct sysmem_allocator **ret_allocator) {
        if (fd < 0 || !ret_allocator)
                return -EINVAL;
        struct sysmem_allocator *a = malloc(sizeof *a);
        if (!a) {
                close(fd);
                return -ENOMEM;
        }
        node_init(&a->node, fd, OBJ_ALLOCATOR);
        a->spare_count = 0;
        *ret_allocator = a;
        return 0;
}

SYSMEM_EXPORT void sysmem_allocator_free(struct sysmem_allocator *a) {
        if (!a)
                return;
        for (uint32_t i = 0; i < a->spare_count; i++)
                close(a->spare_fds[i]);
        close(a->node.fd);
        free(a);
}

SYSMEM_EXPORT int sysmem_allocator_get_fd(const struct sysmem_allocator *a) { return a ? a->node.fd : -EINVAL; }

SYSMEM_EXPORT int sysmem_allocator_set_debug_client_info(struct sysmem_allocator *a, const char *name, uint64_t id) {
        if (!a || !name || strlen(name) > SYSMEM_MAX_CLIENT_NAME_LENGTH)
                return -EINVAL;
        struct wire_debug_client_info body = {.name = (char *)name, .id = id};
        return node_oneway(&a->node, WIRE_OP_ALLOCATOR_SET_DEBUG_CLIENT_INFO, &body);
}

static void *new_node_object(int fd, enum object_kind kind) {
        struct sysmem_node *n = malloc(sizeof(struct sysmem_node));
        if (!n) {
                close(fd);
                return NULL;
        }
        node_init(n, fd, kind);
        return n;
}

/* A two-way call whose reply is one fd; returns the fd (the caller's) or a negative errno. */
static int node_call_fd(struct sysmem_node *n, uint16_t opcode, const void *body) {
        struct wire_msg *m = NULL;
        int r = node_call(n, opcode, body, &m);
        if (r < 0)
                return r;
        int fd = wire_msg_take_fd(m, ((struct wire_fd_body *)m->body)->fd);
        wire_msg_free(m);
        return fd >= 0 ? fd : -EBADMSG;
}

/* A call that creates one object (a token or a group) and answers with its socket. */
static int call_new_object(struct sysmem_node *n, uint16_t opcode, const void *body, enum object_kind kind,
                           void **ret_object) {
        int fd = node_call_fd(n, opcode, body);
        if (fd < 0)
                return fd;
        void *o = new_node_object(fd, kind);
        if (!o)
                return -ENOMEM;
        *ret_object = o;
        return 0;
}

/*
 * One-way allocation on spare sockets: the tokens are usable at once, since whatever is sent on them
 * waits in the socket until the daemon has made them tokens. -EAGAIN: not possible, use a round trip.
 */
static int allocate_from_spares(struct sysmem_allocator *a, uint32_t count, const uint32_t *masks,
                                struct sysmem_token **ret_token, struct sysmem_token **ret_duplicates) {
        struct sysmem_token *out[WIRE_MAX_SPARES] = {0};
        uint64_t ids[WIRE_MAX_SPARES];
        for (uint32_t i = 0; i <= count; i++) {
                out[i] = malloc(sizeof *out[i]);
                if (!out[i]) {
                        for (uint32_t j = 0; j < i; j++)
                                free(out[j]);
                        return -EAGAIN;
                }
        }
        uint32_t base = a->spare_count - (count + 1);
        for (uint32_t i = 0; i <= count; i++) {
                ids[i] = a->spare_ids[base + i];
                node_init(&out[i]->node, a->spare_fds[base + i], OBJ_TOKEN);
        }
        struct wire_allocate_from_spares body = {.spare_ids = ids,
                                                 .spare_id_count = count + 1,
                                                 .rights_attenuation_masks = masks,
                                                 .rights_attenuation_mask_count = count};
        int r = node_send(&a->node, WIRE_OP_ALLOCATE_SHARED_FROM_SPARES, 0, &body);
        if (r < 0) {
                for (uint32_t i = 0; i <= count; i++)
                        free(out[i]); /* the fds stay spares */
                return r;
        }
        a->spare_count = base;
        *ret_token = out[0];
        for (uint32_t i = 0; i < count; i++)
                ret_duplicates[i] = out[1 + i];
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_allocate_shared_with_duplicates(struct sysmem_allocator *a, uint32_t count,
                                                                   const uint32_t *masks,
                                                                   struct sysmem_token **ret_token,
                                                                   struct sysmem_token **ret_duplicates) {
        if (!a || !ret_token || count > SYSMEM_MAX_DUPLICATES || (count && (!masks || !ret_duplicates)))
                return -EINVAL;
        /*
         * A caller that starts negotiations with duplicates likely does it again: the daemon keeps
         * count + 1 token sockets ready for it, and the next call needs no round trip.
         */
        uint32_t wanted = count > 0 && count + 1 <= WIRE_MAX_SPARES ? count + 1 : 0;
        if (wanted) {
                (void)sysmem_node_dispatch(&a->node); /* picks up SpareEnds sent since the last call */
                if (a->spare_count >= wanted) {
                        int r = allocate_from_spares(a, count, masks, ret_token, ret_duplicates);
                        if (r != -EAGAIN)
                                return r;
                }
        }
        struct wire_allocate_shared body = {
                .rights_attenuation_masks = masks, .rights_attenuation_mask_count = count, .spares_wanted = wanted};
        struct wire_msg *m = NULL;
        int r = node_call(&a->node, WIRE_OP_ALLOCATE_SHARED_COLLECTION, &body, &m);
        if (r < 0)
                return r;
        const struct wire_allocate_shared_reply *rep = m->body;
        struct sysmem_token *out[1 + SYSMEM_MAX_DUPLICATES] = {0};
        r = rep->duplicate_count == count ? 0 : -EBADMSG;
        for (uint32_t i = 0; r == 0 && i <= count; i++) {
                int fd = wire_msg_take_fd(m, i == 0 ? rep->token : rep->duplicates[i - 1]);
                out[i] = fd >= 0 ? new_node_object(fd, OBJ_TOKEN) : NULL;
                if (!out[i])
                        r = fd >= 0 ? -ENOMEM : -EBADMSG;
        }
        wire_msg_free(m);
        if (r < 0) {
                for (uint32_t i = 0; i <= count; i++)
                        sysmem_token_close(out[i]);
                return r;
        }
        *ret_token = out[0];
        if (count)
                memcpy(ret_duplicates, out + 1, count * sizeof *out);
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_allocate_shared(struct sysmem_allocator *a, struct sysmem_token **ret_token) {
        return sysmem_allocator_allocate_shared_with_duplicates(a, 0, NULL, ret_token, NULL);
}

SYSMEM_EXPORT int sysmem_allocator_allocate_non_shared(struct sysmem_allocator *a,
                                                       struct sysmem_collection **ret_collection) {
        if (!a || !ret_collection)
                return -EINVAL;
        struct wire_empty e = {0};
        int fd = node_call_fd(&a->node, WIRE_OP_ALLOCATE_NON_SHARED_COLLECTION, &e);
        if (fd < 0)
                return fd;
        struct sysmem_collection *c = new_node_object(fd, OBJ_COLLECTION);
        if (!c)
                return -ENOMEM;
        *ret_collection = c;
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_bind_shared(struct sysmem_allocator *a, struct sysmem_token *token,
                                               struct sysmem_collection **ret_collection) {
        if (!a || !token || !ret_collection) {
                sysmem_token_close(token);
                return -EINVAL;
        }
        struct wire_fd_body body = {.fd = token->node.fd};
        int fd = node_call_fd(&a->node, WIRE_OP_BIND_SHARED_COLLECTION, &body);
        /* The daemon turns the token into the collection once our end of the token is closed. */
        close(token->node.fd);
        free(token);
        if (fd < 0)
                return fd;
        struct sysmem_collection *c = new_node_object(fd, OBJ_COLLECTION);
        if (!c)
                return -ENOMEM;
        *ret_collection = c;
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_validate_token(struct sysmem_allocator *a, int token_fd, bool *ret_is_known) {
        if (!a || token_fd < 0 || !ret_is_known)
                return -EINVAL;
        struct wire_fd_body body = {.fd = token_fd};
        struct wire_msg *m = NULL;
        int r = node_call(&a->node, WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, &body, &m);
        if (r < 0)
                return r;
        *ret_is_known = ((struct wire_validate_reply *)m->body)->is_known;
        wire_msg_free(m);
        return 0;
}

/* ---- nodes ---- */

SYSMEM_EXPORT struct sysmem_node *sysmem_token_node(struct sysmem_token *t) { return t ? &t->node : NULL; }
SYSMEM_EXPORT struct sysmem_node *sysmem_collection_node(struct sysmem_collection *c) { return c ? &c->node : NULL; }

SYSMEM_EXPORT int sysmem_node_sync(struct sysmem_node *n) {
        if (!n)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_call(n, WIRE_OP_SYNC, &e, NULL);
}

SYSMEM_EXPORT int sysmem_node_set_name(struct sysmem_node *n, uint32_t priority, const char *name) {
        if (!n || !name || strlen(name) > SYSMEM_MAX_NAME_LENGTH)
                return -EINVAL;
        struct wire_set_name body = {.priority = priority, .name = (char *)name};
        return node_oneway(n, WIRE_OP_SET_NAME, &body);
}

SYSMEM_EXPORT int sysmem_node_set_debug_client_info(struct sysmem_node *n, const char *name, uint64_t id) {
        if (!n || !name || strlen(name) > SYSMEM_MAX_CLIENT_NAME_LENGTH)
                return -EINVAL;
        struct wire_debug_client_info body = {.name = (char *)name, .id = id};
        return node_oneway(n, WIRE_OP_SET_DEBUG_CLIENT_INFO, &body);
}

SYSMEM_EXPORT int sysmem_node_get_buffer_collection_id(struct sysmem_node *n, uint64_t *ret_id) {
        if (!n || !ret_id)
                return -EINVAL;
        struct wire_empty e = {0};
        struct wire_msg *m = NULL;
        int r = node_call(n, WIRE_OP_GET_BUFFER_COLLECTION_ID, &e, &m);
        if (r < 0)
                return r;
        *ret_id = ((struct wire_collection_id_reply *)m->body)->buffer_collection_id;
        wire_msg_free(m);
        return 0;
}

SYSMEM_EXPORT enum sysmem_error sysmem_node_error(const struct sysmem_node *n) {
        return n ? n->error : SYSMEM_ERROR_INVALID;
}

SYSMEM_EXPORT const char *sysmem_node_error_message(const struct sysmem_node *n) { return n ? n->error_message : ""; }

SYSMEM_EXPORT int sysmem_node_get_fd(const struct sysmem_node *n) { return n ? n->fd : -EINVAL; }

SYSMEM_EXPORT int sysmem_node_dispatch(struct sysmem_node *n) {
        if (!n)
                return -EINVAL;
        for (;;) {
                if (n->failed) {
                        /* A failure found by another call leaves no wait unanswered either. */
                        int r = node_failure(n);
                        fail_async_waits(n);
                        return r;
                }
                struct pollfd p = {.fd = n->fd, .events = POLLIN};
                int r = poll(&p, 1, 0);
                if (r < 0)
                        return errno == EINTR ? 0 : -errno;
                if (r == 0)
                        return 0;
                r = node_receive_one(n, 0, NULL, NULL);
                if (r < 0 && r != -EAGAIN && r != -EINTR)
                        return r;
        }
}

/* ---- tokens ---- */

SYSMEM_EXPORT int sysmem_token_duplicate(struct sysmem_token *t, uint32_t mask, struct sysmem_token **ret_token) {
        if (!t || !ret_token)
                return -EINVAL;
        struct wire_duplicate body = {.rights_attenuation_mask = mask};
        return call_new_object(&t->node, WIRE_OP_DUPLICATE, &body, OBJ_TOKEN, (void **)ret_token);
}

static int call_new_tokens(struct sysmem_node *n, uint16_t opcode, uint32_t count, const uint32_t *masks,
                           struct sysmem_token **ret_tokens);

SYSMEM_EXPORT int sysmem_token_duplicate_sync(struct sysmem_token *t, uint32_t count, const uint32_t *masks,
                                              struct sysmem_token **ret_tokens) {
        if (!t || count == 0 || count > SYSMEM_MAX_DUPLICATES || !masks || !ret_tokens)
                return -EINVAL;
        return call_new_tokens(&t->node, WIRE_OP_DUPLICATE_SYNC, count, masks, ret_tokens);
}

SYSMEM_EXPORT int sysmem_token_bind(struct sysmem_token *t, struct sysmem_collection **ret_collection) {
        if (!t || !ret_collection) {
                sysmem_token_close(t);
                return -EINVAL;
        }
        struct wire_empty e = {0};
        int r = node_oneway(&t->node, WIRE_OP_BIND, &e);
        /*
         * A token whose collection already failed still becomes a (failed) collection object, so that the
         * caller can learn why from it; only a local failure (out of memory) loses the token.
         */
        if (r < 0 && !t->node.failed) {
                sysmem_token_close(t);
                return r;
        }
        /* Same socket, same server-side node: only the protocol spoken on it changes. */
        t->node.kind = OBJ_COLLECTION;
        *ret_collection = (struct sysmem_collection *)t;
        return 0;
}

SYSMEM_EXPORT int sysmem_token_release(struct sysmem_token *t) { return object_release(t ? &t->node : NULL); }

SYSMEM_EXPORT void sysmem_token_close(struct sysmem_token *t) { object_close(t ? &t->node : NULL); }

SYSMEM_EXPORT int sysmem_token_to_fd(struct sysmem_token *t) {
        if (!t)
                return -EINVAL;
        int fd = t->node.fd;
        free(t);
        return fd;
}

SYSMEM_EXPORT int sysmem_token_from_fd(int fd, struct sysmem_token **ret_token) {
        if (fd < 0 || !ret_token)
                return -EINVAL;
        struct sysmem_token *t = new_node_object(fd, OBJ_TOKEN);
        if (!t)
                return -ENOMEM;
        *ret_token = t;
        return 0;
}

/* ---- collections ---- */

SYSMEM_EXPORT int sysmem_collection_set_constraints(struct sysmem_collection *c,
                                                    const struct sysmem_constraints *constraints) {
        if (!c)
                return -EINVAL;
        if (constraints && constraints->buffer_memory_constraints.permitted_heap_count > SYSMEM_MAX_PERMITTED_HEAPS)
                return -E2BIG;
        if (constraints && constraints->buffer_memory_constraints.permitted_heap_count &&
            !constraints->buffer_memory_constraints.permitted_heaps)
                return -EINVAL;
        if (constraints && constraints->image_format_constraint_count && !constraints->image_format_constraints)
                return -EINVAL;
        struct wire_set_constraints body = {.constraints = (struct sysmem_constraints *)constraints};
        return node_oneway(&c->node, WIRE_OP_SET_CONSTRAINTS, &body);
}

SYSMEM_EXPORT int sysmem_collection_wait_allocated(struct sysmem_collection *c,
                                                   struct sysmem_collection_info **ret_info) {
        if (!c || !ret_info)
                return -EINVAL;
        struct wire_empty e = {0};
        struct wire_msg *m = NULL;
        int r = node_call(&c->node, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, &e, &m);
        if (r < 0)
                return r;
        struct sysmem_collection_info *info = info_from_wire(m);
        wire_msg_free(m);
        if (!info)
                return -ENOMEM;
        *ret_info = info;
        return 0;
}

SYSMEM_EXPORT int sysmem_collection_check_allocated(struct sysmem_collection *c) {
        if (!c)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_call(&c->node, WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED, &e, NULL);
}

SYSMEM_EXPORT int sysmem_collection_wait_allocated_async(struct sysmem_collection *c, sysmem_allocated_fn callback,
                                                         void *userdata) {
        if (!c || !callback)
                return -EINVAL;
        struct sysmem_node *n = &c->node;
        if (n->failed)
                return node_failure(n);
        if (n->wait_count >= MAX_ASYNC_WAITS)
                return -EBUSY;
        uint32_t txid = node_txid(n);
        struct wire_empty e = {0};
        int r = node_send(n, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, txid, &e);
        if (r < 0)
                return r;
        n->waits[n->wait_count++] = (struct async_wait){.txid = txid, .callback = callback, .userdata = userdata};
        return 0;
}

SYSMEM_EXPORT int sysmem_collection_release(struct sysmem_collection *c) { return object_release(c ? &c->node : NULL); }

SYSMEM_EXPORT void sysmem_collection_close(struct sysmem_collection *c) { object_close(c ? &c->node : NULL); }

SYSMEM_EXPORT void sysmem_collection_info_free(struct sysmem_collection_info *info) {
        if (!info)
                return;
        for (uint32_t i = 0; i < info->buffer_count && i < SYSMEM_MAX_BUFFERS; i++)
                if (info->buffers[i].fd >= 0)
                        close(info->buffers[i].fd);
        if (info->close_weak_asap_fd >= 0)
                close(info->close_weak_asap_fd);
        free(info);
}

/* ---- node tree ---- */

SYSMEM_EXPORT struct sysmem_node *sysmem_group_node(struct sysmem_group *g) { return g ? &g->node : NULL; }

SYSMEM_EXPORT int sysmem_node_set_weak(struct sysmem_node *n) {
        if (!n)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_oneway(n, WIRE_OP_SET_WEAK, &e);
}

SYSMEM_EXPORT int sysmem_node_set_weak_ok(struct sysmem_node *n, bool for_child_nodes_also) {
        if (!n)
                return -EINVAL;
        struct wire_set_weak_ok body = {.for_child_nodes_also = for_child_nodes_also};
        return node_oneway(n, WIRE_OP_SET_WEAK_OK, &body);
}

SYSMEM_EXPORT int sysmem_node_get_node_ref(struct sysmem_node *n, int *ret_fd) {
        if (!n || !ret_fd)
                return -EINVAL;
        struct wire_empty e = {0};
        int fd = node_call_fd(n, WIRE_OP_GET_NODE_REF, &e);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

SYSMEM_EXPORT int sysmem_node_is_alternate_for(struct sysmem_node *n, int node_ref_fd, bool *ret_is_alternate) {
        if (!n || node_ref_fd < 0 || !ret_is_alternate)
                return -EINVAL;
        struct wire_fd_body body = {.fd = node_ref_fd};
        struct wire_msg *m = NULL;
        int r = node_call(n, WIRE_OP_IS_ALTERNATE_FOR, &body, &m);
        if (r < 0)
                return r;
        *ret_is_alternate = ((struct wire_is_alternate_reply *)m->body)->is_alternate;
        wire_msg_free(m);
        return 0;
}

SYSMEM_EXPORT int sysmem_node_set_debug_timeout_log_deadline(struct sysmem_node *n, uint64_t deadline_ns) {
        if (!n)
                return -EINVAL;
        struct wire_deadline body = {.deadline = deadline_ns};
        return node_oneway(n, WIRE_OP_SET_DEBUG_TIMEOUT_LOG_DEADLINE, &body);
}

SYSMEM_EXPORT int sysmem_node_set_verbose_logging(struct sysmem_node *n) {
        if (!n)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_oneway(n, WIRE_OP_SET_VERBOSE_LOGGING, &e);
}

SYSMEM_EXPORT int sysmem_token_set_dispensable(struct sysmem_token *t) {
        if (!t)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_oneway(&t->node, WIRE_OP_SET_DISPENSABLE, &e);
}

SYSMEM_EXPORT int sysmem_token_create_group(struct sysmem_token *t, struct sysmem_group **ret_group) {
        if (!t || !ret_group)
                return -EINVAL;
        struct wire_empty e = {0};
        return call_new_object(&t->node, WIRE_OP_CREATE_BUFFER_COLLECTION_TOKEN_GROUP, &e, OBJ_GROUP,
                               (void **)ret_group);
}

SYSMEM_EXPORT int sysmem_group_create_child(struct sysmem_group *g, uint32_t mask, struct sysmem_token **ret_token) {
        if (!g || !ret_token)
                return -EINVAL;
        struct wire_duplicate body = {.rights_attenuation_mask = mask, .has_rights_attenuation_mask = true};
        return call_new_object(&g->node, WIRE_OP_CREATE_CHILD, &body, OBJ_TOKEN, (void **)ret_token);
}

/* DuplicateSync and CreateChildrenSync: count tokens, all or none. */
static int call_new_tokens(struct sysmem_node *n, uint16_t opcode, uint32_t count, const uint32_t *masks,
                           struct sysmem_token **ret_tokens) {
        struct wire_duplicate_sync body = {.rights_attenuation_masks = masks, .rights_attenuation_mask_count = count};
        struct wire_msg *m = NULL;
        int r = node_call(n, opcode, &body, &m);
        if (r < 0)
                return r;
        const struct wire_duplicate_sync_reply *rep = m->body;
        if (rep->token_count != count) {
                wire_msg_free(m);
                return -EBADMSG;
        }
        struct sysmem_token *out[SYSMEM_MAX_DUPLICATES] = {0};
        for (uint32_t i = 0; i < count; i++) {
                int fd = wire_msg_take_fd(m, rep->tokens[i]);
                out[i] = fd >= 0 ? new_node_object(fd, OBJ_TOKEN) : NULL;
                if (!out[i]) {
                        for (uint32_t j = 0; j < i; j++)
                                sysmem_token_close(out[j]);
                        wire_msg_free(m);
                        return -ENOMEM;
                }
        }
        wire_msg_free(m);
        memcpy(ret_tokens, out, count * sizeof *out);
        return 0;
}

SYSMEM_EXPORT int sysmem_group_create_children_sync(struct sysmem_group *g, uint32_t count, const uint32_t *masks,
                                                    struct sysmem_token **ret_tokens) {
        if (!g || count == 0 || count > SYSMEM_MAX_DUPLICATES || !masks || !ret_tokens)
                return -EINVAL;
        return call_new_tokens(&g->node, WIRE_OP_CREATE_CHILDREN_SYNC, count, masks, ret_tokens);
}

SYSMEM_EXPORT int sysmem_group_all_children_present(struct sysmem_group *g) {
        if (!g)
                return -EINVAL;
        struct wire_empty e = {0};
        return node_oneway(&g->node, WIRE_OP_ALL_CHILDREN_PRESENT, &e);
}

SYSMEM_EXPORT int sysmem_group_release(struct sysmem_group *g) { return object_release(g ? &g->node : NULL); }

SYSMEM_EXPORT void sysmem_group_close(struct sysmem_group *g) { object_close(g ? &g->node : NULL); }

SYSMEM_EXPORT int sysmem_collection_attach_token(struct sysmem_collection *c, uint32_t mask,
                                                 struct sysmem_token **ret_token) {
        if (!c || !ret_token)
                return -EINVAL;
        struct wire_duplicate body = {.rights_attenuation_mask = mask};
        return call_new_object(&c->node, WIRE_OP_ATTACH_TOKEN, &body, OBJ_TOKEN, (void **)ret_token);
}

SYSMEM_EXPORT int sysmem_collection_attach_lifetime_tracking(struct sysmem_collection *c, uint32_t buffers_remaining,
                                                             int *ret_fd) {
        if (!c || !ret_fd)
                return -EINVAL;
        /* The daemon makes the pair and keeps the other end; its closing that end is the signal. */
        struct wire_attach_lifetime_tracking body = {.buffers_remaining = buffers_remaining,
                                                     .has_buffers_remaining = true};
        int fd = node_call_fd(&c->node, WIRE_OP_ATTACH_LIFETIME_TRACKING, &body);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_get_vmo_info(struct sysmem_allocator *a, int buffer_fd, uint64_t *ret_collection_id,
                                                uint64_t *ret_buffer_index) {
        if (!a || buffer_fd < 0 || !ret_collection_id || !ret_buffer_index)
                return -EINVAL;
        struct wire_fd_body body = {.fd = buffer_fd};
        struct wire_msg *m = NULL;
        int r = node_call(&a->node, WIRE_OP_GET_VMO_INFO, &body, &m);
        if (r < 0)
                return r;
        const struct wire_vmo_info_reply *rep = m->body;
        *ret_collection_id = rep->buffer_collection_id;
        *ret_buffer_index = rep->buffer_index;
        wire_msg_free(m);
        return 0;
}

SYSMEM_EXPORT uint32_t sysmem_protocol_version(void) { return SYSMEM_PROTOCOL_VERSION; }
SYSMEM_EXPORT const char *sysmem_library_version(void) { return SYSMEM_VERSION; }

SYSMEM_EXPORT int sysmem_allocator_get_server_info(struct sysmem_allocator *a, struct sysmem_server_info *ret) {
        if (!a || !ret)
                return -EINVAL;
        struct wire_server_info_request body = {.protocol_version = SYSMEM_PROTOCOL_VERSION};
        struct wire_msg *m = NULL;
        int r = node_call(&a->node, WIRE_OP_GET_SERVER_INFO, &body, &m);
        if (r == -EPROTO || r == -ECONNRESET || r == -EPIPE)
                return -ENOTSUP; /* a daemon from before the handshake fails the connection on it */
        if (r < 0)
                return r;
        const struct wire_server_info_reply *rep = m->body;
        memset(ret, 0, sizeof *ret);
        ret->protocol_version = rep->protocol_version;
        ret->min_protocol_version = rep->min_protocol_version;
        ret->features = rep->features;
        util_strlcpy(ret->version, rep->version ? rep->version : "", sizeof ret->version);
        wire_msg_free(m);
        return 0;
}

SYSMEM_EXPORT int sysmem_allocator_get_heaps(struct sysmem_allocator *a, struct sysmem_heap_info *ret,
                                             size_t capacity, size_t *ret_count) {
        if (!a || (!ret && capacity > 0) || !ret_count)
                return -EINVAL;
        struct wire_empty body = {0};
        struct wire_msg *m = NULL;
        int r = node_call(&a->node, WIRE_OP_GET_HEAPS, &body, &m);
        if (r < 0)
                return r;
        const struct wire_heaps_reply *rep = m->body;
        for (size_t i = 0; i < rep->heap_count && i < capacity; i++)
                ret[i] = rep->heaps[i];
        *ret_count = rep->heap_count;
        wire_msg_free(m);
        return 0;
}

/* ---- CPU access ---- */

static int buffer_sync(int fd, uint32_t flags, uint64_t phase) {
        if (fd < 0 || flags == 0 || (flags & ~(uint32_t)(SYSMEM_CPU_ACCESS_READ | SYSMEM_CPU_ACCESS_WRITE)))
                return -EINVAL;
        struct dma_buf_sync sync = {
                .flags = phase | (flags & SYSMEM_CPU_ACCESS_READ ? DMA_BUF_SYNC_READ : 0) |
                         (flags & SYSMEM_CPU_ACCESS_WRITE ? DMA_BUF_SYNC_WRITE : 0),
        };
        int r;
        do
                r = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
        while (r < 0 && (errno == EINTR || errno == EAGAIN));
        if (r == 0)
                return 0;
        /* Not a dma-buf: a memfd (it answers F_GET_SEALS) shares the CPU's caches and needs nothing. */
        if (errno == ENOTTY && fcntl(fd, F_GET_SEALS) >= 0)
                return 0;
        return -errno;
}

SYSMEM_EXPORT int sysmem_buffer_begin_cpu_access(int fd, uint32_t flags) {
        return buffer_sync(fd, flags, DMA_BUF_SYNC_START);
}

SYSMEM_EXPORT int sysmem_buffer_end_cpu_access(int fd, uint32_t flags) {
        return buffer_sync(fd, flags, DMA_BUF_SYNC_END);
}

/* ---- image layout ---- */

SYSMEM_EXPORT int sysmem_image_layout(const struct sysmem_image_format_settings *settings, uint32_t width,
                                      uint32_t height, struct sysmem_plane_layout *ret_layout) {
        if (!settings || !ret_layout || width == 0 || height == 0)
                return -EINVAL;
        const struct sysmem_image_format_settings *c = settings;
        uint32_t align_w = c->size_alignment.width ? c->size_alignment.width : 1;
        uint32_t align_h = c->size_alignment.height ? c->size_alignment.height : 1;
        uint32_t max_w = c->max_size.width ? c->max_size.width : UINT32_MAX;
        uint32_t max_h = c->max_size.height ? c->max_size.height : UINT32_MAX;
        /* As sysmem's ImageConstraintsToFormat: within [min, max] and a multiple of the alignment. */
        if (width < c->min_size.width || width > max_w || height < c->min_size.height || height > max_h ||
            width % align_w || height % align_h)
                return -EINVAL;
        if (c->max_width_times_height && (uint64_t)width * height > c->max_width_times_height)
                return -EINVAL;
        if (!image_format_lookup(c->pixel_format) ||
            !image_format_is_supported(c->pixel_format, c->pixel_format_modifier))
                return -EOPNOTSUPP;
        uint32_t bpr;
        if (!image_format_minimum_row_bytes(c, width, &bpr))
                return -EINVAL;
        struct sysmem_plane_layout layout;
        if (!image_format_plane_layout(c->pixel_format, c->pixel_format_modifier, (struct sysmem_size){width, height},
                                       bpr, &layout))
                return -EOVERFLOW;
        *ret_layout = layout;
        return 0;
}

/* ---- image formats ---- */

SYSMEM_EXPORT bool sysmem_format_is_supported(uint32_t pixel_format, uint64_t modifier) {
        return image_format_is_supported(pixel_format, modifier);
}

SYSMEM_EXPORT int sysmem_format_get_info(uint32_t pixel_format, uint64_t modifier, struct sysmem_format_info *ret_info) {
        if (!ret_info || pixel_format == 0 || pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE ||
            modifier == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE || modifier == SYSMEM_FORMAT_MODIFIER_INVALID)
                return -EINVAL;
        const struct image_format_info *f = image_format_lookup(pixel_format);
        if (!f)
                return -ENOENT;
        if (!image_format_is_supported(pixel_format, modifier))
                return -EOPNOTSUPP;
        /* The plane count is the layout's: lay out a small image the format's divisors allow. */
        struct sysmem_size size = {64, 64};
        struct sysmem_plane_layout layout;
        if (!image_format_plane_layout(pixel_format, modifier, size, 64 * f->stride_bytes_per_width_pixel, &layout))
                return -EOPNOTSUPP;
        struct sysmem_format_info info = {
                .pixel_format = pixel_format,
                .pixel_format_modifier = modifier,
                .plane_count = layout.plane_count,
                .bits_per_pixel = f->bits_per_pixel,
                .bytes_per_pixel = f->stride_bytes_per_width_pixel,
                .width_divisor = f->width_min_divisor,
                .height_divisor = f->height_min_divisor,
                .sample_alignment = f->sample_alignment,
                .bits_per_sample = f->bits_per_sample,
                .is_rgb = f->is_rgb,
                .is_yuv = f->is_yuv,
                .has_alpha_or_x = f->has_alpha_or_x,
                .is_non_tiled_single_plane = image_format_is_non_tiled_single_plane(pixel_format, modifier),
        };
        snprintf(info.name, sizeof info.name, "%s", f->name);
        *ret_info = info;
        return 0;
}

SYSMEM_EXPORT bool sysmem_formats_equal(const struct sysmem_pixel_format_and_modifier *a,
                                        const struct sysmem_pixel_format_and_modifier *b) {
        return a && b && a->pixel_format == b->pixel_format && a->pixel_format_modifier == b->pixel_format_modifier;
}

SYSMEM_EXPORT int sysmem_image_min_bytes_per_row(const struct sysmem_image_format_settings *settings, uint32_t width,
                                                 uint32_t *ret_bytes_per_row) {
        if (!settings || !ret_bytes_per_row || width == 0)
                return -EINVAL;
        if (!image_format_is_supported(settings->pixel_format, settings->pixel_format_modifier))
                return -EOPNOTSUPP;
        uint32_t bpr;
        if (!image_format_minimum_row_bytes(settings, width, &bpr))
                return -EINVAL;
        *ret_bytes_per_row = bpr;
        return 0;
}

/* ---- fd passing helpers ---- */

SYSMEM_EXPORT int sysmem_send_fd(int sock, int fd, const void *data, size_t size) {
        if (sock < 0 || fd < 0)
                return -EINVAL;
        char dummy = 0;
        struct iovec iov = {.iov_base = size ? (void *)data : &dummy, .iov_len = size ? size : 1};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof u);
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

SYSMEM_EXPORT int sysmem_recv_fd(int sock, int *ret_fd, void *data, size_t size) {
        if (sock < 0 || !ret_fd)
                return -EINVAL;
        char dummy;
        struct iovec iov = {.iov_base = size ? data : &dummy, .iov_len = size ? size : 1};
        union {
                char buf[CMSG_SPACE(sizeof(int) * 4)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        int fd = -1, extra = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int f;
                        memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
                        if (fd < 0)
                                fd = f;
                        else {
                                close(f);
                                extra++;
                        }
                }
        }
        if (n == 0 && fd < 0)
                return -ECONNRESET;
        if (fd < 0 || extra || (mh.msg_flags & MSG_CTRUNC)) {
                if (fd >= 0)
                        close(fd);
                return -EBADMSG;
        }
        *ret_fd = fd;
        return size ? (int)n : 0;
}
