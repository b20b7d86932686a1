/*
 * test-vm-heaps.c: every heap backend against real kernel drivers (run in the VM by scripts/vm-run.sh):
 * discovery, allocation, two processes sharing, CPU-access brackets, vgem importing, rights, limits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <drm_fourcc.h>
#include <xf86drm.h>

#include <linux/dma-buf.h>

#include "harness.h"

#define MIB (1024u * 1024u)

/* The DRM devices of this machine: driver name per primary node, as the daemon should find them. */
struct drm_dev {
        char path[32];
        char driver[64];
};

static size_t list_drm(struct drm_dev *out, size_t cap) {
        size_t n = 0;
        for (int i = 0; i < 64 && n < cap; i++) {
                char path[32];
                snprintf(path, sizeof path, "/dev/dri/card%d", i);
                int fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        continue;
                drmVersionPtr v = drmGetVersion(fd);
                if (v) {
                        snprintf(out[n].path, sizeof out[n].path, "%s", path);
                        snprintf(out[n].driver, sizeof out[n].driver, "%s", v->name);
                        n++;
                        drmFreeVersion(v);
                }
                close(fd);
        }
        return n;
}


static const struct sysmem_heap_info *find_info(const struct sysmem_heap_info *h, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(h[i].heap.heap_type, name))
                        return &h[i];
        return NULL;
}

/* The heaps the daemon lists, in the log, GetHeaps and `sysmemctl heaps --json`, are the machine's. */
static void test_heaps_listed(void **state) {
        (void)state;
        struct h_daemon d;
        const char *const args[] = {"--log-level", "info", NULL};
        h_daemon_start_logged(&d, args);
        struct drm_dev devs[16];
        size_t ndrm = list_drm(devs, 16);
        assert_true(ndrm >= 2); /* vgem and virtio-gpu */

        struct sysmem_allocator *a = h_connect(&d, "lister");
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count = 0;
        assert_int_equal(sysmem_allocator_get_heaps(a, heaps, SYSMEM_MAX_HEAPS, &count), 0);
        sysmem_allocator_free(a);
        assert_int_equal(count, 3 + ndrm); /* system-ram, udmabuf, dma-heap:system (no CMA here), drm:* */
        assert_string_equal(heaps[0].heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);

        const struct sysmem_heap_info *u = find_info(heaps, count, "udmabuf");
        assert_non_null(u);
        assert_true(u->flags & SYSMEM_HEAP_FLAG_DMA_BUF);
        assert_true(u->max_buffer_bytes >= MIB);
        const struct sysmem_heap_info *sys = find_info(heaps, count, "dma-heap:system");
        assert_non_null(sys);
        assert_string_equal(sys->device, "/dev/dma_heap/system");
        assert_false(sys->flags & SYSMEM_HEAP_FLAG_CONTIGUOUS);
        for (size_t i = 0; i < ndrm; i++) {
                char name[80];
                snprintf(name, sizeof name, "drm:%s", devs[i].driver);
                const struct sysmem_heap_info *h = find_info(heaps, count, name);
                if (!h)
                        fail_msg("the daemon has no heap %s for %s", name, devs[i].path);
                assert_string_equal(h->device, devs[i].path);
                const char *const line[] = {"heap ", name, devs[i].path, NULL};
                if (!h_daemon_log_wait(&d, line, 2000))
                        fail_msg("the daemon's start-up log does not list %s", name);
        }
        const char *const line[] = {"heap dma-heap:system", "/dev/dma_heap/system", NULL};
        assert_true(h_daemon_log_wait(&d, line, 2000));

        /* sysmemctl heaps --json says the same. */
        const char *ctl = getenv("SYSMEMCTL");
        assert_non_null(ctl);
        char cmd[PATH_MAX * 2 + 64];
        snprintf(cmd, sizeof cmd, "'%s' heaps --json --socket '%s'", ctl, d.socket);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        static char out[65536];
        size_t len = fread(out, 1, sizeof out - 1, p);
        out[len] = '\0';
        assert_int_equal(pclose(p), 0);
        json_object *root = json_tokener_parse(out);
        assert_non_null(root);
        json_object *list;
        assert_true(json_object_object_get_ex(root, "heaps", &list));
        assert_int_equal(json_object_array_length(list), count);
        for (size_t i = 0; i < count; i++) {
                json_object *o = json_object_array_get_idx(list, i), *name, *dma;
                assert_true(json_object_object_get_ex(o, "name", &name));
                assert_string_equal(json_object_get_string(name), heaps[i].heap.heap_type);
                assert_true(json_object_object_get_ex(o, "dma_buf", &dma));
                assert_int_equal(json_object_get_boolean(dma), !!(heaps[i].flags & SYSMEM_HEAP_FLAG_DMA_BUF));
        }
        json_object_put(root);
        h_daemon_stop(&d);
}

