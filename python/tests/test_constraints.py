"""The constraint builder: what to_c() puts in struct sysmem_constraints (no daemon needed)."""

import ctypes
import unittest

import sysmem
from sysmem import Constraints, ImageFormatConstraints, fourcc


class TestConstraints(unittest.TestCase):
    def test_defaults_are_unset(self):
        c = Constraints().to_c().struct
        self.assertEqual(bytes(c), bytes(ctypes.sizeof(c)), "an empty Constraints is all zero (every field unset)")

    def test_common_fields(self):
        c = (Constraints().cpu(read=True, write=True, often=True).use(display=sysmem.DisplayUsage.LAYER)
             .buffers(camping=2, min=3, max=8, dedicated_slack=1, shared_slack=4)
             .size(4096, 1 << 20).heaps("system-ram", ("drm:vgem", 7))
             .memory(physically_contiguous_required=True, ram_domain_supported=True, cpu_domain_supported=False))
        s = c.to_c().struct
        self.assertEqual(s.usage.cpu, sysmem.CpuUsage.READ_OFTEN | sysmem.CpuUsage.WRITE_OFTEN)
        self.assertEqual(s.usage.display, 1)
        self.assertEqual((s.min_buffer_count_for_camping, s.min_buffer_count, s.max_buffer_count,
                          s.min_buffer_count_for_dedicated_slack, s.min_buffer_count_for_shared_slack), (2, 3, 8, 1, 4))
        bm = s.buffer_memory_constraints
        self.assertEqual((bm.min_size_bytes, bm.max_size_bytes), (4096, 1 << 20))
        self.assertTrue(bm.physically_contiguous_required)
        self.assertEqual(bm.ram_domain_supported, sysmem.Tristate.TRUE)
        self.assertEqual(bm.cpu_domain_supported, sysmem.Tristate.FALSE)
        self.assertEqual(bm.inaccessible_domain_supported, sysmem.Tristate.UNSET)
        self.assertEqual(bm.permitted_heap_count, 2)
        self.assertEqual(bm.permitted_heaps[0].heap_type, b"system-ram")
        self.assertEqual((bm.permitted_heaps[1].heap_type, bm.permitted_heaps[1].id), (b"drm:vgem", 7))

    def test_image_formats(self):
        c = Constraints().image("NV12", modifier=0, color_spaces=["rec709", sysmem.ColorSpace.REC601_PAL],
                                min_size=(640, 480), max_size=(1920, 1080), bytes_per_row_divisor=64,
                                formats=[("XR24", sysmem.FORMAT_MODIFIER_LINEAR)], required_max_sizes=[(800, 600)],
                                is_alpha_present=False)
        c.image_formats.append(ImageFormatConstraints(pixel_format=fourcc("YU12"), color_spaces=[2]))
        s = c.to_c().struct
        self.assertEqual(s.image_format_constraint_count, 2)
        f = s.image_format_constraints[0]
        self.assertEqual(f.pixel_format, 0x3231564E)  # DRM_FORMAT_NV12
        self.assertTrue(f.has_pixel_format_modifier)
        self.assertEqual(f.pixel_format_modifier, 0)
        self.assertEqual(list(f.color_spaces[:f.color_space_count]), [6, 4])
        self.assertEqual((f.min_size.width, f.min_size.height, f.max_size.width, f.max_size.height), (640, 480, 1920, 1080))
        self.assertEqual(f.bytes_per_row_divisor, 64)
        self.assertEqual(f.pixel_format_and_modifier_count, 1)
        self.assertEqual(f.pixel_format_and_modifiers[0].pixel_format, 0x34325258)  # DRM_FORMAT_XRGB8888
        self.assertEqual((f.required_max_size_list[0].width, f.required_max_size_list[0].height), (800, 600))
        self.assertEqual(f.is_alpha_present, sysmem.Tristate.FALSE)
        g = s.image_format_constraints[1]
        self.assertFalse(g.has_pixel_format_modifier, "modifier None leaves it unset")
        self.assertEqual(g.pixel_format, fourcc("YU12"))
        self.assertFalse(g.required_max_size_list, "an empty list is NULL")

    def test_fourcc(self):
        self.assertEqual(fourcc("NV12"), 0x3231564E)
        self.assertEqual(fourcc("R8"), 0x20203852)
        self.assertEqual(sysmem.fourcc_str(0x3231564E), "NV12")
        self.assertEqual(fourcc(0x1234), 0x1234)
        with self.assertRaises(ValueError):
            fourcc("TOOLONG")

    def test_bad_values(self):
        with self.assertRaises(ValueError):
            Constraints().heaps("x" * 129).to_c()
        with self.assertRaises(ValueError):
            Constraints().heaps(*["system-ram"] * 65).to_c()
        with self.assertRaises(ValueError):
            Constraints().image("NV12", color_spaces=["not-a-colour-space"]).to_c()
        with self.assertRaises(TypeError):
            Constraints().image("NV12", min_size=640).to_c()
        with self.assertRaises(TypeError):
            Constraints().use(gpu=1)


if __name__ == "__main__":
    unittest.main()
