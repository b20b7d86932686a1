/* util.c: arithmetic and fd helpers shared by the layers. */
#include "util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool util_round_up_u64(uint64_t v, uint64_t align, uint64_t *ret) {
        uint64_t rem = v % align;
        if (rem == 0) {
                *ret = v;
                return true;
        }
        if (v > UINT64_MAX - (align - rem))
                return false;
        *ret = v + (align - rem);
        return true;
}

uint64_t util_page_size(void) {
        static uint64_t page;
        if (page == 0) {
                long p = sysconf(_SC_PAGESIZE);
                page = p > 0 ? (uint64_t)p : 4096;
        }
        return page;
}

int util_count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the directory's own fd */
}

void util_strlcpy(char *dst, const char *src, size_t size) {
        if (size == 0)
                return;
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = 0;
}

uint64_t util_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool util_array_reserve(void **array, uint32_t *capacity, uint32_t want, size_t elem_size) {
        if (want <= *capacity)
                return true;
        uint64_t cap = *capacity ? *capacity : 2;
        while (cap < want)
                cap *= 2;
        if (cap > UINT32_MAX || cap > SIZE_MAX / elem_size)
                return false;
        void *grown = realloc(*array, (size_t)cap * elem_size);
        if (!grown)
                return false;
        *array = grown;
        *capacity = (uint32_t)cap;
        return true;
}
