/* test-negotiate.c: negotiation between real processes and a real sysmemd: counts, sizes, domains, shared memory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <drm_fourcc.h>

#include "harness.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)

static const struct sysmem_heap system_ram_heap[] = {{.heap_type = SYSMEM_HEAP_SYSTEM_RAM}};

/* ---- 1. table-driven negotiation between separate processes ---- */

enum role_mode { BIND_IN_PLACE, BIND_VIA_ALLOCATOR, RELEASE_TOKEN };

struct role {
        const char *name;
        enum role_mode mode;
        bool null_constraints;
        bool writer; /* writes the pattern every other participant with buffers then reads */
        struct sysmem_constraints c;
};

/* The expected values are worked out by hand from sysmem-aggregation.md §4, never read from a result. */
struct row {
        const char *name;
        unsigned role_count; /* roles[0] is the initiator */
        struct role roles[4];
        enum sysmem_error expect_error; /* INVALID: the negotiation succeeds */
        uint32_t count;
        uint64_t size;
        enum sysmem_coherency_domain domain;
};

#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)
#define CPU_R SYSMEM_CPU_USAGE_READ
#define MIN_SIZE(n) .buffer_memory_constraints.min_size_bytes = (n)

/* One participant per line reads better than the formatter's layout. */
/* clang-format off */
static const struct row rows[] = {
        {
                /* count = (2 + 3 + 1) camping + 1 dedicated + max(0, 0, 2) shared = 9; size = max(4096, 10000, 100) */
                .name = "camping, dedicated and shared slack add up",
                .role_count = 3,
                .roles = {
                        {"camera", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 2, MIN_SIZE(4096)}},
                        {"encoder", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 3,
                          .min_buffer_count_for_dedicated_slack = 1, MIN_SIZE(10000)}},
                        {"display", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          .min_buffer_count_for_shared_slack = 2, MIN_SIZE(100)}},
                },
                .count = 9, .size = 10000, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* sum = 1 + 1 camping + max(0, 1, 2) shared = 4 < max(6, 0, 2) min_buffer_count = 6 <= min(8, 10) */
                .name = "min_buffer_count dominates the sum",
                .role_count = 3,
                .roles = {
                        {"producer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1, .min_buffer_count = 6,
                          .max_buffer_count = 8, MIN_SIZE(100)}},
                        {"consumer-a", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          .min_buffer_count_for_shared_slack = 1, .max_buffer_count = 10, MIN_SIZE(5000)}},
                        {"consumer-b", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_shared_slack = 2, .min_buffer_count = 2,
                          MIN_SIZE(4097)}},
                },
                .count = 6, .size = 5000, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* No CPU usage anywhere, so RAM is allowed by default, and display usage picks RAM (§4.5). */
                .name = "display with vulkan and video gets the RAM domain",
                .role_count = 3,
                .roles = {
                        {"gpu", BIND_IN_PLACE, false, true,
                         {.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST | SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED,
                          .min_buffer_count_for_camping = 2, MIN_SIZE(65536)}},
                        {"scanout", BIND_IN_PLACE, false, false,
                         {.usage.display = SYSMEM_DISPLAY_USAGE_LAYER, .min_buffer_count_for_camping = 1,
                          MIN_SIZE(65535)}},
                        {"encoder", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.video = SYSMEM_VIDEO_USAGE_HW_ENCODER, .min_buffer_count_for_camping = 1,
                          MIN_SIZE(1)}},
                },
                .count = 4, .size = 65536, .domain = SYSMEM_COHERENCY_DOMAIN_RAM,
        },
        {
                /* CPU usage makes ram_domain_supported default to false, so display cannot pick RAM: CPU. */
                .name = "display with a CPU user stays in the CPU domain",
                .role_count = 3,
                .roles = {
                        {"renderer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1, MIN_SIZE(8192)}},
                        {"scanout", BIND_IN_PLACE, false, false,
                         {.usage.display = SYSMEM_DISPLAY_USAGE_LAYER, .min_buffer_count_for_camping = 2,
                          MIN_SIZE(8000)}},
                        {"sampler", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED, .min_buffer_count_for_camping = 1}},
                },
                .count = 4, .size = 8192, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* The participant without constraints counts, adds nothing, and gets buffer_count fds of -1. */
                .name = "a participant with no constraints gets no fds",
                .role_count = 3,
                .roles = {
                        {"writer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 2, MIN_SIZE(3000)}},
                        {"observer", BIND_IN_PLACE, true, false, {.min_buffer_count = 0}},
                        {"reader", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1, MIN_SIZE(1000)}},
                },
                .count = 3, .size = 3000, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* A released token does not block allocation and contributes nothing. */
                .name = "a participant releases its token instead of binding",
                .role_count = 3,
                .roles = {
                        {"writer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1, MIN_SIZE(4096)}},
                        {"quitter", RELEASE_TOKEN, false, false, {.min_buffer_count = 0}},
                        {"reader", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 2, MIN_SIZE(20000)}},
                },
                .count = 3, .size = 20000, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* Every participant explicitly allows RAM, and there is display usage: RAM. */
                .name = "explicit RAM support with display usage gets RAM",
                .role_count = 3,
                .roles = {
                        {"writer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1,
                          .buffer_memory_constraints = {.min_size_bytes = 4096, .cpu_domain_supported = SYSMEM_TRUE,
                                                        .ram_domain_supported = SYSMEM_TRUE}}},
                        {"scanout", BIND_IN_PLACE, false, false,
                         {.usage.display = SYSMEM_DISPLAY_USAGE_LAYER, .min_buffer_count_for_camping = 1,
                          MIN_SIZE(4096)}},
                        {"reader", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          .buffer_memory_constraints = {.min_size_bytes = 4096,
                                                        .ram_domain_supported = SYSMEM_TRUE}}},
                },
                .count = 3, .size = 4096, .domain = SYSMEM_COHERENCY_DOMAIN_RAM,
        },
        {
                /* count = 2 + 2 = 4 = min(4, 4, 5) max: exactly at the limit; the permitted heap is system-ram. */
                .name = "count exactly at max_buffer_count, heap permitted explicitly",
                .role_count = 3,
                .roles = {
                        {"writer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 2, .max_buffer_count = 4,
                          .buffer_memory_constraints = {.min_size_bytes = 4096, .permitted_heap_count = 1,
                                                        .permitted_heaps = system_ram_heap}}},
                        {"reader", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 2, .max_buffer_count = 4}},
                        {"other", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .max_buffer_count = 5,
                          .buffer_memory_constraints = {.permitted_heap_count = 1,
                                                        .permitted_heaps = system_ram_heap}}},
                },
                .count = 4, .size = 4096, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* count = 1 + 1 camping + 2 dedicated = 4; size = 4095 (not page-rounded), raw 4096. */
                .name = "four participants, mixed binds, size below a page",
                .role_count = 4,
                .roles = {
                        {"writer", BIND_IN_PLACE, false, true,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1, MIN_SIZE(1)}},
                        {"reader-a", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1, MIN_SIZE(4095)}},
                        {"observer", BIND_VIA_ALLOCATOR, true, false, {.min_buffer_count = 0}},
                        {"reader-b", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_dedicated_slack = 2}},
                },
                .count = 4, .size = 4095, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
        },
        {
                /* 2 + 2 camping = 4 > max 3: nobody gets buffers. */
                .name = "count above max_buffer_count fails everyone",
                .role_count = 3,
                .roles = {
                        {"greedy-a", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 2, .max_buffer_count = 3,
                          MIN_SIZE(4096)}},
                        {"greedy-b", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 2}},
                        {"bystander", BIND_VIA_ALLOCATOR, false, false, {.usage.cpu = CPU_R}},
                },
                .expect_error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY,
        },
        {
                /* min size 8192 > another participant's max size 4096. */
                .name = "min size above another's max size fails everyone",
                .role_count = 2,
                .roles = {
                        {"big", BIND_IN_PLACE, false, false,
                         {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1, MIN_SIZE(8192)}},
                        {"small", BIND_VIA_ALLOCATOR, false, false,
                         {.usage.cpu = CPU_R, .buffer_memory_constraints.max_size_bytes = 4096}},
                },
                .expect_error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY,
        },
};
/* clang-format on */

