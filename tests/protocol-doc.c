/* protocol-doc.c: generators for the numbers docs/protocol.md and docs/protocol.json give, and their C tie. */
#include "protocol-doc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "common/macros.h"
#include "core/image-format.h"
#include "core/names.h"
#include "wire/constants.h"
#include "wire/messages.h"

/* ---- sizes from the schemas ---- */

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t sat_mul(uint64_t a, uint64_t b) {
        uint64_t r;
        return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
static uint64_t pad8(uint64_t v) { return v == UINT64_MAX ? v : sat_add(v, (8 - v % 8) % 8); }

static uint64_t record_size(const struct wire_schema *s) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < s->field_count; i++)
                n += s->fields[i].type == WIRE_U64 ? 8 : 4;
        return n;
}

static uint64_t table_max_bytes(const struct wire_schema *s);

/* The most bytes of one field's value (without its header and padding). */
static uint64_t value_max_bytes(const struct wire_field *f) {
        /* Arrays without a max in their schema are bounded only by the receiver's max_array_elements. */
        uint64_t max = f->max ? f->max : UINT64_MAX;
        switch (f->type) {
        case WIRE_U32:
        case WIRE_FD:
                return 4;
        case WIRE_U64:
                return 8;
        case WIRE_BOOL:
                return 1;
        case WIRE_STRING:
                return max;
        case WIRE_U32_ARRAY:
        case WIRE_FD_ARRAY:
                return sat_mul(max, 4);
        case WIRE_U64_ARRAY:
                return sat_mul(max, 8);
        case WIRE_TABLE:
                return table_max_bytes(f->table);
        case WIRE_TABLE_ARRAY:
                return sat_mul(max, sat_add(WIRE_FIELD_HEADER_SIZE, pad8(table_max_bytes(f->table))));
        case WIRE_RECORD:
                return record_size(f->table);
        case WIRE_RECORD_ARRAY:
                return sat_mul(max, record_size(f->table));
        default:
                return UINT64_MAX;
        }
}

static uint64_t table_max_bytes(const struct wire_schema *s) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < s->field_count; i++)
                n = sat_add(n, sat_add(WIRE_FIELD_HEADER_SIZE, pad8(value_max_bytes(&s->fields[i]))));
        return n;
}

static uint64_t table_max_fds(const struct wire_schema *s) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < s->field_count; i++) {
                const struct wire_field *f = &s->fields[i];
                uint64_t max = f->max ? f->max : UINT64_MAX;
                if (f->type == WIRE_FD)
                        n = sat_add(n, 1);
                else if (f->type == WIRE_FD_ARRAY)
                        n = sat_add(n, max);
                else if (f->type == WIRE_TABLE)
                        n = sat_add(n, table_max_fds(f->table));
                else if (f->type == WIRE_TABLE_ARRAY)
                        n = sat_add(n, sat_mul(max, table_max_fds(f->table)));
        }
        return n;
}

uint64_t protocol_doc_max_bytes(const struct wire_schema *schema) {
        return sat_add(WIRE_HEADER_SIZE, table_max_bytes(schema));
}

uint64_t protocol_doc_max_fds(const struct wire_schema *schema) { return table_max_fds(schema); }

/* ---- shared helpers ---- */

static const char *kind_word(uint8_t kind) {
        return kind == WIRE_CONST_BITS ? "bits" : kind == WIRE_CONST_LIMIT ? "limit" : "enum";
}

static void print_value(FILE *f, const struct wire_constant_group *g, uint64_t v) {
        if (g->kind == WIRE_CONST_LIMIT)
                fprintf(f, "%" PRIu64, v);
        else if (g->bits == 64 && g->kind != WIRE_CONST_BITS)
                fprintf(f, "0x%016" PRIx64, v);
        else if (g->kind == WIRE_CONST_BITS || v > 0xffff)
                fprintf(f, "0x%" PRIx64, v);
        else
                fprintf(f, "%" PRIu64, v);
}

/* A fourcc's four characters, trailing blanks kept as they are ("R8  "). */
static void fourcc_chars(uint32_t fourcc, char out[5]) {
        for (int i = 0; i < 4; i++) {
                char c = (char)((fourcc >> (8 * i)) & 0xff);
                out[i] = isprint((unsigned char)c) ? c : '?';
        }
        out[4] = '\0';
}

