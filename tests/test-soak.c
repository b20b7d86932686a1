/* test-soak.c: one sysmemd, many concurrent random trees with random deaths and releases; then no fd or memory leak. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)
#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)
#define CPU_R SYSMEM_CPU_USAGE_READ

/*
 * Wall time: a warm-up, then the soak proper; both are bounded by time, not by a count, so a slow
 * (sanitizer) build runs fewer scenarios rather than longer. The whole test stays well under 40 s.
 */
#define WORKERS 4
#define WARMUP_MS 1500
#define RUN_MS 9000
#define DEFAULT_SEED 0x5eed0c0ffee5ULL
/* Once every worker is gone the daemon holds no collection at all (as sysmemctl list --json says). */
static void expect_no_live_collections(struct h_daemon *d) {
        const char *ctl = getenv("SYSMEMCTL");
        if (!ctl)
                fail_msg("SYSMEMCTL is not set: run through meson test");
        char cmd[PATH_MAX * 2 + 32];
        snprintf(cmd, sizeof cmd, "%s list --json --socket %s", ctl, d->socket);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[65536];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        int status = pclose(p);
        if (status != 0 || !strstr(out, "\"collection_count\":0") || !strstr(out, "\"total_bytes\":0"))
                fail_msg("live collections after the soak (sysmemctl status %d):\n%s", status, out);
}

/* The daemon's VmRSS after the soak may exceed its level after warm-up by at most this much. */
#define RSS_MARGIN_KIB 4096
#define MAX_MEMBERS 16
#define MAX_GROUPS 4
#define MAX_PARKED 3

/* ---- a reproducible random stream (splitmix64) ---- */

struct rng {
        uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint32_t rnd(struct rng *r, uint32_t n) { return n ? (uint32_t)(rng_next(r) % n) : 0; }
static bool chance(struct rng *r, uint32_t percent) { return rnd(r, 100) < percent; }

/* ---- messages between a worker and its member processes ---- */

enum mop {
        M_TAKE = 1,    /* token := the fd that comes with this message; debug name := name */
        M_DISPENSABLE, /* SetDispensable + Sync on the token */
        M_WEAK,        /* SetWeak + SetWeakOk + Sync on the token */
        M_DUP,         /* DuplicateSync(1); the new token comes back as an fd after the reply */
        M_BIND,
        M_CONSTRAIN, /* SetConstraints + Sync */
        M_WAIT,
        M_ALIVE,       /* Sync and Check succeed; buffer 0 maps and reads */
        M_EXPECT_FAIL, /* the node fails (bounded) with error `arg`, its message naming `name` */
        M_RELEASE,
        M_EXIT,
};

struct mcmd {
        uint32_t op;
        uint32_t arg;
        struct sysmem_constraints c;
        char name[64];
};

struct mrep {
        int32_t r;
        uint32_t error;
        uint32_t count;
        uint64_t size;
        uint64_t ino0;
        bool has_fd0;
        bool weak_fd;
        char msg[400];
};

/* Receives one message with an optional fd (-1 when none came). */
static ssize_t recv_with_fd(int sock, void *buf, size_t size, int *ret_fd) {
        struct iovec iov = {.iov_base = buf, .iov_len = size};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        *ret_fd = -1;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                    cm->cmsg_len >= CMSG_LEN(sizeof(int)))
                        memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
        return n;
}

static void close_fds_except(int keep) {
        if ((keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0) && close_range((unsigned)keep + 1, ~0u, 0) == 0)
                return;
        for (int fd = 3; fd < 4096; fd++)
                if (fd != keep)
                        close(fd);
}

static void member_fill_error(struct mrep *rep, struct sysmem_node *n, int r) {
        rep->r = r;
        if (n) {
                rep->error = sysmem_node_error(n);
                snprintf(rep->msg, sizeof rep->msg, "%s", sysmem_node_error_message(n));
        } else {
                snprintf(rep->msg, sizeof rep->msg, "%s", strerror(-r));
        }
}

/* The node has failed with cmd->arg, within the bound, and says why (naming cmd->name). */
static void member_expect_fail(struct sysmem_node *n, const struct mcmd *cmd, struct mrep *rep) {
        if (!n) {
                rep->r = -EINVAL;
                snprintf(rep->msg, sizeof rep->msg, "no node to check");
                return;
        }
        if (!h_poll_readable(sysmem_node_get_fd(n), H_TIMEOUT_MS / 2)) {
                rep->r = -ETIMEDOUT;
                snprintf(rep->msg, sizeof rep->msg, "the node did not fail within %d ms", H_TIMEOUT_MS / 2);
                return;
        }
        int r = sysmem_node_sync(n);
        rep->error = sysmem_node_error(n);
        if (r >= 0) {
                rep->r = -EPROTO;
                snprintf(rep->msg, sizeof rep->msg, "Sync still succeeds");
        } else if (rep->error != cmd->arg) {
                rep->r = -EPROTO;
                snprintf(rep->msg, sizeof rep->msg, "failed with %s (%s), expected %s", sysmem_error_name(rep->error),
                         sysmem_node_error_message(n), sysmem_error_name(cmd->arg));
        } else if (cmd->name[0] && !strstr(sysmem_node_error_message(n), cmd->name)) {
                rep->r = -EPROTO;
                snprintf(rep->msg, sizeof rep->msg, "the message \"%s\" does not name '%s'",
                         sysmem_node_error_message(n), cmd->name);
        } else {
                rep->r = 0;
        }
}

