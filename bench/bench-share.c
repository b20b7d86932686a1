/* bench-share.c: times sharing N sealed memfds between two processes directly, and through sysmemd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

#ifndef SYSMEMD_PATH
#define SYSMEMD_PATH "sysmemd"
#endif

#define MAX_N 64u
#define WARMUP 30
#define DEFAULT_ITERS 500
#define NS_BATCH 400 /* non-shared collections per batch */
#define NS_BATCHES 7

/* The first message of every exchange: what the peer has to do with the fds that come with it. */
struct cmd {
        char op; /* 'B' baseline (N memfds attached), 'S' sysmem (one token attached), 'Q' quit */
        uint32_t n;
        uint64_t size;
};

static pid_t daemon_pid, main_pid;

/* Exits; from the main process it stops sysmemd first, which would otherwise outlive a failed run. */
static _Noreturn void bail(void) {
        if (daemon_pid > 0 && getpid() == main_pid)
                kill(daemon_pid, SIGTERM);
        exit(1);
}

static _Noreturn void fail(const char *what, int r) {
        fprintf(stderr, "bench-share: %s: %s\n", what, strerror(r < 0 ? -r : r));
        bail();
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int send_fds(int sock, const void *data, size_t size, const int *fds, uint32_t nfds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_N)];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
        }
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Receives one packet and every fd it carries; returns the payload length (0: peer gone). */
static ssize_t recv_fds(int sock, void *data, size_t size, int *fds, uint32_t *nfds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_N)];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = data, .iov_len = size};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        *nfds = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                uint32_t k = (uint32_t)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
                *nfds += k;
        }
        if (mh.msg_flags & MSG_CTRUNC)
                return -EBADMSG;
        return n;
}

static void read_byte(int sock, char want) {
        char c;
        ssize_t n;
        do
                n = read(sock, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1 || c != want) {
                fprintf(stderr, "bench-share: expected '%c' from the peer, got %s\n", want,
                        n == 1 ? "another byte" : "nothing (it died)");
                bail();
        }
}

static void write_byte(int sock, char c) {
        if (write(sock, &c, 1) != 1)
                fail("write to the other process", errno);
}

static void check_fd_size(int fd, uint64_t size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                fail("fstat", errno);
        if ((uint64_t)st.st_size != size) {
                fprintf(stderr, "bench-share: buffer of %lld bytes, expected %" PRIu64 "\n", (long long)st.st_size,
                        size);
                bail();
        }
}

/* ---- the peer process: answers every exchange the initiator starts ---- */

static int peer_sysmem(int sock, int token_fd, const struct cmd *c) {
        struct sysmem_token *token;
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        int r = sysmem_token_from_fd(token_fd, &token);
        if (r < 0)
                return r;
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                return r;
        /*
         * The baseline's peer gets the creator's read-write fds, so by default this peer writes too.
         * BENCH_READONLY_PEER=1 makes it a reader: then sysmemd hands it read-only reopened fds (one
         * open() per buffer), the price of enforcing rights.
         */
        static int readonly = -1;
        if (readonly < 0)
                readonly = getenv("BENCH_READONLY_PEER") && !strcmp(getenv("BENCH_READONLY_PEER"), "1");
        const struct sysmem_constraints cons = {
                .usage = {.cpu = readonly ? SYSMEM_CPU_USAGE_READ : SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE}};
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0) {
                sysmem_collection_close(coll);
                return r;
        }
        if (info->buffer_count != c->n)
                return -EPROTO;
        for (uint32_t i = 0; i < info->buffer_count; i++)
                check_fd_size(info->buffers[i].fd, c->size);
        write_byte(sock, 'a');
        /* Outside the timed part: tidy up, then say so, so the next exchange starts from a quiet daemon. */
        sysmem_collection_info_free(info);
        r = sysmem_collection_release(coll);
        write_byte(sock, 'd');
        return r;
}

