"""Allocator, tokens, collections, groups, buffers: thin objects over libsysmem's handles.

Ownership follows the C API: an object that a call consumes (bind, to_fd, release) is spent afterwards
and any further use raises ValueError. An object dropped without release() is closed, which the daemon
treats as that participant failing, exactly as a process that exits without Release. Context managers
release on a clean exit and close when an exception leaves the block.
"""

import ctypes
import errno as _errno
import fcntl
import mmap as _mmap
import os
from dataclasses import dataclass
from typing import Optional

from . import _lib as L
from .constants import CoherencyDomain, CpuAccess, Error, HeapFlag, RIGHTS_SAME, Tristate
from .constraints import Constraints

__all__ = [
    "SysmemError", "error_name", "error_to_errno", "Allocator", "Token", "Collection", "Group",
    "CollectionInfo", "Buffer", "HeapInfo", "Heap", "BufferSettings", "ImageFormatSettings", "PlaneLayout",
    "begin_cpu_access", "end_cpu_access", "cpu_access", "send_fd", "recv_fd",
]


def error_name(error):
    """The name of a sysmem error ('CONSTRAINTS_INTERSECTION_EMPTY'), from libsysmem."""
    name = L.lib().sysmem_error_name(int(error))
    return name.decode() if name else f"error {int(error)}"


def error_to_errno(error):
    return L.lib().sysmem_error_to_errno(int(error))


class SysmemError(OSError):
    """A libsysmem call failed: .errno (positive), .error (the sysmem Error, or None when the daemon
    gave none) and .message (the daemon's explanation, '' when none)."""

    def __init__(self, call, rc, error=None, message=""):
        code = -rc if rc < 0 else rc
        self.call = call
        self.error = error
        self.message = message or ""
        text = f"{call}: {os.strerror(code)}"
        if error is not None and error != Error.INVALID:
            text += f" [{error.name}]"
        if self.message:
            text += f": {self.message}"
        super().__init__(code, text)

    def __str__(self):
        return self.args[1]


def _check(call, rc, node=None):
    if rc >= 0:
        return rc
    error, message = None, ""
    if node:
        lib = L.lib()
        try:
            error = Error(lib.sysmem_node_error(node))
        except ValueError:
            error = None
        raw = lib.sysmem_node_error_message(node)
        message = raw.decode(errors="replace") if raw else ""
    raise SysmemError(call, rc, error, message)


def _name(s):
    return None if s is None else s.encode()


class _Handle:
    """A C object pointer; None once freed, released or consumed."""

    _kind = "object"

    def __init__(self, ptr):
        self._ptr = ptr

    def _p(self):
        if not self._ptr:
            raise ValueError(f"this {self._kind} was already released, closed or consumed")
        return self._ptr

    def _take(self):
        p = self._p()
        self._ptr = None
        return p

    @property
    def closed(self):
        return not self._ptr

    def __del__(self):
        try:
            if self._ptr:
                self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._ptr:
            if exc_type is None:
                self.release()
            else:
                self.close()
        return False


