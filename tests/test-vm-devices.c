/*
 * test-vm-devices.c: libsysmem-devices against real drivers (run in the VM by scripts/vm-run.sh):
 * virtio-gpu's planes (formats, plane types, the import probe), vivid's capture queues (instance 0
 * single-planar, instance 1 multi-planar: scripts/vm-run.sh loads vivid with n_devs=2 multiplanar=1,2), the
 * heap names against a real sysmemd, and a multi-planar DMABUF capture into buffers allocated with the
 * constraints.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <linux/videodev2.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <sysmem/sysmem-devices.h>

#include "harness.h"


/* The first plane of this type (DRM_PLANE_TYPE_*), or 0. */
static uint32_t find_plane(int fd, uint64_t type) {
        assert_int_equal(drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
        drmModePlaneResPtr res = drmModeGetPlaneResources(fd);
        if (!res)
                return 0;
        uint32_t found = 0;
        for (uint32_t i = 0; i < res->count_planes && !found; i++) {
                drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(fd, res->planes[i], DRM_MODE_OBJECT_PLANE);
                for (uint32_t k = 0; props && k < props->count_props; k++) {
                        drmModePropertyPtr p = drmModeGetProperty(fd, props->props[k]);
                        if (p && !strcmp(p->name, "type") && props->prop_values[k] == type)
                                found = res->planes[i];
                        drmModeFreeProperty(p);
                }
                drmModeFreeObjectProperties(props);
        }
        drmModeFreePlaneResources(res);
        return found;
}

static bool has_pair(const struct sysmem_constraints *c, uint32_t format, uint64_t modifier) {
        for (uint32_t i = 0; i < c->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *e = &c->image_format_constraints[i];
                for (uint32_t k = 0; k < e->pixel_format_and_modifier_count; k++)
                        if (e->pixel_format_and_modifiers[k].pixel_format == format &&
                            e->pixel_format_and_modifiers[k].pixel_format_modifier == modifier)
                                return true;
        }
        return false;
}

static const struct sysmem_image_format_constraints *entry_of(const struct sysmem_constraints *c, uint32_t format) {
        for (uint32_t i = 0; i < c->image_format_constraint_count; i++)
                if (c->image_format_constraints[i].pixel_format == format)
                        return &c->image_format_constraints[i];
        return NULL;
}

/* virtio-gpu's primary plane: XRGB8888 LINEAR, layer usage, and only its own heap (it refuses foreign dma-bufs). */
static void test_kms_virtio_gpu(void **state) {
        (void)state;
        int fd = h_open_drm_driver("virtio_gpu");
        assert_true(fd >= 0);
        uint32_t primary = find_plane(fd, DRM_PLANE_TYPE_PRIMARY);
        assert_true(primary != 0);
        struct sysmem_device_constraints *dc = NULL;
        int r = sysmem_device_constraints_from_kms_plane(fd, primary, NULL, &dc);
        assert_int_equal(r, 0);
        const char *ex = sysmem_device_constraints_explain(dc);
        printf("%s", ex);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_true(has_pair(c, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR));
        assert_int_equal(c->usage.display, SYSMEM_DISPLAY_USAGE_LAYER);
        assert_int_equal(c->buffer_memory_constraints.permitted_heap_count, 1);
        assert_string_equal(c->buffer_memory_constraints.permitted_heaps[0].heap_type, "drm:virtio_gpu");
        assert_int_equal(c->buffer_memory_constraints.permitted_heaps[0].id, 0);
        assert_non_null(strstr(ex, "import probe: the device refuses a dma-buf from /dev/udmabuf"));
        sysmem_device_constraints_free(dc);

        uint32_t cursor = find_plane(fd, DRM_PLANE_TYPE_CURSOR);
        if (cursor) {
                assert_int_equal(sysmem_device_constraints_from_kms_plane(fd, cursor, NULL, &dc), 0);
                assert_int_equal(sysmem_device_constraints_get(dc)->usage.display, SYSMEM_DISPLAY_USAGE_CURSOR);
                sysmem_device_constraints_free(dc);
        }
        dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_kms_plane(fd, 0x7ffffff0u, NULL, &dc), -ENOENT);
        assert_null(dc);
        close(fd);

        /* vgem has no KMS at all: an error, no object. */
        int vgem = h_open_drm_driver("vgem");
        if (vgem >= 0) {
                assert_true(sysmem_device_constraints_from_kms_plane(vgem, 1, NULL, &dc) < 0);
                assert_null(dc);
                close(vgem);
        }
}

