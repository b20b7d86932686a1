/* image-format.c: DRM format/modifier tables, colour-space rules and Fuchsia layout arithmetic (aggregation §6-7). */
#include "image-format.h"

#include <drm_fourcc.h>

#include "common/macros.h"

/*
 * Per-format constants are Fuchsia's (aggregation §7 table), keyed by the DRM fourcc that names the same memory
 * layout on a little-endian machine (DRM names the packed word: ARGB8888 is bytes B,G,R,A, i.e. B8G8R8A8).
 * bits_per_sample/is_rgb/is_yuv are Fuchsia's colour-space classes (§6), not the real sample depth.
 */
static const struct image_format_info formats[] = {
        /* name, stride B/px, bits/px, w div, h div, sample align, rgb, yuv, bits/sample, alpha-or-x */
        {DRM_FORMAT_ARGB8888, "ARGB8888", 4, 32, 1, 1, 4, true, false, 8, true}, /* B8G8R8A8 */
        {DRM_FORMAT_XRGB8888, "XRGB8888", 4, 32, 1, 1, 4, true, false, 8, true}, /* B8G8R8X8 */
        {DRM_FORMAT_ABGR8888, "ABGR8888", 4, 32, 1, 1, 4, true, false, 8, true}, /* R8G8B8A8 */
        {DRM_FORMAT_XBGR8888, "XBGR8888", 4, 32, 1, 1, 4, true, false, 8, true}, /* R8G8B8X8 */
        {DRM_FORMAT_RGB888, "RGB888", 3, 24, 1, 1, 1, true, false, 8, false},    /* B8G8R8: bytes B,G,R */
        {DRM_FORMAT_BGR888, "BGR888", 3, 24, 1, 1, 1, true, false, 8, false},    /* R8G8B8 */
        {DRM_FORMAT_RGB565, "RGB565", 2, 16, 1, 1, 2, true, false, 8, false},    /* R5G6B5 */
        {DRM_FORMAT_RGB332, "RGB332", 1, 8, 1, 1, 1, true, false, 8, false},     /* R3G3B2 */
        /* Fuchsia's R8 (and L8) is 8-bit and counts as both RGB and YUV, so a grey plane can carry luma. */
        {DRM_FORMAT_R8, "R8", 1, 8, 1, 1, 1, true, true, 8, false},
        {DRM_FORMAT_GR88, "GR88", 2, 16, 1, 1, 2, true, false, 8, false}, /* R8G8: bytes R,G */
        /*
         * Fuchsia lists A2R10G10B10/A2B10G10R10 as 8-bit RGB in its colour table (so they take SRGB, as 10-bit
         * RGB would too); we keep that rule so the same constraints negotiate the same way. The X variants have
         * no Fuchsia twin; they follow their A siblings.
         */
        {DRM_FORMAT_ARGB2101010, "ARGB2101010", 4, 32, 1, 1, 4, true, false, 8, true}, /* A2R10G10B10 */
        {DRM_FORMAT_ABGR2101010, "ABGR2101010", 4, 32, 1, 1, 4, true, false, 8, true}, /* A2B10G10R10 */
        {DRM_FORMAT_XRGB2101010, "XRGB2101010", 4, 32, 1, 1, 4, true, false, 8, true},
        {DRM_FORMAT_XBGR2101010, "XBGR2101010", 4, 32, 1, 1, 4, true, false, 8, true},
        {DRM_FORMAT_NV12, "NV12", 1, 12, 2, 2, 2, false, true, 8, false},
        {DRM_FORMAT_NV21, "NV21", 1, 12, 2, 2, 2, false, true, 8, false},     /* NV12 with V,U order: same layout */
        {DRM_FORMAT_YUV420, "YUV420", 1, 12, 2, 2, 2, false, true, 8, false}, /* I420 */
        {DRM_FORMAT_YVU420, "YVU420", 1, 12, 2, 2, 2, false, true, 8, false}, /* YV12: plane 1 is V */
        /* 15 bits per pixel is Fuchsia's figure (the real average is 24); only cost heuristics read it. */
        {DRM_FORMAT_P010, "P010", 2, 15, 2, 2, 4, false, true, 10, false},
        /* Fuchsia gives YUY2 a height divisor of 2 although 4:2:2 is not subsampled vertically; kept. */
        {DRM_FORMAT_YUYV, "YUYV", 2, 16, 2, 2, 2, false, true, 8, false}, /* YUY2 */
};

