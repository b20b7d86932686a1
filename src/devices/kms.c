/*
 * kms.c: constraints of a KMS plane: IN_FORMATS (or the plane's format list with LINEAR), the plane type
 * (display usage) and whether the device imports dma-bufs made elsewhere (the heaps it can use).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "devices/devices-internal.h"

/* The plane's "type" and "IN_FORMATS" property values. */
struct plane_props {
        bool has_type;
        uint64_t type;
        uint32_t in_formats_blob;
};

static int read_plane_props(int fd, uint32_t plane_id, struct plane_props *out) {
        drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(fd, plane_id, DRM_MODE_OBJECT_PLANE);
        if (!props)
                return -(errno ? errno : ENOENT);
        for (uint32_t i = 0; i < props->count_props; i++) {
                drmModePropertyPtr p = drmModeGetProperty(fd, props->props[i]);
                if (!p)
                        continue;
                if (!strcmp(p->name, "type")) {
                        out->has_type = true;
                        out->type = props->prop_values[i];
                } else if (!strcmp(p->name, "IN_FORMATS")) {
                        out->in_formats_blob = (uint32_t)props->prop_values[i];
                }
                drmModeFreeProperty(p);
        }
        drmModeFreeObjectProperties(props);
        return 0;
}

/* A driver without IN_FORMATS: every format of the plane, LINEAR only. */
static int from_format_list(struct sysmem_device_constraints *dc, const drmModePlane *plane) {
        struct dev_pair_list list = {.pairs = calloc(MAX(plane->count_formats, 1u), sizeof *list.pairs)};
        if (!list.pairs)
                return -ENOMEM;
        for (uint32_t i = 0; i < plane->count_formats; i++) {
                bool seen = false;
                for (size_t k = 0; k < list.count && !seen; k++)
                        seen = list.pairs[k].pixel_format == plane->formats[i];
                if (!seen && plane->formats[i] != DRM_FORMAT_INVALID)
                        list.pairs[list.count++] = (struct sysmem_pixel_format_and_modifier){plane->formats[i],
                                                                                             DRM_FORMAT_MOD_LINEAR};
        }
        dev_explain(dc, "plane %u has no IN_FORMATS property: its %u formats, LINEAR only", plane->plane_id,
                    plane->count_formats);
        int r = list.count ? dev_add_pairs(dc, &list) : -ENOENT;
        free(list.pairs);
        return r;
}

static int plane_formats(struct sysmem_device_constraints *dc, int fd, const drmModePlane *plane,
                         uint32_t blob_id) {
        if (!blob_id)
                return from_format_list(dc, plane);
        drmModePropertyBlobPtr blob = drmModeGetPropertyBlob(fd, blob_id);
        if (!blob) {
                int r = -(errno ? errno : ENOENT);
                dev_explain(dc, "plane %u: IN_FORMATS blob %u: %s", plane->plane_id, blob_id, strerror(-r));
                return r;
        }
        dev_explain(dc, "plane %u: IN_FORMATS (%u bytes)", plane->plane_id, blob->length);
        int r = dev_from_in_formats(dc, blob->data, blob->length);
        drmModeFreePropertyBlob(blob);
        return r;
}

/* A one-page dma-buf that is not the device's own: udmabuf from a sealed memfd, else the system dma-heap. */
static int probe_dma_buf(const char **ret_source) {
        long page = sysconf(_SC_PAGESIZE);
        int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
        if (dev >= 0) {
                int memfd = memfd_create("sysmem-devices-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                int buf = -1;
                if (memfd >= 0 && ftruncate(memfd, page) == 0 && fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0) {
                        struct udmabuf_create create = {.memfd = (uint32_t)memfd, .flags = UDMABUF_FLAGS_CLOEXEC,
                                                        .offset = 0, .size = (uint64_t)page};
                        buf = ioctl(dev, UDMABUF_CREATE, &create);
                }
                if (memfd >= 0)
                        close(memfd);
                close(dev);
                if (buf >= 0) {
                        *ret_source = "/dev/udmabuf";
                        return buf;
                }
        }
        dev = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
        if (dev < 0)
                return -ENOENT;
        struct dma_heap_allocation_data alloc = {.len = (uint64_t)page, .fd_flags = O_RDWR | O_CLOEXEC};
        int r = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &alloc);
        close(dev);
        if (r < 0)
                return -ENOENT;
        *ret_source = "/dev/dma_heap/system";
        return (int)alloc.fd;
}

/* Whether the device imports a foreign dma-buf (explained); false when no probe buffer can be made. */
static bool can_import(struct sysmem_device_constraints *dc, int drm_fd) {
        const char *source = NULL;
        int buf = probe_dma_buf(&source);
        if (buf < 0) {
                dev_explain(dc, "import probe: neither /dev/udmabuf nor /dev/dma_heap/system makes a dma-buf here; "
                                "assuming the device imports none");
                return false;
        }
        uint32_t handle = 0;
        int r = drmPrimeFDToHandle(drm_fd, buf, &handle);
        int err = errno;
        close(buf);
        if (r != 0) {
                dev_explain(dc, "import probe: the device refuses a dma-buf from %s (%s)", source, strerror(err));
                return false;
        }
        struct drm_gem_close gem_close = {.handle = handle};
        drmIoctl(drm_fd, DRM_IOCTL_GEM_CLOSE, &gem_close);
        dev_explain(dc, "import probe: the device imports a dma-buf from %s", source);
        return true;
}

