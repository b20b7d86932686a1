/* server-internal.h: the daemon's objects: server, allocator connections, collections and their node trees. */
#ifndef SYSMEM_SERVER_INTERNAL_H
#define SYSMEM_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include <sysmem/sysmem-server.h>

#include "common/list.h"
#include "common/log.h"
#include "core/core.h"
#include "heaps/heap.h"
#include "wire/messages.h"

struct collection;
struct node;
struct server;

/* A message waiting for the client to read what its socket already holds: bytes and dup'ed fds. */
struct outmsg {
        struct outmsg *next;
        uint32_t len;
        uint32_t nfds;
        int fds[]; /* then the len bytes of the message */
};

/* Messages to send, in order, once the socket is writable again. */
struct outq {
        struct outmsg *head, *tail;
        uint32_t count;
        uint32_t fds;
        size_t bytes;
};

/*
 * The daemon's end of one protocol object's socket (an allocator connection, a node) and what waits to
 * go out on it. A send that would block, or that comes while older messages wait, is queued (bounded by
 * max_queued_replies and max_queued_bytes) and flushed when the socket is writable. While the queue is
 * half full the object's requests are left unread (backpressure). A client that lets the queue reach its
 * limit, or that keeps sending requests while it reads nothing for ENDPOINT_STALL_USEC, overflows the
 * endpoint: the queue is discarded, nothing but the epitaph is sent any more, and on_overflow (from a
 * defer source, or the owner's own check at a safe point) fails the owner. A closed endpoint whose
 * output has not all gone (the epitaph) lingers: flushed, then closed, or closed after ENDPOINT_LINGER_USEC.
 */
typedef int (*endpoint_input_fn)(int fd, uint32_t revents, void *owner);
struct endpoint {
        struct server *server;
        int fd;           /* read and written with MSG_DONTWAIT only; -1: none */
        uint32_t events;  /* in server.epoll_fd: EPOLLIN while requests are read, EPOLLOUT while output is queued */
        bool registered;  /* fd is in server.epoll_fd */
        endpoint_input_fn on_input; /* the owner's: reads and handles requests */
        void (*on_overflow)(void *owner, const char *reason);
        void *owner;
        struct outq out;
        bool paused;     /* backpressure: requests are left unread while the queue is half full */
        bool overflowed; /* the owner is to fail: only the epitaph goes out */
        bool hung_up;    /* the client closed its end: nothing can be delivered */
        sd_event_source *stall_timer;    /* while paused: fails a client that reads nothing */
        sd_event_source *overflow_defer; /* runs on_overflow after the current dispatch */
        int stall_outq;                  /* unread bytes in the client's direction when last looked at */
        char *overflow_reason;           /* once overflowed (NULL if out of memory) */
        uint32_t max_reply_bytes;        /* the largest message its owner sends (endpoint_read_budget) */
        uint32_t max_reply_fds;          /* the most fds one of its replies can carry now (likewise) */
};
/* The most fds one reply carries: a collection's buffers and close_weak_asap, or a DuplicateSync's tokens. */
#define ENDPOINT_MAX_REPLY_FDS (SYSMEM_MAX_BUFFERS + 1u > SYSMEM_MAX_DUPLICATES ? SYSMEM_MAX_BUFFERS + 1u : SYSMEM_MAX_DUPLICATES)
/* The most bytes of a reply a node sends (endpoint.c's encode buffer); an allocator's diagnostics are larger. */
#define ENDPOINT_NODE_REPLY_BYTES 16384u
#define ENDPOINT_MAX_REASON 320u

/* How long a client may leave everything unread while it keeps sending requests (with the queue half full). */
#define ENDPOINT_STALL_USEC (5u * 1000000u)
/* How long the socket of a gone object waits for its client to read the last messages (the epitaph). */
#define ENDPOINT_LINGER_USEC (5u * 1000000u)
/* fds held in one endpoint's queue; more is an overflow like too many messages. */
#define ENDPOINT_MAX_QUEUED_FDS 512u
/* Lingering sockets in the whole server; beyond this a gone object's socket is closed at once. */
#define SERVER_MAX_LINGERING 4096u

