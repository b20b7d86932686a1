/* test-core-image.c: table-driven tests of image-format negotiation in the core, the cost table and its parser. */
#include <errno.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include "common/macros.h"
#include "core/core.h"
#include "core/format-costs.h"
#include "core/names.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define U32MAX 0xffffffffu

#define MAX_PARTICIPANTS 4
#define MAX_SUBSTRINGS 5

/* ---- shorthand for the table ---- */

#define CAMP(n) .min_buffer_count_for_camping = (n)
#define SIZE(n) .buffer_memory_constraints.min_size_bytes = (n)
#define MAX_SIZE(n) .buffer_memory_constraints.max_size_bytes = (n)
#define CAM .usage.cpu = SYSMEM_CPU_USAGE_WRITE_OFTEN, CAMP(1)
#define DISP .usage.display = SYSMEM_DISPLAY_USAGE_LAYER, CAMP(1)
#define GPU .usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED, CAMP(1)
#define DEC .usage.video = SYSMEM_VIDEO_USAGE_HW_DECODER, CAMP(1)
#define NONE .usage.none = SYSMEM_NONE_USAGE

#define IFC_ARRAY(...) ((const struct sysmem_image_format_constraints[]){__VA_ARGS__})
#define IFCS(...)                                                                                                      \
        .image_format_constraints = IFC_ARRAY(__VA_ARGS__),                                                            \
        .image_format_constraint_count = (uint32_t)ARRAY_LEN(IFC_ARRAY(__VA_ARGS__))
#define F(fmt) .pixel_format = DRM_FORMAT_##fmt
#define F_DNC .pixel_format = SYSMEM_PIXEL_FORMAT_DO_NOT_CARE
#define M(m) .has_pixel_format_modifier = true, .pixel_format_modifier = (m)
#define CS_ARRAY(...) ((const uint32_t[]){__VA_ARGS__})
#define CS(...) .color_spaces = CS_ARRAY(__VA_ARGS__), .color_space_count = (uint32_t)ARRAY_LEN(CS_ARRAY(__VA_ARGS__))
#define PAIR_ARRAY(...) ((const struct sysmem_pixel_format_and_modifier[]){__VA_ARGS__})
#define PAIRS(...)                                                                                                     \
        .pixel_format_and_modifiers = PAIR_ARRAY(__VA_ARGS__),                                                         \
        .pixel_format_and_modifier_count = (uint32_t)ARRAY_LEN(PAIR_ARRAY(__VA_ARGS__))
#define PAIR(f, m)                                                                                                     \
        { DRM_FORMAT_##f, (m) }
#define SIZE_ARRAY(...) ((const struct sysmem_size[]){__VA_ARGS__})
#define RMS(...)                                                                                                       \
        .required_max_size_list = SIZE_ARRAY(__VA_ARGS__),                                                             \
        .required_max_size_count = (uint32_t)ARRAY_LEN(SIZE_ARRAY(__VA_ARGS__))
#define MIN_WH(w, h) .min_size = {(w), (h)}
#define MAX_WH(w, h) .max_size = {(w), (h)}
#define ALIGN(w, h) .size_alignment = {(w), (h)}

#define LIN DRM_FORMAT_MOD_LINEAR
#define XT I915_FORMAT_MOD_X_TILED
#define YT I915_FORMAT_MOD_Y_TILED
#define YFT I915_FORMAT_MOD_Yf_TILED
#define YCCS I915_FORMAT_MOD_Y_TILED_CCS
#define YFCCS I915_FORMAT_MOD_Yf_TILED_CCS
#define AFBC16 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16)
#define AFBC32 DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_32x8)
#define AFBC_SSY                                                                                                       \
        DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE |    \
                                AFBC_FORMAT_MOD_YTR)
#define AFBC_SSYT                                                                                                      \
        DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | AFBC_FORMAT_MOD_SPLIT | AFBC_FORMAT_MOD_SPARSE |    \
                                AFBC_FORMAT_MOD_YTR | AFBC_FORMAT_MOD_TILED)
#define M_DNC SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE
#define F_DNC_VALUE SYSMEM_PIXEL_FORMAT_DO_NOT_CARE

#define SRGB SYSMEM_COLOR_SPACE_SRGB
#define NTSC SYSMEM_COLOR_SPACE_REC601_NTSC
#define PAL SYSMEM_COLOR_SPACE_REC601_PAL
#define PAL_FULL SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE
#define REC709 SYSMEM_COLOR_SPACE_REC709
#define REC2020 SYSMEM_COLOR_SPACE_REC2020
#define PASSTHROUGH SYSMEM_COLOR_SPACE_PASSTHROUGH
#define CS_DNC SYSMEM_COLOR_SPACE_DO_NOT_CARE

struct test_participant {
        bool present;
        const char *name;
        const struct sysmem_constraints *constraints;
};
#define P(name_, ...)                                                                                                  \
        {                                                                                                              \
                .present = true, .name = (name_), .constraints = &(const struct sysmem_constraints) { __VA_ARGS__ }    \
        }

/* What a successful negotiation must give. The first five are always checked; the rest when non-zero or flagged. */
struct expect {
        uint32_t format;
        uint64_t modifier;
        uint32_t color_space;
        uint64_t size_bytes;
        uint64_t raw_vmo_size;
        uint32_t buffer_count;
        struct sysmem_size min_size, max_size, size_alignment, required_min_size, required_max_size, pad;
        uint32_t min_bpr, max_bpr, divisor, start_offset;
        uint64_t max_wxh;
        bool check_rms;
        uint32_t rms_count;
        struct sysmem_size rms[4];
        bool check_alpha;
        enum sysmem_tristate alpha;
        bool check_boundary;
        bool boundary;
        bool check_domain;
        enum sysmem_coherency_domain domain;
        const char *heap; /* heap_type, checked when set */
};

struct test_case {
        const char *name;
        struct test_participant participants[MAX_PARTICIPANTS];
        bool builtin_costs; /* the built-in table; otherwise costs/cost_count (may be none) */
        const struct core_format_cost *costs;
        size_t cost_count;
        const struct core_heap *heaps; /* NULL: system-ram only */
        size_t heap_count;
        const struct core_limits *limits; /* NULL: limits_default */
        enum sysmem_error error;          /* SYSMEM_ERROR_INVALID (0): success expected */
        struct expect ok;
        const char *message[MAX_SUBSTRINGS]; /* each must occur in the failure message */
        const char *absent;                  /* must not occur in it */
};
#define OK(...) .ok = {__VA_ARGS__}
#define FAILS(...) .error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, .message = {__VA_ARGS__}
#define FMT(f) .format = DRM_FORMAT_##f
#define COSTS(array) .costs = (array), .cost_count = ARRAY_LEN(array)

static const struct core_heap heaps_default[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM,
         .cpu_supported = true,
         .ram_supported = true,
         .inaccessible_supported = true},
};
/*
 * A device heap for the rule "pairs only a device lays out" (docs/constraints.md): it lays out AMD and NVIDIA
 * modifiers and the C8 format, with rows of 64-pixel multiples and 16-row multiples, 4 bytes a pixel.
 */
#define AMD_GFX9_64K_S                                                                                                 \
        (AMD_FMT_MOD | AMD_FMT_MOD_SET(TILE_VERSION, AMD_FMT_MOD_TILE_VER_GFX9) |                                      \
         AMD_FMT_MOD_SET(TILE, AMD_FMT_MOD_TILE_GFX9_64K_S))
#define NV_BL DRM_FORMAT_MOD_NVIDIA_BLOCK_LINEAR_2D(0, 1, 0, 0xfe, 4)
static bool fake_lays_out(const struct core_heap *heap, uint32_t f, uint64_t m) {
        (void)heap;
        return IS_AMD_FMT_MOD(m) || (m >> 56) == DRM_FORMAT_MOD_VENDOR_NVIDIA ||
               (f == DRM_FORMAT_C8 && m == DRM_FORMAT_MOD_LINEAR);
}
static int fake_layout(const struct core_heap *heap, uint32_t f, uint64_t m, struct sysmem_size size,
                       uint64_t *ret_bytes, uint32_t *ret_bpr) {
        int *calls = heap->device;
        (*calls)++;
        assert_true(fake_lays_out(heap, f, m));
        uint32_t w = (size.width + 63) / 64 * 64, h = (size.height + 15) / 16 * 16;
        *ret_bpr = w * 4;
        *ret_bytes = (uint64_t)w * 4 * h;
        return 0;
}
static int fake_layout_calls;
static const struct core_heap heaps_device[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true, .ram_supported = true},
        {.heap_type = "drm:fakegpu",
         .cpu_supported = true,
         .ram_supported = true,
         .lays_out = fake_lays_out,
         .layout = fake_layout,
         .device = &fake_layout_calls},
};
#define DEVICE_HEAPS .heaps = heaps_device, .heap_count = ARRAY_LEN(heaps_device)
#define HEAP_ARRAY(...) ((const struct sysmem_heap[]){__VA_ARGS__})
#define PERMIT(...)                                                                                                    \
        .permitted_heaps = HEAP_ARRAY(__VA_ARGS__), .permitted_heap_count = (uint32_t)ARRAY_LEN(HEAP_ARRAY(__VA_ARGS__))

static const struct core_heap heaps_secure[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM,
         .cpu_supported = true,
         .ram_supported = true,
         .inaccessible_supported = true},
        {.heap_type = "secure:tz", .inaccessible_supported = true, .secure = true},
};
static const struct core_limits limits_default = {
        .max_buffers = 64, .max_buffer_bytes = 256 * MiB, .max_collection_bytes = 1 * GiB, .page_size = 4096};
static const struct core_limits limits_4mib = {
        .max_buffers = 64, .max_buffer_bytes = 4 * MiB, .max_collection_bytes = 1 * GiB, .page_size = 4096};
static const struct core_limits limits_collection_8mib = {
        .max_buffers = 64, .max_buffer_bytes = 256 * MiB, .max_collection_bytes = 8 * MiB, .page_size = 4096};

/* Cost tables for the §5 selection rules: NV12 and NV21 (NV21's fourcc is the smaller one). */
static const struct core_format_cost costs_usage_specific[] = {
        {DRM_FORMAT_NV12, LIN, {0}, 50},
        {DRM_FORMAT_NV12, LIN, {.video = SYSMEM_VIDEO_USAGE_HW_DECODER}, 500},
        {DRM_FORMAT_NV21, LIN, {0}, 300},
};
static const struct core_format_cost costs_later_wins[] = {
        {DRM_FORMAT_NV12, LIN, {0}, 50},
        {DRM_FORMAT_NV12, LIN, {0}, 400},
        {DRM_FORMAT_NV21, LIN, {0}, 300},
};
static const struct core_format_cost costs_needs_cpu_read[] = {
        {DRM_FORMAT_NV12, LIN, {.cpu = SYSMEM_CPU_USAGE_READ}, 50},
        {DRM_FORMAT_NV21, LIN, {0}, 300},
};
static const struct core_format_cost costs_equal[] = {
        {DRM_FORMAT_ARGB8888, XT, {0}, 10},
        {DRM_FORMAT_ARGB8888, LIN, {0}, 10},
};

/* Filled in main(): arrays too long to spell out in the table. */
static uint32_t color_spaces_33[33];
static struct sysmem_pixel_format_and_modifier pairs_65[65];
static struct sysmem_pixel_format_and_modifier pairs_dnc_64[64];
static struct sysmem_size sizes_65[65];
static struct sysmem_size sizes_line_a[40], sizes_line_b[40];
static struct sysmem_image_format_constraints ifcs_65[65];
static struct sysmem_image_format_constraints ifcs_9x64[9];

#define NV12_1080 F(NV12), CS(REC709), MIN_WH(1920, 1080)

/*
 * Entries start from shorthands and may override their fields; later designators winning is plain C, so the
 * warning about it is off for the table.
 */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
