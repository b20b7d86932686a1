"""libsysmem's image-format queries through the ctypes mirror (no daemon needed)."""

import ctypes
import errno
import unittest

from sysmem import _lib as L
from sysmem import constants as K

NV12 = 0x3231564E  # DRM_FORMAT_NV12, fourcc 'NV12'
ARGB8888 = 0x34325241  # 'AR24'
XRGB8888 = 0x34325258  # 'XR24'
I915_X_TILED = 0x0100000000000001
AMD_GFX9_64K_S = 0x0200000000000901  # AMD_FMT_MOD | TILE_VERSION GFX9 | TILE 64K_S


class TestFormatInfo(unittest.TestCase):
    def info(self, fourcc, modifier):
        out = L.FormatInfo()
        r = L.lib().sysmem_format_get_info(fourcc, modifier, ctypes.byref(out))
        return r, out

    def test_nv12(self):
        r, i = self.info(NV12, K.FORMAT_MODIFIER_LINEAR)
        self.assertEqual(r, 0)
        self.assertEqual(i.name, b"NV12")
        self.assertEqual((i.plane_count, i.bits_per_pixel, i.width_divisor, i.height_divisor), (2, 12, 2, 2))
        self.assertTrue(i.is_yuv)

    def test_argb(self):
        r, i = self.info(ARGB8888, K.FORMAT_MODIFIER_LINEAR)
        self.assertEqual(r, 0)
        self.assertEqual((i.bits_per_pixel, i.bytes_per_pixel, i.sample_alignment), (32, 4, 4))
        self.assertTrue(i.has_alpha_or_x)

    def test_errors(self):
        self.assertEqual(self.info(0x5A5A5A5A, 0)[0], -errno.ENOENT)
        self.assertEqual(self.info(XRGB8888, AMD_GFX9_64K_S)[0], -errno.EOPNOTSUPP)
        self.assertFalse(L.lib().sysmem_format_is_supported(XRGB8888, AMD_GFX9_64K_S))
        self.assertTrue(L.lib().sysmem_format_is_supported(XRGB8888, I915_X_TILED))

    def test_equal(self):
        a = L.PixelFormatAndModifier(ARGB8888, 0)
        b = L.PixelFormatAndModifier(ARGB8888, I915_X_TILED)
        eq = L.lib().sysmem_formats_equal
        self.assertTrue(eq(ctypes.byref(a), ctypes.byref(L.PixelFormatAndModifier(ARGB8888, 0))))
        self.assertFalse(eq(ctypes.byref(a), ctypes.byref(b)))


if __name__ == "__main__":
    unittest.main()
