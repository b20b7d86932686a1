/* harness.c: starts a real sysmemd, forks participant processes driven over socketpairs, and bounds every wait. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <xf86drm.h>

/*
 * Processes the current test started and has not yet reaped. On a failed assertion cmocka jumps
 * out of the test, so the teardown (and the watchdog) clean up whatever the test left running.
 */
#define MAX_TRACKED 64
static pid_t tracked_daemons[MAX_TRACKED];
static pid_t tracked_agents[MAX_TRACKED];
static int tracked_agent_socks[MAX_TRACKED]; /* the test's end, beside tracked_agents */
static char tracked_dirs[MAX_TRACKED][64];   /* a daemon's private directory, beside tracked_daemons */

static int track(pid_t *set, pid_t pid) {
        for (int i = 0; i < MAX_TRACKED; i++)
                if (set[i] == 0) {
                        set[i] = pid;
                        return i;
                }
        return -1;
}

static void untrack(pid_t *set, pid_t pid) {
        for (int i = 0; i < MAX_TRACKED; i++)
                if (set[i] == pid) {
                        set[i] = 0;
                        if (set == tracked_daemons)
                                tracked_dirs[i][0] = 0;
                }
}

static void describe_status(int status, char *buf, size_t size);

static void kill_tracked(pid_t *set) {
        for (int i = 0; i < MAX_TRACKED; i++)
                if (set[i] > 0) {
                        int status;
                        if (set == tracked_daemons && waitpid(set[i], &status, WNOHANG) == set[i]) {
                                /* A daemon that ended on its own is the likely cause of the test's failure. */
                                char why[128];
                                describe_status(status, why, sizeof why);
                                fprintf(stderr, "note: sysmemd (pid %d) %s during the test\n", (int)set[i], why);
                        } else {
                                kill(set[i], SIGKILL);
                                (void)waitpid(set[i], NULL, 0);
                        }
                        set[i] = 0;
                        if (set == tracked_agents && tracked_agent_socks[i] >= 0) {
                                close(tracked_agent_socks[i]);
                                tracked_agent_socks[i] = -1;
                        }
                        if (set == tracked_daemons && tracked_dirs[i][0]) {
                                char path[PATH_MAX + 16];
                                snprintf(path, sizeof path, "%s/socket", tracked_dirs[i]);
                                unlink(path);
                                snprintf(path, sizeof path, "%s/log", tracked_dirs[i]);
                                unlink(path);
                                rmdir(tracked_dirs[i]);
                                tracked_dirs[i][0] = 0;
                        }
                }
}

int64_t h_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Closes every inherited fd except stdio and keep (which may be -1), so a child holds no copy of a token. */
static void close_inherited_fds(int keep) {
        if (keep < 0) {
                if (close_range(3, ~0u, 0) == 0)
                        return;
        } else if ((keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0) &&
                   close_range((unsigned)keep + 1, ~0u, 0) == 0) {
                return;
        }
        for (int fd = 3; fd < 65536; fd++)
                if (fd != keep)
                        close(fd);
}

/* Waits for pid to exit within timeout_ms; true with *status set, false if it still runs. */
static bool wait_exit(pid_t pid, int timeout_ms, int *status) {
        int64_t deadline = h_now_ms() + timeout_ms;
        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);
                if (r == pid)
                        return true;
                if (r < 0 && errno != EINTR)
                        return false;
                if (h_now_ms() >= deadline)
                        return false;
                sleep_ms(2);
        }
}

static void describe_status(int status, char *buf, size_t size) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "ended with wait status 0x%x", status);
}

/* ---- fd counting ---- */

int h_fd_count(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

int h_self_fd_count(void) {
        /* The directory stream's own fd is counted; it is there on every call, so comparisons hold. */
        return h_fd_count(getpid());
}

/* "3 -> socket:[1234], 4 -> anon_inode:[eventpoll], ..." for failure messages. */
static void list_fds(pid_t pid, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        buf[0] = 0;
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *e;
        size_t used = 0;
        while ((e = readdir(d)) && used + 1 < size) {
                if (e->d_name[0] == '.')
                        continue;
                char link[PATH_MAX + 64], target[256] = "?";
                snprintf(link, sizeof link, "%s/%s", path, e->d_name);
                ssize_t n = readlink(link, target, sizeof target - 1);
                target[n > 0 ? n : 1] = 0;
                int w = snprintf(buf + used, size - used, "%s%s->%s", used ? ", " : "", e->d_name, target);
                if (w < 0)
                        break;
                used += (size_t)w;
        }
        closedir(d);
}

/* ---- the daemon ---- */

bool h_daemon_alive(struct h_daemon *d) {
        if (d->died)
                return false;
        if (d->pid > 0 && waitpid(d->pid, &d->exit_status, WNOHANG) == d->pid) {
                /* Reaped here, so h_daemon_stop can still tell how it ended; nobody cleans up after it. */
                d->died = true;
                untrack(tracked_daemons, d->pid);
                unlink(d->socket);
                if (d->log[0])
                        unlink(d->log);
                rmdir(d->dir);
        }
        return d->pid > 0 && !d->died;
}

static bool try_connect(const char *path) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path) {
                close(fd);
                return false;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        return ok;
}