/* clang-format off */
static const struct test_case cases[] = {
        /* ---- the plain path and defaults (§1) ---- */
        {
                .name = "one NV12 1920x1080 participant: linear, REC709, image-sized buffer",
                .participants = {P("cam", CAM, IFCS({NV12_1080}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 3110400, .raw_vmo_size = 3112960,
                   .buffer_count = 1, .min_size = {1920, 1080}, .max_size = {U32MAX, U32MAX}, .size_alignment = {2, 2},
                   .min_bpr = 1920, .max_bpr = U32MAX, .divisor = 2, .start_offset = 2, .max_wxh = UINT64_MAX,
                   .check_rms = true, .rms_count = 0, .pad = {1, 1}),
        },
        {
                .name = "min_size defaults to the size alignment, raised by the format's divisors (gotcha 12)",
                .participants = {P("app", CAM, SIZE(4096), IFCS({F(NV12), CS(REC709)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 4096, .raw_vmo_size = 4096,
                   .min_size = {2, 2}, .size_alignment = {2, 2}, .min_bpr = 2),
        },
        {
                .name = "max_size and max_bytes_per_row are rounded down to their alignment (gotcha 12)",
                .participants = {P("app", CAM, SIZE(4096), IFCS({F(ARGB8888), CS(SRGB), ALIGN(16, 16),
                                                                 MAX_WH(1000, 1000), .max_bytes_per_row = 1000,
                                                                 .bytes_per_row_divisor = 64}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4096, .raw_vmo_size = 4096,
                   .min_size = {16, 16}, .max_size = {992, 992}, .max_bpr = 960, .min_bpr = 64, .divisor = 64),
        },
        {
                .name = "the unset maximum 0xFFFFFFFF is never rounded down",
                .participants = {P("app", CAM, SIZE(4096), IFCS({F(ARGB8888), CS(SRGB), ALIGN(16, 16),
                                                                 .bytes_per_row_divisor = 64}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4096, .raw_vmo_size = 4096,
                   .max_size = {U32MAX, U32MAX}, .max_bpr = U32MAX, .max_wxh = UINT64_MAX),
        },
        {
                .name = "pixel_format_and_modifiers is flattened: each pair its own entry",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(ARGB8888, LIN)), CS(SRGB),
                                                     MIN_WH(64, 64)})),
                                 P("disp", DISP, IFCS({F(XRGB8888), CS(SRGB)}))},
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384,
                   .buffer_count = 2),
        },
        {
                .name = "pixel_format and the list together: the field's pair joins the list",
                .participants = {P("gpu", GPU, IFCS({F(ABGR8888), PAIRS(PAIR(XRGB8888, LIN)), CS(SRGB),
                                                     MIN_WH(64, 64)})),
                                 P("disp", DISP, IFCS({F(ABGR8888), CS(SRGB)}))},
                OK(FMT(ABGR8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "a participant without image formats leaves the list alone",
                .participants = {P("app", CAM, SIZE(100)), P("cam", CAM, IFCS({NV12_1080}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 3110400, .raw_vmo_size = 3112960,
                   .buffer_count = 2),
        },
        {
                .name = "buffer min_size_bytes larger than the image wins",
                .participants = {P("cam", CAM, SIZE(4 * MiB), IFCS({NV12_1080}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 4 * MiB, .raw_vmo_size = 4 * MiB),
        },

        /* ---- modifier defaults (§1, gotcha 8) ---- */
        {
                .name = "a real-usage participant's unset modifier is LINEAR, so it cannot meet a tiled-only one",
                .participants = {P("cpu", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64)})),
                                 P("gpu", GPU, IFCS({F(NV12), M(YT), CS(REC709)}))},
                FAILS("no (pixel_format, pixel_format_modifier) pair accepted by every participant",
                      "'cpu' offers {(NV12, LINEAR)}", "'gpu' offers {(NV12, I915_FORMAT_MOD_Y_TILED)}"),
        },
        {
                .name = "gotcha 8: a NONE_USAGE participant's unset modifier is DO_NOT_CARE",
                .participants = {P("watcher", NONE, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64)})),
                                 P("gpu", GPU, IFCS({F(NV12), M(YT), CS(REC709)}))},
                OK(FMT(NV12), .modifier = YT, .color_space = REC709, .size_bytes = 12288, .raw_vmo_size = 12288,
                   .min_bpr = 128),
        },
        {
                .name = "a DO_NOT_CARE pixel format's unset modifier is DO_NOT_CARE, even with real usage",
                .participants = {P("any", CAM, IFCS({F_DNC, CS(REC709), MIN_WH(64, 64)})),
                                 P("gpu", GPU, IFCS({F(NV12), M(XT), CS(REC709)}))},
                OK(FMT(NV12), .modifier = XT, .color_space = REC709, .size_bytes = 49152, .raw_vmo_size = 49152),
        },

        /* ---- the worked examples of §4 ---- */
        {
                .name = "§4 example: NV12 256x256, min_bytes_per_row 256, divisors 2, buffer min 64 KiB -> 98304",
                .participants = {P("a", CAM, SIZE(64 * KiB), IFCS({F(NV12), CS(REC709), MIN_WH(256, 256),
                                                                   .min_bytes_per_row = 256, ALIGN(2, 2),
                                                                   .bytes_per_row_divisor = 2}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 98304, .raw_vmo_size = 98304,
                   .min_bpr = 256, .divisor = 2),
        },
        {
                .name = "§4 example: NV12 required_max_size 512x1024, no buffer constraints -> 786432",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), .required_max_size = {512, 1024}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 786432, .raw_vmo_size = 786432,
                   .required_max_size = {512, 1024}, .check_rms = true, .rms_count = 1, .rms = {{512, 1024}}),
        },
        {
                .name = "§4 example: RGB888 (B8G8R8) 600x1, min_bytes_per_row 1800, divisor 32 -> 1824",
                .participants = {P("a", CAM, IFCS({F(RGB888), CS(SRGB), MIN_WH(600, 1), .min_bytes_per_row = 1800,
                                                   .bytes_per_row_divisor = 32}))},
                OK(FMT(RGB888), .modifier = LIN, .color_space = SRGB, .size_bytes = 1824, .raw_vmo_size = 4096,
                   .min_bpr = 1824, .divisor = 32),
        },
        {
                .name = "§4 example: BGR888 (R8G8B8) with divisor 4 reports divisor 4",
                .participants = {P("a", CAM, IFCS({F(BGR888), CS(SRGB), MIN_WH(10, 10), .bytes_per_row_divisor = 4}))},
                OK(FMT(BGR888), .modifier = LIN, .color_space = SRGB, .size_bytes = 320, .raw_vmo_size = 4096,
                   .divisor = 4, .min_bpr = 32, .check_boundary = true, .boundary = false),
        },
        {
                .name = "§4 example: BGR888 divisor 4 at a pixel boundary becomes lcm(4, 3) = 12",
                .participants = {P("a", CAM, IFCS({F(BGR888), CS(SRGB), MIN_WH(10, 10), .bytes_per_row_divisor = 4,
                                                   .require_bytes_per_row_at_pixel_boundary = true}))},
                OK(FMT(BGR888), .modifier = LIN, .color_space = SRGB, .size_bytes = 360, .raw_vmo_size = 4096,
                   .divisor = 12, .min_bpr = 36, .check_boundary = true, .boundary = true),
        },
        {
                .name = "§4 example: ABGR8888 (R8G8B8A8) width 254, min_bytes_per_row 256, divisor 64 -> 1024",
                .participants = {P("a", CAM, IFCS({F(ABGR8888), CS(SRGB), MIN_WH(254, 1), .min_bytes_per_row = 256,
                                                   .bytes_per_row_divisor = 64}))},
                OK(FMT(ABGR8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 1024, .raw_vmo_size = 4096,
                   .min_bpr = 1024, .divisor = 64),
        },

        /* ---- §12 gotchas ---- */
        {
                .name = "gotcha 2: required_max_size enlarges the buffer; required_min_size aggregates by min",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .required_min_size = {640, 480}})),
                                 P("b", GPU, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64), .required_min_size = {320, 240},
                                                   .required_max_size = {1280, 720}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 1382400, .raw_vmo_size = 1384448,
                   .required_min_size = {320, 240}, .required_max_size = {1280, 720}, .min_size = {64, 64}),
        },
        {
                .name = "gotcha 2: required_min_size alone does not enlarge the buffer",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .required_min_size = {1920, 1080}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192,
                   .required_min_size = {1920, 1080}),
        },
        {
                .name = "gotcha 3: the image is max(min_size, required_max_size) aligned to size_alignment",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(100, 100),
                                                   .required_max_size = {101, 101}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 15606, .raw_vmo_size = 16384),
        },
        {
                .name = "gotcha 5: the reported constraints are the aggregate (lcm divisor, raised min_bpr, 1 colour)",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB, PASSTHROUGH), MIN_WH(100, 100),
                                                   .bytes_per_row_divisor = 3})),
                                 P("b", GPU, IFCS({F(ARGB8888), CS(PASSTHROUGH, SRGB), MIN_WH(1000, 10)}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 400800, .raw_vmo_size = 401408,
                   .min_size = {1000, 100}, .divisor = 12, .min_bpr = 4008, .start_offset = 4),
        },
        {
                .name = "gotcha 7: without costs the smaller DRM fourcc wins (ARGB8888 over XRGB8888)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(ARGB8888, LIN)), CS(SRGB),
                                                   MIN_WH(16, 16)}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 1024, .raw_vmo_size = 4096),
        },
        {
                .name = "gotcha 7 with DRM values: NV12 (0x3231564e) beats ARGB8888 (0x34325241), unlike images2",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(NV12, LIN)), CS(PASSTHROUGH),
                                                   MIN_WH(64, 64)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = PASSTHROUGH, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "tie-break: same format and cost, the smaller modifier (LINEAR) wins",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ARGB8888, XT), PAIR(ARGB8888, LIN)), CS(SRGB),
                                                   MIN_WH(64, 64)}))},
                COSTS(costs_equal),
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },

        /* ---- format cost with the built-in table (§5) ---- */
        {
                .name = "built-in costs: Yf-tiled CCS beats every other Intel layout and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(ARGB8888, XT), PAIR(ARGB8888, YT),
                                                         PAIR(ARGB8888, YFT), PAIR(ARGB8888, YCCS),
                                                         PAIR(ARGB8888, YFCCS)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(ARGB8888), .modifier = YFCCS, .color_space = SRGB, .size_bytes = 20480, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs: Y-tiled CCS beats Yf, Y, X and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(ARGB8888, XT), PAIR(ARGB8888, YT),
                                                         PAIR(ARGB8888, YFT), PAIR(ARGB8888, YCCS)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(ARGB8888), .modifier = YCCS, .color_space = SRGB, .size_bytes = 20480, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs: Yf-tiled beats Y, X and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, LIN), PAIR(XBGR8888, XT), PAIR(XBGR8888, YT),
                                                         PAIR(XBGR8888, YFT)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = YFT, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "built-in costs: Y-tiled beats X and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ABGR8888, LIN), PAIR(ABGR8888, XT), PAIR(ABGR8888, YT)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(ABGR8888), .modifier = YT, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "built-in costs: X-tiled beats LINEAR (LINEAR has no entry: DBL_MAX)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, XT)), CS(SRGB),
                                                   MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = XT, .color_space = SRGB, .size_bytes = 32768, .raw_vmo_size = 32768),
        },
        {
                .name = "built-in costs: a cheaper modifier of a larger fourcc beats LINEAR of a smaller one",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ABGR8888, LIN), PAIR(XRGB8888, XT)), CS(SRGB),
                                                   MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = XT, .color_space = SRGB, .size_bytes = 32768, .raw_vmo_size = 32768),
        },
        {
                .name = "built-in costs: AFBC split+sparse+YTR+tiled header is the cheapest Mali layout",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(ARGB8888, AFBC16),
                                                         PAIR(ARGB8888, AFBC_SSY), PAIR(ARGB8888, AFBC_SSYT),
                                                         PAIR(ARGB8888, AFBC32)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(ARGB8888), .modifier = AFBC_SSYT, .color_space = SRGB, .size_bytes = 69632,
                   .raw_vmo_size = 69632),
        },
        {
                .name = "built-in costs: AFBC 16x16 (3600) beats 32x8 (7600) and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ABGR8888, LIN), PAIR(ABGR8888, AFBC32),
                                                         PAIR(ABGR8888, AFBC16)),
                                                   CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(ABGR8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        /*
         * The X variants cost exactly as the A variants under the Mali rule (sysmem2's cost tests loop over
         * B8G8R8A8 and B8G8R8X8): AFBC 32x8 beats LINEAR; LINEAR < 16x16 < split+sparse+YTR < ... + tiled header;
         * 16x16 beats 32x8. The listed order puts the expected winner last, so the tie-break alone picks LINEAR
         * or the smaller modifier.
         */
        {
                .name = "built-in costs, XRGB8888: AFBC 32x8 (7600) beats LINEAR (no entry)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AFBC32)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC32, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XRGB8888: AFBC 16x16 (3600) beats 32x8 (7600) and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AFBC32), PAIR(XRGB8888, AFBC16)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XRGB8888: AFBC 16x16 (3600) beats LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AFBC16)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XRGB8888: AFBC split+sparse+YTR (2500) beats 16x16 (3600)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, AFBC16), PAIR(XRGB8888, AFBC_SSY)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC_SSY, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XRGB8888: AFBC with a tiled header (2010) beats split+sparse+YTR (2500)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, AFBC_SSY), PAIR(XRGB8888, AFBC_SSYT)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC_SSYT, .color_space = SRGB, .size_bytes = 69632, .raw_vmo_size = 69632),
        },
        {
                .name = "built-in costs, XRGB8888: AFBC split+sparse+YTR+tiled header is the cheapest Mali layout",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AFBC16), PAIR(XRGB8888, AFBC_SSY), PAIR(XRGB8888, AFBC_SSYT), PAIR(XRGB8888, AFBC32)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = AFBC_SSYT, .color_space = SRGB, .size_bytes = 69632, .raw_vmo_size = 69632),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC 32x8 (7600) beats LINEAR (no entry)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, LIN), PAIR(XBGR8888, AFBC32)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC32, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC 16x16 (3600) beats 32x8 (7600) and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, LIN), PAIR(XBGR8888, AFBC32), PAIR(XBGR8888, AFBC16)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC 16x16 (3600) beats LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, LIN), PAIR(XBGR8888, AFBC16)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC split+sparse+YTR (2500) beats 16x16 (3600)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, AFBC16), PAIR(XBGR8888, AFBC_SSY)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC_SSY, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC with a tiled header (2010) beats split+sparse+YTR (2500)",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, AFBC_SSY), PAIR(XBGR8888, AFBC_SSYT)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC_SSYT, .color_space = SRGB, .size_bytes = 69632, .raw_vmo_size = 69632),
        },
        {
                .name = "built-in costs, XBGR8888: AFBC split+sparse+YTR+tiled header is the cheapest Mali layout",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XBGR8888, LIN), PAIR(XBGR8888, AFBC16), PAIR(XBGR8888, AFBC_SSY), PAIR(XBGR8888, AFBC_SSYT), PAIR(XBGR8888, AFBC32)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XBGR8888), .modifier = AFBC_SSYT, .color_space = SRGB, .size_bytes = 69632, .raw_vmo_size = 69632),
        },
        {
                .name = "built-in costs, XRGB8888: Yf-tiled CCS beats every other Intel layout and LINEAR",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, XT), PAIR(XRGB8888, YT), PAIR(XRGB8888, YFT), PAIR(XRGB8888, YCCS), PAIR(XRGB8888, YFCCS)), CS(SRGB), MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = YFCCS, .color_space = SRGB, .size_bytes = 20480, .raw_vmo_size = 20480),
        },
        {
                .name = "built-in costs: NV12 is preferred when decoding (usage video HW_DECODER)",
                .participants = {P("dec", DEC, IFCS({PAIRS(PAIR(NV21, LIN), PAIR(NV12, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "built-in costs: without decoding, NV12 has no entry and NV21's smaller fourcc wins",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV21, LIN), PAIR(NV12, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                .builtin_costs = true,
                OK(FMT(NV21), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },

        /* ---- cost selection rules with custom tables (§5) ---- */
        {
                .name = "costs: the entry sharing the most usage bits applies (decoder: 500, so NV21 at 300 wins)",
                .participants = {P("dec", DEC, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(NV21, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                COSTS(costs_usage_specific),
                OK(FMT(NV21), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "costs: an entry whose usage is not in the aggregate does not apply (NV12 costs 50)",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(NV21, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                COSTS(costs_usage_specific),
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "costs: equally specific entries, the later one applies (400, so NV21 at 300 wins)",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(NV21, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                COSTS(costs_later_wins),
                OK(FMT(NV21), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "costs: required usage must be a subset (cpu READ missing: NV12 costs DBL_MAX)",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(NV21, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)}))},
                COSTS(costs_needs_cpu_read),
                OK(FMT(NV21), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "costs: a second participant's usage completes the required bits (cpu READ: NV12 at 50)",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(NV21, LIN)), CS(REC709),
                                                     MIN_WH(64, 64)})),
                                 P("reader", .usage.cpu = SYSMEM_CPU_USAGE_READ)},
                COSTS(costs_needs_cpu_read),
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },

        /* ---- colour spaces ---- */
        {
                .name = "colour choice by rank: {REC601_PAL, REC601_PAL_FULL_RANGE, REC709} gives REC709",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(PAL, PAL_FULL, REC709), MIN_WH(64, 64)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "colour spaces intersect across participants",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709, NTSC), MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({F(NV12), CS(PAL, NTSC)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = NTSC, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "colour DO_NOT_CARE takes the other side's list",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(CS_DNC), MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({F(NV12), CS(PAL)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = PAL, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "colour spaces with nothing in common: both lists and both participants are named",
                .participants = {P("cam", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64)})),
                                 P("disp", DISP, IFCS({F(NV12), CS(NTSC, PAL)}))},
                FAILS("no image format accepted by every participant: 'cam' and 'disp' share (NV12, LINEAR)",
                      "their color_spaces have none in common: {REC709} (from 'cam') and "
                      "{REC601_NTSC, REC601_PAL} (from 'disp')"),
        },
        {
                .name = "colour DO_NOT_CARE from everyone fails after aggregation",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(CS_DNC), MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({F(NV12), CS(CS_DNC)}))},
                FAILS("every image format that 'a' and 'b' together accept has color_spaces DO_NOT_CARE from every "
                      "participant: {(NV12, LINEAR)}",
                      "at least one must name the colour spaces it accepts"),
        },
        {
                .name = "an empty color_spaces list fails (§2)",
                .participants = {P("a", CAM, IFCS({F(NV12), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0].color_spaces is empty"),
        },
        {
                .name = "DO_NOT_CARE among other colour spaces fails (§2)",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709, CS_DNC), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0].color_spaces has DO_NOT_CARE among 2 entries"),
        },
        {
                .name = "DO_NOT_CARE with INVALID fails too (§2)",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(CS_DNC, SYSMEM_COLOR_SPACE_INVALID)}))},
                FAILS("color_spaces has DO_NOT_CARE among 2 entries"),
        },
        {
                .name = "a colour space the format does not support fails: NV12 with SRGB",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709, SRGB), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0] (NV12, LINEAR): color_spaces {SRGB} is not supported by NV12",
                      "it supports {REC601_NTSC, REC601_NTSC_FULL_RANGE, REC601_PAL, REC601_PAL_FULL_RANGE, REC709, "
                      "PASSTHROUGH}"),
        },
        {
                .name = "NV12 does not take REC2020 (8-bit YUV), P010 does",
                .participants = {P("a", CAM, IFCS({PAIRS(PAIR(NV12, LIN)), CS(REC2020), MIN_WH(64, 64)}))},
                FAILS("(NV12, LINEAR): color_spaces {REC2020} is not supported by NV12"),
        },
        {
                .name = "P010 with REC2020",
                .participants = {P("a", CAM, IFCS({F(P010), CS(REC2020), MIN_WH(64, 64)}))},
                OK(FMT(P010), .modifier = LIN, .color_space = REC2020, .size_bytes = 12288, .raw_vmo_size = 12288,
                   .start_offset = 4, .divisor = 4),
        },
        {
                .name = "a colour-space value sysmem does not know fails",
                .participants = {P("a", CAM, IFCS({F_DNC, CS(42), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0].color_spaces[0] 42 is not a colour space"),
        },

        /* ---- per-participant validation (§2) ---- */
        {
                .name = "pixel_format 0 (DRM_FORMAT_INVALID) in the list fails",
                .participants = {P("a", CAM, IFCS({PAIRS({0, LIN}), CS(SRGB), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0].pixel_format_and_modifiers[0].pixel_format is 0 "
                      "(DRM_FORMAT_INVALID)"),
        },
        {
                .name = "modifier DRM_FORMAT_MOD_INVALID in the list fails",
                .participants = {P("a", CAM, IFCS({PAIRS(PAIR(NV12, DRM_FORMAT_MOD_INVALID)), CS(REC709)}))},
                FAILS("pixel_format_and_modifiers[0].pixel_format_modifier is DRM_FORMAT_MOD_INVALID"),
        },
        {
                .name = "modifier DRM_FORMAT_MOD_INVALID in pixel_format_modifier fails",
                .participants = {P("a", CAM, IFCS({F(NV12), M(DRM_FORMAT_MOD_INVALID), CS(REC709)}))},
                FAILS("'a': image_format_constraints[0].pixel_format_modifier is DRM_FORMAT_MOD_INVALID"),
        },
        {
                .name = "a pair only a device lays out, with no such heap, fails: NV12 with AFBC",
                .participants = {P("a", CAM, IFCS({F(NV12), M(AFBC16), CS(REC709), MIN_WH(64, 64)}))},
                FAILS("no image format left fits heap 'system-ram' id 0: sysmem's image-format library cannot lay out "
                      "(NV12, ARM_AFBC_16x16), and neither does the device of heap 'system-ram' id 0 nor of any other "
                      "heap that fits"),
        },
        {
                .name = "a pair only a device lays out, with no such heap, fails: YUYV X-tiled",
                .participants = {P("a", CAM, IFCS({F(YUYV), M(XT), CS(REC709), MIN_WH(64, 64)}))},
                FAILS("cannot lay out (YUYV, I915_FORMAT_MOD_X_TILED)"),
        },
        {
                .name = "a fourcc the library does not know, with no device heap, fails, named in hex",
                .participants = {P("a", CAM, IFCS({.pixel_format = DRM_FORMAT_C8, CS(SRGB), MIN_WH(64, 64)}))},
                FAILS("cannot lay out (0x20203843, LINEAR)"),
        },
        {
                .name = "a modifier without a pixel format fails",
                .participants = {P("a", CAM, IFCS({PAIRS(PAIR(NV12, LIN)), M(LIN), CS(REC709)}))},
                FAILS("'a': image_format_constraints[0].pixel_format_modifier is set but pixel_format is not"),
        },
        {
                .name = "no pixel format at all fails",
                .participants = {P("a", CAM, IFCS({CS(REC709), MIN_WH(64, 64)}))},
                FAILS("'a': image_format_constraints[0] names no pixel format"),
        },
        {
                .name = "min_size above max_size fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(2000, 64), MAX_WH(1920, 1080)}))},
                FAILS("'a': image_format_constraints[0] (NV12, LINEAR): min_size.width 2000 exceeds "
                      "max_size.width 1920"),
        },
        {
                .name = "min_size above max_size only after rounding fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 63), MAX_WH(64, 63)}))},
                FAILS("min_size.height 64 exceeds max_size.height 62 (both rounded to size_alignment.height 2)"),
        },
        {
                .name = "min_bytes_per_row above max_bytes_per_row fails",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(100, 1), .min_bytes_per_row = 4000,
                                                   .max_bytes_per_row = 3000}))},
                FAILS("'a': image_format_constraints[0] (ARGB8888, LINEAR): min_bytes_per_row 4000",
                      "exceeds max_bytes_per_row 3000"),
        },
        {
                .name = "a min_size too wide for max_bytes_per_row: the §1 raise is skipped, sizing names the limit",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1000, 1),
                                                   .max_bytes_per_row = 3000}))},
                FAILS("the (ARGB8888, LINEAR) image of 1000x1 (min_size from 'a') needs bytes_per_row 4000",
                      "more than max_bytes_per_row 3000 (from 'a')"),
        },
        {
                .name = "min_size more pixels than max_width_times_height fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(100, 100),
                                                   .max_width_times_height = 9999}))},
                FAILS("min_size 100x100 is 10000 pixels, more than max_width_times_height 9999"),
        },
        {
                .name = "min_size whose area overflows 32 bits fails",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), MIN_WH(65536, 65536)}))},
                FAILS("min_size 65536x65536 is 4294967296 pixels, more than 32 bits can count"),
        },
        {
                .name = "size_alignment not a power of two fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), ALIGN(3, 2)}))},
                FAILS("'a': image_format_constraints[0].size_alignment 3x2 must be a power of two"),
        },
        {
                .name = "display_rect_alignment not a power of two fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), .display_rect_alignment = {2, 6}}))},
                FAILS("display_rect_alignment 2x6 must be a power of two"),
        },
        {
                .name = "start_offset_divisor not a power of two fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64), .start_offset_divisor = 12}))},
                FAILS("start_offset_divisor 12 must be a power of two no larger than the page size 4096"),
        },
        {
                .name = "start_offset_divisor above the page size fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .start_offset_divisor = 8192}))},
                FAILS("start_offset_divisor 8192 must be a power of two no larger than the page size 4096"),
        },
        {
                /* Validated as given: raising 3 to ARGB8888's sample alignment 4 first would make it pass. */
                .name = "start_offset_divisor 3 fails before the format's sample alignment raises it to 4",
                .participants = {P("a", GPU, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64), .start_offset_divisor = 3}))},
                FAILS("'a': image_format_constraints[0].start_offset_divisor 3 must be a power of two no larger than "
                      "the page size 4096"),
        },
        {
                .name = "start_offset_divisor 3 fails for every pair of the list, whatever the sample alignment",
                .participants = {P("a", GPU, IFCS({PAIRS(PAIR(ABGR8888, LIN), PAIR(XRGB8888, AFBC16)), CS(SRGB),
                                                   MIN_WH(64, 64), .start_offset_divisor = 3}))},
                FAILS("'a': image_format_constraints[0].start_offset_divisor 3 must be a power of two"),
        },
        {
                .name = "start_offset_divisor 3 of a second participant fails though the first's is 4",
                .participants = {P("a", GPU, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64), .start_offset_divisor = 4})),
                                 P("b", DISP, IFCS({F(ARGB8888), CS(SRGB), .start_offset_divisor = 3}))},
                FAILS("'b': image_format_constraints[0].start_offset_divisor 3 must be a power of two"),
        },
        {
                .name = "start_offset_divisor 2 is raised to ARGB8888's sample alignment 4 after it is checked",
                .participants = {P("a", GPU, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64), .start_offset_divisor = 2}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384,
                   .start_offset = 4),
        },
        {
                .name = "start_offset_divisor at the page size is accepted and reported",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .start_offset_divisor = 4096}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192,
                   .start_offset = 4096),
        },
        {
                .name = "required_min_size below min_size fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(640, 480),
                                                   .required_min_size = {320, 480}}))},
                FAILS("required_min_size 320x480 is smaller than min_size 640x480"),
        },
        {
                .name = "required_max_size above max_size fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MAX_WH(1280, 720),
                                                   .required_max_size = {1920, 1080}}))},
                FAILS("required_max_size 1920x1080 exceeds max_size 1280x720"),
        },
        {
                .name = "a required_max_size_list entry with a zero dimension fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), RMS({640, 480}, {0, 720})}))},
                FAILS("'a': image_format_constraints[0].required_max_size_list[1] is 0x720; both dimensions must be "
                      "non-zero"),
        },
        {
                .name = "a required_max_size_list entry above max_size fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MAX_WH(1280, 720), RMS({1920, 1080})}))},
                FAILS("required_max_size_list entry 1920x1080 exceeds max_size 1280x720"),
        },
        {
                .name = "is_alpha_present out of range fails",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), .is_alpha_present = 7}))},
                FAILS("is_alpha_present has invalid value 7"),
        },

        /* ---- pad_for_block_size and pad_beyond_image_size_bytes ---- */
        {
                .name = "pad_for_block_size not a power of two fails",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), .pad_for_block_size = {3, 1}}))},
                FAILS("pad_for_block_size 3x1 must be a power of two per axis"),
        },
        {
                .name = "pad_for_block_size needs a single-plane format: NV12 fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .pad_for_block_size = {4, 1}}))},
                FAILS("(NV12, LINEAR): pad_for_block_size 4x1 needs a specific single-plane pixel format with the "
                      "LINEAR modifier"),
        },
        {
                .name = "pad_for_block_size needs LINEAR: X-tiled fails",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), M(XT), CS(SRGB), .pad_for_block_size = {4, 1}}))},
                FAILS("(ARGB8888, I915_FORMAT_MOD_X_TILED): pad_for_block_size 4x1 needs"),
        },
        {
                .name = "pad_for_block_size with a height above 1 needs max_size.width",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64),
                                                   .pad_for_block_size = {4, 4}}))},
                FAILS("pad_for_block_size 4x4 with a height above 1 needs max_size.width"),
        },
        {
                .name = "pad quirk: width 1 skips the checks, so NV12 with pad 1x4 is accepted",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64), MAX_WH(64, 64),
                                                   .pad_for_block_size = {1, 4}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192,
                   .pad = {1, 4}),
        },
        {
                .name = "pad 4x1: room for (4-1) pixels past the last row goes to raw_vmo_size, not size_bytes",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1024, 1),
                                                   .pad_for_block_size = {4, 1}}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4096, .raw_vmo_size = 8192,
                   .pad = {4, 1}, .divisor = 4),
        },
        {
                .name = "pad 4x4: three rows of at most max_size.width pixels plus three pixels",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1024, 1024), MAX_WH(1024, 4096),
                                                   .pad_for_block_size = {4, 4}}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4 * MiB,
                   .raw_vmo_size = 4 * MiB + 16384, .pad = {4, 4}),
        },
        {
                .name = "pad_for_block_size merged from two participants makes the divisor hold whole blocks",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 1)})),
                                 P("b", GPU, IFCS({F(ARGB8888), CS(SRGB), .pad_for_block_size = {8, 1}}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 256, .raw_vmo_size = 4096,
                   .pad = {8, 1}, .divisor = 32, .min_bpr = 256),
        },
        {
                .name = "pad_for_block_size of a list taken whole does not change the divisor (§3 notes)",
                .participants = {P("b", GPU, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 1),
                                                   .pad_for_block_size = {8, 1}}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 256, .raw_vmo_size = 4096,
                   .pad = {8, 1}, .divisor = 4),
        },
        {
                .name = "pad 2x2 needs max_size.width below 2^31 after aggregation",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64), MAX_WH(0x90000000u, 64),
                                                   .pad_for_block_size = {2, 2}}))},
                FAILS("aggregated image_format_constraints (ARGB8888, LINEAR): pad_for_block_size 2x2 (from 'a') "
                      "with a height above 1 needs max_size.width below 2147483648"),
        },
        {
                .name = "pad_beyond_image_size_bytes takes the max and pads raw_vmo_size only",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1024, 1),
                                                   .pad_beyond_image_size_bytes = 100})),
                                 P("b", GPU, IFCS({F(ARGB8888), CS(SRGB), .pad_beyond_image_size_bytes = 4096}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4096, .raw_vmo_size = 8192,
                   .buffer_count = 2),
        },
        {
                .name = "padding beyond max_size_bytes fails",
                .participants = {P("a", CAM, MAX_SIZE(4096), IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1024, 1),
                                                                   .pad_beyond_image_size_bytes = 1}))},
                FAILS("size_bytes 4096", "padded to 4097 (pad_beyond_image_size_bytes from 'a') exceeds "
                      "buffer_memory_constraints.max_size_bytes 4096 (from 'a')"),
        },
        {
                .name = "the byte limits apply to the padded size",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(1024, 1024),
                                                   .pad_beyond_image_size_bytes = 1}))},
                .limits = &limits_4mib,
                FAILS("padded size 4194305", "padded for pad_beyond_image_size_bytes from 'a'",
                      "exceeds the limit of 4194304 bytes per buffer"),
        },

        /* ---- duplicates and combinable entries within one participant (§2) ---- */
        {
                .name = "the same pair twice (field and list) fails",
                .participants = {P("a", CAM, IFCS({F(NV12), PAIRS(PAIR(NV12, LIN)), CS(REC709)}))},
                FAILS("'a': image_format_constraints[0] (NV12, LINEAR) and image_format_constraints[0] (NV12, LINEAR) "
                      "name the same pixel format and modifier"),
        },
        {
                .name = "the same pair in two entries fails",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709)}, {F(NV12), CS(PAL)}))},
                FAILS("image_format_constraints[0] (NV12, LINEAR) and image_format_constraints[1] (NV12, LINEAR) name "
                      "the same"),
        },
        {
                .name = "(NV12, DO_NOT_CARE) and (DO_NOT_CARE, LINEAR) are combinable: fails",
                .participants = {P("a", CAM, IFCS({F(NV12), M(M_DNC), CS(REC709)}, {F_DNC, M(LIN), CS(REC709)}))},
                FAILS("(NV12, DO_NOT_CARE) and image_format_constraints[1] (DO_NOT_CARE, LINEAR) would both accept "
                      "(NV12, LINEAR)"),
        },
        {
                .name = "(DO_NOT_CARE, DO_NOT_CARE) with anything else fails",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB)}, {F_DNC, CS(CS_DNC)}))},
                FAILS("(DO_NOT_CARE, DO_NOT_CARE) would both accept (ARGB8888, LINEAR)"),
        },
        {
                .name = "(NV12, DO_NOT_CARE) and (DO_NOT_CARE, AFBC) overlap: a device may lay out NV12 AFBC",
                .participants = {P("a", CAM, IFCS({F(NV12), M(M_DNC), CS(REC709), MIN_WH(64, 64)},
                                                  {F_DNC, M(AFBC16), CS(SRGB)})),
                                 P("b", GPU, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(ABGR8888, AFBC16)), CS(CS_DNC)}))},
                FAILS("(NV12, DO_NOT_CARE) and image_format_constraints[1] (DO_NOT_CARE, ARM_AFBC_16x16) would both "
                      "accept (NV12, ARM_AFBC_16x16)"),
        },

        /* ---- pairs only a device lays out (docs/constraints.md) ---- */
        {
                .name = "a real GPU's list with a modifier sysmem does not know: LINEAR is chosen, the rest drops out",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S), PAIR(XRGB8888, NV_BL),
                                                          PAIR(XRGB8888, LIN)),
                                                    CS(SRGB), MIN_WH(100, 50)}))},
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 20000, .raw_vmo_size = 20480,
                   .heap = SYSMEM_HEAP_SYSTEM_RAM),
        },
        {
                .name = "pairs only a device lays out land on the heap whose device lays them out",
                .participants = {P("disp", DISP, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AMD_GFX9_64K_S)),
                                                     CS(SRGB)})),
                                 P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S)), CS(SRGB),
                                                     MIN_WH(100, 50)}))},
                DEVICE_HEAPS,
                OK(FMT(XRGB8888), .modifier = AMD_GFX9_64K_S, .color_space = SRGB, .size_bytes = 32768,
                   .raw_vmo_size = 32768, .heap = "drm:fakegpu"),
        },
        {
                .name = "with a pair sysmem lays out left, Fuchsia's heap and format choice stand",
                .participants = {P("disp", DISP, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, AMD_GFX9_64K_S)),
                                                     CS(SRGB)})),
                                 P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S), PAIR(XRGB8888, LIN)),
                                                     CS(SRGB), MIN_WH(100, 50)}))},
                DEVICE_HEAPS,
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 20000, .raw_vmo_size = 20480,
                   .heap = SYSMEM_HEAP_SYSTEM_RAM),
        },
        {
                .name = "a permitted device heap takes the device pair even where sysmem lays out another",
                .participants = {P("disp", DISP, IFCS({PAIRS(PAIR(XRGB8888, NV_BL)), CS(SRGB), MIN_WH(64, 64)}),
                                   .buffer_memory_constraints = {PERMIT({"drm:fakegpu", 0})}),
                                 P("cpu", CAM, IFCS({PAIRS(PAIR(XRGB8888, NV_BL), PAIR(XRGB8888, LIN)), CS(SRGB)}))},
                DEVICE_HEAPS,
                OK(FMT(XRGB8888), .modifier = NV_BL, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384,
                   .heap = "drm:fakegpu"),
        },
        {
                .name = "a format sysmem does not know, laid out by the device heap; its colour spaces are the device's",
                .participants = {P("a", GPU, IFCS({.pixel_format = DRM_FORMAT_C8, CS(REC709), MIN_WH(10, 10)}))},
                DEVICE_HEAPS,
                OK(FMT(C8), .modifier = LIN, .color_space = REC709, .size_bytes = 4096, .raw_vmo_size = 4096,
                   .heap = "drm:fakegpu"),
        },
        {
                .name = "device pairs and only system-ram permitted: they drop out, explained",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S)), CS(SRGB), MIN_WH(64, 64)}),
                                   .buffer_memory_constraints = {PERMIT({SYSMEM_HEAP_SYSTEM_RAM, 0})})},
                DEVICE_HEAPS,
                FAILS("no image format left fits heap 'system-ram' id 0: sysmem's image-format library cannot lay out "
                      "(XRGB8888, ",
                      "only a device that lays a pair out can allocate it"),
        },
        {
                .name = "the device's row bytes must meet bytes_per_row_divisor",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S)), CS(SRGB), MIN_WH(100, 50),
                                                     .bytes_per_row_divisor = 1024}))},
                DEVICE_HEAPS,
                FAILS("the (XRGB8888, 0x0200000000000901) image of 100x50 (min_size from 'gpu') is laid out by the "
                      "device of heap 'drm:fakegpu' id 0 with bytes_per_row 512, outside min_bytes_per_row 0",
                      "bytes_per_row_divisor 1024 (from 'gpu')"),
        },
        {
                .name = "the device is never asked to make an image past the per-buffer limit",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(XRGB8888, AMD_GFX9_64K_S)), CS(SRGB),
                                                     MIN_WH(16448, 16448)}))},
                DEVICE_HEAPS,
                FAILS("image of 16448x16448 (min_size from 'gpu') cannot fit the limit of 268435456 bytes per buffer "
                      "even at one byte a pixel"),
        },
        {
                .name = "a device pair is still checked for its colour spaces when sysmem knows the format",
                .participants = {P("gpu", GPU, IFCS({PAIRS(PAIR(NV12, AMD_GFX9_64K_S)), CS(SRGB)}))},
                DEVICE_HEAPS,
                FAILS("color_spaces {SRGB} is not supported by NV12"),
        },

        /* ---- fan-out of DO_NOT_CARE (§3.1) ---- */
        {
                .name = "fan-out: DO_NOT_CARE format x specific pairs, colour spaces filtered per format",
                .participants = {P("any", CAM, IFCS({F_DNC, M(LIN), CS(SRGB, REC709), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(NV12, LIN)), CS(CS_DNC)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192),
        },
        {
                .name = "fan-out: the ARGB8888 clone keeps only SRGB",
                .participants = {P("any", CAM, IFCS({F_DNC, M(LIN), CS(SRGB, REC709), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({F(ARGB8888), CS(CS_DNC)}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "fan-out: a clone without a supported colour space is dropped, nothing is left",
                .participants = {P("any", CAM, IFCS({F_DNC, M(LIN), CS(SRGB), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({F(NV12), CS(CS_DNC)}))},
                FAILS("no (pixel_format, pixel_format_modifier) pair accepted by every participant",
                      "'any' offers {(DO_NOT_CARE, LINEAR)}", "'b' offers {(NV12, LINEAR)}"),
        },
        {
                .name = "fan-out: DO_NOT_CARE modifier x specific modifiers (the participant's side)",
                .participants = {P("cam", CAM, IFCS({F(ARGB8888), M(LIN), CS(SRGB), MIN_WH(64, 64)})),
                                 P("gpu", GPU, IFCS({F(ARGB8888), M(M_DNC), CS(SRGB)}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "fan-out: DO_NOT_CARE modifier picks the cheapest of the other side's modifiers",
                .participants = {P("gpu", GPU, IFCS({F(ARGB8888), M(M_DNC), CS(SRGB), MIN_WH(64, 64)})),
                                 P("disp", DISP, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(ARGB8888, XT),
                                                             PAIR(ARGB8888, YT)),
                                                       CS(SRGB)}))},
                .builtin_costs = true,
                OK(FMT(ARGB8888), .modifier = YT, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384),
        },
        {
                .name = "fan-out: (DO_NOT_CARE, DO_NOT_CARE) takes each of the other side's pairs",
                .participants = {P("any", NONE, IFCS({F_DNC, CS(CS_DNC), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({PAIRS(PAIR(XRGB8888, LIN), PAIR(XRGB8888, XT)), CS(SRGB)}))},
                .builtin_costs = true,
                OK(FMT(XRGB8888), .modifier = XT, .color_space = SRGB, .size_bytes = 32768, .raw_vmo_size = 32768,
                   .min_size = {64, 64}),
        },
        {
                .name = "fan-out: (DO_NOT_CARE, DO_NOT_CARE) alone leaves nothing specific",
                .participants = {P("any", CAM, IFCS({F_DNC, CS(CS_DNC), MIN_WH(64, 64)}))},
                FAILS("every image format that 'any' accepts has a DO_NOT_CARE pixel_format or pixel_format_modifier: "
                      "{(DO_NOT_CARE, DO_NOT_CARE)}",
                      "at least one participant must name a specific value"),
        },
        {
                .name = "fan-out: two DO_NOT_CARE participants still leave nothing specific",
                .participants = {P("a", CAM, IFCS({F_DNC, CS(CS_DNC), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({F(NV12), M(M_DNC), CS(REC709)}))},
                FAILS("every image format that 'a' and 'b' together accept has a DO_NOT_CARE pixel_format or "
                      "pixel_format_modifier: {(NV12, DO_NOT_CARE)}"),
        },
        {
                .name = "fan-out: a partly DO_NOT_CARE entry is completed by a third participant",
                .participants = {P("a", CAM, IFCS({F_DNC, CS(CS_DNC), MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({F(NV12), M(M_DNC), CS(REC709)})),
                                 P("c", DISP, IFCS({F(NV12), M(XT), CS(REC709, PAL)}))},
                OK(FMT(NV12), .modifier = XT, .color_space = REC709, .size_bytes = 49152, .raw_vmo_size = 49152,
                   .buffer_count = 3),
        },

        /* ---- the list rule and per-entry merges (§3) ---- */
        {
                .name = "only the pairs on both sides are kept",
                .participants = {P("a", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(YUYV, LIN)), CS(REC709),
                                                   MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({PAIRS(PAIR(YUYV, LIN), PAIR(ARGB8888, LIN)), CS(CS_DNC)}))},
                OK(FMT(YUYV), .modifier = LIN, .color_space = REC709, .size_bytes = 8192, .raw_vmo_size = 8192),
        },
        {
                .name = "a pair whose merge fails is dropped and the others stay",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64)},
                                                  {F(YUYV), CS(REC709), MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({F(NV12), CS(PAL)}, {F(YUYV), CS(REC709)}))},
                OK(FMT(YUYV), .modifier = LIN, .color_space = REC709, .size_bytes = 8192, .raw_vmo_size = 8192),
        },
        {
                .name = "the required message: no pixel format accepted by every participant, with both offers",
                .participants = {P("camera", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64)},
                                                       {F(YUYV), CS(REC709), MIN_WH(64, 64)})),
                                 P("display", DISP, IFCS({PAIRS(PAIR(ARGB8888, LIN), PAIR(XRGB8888, LIN)), CS(SRGB)}))},
                FAILS("no pixel format accepted by every participant: 'camera' offers {NV12, YUYV}, "
                      "'display' offers {ARGB8888, XRGB8888}"),
        },
        {
                .name = "the participant whose merge emptied the list is named, after those that agreed",
                .participants = {P("a", CAM, IFCS({PAIRS(PAIR(NV12, LIN), PAIR(YUYV, LIN)), CS(REC709),
                                                   MIN_WH(64, 64)})),
                                 P("b", GPU, IFCS({F(NV12), CS(REC709)})),
                                 P("c", DISP, IFCS({F(YUYV), CS(REC709)}))},
                FAILS("no pixel format accepted by every participant: 'a' and 'b' together offer {NV12}, "
                      "'c' offers {YUYV}"),
        },
        {
                .name = "is_alpha_present set on both sides must agree",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64),
                                                   .is_alpha_present = SYSMEM_TRUE})),
                                 P("b", DISP, IFCS({F(ARGB8888), CS(SRGB), .is_alpha_present = SYSMEM_FALSE}))},
                FAILS("'a' and 'b' share (ARGB8888, LINEAR), but is_alpha_present is true (from 'a') and false "
                      "(from 'b')"),
        },
        {
                .name = "is_alpha_present set on one side is taken and kept for a format with alpha",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(64, 64)})),
                                 P("b", DISP, IFCS({F(ARGB8888), CS(SRGB), .is_alpha_present = SYSMEM_FALSE}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384,
                   .check_alpha = true, .alpha = SYSMEM_FALSE),
        },
        {
                .name = "is_alpha_present is cleared for a format without an A or X channel",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .is_alpha_present = SYSMEM_TRUE}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 6144, .raw_vmo_size = 8192,
                   .check_alpha = true, .alpha = SYSMEM_UNSET),
        },
        {
                .name = "merges: min by max, max by min, alignments by max, pixel boundary by OR",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(100, 50), MAX_WH(4096, 300),
                                                   ALIGN(4, 1), .max_bytes_per_row = 20000,
                                                   .max_width_times_height = 1000000})),
                                 P("b", DISP, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(60, 200), MAX_WH(2000, 4000),
                                                    ALIGN(1, 8), .max_bytes_per_row = 16000,
                                                    .max_width_times_height = 500000, .start_offset_divisor = 64,
                                                    .require_bytes_per_row_at_pixel_boundary = true}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 80000, .raw_vmo_size = 81920,
                   .min_size = {100, 200}, .max_size = {2000, 296}, .size_alignment = {4, 8}, .max_bpr = 16000,
                   .max_wxh = 500000, .start_offset = 64, .check_boundary = true, .boundary = true, .buffer_count = 2),
        },
        {
                .name = "bytes_per_row_divisor merges by lcm",
                .participants = {P("a", CAM, IFCS({F(RGB888), CS(SRGB), MIN_WH(100, 10), .bytes_per_row_divisor = 6})),
                                 P("b", DISP, IFCS({F(RGB888), CS(SRGB), .bytes_per_row_divisor = 8}))},
                OK(FMT(RGB888), .modifier = LIN, .color_space = SRGB, .size_bytes = 3120, .raw_vmo_size = 4096,
                   .divisor = 24, .min_bpr = 312),
        },
        {
                .name = "bytes_per_row_divisor whose lcm overflows 32 bits drops the pair",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), MIN_WH(10, 10), .bytes_per_row_divisor = 100000})),
                                 P("b", DISP, IFCS({F(R8), CS(SRGB), .bytes_per_row_divisor = 100003}))},
                FAILS("'a' and 'b' share (R8, LINEAR), but the least common multiple of bytes_per_row_divisor 100000 "
                      "(from 'a') and 100003 (from 'b') exceeds 32 bits"),
        },
        {
                .name = "min_size of one above max_size of another fails after aggregation, naming both",
                .participants = {P("cam", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(2000, 1080)})),
                                 P("disp", DISP, IFCS({F(NV12), CS(REC709), MAX_WH(1920, 1080)}))},
                FAILS("aggregated image_format_constraints (NV12, LINEAR): min_size.width 2000 (from 'cam') exceeds "
                      "max_size.width 1920 (from 'disp')"),
        },
        {
                .name = "a required_min_size below another's min_size fails after aggregation",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .required_min_size = {320, 240}})),
                                 P("b", DISP, IFCS({F(NV12), CS(REC709), MIN_WH(640, 480)}))},
                FAILS("required_min_size 320x240 (from 'a') is smaller than min_size 640x480 (from 'b')"),
        },
        {
                .name = "a required size above another's max_size fails after aggregation, naming both",
                .participants = {P("enc", CAM, IFCS({F(NV12), CS(REC709), RMS({3840, 2160})})),
                                 P("disp", DISP, IFCS({F(NV12), CS(REC709), MAX_WH(1920, 1080)}))},
                FAILS("required_max_size_list entry 3840x2160 (from 'enc') exceeds max_size 1920x1080 (from 'disp')"),
        },

        /* ---- required sizes (§3 notes, §4.7) ---- */
        {
                .name = "required_max_size takes the max per axis and is appended to the list",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), .required_max_size = {640, 480}})),
                                 P("b", DISP, IFCS({F(NV12), CS(REC709), .required_max_size = {320, 720}}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 691200, .raw_vmo_size = 692224,
                   .required_max_size = {640, 720}, .check_rms = true, .rms_count = 1, .rms = {{640, 720}}),
        },
        {
                .name = "required_max_size_list: concatenated, dominated sizes removed, the largest image sizes",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), RMS({1920, 1080})})),
                                 P("b", DISP, IFCS({F(NV12), CS(REC709), RMS({1280, 720}, {3840, 600})}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 3456000, .raw_vmo_size = 3457024,
                   .check_rms = true, .rms_count = 2, .rms = {{1920, 1080}, {3840, 600}}),
        },
        {
                .name = "a required size only needs to be held: the image for each, the largest counts",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), RMS({100, 10000}, {10000, 100})}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 4000000, .raw_vmo_size = 4001792,
                   .check_rms = true, .rms_count = 2),
        },
        {
                .name = "a required size wider than max_bytes_per_row allows fails in sizing",
                .participants = {P("a", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(16, 16), .max_bytes_per_row = 8000})),
                                 P("b", DISP, IFCS({F(ARGB8888), CS(SRGB), .required_max_size = {4000, 10}}))},
                FAILS("the (ARGB8888, LINEAR) image of 4000x16 (width of required size 4000x10 from 'b', "
                      "min_size.height from 'a') needs bytes_per_row 16000",
                      "more than max_bytes_per_row 8000 (from 'a')"),
        },
        {
                .name = "a required size with more pixels than max_width_times_height fails in sizing",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(64, 64),
                                                   .max_width_times_height = 100000})),
                                 P("b", DISP, IFCS({F(NV12), CS(REC709), RMS({1000, 1000})}))},
                FAILS("the (NV12, LINEAR) image of 1000x1000 (required size 1000x1000 from 'b') has 1000000 pixels, "
                      "more than max_width_times_height 100000 (from 'a')"),
        },
        {
                .name = "WHY IT FAILED: the image another's min_size needs exceeds one's max_size_bytes",
                .participants = {P("camera", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(1920, 1080)})),
                                 P("display", DISP, MAX_SIZE(1 * MiB), IFCS({F(NV12), CS(REC709, PAL)}))},
                FAILS("the (NV12, LINEAR) image of 1920x1080 (min_size from 'camera'), bytes_per_row 1920, needs "
                      "3110400 bytes, more than buffer_memory_constraints.max_size_bytes 1048576 (from 'display')"),
        },
        {
                .name = "an image exactly at max_size_bytes is accepted",
                .participants = {P("camera", CAM, IFCS({F(NV12), CS(REC709), MIN_WH(1920, 1080)})),
                                 P("display", DISP, MAX_SIZE(3110400), IFCS({F(NV12), CS(REC709)}))},
                OK(FMT(NV12), .modifier = LIN, .color_space = REC709, .size_bytes = 3110400, .raw_vmo_size = 3112960,
                   .buffer_count = 2),
        },
        {
                .name = "the image size is checked against limits.max_buffer_bytes, naming the image",
                .participants = {P("cam", CAM, IFCS({F(ARGB8888), CS(SRGB), MIN_WH(4096, 2048)}))},
                .limits = &limits_4mib,
                FAILS("size_bytes 33554432 (the (ARGB8888, LINEAR) image of 4096x2048 (min_size from 'cam'), "
                      "bytes_per_row 16384) exceeds the limit of 4194304 bytes per buffer"),
        },
        {
                .name = "the image size times the buffer count is checked against max_collection_bytes",
                .participants = {P("cam", CAM, CAMP(3), IFCS({NV12_1080}))},
                .limits = &limits_collection_8mib,
                FAILS("size_bytes 3110400 (the (NV12, LINEAR) image of 1920x1080", "x buffer count 3 = 9331200",
                      "limit of 8388608 bytes per collection"),
        },

        /* ---- the size precondition (§3) ---- */
        {
                .name = "an image min_size implies a size: no buffer constraints needed",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), MIN_WH(10, 10)}))},
                OK(FMT(R8), .modifier = LIN, .color_space = SRGB, .size_bytes = 100, .raw_vmo_size = 4096),
        },
        {
                .name = "a required_max_size_list entry implies a size",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), RMS({20, 10})}))},
                OK(FMT(R8), .modifier = LIN, .color_space = SRGB, .size_bytes = 200, .raw_vmo_size = 4096),
        },
        {
                .name = "image formats without any size imply none",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB)}))},
                FAILS("no participant implies a non-zero buffer size",
                      "an image_format_constraints min_size, required_max_size or required_max_size_list entry"),
        },
        {
                .name = "a min_size with only a width implies none",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), MIN_WH(10, 0)}))},
                FAILS("no participant implies a non-zero buffer size"),
        },

        /* ---- settings details ---- */
        {
                .name = "a CPU user and a display with images get the CPU domain (the CPU user has no RAM domain)",
                .participants = {P("cam", CAM, IFCS({F(XRGB8888), CS(SRGB), MIN_WH(640, 480)})),
                                 P("disp", DISP, IFCS({F(XRGB8888), CS(SRGB)}))},
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 1228800, .raw_vmo_size = 1228800,
                   .check_domain = true, .domain = SYSMEM_COHERENCY_DOMAIN_CPU),
        },
        {
                .name = "secure collections keep every DRM modifier (none is a TE variant)",
                .participants = {P("dec", .usage.video = SYSMEM_VIDEO_USAGE_HW_DECODER, CAMP(1),
                                   .buffer_memory_constraints.secure_required = true,
                                   IFCS({F(ARGB8888), M(AFBC16), CS(SRGB), MIN_WH(64, 64)}))},
                .heaps = heaps_secure, .heap_count = ARRAY_LEN(heaps_secure),
                OK(FMT(ARGB8888), .modifier = AFBC16, .color_space = SRGB, .size_bytes = 17408, .raw_vmo_size = 20480,
                   .check_domain = true, .domain = SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE),
        },
        {
                .name = "display-only participants with images get the RAM domain, like without images",
                .participants = {P("disp", DISP, IFCS({F(XRGB8888), CS(SRGB), MIN_WH(640, 480)}))},
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 1228800, .raw_vmo_size = 1228800,
                   .check_domain = true, .domain = SYSMEM_COHERENCY_DOMAIN_RAM),
        },

        /* ---- caps (§2) ---- */
        {
                .name = "33 colour spaces fail",
                .participants = {P("a", CAM, IFCS({F(NV12), .color_spaces = color_spaces_33,
                                                   .color_space_count = 33}))},
                FAILS("'a': image_format_constraints[0].color_space_count 33 exceeds the limit of 32"),
        },
        {
                .name = "65 pixel_format_and_modifiers fail",
                .participants = {P("a", CAM, IFCS({.pixel_format_and_modifiers = pairs_65,
                                                   .pixel_format_and_modifier_count = 65, CS(SRGB)}))},
                FAILS("pixel_format_and_modifier_count 65 exceeds the limit of 64"),
        },
        {
                .name = "65 required_max_size_list entries fail",
                .participants = {P("a", CAM, IFCS({F(NV12), CS(REC709), .required_max_size_list = sizes_65,
                                                   .required_max_size_count = 65}))},
                FAILS("required_max_size_count 65 exceeds the limit of 64"),
        },
        {
                .name = "65 image_format_constraints fail",
                .participants = {P("a", CAM, .image_format_constraints = ifcs_65, .image_format_constraint_count = 65)},
                FAILS("'a': image_format_constraint_count 65 exceeds the limit of 64"),
        },
        {
                .name = "more than 512 flattened entries in one participant fail",
                .participants = {P("a", CAM, .image_format_constraints = ifcs_9x64,
                                   .image_format_constraint_count = 9)},
                FAILS("'a': image_format_constraints expand to more than 512"),
        },
        {
                .name = "more than 64 required sizes left after merging fail",
                .participants = {P("a", CAM, IFCS({F(R8), CS(SRGB), .required_max_size_list = sizes_line_a,
                                                   .required_max_size_count = 40})),
                                 P("b", DISP, IFCS({F(R8), CS(SRGB), .required_max_size_list = sizes_line_b,
                                                    .required_max_size_count = 40}))},
                FAILS("image_format_constraints (R8, LINEAR): with the required_max_size_list of 'b', more than 64 "
                      "required sizes remain"),
        },

        /* ---- audit of aggregation against the reference (issue 11) ---- */
        {
                .name = "AFBC's MinimumRowBytes ignores max_bytes_per_row, so an AFBC entry it exceeds fails its participant",
                .participants = {P("gpu", GPU, IFCS({F(ARGB8888), M(AFBC16), CS(SRGB), MIN_WH(1024, 16),
                                                     .max_bytes_per_row = 1024},
                                                    {F(NV12), CS(REC709), MIN_WH(1024, 16)}))},
                FAILS("'gpu': image_format_constraints[0] (ARGB8888, ARM_AFBC_16x16): min_bytes_per_row 4096",
                      "exceeds max_bytes_per_row 1024"),
        },
        {
                .name = "a device-only pair that fan-out made, whose ranges cross, drops out instead of failing",
                .participants = {P("cam", CAM, IFCS({F(ARGB8888), M(M_DNC), CS(SRGB), MIN_WH(100, 100)})),
                                 P("gpu", GPU, IFCS({F_DNC, M(AMD_GFX9_64K_S), CS(SRGB), MAX_WH(64, 64)},
                                                    {F_DNC, M(LIN), CS(SRGB), MAX_WH(200, 200)}))},
                OK(FMT(ARGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 40000, .raw_vmo_size = 40960),
        },
        {
                .name = "when every entry left is a device-only pair whose ranges cross, the first one's reason is given",
                .participants = {P("cam", CAM, IFCS({F(ARGB8888), M(M_DNC), CS(SRGB), MIN_WH(100, 100)})),
                                 P("gpu", GPU, IFCS({F_DNC, M(AMD_GFX9_64K_S), CS(SRGB), MAX_WH(64, 64)}))},
                FAILS("aggregated image_format_constraints (ARGB8888, 0x0200000000000901): min_size.width 100 (from "
                      "'cam') exceeds max_size.width 64 (from 'gpu')"),
        },
        {
                .name = "a device-only pair that fan-out made does not displace the pair Fuchsia chooses",
                .participants = {P("cam", CAM, IFCS({F(NV12), M(M_DNC), CS(REC709), MIN_WH(64, 64)},
                                                    {F(XRGB8888), M(M_DNC), CS(SRGB), MIN_WH(64, 64)}),
                                   .buffer_memory_constraints = {PERMIT({"drm:fakegpu", 0})}),
                                 P("gpu", GPU, IFCS({F_DNC, M(AMD_GFX9_64K_S), CS(CS_DNC)},
                                                    {F(XRGB8888), M(LIN), CS(SRGB)}))},
                DEVICE_HEAPS,
                OK(FMT(XRGB8888), .modifier = LIN, .color_space = SRGB, .size_bytes = 16384, .raw_vmo_size = 16384,
                   .heap = "drm:fakegpu"),
        },
        {
                .name = "once a participant names a device-only pair (Fuchsia fails it), every entry competes by cost",
                .participants = {P("cam", CAM, IFCS({PAIRS(PAIR(NV12, AMD_GFX9_64K_S)), CS(REC709), MIN_WH(64, 64)},
                                                    {F(XRGB8888), M(M_DNC), CS(SRGB), MIN_WH(64, 64)}),
                                   .buffer_memory_constraints = {PERMIT({"drm:fakegpu", 0})}),
                                 P("gpu", GPU, IFCS({F_DNC, M(AMD_GFX9_64K_S), CS(CS_DNC)},
                                                    {F(XRGB8888), M(LIN), CS(SRGB)}))},
                DEVICE_HEAPS,
                OK(FMT(NV12), .modifier = AMD_GFX9_64K_S, .color_space = REC709, .size_bytes = 16384,
                   .raw_vmo_size = 16384, .heap = "drm:fakegpu"),
        },
};
/* clang-format on */
#if defined(__clang__)
#pragma clang diagnostic pop
#else
#pragma GCC diagnostic pop
#endif