/* Kernel objects by (device, inode) (ino-index.c): an open-addressing table. */
struct ino_slot {
        dev_t dev;
        ino_t ino;
        void *value; /* NULL: empty; (void *)1: removed */
        uint32_t aux;
};
struct ino_index {
        struct ino_slot *slots;
        size_t capacity, count, used; /* used: live and removed slots */
};

/* A deadline kept in a deadline_heap (deadlines.c), embedded in its owner. */
struct deadline {
        uint64_t usec; /* CLOCK_MONOTONIC */
        uint32_t slot; /* its place in the heap + 1; 0: in none */
};
struct deadline_heap {
        struct deadline **items;
        uint32_t count, capacity;
};

/* Packets received at once for one socket (server_receive_from); its loop handles them all before returning. */
#define SERVER_RX_BATCH WIRE_RX_MAX
struct rx_batch {
        int fd; /* whose packets they are; -1: none */
        uint32_t next, count;
        bool drained; /* the batch took all there was: the next receive for fd is -EAGAIN without asking */
        struct wire_rx slot[SERVER_RX_BATCH];
};

/* The endpoints' events of one epoll_wait() (endpoints_dispatch): a closed endpoint's are dropped from it. */
#define SERVER_EVENT_BATCH 64

struct server {
        sd_event *event;
        /*
         * Every endpoint's socket is in this epoll, which is one source of the loop: one epoll_wait() hands out
         * all the ready ones, where a source each would cost a wait (over every ready socket) per socket.
         */
        int epoll_fd;
        sd_event_source *epoll_source;
        struct epoll_event *dispatching; /* the batch being handled, NULL between batches */
        int dispatching_count, dispatching_next;
        struct sysmem_server_limits limits;
        struct wire_limits wire_limits;
        struct list listeners;             /* struct listener */
        struct list connections;           /* struct allocator_conn */
        struct list collections;           /* struct collection */
        struct list graveyard_nodes;       /* freed after the current dispatch pass */
        struct list graveyard_collections; /* likewise */
        struct list lingering;             /* struct lingerer (endpoint.c): sockets of gone objects, still delivering */
        uint32_t lingering_count;
        sd_event_source *reaper;           /* defer source that empties the graveyards */
        struct deadline_heap stuck;        /* negotiating collections by when to log what they wait for */
        sd_event_source *stuck_timer;      /* one CLOCK_MONOTONIC timer for all of them (it also keeps the
                                              loop's timer fd open from the start) */
        uint64_t stuck_armed_usec;         /* when it fires; UINT64_MAX: never */
        struct list unindexed;             /* collections whose buffers are not yet in `buffers` (GetVmoInfo) */
        uint32_t connection_count;
        uint32_t collection_count;
        uint32_t collection_peak; /* the most live collections since memory was last given back (reap) */
        uint64_t total_bytes; /* bytes of buffers held by live collections */
        uint32_t spare_total; /* spare sockets held for all connections, capped by SERVER_MAX_SPARES */
        uint64_t next_collection_id;
        uint8_t *rx_buf; /* (SERVER_RX_BATCH + 1) x (max_message_bytes + 1): the batch's packets, then one more */
        struct rx_batch rx;
        struct heap_set heaps;               /* registered heaps (src/heaps), in preference order */
        struct core_heap core_heaps[HEAP_MAX]; /* what the core chooses from: heaps[i]'s description */
        bool heaps_logged;                   /* the list was logged when the server started serving */
        struct core_config core_config;      /* heaps, the limits and format costs every negotiation uses */
        struct core_format_cost *format_costs; /* loaded by sysmem_server_set_format_costs(); NULL: built-in */
        bool exiting;
        struct uid_budget *budgets; /* one per uid that holds something; at most one per connection or collection */
        size_t budget_count, budget_capacity;
        uint32_t node_total; /* nodes of every live collection, against limits.max_nodes */
        struct ino_index tokens;  /* every node whose socket is served, by its client end's inode */
        struct ino_index buffers; /* every live buffer, by its inode: the collection, aux its index */
        struct ino_index node_refs; /* every node that handed out a GetNodeRef, by that client end's inode */
        struct ino_index conns_by_pid; /* allocator connections by their process (device 0, inode: the pid) */
        gid_t admin_gid;     /* members see every client's collections in diagnostics; (gid_t)-1: root only */
};

