/* wire.h: the sysmem wire codec: message schemas as data, one encoder, one validating decoder. */
#ifndef SYSMEM_WIRE_H
#define SYSMEM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Framing (docs/protocol.md is the normative description):
 *
 *   One message = one SOCK_SEQPACKET packet = a 16-byte header + a body of fields.
 *   header: u32 size (header + body, bytes), u16 opcode, u16 flags, u32 txid, u32 nfds,
 *           all little-endian. ERROR only with REPLY; EVENT never with REPLY.
 *   body:   fields, each: u16 tag, u8 type, u8 field flags, u32 length, then `length` bytes of
 *           value, then zero padding to a multiple of 8. Tags strictly ascending within one table.
 *   field flags: bit 0 CRITICAL ("must understand"); any other bit makes the message invalid.
 *           A tag the schema does not know is skipped (after its framing is checked) so that newer
 *           peers can add optional fields, unless it is CRITICAL or of type FD or FD_ARRAY: then
 *           the message is invalid. The encoder never sets CRITICAL.
 *   fds:    travel as SCM_RIGHTS; a field of type FD holds a u32 index into them. Every fd sent
 *           must be referenced exactly once; nfds must equal the number of fds received.
 */

#define WIRE_HEADER_SIZE 16u
#define WIRE_FIELD_HEADER_SIZE 8u
#define WIRE_MAX_DEPTH 8u          /* nesting of tables */
#define WIRE_MAX_FDS 253u          /* SCM_MAX_FD: the kernel's cap per sendmsg */
/*
 * The largest message a server sends (a page of GetDiagnostics is cut to fit it, whatever the server's own
 * inbound limit): every client must be able to receive this many bytes in one packet.
 */
#define WIRE_MIN_RECEIVE_BYTES 131072u
#define WIRE_FIELD_CRITICAL 0x01u  /* field flags bit 0: the receiver must understand this field */

enum wire_flags {
        WIRE_FLAG_REPLY = 1u << 0, /* answers the request with the same txid */
        WIRE_FLAG_ERROR = 1u << 1, /* with REPLY: body is the error schema instead */
        WIRE_FLAG_EVENT = 1u << 2, /* unsolicited, from the server (epitaph) */
};
#define WIRE_FLAGS_KNOWN (WIRE_FLAG_REPLY | WIRE_FLAG_ERROR | WIRE_FLAG_EVENT)

enum wire_type {
        WIRE_U32 = 1,         /* length 4; C: uint32_t (or an enum of int size) */
        WIRE_U64 = 2,         /* length 8; C: uint64_t */
        WIRE_BOOL = 3,        /* length 1, value 0 or 1; C: bool, or enum sysmem_tristate with WIRE_F_TRISTATE */
        WIRE_STRING = 4,      /* length 0..max, no NUL bytes; C: char[max + 1] inline, or char * (arena) */
        WIRE_FD = 5,          /* length 4: index into the message's fds; C: int, -1 when absent */
        WIRE_TABLE = 6,       /* value is a body of fields; C: the sub-schema's struct, embedded */
        WIRE_TABLE_ARRAY = 7, /* value is a sequence of TABLE fields with tag 0; C: pointer + u32 count */
        WIRE_U32_ARRAY = 8,   /* length 4 * count; C: const uint32_t * + u32 count */
        WIRE_U64_ARRAY = 9,   /* length 8 * count; C: const uint64_t * + u32 count */
        WIRE_FD_ARRAY = 10,   /* length 4 * count of fd indices; C: const int * + u32 count */
        WIRE_RECORD = 11,     /* the sub-schema's U32/U64 fields packed in tag order, no headers; C: embedded */
        WIRE_RECORD_ARRAY = 12, /* count records back to back; C: pointer + u32 count, or inline (WIRE_F_INLINE) */
};

enum wire_field_flags {
        WIRE_F_REQUIRED = 1u << 0,   /* absent: the message is invalid */
        WIRE_F_TRISTATE = 1u << 1,   /* BOOL decoded as enum sysmem_tristate (absent 0, false 1, true 2) */
        WIRE_F_INLINE = 1u << 2,     /* STRING stored in a char[max + 1] inside the struct */
        WIRE_F_TABLE_PTR = 1u << 3,  /* TABLE stored as a pointer (NULL when absent) instead of embedded */
        WIRE_F_PRESENCE = 1u << 4,   /* U32/U64/TABLE: a bool at count_offset says "present" (0 can be sent) */
};

struct wire_schema;

struct wire_field {
        uint16_t tag;
        uint8_t type;  /* enum wire_type */
        uint8_t flags; /* enum wire_field_flags */
        const char *name;
        uint32_t offset;       /* of the value (or pointer) in the C struct */
        uint32_t count_offset; /* arrays: of the uint32_t element count; WIRE_F_PRESENCE: of the bool */
        uint32_t max;          /* strings: max bytes; arrays: max elements (the capacity when inline) */
        const struct wire_schema *table; /* TABLE, TABLE_ARRAY, RECORD, RECORD_ARRAY: the element schema */
};

struct wire_schema {
        const char *name;
        uint32_t struct_size;
        uint32_t field_count;
        const struct wire_field *fields; /* sorted by tag */
};