/* The daemon's heap of this very device: by device number, else by driver name when only one has it. */
static int own_heap(int drm_fd, const char *heap_type, const struct sysmem_heap_info *heaps, size_t count) {
        struct stat self;
        int by_name = -1, named = 0;
        bool have_self = fstat(drm_fd, &self) == 0 && S_ISCHR(self.st_mode);
        for (size_t i = 0; i < count; i++) {
                struct stat st;
                if (strcmp(heaps[i].heap.heap_type, heap_type) != 0)
                        continue;
                if (have_self && heaps[i].device[0] && stat(heaps[i].device, &st) == 0 && st.st_rdev == self.st_rdev)
                        return (int)i;
                by_name = (int)i;
                named++;
        }
        return named == 1 ? by_name : -1;
}

static int own_heap_only(struct sysmem_device_constraints *dc, int drm_fd, const char *driver,
                         struct sysmem_allocator *allocator) {
        char heap_type[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        snprintf(heap_type, sizeof heap_type, "%s%s", SYSMEM_HEAP_DRM_PREFIX, driver);
        uint64_t id = 0;
        if (allocator) {
                struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
                size_t count;
                int r = dev_get_heaps(dc, allocator, heaps, &count);
                if (r < 0)
                        return r;
                int i = own_heap(drm_fd, heap_type, heaps, count);
                if (i >= 0)
                        id = heaps[i].heap.id;
                else
                        dev_explain(dc, "the daemon has no heap %s for this device: allocation will fail", heap_type);
        }
        dev_permit_heap(dc, heap_type, id);
        dev_explain(dc, "heap %s id %llu: the only one permitted (the device's own memory)", heap_type,
                    (unsigned long long)id);
        return 0;
}

static int choose_heaps(struct sysmem_device_constraints *dc, int drm_fd, struct sysmem_allocator *allocator) {
        drmVersionPtr v = drmGetVersion(drm_fd);
        if (!v)
                return -(errno ? errno : ENODEV);
        char driver[64];
        snprintf(driver, sizeof driver, "%s", v->name ? v->name : "");
        drmFreeVersion(v);
        if (can_import(dc, drm_fd))
                return dev_permit_dma_buf_heaps(dc, allocator, driver);
        return own_heap_only(dc, drm_fd, driver, allocator);
}

static int kms_plane(struct sysmem_device_constraints *dc, int drm_fd, uint32_t plane_id,
                     struct sysmem_allocator *allocator) {
        if (drmSetClientCap(drm_fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) != 0)
                dev_explain(dc, "DRM_CLIENT_CAP_UNIVERSAL_PLANES: %s (only overlay planes are visible)",
                            strerror(errno));
        drmModePlanePtr plane = drmModeGetPlane(drm_fd, plane_id);
        if (!plane)
                return errno == EINVAL || errno == ENOENT || !errno ? -ENOENT : -errno;
        struct plane_props props = {0};
        int r = read_plane_props(drm_fd, plane_id, &props);
        if (r == 0)
                r = plane_formats(dc, drm_fd, plane, props.in_formats_blob);
        drmModeFreePlane(plane);
        if (r < 0)
                return r;
        bool cursor = props.has_type && props.type == DRM_PLANE_TYPE_CURSOR;
        dc->c.usage.display = cursor ? SYSMEM_DISPLAY_USAGE_CURSOR : SYSMEM_DISPLAY_USAGE_LAYER;
        dev_explain(dc, "plane %u: %s plane: display usage %s", plane_id,
                    !props.has_type                         ? "untyped"
                    : props.type == DRM_PLANE_TYPE_PRIMARY ? "primary"
                    : cursor                               ? "cursor"
                                                           : "overlay",
                    cursor ? "CURSOR" : "LAYER");
        struct sysmem_buffer_memory_constraints *bmc = &dc->c.buffer_memory_constraints;
        bmc->cpu_domain_supported = SYSMEM_TRUE;
        bmc->ram_domain_supported = SYSMEM_TRUE;
        return choose_heaps(dc, drm_fd, allocator);
}

SYSMEM_EXPORT int sysmem_device_constraints_from_kms_plane(int drm_fd, uint32_t plane_id,
                                                           struct sysmem_allocator *allocator,
                                                           struct sysmem_device_constraints **ret) {
        if (drm_fd < 0 || !ret)
                return -EINVAL;
        struct sysmem_device_constraints *dc = dev_new();
        if (!dc)
                return -ENOMEM;
        int r = kms_plane(dc, drm_fd, plane_id, allocator);
        if (r == 0 && dc->oom)
                r = -ENOMEM;
        if (r < 0) {
                sysmem_device_constraints_free(dc);
                return r;
        }
        *ret = dc;
        return 0;
}
