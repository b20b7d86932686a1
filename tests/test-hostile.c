/*
 * test-hostile.c: clients that try to lock the daemon up (issue 10), each reproduced against a real sysmemd:
 * the daemon stays up, the offender is refused or failed with a clear error, a well-behaved client is served
 * within a bound, and the daemon's fds are back to their baseline once the offender has gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* The daemon's resident memory, in KiB (VmRSS). */
static long rss_kib(pid_t pid) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        long kib = -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* Resident memory the daemon may keep after an offender has gone (malloc keeps freed arenas). */
#define RSS_MARGIN_KIB 8192

/* Once the offender has gone the daemon holds the fds it held before, and about the memory. */
static void expect_back_to_baseline(struct h_daemon *d, int fds, long rss0) {
        h_daemon_expect_fds(d, fds);
        long rss = rss_kib(d->pid);
        print_message("daemon: %d fds, VmRSS %ld KiB (%+ld KiB since the start)\n", fds, rss, rss - rss0);
        if (rss - rss0 > RSS_MARGIN_KIB)
                fail_msg("sysmemd's VmRSS grew from %ld KiB to %ld KiB (margin %d KiB)", rss0, rss, RSS_MARGIN_KIB);
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
        long rss0 = rss_kib(d.pid);
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
                expect_back_to_baseline(&d, baseline, rss0);
                served(&d, "after the offender");
                expect_back_to_baseline(&d, baseline, rss0);
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
        long rss0 = rss_kib(d.pid);
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
        expect_back_to_baseline(&d, baseline, rss0);
        h_daemon_stop(&d);
}

