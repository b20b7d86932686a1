/* test-image-format.c: table-driven tests of the image-format library: support, colour spaces, layout arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include "common/macros.h"
#include "core/image-format.h"

#define AFBC(mode) DRM_FORMAT_MOD_ARM_AFBC(mode)
#define AFBC16 AFBC_FORMAT_MOD_BLOCK_SIZE_16x16
#define AFBC32 AFBC_FORMAT_MOD_BLOCK_SIZE_32x8
#define ALL_AFBC_FLAGS                                                                                                 \
        (AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_TILED |              \
         AFBC_FORMAT_MOD_BCH)

/* Fuchsia's ARM modifiers that have no DRM meaning (aggregation §7): they must not be accepted by accident. */
#define FUCHSIA_ARM_LINEAR_TE 0x0800000000001000ull
#define FUCHSIA_AFBC16_TE 0x0800000000001001ull
#define FUCHSIA_AFBC16_TILED_HEADER 0x0800000000002001ull

/* Settings with nothing but the format: no size limits, divisor 1. */
static struct sysmem_image_format_settings settings(uint32_t fourcc, uint64_t modifier) {
        return (struct sysmem_image_format_settings){
                .pixel_format = fourcc,
                .pixel_format_modifier = modifier,
                .color_space = SYSMEM_COLOR_SPACE_PASSTHROUGH,
                .max_size = {UINT32_MAX, UINT32_MAX},
                .max_bytes_per_row = UINT32_MAX,
                .max_width_times_height = UINT64_MAX,
                .size_alignment = {1, 1},
                .display_rect_alignment = {1, 1},
                .bytes_per_row_divisor = 1,
                .start_offset_divisor = 1,
                .pad_for_block_size = {1, 1},
        };
}

static void test_table_is_consistent(void **state) {
        (void)state;
        uint32_t n = 0;
        const struct image_format_info *all = image_format_all(&n);
        assert_non_null(all);
        assert_true(n >= 16);
        for (uint32_t i = 0; i < n; i++) {
                assert_ptr_equal(image_format_lookup(all[i].fourcc), &all[i]);
                assert_non_null(all[i].name);
                assert_true(all[i].stride_bytes_per_width_pixel > 0);
                assert_true(all[i].is_rgb || all[i].is_yuv);
                for (uint32_t j = 0; j < i; j++) {
                        assert_int_not_equal(all[i].fourcc, all[j].fourcc);
                        assert_string_not_equal(all[i].name, all[j].name);
                }
        }
        assert_null(image_format_lookup(0));
        assert_null(image_format_lookup(SYSMEM_PIXEL_FORMAT_DO_NOT_CARE));
        assert_null(image_format_lookup(fourcc_code('Z', 'Z', 'Z', 'Z')));
        assert_null(image_format_lookup(DRM_FORMAT_NV16));
}

/* §7's per-format constants, keyed by DRM fourcc; one row per required format. */
static void test_format_constants(void **state) {
        (void)state;
        static const struct image_format_info table[] = {
                {DRM_FORMAT_ARGB8888, "ARGB8888", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_XRGB8888, "XRGB8888", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_ABGR8888, "ABGR8888", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_XBGR8888, "XBGR8888", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_RGB888, "RGB888", 3, 24, 1, 1, 1, true, false, 8, false},
                {DRM_FORMAT_BGR888, "BGR888", 3, 24, 1, 1, 1, true, false, 8, false},
                {DRM_FORMAT_RGB565, "RGB565", 2, 16, 1, 1, 2, true, false, 8, false},
                {DRM_FORMAT_RGB332, "RGB332", 1, 8, 1, 1, 1, true, false, 8, false},
                {DRM_FORMAT_R8, "R8", 1, 8, 1, 1, 1, true, true, 8, false},
                {DRM_FORMAT_GR88, "GR88", 2, 16, 1, 1, 2, true, false, 8, false},
                {DRM_FORMAT_ARGB2101010, "ARGB2101010", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_ABGR2101010, "ABGR2101010", 4, 32, 1, 1, 4, true, false, 8, true},
                {DRM_FORMAT_NV12, "NV12", 1, 12, 2, 2, 2, false, true, 8, false},
                {DRM_FORMAT_NV21, "NV21", 1, 12, 2, 2, 2, false, true, 8, false},
                {DRM_FORMAT_YUV420, "YUV420", 1, 12, 2, 2, 2, false, true, 8, false},
                {DRM_FORMAT_YVU420, "YVU420", 1, 12, 2, 2, 2, false, true, 8, false},
                {DRM_FORMAT_P010, "P010", 2, 15, 2, 2, 4, false, true, 10, false},
                {DRM_FORMAT_YUYV, "YUYV", 2, 16, 2, 2, 2, false, true, 8, false},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                const struct image_format_info *want = &table[i], *got = image_format_lookup(want->fourcc);
                print_message("%s\n", want->name);
                assert_non_null(got);
                assert_string_equal(got->name, want->name);
                assert_int_equal(got->stride_bytes_per_width_pixel, want->stride_bytes_per_width_pixel);
                assert_int_equal(got->bits_per_pixel, want->bits_per_pixel);
                assert_int_equal(got->width_min_divisor, want->width_min_divisor);
                assert_int_equal(got->height_min_divisor, want->height_min_divisor);
                assert_int_equal(got->sample_alignment, want->sample_alignment);
                assert_int_equal(got->is_rgb, want->is_rgb);
                assert_int_equal(got->is_yuv, want->is_yuv);
                assert_int_equal(got->bits_per_sample, want->bits_per_sample);
                assert_int_equal(got->has_alpha_or_x, want->has_alpha_or_x);
        }
}