/* Who a client is, as the kernel says at connect time (SO_PEERCRED). */
struct client_cred {
        bool known;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        char comm[16]; /* /proc/PID/comm when first needed (comm_read); for logs and listings only */
        bool comm_read;
};

/* What one uid holds; the entry exists while it holds anything (budgets.c). */
enum budget_kind { BUDGET_CONNECTIONS, BUDGET_COLLECTIONS, BUDGET_NODES, BUDGET_BYTES, BUDGET_KINDS };
struct uid_budget {
        uid_t uid;
        uint64_t used[BUDGET_KINDS];
};

/* The oldest client protocol this server serves (GetServerInfo). */
#define SERVER_MIN_PROTOCOL_VERSION 1u

/* The mode sysmem_server_listen() gives its socket: anyone who can reach the directory may connect. */
#define SERVER_SOCKET_MODE 0666

struct listener {
        struct list_link link;
        struct server *server;
        int fd;
        sd_event_source *source;
        sd_event_source *resume; /* while accepting is paused (out of fds): re-enables source */
        uint64_t paused_at_us;
        uint64_t last_warning_us; /* accept failures are logged at most every LISTENER_WARN_INTERVAL_US */
        uint64_t failures_since_warning;
};

struct allocator_conn {
        struct list_link link;
        struct server *server;
        struct endpoint ep;
        char debug_name[SYSMEM_MAX_CLIENT_NAME_LENGTH + 1];
        uint64_t debug_id;
        bool has_debug_info;
        uint32_t live_collections; /* created through this connection and not yet gone */
        struct list created;       /* struct collection (creator_link): those, for closing in O(own) */
        struct client_cred cred;   /* who connected */
        bool admin;                /* root or in the admin group: sees every client's collections */
        bool dead;
        /* Token sockets made ahead for this client (client ends sent in SpareEnds), by id; opt-in. */
        int spare_fds[WIRE_MAX_SPARES];
        ino_t spare_client_inos[WIRE_MAX_SPARES]; /* the client end of each, to index the token it becomes */
        dev_t spare_client_dev;                   /* sockfs: one device for every socket */
        uint64_t spare_ids[WIRE_MAX_SPARES];
        uint32_t spare_count;
        uint32_t spares_wanted;
        uint64_t next_spare_id;
};

enum node_kind { NODE_TOKEN, NODE_COLLECTION, NODE_GROUP };

/* How far a failure of this node climbs (sysmem's error propagation modes). */
enum node_mode {
        MODE_PROPAGATE,                   /* to the parent (the default) */
        MODE_PROPAGATE_BEFORE_ALLOCATION, /* SetDispensable: to the parent only until buffers are allocated */
        MODE_DO_NOT_PROPAGATE,            /* AttachToken roots, unchosen group children: never */
};

#define NODE_MAX_LIFETIME_TRACKERS 16u

struct lifetime_tracker {
        int fd;             /* the daemon's end: closing it tells the client */
        uint32_t remaining; /* closed once no more than this many buffers are left */
};

enum collection_state { COLLECTION_NEGOTIATING, COLLECTION_ALLOCATED, COLLECTION_FAILED };

