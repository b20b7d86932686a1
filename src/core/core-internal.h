/* core-internal.h: what the core's stages (sanitize, accumulate, generate settings, explain) share. */
#ifndef SYSMEM_CORE_INTERNAL_H
#define SYSMEM_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"
#include "core.h"

/* Colour-space sets are bit masks: bit n is colour space n (INVALID 0 .. PASSTHROUGH 9); DO_NOT_CARE is its own bit. */
#define CORE_CS_KNOWN 0x3ffu
#define CORE_CS_DNC (1u << 31)

/* The fan-out guard (§3.1), and the bound on every image-format list the core holds. */
#define CORE_MAX_IFC_ENTRIES 512u

/* For each value of an image-format entry that can bind: the participant that supplied it (CORE_NOBODY: default). */
struct core_ifc_from {
        size_t min_width, min_height;
        size_t max_width, max_height;
        size_t min_bytes_per_row, max_bytes_per_row;
        size_t max_width_times_height;
        size_t size_alignment_width, size_alignment_height;
        size_t bytes_per_row_divisor;
        size_t required_min_width, required_min_height;
        size_t required_max_width, required_max_height;
        size_t color_spaces; /* the participant that last narrowed the set */
        size_t alpha;        /* the participant that set is_alpha_present */
        size_t pad_width, pad_height, pad_beyond;
};

/*
 * One (pixel_format, modifier) entry of image format constraints after defaults (§1): every field holds its
 * effective value. The required_max_size_list comes last so that copies can stop after its used part.
 */
struct core_ifc {
        uint32_t pixel_format;
        uint64_t pixel_format_modifier;
        uint32_t color_spaces; /* CORE_CS_* mask */
        struct sysmem_size min_size;
        struct sysmem_size max_size;
        uint32_t min_bytes_per_row;
        uint32_t max_bytes_per_row;
        uint64_t max_width_times_height;
        struct sysmem_size size_alignment;
        struct sysmem_size display_rect_alignment;
        struct sysmem_size required_min_size;
        struct sysmem_size required_max_size;
        uint32_t bytes_per_row_divisor;
        uint32_t start_offset_divisor;
        bool require_bytes_per_row_at_pixel_boundary;
        enum sysmem_tristate is_alpha_present;
        struct sysmem_size pad_for_block_size;
        uint64_t pad_beyond_image_size_bytes;
        /* A specific pair sysmem's image-format library cannot lay out: only a heap whose device lays it out
         * can allocate it (core_heap.lays_out); set by every check of the entry. */
        bool device_only;
        uint32_t input_index; /* image_format_constraints[input_index] of the participant that sanitized it */
        struct core_ifc_from from;
        uint32_t required_max_size_count; /* no entry is <= another in both dimensions */
        struct sysmem_size required_max_size_list[SYSMEM_MAX_REQUIRED_MAX_SIZES];
};

/* Bounded scratch for image formats: four lists of CORE_MAX_IFC_ENTRIES, one allocation per negotiation. */
#define CORE_WORK_LISTS 4
struct core_work {
        struct core_ifc *list[CORE_WORK_LISTS];
};

/*
 * One participant's constraints after defaults and validation (sysmem-aggregation.md §1, §2): every field
 * holds its effective value, so accumulation never has to ask "was this set?".
 */