/* Runs $SYSMEMD with args to completion (bounded), with preload (may be NULL) as LD_PRELOAD; its exit status, or -1. */
static int run_sysmemd_preloaded(const char *const *args, const char *preload, char *out, size_t out_size) {
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(pipefd[1], 2);
                close(pipefd[0]);
                if (preload) {
                        setenv("LD_PRELOAD", preload, 1);
                        /* Under ASan, its runtime must come first; the shim is not instrumented. */
                        char asan[512];
                        const char *o = getenv("ASAN_OPTIONS");
                        snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", o ? o : "", o && *o ? ":" : "");
                        setenv("ASAN_OPTIONS", asan, 1);
                }
                const char *argv[16] = {getenv("SYSMEMD")};
                for (int i = 0; args[i] && i < 14; i++)
                        argv[i + 1] = args[i];
                alarm(10);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(pipefd[1]);
        ssize_t n = 0, k;
        while (n < (ssize_t)out_size - 1 && (k = read(pipefd[0], out + n, out_size - 1 - (size_t)n)) > 0)
                n += k;
        out[n > 0 ? n : 0] = 0;
        close(pipefd[0]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_sysmemd(const char *const *args, char *out, size_t out_size) {
        return run_sysmemd_preloaded(args, NULL, out, out_size);
}

/* ---- per-user budgets: another uid is served while one has used its share ---- */

#define OTHER_UID 65534 /* nobody */

/* Runs fn in a child as OTHER_UID (the daemon's directory made reachable); its exit status, or -1. */
static int as_other_user(struct h_daemon *d, int (*fn)(struct h_daemon *d)) {
        assert_int_equal(chmod(d->dir, 0755), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgid(OTHER_UID) < 0 || setuid(OTHER_UID) < 0)
                        _exit(100);
                alarm(20);
                _exit(fn(d));
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One collection of 1 MiB, allocated; 0, or the errno. */
static int one_mib(struct sysmem_allocator *a, struct sysmem_collection **ret, char *why, size_t size) {
        int r = sysmem_allocator_allocate_non_shared(a, ret);
        if (r < 0) {
                snprintf(why, size, "refused: %s", strerror(-r));
                return -r;
        }
        struct sysmem_constraints k = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 1u << 20);
        if ((r = sysmem_collection_set_constraints(*ret, &k)) < 0)
                return -r;
        struct sysmem_collection_info *info = NULL;
        r = h_wait_allocated(*ret, H_TIMEOUT_MS, &info);
        const char *m = sysmem_node_error_message(sysmem_collection_node(*ret));
        snprintf(why, size, "%s", m ? m : "");
        sysmem_collection_info_free(info);
        return r < 0 ? -r : 0;
}

static int other_user_allocates(struct h_daemon *d) {
        struct sysmem_allocator *a = NULL;
        if (sysmem_allocator_connect(d->socket, &a) < 0)
                return 101;
        struct sysmem_collection *c[4];
        char why[1100];
        for (int i = 0; i < 4; i++)
                if (one_mib(a, &c[i], why, sizeof why) != 0) {
                        fprintf(stderr, "other user: collection %d: %s\n", i, why);
                        return 102;
                }
        sysmem_allocator_free(a);
        return 0;
}

/*
 * One user's buffer bytes, collections and connections are bounded by per-uid limits: its next one is
 * refused with a sentence naming the uid and the limit, and another user is served meanwhile.
 */
static void test_per_uid_budgets(void **state) {
        (void)state;
        if (geteuid() != 0) {
                print_message("skipped: switching to another uid needs root\n");
                return;
        }
        struct h_daemon d;
        const char *args[] = {"--max-bytes-per-uid", "4194304", "--max-collections-per-uid", "6",
                              "--max-connections-per-uid", "4", NULL};
        h_daemon_start(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "greedy"); /* the harness's warm-up connection has gone */
        struct sysmem_collection *c[6];
        char why[1100];
        for (int i = 0; i < 4; i++)
                if (one_mib(a, &c[i], why, sizeof why) != 0)
                        fail_msg("collection %d of 4 MiB: %s", i, why);
        /* Bytes: the fifth MiB is over uid 0's 4 MiB. */
        assert_int_equal(one_mib(a, &c[4], why, sizeof why), ENOMEM);
        if (!strstr(why, "uid 0 holds 4194304 bytes of buffers; 1048576 more would pass its limit of 4194304"))
                fail_msg("unclear refusal: %s", why);
        /* Another user is served: 4 MiB of its own. */
        int status = as_other_user(&d, other_user_allocates);
        if (status != 0)
                fail_msg("the other user was not served (status %d)", status);
        /*
         * Collections: the failed fifth no longer counts (a failed collection gives everything back), so
         * two more make uid 0's 6 live ones, and a seventh is refused at once.
         */
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c[5]), 0);
        struct sysmem_collection *extra = NULL, *refused = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &extra), 0);
        int r = sysmem_allocator_allocate_non_shared(a, &refused);
        assert_int_equal(r, -ENOMEM);
        sysmem_collection_close(extra);
        /* Connections: this one and three more are uid 0's 4; a fifth gets an epitaph and is closed. */
        struct sysmem_allocator *more[4] = {NULL};
        for (int i = 0; i < 4; i++) {
                assert_int_equal(sysmem_allocator_connect(d.socket, &more[i]), 0); /* connect() itself works */
                bool known = true;
                r = sysmem_allocator_validate_token(more[i], 0, &known);
                if (i < 3 && r < 0)
                        fail_msg("connection %d of uid 0's 4 was refused: %s", i + 2, strerror(-r));
                if (i == 3 && r == 0)
                        fail_msg("a fifth connection of uid 0 was served past its limit of 4");
        }
        for (int i = 0; i < 4; i++)
                sysmem_allocator_free(more[i]);
        for (int i = 0; i < 6; i++)
                sysmem_collection_close(c[i]);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        /* Everything given back: the same user is served again. */
        a = h_connect(&d, "greedy again");
        assert_int_equal(one_mib(a, &c[0], why, sizeof why), 0);
        sysmem_collection_close(c[0]);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

/* Nodes are bounded per user and in all: a Duplicate past either is refused, the token itself lives on. */
static void test_node_budgets(void **state) {
        (void)state;
        const char *const cases[][2] = {{"--max-nodes-per-uid", "3"}, {"--max-nodes", "3"}};
        for (size_t i = 0; i < 2; i++) {
                struct h_daemon d;
                const char *args[] = {cases[i][0], cases[i][1], NULL};
                h_daemon_start(&d, args);
                int baseline = h_daemon_settled_fds(&d);
                long rss0 = rss_kib(d.pid);
                struct sysmem_allocator *a = h_connect(&d, "duplicator");
                struct sysmem_token *t = NULL, *dup[3] = {NULL};
                assert_int_equal(sysmem_allocator_allocate_shared(a, &t), 0);
                assert_int_equal(sysmem_token_duplicate(t, 0, &dup[0]), 0);
                assert_int_equal(sysmem_token_duplicate(t, 0, &dup[1]), 0);
                assert_int_equal(sysmem_token_duplicate(t, 0, &dup[2]), -ENOMEM); /* a fourth node */
                assert_int_equal(sysmem_node_sync(sysmem_token_node(t)), 0);    /* the token is fine */
                /* The same refusal for a second collection: it would be the fourth node too. */
                struct sysmem_token *t2 = NULL;
                assert_int_equal(sysmem_allocator_allocate_shared(a, &t2), -ENOMEM);
                print_message("%s %s: a fourth node refused\n", cases[i][0], cases[i][1]);
                for (int k = 0; k < 2; k++)
                        sysmem_token_close(dup[k]);
                sysmem_token_close(t);
                sysmem_allocator_free(a);
                expect_back_to_baseline(&d, baseline, rss0);
                h_daemon_stop(&d);
        }
}

