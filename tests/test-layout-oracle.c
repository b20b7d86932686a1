/* test-layout-oracle.c: our LINEAR strides, plane offsets and sizes checked against libavutil, independent oracle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/pixfmt.h>

#include "common/macros.h"
#include "core/image-format.h"

/*
 * DRM fourcc → libavutil pixel format with the same memory layout on little-endian machines (linux-landscape.md
 * §3.2). plane[i] is the libavutil plane that holds our plane i: YVU420 is yuv420p with U and V swapped.
 */
struct oracle_format {
        uint32_t fourcc;
        enum AVPixelFormat av;
        uint32_t plane[SYSMEM_MAX_PLANES];
};

static const struct oracle_format oracle_formats[] = {
        {DRM_FORMAT_ARGB8888, AV_PIX_FMT_BGRA, {0}},
        {DRM_FORMAT_XRGB8888, AV_PIX_FMT_BGR0, {0}},
        {DRM_FORMAT_ABGR8888, AV_PIX_FMT_RGBA, {0}},
        {DRM_FORMAT_XBGR8888, AV_PIX_FMT_RGB0, {0}},
        {DRM_FORMAT_RGB888, AV_PIX_FMT_BGR24, {0}},
        {DRM_FORMAT_BGR888, AV_PIX_FMT_RGB24, {0}},
        {DRM_FORMAT_RGB565, AV_PIX_FMT_RGB565LE, {0}},
        {DRM_FORMAT_RGB332, AV_PIX_FMT_RGB8, {0}},
        {DRM_FORMAT_R8, AV_PIX_FMT_GRAY8, {0}},
        /*
         * libavutil has no two-channel R,G format; YA8 (grey + alpha) is one plane of 2 bytes a pixel, which is all
         * a layout check reads. The channel meanings differ and are not checked.
         */
        {DRM_FORMAT_GR88, AV_PIX_FMT_YA8, {0}},
        /* libavutil 57 has only the X2 forms; the two top bits are alpha for us, padding for it: same layout. */
        {DRM_FORMAT_ARGB2101010, AV_PIX_FMT_X2RGB10LE, {0}},
        {DRM_FORMAT_ABGR2101010, AV_PIX_FMT_X2BGR10LE, {0}},
        {DRM_FORMAT_XRGB2101010, AV_PIX_FMT_X2RGB10LE, {0}},
        {DRM_FORMAT_XBGR2101010, AV_PIX_FMT_X2BGR10LE, {0}},
        {DRM_FORMAT_NV12, AV_PIX_FMT_NV12, {0, 1}},
        {DRM_FORMAT_NV21, AV_PIX_FMT_NV21, {0, 1}},
        {DRM_FORMAT_YUV420, AV_PIX_FMT_YUV420P, {0, 1, 2}},
        {DRM_FORMAT_YVU420, AV_PIX_FMT_YUV420P, {0, 2, 1}},
        {DRM_FORMAT_P010, AV_PIX_FMT_P010LE, {0, 1}},
        {DRM_FORMAT_YUYV, AV_PIX_FMT_YUYV422, {0}},
};

/* Even widths from 2 to 4100: every small one, common video sizes, and primes times 2 (no power-of-two luck). */
static const uint32_t even_widths[] = {
        2,    4,    6,    8,    10,   12,   14,   16,   18,   20,   22,   24,   26,   28,   30,   32,   34,
        36,   38,   40,   42,   44,   46,   48,   50,   52,   54,   56,   58,   60,   62,   64,   94,   122,
        126,  128,  130,  178,  254,  256,  262,  322,  480,  482,  502,  640,  718,  1000, 1018, 1280, 1366,
        1920, 2046, 2048, 2050, 2062, 3440, 3840, 4078, 4094, 4096, 4098, 4100,
};
/* Odd widths, only for formats without horizontal subsampling (width_min_divisor 1). */
static const uint32_t odd_widths[] = {1, 3, 5, 7, 9, 17, 33, 101, 641, 1023, 1921, 4097};
/*
 * Heights include odd ones for every format: 4:2:0 formats want even heights (height_min_divisor 2), but our
 * layout gives odd heights ceil(h/2) chroma rows and this is where that rule meets libavutil's.
 */