static void check_size(const char *what, struct sysmem_size got, struct sysmem_size want) {
        if (want.width == 0 && want.height == 0)
                return;
        if (got.width != want.width || got.height != want.height) {
                print_error("%s: got %ux%u, want %ux%u\n", what, got.width, got.height, want.width, want.height);
                fail();
        }
}

#define CHECK_U(what, got, want)                                                                                       \
        do {                                                                                                           \
                if ((want) != 0 && (uint64_t)(got) != (uint64_t)(want)) {                                              \
                        print_error("%s: got %llu, want %llu\n", what, (unsigned long long)(got),                      \
                                    (unsigned long long)(want));                                                       \
                        fail();                                                                                        \
                }                                                                                                      \
        } while (0)

static void run_case(void **state) {
        const struct test_case *tc = *state;
        struct core_participant participants[MAX_PARTICIPANTS];
        size_t count = 0;

        while (count < MAX_PARTICIPANTS && tc->participants[count].present) {
                participants[count] = (struct core_participant){
                        .constraints = tc->participants[count].constraints,
                        .debug_name = tc->participants[count].name,
                };
                count++;
        }
        struct core_config config = {
                .heaps = tc->heaps ? tc->heaps : heaps_default,
                .heap_count = tc->heaps ? tc->heap_count : ARRAY_LEN(heaps_default),
                .limits = tc->limits ? *tc->limits : limits_default,
                .format_costs = tc->builtin_costs ? core_default_format_costs : tc->costs,
                .format_cost_count = tc->builtin_costs ? core_default_format_cost_count : tc->cost_count,
        };

        struct core_result result, result_before;
        struct core_failure failure, failure_before;
        memset(&result, 0xa5, sizeof(result));
        memset(&failure, 0x5a, sizeof(failure));
        result_before = result;
        failure_before = failure;

        int r = core_aggregate(participants, count, &config, &result, &failure);

        if (tc->error == SYSMEM_ERROR_INVALID) {
                if (r != 0)
                        print_error("unexpected failure: %.*s\n", (int)sizeof(failure.message), failure.message);
                assert_int_equal(r, 0);
                assert_memory_equal(&failure, &failure_before, sizeof(failure));
                assert_true(tc->ok.format != 0); /* a success case must say which format it expects */
                assert_true(result.settings.has_image_format_constraints);

                const struct sysmem_image_format_settings *f = &result.settings.image_format_constraints;
                const struct expect *x = &tc->ok;
                char got_mod[CORE_MODIFIER_NAME_SIZE], want_mod[CORE_MODIFIER_NAME_SIZE], got_f[32], want_f[32];
                if (f->pixel_format != x->format || f->pixel_format_modifier != x->modifier) {
                        print_error("chose (%s, %s), want (%s, %s)\n",
                                    core_pixel_format_format(f->pixel_format, got_f, sizeof(got_f)),
                                    core_modifier_format(f->pixel_format_modifier, got_mod, sizeof(got_mod)),
                                    core_pixel_format_format(x->format, want_f, sizeof(want_f)),
                                    core_modifier_format(x->modifier, want_mod, sizeof(want_mod)));
                        fail();
                }
                assert_int_equal(f->color_space, x->color_space);
                if (x->heap)
                        assert_string_equal(result.settings.buffer_settings.heap.heap_type, x->heap);
                assert_int_equal(result.settings.buffer_settings.size_bytes, x->size_bytes);
                assert_int_equal(result.settings.buffer_settings.raw_vmo_size, x->raw_vmo_size);
                CHECK_U("buffer_count", result.buffer_count, x->buffer_count);
                check_size("min_size", f->min_size, x->min_size);
                check_size("max_size", f->max_size, x->max_size);
                check_size("size_alignment", f->size_alignment, x->size_alignment);
                check_size("required_min_size", f->required_min_size, x->required_min_size);
                check_size("required_max_size", f->required_max_size, x->required_max_size);
                check_size("pad_for_block_size", f->pad_for_block_size, x->pad);
                CHECK_U("min_bytes_per_row", f->min_bytes_per_row, x->min_bpr);
                CHECK_U("max_bytes_per_row", f->max_bytes_per_row, x->max_bpr);
                CHECK_U("bytes_per_row_divisor", f->bytes_per_row_divisor, x->divisor);
                CHECK_U("start_offset_divisor", f->start_offset_divisor, x->start_offset);
                CHECK_U("max_width_times_height", f->max_width_times_height, x->max_wxh);
                if (x->check_rms) {
                        assert_int_equal(f->required_max_size_count, x->rms_count);
                        for (uint32_t i = 0; i < x->rms_count && i < ARRAY_LEN(x->rms); i++)
                                if (x->rms[i].width || x->rms[i].height)
                                        check_size("required_max_size_list", f->required_max_size_list[i], x->rms[i]);
                }
                if (x->check_alpha)
                        assert_int_equal(f->is_alpha_present, x->alpha);
                if (x->check_boundary)
                        assert_int_equal(f->require_bytes_per_row_at_pixel_boundary, x->boundary);
                if (x->check_domain)
                        assert_int_equal(result.settings.buffer_settings.coherency_domain, x->domain);
                /* Invariants of every result (§9.5 "In the result"). */
                assert_true(f->min_size.width > 0 && f->min_size.height > 0);
                assert_int_equal(f->min_bytes_per_row % f->bytes_per_row_divisor, 0);
                assert_true(result.settings.buffer_settings.raw_vmo_size % config.limits.page_size == 0);
                return;
        }

        assert_int_equal(r, -EINVAL);
        if (getenv("TEST_CORE_SHOW"))
                print_message("%s\n", failure.message);
        assert_int_equal(failure.error, tc->error);
        assert_memory_equal(&result, &result_before, sizeof(result));
        assert_non_null(memchr(failure.message, 0, sizeof(failure.message)));
        assert_non_null(tc->message[0]); /* a failure case must say what the message has to contain */
        for (size_t i = 0; i < MAX_SUBSTRINGS && tc->message[i]; i++)
                if (!strstr(failure.message, tc->message[i])) {
                        print_error("message: %s\nlacks:   %s\n", failure.message, tc->message[i]);
                        fail();
                }
        if (tc->absent && strstr(failure.message, tc->absent)) {
                print_error("message: %s\nshould not contain: %s\n", failure.message, tc->absent);
                fail();
        }
}

