/* settings.c: what a checked aggregate yields (aggregation §4, §5): count, heap, domain, image format, sizes. */
#include "core-internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "image-format.h"

static uint32_t camping_of(const struct sysmem_constraints *c) { return c->min_buffer_count_for_camping; }
static uint32_t dedicated_slack_of(const struct sysmem_constraints *c) {
        return c->min_buffer_count_for_dedicated_slack;
}

/* "40 from 'a' + 30 from 'b'": who contributed to a summed count; reads the participants' own values. */
static void append_sum(struct core_text *t, const struct core_participant *participants, size_t participant_count,
                       uint32_t (*field_of)(const struct sysmem_constraints *)) {
        bool any = false;
        for (size_t i = 0; i < participant_count; i++) {
                const struct sysmem_constraints *c = participants[i].constraints;
                if (!c || field_of(c) == 0)
                        continue;
                core_text_appendf(t, "%s%" PRIu32 " from %s", any ? " + " : "", field_of(c),
                                  core_label(participants, i).text);
                any = true;
        }
        if (!any)
                core_text_appendf(t, "0");
}

static void append_count_breakdown(struct core_text *t, const struct core_accumulator *acc,
                                   const struct core_participant *participants, size_t participant_count) {
        const struct core_constraints *a = &acc->c;

        core_text_appendf(t, " (camping ");
        append_sum(t, participants, participant_count, camping_of);
        core_text_appendf(t, "; dedicated slack ");
        append_sum(t, participants, participant_count, dedicated_slack_of);
        core_text_appendf(t, "; shared slack %" PRIu32, a->min_buffer_count_for_shared_slack);
        if (acc->shared_slack_from != CORE_NOBODY)
                core_text_appendf(t, " from %s", core_label(participants, acc->shared_slack_from).text);
        core_text_appendf(t, "; min_buffer_count %" PRIu32, a->min_buffer_count);
        if (acc->min_buffer_count_from != CORE_NOBODY)
                core_text_appendf(t, " from %s", core_label(participants, acc->min_buffer_count_from).text);
        core_text_appendf(t, ")");
}

static int choose_buffer_count(const struct core_accumulator *acc, const struct core_participant *participants,
                               size_t participant_count, const struct core_limits *limits, uint32_t *ret,
                               struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;
        /* Three uint32 values cannot overflow a uint64. */
        uint64_t sum = (uint64_t)a->min_buffer_count_for_camping + a->min_buffer_count_for_dedicated_slack +
                       a->min_buffer_count_for_shared_slack;
        uint64_t count = MAX(sum, (uint64_t)a->min_buffer_count);
        uint32_t limit = MIN(limits->max_buffers, SYSMEM_MAX_BUFFERS);
        struct core_text t;

        if (count == 0)
                return core_fail(failure, "buffer count 0: no participant asked for a buffer "
                                          "(min_buffer_count_for_camping, min_buffer_count_for_dedicated_slack, "
                                          "min_buffer_count_for_shared_slack and min_buffer_count are all 0)");
        /* Unset, max_buffer_count is UINT32_MAX, which a uint64 count can pass; only the limit binds then. */
        if (acc->max_buffer_count_from != CORE_NOBODY && count > a->max_buffer_count) {
                core_fail_begin(failure, &t);
                core_text_appendf(&t, "buffer count %" PRIu64, count);
                append_count_breakdown(&t, acc, participants, participant_count);
                core_text_appendf(&t, " exceeds max_buffer_count %" PRIu32 " (from %s)", a->max_buffer_count,
                                  core_label(participants, acc->max_buffer_count_from).text);
                return -EINVAL;
        }
        if (count > limit) {
                core_fail_begin(failure, &t);
                core_text_appendf(&t, "buffer count %" PRIu64, count);
                append_count_breakdown(&t, acc, participants, participant_count);
                core_text_appendf(&t, " exceeds the limit of %" PRIu32 " buffers per collection", limit);
                return -EINVAL;
        }
        *ret = (uint32_t)count;
        return 0;
}

static bool heap_permitted(const struct core_constraints *a, const struct core_heap *heap) {
        if (a->permitted_heap_count == 0)
                return true;
        for (uint32_t i = 0; i < a->permitted_heap_count; i++)
                if (a->permitted_heaps[i]->id == heap->id &&
                    strcmp(a->permitted_heaps[i]->heap_type, heap->heap_type) == 0)
                        return true;
        return false;
}

static bool heap_serves_allowed_domain(const struct core_constraints *a, const struct core_heap *heap) {
        return (heap->cpu_supported && a->cpu_domain_supported) || (heap->ram_supported && a->ram_domain_supported) ||
               (heap->inaccessible_supported && a->inaccessible_domain_supported);
}

static const struct core_heap *find_heap(const struct core_heap *heaps, size_t heap_count, const char *heap_type,
                                         uint64_t id) {
        for (size_t i = 0; i < heap_count; i++)
                if (heaps[i].id == id && strcmp(heaps[i].heap_type, heap_type) == 0)
                        return &heaps[i];
        return NULL;
}

/*
 * A secure heap only where secure memory was asked for: is_secure would otherwise be false for memory no
 * CPU and perhaps no non-secure device can touch.
 */
