/* heap.h: where buffer memory comes from. One backend per file; the server sees only this interface. */
#ifndef SYSMEM_HEAP_H
#define SYSMEM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sysmem/sysmem-types.h>

/*
 * A heap never sees constraints: the server hands it the size it chose and, when the collection has
 * an image format, the image that size was computed for (a device heap such as drm: needs its shape).
 */
struct heap_request {
        uint64_t size;    /* raw_vmo_size: > 0, a whole number of pages */
        const char *name; /* names the kernel object (memfd name, DMA_BUF_SET_NAME) for debugging */
        bool has_image;
        uint32_t pixel_format;          /* DRM fourcc */
        uint64_t pixel_format_modifier; /* DRM format modifier */
        uint32_t width, height;         /* of the largest image the size was computed for */
        uint32_t bytes_per_row;         /* of its first plane */
        /* The pair is one sysmem's image-format library cannot lay out: ops->layout decided the size. */
        bool device_layout;
};

struct heap;

#define HEAP_OPS_VERSION 1u
struct heap_ops {
        uint32_t version; /* HEAP_OPS_VERSION */
        /*
         * One buffer of req->size bytes or more: zero-filled, CLOEXEC, and of a size no holder of the fd
         * can change (sealed memfd, or a dma-buf, which has no resize). Returns 0 and *ret_fd, or -errno
         * (the server reports SYSMEM_ERROR_NO_MEMORY to clients, naming the heap and the errno).
         */
        int (*allocate)(struct heap *heap, const struct heap_request *req, int *ret_fd);
        /*
         * A new fd of the same buffer through which it cannot be written, or -errno. NULL when the backend
         * cannot make one (a dma-buf is one kernel file whatever fd refers to it): see docs/heaps.md.
         */
        int (*open_read_only)(struct heap *heap, int fd);
        /* Frees what the backend holds (device fds, state); the heap itself is freed by the registry. */
        void (*destroy)(struct heap *heap);
        /*
         * A heap whose device lays out (pixel format, modifier) pairs itself (drm:, through GBM); both NULL
         * otherwise. lays_out: whether the device makes a buffer of this pair. layout: the bytes and first
         * plane's row bytes of a width x height image of it (0 or -errno). allocate is then called with
         * device_layout set and must hand back exactly that layout.
         */
        bool (*lays_out)(struct heap *heap, uint32_t pixel_format, uint64_t modifier);
        int (*layout)(struct heap *heap, uint32_t pixel_format, uint64_t modifier, uint32_t width, uint32_t height,
                      uint64_t *ret_bytes, uint32_t *ret_bytes_per_row);
};

struct heap {
        struct sysmem_heap_info info; /* name, id, flags, limit, backend, device: what clients are shown */
        const struct heap_ops *ops;
        int fd;     /* the backend's device fd, -1 if none; closed by the registry */
        void *data; /* the backend's own state, freed by ops->destroy */
};

/* ---- the registry (heaps.c) ---- */

#define HEAP_MAX SYSMEM_MAX_HEAPS

struct heap_set {
        struct heap *heaps[HEAP_MAX]; /* registration order: the order "any heap" is tried in */
        size_t count;
};

/*
 * Probes every backend and registers the heaps that selection enables. selection: comma-separated
 * fnmatch(3) patterns over heap names; "-PATTERN" removes what matches; NULL or "" means "*". A name
 * without wildcards that no backend finds is logged as a warning. Logs each heap registered at debug
 * level (heaps_log() lists them). Returns 0, or -EINVAL with err filled for a malformed selection.
 */
int heaps_probe(const char *selection, struct heap_set *set, char *err, size_t err_size);
void heaps_free(struct heap_set *set);
struct heap *heaps_find(const struct heap_set *set, const char *name, uint64_t id);
/* One info line per heap: name, device, domains, contiguity, limit. */
void heaps_log(const struct heap_set *set);
/* "cpu,ram contiguous zeroed mappable dma-buf" and the like, into buf. */
void heaps_describe_flags(uint32_t flags, char *buf, size_t size);

/* ---- what backends share ---- */

/* What a backend's probe is given: it asks whether a name is wanted before opening anything for it. */
struct heap_probe {
        bool (*wanted)(const struct heap_probe *probe, const char *name);
        /* Takes heap (malloc'ed; fd and data owned by it) whatever the result; -ENOSPC when the set is full. */
        int (*add)(struct heap_probe *probe, struct heap *heap);
        void *ctx;
};

struct heap_backend {
        const char *name;
        void (*probe)(struct heap_probe *probe);
};

extern const struct heap_backend heap_backend_memfd;
extern const struct heap_backend heap_backend_udmabuf;
extern const struct heap_backend heap_backend_dma_heap;
extern const struct heap_backend heap_backend_drm;
extern const struct heap_backend heap_backend_test_contiguous;

/*
 * Test heaps (test-contiguous.c): names beginning with HEAP_TEST_PREFIX. Never matched by a wildcard: a
 * selection enables one only by its exact name, and such an entry leaves the rest of the selection as
 * it is ("test:contiguous" alone means every heap and the test heap). sysmemd --test-heaps adds them.
 */
#define HEAP_TEST_PREFIX "test:"
#define HEAP_TEST_CONTIGUOUS "test:contiguous"

/* A zeroed heap struct with fd -1 and the given name and backend, or NULL. */
struct heap *heap_new(const char *name, uint64_t id, const char *backend, const char *device);

/*
 * memfd.c: a memfd of size bytes, no-exec where the kernel can, with seals added (F_SEAL_SHRINK and
 * F_SEAL_GROW at least, so that no holder can SIGBUS another). Shared by system-ram and udmabuf.
 */
int heap_memfd_create(uint64_t size, const char *name, unsigned int seals, int *ret_fd);
/* memfd.c: system-ram's open_read_only (mode 0400, then a read-only reopen), for memfd-backed heaps. */
int heap_memfd_open_read_only(struct heap *heap, int fd);
/* Sets the dma-buf's debug name (shown in fdinfo and debugfs); best effort. */
void heap_dma_buf_set_name(int fd, const char *name);

#endif
