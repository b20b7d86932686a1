/* allocate.c: when a (sub)tree is ready, which group children to try, and the search that allocates (a verdict). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/macros.h"
#include "common/util.h"
#include "server-internal.h"

/* At most this many group-child combinations are tried for one allocation (sysmem's limit). */
#define MAX_COMBINATIONS 64u

bool node_ready(const struct node *n) {
        if (n->orphaned)
                return true;
        switch (n->kind) {
        case NODE_TOKEN:
                return false; /* a live token must be bound or released first */
        case NODE_COLLECTION:
                return n->constraints_set;
        case NODE_GROUP:
                return n->children_present;
        }
        return false;
}

/*
 * The pruned subtree of r: r and every descendant reachable without entering another AttachToken
 * subtree, in breadth-first order (the order participants are folded in). Every child of every
 * group is included: all of them must be ready before any combination is tried.
 */
static size_t pruned_subtree(struct node *r, struct node **out, size_t cap) {
        size_t head = 0, tail = 0;
        out[tail++] = r;
        while (head < tail) {
                struct node *n = out[head++];
                list_for_each(ch, &n->children, struct node, sibling_link) {
                        if (ch->dead || ch->attach_root)
                                continue;
                        if (tail < cap)
                                out[tail++] = ch;
                }
        }
        return tail;
}

/* Groups of the pruned subtree in depth-first pre-order: group 0 has the highest priority. */
static void collect_groups(struct node *n, struct node *r, struct node **out, size_t *count, size_t cap) {
        if (n != r && (n->dead || n->attach_root))
                return;
        if (n->kind == NODE_GROUP && *count < cap)
                out[(*count)++] = n;
        list_for_each(ch, &n->children, struct node, sibling_link) collect_groups(ch, r, out, count, cap);
}

static struct node *group_child(struct node *g, uint32_t index) {
        uint32_t i = 0;
        list_for_each(ch, &g->children, struct node, sibling_link) {
                if (ch->dead)
                        continue;
                if (i++ == index)
                        return ch;
        }
        return NULL;
}

static uint32_t group_child_count(struct node *g) {
        uint32_t n = 0;
        list_for_each(ch, &g->children, struct node, sibling_link) n += !ch->dead;
        return n;
}

/* Marks the nodes of the pruned subtree that the current group selections make visible. */
static void mark_visible(struct node *n, struct node *r) {
        if (n != r && (n->dead || n->attach_root))
                return;
        n->visible = true;
        if (n->kind == NODE_GROUP) {
                struct node *ch = group_child(n, n->which_child);
                if (ch)
                        mark_visible(ch, r);
                return;
        }
        list_for_each(ch, &n->children, struct node, sibling_link) mark_visible(ch, r);
}

/* Moves to the next combination like an odometer over the visible groups; false when there is none. */
static bool next_combination(struct node **groups, size_t count) {
        for (size_t i = count; i-- > 0;) {
                struct node *g = groups[i];
                if (!g->visible)
                        continue; /* combinations differing only in hidden groups are the same */
                if (++g->which_child < group_child_count(g)) {
                        for (size_t j = i + 1; j < count; j++)
                                groups[j]->which_child = 0;
                        return true;
                }
                g->which_child = 0;
        }
        return false;
}

/* The existing allocation as a participant, so that a late joiner can only fit into it (§15.2). */
struct synthetic {
        struct sysmem_constraints constraints;
        struct sysmem_heap heap;
        struct sysmem_image_format_constraints ifc;
        uint32_t color_space;
};

