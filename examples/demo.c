/*
 * demo.c: starts sysmemd on a private socket, then a camera, an encoder and a display process pass tokens
 * to each other, negotiate one collection, and check they all see the same memory; then a crash is shown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

static const char *domain_name(enum sysmem_coherency_domain d) {
        switch (d) {
        case SYSMEM_COHERENCY_DOMAIN_CPU:
                return "cpu";
        case SYSMEM_COHERENCY_DOMAIN_RAM:
                return "ram";
        case SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE:
                return "inaccessible";
        }
        return "?";
}

static void die(const char *who, const char *what, int r) {
        fprintf(stderr, "[%s] %s: %s\n", who, what, strerror(-r));
        exit(1);
}

/* One line per participant; stdout is line-buffered per write so the processes' lines do not mix. */
static void say(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *who, const char *fmt, ...) {
        char line[1024];
        int n = snprintf(line, sizeof line, "[%-8s] ", who);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        strncat(line, "\n", sizeof line - strlen(line) - 1);
        (void)!write(STDOUT_FILENO, line, strlen(line));
}

static void print_info(const char *who, const struct sysmem_collection_info *info) {
        const struct sysmem_buffer_memory_settings *bs = &info->settings.buffer_settings;
        struct stat st = {0};
        if (info->buffers[0].fd >= 0)
                fstat(info->buffers[0].fd, &st);
        say(who, "collection %llu: %u buffers x %llu bytes (fd size %llu), heap %s, domain %s, buffer 0 inode %lu",
            (unsigned long long)info->buffer_collection_id, info->buffer_count, (unsigned long long)bs->size_bytes,
            (unsigned long long)bs->raw_vmo_size, bs->heap.heap_type, domain_name(bs->coherency_domain),
            (unsigned long)st.st_ino);
}

struct role {
        const char *name;
        struct sysmem_constraints constraints;
};

/* A participant: receives its token over `sock`, negotiates, reports, checks the camera's frame. */
static int participant(const struct role *role, int sock, bool crash_before_constraints) {
        int tfd;
        int r = sysmem_recv_fd(sock, &tfd, NULL, 0);
        if (r < 0)
                die(role->name, "receiving the token", r);
        struct sysmem_token *token;
        struct sysmem_collection *coll;
        sysmem_token_from_fd(tfd, &token);
        sysmem_node_set_debug_client_info(sysmem_token_node(token), role->name, (uint64_t)getpid());
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                die(role->name, "bind", r);
        if (crash_before_constraints) {
                say(role->name, "crashing before it sets its constraints (SIGKILL)");
                kill(getpid(), SIGKILL);
        }
        if ((r = sysmem_collection_set_constraints(coll, &role->constraints)) < 0)
                die(role->name, "set constraints", r);
        struct sysmem_collection_info *info;
        r = sysmem_collection_wait_allocated(coll, &info);
        if (r < 0) {
                say(role->name, "allocation failed: %s: %s",
                    sysmem_error_name(sysmem_node_error(sysmem_collection_node(coll))),
                    sysmem_node_error_message(sysmem_collection_node(coll)));
                sysmem_collection_close(coll);
                return 3;
        }
        print_info(role->name, info);
        /* Wait for the camera's "frame written" byte, then read the frame from our own mapping. */
        char go;
        if (read(sock, &go, 1) == 1) {
                size_t size = info->settings.buffer_settings.size_bytes;
                unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, info->buffers[0].fd, 0);
                if (p == MAP_FAILED)
                        die(role->name, "mmap", -errno);
                unsigned bad = 0;
                for (size_t i = 0; i < size; i++)
                        bad += p[i] != (unsigned char)(i * 7 + 1);
                say(role->name, "reads the camera's frame from buffer 0: %s", bad ? "MISMATCH" : "every byte matches");
                munmap(p, size);
                (void)!write(sock, bad ? "n" : "y", 1);
        }
        sysmem_collection_info_free(info);
        sysmem_collection_release(coll);
        return 0;
}

static pid_t spawn(const struct role *role, int sock, int other, bool crash) {
        pid_t pid = fork();
        if (pid == 0) {
                close(other);
                _exit(participant(role, sock, crash));
        }
        return pid;
}

