/* sanitize.c: one participant's constraints checked and completed with sysmem's defaults (aggregation §1, §2). */
#include "core-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define NONE_USAGE_KNOWN (SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION)
#define CPU_USAGE_KNOWN                                                                                                \
        (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_READ_OFTEN | SYSMEM_CPU_USAGE_WRITE | SYSMEM_CPU_USAGE_WRITE_OFTEN)
#define VULKAN_USAGE_KNOWN                                                                                             \
        (SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_SRC | SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST |                             \
         SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED | SYSMEM_VULKAN_IMAGE_USAGE_STORAGE |                                       \
         SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT | SYSMEM_VULKAN_IMAGE_USAGE_STENCIL_ATTACHMENT |                   \
         SYSMEM_VULKAN_IMAGE_USAGE_TRANSIENT_ATTACHMENT | SYSMEM_VULKAN_IMAGE_USAGE_INPUT_ATTACHMENT |                 \
         SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_SRC | SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST |                           \
         SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER | SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_TEXEL_BUFFER |           \
         SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_BUFFER | SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER |                       \
         SYSMEM_VULKAN_BUFFER_USAGE_INDEX_BUFFER | SYSMEM_VULKAN_BUFFER_USAGE_VERTEX_BUFFER |                          \
         SYSMEM_VULKAN_BUFFER_USAGE_INDIRECT_BUFFER)
#define DISPLAY_USAGE_KNOWN (SYSMEM_DISPLAY_USAGE_LAYER | SYSMEM_DISPLAY_USAGE_CURSOR)
#define VIDEO_USAGE_KNOWN                                                                                              \
        (SYSMEM_VIDEO_USAGE_HW_DECODER | SYSMEM_VIDEO_USAGE_HW_ENCODER | SYSMEM_VIDEO_USAGE_CAPTURE |                  \
         SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT | SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL)

#define CPU_USAGE_WRITES (SYSMEM_CPU_USAGE_WRITE | SYSMEM_CPU_USAGE_WRITE_OFTEN)
#define VULKAN_USAGE_WRITES                                                                                            \
        (SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST | SYSMEM_VULKAN_IMAGE_USAGE_STORAGE |                                  \
         SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST | SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER)
#define VIDEO_USAGE_WRITES                                                                                             \
        (SYSMEM_VIDEO_USAGE_HW_DECODER | SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL |                                      \
         SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT | SYSMEM_VIDEO_USAGE_HW_ENCODER)

bool core_usage_has_real_bit(const struct sysmem_usage *usage) {
        return (usage->cpu | usage->vulkan | usage->display | usage->video) != 0;
}

bool core_heap_equal(const struct sysmem_heap *a, const struct sysmem_heap *b) {
        return a->id == b->id && strcmp(a->heap_type, b->heap_type) == 0;
}

/*
 * With every field meaning "unset" at zero, an all-zero struct is Fuchsia's empty constraints table, which
 * says the same as sending no constraints at all. The pointers do not count: without a count they say nothing.
 */
static bool constraints_are_empty(const struct sysmem_constraints *c) {
        const struct sysmem_buffer_memory_constraints *m = &c->buffer_memory_constraints;

        return c->usage.none == 0 && !core_usage_has_real_bit(&c->usage) && c->min_buffer_count_for_camping == 0 &&
               c->min_buffer_count_for_dedicated_slack == 0 && c->min_buffer_count_for_shared_slack == 0 &&
               c->min_buffer_count == 0 && c->max_buffer_count == 0 && m->min_size_bytes == 0 &&
               m->max_size_bytes == 0 && !m->physically_contiguous_required && !m->secure_required &&
               m->cpu_domain_supported == SYSMEM_UNSET && m->ram_domain_supported == SYSMEM_UNSET &&
               m->inaccessible_domain_supported == SYSMEM_UNSET && m->permitted_heap_count == 0 &&
               c->image_format_constraint_count == 0;
}

