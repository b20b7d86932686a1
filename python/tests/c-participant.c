/*
 * c-participant.c: a C participant for the Python interop test (test_interop.py). Usage:
 *   c-participant SOCKET_FD
 * SOCKET_FD is a connected SOCK_SEQPACKET socket to the Python process. Over it:
 *   <- token fd (sysmem_send_fd)            binds it, sets CPU read+write constraints (camping 1), waits
 *   -> "allocated ID COUNT SIZE INODE0 HEAP [FOURCC MODIFIER W H PLANES OFF0 BPR0 OFF1 BPR1]"
 *   <- "check"                              checks buffer 0 holds the Python pattern, writes its own into buffer 1
 *   -> "checked MISMATCHES"
 *   <- "bye"                                releases the collection and exits 0
 * Any failure prints the reason and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

static void die(const char *what, int r, struct sysmem_collection *c) {
        fprintf(stderr, "c-participant: %s: %s", what, strerror(r < 0 ? -r : r));
        if (c)
                fprintf(stderr, " [%s] %s", sysmem_error_name(sysmem_node_error(sysmem_collection_node(c))),
                        sysmem_node_error_message(sysmem_collection_node(c)));
        fputc('\n', stderr);
        exit(1);
}

static void reply(int sock, const char *text) {
        if (send(sock, text, strlen(text), 0) < 0)
                die("send", -1, NULL);
}

static void expect(int sock, const char *word) {
        char buf[64] = {0};
        ssize_t n = recv(sock, buf, sizeof buf - 1, 0);
        if (n <= 0 || strcmp(buf, word) != 0) {
                fprintf(stderr, "c-participant: expected \"%s\", got \"%s\" (%zd)\n", word, buf, n);
                exit(1);
        }
}

int main(int argc, char **argv) {
        if (argc != 2)
                return fprintf(stderr, "usage: c-participant SOCKET_FD\n"), 2;
        int sock = atoi(argv[1]);
        int tfd = -1;
        int r = sysmem_recv_fd(sock, &tfd, NULL, 0);
        if (r < 0 || tfd < 0)
                die("receiving the token", r, NULL);
        struct sysmem_token *token;
        struct sysmem_collection *coll;
        if ((r = sysmem_token_from_fd(tfd, &token)) < 0)
                die("sysmem_token_from_fd", r, NULL);
        sysmem_node_set_debug_client_info(sysmem_token_node(token), "c-participant", (uint64_t)getpid());
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                die("sysmem_token_bind", r, NULL);
        struct sysmem_constraints c = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE},
                .min_buffer_count_for_camping = 1,
        };
        if ((r = sysmem_collection_set_constraints(coll, &c)) < 0)
                die("sysmem_collection_set_constraints", r, coll);
        struct sysmem_collection_info *info;
        if ((r = sysmem_collection_wait_allocated(coll, &info)) < 0)
                die("sysmem_collection_wait_allocated", r, coll);

        const struct sysmem_buffer_memory_settings *bs = &info->settings.buffer_settings;
        struct stat st = {0};
        if (info->buffer_count < 2 || fstat(info->buffers[0].fd, &st) < 0)
                die("need two buffers with fds", -22, NULL);
        char line[512];
        int n = snprintf(line, sizeof line, "allocated %llu %u %llu %llu %s", (unsigned long long)info->buffer_collection_id,
                         info->buffer_count, (unsigned long long)bs->size_bytes, (unsigned long long)st.st_ino,
                         bs->heap.heap_type);
        if (info->settings.has_image_format_constraints) {
                const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
                struct sysmem_plane_layout l;
                if ((r = sysmem_image_layout(f, f->min_size.width, f->min_size.height, &l)) < 0)
                        die("sysmem_image_layout", r, NULL);
                snprintf(line + n, sizeof line - (size_t)n, " %u %llu %u %u %u %llu %u %llu %u", f->pixel_format,
                         (unsigned long long)f->pixel_format_modifier, f->min_size.width, f->min_size.height,
                         l.plane_count, (unsigned long long)l.offset[0], l.bytes_per_row[0],
                         (unsigned long long)l.offset[1], l.bytes_per_row[1]);
        }
        reply(sock, line);

        expect(sock, "check");
        size_t size = bs->size_bytes;
        unsigned char *p0 = mmap(NULL, size, PROT_READ, MAP_SHARED, info->buffers[0].fd, 0);
        unsigned char *p1 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, info->buffers[1].fd, 0);
        if (p0 == MAP_FAILED || p1 == MAP_FAILED)
                die("mmap", -1, NULL);
        unsigned long bad = 0;
        if ((r = sysmem_buffer_begin_cpu_access(info->buffers[0].fd, SYSMEM_CPU_ACCESS_READ)) < 0)
                die("begin_cpu_access", r, NULL);
        for (size_t i = 0; i < size; i++)
                bad += p0[i] != (unsigned char)(i * 7 + 3);
        sysmem_buffer_end_cpu_access(info->buffers[0].fd, SYSMEM_CPU_ACCESS_READ);
        if ((r = sysmem_buffer_begin_cpu_access(info->buffers[1].fd, SYSMEM_CPU_ACCESS_WRITE)) < 0)
                die("begin_cpu_access", r, NULL);
        for (size_t i = 0; i < size; i++)
                p1[i] = (unsigned char)(i * 13 + 5);
        sysmem_buffer_end_cpu_access(info->buffers[1].fd, SYSMEM_CPU_ACCESS_WRITE);
        munmap(p0, size);
        munmap(p1, size);
        snprintf(line, sizeof line, "checked %lu", bad);
        reply(sock, line);

        expect(sock, "bye");
        sysmem_collection_info_free(info);
        if ((r = sysmem_collection_release(coll)) < 0)
                die("sysmem_collection_release", r, NULL);
        close(sock);
        return 0;
}
