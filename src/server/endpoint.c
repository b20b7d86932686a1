/*
 * endpoint.c: the socket level of every protocol object: socketpairs, replies and epitaphs (queued, bounded,
 * flushed on writability), sockets that linger for their last messages, and validated receives.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "server-internal.h"

/* Outbound messages are built here; big enough for any reply (64 buffers) and any error text. */
#define TX_BUF_SIZE ENDPOINT_NODE_REPLY_BYTES

static int new_socketpair(int ret_fds[2], bool passcred) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /*
         * The client end stays blocking for simple clients, and so does the file of the server end: the daemon
         * never blocks on it because every send and receive of its own says MSG_DONTWAIT (no fcntl per socket).
         * A node's socket says who sent each message (SCM_CREDENTIALS) from the first one: set before the
         * client end leaves the daemon, since the kernel attaches credentials when a message is sent.
         */
        if (passcred && setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        ret_fds[0] = sv[0];
        ret_fds[1] = sv[1];
        return 0;
}

int server_new_socketpair(int ret_fds[2]) { return new_socketpair(ret_fds, true); }

int server_new_signal_pair(int ret_fds[2]) {
        int r = new_socketpair(ret_fds, false);
        if (r < 0)
                return r;
        /*
         * Nobody ever reads the daemon's end, so nothing may be queued to it: a client that could send fds
         * into it (its own node sockets, say) would make the daemon hold them, and its objects, forever.
         * After SHUT_RD the kernel refuses every send from the client end (EPIPE).
         */
        if (shutdown(ret_fds[0], SHUT_RD) < 0) {
                r = -errno;
                close(ret_fds[0]);
                close(ret_fds[1]);
                return r;
        }
        return 0;
}

/* ---- the output queue ---- */

static void outmsg_free(struct outmsg *m) {
        for (uint32_t i = 0; i < m->nfds; i++)
                close(m->fds[i]);
        free(m);
}

static void outq_clear(struct outq *q) {
        while (q->head) {
                struct outmsg *m = q->head;
                q->head = m->next;
                outmsg_free(m);
        }
        *q = (struct outq){0};
}

/* A copy of the message with its own fds (the caller closes or keeps its own). */
static int outq_push(struct outq *q, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds) {
        if (len > UINT32_MAX)
                return -EMSGSIZE;
        struct outmsg *m = malloc(sizeof *m + sizeof(int) * nfds + len);
        if (!m)
                return -ENOMEM;
        m->next = NULL;
        m->len = (uint32_t)len;
        m->nfds = 0;
        for (uint32_t i = 0; i < nfds; i++) {
                int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                        int r = -errno;
                        outmsg_free(m);
                        return r;
                }
                m->fds[m->nfds++] = fd;
        }
        memcpy((uint8_t *)(m->fds + nfds), buf, len);
        if (q->tail)
                q->tail->next = m;
        else
                q->head = m;
        q->tail = m;
        q->count++;
        q->fds += nfds;
        q->bytes += len;
        return 0;
}

static bool would_block(int r) { return r == -EAGAIN || r == -ENOBUFS; }

/* Sends what the queue holds, in order: 0 once it is empty, -EAGAIN when the socket is full, else the error. */
static int outq_flush(struct outq *q, int fd) {
        while (q->head) {
                struct outmsg *m = q->head;
                int r = wire_send_flags(fd, (const uint8_t *)(m->fds + m->nfds), m->len, m->fds, m->nfds, MSG_DONTWAIT);
                if (would_block(r))
                        return -EAGAIN;
                if (r < 0)
                        return r;
                q->head = m->next;
                if (!q->head)
                        q->tail = NULL;
                q->count--;
                q->fds -= m->nfds;
                q->bytes -= m->len;
                outmsg_free(m);
        }
        return 0;
}

/* Unread bytes in the client's direction (what the kernel holds for it), or -1. */
static int socket_outq(int fd) {
        int v = 0;
        return ioctl(fd, SIOCOUTQ, &v) < 0 ? -1 : v;
}

/* Whether a request waits to be read on fd. */
static bool socket_has_input(int fd) {
        int v = 0;
        return ioctl(fd, SIOCINQ, &v) == 0 && v > 0;
}

/* ---- lingering sockets: a gone object's last messages (its epitaph), bounded in time ---- */