/* Collections other users created, with their names and trees, are not shown to a client; root sees all. */
static int other_user_lists(struct h_daemon *d) {
        struct sysmem_allocator *a = NULL;
        if (sysmem_allocator_connect(d->socket, &a) < 0)
                return 101;
        struct sysmem_collection *mine = NULL;
        char why[1100];
        if (one_mib(a, &mine, why, sizeof why) != 0)
                return 102;
        assert_int_equal(sysmem_node_set_name(sysmem_collection_node(mine), 10, "nobody-secret"), 0);
        assert_int_equal(sysmem_node_sync(sysmem_collection_node(mine)), 0);
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "%s list --socket %s", getenv("SYSMEMCTL"), d->socket);
        FILE *p = popen(cmd, "r");
        if (!p)
                return 103;
        char out[8192];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        if (strstr(out, "root-secret")) {
                fprintf(stderr, "another user's collection is shown:\n%s", out);
                return 104;
        }
        if (!strstr(out, "nobody-secret") || !strstr(out, "uid 65534")) {
                fprintf(stderr, "its own collection is not shown:\n%s", out);
                return 105;
        }
        sysmem_collection_close(mine);
        sysmem_allocator_free(a);
        return 0;
}

static void test_diagnostics_show_own_uid_only(void **state) {
        (void)state;
        if (geteuid() != 0 || !getenv("SYSMEMCTL")) {
                print_message("skipped: needs root and $SYSMEMCTL\n");
                return;
        }
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct sysmem_allocator *a = h_connect(&d, "root");
        struct sysmem_collection *c = NULL;
        char why[1100];
        assert_int_equal(one_mib(a, &c, why, sizeof why), 0);
        assert_int_equal(sysmem_node_set_name(sysmem_collection_node(c), 10, "root-secret"), 0);
        assert_int_equal(sysmem_node_sync(sysmem_collection_node(c)), 0);
        int status = as_other_user(&d, other_user_lists);
        if (status != 0)
                fail_msg("the other user's listing was wrong (status %d)", status);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

/*
 * A kernel without unix_diag (NETLINK_SOCK_DIAG fails): the daemon needs none, since tokens and node
 * references are found by their own inode (ino-index.c). It starts, validates a token and answers
 * IsAlternateFor as anywhere else.
 */
static void test_no_sock_diag(void **state) {
        (void)state;
        const char *shim = getenv("SYSMEM_TEST_PRELOAD_NO_SOCK_DIAG");
        if (!shim)
                fail_msg("SYSMEM_TEST_PRELOAD_NO_SOCK_DIAG is not set: run through meson test");
        /* The daemon inherits these at exec; this process, already running, is not affected. */
        char *asan_before = getenv("ASAN_OPTIONS") ? strdup(getenv("ASAN_OPTIONS")) : NULL;
        char asan[512];
        snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", asan_before ? asan_before : "",
                 asan_before && *asan_before ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1); /* under ASan its runtime must come first; the shim is not instrumented */
        setenv("LD_PRELOAD", shim, 1);
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        unsetenv("LD_PRELOAD");
        if (asan_before)
                setenv("ASAN_OPTIONS", asan_before, 1);
        else
                unsetenv("ASAN_OPTIONS");
        free(asan_before);

        struct sysmem_allocator *a = h_connect(&d, "no-sock-diag");
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup), 0);
        int ref = -1;
        assert_int_equal(sysmem_node_get_node_ref(sysmem_token_node(dup), &ref), 0);
        bool alt = true;
        assert_int_equal(sysmem_node_is_alternate_for(sysmem_token_node(root), ref, &alt), 0);
        assert_false(alt); /* siblings under a token, not a group */
        int fd = sysmem_token_to_fd(dup);
        bool known = false;
        assert_int_equal(sysmem_allocator_validate_token(a, fd, &known), 0);
        assert_true(known);
        close(fd);
        close(ref);
        sysmem_token_close(root);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