static _Noreturn void member_main(int sock) {
        signal(SIGPIPE, SIG_IGN);
        signal(SIGALRM, SIG_DFL);
        alarm(H_WATCHDOG_S);
        struct sysmem_token *tok = NULL;
        struct sysmem_collection *col = NULL;
        struct sysmem_collection_info *info = NULL;
        for (;;) {
                struct mcmd cmd;
                int fd = -1;
                ssize_t n = recv_with_fd(sock, &cmd, sizeof cmd, &fd);
                if (n == 0)
                        _exit(0);
                if (n != (ssize_t)sizeof cmd)
                        _exit(3);
                struct mrep rep;
                memset(&rep, 0, sizeof rep);
                int r = 0, out_fd = -1;
                switch ((enum mop)cmd.op) {
                case M_TAKE:
                        r = fd >= 0 ? sysmem_token_from_fd(fd, &tok) : -EBADF;
                        fd = -1;
                        if (r >= 0)
                                r = sysmem_node_set_debug_client_info(sysmem_token_node(tok), cmd.name, getpid());
                        break;
                case M_DISPENSABLE:
                        r = sysmem_token_set_dispensable(tok);
                        if (r >= 0)
                                r = sysmem_node_sync(sysmem_token_node(tok));
                        break;
                case M_WEAK:
                        r = sysmem_node_set_weak(sysmem_token_node(tok));
                        if (r >= 0)
                                r = sysmem_node_set_weak_ok(sysmem_token_node(tok), false);
                        if (r >= 0)
                                r = sysmem_node_sync(sysmem_token_node(tok));
                        break;
                case M_DUP: {
                        struct sysmem_token *t;
                        uint32_t mask = SYSMEM_RIGHTS_SAME;
                        r = sysmem_token_duplicate_sync(tok, 1, &mask, &t);
                        if (r >= 0)
                                out_fd = sysmem_token_to_fd(t);
                        break;
                }
                case M_BIND:
                        r = sysmem_token_bind(tok, &col);
                        tok = NULL;
                        break;
                case M_CONSTRAIN:
                        r = sysmem_collection_set_constraints(col, &cmd.c);
                        if (r >= 0)
                                r = sysmem_node_sync(sysmem_collection_node(col));
                        break;
                case M_WAIT:
                        r = sysmem_collection_wait_allocated(col, &info);
                        if (r >= 0) {
                                struct stat st;
                                rep.count = info->buffer_count;
                                rep.size = info->settings.buffer_settings.size_bytes;
                                rep.weak_fd = info->close_weak_asap_fd >= 0;
                                rep.has_fd0 = info->buffers[0].fd >= 0;
                                if (rep.has_fd0 && fstat(info->buffers[0].fd, &st) == 0)
                                        rep.ino0 = st.st_ino;
                        }
                        break;
                case M_ALIVE:
                        r = sysmem_node_sync(sysmem_collection_node(col));
                        if (r >= 0)
                                r = sysmem_collection_check_allocated(col);
                        if (r >= 0 && info && info->buffers[0].fd >= 0) {
                                uint64_t raw = info->settings.buffer_settings.raw_vmo_size;
                                volatile uint8_t *p = mmap(NULL, raw, PROT_READ, MAP_SHARED, info->buffers[0].fd, 0);
                                if (p == MAP_FAILED) {
                                        r = -errno;
                                } else {
                                        (void)p[raw - 1];
                                        munmap((void *)p, raw);
                                }
                        }
                        break;
                case M_EXPECT_FAIL:
                        member_expect_fail(tok ? sysmem_token_node(tok) : sysmem_collection_node(col), &cmd, &rep);
                        break;
                case M_RELEASE:
                        r = tok ? sysmem_token_release(tok) : sysmem_collection_release(col);
                        tok = NULL;
                        col = NULL;
                        break;
                case M_EXIT:
                        break;
                }
                if (cmd.op != M_EXPECT_FAIL) {
                        struct sysmem_node *node = tok ? sysmem_token_node(tok) : sysmem_collection_node(col);
                        if (r < 0)
                                member_fill_error(&rep, node, r);
                }
                if (fd >= 0)
                        close(fd);
                if (send(sock, &rep, sizeof rep, MSG_NOSIGNAL) != (ssize_t)sizeof rep)
                        _exit(5);
                if (out_fd >= 0) {
                        if (sysmem_send_fd(sock, out_fd, NULL, 0) < 0)
                                _exit(6);
                        close(out_fd);
                }
                if (cmd.op == M_EXIT)
                        _exit(0);
        }
}

/* ---- a worker: scenario after scenario on its own allocator connection ---- */

enum role { R_PLAIN, R_INCOMPAT, R_DISP, R_DISP_KID, R_GROUP_CHILD, R_ATTACH, R_WEAK };
static const char *const role_names[] = {"plain",       "incompatible", "dispensable", "dispensable-kid",
                                         "group-child", "attached",     "weak"};

struct member {
        pid_t pid;
        int sock;
        char name[64];
        enum role role;
        int partner;      /* R_DISP: its kid; R_DISP_KID: its parent; else -1 */
        int group, child; /* R_GROUP_CHILD */
        struct sysmem_constraints c;
        bool fits;         /* group child: fits the root; attached: fits the allocation (computed) */
        int early_release; /* -1: no; 0: releases its token; 1: releases its collection after SetConstraints */
        bool attach_early; /* an attached member that binds and sets constraints before the allocation */
        bool gone;         /* killed or exited */
        bool dead_node;    /* its node failed already (nothing more to expect from it) */
        bool allocated;    /* it received the buffers */
};

enum phase { KILL_NONE, KILL_PRE, KILL_POST };

struct scenario {
        struct member m[MAX_MEMBERS];
        int n;
        int group_size[MAX_GROUPS];
        int ngroups;
        int chosen[MAX_GROUPS]; /* -1: no child fits */
        struct sysmem_constraints rootc;
        int victim;
        enum phase phase;
        int point; /* KILL_PRE: 0 holding its token, 1 bound, 2 constraints set */
        char desc[1024];
};

struct totals {
        uint32_t scenarios, allocated, intersection_empty, pre_kills, post_kills, dispensable_survived;
        uint32_t attached_fit, attached_refused, unchosen, early_releases, end_kills, parked;
        char failure[2304];
        bool failed;
};

