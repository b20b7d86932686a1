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

/* Appends to the string in buf (its length in *n) as far as it fits; nothing once it is full. */
static void appendf(char *buf, size_t size, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t size, size_t *n, const char *fmt, ...) {
        if (*n >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(buf + *n, size - *n, fmt, ap);
        va_end(ap);
        if (r > 0)
                *n += (size_t)r;
}

/* Appends "FMT:0xMOD" to a comma-separated list of (format, modifier) pairs. */
static void append_pair(char *buf, size_t size, size_t *n, uint32_t format, uint64_t modifier) {
        char fc[5];
        appendf(buf, size, n, "%s%s:0x%" PRIx64, *n ? "," : "", fourcc_str(format, fc), modifier);
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

/* Whether an XRGB8888 pixel (bytes B, G, R, X) has the colour rgb (bytes R, G, B). */
static bool xrgb_is(const uint8_t *xrgb, const uint8_t *rgb) {
        return xrgb[2] == rgb[0] && xrgb[1] == rgb[1] && xrgb[0] == rgb[2];
}

/* Checks an XRGB8888 frame (bytes B, G, R, X) against the bars. */
static void check_bars(const uint8_t *p, uint32_t stride, struct bar_check *r) {
        memset(r, 0, sizeof *r);
        r->x0 = WIDTH;
        r->y0 = HEIGHT;
        for (uint32_t y = 0; y < HEIGHT; y++)
                for (uint32_t x = 0; x < WIDTH; x++) {
                        if (xrgb_is(p + (size_t)y * stride + (size_t)x * 4, expected_rgb(x)))
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
                appendf(r->bands, sizeof r->bands, &n, "%s%s(%u,%u,%u)", b ? " " : "", bar_names[b], q[2], q[1], q[0]);
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

/* The screendump's RGB pixels (w x h) as an XRGB8888 frame (bytes B, G, R, X, stride w * 4), malloc'ed. */
static uint8_t *rgb_to_xrgb(const uint8_t *rgb, uint32_t w, uint32_t h) {
        uint8_t *x = malloc((size_t)w * h * 4);
        for (size_t i = 0; x && i < (size_t)w * h; i++) {
                x[i * 4] = rgb[i * 3 + 2];
                x[i * 4 + 1] = rgb[i * 3 + 1];
                x[i * 4 + 2] = rgb[i * 3];
                x[i * 4 + 3] = 0;
        }
        return x;
}

/*
 * How many pixels of rows y0 to y1 - 1 of the screendump (RGB, w pixels a row) differ from frame, an
 * XRGB8888 image at stride whose first row is row y0.
 */
static unsigned long count_differing(const uint8_t *rgb, uint32_t w, uint32_t y0, uint32_t y1, const uint8_t *frame,
                                     uint32_t stride) {
        unsigned long n = 0;
        for (uint32_t y = y0; y < y1; y++)
                for (uint32_t c = 0; c < w; c++)
                        n += !xrgb_is(frame + (size_t)(y - y0) * stride + (size_t)c * 4, rgb + ((size_t)y * w + c) * 3);
        return n;
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
        /* The screendump as an XRGB8888 frame, for the bar check. */
        uint8_t *x = rgb_to_xrgb(img, w, h);
        if (!x) {
                free(img);
                snprintf(detail, size, "out of memory");
                return 0;
        }
        unsigned long diff_frame = frame ? count_differing(img, w, 0, h, frame, stride) : 0;
        unsigned long diff_prev = prev_osd ? count_differing(img, w, OSD_Y0, OSD_Y1, prev_osd, stride) : 0;
        struct bar_check bc;
        check_bars(x, w * 4, &bc);
        free(x);
        free(img);
        bool ok = bc.bad == 0 && bc.text > 0 && (!frame || diff_frame == 0) && (!prev_osd || diff_prev > 0);
        size_t n = 0;
        appendf(detail, size, &n, "screendump %ux%u: ", w, h);
        if (frame)
                appendf(detail, size, &n, "%lu of %u pixels differ from the last frame; ", diff_frame, WIDTH * HEIGHT);
        if (prev_osd)
                appendf(detail, size, &n, "%lu pixels of the OSD line differ from the frame before; ", diff_prev);
        appendf(detail, size, &n,
                "%lu pixels outside the OSD line differ from the bars, %lu text pixels in it; bands %s", bc.bad,
                bc.text, bc.bands);
        return ok;
}

/* screen_check of a sysmem buffer (fd) through a mapping of it (frame: its image), inside CPU access. */
static int screen_check_buffer(int fd, const uint8_t *frame, uint32_t stride, const uint8_t *prev_osd, char *detail,
                               size_t size) {
        sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
        int screen = screen_check(frame, stride, prev_osd, detail, size);
        sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
        return screen;
}

/* A screen check's result (1, 0, -1) in words. */
static const char *screen_verdict(int screen) { return screen > 0 ? "PASS" : screen == 0 ? "FAIL" : "SKIPPED"; }

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
                appendf(m->heaps, sizeof m->heaps, &n, "%s%s", i ? "," : "", b->permitted_heaps[i].heap_type);
        n = 0;
        uint32_t pairs = 0;
        m->pairs[0] = 0;
        for (uint32_t i = 0; i < c->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *f = &c->image_format_constraints[i];
                if (f->pixel_format && n < sizeof m->pairs) {
                        append_pair(m->pairs, sizeof m->pairs, &n, f->pixel_format,
                                    f->has_pixel_format_modifier ? f->pixel_format_modifier : 0);
                        pairs++;
                }
                for (uint32_t j = 0; j < f->pixel_format_and_modifier_count && n < sizeof m->pairs; j++, pairs++)
                        append_pair(m->pairs, sizeof m->pairs, &n, f->pixel_format_and_modifiers[j].pixel_format,
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

/* Negotiates with the constraints derived from the participant's device (p->dc), camping as given. */
static int participant_negotiate_device(struct participant *p, uint32_t camping) {
        struct sysmem_constraints *c = sysmem_device_constraints_get(p->dc);
        c->min_buffer_count_for_camping = camping;
        return participant_negotiate(p, c, sysmem_device_constraints_explain(p->dc));
}

/* The negotiated image format and its layout at WIDTH x HEIGHT; NULL (and said) when the settings have none. */
static const struct sysmem_image_format_settings *participant_image(const struct participant *p,
                                                                    struct sysmem_plane_layout *l) {
        const struct sysmem_image_format_settings *f = &p->info->settings.image_format_constraints;
        if (!p->info->settings.has_image_format_constraints || sysmem_image_layout(f, WIDTH, HEIGHT, l) < 0) {
                say("no image format in the settings");
                return NULL;
        }
        return f;
}

enum upstream {
        UP_FRAME,  /* a frame in one of the collection's buffers */
        UP_END,    /* MSG_END: no more frames */
        UP_GONE,   /* the upstream closed its socket without MSG_END */
        UP_FAILED, /* the collection failed, or nothing came in time */
};

/* The next message from upstream (fd 5); messages that are not frames of the collection are skipped. */
static enum upstream participant_next_frame(struct participant *p, const char *upstream, struct msg *m) {
        for (;;) {
                int got = participant_recv(p, FD_IN, m, sizeof *m, STEP_TIMEOUT_MS);
                if (got == 0) {
                        say("the %s went away mid-stream", upstream);
                        participant_await_failure(p);
                        return UP_GONE;
                }
                if (got < 0)
                        return UP_FAILED;
                if (m->type == MSG_END)
                        return UP_END;
                if (m->type == MSG_FRAME && m->index < p->info->buffer_count)
                        return UP_FRAME;
        }
}

/* ---- camera ---- */

struct camera {
        struct participant p;
        int fd; /* the vivid capture node */
        char path[64];
        uint32_t frames, count, pixfmt; /* frames to capture, buffers, the V4L2 pixel format */
        /* A buffer is queued again once the cpu returned it and the display flipped away from it. */
        bool with_cpu[SYSMEM_MAX_BUFFERS], on_screen[SYSMEM_MAX_BUFFERS];
        bool streaming;
        uint32_t captured, returned;
        uint64_t t_start, t_first; /* STREAMON, the first DQBUF */
};

static int camera_open(struct camera *cam) {
        cam->fd = open_vivid(cam->path, sizeof cam->path);
        if (cam->fd < 0) {
                say("no vivid capture device");
                return -1;
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
                int r = set_control(cam->fd, ctrls[i].name, ctrls[i].item, ctrls[i].value);
                if (r < 0)
                        say("warning: control '%s': %s", ctrls[i].name, strerror(-r));
        }
        say("%s (vivid): test pattern 75%% colour bars, OSD counters only (one line of text at rows %u-%u), no border, "
            "square or movement", cam->path, OSD_Y0, OSD_Y1 - 1);
        return 0;
}

static int camera_negotiate(struct camera *cam) {
        if (participant_start(&cam->p) < 0)
                return -1;
        int r = sysmem_device_constraints_from_v4l2(cam->fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, WIDTH, HEIGHT, cam->p.alloc,
                                                    &cam->p.dc);
        if (r < 0) {
                say("constraints from %s: %s", cam->path, strerror(-r));
                return -1;
        }
        return participant_negotiate_device(&cam->p, 2); /* one being filled, one queued behind it */
}

/* The capture format with the DRM fourcc drm, or 0. */
static uint32_t v4l2_pixfmt_for(int fd, uint32_t drm) {
        for (uint32_t i = 0;; i++) {
                struct v4l2_fmtdesc d = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
                if (ioctl(fd, VIDIOC_ENUM_FMT, &d) < 0)
                        return 0;
                if (sysmem_drm_format_from_v4l2(d.pixelformat) == drm)
                        return d.pixelformat;
        }
}

/* The negotiated format as V4L2's: the pixel format with that DRM fourcc, at the negotiated stride. */
static int camera_set_format(struct camera *cam, const struct sysmem_image_format_settings *f,
                             const struct sysmem_plane_layout *l) {
        uint32_t pixfmt = v4l2_pixfmt_for(cam->fd, f->pixel_format);
        char fc[5], vc[5];
        struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        fmt.fmt.pix.width = WIDTH;
        fmt.fmt.pix.height = HEIGHT;
        fmt.fmt.pix.pixelformat = pixfmt;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        fmt.fmt.pix.bytesperline = l->bytes_per_row[0];
        if (!pixfmt || ioctl(cam->fd, VIDIOC_S_FMT, &fmt) < 0 || fmt.fmt.pix.pixelformat != pixfmt ||
            fmt.fmt.pix.width != WIDTH || fmt.fmt.pix.height != HEIGHT ||
            fmt.fmt.pix.bytesperline != l->bytes_per_row[0] ||
            fmt.fmt.pix.sizeimage > cam->p.info->settings.buffer_settings.raw_vmo_size) {
                say("vivid does not take the negotiated format %s at %ux%u, stride %u (got %s %ux%u stride %u)",
                    fourcc_str(f->pixel_format, fc), WIDTH, HEIGHT, l->bytes_per_row[0],
                    fourcc_str(fmt.fmt.pix.pixelformat, vc), fmt.fmt.pix.width, fmt.fmt.pix.height,
                    fmt.fmt.pix.bytesperline);
                return -1;
        }
        say("S_FMT %s (DRM %s) %ux%u, bytesperline %u, sizeimage %u, colorspace %u, quantization %u",
            fourcc_str(pixfmt, vc), fourcc_str(f->pixel_format, fc), WIDTH, HEIGHT, fmt.fmt.pix.bytesperline,
            fmt.fmt.pix.sizeimage, fmt.fmt.pix.colorspace, fmt.fmt.pix.quantization);
        cam->pixfmt = pixfmt;
        return 0;
}

/* The highest frame rate vivid offers at this size (its default is a few frames a second). */
static void camera_set_fastest_rate(const struct camera *cam) {
        struct v4l2_fract best = {0, 0};
        for (uint32_t i = 0;; i++) {
                struct v4l2_frmivalenum iv = {.index = i, .pixel_format = cam->pixfmt, .width = WIDTH,
                                              .height = HEIGHT};
                if (ioctl(cam->fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) < 0 || iv.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                        break;
                if (!best.denominator || (uint64_t)iv.discrete.numerator * best.denominator <
                                                 (uint64_t)best.numerator * iv.discrete.denominator)
                        best = iv.discrete;
        }
        if (!best.denominator)
                return;
        struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        parm.parm.capture.timeperframe = best;
        if (ioctl(cam->fd, VIDIOC_S_PARM, &parm) == 0)
                say("frame interval %u/%u s", parm.parm.capture.timeperframe.numerator,
                    parm.parm.capture.timeperframe.denominator);
}

/* Queues buffer i, its sysmem dma-buf, for capture; -1 with errno set on failure. */
static int camera_queue(const struct camera *cam, uint32_t i) {
        struct v4l2_buffer b = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
        b.m.fd = cam->p.info->buffers[i].fd;
        b.length = (uint32_t)cam->p.info->settings.buffer_settings.raw_vmo_size;
        return ioctl(cam->fd, VIDIOC_QBUF, &b);
}

/* REQBUFS for the collection's buffers, every one queued, STREAMON. */
static int camera_start(struct camera *cam) {
        uint32_t count = cam->count = cam->p.info->buffer_count;
        struct v4l2_requestbuffers rb = {.count = count, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                         .memory = V4L2_MEMORY_DMABUF};
        if (ioctl(cam->fd, VIDIOC_REQBUFS, &rb) < 0 || rb.count < count) {
                say("REQBUFS %u DMABUF: %s (count %u)", count, strerror(errno), rb.count);
                return -1;
        }
        for (uint32_t i = 0; i < count; i++)
                if (camera_queue(cam, i) < 0) {
                        say("QBUF %u (dma-buf fd %d): %s", i, cam->p.info->buffers[i].fd, strerror(errno));
                        return -1;
                }
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (ioctl(cam->fd, VIDIOC_STREAMON, &type) < 0) {
                say("STREAMON: %s", strerror(errno));
                return -1;
        }
        say("streaming: %u sysmem buffers queued as V4L2_MEMORY_DMABUF", count);
        cam->streaming = true;
        cam->t_start = now_ns();
        return 0;
}

static void camera_streamoff(struct camera *cam) {
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        ioctl(cam->fd, VIDIOC_STREAMOFF, &type);
        cam->streaming = false;
}

/* vivid has a frame: DQBUF it and send it downstream; after the last one, stop and end the flow. */
static void camera_capture(struct camera *cam) {
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
        if (ioctl(cam->fd, VIDIOC_DQBUF, &b) != 0)
                return;
        if (!cam->captured)
                cam->t_first = now_ns();
        cam->captured++;
        cam->with_cpu[b.index] = cam->on_screen[b.index] = true;
        struct msg m = {.type = MSG_FRAME, .index = b.index, .seq = b.sequence, .t_captured = now_ns()};
        if (b.flags & V4L2_BUF_FLAG_ERROR)
                say("warning: frame %u has V4L2_BUF_FLAG_ERROR", b.sequence);
        send_msg(FD_OUT, &m);
        if (cam->captured == cam->frames) {
                /* Enough: stop the device (queued buffers come back to vb2), end the flow. */
                camera_streamoff(cam);
                struct msg e = {.type = MSG_END};
                send_msg(FD_OUT, &e);
        }
}

/*
 * A message from the cpu (the buffer is back) or the display (it is off the screen). Returns 1 to go on,
 * 0 when MSG_END came, -1 when the sender went away.
 */
static int camera_buffer_back(struct camera *cam, bool from_cpu) {
        struct msg m;
        ssize_t got = recv(from_cpu ? FD_IN : FD_AUX, &m, sizeof m, 0);
        if (got <= 0) {
                say("the %s went away", from_cpu ? "cpu" : "display");
                return -1;
        }
        if (m.type == MSG_END)
                return 0;
        if (m.index >= cam->count)
                return 1;
        if (from_cpu) {
                cam->with_cpu[m.index] = false;
                cam->returned++;
        } else {
                cam->on_screen[m.index] = false;
        }
        if (cam->streaming && !cam->with_cpu[m.index] && !cam->on_screen[m.index] && camera_queue(cam, m.index) < 0)
                say("QBUF %u again: %s", m.index, strerror(errno));
        return 1;
}

/* Captures until the end has gone round the ring. Returns false on a timeout, a failure or a role gone. */
static bool camera_stream(struct camera *cam) {
        for (;;) {
                struct pollfd pf[4] = {
                        {.fd = cam->streaming ? cam->fd : -1, .events = POLLIN},
                        {.fd = FD_IN, .events = POLLIN},
                        {.fd = FD_AUX, .events = POLLIN},
                        {.fd = sysmem_node_get_fd(sysmem_collection_node(cam->p.coll)), .events = POLLIN},
                };
                int n = poll(pf, 4, STEP_TIMEOUT_MS);
                if (n == 0) {
                        say("timed out waiting for a frame or a returned buffer");
                        return false;
                }
                if (n < 0)
                        continue;
                if (pf[3].revents && participant_check_failed(&cam->p))
                        return false;
                if (pf[0].revents & POLLIN)
                        camera_capture(cam);
                for (int k = 1; k <= 2; k++) {
                        if (!pf[k].revents)
                                continue;
                        int r = camera_buffer_back(cam, k == 1);
                        if (r <= 0)
                                return r == 0; /* 0: the end went round the ring: everyone is done */
                }
        }
}

/* Stops the device, frees its buffers and closes it; says and sends what was captured. */
static bool camera_finish(struct camera *cam, bool ok) {
        if (cam->streaming)
                camera_streamoff(cam);
        struct v4l2_requestbuffers none = {.count = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                           .memory = V4L2_MEMORY_DMABUF};
        ioctl(cam->fd, VIDIOC_REQBUFS, &none);
        close(cam->fd);
        uint32_t captured = cam->captured;
        double first_ms = cam->t_first ? (double)(cam->t_first - cam->t_start) / 1e6 : 0;
        double total_ms = ms_since(cam->t_start);
        say("captured %u frames (%u returned by the cpu); first frame %.1f ms after STREAMON, %.1f ms in all", captured,
            cam->returned, first_ms, total_ms);
        ok = ok && captured == cam->frames;
        send_ctl(cam->p.ctl, CTL_RESULT, ok, captured, 0,
                 "captured %u frames; first %.1f ms after STREAMON, %.1f ms/frame", captured, first_ms,
                 captured > 1 && cam->t_first ? (double)(now_ns() - cam->t_first) / 1e6 / (captured - 1) : 0);
        participant_finish(&cam->p);
        return ok;
}

static int role_camera(uint32_t frames) {
        struct camera cam = {.frames = frames};
        if (camera_open(&cam) < 0 || camera_negotiate(&cam) < 0)
                return 1;
        struct sysmem_plane_layout l;
        const struct sysmem_image_format_settings *f = participant_image(&cam.p, &l);
        if (!f)
                return 1;
        if (camera_set_format(&cam, f, &l) < 0) {
                participant_finish(&cam.p);
                return 1;
        }
        camera_set_fastest_rate(&cam);
        if (camera_start(&cam) < 0) {
                participant_finish(&cam.p);
                return 1;
        }
        bool ok = camera_stream(&cam);
        return camera_finish(&cam, ok) ? 0 : 1;
}

/* ---- display ---- */

struct display {
        int fd;
        char path[64];
        uint32_t crtc, connector, plane;
        drmModeModeInfo mode;
        uint32_t fbs[SYSMEM_MAX_BUFFERS], handles[SYSMEM_MAX_BUFFERS];
        uint32_t count;
        bool flip_done;
        uint32_t flips, shown, last_seq; /* frames shown; the buffer on the screen (UINT32_MAX: none), its seq */
        double flip_ms_sum, flip_ms_max;
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
                                screen = screen_check_buffer(fd, map + l->offset[0], l->bytes_per_row[0], NULL, detail,
                                                             sizeof detail);
                                munmap((void *)map, size);
                        }
                }
                say("screen check (buffer %u, still on the screen): %s: %s", shown, screen_verdict(screen), detail);
                send_ctl(FD_CTL, CTL_SCREEN, (uint32_t)(screen + 1), 0, 0, "%s", detail);
        }
}

/* The virtio_gpu card as DRM master, its connector, CRTC, mode and primary plane. */
static int display_open(struct display *d) {
        /* The daemon opened the card first and gave DRM master up (src/heaps/drm.c): this open gets it. */
        d->fd = open_drm("virtio_gpu", d->path, sizeof d->path);
        if (d->fd < 0) {
                say("no virtio_gpu card");
                return -1;
        }
        if (!drmIsMaster(d->fd) && drmSetMaster(d->fd) != 0) {
                say("%s: not DRM master and cannot become it: %s", d->path, strerror(errno));
                return -1;
        }
        int r = display_find(d);
        if (r < 0) {
                say("%s: no connected connector with a %ux%u mode and a primary plane: %s", d->path, WIDTH, HEIGHT,
                    strerror(-r));
                return -1;
        }
        say("%s (virtio_gpu): DRM master, connector %u, CRTC %u, primary plane %u, mode %s", d->path, d->connector,
            d->crtc, d->plane, d->mode.name);
        return 0;
}

static int display_negotiate(const struct display *d, struct participant *p) {
        if (participant_start(p) < 0)
                return -1;
        int r = sysmem_device_constraints_from_kms_plane(d->fd, d->plane, p->alloc, &p->dc);
        if (r < 0) {
                say("constraints from plane %u: %s", d->plane, strerror(-r));
                return -1;
        }
        return participant_negotiate_device(p, 1); /* the one on the screen */
}

/* Every buffer a framebuffer: the dma-buf is the card's own dumb buffer, so the import is its handle. */
static int display_add_fbs(struct display *d, const struct participant *p, const struct sysmem_image_format_settings *f,
                           const struct sysmem_plane_layout *l) {
        d->count = p->info->buffer_count;
        for (uint32_t i = 0; i < d->count; i++) {
                if (drmPrimeFDToHandle(d->fd, p->info->buffers[i].fd, &d->handles[i]) != 0) {
                        say("buffer %u: drmPrimeFDToHandle: %s", i, strerror(errno));
                        return -1;
                }
                uint32_t h[4] = {d->handles[i]}, pitch[4] = {l->bytes_per_row[0]}, off[4] = {(uint32_t)l->offset[0]};
                uint64_t mod[4] = {f->pixel_format_modifier};
                int fr = f->pixel_format_modifier != DRM_FORMAT_MOD_LINEAR
                                 ? drmModeAddFB2WithModifiers(d->fd, WIDTH, HEIGHT, f->pixel_format, h, pitch, off, mod,
                                                              &d->fbs[i], DRM_MODE_FB_MODIFIERS)
                                 : drmModeAddFB2(d->fd, WIDTH, HEIGHT, f->pixel_format, h, pitch, off, &d->fbs[i], 0);
                if (fr != 0) {
                        say("buffer %u: drmModeAddFB2: %s", i, strerror(errno));
                        return -1;
                }
        }
        say("%u framebuffers, %ux%u stride %u", d->count, WIDTH, HEIGHT, l->bytes_per_row[0]);
        return 0;
}

/* Flips to framebuffer fb and waits for the flip's event. */
static int display_flip(struct display *d, uint32_t fb) {
        drmEventContext ev = {.version = 2, .page_flip_handler = flip_handler};
        d->flip_done = false;
        if (drmModePageFlip(d->fd, d->crtc, fb, DRM_MODE_PAGE_FLIP_EVENT, d) != 0) {
                say("drmModePageFlip: %s", strerror(errno));
                return -1;
        }
        while (!d->flip_done) {
                struct pollfd pf = {.fd = d->fd, .events = POLLIN};
                if (poll(&pf, 1, STEP_TIMEOUT_MS) <= 0)
                        break;
                drmHandleEvent(d->fd, &ev);
        }
        if (!d->flip_done) {
                say("no page-flip event");
                return -1;
        }
        return 0;
}

/* Puts buffer i on the screen: the mode set with the first frame, a page flip with each after it. */
static int display_show(struct display *d, uint32_t i) {
        uint64_t t0 = now_ns();
        if (!d->flips) {
                if (drmModeSetCrtc(d->fd, d->crtc, d->fbs[i], 0, 0, &d->connector, 1, &d->mode) != 0) {
                        say("drmModeSetCrtc: %s", strerror(errno));
                        return -1;
                }
        } else if (display_flip(d, d->fbs[i]) < 0) {
                return -1;
        }
        /* virtio-gpu sends the host nothing without a flush: DirtyFB over the whole frame. */
        drmModeClip clip = {0, 0, WIDTH, HEIGHT};
        drmModeDirtyFB(d->fd, d->fbs[i], &clip, 1);
        double ms = ms_since(t0);
        d->flip_ms_sum += ms;
        if (ms > d->flip_ms_max)
                d->flip_ms_max = ms;
        d->flips++;
        return 0;
}

/* Shows each frame from the camera and passes it on to the gpu. Returns true when the stream ended. */
static bool display_stream(struct display *d, struct participant *p) {
        for (;;) {
                struct msg m;
                enum upstream up = participant_next_frame(p, "camera", &m);
                if (up == UP_END) {
                        send_msg(FD_OUT, &m);
                        return true;
                }
                if (up == UP_FAILED && !p->failed)
                        say("timed out waiting for a frame");
                if (up != UP_FRAME || display_show(d, m.index) < 0)
                        return false;
                d->last_seq = m.seq;
                /* The previous buffer is off the screen now: the camera may fill it again. */
                if (d->shown != UINT32_MAX && d->shown != m.index) {
                        struct msg rel = {.type = MSG_RELEASE, .index = d->shown};
                        send_msg(FD_AUX, &rel);
                }
                d->shown = m.index;
                send_msg(FD_OUT, &m);
        }
}

static void display_report(const struct display *d, const struct participant *p, bool ended) {
        uint32_t flips = d->flips;
        double flip_ms = flips ? d->flip_ms_sum / flips : 0;
        say("%s %u frames (%s, then %u page flips with events; %.1f ms per flip on average, %.1f ms at most); "
            "frame %u in buffer %u stays on the screen",
            ended ? "showed" : "stopped after", flips, flips ? "drmModeSetCrtc" : "nothing", flips ? flips - 1 : 0,
            flip_ms, d->flip_ms_max, d->last_seq, d->shown);
        send_ctl(p->ctl, CTL_RESULT, ended, flips, 0, "%u frames on the screen (1 mode set + %u page flips), %.1f ms "
                 "per flip on average, %.1f ms at most; last frame %u (buffer %u) kept on the screen",
                 flips, flips ? flips - 1 : 0, flip_ms, d->flip_ms_max, d->last_seq, d->shown);
}

static void display_close(struct display *d, struct participant *p) {
        display_cleanup(d);
        participant_finish(p);
        close(d->fd);
}

static int role_display(void) {
        struct participant p = {0};
        struct display d = {.shown = UINT32_MAX};
        if (display_open(&d) < 0 || display_negotiate(&d, &p) < 0)
                return 1;
        struct sysmem_plane_layout l;
        const struct sysmem_image_format_settings *f = participant_image(&p, &l);
        if (!f)
                return 1;
        if (display_add_fbs(&d, &p, f, &l) < 0) {
                display_close(&d, &p);
                return 1;
        }
        bool ended = display_stream(&d, &p);
        display_report(&d, &p, ended);
        /* The last frame stays up, its framebuffer alive, until the runner has looked at the screen. */
        display_hold(&p, d.shown, &l);
        display_close(&d, &p);
        return ended ? 0 : 3;
}

/* ---- gpu (vgem) ---- */

/* vgem has no planes or queues to ask: a GPU stand-in that imports any dma-buf, in any layout. */
static int gpu_negotiate(struct participant *p, const char *path) {
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        struct sysmem_heap permitted[SYSMEM_MAX_HEAPS];
        size_t n = 0, k = 0, e = 0;
        int r = sysmem_allocator_get_heaps(p->alloc, heaps, SYSMEM_MAX_HEAPS, &n);
        char explain[1024];
        appendf(explain, sizeof explain, &e,
                "vgem (%s) imports any dma-buf (PRIME import): permitted heaps are the daemon's dma-buf heaps:", path);
        for (size_t i = 0; r >= 0 && i < n && i < SYSMEM_MAX_HEAPS; i++)
                if (heaps[i].flags & SYSMEM_HEAP_FLAG_DMA_BUF) {
                        permitted[k++] = heaps[i].heap;
                        appendf(explain, sizeof explain, &e, " %s", heaps[i].heap.heap_type);
                }
        appendf(explain, sizeof explain, &e, "\nno image format constraints (it samples whatever is chosen)");
        struct sysmem_constraints c = {
                .usage = {.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED},
                .min_buffer_count_for_camping = 0,
                .buffer_memory_constraints = {.permitted_heap_count = (uint32_t)k, .permitted_heaps = permitted},
        };
        return participant_negotiate(p, &c, explain);
}

struct gpu {
        int vgem;
        uint32_t imported, failed;
        double ms_sum;
};

/* The GPU's import: the dma-buf becomes a GEM handle of vgem, then is let go. */
static void gpu_import(struct gpu *g, const struct participant *p, const struct msg *m) {
        uint64_t t0 = now_ns();
        uint32_t h = 0;
        if (drmPrimeFDToHandle(g->vgem, p->info->buffers[m->index].fd, &h) != 0 || !h) {
                say("frame %u: vgem cannot import buffer %u: %s", m->seq, m->index, strerror(errno));
                g->failed++;
        } else {
                g->imported++;
                drmCloseBufferHandle(g->vgem, h);
        }
        g->ms_sum += ms_since(t0);
}

static int role_gpu(void) {
        struct participant p = {0};
        struct gpu g = {0};
        char path[64];
        g.vgem = open_drm("vgem", path, sizeof path);
        if (g.vgem < 0) {
                say("no vgem card");
                return 1;
        }
        if (participant_start(&p) < 0 || gpu_negotiate(&p, path) < 0)
                return 1;
        struct msg m;
        enum upstream up;
        while ((up = participant_next_frame(&p, "display", &m)) == UP_FRAME) {
                gpu_import(&g, &p, &m);
                send_msg(FD_OUT, &m);
        }
        if (up == UP_END)
                send_msg(FD_OUT, &m);
        close(g.vgem);
        double import_ms = g.imported ? g.ms_sum / g.imported : 0;
        say("imported %u frames into vgem (%u failed), %.2f ms per import + close", g.imported, g.failed, import_ms);
        bool ok = up == UP_END && !g.failed;
        send_ctl(p.ctl, CTL_RESULT, ok, g.imported, 0, "%u frames imported into vgem (drmPrimeFDToHandle + close), "
                 "%u failed, %.2f ms per import", g.imported, g.failed, import_ms);
        participant_finish(&p);
        return ok ? 0 : 3;
}

/* ---- cpu ---- */

static int cpu_negotiate(struct participant *p) {
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
        return participant_negotiate(p, &c, "reads XR24 (XRGB8888, LINEAR, sRGB) with the CPU through mmap; any heap");
}

struct cpu {
        uint8_t *map[SYSMEM_MAX_BUFFERS];
        size_t size;     /* of each mapping */
        uint64_t offset; /* of the image in each buffer */
        uint32_t stride;
        uint32_t checked, bad_frames, same_osd, last; /* last: the last frame's buffer, UINT32_MAX for none */
        uint64_t lat_sum, lat_max;
        double check_ms;
        struct bar_check bc; /* the last frame's */
        /* The OSD line of the last two frames: each frame's counter must differ from the one before. */
        uint8_t *osd_last, *osd_prev;
};

/* Maps every buffer and allocates the OSD copies. */
static int cpu_map(struct cpu *cpu, const struct participant *p, const struct sysmem_plane_layout *l) {
        cpu->size = p->info->settings.buffer_settings.raw_vmo_size;
        cpu->offset = l->offset[0];
        cpu->stride = l->bytes_per_row[0];
        for (uint32_t i = 0; i < p->info->buffer_count; i++) {
                cpu->map[i] = mmap(NULL, cpu->size, PROT_READ, MAP_SHARED, p->info->buffers[i].fd, 0);
                if (cpu->map[i] == MAP_FAILED) {
                        say("mmap buffer %u: %s", i, strerror(errno));
                        return -1;
                }
        }
        cpu->osd_last = calloc(1, OSD_BYTES(cpu->stride));
        cpu->osd_prev = calloc(1, OSD_BYTES(cpu->stride));
        return cpu->osd_last && cpu->osd_prev ? 0 : -1;
}

/* Checks one frame against the bars and the frame before, reports it, and hands its buffer back. */
static void cpu_check_frame(struct cpu *cpu, const struct participant *p, const struct msg *m) {
        uint32_t stride = cpu->stride;
        uint64_t t0 = now_ns();
        int fd = p->info->buffers[m->index].fd;
        const uint8_t *img = cpu->map[m->index] + cpu->offset;
        sysmem_buffer_begin_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
        check_bars(img, stride, &cpu->bc);
        uint8_t *t = cpu->osd_prev;
        cpu->osd_prev = cpu->osd_last;
        cpu->osd_last = t;
        memcpy(cpu->osd_last, img + (size_t)OSD_Y0 * stride, OSD_BYTES(stride));
        sysmem_buffer_end_cpu_access(fd, SYSMEM_CPU_ACCESS_READ);
        bool same = cpu->checked > 0 && !memcmp(cpu->osd_last, cpu->osd_prev, OSD_BYTES(stride));
        cpu->check_ms += ms_since(t0);
        uint64_t lat = now_ns() - m->t_captured;
        cpu->lat_sum += lat;
        if (lat > cpu->lat_max)
                cpu->lat_max = lat;
        cpu->checked++;
        /* vivid sometimes delivers one frame twice (same sequence, same counter): noted, not wrong. */
        const struct bar_check *bc = &cpu->bc;
        bool bad = bc->bad || !bc->text;
        cpu->bad_frames += bad;
        cpu->same_osd += same;
        if (cpu->checked == 1 || bad || same)
                say("frame %u (buffer %u): %lu pixels outside the OSD line differ from the 75%% bars, %lu text "
                    "pixels in it (all non-bar pixels in x %u-%u, y %u-%u)%s; %s",
                    m->seq, m->index, bc->bad, bc->text, bc->x0, bc->x1, bc->y0, bc->y1,
                    same ? "; vivid delivered the previous frame again (same sequence and counter)" : "", bc->bands);
        cpu->last = m->index;
        send_ctl(p->ctl, CTL_FRAME, m->seq, !bad, m->index, NULL);
        /* Back to the camera (which queues it once the display is off it too). */
        struct msg ret = {.type = MSG_RELEASE, .index = m->index, .seq = m->seq};
        send_msg(FD_OUT, &ret);
}

/*
 * The display holds the last frame on the screen: the screen must be this buffer, exactly, and not the
 * frame before (their OSD counters differ). Returns screen_check's result, -1 when the stream did not end.
 */
static int cpu_screen_check(const struct cpu *cpu, const struct participant *p, bool ended, char *detail,
                            size_t size) {
        snprintf(detail, size, "the stream did not end (the display checks the screen then)");
        if (!ended || cpu->last == UINT32_MAX)
                return -1;
        bool distinct = cpu->checked > 1 && memcmp(cpu->osd_prev, cpu->osd_last, OSD_BYTES(cpu->stride)) != 0;
        int screen = screen_check_buffer(p->info->buffers[cpu->last].fd, cpu->map[cpu->last] + cpu->offset,
                                         cpu->stride, distinct ? cpu->osd_prev : NULL, detail, size);
        say("screen check (last frame, buffer %u): %s: %s", cpu->last, screen_verdict(screen), detail);
        return screen;
}

static bool cpu_report(const struct cpu *cpu, const struct participant *p, bool ended, int screen,
                       const char *detail) {
        uint32_t checked = cpu->checked;
        double lat_ms = checked ? (double)cpu->lat_sum / checked / 1e6 : 0, lat_max_ms = (double)cpu->lat_max / 1e6;
        say("checked %u frames, %u wrong (%u repeats of the frame before); %.1f ms per check of %u pixels; "
            "capture to checked %.1f ms on average, %.1f ms at most",
            checked, cpu->bad_frames, cpu->same_osd, checked ? cpu->check_ms / checked : 0, WIDTH * HEIGHT, lat_ms,
            lat_max_ms);
        bool ok = ended && checked > 0 && !cpu->bad_frames && screen != 0;
        send_ctl(p->ctl, CTL_RESULT, ok, checked, (uint32_t)(screen + 1),
                 "%u frames checked pixel by pixel (%u wrong; bands %s); capture to checked %.1f ms average, %.1f ms "
                 "max; screen check: %s: %s",
                 checked, cpu->bad_frames, cpu->bc.bands, lat_ms, lat_max_ms, screen_verdict(screen), detail);
        return ok;
}

static int role_cpu(void) {
        struct participant p = {0};
        struct cpu cpu = {.last = UINT32_MAX};
        if (participant_start(&p) < 0 || cpu_negotiate(&p) < 0)
                return 1;
        struct sysmem_plane_layout l;
        if (!participant_image(&p, &l) || cpu_map(&cpu, &p, &l) < 0)
                return 1;
        struct msg m;
        enum upstream up;
        while ((up = participant_next_frame(&p, "gpu", &m)) == UP_FRAME)
                cpu_check_frame(&cpu, &p, &m);
        bool ended = up == UP_END;
        char detail[1024];
        int screen = cpu_screen_check(&cpu, &p, ended, detail, sizeof detail);
        free(cpu.osd_last);
        free(cpu.osd_prev);
        bool ok = cpu_report(&cpu, &p, ended, screen, detail);
        if (ended) {
                /* Close the ring: the camera is done once the end came round. */
                struct msg e = {.type = MSG_END};
                send_msg(FD_OUT, &e);
        }
        for (uint32_t i = 0; i < p.info->buffer_count; i++)
                munmap(cpu.map[i], cpu.size);
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
                                 screen_verdict((int)m.a - 1), m.text);
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


/* Why the heap: the heaps of the daemon that every participant permits. */
static void print_why_heap(struct sysmem_allocator *alloc, const struct child ch[ROLES]) {
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
                        appendf(all, sizeof all, &n, "%s%s", n ? ", " : "", heaps[h].heap.heap_type);
                        common++;
                }
        }
        n = 0;
        appendf(line, sizeof line, &n, "why the heap: of the daemon's %zu heaps, all four permit %s%s (", count,
                common == 1 ? "only " : "", common ? all : "none");
        for (int i = 0; i < ROLES && n < sizeof line; i++)
                appendf(line, sizeof line, &n, "%s%s: %s", i ? "; " : "", role_names[i], ch[i].heaps);
        appendf(line, sizeof line, &n, ")");
        say("%s", line);
}

/* Why the format: the chosen (format, modifier) pair as each participant listed it. */
static void print_why_format(const struct sysmem_image_format_settings *f, const struct sysmem_plane_layout *l,
                             const struct child ch[ROLES]) {
        char line[2048], pair[64];
        size_t n = 0, pn = 0;
        append_pair(pair, sizeof pair, &pn, f->pixel_format, f->pixel_format_modifier);
        appendf(line, sizeof line, &n, "why the format: %s is listed by", pair);
        for (int i = 0; i < ROLES && n < sizeof line; i++)
                appendf(line, sizeof line, &n, "%s %s (%s)", i ? "," : "", role_names[i],
                        !strcmp(ch[i].pair_list, "any")   ? "any format"
                        : in_list(ch[i].pair_list, pair) ? (ch[i].pairs == 1 ? "its only pair" : "one of its pairs")
                                                          : "NOT listed");
        say("%s; the size is the camera's %ux%u, the stride %u is vivid's bytesperline and the display's pitch", line,
            WIDTH, HEIGHT, l->bytes_per_row[0]);
}

/* Why the buffer count: the sum of the camping counts. */
static void print_why_count(const struct sysmem_collection_info *info, const struct child ch[ROLES]) {
        char line[2048];
        size_t n = 0;
        uint32_t sum = 0;
        appendf(line, sizeof line, &n, "why %u buffers: camping", info->buffer_count);
        for (int i = 0; i < ROLES && n < sizeof line; i++) {
                sum += ch[i].camping;
                appendf(line, sizeof line, &n, "%s %s %u", i ? " +" : "", role_names[i], ch[i].camping);
        }
        say("%s = %u", line, sum);
}

static void print_choice(struct sysmem_allocator *alloc, const struct sysmem_collection_info *info,
                         const struct child ch[ROLES]) {
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
        print_why_heap(alloc, ch);
        if (img)
                print_why_format(f, &l, ch);
        print_why_count(info, ch);
}

struct runner {
        const char *self;
        uint32_t frames;
        bool kill_camera;
        bool ok;
        char vpath[64], dpath[64], gpath[64]; /* the devices' nodes */
        char dir[sizeof "/tmp/sysmem-pipeline-XXXXXX"], sock[PATH_MAX];
        pid_t daemon;
        int daemon_status;
        struct sysmem_allocator *alloc;
        struct sysmem_token *root, *dups[ROLES];
        struct child ch[ROLES];
        struct counts before, during, after, end; /* the leak counts */
        uint64_t t_spawn, t_stream, t_kill;
        double negotiate_ms, stream_ms, kill_ms;
        bool killed, check_sent, quit_sent;
};

static const char *mode_name(const struct runner *rn) { return rn->kill_camera ? "kill-camera" : "normal"; }

/* Whether vivid, virtio-gpu and vgem are all there (else it prints SKIP); notes their nodes. */
static bool runner_have_devices(struct runner *rn) {
        int probe = open_vivid(rn->vpath, sizeof rn->vpath);
        int dfd = open_drm("virtio_gpu", rn->dpath, sizeof rn->dpath);
        int gfd = open_drm("vgem", rn->gpath, sizeof rn->gpath);
        bool have = probe >= 0 && dfd >= 0 && gfd >= 0;
        if (probe >= 0)
                close(probe);
        if (dfd >= 0)
                close(dfd); /* before sysmemd starts: its open must be the first, so that master goes to the display */
        if (gfd >= 0)
                close(gfd);
        if (!have)
                printf("SKIP: needs vivid, virtio-gpu and vgem (%s%s%s); run through scripts/vm-run.sh\n",
                       probe < 0 ? "no vivid capture node " : "", dfd < 0 ? "no virtio_gpu card " : "",
                       gfd < 0 ? "no vgem card" : "");
        return have;
}

/* Mounts debugfs, counts what is there before anything starts, and says what is about to run. */
static void runner_intro(struct runner *rn) {
        /* debugfs, for the dma-buf and framebuffer counts (the VM's /sys has it unmounted). */
        if (access("/sys/kernel/debug/dma_buf", F_OK) != 0 && mount("none", "/sys/kernel/debug", "debugfs", 0, NULL) != 0)
                say("warning: cannot mount debugfs (%s): dma-bufs are counted by open fds only", strerror(errno));
        rn->before = take_counts();
        if (rn->kill_camera)
                say("kill-camera mode: frames of %ux%u until the camera is killed after %u; devices: camera %s (vivid), "
                    "display %s (virtio_gpu), gpu %s (vgem)", WIDTH, HEIGHT, KILL_AFTER_FRAMES, rn->vpath, rn->dpath,
                    rn->gpath);
        else
                say("normal mode, %u frames of %ux%u; devices: camera %s (vivid), display %s (virtio_gpu), gpu %s (vgem)",
                    rn->frames, WIDTH, HEIGHT, rn->vpath, rn->dpath, rn->gpath);
        say("before: %ld dma-bufs in the system, %ld dma-buf fds open, %ld virtio_gpu framebuffers",
            rn->before.dma_bufs, rn->before.dma_buf_fds, rn->before.fbs);
}

/* sysmemd on a socket in a private directory (SYSMEM_SOCKET, for everyone started after it). */
static int runner_start_daemon(struct runner *rn, const char *sysmemd) {
        snprintf(rn->dir, sizeof rn->dir, "%s", "/tmp/sysmem-pipeline-XXXXXX");
        if (!mkdtemp(rn->dir)) {
                perror("mkdtemp");
                return -1;
        }
        snprintf(rn->sock, sizeof rn->sock, "%s/socket", rn->dir);
        setenv("SYSMEM_SOCKET", rn->sock, 1);
        uint64_t t0 = now_ns();
        rn->daemon = start_daemon(sysmemd, rn->sock);
        if (rn->daemon < 0) {
                say("sysmemd (%s) did not come up on %s", sysmemd, rn->sock);
                rmdir(rn->dir);
                return -1;
        }
        say("sysmemd (%s) on %s, up in %.1f ms", sysmemd, rn->sock, ms_since(t0));
        return 0;
}

/* The collection: the root token (the runner's) and one duplicate per role. */
static int runner_make_collection(struct runner *rn) {
        uint32_t masks[ROLES] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        int r = sysmem_allocator_connect(NULL, &rn->alloc);
        if (r >= 0)
                sysmem_allocator_set_debug_client_info(rn->alloc, "pipeline-runner", (uint64_t)getpid());
        if (r >= 0)
                r = sysmem_allocator_allocate_shared_with_duplicates(rn->alloc, ROLES, masks, &rn->root, rn->dups);
        if (r < 0) {
                say("cannot make the collection: %s", strerror(-r));
                kill(rn->daemon, SIGTERM);
                waitpid(rn->daemon, NULL, 0);
                return -1;
        }
        sysmem_node_set_name(sysmem_token_node(rn->root), 10, "pipeline-frames");
        return 0;
}

/* Starts the four roles, each with its token and its sockets (see the top of the file). */
static void runner_spawn(struct runner *rn) {
        /* The ring camera -> display -> gpu -> cpu -> camera, and display -> camera for "off the screen". */
        int ring[ROLES][2], aux[2], ctl[ROLES][2];
        for (int i = 0; i < ROLES; i++) {
                socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ring[i]); /* [0]: role i writes, [1]: i+1 reads */
                socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl[i]);
        }
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, aux);
        char frames_arg[16];
        snprintf(frames_arg, sizeof frames_arg, "%u", rn->frames);
        for (int i = 0; i < ROLES; i++)
                rn->ch[i].screen = -1;
        rn->t_spawn = now_ns();
        for (int i = 0; i < ROLES; i++) {
                int token = sysmem_token_to_fd(rn->dups[i]);
                int in = ring[(i + ROLES - 1) % ROLES][1], out = ring[i][0];
                int fds[5] = {token, ctl[i][1], in, out, i == CAMERA ? aux[1] : i == DISPLAY ? aux[0] : -1};
                rn->ch[i].pid = spawn_role(rn->self, role_names[i], frames_arg, fds);
                rn->ch[i].ctl = ctl[i][0];
                close(token);
        }
        for (int i = 0; i < ROLES; i++) {
                close(ring[i][0]);
                close(ring[i][1]);
                close(ctl[i][1]);
        }
        close(aux[0]);
        close(aux[1]);
}