static bool heap_is_fallback_candidate(const struct core_constraints *a, const struct core_heap *heap) {
        return !heap->secure && (!a->physically_contiguous_required || heap->contiguous_capable) &&
               heap_serves_allowed_domain(a, heap);
}

static void append_allowed_domains(struct core_text *t, const struct core_constraints *a) {
        const char *sep = "";
        if (a->cpu_domain_supported) {
                core_text_appendf(t, "cpu");
                sep = ", ";
        }
        if (a->ram_domain_supported) {
                core_text_appendf(t, "%sram", sep);
                sep = ", ";
        }
        if (a->inaccessible_domain_supported) {
                core_text_appendf(t, "%sinaccessible", sep);
                sep = ", ";
        }
        if (!*sep)
                core_text_appendf(t, "none");
}

static void append_permitted_restriction(struct core_text *t, const struct core_accumulator *acc,
                                         const struct core_participant *participants) {
        if (acc->heaps_from == CORE_NOBODY)
                return;
        core_text_appendf(t, "; buffer_memory_constraints.permitted_heaps (restricted by %s",
                          core_label(participants, acc->heaps_from).text);
        if (acc->heaps_restrict_count > 1)
                core_text_appendf(t, " and %zu other%s", acc->heaps_restrict_count - 1,
                                  acc->heaps_restrict_count > 2 ? "s" : "");
        core_text_appendf(t, ") permit only ");
        for (uint32_t i = 0; i < acc->c.permitted_heap_count; i++)
                core_text_appendf(t, "%s'%s' id %" PRIu64, i > 0 ? ", " : "", acc->c.permitted_heaps[i]->heap_type,
                                  acc->c.permitted_heaps[i]->id);
}

static void append_contiguous_restriction(struct core_text *t, const struct core_accumulator *acc,
                                          const struct core_participant *participants) {
        if (!acc->c.physically_contiguous_required)
                return;
        core_text_appendf(t,
                          "; buffer_memory_constraints.physically_contiguous_required (from %s) needs a "
                          "contiguous-capable heap",
                          core_label(participants, acc->contiguous_from).text);
}

static void append_registered(struct core_text *t, const struct core_heap *heaps, size_t heap_count, bool secure) {
        size_t listed = 0;
        core_text_appendf(t, "; registered %sheaps: ", secure ? "secure " : "");
        for (size_t i = 0; i < heap_count; i++) {
                if (secure && !heaps[i].secure)
                        continue;
                const struct core_heap *h = &heaps[i];
                core_text_appendf(t, "%s'%s' id %" PRIu64 "%s", listed > 0 ? ", " : "", h->heap_type, h->id,
                                  h->secure && h->contiguous_capable ? " (secure, contiguous)"
                                  : h->secure                        ? " (secure)"
                                  : h->contiguous_capable            ? " (contiguous)"
                                                                     : "");
                listed++;
        }
        if (listed == 0)
                core_text_appendf(t, "none");
}

static int choose_secure_heap(const struct core_accumulator *acc, const struct core_participant *participants,
                              const struct core_heap *heaps, size_t heap_count, const struct core_heap **ret,
                              struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;
        const struct core_heap *best = NULL;

        /* Lowest heap_type wins, as in Fuchsia; contiguity is checked too because is_physically_contiguous
         * promises it. */
        for (size_t i = 0; i < heap_count; i++) {
                const struct core_heap *h = &heaps[i];
                if (!h->secure || !heap_permitted(a, h) ||
                    (a->physically_contiguous_required && !h->contiguous_capable))
                        continue;
                if (!best || strcmp(h->heap_type, best->heap_type) < 0)
                        best = h;
        }
        if (best) {
                *ret = best;
                return 0;
        }

        struct core_text t;
        core_fail_begin(failure, &t);
        core_text_appendf(&t, "buffer_memory_constraints.secure_required (from %s), but no registered secure heap fits",
                          core_label(participants, acc->secure_from).text);
        append_permitted_restriction(&t, acc, participants);
        append_contiguous_restriction(&t, acc, participants);
        append_registered(&t, heaps, heap_count, true);
        return -EINVAL;
}

static int choose_heap(const struct core_accumulator *acc, const struct core_participant *participants,
                       const struct core_heap *heaps, size_t heap_count, const struct core_heap **ret,
                       struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;

        if (a->secure_required)
                return choose_secure_heap(acc, participants, heaps, heap_count, ret, failure);

        /* system-ram is the usual answer; like Fuchsia, its coherency domains are not asked here. */
        const struct core_heap *h = find_heap(heaps, heap_count, SYSMEM_HEAP_SYSTEM_RAM, 0);
        if (h && !h->secure && heap_permitted(a, h) && (!a->physically_contiguous_required || h->contiguous_capable)) {
                *ret = h;
                return 0;
        }

        if (a->permitted_heap_count > 0) {
                for (uint32_t i = 0; i < a->permitted_heap_count; i++) {
                        h = find_heap(heaps, heap_count, a->permitted_heaps[i]->heap_type, a->permitted_heaps[i]->id);
                        if (h && heap_is_fallback_candidate(a, h)) {
                                *ret = h;
                                return 0;
                        }
                }
        } else {
                /* Any heap is permitted: registration order decides. */
                for (size_t i = 0; i < heap_count; i++)
                        if (heap_is_fallback_candidate(a, &heaps[i])) {
                                *ret = &heaps[i];
                                return 0;
                        }
        }

        struct core_text t;
        core_fail_begin(failure, &t);
        core_text_appendf(&t, "no registered heap fits: it must be non-secure and serve an allowed coherency domain (");
        append_allowed_domains(&t, a);
        core_text_appendf(&t, ")");
        append_permitted_restriction(&t, acc, participants);
        append_contiguous_restriction(&t, acc, participants);
        append_registered(&t, heaps, heap_count, false);
        return -EINVAL;
}

