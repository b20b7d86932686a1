/*
 * devices.c: the device-constraints object (get, free, explain), the (format, modifier) pairs to
 * image-format entries step every device kind shares, heap selection, and the IN_FORMATS blob parser.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <drm_mode.h>
#include <xf86drm.h>

#include "core/image-format.h"
#include "devices/devices-internal.h"

struct sysmem_device_constraints *dev_new(void) {
        struct sysmem_device_constraints *dc = calloc(1, sizeof *dc);
        if (!dc)
                return NULL;
        dc->explain = calloc(1, 256);
        if (!dc->explain) {
                free(dc);
                return NULL;
        }
        dc->explain_cap = 256;
        dc->c.image_format_constraints = dc->ifc;
        dc->c.buffer_memory_constraints.permitted_heaps = dc->heaps;
        return dc;
}

SYSMEM_EXPORT struct sysmem_constraints *sysmem_device_constraints_get(struct sysmem_device_constraints *dc) {
        /* The caller may have changed scalars; the arrays are put back where they belong. */
        dc->c.image_format_constraints = dc->ifc;
        dc->c.buffer_memory_constraints.permitted_heaps = dc->heaps;
        return &dc->c;
}

SYSMEM_EXPORT void sysmem_device_constraints_free(struct sysmem_device_constraints *dc) {
        if (!dc)
                return;
        free(dc->explain);
        free(dc);
}

SYSMEM_EXPORT const char *sysmem_device_constraints_explain(const struct sysmem_device_constraints *dc) {
        return dc->explain;
}

void dev_explain(struct sysmem_device_constraints *dc, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                dc->oom = true;
                return;
        }
        size_t need = dc->explain_len + (size_t)n + 2;
        if (need > dc->explain_cap) {
                size_t cap = MAX(need, dc->explain_cap * 2);
                char *p = realloc(dc->explain, cap);
                if (!p) {
                        dc->oom = true;
                        return;
                }
                dc->explain = p;
                dc->explain_cap = cap;
        }
        va_start(ap, fmt);
        vsnprintf(dc->explain + dc->explain_len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        dc->explain_len += (size_t)n;
        dc->explain[dc->explain_len++] = '\n';
        dc->explain[dc->explain_len] = '\0';
}

const char *dev_format_name(uint32_t fourcc, char *buf, size_t size) {
        char *name = drmGetFormatName(fourcc);
        bool printable = name && name[0];
        for (const char *c = name; printable && *c; c++)
                printable = *c > ' ' && *c < 0x7f;
        if (printable)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "0x%08x", fourcc);
        free(name);
        return buf;
}

const char *dev_modifier_name(uint64_t modifier, char *buf, size_t size) {
        char *name = drmGetFormatModifierName(modifier);
        char *vendor = drmGetFormatModifierVendor(modifier);
        if (name && vendor && strcmp(vendor, "NONE") != 0)
                snprintf(buf, size, "%s:%s (0x%016llx)", vendor, name, (unsigned long long)modifier);
        else if (name)
                snprintf(buf, size, "%s (0x%016llx)", name, (unsigned long long)modifier);
        else
                snprintf(buf, size, "unknown 0x%016llx", (unsigned long long)modifier);
        free(name);
        free(vendor);
        return buf;
}

uint32_t dev_color_spaces_for(uint32_t fourcc, uint32_t *out, uint32_t cap) {
        /* In the core's order of preference (image_format_color_space_rank()). */
        static const uint32_t candidates[] = {
                SYSMEM_COLOR_SPACE_SRGB,           SYSMEM_COLOR_SPACE_REC2100,
                SYSMEM_COLOR_SPACE_REC2020,        SYSMEM_COLOR_SPACE_REC709,
                SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE, SYSMEM_COLOR_SPACE_REC601_PAL,
                SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE, SYSMEM_COLOR_SPACE_REC601_NTSC,
        };
        uint32_t n = 0;
        for (size_t i = 0; i < ARRAY_LEN(candidates) && n < cap; i++)
                if (image_format_color_space_supported(fourcc, candidates[i]))
                        out[n++] = candidates[i];
        if (n == 0 && cap > 0)
                out[n++] = SYSMEM_COLOR_SPACE_PASSTHROUGH;
        return n;
}

