/* harness.h: test harness for the multi-process suite: a real sysmemd, participant processes, bounded waits. */
#ifndef SYSMEM_TEST_HARNESS_H
#define SYSMEM_TEST_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sysmem/sysmem.h>

/*
 * Every wait in the suite is bounded: a daemon or library bug makes a test fail with a message
 * saying what it waited for, never hang the suite. Sanitizer builds are slower, hence the margins.
 */
#define H_TIMEOUT_MS 10000
#define H_WATCHDOG_S 60
/* Teardown in the daemon is asynchronous but quick; a count that has not settled by then is a leak. */
#define H_FD_SETTLE_MS 3000
/* Room for a daemon error message (the protocol caps them at 1024 bytes). */
#define H_MESSAGE_SIZE 1100

/* ---- the daemon ---- */

struct h_daemon {
        pid_t pid;
        char dir[64];          /* private mkdtemp directory */
        char socket[PATH_MAX]; /* the daemon's listening socket in dir */
        int baseline_fds;      /* open fds right after start and warm-up */
        bool died;             /* it ended on its own (found by h_daemon_alive); exit_status says how */
        int exit_status;
        char log[PATH_MAX]; /* its stderr, when started with h_daemon_start_logged; else empty */
};

/*
 * Starts $SYSMEMD on a fresh private socket with extra arguments (NULL-terminated, may be NULL),
 * waits until the socket accepts a connection, warms up the lazily opened fds, and records the
 * daemon's open-fd count. Fails the test clearly when the daemon does not come up.
 */
void h_daemon_start(struct h_daemon *d, const char *const *extra_args);
/* The same, with the daemon's stderr written to d->log (in its directory) for h_daemon_log_wait. */
void h_daemon_start_logged(struct h_daemon *d, const char *const *extra_args);
/*
 * Waits (bounded) until one line of the daemon's log contains every string of all_of (NULL-terminated);
 * true when it does. The log must have been captured with h_daemon_start_logged.
 */
bool h_daemon_log_wait(struct h_daemon *d, const char *const *all_of, int timeout_ms);
/* SIGTERM, then asserts the daemon exits with status 0 within a bounded time; removes the directory. */
void h_daemon_stop(struct h_daemon *d);
/* Whether the daemon process still runs (it has not exited or been killed). */
bool h_daemon_alive(struct h_daemon *d);
/* The number of open fds of a process, from /proc/PID/fd. */
int h_fd_count(pid_t pid);
/* The daemon's fd count once it has stopped changing for a short while. */
int h_daemon_settled_fds(struct h_daemon *d);
/* Polls until the daemon holds exactly `expected` fds; fails the test (listing them) if it does not in time. */
void h_daemon_expect_fds(struct h_daemon *d, int expected);
/* An allocator connected to the daemon, with a debug name; fails the test if it cannot connect. */
struct sysmem_allocator *h_connect(struct h_daemon *d, const char *debug_name);

/* ---- per-test fixture: fd-leak check of the test process, a watchdog, optionally a daemon ---- */

struct h_fixture {
        int self_fds; /* /proc/self/fd count at setup */
        struct h_daemon daemon;
        bool has_daemon;
};
/* cmocka setup/teardown: the fd-leak check and the watchdog, plus a default daemon. */
int h_setup(void **state);
int h_setup_no_daemon(void **state);
int h_teardown(void **state);
/* The number of open fds of this process. */
int h_self_fd_count(void);

/* ---- bounded waits in the test process ---- */

/* WaitForAllBuffersAllocated through the async API, driven by poll(); fails the test on timeout. */
int h_wait_allocated(struct sysmem_collection *c, int timeout_ms, struct sysmem_collection_info **ret_info);
/* Waits until fd is readable (or hung up); false on timeout. */
bool h_poll_readable(int fd, int timeout_ms);
/* Monotonic milliseconds. */
int64_t h_now_ms(void);
/* Receives a token fd sent with sysmem_send_fd, within the timeout; fails the test otherwise. */
int h_recv_fd(int sock, int timeout_ms);

/* ---- constraints and buffers ---- */

/* CPU constraints: usage bits, camping count and minimum size; the rest unset. */
struct sysmem_constraints h_cpu_constraints(uint32_t cpu_usage, uint32_t camping, uint64_t min_size);
uint64_t h_page_round(uint64_t size);
/* The byte a pattern puts at offset i of buffer b. */
uint8_t h_pattern_byte(uint32_t seed, uint32_t b, uint64_t i);
/* Maps fd and writes (or verifies) the pattern over size bytes: 0, or -errno / -EIO with a reason in why. */
int h_write_pattern(int fd, uint64_t size, uint32_t seed, uint32_t b);
int h_verify_pattern(int fd, uint64_t size, uint32_t seed, uint32_t b, char *why, size_t why_size);
int h_verify_zero(int fd, uint64_t size, char *why, size_t why_size);
/* Sends one raw packet with optional fds on a SOCK_SEQPACKET socket (for crafted, hostile messages). */
int h_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);
/* The primary node (/dev/dri/cardN) of the DRM device whose driver is `driver`, opened read-write; or -ENOENT. */
int h_open_drm_driver(const char *driver);
/* Writes a 16-byte wire header into buf. */
void h_wire_header(uint8_t *buf, uint32_t size, uint16_t opcode, uint16_t flags, uint32_t txid, uint32_t nfds);

/* ---- participant processes ("agents") driven by the test over a SOCK_SEQPACKET socketpair ---- */

