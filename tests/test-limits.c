/* test-limits.c: every cap sysmemd enforces, exactly at and just past the limit; never a crash or a hang. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)

static struct sysmem_node *cnode(struct sysmem_collection *c) { return sysmem_collection_node(c); }

/*
 * One participant (a non-shared collection) with these constraints. Returns the wait's result; on
 * success *ret_count gets the buffer count. The node's error and message are copied for the caller.
 */
static int negotiate_one(struct sysmem_allocator *a, const struct sysmem_constraints *c, uint32_t *ret_count,
                         enum sysmem_error *ret_error, char *message, size_t message_size) {
        struct sysmem_collection *coll;
        int r = sysmem_allocator_allocate_non_shared(a, &coll);
        if (r < 0)
                fail_msg("AllocateNonSharedCollection: %s", strerror(-r));
        assert_int_equal(sysmem_collection_set_constraints(coll, c), 0);
        struct sysmem_collection_info *info = NULL;
        r = h_wait_allocated(coll, H_TIMEOUT_MS, &info);
        *ret_error = sysmem_node_error(cnode(coll));
        snprintf(message, message_size, "%s", sysmem_node_error_message(cnode(coll)));
        if (r >= 0) {
                *ret_count = info->buffer_count;
                for (uint32_t i = 0; i < info->buffer_count; i++)
                        assert_true(info->buffers[i].fd >= 0);
                sysmem_collection_info_free(info);
                assert_int_equal(sysmem_collection_release(coll), 0);
        } else {
                sysmem_collection_close(coll);
        }
        return r;
}

static void expect_ok(struct sysmem_allocator *a, const struct sysmem_constraints *c, uint32_t count,
                      const char *what) {
        uint32_t got = 0;
        enum sysmem_error e;
        char msg[1100];
        if (negotiate_one(a, c, &got, &e, msg, sizeof msg) < 0)
                fail_msg("%s: failed with %s: %s", what, sysmem_error_name(e), msg);
        if (got != count)
                fail_msg("%s: %u buffers, expected %u", what, got, count);
}

static void expect_fail(struct sysmem_allocator *a, const struct sysmem_constraints *c, enum sysmem_error error,
                        const char *mention, const char *what) {
        uint32_t got = 0;
        enum sysmem_error e;
        char msg[1100];
        if (negotiate_one(a, c, &got, &e, msg, sizeof msg) >= 0)
                fail_msg("%s: succeeded with %u buffers; expected %s", what, got, sysmem_error_name(error));
        if (e != error)
                fail_msg("%s: failed with %s (%s); expected %s", what, sysmem_error_name(e), msg,
                         sysmem_error_name(error));
        if (mention && !strstr(msg, mention))
                fail_msg("%s: the explanation \"%s\" does not name the limit %s", what, msg, mention);
}

/* ---- buffer count: 64 at most ---- */

