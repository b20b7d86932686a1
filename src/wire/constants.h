/* constants.h: every number of the protocol that is not in a schema (enum values, bits, limits), by name. */
#ifndef SYSMEM_WIRE_CONSTANTS_H
#define SYSMEM_WIRE_CONSTANTS_H

#include <stddef.h>
#include <stdint.h>

/*
 * docs/protocol.md (§11) and docs/protocol.json list these tables; test-wire generates both from them and
 * checks, by reading the C headers named in each group's `scan`, that every C constant of the group is in
 * the table with the same value (a value added to a header without its table entry fails the unit test).
 */
enum wire_constant_kind {
        WIRE_CONST_ENUM = 1,  /* exactly one of the values */
        WIRE_CONST_BITS = 2,  /* an OR of the values (each a bit, or a mask) */
        WIRE_CONST_LIMIT = 3, /* a number a peer must respect */
};

struct wire_constant {
        const char *c_name; /* the C identifier that defines it */
        uint64_t value;
        const char *meaning;
};

/* Where the C definitions of a group are: every `#define PREFIX...` in a header, or every member of an enum. */
struct wire_constant_scan {
        const char *header;  /* relative to the source root, e.g. "include/sysmem/sysmem-types.h" */
        const char *define_prefix; /* every #define starting with this (NULL: use c_enum) */
        const char *c_enum;  /* "enum sysmem_error": every member of that enum */
};

struct wire_constant_group {
        const char *name;       /* "error", "header_flags", ...: the key in docs/protocol.json */
        const char *title;      /* for the document */
        const char *used_in;    /* where the values travel, e.g. "`error.error` (u32)" */
        const char *strip;      /* prefix removed from c_name for the short name ("SYSMEM_ERROR_") */
        uint8_t kind;           /* enum wire_constant_kind */
        uint8_t bits;           /* wire width: 8, 16, 32 or 64 */
        uint32_t count;
        const struct wire_constant *values;
        struct wire_constant_scan scan[3]; /* the definitions this table must cover; .header NULL ends */
};

extern const struct wire_constant_group wire_constant_groups[];
extern const size_t wire_constant_group_count;

/* The short name of a constant in its group: c_name without the group's strip prefix. */
const char *wire_constant_short_name(const struct wire_constant_group *group, const struct wire_constant *constant);

#endif
