/*
 * bench-heaps.c: sharing 8 x 1 MiB between two processes through sysmemd, per heap, against the same
 * backend's raw allocation by hand (memfd + seals, udmabuf, DMA_HEAP_IOCTL_ALLOC, dumb buffer + PRIME)
 * passed with SCM_RIGHTS. Both paths in the same run, alternating; prints medians and the paired ratio.
 * Usage: bench-heaps SYSMEMD [ITERATIONS]. Meant for the VM (scripts/vm-run.sh), where every backend exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <xf86drm.h>

#include <sysmem/sysmem.h>

#define COUNT 8u
#define SIZE (1u << 20)
#define WARMUP 3

struct cmd {
        char op; /* 'B' baseline fds follow, 'S' a token follows, 'Q' quit */
        char heap[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
};

static _Noreturn void fail(const char *what, int r) {
        fprintf(stderr, "bench-heaps: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int send_fds(int sock, const struct cmd *c, const int *fds, uint32_t n) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * COUNT)];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = (void *)c, .iov_len = sizeof *c};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (n) {
                memset(&u, 0, sizeof u);
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
        }
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int recv_fds(int sock, struct cmd *c, int *fds, uint32_t *n) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * COUNT)];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = c, .iov_len = sizeof *c};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0)
                return -EPIPE;
        *n = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_type == SCM_RIGHTS) {
                        *n = (uint32_t)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                        memcpy(fds, CMSG_DATA(cm), *n * sizeof(int));
                }
        return 0;
}

static void ack(int sock) {
        if (write(sock, "a", 1) != 1)
                exit(1);
}

static void wait_ack(int sock) {
        char c;
        if (read(sock, &c, 1) != 1 || c != 'a')
                fail("peer", EPIPE);
}

/* ---- the raw allocations, by hand: what sysmemd's heaps do, without the negotiation ---- */

static int raw_memfd(void) {
        int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, SIZE) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                fail("memfd", errno);
        return fd;
}

static int dev_fd = -1; /* the backend's device, opened once (sysmemd opens its devices once too) */

static int raw_udmabuf(void) {
        int m = raw_memfd();
        struct udmabuf_create c = {.memfd = (uint32_t)m, .flags = UDMABUF_FLAGS_CLOEXEC, .size = SIZE};
        int fd = ioctl(dev_fd, UDMABUF_CREATE, &c);
        if (fd < 0)
                fail("UDMABUF_CREATE", errno);
        close(m);
        return fd;
}