struct worker {
        int index;
        const char *socket;
        struct rng rng;
        struct sysmem_allocator *alloc;
        struct scenario *sc;
        uint32_t scenario_no;
        uint64_t scenario_seed;
        struct totals t;
        jmp_buf bail;
        struct sysmem_token *parked[MAX_PARKED][2];
        int nparked;
};

/* Records the first failure with the scenario that caused it and abandons the worker's run. */
static _Noreturn void wfail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static _Noreturn void wfail(struct worker *w, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(w->t.failure, sizeof w->t.failure, "worker %d, scenario %u (seed 0x%016" PRIx64 "): %s\n  tree: %s",
                 w->index, w->scenario_no, w->scenario_seed, msg, w->sc ? w->sc->desc : "?");
        w->t.failed = true;
        longjmp(w->bail, 1);
}

static void m_spawn(struct worker *w, struct member *m) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                wfail(w, "socketpair: %s", strerror(errno));
        pid_t worker = getpid();
        pid_t pid = fork();
        if (pid < 0)
                wfail(w, "fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != worker)
                        _exit(127);
                /* No copy of the worker's sockets (tokens, collections) may live on in a member. */
                close_fds_except(sv[1]);
                member_main(sv[1]);
        }
        close(sv[1]);
        m->pid = pid;
        m->sock = sv[0];
}

static void m_reap(struct member *m) {
        if (m->pid > 0) {
                (void)waitpid(m->pid, NULL, 0);
                m->pid = 0;
        }
        if (m->sock >= 0)
                close(m->sock);
        m->sock = -1;
        m->gone = true;
}

static void m_kill(struct member *m) {
        if (m->pid > 0)
                kill(m->pid, SIGKILL);
        m_reap(m);
}

static void m_call_fd(struct worker *w, struct member *m, struct mcmd *cmd, int fd, struct mrep *rep) {
        static const char *const ops[] = {"?",         "TAKE", "DISPENSABLE", "WEAK",        "DUP",     "BIND",
                                          "CONSTRAIN", "WAIT", "ALIVE",       "EXPECT_FAIL", "RELEASE", "EXIT"};
        int r = fd >= 0 ? sysmem_send_fd(m->sock, fd, cmd, sizeof *cmd)
                        : (send(m->sock, cmd, sizeof *cmd, MSG_NOSIGNAL) == (ssize_t)sizeof *cmd ? 0 : -errno);
        if (r < 0)
                wfail(w, "%s: cannot send %s: %s", m->name, ops[cmd->op], strerror(-r));
        if (!h_poll_readable(m->sock, H_TIMEOUT_MS))
                wfail(w, "%s: no reply to %s within %d ms (a sysmem call hangs)", m->name, ops[cmd->op], H_TIMEOUT_MS);
        if (recv(m->sock, rep, sizeof *rep, 0) != (ssize_t)sizeof *rep)
                wfail(w, "%s: died during %s", m->name, ops[cmd->op]);
}

static void m_call(struct worker *w, struct member *m, enum mop op, struct mrep *rep) {
        struct mcmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = op;
        m_call_fd(w, m, &cmd, -1, rep);
}

/* A step that must succeed. */
static void m_step(struct worker *w, struct member *m, enum mop op) {
        struct mrep rep;
        m_call(w, m, op, &rep);
        if (rep.r < 0)
                wfail(w, "%s: step %d failed: %s: %s", m->name, op, sysmem_error_name(rep.error), rep.msg);
}

static void m_constrain(struct worker *w, struct member *m, struct mrep *rep) {
        struct mcmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = M_CONSTRAIN;
        cmd.c = m->c;
        m_call_fd(w, m, &cmd, -1, rep);
}

static void m_expect_fail(struct worker *w, struct member *m, enum sysmem_error error, const char *naming) {
        struct mcmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = M_EXPECT_FAIL;
        cmd.arg = error;
        snprintf(cmd.name, sizeof cmd.name, "%s", naming ? naming : "");
        struct mrep rep;
        m_call_fd(w, m, &cmd, -1, &rep);
        if (rep.r < 0)
                wfail(w, "%s (%s): expected to fail with %s: %s", m->name, role_names[m->role],
                      sysmem_error_name(error), rep.msg);
        m->dead_node = true;
}

static void m_give_token(struct worker *w, struct member *m, struct sysmem_token *t) {
        int fd = sysmem_token_to_fd(t);
        struct mcmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = M_TAKE;
        snprintf(cmd.name, sizeof cmd.name, "%s", m->name);
        struct mrep rep;
        m_call_fd(w, m, &cmd, fd, &rep);
        close(fd);
        if (rep.r < 0)
                wfail(w, "%s: taking its token: %s", m->name, rep.msg);
}

/* WaitForAllBuffersAllocated with a bound, driven by poll (no cmocka in a worker). */
static int wait_bounded(struct worker *w, struct sysmem_collection *c, struct sysmem_collection_info **ret_info);

struct wstate {
        bool done;
        int result;
        struct sysmem_collection_info *info;
};

static void on_done(struct sysmem_collection *c, int result, struct sysmem_collection_info *info, void *userdata) {
        struct wstate *s = userdata;
        s->done = true;
        s->result = result;
        s->info = info;
}

static int wait_bounded(struct worker *w, struct sysmem_collection *c, struct sysmem_collection_info **ret_info) {
        struct wstate s = {0};
        int r = sysmem_collection_wait_allocated_async(c, on_done, &s);
        if (r < 0)
                return r;
        struct sysmem_node *n = sysmem_collection_node(c);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        while (!s.done) {
                int left = (int)(deadline - h_now_ms());
                if (left <= 0 || !h_poll_readable(sysmem_node_get_fd(n), left))
                        wfail(w, "root: WaitForAllBuffersAllocated got no answer within %d ms", H_TIMEOUT_MS);
                (void)sysmem_node_dispatch(n);
        }
        if (s.result >= 0)
                *ret_info = s.info;
        return s.result;
}