/* ---- the cost-table parser ---- */

/* Parses text[0..len) as a cost table and checks it is exactly the built-in table, entry by entry. */
static void check_is_builtin_table(const char *what, const char *text, size_t len) {
        struct core_format_cost entries[256];
        size_t count = 0;
        char err[256];
        int r = core_format_costs_parse(text, len, entries, ARRAY_LEN(entries), &count, err, sizeof(err));
        if (r < 0)
                print_error("%s: %s\n", what, err);
        assert_int_equal(r, 0);
        if (count != core_default_format_cost_count)
                print_error("%s: %zu entries, the built-in table has %zu\n", what, count,
                            core_default_format_cost_count);
        assert_int_equal(count, core_default_format_cost_count);
        for (size_t i = 0; i < count; i++) {
                const struct core_format_cost *a = &entries[i], *b = &core_default_format_costs[i];
                if (a->pixel_format != b->pixel_format || a->pixel_format_modifier != b->pixel_format_modifier ||
                    memcmp(&a->usage, &b->usage, sizeof(a->usage)) != 0 || a->cost != b->cost) {
                        print_error("%s: entry %zu differs from the built-in table\n", what, i);
                        fail();
                }
        }
}

static size_t read_whole(const char *path, char *text, size_t size) {
        FILE *f = fopen(path, "r");
        if (!f)
                print_error("cannot open %s\n", path);
        assert_non_null(f);
        size_t len = fread(text, 1, size, f);
        fclose(f);
        assert_true(len > 0 && len < size);
        text[len] = 0;
        return len;
}