#define ROW_FAIL(row, fmt, ...) fail_msg("row \"%s\": " fmt, (row)->name, ##__VA_ARGS__)

static void check_row_result(const struct row *row, const struct h_rep *reps, const bool *bound) {
        uint64_t raw = h_page_round(row->size);
        const struct h_rep *ref = NULL; /* the first participant that got buffer fds */
        uint64_t id = 0;
        for (unsigned i = 0; i < row->role_count; i++) {
                const struct role *ro = &row->roles[i];
                const struct h_rep *r = &reps[i];
                if (!bound[i])
                        continue;
                if (r->r < 0)
                        ROW_FAIL(row, "%s: wait failed: %s (%s: %s)", ro->name, strerror(-r->r),
                                 sysmem_error_name(r->error), r->message);
                if (r->buffer_count != row->count)
                        ROW_FAIL(row, "%s: %u buffers, expected %u", ro->name, r->buffer_count, row->count);
                if (r->size_bytes != row->size)
                        ROW_FAIL(row, "%s: size_bytes %llu, expected %llu", ro->name, (unsigned long long)r->size_bytes,
                                 (unsigned long long)row->size);
                if (r->raw_vmo_size != raw)
                        ROW_FAIL(row, "%s: raw_vmo_size %llu, expected %llu", ro->name,
                                 (unsigned long long)r->raw_vmo_size, (unsigned long long)raw);
                if (r->coherency_domain != row->domain)
                        ROW_FAIL(row, "%s: coherency domain %u, expected %u", ro->name, r->coherency_domain,
                                 row->domain);
                if (strcmp(r->heap, SYSMEM_HEAP_SYSTEM_RAM) || r->heap_id != 0)
                        ROW_FAIL(row, "%s: heap %s/%llu, expected %s/0", ro->name, r->heap,
                                 (unsigned long long)r->heap_id, SYSMEM_HEAP_SYSTEM_RAM);
                if (r->id == 0 || (id && r->id != id))
                        ROW_FAIL(row, "%s: buffer_collection_id %llu, others see %llu", ro->name,
                                 (unsigned long long)r->id, (unsigned long long)id);
                id = r->id;
                for (uint32_t b = 0; b < row->count; b++) {
                        if (ro->null_constraints) {
                                if (r->fd_present[b])
                                        ROW_FAIL(row, "%s (no constraints) got an fd for buffer %u", ro->name, b);
                                continue;
                        }
                        if (!r->fd_present[b])
                                ROW_FAIL(row, "%s: no fd for buffer %u", ro->name, b);
                        if ((uint64_t)r->st_size[b] != raw)
                                ROW_FAIL(row, "%s: buffer %u fd is %lld bytes, raw_vmo_size %llu", ro->name, b,
                                         (long long)r->st_size[b], (unsigned long long)raw);
                        if (ref && ref->ino[b] != r->ino[b])
                                ROW_FAIL(row, "%s: buffer %u is inode %llu, another participant has %llu", ro->name, b,
                                         (unsigned long long)r->ino[b], (unsigned long long)ref->ino[b]);
                        for (uint32_t o = 0; o < b; o++)
                                if (r->ino[o] == r->ino[b])
                                        ROW_FAIL(row, "%s: buffers %u and %u are the same inode", ro->name, o, b);
                }
                if (!ro->null_constraints && !ref)
                        ref = r;
        }
        if (!ref)
                ROW_FAIL(row, "no participant got buffers");
}

