"""The C side: libsysmem loaded with ctypes, its structs mirrored field by field, its functions typed.

Every struct here mirrors one in include/sysmem/sysmem-types.h, in the same order with the same C
types; tests/test_structs.py checks size, alignment and every field offset against a C program built
from the headers (python/tests/struct-sizes.c), so a change on the C side that breaks the mirror fails
the suite instead of corrupting memory.
"""

import ctypes
import ctypes.util
import os

# ---- limits and sizes (sysmem-types.h; checked against the C values by the tests) ----
MAX_BUFFERS = 64
MAX_HEAP_TYPE_LENGTH = 128
MAX_PERMITTED_HEAPS = 64
MAX_NAME_LENGTH = 64
MAX_CLIENT_NAME_LENGTH = 256
MAX_DUPLICATES = 64
MAX_IMAGE_FORMAT_CONSTRAINTS = 64
MAX_HEAPS = 32
MAX_HEAP_DEVICE_LENGTH = 63
MAX_FORMAT_PAIRS = 64
MAX_COLOR_SPACES = 32
MAX_REQUIRED_MAX_SIZES = 64
MAX_PLANES = 4

_bool = ctypes.c_bool
_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64
_enum = ctypes.c_int  # every sysmem enum has small non-negative values: an int-sized enum in C


class Usage(ctypes.Structure):
    _fields_ = [("none", _u32), ("cpu", _u32), ("vulkan", _u32), ("display", _u32), ("video", _u32)]


class Heap(ctypes.Structure):
    _fields_ = [("heap_type", ctypes.c_char * (MAX_HEAP_TYPE_LENGTH + 1)), ("id", _u64)]


class HeapInfo(ctypes.Structure):
    _fields_ = [
        ("heap", Heap),
        ("flags", _u32),
        ("max_buffer_bytes", _u64),
        ("backend", ctypes.c_char * 16),
        ("device", ctypes.c_char * (MAX_HEAP_DEVICE_LENGTH + 1)),
    ]


class BufferMemoryConstraints(ctypes.Structure):
    _fields_ = [
        ("min_size_bytes", _u64),
        ("max_size_bytes", _u64),
        ("physically_contiguous_required", _bool),
        ("secure_required", _bool),
        ("cpu_domain_supported", _enum),
        ("ram_domain_supported", _enum),
        ("inaccessible_domain_supported", _enum),
        ("permitted_heap_count", _u32),
        ("permitted_heaps", ctypes.POINTER(Heap)),
    ]


class Size(ctypes.Structure):
    _fields_ = [("width", _u32), ("height", _u32)]


class PixelFormatAndModifier(ctypes.Structure):
    _fields_ = [("pixel_format", _u32), ("pixel_format_modifier", _u64)]


class ImageFormatConstraints(ctypes.Structure):
    _fields_ = [
        ("pixel_format", _u32),
        ("has_pixel_format_modifier", _bool),
        ("pixel_format_modifier", _u64),
        ("pixel_format_and_modifier_count", _u32),
        ("pixel_format_and_modifiers", ctypes.POINTER(PixelFormatAndModifier)),
        ("color_space_count", _u32),
        ("color_spaces", ctypes.POINTER(_u32)),
        ("min_size", Size),
        ("max_size", Size),
        ("min_bytes_per_row", _u32),
        ("max_bytes_per_row", _u32),
        ("max_width_times_height", _u64),
        ("size_alignment", Size),
        ("display_rect_alignment", Size),
        ("required_min_size", Size),
        ("required_max_size", Size),
        ("required_max_size_count", _u32),
        ("required_max_size_list", ctypes.POINTER(Size)),
        ("bytes_per_row_divisor", _u32),
        ("start_offset_divisor", _u32),
        ("require_bytes_per_row_at_pixel_boundary", _bool),
        ("is_alpha_present", _enum),
        ("pad_for_block_size", Size),
        ("pad_beyond_image_size_bytes", _u64),
    ]


class ImageFormatSettings(ctypes.Structure):
    _fields_ = [
        ("pixel_format", _u32),
        ("pixel_format_modifier", _u64),
        ("color_space", _u32),
        ("min_size", Size),
        ("max_size", Size),
        ("min_bytes_per_row", _u32),
        ("max_bytes_per_row", _u32),
        ("max_width_times_height", _u64),
        ("size_alignment", Size),
        ("display_rect_alignment", Size),
        ("required_min_size", Size),
        ("required_max_size", Size),
        ("required_max_size_count", _u32),
        ("required_max_size_list", Size * MAX_REQUIRED_MAX_SIZES),
        ("bytes_per_row_divisor", _u32),
        ("start_offset_divisor", _u32),
        ("require_bytes_per_row_at_pixel_boundary", _bool),
        ("is_alpha_present", _enum),
        ("pad_for_block_size", Size),
        ("pad_beyond_image_size_bytes", _u64),
    ]


