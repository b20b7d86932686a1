/*
 * test-layout-doc.c: docs/layouts.md stays true. Its worked examples are generated from libsysmem's
 * sysmem_image_layout() (--print-layout-examples) and checked; and its formulas, transcribed here as
 * doc_layout() from the document (not from src/core), must give sysmem_image_layout()'s answer for every
 * format and modifier sysmem lays out, over a sweep of sizes and row rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include <sysmem/sysmem.h>

#include "core/image-format.h"
#include "core/names.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the document, transcribed: docs/layouts.md, "Formats" ---- */

enum doc_kind { ONE_PLANE, SEMI_PLANAR, PLANAR_420 };

struct doc_format {
        uint32_t fourcc;
        uint32_t bytes_per_pixel; /* of plane 0 */
        enum doc_kind kind;
        bool intel;               /* Intel X/Y/Yf tiling (with CCS) */
        bool afbc;
};

static const struct doc_format doc_formats[] = {
        {DRM_FORMAT_ARGB8888, 4, ONE_PLANE, true, true},     {DRM_FORMAT_XRGB8888, 4, ONE_PLANE, true, true},
        {DRM_FORMAT_ABGR8888, 4, ONE_PLANE, true, true},     {DRM_FORMAT_XBGR8888, 4, ONE_PLANE, true, true},
        {DRM_FORMAT_RGB888, 3, ONE_PLANE, false, false},     {DRM_FORMAT_BGR888, 3, ONE_PLANE, false, false},
        {DRM_FORMAT_RGB565, 2, ONE_PLANE, false, false},     {DRM_FORMAT_RGB332, 1, ONE_PLANE, false, false},
        {DRM_FORMAT_R8, 1, ONE_PLANE, false, false},         {DRM_FORMAT_GR88, 2, ONE_PLANE, false, false},
        {DRM_FORMAT_ARGB2101010, 4, ONE_PLANE, false, false}, {DRM_FORMAT_ABGR2101010, 4, ONE_PLANE, false, false},
        {DRM_FORMAT_XRGB2101010, 4, ONE_PLANE, false, false}, {DRM_FORMAT_XBGR2101010, 4, ONE_PLANE, false, false},
        {DRM_FORMAT_NV12, 1, SEMI_PLANAR, true, false},      {DRM_FORMAT_NV21, 1, SEMI_PLANAR, false, false},
        {DRM_FORMAT_P010, 2, SEMI_PLANAR, false, false},     {DRM_FORMAT_YUV420, 1, PLANAR_420, false, false},
        {DRM_FORMAT_YVU420, 1, PLANAR_420, false, false},    {DRM_FORMAT_YUYV, 2, ONE_PLANE, false, false},
};

static const struct doc_format *doc_format(uint32_t fourcc) {
        for (size_t i = 0; i < ARRAY_LEN(doc_formats); i++)
                if (doc_formats[i].fourcc == fourcc)
                        return &doc_formats[i];
        return NULL;
}

/* Plain arithmetic on unsigned __int128, so the transcription needs no overflow care of its own. */
__extension__ typedef unsigned __int128 u128;
static u128 div_ceil(u128 v, u128 d) { return (v + d - 1) / d; }
static u128 align_up(u128 v, u128 a) { return div_ceil(v, a) * a; }
static u128 max128(u128 a, u128 b) { return a > b ? a : b; }

struct intel_tiling {
        uint32_t tile_rows, tile_row_bytes;
        bool ccs;
};

static bool doc_intel(uint64_t modifier, struct intel_tiling *t) {
        switch (modifier) {
        case I915_FORMAT_MOD_X_TILED:
                *t = (struct intel_tiling){8, 512, false};
                return true;
        case I915_FORMAT_MOD_Y_TILED:
        case I915_FORMAT_MOD_Yf_TILED:
                *t = (struct intel_tiling){32, 128, false};
                return true;
        case I915_FORMAT_MOD_Y_TILED_CCS:
        case I915_FORMAT_MOD_Yf_TILED_CCS:
                *t = (struct intel_tiling){32, 128, true};
                return true;
        default:
                return false;
        }
}

