/* names.c: name tables for pixel formats, modifiers, colour spaces and usage bits, and their parsers/printers. */
#include "names.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <drm_fourcc.h>

#include "common/macros.h"
#include "image-format.h"

const struct core_name core_color_space_names[] = {
        {"INVALID", SYSMEM_COLOR_SPACE_INVALID},
        {"SRGB", SYSMEM_COLOR_SPACE_SRGB},
        {"REC601_NTSC", SYSMEM_COLOR_SPACE_REC601_NTSC},
        {"REC601_NTSC_FULL_RANGE", SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE},
        {"REC601_PAL", SYSMEM_COLOR_SPACE_REC601_PAL},
        {"REC601_PAL_FULL_RANGE", SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE},
        {"REC709", SYSMEM_COLOR_SPACE_REC709},
        {"REC2020", SYSMEM_COLOR_SPACE_REC2020},
        {"REC2100", SYSMEM_COLOR_SPACE_REC2100},
        {"PASSTHROUGH", SYSMEM_COLOR_SPACE_PASSTHROUGH},
        {"DO_NOT_CARE", SYSMEM_COLOR_SPACE_DO_NOT_CARE},
        {NULL, 0},
};

#define AFBC_16x16 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16)
#define AFBC_32x8 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8)

const struct core_name core_modifier_names[] = {
        {"LINEAR", DRM_FORMAT_MOD_LINEAR},
        {"DO_NOT_CARE", SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE},
        {"INVALID", DRM_FORMAT_MOD_INVALID},
        {"I915_FORMAT_MOD_X_TILED", I915_FORMAT_MOD_X_TILED},
        {"I915_FORMAT_MOD_Y_TILED", I915_FORMAT_MOD_Y_TILED},
        {"I915_FORMAT_MOD_Yf_TILED", I915_FORMAT_MOD_Yf_TILED},
        {"I915_FORMAT_MOD_Y_TILED_CCS", I915_FORMAT_MOD_Y_TILED_CCS},
        {"I915_FORMAT_MOD_Yf_TILED_CCS", I915_FORMAT_MOD_Yf_TILED_CCS},
        {"ARM_AFBC_16x16", AFBC_16x16},
        {"ARM_AFBC_32x8", AFBC_32x8},
        {NULL, 0},
};

/* In the order core_modifier_format() writes them. */
const struct core_name core_afbc_flag_names[] = {
        {"SPLIT", AFBC_FORMAT_MOD_SPLIT}, {"SPARSE", AFBC_FORMAT_MOD_SPARSE}, {"YTR", AFBC_FORMAT_MOD_YTR},
        {"TILED", AFBC_FORMAT_MOD_TILED}, {"BCH", AFBC_FORMAT_MOD_BCH},       {NULL, 0},
};