static void append_domain_reason(struct core_text *t, const struct core_participant *participants, const char *name,
                                 bool heap_supports, bool allowed, size_t off_from) {
        core_text_appendf(t, "%s: ", name);
        if (!heap_supports)
                core_text_appendf(t, "the heap lacks it");
        if (!heap_supports && !allowed)
                core_text_appendf(t, " and ");
        if (!allowed)
                core_text_appendf(t, "buffer_memory_constraints.%s_domain_supported is false (from %s)", name,
                                  core_label(participants, off_from).text);
}

static int choose_coherency_domain(const struct core_accumulator *acc, const struct core_participant *participants,
                                   const struct core_heap *heap, enum sysmem_coherency_domain *ret,
                                   struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;

        /* Display controllers are assumed not to snoop CPU caches; Fuchsia does not ask the heap here either. */
        if (a->usage.display != 0 && a->ram_domain_supported)
                *ret = SYSMEM_COHERENCY_DOMAIN_RAM;
        else if (heap->cpu_supported && a->cpu_domain_supported)
                *ret = SYSMEM_COHERENCY_DOMAIN_CPU;
        else if (heap->ram_supported && a->ram_domain_supported)
                *ret = SYSMEM_COHERENCY_DOMAIN_RAM;
        else if (heap->inaccessible_supported && a->inaccessible_domain_supported)
                *ret = SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE;
        else {
                struct core_text t;
                core_fail_begin(failure, &t);
                core_text_appendf(&t, "no coherency domain fits heap '%s' id %" PRIu64 ": ", heap->heap_type, heap->id);
                append_domain_reason(&t, participants, "cpu", heap->cpu_supported, a->cpu_domain_supported,
                                     acc->cpu_domain_off_from);
                core_text_appendf(&t, "; ");
                append_domain_reason(&t, participants, "ram", heap->ram_supported, a->ram_domain_supported,
                                     acc->ram_domain_off_from);
                core_text_appendf(&t, "; ");
                append_domain_reason(&t, participants, "inaccessible", heap->inaccessible_supported,
                                     a->inaccessible_domain_supported, acc->inaccessible_domain_off_from);
                return -EINVAL;
        }
        return 0;
}

/* ---- image format choice (§4.6, §5) ---- */

static bool usage_subset(const struct sysmem_usage *a, const struct sysmem_usage *b) {
        return (a->none & ~b->none) == 0 && (a->cpu & ~b->cpu) == 0 && (a->vulkan & ~b->vulkan) == 0 &&
               (a->display & ~b->display) == 0 && (a->video & ~b->video) == 0;
}

static int usage_bits(const struct sysmem_usage *u) {
        return __builtin_popcount(u->none) + __builtin_popcount(u->cpu) + __builtin_popcount(u->vulkan) +
               __builtin_popcount(u->display) + __builtin_popcount(u->video);
}

/* §5: the entries for this pair whose usage the aggregate has; the most specific wins, the later on a tie. */
static double format_cost(const struct core_config *config, const struct sysmem_usage *usage, uint32_t pixel_format,
                          uint64_t modifier) {
        double cost = DBL_MAX;
        int best_bits = -1;
        for (size_t i = 0; i < config->format_cost_count; i++) {
                const struct core_format_cost *k = &config->format_costs[i];
                if (k->pixel_format != pixel_format || k->pixel_format_modifier != modifier ||
                    !usage_subset(&k->usage, usage))
                        continue;
                int bits = usage_bits(&k->usage); /* a subset's bits are all shared */
                if (bits >= best_bits) {
                        best_bits = bits;
                        cost = k->cost;
                }
        }
        return cost;
}

/* Lower cost, then the smaller fourcc, then the smaller modifier; keys are unique, so this order is total. */
static int compare_formats(const struct core_ifc *a, double a_cost, const struct core_ifc *b, double b_cost) {
        if (a_cost != b_cost)
                return a_cost < b_cost ? -1 : 1;
        if (a->pixel_format != b->pixel_format)
                return a->pixel_format < b->pixel_format ? -1 : 1;
        if (a->pixel_format_modifier != b->pixel_format_modifier)
                return a->pixel_format_modifier < b->pixel_format_modifier ? -1 : 1;
        return 0;
}

/* Whether heap can hold entry e: a device-only pair needs a heap whose device lays it out. */
static bool heap_lays_out(const struct core_heap *heap, const struct core_ifc *e) {
        return !e->device_only || (heap->lays_out && heap->layout &&
                                   heap->lays_out(heap, e->pixel_format, e->pixel_format_modifier));
}

