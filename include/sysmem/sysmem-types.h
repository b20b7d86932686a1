/* sysmem-types.h: the constraint and result types shared by libsysmem, sysmemd and the pure core. */
#ifndef SYSMEM_TYPES_H
#define SYSMEM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits that are part of the protocol (see docs/protocol.md) ---- */
#define SYSMEM_MAX_BUFFERS 64u                /* buffers in one collection */
#define SYSMEM_MAX_HEAP_TYPE_LENGTH 128u      /* bytes of a heap name, without the NUL */
#define SYSMEM_MAX_PERMITTED_HEAPS 64u        /* entries in permitted_heaps */
#define SYSMEM_MAX_NAME_LENGTH 64u            /* collection name (SetName) */
#define SYSMEM_MAX_CLIENT_NAME_LENGTH 256u    /* debug client name */
#define SYSMEM_MAX_DUPLICATES 64u             /* tokens per DuplicateSync */
#define SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS 64u

/* Rights attenuation masks, as in Fuchsia's zx_rights_t subset that matters for buffers. */
#define SYSMEM_RIGHTS_SAME 0xffffffffu
#define SYSMEM_RIGHT_READ 0x4u
#define SYSMEM_RIGHT_WRITE 0x8u
#define SYSMEM_RIGHT_MAP 0x20u

/* ---- errors: sysmem2's Error values, unchanged ---- */
enum sysmem_error {
        SYSMEM_ERROR_INVALID = 0,
        SYSMEM_ERROR_UNSPECIFIED = 1,
        SYSMEM_ERROR_PROTOCOL_DEVIATION = 2,
        SYSMEM_ERROR_NOT_FOUND = 3,
        SYSMEM_ERROR_HANDLE_ACCESS_DENIED = 4,
        SYSMEM_ERROR_NO_MEMORY = 5,
        SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY = 6,
        SYSMEM_ERROR_PENDING = 7,
        SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS = 8,
};

/* ---- usage bits (values identical to fuchsia.sysmem2) ---- */
#define SYSMEM_NONE_USAGE 1u
#define SYSMEM_NONE_USAGE_PERMIT_ALLOCATION 2u

#define SYSMEM_CPU_USAGE_READ 1u
#define SYSMEM_CPU_USAGE_READ_OFTEN 2u
#define SYSMEM_CPU_USAGE_WRITE 4u
#define SYSMEM_CPU_USAGE_WRITE_OFTEN 8u

#define SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_SRC 0x1u
#define SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST 0x2u
#define SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED 0x4u
#define SYSMEM_VULKAN_IMAGE_USAGE_STORAGE 0x8u
#define SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT 0x10u
#define SYSMEM_VULKAN_IMAGE_USAGE_STENCIL_ATTACHMENT 0x20u
#define SYSMEM_VULKAN_IMAGE_USAGE_TRANSIENT_ATTACHMENT 0x40u
#define SYSMEM_VULKAN_IMAGE_USAGE_INPUT_ATTACHMENT 0x80u
#define SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_SRC 0x00010000u
#define SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST 0x00020000u
#define SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER 0x00040000u
#define SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_TEXEL_BUFFER 0x00080000u
#define SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_BUFFER 0x00100000u
#define SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER 0x00200000u
#define SYSMEM_VULKAN_BUFFER_USAGE_INDEX_BUFFER 0x00400000u
#define SYSMEM_VULKAN_BUFFER_USAGE_VERTEX_BUFFER 0x00800000u
#define SYSMEM_VULKAN_BUFFER_USAGE_INDIRECT_BUFFER 0x01000000u

#define SYSMEM_DISPLAY_USAGE_LAYER 1u
#define SYSMEM_DISPLAY_USAGE_CURSOR 2u

#define SYSMEM_VIDEO_USAGE_HW_DECODER 1u
#define SYSMEM_VIDEO_USAGE_HW_ENCODER 2u
#define SYSMEM_VIDEO_USAGE_CAPTURE 8u
#define SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT 16u
#define SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL 32u

struct sysmem_usage {
        uint32_t none;
        uint32_t cpu;
        uint32_t vulkan;
        uint32_t display;
        uint32_t video;
};

/*
 * Heap names (heap_type) as participants put them in permitted_heaps; docs/heaps.md describes each.
 * system-ram is on every machine: one sealed memfd per buffer. The others exist where the kernel offers
 * them: "udmabuf" (a sealed memfd made a dma-buf), "dma-heap:NAME" (/dev/dma_heap/NAME) and
 * "drm:DRIVER" (dumb buffers of one DRM device, PRIME-exported; id tells two devices of one driver apart).
 */
#define SYSMEM_HEAP_SYSTEM_RAM "system-ram"
#define SYSMEM_HEAP_UDMABUF "udmabuf"
#define SYSMEM_HEAP_DMA_HEAP_PREFIX "dma-heap:"
#define SYSMEM_HEAP_DRM_PREFIX "drm:"

