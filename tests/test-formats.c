/* test-formats.c: image-format negotiation between real processes through sysmemd: formats, modifiers, layouts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The harness's agents pass constraints by value and drop image_format_constraints (pointers do not
 * travel), and they only write whole buffers. These participants are forked from this process, so the
 * static row table (and every pointer in it) is the same in each of them; they run the row's script
 * themselves and write or verify plane by plane at the layout they compute from their own settings.
 */

/* ---- the table ---- */

struct role {
        const char *name;
        bool via_allocator; /* binds with sysmem_allocator_bind_shared, else sysmem_token_bind */
        bool null_constraints;
        bool writer; /* fills every buffer; every other participant with buffers then verifies */
        struct sysmem_constraints c;
};

/*
 * Every expected value is a literal worked out by hand from sysmem-aggregation.md §3-§7 and
 * docs/constraints.md (and cross-checked with `sysmemctl negotiate`), never read from a result.
 */
struct row {
        const char *name;
        unsigned role_count; /* roles[0] is the initiator */
        struct role roles[4];
        enum sysmem_error expect_error; /* INVALID: the negotiation succeeds */
        const char *message_has[8];     /* for failures: phrases the daemon's explanation must contain */
        uint32_t count;
        uint64_t size;
        enum sysmem_coherency_domain domain;
        uint32_t pixel_format;
        uint64_t modifier;
        uint32_t color_space;
        struct sysmem_size min_size; /* where the writer's image is laid out */
        uint32_t min_bytes_per_row;
        uint32_t bytes_per_row_divisor;
        uint32_t start_offset_divisor;
        struct sysmem_plane_layout layout; /* at min_size; for tiled modifiers only strides and sizes count */
        struct sysmem_size required;       /* 0x0, or a required_max_size the buffer must hold */
        uint64_t required_total;           /* the layout's total at that size */
};

#define LINEAR DRM_FORMAT_MOD_LINEAR
#define X_TILED I915_FORMAT_MOD_X_TILED
#define Y_TILED I915_FORMAT_MOD_Y_TILED
#define Y_CCS I915_FORMAT_MOD_Y_TILED_CCS
/* clang-format off */
#define P(format, modifier) {DRM_FORMAT_##format, modifier}
/* Arrays as compound literals: at file scope they have static storage, so the table stays constant data. */
#define PAIRS(...)                                                                                                     \
        .pixel_format_and_modifier_count = LEN(((const struct sysmem_pixel_format_and_modifier[]){__VA_ARGS__})),      \
        .pixel_format_and_modifiers = (const struct sysmem_pixel_format_and_modifier[]){__VA_ARGS__}
#define CS(...)                                                                                                        \
        .color_space_count = LEN(((const uint32_t[]){__VA_ARGS__})), .color_spaces = (const uint32_t[]){__VA_ARGS__}
#define IFCS(...)                                                                                                      \
        .image_format_constraint_count = LEN(((const struct sysmem_image_format_constraints[]){__VA_ARGS__})),         \
        .image_format_constraints = (const struct sysmem_image_format_constraints[]){__VA_ARGS__}
#define SIZE(w, h) {(w), (h)}
/* clang-format on */

#define REC709 SYSMEM_COLOR_SPACE_REC709
#define REC601_PAL SYSMEM_COLOR_SPACE_REC601_PAL
#define REC601_NTSC SYSMEM_COLOR_SPACE_REC601_NTSC
#define REC2020 SYSMEM_COLOR_SPACE_REC2020
#define REC2100 SYSMEM_COLOR_SPACE_REC2100
#define SRGB SYSMEM_COLOR_SPACE_SRGB
#define PASSTHROUGH SYSMEM_COLOR_SPACE_PASSTHROUGH
#define CS_DNC SYSMEM_COLOR_SPACE_DO_NOT_CARE

#define CPU_W SYSMEM_CPU_USAGE_WRITE
#define CPU_R SYSMEM_CPU_USAGE_READ
#define VK_DST SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST
#define VK_SAMPLED SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED
#define VK_COLOR SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT
#define LAYER SYSMEM_DISPLAY_USAGE_LAYER
#define INTERSECTION_EMPTY SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY

