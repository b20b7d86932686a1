/* test-faults.c: killed participants, hostile bytes on every kind of socket, and shutdown, against a real sysmemd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "wire/messages.h"
#include "wire/wire.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)
#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)

static struct sysmem_node *cnode(struct sysmem_collection *c) { return sysmem_collection_node(c); }

static void expect_node_failed(struct sysmem_node *n, enum sysmem_error error, const char *mention, const char *who) {
        if (sysmem_node_error(n) != error)
                fail_msg("%s: error %s (%s), expected %s", who, sysmem_error_name(sysmem_node_error(n)),
                         sysmem_node_error_message(n), sysmem_error_name(error));
        if (mention && !strstr(sysmem_node_error_message(n), mention))
                fail_msg("%s: the message \"%s\" does not mention '%s'", who, sysmem_node_error_message(n), mention);
}

static void expect_rep_failed(const struct h_rep *rep, enum sysmem_error error, const char *mention, const char *who) {
        if (rep->r >= 0)
                fail_msg("%s: the call succeeded; expected %s", who, sysmem_error_name(error));
        if (rep->error != error)
                fail_msg("%s: error %s (%s), expected %s", who, sysmem_error_name(rep->error), rep->message,
                         sysmem_error_name(error));
        if (mention && !strstr(rep->message, mention))
                fail_msg("%s: the message \"%s\" does not mention '%s'", who, rep->message, mention);
}

/* A complete negotiation between two participants of a new collection; proves the daemon serves. */
static void negotiate_fresh(struct sysmem_allocator *a, const char *what) {
        struct sysmem_token *root, *dup;
        int r = sysmem_allocator_allocate_shared(a, &root);
        if (r < 0)
                fail_msg("%s: a new collection cannot be created: %s", what, strerror(-r));
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        struct sysmem_collection *c1, *c2;
        assert_int_equal(sysmem_token_bind(root, &c1), 0);
        assert_int_equal(sysmem_allocator_bind_shared(a, dup, &c2), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(c1, &cons), 0);
        assert_int_equal(sysmem_collection_set_constraints(c2, &cons), 0);
        struct sysmem_collection_info *i1 = NULL, *i2 = NULL;
        if (h_wait_allocated(c1, H_TIMEOUT_MS, &i1) < 0 || h_wait_allocated(c2, H_TIMEOUT_MS, &i2) < 0)
                fail_msg("%s: a fresh negotiation failed: %s", what, sysmem_node_error_message(cnode(c1)));
        assert_int_equal(i1->buffer_count, 2);
        assert_int_equal(i2->buffer_collection_id, i1->buffer_collection_id);
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(c1), 0);
        assert_int_equal(sysmem_collection_release(c2), 0);
}

/* ---- 7. a participant killed at each step ---- */

enum kill_step { KILL_HOLDING_TOKEN, KILL_AFTER_BIND, KILL_AFTER_CONSTRAINTS, KILL_IN_WAIT };

struct async_result {
        int calls;
        int result;
        struct sysmem_collection_info *info;
};

static void on_allocated(struct sysmem_collection *c, int result, struct sysmem_collection_info *info, void *userdata) {
        struct async_result *ar = userdata;
        ar->calls++;
        ar->result = result;
        ar->info = info;
}

/* Drives an async wait until its callback ran; fails the test if it does not within the timeout. */
static void drive_until_called(struct sysmem_collection *c, struct async_result *ar, const char *what) {
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        while (ar->calls == 0) {
                int left = (int)(deadline - h_now_ms());
                if (left <= 0 || !h_poll_readable(sysmem_node_get_fd(cnode(c)), left))
                        fail_msg("%s: the pending wait got no answer", what);
                (void)sysmem_node_dispatch(cnode(c));
        }
        assert_int_equal(ar->calls, 1);
}

static void wait_agent_blocked(struct h_agent *a) {
        /* The agent is blocked in its wait once it sleeps; that is near enough for the scenario. */
        int64_t deadline = h_now_ms() + 2000;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)a->pid);
        while (h_now_ms() < deadline) {
                FILE *f = fopen(path, "re");
                size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
                if (f)
                        fclose(f);
                buf[n] = 0;
                const char *p = strrchr(buf, ')');
                if (p && p[1] == ' ' && p[2] == 'S')
                        break;
                usleep(1000);
        }
        usleep(20000);
}