struct sysmem_heap {
        char heap_type[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1]; /* NUL-terminated */
        uint64_t id;                                      /* 0 for singleton heaps */
};

/* What a heap is and does (sysmem_allocator_get_heaps(), sysmemctl heaps). */
enum sysmem_heap_flags {
        SYSMEM_HEAP_FLAG_CPU_DOMAIN = 1u << 0,          /* serves the CPU coherency domain */
        SYSMEM_HEAP_FLAG_RAM_DOMAIN = 1u << 1,          /* serves the RAM coherency domain */
        SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN = 1u << 2, /* serves the INACCESSIBLE coherency domain */
        SYSMEM_HEAP_FLAG_CONTIGUOUS = 1u << 3,          /* physically contiguous: serves physically_contiguous_required */
        SYSMEM_HEAP_FLAG_SECURE = 1u << 4,              /* protected memory: serves secure_required */
        SYSMEM_HEAP_FLAG_ZEROED = 1u << 5,              /* every buffer starts all zero */
        SYSMEM_HEAP_FLAG_CPU_MAPPABLE = 1u << 6,        /* buffer fds can be mmap()ed */
        SYSMEM_HEAP_FLAG_DMA_BUF = 1u << 7,             /* buffer fds are dma-bufs (devices import them) */
        SYSMEM_HEAP_FLAG_READ_ONLY_FDS = 1u << 8,       /* participants that do not write get read-only fds */
};

#define SYSMEM_MAX_HEAPS 32u              /* heaps one daemon registers */
#define SYSMEM_MAX_HEAP_DEVICE_LENGTH 63u /* bytes of a heap's device path, without the NUL */
struct sysmem_heap_info {
        struct sysmem_heap heap;
        uint32_t flags;            /* enum sysmem_heap_flags */
        uint64_t max_buffer_bytes; /* the heap's own limit on one buffer; 0: none besides the daemon's */
        char backend[16];          /* "memfd", "udmabuf", "dma-heap", "drm" */
        char device[SYSMEM_MAX_HEAP_DEVICE_LENGTH + 1]; /* the kernel device it allocates from; "" for memfd */
};

/*
 * The protocol version this header and the library speak. A daemon answers GetServerInfo with the
 * version it speaks and the oldest it still serves; any change a client could notice raises it.
 */
#define SYSMEM_PROTOCOL_VERSION 1u

/* What a daemon has, beyond the version (sysmem_server_info.features); docs/protocol.md, GetServerInfo. */
enum sysmem_feature {
        SYSMEM_FEATURE_SPARE_TOKENS = 1u << 0,     /* AllocateSharedCollectionFromSpares and SpareEnds */
        SYSMEM_FEATURE_HEAPS = 1u << 1,            /* GetHeaps */
        SYSMEM_FEATURE_DEVICE_LAYOUTS = 1u << 2,   /* pairs only a device lays out, through a drm: heap */
        SYSMEM_FEATURE_SERVER_LIFETIME_FD = 1u << 3, /* AttachLifetimeTracking replies with the fd */
        SYSMEM_FEATURE_PER_UID_LIMITS = 1u << 4,   /* budgets per user; diagnostics show one's own uid */
        SYSMEM_FEATURE_SENDER_CREDENTIALS = 1u << 5, /* diagnostics name each node's sender (pid, uid) */
};

/* A daemon's answer to sysmem_allocator_get_server_info(). */
struct sysmem_server_info {
        uint32_t protocol_version;     /* what it speaks */
        uint32_t min_protocol_version; /* the oldest client protocol it serves */
        uint64_t features;             /* enum sysmem_feature bits */
        char version[32];              /* the daemon's release, e.g. "0.1.0" */
};

/* CPU access brackets for a buffer fd (sysmem_buffer_begin_cpu_access()). */
enum sysmem_cpu_access {
        SYSMEM_CPU_ACCESS_READ = 1u << 0,
        SYSMEM_CPU_ACCESS_WRITE = 1u << 1,
};

/* A boolean whose default depends on other fields when it is left unset. */
enum sysmem_tristate {
        SYSMEM_UNSET = 0,
        SYSMEM_FALSE = 1,
        SYSMEM_TRUE = 2,
};

enum sysmem_coherency_domain {
        SYSMEM_COHERENCY_DOMAIN_CPU = 0,
        SYSMEM_COHERENCY_DOMAIN_RAM = 1,
        SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE = 2,
};

/*
 * Zero means "unset" for every numeric field (sysmem's default then applies); see
 * docs/constraints.md. permitted_heaps with a count of 0 means "any heap".
 */