static void daemon_start(struct h_daemon *d, const char *const *extra_args, bool logged) {
        memset(d, 0, sizeof *d);
        const char *exe = getenv("SYSMEMD");
        if (!exe || !*exe)
                fail_msg("SYSMEMD is not set: run the suite through meson test, which points it at the built sysmemd");
        snprintf(d->dir, sizeof d->dir, "/tmp/sysmem-test-XXXXXX");
        if (!mkdtemp(d->dir))
                fail_msg("mkdtemp: %s", strerror(errno));
        snprintf(d->socket, sizeof d->socket, "%s/socket", d->dir);
        if (logged)
                snprintf(d->log, sizeof d->log, "%s/log", d->dir);

        const char *argv[32];
        int argc = 0;
        argv[argc++] = exe;
        argv[argc++] = "--socket";
        argv[argc++] = d->socket;
        argv[argc++] = "--log-level";
        argv[argc++] = getenv("SYSMEM_TEST_VERBOSE") ? "debug" : "error";
        for (int i = 0; extra_args && extra_args[i] && argc < 31; i++)
                argv[argc++] = extra_args[i];
        argv[argc] = NULL;

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
                /* The daemon must not outlive a test process that crashed. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                close_inherited_fds(-1);
                if (logged) {
                        int lfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
                        if (lfd < 0 || dup2(lfd, STDERR_FILENO) < 0)
                                _exit(126);
                        close(lfd);
                }
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                signal(SIGALRM, SIG_DFL);
                execv(exe, (char *const *)argv);
                fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
                _exit(127);
        }
        d->pid = pid;
        int slot = track(tracked_daemons, pid);
        if (slot >= 0)
                memcpy(tracked_dirs[slot], d->dir, sizeof d->dir);

        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        for (;;) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        char why[128];
                        describe_status(status, why, sizeof why);
                        untrack(tracked_daemons, pid);
                        d->pid = 0;
                        fail_msg("sysmemd (%s) %s before it listened on %s", exe, why, d->socket);
                }
                if (try_connect(d->socket))
                        break;
                if (h_now_ms() >= deadline)
                        fail_msg("sysmemd did not accept connections on %s within %d ms", d->socket, H_TIMEOUT_MS);
                sleep_ms(2);
        }

        /*
         * Warm-up: the daemon may open fds on first use (a heap's device, say). Doing that now makes the
         * baseline an exact number every later check can return to.
         */
        struct sysmem_allocator *a = h_connect(d, "harness-warm-up");
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        bool known = true;
        assert_int_equal(sysmem_allocator_validate_token(a, sv[0], &known), 0);
        assert_false(known);
        close(sv[0]);
        close(sv[1]);
        sysmem_allocator_free(a);
        d->baseline_fds = h_daemon_settled_fds(d);
}

void h_daemon_start(struct h_daemon *d, const char *const *extra_args) { daemon_start(d, extra_args, false); }

void h_daemon_start_logged(struct h_daemon *d, const char *const *extra_args) { daemon_start(d, extra_args, true); }

/* Whether one line of text contains every string of all_of. */
static bool log_has_line(const char *text, const char *const *all_of) {
        for (const char *line = text; *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) : strlen(line);
                bool all = true;
                for (size_t i = 0; all && all_of[i]; i++) {
                        size_t n = strlen(all_of[i]);
                        bool found = false;
                        for (size_t at = 0; !found && at + n <= len; at++)
                                found = memcmp(line + at, all_of[i], n) == 0;
                        all = found;
                }
                if (all)
                        return true;
                if (!end)
                        break;
                line = end + 1;
        }
        return false;
}

bool h_daemon_log_wait(struct h_daemon *d, const char *const *all_of, int timeout_ms) {
        if (!d->log[0])
                fail_msg("the daemon's log is not captured: start it with h_daemon_start_logged");
        int64_t deadline = h_now_ms() + timeout_ms;
        for (;;) {
                FILE *f = fopen(d->log, "re");
                if (f) {
                        /* Logs of these tests are small; a bounded read keeps a runaway log from stalling. */
                        size_t cap = 1u << 20;
                        char *text = malloc(cap + 1);
                        assert_non_null(text);
                        size_t n = fread(text, 1, cap, f);
                        fclose(f);
                        text[n] = 0;
                        bool found = log_has_line(text, all_of);
                        free(text);
                        if (found)
                                return true;
                }
                if (h_now_ms() >= deadline)
                        return false;
                sleep_ms(10);
        }
}

