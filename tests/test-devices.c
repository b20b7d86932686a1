/*
 * test-devices.c: libsysmem-devices without devices: IN_FORMATS blobs built byte by byte (real vendors'
 * modifiers, unknown ones, hostile layouts), the V4L2 to DRM fourcc table, and the object's lifetime.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <drm_mode.h>
#include <linux/videodev2.h>

#include <sysmem/sysmem-devices.h>

#include "core/core.h"
#include "core/defaults.h"
#include "core/format-costs.h"

/* ---- building blobs: struct drm_format_modifier_blob, the u32 formats, then the drm_format_modifier array ---- */

#define HDR_SIZE 24u
#define MOD_SIZE 24u

struct blob {
        uint8_t *bytes;
        size_t size;
};

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

struct mod_spec {
        uint64_t formats; /* bitmask relative to offset */
        uint32_t offset;
        uint64_t modifier;
};

/* The layout the kernel writes (drm_plane.c create_in_format_blob): header, formats, then modifiers, 8-aligned. */
static struct blob make_blob(const uint32_t *formats, uint32_t nf, const struct mod_spec *mods, uint32_t nm) {
        uint32_t formats_offset = HDR_SIZE;
        uint32_t modifiers_offset = (formats_offset + nf * 4u + 7u) & ~7u;
        struct blob b = {.size = modifiers_offset + (size_t)nm * MOD_SIZE};
        b.bytes = calloc(1, b.size);
        assert_non_null(b.bytes);
        put32(b.bytes + 0, FORMAT_BLOB_CURRENT);
        put32(b.bytes + 4, 0);
        put32(b.bytes + 8, nf);
        put32(b.bytes + 12, formats_offset);
        put32(b.bytes + 16, nm);
        put32(b.bytes + 20, modifiers_offset);
        for (uint32_t i = 0; i < nf; i++)
                put32(b.bytes + formats_offset + 4 * i, formats[i]);
        for (uint32_t i = 0; i < nm; i++) {
                uint8_t *m = b.bytes + modifiers_offset + (size_t)i * MOD_SIZE;
                put64(m, mods[i].formats);
                put32(m + 8, mods[i].offset);
                put32(m + 12, 0);
                put64(m + 16, mods[i].modifier);
        }
        return b;
}

/* ---- real modifiers (drm_fourcc.h) ---- */

#define AMD_GFX9_64K_S_X                                                                                               \
        (AMD_FMT_MOD | AMD_FMT_MOD_SET(TILE_VERSION, AMD_FMT_MOD_TILE_VER_GFX9) |                                      \
         AMD_FMT_MOD_SET(TILE, AMD_FMT_MOD_TILE_GFX9_64K_S_X))
#define AMD_GFX10_RBPLUS_DCC                                                                                           \
        (AMD_FMT_MOD | AMD_FMT_MOD_SET(TILE_VERSION, AMD_FMT_MOD_TILE_VER_GFX10_RBPLUS) |                              \
         AMD_FMT_MOD_SET(TILE, AMD_FMT_MOD_TILE_GFX9_64K_R_X) | AMD_FMT_MOD_SET(DCC, 1) |                              \
         AMD_FMT_MOD_SET(DCC_INDEPENDENT_64B, 1) | AMD_FMT_MOD_SET(DCC_MAX_COMPRESSED_BLOCK, AMD_FMT_MOD_DCC_BLOCK_64B) | \
         AMD_FMT_MOD_SET(PIPE_XOR_BITS, 3) | AMD_FMT_MOD_SET(PACKERS, 3))
#define ARM_AFBC_16X16_SPARSE_YTR                                                                                      \
        DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | AFBC_FORMAT_MOD_SPARSE | AFBC_FORMAT_MOD_YTR)
#define NVIDIA_BL_2D DRM_FORMAT_MOD_NVIDIA_BLOCK_LINEAR_2D(0, 1, 2, 0xfe, 4)
#define UNKNOWN_MODIFIER ((0x7full << 56) | 0x1234u) /* vendor 0x7f: nobody's */
#define UNKNOWN_FOURCC fourcc_code('Q', 'Z', '9', '9')

