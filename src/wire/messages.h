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
        /* Node: tokens, collections, groups */
        WIRE_OP_SYNC = 16,
        WIRE_OP_RELEASE = 17,
        WIRE_OP_SET_NAME = 18,
        WIRE_OP_SET_DEBUG_CLIENT_INFO = 19,
        WIRE_OP_GET_BUFFER_COLLECTION_ID = 20,
        /* Token */
        WIRE_OP_DUPLICATE = 32,
        WIRE_OP_DUPLICATE_SYNC = 33,
        WIRE_OP_BIND = 34, /* turns this token into a collection, in place, on the same socket */
        /* Collection */
        WIRE_OP_SET_CONSTRAINTS = 48,
        WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED = 49,
        WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED = 50,
        /* Events from the server */
        WIRE_OP_EPITAPH = 0xfff0, /* the object failed; its socket closes right after */
};

struct wire_message_def {
        uint16_t opcode;
        const char *name;
        uint8_t objects; /* enum wire_object_kind mask: the objects that accept it */
        bool two_way;    /* a request that gets a reply (or an error reply) */
        const struct wire_schema *request;
        const struct wire_schema *reply; /* NULL for one-way */
};

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
        uint32_t rights_attenuation_mask; /* required */
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

struct wire_buffer {
        int vmo; /* -1: none for this participant */
        uint64_t vmo_usable_start;
};

struct wire_collection_info {
        struct sysmem_single_buffer_settings settings;
        const struct wire_buffer *buffers;
        uint32_t buffer_count;
        uint64_t buffer_collection_id;
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