/* The runner takes part without constraints: it gets the settings (no buffers), to report them. */
static void runner_negotiate(struct runner *rn) {
        struct sysmem_collection *coll = NULL;
        struct sysmem_collection_info *info = NULL;
        int r = sysmem_token_bind(rn->root, &coll);
        if (r >= 0)
                r = sysmem_collection_set_constraints(coll, NULL);
        if (r >= 0)
                r = sysmem_collection_wait_allocated(coll, &info);
        rn->negotiate_ms = ms_since(rn->t_spawn);
        for (int i = 0; i < ROLES; i++)
                runner_read_ctl(&rn->ch[i]);
        if (r < 0) {
                say("the negotiation failed: %s: %s", sysmem_error_name(sysmem_node_error(sysmem_collection_node(coll))),
                    sysmem_node_error_message(sysmem_collection_node(coll)));
                rn->ok = false;
                sysmem_collection_close(coll);
                return;
        }
        say("negotiated in %.1f ms (4 processes started, constraints read from their devices, buffers allocated)",
            rn->negotiate_ms);
        print_choice(rn->alloc, info, rn->ch);
        if (strcmp(info->settings.buffer_settings.heap.heap_type, "drm:virtio_gpu") != 0) {
                say("FAIL: virtio-gpu scans out only its own memory, yet the heap is %s",
                    info->settings.buffer_settings.heap.heap_type);
                rn->ok = false;
        }
        sysmem_collection_info_free(info);
        /* Done with it: a clean release, so the runner is not part of any failure. */
        sysmem_collection_release(coll);
}

