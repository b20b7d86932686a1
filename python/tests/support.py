"""What the tests share: the environment run.py sets up."""

import os
import unittest


def need_env(name):
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set: run the suite through meson test (python/tests/run.py)")
    return value


def child_env():
    """The environment for a C process started by a test: without the ASan preload python needed, with the
    caller's ASAN_OPTIONS back (so an ASan-built C participant still checks for leaks)."""
    env = dict(os.environ)
    if "SYSMEM_TEST_CHILD_ASAN_OPTIONS" in env:
        env.pop("LD_PRELOAD", None)
        env["ASAN_OPTIONS"] = env.pop("SYSMEM_TEST_CHILD_ASAN_OPTIONS")
    return env


try:
    import numpy  # noqa: F401
    HAVE_NUMPY = True
except ImportError:
    HAVE_NUMPY = False
