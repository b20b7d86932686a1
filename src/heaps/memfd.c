/* memfd.c: the system-ram heap: one sealed memfd per buffer, zero-filled by the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include "common/macros.h"
#include "heap.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u /* Linux 6.3; Debian 12's headers predate it */
#endif

int heap_memfd_create(uint64_t size, const char *name, unsigned int seals, int *ret_fd) {
        if (size == 0 || size > (uint64_t)INT64_MAX)
                return -EINVAL;
        /* Buffers are data, never code: ask for a no-exec memfd, and fall back on kernels before 6.3. */
        _cleanup_(closep) int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
        if (fd < 0 && errno == EINVAL) {
                /* Without the seal a memfd starts 0777: take the execute bits away by hand. */
                fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fd >= 0 && fchmod(fd, 0600) < 0)
                        return -errno;
        }
        if (fd < 0)
                return -errno;
        /* A participant that shrinks a shared buffer would crash every other with SIGBUS: seal the size. */
        if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, seals | F_SEAL_SHRINK | F_SEAL_GROW) < 0)
                return -errno;
        *ret_fd = take_fd(&fd);
        return 0;
}

void heap_dma_buf_set_name(int fd, const char *name) {
        /* The kernel keeps 32 bytes (DMA_BUF_NAME_LEN) and refuses longer names with EINVAL: cut it. */
        char shortname[32];
        snprintf(shortname, sizeof shortname, "%s", name);
        (void)ioctl(fd, DMA_BUF_SET_NAME, shortname);
}

static int memfd_allocate(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        return heap_memfd_create(req->size, req->name, F_SEAL_SEAL, ret_fd);
}

/*
 * A read-only open of a buffer, for a participant that must not write. Mode 0400 comes first: open
 * fds keep their access mode, but a new open is checked against the inode's mode, and every holder
 * of an fd can reopen it through /proc/self/fd. With memfd's default 0666 (0777) a participant given
 * a read-only fd would get a writable one that way; with 0400 only the daemon's uid (and root) can.
 * Done here, on first need, so collections whose participants all write pay nothing for it.
 */
int heap_memfd_open_read_only(struct heap *heap, int fd) {
        if (fchmod(fd, 0400) < 0)
                return -errno;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int ro = open(path, O_RDONLY | O_CLOEXEC);
        return ro < 0 ? -errno : ro;
}

static const struct heap_ops memfd_ops = {
        .version = HEAP_OPS_VERSION,
        .allocate = memfd_allocate,
        .open_read_only = heap_memfd_open_read_only,
};

static void memfd_probe(struct heap_probe *probe) {
        if (!probe->wanted(probe, SYSMEM_HEAP_SYSTEM_RAM))
                return;
        struct heap *h = heap_new(SYSMEM_HEAP_SYSTEM_RAM, 0, "memfd", "");
        if (!h)
                return;
        h->ops = &memfd_ops;
        /* Like Fuchsia's SYSTEM_RAM: every domain, because the CPU and devices that snoop see the same pages. */
        h->info.flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN |
                        SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN | SYSMEM_HEAP_FLAG_ZEROED |
                        SYSMEM_HEAP_FLAG_CPU_MAPPABLE | SYSMEM_HEAP_FLAG_READ_ONLY_FDS;
        probe->add(probe, h);
}

const struct heap_backend heap_backend_memfd = {.name = "memfd", .probe = memfd_probe};
