/* image-format.h: the image-format library: supported DRM formats and modifiers, colour spaces, layout arithmetic. Pure. */
#ifndef SYSMEM_IMAGE_FORMAT_H
#define SYSMEM_IMAGE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include <sysmem/sysmem-types.h>

/* Per-format constants (sysmem-aggregation.md §7, keyed by DRM fourcc instead of images2 enums). */
struct image_format_info {
        uint32_t fourcc;
        const char *name;                       /* e.g. "NV12" */
        uint32_t stride_bytes_per_width_pixel;  /* plane 0 bytes per pixel of width */
        uint32_t bits_per_pixel;                /* average over all planes (NV12: 12) */
        uint32_t width_min_divisor;             /* SurfaceWidthMinDivisor */
        uint32_t height_min_divisor;            /* SurfaceHeightMinDivisor */
        uint32_t sample_alignment;              /* SampleAlignment */
        bool is_rgb;                            /* for colour-space compatibility */
        bool is_yuv;
        uint32_t bits_per_sample;               /* 8, 10, ... for colour-space compatibility */
        bool has_alpha_or_x;                    /* keeps is_alpha_present in the result */
};

/* NULL for a fourcc the library does not know. */
const struct image_format_info *image_format_lookup(uint32_t fourcc);
/* Every known format, for iteration (tests, docs, sysmemctl). */
const struct image_format_info *image_format_all(uint32_t *ret_count);

/* ImageFormatIsSupported: whether sysmem can lay out (fourcc, modifier). */
bool image_format_is_supported(uint32_t fourcc, uint64_t modifier);
/* ImageFormatIsNonTiledSinglePlane (gates pad_for_block_size). */
bool image_format_is_non_tiled_single_plane(uint32_t fourcc, uint64_t modifier);
/* Colour-space compatibility (§6): PASSTHROUGH always; else the class (RGB/YUV) and bit depth match. */
bool image_format_color_space_supported(uint32_t fourcc, uint32_t color_space);
/* Rank for colour-space choice (§3.2): lower is better; UINT32_MAX for unknown. */
uint32_t image_format_color_space_rank(uint32_t color_space);
/* Whether an allocation with secure_required may use this modifier (§4.6). */
bool image_format_modifier_secure_compatible(uint64_t modifier);

/*
 * MinimumRowBytes(c, width): the smallest bytes_per_row for an image of this width under c (which
 * must name a specific format and modifier). false when width is outside [min_size.width,
 * max_size.width] or the result exceeds max_bytes_per_row or overflows.
 */
bool image_format_minimum_row_bytes(const struct sysmem_image_format_settings *c, uint32_t width,
                                    uint32_t *ret_bytes_per_row);

/*
 * ImageFormatImageSize: bytes an image of this size and plane-0 stride takes, for (fourcc,
 * modifier). false for an unsupported pair or on overflow.
 */
bool image_format_image_size(uint32_t fourcc, uint64_t modifier, struct sysmem_size size, uint32_t bytes_per_row,
                             uint64_t *ret_size);

/* Every plane's offset, stride and size (plane 3 is CCS / AFBC TE where those exist). */
bool image_format_plane_layout(uint32_t fourcc, uint64_t modifier, struct sysmem_size size, uint32_t bytes_per_row,
                               struct sysmem_plane_layout *ret_layout);

#endif
