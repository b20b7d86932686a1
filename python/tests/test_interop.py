"""A C participant (c-participant.c, linked against libsysmem) in the same collection as this Python
process: Python creates the collection and hands a token fd to the C process over a Unix socket; both
see the same collection, the same buffers and the same bytes, written by one and read by the other."""

import os
import socket
import subprocess
import unittest

import sysmem
from sysmem import Allocator, Constraints

from support import HAVE_NUMPY, child_env, need_env


class TestCInterop(unittest.TestCase):
    def setUp(self):
        need_env("SYSMEM_SOCKET")
        self.helper = need_env("SYSMEM_TEST_C_PARTICIPANT")
        self.alloc = Allocator()
        self.alloc.set_debug_client_info("python-initiator")
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ours.settimeout(30)
        self.proc = subprocess.Popen([self.helper, str(theirs.fileno())], pass_fds=[theirs.fileno()], env=child_env())
        theirs.close()

    def tearDown(self):
        self.ours.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.alloc.close()

    def recv(self):
        data = self.ours.recv(512)
        self.assertTrue(data, "the C participant hung up (see its stderr above)")
        return data.decode().split()

    def negotiate(self, constraints):
        root, (dup,) = self.alloc.allocate_shared_with_duplicates(1)
        fd = dup.to_fd()
        sysmem.send_fd(self.ours, fd)  # the C side: sysmem_recv_fd + sysmem_token_from_fd
        os.close(fd)
        coll = root.bind()
        coll.set_constraints(constraints)
        info = coll.wait_allocated()
        return coll, info, self.recv()

    def exchange(self, coll, info, words):
        self.assertEqual(words[0], "allocated")
        cid, count, size, inode0, heap = int(words[1]), int(words[2]), int(words[3]), int(words[4]), words[5]
        self.assertEqual(cid, info.buffer_collection_id)
        self.assertEqual(cid, coll.buffer_collection_id)
        self.assertEqual(count, info.buffer_count)
        self.assertEqual(size, info.settings.size_bytes)
        self.assertEqual(heap, info.settings.heap.type)
        self.assertEqual(inode0, os.fstat(info[0].fd).st_ino, "the same buffer in both processes")

        # Python writes buffer 0, the C participant checks every byte, then writes buffer 1.
        with info[0].cpu_access(write=True):
            view = info[0].memoryview()
            view[:] = bytes((i * 7 + 3) & 0xFF for i in range(size))
            view.release()
        self.ours.send(b"check")
        words = self.recv()
        self.assertEqual(words, ["checked", "0"], "the C participant saw other bytes than Python wrote")
        want = bytes((i * 13 + 5) & 0xFF for i in range(size))
        with info[1].cpu_access(read=True):
            if HAVE_NUMPY:
                import numpy as np
                self.assertTrue((info[1].numpy() == np.frombuffer(want, dtype=np.uint8)).all())
            with info[1].mmap() as m:
                self.assertEqual(m[:size], want, "Python saw other bytes than the C participant wrote")
        self.ours.send(b"bye")
        self.assertEqual(self.proc.wait(30), 0, "the C participant failed")
        info.close()
        coll.release()

    def test_raw_buffers(self):
        coll, info, words = self.negotiate(
            Constraints().cpu(read=True, write=True).buffers(camping=1).size(3 * 4096 + 5))
        self.assertEqual(info.buffer_count, 2)
        self.assertIsNone(info.image_format)
        self.assertEqual(len(words), 6)
        self.exchange(coll, info, words)

    def test_image_buffers(self):
        coll, info, words = self.negotiate(
            Constraints().cpu(read=True, write=True).buffers(camping=1)
            .image("NV12", modifier=sysmem.FORMAT_MODIFIER_LINEAR, color_spaces=["REC709"], min_size=(320, 240),
                   bytes_per_row_divisor=128))
        f = info.image_format
        self.assertIsNotNone(f)
        layout = f.layout()
        # The C side's view of the same settings: format, modifier, size and sysmem_image_layout's planes.
        fmt, mod, w, h, planes, off0, bpr0, off1, bpr1 = (int(x) for x in words[6:15])
        self.assertEqual((fmt, mod, w, h), (f.pixel_format, f.pixel_format_modifier) + f.min_size)
        self.assertEqual(planes, layout.plane_count)
        self.assertEqual((off0, bpr0, off1, bpr1), (layout.offsets[0], layout.bytes_per_row[0],
                                                    layout.offsets[1], layout.bytes_per_row[1]))
        self.assertEqual(bpr0 % 128, 0)
        self.exchange(coll, info, words)


if __name__ == "__main__":
    unittest.main()
