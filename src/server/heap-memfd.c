/* heap-memfd.c: the system-ram heap: one sealed memfd per buffer, zero-filled by the kernel. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server-internal.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u /* Linux 6.3; Debian 12's headers predate it */
#endif

int heap_memfd_allocate(uint64_t size, const char *name, int *ret_fd) {
        if (size == 0 || size > (uint64_t)INT64_MAX)
                return -EINVAL;
        /* Buffers are data, never code: ask for a no-exec memfd, and fall back on kernels before 6.3. */
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
        if (fd < 0 && errno == EINVAL) {
                /* Without the seal a memfd starts 0777: take the execute bits away by hand. */
                fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fd >= 0 && fchmod(fd, 0600) < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        }
        if (fd < 0)
                return -errno;
        /* A participant that shrinks a shared buffer would crash every other with SIGBUS: seal the size. */
        if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/*
 * A read-only open of a buffer, for a participant that must not write. Mode 0400 comes first: open
 * fds keep their access mode, but a new open is checked against the inode's mode, and every holder
 * of an fd can reopen it through /proc/self/fd. With memfd's default 0666 (0777) a participant given
 * a read-only fd would get a writable one that way; with 0400 only the daemon's uid (and root) can.
 * Done here, on first need, so collections whose participants all write pay nothing for it.
 */
int heap_memfd_open_read_only(int fd) {
        if (fchmod(fd, 0400) < 0)
                return -errno;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int ro = open(path, O_RDONLY | O_CLOEXEC);
        return ro < 0 ? -errno : ro;
}
