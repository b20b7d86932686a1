/* codec.c: the one table-driven encoder and validating decoder for every sysmem message. */
#include "wire.h"

#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sysmem/sysmem-types.h>

#include "common/macros.h"

/* The decoder stores WIRE_F_TRISTATE values through this type; it must be the enum's size. */
_Static_assert(sizeof(enum sysmem_tristate) == sizeof(int), "enum sysmem_tristate is not int-sized");

#define FIELD_FLAG_CRITICAL WIRE_FIELD_CRITICAL
#define FIELD_FLAGS_KNOWN FIELD_FLAG_CRITICAL

/* Every decoded allocation is aligned for any C type, so a schema may describe any struct. */
#define ARENA_ALIGN ((size_t)alignof(max_align_t))
#define ARENA_FIRST_CHUNK 1024u
#define ARENA_MAX_CHUNK (64u * 1024u)

/* ---- little-endian access; the buffer is never cast, so alignment does not matter ---- */

static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
        put_le32(p, (uint32_t)v);
        put_le32(p + 4, (uint32_t)(v >> 32));
}

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static const char *type_name(unsigned type) {
        static const char *const names[] = {
                [WIRE_U32] = "u32",
                [WIRE_U64] = "u64",
                [WIRE_BOOL] = "bool",
                [WIRE_STRING] = "string",
                [WIRE_FD] = "fd",
                [WIRE_TABLE] = "table",
                [WIRE_TABLE_ARRAY] = "table_array",
                [WIRE_U32_ARRAY] = "u32_array",
                [WIRE_U64_ARRAY] = "u64_array",
                [WIRE_FD_ARRAY] = "fd_array",
                [WIRE_RECORD] = "record",
                [WIRE_RECORD_ARRAY] = "record_array",
        };
        if (type < ARRAY_LEN(names) && names[type])
                return names[type];
        return "unknown";
}

static void close_fds(const int *fds, uint32_t nfds) {
        for (uint32_t i = 0; i < nfds; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

/* Reading and writing struct members by offset; memcpy keeps this free of aliasing questions. */
static uint32_t get_u32_member(const void *s, uint32_t offset) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)s + offset, sizeof(v));
        return v;
}

static void set_u32_member(void *s, uint32_t offset, uint32_t v) { memcpy((uint8_t *)s + offset, &v, sizeof(v)); }

static const void *get_ptr_member(const void *s, uint32_t offset) {
        const void *p;
        memcpy(&p, (const uint8_t *)s + offset, sizeof(p));
        return p;
}

static void set_ptr_member(void *s, uint32_t offset, const void *p) { memcpy((uint8_t *)s + offset, &p, sizeof(p)); }

static int get_int_member(const void *s, uint32_t offset) {
        int v;
        memcpy(&v, (const uint8_t *)s + offset, sizeof(v));
        return v;
}

static void set_int_member(void *s, uint32_t offset, int v) { memcpy((uint8_t *)s + offset, &v, sizeof(v)); }

/* ---- header ---- */

struct header {
        uint32_t size;
        uint16_t opcode;
        uint16_t flags;
        uint32_t txid;
        uint32_t nfds;
};

static void _printf_(3, 4) set_err(char *err, size_t err_size, const char *fmt, ...) {
        if (!err || err_size == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
}

/* The checks every message passes before its body is looked at; `what` names it in err. */
static int check_header(const uint8_t *buf, size_t len, struct header *ret, const char *what, char *err,
                        size_t err_size) {
        if (len < WIRE_HEADER_SIZE) {
                set_err(err, err_size, "%s: message of %zu bytes is shorter than the %u-byte header", what, len,
                        WIRE_HEADER_SIZE);
                return -EBADMSG;
        }
        struct header h = {
                .size = get_le32(buf),
                .opcode = get_le16(buf + 4),
                .flags = get_le16(buf + 6),
                .txid = get_le32(buf + 8),
                .nfds = get_le32(buf + 12),
        };
        if (h.size != len) {
                set_err(err, err_size, "%s: header size %u does not match the %zu bytes received", what, h.size, len);
                return -EBADMSG;
        }
        if (h.flags & ~WIRE_FLAGS_KNOWN) {
                set_err(err, err_size, "%s: unknown header flag bits 0x%x", what,
                        (unsigned)(h.flags & ~WIRE_FLAGS_KNOWN));
                return -EBADMSG;
        }
        if ((h.flags & WIRE_FLAG_ERROR) && !(h.flags & WIRE_FLAG_REPLY)) {
                set_err(err, err_size, "%s: header flag ERROR without REPLY", what);
                return -EBADMSG;
        }
        if ((h.flags & WIRE_FLAG_EVENT) && (h.flags & WIRE_FLAG_REPLY)) {
                set_err(err, err_size, "%s: header flags EVENT and REPLY together", what);
                return -EBADMSG;
        }
        if (h.nfds > WIRE_MAX_FDS) {
                set_err(err, err_size, "%s: header announces %u fds, more than the protocol's %u", what, h.nfds,
                        WIRE_MAX_FDS);
                return -EBADMSG;
        }
        *ret = h;
        return 0;
}

int wire_peek_header(const uint8_t *buf, size_t len, uint16_t *ret_opcode, uint16_t *ret_flags, uint32_t *ret_txid,
                     uint32_t *ret_nfds) {
        struct header h;
        if (!buf && len > 0)
                return -EINVAL;
        int r = check_header(buf, len, &h, "message", NULL, 0);
        if (r < 0)
                return r;
        if (ret_opcode)
                *ret_opcode = h.opcode;
        if (ret_flags)
                *ret_flags = h.flags;
        if (ret_txid)
                *ret_txid = h.txid;
        if (ret_nfds)
                *ret_nfds = h.nfds;
        return 0;
}

/* ---- decoder ---- */

/* One bump-allocated, zero-filled chunk of a message's arena; a message frees them all at once. */
struct arena_chunk {
        struct arena_chunk *next;
        size_t size;
        size_t used;
        alignas(max_align_t) unsigned char data[];
};

static void arena_free(struct arena_chunk *c) {
        while (c) {
                struct arena_chunk *next = c->next;
                free(c);
                c = next;
        }
}

/* A nested table on the way from the top-level body to the field being decoded, for error paths. */
struct frame {
        const struct wire_field *field;
        int64_t index; /* element of a TABLE_ARRAY, or -1 */
};

struct decoder {
        const struct wire_schema *top;
        const struct wire_limits *limits;
        const int *fds;
        uint32_t nfds;
        bool fd_used[WIRE_MAX_FDS];

        struct arena_chunk *chunks;
        size_t arena_used;  /* bytes handed out, rounded to ARENA_ALIGN */
        size_t arena_limit; /* what one message may cost, derived from its size (see arena_limit()) */

        struct frame frames[WIRE_MAX_DEPTH];
        unsigned nframes;

        char *err;
        size_t err_size;
};

/* Where an error happened, below the current frames: a known field, an unknown tag, an element. */
struct where {
        const struct wire_field *field;
        int64_t tag;   /* an unknown field's tag, or -1 */
        int64_t index; /* an array element, or -1 */
};
#define AT_TABLE ((struct where){NULL, -1, -1})
#define AT_FIELD(f) ((struct where){(f), -1, -1})
#define AT_TAG(t) ((struct where){NULL, (t), -1})
#define AT_ELEMENT(f, i) ((struct where){(f), -1, (int64_t)(i)})

static void append(char *err, size_t err_size, size_t *off, const char *fmt, ...) _printf_(4, 5);
static void append(char *err, size_t err_size, size_t *off, const char *fmt, ...) {
        if (*off + 1 >= err_size)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err + *off, err_size - *off, fmt, ap);
        va_end(ap);
        if (n > 0)
                *off = MIN(*off + (size_t)n, err_size - 1);
}