class _Node(_Handle):
    """What tokens, collections and groups share (struct sysmem_node)."""

    _node_fn = None

    def _node(self):
        return getattr(L.lib(), self._node_fn)(self._p())

    def _call(self, name, *args):
        return _check(name, getattr(L.lib(), name)(*args), self._node() if self._ptr else None)

    @property
    def error(self):
        """The sysmem Error that failed this node (or the last refused request's), else Error.INVALID."""
        return Error(L.lib().sysmem_node_error(self._node()))

    @property
    def error_message(self):
        raw = L.lib().sysmem_node_error_message(self._node())
        return raw.decode(errors="replace") if raw else ""

    def sync(self):
        self._call("sysmem_node_sync", self._node())

    def set_name(self, name, priority=10):
        self._call("sysmem_node_set_name", self._node(), priority, _name(name))

    def set_debug_client_info(self, name, id=None):
        self._call("sysmem_node_set_debug_client_info", self._node(), _name(name), os.getpid() if id is None else id)

    @property
    def buffer_collection_id(self):
        v = ctypes.c_uint64()
        self._call("sysmem_node_get_buffer_collection_id", self._node(), ctypes.byref(v))
        return v.value

    def set_weak(self):
        self._call("sysmem_node_set_weak", self._node())

    def set_weak_ok(self, for_child_nodes_also=False):
        self._call("sysmem_node_set_weak_ok", self._node(), bool(for_child_nodes_also))

    def get_node_ref(self):
        """A proof of this node (an fd, the caller's) for is_alternate_for()."""
        fd = ctypes.c_int(-1)
        self._call("sysmem_node_get_node_ref", self._node(), ctypes.byref(fd))
        return fd.value

    def is_alternate_for(self, node_ref_fd):
        v = ctypes.c_bool()
        self._call("sysmem_node_is_alternate_for", self._node(), int(node_ref_fd), ctypes.byref(v))
        return v.value

    def set_debug_timeout_log_deadline(self, deadline_ns):
        self._call("sysmem_node_set_debug_timeout_log_deadline", self._node(), int(deadline_ns))

    def set_verbose_logging(self):
        self._call("sysmem_node_set_verbose_logging", self._node())

    def fileno(self):
        """The node's socket, for poll() / selectors: readable when dispatch() has work."""
        return L.lib().sysmem_node_get_fd(self._node())

    def dispatch(self):
        return self._call("sysmem_node_dispatch", self._node())


def _new_tokens(ptrs):
    return [Token(ctypes.c_void_p(p)) for p in ptrs]


class Token(_Node):
    """A capability to join a collection; travels between processes as an fd (to_fd / from_fd)."""

    _kind = "token"
    _node_fn = "sysmem_token_node"

    @classmethod
    def from_fd(cls, fd):
        """A token from a token fd received from another process; takes ownership of fd."""
        out = ctypes.c_void_p()
        _check("sysmem_token_from_fd", L.lib().sysmem_token_from_fd(int(fd), ctypes.byref(out)))
        return cls(out)

    def duplicate(self, rights_attenuation_mask=RIGHTS_SAME):
        out = ctypes.c_void_p()
        self._call("sysmem_token_duplicate", self._p(), rights_attenuation_mask, ctypes.byref(out))
        return Token(out)

    def duplicate_sync(self, count, rights_attenuation_masks=None):
        """count duplicates in one round trip (the daemon knows them when this returns)."""
        masks = list(rights_attenuation_masks or [RIGHTS_SAME] * count)
        if len(masks) != count:
            raise ValueError("one rights mask per duplicate")
        arr = (ctypes.c_uint32 * max(count, 1))(*masks)
        outs = (ctypes.c_void_p * max(count, 1))()
        self._call("sysmem_token_duplicate_sync", self._p(), count, arr, ctypes.cast(outs, ctypes.POINTER(ctypes.c_void_p)))
        return _new_tokens(outs[:count])

    def set_dispensable(self):
        self._call("sysmem_token_set_dispensable", self._p())

    def create_group(self):
        out = ctypes.c_void_p()
        self._call("sysmem_token_create_group", self._p(), ctypes.byref(out))
        return Group(out)

    def bind(self):
        """Exchanges this token for a Collection (consumes the token, even on failure)."""
        p = self._take()
        out = ctypes.c_void_p()
        _check("sysmem_token_bind", L.lib().sysmem_token_bind(p, ctypes.byref(out)))
        return Collection(out)

    def to_fd(self):
        """Hands the token's socket to the caller (to send to another process); consumes the token."""
        return _check("sysmem_token_to_fd", L.lib().sysmem_token_to_fd(self._take()))

    def release(self):
        """Clean exit: this participant sets no constraints and does not block allocation."""
        _check("sysmem_token_release", L.lib().sysmem_token_release(self._take()))

    def close(self):
        """Closes without Release: the daemon treats that as this participant failing."""
        if self._ptr:
            L.lib().sysmem_token_close(self._take())


