/*
 * bench-scale.c: how sysmemd scales (issue 12). Four parts, each against a sysmemd of its own that this
 * bench starts on a private socket with the limits the part needs; every figure is measured in this run:
 *  (a) latency of GetVmoInfo, ValidateToken, BindSharedCollection and a client's connect-allocate-
 *      disconnect at 1 .. 10,000 live collections (allocated non-shared ones, one 4 KiB buffer each,
 *      spread over connections), plus ValidateToken with 5000 unrelated socketpairs open; N_max / N_1;
 *      sysmemd's syscalls per request (BENCH_PARTS=abcd picks parts);
 *  (b) one shared collection with N = 2 .. 1024 participants, driven with the asynchronous calls: the
 *      daemon's CPU time per collection (clean-up included) and the exponent of its growth with N;
 *  (c) 10,000 collections x 2 participants held live: the daemon's VmRSS per collection and in all;
 *  (d) collections per second from 1 client process and from 16 at once, and the daemon's CPU use;
 * then a table of goal, measured and met. BENCH_QUICK=1 (or --quick) makes every part smaller.
 * By default this process and its sysmemd share one CPU (BENCH_NO_PIN=1: not); (d) also runs unpinned.
 * Usage: bench-scale [--quick] [SYSMEMD [N_MAX]].
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

#include "bench-common.h"

#ifndef SYSMEMD_PATH
#define SYSMEMD_PATH "sysmemd"
#endif

#define PER_CONN 250 /* collections per allocator connection (the daemon's default limit is 256) */
#define UNRELATED_PAIRS 5000
#define MAX_LEVELS 8
#define RELEASE_BATCH 32
#define SPARES_MAX 8 /* token sockets sysmemd keeps made ahead for an allocator (sysmem.h: count + 1 <= 8) */
#define SC_ITERS 20 /* iterations of a pass that counts sysmemd's syscalls */
#define FD_MARGIN 96 /* sysmemd fds besides the collections' (listening socket, event loop, connections) */
#define B_MAX_SIZES 12
#define B_FIT_FROM 16
#define C_CLIENTS 4
#define D_CLIENTS 16
#define MAX_KIDS 16
#define GOAL_FLAT 1.5
#define GOAL_EXPONENT 1.1
#define GOAL_KIB_PER_COLLECTION 4.0
#define GOAL_TOTAL_MIB 64.0
#define GOAL_C_COLLECTIONS 10000u
#define GOAL_A_N 10000u

static struct {
        const char *sysmemd;
        const char *parts; /* which of a, b, c, d to run: $BENCH_PARTS, default all */
        bool quick, pinned;
        char dir[64];
        long nofile; /* RLIMIT_NOFILE of this process and so of every sysmemd and client it starts */
        unsigned a_max, b_max, c_n;
        int a_iters, a_warmup, a_rounds, b_reps, d_rounds;
        double d_seconds;
} cfg;

static pid_t daemon_pid;
static char socket_path[128];

/* Starts the sysmemd of one part; its socket becomes $SYSMEM_SOCKET (for children, and connect(NULL)). */
static void daemon_up(const char *tag, unsigned collections, unsigned nodes_per_collection) {
        char coll[16], per_conn[16], npc[16];
        snprintf(coll, sizeof coll, "%u", collections + 64);
        snprintf(per_conn, sizeof per_conn, "%u", collections + 64);
        snprintf(npc, sizeof npc, "%u", nodes_per_collection);
        const char *const args[] = {"--max-collections", coll, "--max-collections-per-uid", coll,
                                    "--max-collections-per-connection", per_conn, "--max-nodes", "10000000",
                                    "--max-nodes-per-uid", "10000000", "--max-nodes-per-collection", npc,
                                    "--max-connections", "4096", "--max-connections-per-uid", "4096", NULL};
        snprintf(socket_path, sizeof socket_path, "%s/%s.socket", cfg.dir, tag);
        unlink(socket_path);
        daemon_pid = bench_start_daemon(cfg.sysmemd, socket_path, args);
        setenv("SYSMEM_SOCKET", socket_path, 1);
}

static void daemon_down(void) {
        int st = bench_stop_daemon(daemon_pid);
        unlink(socket_path);
        if (st != 0) {
                fprintf(stderr, "bench-scale: sysmemd (pid %d) exit status %d\n", (int)daemon_pid, st);
                exit(1);
        }
        daemon_pid = -1;
}

/*
 * Polls until sysmemd holds at most fds fds (what it holds when its clients' objects are cleaned up). Each
 * look reads /proc/PID/fd, which costs more the more fds there are: the pauses between looks grow.
 */
static void wait_daemon_fds(int fds) {
        uint64_t deadline = bench_now_ns() + 60ull * 1000000000u;
        long pause_ns = 10 * 1000;
        int n;
        while ((n = bench_fd_count(daemon_pid)) > fds) {
                if (bench_now_ns() > deadline) {
                        fprintf(stderr, "bench-scale: sysmemd still holds %d fds, not %d\n", n, fds);
                        bench_fail("sysmemd did not close its clients' fds within 60 s", ETIMEDOUT);
                }
                struct timespec ts = {0, pause_ns};
                nanosleep(&ts, NULL);
                if (pause_ns < 2 * 1000 * 1000)
                        pause_ns *= 2;
        }
        if (n < 0)
                bench_fail("reading sysmemd's /proc/PID/fd", errno);
}

/* wait_daemon_fds(at_most), then until the count stays the same for 10 ms; returns that count. */
static int settle_daemon_fds(int at_most) {
        wait_daemon_fds(at_most);
        int prev = bench_fd_count(daemon_pid), n;
        for (;;) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                if ((n = bench_fd_count(daemon_pid)) == prev)
                        return n;
                prev = n;
        }
}

/* How many objects of fds_each daemon fds fit in its RLIMIT_NOFILE next to what it holds now and conns. */
static unsigned daemon_fd_capacity(unsigned fds_each, unsigned conns) {
        long room = cfg.nofile - bench_fd_count(daemon_pid) - FD_MARGIN - (long)conns;
        unsigned cap = room > 0 ? (unsigned)(room / fds_each) : 0;
        return cap > 1000 ? cap / 100 * 100 : cap;
}

static uint32_t same_masks[SYSMEM_MAX_DUPLICATES]; /* SYSMEM_RIGHTS_SAME (main() fills it) */

static const struct sysmem_constraints one_small_buffer = {
        .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
        .min_buffer_count = 1,
        .max_buffer_count = 1,
        .buffer_memory_constraints = {.min_size_bytes = 4096},
};

static const struct sysmem_constraints cpu_reader = {
        .usage = {.cpu = SYSMEM_CPU_USAGE_READ},
};

static uint32_t wait_buffers(struct sysmem_collection *coll, const char *what) {
        struct sysmem_collection_info *info;
        int r = sysmem_collection_wait_allocated(coll, &info);
        if (r < 0)
                bench_fail(what, r);
        uint32_t n = info->buffer_count;
        sysmem_collection_info_free(info); /* the daemon keeps the buffer; the collection socket stays open */
        return n;
}