static const struct core_name none_bits[] = {
        {"NONE_USAGE", SYSMEM_NONE_USAGE},
        {"NONE_USAGE_PERMIT_ALLOCATION", SYSMEM_NONE_USAGE_PERMIT_ALLOCATION},
        {NULL, 0},
};
static const struct core_name cpu_bits[] = {
        {"READ", SYSMEM_CPU_USAGE_READ},
        {"READ_OFTEN", SYSMEM_CPU_USAGE_READ_OFTEN},
        {"WRITE", SYSMEM_CPU_USAGE_WRITE},
        {"WRITE_OFTEN", SYSMEM_CPU_USAGE_WRITE_OFTEN},
        {NULL, 0},
};
static const struct core_name vulkan_bits[] = {
        {"IMAGE_TRANSFER_SRC", SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_SRC},
        {"IMAGE_TRANSFER_DST", SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST},
        {"IMAGE_SAMPLED", SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED},
        {"IMAGE_STORAGE", SYSMEM_VULKAN_IMAGE_USAGE_STORAGE},
        {"IMAGE_COLOR_ATTACHMENT", SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT},
        {"IMAGE_STENCIL_ATTACHMENT", SYSMEM_VULKAN_IMAGE_USAGE_STENCIL_ATTACHMENT},
        {"IMAGE_TRANSIENT_ATTACHMENT", SYSMEM_VULKAN_IMAGE_USAGE_TRANSIENT_ATTACHMENT},
        {"IMAGE_INPUT_ATTACHMENT", SYSMEM_VULKAN_IMAGE_USAGE_INPUT_ATTACHMENT},
        {"BUFFER_TRANSFER_SRC", SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_SRC},
        {"BUFFER_TRANSFER_DST", SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST},
        {"BUFFER_UNIFORM_TEXEL_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER},
        {"BUFFER_STORAGE_TEXEL_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_TEXEL_BUFFER},
        {"BUFFER_UNIFORM_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_BUFFER},
        {"BUFFER_STORAGE_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER},
        {"BUFFER_INDEX_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_INDEX_BUFFER},
        {"BUFFER_VERTEX_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_VERTEX_BUFFER},
        {"BUFFER_INDIRECT_BUFFER", SYSMEM_VULKAN_BUFFER_USAGE_INDIRECT_BUFFER},
        {NULL, 0},
};
static const struct core_name display_bits[] = {
        {"LAYER", SYSMEM_DISPLAY_USAGE_LAYER},
        {"CURSOR", SYSMEM_DISPLAY_USAGE_CURSOR},
        {NULL, 0},
};
static const struct core_name video_bits[] = {
        {"HW_DECODER", SYSMEM_VIDEO_USAGE_HW_DECODER},
        {"HW_ENCODER", SYSMEM_VIDEO_USAGE_HW_ENCODER},
        {"CAPTURE", SYSMEM_VIDEO_USAGE_CAPTURE},
        {"DECRYPTOR_OUTPUT", SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT},
        {"HW_DECODER_INTERNAL", SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL},
        {NULL, 0},
};

const struct core_usage_field core_usage_fields[] = {
        {"none", offsetof(struct sysmem_usage, none), none_bits},
        {"cpu", offsetof(struct sysmem_usage, cpu), cpu_bits},
        {"vulkan", offsetof(struct sysmem_usage, vulkan), vulkan_bits},
        {"display", offsetof(struct sysmem_usage, display), display_bits},
        {"video", offsetof(struct sysmem_usage, video), video_bits},
        {NULL, 0, NULL},
};

static bool span_equals(const char *s, size_t length, const char *name) {
        return strlen(name) == length && memcmp(s, name, length) == 0;
}

const struct core_usage_field *core_usage_field_by_name(const char *name, size_t length) {
        for (const struct core_usage_field *f = core_usage_fields; f->name; f++)
                if (span_equals(name, length, f->name))
                        return f;
        return NULL;
}

uint32_t *core_usage_field_ptr(struct sysmem_usage *usage, const struct core_usage_field *field) {
        return (uint32_t *)(void *)((char *)usage + field->offset);
}

bool core_name_lookup(const struct core_name *table, const char *name, size_t length, uint64_t *ret) {
        for (const struct core_name *n = table; n->name; n++)
                if (span_equals(name, length, n->name)) {
                        *ret = n->value;
                        return true;
                }
        return false;
}

const char *core_name_of(const struct core_name *table, uint64_t value) {
        for (const struct core_name *n = table; n->name; n++)
                if (n->value == value)
                        return n->name;
        return NULL;
}

const char *core_pixel_format_name(uint32_t pixel_format) {
        if (pixel_format == SYSMEM_PIXEL_FORMAT_DO_NOT_CARE)
                return "DO_NOT_CARE";
        const struct image_format_info *f = image_format_lookup(pixel_format);
        return f ? f->name : NULL;
}

bool core_pixel_format_from_name(const char *name, size_t length, uint32_t *ret) {
        if (span_equals(name, length, "DO_NOT_CARE")) {
                *ret = SYSMEM_PIXEL_FORMAT_DO_NOT_CARE;
                return true;
        }
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        for (uint32_t i = 0; i < n; i++)
                if (span_equals(name, length, all[i].name)) {
                        *ret = all[i].fourcc;
                        return true;
                }
        return false;
}

const char *core_pixel_format_format(uint32_t pixel_format, char *buf, size_t size) {
        const char *name = core_pixel_format_name(pixel_format);
        if (name)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "0x%08" PRIx32, pixel_format);
        return buf;
}

const char *core_color_space_name(uint32_t color_space) { return core_name_of(core_color_space_names, color_space); }

/* The bits DRM_FORMAT_MOD_ARM_CODE leaves to the AFBC mode (below the 4-bit ARM type at bit 52). */
#define AFBC_MODE_MASK 0x000fffffffffffffull

static uint64_t afbc_known_flags(void) {
        uint64_t all = 0;
        for (const struct core_name *f = core_afbc_flag_names; f->name; f++)
                all |= f->value;
        return all;
}

const char *core_modifier_format(uint64_t modifier, char *buf, size_t size) {
        const char *name = core_name_of(core_modifier_names, modifier);
        if (name) {
                snprintf(buf, size, "%s", name);
                return buf;
        }
        /* AFBC with flags: only when every bit has a name, so that the text parses back to the same value. */
        uint64_t mode = modifier & AFBC_MODE_MASK, block = mode & AFBC_FORMAT_MOD_BLOCK_SIZE_MASK;
        if ((modifier & ~AFBC_MODE_MASK) == DRM_FORMAT_MOD_ARM_AFBC(0) &&
            (block == AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 || block == AFBC_FORMAT_MOD_BLOCK_SIZE_32x8) &&
            (mode & ~(AFBC_FORMAT_MOD_BLOCK_SIZE_MASK | afbc_known_flags())) == 0) {
                int n = snprintf(buf, size, "%s", core_name_of(core_modifier_names, DRM_FORMAT_MOD_ARM_AFBC(block)));
                for (const struct core_name *f = core_afbc_flag_names; f->name && n >= 0 && (size_t)n < size; f++)
                        if (mode & f->value)
                                n += snprintf(buf + n, size - (size_t)n, "|%s", f->name);
                return buf;
        }
        snprintf(buf, size, "0x%016" PRIx64, modifier);
        return buf;
}

/* Whole-token only and without errno or locale, so that it stays pure. */
bool core_parse_u64(const char *s, size_t length, uint64_t *ret) {
        unsigned base = 10;
        size_t i = 0;
        if (length >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                i = 2;
        } else if (length >= 2 && s[0] == '0') {
                base = 8;
                i = 1;
        }
        if (i == length)
                return false;
        uint64_t v = 0;
        for (; i < length; i++) {
                char c = s[i];
                unsigned d;
                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return false;
                if (d >= base || __builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
                        return false;
        }
        *ret = v;
        return true;
}

enum core_modifier_parse core_modifier_from_name(const char *name, size_t length, uint64_t *ret, size_t *ret_bad_offset,
                                                 size_t *ret_bad_length) {
        if (core_name_lookup(core_modifier_names, name, length, ret))
                return CORE_MODIFIER_OK;
        const char *bar = memchr(name, '|', length);
        if (bar && length >= 9 && memcmp(name, "ARM_AFBC_", 9) == 0) {
                uint64_t m;
                size_t base_len = (size_t)(bar - name);
                if (!core_name_lookup(core_modifier_names, name, base_len, &m))
                        return CORE_MODIFIER_UNKNOWN_NAME;
                size_t pos = base_len;
                while (pos < length) {
                        size_t start = pos + 1, end = start;
                        while (end < length && name[end] != '|')
                                end++;
                        uint64_t flag;
                        if (!core_name_lookup(core_afbc_flag_names, name + start, end - start, &flag)) {
                                if (ret_bad_offset)
                                        *ret_bad_offset = start;
                                if (ret_bad_length)
                                        *ret_bad_length = end - start;
                                return CORE_MODIFIER_UNKNOWN_FLAG;
                        }
                        m |= flag;
                        pos = end;
                }
                *ret = m;
                return CORE_MODIFIER_OK;
        }
        if (length > 0 && name[0] >= '0' && name[0] <= '9')
                return core_parse_u64(name, length, ret) ? CORE_MODIFIER_OK : CORE_MODIFIER_BAD_NUMBER;
        return CORE_MODIFIER_UNKNOWN_NAME;
}
