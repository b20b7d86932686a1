/* test-embedded.c: the server embedded in the test process (libsysmem-server) serving socketpair connections. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <sysmem/sysmem-server.h>

#include "harness.h"

#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)

/* The server runs on its own thread; only that thread touches it until it is joined. */
struct embedded {
        struct sysmem_server *server;
        pthread_t thread;
        atomic_bool stop;
        int dispatch_error;
};

static void *server_thread(void *userdata) {
        struct embedded *e = userdata;
        while (!atomic_load(&e->stop)) {
                /* A short timeout bounds how long stopping takes. */
                int r = sysmem_server_dispatch(e->server, 20000);
                if (r < 0) {
                        e->dispatch_error = r;
                        break;
                }
        }
        return NULL;
}

/* Hands the server the server end of a new socketpair and returns an allocator on the other end. */
static struct sysmem_allocator *embedded_connect(struct embedded *e, const char *name) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(sysmem_server_serve_connection(e->server, sv[0]), 0);
        struct sysmem_allocator *a = NULL;
        assert_int_equal(sysmem_allocator_from_fd(sv[1], &a), 0);
        assert_int_equal(sysmem_allocator_set_debug_client_info(a, name, 1), 0);
        return a;
}

static void test_embedded_server_negotiation(void **state) {
        struct embedded e = {0};
        assert_int_equal(sysmem_server_new(NULL, &e.server), 0);
        sysmem_server_set_log_level(e.server, getenv("SYSMEM_TEST_VERBOSE") ? SYSMEM_LOG_DEBUG : SYSMEM_LOG_ERROR);
        assert_true(sysmem_server_get_fd(e.server) >= 0);
        /* Connections are handed over before the thread starts: the server is not thread-safe. */
        struct sysmem_allocator *a1 = embedded_connect(&e, "driver");
        struct sysmem_allocator *a2 = embedded_connect(&e, "client");
        assert_int_equal(pthread_create(&e.thread, NULL, server_thread, &e), 0);

        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a1, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        bool known = false;
        assert_int_equal(sysmem_allocator_validate_token(a2, sysmem_node_get_fd(sysmem_token_node(dup)), &known), 0);
        assert_true(known);
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_allocator_bind_shared(a2, dup, &c2), 0);
        struct sysmem_constraints k1 = h_cpu_constraints(CPU_RW, 2, 12345);
        struct sysmem_constraints k2 = h_cpu_constraints(SYSMEM_CPU_USAGE_READ, 1, 1000);
        assert_int_equal(sysmem_collection_set_constraints(c1, &k1), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &k2), 0);
        struct sysmem_collection_info *i1 = NULL, *i2 = NULL;
        assert_int_equal(h_wait_allocated(c1, H_TIMEOUT_MS, &i1), 0);
        assert_int_equal(h_wait_allocated(c2, H_TIMEOUT_MS, &i2), 0);
        assert_int_equal(i1->buffer_count, 3);
        assert_int_equal(i1->settings.buffer_settings.size_bytes, 12345);
        assert_int_equal(i1->settings.buffer_settings.raw_vmo_size, h_page_round(12345));
        assert_int_equal(i1->buffer_collection_id, i2->buffer_collection_id);
        char why[256];
        uint64_t raw = i1->settings.buffer_settings.raw_vmo_size;
        for (uint32_t b = 0; b < 3; b++) {
                struct stat s1, s2;
                assert_int_equal(fstat(i1->buffers[b].fd, &s1), 0);
                assert_int_equal(fstat(i2->buffers[b].fd, &s2), 0);
                assert_int_equal(s1.st_ino, s2.st_ino);
                assert_int_equal(h_write_pattern(i1->buffers[b].fd, raw, 21, b), 0);
                if (h_verify_pattern(i2->buffers[b].fd, raw, 21, b, why, sizeof why) < 0)
                        fail_msg("%s", why);
        }
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(c1), 0);
        assert_int_equal(sysmem_collection_release(c2), 0);
        sysmem_allocator_free(a1);
        sysmem_allocator_free(a2);

        atomic_store(&e.stop, true);
        assert_int_equal(pthread_join(e.thread, NULL), 0);
        assert_int_equal(e.dispatch_error, 0);
        /* Freeing the server closes every fd it had; the fixture's leak check proves it. */
        sysmem_server_free(e.server);
}

static void test_embedded_server_free_with_live_objects(void **state) {
        struct embedded e = {0};
        assert_int_equal(sysmem_server_new(NULL, &e.server), 0);
        sysmem_server_set_log_level(e.server, SYSMEM_LOG_ERROR);
        struct sysmem_allocator *a = embedded_connect(&e, "left-behind");
        assert_int_equal(pthread_create(&e.thread, NULL, server_thread, &e), 0);
        struct sysmem_collection *c;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        assert_int_equal(h_wait_allocated(c, H_TIMEOUT_MS, NULL), 0);
        atomic_store(&e.stop, true);
        assert_int_equal(pthread_join(e.thread, NULL), 0);
        sysmem_server_free(e.server);
        /* The clients see their objects close. */
        assert_true(sysmem_node_sync(sysmem_collection_node(c)) < 0);
        struct sysmem_token *t;
        assert_true(sysmem_allocator_allocate_shared(a, &t) < 0);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
}

/*
 * The embedder keeps a copy of a connection fd it handed over (or a child forked from another thread holds
 * one): when the client leaves, the connection is closed and freed, and its socket, still open through the
 * copy, must not keep waking the loop (or name the freed connection: ASan would see that).
 */
static void test_embedder_copy_of_a_connection(void **state) {
        (void)state;
        struct sysmem_server *s;
        assert_int_equal(sysmem_server_new(NULL, &s), 0);
        sysmem_server_set_log_level(s, SYSMEM_LOG_ERROR);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        int copy = dup(sv[0]);
        assert_true(copy >= 0);
        assert_int_equal(sysmem_server_serve_connection(s, sv[0]), 0);
        close(sv[1]); /* the client leaves */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rounds = 0;
        for (; rounds < 10; rounds++)
                assert_true(sysmem_server_dispatch(s, 20000) >= 0); /* each may wait 20 ms */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* Closing takes a round or two; the rest wait their 20 ms because nothing is ready any more. */
        if (ms < 100.0)
                fail_msg("%d dispatches took %.1f ms: the closed connection's socket kept the loop busy", rounds, ms);
        sysmem_server_free(s);
        close(copy);
}

int main(int argc, char **argv) {
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_embedded_server_negotiation, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_embedded_server_free_with_live_objects, h_setup_no_daemon,
                                                h_teardown),
                cmocka_unit_test_setup_teardown(test_embedder_copy_of_a_connection, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("embedded", tests, NULL, NULL);
}