/* The camera initiates: allocates, duplicates for the others, and writes a frame once everyone has buffers. */
static int run_scenario(const struct role roles[3], bool display_crashes) {
        int enc[2], disp[2];
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, enc);
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, disp);
        pid_t pe = spawn(&roles[1], enc[1], enc[0], false);
        pid_t pd = spawn(&roles[2], disp[1], disp[0], display_crashes);
        close(enc[1]);
        close(disp[1]);

        const char *who = roles[0].name;
        struct sysmem_allocator *alloc;
        int r = sysmem_allocator_connect(NULL, &alloc);
        if (r < 0)
                die(who, "connect", r);
        sysmem_allocator_set_debug_client_info(alloc, who, (uint64_t)getpid());
        struct sysmem_token *token, *dups[2];
        if ((r = sysmem_allocator_allocate_shared(alloc, &token)) < 0)
                die(who, "allocate shared collection", r);
        sysmem_node_set_name(sysmem_token_node(token), 10, "camera-frames");
        uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        if ((r = sysmem_token_duplicate_sync(token, 2, masks, dups)) < 0)
                die(who, "duplicate", r);
        say(who, "created a collection and passes one token each to %s and %s", roles[1].name, roles[2].name);
        int fd1 = sysmem_token_to_fd(dups[0]), fd2 = sysmem_token_to_fd(dups[1]);
        sysmem_send_fd(enc[0], fd1, NULL, 0);
        sysmem_send_fd(disp[0], fd2, NULL, 0);
        close(fd1);
        close(fd2);

        struct sysmem_collection *coll;
        if ((r = sysmem_token_bind(token, &coll)) < 0)
                die(who, "bind", r);
        sysmem_collection_set_constraints(coll, &roles[0].constraints);
        struct sysmem_collection_info *info;
        r = sysmem_collection_wait_allocated(coll, &info);
        int status = 0;
        if (r < 0) {
                say(who, "allocation failed: %s: %s",
                    sysmem_error_name(sysmem_node_error(sysmem_collection_node(coll))),
                    sysmem_node_error_message(sysmem_collection_node(coll)));
                /* Expected only when the display crashed, and then as UNSPECIFIED. */
                if (!display_crashes || sysmem_node_error(sysmem_collection_node(coll)) != SYSMEM_ERROR_UNSPECIFIED)
                        status = 1;
                sysmem_collection_close(coll);
        } else {
                if (display_crashes)
                        status = 1;
                print_info(who, info);
                size_t size = info->settings.buffer_settings.size_bytes;
                unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, info->buffers[0].fd, 0);
                if (p == MAP_FAILED)
                        die(who, "mmap", -errno);
                for (size_t i = 0; i < size; i++)
                        p[i] = (unsigned char)(i * 7 + 1);
                munmap(p, size);
                say(who, "wrote a frame into buffer 0");
                (void)!write(enc[0], "g", 1);
                (void)!write(disp[0], "g", 1);
                char a = 0, b = 0;
                (void)!read(enc[0], &a, 1);
                (void)!read(disp[0], &b, 1);
                if (a != 'y' || b != 'y')
                        status = 1;
                sysmem_collection_info_free(info);
                sysmem_collection_release(coll);
        }
        sysmem_allocator_free(alloc);
        close(enc[0]);
        close(disp[0]);
        int st_enc, st_disp;
        waitpid(pe, &st_enc, 0);
        waitpid(pd, &st_disp, 0);
        /* The encoder must have been told of the display's crash (exit 3), or succeeded (exit 0). */
        if (!WIFEXITED(st_enc) || WEXITSTATUS(st_enc) != (display_crashes ? 3 : 0))
                status = 1;
        if (display_crashes ? !WIFSIGNALED(st_disp) : (!WIFEXITED(st_disp) || WEXITSTATUS(st_disp) != 0))
                status = 1;
        return status;
}

static pid_t start_daemon(const char *sysmemd, const char *socket_path) {
        pid_t pid = fork();
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", socket_path, (char *)NULL);
                perror("exec sysmemd");
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                struct stat st;
                if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
                        return pid;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        fprintf(stderr, "sysmemd did not come up on %s\n", socket_path);
        kill(pid, SIGKILL);
        return -1;
}

int main(int argc, char **argv) {
        const char *sysmemd = argc > 1 ? argv[1] : "sysmemd";
        char dir[] = "/tmp/sysmem-demo-XXXXXX";
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        char path[256];
        snprintf(path, sizeof path, "%s/socket", dir);
        setenv("SYSMEM_SOCKET", path, 1);
        setvbuf(stdout, NULL, _IONBF, 0);
        printf("== sysmemd on the private socket %s\n", path);
        pid_t daemon = start_daemon(sysmemd, path);
        if (daemon < 0)
                return 1;

        struct role roles[3] = {
                {"camera",
                 {.usage = {.cpu = SYSMEM_CPU_USAGE_WRITE_OFTEN},
                  .min_buffer_count_for_camping = 2,
                  .buffer_memory_constraints = {.min_size_bytes = 1920 * 1080 * 3 / 2}}},
                {"encoder",
                 {.usage = {.video = SYSMEM_VIDEO_USAGE_HW_ENCODER, .cpu = SYSMEM_CPU_USAGE_READ},
                  .min_buffer_count_for_camping = 3,
                  .min_buffer_count_for_dedicated_slack = 1,
                  .buffer_memory_constraints = {.min_size_bytes = 1u << 20}}},
                {"display",
                 {.usage = {.display = SYSMEM_DISPLAY_USAGE_LAYER},
                  .min_buffer_count_for_camping = 1,
                  .min_buffer_count_for_shared_slack = 2,
                  .buffer_memory_constraints = {.max_size_bytes = 8u << 20}}},
        };
        printf("\n== 1. camera (camping 2, >= 3110400 bytes, cpu write), encoder (camping 3 + dedicated slack 1,\n"
               "      >= 1 MiB), display (camping 1, shared slack 2, <= 8 MiB) negotiate one collection\n"
               "      expected: 2+3+1 camping + 1 dedicated + 2 shared = 9 buffers of 3110400 bytes\n");
        int s1 = run_scenario(roles, false);
        printf("\n== 2. the same, but the display process is killed before it sets constraints:\n"
               "      the camera and the encoder are told, the daemon carries on\n");
        int s2 = run_scenario(roles, true);
        printf("\n== 3. a new negotiation on the same daemon, after the crash\n");
        int s3 = run_scenario(roles, false);

        kill(daemon, SIGTERM);
        int st;
        waitpid(daemon, &st, 0);
        printf("\n== sysmemd exited with status %d after SIGTERM\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        rmdir(dir);
        bool ok = s1 == 0 && s3 == 0 && s2 == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("demo %s\n", ok ? "succeeded" : "FAILED");
        return ok ? 0 : 1;
}