/* vivid's capture queue at 640x480: XR24 is XRGB8888 with 2560-byte rows. */
static void test_v4l2_vivid(void **state) {
        (void)state;
        int fd = open("/dev/video0", O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_v4l2(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, 640, 480, NULL, &dc), 0);
        printf("%s", sysmem_device_constraints_explain(dc));
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->usage.video, SYSMEM_VIDEO_USAGE_CAPTURE);
        const struct sysmem_image_format_constraints *e = entry_of(c, DRM_FORMAT_XRGB8888);
        assert_non_null(e);
        assert_true(e->has_pixel_format_modifier);
        assert_int_equal(e->pixel_format_modifier, DRM_FORMAT_MOD_LINEAR);
        assert_int_equal(e->min_bytes_per_row, 2560);
        assert_int_equal(e->required_min_size.width, 640);
        assert_int_equal(e->required_min_size.height, 480);
        assert_int_equal(e->required_max_size.width, 640);
        assert_int_equal(e->required_max_size.height, 480);
        assert_true(e->bytes_per_row_divisor == 0 || 2560 % e->bytes_per_row_divisor == 0);
        assert_true(c->buffer_memory_constraints.min_size_bytes >= 1228800);
        assert_int_equal(c->buffer_memory_constraints.permitted_heap_count, 0);
        assert_non_null(entry_of(c, DRM_FORMAT_NV12));
        assert_non_null(entry_of(c, DRM_FORMAT_YUYV));
        sysmem_device_constraints_free(dc);
        /* Wrong queue type for a capture device. */
        dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_v4l2(fd, V4L2_BUF_TYPE_VIDEO_OUTPUT, 640, 480, NULL, &dc), -EINVAL);
        assert_null(dc);
        close(fd);
}

/* vivid's multi-planar instance (vivid-001-vid-cap), opened, or -1; path gets its /dev name. */
static int open_mplane_vivid(char *path, size_t size) {
        for (int i = 0; i < 64; i++) {
                char sys[64], name[64] = {0};
                snprintf(sys, sizeof sys, "/sys/class/video4linux/video%d/name", i);
                FILE *f = fopen(sys, "re");
                if (!f)
                        continue;
                bool match = fgets(name, sizeof name, f) && !strcmp(name, "vivid-001-vid-cap\n");
                fclose(f);
                if (!match)
                        continue;
                snprintf(path, size, "/dev/video%d", i);
                return open(path, O_RDWR | O_CLOEXEC);
        }
        return -1;
}

static int xioctl(int fd, unsigned long req, void *arg) {
        int r;
        do
                r = ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : 0;
}

/* Whether one line of the explanation starts with `start` and also contains `also`. */
static bool explained(const char *ex, const char *start, const char *also) {
        for (const char *l = ex; *l;) {
                const char *end = strchr(l, '\n');
                size_t len = end ? (size_t)(end - l) : strlen(l);
                const char *hit = strstr(l, also);
                if (!strncmp(l, start, strlen(start)) && hit && hit + strlen(also) <= l + len)
                        return true;
                l += len + (end != NULL);
        }
        return false;
}

static int open_mplane_or_fail(char *path, size_t size) {
        int fd = open_mplane_vivid(path, size);
        if (fd < 0)
                fail_msg("no vivid-001-vid-cap node: vivid must be loaded with n_devs=2 multiplanar=1,2 "
                         "(scripts/vm-run.sh does; SYSMEM_VM_MODULE_PARAMS changes it)");
        return fd;
}