static bool is_dma_buf(int fd) {
        struct dma_buf_sync s = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
        if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0)
                return false;
        s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
        return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) == 0;
}

/*
 * A writer and a reader that permit only `heap` share 2 x 1 MiB: the settings name the heap, the
 * reader sees the writer's bytes, the fds are dma-bufs (or memfds for system-ram), vgem imports them,
 * nobody can resize them, and CPU-access brackets work on them.
 */
static void share_on_heap(const char *heap_name) {
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct h_agent w, r;
        h_agent_spawn(&w, &d, "writer");
        h_agent_spawn(&r, &d, "reader");
        struct h_rep rep;
        h_agent_cmd(&w, H_ALLOC_SHARED, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&w, H_DUP, 0, &rep);
        assert_int_equal(rep.r, 0);
        int tok = h_recv_fd(w.sock, H_TIMEOUT_MS);
        h_agent_take_token(&r, tok, "reader");
        close(tok);
        h_agent_cmd(&w, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&r, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);

        struct sysmem_heap heap = {0};
        snprintf(heap.heap_type, sizeof heap.heap_type, "%s", heap_name);
        struct sysmem_constraints cw = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN | SYSMEM_CPU_USAGE_READ_OFTEN,
                                                         1, MIB);
        cw.buffer_memory_constraints.permitted_heap_count = 1;
        cw.buffer_memory_constraints.permitted_heaps = &heap;
        struct sysmem_constraints cr = h_cpu_constraints(SYSMEM_CPU_USAGE_READ_OFTEN, 1, MIB);
        cr.buffer_memory_constraints.permitted_heap_count = 1;
        cr.buffer_memory_constraints.permitted_heaps = &heap;
        h_agent_set_constraints(&w, &cw);
        h_agent_set_constraints(&r, &cr);
        h_agent_send_cmd(&w, H_WAIT, 0);
        h_agent_send_cmd(&r, H_WAIT, 0);
        struct h_rep rw, rr;
        h_agent_reply(&w, &rw);
        h_agent_reply(&r, &rr);
        if (rw.r < 0)
                fail_msg("%s: the writer's wait failed: %s", heap_name, rw.message);
        assert_int_equal(rr.r, 0);
        assert_string_equal(rw.heap, heap_name);
        assert_string_equal(rr.heap, heap_name);
        assert_int_equal(rw.buffer_count, 2);
        assert_true(rw.raw_vmo_size >= MIB);

        /* The writer writes (inside brackets, in the harness); the reader, another process, sees it. */
        h_agent_cmd(&r, H_VERIFY_ZERO, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&w, H_WRITE, 7, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&r, H_VERIFY, 7, &rep);
        if (rep.r < 0)
                fail_msg("%s: the reader does not see the writer's bytes: %s", heap_name, rep.message);

        /* The buffers themselves, in this process: what they are and what can be done with them. */
        h_agent_cmd(&r, H_GIVE_BUFFERS, 0, &rep);
        assert_int_equal(rep.value, 2);
        int fds[2];
        for (int i = 0; i < 2; i++)
                fds[i] = h_recv_fd(r.sock, H_TIMEOUT_MS);
        bool system_ram = !strcmp(heap_name, SYSMEM_HEAP_SYSTEM_RAM);
        int vgem = h_open_drm_driver("vgem");
        assert_true(vgem >= 0);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(is_dma_buf(fds[i]), !system_ram);
                /* Read-only participants: a read-only fd where the heap can (memfd), the dma-buf where not. */
                int mode = fcntl(fds[i], F_GETFL) & O_ACCMODE;
                assert_int_equal(mode, system_ram ? O_RDONLY : O_RDWR);
                /* Nobody can change a buffer's size under the others. */
                assert_true(ftruncate(fds[i], 4096) < 0);
                assert_true(ftruncate(fds[i], (off_t)rw.raw_vmo_size * 2) < 0);
                struct stat st;
                assert_int_equal(fstat(fds[i], &st), 0);
                /* The brackets, and the bytes through this process's own mapping. */
                assert_int_equal(sysmem_buffer_begin_cpu_access(fds[i], SYSMEM_CPU_ACCESS_READ), 0);
                const uint8_t *p = mmap(NULL, rw.raw_vmo_size, PROT_READ, MAP_SHARED, fds[i], 0);
                assert_true(p != MAP_FAILED);
                for (uint64_t k = 0; k < rw.raw_vmo_size; k += 4093)
                        assert_int_equal(p[k], h_pattern_byte(7, (uint32_t)i, k));
                munmap((void *)p, rw.raw_vmo_size);
                assert_int_equal(sysmem_buffer_end_cpu_access(fds[i], SYSMEM_CPU_ACCESS_READ), 0);
                assert_int_equal(sysmem_buffer_begin_cpu_access(fds[i], 0), -EINVAL);
                /* A GPU stand-in imports every dma-buf backend's buffers; a memfd is nothing to it. */
                uint32_t handle = 0;
                int ir = drmPrimeFDToHandle(vgem, fds[i], &handle);
                if (system_ram) {
                        assert_true(ir != 0);
                } else {
                        if (ir != 0)
                                fail_msg("%s: vgem cannot import buffer %d: %s", heap_name, i, strerror(errno));
                        assert_true(handle != 0);
                        drmCloseBufferHandle(vgem, handle);
                }
                /* GetVmoInfo knows the buffer by its fd, whatever the backend. */
                struct sysmem_allocator *a = h_connect(&d, "vmo-info");
                uint64_t id = 0, index = 99;
                assert_int_equal(sysmem_allocator_get_vmo_info(a, fds[i], &id, &index), 0);
                assert_int_equal(index, (uint64_t)i);
                sysmem_allocator_free(a);
                close(fds[i]);
        }
        close(vgem);
        h_agent_stop(&w);
        h_agent_stop(&r);
        h_daemon_stop(&d);
}