static bool entry_usable(const struct core_constraints *a, const struct core_ifc *e, const struct core_heap *heap) {
        return (!a->secure_required || image_format_modifier_secure_compatible(e->pixel_format_modifier)) &&
               heap_lays_out(heap, e);
}

static bool heap_holds_some_entry(const struct core_constraints *a, const struct core_heap *heap) {
        for (uint32_t i = 0; i < a->ifc_count; i++)
                if (entry_usable(a, &a->ifcs[i], heap))
                        return true;
        return false;
}

/*
 * When every image format left is a pair only a device lays out and the heap chosen by Fuchsia's rules
 * lays out none of them, the first other heap (in the order choose_heap tries them) that lays out one
 * does; an extension of Fuchsia's choice that only turns a failure into an allocation (docs/differences.md).
 */
static const struct core_heap *heap_for_device_pairs(const struct core_accumulator *acc, const struct core_heap *heaps,
                                                     size_t heap_count, const struct core_heap *chosen) {
        const struct core_constraints *a = &acc->c;
        if (a->ifc_count == 0 || heap_holds_some_entry(a, chosen))
                return chosen;
        size_t n = a->permitted_heap_count > 0 ? a->permitted_heap_count : heap_count;
        for (size_t i = 0; i < n; i++) {
                const struct core_heap *h =
                        a->permitted_heap_count > 0
                                ? find_heap(heaps, heap_count, a->permitted_heaps[i]->heap_type,
                                            a->permitted_heaps[i]->id)
                                : &heaps[i];
                if (!h || h == chosen || h->secure != a->secure_required ||
                    (a->physically_contiguous_required && !h->contiguous_capable) ||
                    !heap_serves_allowed_domain(a, h))
                        continue;
                if (heap_holds_some_entry(a, h))
                        return h;
        }
        return chosen;
}

static void append_unusable(struct core_text *t, const struct core_constraints *a, const struct core_heap *heap) {
        bool secure_any = false, device_any = false;
        for (uint32_t i = 0; i < a->ifc_count; i++) {
                const struct core_ifc *e = &a->ifcs[i];
                if (a->secure_required && !image_format_modifier_secure_compatible(e->pixel_format_modifier))
                        secure_any = true;
                else if (!heap_lays_out(heap, e))
                        device_any = true;
        }
        if (device_any) {
                core_text_appendf(t, "sysmem's image-format library cannot lay out ");
                const char *sep = "";
                for (uint32_t i = 0; i < a->ifc_count; i++) {
                        const struct core_ifc *e = &a->ifcs[i];
                        if (!e->device_only || heap_lays_out(heap, e))
                                continue;
                        core_text_appendf(t, "%s", sep);
                        core_append_key(t, e->pixel_format, e->pixel_format_modifier);
                        sep = ", ";
                }
                core_text_appendf(t, ", and neither does the device of heap '%s' id %" PRIu64
                                  " nor of any other heap that fits (only a device that lays a pair out can "
                                  "allocate it)",
                                  heap->heap_type, heap->id);
        }
        if (secure_any)
                core_text_appendf(t, "%sno image format left can be used with protected memory",
                                  device_any ? "; " : "");
}

static int choose_format(const struct core_accumulator *acc, const struct core_participant *participants,
                         const struct core_config *config, const struct core_heap *heap, const struct core_ifc **ret,
                         struct core_failure *failure) {
        const struct core_ifc *best = NULL;
        double best_cost = DBL_MAX;

        /*
         * While no participant named a pair only a device lays out, the device-only entries came from fan-out,
         * which Fuchsia drops silently: they are candidates only when no other entry is, so that Fuchsia's
         * choice stands wherever it would have succeeded. Once a participant named one (which Fuchsia fails),
         * every entry competes by cost.
         */
        for (int pass = acc->device_pair_named ? 1 : 0; pass < 2 && !best; pass++)
                for (uint32_t i = 0; i < acc->c.ifc_count; i++) {
                        const struct core_ifc *e = &acc->c.ifcs[i];
                        if ((pass == 0 && e->device_only) || !entry_usable(&acc->c, e, heap))
                                continue;
                        double cost = format_cost(config, &acc->c.usage, e->pixel_format, e->pixel_format_modifier);
                        if (!best || compare_formats(e, cost, best, best_cost) < 0) {
                                best = e;
                                best_cost = cost;
                        }
                }
        if (!best) {
                struct core_text t;
                core_fail_begin(failure, &t);
                core_text_appendf(&t, "no image format left fits heap '%s' id %" PRIu64 ": ", heap->heap_type,
                                  heap->id);
                append_unusable(&t, &acc->c, heap);
                if (acc->c.secure_required)
                        core_text_appendf(&t, " (buffer_memory_constraints.secure_required from %s)",
                                          core_label(participants, acc->secure_from).text);
                core_text_appendf(&t, "; formats left: ");
                core_append_ifc_keys(&t, acc->c.ifcs, acc->c.ifc_count, true);
                return -EINVAL;
        }
        *ret = best;
        return 0;
}