static void make_synthetic(const struct collection *c, struct synthetic *s) {
        const struct sysmem_buffer_memory_settings *b = &c->result.settings.buffer_settings;
        memset(s, 0, sizeof *s);
        s->heap = b->heap;
        s->constraints.usage.none = SYSMEM_NONE_USAGE;
        s->constraints.min_buffer_count = c->result.buffer_count;
        s->constraints.max_buffer_count = c->result.buffer_count;
        struct sysmem_buffer_memory_constraints *m = &s->constraints.buffer_memory_constraints;
        m->min_size_bytes = b->size_bytes;
        m->max_size_bytes = b->size_bytes;
        m->physically_contiguous_required = b->is_physically_contiguous;
        m->secure_required = b->is_secure;
        m->cpu_domain_supported = b->coherency_domain == SYSMEM_COHERENCY_DOMAIN_CPU ? SYSMEM_TRUE : SYSMEM_FALSE;
        m->ram_domain_supported = b->coherency_domain == SYSMEM_COHERENCY_DOMAIN_RAM ? SYSMEM_TRUE : SYSMEM_FALSE;
        m->inaccessible_domain_supported =
                b->coherency_domain == SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE ? SYSMEM_TRUE : SYSMEM_FALSE;
        m->permitted_heap_count = 1;
        m->permitted_heaps = &s->heap;
        if (!c->result.settings.has_image_format_constraints)
                return;
        const struct sysmem_image_format_settings *f = &c->result.settings.image_format_constraints;
        s->color_space = f->color_space;
        s->ifc = (struct sysmem_image_format_constraints){
                .pixel_format = f->pixel_format,
                .has_pixel_format_modifier = true,
                .pixel_format_modifier = f->pixel_format_modifier,
                .color_space_count = 1,
                .color_spaces = &s->color_space,
                .min_size = f->min_size,
                .max_size = f->max_size,
                .min_bytes_per_row = f->min_bytes_per_row,
                .max_bytes_per_row = f->max_bytes_per_row,
                .max_width_times_height = f->max_width_times_height,
                .size_alignment = f->size_alignment,
                .display_rect_alignment = f->display_rect_alignment,
                .required_min_size = f->required_min_size,
                .required_max_size = f->required_max_size,
                .required_max_size_count = f->required_max_size_count,
                .required_max_size_list = f->required_max_size_list,
                .bytes_per_row_divisor = f->bytes_per_row_divisor,
                .start_offset_divisor = f->start_offset_divisor,
                .require_bytes_per_row_at_pixel_boundary = f->require_bytes_per_row_at_pixel_boundary,
                .is_alpha_present = f->is_alpha_present,
                .pad_for_block_size = f->pad_for_block_size,
                .pad_beyond_image_size_bytes = f->pad_beyond_image_size_bytes,
        };
        s->constraints.image_format_constraint_count = 1;
        s->constraints.image_format_constraints = &s->ifc;
}

static bool size_eq(struct sysmem_size a, struct sysmem_size b) { return a.width == b.width && a.height == b.height; }

/* Field by field (padding bytes carry nothing): what a late joiner must leave exactly as it was. */
static const char *settings_difference(const struct core_result *a, const struct core_result *b) {
        const struct sysmem_buffer_memory_settings *x = &a->settings.buffer_settings,
                                                   *y = &b->settings.buffer_settings;
        if (a->buffer_count != b->buffer_count)
                return "buffer count";
        if (x->size_bytes != y->size_bytes || x->raw_vmo_size != y->raw_vmo_size)
                return "buffer size";
        if (x->is_physically_contiguous != y->is_physically_contiguous || x->is_secure != y->is_secure)
                return "contiguity or security";
        if (x->coherency_domain != y->coherency_domain)
                return "coherency domain";
        if (strcmp(x->heap.heap_type, y->heap.heap_type) || x->heap.id != y->heap.id)
                return "heap";
        if (a->settings.has_image_format_constraints != b->settings.has_image_format_constraints)
                return "image format";
        if (!a->settings.has_image_format_constraints)
                return NULL;
        const struct sysmem_image_format_settings *f = &a->settings.image_format_constraints,
                                                  *g = &b->settings.image_format_constraints;
        if (f->pixel_format != g->pixel_format || f->pixel_format_modifier != g->pixel_format_modifier ||
            f->color_space != g->color_space)
                return "image format";
        if (!size_eq(f->min_size, g->min_size) || !size_eq(f->max_size, g->max_size) ||
            !size_eq(f->size_alignment, g->size_alignment) ||
            !size_eq(f->display_rect_alignment, g->display_rect_alignment) ||
            !size_eq(f->required_min_size, g->required_min_size) ||
            !size_eq(f->required_max_size, g->required_max_size) ||
            !size_eq(f->pad_for_block_size, g->pad_for_block_size) ||
            f->max_width_times_height != g->max_width_times_height)
                return "image size constraints";
        if (f->min_bytes_per_row != g->min_bytes_per_row || f->max_bytes_per_row != g->max_bytes_per_row ||
            f->bytes_per_row_divisor != g->bytes_per_row_divisor || f->start_offset_divisor != g->start_offset_divisor ||
            f->require_bytes_per_row_at_pixel_boundary != g->require_bytes_per_row_at_pixel_boundary)
                return "image stride constraints";
        if (f->is_alpha_present != g->is_alpha_present || f->pad_beyond_image_size_bytes != g->pad_beyond_image_size_bytes)
                return "image format details";
        if (f->required_max_size_count != g->required_max_size_count)
                return "required sizes";
        for (uint32_t i = 0; i < f->required_max_size_count; i++)
                if (!size_eq(f->required_max_size_list[i], g->required_max_size_list[i]))
                        return "required sizes";
        return NULL;
}

