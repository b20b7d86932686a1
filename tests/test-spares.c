/* test-spares.c: token sockets made ahead let AllocateSharedCollection skip its round trip, within bounds. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <sysmem/sysmem.h>

#include "wire/messages.h"

static char dir[64], path[96];
static pid_t daemon_pid;

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static int daemon_fds(void) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/fd", (int)daemon_pid);
        DIR *d = opendir(p);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/*
 * Polls until the daemon holds want fds (teardown of what a client closed is asynchronous; under
 * sanitizers and a loaded machine it can take a while). On a mismatch, says which fds they are.
 */
static int daemon_fds_settle(int want) {
        int n = -1;
        for (int i = 0; i < 1000 && (n = daemon_fds()) != want; i++)
                sleep_ms(10);
        if (n != want) {
                char cmd[96];
                snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd >&2", (int)daemon_pid);
                (void)!system(cmd);
                const char *ctl = getenv("SYSMEMCTL");
                if (ctl) {
                        char c2[256];
                        snprintf(c2, sizeof c2, "%s list --socket %s >&2", ctl, path);
                        (void)!system(c2);
                }
        }
        return n;
}

static int setup(void **state) {
        const char *sysmemd = getenv("SYSMEMD");
        if (!sysmemd)
                return -1;
        snprintf(dir, sizeof dir, "/tmp/sysmem-spares-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof path, "%s/socket", dir);
        daemon_pid = fork();
        if (daemon_pid == 0) {
                execl(sysmemd, sysmemd, "--socket", path, "--log-level", "error", (char *)NULL);
                _exit(127);
        }
        struct sysmem_allocator *a = NULL;
        for (int i = 0; i < 500 && sysmem_allocator_connect(path, &a) < 0; i++)
                sleep_ms(10);
        if (!a)
                return -1;
        /*
         * A connect succeeds as soon as the socket listens, before the daemon's loop has set up its
         * signal fd: one answered request proves the loop runs, so the fd counts below are stable.
         */
        bool known;
        int r = sysmem_allocator_validate_token(a, 0, &known);
        sysmem_allocator_free(a);
        /* And the daemon has closed that connection (and the fd it was shown) before anyone counts. */
        for (int i = 0, last = -1, same = 0; i < 200 && same < 5; i++) {
                int n = daemon_fds();
                same = n == last ? same + 1 : 0;
                last = n;
                sleep_ms(20);
        }
        return r;
}

static int teardown(void **state) {
        kill(daemon_pid, SIGCONT);
        kill(daemon_pid, SIGTERM);
        int st;
        waitpid(daemon_pid, &st, 0);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Two participants in this process: the root and its duplicate bind, set constraints and get the buffers. */
static void negotiate(struct sysmem_token *root, struct sysmem_token *dup) {
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_token_bind(dup, &c2), 0);
        struct sysmem_constraints k = {.usage = {.cpu = SYSMEM_CPU_USAGE_WRITE},
                                       .min_buffer_count_for_camping = 1,
                                       .buffer_memory_constraints = {.min_size_bytes = 8192}};
        assert_int_equal(sysmem_collection_set_constraints(c1, &k), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &k), 0);
        struct sysmem_collection_info *i1, *i2;
        assert_int_equal(sysmem_collection_wait_allocated(c1, &i1), 0);
        assert_int_equal(sysmem_collection_wait_allocated(c2, &i2), 0);
        assert_int_equal(i1->buffer_count, 2);
        assert_true(i1->buffer_collection_id == i2->buffer_collection_id);
        struct stat s1, s2;
        assert_int_equal(fstat(i1->buffers[1].fd, &s1), 0);
        assert_int_equal(fstat(i2->buffers[1].fd, &s2), 0);
        assert_true(s1.st_ino == s2.st_ino);
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(c1), 0);
        assert_int_equal(sysmem_collection_release(c2), 0);
}

/*
 * After the first round trip the daemon holds two spare sockets for this connection (root + one
 * duplicate); later calls use and refill them, and closing the connection gives them all back.
 */
static void test_spares_are_used_refilled_and_bounded(void **state) {
        int base = daemon_fds();
        struct sysmem_allocator *a;
        assert_int_equal(sysmem_allocator_connect(path, &a), 0);
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        for (int i = 0; i < 6; i++) {
                struct sysmem_token *root, *dup;
                assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
                negotiate(root, dup);
                /* the connection, plus the two spares made for its next call */
                assert_int_equal(daemon_fds_settle(base + 3), base + 3);
        }
        sysmem_allocator_free(a);
        assert_int_equal(daemon_fds_settle(base), base);
}