static int peer_main(int sock) {
        /* Connected once, like the baseline's socket; the token path below does not need it, a real peer would. */
        struct sysmem_allocator *alloc;
        int r = sysmem_allocator_connect(NULL, &alloc);
        if (r < 0)
                fail("peer: connect", r);
        /* A round trip: once answered, the daemon has accepted this connection and its fd count is final. */
        bool known;
        if ((r = sysmem_allocator_validate_token(alloc, sock, &known)) < 0)
                fail("peer: validate", r);
        write_byte(sock, 'R');
        for (;;) {
                struct cmd c;
                int fds[MAX_N];
                uint32_t nfds = 0;
                ssize_t n = recv_fds(sock, &c, sizeof c, fds, &nfds);
                if (n < 0)
                        fail("peer: recvmsg", (int)n);
                if (n == 0 || c.op == 'Q')
                        break;
                if (n != sizeof c)
                        fail("peer: short command", EPROTO);
                if (c.op == 'B') {
                        if (nfds != c.n)
                                fail("peer: wrong number of memfds", EPROTO);
                        for (uint32_t i = 0; i < nfds; i++)
                                check_fd_size(fds[i], c.size);
                        write_byte(sock, 'a');
                        for (uint32_t i = 0; i < nfds; i++)
                                close(fds[i]);
                        write_byte(sock, 'd');
                } else if (c.op == 'S') {
                        if (nfds != 1)
                                fail("peer: expected one token", EPROTO);
                        if ((r = peer_sysmem(sock, fds[0], &c)) < 0)
                                fail("peer: sysmem exchange", r);
                } else {
                        fail("peer: unknown command", EPROTO);
                }
        }
        sysmem_allocator_free(alloc);
        return 0;
}

/* ---- the daemon ---- */

static int daemon_fd_count(void) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)daemon_pid);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* Waits (up to timeout_ms) until the daemon is back to `want` fds: it has handled every release and close. */
static bool daemon_settle(int want, int timeout_ms) {
        uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
        do {
                if (daemon_fd_count() == want)
                        return true;
                struct timespec ts = {0, 20 * 1000};
                nanosleep(&ts, NULL);
        } while (now_ns() < end);
        return false;
}

/* From /proc/PID/schedstat (run ns, wait ns, timeslices): field 2 counts how often the process was switched in. */
static uint64_t schedstat(pid_t pid, int field) {
        char path[64], buf[128] = "";
        snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        char *p = buf;
        for (int i = 0; i < field; i++)
                strtoull(p, &p, 10);
        return strtoull(p, NULL, 10);
}

/* CPU time of a process (ours or a child's), exact at the moment of the call, unlike schedstat's field 0. */
static uint64_t cpu_ns(pid_t pid) {
        clockid_t clock;
        struct timespec ts;
        if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The count once it holds still: the daemon closes a message's fds only after it has sent the reply. */
static int daemon_fd_count_stable(void) {
        int prev = daemon_fd_count();
        for (int i = 0; i < 100; i++) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
                int n = daemon_fd_count();
                if (n == prev)
                        return n;
                prev = n;
        }
        return prev;
}

static pid_t start_daemon(const char *sysmemd, const char *socket_path) {
        pid_t pid = fork();
        if (pid < 0)
                fail("fork", errno);
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", socket_path, "--log-level", "warning", (char *)NULL);
                fprintf(stderr, "bench-share: exec %s: %s\n", sysmemd, strerror(errno));
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                struct stat st;
                if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
                        return pid;
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        break;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        fprintf(stderr, "bench-share: sysmemd did not come up on %s\n", socket_path);
        kill(pid, SIGKILL);
        exit(1);
}

/* ---- the timed exchanges (initiator side) ---- */

/* Timed: creating and sealing n memfds, passing them in one sendmsg, until the peer acks after fstat()ing each. */
static uint64_t run_baseline(int sock, uint32_t n, uint64_t size) {
        int fds[MAX_N];
        struct cmd c = {.op = 'B', .n = n, .size = size};
        uint64_t t0 = now_ns();
        for (uint32_t i = 0; i < n; i++) {
                fds[i] = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fds[i] < 0 || ftruncate(fds[i], (off_t)size) < 0 ||
                    fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                        fail("memfd", errno);
        }
        int r = send_fds(sock, &c, sizeof c, fds, n);
        if (r < 0)
                fail("sendmsg", r);
        read_byte(sock, 'a');
        uint64_t t1 = now_ns();
        for (uint32_t i = 0; i < n; i++)
                close(fds[i]);
        read_byte(sock, 'd');
        return t1 - t0;
}

/*
 * Timed: from AllocateSharedCollection through Duplicate, the token's trip to the peer, both sides' Bind,
 * SetConstraints and WaitForAllBuffersAllocated, until the peer acks after fstat()ing its n fds. Only the
 * initiator asks for a count and a size, so the result is exactly n buffers of `size` bytes.
 */
