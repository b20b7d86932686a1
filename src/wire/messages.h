/* messages.h: every sysmem message: opcode, which objects accept it, and the C struct of its body. */
#ifndef SYSMEM_WIRE_MESSAGES_H
#define SYSMEM_WIRE_MESSAGES_H

#include <sysmem/sysmem-types.h>

#include "wire.h"

/* The kinds of protocol object; each lives on its own SOCK_SEQPACKET socket. */
enum wire_object_kind {
        WIRE_OBJ_ALLOCATOR = 1u << 0,
        WIRE_OBJ_TOKEN = 1u << 1,
        WIRE_OBJ_COLLECTION = 1u << 2,
        WIRE_OBJ_GROUP = 1u << 3,
};
#define WIRE_OBJ_NODE (WIRE_OBJ_TOKEN | WIRE_OBJ_COLLECTION | WIRE_OBJ_GROUP)

enum wire_opcode {
        /* Allocator */
        WIRE_OP_ALLOCATE_SHARED_COLLECTION = 1,
        WIRE_OP_ALLOCATE_NON_SHARED_COLLECTION = 2,
        WIRE_OP_BIND_SHARED_COLLECTION = 3,
        WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN = 4,
        WIRE_OP_ALLOCATOR_SET_DEBUG_CLIENT_INFO = 5,
        WIRE_OP_GET_VMO_INFO = 6,
        WIRE_OP_GET_DIAGNOSTICS = 7,
        WIRE_OP_ALLOCATE_SHARED_FROM_SPARES = 8, /* one-way: AllocateSharedCollection on pre-made sockets */
        WIRE_OP_GET_HEAPS = 9,
        WIRE_OP_GET_SERVER_INFO = 10,
        /* Node: tokens, collections, groups */
        WIRE_OP_SYNC = 16,
        WIRE_OP_RELEASE = 17,
        WIRE_OP_SET_NAME = 18,
        WIRE_OP_SET_DEBUG_CLIENT_INFO = 19,
        WIRE_OP_GET_BUFFER_COLLECTION_ID = 20,
        WIRE_OP_SET_DEBUG_TIMEOUT_LOG_DEADLINE = 21,
        WIRE_OP_SET_VERBOSE_LOGGING = 22,
        WIRE_OP_GET_NODE_REF = 23,
        WIRE_OP_IS_ALTERNATE_FOR = 24,
        WIRE_OP_SET_WEAK = 25,
        WIRE_OP_SET_WEAK_OK = 26,
        /* Token */
        WIRE_OP_DUPLICATE = 32,
        WIRE_OP_DUPLICATE_SYNC = 33,
        WIRE_OP_BIND = 34, /* turns this token into a collection, in place, on the same socket */
        WIRE_OP_SET_DISPENSABLE = 35,
        WIRE_OP_CREATE_BUFFER_COLLECTION_TOKEN_GROUP = 36,
        /* Collection */
        WIRE_OP_SET_CONSTRAINTS = 48,
        WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED = 49,
        WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED = 50,
        WIRE_OP_ATTACH_TOKEN = 51,
        WIRE_OP_ATTACH_LIFETIME_TRACKING = 52,
        /* Group */
        WIRE_OP_CREATE_CHILD = 64,
        WIRE_OP_CREATE_CHILDREN_SYNC = 65,
        WIRE_OP_ALL_CHILDREN_PRESENT = 66,
        /* Events from the server (every opcode from WIRE_OP_FIRST_EVENT up): flags EVENT, txid 0 */
        WIRE_OP_EPITAPH = 0xfff0, /* the object failed; its socket closes right after */
        WIRE_OP_SPARE_ENDS = 0xfff1, /* allocator: client ends of token sockets made ahead, for one-way allocation */
};

/* Opcodes from here up are events: only the server sends them, with flags EVENT and txid 0. */
#define WIRE_OP_FIRST_EVENT 0xfff0u

struct wire_message_def {
        uint16_t opcode;
        const char *name;
        uint8_t objects; /* enum wire_object_kind mask: the objects that accept it */
        bool two_way;    /* a request that gets a reply (or an error reply) */
        const struct wire_schema *request;
        const struct wire_schema *reply; /* NULL for one-way */
};