struct node {
        struct list_link link; /* in collection->nodes, or in the graveyard */
        struct collection *collection;
        struct node *parent;
        struct list children; /* struct node, via sibling_link */
        struct list_link sibling_link;
        enum node_kind kind; /* the logical type; it survives Release + close */
        struct endpoint ep;  /* server end (ep.fd: -1 once orphaned or failed) */
        bool released;        /* Release received */
        bool orphaned;        /* Release then close: stays in the tree, always ready */
        bool dead;            /* failed or removed; waiting for the graveyard */
        bool constraints_set; /* SetConstraints received (constraints may still be "none") */
        struct sysmem_constraints *constraints; /* own copy; NULL: none (yet, or the client set none) */
        uint32_t index;          /* creation order in the collection, for diagnostics */
        enum node_mode mode;
        bool attach_root;        /* made by AttachToken: allocates later, on its own */
        bool allocated;          /* logically allocated: its part of the tree has buffers */
        bool weak;               /* does not keep the buffers alive */
        bool weak_ok;            /* honours close_weak_asap */
        bool weak_ok_for_children; /* children made from now on are weak_ok too */
        bool children_present;   /* groups: AllChildrenPresent received */
        bool wait_seen;          /* WaitForAllBuffersAllocated received (SetWeakOk must come before) */
        uint32_t which_child;    /* groups: the child tried in the current combination */
        bool visible;            /* in the combination being tried */
        int node_ref_fd;         /* daemon end of the GetNodeRef pair, -1 until asked */
        int node_ref_client_fd;  /* the end every GetNodeRef hands out (the kernel copies it) */
        dev_t node_ref_dev;      /* that end's identity, in server.node_refs while node_ref_fd is open */
        ino_t node_ref_ino;
        struct lifetime_tracker *lifetime; /* AttachLifetimeTracking: closed when buffers are gone */
        uint32_t lifetime_count, lifetime_capacity;
        char *debug_name; /* NULL: none (node_set_debug_name) */
        uint64_t debug_id;
        uint32_t rights_mask;
        int pending_bind_fd; /* Allocator.BindSharedCollection: the collection's server end */
        struct allocator_conn *pending_bind_allocator;
        uint32_t *pending_waits; /* txids of WaitForAllBuffersAllocated awaiting the result */
        uint32_t pending_wait_count, pending_wait_capacity;
        struct client_cred cred; /* who last sent on it, as the kernel says (SCM_CREDENTIALS) */
        ino_t client_ino;        /* its socket's client end, indexed in server.tokens while served; 0: none */
        dev_t client_dev;
        bool in_attached;        /* made by AttachToken or under such a node: not part of the first allocation */
        uint8_t accounted;       /* NODE_ACCT_* as last added to the collection's counts (node_refresh) */
        uint32_t connected_below; /* connected nodes in its subtree, itself included */
};

/*
 * What one node adds to its collection's counts (node_refresh()), so that what follows a change asks
 * counters instead of walking the tree: per-collection work stays linear in participants.
 */
enum {
        NODE_ACCT_CONNECTED = 1u << 0,   /* node_connected() */
        NODE_ACCT_STRONG = 1u << 1,      /* connected and not weak: keeps the buffers */
        NODE_ACCT_BLOCKING = 1u << 2,    /* live, in the first allocation's tree, not ready: it waits for this */
        NODE_ACCT_UNALLOCATED = 1u << 3, /* live and without buffers: a late allocation may be due */
        NODE_ACCT_ISOLATED = 1u << 4,    /* live, has a parent, and its failure does not climb (a failure domain) */
};

/* One buffer of a collection, as the daemon holds it. */
struct buffer_slot {
        int fd;    /* -1 once the daemon let go of it */
        int ro_fd; /* a read-only open, made on first need (-1: none; heaps without read-only fds give fd itself) */
        dev_t dev; /* its identity, for GetVmoInfo: asked when first indexed */
        ino_t ino;
};

struct collection {
        struct list_link link;
        struct server *server;
        uint64_t id;
        struct list nodes; /* every node of the tree, in creation order */
        struct node *root;
        uint32_t node_count;
        enum collection_state state;
        enum sysmem_error error;
        struct core_result result;
        struct heap *heap; /* the heap the buffers came from, once allocated */
        struct buffer_slot *buffers; /* buffer_count of them, once allocated */
        uint32_t buffer_count;
        bool buffers_indexed;        /* in server.buffers (else in server.unindexed while it has buffers) */
        struct list_link unindexed_link;
        uint64_t bytes_charged;
        char name[SYSMEM_MAX_NAME_LENGTH + 1];
        uint32_t name_priority;
        bool has_name;
        struct allocator_conn *creator; /* NULL once that connection is gone */
        struct list_link creator_link;  /* in creator->created while creator is set */
        struct client_cred owner;       /* the creator's: the collection counts against owner.uid */
        bool dead;
        uint32_t next_node_index;
        uint64_t created_usec;
        bool buffers_released;                  /* the daemon let go of its own buffer fds */
        int weak_signal_fd;                     /* close_weak_asap: closing it hangs up weak_client_fd */
        int weak_client_fd;                     /* what weak participants receive */
        bool weak_signalled;
        bool verbose;                           /* SetVerboseLogging */
        /* Sums of what the nodes add (node_refresh); collection_check_counts() recounts them in test builds. */
        uint32_t n_connected, n_strong, n_blocking, n_unallocated;
        uint32_t n_abandoned; /* failure domains (ISOLATED nodes) with no connected node left under them */
        struct deadline stuck;                  /* in server.stuck: logs what the allocation still waits for */
        unsigned stuck_logs;                    /* how many times it has logged */
};