/*
 * vivid's multi-planar capture queue at 640x480: XR24 is XRGB8888 with 2560-byte rows, NV12 (one memory
 * plane in the multi-planar API) is kept, and every format the driver answers with more than one memory
 * plane (NV12M, ...) is dropped with a line saying why. The driver itself is the oracle: each format it
 * lists is tried here too.
 */
static void test_v4l2_vivid_mplane(void **state) {
        (void)state;
        char path[32];
        int fd = open_mplane_or_fail(path, sizeof path);
        struct v4l2_capability cap = {0};
        assert_int_equal(xioctl(fd, VIDIOC_QUERYCAP, &cap), 0);
        assert_true(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE);
        assert_false(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);

        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_v4l2(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, 640, 480, NULL, &dc),
                         0);
        const char *ex = sysmem_device_constraints_explain(dc);
        printf("%s (%s):\n%s", path, (const char *)cap.card, ex);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->usage.video, SYSMEM_VIDEO_USAGE_CAPTURE);
        const struct sysmem_image_format_constraints *e = entry_of(c, DRM_FORMAT_XRGB8888);
        assert_non_null(e);
        assert_int_equal(e->pixel_format_modifier, DRM_FORMAT_MOD_LINEAR);
        assert_int_equal(e->min_bytes_per_row, 2560);
        assert_int_equal(e->required_min_size.width, 640);
        assert_int_equal(e->required_min_size.height, 480);
        assert_int_equal(e->required_max_size.width, 640);
        assert_int_equal(e->required_max_size.height, 480);
        assert_true(c->buffer_memory_constraints.min_size_bytes >= 1228800);
        e = entry_of(c, DRM_FORMAT_NV12);
        assert_non_null(e);
        assert_int_equal(e->min_bytes_per_row, 640);

        /* What the driver answers for each format it lists, against what the library made of it. */
        uint32_t multi = 0, single = 0;
        for (uint32_t i = 0; i < 256; i++) {
                struct v4l2_fmtdesc d = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE};
                if (xioctl(fd, VIDIOC_ENUM_FMT, &d) < 0)
                        break;
                struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE};
                f.fmt.pix_mp.width = 640;
                f.fmt.pix_mp.height = 480;
                f.fmt.pix_mp.pixelformat = d.pixelformat;
                f.fmt.pix_mp.field = V4L2_FIELD_NONE;
                assert_int_equal(xioctl(fd, VIDIOC_TRY_FMT, &f), 0);
                const struct v4l2_pix_format_mplane *m = &f.fmt.pix_mp;
                char fourcc[8];
                snprintf(fourcc, sizeof fourcc, "'%.4s'", (const char *)&d.pixelformat);
                printf("  TRY_FMT %s: %u plane(s), bytesperline %u, sizeimage %u\n", fourcc, m->num_planes,
                       m->plane_fmt[0].bytesperline, m->plane_fmt[0].sizeimage);
                uint32_t drm = sysmem_drm_format_from_v4l2(d.pixelformat);
                char start[32];
                snprintf(start, sizeof start, "V4L2 format %s", fourcc);
                if (m->num_planes > 1) {
                        multi++;
                        assert_int_equal(drm, DRM_FORMAT_INVALID);
                        assert_true(explained(ex, start, "dropped: its planes are separate memory planes"));
                } else if (drm != DRM_FORMAT_INVALID && m->pixelformat == d.pixelformat) {
                        /* Taken, unless an earlier V4L2 format has the same DRM fourcc (RGBO and XR15). */
                        if (explained(ex, start, "LINEAR"))
                                single++;
                        else
                                assert_true(explained(ex, start, "dropped: its DRM fourcc is already taken"));
                }
        }
        assert_true(explained(ex, "V4L2 format 'NM12'", "dropped: its planes are separate memory planes"));
        assert_true(multi >= 1);
        assert_int_equal(single, c->image_format_constraint_count);
        sysmem_device_constraints_free(dc);

        /* The single-planar API is not this device's. */
        dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_v4l2(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, 640, 480, NULL, &dc),
                         -EINVAL);
        assert_null(dc);
        close(fd);
}

