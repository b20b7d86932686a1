/* test-tree.c: the node tree against sysmemd: AttachToken, groups, dispensable and weak nodes, lifetime, logs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)
#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)
#define CPU_R SYSMEM_CPU_USAGE_READ

static struct sysmem_node *tnode(struct sysmem_token *t) { return sysmem_token_node(t); }
static struct sysmem_node *cnode(struct sysmem_collection *c) { return sysmem_collection_node(c); }
static struct sysmem_node *gnode(struct sysmem_group *g) { return sysmem_group_node(g); }

/* ---- helpers: nodes of this process ---- */

static struct sysmem_token *dup_token(struct sysmem_token *t, uint32_t mask, const char *name) {
        struct sysmem_token *out = NULL;
        int r = sysmem_token_duplicate_sync(t, 1, &mask, &out);
        if (r < 0)
                fail_msg("DuplicateSync: %s (%s)", strerror(-r), sysmem_node_error_message(tnode(t)));
        if (name)
                assert_int_equal(sysmem_node_set_debug_client_info(tnode(out), name, 0), 0);
        return out;
}

static struct sysmem_collection *bind_token(struct sysmem_token *t) {
        struct sysmem_collection *c = NULL;
        assert_int_equal(sysmem_token_bind(t, &c), 0);
        return c;
}

/* SetConstraints, then a Sync so that the daemon has them before anything else happens. */
static void constrain(struct sysmem_collection *c, const struct sysmem_constraints *k) {
        assert_int_equal(sysmem_collection_set_constraints(c, k), 0);
        int r = sysmem_node_sync(cnode(c));
        if (r < 0)
                fail_msg("Sync after SetConstraints: %s (%s: %s)", strerror(-r),
                         sysmem_error_name(sysmem_node_error(cnode(c))), sysmem_node_error_message(cnode(c)));
}

static struct sysmem_collection_info *wait_ok(struct sysmem_collection *c, const char *who) {
        struct sysmem_collection_info *info = NULL;
        if (h_wait_allocated(c, H_TIMEOUT_MS, &info) < 0)
                fail_msg("%s: wait failed: %s: %s", who, sysmem_error_name(sysmem_node_error(cnode(c))),
                         sysmem_node_error_message(cnode(c)));
        return info;
}

static void wait_fails(struct sysmem_collection *c, enum sysmem_error error, const char *who) {
        struct sysmem_collection_info *info = NULL;
        if (h_wait_allocated(c, H_TIMEOUT_MS, &info) >= 0) {
                sysmem_collection_info_free(info);
                fail_msg("%s: wait succeeded; expected %s", who, sysmem_error_name(error));
        }
        if (sysmem_node_error(cnode(c)) != error)
                fail_msg("%s: wait failed with %s (%s); expected %s", who,
                         sysmem_error_name(sysmem_node_error(cnode(c))), sysmem_node_error_message(cnode(c)),
                         sysmem_error_name(error));
}

/* The node has failed (its epitaph arrives within the bound) with error; its message names `mention`. */
static void node_expect_failed(struct sysmem_node *n, enum sysmem_error error, const char *mention, const char *who) {
        if (!h_poll_readable(sysmem_node_get_fd(n), H_TIMEOUT_MS))
                fail_msg("%s: still alive; expected it to fail with %s", who, sysmem_error_name(error));
        int r = sysmem_node_sync(n);
        if (r >= 0)
                fail_msg("%s: Sync succeeded; expected the node to have failed with %s", who, sysmem_error_name(error));
        if (sysmem_node_error(n) != error)
                fail_msg("%s: failed with %s (%s); expected %s", who, sysmem_error_name(sysmem_node_error(n)),
                         sysmem_node_error_message(n), sysmem_error_name(error));
        if (mention && !strstr(sysmem_node_error_message(n), mention))
                fail_msg("%s: the message \"%s\" does not mention '%s'", who, sysmem_node_error_message(n), mention);
}

/* Still allocated and usable: Sync and Check succeed and the buffers map read-write. */
static void coll_expect_alive(struct sysmem_collection *c, const struct sysmem_collection_info *info, uint32_t seed,
                              const char *who) {
        int r = sysmem_node_sync(cnode(c));
        if (r < 0)
                fail_msg("%s: Sync failed: %s: %s", who, sysmem_error_name(sysmem_node_error(cnode(c))),
                         sysmem_node_error_message(cnode(c)));
        assert_int_equal(sysmem_collection_check_allocated(c), 0);
        uint64_t raw = info->settings.buffer_settings.raw_vmo_size;
        for (uint32_t b = 0; b < info->buffer_count; b++)
                if (h_write_pattern(info->buffers[b].fd, raw, seed, b) < 0)
                        fail_msg("%s: cannot write buffer %u: %s", who, b, strerror(errno));
}

static uint64_t fd_ino(int fd) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        return st.st_ino;
}

/* ---- helpers: agents ---- */

static void give(struct h_agent *a, struct sysmem_token *t) {
        int fd = sysmem_token_to_fd(t);
        assert_true(fd >= 0);
        h_agent_take_token(a, fd, NULL);
        close(fd);
}

/* The agent binds the token it holds in place and sets constraints (NULL: none); the daemon has them then. */
static void agent_bind_set(struct h_agent *a, const struct sysmem_constraints *k) {
        struct h_rep rep;
        h_agent_cmd(a, H_BIND, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: Bind: %s", a->name, strerror(-rep.r));
        h_agent_set_constraints(a, k);
        h_agent_cmd(a, H_SYNC, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: Sync after SetConstraints: %s (%s)", a->name, sysmem_error_name(rep.error), rep.message);
}

static void agent_join(struct h_agent *a, struct sysmem_token *t, const struct sysmem_constraints *k) {
        give(a, t);
        agent_bind_set(a, k);
}

static void rep_expect_error(const struct h_rep *rep, enum sysmem_error error, const char *mention, const char *who);

/* A late joiner that cannot fit: it fails as soon as its constraints arrive, so only its wait is checked. */
static void agent_join_fails(struct h_agent *a, struct sysmem_token *t, const struct sysmem_constraints *k,
                             enum sysmem_error error) {
        struct h_rep rep;
        give(a, t);
        h_agent_cmd(a, H_BIND, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: Bind: %s", a->name, strerror(-rep.r));
        struct h_req req = {.cmd = H_SET_CONSTRAINTS, .constraints = *k};
        h_agent_call(a, &req, &rep); /* may already report the failure */
        h_agent_cmd(a, H_WAIT, 0, &rep);
        rep_expect_error(&rep, error, NULL, a->name);
}

static void rep_expect_ok(const struct h_rep *rep, const char *who) {
        if (rep->r < 0)
                fail_msg("%s: failed: %s: %s", who, sysmem_error_name(rep->error), rep->message);
}

static void rep_expect_error(const struct h_rep *rep, enum sysmem_error error, const char *mention, const char *who) {
        if (rep->r >= 0)
                fail_msg("%s: succeeded; expected %s", who, sysmem_error_name(error));
        if (rep->error != error)
                fail_msg("%s: failed with %s (%s); expected %s", who, sysmem_error_name(rep->error), rep->message,
                         sysmem_error_name(error));
        if (mention && !strstr(rep->message, mention))
                fail_msg("%s: the message \"%s\" does not mention '%s'", who, rep->message, mention);
}

static void agent_wait_ok(struct h_agent *a, struct h_rep *rep) {
        h_agent_cmd(a, H_WAIT, 0, rep);
        rep_expect_ok(rep, a->name);
}

static void agent_wait_fails(struct h_agent *a, enum sysmem_error error, const char *mention) {
        struct h_rep rep;
        h_agent_cmd(a, H_WAIT, 0, &rep);
        rep_expect_error(&rep, error, mention, a->name);
}

/* Bounded: Sync until the daemon's failure of the agent's node has reached it, then check the error. */
static void agent_expect_failed(struct h_agent *a, enum sysmem_error error, const char *mention) {
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        for (;;) {
                struct h_rep rep;
                h_agent_cmd(a, H_SYNC, 0, &rep);
                if (rep.r < 0) {
                        rep_expect_error(&rep, error, mention, a->name);
                        return;
                }
                if (h_now_ms() >= deadline)
                        fail_msg("%s: still alive after %d ms; expected it to fail with %s", a->name, H_TIMEOUT_MS,
                                 sysmem_error_name(error));
                usleep(5000);
        }
}

/* Sync and Check succeed, and the agent's mappings show pattern `seed` (written by someone else). */
static void agent_expect_alive(struct h_agent *a, uint32_t seed) {
        struct h_rep rep;
        h_agent_cmd(a, H_SYNC, 0, &rep);
        rep_expect_ok(&rep, a->name);
        h_agent_cmd(a, H_CHECK, 0, &rep);
        rep_expect_ok(&rep, a->name);
        h_agent_cmd(a, H_VERIFY, seed, &rep);
        if (rep.r < 0)
                fail_msg("%s: its buffers do not show the survivors' bytes: %s", a->name, rep.message);
}

static void agent_release(struct h_agent *a) {
        struct h_rep rep;
        h_agent_cmd(a, H_RELEASE_COLLECTION, 0, &rep);
        assert_int_equal(rep.r, 0);
}

/* Daemon fds: waits until its count drops to at most n (the daemon closed a node's socket). */
static void daemon_fds_at_most(struct h_daemon *d, int n, const char *what) {
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        while (h_fd_count(d->pid) > n) {
                if (h_now_ms() >= deadline)
                        fail_msg("the daemon never closed its end after %s (%d fds, expected at most %d)", what,
                                 h_fd_count(d->pid), n);
                usleep(2000);
        }
}

static bool hung_up(int fd, int timeout_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        return r > 0 && (p.revents & (POLLHUP | POLLIN));
}

/* ---- 1. AttachToken ---- */

/*
 * An attached token that never binds does not block, and constraints set early on an attached
 * collection are not counted: 2 + 2 camping gives 4 buffers, then the attached one (1 more) fails.
 */
static void test_attach_token_not_counted_and_never_blocks(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part, late;
        struct h_rep rep, prep;
        h_agent_spawn(&part, d, "participant");
        h_agent_spawn(&late, d, "early-attached");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_collection *init = bind_token(root);

        struct sysmem_token *att, *never;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &att), 0);
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &never), 0);
        struct sysmem_constraints one = h_cpu_constraints(CPU_RW, 1, 4096);
        agent_join(&late, att, &one);
        h_agent_send_cmd(&late, H_WAIT, 0);

        struct sysmem_constraints two = h_cpu_constraints(CPU_RW, 2, 4096);
        agent_bind_set(&part, &two);
        h_agent_send_cmd(&part, H_WAIT, 0);
        constrain(init, &two);
        /* Allocation does not wait for `never`, and the early attached constraints add nothing. */
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        assert_int_equal(info->buffer_count, 4);
        h_agent_reply(&part, &prep);
        rep_expect_ok(&prep, "participant");
        assert_int_equal(prep.buffer_count, 4);
        for (uint32_t b = 0; b < 4; b++)
                assert_int_equal(prep.ino[b], fd_ino(info->buffers[b].fd));
        /* 2 + 2 + 1 camping > the 4 buffers that exist. */
        h_agent_reply(&late, &rep);
        rep_expect_error(&rep, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, "early attached collection");

        coll_expect_alive(init, info, 21, "initiator");
        agent_expect_alive(&part, 21);
        /* The attached token that never bound fails alone when it goes. */
        sysmem_token_close(never);
        usleep(50000);
        coll_expect_alive(init, info, 22, "initiator after the attached token closed");
        agent_expect_alive(&part, 22);

        sysmem_collection_info_free(info);
        agent_release(&part);
        h_agent_stop(&part);
        h_agent_stop(&late);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * min_buffer_count 6 with 2 + 2 camping leaves room for 2: an attached participant camping 2 joins
 * and gets the same buffers and settings; one more camping buffer, a larger size, or a late
 * joiner's image constraints do not fit and fail only that joiner. AttachToken's mask applies, and
 * attaching below an attached collection works too.
 */