class Group(_Node):
    """A choice among alternative child tokens: exactly one child's subtree is used."""

    _kind = "group"
    _node_fn = "sysmem_group_node"

    def create_child(self, rights_attenuation_mask=RIGHTS_SAME):
        out = ctypes.c_void_p()
        self._call("sysmem_group_create_child", self._p(), rights_attenuation_mask, ctypes.byref(out))
        return Token(out)

    def create_children_sync(self, count, rights_attenuation_masks=None):
        masks = list(rights_attenuation_masks or [RIGHTS_SAME] * count)
        if len(masks) != count:
            raise ValueError("one rights mask per child")
        arr = (ctypes.c_uint32 * max(count, 1))(*masks)
        outs = (ctypes.c_void_p * max(count, 1))()
        self._call("sysmem_group_create_children_sync", self._p(), count, arr,
                   ctypes.cast(outs, ctypes.POINTER(ctypes.c_void_p)))
        return _new_tokens(outs[:count])

    def all_children_present(self):
        self._call("sysmem_group_all_children_present", self._p())

    def release(self):
        _check("sysmem_group_release", L.lib().sysmem_group_release(self._take()))

    def close(self):
        if self._ptr:
            L.lib().sysmem_group_close(self._take())


class Collection(_Node):
    """A participant's view of a collection."""

    _kind = "collection"
    _node_fn = "sysmem_collection_node"

    def set_constraints(self, constraints: Optional[Constraints]):
        """This participant's constraints; None takes part without constraints (and without buffer fds)."""
        if constraints is None:
            self._call("sysmem_collection_set_constraints", self._p(), None)
            return
        c = constraints.to_c()
        self._call("sysmem_collection_set_constraints", self._p(), c.pointer())

    def wait_allocated(self):
        """Blocks (without holding the GIL) until the buffers are allocated; raises SysmemError with the
        daemon's explanation when the collection fails."""
        out = ctypes.POINTER(L.CollectionInfo)()
        self._call("sysmem_collection_wait_allocated", self._p(), ctypes.byref(out))
        return CollectionInfo(out)

    def check_allocated(self):
        """True once allocated, False while pending; raises SysmemError when the collection failed."""
        rc = L.lib().sysmem_collection_check_allocated(self._p())
        if rc == -_errno.EAGAIN:
            return False
        _check("sysmem_collection_check_allocated", rc, self._node())
        return True

    def attach_token(self, rights_attenuation_mask=RIGHTS_SAME):
        """A token for a late joiner (gets the existing buffers if its constraints fit them)."""
        out = ctypes.c_void_p()
        self._call("sysmem_collection_attach_token", self._p(), rights_attenuation_mask, ctypes.byref(out))
        return Token(out)

    def attach_lifetime_tracking(self, buffers_remaining=0):
        """An fd (the caller's) that hangs up once at most buffers_remaining buffers are still held."""
        fd = ctypes.c_int(-1)
        self._call("sysmem_collection_attach_lifetime_tracking", self._p(), buffers_remaining, ctypes.byref(fd))
        return fd.value

    def release(self):
        """Clean exit; constraints already set stay in force."""
        _check("sysmem_collection_release", L.lib().sysmem_collection_release(self._take()))

    def close(self):
        """Closes without Release (a failure of this participant)."""
        if self._ptr:
            L.lib().sysmem_collection_close(self._take())


@dataclass(frozen=True)
class Heap:
    type: str
    id: int = 0

    @classmethod
    def _from_c(cls, h):
        return cls(h.heap_type.decode(errors="replace"), h.id)

    def __str__(self):
        return self.type if not self.id else f"{self.type}#{self.id}"


@dataclass(frozen=True)
class HeapInfo:
    """One heap of the daemon (sysmem_allocator_get_heaps)."""

    heap: Heap
    flags: HeapFlag
    max_buffer_bytes: int
    backend: str
    device: str

    @property
    def name(self):
        return self.heap.type