enum linear_kind {
        LINEAR_ONE_PLANE,   /* h × bpr */
        LINEAR_SEMI_PLANAR, /* NV12, NV21, P010: Y, then interleaved chroma at half height, same stride */
        LINEAR_PLANAR_420,  /* YUV420, YVU420: Y, then two chroma planes at half height and half stride */
};

static enum linear_kind linear_kind_of(uint32_t fourcc) {
        switch (fourcc) {
        case DRM_FORMAT_NV12:
        case DRM_FORMAT_NV21:
        case DRM_FORMAT_P010:
                return LINEAR_SEMI_PLANAR;
        case DRM_FORMAT_YUV420:
        case DRM_FORMAT_YVU420:
                return LINEAR_PLANAR_420;
        default:
                return LINEAR_ONE_PLANE;
        }
}

/* ---- checked arithmetic: every helper returns false on overflow ---- */

static bool mul64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static bool add64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static bool mul32(uint32_t a, uint32_t b, uint32_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* a must be non-zero. */
static bool round_up64(uint64_t v, uint64_t a, uint64_t *r) {
        uint64_t rem = v % a;
        if (rem == 0) {
                *r = v;
                return true;
        }
        return add64(v, a - rem, r);
}

static bool round_up32(uint32_t v, uint32_t a, uint32_t *r) {
        uint32_t rem = v % a;
        if (rem == 0) {
                *r = v;
                return true;
        }
        return !__builtin_add_overflow(v, a - rem, r);
}

/* ceil(v / d) without forming v + d - 1, which could overflow. */
static uint64_t div_ceil64(uint64_t v, uint64_t d) { return v / d + (v % d != 0); }

/* ---- lookup ---- */

const struct image_format_info *image_format_lookup(uint32_t fourcc) {
        for (size_t i = 0; i < ARRAY_LEN(formats); i++)
                if (formats[i].fourcc == fourcc)
                        return &formats[i];
        return NULL;
}

const struct image_format_info *image_format_all(uint32_t *ret_count) {
        if (ret_count)
                *ret_count = (uint32_t)ARRAY_LEN(formats);
        return formats;
}

/* ---- modifier families ---- */

static bool is_rgb8888(uint32_t fourcc) {
        return fourcc == DRM_FORMAT_ARGB8888 || fourcc == DRM_FORMAT_XRGB8888 || fourcc == DRM_FORMAT_ABGR8888 ||
               fourcc == DRM_FORMAT_XBGR8888;
}

struct intel_tiling {
        uint32_t tile_rows;
        uint32_t tile_row_bytes;
        bool ccs;
};

#define INTEL_TILE_BYTES 4096u
/* The CCS is Y-tiled; one CCS tile covers 32 main tiles across and 16 down (Fuchsia's kCcsTile*Ratio). */
#define INTEL_CCS_TILE_WIDTH_RATIO 32u
#define INTEL_CCS_TILE_HEIGHT_RATIO 16u
#define INTEL_CCS_TILE_ROW_BYTES 128u
/* Fixed plane index of the auxiliary surface (Intel CCS), leaving room for three data planes as Fuchsia does. */
#define AUX_PLANE 3u

/*
 * DRM spells the CCS variants as their own modifier codes where Fuchsia sets a bit (0x1000000) on the base
 * tiling; the layout is the same. Gen12 and Tile-4 modifiers have no Fuchsia rule and are not supported.
 */
static bool intel_tiling_of(uint32_t fourcc, uint64_t modifier, struct intel_tiling *ret) {
        if (!is_rgb8888(fourcc) && fourcc != DRM_FORMAT_NV12)
                return false;
        switch (modifier) {
        case I915_FORMAT_MOD_X_TILED:
                *ret = (struct intel_tiling){8, 512, false};
                return true;
        case I915_FORMAT_MOD_Y_TILED:
        case I915_FORMAT_MOD_Yf_TILED:
                *ret = (struct intel_tiling){32, 128, false};
                return true;
        case I915_FORMAT_MOD_Y_TILED_CCS:
        case I915_FORMAT_MOD_Yf_TILED_CCS:
                *ret = (struct intel_tiling){32, 128, true};
                return true;
        default:
                return false;
        }
}

struct afbc_geometry {
        uint32_t block_width;
        uint32_t block_height;
        uint32_t width_alignment;
        uint32_t height_alignment;
        uint32_t body_alignment;
};

/*
 * DRM's AFBC bits mostly share Fuchsia's values (YTR = Fuchsia's YUV bit 0x10, SPLIT 0x20, SPARSE 0x40, BCH 0x800)
 * but the tiled-header bit is AFBC_FORMAT_MOD_TILED (0x100) where Fuchsia uses 0x2000, and Fuchsia's TE bit
 * (0x1000) is DRM's USM. Transaction elimination has no DRM modifier, so neither TE nor ARM_LINEAR_TE exists here.
 * CBR, SC, DB and USM change what the buffer holds in ways the reference gives no size rule for, so they are
 * rejected; so are the 64x4 and 32x8_64x4 block sizes, for the same reason.
 */
#define AFBC_ALLOWED_FLAGS                                                                                             \
        (AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_TILED |                \
         AFBC_FORMAT_MOD_BCH)
/* The bits DRM_FORMAT_MOD_ARM_CODE leaves to the AFBC mode (below the 4-bit ARM type at bit 52). */
#define AFBC_MODE_MASK 0x000fffffffffffffull

static bool afbc_geometry_of(uint32_t fourcc, uint64_t modifier, struct afbc_geometry *ret) {
        if (!is_rgb8888(fourcc))
                return false;
        if ((modifier & ~AFBC_MODE_MASK) != DRM_FORMAT_MOD_ARM_AFBC(0))
                return false;
        uint64_t mode = modifier & AFBC_MODE_MASK;
        if (mode & ~(AFBC_FORMAT_MOD_BLOCK_SIZE_MASK | AFBC_ALLOWED_FLAGS))
                return false;
        bool tiled_header = mode & AFBC_FORMAT_MOD_TILED;
        switch (mode & AFBC_FORMAT_MOD_BLOCK_SIZE_MASK) {
        case AFBC_FORMAT_MOD_BLOCK_SIZE_16x16:
                *ret = (struct afbc_geometry){16, 16, tiled_header ? 128 : 16, tiled_header ? 128 : 16, 0};
                break;
        case AFBC_FORMAT_MOD_BLOCK_SIZE_32x8:
                *ret = (struct afbc_geometry){32, 8, tiled_header ? 256 : 32, tiled_header ? 64 : 8, 0};
                break;
        default:
                return false;
        }
        ret->body_alignment = tiled_header ? 4096 : 1024;
        return true;
}

/* ---- support and colour ---- */

bool image_format_is_supported(uint32_t fourcc, uint64_t modifier) {
        if (!image_format_lookup(fourcc))
                return false;
        if (modifier == DRM_FORMAT_MOD_LINEAR)
                return true;
        struct intel_tiling t;
        struct afbc_geometry g;
        return intel_tiling_of(fourcc, modifier, &t) || afbc_geometry_of(fourcc, modifier, &g);
}

bool image_format_is_non_tiled_single_plane(uint32_t fourcc, uint64_t modifier) {
        if (modifier != DRM_FORMAT_MOD_LINEAR || !image_format_lookup(fourcc))
                return false;
        /*
         * Fuchsia's list: every one-plane linear format except YUY2, plus P010, which it counts as single-plane
         * although its size rule has two planes. Kept, because this only decides whether pad_for_block_size is
         * honoured, and padding after the last plane cannot hurt; NV21 follows NV12 (false).
         */
        if (fourcc == DRM_FORMAT_P010)
                return true;
        return fourcc != DRM_FORMAT_YUYV && linear_kind_of(fourcc) == LINEAR_ONE_PLANE;
}

#define BITS(n) (1u << (n))

bool image_format_color_space_supported(uint32_t fourcc, uint32_t color_space) {
        if (color_space == SYSMEM_COLOR_SPACE_PASSTHROUGH)
                return true;
        const struct image_format_info *f = image_format_lookup(fourcc);
        if (!f)
                return false;
        bool rgb = false, yuv = false;
        uint32_t bits;
        switch (color_space) {
        case SYSMEM_COLOR_SPACE_SRGB:
                rgb = true;
                bits = BITS(8) | BITS(10) | BITS(12) | BITS(16);
                break;
        case SYSMEM_COLOR_SPACE_REC601_NTSC:
        case SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE:
        case SYSMEM_COLOR_SPACE_REC601_PAL:
        case SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE:
        case SYSMEM_COLOR_SPACE_REC709:
                yuv = true;
                bits = BITS(8) | BITS(10);
                break;
        case SYSMEM_COLOR_SPACE_REC2020:
        case SYSMEM_COLOR_SPACE_REC2100:
                yuv = true;
                bits = BITS(10) | BITS(12);
                break;
        default:
                return false;
        }
        if (!((rgb && f->is_rgb) || (yuv && f->is_yuv)))
                return false;
        return f->bits_per_sample < 32 && (bits & BITS(f->bits_per_sample));
}

uint32_t image_format_color_space_rank(uint32_t color_space) {
        switch (color_space) {
        case SYSMEM_COLOR_SPACE_SRGB:
                return 1;
        case SYSMEM_COLOR_SPACE_REC2100:
                return 2;
        case SYSMEM_COLOR_SPACE_REC2020:
                return 3;
        case SYSMEM_COLOR_SPACE_REC709:
                return 4;
        case SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE:
                return 5;
        case SYSMEM_COLOR_SPACE_REC601_PAL:
                return 6;
        case SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE:
                return 7;
        case SYSMEM_COLOR_SPACE_REC601_NTSC:
                return 8;
        case SYSMEM_COLOR_SPACE_PASSTHROUGH:
                return 9;
        default:
                return UINT32_MAX;
        }
}

bool image_format_modifier_secure_compatible(uint64_t modifier) {
        /*
         * Fuchsia refuses protected memory only for the ARM transaction-elimination variants (AFBC _TE and
         * ARM_LINEAR_TE; aggregation §4.6). DRM has no TE modifiers (its AFBC bit 0x1000 is USM, which
         * image_format_is_supported rejects), so no modifier is excluded here.
         */
        return true;
}

/* ---- row bytes ---- */

bool image_format_minimum_row_bytes(const struct sysmem_image_format_settings *c, uint32_t width,
                                    uint32_t *ret_bytes_per_row) {
        if (!c || !ret_bytes_per_row || !image_format_is_supported(c->pixel_format, c->pixel_format_modifier))
                return false;
        /* Fuchsia asserts a non-zero width; a zero-byte row describes no image. */
        if (width == 0)
                return false;
        const struct image_format_info *f = image_format_lookup(c->pixel_format);
        /*
         * Settings come out of aggregation with every default applied, but hand-built settings may leave fields
         * zero: a zero maximum or alignment can never be meant literally, so it reads as "no constraint".
         */
        uint32_t max_width = c->max_size.width ? c->max_size.width : UINT32_MAX;
        uint32_t max_bpr = c->max_bytes_per_row ? c->max_bytes_per_row : UINT32_MAX;
        uint32_t alignment = c->size_alignment.width ? c->size_alignment.width : 1;
        uint32_t divisor = c->bytes_per_row_divisor ? c->bytes_per_row_divisor : 1;

        struct afbc_geometry g;
        if (afbc_geometry_of(c->pixel_format, c->pixel_format_modifier, &g)) {
                if (width < c->min_size.width || width > max_width)
                        return false;
                /*
                 * Fuchsia's rule, quirk included: it divides by the width alignment (128/256 with a tiled header)
                 * but multiplies by the block width, and ignores min_bytes_per_row and the divisor. AFBC reports
                 * row bytes 0 for plane 0, so the value only informs. We do honour max_bytes_per_row, which our
                 * interface promises for every modifier.
                 */
                uint32_t blocks = (uint32_t)div_ceil64(width, g.width_alignment), bpr;
                if (!mul32(blocks, g.block_width * 4, &bpr) || bpr > max_bpr)
                        return false;
                *ret_bytes_per_row = bpr;
                return true;
        }

        struct intel_tiling t;
        bool tiled = intel_tiling_of(c->pixel_format, c->pixel_format_modifier, &t);
        if (tiled) {
                /* Intel rounds the width to size_alignment before checking the range; linear checks first. */
                if (!round_up32(width, alignment, &width) || width < c->min_size.width || width > max_width)
                        return false;
                if (!round_up32(divisor, t.tile_row_bytes, &divisor))
                        return false;
        } else {
                if (width < c->min_size.width || width > max_width || !round_up32(width, alignment, &width))
                        return false;
        }
        uint32_t bpr;
        if (!mul32(f->stride_bytes_per_width_pixel, width, &bpr))
                return false;
        if (bpr < c->min_bytes_per_row)
                bpr = c->min_bytes_per_row;
        if (!round_up32(bpr, divisor, &bpr) || bpr > max_bpr)
                return false;
        *ret_bytes_per_row = bpr;
        return true;
}

/* ---- layouts ---- */

static bool set_plane(struct sysmem_plane_layout *l, uint32_t plane, uint64_t offset, uint32_t bytes_per_row,
                      uint64_t size_bytes) {
        uint64_t end;
        l->offset[plane] = offset;
        l->bytes_per_row[plane] = bytes_per_row;
        l->size_bytes[plane] = size_bytes;
        if (!add64(offset, size_bytes, &end))
                return false;
        if (end > l->total_size_bytes)
                l->total_size_bytes = end;
        return true;
}

static bool linear_layout(uint32_t fourcc, struct sysmem_size size, uint32_t bpr, struct sysmem_plane_layout *l) {
        uint64_t luma, fuchsia_size;
        if (!mul64(size.height, bpr, &luma))
                return false;
        enum linear_kind kind = linear_kind_of(fourcc);
        if (kind == LINEAR_ONE_PLANE) {
                l->plane_count = 1;
                return set_plane(l, 0, 0, bpr, luma);
        }

        /* Fuchsia sizes every 4:2:0 format as h × bpr × 3 / 2 (integer arithmetic, rounding down). */
        if (!mul64(luma, 3, &fuchsia_size))
                return false;
        fuchsia_size /= 2;
        /*
         * Chroma planes get ceil(h/2) rows. For odd heights Fuchsia's h/2 (its plane-2 offset) and its size formula
         * fall short of the last chroma row, so planes would overlap or run past the buffer; rounding up keeps
         * every plane whole and agrees with libavutil and GStreamer.
         */
        uint64_t chroma_rows = div_ceil64(size.height, 2), chroma;
        if (!set_plane(l, 0, 0, bpr, luma))
                return false;
        if (kind == LINEAR_SEMI_PLANAR) {
                l->plane_count = 2;
                if (!mul64(chroma_rows, bpr, &chroma) || !set_plane(l, 1, luma, bpr, chroma))
                        return false;
        } else {
                /* For YVU420 plane 1 is V and plane 2 is U; the offsets are the same. */
                uint32_t chroma_bpr = bpr / 2;
                uint64_t plane2;
                l->plane_count = 3;
                if (!mul64(chroma_rows, chroma_bpr, &chroma) || !add64(luma, chroma, &plane2) ||
                    !set_plane(l, 1, luma, chroma_bpr, chroma) || !set_plane(l, 2, plane2, chroma_bpr, chroma))
                        return false;
        }
        /*
         * The image size is the larger of Fuchsia's formula and the end of the last plane: equal for even heights
         * (and even bpr for the three-plane formats), so sysmem-compatible sizes are unchanged, and never too small
         * for odd heights. An odd bpr in YUV420 makes Fuchsia's formula the larger one; keeping it keeps sizes
         * identical to sysmem's.
         */
        if (fuchsia_size > l->total_size_bytes)
                l->total_size_bytes = fuchsia_size;
        return true;
}

static bool intel_layout(uint32_t fourcc, const struct intel_tiling *t, struct sysmem_size size, uint32_t bpr,
                         struct sysmem_plane_layout *l) {
        /* "For tiled planar surfaces, the planes must be tile-boundary aligned": each NV12 plane is tiled alone. */
        uint32_t data_planes = fourcc == DRM_FORMAT_NV12 ? 2 : 1;
        uint64_t width_tiles = div_ceil64(bpr, t->tile_row_bytes);
        uint64_t height_tiles = 0, offset = 0, row_bytes, plane_bytes;
        if (!mul64(width_tiles, t->tile_row_bytes, &row_bytes) || row_bytes > UINT32_MAX)
                return false;
        for (uint32_t p = 0; p < data_planes; p++) {
                /* The UV plane has half the rows, rounded up (Fuchsia rounds h up to 2 before halving). */
                uint64_t rows = p == 0 ? size.height : div_ceil64(size.height, 2);
                height_tiles = div_ceil64(rows, t->tile_rows);
                if (!mul64(width_tiles, height_tiles, &plane_bytes) ||
                    !mul64(plane_bytes, INTEL_TILE_BYTES, &plane_bytes) ||
                    !set_plane(l, p, offset, (uint32_t)row_bytes, plane_bytes) || !add64(offset, plane_bytes, &offset))
                        return false;
        }
        l->plane_count = data_planes;
        if (!t->ccs)
                return true;

        /*
         * Fuchsia sizes the CCS from the tile counts of the last data plane it computed (for NV12 the UV plane,
         * which undersizes it compared with the Y plane; kept for identical sizes) and gives it plane 0's width.
         * Planes between the data planes and AUX_PLANE stay empty (size 0).
         */
        uint64_t ccs_width = div_ceil64(width_tiles, INTEL_CCS_TILE_WIDTH_RATIO);
        uint64_t ccs_height = div_ceil64(height_tiles, INTEL_CCS_TILE_HEIGHT_RATIO), ccs_bytes, ccs_row_bytes;
        if (!mul64(ccs_width, ccs_height, &ccs_bytes) || !mul64(ccs_bytes, INTEL_TILE_BYTES, &ccs_bytes) ||
            !mul64(ccs_width, INTEL_CCS_TILE_ROW_BYTES, &ccs_row_bytes) || ccs_row_bytes > UINT32_MAX)
                return false;
        l->plane_count = AUX_PLANE + 1;
        return set_plane(l, AUX_PLANE, offset, (uint32_t)ccs_row_bytes, ccs_bytes);
}

static bool afbc_layout(const struct afbc_geometry *g, struct sysmem_size size, struct sysmem_plane_layout *l) {
        /* Superblocks over the size aligned to the superblock (or header-tile) grid; 4 bytes a pixel + headers. */
        uint64_t aligned_width, aligned_height, blocks, body, headers;
        if (!round_up64(size.width, g->width_alignment, &aligned_width) ||
            !round_up64(size.height, g->height_alignment, &aligned_height))
                return false;
        if (!mul64(aligned_width / g->block_width, aligned_height / g->block_height, &blocks) ||
            !mul64(blocks, (uint64_t)g->block_width * g->block_height * 4, &body) || !mul64(blocks, 16, &headers) ||
            !round_up64(headers, g->body_alignment, &headers) || !add64(body, headers, &body))
                return false;
        l->plane_count = 1;
        /* Row bytes are 0: an AFBC plane has no rows a CPU could step through. */
        return set_plane(l, 0, 0, 0, body);
}

bool image_format_plane_layout(uint32_t fourcc, uint64_t modifier, struct sysmem_size size, uint32_t bytes_per_row,
                               struct sysmem_plane_layout *ret_layout) {
        if (!ret_layout || !image_format_lookup(fourcc))
                return false;
        struct sysmem_plane_layout l = {0};
        struct intel_tiling t;
        struct afbc_geometry g;
        bool ok;
        if (modifier == DRM_FORMAT_MOD_LINEAR)
                ok = linear_layout(fourcc, size, bytes_per_row, &l);
        else if (intel_tiling_of(fourcc, modifier, &t))
                ok = intel_layout(fourcc, &t, size, bytes_per_row, &l);
        else if (afbc_geometry_of(fourcc, modifier, &g))
                ok = afbc_layout(&g, size, &l);
        else
                ok = false;
        if (!ok)
                return false;
        *ret_layout = l;
        return true;
}

bool image_format_image_size(uint32_t fourcc, uint64_t modifier, struct sysmem_size size, uint32_t bytes_per_row,
                             uint64_t *ret_size) {
        struct sysmem_plane_layout l;
        if (!ret_size || !image_format_plane_layout(fourcc, modifier, size, bytes_per_row, &l))
                return false;
        *ret_size = l.total_size_bytes;
        return true;
}