/* ---- sizes (§4.7) ---- */

/* Where size_bytes came from, for the messages about limits. */
struct size_origin {
        char text[512];
};

/* " from 'x'", or nothing when nobody set the value. */
static struct core_label from_word(const struct core_participant *participants, size_t index) {
        struct core_label label = core_from(participants, index);
        if (index != CORE_NOBODY) {
                /* " (from 'x')" -> " from 'x'" */
                size_t n = strlen(label.text);
                memmove(label.text + 1, label.text + 2, n - 2);
                label.text[n - 2] = 0;
        }
        return label;
}

/* "min_size from 'cam'", "required size 3840x2160 from 'enc'", or per axis when they differ. */
static void append_image_origin(struct core_text *t, const struct core_ifc *e, struct sysmem_size req,
                                const struct core_participant *participants, size_t participant_count) {
        bool w_req = req.width > e->min_size.width, h_req = req.height > e->min_size.height;
        size_t owner =
                w_req || h_req ? core_find_required_size_owner(participants, participant_count, req) : CORE_NOBODY;
        if (w_req && h_req) {
                core_text_appendf(t, "required size %" PRIu32 "x%" PRIu32 "%s", req.width, req.height,
                                  from_word(participants, owner).text);
                return;
        }
        if (!w_req && !h_req && e->from.min_width == e->from.min_height) {
                core_text_appendf(t, "min_size%s", from_word(participants, e->from.min_width).text);
                return;
        }
        if (w_req)
                core_text_appendf(t, "width of required size %" PRIu32 "x%" PRIu32 "%s", req.width, req.height,
                                  from_word(participants, owner).text);
        else
                core_text_appendf(t, "min_size.width%s", from_word(participants, e->from.min_width).text);
        if (h_req)
                core_text_appendf(t, ", height of required size %" PRIu32 "x%" PRIu32 "%s", req.width, req.height,
                                  from_word(participants, owner).text);
        else
                core_text_appendf(t, ", min_size.height%s", from_word(participants, e->from.min_height).text);
}

/* Starts "the (NV12, LINEAR) image of 1920x1080 (min_size from 'cam')". */
static void append_image(struct core_text *t, const struct core_ifc *e, struct sysmem_size size, struct sysmem_size req,
                         const struct core_participant *participants, size_t participant_count) {
        core_text_appendf(t, "the ");
        core_append_key(t, e->pixel_format, e->pixel_format_modifier);
        core_text_appendf(t, " image of %" PRIu32 "x%" PRIu32 " (", size.width, size.height);
        append_image_origin(t, e, req, participants, participant_count);
        core_text_appendf(t, ")");
}

static int image_fail(struct core_failure *failure, const struct core_ifc *e, struct sysmem_size size,
                      struct sysmem_size req, const struct core_participant *participants, size_t participant_count,
                      const char *fmt, ...) _printf_(7, 8);
static int image_fail(struct core_failure *failure, const struct core_ifc *e, struct sysmem_size size,
                      struct sysmem_size req, const struct core_participant *participants, size_t participant_count,
                      const char *fmt, ...) {
        struct core_text t;
        core_fail_begin(failure, &t);
        append_image(&t, e, size, req, participants, participant_count);
        va_list ap;
        va_start(ap, fmt);
        core_text_vappendf(&t, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/*
 * The smallest image that holds req (and min_size) under e, and its bytes (§4.7): aligned width and height,
 * the linear bytes_per_row, then ImageFormatImageSize. Fails with a message when a limit of e is exceeded.
 */
static int check_area(const struct core_ifc *e, struct sysmem_size size, struct sysmem_size req,
                      const struct core_participant *participants, size_t participant_count,
                      struct core_failure *failure) {
        uint64_t area = (uint64_t)size.width * size.height;
        if (area > UINT32_MAX || area > e->max_width_times_height)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " has %" PRIu64 " pixels, more than %s %" PRIu64 "%s", area,
                                  area > UINT32_MAX ? "32 bits can count, the limit" : "max_width_times_height",
                                  area > UINT32_MAX ? UINT32_MAX : e->max_width_times_height,
                                  area > UINT32_MAX ? ""
                                                    : core_from(participants, e->from.max_width_times_height).text);
        return 0;
}

/* A pair only the heap's device lays out: its bytes and row bytes come from the device, and must meet e's. */
static int device_image(const struct core_ifc *e, const struct core_heap *heap, const struct core_limits *limits,
                        struct sysmem_size size, struct sysmem_size req, const struct core_participant *participants,
                        size_t participant_count, uint32_t *ret_bpr, uint64_t *ret_bytes,
                        struct core_failure *failure) {
        uint64_t bytes = 0;
        uint32_t bpr = 0;
        int r = check_area(e, size, req, participants, participant_count, failure);
        if (r < 0)
                return r;
        /* The device makes a buffer to answer: never one past the per-buffer limit at a byte a pixel. */
        if ((uint64_t)size.width * size.height > limits->max_buffer_bytes)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " cannot fit the limit of %" PRIu64 " bytes per buffer even at one byte a pixel",
                                  limits->max_buffer_bytes);
        r = heap->layout(heap, e->pixel_format, e->pixel_format_modifier, size, &bytes, &bpr);
        if (r < 0 || bytes == 0)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " cannot be laid out by the device of heap '%s' id %" PRIu64 " (error %d)",
                                  heap->heap_type, heap->id, r < 0 ? -r : 0);
        if (bpr < e->min_bytes_per_row || bpr > e->max_bytes_per_row || bpr % e->bytes_per_row_divisor != 0)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " is laid out by the device of heap '%s' id %" PRIu64 " with bytes_per_row %" PRIu32
                                  ", outside min_bytes_per_row %" PRIu32 "%s, max_bytes_per_row %" PRIu32
                                  "%s or bytes_per_row_divisor %" PRIu32 "%s",
                                  heap->heap_type, heap->id, bpr, e->min_bytes_per_row,
                                  core_from(participants, e->from.min_bytes_per_row).text, e->max_bytes_per_row,
                                  core_from(participants, e->from.max_bytes_per_row).text, e->bytes_per_row_divisor,
                                  core_from(participants, e->from.bytes_per_row_divisor).text);
        *ret_bpr = bpr;
        *ret_bytes = bytes;
        return 0;
}

