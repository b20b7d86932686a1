/* transport.c: one message per SOCK_SEQPACKET packet, its fds alongside as SCM_RIGHTS. */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for the most fds one sendmsg can carry, so a legal packet never arrives with MSG_CTRUNC. */
union fd_control {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
};

static ssize_t recv_finish(const struct msghdr *mh, ssize_t n, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                           struct wire_cred *ret_cred);

int wire_send(int sock, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds) {
        return wire_send_flags(sock, buf, len, fds, nfds, 0);
}

int wire_send_flags(int sock, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds, int flags) {
        if (sock < 0 || (!buf && len > 0) || (!fds && nfds > 0) || nfds > WIRE_MAX_FDS)
                return -EINVAL;

        union fd_control control;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds > 0) {
                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
        }

        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO; /* a SOCK_SEQPACKET send is all or nothing; a short one is a wrong socket type */
        return 0;
}

ssize_t wire_recv(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds) {
        return wire_recv_cred(sock, buf, cap, fds, fds_cap, ret_nfds, NULL);
}

ssize_t wire_recv_cred(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                       struct wire_cred *ret_cred) {
        return wire_recv_cred_flags(sock, buf, cap, fds, fds_cap, ret_nfds, ret_cred, 0);
}

ssize_t wire_recv_cred_flags(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                             struct wire_cred *ret_cred, int flags) {
        if (sock < 0 || (!buf && cap > 0) || (!fds && fds_cap > 0) || !ret_nfds)
                return -EINVAL;
        if (ret_cred)
                ret_cred->present = false;

        union fd_control control;
        struct iovec iov = {.iov_base = buf, .iov_len = cap};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };

        /* Blocking or not is the socket's own O_NONBLOCK (a simple client), or the caller's MSG_DONTWAIT. */
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return recv_finish(&mh, n, fds, fds_cap, ret_nfds, ret_cred);
}

/* What follows recvmsg() for one packet of n bytes: its fds, its sender, and whether it is whole. */
static ssize_t recv_finish(const struct msghdr *mh, ssize_t n, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                           struct wire_cred *ret_cred) {
        /* Collect every fd first, whatever else is wrong, so that none of them can leak. */
        int received[WIRE_MAX_FDS];
        uint32_t nreceived = 0;
        bool foreign = false;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
                /* With SO_PASSCRED on the socket the kernel adds the sender's credentials (it vouches for them). */
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        struct ucred uc;
                        memcpy(&uc, CMSG_DATA(c), sizeof uc);
                        /*
                         * pid 0 (and the overflow uid): the message was queued before SO_PASSCRED was set,
                         * so it carries no credentials; the kernel fills in nothing it knows.
                         */
                        if (ret_cred && uc.pid > 0)
                                *ret_cred = (struct wire_cred){.present = true, .pid = uc.pid, .uid = uc.uid,
                                                               .gid = uc.gid};
                        continue;
                }
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                        foreign = true;
                        continue;
                }
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                        if (nreceived < WIRE_MAX_FDS)
                                received[nreceived++] = fd;
                        else
                                close(fd); /* cannot happen with a control buffer of this size */
                }
        }

        int r = 0;
        if (mh->msg_flags & MSG_TRUNC)
                r = -EMSGSIZE; /* the rest of the packet is gone; it cannot be decoded */
        else if ((mh->msg_flags & MSG_CTRUNC) || foreign || nreceived > fds_cap)
                r = -EBADMSG;
        else if (n == 0 && nreceived > 0)
                r = -EBADMSG; /* an empty packet with fds: not end of stream, and never a message */
        if (r < 0) {
                for (uint32_t i = 0; i < nreceived; i++)
                        close(received[i]);
                return r;
        }

        if (nreceived > 0)
                memcpy(fds, received, nreceived * sizeof(int));
        *ret_nfds = nreceived;
        return n;
}

int wire_recv_many(int sock, struct wire_rx *rx, unsigned count, int flags) {
        if (sock < 0 || !rx || count == 0)
                return -EINVAL;
        if (count > WIRE_RX_MAX)
                count = WIRE_RX_MAX;
        /* An array of fd_control is not allowed (struct cmsghdr ends in a flexible array): the same bytes, aligned. */
        _Alignas(struct cmsghdr) char control[WIRE_RX_MAX][sizeof(union fd_control)];
        struct iovec iov[WIRE_RX_MAX];
        struct mmsghdr mm[WIRE_RX_MAX];
        memset(mm, 0, sizeof(mm[0]) * count);
        for (unsigned i = 0; i < count; i++) {
                iov[i] = (struct iovec){.iov_base = rx[i].buf, .iov_len = rx[i].cap};
                mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = control[i],
                                                .msg_controllen = sizeof(control[i])};
        }
        int k;
        do
                k = recvmmsg(sock, mm, count, MSG_CMSG_CLOEXEC | flags, NULL);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        int used = k;
        for (int i = 0; i < k; i++) {
                rx[i].cred.present = false;
                rx[i].len = recv_finish(&mm[i].msg_hdr, (ssize_t)mm[i].msg_len, rx[i].fds, WIRE_MAX_FDS, &rx[i].nfds,
                                        &rx[i].cred);
                if (rx[i].len < 0)
                        rx[i].nfds = 0; /* recv_finish closed them */
                /* End of stream: the kernel repeats it for every slot after; nothing that follows is a packet. */
                if (rx[i].len == 0 && used == k)
                        used = i + 1;
        }
        for (int i = used; i < k; i++)
                for (uint32_t j = 0; j < rx[i].nfds; j++)
                        close(rx[i].fds[j]);
        return used;
}