/* A second sysmemd on a socket another one serves refuses to start; the first stays reachable. */
static void test_second_daemon_refused(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        char out[1024];
        const char *args[] = {"--socket", d.socket, NULL};
        int status = run_sysmemd(args, out, sizeof out);
        if (status != 1 || !strstr(out, "another server is accepting connections on it"))
                fail_msg("the second sysmemd: status %d, said: %s", status, out);
        struct stat st;
        assert_int_equal(stat(d.socket, &st), 0); /* not deleted by the one that refused */
        served(&d, "after a second daemon tried");
        h_daemon_stop(&d);
}

/* The socket's mode is set, not taken from the umask: 0666 under umask 000 too, or --socket-mode. */
static void test_socket_mode(void **state) {
        (void)state;
        mode_t old = umask(0);
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct stat st;
        assert_int_equal(stat(d.socket, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0666);
        h_daemon_stop(&d);
        const char *args[] = {"--socket-mode", "0600", NULL};
        h_daemon_start(&d, args);
        assert_int_equal(stat(d.socket, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        h_daemon_stop(&d);
        umask(old);
}

/* CPU seconds a process has used (utime + stime). */
static double cpu_seconds(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        assert_non_null(p);
        unsigned long utime = 0, stime = 0;
        /* After ") ": state, then 10 fields, then utime and stime (fields 14 and 15). */
        assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
        return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int count_lines_with(const char *path, const char *needle) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        char line[2048];
        int n = 0;
        while (fgets(line, sizeof line, f))
                n += strstr(line, needle) != NULL;
        fclose(f);
        return n;
}

/* sysmemd takes the hard fd limit as its soft one (a service's soft limit is usually 1024: a few hundred collections). */
static void test_fd_limit_raised(void **state) {
        (void)state;
        struct rlimit saved;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        if (saved.rlim_max < 512)
                skip();
        struct rlimit low = {256, saved.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        struct rlimit got;
        assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, NULL, &got), 0);
        assert_true(got.rlim_cur == saved.rlim_max);
        h_daemon_stop(&d);
}

/*
 * Out of fds, accept() fails with EMFILE and the pending connection stays queued: the daemon must pause
 * accepting instead of spinning and logging each failure, and recover once fds are free again.
 */
static void test_out_of_fds(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--max-connections", "1000", "--log-level", "warning", NULL};
        h_daemon_start_logged(&d, args);
        /* sysmemd raises its soft limit to the hard one at start: lower both, on it alone, once it runs. */
        struct rlimit low = {64, 64};
        assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);

        enum { CONNS = 120 };
        int conns[CONNS];
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(d.socket) < sizeof sa.sun_path);
        memcpy(sa.sun_path, d.socket, strlen(d.socket) + 1);
        for (int i = 0; i < CONNS; i++) {
                conns[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
                assert_true(conns[i] >= 0);
                assert_int_equal(connect(conns[i], (struct sockaddr *)&sa, sizeof sa), 0);
        }
        double before = cpu_seconds(d.pid);
        usleep(1500 * 1000);
        double used = cpu_seconds(d.pid) - before;
        int warnings = count_lines_with(d.log, "pausing new connections");
        print_message("out of fds for 1.5 s: %.2f CPU-s used, %d warnings logged\n", used, warnings);
        assert_true(h_daemon_alive(&d));
        if (used > 0.5)
                fail_msg("the daemon spun while out of fds: %.2f CPU-s in 1.5 s", used);
        if (warnings < 1 || warnings > 2)
                fail_msg("%d warnings about accept failures in 1.5 s (want 1, at most one per 10 s)", warnings);
        for (int i = 0; i < CONNS; i++)
                close(conns[i]);
        served(&d, "after the fds came back");
        h_daemon_stop(&d);
}

/* A client's name with a newline cannot forge a log line: control characters are escaped. */
static void test_log_injection(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--log-level", "warning", NULL};
        h_daemon_start_logged(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "injector");
        struct sysmem_token *t = NULL;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t), 0);
        const char *evil = "cam\n<3>sysmemd[error]: FORGED by a client";
        assert_int_equal(sysmem_node_set_debug_client_info(sysmem_token_node(t), evil, 1), 0);
        assert_int_equal(sysmem_node_sync(sysmem_token_node(t)), 0);
        sysmem_token_close(t); /* closing without Release fails the collection: a warning naming the token */
        const char *escaped[] = {"cam\\x0a<3>sysmemd[error]: FORGED by a client", NULL};
        if (!h_daemon_log_wait(&d, escaped, H_TIMEOUT_MS))
                fail_msg("the daemon did not log the name escaped (log: %s)", d.log);
        FILE *f = fopen(d.log, "re");
        assert_non_null(f);
        char line[4096];
        while (fgets(line, sizeof line, f))
                if (!strncmp(line, "<3>sysmemd[error]: FORGED", 25))
                        fail_msg("a client forged a log line: %s", line);
        fclose(f);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