static void test_data_file_is_the_builtin_table(void **state) {
        (void)state;
        static char text[64 * 1024];
        size_t len = read_whole(FORMAT_COSTS_FILE, text, sizeof(text));
        check_is_builtin_table(FORMAT_COSTS_FILE, text, len);
}

/*
 * docs/constraints.md lists every built-in entry, in the file format, between two HTML comments; the block must
 * be the built-in table. The path is derived from FORMAT_COSTS_FILE (<root>/data/format-costs.txt).
 */
static void test_doc_lists_the_builtin_table(void **state) {
        (void)state;
        static const char data_suffix[] = "data/format-costs.txt", doc_suffix[] = "docs/constraints.md";
        static const char begin[] = "<!-- built-in format costs: begin -->",
                          end[] = "<!-- built-in format costs: end -->";
        char path[4096];
        size_t root = strlen(FORMAT_COSTS_FILE);
        assert_true(root >= strlen(data_suffix) &&
                    strcmp(FORMAT_COSTS_FILE + root - strlen(data_suffix), data_suffix) == 0);
        root -= strlen(data_suffix);
        assert_true(root + strlen(doc_suffix) < sizeof(path));
        memcpy(path, FORMAT_COSTS_FILE, root);
        strcpy(path + root, doc_suffix);

        static char text[256 * 1024];
        read_whole(path, text, sizeof(text));
        const char *b = strstr(text, begin);
        assert_non_null(b);
        b += strlen(begin);
        const char *e = strstr(b, end);
        assert_non_null(e);
        assert_null(strstr(e + strlen(end), begin)); /* one list */
        check_is_builtin_table("docs/constraints.md", b, (size_t)(e - b));
}