/* One participant per line group reads better than the formatter's layout. */
/* clang-format off */
static const struct row rows[] = {
        {
                /*
                 * NV12 is the one format all three name; NV21, YUYV, P010 and XRGB8888 each lack a taker.
                 * 640x480 is already a multiple of NV12's 2x2; rows 640 bytes (1 byte a pixel, divisor 2);
                 * Y 640 x 480 = 307200, then UV 640 x 240 = 153600. Count 2 + 1 + 1 camping; the camera's CPU
                 * usage leaves RAM unsupported, so the display gets CPU.
                 */
                .name = "the only format every participant lists wins",
                .role_count = 3,
                .roles = {
                        {"camera", false, false, true,
                         {.usage.cpu = SYSMEM_CPU_USAGE_WRITE_OFTEN, .min_buffer_count_for_camping = 2,
                          IFCS({PAIRS(P(YUYV, LINEAR), P(NV21, LINEAR), P(NV12, LINEAR)), CS(REC709),
                                .min_size = SIZE(640, 480)})}},
                        {"encoder", true, false, false,
                         {.usage = {.cpu = CPU_R, .video = SYSMEM_VIDEO_USAGE_HW_ENCODER},
                          .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_P010, CS(REC2020)},
                               {.pixel_format = DRM_FORMAT_NV12, CS(REC709, REC601_PAL)})}},
                        {"display", false, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_XRGB8888, CS(SRGB)},
                               {.pixel_format = DRM_FORMAT_NV12, CS(REC709)})}},
                },
                .count = 4, .size = 460800, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_NV12, .modifier = LINEAR, .color_space = REC709,
                .min_size = SIZE(640, 480), .min_bytes_per_row = 640, .bytes_per_row_divisor = 2,
                .start_offset_divisor = 2,
                .layout = {2, {0, 307200}, {640, 640}, {307200, 153600}, 460800},
        },
        {
                /*
                 * Both take XRGB8888 LINEAR and X_TILED: X_TILED costs 3000 in the Intel table, LINEAR has no
                 * entry (DBL_MAX). X tiles are 512 bytes x 8 rows: 1000 x 4 = 4000 bytes round up to 8 tiles
                 * = 4096 bytes a row; 600 / 8 = 75 tile rows; 8 x 75 x 4096 = 2457600. No CPU usage and a
                 * display: RAM.
                 */
                .name = "the cost table prefers X_TILED over LINEAR",
                .role_count = 2,
                .roles = {
                        {"gpu", false, false, true,
                         {.usage.vulkan = VK_DST | VK_SAMPLED | VK_COLOR, .min_buffer_count_for_camping = 2,
                          IFCS({PAIRS(P(XRGB8888, LINEAR), P(XRGB8888, X_TILED)), CS(SRGB),
                                .min_size = SIZE(1000, 600)})}},
                        {"scanout", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(XRGB8888, X_TILED), P(XRGB8888, LINEAR)), CS(SRGB)})}},
                },
                .count = 3, .size = 2457600, .domain = SYSMEM_COHERENCY_DOMAIN_RAM,
                .pixel_format = DRM_FORMAT_XRGB8888, .modifier = X_TILED, .color_space = SRGB,
                .min_size = SIZE(1000, 600), .min_bytes_per_row = 4096, .bytes_per_row_divisor = 4,
                .start_offset_divisor = 4,
                .layout = {1, {0}, {4096}, {2457600}, 2457600},
        },
        {
                /*
                 * Common to all three: X_TILED (3000) and Y_TILED_CCS (600); Y_TILED and LINEAR are not in the
                 * scanout's list. Y tiles are 128 bytes x 32 rows: 4000 bytes round up to 32 tiles = 4096;
                 * ceil(600 / 32) = 19 tile rows; 32 x 19 x 4096 = 2490368; the CCS (plane 3) covers 32 x 16
                 * tiles per 4 KiB: ceil(32/32) x ceil(19/16) = 2 pages = 8192, rows of 128 bytes; 2498560.
                 */
                .name = "Y_TILED_CCS is the cheapest modifier all three accept",
                .role_count = 3,
                .roles = {
                        {"renderer", false, false, true,
                         {.usage.vulkan = VK_DST | VK_COLOR, .min_buffer_count_for_camping = 2,
                          IFCS({PAIRS(P(ABGR8888, LINEAR), P(ABGR8888, X_TILED), P(ABGR8888, Y_TILED),
                                      P(ABGR8888, Y_CCS)),
                                CS(SRGB), .min_size = SIZE(1000, 600)})}},
                        {"compositor", true, false, false,
                         {.usage.vulkan = VK_SAMPLED, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(ABGR8888, Y_CCS), P(ABGR8888, Y_TILED), P(ABGR8888, X_TILED)), CS(SRGB)})}},
                        {"scanout", false, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(ABGR8888, X_TILED), P(ABGR8888, Y_CCS)), CS(SRGB)})}},
                },
                .count = 4, .size = 2498560, .domain = SYSMEM_COHERENCY_DOMAIN_RAM,
                .pixel_format = DRM_FORMAT_ABGR8888, .modifier = Y_CCS, .color_space = SRGB,
                .min_size = SIZE(1000, 600), .min_bytes_per_row = 4096, .bytes_per_row_divisor = 4,
                .start_offset_divisor = 4,
                .layout = {4, {0, 0, 0, 2490368}, {4096, 0, 0, 128}, {2490368, 0, 0, 8192}, 2498560},
        },
        {
                /*
                 * NV12 and YUYV, both LINEAR, both without a cost entry: the smaller fourcc wins, NV12
                 * 0x3231564e < YUYV 0x56595559, whatever the lists' order. YUYV would need 320 x 2 x 240 =
                 * 153600; NV12 is 320 x 240 + 320 x 120 = 115200.
                 */
                .name = "equal costs: the smaller fourcc (NV12 before YUYV) wins",
                .role_count = 2,
                .roles = {
                        {"producer", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(NV12, LINEAR), P(YUYV, LINEAR)), CS(REC709), .min_size = SIZE(320, 240)})}},
                        {"consumer", true, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(YUYV, LINEAR), P(NV12, LINEAR)), CS(REC709)})}},
                },
                .count = 2, .size = 115200, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_NV12, .modifier = LINEAR, .color_space = REC709,
                .min_size = SIZE(320, 240), .min_bytes_per_row = 320, .bytes_per_row_divisor = 2,
                .start_offset_divisor = 2,
                .layout = {2, {0, 76800}, {320, 320}, {76800, 38400}, 115200},
        },
        {
                /*
                 * Common colour spaces {REC601_PAL, REC709}: REC709 ranks 4, REC601_PAL 6. YUV420 rows: 176
                 * bytes round up to the viewer's divisor lcm(32, 2) = 32: 192; U and V rows 96. Y 192 x 144 =
                 * 27648, U and V 96 x 72 = 6912 each: 41472. Count 2 + 1 camping + 1 shared slack.
                 */
                .name = "colour space by rank: REC709 over REC601_PAL, three-plane YUV420",
                .role_count = 2,
                .roles = {
                        {"decoder", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 2,
                          IFCS({.pixel_format = DRM_FORMAT_YUV420, CS(REC601_PAL, REC709, REC601_NTSC),
                                .min_size = SIZE(176, 144)})}},
                        {"viewer", true, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1, .min_buffer_count_for_shared_slack = 1,
                          IFCS({.pixel_format = DRM_FORMAT_YUV420, CS(REC709, REC601_PAL),
                                .bytes_per_row_divisor = 32})}},
                },
                .count = 4, .size = 41472, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_YUV420, .modifier = LINEAR, .color_space = REC709,
                .min_size = SIZE(176, 144), .min_bytes_per_row = 192, .bytes_per_row_divisor = 32,
                .start_offset_divisor = 2,
                .layout = {3, {0, 27648, 34560}, {192, 96, 96}, {27648, 6912, 6912}, 41472},
        },
        {
                /*
                 * Divisors 48 and 64 (each lcm'd with NV12's 2) give lcm 192: 1000 bytes round up to 1152,
                 * where 48 alone would give 1008 and 64 alone 1024. Y 1152 x 100 = 115200 (a multiple of the
                 * start_offset_divisor max(64, 256) = 256), UV 1152 x 50 = 57600. Count 3 camping + 1
                 * dedicated slack.
                 */
                .name = "bytes_per_row is raised to the lcm of every divisor",
                .role_count = 3,
                .roles = {
                        {"camera", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .min_size = SIZE(1000, 100),
                                .bytes_per_row_divisor = 48})}},
                        {"encoder", true, false, false,
                         {.usage = {.cpu = CPU_R, .video = SYSMEM_VIDEO_USAGE_HW_ENCODER},
                          .min_buffer_count_for_camping = 1, .min_buffer_count_for_dedicated_slack = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .bytes_per_row_divisor = 64,
                                .start_offset_divisor = 64})}},
                        {"display", false, false, false,
                         {.usage = {.cpu = CPU_R, .display = LAYER}, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .start_offset_divisor = 256})}},
                },
                .count = 4, .size = 172800, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_NV12, .modifier = LINEAR, .color_space = REC709,
                .min_size = SIZE(1000, 100), .min_bytes_per_row = 1152, .bytes_per_row_divisor = 192,
                .start_offset_divisor = 256,
                .layout = {2, {0, 115200}, {1152, 1152}, {115200, 57600}, 172800},
        },
        {
                /*
                 * The image at min_size is 320 x 2 x 240 = 153600 bytes and min_size_bytes asks 100000, but the
                 * scaler must be able to put a 640x480 image in: 1280 x 480 = 614400. SRGB is the only common
                 * colour space. The observer sets no constraints: it counts, adds nothing, and gets no fds.
                 */
                .name = "required_max_size enlarges the buffer; a participant without constraints",
                .role_count = 3,
                .roles = {
                        {"decoder", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 2,
                          .buffer_memory_constraints.min_size_bytes = 100000,
                          IFCS({.pixel_format = DRM_FORMAT_RGB565, CS(SRGB), .min_size = SIZE(320, 240)})}},
                        {"observer", true, true, false, {.min_buffer_count = 0}},
                        {"scaler", false, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_RGB565, CS(SRGB, PASSTHROUGH),
                                .required_max_size = SIZE(640, 480), .max_size = SIZE(1024, 768)})}},
                },
                .count = 3, .size = 614400, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_RGB565, .modifier = LINEAR, .color_space = SRGB,
                .min_size = SIZE(320, 240), .min_bytes_per_row = 640, .bytes_per_row_divisor = 2,
                .start_offset_divisor = 2,
                .layout = {1, {0}, {640}, {153600}, 153600},
                .required = SIZE(640, 480), .required_total = 614400,
        },
        {
                /*
                 * The uploader takes any format in any colour space (DO_NOT_CARE pixel format, so its modifier
                 * defaults to DO_NOT_CARE too) but brings min_size 300x200 and divisor 256: ARGB8888 LINEAR SRGB
                 * from the renderer, at max(256x256, 300x200) = 300x256, rows 1200 -> 1280 bytes; 327680.
                 */
                .name = "a DO_NOT_CARE participant takes the other side's format",
                .role_count = 2,
                .roles = {
                        {"renderer", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_ARGB8888, CS(SRGB), .min_size = SIZE(256, 256)})}},
                        {"uploader", true, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, CS(CS_DNC),
                                .min_size = SIZE(300, 200), .bytes_per_row_divisor = 256})}},
                },
                .count = 2, .size = 327680, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_ARGB8888, .modifier = LINEAR, .color_space = SRGB,
                .min_size = SIZE(300, 256), .min_bytes_per_row = 1280, .bytes_per_row_divisor = 256,
                .start_offset_divisor = 4,
                .layout = {1, {0}, {1280}, {327680}, 327680},
        },
        {
                /*
                 * The compositor names XRGB8888 with a DO_NOT_CARE modifier: it fans out to the gpu's LINEAR
                 * and Y_TILED, and Y_TILED (2000) beats LINEAR. 1280 x 4 = 5120 bytes = 40 Y tiles; ceil(720 /
                 * 32) = 23 tile rows; 40 x 23 x 4096 = 3768320. Neither display nor CPU usage: CPU.
                 */
                .name = "a DO_NOT_CARE modifier takes the other side's, and Y_TILED wins",
                .role_count = 2,
                .roles = {
                        {"compositor", false, false, false,
                         {.usage.vulkan = VK_SAMPLED, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_XRGB8888, .has_pixel_format_modifier = true,
                                .pixel_format_modifier = SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE, CS(SRGB),
                                .min_size = SIZE(1280, 720)})}},
                        {"gpu", true, false, true,
                         {.usage.vulkan = VK_DST | VK_COLOR, .min_buffer_count_for_camping = 2,
                          IFCS({PAIRS(P(XRGB8888, LINEAR), P(XRGB8888, Y_TILED)), CS(SRGB)})}},
                },
                .count = 3, .size = 3768320, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_XRGB8888, .modifier = Y_TILED, .color_space = SRGB,
                .min_size = SIZE(1280, 720), .min_bytes_per_row = 5120, .bytes_per_row_divisor = 4,
                .start_offset_divisor = 4,
                .layout = {1, {0}, {5120}, {3768320}, 3768320},
        },
        {
                /*
                 * P010 is the only format the display, the tonemapper and the decoder share; colour spaces in
                 * common {REC2020, REC2100}: REC2100 ranks 2. The tonemapper's size_alignment 16x16 raises
                 * 630x350 to 640x352; rows 640 x 2 = 1280 (divisor P010's 4); Y 1280 x 352 = 450560, UV 1280 x
                 * 176 = 225280. Count 2 + 1 camping + 2 shared slack; the observer has no constraints.
                 */
                .name = "four participants: P010 in REC2100, size_alignment raises min_size",
                .role_count = 4,
                .roles = {
                        {"hdr-decoder", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 2,
                          IFCS({.pixel_format = DRM_FORMAT_P010, CS(REC2020, REC2100), .min_size = SIZE(630, 350)},
                               {.pixel_format = DRM_FORMAT_NV21, CS(REC709), .min_size = SIZE(630, 350)})}},
                        {"tonemapper", true, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(P010, LINEAR)), CS(REC2100, REC2020, PASSTHROUGH),
                                .size_alignment = SIZE(16, 16)})}},
                        {"observer", false, true, false, {.min_buffer_count = 0}},
                        {"hdr-display", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_shared_slack = 2,
                          IFCS({.pixel_format = DRM_FORMAT_P010, CS(REC2100, REC709)},
                               {.pixel_format = DRM_FORMAT_XRGB2101010, CS(SRGB)})}},
                },
                .count = 5, .size = 675840, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_P010, .modifier = LINEAR, .color_space = REC2100,
                .min_size = SIZE(640, 352), .min_bytes_per_row = 1280, .bytes_per_row_divisor = 4,
                .start_offset_divisor = 4,
                .layout = {2, {0, 450560}, {1280, 1280}, {450560, 225280}, 675840},
        },
        {
                /*
                 * NV12 and NV21 tie (LINEAR, no cost): NV21 0x3132564e < NV12 0x3231564e. Rows 352 round up to
                 * the divisor 128: 384; Y 384 x 288 = 110592, VU 384 x 144 = 55296. REC601_NTSC is the one
                 * colour space in common.
                 */
                .name = "equal costs: NV21 (smaller fourcc) before NV12",
                .role_count = 2,
                .roles = {
                        {"isp", false, false, true,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 2,
                          IFCS({PAIRS(P(NV12, LINEAR), P(NV21, LINEAR)), CS(REC601_NTSC), .min_size = SIZE(352, 288),
                                .bytes_per_row_divisor = 128})}},
                        {"jpeg", true, false, false,
                         {.usage.cpu = CPU_R, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(NV21, LINEAR), P(NV12, LINEAR), P(YUV420, LINEAR)),
                                CS(REC601_NTSC, SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE)})}},
                },
                .count = 3, .size = 165888, .domain = SYSMEM_COHERENCY_DOMAIN_CPU,
                .pixel_format = DRM_FORMAT_NV21, .modifier = LINEAR, .color_space = REC601_NTSC,
                .min_size = SIZE(352, 288), .min_bytes_per_row = 384, .bytes_per_row_divisor = 128,
                .start_offset_divisor = 2,
                .layout = {2, {0, 110592}, {384, 384}, {110592, 55296}, 165888},
        },
};