static const struct sysmem_usage display_usage = {.display = SYSMEM_DISPLAY_USAGE_LAYER};

static bool has_cs(const struct sysmem_image_format_constraints *e, uint32_t cs) {
        for (uint32_t i = 0; i < e->color_space_count; i++)
                if (e->color_spaces[i] == cs)
                        return true;
        return false;
}

static void expect_entry(const struct sysmem_image_format_constraints *e, uint32_t fourcc, const uint64_t *mods,
                         uint32_t n) {
        assert_int_equal(e->pixel_format, 0); /* only the list */
        assert_false(e->has_pixel_format_modifier);
        assert_int_equal(e->pixel_format_and_modifier_count, n);
        for (uint32_t i = 0; i < n; i++) {
                assert_int_equal(e->pixel_format_and_modifiers[i].pixel_format, fourcc);
                assert_int_equal(e->pixel_format_and_modifiers[i].pixel_format_modifier, mods[i]);
        }
        assert_true(e->color_space_count >= 1);
}

/* Intel, AMD, ARM, NVIDIA and an unknown vendor's modifiers over four formats, one of them unknown. */
static void test_vendors(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_NV12, UNKNOWN_FOURCC};
        const struct mod_spec mods[] = {
                {0xf, 0, DRM_FORMAT_MOD_LINEAR},
                {0x3, 0, I915_FORMAT_MOD_X_TILED},
                {0x7, 0, I915_FORMAT_MOD_Y_TILED},
                {0x1, 0, I915_FORMAT_MOD_Y_TILED_CCS},
                {0x5, 0, I915_FORMAT_MOD_4_TILED},
                {0x1, 0, AMD_GFX9_64K_S_X},
                {0x2, 0, AMD_GFX10_RBPLUS_DCC},
                {0x3, 0, ARM_AFBC_16X16_SPARSE_YTR},
                {0x5, 0, NVIDIA_BL_2D},
                {0x9, 0, UNKNOWN_MODIFIER},
        };
        struct blob b = make_blob(formats, 4, mods, 10);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, &display_usage, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->usage.display, SYSMEM_DISPLAY_USAGE_LAYER);
        assert_int_equal(c->image_format_constraint_count, 4);

        const uint64_t xr24[] = {DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED,
                                 I915_FORMAT_MOD_Y_TILED_CCS, I915_FORMAT_MOD_4_TILED, AMD_GFX9_64K_S_X,
                                 ARM_AFBC_16X16_SPARSE_YTR, NVIDIA_BL_2D, UNKNOWN_MODIFIER};
        const uint64_t ar24[] = {DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED,
                                 AMD_GFX10_RBPLUS_DCC, ARM_AFBC_16X16_SPARSE_YTR};
        const uint64_t nv12[] = {DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_Y_TILED, I915_FORMAT_MOD_4_TILED,
                                 NVIDIA_BL_2D};
        const uint64_t unknown[] = {DRM_FORMAT_MOD_LINEAR, UNKNOWN_MODIFIER};
        expect_entry(&c->image_format_constraints[0], DRM_FORMAT_XRGB8888, xr24, 9);
        expect_entry(&c->image_format_constraints[1], DRM_FORMAT_ARGB8888, ar24, 5);
        expect_entry(&c->image_format_constraints[2], DRM_FORMAT_NV12, nv12, 4);
        expect_entry(&c->image_format_constraints[3], UNKNOWN_FOURCC, unknown, 2);

        /* Colour spaces the core accepts: SRGB for RGB, the YUV ones for NV12, PASSTHROUGH for the unknown. */
        assert_int_equal(c->image_format_constraints[0].color_space_count, 1);
        assert_int_equal(c->image_format_constraints[0].color_spaces[0], SYSMEM_COLOR_SPACE_SRGB);
        const struct sysmem_image_format_constraints *yuv = &c->image_format_constraints[2];
        assert_true(has_cs(yuv, SYSMEM_COLOR_SPACE_REC709));
        assert_true(has_cs(yuv, SYSMEM_COLOR_SPACE_REC601_NTSC));
        assert_true(has_cs(yuv, SYSMEM_COLOR_SPACE_REC601_PAL));
        assert_false(has_cs(yuv, SYSMEM_COLOR_SPACE_SRGB));
        assert_int_equal(c->image_format_constraints[3].color_space_count, 1);
        assert_int_equal(c->image_format_constraints[3].color_spaces[0], SYSMEM_COLOR_SPACE_PASSTHROUGH);

        const char *ex = sysmem_device_constraints_explain(dc);
        const char *const expected[] = {
                "format XR24 (0x34325258): 9 modifiers: LINEAR (0x0000000000000000), INTEL:X_TILED (0x0100000000000001)",
                "INTEL:Y_TILED_CCS", "INTEL:4_TILED", "AMD:GFX9,GFX9_64K_S_X", "AMD:GFX10_RBPLUS,GFX9_64K_R_X,DCC",
                "ARM:BLOCK_SIZE=16x16,MODE=YTR|SPARSE", "NVIDIA:BLOCK_LINEAR_2D", "unknown 0x7f00000000001234",
                "format NV12 (0x3231564e): 4 modifiers", "(0x39395a51): 2 modifiers",
                "sysmem does not know this format: colour space PASSTHROUGH",
        };
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
                if (!strstr(ex, expected[i]))
                        fail_msg("explain lacks \"%s\":\n%s", expected[i], ex);
        sysmem_device_constraints_free(dc);
        free(b.bytes);
}

