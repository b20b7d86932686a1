#!/usr/bin/env bash
# demo.sh: builds sysmem and runs the demonstration: sysmemd on a private socket and three participants.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec build/examples/sysmem-demo build/tools/sysmemd