static uint32_t linear_planes(uint32_t fourcc) {
        struct sysmem_plane_layout l;
        if (!image_format_plane_layout(fourcc, DRM_FORMAT_MOD_LINEAR, (struct sysmem_size){16, 16},
                                       16 * image_format_lookup(fourcc)->stride_bytes_per_width_pixel, &l))
                return 0;
        return l.plane_count;
}

static bool is_special_modifier(uint64_t m) {
        return m == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE || m == SYSMEM_FORMAT_MODIFIER_INVALID;
}

#define AFBC_BASE DRM_FORMAT_MOD_ARM_AFBC(0)
static const struct core_name afbc_block_sizes[] = {
        {"16x16", AFBC_FORMAT_MOD_BLOCK_SIZE_16x16},
        {"32x8", AFBC_FORMAT_MOD_BLOCK_SIZE_32x8},
        {NULL, 0},
};

/* Modifiers sysmem lays out for this format, by name ("ARM_AFBC_*" when any AFBC block size is). */
static void print_format_modifiers(FILE *f, uint32_t fourcc, const char *sep_first, const char *sep, bool json) {
        const char *s = sep_first;
        for (const struct core_name *n = core_modifier_names; n->name; n++) {
                if (is_special_modifier(n->value) || !image_format_is_supported(fourcc, n->value))
                        continue;
                fprintf(f, json ? "%s\"%s\"" : "%s`%s`", s, n->name);
                s = sep;
        }
}

/* ---- markdown ---- */

static void print_group_md(FILE *f, const struct wire_constant_group *g) {
        fprintf(f, "\n#### %s\n\n", g->title);
        fprintf(f, "In: %s.%s\n\n", g->used_in,
                g->kind == WIRE_CONST_BITS   ? " A value is an OR of these bits."
                : g->kind == WIRE_CONST_ENUM ? " Exactly one of these values."
                                             : "");
        fprintf(f, "| value | name | C name | meaning |\n| --- | --- | --- | --- |\n");
        for (uint32_t i = 0; i < g->count; i++) {
                const struct wire_constant *c = &g->values[i];
                fprintf(f, "| ");
                print_value(f, g, c->value);
                fprintf(f, " | `%s` | `%s` | %s |\n", wire_constant_short_name(g, c), c->c_name, c->meaning);
        }
}

static void print_formats_md(FILE *f) {
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        fprintf(f, "\n#### Pixel formats sysmem knows\n\n");
        fprintf(f, "In: `pixel_format` (u32) fields: the DRM fourcc, `fourcc_code(a, b, c, d)` = a | b << 8 | c << 16 "
                   "| d << 24 (so the u32's little-endian bytes spell the code). Other fourccs are accepted and laid "
                   "out only by a device (docs/constraints.md). Planes, bytes per pixel and the divisors are those "
                   "of the LINEAR layout (docs/layouts.md).\n\n");
        fprintf(f, "| value | fourcc | name | planes | bytes/pixel (plane 0) | width, height divisor | modifiers sysmem "
                   "lays out |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (uint32_t i = 0; i < n; i++) {
                char cc[5];
                fourcc_chars(all[i].fourcc, cc);
                fprintf(f, "| 0x%08" PRIx32 " | `%s` | `%s` | %" PRIu32 " | %" PRIu32 " | %" PRIu32 ", %" PRIu32 " | ",
                        all[i].fourcc, cc, all[i].name, linear_planes(all[i].fourcc),
                        all[i].stride_bytes_per_width_pixel, all[i].width_min_divisor, all[i].height_min_divisor);
                print_format_modifiers(f, all[i].fourcc, "", ", ", false);
                if (image_format_is_supported(all[i].fourcc, AFBC_BASE | AFBC_FORMAT_MOD_BLOCK_SIZE_16x16))
                        fprintf(f, ", `ARM_AFBC_*` (below)");
                fprintf(f, " |\n");
        }
}

