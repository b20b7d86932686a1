/* constraints-json.c: reads one participant's constraints from JSON, rejecting unknown fields, wrong types and ranges.
 */
#include "constraints-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <json-c/json.h>

#include "common/util.h"
#include "core/names.h"

/* json-c's json_object_object_foreach is a GNU statement expression, which clang's -Wpedantic rejects. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif

struct ctx {
        const char *source;
        char *err;
        size_t err_size;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->err_size, "%s: %s: %s", c->source, path[0] ? path : "(top level)", msg);
        return -EINVAL;
}

static void join(char *out, size_t size, const char *path, const char *key) {
        snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

static const char *type_name(json_object *o) { return o ? json_type_to_name(json_object_get_type(o)) : "null"; }

/* Every key of obj must be in allowed (NULL-terminated). */
static int check_keys(struct ctx *c, const char *path, json_object *obj, const char *const *allowed) {
        json_object_object_foreach(obj, key, val) {
                (void)val;
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        if (!strcmp(*a, key))
                                ok = true;
                if (!ok) {
                        char p[512];
                        join(p, sizeof p, path, key);
                        return fail(c, p, "unknown field");
                }
        }
        return 0;
}

static int get_uint(struct ctx *c, const char *path, json_object *v, uint64_t max, uint64_t *ret) {
        if (json_object_get_type(v) == json_type_string) {
                /* Large values such as modifiers may be written as hex strings. */
                const char *s = json_object_get_string(v);
                char *end;
                errno = 0;
                unsigned long long x = strtoull(s, &end, 0);
                if (errno || end == s || *end || s[0] == '-')
                        return fail(c, path, "expected an unsigned integer, got the string \"%s\"", s);
                if (x > max)
                        return fail(c, path, "value %llu is out of range (at most %" PRIu64 ")", x, max);
                *ret = x;
                return 0;
        }
        if (json_object_get_type(v) != json_type_int)
                return fail(c, path, "expected an unsigned integer, got %s", type_name(v));
        errno = 0;
        int64_t s = json_object_get_int64(v);
        if (s < 0)
                return fail(c, path, "value %" PRId64 " is negative", s);
        uint64_t u = json_object_get_uint64(v);
        if (u > max)
                return fail(c, path, "value %" PRIu64 " is out of range (at most %" PRIu64 ")", u, max);
        *ret = u;
        return 0;
}

static int get_u32(struct ctx *c, const char *path, json_object *v, uint32_t *ret) {
        uint64_t x;
        int r = get_uint(c, path, v, UINT32_MAX, &x);
        if (r == 0)
                *ret = (uint32_t)x;
        return r;
}

/* v must be an array of at most max entries; its length goes to *ret_n. */
static int get_array(struct ctx *c, const char *path, json_object *v, size_t max, size_t *ret_n) {
        *ret_n = 0; /* also on failure: callers then see no entries */
        if (json_object_get_type(v) != json_type_array)
                return fail(c, path, "expected an array, got %s", type_name(v));
        size_t n = json_object_array_length(v);
        if (n > max)
                return fail(c, path, "%zu entries; at most %zu", n, max);
        *ret_n = n;
        return 0;
}

static int get_bool(struct ctx *c, const char *path, json_object *v, bool *ret) {
        if (json_object_get_type(v) != json_type_boolean)
                return fail(c, path, "expected true or false, got %s", type_name(v));
        *ret = json_object_get_boolean(v);
        return 0;
}

static int get_tristate(struct ctx *c, const char *path, json_object *v, enum sysmem_tristate *ret) {
        bool b = false;
        int r = get_bool(c, path, v, &b);
        if (r == 0)
                *ret = b ? SYSMEM_TRUE : SYSMEM_FALSE;
        return r;
}

/* An integer, or a name from the table, or (flags) an array of names OR-ed together. */
static int get_named(struct ctx *c, const char *path, json_object *v, const struct core_name *names, bool flags,
                     uint64_t max, uint64_t *ret) {
        if (json_object_get_type(v) == json_type_int)
                return get_uint(c, path, v, max, ret);
        if (json_object_get_type(v) == json_type_string) {
                const char *s = json_object_get_string(v);
                for (const struct core_name *b = names; b->name; b++)
                        if (!strcmp(b->name, s)) {
                                *ret = b->value;
                                return 0;
                        }
                if ((s[0] >= '0' && s[0] <= '9'))
                        return get_uint(c, path, v, max, ret);
                char known[1024] = "";
                for (const struct core_name *b = names; b->name; b++) {
                        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
                        strncat(known, b->name, sizeof known - strlen(known) - 1);
                }
                return fail(c, path, "unknown name \"%s\" (known: %s)", s, known);
        }
        if (flags && json_object_get_type(v) == json_type_array) {
                uint64_t acc = 0;
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        char p[512];
                        snprintf(p, sizeof p, "%s[%zu]", path, i);
                        uint64_t bit;
                        json_object *e = json_object_array_get_idx(v, i);
                        if (json_object_get_type(e) != json_type_string)
                                return fail(c, p, "expected a name, got %s", type_name(e));
                        int r = get_named(c, p, e, names, false, max, &bit);
                        if (r < 0)
                                return r;
                        acc |= bit;
                }
                *ret = acc;
                return 0;
        }
        return fail(c, path, "expected %s, got %s", flags ? "an integer or an array of names" : "an integer or a name",
                    type_name(v));
}