/* A collection shared by two participants of this allocator, both bound, both with the one 4 KiB buffer. */
static void make_pair(struct sysmem_allocator *a, struct sysmem_collection **c0, struct sysmem_collection **c1) {
        struct sysmem_token *t0, *t1;
        int r = sysmem_allocator_allocate_shared_with_duplicates(a, 1, same_masks, &t0, &t1);
        if (r < 0)
                bench_fail("allocate_shared_with_duplicates (pair)", r);
        if ((r = sysmem_token_bind(t0, c0)) < 0 || (r = sysmem_token_bind(t1, c1)) < 0)
                bench_fail("token_bind (pair)", r);
        if ((r = sysmem_collection_set_constraints(*c0, &one_small_buffer)) < 0 ||
            (r = sysmem_collection_set_constraints(*c1, &one_small_buffer)) < 0)
                bench_fail("set_constraints (pair)", r);
        if (wait_buffers(*c0, "wait_allocated (pair)") != 1 || wait_buffers(*c1, "wait_allocated (pair)") != 1)
                bench_fail("pair: unexpected buffer count", EPROTO);
}

static void release_or_fail(struct sysmem_collection *coll, const char *what) {
        int r = sysmem_collection_release(coll);
        if (r < 0)
                bench_fail(what, r);
}

/*
 * Releases colls[0..n) RELEASE_BATCH at a time, each batch after a Sync on the next one: sysmemd serves one
 * ready socket per turn of its event loop and every turn polls all the ready ones again, so a burst of K
 * hang-ups costs it O(K^2) (part (b) shows the effect); pacing keeps the clean-up after a part short.
 */
static void release_paced(struct sysmem_collection **colls, unsigned n, const char *what) {
        for (unsigned i = 0; i < n; i++) {
                int r;
                if (i && i % RELEASE_BATCH == 0 && (r = sysmem_node_sync(sysmem_collection_node(colls[i]))) < 0)
                        bench_fail(what, r);
                release_or_fail(colls[i], what);
        }
}

/* ======== (a) latency by live collections ======== */

enum op {
        OP_VMO_HIT,
        OP_VMO_MISS,
        OP_VALIDATE_LIVE,
        OP_VALIDATE_FAKE,
        OP_BIND,
        OP_CLOSE_CYCLE,
        OP_CLOSE_COLL, /* parts of OP_CLOSE_CYCLE */
        OP_CLOSE_CONN,
        OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
        [OP_VMO_HIT] = "GetVmoInfo (oldest's buffer)",
        [OP_VMO_MISS] = "GetVmoInfo (miss: a memfd)",
        [OP_VALIDATE_LIVE] = "ValidateToken (live token)",
        [OP_VALIDATE_FAKE] = "ValidateToken (socketpair)",
        [OP_BIND] = "BindSharedCollection",
        [OP_CLOSE_CYCLE] = "connect+alloc+track+release",
        [OP_CLOSE_COLL] = "  disconnect: collection",
        [OP_CLOSE_CONN] = "  disconnect: connection",
};

struct probe {
        struct sysmem_allocator *alloc; /* the connection every timed request goes over */
        struct sysmem_token *token;     /* a live token (stays ours) */
        int token_fd;                   /* its socket */
        int fake_fd[2];                 /* a socketpair: not a token */
        int memfd;                      /* not a buffer */
        int first_buffer_fd;            /* a buffer of the oldest live collection (dup'ed) */
};

struct live_set {
        struct sysmem_allocator **holders;
        struct sysmem_collection **colls;
        unsigned n;
};

