/*
 * pipeline.c: sysmem-pipeline, a real three-device pipeline. A V4L2 camera (vivid) captures with
 * V4L2_MEMORY_DMABUF into sysmem buffers, a KMS display (virtio-gpu) page-flips to them, a GPU stand-in
 * (vgem) imports them, and a CPU participant maps them and checks every pixel. Each participant is its own
 * process with its own constraints, derived from its device (libsysmem-devices); they share one
 * collection that sysmemd negotiates and allocates once. docs/pipeline.md.
 *
 *   sysmem-pipeline run [--kill-camera] [--frames N] [--sysmemd PATH]
 *
 * `run` starts sysmemd on a private socket, makes the collection and one token per participant, and
 * execs this program once per role (camera, display, gpu, cpu) with its token on fd 3:
 *
 *   fd 3  the participant's token          fd 4  control socket to the runner
 *   fd 5  frames from upstream             fd 6  frames to downstream
 *   fd 7  display -> camera: "this buffer is off the screen" (camera and display only)
 *
 * Frame flow: camera DQBUF(i) -> display flips to i -> gpu imports i -> cpu checks i -> camera; the camera
 * queues i again once the cpu has returned it and the display has flipped away from it, so a buffer on the
 * screen is never written. Exit status: 0 when everything checked out, 1 on a failure, 77 (SKIP) where
 * the devices are missing (outside the VM of scripts/vm-run.sh).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <sysmem/sysmem-devices.h>
#include <sysmem/sysmem.h>

#define WIDTH 640u
#define HEIGHT 480u
#define DEFAULT_FRAMES 8u
#define KILL_AFTER_FRAMES 3u /* --kill-camera: SIGKILL the camera once the cpu has checked this many */
#define STEP_TIMEOUT_MS 20000 /* the longest wait for any one event (TCG is slow) */

#define FD_TOKEN 3
#define FD_CTL 4
#define FD_IN 5
#define FD_OUT 6
#define FD_AUX 7

/* ---- small helpers ---- */

static const char *g_role = "run";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        char line[2048];
        int n = snprintf(line, sizeof line, "[%-7s] ", g_role);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        strncat(line, "\n", sizeof line - strlen(line) - 1);
        (void)!write(STDOUT_FILENO, line, strlen(line)); /* one write per line: the processes' lines do not mix */
}

/* Prints text line by line, each with the role and a prefix. */
static void say_lines(const char *prefix, const char *text) {
        while (text && *text) {
                const char *nl = strchr(text, '\n');
                int len = nl ? (int)(nl - text) : (int)strlen(text);
                if (len > 0)
                        say("%s%.*s", prefix, len, text);
                text += len + (nl ? 1 : 0);
        }
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t0) { return (double)(now_ns() - t0) / 1e6; }

static const char *fourcc_str(uint32_t f, char buf[5]) {
        for (int i = 0; i < 4; i++) {
                char c = (char)((f >> (8 * i)) & 0xff);
                buf[i] = c >= 32 && c < 127 ? c : '?';
        }
        buf[4] = 0;
        return buf;
}

/* ---- messages between the processes ---- */

enum msg_type {
        MSG_FRAME = 1, /* index, seq: a frame is in buffer index */
        MSG_RELEASE,   /* index: the display flipped away from it (display -> camera) */
        MSG_END,       /* no more frames */
};

struct msg {
        uint32_t type;
        uint32_t index;
        uint32_t seq;
        uint32_t pad;
        uint64_t t_captured; /* CLOCK_MONOTONIC of the camera's DQBUF (one clock for the whole VM) */
};

enum ctl_type {
        CTL_ASKED = 1,   /* text: what the participant asked for; a, b: camping count, pair count */
        CTL_ALLOCATED,   /* the participant has its buffers */
        CTL_FRAME,       /* a: seq, b: 1 if the frame checked out (cpu), c: buffer index */
        CTL_FAILED,      /* text: the collection failed (error and message) */
        CTL_RESULT,      /* a: 1 pass, 0 fail; text: the participant's summary */
        CTL_QUIT,        /* runner -> display: take the frame off the screen and exit */
        CTL_CHECK,       /* runner -> display: compare the screen with the buffer on it */
        CTL_SCREEN,      /* display -> runner: a: 2 pass, 1 fail, 0 not possible; text: what was found */
};

struct ctl {
        uint32_t type;
        uint32_t a, b, c;
        char heaps[512]; /* CTL_ASKED: the permitted heaps, "any" for none named */
        char pairs[512]; /* CTL_ASKED: the (format, modifier) pairs, "any" for none named */
        char text[3072];
};

