/* names.h: the names of pixel formats, modifiers, colour spaces and usage bits, both ways; shared by core and tools. */
#ifndef SYSMEM_CORE_NAMES_H
#define SYSMEM_CORE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sysmem/sysmem-types.h>

/* One named value; tables end with {NULL, 0}. */
struct core_name {
        const char *name;
        uint64_t value;
};

/* Colour spaces by their fuchsia.images2 names ("SRGB", "REC709", ..., "DO_NOT_CARE"). */
extern const struct core_name core_color_space_names[];
/* Modifiers with a name of their own ("LINEAR", "I915_FORMAT_MOD_Y_TILED", "ARM_AFBC_16x16", ...). */
extern const struct core_name core_modifier_names[];
/* The AFBC flags that may follow an ARM_AFBC_* name after '|' ("YTR", "SPLIT", "SPARSE", "TILED", "BCH"). */
extern const struct core_name core_afbc_flag_names[];

/* A usage field ("none", "cpu", "vulkan", "display", "video") and the names of its bits. */
struct core_usage_field {
        const char *name;
        size_t offset; /* of the uint32_t in struct sysmem_usage */
        const struct core_name *bits;
};
extern const struct core_usage_field core_usage_fields[]; /* ends with {NULL, 0, NULL} */
const struct core_usage_field *core_usage_field_by_name(const char *name, size_t length);
uint32_t *core_usage_field_ptr(struct sysmem_usage *usage, const struct core_usage_field *field);

/* Looks name (length bytes, no NUL needed) up in a table; false when it is not there. */
bool core_name_lookup(const struct core_name *table, const char *name, size_t length, uint64_t *ret);
/* The name of value in table, or NULL. */
const char *core_name_of(const struct core_name *table, uint64_t value);

/* An unsigned 64-bit number, decimal, 0x hex or 0 octal (as strtoull base 0), filling all length bytes. */
bool core_parse_u64(const char *s, size_t length, uint64_t *ret);

/* A pixel format's name (image_format_all()'s names, and "DO_NOT_CARE"), or NULL when it has none. */
const char *core_pixel_format_name(uint32_t pixel_format);
bool core_pixel_format_from_name(const char *name, size_t length, uint32_t *ret);
/* The name, or "0x%08x" for a fourcc without one; returns buf. */
const char *core_pixel_format_format(uint32_t pixel_format, char *buf, size_t size);

const char *core_color_space_name(uint32_t color_space);

/* "LINEAR", "I915_FORMAT_MOD_X_TILED", "ARM_AFBC_16x16|SPARSE|YTR", else "0x%016" PRIx64; returns buf. */
#define CORE_MODIFIER_NAME_SIZE 96u
const char *core_modifier_format(uint64_t modifier, char *buf, size_t size);

enum core_modifier_parse {
        CORE_MODIFIER_OK = 0,
        CORE_MODIFIER_UNKNOWN_NAME = -1, /* neither a name, nor ARM_AFBC_*|FLAGS, nor a number */
        CORE_MODIFIER_UNKNOWN_FLAG = -2, /* ARM_AFBC_*|...: a flag is not one of core_afbc_flag_names */
        CORE_MODIFIER_BAD_NUMBER = -3,   /* starts with a digit but is not a whole unsigned 64-bit number */
};
/*
 * Parses what core_modifier_format() writes: a name from core_modifier_names, an ARM_AFBC_16x16 / ARM_AFBC_32x8
 * name followed by '|FLAG' parts, or a number (decimal, 0x hex or 0 octal). On CORE_MODIFIER_UNKNOWN_FLAG,
 * *ret_bad_offset and *ret_bad_length (may be NULL) give the offending flag within name.
 */
enum core_modifier_parse core_modifier_from_name(const char *name, size_t length, uint64_t *ret, size_t *ret_bad_offset,
                                                 size_t *ret_bad_length);

#endif
