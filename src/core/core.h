/* core.h: the pure heart of sysmem: validate, default and aggregate constraints, and size the buffers. No I/O. */
#ifndef SYSMEM_CORE_H
#define SYSMEM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sysmem/sysmem-types.h>

/* One participant's input: its constraints (NULL when it set none) and a name for explanations. */
struct core_participant {
        const struct sysmem_constraints *constraints;
        const char *debug_name; /* may be NULL; explanations then say "participant #<index>" */
};

/* What a heap can do; the server registers its heaps with the core through this. */
struct core_heap {
        const char *heap_type; /* e.g. SYSMEM_HEAP_SYSTEM_RAM */
        uint64_t id;
        bool cpu_supported;
        bool ram_supported;
        bool inaccessible_supported;
        bool secure;
        bool contiguous_capable; /* can serve physically_contiguous_required */
        uint64_t max_buffer_bytes; /* the heap's own limit on raw_vmo_size; 0: none */
        /*
         * A device heap lays out (pixel_format, modifier) pairs that sysmem's image-format library cannot (a
         * drm: heap, through GBM): lays_out says whether it lays out this pair, layout gives the bytes and the
         * first plane's bytes_per_row of an image of this size in it (0, or -errno). Both NULL: it lays out
         * none. The core calls them only with such pairs (docs/constraints.md, "Pairs only a device lays out")
         * and stays pure: what they do is the caller's.
         */
        bool (*lays_out)(const struct core_heap *heap, uint32_t pixel_format, uint64_t modifier);
        int (*layout)(const struct core_heap *heap, uint32_t pixel_format, uint64_t modifier, struct sysmem_size size,
                      uint64_t *ret_bytes, uint32_t *ret_bytes_per_row);
        void *device; /* the caller's, for lays_out and layout */
};

struct core_limits {
        uint32_t max_buffers;          /* <= SYSMEM_MAX_BUFFERS */
        uint64_t max_buffer_bytes;     /* size_bytes of one buffer */
        uint64_t max_collection_bytes; /* size_bytes * buffer_count */
        uint64_t page_size;            /* raw_vmo_size granularity */
};

/*
 * One entry of the format cost table (sysmem-aggregation.md §5): choosing (pixel_format, pixel_format_modifier)
 * costs `cost` when the aggregated usage has every bit of `usage`. Lower is better; a pair without a matching
 * entry costs DBL_MAX. Among the matching entries the one with the most usage bits wins, the later on a tie.
 */
struct core_format_cost {
        uint32_t pixel_format;          /* DRM fourcc */
        uint64_t pixel_format_modifier; /* DRM format modifier */
        struct sysmem_usage usage;      /* required usage bits; all zero: any usage */
        double cost;
};

/* What the daemon brings to every negotiation: its heaps, its limits and its format preferences. */
struct core_config {
        const struct core_heap *heaps;
        size_t heap_count;
        struct core_limits limits;
        const struct core_format_cost *format_costs; /* may be NULL with format_cost_count 0: tie-break only */
        size_t format_cost_count;
};

/* Why an aggregation failed: the error value plus a sentence naming the constraint, the values and who set them. */
#define CORE_MESSAGE_SIZE 1024u /* the wire's error messages carry up to 1024 bytes */
struct core_failure {
        enum sysmem_error error;
        char message[CORE_MESSAGE_SIZE];
};

struct core_result {
        struct sysmem_single_buffer_settings settings;
        uint32_t buffer_count;
        /* With an image format: the largest image size_bytes was computed for, and its first plane's stride. */
        struct sysmem_size sizing_image;
        uint32_t sizing_bytes_per_row;
        /* The image's pair is one only the heap's device lays out: its size came from core_heap.layout. */
        bool device_layout;
};

/*
 * Validates each participant (sysmem-aggregation.md §1, §2), aggregates them (§3) and generates the
 * settings (§4, §5) against the configured heaps, limits and format costs. Returns 0 and fills *ret_result,
 * or a negative value and fills *ret_failure: -EINVAL for constraints that cannot be satisfied (or a caller
 * bug, with SYSMEM_ERROR_UNSPECIFIED), -ENOMEM (SYSMEM_ERROR_NO_MEMORY) when the bounded work area for image
 * formats (1.6 MB: four lists of 512 entries, freed before returning) cannot be allocated. Never does I/O; allocates
 * nothing when no participant has image format constraints. Participants are in breadth-first tree order.
 */
int core_aggregate(const struct core_participant *participants, size_t participant_count,
                   const struct core_config *config, struct core_result *ret_result, struct core_failure *ret_failure);

/* Whether usage needs write access to the buffers (sysmem's IsWriteUsage). */
bool core_usage_needs_write(const struct sysmem_usage *usage);
/* Whether a participant with these constraints receives buffer fds at all. */
bool core_participant_gets_buffers(const struct sysmem_constraints *constraints);

#endif