static void add_collection(struct live_set *ls, struct probe *p) {
        unsigned h = ls->n / PER_CONN;
        int r;
        if (ls->n % PER_CONN == 0 && (r = sysmem_allocator_connect(NULL, &ls->holders[h])) < 0)
                bench_fail("connect (holder)", r);
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        if ((r = sysmem_allocator_allocate_non_shared(ls->holders[h], &coll)) < 0)
                bench_fail("allocate_non_shared", r);
        if ((r = sysmem_collection_set_constraints(coll, &one_small_buffer)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                bench_fail("live collection", r);
        if (info->buffer_count != 1)
                bench_fail("unexpected allocation", EPROTO);
        if (p->first_buffer_fd < 0 && (p->first_buffer_fd = fcntl(info->buffers[0].fd, F_DUPFD_CLOEXEC, 3)) < 0)
                bench_fail("dup", errno);
        sysmem_collection_info_free(info);
        ls->colls[ls->n++] = coll;
}

/* One round trip that needs no lookup among collections: ValidateToken on a socketpair. */
static void round_trip(const struct probe *p) {
        bool known;
        int r = sysmem_allocator_validate_token(p->alloc, p->fake_fd[0], &known);
        if (r < 0)
                bench_fail("validate_token (socketpair)", r);
}

static uint64_t time_vmo(const struct probe *p, bool hit) {
        uint64_t coll_id, index, t0 = bench_now_ns();
        int r = sysmem_allocator_get_vmo_info(p->alloc, hit ? p->first_buffer_fd : p->memfd, &coll_id, &index);
        uint64_t t1 = bench_now_ns();
        if (hit && r < 0)
                bench_fail("get_vmo_info", r);
        if (!hit && r != -ENOENT)
                bench_fail("get_vmo_info on a memfd (expected ENOENT)", r ? r : EPROTO);
        return t1 - t0;
}

static uint64_t time_validate(const struct probe *p, bool live) {
        bool known;
        uint64_t t0 = bench_now_ns();
        int r = sysmem_allocator_validate_token(p->alloc, live ? p->token_fd : p->fake_fd[0], &known);
        uint64_t t1 = bench_now_ns();
        if (r < 0)
                bench_fail("validate_token", r);
        if (known != live)
                bench_fail("validate_token: wrong answer", EPROTO);
        return t1 - t0;
}

static uint64_t time_bind(const struct probe *p) {
        struct sysmem_token *token;
        struct sysmem_collection *coll;
        int r;
        if ((r = sysmem_allocator_allocate_shared(p->alloc, &token)) < 0 ||
            (r = sysmem_node_sync(sysmem_token_node(token))) < 0)
                bench_fail("allocate_shared", r);
        uint64_t t0 = bench_now_ns();
        r = sysmem_allocator_bind_shared(p->alloc, token, &coll);
        uint64_t t1 = bench_now_ns();
        if (r < 0)
                bench_fail("bind_shared", r);
        /* Untimed: the collection goes away again, and the daemon has seen that before the next one. */
        if ((r = sysmem_node_sync(sysmem_collection_node(coll))) < 0)
                bench_fail("sync (bound collection)", r);
        release_or_fail(coll, "release (bound collection)");
        round_trip(p);
        return t1 - t0;
}

/* Waits for fd to become readable or hang up (sysmemd closed its end); "what" names it in the failure. */
static void wait_hangup(int fd, const char *what) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r;
        while ((r = poll(&pfd, 1, 10000)) < 0 && errno == EINTR)
                ;
        if (r <= 0)
                bench_fail(what, r < 0 ? errno : ETIMEDOUT);
}

/*
 * A client's whole life: connect, a non-shared collection, AttachLifetimeTracking (the round trip that
 * shows the collection exists), then it releases and closes the collection and then closes the connection,
 * one at a time so that each can be seen done: extra[0] from the release until sysmemd ends the collection
 * (it closes the tracking fd), extra[1] from the EOF on the connection (shutdown of a dup of its socket)
 * until sysmemd closes its end.
 */
static uint64_t time_close_cycle(const struct probe *p, uint64_t extra[2]) {
        struct sysmem_allocator *a;
        struct sysmem_collection *coll;
        int tracker;
        uint64_t t0 = bench_now_ns();
        int r = sysmem_allocator_connect(NULL, &a);
        if (r < 0)
                bench_fail("connect (cycle)", r);
        if ((r = sysmem_allocator_allocate_non_shared(a, &coll)) < 0 ||
            (r = sysmem_collection_attach_lifetime_tracking(coll, 0, &tracker)) < 0)
                bench_fail("allocate_non_shared + attach_lifetime_tracking (cycle)", r);
        int conn = fcntl(sysmem_allocator_get_fd(a), F_DUPFD_CLOEXEC, 3);
        if (conn < 0)
                bench_fail("dup (cycle)", errno);
        uint64_t t1 = bench_now_ns();
        release_or_fail(coll, "release (cycle)");
        wait_hangup(tracker, "sysmemd did not end a closed collection within 10 s");
        uint64_t t2 = bench_now_ns();
        sysmem_allocator_free(a);
        if (shutdown(conn, SHUT_WR) < 0)
                bench_fail("shutdown (cycle)", errno);
        wait_hangup(conn, "sysmemd did not close a connection at EOF within 10 s");
        uint64_t t3 = bench_now_ns();
        close(tracker);
        close(conn);
        extra[0] = t2 - t1;
        extra[1] = t3 - t2;
        return t3 - t0;
}

static uint64_t time_op(const struct probe *p, enum op op, uint64_t extra[2]) {
        switch (op) {
        case OP_VMO_HIT:
        case OP_VMO_MISS:
                return time_vmo(p, op == OP_VMO_HIT);
        case OP_VALIDATE_LIVE:
        case OP_VALIDATE_FAKE:
                return time_validate(p, op == OP_VALIDATE_LIVE);
        case OP_BIND:
                return time_bind(p);
        case OP_CLOSE_CYCLE:
                return time_close_cycle(p, extra);
        default:
                bench_fail("unknown op", EINVAL);
        }
}

/* cfg.a_iters timings of op after cfg.a_warmup untimed ones; ret_extra (2, or NULL): the cycle's parts. */
static void measure(const struct probe *p, enum op op, struct bench_stats *ret, struct bench_stats *ret_extra) {
        size_t n = (size_t)cfg.a_iters;
        uint64_t *ns = calloc(3 * n, sizeof *ns);
        if (!ns)
                bench_fail("calloc", ENOMEM);
        for (int i = -cfg.a_warmup; i < cfg.a_iters; i++) {
                uint64_t extra[2] = {0, 0}, t = time_op(p, op, extra);
                if (i >= 0) {
                        ns[i] = t;
                        ns[n + (size_t)i] = extra[0];
                        ns[2 * n + (size_t)i] = extra[1];
                }
        }
        *ret = bench_summarize(ns, n);
        if (ret_extra) {
                ret_extra[0] = bench_summarize(ns + n, n);
                ret_extra[1] = bench_summarize(ns + 2 * n, n);
        }
        free(ns);
}

/* sysmemd's syscalls per iteration of op (its untimed set-up included); -1 when they cannot be counted. */
static double count_syscalls(const struct probe *p, enum op op) {
        static bool told;
        struct bench_syscalls sc;
        if (bench_syscalls_open(&sc, daemon_pid) < 0) {
                if (!told)
                        printf("  (sysmemd's syscalls not counted: %s)\n", sc.why);
                told = true;
                return -1;
        }
        uint64_t extra[2], before = bench_syscalls_read(&sc);
        for (int i = 0; i < SC_ITERS; i++)
                (void)time_op(p, op, extra);
        uint64_t after = bench_syscalls_read(&sc);
        bench_syscalls_close(&sc);
        return (double)(after - before) / SC_ITERS;
}

/* measure() cfg.a_rounds times; the round with the lowest median. */
static void measure_best(const struct probe *p, enum op op, struct bench_stats *best) {
        for (int round = 0; round < cfg.a_rounds; round++) {
                struct bench_stats st;
                measure(p, op, &st, NULL);
                if (round == 0 || st.p50 < best->p50)
                        *best = st;
        }
}

/* Sockets of this process that the daemon never sees: the kernel's unix_diag lookup may walk them. */
static void measure_unrelated(const struct probe *p, struct bench_stats unrelated[2][2]) {
        measure_best(p, OP_VALIDATE_LIVE, &unrelated[0][0]);
        measure_best(p, OP_VALIDATE_FAKE, &unrelated[0][1]);
        int *pairs = calloc(2 * UNRELATED_PAIRS, sizeof *pairs);
        if (!pairs)
                bench_fail("calloc", ENOMEM);
        for (int i = 0; i < UNRELATED_PAIRS; i++)
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs + 2 * i) < 0)
                        bench_fail("socketpair (unrelated)", errno);
        measure_best(p, OP_VALIDATE_LIVE, &unrelated[1][0]);
        measure_best(p, OP_VALIDATE_FAKE, &unrelated[1][1]);
        for (int i = 0; i < 2 * UNRELATED_PAIRS; i++)
                close(pairs[i]);
        free(pairs);
}

static void probe_open(struct probe *p) {
        *p = (struct probe){.first_buffer_fd = -1};
        int r = sysmem_allocator_connect(NULL, &p->alloc);
        if (r < 0)
                bench_fail("connect", r);
        if ((r = sysmem_allocator_allocate_shared(p->alloc, &p->token)) < 0 ||
            (r = sysmem_node_sync(sysmem_token_node(p->token))) < 0)
                bench_fail("allocate_shared (probe token)", r);
        p->token_fd = sysmem_node_get_fd(sysmem_token_node(p->token));
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->fake_fd) < 0)
                bench_fail("socketpair", errno);
        if ((p->memfd = memfd_create("bench-scale", MFD_CLOEXEC)) < 0 || ftruncate(p->memfd, 4096) < 0)
                bench_fail("memfd", errno);
}

static void probe_close(struct probe *p, struct live_set *ls) {
        release_paced(ls->colls, ls->n, "release");
        for (unsigned h = 0; h * PER_CONN < ls->n; h++)
                sysmem_allocator_free(ls->holders[h]);
        int r = sysmem_token_release(p->token);
        if (r < 0)
                bench_fail("release (probe token)", r);
        sysmem_allocator_free(p->alloc);
        close(p->first_buffer_fd);
        close(p->memfd);
        close(p->fake_fd[0]);
        close(p->fake_fd[1]);
        free(ls->holders);
        free(ls->colls);
}

struct a_result {
        unsigned levels[MAX_LEVELS], n_levels;
        struct bench_stats st[OP_COUNT][MAX_LEVELS];
        double syscalls[OP_COUNT][MAX_LEVELS];
        long rss[MAX_LEVELS];
        struct bench_stats unrelated[2][2]; /* [0 or UNRELATED_PAIRS socketpairs][live token, socketpair] */
        double ratio[OP_COUNT], unrelated_ratio[2];
        unsigned capacity;
};