static void test_parser_accepts(void **state) {
        (void)state;
        static const char text[] = "# a comment\n"
                                   "\n"
                                   "   \t \n"
                                   "NV12 LINEAR video:HW_DECODER,cpu:READ 12.5   # trailing comment\n"
                                   "0x3231564e 0x0100000000000001 - 7\n"
                                   "ARGB8888\tARM_AFBC_16x16|SPARSE|YTR\tvulkan:IMAGE_SAMPLED,vulkan:IMAGE_STORAGE 0\n"
                                   "XRGB8888 I915_FORMAT_MOD_Y_TILED_CCS display:LAYER,video:1 1e3\r\n"
                                   "R8 LINEAR none:NONE_USAGE 5";
        struct core_format_cost e[8];
        size_t count = 0;
        char err[256];
        assert_int_equal(core_format_costs_parse(text, sizeof(text) - 1, e, ARRAY_LEN(e), &count, err, sizeof(err)), 0);
        assert_int_equal(count, 5);
        assert_int_equal(e[0].pixel_format, DRM_FORMAT_NV12);
        assert_int_equal(e[0].pixel_format_modifier, DRM_FORMAT_MOD_LINEAR);
        assert_int_equal(e[0].usage.video, SYSMEM_VIDEO_USAGE_HW_DECODER);
        assert_int_equal(e[0].usage.cpu, SYSMEM_CPU_USAGE_READ);
        assert_true(e[0].cost == 12.5);
        assert_int_equal(e[1].pixel_format, DRM_FORMAT_NV12);
        assert_int_equal(e[1].pixel_format_modifier, I915_FORMAT_MOD_X_TILED);
        assert_true(e[1].usage.cpu == 0 && e[1].usage.video == 0 && e[1].cost == 7);
        assert_int_equal(e[2].pixel_format_modifier,
                         DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | AFBC_FORMAT_MOD_SPARSE |
                                                 AFBC_FORMAT_MOD_YTR));
        assert_int_equal(e[2].usage.vulkan, SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED | SYSMEM_VULKAN_IMAGE_USAGE_STORAGE);
        assert_true(e[2].cost == 0);
        assert_int_equal(e[3].pixel_format_modifier, I915_FORMAT_MOD_Y_TILED_CCS);
        assert_int_equal(e[3].usage.display, SYSMEM_DISPLAY_USAGE_LAYER);
        assert_int_equal(e[3].usage.video, 1);
        assert_true(e[3].cost == 1000);
        assert_int_equal(e[4].usage.none, SYSMEM_NONE_USAGE);

        /* Empty text is an empty table. */
        assert_int_equal(core_format_costs_parse("", 0, e, ARRAY_LEN(e), &count, err, sizeof(err)), 0);
        assert_int_equal(count, 0);
}

