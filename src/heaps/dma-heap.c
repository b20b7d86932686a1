/* dma-heap.c: one heap per /dev/dma_heap/NAME ("dma-heap:NAME"), allocated with DMA_HEAP_IOCTL_ALLOC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "common/log.h"
#include "common/macros.h"
#include "heap.h"

#define DMA_HEAP_DIR "/dev/dma_heap"

static int dma_heap_allocate(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        struct dma_heap_allocation_data data = {
                .len = req->size,
                .fd_flags = O_RDWR | O_CLOEXEC,
                .heap_flags = 0, /* no heap flags are defined */
        };
        if (ioctl(heap->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
                return -errno;
        heap_dma_buf_set_name((int)data.fd, req->name);
        *ret_fd = (int)data.fd;
        return 0;
}

static const struct heap_ops dma_heap_ops = {
        .version = HEAP_OPS_VERSION,
        .allocate = dma_heap_allocate,
        /* open_read_only: none; fd_flags fix the access mode of the one file there is (docs/heaps.md). */
};

/*
 * A dma-buf heap cannot be asked what it is: contiguity is known by name only. These are the names the
 * kernel's CMA heap has had (linux,cma from the device tree, reserved with cma= on the command line,
 * default_cma_region since 6.16, and "default-pool" in some trees); any name with "cma" in it counts too.
 */
static bool name_is_contiguous(const char *name) {
        static const char *const names[] = {"linux,cma", "reserved", "default-pool", "default_cma_region"};
        for (size_t i = 0; i < ARRAY_LEN(names); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return fnmatch("*cma*", name, 0) == 0;
}

/* Protected ("secure") heaps are CPU-inaccessible; their names say so, as nothing else can. */
static bool name_is_secure(const char *name) {
        return fnmatch("*secure*", name, 0) == 0 || fnmatch("*protected*", name, 0) == 0;
}

static void add_dma_heap(struct heap_probe *probe, const char *entry) {
        char name[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1], path[SYSMEM_MAX_HEAP_DEVICE_LENGTH + 1];
        if ((size_t)snprintf(name, sizeof name, SYSMEM_HEAP_DMA_HEAP_PREFIX "%s", entry) >= sizeof name ||
            (size_t)snprintf(path, sizeof path, DMA_HEAP_DIR "/%s", entry) >= sizeof path) {
                log_warning("heap %s%s: the name is too long; skipped", SYSMEM_HEAP_DMA_HEAP_PREFIX, entry);
                return;
        }
        if (!probe->wanted(probe, name))
                return;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_warning("heap %s: %s: %s; skipped", name, path, strerror(errno));
                return;
        }
        struct heap *h = heap_new(name, 0, "dma-heap", path);
        if (!h) {
                close(fd);
                return;
        }
        h->fd = fd;
        h->ops = &dma_heap_ops;
        if (name_is_secure(entry))
                h->info.flags = SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN | SYSMEM_HEAP_FLAG_SECURE | SYSMEM_HEAP_FLAG_DMA_BUF;
        else
                h->info.flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN |
                                SYSMEM_HEAP_FLAG_CPU_MAPPABLE | SYSMEM_HEAP_FLAG_DMA_BUF;
        /* Upstream heaps zero every buffer they hand out (a security rule of the dma-buf heap API). */
        h->info.flags |= SYSMEM_HEAP_FLAG_ZEROED;
        if (name_is_contiguous(entry))
                h->info.flags |= SYSMEM_HEAP_FLAG_CONTIGUOUS;
        probe->add(probe, h);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void dma_heap_probe(struct heap_probe *probe) {
        DIR *dir = opendir(DMA_HEAP_DIR);
        if (!dir) {
                log_debug("heap dma-heap: %s: %s", DMA_HEAP_DIR, strerror(errno));
                return;
        }
        /* Sorted, so that registration order (the order "any heap" tries) does not depend on readdir. */
        char *names[HEAP_MAX];
        size_t count = 0;
        struct dirent *d;
        while ((d = readdir(dir)) && count < ARRAY_LEN(names)) {
                if (d->d_name[0] == '.')
                        continue;
                if (!(names[count] = strdup(d->d_name)))
                        break;
                count++;
        }
        closedir(dir);
        qsort(names, count, sizeof names[0], compare_names);
        for (size_t i = 0; i < count; i++) {
                add_dma_heap(probe, names[i]);
                free(names[i]);
        }
}

const struct heap_backend heap_backend_dma_heap = {.name = "dma-heap", .probe = dma_heap_probe};