static void test_share_system_ram(void **state) { (void)state; share_on_heap(SYSMEM_HEAP_SYSTEM_RAM); }
static void test_share_udmabuf(void **state) { (void)state; share_on_heap(SYSMEM_HEAP_UDMABUF); }
static void test_share_dma_heap_system(void **state) { (void)state; share_on_heap("dma-heap:system"); }
static void test_share_drm_vgem(void **state) { (void)state; share_on_heap("drm:vgem"); }
static void test_share_drm_virtio_gpu(void **state) { (void)state; share_on_heap("drm:virtio_gpu"); }

/* One participant alone: allocate with constraints, return the wait's result and message. */
static int negotiate_alone(struct h_daemon *d, const struct sysmem_constraints *c, struct h_rep *rep) {
        struct h_agent a;
        h_agent_spawn(&a, d, "alone");
        h_agent_cmd(&a, H_ALLOC_NON_SHARED, 0, rep);
        assert_int_equal(rep->r, 0);
        h_agent_set_constraints(&a, c);
        h_agent_cmd(&a, H_WAIT, 0, rep);
        h_agent_stop(&a);
        return rep->r;
}

/* No CMA heap in this kernel: a contiguous request fails, and the message says why and what there is. */
static void test_contiguous_without_cma(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_constraints c = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, MIB);
        c.buffer_memory_constraints.physically_contiguous_required = true;
        struct h_rep rep;
        assert_true(negotiate_alone(&d, &c, &rep) < 0);
        assert_int_equal(rep.error, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
        if (!strstr(rep.message, "physically_contiguous_required") || !strstr(rep.message, "dma-heap:system") ||
            !strstr(rep.message, "contiguous-capable"))
                fail_msg("unclear failure: %s", rep.message);
        h_daemon_stop(&d);
}

/* udmabuf's own limit (size_limit_mb) is a negotiation failure that names it, not a kernel EINVAL. */
static void test_udmabuf_limit(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_allocator *a = h_connect(&d, "lister");
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count = 0;
        assert_int_equal(sysmem_allocator_get_heaps(a, heaps, SYSMEM_MAX_HEAPS, &count), 0);
        sysmem_allocator_free(a);
        const struct sysmem_heap_info *u = find_info(heaps, count, "udmabuf");
        assert_non_null(u);
        struct sysmem_heap heap = {.heap_type = "udmabuf"};
        struct sysmem_constraints c = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, u->max_buffer_bytes + 1);
        c.buffer_memory_constraints.permitted_heap_count = 1;
        c.buffer_memory_constraints.permitted_heaps = &heap;
        struct h_rep rep;
        assert_true(negotiate_alone(&d, &c, &rep) < 0);
        if (!strstr(rep.message, "heap 'udmabuf'") || !strstr(rep.message, "limit"))
                fail_msg("unclear failure: %s", rep.message);
        /* At the limit it works. */
        c.buffer_memory_constraints.min_size_bytes = u->max_buffer_bytes;
        assert_int_equal(negotiate_alone(&d, &c, &rep), 0);
        assert_string_equal(rep.heap, "udmabuf");
        h_daemon_stop(&d);
}

/*
 * Pairs only a device lays out (docs/constraints.md): (R16, LINEAR), a format sysmem's image-format library
 * does not know, lands on the first drm: heap whose device makes it through GBM (Mesa's kms_swrast makes
 * linear buffers of it on vgem); a modifier no device here knows drops out with the reason.
 */