static void run_kill_scenario(struct h_daemon *d, struct sysmem_allocator *a, enum kill_step step) {
        static const char *const names[] = {"victim-holding-token", "victim-after-bind", "victim-after-constraints",
                                            "victim-in-wait"};
        const char *vname = names[step];
        int baseline = h_daemon_settled_fds(d);
        struct h_agent victim, survivor;
        struct h_rep rep;
        h_agent_spawn(&victim, d, vname);
        h_agent_spawn(&survivor, d, "survivor");

        struct sysmem_token *root, *dups[2];
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, dups), 0);
        int fd = sysmem_token_to_fd(dups[0]);
        h_agent_take_token(&victim, fd, vname);
        close(fd);
        fd = sysmem_token_to_fd(dups[1]);
        h_agent_take_token(&survivor, fd, "survivor");
        close(fd);

        struct sysmem_collection *mine;
        assert_int_equal(sysmem_token_bind(root, &mine), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(mine, &cons), 0);
        struct async_result ar = {0};
        assert_int_equal(sysmem_collection_wait_allocated_async(mine, on_allocated, &ar), 0);

        /* Early steps: the survivor is already waiting; later steps: it is not done yet and waits afterwards. */
        bool survivor_waits_first = step == KILL_HOLDING_TOKEN || step == KILL_AFTER_BIND;
        h_agent_cmd(&survivor, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        if (survivor_waits_first) {
                h_agent_set_constraints(&survivor, &cons);
                h_agent_send_cmd(&survivor, H_WAIT, 0);
        }

        if (step >= KILL_AFTER_BIND) {
                h_agent_cmd(&victim, H_BIND, 0, &rep);
                assert_int_equal(rep.r, 0);
        }
        if (step >= KILL_AFTER_CONSTRAINTS)
                h_agent_set_constraints(&victim, &cons);
        if (step == KILL_IN_WAIT) {
                h_agent_send_cmd(&victim, H_WAIT, 0);
                wait_agent_blocked(&victim);
        } else {
                h_agent_cmd(&victim, H_SYNC, 0, &rep); /* everything it sent has reached the daemon */
                assert_int_equal(rep.r, 0);
        }
        h_agent_kill(&victim);

        /* This process's pending wait fails, naming the participant that died. */
        drive_until_called(mine, &ar, vname);
        if (ar.result >= 0)
                fail_msg("%s: the initiator's wait succeeded after a participant was killed", vname);
        expect_node_failed(cnode(mine), SYSMEM_ERROR_UNSPECIFIED, vname, "initiator");

        if (survivor_waits_first) {
                h_agent_reply(&survivor, &rep);
        } else {
                struct h_req req = {.cmd = H_SET_CONSTRAINTS, .constraints = cons};
                h_agent_call(&survivor, &req, &rep); /* may already report the failure */
                h_agent_cmd(&survivor, H_WAIT, 0, &rep);
        }
        expect_rep_failed(&rep, SYSMEM_ERROR_UNSPECIFIED, vname, "survivor");

        /* The daemon serves a brand-new collection right away. */
        negotiate_fresh(a, vname);
        sysmem_collection_close(mine);
        h_agent_stop(&survivor);
        h_daemon_expect_fds(d, baseline);
}

static void test_kill_holding_token(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        run_kill_scenario(d, a, KILL_HOLDING_TOKEN);
        sysmem_allocator_free(a);
}

static void test_kill_after_bind(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        run_kill_scenario(d, a, KILL_AFTER_BIND);
        sysmem_allocator_free(a);
}

static void test_kill_after_constraints(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        run_kill_scenario(d, a, KILL_AFTER_CONSTRAINTS);
        sysmem_allocator_free(a);
}

static void test_kill_in_wait(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        run_kill_scenario(d, a, KILL_IN_WAIT);
        sysmem_allocator_free(a);
}

