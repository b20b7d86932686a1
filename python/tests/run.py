#!/usr/bin/env python3
"""run.py: the meson test 'python'. Installs the package from the checkout into a venv in the build dir
(pip, offline, no build isolation), starts a private sysmemd ($SYSMEMD), and runs python/tests with the
venv's python against the built libsysmem ($SYSMEM_LIBRARY).

Usage: run.py --source PYTHON_DIR --workdir DIR --library LIBSYSMEM.so --struct-sizes EXE --c-participant EXE
              [--sanitize VALUE --asan-runtime PATH]
Exit 0: every test passed; 77: skipped (the reason is printed); else failed.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(77)


def make_venv(venv, python):
    """A venv that sees the system's site-packages (pip, setuptools, numpy when installed) without copying pip."""
    vpy = os.path.join(venv, "bin", "python")
    subprocess.run([python, "-m", "venv", "--clear", "--system-site-packages", "--without-pip", venv], check=True)
    if subprocess.run([vpy, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        # No system pip visible: let venv install its own (ensurepip; python3-venv on Debian).
        subprocess.run([python, "-m", "venv", "--clear", "--system-site-packages", venv], check=True)
    return vpy


BUILD_MODULES = ("pip", "setuptools", "wheel")  # wheel: setuptools < 70.1 builds wheels with it (Debian 12: 66)


def base_python():
    """An interpreter that can build and install the package offline: this one, else Debian's."""
    check = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in %r))" % (BUILD_MODULES,)
    for py in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(py) and subprocess.run([py, "-c", check]).returncode == 0:
            return py
    return None


def wait_for_socket(path, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.01)
        finally:
            s.close()
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--struct-sizes", required=True)
    ap.add_argument("--c-participant", required=True)
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("--asan-runtime", default="")
    args = ap.parse_args()

    sysmemd = os.environ.get("SYSMEMD")
    if not sysmemd:
        print("SYSMEMD is not set: run this through meson test", file=sys.stderr)
        return 1

    # An ASan-built libsysmem can only be loaded into a (non-ASan) python with the ASan runtime preloaded.
    test_env = dict(os.environ)
    if args.sanitize not in ("", "none"):
        if "address" in args.sanitize:
            rt = args.asan_runtime
            if not rt or not os.path.isabs(rt) or not os.path.exists(rt):
                skip(f"libsysmem is built with -Db_sanitize={args.sanitize}, and the compiler's shared ASan runtime "
                     f"(needed in LD_PRELOAD to load it into python) was not found ({rt or 'not reported'})")
            test_env["LD_PRELOAD"] = rt
            # python itself is not built for LeakSanitizer (its arenas look leaked); the daemon and the C
            # participant keep the caller's ASAN_OPTIONS.
            test_env["SYSMEM_TEST_CHILD_ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "")
            test_env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0"
            log(f"sanitizer build ({args.sanitize}): python runs with LD_PRELOAD={rt}")

    os.makedirs(args.workdir, exist_ok=True)
    venv = os.path.join(args.workdir, "venv")
    base = base_python()
    if not base:
        print(f"no python3 with {', '.join(BUILD_MODULES)} (Debian: python3-venv python3-pip python3-setuptools "
              "python3-wheel; scripts/install-deps.sh installs them)", file=sys.stderr)
        return 1
    log(f"creating {venv} from {base}")
    vpy = make_venv(venv, base)

    # pip builds in the tree it is given: give it a copy, so the checkout stays clean.
    src = os.path.join(args.workdir, "src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(args.source, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    log("pip install --no-build-isolation --no-deps (offline)")
    r = subprocess.run([vpy, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--no-cache-dir", "--disable-pip-version-check", "--quiet", src])
    if r.returncode != 0:
        print("pip install failed", file=sys.stderr)
        return 1
    where = subprocess.run([vpy, "-c", "import sysmem, sys; sys.stdout.write(sysmem.__file__)"],
                           capture_output=True, text=True, cwd=args.workdir)
    if where.returncode != 0 or not os.path.realpath(where.stdout).startswith(os.path.realpath(venv)):
        print(f"the installed package is not the venv's: {where.stdout!r} {where.stderr}", file=sys.stderr)
        return 1
    log(f"installed: {where.stdout}")

    tmp = tempfile.mkdtemp(prefix="sysmem-py-")
    sock = os.path.join(tmp, "socket")
    daemon_log = open(os.path.join(tmp, "log"), "w+")
    daemon = subprocess.Popen([sysmemd, "--socket", sock, "--log-level",
                               "debug" if os.environ.get("SYSMEM_TEST_VERBOSE") else "warning"],
                              stdout=daemon_log, stderr=subprocess.STDOUT, env=os.environ)
    status = 1
    try:
        if not wait_for_socket(sock, daemon):
            print(f"sysmemd did not listen on {sock}", file=sys.stderr)
            return 1
        log(f"sysmemd (pid {daemon.pid}) on {sock}")
        test_env.update({
            "SYSMEM_SOCKET": sock,
            "SYSMEM_LIBRARY": os.path.abspath(args.library),
            "SYSMEM_TEST_STRUCT_SIZES": os.path.abspath(args.struct_sizes),
            "SYSMEM_TEST_C_PARTICIPANT": os.path.abspath(args.c_participant),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        tests = os.path.join(args.source, "tests")
        r = subprocess.run([vpy, "-m", "unittest", "discover", "-v", "-s", tests, "-t", tests, "-p", "test_*.py"],
                           env=test_env, cwd=args.workdir)
        status = r.returncode
        log(f"unittest exited {status}")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                rc = daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                rc = daemon.wait()
                print("sysmemd did not exit on SIGTERM", file=sys.stderr)
                status = status or 1
        else:
            rc = daemon.returncode
            print(f"sysmemd ended during the tests (status {rc})", file=sys.stderr)
            status = status or 1
        if rc != 0:
            print(f"sysmemd exited with status {rc}", file=sys.stderr)
            status = status or 1
        daemon_log.seek(0)
        text = daemon_log.read()
        if text and (status or os.environ.get("SYSMEM_TEST_VERBOSE")):
            print("---- sysmemd log ----\n" + text[-20000:], file=sys.stderr)
        daemon_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