void dev_set_color_spaces(struct sysmem_device_constraints *dc, uint32_t entry, const uint32_t *cs, uint32_t n) {
        n = MIN(n, DEV_MAX_ENTRY_COLOR_SPACES);
        memcpy(dc->color_spaces[entry], cs, n * sizeof *cs);
        dc->ifc[entry].color_spaces = dc->color_spaces[entry];
        dc->ifc[entry].color_space_count = n;
}

/* The number of entries one format per entry takes (each split at SYSMEM_MAX_FORMAT_PAIRS). */
static size_t entries_unpacked(const struct dev_pair_list *list) {
        size_t entries = 0, run = 0;
        for (size_t i = 0; i < list->count; i++) {
                bool new_format = i == 0 || list->pairs[i].pixel_format != list->pairs[i - 1].pixel_format;
                if (new_format || run == SYSMEM_MAX_FORMAT_PAIRS) {
                        entries++;
                        run = 0;
                }
                run++;
        }
        return entries;
}

static bool same_color_spaces(const struct sysmem_image_format_constraints *e, const uint32_t *cs, uint32_t n) {
        return e->color_space_count == n && !memcmp(e->color_spaces, cs, n * sizeof *cs);
}

/* The entry a pair goes to: the last one of its format (unpacked) or of its colour spaces (packed). */
static int entry_for(struct sysmem_device_constraints *dc, const struct sysmem_pixel_format_and_modifier *p,
                     bool new_format, bool packed, const uint32_t *cs, uint32_t ncs) {
        uint32_t n = dc->c.image_format_constraint_count;
        if (packed) {
                for (uint32_t e = n; e-- > 0;)
                        if (same_color_spaces(&dc->ifc[e], cs, ncs) &&
                            dc->ifc[e].pixel_format_and_modifier_count < SYSMEM_MAX_FORMAT_PAIRS)
                                return (int)e;
        } else if (!new_format && n > 0 && dc->ifc[n - 1].pixel_format_and_modifier_count < SYSMEM_MAX_FORMAT_PAIRS) {
                return (int)n - 1;
        }
        if (n == SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS)
                return -EINVAL;
        memset(&dc->ifc[n], 0, sizeof dc->ifc[n]);
        dc->ifc[n].pixel_format_and_modifiers = dc->pairs[n];
        dev_set_color_spaces(dc, n, cs, ncs);
        (void)p;
        dc->c.image_format_constraint_count = n + 1;
        return (int)n;
}

/* One line per format: its name, how many modifiers, each named. */
static void explain_format(struct sysmem_device_constraints *dc, const struct sysmem_pixel_format_and_modifier *p,
                           size_t n) {
        char fname[64];
        size_t cap = 128 + n * 160, len;
        char *line = malloc(cap);
        if (!line) {
                dc->oom = true;
                return;
        }
        len = (size_t)snprintf(line, cap, "format %s (0x%08x): %zu modifier%s:", dev_format_name(p->pixel_format, fname, sizeof fname),
                               p->pixel_format, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n && len < cap; i++) {
                char mname[160];
                len += (size_t)snprintf(line + len, cap - len, "%s %s", i ? "," : "",
                                        dev_modifier_name(p[i].pixel_format_modifier, mname, sizeof mname));
        }
        if (!image_format_lookup(p->pixel_format))
                dev_explain(dc, "%s; sysmem does not know this format: colour space PASSTHROUGH", line);
        else
                dev_explain(dc, "%s", line);
        free(line);
}

static int add_pairs(struct sysmem_device_constraints *dc, const struct dev_pair_list *list, bool packed) {
        dc->c.image_format_constraint_count = 0;
        uint32_t cs[DEV_MAX_ENTRY_COLOR_SPACES], ncs = 0;
        for (size_t i = 0; i < list->count; i++) {
                const struct sysmem_pixel_format_and_modifier *p = &list->pairs[i];
                bool new_format = i == 0 || p->pixel_format != list->pairs[i - 1].pixel_format;
                if (new_format)
                        ncs = dev_color_spaces_for(p->pixel_format, cs, ARRAY_LEN(cs));
                int e = entry_for(dc, p, new_format, packed, cs, ncs);
                if (e < 0)
                        return e;
                struct sysmem_image_format_constraints *ifc = &dc->ifc[e];
                dc->pairs[e][ifc->pixel_format_and_modifier_count++] = *p;
        }
        return 0;
}