/* server.c: the listeners, the allocator connections and the public sysmem_server_* calls; nothing here calls it. */

/* endpoint.c: the socket level under every protocol object; calls nothing else of the server. */
/* max_reply_bytes: the largest message the owner sends on it (bounds how many requests are read at once). */
void endpoint_init(struct endpoint *ep, struct server *server, endpoint_input_fn on_input,
                   void (*on_overflow)(void *owner, const char *reason), void *owner, uint32_t max_reply_bytes);
/* The loop's handler of server.epoll_fd (server.c adds it). */
int endpoints_dispatch(sd_event_source *src, int fd, uint32_t revents, void *userdata);
/* Serves fd (taken on success): on_input is called when requests can be read. */
int endpoint_attach(struct endpoint *ep, int fd);
/* Stops serving: what is still queued lingers on a socket of its own until it is read (bounded); fd is -1 after. */
void endpoint_close(struct endpoint *ep);
/* Whether the owner should read requests now (not paused by backpressure, not overflowed). */
bool endpoint_reading(const struct endpoint *ep);
/* How many requests to receive at once (server_receive's want): 1..SERVER_RX_BATCH. */
uint32_t endpoint_read_budget(const struct endpoint *ep);
/* The reason of an overflow, NULL if none: the owner fails at once when it sees one. */
const char *endpoint_overflow_reason(const struct endpoint *ep);
/* Sends (or queues) one encoded message; 0 when sent or queued, -ENOBUFS when the endpoint overflowed. */
int endpoint_send(struct endpoint *ep, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds);
int server_reply(struct endpoint *ep, uint16_t opcode, uint32_t txid, const struct wire_schema *schema,
                 const void *body);
int server_reply_error(struct endpoint *ep, uint16_t opcode, uint32_t txid, enum sysmem_error error,
                       const char *message);
/* The epitaph goes out even past the limits and after an overflow: it is the last message. */
void server_send_epitaph(struct endpoint *ep, enum sysmem_error error, const char *message);
/* An epitaph on a socket no object serves (a refused connection, refused spares): sent at once or not at all. */
void server_send_epitaph_fd(int fd, enum sysmem_error error, const char *message);
/* Closes every lingering socket (the server is being freed). */
void server_free_lingering(struct server *server);
void server_schedule_reap(struct server *server);
int server_new_socketpair(int ret_fds[2]);
/*
 * A pair whose daemon end (ret_fds[0]) only signals (the daemon holds it, and closing it hangs up the other
 * end): it is shut for reading, so no client can queue data or fds to it (node refs, close_weak_asap,
 * lifetime tracking).
 */
int server_new_signal_pair(int ret_fds[2]);
/*
 * Receives one message for an object of the given kind and validates it (object, opcode, direction,
 * fds, then the body): 1 with *ret_msg, 0 when the peer closed, -EAGAIN, or -EBADMSG with err set.
 */
int server_receive(struct server *s, int fd, uint32_t want, uint8_t object_kind, struct wire_msg **ret_msg,
                   char *err, size_t err_size);
/*
 * The same, also giving who sent it (node sockets have SO_PASSCRED). Packets come SERVER_RX_BATCH at a time:
 * a caller's loop goes on while server_rx_pending() says some are left, whatever else would stop it.
 */
int server_receive_from(struct server *s, int fd, uint32_t want, uint8_t object_kind, struct wire_msg **ret_msg,
                        struct wire_cred *ret_cred, char *err, size_t err_size);
/* One packet, without touching the batch: for reading one socket inside another's loop (the token drain). */
int server_receive_one_from(struct server *s, int fd, uint8_t object_kind, struct wire_msg **ret_msg,
                            struct wire_cred *ret_cred, char *err, size_t err_size);
