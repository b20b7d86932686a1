/* defaults.c: the heaps sysmemd starts with. */
#include "defaults.h"

const struct core_heap core_default_heaps[] = {
        {
                .heap_type = SYSMEM_HEAP_SYSTEM_RAM,
                .id = 0,
                .cpu_supported = true,
                .ram_supported = true,
                .inaccessible_supported = true,
                .secure = false,
                .contiguous_capable = false,
        },
};
const size_t core_default_heap_count = sizeof core_default_heaps / sizeof core_default_heaps[0];