bool core_usage_needs_write(const struct sysmem_usage *usage) {
        if (!usage)
                return false;
        return (usage->cpu & CPU_USAGE_WRITES) || (usage->vulkan & VULKAN_USAGE_WRITES) ||
               (usage->video & VIDEO_USAGE_WRITES);
}

bool core_participant_gets_buffers(const struct sysmem_constraints *constraints) {
        if (!constraints || constraints_are_empty(constraints))
                return false;
        const struct sysmem_usage *usage = &constraints->usage;
        if ((usage->none & SYSMEM_NONE_USAGE) && !(usage->none & SYSMEM_NONE_USAGE_PERMIT_ALLOCATION))
                return false;
        return true;
}

static int check_usage_bits(const struct core_participant *participants, size_t index, const char *field,
                            uint32_t value, uint32_t known, struct core_failure *failure) {
        if ((value & ~known) == 0)
                return 0;
        return core_fail_participant(failure, participants, index,
                                     "usage.%s 0x%x has unknown bits 0x%x (the defined bits are 0x%x)", field, value,
                                     value & ~known, known);
}

static int sanitize_usage(const struct core_participant *participants, size_t index, const struct sysmem_usage *u,
                          struct core_failure *failure) {
        int r;

        if ((r = check_usage_bits(participants, index, "none", u->none, NONE_USAGE_KNOWN, failure)) < 0 ||
            (r = check_usage_bits(participants, index, "cpu", u->cpu, CPU_USAGE_KNOWN, failure)) < 0 ||
            (r = check_usage_bits(participants, index, "vulkan", u->vulkan, VULKAN_USAGE_KNOWN, failure)) < 0 ||
            (r = check_usage_bits(participants, index, "display", u->display, DISPLAY_USAGE_KNOWN, failure)) < 0 ||
            (r = check_usage_bits(participants, index, "video", u->video, VIDEO_USAGE_KNOWN, failure)) < 0)
                return r;

        if (u->none == 0 && !core_usage_has_real_bit(u))
                return core_fail_participant(
                        failure, participants, index,
                        "usage has no bit set (usage.none, cpu, vulkan, display and video are all 0); "
                        "a participant that does not touch the buffers sets usage.none = NONE_USAGE");
        if (u->none != 0 && !(u->none & SYSMEM_NONE_USAGE))
                return core_fail_participant(failure, participants, index,
                                             "usage.none 0x%x has NONE_USAGE_PERMIT_ALLOCATION without NONE_USAGE",
                                             u->none);
        if (u->none != 0 && core_usage_has_real_bit(u))
                return core_fail_participant(failure, participants, index,
                                             "usage.none 0x%x must be the only usage, but usage.cpu 0x%x, vulkan 0x%x, "
                                             "display 0x%x, video 0x%x",
                                             u->none, u->cpu, u->vulkan, u->display, u->video);
        return 0;
}

static int resolve_tristate(const struct core_participant *participants, size_t index, const char *field,
                            enum sysmem_tristate value, bool fallback, bool *ret, struct core_failure *failure) {
        switch (value) {
        case SYSMEM_UNSET:
                *ret = fallback;
                return 0;
        case SYSMEM_FALSE:
                *ret = false;
                return 0;
        case SYSMEM_TRUE:
                *ret = true;
                return 0;
        }
        return core_fail_participant(failure, participants, index,
                                     "buffer_memory_constraints.%s has invalid value %u (0 unset, 1 false, 2 true)",
                                     field, (unsigned)value);
}

