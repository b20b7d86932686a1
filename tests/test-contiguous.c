/*
 * test-contiguous.c: the contiguity rules of aggregation, end to end, on sysmemd's test heap
 * (sysmemd --test-heaps: 'test:contiguous', which declares itself contiguous but hands out memfds).
 * No other heap in CI serves physically_contiguous_required, so without it these rules run nowhere.
 * Two-participant negotiations run the second participant in a forked process of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)
#define TEST_HEAP "test:contiguous"

static const char *const test_heaps_args[] = {"--test-heaps", NULL};

/* What one participant saw. */
struct outcome {
        int r;
        enum sysmem_error error;
        char message[H_MESSAGE_SIZE];
        uint32_t buffer_count;
        struct sysmem_buffer_memory_settings bms;
        ino_t ino;     /* of buffer 0 */
        char why[128]; /* a buffer that is not zero-filled, or a call that failed */
};

static struct sysmem_constraints constraints(bool contiguous, const struct sysmem_heap *permitted,
                                             uint32_t permitted_count) {
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 1, 64 * 1024);
        c.buffer_memory_constraints.physically_contiguous_required = contiguous;
        c.buffer_memory_constraints.permitted_heap_count = permitted_count;
        c.buffer_memory_constraints.permitted_heaps = permitted;
        return c;
}

/* Waits for the collection and records what this participant saw; closes or releases it. */
static void participate(struct sysmem_collection *coll, const struct sysmem_constraints *c, struct outcome *o) {
        memset(o, 0, sizeof *o);
        o->r = sysmem_collection_set_constraints(coll, c);
        struct sysmem_collection_info *info = NULL;
        if (o->r >= 0)
                o->r = h_wait_allocated(coll, H_TIMEOUT_MS, &info);
        o->error = sysmem_node_error(sysmem_collection_node(coll));
        snprintf(o->message, sizeof o->message, "%s", sysmem_node_error_message(sysmem_collection_node(coll)));
        if (o->r < 0) {
                sysmem_collection_close(coll);
                return;
        }
        o->buffer_count = info->buffer_count;
        o->bms = info->settings.buffer_settings;
        struct stat st;
        if (info->buffer_count == 0 || fstat(info->buffers[0].fd, &st) < 0)
                snprintf(o->why, sizeof o->why, "no buffer 0 to stat");
        else
                o->ino = st.st_ino;
        for (uint32_t i = 0; i < info->buffer_count && !o->why[0]; i++)
                if (h_verify_zero(info->buffers[i].fd, o->bms.raw_vmo_size, o->why, sizeof o->why) < 0)
                        break;
        sysmem_collection_info_free(info);
        if (sysmem_collection_release(coll) < 0 && !o->why[0])
                snprintf(o->why, sizeof o->why, "Release failed");
}

/*
 * One shared collection of two participants: this process with c1, a forked one with c2 (the token
 * travels as an inherited fd; the outcome comes back through a pipe).
 */
static void negotiate_pair(struct h_daemon *d, const struct sysmem_constraints *c1, const struct sysmem_constraints *c2,
                           struct outcome *o1, struct outcome *o2) {
        struct sysmem_allocator *a = h_connect(d, "first");
        struct sysmem_token *root, *dup;
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        int dup_fd = sysmem_token_to_fd(dup);
        assert_true(dup_fd >= 0);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* No cmocka here: the outcome, whatever it is, goes to the parent, which judges it. */
                close(p[0]);
                struct outcome o = {0};
                struct sysmem_token *t;
                struct sysmem_collection *coll;
                if ((o.r = sysmem_token_from_fd(dup_fd, &t)) < 0 || (o.r = sysmem_token_bind(t, &coll)) < 0)
                        snprintf(o.why, sizeof o.why, "cannot bind the token: %s", strerror(-o.r));
                else
                        participate(coll, c2, &o);
                _exit(write(p[1], &o, sizeof o) == (ssize_t)sizeof o ? 0 : 1);
        }
        close(p[1]);
        close(dup_fd);
        struct sysmem_collection *coll;
        assert_int_equal(sysmem_token_bind(root, &coll), 0);
        participate(coll, c1, o1);
        memset(o2, 0, sizeof *o2);
        assert_true(h_poll_readable(p[0], H_TIMEOUT_MS));
        assert_int_equal(read(p[0], o2, sizeof *o2), (ssize_t)sizeof *o2);
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        sysmem_allocator_free(a);
}

static void expect_on(const struct outcome *o, const char *who, const char *heap, bool contiguous) {
        if (o->r < 0)
                fail_msg("%s: failed with %s: %s", who, sysmem_error_name(o->error), o->message);
        if (o->why[0])
                fail_msg("%s: %s", who, o->why);
        if (strcmp(o->bms.heap.heap_type, heap) != 0)
                fail_msg("%s: allocated on '%s', expected '%s'", who, o->bms.heap.heap_type, heap);
        if (o->bms.is_physically_contiguous != contiguous)
                fail_msg("%s: is_physically_contiguous is %d, expected %d", who, o->bms.is_physically_contiguous,
                         contiguous);
        assert_int_equal(o->bms.coherency_domain, SYSMEM_COHERENCY_DOMAIN_CPU);
        assert_int_equal(o->buffer_count, 2); /* camping 1 from each */
}