/* A connection whose first collection is negotiated, so that the daemon holds spares for it (SpareEnds arrived). */
static struct sysmem_allocator *connect_with_spares(void) {
        struct sysmem_allocator *a;
        assert_int_equal(sysmem_allocator_connect(path, &a), 0);
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        negotiate(root, dup);
        sleep_ms(50); /* let the SpareEnds event arrive: the next call uses spares */
        return a;
}

/*
 * The proof that no round trip is left: with the daemon stopped, the call still returns at once,
 * and the negotiation completes once it runs again.
 */
static void test_allocation_on_spares_needs_no_round_trip(void **state) {
        struct sysmem_allocator *a = connect_with_spares();
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        struct sysmem_token *root, *dup;
        assert_int_equal(kill(daemon_pid, SIGSTOP), 0);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        assert_int_equal(kill(daemon_pid, SIGCONT), 0);
        assert_true(ms < 500.0); /* a round trip would have waited for the stopped daemon */
        negotiate(root, dup);
        sysmem_allocator_free(a);
}

/*
 * A client sends on a spare before the daemon has read the request that makes it a node: the daemon end
 * had SO_PASSCRED from the start, so even those first messages name their sender (not pid 0).
 */
static void test_nodes_on_spares_name_their_sender(void **state) {
        const char *ctl = getenv("SYSMEMCTL");
        if (!ctl)
                skip();
        struct sysmem_allocator *a = connect_with_spares();
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_token_bind(dup, &c2), 0);
        struct sysmem_constraints k = {.usage = {.cpu = SYSMEM_CPU_USAGE_WRITE}};
        assert_int_equal(sysmem_collection_set_constraints(c1, &k), 0);
        assert_true(sysmem_collection_check_allocated(c1) < 0); /* a round trip: all of c1's messages were read */
        char cmd[256], out[8192] = "";
        snprintf(cmd, sizeof cmd, "%s list --socket %s", ctl, path);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        assert_int_equal(pclose(f), 0);
        char want[64];
        snprintf(want, sizeof want, "pid %d \"test-spares\"", (int)getpid());
        if (!strstr(out, want) || strstr(out, "pid 0 "))
                fail_msg("expected the nodes to name %s:\n%s", want, out);
        sysmem_collection_close(c1);
        sysmem_collection_close(c2);
        sysmem_allocator_free(a);
}

/* A request naming spares the connection does not have closes that connection, and only it. */
static void test_unknown_spare_closes_only_that_connection(void **state) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        static const uint64_t ids[] = {12345};
        struct wire_allocate_from_spares body = {.spare_ids = ids, .spare_id_count = 1};
        uint8_t buf[256];
        size_t len;
        uint32_t nfds;
        assert_int_equal(wire_encode(wire_message_lookup(WIRE_OP_ALLOCATE_SHARED_FROM_SPARES)->request,
                                     WIRE_OP_ALLOCATE_SHARED_FROM_SPARES, 0, 0, &body, buf, sizeof buf, &len, NULL, 0,
                                     &nfds),
                         0);
        assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
        /* An epitaph, then end of stream. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1);
        uint8_t rx[1024];
        ssize_t n = recv(fd, rx, sizeof rx, 0);
        assert_true(n >= (ssize_t)WIRE_HEADER_SIZE);
        uint16_t opcode, flags;
        uint32_t txid, hnfds;
        assert_int_equal(wire_peek_header(rx, (size_t)n, &opcode, &flags, &txid, &hnfds), 0);
        assert_int_equal(opcode, WIRE_OP_EPITAPH);
        assert_int_equal(poll(&p, 1, 2000), 1);
        assert_int_equal(recv(fd, rx, sizeof rx, 0), 0);
        close(fd);
        /* Everyone else carries on. */
        struct sysmem_allocator *a;
        assert_int_equal(sysmem_allocator_connect(path, &a), 0);
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        negotiate(root, dup);
        sysmem_allocator_free(a);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_spares_are_used_refilled_and_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allocation_on_spares_needs_no_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_spare_closes_only_that_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nodes_on_spares_name_their_sender, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