/* The levels of N: 1, 10, 100, ... up to cfg.a_max, capped at what sysmemd's fds allow. */
static void a_levels(struct a_result *res) {
        unsigned cap = daemon_fd_capacity(2, cfg.a_max / PER_CONN + 4);
        res->capacity = cap;
        unsigned top = cfg.a_max < cap ? cfg.a_max : cap;
        if (top < 2)
                bench_fail("RLIMIT_NOFILE leaves sysmemd no room for live collections", EMFILE);
        res->n_levels = 0;
        for (unsigned n = 1; n < top && res->n_levels < MAX_LEVELS - 1; n *= 10)
                res->levels[res->n_levels++] = n;
        res->levels[res->n_levels++] = top;
        if (top < cfg.a_max)
                printf("  note: N stops at %u, not %u: each collection holds 2 fds in sysmemd (its socket and "
                       "its buffer), and sysmemd inherits RLIMIT_NOFILE %ld (the hard limit here)\n",
                       top, cfg.a_max, cfg.nofile);
}

/* Every op cfg.a_rounds times, in turn; per row the round with the lowest median is kept (a shared machine). */
static void a_measure_level(const struct probe *p, struct a_result *res, unsigned l) {
        for (int round = 0; round < cfg.a_rounds; round++)
                for (int op = 0; op <= OP_CLOSE_CYCLE; op++) {
                        struct bench_stats st[3];
                        measure(p, (enum op)op, &st[0], op == OP_CLOSE_CYCLE ? &st[1] : NULL);
                        for (int k = 0; k < (op == OP_CLOSE_CYCLE ? 3 : 1); k++) {
                                int row = k ? OP_CLOSE_CYCLE + k : op;
                                if (round == 0 || st[k].p50 < res->st[row][l].p50)
                                        res->st[row][l] = st[k];
                        }
                }
        for (int op = 0; op < OP_COUNT; op++)
                res->syscalls[op][l] = op > OP_CLOSE_CYCLE ? -1 : count_syscalls(p, (enum op)op);
}

static void a_run(struct a_result *res) {
        struct live_set ls = {.holders = calloc(cfg.a_max / PER_CONN + 2, sizeof *ls.holders),
                              .colls = calloc(cfg.a_max + 1, sizeof *ls.colls)};
        if (!ls.holders || !ls.colls)
                bench_fail("calloc", ENOMEM);
        int base_fds = bench_fd_count(daemon_pid);
        struct probe p;
        probe_open(&p);
        a_levels(res);
        for (unsigned l = 0; l < res->n_levels; l++) {
                uint64_t t0 = bench_now_ns();
                while (ls.n < res->levels[l])
                        add_collection(&ls, &p);
                round_trip(&p);
                res->rss[l] = bench_rss_kib(daemon_pid);
                double fill_s = (double)(bench_now_ns() - t0) / 1e9;
                a_measure_level(&p, res, l);
                printf("  N = %u: filled in %.2f s, measured in %.2f s; sysmemd VmRSS %ld KiB, %d fds\n",
                       res->levels[l], fill_s, (double)(bench_now_ns() - t0) / 1e9 - fill_s, res->rss[l],
                       bench_fd_count(daemon_pid));
                if (l == 0)
                        measure_unrelated(&p, res->unrelated);
        }
        uint64_t t0 = bench_now_ns();
        unsigned n = ls.n;
        probe_close(&p, &ls);
        wait_daemon_fds(base_fds);
        printf("  released %u collections, %d at a time, in %.2f s (until sysmemd closed their fds)\n", n,
               RELEASE_BATCH, (double)(bench_now_ns() - t0) / 1e9);
}

static void a_print_latency(struct a_result *res) {
        unsigned last = res->n_levels - 1;
        printf("\n  median / p90 microseconds by live collections N; ratio = median at N=%u / N=%u, goal <= %.1f\n",
               res->levels[last], res->levels[0], GOAL_FLAT);
        printf("  %-30s", "operation");
        for (unsigned l = 0; l < res->n_levels; l++) {
                char h[24];
                snprintf(h, sizeof h, "N=%u", res->levels[l]);
                printf(" %13s", h);
        }
        printf(" %7s %5s\n", "ratio", "met?");
        for (int op = 0; op < OP_COUNT; op++) {
                printf("  %-30s", op_names[op]);
                for (unsigned l = 0; l < res->n_levels; l++) {
                        char c[32];
                        snprintf(c, sizeof c, "%.1f / %.1f", res->st[op][l].p50, res->st[op][l].p90);
                        printf(" %13s", c);
                }
                res->ratio[op] = res->st[op][last].p50 / res->st[op][0].p50;
                printf(" %6.2fx %5s\n", res->ratio[op], res->ratio[op] <= GOAL_FLAT ? "yes" : "NO");
        }
}

static void a_print_rest(struct a_result *res) {
        printf("\n  sysmemd syscalls per iteration (the timed request and its untimed set-up), by N\n");
        for (int op = 0; op < OP_COUNT; op++) {
                if (res->syscalls[op][0] < 0)
                        continue;
                printf("  %-30s", op_names[op]);
                for (unsigned l = 0; l < res->n_levels; l++)
                        printf(" %13.1f", res->syscalls[op][l]);
                printf("\n");
        }
        printf("  %-30s", "sysmemd VmRSS KiB");
        for (unsigned l = 0; l < res->n_levels; l++)
                printf(" %13ld", res->rss[l]);
        printf("\n  %-30s %13s", "  per live collection, bytes", "-");
        for (unsigned l = 1; l < res->n_levels; l++)
                printf(" %13.0f", (double)(res->rss[l] - res->rss[0]) * 1024.0 / (res->levels[l] - res->levels[0]));
        printf("\n\n  unrelated sockets (N=%u): ValidateToken with 0 vs %d socketpairs held open by this process "
               "(best of %d rounds)\n", res->levels[0], UNRELATED_PAIRS, cfg.a_rounds);
        printf("  %-30s %13s %13s %7s %5s\n", "operation", "0 pairs", "5000 pairs", "ratio", "met?");
        for (int k = 0; k < 2; k++) {
                char c0[32], c1[32];
                snprintf(c0, sizeof c0, "%.1f / %.1f", res->unrelated[0][k].p50, res->unrelated[0][k].p90);
                snprintf(c1, sizeof c1, "%.1f / %.1f", res->unrelated[1][k].p50, res->unrelated[1][k].p90);
                res->unrelated_ratio[k] = res->unrelated[1][k].p50 / res->unrelated[0][k].p50;
                printf("  %-30s %13s %13s %6.2fx %5s\n", op_names[OP_VALIDATE_LIVE + k], c0, c1,
                       res->unrelated_ratio[k], res->unrelated_ratio[k] <= GOAL_FLAT ? "yes" : "NO");
        }
}

static void part_a(struct a_result *res) {
        printf("\n(a) latency by live collections N (allocated non-shared collections, one 4 KiB buffer each, "
               "%d per connection);\n    %d iterations per cell after %d warm-up; of %d such rounds per N, the one "
               "with the lowest median\n", PER_CONN, cfg.a_iters, cfg.a_warmup, cfg.a_rounds);
        daemon_up("a", cfg.a_max, 256);
        a_run(res);
        a_print_latency(res);
        a_print_rest(res);
        daemon_down();
}

/* ======== (b) participants per collection ======== */

struct participant {
        struct sysmem_collection *coll;
        int result; /* 1 while waiting */
        uint32_t buffers;
};

static void on_allocated(struct sysmem_collection *coll, int result, struct sysmem_collection_info *info,
                         void *userdata) {
        struct participant *p = userdata;
        (void)coll;
        p->result = result;
        p->buffers = info ? info->buffer_count : 0;
        sysmem_collection_info_free(info);
}

