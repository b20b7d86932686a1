/* test-activation.c: sysmemd under systemd's conventions: socket activation (LISTEN_FDS), sd_notify, SIGTERM/SIGINT. */
#include <errno.h>
#include <fcntl.h>
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

static char dir[64];

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/sysmem-activation-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static int bound_socket(int type, const char *name, struct sockaddr_un *ret_sa) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, name);
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        if (ret_sa)
                *ret_sa = sa;
        return fd;
}

/* Waits for the child's exit within timeout_ms; returns its wait status, or -1 (and kills it) on timeout. */
static int wait_exit(pid_t pid, int timeout_ms) {
        for (int waited = 0; waited < timeout_ms; waited += 10) {
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid)
                        return st;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

/* A negotiation through an allocator at path: one participant, 2 buffers of 4096 bytes. */
static void negotiate_once(const char *path) {
        struct sysmem_allocator *a;
        assert_int_equal(sysmem_allocator_connect(path, &a), 0);
        struct sysmem_collection *c;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &c), 0);
        struct sysmem_constraints k = {.usage = {.cpu = SYSMEM_CPU_USAGE_READ},
                                       .min_buffer_count = 2,
                                       .buffer_memory_constraints = {.min_size_bytes = 4096}};
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        struct sysmem_collection_info *info;
        assert_int_equal(sysmem_collection_wait_allocated(c, &info), 0);
        assert_int_equal(info->buffer_count, 2);
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(c), 0);
        sysmem_allocator_free(a);
}

/*
 * systemd hands sysmemd a listening socket as fd 3 with LISTEN_FDS=1 and LISTEN_PID, and expects
 * READY=1 on NOTIFY_SOCKET. The daemon must serve that socket (and bind no path of its own) and say
 * READY; SIGTERM must end it with status 0.
 */
static void test_socket_activation_and_notify(void **state) {
        const char *sysmemd = getenv("SYSMEMD");
        if (!sysmemd)
                fail_msg("SYSMEMD is not set: run through meson test");
        struct sockaddr_un listen_sa, notify_sa;
        int lfd = bound_socket(SOCK_SEQPACKET, "activated", &listen_sa);
        assert_int_equal(listen(lfd, 16), 0);
        int nfd = bound_socket(SOCK_DGRAM, "notify", &notify_sa);

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* fd 3 without CLOEXEC, as systemd passes it; nothing else named on the command line. */
                if (lfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(lfd, 3) < 0) /* dup2 onto itself keeps CLOEXEC */
                        _exit(126);
                char pidbuf[32];
                snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_PID", pidbuf, 1);
                setenv("NOTIFY_SOCKET", notify_sa.sun_path, 1);
                unsetenv("SYSMEM_SOCKET");
                setenv("XDG_RUNTIME_DIR", dir, 1); /* were the fds ignored, it would bind dir/sysmem-0 */
                execl(sysmemd, sysmemd, "--log-level", "warning", (char *)NULL);
                _exit(127);
        }
        close(lfd);

        /* READY=1 arrives on the notify socket (bounded wait). */
        struct pollfd p = {.fd = nfd, .events = POLLIN};
        bool ready = false;
        for (int i = 0; i < 10 && !ready; i++) {
                assert_true(poll(&p, 1, 500) >= 0);
                if (!(p.revents & POLLIN))
                        continue;
                char msg[256] = "";
                ssize_t n = recv(nfd, msg, sizeof msg - 1, 0);
                assert_true(n > 0);
                ready = strstr(msg, "READY=1") != NULL;
        }
        assert_true(ready);

        negotiate_once(listen_sa.sun_path);
        char own[sizeof listen_sa.sun_path + 16];
        snprintf(own, sizeof own, "%s/sysmem-0", dir);
        struct stat st;
        assert_int_equal(stat(own, &st), -1); /* it served the activated socket, not a path of its own */

        assert_int_equal(kill(pid, SIGTERM), 0);
        int status = wait_exit(pid, 5000);
        assert_true(status >= 0 && WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        close(nfd);
}

/* Without activation it binds $SYSMEM_SOCKET, serves it, and removes it on SIGINT. */
static void test_own_socket_and_sigint(void **state) {
        const char *sysmemd = getenv("SYSMEMD");
        if (!sysmemd)
                fail_msg("SYSMEMD is not set: run through meson test");
        char path[128];
        snprintf(path, sizeof path, "%s/own", dir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("SYSMEM_SOCKET", path, 1);
                unsetenv("LISTEN_FDS");
                unsetenv("NOTIFY_SOCKET");
                execl(sysmemd, sysmemd, "--log-level", "warning", (char *)NULL);
                _exit(127);
        }
        struct stat st;
        int waited = 0;
        while (stat(path, &st) < 0 && waited < 5000) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                waited += 10;
        }
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        /* Once the file is there the daemon listens: the first connect() succeeds, with no retry. */
        int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(path) < sizeof sa.sun_path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (connect(probe, (struct sockaddr *)&sa, sizeof sa) < 0)
                fail_msg("the socket file existed but connect() failed: %s", strerror(errno));
        close(probe);
        negotiate_once(path);
        assert_int_equal(kill(pid, SIGINT), 0);
        int status = wait_exit(pid, 5000);
        assert_true(status >= 0 && WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(stat(path, &st), -1); /* the socket file is gone */
        /* ... and so is the name it was bound under before it was linked into place. */
        char cmd[192];
        snprintf(cmd, sizeof cmd, "ls -A %s | grep -q '^own\\.'", dir);
        assert_int_not_equal(system(cmd), 0);
}

/* A stale socket file left by a crashed daemon is replaced; a regular file in the way is an error. */
static void test_stale_socket_replaced_regular_file_refused(void **state) {
        const char *sysmemd = getenv("SYSMEMD");
        if (!sysmemd)
                fail_msg("SYSMEMD is not set: run through meson test");
        char path[128];
        snprintf(path, sizeof path, "%s/stale", dir);
        struct sockaddr_un sa;
        int stale = bound_socket(SOCK_SEQPACKET, "stale", &sa);
        close(stale); /* the file stays, nobody listens */
        pid_t pid = fork();
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", path, "--log-level", "error", (char *)NULL);
                _exit(127);
        }
        int waited = 0;
        struct sysmem_allocator *a = NULL;
        while (sysmem_allocator_connect(path, &a) < 0 && waited < 5000) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                waited += 10;
        }
        assert_non_null(a);
        sysmem_allocator_free(a);
        kill(pid, SIGTERM);
        assert_true(wait_exit(pid, 5000) >= 0);

        char file[128];
        snprintf(file, sizeof file, "%s/regular", dir);
        int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        pid = fork();
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 2);
                execl(sysmemd, sysmemd, "--socket", file, (char *)NULL);
                _exit(127);
        }
        int status = wait_exit(pid, 5000);
        assert_true(status >= 0 && WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_true(S_ISREG(st.st_mode)); /* never deleted */
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_socket_activation_and_notify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_own_socket_and_sigint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_socket_replaced_regular_file_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
