"""Constraints, the Python way: dataclasses with sysmem's defaults (zero / None means unset) and a few
chainable helpers for the common fields; to_c() makes the struct sysmem_constraints libsysmem takes.

    c = (Constraints()
         .cpu(read=True, write=True)
         .buffers(camping=2, max=8)
         .size(1 << 20)
         .heaps("system-ram")
         .image("NV12", modifier=0, color_spaces=["REC709"], min_size=(640, 480)))
"""

import ctypes
import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

from . import _lib as L
from .constants import ColorSpace, CpuUsage, Tristate, fourcc

SizeLike = Tuple[int, int]


def _size(value, what):
    if value is None:
        return L.Size(0, 0)
    if isinstance(value, L.Size):
        return value
    try:
        w, h = value
    except (TypeError, ValueError):
        raise TypeError(f"{what}: a (width, height) pair, not {value!r}") from None
    return L.Size(int(w), int(h))


def _tristate(value):
    if value is None:
        return Tristate.UNSET
    if isinstance(value, Tristate):
        return value
    return Tristate.TRUE if value else Tristate.FALSE


def _color_space(value):
    if isinstance(value, str):
        try:
            return ColorSpace[value.upper()]
        except KeyError:
            raise ValueError(f"unknown colour space {value!r} (one of {', '.join(ColorSpace.__members__)})") from None
    return int(value)


def _heap(value):
    """A permitted heap: 'name', (name, id), or a Heap."""
    if isinstance(value, L.Heap):
        return value
    if isinstance(value, str):
        name, hid = value, 0
    else:
        name, hid = value
    raw = name.encode()
    if not raw or len(raw) > L.MAX_HEAP_TYPE_LENGTH:
        raise ValueError(f"a heap name has 1 to {L.MAX_HEAP_TYPE_LENGTH} bytes: {name!r}")
    return L.Heap(raw, int(hid))


def _check_count(n, limit, what):
    if n > limit:
        raise ValueError(f"{what}: {n} entries, at most {limit}")


def _array(ctype, items):
    """A C array of items and a pointer to it (NULL when empty)."""
    if not items:
        return None, ctypes.POINTER(ctype)()
    arr = (ctype * len(items))(*items)
    return arr, ctypes.cast(arr, ctypes.POINTER(ctype))


@dataclass
class Usage:
    """struct sysmem_usage: bit masks (CpuUsage, VulkanUsage, DisplayUsage, VideoUsage, NoneUsage)."""

    none: int = 0
    cpu: int = 0
    vulkan: int = 0
    display: int = 0
    video: int = 0


@dataclass
class BufferMemoryConstraints:
    """struct sysmem_buffer_memory_constraints. None for a domain means unset (sysmem's default);
    permitted_heaps: heap names ('system-ram', 'dma-heap:system') or (name, id); empty means any heap."""

    min_size_bytes: int = 0
    max_size_bytes: int = 0
    physically_contiguous_required: bool = False
    secure_required: bool = False
    cpu_domain_supported: Optional[bool] = None
    ram_domain_supported: Optional[bool] = None
    inaccessible_domain_supported: Optional[bool] = None
    permitted_heaps: Sequence[Union[str, Tuple[str, int]]] = ()


