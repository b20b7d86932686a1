/* ifc-merge.c: image-format lists folded across participants (§3, §3.1), then finished (§3.2, kAggregated). */
#include "core-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "image-format.h"

static bool key_has_dnc(const struct core_ifc *e) {
        return e->pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE ||
               e->pixel_format_modifier == SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE;
}

static bool list_has_dnc(const struct core_ifc *list, uint32_t count) {
        for (uint32_t i = 0; i < count; i++)
                if (key_has_dnc(&list[i]))
                        return true;
        return false;
}

/* A work list that is neither a nor b (four lists, at most two in use by the caller: never NULL). */
static struct core_ifc *free_list(struct core_work *work, const struct core_ifc *a, const struct core_ifc *b,
                                  const struct core_ifc *c) {
        for (int i = 0; i < CORE_WORK_LISTS; i++)
                if (work->list[i] != a && work->list[i] != b && work->list[i] != c)
                        return work->list[i];
        return NULL;
}

/* "'a' offers", "'a' and 'b' together offer", "'a', ..., 'z' (5 participants) together offer" */
static void append_acc_side(struct core_text *t, const struct core_accumulator *acc,
                            const struct core_participant *participants) {
        core_text_appendf(t, "%s", core_label(participants, acc->ifc_first_from).text);
        if (acc->ifc_participant_count == 2)
                core_text_appendf(t, " and %s together", core_label(participants, acc->ifc_last_from).text);
        else if (acc->ifc_participant_count > 2)
                core_text_appendf(t, ", ..., %s (%zu participants) together",
                                  core_label(participants, acc->ifc_last_from).text, acc->ifc_participant_count);
}

/*
 * §3.1: every entry of src with a DO_NOT_CARE is replaced by one clone per combinable entry of other. A fully
 * specific clone keeps only the colour spaces its format supports, and is dropped when none is left.
 */
static int fan_out(const struct core_ifc *src, uint32_t src_count, const struct core_ifc *other, uint32_t other_count,
                   struct core_ifc *out, uint32_t *ret_count, const struct core_participant *participants, size_t index,
                   struct core_failure *failure) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < src_count; i++) {
                const struct core_ifc *e = &src[i];
                if (!key_has_dnc(e)) {
                        if (n == CORE_MAX_IFC_ENTRIES)
                                goto too_many;
                        if (&out[n] != e)
                                core_ifc_copy(&out[n], e);
                        n++;
                        continue;
                }
                for (uint32_t j = 0; j < other_count; j++) {
                        uint32_t f;
                        uint64_t m;
                        if (!core_keys_combinable(e->pixel_format, e->pixel_format_modifier, other[j].pixel_format,
                                                  other[j].pixel_format_modifier, &f, &m))
                                continue;
                        uint32_t cs = e->color_spaces;
                        if (f != SYSMEM_PIXEL_FORMAT_DO_NOT_CARE && m != SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE &&
                            !(cs & CORE_CS_DNC)) {
                                cs &= core_color_spaces_supported(f);
                                if (cs == 0)
                                        continue;
                        }
                        if (n == CORE_MAX_IFC_ENTRIES)
                                goto too_many;
                        core_ifc_copy(&out[n], e);
                        out[n].pixel_format = f;
                        out[n].pixel_format_modifier = m;
                        out[n].color_spaces = cs;
                        n++;
                }
        }
        *ret_count = n;
        return 0;

too_many:
        return core_fail(failure,
                         "image_format_constraints: replacing DO_NOT_CARE pixel formats or modifiers by the "
                         "combinations they allow, while folding in %s, makes more than %u entries",
                         core_label(participants, index).text, CORE_MAX_IFC_ENTRIES);
}

enum merge_result {
        MERGE_OK,
        MERGE_COLOR_SPACES,
        MERGE_ALPHA,
        MERGE_DIVISOR,
        MERGE_PAD_DIVISOR,
        MERGE_TOO_MANY_SIZES, /* fails the whole aggregation, not just this key */
};

/* Why the first shared key failed to merge, for the message when no key is left. */
struct merge_note {
        enum merge_result result;
        struct core_ifc before; /* the aggregate's entry before the merge (list not copied) */
        const struct core_ifc *theirs;
        uint32_t failed; /* shared keys whose merge failed */
};