static void expect_failure(const struct outcome *o, const char *who, const char *mention) {
        if (o->r >= 0)
                fail_msg("%s: allocated on '%s'; expected CONSTRAINTS_INTERSECTION_EMPTY", who, o->bms.heap.heap_type);
        if (o->error != SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY)
                fail_msg("%s: failed with %s (%s); expected CONSTRAINTS_INTERSECTION_EMPTY", who,
                         sysmem_error_name(o->error), o->message);
        if (mention && !strstr(o->message, mention))
                fail_msg("%s: the explanation \"%s\" does not name %s", who, o->message, mention);
}

/* Whether the daemon offers the test heap, and with which flags. */
static bool offers_test_heap(struct h_daemon *d, uint32_t *ret_flags) {
        struct sysmem_allocator *a = h_connect(d, "lister");
        struct sysmem_heap_info infos[SYSMEM_MAX_HEAPS];
        size_t count = 0;
        assert_int_equal(sysmem_allocator_get_heaps(a, infos, SYSMEM_MAX_HEAPS, &count), 0);
        bool found = false;
        for (size_t i = 0; i < count && i < SYSMEM_MAX_HEAPS; i++)
                if (strcmp(infos[i].heap.heap_type, TEST_HEAP) == 0) {
                        found = true;
                        if (ret_flags)
                                *ret_flags = infos[i].flags;
                }
        /* system-ram stays the first heap: the test heap is the last of the registration order. */
        assert_true(count > 0);
        assert_string_equal(infos[0].heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        sysmem_allocator_free(a);
        return found;
}

/* ---- the option: off by default, only an exact name enables it, and it says so in the log ---- */

static void test_option(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        assert_false(offers_test_heap(&d, NULL));
        h_daemon_stop(&d);

        static const char *const star[] = {"--heaps", "*", NULL};
        h_daemon_start(&d, star);
        assert_false(offers_test_heap(&d, NULL)); /* no wildcard matches a test heap */
        h_daemon_stop(&d);

        static const char *const named[] = {"--heaps", TEST_HEAP, NULL};
        h_daemon_start(&d, named);
        assert_true(offers_test_heap(&d, NULL)); /* and its entry leaves the rest as it is: system-ram first */
        h_daemon_stop(&d);

        static const char *const removed[] = {"--heaps", "-test:*", "--test-heaps", NULL};
        h_daemon_start(&d, removed);
        assert_false(offers_test_heap(&d, NULL));
        h_daemon_stop(&d);

        static const char *const logged[] = {"--test-heaps", "--log-level", "warning", NULL};
        h_daemon_start_logged(&d, logged);
        uint32_t flags = 0;
        assert_true(offers_test_heap(&d, &flags));
        assert_true(flags & SYSMEM_HEAP_FLAG_CONTIGUOUS);
        assert_false(flags & SYSMEM_HEAP_FLAG_SECURE);
        static const char *const warning[] = {TEST_HEAP, "FOR TESTS ONLY", "NOT physically contiguous", NULL};
        assert_true(h_daemon_log_wait(&d, warning, H_TIMEOUT_MS));
        h_daemon_stop(&d);
}

/* ---- contiguous and non-contiguous participants ---- */

static void test_contiguous_and_not(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, test_heaps_args);
        struct sysmem_constraints contig = constraints(true, NULL, 0), plain = constraints(false, NULL, 0);
        struct outcome o1, o2;
        negotiate_pair(&d, &contig, &plain, &o1, &o2);
        expect_on(&o1, "the contiguous participant", TEST_HEAP, true);
        expect_on(&o2, "the other participant", TEST_HEAP, true);
        assert_true(o1.ino == o2.ino); /* one collection: the same buffers */
        /* The other way round: which participant asks does not matter. */
        negotiate_pair(&d, &plain, &contig, &o1, &o2);
        expect_on(&o1, "the other participant", TEST_HEAP, true);
        expect_on(&o2, "the contiguous participant", TEST_HEAP, true);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

static void test_without_option_fails(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_constraints contig = constraints(true, NULL, 0), plain = constraints(false, NULL, 0);
        struct outcome o1, o2;
        negotiate_pair(&d, &contig, &plain, &o1, &o2);
        expect_failure(&o1, "the contiguous participant", "physically_contiguous_required");
        expect_failure(&o2, "the other participant", "physically_contiguous_required");
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- permitted_heaps ---- */

static void test_permitted_heaps(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, test_heaps_args);
        static const struct sysmem_heap ram[] = {{.heap_type = SYSMEM_HEAP_SYSTEM_RAM}};
        static const struct sysmem_heap test[] = {{.heap_type = TEST_HEAP}};
        struct outcome o1, o2;

        /* The test heap is not permitted: nothing serves the contiguous participant. */
        struct sysmem_constraints contig = constraints(true, NULL, 0), ram_only = constraints(false, ram, 1);
        negotiate_pair(&d, &contig, &ram_only, &o1, &o2);
        expect_failure(&o1, "the contiguous participant", "physically_contiguous_required");
        expect_failure(&o2, "the system-ram participant", "permitted_heaps");

        /* Contiguity and the restriction from one participant. */
        struct sysmem_constraints contig_ram = constraints(true, ram, 1), plain = constraints(false, NULL, 0);
        negotiate_pair(&d, &contig_ram, &plain, &o1, &o2);
        expect_failure(&o1, "the contiguous system-ram participant", "physically_contiguous_required");

        /* Permitted by name: chosen, with or without contiguity (then is_physically_contiguous is false). */
        struct sysmem_constraints contig_test = constraints(true, test, 1);
        negotiate_pair(&d, &contig_test, &plain, &o1, &o2);
        expect_on(&o1, "the contiguous participant", TEST_HEAP, true);
        expect_on(&o2, "the other participant", TEST_HEAP, true);
        struct sysmem_constraints plain_test = constraints(false, test, 1);
        negotiate_pair(&d, &plain_test, &plain, &o1, &o2);
        expect_on(&o1, "the test-heap participant", TEST_HEAP, false);
        expect_on(&o2, "the other participant", TEST_HEAP, false);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- secure and contiguous: no heap is both ---- */

static void test_secure_contiguous_fails(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, test_heaps_args);
        struct sysmem_constraints c = {
                .usage.video = 1,
                .min_buffer_count_for_camping = 1,
                .buffer_memory_constraints = {.min_size_bytes = 64 * 1024,
                                              .physically_contiguous_required = true,
                                              .secure_required = true,
                                              .inaccessible_domain_supported = SYSMEM_TRUE},
        };
        struct sysmem_allocator *a = h_connect(&d, "secure");
        struct sysmem_collection *coll;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &coll), 0);
        struct outcome o;
        participate(coll, &c, &o);
        expect_failure(&o, "the secure contiguous participant", "secure_required");
        if (!strstr(o.message, "physically_contiguous_required"))
                fail_msg("the explanation \"%s\" does not name physically_contiguous_required", o.message);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- repeated allocations ---- */