static int sanitize_heaps(const struct core_participant *participants, size_t index,
                          const struct sysmem_buffer_memory_constraints *m, struct core_constraints *c,
                          struct core_failure *failure) {

        if (m->permitted_heap_count > SYSMEM_MAX_PERMITTED_HEAPS)
                return core_fail_participant(
                        failure, participants, index,
                        "buffer_memory_constraints.permitted_heap_count %u exceeds the limit of %u",
                        m->permitted_heap_count, SYSMEM_MAX_PERMITTED_HEAPS);
        if (m->permitted_heap_count > 0 && !m->permitted_heaps)
                return core_fail_participant(
                        failure, participants, index,
                        "buffer_memory_constraints.permitted_heaps is NULL but permitted_heap_count is %u",
                        m->permitted_heap_count);

        for (uint32_t i = 0; i < m->permitted_heap_count; i++) {
                const struct sysmem_heap *heap = &m->permitted_heaps[i];
                size_t len = strnlen(heap->heap_type, sizeof(heap->heap_type));

                if (len == 0)
                        return core_fail_participant(failure, participants, index,
                                                     "buffer_memory_constraints.permitted_heaps[%u].heap_type is empty",
                                                     i);
                if (len == sizeof(heap->heap_type))
                        return core_fail_participant(
                                failure, participants, index,
                                "buffer_memory_constraints.permitted_heaps[%u].heap_type is longer than %u bytes", i,
                                SYSMEM_MAX_HEAP_TYPE_LENGTH);
                /* A duplicate is a client bug, and intersection assumes each list is a set. */
                for (uint32_t j = 0; j < i; j++)
                        if (core_heap_equal(&m->permitted_heaps[j], heap))
                                return core_fail_participant(
                                        failure, participants, index,
                                        "buffer_memory_constraints.permitted_heaps[%u] and [%u] are the "
                                        "same heap ('%s' id %" PRIu64 ")",
                                        j, i, heap->heap_type, heap->id);
                c->permitted_heaps[i] = heap;
        }
        c->permitted_heap_count = m->permitted_heap_count;
        return 0;
}

static int sanitize_memory(const struct core_participant *participants, size_t index,
                           const struct sysmem_constraints *in, struct core_constraints *c,
                           struct core_failure *failure) {
        const struct sysmem_buffer_memory_constraints *m = &in->buffer_memory_constraints;
        int r;

        c->min_size_bytes = m->min_size_bytes;
        c->max_size_bytes = m->max_size_bytes != 0 ? m->max_size_bytes : UINT64_MAX;
        if (c->min_size_bytes > c->max_size_bytes)
                return core_fail_participant(failure, participants, index,
                                             "buffer_memory_constraints.min_size_bytes %" PRIu64
                                             " exceeds max_size_bytes %" PRIu64,
                                             c->min_size_bytes, c->max_size_bytes);

        c->physically_contiguous_required = m->physically_contiguous_required;
        c->secure_required = m->secure_required;

        /* The domain defaults follow from this participant's own usage and secure_required (§1). */
        bool uses_cpu = in->usage.cpu != 0;
        if ((r = resolve_tristate(participants, index, "cpu_domain_supported", m->cpu_domain_supported,
                                  !c->secure_required, &c->cpu_domain_supported, failure)) < 0 ||
            (r = resolve_tristate(participants, index, "ram_domain_supported", m->ram_domain_supported,
                                  !c->secure_required && !uses_cpu, &c->ram_domain_supported, failure)) < 0 ||
            (r = resolve_tristate(participants, index, "inaccessible_domain_supported",
                                  m->inaccessible_domain_supported, !uses_cpu, &c->inaccessible_domain_supported,
                                  failure)) < 0)
                return r;

        /* Ordered so the message names the root cause: cpu + secure would otherwise read as "no domain". */
        if (uses_cpu && c->secure_required)
                return core_fail_participant(failure, participants, index,
                                             "usage.cpu 0x%x with buffer_memory_constraints.secure_required: the CPU "
                                             "cannot access secure memory",
                                             in->usage.cpu);
        if (c->secure_required && (c->cpu_domain_supported || c->ram_domain_supported))
                return core_fail_participant(failure, participants, index,
                                             "buffer_memory_constraints.secure_required with %s true: secure memory is "
                                             "only ever in the inaccessible domain",
                                             c->cpu_domain_supported ? "cpu_domain_supported" : "ram_domain_supported");
        if (c->secure_required && !c->inaccessible_domain_supported)
                return core_fail_participant(
                        failure, participants, index,
                        "buffer_memory_constraints.secure_required with inaccessible_domain_supported "
                        "false: secure memory is only ever in the inaccessible domain");
        if (uses_cpu && !c->cpu_domain_supported && !c->ram_domain_supported)
                return core_fail_participant(failure, participants, index,
                                             "usage.cpu 0x%x needs buffer_memory_constraints.cpu_domain_supported or "
                                             "ram_domain_supported, but both are false",
                                             in->usage.cpu);

        return sanitize_heaps(participants, index, m, c, failure);
}