/*
 * The multi-planar constraints are good for a real capture: buffers from a sysmemd, imported by vivid with
 * V4L2_MEMORY_DMABUF on the multi-planar queue (planes[0] is the whole buffer), one frame captured.
 */
static void test_mplane_capture(void **state) {
        (void)state;
        char path[32];
        int fd = open_mplane_or_fail(path, sizeof path);
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_allocator *a = h_connect(&d, "mplane-capture");
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_v4l2(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, 640, 480, a, &dc),
                         0);
        struct sysmem_constraints mine = *sysmem_device_constraints_get(dc);
        mine.min_buffer_count_for_camping = 3; /* vivid starts streaming with 2 queued; one more to spare */
        mine.usage.cpu = SYSMEM_CPU_USAGE_READ; /* the frame is looked at below */
        struct sysmem_collection *coll = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &coll), 0);
        assert_int_equal(sysmem_collection_set_constraints(coll, &mine), 0);
        struct sysmem_collection_info *info = NULL;
        if (h_wait_allocated(coll, H_TIMEOUT_MS, &info) < 0)
                fail_msg("allocation failed: %s", sysmem_node_error_message(sysmem_collection_node(coll)));
        const struct sysmem_buffer_memory_settings *bs = &info->settings.buffer_settings;
        const struct sysmem_image_format_settings *is = &info->settings.image_format_constraints;
        assert_true(info->settings.has_image_format_constraints);
        struct sysmem_plane_layout l;
        assert_int_equal(sysmem_image_layout(is, 640, 480, &l), 0);

        /* The V4L2 format of the negotiated DRM fourcc, at the negotiated stride, as one memory plane. */
        uint32_t pixfmt = 0;
        for (uint32_t i = 0; !pixfmt; i++) {
                struct v4l2_fmtdesc desc = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE};
                if (xioctl(fd, VIDIOC_ENUM_FMT, &desc) < 0)
                        break;
                if (sysmem_drm_format_from_v4l2(desc.pixelformat) == is->pixel_format)
                        pixfmt = desc.pixelformat;
        }
        assert_true(pixfmt != 0);
        struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE};
        f.fmt.pix_mp.width = 640;
        f.fmt.pix_mp.height = 480;
        f.fmt.pix_mp.pixelformat = pixfmt;
        f.fmt.pix_mp.field = V4L2_FIELD_NONE;
        f.fmt.pix_mp.num_planes = 1;
        f.fmt.pix_mp.plane_fmt[0].bytesperline = l.bytes_per_row[0];
        assert_int_equal(xioctl(fd, VIDIOC_S_FMT, &f), 0);
        const struct v4l2_pix_format_mplane *m = &f.fmt.pix_mp;
        printf("%s: %u buffers of %llu bytes on %s; S_FMT '%.4s' %ux%u, %u plane, bytesperline %u, sizeimage %u\n",
               path, info->buffer_count, (unsigned long long)bs->raw_vmo_size, bs->heap.heap_type,
               (const char *)&pixfmt, m->width, m->height, m->num_planes, m->plane_fmt[0].bytesperline,
               m->plane_fmt[0].sizeimage);
        assert_int_equal(m->pixelformat, pixfmt);
        assert_int_equal(m->width, 640);
        assert_int_equal(m->height, 480);
        assert_int_equal(m->num_planes, 1);
        assert_int_equal(m->plane_fmt[0].bytesperline, l.bytes_per_row[0]);
        assert_true(m->plane_fmt[0].sizeimage <= bs->size_bytes);

        /* vivid's fastest frame interval at this size, so one frame comes quickly even in TCG. */
        struct v4l2_fract best = {0, 0};
        for (uint32_t i = 0;; i++) {
                struct v4l2_frmivalenum iv = {.index = i, .pixel_format = pixfmt, .width = 640, .height = 480};
                if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) < 0 || iv.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                        break;
                if (!best.denominator || (uint64_t)iv.discrete.numerator * best.denominator <
                                                 (uint64_t)best.numerator * iv.discrete.denominator)
                        best = iv.discrete;
        }
        if (best.denominator) {
                struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE};
                parm.parm.capture.timeperframe = best;
                assert_int_equal(xioctl(fd, VIDIOC_S_PARM, &parm), 0);
        }

        uint32_t count = info->buffer_count;
        struct v4l2_requestbuffers rb = {.count = count, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
                                         .memory = V4L2_MEMORY_DMABUF};
        assert_int_equal(xioctl(fd, VIDIOC_REQBUFS, &rb), 0);
        assert_true(rb.count >= count);
        for (uint32_t i = 0; i < count; i++) {
                /* bytesused of a capture buffer is the driver's to fill in. */
                struct v4l2_plane plane = {.m.fd = info->buffers[i].fd, .length = (uint32_t)bs->raw_vmo_size,
                                           .bytesused = 0};
                struct v4l2_buffer b = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
                                        .memory = V4L2_MEMORY_DMABUF, .m.planes = &plane, .length = 1};
                int r = xioctl(fd, VIDIOC_QBUF, &b);
                if (r < 0)
                        fail_msg("QBUF %u (dma-buf fd %d from %s): %s", i, plane.m.fd, bs->heap.heap_type, strerror(-r));
        }
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
        assert_int_equal(xioctl(fd, VIDIOC_STREAMON, &type), 0);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t t0 = h_now_ms();
        assert_int_equal(poll(&pf, 1, 30000), 1);
        struct v4l2_plane plane = {0};
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, .memory = V4L2_MEMORY_DMABUF,
                                .m.planes = &plane, .length = 1};
        assert_int_equal(xioctl(fd, VIDIOC_DQBUF, &b), 0);
        printf("DQBUF after %lld ms: buffer %u, sequence %u, flags 0x%x, planes[0] fd %d, bytesused %u of %u\n",
               (long long)(h_now_ms() - t0), b.index, b.sequence, b.flags, plane.m.fd, plane.bytesused, plane.length);
        assert_true(b.index < count);
        assert_int_equal(b.length, 1);
        assert_int_equal(plane.m.fd, info->buffers[b.index].fd);
        assert_false(b.flags & V4L2_BUF_FLAG_ERROR);
        assert_int_equal(plane.bytesused, m->plane_fmt[0].sizeimage);
        /* The frame is in the sysmem buffer: vivid's colour bars are not all zero in the first row. */
        int bfd = info->buffers[b.index].fd;
        uint8_t *map = mmap(NULL, bs->raw_vmo_size, PROT_READ, MAP_SHARED, bfd, 0);
        assert_true(map != MAP_FAILED);
        assert_int_equal(sysmem_buffer_begin_cpu_access(bfd, SYSMEM_CPU_ACCESS_READ), 0);
        bool nonzero = false;
        for (uint32_t i = 0; i < l.bytes_per_row[0] && !nonzero; i++)
                nonzero = map[i] != 0;
        assert_int_equal(sysmem_buffer_end_cpu_access(bfd, SYSMEM_CPU_ACCESS_READ), 0);
        munmap(map, bs->raw_vmo_size);
        assert_true(nonzero);
        assert_int_equal(xioctl(fd, VIDIOC_STREAMOFF, &type), 0);
        struct v4l2_requestbuffers none = {.count = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
                                           .memory = V4L2_MEMORY_DMABUF};
        assert_int_equal(xioctl(fd, VIDIOC_REQBUFS, &none), 0);

        sysmem_collection_info_free(info);
        sysmem_collection_release(coll);
        sysmem_device_constraints_free(dc);
        close(fd);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