/* n tokens of one new shared collection: the root with up to 64 duplicates in one call, then DuplicateSync. */
static void b_tokens(struct sysmem_allocator *a, unsigned n, struct sysmem_token **tokens) {
        unsigned first = n - 1 < SYSMEM_MAX_DUPLICATES ? n - 1 : SYSMEM_MAX_DUPLICATES;
        int r = sysmem_allocator_allocate_shared_with_duplicates(a, first, same_masks, &tokens[0], tokens + 1);
        if (r < 0)
                bench_fail("allocate_shared_with_duplicates", r);
        for (unsigned have = first + 1; have < n;) {
                unsigned k = n - have < SYSMEM_MAX_DUPLICATES ? n - have : SYSMEM_MAX_DUPLICATES;
                if ((r = sysmem_token_duplicate_sync(tokens[0], k, same_masks, tokens + have)) < 0)
                        bench_fail("token_duplicate_sync", r);
                have += k;
        }
}

/* Dispatches the participants' sockets until every wait has been answered. */
static void b_wait_all(struct participant *parts, unsigned n) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                bench_fail("epoll_create1", errno);
        for (unsigned i = 0; i < n; i++) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &parts[i]};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, sysmem_node_get_fd(sysmem_collection_node(parts[i].coll)), &ev) < 0)
                        bench_fail("epoll_ctl", errno);
        }
        unsigned done = 0;
        while (done < n) {
                struct epoll_event evs[64];
                int k = epoll_wait(ep, evs, 64, 10000);
                if (k < 0 && errno != EINTR)
                        bench_fail("epoll_wait", errno);
                if (k == 0)
                        bench_fail("participants: no allocation within 10 s", ETIMEDOUT);
                for (int i = 0; i < k; i++) {
                        struct participant *p = evs[i].data.ptr;
                        if (p->result != 1)
                                continue;
                        int r = sysmem_node_dispatch(sysmem_collection_node(p->coll));
                        if (r < 0)
                                bench_fail("dispatch (participant)", r);
                        if (p->result != 1)
                                done++;
                        if (p->result < 0)
                                bench_fail("allocation (participants)", p->result);
                }
        }
        close(ep);
}

/*
 * One collection of n participants, from the first request to sysmemd's clean-up (base_fds again);
 * returns the nanoseconds until every participant had its buffer, and *cpu_then sysmemd's CPU clock then.
 */
static uint64_t b_once(struct sysmem_allocator *a, unsigned n, struct participant *parts,
                       struct sysmem_token **tokens, int base_fds, uint64_t *cpu_then) {
        int r;
        uint64_t t0 = bench_now_ns();
        b_tokens(a, n, tokens);
        for (unsigned i = 0; i < n; i++) {
                parts[i] = (struct participant){.result = 1};
                if ((r = sysmem_token_bind(tokens[i], &parts[i].coll)) < 0)
                        bench_fail("token_bind", r);
        }
        for (unsigned i = 0; i < n; i++)
                if ((r = sysmem_collection_set_constraints(parts[i].coll, i ? &cpu_reader : &one_small_buffer)) < 0)
                        bench_fail("set_constraints", r);
        for (unsigned i = 0; i < n; i++)
                if ((r = sysmem_collection_wait_allocated_async(parts[i].coll, on_allocated, &parts[i])) < 0)
                        bench_fail("wait_allocated_async", r);
        b_wait_all(parts, n);
        uint64_t t1 = bench_now_ns();
        *cpu_then = bench_cpu_ns(daemon_pid);
        for (unsigned i = 0; i < n; i++)
                if (parts[i].buffers != 1)
                        bench_fail("participants: a participant without the buffer", EPROTO);
        for (unsigned i = 0; i < n; i++)
                release_or_fail(parts[i].coll, "release (participant)");
        wait_daemon_fds(base_fds);
        return t1 - t0;
}

struct b_row {
        unsigned n;
        double cpu_us;   /* sysmemd's CPU time per collection, its clean-up included (median) */
        double clean_us; /* the part after every participant had its buffer: releases, hang-ups (median) */
        double wall_us;  /* from the first request until every participant has its buffer (median) */
        double syscalls; /* sysmemd's, in one more run (-1: not counted) */
};

static double median_of(uint64_t *v, size_t n) {
        return bench_summarize(v, n).p50;
}

static void b_measure(unsigned n, struct participant *parts, struct sysmem_token **tokens, struct b_row *row) {
        struct sysmem_allocator *a;
        int r = sysmem_allocator_connect(NULL, &a);
        if (r < 0)
                bench_fail("connect (participants)", r);
        /* A warm-up first: what sysmemd holds after it (the allocator's spare token sockets too) is the base. */
        int base = bench_fd_count(daemon_pid) + 1 + SPARES_MAX;
        uint64_t c_alloc;
        (void)b_once(a, n, parts, tokens, base, &c_alloc);
        base = settle_daemon_fds(base);
        uint64_t cpu[64], clean[64], wall[64];
        for (int i = 0; i < cfg.b_reps; i++) {
                uint64_t c0 = bench_cpu_ns(daemon_pid);
                wall[i] = b_once(a, n, parts, tokens, base, &c_alloc);
                uint64_t c1 = bench_cpu_ns(daemon_pid);
                cpu[i] = c1 - c0;
                clean[i] = c1 - c_alloc;
        }
        row->n = n;
        row->cpu_us = median_of(cpu, (size_t)cfg.b_reps);
        row->clean_us = median_of(clean, (size_t)cfg.b_reps);
        row->wall_us = median_of(wall, (size_t)cfg.b_reps);
        struct bench_syscalls sc;
        row->syscalls = -1;
        if (bench_syscalls_open(&sc, daemon_pid) == 0) {
                uint64_t s0 = bench_syscalls_read(&sc);
                (void)b_once(a, n, parts, tokens, base, &c_alloc);
                row->syscalls = (double)(bench_syscalls_read(&sc) - s0);
                bench_syscalls_close(&sc);
        }
        sysmem_allocator_free(a);
}

static double b_print(const struct b_row *rows, unsigned n_rows) {
        printf("\n  %6s %14s %14s %14s %16s %14s %16s\n", "N", "sysmemd CPU us", "  per partic.",
               "of it clean-up", "wall us (alloc.)", "  per partic.", "syscalls/partic.");
        double x[B_MAX_SIZES], y[B_MAX_SIZES];
        size_t m = 0;
        for (unsigned i = 0; i < n_rows; i++) {
                const struct b_row *r = &rows[i];
                printf("  %6u %14.1f %14.2f %14.1f %16.1f %14.2f", r->n, r->cpu_us, r->cpu_us / r->n, r->clean_us,
                       r->wall_us, r->wall_us / r->n);
                if (r->syscalls >= 0)
                        printf(" %16.2f\n", r->syscalls / r->n);
                else
                        printf(" %16s\n", "-");
                if (r->n >= B_FIT_FROM) {
                        x[m] = r->n;
                        y[m++] = r->cpu_us;
                }
        }
        double e = bench_fit_exponent(x, y, m);
        double xw[B_MAX_SIZES], yw[B_MAX_SIZES];
        for (size_t i = 0; i < m; i++) {
                xw[i] = x[i];
                yw[i] = rows[n_rows - m + i].wall_us;
        }
        printf("\n  fitted exponent of sysmemd CPU per collection over N = %d..%u: %.3f (goal <= %.1f: %s); "
               "of wall time: %.3f\n",
               B_FIT_FROM, rows[n_rows - 1].n, e, GOAL_EXPONENT, e <= GOAL_EXPONENT ? "met" : "NOT met",
               bench_fit_exponent(xw, yw, m));
        return e;
}

