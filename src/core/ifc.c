/* ifc.c: one participant's image formats flattened, defaulted, adjusted, checked (§1, §2); the aggregate rechecked. */
#include "core-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <drm_fourcc.h>

#include "image-format.h"
#include "names.h"

#define U32_UNSET UINT32_MAX

/* Who is being checked: one participant's own entries, or (index CORE_NOBODY) the aggregate. */
struct check {
        const struct core_participant *participants;
        size_t participant_count;
        size_t index;
        const struct core_limits *limits;
        struct core_failure *failure;
};

static bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool core_lcm32(uint32_t a, uint32_t b, uint32_t *ret) {
        uint32_t x = a, y = b;
        while (y != 0) {
                uint32_t r = x % y;
                x = y;
                y = r;
        }
        uint64_t lcm = (uint64_t)(a / x) * b;
        if (lcm > UINT32_MAX)
                return false;
        *ret = (uint32_t)lcm;
        return true;
}

static bool round_up32(uint32_t v, uint32_t a, uint32_t *ret) {
        uint32_t rem = v % a;
        if (rem == 0) {
                *ret = v;
                return true;
        }
        return !__builtin_add_overflow(v, a - rem, ret);
}

/* Rounds a maximum down to its alignment, except "no limit" (§1). */
static uint32_t round_down_max(uint32_t v, uint32_t a) { return v == U32_UNSET ? v : v - v % a; }

void core_ifc_copy(struct core_ifc *dst, const struct core_ifc *src) {
        memcpy(dst, src, offsetof(struct core_ifc, required_max_size_list));
        memcpy(dst->required_max_size_list, src->required_max_size_list,
               src->required_max_size_count * sizeof(src->required_max_size_list[0]));
}

bool core_keys_combinable(uint32_t format_a, uint64_t modifier_a, uint32_t format_b, uint64_t modifier_b,
                          uint32_t *ret_format, uint64_t *ret_modifier) {
        uint32_t f;
        uint64_t m;
        if (format_a == format_b || format_b == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE)
                f = format_a;
        else if (format_a == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE)
                f = format_b;
        else
                return false;
        if (modifier_a == modifier_b || modifier_b == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE)
                m = modifier_a;
        else if (modifier_a == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE)
                m = modifier_b;
        else
                return false;
        /* A pair sysmem cannot lay out itself is kept: a heap whose device lays it out may allocate it. */
        *ret_format = f;
        *ret_modifier = m;
        return true;
}

uint32_t core_color_spaces_supported(uint32_t pixel_format) {
        uint32_t mask = 0;
        if (!image_format_lookup(pixel_format)) /* a format only a device knows: the device decides */
                return ((2u << SYSMEM_COLOR_SPACE_PASSTHROUGH) - 1) & ~1u;
        for (uint32_t cs = 0; cs <= SYSMEM_COLOR_SPACE_PASSTHROUGH; cs++)
                if (image_format_color_space_supported(pixel_format, cs))
                        mask |= 1u << cs;
        return mask;
}

static bool size_le(struct sysmem_size a, struct sysmem_size b) { return a.width <= b.width && a.height <= b.height; }

bool core_size_list_merge(struct sysmem_size *a, uint32_t *a_count, const struct sysmem_size *b, uint32_t b_count) {
        struct sysmem_size out[2 * SYSMEM_MAX_REQUIRED_MAX_SIZES];
        uint32_t n = 0;

        /* Both inputs are at most 64 entries; b may be a raw client list with dominated entries of its own. */
        for (uint32_t i = 0; i < *a_count + b_count; i++) {
                struct sysmem_size s = i < *a_count ? a[i] : b[i - *a_count];
                bool dominated = false;
                for (uint32_t j = 0; j < n && !dominated; j++)
                        dominated = size_le(s, out[j]);
                if (dominated)
                        continue;
                uint32_t kept = 0;
                for (uint32_t j = 0; j < n; j++)
                        if (!size_le(out[j], s))
                                out[kept++] = out[j];
                n = kept;
                out[n++] = s;
        }
        if (n > SYSMEM_MAX_REQUIRED_MAX_SIZES)
                return false;
        memcpy(a, out, n * sizeof(out[0]));
        *a_count = n;
        return true;
}

size_t core_find_required_size_owner(const struct core_participant *participants, size_t participant_count,
                                     struct sysmem_size size) {
        for (size_t p = 0; p < participant_count; p++) {
                const struct sysmem_constraints *c = participants[p].constraints;
                if (!c || !c->image_format_constraints)
                        continue;
                for (uint32_t i = 0; i < c->image_format_constraint_count; i++) {
                        const struct sysmem_image_format_constraints *f = &c->image_format_constraints[i];
                        if (f->required_max_size.width == size.width && f->required_max_size.height == size.height)
                                return p;
                        for (uint32_t j = 0; f->required_max_size_list && j < f->required_max_size_count; j++)
                                if (f->required_max_size_list[j].width == size.width &&
                                    f->required_max_size_list[j].height == size.height)
                                        return p;
                }
        }
        return CORE_NOBODY;
}