static int minimum_image(const struct core_ifc *e, const struct core_heap *heap, const struct core_limits *limits,
                         struct sysmem_size req,
                         const struct core_participant *participants, size_t participant_count,
                         struct sysmem_size *ret_size, uint32_t *ret_bpr, uint64_t *ret_bytes,
                         struct core_failure *failure) {
        const struct image_format_info *info = image_format_lookup(e->pixel_format);
        struct sysmem_size size;
        uint64_t w, h, bpr, bytes;

        if (!util_round_up_u64(MAX(e->min_size.width, req.width), e->size_alignment.width, &w) || w > UINT32_MAX ||
            !util_round_up_u64(MAX(e->min_size.height, req.height), e->size_alignment.height, &h) || h > UINT32_MAX) {
                size = (struct sysmem_size){MAX(e->min_size.width, req.width), MAX(e->min_size.height, req.height)};
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " cannot be aligned to size_alignment %" PRIu32 "x%" PRIu32 " within 32 bits",
                                  e->size_alignment.width, e->size_alignment.height);
        }
        size = (struct sysmem_size){(uint32_t)w, (uint32_t)h};
        if (size.width > e->max_size.width || size.height > e->max_size.height)
                return image_fail(
                        failure, e, size, req, participants, participant_count,
                        ", aligned to size_alignment %" PRIu32 "x%" PRIu32 ", exceeds max_size %" PRIu32 "x%" PRIu32
                        "%s",
                        e->size_alignment.width, e->size_alignment.height, e->max_size.width, e->max_size.height,
                        core_from(participants, size.width > e->max_size.width ? e->from.max_width : e->from.max_height)
                                .text);
        if (e->device_only) {
                int r = device_image(e, heap, limits, size, req, participants, participant_count, ret_bpr,
                                     ret_bytes, failure);
                if (r == 0)
                        *ret_size = size;
                return r;
        }
        bpr = (uint64_t)info->stride_bytes_per_width_pixel * size.width;
        if (bpr < e->min_bytes_per_row)
                bpr = e->min_bytes_per_row;
        if (!util_round_up_u64(bpr, e->bytes_per_row_divisor, &bpr) || bpr > UINT32_MAX)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " needs more than 32 bits of bytes_per_row");
        if (bpr > e->max_bytes_per_row)
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " needs bytes_per_row %" PRIu64 " (bytes_per_row_divisor %" PRIu32
                                  "), more than max_bytes_per_row %" PRIu32 "%s",
                                  bpr, e->bytes_per_row_divisor, e->max_bytes_per_row,
                                  core_from(participants, e->from.max_bytes_per_row).text);
        int r = check_area(e, size, req, participants, participant_count, failure);
        if (r < 0)
                return r;
        if (!image_format_image_size(e->pixel_format, e->pixel_format_modifier, size, (uint32_t)bpr, &bytes))
                return image_fail(failure, e, size, req, participants, participant_count,
                                  " with bytes_per_row %" PRIu64 " has a size beyond 64 bits", bpr);
        *ret_size = size;
        *ret_bpr = (uint32_t)bpr;
        *ret_bytes = bytes;
        return 0;
}

/*
 * The bytes a participant reading whole blocks of pad_for_block_size pixels can touch past an image that fits
 * size_bytes (the intent of Fuchsia's PaddedSizeFromBlockSize). The last block row of an image of height H can
 * reach AlignUp(H, pad.height) - 1, at most pad.height - 1 rows below the image, each at most R bytes long, and
 * the last block of a row up to pad.width - 1 pixels (of `stride` bytes) past the end of that row. R is the
 * largest bytes_per_row an image under e can have: from max_size.width (aligned) and the divisor, capped by
 * max_bytes_per_row and by size_bytes (one row of a fitting image cannot be longer than the buffer). So
 *     padding = (pad.height - 1) * R + (pad.width - 1) * stride.
 */