class PlaneLayout(ctypes.Structure):
    _fields_ = [
        ("plane_count", _u32),
        ("offset", _u64 * MAX_PLANES),
        ("bytes_per_row", _u32 * MAX_PLANES),
        ("size_bytes", _u64 * MAX_PLANES),
        ("total_size_bytes", _u64),
    ]


class Constraints(ctypes.Structure):
    _fields_ = [
        ("usage", Usage),
        ("min_buffer_count_for_camping", _u32),
        ("min_buffer_count_for_dedicated_slack", _u32),
        ("min_buffer_count_for_shared_slack", _u32),
        ("min_buffer_count", _u32),
        ("max_buffer_count", _u32),
        ("buffer_memory_constraints", BufferMemoryConstraints),
        ("image_format_constraint_count", _u32),
        ("image_format_constraints", ctypes.POINTER(ImageFormatConstraints)),
    ]


class BufferMemorySettings(ctypes.Structure):
    _fields_ = [
        ("size_bytes", _u64),
        ("raw_vmo_size", _u64),
        ("is_physically_contiguous", _bool),
        ("is_secure", _bool),
        ("coherency_domain", _enum),
        ("heap", Heap),
    ]


class SingleBufferSettings(ctypes.Structure):
    _fields_ = [
        ("buffer_settings", BufferMemorySettings),
        ("has_image_format_constraints", _bool),
        ("image_format_constraints", ImageFormatSettings),
    ]


class Buffer(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("vmo_usable_start", _u64)]


class CollectionInfo(ctypes.Structure):
    _fields_ = [
        ("settings", SingleBufferSettings),
        ("buffer_collection_id", _u64),
        ("buffer_count", _u32),
        ("buffers", Buffer * MAX_BUFFERS),
        ("close_weak_asap_fd", ctypes.c_int),
    ]


class FormatInfo(ctypes.Structure):
    _fields_ = [
        ("pixel_format", _u32),
        ("pixel_format_modifier", _u64),
        ("name", ctypes.c_char * 16),
        ("plane_count", _u32),
        ("bits_per_pixel", _u32),
        ("bytes_per_pixel", _u32),
        ("width_divisor", _u32),
        ("height_divisor", _u32),
        ("sample_alignment", _u32),
        ("bits_per_sample", _u32),
        ("is_rgb", _bool),
        ("is_yuv", _bool),
        ("has_alpha_or_x", _bool),
        ("is_non_tiled_single_plane", _bool),
    ]


# The mirrored structs by their C names (struct sysmem_NAME), for the layout test.
STRUCTS = {
    "sysmem_usage": Usage,
    "sysmem_heap": Heap,
    "sysmem_heap_info": HeapInfo,
    "sysmem_buffer_memory_constraints": BufferMemoryConstraints,
    "sysmem_size": Size,
    "sysmem_pixel_format_and_modifier": PixelFormatAndModifier,
    "sysmem_image_format_constraints": ImageFormatConstraints,
    "sysmem_image_format_settings": ImageFormatSettings,
    "sysmem_plane_layout": PlaneLayout,
    "sysmem_format_info": FormatInfo,
    "sysmem_constraints": Constraints,
    "sysmem_buffer_memory_settings": BufferMemorySettings,
    "sysmem_single_buffer_settings": SingleBufferSettings,
    "sysmem_buffer": Buffer,
    "sysmem_collection_info": CollectionInfo,
}

# ---- the library ----


def library_path():
    """Where libsysmem is loaded from: $SYSMEM_LIBRARY, else the linker's libsysmem, else libsysmem.so.0."""
    env = os.environ.get("SYSMEM_LIBRARY")
    if env:
        return env
    return ctypes.util.find_library("sysmem") or "libsysmem.so.0"


_opaque = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_int = ctypes.c_int
_str = ctypes.c_char_p