/* Writes "<schema>.<field>[<i>]...: <reason>" into the caller's err; always returns -EBADMSG. */
static int _printf_(3, 4) fail(struct decoder *d, struct where w, const char *fmt, ...) {
        if (!d->err || d->err_size == 0)
                return -EBADMSG;
        size_t off = 0;
        d->err[0] = 0;
        append(d->err, d->err_size, &off, "%s", d->top->name);
        for (unsigned i = 0; i < d->nframes; i++) {
                append(d->err, d->err_size, &off, ".%s", d->frames[i].field->name);
                if (d->frames[i].index >= 0)
                        append(d->err, d->err_size, &off, "[%lld]", (long long)d->frames[i].index);
        }
        if (w.field)
                append(d->err, d->err_size, &off, ".%s", w.field->name);
        if (w.index >= 0)
                append(d->err, d->err_size, &off, "[%lld]", (long long)w.index);
        append(d->err, d->err_size, &off, ": ");
        if (w.tag >= 0)
                append(d->err, d->err_size, &off, "field tag %lld: ", (long long)w.tag);
        if (off + 1 < d->err_size) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(d->err + off, d->err_size - off, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

/*
 * How many arena bytes one byte of message may cost at most. Every allocation is tied to a field
 * on the wire: strings and arrays cost at most twice their wire size (the NUL and the alignment
 * of a short value); a TABLE_PTR table or a TABLE_ARRAY element costs its struct, and takes at
 * least one 8-byte field header. So the largest such struct per 8 bytes bounds the whole message.
 */
static size_t schema_expansion(const struct wire_schema *schema, unsigned depth) {
        size_t e = 2;
        if (depth > WIRE_MAX_DEPTH)
                return e;
        for (uint32_t i = 0; i < schema->field_count; i++) {
                const struct wire_field *f = &schema->fields[i];
                if (f->type == WIRE_RECORD_ARRAY && !(f->flags & WIRE_F_INLINE)) {
                        /* struct bytes per record, over wire bytes per record (at least 4), per 8 wire bytes */
                        e = MAX(e, (f->table->struct_size * 2 + 3) / 4 + 1);
                        continue;
                }
                if (f->type != WIRE_TABLE && f->type != WIRE_TABLE_ARRAY)
                        continue;
                if (f->type == WIRE_TABLE_ARRAY || (f->flags & WIRE_F_TABLE_PTR))
                        e = MAX(e, (align_up(f->table->struct_size, ARENA_ALIGN) + 7) / 8);
                e = MAX(e, schema_expansion(f->table, depth + 1));
        }
        return e;
}

static size_t arena_limit(const struct wire_schema *schema, size_t len, uint32_t nfds) {
        return align_up(sizeof(struct wire_msg), ARENA_ALIGN) + align_up(nfds * sizeof(int), ARENA_ALIGN) +
               align_up(schema->struct_size, ARENA_ALIGN) + schema_expansion(schema, 1) * len;
}

/* Zeroed memory that lives as long as the message. */
static int arena_alloc(struct decoder *d, size_t size, void **ret) {
        size = align_up(MAX(size, (size_t)1), ARENA_ALIGN);
        if (size > d->arena_limit - d->arena_used)
                /* Unreachable while arena_limit() is right; it keeps a bug from becoming a memory sink. */
                return fail(d, AT_TABLE, "decoding needs more than %zu bytes of memory", d->arena_limit);
        struct arena_chunk *c = d->chunks;
        if (!c || c->size - c->used < size) {
                size_t want = c ? MIN(2 * c->size, (size_t)ARENA_MAX_CHUNK) : ARENA_FIRST_CHUNK;
                want = MIN(MAX(want, size), d->arena_limit);
                c = calloc(1, sizeof(*c) + want);
                if (!c)
                        return -ENOMEM;
                c->size = want;
                c->next = d->chunks;
                d->chunks = c;
        }
        *ret = c->data + c->used;
        c->used += size;
        d->arena_used += size;
        return 0;
}

/* Absent fields read as zero, except fds, which read as -1 (0 is a valid fd). */
static void apply_defaults(const struct wire_schema *schema, void *out, unsigned depth) {
        if (depth > WIRE_MAX_DEPTH)
                return;
        for (uint32_t i = 0; i < schema->field_count; i++) {
                const struct wire_field *f = &schema->fields[i];
                if (f->type == WIRE_FD)
                        set_int_member(out, f->offset, -1);
                else if (f->type == WIRE_TABLE && !(f->flags & WIRE_F_TABLE_PTR))
                        apply_defaults(f->table, (uint8_t *)out + f->offset, depth + 1);
        }
}

struct raw_field {
        uint16_t tag;
        uint8_t type;
        uint8_t flags;
        uint32_t length;
        const uint8_t *value;
        size_t span; /* header + value + padding */
};

static void read_field_header(const uint8_t *p, struct raw_field *ret) {
        *ret = (struct raw_field){
                .tag = get_le16(p),
                .type = p[2],
                .flags = p[3],
                .length = get_le32(p + 4),
                .value = p + WIRE_FIELD_HEADER_SIZE,
        };
}

/* Checks what every field must satisfy, known or not: flags, length and padding within n bytes. */
static int check_field_frame(struct decoder *d, struct where w, struct raw_field *f, size_t n) {
        if (f->flags & ~FIELD_FLAGS_KNOWN)
                return fail(d, w, "unknown field flag bits 0x%x", (unsigned)(f->flags & ~FIELD_FLAGS_KNOWN));
        size_t left = n - WIRE_FIELD_HEADER_SIZE;
        if (f->length > left)
                return fail(d, w, "length %u exceeds the %zu bytes left", f->length, left);
        size_t padded = align_up(f->length, 8);
        if (padded > left)
                return fail(d, w, "value of %u bytes lacks its padding to 8 bytes (%zu bytes left)", f->length, left);
        for (size_t i = f->length; i < padded; i++)
                if (f->value[i] != 0)
                        return fail(d, w, "nonzero padding byte after a value of %u bytes", f->length);
        f->span = WIRE_FIELD_HEADER_SIZE + padded;
        return 0;
}

static int take_fd_index(struct decoder *d, struct where w, uint32_t index, int *ret_fd) {
        if (index >= d->nfds)
                return fail(d, w, "fd index %u out of range (%u fds received)", index, d->nfds);
        if (d->fd_used[index])
                return fail(d, w, "fd index %u is referenced twice", index);
        d->fd_used[index] = true;
        *ret_fd = d->fds[index];
        return 0;
}

static uint32_t array_cap(const struct decoder *d, const struct wire_field *f) {
        return f->max ? f->max : d->limits->max_array_elements;
}

static int decode_table(struct decoder *d, const struct wire_schema *schema, const uint8_t *p, size_t n, void *out,
                        unsigned depth);

/* Decodes a nested table into out, with `field` (and `index`) on the error path. */
static int decode_nested(struct decoder *d, const struct wire_field *field, int64_t index, const uint8_t *p, size_t n,
                         void *out, unsigned depth) {
        if (depth > WIRE_MAX_DEPTH)
                return fail(d, index >= 0 ? AT_ELEMENT(field, index) : AT_FIELD(field), "tables nested deeper than %u",
                            WIRE_MAX_DEPTH);
        d->frames[d->nframes++] = (struct frame){field, index};
        int r = decode_table(d, field->table, p, n, out, depth);
        d->nframes--;
        return r;
}

static int decode_string(struct decoder *d, const struct wire_field *f, const struct raw_field *raw, void *out) {
        bool inline_ = f->flags & WIRE_F_INLINE;
        uint32_t max = f->max || inline_ ? f->max : UINT32_MAX;
        if (raw->length > max)
                return fail(d, AT_FIELD(f), "string of %u bytes exceeds max %u", raw->length, max);
        const uint8_t *nul = memchr(raw->value, 0, raw->length);
        if (nul)
                return fail(d, AT_FIELD(f), "string holds a NUL byte at offset %td", nul - raw->value);
        char *s;
        if (inline_)
                s = (char *)out + f->offset; /* char[max + 1], zeroed, so the NUL is there already */
        else {
                void *mem;
                int r = arena_alloc(d, (size_t)raw->length + 1, &mem);
                if (r < 0)
                        return r;
                s = mem;
                set_ptr_member(out, f->offset, s);
        }
        memcpy(s, raw->value, raw->length);
        return 0;
}

static int decode_table_array(struct decoder *d, const struct wire_field *f, const struct raw_field *raw, void *out,
                              unsigned depth) {
        /* First pass: framing of every element, and the count, before anything is allocated. */
        uint32_t count = 0;
        for (size_t off = 0; off < raw->length; count++) {
                struct raw_field e;
                size_t n = raw->length - off;
                if (n < WIRE_FIELD_HEADER_SIZE)
                        return fail(d, AT_ELEMENT(f, count), "%zu bytes left are too short for an element header", n);
                read_field_header(raw->value + off, &e);
                int r = check_field_frame(d, AT_ELEMENT(f, count), &e, n);
                if (r < 0)
                        return r;
                if (e.tag != 0)
                        return fail(d, AT_ELEMENT(f, count), "element has tag %u, expected 0", e.tag);
                if (e.type != WIRE_TABLE)
                        return fail(d, AT_ELEMENT(f, count), "element has type %s (%u), expected table",
                                    type_name(e.type), e.type);
                off += e.span;
        }
        uint32_t cap = array_cap(d, f);
        if (count > cap)
                return fail(d, AT_FIELD(f), "array of %u elements exceeds max %u", count, cap);
        set_u32_member(out, f->count_offset, count);
        set_ptr_member(out, f->offset, NULL);
        if (count == 0)
                return 0;

        size_t elem_size = f->table->struct_size;
        void *mem;
        int r = arena_alloc(d, (size_t)count * elem_size, &mem);
        if (r < 0)
                return r;
        uint8_t *elems = mem;
        size_t off = 0;
        for (uint32_t i = 0; i < count; i++) {
                struct raw_field e;
                read_field_header(raw->value + off, &e);
                apply_defaults(f->table, elems + i * elem_size, depth + 1);
                r = decode_nested(d, f, i, e.value, e.length, elems + i * elem_size, depth + 1);
                if (r < 0)
                        return r;
                off += WIRE_FIELD_HEADER_SIZE + align_up(e.length, 8);
        }
        set_ptr_member(out, f->offset, elems);
        return 0;
}

static int decode_scalar_array(struct decoder *d, const struct wire_field *f, const struct raw_field *raw, void *out) {
        size_t wire_size = f->type == WIRE_U64_ARRAY ? 8 : 4;
        size_t c_size = f->type == WIRE_U64_ARRAY   ? sizeof(uint64_t)
                        : f->type == WIRE_U32_ARRAY ? sizeof(uint32_t)
                                                    : sizeof(int);
        if (raw->length % wire_size != 0)
                return fail(d, AT_FIELD(f), "length %u is not a multiple of the %zu-byte element", raw->length,
                            wire_size);
        uint32_t count = (uint32_t)(raw->length / wire_size);
        uint32_t cap = array_cap(d, f);
        if (count > cap)
                return fail(d, AT_FIELD(f), "array of %u elements exceeds max %u", count, cap);
        set_u32_member(out, f->count_offset, count);
        set_ptr_member(out, f->offset, NULL);
        if (count == 0)
                return 0;

        void *mem;
        int r = arena_alloc(d, count * c_size, &mem);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *v = raw->value + i * wire_size;
                if (f->type == WIRE_U32_ARRAY)
                        ((uint32_t *)mem)[i] = get_le32(v);
                else if (f->type == WIRE_U64_ARRAY)
                        ((uint64_t *)mem)[i] = get_le64(v);
                else {
                        r = take_fd_index(d, AT_ELEMENT(f, i), get_le32(v), &((int *)mem)[i]);
                        if (r < 0)
                                return r;
                }
        }
        set_ptr_member(out, f->offset, mem);
        return 0;
}

/* Bytes one record of this schema takes on the wire: its U32 and U64 fields, packed in tag order. */
static size_t record_wire_size(const struct wire_schema *schema) {
        size_t n = 0;
        for (uint32_t i = 0; i < schema->field_count; i++)
                n += schema->fields[i].type == WIRE_U64 ? 8 : 4;
        return n;
}

static void decode_record(const struct wire_schema *schema, const uint8_t *p, void *out) {
        for (uint32_t i = 0; i < schema->field_count; i++) {
                const struct wire_field *rf = &schema->fields[i];
                if (rf->type == WIRE_U64) {
                        uint64_t v = get_le64(p);
                        memcpy((uint8_t *)out + rf->offset, &v, sizeof(v));
                        p += 8;
                } else {
                        set_u32_member(out, rf->offset, get_le32(p));
                        p += 4;
                }
        }
}

static int decode_record_field(struct decoder *d, const struct wire_field *f, const struct raw_field *raw,
                               void *out) {
        size_t rsize = record_wire_size(f->table);
        if (f->type == WIRE_RECORD) {
                if (raw->length != rsize)
                        return fail(d, AT_FIELD(f), "record of length %u, expected %zu", raw->length, rsize);
                decode_record(f->table, raw->value, (uint8_t *)out + f->offset);
                return 0;
        }
        if (raw->length % rsize != 0)
                return fail(d, AT_FIELD(f), "length %u is not a multiple of the %zu-byte record", raw->length, rsize);
        uint32_t count = (uint32_t)(raw->length / rsize);
        uint32_t cap = array_cap(d, f);
        if (count > cap)
                return fail(d, AT_FIELD(f), "array of %u elements exceeds max %u", count, cap);
        set_u32_member(out, f->count_offset, count);
        uint8_t *elems;
        if (f->flags & WIRE_F_INLINE) {
                elems = (uint8_t *)out + f->offset; /* capacity f->max, zeroed */
        } else {
                set_ptr_member(out, f->offset, NULL);
                if (count == 0)
                        return 0;
                void *mem;
                int r = arena_alloc(d, (size_t)count * f->table->struct_size, &mem);
                if (r < 0)
                        return r;
                elems = mem;
                set_ptr_member(out, f->offset, elems);
        }
        for (uint32_t i = 0; i < count; i++)
                decode_record(f->table, raw->value + i * rsize, elems + (size_t)i * f->table->struct_size);
        return 0;
}

static int check_length(struct decoder *d, const struct wire_field *f, const struct raw_field *raw, uint32_t want) {
        if (raw->length != want)
                return fail(d, AT_FIELD(f), "%s of length %u, expected %u", type_name(f->type), raw->length, want);
        return 0;
}

static int decode_field(struct decoder *d, const struct wire_field *f, const struct raw_field *raw, void *out,
                        unsigned depth) {
        uint8_t *dst = (uint8_t *)out + f->offset;
        int r;

        switch (f->type) {
        case WIRE_U32: {
                if ((r = check_length(d, f, raw, 4)) < 0)
                        return r;
                uint32_t v = get_le32(raw->value);
                memcpy(dst, &v, sizeof(v));
                if (f->flags & WIRE_F_PRESENCE)
                        *((uint8_t *)out + f->count_offset) = 1;
                return 0;
        }
        case WIRE_U64: {
                if ((r = check_length(d, f, raw, 8)) < 0)
                        return r;
                uint64_t v = get_le64(raw->value);
                memcpy(dst, &v, sizeof(v));
                if (f->flags & WIRE_F_PRESENCE)
                        *((uint8_t *)out + f->count_offset) = 1;
                return 0;
        }
        case WIRE_BOOL: {
                if ((r = check_length(d, f, raw, 1)) < 0)
                        return r;
                uint8_t v = raw->value[0];
                if (v > 1)
                        return fail(d, AT_FIELD(f), "bool value %u is neither 0 nor 1", v);
                if (f->flags & WIRE_F_TRISTATE) {
                        enum sysmem_tristate t = v ? SYSMEM_TRUE : SYSMEM_FALSE;
                        memcpy(dst, &t, sizeof(t));
                } else {
                        bool b = v;
                        memcpy(dst, &b, sizeof(b));
                }
                return 0;
        }
        case WIRE_STRING:
                return decode_string(d, f, raw, out);
        case WIRE_FD: {
                if ((r = check_length(d, f, raw, 4)) < 0)
                        return r;
                int fd = -1;
                if ((r = take_fd_index(d, AT_FIELD(f), get_le32(raw->value), &fd)) < 0)
                        return r;
                set_int_member(out, f->offset, fd);
                return 0;
        }
        case WIRE_TABLE: {
                void *sub = dst;
                if (f->flags & WIRE_F_TABLE_PTR) {
                        if ((r = arena_alloc(d, f->table->struct_size, &sub)) < 0)
                                return r;
                        apply_defaults(f->table, sub, depth + 1);
                        set_ptr_member(out, f->offset, sub);
                }
                if (f->flags & WIRE_F_PRESENCE)
                        *((uint8_t *)out + f->count_offset) = 1;
                return decode_nested(d, f, -1, raw->value, raw->length, sub, depth + 1);
        }
        case WIRE_TABLE_ARRAY:
                return decode_table_array(d, f, raw, out, depth);
        case WIRE_U32_ARRAY:
        case WIRE_U64_ARRAY:
        case WIRE_FD_ARRAY:
                return decode_scalar_array(d, f, raw, out);
        case WIRE_RECORD:
        case WIRE_RECORD_ARRAY:
                return decode_record_field(d, f, raw, out);
        default:
                return fail(d, AT_FIELD(f), "the schema gives this field an unknown type %u", f->type);
        }
}

static int decode_table(struct decoder *d, const struct wire_schema *schema, const uint8_t *p, size_t n, void *out,
                        unsigned depth) {
        uint32_t next = 0; /* the first schema field not yet passed; tags ascend in both */
        int64_t prev_tag = -1;
        int r;

        while (n > 0) {
                if (n < WIRE_FIELD_HEADER_SIZE)
                        return fail(d, AT_TABLE, "%zu bytes left are too short for a field header", n);
                struct raw_field raw;
                read_field_header(p, &raw);
                if (raw.tag <= prev_tag)
                        return fail(d, AT_TAG(raw.tag), "tags must be strictly ascending, but it follows tag %lld",
                                    (long long)prev_tag);
                prev_tag = raw.tag;

                for (; next < schema->field_count && schema->fields[next].tag < raw.tag; next++)
                        if (schema->fields[next].flags & WIRE_F_REQUIRED)
                                return fail(d, AT_FIELD(&schema->fields[next]), "required field missing");
                const struct wire_field *f = NULL;
                if (next < schema->field_count && schema->fields[next].tag == raw.tag)
                        f = &schema->fields[next++];

                struct where w = f ? AT_FIELD(f) : AT_TAG(raw.tag);
                if ((r = check_field_frame(d, w, &raw, n)) < 0)
                        return r;
                if (!f) {
                        /* Optional fields from a newer peer are skipped; a peer marks those it relies on. */
                        if (raw.flags & FIELD_FLAG_CRITICAL)
                                return fail(d, w, "unknown field marked critical");
                        /* Every fd must be owned by a field this side understands. */
                        if (raw.type == WIRE_FD || raw.type == WIRE_FD_ARRAY)
                                return fail(d, w, "unknown field of type %s", type_name(raw.type));
                } else {
                        if (raw.type != f->type)
                                return fail(d, w, "type %s (%u), expected %s (%u)", type_name(raw.type), raw.type,
                                            type_name(f->type), f->type);
                        if ((r = decode_field(d, f, &raw, out, depth)) < 0)
                                return r;
                }
                p += raw.span;
                n -= raw.span;
        }
        for (; next < schema->field_count; next++)
                if (schema->fields[next].flags & WIRE_F_REQUIRED)
                        return fail(d, AT_FIELD(&schema->fields[next]), "required field missing");
        return 0;
}

int wire_decode(const struct wire_schema *schema, const uint8_t *buf, size_t len, int *fds, uint32_t nfds,
                const struct wire_limits *limits, struct wire_msg **ret_msg, char *err, size_t err_size) {
        struct decoder d = {
                .top = schema,
                .limits = limits,
                .fds = fds,
                .nfds = nfds,
                .err = err,
                .err_size = err_size,
        };
        struct header h;
        struct wire_msg *msg;
        int r;

        if (err && err_size > 0)
                err[0] = 0;
        if (!fds && nfds > 0)
                return -EINVAL; /* nothing to close */
        if (!schema || !limits || !ret_msg || (!buf && len > 0)) {
                r = -EINVAL;
                goto fail;
        }
        if ((r = check_header(buf, len, &h, schema->name, err, err_size)) < 0)
                goto fail;
        if (len > limits->max_message_bytes) {
                set_err(err, err_size, "%s: message of %zu bytes exceeds the limit of %u", schema->name, len,
                        limits->max_message_bytes);
                r = -EBADMSG;
                goto fail;
        }
        if (h.nfds != nfds) {
                set_err(err, err_size, "%s: header announces %u fds but %u came with it", schema->name, h.nfds, nfds);
                r = -EBADMSG;
                goto fail;
        }
        if (nfds > limits->max_fds) {
                set_err(err, err_size, "%s: %u fds exceed the limit of %u", schema->name, nfds, limits->max_fds);
                r = -EBADMSG;
                goto fail;
        }

        d.arena_limit = arena_limit(schema, len, nfds);
        void *mem;
        if ((r = arena_alloc(&d, sizeof(*msg), &mem)) < 0)
                goto fail;
        msg = mem;
        if ((r = arena_alloc(&d, schema->struct_size, &msg->body)) < 0)
                goto fail;
        if (nfds > 0) {
                if ((r = arena_alloc(&d, nfds * sizeof(int), &mem)) < 0)
                        goto fail;
                msg->fds = memcpy(mem, fds, nfds * sizeof(int));
        }
        apply_defaults(schema, msg->body, 1);
        if ((r = decode_table(&d, schema, buf + WIRE_HEADER_SIZE, len - WIRE_HEADER_SIZE, msg->body, 1)) < 0)
                goto fail;
        for (uint32_t i = 0; i < nfds; i++)
                if (!d.fd_used[i]) {
                        r = fail(&d, AT_TABLE, "fd %u came with the message but no field references it", i);
                        goto fail;
                }

        msg->opcode = h.opcode;
        msg->flags = h.flags;
        msg->txid = h.txid;
        msg->nfds = nfds;
        msg->arena = d.chunks;
        *ret_msg = msg;
        return 0;

fail:
        close_fds(fds, nfds);
        arena_free(d.chunks);
        return r;
}

void wire_msg_free(struct wire_msg *msg) {
        if (!msg)
                return;
        close_fds(msg->fds, msg->nfds);
        arena_free(msg->arena); /* msg itself lives in the arena */
}

int wire_msg_take_fd(struct wire_msg *msg, int fd) {
        if (!msg || fd < 0)
                return -1;
        for (uint32_t i = 0; i < msg->nfds; i++)
                if (msg->fds[i] == fd) {
                        msg->fds[i] = -1;
                        return fd;
                }
        return -1;
}

/* ---- encoder ---- */

struct encoder {
        uint8_t *buf;
        size_t cap;
        size_t len;
        int fds[WIRE_MAX_FDS];
        uint32_t nfds;
        uint32_t fds_cap;
};

static int reserve(struct encoder *e, size_t n, uint8_t **ret) {
        if (n > e->cap - e->len || e->len + n > UINT32_MAX)
                return -EMSGSIZE;
        *ret = e->buf + e->len;
        e->len += n;
        return 0;
}

/* Writes a field header whose length end_field() fills in; returns where it starts. */
static int begin_field(struct encoder *e, uint16_t tag, uint8_t type, size_t *ret_start) {
        uint8_t *p;
        size_t start = e->len;
        int r = reserve(e, WIRE_FIELD_HEADER_SIZE, &p);
        if (r < 0)
                return r;
        put_le16(p, tag);
        p[2] = type;
        p[3] = 0; /* field flags: nothing this version sends is critical */
        put_le32(p + 4, 0);
        *ret_start = start;
        return 0;
}

static int end_field(struct encoder *e, size_t start) {
        size_t length = e->len - start - WIRE_FIELD_HEADER_SIZE;
        size_t pad = align_up(length, 8) - length;
        uint8_t *p;
        int r = reserve(e, pad, &p);
        if (r < 0)
                return r;
        memset(p, 0, pad);
        put_le32(e->buf + start + 4, (uint32_t)length);
        return 0;
}

static int put_scalar_field(struct encoder *e, const struct wire_field *f, const void *value, size_t n) {
        size_t start;
        uint8_t *p;
        int r = begin_field(e, f->tag, f->type, &start);
        if (r < 0)
                return r;
        if ((r = reserve(e, n, &p)) < 0)
                return r;
        memcpy(p, value, n);
        return end_field(e, start);
}

static int add_fd(struct encoder *e, int fd, uint8_t ret_index[static 4]) {
        if (fd < 0)
                return -EINVAL;
        if (e->nfds >= e->fds_cap || e->nfds >= WIRE_MAX_FDS)
                return -EMSGSIZE;
        put_le32(ret_index, e->nfds);
        e->fds[e->nfds++] = fd;
        return 0;
}

static int encode_table(struct encoder *e, const struct wire_schema *schema, const void *body, unsigned depth);

static int encode_string(struct encoder *e, const struct wire_field *f, const void *body) {
        bool required = f->flags & WIRE_F_REQUIRED;
        const char *s;
        size_t n;
        if (f->flags & WIRE_F_INLINE) {
                s = (const char *)body + f->offset;
                n = strnlen(s, (size_t)f->max + 1); /* a char[max + 1] that may lack its NUL */
        } else {
                s = get_ptr_member(body, f->offset);
                if (!s)
                        return required ? -EINVAL : 0;
                n = f->max ? strnlen(s, (size_t)f->max + 1) : strlen(s);
        }
        if ((f->max || (f->flags & WIRE_F_INLINE)) && n > f->max)
                return -EINVAL;
        if (n == 0 && !required)
                return 0;
        return put_scalar_field(e, f, s, n);
}

static int encode_table_array(struct encoder *e, const struct wire_field *f, const void *body, unsigned depth) {
        uint32_t count = get_u32_member(body, f->count_offset);
        const uint8_t *elems = get_ptr_member(body, f->offset);
        if (count == 0 && !(f->flags & WIRE_F_REQUIRED))
                return 0;
        if ((count > 0 && !elems) || (f->max && count > f->max))
                return -EINVAL;
        if (depth + 1 > WIRE_MAX_DEPTH)
                return -EINVAL;
        size_t start;
        int r = begin_field(e, f->tag, WIRE_TABLE_ARRAY, &start);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < count; i++) {
                size_t elem_start;
                if ((r = begin_field(e, 0, WIRE_TABLE, &elem_start)) < 0)
                        return r;
                if ((r = encode_table(e, f->table, elems + (size_t)i * f->table->struct_size, depth + 1)) < 0)
                        return r;
                if ((r = end_field(e, elem_start)) < 0)
                        return r;
        }
        return end_field(e, start);
}

