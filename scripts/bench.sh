#!/usr/bin/env bash
# bench.sh: builds sysmem for release and runs the benchmarks of issue 12 (docs/performance.md): bench-share
# (sharing through sysmemd against doing it by hand) and bench-scale (live collections, participants, memory,
# concurrent clients). Each prints its figures and a "goal | measured | met?" table.
# Usage: scripts/bench.sh [RUNS]   (RUNS: how many times to run each, default 1; quote the median of several)
# BENCH_QUICK=1 makes bench-scale short; BENCH_NO_PIN=1 runs the processes unpinned (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
runs=${1:-1}
[ -d build-bench ] || meson setup build-bench --buildtype=release -Dtests=false >/dev/null
ninja -C build-bench >/dev/null
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the first run"
for i in $(seq 1 "$runs"); do
        echo "=== run $i of $runs: bench-share ==="
        build-bench/bench/bench-share build-bench/tools/sysmemd 2>&1 | grep -v '^<[0-9]>sysmemd'
        echo "=== run $i of $runs: bench-scale ==="
        build-bench/bench/bench-scale build-bench/tools/sysmemd 2>&1 | grep -v '^<[0-9]>sysmemd'
done