static struct sysmem_token *dup_token(struct worker *w, struct sysmem_token *t) {
        struct sysmem_token *out;
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        int r = sysmem_token_duplicate_sync(t, 1, &mask, &out);
        if (r < 0)
                wfail(w, "DuplicateSync: %s", strerror(-r));
        return out;
}

/* Random compatible constraints for a member: the root allows min_size..2*min_size. */
static struct sysmem_constraints member_constraints(struct rng *r, uint64_t root_size, bool fits) {
        struct sysmem_constraints c = {0};
        c.usage.cpu = chance(r, 50) ? CPU_RW : CPU_R;
        c.min_buffer_count_for_camping = rnd(r, 3);
        c.buffer_memory_constraints.min_size_bytes =
                fits ? 1 + rnd(r, (uint32_t)(2 * root_size)) : 2 * root_size + 4096;
        return c;
}

static void add_desc(struct scenario *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_desc(struct scenario *s, const char *fmt, ...) {
        size_t used = strlen(s->desc);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->desc + used, sizeof s->desc - used, fmt, ap);
        va_end(ap);
}

/* Draws a tree: the root's direct children, their kinds, constraints, early releases and one possible kill. */
static void plan(struct worker *w, struct scenario *s, struct rng *r) {
        memset(s, 0, sizeof *s);
        uint64_t size = 4096u * (1 + rnd(r, 4));
        s->rootc = (struct sysmem_constraints){.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1 + rnd(r, 2)};
        s->rootc.min_buffer_count = rnd(r, 8);
        s->rootc.buffer_memory_constraints.min_size_bytes = size;
        s->rootc.buffer_memory_constraints.max_size_bytes = 2 * size;
        snprintf(s->desc, sizeof s->desc, "root{camping %u, min count %u, size %" PRIu64 "..%" PRIu64 "}",
                 s->rootc.min_buffer_count_for_camping, s->rootc.min_buffer_count, size, 2 * size);
        int direct = 1 + (int)rnd(r, 4);
        for (int d = 0; d < direct; d++) {
                uint32_t k = rnd(r, 100);
                enum role role = R_WEAK;
                if (k < 5)
                        role = R_INCOMPAT;
                else if (k < 33)
                        role = R_PLAIN;
                else if (k < 53)
                        role = R_DISP;
                else if (k < 73)
                        role = R_GROUP_CHILD;
                else if (k < 87)
                        role = R_ATTACH;
                if (role == R_GROUP_CHILD && s->ngroups < MAX_GROUPS) {
                        int g = s->ngroups++;
                        s->group_size[g] = 1 + (int)rnd(r, 3);
                        s->chosen[g] = -1;
                        for (int i = 0; i < s->group_size[g]; i++) {
                                struct member *m = &s->m[s->n++];
                                m->role = R_GROUP_CHILD;
                                m->group = g;
                                m->child = i;
                                m->fits = chance(r, 60);
                                m->c = member_constraints(r, size, m->fits);
                                if (m->fits && s->chosen[g] < 0)
                                        s->chosen[g] = i;
                        }
                        continue;
                }
                if (role == R_GROUP_CHILD)
                        role = R_PLAIN;
                struct member *m = &s->m[s->n++];
                m->role = role;
                m->partner = -1;
                m->early_release = -1;
                m->c = member_constraints(r, size, role != R_INCOMPAT);
                if (role == R_PLAIN || role == R_WEAK || role == R_DISP)
                        m->early_release = chance(r, 15) ? (int)rnd(r, 2) : -1;
                if (role == R_ATTACH) {
                        m->attach_early = chance(r, 50);
                        /* Sometimes more than the existing size: such a joiner cannot fit. */
                        if (chance(r, 20))
                                m->c.buffer_memory_constraints.min_size_bytes = 2 * size + 1;
                }
                if (role == R_DISP) {
                        int kid = s->n++;
                        m->partner = kid;
                        s->m[kid] =
                                (struct member){.role = R_DISP_KID, .partner = (int)(m - s->m), .early_release = -1};
                        s->m[kid].c = member_constraints(r, size, true);
                }
        }
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (m->role != R_DISP && m->role != R_DISP_KID && m->role != R_ATTACH)
                        m->partner = -1;
                if (m->role == R_GROUP_CHILD || m->role == R_INCOMPAT)
                        m->early_release = -1;
                snprintf(m->name, sizeof m->name, "w%d-s%u-%d-%s", w->index, w->scenario_no, i, role_names[m->role]);
                m->sock = -1;
                add_desc(s, " %d:%s{%s camping %u size %" PRIu64 "%s%s%s}", i, role_names[m->role],
                         m->c.usage.cpu == CPU_RW ? "rw" : "r", m->c.min_buffer_count_for_camping,
                         m->c.buffer_memory_constraints.min_size_bytes,
                         m->role == R_GROUP_CHILD ? (m->fits ? " fits" : " too big") : "",
                         m->early_release == 0   ? " releases-token"
                         : m->early_release == 1 ? " releases-after-set"
                                                 : "",
                         m->role == R_ATTACH ? (m->attach_early ? " early" : " late") : "");
                if (m->role == R_GROUP_CHILD)
                        add_desc(s, "@g%d", m->group);
        }
        /* At most one death among the members that stay, before or after the allocation. */
        s->victim = -1;
        s->phase = KILL_NONE;
        if (chance(r, 40)) {
                int v = (int)rnd(r, (uint32_t)s->n);
                if (s->m[v].early_release < 0) {
                        s->victim = v;
                        s->phase = chance(r, 50) ? KILL_PRE : KILL_POST;
                        s->point = (int)rnd(r, 3);
                        static const char *const points[] = {"holding its token", "bound", "constrained"};
                        if (s->phase == KILL_PRE)
                                add_desc(s, " | kill %d before allocation, %s", v, points[s->point]);
                        else
                                add_desc(s, " | kill %d after allocation", v);
                }
        }
}