struct afbc {
        uint32_t bw, bh, aw, ah, body_alignment;
};

static bool doc_afbc(uint64_t modifier, struct afbc *a) {
        /* Vendor ARM (0x08) in bits 56-63, ARM type AFBC (0) in bits 52-55, the AFBC mode below. */
        if ((modifier >> 56) != 0x08 || ((modifier >> 52) & 0xf) != 0)
                return false;
        uint64_t mode = modifier & 0x000fffffffffffffull;
        /* Block size (bits 0-3), then only YTR 0x10, SPLIT 0x20, SPARSE 0x40, TILED 0x100, BCH 0x800. */
        if (mode & ~(0xfull | 0x10 | 0x20 | 0x40 | 0x100 | 0x800))
                return false;
        bool tiled = mode & 0x100;
        switch (mode & 0xf) {
        case 1:
                *a = (struct afbc){16, 16, tiled ? 128 : 16, tiled ? 128 : 16, 0};
                break;
        case 2:
                *a = (struct afbc){32, 8, tiled ? 256 : 32, tiled ? 64 : 8, 0};
                break;
        default:
                return false;
        }
        a->body_alignment = tiled ? 4096 : 1024;
        return true;
}

struct doc_plane {
        u128 offset, bytes_per_row, size;
};

/* The layout as docs/layouts.md computes it: -EINVAL, -EOPNOTSUPP, -EOVERFLOW or the plane count. */
static int doc_layout(const struct sysmem_image_format_settings *s, uint32_t width, uint32_t height,
                      struct doc_plane planes[4], u128 *total) {
        /* "Checks" */
        u128 aw = s->size_alignment.width ? s->size_alignment.width : 1;
        u128 ah = s->size_alignment.height ? s->size_alignment.height : 1;
        u128 max_w = s->max_size.width ? s->max_size.width : UINT32_MAX;
        u128 max_h = s->max_size.height ? s->max_size.height : UINT32_MAX;
        if (width == 0 || height == 0 || width < s->min_size.width || width > max_w ||
            height < s->min_size.height || height > max_h || width % aw || height % ah)
                return -EINVAL;
        if (s->max_width_times_height && (u128)width * height > s->max_width_times_height)
                return -EINVAL;
        const struct doc_format *f = doc_format(s->pixel_format);
        struct intel_tiling t;
        struct afbc a;
        bool linear = s->pixel_format_modifier == DRM_FORMAT_MOD_LINEAR;
        bool intel = f && f->intel && doc_intel(s->pixel_format_modifier, &t);
        bool afbc = f && f->afbc && doc_afbc(s->pixel_format_modifier, &a);
        if (!f || !(linear || intel || afbc))
                return -EOPNOTSUPP;

        /* "Row bytes" */
        u128 max_bpr = s->max_bytes_per_row ? s->max_bytes_per_row : UINT32_MAX;
        u128 divisor = s->bytes_per_row_divisor ? s->bytes_per_row_divisor : 1;
        u128 bpr;
        if (afbc) {
                bpr = div_ceil(width, a.aw) * a.bw * 4;
        } else {
                if (intel)
                        divisor = align_up(divisor, t.tile_row_bytes);
                bpr = align_up(max128((u128)f->bytes_per_pixel * width, s->min_bytes_per_row), divisor);
        }
        if (bpr > max_bpr)
                return -EINVAL;

        memset(planes, 0, 4 * sizeof planes[0]);
        int count;
        u128 h = height, half = div_ceil(height, 2);
        if (afbc) {
                /* "ARM AFBC" */
                u128 blocks = (align_up(width, a.aw) / a.bw) * (align_up(height, a.ah) / a.bh);
                planes[0].size = align_up(blocks * 16, a.body_alignment) + blocks * a.bw * a.bh * 4;
                *total = planes[0].size;
                count = 1;
        } else if (intel) {
                /* "Intel X, Y and Yf tiling, with CCS" */
                u128 width_tiles = div_ceil(bpr, t.tile_row_bytes), height_tiles = 0, offset = 0;
                int data = f->kind == SEMI_PLANAR ? 2 : 1;
                for (int p = 0; p < data; p++) {
                        height_tiles = div_ceil(p == 0 ? h : half, t.tile_rows);
                        planes[p] = (struct doc_plane){offset, width_tiles * t.tile_row_bytes,
                                                       width_tiles * height_tiles * 4096};
                        offset += planes[p].size;
                }
                count = data;
                if (t.ccs) {
                        u128 ccs_w = div_ceil(width_tiles, 32), ccs_h = div_ceil(height_tiles, 16);
                        planes[3] = (struct doc_plane){offset, ccs_w * 128, ccs_w * ccs_h * 4096};
                        offset += planes[3].size;
                        count = 4;
                }
                *total = offset;
        } else if (f->kind == ONE_PLANE) {
                /* "Linear" */
                planes[0] = (struct doc_plane){0, bpr, h * bpr};
                *total = h * bpr;
                count = 1;
        } else if (f->kind == SEMI_PLANAR) {
                planes[0] = (struct doc_plane){0, bpr, h * bpr};
                planes[1] = (struct doc_plane){h * bpr, bpr, half * bpr};
                *total = max128(h * bpr + half * bpr, h * bpr * 3 / 2);
                count = 2;
        } else {
                u128 c = bpr / 2;
                planes[0] = (struct doc_plane){0, bpr, h * bpr};
                planes[1] = (struct doc_plane){h * bpr, c, half * c};
                planes[2] = (struct doc_plane){h * bpr + half * c, c, half * c};
                *total = max128(h * bpr + 2 * half * c, h * bpr * 3 / 2);
                count = 3;
        }
        /* "Overflow": every offset and size within 64 bits, every stride within 32. */
        for (int p = 0; p < 4; p++)
                if (planes[p].offset + planes[p].size > UINT64_MAX || planes[p].bytes_per_row > UINT32_MAX)
                        return -EOVERFLOW;
        if (*total > UINT64_MAX)
                return -EOVERFLOW;
        return count;
}

