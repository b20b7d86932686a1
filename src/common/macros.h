/* macros.h: small helpers every layer uses: export marker, cleanup attributes, array length, min/max. */
#ifndef SYSMEM_MACROS_H
#define SYSMEM_MACROS_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define SYSMEM_EXPORT __attribute__((visibility("default")))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/* The struct of type that holds *ptr as its member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Closes *fd if it is open; for _cleanup_(closep). */
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void freep(void *p) { free(*(void **)p); }

/* Returns *fd and leaves -1 behind: ownership moves to the caller. */
static inline int take_fd(int *fd) {
        int r = *fd;
        *fd = -1;
        return r;
}
static inline void *take_ptr_(void **p) {
        void *r = *p;
        *p = NULL;
        return r;
}
#define TAKE_PTR(p) take_ptr_((void **)&(p))

#endif
