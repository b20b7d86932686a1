/* test-core.c: table-driven tests of the pure core: defaults, validation, aggregation and generated settings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/macros.h"
#include "core/core.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

#define MAX_PARTICIPANTS 6
#define MAX_SUBSTRINGS 4

/* ---- shorthand for the table ---- */

#define CPU_RW .usage.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE
#define GPU .usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED
#define DISPLAY .usage.display = SYSMEM_DISPLAY_USAGE_LAYER
#define NONE .usage.none = SYSMEM_NONE_USAGE
#define SIZE(n) .buffer_memory_constraints.min_size_bytes = (n)
#define MAX_SIZE(n) .buffer_memory_constraints.max_size_bytes = (n)
#define CAMP(n) .min_buffer_count_for_camping = (n)
#define DEDICATED(n) .min_buffer_count_for_dedicated_slack = (n)
#define SHARED(n) .min_buffer_count_for_shared_slack = (n)
#define MIN_COUNT(n) .min_buffer_count = (n)
#define MAX_COUNT(n) .max_buffer_count = (n)
#define CONTIGUOUS .buffer_memory_constraints.physically_contiguous_required = true
#define SECURE .buffer_memory_constraints.secure_required = true
#define CPU_DOMAIN(v) .buffer_memory_constraints.cpu_domain_supported = (v)
#define RAM_DOMAIN(v) .buffer_memory_constraints.ram_domain_supported = (v)
#define INACCESSIBLE_DOMAIN(v) .buffer_memory_constraints.inaccessible_domain_supported = (v)
#define HEAPS(...)                                                                                                     \
        .buffer_memory_constraints.permitted_heaps = (const struct sysmem_heap[]){__VA_ARGS__},                                    \
        .buffer_memory_constraints.permitted_heap_count = (uint32_t)ARRAY_LEN(((const struct sysmem_heap[]){__VA_ARGS__}))

/* The common case: a CPU reader/writer that camps on one buffer of one page. */
#define APP CPU_RW, CAMP(1), SIZE(4096)

struct test_participant {
        bool present;
        const char *name;
        const struct sysmem_constraints *constraints;
};
#define P(name_, ...)                                                                                                  \
        { .present = true, .name = (name_), .constraints = &(const struct sysmem_constraints){__VA_ARGS__} }
#define P_NULL(name_) { .present = true, .name = (name_), .constraints = NULL }

struct expect {
        uint32_t buffer_count;
        uint64_t size_bytes;
        uint64_t raw_vmo_size;
        enum sysmem_coherency_domain domain;
        const char *heap;
        uint64_t heap_id;
        bool contiguous;
        bool secure;
};

struct test_case {
        const char *name;
        struct test_participant participants[MAX_PARTICIPANTS];
        const struct core_heap *heaps; /* NULL: heaps_default */
        size_t heap_count;
        const struct core_limits *limits; /* NULL: limits_default */
        enum sysmem_error error;          /* SYSMEM_ERROR_INVALID (0): success expected */
        struct expect ok;
        const char *message[MAX_SUBSTRINGS]; /* each must occur in the failure message */
        const char *absent;                  /* must not occur in it */
};
#define OK(...) .ok = {__VA_ARGS__}
#define FAILS(...) .error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, .message = {__VA_ARGS__}
#define REGISTRY(array) .heaps = (array), .heap_count = ARRAY_LEN(array)

#define CPU SYSMEM_COHERENCY_DOMAIN_CPU
#define RAM SYSMEM_COHERENCY_DOMAIN_RAM
#define INACCESSIBLE SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE

/* ---- heap registries and limits ---- */

static const struct core_heap heaps_default[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true, .ram_supported = true,
         .inaccessible_supported = true},
};

/* Registration order matters: the secure heaps are registered z before a, so "lowest name" is observable. */
static const struct core_heap heaps_rich[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true, .ram_supported = true,
         .inaccessible_supported = true},
        {.heap_type = "dma-heap:cma", .cpu_supported = true, .ram_supported = true, .contiguous_capable = true},
        {.heap_type = "gpu:vram", .id = 1, .ram_supported = true, .inaccessible_supported = true},
        {.heap_type = "gpu:vram", .id = 2, .ram_supported = true, .inaccessible_supported = true},
        {.heap_type = "secure:z", .inaccessible_supported = true, .secure = true, .contiguous_capable = true},
        {.heap_type = "secure:a", .inaccessible_supported = true, .secure = true},
        {.heap_type = "cpu-only", .cpu_supported = true},
};

static const struct core_heap heaps_contiguous_ram[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true, .ram_supported = true,
         .inaccessible_supported = true, .contiguous_capable = true},
        {.heap_type = "dma-heap:cma", .cpu_supported = true, .ram_supported = true, .contiguous_capable = true},
};

static const struct core_heap heaps_cpu_only_ram[] = {
        {.heap_type = SYSMEM_HEAP_SYSTEM_RAM, .cpu_supported = true},
};

static const struct core_heap heaps_without_system_ram[] = {
        {.heap_type = "gpu:vram", .id = 1, .ram_supported = true, .inaccessible_supported = true},
        {.heap_type = "cpu-only", .cpu_supported = true},
};

static const struct core_limits limits_default = {
        .max_buffers = 64, .max_buffer_bytes = 256 * MiB, .max_collection_bytes = 1 * GiB, .page_size = 4096};
static const struct core_limits limits_small = {
        .max_buffers = 8, .max_buffer_bytes = 64 * KiB, .max_collection_bytes = 256 * KiB, .page_size = 4096};
static const struct core_limits limits_huge = {
        .max_buffers = 64, .max_buffer_bytes = UINT64_MAX, .max_collection_bytes = UINT64_MAX, .page_size = 4096};
static const struct core_limits limits_16k_pages = {
        .max_buffers = 64, .max_buffer_bytes = 256 * MiB, .max_collection_bytes = 1 * GiB, .page_size = 16384};
static const struct core_limits limits_100_buffers = {
        .max_buffers = 100, .max_buffer_bytes = 256 * MiB, .max_collection_bytes = 1 * GiB, .page_size = 4096};