static void print_modifiers_md(FILE *f) {
        fprintf(f, "\n#### Format modifiers sysmem knows\n\n");
        fprintf(f, "In: `pixel_format_modifier` (u64) fields: DRM format modifiers (libdrm's `drm_fourcc.h`), the "
                   "vendor in the top 8 bits. Other modifiers are accepted and laid out only by a device.\n\n");
        fprintf(f, "| value | name |\n| --- | --- |\n");
        for (const struct core_name *n = core_modifier_names; n->name; n++)
                fprintf(f, "| 0x%016" PRIx64 " | `%s` |\n", n->value, n->name);
        fprintf(f, "\nAn ARM AFBC modifier is 0x%016" PRIx64 " | block size | flags (`DRM_FORMAT_MOD_ARM_AFBC`); sysmem "
                   "lays out these block sizes and flags, and no others:\n\n",
                (uint64_t)AFBC_BASE);
        fprintf(f, "| value | AFBC block size (`AFBC_FORMAT_MOD_BLOCK_SIZE_*`, mask 0x%" PRIx64 ") |\n| --- | --- |\n",
                (uint64_t)AFBC_FORMAT_MOD_BLOCK_SIZE_MASK);
        for (const struct core_name *n = afbc_block_sizes; n->name; n++)
                fprintf(f, "| 0x%" PRIx64 " | `%s` |\n", n->value, n->name);
        fprintf(f, "\n| value | AFBC flag (`AFBC_FORMAT_MOD_*`) |\n| --- | --- |\n");
        for (const struct core_name *n = core_afbc_flag_names; n->name; n++)
                fprintf(f, "| 0x%" PRIx64 " | `%s` |\n", n->value, n->name);
}

static void collect(const struct wire_schema *s, const struct wire_schema **list, size_t *n, size_t cap) {
        for (size_t i = 0; i < *n; i++)
                if (list[i] == s)
                        return;
        if (*n >= cap)
                abort();
        list[(*n)++] = s;
        for (uint32_t i = 0; i < s->field_count; i++)
                if (s->fields[i].table)
                        collect(s->fields[i].table, list, n, cap);
}

static size_t all_schemas(const struct wire_schema **list, size_t cap) {
        size_t n = 0;
        for (size_t i = 0; i < wire_message_count; i++) {
                collect(wire_messages[i].request, list, &n, cap);
                if (wire_messages[i].reply)
                        collect(wire_messages[i].reply, list, &n, cap);
        }
        collect(&wire_error_schema, list, &n, cap);
        return n;
}

static void print_u64_or_unbounded(FILE *f, uint64_t v) {
        if (v == UINT64_MAX)
                fprintf(f, "unbounded");
        else
                fprintf(f, "%" PRIu64, v);
}

/* The most fds one message from the server (a reply or an event) can carry. */
static uint64_t max_server_fds(void) {
        uint64_t m = 0;
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *d = &wire_messages[i];
                const struct wire_schema *s = wire_message_is_event(d) ? d->request : d->reply;
                if (s && protocol_doc_max_fds(s) > m)
                        m = protocol_doc_max_fds(s);
        }
        return m;
}

static void print_sizes_md(FILE *f) {
        fprintf(f, "\n#### Largest messages\n\n");
        fprintf(f, "The most bytes (header included) and fds each message can have when every field is present at its "
                   "max, computed from the schemas. A sender MUST also stay within the receiver's limits (§6). The "
                   "server never sends a message larger than %u bytes (`WIRE_MIN_RECEIVE_BYTES`; it cuts a "
                   "`GetDiagnostics` page to fit), and a client MUST be able to receive that many bytes and the "
                   "most fds of any reply or event it can get (the largest here: %" PRIu64 ").\n\n",
                WIRE_MIN_RECEIVE_BYTES, max_server_fds());
        fprintf(f, "| message | request bytes | request fds | reply bytes | reply fds |\n| --- | --- | --- | --- | --- |\n");
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *d = &wire_messages[i];
                fprintf(f, "| %s | ", d->name);
                print_u64_or_unbounded(f, protocol_doc_max_bytes(d->request));
                fprintf(f, " | ");
                print_u64_or_unbounded(f, protocol_doc_max_fds(d->request));
                fprintf(f, " | ");
                if (d->reply) {
                        print_u64_or_unbounded(f, protocol_doc_max_bytes(d->reply));
                        fprintf(f, " | ");
                        print_u64_or_unbounded(f, protocol_doc_max_fds(d->reply));
                } else if (d->two_way) {
                        fprintf(f, "- | -");
                } else {
                        fprintf(f, "none | none");
                }
                fprintf(f, " |\n");
        }
        uint64_t error_bytes = protocol_doc_max_bytes(&wire_error_schema);
        fprintf(f, "\nAn error reply is at most %" PRIu64 " bytes with no fds.\n", error_bytes);

        fprintf(f, "\n#### Field limits\n\n");
        fprintf(f, "Every string and array field with its max (§7.2): strings in bytes, arrays in elements.\n\n");
        fprintf(f, "| field | type | max |\n| --- | --- | --- |\n");
        const struct wire_schema *list[64];
        size_t n = all_schemas(list, ARRAY_LEN(list));
        for (size_t i = 0; i < n; i++)
                for (uint32_t j = 0; j < list[i]->field_count; j++) {
                        const struct wire_field *fl = &list[i]->fields[j];
                        bool has_max = fl->type == WIRE_STRING || fl->type == WIRE_TABLE_ARRAY ||
                                       fl->type == WIRE_U32_ARRAY || fl->type == WIRE_U64_ARRAY ||
                                       fl->type == WIRE_FD_ARRAY || fl->type == WIRE_RECORD_ARRAY;
                        if (!has_max)
                                continue;
                        fprintf(f, "| `%s.%s` | %s | ", list[i]->name, fl->name,
                                fl->type == WIRE_STRING ? "string" : "array");
                        if (fl->max)
                                fprintf(f, "%" PRIu32, fl->max);
                        else
                                fprintf(f, "max_array_elements");
                        fprintf(f, " |\n");
                }
}

