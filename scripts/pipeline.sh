#!/usr/bin/env bash
# pipeline.sh: builds sysmem and runs the three-device pipeline (examples/pipeline.c, docs/pipeline.md) in the
# qemu VM of scripts/vm-run.sh: a vivid camera, a virtio-gpu display, a vgem GPU stand-in and a CPU reader
# share one sysmem collection; then the same with the camera SIGKILLed mid-stream.
# Exits 0 only if both pass; 77 (SKIP, with the reason) where no VM can be had; else 1.
# SYSMEM_PIPELINE_BUILD names the build directory (default: build).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/install-deps.sh || exit 1
build=${SYSMEM_PIPELINE_BUILD:-build}
if [ ! -d "$build" ]; then
	meson setup "$build" >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { echo "pipeline: the build failed (ninja -C $build)"; exit 1; }
build=$(cd "$build" && pwd -P)

status=0
skipped=0
for mode in run "run --kill-camera"; do
	echo "== sysmem-pipeline $mode (in the VM)"
	# shellcheck disable=SC2086 # $mode is two words on purpose
	scripts/vm-run.sh --share "$build" --timeout 300 -- "$build/examples/sysmem-pipeline" $mode
	rc=$?
	case $rc in
	0) echo "== sysmem-pipeline $mode: PASS" ;;
	77) echo "== sysmem-pipeline $mode: SKIP"; skipped=1 ;;
	*) echo "== sysmem-pipeline $mode: FAIL (exit $rc)"; status=1 ;;
	esac
	echo
done
if [ $status -ne 0 ]; then
	echo "pipeline: FAIL"
	exit 1
fi
if [ $skipped -ne 0 ]; then
	echo "pipeline: SKIP (no VM here; see docs/vm.md)"
	exit 77
fi
echo "pipeline: PASS (both modes)"