struct sysmem_buffer_memory_constraints {
        uint64_t min_size_bytes;
        uint64_t max_size_bytes; /* 0: unset, i.e. no limit */
        bool physically_contiguous_required;
        bool secure_required;
        enum sysmem_tristate cpu_domain_supported;          /* unset: !secure_required */
        enum sysmem_tristate ram_domain_supported;          /* unset: !secure && no cpu usage */
        enum sysmem_tristate inaccessible_domain_supported; /* unset: no cpu usage */
        uint32_t permitted_heap_count;
        const struct sysmem_heap *permitted_heaps;
};

/* ---- image formats: DRM fourcc codes and format modifiers (libdrm's drm_fourcc.h) ---- */

/* A pixel_format is a DRM fourcc (DRM_FORMAT_*); 0 (DRM_FORMAT_INVALID) means unset. */
#define SYSMEM_PIXEL_FORMAT_DO_NOT_CARE 0xfffffffeu
/* A modifier is a DRM format modifier (DRM_FORMAT_MOD_*; LINEAR is 0). */
#define SYSMEM_FORMAT_MODIFIER_LINEAR 0ull
#define SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE 0x00fffffffffffffeull
#define SYSMEM_FORMAT_MODIFIER_INVALID 0x00ffffffffffffffull /* DRM_FORMAT_MOD_INVALID */

/* Colour spaces: fuchsia.images2.ColorSpace values. */
#define SYSMEM_COLOR_SPACE_INVALID 0u
#define SYSMEM_COLOR_SPACE_SRGB 1u
#define SYSMEM_COLOR_SPACE_REC601_NTSC 2u
#define SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE 3u
#define SYSMEM_COLOR_SPACE_REC601_PAL 4u
#define SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE 5u
#define SYSMEM_COLOR_SPACE_REC709 6u
#define SYSMEM_COLOR_SPACE_REC2020 7u
#define SYSMEM_COLOR_SPACE_REC2100 8u
#define SYSMEM_COLOR_SPACE_PASSTHROUGH 9u
#define SYSMEM_COLOR_SPACE_DO_NOT_CARE 0xfffffffeu

#define SYSMEM_MAX_FORMAT_PAIRS 64u         /* pixel_format_and_modifiers entries */
#define SYSMEM_MAX_COLOR_SPACES 32u         /* color_spaces entries */
#define SYSMEM_MAX_REQUIRED_MAX_SIZES 64u   /* required_max_size_list entries */
#define SYSMEM_MAX_PLANES 4u

struct sysmem_size {
        uint32_t width;
        uint32_t height;
};

struct sysmem_pixel_format_and_modifier {
        uint32_t pixel_format;
        uint64_t pixel_format_modifier;
};

/*
 * One acceptable image format family, as sysmem2's ImageFormatConstraints. Zero means unset for
 * numeric fields (sysmem's default applies); has_pixel_format_modifier tells an explicit LINEAR (0)
 * from an unset modifier. See docs/constraints.md for every default, rule and error.
 */
struct sysmem_image_format_constraints {
        uint32_t pixel_format; /* DRM fourcc or SYSMEM_PIXEL_FORMAT_DO_NOT_CARE; 0: only the list below */
        bool has_pixel_format_modifier;
        uint64_t pixel_format_modifier;
        uint32_t pixel_format_and_modifier_count;
        const struct sysmem_pixel_format_and_modifier *pixel_format_and_modifiers;
        uint32_t color_space_count; /* required: at least one */
        const uint32_t *color_spaces;
        struct sysmem_size min_size;
        struct sysmem_size max_size; /* 0 per axis: unset (no limit) */
        uint32_t min_bytes_per_row;
        uint32_t max_bytes_per_row;      /* 0: unset */
        uint64_t max_width_times_height; /* 0: unset */
        struct sysmem_size size_alignment;         /* 0 per axis: 1 */
        struct sysmem_size display_rect_alignment; /* 0 per axis: 1 */
        struct sysmem_size required_min_size;      /* 0 per axis: unset */
        struct sysmem_size required_max_size;      /* 0 per axis: unset */
        uint32_t required_max_size_count;
        const struct sysmem_size *required_max_size_list;
        uint32_t bytes_per_row_divisor; /* 0: 1 */
        uint32_t start_offset_divisor;  /* 0: 1 */
        bool require_bytes_per_row_at_pixel_boundary;
        enum sysmem_tristate is_alpha_present;
        struct sysmem_size pad_for_block_size; /* 0 per axis: 1 */
        uint64_t pad_beyond_image_size_bytes;
};