static void participant_of(struct node *n, struct core_participant *p) {
        p->constraints = n->constraints;
        p->debug_name = n->debug_name;
}

static bool counts_as_participant(const struct node *n) {
        return !n->dead && n->kind == NODE_COLLECTION && n->constraints_set;
}

static void log_verbose(struct collection *c, struct core_participant *parts, size_t np, const struct core_result *res,
                        const struct core_failure *fail) {
        if (!c->verbose)
                return;
        for (size_t i = 0; i < np; i++) {
                const struct sysmem_constraints *k = parts[i].constraints;
                if (!k) {
                        log_info("collection %llu: participant '%s': no constraints", (unsigned long long)c->id,
                                 parts[i].debug_name ? parts[i].debug_name : "?");
                        continue;
                }
                log_info("collection %llu: participant '%s': usage none %#x cpu %#x vulkan %#x display %#x video %#x, "
                         "camping %u, dedicated %u, shared %u, min %u, max %u, size %llu..%llu, %u image formats",
                         (unsigned long long)c->id, parts[i].debug_name ? parts[i].debug_name : "?", k->usage.none,
                         k->usage.cpu, k->usage.vulkan, k->usage.display, k->usage.video,
                         k->min_buffer_count_for_camping, k->min_buffer_count_for_dedicated_slack,
                         k->min_buffer_count_for_shared_slack, k->min_buffer_count, k->max_buffer_count,
                         (unsigned long long)k->buffer_memory_constraints.min_size_bytes,
                         (unsigned long long)k->buffer_memory_constraints.max_size_bytes,
                         k->image_format_constraint_count);
        }
        if (fail)
                log_info("collection %llu: attempt failed: %s", (unsigned long long)c->id, fail->message);
        else
                log_info("collection %llu: result: %u buffers of %llu bytes (%llu allocated), heap %s",
                         (unsigned long long)c->id, res->buffer_count,
                         (unsigned long long)res->settings.buffer_settings.size_bytes,
                         (unsigned long long)res->settings.buffer_settings.raw_vmo_size,
                         res->settings.buffer_settings.heap.heap_type);
}

/* What the heap is told: the size, and the image the size was computed for (a device heap lays it out). */
static struct heap_request heap_request_of(const struct collection *c, const char *name) {
        const struct sysmem_single_buffer_settings *st = &c->result.settings;
        struct heap_request req = {.size = st->buffer_settings.raw_vmo_size, .name = name};
        if (st->has_image_format_constraints) {
                req.has_image = true;
                req.pixel_format = st->image_format_constraints.pixel_format;
                req.pixel_format_modifier = st->image_format_constraints.pixel_format_modifier;
                req.width = c->result.sizing_image.width;
                req.height = c->result.sizing_image.height;
                req.bytes_per_row = c->result.sizing_bytes_per_row;
                req.device_layout = c->result.device_layout;
        }
        return req;
}