static int raw_dma_heap(void) {
        struct dma_heap_allocation_data d = {.len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC};
        if (ioctl(dev_fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
                fail("DMA_HEAP_IOCTL_ALLOC", errno);
        return (int)d.fd;
}

static int raw_drm(void) {
        struct drm_mode_create_dumb c = {.width = 1024, .height = SIZE / 4096, .bpp = 32};
        if (drmIoctl(dev_fd, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
                fail("CREATE_DUMB", errno);
        int fd;
        if (drmPrimeHandleToFD(dev_fd, c.handle, DRM_CLOEXEC | DRM_RDWR, &fd) < 0)
                fail("PRIME export", errno);
        struct drm_mode_destroy_dumb dd = {.handle = c.handle};
        drmIoctl(dev_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &dd);
        return fd;
}

static int (*raw_for(const struct sysmem_heap_info *h))(void) {
        if (dev_fd >= 0)
                close(dev_fd);
        dev_fd = -1;
        if (!strcmp(h->backend, "memfd"))
                return raw_memfd;
        if ((dev_fd = open(h->device, O_RDWR | O_CLOEXEC)) < 0 && (dev_fd = open(h->device, O_RDONLY | O_CLOEXEC)) < 0)
                fail(h->device, errno);
        if (!strcmp(h->backend, "udmabuf"))
                return raw_udmabuf;
        if (!strcmp(h->backend, "dma-heap"))
                return raw_dma_heap;
        if (!strcmp(h->backend, "drm")) {
                if (drmIsMaster(dev_fd))
                        drmDropMaster(dev_fd);
                return raw_drm;
        }
        return NULL;
}

/* ---- the peer ---- */

static void peer_sysmem(int sock, int token_fd, const char *heap_name) {
        struct sysmem_token *t;
        struct sysmem_collection *c;
        struct sysmem_collection_info *info;
        struct sysmem_heap heap = {0};
        snprintf(heap.heap_type, sizeof heap.heap_type, "%.128s", heap_name);
        struct sysmem_constraints k = {.usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                                       .buffer_memory_constraints = {.permitted_heap_count = 1,
                                                                     .permitted_heaps = &heap}};
        int r = sysmem_token_from_fd(token_fd, &t);
        if (r >= 0)
                r = sysmem_token_bind(t, &c);
        if (r >= 0 && (r = sysmem_collection_set_constraints(c, &k)) >= 0)
                r = sysmem_collection_wait_allocated(c, &info);
        if (r < 0)
                fail("peer allocation", r);
        for (uint32_t i = 0; i < info->buffer_count; i++) {
                struct stat st;
                if (fstat(info->buffers[i].fd, &st) < 0)
                        fail("peer fstat", errno);
        }
        ack(sock);
        sysmem_collection_info_free(info);
        sysmem_collection_release(c);
}

static int peer_main(int sock) {
        for (;;) {
                struct cmd c;
                int fds[COUNT];
                uint32_t n = 0;
                if (recv_fds(sock, &c, fds, &n) < 0 || c.op == 'Q')
                        return 0;
                if (c.op == 'S' && n == 1) {
                        peer_sysmem(sock, fds[0], c.heap);
                        continue;
                }
                for (uint32_t i = 0; i < n; i++) {
                        struct stat st;
                        if (fstat(fds[i], &st) < 0)
                                fail("peer fstat", errno);
                }
                ack(sock);
                for (uint32_t i = 0; i < n; i++)
                        close(fds[i]);
        }
}

/* ---- the timed exchanges ---- */

static uint64_t run_baseline(int sock, int (*raw)(void)) {
        int fds[COUNT];
        struct cmd c = {.op = 'B'};
        uint64_t t0 = now_ns();
        for (uint32_t i = 0; i < COUNT; i++)
                fds[i] = raw();
        if (send_fds(sock, &c, fds, COUNT) < 0)
                fail("sendmsg", errno);
        wait_ack(sock);
        uint64_t t = now_ns() - t0;
        for (uint32_t i = 0; i < COUNT; i++)
                close(fds[i]);
        return t;
}

static uint64_t run_sysmem(struct sysmem_allocator *a, int sock, const char *heap_name) {
        struct sysmem_token *root, *dup;
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        struct sysmem_heap heap = {0};
        snprintf(heap.heap_type, sizeof heap.heap_type, "%.128s", heap_name);
        const struct sysmem_constraints k = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                .min_buffer_count = COUNT,
                .max_buffer_count = COUNT,
                .buffer_memory_constraints = {.min_size_bytes = SIZE, .permitted_heap_count = 1, .permitted_heaps = &heap},
        };
        struct cmd c = {.op = 'S'};
        snprintf(c.heap, sizeof c.heap, "%.128s", heap_name);
        const uint32_t same = SYSMEM_RIGHTS_SAME;
        uint64_t t0 = now_ns();
        int r = sysmem_allocator_allocate_shared_with_duplicates(a, 1, &same, &root, &dup);
        if (r < 0)
                fail("allocate_shared_with_duplicates", r);
        int tfd = sysmem_token_to_fd(dup);
        if (send_fds(sock, &c, &tfd, 1) < 0)
                fail("sending the token", errno);
        close(tfd);
        if ((r = sysmem_token_bind(root, &coll)) < 0 || (r = sysmem_collection_set_constraints(coll, &k)) < 0 ||
            (r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                fail("allocation", r);
        wait_ack(sock);
        uint64_t t = now_ns() - t0;
        if (strcmp(info->settings.buffer_settings.heap.heap_type, heap_name) || info->buffer_count != COUNT)
                fail("unexpected allocation", EPROTO);
        sysmem_collection_info_free(info);
        sysmem_collection_release(coll);
        return t;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static double median_us(uint64_t *v, int n, double *p10, double *p90) {
        qsort(v, (size_t)n, sizeof *v, cmp_u64);
        if (p10)
                *p10 = (double)v[n / 10] / 1e3;
        if (p90)
                *p90 = (double)v[n * 9 / 10] / 1e3;
        return (double)v[n / 2] / 1e3;
}

static pid_t start_daemon(const char *sysmemd, const char *path) {
        pid_t pid = fork();
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", path, "--log-level", "error", (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                struct sysmem_allocator *a;
                if (sysmem_allocator_connect(path, &a) == 0) {
                        sysmem_allocator_free(a);
                        return pid;
                }
                usleep(10000);
        }
        fail("sysmemd did not start", ETIMEDOUT);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: bench-heaps SYSMEMD [ITERATIONS]\n");
                return 2;
        }
        int iters = argc > 2 ? atoi(argv[2]) : 30;
        if (iters < 10)
                iters = 10;
        setvbuf(stdout, NULL, _IOLBF, 0);
        char dir[] = "/tmp/sysmem-bench-XXXXXX", path[128];
        if (!mkdtemp(dir))
                fail("mkdtemp", errno);
        snprintf(path, sizeof path, "%s/socket", dir);
        pid_t daemon = start_daemon(argv[1], path);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                fail("socketpair", errno);
        pid_t peer = fork();
        if (peer == 0) {
                close(sv[0]);
                setenv("SYSMEM_SOCKET", path, 1);
                _exit(peer_main(sv[1]));
        }
        close(sv[1]);
        struct sysmem_allocator *a;
        int r = sysmem_allocator_connect(path, &a);
        if (r < 0)
                fail("connect", r);
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count;
        if ((r = sysmem_allocator_get_heaps(a, heaps, SYSMEM_MAX_HEAPS, &count)) < 0)
                fail("GetHeaps", r);
        uint64_t *b = calloc((size_t)iters, 8), *s = calloc((size_t)iters, 8), *q = calloc((size_t)iters, 8);
        if (!b || !s || !q)
                fail("calloc", ENOMEM);
        printf("bench-heaps: %u x %u KiB shared between two processes, %d iterations per heap after %d warm-up, "
               "raw and sysmem alternating\n\n",
               COUNT, SIZE >> 10, iters, WARMUP);
        printf("%-20s %12s %12s %12s %12s %10s %10s\n", "heap", "raw med us", "raw p10-p90", "sysmem med",
               "sysmem p10-p90", "medians", "paired");
        for (size_t h = 0; h < count && h < SYSMEM_MAX_HEAPS; h++) {
                int (*raw)(void) = raw_for(&heaps[h]);
                if (!raw)
                        continue;
                for (int i = -WARMUP; i < iters; i++) {
                        uint64_t tb = run_baseline(sv[0], raw);
                        uint64_t ts = run_sysmem(a, sv[0], heaps[h].heap.heap_type);
                        if (i >= 0) {
                                b[i] = tb;
                                s[i] = ts;
                                q[i] = ts * 1000 / (tb ? tb : 1);
                        }
                }
                double b10, b90, s10, s90;
                double bm = median_us(b, iters, &b10, &b90), sm = median_us(s, iters, &s10, &s90);
                double paired = median_us(q, iters, NULL, NULL); /* x1000 / 1e3 */
                printf("%-20s %12.1f %5.0f-%-6.0f %12.1f %5.0f-%-6.0f %9.2fx %9.2fx\n", heaps[h].heap.heap_type, bm,
                       b10, b90, sm, s10, s90, sm / bm, paired);
        }
        struct cmd qc = {.op = 'Q'};
        send_fds(sv[0], &qc, NULL, 0);
        waitpid(peer, NULL, 0);
        sysmem_allocator_free(a);
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
        unlink(path);
        rmdir(dir);
        return 0;
}
