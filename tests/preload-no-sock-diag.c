/*
 * preload-no-sock-diag.c: LD_PRELOAD shim for test-hostile: a kernel without NETLINK_SOCK_DIAG for Unix
 * sockets, as far as the process can tell (socket(AF_NETLINK, ..., NETLINK_SOCK_DIAG) fails).
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>

int socket(int domain, int type, int protocol) {
        static int (*real)(int, int, int);
        if (!real) {
                void *sym = dlsym(RTLD_NEXT, "socket");
                memcpy(&real, &sym, sizeof real); /* POSIX's way from dlsym's void * to a function pointer */
        }
        if (domain == AF_NETLINK && protocol == NETLINK_SOCK_DIAG) {
                errno = EPROTONOSUPPORT;
                return -1;
        }
        return real(domain, type, protocol);
}
