/* bench-core.c: times core_aggregate() on 64 participants with 64 (format, modifier) pairs each. */
#include <drm_fourcc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "core/core.h"
#include "core/defaults.h"
#include "core/format-costs.h"
#include "core/names.h"

#define PARTICIPANTS 64
#define PAIRS 64
#define RUNS 200
#define WARMUP 20

#define AFBC(flags) DRM_FORMAT_MOD_ARM_AFBC(flags)

static const uint64_t intel[] = {DRM_FORMAT_MOD_LINEAR,    I915_FORMAT_MOD_X_TILED,     I915_FORMAT_MOD_Y_TILED,
                                 I915_FORMAT_MOD_Yf_TILED, I915_FORMAT_MOD_Y_TILED_CCS, I915_FORMAT_MOD_Yf_TILED_CCS};
static const uint32_t rgb8888[] = {DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_FORMAT_ABGR8888, DRM_FORMAT_XBGR8888};
static const uint32_t rgb_linear[] = {DRM_FORMAT_RGB888,      DRM_FORMAT_BGR888,      DRM_FORMAT_RGB565,
                                      DRM_FORMAT_RGB332,      DRM_FORMAT_GR88,        DRM_FORMAT_ARGB2101010,
                                      DRM_FORMAT_ABGR2101010, DRM_FORMAT_XRGB2101010, DRM_FORMAT_XBGR2101010};
static const uint32_t yuv_linear[] = {DRM_FORMAT_NV21, DRM_FORMAT_YUV420, DRM_FORMAT_YVU420,
                                      DRM_FORMAT_YUYV, DRM_FORMAT_P010,   DRM_FORMAT_R8};
static const uint64_t afbc_flags[] = {AFBC_FORMAT_MOD_YTR, AFBC_FORMAT_MOD_SPLIT, AFBC_FORMAT_MOD_SPARSE,
                                      AFBC_FORMAT_MOD_TILED, AFBC_FORMAT_MOD_BCH};

struct participant_data {
        struct sysmem_pixel_format_and_modifier rgb[PAIRS], yuv[PAIRS];
        struct sysmem_image_format_constraints ifcs[2];
        struct sysmem_constraints constraints;
        char name[32];
};

/* AFBC modifier number k of 64: block size from bit 5, flags from bits 0-4. */
static uint64_t afbc_modifier(unsigned k) {
        uint64_t mode = (k & 32) ? AFBC_FORMAT_MOD_BLOCK_SIZE_32x8 : AFBC_FORMAT_MOD_BLOCK_SIZE_16x16;
        for (unsigned b = 0; b < 5; b++)
                if (k & (1u << b))
                        mode |= afbc_flags[b];
        return AFBC(mode);
}

/*
 * Participant i: a YUV entry (NV12 with six layouts, six other linear YUV formats: 12 pairs; REC709, REC601
 * NTSC and PAL, PASSTHROUGH) and an RGB entry (four 32-bit formats with six layouts, nine other linear RGB
 * formats, and 19 AFBC modifiers that rotate with i: 52 pairs; SRGB, PASSTHROUGH). 45 pairs are common to all.
 */