void protocol_doc_print_constants(FILE *f) {
        fprintf(f, "Generated from `src/wire/constants.c`, `src/core/image-format.c` and `src/core/names.c` "
                   "(`test-wire --print-protocol-constants`).\n");
        for (size_t i = 0; i < wire_constant_group_count; i++)
                print_group_md(f, &wire_constant_groups[i]);
        print_formats_md(f);
        print_modifiers_md(f);
        print_sizes_md(f);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static const char *type_name(uint8_t type) {
        static const char *const names[] = {
                [WIRE_U32] = "u32",           [WIRE_U64] = "u64",          [WIRE_BOOL] = "bool",
                [WIRE_STRING] = "string",     [WIRE_FD] = "fd",            [WIRE_TABLE] = "table",
                [WIRE_TABLE_ARRAY] = "table_array", [WIRE_U32_ARRAY] = "u32_array", [WIRE_U64_ARRAY] = "u64_array",
                [WIRE_FD_ARRAY] = "fd_array", [WIRE_RECORD] = "record",    [WIRE_RECORD_ARRAY] = "record_array",
        };
        return type < ARRAY_LEN(names) && names[type] ? names[type] : "?";
}

static const char *absent_word(const struct wire_field *fl) {
        if (fl->flags & WIRE_F_REQUIRED)
                return "invalid";
        if (fl->flags & WIRE_F_PRESENCE)
                return "not_present";
        if (fl->flags & WIRE_F_TRISTATE)
                return "unset";
        if (fl->type == WIRE_TABLE && (fl->flags & WIRE_F_TABLE_PTR))
                return "no_table";
        return "default";
}

static void print_objects_json(FILE *f, uint8_t objects) {
        static const char *const names[] = {"allocator", "token", "collection", "group"};
        const char *sep = "";
        fputc('[', f);
        for (unsigned i = 0; i < ARRAY_LEN(names); i++)
                if (objects & (1u << i)) {
                        fprintf(f, "%s\"%s\"", sep, names[i]);
                        sep = ", ";
                }
        fputc(']', f);
}

static void print_json_u64_or_null(FILE *f, uint64_t v) {
        if (v == UINT64_MAX)
                fprintf(f, "null");
        else
                fprintf(f, "%" PRIu64, v);
}

void protocol_doc_print_json(FILE *f) {
        fprintf(f, "{\n  \"generated_by\": \"test-wire --print-protocol-json\",\n");
        fprintf(f, "  \"note\": \"docs/protocol.md is normative; this file lists its numbers. Integers are exact "
                   "(some are 64-bit).\",\n");
        fprintf(f, "  \"header\": {\"size\": %u, \"fields\": [{\"name\": \"size\", \"offset\": 0, \"bytes\": 4}, "
                   "{\"name\": \"opcode\", \"offset\": 4, \"bytes\": 2}, {\"name\": \"flags\", \"offset\": 6, "
                   "\"bytes\": 2}, {\"name\": \"txid\", \"offset\": 8, \"bytes\": 4}, {\"name\": \"nfds\", "
                   "\"offset\": 12, \"bytes\": 4}]},\n",
                WIRE_HEADER_SIZE);
        fprintf(f, "  \"field_header\": {\"size\": %u, \"alignment\": 8, \"fields\": [{\"name\": \"tag\", \"offset\": 0, "
                   "\"bytes\": 2}, {\"name\": \"type\", \"offset\": 2, \"bytes\": 1}, {\"name\": \"flags\", "
                   "\"offset\": 3, \"bytes\": 1}, {\"name\": \"length\", \"offset\": 4, \"bytes\": 4}]},\n",
                WIRE_FIELD_HEADER_SIZE);
        fprintf(f, "  \"first_event_opcode\": %u,\n", WIRE_OP_FIRST_EVENT);

        fprintf(f, "  \"messages\": [\n");
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *d = &wire_messages[i];
                fprintf(f, "    {\"opcode\": %u, \"name\": ", d->opcode);
                json_str(f, d->name);
                fprintf(f, ", \"objects\": ");
                print_objects_json(f, d->objects);
                fprintf(f, ", \"kind\": \"%s\", \"request\": ",
                        wire_message_is_event(d) ? "event" : d->two_way ? "two-way" : "one-way");
                json_str(f, d->request->name);
                fprintf(f, ", \"reply\": ");
                if (d->reply)
                        json_str(f, d->reply->name);
                else
                        fprintf(f, "null");
                fprintf(f, ", \"max_request_bytes\": ");
                print_json_u64_or_null(f, protocol_doc_max_bytes(d->request));
                fprintf(f, ", \"max_request_fds\": ");
                print_json_u64_or_null(f, protocol_doc_max_fds(d->request));
                fprintf(f, ", \"max_reply_bytes\": ");
                print_json_u64_or_null(f, d->reply ? protocol_doc_max_bytes(d->reply) : UINT64_MAX);
                fprintf(f, ", \"max_reply_fds\": ");
                print_json_u64_or_null(f, d->reply ? protocol_doc_max_fds(d->reply) : UINT64_MAX);
                fprintf(f, "}%s\n", i + 1 < wire_message_count ? "," : "");
        }
        fprintf(f, "  ],\n");

        fprintf(f, "  \"tables\": {\n");
        const struct wire_schema *list[64];
        size_t n = all_schemas(list, ARRAY_LEN(list));
        for (size_t i = 0; i < n; i++) {
                const struct wire_schema *s = list[i];
                fprintf(f, "    ");
                json_str(f, s->name);
                fprintf(f, ": {\"record_bytes\": %" PRIu64 ", \"fields\": [", record_size(s));
                for (uint32_t j = 0; j < s->field_count; j++) {
                        const struct wire_field *fl = &s->fields[j];
                        fprintf(f, "%s\n      {\"tag\": %u, \"name\": ", j ? "," : "", fl->tag);
                        json_str(f, fl->name);
                        fprintf(f, ", \"type\": \"%s\", \"type_code\": %u, \"required\": %s, \"max\": ",
                                type_name(fl->type), fl->type, fl->flags & WIRE_F_REQUIRED ? "true" : "false");
                        if (fl->max)
                                fprintf(f, "%" PRIu32, fl->max);
                        else
                                fprintf(f, "null");
                        fprintf(f, ", \"table\": ");
                        if (fl->table)
                                json_str(f, fl->table->name);
                        else
                                fprintf(f, "null");
                        fprintf(f, ", \"absent\": \"%s\"}", absent_word(fl));
                }
                fprintf(f, "%s]}%s\n", s->field_count ? "\n    " : "", i + 1 < n ? "," : "");
        }
        fprintf(f, "  },\n");

        fprintf(f, "  \"constants\": {\n");
        for (size_t i = 0; i < wire_constant_group_count; i++) {
                const struct wire_constant_group *g = &wire_constant_groups[i];
                fprintf(f, "    ");
                json_str(f, g->name);
                fprintf(f, ": {\"title\": ");
                json_str(f, g->title);
                fprintf(f, ", \"in\": ");
                json_str(f, g->used_in);
                fprintf(f, ", \"kind\": \"%s\", \"bits\": %u, \"values\": [", kind_word(g->kind), g->bits);
                for (uint32_t j = 0; j < g->count; j++) {
                        const struct wire_constant *c = &g->values[j];
                        fprintf(f, "%s\n      {\"name\": ", j ? "," : "");
                        json_str(f, wire_constant_short_name(g, c));
                        fprintf(f, ", \"c_name\": ");
                        json_str(f, c->c_name);
                        fprintf(f, ", \"value\": %" PRIu64 ", \"meaning\": ", c->value);
                        json_str(f, c->meaning);
                        fprintf(f, "}");
                }
                fprintf(f, "\n    ]}%s\n", i + 1 < wire_constant_group_count ? "," : "");
        }
        fprintf(f, "  },\n");

        uint32_t nf;
        const struct image_format_info *all = image_format_all(&nf);
        fprintf(f, "  \"pixel_formats\": [\n");
        for (uint32_t i = 0; i < nf; i++) {
                char cc[5];
                fourcc_chars(all[i].fourcc, cc);
                fprintf(f, "    {\"name\": \"%s\", \"fourcc\": ", all[i].name);
                json_str(f, cc);
                fprintf(f, ", \"value\": %" PRIu32 ", \"planes\": %" PRIu32 ", \"bytes_per_pixel\": %" PRIu32
                           ", \"width_divisor\": %" PRIu32 ", \"height_divisor\": %" PRIu32 ", \"modifiers\": [",
                        all[i].fourcc, linear_planes(all[i].fourcc), all[i].stride_bytes_per_width_pixel,
                        all[i].width_min_divisor, all[i].height_min_divisor);
                print_format_modifiers(f, all[i].fourcc, "", ", ", true);
                fprintf(f, "], \"afbc\": %s}%s\n",
                        image_format_is_supported(all[i].fourcc, AFBC_BASE | AFBC_FORMAT_MOD_BLOCK_SIZE_16x16)
                                ? "true"
                                : "false",
                        i + 1 < nf ? "," : "");
        }
        fprintf(f, "  ],\n");
        fprintf(f, "  \"modifiers\": [\n");
        for (const struct core_name *m = core_modifier_names; m->name; m++)
                fprintf(f, "    {\"name\": \"%s\", \"value\": %" PRIu64 "}%s\n", m->name, m->value, m[1].name ? "," : "");
        fprintf(f, "  ],\n");
        fprintf(f, "  \"afbc\": {\"base\": %" PRIu64 ", \"block_size_mask\": %" PRIu64 ", \"block_sizes\": [",
                (uint64_t)AFBC_BASE, (uint64_t)AFBC_FORMAT_MOD_BLOCK_SIZE_MASK);
        for (const struct core_name *m = afbc_block_sizes; m->name; m++)
                fprintf(f, "%s{\"name\": \"%s\", \"value\": %" PRIu64 "}", m == afbc_block_sizes ? "" : ", ", m->name,
                        m->value);
        fprintf(f, "], \"flags\": [");
        for (const struct core_name *m = core_afbc_flag_names; m->name; m++)
                fprintf(f, "%s{\"name\": \"%s\", \"value\": %" PRIu64 "}", m == core_afbc_flag_names ? "" : ", ",
                        m->name, m->value);
        fprintf(f, "]}\n}\n");
}