static const struct row failure_rows[] = {
        {
                .name = "disjoint format lists",
                .role_count = 2,
                .roles = {
                        {"camera", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(NV12, LINEAR), P(YUYV, LINEAR)), CS(REC709), .min_size = SIZE(640, 480)})}},
                        {"display", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(ARGB8888, LINEAR), P(XRGB8888, LINEAR)), CS(SRGB)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"no pixel format accepted by every participant", "'camera' offers {NV12, YUYV}",
                                "'display' offers {ARGB8888, XRGB8888}"},
        },
        {
                /* The first two agree on NV12; the third empties the list, and the message says who did. */
                .name = "disjoint format lists, three participants",
                .role_count = 3,
                .roles = {
                        {"camera", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(NV12, LINEAR), P(YUYV, LINEAR)), CS(REC709), .min_size = SIZE(640, 480)})}},
                        {"encoder", true, false, false,
                         {.usage.video = SYSMEM_VIDEO_USAGE_HW_ENCODER, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709)})}},
                        {"display", false, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({PAIRS(P(ARGB8888, LINEAR), P(XRGB8888, LINEAR)), CS(SRGB)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"'camera' and 'encoder' together offer {NV12}",
                                "'display' offers {ARGB8888, XRGB8888}"},
        },
        {
                /* NV12 1920x1080 is 1920 x 1080 x 3 / 2 = 3110400 bytes; the display takes at most 1 MiB. */
                .name = "max_size_bytes below the image another participant needs",
                .role_count = 3,
                .roles = {
                        {"camera", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .min_size = SIZE(1920, 1080)})}},
                        {"observer", false, true, false, {.min_buffer_count = 0}},
                        {"display", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          .buffer_memory_constraints.max_size_bytes = 1048576,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"(NV12, LINEAR) image of 1920x1080", "min_size from 'camera'", "needs 3110400 bytes",
                                "max_size_bytes 1048576 (from 'display')"},
        },
        {
                /*
                 * Intel tiling exists only for the 8888 formats and NV12 in sysmem's library: RGB565 with Y_TILED is
                 * a pair only a device lays out, and no heap here does.
                 */
                .name = "a pair only a device lays out, and no heap that does",
                .role_count = 2,
                .roles = {
                        {"display", false, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_RGB565, .has_pixel_format_modifier = true,
                                .pixel_format_modifier = Y_TILED, CS(SRGB)})}},
                        {"painter", true, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_RGB565, .has_pixel_format_modifier = true,
                                .pixel_format_modifier = Y_TILED, CS(SRGB), .min_size = SIZE(64, 64)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"sysmem's image-format library cannot lay out (RGB565, I915_FORMAT_MOD_Y_TILED), and "
                                "neither does the device of heap 'system-ram' id 0"},
        },
        {
                .name = "same format, disjoint modifiers",
                .role_count = 2,
                .roles = {
                        {"cpu", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .min_size = SIZE(64, 64)})}},
                        {"gpu", true, false, false,
                         {.usage.vulkan = VK_SAMPLED, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, .has_pixel_format_modifier = true,
                                .pixel_format_modifier = Y_TILED, CS(REC709)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"'cpu' offers {(NV12, LINEAR)}", "'gpu' offers {(NV12, I915_FORMAT_MOD_Y_TILED)}"},
        },
        {
                .name = "same pair, no colour space in common",
                .role_count = 2,
                .roles = {
                        {"cam", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC709), .min_size = SIZE(64, 64)})}},
                        {"disp", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_NV12, CS(REC601_NTSC, REC601_PAL)})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"'cam' and 'disp' share (NV12, LINEAR)", "{REC709} (from 'cam')",
                                "{REC601_NTSC, REC601_PAL} (from 'disp')"},
        },
        {
                /*
                 * start_offset_divisor is checked as the participant gives it, before ARGB8888's sample
                 * alignment (4) would raise it: 3 fails, though max(3, 4) would be a power of two.
                 */
                .name = "start_offset_divisor 3 fails before the format raises it",
                .role_count = 2,
                .roles = {
                        {"painter", false, false, false,
                         {.usage.cpu = CPU_W, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_ARGB8888, CS(SRGB), .min_size = SIZE(64, 64)})}},
                        {"disp", true, false, false,
                         {.usage.display = LAYER, .min_buffer_count_for_camping = 1,
                          IFCS({.pixel_format = DRM_FORMAT_ARGB8888, CS(SRGB), .start_offset_divisor = 3})}},
                },
                .expect_error = INTERSECTION_EMPTY,
                .message_has = {"'disp': image_format_constraints[0].start_offset_divisor 3 must be a power of two"},
        },
};
/* clang-format on */