static bool block_padding(const struct core_ifc *e, uint64_t size_bytes, uint64_t *ret) {
        const struct image_format_info *info = image_format_lookup(e->pixel_format);
        /* A format only a device knows has no stride here: its rows are bounded by the other limits alone. */
        uint64_t stride = info ? info->stride_bytes_per_width_pixel : 0, row = UINT64_MAX, width, bytes;

        if (info && e->max_size.width != UINT32_MAX && util_round_up_u64(e->max_size.width, e->size_alignment.width, &width) &&
            !__builtin_mul_overflow(width, stride, &bytes) &&
            util_round_up_u64(MAX(bytes, e->min_bytes_per_row), e->bytes_per_row_divisor, &bytes))
                row = bytes;
        if (e->max_bytes_per_row != UINT32_MAX)
                row = MIN(row, (uint64_t)e->max_bytes_per_row);
        row = MIN(row, size_bytes);
        uint64_t vertical, horizontal = (uint64_t)(e->pad_for_block_size.width - 1) * stride;
        if (__builtin_mul_overflow((uint64_t)(e->pad_for_block_size.height - 1), row, &vertical) ||
            __builtin_add_overflow(vertical, horizontal, ret))
                return false;
        return true;
}

static int choose_sizes(const struct core_accumulator *acc, const struct core_participant *participants,
                        size_t participant_count, const struct core_limits *limits, const struct core_heap *heap,
                        uint32_t buffer_count, const struct core_ifc *chosen, struct core_result *ret,
                        struct core_failure *failure) {
        const struct core_constraints *a = &acc->c;
        uint64_t size = MAX(a->min_size_bytes, (uint64_t)1);
        struct size_origin origin;
        struct core_text o;
        uint64_t total, raw;
        int r;

        core_text_init(&o, origin.text, sizeof(origin.text));
        core_text_appendf(&o, "buffer_memory_constraints.min_size_bytes from %s",
                          core_label(participants, acc->min_size_from).text);

        /* The largest of the minimum images for every required size, or for min_size alone (§4.7). */
        if (chosen) {
                uint32_t n = MAX(chosen->required_max_size_count, 1u);
                for (uint32_t i = 0; i < n; i++) {
                        struct sysmem_size req = chosen->required_max_size_count ? chosen->required_max_size_list[i]
                                                                                 : (struct sysmem_size){0, 0};
                        struct sysmem_size image = {0, 0};
                        uint32_t bpr = 0;
                        uint64_t bytes = 0;
                        if ((r = minimum_image(chosen, heap, limits, req, participants, participant_count, &image,
                                               &bpr, &bytes, failure)) < 0)
                                return r;
                        if (i == 0 || (uint64_t)image.width * image.height >
                                              (uint64_t)ret->sizing_image.width * ret->sizing_image.height) {
                                ret->sizing_image = image; /* the shape a device heap lays the buffer out in */
                                ret->sizing_bytes_per_row = bpr;
                        }
                        if (bytes <= size)
                                continue;
                        if (bytes > a->max_size_bytes) {
                                struct core_text t;
                                core_fail_begin(failure, &t);
                                append_image(&t, chosen, image, req, participants, participant_count);
                                core_text_appendf(&t,
                                                  ", bytes_per_row %" PRIu32 ", needs %" PRIu64
                                                  " bytes, more than buffer_memory_constraints.max_size_bytes %" PRIu64
                                                  " (from %s)",
                                                  bpr, bytes, a->max_size_bytes,
                                                  core_label(participants, acc->max_size_from).text);
                                return -EINVAL;
                        }
                        size = bytes;
                        core_text_init(&o, origin.text, sizeof(origin.text));
                        append_image(&o, chosen, image, req, participants, participant_count);
                        core_text_appendf(&o, ", bytes_per_row %" PRIu32, bpr);
                }
        }

        /* Padding is room past the image, never part of size_bytes (§4.7); the limits apply to the padded size. */
        uint64_t padded = size;
        const char *what = "size_bytes";
        if (chosen && (chosen->pad_for_block_size.width > 1 || chosen->pad_for_block_size.height > 1 ||
                       chosen->pad_beyond_image_size_bytes > 0)) {
                uint64_t block = 0, beyond;
                if (!block_padding(chosen, size, &block) || __builtin_add_overflow(size, block, &block) ||
                    __builtin_add_overflow(size, chosen->pad_beyond_image_size_bytes, &beyond))
                        return core_fail(failure,
                                         "size_bytes %" PRIu64 " plus the padding for pad_for_block_size %" PRIu32
                                         "x%" PRIu32 " (from %s) and pad_beyond_image_size_bytes %" PRIu64
                                         " (from %s) exceeds 64 bits",
                                         size, chosen->pad_for_block_size.width, chosen->pad_for_block_size.height,
                                         core_label(participants, chosen->from.pad_width).text,
                                         chosen->pad_beyond_image_size_bytes,
                                         core_label(participants, chosen->from.pad_beyond).text);
                padded = MAX(block, beyond);
                if (padded > a->max_size_bytes)
                        return core_fail(failure,
                                         "size_bytes %" PRIu64 " (%s) padded to %" PRIu64 " (%s from %s) exceeds "
                                         "buffer_memory_constraints.max_size_bytes %" PRIu64 " (from %s)",
                                         size, origin.text, padded,
                                         block >= beyond ? "pad_for_block_size" : "pad_beyond_image_size_bytes",
                                         core_label(participants,
                                                    block >= beyond ? chosen->from.pad_width : chosen->from.pad_beyond)
                                                 .text,
                                         a->max_size_bytes, core_label(participants, acc->max_size_from).text);
                if (padded > size) {
                        char note[CORE_LABEL_SIZE + 64];
                        snprintf(note, sizeof(note), "; padded for %s from %s",
                                 block >= beyond ? "pad_for_block_size" : "pad_beyond_image_size_bytes",
                                 core_label(participants,
                                            block >= beyond ? chosen->from.pad_width : chosen->from.pad_beyond)
                                         .text);
                        core_text_appendf(&o, "%s", note);
                        what = "padded size";
                }
        }

        /* These limits exist to stop one client from making the daemon hold unbounded memory. */
        if (padded > limits->max_buffer_bytes)
                return core_fail(failure, "%s %" PRIu64 " (%s) exceeds the limit of %" PRIu64 " bytes per buffer", what,
                                 padded, origin.text, limits->max_buffer_bytes);
        if (__builtin_mul_overflow(padded, (uint64_t)buffer_count, &total))
                return core_fail(failure,
                                 "%s %" PRIu64 " (%s) x buffer count %" PRIu32 " overflows 64 bits, beyond the limit "
                                 "of %" PRIu64 " bytes per collection",
                                 what, padded, origin.text, buffer_count, limits->max_collection_bytes);
        if (total > limits->max_collection_bytes)
                return core_fail(failure,
                                 "%s %" PRIu64 " (%s) x buffer count %" PRIu32 " = %" PRIu64 " exceeds the limit of "
                                 "%" PRIu64 " bytes per collection",
                                 what, padded, origin.text, buffer_count, total, limits->max_collection_bytes);
        /* size_bytes stays exact; only the fd's size is a whole number of pages (§12 #4). */
        if (!util_round_up_u64(padded, limits->page_size, &raw))
                return core_fail(failure, "%s %" PRIu64 " (%s) cannot be rounded up to the page size %" PRIu64, what,
                                 padded, origin.text, limits->page_size);
        /* A heap with a limit of its own (udmabuf's size_limit_mb): an aggregation failure, so a group can try on. */
        if (heap->max_buffer_bytes && raw > heap->max_buffer_bytes)
                return core_fail(failure, "%s %" PRIu64 " (%s) exceeds heap '%s' id %" PRIu64 "'s limit of %" PRIu64
                                 " bytes per buffer", what, padded, origin.text, heap->heap_type, heap->id,
                                 heap->max_buffer_bytes);
        ret->settings.buffer_settings.size_bytes = size;
        ret->settings.buffer_settings.raw_vmo_size = raw;
        return 0;
}