#define TAKE_MAX(field, from_field)                                                                                    \
        do {                                                                                                           \
                if (b->field > a->field) {                                                                             \
                        a->field = b->field;                                                                           \
                        a->from.from_field = index;                                                                    \
                }                                                                                                      \
        } while (0)
#define TAKE_MIN(field, from_field)                                                                                    \
        do {                                                                                                           \
                if (b->field < a->field) {                                                                             \
                        a->field = b->field;                                                                           \
                        a->from.from_field = index;                                                                    \
                }                                                                                                      \
        } while (0)

/* a = a merged with participant `index`'s entry b of the same key (the per-IFC rows of §3's table). */
static enum merge_result merge_entry(struct core_ifc *a, const struct core_ifc *b, size_t index) {
        if (a->color_spaces & CORE_CS_DNC) {
                if (!(b->color_spaces & CORE_CS_DNC))
                        a->from.color_spaces = index;
                a->color_spaces = b->color_spaces;
        } else if (!(b->color_spaces & CORE_CS_DNC)) {
                uint32_t both = a->color_spaces & b->color_spaces;
                if (both == 0)
                        return MERGE_COLOR_SPACES;
                if (both != a->color_spaces)
                        a->from.color_spaces = index;
                a->color_spaces = both;
        }

        TAKE_MAX(min_size.width, min_width);
        TAKE_MAX(min_size.height, min_height);
        TAKE_MAX(min_bytes_per_row, min_bytes_per_row);
        TAKE_MIN(max_size.width, max_width);
        TAKE_MIN(max_size.height, max_height);
        TAKE_MIN(max_bytes_per_row, max_bytes_per_row);
        TAKE_MIN(max_width_times_height, max_width_times_height);
        TAKE_MAX(size_alignment.width, size_alignment_width);
        TAKE_MAX(size_alignment.height, size_alignment_height);
        a->display_rect_alignment.width = MAX(a->display_rect_alignment.width, b->display_rect_alignment.width);
        a->display_rect_alignment.height = MAX(a->display_rect_alignment.height, b->display_rect_alignment.height);
        a->start_offset_divisor = MAX(a->start_offset_divisor, b->start_offset_divisor);

        uint32_t divisor;
        if (!core_lcm32(a->bytes_per_row_divisor, b->bytes_per_row_divisor, &divisor))
                return MERGE_DIVISOR;
        if (divisor != a->bytes_per_row_divisor) {
                a->bytes_per_row_divisor = divisor;
                a->from.bytes_per_row_divisor = index;
        }
        a->require_bytes_per_row_at_pixel_boundary |= b->require_bytes_per_row_at_pixel_boundary;

        /* The union of the required regions: the smallest required_min_size, the largest required_max_size. */
        TAKE_MIN(required_min_size.width, required_min_width);
        TAKE_MIN(required_min_size.height, required_min_height);
        TAKE_MAX(required_max_size.width, required_max_width);
        TAKE_MAX(required_max_size.height, required_max_height);

        if (a->is_alpha_present != SYSMEM_UNSET && b->is_alpha_present != SYSMEM_UNSET &&
            a->is_alpha_present != b->is_alpha_present)
                return MERGE_ALPHA;
        if (a->is_alpha_present == SYSMEM_UNSET && b->is_alpha_present != SYSMEM_UNSET) {
                a->is_alpha_present = b->is_alpha_present;
                a->from.alpha = index;
        }

        TAKE_MAX(pad_for_block_size.width, pad_width);
        TAKE_MAX(pad_for_block_size.height, pad_height);
        TAKE_MAX(pad_beyond_image_size_bytes, pad_beyond);
        if (a->pad_for_block_size.width > 1) {
                /* Rows must hold whole blocks, so a block never straddles two rows (§3 table). */
                const struct image_format_info *info = image_format_lookup(a->pixel_format);
                uint64_t block_bytes =
                        info ? (uint64_t)info->stride_bytes_per_width_pixel * a->pad_for_block_size.width : 1;
                if (block_bytes > UINT32_MAX || !core_lcm32(a->bytes_per_row_divisor, (uint32_t)block_bytes, &divisor))
                        return MERGE_PAD_DIVISOR;
                if (divisor != a->bytes_per_row_divisor) {
                        a->bytes_per_row_divisor = divisor;
                        a->from.bytes_per_row_divisor = a->from.pad_width;
                }
        }

