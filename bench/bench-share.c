/*
 * bench-share.c: times sharing N sealed memfds between two processes directly, and through sysmemd, paired
 * per iteration; also the daemon's CPU, wake-ups and syscalls per exchange, and the issue-12 goals.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
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

#include "bench-common.h"

#ifndef SYSMEMD_PATH
#define SYSMEMD_PATH "sysmemd"
#endif

#define MAX_N 64u
#define WARMUP 30
#define DEFAULT_ITERS 500
#define NS_BATCH 400 /* non-shared collections per batch */
#define NS_BATCHES 7
#define N_CASES 3
#define SYSCALL_GOAL 12.0 /* issue 12: the daemon's fixed syscalls per collection with two participants */

/* The first message of every exchange: what the peer has to do with the fds that come with it. */
struct cmd {
        char op; /* 'B' baseline (N memfds attached), 'S' sysmem (one token attached), 'Q' quit */
        uint32_t n;
        uint64_t size;
};

/* The cases, smallest first; goal: issue 12's bound on the paired median of sysmem / baseline. */
static const struct share_case {
        uint32_t n;
        uint64_t size;
        const char *label;
        double goal;
} cases[N_CASES] = {
        {1, 4u << 10, "1 x 4 KiB", 3.0},
        {8, 1u << 20, "8 x 1 MiB", 1.3},
        {64, 64u << 10, "64 x 64 KiB", 1.15},
};

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
                bench_fail("reading from the other process", EPROTO);
        }
}

static void write_byte(int sock, char c) {
        if (write(sock, &c, 1) != 1)
                bench_fail("write to the other process", errno);
}