/* Runs the members of the first allocation up to their steps (or the victim's kill point). */
static void setup_member(struct worker *w, struct scenario *s, int i) {
        struct member *m = &s->m[i];
        bool victim_pre = s->phase == KILL_PRE && s->victim == i;
        if (victim_pre && s->point == 0)
                return;
        if (m->early_release == 0) {
                m_step(w, m, M_RELEASE);
                m_step(w, m, M_EXIT);
                m_reap(m);
                w->t.early_releases++;
                return;
        }
        m_step(w, m, M_BIND);
        if (victim_pre && s->point == 1)
                return;
        struct mrep rep;
        m_constrain(w, m, &rep);
        if (rep.r < 0)
                wfail(w, "%s: SetConstraints before allocation: %s: %s", m->name, sysmem_error_name(rep.error),
                      rep.msg);
        if (m->early_release == 1) {
                m_step(w, m, M_RELEASE);
                m_step(w, m, M_EXIT);
                m_reap(m);
                w->t.early_releases++;
        }
}

static bool expect_weak_fd(const struct member *m) { return m->role == R_WEAK; }

static void check_wait(struct worker *w, struct member *m, const struct mrep *rep, uint32_t count, uint64_t size,
                       uint64_t ino0) {
        if (rep->r < 0)
                wfail(w, "%s (%s): wait failed: %s: %s; expected %u buffers", m->name, role_names[m->role],
                      sysmem_error_name(rep->error), rep->msg, count);
        if (rep->count != count || rep->size != size)
                wfail(w, "%s: %u buffers of %" PRIu64 " bytes, expected %u of %" PRIu64, m->name, rep->count, rep->size,
                      count, size);
        if (!rep->has_fd0 || rep->ino0 != ino0)
                wfail(w, "%s: buffer 0 is %s, not the root's", m->name, rep->has_fd0 ? "another inode" : "missing");
        if (rep->weak_fd != expect_weak_fd(m))
                wfail(w, "%s: close_weak_asap %s", m->name, rep->weak_fd ? "given to a strong node" : "missing");
        m->allocated = true;
}

static void check_wait_error(struct worker *w, struct member *m, const struct mrep *rep, enum sysmem_error error) {
        if (rep->r >= 0)
                wfail(w, "%s (%s): wait succeeded; expected %s", m->name, role_names[m->role],
                      sysmem_error_name(error));
        if (rep->error != error)
                wfail(w, "%s (%s): wait failed with %s (%s); expected %s", m->name, role_names[m->role],
                      sysmem_error_name(rep->error), rep->msg, sysmem_error_name(error));
        m->dead_node = true;
}

/* Every member whose node should have failed with error (except the victim) sees exactly that. */
static void expect_all_failed(struct worker *w, struct scenario *s, enum sysmem_error error, const char *naming) {
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (!m->gone && !m->dead_node)
                        m_expect_fail(w, m, error, naming);
        }
}