enum h_cmd {
        H_CONNECT = 1,      /* connect an allocator (name = debug name) */
        H_ALLOC_SHARED,     /* token := AllocateSharedCollection */
        H_ALLOC_NON_SHARED, /* collection := AllocateNonSharedCollection */
        H_DUP_SYNC,         /* DuplicateSync(arg) of the token; the new tokens are sent back as fds */
        H_DUP,              /* Duplicate + Sync; the new token is sent back as an fd */
        H_TAKE_TOKEN,       /* token := the fd sent right after this request; debug info := name */
        H_GIVE_TOKEN,       /* sends the token back as an fd and forgets it (a relay) */
        H_BIND,             /* collection := token_bind(token) */
        H_BIND_ALLOCATOR,   /* collection := allocator_bind_shared(token) */
        H_RELEASE_TOKEN,
        H_CLOSE_TOKEN,
        H_SET_CONSTRAINTS, /* constraints from the request (or none with null_constraints) */
        H_WAIT,            /* WaitForAllBuffersAllocated; the reply describes the buffers */
        H_CHECK,           /* CheckAllBuffersAllocated */
        H_WRITE,           /* writes pattern seed `arg` into every buffer */
        H_VERIFY,          /* verifies pattern seed `arg` in every buffer */
        H_VERIFY_ZERO,
        H_GET_ID, /* GetBufferCollectionId on the token, else the collection */
        H_SYNC,   /* Sync on the token, else the collection */
        H_RELEASE_COLLECTION,
        H_CLOSE_COLLECTION,
        H_EXIT,
        /* the node tree */
        H_SET_DISPENSABLE, /* on the token */
        H_SET_WEAK,        /* on the token, else the collection */
        H_SET_WEAK_OK,     /* on the token, else the collection; arg: for_child_nodes_also */
        H_ATTACH_TOKEN,    /* AttachToken(mask) on the collection; the new token is sent back as an fd */
        H_LIFETIME,        /* AttachLifetimeTracking(arg) on the collection; the fd is sent back */
        H_GIVE_BUFFERS,    /* sends every buffer fd it holds back (value = how many, in buffer order) */
        H_WEAK_STATE,      /* value: 0 close_weak_asap still up, 1 hung up, 2 no such fd */
        H_NODE_REF,        /* GetNodeRef on the token, else the collection; the fd is sent back */
        H_IS_ALTERNATE,    /* IsAlternateFor(the fd sent right after this request); value = is_alternate */
        H_GET_VMO_INFO,    /* GetVmoInfo of buffer `arg`: id = collection id, value = index */
};

struct h_req {
        uint32_t cmd;
        uint32_t arg;
        uint32_t mask; /* rights attenuation mask of H_DUP, H_DUP_SYNC and H_ATTACH_TOKEN; 0: SAME */
        bool null_constraints;
        struct sysmem_constraints constraints; /* pointers are fixed up by the agent */
        struct sysmem_heap heaps[4];
        char name[64];
};

struct h_rep {
        int32_t r;      /* the call's result */
        uint32_t error; /* sysmem_node_error of the node the call used */
        char message[H_MESSAGE_SIZE];
        uint32_t value; /* tokens sent back, etc. */
        uint64_t id;
        bool has_info;
        uint32_t buffer_count;
        uint64_t size_bytes;
        uint64_t raw_vmo_size;
        uint32_t coherency_domain;
        char heap[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        uint64_t heap_id;
        bool fd_present[SYSMEM_MAX_BUFFERS];
        uint64_t ino[SYSMEM_MAX_BUFFERS];
        int64_t st_size[SYSMEM_MAX_BUFFERS];
        bool has_weak_fd; /* the reply carried a close_weak_asap fd */
};

struct h_agent {
        pid_t pid;
        int sock; /* the test's end */
        char name[64];
};

/* Forks an agent; it connects an allocator to d (unless d is NULL) with `name` as its debug name. */
void h_agent_spawn(struct h_agent *a, struct h_daemon *d, const char *name);
/* Sends a request and waits (bounded) for its reply; fails the test on timeout or a dead agent. */
void h_agent_call(struct h_agent *a, const struct h_req *req, struct h_rep *rep);
/* The same, for a command without parameters. */
void h_agent_cmd(struct h_agent *a, enum h_cmd cmd, uint32_t arg, struct h_rep *rep);
/* Sends a request without waiting (for calls that block, such as H_WAIT). */
void h_agent_send(struct h_agent *a, const struct h_req *req);
void h_agent_send_cmd(struct h_agent *a, enum h_cmd cmd, uint32_t arg);
/* Waits (bounded) for the reply to an earlier h_agent_send. */
void h_agent_reply(struct h_agent *a, struct h_rep *rep);
/* Hands a token fd to the agent (H_TAKE_TOKEN); the caller keeps and closes its fd. */
void h_agent_take_token(struct h_agent *a, int token_fd, const char *debug_name);
/* Sends a request followed by one fd (H_TAKE_TOKEN, H_IS_ALTERNATE) and waits for the reply; fd stays the caller's. */
void h_agent_call_fd(struct h_agent *a, const struct h_req *req, int fd, struct h_rep *rep);
/* H_SET_CONSTRAINTS; c NULL: no constraints. Asserts success. */
void h_agent_set_constraints(struct h_agent *a, const struct sysmem_constraints *c);
/* SIGKILL, and reaps it. */
void h_agent_kill(struct h_agent *a);
/* H_EXIT, then asserts a clean exit within a bounded time. */
void h_agent_stop(struct h_agent *a);

#endif