static void check_fd_size(int fd, uint64_t size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                bench_fail("fstat", errno);
        if ((uint64_t)st.st_size != size) {
                fprintf(stderr, "bench-share: buffer of %lld bytes, expected %" PRIu64 "\n", (long long)st.st_size,
                        size);
                bench_fail("buffer size", EPROTO);
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
                bench_fail("peer: connect", r);
        /* A round trip: once answered, the daemon has accepted this connection and its fd count is final. */
        bool known;
        if ((r = sysmem_allocator_validate_token(alloc, sock, &known)) < 0)
                bench_fail("peer: validate", r);
        write_byte(sock, 'R');
        for (;;) {
                struct cmd c;
                int fds[MAX_N];
                uint32_t nfds = 0;
                ssize_t n = recv_fds(sock, &c, sizeof c, fds, &nfds);
                if (n < 0)
                        bench_fail("peer: recvmsg", (int)n);
                if (n == 0 || c.op == 'Q')
                        break;
                if (n != sizeof c)
                        bench_fail("peer: short command", EPROTO);
                if (c.op == 'B') {
                        if (nfds != c.n)
                                bench_fail("peer: wrong number of memfds", EPROTO);
                        for (uint32_t i = 0; i < nfds; i++)
                                check_fd_size(fds[i], c.size);
                        write_byte(sock, 'a');
                        for (uint32_t i = 0; i < nfds; i++)
                                close(fds[i]);
                        write_byte(sock, 'd');
                } else if (c.op == 'S') {
                        if (nfds != 1)
                                bench_fail("peer: expected one token", EPROTO);
                        if ((r = peer_sysmem(sock, fds[0], &c)) < 0)
                                bench_fail("peer: sysmem exchange", r);
                } else {
                        bench_fail("peer: unknown command", EPROTO);
                }
        }
        sysmem_allocator_free(alloc);
        return 0;
}

/* ---- the timed exchanges (initiator side) ---- */

/* Timed: creating and sealing n memfds, passing them in one sendmsg, until the peer acks after fstat()ing each. */
static uint64_t run_baseline(int sock, uint32_t n, uint64_t size) {
        int fds[MAX_N];
        struct cmd c = {.op = 'B', .n = n, .size = size};
        uint64_t t0 = bench_now_ns();
        for (uint32_t i = 0; i < n; i++) {
                fds[i] = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fds[i] < 0 || ftruncate(fds[i], (off_t)size) < 0 ||
                    fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                        bench_fail("memfd", errno);
        }
        int r = send_fds(sock, &c, sizeof c, fds, n);
        if (r < 0)
                bench_fail("sendmsg", r);
        read_byte(sock, 'a');
        uint64_t t1 = bench_now_ns();
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
        uint64_t t0 = bench_now_ns();
        /* The root token and the peer's duplicate in one round trip, as an initiator would do it. */
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        int r = sysmem_allocator_allocate_shared_with_duplicates(alloc, 1, &same, &token, &dup);
        if (r < 0)
                bench_fail("allocate_shared_with_duplicates", r);
        int tfd = sysmem_token_to_fd(dup);
        if ((r = sysmem_send_fd(sock, tfd, &c, sizeof c)) < 0)
                bench_fail("sending the token", r);
        close(tfd);
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                bench_fail("bind", r);
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0)
                bench_fail("set_constraints", r);
        if ((r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                bench_fail("wait_allocated", r);
        read_byte(sock, 'a');
        uint64_t t1 = bench_now_ns();
        if (info->buffer_count != n || info->settings.buffer_settings.size_bytes != size)
                bench_fail("unexpected allocation", EPROTO);
        sysmem_collection_info_free(info);
        if ((r = sysmem_collection_release(coll)) < 0)
                bench_fail("release", r);
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
                bench_fail("allocate_non_shared", r);
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                bench_fail("non-shared collection", r);
        if (info->buffer_count != 4)
                bench_fail("unexpected non-shared allocation", EPROTO);
        sysmem_collection_info_free(info);
        if ((r = sysmem_collection_release(coll)) < 0)
                bench_fail("release", r);
}

/* ---- the daemon, seen from outside ---- */

/* What the measuring side knows: the processes, the fd count an idle daemon has, the syscall counter. */
struct bench {
        struct sysmem_allocator *alloc;
        int sock;
        pid_t self, peer, daemon;
        int fds_start;
        unsigned unsettled; /* waits that timed out; after 3 we stop waiting, so a leak cannot take minutes */
        struct bench_syscalls sc;
        bool counting; /* sc is open */
};

/* The state letter of /proc/PID/stat ('S': asleep, in sysmemd's case in epoll_wait), or 0. */
static char process_state(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        const char *p = strrchr(buf, ')'); /* the name in parentheses may hold spaces */
        return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Waits (up to timeout_ms) until the daemon is back to `want` fds, so it has handled every release and
 * close, and is asleep again: its syscall count then includes the epoll_wait it sleeps in, every time.
 */
static bool daemon_settle(pid_t daemon, int want, int timeout_ms) {
        uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
        do {
                if (bench_fd_count(daemon) == want && process_state(daemon) == 'S')
                        return true;
                struct timespec ts = {0, 20 * 1000};
                nanosleep(&ts, NULL);
        } while (bench_now_ns() < end);
        return false;
}

static void bench_settle(struct bench *b) {
        if (b->unsettled < 3 && !daemon_settle(b->daemon, b->fds_start, 200))
                b->unsettled++;
}

/* The count once it holds still: the daemon closes a message's fds only after it has sent the reply. */
static int daemon_fd_count_stable(pid_t daemon) {
        int prev = bench_fd_count(daemon);
        for (int i = 0; i < 100; i++) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
                int n = bench_fd_count(daemon);
                if (n == prev)
                        return n;
                prev = n;
        }
        return prev;
}

/* ---- one case: baseline and sysmem alternating ---- */

/* One sample per iteration; counts are stored x 1000, since bench_summarize() divides by 1000 (ns to us). */
struct samples {
        uint64_t *base, *sm, *ratio, *wakeups, *syscalls;
        uint64_t *cpu[2][3]; /* [path: baseline, sysmem][process: sysmemd, initiator, peer] */
};

struct case_result {
        struct bench_stats t[2]; /* [baseline, sysmem] */
        double paired;           /* median over iterations of sysmem / baseline within the same iteration */
        struct bench_stats cpu[2][3];
        double wakeups;
        struct bench_stats syscalls; /* per exchange (unprinted when not counted) */
};

static void samples_alloc(struct samples *s, size_t iters) {
        uint64_t **all[] = {&s->base,      &s->sm,        &s->ratio,     &s->wakeups,   &s->syscalls, &s->cpu[0][0],
                            &s->cpu[0][1], &s->cpu[0][2], &s->cpu[1][0], &s->cpu[1][1], &s->cpu[1][2]};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
                if (!(*all[i] = calloc(iters, sizeof(uint64_t))))
                        bench_fail("calloc", ENOMEM);
}

static void samples_free(struct samples *s) {
        free(s->base);
        free(s->sm);
        free(s->ratio);
        free(s->wakeups);
        free(s->syscalls);
        for (size_t j = 0; j < 6; j++)
                free(s->cpu[j / 3][j % 3]);
}

/* One baseline exchange and one through sysmemd; stored at index i unless i < 0 (warm-up). */
static void run_iteration(struct bench *b, const struct share_case *sc, struct samples *s, int i) {
        uint64_t c[2][3][2]; /* [path][process][before, after]; our own read last and first */
        c[0][0][0] = bench_cpu_ns(b->daemon), c[0][2][0] = bench_cpu_ns(b->peer), c[0][1][0] = bench_cpu_ns(b->self);
        uint64_t base = run_baseline(b->sock, sc->n, sc->size);
        c[0][1][1] = bench_cpu_ns(b->self), c[0][2][1] = bench_cpu_ns(b->peer), c[0][0][1] = bench_cpu_ns(b->daemon);
        uint64_t w0 = bench_schedstat(b->daemon, 2), sys0 = bench_syscalls_read(&b->sc);
        c[1][0][0] = bench_cpu_ns(b->daemon), c[1][2][0] = bench_cpu_ns(b->peer), c[1][1][0] = bench_cpu_ns(b->self);
        uint64_t sm = run_sysmem(b->alloc, b->sock, sc->n, sc->size);
        c[1][1][1] = bench_cpu_ns(b->self);
        /* Iterations start from a daemon that has handled the previous one's release and gone to sleep. */
        bench_settle(b);
        c[1][2][1] = bench_cpu_ns(b->peer), c[1][0][1] = bench_cpu_ns(b->daemon);
        uint64_t w1 = bench_schedstat(b->daemon, 2), sys1 = bench_syscalls_read(&b->sc);
        if (i < 0)
                return;
        s->wakeups[i] = (w1 - w0) * 1000;
        s->syscalls[i] = (sys1 - sys0) * 1000;
        s->base[i] = base;
        s->sm[i] = sm;
        s->ratio[i] = sm * 1000 / (base ? base : 1);
        for (size_t j = 0; j < 6; j++)
                s->cpu[j / 3][j % 3][i] = c[j / 3][j % 3][1] - c[j / 3][j % 3][0];
}

static void run_case(struct bench *b, const struct share_case *sc, struct samples *s, int iters,
                     struct case_result *res) {
        for (int i = -WARMUP; i < iters; i++)
                run_iteration(b, sc, s, i);
        res->t[0] = bench_summarize(s->base, (size_t)iters);
        res->t[1] = bench_summarize(s->sm, (size_t)iters);
        res->paired = bench_summarize(s->ratio, (size_t)iters).p50;
        for (size_t j = 0; j < 6; j++)
                res->cpu[j / 3][j % 3] = bench_summarize(s->cpu[j / 3][j % 3], (size_t)iters);
        res->wakeups = bench_summarize(s->wakeups, (size_t)iters).p50;
        res->syscalls = bench_summarize(s->syscalls, (size_t)iters);
}

/* ---- non-shared collections ---- */

struct ns_result {
        /* Collections per second, sorted; the rest per collection, over the batches. */
        double rate[NS_BATCHES];
        struct bench_stats daemon_cpu, client_cpu, wakeups, syscalls;
};

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Back to back, so the daemon's clean-up of one overlaps the next, as in use; the counts include the last's. */
static void run_non_shared_batches(struct bench *b, struct ns_result *res) {
        uint64_t per[4][NS_BATCHES]; /* per collection: sysmemd CPU, client CPU, wakeups x 1000, syscalls x 1000 */
        for (int i = 0; i < NS_BATCH / 4; i++)
                run_non_shared(b->alloc);
        bench_settle(b);
        for (int k = 0; k < NS_BATCHES; k++) {
                uint64_t w0 = bench_schedstat(b->daemon, 2), sys0 = bench_syscalls_read(&b->sc);
                uint64_t d0 = bench_cpu_ns(b->daemon), s0 = bench_cpu_ns(b->self);
                uint64_t t0 = bench_now_ns();
                for (int i = 0; i < NS_BATCH; i++)
                        run_non_shared(b->alloc);
                res->rate[k] = NS_BATCH * 1e9 / (double)(bench_now_ns() - t0);
                per[1][k] = (bench_cpu_ns(b->self) - s0) / NS_BATCH;
                bench_settle(b);
                per[0][k] = (bench_cpu_ns(b->daemon) - d0) / NS_BATCH;
                per[2][k] = (bench_schedstat(b->daemon, 2) - w0) * 1000 / NS_BATCH;
                per[3][k] = (bench_syscalls_read(&b->sc) - sys0) * 1000 / NS_BATCH;
        }
        res->daemon_cpu = bench_summarize(per[0], NS_BATCHES);
        res->client_cpu = bench_summarize(per[1], NS_BATCHES);
        res->wakeups = bench_summarize(per[2], NS_BATCHES);
        res->syscalls = bench_summarize(per[3], NS_BATCHES);
        qsort(res->rate, NS_BATCHES, sizeof *res->rate, cmp_double);
}

/* ---- the report ---- */

static void print_times(const struct case_result *res) {
        /* The paired ratio compares runs a few hundred microseconds apart: steadier on a busy machine. */
        printf("\n%-12s %-9s %10s %10s %10s %16s %8s\n", "buffers", "path", "p10 us", "median us", "p90 us",
               "sysmem/baseline", "paired");
        for (size_t k = 0; k < N_CASES; k++) {
                const struct bench_stats *t = res[k].t;
                printf("%-12s %-9s %10.1f %10.1f %10.1f\n", cases[k].label, "baseline", t[0].p10, t[0].p50, t[0].p90);
                printf("%-12s %-9s %10.1f %10.1f %10.1f %15.2fx %7.2fx\n", "", "sysmem", t[1].p10, t[1].p50, t[1].p90,
                       t[1].p50 / t[0].p50, res[k].paired);
        }
}

static void print_non_shared(const struct ns_result *ns, const struct bench *b) {
        printf("\nnon-shared 4 x 64 KiB collections (allocate, set constraints, wait, free, release): "
               "median %.0f/s (min %.0f, max %.0f; %d batches of %d)\n",
               ns->rate[NS_BATCHES / 2], ns->rate[0], ns->rate[NS_BATCHES - 1], NS_BATCHES, NS_BATCH);
        printf("  per collection (median batch): sysmemd CPU %.1f us in %.1f wakeups, client CPU %.1f us",
               ns->daemon_cpu.p50, ns->wakeups.p50, ns->client_cpu.p50);
        if (b->counting)
                printf(", sysmemd syscalls %.1f (batches %.1f-%.1f)\n", ns->syscalls.p50, ns->syscalls.p10,
                       ns->syscalls.p90);
        else
                printf(", sysmemd syscalls not counted (%s)\n", b->sc.why);
}

static void print_cpu(const struct case_result *res) {
        printf("\nCPU time per exchange, median us (sysmemd's includes its clean-up; wakeups: times switched in)\n");
        printf("%-12s %-9s %10s %10s %10s %10s %16s\n", "buffers", "path", "sysmemd", "initiator", "peer", "total",
               "sysmemd wakeups");
        for (size_t k = 0; k < N_CASES; k++)
                for (size_t j = 0; j < 2; j++) {
                        const struct bench_stats *cs = res[k].cpu[j];
                        printf("%-12s %-9s %10.1f %10.1f %10.1f %10.1f", j ? "" : cases[k].label,
                               j ? "sysmem" : "baseline", cs[0].p50, cs[1].p50, cs[2].p50,
                               cs[0].p50 + cs[1].p50 + cs[2].p50);
                        if (j)
                                printf(" %16.1f", res[k].wakeups);
                        printf("\n");
                }
}

/*
 * The daemon's syscalls per sysmem exchange (both participants, both releases), and their split: the slope
 * per buffer from the two many-buffer cases, and the fixed part = the 1-buffer count minus one slope.
 */
static double print_syscalls(const struct case_result *res, const struct bench *b) {
        if (!b->counting) {
                printf("\nsysmemd syscalls per exchange: not counted (%s)\n", b->sc.why);
                return NAN;
        }
        printf("\nsysmemd syscalls per sysmem exchange (perf raw_syscalls:sys_enter on its pid; from the "
               "allocation to both releases handled and the daemon asleep again)\n");
        printf("%-12s %10s %10s %10s\n", "buffers", "p10", "median", "p90");
        for (size_t k = 0; k < N_CASES; k++)
                printf("%-12s %10.0f %10.0f %10.0f\n", cases[k].label, res[k].syscalls.p10, res[k].syscalls.p50,
                       res[k].syscalls.p90);
        double slope = (res[2].syscalls.p50 - res[1].syscalls.p50) / (double)(cases[2].n - cases[1].n);
        double fixed = res[0].syscalls.p50 - slope * cases[0].n;
        printf("  per buffer (slope %s -> %s): %.2f; fixed per collection (%s count - %u x slope): %.2f\n",
               cases[1].label, cases[2].label, slope, cases[0].label, cases[0].n, fixed);
        return fixed;
}

static void print_goals(const struct case_result *res, double fixed, const struct bench *b) {
        printf("\n%-60s %10s %s\n", "issue-12 goal", "measured", "met?");
        for (size_t k = 0; k < N_CASES; k++) {
                char goal[80];
                snprintf(goal, sizeof goal, "%s: sysmem/baseline, paired median <= %.2fx", cases[k].label,
                         cases[k].goal);
                printf("%-60s %9.2fx %s\n", goal, res[k].paired, res[k].paired <= cases[k].goal ? "yes" : "no");
        }
        char goal[80];
        snprintf(goal, sizeof goal, "fixed sysmemd syscalls per collection, 2 participants <= %.0f", SYSCALL_GOAL);
        if (b->counting)
                printf("%-60s %10.2f %s\n", goal, fixed, fixed <= SYSCALL_GOAL ? "yes" : "no");
        else
                printf("%-60s %10s unknown: %s\n", goal, "n/a", b->sc.why);
}

/* ---- setting up and tearing down ---- */

/* sysmemd on a private socket, its syscall counter, the peer process and our connection, after one exchange. */
static void bench_setup(struct bench *b, const char *sysmemd, const char *path) {
        setenv("SYSMEM_SOCKET", path, 1);
        b->self = getpid();
        b->daemon = bench_start_daemon(sysmemd, path, NULL);
        b->counting = bench_syscalls_open(&b->sc, b->daemon) >= 0;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                bench_fail("socketpair", errno);
        fflush(NULL);
        b->peer = fork();
        if (b->peer < 0)
                bench_fail("fork", errno);
        if (b->peer == 0) {
                close(sv[0]);
                _exit(peer_main(sv[1]));
        }
        close(sv[1]);
        b->sock = sv[0];
        int r = sysmem_allocator_connect(path, &b->alloc);
        if (r < 0)
                bench_fail("connect", r);
        read_byte(b->sock, 'R');
        /* The same round trip as the peer's, so the daemon has accepted both before its fds are counted. */
        bool known;
        if ((r = sysmem_allocator_validate_token(b->alloc, b->sock, &known)) < 0)
                bench_fail("validate", r);
        /*
         * One exchange first: the daemon then holds the sockets it makes ahead for this connection's
         * next allocation (they stay for the connection's life), and the count below includes them.
         */
        (void)run_sysmem(b->alloc, b->sock, 1, 4096);
        b->fds_start = daemon_fd_count_stable(b->daemon);
}

/* Stops the peer and the daemon; whether both exited cleanly. */
static bool bench_teardown(struct bench *b) {
        struct cmd q = {.op = 'Q'};
        (void)send_fds(b->sock, &q, sizeof q, NULL, 0);
        int st;
        waitpid(b->peer, &st, 0);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        sysmem_allocator_free(b->alloc);
        close(b->sock);
        bench_syscalls_close(&b->sc);
        return bench_stop_daemon(b->daemon) == 0 && ok;
}

int main(int argc, char **argv) {
        const char *sysmemd = argc > 1 ? argv[1] : SYSMEMD_PATH;
        int iters = argc > 2 ? atoi(argv[2]) : DEFAULT_ITERS;
        if (iters < 10)
                iters = 10;
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_set_name("bench-share");
        /* Before any child exists: the peer and sysmemd inherit it. */
        bool pinned = bench_pin_one_cpu();

        char dir[] = "/tmp/sysmem-bench-XXXXXX";
        if (!mkdtemp(dir))
                bench_fail("mkdtemp", errno);
        char path[256];
        snprintf(path, sizeof path, "%s/socket", dir);
        struct bench b = {0};
        bench_setup(&b, sysmemd, path);
        printf("bench-share: nproc %ld; %s; %d iterations per case after %d warm-up, baseline and sysmem "
               "alternating; sysmemd %s (pid %d)\n",
               sysconf(_SC_NPROCESSORS_ONLN),
               pinned ? "this process, the peer and sysmemd pinned to one CPU (BENCH_NO_PIN=1: not)" : "not pinned",
               iters, WARMUP, sysmemd, (int)b.daemon);

        uint64_t bench_t0 = bench_now_ns();
        struct samples s;
        samples_alloc(&s, (size_t)iters);
        struct case_result res[N_CASES];
        for (size_t k = 0; k < N_CASES; k++)
                run_case(&b, &cases[k], &s, iters, &res[k]);
        samples_free(&s);
        struct ns_result ns;
        run_non_shared_batches(&b, &ns);
        bool settled = daemon_settle(b.daemon, b.fds_start, 2000);
        int fds_end = bench_fd_count(b.daemon);
        double bench_s = (double)(bench_now_ns() - bench_t0) / 1e9;

        print_times(res);
        print_non_shared(&ns, &b);
        print_cpu(res);
        double fixed = print_syscalls(res, &b);
        printf("\nsysmemd fds: %d at start, %d at end%s; %u iterations did not settle within 200 ms%s; %.1f s\n",
               b.fds_start, fds_end, settled && fds_end == b.fds_start ? " (no leak)" : " (LEAK?)", b.unsettled,
               b.unsettled >= 3 ? " (stopped waiting after 3)" : "", bench_s);
        print_goals(res, fixed, &b);

        bool ok = bench_teardown(&b);
        unlink(path);
        rmdir(dir);
        ok = ok && settled && fds_end == b.fds_start;
        if (!ok)
                printf("bench-share: FAILED (peer, daemon exit status or fd count)\n");
        return ok ? 0 : 1;
}