/* ---- the tie to the C headers ---- */

struct scanned {
        char name[96];
        uint64_t value;
};

static char *slurp(const char *path) {
        FILE *in = fopen(path, "re");
        if (!in)
                return NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        if (!out) {
                fclose(in);
                return NULL;
        }
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
                fwrite(chunk, 1, got, out);
        fclose(in);
        fclose(out);
        return text;
}

/* Blanks out comments, so that what is left is code. */
static void strip_comments(char *s) {
        for (char *p = s; *p; p++) {
                if (p[0] == '/' && p[1] == '*') {
                        char *end = strstr(p + 2, "*/");
                        char *stop = end ? end + 2 : p + strlen(p);
                        for (; p < stop; p++)
                                if (*p != '\n')
                                        *p = ' ';
                        p--;
                } else if (p[0] == '/' && p[1] == '/') {
                        for (; *p && *p != '\n'; p++)
                                *p = ' ';
                        if (!*p)
                                break;
                }
        }
}

static const char *skip_space(const char *p) {
        while (*p == ' ' || *p == '\t' || *p == '(')
                p++;
        return p;
}

/* A C integer constant (with u/l suffixes), optionally `<< N`, optionally in parentheses. */
static bool parse_expr(const char *start, const char *end, uint64_t *ret) {
        char buf[128];
        if (end < start || (size_t)(end - start) >= sizeof buf)
                return false;
        memcpy(buf, start, (size_t)(end - start));
        buf[end - start] = '\0';
        const char *p = skip_space(buf);
        char *e;
        uint64_t v = strtoull(p, &e, 0);
        if (e == p)
                return false;
        while (*e == 'u' || *e == 'U' || *e == 'l' || *e == 'L')
                e++;
        p = skip_space(e);
        if (p[0] == '<' && p[1] == '<') {
                p = skip_space(p + 2);
                uint64_t shift = strtoull(p, &e, 0);
                if (e == p || shift > 63)
                        return false;
                v <<= shift;
                while (*e == 'u' || *e == 'U' || *e == 'l' || *e == 'L')
                        e++;
                p = e;
        }
        while (*p == ' ' || *p == '\t' || *p == ')')
                p++;
        if (*p != '\0')
                return false;
        *ret = v;
        return true;
}

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Every `#define PREFIX... value` of text; -1 on a value it cannot read. */
static int scan_defines(const char *text, const char *prefix, struct scanned *out, size_t cap, size_t *n, char *err,
                        size_t err_size) {
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *eol = strchr(line, '\n');
                if (!eol)
                        eol = line + strlen(line);
                const char *p = line;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strncmp(p, "#define", 7) != 0)
                        continue;
                p = skip_space(p + 7);
                if (strncmp(p, prefix, strlen(prefix)) != 0)
                        continue;
                const char *name_end = p;
                while (ident_char(*name_end))
                        name_end++;
                if (*name_end == '(') /* a function-like macro: not a constant */
                        continue;
                const char *vend = eol;
                while (vend > name_end && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r'))
                        vend--;
                if (*n >= cap || (size_t)(name_end - p) >= sizeof out[0].name)
                        return -1;
                struct scanned *s = &out[*n];
                memcpy(s->name, p, (size_t)(name_end - p));
                s->name[name_end - p] = '\0';
                if (!parse_expr(name_end, vend, &s->value)) {
                        /* A define made of other names (a mask, say) is not a constant of its own. */
                        const char *q = skip_space(name_end);
                        if (*q == '\0' || isupper((unsigned char)*q))
                                continue;
                        snprintf(err, err_size, "cannot read the value of %s", s->name);
                        return -1;
                }
                (*n)++;
        }
        return 0;
}

