/*
 * drm.c: one heap per DRM device ("drm:DRIVER"): dumb buffers of that device, exported as dma-bufs (PRIME);
 * and, through GBM where Mesa has a driver for the device, the (format, modifier) pairs only the device
 * knows how to lay out (tiled and compressed modifiers sysmem's image-format library does not know).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <gbm.h>
#include <xf86drm.h>

#include "common/log.h"
#include "common/macros.h"
#include "heap.h"

#define DRI_DIR "/dev/dri"
#define DUMB_BPP 32u          /* every driver with dumb buffers takes 32 bpp (virtio-gpu takes nothing else) */
#define DUMB_DEFAULT_PITCH 4096u /* shape of a buffer without an image: rows of one page */

static void dumb_destroy(int fd, uint32_t handle) {
        struct drm_mode_destroy_dumb d = {.handle = handle};
        (void)drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
}

/*
 * The dumb buffer's shape: a device lays a dumb buffer out as width x height at 32 bpp, and a device
 * that scans it out (virtio-gpu makes its host resource this size) reads rows of width * 4 bytes. So
 * a buffer sized for an image of 4-byte-multiple rows gets that row pitch; anything else gets rows of
 * one page. Returns the pitch asked for.
 */
static uint32_t dumb_shape(const struct heap_request *req, struct drm_mode_create_dumb *c) {
        uint64_t pitch = DUMB_DEFAULT_PITCH;
        if (req->has_image && req->bytes_per_row > 0 && req->bytes_per_row % (DUMB_BPP / 8) == 0)
                pitch = req->bytes_per_row;
        c->bpp = DUMB_BPP;
        c->width = (uint32_t)(pitch / (DUMB_BPP / 8));
        c->height = (uint32_t)((req->size + pitch - 1) / pitch);
        return (uint32_t)pitch;
}