struct core_constraints {
        struct sysmem_usage usage;
        uint32_t min_buffer_count_for_camping;
        uint32_t min_buffer_count_for_dedicated_slack;
        uint32_t min_buffer_count_for_shared_slack;
        uint32_t min_buffer_count;
        uint32_t max_buffer_count; /* UINT32_MAX when unset */
        uint64_t min_size_bytes;
        uint64_t max_size_bytes; /* UINT64_MAX when unset */
        bool physically_contiguous_required;
        bool secure_required;
        bool cpu_domain_supported;
        bool ram_domain_supported;
        bool inaccessible_domain_supported;
        /* 0: any heap. Pointers into the participant's own list, which outlives core_aggregate(). */
        uint32_t permitted_heap_count;
        const struct sysmem_heap *permitted_heaps[SYSMEM_MAX_PERMITTED_HEAPS];
        /* The §3 precondition, from the raw values: min_size_bytes, or an image size in both dimensions. */
        bool implies_size;
        /* The flattened image formats, one per (pixel_format, modifier), in the order given. */
        struct core_ifc *ifcs;
        uint32_t ifc_count;
        /*
         * Some entry is a pair only a device lays out, named by the participant itself (not made by fan-out).
         * Fuchsia fails such a participant; while nobody did, a device-only entry of the aggregate came from
         * fan-out alone, which Fuchsia drops silently, so it must not change Fuchsia's outcome.
         */
        bool names_device_pair;
};

/* "Nobody has changed this from its default yet": the value of a *_from field before any participant did. */
#define CORE_NOBODY SIZE_MAX

/*
 * The running aggregate (§3) plus, for every value that can bind, the index of the participant that
 * supplied it, so that a failure can name who conflicts with whom.
 */
struct core_accumulator {
        struct core_constraints c;
        bool implies_size; /* some participant implied a non-zero size (§3 precondition) */
        size_t shared_slack_from;
        size_t min_buffer_count_from;
        size_t max_buffer_count_from;
        size_t min_size_from;
        size_t max_size_from;
        size_t contiguous_from; /* first participant that required it */
        size_t secure_from;
        size_t cpu_domain_off_from; /* first participant that did not support the domain */
        size_t ram_domain_off_from;
        size_t inaccessible_domain_off_from;
        size_t heaps_from;           /* first participant that restricted permitted_heaps */
        size_t heaps_restrict_count; /* how many participants restricted it */
        /* Image formats: c.ifcs and c.ifc_count hold the aggregated list, in one of work's lists. */
        struct core_work *work;       /* NULL when no participant has image format constraints */
        size_t ifc_participant_count; /* participants whose image formats were folded in */
        size_t ifc_first_from;        /* the first and the latest of them */
        size_t ifc_last_from;
        bool device_pair_named; /* some participant's names_device_pair */
};

/*
 * Sanitizes participant `index` into *ret (written only on success); its image formats go to ifc_out (room for
 * CORE_MAX_IFC_ENTRIES; may be NULL when it has none). Fills *failure and returns -EINVAL otherwise.
 */
int core_sanitize(const struct core_participant *participants, size_t index, const struct core_limits *limits,
                  struct core_ifc *ifc_out, struct core_constraints *ret, struct core_failure *failure);

/* The image-format part of core_sanitize() (§1, §2): flatten, default, adjust, check; *ret_count entries. */
int core_sanitize_ifcs(const struct core_participant *participants, size_t index, const struct core_limits *limits,
                       struct core_ifc *out, uint32_t *ret_count, struct core_failure *failure);

/* Folds participant `index`'s image formats into the aggregate (§3, §3.1). */
int core_accumulate_ifcs(struct core_accumulator *acc, const struct core_participant *participants, size_t index,
                         const struct core_constraints *c, struct core_failure *failure);

/* After the last participant (§3 notes, §3.1, §3.2, kAggregated): required sizes, DO_NOT_CARE, colour, checks. */
int core_finish_ifcs(struct core_accumulator *acc, const struct core_participant *participants,
                     size_t participant_count, const struct core_limits *limits, struct core_failure *failure);

/* Generates the settings (§4) from a checked aggregate; *ret written only on success. */
int core_generate_settings(const struct core_accumulator *acc, const struct core_participant *participants,
                           size_t participant_count, const struct core_config *config, struct core_result *ret,
                           struct core_failure *failure);

/* ---- image-format helpers shared by the stages ---- */

/* The kAggregated stage for one entry: the format adjustments and roundings again, then the range checks. */
int core_ifc_recheck(struct core_ifc *e, const struct core_participant *participants, size_t participant_count,
                     const struct core_limits *limits, struct core_failure *failure);
