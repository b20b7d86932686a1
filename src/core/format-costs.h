/* format-costs.h: the built-in format cost table and the parser for cost-table files (sysmemd --format-costs). */
#ifndef SYSMEM_CORE_FORMAT_COSTS_H
#define SYSMEM_CORE_FORMAT_COSTS_H

#include <stddef.h>

#include "core.h"

/* Intel tiling, ARM AFBC and NV12 video decoding preferences (docs/constraints.md; data/format-costs.txt). */
extern const struct core_format_cost core_default_format_costs[];
extern const size_t core_default_format_cost_count;

/*
 * Parses a cost table: one entry per line, `PIXEL_FORMAT MODIFIER USAGE COST`, separated by blanks; '#' starts
 * a comment; blank lines are skipped.
 *   PIXEL_FORMAT  a name from image_format_all() ("NV12", "ARGB8888") or a fourcc number ("0x3231564e")
 *   MODIFIER      "LINEAR", "I915_FORMAT_MOD_Y_TILED_CCS", "ARM_AFBC_16x16|SPARSE|YTR", or a number
 *   USAGE         "-" (none needed) or field:BIT items joined by ',' ("video:HW_DECODER,cpu:READ"); BIT is a name
 *                 as in sysmem-types.h without the prefix (vulkan: IMAGE_SAMPLED, BUFFER_STORAGE_BUFFER) or a number
 *   COST          a finite, non-negative decimal number; lower is preferred
 * Fills entries[0..*ret_count) in file order. At most one entry per line, so a capacity of the number of
 * newlines plus one always suffices. Returns 0, -EINVAL with a message naming the line and the token, or -E2BIG
 * when entries run out. Pure: no I/O, no allocation.
 */
int core_format_costs_parse(const char *text, size_t length, struct core_format_cost *entries, size_t capacity,
                            size_t *ret_count, char *error, size_t error_size);

#endif