static void run_scenario(struct worker *w) {
        struct rng r = {.s = w->scenario_seed};
        struct scenario *s = w->sc;
        plan(w, s, &r);
        struct sysmem_token *root;
        int rr = sysmem_allocator_allocate_shared(w->alloc, &root);
        if (rr < 0)
                wfail(w, "AllocateSharedCollection: %s", strerror(-rr));
        char rname[64];
        snprintf(rname, sizeof rname, "w%d-s%u-root", w->index, w->scenario_no);
        (void)sysmem_node_set_debug_client_info(sysmem_token_node(root), rname, 0);

        /* Tokens: direct children, groups (built and released here), then the root binds and attaches. */
        struct sysmem_token *tok[MAX_MEMBERS] = {0};
        for (int g = 0; g < s->ngroups; g++) {
                struct sysmem_token *owner = dup_token(w, root), *kids[4];
                struct sysmem_group *grp;
                uint32_t masks[4] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
                if (sysmem_token_create_group(owner, &grp) < 0 ||
                    sysmem_group_create_children_sync(grp, (uint32_t)s->group_size[g], masks, kids) < 0 ||
                    sysmem_group_all_children_present(grp) < 0)
                        wfail(w, "building group %d: %s", g, sysmem_node_error_message(sysmem_group_node(grp)));
                (void)sysmem_group_release(grp);
                (void)sysmem_token_release(owner);
                for (int i = 0; i < s->n; i++)
                        if (s->m[i].role == R_GROUP_CHILD && s->m[i].group == g)
                                tok[i] = kids[s->m[i].child];
        }
        for (int i = 0; i < s->n; i++)
                if (s->m[i].role == R_PLAIN || s->m[i].role == R_INCOMPAT || s->m[i].role == R_DISP ||
                    s->m[i].role == R_WEAK)
                        tok[i] = dup_token(w, root);
        struct sysmem_collection *rc;
        if (sysmem_token_bind(root, &rc) < 0)
                wfail(w, "root: Bind failed");
        for (int i = 0; i < s->n; i++)
                if (s->m[i].role == R_ATTACH && sysmem_collection_attach_token(rc, SYSMEM_RIGHTS_SAME, &tok[i]) < 0)
                        wfail(w, "root: AttachToken: %s", sysmem_node_error_message(sysmem_collection_node(rc)));

        /* Members take their tokens; a dispensable one makes its kid's token, a weak one turns weak. */
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (m->role == R_DISP_KID)
                        continue;
                m_spawn(w, m);
                m_give_token(w, m, tok[i]);
                if (m->role == R_WEAK)
                        m_step(w, m, M_WEAK);
                if (m->role == R_DISP) {
                        m_step(w, m, M_DISPENSABLE);
                        struct mrep rep;
                        m_call(w, m, M_DUP, &rep);
                        if (rep.r < 0)
                                wfail(w, "%s: Duplicate: %s", m->name, rep.msg);
                        if (!h_poll_readable(m->sock, H_TIMEOUT_MS))
                                wfail(w, "%s: no token came back", m->name);
                        int fd = -1;
                        char byte;
                        if (recv_with_fd(m->sock, &byte, 1, &fd) < 0 || fd < 0)
                                wfail(w, "%s: no token came back", m->name);
                        struct member *kid = &s->m[m->partner];
                        m_spawn(w, kid);
                        struct sysmem_token *kt;
                        if (sysmem_token_from_fd(fd, &kt) < 0)
                                wfail(w, "token from fd");
                        m_give_token(w, kid, kt);
                }
        }

        /* Everyone but the root gets ready (the victim stops at its step), then the victim may die. */
        for (int i = 0; i < s->n; i++)
                if (s->m[i].role != R_ATTACH || s->m[i].attach_early)
                        setup_member(w, s, i);
        struct member *victim = s->victim >= 0 ? &s->m[s->victim] : NULL;
        if (s->phase == KILL_PRE) {
                m_kill(victim);
                w->t.pre_kills++;
                if (victim->role != R_ATTACH) {
                        /* Before allocation every death fails the whole collection, dispensable or not. */
                        struct sysmem_node *rn = sysmem_collection_node(rc);
                        if (!h_poll_readable(sysmem_node_get_fd(rn), H_TIMEOUT_MS) || sysmem_node_sync(rn) >= 0)
                                wfail(w, "root: did not fail after %s died before allocation", victim->name);
                        if (sysmem_node_error(rn) != SYSMEM_ERROR_UNSPECIFIED ||
                            !strstr(sysmem_node_error_message(rn), victim->name))
                                wfail(w, "root: failed with %s (%s); expected UNSPECIFIED naming %s",
                                      sysmem_error_name(sysmem_node_error(rn)), sysmem_node_error_message(rn),
                                      victim->name);
                        expect_all_failed(w, s, SYSMEM_ERROR_UNSPECIFIED, victim->name);
                        goto cleanup;
                }
        }

        /* The first allocation. */
        uint32_t camping = s->rootc.min_buffer_count_for_camping;
        uint64_t size = s->rootc.buffer_memory_constraints.min_size_bytes;
        bool whole_fails = false;
        for (int g = 0; g < s->ngroups; g++)
                whole_fails |= s->chosen[g] < 0;
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                bool counted = m->role == R_PLAIN || m->role == R_DISP || m->role == R_DISP_KID || m->role == R_WEAK ||
                               (m->role == R_GROUP_CHILD && s->chosen[m->group] == m->child);
                whole_fails |= m->role == R_INCOMPAT;
                if (!counted || m->early_release == 0)
                        continue;
                camping += m->c.min_buffer_count_for_camping;
                if (m->c.buffer_memory_constraints.min_size_bytes > size)
                        size = m->c.buffer_memory_constraints.min_size_bytes;
        }
        uint32_t count = camping > s->rootc.min_buffer_count ? camping : s->rootc.min_buffer_count;
        if (sysmem_collection_set_constraints(rc, &s->rootc) < 0)
                wfail(w, "root: SetConstraints: %s", sysmem_node_error_message(sysmem_collection_node(rc)));
        struct sysmem_collection_info *info = NULL;
        int wr = wait_bounded(w, rc, &info);
        if (whole_fails) {
                enum sysmem_error e = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
                if (wr >= 0 || sysmem_node_error(sysmem_collection_node(rc)) != e)
                        wfail(w, "root: %s; expected CONSTRAINTS_INTERSECTION_EMPTY",
                              wr >= 0 ? "allocated" : sysmem_node_error_message(sysmem_collection_node(rc)));
                w->t.intersection_empty++;
                for (int i = 0; i < s->n; i++) {
                        struct member *m = &s->m[i];
                        if (m->gone)
                                continue;
                        bool bound = m->role != R_ATTACH || m->attach_early;
                        if (bound) {
                                struct mrep rep;
                                m_call(w, m, M_WAIT, &rep);
                                check_wait_error(w, m, &rep, e);
                        } else {
                                m_expect_fail(w, m, e, NULL);
                        }
                }
                goto cleanup;
        }
        if (wr < 0)
                wfail(w, "root: allocation failed: %s; expected %u buffers",
                      sysmem_node_error_message(sysmem_collection_node(rc)), count);
        w->t.allocated++;
        struct stat st;
        uint64_t ino0 = info->buffers[0].fd >= 0 && fstat(info->buffers[0].fd, &st) == 0 ? st.st_ino : 0;
        if (info->buffer_count != count || info->settings.buffer_settings.size_bytes != size) {
                uint32_t got = info->buffer_count;
                uint64_t got_size = info->settings.buffer_settings.size_bytes;
                sysmem_collection_info_free(info);
                wfail(w, "root: %u buffers of %" PRIu64 " bytes, expected %u of %" PRIu64, got, got_size, count, size);
        }
        sysmem_collection_info_free(info);

        /* Waits of the first allocation's members: the chosen get the buffers, unchosen group children fail. */
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (m->gone || m->role == R_ATTACH)
                        continue;
                struct mrep rep;
                m_call(w, m, M_WAIT, &rep);
                if (m->role == R_GROUP_CHILD && s->chosen[m->group] != m->child) {
                        check_wait_error(w, m, &rep, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
                        w->t.unchosen++;
                } else {
                        check_wait(w, m, &rep, count, size, ino0);
                }
        }
        /* Attached members join in order: the early ones right after the allocation, then the late ones. */
        uint32_t used = camping;
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < s->n; i++) {
                        struct member *m = &s->m[i];
                        if (m->role != R_ATTACH || m->gone || m->attach_early != (pass == 0))
                                continue;
                        struct mrep rep;
                        if (!m->attach_early) {
                                m_step(w, m, M_BIND);
                                m_constrain(w, m, &rep); /* fails at once when it does not fit */
                        }
                        m->fits = used + m->c.min_buffer_count_for_camping <= count &&
                                  m->c.buffer_memory_constraints.min_size_bytes <= size;
                        m_call(w, m, M_WAIT, &rep);
                        if (m->fits) {
                                used += m->c.min_buffer_count_for_camping;
                                check_wait(w, m, &rep, count, size, ino0);
                                w->t.attached_fit++;
                        } else {
                                check_wait_error(w, m, &rep, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
                                w->t.attached_refused++;
                        }
                }

        /* A death after the allocation: a dispensable subtree or an attached one fails alone; else all. */
        if (s->phase == KILL_POST && !victim->gone) {
                bool already_dead = victim->dead_node;
                m_kill(victim);
                w->t.post_kills++;
                bool alone = already_dead || victim->role == R_ATTACH || victim->role == R_DISP ||
                             victim->role == R_DISP_KID;
                if (!alone) {
                        struct sysmem_node *rn = sysmem_collection_node(rc);
                        if (!h_poll_readable(sysmem_node_get_fd(rn), H_TIMEOUT_MS) || sysmem_node_sync(rn) >= 0 ||
                            sysmem_node_error(rn) != SYSMEM_ERROR_UNSPECIFIED)
                                wfail(w, "root: did not fail with UNSPECIFIED after %s died (%s)", victim->name,
                                      sysmem_node_error_message(rn));
                        expect_all_failed(w, s, SYSMEM_ERROR_UNSPECIFIED, victim->name);
                        goto cleanup;
                }
                if (!already_dead && (victim->role == R_DISP || victim->role == R_DISP_KID)) {
                        struct member *p = &s->m[victim->partner];
                        if (!p->gone)
                                m_expect_fail(w, p, SYSMEM_ERROR_UNSPECIFIED, victim->name);
                        else
                                usleep(20000); /* nothing to wait on: give the daemon time to misbehave */
                        w->t.dispensable_survived++;
                } else {
                        usleep(20000);
                }
        }
        /* Everyone else still has working buffers. */
        if (sysmem_node_sync(sysmem_collection_node(rc)) < 0 || sysmem_collection_check_allocated(rc) < 0)
                wfail(w, "root: no longer allocated: %s", sysmem_node_error_message(sysmem_collection_node(rc)));
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (m->gone || m->dead_node || !m->allocated)
                        continue;
                struct mrep rep;
                m_call(w, m, M_ALIVE, &rep);
                if (rep.r < 0)
                        wfail(w, "%s (%s): should still work: %s: %s", m->name, role_names[m->role],
                              sysmem_error_name(rep.error), rep.msg);
        }