# name: (restype, argtypes)
_PROTOTYPES = {
    "sysmem_error_name": (_str, [_enum]),
    "sysmem_error_to_errno": (_int, [_enum]),
    "sysmem_allocator_connect": (_int, [_str, _pp]),
    "sysmem_allocator_from_fd": (_int, [_int, _pp]),
    "sysmem_allocator_free": (None, [_opaque]),
    "sysmem_allocator_get_fd": (_int, [_opaque]),
    "sysmem_allocator_set_debug_client_info": (_int, [_opaque, _str, _u64]),
    "sysmem_allocator_allocate_shared": (_int, [_opaque, _pp]),
    "sysmem_allocator_allocate_shared_with_duplicates": (_int, [_opaque, _u32, ctypes.POINTER(_u32), _pp, _pp]),
    "sysmem_allocator_allocate_non_shared": (_int, [_opaque, _pp]),
    "sysmem_allocator_bind_shared": (_int, [_opaque, _opaque, _pp]),
    "sysmem_allocator_validate_token": (_int, [_opaque, _int, ctypes.POINTER(_bool)]),
    "sysmem_allocator_get_vmo_info": (_int, [_opaque, _int, ctypes.POINTER(_u64), ctypes.POINTER(_u64)]),
    "sysmem_allocator_get_heaps": (_int, [_opaque, ctypes.POINTER(HeapInfo), ctypes.c_size_t,
                                          ctypes.POINTER(ctypes.c_size_t)]),
    "sysmem_token_node": (_opaque, [_opaque]),
    "sysmem_collection_node": (_opaque, [_opaque]),
    "sysmem_group_node": (_opaque, [_opaque]),
    "sysmem_node_sync": (_int, [_opaque]),
    "sysmem_node_set_name": (_int, [_opaque, _u32, _str]),
    "sysmem_node_set_debug_client_info": (_int, [_opaque, _str, _u64]),
    "sysmem_node_get_buffer_collection_id": (_int, [_opaque, ctypes.POINTER(_u64)]),
    "sysmem_node_error": (_enum, [_opaque]),
    "sysmem_node_error_message": (_str, [_opaque]),
    "sysmem_node_set_weak": (_int, [_opaque]),
    "sysmem_node_set_weak_ok": (_int, [_opaque, _bool]),
    "sysmem_node_get_node_ref": (_int, [_opaque, ctypes.POINTER(_int)]),
    "sysmem_node_is_alternate_for": (_int, [_opaque, _int, ctypes.POINTER(_bool)]),
    "sysmem_node_set_debug_timeout_log_deadline": (_int, [_opaque, _u64]),
    "sysmem_node_set_verbose_logging": (_int, [_opaque]),
    "sysmem_node_get_fd": (_int, [_opaque]),
    "sysmem_node_dispatch": (_int, [_opaque]),
    "sysmem_token_duplicate": (_int, [_opaque, _u32, _pp]),
    "sysmem_token_duplicate_sync": (_int, [_opaque, _u32, ctypes.POINTER(_u32), _pp]),
    "sysmem_token_set_dispensable": (_int, [_opaque]),
    "sysmem_token_create_group": (_int, [_opaque, _pp]),
    "sysmem_token_bind": (_int, [_opaque, _pp]),
    "sysmem_token_release": (_int, [_opaque]),
    "sysmem_token_close": (None, [_opaque]),
    "sysmem_token_to_fd": (_int, [_opaque]),
    "sysmem_token_from_fd": (_int, [_int, _pp]),
    "sysmem_collection_set_constraints": (_int, [_opaque, ctypes.POINTER(Constraints)]),
    "sysmem_collection_wait_allocated": (_int, [_opaque, ctypes.POINTER(ctypes.POINTER(CollectionInfo))]),
    "sysmem_collection_check_allocated": (_int, [_opaque]),
    "sysmem_collection_attach_token": (_int, [_opaque, _u32, _pp]),
    "sysmem_collection_attach_lifetime_tracking": (_int, [_opaque, _u32, ctypes.POINTER(_int)]),
    "sysmem_collection_release": (_int, [_opaque]),
    "sysmem_collection_close": (None, [_opaque]),
    "sysmem_group_create_child": (_int, [_opaque, _u32, _pp]),
    "sysmem_group_create_children_sync": (_int, [_opaque, _u32, ctypes.POINTER(_u32), _pp]),
    "sysmem_group_all_children_present": (_int, [_opaque]),
    "sysmem_group_release": (_int, [_opaque]),
    "sysmem_group_close": (None, [_opaque]),
    "sysmem_collection_info_free": (None, [ctypes.POINTER(CollectionInfo)]),
    "sysmem_image_layout": (_int, [ctypes.POINTER(ImageFormatSettings), _u32, _u32, ctypes.POINTER(PlaneLayout)]),
    "sysmem_image_min_bytes_per_row": (_int, [ctypes.POINTER(ImageFormatSettings), _u32, ctypes.POINTER(_u32)]),
    "sysmem_format_is_supported": (_bool, [_u32, _u64]),
    "sysmem_format_get_info": (_int, [_u32, _u64, ctypes.POINTER(FormatInfo)]),
    "sysmem_formats_equal": (_bool, [ctypes.POINTER(PixelFormatAndModifier), ctypes.POINTER(PixelFormatAndModifier)]),
    "sysmem_buffer_begin_cpu_access": (_int, [_int, _u32]),
    "sysmem_buffer_end_cpu_access": (_int, [_int, _u32]),
    "sysmem_send_fd": (_int, [_int, _int, ctypes.c_void_p, ctypes.c_size_t]),
    "sysmem_recv_fd": (_int, [_int, ctypes.POINTER(_int), ctypes.c_void_p, ctypes.c_size_t]),
}

_lib = None


def lib():
    """The loaded libsysmem (loaded on first use, so importing the package never fails)."""
    global _lib
    if _lib is None:
        path = library_path()
        try:
            dll = ctypes.CDLL(path)
        except OSError as e:
            raise OSError(
                f"cannot load libsysmem ({path}): {e}; install libsysmem or set SYSMEM_LIBRARY to its path"
            ) from e
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(dll, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _lib = dll
    return _lib