#define ROW_FAIL(row, fmt, ...) fail_msg("row \"%s\": " fmt, (row)->name, __VA_ARGS__)

/* ---- participant processes ---- */

enum part_op { OP_WRITE = 1, OP_VERIFY, OP_EXIT };

struct part_cmd {
        uint32_t op;
        uint32_t seed;
};

struct part_reply {
        int32_t r;
        char why[256];
};

/* What a participant saw once its wait returned. */
struct part_report {
        int32_t r;
        uint32_t error;
        char stage[32]; /* the call that failed */
        char message[H_MESSAGE_SIZE];
        uint64_t id;
        uint32_t buffer_count;
        struct sysmem_single_buffer_settings settings;
        uint64_t vmo_usable_start[SYSMEM_MAX_BUFFERS];
        bool fd_present[SYSMEM_MAX_BUFFERS];
        uint64_t ino[SYSMEM_MAX_BUFFERS];
        int64_t st_size[SYSMEM_MAX_BUFFERS];
        /* The participant's own sysmem_image_layout at min_size (and at the required size), as it writes or reads. */
        int32_t layout_r;
        struct sysmem_plane_layout layout;
        int32_t required_r;
        struct sysmem_plane_layout required_layout;
};

struct part {
        pid_t pid;
        int sock; /* the test's end of a SOCK_SEQPACKET socketpair */
        const char *name;
};

