"""The ctypes mirror against the C headers: every struct's size, alignment and field offsets and sizes,
and every constant, as printed by struct-sizes.c (built from include/sysmem by meson)."""

import ctypes
import subprocess
import unittest

import sysmem
from sysmem import _lib as L
from sysmem import constants as K

from support import child_env, need_env


def c_layout():
    out = subprocess.run([need_env("SYSMEM_TEST_STRUCT_SIZES")], capture_output=True, text=True, check=True,
                         env=child_env()).stdout
    structs, fields, enums, consts = {}, {}, {}, {}
    for line in out.splitlines():
        kind, *rest = line.split()
        if kind == "struct":
            structs[rest[0]] = (int(rest[1]), int(rest[2]))
        elif kind == "field":
            name, field = rest[0].split(".")
            fields.setdefault(name, []).append((field, int(rest[1]), int(rest[2])))
        elif kind == "enum":
            enums[rest[0]] = int(rest[1])
        elif kind == "const":
            consts[rest[0]] = int(rest[1])
    return structs, fields, enums, consts


# Python name of each C constant (SYSMEM_ prefix dropped).
def python_constants():
    m = {}
    for n in ("MAX_BUFFERS", "MAX_HEAP_TYPE_LENGTH", "MAX_PERMITTED_HEAPS", "MAX_NAME_LENGTH",
              "MAX_CLIENT_NAME_LENGTH", "MAX_DUPLICATES", "MAX_IMAGE_FORMAT_CONSTRAINTS", "MAX_HEAPS",
              "MAX_HEAP_DEVICE_LENGTH", "MAX_FORMAT_PAIRS", "MAX_COLOR_SPACES", "MAX_REQUIRED_MAX_SIZES", "MAX_PLANES"):
        m[n] = getattr(L, n)
    for n in ("RIGHTS_SAME", "RIGHT_READ", "RIGHT_WRITE", "RIGHT_MAP", "PIXEL_FORMAT_DO_NOT_CARE",
              "FORMAT_MODIFIER_LINEAR", "FORMAT_MODIFIER_DO_NOT_CARE", "FORMAT_MODIFIER_INVALID"):
        m[n] = getattr(K, n)
    m["NONE_USAGE"] = K.NoneUsage.NONE
    m["NONE_USAGE_PERMIT_ALLOCATION"] = K.NoneUsage.PERMIT_ALLOCATION
    for e in K.CpuUsage:
        m["CPU_USAGE_" + e.name] = e
    for e in K.VulkanUsage:
        kind, rest = e.name.split("_", 1)
        m[f"VULKAN_{kind}_USAGE_{rest}"] = e
    for e in K.DisplayUsage:
        m["DISPLAY_USAGE_" + e.name] = e
    for e in K.VideoUsage:
        m["VIDEO_USAGE_" + e.name] = e
    for e in K.HeapFlag:
        m["HEAP_FLAG_" + e.name] = e
    for e in K.CpuAccess:
        m["CPU_ACCESS_" + e.name] = e
    for e in K.Tristate:
        m[e.name] = e
    for e in K.CoherencyDomain:
        m["COHERENCY_DOMAIN_" + e.name] = e
    for e in K.ColorSpace:
        m["COLOR_SPACE_" + e.name] = e
    for e in K.Error:
        m["ERROR_" + e.name] = e
    return m


class TestStructMirror(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.structs, cls.fields, cls.enums, cls.consts = c_layout()

    def test_every_struct_is_mirrored(self):
        self.assertEqual(set(self.structs), set(L.STRUCTS))

    def test_sizes_and_alignment(self):
        for name, (size, align) in self.structs.items():
            with self.subTest(struct=name):
                py = L.STRUCTS[name]
                self.assertEqual(ctypes.sizeof(py), size, f"sizeof(struct {name})")
                self.assertEqual(ctypes.alignment(py), align, f"alignof(struct {name})")

    def test_fields(self):
        for name, fields in self.fields.items():
            py = L.STRUCTS[name]
            self.assertEqual([f for f, _, _ in fields], [f for f, _ in py._fields_], f"fields of struct {name}")
            for field, offset, size in fields:
                with self.subTest(field=f"{name}.{field}"):
                    self.assertEqual(getattr(py, field).offset, offset, f"offsetof({name}, {field})")
                    self.assertEqual(getattr(py, field).size, size, f"sizeof({name}.{field})")

    def test_enums_are_int_sized(self):
        for name, size in self.enums.items():
            self.assertEqual(size, ctypes.sizeof(L._enum), name)

    def test_constants(self):
        py = python_constants()
        self.assertEqual(set(py), set(self.consts))
        for name, value in self.consts.items():
            with self.subTest(constant=name):
                self.assertEqual(int(py[name]), value)
        self.assertEqual(sysmem.MAX_BUFFERS, self.consts["MAX_BUFFERS"])


if __name__ == "__main__":
    unittest.main()