        if (!core_size_list_merge(a->required_max_size_list, &a->required_max_size_count, b->required_max_size_list,
                                  b->required_max_size_count))
                return MERGE_TOO_MANY_SIZES;
        return MERGE_OK;
}

static void append_merge_reason(struct core_text *t, const struct merge_note *note,
                                const struct core_participant *participants, size_t index) {
        const struct core_ifc *a = &note->before, *b = note->theirs;
        struct core_label them = core_label(participants, index);

        switch (note->result) {
        case MERGE_COLOR_SPACES:
                core_text_appendf(t, "their color_spaces have none in common: ");
                core_append_color_spaces(t, a->color_spaces);
                core_text_appendf(t, "%s and ", core_from(participants, a->from.color_spaces).text);
                core_append_color_spaces(t, b->color_spaces);
                core_text_appendf(t, " (from %s)", them.text);
                break;
        case MERGE_ALPHA:
                core_text_appendf(t, "is_alpha_present is %s%s and %s (from %s)",
                                  a->is_alpha_present == SYSMEM_TRUE ? "true" : "false",
                                  core_from(participants, a->from.alpha).text,
                                  b->is_alpha_present == SYSMEM_TRUE ? "true" : "false", them.text);
                break;
        case MERGE_DIVISOR:
                core_text_appendf(t,
                                  "the least common multiple of bytes_per_row_divisor %" PRIu32 "%s and %" PRIu32
                                  " (from %s) exceeds 32 bits",
                                  a->bytes_per_row_divisor, core_from(participants, a->from.bytes_per_row_divisor).text,
                                  b->bytes_per_row_divisor, them.text);
                break;
        case MERGE_PAD_DIVISOR:
                core_text_appendf(t,
                                  "pad_for_block_size.width %" PRIu32 " makes bytes_per_row_divisor a multiple of "
                                  "a whole block's bytes, which exceeds 32 bits",
                                  MAX(a->pad_for_block_size.width, b->pad_for_block_size.width));
                break;
        case MERGE_OK:
        case MERGE_TOO_MANY_SIZES:
                break;
        }
}

static bool formats_overlap(const struct core_ifc *a, uint32_t a_count, const struct core_ifc *b, uint32_t b_count) {
        for (uint32_t i = 0; i < a_count; i++)
                for (uint32_t j = 0; j < b_count; j++)
                        if (a[i].pixel_format == b[j].pixel_format ||
                            a[i].pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE ||
                            b[j].pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE)
                                return true;
        return false;
}

/* Nothing is left: say what each side offered, or why their shared pairs did not merge. */
static int fail_empty(const struct core_accumulator *acc, const struct core_participant *participants, size_t index,
                      const struct core_ifc *theirs, uint32_t their_count, uint32_t shared,
                      const struct merge_note *note, struct core_failure *failure) {
        const struct core_ifc *ours = acc->c.ifcs;
        uint32_t our_count = acc->c.ifc_count;
        struct core_text t;

        core_fail_begin(failure, &t);
        if (shared == 0) {
                bool pairs = formats_overlap(ours, our_count, theirs, their_count);
                core_text_appendf(&t, "no %s accepted by every participant: ",
                                  pairs ? "(pixel_format, pixel_format_modifier) pair" : "pixel format");
                append_acc_side(&t, acc, participants);
                core_text_appendf(&t, " offer%s ", acc->ifc_participant_count == 1 ? "s" : "");
                core_append_ifc_keys(&t, ours, our_count, pairs);
                core_text_appendf(&t, ", %s offers ", core_label(participants, index).text);
                core_append_ifc_keys(&t, theirs, their_count, pairs);
                return -EINVAL;
        }
        core_text_appendf(&t, "no image format accepted by every participant: ");
        append_acc_side(&t, acc, participants);
        core_text_appendf(&t, " and %s share ", core_label(participants, index).text);
        core_append_key(&t, note->before.pixel_format, note->before.pixel_format_modifier);
        core_text_appendf(&t, ", but ");
        append_merge_reason(&t, note, participants, index);
        if (shared > 1)
                core_text_appendf(&t, "; the other %" PRIu32 " shared pair%s failed too", shared - 1,
                                  shared > 2 ? "s" : "");
        return -EINVAL;
}