/* Every member of `enum NAME { ... }` in text, with C's implicit values. */
static int scan_enum(const char *text, const char *c_enum, struct scanned *out, size_t cap, size_t *n, char *err,
                     size_t err_size) {
        char head[128];
        snprintf(head, sizeof head, "%s {", c_enum);
        const char *p = strstr(text, head);
        if (!p) {
                snprintf(err, err_size, "no `%s` found", head);
                return -1;
        }
        p += strlen(head);
        const char *end = strchr(p, '}');
        if (!end)
                return -1;
        uint64_t next = 0;
        while (p < end) {
                while (p < end && !ident_char(*p))
                        p++;
                if (p >= end)
                        break;
                const char *name_end = p;
                while (ident_char(*name_end))
                        name_end++;
                if (*n >= cap || (size_t)(name_end - p) >= sizeof out[0].name)
                        return -1;
                struct scanned *s = &out[*n];
                memcpy(s->name, p, (size_t)(name_end - p));
                s->name[name_end - p] = '\0';
                const char *q = name_end;
                while (q < end && (*q == ' ' || *q == '\t' || *q == '\n'))
                        q++;
                const char *comma = memchr(q, ',', (size_t)(end - q));
                const char *stop = comma ? comma : end;
                if (*q == '=') {
                        const char *vend = stop;
                        while (vend > q && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\n'))
                                vend--;
                        if (!parse_expr(q + 1, vend, &s->value)) {
                                snprintf(err, err_size, "cannot read the value of %s", s->name);
                                return -1;
                        }
                } else {
                        s->value = next;
                }
                next = s->value + 1;
                (*n)++;
                p = comma ? comma + 1 : end;
        }
        return 0;
}

static int scan(const char *source_root, const struct wire_constant_scan *sc, struct scanned *out, size_t cap,
                size_t *n, char *err, size_t err_size) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", source_root, sc->header);
        char *text = slurp(path);
        if (!text) {
                snprintf(err, err_size, "cannot read %s", path);
                return -1;
        }
        strip_comments(text);
        int r = sc->define_prefix ? scan_defines(text, sc->define_prefix, out, cap, n, err, err_size)
                                  : scan_enum(text, sc->c_enum, out, cap, n, err, err_size);
        free(text);
        return r;
}

