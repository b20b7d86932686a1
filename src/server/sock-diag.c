/* sock-diag.c: which socket an fd's Unix socket is connected to, asked of the kernel (NETLINK_SOCK_DIAG). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "server-internal.h"

/*
 * A token's identity is the daemon's own end of its socketpair, which nobody else can hold. A fd a
 * client presents as a token is genuine exactly when the kernel says its peer is that end; no
 * secret can be forged or replayed, and an fd of any other kind is simply not a token.
 */
int sock_diag_peer_inode(struct server *s, int fd, ino_t *ret_ino) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        if (s->diag_fd < 0) {
                s->diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
                if (s->diag_fd < 0)
                        return -errno;
                struct timeval tv = {.tv_sec = 1};
                (void)setsockopt(s->diag_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
        static uint32_t seq;
        struct {
                struct nlmsghdr h;
                struct unix_diag_req r;
        } req = {
                .h = {.nlmsg_len = sizeof req,
                      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                      .nlmsg_flags = NLM_F_REQUEST,
                      .nlmsg_seq = ++seq},
                .r = {.sdiag_family = AF_UNIX,
                      .udiag_ino = (uint32_t)st.st_ino,
                      .udiag_show = UDIAG_SHOW_PEER,
                      .udiag_cookie = {~0u, ~0u}},
        };
        if (send(s->diag_fd, &req, sizeof req, 0) < 0)
                return -errno;
        for (;;) {
                union {
                        char buf[4096];
                        struct nlmsghdr align;
                } u;
                ssize_t n = recv(s->diag_fd, u.buf, sizeof u.buf, 0);
                if (n < 0)
                        return errno == EINTR ? -EINTR : -errno;
                for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != seq)
                                continue; /* a late answer to an earlier, timed-out question */
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error ? e->error : -ENOENT;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
                                return -EPROTO;
                        const struct unix_diag_msg *m = NLMSG_DATA(h);
                        if (m->udiag_ino != (uint32_t)st.st_ino)
                                return -ENOENT;
                        int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *m);
                        for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, len);
                             a = RTA_NEXT(a, len)) {
                                if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
                                        uint32_t peer;
                                        memcpy(&peer, RTA_DATA(a), sizeof peer);
                                        *ret_ino = peer;
                                        return 0;
                                }
                        }
                        return -ENOTCONN;
                }
        }
}

int sock_diag_self_test(struct server *s) {
        /*
         * Without the unix_diag module the kernel answers every question with ENOENT, so every token would
         * silently be "unknown": ask about a pair of our own, whose answer is known, once at start-up.
         */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        struct stat st;
        ino_t peer = 0;
        int r = fstat(sv[1], &st) < 0 ? -errno : sock_diag_peer_inode(s, sv[0], &peer);
        if (r == 0 && peer != st.st_ino)
                r = -EPROTO;
        close(sv[0]);
        close(sv[1]);
        return r;
}