/*
 * The participants of the row being run. They live here rather than on run_row's stack because a failed
 * assertion jumps out of the test, and the teardown then kills whichever still run.
 */
static struct part parts[4];
static struct part_report reports[4];

static void kill_part(struct part *p) {
        if (p->pid <= 0)
                return;
        kill(p->pid, SIGKILL);
        (void)waitpid(p->pid, NULL, 0);
        close(p->sock);
        p->pid = 0;
        p->sock = -1;
}

static int formats_teardown(void **state) {
        for (size_t i = 0; i < LEN(parts); i++)
                kill_part(&parts[i]);
        return h_teardown(state);
}

/* The byte at (plane, row, column) of buffer b: a hash, so a shifted row, plane or stride cannot match. */
static uint8_t image_byte(uint32_t seed, uint32_t b, uint32_t plane, uint32_t row, uint32_t col) {
        uint32_t x = seed * 0x9e3779b1u ^ b * 0x85ebca6bu ^ plane * 0xc2b2ae35u ^ row * 0x27d4eb2fu ^ col * 0x165667b1u;
        x ^= x >> 15;
        x *= 0x2c1b3c6du;
        x ^= x >> 12;
        return (uint8_t)x;
}

static bool is_linear(const struct sysmem_image_format_settings *f) {
        return f->pixel_format_modifier == DRM_FORMAT_MOD_LINEAR;
}

/*
 * Writes or verifies the image in one buffer: every byte of every row of every plane (padding to the stride
 * included) at the layout's offsets; a verifier also checks that everything after the image is still zero.
 * Tiled layouts are opaque, so there the whole buffer carries a plain position-dependent pattern instead.
 */
static int image_op(const struct part_report *rep, int fd, uint32_t b, bool write, uint32_t seed, char *why,
                    size_t why_size) {
        uint64_t raw = rep->settings.buffer_settings.raw_vmo_size;
        if (!is_linear(&rep->settings.image_format_constraints)) {
                if (write)
                        return h_write_pattern(fd, raw, seed, b);
                return h_verify_pattern(fd, raw, seed, b, why, why_size);
        }
        const struct sysmem_plane_layout *l = &rep->layout;
        if (rep->layout_r < 0 || l->total_size_bytes > raw) {
                snprintf(why, why_size, "no usable layout (%d, total %llu bytes)", rep->layout_r,
                         (unsigned long long)l->total_size_bytes);
                return -EINVAL;
        }
        uint8_t *p = mmap(NULL, raw, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                int r = -errno;
                snprintf(why, why_size, "mmap of buffer %u: %s", b, strerror(errno));
                return r;
        }
        int r = 0;
        uint8_t *base = p + rep->vmo_usable_start[b];
        for (uint32_t pl = 0; r == 0 && pl < l->plane_count; pl++) {
                uint32_t stride = l->bytes_per_row[pl];
                if (stride == 0 || l->size_bytes[pl] % stride) {
                        snprintf(why, why_size, "plane %u: %llu bytes are not whole rows of %u", pl,
                                 (unsigned long long)l->size_bytes[pl], stride);
                        r = -EINVAL;
                        break;
                }
                uint32_t rows_in_plane = (uint32_t)(l->size_bytes[pl] / stride);
                for (uint32_t y = 0; r == 0 && y < rows_in_plane; y++) {
                        uint8_t *line = base + l->offset[pl] + (uint64_t)y * stride;
                        for (uint32_t x = 0; x < stride; x++) {
                                uint8_t want = image_byte(seed, b, pl, y, x);
                                if (write) {
                                        line[x] = want;
                                } else if (line[x] != want) {
                                        snprintf(why, why_size,
                                                 "buffer %u plane %u row %u byte %u (offset %llu) is 0x%02x, "
                                                 "expected 0x%02x",
                                                 b, pl, y, x, (unsigned long long)(line - p + x), line[x], want);
                                        r = -EIO;
                                        break;
                                }
                        }
                }
        }
        for (uint64_t i = rep->vmo_usable_start[b] + l->total_size_bytes; r == 0 && !write && i < raw; i++)
                if (p[i]) {
                        snprintf(why, why_size, "buffer %u byte %llu after the image is 0x%02x, expected 0", b,
                                 (unsigned long long)i, p[i]);
                        r = -EIO;
                }
        munmap(p, raw);
        return r;
}

static void close_inherited_fds(int keep) {
        /* A participant must hold no copy of another's socket or token, or the daemon would see no close. */
        if (keep > 3)
                (void)close_range(3, (unsigned)keep - 1, 0);
        (void)close_range((unsigned)keep + 1, ~0u, 0);
}