int dev_add_pairs(struct sysmem_device_constraints *dc, const struct dev_pair_list *list) {
        if (list->count > DEV_MAX_PAIRS) {
                dev_explain(dc, "%zu (format, modifier) pairs: more than %u entries of %u fit", list->count,
                            SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS, SYSMEM_MAX_FORMAT_PAIRS);
                return -EINVAL;
        }
        bool packed = entries_unpacked(list) > SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS;
        int r = add_pairs(dc, list, packed);
        if (r < 0) {
                dev_explain(dc, "%zu (format, modifier) pairs do not fit %u entries, even packed by colour space",
                            list->count, SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS);
                return r;
        }
        for (size_t i = 0, j; i < list->count; i = j) {
                for (j = i + 1; j < list->count && list->pairs[j].pixel_format == list->pairs[i].pixel_format; j++)
                        ;
                explain_format(dc, &list->pairs[i], j - i);
        }
        if (packed)
                dev_explain(dc, "more formats than %u entries: formats of the same colour spaces share entries "
                                "(%u entries)",
                            SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS, dc->c.image_format_constraint_count);
        return 0;
}

bool dev_permit_heap(struct sysmem_device_constraints *dc, const char *heap_type, uint64_t id) {
        struct sysmem_buffer_memory_constraints *bmc = &dc->c.buffer_memory_constraints;
        for (uint32_t i = 0; i < bmc->permitted_heap_count; i++)
                if (dc->heaps[i].id == id && !strcmp(dc->heaps[i].heap_type, heap_type))
                        return true;
        if (bmc->permitted_heap_count == SYSMEM_MAX_PERMITTED_HEAPS)
                return false;
        if (strlen(heap_type) >= sizeof dc->heaps[0].heap_type)
                return false; /* no heap has such a name */
        struct sysmem_heap *h = &dc->heaps[bmc->permitted_heap_count++];
        memcpy(h->heap_type, heap_type, strlen(heap_type) + 1);
        h->id = id;
        return true;
}

int dev_get_heaps(struct sysmem_device_constraints *dc, struct sysmem_allocator *allocator,
                  struct sysmem_heap_info *heaps, size_t *ret_count) {
        size_t count = 0;
        int r = sysmem_allocator_get_heaps(allocator, heaps, SYSMEM_MAX_HEAPS, &count);
        if (r < 0) {
                dev_explain(dc, "the daemon's heaps: %s", strerror(-r));
                return r;
        }
        *ret_count = MIN(count, (size_t)SYSMEM_MAX_HEAPS);
        return 0;
}

int dev_permit_dma_buf_heaps(struct sysmem_device_constraints *dc, struct sysmem_allocator *allocator,
                             const char *who) {
        if (!allocator) {
                dev_explain(dc, "heaps: any (no allocator given to ask which heaps make dma-bufs)");
                return 0;
        }
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count;
        int r = dev_get_heaps(dc, allocator, heaps, &count);
        if (r < 0)
                return r;
        for (size_t i = 0; i < count; i++) {
                if (!(heaps[i].flags & SYSMEM_HEAP_FLAG_DMA_BUF)) {
                        dev_explain(dc, "heap %s id %llu: not permitted, its buffers are not dma-bufs",
                                    heaps[i].heap.heap_type, (unsigned long long)heaps[i].heap.id);
                        continue;
                }
                if (dev_permit_heap(dc, heaps[i].heap.heap_type, heaps[i].heap.id))
                        dev_explain(dc, "heap %s id %llu: permitted (%s imports dma-bufs)", heaps[i].heap.heap_type,
                                    (unsigned long long)heaps[i].heap.id, who);
        }
        if (dc->c.buffer_memory_constraints.permitted_heap_count == 0)
                dev_explain(dc, "the daemon has no dma-buf heap: no heap is permitted, so allocation will fail");
        return 0;
}

/* ---- IN_FORMATS ---- */