void h_daemon_stop(struct h_daemon *d) {
        if (d->pid <= 0)
                return;
        pid_t pid = d->pid;
        d->pid = 0;
        if (d->died) {
                char why[128];
                describe_status(d->exit_status, why, sizeof why);
                unlink(d->socket);
                if (d->log[0])
                        unlink(d->log);
                rmdir(d->dir);
                fail_msg("sysmemd %s before the test stopped it", why);
        }
        kill(pid, SIGTERM);
        int status = 0;
        bool exited = wait_exit(pid, H_TIMEOUT_MS, &status);
        if (!exited) {
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
        }
        untrack(tracked_daemons, pid);
        unlink(d->socket);
        if (d->log[0])
                unlink(d->log);
        rmdir(d->dir);
        if (!exited)
                fail_msg("sysmemd did not exit within %d ms of SIGTERM", H_TIMEOUT_MS);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char why[128];
                describe_status(status, why, sizeof why);
                fail_msg("sysmemd %s after SIGTERM; expected a clean exit with status 0", why);
        }
}

int h_daemon_settled_fds(struct h_daemon *d) {
        int64_t deadline = h_now_ms() + H_FD_SETTLE_MS;
        int last = -1, same = 0;
        for (;;) {
                int n = h_fd_count(d->pid);
                if (n < 0)
                        fail_msg("cannot count sysmemd's fds: %s", strerror(-n));
                same = n == last ? same + 1 : 0;
                last = n;
                if (same >= 5 || h_now_ms() >= deadline)
                        return n;
                sleep_ms(10);
        }
}

void h_daemon_expect_fds(struct h_daemon *d, int expected) {
        int64_t deadline = h_now_ms() + H_FD_SETTLE_MS;
        int n;
        for (;;) {
                if (!h_daemon_alive(d)) {
                        char why[128];
                        describe_status(d->exit_status, why, sizeof why);
                        fail_msg("sysmemd %s while the test waited for its fd count to return to %d", why, expected);
                }
                n = h_fd_count(d->pid);
                if (n == expected)
                        return;
                if (h_now_ms() >= deadline)
                        break;
                sleep_ms(5);
        }
        char list[4096];
        list_fds(d->pid, list, sizeof list);
        fail_msg("sysmemd holds %d fds, expected %d after teardown (%s)", n, expected, list);
}

struct sysmem_allocator *h_connect(struct h_daemon *d, const char *debug_name) {
        struct sysmem_allocator *a = NULL;
        int r = sysmem_allocator_connect(d->socket, &a);
        if (r < 0)
                fail_msg("connecting to sysmemd at %s: %s", d->socket, strerror(-r));
        assert_int_equal(sysmem_allocator_set_debug_client_info(a, debug_name, (uint64_t)getpid()), 0);
        return a;
}

/* ---- fixture ---- */

static void watchdog(int sig) {
        static const char msg[] = "\nwatchdog: a test ran past its time limit; killing its processes\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        for (int i = 0; i < MAX_TRACKED; i++) {
                if (tracked_agents[i] > 0)
                        kill(tracked_agents[i], SIGKILL);
                if (tracked_daemons[i] > 0)
                        kill(tracked_daemons[i], SIGKILL);
        }
        _exit(99);
}

static int setup_common(void **state, bool daemon) {
        struct h_fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGALRM, watchdog);
        alarm(H_WATCHDOG_S);
        f->self_fds = h_self_fd_count();
        if (daemon) {
                h_daemon_start(&f->daemon, NULL);
                f->has_daemon = true;
        }
        *state = f;
        return 0;
}

int h_setup(void **state) { return setup_common(state, true); }
int h_setup_no_daemon(void **state) { return setup_common(state, false); }

int h_teardown(void **state) {
        struct h_fixture *f = *state;
        alarm(0);
        kill_tracked(tracked_agents);
        /* A test that failed half-way may leave its own daemons; stop the fixture's cleanly, kill the rest. */
        struct h_daemon d = f->daemon;
        if (f->has_daemon)
                untrack(tracked_daemons, d.pid);
        kill_tracked(tracked_daemons);
        int before = f->self_fds;
        free(f);
        *state = NULL;
        if (d.pid > 0) {
                track(tracked_daemons, d.pid);
                h_daemon_stop(&d);
        }
        int after = h_self_fd_count();
        if (after != before) {
                char list[4096];
                list_fds(getpid(), list, sizeof list);
                fail_msg("the test process leaked fds: %d open before the test, %d after (%s)", before, after, list);
        }
        return 0;
}

/* ---- bounded waits ---- */

bool h_poll_readable(int fd, int timeout_ms) {
        int64_t deadline = h_now_ms() + timeout_ms;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int left = (int)(deadline - h_now_ms());
                int r = poll(&p, 1, left > 0 ? left : 0);
                if (r > 0)
                        return true;
                if (r == 0 || (r < 0 && errno != EINTR) || left <= 0)
                        return false;
        }
}

struct wait_state {
        bool done;
        int result;
        struct sysmem_collection_info *info;
};

static void on_allocated(struct sysmem_collection *c, int result, struct sysmem_collection_info *info, void *userdata) {
        struct wait_state *w = userdata;
        if (w->done)
                fail_msg("the allocation callback ran twice");
        w->done = true;
        w->result = result;
        w->info = info;
}