static void test_repeated(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, test_heaps_args);
        struct sysmem_constraints contig = constraints(true, NULL, 0), plain = constraints(false, NULL, 0);
        struct outcome o1, o2;
        for (int i = 0; i < 5; i++) {
                negotiate_pair(&d, &contig, &plain, &o1, &o2);
                expect_on(&o1, "the contiguous participant", TEST_HEAP, true);
                expect_on(&o2, "the other participant", TEST_HEAP, true);
        }
        /* Several live at once, then freed and allocated again, on one connection. */
        struct sysmem_allocator *a = h_connect(&d, "repeat");
        for (int round = 0; round < 3; round++) {
                struct sysmem_collection *colls[4];
                struct sysmem_collection_info *infos[4];
                for (int i = 0; i < 4; i++) {
                        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &colls[i]), 0);
                        struct sysmem_constraints c = constraints(i % 2 == 0, NULL, 0);
                        c.min_buffer_count = 3;
                        assert_int_equal(sysmem_collection_set_constraints(colls[i], &c), 0);
                }
                for (int i = 0; i < 4; i++) {
                        assert_int_equal(h_wait_allocated(colls[i], H_TIMEOUT_MS, &infos[i]), 0);
                        const struct sysmem_buffer_memory_settings *b = &infos[i]->settings.buffer_settings;
                        assert_string_equal(b->heap.heap_type, i % 2 == 0 ? TEST_HEAP : SYSMEM_HEAP_SYSTEM_RAM);
                        assert_int_equal(b->is_physically_contiguous, i % 2 == 0);
                        assert_int_equal(infos[i]->buffer_count, 3);
                        char why[128];
                        for (uint32_t j = 0; j < infos[i]->buffer_count; j++) {
                                if (h_verify_zero(infos[i]->buffers[j].fd, b->raw_vmo_size, why, sizeof why) < 0)
                                        fail_msg("round %d collection %d buffer %u: %s", round, i, j, why);
                                assert_int_equal(
                                        h_write_pattern(infos[i]->buffers[j].fd, b->raw_vmo_size, (uint32_t)round, j),
                                        0);
                        }
                }
                for (int i = 0; i < 4; i++) {
                        sysmem_collection_info_free(infos[i]);
                        assert_int_equal(sysmem_collection_release(colls[i]), 0);
                }
        }
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- not needed, not chosen ---- */

static void test_plain_stays_on_system_ram(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, test_heaps_args);
        struct sysmem_constraints plain = constraints(false, NULL, 0);
        struct outcome o1, o2;
        negotiate_pair(&d, &plain, &plain, &o1, &o2);
        expect_on(&o1, "the first participant", SYSMEM_HEAP_SYSTEM_RAM, false);
        expect_on(&o2, "the second participant", SYSMEM_HEAP_SYSTEM_RAM, false);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_option, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_contiguous_and_not, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_without_option_fails, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_permitted_heaps, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_secure_contiguous_fails, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_repeated, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_plain_stays_on_system_ram, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