struct blob_view {
        const uint8_t *bytes;
        size_t size;
        struct drm_format_modifier_blob h;
};

/* Whether [offset, offset + count * elem) lies inside the blob (no overflow: all in 64 bits from 32-bit inputs). */
static bool in_blob(const struct blob_view *b, uint32_t offset, uint32_t count, size_t elem) {
        uint64_t end = (uint64_t)offset + (uint64_t)count * elem;
        return offset >= sizeof b->h && end <= b->size;
}

static int blob_check(struct blob_view *b, struct sysmem_device_constraints *dc) {
        if (b->size < sizeof b->h) {
                dev_explain(dc, "IN_FORMATS: %zu bytes, shorter than its %zu-byte header", b->size, sizeof b->h);
                return -EINVAL;
        }
        memcpy(&b->h, b->bytes, sizeof b->h);
        if (b->h.version != FORMAT_BLOB_CURRENT) {
                dev_explain(dc, "IN_FORMATS: version %u, only %u is known", b->h.version, FORMAT_BLOB_CURRENT);
                return -EINVAL;
        }
        if (!in_blob(b, b->h.formats_offset, b->h.count_formats, sizeof(uint32_t)) ||
            !in_blob(b, b->h.modifiers_offset, b->h.count_modifiers, sizeof(struct drm_format_modifier))) {
                dev_explain(dc, "IN_FORMATS: %u formats at %u or %u modifiers at %u lie outside its %zu bytes",
                            b->h.count_formats, b->h.formats_offset, b->h.count_modifiers, b->h.modifiers_offset,
                            b->size);
                return -EINVAL;
        }
        return 0;
}

static uint32_t blob_format(const struct blob_view *b, uint32_t i) {
        uint32_t f;
        memcpy(&f, b->bytes + b->h.formats_offset + (size_t)i * sizeof f, sizeof f);
        return f;
}

static struct drm_format_modifier blob_modifier(const struct blob_view *b, uint32_t i) {
        struct drm_format_modifier m;
        memcpy(&m, b->bytes + b->h.modifiers_offset + (size_t)i * sizeof m, sizeof m);
        return m;
}

/* Counts the pairs the blob lists; -EINVAL for a bit that names no format or too many pairs. */
static int blob_count_pairs(const struct blob_view *b, struct sysmem_device_constraints *dc, size_t *ret) {
        size_t n = 0;
        for (uint32_t i = 0; i < b->h.count_modifiers; i++) {
                struct drm_format_modifier m = blob_modifier(b, i);
                for (unsigned bit = 0; bit < 64; bit++) {
                        if (!(m.formats & (1ull << bit)))
                                continue;
                        if ((uint64_t)m.offset + bit >= b->h.count_formats) {
                                dev_explain(dc, "IN_FORMATS: modifier %u names format %llu of %u", i,
                                            (unsigned long long)m.offset + bit, b->h.count_formats);
                                return -EINVAL;
                        }
                        if (++n > DEV_MAX_PAIRS) {
                                dev_explain(dc, "IN_FORMATS: more than %u (format, modifier) pairs", DEV_MAX_PAIRS);
                                return -EINVAL;
                        }
                }
        }
        *ret = n;
        return 0;
}

static bool pair_seen(const struct sysmem_pixel_format_and_modifier *p, size_t n, uint32_t f, uint64_t m) {
        for (size_t i = 0; i < n; i++)
                if (p[i].pixel_format == f && p[i].pixel_format_modifier == m)
                        return true;
        return false;
}

/* A pair as the blob lists it: the first index of its fourcc (the group), and its place in the blob. */
struct raw_pair {
        uint32_t group;
        uint32_t order;
        uint64_t modifier;
};