/* An event (sent by the server, unsolicited) rather than a request a client sends. */
static inline bool wire_message_is_event(const struct wire_message_def *def) {
        return def->opcode >= WIRE_OP_FIRST_EVENT;
}

/* NULL for an unknown opcode. */
const struct wire_message_def *wire_message_lookup(uint16_t opcode);
extern const struct wire_message_def wire_messages[];
extern const size_t wire_message_count;

/* ---- bodies ---- */

struct wire_empty {
        uint8_t unused;
};

/* A body whose one field (tag 1) is an fd: a token or collection socket. */
struct wire_fd_body {
        int fd;
};

/* AllocateSharedCollection: the root token, and optionally its first duplicates in the same round trip. */
struct wire_allocate_shared {
        const uint32_t *rights_attenuation_masks; /* optional, <= SYSMEM_MAX_DUPLICATES */
        uint32_t rights_attenuation_mask_count;
        uint32_t spares_wanted; /* optional: keep this many token sockets made ahead (SpareEnds), <= 8 */
};

/* Sockets the daemon made ahead: the client names them by id to allocate without a round trip. */
#define WIRE_MAX_SPARES 8u
struct wire_spare_ends {
        const uint64_t *ids;
        uint32_t id_count;
        const int *ends;
        uint32_t end_count;
};

struct wire_allocate_from_spares {
        const uint64_t *spare_ids; /* required: the root token's, then one per duplicate */
        uint32_t spare_id_count;
        const uint32_t *rights_attenuation_masks; /* one per duplicate */
        uint32_t rights_attenuation_mask_count;
};

struct wire_allocate_shared_reply {
        int token; /* required: the root token */
        const int *duplicates;
        uint32_t duplicate_count;
};

struct wire_debug_client_info {
        char *name; /* required, <= SYSMEM_MAX_CLIENT_NAME_LENGTH */
        uint64_t id;
};

struct wire_set_name {
        uint32_t priority; /* required */
        char *name;        /* required, <= SYSMEM_MAX_NAME_LENGTH */
};

struct wire_validate_reply {
        bool is_known;
};

struct wire_collection_id_reply {
        uint64_t buffer_collection_id;
};

struct wire_duplicate {
        uint32_t rights_attenuation_mask; /* required, except in CreateChild */
        bool has_rights_attenuation_mask; /* CreateChild: absent means SYSMEM_RIGHTS_SAME */
};

struct wire_duplicate_sync {
        const uint32_t *rights_attenuation_masks; /* required, <= SYSMEM_MAX_DUPLICATES */
        uint32_t rights_attenuation_mask_count;
};

struct wire_duplicate_sync_reply {
        const int *tokens;
        uint32_t token_count;
};

struct wire_set_constraints {
        struct sysmem_constraints *constraints; /* optional: NULL means "no constraints" */
};

struct wire_deadline {
        uint64_t deadline; /* CLOCK_MONOTONIC, nanoseconds; required */
};

struct wire_is_alternate_reply {
        bool is_alternate;
};

struct wire_set_weak_ok {
        bool for_child_nodes_also;
};

struct wire_attach_lifetime_tracking {
        uint32_t buffers_remaining; /* required (0 is a value); the reply's fd hangs up when it holds */
        bool has_buffers_remaining;
};

struct wire_vmo_info_reply {
        uint64_t buffer_collection_id;
        uint64_t buffer_index;
        bool has_buffer_index;
        int close_weak_asap; /* -1 unless the collection has weak participants */
};

/* GetHeaps: every heap the daemon allocates from, in preference order. */
struct wire_server_info_request {
        uint32_t protocol_version; /* the client's (optional: 0 when absent) */
};

struct wire_server_info_reply {
        uint32_t protocol_version;
        uint32_t min_protocol_version;
        uint64_t features;
        char *version;
};

struct wire_heaps_reply {
        const struct sysmem_heap_info *heaps;
        uint32_t heap_count;
};