/* The sliding window: a modifier's bits count from its offset (formats 64 and up). */
static void test_offset_window(void **state) {
        (void)state;
        uint32_t formats[70];
        for (uint32_t i = 0; i < 70; i++)
                formats[i] = fourcc_code('T', 'W', (char)('A' + i / 26), (char)('a' + i % 26));
        formats[69] = DRM_FORMAT_XRGB8888;
        const struct mod_spec mods[] = {{1ull << 5, 64, I915_FORMAT_MOD_X_TILED}, {1ull << 0, 0, DRM_FORMAT_MOD_LINEAR}};
        struct blob b = make_blob(formats, 70, mods, 2);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, NULL, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->image_format_constraint_count, 2); /* format 0 and format 69; the rest listed nothing */
        const uint64_t lin[] = {DRM_FORMAT_MOD_LINEAR}, x[] = {I915_FORMAT_MOD_X_TILED};
        expect_entry(&c->image_format_constraints[0], formats[0], lin, 1);
        expect_entry(&c->image_format_constraints[1], DRM_FORMAT_XRGB8888, x, 1);
        assert_non_null(strstr(sysmem_device_constraints_explain(dc), "no modifier listed: dropped"));
        sysmem_device_constraints_free(dc);
        free(b.bytes);
}

/* A format listed twice and a pair listed twice come out once. */
static void test_duplicates(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_NV12, DRM_FORMAT_XRGB8888};
        const struct mod_spec mods[] = {{0x7, 0, DRM_FORMAT_MOD_LINEAR},
                                        {0x4, 0, I915_FORMAT_MOD_Y_TILED},
                                        {0x1, 0, I915_FORMAT_MOD_Y_TILED}};
        struct blob b = make_blob(formats, 3, mods, 3);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, NULL, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->image_format_constraint_count, 2);
        const uint64_t xr24[] = {DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_Y_TILED}, nv12[] = {DRM_FORMAT_MOD_LINEAR};
        expect_entry(&c->image_format_constraints[0], DRM_FORMAT_XRGB8888, xr24, 2);
        expect_entry(&c->image_format_constraints[1], DRM_FORMAT_NV12, nv12, 1);
        sysmem_device_constraints_free(dc);
        free(b.bytes);
}