/* ---- cases ---- */

#define AFBC_MOD(mode) DRM_FORMAT_MOD_ARM_AFBC(mode)
#define AFBC16 AFBC_FORMAT_MOD_BLOCK_SIZE_16x16
#define AFBC32 AFBC_FORMAT_MOD_BLOCK_SIZE_32x8

static struct sysmem_image_format_settings plain(uint32_t fourcc, uint64_t modifier) {
        return (struct sysmem_image_format_settings){
                .pixel_format = fourcc,
                .pixel_format_modifier = modifier,
                .color_space = SYSMEM_COLOR_SPACE_PASSTHROUGH,
        };
}

struct example {
        uint32_t fourcc;
        uint64_t modifier;
        uint32_t width, height;
        uint32_t bytes_per_row_divisor, min_bytes_per_row;
};

static const struct example examples[] = {
        {DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR, 1920, 1080, 0, 0},
        {DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 101, 7, 64, 0},
        {DRM_FORMAT_RGB888, DRM_FORMAT_MOD_LINEAR, 600, 1, 32, 1800},
        {DRM_FORMAT_YUYV, DRM_FORMAT_MOD_LINEAR, 640, 480, 0, 0},
        {DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR, 1920, 1080, 0, 0},
        {DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR, 100, 101, 64, 0},
        {DRM_FORMAT_P010, DRM_FORMAT_MOD_LINEAR, 1280, 720, 0, 0},
        {DRM_FORMAT_YUV420, DRM_FORMAT_MOD_LINEAR, 1920, 1080, 0, 0},
        {DRM_FORMAT_YVU420, DRM_FORMAT_MOD_LINEAR, 99, 99, 0, 0},
        {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_X_TILED, 1920, 1080, 0, 0},
        {DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED, 1920, 1080, 0, 0},
        {DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_Y_TILED_CCS, 1920, 1080, 0, 0},
        {DRM_FORMAT_NV12, I915_FORMAT_MOD_Y_TILED, 1920, 1080, 0, 0},
        {DRM_FORMAT_NV12, I915_FORMAT_MOD_Yf_TILED_CCS, 1920, 1080, 0, 0},
        {DRM_FORMAT_ABGR8888, AFBC_MOD(AFBC16), 1920, 1080, 0, 0},
        {DRM_FORMAT_ABGR8888,
         AFBC_MOD(AFBC16 | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_TILED),
         1920, 1080, 0, 0},
        {DRM_FORMAT_ARGB8888, AFBC_MOD(AFBC32), 1920, 1080, 0, 0},
        {DRM_FORMAT_ARGB8888, AFBC_MOD(AFBC32 | AFBC_FORMAT_MOD_TILED), 1920, 1080, 0, 0},
};

