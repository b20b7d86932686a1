/*
 * test-format-info.c: libsysmem's image-format queries (sysmem_format_get_info, sysmem_format_is_supported,
 * sysmem_formats_equal, sysmem_image_min_bytes_per_row), table-driven: against src/core's table and layout
 * code, and against expectations written out independently (sysmem-aggregation.md §7).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <sysmem/sysmem.h>

#include "common/macros.h"
#include "core/image-format.h"

#define LINEAR DRM_FORMAT_MOD_LINEAR
#define AFBC16 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16)
#define AFBC32 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8)
#define AMD_GFX9_64K_S                                                                                                 \
        (AMD_FMT_MOD | AMD_FMT_MOD_SET(TILE_VERSION, AMD_FMT_MOD_TILE_VER_GFX9) |                                      \
         AMD_FMT_MOD_SET(TILE, AMD_FMT_MOD_TILE_GFX9_64K_S))

/* Every modifier family sysmem lays out, and some it does not. */
static const uint64_t modifiers[] = {
        LINEAR,
        I915_FORMAT_MOD_X_TILED,
        I915_FORMAT_MOD_Y_TILED,
        I915_FORMAT_MOD_Yf_TILED,
        I915_FORMAT_MOD_Y_TILED_CCS,
        I915_FORMAT_MOD_Yf_TILED_CCS,
        I915_FORMAT_MOD_4_TILED,
        AFBC16,
        AFBC32,
        AFBC16 | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_TILED,
        AMD_GFX9_64K_S,
        DRM_FORMAT_MOD_NVIDIA_16BX2_BLOCK(2),
};

/* Written out by hand from the reference tables, not from src/core. */
struct expected {
        uint32_t fourcc;
        uint64_t modifier;
        const char *name;
        uint32_t planes, bpp, bytes_pp, wdiv, hdiv, align, bits_per_sample;
        bool rgb, yuv, alpha, single_plane;
};