static int encode_scalar_array(struct encoder *e, const struct wire_field *f, const void *body) {
        uint32_t count = get_u32_member(body, f->count_offset);
        const void *elems = get_ptr_member(body, f->offset);
        if (count == 0 && !(f->flags & WIRE_F_REQUIRED))
                return 0;
        if ((count > 0 && !elems) || (f->max && count > f->max))
                return -EINVAL;
        size_t wire_size = f->type == WIRE_U64_ARRAY ? 8 : 4;
        size_t start;
        uint8_t *p;
        int r = begin_field(e, f->tag, f->type, &start);
        if (r < 0)
                return r;
        if ((r = reserve(e, count * wire_size, &p)) < 0)
                return r;
        for (uint32_t i = 0; i < count; i++, p += wire_size) {
                if (f->type == WIRE_U32_ARRAY)
                        put_le32(p, ((const uint32_t *)elems)[i]);
                else if (f->type == WIRE_U64_ARRAY)
                        put_le64(p, ((const uint64_t *)elems)[i]);
                else if ((r = add_fd(e, ((const int *)elems)[i], p)) < 0)
                        return r;
        }
        return end_field(e, start);
}

static void encode_record(const struct wire_schema *schema, const uint8_t *src, uint8_t *p) {
        for (uint32_t i = 0; i < schema->field_count; i++) {
                const struct wire_field *rf = &schema->fields[i];
                if (rf->type == WIRE_U64) {
                        uint64_t v;
                        memcpy(&v, src + rf->offset, sizeof(v));
                        put_le64(p, v);
                        p += 8;
                } else {
                        put_le32(p, get_u32_member(src, rf->offset));
                        p += 4;
                }
        }
}