static void run_row(struct h_daemon *d, const struct row *row, uint32_t seed) {
        struct h_agent agents[4];
        struct h_rep reps[4], rep;
        bool bound[4] = {0};
        unsigned n = row->role_count;
        for (unsigned i = 0; i < n; i++)
                h_agent_spawn(&agents[i], d, row->roles[i].name);

        /* The initiator creates the collection and hands the others tokens through this process. */
        h_agent_cmd(&agents[0], H_ALLOC_SHARED, 0, &rep);
        if (rep.r < 0)
                ROW_FAIL(row, "AllocateSharedCollection: %s", strerror(-rep.r));
        h_agent_cmd(&agents[0], H_DUP_SYNC, n - 1, &rep);
        if (rep.r < 0)
                ROW_FAIL(row, "DuplicateSync: %s", strerror(-rep.r));
        for (unsigned i = 1; i < n; i++) {
                int fd = h_recv_fd(agents[0].sock, H_TIMEOUT_MS);
                h_agent_take_token(&agents[i], fd, row->roles[i].name);
                close(fd);
        }

        for (unsigned i = 0; i < n; i++) {
                const struct role *ro = &row->roles[i];
                if (ro->mode == RELEASE_TOKEN) {
                        h_agent_cmd(&agents[i], H_RELEASE_TOKEN, 0, &rep);
                        assert_int_equal(rep.r, 0);
                        continue;
                }
                h_agent_cmd(&agents[i], ro->mode == BIND_IN_PLACE ? H_BIND : H_BIND_ALLOCATOR, 0, &rep);
                if (rep.r < 0)
                        ROW_FAIL(row, "%s: bind: %s", ro->name, strerror(-rep.r));
                h_agent_set_constraints(&agents[i], ro->null_constraints ? NULL : &ro->c);
                bound[i] = true;
        }
        /* Every wait is sent before any answer is read: they are all pending at once. */
        for (unsigned i = 0; i < n; i++)
                if (bound[i])
                        h_agent_send_cmd(&agents[i], H_WAIT, 0);
        for (unsigned i = 0; i < n; i++)
                if (bound[i])
                        h_agent_reply(&agents[i], &reps[i]);

        if (row->expect_error != SYSMEM_ERROR_INVALID) {
                for (unsigned i = 0; i < n; i++) {
                        if (!bound[i])
                                continue;
                        if (reps[i].r >= 0 || reps[i].error != row->expect_error)
                                ROW_FAIL(row, "%s: wait gave %d (%s), expected %s", row->roles[i].name, reps[i].r,
                                         sysmem_error_name(reps[i].error), sysmem_error_name(row->expect_error));
                }
        } else {
                check_row_result(row, reps, bound);
                /* One participant writes every buffer; every other one with buffers reads the same bytes. */
                for (unsigned i = 0; i < n; i++)
                        if (row->roles[i].writer) {
                                h_agent_cmd(&agents[i], H_WRITE, seed, &rep);
                                if (rep.r < 0)
                                        ROW_FAIL(row, "%s: writing: %s %s", row->roles[i].name, strerror(-rep.r),
                                                 rep.message);
                        }
                for (unsigned i = 0; i < n; i++) {
                        if (!bound[i] || row->roles[i].writer || row->roles[i].null_constraints)
                                continue;
                        h_agent_cmd(&agents[i], H_VERIFY, seed, &rep);
                        if (rep.r < 0)
                                ROW_FAIL(row, "%s: reading the writer's bytes: %s", row->roles[i].name, rep.message);
                }
                for (unsigned i = 0; i < n; i++)
                        if (bound[i]) {
                                h_agent_cmd(&agents[i], H_RELEASE_COLLECTION, 0, &rep);
                                assert_int_equal(rep.r, 0);
                        }
        }
        for (unsigned i = 0; i < n; i++)
                h_agent_stop(&agents[i]);
        /* Everything the collection held in the daemon is gone again. */
        h_daemon_expect_fds(d, d->baseline_fds);
}

