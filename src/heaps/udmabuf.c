/* udmabuf.c: the udmabuf heap: a sealed memfd turned into a dma-buf by /dev/udmabuf (same pages). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/udmabuf.h>

#include "common/log.h"
#include "common/macros.h"
#include "heap.h"

#define UDMABUF_DEVICE "/dev/udmabuf"
#define UDMABUF_SIZE_LIMIT_PARAM "/sys/module/udmabuf/parameters/size_limit_mb"
#define UDMABUF_DEFAULT_LIMIT_MB 64u /* the module's default when the parameter cannot be read */

static int udmabuf_allocate(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        if (heap->info.max_buffer_bytes && req->size > heap->info.max_buffer_bytes)
                return -EFBIG; /* the core refuses these first; this keeps the kernel's EINVAL from being the answer */
        /*
         * udmabuf needs F_SEAL_SHRINK and refuses F_SEAL_WRITE; GROW and SEAL keep the size fixed for good.
         * The memfd never leaves the daemon: it is closed as soon as the dma-buf holds its pages.
         */
        _cleanup_(closep) int memfd = -1;
        int r = heap_memfd_create(req->size, req->name, F_SEAL_SEAL, &memfd);
        if (r < 0)
                return r;
        struct udmabuf_create create = {
                .memfd = (uint32_t)memfd,
                .flags = UDMABUF_FLAGS_CLOEXEC,
                .offset = 0,
                .size = req->size,
        };
        int fd = ioctl(heap->fd, UDMABUF_CREATE, &create);
        if (fd < 0)
                return -errno;
        heap_dma_buf_set_name(fd, req->name);
        *ret_fd = fd;
        return 0;
}

static const struct heap_ops udmabuf_ops = {
        .version = HEAP_OPS_VERSION,
        .allocate = udmabuf_allocate,
        /* open_read_only: none. The dma-buf is one file, exported read-write by the kernel (docs/heaps.md). */
};

/* The module's size_limit_mb parameter: the largest buffer it turns into a dma-buf. */
static uint64_t udmabuf_size_limit(void) {
        unsigned long mb = UDMABUF_DEFAULT_LIMIT_MB;
        FILE *f = fopen(UDMABUF_SIZE_LIMIT_PARAM, "re");
        if (f) {
                if (fscanf(f, "%lu", &mb) != 1 || mb == 0)
                        mb = UDMABUF_DEFAULT_LIMIT_MB;
                fclose(f);
        }
        return (uint64_t)mb << 20;
}

static void udmabuf_probe(struct heap_probe *probe) {
        if (!probe->wanted(probe, SYSMEM_HEAP_UDMABUF))
                return;
        int fd = open(UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                log_debug("heap udmabuf: %s: %s", UDMABUF_DEVICE, strerror(errno));
                return;
        }
        struct heap *h = heap_new(SYSMEM_HEAP_UDMABUF, 0, "udmabuf", UDMABUF_DEVICE);
        if (!h) {
                close(fd);
                return;
        }
        h->fd = fd;
        h->ops = &udmabuf_ops;
        /* Ordinary cached shmem pages, as system-ram; devices reach them through an IOMMU or bounce buffers. */
        h->info.flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN | SYSMEM_HEAP_FLAG_ZEROED |
                        SYSMEM_HEAP_FLAG_CPU_MAPPABLE | SYSMEM_HEAP_FLAG_DMA_BUF;
        h->info.max_buffer_bytes = udmabuf_size_limit();
        probe->add(probe, h);
}

const struct heap_backend heap_backend_udmabuf = {.name = "udmabuf", .probe = udmabuf_probe};