static int get_size(struct ctx *c, const char *path, json_object *v, struct sysmem_size *ret) {
        static const char *const keys[] = {"width", "height", NULL};
        if (json_object_get_type(v) != json_type_object)
                return fail(c, path, "expected an object {\"width\": W, \"height\": H}, got %s", type_name(v));
        int r = check_keys(c, path, v, keys);
        if (r < 0)
                return r;
        struct sysmem_size s = {0};
        json_object *w, *h;
        char p[512];
        if (!json_object_object_get_ex(v, "width", &w) || !json_object_object_get_ex(v, "height", &h))
                return fail(c, path, "both width and height are required");
        join(p, sizeof p, path, "width");
        if ((r = get_u32(c, p, w, &s.width)) < 0)
                return r;
        join(p, sizeof p, path, "height");
        if ((r = get_u32(c, p, h, &s.height)) < 0)
                return r;
        *ret = s;
        return 0;
}

static int get_pixel_format(struct ctx *c, const char *path, json_object *v, uint32_t *ret) {
        if (json_object_get_type(v) == json_type_string) {
                const char *s = json_object_get_string(v);
                if (core_pixel_format_from_name(s, strlen(s), ret))
                        return 0;
                return fail(c, path,
                            "unknown pixel format \"%s\" (use a DRM format name such as \"NV12\" or "
                            "\"ARGB8888\", \"DO_NOT_CARE\", or a fourcc number)",
                            s);
        }
        return get_u32(c, path, v, ret);
}

static int get_modifier(struct ctx *c, const char *path, json_object *v, uint64_t *ret) {
        if (json_object_get_type(v) == json_type_string) {
                /* Names, "ARM_AFBC_16x16|SPARSE|YTR" and numbers, as the core spells them. */
                const char *s = json_object_get_string(v);
                size_t bad_offset = 0, bad_length = 0;
                switch (core_modifier_from_name(s, strlen(s), ret, &bad_offset, &bad_length)) {
                case CORE_MODIFIER_OK:
                        return 0;
                case CORE_MODIFIER_UNKNOWN_FLAG:
                        return fail(c, path, "unknown AFBC flag \"%.*s\" (known: YTR, SPLIT, SPARSE, TILED, BCH)",
                                    (int)bad_length, s + bad_offset);
                case CORE_MODIFIER_UNKNOWN_NAME:
                case CORE_MODIFIER_BAD_NUMBER:
                        break;
                }
        }
        return get_named(c, path, v, core_modifier_names, false, UINT64_MAX, ret);
}