static int encode_record_field(struct encoder *e, const struct wire_field *f, const void *body) {
        bool required = f->flags & WIRE_F_REQUIRED;
        size_t rsize = record_wire_size(f->table);
        const uint8_t *elems;
        uint32_t count;
        if (f->type == WIRE_RECORD) {
                elems = (const uint8_t *)body + f->offset;
                count = 1;
                /* A record cannot say "absent" itself: all zero means absent. */
                bool zero = true;
                for (size_t i = 0; i < f->table->struct_size; i++)
                        zero = zero && elems[i] == 0;
                if (zero && !required)
                        return 0;
        } else {
                count = get_u32_member(body, f->count_offset);
                elems = f->flags & WIRE_F_INLINE ? (const uint8_t *)body + f->offset : get_ptr_member(body, f->offset);
                if (count == 0 && !required)
                        return 0;
                if ((count > 0 && !elems) || (f->max && count > f->max))
                        return -EINVAL;
        }
        size_t start;
        uint8_t *p;
        int r = begin_field(e, f->tag, f->type, &start);
        if (r < 0)
                return r;
        if ((r = reserve(e, count * rsize, &p)) < 0)
                return r;
        for (uint32_t i = 0; i < count; i++)
                encode_record(f->table, elems + (size_t)i * f->table->struct_size, p + i * rsize);
        return end_field(e, start);
}