struct lingerer {
        struct list_link link;
        struct server *server;
        int fd;
        struct outq out;
        sd_event_source *source;
        sd_event_source *timer;
};

static void linger_free(struct lingerer *l) {
        list_remove(&l->link);
        l->server->lingering_count--;
        sd_event_source_disable_unref(l->source);
        sd_event_source_disable_unref(l->timer);
        outq_clear(&l->out);
        close(l->fd);
        free(l);
}

static int linger_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct lingerer *l = userdata;
        (void)src;
        (void)fd;
        /* Done when all is read, or when the client is gone. */
        if ((revents & (EPOLLHUP | EPOLLERR)) || outq_flush(&l->out, l->fd) != -EAGAIN)
                linger_free(l);
        return 0;
}

static int linger_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        struct lingerer *l = userdata;
        (void)src;
        (void)usec;
        log_debug("closing a gone object's socket: its client left %u messages (%zu bytes) unread for %u s",
                  l->out.count, l->out.bytes, ENDPOINT_LINGER_USEC / 1000000u);
        linger_free(l);
        return 0;
}

/* Takes fd and what q holds; closes fd at once when it cannot linger. */
static void linger_start(struct server *s, int fd, struct outq *q) {
        struct lingerer *l = s->lingering_count < SERVER_MAX_LINGERING ? calloc(1, sizeof *l) : NULL;
        uint64_t now = 0;
        if (l && sd_event_now(s->event, CLOCK_MONOTONIC, &now) >= 0 &&
            sd_event_add_io(s->event, &l->source, fd, EPOLLOUT, linger_io, l) >= 0 &&
            sd_event_add_time(s->event, &l->timer, CLOCK_MONOTONIC, now + ENDPOINT_LINGER_USEC, 100000, linger_timeout,
                              l) >= 0) {
                l->server = s;
                l->fd = fd;
                l->out = *q;
                *q = (struct outq){0};
                list_append(&s->lingering, &l->link);
                s->lingering_count++;
                return;
        }
        if (l) {
                sd_event_source_disable_unref(l->source);
                sd_event_source_disable_unref(l->timer);
                free(l);
        }
        log_debug("closing a gone object's socket with %u messages undelivered: too many sockets linger", q->count);
        outq_clear(q);
        close(fd);
}

void server_free_lingering(struct server *s) {
        list_for_each_safe(l, &s->lingering, struct lingerer, link) linger_free(l);
}

/* ---- endpoints ---- */

void endpoint_init(struct endpoint *ep, struct server *server, endpoint_input_fn on_input,
                   void (*on_overflow)(void *owner, const char *reason), void *owner, uint32_t max_reply_bytes) {
        *ep = (struct endpoint){
                .server = server,
                .max_reply_bytes = max_reply_bytes,
                .max_reply_fds = ENDPOINT_MAX_REPLY_FDS,
                .fd = -1,
                .on_input = on_input,
                .on_overflow = on_overflow,
                .owner = owner,
        };
}

bool endpoint_reading(const struct endpoint *ep) { return ep->fd >= 0 && !ep->paused && !ep->overflowed; }

const char *endpoint_overflow_reason(const struct endpoint *ep) {
        if (!ep->overflowed)
                return NULL;
        return ep->overflow_reason ? ep->overflow_reason : "its client read none of its replies";
}

/* EPOLLIN while requests are read, EPOLLOUT while something waits to go out. */
static void endpoint_update_events(struct endpoint *ep) {
        if (ep->fd < 0)
                return;
        int epfd = ep->server->epoll_fd;
        uint32_t events = (endpoint_reading(ep) ? EPOLLIN : 0) | (ep->out.head ? EPOLLOUT : 0);
        /* Nothing to read or write, and the client gone: a hang-up would only wake the loop again and again. */
        bool wanted = events || !ep->hung_up;
        struct epoll_event ev = {.events = events, .data.ptr = ep};
        if (!wanted) {
                if (ep->registered && epoll_ctl(epfd, EPOLL_CTL_DEL, ep->fd, NULL) == 0)
                        ep->registered = false;
        } else if (!ep->registered) {
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, ep->fd, &ev) == 0) {
                        ep->registered = true;
                        ep->events = events;
                }
        } else if (events != ep->events && epoll_ctl(epfd, EPOLL_CTL_MOD, ep->fd, &ev) == 0) {
                ep->events = events;
        }
}