/* Reaps the roles that have exited; returns how many still run. */
static int runner_reap(struct runner *rn) {
        int live = 0;
        for (int i = 0; i < ROLES; i++) {
                struct child *c = &rn->ch[i];
                int st;
                if (!c->exited && waitpid(c->pid, &st, WNOHANG) == c->pid) {
                        c->exited = true;
                        c->status = st;
                }
                live += !c->exited;
        }
        return live;
}

/*
 * The display's last frame: once the others are done, count what is held while it is up, then (kill mode)
 * have the display check the screen, then let it take the frame down.
 */
static void runner_tend_display(struct runner *rn) {
        const struct child *ch = rn->ch;
        /* Normal mode: the cpu's result (with the screen check) is in; the display may take its frame down. */
        bool others_done = ch[CPU].have_result || ch[CPU].exited;
        if (rn->kill_camera)
                others_done = rn->killed && (ch[DISPLAY].failed || ch[DISPLAY].have_result) &&
                              (ch[GPU].exited || ch[GPU].failed) && (ch[CPU].exited || ch[CPU].failed);
        if (others_done && !rn->check_sent) {
                rn->during = take_counts();
                say("while the display holds its last frame: %ld dma-bufs in the system, %ld dma-buf fds open, "
                    "%ld virtio_gpu framebuffers", rn->during.dma_bufs, rn->during.dma_buf_fds, rn->during.fbs);
                /* Kill mode: the display kept its last frame after the failure; it compares it with the screen. */
                if (rn->kill_camera && ch[DISPLAY].ctl >= 0)
                        send_ctl(ch[DISPLAY].ctl, CTL_CHECK, 0, 0, 0, NULL);
                rn->check_sent = true;
        }
        if (rn->check_sent && !rn->quit_sent &&
            (!rn->kill_camera || ch[DISPLAY].screen >= 0 || ch[DISPLAY].exited)) {
                if (ch[DISPLAY].ctl >= 0)
                        send_ctl(ch[DISPLAY].ctl, CTL_QUIT, 0, 0, 0, NULL);
                rn->quit_sent = true;
        }
}