static void print_layout_examples(FILE *f) {
        fprintf(f, "| format | modifier | width × height | `bytes_per_row_divisor`, `min_bytes_per_row` | plane: "
                   "offset, bytes_per_row, size_bytes | total_size_bytes |\n");
        fprintf(f, "| --- | --- | --- | --- | --- | --- |\n");
        for (size_t i = 0; i < ARRAY_LEN(examples); i++) {
                const struct example *e = &examples[i];
                struct sysmem_image_format_settings s = plain(e->fourcc, e->modifier);
                s.bytes_per_row_divisor = e->bytes_per_row_divisor;
                s.min_bytes_per_row = e->min_bytes_per_row;
                struct sysmem_plane_layout l;
                assert_int_equal(sysmem_image_layout(&s, e->width, e->height, &l), 0);
                char mod[CORE_MODIFIER_NAME_SIZE];
                core_modifier_format(e->modifier, mod, sizeof mod);
                fprintf(f, "| `%s` | `", core_pixel_format_name(e->fourcc));
                for (const char *c = mod; *c; c++) /* a '|' would end the table cell */
                        fprintf(f, *c == '|' ? "\\|" : "%c", *c);
                fprintf(f, "` | %" PRIu32 " × %" PRIu32 " | %" PRIu32 ", %" PRIu32 " | ", e->width, e->height,
                        e->bytes_per_row_divisor, e->min_bytes_per_row);
                for (uint32_t p = 0; p < l.plane_count; p++)
                        fprintf(f, "%s%" PRIu32 ": %" PRIu64 ", %" PRIu32 ", %" PRIu64, p ? "; " : "", p, l.offset[p],
                                l.bytes_per_row[p], l.size_bytes[p]);
                fprintf(f, " | %" PRIu64 " |\n", l.total_size_bytes);
        }
}

static char *print_to_string(void (*print)(FILE *f)) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        assert_non_null(f);
        print(f);
        assert_int_equal(fclose(f), 0);
        return s;
}

static char *read_file(const char *path) {
        FILE *in = fopen(path, "re");
        if (!in)
                return NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        assert_non_null(out);
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
                fwrite(chunk, 1, got, out);
        fclose(in);
        assert_int_equal(fclose(out), 0);
        return text;
}

static void test_doc_examples_match_the_library(void **state) {
        (void)state;
        char *text = read_file(LAYOUTS_DOC);
        if (!text)
                fail_msg("cannot open %s: %s", LAYOUTS_DOC, strerror(errno));
        char *examples_text = print_to_string(print_layout_examples);
        bool ok = strstr(text, examples_text);
        free(text);
        free(examples_text);
        if (!ok)
                fail_msg("docs/layouts.md's examples no longer match sysmem_image_layout(): paste the output of "
                         "`test-layout-doc --print-layout-examples` between its GENERATED markers");
}