static void test_supported_pairs(void **state) {
        (void)state;
        static const struct {
                uint32_t fourcc;
                uint64_t modifier;
                bool supported;
        } table[] = {
                /* Intel: the four 8888 formats and NV12, five tilings, no X CCS. */
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, true},
                {DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_Y_TILED, true},
                {DRM_FORMAT_ABGR8888, I915_FORMAT_MOD_Yf_TILED, true},
                {DRM_FORMAT_XBGR8888, I915_FORMAT_MOD_Y_TILED_CCS, true},
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Yf_TILED_CCS, true},
                {DRM_FORMAT_NV12, I915_FORMAT_MOD_X_TILED, true},
                {DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, true},
                {DRM_FORMAT_NV12, I915_FORMAT_MOD_Yf_TILED, true},
                {DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED_CCS, true},
                {DRM_FORMAT_NV12, I915_FORMAT_MOD_Yf_TILED_CCS, true},
                {DRM_FORMAT_NV21, I915_FORMAT_MOD_Y_TILED, false},
                {DRM_FORMAT_RGB888, I915_FORMAT_MOD_X_TILED, false},
                {DRM_FORMAT_P010, I915_FORMAT_MOD_Y_TILED, false},
                {DRM_FORMAT_ARGB2101010, I915_FORMAT_MOD_Y_TILED, false},
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED_GEN12_RC_CCS, false},
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_4_TILED, false},
                {DRM_FORMAT_ARGB8888, fourcc_mod_code(INTEL, 1) | (1ull << 24), false}, /* Fuchsia's CCS bit on X */
                /* ARM AFBC: 16x16 or 32x8 with any of YTR, SPLIT, SPARSE, TILED, BCH; 8888 formats only. */
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16), true},
                {DRM_FORMAT_ARGB8888, AFBC(AFBC32), true},
                {DRM_FORMAT_XBGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_TILED), true},
                {DRM_FORMAT_XRGB8888, AFBC(AFBC32 | ALL_AFBC_FLAGS), true},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_SPARSE), true},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_BCH), true},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_CBR), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_SC), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_DB), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_USM), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_64x4), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8_64x4), false},
                {DRM_FORMAT_ABGR8888, AFBC(0), false},
                {DRM_FORMAT_ABGR8888, AFBC(5), false},
                {DRM_FORMAT_ABGR8888, AFBC(AFBC16) | (1ull << 51), false},
                {DRM_FORMAT_NV12, AFBC(AFBC16), false},
                {DRM_FORMAT_RGB565, AFBC(AFBC16), false},
                {DRM_FORMAT_ABGR2101010, AFBC(AFBC16), false},
                {DRM_FORMAT_ABGR8888, DRM_FORMAT_MOD_ARM_16X16_BLOCK_U_INTERLEAVED, false},
                {DRM_FORMAT_ABGR8888, DRM_FORMAT_MOD_ARM_AFRC(AFRC_FORMAT_MOD_CU_SIZE_16), false},
                /* Fuchsia-only ARM spellings: TE and ARM_LINEAR_TE do not exist on Linux. */
                {DRM_FORMAT_ABGR8888, FUCHSIA_ARM_LINEAR_TE, false},
                {DRM_FORMAT_ABGR8888, FUCHSIA_AFBC16_TE, false},
                {DRM_FORMAT_ABGR8888, FUCHSIA_AFBC16_TILED_HEADER, false},
                /* Sentinels and strangers. */
                {DRM_FORMAT_ARGB8888, SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE, false},
                {DRM_FORMAT_ARGB8888, SYSMEM_FORMAT_MODIFIER_INVALID, false},
                {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_INVALID, false},
                {DRM_FORMAT_ARGB8888, 1, false},
                {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_BROADCOM_VC4_T_TILED, false},
                {SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, DRM_FORMAT_MOD_LINEAR, false},
                {0, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_NV16, DRM_FORMAT_MOD_LINEAR, false},
                {fourcc_code('Z', 'Z', 'Z', 'Z'), DRM_FORMAT_MOD_LINEAR, false},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                bool got = image_format_is_supported(table[i].fourcc, table[i].modifier);
                if (got != table[i].supported)
                        print_error("row %zu: %08x/%016llx expected %d\n", i, table[i].fourcc,
                                    (unsigned long long)table[i].modifier, table[i].supported);
                assert_int_equal(got, table[i].supported);
        }
        /* LINEAR works for every known format. */
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        for (uint32_t i = 0; i < n; i++)
                assert_true(image_format_is_supported(all[i].fourcc, DRM_FORMAT_MOD_LINEAR));
}