/* Waits up to 50 ms for control messages and reads them. */
static void runner_poll_ctl(struct runner *rn) {
        struct pollfd pf[ROLES];
        for (int i = 0; i < ROLES; i++)
                pf[i] = (struct pollfd){.fd = rn->ch[i].ctl, .events = POLLIN};
        poll(pf, ROLES, 50);
        for (int i = 0; i < ROLES; i++) {
                if (rn->ch[i].ctl < 0 || !pf[i].revents)
                        continue;
                runner_read_ctl(&rn->ch[i]);
        }
}

/* Follows the frames until every role has exited; in kill mode, SIGKILLs the camera once the cpu has checked a few. */
static void runner_follow(struct runner *rn) {
        struct child *ch = rn->ch;
        rn->t_stream = now_ns();
        rn->during = (struct counts){-1, -1, -1};
        while (runner_reap(rn)) {
                runner_tend_display(rn);
                if (ms_since(rn->t_stream) > 120000) {
                        say("FAIL: the pipeline did not finish in 120 s; killing what is left");
                        for (int i = 0; i < ROLES; i++)
                                if (!ch[i].exited)
                                        kill(ch[i].pid, SIGKILL);
                        rn->ok = false;
                }
                runner_poll_ctl(rn);
                if (rn->kill_camera && !rn->killed && ch[CPU].frames >= KILL_AFTER_FRAMES) {
                        say("SIGKILL to the camera (pid %d) after %u frames checked", ch[CAMERA].pid, ch[CPU].frames);
                        kill(ch[CAMERA].pid, SIGKILL);
                        rn->killed = true;
                        rn->t_kill = now_ns();
                }
        }
        rn->stream_ms = ms_since(rn->t_stream);
        rn->kill_ms = rn->t_kill ? ms_since(rn->t_kill) : 0;
        for (int i = 0; i < ROLES; i++)
                if (ch[i].ctl >= 0) {
                        runner_read_ctl(&ch[i]);
                        close(ch[i].ctl);
                }
}