#define PART_CHECK(call, what)                                                                                         \
        do {                                                                                                           \
                int r_ = (call);                                                                                       \
                if (r_ < 0) {                                                                                          \
                        rep->r = r_;                                                                                   \
                        snprintf(rep->stage, sizeof rep->stage, "%s", what);                                           \
                        goto done;                                                                                     \
                }                                                                                                      \
        } while (0)

/* Runs role `index` of `row`: joins the collection, negotiates, reports, then writes or verifies on command. */
static _Noreturn void part_main(int sock, const char *socket_path, const struct row *row, unsigned index) {
        const struct role *ro = &row->roles[index];
        signal(SIGALRM, SIG_DFL);
        alarm(H_WATCHDOG_S);
        signal(SIGPIPE, SIG_IGN);
        struct part_report *rep = calloc(1, sizeof *rep);
        if (!rep)
                _exit(4);
        struct sysmem_allocator *a = NULL;
        struct sysmem_token *token = NULL;
        struct sysmem_collection *coll = NULL;
        struct sysmem_collection_info *info = NULL;
        rep->layout_r = rep->required_r = -ENODATA;

        PART_CHECK(sysmem_allocator_connect(socket_path, &a), "connect");
        PART_CHECK(sysmem_allocator_set_debug_client_info(a, ro->name, (uint64_t)getpid()), "allocator debug info");
        if (index == 0) {
                /* The initiator makes the collection; the test process hands the tokens on. */
                uint32_t masks[4] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
                struct sysmem_token *dups[4];
                PART_CHECK(sysmem_allocator_allocate_shared(a, &token), "AllocateSharedCollection");
                PART_CHECK(sysmem_token_duplicate_sync(token, row->role_count - 1, masks, dups), "DuplicateSync");
                for (unsigned i = 0; i + 1 < row->role_count; i++) {
                        int fd = sysmem_token_to_fd(dups[i]);
                        int r = sysmem_send_fd(sock, fd, NULL, 0);
                        close(fd);
                        PART_CHECK(r, "sending a token");
                }
        } else {
                int fd = -1;
                if (!h_poll_readable(sock, H_TIMEOUT_MS))
                        PART_CHECK(-ETIMEDOUT, "waiting for a token");
                PART_CHECK(sysmem_recv_fd(sock, &fd, NULL, 0), "receiving a token");
                PART_CHECK(sysmem_token_from_fd(fd, &token), "token_from_fd");
                PART_CHECK(sysmem_node_set_debug_client_info(sysmem_token_node(token), ro->name, (uint64_t)getpid()),
                           "token debug info");
        }
        int r = ro->via_allocator ? sysmem_allocator_bind_shared(a, token, &coll) : sysmem_token_bind(token, &coll);
        token = NULL; /* consumed either way */
        PART_CHECK(r, "bind");
        PART_CHECK(sysmem_collection_set_constraints(coll, ro->null_constraints ? NULL : &ro->c), "SetConstraints");
        PART_CHECK(sysmem_collection_wait_allocated(coll, &info), "WaitForAllBuffersAllocated");

        rep->id = info->buffer_collection_id;
        rep->buffer_count = info->buffer_count;
        rep->settings = info->settings;
        for (uint32_t b = 0; b < info->buffer_count && b < SYSMEM_MAX_BUFFERS; b++) {
                struct stat st;
                rep->vmo_usable_start[b] = info->buffers[b].vmo_usable_start;
                rep->fd_present[b] = info->buffers[b].fd >= 0;
                if (rep->fd_present[b] && fstat(info->buffers[b].fd, &st) == 0) {
                        rep->ino[b] = st.st_ino;
                        rep->st_size[b] = st.st_size;
                }
        }
        if (info->settings.has_image_format_constraints) {
                const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
                rep->layout_r = sysmem_image_layout(f, f->min_size.width, f->min_size.height, &rep->layout);
                if (row->required.width)
                        rep->required_r = sysmem_image_layout(f, row->required.width, row->required.height,
                                                              &rep->required_layout);
        }
done:
        if (rep->r < 0 && (coll || token)) {
                struct sysmem_node *n = coll ? sysmem_collection_node(coll) : sysmem_token_node(token);
                rep->error = sysmem_node_error(n);
                snprintf(rep->message, sizeof rep->message, "%s", sysmem_node_error_message(n));
        }
        if (send(sock, rep, sizeof *rep, MSG_NOSIGNAL) != (ssize_t)sizeof *rep)
                _exit(5);

        for (;;) {
                struct part_cmd cmd;
                struct part_reply reply = {0};
                ssize_t n = recv(sock, &cmd, sizeof cmd, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof cmd || cmd.op == OP_EXIT)
                        break;
                for (uint32_t b = 0; info && b < info->buffer_count && reply.r == 0; b++)
                        if (info->buffers[b].fd >= 0)
                                reply.r = image_op(rep, info->buffers[b].fd, b, cmd.op == OP_WRITE, cmd.seed, reply.why,
                                                   sizeof reply.why);
                if (!info)
                        reply.r = -ENODATA;
                if (send(sock, &reply, sizeof reply, MSG_NOSIGNAL) != (ssize_t)sizeof reply)
                        _exit(6);
        }
        sysmem_collection_info_free(info);
        if (coll && sysmem_collection_release(coll) < 0 && rep->r == 0)
                _exit(7);
        sysmem_token_close(token);
        sysmem_allocator_free(a);
        free(rep);
        _exit(0);
}

static void part_spawn(struct part *p, struct h_daemon *d, const struct row *row, unsigned index) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                fail_msg("socketpair: %s", strerror(errno));
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
                /* The participant must not outlive a test process that crashed. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                close_inherited_fds(sv[1]);
                part_main(sv[1], d->socket, row, index);
        }
        close(sv[1]);
        *p = (struct part){.pid = pid, .sock = sv[0], .name = row->roles[index].name};
}

/* Receives exactly one message of `size` bytes within the harness's timeout. */
static void part_recv(struct part *p, void *buf, size_t size, const char *what) {
        if (!h_poll_readable(p->sock, H_TIMEOUT_MS))
                fail_msg("participant %s sent no %s within %d ms", p->name, what, H_TIMEOUT_MS);
        ssize_t n = recv(p->sock, buf, size, 0);
        if (n != (ssize_t)size)
                fail_msg("participant %s ended instead of sending its %s (%zd bytes)", p->name, what, n);
}