static void test_buffer_count_limit(void **state) {
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_allocator *a = h_connect(&d, "counter");
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 0, 4096);
        c.min_buffer_count = 64;
        expect_ok(a, &c, 64, "min_buffer_count 64");
        c.min_buffer_count = 65;
        expect_fail(a, &c, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "64", "min_buffer_count 65");
        c.min_buffer_count = 0;
        c.min_buffer_count_for_camping = 65;
        expect_fail(a, &c, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "64", "65 camping buffers");

        /* Across participants: 32 + 32 camping is fine, 32 + 33 is not. */
        for (uint32_t extra = 32; extra <= 33; extra++) {
                struct sysmem_token *root, *dup;
                uint32_t mask = SYSMEM_RIGHTS_SAME;
                assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
                assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
                struct sysmem_collection *c1, *c2;
                assert_int_equal(sysmem_token_bind(root, &c1), 0);
                assert_int_equal(sysmem_token_bind(dup, &c2), 0);
                struct sysmem_constraints k1 = h_cpu_constraints(CPU_RW, 32, 4096);
                struct sysmem_constraints k2 = h_cpu_constraints(CPU_RW, extra, 4096);
                assert_int_equal(sysmem_collection_set_constraints(c1, &k1), 0);
                assert_int_equal(sysmem_collection_set_constraints(c2, &k2), 0);
                struct sysmem_collection_info *info = NULL;
                int r = h_wait_allocated(c2, H_TIMEOUT_MS, &info);
                if (extra == 32) {
                        if (r < 0)
                                fail_msg("32 + 32 buffers failed: %s", sysmem_node_error_message(cnode(c2)));
                        assert_int_equal(info->buffer_count, 64);
                        sysmem_collection_info_free(info);
                        assert_int_equal(sysmem_collection_release(c1), 0);
                        assert_int_equal(sysmem_collection_release(c2), 0);
                } else {
                        if (r >= 0)
                                fail_msg("32 + 33 buffers were allocated");
                        assert_int_equal(sysmem_node_error(cnode(c2)), SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
                        sysmem_collection_close(c1);
                        sysmem_collection_close(c2);
                }
        }
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- bytes: per buffer, per collection, in total ---- */

static void test_max_buffer_bytes(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-buffer-bytes", "1048576", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "sizer");
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 2, 1048576);
        expect_ok(a, &c, 2, "buffers of exactly --max-buffer-bytes");
        c.buffer_memory_constraints.min_size_bytes = 1048577;
        expect_fail(a, &c, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "1048576", "one byte over --max-buffer-bytes");
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

static void test_max_collection_bytes(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-collection-bytes", "262144", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "sizer");
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 4, 65536);
        expect_ok(a, &c, 4, "4 x 64 KiB = exactly --max-collection-bytes");
        c.buffer_memory_constraints.min_size_bytes = 65537;
        expect_fail(a, &c, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "262144", "4 x (64 KiB + 1)");
        c.buffer_memory_constraints.min_size_bytes = 65536;
        c.min_buffer_count_for_camping = 5;
        expect_fail(a, &c, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "262144", "5 x 64 KiB");
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

static void test_max_total_bytes(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-total-bytes", "1048576", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "hog");

        /* One live collection takes exactly all of it. */
        struct sysmem_collection *hog;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &hog), 0);
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 4, 262144);
        assert_int_equal(sysmem_collection_set_constraints(hog, &c), 0);
        struct sysmem_collection_info *info = NULL;
        if (h_wait_allocated(hog, H_TIMEOUT_MS, &info) < 0)
                fail_msg("a collection of exactly --max-total-bytes failed: %s", sysmem_node_error_message(cnode(hog)));
        sysmem_collection_info_free(info);

        /* Then one more page is refused, naming the limit, and nothing else breaks. */
        struct sysmem_constraints small = h_cpu_constraints(CPU_RW, 1, 4096);
        expect_fail(a, &small, SYSMEM_ERROR_NO_MEMORY, "1048576", "one page past --max-total-bytes");
        assert_int_equal(sysmem_node_sync(cnode(hog)), 0);

        /* Released memory counts no more. */
        assert_int_equal(sysmem_collection_release(hog), 0);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        for (;;) {
                uint32_t got = 0;
                enum sysmem_error e;
                char msg[1100];
                if (negotiate_one(a, &c, &got, &e, msg, sizeof msg) >= 0)
                        break;
                if (e != SYSMEM_ERROR_NO_MEMORY || h_now_ms() > deadline)
                        fail_msg("after the release, a full-size collection still fails: %s: %s", sysmem_error_name(e),
                                 msg);
                usleep(5000); /* the release is handled asynchronously */
        }
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- nodes per collection ---- */