/* The document's format table is the library's: the same formats, bytes per pixel and plane counts. */
static void test_doc_formats_are_the_library_formats(void **state) {
        (void)state;
        uint32_t n;
        const struct image_format_info *all = image_format_all(&n);
        assert_int_equal(n, ARRAY_LEN(doc_formats));
        for (uint32_t i = 0; i < n; i++) {
                const struct doc_format *d = doc_format(all[i].fourcc);
                if (!d)
                        fail_msg("%s is not in docs/layouts.md's format table", all[i].name);
                assert_int_equal(d->bytes_per_pixel, all[i].stride_bytes_per_width_pixel);
        }
}

static void compare(const struct sysmem_image_format_settings *s, uint32_t w, uint32_t h) {
        struct sysmem_plane_layout got;
        memset(&got, 0xaa, sizeof got);
        int r = sysmem_image_layout(s, w, h, &got);
        struct doc_plane want[4];
        u128 total = 0;
        int count = doc_layout(s, w, h, want, &total);
        char mod[CORE_MODIFIER_NAME_SIZE];
        const char *fmt = core_pixel_format_name(s->pixel_format);
        if (count < 0) {
                if (r != count)
                        fail_msg("(%s, %s) %ux%u divisor %u min_bpr %u: library %d, document %d", fmt ? fmt : "?",
                                 core_modifier_format(s->pixel_format_modifier, mod, sizeof mod), w, h,
                                 s->bytes_per_row_divisor, s->min_bytes_per_row, r, count);
                return;
        }
        if (r != 0 || got.plane_count != (uint32_t)count || got.total_size_bytes != (uint64_t)total)
                fail_msg("(%s, %s) %ux%u divisor %u min_bpr %u: library %d, %u planes, %" PRIu64
                         " bytes; document %d planes, %" PRIu64 " bytes",
                         fmt ? fmt : "?", core_modifier_format(s->pixel_format_modifier, mod, sizeof mod), w, h,
                         s->bytes_per_row_divisor, s->min_bytes_per_row, r, got.plane_count, got.total_size_bytes,
                         count, (uint64_t)total);
        for (int p = 0; p < 4; p++) {
                bool used = p < count;
                /* Planes past plane_count, and the empty planes before a CCS plane, are all zero. */
                uint64_t off = used ? got.offset[p] : 0, size = used ? got.size_bytes[p] : 0;
                uint32_t bpr = used ? got.bytes_per_row[p] : 0;
                if (off != (uint64_t)want[p].offset || bpr != (uint32_t)want[p].bytes_per_row ||
                    size != (uint64_t)want[p].size)
                        fail_msg("(%s, %s) %ux%u divisor %u: plane %d is %" PRIu64 "/%u/%" PRIu64
                                 " in the library, %" PRIu64 "/%u/%" PRIu64 " in the document",
                                 fmt ? fmt : "?", core_modifier_format(s->pixel_format_modifier, mod, sizeof mod), w,
                                 h, s->bytes_per_row_divisor, p, off, bpr, size, (uint64_t)want[p].offset,
                                 (uint32_t)want[p].bytes_per_row, (uint64_t)want[p].size);
        }
}