bool server_rx_pending(const struct server *s, int fd);
/* Closes the fds of fd's packets not yet handled (its socket is closing). */
void server_rx_discard(struct server *s, int fd);

/* node-names.c: names for logs and messages; calls nothing else of the server. */
const char *node_kind_name(enum node_kind kind);
const char *node_display_name(const struct node *node);
/* Sets (a copy of at most SYSMEM_MAX_CLIENT_NAME_LENGTH bytes of) name; NULL or "" clears it. */
void node_set_debug_name(struct node *node, const char *name);
const char *node_mode_name(enum node_mode mode);

/* diagnostics.c: the Allocator's GetVmoInfo and GetDiagnostics (server.c dispatches them). */
void allocator_get_vmo_info(struct allocator_conn *a, struct wire_msg *m);
void allocator_get_diagnostics(struct allocator_conn *a, struct wire_msg *m);

/* collection.c: the tree state (creation, failure, what follows a change), node messages, allocation verdicts. */
struct collection *collection_new(struct server *server, struct allocator_conn *creator);
void collection_free(struct collection *collection);
void collection_fail(struct collection *collection, enum sysmem_error error, const char *message);
/* Fails the failure domain of n (sysmem's FindTreeToFail): all of its nodes get error. */
void collection_fail_domain(struct node *n, enum sysmem_error error, const char *message);
/* Fails top's subtree and nothing else, without re-examining the tree (for use inside an allocation). */
void collection_fail_subtree_only(struct node *top, enum sysmem_error error, const char *message);
/* Fails what can no longer be used and allocates what can be, until the tree stops changing. */
void collection_after_change(struct collection *collection);
int collection_send_info(struct collection *c, struct node *n, uint32_t txid);
void collection_stuck_log(struct collection *c);
void collection_arm_stuck_timer(struct collection *c, uint64_t deadline_usec);
struct node *collection_find_node_ref(struct collection *c, int fd);
struct collection *server_find_buffer(struct server *s, int fd, uint32_t *ret_index);
struct node *server_find_token_by_peer_fd(struct server *server, int fd);
/* The node is found by the inode of client_fd, its socket's other end (made by the daemon). */
void node_index_client_end(struct node *n, int client_fd);
void node_index_client_ino(struct node *n, dev_t client_dev, ino_t client_ino);
/*
 * The buffers just allocated wait in server.unindexed; the first GetVmoInfo after indexes every waiting
 * collection's (one fstat per buffer, once), so collections nobody asks about cost no syscall for it.
 */
void collection_defer_index(struct collection *c);
void server_index_pending_buffers(struct server *s);
/* The server-wide timer fired: logs every collection whose deadline passed. */
int collection_stuck_timer_fired(sd_event_source *src, uint64_t usec, void *userdata);
/*
 * BindSharedCollection on token n: handles the messages queued on the token (at most BIND_DRAIN_MAX, else the
 * node fails), then serves the node as a collection on fd (the daemon's end; taken) and closes the token.
 */
#define BIND_DRAIN_MAX 1024
void node_bind_shared(struct node *n, int fd, struct allocator_conn *a);
struct node *node_new(struct collection *collection, struct node *parent, enum node_kind kind, int fd);
int node_attach_fd(struct node *node, int fd);
void node_free(struct node *node);
void node_fail(struct node *node, enum sysmem_error error, const char *fmt, ...) _printf_(3, 4);
bool node_connected(const struct node *node);
/* Brings the collection's counts up to date with node's state: call it after any change of the node. */
void node_refresh(struct node *node);
void node_close_lifetime_trackers(struct node *node);
/* Creates a child (token or group) of node; returns the client end of its socket, or -errno. */
int node_new_child(struct node *node, enum node_kind kind, uint32_t mask, struct node **ret_child);
/* The same, on a server end the caller already has (a spare); takes fd even on failure. */
struct node *node_new_child_on(struct node *node, enum node_kind kind, uint32_t mask, int fd);

/*
 * allocate.c: readiness, group combinations, and the search for an allocation. It fails nothing and
 * delivers nothing: it marks the combination it chose (visible) and, for a first allocation, makes
 * the buffers; collection.c applies the verdict to the tree.
 */