@dataclass
class ImageFormatConstraints:
    """struct sysmem_image_format_constraints.

    pixel_format: a DRM fourcc (int, or its characters: 'NV12'), PIXEL_FORMAT_DO_NOT_CARE, or 0 for only
    `formats`; modifier: None leaves it unset, an int (0 is LINEAR) sets it; formats: extra
    (pixel_format, modifier) pairs; color_spaces: ColorSpace values or names ('REC709'), at least one;
    sizes are (width, height) pairs; None for is_alpha_present means unset.
    """

    pixel_format: Union[int, str] = 0
    modifier: Optional[int] = None
    formats: Sequence[Tuple[Union[int, str], int]] = ()
    color_spaces: Sequence[Union[int, str]] = ()
    min_size: Optional[SizeLike] = None
    max_size: Optional[SizeLike] = None
    min_bytes_per_row: int = 0
    max_bytes_per_row: int = 0
    max_width_times_height: int = 0
    size_alignment: Optional[SizeLike] = None
    display_rect_alignment: Optional[SizeLike] = None
    required_min_size: Optional[SizeLike] = None
    required_max_size: Optional[SizeLike] = None
    required_max_sizes: Sequence[SizeLike] = ()
    bytes_per_row_divisor: int = 0
    start_offset_divisor: int = 0
    require_bytes_per_row_at_pixel_boundary: bool = False
    is_alpha_present: Optional[bool] = None
    pad_for_block_size: Optional[SizeLike] = None
    pad_beyond_image_size_bytes: int = 0

    def _to_c(self, keep):
        c = L.ImageFormatConstraints()
        c.pixel_format = fourcc(self.pixel_format) if self.pixel_format else 0
        if self.modifier is not None:
            c.has_pixel_format_modifier = True
            c.pixel_format_modifier = int(self.modifier)
        pairs = [L.PixelFormatAndModifier(fourcc(f), int(m)) for f, m in self.formats]
        _check_count(len(pairs), L.MAX_FORMAT_PAIRS, "formats")
        arr, c.pixel_format_and_modifiers = _array(L.PixelFormatAndModifier, pairs)
        c.pixel_format_and_modifier_count = len(pairs)
        keep.append(arr)
        spaces = [_color_space(s) for s in self.color_spaces]
        _check_count(len(spaces), L.MAX_COLOR_SPACES, "color_spaces")
        arr, c.color_spaces = _array(ctypes.c_uint32, spaces)
        c.color_space_count = len(spaces)
        keep.append(arr)
        for name in ("min_size", "max_size", "size_alignment", "display_rect_alignment", "required_min_size",
                     "required_max_size", "pad_for_block_size"):
            setattr(c, name, _size(getattr(self, name), name))
        sizes = [_size(s, "required_max_sizes") for s in self.required_max_sizes]
        _check_count(len(sizes), L.MAX_REQUIRED_MAX_SIZES, "required_max_sizes")
        arr, c.required_max_size_list = _array(L.Size, sizes)
        c.required_max_size_count = len(sizes)
        keep.append(arr)
        for name in ("min_bytes_per_row", "max_bytes_per_row", "max_width_times_height", "bytes_per_row_divisor",
                     "start_offset_divisor", "pad_beyond_image_size_bytes"):
            setattr(c, name, int(getattr(self, name)))
        c.require_bytes_per_row_at_pixel_boundary = bool(self.require_bytes_per_row_at_pixel_boundary)
        c.is_alpha_present = _tristate(self.is_alpha_present)
        return c


class CConstraints:
    """A struct sysmem_constraints and the arrays it points into (kept alive as long as this object)."""

    def __init__(self, struct, keep):
        self.struct = struct
        self._keep = keep

    def pointer(self):
        return ctypes.byref(self.struct)


