/*
 * test-contiguous.c: the test:contiguous heap, FOR TESTS ONLY. It declares itself physically contiguous
 * (SYSMEM_HEAP_FLAG_CONTIGUOUS) but its buffers are ordinary sealed memfds, exactly as system-ram's:
 * their pages are NOT physically contiguous. It exists so that the core's contiguity rules
 * (physically_contiguous_required) run end to end on machines without a CMA heap. It is registered only
 * when the selection names it exactly (sysmemd --test-heaps adds it); no wildcard ever matches it.
 */
#include <fcntl.h>

#include "common/log.h"
#include "heap.h"

static int test_contiguous_allocate(struct heap *heap, const struct heap_request *req, int *ret_fd) {
        return heap_memfd_create(req->size, req->name, F_SEAL_SEAL, ret_fd);
}

static const struct heap_ops test_contiguous_ops = {
        .version = HEAP_OPS_VERSION,
        .allocate = test_contiguous_allocate,
        .open_read_only = heap_memfd_open_read_only,
};

static void test_contiguous_probe(struct heap_probe *probe) {
        if (!probe->wanted(probe, HEAP_TEST_CONTIGUOUS))
                return;
        struct heap *h = heap_new(HEAP_TEST_CONTIGUOUS, 0, "test", "");
        if (!h)
                return;
        h->ops = &test_contiguous_ops;
        /* system-ram's flags, and the claim of contiguity the test heap exists to make. */
        h->info.flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN | SYSMEM_HEAP_FLAG_RAM_DOMAIN |
                        SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN | SYSMEM_HEAP_FLAG_ZEROED | SYSMEM_HEAP_FLAG_CPU_MAPPABLE |
                        SYSMEM_HEAP_FLAG_READ_ONLY_FDS | SYSMEM_HEAP_FLAG_CONTIGUOUS;
        if (probe->add(probe, h) == 0)
                log_warning("heap %s is enabled: it is FOR TESTS ONLY; it claims physical contiguity but its buffers "
                            "are memfds whose pages are NOT physically contiguous (no device may rely on them)",
                            HEAP_TEST_CONTIGUOUS);
}

const struct heap_backend heap_backend_test_contiguous = {.name = "test", .probe = test_contiguous_probe};