static void test_non_tiled_single_plane(void **state) {
        (void)state;
        static const struct {
                uint32_t fourcc;
                uint64_t modifier;
                bool single;
        } table[] = {
                {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_RGB888, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_RGB565, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_R8, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_GR88, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_ABGR2101010, DRM_FORMAT_MOD_LINEAR, true},
                {DRM_FORMAT_P010, DRM_FORMAT_MOD_LINEAR, true}, /* Fuchsia's inconsistency, kept */
                {DRM_FORMAT_YUYV, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_NV21, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_YUV420, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_YVU420, DRM_FORMAT_MOD_LINEAR, false},
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, false},
                {DRM_FORMAT_ARGB8888, AFBC(AFBC16), false},
                {DRM_FORMAT_NV16, DRM_FORMAT_MOD_LINEAR, false},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++)
                assert_int_equal(image_format_is_non_tiled_single_plane(table[i].fourcc, table[i].modifier),
                                 table[i].single);
}

enum { SRGB, N601, N601F, P601, P601F, R709, R2020, R2100, PASS, INVALID, DNC, COLOR_COUNT };
static const uint32_t color_spaces[COLOR_COUNT] = {
        SYSMEM_COLOR_SPACE_SRGB,
        SYSMEM_COLOR_SPACE_REC601_NTSC,
        SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE,
        SYSMEM_COLOR_SPACE_REC601_PAL,
        SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE,
        SYSMEM_COLOR_SPACE_REC709,
        SYSMEM_COLOR_SPACE_REC2020,
        SYSMEM_COLOR_SPACE_REC2100,
        SYSMEM_COLOR_SPACE_PASSTHROUGH,
        SYSMEM_COLOR_SPACE_INVALID,
        SYSMEM_COLOR_SPACE_DO_NOT_CARE,
};