/* ---- replies a client does not read (issue 10): queued in order, bounded, and a clear epitaph past the bound ---- */

/* Sends one header-only request without blocking: 0, -EAGAIN when the socket is full, or -errno. */
static int send_request(int fd, uint16_t opcode, uint32_t txid) {
        uint8_t buf[WIRE_HEADER_SIZE];
        h_wire_header(buf, sizeof buf, opcode, 0, txid, 0);
        return send(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/*
 * Sends two-way requests (header only) with txids first, first + 1, ... without reading anything, until
 * count went or the socket stayed full for wait_ms (the daemon stopped reading). Returns how many went.
 */
static uint32_t send_requests(int fd, uint16_t opcode, uint32_t first, uint32_t count, int wait_ms) {
        uint32_t sent = 0;
        while (sent < count) {
                int r = send_request(fd, opcode, first + sent);
                if (r == -EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        if (poll(&p, 1, wait_ms) <= 0 || !(p.revents & POLLOUT))
                                break;
                        continue;
                }
                if (r < 0)
                        break;
                sent++;
        }
        return sent;
}

static uint32_t send_syncs(int fd, uint32_t first, uint32_t count, int wait_ms) {
        return send_requests(fd, WIRE_OP_SYNC, first, count, wait_ms);
}

/* Bytes this end sent that the daemon has not read yet. */
static int unread_by_daemon(int fd) {
        int v = -1;
        assert_int_equal(ioctl(fd, SIOCOUTQ, &v), 0);
        return v;
}

/* Waits (bounded) until the daemon has read everything sent on fd, or has stopped reading (backpressure). */
static int daemon_read_settled(int fd) {
        int last = unread_by_daemon(fd), still = 0;
        for (int64_t end = h_now_ms() + H_TIMEOUT_MS; h_now_ms() < end && last > 0 && still < 6;) {
                usleep(50 * 1000);
                int now = unread_by_daemon(fd);
                still = now == last ? still + 1 : 0;
                last = now;
        }
        return last;
}

struct rx_msg {
        uint16_t opcode, flags;
        uint32_t txid, nfds;
        uint32_t error;
        char text[H_MESSAGE_SIZE];
};

/* Reads one message within timeout_ms: 1, 0 at end-of-file, or -errno. Fds are closed; error bodies decoded. */
static int read_message(int fd, int timeout_ms, struct rx_msg *m) {
        static uint8_t buf[1 << 17];
        int fds[WIRE_MAX_FDS];
        uint32_t nfds = 0;
        ssize_t n = -ECONNRESET;
        /* The daemon closed its end with requests unread: the kernel says so once, ahead of the rest. */
        for (int i = 0; i < 2 && n == -ECONNRESET; i++) {
                if (!h_poll_readable(fd, timeout_ms))
                        return -ETIMEDOUT;
                n = wire_recv(fd, buf, sizeof buf, fds, WIRE_MAX_FDS, &nfds);
        }
        if (n <= 0)
                return (int)n;
        memset(m, 0, sizeof *m);
        if (wire_peek_header(buf, (size_t)n, &m->opcode, &m->flags, &m->txid, &m->nfds) < 0)
                return -EBADMSG;
        if (m->opcode == WIRE_OP_EPITAPH || (m->flags & WIRE_FLAG_ERROR)) {
                struct wire_limits limits = {.max_message_bytes = sizeof buf, .max_fds = WIRE_MAX_FDS,
                                             .max_array_elements = 1024};
                struct wire_msg *msg = NULL;
                char err[256];
                if (wire_decode(&wire_error_schema, buf, (size_t)n, fds, nfds, &limits, &msg, err, sizeof err) < 0)
                        fail_msg("an undecodable error body: %s", err);
                const struct wire_error_body *body = msg->body;
                m->error = body->error;
                snprintf(m->text, sizeof m->text, "%s", body->message ? body->message : "");
                wire_msg_free(msg);
        } else {
                for (uint32_t i = 0; i < nfds; i++)
                        close(fds[i]);
        }
        return 1;
}

/*
 * Reads replies to opcode with txids 1, 2, ... in order (a gap is a dropped reply), at most max of them,
 * until something else comes: returns how many, with that message in *other (opcode 0: none, or EOF).
 */
static uint32_t read_replies(int fd, uint16_t opcode, uint32_t max, struct rx_msg *other) {
        uint32_t got = 0;
        memset(other, 0, sizeof *other);
        while (got < max) {
                int r = read_message(fd, H_TIMEOUT_MS, other);
                if (r == 0) {
                        memset(other, 0, sizeof *other);
                        return got;
                }
                if (r < 0)
                        fail_msg("reading after %u replies: %s", got, strerror(-r));
                if (other->opcode != opcode)
                        return got;
                if (other->flags != WIRE_FLAG_REPLY || other->txid != got + 1)
                        fail_msg("reply %u to opcode %u has txid %u (flags %#x): one was dropped or reordered",
                                 got + 1, opcode, other->txid, other->flags);
                got++;
                memset(other, 0, sizeof *other);
        }
        return got;
}

static uint32_t read_syncs(int fd, uint32_t max, struct rx_msg *other) {
        return read_replies(fd, WIRE_OP_SYNC, max, other);
}

/* The next message is the epitaph, naming why, and then the socket ends. */
static void expect_epitaph_then_eof(int fd, const struct rx_msg *m, const char *needle) {
        if (m->opcode != WIRE_OP_EPITAPH)
                fail_msg("expected the epitaph, got opcode %u (txid %u)", m->opcode, m->txid);
        if (!strstr(m->text, needle))
                fail_msg("the epitaph does not say '%s': %s", needle, m->text);
        struct rx_msg after;
        int r = read_message(fd, H_TIMEOUT_MS, &after);
        if (r != 0)
                fail_msg("after the epitaph: %s (opcode %u)", r < 0 ? strerror(-r) : "another message", after.opcode);
}

/*
 * A client floods Syncs on one collection and reads nothing: the daemon stops reading its requests
 * (backpressure), serves everyone else, and after the stall time fails that collection with an epitaph
 * that says why. The client gets every reply the daemon sent, in order, then the epitaph, then EOF.
 */
static void test_flood_without_reading(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--log-level", "warning", NULL};
        h_daemon_start_logged(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "flooder");
        struct sysmem_collection *c = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        int fd = sysmem_node_get_fd(sysmem_collection_node(c));
        int64_t start = h_now_ms();
        uint32_t sent = send_syncs(fd, 1, 5000, 500);
        print_message("the flooder got %u of 5000 Syncs in before the daemon stopped reading them\n", sent);
        assert_true(sent < 5000);
        served(&d, "while a client floods");
        const char *why[] = {"does not read its replies", NULL};
        if (!h_daemon_log_wait(&d, why, 20000))
                fail_msg("the daemon never failed the flooder");
        int64_t failed_after = h_now_ms() - start;
        assert_true(h_daemon_alive(&d));
        struct rx_msg m;
        uint32_t replies = read_syncs(fd, UINT32_MAX, &m);
        expect_epitaph_then_eof(fd, &m, "does not read its replies");
        assert_int_equal(m.error, SYSMEM_ERROR_PROTOCOL_DEVIATION);
        print_message("failed %lld ms after the flood began; %u replies in order, then the epitaph: %s\n",
                      (long long)failed_after, replies, m.text);
        assert_true(replies > 0 && replies < sent);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        print_message("daemon fds: %d before, %d after\n", baseline, h_fd_count(d.pid));
        h_daemon_stop(&d);
}

/* More Syncs than the socket holds, then every reply read: all of them, in order, none dropped. */
static void test_replies_queue_in_order(void **state) {
        (void)state;
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "slow reader");
        struct sysmem_collection *c = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        int fd = sysmem_node_get_fd(sysmem_collection_node(c));
        uint32_t sent = send_syncs(fd, 1, 500, 2000);
        int unread = daemon_read_settled(fd);
        print_message("sent %u Syncs without reading; %d bytes of them left unread by the daemon\n", sent, unread);
        /* More than the socket alone holds (about 278 replies), so some waited in the daemon's queue. */
        if (sent < 290)
                fail_msg("only %u Syncs could be sent: the daemon's queue was not reached", sent);
        struct rx_msg m;
        uint32_t replies = read_syncs(fd, sent, &m);
        if (replies != sent)
                fail_msg("%u of %u Sync replies, then opcode %u", replies, sent, m.opcode);
        assert_false(h_poll_readable(fd, 200));
        assert_int_equal(sysmem_node_sync(sysmem_collection_node(c)), 0);
        print_message("all %u replies arrived in order\n", replies);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        h_daemon_stop(&d);
}

/*
 * WaitForAllBuffersAllocated is answered while the collection's socket is full of Sync replies the client
 * has not read: the answer waits behind them and arrives last, with the buffer.
 */
static void test_wait_reply_behind_full_socket(void **state) {
        (void)state;
        struct h_daemon d;
        /* A queue that never fills in this test: whatever the socket's size, the daemon reads every Sync. */
        const char *args[] = {"--max-queued-replies", "2048", NULL};
        h_daemon_start(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "waiter");
        struct sysmem_token *t = NULL, *dup = NULL;
        struct sysmem_collection *c = NULL, *c2 = NULL;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t), 0);
        assert_int_equal(sysmem_token_duplicate(t, SYSMEM_RIGHTS_SAME, &dup), 0);
        assert_int_equal(sysmem_token_bind(t, &c), 0);
        struct sysmem_constraints k = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        int fd = sysmem_node_get_fd(sysmem_collection_node(c));
        const uint32_t wait_txid = 1000000;
        assert_int_equal(send_request(fd, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, wait_txid), 0);
        uint32_t sent = send_syncs(fd, 1, 400, 5000); /* the daemon drains it all (queue of 2048): wait for it */
        assert_int_equal(sent, 400);
        /* Every Sync is answered (into the socket, then the queue) before the allocation can happen. */
        assert_int_equal(daemon_read_settled(fd), 0);
        assert_int_equal(sysmem_token_bind(dup, &c2), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &k), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(c2, H_TIMEOUT_MS, &info), 0);
        sysmem_collection_info_free(info);
        struct rx_msg m;
        uint32_t replies = read_syncs(fd, sent, &m);
        if (replies != sent)
                fail_msg("%u of %u Sync replies, then opcode %u", replies, sent, m.opcode);
        int r = read_message(fd, H_TIMEOUT_MS, &m);
        if (r != 1)
                fail_msg("no WaitForAllBuffersAllocated reply after the Syncs: %s", r < 0 ? strerror(-r) : "EOF");
        if (m.opcode != WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED || m.txid != wait_txid || m.flags != WIRE_FLAG_REPLY)
                fail_msg("expected the WaitForAllBuffersAllocated reply, got opcode %u txid %u flags %#x: %s",
                         m.opcode, m.txid, m.flags, m.text);
        assert_true(m.nfds >= 1);
        assert_false(h_poll_readable(fd, 200));
        print_message("the allocation reply (%u fds) came last, after %u unread Sync replies\n", m.nfds, replies);
        sysmem_collection_close(c);
        sysmem_collection_close(c2);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        h_daemon_stop(&d);
}