/* A format with more modifiers than one entry holds takes several entries, in order. */
static void test_split(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_ARGB8888};
        struct mod_spec mods[100];
        for (uint32_t i = 0; i < 100; i++)
                mods[i] = (struct mod_spec){1, 0, i == 0 ? DRM_FORMAT_MOD_LINEAR : (0x7eull << 56) | i};
        struct blob b = make_blob(formats, 1, mods, 100);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, NULL, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->image_format_constraint_count, 2);
        assert_int_equal(c->image_format_constraints[0].pixel_format_and_modifier_count, SYSMEM_MAX_FORMAT_PAIRS);
        assert_int_equal(c->image_format_constraints[1].pixel_format_and_modifier_count, 100 - SYSMEM_MAX_FORMAT_PAIRS);
        for (uint32_t i = 0; i < 100; i++) {
                const struct sysmem_pixel_format_and_modifier *p =
                        &c->image_format_constraints[i / 64].pixel_format_and_modifiers[i % 64];
                assert_int_equal(p->pixel_format, DRM_FORMAT_ARGB8888);
                assert_int_equal(p->pixel_format_modifier, mods[i].modifier);
        }
        sysmem_device_constraints_free(dc);
        free(b.bytes);
}

/* More formats than entries: those with the same colour spaces share entries; beyond 64 x 64 pairs, -EINVAL. */
static void test_packing_and_limits(void **state) {
        (void)state;
        enum { NF = 100 };
        uint32_t formats[NF];
        for (uint32_t i = 0; i < NF; i++)
                formats[i] = fourcc_code('P', 'K', (char)('A' + i / 26), (char)('a' + i % 26));
        struct mod_spec mods[2] = {{~0ull, 0, DRM_FORMAT_MOD_LINEAR}, {(1ull << (NF - 64)) - 1, 64, DRM_FORMAT_MOD_LINEAR}};
        struct blob b = make_blob(formats, NF, mods, 2);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, NULL, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->image_format_constraint_count, 2);
        assert_int_equal(c->image_format_constraints[0].pixel_format_and_modifier_count, 64);
        assert_int_equal(c->image_format_constraints[1].pixel_format_and_modifier_count, NF - 64);
        for (uint32_t i = 0; i < NF; i++)
                assert_int_equal(c->image_format_constraints[i / 64].pixel_format_and_modifiers[i % 64].pixel_format,
                                 formats[i]);
        assert_non_null(strstr(sysmem_device_constraints_explain(dc), "share entries"));
        sysmem_device_constraints_free(dc);
        free(b.bytes);

        /* 65 formats x 64 modifiers = 4160 pairs > 64 x 64. */
        uint32_t many[65];
        for (uint32_t i = 0; i < 65; i++)
                many[i] = formats[i];
        struct mod_spec lots[128];
        for (uint32_t i = 0; i < 64; i++) {
                lots[2 * i] = (struct mod_spec){~0ull, 0, (0x7dull << 56) | i};
                lots[2 * i + 1] = (struct mod_spec){1, 64, (0x7dull << 56) | i};
        }
        b = make_blob(many, 65, lots, 128);
        dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, NULL, &dc), -EINVAL);
        assert_null(dc);
        free(b.bytes);
}

static int parse(const struct blob *b, size_t size) {
        struct sysmem_device_constraints *dc = NULL;
        int r = sysmem_device_constraints_from_in_formats(b->bytes, size, NULL, &dc);
        if (r == 0)
                sysmem_device_constraints_free(dc);
        else
                assert_null(dc);
        return r;
}