static double part_b(void) {
        printf("\n(b) one shared collection with N participants (root token + N-1 duplicates, all bound, one asks "
               "for\n    1 x 4 KiB, the others CPU read only, all wait asynchronously, all release); median of %d "
               "runs;\n    sysmemd CPU per collection includes its clean-up (until its fd count is back); wall time is until\n"
               "    every participant has its buffer\n",
               cfg.b_reps);
        daemon_up("b", 64, cfg.b_max + 8);
        struct participant *parts = calloc(cfg.b_max, sizeof *parts);
        struct sysmem_token **tokens = calloc(cfg.b_max, sizeof *tokens);
        if (!parts || !tokens)
                bench_fail("calloc", ENOMEM);
        struct b_row rows[B_MAX_SIZES];
        unsigned n_rows = 0;
        for (unsigned n = 2; n <= cfg.b_max && n_rows < B_MAX_SIZES; n *= 2)
                b_measure(n, parts, tokens, &rows[n_rows++]);
        free(parts);
        free(tokens);
        double e = b_print(rows, n_rows);
        daemon_down();
        return e;
}

/* ======== client processes, for (c) and (d) ======== */

struct kids {
        unsigned n;
        pid_t pid[MAX_KIDS];
        int ready_rd, go_wr, result_rd;
};

/* Runs in a child: reports readiness with one byte on ready_wr, waits for EOF on go_rd, writes a uint64_t. */
typedef void (*kid_fn)(unsigned index, void *arg, int ready_wr, int go_rd, int result_wr);

static void kids_start(struct kids *k, unsigned n, kid_fn fn, void *arg) {
        int ready[2], go[2], result[2];
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
                bench_fail("pipe2", errno);
        k->n = n;
        fflush(NULL);
        for (unsigned i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        bench_fail("fork", errno);
                if (pid == 0) {
                        close(ready[0]);
                        close(go[1]);
                        close(result[0]);
                        fn(i, arg, ready[1], go[0], result[1]);
                        _exit(0);
                }
                k->pid[i] = pid;
        }
        close(ready[1]);
        close(go[0]);
        close(result[1]);
        k->ready_rd = ready[0];
        k->go_wr = go[1];
        k->result_rd = result[0];
}

/* Reads len bytes from fd; fails when every child has exited first (one of them failed). */
static void kids_read(int fd, void *buf, size_t len, const char *what) {
        for (size_t got = 0; got < len;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 120000) == 0)
                        bench_fail(what, ETIMEDOUT);
                ssize_t r = read(fd, (char *)buf + got, len - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        bench_fail(what, errno);
                if (r == 0)
                        bench_fail(what, ECHILD); /* the child's own message says why */
                got += (size_t)r;
        }
}

static void kids_wait_ready(struct kids *k) {
        char buf[MAX_KIDS];
        kids_read(k->ready_rd, buf, k->n, "client processes getting ready");
}