/* Drops ep's events from the batch being handled: it closed (or moved to another socket) meanwhile. */
static void endpoint_forget_events(struct endpoint *ep) {
        struct server *s = ep->server;
        for (int i = s->dispatching ? s->dispatching_next : 0; s->dispatching && i < s->dispatching_count; i++)
                if (s->dispatching[i].data.ptr == ep)
                        s->dispatching[i].data.ptr = NULL;
}

static void endpoint_stop_stall_timer(struct endpoint *ep) {
        if (ep->stall_timer)
                (void)sd_event_source_set_enabled(ep->stall_timer, SD_EVENT_OFF);
}

static int overflow_fired(sd_event_source *src, void *userdata) {
        struct endpoint *ep = userdata;
        (void)src;
        ep->overflow_defer = sd_event_source_disable_unref(ep->overflow_defer);
        char reason[ENDPOINT_MAX_REASON];
        util_strlcpy(reason, endpoint_overflow_reason(ep), sizeof reason);
        if (ep->fd >= 0 && ep->on_overflow)
                ep->on_overflow(ep->owner, reason); /* fails the owner, which closes ep */
        return 0;
}

/*
 * The client does not read: what waits for it is dropped, nothing but the epitaph goes out from now
 * on, and the owner fails (after the current dispatch, or at once where it looks).
 */
_printf_(2, 3) static void endpoint_overflow(struct endpoint *ep, const char *fmt, ...) {
        if (ep->overflowed)
                return;
        /* Kept only from now until the owner fails: no endpoint carries room for a reason it never has. */
        char reason[ENDPOINT_MAX_REASON];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        free(ep->overflow_reason);
        ep->overflow_reason = strdup(reason);
        ep->overflowed = true;
        ep->paused = false;
        outq_clear(&ep->out);
        endpoint_stop_stall_timer(ep);
        endpoint_update_events(ep);
        if (!ep->overflow_defer)
                (void)sd_event_add_defer(ep->server->event, &ep->overflow_defer, overflow_fired, ep);
}

static bool queue_half_full(const struct endpoint *ep) {
        const struct sysmem_server_limits *l = &ep->server->limits;
        return (uint64_t)ep->out.count * 2 >= l->max_queued_replies ||
               (uint64_t)ep->out.bytes * 2 >= l->max_queued_bytes || ep->out.fds * 2 >= ENDPOINT_MAX_QUEUED_FDS;
}

/* How many more of `each` fit in what is left of `limit` before half of it is used. */
static uint64_t left_before_half(uint64_t used, uint64_t limit, uint64_t each) {
        uint64_t half = limit / 2;
        return used < half ? (half - used) / (each ? each : 1) : 0;
}

uint32_t endpoint_read_budget(const struct endpoint *ep) {
        /*
         * Requests received at once are all handled, so no more are taken than could each be answered by the
         * largest reply this endpoint sends (in replies, bytes and fds) before the queue is half full, where
         * reading one at a time would have paused: batching never turns backpressure into an overflow,
         * whatever --max-queued-replies and --max-queued-bytes say. At least one is taken, as before.
         */
        const struct sysmem_server_limits *l = &ep->server->limits;
        uint64_t k = MIN(left_before_half(ep->out.count, l->max_queued_replies, 1),
                         left_before_half(ep->out.bytes, l->max_queued_bytes, ep->max_reply_bytes));
        k = MIN(k, left_before_half(ep->out.fds, ENDPOINT_MAX_QUEUED_FDS, ep->max_reply_fds));
        return k < 1 ? 1 : k > SERVER_RX_BATCH ? SERVER_RX_BATCH : (uint32_t)k;
}