struct wire_diag_request {
        uint64_t start_after_id; /* collections with a greater id, in id order */
};

struct wire_diag_node {
        uint32_t index;  /* in the collection's creation order */
        uint32_t parent; /* index + 1 of the parent; 0 for the root */
        uint32_t kind;   /* enum wire_diag_kind */
        uint32_t flags;  /* enum wire_diag_flags */
        char *debug_name;
        uint64_t debug_id;
        uint64_t bytes;  /* buffer memory this participant receives (fds), 0 if none */
        /* Who last sent on the node (SCM_CREDENTIALS); absent until it sent something. */
        uint32_t pid;
        uint32_t uid;
        bool has_sender;
        char *comm;
};

/* diagnostics_node.kind (the server's enum node_kind has the same values). */
enum wire_diag_kind {
        WIRE_DIAG_KIND_TOKEN = 0,
        WIRE_DIAG_KIND_COLLECTION = 1,
        WIRE_DIAG_KIND_GROUP = 2,
};

/* diagnostics_collection.state (the server's enum collection_state has the same values). */
enum wire_diag_state {
        WIRE_DIAG_STATE_NEGOTIATING = 0,
        WIRE_DIAG_STATE_ALLOCATED = 1,
        WIRE_DIAG_STATE_FAILED = 2,
};

/* diagnostics_node.flags. */
enum wire_diag_flags {
        WIRE_DIAG_RELEASED = 1u << 0,
        WIRE_DIAG_ORPHANED = 1u << 1,     /* released and closed: only its constraints remain */
        WIRE_DIAG_CONSTRAINTS_SET = 1u << 2,
        WIRE_DIAG_ALLOCATED = 1u << 3,    /* logically allocated: has buffers */
        WIRE_DIAG_WEAK = 1u << 4,
        WIRE_DIAG_WEAK_OK = 1u << 5,
        WIRE_DIAG_DISPENSABLE = 1u << 6,
        WIRE_DIAG_ATTACHED = 1u << 7,     /* root of an AttachToken subtree */
        WIRE_DIAG_READY = 1u << 8,
        WIRE_DIAG_CHILDREN_PRESENT = 1u << 9, /* groups: AllChildrenPresent received */
        WIRE_DIAG_FAILED = 1u << 10,
};

struct wire_diag_collection {
        uint64_t id;
        char *name;
        uint32_t state; /* enum wire_diag_state */
        uint32_t buffer_count;
        uint64_t size_bytes;
        uint64_t raw_vmo_size;
        char *heap;
        uint32_t pixel_format;
        uint64_t pixel_format_modifier;
        bool has_pixel_format_modifier;
        uint64_t age_usec;
        const struct wire_diag_node *nodes;
        uint32_t node_count;
        uint32_t weak_count;
        uint32_t strong_count;
        /* Who created it (SO_PEERCRED of that connection); absent when not known. */
        uint32_t owner_pid;
        uint32_t owner_uid;
        bool has_owner;
        char *owner_comm;
};

struct wire_diag_reply {
        const struct wire_diag_collection *collections;
        uint32_t collection_count;
        bool more; /* ask again with start_after_id = the last id */
        uint64_t total_bytes;
        uint32_t collection_total;
};

struct wire_buffer {
        int vmo; /* -1: none for this participant */
        uint64_t vmo_usable_start;
};

struct wire_collection_info {
        struct sysmem_single_buffer_settings settings;
        const struct wire_buffer *buffers;
        uint32_t buffer_count;
        uint64_t buffer_collection_id;
        int close_weak_asap; /* weak participants only: hangs up when they must close their buffers */
};

/* The body of an error reply and of an epitaph. */
struct wire_error_body {
        uint32_t error;  /* enum sysmem_error, required */
        char *message;   /* optional, <= WIRE_MAX_ERROR_MESSAGE */
};
#define WIRE_MAX_ERROR_MESSAGE 1024u

extern const struct wire_schema wire_error_schema;
extern const struct wire_schema wire_constraints_schema;
extern const struct wire_schema wire_collection_info_schema;

#endif
