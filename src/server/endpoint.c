/* endpoint.c: the socket level of every protocol object: socketpairs, replies, epitaphs, and validated receives. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server-internal.h"

/* Outbound messages are built here; big enough for any reply (64 buffers) and any error text. */
#define TX_BUF_SIZE 16384u

int server_new_socketpair(int ret_fds[2]) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* The server end never blocks the loop; the client end stays blocking for simple clients. */
        if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        ret_fds[0] = sv[0];
        ret_fds[1] = sv[1];
        return 0;
}

int server_new_signal_pair(int ret_fds[2]) {
        int r = server_new_socketpair(ret_fds);
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

static int send_body(int fd, uint16_t opcode, uint16_t flags, uint32_t txid, const struct wire_schema *schema,
                     const void *body) {
        uint8_t buf[TX_BUF_SIZE];
        int fds[WIRE_MAX_FDS];
        size_t len;
        uint32_t nfds;
        int r = wire_encode(schema, opcode, flags, txid, body, buf, sizeof buf, &len, fds, WIRE_MAX_FDS, &nfds);
        if (r < 0)
                return r;
        return wire_send(fd, buf, len, fds, nfds);
}

int server_reply(int fd, uint16_t opcode, uint32_t txid, const struct wire_schema *schema, const void *body) {
        int r = send_body(fd, opcode, WIRE_FLAG_REPLY, txid, schema, body);
        if (r < 0)
                log_debug("reply %u to fd %d failed: %s", opcode, fd, strerror(-r));
        return r;
}

int server_reply_error(int fd, uint16_t opcode, uint32_t txid, enum sysmem_error error, const char *message) {
        struct wire_error_body body = {.error = error, .message = (char *)message};
        return send_body(fd, opcode, WIRE_FLAG_REPLY | WIRE_FLAG_ERROR, txid, &wire_error_schema, &body);
}

void server_send_epitaph(int fd, enum sysmem_error error, const char *message) {
        struct wire_error_body body = {.error = error, .message = (char *)message};
        (void)send_body(fd, WIRE_OP_EPITAPH, WIRE_FLAG_EVENT, 0, &wire_error_schema, &body);
}

/* Frees what died during this dispatch pass once it is over (the reaper is server.c's). */
void server_schedule_reap(struct server *server) {
        (void)sd_event_source_set_enabled(server->reaper, SD_EVENT_ONESHOT);
}

int server_receive(struct server *s, int fd, uint8_t object_kind, struct wire_msg **ret_msg, char *err,
                   size_t err_size) {
        int fds[WIRE_MAX_FDS];
        uint32_t nfds = 0;
        ssize_t n = wire_recv(fd, s->rx_buf, s->limits.max_message_bytes + 1, fds, WIRE_MAX_FDS, &nfds);
        if (n == -ECONNRESET)
                /*
                 * The client closed with messages of ours unread (a reply it did not wait for). The kernel
                 * reports that ahead of what the client sent before closing (its Release): read on.
                 */
                n = wire_recv(fd, s->rx_buf, s->limits.max_message_bytes + 1, fds, WIRE_MAX_FDS, &nfds);
        if (n == 0 || n == -ECONNRESET)
                return 0; /* peer closed */
        if (n == -EAGAIN)
                return -EAGAIN;
        if (n == -EMSGSIZE) {
                snprintf(err, err_size, "message larger than the limit of %u bytes", s->limits.max_message_bytes);
                return -EBADMSG;
        }
        if (n < 0) {
                snprintf(err, err_size, "receive failed: %s", strerror((int)-n));
                return -EBADMSG;
        }
        uint16_t opcode, flags;
        uint32_t txid, hdr_nfds;
        if (wire_peek_header(s->rx_buf, (size_t)n, &opcode, &flags, &txid, &hdr_nfds) < 0) {
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
        int r = wire_decode(def->request, s->rx_buf, (size_t)n, fds, nfds, &s->wire_limits, ret_msg, derr, sizeof derr);
        if (r < 0) {
                snprintf(err, err_size, "%s: %s", def->name, derr);
                return -EBADMSG;
        }
        return 1;
}