static void build(struct participant_data *d, unsigned i) {
        static const uint32_t yuv_cs[] = {SYSMEM_COLOR_SPACE_REC709, SYSMEM_COLOR_SPACE_REC601_NTSC,
                                          SYSMEM_COLOR_SPACE_REC601_PAL, SYSMEM_COLOR_SPACE_PASSTHROUGH};
        static const uint32_t rgb_cs[] = {SYSMEM_COLOR_SPACE_SRGB, SYSMEM_COLOR_SPACE_PASSTHROUGH};
        uint32_t ny = 0, nr = 0;

        for (size_t m = 0; m < ARRAY_LEN(intel); m++)
                d->yuv[ny++] = (struct sysmem_pixel_format_and_modifier){DRM_FORMAT_NV12, intel[m]};
        for (size_t f = 0; f < ARRAY_LEN(yuv_linear); f++)
                d->yuv[ny++] = (struct sysmem_pixel_format_and_modifier){yuv_linear[f], DRM_FORMAT_MOD_LINEAR};
        for (size_t f = 0; f < ARRAY_LEN(rgb8888); f++)
                for (size_t m = 0; m < ARRAY_LEN(intel); m++)
                        d->rgb[nr++] = (struct sysmem_pixel_format_and_modifier){rgb8888[f], intel[m]};
        for (size_t f = 0; f < ARRAY_LEN(rgb_linear); f++)
                d->rgb[nr++] = (struct sysmem_pixel_format_and_modifier){rgb_linear[f], DRM_FORMAT_MOD_LINEAR};
        while (ny + nr < PAIRS) {
                unsigned k = (i + nr) % 64;
                d->rgb[nr++] = (struct sysmem_pixel_format_and_modifier){
                        (k & 1) ? DRM_FORMAT_ABGR8888 : DRM_FORMAT_ARGB8888, afbc_modifier(k)};
        }
        d->ifcs[0] = (struct sysmem_image_format_constraints){
                .pixel_format_and_modifiers = d->yuv,
                .pixel_format_and_modifier_count = ny,
                .color_spaces = yuv_cs,
                .color_space_count = ARRAY_LEN(yuv_cs),
                .min_size = {640 + 2 * i, 480},
        };
        d->ifcs[1] = d->ifcs[0];
        d->ifcs[1].pixel_format_and_modifiers = d->rgb;
        d->ifcs[1].pixel_format_and_modifier_count = nr;
        d->ifcs[1].color_spaces = rgb_cs;
        d->ifcs[1].color_space_count = ARRAY_LEN(rgb_cs);
        d->constraints = (struct sysmem_constraints){
                .usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED,
                .min_buffer_count_for_shared_slack = 1,
                .image_format_constraint_count = 2,
                .image_format_constraints = d->ifcs,
        };
        snprintf(d->name, sizeof(d->name), "participant-%u", i);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int main(void) {
        static struct participant_data data[PARTICIPANTS];
        struct core_participant participants[PARTICIPANTS];
        for (unsigned i = 0; i < PARTICIPANTS; i++) {
                build(&data[i], i);
                participants[i] = (struct core_participant){&data[i].constraints, data[i].name};
        }
        const struct core_config config = {
                .heaps = core_default_heaps,
                .heap_count = core_default_heap_count,
                .limits = {.max_buffers = SYSMEM_MAX_BUFFERS,
                           .max_buffer_bytes = CORE_DEFAULT_MAX_BUFFER_BYTES,
                           .max_collection_bytes = CORE_DEFAULT_MAX_COLLECTION_BYTES,
                           .page_size = 4096},
                .format_costs = core_default_format_costs,
                .format_cost_count = core_default_format_cost_count,
        };

        static struct core_result result;
        static struct core_failure failure;
        static uint64_t ns[RUNS];
        for (int run = -WARMUP; run < RUNS; run++) {
                uint64_t start = now_ns();
                int r = core_aggregate(participants, PARTICIPANTS, &config, &result, &failure);
                uint64_t end = now_ns();
                if (r < 0) {
                        fprintf(stderr, "bench-core: negotiation failed: %s\n", failure.message);
                        return 1;
                }
                if (run >= 0)
                        ns[run] = end - start;
        }
        qsort(ns, RUNS, sizeof(ns[0]), compare_u64);

        const struct sysmem_image_format_settings *f = &result.settings.image_format_constraints;
        char fmt[32], mod[CORE_MODIFIER_NAME_SIZE];
        printf("core_aggregate: %d participants x %d (format, modifier) pairs, %d runs\n", PARTICIPANTS, PAIRS, RUNS);
        printf("  chose %s %s %ux%u, %" PRIu64 " bytes\n", core_pixel_format_format(f->pixel_format, fmt, sizeof(fmt)),
               core_modifier_format(f->pixel_format_modifier, mod, sizeof(mod)), f->min_size.width, f->min_size.height,
               result.settings.buffer_settings.size_bytes);
        printf("  median %.1f us, p10 %.1f us, p90 %.1f us (target: under 2000 us)\n", ns[RUNS / 2] / 1000.0,
               ns[RUNS / 10] / 1000.0, ns[RUNS * 9 / 10] / 1000.0);
        return 0;
}
