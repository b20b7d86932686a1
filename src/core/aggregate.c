/* aggregate.c: core_aggregate(): sanitize each participant, fold them into one aggregate (§3), check it, size it. */
#include "core-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void accumulator_init(struct core_accumulator *acc) {
        *acc = (struct core_accumulator){
                .c.max_buffer_count = UINT32_MAX,
                .c.max_size_bytes = UINT64_MAX,
                .c.cpu_domain_supported = true,
                .c.ram_domain_supported = true,
                .c.inaccessible_domain_supported = true,
                .shared_slack_from = CORE_NOBODY,
                .min_buffer_count_from = CORE_NOBODY,
                .max_buffer_count_from = CORE_NOBODY,
                .min_size_from = CORE_NOBODY,
                .max_size_from = CORE_NOBODY,
                .contiguous_from = CORE_NOBODY,
                .secure_from = CORE_NOBODY,
                .cpu_domain_off_from = CORE_NOBODY,
                .ram_domain_off_from = CORE_NOBODY,
                .inaccessible_domain_off_from = CORE_NOBODY,
                .heaps_from = CORE_NOBODY,
                .ifc_first_from = CORE_NOBODY,
                .ifc_last_from = CORE_NOBODY,
        };
}

/* A sum that only grows past the buffer limit is already a failure; wrapping around would hide it. */
static int add_count(const struct core_participant *participants, size_t index, const char *field, uint32_t *sum,
                     uint32_t value, struct core_failure *failure) {
        uint32_t result;
        if (__builtin_add_overflow(*sum, value, &result))
                return core_fail(failure,
                                 "%s %" PRIu32 " from %s overflows the sum %" PRIu32
                                 " of the participants before it (limit %" PRIu32 ")",
                                 field, value, core_label(participants, index).text, *sum, UINT32_MAX);
        *sum = result;
        return 0;
}

static void clear_domain(bool *aggregate, size_t *off_from, bool participant, size_t index) {
        if (*aggregate && !participant) {
                *aggregate = false;
                *off_from = index;
        }
}

static void append_heap_list(struct core_text *t, const struct core_constraints *c) {
        for (uint32_t i = 0; i < c->permitted_heap_count; i++)
                core_text_appendf(t, "%s'%s' id %" PRIu64, i > 0 ? ", " : "", c->permitted_heaps[i]->heap_type,
                                  c->permitted_heaps[i]->id);
}

/*
 * Keeps the aggregate's entries that this participant also permits, in the aggregate's order (so the order is
 * that of the first participant that restricted the list; §4's fallback heap choice depends on it).
 */
static int intersect_heaps(struct core_accumulator *acc, const struct core_participant *participants, size_t index,
                           const struct core_constraints *c, struct core_failure *failure) {
        if (c->permitted_heap_count == 0)
                return 0;
        if (acc->heaps_from == CORE_NOBODY) {
                memcpy(acc->c.permitted_heaps, c->permitted_heaps,
                       c->permitted_heap_count * sizeof(c->permitted_heaps[0]));
                acc->c.permitted_heap_count = c->permitted_heap_count;
                acc->heaps_from = index;
                acc->heaps_restrict_count = 1;
                return 0;
        }

        const struct sysmem_heap *kept[SYSMEM_MAX_PERMITTED_HEAPS];
        uint32_t kept_count = 0;
        for (uint32_t i = 0; i < acc->c.permitted_heap_count; i++)
                for (uint32_t j = 0; j < c->permitted_heap_count; j++)
                        if (core_heap_equal(acc->c.permitted_heaps[i], c->permitted_heaps[j])) {
                                kept[kept_count++] = acc->c.permitted_heaps[i];
                                break;
                        }

        if (kept_count == 0) {
                struct core_text t;
                core_fail_begin(failure, &t);
                core_text_appendf(&t, "buffer_memory_constraints.permitted_heaps of %s (",
                                  core_label(participants, index).text);
                append_heap_list(&t, c);
                core_text_appendf(&t, ") has no heap in common with those permitted by %s",
                                  core_label(participants, acc->heaps_from).text);
                if (acc->heaps_restrict_count > 1)
                        core_text_appendf(&t, " and %zu other participant%s", acc->heaps_restrict_count - 1,
                                          acc->heaps_restrict_count > 2 ? "s" : "");
                core_text_appendf(&t, " (");
                append_heap_list(&t, &acc->c);
                core_text_appendf(&t, ")");
                return -EINVAL;
        }
        memcpy(acc->c.permitted_heaps, kept, kept_count * sizeof(kept[0]));
        acc->c.permitted_heap_count = kept_count;
        acc->heaps_restrict_count++;
        return 0;
}