static int drm_allocate(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        struct drm_mode_create_dumb c = {0};
        if (req->size / DUMB_DEFAULT_PITCH >= UINT32_MAX)
                return -EFBIG;
        uint32_t pitch = dumb_shape(req, &c);
        if (drmIoctl(heap->fd, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
                return -errno;
        /* A device that pads rows or rounds down would break the layout every participant computes. */
        if (c.size < req->size || c.pitch != pitch) {
                log_warning("heap %s: a dumb buffer of %ux%u at %u bpp came back %llu bytes with pitch %u; "
                            "wanted %llu bytes with pitch %u",
                            heap->info.heap.heap_type, c.width, c.height, c.bpp, (unsigned long long)c.size, c.pitch,
                            (unsigned long long)req->size, pitch);
                dumb_destroy(heap->fd, c.handle);
                return -ENOMEM;
        }
        int fd = -1;
        int r = drmPrimeHandleToFD(heap->fd, c.handle, DRM_CLOEXEC | DRM_RDWR, &fd);
        /* The dma-buf holds the object; the daemon's handle is not needed any more. */
        dumb_destroy(heap->fd, c.handle);
        if (r < 0)
                return r == -1 ? -errno : r;
        heap_dma_buf_set_name(fd, req->name);
        *ret_fd = fd;
        return 0;
}

/* ---- pairs the device lays out, through GBM ---- */

#define GBM_ANSWERS 64u     /* (format, modifier) answers remembered; the oldest is forgotten */
#define GBM_PROBE_SIZE 64u /* the image made to learn whether the device lays a pair out */

struct drm_gbm {
        /*
         * Made when a negotiation first asks about a pair only a device lays out, so that a daemon that never
         * needs GBM never loads Mesa. NULL after that: Mesa has no driver for the device.
         */
        struct gbm_device *gbm;
        bool tried;
        struct {
                uint32_t format;
                uint64_t modifier;
                bool lays_out;
        } answers[GBM_ANSWERS];
        size_t answer_count, next_answer;
};

/* A buffer object of exactly this pair, or NULL; GBM may answer a request for one modifier with another. */
static struct gbm_bo *gbm_make(struct drm_gbm *g, uint32_t format, uint64_t modifier, uint32_t w, uint32_t h) {
        struct gbm_bo *bo = gbm_bo_create_with_modifiers2(g->gbm, w, h, format, &modifier, 1, 0);
        if (!bo && modifier == DRM_FORMAT_MOD_LINEAR) {
                /* Drivers without explicit modifiers (Mesa's kms_swrast) still make linear buffers. */
                bo = gbm_bo_create(g->gbm, w, h, format, GBM_BO_USE_LINEAR);
                if (bo && gbm_bo_get_modifier(bo) == DRM_FORMAT_MOD_INVALID)
                        return bo;
        }
        if (bo && gbm_bo_get_modifier(bo) != modifier) {
                gbm_bo_destroy(bo);
                return NULL;
        }
        return bo;
}

static struct drm_gbm *drm_gbm_of(struct heap *heap) {
        struct drm_gbm *g = heap->data;
        if (g && !g->tried) {
                g->tried = true;
                g->gbm = gbm_create_device(heap->fd);
                log_debug("heap %s: GBM %s", heap->info.heap.heap_type,
                          g->gbm ? gbm_device_get_backend_name(g->gbm) : "has no driver for this device");
        }
        return g && g->gbm ? g : NULL;
}

static bool drm_lays_out(struct heap *heap, uint32_t format, uint64_t modifier) {
        struct drm_gbm *g = drm_gbm_of(heap);
        if (!g)
                return false;
        for (size_t i = 0; i < g->answer_count; i++)
                if (g->answers[i].format == format && g->answers[i].modifier == modifier)
                        return g->answers[i].lays_out;
        struct gbm_bo *bo = gbm_make(g, format, modifier, GBM_PROBE_SIZE, GBM_PROBE_SIZE);
        bool yes = bo != NULL;
        if (bo)
                gbm_bo_destroy(bo);
        size_t slot = g->answer_count < GBM_ANSWERS ? g->answer_count++ : g->next_answer++ % GBM_ANSWERS;
        g->answers[slot].format = format;
        g->answers[slot].modifier = modifier;
        g->answers[slot].lays_out = yes;
        log_debug("heap %s: GBM %s (0x%08x, 0x%016llx)", heap->info.heap.heap_type, yes ? "lays out" : "refuses",
                  format, (unsigned long long)modifier);
        return yes;
}

/* The buffer object's dma-buf and its size (the dma-buf's, which is what holders see). */
static int gbm_export(struct gbm_bo *bo, int *ret_fd, uint64_t *ret_size) {
        int fd = gbm_bo_get_fd(bo);
        if (fd < 0)
                return -EIO;
        off_t end = lseek(fd, 0, SEEK_END);
        if (end <= 0) {
                close(fd);
                return -EIO;
        }
        (void)lseek(fd, 0, SEEK_SET);
        *ret_fd = fd;
        *ret_size = (uint64_t)end;
        return 0;
}

static int drm_layout(struct heap *heap, uint32_t format, uint64_t modifier, uint32_t width, uint32_t height,
                      uint64_t *ret_bytes, uint32_t *ret_bytes_per_row) {
        struct drm_gbm *g = drm_gbm_of(heap);
        if (!g)
                return -EOPNOTSUPP;
        struct gbm_bo *bo = gbm_make(g, format, modifier, width, height);
        if (!bo)
                return errno ? -errno : -EINVAL;
        int fd = -1;
        uint64_t size = 0;
        uint32_t stride = gbm_bo_get_stride_for_plane(bo, 0);
        int r = gbm_export(bo, &fd, &size);
        gbm_bo_destroy(bo);
        if (r < 0)
                return r;
        close(fd);
        *ret_bytes = size;
        *ret_bytes_per_row = stride;
        return 0;
}

static int drm_allocate_gbm(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        struct drm_gbm *g = drm_gbm_of(heap);
        if (!g)
                return -EOPNOTSUPP;
        struct gbm_bo *bo = gbm_make(g, req->pixel_format, req->pixel_format_modifier, req->width, req->height);
        if (!bo)
                return errno ? -errno : -ENOMEM;
        uint32_t stride = gbm_bo_get_stride_for_plane(bo, 0);
        int fd = -1;
        uint64_t size = 0;
        int r = gbm_export(bo, &fd, &size);
        gbm_bo_destroy(bo); /* the dma-buf holds the object */
        if (r < 0)
                return r;
        /* The layout every participant was told of: a device that answers otherwise now has changed its mind. */
        if (stride != req->bytes_per_row || size < req->size) {
                log_warning("heap %s: GBM made a (0x%08x, 0x%016llx) buffer of %llu bytes with stride %u; "
                            "the layout said %llu bytes with stride %u",
                            heap->info.heap.heap_type, req->pixel_format,
                            (unsigned long long)req->pixel_format_modifier, (unsigned long long)size, stride,
                            (unsigned long long)req->size, req->bytes_per_row);
                close(fd);
                return -ENOMEM;
        }
        heap_dma_buf_set_name(fd, req->name);
        *ret_fd = fd;
        return 0;
}

static int drm_allocate_any(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        return req->device_layout ? drm_allocate_gbm(heap, req, ret_fd) : drm_allocate(heap, req, ret_fd);
}

static void drm_destroy(struct heap *heap) {
        struct drm_gbm *g = heap->data;
        if (g && g->gbm)
                gbm_device_destroy(g->gbm);
        free(g);
        heap->data = NULL;
}

static const struct heap_ops drm_ops = {
        .version = HEAP_OPS_VERSION,
        .allocate = drm_allocate_any,
        /* open_read_only: none; PRIME hands out one dma-buf per object, whatever the flags (docs/heaps.md). */
        .destroy = drm_destroy,
        .lays_out = drm_lays_out,
        .layout = drm_layout,
};

/*
 * Whether the device makes dumb buffers and exports them. DRM_CAP_DUMB_BUFFER is answered by KMS drivers
 * only (vgem has dumb buffers but no KMS), so a one-page dumb buffer is made and dropped to find out.
 */
static bool drm_can_export_dumb(int fd) {
        uint64_t prime = 0;
        if (drmGetCap(fd, DRM_CAP_PRIME, &prime) != 0 || !(prime & DRM_PRIME_CAP_EXPORT))
                return false;
        struct drm_mode_create_dumb c = {.width = DUMB_DEFAULT_PITCH / (DUMB_BPP / 8), .height = 1, .bpp = DUMB_BPP};
        if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
                return false;
        dumb_destroy(fd, c.handle);
        return true;
}

/* Heaps of this driver already registered: a second device of one driver gets the next id. */
static uint64_t next_instance(const char *name, uint64_t *ids, char (*names)[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1],
                              size_t *count) {
        for (size_t i = 0; i < *count; i++)
                if (strcmp(names[i], name) == 0)
                        return ids[i]++;
        if (*count == HEAP_MAX)
                return 0;
        snprintf(names[*count], sizeof names[0], "%s", name);
        ids[*count] = 1;
        (*count)++;
        return 0;
}

static void add_drm_device(struct heap_probe *probe, const char *path, uint64_t *ids,
                           char (*names)[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1], size_t *known) {
        _cleanup_(closep) int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                log_debug("heap drm: %s: %s", path, strerror(errno));
                return;
        }
        /*
         * The first opener of a primary node becomes DRM master, and a display participant needs to be
         * master to set a mode: dumb buffers and PRIME need no master, so give it up at once.
         */
        if (drmIsMaster(fd))
                (void)drmDropMaster(fd);
        drmVersionPtr v = drmGetVersion(fd);
        if (!v)
                return;
        char name[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        bool fits = (size_t)snprintf(name, sizeof name, SYSMEM_HEAP_DRM_PREFIX "%s", v->name) < sizeof name;
        drmFreeVersion(v);
        if (!fits || !probe->wanted(probe, name))
                return;
        if (!drm_can_export_dumb(fd)) {
                log_debug("heap %s: %s has no dumb buffers or cannot export them", name, path);
                return;
        }
        struct heap *h = heap_new(name, next_instance(name, ids, names, known), "drm", path);
        if (!h)
                return;
        h->fd = take_fd(&fd);
        h->ops = &drm_ops;
        /* GBM on the heap's own fd, made on first use; a device Mesa has no driver for still gives dumb buffers. */
        h->data = calloc(1, sizeof(struct drm_gbm));
        /* Dumb buffers are CPU-mappable scanout memory; the kernel clears GEM objects before handing them out. */
        h->info.flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN | SYSMEM_HEAP_FLAG_ZEROED |
                        SYSMEM_HEAP_FLAG_CPU_MAPPABLE | SYSMEM_HEAP_FLAG_DMA_BUF;
        probe->add(probe, h);
}

static int card_number(const char *entry) {
        char *end;
        if (strncmp(entry, "card", 4) != 0 || !entry[4])
                return -1;
        long n = strtol(entry + 4, &end, 10);
        return *end || n < 0 || n > 255 ? -1 : (int)n;
}

static void drm_probe(struct heap_probe *probe) {
        /* Primary nodes (cardN), in number order: render nodes have no dumb buffers. */
        bool present[256] = {0};
        DIR *dir = opendir(DRI_DIR);
        if (!dir) {
                log_debug("heap drm: %s: %s", DRI_DIR, strerror(errno));
                return;
        }
        struct dirent *d;
        while ((d = readdir(dir))) {
                int n = card_number(d->d_name);
                if (n >= 0)
                        present[n] = true;
        }
        closedir(dir);
        uint64_t ids[HEAP_MAX];
        char names[HEAP_MAX][SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        size_t known = 0;
        for (int n = 0; n < 256; n++) {
                if (!present[n])
                        continue;
                char path[32];
                snprintf(path, sizeof path, DRI_DIR "/card%d", n);
                add_drm_device(probe, path, ids, names, &known);
        }
}

const struct heap_backend heap_backend_drm = {.name = "drm", .probe = drm_probe};
