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

/* A DRM fourcc as its four characters ("NV12"). */
static const char *fourcc_str(uint32_t f, char buf[5]) {
        for (int i = 0; i < 4; i++)
                buf[i] = (char)((f >> (8 * i)) & 0xff);
        buf[4] = 0;
        return buf;
}

/* The byte every participant expects at (plane, row, column) of the camera's frame. */
static unsigned char pattern(uint32_t plane, uint32_t row, uint32_t col) {
        return (unsigned char)(plane * 101 + row * 7 + col * 3 + 1);
}

/*
 * Writes (or checks) the camera's frame in buffer 0: plain bytes for a raw buffer, or every row of
 * every plane at the offsets and strides the negotiated image format gives. Returns mismatches.
 */
static unsigned long frame(const struct sysmem_collection_info *info, bool write) {
        size_t size = info->settings.buffer_settings.size_bytes;
        unsigned char *p = mmap(NULL, size, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                                info->buffers[0].fd, 0);
        if (p == MAP_FAILED)
                return ~0ul;
        unsigned long bad = 0;
        if (!info->settings.has_image_format_constraints) {
                for (size_t i = 0; i < size; i++) {
                        if (write)
                                p[i] = pattern(0, 0, (uint32_t)i);
                        else
                                bad += p[i] != pattern(0, 0, (uint32_t)i);
                }
        } else {
                const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
                struct sysmem_plane_layout l;
                if (sysmem_image_layout(f, f->min_size.width, f->min_size.height, &l) < 0 || l.total_size_bytes > size)
                        bad = ~0ul;
                for (uint32_t pl = 0; !bad && pl < l.plane_count; pl++) {
                        if (!l.bytes_per_row[pl])
                                continue;
                        uint32_t rows = (uint32_t)(l.size_bytes[pl] / l.bytes_per_row[pl]);
                        for (uint32_t r = 0; r < rows; r++) {
                                unsigned char *row = p + l.offset[pl] + (uint64_t)r * l.bytes_per_row[pl];
                                for (uint32_t c = 0; c < l.bytes_per_row[pl]; c++) {
                                        if (write)
                                                row[c] = pattern(pl, r, c);
                                        else
                                                bad += row[c] != pattern(pl, r, c);
                                }
                        }
                }
        }
        munmap(p, size);
        return bad;
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
        if (info->settings.has_image_format_constraints) {
                const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
                struct sysmem_plane_layout l;
                char fc[5];
                if (sysmem_image_layout(f, f->min_size.width, f->min_size.height, &l) == 0)
                        say(who, "image format %s, modifier 0x%llx, colour space %u, %ux%u: Y at %llu (stride %u), "
                                 "UV at %llu (stride %u)",
                            fourcc_str(f->pixel_format, fc), (unsigned long long)f->pixel_format_modifier,
                            f->color_space, f->min_size.width, f->min_size.height, (unsigned long long)l.offset[0],
                            l.bytes_per_row[0], (unsigned long long)(l.plane_count > 1 ? l.offset[1] : 0),
                            l.plane_count > 1 ? l.bytes_per_row[1] : 0);
        }
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
        /* If the collection already failed, sending fails too; either way the node knows why. */
        struct sysmem_collection_info *info;
        r = sysmem_collection_set_constraints(coll, &role->constraints);
        if (r >= 0)
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
                unsigned long bad = frame(info, false);
                say(role->name, "reads the camera's frame from buffer 0: %s", bad ? "MISMATCH" : "every byte matches");
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
/* What a scenario should end in: every participant gets the buffers, or a crash, or a conflict. */
enum outcome { ALLOCATED, DISPLAY_CRASHES, CONFLICT };

static int run_scenario(const struct role roles[3], enum outcome expect) {
        bool display_crashes = expect == DISPLAY_CRASHES;
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
        struct sysmem_collection_info *info;
        r = sysmem_collection_set_constraints(coll, &roles[0].constraints);
        if (r >= 0)
                r = sysmem_collection_wait_allocated(coll, &info);
        int status = 0;
        if (r < 0) {
                say(who, "allocation failed: %s: %s",
                    sysmem_error_name(sysmem_node_error(sysmem_collection_node(coll))),
                    sysmem_node_error_message(sysmem_collection_node(coll)));
                /* Expected only when the display crashed, and then as UNSPECIFIED. */
                enum sysmem_error want = display_crashes ? SYSMEM_ERROR_UNSPECIFIED
                                                         : SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
                if (expect == ALLOCATED || sysmem_node_error(sysmem_collection_node(coll)) != want)
                        status = 1;
                sysmem_collection_close(coll);
        } else {
                if (expect != ALLOCATED)
                        status = 1;
                print_info(who, info);
                if (frame(info, true) != 0)
                        die(who, "writing the frame", -EIO);
                say(who, "wrote a frame into buffer 0%s", info->settings.has_image_format_constraints
                                                                  ? ", plane by plane at the negotiated layout"
                                                                  : "");
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
        if (!WIFEXITED(st_enc) || WEXITSTATUS(st_enc) != (expect == ALLOCATED ? 0 : 3))
                status = 1;
        if (display_crashes ? !WIFSIGNALED(st_disp)
                            : (!WIFEXITED(st_disp) || WEXITSTATUS(st_disp) != (expect == ALLOCATED ? 0 : 3)))
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
        int s1 = run_scenario(roles, ALLOCATED);

        /* The same three, now with image formats: the only format all three take is NV12 in REC709. */
        static const struct sysmem_pixel_format_and_modifier camera_formats[] = {
                {0x3231564e /* NV12 */, SYSMEM_FORMAT_MODIFIER_LINEAR},
                {0x56595559 /* YUYV */, SYSMEM_FORMAT_MODIFIER_LINEAR},
        };
        static const uint32_t rec709[] = {SYSMEM_COLOR_SPACE_REC709}, srgb[] = {SYSMEM_COLOR_SPACE_SRGB};
        static const struct sysmem_image_format_constraints camera_ifc[] = {
                {.pixel_format_and_modifier_count = 2,
                 .pixel_format_and_modifiers = camera_formats,
                 .color_space_count = 1,
                 .color_spaces = rec709,
                 .min_size = {1920, 1080}},
        };
        static const struct sysmem_image_format_constraints encoder_ifc[] = {
                {.pixel_format = 0x3231564e, .color_space_count = 1, .color_spaces = rec709, .bytes_per_row_divisor = 64},
        };
        static const struct sysmem_image_format_constraints display_ifc[] = {
                {.pixel_format = 0x3231564e, .color_space_count = 1, .color_spaces = rec709},
                {.pixel_format = 0x34325241 /* ARGB8888 */, .color_space_count = 1, .color_spaces = srgb},
        };
        struct role image_roles[3] = {roles[0], roles[1], roles[2]};
        image_roles[0].constraints.buffer_memory_constraints.min_size_bytes = 0;
        image_roles[1].constraints.buffer_memory_constraints.min_size_bytes = 0;
        image_roles[0].constraints.image_format_constraint_count = 1;
        image_roles[0].constraints.image_format_constraints = camera_ifc;
        image_roles[1].constraints.image_format_constraint_count = 1;
        image_roles[1].constraints.image_format_constraints = encoder_ifc;
        image_roles[2].constraints.image_format_constraint_count = 2;
        image_roles[2].constraints.image_format_constraints = display_ifc;
        printf("\n== 2. image formats: camera offers NV12 or YUYV (REC709, at least 1920x1080), the encoder takes\n"
               "      NV12 with rows a multiple of 64 bytes, the display NV12 (REC709) or ARGB8888 (SRGB)\n"
               "      expected: NV12, REC709, 1920x1080, stride 1920, 3110400 bytes; the frame is written per plane\n");
        int s2 = run_scenario(image_roles, ALLOCATED);

        printf("\n== 3. the same, but the display process is killed before it sets constraints:\n"
               "      the camera and the encoder are told, the daemon carries on\n");
        int s3 = run_scenario(image_roles, DISPLAY_CRASHES);
        printf("\n== 4. a new negotiation on the same daemon, after the crash\n");
        int s4 = run_scenario(image_roles, ALLOCATED);

        struct role small_display[3] = {image_roles[0], image_roles[1], image_roles[2]};
        small_display[2].constraints.buffer_memory_constraints.max_size_bytes = 2u << 20;
        printf("\n== 5. the display can only take buffers of up to 2 MiB: no allocation, and everyone is told why\n");
        int s5 = run_scenario(small_display, CONFLICT);

        kill(daemon, SIGTERM);
        int st;
        waitpid(daemon, &st, 0);
        printf("\n== sysmemd exited with status %d after SIGTERM\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        rmdir(dir);
        bool ok = s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("demo %s\n", ok ? "succeeded" : "FAILED");
        if (!ok)
                fprintf(stderr, "scenario results: %d %d %d %d %d\n", s1, s2, s3, s4, s5);
        return ok ? 0 : 1;
}
