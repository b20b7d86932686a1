/*
 * sysmem-devices.h: libsysmem-devices (pkg-config "sysmem-devices"), constraints built from real devices: a KMS
 * plane (IN_FORMATS, or its format list) and a V4L2 capture/output queue (VIDIOC_ENUM_FMT + VIDIOC_TRY_FMT).
 * The result is an ordinary struct sysmem_constraints for sysmem_collection_set_constraints; the library only
 * reads devices, never changes their state (no mode set, no S_FMT, no buffers). docs/devices.md says how each
 * device property becomes a constraint.
 */
#ifndef SYSMEM_DEVICES_H
#define SYSMEM_DEVICES_H

#include <sysmem/sysmem.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Constraints owned by the object: sysmem_device_constraints_get() returns them with every array pointing
 * into the object. The caller may change scalar fields (buffer counts, usage bits, sizes) before setting
 * them; the arrays stay valid until sysmem_device_constraints_free().
 */
struct sysmem_device_constraints;

struct sysmem_constraints *sysmem_device_constraints_get(struct sysmem_device_constraints *dc);
/* Accepts NULL. */
void sysmem_device_constraints_free(struct sysmem_device_constraints *dc);
/*
 * One line per decision the library made (formats taken, formats dropped and why, the heap choice), for a
 * participant to print what it asked for; "" when there is nothing to say. Owned by dc.
 */
const char *sysmem_device_constraints_explain(const struct sysmem_device_constraints *dc);

/*
 * The allocator is optional everywhere below: with it, the library asks the daemon for its heaps
 * (sysmem_allocator_get_heaps) and names the heaps this device can use in permitted_heaps; without it,
 * permitted_heaps is left empty ("any heap") except where a device can only use its own memory, which is
 * then named from the device alone (id 0).
 */

/* ---- KMS (DRM) planes ---- */

/*
 * Image-format constraints of one KMS plane of the DRM device drm_fd (a primary node): its IN_FORMATS
 * property blob (every format with every modifier it lists), or, on a driver without IN_FORMATS, the
 * plane's format list with LINEAR. Usage: SYSMEM_DISPLAY_USAGE_LAYER (CURSOR for a cursor plane). Heap:
 * when the device cannot import a dma-buf made elsewhere (tried once, with a one-page buffer from
 * /dev/udmabuf or /dev/dma_heap/system), only its own drm: heap is permitted; otherwise any dma-buf heap.
 * Returns 0, -ENOENT for no such plane, -errno from the device, -ENOMEM.
 */
int sysmem_device_constraints_from_kms_plane(int drm_fd, uint32_t plane_id, struct sysmem_allocator *allocator,
                                             struct sysmem_device_constraints **ret);

/*
 * The conversion alone, from the bytes of an IN_FORMATS blob (struct drm_format_modifier_blob, as the
 * kernel writes it); pure. Every (format, modifier) pair the blob lists is kept, including pairs sysmem
 * cannot lay out itself (docs/constraints.md: those are allocatable only by a heap whose device lays them
 * out). usage is used as given (NULL: none). One entry per pixel format (split at SYSMEM_MAX_FORMAT_PAIRS
 * modifiers); when that takes more than SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS entries, formats with the same
 * colour spaces share entries instead. -EINVAL for a malformed blob (a version other than 1, sizes or
 * offsets outside it, a format bit past count_formats, more pairs than SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS
 * * SYSMEM_MAX_FORMAT_PAIRS, or more than fit the entries even shared), -ENOENT when it lists no pair.
 */
int sysmem_device_constraints_from_in_formats(const void *blob, size_t size, const struct sysmem_usage *usage,
                                              struct sysmem_device_constraints **ret);

/* ---- V4L2 video devices ---- */

/*
 * Image-format constraints of a V4L2 queue (buf_type: V4L2_BUF_TYPE_VIDEO_CAPTURE, _OUTPUT, or their
 * _MPLANE forms) for width x height: every format VIDIOC_ENUM_FMT lists that has a DRM fourcc, each tried
 * with VIDIOC_TRY_FMT at that size; the size the driver answers becomes required_min_size and
 * required_max_size, its bytesperline min_bytes_per_row (and bytes_per_row_divisor, from a second try at
 * an odd width), its sizeimage min_size_bytes. Formats without a DRM fourcc, or that the driver does not
 * take at that size, are dropped (explained). Usage: SYSMEM_VIDEO_USAGE_CAPTURE for capture queues,
 * HW_ENCODER for output queues. Heap: any dma-buf heap (the daemon's heaps with SYSMEM_HEAP_FLAG_DMA_BUF,
 * when an allocator is given). Returns 0, -ENOENT when no format fits, -errno from the device, -ENOMEM.
 */
int sysmem_device_constraints_from_v4l2(int video_fd, uint32_t buf_type, uint32_t width, uint32_t height,
                                        struct sysmem_allocator *allocator, struct sysmem_device_constraints **ret);

/* The DRM fourcc of a V4L2 pixel format with the same memory layout, or 0 (DRM_FORMAT_INVALID). */
uint32_t sysmem_drm_format_from_v4l2(uint32_t v4l2_pixelformat);

#ifdef __cplusplus
}
#endif
#endif