int h_wait_allocated(struct sysmem_collection *c, int timeout_ms, struct sysmem_collection_info **ret_info) {
        struct wait_state w = {0};
        int r = sysmem_collection_wait_allocated_async(c, on_allocated, &w);
        if (r < 0)
                return r;
        struct sysmem_node *n = sysmem_collection_node(c);
        int64_t deadline = h_now_ms() + timeout_ms;
        while (!w.done) {
                int left = (int)(deadline - h_now_ms());
                if (left <= 0 || !h_poll_readable(sysmem_node_get_fd(n), left))
                        fail_msg("WaitForAllBuffersAllocated got no answer within %d ms", timeout_ms);
                r = sysmem_node_dispatch(n);
                if (r < 0 && !w.done)
                        fail_msg("sysmem_node_dispatch failed (%s: %s) without running the pending allocation "
                                 "callback; every callback must run exactly once",
                                 strerror(-r), sysmem_node_error_message(n));
        }
        if (w.result < 0) {
                sysmem_collection_info_free(w.info);
                return w.result;
        }
        if (!w.info)
                fail_msg("the allocation callback reported success without an info");
        if (ret_info)
                *ret_info = w.info;
        else
                sysmem_collection_info_free(w.info);
        return 0;
}

int h_recv_fd(int sock, int timeout_ms) {
        if (!h_poll_readable(sock, timeout_ms))
                fail_msg("no fd arrived within %d ms", timeout_ms);
        int fd = -1;
        int r = sysmem_recv_fd(sock, &fd, NULL, 0);
        if (r < 0)
                fail_msg("sysmem_recv_fd: %s", strerror(-r));
        return fd;
}

/* ---- constraints and buffers ---- */

struct sysmem_constraints h_cpu_constraints(uint32_t cpu_usage, uint32_t camping, uint64_t min_size) {
        struct sysmem_constraints c = {0};
        c.usage.cpu = cpu_usage;
        c.min_buffer_count_for_camping = camping;
        c.buffer_memory_constraints.min_size_bytes = min_size;
        return c;
}

uint64_t h_page_round(uint64_t size) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        return (size + page - 1) / page * page;
}

uint8_t h_pattern_byte(uint32_t seed, uint32_t b, uint64_t i) {
        /* Different per seed, per buffer and per offset, and rarely zero, so a stale or shared page shows. */
        return (uint8_t)((seed * 131u) ^ (b * 29u) ^ (uint32_t)(i * 7u + (i >> 9)) ^ 0x5au);
}

static void *map(int fd, uint64_t size, int prot) {
        void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
        return p == MAP_FAILED ? NULL : p;
}

/* CPU access goes between the library's brackets, as a participant's must (a no-op on memfds). */
int h_write_pattern(int fd, uint64_t size, uint32_t seed, uint32_t b) {
        uint8_t *p = map(fd, size, PROT_READ | PROT_WRITE);
        if (!p)
                return -errno;
        int r = sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_WRITE);
        for (uint64_t i = 0; r == 0 && i < size; i++)
                p[i] = h_pattern_byte(seed, b, i);
        if (r == 0)
                r = sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_WRITE);
        munmap(p, size);
        return r;
}

int h_verify_pattern(int fd, uint64_t size, uint32_t seed, uint32_t b, char *why, size_t why_size) {
        const uint8_t *p = map(fd, size, PROT_READ);
        if (!p) {
                int r = -errno;
                snprintf(why, why_size, "mmap of buffer %u: %s", b, strerror(-r));
                return r;
        }
        int r = sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
        bool begun = r == 0;
        if (r < 0)
                snprintf(why, why_size, "begin_cpu_access on buffer %u: %s", b, strerror(-r));
        for (uint64_t i = 0; r == 0 && i < size; i++)
                if (p[i] != h_pattern_byte(seed, b, i)) {
                        snprintf(why, why_size, "buffer %u byte %llu is 0x%02x, expected 0x%02x", b,
                                 (unsigned long long)i, p[i], h_pattern_byte(seed, b, i));
                        r = -EIO;
                        break;
                }
        int e = begun ? sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ) : 0;
        if (e < 0 && r == 0) {
                r = e;
                snprintf(why, why_size, "end_cpu_access on buffer %u: %s", b, strerror(-e));
        }
        munmap((void *)p, size);
        return r;
}

int h_verify_zero(int fd, uint64_t size, char *why, size_t why_size) {
        const uint8_t *p = map(fd, size, PROT_READ);
        if (!p) {
                int r = -errno;
                snprintf(why, why_size, "mmap: %s", strerror(-r));
                return r;
        }
        int r = 0;
        for (uint64_t i = 0; i < size; i++)
                if (p[i]) {
                        snprintf(why, why_size, "byte %llu is 0x%02x, expected 0", (unsigned long long)i, p[i]);
                        r = -EIO;
                        break;
                }
        munmap((void *)p, size);
        return r;
}