class Allocator(_Handle):
    """A connection to sysmemd."""

    _kind = "allocator"

    def __init__(self, path=None, *, _ptr=None):
        """Connects to path, else $SYSMEM_SOCKET, else the session then the system socket."""
        if _ptr is None:
            _ptr = ctypes.c_void_p()
            _check("sysmem_allocator_connect",
                   L.lib().sysmem_allocator_connect(_name(os.fspath(path)) if path else None, ctypes.byref(_ptr)))
        super().__init__(_ptr)

    connect = classmethod(lambda cls, path=None: cls(path))

    @classmethod
    def from_fd(cls, fd):
        """Takes ownership of fd, a connected SOCK_SEQPACKET socket to a sysmem server."""
        p = ctypes.c_void_p()
        _check("sysmem_allocator_from_fd", L.lib().sysmem_allocator_from_fd(int(fd), ctypes.byref(p)))
        return cls(_ptr=p)

    def close(self):
        if self._ptr:
            L.lib().sysmem_allocator_free(self._take())

    release = close  # an allocator has no Release; leaving the with block frees it

    def fileno(self):
        return L.lib().sysmem_allocator_get_fd(self._p())

    def set_debug_client_info(self, name, id=None):
        _check("sysmem_allocator_set_debug_client_info",
               L.lib().sysmem_allocator_set_debug_client_info(self._p(), _name(name), os.getpid() if id is None else id))

    def allocate_shared(self):
        """A new collection's root token."""
        out = ctypes.c_void_p()
        _check("sysmem_allocator_allocate_shared", L.lib().sysmem_allocator_allocate_shared(self._p(), ctypes.byref(out)))
        return Token(out)

    def allocate_shared_with_duplicates(self, count, rights_attenuation_masks=None):
        """(root token, [count duplicates]) in one round trip."""
        masks = list(rights_attenuation_masks or [RIGHTS_SAME] * count)
        if len(masks) != count:
            raise ValueError("one rights mask per duplicate")
        arr = (ctypes.c_uint32 * max(count, 1))(*masks)
        root = ctypes.c_void_p()
        outs = (ctypes.c_void_p * max(count, 1))()
        _check("sysmem_allocator_allocate_shared_with_duplicates",
               L.lib().sysmem_allocator_allocate_shared_with_duplicates(
                   self._p(), count, arr, ctypes.byref(root), ctypes.cast(outs, ctypes.POINTER(ctypes.c_void_p))))
        return Token(root), _new_tokens(outs[:count])

    def allocate_non_shared(self):
        out = ctypes.c_void_p()
        _check("sysmem_allocator_allocate_non_shared",
               L.lib().sysmem_allocator_allocate_non_shared(self._p(), ctypes.byref(out)))
        return Collection(out)

    def bind_shared(self, token):
        """Exchanges token for a Collection through the allocator (consumes token, even on failure)."""
        p = token._take()
        out = ctypes.c_void_p()
        _check("sysmem_allocator_bind_shared", L.lib().sysmem_allocator_bind_shared(self._p(), p, ctypes.byref(out)))
        return Collection(out)

    def validate_token(self, token_fd):
        """Whether token_fd (not taken) is a live token of this daemon."""
        v = ctypes.c_bool()
        _check("sysmem_allocator_validate_token",
               L.lib().sysmem_allocator_validate_token(self._p(), _fd(token_fd), ctypes.byref(v)))
        return v.value

    def get_vmo_info(self, buffer_fd):
        """(collection id, buffer index) of a buffer fd; SysmemError (ENOENT) for anything else."""
        cid, idx = ctypes.c_uint64(), ctypes.c_uint64()
        _check("sysmem_allocator_get_vmo_info",
               L.lib().sysmem_allocator_get_vmo_info(self._p(), _fd(buffer_fd), ctypes.byref(cid), ctypes.byref(idx)))
        return cid.value, idx.value

    def heaps(self):
        """The daemon's heaps, in its preference order."""
        cap = L.MAX_HEAPS
        while True:
            arr = (L.HeapInfo * cap)()
            n = ctypes.c_size_t()
            _check("sysmem_allocator_get_heaps", L.lib().sysmem_allocator_get_heaps(self._p(), arr, cap, ctypes.byref(n)))
            if n.value <= cap:
                break
            cap = n.value
        return [HeapInfo(Heap._from_c(h.heap), HeapFlag(h.flags), h.max_buffer_bytes,
                         h.backend.decode(errors="replace"), h.device.decode(errors="replace"))
                for h in arr[:n.value]]


def _fd(obj):
    return obj if isinstance(obj, int) else obj.fileno()


# ---- results ----