static void test_parser_rejects(void **state) {
        (void)state;
        static const struct {
                const char *text;
                const char *message[2];
        } table[] = {
                {"NV12 LINEAR -\n", {"line 1: 3 fields; expected PIXEL_FORMAT MODIFIER USAGE COST"}},
                {"# c\nNV12\n", {"line 2: 1 field;"}},
                {"NV12 LINEAR - 1 extra\n", {"line 1: unexpected 'extra' after the cost"}},
                {"FOO LINEAR - 1\n", {"line 1: unknown pixel format 'FOO'"}},
                {"DO_NOT_CARE LINEAR - 1\n", {"line 1: pixel format 'DO_NOT_CARE' cannot have a cost"}},
                {"0 LINEAR - 1\n", {"pixel format '0' cannot have a cost"}},
                {"0x1ffffffff LINEAR - 1\n", {"unknown pixel format '0x1ffffffff'"}},
                {"\n\nNV12 TILED - 1\n", {"line 3: unknown modifier 'TILED'"}},
                {"ARGB8888 ARM_AFBC_16x16|SPARSE|FAST - 1\n",
                 {"line 1: unknown AFBC flag 'FAST' in 'ARM_AFBC_16x16|SPARSE|FAST'"}},
                {"ARGB8888 ARM_AFBC_64x4|SPARSE - 1\n", {"unknown modifier 'ARM_AFBC_64x4|SPARSE'"}},
                {"NV12 0xzz - 1\n", {"modifier '0xzz' is not an unsigned 64-bit number"}},
                {"NV12 DO_NOT_CARE - 1\n", {"modifier 'DO_NOT_CARE' cannot have a cost"}},
                {"NV12 INVALID - 1\n", {"modifier 'INVALID' cannot have a cost"}},
                {"NV12 LINEAR video 1\n", {"line 1: usage item 'video' is not field:BIT"}},
                {"NV12 LINEAR gpu:READ 1\n", {"unknown usage field 'gpu' in 'gpu:READ'"}},
                {"NV12 LINEAR video:DECODE 1\n", {"unknown video usage bit 'DECODE' in 'video:DECODE'"}},
                {"NV12 LINEAR cpu:READ, 1\n", {"usage item '' is not field:BIT"}},
                {"NV12 LINEAR cpu:4294967296 1\n", {"unknown cpu usage bit '4294967296'"}},
                {"NV12 LINEAR - -1\n", {"line 1: cost '-1' is not a finite number >= 0"}},
                {"NV12 LINEAR - inf\n", {"cost 'inf' is not a finite number"}},
                {"NV12 LINEAR - nan\n", {"cost 'nan' is not a finite number"}},
                {"NV12 LINEAR - 12abc\n", {"cost '12abc' is not a finite number"}},
                {"NV12 LINEAR - 1e999\n", {"cost '1e999' is not a finite number"}},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                struct core_format_cost e[4];
                size_t count = 99;
                char err[256];
                int r = core_format_costs_parse(table[i].text, strlen(table[i].text), e, ARRAY_LEN(e), &count, err,
                                                sizeof(err));
                if (r != -EINVAL || !strstr(err, table[i].message[0])) {
                        print_error("row %zu (%s): r %d, message: %s\nwant: %s\n", i, table[i].text, r, err,
                                    table[i].message[0]);
                        fail();
                }
                assert_int_equal(count, 99); /* untouched on failure */
        }

        /* Capacity is the caller's; running out is its own error. */
        struct core_format_cost one[1];
        size_t count = 0;
        char err[256];
        const char *two = "NV12 LINEAR - 1\nNV21 LINEAR - 2\n";
        assert_int_equal(core_format_costs_parse(two, strlen(two), one, 1, &count, err, sizeof(err)), -E2BIG);
        assert_non_null(strstr(err, "line 2: more than 1 entries"));
}

/* ---- names ---- */

static void test_modifier_names_round_trip(void **state) {
        (void)state;
        for (const struct core_name *n = core_modifier_names; n->name; n++) {
                char buf[CORE_MODIFIER_NAME_SIZE];
                uint64_t back = 0;
                assert_string_equal(core_modifier_format(n->value, buf, sizeof(buf)), n->name);
                assert_int_equal(core_modifier_from_name(buf, strlen(buf), &back, NULL, NULL), CORE_MODIFIER_OK);
                assert_int_equal(back, n->value);
        }
        /* Every AFBC flag combination on both block sizes prints with flags and parses back. */
        static const uint64_t flags[] = {AFBC_FORMAT_MOD_YTR, AFBC_FORMAT_MOD_SPLIT, AFBC_FORMAT_MOD_SPARSE,
                                         AFBC_FORMAT_MOD_TILED, AFBC_FORMAT_MOD_BCH};
        for (uint64_t block = AFBC_FORMAT_MOD_BLOCK_SIZE_16x16; block <= AFBC_FORMAT_MOD_BLOCK_SIZE_32x8; block++)
                for (unsigned set = 0; set < 32; set++) {
                        uint64_t mode = block;
                        for (unsigned b = 0; b < 5; b++)
                                if (set & (1u << b))
                                        mode |= flags[b];
                        uint64_t m = DRM_FORMAT_MOD_ARM_AFBC(mode), back = 0;
                        char buf[CORE_MODIFIER_NAME_SIZE];
                        core_modifier_format(m, buf, sizeof(buf));
                        assert_true(strncmp(buf, "ARM_AFBC_", 9) == 0);
                        assert_int_equal(core_modifier_from_name(buf, strlen(buf), &back, NULL, NULL),
                                         CORE_MODIFIER_OK);
                        assert_int_equal(back, m);
                }
        char buf[CORE_MODIFIER_NAME_SIZE];
        uint64_t back = 0;
        /* A modifier without a name prints as hex, which parses back too. */
        assert_string_equal(core_modifier_format(I915_FORMAT_MOD_Y_TILED_GEN12_RC_CCS, buf, sizeof(buf)),
                            "0x0100000000000006");
        assert_int_equal(core_modifier_from_name(buf, strlen(buf), &back, NULL, NULL), CORE_MODIFIER_OK);
        assert_int_equal(back, I915_FORMAT_MOD_Y_TILED_GEN12_RC_CCS);
        /* AFBC with a flag that has no name (USM) is hex, not a misleading name. */
        assert_string_equal(
                core_modifier_format(DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16 | AFBC_FORMAT_MOD_USM),
                                     buf, sizeof(buf)),
                "0x0800000000001001");
        size_t off = 0, len = 0;
        assert_int_equal(core_modifier_from_name("ARM_AFBC_16x16|NOPE", 19, &back, &off, &len),
                         CORE_MODIFIER_UNKNOWN_FLAG);
        assert_int_equal(off, 15);
        assert_int_equal(len, 4);
        assert_int_equal(core_modifier_from_name("LINEARX", 7, &back, NULL, NULL), CORE_MODIFIER_UNKNOWN_NAME);
        assert_int_equal(core_modifier_from_name("18446744073709551616", 20, &back, NULL, NULL),
                         CORE_MODIFIER_BAD_NUMBER);
}

static void test_other_names(void **state) {
        (void)state;
        uint32_t f = 0;
        char buf[32];
        assert_true(core_pixel_format_from_name("NV12", 4, &f));
        assert_int_equal(f, DRM_FORMAT_NV12);
        assert_true(core_pixel_format_from_name("NV12 and more", 4, &f)); /* length-bounded */
        assert_true(core_pixel_format_from_name("DO_NOT_CARE", 11, &f));
        assert_int_equal(f, SYSMEM_PIXEL_FORMAT_DO_NOT_CARE);
        assert_false(core_pixel_format_from_name("NV1", 3, &f));
        assert_string_equal(core_pixel_format_format(DRM_FORMAT_XBGR8888, buf, sizeof(buf)), "XBGR8888");
        assert_string_equal(core_pixel_format_format(DRM_FORMAT_C8, buf, sizeof(buf)), "0x20203843");
        assert_string_equal(core_color_space_name(SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE), "REC601_PAL_FULL_RANGE");
        assert_string_equal(core_color_space_name(SYSMEM_COLOR_SPACE_DO_NOT_CARE), "DO_NOT_CARE");
        assert_null(core_color_space_name(42));
        const struct core_usage_field *field = core_usage_field_by_name("vulkan", 6);
        assert_non_null(field);
        uint64_t v = 0;
        assert_true(core_name_lookup(field->bits, "BUFFER_STORAGE_BUFFER", 21, &v));
        assert_int_equal(v, SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER);
        struct sysmem_usage u = {0};
        *core_usage_field_ptr(&u, field) = 7;
        assert_int_equal(u.vulkan, 7);
        assert_null(core_usage_field_by_name("gpu", 3));
}

/* ---- properties that a table cannot show ---- */

/* The result does not depend on the order of a participant's pairs: the choice is a total order (§4.6). */
static void test_choice_ignores_list_order(void **state) {
        (void)state;
        const struct sysmem_pixel_format_and_modifier all[] = {
                {DRM_FORMAT_ARGB8888, LIN}, {DRM_FORMAT_XRGB8888, XT},   {DRM_FORMAT_ABGR8888, YT},
                {DRM_FORMAT_XBGR8888, YFT}, {DRM_FORMAT_ARGB8888, YCCS}, {DRM_FORMAT_XRGB8888, AFBC16},
                {DRM_FORMAT_ABGR8888, LIN}, {DRM_FORMAT_XBGR8888, YCCS},
        };
        struct sysmem_pixel_format_and_modifier shuffled[ARRAY_LEN(all)];
        uint32_t seed = 12345;
        struct core_config config = {.heaps = heaps_default,
                                     .heap_count = 1,
                                     .limits = limits_default,
                                     .format_costs = core_default_format_costs,
                                     .format_cost_count = core_default_format_cost_count};
        for (int round = 0; round < 50; round++) {
                memcpy(shuffled, all, sizeof(all));
                for (size_t i = ARRAY_LEN(shuffled) - 1; i > 0; i--) {
                        seed = seed * 1103515245u + 12345u;
                        size_t j = (seed >> 16) % (i + 1);
                        struct sysmem_pixel_format_and_modifier t = shuffled[i];
                        shuffled[i] = shuffled[j];
                        shuffled[j] = t;
                }
                const uint32_t cs[] = {SRGB};
                const struct sysmem_image_format_constraints ifc = {
                        .pixel_format_and_modifiers = shuffled,
                        .pixel_format_and_modifier_count = ARRAY_LEN(shuffled),
                        .color_spaces = cs,
                        .color_space_count = 1,
                        .min_size = {64, 64},
                };
                const struct sysmem_constraints c = {GPU, .image_format_constraints = &ifc,
                                                     .image_format_constraint_count = 1};
                struct core_participant p = {.constraints = &c, .debug_name = "gpu"};
                struct core_result result;
                struct core_failure failure;
                assert_int_equal(core_aggregate(&p, 1, &config, &result, &failure), 0);
                /* Y-tiled CCS (600) twice: XBGR8888 ('XB24', 0x34324258) has the smaller fourcc than ARGB8888. */
                const struct sysmem_image_format_settings *f = &result.settings.image_format_constraints;
                assert_int_equal(f->pixel_format_modifier, YCCS);
                assert_int_equal(f->pixel_format, DRM_FORMAT_XBGR8888);
        }
}