static int send_msg(int fd, const struct msg *m) {
        return send(fd, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

static int send_ctl(int fd, uint32_t type, uint32_t a, uint32_t b, uint32_t c, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
static int send_ctl(int fd, uint32_t type, uint32_t a, uint32_t b, uint32_t c, const char *fmt, ...) {
        struct ctl m = {.type = type, .a = a, .b = b, .c = c};
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(m.text, sizeof m.text, fmt, ap);
                va_end(ap);
        }
        return send(fd, &m, sizeof m, MSG_NOSIGNAL) == (ssize_t)sizeof m ? 0 : -1;
}

/* ---- the expected image: vivid's 75% colour bars ---- */

/*
 * vivid's "75% Colorbar" test pattern in an RGB format at full range: eight bars of equal width, each
 * component 0 or 191 (75% of 255), in this order (R, G, B).
 */
static const uint8_t bars[8][3] = {
        {191, 191, 191}, /* white */
        {191, 191, 0},   /* yellow */
        {0, 191, 191},   /* cyan */
        {0, 191, 0},     /* green */
        {191, 0, 191},   /* magenta */
        {191, 0, 0},     /* red */
        {0, 0, 191},     /* blue */
        {0, 0, 0},       /* black */
};
static const char *const bar_names[8] = {"white", "yellow", "cyan", "green", "magenta", "red", "blue", "black"};

static const uint8_t *expected_rgb(uint32_t x) { return bars[x * 8 / WIDTH]; }

/*
 * vivid's OSD in "Counters Only" mode writes one line of text, "hh:mm:ss:ms sequence", in an 8x16 font at
 * row 16, column 16: so every frame differs from the one before in that line, and the rest is the bars.
 */
#define OSD_Y0 16u
#define OSD_Y1 32u
#define OSD_BYTES(stride) ((size_t)(OSD_Y1 - OSD_Y0) * (stride))
static bool in_osd(uint32_t y) { return y >= OSD_Y0 && y < OSD_Y1; }

struct bar_check {
        unsigned long bad;        /* pixels outside the OSD line that are not the bars */
        unsigned long text;       /* pixels inside it that are not (the counter's glyphs) */
        uint32_t x0, y0, x1, y1;  /* bounding box of every pixel that is not the bars (x1 < x0: none) */
        char bands[256];          /* the colour in the middle of each band */
};

/* Checks an XRGB8888 frame (bytes B, G, R, X) against the bars. */
static void check_bars(const uint8_t *p, uint32_t stride, struct bar_check *r) {
        memset(r, 0, sizeof *r);
        r->x0 = WIDTH;
        r->y0 = HEIGHT;
        for (uint32_t y = 0; y < HEIGHT; y++)
                for (uint32_t x = 0; x < WIDTH; x++) {
                        const uint8_t *q = p + (size_t)y * stride + (size_t)x * 4, *e = expected_rgb(x);
                        if (q[2] == e[0] && q[1] == e[1] && q[0] == e[2])
                                continue;
                        if (in_osd(y))
                                r->text++;
                        else
                                r->bad++;
                        r->x0 = x < r->x0 ? x : r->x0;
                        r->y0 = y < r->y0 ? y : r->y0;
                        r->x1 = x > r->x1 ? x : r->x1;
                        r->y1 = y > r->y1 ? y : r->y1;
                }
        size_t n = 0;
        for (uint32_t b = 0; b < 8 && n < sizeof r->bands; b++) {
                const uint8_t *q = p + (size_t)(HEIGHT / 2) * stride + (size_t)(b * WIDTH / 8 + WIDTH / 16) * 4;
                n += (size_t)snprintf(r->bands + n, sizeof r->bands - n, "%s%s(%u,%u,%u)", b ? " " : "", bar_names[b],
                                      q[2], q[1], q[0]);
        }
}

/*
 * The screen, as the host sees it: asks vm-run.sh for a screendump ($SYSMEM_VM_SCREENDUMP, docs/vm.md)
 * and reads the PPM. Returns the RGB pixels (malloc'ed) and their size, or NULL with *why set.
 */
static uint8_t *screendump(uint32_t *ret_w, uint32_t *ret_h, const char **why) {
        const char *helper = getenv("SYSMEM_VM_SCREENDUMP");
        if (!helper || !*helper) {
                *why = "no SYSMEM_VM_SCREENDUMP (not in the VM of scripts/vm-run.sh)";
                return NULL;
        }
        FILE *p = popen(helper, "r");
        char path[PATH_MAX] = "";
        if (!p || !fgets(path, sizeof path, p)) {
                if (p)
                        pclose(p);
                *why = "the screendump helper failed";
                return NULL;
        }
        pclose(p);
        path[strcspn(path, "\n")] = 0;
        FILE *f = fopen(path, "rb");
        unsigned w, h, max;
        if (!f || fscanf(f, "P6 %u %u %u", &w, &h, &max) != 3 || max != 255 || fgetc(f) == EOF || !w || !h ||
            w > 8192 || h > 8192) {
                if (f)
                        fclose(f);
                *why = "the screendump is not a P6 PPM";
                return NULL;
        }
        uint8_t *img = malloc((size_t)w * h * 3);
        if (!img || fread(img, 1, (size_t)w * h * 3, f) != (size_t)w * h * 3) {
                free(img);
                fclose(f);
                *why = "the screendump is short";
                return NULL;
        }
        fclose(f);
        *ret_w = w;
        *ret_h = h;
        return img;
}

/*
 * The screen check: the screendump must be WIDTH x HEIGHT (the mode the display set); outside the OSD line
 * it must be the bars, and the OSD line must hold text. With a frame (XRGB8888 bytes B, G, R, X at stride),
 * every pixel must equal the frame's, and with prev_osd (the OSD rows of the frame before it) the OSD line
 * must differ from that one, so that the screen shows this frame and no earlier one. Returns 1 pass, 0 fail,
 * -1 not possible (no screendump); *detail says what was compared and found.
 */
static int screen_check(const uint8_t *frame, uint32_t stride, const uint8_t *prev_osd, char *detail, size_t size) {
        uint32_t w = 0, h = 0;
        const char *why = "";
        uint8_t *img = screendump(&w, &h, &why);
        if (!img) {
                snprintf(detail, size, "no screen check: %s", why);
                return -1;
        }
        if (w != WIDTH || h != HEIGHT) {
                free(img);
                snprintf(detail, size, "screendump %ux%u, not the %ux%u mode", w, h, WIDTH, HEIGHT);
                return 0;
        }
        unsigned long diff_frame = 0, diff_prev = 0;
        /* The screendump as an XRGB8888 frame, for the bar check. */
        uint8_t *x = malloc((size_t)w * h * 4);
        if (!x) {
                free(img);
                snprintf(detail, size, "out of memory");
                return 0;
        }
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t c = 0; c < w; c++) {
                        const uint8_t *s = img + ((size_t)y * w + c) * 3;
                        uint8_t *d = x + ((size_t)y * w + c) * 4;
                        d[0] = s[2], d[1] = s[1], d[2] = s[0], d[3] = 0;
                        if (frame) {
                                const uint8_t *q = frame + (size_t)y * stride + (size_t)c * 4;
                                diff_frame += s[0] != q[2] || s[1] != q[1] || s[2] != q[0];
                        }
                        if (prev_osd && in_osd(y)) {
                                const uint8_t *q = prev_osd + (size_t)(y - OSD_Y0) * stride + (size_t)c * 4;
                                diff_prev += s[0] != q[2] || s[1] != q[1] || s[2] != q[0];
                        }
                }
        struct bar_check bc;
        check_bars(x, w * 4, &bc);
        free(x);
        free(img);
        bool ok = bc.bad == 0 && bc.text > 0 && (!frame || diff_frame == 0) && (!prev_osd || diff_prev > 0);
        size_t n = (size_t)snprintf(detail, size, "screendump %ux%u: ", w, h);
        if (frame && n < size)
                n += (size_t)snprintf(detail + n, size - n, "%lu of %u pixels differ from the last frame; ", diff_frame,
                                      WIDTH * HEIGHT);
        if (prev_osd && n < size)
                n += (size_t)snprintf(detail + n, size - n, "%lu pixels of the OSD line differ from the frame before; ",
                                      diff_prev);
        if (n < size)
                snprintf(detail + n, size - n, "%lu pixels outside the OSD line differ from the bars, %lu text pixels "
                         "in it; bands %s", bc.bad, bc.text, bc.bands);
        return ok;
}

/* ---- devices ---- */

/* The primary node of the DRM driver named drv (cards are numbered by load order: find them by name). */
static int open_drm(const char *drv, char *path, size_t size) {
        for (int i = 0; i < 16; i++) {
                char p[32];
                snprintf(p, sizeof p, "/dev/dri/card%d", i);
                int fd = open(p, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        continue;
                drmVersionPtr v = drmGetVersion(fd);
                bool ok = v && !strcmp(v->name, drv);
                drmFreeVersion(v);
                if (ok) {
                        if (path)
                                snprintf(path, size, "%s", p);
                        return fd;
                }
                close(fd);
        }
        return -1;
}

/* The vivid capture node. */
static int open_vivid(char *path, size_t size) {
        for (int i = 0; i < 16; i++) {
                char p[32];
                snprintf(p, sizeof p, "/dev/video%d", i);
                int fd = open(p, O_RDWR | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0)
                        continue;
                struct v4l2_capability cap = {0};
                if (ioctl(fd, VIDIOC_QUERYCAP, &cap) == 0 && !strcmp((char *)cap.driver, "vivid") &&
                    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) && (cap.device_caps & V4L2_CAP_STREAMING)) {
                        if (path)
                                snprintf(path, size, "%s", p);
                        return fd;
                }
                close(fd);
        }
        return -1;
}

/* Sets a vivid control found by its name (vivid's own control class has no ids in the uapi headers). */
static int set_control(int fd, const char *name, const char *menu_item, int value) {
        struct v4l2_queryctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
        while (ioctl(fd, VIDIOC_QUERYCTRL, &q) == 0) {
                if (!strcmp((const char *)q.name, name)) {
                        if (menu_item) {
                                value = -1;
                                for (int i = q.minimum; i <= q.maximum; i++) {
                                        struct v4l2_querymenu m = {.id = q.id, .index = (uint32_t)i};
                                        if (ioctl(fd, VIDIOC_QUERYMENU, &m) == 0 && !strcmp((char *)m.name, menu_item))
                                                value = i;
                                }
                                if (value < 0)
                                        return -ENOENT;
                        }
                        struct v4l2_control c = {.id = q.id, .value = value};
                        return ioctl(fd, VIDIOC_S_CTRL, &c) == 0 ? 0 : -errno;
                }
                q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
        }
        return -ENOENT;
}

/* ---- participants: common part ---- */

struct participant {
        struct sysmem_allocator *alloc;
        struct sysmem_collection *coll;
        struct sysmem_collection_info *info;
        struct sysmem_device_constraints *dc; /* or NULL for hand-made constraints */
        int ctl;
        bool failed;
};

/* Lists the heaps and pairs of constraints for the runner's "why" (CTL_ASKED). */
static void describe(const struct sysmem_constraints *c, struct ctl *m) {
        const struct sysmem_buffer_memory_constraints *b = &c->buffer_memory_constraints;
        size_t n = 0;
        if (!b->permitted_heap_count)
                snprintf(m->heaps, sizeof m->heaps, "any");
        for (uint32_t i = 0; i < b->permitted_heap_count && n < sizeof m->heaps; i++)
                n += (size_t)snprintf(m->heaps + n, sizeof m->heaps - n, "%s%s", i ? "," : "",
                                      b->permitted_heaps[i].heap_type);
        n = 0;
        uint32_t pairs = 0;
        m->pairs[0] = 0;
        for (uint32_t i = 0; i < c->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *f = &c->image_format_constraints[i];
                char fc[5];
                if (f->pixel_format && n < sizeof m->pairs) {
                        n += (size_t)snprintf(m->pairs + n, sizeof m->pairs - n, "%s%s:0x%" PRIx64, n ? "," : "",
                                              fourcc_str(f->pixel_format, fc),
                                              f->has_pixel_format_modifier ? f->pixel_format_modifier : 0);
                        pairs++;
                }
                for (uint32_t j = 0; j < f->pixel_format_and_modifier_count && n < sizeof m->pairs; j++, pairs++)
                        n += (size_t)snprintf(m->pairs + n, sizeof m->pairs - n, "%s%s:0x%" PRIx64, n ? "," : "",
                                              fourcc_str(f->pixel_format_and_modifiers[j].pixel_format, fc),
                                              f->pixel_format_and_modifiers[j].pixel_format_modifier);
        }
        if (!c->image_format_constraint_count)
                snprintf(m->pairs, sizeof m->pairs, "any");
        m->b = pairs;
}

/* Binds the token on fd 3 and connects an allocator (for the daemon's heap list). */
static int participant_start(struct participant *p) {
        p->ctl = FD_CTL;
        int r = sysmem_allocator_connect(NULL, &p->alloc);
        if (r < 0) {
                say("cannot connect to sysmemd: %s", strerror(-r));
                return r;
        }
        sysmem_allocator_set_debug_client_info(p->alloc, g_role, (uint64_t)getpid());
        struct sysmem_token *token;
        if ((r = sysmem_token_from_fd(FD_TOKEN, &token)) < 0)
                return r;
        sysmem_node_set_debug_client_info(sysmem_token_node(token), g_role, (uint64_t)getpid());
        if ((r = sysmem_token_bind(token, &p->coll)) < 0)
                say("bind: %s", strerror(-r));
        return r;
}

/* Says what it asks for, sets its constraints and waits for the buffers. */
static int participant_negotiate(struct participant *p, const struct sysmem_constraints *c, const char *explain) {
        struct ctl m = {.type = CTL_ASKED, .a = c->min_buffer_count_for_camping};
        describe(c, &m);
        snprintf(m.text, sizeof m.text, "%s", explain ? explain : "");
        say("asks for: camping %u, heaps %s, usage cpu 0x%x video 0x%x display 0x%x vulkan 0x%x, %u (format, modifier) "
            "pairs: %.300s",
            c->min_buffer_count_for_camping, m.heaps, c->usage.cpu, c->usage.video, c->usage.display, c->usage.vulkan,
            m.b, m.pairs);
        say_lines("  explain: ", explain);
        (void)!send(p->ctl, &m, sizeof m, MSG_NOSIGNAL);
        int r = sysmem_collection_set_constraints(p->coll, c);
        if (r >= 0)
                r = sysmem_collection_wait_allocated(p->coll, &p->info);
        if (r < 0) {
                struct sysmem_node *n = sysmem_collection_node(p->coll);
                say("allocation failed: %s: %s", sysmem_error_name(sysmem_node_error(n)), sysmem_node_error_message(n));
                send_ctl(p->ctl, CTL_FAILED, 0, 0, 0, "%s: %s", sysmem_error_name(sysmem_node_error(n)),
                         sysmem_node_error_message(n));
                p->failed = true;
                return r;
        }
        const struct sysmem_buffer_memory_settings *bs = &p->info->settings.buffer_settings;
        say("has %u buffers of %" PRIu64 " bytes from heap %s", p->info->buffer_count, bs->raw_vmo_size,
            bs->heap.heap_type);
        send_ctl(p->ctl, CTL_ALLOCATED, p->info->buffer_count, 0, 0, NULL);
        return 0;
}

/* The collection's socket woke us: the collection failed (or the daemon went). Returns true when failed. */
static bool participant_check_failed(struct participant *p) {
        struct sysmem_node *n = sysmem_collection_node(p->coll);
        if (sysmem_node_dispatch(n) >= 0 && sysmem_node_error(n) == SYSMEM_ERROR_INVALID)
                return false;
        if (!p->failed) {
                p->failed = true;
                say("the collection failed: %s: %s", sysmem_error_name(sysmem_node_error(n)),
                    sysmem_node_error_message(n));
                send_ctl(p->ctl, CTL_FAILED, 0, 0, 0, "%s: %s", sysmem_error_name(sysmem_node_error(n)),
                         sysmem_node_error_message(n));
        }
        return true;
}

/*
 * After the upstream went away without MSG_END: the collection's failure is on its way (the daemon fails
 * every participant when one dies); wait for it a little, so the message can be reported.
 */
static void participant_await_failure(struct participant *p) {
        uint64_t t0 = now_ns();
        while (!p->failed && ms_since(t0) < 5000) {
                struct pollfd pf = {.fd = sysmem_node_get_fd(sysmem_collection_node(p->coll)), .events = POLLIN};
                if (poll(&pf, 1, 100) > 0)
                        participant_check_failed(p);
        }
}

static void participant_finish(struct participant *p) {
        sysmem_collection_info_free(p->info);
        p->info = NULL;
        if (p->coll) {
                if (p->failed)
                        sysmem_collection_close(p->coll);
                else
                        sysmem_collection_release(p->coll);
        }
        p->coll = NULL;
        sysmem_device_constraints_free(p->dc);
        sysmem_allocator_free(p->alloc);
}

/* Waits for one message on fd, watching the collection: 1 got one, 0 EOF, -1 failed/timeout. */
static int participant_recv(struct participant *p, int fd, void *buf, size_t size, int timeout_ms) {
        uint64_t t0 = now_ns();
        for (;;) {
                struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
                                       {.fd = sysmem_node_get_fd(sysmem_collection_node(p->coll)), .events = POLLIN}};
                int left = timeout_ms - (int)ms_since(t0);
                if (left <= 0)
                        return -1;
                int r = poll(pf, 2, left);
                if (r < 0 && errno != EINTR)
                        return -1;
                if (pf[1].revents && participant_check_failed(p))
                        return -1;
                if (pf[0].revents) {
                        ssize_t n = recv(fd, buf, size, 0);
                        if (n == 0 || (n < 0 && errno == ECONNRESET))
                                return 0;
                        if (n == (ssize_t)size)
                                return 1;
                        return -1;
                }
        }
}