static uint64_t run_sysmem(struct sysmem_allocator *alloc, int sock, uint32_t n, uint64_t size) {
        struct sysmem_token *token, *dup;
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        struct cmd c = {.op = 'S', .n = n, .size = size};
        const struct sysmem_constraints cons = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                .min_buffer_count = n,
                .max_buffer_count = n,
                .buffer_memory_constraints = {.min_size_bytes = size},
        };
        uint64_t t0 = now_ns();
        /* The root token and the peer's duplicate in one round trip, as an initiator would do it. */
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        int r = sysmem_allocator_allocate_shared_with_duplicates(alloc, 1, &same, &token, &dup);
        if (r < 0)
                fail("allocate_shared_with_duplicates", r);
        int tfd = sysmem_token_to_fd(dup);
        if ((r = sysmem_send_fd(sock, tfd, &c, sizeof c)) < 0)
                fail("sending the token", r);
        close(tfd);
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                fail("bind", r);
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0)
                fail("set_constraints", r);
        if ((r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                fail("wait_allocated", r);
        read_byte(sock, 'a');
        uint64_t t1 = now_ns();
        if (info->buffer_count != n || info->settings.buffer_settings.size_bytes != size)
                fail("unexpected allocation", EPROTO);
        sysmem_collection_info_free(info);
        if ((r = sysmem_collection_release(coll)) < 0)
                fail("release", r);
        read_byte(sock, 'd');
        return t1 - t0;
}

/* One non-shared collection, start to finish: the per-collection overhead with nobody to wait for. */
static void run_non_shared(struct sysmem_allocator *alloc) {
        static const struct sysmem_constraints cons = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                .min_buffer_count = 4,
                .max_buffer_count = 4,
                .buffer_memory_constraints = {.min_size_bytes = 64u << 10},
        };
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        int r = sysmem_allocator_allocate_non_shared(alloc, &coll);
        if (r < 0)
                fail("allocate_non_shared", r);
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                fail("non-shared collection", r);
        if (info->buffer_count != 4)
                fail("unexpected non-shared allocation", EPROTO);
        sysmem_collection_info_free(info);
        if ((r = sysmem_collection_release(coll)) < 0)
                fail("release", r);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

struct stats {
        double p10, p50, p90; /* microseconds */
};

static struct stats summarize(uint64_t *ns, size_t count) {
        qsort(ns, count, sizeof *ns, cmp_u64);
        return (struct stats){
                .p10 = (double)ns[count / 10] / 1000.0,
                .p50 = (double)ns[count / 2] / 1000.0,
                .p90 = (double)ns[count * 9 / 10] / 1000.0,
        };
}

int main(int argc, char **argv) {
        const char *sysmemd = argc > 1 ? argv[1] : SYSMEMD_PATH;
        int iters = argc > 2 ? atoi(argv[2]) : DEFAULT_ITERS;
        if (iters < 10)
                iters = 10;
        setvbuf(stdout, NULL, _IOLBF, 0);

        char dir[] = "/tmp/sysmem-bench-XXXXXX";
        if (!mkdtemp(dir))
                fail("mkdtemp", errno);
        char path[256];
        snprintf(path, sizeof path, "%s/socket", dir);
        setenv("SYSMEM_SOCKET", path, 1);
        main_pid = getpid();
        daemon_pid = start_daemon(sysmemd, path);

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                fail("socketpair", errno);
        pid_t peer = fork();
        if (peer < 0)
                fail("fork", errno);
        if (peer == 0) {
                close(sv[0]);
                _exit(peer_main(sv[1]));
        }
        close(sv[1]);
        int sock = sv[0];
        struct sysmem_allocator *alloc;
        int r = sysmem_allocator_connect(path, &alloc);
        if (r < 0)
                fail("connect", r);
        read_byte(sock, 'R');
        /* The same round trip as the peer's, so the daemon has accepted both before its fds are counted. */
        bool known;
        if ((r = sysmem_allocator_validate_token(alloc, sock, &known)) < 0)
                fail("validate", r);
        /*
         * One exchange first: the daemon then holds the sockets it makes ahead for this connection's
         * next allocation (they stay for the connection's life), and the count below includes them.
         */
        (void)run_sysmem(alloc, sock, 1, 4096);
        int fds_start = daemon_fd_count_stable();

        static const struct {
                uint32_t n;
                uint64_t size;
                const char *label;
        } cases[] = {{8, 1u << 20, "8 x 1 MiB"}, {64, 64u << 10, "64 x 64 KiB"}};
        struct stats res[2][2];
        double paired[2]; /* median over iterations of sysmem / baseline within the same iteration */
        unsigned unsettled = 0;
        uint64_t *base = calloc((size_t)iters, sizeof *base), *sm = calloc((size_t)iters, sizeof *sm);
        /* CPU per exchange of [path][process: sysmemd, initiator, peer], one sample per iteration */
        uint64_t *cpu[2][3], *wakeups = calloc((size_t)iters, sizeof *wakeups), *ratios = calloc((size_t)iters, 8);
        double wakeups_median[2];
        struct stats cpu_res[2][2][3];
        for (size_t j = 0; j < 6; j++)
                if (!(cpu[j / 3][j % 3] = calloc((size_t)iters, sizeof(uint64_t))))
                        fail("calloc", ENOMEM);
        if (!base || !sm || !wakeups || !ratios)
                fail("calloc", ENOMEM);
        pid_t self = getpid();
        printf("bench-share: %d iterations per case after %d warm-up, baseline and sysmem alternating; "
               "sysmemd %s (pid %d)\n",
               iters, WARMUP, sysmemd, (int)daemon_pid);
        uint64_t bench_t0 = now_ns();
        for (size_t k = 0; k < 2; k++) {
                for (int i = -WARMUP; i < iters; i++) {
                        uint64_t c[2][3][2]; /* [path][process][before, after]; our own read last and first */
                        c[0][0][0] = cpu_ns(daemon_pid), c[0][2][0] = cpu_ns(peer), c[0][1][0] = cpu_ns(self);
                        uint64_t b = run_baseline(sock, cases[k].n, cases[k].size);
                        c[0][1][1] = cpu_ns(self), c[0][2][1] = cpu_ns(peer), c[0][0][1] = cpu_ns(daemon_pid);
                        uint64_t w0 = schedstat(daemon_pid, 2);
                        c[1][0][0] = cpu_ns(daemon_pid), c[1][2][0] = cpu_ns(peer), c[1][1][0] = cpu_ns(self);
                        uint64_t s = run_sysmem(alloc, sock, cases[k].n, cases[k].size);
                        c[1][1][1] = cpu_ns(self);
                        /* Iterations start from a daemon that has handled the previous one's release. */
                        /* Stop waiting after a few misses, so that a leak cannot stretch the run to minutes. */
                        if (unsettled < 3 && !daemon_settle(fds_start, 200))
                                unsettled++;
                        c[1][2][1] = cpu_ns(peer), c[1][0][1] = cpu_ns(daemon_pid);
                        uint64_t w1 = schedstat(daemon_pid, 2);
                        if (i >= 0) {
                                wakeups[i] = (w1 - w0) * 1000; /* summarize() divides by 1000 (ns to us) */
                                base[i] = b;
                                sm[i] = s;
                                ratios[i] = s * 1000 / (b ? b : 1); /* summarize() divides by 1000 */
                                for (size_t j = 0; j < 6; j++)
                                        cpu[j / 3][j % 3][i] = c[j / 3][j % 3][1] - c[j / 3][j % 3][0];
                        }
                }
                res[k][0] = summarize(base, (size_t)iters);
                res[k][1] = summarize(sm, (size_t)iters);
                paired[k] = summarize(ratios, (size_t)iters).p50;
                for (size_t j = 0; j < 6; j++)
                        cpu_res[k][j / 3][j % 3] = summarize(cpu[j / 3][j % 3], (size_t)iters);
                wakeups_median[k] = summarize(wakeups, (size_t)iters).p50;
        }

        /* Non-shared throughput: back to back, so the daemon's clean-up of one overlaps the next, as in use. */
        double rates[NS_BATCHES];
        uint64_t ns_cpu[3][NS_BATCHES]; /* per collection: sysmemd, this process, sysmemd wakeups x 1000 */
        for (int i = 0; i < NS_BATCH / 4; i++)
                run_non_shared(alloc);
        for (int b = 0; b < NS_BATCHES; b++) {
                uint64_t w0 = schedstat(daemon_pid, 2), d0 = cpu_ns(daemon_pid), s0 = cpu_ns(self);
                uint64_t t0 = now_ns();
                for (int i = 0; i < NS_BATCH; i++)
                        run_non_shared(alloc);
                rates[b] = NS_BATCH * 1e9 / (double)(now_ns() - t0);
                ns_cpu[1][b] = (cpu_ns(self) - s0) / NS_BATCH;
                ns_cpu[0][b] = (cpu_ns(daemon_pid) - d0) / NS_BATCH;
                ns_cpu[2][b] = (schedstat(daemon_pid, 2) - w0) * 1000 / NS_BATCH;
        }
        struct stats ns_cpu_res[3] = {summarize(ns_cpu[0], NS_BATCHES), summarize(ns_cpu[1], NS_BATCHES),
                                      summarize(ns_cpu[2], NS_BATCHES)};
        for (int i = 0; i < NS_BATCHES; i++)
                for (int j = i + 1; j < NS_BATCHES; j++)
                        if (rates[j] < rates[i]) {
                                double t = rates[i];
                                rates[i] = rates[j];
                                rates[j] = t;
                        }

        bool settled = daemon_settle(fds_start, 2000);
        int fds_end = daemon_fd_count();
        double bench_s = (double)(now_ns() - bench_t0) / 1e9;

        /* The paired ratio compares runs a few hundred microseconds apart: steadier on a busy machine. */
        printf("\n%-12s %-9s %10s %10s %10s %16s %8s\n", "buffers", "path", "p10 us", "median us", "p90 us",
               "sysmem/baseline", "paired");
        for (size_t k = 0; k < 2; k++) {
                printf("%-12s %-9s %10.1f %10.1f %10.1f\n", cases[k].label, "baseline", res[k][0].p10, res[k][0].p50,
                       res[k][0].p90);
                printf("%-12s %-9s %10.1f %10.1f %10.1f %15.2fx %7.2fx\n", "", "sysmem", res[k][1].p10,
                       res[k][1].p50, res[k][1].p90, res[k][1].p50 / res[k][0].p50, paired[k]);
        }
        printf("\nnon-shared 4 x 64 KiB collections (allocate, set constraints, wait, free, release): "
               "median %.0f/s (min %.0f, max %.0f; %d batches of %d)\n",
               rates[NS_BATCHES / 2], rates[0], rates[NS_BATCHES - 1], NS_BATCHES, NS_BATCH);
        printf("  per collection (median batch): sysmemd CPU %.1f us in %.1f wakeups, client CPU %.1f us\n",
               ns_cpu_res[0].p50, ns_cpu_res[2].p50, ns_cpu_res[1].p50);
        printf("\nCPU time per exchange, median us (sysmemd's includes its clean-up; wakeups: times switched in)\n");
        printf("%-12s %-9s %10s %10s %10s %10s %16s\n", "buffers", "path", "sysmemd", "initiator", "peer", "total",
               "sysmemd wakeups");
        for (size_t k = 0; k < 2; k++)
                for (size_t j = 0; j < 2; j++) {
                        const struct stats *cs = cpu_res[k][j];
                        printf("%-12s %-9s %10.1f %10.1f %10.1f %10.1f", j ? "" : cases[k].label,
                               j ? "sysmem" : "baseline", cs[0].p50, cs[1].p50, cs[2].p50,
                               cs[0].p50 + cs[1].p50 + cs[2].p50);
                        if (j)
                                printf(" %16.1f", wakeups_median[k]);
                        printf("\n");
                }
        printf("\nsysmemd fds: %d at start, %d at end%s; %u iterations did not settle within 200 ms%s; %.1f s\n",
               fds_start, fds_end, settled && fds_end == fds_start ? " (no leak)" : " (LEAK?)", unsettled,
               unsettled >= 3 ? " (stopped waiting after 3)" : "", bench_s);

        struct cmd q = {.op = 'Q'};
        (void)send_fds(sock, &q, sizeof q, NULL, 0);
        int st;
        waitpid(peer, &st, 0);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        sysmem_allocator_free(alloc);
        close(sock);
        kill(daemon_pid, SIGTERM);
        int dst;
        waitpid(daemon_pid, &dst, 0);
        unlink(path);
        rmdir(dir);
        free(base);
        free(sm);
        free(wakeups);
        free(ratios);
        for (size_t j = 0; j < 6; j++)
                free(cpu[j / 3][j % 3]);
        ok = ok && WIFEXITED(dst) && WEXITSTATUS(dst) == 0 && settled && fds_end == fds_start;
        if (!ok)
                printf("bench-share: FAILED (peer, daemon exit status or fd count)\n");
        return ok ? 0 : 1;
}
