/*
 * bench-scale.c: how the latency of a few sysmemd operations grows with the number of live collections
 * (groundwork for O(1) lookups). Starts its own sysmemd on a private socket, creates N allocated
 * non-shared collections (one 4 KiB buffer each, spread over several connections), and at each N times
 * GetVmoInfo, ValidateToken, BindSharedCollection and a connect-allocate-close cycle; then prints one
 * table with the ratio N_max / N_1 per operation, and the daemon's VmRSS per live collection.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

#ifndef SYSMEMD_PATH
#define SYSMEMD_PATH "sysmemd"
#endif

#define ITERS 200
#define WARMUP 20
#define PER_CONN 250 /* under the daemon's default --max-collections-per-connection 256 */
#define UNRELATED_PAIRS 5000
#define MAX_LEVELS 8

static pid_t daemon_pid, main_pid;

static _Noreturn void fail(const char *what, int r) {
        fprintf(stderr, "bench-scale: %s: %s\n", what, strerror(r < 0 ? -r : r));
        if (daemon_pid > 0 && getpid() == main_pid)
                kill(daemon_pid, SIGTERM);
        exit(1);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pid_t start_daemon(const char *sysmemd, const char *socket_path, unsigned max_collections) {
        char lim[32];
        snprintf(lim, sizeof lim, "%u", max_collections);
        pid_t pid = fork();
        if (pid < 0)
                fail("fork", errno);
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", socket_path, "--log-level", "warning", "--max-collections", lim,
                      "--max-collections-per-uid", lim, "--max-nodes-per-uid", "1000000", "--max-nodes", "1000000",
                      (char *)NULL);
                fprintf(stderr, "bench-scale: exec %s: %s\n", sysmemd, strerror(errno));
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
        fprintf(stderr, "bench-scale: sysmemd did not come up on %s\n", socket_path);
        kill(pid, SIGKILL);
        exit(1);
}

/* VmRSS of the daemon in KiB, from /proc/PID/status. */
static long daemon_rss_kib(void) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)daemon_pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        long kib = -1;
        while (fgets(line, sizeof line, f))
                if (!strncmp(line, "VmRSS:", 6)) {
                        kib = strtol(line + 6, NULL, 10);
                        break;
                }
        fclose(f);
        return kib;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

struct stats {
        double p50, p90; /* microseconds */
};

static struct stats summarize(uint64_t *ns, size_t count) {
        qsort(ns, count, sizeof *ns, cmp_u64);
        return (struct stats){.p50 = (double)ns[count / 2] / 1000.0, .p90 = (double)ns[count * 9 / 10] / 1000.0};
}

/* ---- the live collections ---- */

static struct sysmem_allocator **holders;
static struct sysmem_collection **colls;
static unsigned n_live;
static int first_buffer_fd = -1; /* a buffer of the oldest live collection (ours, dup'ed) */