int core_accumulate_ifcs(struct core_accumulator *acc, const struct core_participant *participants, size_t index,
                         const struct core_constraints *c, struct core_failure *failure) {
        struct core_work *work = acc->work;
        const struct core_ifc *ours = acc->c.ifcs;
        uint32_t our_count = acc->c.ifc_count;
        int r;

        if (c->ifc_count == 0)
                return 0; /* no image formats: the aggregate's stay as they are */
        if (acc->ifc_participant_count == 0) {
                /* The first list is taken whole and merged with nothing (§3 notes); its work list is now the
                 * aggregate's.
                 */
                acc->c.ifcs = c->ifcs;
                acc->c.ifc_count = c->ifc_count;
                acc->ifc_participant_count = 1;
                acc->ifc_first_from = acc->ifc_last_from = index;
                return 0;
        }

        /* Fan out both ways (§3.1): the aggregate against the participant, then the participant against the result. */
        struct core_ifc *out = free_list(work, ours, c->ifcs, NULL);
        const struct core_ifc *acc_side = ours;
        uint32_t acc_side_count = our_count, out_count = 0;
        if (list_has_dnc(ours, our_count)) {
                if ((r = fan_out(ours, our_count, c->ifcs, c->ifc_count, out, &acc_side_count, participants, index,
                                 failure)) < 0)
                        return r;
                acc_side = out;
        }
        const struct core_ifc *their_side = c->ifcs;
        uint32_t their_side_count = c->ifc_count;
        if (list_has_dnc(c->ifcs, c->ifc_count)) {
                struct core_ifc *scratch = free_list(work, ours, c->ifcs, out);
                if ((r = fan_out(c->ifcs, c->ifc_count, acc_side, acc_side_count, scratch, &their_side_count,
                                 participants, index, failure)) < 0)
                        return r;
                their_side = scratch;
        }

        /* Keep the keys on both sides, merged; out[] is written at or before the entry being read. */
        struct merge_note note = {.result = MERGE_OK};
        uint32_t shared = 0;
        for (uint32_t i = 0; i < acc_side_count; i++) {
                const struct core_ifc *a = &acc_side[i], *b = NULL;
                for (uint32_t j = 0; j < their_side_count && !b; j++)
                        if (their_side[j].pixel_format == a->pixel_format &&
                            their_side[j].pixel_format_modifier == a->pixel_format_modifier)
                                b = &their_side[j];
                if (!b)
                        continue;
                shared++;
                struct core_ifc *dst = &out[out_count];
                if (dst != a)
                        core_ifc_copy(dst, a);
                struct core_ifc before;
                memcpy(&before, dst, offsetof(struct core_ifc, required_max_size_list));
                enum merge_result m = merge_entry(dst, b, index);
                if (m == MERGE_TOO_MANY_SIZES) {
                        struct core_text t;
                        core_fail_begin(failure, &t);
                        core_text_appendf(&t, "image_format_constraints ");
                        core_append_key(&t, a->pixel_format, a->pixel_format_modifier);
                        core_text_appendf(&t,
                                          ": with the required_max_size_list of %s, more than %u required sizes "
                                          "remain that no other one covers",
                                          core_label(participants, index).text, SYSMEM_MAX_REQUIRED_MAX_SIZES);
                        return -EINVAL;
                }
                if (m != MERGE_OK) {
                        if (note.failed++ == 0) {
                                note.result = m;
                                note.before = before;
                                note.theirs = b;
                        }
                        continue;
                }
                out_count++;
        }
        if (out_count == 0)
                return fail_empty(acc, participants, index, c->ifcs, c->ifc_count, shared, &note, failure);

        acc->c.ifcs = out;
        acc->c.ifc_count = out_count;
        acc->ifc_participant_count++;
        acc->ifc_last_from = index;
        return 0;
}

/* ---- after the last participant ---- */