static bool daemon_has(const struct sysmem_heap_info *h, size_t n, const struct sysmem_heap *want) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(h[i].heap.heap_type, want->heap_type) && h[i].heap.id == want->id)
                        return true;
        return false;
}

/* With an allocator: the heaps named are the daemon's own, and the display's constraints allocate. */
static void test_with_daemon(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_allocator *a = h_connect(&d, "devices");
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t n = 0;
        assert_int_equal(sysmem_allocator_get_heaps(a, heaps, SYSMEM_MAX_HEAPS, &n), 0);

        int fd = h_open_drm_driver("virtio_gpu");
        assert_true(fd >= 0);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_kms_plane(fd, find_plane(fd, DRM_PLANE_TYPE_PRIMARY), a, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->buffer_memory_constraints.permitted_heap_count, 1);
        assert_true(daemon_has(heaps, n, &c->buffer_memory_constraints.permitted_heaps[0]));
        assert_string_equal(c->buffer_memory_constraints.permitted_heaps[0].heap_type, "drm:virtio_gpu");

        /* Allocate with them (a 64x64 image): the buffers come from virtio-gpu. */
        struct sysmem_image_format_constraints ifc[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS];
        memcpy(ifc, c->image_format_constraints, c->image_format_constraint_count * sizeof ifc[0]);
        for (uint32_t i = 0; i < c->image_format_constraint_count; i++)
                ifc[i].required_max_size = (struct sysmem_size){64, 64};
        struct sysmem_constraints mine = *c;
        mine.image_format_constraints = ifc;
        mine.min_buffer_count_for_camping = 1;
        struct sysmem_collection *coll = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &coll), 0);
        assert_int_equal(sysmem_collection_set_constraints(coll, &mine), 0);
        struct sysmem_collection_info *info = NULL;
        int r = h_wait_allocated(coll, H_TIMEOUT_MS, &info);
        if (r < 0)
                fail_msg("allocation failed: %s", sysmem_node_error_message(sysmem_collection_node(coll)));
        assert_string_equal(info->settings.buffer_settings.heap.heap_type, "drm:virtio_gpu");
        sysmem_collection_info_free(info);
        sysmem_collection_release(coll);
        sysmem_device_constraints_free(dc);
        close(fd);

        /* V4L2: every dma-buf heap of the daemon and nothing else (system-ram's memfds are no dma-bufs). */
        int vfd = open("/dev/video0", O_RDWR | O_CLOEXEC);
        assert_true(vfd >= 0);
        assert_int_equal(sysmem_device_constraints_from_v4l2(vfd, V4L2_BUF_TYPE_VIDEO_CAPTURE, 640, 480, a, &dc), 0);
        c = sysmem_device_constraints_get(dc);
        size_t dma_bufs = 0;
        for (size_t i = 0; i < n; i++)
                dma_bufs += (heaps[i].flags & SYSMEM_HEAP_FLAG_DMA_BUF) != 0;
        assert_true(dma_bufs >= 2);
        assert_int_equal(c->buffer_memory_constraints.permitted_heap_count, dma_bufs);
        for (uint32_t i = 0; i < c->buffer_memory_constraints.permitted_heap_count; i++) {
                assert_true(daemon_has(heaps, n, &c->buffer_memory_constraints.permitted_heaps[i]));
                assert_string_not_equal(c->buffer_memory_constraints.permitted_heaps[i].heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        }
        sysmem_device_constraints_free(dc);
        close(vfd);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

int main(void) {
        int gpu = h_open_drm_driver("virtio_gpu");
        if (gpu >= 0)
                close(gpu);
        if (!getenv("SYSMEM_IN_VM") || access("/dev/video0", F_OK) != 0 || gpu < 0) {
                printf("SKIP: no virtio-gpu or /dev/video0 here; run through scripts/vm-run.sh\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kms_virtio_gpu, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_v4l2_vivid, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_with_daemon, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_v4l2_vivid_mplane, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_mplane_capture, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("vm-devices", tests, NULL, NULL);
}
