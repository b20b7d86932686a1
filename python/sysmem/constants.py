"""The numbers of sysmem-types.h, as Python names (values checked against the C header by the tests)."""

import enum


class Error(enum.IntEnum):
    """sysmem2's Error values (enum sysmem_error)."""

    INVALID = 0
    UNSPECIFIED = 1
    PROTOCOL_DEVIATION = 2
    NOT_FOUND = 3
    HANDLE_ACCESS_DENIED = 4
    NO_MEMORY = 5
    CONSTRAINTS_INTERSECTION_EMPTY = 6
    PENDING = 7
    TOO_MANY_GROUP_CHILD_COMBINATIONS = 8


# Rights attenuation masks
RIGHTS_SAME = 0xFFFFFFFF
RIGHT_READ = 0x4
RIGHT_WRITE = 0x8
RIGHT_MAP = 0x20


class NoneUsage(enum.IntFlag):
    NONE = 1
    PERMIT_ALLOCATION = 2


class CpuUsage(enum.IntFlag):
    READ = 1
    READ_OFTEN = 2
    WRITE = 4
    WRITE_OFTEN = 8


class VulkanUsage(enum.IntFlag):
    IMAGE_TRANSFER_SRC = 0x1
    IMAGE_TRANSFER_DST = 0x2
    IMAGE_SAMPLED = 0x4
    IMAGE_STORAGE = 0x8
    IMAGE_COLOR_ATTACHMENT = 0x10
    IMAGE_STENCIL_ATTACHMENT = 0x20
    IMAGE_TRANSIENT_ATTACHMENT = 0x40
    IMAGE_INPUT_ATTACHMENT = 0x80
    BUFFER_TRANSFER_SRC = 0x00010000
    BUFFER_TRANSFER_DST = 0x00020000
    BUFFER_UNIFORM_TEXEL_BUFFER = 0x00040000
    BUFFER_STORAGE_TEXEL_BUFFER = 0x00080000
    BUFFER_UNIFORM_BUFFER = 0x00100000
    BUFFER_STORAGE_BUFFER = 0x00200000
    BUFFER_INDEX_BUFFER = 0x00400000
    BUFFER_VERTEX_BUFFER = 0x00800000
    BUFFER_INDIRECT_BUFFER = 0x01000000


class DisplayUsage(enum.IntFlag):
    LAYER = 1
    CURSOR = 2


class VideoUsage(enum.IntFlag):
    HW_DECODER = 1
    HW_ENCODER = 2
    CAPTURE = 8
    DECRYPTOR_OUTPUT = 16
    HW_DECODER_INTERNAL = 32


HEAP_SYSTEM_RAM = "system-ram"
HEAP_UDMABUF = "udmabuf"
HEAP_DMA_HEAP_PREFIX = "dma-heap:"
HEAP_DRM_PREFIX = "drm:"


class HeapFlag(enum.IntFlag):
    CPU_DOMAIN = 1 << 0
    RAM_DOMAIN = 1 << 1
    INACCESSIBLE_DOMAIN = 1 << 2
    CONTIGUOUS = 1 << 3
    SECURE = 1 << 4
    ZEROED = 1 << 5
    CPU_MAPPABLE = 1 << 6
    DMA_BUF = 1 << 7
    READ_ONLY_FDS = 1 << 8


class CpuAccess(enum.IntFlag):
    """Flags of sysmem_buffer_begin_cpu_access() / _end_."""

    READ = 1 << 0
    WRITE = 1 << 1


class Tristate(enum.IntEnum):
    UNSET = 0
    FALSE = 1
    TRUE = 2


class CoherencyDomain(enum.IntEnum):
    CPU = 0
    RAM = 1
    INACCESSIBLE = 2


PIXEL_FORMAT_DO_NOT_CARE = 0xFFFFFFFE
FORMAT_MODIFIER_LINEAR = 0
FORMAT_MODIFIER_DO_NOT_CARE = 0x00FFFFFFFFFFFFFE
FORMAT_MODIFIER_INVALID = 0x00FFFFFFFFFFFFFF


class ColorSpace(enum.IntEnum):
    """fuchsia.images2.ColorSpace values."""

    INVALID = 0
    SRGB = 1
    REC601_NTSC = 2
    REC601_NTSC_FULL_RANGE = 3
    REC601_PAL = 4
    REC601_PAL_FULL_RANGE = 5
    REC709 = 6
    REC2020 = 7
    REC2100 = 8
    PASSTHROUGH = 9
    DO_NOT_CARE = 0xFFFFFFFE


def fourcc(code):
    """A DRM fourcc from its four characters: fourcc('NV12') == DRM_FORMAT_NV12. Shorter codes are
    padded with spaces, as drm_fourcc.h does ('R8' is 'R8  ')."""
    if isinstance(code, int):
        return code
    b = code.encode("ascii") if isinstance(code, str) else bytes(code)
    if not 1 <= len(b) <= 4:
        raise ValueError(f"a fourcc has 1 to 4 characters, not {code!r}")
    b = b.ljust(4, b" ")
    return b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24


def fourcc_str(value):
    """The four characters of a DRM fourcc (trailing spaces removed): fourcc_str(fourcc('NV12')) == 'NV12'."""
    return bytes((value >> (8 * i)) & 0xFF for i in range(4)).decode("latin-1").rstrip(" ")