/* The image format a negotiation chose: the aggregated constraints of one (format, modifier). */
struct sysmem_image_format_settings {
        uint32_t pixel_format;
        uint64_t pixel_format_modifier;
        uint32_t color_space;
        struct sysmem_size min_size;
        struct sysmem_size max_size; /* 0xffffffff: no limit */
        uint32_t min_bytes_per_row;
        uint32_t max_bytes_per_row;      /* 0xffffffff: no limit */
        uint64_t max_width_times_height; /* UINT64_MAX: no limit */
        struct sysmem_size size_alignment;
        struct sysmem_size display_rect_alignment;
        struct sysmem_size required_min_size;
        struct sysmem_size required_max_size;
        uint32_t required_max_size_count;
        struct sysmem_size required_max_size_list[SYSMEM_MAX_REQUIRED_MAX_SIZES];
        uint32_t bytes_per_row_divisor;
        uint32_t start_offset_divisor;
        bool require_bytes_per_row_at_pixel_boundary;
        enum sysmem_tristate is_alpha_present;
        struct sysmem_size pad_for_block_size;
        uint64_t pad_beyond_image_size_bytes;
};

/* Where each plane of an image lives in a buffer. */
struct sysmem_plane_layout {
        uint32_t plane_count;
        uint64_t offset[SYSMEM_MAX_PLANES];
        uint32_t bytes_per_row[SYSMEM_MAX_PLANES];
        uint64_t size_bytes[SYSMEM_MAX_PLANES];
        uint64_t total_size_bytes;
};

/*
 * What sysmem's image-format library knows of one (format, modifier) pair it lays out itself
 * (sysmem_format_get_info()): sysmem2's per-format constants (fuchsia image_format.cc), so a client can
 * size and check images without copying sysmem's tables. See docs/constraints.md, "Format information".
 */
struct sysmem_format_info {
        uint32_t pixel_format;                   /* the DRM fourcc asked about */
        uint64_t pixel_format_modifier;          /* the modifier asked about */
        char name[16];                           /* e.g. "NV12", NUL-terminated */
        uint32_t plane_count;           /* planes sysmem_image_layout() reports (1 to 4; Intel CCS: 4, plane 3 the CCS) */
        uint32_t bits_per_pixel;        /* average over all planes, sysmem2's figure (NV12: 12, P010: 15) */
        uint32_t bytes_per_pixel;       /* plane 0 bytes per pixel of width (sysmem2's stride_bytes_per_width_pixel) */
        uint32_t width_divisor;         /* SurfaceWidthMinDivisor: image widths are a multiple of it */
        uint32_t height_divisor;        /* SurfaceHeightMinDivisor */
        uint32_t sample_alignment;      /* SampleAlignment: bytes_per_row is a multiple of it */
        uint32_t bits_per_sample;       /* the colour-space class depth: 8, 10 (sysmem2's, not always the real one) */
        bool is_rgb;                    /* takes RGB colour spaces (SRGB) */
        bool is_yuv;                    /* takes YUV colour spaces (REC601, REC709, ...) */
        bool has_alpha_or_x;            /* has an A or X channel (is_alpha_present is kept) */
        bool is_non_tiled_single_plane; /* ImageFormatIsNonTiledSinglePlane: pad_for_block_size applies */
};

struct sysmem_constraints {
        struct sysmem_usage usage;
        uint32_t min_buffer_count_for_camping;
        uint32_t min_buffer_count_for_dedicated_slack;
        uint32_t min_buffer_count_for_shared_slack;
        uint32_t min_buffer_count;
        uint32_t max_buffer_count; /* 0: unset, i.e. no limit */
        struct sysmem_buffer_memory_constraints buffer_memory_constraints;
        uint32_t image_format_constraint_count;
        const struct sysmem_image_format_constraints *image_format_constraints;
};

/* ---- results ---- */
struct sysmem_buffer_memory_settings {
        uint64_t size_bytes;   /* logical size; not page-rounded */
        uint64_t raw_vmo_size; /* the size of every buffer fd: size_bytes rounded up to a page */
        bool is_physically_contiguous;
        bool is_secure;
        enum sysmem_coherency_domain coherency_domain;
        struct sysmem_heap heap;
};

struct sysmem_single_buffer_settings {
        struct sysmem_buffer_memory_settings buffer_settings;
        bool has_image_format_constraints;
        struct sysmem_image_format_settings image_format_constraints; /* valid when has_... */
};

struct sysmem_buffer {
        int fd;                    /* -1 when this participant gets no memory (no usage) */
        uint64_t vmo_usable_start; /* offset of the usable bytes in fd; 0 today */
};

struct sysmem_collection_info {
        struct sysmem_single_buffer_settings settings;
        uint64_t buffer_collection_id;
        uint32_t buffer_count;
        struct sysmem_buffer buffers[SYSMEM_MAX_BUFFERS];
        /*
         * Weak participants only (else -1): a socket that hangs up (POLLHUP, read returns 0) when the
         * last strong participant has gone; close every buffer fd and mapping then.
         */
        int close_weak_asap_fd;
};

#ifdef __cplusplus
}
#endif
#endif