void core_ifc_to_settings(const struct core_ifc *e, uint32_t color_space, struct sysmem_image_format_settings *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->pixel_format = e->pixel_format;
        ret->pixel_format_modifier = e->pixel_format_modifier;
        ret->color_space = color_space;
        ret->min_size = e->min_size;
        ret->max_size = e->max_size;
        ret->min_bytes_per_row = e->min_bytes_per_row;
        ret->max_bytes_per_row = e->max_bytes_per_row;
        ret->max_width_times_height = e->max_width_times_height;
        ret->size_alignment = e->size_alignment;
        ret->display_rect_alignment = e->display_rect_alignment;
        ret->required_min_size = e->required_min_size;
        ret->required_max_size = e->required_max_size;
        ret->required_max_size_count = e->required_max_size_count;
        memcpy(ret->required_max_size_list, e->required_max_size_list,
               e->required_max_size_count * sizeof(e->required_max_size_list[0]));
        ret->bytes_per_row_divisor = e->bytes_per_row_divisor;
        ret->start_offset_divisor = e->start_offset_divisor;
        ret->require_bytes_per_row_at_pixel_boundary = e->require_bytes_per_row_at_pixel_boundary;
        ret->is_alpha_present = e->is_alpha_present;
        ret->pad_for_block_size = e->pad_for_block_size;
        ret->pad_beyond_image_size_bytes = e->pad_beyond_image_size_bytes;
}

/*
 * What MinimumRowBytes reads, without the 512-byte required_max_size_list that core_ifc_to_settings() copies:
 * this runs for every entry of every participant. The list stays uninitialised, with a count of 0.
 */
static void ifc_row_settings(const struct core_ifc *e, struct sysmem_image_format_settings *ret) {
        ret->pixel_format = e->pixel_format;
        ret->pixel_format_modifier = e->pixel_format_modifier;
        ret->color_space = SYSMEM_COLOR_SPACE_PASSTHROUGH;
        ret->min_size = e->min_size;
        ret->max_size = e->max_size;
        ret->min_bytes_per_row = e->min_bytes_per_row;
        ret->max_bytes_per_row = e->max_bytes_per_row;
        ret->max_width_times_height = e->max_width_times_height;
        ret->size_alignment = e->size_alignment;
        ret->display_rect_alignment = e->display_rect_alignment;
        ret->required_min_size = e->required_min_size;
        ret->required_max_size = e->required_max_size;
        ret->required_max_size_count = 0;
        ret->bytes_per_row_divisor = e->bytes_per_row_divisor;
        ret->start_offset_divisor = e->start_offset_divisor;
        ret->require_bytes_per_row_at_pixel_boundary = e->require_bytes_per_row_at_pixel_boundary;
        ret->is_alpha_present = e->is_alpha_present;
        ret->pad_for_block_size = e->pad_for_block_size;
        ret->pad_beyond_image_size_bytes = e->pad_beyond_image_size_bytes;
}

/* ---- messages ---- */