static int accumulate(struct core_accumulator *acc, const struct core_participant *participants, size_t index,
                      const struct core_constraints *c, struct core_failure *failure) {
        struct core_constraints *a = &acc->c;
        int r;

        a->usage.none |= c->usage.none;
        a->usage.cpu |= c->usage.cpu;
        a->usage.vulkan |= c->usage.vulkan;
        a->usage.display |= c->usage.display;
        a->usage.video |= c->usage.video;

        /* Camping and dedicated slack are per participant, so they add up; shared slack is shared (§12 #1). */
        if ((r = add_count(participants, index, "min_buffer_count_for_camping", &a->min_buffer_count_for_camping,
                           c->min_buffer_count_for_camping, failure)) < 0 ||
            (r = add_count(participants, index, "min_buffer_count_for_dedicated_slack",
                           &a->min_buffer_count_for_dedicated_slack, c->min_buffer_count_for_dedicated_slack,
                           failure)) < 0)
                return r;
        if (c->min_buffer_count_for_shared_slack > a->min_buffer_count_for_shared_slack) {
                a->min_buffer_count_for_shared_slack = c->min_buffer_count_for_shared_slack;
                acc->shared_slack_from = index;
        }
        if (c->min_buffer_count > a->min_buffer_count) {
                a->min_buffer_count = c->min_buffer_count;
                acc->min_buffer_count_from = index;
        }
        if (c->max_buffer_count < a->max_buffer_count) {
                a->max_buffer_count = c->max_buffer_count;
                acc->max_buffer_count_from = index;
        }

        if (c->implies_size)
                acc->implies_size = true;
        acc->device_pair_named |= c->names_device_pair;
        if (c->min_size_bytes > a->min_size_bytes) {
                a->min_size_bytes = c->min_size_bytes;
                acc->min_size_from = index;
        }
        if (c->max_size_bytes < a->max_size_bytes) {
                a->max_size_bytes = c->max_size_bytes;
                acc->max_size_from = index;
        }

        if (c->physically_contiguous_required && !a->physically_contiguous_required) {
                a->physically_contiguous_required = true;
                acc->contiguous_from = index;
        }
        if (c->secure_required && !a->secure_required) {
                a->secure_required = true;
                acc->secure_from = index;
        }
        clear_domain(&a->cpu_domain_supported, &acc->cpu_domain_off_from, c->cpu_domain_supported, index);
        clear_domain(&a->ram_domain_supported, &acc->ram_domain_off_from, c->ram_domain_supported, index);
        clear_domain(&a->inaccessible_domain_supported, &acc->inaccessible_domain_off_from,
                     c->inaccessible_domain_supported, index);

        if ((r = intersect_heaps(acc, participants, index, c, failure)) < 0)
                return r;
        return core_accumulate_ifcs(acc, participants, index, c, failure);
}

/* The checks that only the aggregate can fail: each participant alone was consistent (§2, §3 "kAggregated"). */
static int check_aggregate(struct core_accumulator *acc, const struct core_participant *participants,
                           size_t participant_count, const struct core_limits *limits, struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;

        if (!acc->implies_size)
                return core_fail(failure, "no participant implies a non-zero buffer size: at least one must set "
                                          "buffer_memory_constraints.min_size_bytes, or an image_format_constraints "
                                          "min_size, required_max_size or required_max_size_list entry with both "
                                          "dimensions");

        if (!core_usage_has_real_bit(&a->usage) && !(a->usage.none & SYSMEM_NONE_USAGE_PERMIT_ALLOCATION))
                return core_fail(failure,
                                 "no participant uses the buffers: each set only usage.none = NONE_USAGE or "
                                 "no constraints; at least one needs a cpu, vulkan, display or video usage, or "
                                 "usage.none NONE_USAGE | NONE_USAGE_PERMIT_ALLOCATION");

        /* Both ends were set by participants: each alone was consistent, so these are two different ones. */
        if (a->min_buffer_count > a->max_buffer_count)
                return core_fail(failure,
                                 "min_buffer_count %" PRIu32 " (from %s) exceeds max_buffer_count %" PRIu32
                                 " (from %s)",
                                 a->min_buffer_count, core_label(participants, acc->min_buffer_count_from).text,
                                 a->max_buffer_count, core_label(participants, acc->max_buffer_count_from).text);
        if (a->min_size_bytes > a->max_size_bytes)
                return core_fail(failure,
                                 "buffer_memory_constraints.min_size_bytes %" PRIu64
                                 " (from %s) exceeds max_size_bytes %" PRIu64 " (from %s)",
                                 a->min_size_bytes, core_label(participants, acc->min_size_from).text,
                                 a->max_size_bytes, core_label(participants, acc->max_size_from).text);
        return core_finish_ifcs(acc, participants, participant_count, limits, failure);
}