/* A long failure about many formats is cut with a visible "...", within CORE_MESSAGE_SIZE. */
static void test_long_format_list_is_cut(void **state) {
        (void)state;
        const uint32_t cs[] = {CS_DNC};
        const struct sysmem_image_format_constraints a = {.pixel_format_and_modifiers = pairs_dnc_64,
                                                          .pixel_format_and_modifier_count = 64,
                                                          .color_spaces = cs,
                                                          .color_space_count = 1,
                                                          .min_size = {64, 64}};
        const uint32_t cs_srgb[] = {SRGB};
        const struct sysmem_image_format_constraints b = {
                .pixel_format = DRM_FORMAT_ARGB8888, .color_spaces = cs_srgb, .color_space_count = 1};
        const struct sysmem_constraints ca = {CAM, .image_format_constraints = &a, .image_format_constraint_count = 1};
        const struct sysmem_constraints cb = {GPU, .image_format_constraints = &b, .image_format_constraint_count = 1};
        struct core_participant p[] = {{&ca, "a"}, {&cb, "b"}};
        struct core_config config = {.heaps = heaps_default, .heap_count = 1, .limits = limits_default};
        struct core_result result;
        struct core_failure failure;
        assert_int_equal(core_aggregate(p, 2, &config, &result, &failure), -EINVAL);
        size_t len = strlen(failure.message);
        assert_int_equal(len, CORE_MESSAGE_SIZE - 1);
        assert_string_equal(failure.message + len - 3, "...");
        assert_non_null(strstr(failure.message, "no (pixel_format, pixel_format_modifier) pair accepted by every "
                                                "participant: 'a' offers {(DO_NOT_CARE, 0x0000000000001000)"));
}

/* Many participants with many pairs negotiate, and the work area is freed (ASan's leak check sees it). */
static void test_many_participants(void **state) {
        (void)state;
        enum { N = 64 };
        static struct sysmem_pixel_format_and_modifier pairs[N][8];
        static struct sysmem_image_format_constraints ifcs[N];
        static struct sysmem_constraints cons[N];
        static struct core_participant parts[N];
        static const uint64_t mods[] = {LIN, XT, YT, YFT};
        static const uint32_t fmts[] = {DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888};
        const uint32_t cs[] = {SRGB, PASSTHROUGH};
        for (int i = 0; i < N; i++) {
                int n = 0;
                for (int f = 0; f < 2; f++)
                        for (int m = 0; m < 4; m++)
                                /* Participant i drops one pair, but (XRGB8888, Y-tiled) is in every list. */
                                if (!(f == 0 && m == i % 4))
                                        pairs[i][n++] = (struct sysmem_pixel_format_and_modifier){fmts[f], mods[m]};
                ifcs[i] = (struct sysmem_image_format_constraints){.pixel_format_and_modifiers = pairs[i],
                                                                   .pixel_format_and_modifier_count = (uint32_t)n,
                                                                   .color_spaces = cs,
                                                                   .color_space_count = 2,
                                                                   .min_size = {(uint32_t)(16 + i), 16}};
                cons[i] = (struct sysmem_constraints){.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED,
                                                      .image_format_constraints = &ifcs[i],
                                                      .image_format_constraint_count = 1};
                parts[i] = (struct core_participant){&cons[i], NULL};
        }
        cons[0].min_buffer_count_for_camping = 2;
        struct core_config config = {.heaps = heaps_default,
                                     .heap_count = 1,
                                     .limits = limits_default,
                                     .format_costs = core_default_format_costs,
                                     .format_cost_count = core_default_format_cost_count};
        struct core_result result;
        struct core_failure failure;
        int r = core_aggregate(parts, N, &config, &result, &failure);
        if (r < 0)
                print_error("%s\n", failure.message);
        assert_int_equal(r, 0);
        const struct sysmem_image_format_settings *f = &result.settings.image_format_constraints;
        assert_int_equal(f->pixel_format, DRM_FORMAT_XRGB8888);
        assert_int_equal(f->pixel_format_modifier, YFT);
        assert_int_equal(f->min_size.width, 16 + N - 1);
        assert_int_equal(f->color_space, SRGB);
}

/*
 * The fan-out guard (§3.1) is hard to reach: an aggregate entry meets at most one entry of a participant (two
 * that met the same one would be combinable with each other). It takes a participant whose DO_NOT_CARE entries
 * multiply against a long aggregate while its specific entries add to them: 'a' gives the 70 ARGB8888 pairs and
 * 440 (DO_NOT_CARE, unknown modifier) entries; 'b' gives (ARGB8888, DO_NOT_CARE) and 71 specific pairs of other
 * formats. (ARGB8888, DO_NOT_CARE) fans out to the 70 pairs and to 440 (ARGB8888, unknown modifier) pairs, which
 * are kept as pairs only a device lays out: 70 + 440 + 71 = 581 entries.
 */
static void test_fan_out_guard(void **state) {
        (void)state;
        static struct sysmem_pixel_format_and_modifier a_pairs[512], b_pairs[512];
        static struct sysmem_image_format_constraints a_ifcs[8], b_ifcs[8];
        static const uint64_t intel[] = {LIN, XT, YT, YFT, YCCS, YFCCS};
        static const uint32_t cs[] = {PASSTHROUGH};
        uint32_t na = 0, nb = 0;

        for (size_t m = 0; m < ARRAY_LEN(intel); m++)
                a_pairs[na++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_ARGB8888, intel[m]};
        for (uint64_t block = AFBC_FORMAT_MOD_BLOCK_SIZE_16x16; block <= AFBC_FORMAT_MOD_BLOCK_SIZE_32x8; block++)
                for (uint64_t flags = 0; flags < 32; flags++) {
                        static const uint64_t bits[] = {AFBC_FORMAT_MOD_YTR, AFBC_FORMAT_MOD_SPLIT,
                                                        AFBC_FORMAT_MOD_SPARSE, AFBC_FORMAT_MOD_TILED,
                                                        AFBC_FORMAT_MOD_BCH};
                        uint64_t mode = block;
                        for (unsigned b = 0; b < 5; b++)
                                if (flags & (1u << b))
                                        mode |= bits[b];
                        a_pairs[na++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_ARGB8888,
                                                                                  DRM_FORMAT_MOD_ARM_AFBC(mode)};
                }
        assert_int_equal(na, 70);
        b_pairs[nb++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_ARGB8888, M_DNC};
        for (uint32_t j = 0; j < 440; j++)
                a_pairs[na++] =
                        (struct sysmem_pixel_format_and_modifier){SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, 0x100000 + j};
        for (size_t m = 0; m < ARRAY_LEN(intel); m++)
                b_pairs[nb++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_XRGB8888, intel[m]};
        for (size_t i = 0; i < 65; i++) /* ABGR8888 has the same 70 pairs as ARGB8888 */
                b_pairs[nb++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_ABGR8888,
                                                                          a_pairs[i].pixel_format_modifier};
        assert_int_equal(na, 510);
        assert_int_equal(nb, 72);
        for (uint32_t i = 0; i < 8; i++) {
                a_ifcs[i] = (struct sysmem_image_format_constraints){.pixel_format_and_modifiers = a_pairs + 64 * i,
                                                                     .pixel_format_and_modifier_count =
                                                                             MIN(64u, na - 64 * i),
                                                                     .color_spaces = cs,
                                                                     .color_space_count = 1,
                                                                     .min_size = {64, 64}};
        }
        for (uint32_t i = 0; i < 2; i++) {
                b_ifcs[i] = a_ifcs[i];
                b_ifcs[i].pixel_format_and_modifiers = b_pairs + 64 * i;
                b_ifcs[i].pixel_format_and_modifier_count = MIN(64u, nb - 64 * i);
        }
        const struct sysmem_constraints ca = {CAM, .image_format_constraints = a_ifcs,
                                              .image_format_constraint_count = 8};
        const struct sysmem_constraints cb = {GPU, .image_format_constraints = b_ifcs,
                                              .image_format_constraint_count = 2};
        struct core_participant p[] = {{&ca, "a"}, {&cb, "b"}};
        struct core_config config = {.heaps = heaps_default, .heap_count = 1, .limits = limits_default};
        struct core_result result;
        struct core_failure failure;
        assert_int_equal(core_aggregate(p, 2, &config, &result, &failure), -EINVAL);
        if (!strstr(failure.message, "while folding in 'b', makes more than 512 entries"))
                print_error("%s\n", failure.message);
        assert_non_null(strstr(failure.message, "while folding in 'b', makes more than 512 entries"));

        /*
         * Without the 71 specific pairs 'b' fans out to 510 entries; the 70 ARGB8888 pairs are agreed, the 440
         * device-only pairs drop out (system-ram lays out none), and LINEAR wins.
         */
        b_ifcs[0].pixel_format_and_modifier_count = 1;
        const struct sysmem_constraints cb_fewer = {GPU, .image_format_constraints = b_ifcs,
                                                    .image_format_constraint_count = 1};
        p[1].constraints = &cb_fewer;
        int r = core_aggregate(p, 2, &config, &result, &failure);
        if (r < 0)
                print_error("%s\n", failure.message);
        assert_int_equal(r, 0);
        assert_int_equal(result.settings.image_format_constraints.pixel_format, DRM_FORMAT_ARGB8888);
        assert_int_equal(result.settings.image_format_constraints.pixel_format_modifier, LIN);
}

static const struct CMUnitTest extra_tests[] = {
        cmocka_unit_test(test_fan_out_guard),
        cmocka_unit_test(test_data_file_is_the_builtin_table),
        cmocka_unit_test(test_doc_lists_the_builtin_table),
        cmocka_unit_test(test_parser_accepts),
        cmocka_unit_test(test_parser_rejects),
        cmocka_unit_test(test_modifier_names_round_trip),
        cmocka_unit_test(test_other_names),
        cmocka_unit_test(test_choice_ignores_list_order),
        cmocka_unit_test(test_long_format_list_is_cut),
        cmocka_unit_test(test_many_participants),
};

static void fill_arrays(void) {
        for (size_t i = 0; i < ARRAY_LEN(color_spaces_33); i++)
                color_spaces_33[i] = SRGB;
        for (size_t i = 0; i < ARRAY_LEN(pairs_65); i++)
                pairs_65[i] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_ARGB8888, LIN};
        for (size_t i = 0; i < ARRAY_LEN(pairs_dnc_64); i++)
                pairs_dnc_64[i] =
                        (struct sysmem_pixel_format_and_modifier){SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, 0x1000 + i};
        for (size_t i = 0; i < ARRAY_LEN(sizes_65); i++)
                sizes_65[i] = (struct sysmem_size){(uint32_t)(i + 1), (uint32_t)(i + 1)};
        /* Two lines of sizes with w + h constant: no size covers another, so 80 stay. */
        for (size_t i = 0; i < ARRAY_LEN(sizes_line_a); i++) {
                sizes_line_a[i] = (struct sysmem_size){(uint32_t)(1000 + i), (uint32_t)(2000 - i)};
                sizes_line_b[i] = (struct sysmem_size){(uint32_t)(1040 + i), (uint32_t)(1960 - i)};
        }
        static const uint32_t srgb[] = {SRGB}, dnc[] = {CS_DNC};
        for (size_t i = 0; i < ARRAY_LEN(ifcs_65); i++)
                ifcs_65[i] = (struct sysmem_image_format_constraints){
                        .pixel_format = DRM_FORMAT_ARGB8888, .color_spaces = srgb, .color_space_count = 1};
        for (size_t i = 0; i < ARRAY_LEN(ifcs_9x64); i++)
                ifcs_9x64[i] = (struct sysmem_image_format_constraints){.pixel_format_and_modifiers = pairs_dnc_64,
                                                                        .pixel_format_and_modifier_count = 64,
                                                                        .color_spaces = dnc,
                                                                        .color_space_count = 1};
}

int main(void) {
        struct CMUnitTest tests[ARRAY_LEN(cases) + ARRAY_LEN(extra_tests)];
        size_t n = 0;

        fill_arrays();
        for (size_t i = 0; i < ARRAY_LEN(cases); i++)
                tests[n++] = (struct CMUnitTest){
                        .name = cases[i].name,
                        .test_func = run_case,
                        .initial_state = (void *)(uintptr_t)&cases[i],
                };
        for (size_t i = 0; i < ARRAY_LEN(extra_tests); i++)
                tests[n++] = extra_tests[i];
        return cmocka_run_group_tests_name("core-image", tests, NULL, NULL);
}