@dataclass(frozen=True)
class BufferSettings:
    size_bytes: int
    raw_vmo_size: int
    is_physically_contiguous: bool
    is_secure: bool
    coherency_domain: CoherencyDomain
    heap: Heap


@dataclass(frozen=True)
class PlaneLayout:
    """Where each plane of an image lies in a buffer (sysmem_image_layout)."""

    offsets: tuple
    bytes_per_row: tuple
    sizes: tuple
    total_size_bytes: int

    @property
    def plane_count(self):
        return len(self.offsets)


class ImageFormatSettings:
    """The negotiated image format (struct sysmem_image_format_settings): its fields as attributes,
    sizes as (width, height) tuples, and layout(width, height)."""

    def __init__(self, c):
        self._c = L.ImageFormatSettings()  # a copy owned by this object (the info may be freed first)
        ctypes.memmove(ctypes.byref(self._c), ctypes.byref(c), ctypes.sizeof(c))
        for name, _ in L.ImageFormatSettings._fields_:
            v = getattr(self._c, name)
            if isinstance(v, L.Size):
                v = (v.width, v.height)
            elif name == "required_max_size_list":
                v = tuple((s.width, s.height) for s in v[:self._c.required_max_size_count])
            elif name == "is_alpha_present":
                v = Tristate(v)
            setattr(self, name, v)

    @property
    def fourcc(self):
        from .constants import fourcc_str
        return fourcc_str(self.pixel_format)

    def layout(self, width=None, height=None):
        """The planes of a width x height image (default: min_size) in this format."""
        w = self.min_size[0] if width is None else width
        h = self.min_size[1] if height is None else height
        out = L.PlaneLayout()
        _check("sysmem_image_layout", L.lib().sysmem_image_layout(ctypes.byref(self._c), w, h, ctypes.byref(out)))
        n = out.plane_count
        return PlaneLayout(tuple(out.offset[:n]), tuple(out.bytes_per_row[:n]), tuple(out.size_bytes[:n]),
                           out.total_size_bytes)

    def __repr__(self):
        return (f"ImageFormatSettings({self.fourcc} modifier=0x{self.pixel_format_modifier:x} "
                f"color_space={self.color_space} min_size={self.min_size})")


def begin_cpu_access(fd, flags=CpuAccess.READ | CpuAccess.WRITE):
    """DMA_BUF_IOCTL_SYNC START on a dma-buf; nothing on a memfd."""
    _check("sysmem_buffer_begin_cpu_access", L.lib().sysmem_buffer_begin_cpu_access(_fd(fd), int(flags)))


def end_cpu_access(fd, flags=CpuAccess.READ | CpuAccess.WRITE):
    _check("sysmem_buffer_end_cpu_access", L.lib().sysmem_buffer_end_cpu_access(_fd(fd), int(flags)))


class cpu_access:
    """with cpu_access(buffer, read=True, write=True): ... brackets CPU access to a buffer (or fd)."""

    def __init__(self, fd, read=True, write=False):
        self.fd = _fd(fd)
        self.flags = (CpuAccess.READ if read else 0) | (CpuAccess.WRITE if write else 0)
        if not self.flags:
            raise ValueError("cpu_access needs read and/or write")

    def __enter__(self):
        begin_cpu_access(self.fd, self.flags)
        return self

    def __exit__(self, *exc):
        end_cpu_access(self.fd, self.flags)
        return False