/*
 * A decoded message. Owns its fds (closed by wire_msg_free unless taken) and its arena, which
 * holds the message, the body and everything the body points to; its size is bounded by the
 * message size times a small factor that the schema's largest table decides.
 */
struct wire_msg {
        uint16_t opcode;
        uint16_t flags;
        uint32_t txid;
        void *body; /* struct described by the schema used to decode; never NULL after decode */
        int *fds;
        uint32_t nfds;
        /* private */
        void *arena;
};

/* Limits the decoder enforces on top of the schema. */
struct wire_limits {
        uint32_t max_message_bytes;
        uint32_t max_fds;
        uint32_t max_array_elements; /* cap for arrays whose field has max 0 */
};

/*
 * Validates buf/fds against schema and decodes into a fresh body. Takes ownership of fds in every
 * case (on failure they are closed). On failure returns -EBADMSG (or -ENOMEM, or -EINVAL for
 * invalid arguments) and writes a human-readable reason into err (if err_size > 0) naming the
 * field that failed, e.g. "set_name.name: string of 70 bytes exceeds max 64". Absent fields
 * read as zero, except FD fields, which read as -1 (at every depth).
 */
int wire_decode(const struct wire_schema *schema, const uint8_t *buf, size_t len, int *fds, uint32_t nfds,
                const struct wire_limits *limits, struct wire_msg **ret_msg, char *err, size_t err_size);

/* Parses and checks just the header (size, known flags, nfds). */
int wire_peek_header(const uint8_t *buf, size_t len, uint16_t *ret_opcode, uint16_t *ret_flags,
                     uint32_t *ret_txid, uint32_t *ret_nfds);

/* Closes the fds still owned by msg and frees it. Accepts NULL. */
void wire_msg_free(struct wire_msg *msg);
/* Takes an fd out of the message (so wire_msg_free will not close it): returns it, or -1. */
int wire_msg_take_fd(struct wire_msg *msg, int fd);

/*
 * Encodes body (a struct described by schema) into buf. fds referenced by FD fields are appended,
 * not duplicated or owned, to ret_fds (capacity fds_cap) in the order they are met. Absent
 * optional fields (zero, false, SYSMEM_UNSET, empty string, NULL, count 0, fd -1, and embedded
 * tables all of whose fields are absent) are omitted; required fields are always written.
 * Returns 0, -EMSGSIZE when the message or its fds do not fit, -EINVAL when a required field is
 * absent, a value exceeds the schema's max or is not valid for its type, or the flags are invalid.
 * On failure buf's contents are undefined and the ret_* outputs are untouched.
 */
int wire_encode(const struct wire_schema *schema, uint16_t opcode, uint16_t flags, uint32_t txid, const void *body,
                uint8_t *buf, size_t cap, size_t *ret_len, int *ret_fds, uint32_t fds_cap, uint32_t *ret_nfds);

/* Sends one encoded message with its fds (MSG_NOSIGNAL). Returns 0 or negative errno. */
int wire_send(int sock, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds);
/* The same with more sendmsg() flags (the daemon's MSG_DONTWAIT: its sockets are never O_NONBLOCK'ed one by one). */
int wire_send_flags(int sock, const uint8_t *buf, size_t len, const int *fds, uint32_t nfds, int flags);

/*
 * Receives one packet: returns its length (0 means the peer closed), -EAGAIN, or a negative errno.
 * -EMSGSIZE when the packet was larger than cap, -EBADMSG when control data was truncated or held
 * anything but SCM_RIGHTS; in both cases the packet is consumed and every fd that came with it is
 * closed. fds are received with MSG_CMSG_CLOEXEC.
 */
ssize_t wire_recv(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds);
/* The sender of one message, as the kernel says (SCM_CREDENTIALS on a socket with SO_PASSCRED). */
struct wire_cred {
        bool present;
        int32_t pid;
        uint32_t uid, gid;
};
/* wire_recv, also taking the sender's credentials where the socket has SO_PASSCRED (ret_cred may be NULL). */
ssize_t wire_recv_cred(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                       struct wire_cred *ret_cred);
/* One packet of wire_recv_many(). */
struct wire_rx {
        uint8_t *buf; /* the caller's: room for cap bytes */
        size_t cap;
        ssize_t len; /* what wire_recv_cred would have returned for this packet (0: end of stream) */
        uint32_t nfds;
        int fds[WIRE_MAX_FDS];
        struct wire_cred cred;
};
#define WIRE_RX_MAX 8u
/*
 * Up to count (at most WIRE_RX_MAX) packets in one recvmmsg() call: returns how many slots hold a result
 * (an end of stream is the last), or a negative errno (-EAGAIN: none waiting). Use it with MSG_DONTWAIT:
 * on a blocking socket without it the kernel waits until count packets have come.
 */
int wire_recv_many(int sock, struct wire_rx *rx, unsigned count, int flags);
/* The same with more recvmsg() flags (MSG_DONTWAIT). */
ssize_t wire_recv_cred_flags(int sock, uint8_t *buf, size_t cap, int *fds, uint32_t fds_cap, uint32_t *ret_nfds,
                             struct wire_cred *ret_cred, int flags);

#endif
