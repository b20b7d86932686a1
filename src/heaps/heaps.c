/* heaps.c: the registry: which backends exist, which of their heaps a selection enables, lookup by name. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "heap.h"

/* Every backend, in the order their heaps are registered (and "any heap" is tried): adding one is a line here. */
static const struct heap_backend *const backends[] = {
        &heap_backend_memfd,
        &heap_backend_udmabuf,
        &heap_backend_dma_heap,
        &heap_backend_drm,
        /* Only when named exactly (heap.h); last, so that "any heap" reaches it after every real heap. */
        &heap_backend_test_contiguous,
};

#define MAX_PATTERNS 32u
#define MAX_PATTERN_LENGTH 160u

struct selection {
        char patterns[MAX_PATTERNS][MAX_PATTERN_LENGTH + 1];
        bool negative[MAX_PATTERNS];
        size_t count;
        bool any_positive;
};

static int parse_selection(const char *text, struct selection *sel, char *err, size_t err_size) {
        memset(sel, 0, sizeof *sel);
        if (!text || !*text)
                text = "*";
        for (const char *p = text; *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                bool neg = len > 0 && p[0] == '-';
                const char *pat = p + neg;
                size_t plen = len - neg;
                if (plen == 0) {
                        snprintf(err, err_size, "heap selection '%s': an empty entry", text);
                        return -EINVAL;
                }
                if (plen > MAX_PATTERN_LENGTH || sel->count == MAX_PATTERNS) {
                        snprintf(err, err_size, "heap selection '%s': at most %u entries of %u bytes", text,
                                 MAX_PATTERNS, MAX_PATTERN_LENGTH);
                        return -EINVAL;
                }
                memcpy(sel->patterns[sel->count], pat, plen);
                sel->negative[sel->count] = neg;
                /* A test heap's entry only adds that heap: "test:contiguous" alone keeps every other heap. */
                sel->any_positive |= !neg && strncmp(pat, HEAP_TEST_PREFIX, strlen(HEAP_TEST_PREFIX)) != 0;
                sel->count++;
                p += len + (end != NULL);
                if (end && !*p) {
                        snprintf(err, err_size, "heap selection '%s': an empty entry", text);
                        return -EINVAL;
                }
        }
        return 0;
}

static bool selection_wants(const struct selection *sel, const char *name) {
        bool test = strncmp(name, HEAP_TEST_PREFIX, strlen(HEAP_TEST_PREFIX)) == 0;
        bool wanted = !test && !sel->any_positive; /* only removals: everything else stays */
        for (size_t i = 0; i < sel->count; i++) {
                if (fnmatch(sel->patterns[i], name, 0) != 0)
                        continue;
                if (sel->negative[i])
                        return false;
                /* A test heap is never enabled by a wildcard ('*' included): only by its exact name. */
                if (!test || strcmp(sel->patterns[i], name) == 0)
                        wanted = true;
        }
        return wanted;
}

struct probe_ctx {
        const struct selection *sel;
        struct heap_set *set;
};

static bool probe_wanted(const struct heap_probe *probe, const char *name) {
        const struct probe_ctx *ctx = probe->ctx;
        return selection_wants(ctx->sel, name);
}

static void heap_destroy(struct heap *h) {
        if (!h)
                return;
        if (h->ops && h->ops->destroy)
                h->ops->destroy(h);
        if (h->fd >= 0)
                close(h->fd);
        free(h);
}

static int probe_add(struct heap_probe *probe, struct heap *heap) {
        struct probe_ctx *ctx = probe->ctx;
        if (ctx->set->count == HEAP_MAX || !heap->ops || heap->ops->version != HEAP_OPS_VERSION) {
                log_warning("heap %s: not registered (%s)", heap->info.heap.heap_type,
                            ctx->set->count == HEAP_MAX ? "too many heaps" : "wrong interface version");
                heap_destroy(heap);
                return -ENOSPC;
        }
        ctx->set->heaps[ctx->set->count++] = heap;
        char flags[160];
        heaps_describe_flags(heap->info.flags, flags, sizeof flags);
        log_debug("heap %s id %" PRIu64 " registered: %s%s%s", heap->info.heap.heap_type, heap->info.heap.id,
                  heap->info.device[0] ? heap->info.device : "", heap->info.device[0] ? ", " : "", flags);
        return 0;
}