/* Caller bugs, not constraint conflicts: the server hands these in, no client controls them. */
static bool arguments_valid(const struct core_participant *participants, size_t participant_count,
                            const struct core_config *config) {
        if ((!participants && participant_count > 0) || !config)
                return false;
        if ((!config->heaps && config->heap_count > 0) || (!config->format_costs && config->format_cost_count > 0))
                return false;
        const struct core_limits *limits = &config->limits;
        if (limits->page_size == 0 || (limits->page_size & (limits->page_size - 1)) != 0)
                return false;
        for (size_t i = 0; i < config->heap_count; i++) {
                if (!config->heaps[i].heap_type)
                        return false;
                size_t len = strnlen(config->heaps[i].heap_type, SYSMEM_MAX_HEAP_TYPE_LENGTH + 1);
                if (len == 0 || len > SYSMEM_MAX_HEAP_TYPE_LENGTH)
                        return false;
        }
        return true;
}

/* The image-format work area, only when someone has image formats: one bounded allocation, freed by the caller. */
static int work_new(const struct core_participant *participants, size_t participant_count, struct core_work **ret) {
        bool needed = false;
        for (size_t i = 0; i < participant_count && !needed; i++)
                needed = participants[i].constraints && participants[i].constraints->image_format_constraint_count > 0;
        *ret = NULL;
        if (!needed)
                return 0;
        struct core_work *work =
                malloc(sizeof(*work) + CORE_WORK_LISTS * CORE_MAX_IFC_ENTRIES * sizeof(struct core_ifc));
        if (!work)
                return -ENOMEM;
        struct core_ifc *lists = (struct core_ifc *)(void *)(work + 1);
        for (int i = 0; i < CORE_WORK_LISTS; i++)
                work->list[i] = lists + (size_t)i * CORE_MAX_IFC_ENTRIES;
        *ret = work;
        return 0;
}

/* The work list a participant's image formats are sanitized into: one the aggregate does not hold. */
static struct core_ifc *participant_list(const struct core_accumulator *acc) {
        if (!acc->work)
                return NULL;
        return acc->work->list[0] != acc->c.ifcs ? acc->work->list[0] : acc->work->list[1];
}

int core_aggregate(const struct core_participant *participants, size_t participant_count,
                   const struct core_config *config, struct core_result *ret_result, struct core_failure *ret_failure) {
        struct core_failure failure = {0};
        struct core_accumulator acc;
        struct core_result result;
        int r;

        if (!ret_result || !ret_failure)
                return -EINVAL;
        if (!arguments_valid(participants, participant_count, config)) {
                *ret_failure = (struct core_failure){.error = SYSMEM_ERROR_UNSPECIFIED};
                strcpy(ret_failure->message, "core_aggregate: invalid arguments (a bug in the caller)");
                return -EINVAL;
        }

        accumulator_init(&acc);
        r = work_new(participants, participant_count, &acc.work);
        if (r < 0) {
                *ret_failure = (struct core_failure){.error = SYSMEM_ERROR_NO_MEMORY};
                strcpy(ret_failure->message, "core_aggregate: out of memory for the image-format work area");
                return r;
        }

        /* Breadth-first order, so the first participant at fault in tree order is the one named. */
        for (size_t i = 0; i < participant_count; i++) {
                struct core_constraints c;

                r = core_sanitize(participants, i, &config->limits, participant_list(&acc), &c, &failure);
                if (r < 0)
                        goto fail;
                r = accumulate(&acc, participants, i, &c, &failure);
                if (r < 0)
                        goto fail;
        }

        r = check_aggregate(&acc, participants, participant_count, &config->limits, &failure);
        if (r < 0)
                goto fail;
        r = core_generate_settings(&acc, participants, participant_count, config, &result, &failure);
        if (r < 0)
                goto fail;

        free(acc.work);
        *ret_result = result;
        return 0;

fail:
        free(acc.work);
        *ret_failure = failure;
        return r;
}
