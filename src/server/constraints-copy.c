/* constraints-copy.c: a node's own copy of the constraints a message carried, in one allocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server-internal.h"

/* Reserves n items of size sz from a bump region, keeping every item suitably aligned. */
static void *bump(uint8_t **cursor, size_t n, size_t sz) {
        uintptr_t p = ((uintptr_t)*cursor + 15u) & ~(uintptr_t)15u;
        *cursor = (uint8_t *)p + n * sz;
        return (void *)p;
}

static size_t ifc_bytes(const struct sysmem_image_format_constraints *f) {
        return 16 * 3 + f->pixel_format_and_modifier_count * sizeof(struct sysmem_pixel_format_and_modifier) +
               f->color_space_count * sizeof(uint32_t) + f->required_max_size_count * sizeof(struct sysmem_size);
}

int constraints_clone(const struct sysmem_constraints *src, struct sysmem_constraints **ret) {
        const struct sysmem_buffer_memory_constraints *m = &src->buffer_memory_constraints;
        if (m->permitted_heap_count > SYSMEM_MAX_PERMITTED_HEAPS ||
            src->image_format_constraint_count > SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS)
                return -E2BIG;
        size_t total = sizeof *src + 16 + m->permitted_heap_count * sizeof(struct sysmem_heap) + 16 +
                       src->image_format_constraint_count * sizeof(struct sysmem_image_format_constraints);
        for (uint32_t i = 0; i < src->image_format_constraint_count; i++)
                total += ifc_bytes(&src->image_format_constraints[i]);
        uint8_t *block = calloc(1, total + 16);
        if (!block)
                return -ENOMEM;
        uint8_t *cur = block;
        struct sysmem_constraints *c = bump(&cur, 1, sizeof *c);
        *c = *src;
        struct sysmem_heap *heaps = bump(&cur, m->permitted_heap_count, sizeof *heaps);
        if (m->permitted_heap_count)
                memcpy(heaps, m->permitted_heaps, m->permitted_heap_count * sizeof *heaps);
        c->buffer_memory_constraints.permitted_heaps = m->permitted_heap_count ? heaps : NULL;
        struct sysmem_image_format_constraints *ifcs =
                bump(&cur, src->image_format_constraint_count, sizeof *ifcs);
        for (uint32_t i = 0; i < src->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *s = &src->image_format_constraints[i];
                struct sysmem_image_format_constraints *d = &ifcs[i];
                *d = *s;
                d->pixel_format_and_modifiers = NULL;
                d->color_spaces = NULL;
                d->required_max_size_list = NULL;
                if (s->pixel_format_and_modifier_count)
                        d->pixel_format_and_modifiers =
                                memcpy(bump(&cur, s->pixel_format_and_modifier_count,
                                            sizeof *s->pixel_format_and_modifiers),
                                       s->pixel_format_and_modifiers,
                                       s->pixel_format_and_modifier_count * sizeof *s->pixel_format_and_modifiers);
                if (s->color_space_count)
                        d->color_spaces = memcpy(bump(&cur, s->color_space_count, sizeof *s->color_spaces),
                                                 s->color_spaces, s->color_space_count * sizeof *s->color_spaces);
                if (s->required_max_size_count)
                        d->required_max_size_list = memcpy(
                                bump(&cur, s->required_max_size_count, sizeof *s->required_max_size_list),
                                s->required_max_size_list, s->required_max_size_count * sizeof *s->required_max_size_list);
        }
        c->image_format_constraints = src->image_format_constraint_count ? ifcs : NULL;
        *ret = c;
        return 0;
}