class Buffer:
    """One buffer of an allocated collection: an fd (owned by its CollectionInfo) and helpers to map it."""

    def __init__(self, info, index, fd, usable_start):
        self._info = info
        self.index = index
        self._fd = fd
        self.usable_start = usable_start

    @property
    def size(self):
        """The usable bytes (settings.size_bytes)."""
        return self._info.settings.size_bytes

    @property
    def fd(self):
        if self._info.closed:
            raise ValueError("the collection info was closed: its buffer fds are gone")
        return self._fd

    def fileno(self):
        return self.fd

    def dup(self):
        """A duplicate of the buffer fd (O_CLOEXEC), the caller's to keep or pass on."""
        return fcntl.fcntl(self.fd, fcntl.F_DUPFD_CLOEXEC, 0)

    @property
    def writable(self):
        """Whether the fd allows writing (participants that do not write get read-only fds on some heaps)."""
        return fcntl.fcntl(self.fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR

    def mmap(self, writable=None):
        """A shared mapping of the whole fd (raw_vmo_size bytes), writable when the fd is (or as asked).
        The mapping outlives the fd; close it (or use it as a context manager) when done."""
        if writable is None:
            writable = self.writable
        prot = _mmap.PROT_READ | (_mmap.PROT_WRITE if writable else 0)
        return _mmap.mmap(self.fd, self._info.settings.raw_vmo_size, _mmap.MAP_SHARED, prot)

    def memoryview(self, writable=None):
        """The usable bytes as a memoryview (over a new mapping, unmapped when the view is released)."""
        m = self.mmap(writable)
        return memoryview(m)[self.usable_start:self.usable_start + self.size]

    def numpy(self, dtype="uint8", shape=None, offset=0, writable=None):
        """The usable bytes (from offset) as a numpy array of dtype, reshaped to shape. numpy is optional:
        ImportError when it is not installed."""
        import numpy as np

        dt = np.dtype(dtype)
        m = self.mmap(writable)
        avail = self.size - offset
        count = -1
        if shape is not None:
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            count = 1
            for s in shape:
                count *= s
        else:
            count = avail // dt.itemsize
        arr = np.frombuffer(m, dtype=dt, count=count, offset=self.usable_start + offset)
        return arr.reshape(shape) if shape is not None else arr

    def cpu_access(self, read=True, write=False):
        return cpu_access(self.fd, read, write)

    def __repr__(self):
        return f"Buffer(index={self.index}, fd={self._fd}, size={self.size})"


class CollectionInfo:
    """What wait_allocated() returns: the settings and the buffers (fds owned by this object; close()
    or the end of a with block closes them, mappings made from them stay valid)."""

    def __init__(self, ptr):
        self._ptr = ptr
        c = ptr.contents
        bs = c.settings.buffer_settings
        self.settings = BufferSettings(bs.size_bytes, bs.raw_vmo_size, bs.is_physically_contiguous, bs.is_secure,
                                       CoherencyDomain(bs.coherency_domain), Heap._from_c(bs.heap))
        self.image_format = (ImageFormatSettings(c.settings.image_format_constraints)
                             if c.settings.has_image_format_constraints else None)
        self.buffer_collection_id = c.buffer_collection_id
        self.buffer_count = c.buffer_count
        self.close_weak_asap_fd = c.close_weak_asap_fd if c.close_weak_asap_fd >= 0 else None
        self.buffers = [Buffer(self, i, c.buffers[i].fd, c.buffers[i].vmo_usable_start)
                        for i in range(min(c.buffer_count, L.MAX_BUFFERS))]

    @property
    def has_memory(self):
        """False for a participant without usage (it gets the settings but no buffer fds)."""
        return bool(self.buffers) and self.buffers[0]._fd >= 0

    @property
    def closed(self):
        return not self._ptr

    def close(self):
        """Closes every buffer fd (sysmem_collection_info_free)."""
        if self._ptr:
            p, self._ptr = self._ptr, None
            L.lib().sysmem_collection_info_free(p)

    def __len__(self):
        return len(self.buffers)

    def __iter__(self):
        return iter(self.buffers)

    def __getitem__(self, i):
        return self.buffers[i]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


# ---- passing fds between processes ----


def send_fd(sock, fd, data=b""):
    """Sends fd (not consumed) and a small payload over a connected Unix socket (sysmem_send_fd)."""
    buf = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
    _check("sysmem_send_fd", L.lib().sysmem_send_fd(_fd(sock), _fd(fd), buf, len(data)))


def recv_fd(sock, max_data=256):
    """(fd, payload) from a Unix socket (sysmem_recv_fd); the fd is the caller's."""
    fd = ctypes.c_int(-1)
    buf = ctypes.create_string_buffer(max(max_data, 1))
    n = _check("sysmem_recv_fd", L.lib().sysmem_recv_fd(_fd(sock), ctypes.byref(fd), buf, max_data))
    return fd.value, buf.raw[:n]