static int allocate_buffers(struct collection *c, char *err, size_t err_size) {
        struct server *s = c->server;
        const struct sysmem_buffer_memory_settings *bs = &c->result.settings.buffer_settings;
        uint64_t total = bs->raw_vmo_size * c->result.buffer_count;
        if (total > s->limits.max_total_bytes - MIN(s->total_bytes, s->limits.max_total_bytes)) {
                snprintf(err, err_size,
                         "%u buffers of %llu bytes would take the server past its limit of %llu bytes in all "
                         "collections (%llu in use)",
                         c->result.buffer_count, (unsigned long long)bs->raw_vmo_size,
                         (unsigned long long)s->limits.max_total_bytes, (unsigned long long)s->total_bytes);
                return -ENOMEM;
        }
        if (budget_check(s, c->owner.uid, BUDGET_BYTES, total, err, err_size) < 0)
                return -ENOMEM;
        struct heap *heap = heaps_find(&s->heaps, bs->heap.heap_type, bs->heap.id);
        if (!heap) {
                /* The core chooses among the registered heaps only: this is a daemon bug, not the client's. */
                snprintf(err, err_size, "heap '%s' id %llu is not registered", bs->heap.heap_type,
                         (unsigned long long)bs->heap.id);
                return -ENOENT;
        }
        struct buffer_slot *slots = calloc(c->result.buffer_count, sizeof *slots);
        if (!slots) {
                snprintf(err, err_size, "out of memory");
                return -ENOMEM;
        }
        for (uint32_t i = 0; i < c->result.buffer_count; i++) {
                char name[SYSMEM_MAX_NAME_LENGTH + 32];
                snprintf(name, sizeof name, "sysmem:%s:%u", c->has_name ? c->name : "", i);
                struct heap_request req = heap_request_of(c, name);
                slots[i].ro_fd = -1;
                int r = heap->ops->allocate(heap, &req, &slots[i].fd);
                if (r < 0) {
                        snprintf(err, err_size, "allocating buffer %u of %llu bytes from heap %s failed: %s", i,
                                 (unsigned long long)bs->raw_vmo_size, bs->heap.heap_type, strerror(-r));
                        for (uint32_t j = 0; j < i; j++)
                                close(slots[j].fd);
                        free(slots);
                        return r;
                }
        }
        c->heap = heap;
        c->buffers = slots;
        c->buffer_count = c->result.buffer_count;
        collection_defer_index(c);
        c->bytes_charged = total;
        s->total_bytes += total;
        budget_charge(s, c->owner.uid, BUDGET_BYTES, (int64_t)total);
        return 0;
}

/*
 * One combination: aggregate the visible participants (plus, for a late joiner, everyone already
 * allocated and the existing allocation) and, for the first allocation, allocate the memory.
 */
static enum attempt attempt_once(struct collection *c, struct node *r, struct node **pruned, size_t np_pruned,
                                 struct core_failure *fail) {
        struct server *s = c->server;
        bool late = c->state == COLLECTION_ALLOCATED;
        /* Scratch sized by the tree: a typical collection has a handful of nodes. */
        size_t cap = MIN((size_t)c->node_count, (size_t)ALLOCATE_MAX_TREE) + 1;
        struct core_participant *parts = calloc(cap + 1, sizeof *parts);
        if (!parts) {
                fail->error = SYSMEM_ERROR_NO_MEMORY;
                snprintf(fail->message, sizeof fail->message, "out of memory");
                return ATTEMPT_FATAL;
        }
        size_t np = 0;
        struct synthetic syn;
        if (late) {
                /* Everyone already allocated keeps counting: a late joiner gets only the headroom left. */
                struct node **all = calloc(cap, sizeof *all);
                if (!all) {
                        free(parts);
                        fail->error = SYSMEM_ERROR_NO_MEMORY;
                        snprintf(fail->message, sizeof fail->message, "out of memory");
                        return ATTEMPT_FATAL;
                }
                size_t n = 0, head = 0;
                all[n++] = c->root;
                while (head < n) {
                        struct node *x = all[head++];
                        list_for_each(ch, &x->children, struct node, sibling_link) if (!ch->dead && n < cap)
                                all[n++] = ch;
                }
                for (size_t i = 0; i < n; i++)
                        if (all[i]->allocated && counts_as_participant(all[i]))
                                participant_of(all[i], &parts[np++]);
                free(all);
        }
        for (size_t i = 0; i < np_pruned; i++)
                if (pruned[i]->visible && counts_as_participant(pruned[i]))
                        participant_of(pruned[i], &parts[np++]);
        if (late) {
                make_synthetic(c, &syn);
                parts[np].constraints = &syn.constraints;
                parts[np].debug_name = "the existing buffers";
                np++;
        }
        struct core_result res;
        memset(&res, 0, sizeof res);
        int rr = core_aggregate(parts, np, &s->core_config, &res, fail);
        log_verbose(c, parts, np, &res, rr < 0 ? fail : NULL);
        free(parts);
        if (rr < 0)
                return fail->error == SYSMEM_ERROR_NO_MEMORY ? ATTEMPT_FATAL : ATTEMPT_AGGREGATION_FAILED;
        if (late) {
                const char *diff = settings_difference(&c->result, &res);
                if (diff) {
                        fail->error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
                        snprintf(fail->message, sizeof fail->message,
                                 "the constraints of '%s' and the participants under it would change the %s of the "
                                 "buffers that already exist (%u buffers of %llu bytes)",
                                 node_display_name(r), diff, c->result.buffer_count,
                                 (unsigned long long)c->result.settings.buffer_settings.size_bytes);
                        return ATTEMPT_AGGREGATION_FAILED;
                }
                return ATTEMPT_OK;
        }
        c->result = res;
        char err[CORE_MESSAGE_SIZE];
        if (allocate_buffers(c, err, sizeof err) < 0) {
                fail->error = SYSMEM_ERROR_NO_MEMORY;
                util_strlcpy(fail->message, err, sizeof fail->message);
                return ATTEMPT_FATAL;
        }
        return ATTEMPT_OK;
}

