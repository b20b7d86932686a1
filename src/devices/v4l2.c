/*
 * v4l2.c: constraints of a V4L2 queue: VIDIOC_ENUM_FMT for the formats, VIDIOC_TRY_FMT at the asked size
 * for each format's size, row bytes, row alignment and image size. Never S_FMT, never REQBUFS: the
 * device's state is not touched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/videodev2.h>

#include <drm_fourcc.h>

#include "devices/devices-internal.h"

/*
 * V4L2 names a format by its bytes in memory order, DRM by the bits of a little-endian word: V4L2's
 * XBGR32 (bytes B, G, R, X) is DRM's XRGB8888 ([31:0] x:R:G:B). Formats whose planes are separate
 * memory planes (the ...M formats, one buffer per plane) have no single-buffer DRM layout.
 */
static const struct {
        uint32_t v4l2, drm;
} v4l2_to_drm[] = {
        {V4L2_PIX_FMT_XBGR32, DRM_FORMAT_XRGB8888},  {V4L2_PIX_FMT_ABGR32, DRM_FORMAT_ARGB8888},
        {V4L2_PIX_FMT_XRGB32, DRM_FORMAT_BGRX8888},  {V4L2_PIX_FMT_ARGB32, DRM_FORMAT_BGRA8888},
        {V4L2_PIX_FMT_RGBX32, DRM_FORMAT_XBGR8888},  {V4L2_PIX_FMT_RGBA32, DRM_FORMAT_ABGR8888},
        {V4L2_PIX_FMT_BGRX32, DRM_FORMAT_RGBX8888},  {V4L2_PIX_FMT_BGRA32, DRM_FORMAT_RGBA8888},
        {V4L2_PIX_FMT_RGB24, DRM_FORMAT_BGR888},     {V4L2_PIX_FMT_BGR24, DRM_FORMAT_RGB888},
        {V4L2_PIX_FMT_RGB565, DRM_FORMAT_RGB565},    {V4L2_PIX_FMT_RGB555, DRM_FORMAT_XRGB1555},
        {V4L2_PIX_FMT_XRGB555, DRM_FORMAT_XRGB1555}, {V4L2_PIX_FMT_ARGB555, DRM_FORMAT_ARGB1555},
        {V4L2_PIX_FMT_RGB332, DRM_FORMAT_RGB332},    {V4L2_PIX_FMT_GREY, DRM_FORMAT_R8},
        {V4L2_PIX_FMT_Y16, DRM_FORMAT_R16},          {V4L2_PIX_FMT_YUYV, DRM_FORMAT_YUYV},
        {V4L2_PIX_FMT_YVYU, DRM_FORMAT_YVYU},        {V4L2_PIX_FMT_UYVY, DRM_FORMAT_UYVY},
        {V4L2_PIX_FMT_VYUY, DRM_FORMAT_VYUY},        {V4L2_PIX_FMT_NV12, DRM_FORMAT_NV12},
        {V4L2_PIX_FMT_NV21, DRM_FORMAT_NV21},        {V4L2_PIX_FMT_NV16, DRM_FORMAT_NV16},
        {V4L2_PIX_FMT_NV61, DRM_FORMAT_NV61},        {V4L2_PIX_FMT_NV24, DRM_FORMAT_NV24},
        {V4L2_PIX_FMT_NV42, DRM_FORMAT_NV42},        {V4L2_PIX_FMT_YUV420, DRM_FORMAT_YUV420},
        {V4L2_PIX_FMT_YVU420, DRM_FORMAT_YVU420},    {V4L2_PIX_FMT_YUV422P, DRM_FORMAT_YUV422},
        {V4L2_PIX_FMT_P010, DRM_FORMAT_P010},
};

/* Separate memory planes: the same pixels as a DRM format, but not in one buffer. */
static const uint32_t v4l2_multi_memory[] = {
        V4L2_PIX_FMT_NV12M,  V4L2_PIX_FMT_NV21M,  V4L2_PIX_FMT_NV16M,   V4L2_PIX_FMT_NV61M,
        V4L2_PIX_FMT_YUV420M, V4L2_PIX_FMT_YVU420M, V4L2_PIX_FMT_YUV422M, V4L2_PIX_FMT_YVU422M,
        V4L2_PIX_FMT_YUV444M, V4L2_PIX_FMT_YVU444M,
};