/* A tree is capped by max_nodes_per_collection; this bounds the scratch arrays (and rounds) whatever the setting. */
#define ALLOCATE_MAX_TREE 4096u

enum attempt {
        ATTEMPT_NOT_READY,          /* a node of the pruned subtree is not ready: nothing was tried */
        ATTEMPT_OK,                 /* a combination works (a first allocation's buffers exist now) */
        ATTEMPT_AGGREGATION_FAILED, /* the constraints of no combination can be met */
        ATTEMPT_FATAL,              /* out of memory, no buffers to be had, or too many combinations */
};

struct allocate_verdict {
        enum attempt result;
        struct node *root; /* the subtree's root: the collection's root, or a late joiner */
        bool late;         /* the subtree joins buffers that already exist */
        unsigned tried;    /* combinations tried */
        /* On failure: what the failed nodes get, and why. */
        enum sysmem_error error;
        char message[WIRE_MAX_ERROR_MESSAGE + 128];
        /* ATTEMPT_OK only: root's pruned subtree, the chosen nodes visible; malloc'ed, the applier frees it. */
        struct node **pruned;
        size_t pruned_count;
};

bool node_ready(const struct node *node);
/*
 * The pruned subtree at r: ATTEMPT_NOT_READY unless all of it is ready, else the combinations of
 * group children in priority order, until one works, one fails fatally, or none is left.
 */
struct allocate_verdict allocate_subtree(struct collection *c, struct node *r);

/* constraints-copy.c: a deep copy in one malloc'ed block (free() it), whatever the source pointed to. */
int constraints_clone(const struct sysmem_constraints *src, struct sysmem_constraints **ret);


/* deadlines.c: a min-heap of deadlines; calls nothing else of the server. */
/* Adds d (or moves it, if it is in h already) to usec. */
int deadline_heap_set(struct deadline_heap *h, struct deadline *d, uint64_t usec);
void deadline_heap_remove(struct deadline_heap *h, struct deadline *d);
struct deadline *deadline_heap_top(const struct deadline_heap *h);
void deadline_heap_free(struct deadline_heap *h);

/* ino-index.c: objects by (device, inode); calls nothing else of the server. */
int ino_index_add(struct ino_index *ix, dev_t dev, ino_t ino, void *value, uint32_t aux);
void ino_index_remove(struct ino_index *ix, dev_t dev, ino_t ino, const void *value);
void *ino_index_find(const struct ino_index *ix, dev_t dev, ino_t ino, uint32_t *ret_aux);
/* The node of ix whose client end fd is, when fd is a socket this daemon made; else NULL. */
struct node *ino_index_find_socket(const struct ino_index *ix, int fd);
void ino_index_free(struct ino_index *ix);

/* budgets.c: who clients are and what each uid holds (calls nothing else of the server). */
void client_cred_of_socket(int fd, struct client_cred *ret);
/* Whether sender is someone else than *cred says (a new pid or uid). */
bool client_cred_changes(const struct client_cred *cred, const struct wire_cred *sender);
/* Takes the sender of a message as *cred; comm: its command name if the caller knows it, else read from /proc. */
void client_cred_note(struct client_cred *cred, const struct wire_cred *sender, const char *comm);
/* Root, or a member (primary or supplementary group, at connect time) of admin_gid ((gid_t)-1: none). */
bool client_is_admin(int fd, const struct client_cred *cred, gid_t admin_gid);
/* "pid 123 (camera) uid 1000", into buf. */
const char *client_cred_format(struct client_cred *cred, char *buf, size_t size);
/* The command name of the process, read from /proc on first use (empty if it is gone). */
const char *client_cred_comm(struct client_cred *cred);
/* 0 when uid may take `more` of kind, else -ENOSPC with a sentence in msg. */
int budget_check(struct server *server, uid_t uid, enum budget_kind kind, uint64_t more, char *msg, size_t size);
void budget_charge(struct server *server, uid_t uid, enum budget_kind kind, int64_t delta);
/* 0 when `more` nodes fit limits.max_nodes, else -ENOSPC with a sentence in msg. */
int server_check_node_total(struct server *server, uint32_t more, char *msg, size_t size);

#endif