/* Every modifier the document names, and some it rejects, for every format it names. */
static void test_doc_formulas_match_the_library(void **state) {
        (void)state;
        static const uint64_t afbc_flags[] = {
                0,
                AFBC_FORMAT_MOD_TILED,
                AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_YTR,
                AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_TILED |
                        AFBC_FORMAT_MOD_BCH,
                AFBC_FORMAT_MOD_CBR, /* rejected */
                AFBC_FORMAT_MOD_USM, /* rejected */
        };
        uint64_t modifiers[64];
        size_t nm = 0;
        modifiers[nm++] = DRM_FORMAT_MOD_LINEAR;
        modifiers[nm++] = I915_FORMAT_MOD_X_TILED;
        modifiers[nm++] = I915_FORMAT_MOD_Y_TILED;
        modifiers[nm++] = I915_FORMAT_MOD_Yf_TILED;
        modifiers[nm++] = I915_FORMAT_MOD_Y_TILED_CCS;
        modifiers[nm++] = I915_FORMAT_MOD_Yf_TILED_CCS;
        modifiers[nm++] = I915_FORMAT_MOD_4_TILED; /* only a device lays it out */
        modifiers[nm++] = AFBC_MOD(AFBC_FORMAT_MOD_BLOCK_SIZE_64x4);
        for (size_t i = 0; i < ARRAY_LEN(afbc_flags); i++) {
                modifiers[nm++] = AFBC_MOD(AFBC16 | afbc_flags[i]);
                modifiers[nm++] = AFBC_MOD(AFBC32 | afbc_flags[i]);
        }
        static const uint32_t sizes[] = {1,   2,   3,   7,   8,   15,  16,   17,   31,   33,   63,   64,  65,
                                         127, 128, 129, 255, 256, 257, 512, 513, 720, 1024, 1080, 1920, 2048, 4097};
        static const uint32_t divisors[] = {0, 2, 3, 64, 256, 1000};
        static const uint32_t min_bprs[] = {0, 100, 8192};
        uint32_t extra_formats[] = {DRM_FORMAT_NV16, fourcc_code('Z', 'Z', 'Z', 'Z')};
        size_t cases = 0;
        for (size_t fi = 0; fi < ARRAY_LEN(doc_formats) + ARRAY_LEN(extra_formats); fi++) {
                uint32_t fourcc = fi < ARRAY_LEN(doc_formats) ? doc_formats[fi].fourcc
                                                              : extra_formats[fi - ARRAY_LEN(doc_formats)];
                for (size_t mi = 0; mi < nm; mi++)
                        for (size_t wi = 0; wi < ARRAY_LEN(sizes); wi++)
                                for (size_t hi = 0; hi < ARRAY_LEN(sizes); hi++)
                                        for (size_t di = 0; di < ARRAY_LEN(divisors); di++)
                                                for (size_t bi = 0; bi < ARRAY_LEN(min_bprs); bi++) {
                                                        struct sysmem_image_format_settings s =
                                                                plain(fourcc, modifiers[mi]);
                                                        s.bytes_per_row_divisor = divisors[di];
                                                        s.min_bytes_per_row = min_bprs[bi];
                                                        compare(&s, sizes[wi], sizes[hi]);
                                                        cases++;
                                                }
        }
        /* The checks before any layout: ranges, alignment, area, max_bytes_per_row, overflow. */
        struct sysmem_image_format_settings s = plain(DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR);
        s.min_size = (struct sysmem_size){64, 64};
        s.max_size = (struct sysmem_size){1024, 512};
        s.size_alignment = (struct sysmem_size){4, 2};
        s.max_width_times_height = 300000;
        s.max_bytes_per_row = 1000;
        static const uint32_t check_sizes[] = {0, 2, 62, 63, 64, 66, 512, 513, 600, 1000, 1024, 1028};
        for (size_t wi = 0; wi < ARRAY_LEN(check_sizes); wi++)
                for (size_t hi = 0; hi < ARRAY_LEN(check_sizes); hi++)
                        compare(&s, check_sizes[wi], check_sizes[hi]);
        struct sysmem_image_format_settings big = plain(DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR);
        compare(&big, UINT32_MAX, UINT32_MAX);
        compare(&big, UINT32_MAX / 4, UINT32_MAX);
        big.pixel_format_modifier = I915_FORMAT_MOD_Y_TILED_CCS;
        compare(&big, UINT32_MAX / 4 - 1000, UINT32_MAX);
        big.pixel_format_modifier = AFBC_MOD(AFBC16 | AFBC_FORMAT_MOD_TILED);
        compare(&big, 1u << 26, UINT32_MAX);
        assert_true(cases > 100000);
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "--print-layout-examples") == 0) {
                print_layout_examples(stdout);
                return 0;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_doc_formats_are_the_library_formats),
                cmocka_unit_test(test_doc_formulas_match_the_library),
                cmocka_unit_test(test_doc_examples_match_the_library),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