static void test_negotiation_table(void **state) {
        struct h_daemon *d = DAEMON(state);
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
                run_row(d, &rows[i], (uint32_t)i + 1);
}

/* ---- 2. token paths ---- */

static uint64_t agent_id(struct h_agent *a) {
        struct h_rep rep;
        h_agent_cmd(a, H_GET_ID, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: GetBufferCollectionId: %s", a->name, strerror(-rep.r));
        return rep.id;
}

static void test_token_paths(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent init, relay, p_alloc, p_place, p_dup, p_dup_child;
        struct h_rep rep;
        h_agent_spawn(&init, d, "initiator");
        h_agent_spawn(&relay, d, "relay");
        h_agent_spawn(&p_alloc, d, "via-allocator");
        h_agent_spawn(&p_place, d, "in-place");
        h_agent_spawn(&p_dup, d, "duplicator");
        h_agent_spawn(&p_dup_child, d, "duplicate-child");

        h_agent_cmd(&init, H_ALLOC_SHARED, 0, &rep);
        assert_int_equal(rep.r, 0);
        uint64_t id = agent_id(&init);
        assert_true(id > 1);
        h_agent_cmd(&init, H_DUP_SYNC, 3, &rep);
        assert_int_equal(rep.r, 0);
        int fds[3];
        for (int i = 0; i < 3; i++)
                fds[i] = h_recv_fd(init.sock, H_TIMEOUT_MS);

        /* Two hops: initiator -> this process -> relay -> this process -> participant. */
        h_agent_take_token(&relay, fds[0], NULL);
        close(fds[0]);
        h_agent_cmd(&relay, H_GIVE_TOKEN, 0, &rep);
        assert_int_equal(rep.r, 0);
        int hopped = h_recv_fd(relay.sock, H_TIMEOUT_MS);
        h_agent_take_token(&p_alloc, hopped, NULL);
        close(hopped);
        assert_int_equal(agent_id(&p_alloc), id);
        h_agent_cmd(&p_alloc, H_BIND_ALLOCATOR, 0, &rep);
        assert_int_equal(rep.r, 0);

        h_agent_take_token(&p_place, fds[1], NULL);
        close(fds[1]);
        h_agent_cmd(&p_place, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);

        /* Duplicate (one-way, then Sync) from a token that is itself a duplicate. */
        h_agent_take_token(&p_dup, fds[2], NULL);
        close(fds[2]);
        h_agent_cmd(&p_dup, H_DUP, 0, &rep);
        assert_int_equal(rep.r, 0);
        int dup_fd = h_recv_fd(p_dup.sock, H_TIMEOUT_MS);
        h_agent_take_token(&p_dup_child, dup_fd, NULL);
        close(dup_fd);
        assert_int_equal(agent_id(&p_dup_child), id);
        h_agent_cmd(&p_dup, H_BIND_ALLOCATOR, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&p_dup_child, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&init, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);

        struct h_agent *parts[] = {&init, &p_alloc, &p_place, &p_dup, &p_dup_child};
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 1, 4096);
        for (size_t i = 0; i < 5; i++) {
                h_agent_set_constraints(parts[i], &c);
                h_agent_send_cmd(parts[i], H_WAIT, 0);
        }
        uint64_t ino0 = 0;
        for (size_t i = 0; i < 5; i++) {
                h_agent_reply(parts[i], &rep);
                if (rep.r < 0)
                        fail_msg("%s: wait: %s (%s)", parts[i]->name, strerror(-rep.r), rep.message);
                assert_int_equal(rep.buffer_count, 5);
                assert_int_equal(rep.id, id);
                if (i == 0)
                        ino0 = rep.ino[0];
                assert_int_equal(rep.ino[0], ino0);
                /* The id is the same on every bound collection too. */
                assert_int_equal(agent_id(parts[i]), id);
        }
        h_agent_cmd(&init, H_WRITE, 7, &rep);
        assert_int_equal(rep.r, 0);
        for (size_t i = 1; i < 5; i++) {
                h_agent_cmd(parts[i], H_VERIFY, 7, &rep);
                if (rep.r < 0)
                        fail_msg("%s: %s", parts[i]->name, rep.message);
        }
        for (size_t i = 0; i < 5; i++) {
                h_agent_cmd(parts[i], H_RELEASE_COLLECTION, 0, &rep);
                assert_int_equal(rep.r, 0);
                h_agent_stop(parts[i]);
        }
        h_agent_stop(&relay);
        h_daemon_expect_fds(d, d->baseline_fds);
}

