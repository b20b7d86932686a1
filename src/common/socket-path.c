/* socket-path.c: the sysmem socket lookup order (socket-path.h) and connecting along it. */
#include "socket-path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int put(char out[][SOCKET_PATH_MAX], size_t capacity, size_t *n, const char *a, const char *b) {
        if (*n >= capacity)
                return 0;
        int k = snprintf(out[*n], SOCKET_PATH_MAX, "%s%s", a, b);
        if (k < 0 || k >= SOCKET_PATH_MAX)
                return -ENAMETOOLONG;
        (*n)++;
        return 0;
}

int socket_path_candidates(char out[][SOCKET_PATH_MAX], size_t capacity) {
        size_t n = 0;
        const char *e = getenv("SYSMEM_SOCKET");
        if (e && *e)
                return put(out, capacity, &n, e, "") < 0 ? -ENAMETOOLONG : (int)n;
        e = getenv("XDG_RUNTIME_DIR");
        if (e && *e && put(out, capacity, &n, e, "/" SOCKET_PATH_USER_NAME) < 0)
                return -ENAMETOOLONG;
        if (put(out, capacity, &n, SOCKET_PATH_SYSTEM, "") < 0)
                return -ENAMETOOLONG;
        return (int)n;
}

static int connect_one(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int socket_path_connect(const char *path, char used[SOCKET_PATH_MAX]) {
        if (path) {
                if (used)
                        snprintf(used, SOCKET_PATH_MAX, "%s", path);
                return connect_one(path);
        }
        char candidates[SOCKET_PATH_CANDIDATES][SOCKET_PATH_MAX];
        int n = socket_path_candidates(candidates, SOCKET_PATH_CANDIDATES);
        if (n < 0)
                return n;
        int r = -ENOENT;
        for (int i = 0; i < n; i++) {
                if (used)
                        memcpy(used, candidates[i], SOCKET_PATH_MAX);
                r = connect_one(candidates[i]);
                /* Nobody there (no file, or a stale one): the next candidate; any other error is the answer. */
                if (r >= 0 || (r != -ENOENT && r != -ECONNREFUSED))
                        return r;
        }
        return r;
}