/* A per-buffer cap that is not a page multiple: it applies to size_bytes, not raw_vmo_size. */
static const struct core_limits limits_odd_buffer_cap = {
        .max_buffers = 64, .max_buffer_bytes = 65000, .max_collection_bytes = 1 * GiB, .page_size = 4096};

static const struct sysmem_heap heaps_65[65];

/* The core's configuration for a table entry: its heaps and limits, and no format costs (none are needed here). */
static struct core_config config_of(const struct core_heap *heaps, size_t heap_count, const struct core_limits *limits) {
        return (struct core_config){.heaps = heaps, .heap_count = heap_count, .limits = *limits};
}

#define NAME_100 "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij"
#define NAME_100_CUT "'0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123...'"

/*
 * Entries start from a shorthand (APP) and override some of its fields; later designators winning is plain C,
 * so the warning about it is off for the table.
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
        /* ---- defaults and the plain path ---- */
        {
                .name = "one cpu participant gets one system-ram buffer in the cpu domain",
                .participants = {P("app", APP)},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "size_bytes is not page-rounded but raw_vmo_size is (65535)",
                .participants = {P("app", CPU_RW, CAMP(1), SIZE(65535))},
                OK(.buffer_count = 1, .size_bytes = 65535, .raw_vmo_size = 65536, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a one-byte buffer still gets a whole page",
                .participants = {P("app", CPU_RW, CAMP(2), SIZE(1))},
                OK(.buffer_count = 2, .size_bytes = 1, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a page multiple is not rounded further",
                .participants = {P("app", CPU_RW, CAMP(1), SIZE(8192))},
                OK(.buffer_count = 1, .size_bytes = 8192, .raw_vmo_size = 8192, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "raw_vmo_size follows limits.page_size",
                .participants = {P("app", CPU_RW, CAMP(1), SIZE(5000))},
                .limits = &limits_16k_pages,
                OK(.buffer_count = 1, .size_bytes = 5000, .raw_vmo_size = 16384, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a participant with NULL constraints only adds its existence",
                .participants = {P_NULL("observer"), P("app", APP)},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "all-zero constraints mean the same as NULL constraints",
                .participants = {P("empty", .min_buffer_count = 0), P("app", APP)},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "NULL constraints alone imply no size",
                .participants = {P_NULL("observer")},
                FAILS("no participant implies a non-zero buffer size", "buffer_memory_constraints.min_size_bytes"),
        },
        {
                .name = "no participants at all fails",
                FAILS("no participant implies a non-zero buffer size"),
        },
        {
                .name = "max_size_bytes alone does not imply a size",
                .participants = {P("app", CPU_RW, CAMP(1), MAX_SIZE(4096))},
                FAILS("no participant implies a non-zero buffer size"),
        },
        {
                .name = "an unnamed participant is named by its index",
                .participants = {P("app", APP), P(NULL, CAMP(1))},
                FAILS("participant #1: usage has no bit set"),
        },
        {
                .name = "the first participant at fault in order is the one named",
                .participants = {P("first", CAMP(1)), P("second", NONE, CPU_RW)},
                FAILS("'first': usage has no bit set"),
                .absent = "second",
        },
        {
                .name = "long debug names are cut in messages",
                .participants = {P("app", APP), P(NAME_100, CAMP(1))},
                FAILS(NAME_100_CUT ": usage has no bit set"),
        },
        {
                .name = "control bytes in debug names do not reach messages",
                .participants = {P("app", APP), P("evil\n\x1b[2Jname", CAMP(1))},
                FAILS("'evil??[2Jname': usage has no bit set"),
        },

        /* ---- usage validation ---- */
        {
                .name = "no usage bit with other fields set fails",
                .participants = {P("a", CAMP(1), SIZE(4096))},
                FAILS("'a': usage has no bit set", "NONE_USAGE"),
        },
        {
                .name = "usage.none together with cpu usage fails",
                .participants = {P("a", NONE, CPU_RW, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.none 0x1 must be the only usage", "usage.cpu 0x5"),
        },
        {
                .name = "usage.none together with video usage fails",
                .participants = {P("a", NONE, .usage.video = SYSMEM_VIDEO_USAGE_CAPTURE, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.none 0x1 must be the only usage", "video 0x8"),
        },
        {
                .name = "NONE_USAGE_PERMIT_ALLOCATION without NONE_USAGE fails",
                .participants = {P("a", .usage.none = SYSMEM_NONE_USAGE_PERMIT_ALLOCATION, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.none 0x2 has NONE_USAGE_PERMIT_ALLOCATION without NONE_USAGE"),
        },
        {
                .name = "unknown usage.none bit fails",
                .participants = {P("a", .usage.none = 0x5, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.none 0x5 has unknown bits 0x4"),
        },
        {
                .name = "unknown usage.cpu bit fails",
                .participants = {P("a", .usage.cpu = 0x11, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.cpu 0x11 has unknown bits 0x10", "0xf"),
        },
        {
                .name = "unknown usage.vulkan image bit fails",
                .participants = {P("a", .usage.vulkan = 0x100, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.vulkan 0x100 has unknown bits 0x100"),
        },
        {
                .name = "unknown usage.vulkan buffer bit fails",
                .participants = {P("a", .usage.vulkan = 0x02000000, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.vulkan 0x2000000 has unknown bits 0x2000000"),
        },
        {
                .name = "unknown usage.display bit fails",
                .participants = {P("a", .usage.display = 0x4, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.display 0x4 has unknown bits 0x4", "0x3"),
        },
        {
                .name = "the sysmem v1 protected video bit is unknown",
                .participants = {P("a", .usage.video = 0x4, CAMP(1), SIZE(4096))},
                FAILS("'a': usage.video 0x4 has unknown bits 0x4", "0x3b"),
        },
        {
                .name = "every defined usage bit is accepted",
                .participants = {P("all", .usage.cpu = 0xf, .usage.vulkan = 0x01ff00ff, .usage.display = 0x3,
                                   .usage.video = 0x3b, CAMP(1), SIZE(4096)),
                                 P("bystander", .usage.none = SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION)},
                /* cpu usage makes the ram domain default to false, so display cannot pick ram */
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a collection where everyone uses NONE_USAGE fails",
                .participants = {P("a", NONE, CAMP(1), SIZE(4096)), P_NULL("b")},
                FAILS("no participant uses the buffers", "NONE_USAGE_PERMIT_ALLOCATION"),
        },
        {
                .name = "NONE_USAGE_PERMIT_ALLOCATION allows a collection without real usage",
                .participants = {P("a", .usage.none = SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION,
                                   CAMP(2), SIZE(4096)),
                                 P_NULL("b")},
                OK(.buffer_count = 2, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a NONE_USAGE participant's counts and size still count",
                .participants = {P("none", NONE, MIN_COUNT(3), SIZE(10000)), P("app", APP)},
                OK(.buffer_count = 3, .size_bytes = 10000, .raw_vmo_size = 12288, .domain = CPU, .heap = "system-ram"),
        },

        /* ---- buffer counts ---- */
        {
                .name = "camping adds up across participants",
                .participants = {P("a", APP, CAMP(2)), P("b", GPU, CAMP(3))},
                OK(.buffer_count = 5, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "dedicated slack adds up across participants",
                .participants = {P("a", APP, DEDICATED(2)), P("b", GPU, DEDICATED(3))},
                OK(.buffer_count = 6, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "shared slack takes the maximum, not the sum",
                .participants = {P("a", APP, SHARED(2)), P("b", GPU, CAMP(1), SHARED(3))},
                OK(.buffer_count = 5, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "count is camping sum plus dedicated sum plus shared max",
                .participants = {P("a", APP, CAMP(2), DEDICATED(1), SHARED(2)),
                                 P("b", GPU, CAMP(1), DEDICATED(2), SHARED(3))},
                OK(.buffer_count = 9, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "min_buffer_count raises the count above the sum",
                .participants = {P("a", APP, MIN_COUNT(5))},
                OK(.buffer_count = 5, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "min_buffer_count takes the maximum",
                .participants = {P("a", APP, MIN_COUNT(3)), P("b", GPU, MIN_COUNT(6))},
                OK(.buffer_count = 6, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "min_buffer_count takes the maximum in either order",
                .participants = {P("a", APP, MIN_COUNT(6)), P("b", GPU, MIN_COUNT(3))},
                OK(.buffer_count = 6, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "min_buffer_count below the sum changes nothing",
                .participants = {P("a", APP, CAMP(4), MIN_COUNT(2))},
                OK(.buffer_count = 4, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "count equal to max_buffer_count is accepted",
                .participants = {P("a", APP, CAMP(4), MAX_COUNT(4))},
                OK(.buffer_count = 4, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "max_buffer_count 0 means unlimited",
                .participants = {P("a", APP, CAMP(64), MAX_COUNT(0))},
                OK(.buffer_count = 64, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "the smallest max_buffer_count binds and the message names its owner",
                .participants = {P("a", APP, CAMP(5), MAX_COUNT(10)), P("b", GPU, MAX_COUNT(4))},
                FAILS("buffer count 5", "camping 5 from 'a'", "exceeds max_buffer_count 4 (from 'b')"),
        },
        {
                .name = "count failure explains every contribution",
                .participants = {P("a", APP, CAMP(40)), P("b", GPU, CAMP(30)), P("c", GPU, MAX_COUNT(16)),
                                 P("d", GPU, SHARED(2), DEDICATED(1))},
                FAILS("buffer count 73 (camping 40 from 'a' + 30 from 'b'; dedicated slack 1 from 'd'; "
                      "shared slack 2 from 'd'; min_buffer_count 0)",
                      "exceeds max_buffer_count 16 (from 'c')"),
        },
        {
                .name = "zero buffers fails",
                .participants = {P("a", CPU_RW, SIZE(4096))},
                FAILS("buffer count 0", "min_buffer_count_for_camping"),
        },
        {
                .name = "exactly 64 buffers is accepted",
                .participants = {P("a", APP, CAMP(40)), P("b", GPU, CAMP(24))},
                OK(.buffer_count = 64, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "65 buffers fails",
                .participants = {P("a", APP, CAMP(40)), P("b", GPU, CAMP(25))},
                FAILS("buffer count 65", "40 from 'a' + 25 from 'b'", "limit of 64 buffers per collection"),
        },
        {
                .name = "65 buffers through min_buffer_count fails",
                .participants = {P("a", APP, MIN_COUNT(65))},
                FAILS("buffer count 65", "min_buffer_count 65 from 'a'", "limit of 64 buffers"),
        },
        {
                .name = "limits.max_buffers lowers the cap",
                .participants = {P("a", CPU_RW, CAMP(9), SIZE(4096))},
                .limits = &limits_small,
                FAILS("buffer count 9", "limit of 8 buffers per collection"),
        },
        {
                .name = "limits.max_buffers above 64 is held to 64",
                .participants = {P("a", CPU_RW, CAMP(65), SIZE(4096))},
                .limits = &limits_100_buffers,
                FAILS("buffer count 65", "limit of 64 buffers per collection"),
        },
        {
                .name = "min_buffer_count above one participant's own max_buffer_count fails",
                .participants = {P("a", APP, MIN_COUNT(5), MAX_COUNT(3))},
                FAILS("'a': min_buffer_count 5 exceeds max_buffer_count 3"),
        },
        {
                .name = "min_buffer_count of one above max_buffer_count of another fails naming both",
                .participants = {P("a", APP, MIN_COUNT(10)), P("b", GPU, MAX_COUNT(5))},
                FAILS("min_buffer_count 10 (from 'a') exceeds max_buffer_count 5 (from 'b')"),
        },
        {
                .name = "camping sum overflow fails",
                .participants = {P("a", APP, CAMP(UINT32_MAX)), P("b", GPU, CAMP(1))},
                FAILS("min_buffer_count_for_camping 1 from 'b' overflows the sum 4294967295"),
        },
        {
                .name = "dedicated slack sum overflow fails",
                .participants = {P("a", APP, DEDICATED(UINT32_MAX - 1)), P("b", GPU, DEDICATED(2))},
                FAILS("min_buffer_count_for_dedicated_slack 2 from 'b' overflows the sum 4294967294"),
        },
        {
                .name = "a huge count that does not overflow fails on the limit",
                .participants = {P("a", APP, CAMP(UINT32_MAX), DEDICATED(UINT32_MAX), SHARED(UINT32_MAX))},
                FAILS("buffer count 12884901885", "limit of 64 buffers"),
        },

        /* ---- sizes ---- */
        {
                .name = "min_size_bytes takes the maximum",
                .participants = {P("a", APP, SIZE(1000)), P("b", GPU, SIZE(5000))},
                OK(.buffer_count = 1, .size_bytes = 5000, .raw_vmo_size = 8192, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "min_size_bytes takes the maximum in either order",
                .participants = {P("a", APP, SIZE(5000)), P("b", GPU, SIZE(1000))},
                OK(.buffer_count = 1, .size_bytes = 5000, .raw_vmo_size = 8192, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "the smallest max_size_bytes binds even when a larger one comes later",
                .participants = {P("a", CPU_RW, CAMP(1), MAX_SIZE(50)), P("b", GPU, MAX_SIZE(100)),
                                 P("c", GPU, SIZE(75))},
                FAILS("min_size_bytes 75 (from 'c') exceeds max_size_bytes 50 (from 'a')"),
        },
        {
                .name = "on a tie the first participant with the binding value is named",
                .participants = {P("a", APP, SIZE(1 * MiB)), P("b", GPU, SIZE(1 * MiB)), P("c", GPU, MAX_SIZE(65536))},
                FAILS("min_size_bytes 1048576 (from 'a') exceeds max_size_bytes 65536 (from 'c')"),
                .absent = "'b'",
        },
        {
                .name = "max_size_bytes takes the minimum and the message names both sides",
                .participants = {P("encoder", GPU, CAMP(1), SIZE(1048576), MAX_SIZE(4 * MiB)),
                                 P("display", DISPLAY, MAX_SIZE(65536)), P("other", APP, MAX_SIZE(2 * MiB))},
                FAILS("buffer_memory_constraints.min_size_bytes 1048576 (from 'encoder') exceeds max_size_bytes 65536 "
                      "(from 'display')"),
        },
        {
                .name = "min_size_bytes above one participant's own max_size_bytes fails",
                .participants = {P("a", APP, SIZE(100), MAX_SIZE(50))},
                FAILS("'a': buffer_memory_constraints.min_size_bytes 100 exceeds max_size_bytes 50"),
        },
        {
                .name = "min_size_bytes equal to max_size_bytes is accepted",
                .participants = {P("a", APP, SIZE(4000)), P("b", GPU, MAX_SIZE(4000))},
                OK(.buffer_count = 1, .size_bytes = 4000, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "max_size_bytes 0 means unlimited",
                .participants = {P("a", APP, SIZE(200 * MiB), MAX_SIZE(0))},
                OK(.buffer_count = 1, .size_bytes = 200 * MiB, .raw_vmo_size = 200 * MiB, .domain = CPU,
                   .heap = "system-ram"),
        },
        {
                .name = "a buffer exactly at limits.max_buffer_bytes is accepted",
                .participants = {P("a", APP, SIZE(256 * MiB))},
                OK(.buffer_count = 1, .size_bytes = 256 * MiB, .raw_vmo_size = 256 * MiB, .domain = CPU,
                   .heap = "system-ram"),
        },
        {
                .name = "one byte over limits.max_buffer_bytes fails",
                .participants = {P("big", APP, SIZE(256 * MiB + 1))},
                FAILS("size_bytes 268435457", "min_size_bytes from 'big'", "limit of 268435456 bytes per buffer"),
        },
        {
                .name = "the per-buffer limit applies to size_bytes, not raw_vmo_size",
                .participants = {P("a", APP, SIZE(65000))},
                .limits = &limits_odd_buffer_cap,
                OK(.buffer_count = 1, .size_bytes = 65000, .raw_vmo_size = 65536, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "a collection exactly at limits.max_collection_bytes is accepted",
                .participants = {P("a", CPU_RW, CAMP(4), SIZE(64 * KiB))},
                .limits = &limits_small,
                OK(.buffer_count = 4, .size_bytes = 64 * KiB, .raw_vmo_size = 64 * KiB, .domain = CPU,
                   .heap = "system-ram"),
        },
        {
                .name = "one byte over limits.max_collection_bytes fails",
                .participants = {P("a", CPU_RW, CAMP(5), SIZE(52429))},
                .limits = &limits_small,
                FAILS("size_bytes 52429", "buffer count 5 = 262145", "limit of 262144 bytes per collection"),
        },
        {
                .name = "size times count overflowing 64 bits fails",
                .participants = {P("a", CPU_RW, CAMP(2), SIZE(1ull << 63))},
                .limits = &limits_huge,
                FAILS("size_bytes 9223372036854775808", "buffer count 2 overflows"),
        },
        {
                .name = "a size that cannot be page-rounded fails",
                .participants = {P("a", CPU_RW, CAMP(1), SIZE(UINT64_MAX))},
                .limits = &limits_huge,
                FAILS("size_bytes 18446744073709551615", "min_size_bytes from 'a'", "cannot be rounded up"),
        },

        /* ---- buffer-memory validation and domain defaults ---- */
        {
                .name = "cpu usage with secure_required fails",
                .participants = {P("a", APP, SECURE)},
                FAILS("'a': usage.cpu 0x5 with buffer_memory_constraints.secure_required"),
        },
        {
                .name = "secure_required with cpu_domain_supported true fails",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096), SECURE, CPU_DOMAIN(SYSMEM_TRUE))},
                FAILS("'a': buffer_memory_constraints.secure_required with cpu_domain_supported true"),
        },
        {
                .name = "secure_required with ram_domain_supported true fails",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096), SECURE, RAM_DOMAIN(SYSMEM_TRUE))},
                FAILS("'a': buffer_memory_constraints.secure_required with ram_domain_supported true"),
        },
        {
                .name = "secure_required with inaccessible_domain_supported false fails",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096), SECURE, INACCESSIBLE_DOMAIN(SYSMEM_FALSE))},
                FAILS("'a': buffer_memory_constraints.secure_required with inaccessible_domain_supported false"),
        },
        {
                .name = "cpu usage with cpu domain off and ram defaulting off fails",
                .participants = {P("a", APP, CPU_DOMAIN(SYSMEM_FALSE))},
                FAILS("'a': usage.cpu 0x5 needs buffer_memory_constraints.cpu_domain_supported or "
                      "ram_domain_supported"),
        },
        {
                .name = "cpu usage with cpu domain off and ram on gets the ram domain",
                .participants = {P("a", APP, CPU_DOMAIN(SYSMEM_FALSE), RAM_DOMAIN(SYSMEM_TRUE))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "system-ram"),
        },
        {
                .name = "a tristate outside its enum fails",
                .participants = {P("a", APP, RAM_DOMAIN((enum sysmem_tristate)3))},
                FAILS("'a': buffer_memory_constraints.ram_domain_supported has invalid value 3"),
        },
        {
                .name = "a gpu-only participant gets the cpu domain (cpu defaults to supported)",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "cpu domain off selects ram",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), CPU_DOMAIN(SYSMEM_FALSE))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "system-ram"),
        },
        {
                .name = "cpu and ram domains off select inaccessible",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), CPU_DOMAIN(SYSMEM_FALSE),
                                   RAM_DOMAIN(SYSMEM_FALSE))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = INACCESSIBLE,
                   .heap = "system-ram"),
        },
        {
                .name = "display usage prefers ram even when cpu is supported",
                .participants = {P("display", DISPLAY, CAMP(1), SIZE(4096))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "system-ram"),
        },
        {
                .name = "a cpu user's ram domain defaults off, so display plus cpu gets the cpu domain",
                .participants = {P("display", DISPLAY, CAMP(1), SIZE(4096)), P("app", APP)},
                OK(.buffer_count = 2, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "display plus a cpu user that allows ram gets the ram domain",
                .participants = {P("display", DISPLAY, CAMP(1), SIZE(4096)), P("app", APP, RAM_DOMAIN(SYSMEM_TRUE))},
                OK(.buffer_count = 2, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "system-ram"),
        },
        {
                .name = "display without ram allowed falls back to cpu",
                .participants = {P("display", DISPLAY, CAMP(1), SIZE(4096), RAM_DOMAIN(SYSMEM_FALSE))},
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "display gets ram even on a heap without ram support (as in Fuchsia)",
                .participants = {P("display", DISPLAY, CAMP(1), SIZE(4096))},
                REGISTRY(heaps_cpu_only_ram),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "system-ram"),
        },
        {
                .name = "domains AND across participants and a failure names who turned each off",
                .participants = {P("cpu-user", APP), P("gpu", GPU, CPU_DOMAIN(SYSMEM_FALSE))},
                FAILS("no coherency domain fits heap 'system-ram'",
                      "cpu: buffer_memory_constraints.cpu_domain_supported is false (from 'gpu')",
                      "ram: buffer_memory_constraints.ram_domain_supported is false (from 'cpu-user')",
                      "inaccessible: buffer_memory_constraints.inaccessible_domain_supported is false "
                      "(from 'cpu-user')"),
        },
        {
                .name = "system-ram is chosen without asking its domains, then the domain fails",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), CPU_DOMAIN(SYSMEM_FALSE))},
                REGISTRY(heaps_cpu_only_ram),
                FAILS("no coherency domain fits heap 'system-ram'", "cpu_domain_supported is false (from 'gpu')",
                      "ram: the heap lacks it", "inaccessible: the heap lacks it"),
        },

        /* ---- contiguous ---- */
        {
                .name = "contiguous without a contiguous-capable heap fails",
                .participants = {P("a", APP, CONTIGUOUS)},
                FAILS("no registered heap fits", "physically_contiguous_required (from 'a')",
                      "'system-ram' id 0"),
        },
        {
                .name = "contiguous picks the first contiguous-capable heap",
                .participants = {P("a", APP, CONTIGUOUS)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "dma-heap:cma",
                   .contiguous = true),
        },
        {
                .name = "contiguous keeps system-ram when it is contiguous-capable",
                .participants = {P("a", APP, CONTIGUOUS)},
                REGISTRY(heaps_contiguous_ram),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram",
                   .contiguous = true),
        },
        {
                .name = "contiguous from one participant binds the collection",
                .participants = {P("a", APP), P("b", GPU, CONTIGUOUS)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "dma-heap:cma",
                   .contiguous = true),
        },
        {
                .name = "contiguous skips permitted heaps that cannot be contiguous",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096), CONTIGUOUS,
                                   HEAPS({"gpu:vram", 1}, {"dma-heap:cma", 0}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "dma-heap:cma",
                   .contiguous = true),
        },

        /* ---- permitted heaps and the heap choice ---- */
        {
                .name = "no permitted_heaps means any heap, and system-ram comes first",
                .participants = {P("a", APP)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "system-ram is preferred even when listed last",
                .participants = {P("a", APP, HEAPS({"dma-heap:cma", 0}, {"system-ram", 0}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "system-ram"),
        },
        {
                .name = "without system-ram the first permitted heap in list order wins",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), HEAPS({"gpu:vram", 2}, {"gpu:vram", 1}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "gpu:vram",
                   .heap_id = 2),
        },
        {
                .name = "the intersection keeps the first restricting participant's order",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096),
                                   HEAPS({"cpu-only", 0}, {"gpu:vram", 1}, {"dma-heap:cma", 0})),
                                 P_NULL("any"),
                                 P("b", GPU, HEAPS({"dma-heap:cma", 0}, {"gpu:vram", 1}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "gpu:vram",
                   .heap_id = 1),
        },
        {
                .name = "heap ids are part of heap equality",
                .participants = {P("a", GPU, CAMP(1), SIZE(4096), HEAPS({"gpu:vram", 1})),
                                 P("b", GPU, HEAPS({"gpu:vram", 2}))},
                REGISTRY(heaps_rich),
                FAILS("buffer_memory_constraints.permitted_heaps of 'b' ('gpu:vram' id 2)",
                      "no heap in common with those permitted by 'a' ('gpu:vram' id 1)"),
        },
        {
                .name = "heap types are part of heap equality",
                .participants = {P("a", APP, HEAPS({"dma-heap:cma", 0})), P("b", GPU, HEAPS({"system-ram", 0}))},
                REGISTRY(heaps_rich),
                FAILS("permitted_heaps of 'b'", "no heap in common", "'a'"),
        },
        {
                .name = "an empty intersection names the earlier restricting participants",
                .participants = {P("a", APP, HEAPS({"system-ram", 0}, {"dma-heap:cma", 0})),
                                 P("b", GPU, HEAPS({"dma-heap:cma", 0}, {"gpu:vram", 1})),
                                 P("c", GPU, HEAPS({"system-ram", 0}))},
                REGISTRY(heaps_rich),
                FAILS("permitted_heaps of 'c' ('system-ram' id 0)", "permitted by 'a' and 1 other participant",
                      "('dma-heap:cma' id 0)"),
        },
        {
                .name = "an intersection that narrows to a non-default heap is used",
                .participants = {P("a", APP, HEAPS({"system-ram", 0}, {"dma-heap:cma", 0})),
                                 P("b", GPU, HEAPS({"dma-heap:cma", 0}, {"gpu:vram", 1}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "dma-heap:cma"),
        },
        {
                .name = "a permitted heap that is not registered fails",
                .participants = {P("a", APP, HEAPS({"dma-heap:nonexistent", 0}))},
                FAILS("no registered heap fits", "restricted by 'a'", "'dma-heap:nonexistent' id 0",
                      "registered heaps: 'system-ram' id 0"),
        },
        {
                .name = "the fallback skips heaps without an allowed coherency domain",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), CPU_DOMAIN(SYSMEM_FALSE),
                                   HEAPS({"cpu-only", 0}, {"dma-heap:cma", 0}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "dma-heap:cma"),
        },
        {
                .name = "without system-ram, any-heap follows registration order past unfit heaps",
                .participants = {P("app", APP)},
                REGISTRY(heaps_without_system_ram),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = CPU, .heap = "cpu-only"),
        },
        {
                .name = "without system-ram, any-heap takes the first registered heap that fits",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096))},
                REGISTRY(heaps_without_system_ram),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "gpu:vram",
                   .heap_id = 1),
        },
        {
                .name = "a collection that is not secure never gets a secure heap",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), HEAPS({"secure:a", 0}))},
                REGISTRY(heaps_rich),
                FAILS("no registered heap fits", "non-secure", "'secure:a' id 0"),
        },
        {
                .name = "a duplicate permitted heap fails",
                .participants = {P("a", APP, HEAPS({"system-ram", 0}, {"dma-heap:cma", 0}, {"system-ram", 0}))},
                FAILS("'a': buffer_memory_constraints.permitted_heaps[0] and [2] are the same heap "
                      "('system-ram' id 0)"),
        },
        {
                .name = "the same heap type with another id is not a duplicate",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096), HEAPS({"gpu:vram", 1}, {"gpu:vram", 2}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = RAM, .heap = "gpu:vram",
                   .heap_id = 1),
        },
        {
                .name = "an empty heap_type fails",
                .participants = {P("a", APP, HEAPS({"system-ram", 0}, {"", 0}))},
                FAILS("'a': buffer_memory_constraints.permitted_heaps[1].heap_type is empty"),
        },
        {
                .name = "more than 64 permitted heaps fails",
                .participants = {P("a", APP, .buffer_memory_constraints.permitted_heaps = heaps_65,
                                   .buffer_memory_constraints.permitted_heap_count = 65)},
                FAILS("'a': buffer_memory_constraints.permitted_heap_count 65 exceeds the limit of 64"),
        },
        {
                .name = "a permitted_heap_count without a list fails",
                .participants = {P("a", APP, .buffer_memory_constraints.permitted_heap_count = 2)},
                FAILS("'a': buffer_memory_constraints.permitted_heaps is NULL but permitted_heap_count is 2"),
        },

        /* ---- secure ---- */
        {
                .name = "secure picks the alphabetically lowest secure heap",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = INACCESSIBLE,
                   .heap = "secure:a", .secure = true),
        },
        {
                .name = "secure and contiguous picks the contiguous-capable secure heap",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE, CONTIGUOUS)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = INACCESSIBLE,
                   .heap = "secure:z", .contiguous = true, .secure = true),
        },
        {
                .name = "secure respects permitted_heaps",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE, HEAPS({"secure:z", 0}))},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 1, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = INACCESSIBLE,
                   .heap = "secure:z", .secure = true),
        },
        {
                .name = "secure without any secure heap fails instead of waiting",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE)},
                FAILS("buffer_memory_constraints.secure_required (from 'drm')", "no registered secure heap fits",
                      "registered secure heaps: none"),
        },
        {
                .name = "secure and contiguous without a capable secure heap fails",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE, CONTIGUOUS, HEAPS({"secure:a", 0}))},
                REGISTRY(heaps_rich),
                FAILS("secure_required (from 'drm')", "physically_contiguous_required (from 'drm')",
                      "restricted by 'drm'"),
        },
        {
                .name = "secure from one participant with a gpu participant gives inaccessible memory",
                .participants = {P("gpu", GPU, CAMP(1), SIZE(4096)), P("drm", GPU, CAMP(1), SECURE)},
                REGISTRY(heaps_rich),
                OK(.buffer_count = 2, .size_bytes = 4096, .raw_vmo_size = 4096, .domain = INACCESSIBLE,
                   .heap = "secure:a", .secure = true),
        },
        {
                .name = "secure with a cpu participant fails on the coherency domain",
                .participants = {P("drm", GPU, CAMP(1), SIZE(4096), SECURE), P("cpu", APP)},
                REGISTRY(heaps_rich),
                FAILS("no coherency domain fits heap 'secure:a'",
                      "inaccessible_domain_supported is false (from 'cpu')",
                      "cpu: the heap lacks it and buffer_memory_constraints.cpu_domain_supported is false "
                      "(from 'drm')"),
        },

        /* ---- image formats: the cases are in test-core-image.c; this one is about the pointer ---- */
        {
                .name = "an image format count without a list fails and names the participant",
                .participants = {P("app", APP), P("cam", GPU, .image_format_constraint_count = 1)},
                FAILS("'cam': image_format_constraints is NULL but image_format_constraint_count is 1"),
        },
};
/* clang-format on */
#if defined(__clang__)
#pragma clang diagnostic pop
#else
#pragma GCC diagnostic pop
#endif

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
        const struct core_heap *heaps = tc->heaps ? tc->heaps : heaps_default;
        size_t heap_count = tc->heaps ? tc->heap_count : ARRAY_LEN(heaps_default);
        const struct core_limits *limits = tc->limits ? tc->limits : &limits_default;

        /* Outputs start as garbage, and the one not meant to be written must still be garbage afterwards. */
        struct core_result result, result_before;
        struct core_failure failure, failure_before;
        memset(&result, 0xa5, sizeof(result));
        memset(&failure, 0x5a, sizeof(failure));
        result_before = result;
        failure_before = failure;

        struct core_config config = config_of(heaps, heap_count, limits);
        int r = core_aggregate(count ? participants : NULL, count, &config, &result, &failure);

        if (tc->error == SYSMEM_ERROR_INVALID) {
                if (r != 0)
                        print_error("unexpected failure: %.*s\n", (int)sizeof(failure.message), failure.message);
                assert_int_equal(r, 0);
                assert_memory_equal(&failure, &failure_before, sizeof(failure));
                assert_non_null(tc->ok.heap); /* a success case without an expected heap is a broken table */

                const struct sysmem_buffer_memory_settings *s = &result.settings.buffer_settings;
                assert_int_equal(result.buffer_count, tc->ok.buffer_count);
                assert_int_equal(s->size_bytes, tc->ok.size_bytes);
                assert_int_equal(s->raw_vmo_size, tc->ok.raw_vmo_size);
                assert_int_equal(s->coherency_domain, tc->ok.domain);
                assert_string_equal(s->heap.heap_type, tc->ok.heap);
                assert_int_equal(s->heap.id, tc->ok.heap_id);
                assert_int_equal(s->is_physically_contiguous, tc->ok.contiguous);
                assert_int_equal(s->is_secure, tc->ok.secure);
                assert_false(result.settings.has_image_format_constraints);
                return;
        }

        assert_int_equal(r, -EINVAL);
        if (getenv("TEST_CORE_SHOW"))
                print_message("%s\n", failure.message);
        assert_int_equal(failure.error, tc->error);
        assert_memory_equal(&result, &result_before, sizeof(result));
        assert_non_null(memchr(failure.message, 0, sizeof(failure.message)));
        assert_true(strlen(failure.message) > 0);
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