static void test_non_shared_single_participant(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "solo");
        struct sysmem_collection *c;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        uint64_t id = 0;
        assert_int_equal(sysmem_node_get_buffer_collection_id(sysmem_collection_node(c), &id), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 3, 5000);
        assert_int_equal(sysmem_collection_set_constraints(c, &cons), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(c, H_TIMEOUT_MS, &info), 0);
        assert_int_equal(info->buffer_count, 3);
        assert_int_equal(info->settings.buffer_settings.size_bytes, 5000);
        assert_int_equal(info->settings.buffer_settings.raw_vmo_size, h_page_round(5000));
        assert_int_equal(info->buffer_collection_id, id);
        char why[256];
        for (uint32_t b = 0; b < 3; b++) {
                assert_true(info->buffers[b].fd >= 0);
                assert_int_equal(h_write_pattern(info->buffers[b].fd, h_page_round(5000), 3, b), 0);
                assert_int_equal(h_verify_pattern(info->buffers[b].fd, h_page_round(5000), 3, b, why, sizeof why), 0);
        }
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(c), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 3. ValidateBufferCollectionToken ---- */

/* Asks the daemon about fd, asserting a prompt answer. */
static bool validate(struct sysmem_allocator *a, int fd, const char *what) {
        int64_t start = h_now_ms();
        bool known = false;
        int r = sysmem_allocator_validate_token(a, fd, &known);
        int64_t took = h_now_ms() - start;
        if (r < 0)
                fail_msg("validating %s: %s", what, strerror(-r));
        if (took > 2000)
                fail_msg("validating %s took %lld ms", what, (long long)took);
        return known;
}

static void test_validate_token(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "validator");
        struct sysmem_token *root, *dups[2];
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, dups), 0);
        int root_fd = sysmem_node_get_fd(sysmem_token_node(root));
        int dup_fd = sysmem_node_get_fd(sysmem_token_node(dups[0]));
        assert_true(validate(a, root_fd, "the root token"));
        assert_true(validate(a, dup_fd, "a duplicated token"));

        /* Bound in place: the same socket is now a collection, not a token. */
        int kept = dup(dup_fd);
        assert_true(kept >= 0);
        struct sysmem_collection *coll;
        assert_int_equal(sysmem_token_bind(dups[0], &coll), 0);
        assert_int_equal(sysmem_node_sync(sysmem_collection_node(coll)), 0);
        assert_false(validate(a, kept, "a token after it was bound"));
        close(kept);
        assert_false(validate(a, sysmem_node_get_fd(sysmem_collection_node(coll)), "a collection"));

        int sv[2], pfd[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        assert_false(validate(a, sv[0], "a socketpair end"));
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        assert_false(validate(a, pfd[0], "a pipe"));
        int mfd = memfd_create("not-a-token", MFD_CLOEXEC);
        assert_true(mfd >= 0);
        assert_false(validate(a, mfd, "a memfd"));
        assert_false(validate(a, sysmem_allocator_get_fd(a), "an allocator connection"));
        close(sv[0]);
        close(sv[1]);
        close(pfd[0]);
        close(pfd[1]);
        close(mfd);

        /* A token of a collection that failed (its root closed without Release). */
        struct sysmem_token *root2, *orphan;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root2), 0);
        assert_int_equal(sysmem_token_duplicate_sync(root2, 1, masks, &orphan), 0);
        sysmem_token_close(root2);
        int orphan_fd = sysmem_node_get_fd(sysmem_token_node(orphan));
        if (!h_poll_readable(orphan_fd, H_TIMEOUT_MS))
                fail_msg("the surviving token of a failed collection got no epitaph");
        assert_false(validate(a, orphan_fd, "a token of a failed collection"));
        sysmem_token_close(orphan);

        /* Still a live token after all that; then the rest goes away. */
        assert_true(validate(a, sysmem_node_get_fd(sysmem_token_node(dups[1])), "the other duplicate"));
        sysmem_token_close(dups[1]);
        sysmem_collection_close(coll);
        sysmem_token_close(root);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 4. buffers are sealed and zeroed ---- */

