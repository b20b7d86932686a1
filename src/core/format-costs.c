/* format-costs.c: the built-in format cost table (§5, mapped to DRM) and the parser for cost-table files. */
#include "format-costs.h"

#include <drm_fourcc.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "names.h"

#define AFBC(flags) DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | (flags))
#define AFBC_32x8 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8)
#define SPLIT AFBC_FORMAT_MOD_SPLIT
#define SPARSE AFBC_FORMAT_MOD_SPARSE
#define YTR AFBC_FORMAT_MOD_YTR
#define TILED AFBC_FORMAT_MOD_TILED
/* An entry that applies whatever the usage. */
#define COST(format, modifier, cost)                                                                                   \
        { DRM_FORMAT_##format, (modifier), {0, 0, 0, 0, 0}, (cost) }

/* Keep in step with data/format-costs.txt: a test checks that parsing it gives exactly this table. */
const struct core_format_cost core_default_format_costs[] = {
        /* Fuchsia's Intel table (§5) for its four 32-bit RGB formats; LINEAR has no entry, so any tiling beats it. */
        COST(ARGB8888, I915_FORMAT_MOD_Yf_TILED_CCS, 500),
        COST(ARGB8888, I915_FORMAT_MOD_Y_TILED_CCS, 600),
        COST(ARGB8888, I915_FORMAT_MOD_Yf_TILED, 1000),
        COST(ARGB8888, I915_FORMAT_MOD_Y_TILED, 2000),
        COST(ARGB8888, I915_FORMAT_MOD_X_TILED, 3000),
        COST(XRGB8888, I915_FORMAT_MOD_Yf_TILED_CCS, 500),
        COST(XRGB8888, I915_FORMAT_MOD_Y_TILED_CCS, 600),
        COST(XRGB8888, I915_FORMAT_MOD_Yf_TILED, 1000),
        COST(XRGB8888, I915_FORMAT_MOD_Y_TILED, 2000),
        COST(XRGB8888, I915_FORMAT_MOD_X_TILED, 3000),
        COST(ABGR8888, I915_FORMAT_MOD_Yf_TILED_CCS, 500),
        COST(ABGR8888, I915_FORMAT_MOD_Y_TILED_CCS, 600),
        COST(ABGR8888, I915_FORMAT_MOD_Yf_TILED, 1000),
        COST(ABGR8888, I915_FORMAT_MOD_Y_TILED, 2000),
        COST(ABGR8888, I915_FORMAT_MOD_X_TILED, 3000),
        COST(XBGR8888, I915_FORMAT_MOD_Yf_TILED_CCS, 500),
        COST(XBGR8888, I915_FORMAT_MOD_Y_TILED_CCS, 600),
        COST(XBGR8888, I915_FORMAT_MOD_Yf_TILED, 1000),
        COST(XBGR8888, I915_FORMAT_MOD_Y_TILED, 2000),
        COST(XBGR8888, I915_FORMAT_MOD_X_TILED, 3000),
        /*
         * Fuchsia's Mali rule (§5) for RGBA and BGRA and, as sysmem2's table has them, their X variants
         * (ARGB8888, XRGB8888, ABGR8888, XBGR8888): +100 without the YUV transform (DRM's YTR bit), +500 without
         * a tiled header (DRM's TILED bit) or +10 with one, +1000 without SPARSE, +2000 without transaction
         * elimination (DRM has no TE modifier, so always), +4000 for 32x8 blocks. The entries are Fuchsia's named
         * AFBC modifiers without TE; SPLIT comes with SPARSE as it does there.
         */
        COST(ARGB8888, AFBC(SPLIT | SPARSE | YTR | TILED), 2010),
        COST(ARGB8888, AFBC(SPLIT | SPARSE | YTR), 2500),
        COST(ARGB8888, AFBC(YTR | TILED), 3010),
        COST(ARGB8888, AFBC(0), 3600),
        COST(ARGB8888, AFBC_32x8, 7600),
        COST(XRGB8888, AFBC(SPLIT | SPARSE | YTR | TILED), 2010),
        COST(XRGB8888, AFBC(SPLIT | SPARSE | YTR), 2500),
        COST(XRGB8888, AFBC(YTR | TILED), 3010),
        COST(XRGB8888, AFBC(0), 3600),
        COST(XRGB8888, AFBC_32x8, 7600),
        COST(ABGR8888, AFBC(SPLIT | SPARSE | YTR | TILED), 2010),
        COST(ABGR8888, AFBC(SPLIT | SPARSE | YTR), 2500),
        COST(ABGR8888, AFBC(YTR | TILED), 3010),
        COST(ABGR8888, AFBC(0), 3600),
        COST(ABGR8888, AFBC_32x8, 7600),
        COST(XBGR8888, AFBC(SPLIT | SPARSE | YTR | TILED), 2010),
        COST(XBGR8888, AFBC(SPLIT | SPARSE | YTR), 2500),
        COST(XBGR8888, AFBC(YTR | TILED), 3010),
        COST(XBGR8888, AFBC(0), 3600),
        COST(XBGR8888, AFBC_32x8, 7600),
        /* Fuchsia's Amlogic entry: NV12 when the collection is decoded into by a video decoder. */
        {DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR, {.video = SYSMEM_VIDEO_USAGE_HW_DECODER}, 100},
};
const size_t core_default_format_cost_count = ARRAY_LEN(core_default_format_costs);

/* ---- the parser ---- */

struct parser {
        const char *text;
        size_t length;
        size_t pos;
        unsigned line;
        char *error;
        size_t error_size;
};

struct token {
        const char *s;
        size_t length;
};

#define TOKEN_SHOWN 80 /* characters of a token quoted in a message */

static int parse_fail(struct parser *p, const char *fmt, ...) _printf_(2, 3);
static int parse_fail(struct parser *p, const char *fmt, ...) {
        if (p->error_size > 0) {
                int n = snprintf(p->error, p->error_size, "line %u: ", p->line);
                if (n >= 0 && (size_t)n < p->error_size) {
                        va_list ap;
                        va_start(ap, fmt);
                        vsnprintf(p->error + n, p->error_size - (size_t)n, fmt, ap);
                        va_end(ap);
                }
        }
        return -EINVAL;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* The line's tokens, up to max; *ret_count may exceed max (the extra ones are not stored). */
static void split_line(const char *line, size_t length, struct token *tokens, size_t max, size_t *ret_count) {
        size_t n = 0, i = 0;
        while (i < length && line[i] != '#') {
                if (is_blank(line[i])) {
                        i++;
                        continue;
                }
                size_t start = i;
                while (i < length && line[i] != '#' && !is_blank(line[i]))
                        i++;
                if (n < max)
                        tokens[n] = (struct token){line + start, i - start};
                n++;
        }
        *ret_count = n;
}

static int parse_pixel_format(struct parser *p, struct token t, uint32_t *ret) {
        uint64_t v;
        if (core_pixel_format_from_name(t.s, t.length, ret) || (core_parse_u64(t.s, t.length, &v) && v <= UINT32_MAX)) {
                if (core_pixel_format_from_name(t.s, t.length, ret) == false)
                        *ret = (uint32_t)v;
                if (*ret == 0 || *ret == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE)
                        return parse_fail(p, "pixel format '%.*s' cannot have a cost (name a real format)",
                                          (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
                return 0;
        }
        return parse_fail(p, "unknown pixel format '%.*s' (a name such as NV12 or ARGB8888, or a fourcc number)",
                          (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
}

static int parse_modifier(struct parser *p, struct token t, uint64_t *ret) {
        size_t bad_offset = 0, bad_length = 0;
        switch (core_modifier_from_name(t.s, t.length, ret, &bad_offset, &bad_length)) {
        case CORE_MODIFIER_OK:
                if (*ret == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE || *ret == DRM_FORMAT_MOD_INVALID)
                        return parse_fail(p, "modifier '%.*s' cannot have a cost (name a real modifier)",
                                          (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
                return 0;
        case CORE_MODIFIER_UNKNOWN_FLAG:
                return parse_fail(p, "unknown AFBC flag '%.*s' in '%.*s' (known: SPLIT, SPARSE, YTR, TILED, BCH)",
                                  (int)MIN(bad_length, (size_t)TOKEN_SHOWN), t.s + bad_offset,
                                  (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
        case CORE_MODIFIER_BAD_NUMBER:
                return parse_fail(p, "modifier '%.*s' is not an unsigned 64-bit number",
                                  (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
        case CORE_MODIFIER_UNKNOWN_NAME:
                break;
        }
        return parse_fail(p,
                          "unknown modifier '%.*s' (LINEAR, a DRM name such as I915_FORMAT_MOD_Y_TILED, "
                          "ARM_AFBC_16x16|SPARSE, or a number)",
                          (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
}

static int parse_usage(struct parser *p, struct token t, struct sysmem_usage *ret) {
        struct sysmem_usage u = {0};
        if (t.length == 1 && t.s[0] == '-') {
                *ret = u;
                return 0;
        }
        size_t pos = 0;
        while (pos <= t.length) {
                size_t end = pos;
                while (end < t.length && t.s[end] != ',')
                        end++;
                const char *item = t.s + pos, *colon = memchr(item, ':', end - pos);
                int item_len = (int)MIN(end - pos, (size_t)TOKEN_SHOWN);
                if (!colon)
                        return parse_fail(p, "usage item '%.*s' is not field:BIT (e.g. video:HW_DECODER), or '-' alone",
                                          item_len, item);
                const struct core_usage_field *field = core_usage_field_by_name(item, (size_t)(colon - item));
                if (!field)
                        return parse_fail(p, "unknown usage field '%.*s' in '%.*s' (none, cpu, vulkan, display, video)",
                                          (int)(colon - item), item, item_len, item);
                const char *bit = colon + 1;
                size_t bit_len = (size_t)(t.s + end - bit);
                uint64_t v;
                if (!core_name_lookup(field->bits, bit, bit_len, &v) &&
                    !(bit_len > 0 && bit[0] >= '0' && bit[0] <= '9' && core_parse_u64(bit, bit_len, &v) &&
                      v <= UINT32_MAX))
                        return parse_fail(p, "unknown %s usage bit '%.*s' in '%.*s'", field->name,
                                          (int)MIN(bit_len, (size_t)TOKEN_SHOWN), bit, item_len, item);
                *core_usage_field_ptr(&u, field) |= (uint32_t)v;
                pos = end + 1;
        }
        *ret = u;
        return 0;
}

static int parse_cost(struct parser *p, struct token t, double *ret) {
        char buf[64];
        if (t.length >= sizeof(buf))
                return parse_fail(p, "cost '%.*s' is too long", (int)MIN(t.length, (size_t)TOKEN_SHOWN), t.s);
        memcpy(buf, t.s, t.length);
        buf[t.length] = 0;
        char *end;
        double v = strtod(buf, &end);
        if (end == buf || *end || !isfinite(v) || v < 0)
                return parse_fail(p, "cost '%.*s' is not a finite number >= 0", (int)t.length, t.s);
        *ret = v;
        return 0;
}

int core_format_costs_parse(const char *text, size_t length, struct core_format_cost *entries, size_t capacity,
                            size_t *ret_count, char *error, size_t error_size) {
        struct parser p = {.text = text, .length = length, .error = error, .error_size = error_size};
        size_t count = 0;
        int r;

        if (error_size > 0)
                error[0] = 0;
        if (!text && length > 0)
                return -EINVAL;
        while (p.pos < length) {
                size_t start = p.pos, end = start;
                while (end < length && text[end] != '\n')
                        end++;
                p.pos = end + 1;
                p.line++;

                struct token t[4];
                size_t n;
                split_line(text + start, end - start, t, ARRAY_LEN(t), &n);
                if (n == 0)
                        continue;
                if (n < 4)
                        return parse_fail(&p, "%zu field%s; expected PIXEL_FORMAT MODIFIER USAGE COST", n,
                                          n == 1 ? "" : "s");
                if (n > 4) {
                        struct token extra[5];
                        split_line(text + start, end - start, extra, ARRAY_LEN(extra), &n);
                        return parse_fail(&p, "unexpected '%.*s' after the cost",
                                          (int)MIN(extra[4].length, (size_t)TOKEN_SHOWN), extra[4].s);
                }
                struct core_format_cost e;
                if ((r = parse_pixel_format(&p, t[0], &e.pixel_format)) < 0 ||
                    (r = parse_modifier(&p, t[1], &e.pixel_format_modifier)) < 0 ||
                    (r = parse_usage(&p, t[2], &e.usage)) < 0 || (r = parse_cost(&p, t[3], &e.cost)) < 0)
                        return r;
                if (count == capacity) {
                        parse_fail(&p, "more than %zu entries", capacity);
                        return -E2BIG;
                }
                entries[count++] = e;
        }
        *ret_count = count;
        return 0;
}