static void test_max_nodes_per_collection(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-nodes-per-collection", "4", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "duplicator");
        struct sysmem_token *root, *dups[3], *extra = NULL;
        uint32_t masks[3] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        /* 1 root + 2 = 3 nodes; then asking for 2 more at once would make 5. */
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, dups), 0);
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, &dups[2]), -ENOMEM);
        assert_int_equal(sysmem_node_error(sysmem_token_node(root)), SYSMEM_ERROR_NO_MEMORY);
        /* Exactly the limit: the fourth node. */
        assert_int_equal(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &dups[2]), 0);
        assert_int_equal(sysmem_node_sync(sysmem_token_node(root)), 0);
        /* One past it, from the root and from a child. */
        assert_int_equal(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &extra), -ENOMEM);
        assert_int_equal(sysmem_node_error(sysmem_token_node(root)), SYSMEM_ERROR_NO_MEMORY);
        assert_true(strstr(sysmem_node_error_message(sysmem_token_node(root)), "4") != NULL);
        assert_int_equal(sysmem_token_duplicate_sync(dups[0], 1, masks, &extra), -ENOMEM);

        /* The refusals failed nothing: every token still works and the negotiation completes. */
        assert_int_equal(sysmem_node_sync(sysmem_token_node(root)), 0);
        uint64_t id = 0, id2 = 0;
        assert_int_equal(sysmem_node_get_buffer_collection_id(sysmem_token_node(root), &id), 0);
        assert_int_equal(sysmem_node_get_buffer_collection_id(sysmem_token_node(dups[0]), &id2), 0);
        assert_int_equal(id, id2);
        struct sysmem_collection *colls[4];
        struct sysmem_token *all[4] = {root, dups[0], dups[1], dups[2]};
        struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 1, 4096);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(sysmem_token_bind(all[i], &colls[i]), 0);
                assert_int_equal(sysmem_collection_set_constraints(colls[i], &c), 0);
        }
        for (int i = 0; i < 4; i++) {
                struct sysmem_collection_info *info = NULL;
                if (h_wait_allocated(colls[i], H_TIMEOUT_MS, &info) < 0)
                        fail_msg("participant %d failed after a refused Duplicate: %s", i,
                                 sysmem_node_error_message(cnode(colls[i])));
                assert_int_equal(info->buffer_count, 4);
                sysmem_collection_info_free(info);
        }
        for (int i = 0; i < 4; i++)
                assert_int_equal(sysmem_collection_release(colls[i]), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- collections per connection, collections in all ---- */

static void test_max_collections_per_connection(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-collections-per-connection", "3", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "greedy");
        struct sysmem_allocator *b = h_connect(&d, "modest");
        struct sysmem_token *t[4] = {0};
        for (int i = 0; i < 3; i++)
                assert_int_equal(sysmem_allocator_allocate_shared(a, &t[i]), 0);
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t[3]), -ENOMEM);
        struct sysmem_collection *ns;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &ns), -ENOMEM);
        /* The connection itself is fine, and another connection has its own budget. */
        bool known = false;
        assert_int_equal(sysmem_allocator_validate_token(a, sysmem_node_get_fd(sysmem_token_node(t[0])), &known), 0);
        assert_true(known);
        assert_int_equal(sysmem_allocator_allocate_shared(b, &t[3]), 0);
        sysmem_token_close(t[3]);

        /* When one of its collections goes, the connection may create another. */
        sysmem_token_close(t[0]);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        int r;
        while ((r = sysmem_allocator_allocate_shared(a, &t[0])) == -ENOMEM && h_now_ms() < deadline)
                usleep(5000);
        if (r < 0)
                fail_msg("a freed collection slot was not given back: %s", strerror(-r));
        for (int i = 0; i < 3; i++)
                sysmem_token_close(t[i]);
        sysmem_allocator_free(a);
        sysmem_allocator_free(b);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

static void test_max_collections(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-collections", "2", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "one");
        struct sysmem_allocator *b = h_connect(&d, "two");
        struct sysmem_token *t1, *t2, *t3;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t1), 0);
        assert_int_equal(sysmem_allocator_allocate_shared(b, &t2), 0);
        assert_int_equal(sysmem_allocator_allocate_shared(b, &t3), -ENOMEM);
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t3), -ENOMEM);
        assert_int_equal(sysmem_node_sync(sysmem_token_node(t1)), 0);
        sysmem_token_close(t1);
        sysmem_token_close(t2);
        sysmem_allocator_free(a);
        sysmem_allocator_free(b);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- allocator connections ---- */

static void test_max_connections(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-connections", "3", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *conns[3];
        struct sysmem_token *t;
        for (int i = 0; i < 3; i++) {
                conns[i] = h_connect(&d, "regular");
                assert_int_equal(sysmem_allocator_allocate_shared(conns[i], &t), 0);
                sysmem_token_close(t);
        }
        /* The fourth is accepted by the kernel, then refused by the daemon: its first call fails. */
        struct sysmem_allocator *extra;
        assert_int_equal(sysmem_allocator_connect(d.socket, &extra), 0);
        int64_t start = h_now_ms();
        int r = sysmem_allocator_allocate_shared(extra, &t);
        if (r >= 0)
                fail_msg("a connection past --max-connections was served");
        if (h_now_ms() - start > 5000)
                fail_msg("the refusal took %lld ms", (long long)(h_now_ms() - start));
        sysmem_allocator_free(extra);

        /* The others keep working. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(sysmem_allocator_allocate_shared(conns[i], &t), 0);
                assert_int_equal(sysmem_node_sync(sysmem_token_node(t)), 0);
                sysmem_token_close(t);
        }
        /* And a slot given back can be taken again. */
        sysmem_allocator_free(conns[0]);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        for (;;) {
                assert_int_equal(sysmem_allocator_connect(d.socket, &conns[0]), 0);
                r = sysmem_allocator_allocate_shared(conns[0], &t);
                if (r >= 0)
                        break;
                sysmem_allocator_free(conns[0]);
                if (h_now_ms() > deadline)
                        fail_msg("a freed connection slot was not given back: %s", strerror(-r));
                usleep(5000);
        }
        sysmem_token_close(t);
        for (int i = 0; i < 3; i++)
                sysmem_allocator_free(conns[i]);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

int main(int argc, char **argv) {
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_buffer_count_limit, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_buffer_bytes, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_collection_bytes, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_total_bytes, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_nodes_per_collection, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_collections_per_connection, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_collections, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_max_connections, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