static void test_attach_token_late_joiners(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part, fits, nested, no_room, too_big, masked;
        struct h_rep rep;
        h_agent_spawn(&part, d, "participant");
        h_agent_spawn(&fits, d, "late-fits");
        h_agent_spawn(&nested, d, "late-nested");
        h_agent_spawn(&no_room, d, "late-no-room");
        h_agent_spawn(&too_big, d, "late-too-big");
        h_agent_spawn(&masked, d, "late-masked");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 2, 8192);
        k.min_buffer_count = 6;
        constrain(init, &k);
        struct sysmem_constraints p = h_cpu_constraints(CPU_RW, 2, 4096);
        agent_bind_set(&part, &p);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        assert_int_equal(info->buffer_count, 6);
        struct h_rep prep;
        agent_wait_ok(&part, &prep);

        /* After allocation: camping 2 fits the 2 buffers of headroom; a smaller size is fine. */
        struct sysmem_token *t;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        struct sysmem_constraints f = h_cpu_constraints(CPU_RW, 2, 100);
        agent_join(&fits, t, &f);
        struct h_rep frep;
        agent_wait_ok(&fits, &frep);
        assert_int_equal(frep.buffer_count, 6);
        assert_int_equal(frep.id, info->buffer_collection_id);
        assert_int_equal(frep.size_bytes, info->settings.buffer_settings.size_bytes);
        assert_int_equal(frep.size_bytes, 8192);
        assert_int_equal(frep.raw_vmo_size, info->settings.buffer_settings.raw_vmo_size);
        assert_int_equal(frep.coherency_domain, info->settings.buffer_settings.coherency_domain);
        assert_string_equal(frep.heap, info->settings.buffer_settings.heap.heap_type);
        for (uint32_t b = 0; b < 6; b++) {
                if (!frep.fd_present[b] || frep.ino[b] != fd_ino(info->buffers[b].fd))
                        fail_msg("the late joiner's buffer %u is not the initiator's (inode %llu vs %llu)", b,
                                 (unsigned long long)frep.ino[b], (unsigned long long)fd_ino(info->buffers[b].fd));
        }
        /* Writes of the late joiner show in the initiator's buffers. */
        h_agent_cmd(&fits, H_WRITE, 31, &rep);
        rep_expect_ok(&rep, "late joiner writing");
        char why[256];
        for (uint32_t b = 0; b < 6; b++)
                if (h_verify_pattern(info->buffers[b].fd, info->settings.buffer_settings.raw_vmo_size, 31, b, why,
                                     sizeof why) < 0)
                        fail_msg("the initiator does not see the late joiner's bytes: %s", why);

        /* Nested: an attached token of the attached collection; camping 0 fits. */
        h_agent_cmd(&fits, H_ATTACH_TOKEN, 0, &rep);
        rep_expect_ok(&rep, "AttachToken on the attached collection");
        int fd = h_recv_fd(fits.sock, H_TIMEOUT_MS);
        h_agent_take_token(&nested, fd, NULL);
        close(fd);
        struct sysmem_constraints zero = h_cpu_constraints(CPU_R, 0, 0);
        agent_bind_set(&nested, &zero);
        agent_wait_ok(&nested, &rep);
        assert_int_equal(rep.ino[5], fd_ino(info->buffers[5].fd));

        /* 2 + 2 + 2 camping already use all 6: one more does not fit. */
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        struct sysmem_constraints one = h_cpu_constraints(CPU_R, 1, 0);
        agent_join_fails(&no_room, t, &one, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
        /* A larger minimum size would change the buffers. */
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        struct sysmem_constraints big = h_cpu_constraints(CPU_R, 0, 16384);
        agent_join_fails(&too_big, t, &big, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);

        /* AttachToken's mask: without WRITE the joiner's fds are read-only although its usage writes. */
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP, &t), 0);
        struct sysmem_constraints rw0 = h_cpu_constraints(CPU_RW, 0, 0);
        agent_join(&masked, t, &rw0);
        agent_wait_ok(&masked, &rep);
        h_agent_cmd(&masked, H_GIVE_BUFFERS, 0, &rep);
        assert_int_equal(rep.value, 6);
        for (uint32_t b = 0; b < 6; b++) {
                int bfd = h_recv_fd(masked.sock, H_TIMEOUT_MS);
                assert_int_equal(fcntl(bfd, F_GETFL) & O_ACCMODE, O_RDONLY);
                errno = 0;
                void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
                if (m != MAP_FAILED)
                        fail_msg("buffer %u of a token attached without WRITE maps writable", b);
                assert_int_equal(errno, EACCES);
                close(bfd);
        }

        /* The failures above touched nobody else. */
        coll_expect_alive(init, info, 32, "initiator");
        agent_expect_alive(&part, 32);
        agent_expect_alive(&fits, 32);
        agent_expect_alive(&nested, 32);
        agent_expect_alive(&masked, 32);

        sysmem_collection_info_free(info);
        struct h_agent *all[] = {&part, &fits, &nested, &masked};
        for (size_t i = 0; i < 4; i++)
                agent_release(all[i]);
        h_agent_stop(&part);
        h_agent_stop(&fits);
        h_agent_stop(&nested);
        h_agent_stop(&no_room);
        h_agent_stop(&too_big);
        h_agent_stop(&masked);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * Groups in a late allocation: an attached token holds a group whose first child would enlarge the
 * buffers and whose second fits; the second joins, the first fails, and nobody else notices.
 */