/*
 * Past the hard limit the object fails at once: with --max-queued-replies 4 the daemon stops reading at
 * 2 queued, and three WaitForAllBuffersAllocated answers on top overflow it.
 */
static void test_queue_limit_fails_at_once(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--max-queued-replies", "4", NULL};
        h_daemon_start(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "overflow");
        struct sysmem_token *t = NULL, *dup = NULL;
        struct sysmem_collection *c = NULL, *c2 = NULL;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &t), 0);
        assert_int_equal(sysmem_token_duplicate(t, SYSMEM_RIGHTS_SAME, &dup), 0);
        assert_int_equal(sysmem_token_bind(t, &c), 0);
        struct sysmem_constraints k = h_cpu_constraints(SYSMEM_CPU_USAGE_WRITE_OFTEN, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        int fd = sysmem_node_get_fd(sysmem_collection_node(c));
        for (uint32_t i = 0; i < 3; i++)
                assert_int_equal(send_request(fd, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, 1000000 + i), 0);
        uint32_t sent = send_syncs(fd, 1, 5000, 500);
        int unread = daemon_read_settled(fd);
        print_message("%u Syncs sent; the daemon stopped reading with %d bytes unread\n", sent, unread);
        assert_true(unread > 0);
        int64_t start = h_now_ms();
        assert_int_equal(sysmem_token_bind(dup, &c2), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &k), 0);
        struct rx_msg m;
        uint32_t replies = read_syncs(fd, UINT32_MAX, &m);
        expect_epitaph_then_eof(fd, &m, "the limit is 4 replies");
        print_message("%u replies in order, then the epitaph %lld ms after the allocation: %s\n", replies,
                      (long long)(h_now_ms() - start), m.text);
        assert_true(h_daemon_alive(&d));
        sysmem_collection_close(c);
        sysmem_collection_close(c2);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        h_daemon_stop(&d);
}