int core_generate_settings(const struct core_accumulator *acc, const struct core_participant *participants,
                           size_t participant_count, const struct core_config *config, struct core_result *ret,
                           struct core_failure *failure) {
        const struct core_heap *heap = NULL;
        const struct core_ifc *chosen = NULL;
        enum sysmem_coherency_domain domain = SYSMEM_COHERENCY_DOMAIN_CPU;
        uint32_t buffer_count = 0;
        struct core_result result;
        int r;

        memset(&result, 0, sizeof(result));

        /* Fuchsia's order (§4), so the first failure reported is the one Fuchsia would report. */
        r = choose_buffer_count(acc, participants, participant_count, &config->limits, &buffer_count, failure);
        if (r < 0)
                return r;
        r = choose_heap(acc, participants, config->heaps, config->heap_count, &heap, failure);
        if (r < 0)
                return r;
        heap = heap_for_device_pairs(acc, config->heaps, config->heap_count, heap);
        r = choose_coherency_domain(acc, participants, heap, &domain, failure);
        if (r < 0)
                return r;
        if (acc->c.ifc_count > 0 && (r = choose_format(acc, participants, config, heap, &chosen, failure)) < 0)
                return r;
        r = choose_sizes(acc, participants, participant_count, &config->limits, heap, buffer_count, chosen, &result,
                         failure);
        if (r < 0)
                return r;

        result.buffer_count = buffer_count;
        struct sysmem_buffer_memory_settings *s = &result.settings.buffer_settings;
        s->is_physically_contiguous = acc->c.physically_contiguous_required;
        s->is_secure = acc->c.secure_required;
        s->coherency_domain = domain;
        util_strlcpy(s->heap.heap_type, heap->heap_type, sizeof(s->heap.heap_type));
        s->heap.id = heap->id;
        if (chosen) {
                /* The aggregated entry whole (§4.6, §12 gotcha 5), with its single colour space. */
                struct sysmem_image_format_settings *f = &result.settings.image_format_constraints;
                core_ifc_to_settings(chosen, (uint32_t)__builtin_ctz(chosen->color_spaces), f);
                const struct image_format_info *info = image_format_lookup(chosen->pixel_format);
                if (info && !info->has_alpha_or_x)
                        f->is_alpha_present = SYSMEM_UNSET;
                result.settings.has_image_format_constraints = true;
                result.device_layout = chosen->device_only;
        }

        *ret = result;
        return 0;
}