static void test_attach_token_with_group(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent kid[2];
        static const char *const names[] = {"late-child-too-big", "late-child-fits"};
        h_agent_spawn(&kid[0], d, names[0]);
        h_agent_spawn(&kid[1], d, names[1]);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 8192);
        k.min_buffer_count = 3;
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        assert_int_equal(info->buffer_count, 3);

        struct sysmem_token *att;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &att), 0);
        struct sysmem_group *g;
        assert_int_equal(sysmem_token_create_group(att, &g), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *ch[2];
        assert_int_equal(sysmem_group_create_children_sync(g, 2, masks, ch), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_token_release(att), 0);
        struct sysmem_constraints big = h_cpu_constraints(CPU_R, 1, 16384), fits = h_cpu_constraints(CPU_R, 2, 4096);
        agent_join(&kid[0], ch[0], &big);
        give(&kid[1], ch[1]);
        struct h_rep rep;
        h_agent_cmd(&kid[1], H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_set_constraints(&kid[1], &fits);
        agent_wait_ok(&kid[1], &rep);
        assert_int_equal(rep.buffer_count, 3);
        assert_int_equal(rep.ino[2], fd_ino(info->buffers[2].fd));
        agent_wait_fails(&kid[0], SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL);
        assert_int_equal(sysmem_node_sync(gnode(g)), 0);
        coll_expect_alive(init, info, 25, "initiator");
        agent_expect_alive(&kid[1], 25);

        assert_int_equal(sysmem_group_release(g), 0);
        sysmem_collection_info_free(info);
        agent_release(&kid[1]);
        h_agent_stop(&kid[0]);
        h_agent_stop(&kid[1]);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* AttachToken with a mask of 0, or on a weak collection, is a protocol deviation that fails the collection. */
static void test_attach_token_protocol_errors(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part;
        h_agent_spawn(&part, d, "bystander");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_collection *init = bind_token(root);
        struct h_rep rep;
        h_agent_cmd(&part, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        struct sysmem_token *t = NULL;
        int r = sysmem_collection_attach_token(init, 0, &t);
        if (r >= 0)
                fail_msg("AttachToken with a mask of 0 succeeded");
        assert_int_equal(sysmem_node_error(cnode(init)), SYSMEM_ERROR_PROTOCOL_DEVIATION);
        agent_expect_failed(&part, SYSMEM_ERROR_UNSPECIFIED, "AttachToken");
        sysmem_collection_close(init);

        /* A weak (non-root) collection may not attach: its failure climbs to the root. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *wt = dup_token(root, SYSMEM_RIGHTS_SAME, "weak");
        struct sysmem_collection *init2 = bind_token(root);
        struct sysmem_collection *weak = bind_token(wt);
        assert_int_equal(sysmem_node_set_weak(cnode(weak)), 0);
        assert_int_equal(sysmem_node_sync(cnode(weak)), 0);
        r = sysmem_collection_attach_token(weak, SYSMEM_RIGHTS_SAME, &t);
        if (r >= 0)
                fail_msg("AttachToken on a weak collection succeeded");
        assert_int_equal(sysmem_node_error(cnode(weak)), SYSMEM_ERROR_PROTOCOL_DEVIATION);
        node_expect_failed(cnode(init2), SYSMEM_ERROR_UNSPECIFIED, "weak", "the root of the weak collection");
        sysmem_collection_close(weak);
        sysmem_collection_close(init2);
        h_agent_stop(&part);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * SetDispensable on an attached token keeps it isolated: sysmem only ever raises a node's isolation
 * (Propagate to PropagateBeforeAllocation), so the attached token stays DoNotPropagate and its
 * participant's death before the late allocation fails that subtree alone, not the collection.
 */
static void test_attach_token_dispensable_stays_isolated(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent att;
        struct h_rep rep;
        h_agent_spawn(&att, d, "attached-dispensable");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root, *t = NULL;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        int before = h_fd_count(d->pid);
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        give(&att, t);
        h_agent_cmd(&att, H_SET_DISPENSABLE, 0, &rep);
        rep_expect_ok(&rep, "SetDispensable on the attached token");
        h_agent_cmd(&att, H_SYNC, 0, &rep);
        rep_expect_ok(&rep, "Sync after SetDispensable");
        h_agent_kill(&att);
        daemon_fds_at_most(d, before, "the attached participant's death");
        coll_expect_alive(init, info, 11, "initiator after its attached, dispensable token died");
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 2. groups ---- */

/*
 * A group of four children: the first does not fit, the others do. The second is chosen (priority
 * order); the others get CONSTRAINTS_INTERSECTION_EMPTY; only the chosen child's camping buffers
 * count (1 + 1, not 1 + 1 + 3).
 */
static void test_group_first_fit_in_priority_order(void **state) {
        struct h_daemon *d = DAEMON(state);
        enum { K = 4 };
        struct h_agent kids[K];
        /* The last one would fit into the allocation even afterwards: it fails only because it was not chosen. */
        static const char *const names[K] = {"child-too-big", "child-fits", "child-fits-later",
                                             "child-fits-no-camping"};
        for (int i = 0; i < K; i++)
                h_agent_spawn(&kids[i], d, names[i]);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *owner = dup_token(root, SYSMEM_RIGHTS_SAME, "group-owner");
        struct sysmem_group *g;
        assert_int_equal(sysmem_token_create_group(owner, &g), 0);
        assert_int_equal(sysmem_token_release(owner), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *ch[K];
        assert_int_equal(sysmem_group_create_children_sync(g, 2, masks, ch), 0);
        assert_int_equal(sysmem_group_create_child(g, SYSMEM_RIGHTS_SAME, &ch[2]), 0);
        assert_int_equal(sysmem_group_create_child(g, SYSMEM_RIGHTS_SAME, &ch[3]), 0);
        assert_int_equal(sysmem_node_sync(gnode(g)), 0); /* CreateChild needs a Sync before the token travels */
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_group_release(g), 0);

        struct sysmem_constraints kk[K] = {h_cpu_constraints(CPU_RW, 1, 1u << 20), h_cpu_constraints(CPU_RW, 1, 4096),
                                           h_cpu_constraints(CPU_RW, 3, 4096), h_cpu_constraints(CPU_R, 0, 4096)};
        for (int i = 0; i < K; i++) {
                agent_join(&kids[i], ch[i], &kk[i]);
                h_agent_send_cmd(&kids[i], H_WAIT, 0);
        }
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 8192);
        k.buffer_memory_constraints.max_size_bytes = 65536;
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        assert_int_equal(info->buffer_count, 2);
        assert_int_equal(info->settings.buffer_settings.size_bytes, 8192);
        struct h_rep rep[K];
        for (int i = 0; i < K; i++)
                h_agent_reply(&kids[i], &rep[i]);
        for (int i = 0; i < K; i++)
                if (i != 1)
                        rep_expect_error(&rep[i], SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, names[i]);
        rep_expect_ok(&rep[1], names[1]);
        assert_int_equal(rep[1].buffer_count, 2);
        for (uint32_t b = 0; b < 2; b++) {
                assert_true(info->buffers[b].fd >= 0);
                assert_int_equal(rep[1].ino[b], fd_ino(info->buffers[b].fd));
        }
        coll_expect_alive(init, info, 41, "initiator");
        agent_expect_alive(&kids[1], 41);
        /* The unchosen children's next calls report the same error. */
        for (int i = 0; i < K; i++)
                if (i != 1)
                        agent_expect_failed(&kids[i], SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL);

        sysmem_collection_info_free(info);
        agent_release(&kids[1]);
        for (int i = 0; i < K; i++)
                h_agent_stop(&kids[i]);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * Two groups A then B (DFS pre-order), children a0 a1 and b0 b1. (a0, b0) does not fit (a0 wants
 * 16 KiB, b0 allows at most 8 KiB); (a0, b1) and (a1, b0) both fit. Sysmem's odometer advances the
 * LAST group first, so (a0, b1) is chosen: 16 KiB buffers, a1 and b0 fail.
 */
static void test_group_odometer_advances_last_group_first(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent kid[4];
        static const char *const names[] = {"a0", "a1", "b0", "b1"};
        for (int i = 0; i < 4; i++)
                h_agent_spawn(&kid[i], d, names[i]);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *owners[2], *ch[4];
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, owners), 0);
        struct sysmem_group *ga, *gb;
        assert_int_equal(sysmem_token_create_group(owners[0], &ga), 0);
        assert_int_equal(sysmem_token_create_group(owners[1], &gb), 0);
        assert_int_equal(sysmem_group_create_children_sync(ga, 2, masks, &ch[0]), 0);
        assert_int_equal(sysmem_group_create_children_sync(gb, 2, masks, &ch[2]), 0);
        assert_int_equal(sysmem_token_release(owners[0]), 0);
        assert_int_equal(sysmem_token_release(owners[1]), 0);
        assert_int_equal(sysmem_group_all_children_present(ga), 0);
        assert_int_equal(sysmem_group_all_children_present(gb), 0);

        struct sysmem_constraints kk[4] = {h_cpu_constraints(CPU_RW, 1, 16384), h_cpu_constraints(CPU_RW, 1, 4096),
                                           h_cpu_constraints(CPU_RW, 1, 4096), h_cpu_constraints(CPU_RW, 1, 4096)};
        kk[2].buffer_memory_constraints.max_size_bytes = 8192;
        for (int i = 0; i < 4; i++) {
                agent_join(&kid[i], ch[i], &kk[i]);
                h_agent_send_cmd(&kid[i], H_WAIT, 0);
        }
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        struct h_rep rep[4];
        for (int i = 0; i < 4; i++)
                h_agent_reply(&kid[i], &rep[i]);
        if (rep[0].r < 0 || rep[3].r < 0)
                fail_msg("(a0, b1) was not chosen: a0 %s, a1 %s, b0 %s, b1 %s (size %llu); the odometer must "
                         "advance the last group in DFS pre-order first",
                         rep[0].r < 0 ? "failed" : "ok", rep[1].r < 0 ? "failed" : "ok", rep[2].r < 0 ? "failed" : "ok",
                         rep[3].r < 0 ? "failed" : "ok", (unsigned long long)info->settings.buffer_settings.size_bytes);
        rep_expect_error(&rep[1], SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, "a1");
        rep_expect_error(&rep[2], SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, "b0");
        assert_int_equal(info->settings.buffer_settings.size_bytes, 16384);
        assert_int_equal(info->buffer_count, 3);
        assert_int_equal(rep[0].ino[2], fd_ino(info->buffers[2].fd));
        assert_int_equal(rep[3].ino[2], fd_ino(info->buffers[2].fd));
        /* The groups themselves stay usable until released. */
        assert_int_equal(sysmem_node_sync(gnode(ga)), 0);
        assert_int_equal(sysmem_group_release(ga), 0);
        assert_int_equal(sysmem_group_release(gb), 0);

        sysmem_collection_info_free(info);
        agent_release(&kid[0]);
        agent_release(&kid[3]);
        for (int i = 0; i < 4; i++)
                h_agent_stop(&kid[i]);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * Group G (children g0, g1), with a nested group N (n0, n1) under g0. Pre-order is [G, N]. When n0
 * does not fit but n1 does, (g0, n1) wins over g1; when neither n fits, G moves on to g1.
 */
static void run_nested_groups(struct h_daemon *d, struct sysmem_allocator *a, bool n1_fits) {
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *owner = dup_token(root, SYSMEM_RIGHTS_SAME, "owner");
        struct sysmem_group *g, *n;
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *gch[2], *nch[2];
        assert_int_equal(sysmem_token_create_group(owner, &g), 0);
        assert_int_equal(sysmem_group_create_children_sync(g, 2, masks, gch), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_token_create_group(gch[0], &n), 0);
        assert_int_equal(sysmem_group_create_children_sync(n, 2, masks, nch), 0);
        assert_int_equal(sysmem_group_all_children_present(n), 0);
        assert_int_equal(sysmem_token_release(gch[0]), 0);
        assert_int_equal(sysmem_token_release(owner), 0);

        struct sysmem_collection *n0 = bind_token(nch[0]), *n1 = bind_token(nch[1]), *g1 = bind_token(gch[1]);
        struct sysmem_constraints too_big = h_cpu_constraints(CPU_RW, 1, 1u << 20);
        struct sysmem_constraints k12 = h_cpu_constraints(CPU_RW, 1, 12288);
        struct sysmem_constraints k4 = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(n0, &too_big);
        constrain(n1, n1_fits ? &k12 : &too_big);
        constrain(g1, &k4);
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        k.buffer_memory_constraints.max_size_bytes = 65536;
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        wait_fails(n0, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "n0");
        struct sysmem_collection_info *ci;
        if (n1_fits) {
                ci = wait_ok(n1, "n1");
                wait_fails(g1, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "g1 (n1 of the nested group fits first)");
                assert_int_equal(info->settings.buffer_settings.size_bytes, 12288);
                /* The nested group that held the chosen child lives on; the outer one too. */
                assert_int_equal(sysmem_node_sync(gnode(n)), 0);
        } else {
                wait_fails(n1, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "n1");
                ci = wait_ok(g1, "g1");
                assert_int_equal(info->settings.buffer_settings.size_bytes, 4096);
                /* The nested group was under the unchosen g0: it failed with its children. */
                node_expect_failed(gnode(n), SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, "nested group");
        }
        assert_int_equal(sysmem_node_sync(gnode(g)), 0);
        assert_int_equal(info->buffer_count, 2);
        assert_int_equal(fd_ino(ci->buffers[1].fd), fd_ino(info->buffers[1].fd));
        sysmem_collection_info_free(ci);
        sysmem_collection_info_free(info);
        sysmem_collection_close(n0);
        if (n1_fits) {
                assert_int_equal(sysmem_collection_release(n1), 0);
                sysmem_collection_close(g1);
                assert_int_equal(sysmem_group_release(n), 0);
        } else {
                sysmem_collection_close(n1);
                assert_int_equal(sysmem_collection_release(g1), 0);
                sysmem_group_close(n);
        }
        assert_int_equal(sysmem_group_release(g), 0);
        assert_int_equal(sysmem_collection_release(init), 0);
        h_daemon_expect_fds(d, d->baseline_fds + 1);
}

static void test_group_nested(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "nested");
        run_nested_groups(d, a, true);
        run_nested_groups(d, a, false);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * Two groups of n1 and n2 children under the root; every child wants more than the root allows,
 * except (ok_a, ok_b) (-1: none). Returns the root's error (INVALID: allocated) and checks that
 * every child saw the same outcome, and the chosen pair got buffers.
 */
static enum sysmem_error run_combinations(struct sysmem_allocator *a, uint32_t n1, uint32_t n2, int ok_a, int ok_b) {
        struct sysmem_token *root, *owners[2];
        uint32_t masks[64];
        for (int i = 0; i < 64; i++)
                masks[i] = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, owners), 0);
        struct sysmem_group *g[2];
        struct sysmem_token *tok[2][16];
        struct sysmem_collection *coll[2][16];
        uint32_t n[2] = {n1, n2};
        int ok[2] = {ok_a, ok_b};
        for (int x = 0; x < 2; x++) {
                assert_int_equal(sysmem_token_create_group(owners[x], &g[x]), 0);
                assert_int_equal(sysmem_group_create_children_sync(g[x], n[x], masks, tok[x]), 0);
                assert_int_equal(sysmem_group_all_children_present(g[x]), 0);
                assert_int_equal(sysmem_group_release(g[x]), 0);
                assert_int_equal(sysmem_token_release(owners[x]), 0);
        }
        struct sysmem_constraints fits = h_cpu_constraints(CPU_R, 0, 4096);
        struct sysmem_constraints no = h_cpu_constraints(CPU_R, 0, 8192);
        for (int x = 0; x < 2; x++)
                for (uint32_t i = 0; i < n[x]; i++) {
                        coll[x][i] = bind_token(tok[x][i]);
                        assert_int_equal(sysmem_collection_set_constraints(coll[x][i], (int)i == ok[x] ? &fits : &no),
                                         0);
                }
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        k.buffer_memory_constraints.max_size_bytes = 4096;
        assert_int_equal(sysmem_collection_set_constraints(init, &k), 0);
        struct sysmem_collection_info *info = NULL;
        enum sysmem_error result = SYSMEM_ERROR_INVALID;
        if (h_wait_allocated(init, H_TIMEOUT_MS, &info) < 0)
                result = sysmem_node_error(cnode(init));
        for (int x = 0; x < 2; x++)
                for (uint32_t i = 0; i < n[x]; i++) {
                        struct sysmem_collection_info *ci = NULL;
                        int r = h_wait_allocated(coll[x][i], H_TIMEOUT_MS, &ci);
                        bool chosen = result == SYSMEM_ERROR_INVALID && (int)i == ok[x];
                        if (chosen && r < 0)
                                fail_msg("%ux%u: the fitting child %d of group %d failed: %s", n1, n2, (int)i, x,
                                         sysmem_node_error_message(cnode(coll[x][i])));
                        if (!chosen) {
                                enum sysmem_error want = result == SYSMEM_ERROR_INVALID
                                                                 ? SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY
                                                                 : result;
                                if (r >= 0 || sysmem_node_error(cnode(coll[x][i])) != want)
                                        fail_msg("%ux%u: child %u of group %d: %s, expected %s", n1, n2, i, x,
                                                 r >= 0 ? "allocated"
                                                        : sysmem_error_name(sysmem_node_error(cnode(coll[x][i]))),
                                                 sysmem_error_name(want));
                        }
                        sysmem_collection_info_free(ci);
                }
        /* Closed only now: a close without Release fails the collection, which would change the answers. */
        for (int x = 0; x < 2; x++)
                for (uint32_t i = 0; i < n[x]; i++)
                        sysmem_collection_close(coll[x][i]);
        sysmem_collection_info_free(info);
        sysmem_collection_close(init);
        return result;
}

/* Exactly 64 failing combinations: CONSTRAINTS_INTERSECTION_EMPTY; a 65th that exists: TOO_MANY. */
static void test_group_combination_limit(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "combinations");
        enum sysmem_error e;
        e = run_combinations(a, 8, 8, -1, -1);
        if (e != SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY)
                fail_msg("8x8 = 64 failing combinations gave %s; expected CONSTRAINTS_INTERSECTION_EMPTY",
                         sysmem_error_name(e));
        /* The 64th combination is (7, 7): it is still tried, and wins. */
        e = run_combinations(a, 8, 8, 7, 7);
        if (e != SYSMEM_ERROR_INVALID)
                fail_msg("8x8 with only the 64th combination fitting gave %s; expected an allocation",
                         sysmem_error_name(e));
        e = run_combinations(a, 8, 9, -1, -1);
        if (e != SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS)
                fail_msg("8x9 = 72 failing combinations gave %s; expected TOO_MANY_GROUP_CHILD_COMBINATIONS",
                         sysmem_error_name(e));
        /* 5x13: (4, 11) is the 64th combination, (4, 12) the 65th. */
        e = run_combinations(a, 5, 13, 4, 11);
        if (e != SYSMEM_ERROR_INVALID)
                fail_msg("5x13 with the 64th combination fitting gave %s; expected an allocation",
                         sysmem_error_name(e));
        e = run_combinations(a, 5, 13, 4, 12);
        if (e != SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS)
                fail_msg("5x13 with only the 65th combination fitting gave %s; expected "
                         "TOO_MANY_GROUP_CHILD_COMBINATIONS",
                         sysmem_error_name(e));
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* A token with a group under it; the root token stays in this process to watch the collection fail. */
static struct sysmem_group *new_group(struct sysmem_allocator *a, struct sysmem_token **ret_root) {
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *owner = dup_token(root, SYSMEM_RIGHTS_SAME, "owner");
        struct sysmem_group *g;
        assert_int_equal(sysmem_token_create_group(owner, &g), 0);
        assert_int_equal(sysmem_token_release(owner), 0);
        assert_int_equal(sysmem_node_set_debug_client_info(gnode(g), "the-group", 0), 0);
        *ret_root = root;
        return g;
}

static void expect_group_deviation(struct sysmem_group *g, struct sysmem_token *root, const char *mention,
                                   const char *what) {
        node_expect_failed(gnode(g), SYSMEM_ERROR_PROTOCOL_DEVIATION, mention, what);
        node_expect_failed(tnode(root), SYSMEM_ERROR_UNSPECIFIED, mention, what);
        sysmem_group_close(g);
        sysmem_token_close(root);
}

static void test_group_protocol_errors(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "groups");
        struct sysmem_token *root, *t;
        uint32_t same = SYSMEM_RIGHTS_SAME, zero = 0;

        struct sysmem_group *g = new_group(a, &root);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        expect_group_deviation(g, root, "without any child", "AllChildrenPresent without a child");

        g = new_group(a, &root);
        assert_int_equal(sysmem_group_create_children_sync(g, 1, &same, &t), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        expect_group_deviation(g, root, "twice", "AllChildrenPresent twice");
        sysmem_token_close(t);

        g = new_group(a, &root);
        assert_int_equal(sysmem_group_create_children_sync(g, 1, &same, &t), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        struct sysmem_token *late = NULL;
        if (sysmem_group_create_child(g, SYSMEM_RIGHTS_SAME, &late) >= 0)
                fail_msg("CreateChild after AllChildrenPresent succeeded");
        expect_group_deviation(g, root, "CreateChild after AllChildrenPresent", "CreateChild after APC");
        sysmem_token_close(t);

        g = new_group(a, &root);
        if (sysmem_group_create_children_sync(g, 1, &zero, &t) >= 0)
                fail_msg("CreateChildrenSync with a mask of 0 succeeded");
        expect_group_deviation(g, root, "mask of 0", "CreateChildrenSync with mask 0");

        /* Release before AllChildrenPresent fails the group (and, here, the whole collection). */
        g = new_group(a, &root);
        assert_int_equal(sysmem_group_create_children_sync(g, 1, &same, &t), 0);
        assert_int_equal(sysmem_group_release(g), 0);
        node_expect_failed(tnode(root), SYSMEM_ERROR_UNSPECIFIED, "AllChildrenPresent", "root after an early Release");
        node_expect_failed(tnode(t), SYSMEM_ERROR_UNSPECIFIED, "AllChildrenPresent", "child after an early Release");
        sysmem_token_close(t);
        sysmem_token_close(root);

        /* After AllChildrenPresent, Release is clean: the collection goes on. */
        g = new_group(a, &root);
        assert_int_equal(sysmem_group_create_children_sync(g, 1, &same, &t), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_group_release(g), 0);
        struct sysmem_collection *c = bind_token(t), *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(c, &k);
        constrain(init, &k);
        struct sysmem_collection_info *i1 = wait_ok(init, "initiator"), *i2 = wait_ok(c, "group child");
        assert_int_equal(i1->buffer_count, 2);
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(c), 0);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * CreateChild with a rights mask of 0 is a protocol deviation of the group, as DuplicateSync and
 * CreateChildrenSync with 0 are (only Duplicate keeps Fuchsia's deprecated "0: same rights"): the
 * group fails, and with it the collection, down to a participant in another process.
 */
static void test_group_create_child_mask_zero(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part;
        struct h_rep rep;
        h_agent_spawn(&part, d, "participant");
        struct sysmem_allocator *a = h_connect(d, "groups");
        struct sysmem_token *root, *first = NULL, *zero = NULL;
        struct sysmem_group *g = new_group(a, &root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        agent_bind_set(&part, &k);
        h_agent_send_cmd(&part, H_WAIT, 0);
        /* A real mask is fine; 0 is not. */
        assert_int_equal(sysmem_group_create_child(g, SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP, &first), 0);
        assert_int_equal(sysmem_node_sync(gnode(g)), 0);
        if (sysmem_group_create_child(g, 0, &zero) >= 0)
                fail_msg("CreateChild with a mask of 0 succeeded");
        node_expect_failed(tnode(first), SYSMEM_ERROR_UNSPECIFIED, "mask of 0", "the group's first child");
        h_agent_reply(&part, &rep);
        rep_expect_error(&rep, SYSMEM_ERROR_UNSPECIFIED, "mask of 0", "participant in another process");
        expect_group_deviation(g, root, "CreateChild with a rights mask of 0", "CreateChild with mask 0");
        sysmem_token_close(first);
        h_agent_stop(&part);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- IsAlternateFor ---- */

static bool alternate(struct sysmem_node *n, int ref, const char *what) {
        bool alt = false;
        int r = sysmem_node_is_alternate_for(n, ref, &alt);
        if (r < 0)
                fail_msg("IsAlternateFor %s: %s (%s)", what, strerror(-r), sysmem_node_error_message(n));
        return alt;
}

static int node_ref(struct sysmem_node *n) {
        int fd = -1;
        assert_int_equal(sysmem_node_get_node_ref(n, &fd), 0);
        assert_true(fd >= 0);
        return fd;
}

static void test_is_alternate_for(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent other;
        struct h_rep rep;
        h_agent_spawn(&other, d, "group-child-c1");
        struct sysmem_allocator *a = h_connect(d, "refs");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t masks[3] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *sib[3];
        assert_int_equal(sysmem_token_duplicate_sync(root, 3, masks, sib), 0);
        struct sysmem_group *g, *n;
        assert_int_equal(sysmem_token_create_group(sib[2], &g), 0);
        struct sysmem_token *c[3], *nc;
        assert_int_equal(sysmem_group_create_children_sync(g, 3, masks, c), 0);
        assert_int_equal(sysmem_token_create_group(c[2], &n), 0);
        assert_int_equal(sysmem_group_create_children_sync(n, 1, masks, &nc), 0);

        int ref_sib1 = node_ref(tnode(sib[1])), ref_c0 = node_ref(tnode(c[0])), ref_c2 = node_ref(tnode(c[2]));
        int ref_nc = node_ref(tnode(nc)), ref_root = node_ref(tnode(root)), ref_g = node_ref(gnode(g));
        /* The same node gives the same identity every time. */
        int ref_c0_again = node_ref(tnode(c[0]));
        assert_true(alternate(tnode(c[1]), ref_c0_again, "c1 / c0 (second ref)"));

        assert_true(alternate(tnode(c[1]), ref_c0, "two children of a group"));
        assert_true(alternate(tnode(c[0]), ref_nc, "a child and a grandchild through another child"));
        assert_false(alternate(tnode(sib[0]), ref_sib1, "two children of a token"));
        assert_false(alternate(tnode(nc), ref_c2, "a node and its parent token"));
        assert_false(alternate(tnode(c[0]), ref_root, "a group child and the root"));
        assert_false(alternate(tnode(root), ref_c0, "the root and a group child"));
        assert_false(alternate(tnode(sib[0]), ref_c0, "a token sibling of the group's parent and a group child"));
        assert_false(alternate(tnode(sib[0]), ref_g, "a token and a group under its sibling"));

        /* Across processes: the child c1 lives in an agent and asks about c0; then the other way round. */
        give(&other, c[1]);
        struct h_req req = {.cmd = H_IS_ALTERNATE};
        h_agent_call_fd(&other, &req, ref_c0, &rep);
        rep_expect_ok(&rep, "IsAlternateFor in the agent");
        assert_int_equal(rep.value, 1);
        h_agent_call_fd(&other, &req, ref_sib1, &rep);
        rep_expect_ok(&rep, "IsAlternateFor in the agent");
        assert_int_equal(rep.value, 0);
        h_agent_cmd(&other, H_NODE_REF, 0, &rep);
        rep_expect_ok(&rep, "GetNodeRef in the agent");
        int ref_c1 = h_recv_fd(other.sock, H_TIMEOUT_MS);
        assert_true(alternate(tnode(c[0]), ref_c1, "c0 / c1 of the agent"));
        close(ref_c1);

        /* A node ref of another collection: NOT_FOUND; the asking node stays usable. */
        struct sysmem_token *root2;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root2), 0);
        int ref_other = node_ref(tnode(root2));
        bool alt = true;
        int r = sysmem_node_is_alternate_for(tnode(c[0]), ref_other, &alt);
        if (r >= 0)
                fail_msg("IsAlternateFor with another collection's node ref succeeded");
        assert_int_equal(sysmem_node_error(tnode(c[0])), SYSMEM_ERROR_NOT_FOUND);
        assert_int_equal(sysmem_node_sync(tnode(c[0])), 0);
        /* A socket that is no node ref: NOT_FOUND; an fd that is no socket at all: PROTOCOL_DEVIATION. */
        int sv[2], pfd[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        r = sysmem_node_is_alternate_for(tnode(c[0]), sv[0], &alt);
        assert_true(r < 0);
        assert_int_equal(sysmem_node_error(tnode(c[0])), SYSMEM_ERROR_NOT_FOUND);
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        r = sysmem_node_is_alternate_for(tnode(c[0]), pfd[0], &alt);
        assert_true(r < 0);
        assert_int_equal(sysmem_node_error(tnode(c[0])), SYSMEM_ERROR_PROTOCOL_DEVIATION);
        assert_int_equal(sysmem_node_sync(tnode(c[0])), 0);
        close(sv[0]);
        close(sv[1]);
        close(pfd[0]);
        close(pfd[1]);
        /* A ref of a node that is gone (the other collection failed): NOT_FOUND. */
        sysmem_token_close(root2);
        usleep(20000);
        r = sysmem_node_is_alternate_for(tnode(sib[0]), ref_other, &alt);
        assert_true(r < 0);
        assert_int_equal(sysmem_node_error(tnode(sib[0])), SYSMEM_ERROR_NOT_FOUND);

        int refs[] = {ref_sib1, ref_c0, ref_c2, ref_nc, ref_root, ref_g, ref_c0_again, ref_other};
        for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
                close(refs[i]);
        h_agent_stop(&other);
        sysmem_token_close(nc);
        sysmem_group_close(n);
        sysmem_token_close(c[2]);
        sysmem_token_close(c[0]);
        sysmem_group_close(g);
        sysmem_token_close(sib[2]);
        sysmem_token_close(sib[1]);
        sysmem_token_close(sib[0]);
        sysmem_token_close(root);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 3. SetDispensable ---- */

/*
 * A dispensable participant D with a child DC. Killed after allocation, D's subtree fails (DC sees
 * UNSPECIFIED naming D) and the initiator and a plain participant keep working buffers and can go
 * on making calls; killing DC instead takes D with it and nobody else.
 */
static void run_dispensable_after(struct h_daemon *d, struct sysmem_allocator *a, bool kill_parent) {
        struct h_agent part, disp, child;
        struct h_rep rep;
        h_agent_spawn(&part, d, "plain");
        h_agent_spawn(&disp, d, "dispensable");
        h_agent_spawn(&child, d, "dispensable-child");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&disp, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        h_agent_cmd(&disp, H_SET_DISPENSABLE, 0, &rep);
        rep_expect_ok(&rep, "SetDispensable");
        h_agent_cmd(&disp, H_DUP, 0, &rep);
        rep_expect_ok(&rep, "Duplicate under the dispensable token");
        int fd = h_recv_fd(disp.sock, H_TIMEOUT_MS);
        h_agent_take_token(&child, fd, NULL);
        close(fd);

        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        agent_bind_set(&part, &k);
        agent_bind_set(&disp, &k);
        agent_bind_set(&child, &k);
        struct sysmem_collection *init = bind_token(root);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        /* The dispensable subtree's constraints count in the first allocation. */
        assert_int_equal(info->buffer_count, 4);
        agent_wait_ok(&part, &rep);
        agent_wait_ok(&disp, &rep);
        agent_wait_ok(&child, &rep);

        struct h_agent *victim = kill_parent ? &disp : &child, *other = kill_parent ? &child : &disp;
        h_agent_kill(victim);
        agent_expect_failed(other, SYSMEM_ERROR_UNSPECIFIED, victim->name);
        coll_expect_alive(init, info, 51, "initiator");
        agent_expect_alive(&part, 51);
        /* Later calls still work: a late joiner attaches into the room the dispensable subtree left. */
        struct sysmem_token *t;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        struct sysmem_collection *lc = bind_token(t);
        struct sysmem_constraints two = h_cpu_constraints(CPU_R, 2, 0);
        constrain(lc, &two);
        struct sysmem_collection_info *li = wait_ok(lc, "late joiner after the dispensable subtree failed");
        assert_int_equal(fd_ino(li->buffers[3].fd), fd_ino(info->buffers[3].fd));
        sysmem_collection_info_free(li);
        assert_int_equal(sysmem_collection_release(lc), 0);

        sysmem_collection_info_free(info);
        agent_release(&part);
        h_agent_stop(&part);
        h_agent_stop(other);
        assert_int_equal(sysmem_collection_release(init), 0);
        h_daemon_expect_fds(d, d->baseline_fds + 1);
}

static void test_dispensable_killed_after_allocation(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        run_dispensable_after(d, a, true);
        run_dispensable_after(d, a, false);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* Before allocation a dispensable participant's death still fails the whole collection. */
static void test_dispensable_killed_before_allocation(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part, disp;
        struct h_rep rep;
        h_agent_spawn(&part, d, "plain");
        h_agent_spawn(&disp, d, "dispensable");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&disp, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        h_agent_cmd(&disp, H_SET_DISPENSABLE, 0, &rep);
        rep_expect_ok(&rep, "SetDispensable");
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        agent_bind_set(&disp, &k);
        agent_bind_set(&part, &k);
        h_agent_send_cmd(&part, H_WAIT, 0);
        struct sysmem_collection *init = bind_token(root);
        h_agent_kill(&disp);
        node_expect_failed(cnode(init), SYSMEM_ERROR_UNSPECIFIED, "dispensable", "initiator");
        h_agent_reply(&part, &rep);
        rep_expect_error(&rep, SYSMEM_ERROR_UNSPECIFIED, "dispensable", "plain participant");
        sysmem_collection_close(init);
        h_agent_stop(&part);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 4. failure propagation in a tree three levels deep ---- */

enum {
        P_PLAIN,     /* root's plain child */
        P_DISP,      /* dispensable child of the root */
        P_DISP_KID,  /* under DISP */
        P_G0,        /* chosen child of group G (under a released token under DISP) */
        P_G1,        /* unchosen child of G */
        P_ATT,       /* AttachToken of the root */
        P_ATT_KID,   /* under ATT */
        P_ATT_ATT,   /* AttachToken of ATT_KID */
        P_WDISP,     /* weak and dispensable child of the root */
        P_WDISP_KID, /* under WDISP */
        P_WEAK,      /* weak child of the root */
        P_WEAK_KID,  /* under WEAK */
        P_COUNT
};

static const char *const p_names[P_COUNT] = {
        "plain", "disp", "disp-kid", "g0", "g1", "att", "att-kid", "att-att", "wdisp", "wdisp-kid", "weak", "weak-kid",
};

/* Duplicates the agent's token (Duplicate + Sync) and hands the new token to `to`. */
static void agent_dup_to(struct h_agent *from, struct h_agent *to) {
        struct h_rep rep;
        h_agent_cmd(from, H_DUP, 0, &rep);
        rep_expect_ok(&rep, from->name);
        int fd = h_recv_fd(from->sock, H_TIMEOUT_MS);
        h_agent_take_token(to, fd, NULL);
        close(fd);
}

static void check_tree(struct h_agent *p, const bool *alive, const bool *dead_now, const char *victim,
                       struct sysmem_collection *init, const struct sysmem_collection_info *info, uint32_t seed,
                       bool init_alive) {
        /* Failures first: once one arrived, the daemon has handled the whole failure domain. */
        for (int i = 0; i < P_COUNT; i++)
                if (dead_now[i])
                        agent_expect_failed(&p[i], SYSMEM_ERROR_UNSPECIFIED, victim);
        if (!init_alive) {
                node_expect_failed(cnode(init), SYSMEM_ERROR_UNSPECIFIED, victim, "root");
                return;
        }
        coll_expect_alive(init, info, seed, "root");
        for (int i = 0; i < P_COUNT; i++)
                if (alive[i])
                        agent_expect_alive(&p[i], seed);
}

static void test_failure_propagation_three_levels(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent p[P_COUNT];
        struct h_rep rep;
        for (int i = 0; i < P_COUNT; i++)
                h_agent_spawn(&p[i], d, p_names[i]);
        struct sysmem_allocator *a = h_connect(d, "root");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&p[P_PLAIN], dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&p[P_DISP], dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&p[P_WDISP], dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&p[P_WEAK], dup_token(root, SYSMEM_RIGHTS_SAME, NULL));

        /* disp: dispensable, with a child and a released token holding group G (g0 fits, g1 does not). */
        h_agent_cmd(&p[P_DISP], H_SET_DISPENSABLE, 0, &rep);
        rep_expect_ok(&rep, "SetDispensable");
        agent_dup_to(&p[P_DISP], &p[P_DISP_KID]);
        h_agent_cmd(&p[P_DISP], H_DUP, 0, &rep);
        rep_expect_ok(&rep, "Duplicate for the group owner");
        struct sysmem_token *owner;
        assert_int_equal(sysmem_token_from_fd(h_recv_fd(p[P_DISP].sock, H_TIMEOUT_MS), &owner), 0);
        struct sysmem_group *g;
        assert_int_equal(sysmem_token_create_group(owner, &g), 0);
        assert_int_equal(sysmem_token_release(owner), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_token *gc[2];
        assert_int_equal(sysmem_group_create_children_sync(g, 2, masks, gc), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        give(&p[P_G0], gc[0]);
        give(&p[P_G1], gc[1]);

        /* wdisp: weak and dispensable, weak-ok for its children; weak: weak, weak-ok for its children. */
        h_agent_cmd(&p[P_WDISP], H_SET_WEAK, 0, &rep);
        rep_expect_ok(&rep, "SetWeak");
        h_agent_cmd(&p[P_WDISP], H_SET_DISPENSABLE, 0, &rep);
        rep_expect_ok(&rep, "SetDispensable");
        h_agent_cmd(&p[P_WDISP], H_SET_WEAK_OK, 1, &rep);
        rep_expect_ok(&rep, "SetWeakOk");
        agent_dup_to(&p[P_WDISP], &p[P_WDISP_KID]);
        h_agent_cmd(&p[P_WEAK], H_SET_WEAK, 0, &rep);
        rep_expect_ok(&rep, "SetWeak");
        h_agent_cmd(&p[P_WEAK], H_SET_WEAK_OK, 1, &rep);
        rep_expect_ok(&rep, "SetWeakOk");
        agent_dup_to(&p[P_WEAK], &p[P_WEAK_KID]);

        /* att: attached to the root, with a child that attaches once more. */
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_token *att;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &att), 0);
        give(&p[P_ATT], att);
        agent_dup_to(&p[P_ATT], &p[P_ATT_KID]);

        /* One camping buffer each; 12 in all leaves room for the three attached participants. */
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        struct sysmem_constraints too_big = h_cpu_constraints(CPU_RW, 1, 1u << 20);
        for (int i = 0; i < P_COUNT; i++)
                if (i != P_ATT_ATT)
                        agent_bind_set(&p[i], i == P_G1 ? &too_big : &k);
        h_agent_cmd(&p[P_ATT_KID], H_ATTACH_TOKEN, 0, &rep);
        rep_expect_ok(&rep, "AttachToken of att-kid");
        int fd = h_recv_fd(p[P_ATT_KID].sock, H_TIMEOUT_MS);
        h_agent_take_token(&p[P_ATT_ATT], fd, NULL);
        close(fd);
        agent_bind_set(&p[P_ATT_ATT], &k);
        struct sysmem_constraints rk = k;
        rk.min_buffer_count = 12;
        rk.buffer_memory_constraints.max_size_bytes = 65536;
        constrain(init, &rk);
        struct sysmem_collection_info *info = wait_ok(init, "root");
        assert_int_equal(info->buffer_count, 12);
        for (int i = 0; i < P_COUNT; i++) {
                h_agent_cmd(&p[i], H_WAIT, 0, &rep);
                if (i == P_G1) {
                        rep_expect_error(&rep, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL, p_names[i]);
                        continue;
                }
                rep_expect_ok(&rep, p_names[i]);
                assert_int_equal(rep.buffer_count, 12);
                assert_int_equal(rep.ino[11], fd_ino(info->buffers[11].fd));
                bool weak = i == P_WDISP || i == P_WDISP_KID || i == P_WEAK || i == P_WEAK_KID;
                if (rep.has_weak_fd != weak)
                        fail_msg("%s: close_weak_asap %s", p_names[i], weak ? "missing" : "given to a strong node");
        }
        bool alive[P_COUNT], dead_now[P_COUNT];
        for (int i = 0; i < P_COUNT; i++)
                alive[i] = i != P_G1;
        coll_expect_alive(init, info, 60, "root");
        for (int i = 0; i < P_COUNT; i++)
                if (alive[i])
                        agent_expect_alive(&p[i], 60);

        /* 1. g0 (chosen group child, under a released token, under disp): disp's subtree fails. */
        h_agent_kill(&p[P_G0]);
        memset(dead_now, 0, sizeof dead_now);
        dead_now[P_DISP] = dead_now[P_DISP_KID] = true;
        alive[P_G0] = alive[P_DISP] = alive[P_DISP_KID] = false;
        check_tree(p, alive, dead_now, "g0", init, info, 61, true);
        node_expect_failed(gnode(g), SYSMEM_ERROR_UNSPECIFIED, "g0", "group G");
        sysmem_group_close(g);

        /* 2. att-att (nested attached): only itself. */
        h_agent_kill(&p[P_ATT_ATT]);
        alive[P_ATT_ATT] = false;
        memset(dead_now, 0, sizeof dead_now);
        usleep(50000); /* nothing fails that could be waited for */
        check_tree(p, alive, dead_now, "att-att", init, info, 62, true);

        /* 3. att-kid (in the attached subtree): att fails with it, nobody else. */
        h_agent_kill(&p[P_ATT_KID]);
        dead_now[P_ATT] = true;
        alive[P_ATT_KID] = alive[P_ATT] = false;
        check_tree(p, alive, dead_now, "att-kid", init, info, 63, true);

        /* 4. wdisp-kid (under a weak, dispensable node): wdisp fails with it. */
        h_agent_kill(&p[P_WDISP_KID]);
        memset(dead_now, 0, sizeof dead_now);
        dead_now[P_WDISP] = true;
        alive[P_WDISP_KID] = alive[P_WDISP] = false;
        check_tree(p, alive, dead_now, "wdisp-kid", init, info, 64, true);

        /* 5. weak-kid: weakness does not stop a failure; it climbs to the root and fails everyone. */
        h_agent_kill(&p[P_WEAK_KID]);
        memset(dead_now, 0, sizeof dead_now);
        dead_now[P_PLAIN] = dead_now[P_WEAK] = true;
        check_tree(p, alive, dead_now, "weak-kid", init, info, 65, false);

        sysmem_collection_info_free(info);
        sysmem_collection_close(init);
        for (int i = 0; i < P_COUNT; i++)
                if (p[i].pid > 0)
                        h_agent_stop(&p[i]);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 5. weak nodes ---- */

/*
 * A weak collection (SetWeak before SetConstraints) gets the buffers and a close_weak_asap fd that
 * stays up while a strong participant remains and hangs up once the last strong one released.
 */
static void test_weak_close_weak_asap(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent strong;
        struct h_rep rep;
        h_agent_spawn(&strong, d, "strong");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_allocator *wa = h_connect(d, "weak");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&strong, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_token *wt = dup_token(root, SYSMEM_RIGHTS_SAME, "weak");
        struct sysmem_collection *weak = NULL;
        assert_int_equal(sysmem_allocator_bind_shared(wa, wt, &weak), 0);
        assert_int_equal(sysmem_node_set_weak(cnode(weak)), 0);
        assert_int_equal(sysmem_node_set_weak_ok(cnode(weak), false), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(weak, &k);
        struct sysmem_collection *init = bind_token(root);
        constrain(init, &k);
        agent_bind_set(&strong, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator"), *winfo = wait_ok(weak, "weak");
        agent_wait_ok(&strong, &rep);
        assert_false(rep.has_weak_fd);
        assert_int_equal(info->close_weak_asap_fd, -1);
        assert_true(winfo->close_weak_asap_fd >= 0);
        assert_int_equal(winfo->buffer_count, 3);
        assert_true(winfo->buffers[0].fd >= 0);
        assert_int_equal(fd_ino(winfo->buffers[2].fd), fd_ino(info->buffers[2].fd));
        int cwa = winfo->close_weak_asap_fd;
        if (hung_up(cwa, 100))
                fail_msg("close_weak_asap hung up while two strong participants remain");

        /* One strong participant leaves (the daemon closes its end): the other still holds the buffers. */
        int before = h_fd_count(d->pid);
        agent_release(&strong);
        daemon_fds_at_most(d, before - 1, "the strong participant's Release");
        if (hung_up(cwa, 100))
                fail_msg("close_weak_asap hung up while a strong participant remains");
        assert_int_equal(sysmem_node_sync(cnode(weak)), 0);

        /* The last strong participant leaves: hang-up, read() gives 0. */
        assert_int_equal(sysmem_collection_release(init), 0);
        if (!hung_up(cwa, H_TIMEOUT_MS))
                fail_msg("close_weak_asap did not hang up after the last strong participant released");
        char byte;
        assert_int_equal(read(cwa, &byte, 1), 0);
        /* The weak participant's mappings keep working until it closes them; it leaves cleanly. */
        assert_int_equal(h_write_pattern(winfo->buffers[0].fd, 4096, 3, 0), 0);
        assert_int_equal(sysmem_node_sync(cnode(weak)), 0);
        sysmem_collection_info_free(info);
        sysmem_collection_info_free(winfo);
        assert_int_equal(sysmem_collection_release(weak), 0);
        h_agent_stop(&strong);
        sysmem_allocator_free(wa);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * SetWeakOk(for_child_nodes_also) reaches children made afterwards only: a weak child made before
 * it has no weak-ok, and its WaitForAllBuffersAllocated is a protocol deviation.
 */
static void test_weak_ok_inheritance(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *wt = dup_token(root, SYSMEM_RIGHTS_SAME, "weak-parent");
        assert_int_equal(sysmem_node_set_weak(tnode(wt)), 0);
        struct sysmem_token *early = dup_token(wt, SYSMEM_RIGHTS_SAME, "weak-early");
        assert_int_equal(sysmem_node_set_weak_ok(tnode(wt), true), 0);
        struct sysmem_token *late = dup_token(wt, SYSMEM_RIGHTS_SAME, "weak-late");
        struct sysmem_token *late2 = dup_token(late, SYSMEM_RIGHTS_SAME, "weak-late-grandchild");
        struct sysmem_collection *init = bind_token(root), *wc = bind_token(wt), *ec = bind_token(early),
                                 *lc = bind_token(late), *l2 = bind_token(late2);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(wc, &k);
        constrain(ec, &k);
        constrain(lc, &k);
        constrain(l2, &k);
        constrain(init, &k);
        struct sysmem_collection_info *i0 = wait_ok(init, "initiator"), *iw = wait_ok(wc, "weak parent"),
                                      *il = wait_ok(lc, "weak child made after SetWeakOk(true)"),
                                      *il2 = wait_ok(l2, "grandchild of it");
        assert_int_equal(i0->buffer_count, 5);
        assert_true(iw->close_weak_asap_fd >= 0 && il->close_weak_asap_fd >= 0 && il2->close_weak_asap_fd >= 0);
        assert_int_equal(i0->close_weak_asap_fd, -1);
        /* The weak child made before SetWeakOk(true): no weak-ok, so its wait fails the collection. */
        wait_fails(ec, SYSMEM_ERROR_PROTOCOL_DEVIATION, "weak child made before SetWeakOk(true)");
        node_expect_failed(cnode(init), SYSMEM_ERROR_UNSPECIFIED, "SetWeakOk", "initiator");
        sysmem_collection_info_free(i0);
        sysmem_collection_info_free(iw);
        sysmem_collection_info_free(il);
        sysmem_collection_info_free(il2);
        sysmem_collection_close(init);
        sysmem_collection_close(wc);
        sysmem_collection_close(ec);
        sysmem_collection_close(lc);
        sysmem_collection_close(l2);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* The ordering rules of SetWeak and SetWeakOk, and a collection left with weak participants only. */
static void test_weak_protocol_rules(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "weak-rules");
        struct sysmem_token *root, *t;
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);

        /* Only weak participants before allocation: the collection fails. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        t = dup_token(root, SYSMEM_RIGHTS_SAME, "made-strong");
        assert_int_equal(sysmem_node_set_weak(tnode(root)), 0);
        assert_int_equal(sysmem_node_sync(tnode(root)), 0); /* t is still strong */
        assert_int_equal(sysmem_node_set_weak(tnode(t)), 0);
        node_expect_failed(tnode(root), SYSMEM_ERROR_UNSPECIFIED, "weak", "root of an all-weak collection");
        sysmem_token_close(t);
        sysmem_token_close(root);

        /* SetWeak after SetConstraints. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *c = bind_token(dup_token(root, SYSMEM_RIGHTS_SAME, "late-weak"));
        assert_int_equal(sysmem_collection_set_constraints(c, &k), 0);
        assert_int_equal(sysmem_node_set_weak(cnode(c)), 0);
        node_expect_failed(cnode(c), SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetWeak", "SetWeak after SetConstraints");
        node_expect_failed(tnode(root), SYSMEM_ERROR_UNSPECIFIED, "SetWeak", "root");
        sysmem_collection_close(c);
        sysmem_token_close(root);

        /* SetWeak on a group after AllChildrenPresent. */
        struct sysmem_group *g = new_group(a, &root);
        uint32_t same = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_group_create_children_sync(g, 1, &same, &t), 0);
        assert_int_equal(sysmem_group_all_children_present(g), 0);
        assert_int_equal(sysmem_node_set_weak(gnode(g)), 0);
        expect_group_deviation(g, root, "SetWeak", "SetWeak on a group after AllChildrenPresent");
        sysmem_token_close(t);

        /* SetWeakOk after WaitForAllBuffersAllocated. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        c = bind_token(dup_token(root, SYSMEM_RIGHTS_SAME, "late-weak-ok"));
        constrain(c, &k);
        struct sysmem_collection *init = bind_token(root);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(c, "participant");
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_node_set_weak_ok(cnode(c), false), 0);
        node_expect_failed(cnode(c), SYSMEM_ERROR_PROTOCOL_DEVIATION, "SetWeakOk", "SetWeakOk after the wait");
        node_expect_failed(cnode(init), SYSMEM_ERROR_UNSPECIFIED, "SetWeakOk", "root");
        sysmem_collection_close(c);
        sysmem_collection_close(init);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * A node that released and closed is no longer strong: when the last strong participant (another
 * process) releases its collection and exits before allocation, the weak participant left alone
 * fails (sysmem: zero strong nodes before allocation). If the last strong node's release is what
 * completes the tree, sysmem's check (a posted task) comes after that allocation: the weak
 * participant gets its buffers, and close_weak_asap at once.
 */
static void test_weak_only_after_strong_released(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent strong, weak, weak2;
        struct h_rep rep;
        h_agent_spawn(&strong, d, "strong");
        h_agent_spawn(&weak, d, "weak");
        h_agent_spawn(&weak2, d, "weak-completed");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        struct sysmem_token *root;

        /* 1. The weak participant has not set constraints yet when the strong one leaves cleanly. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&weak, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        h_agent_cmd(&weak, H_SET_WEAK, 0, &rep);
        rep_expect_ok(&rep, "SetWeak");
        h_agent_cmd(&weak, H_BIND, 0, &rep);
        rep_expect_ok(&rep, "weak Bind");
        h_agent_cmd(&weak, H_SYNC, 0, &rep);
        rep_expect_ok(&rep, "weak Sync");
        give(&strong, root);
        agent_bind_set(&strong, &k);
        agent_release(&strong);
        h_agent_stop(&strong);
        agent_expect_failed(&weak, SYSMEM_ERROR_UNSPECIFIED, "strong");

        /* 2. The strong root token's Release and close is what makes the tree ready: it is allocated. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&weak2, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        h_agent_cmd(&weak2, H_SET_WEAK, 0, &rep);
        rep_expect_ok(&rep, "weak2 SetWeak");
        agent_bind_set(&weak2, &k);
        h_agent_send_cmd(&weak2, H_WAIT, 0);
        assert_int_equal(sysmem_token_release(root), 0);
        h_agent_reply(&weak2, &rep);
        rep_expect_ok(&rep, "weak participant whose tree the last strong release completed");
        assert_true(rep.has_weak_fd);
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        for (;;) {
                h_agent_cmd(&weak2, H_WEAK_STATE, 0, &rep);
                if (rep.value == 1)
                        break;
                if (h_now_ms() >= deadline)
                        fail_msg("close_weak_asap did not hang up with no strong participant left");
                usleep(5000);
        }
        agent_release(&weak2);
        h_agent_stop(&weak2);
        h_agent_stop(&weak);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * The only strong participant with buffers releases while an attached (strong) token is still on
 * its way, with a weak participant present: the daemon keeps the buffers for the token, which then
 * joins with real fds; close_weak_asap hangs up only after it released too.
 */
static void test_weak_with_pending_attached_token(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent late;
        struct h_rep rep;
        h_agent_spawn(&late, d, "late-strong");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *weak = bind_token(dup_token(root, SYSMEM_RIGHTS_SAME, "weak"));
        assert_int_equal(sysmem_node_set_weak(cnode(weak)), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(weak, &k);
        struct sysmem_collection *init = bind_token(root);
        k.min_buffer_count = 3;
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator"), *winfo = wait_ok(weak, "weak");
        struct sysmem_token *t;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        give(&late, t);
        assert_int_equal(sysmem_collection_release(init), 0);
        usleep(50000);
        if (hung_up(winfo->close_weak_asap_fd, 0))
                fail_msg("close_weak_asap hung up while a strong attached token was still to come");
        struct sysmem_constraints one = h_cpu_constraints(CPU_RW, 1, 0);
        agent_bind_set(&late, &one);
        agent_wait_ok(&late, &rep);
        if (!rep.fd_present[0] || rep.ino[0] != fd_ino(info->buffers[0].fd))
                fail_msg("the late strong participant got no buffers (or other ones) after the first strong one left");
        agent_release(&late);
        if (!hung_up(winfo->close_weak_asap_fd, H_TIMEOUT_MS))
                fail_msg("close_weak_asap did not hang up after the last strong participant released");
        sysmem_collection_info_free(info);
        sysmem_collection_info_free(winfo);
        assert_int_equal(sysmem_collection_release(weak), 0);
        h_agent_stop(&late);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/*
 * A weak participant that arrives after close_weak_asap was given (an attached token made weak
 * before it joined, the last strong participant gone meanwhile) gets the settings, no fds, and a
 * close_weak_asap that is hung up from the start.
 */
static void test_weak_late_joiner_after_signal(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *weak = bind_token(dup_token(root, SYSMEM_RIGHTS_SAME, "weak"));
        assert_int_equal(sysmem_node_set_weak(cnode(weak)), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(weak, &k);
        struct sysmem_collection *init = bind_token(root);
        k.min_buffer_count = 4;
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator"), *winfo = wait_ok(weak, "weak");
        struct sysmem_token *t;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &t), 0);
        assert_int_equal(sysmem_node_set_weak(tnode(t)), 0);
        assert_int_equal(sysmem_node_sync(tnode(t)), 0);
        assert_int_equal(sysmem_collection_release(init), 0);
        if (!hung_up(winfo->close_weak_asap_fd, H_TIMEOUT_MS))
                fail_msg("close_weak_asap did not hang up once only weak participants were left");
        struct sysmem_collection *late = bind_token(t);
        struct sysmem_constraints one = h_cpu_constraints(CPU_R, 1, 0);
        constrain(late, &one);
        struct sysmem_collection_info *linfo = wait_ok(late, "weak late joiner");
        assert_int_equal(linfo->buffer_count, 4);
        assert_int_equal(linfo->settings.buffer_settings.size_bytes, 4096);
        for (uint32_t b = 0; b < 4; b++)
                if (linfo->buffers[b].fd >= 0)
                        fail_msg("a weak participant arriving after close_weak_asap got buffer %u", b);
        if (linfo->close_weak_asap_fd < 0 || !hung_up(linfo->close_weak_asap_fd, 0))
                fail_msg("a weak participant arriving after close_weak_asap got no hung-up close_weak_asap");
        sysmem_collection_info_free(linfo);
        sysmem_collection_info_free(winfo);
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(late), 0);
        assert_int_equal(sysmem_collection_release(weak), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 6. AttachLifetimeTracking ---- */

/*
 * On Linux buffer lifetime is logical (docs/differences.md): the buffers are held until every
 * participant that could hold them has released or failed. So a tracker hangs up:
 *  - at allocation (or at once after it) when buffers_remaining >= the buffer count;
 *  - at once when its node's own allocation fails;
 *  - otherwise only when the last participant holding the buffers is gone, even if the node it
 *    was attached to failed earlier (a dispensable subtree).
 */
static void test_lifetime_tracking(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent part, disp_kid, late;
        struct h_rep rep;
        h_agent_spawn(&part, d, "participant");
        h_agent_spawn(&disp_kid, d, "dispensable-kid");
        h_agent_spawn(&late, d, "late-no-room");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&part, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_token *dt = dup_token(root, SYSMEM_RIGHTS_SAME, "dispensable");
        assert_int_equal(sysmem_token_set_dispensable(dt), 0);
        give(&disp_kid, dup_token(dt, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_collection *disp = bind_token(dt), *init = bind_token(root);
        struct sysmem_token *lt;
        assert_int_equal(sysmem_collection_attach_token(init, SYSMEM_RIGHTS_SAME, &lt), 0);
        give(&late, lt);

        int t0, t1, t3, t9, td;
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(init, 0, &t0), 0);
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(init, 1, &t1), 0);
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(init, 3, &t3), 0);
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(disp, 0, &td), 0);
        h_agent_cmd(&part, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&part, H_LIFETIME, 9, &rep);
        rep_expect_ok(&rep, "AttachLifetimeTracking in the participant");
        t9 = h_recv_fd(part.sock, H_TIMEOUT_MS);
        assert_int_equal(sysmem_node_sync(cnode(init)), 0);
        assert_int_equal(sysmem_node_sync(cnode(disp)), 0);
        int all[] = {t0, t1, t3, t9, td};
        for (size_t i = 0; i < 5; i++)
                if (hung_up(all[i], 0))
                        fail_msg("a lifetime tracker hung up before allocation");

        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        h_agent_set_constraints(&part, &k);
        constrain(disp, &k);
        struct h_agent *kid = &disp_kid;
        h_agent_cmd(kid, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_set_constraints(kid, &k);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator"), *dinfo = wait_ok(disp, "dispensable");
        assert_int_equal(info->buffer_count, 4);
        agent_wait_ok(&part, &rep);
        agent_wait_ok(kid, &rep);
        /* 9 >= 4 buffers: hangs up with the allocation; the others wait. */
        if (!hung_up(t9, H_TIMEOUT_MS))
                fail_msg("a tracker with buffers_remaining 9 >= 4 buffers did not hang up at allocation");
        for (size_t i = 0; i < 5; i++)
                if (all[i] != t9 && hung_up(all[i], 0))
                        fail_msg("a tracker with buffers_remaining < 4 hung up at allocation");
        /* After allocation, enough remaining: at once; too few: it waits. */
        int t4, t2;
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(init, 4, &t4), 0);
        assert_int_equal(sysmem_collection_attach_lifetime_tracking(init, 2, &t2), 0);
        if (!hung_up(t4, H_TIMEOUT_MS))
                fail_msg("a tracker attached after allocation with buffers_remaining 4 did not hang up");
        assert_int_equal(sysmem_node_sync(cnode(init)), 0);
        if (hung_up(t2, 0))
                fail_msg("a tracker attached after allocation with buffers_remaining 2 < 4 hung up");

        /* A late joiner that does not fit: its node's allocation fails, so its tracker hangs up at once. */
        h_agent_cmd(&late, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_cmd(&late, H_LIFETIME, 0, &rep);
        rep_expect_ok(&rep, "AttachLifetimeTracking in the late joiner");
        int tl = h_recv_fd(late.sock, H_TIMEOUT_MS);
        struct sysmem_constraints no_room = h_cpu_constraints(CPU_R, 1, 0);
        struct h_req req = {.cmd = H_SET_CONSTRAINTS, .constraints = no_room};
        h_agent_call(&late, &req, &rep); /* may already report the failure */
        agent_wait_fails(&late, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, NULL);
        if (!hung_up(tl, H_TIMEOUT_MS))
                fail_msg("the tracker of a late joiner whose allocation failed did not hang up");

        /*
         * The dispensable subtree fails (its child dies). The participants that hold the buffers are
         * still there, so no tracker hangs up, not even the one attached to the failed node.
         */
        h_agent_kill(kid);
        node_expect_failed(cnode(disp), SYSMEM_ERROR_UNSPECIFIED, "dispensable-kid", "dispensable");
        sysmem_collection_close(disp);
        sysmem_collection_info_free(dinfo);
        assert_int_equal(sysmem_node_sync(cnode(init)), 0);
        int waiting[] = {t0, t1, t3, t2, td};
        static const char *const wnames[] = {"0 (root)", "1 (root)", "3 (root)", "2 (root, after allocation)",
                                             "0 (the failed dispensable node)"};
        for (size_t i = 0; i < 5; i++)
                if (hung_up(waiting[i], 0))
                        fail_msg("the tracker %s hung up while participants still hold the buffers", wnames[i]);
        /* One holder releases: the other still holds them. */
        int before = h_fd_count(d->pid);
        agent_release(&part);
        daemon_fds_at_most(d, before - 1, "the participant's Release");
        for (size_t i = 0; i < 5; i++)
                if (hung_up(waiting[i], 0))
                        fail_msg("the tracker %s hung up while the initiator still holds the buffers", wnames[i]);
        /* The last holder releases: every tracker hangs up. */
        assert_int_equal(sysmem_collection_release(init), 0);
        for (size_t i = 0; i < 5; i++)
                if (!hung_up(waiting[i], H_TIMEOUT_MS))
                        fail_msg("the tracker %s did not hang up after every participant released", wnames[i]);

        int fds[] = {t0, t1, t2, t3, t4, t9, td, tl};
        for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
                close(fds[i]);
        sysmem_collection_info_free(info);
        h_agent_stop(&part);
        h_agent_stop(&late);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 7. GetVmoInfo ---- */

static void test_get_vmo_info(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent writer, reader;
        struct h_rep rep;
        h_agent_spawn(&writer, d, "writer");
        h_agent_spawn(&reader, d, "reader");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&writer, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        give(&reader, dup_token(root, SYSMEM_RIGHTS_SAME, NULL));
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        struct sysmem_constraints kr = h_cpu_constraints(CPU_R, 1, 4096);
        agent_bind_set(&writer, &k);
        agent_bind_set(&reader, &kr);
        constrain(init, &k);
        struct sysmem_collection_info *info = wait_ok(init, "initiator");
        agent_wait_ok(&writer, &rep);
        agent_wait_ok(&reader, &rep);
        /* A second collection in parallel, so that ids and indexes cannot be confused. */
        struct sysmem_collection *other;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &other), 0);
        struct sysmem_constraints two = h_cpu_constraints(CPU_RW, 2, 4096);
        constrain(other, &two);
        struct sysmem_collection_info *oinfo = wait_ok(other, "other collection");
        assert_true(oinfo->buffer_collection_id != info->buffer_collection_id);

        uint64_t id = 0, index = 0;
        for (uint32_t b = 0; b < info->buffer_count; b++) {
                assert_int_equal(sysmem_allocator_get_vmo_info(a, info->buffers[b].fd, &id, &index), 0);
                assert_int_equal(id, info->buffer_collection_id);
                assert_int_equal(index, b);
                /* The same buffers through other processes' connections (read-write and read-only fds). */
                h_agent_cmd(&writer, H_GET_VMO_INFO, b, &rep);
                rep_expect_ok(&rep, "GetVmoInfo in the writer");
                assert_int_equal(rep.id, info->buffer_collection_id);
                assert_int_equal(rep.value, b);
                h_agent_cmd(&reader, H_GET_VMO_INFO, b, &rep);
                rep_expect_ok(&rep, "GetVmoInfo of a read-only fd");
                assert_int_equal(rep.id, info->buffer_collection_id);
                assert_int_equal(rep.value, b);
        }
        for (uint32_t b = 0; b < oinfo->buffer_count; b++) {
                assert_int_equal(sysmem_allocator_get_vmo_info(a, oinfo->buffers[b].fd, &id, &index), 0);
                assert_int_equal(id, oinfo->buffer_collection_id);
                assert_int_equal(index, b);
        }
        /* A buffer fd received from another process (a dup of its open file). */
        h_agent_cmd(&reader, H_GIVE_BUFFERS, 0, &rep);
        assert_int_equal(rep.value, 3);
        for (uint32_t b = 0; b < 3; b++) {
                int fd = h_recv_fd(reader.sock, H_TIMEOUT_MS);
                assert_int_equal(sysmem_allocator_get_vmo_info(a, fd, &id, &index), 0);
                assert_int_equal(index, b);
                close(fd);
        }

        /* Not buffers: ENOENT (NOT_FOUND), and the allocator connection stays usable. */
        int mfd = memfd_create("not-sysmem", MFD_CLOEXEC);
        assert_true(mfd >= 0);
        assert_int_equal(ftruncate(mfd, 4096), 0);
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        char path[] = "/tmp/sysmem-vmo-info-XXXXXX";
        int tfd = mkostemp(path, O_CLOEXEC);
        assert_true(tfd >= 0);
        unlink(path);
        int probes[] = {mfd, pfd[0], pfd[1], tfd, sysmem_node_get_fd(cnode(init))};
        static const char *const pnames[] = {"a memfd not from sysmem", "a pipe", "a pipe", "a regular file",
                                             "a collection socket"};
        for (size_t i = 0; i < 5; i++) {
                int r = sysmem_allocator_get_vmo_info(a, probes[i], &id, &index);
                if (r != -ENOENT)
                        fail_msg("GetVmoInfo of %s gave %d (%s), expected -ENOENT", pnames[i], r,
                                 r >= 0 ? "found" : strerror(-r));
        }
        close(mfd);
        close(pfd[0]);
        close(pfd[1]);
        close(tfd);

        /* Once every participant left, the buffers are no longer sysmem's (logical lifetime). */
        sysmem_collection_info_free(oinfo);
        assert_int_equal(sysmem_collection_release(other), 0);
        agent_release(&writer);
        agent_release(&reader);
        assert_int_equal(sysmem_collection_release(init), 0);
        /* What is left: three allocator connections (this process's and the agents'). */
        h_daemon_expect_fds(d, d->baseline_fds + 3);
        int r = sysmem_allocator_get_vmo_info(a, info->buffers[0].fd, &id, &index);
        if (r != -ENOENT)
                fail_msg("GetVmoInfo of a buffer of a collection everyone left gave %d, expected -ENOENT", r);
        sysmem_collection_info_free(info);
        h_agent_stop(&writer);
        h_agent_stop(&reader);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 10. the stuck-allocation log and verbose logging ---- */

static uint64_t monotonic_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_stuck_allocation_log(void **state) {
        struct h_daemon d;
        static const char *const args[] = {"--log-level", "info", NULL};
        h_daemon_start_logged(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "stuck-initiator");

        /* A collection waiting for a token that never binds, with the deadline 100 ms from now. */
        struct sysmem_token *root, *quiet_root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_token *stuck = dup_token(root, SYSMEM_RIGHTS_SAME, "never-bound-token-7f3a");
        struct sysmem_collection *init = bind_token(root);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(init, &k);
        /* A control collection with a stuck token but no deadline: it must stay quiet for now. */
        assert_int_equal(sysmem_allocator_allocate_shared(a, &quiet_root), 0);
        struct sysmem_token *quiet = dup_token(quiet_root, SYSMEM_RIGHTS_SAME, "quiet-token-c9d2");
        int64_t start = h_now_ms();
        assert_int_equal(sysmem_node_set_debug_timeout_log_deadline(cnode(init), monotonic_ns() + 100000000u), 0);
        assert_int_equal(sysmem_node_sync(cnode(init)), 0);
        static const char *const want[] = {"never-bound-token-7f3a", "not yet bound", NULL};
        if (!h_daemon_log_wait(&d, want, 1100))
                fail_msg("no log line naming the stuck token within a second of its deadline");
        int64_t took = h_now_ms() - start;
        if (took < 80)
                fail_msg("the stuck-allocation log came after %lld ms, before its 100 ms deadline", (long long)took);
        static const char *const quiet_want[] = {"quiet-token-c9d2", NULL};
        if (h_daemon_log_wait(&d, quiet_want, 0))
                fail_msg("a collection without an early deadline logged its stuck token within a second");
        /* The one timer of every stuck log fires again for a later deadline (it was one-shot once). */
        assert_int_equal(sysmem_node_set_debug_timeout_log_deadline(sysmem_token_node(quiet_root),
                                                                    monotonic_ns() + 100000000u),
                         0);
        assert_int_equal(sysmem_node_sync(sysmem_token_node(quiet_root)), 0);
        if (!h_daemon_log_wait(&d, quiet_want, 1100))
                fail_msg("a second deadline, set after the first log, never logged");

        /* Verbose logging shows the participants' constraints. */
        struct sysmem_token *vroot;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &vroot), 0);
        struct sysmem_token *vt = dup_token(vroot, SYSMEM_RIGHTS_SAME, "verbose-peer-41b7");
        struct sysmem_collection *vc = bind_token(vt), *vi = bind_token(vroot);
        assert_int_equal(sysmem_node_set_verbose_logging(cnode(vi)), 0);
        struct sysmem_constraints vk = h_cpu_constraints(CPU_R, 3, 12345);
        constrain(vc, &vk);
        constrain(vi, &k);
        struct sysmem_collection_info *vinfo = wait_ok(vi, "verbose initiator");
        static const char *const vwant[] = {"verbose-peer-41b7", "camping 3", "12345", NULL};
        if (!h_daemon_log_wait(&d, vwant, H_TIMEOUT_MS))
                fail_msg("verbose logging did not log the participant's constraints");
        static const char *const rwant[] = {"result", "4 buffers", NULL};
        if (!h_daemon_log_wait(&d, rwant, H_TIMEOUT_MS))
                fail_msg("verbose logging did not log the result");
        sysmem_collection_info_free(vinfo);
        /* Without SetVerboseLogging the constraints are not logged. */
        struct sysmem_token *sroot;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &sroot), 0);
        struct sysmem_collection *sc = bind_token(dup_token(sroot, SYSMEM_RIGHTS_SAME, "silent-peer-5e01"));
        struct sysmem_collection *si = bind_token(sroot);
        constrain(sc, &vk);
        constrain(si, &k);
        struct sysmem_collection_info *sinfo = wait_ok(si, "silent initiator");
        sysmem_collection_info_free(sinfo);
        static const char *const swant[] = {"silent-peer-5e01", "camping", NULL};
        if (h_daemon_log_wait(&d, swant, 200))
                fail_msg("a collection without SetVerboseLogging logged its constraints");

        sysmem_collection_close(sc);
        sysmem_collection_close(si);
        sysmem_collection_close(vc);
        sysmem_collection_close(vi);
        sysmem_token_close(quiet);
        sysmem_token_close(quiet_root);
        sysmem_token_close(stuck);
        sysmem_collection_close(init);
        sysmem_allocator_free(a);
        h_daemon_stop(&d);
}

/*
 * A node that fails takes its own children with its failure domain: in an AttachToken subtree T -> D -> E,
 * D's deviation fails T, D and E, and E cannot keep the collection (and its buffers) alive afterwards.
 */
static void test_failed_node_takes_its_children(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "failing-child");
        struct sysmem_token *root, *t, *dd, *e;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        struct sysmem_collection *c = bind_token(root);
        assert_int_equal(sysmem_collection_attach_token(c, SYSMEM_RIGHTS_SAME, &t), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 4096);
        constrain(c, &k);
        struct sysmem_collection_info *info = wait_ok(c, "root");
        sysmem_collection_info_free(info);
        dd = dup_token(t, SYSMEM_RIGHTS_SAME, "child-D");
        e = dup_token(dd, SYSMEM_RIGHTS_SAME, "grandchild-E");
        /* D sends an unknown opcode: D fails, and its domain (the AttachToken subtree T) with it. */
        uint8_t buf[16];
        h_wire_header(buf, sizeof buf, 9999, 0, 0, 0);
        assert_int_equal(h_send_raw(sysmem_node_get_fd(sysmem_token_node(dd)), buf, sizeof buf, NULL, 0), 0);
        assert_true(h_poll_readable(sysmem_node_get_fd(sysmem_token_node(dd)), H_TIMEOUT_MS));
        int rt = sysmem_node_sync(sysmem_token_node(t));
        int re = sysmem_node_sync(sysmem_token_node(e));
        print_message("after D failed: Sync on T (its domain top) = %d, on E (D's child) = %d\n", rt, re);
        /* Everyone else leaves cleanly. */
        assert_int_equal(sysmem_collection_release(c), 0);
        usleep(200 * 1000);
        int re2 = sysmem_node_sync(sysmem_token_node(e));
        print_message("after the root released and closed: Sync on E = %d\n", re2);
        sysmem_token_close(e);
        sysmem_token_close(dd);
        sysmem_token_close(t);
        sysmem_allocator_free(a);
        assert_true(rt != 0);
        assert_true(re != 0);
        assert_true(re2 != 0);
}

int main(int argc, char **argv) {
        /* An argument runs only the tests whose names match it (a cmocka pattern). */
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_attach_token_not_counted_and_never_blocks, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_attach_token_late_joiners, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_attach_token_with_group, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_attach_token_protocol_errors, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_attach_token_dispensable_stays_isolated, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_first_fit_in_priority_order, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_odometer_advances_last_group_first, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_nested, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_combination_limit, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_protocol_errors, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_group_create_child_mask_zero, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_is_alternate_for, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_dispensable_killed_after_allocation, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_dispensable_killed_before_allocation, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_failure_propagation_three_levels, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_close_weak_asap, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_ok_inheritance, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_protocol_rules, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_only_after_strong_released, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_with_pending_attached_token, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_weak_late_joiner_after_signal, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_lifetime_tracking, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_get_vmo_info, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_stuck_allocation_log, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_failed_node_takes_its_children, h_setup, h_teardown),
        };
        return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
