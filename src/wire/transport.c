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

        /* Collect every fd first, whatever else is wrong, so that none of them can leak. */
        int received[WIRE_MAX_FDS];
        uint32_t nreceived = 0;
        bool foreign = false;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
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
        if (mh.msg_flags & MSG_TRUNC)
                r = -EMSGSIZE; /* the rest of the packet is gone; it cannot be decoded */
        else if ((mh.msg_flags & MSG_CTRUNC) || foreign || nreceived > fds_cap)
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