static const struct expected expected[] = {
        {DRM_FORMAT_ARGB8888, LINEAR, "ARGB8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, true},
        {DRM_FORMAT_XRGB8888, LINEAR, "XRGB8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, true},
        {DRM_FORMAT_ABGR8888, LINEAR, "ABGR8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, true},
        {DRM_FORMAT_RGB888, LINEAR, "RGB888", 1, 24, 3, 1, 1, 1, 8, true, false, false, true},
        {DRM_FORMAT_RGB565, LINEAR, "RGB565", 1, 16, 2, 1, 1, 2, 8, true, false, false, true},
        {DRM_FORMAT_R8, LINEAR, "R8", 1, 8, 1, 1, 1, 1, 8, true, true, false, true},
        {DRM_FORMAT_GR88, LINEAR, "GR88", 1, 16, 2, 1, 1, 2, 8, true, false, false, true},
        {DRM_FORMAT_ABGR2101010, LINEAR, "ABGR2101010", 1, 32, 4, 1, 1, 4, 8, true, false, true, true},
        {DRM_FORMAT_NV12, LINEAR, "NV12", 2, 12, 1, 2, 2, 2, 8, false, true, false, false},
        {DRM_FORMAT_NV21, LINEAR, "NV21", 2, 12, 1, 2, 2, 2, 8, false, true, false, false},
        {DRM_FORMAT_YUV420, LINEAR, "YUV420", 3, 12, 1, 2, 2, 2, 8, false, true, false, false},
        {DRM_FORMAT_YVU420, LINEAR, "YVU420", 3, 12, 1, 2, 2, 2, 8, false, true, false, false},
        /* Fuchsia's figures: 15 bits per pixel, and "single plane" although it has two. */
        {DRM_FORMAT_P010, LINEAR, "P010", 2, 15, 2, 2, 2, 4, 10, false, true, false, true},
        {DRM_FORMAT_YUYV, LINEAR, "YUYV", 1, 16, 2, 2, 2, 2, 8, false, true, false, false},
        {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, "ARGB8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, false},
        {DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_Y_TILED_CCS, "XRGB8888", 4, 32, 4, 1, 1, 4, 8, true, false, true, false},
        {DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, "NV12", 2, 12, 1, 2, 2, 2, 8, false, true, false, false},
        {DRM_FORMAT_ABGR8888, AFBC16, "ABGR8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, false},
        {DRM_FORMAT_XBGR8888, AFBC32, "XBGR8888", 1, 32, 4, 1, 1, 4, 8, true, false, true, false},
};

static void test_expected_values(void **state) {
        (void)state;
        for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
                const struct expected *e = &expected[i];
                struct sysmem_format_info info;
                memset(&info, 0xa5, sizeof info);
                int r = sysmem_format_get_info(e->fourcc, e->modifier, &info);
                if (r != 0)
                        fail_msg("%s/%#llx: %d", e->name, (unsigned long long)e->modifier, r);
                assert_true(sysmem_format_is_supported(e->fourcc, e->modifier));
                assert_int_equal(info.pixel_format, e->fourcc);
                assert_true(info.pixel_format_modifier == e->modifier);
                assert_string_equal(info.name, e->name);
                assert_int_equal(info.plane_count, e->planes);
                assert_int_equal(info.bits_per_pixel, e->bpp);
                assert_int_equal(info.bytes_per_pixel, e->bytes_pp);
                assert_int_equal(info.width_divisor, e->wdiv);
                assert_int_equal(info.height_divisor, e->hdiv);
                assert_int_equal(info.sample_alignment, e->align);
                assert_int_equal(info.bits_per_sample, e->bits_per_sample);
                assert_int_equal(info.is_rgb, e->rgb);
                assert_int_equal(info.is_yuv, e->yuv);
                assert_int_equal(info.has_alpha_or_x, e->alpha);
                assert_int_equal(info.is_non_tiled_single_plane, e->single_plane);
        }
}

static struct sysmem_image_format_settings settings(uint32_t fourcc, uint64_t modifier) {
        return (struct sysmem_image_format_settings){
                .pixel_format = fourcc,
                .pixel_format_modifier = modifier,
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

/* Every known format with every modifier: the answers are src/core's, and agree with sysmem_image_layout(). */
static void test_against_core_table(void **state) {
        (void)state;
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        assert_true(n > 0);
        for (uint32_t i = 0; i < n; i++) {
                const struct image_format_info *f = &all[i];
                for (size_t m = 0; m < ARRAY_LEN(modifiers); m++) {
                        uint64_t mod = modifiers[m];
                        bool supported = image_format_is_supported(f->fourcc, mod);
                        assert_int_equal(sysmem_format_is_supported(f->fourcc, mod), supported);
                        struct sysmem_format_info info;
                        int r = sysmem_format_get_info(f->fourcc, mod, &info);
                        if (!supported) {
                                assert_int_equal(r, -EOPNOTSUPP);
                                continue;
                        }
                        assert_int_equal(r, 0);
                        assert_string_equal(info.name, f->name);
                        assert_int_equal(info.bits_per_pixel, f->bits_per_pixel);
                        assert_int_equal(info.bytes_per_pixel, f->stride_bytes_per_width_pixel);
                        assert_int_equal(info.width_divisor, f->width_min_divisor);
                        assert_int_equal(info.height_divisor, f->height_min_divisor);
                        assert_int_equal(info.sample_alignment, f->sample_alignment);
                        assert_int_equal(info.bits_per_sample, f->bits_per_sample);
                        assert_int_equal(info.is_rgb, f->is_rgb);
                        assert_int_equal(info.is_yuv, f->is_yuv);
                        assert_int_equal(info.has_alpha_or_x, f->has_alpha_or_x);
                        assert_int_equal(info.is_non_tiled_single_plane,
                                         image_format_is_non_tiled_single_plane(f->fourcc, mod));
                        /* The plane count and the minimum row bytes are those sysmem_image_layout() uses. */
                        struct sysmem_image_format_settings s = settings(f->fourcc, mod);
                        struct sysmem_plane_layout layout;
                        assert_int_equal(sysmem_image_layout(&s, 128, 96, &layout), 0);
                        assert_int_equal(info.plane_count, layout.plane_count);
                        uint32_t bpr = 0, core_bpr = 0;
                        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 128, &bpr), 0);
                        assert_true(image_format_minimum_row_bytes(&s, 128, &core_bpr));
                        assert_int_equal(bpr, core_bpr);
                        assert_int_equal(bpr, layout.bytes_per_row[0] ? layout.bytes_per_row[0] : bpr);
                }
        }
}

static void test_errors(void **state) {
        (void)state;
        struct sysmem_format_info info, untouched;
        memset(&info, 0x5a, sizeof info);
        untouched = info;
        struct {
                uint32_t fourcc;
                uint64_t modifier;
                int want;
        } cases[] = {
                {DRM_FORMAT_C8, LINEAR, -ENOENT},
                {fourcc_code('Z', 'Z', 'Z', 'Z'), LINEAR, -ENOENT},
                {DRM_FORMAT_C8, AMD_GFX9_64K_S, -ENOENT},
                {DRM_FORMAT_XRGB8888, AMD_GFX9_64K_S, -EOPNOTSUPP},
                {DRM_FORMAT_NV12, AFBC16, -EOPNOTSUPP},
                {DRM_FORMAT_RGB565, I915_FORMAT_MOD_X_TILED, -EOPNOTSUPP},
                {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_4_TILED, -EOPNOTSUPP},
                {0, LINEAR, -EINVAL},
                {SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, LINEAR, -EINVAL},
                {DRM_FORMAT_NV12, SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE, -EINVAL},
                {DRM_FORMAT_NV12, SYSMEM_FORMAT_MODIFIER_INVALID, -EINVAL},
        };
        for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
                assert_int_equal(sysmem_format_get_info(cases[i].fourcc, cases[i].modifier, &info), cases[i].want);
                assert_memory_equal(&info, &untouched, sizeof info);
                assert_false(sysmem_format_is_supported(cases[i].fourcc, cases[i].modifier));
        }
        assert_int_equal(sysmem_format_get_info(DRM_FORMAT_NV12, LINEAR, NULL), -EINVAL);
}

static void test_formats_equal(void **state) {
        (void)state;
        const struct sysmem_pixel_format_and_modifier argb = {DRM_FORMAT_ARGB8888, LINEAR},
                                                      argb2 = {DRM_FORMAT_ARGB8888, 0},
                                                      argb_x = {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED},
                                                      xrgb = {DRM_FORMAT_XRGB8888, LINEAR},
                                                      dnc = {SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, LINEAR},
                                                      dnc2 = {SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, LINEAR},
                                                      argb_dnc = {DRM_FORMAT_ARGB8888,
                                                                  SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE};
        assert_true(sysmem_formats_equal(&argb, &argb));
        assert_true(sysmem_formats_equal(&argb, &argb2)); /* an unset modifier is LINEAR */
        assert_false(sysmem_formats_equal(&argb, &argb_x));
        assert_false(sysmem_formats_equal(&argb_x, &argb));
        assert_false(sysmem_formats_equal(&argb, &xrgb));
        /* DO_NOT_CARE is no wildcard here: it equals only itself. */
        assert_true(sysmem_formats_equal(&dnc, &dnc2));
        assert_false(sysmem_formats_equal(&dnc, &argb));
        assert_false(sysmem_formats_equal(&argb, &argb_dnc));
        assert_false(sysmem_formats_equal(&argb, NULL));
        assert_false(sysmem_formats_equal(NULL, &argb));
        assert_false(sysmem_formats_equal(NULL, NULL));
}

static void test_min_bytes_per_row(void **state) {
        (void)state;
        /* The reference's example: B8G8R8A8 (ARGB8888), divisor 32, width 17 gives 96; 11 and 101 are outside [12, 100]. */
        struct sysmem_image_format_settings s = settings(DRM_FORMAT_ARGB8888, LINEAR);
        s.bytes_per_row_divisor = 32;
        s.min_size = (struct sysmem_size){12, 1};
        s.max_size = (struct sysmem_size){100, 100};
        uint32_t bpr = 0;
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 17, &bpr), 0);
        assert_int_equal(bpr, 96);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 11, &bpr), -EINVAL);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 101, &bpr), -EINVAL);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 0, &bpr), -EINVAL);
        assert_int_equal(sysmem_image_min_bytes_per_row(NULL, 17, &bpr), -EINVAL);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 17, NULL), -EINVAL);
        s.max_bytes_per_row = 64;
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 17, &bpr), -EINVAL);
        /* NV12 linear: one byte per pixel of width. */
        s = settings(DRM_FORMAT_NV12, LINEAR);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 1920, &bpr), 0);
        assert_int_equal(bpr, 1920);
        /* Y tiling rounds up to whole 128-byte tile rows. */
        s = settings(DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_Y_TILED);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 33, &bpr), 0);
        assert_int_equal(bpr, 256);
        /* Pairs only a device lays out. */
        s = settings(DRM_FORMAT_XRGB8888, AMD_GFX9_64K_S);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 64, &bpr), -EOPNOTSUPP);
        s = settings(DRM_FORMAT_C8, LINEAR);
        assert_int_equal(sysmem_image_min_bytes_per_row(&s, 64, &bpr), -EOPNOTSUPP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_expected_values), cmocka_unit_test(test_against_core_table),
                cmocka_unit_test(test_errors),          cmocka_unit_test(test_formats_equal),
                cmocka_unit_test(test_min_bytes_per_row),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