/* Lets them go; sums what they report and checks that each exited with 0. */
static uint64_t kids_finish(struct kids *k) {
        close(k->go_wr);
        uint64_t v[MAX_KIDS], sum = 0;
        kids_read(k->result_rd, v, k->n * sizeof *v, "client processes' results");
        for (unsigned i = 0; i < k->n; i++) {
                int st;
                if (waitpid(k->pid[i], &st, 0) != k->pid[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        bench_fail("a client process failed", ECHILD);
                sum += v[i];
        }
        close(k->ready_rd);
        close(k->result_rd);
        return sum;
}

static void kid_wait_go(int ready_wr, int go_rd) {
        char c = 'r', d;
        if (write(ready_wr, &c, 1) != 1)
                bench_fail("write (ready)", errno);
        while (read(go_rd, &d, 1) < 0 && errno == EINTR)
                ;
}

static void kid_report(int result_wr, uint64_t v) {
        if (write(result_wr, &v, sizeof v) != (ssize_t)sizeof v)
                bench_fail("write (result)", errno);
}

/* ======== (c) memory of live two-participant collections ======== */

static void c_kid(unsigned index, void *arg, int ready_wr, int go_rd, int result_wr) {
        unsigned total = *(const unsigned *)arg, n = total / C_CLIENTS + (index < total % C_CLIENTS);
        struct sysmem_collection **colls = calloc(2 * (size_t)n, sizeof *colls);
        struct sysmem_allocator **conns = calloc(n / PER_CONN + 1, sizeof *conns);
        if (!colls || !conns)
                bench_fail("calloc", ENOMEM);
        int r;
        for (unsigned i = 0; i < n; i++) {
                if (i % PER_CONN == 0 && (r = sysmem_allocator_connect(NULL, &conns[i / PER_CONN])) < 0)
                        bench_fail("connect (memory)", r);
                make_pair(conns[i / PER_CONN], &colls[2 * i], &colls[2 * i + 1]);
        }
        kid_wait_go(ready_wr, go_rd);
        release_paced(colls, 2 * n, "release (memory)");
        for (unsigned i = 0; i * PER_CONN < n; i++)
                sysmem_allocator_free(conns[i]);
        kid_report(result_wr, n);
}

struct c_result {
        unsigned n;
        double kib_per_collection, total_mib, projected_mib;
};

static long c_print_rss(const char *when) {
        long rss = bench_rss_kib(daemon_pid);
        printf("  sysmemd %-38s VmRSS %8ld KiB (RssAnon %ld, RssShmem %ld), %d fds\n", when, rss,
               bench_status_kib(daemon_pid, "RssAnon"), bench_status_kib(daemon_pid, "RssShmem"),
               bench_fd_count(daemon_pid));
        return rss;
}

/* n collections made by the client processes, held, then released (paced); sysmemd's VmRSS with them live. */
static long c_round(unsigned n, int base_fds, const char *round) {
        struct kids k;
        char when[80];
        uint64_t t0 = bench_now_ns();
        kids_start(&k, C_CLIENTS, c_kid, &n);
        kids_wait_ready(&k);
        snprintf(when, sizeof when, "%swith %u live (made in %.2f s)", round, n, (double)(bench_now_ns() - t0) / 1e9);
        long live = c_print_rss(when);
        t0 = bench_now_ns();
        if (kids_finish(&k) != n)
                bench_fail("memory: the clients made a different number of collections", EPROTO);
        wait_daemon_fds(base_fds);
        snprintf(when, sizeof when, "%safter all released (in %.2f s)", round, (double)(bench_now_ns() - t0) / 1e9);
        (void)c_print_rss(when);
        return live;
}

static void part_c(struct c_result *res) {
        printf("\n(c) collections shared by 2 participants (both bound, both with the 1 x 4 KiB buffer), held "
               "open by %d client processes\n", C_CLIENTS);
        daemon_up("c", cfg.c_n, 256);
        int base_fds = bench_fd_count(daemon_pid);
        unsigned cap = daemon_fd_capacity(3, cfg.c_n / PER_CONN + 2 * C_CLIENTS);
        unsigned n = cfg.c_n < cap ? cfg.c_n : cap;
        if (n < C_CLIENTS)
                bench_fail("RLIMIT_NOFILE leaves sysmemd no room for live collections", EMFILE);
        if (n < cfg.c_n)
                printf("  note: %u collections, not %u: each holds 3 fds in sysmemd (2 sockets, 1 buffer), and "
                       "sysmemd inherits RLIMIT_NOFILE %ld (the hard limit here)\n", n, cfg.c_n, cfg.nofile);
        long before = c_print_rss("before");
        long after = c_round(n, base_fds, "");
        /* Whether what stays after the release is reused (allocator caches) or lost (a leak). */
        long again = c_round(n, base_fds, "2nd: ");
        printf("  the 2nd round grew VmRSS by %ld KiB over the 1st (%.2f KiB per collection)\n", again - after,
               (double)(again - after) / n);
        res->n = n;
        res->kib_per_collection = (double)(after - before) / n;
        res->total_mib = (double)after / 1024.0;
        res->projected_mib = ((double)before + res->kib_per_collection * GOAL_C_COLLECTIONS) / 1024.0;
        printf("  per live collection: %.2f KiB; sysmemd VmRSS with %u live: %.1f MiB", res->kib_per_collection, n,
               res->total_mib);
        if (n < GOAL_C_COLLECTIONS)
                printf(" (at %u, projected from these: %.1f MiB)", GOAL_C_COLLECTIONS, res->projected_mib);
        printf("\n  goal <= %.0f KiB per collection, <= %.0f MiB total for %u x 2 participants\n",
               GOAL_KIB_PER_COLLECTION, GOAL_TOTAL_MIB, GOAL_C_COLLECTIONS);
        daemon_down();
}

/* ======== (d) throughput ======== */

static void d_kid(unsigned index, void *arg, int ready_wr, int go_rd, int result_wr) {
        double seconds = *(const double *)arg;
        (void)index;
        struct sysmem_allocator *a;
        int r = sysmem_allocator_connect(NULL, &a);
        if (r < 0)
                bench_fail("connect (throughput)", r);
        struct sysmem_collection *c0, *c1;
        for (int i = 0; i < 8; i++) { /* warm-up, and the spare token sockets for the loop below */
                make_pair(a, &c0, &c1);
                release_or_fail(c0, "release (throughput)");
                release_or_fail(c1, "release (throughput)");
        }
        kid_wait_go(ready_wr, go_rd);
        uint64_t deadline = bench_now_ns() + (uint64_t)(seconds * 1e9), count = 0;
        while (bench_now_ns() < deadline) {
                make_pair(a, &c0, &c1);
                release_or_fail(c0, "release (throughput)");
                release_or_fail(c1, "release (throughput)");
                count++;
        }
        sysmem_allocator_free(a);
        kid_report(result_wr, count);
}

struct d_run {
        double per_s, daemon_util, switches_per_coll;
};

static struct d_run d_measure(unsigned clients) {
        int base_fds = bench_fd_count(daemon_pid);
        struct kids k;
        kids_start(&k, clients, d_kid, &cfg.d_seconds);
        kids_wait_ready(&k);
        uint64_t c0 = bench_cpu_ns(daemon_pid), s0 = bench_schedstat(daemon_pid, 2), t0 = bench_now_ns();
        uint64_t made = kids_finish(&k);
        wait_daemon_fds(base_fds);
        uint64_t wall = bench_now_ns() - t0, cpu = bench_cpu_ns(daemon_pid) - c0;
        uint64_t sw = bench_schedstat(daemon_pid, 2) - s0;
        return (struct d_run){.per_s = (double)made * 1e9 / (double)wall,
                              .daemon_util = (double)cpu / (double)wall,
                              .switches_per_coll = made ? (double)sw / (double)made : 0};
}

static void d_print(const char *placement, unsigned clients, const struct d_run *r, double lo, double hi) {
        printf("  %-22s %8u %14.0f %12.0f%% %14.1f %16.2f %9.0f..%.0f\n", placement, clients, r->per_s,
               100 * r->daemon_util, r->daemon_util * 1e6 / r->per_s, r->switches_per_coll, lo, hi);
}

static int cmp_d_run(const void *a, const void *b) {
        double x = ((const struct d_run *)a)->per_s, y = ((const struct d_run *)b)->per_s;
        return x < y ? -1 : x > y;
}

/*
 * 1 client and 16 in turn, cfg.d_rounds times, against one sysmemd that has the CPUs this process has now;
 * prints the median round of each and returns the ratio of the medians, 16 / 1.
 */
static double d_pair(const char *placement) {
        struct d_run one[8], many[8];
        daemon_up("d", 4096, 256);
        for (int i = 0; i < cfg.d_rounds; i++) {
                one[i] = d_measure(1);
                many[i] = d_measure(D_CLIENTS);
        }
        daemon_down();
        qsort(one, (size_t)cfg.d_rounds, sizeof *one, cmp_d_run);
        qsort(many, (size_t)cfg.d_rounds, sizeof *many, cmp_d_run);
        int mid = cfg.d_rounds / 2;
        double ratio = many[mid].per_s / one[mid].per_s;
        d_print(placement, 1, &one[mid], one[0].per_s, one[cfg.d_rounds - 1].per_s);
        d_print("", D_CLIENTS, &many[mid], many[0].per_s, many[cfg.d_rounds - 1].per_s);
        printf("  %-22s ratio %u / 1: %.2f (goal >= 1: %s)\n", "", D_CLIENTS, ratio, ratio >= 1 ? "met" : "NOT met");
        return ratio;
}

struct d_result {
        double ratio_pinned, ratio_free;
        bool have_pinned, ran;
};

static void part_d(struct d_result *res) {
        printf("\n(d) throughput: client processes each making and releasing 2-participant shared collections\n"
               "    (1 x 4 KiB buffer) back to back for %.1f s; collections per second over the run and sysmemd's\n"
               "    clean-up; sysmemd CPU = its CPU time / wall time (one thread: 100%% is one core); 1 and %d\n"
               "    clients in turn, %d times: the median run of each, and the range of all\n"
               "  %-22s %8s %14s %13s %14s %16s %14s\n", cfg.d_seconds, D_CLIENTS, cfg.d_rounds, "placement",
               "clients", "collections/s", "sysmemd CPU", "its us/coll.", "its switches/c.", "range /s");
        res->have_pinned = cfg.pinned;
        if (cfg.pinned) {
                res->ratio_pinned = d_pair("one CPU (pinned)");
                if (!bench_unpin())
                        bench_fail("sched_setaffinity (unpin)", errno);
        }
        long nproc = sysconf(_SC_NPROCESSORS_ONLN);
        char placement[48];
        snprintf(placement, sizeof placement, "not pinned (%ld CPUs)", nproc);
        res->ratio_free = d_pair(placement);
        res->ran = true;
}

/* ======== summary ======== */

/* "yes", "NO", or "yes*" where the goal is met at a smaller size than the goal names. */
static const char *met(bool ok, bool full_size) {
        return !ok ? "NO" : full_size ? "yes" : "yes*";
}

static void row(const char *goal, const char *measured, const char *verdict) {
        printf("  %-64s | %-36s | %s\n", goal, measured, verdict);
}

static const char *const summary_names[OP_COUNT] = {
        [OP_VMO_HIT] = "GetVmoInfo (hit)",
        [OP_VMO_MISS] = "GetVmoInfo (miss)",
        [OP_VALIDATE_LIVE] = "ValidateToken (live)",
        [OP_VALIDATE_FAKE] = "ValidateToken (not a token)",
        [OP_BIND] = "BindSharedCollection",
        [OP_CLOSE_CYCLE] = "connect+alloc+track+release cycle",
        [OP_CLOSE_COLL] = "disconnect: collection socket",
        [OP_CLOSE_CONN] = "disconnect: allocator connection",
};

static void summary_a(const struct a_result *a) {
        char g[96], m[96];
        unsigned nmax = a->levels[a->n_levels - 1];
        for (int op = 0; op < OP_COUNT; op++) {
                snprintf(g, sizeof g, "(a) %s, %u / 1 live <= %.1f", summary_names[op], GOAL_A_N, GOAL_FLAT);
                snprintf(m, sizeof m, "%.2f (N=%u / %u)", a->ratio[op], nmax, a->levels[0]);
                row(g, m, met(a->ratio[op] <= GOAL_FLAT, nmax >= GOAL_A_N));
        }
        for (int k = 0; k < 2; k++) {
                snprintf(g, sizeof g, "(a) %s, +%d unrelated socketpairs <= %.1f",
                         summary_names[OP_VALIDATE_LIVE + k], UNRELATED_PAIRS, GOAL_FLAT);
                snprintf(m, sizeof m, "%.2f", a->unrelated_ratio[k]);
                row(g, m, met(a->unrelated_ratio[k] <= GOAL_FLAT, true));
        }
}

static void summary_c(const struct c_result *c);
static void summary_d(const struct d_result *d);

static void summary(const struct a_result *a, double b_exp, const struct c_result *c, const struct d_result *d) {
        char g[96], m[96];
        printf("\nsummary (issue 12)\n");
        row("goal", "measured", "met?");
        if (a->n_levels)
                summary_a(a);
        if (!isnan(b_exp)) {
                snprintf(g, sizeof g, "(b) exponent of sysmemd CPU in participants <= %.1f", GOAL_EXPONENT);
                snprintf(m, sizeof m, "%.3f (N=%d..%u)", b_exp, B_FIT_FROM, cfg.b_max);
                row(g, m, met(b_exp <= GOAL_EXPONENT, cfg.b_max >= 1024));
        }
        if (c->n)
                summary_c(c);
        if (d->ran)
                summary_d(d);
        printf("  yes*: met at the smaller size measured here (see the notes above), not at the goal's size\n");
}

static void summary_c(const struct c_result *c) {
        char g[96], m[96];
        snprintf(g, sizeof g, "(c) sysmemd RSS per live collection <= %.0f KiB", GOAL_KIB_PER_COLLECTION);
        snprintf(m, sizeof m, "%.2f KiB (%u x 2 participants)", c->kib_per_collection, c->n);
        row(g, m, met(c->kib_per_collection <= GOAL_KIB_PER_COLLECTION, c->n >= GOAL_C_COLLECTIONS));
        snprintf(g, sizeof g, "(c) %u x 2 participants within %.0f MiB", GOAL_C_COLLECTIONS, GOAL_TOTAL_MIB);
        if (c->n >= GOAL_C_COLLECTIONS)
                snprintf(m, sizeof m, "%.1f MiB", c->total_mib);
        else
                snprintf(m, sizeof m, "%.1f MiB at %u, projected %.1f", c->total_mib, c->n, c->projected_mib);
        row(g, m, met(c->projected_mib <= GOAL_TOTAL_MIB && c->total_mib <= GOAL_TOTAL_MIB, c->n >= GOAL_C_COLLECTIONS));
}

static void summary_d(const struct d_result *d) {
        char m[96];
        if (d->have_pinned) {
                snprintf(m, sizeof m, "%.2f", d->ratio_pinned);
                row("(d) throughput 16 clients / 1 client >= 1, one CPU", m, met(d->ratio_pinned >= 1, true));
        }
        snprintf(m, sizeof m, "%.2f", d->ratio_free);
        row("(d) throughput 16 clients / 1 client >= 1, not pinned", m, met(d->ratio_free >= 1, true));
}

static void configure(int argc, char **argv) {
        int i = 1;
        const char *q = getenv("BENCH_QUICK");
        cfg.quick = q && !strcmp(q, "1");
        if (i < argc && !strcmp(argv[i], "--quick")) {
                cfg.quick = true;
                i++;
        }
        cfg.sysmemd = i < argc ? argv[i++] : SYSMEMD_PATH;
        cfg.parts = getenv("BENCH_PARTS") ? getenv("BENCH_PARTS") : "abcd";
        cfg.a_max = cfg.quick ? 1000 : GOAL_A_N;
        if (i < argc)
                cfg.a_max = (unsigned)strtoul(argv[i], NULL, 10);
        if (cfg.a_max < 2)
                cfg.a_max = 2;
        cfg.a_iters = cfg.quick ? 100 : 200;
        cfg.a_warmup = 20;
        cfg.a_rounds = 3;
        cfg.d_rounds = cfg.quick ? 1 : 3;
        cfg.b_max = cfg.quick ? 256 : 1024;
        cfg.b_reps = cfg.quick ? 3 : 9;
        cfg.c_n = cfg.quick ? 2000 : GOAL_C_COLLECTIONS;
        cfg.d_seconds = cfg.quick ? 0.3 : 1.0;
        cfg.nofile = bench_raise_nofile();
        if (cfg.nofile < 0)
                bench_fail("getrlimit (RLIMIT_NOFILE)", errno);
}

int main(int argc, char **argv) {
        bench_set_name("bench-scale");
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        configure(argc, argv);
        for (unsigned i = 0; i < SYSMEM_MAX_DUPLICATES; i++)
                same_masks[i] = SYSMEM_RIGHTS_SAME;
        /*
         * One CPU for this process and sysmemd (which inherits it): on a small VM a request whose wake-up
         * crosses CPUs costs tens of microseconds more, and when the scheduler starts doing that varies
         * from run to run, which would hide the growth with N. BENCH_NO_PIN=1 leaves placement alone.
         */
        cfg.pinned = bench_pin_one_cpu();
        snprintf(cfg.dir, sizeof cfg.dir, "/tmp/sysmem-bench-XXXXXX");
        if (!mkdtemp(cfg.dir))
                bench_fail("mkdtemp", errno);
        printf("bench-scale: nproc %ld; %s; RLIMIT_NOFILE %ld; %s; sysmemd %s\n", sysconf(_SC_NPROCESSORS_ONLN),
               cfg.pinned ? "this process and sysmemd pinned to one CPU (BENCH_NO_PIN=1: not)" : "not pinned",
               cfg.nofile, cfg.quick ? "quick run (BENCH_QUICK=1)" : "full run (BENCH_QUICK=1: a shorter one)",
               cfg.sysmemd);
        uint64_t t0 = bench_now_ns();
        struct a_result a = {0};
        struct c_result c = {0};
        struct d_result d = {0};
        double b_exp = NAN;
        if (strchr(cfg.parts, 'a'))
                part_a(&a);
        if (strchr(cfg.parts, 'b'))
                b_exp = part_b();
        if (strchr(cfg.parts, 'c'))
                part_c(&c);
        if (strchr(cfg.parts, 'd'))
                part_d(&d);
        summary(&a, b_exp, &c, &d);
        printf("\n%.1f s\n", (double)(bench_now_ns() - t0) / 1e9);
        rmdir(cfg.dir);
        return 0;
}