/* ---- camera ---- */

static int role_camera(uint32_t frames) {
        struct participant p = {0};
        char path[64];
        int vfd = open_vivid(path, sizeof path);
        if (vfd < 0) {
                say("no vivid capture device");
                return 1;
        }
        /* An exactly checkable image: the 75% bars, no text, border, square or movement. */
        static const struct {
                const char *name, *item;
                int value;
        } ctrls[] = {
                {"Test Pattern", "75% Colorbar", 0},       {"OSD Text Mode", "Counters Only", 0},
                {"Show Border", NULL, 0},                  {"Show Square", NULL, 0},
                {"Horizontal Movement", "No Movement", 0}, {"Vertical Movement", "No Movement", 0},
                {"Alpha Component", NULL, 0},
        };
        for (size_t i = 0; i < sizeof ctrls / sizeof ctrls[0]; i++) {
                int r = set_control(vfd, ctrls[i].name, ctrls[i].item, ctrls[i].value);
                if (r < 0)
                        say("warning: control '%s': %s", ctrls[i].name, strerror(-r));
        }
        say("%s (vivid): test pattern 75%% colour bars, OSD counters only (one line of text at rows %u-%u), no border, "
            "square or movement", path, OSD_Y0, OSD_Y1 - 1);
        if (participant_start(&p) < 0)
                return 1;
        int r = sysmem_device_constraints_from_v4l2(vfd, V4L2_BUF_TYPE_VIDEO_CAPTURE, WIDTH, HEIGHT, p.alloc, &p.dc);
        if (r < 0) {
                say("constraints from %s: %s", path, strerror(-r));
                return 1;
        }
        struct sysmem_constraints *c = sysmem_device_constraints_get(p.dc);
        c->min_buffer_count_for_camping = 2; /* one being filled, one queued behind it */
        if (participant_negotiate(&p, c, sysmem_device_constraints_explain(p.dc)) < 0)
                return 1;

        /* The negotiated format as V4L2's: the pixel format with that DRM fourcc, at the negotiated stride. */
        const struct sysmem_image_format_settings *f = &p.info->settings.image_format_constraints;
        struct sysmem_plane_layout l;
        if (!p.info->settings.has_image_format_constraints || sysmem_image_layout(f, WIDTH, HEIGHT, &l) < 0) {
                say("no image format in the settings");
                return 1;
        }
        uint32_t pixfmt = 0;
        for (uint32_t i = 0; !pixfmt; i++) {
                struct v4l2_fmtdesc d = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
                if (ioctl(vfd, VIDIOC_ENUM_FMT, &d) < 0)
                        break;
                if (sysmem_drm_format_from_v4l2(d.pixelformat) == f->pixel_format)
                        pixfmt = d.pixelformat;
        }
        char fc[5], vc[5];
        struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        fmt.fmt.pix.width = WIDTH;
        fmt.fmt.pix.height = HEIGHT;
        fmt.fmt.pix.pixelformat = pixfmt;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        fmt.fmt.pix.bytesperline = l.bytes_per_row[0];
        if (!pixfmt || ioctl(vfd, VIDIOC_S_FMT, &fmt) < 0 || fmt.fmt.pix.pixelformat != pixfmt ||
            fmt.fmt.pix.width != WIDTH || fmt.fmt.pix.height != HEIGHT ||
            fmt.fmt.pix.bytesperline != l.bytes_per_row[0] ||
            fmt.fmt.pix.sizeimage > p.info->settings.buffer_settings.raw_vmo_size) {
                say("vivid does not take the negotiated format %s at %ux%u, stride %u (got %s %ux%u stride %u)",
                    fourcc_str(f->pixel_format, fc), WIDTH, HEIGHT, l.bytes_per_row[0],
                    fourcc_str(fmt.fmt.pix.pixelformat, vc), fmt.fmt.pix.width, fmt.fmt.pix.height,
                    fmt.fmt.pix.bytesperline);
                participant_finish(&p);
                return 1;
        }
        say("S_FMT %s (DRM %s) %ux%u, bytesperline %u, sizeimage %u, colorspace %u, quantization %u",
            fourcc_str(pixfmt, vc), fourcc_str(f->pixel_format, fc), WIDTH, HEIGHT, fmt.fmt.pix.bytesperline,
            fmt.fmt.pix.sizeimage, fmt.fmt.pix.colorspace, fmt.fmt.pix.quantization);

        /* The highest frame rate vivid offers at this size (its default is a few frames a second). */
        struct v4l2_fract best = {0, 0};
        for (uint32_t i = 0;; i++) {
                struct v4l2_frmivalenum iv = {.index = i, .pixel_format = pixfmt, .width = WIDTH, .height = HEIGHT};
                if (ioctl(vfd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) < 0 || iv.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                        break;
                if (!best.denominator || (uint64_t)iv.discrete.numerator * best.denominator <
                                                 (uint64_t)best.numerator * iv.discrete.denominator)
                        best = iv.discrete;
        }
        if (best.denominator) {
                struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
                parm.parm.capture.timeperframe = best;
                if (ioctl(vfd, VIDIOC_S_PARM, &parm) == 0)
                        say("frame interval %u/%u s", parm.parm.capture.timeperframe.numerator,
                            parm.parm.capture.timeperframe.denominator);
        }
        uint32_t count = p.info->buffer_count;
        struct v4l2_requestbuffers rb = {.count = count, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                         .memory = V4L2_MEMORY_DMABUF};
        if (ioctl(vfd, VIDIOC_REQBUFS, &rb) < 0 || rb.count < count) {
                say("REQBUFS %u DMABUF: %s (count %u)", count, strerror(errno), rb.count);
                participant_finish(&p);
                return 1;
        }
        /* A buffer is queued again once the cpu returned it and the display flipped away from it. */
        bool with_cpu[SYSMEM_MAX_BUFFERS] = {0}, on_screen[SYSMEM_MAX_BUFFERS] = {0};
        for (uint32_t i = 0; i < count; i++) {
                struct v4l2_buffer b = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
                b.m.fd = p.info->buffers[i].fd;
                b.length = (uint32_t)p.info->settings.buffer_settings.raw_vmo_size;
                if (ioctl(vfd, VIDIOC_QBUF, &b) < 0) {
                        say("QBUF %u (dma-buf fd %d): %s", i, b.m.fd, strerror(errno));
                        participant_finish(&p);
                        return 1;
                }
        }
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (ioctl(vfd, VIDIOC_STREAMON, &type) < 0) {
                say("STREAMON: %s", strerror(errno));
                participant_finish(&p);
                return 1;
        }
        say("streaming: %u sysmem buffers queued as V4L2_MEMORY_DMABUF", count);
        uint64_t t_start = now_ns(), t_first = 0;
        uint32_t captured = 0, returned = 0;
        bool streaming = true, ended = false, ok = true;
        while (!ended) {
                struct pollfd pf[4] = {
                        {.fd = streaming ? vfd : -1, .events = POLLIN},
                        {.fd = FD_IN, .events = POLLIN},
                        {.fd = FD_AUX, .events = POLLIN},
                        {.fd = sysmem_node_get_fd(sysmem_collection_node(p.coll)), .events = POLLIN},
                };
                int n = poll(pf, 4, STEP_TIMEOUT_MS);
                if (n == 0) {
                        say("timed out waiting for a frame or a returned buffer");
                        ok = false;
                        break;
                }
                if (n < 0)
                        continue;
                if (pf[3].revents && participant_check_failed(&p)) {
                        ok = false;
                        break;
                }
                if (pf[0].revents & POLLIN) {
                        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
                        if (ioctl(vfd, VIDIOC_DQBUF, &b) == 0) {
                                if (!captured)
                                        t_first = now_ns();
                                captured++;
                                with_cpu[b.index] = on_screen[b.index] = true;
                                struct msg m = {.type = MSG_FRAME, .index = b.index, .seq = b.sequence,
                                                .t_captured = now_ns()};
                                if (b.flags & V4L2_BUF_FLAG_ERROR)
                                        say("warning: frame %u has V4L2_BUF_FLAG_ERROR", b.sequence);
                                send_msg(FD_OUT, &m);
                                if (captured == frames) {
                                        /* Enough: stop the device (queued buffers come back to vb2), end the flow. */
                                        ioctl(vfd, VIDIOC_STREAMOFF, &type);
                                        streaming = false;
                                        struct msg e = {.type = MSG_END};
                                        send_msg(FD_OUT, &e);
                                }
                        }
                }
                for (int k = 1; k <= 2; k++) {
                        if (!pf[k].revents)
                                continue;
                        struct msg m;
                        ssize_t got = recv(pf[k].fd, &m, sizeof m, 0);
                        if (got <= 0) {
                                say("the %s went away", k == 1 ? "cpu" : "display");
                                ok = false;
                                ended = true;
                                break;
                        }
                        if (m.type == MSG_END) {
                                ended = true; /* the end went round the ring: everyone is done */
                                break;
                        }
                        if (m.index >= count)
                                continue;
                        if (k == 1) {
                                with_cpu[m.index] = false;
                                returned++;
                        } else {
                                on_screen[m.index] = false;
                        }
                        if (streaming && !with_cpu[m.index] && !on_screen[m.index]) {
                                struct v4l2_buffer b = {.index = m.index, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                                        .memory = V4L2_MEMORY_DMABUF};
                                b.m.fd = p.info->buffers[m.index].fd;
                                b.length = (uint32_t)p.info->settings.buffer_settings.raw_vmo_size;
                                if (ioctl(vfd, VIDIOC_QBUF, &b) < 0)
                                        say("QBUF %u again: %s", m.index, strerror(errno));
                        }
                }
        }
        if (streaming)
                ioctl(vfd, VIDIOC_STREAMOFF, &type);
        struct v4l2_requestbuffers none = {.count = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                           .memory = V4L2_MEMORY_DMABUF};
        ioctl(vfd, VIDIOC_REQBUFS, &none);
        close(vfd);
        double first_ms = t_first ? (double)(t_first - t_start) / 1e6 : 0;
        double total_ms = ms_since(t_start);
        say("captured %u frames (%u returned by the cpu); first frame %.1f ms after STREAMON, %.1f ms in all", captured,
            returned, first_ms, total_ms);
        ok = ok && captured == frames;
        send_ctl(p.ctl, CTL_RESULT, ok, captured, 0, "captured %u frames; first %.1f ms after STREAMON, %.1f ms/frame",
                 captured, first_ms, captured > 1 && t_first ? (double)(now_ns() - t_first) / 1e6 / (captured - 1) : 0);
        participant_finish(&p);
        return ok ? 0 : 1;
}

/* ---- display ---- */

struct display {
        int fd;
        uint32_t crtc, connector, plane;
        drmModeModeInfo mode;
        uint32_t fbs[SYSMEM_MAX_BUFFERS], handles[SYSMEM_MAX_BUFFERS];
        uint32_t count;
        bool flip_done;
};

static void flip_handler(int fd, unsigned seq, unsigned tv_sec, unsigned tv_usec, void *data) {
        (void)fd, (void)seq, (void)tv_sec, (void)tv_usec;
        ((struct display *)data)->flip_done = true;
}

/* The first connected connector, a CRTC for it, a WIDTH x HEIGHT mode and the CRTC's primary plane. */
static int display_find(struct display *d) {
        drmSetClientCap(d->fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
        drmModeRes *res = drmModeGetResources(d->fd);
        if (!res)
                return -errno;
        int r = -ENOENT, crtc_index = -1;
        for (int i = 0; i < res->count_connectors && r; i++) {
                drmModeConnector *con = drmModeGetConnector(d->fd, res->connectors[i]);
                if (!con)
                        continue;
                for (int m = 0; con->connection == DRM_MODE_CONNECTED && m < con->count_modes && r; m++)
                        if (con->modes[m].hdisplay == WIDTH && con->modes[m].vdisplay == HEIGHT) {
                                d->mode = con->modes[m];
                                d->connector = con->connector_id;
                                r = 0;
                        }
                drmModeFreeConnector(con);
        }
        if (!r) {
                d->crtc = res->crtcs[0];
                crtc_index = 0;
        }
        drmModeFreeResources(res);
        if (r)
                return r;
        drmModePlaneRes *pr = drmModeGetPlaneResources(d->fd);
        for (uint32_t i = 0; pr && i < pr->count_planes && !d->plane; i++) {
                drmModePlane *pl = drmModeGetPlane(d->fd, pr->planes[i]);
                if (!pl)
                        continue;
                drmModeObjectProperties *props = drmModeObjectGetProperties(d->fd, pl->plane_id, DRM_MODE_OBJECT_PLANE);
                for (uint32_t k = 0; props && k < props->count_props; k++) {
                        drmModePropertyRes *pp = drmModeGetProperty(d->fd, props->props[k]);
                        if (pp && !strcmp(pp->name, "type") && props->prop_values[k] == DRM_PLANE_TYPE_PRIMARY &&
                            (pl->possible_crtcs & (1u << crtc_index)))
                                d->plane = pl->plane_id;
                        drmModeFreeProperty(pp);
                }
                drmModeFreeObjectProperties(props);
                drmModeFreePlane(pl);
        }
        drmModeFreePlaneResources(pr);
        return d->plane ? 0 : -ENOENT;
}

static void display_cleanup(struct display *d) {
        for (uint32_t i = 0; i < d->count; i++) {
                if (d->fbs[i])
                        drmModeRmFB(d->fd, d->fbs[i]);
                if (d->handles[i])
                        drmCloseBufferHandle(d->fd, d->handles[i]);
        }
        d->count = 0;
}

/*
 * The last frame stays up, its framebuffer alive, until the runner says CTL_QUIT. On CTL_CHECK (kill mode:
 * the collection has failed, the others are gone) it compares the screen with the buffer on it, through its
 * own mapping of its own fd: the buffer outlives the collection for as long as someone holds it.
 */
static void display_hold(const struct participant *p, uint32_t shown, const struct sysmem_plane_layout *l) {
        for (;;) {
                struct pollfd pf = {.fd = FD_CTL, .events = POLLIN};
                struct ctl m;
                if (poll(&pf, 1, 60000) <= 0 || recv(FD_CTL, &m, sizeof m, 0) != (ssize_t)sizeof m || m.type != CTL_CHECK)
                        return;
                char detail[1024] = "no frame on the screen";
                int screen = 0;
                if (p->info && shown < p->info->buffer_count) {
                        size_t size = p->info->settings.buffer_settings.raw_vmo_size;
                        int fd = p->info->buffers[shown].fd;
                        const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
                        if (map == MAP_FAILED) {
                                snprintf(detail, sizeof detail, "mmap of buffer %u: %s", shown, strerror(errno));
                        } else {
                                sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                                screen = screen_check(map + l->offset[0], l->bytes_per_row[0], NULL, detail,
                                                      sizeof detail);
                                sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                                munmap((void *)map, size);
                        }
                }
                say("screen check (buffer %u, still on the screen): %s: %s", shown,
                    screen > 0 ? "PASS" : screen == 0 ? "FAIL" : "SKIPPED", detail);
                send_ctl(FD_CTL, CTL_SCREEN, (uint32_t)(screen + 1), 0, 0, "%s", detail);
        }
}

static int role_display(void) {
        struct participant p = {0};
        struct display d = {0};
        char path[64];
        /* The daemon opened the card first and gave DRM master up (src/heaps/drm.c): this open gets it. */
        d.fd = open_drm("virtio_gpu", path, sizeof path);
        if (d.fd < 0) {
                say("no virtio_gpu card");
                return 1;
        }
        if (!drmIsMaster(d.fd) && drmSetMaster(d.fd) != 0) {
                say("%s: not DRM master and cannot become it: %s", path, strerror(errno));
                return 1;
        }
        int r = display_find(&d);
        if (r < 0) {
                say("%s: no connected connector with a %ux%u mode and a primary plane: %s", path, WIDTH, HEIGHT,
                    strerror(-r));
                return 1;
        }
        say("%s (virtio_gpu): DRM master, connector %u, CRTC %u, primary plane %u, mode %s", path, d.connector, d.crtc,
            d.plane, d.mode.name);
        if (participant_start(&p) < 0)
                return 1;
        if ((r = sysmem_device_constraints_from_kms_plane(d.fd, d.plane, p.alloc, &p.dc)) < 0) {
                say("constraints from plane %u: %s", d.plane, strerror(-r));
                return 1;
        }
        struct sysmem_constraints *c = sysmem_device_constraints_get(p.dc);
        c->min_buffer_count_for_camping = 1; /* the one on the screen */
        if (participant_negotiate(&p, c, sysmem_device_constraints_explain(p.dc)) < 0)
                return 1;
        const struct sysmem_image_format_settings *f = &p.info->settings.image_format_constraints;
        struct sysmem_plane_layout l;
        if (!p.info->settings.has_image_format_constraints || sysmem_image_layout(f, WIDTH, HEIGHT, &l) < 0) {
                say("no image format in the settings");
                return 1;
        }
        /* Every buffer a framebuffer: the dma-buf is the card's own dumb buffer, so the import is its handle. */
        d.count = p.info->buffer_count;
        for (uint32_t i = 0; i < d.count; i++) {
                if (drmPrimeFDToHandle(d.fd, p.info->buffers[i].fd, &d.handles[i]) != 0) {
                        say("buffer %u: drmPrimeFDToHandle: %s", i, strerror(errno));
                        goto fail;
                }
                uint32_t h[4] = {d.handles[i]}, pitch[4] = {l.bytes_per_row[0]}, off[4] = {(uint32_t)l.offset[0]};
                uint64_t mod[4] = {f->pixel_format_modifier};
                int fr = f->pixel_format_modifier != DRM_FORMAT_MOD_LINEAR
                                 ? drmModeAddFB2WithModifiers(d.fd, WIDTH, HEIGHT, f->pixel_format, h, pitch, off, mod,
                                                              &d.fbs[i], DRM_MODE_FB_MODIFIERS)
                                 : drmModeAddFB2(d.fd, WIDTH, HEIGHT, f->pixel_format, h, pitch, off, &d.fbs[i], 0);
                if (fr != 0) {
                        say("buffer %u: drmModeAddFB2: %s", i, strerror(errno));
                        goto fail;
                }
        }
        say("%u framebuffers, %ux%u stride %u", d.count, WIDTH, HEIGHT, l.bytes_per_row[0]);
        drmEventContext ev = {.version = 2, .page_flip_handler = flip_handler};
        uint32_t flips = 0, shown = UINT32_MAX, last_seq = 0;
        double flip_ms_sum = 0, flip_ms_max = 0;
        bool ok = true, ended = false, first = true;
        for (;;) {
                struct msg m;
                int got = participant_recv(&p, FD_IN, &m, sizeof m, STEP_TIMEOUT_MS);
                if (got <= 0) {
                        if (got == 0) {
                                say("the camera went away mid-stream");
                                participant_await_failure(&p);
                        } else if (!p.failed) {
                                say("timed out waiting for a frame");
                        }
                        ok = false;
                        break;
                }
                if (m.type == MSG_END) {
                        ended = true;
                        send_msg(FD_OUT, &m);
                        break;
                }
                if (m.type != MSG_FRAME || m.index >= d.count)
                        continue;
                uint64_t t0 = now_ns();
                if (first) {
                        if (drmModeSetCrtc(d.fd, d.crtc, d.fbs[m.index], 0, 0, &d.connector, 1, &d.mode) != 0) {
                                say("drmModeSetCrtc: %s", strerror(errno));
                                ok = false;
                                break;
                        }
                        first = false;
                } else {
                        d.flip_done = false;
                        if (drmModePageFlip(d.fd, d.crtc, d.fbs[m.index], DRM_MODE_PAGE_FLIP_EVENT, &d) != 0) {
                                say("drmModePageFlip: %s", strerror(errno));
                                ok = false;
                                break;
                        }
                        while (!d.flip_done) {
                                struct pollfd pf = {.fd = d.fd, .events = POLLIN};
                                if (poll(&pf, 1, STEP_TIMEOUT_MS) <= 0)
                                        break;
                                drmHandleEvent(d.fd, &ev);
                        }
                        if (!d.flip_done) {
                                say("no page-flip event");
                                ok = false;
                                break;
                        }
                }
                /* virtio-gpu sends the host nothing without a flush: DirtyFB over the whole frame. */
                drmModeClip clip = {0, 0, WIDTH, HEIGHT};
                drmModeDirtyFB(d.fd, d.fbs[m.index], &clip, 1);
                double ms = ms_since(t0);
                flip_ms_sum += ms;
                if (ms > flip_ms_max)
                        flip_ms_max = ms;
                flips++;
                last_seq = m.seq;
                /* The previous buffer is off the screen now: the camera may fill it again. */
                if (shown != UINT32_MAX && shown != m.index) {
                        struct msg rel = {.type = MSG_RELEASE, .index = shown};
                        send_msg(FD_AUX, &rel);
                }
                shown = m.index;
                send_msg(FD_OUT, &m);
        }
        say("%s %u frames (%s, then %u page flips with events; %.1f ms per flip on average, %.1f ms at most); "
            "frame %u in buffer %u stays on the screen",
            ok ? "showed" : "stopped after", flips, flips ? "drmModeSetCrtc" : "nothing", flips ? flips - 1 : 0,
            flips > 1 ? flip_ms_sum / flips : flip_ms_sum, flip_ms_max, last_seq, shown);
        send_ctl(p.ctl, CTL_RESULT, ok && ended, flips, 0, "%u frames on the screen (1 mode set + %u page flips), %.1f ms "
                 "per flip on average, %.1f ms at most; last frame %u (buffer %u) kept on the screen",
                 flips, flips ? flips - 1 : 0, flips ? flip_ms_sum / flips : 0, flip_ms_max, last_seq, shown);
        /* The last frame stays up, its framebuffer alive, until the runner has looked at the screen. */
        display_hold(&p, shown, &l);
        display_cleanup(&d);
        participant_finish(&p);
        close(d.fd);
        return ok && ended ? 0 : 3;
fail:
        display_cleanup(&d);
        participant_finish(&p);
        close(d.fd);
        return 1;
}

/* ---- gpu (vgem) ---- */

static int role_gpu(void) {
        struct participant p = {0};
        char path[64];
        int vgem = open_drm("vgem", path, sizeof path);
        if (vgem < 0) {
                say("no vgem card");
                return 1;
        }
        if (participant_start(&p) < 0)
                return 1;
        /* vgem has no planes or queues to ask: a GPU stand-in that imports any dma-buf, in any layout. */
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        struct sysmem_heap permitted[SYSMEM_MAX_HEAPS];
        size_t n = 0, k = 0;
        int r = sysmem_allocator_get_heaps(p.alloc, heaps, SYSMEM_MAX_HEAPS, &n);
        char explain[1024];
        size_t e = (size_t)snprintf(explain, sizeof explain,
                                    "vgem (%s) imports any dma-buf (PRIME import): permitted heaps are the daemon's "
                                    "dma-buf heaps:", path);
        for (size_t i = 0; r >= 0 && i < n && i < SYSMEM_MAX_HEAPS; i++)
                if (heaps[i].flags & SYSMEM_HEAP_FLAG_DMA_BUF) {
                        permitted[k++] = heaps[i].heap;
                        if (e < sizeof explain)
                                e += (size_t)snprintf(explain + e, sizeof explain - e, " %s", heaps[i].heap.heap_type);
                }
        if (e < sizeof explain)
                snprintf(explain + e, sizeof explain - e, "\nno image format constraints (it samples whatever is chosen)");
        struct sysmem_constraints c = {
                .usage = {.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED},
                .min_buffer_count_for_camping = 0,
                .buffer_memory_constraints = {.permitted_heap_count = (uint32_t)k, .permitted_heaps = permitted},
        };
        if (participant_negotiate(&p, &c, explain) < 0)
                return 1;
        uint32_t imported = 0, failed = 0;
        double ms_sum = 0;
        bool ok = true, ended = false;
        for (;;) {
                struct msg m;
                int got = participant_recv(&p, FD_IN, &m, sizeof m, STEP_TIMEOUT_MS);
                if (got <= 0) {
                        if (got == 0) {
                                say("the display went away mid-stream");
                                participant_await_failure(&p);
                        }
                        ok = false;
                        break;
                }
                if (m.type == MSG_END) {
                        ended = true;
                        send_msg(FD_OUT, &m);
                        break;
                }
                if (m.type != MSG_FRAME || m.index >= p.info->buffer_count)
                        continue;
                /* The GPU's import: the dma-buf becomes a GEM handle of vgem, then is let go. */
                uint64_t t0 = now_ns();
                uint32_t h = 0;
                if (drmPrimeFDToHandle(vgem, p.info->buffers[m.index].fd, &h) != 0 || !h) {
                        say("frame %u: vgem cannot import buffer %u: %s", m.seq, m.index, strerror(errno));
                        failed++;
                } else {
                        imported++;
                        drmCloseBufferHandle(vgem, h);
                }
                ms_sum += ms_since(t0);
                send_msg(FD_OUT, &m);
        }
        close(vgem);
        say("imported %u frames into vgem (%u failed), %.2f ms per import + close", imported, failed,
            imported ? ms_sum / imported : 0);
        ok = ok && ended && !failed;
        send_ctl(p.ctl, CTL_RESULT, ok, imported, 0, "%u frames imported into vgem (drmPrimeFDToHandle + close), "
                 "%u failed, %.2f ms per import", imported, failed, imported ? ms_sum / imported : 0);
        participant_finish(&p);
        return ok ? 0 : 3;
}

/* ---- cpu ---- */

static int role_cpu(void) {
        struct participant p = {0};
        if (participant_start(&p) < 0)
                return 1;
        static const struct sysmem_pixel_format_and_modifier pair = {DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR};
        static const uint32_t srgb = SYSMEM_COLOR_SPACE_SRGB;
        struct sysmem_image_format_constraints ifc = {
                .pixel_format_and_modifier_count = 1,
                .pixel_format_and_modifiers = &pair,
                .color_space_count = 1,
                .color_spaces = &srgb,
        };
        struct sysmem_constraints c = {
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ_OFTEN},
                .min_buffer_count_for_camping = 1,
                .image_format_constraint_count = 1,
                .image_format_constraints = &ifc,
        };
        if (participant_negotiate(&p, &c, "reads XR24 (XRGB8888, LINEAR, sRGB) with the CPU through mmap; any heap") <
            0)
                return 1;
        const struct sysmem_image_format_settings *f = &p.info->settings.image_format_constraints;
        struct sysmem_plane_layout l;
        if (!p.info->settings.has_image_format_constraints || sysmem_image_layout(f, WIDTH, HEIGHT, &l) < 0) {
                say("no image format in the settings");
                return 1;
        }
        size_t size = p.info->settings.buffer_settings.raw_vmo_size;
        uint8_t *map[SYSMEM_MAX_BUFFERS] = {0};
        for (uint32_t i = 0; i < p.info->buffer_count; i++) {
                map[i] = mmap(NULL, size, PROT_READ, MAP_SHARED, p.info->buffers[i].fd, 0);
                if (map[i] == MAP_FAILED) {
                        say("mmap buffer %u: %s", i, strerror(errno));
                        return 1;
                }
        }
        uint32_t checked = 0, bad_frames = 0, same_osd = 0, last = UINT32_MAX, stride = l.bytes_per_row[0];
        uint64_t lat_sum = 0, lat_max = 0;
        double check_ms = 0;
        bool ok = true, ended = false;
        struct bar_check bc = {0};
        /* The OSD line of the last two frames: each frame's counter must differ from the one before. */
        uint8_t *osd_last = calloc(1, OSD_BYTES(stride)), *osd_prev = calloc(1, OSD_BYTES(stride));
        if (!osd_last || !osd_prev)
                return 1;
        for (;;) {
                struct msg m;
                int got = participant_recv(&p, FD_IN, &m, sizeof m, STEP_TIMEOUT_MS);
                if (got <= 0) {
                        if (got == 0) {
                                say("the gpu went away mid-stream");
                                participant_await_failure(&p);
                        }
                        ok = false;
                        break;
                }
                if (m.type == MSG_END) {
                        ended = true;
                        break;
                }
                if (m.type != MSG_FRAME || m.index >= p.info->buffer_count)
                        continue;
                uint64_t t0 = now_ns();
                int fd = p.info->buffers[m.index].fd;
                const uint8_t *img = map[m.index] + l.offset[0];
                sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                check_bars(img, stride, &bc);
                uint8_t *t = osd_prev;
                osd_prev = osd_last;
                osd_last = t;
                memcpy(osd_last, img + (size_t)OSD_Y0 * stride, OSD_BYTES(stride));
                sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                bool same = checked > 0 && !memcmp(osd_last, osd_prev, OSD_BYTES(stride));
                check_ms += ms_since(t0);
                uint64_t lat = now_ns() - m.t_captured;
                lat_sum += lat;
                if (lat > lat_max)
                        lat_max = lat;
                checked++;
                /* vivid sometimes delivers one frame twice (same sequence, same counter): noted, not wrong. */
                bool bad = bc.bad || !bc.text;
                bad_frames += bad;
                same_osd += same;
                if (checked == 1 || bad || same)
                        say("frame %u (buffer %u): %lu pixels outside the OSD line differ from the 75%% bars, %lu text "
                            "pixels in it (all non-bar pixels in x %u-%u, y %u-%u)%s; %s",
                            m.seq, m.index, bc.bad, bc.text, bc.x0, bc.x1, bc.y0, bc.y1,
                            same ? "; vivid delivered the previous frame again (same sequence and counter)" : "", bc.bands);
                last = m.index;
                send_ctl(p.ctl, CTL_FRAME, m.seq, !bad, m.index, NULL);
                /* Back to the camera (which queues it once the display is off it too). */
                struct msg ret = {.type = MSG_RELEASE, .index = m.index, .seq = m.seq};
                send_msg(FD_OUT, &ret);
        }
        char detail[1024] = "the stream did not end (the display checks the screen then)";
        int screen = -1;
        if (ended && last != UINT32_MAX) {
                /*
                 * The display holds the last frame on the screen: the screen must be this buffer, exactly, and
                 * not the frame before (their OSD counters differ).
                 */
                int fd = p.info->buffers[last].fd;
                sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                bool distinct = checked > 1 && memcmp(osd_prev, osd_last, OSD_BYTES(stride)) != 0;
                screen = screen_check(map[last] + l.offset[0], stride, distinct ? osd_prev : NULL, detail,
                                      sizeof detail);
                sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
                say("screen check (last frame, buffer %u): %s: %s", last,
                    screen > 0 ? "PASS" : screen == 0 ? "FAIL" : "SKIPPED", detail);
        }
        free(osd_last);
        free(osd_prev);
        say("checked %u frames, %u wrong (%u repeats of the frame before); %.1f ms per check of %u pixels; "
            "capture to checked %.1f ms on average, %.1f ms at most",
            checked, bad_frames, same_osd, checked ? check_ms / checked : 0, WIDTH * HEIGHT,
            checked ? (double)lat_sum / checked / 1e6 : 0, (double)lat_max / 1e6);
        ok = ok && ended && checked > 0 && !bad_frames && screen != 0;
        send_ctl(p.ctl, CTL_RESULT, ok, checked, (uint32_t)(screen + 1),
                 "%u frames checked pixel by pixel (%u wrong; bands %s); capture to checked %.1f ms average, %.1f ms "
                 "max; screen check: %s: %s",
                 checked, bad_frames, bc.bands, checked ? (double)lat_sum / checked / 1e6 : 0, (double)lat_max / 1e6,
                 screen > 0 ? "PASS" : screen == 0 ? "FAIL" : "SKIPPED", detail);
        if (ended) {
                /* Close the ring: the camera is done once the end came round. */
                struct msg e = {.type = MSG_END};
                send_msg(FD_OUT, &e);
        }
        for (uint32_t i = 0; i < p.info->buffer_count; i++)
                munmap(map[i], size);
        participant_finish(&p);
        return ok ? 0 : 3;
}

/* ---- leak accounting ---- */

/* dma-bufs in the system (debugfs bufinfo's total), or -1 when debugfs is not there. */
static long count_dma_bufs(void) {
        FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
        if (!f)
                return -1;
        char line[512];
        long total = -1, n;
        char c;
        /* "Total N objects, B bytes" (each buffer's "Total N devices attached" is not it). */
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Total %ld objects%c", &n, &c) == 2 && c == ',') {
                        total = n;
                        break;
                }
        fclose(f);
        return total;
}