static void test_failure_does_not_disturb_parallel_collection(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        int baseline = h_daemon_settled_fds(d);
        struct h_agent victim, partner;
        struct h_rep rep;
        h_agent_spawn(&victim, d, "doomed");
        h_agent_spawn(&partner, d, "partner");
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 2, 8192);
        uint32_t mask = SYSMEM_RIGHTS_SAME;

        /* The healthy collection: this process and the partner, half-way through. */
        struct sysmem_token *h_root, *h_dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &h_root), 0);
        assert_int_equal(sysmem_token_duplicate_sync(h_root, 1, &mask, &h_dup), 0);
        int fd = sysmem_token_to_fd(h_dup);
        h_agent_take_token(&partner, fd, NULL);
        close(fd);
        h_agent_cmd(&partner, H_BIND_ALLOCATOR, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_set_constraints(&partner, &cons);
        h_agent_send_cmd(&partner, H_WAIT, 0);

        /* The doomed collection, negotiating at the same time. */
        struct sysmem_token *f_root, *f_dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &f_root), 0);
        assert_int_equal(sysmem_token_duplicate_sync(f_root, 1, &mask, &f_dup), 0);
        fd = sysmem_token_to_fd(f_dup);
        h_agent_take_token(&victim, fd, NULL);
        close(fd);
        h_agent_cmd(&victim, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        struct sysmem_collection *f_coll;
        assert_int_equal(sysmem_token_bind(f_root, &f_coll), 0);
        assert_int_equal(sysmem_collection_set_constraints(f_coll, &cons), 0);
        h_agent_kill(&victim);
        assert_true(h_wait_allocated(f_coll, H_TIMEOUT_MS, NULL) < 0);
        expect_node_failed(cnode(f_coll), SYSMEM_ERROR_UNSPECIFIED, "doomed", "the failed collection");
        sysmem_collection_close(f_coll);

        /* The healthy one finishes as if nothing happened. */
        struct sysmem_collection *h_coll;
        assert_int_equal(sysmem_token_bind(h_root, &h_coll), 0);
        assert_int_equal(sysmem_collection_set_constraints(h_coll, &cons), 0);
        struct sysmem_collection_info *info = NULL;
        if (h_wait_allocated(h_coll, H_TIMEOUT_MS, &info) < 0)
                fail_msg("the parallel collection failed: %s", sysmem_node_error_message(cnode(h_coll)));
        h_agent_reply(&partner, &rep);
        if (rep.r < 0)
                fail_msg("the partner in the parallel collection failed: %s", rep.message);
        assert_int_equal(info->buffer_count, 4);
        assert_int_equal(rep.buffer_count, 4);
        assert_int_equal(rep.id, info->buffer_collection_id);
        sysmem_collection_info_free(info);
        h_agent_cmd(&partner, H_RELEASE_COLLECTION, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_stop(&partner);
        assert_int_equal(sysmem_collection_release(h_coll), 0);
        h_daemon_expect_fds(d, baseline);
        sysmem_allocator_free(a);
}

/* ---- 8. hostile input on token and collection sockets ---- */

enum hostile {
        TRUNCATED_HEADER,
        SIZE_FIELD_LIES,
        OVER_MAX_MESSAGE,
        FDS_WITH_NFDS_ZERO,
        NFDS_WITHOUT_FDS,
        UNKNOWN_OPCODE,
        REPLY_FLAG_FROM_CLIENT,
        TOKEN_OPCODE_ON_COLLECTION,
        COLLECTION_OPCODE_ON_TOKEN,
        BODY_FIELD_WRONG_TYPE,
        SECOND_SET_CONSTRAINTS,
        MESSAGE_AFTER_RELEASE,
        WAIT_BEFORE_CONSTRAINTS,
        DUPLICATE_SYNC_TOO_MANY,
        DUPLICATE_SYNC_ZERO_MASK,
};

static const struct {
        enum hostile kind;
        const char *name;
        bool on_token; /* the target is still a token; otherwise it is bound to a collection */
} hostile_cases[] = {
        {TRUNCATED_HEADER, "a message shorter than its header", false},
        {SIZE_FIELD_LIES, "a header whose size field lies", false},
        {OVER_MAX_MESSAGE, "a message over the daemon's max message size", false},
        {FDS_WITH_NFDS_ZERO, "fds sent with nfds 0 in the header", false},
        {NFDS_WITHOUT_FDS, "nfds 1 in the header and no fd sent", true},
        {UNKNOWN_OPCODE, "an unknown opcode", false},
        {REPLY_FLAG_FROM_CLIENT, "a reply flag from a client", true},
        {TOKEN_OPCODE_ON_COLLECTION, "a token opcode on a collection", false},
        {COLLECTION_OPCODE_ON_TOKEN, "a collection opcode on a token", true},
        {BODY_FIELD_WRONG_TYPE, "a body field of the wrong type (an fd index where a u32 belongs)", false},
        {SECOND_SET_CONSTRAINTS, "a second SetConstraints", false},
        {MESSAGE_AFTER_RELEASE, "a message after Release", false},
        {WAIT_BEFORE_CONSTRAINTS, "WaitForAllBuffersAllocated before SetConstraints", false},
        {DUPLICATE_SYNC_TOO_MANY, "DuplicateSync asking for 65 tokens", true},
        {DUPLICATE_SYNC_ZERO_MASK, "DuplicateSync with a rights mask of 0", true},
};

/* Sends the hostile bytes (or makes the out-of-order call) on the target node. */
static void send_hostile(enum hostile kind, struct sysmem_node *target, struct sysmem_token *tok,
                         struct sysmem_collection *coll) {
        int fd = sysmem_node_get_fd(target);
        uint8_t buf[8192];
        memset(buf, 0, sizeof buf);
        int r = 0;
        switch (kind) {
        case TRUNCATED_HEADER:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_SYNC, 0, 1, 0);
                r = h_send_raw(fd, buf, 10, NULL, 0);
                break;
        case SIZE_FIELD_LIES:
                h_wire_header(buf, 64, WIRE_OP_SYNC, 0, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case OVER_MAX_MESSAGE:
                h_wire_header(buf, sizeof buf, WIRE_OP_SYNC, 0, 1, 0);
                r = h_send_raw(fd, buf, sizeof buf, NULL, 0);
                break;
        case FDS_WITH_NFDS_ZERO: {
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_SYNC, 0, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, p, 2);
                close(p[0]);
                close(p[1]);
                break;
        }
        case NFDS_WITHOUT_FDS:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_SYNC, 0, 1, 1);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case UNKNOWN_OPCODE:
                h_wire_header(buf, WIRE_HEADER_SIZE, 999, 0, 0, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case REPLY_FLAG_FROM_CLIENT:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_SYNC, WIRE_FLAG_REPLY, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case TOKEN_OPCODE_ON_COLLECTION: {
                /* A well-formed Duplicate, encoded by the codec, sent where only a collection lives. */
                struct wire_duplicate body = {.rights_attenuation_mask = SYSMEM_RIGHTS_SAME};
                size_t len;
                uint32_t nfds;
                int fds[1];
                assert_int_equal(wire_encode(wire_message_lookup(WIRE_OP_DUPLICATE)->request, WIRE_OP_DUPLICATE, 0, 1,
                                             &body, buf, sizeof buf, &len, fds, 1, &nfds),
                                 0);
                r = h_send_raw(fd, buf, len, NULL, 0);
                break;
        }
        case COLLECTION_OPCODE_ON_TOKEN:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED, 0, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case BODY_FIELD_WRONG_TYPE:
                /* SetName with its priority (tag 1, a u32) sent as an fd index, and no fd. */
                h_wire_header(buf, WIRE_HEADER_SIZE + 16, WIRE_OP_SET_NAME, 0, 0, 0);
                buf[16] = 1;       /* tag 1 */
                buf[18] = WIRE_FD; /* type */
                buf[20] = 4;       /* length */
                buf[24] = 0;       /* index 0, never sent */
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE + 16, NULL, 0);
                break;
        case SECOND_SET_CONSTRAINTS: {
                struct sysmem_constraints c = h_cpu_constraints(CPU_RW, 1, 4096);
                r = sysmem_collection_set_constraints(coll, &c);
                break;
        }
        case MESSAGE_AFTER_RELEASE:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_RELEASE, 0, 0, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case WAIT_BEFORE_CONSTRAINTS:
                break;
        case DUPLICATE_SYNC_TOO_MANY: {
                /* One mask more than SYSMEM_MAX_DUPLICATES, built by hand: the codec refuses to encode it. */
                uint32_t vlen = 4 * (SYSMEM_MAX_DUPLICATES + 1);
                size_t len = WIRE_HEADER_SIZE + WIRE_FIELD_HEADER_SIZE + (vlen + 7) / 8 * 8;
                h_wire_header(buf, (uint32_t)len, WIRE_OP_DUPLICATE_SYNC, 0, 1, 0);
                buf[16] = 1; /* tag 1: rights_attenuation_masks */
                buf[18] = WIRE_U32_ARRAY;
                buf[20] = (uint8_t)vlen;
                buf[21] = (uint8_t)(vlen >> 8);
                memset(buf + 24, 0xff, vlen);
                r = h_send_raw(fd, buf, len, NULL, 0);
                break;
        }
        case DUPLICATE_SYNC_ZERO_MASK: {
                /* A mask of 0 fails the token (sysmem-protocol.md §6); the call gets the epitaph, not tokens. */
                uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, 0};
                struct sysmem_token *out[2];
                if (sysmem_token_duplicate_sync(tok, 2, masks, out) >= 0) {
                        sysmem_token_close(out[0]);
                        sysmem_token_close(out[1]);
                        fail_msg("DuplicateSync with a zero mask succeeded");
                }
                break;
        }
        }
        if (r < 0)
                fail_msg("sending the hostile message: %s", strerror(-r));
}