static bool present(const struct wire_field *f, const void *body, bool nonzero) {
        if (f->flags & WIRE_F_PRESENCE)
                return *((const uint8_t *)body + f->count_offset) != 0;
        return nonzero || (f->flags & WIRE_F_REQUIRED);
}

static int encode_field(struct encoder *e, const struct wire_field *f, const void *body, unsigned depth) {
        bool required = f->flags & WIRE_F_REQUIRED;
        const uint8_t *src = (const uint8_t *)body + f->offset;
        uint8_t v[8];

        switch (f->type) {
        case WIRE_U32: {
                uint32_t x = get_u32_member(body, f->offset);
                if (!present(f, body, x != 0))
                        return 0;
                put_le32(v, x);
                return put_scalar_field(e, f, v, 4);
        }
        case WIRE_U64: {
                uint64_t x;
                memcpy(&x, src, sizeof(x));
                if (!present(f, body, x != 0))
                        return 0;
                put_le64(v, x);
                return put_scalar_field(e, f, v, 8);
        }
        case WIRE_BOOL:
                if (f->flags & WIRE_F_TRISTATE) {
                        int t; /* an int, not the enum: any value may be stored there */
                        memcpy(&t, src, sizeof(t));
                        if (t == SYSMEM_UNSET)
                                return required ? -EINVAL : 0;
                        if (t != SYSMEM_FALSE && t != SYSMEM_TRUE)
                                return -EINVAL;
                        v[0] = t == SYSMEM_TRUE;
                } else {
                        uint8_t b; /* read as a byte: a stray value in a bool must not be undefined behaviour */
                        memcpy(&b, src, sizeof(b));
                        if (!b && !required)
                                return 0;
                        v[0] = b != 0;
                }
                return put_scalar_field(e, f, v, 1);
        case WIRE_STRING:
                return encode_string(e, f, body);
        case WIRE_FD: {
                int fd = get_int_member(body, f->offset);
                if (fd == -1 && !required)
                        return 0;
                int r = add_fd(e, fd, v);
                if (r < 0)
                        return r;
                return put_scalar_field(e, f, v, 4);
        }
        case WIRE_TABLE: {
                const void *sub = src;
                if ((f->flags & WIRE_F_PRESENCE) && !present(f, body, false))
                        return 0;
                if (f->flags & WIRE_F_TABLE_PTR) {
                        sub = get_ptr_member(body, f->offset);
                        if (!sub)
                                return required ? -EINVAL : 0;
                }
                if (depth + 1 > WIRE_MAX_DEPTH)
                        return -EINVAL;
                size_t start;
                int r = begin_field(e, f->tag, WIRE_TABLE, &start);
                if (r < 0)
                        return r;
                if ((r = encode_table(e, f->table, sub, depth + 1)) < 0)
                        return r;
                /* An embedded table cannot say "absent" itself: empty means absent. A pointer can. */
                if (e->len == start + WIRE_FIELD_HEADER_SIZE && !required &&
                    !(f->flags & (WIRE_F_TABLE_PTR | WIRE_F_PRESENCE))) {
                        e->len = start;
                        return 0;
                }
                return end_field(e, start);
        }
        case WIRE_TABLE_ARRAY:
                return encode_table_array(e, f, body, depth);
        case WIRE_U32_ARRAY:
        case WIRE_U64_ARRAY:
        case WIRE_FD_ARRAY:
                return encode_scalar_array(e, f, body);
        case WIRE_RECORD:
        case WIRE_RECORD_ARRAY:
                return encode_record_field(e, f, body);
        default:
                return -EINVAL;
        }
}

