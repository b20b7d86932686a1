/* util.h: arithmetic and fd helpers shared by the layers. */
#ifndef SYSMEM_UTIL_H
#define SYSMEM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rounds v up to a multiple of align (align > 0); false on overflow. */
bool util_round_up_u64(uint64_t v, uint64_t align, uint64_t *ret);
uint64_t util_page_size(void);
/* Number of open fds of this process (for leak checks). */
int util_count_open_fds(void);
/* Copies src into dst (size bytes incl. NUL), truncating. */
void util_strlcpy(char *dst, const char *src, size_t size);
/*
 * Makes room for at least want elements of elem_size bytes in *array (capacity: what it has room for),
 * doubling from 2; false when out of memory (the array is left as it was).
 */
bool util_array_reserve(void **array, uint32_t *capacity, uint32_t want, size_t elem_size);
/* Monotonic clock in microseconds. */
uint64_t util_now_usec(void);

#endif