cleanup:
        /* Clean releases, or deaths at the end (harmless now); then the root goes too. */
        for (int i = 0; i < s->n; i++) {
                struct member *m = &s->m[i];
                if (m->gone)
                        continue;
                if (!m->dead_node && chance(&r, 15)) {
                        m_kill(m);
                        w->t.end_kills++;
                        continue;
                }
                struct mrep rep;
                if (!m->dead_node)
                        m_call(w, m, M_RELEASE, &rep);
                m_call(w, m, M_EXIT, &rep);
                m_reap(m);
        }
        if (chance(&r, 80))
                (void)sysmem_collection_release(rc);
        else
                sysmem_collection_close(rc);
}

/* Collections that sit unallocated beside the scenarios, so that many are live at once. */
static void churn_parked(struct worker *w) {
        if (w->nparked < MAX_PARKED && chance(&w->rng, 30)) {
                struct sysmem_token **p = w->parked[w->nparked];
                if (sysmem_allocator_allocate_shared(w->alloc, &p[0]) < 0)
                        wfail(w, "AllocateSharedCollection for a parked collection failed");
                p[1] = dup_token(w, p[0]);
                w->nparked++;
                w->t.parked++;
        }
        if (w->nparked > 0 && chance(&w->rng, 25)) {
                struct sysmem_token **p = w->parked[--w->nparked];
                /* Either a clean release of both, or a death (close without Release) of the root. */
                if (chance(&w->rng, 50)) {
                        (void)sysmem_token_release(p[1]);
                        (void)sysmem_token_release(p[0]);
                } else {
                        sysmem_token_close(p[0]);
                        sysmem_token_close(p[1]);
                }
        }
}

static void kill_members(struct scenario *s) {
        for (int i = 0; i < s->n; i++)
                if (!s->m[i].gone && s->m[i].pid > 0)
                        m_kill(&s->m[i]);
}

static _Noreturn void worker_main(int index, const char *socket, uint64_t seed, int run_ms, int result_fd) {
        signal(SIGALRM, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        alarm(H_WATCHDOG_S);
        static struct worker w;
        static struct scenario sc;
        memset(&w, 0, sizeof w);
        w.index = index;
        w.socket = socket;
        w.rng.s = seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(index + 1));
        w.sc = &sc;
        if (setjmp(w.bail) == 0) {
                if (sysmem_allocator_connect(socket, &w.alloc) < 0)
                        wfail(&w, "cannot connect to %s", socket);
                char name[32];
                snprintf(name, sizeof name, "soak-worker-%d", index);
                (void)sysmem_allocator_set_debug_client_info(w.alloc, name, (uint64_t)getpid());
                int64_t end = h_now_ms() + run_ms;
                while (h_now_ms() < end) {
                        w.scenario_seed = rng_next(&w.rng);
                        run_scenario(&w);
                        w.t.scenarios++;
                        w.scenario_no++;
                        churn_parked(&w);
                }
        } else {
                kill_members(&sc);
        }
        while (w.nparked > 0) {
                struct sysmem_token **p = w.parked[--w.nparked];
                sysmem_token_close(p[0]);
                sysmem_token_close(p[1]);
        }
        sysmem_allocator_free(w.alloc);
        ssize_t n = write(result_fd, &w.t, sizeof w.t);
        _exit(n == (ssize_t)sizeof w.t ? 0 : 7);
}