static int stall_timer_fired(sd_event_source *src, uint64_t usec, void *userdata) {
        struct endpoint *ep = userdata;
        if (!ep->paused || ep->fd < 0)
                return 0;
        int outq = socket_outq(ep->fd);
        /*
         * The client read something since the last look, or sends nothing more: it is slow, or idle, and
         * costs no more than it does now. Only one that keeps sending while it reads nothing fails.
         */
        if ((outq >= 0 && outq < ep->stall_outq) || !socket_has_input(ep->fd)) {
                ep->stall_outq = outq;
                (void)sd_event_source_set_time(src, usec + ENDPOINT_STALL_USEC);
                (void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
                return 0;
        }
        const struct sysmem_server_limits *l = &ep->server->limits;
        endpoint_overflow(ep,
                          "the client does not read its replies: it read none for %u s while its requests kept "
                          "coming; %u replies (%zu bytes) are queued beyond what its socket holds (the limit is "
                          "%u replies or %u bytes, and requests wait while half of it is used)",
                          ENDPOINT_STALL_USEC / 1000000u, ep->out.count, ep->out.bytes, l->max_queued_replies,
                          l->max_queued_bytes);
        return 0;
}

/* Backpressure: requests are left unread while the queue is half full; a client that reads nothing is timed. */
static void endpoint_pause(struct endpoint *ep) {
        if (ep->paused || ep->overflowed)
                return;
        ep->paused = true;
        ep->stall_outq = socket_outq(ep->fd);

        uint64_t now = 0;
        if (sd_event_now(ep->server->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        if (ep->stall_timer) {
                (void)sd_event_source_set_time(ep->stall_timer, now + ENDPOINT_STALL_USEC);
                (void)sd_event_source_set_enabled(ep->stall_timer, SD_EVENT_ONESHOT);
        } else {
                (void)sd_event_add_time(ep->server->event, &ep->stall_timer, CLOCK_MONOTONIC, now + ENDPOINT_STALL_USEC,
                                        100000, stall_timer_fired, ep);
        }
}

/* Flushes what can go; reading resumes once the queue is below half. */
static void endpoint_flush(struct endpoint *ep) {
        int r = outq_flush(&ep->out, ep->fd);
        if (r < 0 && r != -EAGAIN) {
                if (r == -EPIPE || r == -ECONNRESET) {
                        /* The client is gone; its last requests are still read (a Release, say). */
                        ep->hung_up = true;
                        outq_clear(&ep->out);
                } else {
                        endpoint_overflow(ep, "a reply could not be sent: %s", strerror(-r));
                }
        }
        if (ep->paused && !queue_half_full(ep)) {
                ep->paused = false;
                endpoint_stop_stall_timer(ep);
        }
        endpoint_update_events(ep);
}

static int endpoint_io(struct endpoint *ep, uint32_t revents) {
        int fd = ep->fd;
        if (revents & (EPOLLHUP | EPOLLERR)) {
                /* Nothing can reach the client any more; what it sent before it left is still read. */
                ep->hung_up = true;
                outq_clear(&ep->out);
                ep->paused = false;
                endpoint_stop_stall_timer(ep);
                endpoint_update_events(ep);
        } else if (revents & EPOLLOUT) {
                endpoint_flush(ep);
        }
        /* "Drained" speaks of one loop over one socket: a new dispatch asks the kernel again. */
        ep->server->rx.drained = false;
        if (ep->fd == fd && endpoint_reading(ep) && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return ep->on_input(fd, revents, ep->owner); /* may close ep */
        return 0;
}

int endpoints_dispatch(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct server *s = userdata;
        (void)src;
        (void)revents;
        struct epoll_event ev[SERVER_EVENT_BATCH];
        int n = epoll_wait(fd, ev, SERVER_EVENT_BATCH, 0);
        s->dispatching = ev;
        s->dispatching_count = n > 0 ? n : 0;
        for (s->dispatching_next = 0; s->dispatching_next < s->dispatching_count;) {
                struct epoll_event *e = &ev[s->dispatching_next++];
                /* Endpoints stay allocated until the reaper runs, after this source: a pointer here is valid. */
                if (e->data.ptr)
                        (void)endpoint_io(e->data.ptr, e->events);
        }
        s->dispatching = NULL;
        return 0;
}

int endpoint_attach(struct endpoint *ep, int fd) {
        /* Node sockets come from server_new_socketpair() with SO_PASSCRED set; connections use SO_PEERCRED. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ep};
        if (epoll_ctl(ep->server->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        endpoint_forget_events(ep); /* a batch may still name this endpoint for the socket it had before */
        ep->fd = fd;
        ep->events = EPOLLIN;
        ep->registered = true;
        ep->paused = ep->overflowed = ep->hung_up = false;
        return 0;
}

void endpoint_close(struct endpoint *ep) {
        if (ep->fd >= 0)
                server_rx_discard(ep->server, ep->fd);
        endpoint_forget_events(ep);
        ep->stall_timer = sd_event_source_disable_unref(ep->stall_timer);
        ep->overflow_defer = sd_event_source_disable_unref(ep->overflow_defer);
        if (ep->fd >= 0) {
                /*
                 * Out of the endpoints' epoll before the fd goes: closing it would do that only if it were the last
                 * reference to the file, and an embedding process may hold another (a dup of a connection it
                 * handed over, or a child forked from another thread): its events would name a freed endpoint.
                 */
                if (ep->registered)
                        (void)epoll_ctl(ep->server->epoll_fd, EPOLL_CTL_DEL, ep->fd, NULL);
                int r = ep->hung_up ? 0 : outq_flush(&ep->out, ep->fd);
                if (r == -EAGAIN)
                        linger_start(ep->server, ep->fd, &ep->out);
                else
                        close(ep->fd);
        }
        ep->registered = false;
        outq_clear(&ep->out);
        ep->fd = -1;
        ep->paused = ep->overflowed = ep->hung_up = false;
        free(ep->overflow_reason);
        ep->overflow_reason = NULL;
}

/*
 * Sends at once when nothing waits, else queues behind what does (order is kept). force: the epitaph,
 * which goes past the limits and after an overflow.
 */
static int endpoint_send_message(struct endpoint *ep, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds,
                                 bool force) {
        if (ep->fd < 0)
                return -EBADF;
        if (ep->hung_up)
                return -EPIPE;
        if (ep->overflowed && !force)
                return -ENOBUFS;
        if (!ep->out.head) {
                int r = wire_send_flags(ep->fd, buf, len, fds, nfds, MSG_DONTWAIT);
                if (!would_block(r)) {
                        if (r == -EPIPE || r == -ECONNRESET)
                                ep->hung_up = true;
                        else if (r < 0 && !force)
                                endpoint_overflow(ep, "a reply could not be sent: %s", strerror(-r));
                        return r;
                }
        }
        const struct sysmem_server_limits *l = &ep->server->limits;
        /* One message always fits an empty queue, however large: only a client that does not read fails. */
        if (!force && ep->out.count > 0 &&
            (ep->out.count + 1 > l->max_queued_replies || ep->out.bytes + len > l->max_queued_bytes ||
             ep->out.fds + nfds > ENDPOINT_MAX_QUEUED_FDS)) {
                endpoint_overflow(ep,
                                  "the client does not read its replies: %u replies (%zu bytes, %u fds) are queued "
                                  "beyond what its socket holds; the limit is %u replies, %u bytes or %u fds",
                                  ep->out.count, ep->out.bytes, ep->out.fds, l->max_queued_replies, l->max_queued_bytes,
                                  ENDPOINT_MAX_QUEUED_FDS);
                return -ENOBUFS;
        }
        int r = outq_push(&ep->out, buf, len, fds, nfds);
        if (r < 0) {
                if (!force)
                        endpoint_overflow(ep, "a reply could not be queued: %s", strerror(-r));
                return force ? r : -ENOBUFS;
        }
        if (!force && queue_half_full(ep))
                endpoint_pause(ep);
        endpoint_update_events(ep);
        return 0;
}

int endpoint_send(struct endpoint *ep, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds) {
        return endpoint_send_message(ep, buf, len, fds, nfds, false);
}

static int send_body(struct endpoint *ep, int fd, uint16_t opcode, uint16_t flags, uint32_t txid,
                     const struct wire_schema *schema, const void *body) {
        uint8_t buf[TX_BUF_SIZE];
        int fds[WIRE_MAX_FDS];
        size_t len;
        uint32_t nfds;
        int r = wire_encode(schema, opcode, flags, txid, body, buf, sizeof buf, &len, fds, WIRE_MAX_FDS, &nfds);
        if (r < 0)
                return r;
        if (!ep)
                return wire_send_flags(fd, buf, len, fds, nfds, MSG_DONTWAIT);
        return endpoint_send_message(ep, buf, len, fds, nfds, opcode == WIRE_OP_EPITAPH);
}

int server_reply(struct endpoint *ep, uint16_t opcode, uint32_t txid, const struct wire_schema *schema,
                 const void *body) {
        int r = send_body(ep, -1, opcode, WIRE_FLAG_REPLY, txid, schema, body);
        if (r < 0)
                log_debug("reply %u to fd %d failed: %s", opcode, ep->fd, strerror(-r));
        return r;
}

int server_reply_error(struct endpoint *ep, uint16_t opcode, uint32_t txid, enum sysmem_error error,
                       const char *message) {
        struct wire_error_body body = {.error = error, .message = (char *)message};
        return send_body(ep, -1, opcode, WIRE_FLAG_REPLY | WIRE_FLAG_ERROR, txid, &wire_error_schema, &body);
}

void server_send_epitaph(struct endpoint *ep, enum sysmem_error error, const char *message) {
        struct wire_error_body body = {.error = error, .message = (char *)message};
        (void)send_body(ep, -1, WIRE_OP_EPITAPH, WIRE_FLAG_EVENT, 0, &wire_error_schema, &body);
}

void server_send_epitaph_fd(int fd, enum sysmem_error error, const char *message) {
        struct wire_error_body body = {.error = error, .message = (char *)message};
        (void)send_body(NULL, fd, WIRE_OP_EPITAPH, WIRE_FLAG_EVENT, 0, &wire_error_schema, &body);
}

/* Frees what died during this dispatch pass once it is over (the reaper is server.c's). */
void server_schedule_reap(struct server *server) {
        (void)sd_event_source_set_enabled(server->reaper, SD_EVENT_ONESHOT);
}

int server_receive(struct server *s, int fd, uint32_t want, uint8_t object_kind, struct wire_msg **ret_msg,
                   char *err, size_t err_size) {
        return server_receive_from(s, fd, want, object_kind, ret_msg, NULL, err, err_size);
}

/* One received packet: its length (or the error of receiving it), then its fds and bytes. */
static int receive_failed(struct server *s, ssize_t n, char *err, size_t err_size) {
        if (n == 0 || n == -ECONNRESET)
                return 0; /* peer closed */
        if (n == -EAGAIN)
                return -EAGAIN;
        if (n == -EMSGSIZE)
                snprintf(err, err_size, "message larger than the limit of %u bytes", s->limits.max_message_bytes);
        else
                snprintf(err, err_size, "receive failed: %s", strerror((int)-n));
        return -EBADMSG;
}

static int validate_packet(struct server *s, const uint8_t *buf, ssize_t n, int *fds, uint32_t nfds,
                           uint8_t object_kind, struct wire_msg **ret_msg, char *err, size_t err_size);

bool server_rx_pending(const struct server *s, int fd) { return s->rx.fd == fd && s->rx.next < s->rx.count; }

void server_rx_discard(struct server *s, int fd) {
        if (s->rx.fd != fd)
                return;
        for (uint32_t i = s->rx.next; i < s->rx.count; i++)
                for (uint32_t j = 0; j < s->rx.slot[i].nfds; j++)
                        close(s->rx.slot[i].fds[j]);
        s->rx.next = s->rx.count = 0;
        s->rx.fd = -1;
        s->rx.drained = false;
}

/*
 * Up to SERVER_RX_BATCH packets come in one recvmmsg(); the caller's loop handles them all before it
 * returns (server_rx_pending), so no packet is ever left behind for a socket nobody is reading.
 */
int server_receive_from(struct server *s, int fd, uint32_t want, uint8_t object_kind, struct wire_msg **ret_msg,
                        struct wire_cred *ret_cred, char *err, size_t err_size) {
        struct rx_batch *b = &s->rx;
        if (!server_rx_pending(s, fd) && b->fd == fd && b->drained) {
                /*
                 * The last batch emptied the queue: no syscall to be told so again. What came since is reported by
                 * the (level-triggered) epoll, and read on the next dispatch.
                 */
                b->drained = false;
                b->fd = -1;
                return -EAGAIN;
        }
        if (!server_rx_pending(s, fd)) {
#ifdef SYSMEM_CHECK_INVARIANTS
                if (b->next < b->count) {
                        log_error("packets of fd %d left unhandled while fd %d is read", b->fd, fd);
                        abort();
                }
#endif
                server_rx_discard(s, b->fd); /* none: every loop empties its batch */
                want = want < 1 ? 1 : want > SERVER_RX_BATCH ? SERVER_RX_BATCH : want;
                int k = wire_recv_many(fd, b->slot, want, MSG_DONTWAIT);
                if (k == -ECONNRESET)
                        /*
                         * The client closed with messages of ours unread (a reply it did not wait for). The
                         * kernel reports that ahead of what the client sent before closing (its Release): read on.
                         */
                        k = wire_recv_many(fd, b->slot, want, MSG_DONTWAIT);
                if (k < 0)
                        return receive_failed(s, k, err, err_size);
                b->fd = fd;
                b->next = 0;
                b->count = (uint32_t)k;
                /* Fewer than asked for: the kernel found the queue empty after them (recvmmsg stops at EAGAIN). */
                b->drained = (uint32_t)k < want && b->slot[k - 1].len != 0;
        }
        struct wire_rx *x = &b->slot[b->next++];
        if (ret_cred)
                *ret_cred = x->cred;
        if (x->len <= 0)
                return receive_failed(s, x->len, err, err_size);
        return validate_packet(s, x->buf, x->len, x->fds, x->nfds, object_kind, ret_msg, err, err_size);
}

/* One packet with one recvmsg(), leaving the batch alone (the token drain runs inside another socket's loop). */
int server_receive_one_from(struct server *s, int fd, uint8_t object_kind, struct wire_msg **ret_msg,
                            struct wire_cred *ret_cred, char *err, size_t err_size) {
        int fds[WIRE_MAX_FDS];
        uint32_t nfds = 0;
        ssize_t n = wire_recv_cred_flags(fd, s->rx_buf, s->limits.max_message_bytes + 1, fds, WIRE_MAX_FDS, &nfds,
                                         ret_cred, MSG_DONTWAIT);
        if (n == -ECONNRESET) /* as above */
                n = wire_recv_cred_flags(fd, s->rx_buf, s->limits.max_message_bytes + 1, fds, WIRE_MAX_FDS, &nfds,
                                         ret_cred, MSG_DONTWAIT);
        if (n <= 0)
                return receive_failed(s, n, err, err_size);
        return validate_packet(s, s->rx_buf, n, fds, nfds, object_kind, ret_msg, err, err_size);
}

/* Header, object, opcode, direction and fds, then the body (as libwayland checks): 1 with *ret_msg, or -EBADMSG. */
static int validate_packet(struct server *s, const uint8_t *buf, ssize_t n, int *fds, uint32_t nfds,
                           uint8_t object_kind, struct wire_msg **ret_msg, char *err, size_t err_size) {
        uint16_t opcode, flags;
        uint32_t txid, hdr_nfds;
        if (wire_peek_header(buf, (size_t)n, &opcode, &flags, &txid, &hdr_nfds) < 0) {
                for (uint32_t i = 0; i < nfds; i++)
                        close(fds[i]);
                snprintf(err, err_size, "malformed message header");
                return -EBADMSG;
        }
        /* Object, opcode and direction are checked before the body is decoded (as libwayland does). */
        const struct wire_message_def *def = wire_message_lookup(opcode);
        const char *why = NULL;
        if (!def || def->opcode >= WIRE_OP_EPITAPH)
                why = "unknown opcode"; /* events go from the server only */
        else if (!(def->objects & object_kind))
                why = "message not accepted by this kind of object";
        else if (flags != 0)
                why = "clients send requests only";
        else if (def->two_way != (txid != 0))
                why = def->two_way ? "two-way request without a txid" : "one-way request with a txid";
        else if (nfds > s->limits.max_fds_per_message)
                why = "too many fds in one message";
        if (why) {
                for (uint32_t i = 0; i < nfds; i++)
                        close(fds[i]);
                snprintf(err, err_size, "opcode %u (%s): %s", opcode, def ? def->name : "?", why);
                return -EBADMSG;
        }
        char derr[256] = "";
        int r = wire_decode(def->request, buf, (size_t)n, fds, nfds, &s->wire_limits, ret_msg, derr, sizeof derr);
        if (r < 0) {
                snprintf(err, err_size, "%s: %s", def->name, derr);
                return -EBADMSG;
        }
        return 1;
}