/* Hostile bytes: every size, offset, count and bit is checked against the blob. */
static void test_malformed(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_NV12};
        const struct mod_spec mods[] = {{0x3, 0, DRM_FORMAT_MOD_LINEAR}, {0x1, 0, I915_FORMAT_MOD_X_TILED}};
        struct blob good = make_blob(formats, 2, mods, 2);
        assert_int_equal(parse(&good, good.size), 0);
        /* every truncation */
        for (size_t size = 0; size < good.size; size++)
                assert_int_equal(parse(&good, size), -EINVAL);
        assert_int_equal(sysmem_device_constraints_from_in_formats(NULL, 64, NULL, &(struct sysmem_device_constraints *){0}),
                         -EINVAL);

        struct blob b = {.bytes = malloc(good.size), .size = good.size};
        assert_non_null(b.bytes);
        struct {
                size_t at;
                uint32_t value;
                const char *what;
        } const edits[] = {
                {0, 0, "version 0"},
                {0, 2, "version 2"},
                {8, 3, "count_formats past the formats' end (into the modifiers) is fine, past the blob is not"},
                {8, 0x40000000u, "count_formats * 4 overflows 32 bits"},
                {12, (uint32_t)good.size, "formats_offset at the end"},
                {12, 0xfffffffcu, "formats_offset near 4 GiB"},
                {12, 4, "formats_offset inside the header"},
                {16, 3, "count_modifiers past the end"},
                {16, 0xffffffffu, "count_modifiers * 24 overflows 32 bits"},
                {20, (uint32_t)good.size - 8, "modifiers_offset leaves half a modifier"},
                {20, 0xffffffe8u, "modifiers_offset near 4 GiB"},
        };
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
                memcpy(b.bytes, good.bytes, good.size);
                put32(b.bytes + edits[i].at, edits[i].value);
                int r = parse(&b, b.size);
                if (i == 2) {
                        /* count_formats 3 still fits the blob (the third "format" is modifier bytes), so it parses. */
                        assert_int_equal(r, 0);
                        continue;
                }
                if (r != -EINVAL)
                        fail_msg("%s: %d, not -EINVAL", edits[i].what, r);
        }
        /* a format bit past count_formats, at offset 0 and through the offset */
        const uint32_t modifiers_offset = (HDR_SIZE + 2 * 4 + 7) & ~7u;
        memcpy(b.bytes, good.bytes, good.size);
        put64(b.bytes + modifiers_offset, 0x4);
        assert_int_equal(parse(&b, b.size), -EINVAL);
        memcpy(b.bytes, good.bytes, good.size);
        put32(b.bytes + modifiers_offset + 8, 2);
        assert_int_equal(parse(&b, b.size), -EINVAL);
        memcpy(b.bytes, good.bytes, good.size);
        put64(b.bytes + modifiers_offset, 1ull << 63);
        put32(b.bytes + modifiers_offset + 8, 0xffffffffu); /* offset + bit overflows 32 bits */
        assert_int_equal(parse(&b, b.size), -EINVAL);
        free(b.bytes);
        free(good.bytes);

        /* A well-formed blob without a pair. */
        struct blob empty = make_blob(formats, 2, NULL, 0);
        assert_int_equal(parse(&empty, empty.size), -ENOENT);
        free(empty.bytes);
        /* INVALID entries are dropped, not passed on (the daemon rejects them). */
        const uint32_t with_invalid[] = {DRM_FORMAT_INVALID, DRM_FORMAT_XRGB8888};
        const struct mod_spec inv[] = {{0x3, 0, DRM_FORMAT_MOD_LINEAR}, {0x2, 0, DRM_FORMAT_MOD_INVALID}};
        struct blob bi = make_blob(with_invalid, 2, inv, 2);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(bi.bytes, bi.size, NULL, &dc), 0);
        const struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        assert_int_equal(c->image_format_constraint_count, 1);
        const uint64_t lin[] = {DRM_FORMAT_MOD_LINEAR};
        expect_entry(&c->image_format_constraints[0], DRM_FORMAT_XRGB8888, lin, 1);
        sysmem_device_constraints_free(dc);
        free(bi.bytes);
}