static const uint32_t heights[] = {1,  2,  3,  4,   7,   8,   15,  16,  17,   31,   32,   33,   63,
                                   64, 65, 100, 101, 241, 480, 481, 720, 1080, 1081, 2160, 4097, 4100};
static const uint32_t divisors[] = {1, 2, 4, 16, 64, 256};

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static const struct oracle_format *oracle_for(uint32_t fourcc) {
        for (size_t i = 0; i < ARRAY_LEN(oracle_formats); i++)
                if (oracle_formats[i].fourcc == fourcc)
                        return &oracle_formats[i];
        return NULL;
}

/* Every format the library knows must be in the map, so a new format cannot slip past the oracle. */
static void test_every_format_has_an_oracle(void **state) {
        (void)state;
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        for (uint32_t i = 0; i < n; i++) {
                const struct oracle_format *o = oracle_for(all[i].fourcc);
                if (!o)
                        print_error("%s has no libavutil counterpart in oracle_formats\n", all[i].name);
                assert_non_null(o);
                const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(o->av);
                assert_non_null(d);
                /* A palette would add a plane the layout does not describe. */
                assert_false(d->flags & AV_PIX_FMT_FLAG_PAL);
        }
}

struct tally {
        unsigned long cases;
        unsigned long formats;
};

static void check_one(const struct oracle_format *o, const struct image_format_info *f, uint32_t w, uint32_t h,
                      uint32_t divisor) {
        struct sysmem_image_format_settings c = {
                .pixel_format = f->fourcc,
                .pixel_format_modifier = DRM_FORMAT_MOD_LINEAR,
                .max_size = {UINT32_MAX, UINT32_MAX},
                .max_bytes_per_row = UINT32_MAX,
                .size_alignment = {1, 1},
                .bytes_per_row_divisor = divisor,
        };
        uint32_t bpr;
        assert_true(image_format_minimum_row_bytes(&c, w, &bpr));

        /* libavutil's tight (unpadded) row sizes for this width. */
        int tight[4];
        assert_true(av_image_fill_linesizes(tight, o->av, (int)w) >= 0);
        /* Our stride is the packed stride rounded up to the divisor, and exactly the packed one for divisor 1. */
        assert_int_equal(bpr, round_up((uint64_t)av_image_get_linesize(o->av, (int)w, 0), divisor));
        if (divisor == 1)
                assert_int_equal(bpr, av_image_get_linesize(o->av, (int)w, 0));

        struct sysmem_plane_layout l;
        struct sysmem_size size = {w, h};
        assert_true(image_format_plane_layout(f->fourcc, DRM_FORMAT_MOD_LINEAR, size, bpr, &l));
        assert_int_equal(l.plane_count, av_pix_fmt_count_planes(o->av));

        /* Hand libavutil the SAME strides we chose, in its plane order, and let it size and place the planes. */
        ptrdiff_t linesizes[4] = {0};
        for (uint32_t p = 0; p < l.plane_count; p++) {
                uint32_t a = o->plane[p];
                linesizes[a] = l.bytes_per_row[p];
                /* Every row is wide enough for its samples; with divisor 1 it is exactly the tight size. */
                assert_true(l.bytes_per_row[p] >= (uint32_t)tight[a]);
                if (divisor == 1)
                        assert_int_equal(l.bytes_per_row[p], tight[a]);
        }
        size_t sizes[4];
        assert_true(av_image_fill_plane_sizes(sizes, o->av, (int)h, linesizes) >= 0);

        /* av_image_fill_pointers places planes back to back in its order; ours go back to back in ours. */
        uint64_t offset = 0;
        for (uint32_t p = 0; p < l.plane_count; p++) {
                size_t s = sizes[o->plane[p]];
                assert_int_equal(l.offset[p], offset);
                assert_int_equal(l.size_bytes[p], s);
                offset += s;
        }
        /*
         * Exactly the sum of the planes: our size is max(Fuchsia's h×bpr×3/2, end of last plane), and the former
         * only wins for an odd YUV420 bpr, which even widths (width_min_divisor 2) never produce.
         */
        assert_int_equal(l.total_size_bytes, offset);
        uint64_t image_size;
        assert_true(image_format_image_size(f->fourcc, DRM_FORMAT_MOD_LINEAR, size, bpr, &image_size));
        assert_int_equal(image_size, offset);
}