static void test_color_space_compatibility(void **state) {
        (void)state;
        static const struct {
                uint32_t fourcc;
                /* SRGB, 601 NTSC, NTSC full, PAL, PAL full, 709, 2020, 2100, PASSTHROUGH, INVALID, DO_NOT_CARE */
                bool ok[COLOR_COUNT];
        } table[] = {
                {DRM_FORMAT_NV12, {0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_NV21, {0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_YUV420, {0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_YUYV, {0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_P010, {0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}},
                {DRM_FORMAT_ABGR8888, {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_RGB565, {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}},
                {DRM_FORMAT_R8, {1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}},
                /* Fuchsia counts the 10-bit RGB formats as 8-bit RGB: SRGB only. */
                {DRM_FORMAT_ARGB2101010, {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}},
                /* Unknown format: only PASSTHROUGH, which Fuchsia accepts before looking at the format. */
                {fourcc_code('Z', 'Z', 'Z', 'Z'), {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++)
                for (size_t c = 0; c < COLOR_COUNT; c++) {
                        bool got = image_format_color_space_supported(table[i].fourcc, color_spaces[c]);
                        if (got != table[i].ok[c])
                                print_error("row %zu colour %zu: expected %d\n", i, c, table[i].ok[c]);
                        assert_int_equal(got, table[i].ok[c]);
                }
        assert_false(image_format_color_space_supported(DRM_FORMAT_NV12, 10));
}

static void test_color_space_rank(void **state) {
        (void)state;
        static const struct {
                uint32_t color_space;
                uint32_t rank;
        } table[] = {
                {SYSMEM_COLOR_SPACE_SRGB, 1},
                {SYSMEM_COLOR_SPACE_REC2100, 2},
                {SYSMEM_COLOR_SPACE_REC2020, 3},
                {SYSMEM_COLOR_SPACE_REC709, 4},
                {SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE, 5},
                {SYSMEM_COLOR_SPACE_REC601_PAL, 6},
                {SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE, 7},
                {SYSMEM_COLOR_SPACE_REC601_NTSC, 8},
                {SYSMEM_COLOR_SPACE_PASSTHROUGH, 9},
                {SYSMEM_COLOR_SPACE_INVALID, UINT32_MAX},
                {SYSMEM_COLOR_SPACE_DO_NOT_CARE, UINT32_MAX},
                {10, UINT32_MAX},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++)
                assert_int_equal(image_format_color_space_rank(table[i].color_space), table[i].rank);
}

static void test_secure_compatible(void **state) {
        (void)state;
        static const uint64_t modifiers[] = {
                DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_Y_TILED_CCS, AFBC(AFBC16 | ALL_AFBC_FLAGS),
                FUCHSIA_ARM_LINEAR_TE, FUCHSIA_AFBC16_TE,           SYSMEM_FORMAT_MODIFIER_INVALID,
                SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE,
        };
        for (size_t i = 0; i < ARRAY_LEN(modifiers); i++)
                assert_true(image_format_modifier_secure_compatible(modifiers[i]));
}

/* ---- MinimumRowBytes ---- */

struct row_case {
        const char *name;
        uint32_t fourcc;
        uint64_t modifier;
        uint32_t width;
        uint32_t min_width, max_width; /* 0: settings() defaults */
        uint32_t min_bpr, max_bpr;
        uint32_t divisor;
        uint32_t size_alignment;
        bool ok;
        uint32_t bpr;
};

static void test_minimum_row_bytes(void **state) {
        (void)state;
        static const struct row_case table[] = {
                /* §4 worked examples. */
                {"B8G8R8 600 min 1800 div 32", DRM_FORMAT_RGB888, 0, 600, 0, 0, 1800, 0, 32, 0, true, 1824},
                {"R8G8B8A8 254 min 256 div 64", DRM_FORMAT_ABGR8888, 0, 254, 254, 0, 256, 0, 64, 0, true, 1024},
                {"NV12 256 min 256 div 2", DRM_FORMAT_NV12, 0, 256, 256, 0, 256, 0, 2, 2, true, 256},
                /* §7: B8G8R8A8, divisor 32, width in [12, 100]. */
                {"BGRA 17 div 32", DRM_FORMAT_ARGB8888, 0, 17, 12, 100, 0, 0, 32, 0, true, 96},
                {"BGRA 12 div 32", DRM_FORMAT_ARGB8888, 0, 12, 12, 100, 0, 0, 32, 0, true, 64},
                {"BGRA 100 div 32", DRM_FORMAT_ARGB8888, 0, 100, 12, 100, 0, 0, 32, 0, true, 416},
                {"BGRA 11 below min", DRM_FORMAT_ARGB8888, 0, 11, 12, 100, 0, 0, 32, 0, false, 0},
                {"BGRA 101 above max", DRM_FORMAT_ARGB8888, 0, 101, 12, 100, 0, 0, 32, 0, false, 0},
                /* Linear checks the range before aligning the width: 99 → 100 is fine, 100 → 104 too. */
                {"BGRA 99 align 8", DRM_FORMAT_ARGB8888, 0, 99, 12, 100, 0, 0, 1, 8, true, 416},
                {"BGRA 100 align 8 past max", DRM_FORMAT_ARGB8888, 0, 100, 12, 100, 0, 0, 1, 8, true, 416},
                {"P010 640", DRM_FORMAT_P010, 0, 640, 0, 0, 0, 0, 256, 0, true, 1280},
                {"YUYV 641 div 4", DRM_FORMAT_YUYV, 0, 641, 0, 0, 0, 0, 4, 0, true, 1284},
                {"RGB565 3 div 1", DRM_FORMAT_RGB565, 0, 3, 0, 0, 0, 0, 1, 0, true, 6},
                {"max_bpr reached", DRM_FORMAT_ARGB8888, 0, 100, 0, 0, 0, 400, 1, 0, true, 400},
                {"max_bpr exceeded", DRM_FORMAT_ARGB8888, 0, 101, 0, 0, 0, 400, 1, 0, false, 0},
                {"max_bpr exceeded by divisor", DRM_FORMAT_ARGB8888, 0, 100, 0, 0, 0, 400, 64, 0, false, 0},
                {"width 0", DRM_FORMAT_ARGB8888, 0, 0, 0, 0, 0, 0, 1, 0, false, 0},
                /* Intel: the divisor rounds up to the tile row; width aligned before the range check. */
                {"X-tiled 1920", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, 1920, 0, 0, 0, 0, 1, 0, true, 7680},
                {"X-tiled 1921", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, 1921, 0, 0, 0, 0, 1, 0, true, 8192},
                {"Y-tiled 1921", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 1921, 0, 0, 0, 0, 1, 0, true, 7808},
                {"Y-tiled div 96", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 100, 0, 0, 0, 0, 96, 0, true, 512},
                {"NV12 Y 3440", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, 3440, 0, 0, 0, 0, 1, 0, true, 3456},
                {"NV12 Yf-CCS 3440", DRM_FORMAT_NV12, I915_FORMAT_MOD_Yf_TILED_CCS, 3440, 0, 0, 0, 0, 2, 0, true, 3456},
                {"Intel 93 align 8", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 93, 12, 100, 0, 0, 1, 8, true, 384},
                {"Intel 97 align 8 past max", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 97, 12, 100, 0, 0, 1, 8,
                 false, 0},
                {"Intel 9 align 4 reaches min", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 9, 12, 100, 0, 0, 1, 4,
                 true, 128},
                /* AFBC: ceil(width / width alignment) × block width × 4, Fuchsia's quirk included. */
                {"AFBC16 1920", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 1920, 0, 0, 0, 0, 1, 0, true, 7680},
                {"AFBC16 1921", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 1921, 0, 0, 0, 0, 1, 0, true, 7744},
                {"AFBC16 tiled 1920", DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_TILED), 1920, 0, 0, 0, 0, 1,
                 0, true, 960},
                {"AFBC32 100", DRM_FORMAT_ABGR8888, AFBC(AFBC32), 100, 0, 0, 0, 0, 1, 0, true, 512},
                {"AFBC32 tiled 100", DRM_FORMAT_ABGR8888, AFBC(AFBC32 | AFBC_FORMAT_MOD_TILED), 100, 0, 0, 0, 0, 1, 0,
                 true, 128},
                {"AFBC ignores min_bpr and divisor", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 16, 0, 0, 4096, 0, 4096, 0,
                 true, 64},
                {"AFBC below min", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 15, 16, 0, 0, 0, 1, 0, false, 0},
                {"AFBC past max_bpr", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 17, 0, 0, 0, 64, 1, 0, false, 0},
                /* Unsupported pairs. */
                {"unsupported pair", DRM_FORMAT_RGB888, I915_FORMAT_MOD_X_TILED, 16, 0, 0, 0, 0, 1, 0, false, 0},
                {"unknown format", DRM_FORMAT_NV16, 0, 16, 0, 0, 0, 0, 1, 0, false, 0},
                {"DO_NOT_CARE modifier", DRM_FORMAT_NV12, SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE, 16, 0, 0, 0, 0, 1, 0,
                 false, 0},
                /* Overflow at every step. */
                {"stride × width overflows", DRM_FORMAT_ARGB8888, 0, 0x40000000u, 0, 0, 0, 0, 1, 0, false, 0},
                {"divisor rounding overflows", DRM_FORMAT_ARGB8888, 0, 0x3fffffffu, 0, 0, 0, 0, 8, 0, false, 0},
                {"largest fitting row", DRM_FORMAT_ARGB8888, 0, 0x3fffffffu, 0, 0, 0, 0, 4, 0, true, 0xfffffffcu},
                {"alignment rounding overflows", DRM_FORMAT_R8, 0, UINT32_MAX, 0, 0, 0, 0, 1, 2, false, 0},
                {"min_bpr rounding overflows", DRM_FORMAT_R8, 0, 1, 0, 0, UINT32_MAX, 0, 2, 0, false, 0},
                {"Intel divisor overflows", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, 16, 0, 0, 0, 0, UINT32_MAX, 0,
                 false, 0},
                {"Intel alignment overflows", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, UINT32_MAX, 0, 0, 0, 0, 1, 2,
                 false, 0},
                {"AFBC overflows", DRM_FORMAT_ABGR8888, AFBC(AFBC16), UINT32_MAX, 0, 0, 0, 0, 1, 0, false, 0},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                const struct row_case *r = &table[i];
                struct sysmem_image_format_settings c = settings(r->fourcc, r->modifier);
                c.min_size.width = r->min_width;
                if (r->max_width)
                        c.max_size.width = r->max_width;
                c.min_bytes_per_row = r->min_bpr;
                if (r->max_bpr)
                        c.max_bytes_per_row = r->max_bpr;
                c.bytes_per_row_divisor = r->divisor;
                if (r->size_alignment)
                        c.size_alignment.width = r->size_alignment;
                uint32_t bpr = 0xdeadbeef;
                bool ok = image_format_minimum_row_bytes(&c, r->width, &bpr);
                if (ok != r->ok || (ok && bpr != r->bpr))
                        print_error("%s: expected %d/%u, got %d/%u\n", r->name, r->ok, r->bpr, ok, bpr);
                assert_int_equal(ok, r->ok);
                if (ok)
                        assert_int_equal(bpr, r->bpr);
                else
                        assert_int_equal(bpr, 0xdeadbeef); /* untouched on failure */
        }
}

static void test_minimum_row_bytes_zero_fields_mean_unset(void **state) {
        (void)state;
        /* Hand-built settings leave the maxima, alignment and divisor 0; none of them may make everything fail. */
        struct sysmem_image_format_settings c = {.pixel_format = DRM_FORMAT_XRGB8888};
        uint32_t bpr = 0;
        assert_true(image_format_minimum_row_bytes(&c, 1920, &bpr));
        assert_int_equal(bpr, 7680);
        c.pixel_format_modifier = I915_FORMAT_MOD_X_TILED;
        assert_true(image_format_minimum_row_bytes(&c, 1921, &bpr));
        assert_int_equal(bpr, 8192);
        assert_false(image_format_minimum_row_bytes(NULL, 16, &bpr));
        assert_false(image_format_minimum_row_bytes(&c, 16, NULL));
}

/* ---- sizes and plane layouts ---- */

struct layout_case {
        const char *name;
        uint32_t fourcc;
        uint64_t modifier;
        uint32_t width, height, bpr;
        uint64_t size; /* 0: the call must fail */
        uint32_t plane_count;
        uint64_t offset[SYSMEM_MAX_PLANES];
        uint32_t row_bytes[SYSMEM_MAX_PLANES];
        uint64_t plane_size[SYSMEM_MAX_PLANES];
};

#define MiB (1024ull * 1024ull)

static void test_layouts(void **state) {
        (void)state;
        static const struct layout_case table[] = {
                /* §4 worked examples. */
                {"B8G8R8 600x1", DRM_FORMAT_RGB888, 0, 600, 1, 1824, 1824, 1, {0}, {1824}, {1824}},
                {"NV12 256x256", DRM_FORMAT_NV12, 0, 256, 256, 256, 98304, 2, {0, 65536}, {256, 256}, {65536, 32768}},
                {"NV12 512x1024", DRM_FORMAT_NV12, 0, 512, 1024, 512, 786432, 2, {0, 524288}, {512, 512},
                 {524288, 262144}},
                /* Linear planes (§7). */
                {"YUV420 640x480", DRM_FORMAT_YUV420, 0, 640, 480, 640, 460800, 3, {0, 307200, 384000}, {640, 320, 320},
                 {307200, 76800, 76800}},
                {"YVU420 640x480", DRM_FORMAT_YVU420, 0, 640, 480, 640, 460800, 3, {0, 307200, 384000}, {640, 320, 320},
                 {307200, 76800, 76800}},
                {"P010 64x64", DRM_FORMAT_P010, 0, 64, 64, 128, 12288, 2, {0, 8192}, {128, 128}, {8192, 4096}},
                {"YUYV 64x3", DRM_FORMAT_YUYV, 0, 64, 3, 128, 384, 1, {0}, {128}, {384}},
                /* Odd heights: chroma gets ceil(h/2) rows and the size covers it (Fuchsia's h×bpr×3/2 would not). */
                {"NV12 4x3", DRM_FORMAT_NV12, 0, 4, 3, 4, 20, 2, {0, 12}, {4, 4}, {12, 8}},
                {"NV21 2x1", DRM_FORMAT_NV21, 0, 2, 1, 2, 4, 2, {0, 2}, {2, 2}, {2, 2}},
                {"YUV420 4x3", DRM_FORMAT_YUV420, 0, 4, 3, 4, 20, 3, {0, 12, 16}, {4, 2, 2}, {12, 4, 4}},
                /* Odd bpr in YUV420: Fuchsia's formula is the larger; its value is kept (16×5×3/2 = 120 > 112). */
                {"YUV420 odd bpr", DRM_FORMAT_YUV420, 0, 4, 16, 5, 120, 3, {0, 80, 96}, {5, 2, 2}, {80, 16, 16}},
                /* Intel (§7): NV12 Y-tiled 3440×1440 is 27×45 + 27×23 tiles. */
                {"NV12 Y 3440x1440", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, 3440, 1440, 3456, 7520256, 2,
                 {0, 4976640}, {3456, 3456}, {4976640, 2543616}},
                /* CCS from the UV plane's 27×23 tiles: ceil(27/32) × ceil(23/16) = 2 tiles; row bytes 1 × 128. */
                {"NV12 Y-CCS 3440x1440", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED_CCS, 3440, 1440, 3456, 7528448, 4,
                 {0, 4976640, 0, 7520256}, {3456, 3456, 0, 128}, {4976640, 2543616, 0, 8192}},
                {"NV12 X 3440x1440", DRM_FORMAT_NV12, I915_FORMAT_MOD_X_TILED, 3440, 1440, 3584, 7 * 180 * 4096 +
                 7 * 90 * 4096, 2, {0, 7 * 180 * 4096}, {3584, 3584}, {7 * 180 * 4096, 7 * 90 * 4096}},
                {"BGRA X 1920x1080", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, 1920, 1080, 7680, 8294400, 1, {0},
                 {7680}, {8294400}},
                {"BGRA Y 1920x1080", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 1920, 1080, 7680, 8355840, 1, {0},
                 {7680}, {8355840}},
                {"BGRA Yf 1920x1080", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Yf_TILED, 1920, 1080, 7680, 8355840, 1, {0},
                 {7680}, {8355840}},
                /* CCS: ceil(60/32) × ceil(34/16) = 6 tiles, row bytes 2 × 128; planes 1 and 2 stay empty. */
                {"BGRA Y-CCS 1920x1080", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED_CCS, 1920, 1080, 7680, 8380416,
                 4, {0, 0, 0, 8355840}, {7680, 0, 0, 256}, {8355840, 0, 0, 24576}},
                {"RGBA Yf-CCS 1920x1080", DRM_FORMAT_ABGR8888, I915_FORMAT_MOD_Yf_TILED_CCS, 1920, 1080, 7680, 8380416,
                 4, {0, 0, 0, 8355840}, {7680, 0, 0, 256}, {8355840, 0, 0, 24576}},
                /* A bpr that is not a whole tile row still takes whole tiles. */
                {"BGRA Y bpr 100", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 25, 33, 100, 2 * 4096, 1, {0}, {128},
                 {8192}},
                /* AFBC (§7): blocks × block pixels × 4 + round_up(blocks × 16, 1024 or 4096). */
                {"AFBC16 1920x1080", DRM_FORMAT_ABGR8888, AFBC(AFBC16), 1920, 1080, 7680, 8160 * 1024 + 131072, 1, {0},
                 {0}, {8160 * 1024 + 131072}},
                {"AFBC16 tiled 1920x1080", DRM_FORMAT_ABGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_TILED), 1920, 1080, 960,
                 8640 * 1024 + 139264, 1, {0}, {0}, {8640 * 1024 + 139264}},
                {"AFBC32 1920x1080", DRM_FORMAT_ARGB8888, AFBC(AFBC32), 1920, 1080, 7680, 8100 * 1024 + 130048, 1, {0},
                 {0}, {8100 * 1024 + 130048}},
                {"AFBC32 tiled 1920x1080", DRM_FORMAT_ARGB8888, AFBC(AFBC32 | AFBC_FORMAT_MOD_TILED), 1920, 1080, 1024,
                 8704 * 1024 + 139264, 1, {0}, {0}, {8704 * 1024 + 139264}},
                /* One pixel still costs a whole block and a whole header body alignment. */
                {"AFBC16 1x1", DRM_FORMAT_XBGR8888, AFBC(AFBC16 | (ALL_AFBC_FLAGS & ~AFBC_FORMAT_MOD_TILED)), 1, 1, 64,
                 1024 + 1024, 1, {0}, {0}, {2048}},
                {"AFBC16 tiled 1x1", DRM_FORMAT_XBGR8888, AFBC(AFBC16 | AFBC_FORMAT_MOD_TILED), 1, 1, 64,
                 64 * 1024 + 4096, 1, {0}, {0}, {64 * 1024 + 4096}},
                {"AFBC32 tiled 1x1", DRM_FORMAT_XBGR8888, AFBC(AFBC32 | AFBC_FORMAT_MOD_TILED), 1, 1, 128,
                 64 * 1024 + 4096, 1, {0}, {0}, {64 * 1024 + 4096}},
                /* Failures: unsupported pairs and overflow. */
                {"unsupported", DRM_FORMAT_RGB888, I915_FORMAT_MOD_Y_TILED, 16, 16, 48, 0},
                {"unknown format", DRM_FORMAT_NV16, 0, 16, 16, 16, 0},
                {"Fuchsia ARM_LINEAR_TE", DRM_FORMAT_ABGR8888, FUCHSIA_ARM_LINEAR_TE, 16, 16, 64, 0},
                {"NV12 ×3 overflows", DRM_FORMAT_NV12, 0, 2, UINT32_MAX, UINT32_MAX, 0},
                {"YUV420 ×3 overflows", DRM_FORMAT_YUV420, 0, 2, UINT32_MAX, UINT32_MAX, 0},
                {"Intel row bytes overflow", DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 16, 16, UINT32_MAX, 0},
                {"Intel tiles overflow", DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, 16, UINT32_MAX, 0xffffff80u, 0},
                {"AFBC overflows", DRM_FORMAT_ABGR8888, AFBC(AFBC16), UINT32_MAX, UINT32_MAX, 64, 0},
                {"AFBC tiled overflows", DRM_FORMAT_ABGR8888, AFBC(AFBC32 | AFBC_FORMAT_MOD_TILED), UINT32_MAX,
                 UINT32_MAX, 64, 0},
                /* The largest single-plane product still fits in 64 bits. */
                {"largest linear", DRM_FORMAT_ARGB8888, 0, 1, UINT32_MAX, UINT32_MAX,
                 (uint64_t)UINT32_MAX * UINT32_MAX, 1, {0}, {UINT32_MAX}, {(uint64_t)UINT32_MAX * UINT32_MAX}},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                const struct layout_case *r = &table[i];
                struct sysmem_size size = {r->width, r->height};
                struct sysmem_plane_layout l;
                uint64_t image_size = 0xdeadbeef;
                memset(&l, 0xa5, sizeof l);
                print_message("%s\n", r->name);
                bool ok = image_format_plane_layout(r->fourcc, r->modifier, size, r->bpr, &l);
                assert_int_equal(image_format_image_size(r->fourcc, r->modifier, size, r->bpr, &image_size), ok);
                assert_int_equal(ok, r->size != 0);
                if (!ok) {
                        assert_int_equal(image_size, 0xdeadbeef);
                        continue;
                }
                assert_int_equal(image_size, r->size);
                assert_int_equal(l.total_size_bytes, r->size);
                assert_int_equal(l.plane_count, r->plane_count);
                for (uint32_t p = 0; p < SYSMEM_MAX_PLANES; p++) {
                        /* Planes past plane_count, and empty ones inside it, are all zero. */
                        assert_int_equal(l.offset[p], r->offset[p]);
                        assert_int_equal(l.bytes_per_row[p], r->row_bytes[p]);
                        assert_int_equal(l.size_bytes[p], r->plane_size[p]);
                        assert_true(l.offset[p] + l.size_bytes[p] <= l.total_size_bytes);
                }
        }
}

/* Every format, every supported modifier family, a spread of sizes: planes in order, inside the image, no overlap. */
static void test_planes_never_overlap(void **state) {
        (void)state;
        static const uint64_t modifiers[] = {
                DRM_FORMAT_MOD_LINEAR,        I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED,
                I915_FORMAT_MOD_Yf_TILED_CCS, AFBC(AFBC16),            AFBC(AFBC32 | AFBC_FORMAT_MOD_TILED),
        };
        static const uint32_t dims[] = {1, 2, 3, 5, 16, 17, 31, 64, 127, 1080, 1081};
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        unsigned checked = 0;
        for (uint32_t f = 0; f < n; f++)
                for (size_t m = 0; m < ARRAY_LEN(modifiers); m++) {
                        if (!image_format_is_supported(all[f].fourcc, modifiers[m]))
                                continue;
                        struct sysmem_image_format_settings c = settings(all[f].fourcc, modifiers[m]);
                        for (size_t w = 0; w < ARRAY_LEN(dims); w++)
                                for (size_t h = 0; h < ARRAY_LEN(dims); h++) {
                                        uint32_t bpr;
                                        struct sysmem_plane_layout l;
                                        struct sysmem_size size = {dims[w], dims[h]};
                                        assert_true(image_format_minimum_row_bytes(&c, dims[w], &bpr));
                                        assert_true(image_format_plane_layout(all[f].fourcc, modifiers[m], size, bpr,
                                                                              &l));
                                        uint64_t end = 0;
                                        for (uint32_t p = 0; p < l.plane_count; p++) {
                                                if (l.size_bytes[p] == 0)
                                                        continue;
                                                assert_true(l.offset[p] >= end);
                                                end = l.offset[p] + l.size_bytes[p];
                                        }
                                        assert_true(end <= l.total_size_bytes);
                                        assert_true(l.total_size_bytes > 0);
                                        if (modifiers[m] == DRM_FORMAT_MOD_LINEAR)
                                                assert_int_equal(l.bytes_per_row[0], bpr);
                                        checked++;
                                }
                }
        print_message("%u layouts checked\n", checked);
}

static void test_null_arguments(void **state) {
        (void)state;
        struct sysmem_size size = {16, 16};
        struct sysmem_plane_layout l;
        uint64_t s;
        assert_false(image_format_plane_layout(DRM_FORMAT_NV12, 0, size, 16, NULL));
        assert_false(image_format_image_size(DRM_FORMAT_NV12, 0, size, 16, NULL));
        assert_true(image_format_plane_layout(DRM_FORMAT_NV12, 0, size, 16, &l));
        assert_true(image_format_image_size(DRM_FORMAT_NV12, 0, size, 16, &s));
        assert_non_null(image_format_all(NULL));
}

int main(void) {
        static const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_is_consistent),
                cmocka_unit_test(test_format_constants),
                cmocka_unit_test(test_supported_pairs),
                cmocka_unit_test(test_non_tiled_single_plane),
                cmocka_unit_test(test_color_space_compatibility),
                cmocka_unit_test(test_color_space_rank),
                cmocka_unit_test(test_secure_compatible),
                cmocka_unit_test(test_minimum_row_bytes),
                cmocka_unit_test(test_minimum_row_bytes_zero_fields_mean_unset),
                cmocka_unit_test(test_layouts),
                cmocka_unit_test(test_planes_never_overlap),
                cmocka_unit_test(test_null_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