SYSMEM_EXPORT uint32_t sysmem_drm_format_from_v4l2(uint32_t v4l2_pixelformat) {
        for (size_t i = 0; i < ARRAY_LEN(v4l2_to_drm); i++)
                if (v4l2_to_drm[i].v4l2 == v4l2_pixelformat)
                        return v4l2_to_drm[i].drm;
        return DRM_FORMAT_INVALID;
}

static bool is_multi_memory(uint32_t v4l2_pixelformat) {
        for (size_t i = 0; i < ARRAY_LEN(v4l2_multi_memory); i++)
                if (v4l2_multi_memory[i] == v4l2_pixelformat)
                        return true;
        return false;
}

static bool is_mplane(uint32_t type) {
        return type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE || type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

static bool is_capture(uint32_t type) {
        return type == V4L2_BUF_TYPE_VIDEO_CAPTURE || type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
}

static int xioctl(int fd, unsigned long req, void *arg) {
        int r;
        do
                r = ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : 0;
}

/* The device's capabilities must include the queue: -EINVAL otherwise (or for a type that is no video queue). */
static int check_caps(struct sysmem_device_constraints *dc, int fd, uint32_t type) {
        struct v4l2_capability cap = {0};
        int r = xioctl(fd, VIDIOC_QUERYCAP, &cap);
        if (r < 0)
                return r;
        uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
        uint32_t need;
        switch (type) {
        case V4L2_BUF_TYPE_VIDEO_CAPTURE: need = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_M2M; break;
        case V4L2_BUF_TYPE_VIDEO_OUTPUT: need = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_M2M; break;
        case V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE: need = V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_VIDEO_M2M_MPLANE; break;
        case V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE: need = V4L2_CAP_VIDEO_OUTPUT_MPLANE | V4L2_CAP_VIDEO_M2M_MPLANE; break;
        default: return -EINVAL;
        }
        if (!(caps & need))
                return -EINVAL;
        dev_explain(dc, "V4L2 device %.32s (driver %.16s), %s queue%s", (const char *)cap.card, (const char *)cap.driver,
                    is_capture(type) ? "capture" : "output",
                    caps & V4L2_CAP_STREAMING ? "" : "; it has no streaming I/O, so it cannot import dma-bufs");
        return 0;
}

/* What VIDIOC_TRY_FMT answers for one format and size. */
struct try_answer {
        uint32_t pixelformat, width, height, bytesperline, sizeimage, planes, colorspace, quantization;
};

static int try_fmt(int fd, uint32_t type, uint32_t pixelformat, uint32_t width, uint32_t height,
                   struct try_answer *a) {
        struct v4l2_format f = {.type = type};
        if (is_mplane(type)) {
                f.fmt.pix_mp = (struct v4l2_pix_format_mplane){.width = width, .height = height,
                                                               .pixelformat = pixelformat, .field = V4L2_FIELD_NONE};
        } else {
                f.fmt.pix = (struct v4l2_pix_format){.width = width, .height = height, .pixelformat = pixelformat,
                                                     .field = V4L2_FIELD_NONE};
        }
        int r = xioctl(fd, VIDIOC_TRY_FMT, &f);
        if (r < 0)
                return r;
        if (is_mplane(type)) {
                const struct v4l2_pix_format_mplane *m = &f.fmt.pix_mp;
                *a = (struct try_answer){m->pixelformat, m->width, m->height, m->plane_fmt[0].bytesperline,
                                         m->plane_fmt[0].sizeimage, m->num_planes, m->colorspace, m->quantization};
        } else {
                const struct v4l2_pix_format *p = &f.fmt.pix;
                *a = (struct try_answer){p->pixelformat, p->width, p->height, p->bytesperline, p->sizeimage, 1,
                                         p->colorspace, p->quantization};
        }
        return 0;
}

static uint32_t pow2_part(uint32_t v) { return v ? v & -v : 0; }

/*
 * bytes_per_row_divisor: the largest power of two dividing the row bytes the driver answers at the asked
 * width and at the nearest wider width it answers differently (width + 1, + 2, + 4, ... + 64). 0 (unset)
 * when the driver answers one width only.
 */
static uint32_t row_divisor(int fd, uint32_t type, const struct try_answer *first) {
        for (uint32_t delta = 1; delta <= 64; delta *= 2) {
                struct try_answer b;
                if (try_fmt(fd, type, first->pixelformat, first->width + delta, first->height, &b) < 0 ||
                    b.pixelformat != first->pixelformat)
                        return 0;
                if (b.width != first->width && b.bytesperline != first->bytesperline)
                        return MIN(pow2_part(first->bytesperline), pow2_part(b.bytesperline));
        }
        return 0;
}

/* The colour space V4L2 answers, where the core accepts it for the format; else every one the core accepts. */
static uint32_t v4l2_color_spaces(uint32_t drm, const struct try_answer *a, uint32_t *cs, uint32_t cap) {
        uint32_t all[DEV_MAX_ENTRY_COLOR_SPACES];
        uint32_t n = dev_color_spaces_for(drm, all, ARRAY_LEN(all));
        bool full = a->quantization == V4L2_QUANTIZATION_FULL_RANGE;
        uint32_t want = SYSMEM_COLOR_SPACE_INVALID;
        switch (a->colorspace) {
        case V4L2_COLORSPACE_SRGB: want = SYSMEM_COLOR_SPACE_SRGB; break;
        case V4L2_COLORSPACE_REC709: want = SYSMEM_COLOR_SPACE_REC709; break;
        case V4L2_COLORSPACE_SMPTE170M:
                want = full ? SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE : SYSMEM_COLOR_SPACE_REC601_NTSC;
                break;
        case V4L2_COLORSPACE_470_SYSTEM_BG:
                want = full ? SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE : SYSMEM_COLOR_SPACE_REC601_PAL;
                break;
        case V4L2_COLORSPACE_BT2020: want = SYSMEM_COLOR_SPACE_REC2020; break;
        default: break;
        }
        for (uint32_t i = 0; i < n; i++)
                if (all[i] == want && cap > 0) {
                        cs[0] = want;
                        return 1;
                }
        n = MIN(n, cap);
        memcpy(cs, all, n * sizeof *cs);
        return n;
}

/* 'XR24', or the hex value where a byte is not printable (big-endian formats set bit 31). */
static void fourcc_text(uint32_t fourcc, char *buf, size_t size) {
        char c[5] = {0};
        for (int i = 0; i < 4; i++) {
                c[i] = (char)((fourcc >> (8 * i)) & 0xff);
                if (c[i] < ' ' || c[i] > '~') {
                        snprintf(buf, size, "0x%08x", fourcc);
                        return;
                }
        }
        snprintf(buf, size, "'%s'", c);
}

static bool already_taken(const struct sysmem_device_constraints *dc, uint32_t drm) {
        for (uint32_t i = 0; i < dc->c.image_format_constraint_count; i++)
                if (dc->ifc[i].pixel_format == drm)
                        return true;
        return false;
}

/* Why a format listed by VIDIOC_ENUM_FMT has no entry, or NULL when it can have one. */
static const char *unusable(const struct sysmem_device_constraints *dc, const struct v4l2_fmtdesc *d, uint32_t drm) {
        if (is_multi_memory(d->pixelformat))
                return "its planes are separate memory planes (one buffer each), not one buffer";
        if (drm == DRM_FORMAT_INVALID)
                return d->flags & V4L2_FMT_FLAG_COMPRESSED ? "compressed, no DRM fourcc" : "no DRM fourcc";
        if (already_taken(dc, drm))
                return "its DRM fourcc is already taken by an earlier format";
        if (dc->c.image_format_constraint_count == SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS)
                return "more formats than entries";
        return NULL;
}

/* One entry for one enumerated format, or an explain line saying why not; -errno only from the device. */
static int add_format(struct sysmem_device_constraints *dc, int fd, uint32_t type, const struct v4l2_fmtdesc *d,
                      uint32_t width, uint32_t height) {
        char v4l2_name[16], drm_name[64];
        fourcc_text(d->pixelformat, v4l2_name, sizeof v4l2_name);
        uint32_t drm = sysmem_drm_format_from_v4l2(d->pixelformat);
        const char *why = unusable(dc, d, drm);
        if (why) {
                dev_explain(dc, "V4L2 format %s (%.32s): dropped: %s", v4l2_name, (const char *)d->description, why);
                return 0;
        }
        struct try_answer a;
        int r = try_fmt(fd, type, d->pixelformat, width, height, &a);
        if (r == -EINVAL || (r == 0 && (a.pixelformat != d->pixelformat || a.planes != 1 || !a.width || !a.height))) {
                dev_explain(dc, "V4L2 format %s: dropped: the driver does not take it at %ux%u in one plane", v4l2_name,
                            width, height);
                return 0;
        }
        if (r < 0)
                return r;
        uint32_t n = dc->c.image_format_constraint_count++;
        struct sysmem_image_format_constraints *e = &dc->ifc[n];
        *e = (struct sysmem_image_format_constraints){
                .pixel_format = drm,
                .has_pixel_format_modifier = true,
                .pixel_format_modifier = DRM_FORMAT_MOD_LINEAR,
                .required_min_size = {a.width, a.height},
                .required_max_size = {a.width, a.height},
                .min_bytes_per_row = a.bytesperline,
                .bytes_per_row_divisor = row_divisor(fd, type, &a),
        };
        uint32_t cs[DEV_MAX_ENTRY_COLOR_SPACES];
        dev_set_color_spaces(dc, n, cs, v4l2_color_spaces(drm, &a, cs, ARRAY_LEN(cs)));
        struct sysmem_buffer_memory_constraints *bmc = &dc->c.buffer_memory_constraints;
        bmc->min_size_bytes = MAX(bmc->min_size_bytes, (uint64_t)a.sizeimage);
        dev_explain(dc, "V4L2 format %s -> %s LINEAR: %ux%u%s, %u bytes per row (divisor %u), %u bytes", v4l2_name,
                    dev_format_name(drm, drm_name, sizeof drm_name), a.width, a.height,
                    a.width != width || a.height != height ? " (the driver's answer to the size asked)" : "",
                    a.bytesperline, e->bytes_per_row_divisor ? e->bytes_per_row_divisor : 1, a.sizeimage);
        return 0;
}

#define V4L2_MAX_ENUM_FORMATS 256u

static int v4l2_queue(struct sysmem_device_constraints *dc, int fd, uint32_t type, uint32_t width, uint32_t height,
                      struct sysmem_allocator *allocator) {
        int r = check_caps(dc, fd, type);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < V4L2_MAX_ENUM_FORMATS; i++) {
                struct v4l2_fmtdesc d = {.index = i, .type = type};
                r = xioctl(fd, VIDIOC_ENUM_FMT, &d);
                if (r == -EINVAL)
                        break;
                if (r < 0)
                        return r;
                r = add_format(dc, fd, type, &d, width, height);
                if (r < 0)
                        return r;
        }
        if (dc->c.image_format_constraint_count == 0) {
                dev_explain(dc, "no format of this queue fits %ux%u with a DRM fourcc", width, height);
                return -ENOENT;
        }
        dc->c.usage.video = is_capture(type) ? SYSMEM_VIDEO_USAGE_CAPTURE : SYSMEM_VIDEO_USAGE_HW_ENCODER;
        struct sysmem_buffer_memory_constraints *bmc = &dc->c.buffer_memory_constraints;
        bmc->cpu_domain_supported = SYSMEM_TRUE;
        bmc->ram_domain_supported = SYSMEM_TRUE;
        return dev_permit_dma_buf_heaps(dc, allocator, "V4L2 (DMABUF I/O)");
}

SYSMEM_EXPORT int sysmem_device_constraints_from_v4l2(int video_fd, uint32_t buf_type, uint32_t width, uint32_t height,
                                                      struct sysmem_allocator *allocator,
                                                      struct sysmem_device_constraints **ret) {
        if (video_fd < 0 || !ret || !width || !height)
                return -EINVAL;
        struct sysmem_device_constraints *dc = dev_new();
        if (!dc)
                return -ENOMEM;
        int r = v4l2_queue(dc, video_fd, buf_type, width, height, allocator);
        if (r == 0 && dc->oom)
                r = -ENOMEM;
        if (r < 0) {
                sysmem_device_constraints_free(dc);
                return r;
        }
        *ret = dc;
        return 0;
}