static void test_buffers_sealed_and_zeroed(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent peer;
        struct h_rep rep;
        h_agent_spawn(&peer, d, "peer");
        struct sysmem_allocator *a = h_connect(d, "sealer");
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        int fd = sysmem_token_to_fd(dup);
        h_agent_take_token(&peer, fd, NULL);
        close(fd);
        h_agent_cmd(&peer, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 1, 10000);
        h_agent_set_constraints(&peer, &c);
        h_agent_send_cmd(&peer, H_WAIT, 0);

        struct sysmem_collection *coll;
        assert_int_equal(sysmem_token_bind(root, &coll), 0);
        c.min_buffer_count_for_camping = 2;
        assert_int_equal(sysmem_collection_set_constraints(coll, &c), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(coll, H_TIMEOUT_MS, &info), 0);
        h_agent_reply(&peer, &rep);
        assert_int_equal(rep.r, 0);
        assert_int_equal(info->buffer_count, 3);
        uint64_t raw = info->settings.buffer_settings.raw_vmo_size;
        assert_int_equal(raw, h_page_round(10000));

        /* Zeroed, in both processes, before anyone wrote. */
        h_agent_cmd(&peer, H_VERIFY_ZERO, 0, &rep);
        if (rep.r < 0)
                fail_msg("peer sees a non-zero fresh buffer: %s", rep.message);
        char why[256];
        for (uint32_t b = 0; b < info->buffer_count; b++) {
                int bfd = info->buffers[b].fd;
                assert_true(bfd >= 0);
                if (h_verify_zero(bfd, raw, why, sizeof why) < 0)
                        fail_msg("buffer %u is not zeroed: %s", b, why);
                int seals = fcntl(bfd, F_GET_SEALS);
                assert_true(seals >= 0);
                int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
                if ((seals & want) != want)
                        fail_msg("buffer %u has seals 0x%x, expected at least 0x%x", b, seals, want);
                errno = 0;
                assert_int_equal(ftruncate(bfd, 0), -1);
                assert_int_equal(errno, EPERM);
                assert_int_equal(ftruncate(bfd, (off_t)raw * 2), -1);
                assert_int_equal(errno, EPERM);
                assert_int_equal(fcntl(bfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
                assert_int_equal(errno, EPERM);
                struct stat st;
                assert_int_equal(fstat(bfd, &st), 0);
                assert_int_equal(st.st_size, raw);
        }

        /* Writes in this process are seen by the peer, and the other way round. */
        for (uint32_t b = 0; b < info->buffer_count; b++)
                assert_int_equal(h_write_pattern(info->buffers[b].fd, raw, 11, b), 0);
        h_agent_cmd(&peer, H_VERIFY, 11, &rep);
        if (rep.r < 0)
                fail_msg("peer does not see this process's bytes: %s", rep.message);
        h_agent_cmd(&peer, H_WRITE, 12, &rep);
        assert_int_equal(rep.r, 0);
        for (uint32_t b = 0; b < info->buffer_count; b++)
                if (h_verify_pattern(info->buffers[b].fd, raw, 12, b, why, sizeof why) < 0)
                        fail_msg("this process does not see the peer's bytes: %s", why);

        sysmem_collection_info_free(info);
        h_agent_cmd(&peer, H_RELEASE_COLLECTION, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_stop(&peer);
        assert_int_equal(sysmem_collection_release(coll), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 5. CheckAllBuffersAllocated, and the async wait driven by poll() ---- */

struct async_result {
        int calls;
        int result;
        struct sysmem_collection_info *info;
};

static void on_allocated(struct sysmem_collection *c, int result, struct sysmem_collection_info *info, void *userdata) {
        struct async_result *ar = userdata;
        ar->calls++;
        ar->result = result;
        ar->info = info;
}

static void test_check_allocated_and_async_wait(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "poller");
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_allocator_bind_shared(a, dup, &c2), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 2, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c1, &cons), 0);

        /* Pending is an answer, not a failure of the node. */
        assert_int_equal(sysmem_collection_check_allocated(c1), -EAGAIN);
        assert_int_equal(sysmem_node_error(sysmem_collection_node(c1)), SYSMEM_ERROR_INVALID);
        assert_int_equal(sysmem_collection_check_allocated(c2), -EAGAIN);

        struct async_result ar = {0};
        struct sysmem_node *n1 = sysmem_collection_node(c1);
        assert_int_equal(sysmem_collection_wait_allocated_async(c1, on_allocated, &ar), 0);
        /* Nothing to do yet: the socket stays quiet and dispatching runs no callback. */
        assert_false(h_poll_readable(sysmem_node_get_fd(n1), 100));
        assert_int_equal(sysmem_node_dispatch(n1), 0);
        assert_int_equal(ar.calls, 0);

        cons.min_buffer_count_for_camping = 1;
        assert_int_equal(sysmem_collection_set_constraints(c2, &cons), 0);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        while (ar.calls == 0) {
                if (!h_poll_readable(sysmem_node_get_fd(n1), (int)(deadline - h_now_ms())))
                        fail_msg("the node's fd never became readable after allocation");
                assert_int_equal(sysmem_node_dispatch(n1), 0);
        }
        assert_int_equal(ar.calls, 1);
        assert_int_equal(ar.result, 0);
        assert_non_null(ar.info);
        assert_int_equal(ar.info->buffer_count, 3);

        assert_int_equal(sysmem_collection_check_allocated(c1), 0);
        assert_int_equal(sysmem_collection_check_allocated(c2), 0);
        struct sysmem_collection_info *info2 = NULL;
        assert_int_equal(h_wait_allocated(c2, H_TIMEOUT_MS, &info2), 0);
        assert_int_equal(info2->buffer_collection_id, ar.info->buffer_collection_id);
        struct stat s1, s2;
        assert_int_equal(fstat(ar.info->buffers[2].fd, &s1), 0);
        assert_int_equal(fstat(info2->buffers[2].fd, &s2), 0);
        assert_int_equal(s1.st_ino, s2.st_ino);
        /* A second wait after allocation answers at once. */
        struct sysmem_collection_info *again = NULL;
        assert_int_equal(h_wait_allocated(c1, H_TIMEOUT_MS, &again), 0);
        assert_int_equal(again->buffer_count, 3);
        sysmem_collection_info_free(again);
        sysmem_collection_info_free(ar.info);
        sysmem_collection_info_free(info2);
        assert_int_equal(sysmem_collection_release(c1), 0);
        assert_int_equal(sysmem_collection_release(c2), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 6. Release after SetConstraints keeps the constraints; a full release frees everything ---- */

static void test_release_after_constraints_still_counts(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent leaver, stayer;
        struct h_rep rep;
        h_agent_spawn(&leaver, d, "leaver");
        h_agent_spawn(&stayer, d, "stayer");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root, *dups[2];
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, dups), 0);
        int fd = sysmem_token_to_fd(dups[0]);
        h_agent_take_token(&leaver, fd, NULL);
        close(fd);
        fd = sysmem_token_to_fd(dups[1]);
        h_agent_take_token(&stayer, fd, NULL);
        close(fd);

        /* The leaver asks for 3 camping buffers of 16 KiB, then leaves cleanly before allocation. */
        h_agent_cmd(&leaver, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        struct sysmem_constraints big = h_cpu_constraints(CPU_R, 3, 16384);
        h_agent_set_constraints(&leaver, &big);
        h_agent_cmd(&leaver, H_RELEASE_COLLECTION, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_stop(&leaver);

        h_agent_cmd(&stayer, H_BIND_ALLOCATOR, 0, &rep);
        assert_int_equal(rep.r, 0);
        struct sysmem_constraints small = h_cpu_constraints(CPU_R, 1, 4096);
        h_agent_set_constraints(&stayer, &small);
        h_agent_send_cmd(&stayer, H_WAIT, 0);
        struct sysmem_collection *coll;
        assert_int_equal(sysmem_token_bind(root, &coll), 0);
        struct sysmem_constraints mine = h_cpu_constraints(CPU_RW, 1, 100);
        assert_int_equal(sysmem_collection_set_constraints(coll, &mine), 0);
        struct sysmem_collection_info *info = NULL;
        int r = h_wait_allocated(coll, H_TIMEOUT_MS, &info);
        if (r < 0)
                fail_msg("allocation failed after a clean release: %s",
                         sysmem_node_error_message(sysmem_collection_node(coll)));
        h_agent_reply(&stayer, &rep);
        if (rep.r < 0)
                fail_msg("stayer failed after a clean release: %s", rep.message);
        /* 3 + 1 + 1 camping; 16 KiB from the participant that left. */
        assert_int_equal(info->buffer_count, 5);
        assert_int_equal(rep.buffer_count, 5);
        assert_int_equal(info->settings.buffer_settings.size_bytes, 16384);
        assert_int_equal(rep.size_bytes, 16384);
        sysmem_collection_info_free(info);

        h_agent_cmd(&stayer, H_RELEASE_COLLECTION, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_stop(&stayer);
        assert_int_equal(sysmem_collection_release(coll), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * A participant that sends Release and closes while an answer still sits unread in its socket leaves
 * cleanly too: the kernel tells the daemon "connection reset" before it hands over the queued Release.
 */
static void test_release_with_unread_reply_is_clean(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "hasty");
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        struct sysmem_collection *hasty, *stays;
        assert_int_equal(sysmem_token_bind(root, &hasty), 0);
        assert_int_equal(sysmem_allocator_bind_shared(a, dup, &stays), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(hasty, &cons), 0);
        struct async_result ar = {0};
        assert_int_equal(sysmem_collection_wait_allocated_async(hasty, on_allocated, &ar), 0);
        assert_int_equal(sysmem_collection_set_constraints(stays, &cons), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(stays, H_TIMEOUT_MS, &info), 0);
        /* The answer (with its fds) has arrived at the hasty participant, which never reads it. */
        assert_true(h_poll_readable(sysmem_node_get_fd(sysmem_collection_node(hasty)), H_TIMEOUT_MS));
        assert_int_equal(sysmem_collection_release(hasty), 0);
        assert_int_equal(ar.calls, 0);

        /* No epitaph comes for the one that stays, and it still works. */
        if (h_poll_readable(sysmem_node_get_fd(sysmem_collection_node(stays)), 300)) {
                int r = sysmem_node_sync(sysmem_collection_node(stays));
                fail_msg("a clean Release with an unread answer failed the collection (sync: %d, %s: %s)", r,
                         sysmem_error_name(sysmem_node_error(sysmem_collection_node(stays))),
                         sysmem_node_error_message(sysmem_collection_node(stays)));
        }
        assert_int_equal(sysmem_node_sync(sysmem_collection_node(stays)), 0);
        assert_int_equal(sysmem_collection_check_allocated(stays), 0);
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(stays), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* The handshake: the daemon says which protocol it speaks, the oldest it serves, and what it has. */
static void test_server_info(void **state) {
        struct h_daemon *d = &((struct h_fixture *)*state)->daemon;
        struct sysmem_allocator *a = h_connect(d, "handshake");
        struct sysmem_server_info info;
        memset(&info, 0xa5, sizeof info);
        assert_int_equal(sysmem_allocator_get_server_info(a, &info), 0);
        assert_int_equal(info.protocol_version, SYSMEM_PROTOCOL_VERSION);
        assert_true(info.min_protocol_version >= 1 && info.min_protocol_version <= info.protocol_version);
        assert_string_equal(info.version, SYSMEM_VERSION);
        assert_true(info.features & SYSMEM_FEATURE_HEAPS);
        assert_true(info.features & SYSMEM_FEATURE_SERVER_LIFETIME_FD);
        assert_int_equal(sysmem_protocol_version(), SYSMEM_PROTOCOL_VERSION);
        assert_string_equal(sysmem_library_version(), SYSMEM_VERSION);
        /* The connection goes on serving after it. */
        size_t count = 0;
        assert_int_equal(sysmem_allocator_get_heaps(a, NULL, 0, &count), 0);
        assert_true(count >= 1);
        assert_int_equal(sysmem_allocator_get_server_info(NULL, &info), -EINVAL);
        sysmem_allocator_free(a);
}

/*
 * The format cost table through a live daemon: XRGB8888 has the ARM AFBC costs of ARGB8888, so 16x16 (3600)
 * beats 32x8 (7600), which beats LINEAR (no entry), as sysmem2 orders them for the X formats too.
 */
static void test_x_variant_afbc_costs(void **state) {
        struct h_daemon *d = &((struct h_fixture *)*state)->daemon;
        static const uint32_t srgb[] = {SYSMEM_COLOR_SPACE_SRGB};
        const uint64_t afbc16 = DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16);
        const uint64_t afbc32 = DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8);
        const struct {
                struct sysmem_pixel_format_and_modifier pairs[3];
                uint32_t count;
                uint64_t want;
        } cases[] = {
                {{{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_XRGB8888, afbc32},
                  {DRM_FORMAT_XRGB8888, afbc16}}, 3, afbc16},
                {{{DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_XRGB8888, afbc32}}, 2, afbc32},
                {{{DRM_FORMAT_XBGR8888, DRM_FORMAT_MOD_LINEAR}, {DRM_FORMAT_XBGR8888, afbc16}}, 2, afbc16},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct sysmem_allocator *a = h_connect(d, "costs");
                struct sysmem_collection *c = NULL;
                assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
                struct sysmem_image_format_constraints ifc = {
                        .pixel_format_and_modifiers = cases[i].pairs,
                        .pixel_format_and_modifier_count = cases[i].count,
                        .color_spaces = srgb, .color_space_count = 1, .min_size = {640, 480}};
                struct sysmem_constraints k = {.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED,
                                               .min_buffer_count_for_camping = 1,
                                               .image_format_constraints = &ifc,
                                               .image_format_constraint_count = 1};
                assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
                struct sysmem_collection_info *info = NULL;
                assert_int_equal(h_wait_allocated(c, H_TIMEOUT_MS, &info), 0);
                const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
                if (f->pixel_format_modifier != cases[i].want)
                        fail_msg("case %zu: chose modifier 0x%016llx, want 0x%016llx", i,
                                 (unsigned long long)f->pixel_format_modifier, (unsigned long long)cases[i].want);
                sysmem_collection_info_free(info);
                sysmem_collection_close(c);
                sysmem_allocator_free(a);
        }
}

int main(int argc, char **argv) {
        /* An argument runs only the tests whose names match it (a cmocka pattern). */
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_negotiation_table, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_token_paths, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_non_shared_single_participant, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_validate_token, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_server_info, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_x_variant_afbc_costs, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_buffers_sealed_and_zeroed, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_check_allocated_and_async_wait, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_release_after_constraints_still_counts, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_release_with_unread_reply_is_clean, h_setup, h_teardown),
        };
        return cmocka_run_group_tests_name("negotiate", tests, NULL, NULL);
}