static void add_collection(void) {
        static const struct sysmem_constraints cons = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                .min_buffer_count = 1,
                .max_buffer_count = 1,
                .buffer_memory_constraints = {.min_size_bytes = 4096},
        };
        unsigned h = n_live / PER_CONN;
        int r;
        if (n_live % PER_CONN == 0 && (r = sysmem_allocator_connect(NULL, &holders[h])) < 0)
                fail("connect (holder)", r);
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        if ((r = sysmem_allocator_allocate_non_shared(holders[h], &coll)) < 0)
                fail("allocate_non_shared", r);
        if ((r = sysmem_collection_set_constraints(coll, &cons)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                fail("live collection", r);
        if (info->buffer_count != 1)
                fail("unexpected allocation", EPROTO);
        if (first_buffer_fd < 0 && (first_buffer_fd = fcntl(info->buffers[0].fd, F_DUPFD_CLOEXEC, 3)) < 0)
                fail("dup", errno);
        sysmem_collection_info_free(info); /* the daemon keeps the buffer; we keep only the collection socket */
        colls[n_live++] = coll;
}

/* ---- the timed operations ---- */

enum op {
        OP_VMO_HIT,
        OP_VMO_MISS,
        OP_VALIDATE_LIVE,
        OP_VALIDATE_FAKE,
        OP_BIND,
        OP_CLOSE_CYCLE,
        OP_CLOSE_SYNC,
        OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
        [OP_VMO_HIT] = "GetVmoInfo (oldest's buffer)",
        [OP_VMO_MISS] = "GetVmoInfo (miss: a memfd)",
        [OP_VALIDATE_LIVE] = "ValidateToken (live token)",
        [OP_VALIDATE_FAKE] = "ValidateToken (socketpair)",
        [OP_BIND] = "BindSharedCollection",
        [OP_CLOSE_CYCLE] = "connect+alloc+close+Sync",
        [OP_CLOSE_SYNC] = "  of which Sync after close",
};

struct probe {
        struct sysmem_allocator *alloc; /* the connection every timed request goes over */
        int token_fd;                   /* a live token's socket (the token stays ours) */
        int fake_fd;                    /* one end of a socketpair: not a token */
        int memfd;                      /* not a buffer */
};

/* One round trip that needs no lookup among collections: ValidateToken on a socketpair. */
static void round_trip(const struct probe *p) {
        bool known;
        int r = sysmem_allocator_validate_token(p->alloc, p->fake_fd, &known);
        if (r < 0)
                fail("validate_token (socketpair)", r);
}

/* Times one operation once; for OP_CLOSE_CYCLE *extra gets the Sync-after-close part. */
static uint64_t time_op(const struct probe *p, enum op op, uint64_t *extra) {
        uint64_t coll_id, index, t0, t1;
        bool known;
        int r;
        switch (op) {
        case OP_VMO_HIT:
                t0 = now_ns();
                r = sysmem_allocator_get_vmo_info(p->alloc, first_buffer_fd, &coll_id, &index);
                t1 = now_ns();
                if (r < 0)
                        fail("get_vmo_info", r);
                return t1 - t0;
        case OP_VMO_MISS:
                t0 = now_ns();
                r = sysmem_allocator_get_vmo_info(p->alloc, p->memfd, &coll_id, &index);
                t1 = now_ns();
                if (r != -ENOENT)
                        fail("get_vmo_info on a memfd (expected ENOENT)", r ? r : EPROTO);
                return t1 - t0;
        case OP_VALIDATE_LIVE:
        case OP_VALIDATE_FAKE:
                t0 = now_ns();
                r = sysmem_allocator_validate_token(p->alloc, op == OP_VALIDATE_LIVE ? p->token_fd : p->fake_fd,
                                                    &known);
                t1 = now_ns();
                if (r < 0)
                        fail("validate_token", r);
                if (known != (op == OP_VALIDATE_LIVE))
                        fail("validate_token: wrong answer", EPROTO);
                return t1 - t0;
        case OP_BIND: {
                struct sysmem_token *token;
                struct sysmem_collection *coll;
                if ((r = sysmem_allocator_allocate_shared(p->alloc, &token)) < 0 ||
                    (r = sysmem_node_sync(sysmem_token_node(token))) < 0)
                        fail("allocate_shared", r);
                t0 = now_ns();
                r = sysmem_allocator_bind_shared(p->alloc, token, &coll);
                t1 = now_ns();
                if (r < 0)
                        fail("bind_shared", r);
                /* Untimed: the collection goes away again, and the daemon has seen that before the next one. */
                if ((r = sysmem_node_sync(sysmem_collection_node(coll))) < 0 ||
                    (r = sysmem_collection_release(coll)) < 0)
                        fail("release (bound collection)", r);
                round_trip(p);
                return t1 - t0;
        }
        case OP_CLOSE_CYCLE: {
                struct sysmem_allocator *a;
                struct sysmem_collection *coll;
                t0 = now_ns();
                if ((r = sysmem_allocator_connect(NULL, &a)) < 0)
                        fail("connect (cycle)", r);
                if ((r = sysmem_allocator_allocate_non_shared(a, &coll)) < 0 ||
                    (r = sysmem_node_sync(sysmem_collection_node(coll))) < 0)
                        fail("allocate_non_shared (cycle)", r);
                if ((r = sysmem_collection_release(coll)) < 0)
                        fail("release (cycle)", r);
                sysmem_allocator_free(a);
                uint64_t tc = now_ns();
                round_trip(p);
                t1 = now_ns();
                *extra = t1 - tc;
                return t1 - t0;
        }
        default:
                fail("unknown op", EINVAL);
        }
}

/* ITERS timings of op after WARMUP untimed ones. */
static void measure(const struct probe *p, enum op op, struct stats *ret, struct stats *ret_extra) {
        static uint64_t ns[ITERS], extra_ns[ITERS];
        for (int i = -WARMUP; i < ITERS; i++) {
                uint64_t extra = 0, t = time_op(p, op, &extra);
                if (i >= 0) {
                        ns[i] = t;
                        extra_ns[i] = extra;
                }
        }
        *ret = summarize(ns, ITERS);
        if (ret_extra)
                *ret_extra = summarize(extra_ns, ITERS);
}

/* Sockets of this process that the daemon never sees: the kernel's unix_diag lookup walks them. */
static void measure_unrelated(const struct probe *p, struct stats unrelated[2][2]) {
        measure(p, OP_VALIDATE_LIVE, &unrelated[0][0], NULL);
        measure(p, OP_VALIDATE_FAKE, &unrelated[0][1], NULL);
        int *pairs = calloc(2 * UNRELATED_PAIRS, sizeof *pairs);
        if (!pairs)
                fail("calloc", ENOMEM);
        for (int i = 0; i < UNRELATED_PAIRS; i++)
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs + 2 * i) < 0)
                        fail("socketpair (unrelated)", errno);
        measure(p, OP_VALIDATE_LIVE, &unrelated[1][0], NULL);
        measure(p, OP_VALIDATE_FAKE, &unrelated[1][1], NULL);
        for (int i = 0; i < 2 * UNRELATED_PAIRS; i++)
                close(pairs[i]);
        free(pairs);
}