static void run_hostile_case(struct h_daemon *d, struct sysmem_allocator *a, size_t ci) {
        enum hostile kind = hostile_cases[ci].kind;
        const char *what = hostile_cases[ci].name;
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 1, 4096);

        /*
         * The collection under attack: a bystander that is done, the target, and a token held back so
         * that nothing the target does legitimately can complete the allocation.
         */
        struct sysmem_token *root, *dups[2];
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        assert_int_equal(sysmem_token_duplicate_sync(root, 2, masks, dups), 0);
        struct sysmem_token *target_token = dups[0], *holdout = dups[1];
        assert_int_equal(sysmem_node_set_debug_client_info(sysmem_token_node(target_token), "attacker", 1), 0);
        struct sysmem_collection *bystander;
        assert_int_equal(sysmem_token_bind(root, &bystander), 0);
        assert_int_equal(sysmem_node_set_debug_client_info(cnode(bystander), "bystander", 2), 0);
        assert_int_equal(sysmem_collection_set_constraints(bystander, &cons), 0);

        /* A separate collection on the same daemon, half-way through its negotiation. */
        struct sysmem_token *o_root, *o_dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &o_root), 0);
        assert_int_equal(sysmem_token_duplicate_sync(o_root, 1, masks, &o_dup), 0);
        struct sysmem_collection *o1, *o2;
        assert_int_equal(sysmem_token_bind(o_root, &o1), 0);
        assert_int_equal(sysmem_allocator_bind_shared(a, o_dup, &o2), 0);
        assert_int_equal(sysmem_collection_set_constraints(o1, &cons), 0);

        struct sysmem_token *tok = NULL;
        struct sysmem_collection *coll = NULL;
        struct sysmem_node *target;
        if (hostile_cases[ci].on_token) {
                tok = target_token;
                target = sysmem_token_node(tok);
        } else {
                assert_int_equal(sysmem_token_bind(target_token, &coll), 0);
                target = cnode(coll);
                if (kind == SECOND_SET_CONSTRAINTS)
                        assert_int_equal(sysmem_collection_set_constraints(coll, &cons), 0);
        }
        send_hostile(kind, target, tok, coll);

        /* The target learns PROTOCOL_DEVIATION from its next call, promptly. */
        int r;
        int64_t start = h_now_ms();
        if (kind == WAIT_BEFORE_CONSTRAINTS)
                r = h_wait_allocated(coll, H_TIMEOUT_MS, NULL);
        else
                r = sysmem_node_sync(target);
        if (!h_daemon_alive(d))
                fail_msg("%s: sysmemd died", what);
        if (r >= 0)
                fail_msg("%s: the daemon accepted it (the next call on the node succeeded)", what);
        if (h_now_ms() - start > 5000)
                fail_msg("%s: the failure took %lld ms to show", what, (long long)(h_now_ms() - start));
        char who[160];
        snprintf(who, sizeof who, "%s: the target", what);
        expect_node_failed(target, SYSMEM_ERROR_PROTOCOL_DEVIATION, NULL, who);

        /* The other participant of that collection fails with UNSPECIFIED, told who broke it. */
        snprintf(who, sizeof who, "%s: the bystander", what);
        if (h_wait_allocated(bystander, H_TIMEOUT_MS, NULL) >= 0)
                fail_msg("%s: allocation succeeded", who);
        expect_node_failed(cnode(bystander), SYSMEM_ERROR_UNSPECIFIED, "attacker", who);

        /* The separate collection completes untouched. */
        assert_int_equal(sysmem_collection_set_constraints(o2, &cons), 0);
        struct sysmem_collection_info *i1 = NULL, *i2 = NULL;
        if (h_wait_allocated(o1, H_TIMEOUT_MS, &i1) < 0 || h_wait_allocated(o2, H_TIMEOUT_MS, &i2) < 0)
                fail_msg("%s: a separate collection failed too: %s", what, sysmem_node_error_message(cnode(o1)));
        assert_int_equal(i1->buffer_count, 2);
        sysmem_collection_info_free(i1);
        sysmem_collection_info_free(i2);
        assert_int_equal(sysmem_collection_release(o1), 0);
        assert_int_equal(sysmem_collection_release(o2), 0);

        sysmem_token_close(tok);
        sysmem_token_close(holdout);
        sysmem_collection_close(coll);
        sysmem_collection_close(bystander);
        if (!h_daemon_alive(d))
                fail_msg("%s: sysmemd died", what);
}