/* The arrays stay valid (and come back) while the caller changes scalars; free(NULL) does nothing. */
static void test_lifetime(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_XRGB8888};
        const struct mod_spec mods[] = {{0x1, 0, DRM_FORMAT_MOD_LINEAR}};
        struct blob b = make_blob(formats, 1, mods, 1);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, &display_usage, &dc), 0);
        free(b.bytes); /* the object keeps nothing of the blob */
        struct sysmem_constraints *c = sysmem_device_constraints_get(dc);
        c->min_buffer_count_for_camping = 3;
        c->usage.cpu = SYSMEM_CPU_USAGE_WRITE;
        c->image_format_constraints = NULL; /* a caller's mistake: get() puts the array back */
        struct sysmem_constraints *again = sysmem_device_constraints_get(dc);
        assert_ptr_equal(again, c);
        assert_int_equal(again->min_buffer_count_for_camping, 3);
        assert_int_equal(again->usage.cpu, SYSMEM_CPU_USAGE_WRITE);
        assert_non_null(again->image_format_constraints);
        assert_int_equal(again->image_format_constraints[0].pixel_format_and_modifiers[0].pixel_format,
                         DRM_FORMAT_XRGB8888);
        assert_int_equal(again->image_format_constraints[0].color_spaces[0], SYSMEM_COLOR_SPACE_SRGB);
        assert_int_equal(again->buffer_memory_constraints.permitted_heap_count, 0);
        assert_string_not_equal(sysmem_device_constraints_explain(dc), "");
        sysmem_device_constraints_free(dc);
        sysmem_device_constraints_free(NULL);
}

/* V4L2 names bytes in memory order, DRM the bits of a little-endian word. */
static void test_v4l2_table(void **state) {
        (void)state;
        const struct {
                uint32_t v4l2, drm;
        } table[] = {
                {V4L2_PIX_FMT_XBGR32, DRM_FORMAT_XRGB8888}, /* 'XR24' on both sides: B, G, R, X bytes */
                {V4L2_PIX_FMT_ABGR32, DRM_FORMAT_ARGB8888},
                {V4L2_PIX_FMT_XRGB32, DRM_FORMAT_BGRX8888}, /* 'BX24': X, R, G, B bytes */
                {V4L2_PIX_FMT_ARGB32, DRM_FORMAT_BGRA8888},
                {V4L2_PIX_FMT_RGBX32, DRM_FORMAT_XBGR8888},
                {V4L2_PIX_FMT_RGBA32, DRM_FORMAT_ABGR8888},
                {V4L2_PIX_FMT_BGRX32, DRM_FORMAT_RGBX8888},
                {V4L2_PIX_FMT_BGRA32, DRM_FORMAT_RGBA8888},
                {V4L2_PIX_FMT_RGB24, DRM_FORMAT_BGR888}, /* R, G, B bytes */
                {V4L2_PIX_FMT_BGR24, DRM_FORMAT_RGB888},
                {V4L2_PIX_FMT_RGB565, DRM_FORMAT_RGB565},
                {V4L2_PIX_FMT_XRGB555, DRM_FORMAT_XRGB1555},
                {V4L2_PIX_FMT_ARGB555, DRM_FORMAT_ARGB1555},
                {V4L2_PIX_FMT_RGB332, DRM_FORMAT_RGB332},
                {V4L2_PIX_FMT_GREY, DRM_FORMAT_R8},
                {V4L2_PIX_FMT_Y16, DRM_FORMAT_R16},
                {V4L2_PIX_FMT_YUYV, DRM_FORMAT_YUYV},
                {V4L2_PIX_FMT_YVYU, DRM_FORMAT_YVYU},
                {V4L2_PIX_FMT_UYVY, DRM_FORMAT_UYVY},
                {V4L2_PIX_FMT_VYUY, DRM_FORMAT_VYUY},
                {V4L2_PIX_FMT_NV12, DRM_FORMAT_NV12},
                {V4L2_PIX_FMT_NV21, DRM_FORMAT_NV21},
                {V4L2_PIX_FMT_NV16, DRM_FORMAT_NV16},
                {V4L2_PIX_FMT_NV61, DRM_FORMAT_NV61},
                {V4L2_PIX_FMT_NV24, DRM_FORMAT_NV24},
                {V4L2_PIX_FMT_NV42, DRM_FORMAT_NV42},
                {V4L2_PIX_FMT_YUV420, DRM_FORMAT_YUV420},
                {V4L2_PIX_FMT_YVU420, DRM_FORMAT_YVU420},
                {V4L2_PIX_FMT_YUV422P, DRM_FORMAT_YUV422},
                {V4L2_PIX_FMT_P010, DRM_FORMAT_P010},
                /* no single-buffer DRM layout: separate memory planes, big-endian, tiled, compressed, Bayer */
                {V4L2_PIX_FMT_NV12M, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_YUV420M, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_RGB565X, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_NV12MT, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_MJPEG, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_H264, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_SBGGR8, DRM_FORMAT_INVALID},
                {V4L2_PIX_FMT_RGB32, DRM_FORMAT_INVALID}, /* deprecated, ambiguous alpha/byte order */
                {0, DRM_FORMAT_INVALID},
        };
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
                if (sysmem_drm_format_from_v4l2(table[i].v4l2) != table[i].drm)
                        fail_msg("V4L2 %.4s: 0x%08x, expected 0x%08x", (const char *)&table[i].v4l2,
                                 sysmem_drm_format_from_v4l2(table[i].v4l2), table[i].drm);
}