static void part_command(struct part *p, enum part_op op, uint32_t seed, struct part_reply *reply) {
        struct part_cmd cmd = {.op = op, .seed = seed};
        if (send(p->sock, &cmd, sizeof cmd, MSG_NOSIGNAL) != (ssize_t)sizeof cmd)
                fail_msg("participant %s: cannot send a command: %s", p->name, strerror(errno));
        if (reply)
                part_recv(p, reply, sizeof *reply, "reply");
}

/* Asks the participant to release and exit, and asserts it exits cleanly. */
static void part_stop(struct part *p) {
        part_command(p, OP_EXIT, 0, NULL);
        int status = 0;
        int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
        pid_t r;
        while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && h_now_ms() < deadline)
                usleep(2000);
        if (r != p->pid) {
                kill_part(p);
                fail_msg("participant %s did not exit", p->name);
        }
        p->pid = 0;
        close(p->sock);
        p->sock = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("participant %s ended with wait status 0x%x", p->name, status);
}

/* ---- checks ---- */

static void check_layout(const struct row *row, const char *who, const struct part_report *r) {
        const struct sysmem_plane_layout *got = &r->layout, *want = &row->layout;
        bool linear = row->modifier == DRM_FORMAT_MOD_LINEAR;
        if (r->layout_r < 0)
                ROW_FAIL(row, "%s: sysmem_image_layout at %ux%u failed: %s", who, row->min_size.width,
                         row->min_size.height, strerror(-r->layout_r));
        if (got->plane_count != want->plane_count)
                ROW_FAIL(row, "%s: %u planes, expected %u", who, got->plane_count, want->plane_count);
        for (uint32_t p = 0; p < want->plane_count; p++) {
                if (got->bytes_per_row[p] != want->bytes_per_row[p] || got->size_bytes[p] != want->size_bytes[p] ||
                    (linear && got->offset[p] != want->offset[p]))
                        ROW_FAIL(row, "%s: plane %u at %llu, %u bytes a row, %llu bytes; expected %llu, %u, %llu", who,
                                 p, (unsigned long long)got->offset[p], got->bytes_per_row[p],
                                 (unsigned long long)got->size_bytes[p], (unsigned long long)want->offset[p],
                                 want->bytes_per_row[p], (unsigned long long)want->size_bytes[p]);
                /* sysmem promises start_offset_divisor for the image start; these rows keep every plane on it too. */
                if (linear && (r->vmo_usable_start[0] + got->offset[p]) % row->start_offset_divisor)
                        ROW_FAIL(row, "%s: plane %u starts at %llu, not a multiple of start_offset_divisor %u", who, p,
                                 (unsigned long long)(r->vmo_usable_start[0] + got->offset[p]),
                                 row->start_offset_divisor);
        }
        if (got->total_size_bytes != want->total_size_bytes)
                ROW_FAIL(row, "%s: layout total %llu bytes, expected %llu", who,
                         (unsigned long long)got->total_size_bytes, (unsigned long long)want->total_size_bytes);
        if (got->total_size_bytes > r->settings.buffer_settings.size_bytes)
                ROW_FAIL(row, "%s: the %ux%u image needs %llu bytes but buffers have %llu", who, row->min_size.width,
                         row->min_size.height, (unsigned long long)got->total_size_bytes,
                         (unsigned long long)r->settings.buffer_settings.size_bytes);
        if (row->required.width) {
                if (r->required_r < 0)
                        ROW_FAIL(row, "%s: sysmem_image_layout at the required %ux%u failed: %s", who,
                                 row->required.width, row->required.height, strerror(-r->required_r));
                if (r->required_layout.total_size_bytes != row->required_total)
                        ROW_FAIL(row, "%s: the required %ux%u image is %llu bytes, expected %llu", who,
                                 row->required.width, row->required.height,
                                 (unsigned long long)r->required_layout.total_size_bytes,
                                 (unsigned long long)row->required_total);
        }
}