/* ---- tests that do not fit the table ---- */

static int aggregate_one(const struct sysmem_constraints *c, const char *name, struct core_result *result,
                         struct core_failure *failure) {
        struct core_participant p = {.constraints = c, .debug_name = name};
        struct core_config config = config_of(heaps_default, ARRAY_LEN(heaps_default), &limits_default);
        return core_aggregate(&p, 1, &config, result, failure);
}

static void test_heap_type_without_nul_fails(void **state) {
        (void)state;
        struct sysmem_heap heap;
        memset(heap.heap_type, 'x', sizeof(heap.heap_type));
        heap.id = 0;
        struct sysmem_constraints c = {CPU_RW, CAMP(1), SIZE(4096), .buffer_memory_constraints.permitted_heaps = &heap,
                                       .buffer_memory_constraints.permitted_heap_count = 1};
        struct core_result result;
        struct core_failure failure;

        assert_int_equal(aggregate_one(&c, "a", &result, &failure), -EINVAL);
        assert_int_equal(failure.error, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
        assert_non_null(strstr(failure.message, "'a': buffer_memory_constraints.permitted_heaps[0].heap_type is longer "
                                                "than 128 bytes"));
}

static void test_64_permitted_heaps_are_accepted(void **state) {
        (void)state;
        struct sysmem_heap heaps[SYSMEM_MAX_PERMITTED_HEAPS];
        memset(heaps, 0, sizeof(heaps));
        for (size_t i = 0; i < ARRAY_LEN(heaps); i++) {
                snprintf(heaps[i].heap_type, sizeof(heaps[i].heap_type), "heap-%zu", i);
                heaps[i].id = i;
        }
        strcpy(heaps[63].heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        heaps[63].id = 0;
        struct sysmem_constraints c = {APP, .buffer_memory_constraints.permitted_heaps = heaps,
                                       .buffer_memory_constraints.permitted_heap_count = SYSMEM_MAX_PERMITTED_HEAPS};
        struct core_result result;
        struct core_failure failure;

        assert_int_equal(aggregate_one(&c, "a", &result, &failure), 0);
        assert_string_equal(result.settings.buffer_settings.heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);
}

/* A message with more to say than fits is cut, and the cut is visible. */
static void test_long_message_is_truncated_with_ellipsis(void **state) {
        (void)state;
        static const struct sysmem_constraints c = {CPU_RW, CAMP(4), SIZE(4096)};
        struct core_participant participants[20];
        for (size_t i = 0; i < ARRAY_LEN(participants); i++)
                participants[i] = (struct core_participant){.constraints = &c, .debug_name = NAME_100};
        struct core_result result;
        struct core_failure failure;

        struct core_config config = config_of(heaps_default, ARRAY_LEN(heaps_default), &limits_default);
        assert_int_equal(core_aggregate(participants, ARRAY_LEN(participants), &config, &result, &failure), -EINVAL);
        size_t len = strlen(failure.message);
        assert_int_equal(len, CORE_MESSAGE_SIZE - 1);
        assert_string_equal(failure.message + len - 3, "...");
        assert_non_null(strstr(failure.message, "buffer count 80 (camping 4 from " NAME_100_CUT));
}

static void test_invalid_arguments(void **state) {
        (void)state;
        static const struct sysmem_constraints c = {APP};
        struct core_participant p = {.constraints = &c, .debug_name = "a"};
        struct core_config good = config_of(heaps_default, 1, &limits_default);
        struct core_config zero_page = good, odd_page = good, unnamed = good, null_heaps = good, null_costs = good;
        zero_page.limits.page_size = 0;
        odd_page.limits.page_size = 3000;
        struct core_heap unnamed_heap = {.heap_type = NULL, .cpu_supported = true};
        unnamed.heaps = &unnamed_heap;
        null_heaps.heaps = NULL;
        null_costs.format_cost_count = 1;
        struct core_result result, result_before;
        struct core_failure failure;
        memset(&result, 0xa5, sizeof(result));
        result_before = result;

        assert_int_equal(core_aggregate(&p, 1, &good, NULL, &failure), -EINVAL);
        assert_int_equal(core_aggregate(&p, 1, &good, &result, NULL), -EINVAL);

        const struct core_config *bad[] = {NULL, &zero_page, &odd_page, &unnamed, &null_heaps, &null_costs};
        for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
                failure.error = SYSMEM_ERROR_INVALID;
                assert_int_equal(core_aggregate(&p, 1, bad[i], &result, &failure), -EINVAL);
                assert_int_equal(failure.error, SYSMEM_ERROR_UNSPECIFIED);
                assert_non_null(strstr(failure.message, "invalid arguments"));
        }
        failure.error = SYSMEM_ERROR_INVALID;
        assert_int_equal(core_aggregate(NULL, 1, &good, &result, &failure), -EINVAL);
        assert_int_equal(failure.error, SYSMEM_ERROR_UNSPECIFIED);
        assert_memory_equal(&result, &result_before, sizeof(result));

        /* No heaps at all is not a caller bug, only a collection that cannot be served. */
        struct core_config no_heaps = config_of(NULL, 0, &limits_default);
        assert_int_equal(core_aggregate(&p, 1, &no_heaps, &result, &failure), -EINVAL);
        assert_int_equal(failure.error, SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY);
        assert_non_null(strstr(failure.message, "registered heaps: none"));
}

static void test_usage_needs_write(void **state) {
        (void)state;
        static const struct {
                struct sysmem_usage usage;
                bool writes;
        } table[] = {
                {{.cpu = SYSMEM_CPU_USAGE_READ}, false},
                {{.cpu = SYSMEM_CPU_USAGE_READ_OFTEN}, false},
                {{.cpu = SYSMEM_CPU_USAGE_WRITE}, true},
                {{.cpu = SYSMEM_CPU_USAGE_WRITE_OFTEN}, true},
                {{.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_SRC}, false},
                {{.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST}, true},
                {{.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED}, false},
                {{.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_STORAGE}, true},
                {{.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT}, false},
                {{.vulkan = SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_SRC}, false},
                {{.vulkan = SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST}, true},
                {{.vulkan = SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_BUFFER}, false},
                {{.vulkan = SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER}, true},
                {{.display = SYSMEM_DISPLAY_USAGE_LAYER | SYSMEM_DISPLAY_USAGE_CURSOR}, false},
                {{.video = SYSMEM_VIDEO_USAGE_HW_DECODER}, true},
                {{.video = SYSMEM_VIDEO_USAGE_HW_ENCODER}, true},
                {{.video = SYSMEM_VIDEO_USAGE_CAPTURE}, false},
                {{.video = SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT}, true},
                {{.video = SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL}, true},
                {{.none = SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION}, false},
                {{.cpu = SYSMEM_CPU_USAGE_READ, .display = SYSMEM_DISPLAY_USAGE_LAYER,
                  .video = SYSMEM_VIDEO_USAGE_HW_ENCODER},
                 true},
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                if (core_usage_needs_write(&table[i].usage) != table[i].writes)
                        print_error("row %zu: expected %d\n", i, table[i].writes);
                assert_int_equal(core_usage_needs_write(&table[i].usage), table[i].writes);
        }
        assert_false(core_usage_needs_write(NULL));
}

static void test_participant_gets_buffers(void **state) {
        (void)state;
        static const struct {
                struct sysmem_constraints constraints;
                bool gets;
        } table[] = {
                {{.usage.cpu = SYSMEM_CPU_USAGE_READ}, true},
                {{.usage.display = SYSMEM_DISPLAY_USAGE_LAYER}, true},
                {{.usage.none = SYSMEM_NONE_USAGE}, false},
                {{.usage.none = SYSMEM_NONE_USAGE, .min_buffer_count = 2}, false},
                {{.usage.none = SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION}, true},
                {{.min_buffer_count = 0}, false}, /* all zero: the same as no constraints */
        };
        for (size_t i = 0; i < ARRAY_LEN(table); i++) {
                if (core_participant_gets_buffers(&table[i].constraints) != table[i].gets)
                        print_error("row %zu: expected %d\n", i, table[i].gets);
                assert_int_equal(core_participant_gets_buffers(&table[i].constraints), table[i].gets);
        }
        assert_false(core_participant_gets_buffers(NULL));
}

static const struct CMUnitTest extra_tests[] = {
        cmocka_unit_test(test_heap_type_without_nul_fails),
        cmocka_unit_test(test_64_permitted_heaps_are_accepted),
        cmocka_unit_test(test_long_message_is_truncated_with_ellipsis),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_usage_needs_write),
        cmocka_unit_test(test_participant_gets_buffers),
};

int main(void) {
        struct CMUnitTest tests[ARRAY_LEN(cases) + ARRAY_LEN(extra_tests)];
        size_t n = 0;

        for (size_t i = 0; i < ARRAY_LEN(cases); i++)
                tests[n++] = (struct CMUnitTest){
                        .name = cases[i].name,
                        .test_func = run_case,
                        .initial_state = (void *)(uintptr_t)&cases[i],
                };
        for (size_t i = 0; i < ARRAY_LEN(extra_tests); i++)
                tests[n++] = extra_tests[i];
        return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