static void test_linear_layouts_match_libavutil(void **state) {
        (void)state;
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        struct tally t = {0};
        for (uint32_t i = 0; i < n; i++) {
                const struct oracle_format *o = oracle_for(all[i].fourcc);
                assert_non_null(o);
                t.formats++;
                unsigned long before = t.cases;
                for (int odd = 0; odd < 2; odd++) {
                        const uint32_t *widths = odd ? odd_widths : even_widths;
                        size_t width_count = odd ? ARRAY_LEN(odd_widths) : ARRAY_LEN(even_widths);
                        if (odd && all[i].width_min_divisor != 1)
                                continue;
                        for (size_t wi = 0; wi < width_count; wi++)
                                for (size_t hi = 0; hi < ARRAY_LEN(heights); hi++)
                                        for (size_t di = 0; di < ARRAY_LEN(divisors); di++, t.cases++)
                                                check_one(o, &all[i], widths[wi], heights[hi], divisors[di]);
                }
                print_message("%-12s -> %-12s %lu cases\n", all[i].name, av_get_pix_fmt_name(o->av),
                              t.cases - before);
        }
        print_message("%lu (width, height, divisor) cases over %lu formats agree with libavutil %s\n", t.cases,
                      t.formats, AV_STRINGIFY(LIBAVUTIL_VERSION));
        assert_true(t.cases > 100000);
}

/* The pointer form: a real buffer of our image size, filled by av_image_fill_pointers, lands planes at our offsets. */
static void test_fill_pointers_agree(void **state) {
        (void)state;
        static const struct sysmem_size sizes[] = {{2, 2}, {64, 48}, {642, 361}, {1920, 1080}};
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        for (uint32_t i = 0; i < n; i++) {
                const struct oracle_format *o = oracle_for(all[i].fourcc);
                assert_non_null(o);
                for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
                        struct sysmem_image_format_settings c = {
                                .pixel_format = all[i].fourcc,
                                .bytes_per_row_divisor = 64,
                        };
                        uint32_t bpr;
                        uint64_t image_size;
                        struct sysmem_plane_layout l;
                        assert_true(image_format_minimum_row_bytes(&c, sizes[s].width, &bpr));
                        assert_true(image_format_plane_layout(all[i].fourcc, 0, sizes[s], bpr, &l));
                        assert_true(image_format_image_size(all[i].fourcc, 0, sizes[s], bpr, &image_size));
                        /*
                         * Memory order, not plane names: libavutil puts its planes in its own order, so YVU420's V
                         * plane sits where yuv420p's U plane does (both chroma planes are the same size).
                         */
                        int linesizes[4] = {0};
                        for (uint32_t p = 0; p < l.plane_count; p++)
                                linesizes[p] = (int)l.bytes_per_row[p];
                        uint8_t *buffer = malloc(image_size), *data[4];
                        assert_non_null(buffer);
                        int total = av_image_fill_pointers(data, o->av, (int)sizes[s].height, buffer, linesizes);
                        assert_int_equal(total, image_size);
                        for (uint32_t p = 0; p < l.plane_count; p++)
                                assert_int_equal(data[p] - buffer, l.offset[p]);
                        free(buffer);
                }
        }
}

int main(void) {
        static const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_format_has_an_oracle),
                cmocka_unit_test(test_linear_layouts_match_libavutil),
                cmocka_unit_test(test_fill_pointers_agree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