int h_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds) {
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        union {
                char buf[CMSG_SPACE(sizeof(int) * 16)];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof u);
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds > 16)
                return -EINVAL;
        if (nfds) {
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) {
        for (int i = 0; i < bytes; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

void h_wire_header(uint8_t *buf, uint32_t size, uint16_t opcode, uint16_t flags, uint32_t txid, uint32_t nfds) {
        put_le(buf, size, 4);
        put_le(buf + 4, opcode, 2);
        put_le(buf + 6, flags, 2);
        put_le(buf + 8, txid, 4);
        put_le(buf + 12, nfds, 4);
}

/* ---- agents ---- */

struct agent_state {
        int sock;
        const char *socket_path;
        const char *name;
        struct sysmem_allocator *allocator;
        struct sysmem_token *token;
        struct sysmem_collection *collection;
        struct sysmem_collection_info *info;
        int out_fds[SYSMEM_MAX_DUPLICATES]; /* sent after the reply, then closed */
        uint32_t out_count;
};

static struct sysmem_node *agent_node(struct agent_state *s) {
        return s->token ? sysmem_token_node(s->token) : sysmem_collection_node(s->collection);
}

static void agent_describe(struct agent_state *s, struct h_rep *rep) {
        const struct sysmem_collection_info *info = s->info;
        rep->has_info = true;
        rep->id = info->buffer_collection_id;
        rep->buffer_count = info->buffer_count;
        rep->size_bytes = info->settings.buffer_settings.size_bytes;
        rep->raw_vmo_size = info->settings.buffer_settings.raw_vmo_size;
        rep->coherency_domain = info->settings.buffer_settings.coherency_domain;
        snprintf(rep->heap, sizeof rep->heap, "%s", info->settings.buffer_settings.heap.heap_type);
        rep->heap_id = info->settings.buffer_settings.heap.id;
        rep->has_weak_fd = info->close_weak_asap_fd >= 0;
        for (uint32_t i = 0; i < info->buffer_count && i < SYSMEM_MAX_BUFFERS; i++) {
                struct stat st;
                rep->fd_present[i] = info->buffers[i].fd >= 0;
                if (rep->fd_present[i] && fstat(info->buffers[i].fd, &st) == 0) {
                        rep->ino[i] = st.st_ino;
                        rep->st_size[i] = st.st_size;
                }
        }
}

/* Runs the pattern operation over every buffer this participant got. */
static int agent_buffers(struct agent_state *s, enum h_cmd cmd, uint32_t seed, char *why, size_t why_size) {
        if (!s->info)
                return -ENODATA;
        const struct sysmem_collection_info *info = s->info;
        uint64_t size = info->settings.buffer_settings.raw_vmo_size;
        for (uint32_t b = 0; b < info->buffer_count; b++) {
                int fd = info->buffers[b].fd;
                if (fd < 0)
                        continue;
                int r = cmd == H_WRITE    ? h_write_pattern(fd, size, seed, b)
                        : cmd == H_VERIFY ? h_verify_pattern(fd, size, seed, b, why, why_size)
                                          : h_verify_zero(fd, size, why, why_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void agent_handle(struct agent_state *s, const struct h_req *req, struct h_rep *rep) {
        int r = 0;
        struct sysmem_node *used = NULL;
        switch ((enum h_cmd)req->cmd) {
        case H_CONNECT:
                r = sysmem_allocator_connect(s->socket_path, &s->allocator);
                if (r >= 0)
                        r = sysmem_allocator_set_debug_client_info(s->allocator, s->name, (uint64_t)getpid());
                break;
        case H_ALLOC_SHARED:
                r = s->allocator ? sysmem_allocator_allocate_shared(s->allocator, &s->token) : -ENOTCONN;
                break;
        case H_ALLOC_NON_SHARED:
                r = s->allocator ? sysmem_allocator_allocate_non_shared(s->allocator, &s->collection) : -ENOTCONN;
                break;
        case H_DUP_SYNC: {
                uint32_t masks[SYSMEM_MAX_DUPLICATES];
                struct sysmem_token *toks[SYSMEM_MAX_DUPLICATES];
                for (uint32_t i = 0; i < SYSMEM_MAX_DUPLICATES; i++)
                        masks[i] = req->mask ? req->mask : SYSMEM_RIGHTS_SAME;
                used = sysmem_token_node(s->token);
                r = sysmem_token_duplicate_sync(s->token, req->arg, masks, toks);
                for (uint32_t i = 0; r >= 0 && i < req->arg; i++)
                        s->out_fds[s->out_count++] = sysmem_token_to_fd(toks[i]);
                break;
        }
        case H_DUP: {
                struct sysmem_token *t;
                used = sysmem_token_node(s->token);
                r = sysmem_token_duplicate(s->token, req->mask ? req->mask : SYSMEM_RIGHTS_SAME, &t);
                if (r >= 0) {
                        /* Duplicate needs a Sync before the new token may travel (sysmem-protocol.md §6). */
                        r = sysmem_node_sync(used);
                        s->out_fds[s->out_count++] = sysmem_token_to_fd(t);
                }
                break;
        }
        case H_TAKE_TOKEN: {
                int fd = -1;
                if (!h_poll_readable(s->sock, H_TIMEOUT_MS)) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sysmem_recv_fd(s->sock, &fd, NULL, 0);
                if (r >= 0)
                        r = sysmem_token_from_fd(fd, &s->token);
                if (r >= 0 && req->name[0])
                        r = sysmem_node_set_debug_client_info(sysmem_token_node(s->token), req->name,
                                                              (uint64_t)getpid());
                break;
        }
        case H_GIVE_TOKEN:
                s->out_fds[s->out_count++] = sysmem_token_to_fd(s->token);
                s->token = NULL;
                break;
        case H_BIND:
                r = sysmem_token_bind(s->token, &s->collection);
                s->token = NULL;
                break;
        case H_BIND_ALLOCATOR:
                r = sysmem_allocator_bind_shared(s->allocator, s->token, &s->collection);
                s->token = NULL;
                break;
        case H_RELEASE_TOKEN:
                r = sysmem_token_release(s->token);
                s->token = NULL;
                break;
        case H_CLOSE_TOKEN:
                sysmem_token_close(s->token);
                s->token = NULL;
                break;
        case H_SET_CONSTRAINTS: {
                struct sysmem_constraints c = req->constraints;
                c.buffer_memory_constraints.permitted_heaps =
                        c.buffer_memory_constraints.permitted_heap_count ? req->heaps : NULL;
                c.image_format_constraints = NULL;
                r = sysmem_collection_set_constraints(s->collection, req->null_constraints ? NULL : &c);
                break;
        }
        case H_WAIT:
                sysmem_collection_info_free(s->info);
                s->info = NULL;
                r = sysmem_collection_wait_allocated(s->collection, &s->info);
                if (r >= 0)
                        agent_describe(s, rep);
                break;
        case H_CHECK:
                r = sysmem_collection_check_allocated(s->collection);
                break;
        case H_WRITE:
        case H_VERIFY:
        case H_VERIFY_ZERO:
                rep->r = agent_buffers(s, (enum h_cmd)req->cmd, req->arg, rep->message, sizeof rep->message);
                return;
        case H_GET_ID:
                r = sysmem_node_get_buffer_collection_id(agent_node(s), &rep->id);
                break;
        case H_SYNC:
                r = sysmem_node_sync(agent_node(s));
                break;
        case H_RELEASE_COLLECTION:
                r = sysmem_collection_release(s->collection);
                s->collection = NULL;
                break;
        case H_CLOSE_COLLECTION:
                sysmem_collection_close(s->collection);
                s->collection = NULL;
                break;
        case H_SET_DISPENSABLE:
                used = sysmem_token_node(s->token);
                r = s->token ? sysmem_token_set_dispensable(s->token) : -ENOTCONN;
                if (r >= 0)
                        r = sysmem_node_sync(used);
                break;
        case H_SET_WEAK:
                used = agent_node(s);
                r = sysmem_node_set_weak(used);
                if (r >= 0)
                        r = sysmem_node_sync(used);
                break;
        case H_SET_WEAK_OK:
                used = agent_node(s);
                r = sysmem_node_set_weak_ok(used, req->arg != 0);
                if (r >= 0)
                        r = sysmem_node_sync(used);
                break;
        case H_ATTACH_TOKEN: {
                struct sysmem_token *t;
                used = sysmem_collection_node(s->collection);
                r = sysmem_collection_attach_token(s->collection, req->mask ? req->mask : SYSMEM_RIGHTS_SAME, &t);
                if (r >= 0)
                        s->out_fds[s->out_count++] = sysmem_token_to_fd(t);
                break;
        }
        case H_LIFETIME: {
                int fd = -1;
                used = sysmem_collection_node(s->collection);
                r = sysmem_collection_attach_lifetime_tracking(s->collection, req->arg, &fd);
                if (r >= 0)
                        r = sysmem_node_sync(used); /* the daemon holds its end before the test looks */
                if (fd >= 0)
                        s->out_fds[s->out_count++] = fd;
                break;
        }
        case H_GIVE_BUFFERS:
                /* Copies: the agent keeps its own fds (and the test closes what it receives). */
                for (uint32_t b = 0; s->info && b < s->info->buffer_count; b++)
                        if (s->info->buffers[b].fd >= 0) {
                                int fd = fcntl(s->info->buffers[b].fd, F_DUPFD_CLOEXEC, 3);
                                if (fd < 0) {
                                        r = -errno;
                                        break;
                                }
                                s->out_fds[s->out_count++] = fd;
                        }
                rep->value = s->out_count;
                break;
        case H_WEAK_STATE:
                if (!s->info || s->info->close_weak_asap_fd < 0) {
                        rep->value = 2;
                } else {
                        struct pollfd p = {.fd = s->info->close_weak_asap_fd, .events = POLLIN};
                        rep->value = poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN)) ? 1 : 0;
                }
                break;
        case H_NODE_REF: {
                int fd = -1;
                used = agent_node(s);
                r = sysmem_node_get_node_ref(used, &fd);
                if (r >= 0)
                        s->out_fds[s->out_count++] = fd;
                break;
        }
        case H_IS_ALTERNATE: {
                int fd = -1;
                bool alt = false;
                used = agent_node(s);
                if (!h_poll_readable(s->sock, H_TIMEOUT_MS)) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sysmem_recv_fd(s->sock, &fd, NULL, 0);
                if (r >= 0)
                        r = sysmem_node_is_alternate_for(used, fd, &alt);
                if (fd >= 0)
                        close(fd);
                rep->value = alt;
                break;
        }
        case H_GET_VMO_INFO: {
                uint64_t index = 0;
                if (!s->allocator || !s->info || req->arg >= s->info->buffer_count ||
                    s->info->buffers[req->arg].fd < 0) {
                        r = -EINVAL;
                        break;
                }
                r = sysmem_allocator_get_vmo_info(s->allocator, s->info->buffers[req->arg].fd, &rep->id, &index);
                rep->value = (uint32_t)index;
                break;
        }
        case H_EXIT:
                sysmem_token_close(s->token);
                sysmem_collection_close(s->collection);
                sysmem_collection_info_free(s->info);
                sysmem_allocator_free(s->allocator);
                s->token = NULL;
                s->collection = NULL;
                s->info = NULL;
                s->allocator = NULL;
                break;
        default:
                r = -EINVAL;
                break;
        }
        rep->r = r;
        if (!used && (s->token || s->collection))
                used = agent_node(s);
        if (r < 0 && used) {
                rep->error = sysmem_node_error(used);
                snprintf(rep->message, sizeof rep->message, "%s", sysmem_node_error_message(used));
        }
}

static _Noreturn void agent_main(int sock, const char *socket_path, const char *name) {
        /* A participant whose test died or forgot it ends by itself. */
        signal(SIGALRM, SIG_DFL);
        alarm(H_WATCHDOG_S);
        signal(SIGPIPE, SIG_IGN);
        struct agent_state s = {.sock = sock, .socket_path = socket_path, .name = name};
        for (;;) {
                struct h_req req;
                ssize_t n = recv(sock, &req, sizeof req, 0);
                if (n == 0)
                        _exit(0);
                if (n != (ssize_t)sizeof req) {
                        if (n < 0 && errno == EINTR)
                                continue;
                        _exit(3);
                }
                struct h_rep *rep = calloc(1, sizeof *rep);
                if (!rep)
                        _exit(4);
                agent_handle(&s, &req, rep);
                if (send(sock, rep, sizeof *rep, MSG_NOSIGNAL) != (ssize_t)sizeof *rep)
                        _exit(5);
                free(rep);
                for (uint32_t i = 0; i < s.out_count; i++) {
                        if (s.out_fds[i] >= 0 && sysmem_send_fd(sock, s.out_fds[i], NULL, 0) < 0)
                                _exit(6);
                        close(s.out_fds[i]);
                }
                s.out_count = 0;
                if (req.cmd == H_EXIT)
                        _exit(0);
        }
}

static const char *cmd_name(uint32_t cmd) {
        static const char *const names[] = {
                [H_CONNECT] = "CONNECT",
                [H_ALLOC_SHARED] = "ALLOC_SHARED",
                [H_ALLOC_NON_SHARED] = "ALLOC_NON_SHARED",
                [H_DUP_SYNC] = "DUP_SYNC",
                [H_DUP] = "DUP",
                [H_TAKE_TOKEN] = "TAKE_TOKEN",
                [H_GIVE_TOKEN] = "GIVE_TOKEN",
                [H_BIND] = "BIND",
                [H_BIND_ALLOCATOR] = "BIND_ALLOCATOR",
                [H_RELEASE_TOKEN] = "RELEASE_TOKEN",
                [H_CLOSE_TOKEN] = "CLOSE_TOKEN",
                [H_SET_CONSTRAINTS] = "SET_CONSTRAINTS",
                [H_WAIT] = "WAIT",
                [H_CHECK] = "CHECK",
                [H_WRITE] = "WRITE",
                [H_VERIFY] = "VERIFY",
                [H_VERIFY_ZERO] = "VERIFY_ZERO",
                [H_GET_ID] = "GET_ID",
                [H_SYNC] = "SYNC",
                [H_RELEASE_COLLECTION] = "RELEASE_COLLECTION",
                [H_CLOSE_COLLECTION] = "CLOSE_COLLECTION",
                [H_EXIT] = "EXIT",
                [H_SET_DISPENSABLE] = "SET_DISPENSABLE",
                [H_SET_WEAK] = "SET_WEAK",
                [H_SET_WEAK_OK] = "SET_WEAK_OK",
                [H_ATTACH_TOKEN] = "ATTACH_TOKEN",
                [H_LIFETIME] = "LIFETIME",
                [H_GIVE_BUFFERS] = "GIVE_BUFFERS",
                [H_WEAK_STATE] = "WEAK_STATE",
                [H_NODE_REF] = "NODE_REF",
                [H_IS_ALTERNATE] = "IS_ALTERNATE",
                [H_GET_VMO_INFO] = "GET_VMO_INFO",
        };
        return cmd < sizeof names / sizeof names[0] && names[cmd] ? names[cmd] : "?";
}

void h_agent_spawn(struct h_agent *a, struct h_daemon *d, const char *name) {
        memset(a, 0, sizeof *a);
        snprintf(a->name, sizeof a->name, "%s", name);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                fail_msg("socketpair: %s", strerror(errno));
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                close_inherited_fds(sv[1]);
                agent_main(sv[1], d ? d->socket : NULL, a->name);
        }
        close(sv[1]);
        a->pid = pid;
        a->sock = sv[0];
        int slot = track(tracked_agents, pid);
        if (slot >= 0)
                tracked_agent_socks[slot] = sv[0];
        if (d) {
                struct h_rep rep;
                h_agent_cmd(a, H_CONNECT, 0, &rep);
                if (rep.r < 0)
                        fail_msg("agent %s could not connect to sysmemd: %s", name, strerror(-rep.r));
        }
}

void h_agent_send(struct h_agent *a, const struct h_req *req) {
        if (send(a->sock, req, sizeof *req, MSG_NOSIGNAL) != (ssize_t)sizeof *req)
                fail_msg("agent %s: cannot send command %s: %s", a->name, cmd_name(req->cmd), strerror(errno));
}

void h_agent_send_cmd(struct h_agent *a, enum h_cmd cmd, uint32_t arg) {
        struct h_req req = {.cmd = cmd, .arg = arg};
        h_agent_send(a, &req);
}

void h_agent_reply(struct h_agent *a, struct h_rep *rep) {
        if (!h_poll_readable(a->sock, H_TIMEOUT_MS)) {
                h_agent_kill(a);
                fail_msg("agent %s gave no reply within %d ms (blocked in a sysmem call?)", a->name, H_TIMEOUT_MS);
        }
        ssize_t n = recv(a->sock, rep, sizeof *rep, 0);
        if (n != (ssize_t)sizeof *rep) {
                int status = 0;
                char why[128] = "is gone";
                if (wait_exit(a->pid, H_TIMEOUT_MS, &status))
                        describe_status(status, why, sizeof why);
                untrack(tracked_agents, a->pid);
                close(a->sock);
                a->sock = -1;
                a->pid = 0;
                fail_msg("agent %s %s instead of replying", a->name, why);
        }
}

void h_agent_call(struct h_agent *a, const struct h_req *req, struct h_rep *rep) {
        h_agent_send(a, req);
        h_agent_reply(a, rep);
}

void h_agent_cmd(struct h_agent *a, enum h_cmd cmd, uint32_t arg, struct h_rep *rep) {
        struct h_req req = {.cmd = cmd, .arg = arg};
        h_agent_call(a, &req, rep);
}

void h_agent_call_fd(struct h_agent *a, const struct h_req *req, int fd, struct h_rep *rep) {
        h_agent_send(a, req);
        int r = sysmem_send_fd(a->sock, fd, NULL, 0);
        if (r < 0)
                fail_msg("sending an fd to agent %s: %s", a->name, strerror(-r));
        h_agent_reply(a, rep);
}

void h_agent_take_token(struct h_agent *a, int token_fd, const char *debug_name) {
        struct h_req req = {.cmd = H_TAKE_TOKEN};
        snprintf(req.name, sizeof req.name, "%s", debug_name ? debug_name : a->name);
        struct h_rep rep;
        h_agent_call_fd(a, &req, token_fd, &rep);
        if (rep.r < 0)
                fail_msg("agent %s could not take its token: %s", a->name, strerror(-rep.r));
}

void h_agent_set_constraints(struct h_agent *a, const struct sysmem_constraints *c) {
        struct h_req req = {.cmd = H_SET_CONSTRAINTS, .null_constraints = c == NULL};
        if (c) {
                req.constraints = *c;
                if (c->buffer_memory_constraints.permitted_heap_count > 4)
                        fail_msg("the harness passes at most 4 permitted heaps");
                for (uint32_t i = 0; i < c->buffer_memory_constraints.permitted_heap_count; i++)
                        req.heaps[i] = c->buffer_memory_constraints.permitted_heaps[i];
        }
        struct h_rep rep;
        h_agent_call(a, &req, &rep);
        if (rep.r < 0)
                fail_msg("agent %s: SetConstraints failed: %s (%s)", a->name, strerror(-rep.r), rep.message);
}

void h_agent_kill(struct h_agent *a) {
        if (a->pid <= 0)
                return;
        kill(a->pid, SIGKILL);
        (void)waitpid(a->pid, NULL, 0);
        untrack(tracked_agents, a->pid);
        a->pid = 0;
        if (a->sock >= 0)
                close(a->sock);
        a->sock = -1;
}

void h_agent_stop(struct h_agent *a) {
        if (a->pid <= 0)
                return;
        struct h_rep rep;
        h_agent_cmd(a, H_EXIT, 0, &rep);
        int status = 0;
        pid_t pid = a->pid;
        bool exited = wait_exit(pid, H_TIMEOUT_MS, &status);
        if (!exited) {
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
        }
        untrack(tracked_agents, pid);
        close(a->sock);
        a->sock = -1;
        a->pid = 0;
        if (!exited)
                fail_msg("agent %s did not exit", a->name);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char why[128];
                describe_status(status, why, sizeof why);
                fail_msg("agent %s %s", a->name, why);
        }
}

int h_open_drm_driver(const char *driver) {
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
