"""sysmem: Python bindings of libsysmem (ctypes), for negotiating shared buffer collections with sysmemd.

    import sysmem

    with sysmem.Allocator() as alloc:                 # $SYSMEM_SOCKET, else the session/system socket
        token = alloc.allocate_shared()
        peer_fd = token.duplicate().to_fd()          # hand to another process (send_fd, pass_fds, ...)
        coll = token.bind()
        coll.set_constraints(sysmem.Constraints().cpu(read=True, write=True).buffers(camping=2).size(1 << 20))
        with coll.wait_allocated() as info:
            buf = info.buffers[0]
            with buf.cpu_access(write=True):
                buf.memoryview()[:4] = b"abcd"
        coll.release()

libsysmem is found through $SYSMEM_LIBRARY, else ctypes.util.find_library('sysmem'), else libsysmem.so.0.
See docs/python.md.
"""

from .constants import (  # noqa: F401
    FORMAT_MODIFIER_DO_NOT_CARE, FORMAT_MODIFIER_INVALID, FORMAT_MODIFIER_LINEAR, HEAP_DMA_HEAP_PREFIX,
    HEAP_DRM_PREFIX, HEAP_SYSTEM_RAM, HEAP_UDMABUF, PIXEL_FORMAT_DO_NOT_CARE, RIGHT_MAP, RIGHT_READ, RIGHT_WRITE,
    RIGHTS_SAME, CoherencyDomain, ColorSpace, CpuAccess, CpuUsage, DisplayUsage, Error, HeapFlag, NoneUsage,
    Tristate, VideoUsage, VulkanUsage, fourcc, fourcc_str,
)
from .constraints import BufferMemoryConstraints, Constraints, ImageFormatConstraints, Usage  # noqa: F401
from .client import (  # noqa: F401
    Allocator, Buffer, BufferSettings, Collection, CollectionInfo, Group, Heap, HeapInfo, ImageFormatSettings,
    PlaneLayout, SysmemError, Token, begin_cpu_access, cpu_access, end_cpu_access, error_name, error_to_errno,
    recv_fd, send_fd,
)
from ._lib import MAX_BUFFERS, library_path  # noqa: F401

__version__ = "0.1.0"