struct heap *heap_new(const char *name, uint64_t id, const char *backend, const char *device) {
        struct heap *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->fd = -1;
        util_strlcpy(h->info.heap.heap_type, name, sizeof h->info.heap.heap_type);
        h->info.heap.id = id;
        util_strlcpy(h->info.backend, backend, sizeof h->info.backend);
        util_strlcpy(h->info.device, device, sizeof h->info.device);
        return h;
}

static bool has_wildcard(const char *p) { return strpbrk(p, "*?[") != NULL; }

int heaps_probe(const char *selection, struct heap_set *set, char *err, size_t err_size) {
        struct selection sel;
        int r = parse_selection(selection, &sel, err, err_size);
        if (r < 0)
                return r;
        memset(set, 0, sizeof *set);
        struct probe_ctx ctx = {.sel = &sel, .set = set};
        struct heap_probe probe = {.wanted = probe_wanted, .add = probe_add, .ctx = &ctx};
        for (size_t i = 0; i < ARRAY_LEN(backends); i++)
                backends[i]->probe(&probe);
        /* A heap asked for by its exact name that is not there is worth a word: the device may be missing. */
        for (size_t i = 0; i < sel.count; i++) {
                if (sel.negative[i] || has_wildcard(sel.patterns[i]))
                        continue;
                bool found = false;
                for (size_t j = 0; j < set->count && !found; j++)
                        found = strcmp(set->heaps[j]->info.heap.heap_type, sel.patterns[i]) == 0;
                if (!found)
                        log_warning("heap %s was asked for but this machine does not offer it", sel.patterns[i]);
        }
        if (set->count == 0)
                log_warning("no heap is enabled: every allocation will fail");
        return 0;
}

void heaps_free(struct heap_set *set) {
        for (size_t i = 0; i < set->count; i++)
                heap_destroy(set->heaps[i]);
        set->count = 0;
}

struct heap *heaps_find(const struct heap_set *set, const char *name, uint64_t id) {
        for (size_t i = 0; i < set->count; i++)
                if (set->heaps[i]->info.heap.id == id && strcmp(set->heaps[i]->info.heap.heap_type, name) == 0)
                        return set->heaps[i];
        return NULL;
}

void heaps_describe_flags(uint32_t flags, char *buf, size_t size) {
        static const struct {
                uint32_t flag;
                const char *word;
        } words[] = {
                {SYSMEM_HEAP_FLAG_CONTIGUOUS, "contiguous"},   {SYSMEM_HEAP_FLAG_SECURE, "secure"},
                {SYSMEM_HEAP_FLAG_ZEROED, "zeroed"},           {SYSMEM_HEAP_FLAG_CPU_MAPPABLE, "mappable"},
                {SYSMEM_HEAP_FLAG_DMA_BUF, "dma-buf"},         {SYSMEM_HEAP_FLAG_READ_ONLY_FDS, "read-only-fds"},
        };
        size_t n = (size_t)snprintf(buf, size, "domains %s%s%s%s", flags & SYSMEM_HEAP_FLAG_CPU_DOMAIN ? "cpu," : "",
                                    flags & SYSMEM_HEAP_FLAG_RAM_DOMAIN ? "ram," : "",
                                    flags & SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN ? "inaccessible," : "",
                                    flags & (SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN |
                                             SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN)
                                            ? ""
                                            : "none,");
        if (n < size && n > 0 && buf[n - 1] == ',')
                buf[--n] = '\0';
        for (size_t i = 0; i < ARRAY_LEN(words) && n < size; i++)
                if (flags & words[i].flag)
                        n += (size_t)snprintf(buf + n, size - n, " %s", words[i].word);
}

void heaps_log(const struct heap_set *set) {
        for (size_t i = 0; i < set->count; i++) {
                const struct sysmem_heap_info *in = &set->heaps[i]->info;
                char flags[160], limit[64] = "";
                heaps_describe_flags(in->flags, flags, sizeof flags);
                if (in->max_buffer_bytes)
                        snprintf(limit, sizeof limit, ", at most %" PRIu64 " bytes per buffer", in->max_buffer_bytes);
                log_info("heap %s id %" PRIu64 " (%s%s%s): %s%s", in->heap.heap_type, in->heap.id, in->backend,
                         in->device[0] ? " " : "", in->device, flags, limit);
        }
}