static void test_hostile_node_input(void **state) {
        struct h_daemon d;
        /* A small message limit, so "over the limit" is 8 KiB and not 64. */
        const char *args[] = {"--max-message-bytes", "4096", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *a = h_connect(&d, "hostile");
        int baseline = h_daemon_settled_fds(&d);
        for (size_t i = 0; i < sizeof hostile_cases / sizeof hostile_cases[0]; i++) {
                run_hostile_case(&d, a, i);
                h_daemon_expect_fds(&d, baseline);
        }
        sysmem_allocator_free(a);
        h_daemon_expect_fds(&d, d.baseline_fds);
        h_daemon_stop(&d);
}

/* ---- 8b. hostile input on the allocator connection ---- */

enum allocator_garbage { A_TRUNCATED, A_UNKNOWN_OPCODE, A_NODE_OPCODE, A_FD_INDEX_NOT_SENT, A_OVERSIZED, A_RANDOM };

static void send_allocator_garbage(int fd, enum allocator_garbage kind) {
        uint8_t buf[8192];
        memset(buf, 0, sizeof buf);
        int r = 0;
        switch (kind) {
        case A_TRUNCATED:
                r = h_send_raw(fd, "\x10\x00\x00", 3, NULL, 0);
                break;
        case A_UNKNOWN_OPCODE:
                h_wire_header(buf, WIRE_HEADER_SIZE, 777, 0, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case A_NODE_OPCODE:
                h_wire_header(buf, WIRE_HEADER_SIZE, WIRE_OP_SYNC, 0, 1, 0);
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE, NULL, 0);
                break;
        case A_FD_INDEX_NOT_SENT:
                /* ValidateBufferCollectionToken whose token field (an fd index) points at an fd never sent. */
                h_wire_header(buf, WIRE_HEADER_SIZE + 16, WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, 0, 1, 0);
                buf[16] = 1;
                buf[18] = WIRE_FD;
                buf[20] = 4;
                buf[24] = 3;
                r = h_send_raw(fd, buf, WIRE_HEADER_SIZE + 16, NULL, 0);
                break;
        case A_OVERSIZED:
                h_wire_header(buf, sizeof buf, WIRE_OP_ALLOCATE_SHARED_COLLECTION, 0, 1, 0);
                r = h_send_raw(fd, buf, sizeof buf, NULL, 0);
                break;
        case A_RANDOM:
                for (size_t i = 0; i < 200; i++)
                        buf[i] = (uint8_t)(i * 73 + 11);
                r = h_send_raw(fd, buf, 200, NULL, 0);
                break;
        }
        if (r < 0)
                fail_msg("sending garbage: %s", strerror(-r));
}

static void test_hostile_allocator_input(void **state) {
        struct h_daemon d;
        const char *args[] = {"--max-message-bytes", "4096", NULL};
        h_daemon_start(&d, args);
        struct sysmem_allocator *good = h_connect(&d, "good");
        int baseline = h_daemon_settled_fds(&d);
        for (int kind = A_TRUNCATED; kind <= A_RANDOM; kind++) {
                struct sysmem_allocator *bad = h_connect(&d, "bad");
                /* A collection the bad connection made before it misbehaved outlives it. */
                struct sysmem_collection *survivor;
                assert_int_equal(sysmem_allocator_allocate_non_shared(bad, &survivor), 0);
                send_allocator_garbage(sysmem_allocator_get_fd(bad), (enum allocator_garbage)kind);
                struct sysmem_token *t = NULL;
                int r = sysmem_allocator_allocate_shared(bad, &t);
                if (!h_daemon_alive(&d))
                        fail_msg("garbage kind %d: sysmemd died", kind);
                if (r >= 0)
                        fail_msg("garbage kind %d: the allocator connection still works afterwards", kind);
                sysmem_allocator_free(bad);

                negotiate_fresh(good, "after garbage on another allocator connection");
                struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 2, 4096);
                assert_int_equal(sysmem_collection_set_constraints(survivor, &cons), 0);
                struct sysmem_collection_info *info = NULL;
                if (h_wait_allocated(survivor, H_TIMEOUT_MS, &info) < 0)
                        fail_msg("garbage kind %d: the collection of the closed connection failed: %s", kind,
                                 sysmem_node_error_message(cnode(survivor)));
                assert_int_equal(info->buffer_count, 2);
                sysmem_collection_info_free(info);
                assert_int_equal(sysmem_collection_release(survivor), 0);
                h_daemon_expect_fds(&d, baseline);
        }
        sysmem_allocator_free(good);
        h_daemon_stop(&d);
}