/* "every image format that 'a' and 'b' together accept <what>: {(NV12, DO_NOT_CARE)}<hint>" */
static int fail_list(const struct core_accumulator *acc, const struct core_participant *participants,
                     struct core_failure *failure, const char *what, const struct core_ifc *list, uint32_t count,
                     const char *hint) {
        struct core_text t;
        core_fail_begin(failure, &t);
        core_text_appendf(&t, "every image format that ");
        append_acc_side(&t, acc, participants);
        core_text_appendf(&t, " accept%s %s: ", acc->ifc_participant_count == 1 ? "s" : "", what);
        core_append_ifc_keys(&t, list, count, true);
        core_text_appendf(&t, "%s", hint);
        return -EINVAL;
}

int core_finish_ifcs(struct core_accumulator *acc, const struct core_participant *participants,
                     size_t participant_count, const struct core_limits *limits, struct core_failure *failure) {
        struct core_ifc *list = acc->c.ifcs;
        uint32_t n = acc->c.ifc_count, kept;
        int r;

        if (acc->ifc_participant_count == 0)
                return 0;

        /* A required_max_size is one more size the buffer must hold (§3 notes); either axis alone counts. */
        for (uint32_t i = 0; i < n; i++) {
                struct core_ifc *e = &list[i];
                if (e->required_max_size.width == 0 && e->required_max_size.height == 0)
                        continue;
                if (!core_size_list_merge(e->required_max_size_list, &e->required_max_size_count, &e->required_max_size,
                                          1)) {
                        struct core_text t;
                        core_fail_begin(failure, &t);
                        core_text_appendf(&t, "aggregated image_format_constraints ");
                        core_append_key(&t, e->pixel_format, e->pixel_format_modifier);
                        core_text_appendf(&t,
                                          ": required_max_size and required_max_size_list together leave more than "
                                          "%u required sizes that no other one covers",
                                          SYSMEM_MAX_REQUIRED_MAX_SIZES);
                        return -EINVAL;
                }
        }

        /* Someone must have named each field (§3.1). */
        kept = 0;
        for (uint32_t i = 0; i < n; i++)
                if (!key_has_dnc(&list[i]))
                        core_ifc_copy(&list[kept++], &list[i]);
        if (kept == 0)
                return fail_list(acc, participants, failure, "has a DO_NOT_CARE pixel_format or pixel_format_modifier",
                                 list, n, "; at least one participant must name a specific value for each");
        n = kept;

        /* And someone must have constrained the colour space (§3.2). */
        kept = 0;
        for (uint32_t i = 0; i < n; i++)
                if (!(list[i].color_spaces & CORE_CS_DNC))
                        core_ifc_copy(&list[kept++], &list[i]);
        if (kept == 0)
                return fail_list(acc, participants, failure, "has color_spaces DO_NOT_CARE from every participant",
                                 list, n, "; at least one must name the colour spaces it accepts");
        n = kept;

        /* One colour space per entry: the best by the fixed rank. */
        for (uint32_t i = 0; i < n; i++) {
                uint32_t best = 0, best_rank = UINT32_MAX;
                for (uint32_t cs = 0; cs <= SYSMEM_COLOR_SPACE_PASSTHROUGH; cs++)
                        if ((list[i].color_spaces & (1u << cs)) && image_format_color_space_rank(cs) < best_rank) {
                                best = cs;
                                best_rank = image_format_color_space_rank(cs);
                        }
                list[i].color_spaces = 1u << best;
        }
        acc->c.ifc_count = n;

        /*
         * A pair only a device lays out whose aggregated ranges cross drops out, where any other entry fails the
         * negotiation (as in Fuchsia): Fuchsia never holds such a pair (fan-out drops it silently, and a
         * participant naming one fails), so it must not turn Fuchsia's success into a failure. When every entry
         * is dropped, the first one's reason is reported.
         */
        struct core_failure first_dropped = {0};
        bool dropped = false;
        kept = 0;
        for (uint32_t i = 0; i < n; i++) {
                struct core_failure f = {0};
                if ((r = core_ifc_recheck(&list[i], participants, participant_count, limits, &f)) < 0) {
                        if (!list[i].device_only) {
                                *failure = f;
                                return r;
                        }
                        if (!dropped)
                                first_dropped = f;
                        dropped = true;
                        continue;
                }
                if (kept != i)
                        core_ifc_copy(&list[kept], &list[i]);
                kept++;
        }
        if (kept == 0) {
                *failure = first_dropped;
                return -EINVAL;
        }
        acc->c.ifc_count = kept;
        return 0;
}