/* "'cam': image_format_constraints[2]: " for a participant's input before it is split into entries. */
static int input_fail(const struct check *k, uint32_t input, const char *fmt, ...) _printf_(3, 4);
static int input_fail(const struct check *k, uint32_t input, const char *fmt, ...) {
        struct core_text t;
        core_fail_begin(k->failure, &t);
        core_text_appendf(&t, "%s: image_format_constraints[%" PRIu32 "]", core_label(k->participants, k->index).text,
                          input);
        va_list ap;
        va_start(ap, fmt);
        core_text_vappendf(&t, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Starts "'cam': image_format_constraints[2] (NV12, LINEAR): ", or "aggregated image_format_constraints (NV12, LINEAR):
 * ". */
static void entry_begin(const struct check *k, const struct core_ifc *e, struct core_text *t) {
        core_fail_begin(k->failure, t);
        if (k->index != CORE_NOBODY)
                core_text_appendf(t, "%s: image_format_constraints[%" PRIu32 "] ",
                                  core_label(k->participants, k->index).text, e->input_index);
        else
                core_text_appendf(t, "aggregated image_format_constraints ");
        core_append_key(t, e->pixel_format, e->pixel_format_modifier);
        core_text_appendf(t, ": ");
}

static int entry_fail(const struct check *k, const struct core_ifc *e, const char *fmt, ...) _printf_(3, 4);
static int entry_fail(const struct check *k, const struct core_ifc *e, const char *fmt, ...) {
        struct core_text t;
        entry_begin(k, e, &t);
        va_list ap;
        va_start(ap, fmt);
        core_text_vappendf(&t, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* " (from 'x')" on the aggregate, where values come from different participants; nothing on one participant. */
static struct core_label from(const struct check *k, size_t index) {
        return core_from(k->participants, k->index == CORE_NOBODY ? index : CORE_NOBODY);
}

/* ---- the per-entry stage shared by participants and the aggregate ---- */

/*
 * §1's format-derived adjustments (newest order) and roundings, then §2's range checks. Runs on every entry of
 * a participant after its defaults, and again on every aggregated entry (the kAggregated stage), where
 * another participant's min_size or divisor can make the format's minimum row bytes larger. The values a
 * participant gives for the alignments and divisors (size_alignment, display_rect_alignment,
 * start_offset_divisor, pad_for_block_size) are validated as given in make_template(), before any adjustment
 * here; the start_offset_divisor check below then only guards the adjusted and aggregated value.
 */
static int adjust_and_check(const struct check *k, struct core_ifc *e) {
        bool aggregated = k->index == CORE_NOBODY;
        bool format_specific = e->pixel_format != SYSMEM_PIXEL_FORMAT_DO_NOT_CARE;
        bool modifier_specific = e->pixel_format_modifier != SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE;
        char fname[32];

        /*
         * A pair the image-format library cannot lay out is kept as device-only (docs/constraints.md): no
         * format-derived adjustment applies, and its colour spaces are checked only when sysmem knows the
         * format; the device that lays it out decides the rest.
         */
        e->device_only = format_specific && modifier_specific &&
                         !image_format_is_supported(e->pixel_format, e->pixel_format_modifier);
        bool known_format = format_specific && image_format_lookup(e->pixel_format);
        if (known_format && !(e->color_spaces & CORE_CS_DNC)) {
                /* Only the listed colour spaces are asked about: this runs for every entry of every participant. */
                uint32_t unsupported = 0;
                for (uint32_t m = e->color_spaces; m != 0; m &= m - 1) {
                        uint32_t cs = (uint32_t)__builtin_ctz(m);
                        if (!image_format_color_space_supported(e->pixel_format, cs))
                                unsupported |= 1u << cs;
                }
                if (unsupported) {
                        uint32_t supported = core_color_spaces_supported(e->pixel_format);
                        struct core_text t;
                        entry_begin(k, e, &t);
                        core_text_appendf(&t, "color_spaces ");
                        core_append_color_spaces(&t, unsupported);
                        core_text_appendf(&t, "%s %s not supported by %s (it supports ",
                                          from(k, e->from.color_spaces).text,
                                          __builtin_popcount(unsupported) > 1 ? "are" : "is",
                                          core_pixel_format_format(e->pixel_format, fname, sizeof(fname)));
                        core_append_color_spaces(&t, supported);
                        core_text_appendf(&t, ")");
                        return -EINVAL;
                }
        }

        if (format_specific && modifier_specific && !e->device_only) {
                const struct image_format_info *info = image_format_lookup(e->pixel_format);
                uint32_t divisor;

                if (info->width_min_divisor > e->size_alignment.width)
                        e->size_alignment.width = info->width_min_divisor;
                if (info->height_min_divisor > e->size_alignment.height)
                        e->size_alignment.height = info->height_min_divisor;
                if (!core_lcm32(e->bytes_per_row_divisor, info->sample_alignment, &divisor))
                        return entry_fail(k, e,
                                          "bytes_per_row_divisor %" PRIu32 "%s combined with the format's sample "
                                          "alignment %" PRIu32 " exceeds 32 bits",
                                          e->bytes_per_row_divisor, from(k, e->from.bytes_per_row_divisor).text,
                                          info->sample_alignment);
                e->bytes_per_row_divisor = divisor;
                if (e->require_bytes_per_row_at_pixel_boundary) {
                        if (!core_lcm32(e->bytes_per_row_divisor, info->stride_bytes_per_width_pixel, &divisor))
                                return entry_fail(k, e,
                                                  "bytes_per_row_divisor %" PRIu32 "%s combined with the %" PRIu32
                                                  " bytes per pixel of require_bytes_per_row_at_pixel_boundary "
                                                  "exceeds 32 bits",
                                                  e->bytes_per_row_divisor, from(k, e->from.bytes_per_row_divisor).text,
                                                  info->stride_bytes_per_width_pixel);
                        e->bytes_per_row_divisor = divisor;
                }
                if (info->sample_alignment > e->start_offset_divisor)
                        e->start_offset_divisor = info->sample_alignment;
                if (e->bytes_per_row_divisor > e->min_bytes_per_row)
                        e->min_bytes_per_row = e->bytes_per_row_divisor;
                /* Sees the combined divisor and raised alignment; a width outside the range is caught below. */
                struct sysmem_image_format_settings s;
                uint32_t bpr;
                ifc_row_settings(e, &s);
                /*
                 * Fuchsia's AFBC MinimumRowBytes does not look at max_bytes_per_row (§7), so there the raised
                 * minimum can pass the maximum and the min > max check below fails the entry; the library's
                 * function honours the maximum for its own callers, so it is lifted here.
                 */
                if ((e->pixel_format_modifier >> 56) == DRM_FORMAT_MOD_VENDOR_ARM)
                        s.max_bytes_per_row = U32_UNSET;
                if (image_format_minimum_row_bytes(&s, e->min_size.width, &bpr) && bpr > e->min_bytes_per_row)
                        e->min_bytes_per_row = bpr;
        }

        /* Roundings, for DO_NOT_CARE entries too, before the min > max checks (§1). */
        if (!round_up32(e->min_size.width, e->size_alignment.width, &e->min_size.width) ||
            !round_up32(e->min_size.height, e->size_alignment.height, &e->min_size.height))
                return entry_fail(k, e,
                                  "min_size %" PRIu32 "x%" PRIu32 " cannot be rounded up to size_alignment %" PRIu32
                                  "x%" PRIu32 " within 32 bits",
                                  e->min_size.width, e->min_size.height, e->size_alignment.width,
                                  e->size_alignment.height);
        if (!round_up32(e->min_bytes_per_row, e->bytes_per_row_divisor, &e->min_bytes_per_row))
                return entry_fail(k, e,
                                  "min_bytes_per_row %" PRIu32 " cannot be rounded up to bytes_per_row_divisor %" PRIu32
                                  " within 32 bits",
                                  e->min_bytes_per_row, e->bytes_per_row_divisor);
        e->max_size.width = round_down_max(e->max_size.width, e->size_alignment.width);
        e->max_size.height = round_down_max(e->max_size.height, e->size_alignment.height);
        e->max_bytes_per_row = round_down_max(e->max_bytes_per_row, e->bytes_per_row_divisor);

        if (e->min_size.width > e->max_size.width)
                return entry_fail(k, e,
                                  "min_size.width %" PRIu32 "%s exceeds max_size.width %" PRIu32
                                  "%s (both rounded to size_alignment.width %" PRIu32 ")",
                                  e->min_size.width, from(k, e->from.min_width).text, e->max_size.width,
                                  from(k, e->from.max_width).text, e->size_alignment.width);
        if (e->min_size.height > e->max_size.height)
                return entry_fail(k, e,
                                  "min_size.height %" PRIu32 "%s exceeds max_size.height %" PRIu32
                                  "%s (both rounded to size_alignment.height %" PRIu32 ")",
                                  e->min_size.height, from(k, e->from.min_height).text, e->max_size.height,
                                  from(k, e->from.max_height).text, e->size_alignment.height);
        if (e->min_bytes_per_row > e->max_bytes_per_row)
                return entry_fail(k, e,
                                  "min_bytes_per_row %" PRIu32 "%s (raised to the format's minimum for min_size.width "
                                  "%" PRIu32 " and to bytes_per_row_divisor %" PRIu32 ") exceeds max_bytes_per_row "
                                  "%" PRIu32 "%s",
                                  e->min_bytes_per_row, from(k, e->from.min_bytes_per_row).text, e->min_size.width,
                                  e->bytes_per_row_divisor, e->max_bytes_per_row,
                                  from(k, e->from.max_bytes_per_row).text);
        uint64_t area = (uint64_t)e->min_size.width * e->min_size.height;
        if (area > UINT32_MAX)
                return entry_fail(k, e,
                                  "min_size %" PRIu32 "x%" PRIu32 " is %" PRIu64 " pixels, more than 32 bits can count",
                                  e->min_size.width, e->min_size.height, area);
        if (area > e->max_width_times_height)
                return entry_fail(k, e,
                                  "min_size %" PRIu32 "x%" PRIu32 "%s is %" PRIu64
                                  " pixels, more than max_width_times_height %" PRIu64 "%s",
                                  e->min_size.width, e->min_size.height, from(k, e->from.min_width).text, area,
                                  e->max_width_times_height, from(k, e->from.max_width_times_height).text);
        if (!is_pow2(e->start_offset_divisor) || e->start_offset_divisor > k->limits->page_size)
                return entry_fail(k, e,
                                  "start_offset_divisor %" PRIu32 " must be a power of two no larger than the page "
                                  "size %" PRIu64,
                                  e->start_offset_divisor, k->limits->page_size);
        if (e->required_min_size.width < e->min_size.width || e->required_min_size.height < e->min_size.height)
                return entry_fail(
                        k, e,
                        "required_min_size %" PRIu32 "x%" PRIu32 "%s is smaller than min_size %" PRIu32 "x%" PRIu32
                        "%s",
                        e->required_min_size.width, e->required_min_size.height,
                        from(k, e->required_min_size.width < e->min_size.width ? e->from.required_min_width
                                                                               : e->from.required_min_height)
                                .text,
                        e->min_size.width, e->min_size.height,
                        from(k, e->required_min_size.width < e->min_size.width ? e->from.min_width : e->from.min_height)
                                .text);
        if (e->required_max_size.width > e->max_size.width || e->required_max_size.height > e->max_size.height)
                return entry_fail(
                        k, e, "required_max_size %" PRIu32 "x%" PRIu32 "%s exceeds max_size %" PRIu32 "x%" PRIu32 "%s",
                        e->required_max_size.width, e->required_max_size.height,
                        from(k, e->required_max_size.width > e->max_size.width ? e->from.required_max_width
                                                                               : e->from.required_max_height)
                                .text,
                        e->max_size.width, e->max_size.height,
                        from(k, e->required_max_size.width > e->max_size.width ? e->from.max_width : e->from.max_height)
                                .text);
        for (uint32_t i = 0; i < e->required_max_size_count; i++) {
                struct sysmem_size r = e->required_max_size_list[i];
                if (size_le(r, e->max_size))
                        continue;
                size_t owner = aggregated ? core_find_required_size_owner(k->participants, k->participant_count, r)
                                          : CORE_NOBODY;
                return entry_fail(k, e,
                                  "required_max_size_list entry %" PRIu32 "x%" PRIu32 "%s exceeds max_size %" PRIu32
                                  "x%" PRIu32 "%s",
                                  r.width, r.height, from(k, owner).text, e->max_size.width, e->max_size.height,
                                  from(k, r.width > e->max_size.width ? e->from.max_width : e->from.max_height).text);
        }

        /* Fuchsia's guard tests pad_for_block_size.width twice, so a {1, h} pad skips all of these (§2 quirk). */
        if (e->pad_for_block_size.width > 1) {
                if (!format_specific || e->pixel_format_modifier != DRM_FORMAT_MOD_LINEAR ||
                    !image_format_is_non_tiled_single_plane(e->pixel_format, e->pixel_format_modifier))
                        return entry_fail(k, e,
                                          "pad_for_block_size %" PRIu32 "x%" PRIu32 "%s needs a specific single-plane "
                                          "pixel format with the LINEAR modifier",
                                          e->pad_for_block_size.width, e->pad_for_block_size.height,
                                          from(k, e->from.pad_width).text);
                if (e->pad_for_block_size.height > 1 && !aggregated && e->max_size.width == U32_UNSET)
                        return entry_fail(k, e,
                                          "pad_for_block_size %" PRIu32 "x%" PRIu32 " with a height above 1 needs "
                                          "max_size.width, to bound the rows a block can read past the image",
                                          e->pad_for_block_size.width, e->pad_for_block_size.height);
                if (e->pad_for_block_size.height > 1 && aggregated && e->max_size.width >= 0x80000000u)
                        return entry_fail(k, e,
                                          "pad_for_block_size %" PRIu32 "x%" PRIu32 "%s with a height above 1 needs "
                                          "max_size.width below 2147483648, but it is %" PRIu32 "%s",
                                          e->pad_for_block_size.width, e->pad_for_block_size.height,
                                          from(k, e->from.pad_height).text, e->max_size.width,
                                          from(k, e->from.max_width).text);
        }
        return 0;
}

int core_ifc_recheck(struct core_ifc *e, const struct core_participant *participants, size_t participant_count,
                     const struct core_limits *limits, struct core_failure *failure) {
        const struct check k = {participants, participant_count, CORE_NOBODY, limits, failure};
        return adjust_and_check(&k, e);
}

/* ---- one participant ---- */

static int color_space_mask(const struct check *k, const struct sysmem_image_format_constraints *in, uint32_t i,
                            uint32_t *ret) {
        uint32_t mask = 0;
        if (in->color_space_count == 0)
                return input_fail(k, i,
                                  ".color_spaces is empty: list the colour spaces the participant accepts, or "
                                  "DO_NOT_CARE alone");
        for (uint32_t j = 0; j < in->color_space_count; j++) {
                uint32_t cs = in->color_spaces[j];
                if (cs == SYSMEM_COLOR_SPACE_DO_NOT_CARE)
                        mask |= CORE_CS_DNC;
                else if (cs <= SYSMEM_COLOR_SPACE_PASSTHROUGH)
                        mask |= 1u << cs;
                else
                        return input_fail(k, i, ".color_spaces[%" PRIu32 "] %" PRIu32 " is not a colour space", j, cs);
        }
        if ((mask & CORE_CS_DNC) && in->color_space_count > 1)
                return input_fail(k, i,
                                  ".color_spaces has DO_NOT_CARE among %" PRIu32 " entries; DO_NOT_CARE must be "
                                  "the only entry",
                                  in->color_space_count);
        *ret = mask;
        return 0;
}

_Static_assert(sizeof(struct core_ifc_from) == 19 * sizeof(size_t), "set_all_from() must name every field");
static void set_all_from(struct core_ifc_from *f, size_t index) {
        *f = (struct core_ifc_from){index, index, index, index, index, index, index, index, index, index,
                                    index, index, index, index, index, index, index, index, index};
}

/* The fields every entry of one image_format_constraints[i] shares, with their defaults (§1). */
static int make_template(const struct check *k, const struct sysmem_image_format_constraints *in, uint32_t i,
                         struct core_ifc *t) {
        int r;

        memset(t, 0, offsetof(struct core_ifc, required_max_size_list));
        t->input_index = i;
        set_all_from(&t->from, k->index);
        if ((r = color_space_mask(k, in, i, &t->color_spaces)) < 0)
                return r;

        t->min_size = in->min_size;
        t->max_size.width = in->max_size.width ? in->max_size.width : U32_UNSET;
        t->max_size.height = in->max_size.height ? in->max_size.height : U32_UNSET;
        t->min_bytes_per_row = in->min_bytes_per_row;
        t->max_bytes_per_row = in->max_bytes_per_row ? in->max_bytes_per_row : U32_UNSET;
        t->max_width_times_height = in->max_width_times_height ? in->max_width_times_height : UINT64_MAX;

        t->size_alignment.width = in->size_alignment.width ? in->size_alignment.width : 1;
        t->size_alignment.height = in->size_alignment.height ? in->size_alignment.height : 1;
        if (!is_pow2(t->size_alignment.width) || !is_pow2(t->size_alignment.height))
                return input_fail(k, i, ".size_alignment %" PRIu32 "x%" PRIu32 " must be a power of two per axis",
                                  t->size_alignment.width, t->size_alignment.height);
        /* With the client's own alignment, before the format's (newest snapshot): min_size is never 0x0 after. */
        if (t->min_size.width < t->size_alignment.width)
                t->min_size.width = t->size_alignment.width;
        if (t->min_size.height < t->size_alignment.height)
                t->min_size.height = t->size_alignment.height;

        t->display_rect_alignment.width = in->display_rect_alignment.width ? in->display_rect_alignment.width : 1;
        t->display_rect_alignment.height = in->display_rect_alignment.height ? in->display_rect_alignment.height : 1;
        if (!is_pow2(t->display_rect_alignment.width) || !is_pow2(t->display_rect_alignment.height))
                return input_fail(k, i,
                                  ".display_rect_alignment %" PRIu32 "x%" PRIu32 " must be a power of two per axis",
                                  t->display_rect_alignment.width, t->display_rect_alignment.height);

        /* The required region starts empty: required_min_size MAX, required_max_size 0 (§1). */
        t->required_min_size.width = in->required_min_size.width ? in->required_min_size.width : U32_UNSET;
        t->required_min_size.height = in->required_min_size.height ? in->required_min_size.height : U32_UNSET;
        t->required_max_size = in->required_max_size;

        t->bytes_per_row_divisor = in->bytes_per_row_divisor ? in->bytes_per_row_divisor : 1;
        t->start_offset_divisor = in->start_offset_divisor ? in->start_offset_divisor : 1;
        /* As given, before adjust_and_check() raises it to the format's sample alignment (3 would become 4). */
        if (!is_pow2(t->start_offset_divisor) || t->start_offset_divisor > k->limits->page_size)
                return input_fail(k, i,
                                  ".start_offset_divisor %" PRIu32 " must be a power of two no larger than the page "
                                  "size %" PRIu64,
                                  t->start_offset_divisor, k->limits->page_size);
        t->require_bytes_per_row_at_pixel_boundary = in->require_bytes_per_row_at_pixel_boundary;
        if ((unsigned)in->is_alpha_present > SYSMEM_TRUE)
                return input_fail(k, i, ".is_alpha_present has invalid value %u (0 unset, 1 false, 2 true)",
                                  (unsigned)in->is_alpha_present);
        t->is_alpha_present = in->is_alpha_present;
        t->pad_for_block_size.width = in->pad_for_block_size.width ? in->pad_for_block_size.width : 1;
        t->pad_for_block_size.height = in->pad_for_block_size.height ? in->pad_for_block_size.height : 1;
        if (!is_pow2(t->pad_for_block_size.width) || !is_pow2(t->pad_for_block_size.height))
                return input_fail(k, i, ".pad_for_block_size %" PRIu32 "x%" PRIu32 " must be a power of two per axis",
                                  t->pad_for_block_size.width, t->pad_for_block_size.height);
        t->pad_beyond_image_size_bytes = in->pad_beyond_image_size_bytes;

        for (uint32_t j = 0; j < in->required_max_size_count; j++) {
                struct sysmem_size s = in->required_max_size_list[j];
                if (s.width == 0 || s.height == 0)
                        return input_fail(k, i,
                                          ".required_max_size_list[%" PRIu32 "] is %" PRIu32 "x%" PRIu32
                                          "; both dimensions must be non-zero",
                                          j, s.width, s.height);
        }
        t->required_max_size_count = 0;
        /* At most 64 entries in, so at most 64 out: this cannot fail. */
        (void)core_size_list_merge(t->required_max_size_list, &t->required_max_size_count, in->required_max_size_list,
                                   in->required_max_size_count);
        return 0;
}

static int check_input_shape(const struct check *k, const struct sysmem_image_format_constraints *in, uint32_t i) {
        if (in->color_space_count > SYSMEM_MAX_COLOR_SPACES)
                return input_fail(k, i, ".color_space_count %" PRIu32 " exceeds the limit of %u", in->color_space_count,
                                  SYSMEM_MAX_COLOR_SPACES);
        if (in->color_space_count > 0 && !in->color_spaces)
                return input_fail(k, i, ".color_spaces is NULL but color_space_count is %" PRIu32,
                                  in->color_space_count);
        if (in->pixel_format_and_modifier_count > SYSMEM_MAX_FORMAT_PAIRS)
                return input_fail(k, i, ".pixel_format_and_modifier_count %" PRIu32 " exceeds the limit of %u",
                                  in->pixel_format_and_modifier_count, SYSMEM_MAX_FORMAT_PAIRS);
        if (in->pixel_format_and_modifier_count > 0 && !in->pixel_format_and_modifiers)
                return input_fail(k, i,
                                  ".pixel_format_and_modifiers is NULL but pixel_format_and_modifier_count is %" PRIu32,
                                  in->pixel_format_and_modifier_count);
        if (in->required_max_size_count > SYSMEM_MAX_REQUIRED_MAX_SIZES)
                return input_fail(k, i, ".required_max_size_count %" PRIu32 " exceeds the limit of %u",
                                  in->required_max_size_count, SYSMEM_MAX_REQUIRED_MAX_SIZES);
        if (in->required_max_size_count > 0 && !in->required_max_size_list)
                return input_fail(k, i, ".required_max_size_list is NULL but required_max_size_count is %" PRIu32,
                                  in->required_max_size_count);
        if (in->has_pixel_format_modifier && in->pixel_format == 0)
                return input_fail(k, i,
                                  ".pixel_format_modifier is set but pixel_format is not; a modifier belongs to a "
                                  "pixel format");
        if (in->pixel_format == 0 && in->pixel_format_and_modifier_count == 0)
                return input_fail(k, i, " names no pixel format: set pixel_format or pixel_format_and_modifiers");
        return 0;
}

/* Rejects two entries of one participant that name the same pair, or would both accept one pair (§2). */
static int check_distinct(const struct check *k, const struct core_ifc *list, uint32_t count) {
        for (uint32_t a = 1; a < count; a++) {
                const struct core_ifc *x = &list[a];
                bool x_dnc = x->pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE ||
                             x->pixel_format_modifier == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE;
                for (uint32_t b = 0; b < a; b++) {
                        const struct core_ifc *y = &list[b];
                        uint32_t f;
                        uint64_t m;
                        bool same = x->pixel_format == y->pixel_format &&
                                    x->pixel_format_modifier == y->pixel_format_modifier;
                        if (!same && !x_dnc && y->pixel_format != SYSMEM_PIXEL_FORMAT_DO_NOT_CARE &&
                            y->pixel_format_modifier != SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE)
                                continue; /* two specific pairs that differ: the common case, decided cheaply */
                        if (!same && !core_keys_combinable(x->pixel_format, x->pixel_format_modifier, y->pixel_format,
                                                           y->pixel_format_modifier, &f, &m))
                                continue;
                        struct core_text t;
                        core_fail_begin(k->failure, &t);
                        core_text_appendf(&t, "%s: image_format_constraints[%" PRIu32 "] ",
                                          core_label(k->participants, k->index).text, y->input_index);
                        core_append_key(&t, y->pixel_format, y->pixel_format_modifier);
                        core_text_appendf(&t, " and image_format_constraints[%" PRIu32 "] ", x->input_index);
                        core_append_key(&t, x->pixel_format, x->pixel_format_modifier);
                        if (same)
                                core_text_appendf(&t, " name the same pixel format and modifier%s",
                                                  x->input_index == y->input_index
                                                          ? " (pixel_format and pixel_format_and_modifiers, or a "
                                                            "defaulted modifier, gave it twice)"
                                                          : "");
                        else {
                                core_text_appendf(&t, " would both accept ");
                                core_append_key(&t, f, m);
                                core_text_appendf(&t, "; with DO_NOT_CARE, entries of one participant must not "
                                                      "overlap");
                        }
                        return -EINVAL;
                }
        }
        return 0;
}

int core_sanitize_ifcs(const struct core_participant *participants, size_t index, const struct core_limits *limits,
                       struct core_ifc *out, uint32_t *ret_count, struct core_failure *failure) {
        const struct sysmem_constraints *in = participants[index].constraints;
        const struct check k = {participants, 0, index, limits, failure};
        uint32_t count = 0;
        int r;

        if (in->image_format_constraint_count > SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS)
                return core_fail_participant(failure, participants, index,
                                             "image_format_constraint_count %" PRIu32 " exceeds the limit of %u",
                                             in->image_format_constraint_count, SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS);
        if (in->image_format_constraint_count > 0 && !in->image_format_constraints)
                return core_fail_participant(
                        failure, participants, index,
                        "image_format_constraints is NULL but image_format_constraint_count is %" PRIu32,
                        in->image_format_constraint_count);

        /* The modifier default (§1): LINEAR for a participant that touches the buffers, else DO_NOT_CARE. */
        bool real_usage = core_usage_has_real_bit(&in->usage);

        for (uint32_t i = 0; i < in->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *ifc = &in->image_format_constraints[i];
                struct core_ifc template;

                if ((r = check_input_shape(&k, ifc, i)) < 0 || (r = make_template(&k, ifc, i, &template)) < 0)
                        return r;

                /* pixel_format / pixel_format_modifier first, then the list: the server folds them in that order. */
                uint32_t pairs = ifc->pixel_format_and_modifier_count + (ifc->pixel_format != 0);
                for (uint32_t j = 0; j < pairs; j++) {
                        bool from_field = ifc->pixel_format != 0 && j == 0;
                        uint32_t list_index = j - (ifc->pixel_format != 0);
                        uint32_t f;
                        uint64_t m;

                        if (from_field) {
                                f = ifc->pixel_format;
                                if (ifc->has_pixel_format_modifier)
                                        m = ifc->pixel_format_modifier;
                                else if (f == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE || !real_usage)
                                        m = SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE;
                                else
                                        m = DRM_FORMAT_MOD_LINEAR;
                                if (m == DRM_FORMAT_MOD_INVALID)
                                        return input_fail(&k, i,
                                                          ".pixel_format_modifier is DRM_FORMAT_MOD_INVALID "
                                                          "(0x00ffffffffffffff)");
                        } else {
                                f = ifc->pixel_format_and_modifiers[list_index].pixel_format;
                                m = ifc->pixel_format_and_modifiers[list_index].pixel_format_modifier;
                                if (f == 0)
                                        return input_fail(&k, i,
                                                          ".pixel_format_and_modifiers[%" PRIu32 "].pixel_format is 0 "
                                                          "(DRM_FORMAT_INVALID)",
                                                          list_index);
                                if (m == DRM_FORMAT_MOD_INVALID)
                                        return input_fail(&k, i,
                                                          ".pixel_format_and_modifiers[%" PRIu32
                                                          "].pixel_format_modifier "
                                                          "is DRM_FORMAT_MOD_INVALID (0x00ffffffffffffff)",
                                                          list_index);
                        }
                        if (count == CORE_MAX_IFC_ENTRIES)
                                return core_fail_participant(
                                        failure, participants, index,
                                        "image_format_constraints expand to more than %u (pixel_format, "
                                        "pixel_format_modifier) entries",
                                        CORE_MAX_IFC_ENTRIES);

                        struct core_ifc *e = &out[count];
                        core_ifc_copy(e, &template);
                        e->pixel_format = f;
                        e->pixel_format_modifier = m;
                        if ((r = adjust_and_check(&k, e)) < 0)
                                return r;
                        count++;
                }
        }

        if ((r = check_distinct(&k, out, count)) < 0)
                return r;
        *ret_count = count;
        return 0;
}