/* ---- 10. clean shutdown with live collections ---- */

static void test_sigterm_with_live_collections(void **state) {
        struct h_daemon d;
        h_daemon_start(&d, NULL);
        struct h_agent waiter;
        struct h_rep rep;
        h_agent_spawn(&waiter, &d, "waiter");
        struct sysmem_allocator *a = h_connect(&d, "owner");

        /* An allocated collection. */
        struct sysmem_collection *done;
        assert_int_equal(sysmem_allocator_allocate_non_shared(a, &done), 0);
        struct sysmem_constraints cons = h_cpu_constraints(CPU_RW, 2, 4096);
        assert_int_equal(sysmem_collection_set_constraints(done, &cons), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(done, H_TIMEOUT_MS, &info), 0);
        assert_int_equal(h_write_pattern(info->buffers[0].fd, info->settings.buffer_settings.raw_vmo_size, 5, 0), 0);

        /* A negotiating one, with a participant blocked in its wait, and a live token. */
        struct sysmem_token *root, *dup;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        uint32_t mask = SYSMEM_RIGHTS_SAME;
        assert_int_equal(sysmem_token_duplicate_sync(root, 1, &mask, &dup), 0);
        int fd = sysmem_token_to_fd(dup);
        h_agent_take_token(&waiter, fd, NULL);
        close(fd);
        h_agent_cmd(&waiter, H_BIND, 0, &rep);
        assert_int_equal(rep.r, 0);
        h_agent_set_constraints(&waiter, &cons);
        h_agent_send_cmd(&waiter, H_WAIT, 0);
        wait_agent_blocked(&waiter);

        h_daemon_stop(&d); /* asserts exit status 0 within the time limit */

        /* Everyone sees their objects close: errors, not hangs. */
        h_agent_reply(&waiter, &rep);
        if (rep.r >= 0)
                fail_msg("the blocked wait succeeded after the daemon stopped");
        int64_t start = h_now_ms();
        assert_true(sysmem_node_sync(cnode(done)) < 0);
        assert_true(sysmem_node_sync(sysmem_token_node(root)) < 0);
        struct sysmem_token *t2;
        assert_true(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &t2) < 0);
        struct sysmem_token *t3;
        assert_true(sysmem_allocator_allocate_shared(a, &t3) < 0);
        assert_true(h_now_ms() - start < 5000);
        /* The memory itself lives on while mapped or open. */
        char why[128];
        if (h_verify_pattern(info->buffers[0].fd, info->settings.buffer_settings.raw_vmo_size, 5, 0, why, sizeof why))
                fail_msg("a buffer changed after the daemon stopped: %s", why);
        sysmem_collection_info_free(info);
        sysmem_collection_close(done);
        sysmem_token_close(root);
        sysmem_allocator_free(a);
        h_agent_stop(&waiter);
}

int main(int argc, char **argv) {
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kill_holding_token, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_kill_after_bind, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_kill_after_constraints, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_kill_in_wait, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_failure_does_not_disturb_parallel_collection, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_hostile_node_input, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_hostile_allocator_input, h_setup_no_daemon, h_teardown),
                cmocka_unit_test_setup_teardown(test_sigterm_with_live_collections, h_setup_no_daemon, h_teardown),
        };
        return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
