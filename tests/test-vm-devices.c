/*
 * test-vm-devices.c: libsysmem-devices against real drivers (run in the VM by scripts/vm-run.sh):
 * virtio-gpu's planes (formats, plane types, the import probe), vivid's capture queue, and the heap names
 * against a real sysmemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <linux/videodev2.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <sysmem/sysmem-devices.h>

#include "harness.h"

/* The primary node of the DRM device whose driver is `driver`, or -ENOENT. */
static int open_driver(const char *driver) {
        for (int i = 0; i < 64; i++) {
                char path[32];
                snprintf(path, sizeof path, "/dev/dri/card%d", i);
                int fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        continue;
                drmVersionPtr v = drmGetVersion(fd);
                bool match = v && !strcmp(v->name, driver);
                drmFreeVersion(v);
                if (match)
                        return fd;
                close(fd);
        }
        return -ENOENT;
}

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
        int fd = open_driver("virtio_gpu");
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
        int vgem = open_driver("vgem");
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

        int fd = open_driver("virtio_gpu");
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
        int gpu = open_driver("virtio_gpu");
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
        };
        return cmocka_run_group_tests_name("vm-devices", tests, NULL, NULL);
}