/* Not a device: errors, not crashes. */
/* ---- a vendor's list handed to the core as it is (docs/constraints.md, "Pairs only a device lays out") ---- */

static bool amd_lays_out(const struct core_heap *heap, uint32_t f, uint64_t m) {
        (void)heap;
        return f == DRM_FORMAT_XRGB8888 && m == AMD_GFX9_64K_S_X;
}
static int amd_layout(const struct core_heap *heap, uint32_t f, uint64_t m, struct sysmem_size size,
                      uint64_t *ret_bytes, uint32_t *ret_bpr) {
        (void)heap, (void)f, (void)m;
        uint32_t w = (size.width + 255) / 256 * 256, h = (size.height + 63) / 64 * 64;
        *ret_bpr = w * 4;
        *ret_bytes = (uint64_t)w * 4 * h;
        return 0;
}

static int negotiate(const struct sysmem_constraints *const *c, size_t n, const struct core_heap *heaps,
                     size_t heap_count, struct core_result *result, struct core_failure *failure) {
        struct core_participant p[4];
        for (size_t i = 0; i < n; i++)
                p[i] = (struct core_participant){c[i], i == 0 ? "display" : "gpu"};
        struct core_config config = {
                .heaps = heaps, .heap_count = heap_count,
                .limits = {.max_buffers = 64, .max_buffer_bytes = 256u << 20, .max_collection_bytes = 1u << 30,
                           .page_size = 4096},
                .format_costs = core_default_format_costs, .format_cost_count = core_default_format_cost_count};
        return core_aggregate(p, n, &config, result, failure);
}

/*
 * The vendors' blob, unknown modifiers and an unknown format included, is accepted by the core as it is: a
 * pair sysmem lays out is chosen; a GPU that takes only an AMD tiling gets it from a heap whose device lays it
 * out, and without one the failure names the pair.
 */