static int parse_ifc(struct ctx *c, const char *path, json_object *o, struct json_participant *p, uint32_t idx) {
        static const char *const keys[] = {"pixel_format",
                                           "pixel_format_modifier",
                                           "pixel_format_and_modifiers",
                                           "color_spaces",
                                           "min_size",
                                           "max_size",
                                           "min_bytes_per_row",
                                           "max_bytes_per_row",
                                           "max_width_times_height",
                                           "size_alignment",
                                           "display_rect_alignment",
                                           "required_min_size",
                                           "required_max_size",
                                           "required_max_size_list",
                                           "bytes_per_row_divisor",
                                           "start_offset_divisor",
                                           "require_bytes_per_row_at_pixel_boundary",
                                           "is_alpha_present",
                                           "pad_for_block_size",
                                           "pad_beyond_image_size_bytes",
                                           NULL};
        if (json_object_get_type(o) != json_type_object)
                return fail(c, path, "expected an object, got %s", type_name(o));
        int r = check_keys(c, path, o, keys);
        if (r < 0)
                return r;
        struct sysmem_image_format_constraints *f = &p->ifcs[idx];
        memset(f, 0, sizeof *f);
        json_object_object_foreach(o, key, v) {
                char q[512];
                join(q, sizeof q, path, key);
                if (!strcmp(key, "pixel_format")) {
                        r = get_pixel_format(c, q, v, &f->pixel_format);
                } else if (!strcmp(key, "pixel_format_modifier")) {
                        r = get_modifier(c, q, v, &f->pixel_format_modifier);
                        f->has_pixel_format_modifier = true;
                } else if (!strcmp(key, "pixel_format_and_modifiers")) {
                        size_t n;
                        if ((r = get_array(c, q, v, SYSMEM_MAX_FORMAT_PAIRS, &n)) < 0)
                                return r;
                        for (size_t i = 0; i < n; i++) {
                                static const char *const pk[] = {"pixel_format", "pixel_format_modifier", NULL};
                                char e[600], ef[700];
                                snprintf(e, sizeof e, "%s[%zu]", q, i);
                                json_object *pe = json_object_array_get_idx(v, i), *pf, *pm;
                                if (json_object_get_type(pe) != json_type_object)
                                        return fail(c, e, "expected an object, got %s", type_name(pe));
                                if ((r = check_keys(c, e, pe, pk)) < 0)
                                        return r;
                                if (!json_object_object_get_ex(pe, "pixel_format", &pf) ||
                                    !json_object_object_get_ex(pe, "pixel_format_modifier", &pm))
                                        return fail(c, e, "both pixel_format and pixel_format_modifier are required");
                                join(ef, sizeof ef, e, "pixel_format");
                                if ((r = get_pixel_format(c, ef, pf, &p->pairs[idx][i].pixel_format)) < 0)
                                        return r;
                                join(ef, sizeof ef, e, "pixel_format_modifier");
                                if ((r = get_modifier(c, ef, pm, &p->pairs[idx][i].pixel_format_modifier)) < 0)
                                        return r;
                        }
                        f->pixel_format_and_modifier_count = (uint32_t)n;
                        f->pixel_format_and_modifiers = p->pairs[idx];
                } else if (!strcmp(key, "color_spaces")) {
                        size_t n;
                        if ((r = get_array(c, q, v, SYSMEM_MAX_COLOR_SPACES, &n)) < 0)
                                return r;
                        for (size_t i = 0; i < n; i++) {
                                char e[600];
                                snprintf(e, sizeof e, "%s[%zu]", q, i);
                                uint64_t cs;
                                if ((r = get_named(c, e, json_object_array_get_idx(v, i), core_color_space_names, false,
                                                   UINT32_MAX, &cs)) < 0)
                                        return r;
                                p->color_spaces[idx][i] = (uint32_t)cs;
                        }
                        f->color_space_count = (uint32_t)n;
                        f->color_spaces = p->color_spaces[idx];
                } else if (!strcmp(key, "required_max_size_list")) {
                        size_t n;
                        if ((r = get_array(c, q, v, SYSMEM_MAX_REQUIRED_MAX_SIZES, &n)) < 0)
                                return r;
                        for (size_t i = 0; i < n; i++) {
                                char e[600];
                                snprintf(e, sizeof e, "%s[%zu]", q, i);
                                if ((r = get_size(c, e, json_object_array_get_idx(v, i),
                                                  &p->required_max_sizes[idx][i])) < 0)
                                        return r;
                        }
                        f->required_max_size_count = (uint32_t)n;
                        f->required_max_size_list = p->required_max_sizes[idx];
                } else if (!strcmp(key, "min_size"))
                        r = get_size(c, q, v, &f->min_size);
                else if (!strcmp(key, "max_size"))
                        r = get_size(c, q, v, &f->max_size);
                else if (!strcmp(key, "size_alignment"))
                        r = get_size(c, q, v, &f->size_alignment);
                else if (!strcmp(key, "display_rect_alignment"))
                        r = get_size(c, q, v, &f->display_rect_alignment);
                else if (!strcmp(key, "required_min_size"))
                        r = get_size(c, q, v, &f->required_min_size);
                else if (!strcmp(key, "required_max_size"))
                        r = get_size(c, q, v, &f->required_max_size);
                else if (!strcmp(key, "pad_for_block_size"))
                        r = get_size(c, q, v, &f->pad_for_block_size);
                else if (!strcmp(key, "min_bytes_per_row"))
                        r = get_u32(c, q, v, &f->min_bytes_per_row);
                else if (!strcmp(key, "max_bytes_per_row"))
                        r = get_u32(c, q, v, &f->max_bytes_per_row);
                else if (!strcmp(key, "bytes_per_row_divisor"))
                        r = get_u32(c, q, v, &f->bytes_per_row_divisor);
                else if (!strcmp(key, "start_offset_divisor"))
                        r = get_u32(c, q, v, &f->start_offset_divisor);
                else if (!strcmp(key, "max_width_times_height"))
                        r = get_uint(c, q, v, UINT64_MAX, &f->max_width_times_height);
                else if (!strcmp(key, "pad_beyond_image_size_bytes"))
                        r = get_uint(c, q, v, UINT64_MAX, &f->pad_beyond_image_size_bytes);
                else if (!strcmp(key, "require_bytes_per_row_at_pixel_boundary"))
                        r = get_bool(c, q, v, &f->require_bytes_per_row_at_pixel_boundary);
                else if (!strcmp(key, "is_alpha_present"))
                        r = get_tristate(c, q, v, &f->is_alpha_present);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_memory(struct ctx *c, const char *path, json_object *o, struct json_participant *p) {
        static const char *const keys[] = {"min_size_bytes",
                                           "max_size_bytes",
                                           "physically_contiguous_required",
                                           "secure_required",
                                           "cpu_domain_supported",
                                           "ram_domain_supported",
                                           "inaccessible_domain_supported",
                                           "permitted_heaps",
                                           NULL};
        if (json_object_get_type(o) != json_type_object)
                return fail(c, path, "expected an object, got %s", type_name(o));
        int r = check_keys(c, path, o, keys);
        if (r < 0)
                return r;
        struct sysmem_buffer_memory_constraints *m = &p->constraints.buffer_memory_constraints;
        json_object_object_foreach(o, key, v) {
                char q[512];
                join(q, sizeof q, path, key);
                if (!strcmp(key, "min_size_bytes"))
                        r = get_uint(c, q, v, UINT64_MAX, &m->min_size_bytes);
                else if (!strcmp(key, "max_size_bytes"))
                        r = get_uint(c, q, v, UINT64_MAX, &m->max_size_bytes);
                else if (!strcmp(key, "physically_contiguous_required"))
                        r = get_bool(c, q, v, &m->physically_contiguous_required);
                else if (!strcmp(key, "secure_required"))
                        r = get_bool(c, q, v, &m->secure_required);
                else if (!strcmp(key, "cpu_domain_supported"))
                        r = get_tristate(c, q, v, &m->cpu_domain_supported);
                else if (!strcmp(key, "ram_domain_supported"))
                        r = get_tristate(c, q, v, &m->ram_domain_supported);
                else if (!strcmp(key, "inaccessible_domain_supported"))
                        r = get_tristate(c, q, v, &m->inaccessible_domain_supported);
                else if (!strcmp(key, "permitted_heaps")) {
                        size_t n;
                        if ((r = get_array(c, q, v, SYSMEM_MAX_PERMITTED_HEAPS, &n)) < 0)
                                return r;
                        for (size_t i = 0; i < n; i++) {
                                static const char *const hk[] = {"heap_type", "id", NULL};
                                char e[600], ef[700];
                                snprintf(e, sizeof e, "%s[%zu]", q, i);
                                json_object *h = json_object_array_get_idx(v, i), *t, *id;
                                if (json_object_get_type(h) != json_type_object)
                                        return fail(c, e, "expected an object, got %s", type_name(h));
                                if ((r = check_keys(c, e, h, hk)) < 0)
                                        return r;
                                join(ef, sizeof ef, e, "heap_type");
                                if (!json_object_object_get_ex(h, "heap_type", &t))
                                        return fail(c, ef, "required field missing");
                                if (json_object_get_type(t) != json_type_string)
                                        return fail(c, ef, "expected a string, got %s", type_name(t));
                                if (strlen(json_object_get_string(t)) > SYSMEM_MAX_HEAP_TYPE_LENGTH)
                                        return fail(c, ef, "longer than %u bytes", SYSMEM_MAX_HEAP_TYPE_LENGTH);
                                util_strlcpy(p->heaps[i].heap_type, json_object_get_string(t),
                                             sizeof p->heaps[i].heap_type);
                                p->heaps[i].id = 0;
                                if (json_object_object_get_ex(h, "id", &id)) {
                                        join(ef, sizeof ef, e, "id");
                                        if ((r = get_uint(c, ef, id, UINT64_MAX, &p->heaps[i].id)) < 0)
                                                return r;
                                }
                        }
                        m->permitted_heap_count = (uint32_t)n;
                        m->permitted_heaps = p->heaps;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_usage(struct ctx *c, const char *path, json_object *o, struct sysmem_usage *u) {
        static const char *const keys[] = {"none", "cpu", "vulkan", "display", "video", NULL};
        if (json_object_get_type(o) != json_type_object)
                return fail(c, path, "expected an object, got %s", type_name(o));
        int r = check_keys(c, path, o, keys);
        if (r < 0)
                return r;
        json_object_object_foreach(o, key, v) {
                char q[512];
                join(q, sizeof q, path, key);
                uint64_t x = 0;
                const struct core_usage_field *f = core_usage_field_by_name(key, strlen(key));
                if ((r = get_named(c, q, v, f->bits, true, UINT32_MAX, &x)) < 0)
                        return r;
                uint32_t *field = core_usage_field_ptr(u, f);
                *field = (uint32_t)x;
        }
        return 0;
}

static void line_col(const char *text, size_t offset, int *line, int *col) {
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < offset && text[i]; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else
                        (*col)++;
        }
}

int json_participant_parse(const char *source, const char *text, size_t len, const char *default_name,
                           struct json_participant *ret, char *err, size_t err_size) {
        struct ctx c = {.source = source, .err = err, .err_size = err_size};
        memset(ret, 0, sizeof *ret);
        util_strlcpy(ret->debug_name, default_name ? default_name : source, sizeof ret->debug_name);
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *root = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        size_t off = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (je != json_tokener_success || (off < len && strspn(text + off, " \t\r\n") != len - off)) {
                int line, col;
                line_col(text, off, &line, &col);
                json_object_put(root);
                snprintf(err, err_size, "%s:%d:%d: invalid JSON: %s", source, line, col,
                         je != json_tokener_success ? json_tokener_error_desc(je) : "trailing characters");
                return -EINVAL;
        }
        int r = 0;
        if (!root) { /* `null`: a participant that sets no constraints */
                ret->has_constraints = false;
                return 0;
        }
        static const char *const keys[] = {"debug_name",
                                           "usage",
                                           "min_buffer_count_for_camping",
                                           "min_buffer_count_for_dedicated_slack",
                                           "min_buffer_count_for_shared_slack",
                                           "min_buffer_count",
                                           "max_buffer_count",
                                           "buffer_memory_constraints",
                                           "image_format_constraints",
                                           NULL};
        if (json_object_get_type(root) != json_type_object) {
                r = fail(&c, "", "expected an object of constraints (or null), got %s", type_name(root));
                goto out;
        }
        if ((r = check_keys(&c, "", root, keys)) < 0)
                goto out;
        ret->has_constraints = true;
        struct sysmem_constraints *k = &ret->constraints;
        json_object_object_foreach(root, key, v) {
                if (!strcmp(key, "debug_name")) {
                        if (json_object_get_type(v) != json_type_string) {
                                r = fail(&c, key, "expected a string, got %s", type_name(v));
                                goto out;
                        }
                        if (strlen(json_object_get_string(v)) > SYSMEM_MAX_CLIENT_NAME_LENGTH) {
                                r = fail(&c, key, "longer than %u bytes", SYSMEM_MAX_CLIENT_NAME_LENGTH);
                                goto out;
                        }
                        util_strlcpy(ret->debug_name, json_object_get_string(v), sizeof ret->debug_name);
                } else if (!strcmp(key, "usage"))
                        r = parse_usage(&c, key, v, &k->usage);
                else if (!strcmp(key, "min_buffer_count_for_camping"))
                        r = get_u32(&c, key, v, &k->min_buffer_count_for_camping);
                else if (!strcmp(key, "min_buffer_count_for_dedicated_slack"))
                        r = get_u32(&c, key, v, &k->min_buffer_count_for_dedicated_slack);
                else if (!strcmp(key, "min_buffer_count_for_shared_slack"))
                        r = get_u32(&c, key, v, &k->min_buffer_count_for_shared_slack);
                else if (!strcmp(key, "min_buffer_count"))
                        r = get_u32(&c, key, v, &k->min_buffer_count);
                else if (!strcmp(key, "max_buffer_count"))
                        r = get_u32(&c, key, v, &k->max_buffer_count);
                else if (!strcmp(key, "buffer_memory_constraints"))
                        r = parse_memory(&c, key, v, ret);
                else if (!strcmp(key, "image_format_constraints")) {
                        size_t n;
                        if ((r = get_array(&c, key, v, SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS, &n)) < 0)
                                goto out;
                        for (size_t i = 0; i < n && r == 0; i++) {
                                char q[64];
                                snprintf(q, sizeof q, "image_format_constraints[%zu]", i);
                                r = parse_ifc(&c, q, json_object_array_get_idx(v, i), ret, (uint32_t)i);
                        }
                        k->image_format_constraint_count = (uint32_t)n;
                        k->image_format_constraints = ret->ifcs;
                }
                if (r < 0)
                        goto out;
        }
out:
        json_object_put(root);
        return r;
}