/* The same on an allocator connection: flooded with GetHeaps and never read, it is closed after its epitaph. */
static void test_allocator_flood_without_reading(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--log-level", "warning", NULL};
        h_daemon_start_logged(&d, args);
        int baseline = h_daemon_settled_fds(&d);
        long rss0 = rss_kib(d.pid);
        struct sysmem_allocator *a = h_connect(&d, "allocator flooder");
        int fd = sysmem_allocator_get_fd(a);
        int64_t start = h_now_ms();
        uint32_t sent = send_requests(fd, WIRE_OP_GET_HEAPS, 1, 5000, 500);
        assert_true(sent < 5000);
        served(&d, "while an allocator floods");
        const char *why[] = {"allocator 'allocator flooder'", "does not read its replies", NULL};
        if (!h_daemon_log_wait(&d, why, 20000))
                fail_msg("the daemon never closed the flooding allocator connection");
        int64_t failed_after = h_now_ms() - start;
        struct rx_msg m;
        uint32_t replies = read_replies(fd, WIRE_OP_GET_HEAPS, UINT32_MAX, &m);
        expect_epitaph_then_eof(fd, &m, "does not read its replies");
        print_message("%u GetHeaps sent; closed %lld ms later; %u replies in order, then the epitaph\n", sent,
                      (long long)failed_after, replies);
        sysmem_allocator_free(a);
        expect_back_to_baseline(&d, baseline, rss0);
        h_daemon_stop(&d);
}

