/* defaults.h: the heaps and limits sysmemd starts with; shared so offline negotiation matches the daemon. */
#ifndef SYSMEM_CORE_DEFAULTS_H
#define SYSMEM_CORE_DEFAULTS_H

#include <stddef.h>

#include "core.h"

#define CORE_DEFAULT_MAX_BUFFER_BYTES (256ull << 20)
#define CORE_DEFAULT_MAX_COLLECTION_BYTES (1ull << 30)

/* system-ram: memfds; CPU-, RAM- and inaccessible-domain capable; neither secure nor contiguous. */
extern const struct core_heap core_default_heaps[];
extern const size_t core_default_heap_count;

#endif
