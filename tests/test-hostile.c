/*
 * test-hostile.c: clients that try to lock the daemon up (issue 10), each reproduced against a real sysmemd:
 * the daemon stays up, the offender is refused or failed with a clear error, a well-behaved client is served
 * within a bound, and the daemon's fds are back to their baseline once the offender has gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "wire/messages.h"
#include "wire/wire.h"

#define COLLECTIONS 4

/* Sends fd (and a byte) into sock; 0 or -errno. */
static int post_fd(int sock, int fd) {
        return h_send_raw(sock, "x", 1, &fd, 1);
}

/*
 * The old AttachLifetimeTracking, with the client's fd as server_end (tag 1, an fd index) and tag 2
 * buffers_remaining: the collection's own node socket is sent, so that a daemon keeping it would keep
 * the collection alive forever.
 */
static int send_old_lifetime_tracking(int node_fd) {
        uint8_t buf[WIRE_HEADER_SIZE + 32] = {0};
        h_wire_header(buf, sizeof buf, WIRE_OP_ATTACH_LIFETIME_TRACKING, 0, 0, 1);
        uint8_t *f = buf + WIRE_HEADER_SIZE;
        f[0] = 1, f[2] = WIRE_FD, f[4] = 4; /* tag 1, fd, 4 bytes: index 0 */
        f += 16;
        f[0] = 2, f[2] = WIRE_U32, f[4] = 4, f[8] = 0; /* tag 2, u32 0 */
        return h_send_raw(node_fd, buf, sizeof buf, &node_fd, 1);
}

/*
 * The offender: fills the daemon's collection limit, and for each collection tries every way an fd it
 * sends could make the daemon keep the collection's own sockets: into its node ref, into its lifetime
 * tracking fd, and as the server_end of the old AttachLifetimeTracking. Exits with the number of sends the
 * daemon accepted (0 is the pass), then leaves without closing anything by hand.
 */
static int offender(struct h_daemon *d) {
        struct sysmem_allocator *a = NULL;
        if (sysmem_allocator_connect(d->socket, &a) < 0)
                return 100;
        int accepted = 0;
        for (int i = 0; i < COLLECTIONS; i++) {
                struct sysmem_token *t = NULL, *dup = NULL;
                struct sysmem_collection *c = NULL;
                if (sysmem_allocator_allocate_shared(a, &t) < 0 || sysmem_token_duplicate(t, 0, &dup) < 0 ||
                    sysmem_token_bind(t, &c) < 0)
                        return 101;
                int node_fd = sysmem_node_get_fd(sysmem_collection_node(c));
                int token_fd = sysmem_node_get_fd(sysmem_token_node(dup));
                int ref = -1, life = -1;
                if (sysmem_node_get_node_ref(sysmem_collection_node(c), &ref) < 0 ||
                    sysmem_collection_attach_lifetime_tracking(c, 0, &life) < 0)
                        return 102;
                int targets[] = {ref, life};
                for (size_t k = 0; k < 2; k++) {
                        int r1 = post_fd(targets[k], node_fd), r2 = post_fd(targets[k], token_fd);
                        accepted += (r1 != -EPIPE) + (r2 != -EPIPE);
                        if (r1 != -EPIPE || r2 != -EPIPE)
                                fprintf(stderr, "offender: sending into %s: %s / %s\n", k ? "lifetime fd" : "node ref",
                                        strerror(-r1), strerror(-r2));
                }
                /* Collection i % 2 also gets the old lifetime tracking (the codec refuses it: that node fails). */
                if (i % 2 == 1 && send_old_lifetime_tracking(node_fd) < 0)
                        return 103;
        }
        return accepted;
}

/* A well-behaved client fills the collection limit and gets buffers, within a bound. */
static void served(struct h_daemon *d, const char *who) {
        struct sysmem_allocator *a = h_connect(d, who);
        struct sysmem_collection *c[COLLECTIONS];
        int64_t start = h_now_ms();
        for (int i = 0; i < COLLECTIONS; i++) {
                int r = sysmem_allocator_allocate_non_shared(a, &c[i]);
                if (r < 0)
                        fail_msg("%s: collection %d of %d refused: %s", who, i + 1, COLLECTIONS, strerror(-r));
                struct sysmem_constraints k = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 4096);
                assert_int_equal(sysmem_collection_set_constraints(c[i], &k), 0);
                struct sysmem_collection_info *info = NULL;
                r = h_wait_allocated(c[i], H_TIMEOUT_MS, &info);
                if (r < 0)
                        fail_msg("%s: collection %d not allocated: %s", who, i + 1, strerror(-r));
                sysmem_collection_info_free(info);
        }
        int64_t took = h_now_ms() - start;
        print_message("%s: %d collections served in %lld ms\n", who, COLLECTIONS, (long long)took);
        for (int i = 0; i < COLLECTIONS; i++)
                sysmem_collection_close(c[i]);
        sysmem_allocator_free(a);
}

/* No fd a client sends can make the daemon keep a collection, or its own sockets, alive (an fd cycle). */
static void test_fd_cycles(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--max-collections", "4", NULL};
        h_daemon_start(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        for (int round = 0; round < 2; round++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0)
                        _exit(offender(&d));
                int status = 0;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 0)
                        fail_msg("round %d: the offender %s (status %d)", round,
                                 WEXITSTATUS(status) >= 100 ? "could not set up" : "could post fds into daemon sockets",
                                 WEXITSTATUS(status));
                assert_true(h_daemon_alive(&d));
                /* Once it has gone, everything it made is gone: the daemon holds what it held before. */
                h_daemon_expect_fds(&d, baseline);
                served(&d, "after the offender");
                h_daemon_expect_fds(&d, baseline);
        }
        h_daemon_stop(&d);
}

/*
 * BindSharedCollection serves the new collection at once: a client that keeps a copy of the token fd (a
 * dup, or one it passed on and never closed) does not hold it up. What it sent on the token before the bind
 * is handled first; the token's socket is closed.
 */
static void test_bind_shared_with_token_copy(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        int baseline = h_daemon_settled_fds(&d);
        struct sysmem_allocator *a = h_connect(&d, "binder");
        struct sysmem_token *t = NULL;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t), 0);
        assert_int_equal(sysmem_node_set_name(sysmem_token_node(t), 5, "named-before-bind"), 0);
        int copy = dup(sysmem_node_get_fd(sysmem_token_node(t)));
        assert_true(copy >= 0);
        struct sysmem_collection *c = NULL;
        assert_int_equal(sysmem_allocator_bind_shared(a, t, &c), 0);
        struct sysmem_constraints k = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        struct sysmem_collection_info *info = NULL;
        int64_t start = h_now_ms();
        int r = h_wait_allocated(c, H_TIMEOUT_MS, &info);
        if (r < 0)
                fail_msg("the bound collection was not served while a copy of the token is open: %s", strerror(-r));
        print_message("allocated %lld ms after the bind, with a copy of the token still open\n",
                      (long long)(h_now_ms() - start));
        sysmem_collection_info_free(info);
        /* The token's socket is closed by the daemon: the copy reads end-of-file. */
        assert_true(h_poll_readable(copy, H_TIMEOUT_MS));
        char byte;
        assert_int_equal(read(copy, &byte, 1), 0);
        close(copy);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, baseline);
        h_daemon_stop(&d);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fd_cycles, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_bind_shared_with_token_copy, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
