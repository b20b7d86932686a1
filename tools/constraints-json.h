/* constraints-json.h: reads one participant's constraints from JSON (field names as in the C API), strictly. */
#ifndef SYSMEM_CONSTRAINTS_JSON_H
#define SYSMEM_CONSTRAINTS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <sysmem/sysmem-types.h>

/* A parsed participant; owns every array its constraints point to. */
struct json_participant {
        char debug_name[SYSMEM_MAX_CLIENT_NAME_LENGTH + 1];
        bool has_constraints; /* false: the file was `null` (a participant without constraints) */
        struct sysmem_constraints constraints;
        struct sysmem_heap heaps[SYSMEM_MAX_PERMITTED_HEAPS];
        struct sysmem_image_format_constraints ifcs[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS];
        struct sysmem_pixel_format_and_modifier pairs[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS][SYSMEM_MAX_FORMAT_PAIRS];
        uint32_t color_spaces[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS][SYSMEM_MAX_COLOR_SPACES];
        struct sysmem_size required_max_sizes[SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS][SYSMEM_MAX_REQUIRED_MAX_SIZES];
};

/*
 * Parses text (from the file named `source`, used in messages). On failure returns -EINVAL and writes
 * into err a message naming the file, the place (JSON path, or line:column for syntax errors) and the
 * field. default_name is used when the JSON gives no "debug_name".
 */
int json_participant_parse(const char *source, const char *text, size_t len, const char *default_name,
                           struct json_participant *ret, char *err, size_t err_size);

#endif