static void check_success(const struct row *row, const struct part_report *reps) {
        const struct part_report *ref = &reps[0];
        uint64_t raw = h_page_round(row->size);
        uint64_t ref_ino[SYSMEM_MAX_BUFFERS] = {0};
        for (unsigned i = 0; i < row->role_count; i++) {
                const struct role *ro = &row->roles[i];
                const struct part_report *r = &reps[i];
                const struct sysmem_buffer_memory_settings *bs = &r->settings.buffer_settings;
                const struct sysmem_image_format_settings *f = &r->settings.image_format_constraints;
                if (r->r < 0)
                        ROW_FAIL(row, "%s: %s failed: %s (%s: %s)", ro->name, r->stage, strerror(-r->r),
                                 sysmem_error_name(r->error), r->message);
                if (r->buffer_count != row->count)
                        ROW_FAIL(row, "%s: %u buffers, expected %u", ro->name, r->buffer_count, row->count);
                if (bs->size_bytes != row->size || bs->raw_vmo_size != raw)
                        ROW_FAIL(row, "%s: size_bytes %llu (raw %llu), expected %llu (raw %llu)", ro->name,
                                 (unsigned long long)bs->size_bytes, (unsigned long long)bs->raw_vmo_size,
                                 (unsigned long long)row->size, (unsigned long long)raw);
                if (bs->coherency_domain != row->domain)
                        ROW_FAIL(row, "%s: coherency domain %u, expected %u", ro->name, bs->coherency_domain,
                                 row->domain);
                if (!r->settings.has_image_format_constraints)
                        ROW_FAIL(row, "%s: the settings carry no image format", ro->name);
                if (f->pixel_format != row->pixel_format || f->pixel_format_modifier != row->modifier)
                        ROW_FAIL(row, "%s: format 0x%08x modifier 0x%016llx, expected 0x%08x 0x%016llx", ro->name,
                                 f->pixel_format, (unsigned long long)f->pixel_format_modifier, row->pixel_format,
                                 (unsigned long long)row->modifier);
                if (f->color_space != row->color_space)
                        ROW_FAIL(row, "%s: colour space %u, expected %u", ro->name, f->color_space, row->color_space);
                if (f->min_size.width != row->min_size.width || f->min_size.height != row->min_size.height)
                        ROW_FAIL(row, "%s: min_size %ux%u, expected %ux%u", ro->name, f->min_size.width,
                                 f->min_size.height, row->min_size.width, row->min_size.height);
                if (f->min_bytes_per_row != row->min_bytes_per_row ||
                    f->bytes_per_row_divisor != row->bytes_per_row_divisor ||
                    f->start_offset_divisor != row->start_offset_divisor)
                        ROW_FAIL(row,
                                 "%s: min_bytes_per_row %u, divisor %u, start_offset_divisor %u; expected %u, %u, %u",
                                 ro->name, f->min_bytes_per_row, f->bytes_per_row_divisor, f->start_offset_divisor,
                                 row->min_bytes_per_row, row->bytes_per_row_divisor, row->start_offset_divisor);
                /* Every participant, the one without constraints included, is told the same settings. */
                if (memcmp(&r->settings, &ref->settings, sizeof r->settings) != 0)
                        ROW_FAIL(row, "%s: its settings differ from %s's", ro->name, row->roles[0].name);
                if (r->id == 0 || r->id != ref->id)
                        ROW_FAIL(row, "%s: buffer_collection_id %llu, %s sees %llu", ro->name,
                                 (unsigned long long)r->id, row->roles[0].name, (unsigned long long)ref->id);
                check_layout(row, ro->name, r);
                for (uint32_t b = 0; b < row->count; b++) {
                        if (ro->null_constraints) {
                                if (r->fd_present[b])
                                        ROW_FAIL(row, "%s (no constraints) got an fd for buffer %u", ro->name, b);
                                continue;
                        }
                        if (!r->fd_present[b] || (uint64_t)r->st_size[b] != raw)
                                ROW_FAIL(row, "%s: buffer %u: fd %s, %lld bytes, expected %llu", ro->name, b,
                                         r->fd_present[b] ? "present" : "missing", (long long)r->st_size[b],
                                         (unsigned long long)raw);
                        if (ref_ino[b] && ref_ino[b] != r->ino[b])
                                ROW_FAIL(row, "%s: buffer %u is another inode than the others'", ro->name, b);
                        ref_ino[b] = r->ino[b];
                }
        }
}

static void check_failure(const struct row *row, const struct part_report *reps) {
        for (unsigned i = 0; i < row->role_count; i++) {
                const struct part_report *r = &reps[i];
                const char *who = row->roles[i].name;
                if (r->r >= 0)
                        ROW_FAIL(row, "%s: negotiated %u buffers of %llu bytes; expected %s", who, r->buffer_count,
                                 (unsigned long long)r->settings.buffer_settings.size_bytes,
                                 sysmem_error_name(row->expect_error));
                if (r->error != row->expect_error || strcmp(r->stage, "WaitForAllBuffersAllocated") != 0)
                        ROW_FAIL(row, "%s: %s failed with %s (%s), expected the wait to fail with %s", who, r->stage,
                                 sysmem_error_name(r->error), r->message, sysmem_error_name(row->expect_error));
                for (size_t m = 0; m < LEN(row->message_has) && row->message_has[m]; m++)
                        if (!strstr(r->message, row->message_has[m]))
                                ROW_FAIL(row, "%s: the explanation \"%s\" does not contain \"%s\"", who, r->message,
                                         row->message_has[m]);
        }
}

/* ---- running a row ---- */

static void run_row(struct h_daemon *d, const struct row *row, uint32_t seed) {
        struct part_report *reps = reports;
        struct part_reply reply;
        unsigned n = row->role_count;
        memset(reports, 0, sizeof reports);
        for (unsigned i = 0; i < n; i++)
                part_spawn(&parts[i], d, row, i);

        /* Tokens travel initiator -> this process -> participant, each over its own Unix socket. */
        for (unsigned i = 1; i < n; i++) {
                int fd = h_recv_fd(parts[0].sock, H_TIMEOUT_MS);
                int r = sysmem_send_fd(parts[i].sock, fd, NULL, 0);
                close(fd);
                if (r < 0)
                        ROW_FAIL(row, "handing a token to %s: %s", parts[i].name, strerror(-r));
        }
        for (unsigned i = 0; i < n; i++)
                part_recv(&parts[i], &reps[i], sizeof reps[i], "report");

        if (row->expect_error != SYSMEM_ERROR_INVALID) {
                check_failure(row, reps);
        } else {
                check_success(row, reps);
                for (unsigned i = 0; i < n; i++)
                        if (row->roles[i].writer) {
                                part_command(&parts[i], OP_WRITE, seed, &reply);
                                if (reply.r < 0)
                                        ROW_FAIL(row, "%s: writing: %s", parts[i].name, reply.why);
                        }
                for (unsigned i = 0; i < n; i++) {
                        if (row->roles[i].writer || row->roles[i].null_constraints)
                                continue;
                        part_command(&parts[i], OP_VERIFY, seed, &reply);
                        if (reply.r < 0)
                                ROW_FAIL(row, "%s: reading the writer's image: %s", parts[i].name, reply.why);
                }
        }
        for (unsigned i = 0; i < n; i++)
                part_stop(&parts[i]);
        /* Everything the collection held in the daemon is gone again. */
        h_daemon_expect_fds(d, d->baseline_fds);
}

static void test_formats_negotiated(void **state) {
        struct h_daemon *d = DAEMON(state);
        for (size_t i = 0; i < LEN(rows); i++)
                run_row(d, &rows[i], (uint32_t)i + 1);
}

static void test_formats_conflicts_explained(void **state) {
        struct h_daemon *d = DAEMON(state);
        for (size_t i = 0; i < LEN(failure_rows); i++)
                run_row(d, &failure_rows[i], 0);
        /* The daemon is still serving after all those failures. */
        run_row(d, &rows[3], 99);
}

int main(int argc, char **argv) {
        /* An argument runs only the tests whose names match it (a cmocka pattern). */
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_formats_negotiated, h_setup, formats_teardown),
                cmocka_unit_test_setup_teardown(test_formats_conflicts_explained, h_setup, formats_teardown),
        };
        return cmocka_run_group_tests_name("formats", tests, NULL, NULL);
}