/* §3's precondition, on the raw values: a buffer size, or an image with both dimensions. */
static bool implies_size(const struct sysmem_constraints *in) {
        if (in->buffer_memory_constraints.min_size_bytes > 0)
                return true;
        for (uint32_t i = 0; in->image_format_constraints && i < in->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *f = &in->image_format_constraints[i];
                if ((f->min_size.width > 0 && f->min_size.height > 0) ||
                    (f->required_max_size.width > 0 && f->required_max_size.height > 0))
                        return true;
                for (uint32_t j = 0; f->required_max_size_list && j < f->required_max_size_count; j++)
                        if (f->required_max_size_list[j].width > 0 && f->required_max_size_list[j].height > 0)
                                return true;
        }
        return false;
}

int core_sanitize(const struct core_participant *participants, size_t index, const struct core_limits *limits,
                  struct core_ifc *ifc_out, struct core_constraints *ret, struct core_failure *failure) {
        const struct sysmem_constraints *in = participants[index].constraints;
        struct core_constraints c = {
                .max_buffer_count = UINT32_MAX,
                .max_size_bytes = UINT64_MAX,
        };
        int r;

        if (!in || constraints_are_empty(in)) {
                /* Present, but only as a NONE_USAGE participant with every default (§1). */
                c.usage.none = SYSMEM_NONE_USAGE;
                c.cpu_domain_supported = true;
                c.ram_domain_supported = true;
                c.inaccessible_domain_supported = true;
                *ret = c;
                return 0;
        }

        r = sanitize_usage(participants, index, &in->usage, failure);
        if (r < 0)
                return r;
        c.usage = in->usage;

        c.min_buffer_count_for_camping = in->min_buffer_count_for_camping;
        c.min_buffer_count_for_dedicated_slack = in->min_buffer_count_for_dedicated_slack;
        c.min_buffer_count_for_shared_slack = in->min_buffer_count_for_shared_slack;
        c.min_buffer_count = in->min_buffer_count;
        c.max_buffer_count = in->max_buffer_count != 0 ? in->max_buffer_count : UINT32_MAX;
        if (c.min_buffer_count > c.max_buffer_count)
                return core_fail_participant(failure, participants, index,
                                             "min_buffer_count %u exceeds max_buffer_count %u", c.min_buffer_count,
                                             c.max_buffer_count);

        r = sanitize_memory(participants, index, in, &c, failure);
        if (r < 0)
                return r;

        if (in->image_format_constraint_count > 0) {
                /* The caller provides ifc_out whenever a participant has image formats; NULL is its bug. */
                if (!ifc_out)
                        return core_fail_participant(failure, participants, index,
                                                     "image_format_constraints given but no work area (a bug in the "
                                                     "caller of core_sanitize)");
                r = core_sanitize_ifcs(participants, index, limits, ifc_out, &c.ifc_count, failure);
                if (r < 0)
                        return r;
                c.ifcs = ifc_out;
                for (uint32_t i = 0; i < c.ifc_count; i++)
                        c.names_device_pair |= ifc_out[i].device_only;
        }
        /* After the checks above, which make the image-format pointers and counts safe to read. */
        c.implies_size = implies_size(in);

        *ret = c;
        return 0;
}