static int negotiate_here(struct h_daemon *d, const struct sysmem_constraints *c, struct sysmem_collection_info **info,
                          char *message, size_t size) {
        struct sysmem_allocator *a = h_connect(d, "device-pairs");
        struct sysmem_collection *col = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &col), 0);
        int r = sysmem_collection_set_constraints(col, c);
        if (r == 0)
                r = sysmem_collection_wait_allocated(col, info);
        const char *m = sysmem_node_error_message(sysmem_collection_node(col));
        snprintf(message, size, "%s", m ? m : "");
        sysmem_collection_close(col);
        sysmem_allocator_free(a);
        return r;
}

static void test_device_pairs(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_collection_info *info = NULL;
        char message[1100];
        static const uint32_t cs[] = {SYSMEM_COLOR_SPACE_PASSTHROUGH};
        struct sysmem_image_format_constraints ifc = {
                .pixel_format = DRM_FORMAT_R16, .color_spaces = cs, .color_space_count = 1, .min_size = {100, 50}};
        struct sysmem_constraints c = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 0);
        c.image_format_constraints = &ifc;
        c.image_format_constraint_count = 1;
        if (negotiate_here(&d, &c, &info, message, sizeof message) < 0)
                fail_msg("(R16, LINEAR) was not laid out by a device: %s", message);
        assert_string_equal(info->settings.buffer_settings.heap.heap_type, "drm:vgem");
        assert_int_equal(info->settings.image_format_constraints.pixel_format, DRM_FORMAT_R16);
        assert_true(info->settings.buffer_settings.size_bytes >= 100 * 50 * 2);
        assert_true(is_dma_buf(info->buffers[0].fd));
        /* Its layout is the device's: the client library cannot say where the planes are. */
        struct sysmem_plane_layout layout;
        assert_int_equal(sysmem_image_layout(&info->settings.image_format_constraints, 100, 50, &layout), -EOPNOTSUPP);
        sysmem_collection_info_free(info);
        info = NULL;

        /* An AMD modifier on virtio-gpu: no device here lays it out. */
        ifc = (struct sysmem_image_format_constraints){
                .pixel_format = DRM_FORMAT_XRGB8888, .has_pixel_format_modifier = true,
                .pixel_format_modifier = AMD_FMT_MOD | AMD_FMT_MOD_SET(TILE_VERSION, AMD_FMT_MOD_TILE_VER_GFX9) |
                                         AMD_FMT_MOD_SET(TILE, AMD_FMT_MOD_TILE_GFX9_64K_S),
                .color_spaces = cs, .color_space_count = 1, .min_size = {64, 64}};
        struct sysmem_heap heap = {.heap_type = "drm:virtio_gpu"};
        c.buffer_memory_constraints.permitted_heap_count = 1;
        c.buffer_memory_constraints.permitted_heaps = &heap;
        assert_true(negotiate_here(&d, &c, &info, message, sizeof message) < 0);
        if (!strstr(message, "cannot lay out (XRGB8888, 0x0200000000000901)") ||
            !strstr(message, "device of heap 'drm:virtio_gpu'"))
                fail_msg("unclear failure: %s", message);
        h_daemon_stop(&d);
}

/* --heaps narrows what the daemon offers: a heap left out cannot be chosen, and the failure says so. */
static void test_heap_selection(void **state) {
        (void)state;
        struct h_daemon d;
        const char *const args[] = {"--heaps", "*,-dma-heap:*", NULL};
        h_daemon_start(&d, args);
        struct sysmem_heap heap = {.heap_type = "dma-heap:system"};
        struct sysmem_constraints c = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, MIB);
        c.buffer_memory_constraints.permitted_heap_count = 1;
        c.buffer_memory_constraints.permitted_heaps = &heap;
        struct h_rep rep;
        assert_true(negotiate_alone(&d, &c, &rep) < 0);
        if (!strstr(rep.message, "permit only 'dma-heap:system'"))
                fail_msg("unclear failure: %s", rep.message);
        h_daemon_stop(&d);
}

int main(void) {
        if (access("/dev/dma_heap/system", F_OK) != 0 || access("/dev/udmabuf", F_OK) != 0) {
                printf("SKIP: no /dev/dma_heap/system or /dev/udmabuf here; run through scripts/vm-run.sh\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_heaps_listed, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_share_system_ram, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_share_udmabuf, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_share_dma_heap_system, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_share_drm_vgem, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_share_drm_virtio_gpu, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_contiguous_without_cma, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_udmabuf_limit, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_heap_selection, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_device_pairs, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("vm-heaps", tests, NULL, NULL);
}