static int raw_pair_cmp(const void *a, const void *b) {
        const struct raw_pair *x = a, *y = b;
        if (x->group != y->group)
                return x->group < y->group ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

static uint32_t first_index_of(const struct blob_view *b, uint32_t fi) {
        uint32_t f = blob_format(b, fi);
        for (uint32_t k = 0; k < fi; k++)
                if (blob_format(b, k) == f)
                        return k;
        return fi;
}

/* Every pair, grouped by format in the order the blob first lists each format; n is blob_count_pairs(). */
static int blob_collect(const struct blob_view *b, struct sysmem_device_constraints *dc, size_t n,
                        struct dev_pair_list *list) {
        struct raw_pair *raw = calloc(MAX(n, (size_t)1), sizeof *raw);
        bool *used = calloc(MAX(b->h.count_formats, 1u), sizeof *used);
        if (!raw || !used) {
                free(raw);
                free(used);
                return -ENOMEM;
        }
        size_t nraw = 0;
        for (uint32_t i = 0; i < b->h.count_modifiers; i++) {
                struct drm_format_modifier m = blob_modifier(b, i);
                for (unsigned bit = 0; bit < 64 && nraw < n; bit++) {
                        if (!(m.formats & (1ull << bit)))
                                continue;
                        raw[nraw] = (struct raw_pair){first_index_of(b, m.offset + bit), (uint32_t)nraw, m.modifier};
                        nraw++;
                }
        }
        qsort(raw, nraw, sizeof *raw, raw_pair_cmp);
        for (size_t i = 0, start = 0; i < nraw; i++) {
                uint32_t fourcc = blob_format(b, raw[i].group);
                if (i == 0 || raw[i].group != raw[i - 1].group)
                        start = list->count;
                if (fourcc == DRM_FORMAT_INVALID || raw[i].modifier == DRM_FORMAT_MOD_INVALID) {
                        dev_explain(dc, "IN_FORMATS: format index %u (0x%08x) with modifier 0x%016llx: dropped, "
                                        "INVALID", raw[i].group, fourcc, (unsigned long long)raw[i].modifier);
                        continue;
                }
                if (pair_seen(list->pairs + start, list->count - start, fourcc, raw[i].modifier))
                        continue;
                used[raw[i].group] = true;
                list->pairs[list->count++] = (struct sysmem_pixel_format_and_modifier){fourcc, raw[i].modifier};
        }
        for (uint32_t fi = 0; fi < b->h.count_formats; fi++) {
                char name[64];
                if (!used[fi] && first_index_of(b, fi) == fi)
                        dev_explain(dc, "format %s: no modifier listed: dropped",
                                    dev_format_name(blob_format(b, fi), name, sizeof name));
        }
        free(raw);
        free(used);
        return 0;
}

static int from_blob(struct sysmem_device_constraints *dc, const void *blob, size_t size) {
        struct blob_view b = {.bytes = blob, .size = size};
        int r = blob ? blob_check(&b, dc) : -EINVAL;
        if (r < 0)
                return r;
        if (b.h.count_formats > DEV_MAX_PAIRS) {
                dev_explain(dc, "IN_FORMATS: %u formats, more than %u fit", b.h.count_formats, DEV_MAX_PAIRS);
                return -EINVAL;
        }
        size_t n;
        r = blob_count_pairs(&b, dc, &n);
        if (r < 0)
                return r;
        struct dev_pair_list list = {.pairs = calloc(MAX(n, (size_t)1), sizeof *list.pairs)};
        if (!list.pairs)
                return -ENOMEM;
        r = blob_collect(&b, dc, n, &list);
        if (r == 0)
                r = list.count ? dev_add_pairs(dc, &list) : -ENOENT;
        if (r == -ENOENT)
                dev_explain(dc, "IN_FORMATS lists no usable (format, modifier) pair");
        free(list.pairs);
        return r;
}

int dev_from_in_formats(struct sysmem_device_constraints *dc, const void *blob, size_t size) {
        return from_blob(dc, blob, size);
}

SYSMEM_EXPORT int sysmem_device_constraints_from_in_formats(const void *blob, size_t size,
                                                            const struct sysmem_usage *usage,
                                                            struct sysmem_device_constraints **ret) {
        if (!ret)
                return -EINVAL;
        struct sysmem_device_constraints *dc = dev_new();
        if (!dc)
                return -ENOMEM;
        int r = from_blob(dc, blob, size);
        if (r == 0 && dc->oom)
                r = -ENOMEM;
        if (r < 0) {
                sysmem_device_constraints_free(dc);
                return r;
        }
        if (usage)
                dc->c.usage = *usage;
        *ret = dc;
        return 0;
}