/* Everything the participants held must be gone; the daemon too must have let its buffers go. */
static void runner_teardown(struct runner *rn) {
        rn->after = take_counts();
        for (int i = 0; i < 50 && (rn->after.dma_bufs > rn->before.dma_bufs || rn->after.fbs > rn->before.fbs); i++) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
                rn->after = take_counts();
        }
        sysmem_allocator_free(rn->alloc);
        kill(rn->daemon, SIGTERM);
        waitpid(rn->daemon, &rn->daemon_status, 0);
        rn->end = take_counts();
        unlink(rn->sock);
        rmdir(rn->dir);
}

static void runner_print_results(const struct runner *rn) {
        say("== results (%s mode)", mode_name(rn));
        for (int i = 0; i < ROLES; i++) {
                const struct child *c = &rn->ch[i];
                char how[64];
                if (WIFSIGNALED(c->status))
                        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(c->status));
                else
                        snprintf(how, sizeof how, "exit %d", WEXITSTATUS(c->status));
                say("%-7s %s; %s%s%s", role_names[i], how, c->have_result ? c->result : "(no result)",
                    c->failed ? "; saw the collection fail: " : "", c->failed ? c->failure : "");
        }
}

/*
 * Normal mode: every role finished cleanly. Kill mode: the camera died of SIGKILL, the others were told
 * and exited with 3, and the screen still showed the display's last buffer.
 */