/* The entry as the settings type (color_space as given), e.g. for image_format_minimum_row_bytes(). */
void core_ifc_to_settings(const struct core_ifc *e, uint32_t color_space, struct sysmem_image_format_settings *ret);

/* Copies an entry, but only the used part of its required_max_size_list. */
void core_ifc_copy(struct core_ifc *dst, const struct core_ifc *src);
/*
 * Whether two (format, modifier) keys combine (§3.1): each field equal or one side DO_NOT_CARE, and the result
 * still partly DO_NOT_CARE or supported. The combined key goes to *ret_format and *ret_modifier.
 */
bool core_keys_combinable(uint32_t format_a, uint64_t modifier_a, uint32_t format_b, uint64_t modifier_b,
                          uint32_t *ret_format, uint64_t *ret_modifier);
/* The colour spaces (CORE_CS_KNOWN bits) a specific pixel format supports. */
uint32_t core_color_spaces_supported(uint32_t pixel_format);
/*
 * Merges size list b into a (a's capacity is SYSMEM_MAX_REQUIRED_MAX_SIZES), dropping sizes <= another in both
 * dimensions. false if more than SYSMEM_MAX_REQUIRED_MAX_SIZES remain (a is then unchanged).
 */
bool core_size_list_merge(struct sysmem_size *a, uint32_t *a_count, const struct sysmem_size *b, uint32_t b_count);
/* lcm(a, b) of two non-zero values; false when it does not fit a uint32. */
bool core_lcm32(uint32_t a, uint32_t b, uint32_t *ret);
/* The first participant whose own image_format_constraints name this required size (list or required_max_size). */
size_t core_find_required_size_owner(const struct core_participant *participants, size_t participant_count,
                                     struct sysmem_size size);

bool core_usage_has_real_bit(const struct sysmem_usage *usage);
bool core_heap_equal(const struct sysmem_heap *a, const struct sysmem_heap *b);

/* ---- explanations ---- */

/* How a participant is named in messages: its debug name in quotes, or "participant #<index>". */
#define CORE_LABEL_SIZE 80u
struct core_label {
        char text[CORE_LABEL_SIZE];
};
struct core_label core_label(const struct core_participant *participants, size_t index);

/* A bounded string builder: appends until full, then ends the text with "..." so a cut is visible. */
struct core_text {
        char *buf;
        size_t size;
        size_t len;
};
void core_text_init(struct core_text *t, char *buf, size_t size);
void core_text_appendf(struct core_text *t, const char *fmt, ...) _printf_(2, 3);
void core_text_vappendf(struct core_text *t, const char *fmt, va_list ap) _printf_(2, 0);

/* Fills *failure with CONSTRAINTS_INTERSECTION_EMPTY and the formatted message; returns -EINVAL for `return`. */
int core_fail(struct core_failure *failure, const char *fmt, ...) _printf_(2, 3);
/* core_fail() for one participant's own constraints: the message starts with its label. */
int core_fail_participant(struct core_failure *failure, const struct core_participant *participants, size_t index,
                          const char *fmt, ...) _printf_(4, 5);
/* Starts a CONSTRAINTS_INTERSECTION_EMPTY failure whose message the caller builds with core_text_appendf(). */
void core_fail_begin(struct core_failure *failure, struct core_text *t);

/* " (from 'x')", or "" for CORE_NOBODY: for values that may be defaults. */
struct core_label core_from(const struct core_participant *participants, size_t index);
/* "(NV12, LINEAR)" */
void core_append_key(struct core_text *t, uint32_t pixel_format, uint64_t modifier);
/* "{REC709, REC601_PAL}" or "{DO_NOT_CARE}" */
void core_append_color_spaces(struct core_text *t, uint32_t mask);
/* "{NV12, YUYV}" (pairs false: distinct formats) or "{(NV12, LINEAR), ...}" (pairs true), in list order. */
void core_append_ifc_keys(struct core_text *t, const struct core_ifc *list, uint32_t count, bool pairs);

#endif