int main(int argc, char **argv) {
        const char *sysmemd = argc > 1 ? argv[1] : SYSMEMD_PATH;
        unsigned max_n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 4000;
        if (max_n < 2)
                max_n = 2;
        setvbuf(stdout, NULL, _IOLBF, 0);

        static const unsigned default_levels[] = {1, 100, 1000, 4000};
        unsigned levels[MAX_LEVELS], n_levels = 0;
        for (size_t i = 0; i < sizeof default_levels / sizeof *default_levels; i++)
                if (default_levels[i] <= max_n)
                        levels[n_levels++] = default_levels[i];
        if (levels[n_levels - 1] < max_n)
                levels[n_levels++] = max_n;

        /* Every live collection is a socket here and one (plus its buffer) in the daemon, which inherits this. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max_n * 2 + 256)
                fprintf(stderr, "bench-scale: warning: RLIMIT_NOFILE %llu may be too low for %u collections\n",
                        (unsigned long long)rl.rlim_cur, max_n);

        /*
         * One CPU for this process and sysmemd (which inherits it): on a small VM a request whose wake-up
         * crosses CPUs costs tens of microseconds more, and when the scheduler starts doing that varies
         * from run to run, which would hide the growth with N. BENCH_NO_PIN=1 leaves placement alone.
         */
        bool pinned = false;
        if (!getenv("BENCH_NO_PIN") || strcmp(getenv("BENCH_NO_PIN"), "1")) {
                cpu_set_t set;
                if (sched_getaffinity(0, sizeof set, &set) == 0) {
                        int cpu = 0;
                        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
                                cpu++;
                        CPU_ZERO(&set);
                        CPU_SET(cpu, &set);
                        pinned = sched_setaffinity(0, sizeof set, &set) == 0;
                }
        }

        char dir[] = "/tmp/sysmem-bench-XXXXXX";
        if (!mkdtemp(dir))
                fail("mkdtemp", errno);
        char path[256];
        snprintf(path, sizeof path, "%s/socket", dir);
        setenv("SYSMEM_SOCKET", path, 1);
        main_pid = getpid();
        daemon_pid = start_daemon(sysmemd, path, max_n + 64);

        holders = calloc(max_n / PER_CONN + 1, sizeof *holders);
        colls = calloc(max_n, sizeof *colls);
        if (!holders || !colls)
                fail("calloc", ENOMEM);

        struct probe p = {.token_fd = -1};
        int r = sysmem_allocator_connect(path, &p.alloc);
        if (r < 0)
                fail("connect", r);
        struct sysmem_token *token;
        if ((r = sysmem_allocator_allocate_shared(p.alloc, &token)) < 0 ||
            (r = sysmem_node_sync(sysmem_token_node(token))) < 0)
                fail("allocate_shared (probe token)", r);
        p.token_fd = sysmem_node_get_fd(sysmem_token_node(token));
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                fail("socketpair", errno);
        p.fake_fd = sv[0];
        if ((p.memfd = memfd_create("bench-scale", MFD_CLOEXEC)) < 0 || ftruncate(p.memfd, 4096) < 0)
                fail("memfd", errno);

        long nproc = sysconf(_SC_NPROCESSORS_ONLN);
        printf("bench-scale: nproc %ld; %s; %d iterations per cell after %d warm-up; sysmemd %s (pid %d)\n", nproc,
               pinned ? "this process and sysmemd pinned to one CPU (BENCH_NO_PIN=1: not)" : "not pinned", ITERS,
               WARMUP, sysmemd, (int)daemon_pid);

        struct stats res[OP_COUNT][MAX_LEVELS];
        long rss[MAX_LEVELS];
        struct stats unrelated[2][2]; /* [0 or UNRELATED_PAIRS socketpairs][live token, socketpair] */
        uint64_t t_start = now_ns();
        for (unsigned l = 0; l < n_levels; l++) {
                uint64_t t0 = now_ns();
                while (n_live < levels[l])
                        add_collection();
                round_trip(&p);
                rss[l] = daemon_rss_kib();
                double fill_s = (double)(now_ns() - t0) / 1e9;
                for (int op = 0; op < OP_COUNT; op++) {
                        if (op == OP_CLOSE_SYNC)
                                continue;
                        measure(&p, (enum op)op, &res[op][l], op == OP_CLOSE_CYCLE ? &res[OP_CLOSE_SYNC][l] : NULL);
                }
                printf("  N = %u: filled in %.2f s, measured; sysmemd VmRSS %ld KiB\n", levels[l], fill_s, rss[l]);

                if (l == 0)
                        measure_unrelated(&p, unrelated);
        }
        double total_s = (double)(now_ns() - t_start) / 1e9;

        unsigned last = n_levels - 1;
        printf("\nmedian / p90 microseconds, by live collections N (ratio: median at N=%u over N=%u)\n", levels[last],
               levels[0]);
        printf("%-30s", "operation");
        for (unsigned l = 0; l < n_levels; l++) {
                char h[24];
                snprintf(h, sizeof h, "N=%u", levels[l]);
                printf(" %15s", h);
        }
        printf(" %8s\n", "ratio");
        for (int op = 0; op < OP_COUNT; op++) {
                printf("%-30s", op_names[op]);
                for (unsigned l = 0; l < n_levels; l++) {
                        char c[32];
                        snprintf(c, sizeof c, "%.1f / %.1f", res[op][l].p50, res[op][l].p90);
                        printf(" %15s", c);
                }
                printf(" %7.2fx\n", res[op][last].p50 / res[op][0].p50);
        }
        printf("%-30s", "sysmemd VmRSS KiB");
        for (unsigned l = 0; l < n_levels; l++)
                printf(" %15ld", rss[l]);
        printf("\n%-30s %15s", "  per live collection, bytes", "-");
        for (unsigned l = 1; l < n_levels; l++)
                printf(" %15.0f", (double)(rss[l] - rss[0]) * 1024.0 / (double)(levels[l] - levels[0]));
        printf("\n\nunrelated sockets (N=%u): ValidateToken with 0 vs %d socketpairs held open by this process\n",
               levels[0], UNRELATED_PAIRS);
        static const char *const which[2] = {"ValidateToken (live token)", "ValidateToken (socketpair)"};
        printf("%-30s %15s %15s %8s\n", "operation", "0 pairs", "5000 pairs", "ratio");
        for (int k = 0; k < 2; k++) {
                char c0[32], c1[32];
                snprintf(c0, sizeof c0, "%.1f / %.1f", unrelated[0][k].p50, unrelated[0][k].p90);
                snprintf(c1, sizeof c1, "%.1f / %.1f", unrelated[1][k].p50, unrelated[1][k].p90);
                printf("%-30s %15s %15s %7.2fx\n", which[k], c0, c1, unrelated[1][k].p50 / unrelated[0][k].p50);
        }
        printf("\n%.1f s\n", total_s);

        for (unsigned i = 0; i < n_live; i++)
                if ((r = sysmem_collection_release(colls[i])) < 0)
                        fail("release", r);
        for (unsigned h = 0; h * PER_CONN < n_live; h++)
                sysmem_allocator_free(holders[h]);
        if ((r = sysmem_token_release(token)) < 0)
                fail("release (probe token)", r);
        sysmem_allocator_free(p.alloc);
        close(first_buffer_fd);
        close(p.memfd);
        close(sv[0]);
        close(sv[1]);
        free(holders);
        free(colls);
        kill(daemon_pid, SIGTERM);
        int st;
        waitpid(daemon_pid, &st, 0);
        unlink(path);
        rmdir(dir);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!ok)
                printf("bench-scale: FAILED (daemon exit status)\n");
        return ok ? 0 : 1;
}