/*
 * --max-queued-bytes 32 (two Sync replies): a client that reads late is paused, never failed, even though the
 * daemon takes several requests at once (it takes no more than the bytes left before half could answer).
 */
static void test_small_byte_queue_pauses(void **state) {
        (void)state;
        struct h_daemon d;
        const char *args[] = {"--max-queued-bytes", "32", "--log-level", "warning", NULL};
        h_daemon_start_logged(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "slow reader");
        struct sysmem_collection *c = NULL;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        int fd = sysmem_node_get_fd(sysmem_collection_node(c));
        /* Stopped, the daemon finds a full queue when it resumes: it reads SERVER_RX_BATCH at a time. */
        uint32_t sent = send_syncs(fd, 1, 250, 300);
        assert_int_equal(daemon_read_settled(fd), 0);
        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        sent += send_syncs(fd, 1 + sent, 2000, 300);
        assert_int_equal(kill(d.pid, SIGCONT), 0);
        int unread = daemon_read_settled(fd);
        print_message("sent %u Syncs without reading; %d bytes unread by the daemon\n", sent, unread);
        struct rx_msg m;
        uint32_t replies = read_syncs(fd, sent, &m);
        print_message("%u of %u replies, then opcode %u: %s\n", replies, sent, m.opcode, m.text);
        if (replies != sent)
                fail_msg("%u of %u Sync replies, then opcode %u: %s", replies, sent, m.opcode, m.text);
        sysmem_collection_close(c);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fd_cycles, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_bind_shared_with_token_copy, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_second_daemon_refused, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_socket_mode, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_fd_limit_raised, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_out_of_fds, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_log_injection, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_no_sock_diag, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_per_uid_budgets, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_node_budgets, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_diagnostics_show_own_uid_only, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_flood_without_reading, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_replies_queue_in_order, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_wait_reply_behind_full_socket, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_queue_limit_fails_at_once, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_allocator_flood_without_reading, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_small_byte_queue_pauses, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