static int encode_table(struct encoder *e, const struct wire_schema *schema, const void *body, unsigned depth) {
        for (uint32_t i = 0; i < schema->field_count; i++) {
                /* The decoder walks schema and message in step; an unsorted schema is a bug worth refusing. */
                if (i > 0 && schema->fields[i].tag <= schema->fields[i - 1].tag)
                        return -EINVAL;
                int r = encode_field(e, &schema->fields[i], body, depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

int wire_encode(const struct wire_schema *schema, uint16_t opcode, uint16_t flags, uint32_t txid, const void *body,
                uint8_t *buf, size_t cap, size_t *ret_len, int *ret_fds, uint32_t fds_cap, uint32_t *ret_nfds) {
        if (!schema || !body || !buf || !ret_len || ((!ret_fds || !ret_nfds) && fds_cap > 0))
                return -EINVAL;
        if ((flags & ~WIRE_FLAGS_KNOWN) || ((flags & WIRE_FLAG_ERROR) && !(flags & WIRE_FLAG_REPLY)) ||
            ((flags & WIRE_FLAG_EVENT) && (flags & WIRE_FLAG_REPLY)))
                return -EINVAL;

        struct encoder enc = {.buf = buf, .cap = cap, .fds_cap = fds_cap}, *e = &enc;
        uint8_t *h;
        int r = reserve(e, WIRE_HEADER_SIZE, &h);
        if (r < 0)
                return r;
        if ((r = encode_table(e, schema, body, 1)) < 0)
                return r;
        put_le32(buf, (uint32_t)e->len);
        put_le16(buf + 4, opcode);
        put_le16(buf + 6, flags);
        put_le32(buf + 8, txid);
        put_le32(buf + 12, e->nfds);
        if (e->nfds > 0)
                memcpy(ret_fds, e->fds, e->nfds * sizeof(int));
        *ret_len = e->len;
        if (ret_nfds)
                *ret_nfds = e->nfds;
        return 0;
}
