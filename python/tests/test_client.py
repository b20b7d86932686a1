"""The package against a live sysmemd (run.py starts one on $SYSMEM_SOCKET): allocator, tokens,
collections, buffers, CPU-access brackets, diagnostics and errors."""

import errno
import mmap
import os
import socket
import threading
import unittest

import sysmem
from sysmem import Allocator, Constraints, CpuUsage, Error, SysmemError, Token

from support import HAVE_NUMPY, need_env

PAGE = mmap.PAGESIZE


def writer(size=8192, camping=1):
    return Constraints().cpu(read=True, write=True).buffers(camping=camping).size(size)


def reader(camping=1):
    return Constraints().cpu(read=True).buffers(camping=camping)


class DaemonTest(unittest.TestCase):
    def setUp(self):
        need_env("SYSMEM_SOCKET")
        self.alloc = Allocator()
        self.alloc.set_debug_client_info(self.id().rsplit(".", 1)[-1])

    def tearDown(self):
        self.alloc.close()

    def pair(self):
        """Two participants of one new collection, both bound: (initiator, other)."""
        root = self.alloc.allocate_shared()
        root.set_name("python-test")
        dup = root.duplicate()
        root.sync()  # the daemon knows dup now: it may travel
        other = Token.from_fd(dup.to_fd())
        return root.bind(), other.bind()