/* Tries the combinations of group children in priority order: until one works, one fails fatally, or none is left. */
static void search_combinations(struct collection *c, struct node *r, struct node **pruned, size_t np,
                                struct node **groups, size_t ng, struct allocate_verdict *v) {
        for (size_t i = 0; i < ng; i++)
                groups[i]->which_child = 0;
        struct core_failure fail = {0};
        enum attempt result = ATTEMPT_AGGREGATION_FAILED;
        unsigned tried = 0;
        for (;;) {
                for (size_t i = 0; i < np; i++)
                        pruned[i]->visible = false;
                mark_visible(r, r);
                if (tried == MAX_COMBINATIONS) {
                        /* 64 failed and there is another: sysmem's TOO_MANY_GROUP_CHILD_COMBINATIONS. */
                        fail.error = SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS;
                        snprintf(fail.message, sizeof fail.message,
                                 "%u combinations of group children were tried and none worked; the limit is %u",
                                 tried, MAX_COMBINATIONS);
                        result = ATTEMPT_FATAL;
                        break;
                }
                struct core_failure this_fail = {0};
                result = attempt_once(c, r, pruned, np, &this_fail);
                tried++;
                if (result != ATTEMPT_AGGREGATION_FAILED) {
                        fail = this_fail;
                        break;
                }
                if (tried == 1 || ng == 0)
                        fail = this_fail; /* the first (highest-priority) combination explains best */
                if (!next_combination(groups, ng))
                        break;
        }
        v->result = result;
        v->tried = tried;
        if (result == ATTEMPT_OK)
                return;
        v->error = fail.error ? fail.error : SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
        if (result == ATTEMPT_AGGREGATION_FAILED)
                v->error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
        if (ng > 0 && result == ATTEMPT_AGGREGATION_FAILED && tried > 1)
                snprintf(v->message, sizeof v->message, "none of %u combinations of group children works; the "
                                                        "first: %s", tried, fail.message);
        else
                util_strlcpy(v->message, fail.message, sizeof v->message);
}

struct allocate_verdict allocate_subtree(struct collection *c, struct node *r) {
        struct allocate_verdict v = {.result = ATTEMPT_NOT_READY, .root = r, .late = c->state == COLLECTION_ALLOCATED};
        size_t cap = MIN((size_t)c->node_count, (size_t)ALLOCATE_MAX_TREE) + 1;
        struct node **pruned = calloc(cap, sizeof *pruned);
        struct node **groups = calloc(cap, sizeof *groups);
        if (!pruned || !groups) {
                free(pruned);
                free(groups);
                /* As when the memory for the buffers cannot be had: waiting would never end either. */
                v.result = ATTEMPT_FATAL;
                v.error = SYSMEM_ERROR_NO_MEMORY;
                util_strlcpy(v.message, "out of memory", sizeof v.message);
                return v;
        }
        size_t np = pruned_subtree(r, pruned, cap);
        bool ready = true;
        for (size_t i = 0; i < np && ready; i++)
                ready = node_ready(pruned[i]);
        if (ready) {
                size_t ng = 0;
                collect_groups(r, r, groups, &ng, cap);
                search_combinations(c, r, pruned, np, groups, ng, &v);
        }
        free(groups);
        if (v.result == ATTEMPT_OK) {
                v.pruned = pruned;
                v.pruned_count = np;
        } else {
                free(pruned);
        }
        return v;
}