static const struct wire_constant *group_find(const struct wire_constant_group *g, const char *c_name) {
        for (uint32_t i = 0; i < g->count; i++)
                if (strcmp(g->values[i].c_name, c_name) == 0)
                        return &g->values[i];
        return NULL;
}

static const struct wire_constant_group *group_by_name(const char *name) {
        for (size_t i = 0; i < wire_constant_group_count; i++)
                if (strcmp(wire_constant_groups[i].name, name) == 0)
                        return &wire_constant_groups[i];
        return NULL;
}

/* The server's own enum (by member suffix) must have the values of the diagnostics group (by short name). */
static int check_server_enum(const char *source_root, const char *c_enum, const char *member_prefix,
                             const char *group_name, char *err, size_t err_size) {
        struct scanned found[32];
        size_t n = 0;
        struct wire_constant_scan sc = {.header = "src/server/server-internal.h", .c_enum = c_enum};
        if (scan(source_root, &sc, found, ARRAY_LEN(found), &n, err, err_size) < 0)
                return -1;
        const struct wire_constant_group *g = group_by_name(group_name);
        if (!g || n != g->count) {
                snprintf(err, err_size, "%s has %zu members, the diagnostics table %s %u", c_enum, n, group_name,
                         g ? g->count : 0);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                const char *suffix = found[i].name + strlen(member_prefix);
                bool ok = false;
                for (uint32_t j = 0; j < g->count; j++)
                        if (strcmp(wire_constant_short_name(g, &g->values[j]), suffix) == 0)
                                ok = g->values[j].value == found[i].value;
                if (!ok) {
                        snprintf(err, err_size, "%s (%s) is %" PRIu64 ": not the value of %s in the diagnostics table "
                                 "%s (src/wire/constants.c)", found[i].name, c_enum, found[i].value, suffix, group_name);
                        return -1;
                }
        }
        return 0;
}