static void runner_judge(struct runner *rn) {
        const struct child *ch = rn->ch;
        if (!rn->kill_camera) {
                for (int i = 0; i < ROLES; i++)
                        if (!WIFEXITED(ch[i].status) || WEXITSTATUS(ch[i].status) != 0 || !ch[i].result_ok) {
                                say("FAIL: %s did not finish cleanly", role_names[i]);
                                rn->ok = false;
                        }
                return;
        }
        if (!rn->killed || !WIFSIGNALED(ch[CAMERA].status)) {
                say("FAIL: the camera was not killed mid-stream");
                rn->ok = false;
        }
        for (int i = DISPLAY; i < ROLES; i++) {
                /* Each surviving participant is told, with the daemon's reason, and exits on its own. */
                if (!ch[i].failed || !WIFEXITED(ch[i].status) || WEXITSTATUS(ch[i].status) != 3) {
                        say("FAIL: %s was not failed cleanly (told: %s)", role_names[i], ch[i].failed ? "yes" : "no");
                        rn->ok = false;
                }
        }
        /* Where a screendump can be had (the VM), the screen must still be the display's last buffer. */
        if (ch[DISPLAY].screen != 2 && !(ch[DISPLAY].screen == 0 && !getenv("SYSMEM_VM_SCREENDUMP"))) {
                say("FAIL: the display did not keep its last frame on the screen");
                rn->ok = false;
        }
}