/* Open dma-buf fds in all processes (their fdinfo has exp_name). */
static long count_dma_buf_fds(void) {
        DIR *proc = opendir("/proc");
        if (!proc)
                return -1;
        long n = 0;
        struct dirent *pd;
        while ((pd = readdir(proc))) {
                if (pd->d_name[0] < '0' || pd->d_name[0] > '9')
                        continue;
                char dir[300];
                snprintf(dir, sizeof dir, "/proc/%s/fdinfo", pd->d_name);
                DIR *fds = opendir(dir);
                struct dirent *fd;
                while (fds && (fd = readdir(fds))) {
                        char path[600], line[256];
                        snprintf(path, sizeof path, "%s/%s", dir, fd->d_name);
                        FILE *f = fd->d_name[0] != '.' ? fopen(path, "r") : NULL;
                        while (f && fgets(line, sizeof line, f))
                                if (!strncmp(line, "exp_name:", 9)) {
                                        n++;
                                        break;
                                }
                        if (f)
                                fclose(f);
                }
                if (fds)
                        closedir(fds);
        }
        closedir(proc);
        return n;
}

/* Framebuffers of the DRM device whose debugfs name starts with drv, or -1. */
static long count_fbs(const char *drv) {
        DIR *d = opendir("/sys/kernel/debug/dri");
        if (!d)
                return -1;
        long n = -1;
        struct dirent *e;
        while ((e = readdir(d)) && n < 0) {
                char path[300], line[256] = "";
                snprintf(path, sizeof path, "/sys/kernel/debug/dri/%s/name", e->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                bool match = fgets(line, sizeof line, f) && !strncmp(line, drv, strlen(drv));
                fclose(f);
                if (!match)
                        continue;
                snprintf(path, sizeof path, "/sys/kernel/debug/dri/%s/framebuffer", e->d_name);
                if (!(f = fopen(path, "r")))
                        continue;
                n = 0;
                while (fgets(line, sizeof line, f))
                        n += !strncmp(line, "framebuffer[", 12);
                fclose(f);
        }
        closedir(d);
        return n;
}

struct counts {
        long dma_bufs, dma_buf_fds, fbs;
};

static struct counts take_counts(void) {
        return (struct counts){count_dma_bufs(), count_dma_buf_fds(), count_fbs("virtio_gpu")};
}

/* ---- the runner ---- */

enum { CAMERA, DISPLAY, GPU, CPU, ROLES };
static const char *const role_names[ROLES] = {"camera", "display", "gpu", "cpu"};

struct child {
        pid_t pid;
        int ctl;
        int status;
        bool exited;
        bool allocated, failed, have_result, result_ok;
        uint32_t camping, pairs, frames;
        int screen; /* CTL_SCREEN: 2 pass, 1 fail, 0 not possible; -1 none yet */
        char heaps[512], pair_list[512];
        char failure[3072], result[3072];
};

/* Forks and execs this program as one role, its fds moved to 3..7 (see the top of the file). */
static pid_t spawn_role(const char *self, const char *role, const char *frames, const int fds[5]) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        int high[5];
        for (int i = 0; i < 5; i++)
                high[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 100) : -1;
        for (int i = 0; i < 5; i++) {
                if (high[i] >= 0)
                        dup2(high[i], FD_TOKEN + i); /* dup2 leaves the new fd without CLOEXEC */
                else
                        close(FD_TOKEN + i);
        }
        /* Every other fd is the runner's: close_range from FD_AUX + 1 up. */
        for (int fd = FD_AUX + 1; fd < 1024; fd++)
                close(fd);
        execl(self, self, role, "--frames", frames, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", self, strerror(errno));
        _exit(127);
}

static pid_t start_daemon(const char *sysmemd, const char *socket_path) {
        pid_t pid = fork();
        if (pid == 0) {
                execl(sysmemd, sysmemd, "--socket", socket_path, "--log-level", "warning", (char *)NULL);
                fprintf(stderr, "exec %s: %s\n", sysmemd, strerror(errno));
                _exit(127);
        }
        for (int i = 0; i < 1000; i++) {
                struct stat st;
                if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
                        return pid;
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return -1;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

/* sysmemd: --sysmemd, $SYSMEMD, next to this program in a build tree (../tools/sysmemd), or $PATH. */
static const char *find_sysmemd(const char *arg, char *buf, size_t size) {
        if (arg)
                return arg;
        const char *env = getenv("SYSMEMD");
        if (env && *env)
                return env;
        char self[PATH_MAX - 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0 && size >= PATH_MAX) {
                self[n] = 0;
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        snprintf(buf, size, "%s/../tools/sysmemd", self);
                        if (access(buf, X_OK) == 0)
                                return buf;
                }
        }
        return "sysmemd";
}

/* Reads every pending control message of one child. */
static void runner_read_ctl(struct child *c) {
        struct ctl m;
        ssize_t n;
        while ((n = recv(c->ctl, &m, sizeof m, MSG_DONTWAIT)) == (ssize_t)sizeof m) {
                switch (m.type) {
                case CTL_ASKED:
                        c->camping = m.a;
                        c->pairs = m.b;
                        snprintf(c->heaps, sizeof c->heaps, "%s", m.heaps);
                        snprintf(c->pair_list, sizeof c->pair_list, "%s", m.pairs);
                        break;
                case CTL_ALLOCATED:
                        c->allocated = true;
                        break;
                case CTL_FAILED:
                        c->failed = true;
                        snprintf(c->failure, sizeof c->failure, "%s", m.text);
                        break;
                case CTL_RESULT:
                        c->have_result = true;
                        c->result_ok = m.a;
                        snprintf(c->result, sizeof c->result, "%s", m.text);
                        break;
                case CTL_FRAME:
                        c->frames++; /* the cpu checked one */
                        break;
                case CTL_SCREEN:
                        c->screen = (int)m.a;
                        snprintf(c->failure + strlen(c->failure), sizeof c->failure - strlen(c->failure),
                                 "; screen check with the buffer on the screen: %s: %s",
                                 m.a == 2 ? "PASS" : m.a == 1 ? "FAIL" : "SKIPPED", m.text);
                        break;
                }
        }
        if (n == 0) {
                close(c->ctl);
                c->ctl = -1;
        }
}

/* Whether item (a heap or "FMT:0xMOD") is in a comma-separated list ("any" holds everything). */
static bool in_list(const char *list, const char *item) {
        if (!strcmp(list, "any"))
                return true;
        size_t len = strlen(item);
        for (const char *p = list; (p = strstr(p, item)); p += len)
                if ((p == list || p[-1] == ',') && (p[len] == ',' || !p[len]))
                        return true;
        return false;
}

static void print_choice(struct sysmem_allocator *alloc, const struct sysmem_collection_info *info,
                         struct child ch[ROLES]) {
        const struct sysmem_buffer_memory_settings *bs = &info->settings.buffer_settings;
        const struct sysmem_image_format_settings *f = &info->settings.image_format_constraints;
        char fc[5];
        struct sysmem_plane_layout l = {0};
        bool img = info->settings.has_image_format_constraints && sysmem_image_layout(f, WIDTH, HEIGHT, &l) == 0;
        say("== chosen: heap %s, %u buffers of %" PRIu64 " bytes (fd size %" PRIu64 "), format %s modifier 0x%" PRIx64
            ", colour space %u, %ux%u, stride %u",
            bs->heap.heap_type, info->buffer_count, bs->size_bytes, bs->raw_vmo_size,
            img ? fourcc_str(f->pixel_format, fc) : "none", img ? f->pixel_format_modifier : 0,
            img ? f->color_space : 0, WIDTH, HEIGHT, img ? l.bytes_per_row[0] : 0);
        /* Why: the heap every participant permits, the pair every participant lists, the camping counts. */
        char line[2048];
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count = 0, n = 0, common = 0;
        char all[512] = "";
        if (sysmem_allocator_get_heaps(alloc, heaps, SYSMEM_MAX_HEAPS, &count) < 0)
                count = 0;
        for (size_t h = 0; h < count && h < SYSMEM_MAX_HEAPS; h++) {
                bool everyone = true;
                for (int i = 0; i < ROLES; i++)
                        everyone = everyone && in_list(ch[i].heaps, heaps[h].heap.heap_type);
                if (everyone && n < sizeof all) {
                        n += (size_t)snprintf(all + n, sizeof all - n, "%s%s", n ? ", " : "", heaps[h].heap.heap_type);
                        common++;
                }
        }
        n = (size_t)snprintf(line, sizeof line, "why the heap: of the daemon's %zu heaps, all four permit %s%s (", count,
                             common == 1 ? "only " : "", common ? all : "none");
        for (int i = 0; i < ROLES && n < sizeof line; i++)
                n += (size_t)snprintf(line + n, sizeof line - n, "%s%s: %s", i ? "; " : "", role_names[i], ch[i].heaps);
        if (n < sizeof line)
                snprintf(line + n, sizeof line - n, ")");
        say("%s", line);
        if (img) {
                char pair[64];
                snprintf(pair, sizeof pair, "%s:0x%" PRIx64, fourcc_str(f->pixel_format, fc), f->pixel_format_modifier);
                n = (size_t)snprintf(line, sizeof line, "why the format: %s is listed by", pair);
                for (int i = 0; i < ROLES && n < sizeof line; i++)
                        n += (size_t)snprintf(line + n, sizeof line - n, "%s %s (%s)", i ? "," : "", role_names[i],
                                              !strcmp(ch[i].pair_list, "any")   ? "any format"
                                              : in_list(ch[i].pair_list, pair) ? (ch[i].pairs == 1 ? "its only pair"
                                                                                                   : "one of its pairs")
                                                                                : "NOT listed");
                say("%s; the size is the camera's %ux%u, the stride %u is vivid's bytesperline and the display's pitch",
                    line, WIDTH, HEIGHT, l.bytes_per_row[0]);
        }
        uint32_t sum = 0;
        n = (size_t)snprintf(line, sizeof line, "why %u buffers: camping", info->buffer_count);
        for (int i = 0; i < ROLES && n < sizeof line; i++) {
                sum += ch[i].camping;
                n += (size_t)snprintf(line + n, sizeof line - n, "%s %s %u", i ? " +" : "", role_names[i], ch[i].camping);
        }
        say("%s = %u", line, sum);
}

static int run(const char *self, const char *sysmemd_arg, uint32_t frames, bool kill_camera) {
        char sysmemd_buf[PATH_MAX];
        const char *sysmemd = find_sysmemd(sysmemd_arg, sysmemd_buf, sizeof sysmemd_buf);
        char vpath[64], dpath[64], gpath[64];
        int probe = open_vivid(vpath, sizeof vpath);
        int dfd = open_drm("virtio_gpu", dpath, sizeof dpath);
        int gfd = open_drm("vgem", gpath, sizeof gpath);
        bool have = probe >= 0 && dfd >= 0 && gfd >= 0;
        if (probe >= 0)
                close(probe);
        if (dfd >= 0)
                close(dfd); /* before sysmemd starts: its open must be the first, so that master goes to the display */
        if (gfd >= 0)
                close(gfd);
        if (!have) {
                printf("SKIP: needs vivid, virtio-gpu and vgem (%s%s%s); run through scripts/vm-run.sh\n",
                       probe < 0 ? "no vivid capture node " : "", dfd < 0 ? "no virtio_gpu card " : "",
                       gfd < 0 ? "no vgem card" : "");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        /* debugfs, for the dma-buf and framebuffer counts (the VM's /sys has it unmounted). */
        if (access("/sys/kernel/debug/dma_buf", F_OK) != 0 && mount("none", "/sys/kernel/debug", "debugfs", 0, NULL) != 0)
                say("warning: cannot mount debugfs (%s): dma-bufs are counted by open fds only", strerror(errno));
        struct counts before = take_counts();
        if (kill_camera)
                say("kill-camera mode: frames of %ux%u until the camera is killed after %u; devices: camera %s (vivid), "
                    "display %s (virtio_gpu), gpu %s (vgem)", WIDTH, HEIGHT, KILL_AFTER_FRAMES, vpath, dpath, gpath);
        else
                say("normal mode, %u frames of %ux%u; devices: camera %s (vivid), display %s (virtio_gpu), gpu %s (vgem)",
                    frames, WIDTH, HEIGHT, vpath, dpath, gpath);
        say("before: %ld dma-bufs in the system, %ld dma-buf fds open, %ld virtio_gpu framebuffers", before.dma_bufs,
            before.dma_buf_fds, before.fbs);

        char dir[] = "/tmp/sysmem-pipeline-XXXXXX";
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        char sock[PATH_MAX];
        snprintf(sock, sizeof sock, "%s/socket", dir);
        setenv("SYSMEM_SOCKET", sock, 1);
        uint64_t t0 = now_ns();
        pid_t daemon = start_daemon(sysmemd, sock);
        if (daemon < 0) {
                say("sysmemd (%s) did not come up on %s", sysmemd, sock);
                rmdir(dir);
                return 1;
        }
        say("sysmemd (%s) on %s, up in %.1f ms", sysmemd, sock, ms_since(t0));

        struct sysmem_allocator *alloc;
        int r = sysmem_allocator_connect(NULL, &alloc);
        struct sysmem_token *root = NULL, *dups[ROLES];
        uint32_t masks[ROLES] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        if (r >= 0)
                sysmem_allocator_set_debug_client_info(alloc, "pipeline-runner", (uint64_t)getpid());
        if (r >= 0)
                r = sysmem_allocator_allocate_shared_with_duplicates(alloc, ROLES, masks, &root, dups);
        if (r < 0) {
                say("cannot make the collection: %s", strerror(-r));
                kill(daemon, SIGTERM);
                waitpid(daemon, NULL, 0);
                return 1;
        }
        sysmem_node_set_name(sysmem_token_node(root), 10, "pipeline-frames");

        /* The ring camera -> display -> gpu -> cpu -> camera, and display -> camera for "off the screen". */
        int ring[ROLES][2], aux[2], ctl[ROLES][2];
        for (int i = 0; i < ROLES; i++) {
                socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ring[i]); /* [0]: role i writes, [1]: i+1 reads */
                socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl[i]);
        }
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, aux);
        char frames_arg[16];
        snprintf(frames_arg, sizeof frames_arg, "%u", frames);
        struct child ch[ROLES];
        memset(ch, 0, sizeof ch);
        for (int i = 0; i < ROLES; i++)
                ch[i].screen = -1;
        uint64_t t_spawn = now_ns();
        for (int i = 0; i < ROLES; i++) {
                int token = sysmem_token_to_fd(dups[i]);
                int in = ring[(i + ROLES - 1) % ROLES][1], out = ring[i][0];
                int fds[5] = {token, ctl[i][1], in, out, i == CAMERA ? aux[1] : i == DISPLAY ? aux[0] : -1};
                ch[i].pid = spawn_role(self, role_names[i], frames_arg, fds);
                ch[i].ctl = ctl[i][0];
                close(token);
        }
        for (int i = 0; i < ROLES; i++) {
                close(ring[i][0]);
                close(ring[i][1]);
                close(ctl[i][1]);
        }
        close(aux[0]);
        close(aux[1]);

        /* The runner takes part without constraints: it gets the settings (no buffers), to report them. */
        struct sysmem_collection *coll = NULL;
        struct sysmem_collection_info *info = NULL;
        bool ok = true;
        r = sysmem_token_bind(root, &coll);
        if (r >= 0)
                r = sysmem_collection_set_constraints(coll, NULL);
        if (r >= 0)
                r = sysmem_collection_wait_allocated(coll, &info);
        double negotiate_ms = ms_since(t_spawn);
        for (int i = 0; i < ROLES; i++)
                runner_read_ctl(&ch[i]);
        if (r < 0) {
                say("the negotiation failed: %s: %s", sysmem_error_name(sysmem_node_error(sysmem_collection_node(coll))),
                    sysmem_node_error_message(sysmem_collection_node(coll)));
                ok = false;
                sysmem_collection_close(coll);
        } else {
                say("negotiated in %.1f ms (4 processes started, constraints read from their devices, buffers "
                    "allocated)", negotiate_ms);
                print_choice(alloc, info, ch);
                if (strcmp(info->settings.buffer_settings.heap.heap_type, "drm:virtio_gpu") != 0) {
                        say("FAIL: virtio-gpu scans out only its own memory, yet the heap is %s",
                            info->settings.buffer_settings.heap.heap_type);
                        ok = false;
                }
                sysmem_collection_info_free(info);
                /* Done with it: a clean release, so the runner is not part of any failure. */
                sysmem_collection_release(coll);
        }

        /* Follow the frames; in kill mode, SIGKILL the camera once the cpu has checked a few. */
        uint64_t t_stream = now_ns(), t_kill = 0;
        bool killed = false, quit_sent = false, check_sent = false;
        struct counts during = {-1, -1, -1};
        for (;;) {
                int live = 0;
                for (int i = 0; i < ROLES; i++) {
                        if (!ch[i].exited) {
                                int st;
                                if (waitpid(ch[i].pid, &st, WNOHANG) == ch[i].pid) {
                                        ch[i].exited = true;
                                        ch[i].status = st;
                                }
                        }
                        live += !ch[i].exited;
                }
                if (!live)
                        break;
                /* Normal mode: the cpu's result (with the screen check) is in; the display may take its frame down. */
                bool others_done = ch[CPU].have_result || ch[CPU].exited;
                if (kill_camera)
                        others_done = killed && (ch[DISPLAY].failed || ch[DISPLAY].have_result) &&
                                      (ch[GPU].exited || ch[GPU].failed) && (ch[CPU].exited || ch[CPU].failed);
                if (others_done && !check_sent) {
                        during = take_counts();
                        say("while the display holds its last frame: %ld dma-bufs in the system, %ld dma-buf fds open, "
                            "%ld virtio_gpu framebuffers", during.dma_bufs, during.dma_buf_fds, during.fbs);
                        /* Kill mode: the display kept its last frame after the failure; it compares it with the screen. */
                        if (kill_camera && ch[DISPLAY].ctl >= 0)
                                send_ctl(ch[DISPLAY].ctl, CTL_CHECK, 0, 0, 0, NULL);
                        check_sent = true;
                }
                if (check_sent && !quit_sent && (!kill_camera || ch[DISPLAY].screen >= 0 || ch[DISPLAY].exited)) {
                        if (ch[DISPLAY].ctl >= 0)
                                send_ctl(ch[DISPLAY].ctl, CTL_QUIT, 0, 0, 0, NULL);
                        quit_sent = true;
                }
                if (ms_since(t_stream) > 120000) {
                        say("FAIL: the pipeline did not finish in 120 s; killing what is left");
                        for (int i = 0; i < ROLES; i++)
                                if (!ch[i].exited)
                                        kill(ch[i].pid, SIGKILL);
                        ok = false;
                }
                struct pollfd pf[ROLES];
                for (int i = 0; i < ROLES; i++)
                        pf[i] = (struct pollfd){.fd = ch[i].ctl, .events = POLLIN};
                poll(pf, ROLES, 50);
                for (int i = 0; i < ROLES; i++) {
                        if (ch[i].ctl < 0 || !pf[i].revents)
                                continue;
                        runner_read_ctl(&ch[i]);
                }
                if (kill_camera && !killed && ch[CPU].frames >= KILL_AFTER_FRAMES) {
                                say("SIGKILL to the camera (pid %d) after %u frames checked", ch[CAMERA].pid, ch[CPU].frames);
                        kill(ch[CAMERA].pid, SIGKILL);
                        killed = true;
                        t_kill = now_ns();
                }
        }
        double stream_ms = ms_since(t_stream);
        double kill_ms = t_kill ? ms_since(t_kill) : 0;
        for (int i = 0; i < ROLES; i++)
                if (ch[i].ctl >= 0) {
                        runner_read_ctl(&ch[i]);
                        close(ch[i].ctl);
                }

        /* Everything the participants held must be gone; the daemon too must have let its buffers go. */
        struct counts after = take_counts();
        for (int i = 0; i < 50 && (after.dma_bufs > before.dma_bufs || after.fbs > before.fbs); i++) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
                after = take_counts();
        }
        sysmem_allocator_free(alloc);
        kill(daemon, SIGTERM);
        int dst = 0;
        waitpid(daemon, &dst, 0);
        struct counts end = take_counts();
        unlink(sock);
        rmdir(dir);

        say("== results (%s mode)", kill_camera ? "kill-camera" : "normal");
        for (int i = 0; i < ROLES; i++) {
                char how[64];
                if (WIFSIGNALED(ch[i].status))
                        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(ch[i].status));
                else
                        snprintf(how, sizeof how, "exit %d", WEXITSTATUS(ch[i].status));
                say("%-7s %s; %s%s%s", role_names[i], how, ch[i].have_result ? ch[i].result : "(no result)",
                    ch[i].failed ? "; saw the collection fail: " : "", ch[i].failed ? ch[i].failure : "");
        }
        if (!kill_camera) {
                for (int i = 0; i < ROLES; i++)
                        if (!WIFEXITED(ch[i].status) || WEXITSTATUS(ch[i].status) != 0 || !ch[i].result_ok) {
                                say("FAIL: %s did not finish cleanly", role_names[i]);
                                ok = false;
                        }
        } else {
                if (!killed || !WIFSIGNALED(ch[CAMERA].status)) {
                        say("FAIL: the camera was not killed mid-stream");
                        ok = false;
                }
                for (int i = DISPLAY; i < ROLES; i++) {
                        /* Each surviving participant is told, with the daemon's reason, and exits on its own. */
                        if (!ch[i].failed || !WIFEXITED(ch[i].status) || WEXITSTATUS(ch[i].status) != 3) {
                                say("FAIL: %s was not failed cleanly (told: %s)", role_names[i],
                                    ch[i].failed ? "yes" : "no");
                                ok = false;
                        }
                }
                /* Where a screendump can be had (the VM), the screen must still be the display's last buffer. */
                if (ch[DISPLAY].screen != 2 && !(ch[DISPLAY].screen == 0 && !getenv("SYSMEM_VM_SCREENDUMP"))) {
                        say("FAIL: the display did not keep its last frame on the screen");
                        ok = false;
                }
        }
        say("timings: negotiation %.1f ms, streaming and teardown %.1f ms%s", negotiate_ms, stream_ms,
            kill_camera ? "" : "");
        if (kill_camera)
                say("timings: from the SIGKILL to every participant gone: %.1f ms", kill_ms);
        bool leak = (before.dma_bufs >= 0 && (after.dma_bufs != before.dma_bufs || end.dma_bufs != before.dma_bufs)) ||
                    after.dma_buf_fds != before.dma_buf_fds || end.dma_buf_fds != before.dma_buf_fds ||
                    (before.fbs >= 0 && (after.fbs != before.fbs || end.fbs != before.fbs));
        say("leaks: dma-bufs %ld before, %ld while the last frame was up, %ld after the participants exited, %ld after "
            "sysmemd exited; dma-buf fds %ld / %ld / %ld / %ld; virtio_gpu framebuffers %ld / %ld / %ld / %ld: %s",
            before.dma_bufs, during.dma_bufs, after.dma_bufs, end.dma_bufs, before.dma_buf_fds, during.dma_buf_fds,
            after.dma_buf_fds,
            end.dma_buf_fds, before.fbs, during.fbs, after.fbs, end.fbs, leak ? "LEAK" : "none");
        if (leak)
                ok = false;
        if (!WIFEXITED(dst) || WEXITSTATUS(dst) != 0) {
                say("FAIL: sysmemd did not exit cleanly on SIGTERM (status 0x%x)", dst);
                ok = false;
        }
        say("%s: %s mode", ok ? "PASS" : "FAIL", kill_camera ? "kill-camera" : "normal");
        return ok ? 0 : 1;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: sysmem-pipeline run [--kill-camera] [--frames N] [--sysmemd PATH]\n"
                   "       sysmem-pipeline camera|display|gpu|cpu --frames N   (started by run, fds 3-7)\n"
                   "A camera (vivid), a display (virtio-gpu), a GPU stand-in (vgem) and a CPU reader share one\n"
                   "sysmem collection; run it in the VM: scripts/vm-run.sh --share BUILD -- BUILD/examples/sysmem-pipeline run\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        uint32_t frames = DEFAULT_FRAMES;
        bool kill_camera = false;
        const char *sysmemd = NULL;
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--kill-camera"))
                        kill_camera = true;
                else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
                        frames = (uint32_t)strtoul(argv[++i], NULL, 10);
                else if (!strcmp(argv[i], "--sysmemd") && i + 1 < argc)
                        sysmemd = argv[++i];
                else {
                        usage(stderr);
                        return 2;
                }
        }
        if (frames < 1 || frames > 1000) {
                fprintf(stderr, "--frames: 1 to 1000\n");
                return 2;
        }
        g_role = argv[1];
        if (!strcmp(argv[1], "run")) {
                char self[PATH_MAX];
                ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
                if (n <= 0)
                        return 1;
                self[n] = 0;
                if (kill_camera)
                        frames = 1000; /* the camera streams until it is killed */
                return run(self, sysmemd, frames, kill_camera);
        }
        signal(SIGPIPE, SIG_IGN);
        if (!strcmp(argv[1], "camera"))
                return role_camera(frames);
        if (!strcmp(argv[1], "display"))
                return role_display();
        if (!strcmp(argv[1], "gpu"))
                return role_gpu();
        if (!strcmp(argv[1], "cpu"))
                return role_cpu();
        usage(stderr);
        return 2;
}