static void test_vendor_list_negotiates(void **state) {
        (void)state;
        const uint32_t formats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_NV12, UNKNOWN_FOURCC};
        const struct mod_spec mods[] = {
                {0x7, 0, DRM_FORMAT_MOD_LINEAR},  {0x3, 0, I915_FORMAT_MOD_Y_TILED}, {0x1, 0, AMD_GFX9_64K_S_X},
                {0x3, 0, NVIDIA_BL_2D},           {0x5, 0, UNKNOWN_MODIFIER},
        };
        struct blob b = make_blob(formats, 3, mods, 5);
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_in_formats(b.bytes, b.size, &display_usage, &dc), 0);
        struct sysmem_constraints *disp = sysmem_device_constraints_get(dc);
        disp->min_buffer_count_for_camping = 1;
        static const uint32_t srgb[] = {SYSMEM_COLOR_SPACE_SRGB};
        static const struct sysmem_pixel_format_and_modifier amd_only[] = {{DRM_FORMAT_XRGB8888, AMD_GFX9_64K_S_X}};
        const struct sysmem_image_format_constraints gpu_ifc = {
                .pixel_format_and_modifiers = amd_only, .pixel_format_and_modifier_count = 1, .color_spaces = srgb,
                .color_space_count = 1, .min_size = {1920, 1080}};
        const struct sysmem_constraints gpu = {.usage = {.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED},
                                               .min_buffer_count_for_camping = 2,
                                               .image_format_constraints = &gpu_ifc,
                                               .image_format_constraint_count = 1};
        const struct core_heap ram = {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true,
                                      .ram_supported = true};
        const struct core_heap heaps[] = {ram, {.heap_type = "drm:amdgpu", .cpu_supported = true,
                                                .ram_supported = true, .lays_out = amd_lays_out,
                                                .layout = amd_layout}};
        struct core_result result;
        struct core_failure failure;

        /*
         * The display alone, with a size: nothing fails on the pairs sysmem cannot lay out; the built-in cost
         * table prefers Intel Y tiling for display usage, which sysmem lays out itself.
         */
        for (uint32_t i = 0; i < disp->image_format_constraint_count; i++)
                ((struct sysmem_image_format_constraints *)&disp->image_format_constraints[i])->min_size =
                        (struct sysmem_size){1920, 1080};
        const struct sysmem_constraints *alone[] = {disp};
        int r = negotiate(alone, 1, heaps, 1, &result, &failure);
        if (r < 0)
                fail_msg("%s", failure.message);
        assert_int_equal(result.settings.image_format_constraints.pixel_format_modifier, I915_FORMAT_MOD_Y_TILED);
        assert_false(result.device_layout);
        assert_string_equal(result.settings.buffer_settings.heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);

        /* With the GPU: only (XRGB8888, AMD) is common; the device heap lays it out. */
        const struct sysmem_constraints *both[] = {disp, &gpu};
        r = negotiate(both, 2, heaps, 2, &result, &failure);
        if (r < 0)
                fail_msg("%s", failure.message);
        assert_string_equal(result.settings.buffer_settings.heap.heap_type, "drm:amdgpu");
        assert_int_equal(result.settings.image_format_constraints.pixel_format, DRM_FORMAT_XRGB8888);
        assert_int_equal(result.settings.image_format_constraints.pixel_format_modifier, AMD_GFX9_64K_S_X);
        assert_int_equal(result.settings.buffer_settings.size_bytes, 2048ull * 4 * 1088);
        assert_true(result.device_layout);

        /* Without that heap the pair drops out, and the failure says which and why. */
        assert_int_equal(negotiate(both, 2, heaps, 1, &result, &failure), -EINVAL);
        if (!strstr(failure.message, "cannot lay out (XRGB8888, 0x0200000000001901)"))
                fail_msg("unclear failure: %s", failure.message);
        sysmem_device_constraints_free(dc);
        free(b.bytes);
}

static void test_not_devices(void **state) {
        (void)state;
        struct sysmem_device_constraints *dc = NULL;
        assert_int_equal(sysmem_device_constraints_from_kms_plane(-1, 1, NULL, &dc), -EINVAL);
        assert_int_equal(sysmem_device_constraints_from_v4l2(-1, V4L2_BUF_TYPE_VIDEO_CAPTURE, 640, 480, NULL, &dc),
                         -EINVAL);
        assert_true(sysmem_device_constraints_from_v4l2(0, V4L2_BUF_TYPE_VIDEO_CAPTURE, 640, 480, NULL, &dc) < 0);
        assert_true(sysmem_device_constraints_from_kms_plane(0, 1, NULL, &dc) < 0);
        assert_null(dc);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vendors),          cmocka_unit_test(test_offset_window),
                cmocka_unit_test(test_duplicates),       cmocka_unit_test(test_split),
                cmocka_unit_test(test_packing_and_limits), cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_lifetime),         cmocka_unit_test(test_v4l2_table),
                cmocka_unit_test(test_not_devices),      cmocka_unit_test(test_vendor_list_negotiates),
        };
        return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