@dataclass
class Constraints:
    """struct sysmem_constraints: usage, buffer counts, buffer memory, image formats (zero means unset)."""

    usage: Usage = field(default_factory=Usage)
    min_buffer_count_for_camping: int = 0
    min_buffer_count_for_dedicated_slack: int = 0
    min_buffer_count_for_shared_slack: int = 0
    min_buffer_count: int = 0
    max_buffer_count: int = 0
    buffer_memory: BufferMemoryConstraints = field(default_factory=BufferMemoryConstraints)
    image_formats: list = field(default_factory=list)

    # ---- chainable helpers for the common fields ----

    def cpu(self, read=False, write=False, often=False):
        """Adds CPU usage: READ / WRITE, or READ_OFTEN / WRITE_OFTEN with often=True."""
        if read:
            self.usage.cpu |= CpuUsage.READ_OFTEN if often else CpuUsage.READ
        if write:
            self.usage.cpu |= CpuUsage.WRITE_OFTEN if often else CpuUsage.WRITE
        return self

    def use(self, **bits):
        """Ors usage bits in: use(vulkan=VulkanUsage.IMAGE_SAMPLED, display=DisplayUsage.LAYER)."""
        for name, value in bits.items():
            if name not in ("none", "cpu", "vulkan", "display", "video"):
                raise TypeError(f"no usage field {name!r}")
            setattr(self.usage, name, getattr(self.usage, name) | int(value))
        return self

    def buffers(self, camping=None, min=None, max=None, dedicated_slack=None, shared_slack=None):
        """Buffer counts: camping (held by this participant at once), min / max over all, slack."""
        for attr, value in (("min_buffer_count_for_camping", camping), ("min_buffer_count", min),
                            ("max_buffer_count", max), ("min_buffer_count_for_dedicated_slack", dedicated_slack),
                            ("min_buffer_count_for_shared_slack", shared_slack)):
            if value is not None:
                setattr(self, attr, int(value))
        return self

    def size(self, min_bytes, max_bytes=None):
        """Bytes per buffer."""
        self.buffer_memory.min_size_bytes = int(min_bytes)
        if max_bytes is not None:
            self.buffer_memory.max_size_bytes = int(max_bytes)
        return self

    def heaps(self, *heaps):
        """Permitted heaps, by name ('system-ram', 'udmabuf', 'dma-heap:NAME', 'drm:DRIVER') or (name, id)."""
        self.buffer_memory.permitted_heaps = list(self.buffer_memory.permitted_heaps) + list(heaps)
        return self

    def memory(self, **fields):
        """Any other buffer memory field: memory(physically_contiguous_required=True, ram_domain_supported=True)."""
        for name, value in fields.items():
            if not hasattr(self.buffer_memory, name):
                raise TypeError(f"no buffer memory field {name!r}")
            setattr(self.buffer_memory, name, value)
        return self

    def image(self, pixel_format=0, **fields):
        """Appends one acceptable image format family (the fields of ImageFormatConstraints)."""
        self.image_formats.append(ImageFormatConstraints(pixel_format=pixel_format, **fields))
        return self

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    # ---- to C ----

    def to_c(self):
        keep = []
        c = L.Constraints()
        u = self.usage
        c.usage = L.Usage(int(u.none), int(u.cpu), int(u.vulkan), int(u.display), int(u.video))
        c.min_buffer_count_for_camping = int(self.min_buffer_count_for_camping)
        c.min_buffer_count_for_dedicated_slack = int(self.min_buffer_count_for_dedicated_slack)
        c.min_buffer_count_for_shared_slack = int(self.min_buffer_count_for_shared_slack)
        c.min_buffer_count = int(self.min_buffer_count)
        c.max_buffer_count = int(self.max_buffer_count)
        m = self.buffer_memory
        bm = c.buffer_memory_constraints
        bm.min_size_bytes = int(m.min_size_bytes)
        bm.max_size_bytes = int(m.max_size_bytes)
        bm.physically_contiguous_required = bool(m.physically_contiguous_required)
        bm.secure_required = bool(m.secure_required)
        bm.cpu_domain_supported = _tristate(m.cpu_domain_supported)
        bm.ram_domain_supported = _tristate(m.ram_domain_supported)
        bm.inaccessible_domain_supported = _tristate(m.inaccessible_domain_supported)
        heaps = [_heap(h) for h in m.permitted_heaps]
        _check_count(len(heaps), L.MAX_PERMITTED_HEAPS, "permitted_heaps")
        arr, bm.permitted_heaps = _array(L.Heap, heaps)
        bm.permitted_heap_count = len(heaps)
        keep.append(arr)
        _check_count(len(self.image_formats), L.MAX_IMAGE_FORMAT_CONSTRAINTS, "image_formats")
        formats = [f._to_c(keep) for f in self.image_formats]
        arr, c.image_format_constraints = _array(L.ImageFormatConstraints, formats)
        c.image_format_constraint_count = len(formats)
        keep.append(arr)
        return CConstraints(c, keep)