/* Runs WORKERS workers for run_ms against the daemon and adds up what they did; fails the test on any failure. */
static void run_workers(struct h_daemon *d, uint64_t seed, uint64_t user_seed, const char *phase, int run_ms,
                        struct totals *sum) {
        pid_t pids[WORKERS];
        int pipes[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                pid_t parent = getpid();
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != parent)
                                _exit(127);
                        close_fds_except(p[1]);
                        worker_main(i, d->socket, seed, run_ms, p[1]);
                }
                close(p[1]);
                pids[i] = pid;
                pipes[i] = p[0];
        }
        char failures[WORKERS * 2400] = "";
        for (int i = 0; i < WORKERS; i++) {
                struct totals t;
                memset(&t, 0, sizeof t);
                bool got =
                        h_poll_readable(pipes[i], run_ms + 30000) && read(pipes[i], &t, sizeof t) == (ssize_t)sizeof t;
                close(pipes[i]);
                if (!got) {
                        kill(pids[i], SIGKILL);
                        size_t used = strlen(failures);
                        snprintf(failures + used, sizeof failures - used,
                                 "worker %d gave no result (hung or crashed)\n", i);
                } else if (t.failed) {
                        size_t used = strlen(failures);
                        snprintf(failures + used, sizeof failures - used, "%s\n", t.failure);
                }
                (void)waitpid(pids[i], NULL, 0);
                sum->scenarios += t.scenarios;
                sum->allocated += t.allocated;
                sum->intersection_empty += t.intersection_empty;
                sum->pre_kills += t.pre_kills;
                sum->post_kills += t.post_kills;
                sum->dispensable_survived += t.dispensable_survived;
                sum->attached_fit += t.attached_fit;
                sum->attached_refused += t.attached_refused;
                sum->unchosen += t.unchosen;
                sum->early_releases += t.early_releases;
                sum->end_kills += t.end_kills;
                sum->parked += t.parked;
        }
        if (failures[0])
                fprintf(stderr, "%s", failures); /* whole: cmocka cuts long messages */
        if (failures[0])
                fail_msg("soak failures in the %s (reproduce with SYSMEM_SOAK_SEED=%" PRIu64 "):\n%s", phase, user_seed,
                         failures);
}

static long vm_rss_kib(pid_t pid) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        long kib = -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* A complete negotiation on a new collection: the daemon still serves. */
static void negotiate_fresh(struct h_daemon *d) {
        struct sysmem_allocator *a = h_connect(d, "after-soak");
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_token_bind(dup, &c2), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c1, &k), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &k), 0);
        struct sysmem_collection_info *i1 = NULL, *i2 = NULL;
        assert_int_equal(h_wait_allocated(c1, H_TIMEOUT_MS, &i1), 0);
        assert_int_equal(h_wait_allocated(c2, H_TIMEOUT_MS, &i2), 0);
        assert_int_equal(i1->buffer_count, 2);
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(c1), 0);
        assert_int_equal(sysmem_collection_release(c2), 0);
        sysmem_allocator_free(a);
}

/*
 * Under AddressSanitizer freed memory sits in a quarantine (256 MiB by default) and keeps the RSS
 * up; the daemon this test starts runs without it, so that its RSS says what the daemon holds.
 * LeakSanitizer still checks the daemon when it exits.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_UNDER_ASAN 1
#endif
#endif

static int soak_setup(void **state) {
#ifdef SOAK_UNDER_ASAN
        const char *old = getenv("ASAN_OPTIONS");
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0", old && *old ? old : "", old && *old ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
#endif
        return h_setup(state);
}

static void test_soak(void **state) {
        struct h_daemon *d = DAEMON(state);
        uint64_t seed = DEFAULT_SEED;
        const char *e = getenv("SYSMEM_SOAK_SEED");
        if (e && *e)
                seed = strtoull(e, NULL, 0);
        printf("soak: seed %" PRIu64 " (set SYSMEM_SOAK_SEED to reproduce another run), %d workers, %d ms\n", seed,
               WORKERS, RUN_MS);
        fflush(stdout);
        int64_t start = h_now_ms();

        struct totals warm = {0}, t = {0};
        run_workers(d, seed ^ 0xabcdefULL, seed, "warm-up", WARMUP_MS, &warm);
        h_daemon_expect_fds(d, d->baseline_fds);
        usleep(100000);
        long rss0 = vm_rss_kib(d->pid);
        assert_true(rss0 > 0);

        run_workers(d, seed, seed, "soak", RUN_MS, &t);
        if (!h_daemon_alive(d))
                fail_msg("sysmemd died during the soak");
        h_daemon_expect_fds(d, d->baseline_fds);
        expect_no_live_collections(d);
        usleep(100000);
        long rss1 = vm_rss_kib(d->pid);
        printf("soak: %u scenarios (%u warm-up): %u allocated, %u CONSTRAINTS_INTERSECTION_EMPTY, %u unchosen group "
               "children, %u/%u attached joined/refused, %u kills before and %u after allocation (%u dispensable "
               "subtrees failed alone), %u early releases, %u deaths at the end, %u parked collections; daemon VmRSS "
               "%ld KiB after warm-up, %ld KiB after; %lld ms\n",
               t.scenarios, warm.scenarios, t.allocated, t.intersection_empty, t.unchosen, t.attached_fit,
               t.attached_refused, t.pre_kills, t.post_kills, t.dispensable_survived, t.early_releases, t.end_kills,
               t.parked, rss0, rss1, (long long)(h_now_ms() - start));
        fflush(stdout);
        /* Enough happened to mean something, whatever the machine's speed. */
        assert_true(t.scenarios >= 20);
        assert_true(t.post_kills > 0 && t.pre_kills > 0 && t.allocated > 0);
        if (rss1 > rss0 + RSS_MARGIN_KIB)
                fail_msg("sysmemd's VmRSS grew from %ld KiB after warm-up to %ld KiB after the soak (margin %d KiB)",
                         rss0, rss1, RSS_MARGIN_KIB);
        negotiate_fresh(d);
        h_daemon_expect_fds(d, d->baseline_fds);
}

int main(int argc, char **argv) {
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_soak, soak_setup, h_teardown),
        };
        return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}
