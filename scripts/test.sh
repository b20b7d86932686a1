#!/usr/bin/env bash
# test.sh: builds sysmem and runs every test; ends with one line "N passed, N failed, N skipped".
# Usage: scripts/test.sh [BUILD_DIR [MESON_SETUP_OPTIONS...]]
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
builddir=${1:-build}
shift || true
if [ ! -d "$builddir" ]; then
        # -Dcheck_invariants: the daemon recounts what it keeps incrementally after every change (aborts on a miss).
        meson setup "$builddir" -Dcheck_invariants=true "$@" >/dev/null || exit 1
fi
ninja -C "$builddir" || exit 1
meson test -C "$builddir" --print-errorlogs --num-processes 2
status=$?
# meson writes one JSON object per test; count the real results from it.
python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
exit $status
