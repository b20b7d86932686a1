/* devices-internal.h: the object behind struct sysmem_device_constraints and the helpers its builders share. */
#ifndef SYSMEM_DEVICES_INTERNAL_H
#define SYSMEM_DEVICES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sysmem/sysmem-devices.h>

#include "common/macros.h"

/* Colour spaces one entry can name: every one the core knows besides INVALID and DO_NOT_CARE. */
#define DEV_MAX_ENTRY_COLOR_SPACES 9u
/* The most (format, modifier) pairs one object can hold: every entry full. */
#define DEV_MAX_PAIRS (SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS * SYSMEM_MAX_FORMAT_PAIRS)

struct sysmem_device_constraints {
        struct sysmem_constraints c; /* every array below is what its pointers point at */
        struct sysmem_image_format_constraints ifc[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS];
        struct sysmem_pixel_format_and_modifier pairs[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS][SYSMEM_MAX_FORMAT_PAIRS];
        uint32_t color_spaces[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS][DEV_MAX_ENTRY_COLOR_SPACES];
        struct sysmem_heap heaps[SYSMEM_MAX_PERMITTED_HEAPS];
        char *explain; /* NUL-terminated, lines ending in '\n'; never NULL */
        size_t explain_len;
        size_t explain_cap;
        bool oom; /* an explain line could not be stored: the builder returns -ENOMEM */
};

/* A new, empty object (no entries, no heaps, explain ""); NULL when out of memory. */
struct sysmem_device_constraints *dev_new(void);
/* Appends one line (printf format, no trailing newline) to the explanation. */
void dev_explain(struct sysmem_device_constraints *dc, const char *fmt, ...) _printf_(2, 3);

/* A (format, modifier) list grouped by format: every pair of one pixel format is contiguous. */
struct dev_pair_list {
        struct sysmem_pixel_format_and_modifier *pairs;
        size_t count;
};
/*
 * Adds one image-format entry per pixel format of list (split where a format has more than
 * SYSMEM_MAX_FORMAT_PAIRS modifiers; packed by colour-space class when that takes more than
 * SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS entries), each with the colour spaces the core accepts for its
 * format, and one explain line per format. -EINVAL when even packed they do not fit.
 */
int dev_add_pairs(struct sysmem_device_constraints *dc, const struct dev_pair_list *list);
/* The colour spaces the core accepts with fourcc (PASSTHROUGH alone for a format it does not know). */
uint32_t dev_color_spaces_for(uint32_t fourcc, uint32_t *out, uint32_t cap);
/* Sets entry's colour spaces from list (copied into the object). */
void dev_set_color_spaces(struct sysmem_device_constraints *dc, uint32_t entry, const uint32_t *cs, uint32_t n);

/* The IN_FORMATS parser (sysmem_device_constraints_from_in_formats()) into an existing object. */
int dev_from_in_formats(struct sysmem_device_constraints *dc, const void *blob, size_t size);

/* "NAME" or the hex value, into buf (for explain lines). */
const char *dev_format_name(uint32_t fourcc, char *buf, size_t size);
const char *dev_modifier_name(uint64_t modifier, char *buf, size_t size);

/* Adds a heap to permitted_heaps (deduplicated); false when the list is full. */
bool dev_permit_heap(struct sysmem_device_constraints *dc, const char *heap_type, uint64_t id);
/* The daemon's heaps: 0 and *ret_count, or -errno (explained). */
int dev_get_heaps(struct sysmem_device_constraints *dc, struct sysmem_allocator *allocator,
                  struct sysmem_heap_info *heaps, size_t *ret_count);
/* Permits every daemon heap with SYSMEM_HEAP_FLAG_DMA_BUF (explained); -errno from the daemon. */
int dev_permit_dma_buf_heaps(struct sysmem_device_constraints *dc, struct sysmem_allocator *allocator,
                             const char *who);

#endif