/* A count after the run that differs from the one before is a leak. */
static void runner_check_leaks(struct runner *rn) {
        const struct counts *b = &rn->before, *d = &rn->during, *a = &rn->after, *e = &rn->end;
        bool leak = (b->dma_bufs >= 0 && (a->dma_bufs != b->dma_bufs || e->dma_bufs != b->dma_bufs)) ||
                    a->dma_buf_fds != b->dma_buf_fds || e->dma_buf_fds != b->dma_buf_fds ||
                    (b->fbs >= 0 && (a->fbs != b->fbs || e->fbs != b->fbs));
        say("leaks: dma-bufs %ld before, %ld while the last frame was up, %ld after the participants exited, %ld after "
            "sysmemd exited; dma-buf fds %ld / %ld / %ld / %ld; virtio_gpu framebuffers %ld / %ld / %ld / %ld: %s",
            b->dma_bufs, d->dma_bufs, a->dma_bufs, e->dma_bufs, b->dma_buf_fds, d->dma_buf_fds, a->dma_buf_fds,
            e->dma_buf_fds, b->fbs, d->fbs, a->fbs, e->fbs, leak ? "LEAK" : "none");
        if (leak)
                rn->ok = false;
}

static void runner_report(struct runner *rn) {
        runner_print_results(rn);
        runner_judge(rn);
        say("timings: negotiation %.1f ms, streaming and teardown %.1f ms", rn->negotiate_ms, rn->stream_ms);
        if (rn->kill_camera)
                say("timings: from the SIGKILL to every participant gone: %.1f ms", rn->kill_ms);
        runner_check_leaks(rn);
        if (!WIFEXITED(rn->daemon_status) || WEXITSTATUS(rn->daemon_status) != 0) {
                say("FAIL: sysmemd did not exit cleanly on SIGTERM (status 0x%x)", rn->daemon_status);
                rn->ok = false;
        }
        say("%s: %s mode", rn->ok ? "PASS" : "FAIL", mode_name(rn));
}

static int run(const char *self, const char *sysmemd_arg, uint32_t frames, bool kill_camera) {
        struct runner rn = {.self = self, .frames = frames, .kill_camera = kill_camera, .ok = true};
        char sysmemd_buf[PATH_MAX];
        const char *sysmemd = find_sysmemd(sysmemd_arg, sysmemd_buf, sizeof sysmemd_buf);
        if (!runner_have_devices(&rn))
                return 77;
        signal(SIGPIPE, SIG_IGN);
        runner_intro(&rn);
        if (runner_start_daemon(&rn, sysmemd) < 0 || runner_make_collection(&rn) < 0)
                return 1;
        runner_spawn(&rn);
        runner_negotiate(&rn);
        runner_follow(&rn);
        runner_teardown(&rn);
        runner_report(&rn);
        return rn.ok ? 0 : 1;
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