int protocol_doc_check_headers(const char *source_root, char *err, size_t err_size) {
        for (size_t i = 0; i < wire_constant_group_count; i++) {
                const struct wire_constant_group *g = &wire_constant_groups[i];
                for (const struct wire_constant_scan *sc = g->scan; sc < g->scan + ARRAY_LEN(g->scan) && sc->header;
                     sc++) {
                        struct scanned found[64];
                        size_t n = 0;
                        if (scan(source_root, sc, found, ARRAY_LEN(found), &n, err, err_size) < 0)
                                return -1;
                        if (n == 0) {
                                snprintf(err, err_size, "%s: nothing found for group %s", sc->header, g->name);
                                return -1;
                        }
                        for (size_t j = 0; j < n; j++) {
                                const struct wire_constant *c = group_find(g, found[j].name);
                                if (!c) {
                                        snprintf(err, err_size, "%s defines %s, which the table %s in "
                                                 "src/wire/constants.c does not list",
                                                 sc->header, found[j].name, g->name);
                                        return -1;
                                }
                                if (c->value != found[j].value) {
                                        snprintf(err, err_size, "%s: %s is %" PRIu64 " in the header, %" PRIu64
                                                 " in the table", sc->header, found[j].name, found[j].value, c->value);
                                        return -1;
                                }
                        }
                }
        }
        /* The colour-space names every tool and message uses are the same set. */
        const struct wire_constant_group *cs = group_by_name("color_space");
        size_t names = 0;
        for (const struct core_name *n = core_color_space_names; n->name; n++, names++) {
                const struct wire_constant *c = NULL;
                for (uint32_t j = 0; j < cs->count; j++)
                        if (strcmp(wire_constant_short_name(cs, &cs->values[j]), n->name) == 0)
                                c = &cs->values[j];
                if (!c || c->value != n->value) {
                        snprintf(err, err_size, "core_color_space_names' %s is not in the color_space table", n->name);
                        return -1;
                }
        }
        if (names != cs->count) {
                snprintf(err, err_size, "core_color_space_names has %zu names, the color_space table %u", names,
                         cs->count);
                return -1;
        }
        if (check_server_enum(source_root, "enum node_kind", "NODE_", "diag_kind", err, err_size) < 0 ||
            check_server_enum(source_root, "enum collection_state", "COLLECTION_", "diag_state", err, err_size) < 0)
                return -1;
        return 0;
}