class TestAllocator(DaemonTest):
    def test_heaps(self):
        heaps = self.alloc.heaps()
        self.assertTrue(heaps)
        names = [h.name for h in heaps]
        self.assertIn(sysmem.HEAP_SYSTEM_RAM, names)
        ram = heaps[names.index(sysmem.HEAP_SYSTEM_RAM)]
        self.assertEqual(ram.backend, "memfd")
        self.assertEqual(ram.device, "")
        self.assertIn(sysmem.HeapFlag.CPU_MAPPABLE, ram.flags)
        self.assertIn(sysmem.HeapFlag.ZEROED, ram.flags)
        self.assertIn(sysmem.HeapFlag.CPU_DOMAIN, ram.flags)

    def test_error_names(self):
        for e in Error:
            self.assertEqual(sysmem.error_name(e), e.name)
        self.assertEqual(sysmem.error_to_errno(Error.NO_MEMORY), errno.ENOMEM)

    def test_connect_to_nothing(self):
        with self.assertRaises(SysmemError) as cm:
            Allocator("/nonexistent/sysmem-socket")
        self.assertIn(cm.exception.errno, (errno.ENOENT, errno.ECONNREFUSED))

    def test_from_fd(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(os.environ["SYSMEM_SOCKET"])
        with Allocator.from_fd(s.detach()) as a:
            self.assertTrue(a.heaps())

    def test_validate_token(self):
        root, dups = self.alloc.allocate_shared_with_duplicates(2)
        self.assertEqual(len(dups), 2)
        self.assertTrue(self.alloc.validate_token(dups[0]))
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.assertFalse(self.alloc.validate_token(a.fileno()))
        a.close(), b.close()
        for t in dups:
            t.release()
        root.release()


class TestTokens(DaemonTest):
    def test_duplicate_sync_and_fd_passing(self):
        root = self.alloc.allocate_shared()
        dups = root.duplicate_sync(2)
        # A token crosses processes as an fd: here over a Unix socket with sysmem_send_fd / recv_fd.
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = dups[1].to_fd()
        sysmem.send_fd(a, fd, b"hello")
        os.close(fd)
        got, payload = sysmem.recv_fd(b)
        self.assertEqual(payload, b"hello")
        a.close(), b.close()
        colls = [root.bind(), dups[0].bind(), Token.from_fd(got).bind()]
        colls[0].set_constraints(writer())
        colls[1].set_constraints(reader())
        colls[2].set_constraints(None)  # takes part, no memory
        infos = [c.wait_allocated() for c in colls]
        self.assertEqual({i.buffer_collection_id for i in infos}, {colls[0].buffer_collection_id})
        self.assertEqual(infos[0].buffer_count, 2)
        self.assertTrue(infos[0].has_memory)
        self.assertFalse(infos[2].has_memory)
        for i in infos:
            i.close()
        for c in colls:
            c.release()

    def test_consumed_objects(self):
        token = self.alloc.allocate_shared()
        coll = token.bind()
        self.assertTrue(token.closed)
        with self.assertRaises(ValueError):
            token.bind()
        with self.assertRaises(ValueError):
            token.to_fd()
        coll.close()
        with self.assertRaises(ValueError):
            coll.wait_allocated()

    def test_group(self):
        root = self.alloc.allocate_shared()
        group = root.create_group()
        small, large = group.create_children_sync(2)
        group.all_children_present()
        coll = root.bind()
        coll.set_constraints(writer(4096))
        c1, c2 = small.bind(), large.bind()
        c1.set_constraints(Constraints().cpu(read=True).buffers(max=0).size(1 << 30, 1 << 30))  # cannot fit
        c2.set_constraints(reader())
        with coll.wait_allocated() as info:
            self.assertEqual(info.buffer_count, 2)
        with self.assertRaises(SysmemError):
            c1.wait_allocated()  # the group chose the other child
        c1.close()
        c2.release()
        group.release()
        coll.release()


class TestCollections(DaemonTest):
    def test_share_bytes_between_participants(self):
        a, b = self.pair()
        a.set_constraints(writer(10000, camping=1))
        self.assertFalse(a.check_allocated(), "pending until every participant set constraints")
        b.set_constraints(reader(camping=2))
        ia, ib = a.wait_allocated(), b.wait_allocated()
        self.assertTrue(a.check_allocated())
        self.assertEqual(ia.buffer_count, 3)
        self.assertEqual(len(ib), 3)
        self.assertEqual(ia.buffer_collection_id, ib.buffer_collection_id)
        s = ia.settings
        self.assertEqual(s.size_bytes, 10000)
        self.assertEqual(s.raw_vmo_size, (10000 + PAGE - 1) // PAGE * PAGE)
        self.assertEqual(s.heap.type, sysmem.HEAP_SYSTEM_RAM)
        self.assertEqual(s.coherency_domain, sysmem.CoherencyDomain.CPU)
        self.assertIsNone(ia.image_format)
        for x, y in zip(ia, ib):
            self.assertEqual(os.fstat(x.fd).st_ino, os.fstat(y.fd).st_ino)
            self.assertEqual(self.alloc.get_vmo_info(x), (ia.buffer_collection_id, x.index))
        pattern = bytes((i * 31 + 7) & 0xFF for i in range(s.size_bytes))
        with ia[1].cpu_access(write=True):
            view = ia[1].memoryview()
            self.assertEqual(len(view), s.size_bytes)
            self.assertEqual(bytes(view[:16]), bytes(16), "buffers start zeroed")
            view[:] = pattern
            view.release()
        with ib[1].cpu_access(read=True), ib[1].mmap() as m:
            self.assertEqual(m[:s.size_bytes], pattern)
        ia.close()
        with self.assertRaises(ValueError):
            ia[0].fd
        ib.close()
        a.release()
        b.release()

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed (python3-numpy): the numpy view is optional")
    def test_numpy(self):
        import numpy as np

        a, b = self.pair()
        a.set_constraints(writer(64 * 48 * 4))
        b.set_constraints(reader())
        with a.wait_allocated() as ia, b.wait_allocated() as ib:
            img = ia[0].numpy(dtype=np.uint32, shape=(48, 64))
            with ia[0].cpu_access(write=True):
                img[:] = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64)
            seen = ib[0].numpy(dtype=np.uint32, shape=(48, 64))
            with ib[0].cpu_access(read=True):
                self.assertTrue((seen == np.arange(48 * 64).reshape(48, 64)).all())
            self.assertEqual(ib[0].numpy().shape, (64 * 48 * 4,))
            del img, seen
        a.release()
        b.release()

    def test_wait_in_a_thread(self):
        """wait_allocated blocks in C without the GIL: another thread can complete the negotiation."""
        a, b = self.pair()
        a.set_constraints(writer())
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("info", a.wait_allocated()))
        t.start()
        t.join(0.2)
        self.assertTrue(t.is_alive(), "the wait returned before every participant set constraints")
        b.set_constraints(reader())
        t.join(10)
        self.assertFalse(t.is_alive())
        with result["info"] as info, b.wait_allocated() as ib:
            self.assertEqual(info.buffer_collection_id, ib.buffer_collection_id)
        a.release()
        b.release()

    def test_read_only_fds(self):
        ram = [h for h in self.alloc.heaps() if h.name == sysmem.HEAP_SYSTEM_RAM][0]
        a, b = self.pair()
        a.set_constraints(writer())
        b.set_constraints(reader())
        with a.wait_allocated() as ia, b.wait_allocated() as ib:
            self.assertTrue(ia[0].writable)
            if sysmem.HeapFlag.READ_ONLY_FDS in ram.flags:
                self.assertFalse(ib[0].writable)
                with self.assertRaises(TypeError):
                    ib[0].memoryview()[0] = 1
        a.release()
        b.release()

    def test_image_format(self):
        a, b = self.pair()
        a.set_constraints(Constraints().cpu(write=True).buffers(camping=1)
                          .image("NV12", modifier=sysmem.FORMAT_MODIFIER_LINEAR, color_spaces=["REC709"],
                                 min_size=(640, 480), bytes_per_row_divisor=64))
        b.set_constraints(reader().image("NV12", color_spaces=[sysmem.ColorSpace.REC709, sysmem.ColorSpace.REC601_PAL]))
        with a.wait_allocated() as ia, b.wait_allocated() as ib:
            f = ia.image_format
            self.assertIsNotNone(f)
            self.assertEqual(f.fourcc, "NV12")
            self.assertEqual(f.pixel_format_modifier, sysmem.FORMAT_MODIFIER_LINEAR)
            self.assertEqual(f.color_space, sysmem.ColorSpace.REC709)
            self.assertEqual(f.min_size, (640, 480))
            layout = f.layout()
            self.assertEqual(layout.plane_count, 2)
            self.assertEqual(layout.bytes_per_row, (640, 640))
            self.assertEqual(layout.offsets[0], 0)
            self.assertGreaterEqual(layout.offsets[1], 640 * 480)
            self.assertLessEqual(layout.total_size_bytes, ia.settings.size_bytes)
            self.assertEqual(ib.image_format.layout(), layout)
            with self.assertRaises(SysmemError):
                f.layout(641, 480)  # not a width the settings allow? (NV12 needs even sizes)
        a.release()
        b.release()

    def test_permitted_heaps(self):
        a, b = self.pair()
        a.set_constraints(writer().heaps(sysmem.HEAP_SYSTEM_RAM))
        b.set_constraints(reader())
        with a.wait_allocated() as ia:
            self.assertEqual(ia.settings.heap, sysmem.Heap(sysmem.HEAP_SYSTEM_RAM, 0))
        a.release()
        b.release()
        a, b = self.pair()
        a.set_constraints(writer().heaps("dma-heap:no-such-heap"))
        b.set_constraints(reader())
        with self.assertRaises(SysmemError) as cm:
            a.wait_allocated()
        self.assertTrue(cm.exception.message)
        a.close()
        b.close()

    def test_intersection_empty_is_explained(self):
        a, b = self.pair()
        a.set_debug_client_info("py-few")
        b.set_debug_client_info("py-many")
        a.set_constraints(writer().buffers(max=1))
        b.set_constraints(reader(camping=3))
        for c in (a, b):
            with self.assertRaises(SysmemError) as cm:
                c.wait_allocated()
            e = cm.exception
            self.assertEqual(e.error, Error.CONSTRAINTS_INTERSECTION_EMPTY)
            self.assertEqual(e.errno, sysmem.error_to_errno(Error.CONSTRAINTS_INTERSECTION_EMPTY))
            self.assertEqual(c.error, Error.CONSTRAINTS_INTERSECTION_EMPTY)
            self.assertTrue(e.message)
            self.assertEqual(c.error_message, e.message)
            self.assertIn("CONSTRAINTS_INTERSECTION_EMPTY", str(e))
        a.close()
        b.close()

    def test_participant_closing_fails_the_collection(self):
        root = self.alloc.allocate_shared()
        dup = root.duplicate()
        coll = root.bind()
        coll.set_constraints(writer())
        dup.close()  # without Release: a failure
        with self.assertRaises(SysmemError) as cm:
            coll.wait_allocated()
        self.assertNotEqual(cm.exception.error, Error.INVALID)
        self.assertTrue(cm.exception.message)
        coll.close()

    def test_non_shared_and_context_managers(self):
        with self.alloc.allocate_non_shared() as coll:
            coll.set_constraints(Constraints(min_buffer_count=2).cpu(write=True).size(1))
            with coll.wait_allocated() as info:
                self.assertEqual(info.buffer_count, 2)
                self.assertEqual(info.settings.raw_vmo_size, PAGE)
                sysmem.begin_cpu_access(info[0], sysmem.CpuAccess.WRITE)
                sysmem.end_cpu_access(info[0].fd, sysmem.CpuAccess.WRITE)
                with self.assertRaises(SysmemError) as cm:
                    sysmem.begin_cpu_access(info[0], 0)
                self.assertEqual(cm.exception.errno, errno.EINVAL)
                dup = info[0].dup()
            self.assertTrue(info.closed)
            os.fstat(dup)  # the duplicate is the caller's
            os.close(dup)
        self.assertTrue(coll.closed)

    def test_attach_token_late_joiner(self):
        a, b = self.pair()
        a.set_constraints(writer(4096))
        b.set_constraints(reader())
        with a.wait_allocated() as ia:
            late = a.attach_token().bind()
            late.set_constraints(Constraints().cpu(read=True))
            with late.wait_allocated() as il:
                self.assertEqual(il.buffer_collection_id, ia.buffer_collection_id)
                self.assertEqual(os.fstat(il[0].fd).st_ino, os.fstat(ia[0].fd).st_ino)
            late.release()
        a.release()
        b.release()


if __name__ == "__main__":
    unittest.main()
