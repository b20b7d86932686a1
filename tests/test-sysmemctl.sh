#!/usr/bin/env bash
# test-sysmemctl.sh: `sysmemctl negotiate` end to end: results, explanations, JSON output, exit statuses, bad input.
# Usage: test-sysmemctl.sh SYSMEMCTL DATA_DIR
set -uo pipefail
ctl=$(realpath "$1")
cd "$2" || exit 1
pass=0 fail=0

# expect NAME STATUS PATTERN ARGS...: the command exits with STATUS and its output (stdout+stderr) matches PATTERN.
expect() {
        local name=$1 want=$2 pattern=$3
        shift 3
        local out status
        out=$("$ctl" negotiate "$@" 2>&1)
        status=$?
        if [ "$status" -ne "$want" ]; then
                echo "FAIL $name: exit status $status, expected $want"; echo "$out" | sed 's/^/    /'
                fail=$((fail + 1))
        elif ! grep -Eq -- "$pattern" <<<"$out"; then
                echo "FAIL $name: output lacks /$pattern/"; echo "$out" | sed 's/^/    /'
                fail=$((fail + 1))
        else
                echo "ok   $name"
                pass=$((pass + 1))
        fi
}

expect "three participants agree on NV12" 0 'image format: NV12, modifier LINEAR, colour space REC709' \
        camera.json encoder.json display.json
expect "count is camping 2+3 + dedicated 1 + shared 2" 0 '^negotiated: 8 buffers of 3317760 bytes' \
        camera.json encoder.json display.json
expect "stride rounded up to the encoder's divisor 256" 0 'plane 1: offset 2211840, bytes_per_row 2048, size 1105920' \
        camera.json encoder.json display.json
expect "a participant without constraints only counts" 0 '^negotiated: 2 buffers of 3110400 bytes' \
        no-constraints.json camera.json
expect "max_size_bytes below the image explains who and why" 1 \
        "needs 3110400 bytes, more than buffer_memory_constraints.max_size_bytes 2097152 \(from 'small-display'\)" \
        camera.json small-display.json
expect "the explanation names the size and who set it" 1 "image of 1920x1080 \(min_size from 'camera'\)" \
        camera.json small-display.json
expect "disjoint format lists name both offers" 1 \
        "'camera' offers \{NV12, YUYV\}, 'rgb-only' offers \{ARGB8888, XRGB8888\}" camera.json rgb-only.json
expect "any tiled modifier beats LINEAR (built-in cost table)" 0 'modifier I915_FORMAT_MOD_Y_TILED,' tiled.json
expect "the scanout's list limits the choice to X tiling" 0 'modifier I915_FORMAT_MOD_X_TILED,' tiled.json scanout.json
expect "display usage prefers the RAM domain" 0 'coherency domain ram' tiled.json scanout.json
expect "X-tiled size is whole 4 KiB tiles" 0 '^negotiated: 3 buffers of 3686400 bytes' tiled.json scanout.json
expect "--size lays out another size" 0 'layout at 3840x2160, bytes_per_row 3840' --size 3840x2160 camera.json
expect "--size below min_size has no layout" 0 'no layout at 1920x100' --size 1920x100 camera.json
expect "--size off the size alignment has no layout" 0 'no layout at 1921x1080' --size 1921x1080 camera.json
expect "JSON output" 0 '"pixel_format":"NV12"' --json camera.json encoder.json display.json
expect "JSON output of a failure" 1 '"negotiated":false' --json camera.json rgb-only.json
expect "invalid JSON names file, line and column" 2 '^sysmemctl: bad-syntax.json:4:[0-9]+: invalid JSON' bad-syntax.json
expect "unknown field names its path" 2 \
        'bad-unknown-field.json: image_format_constraints\[0\].colour_spaces: unknown field' bad-unknown-field.json
expect "wrong type names the field" 2 'bad-type.json: min_buffer_count: expected an unsigned integer' bad-type.json
expect "out of range names the field" 2 'bad-range.json: max_buffer_count: value 4294967296 is out of range' \
        bad-range.json
expect "unknown usage name lists the known ones" 2 'usage.cpu\[1\]: unknown name "FLY" \(known: READ,' \
        bad-usage-name.json
expect "a missing file" 2 'no-such-file.json: No such file' no-such-file.json
expect "no file at all" 2 'at least one constraint file' 

# --json output must be valid JSON that a script can read.
if "$ctl" negotiate --json camera.json encoder.json display.json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["buffer_count"]==8 and d["layout"]["planes"][1]["offset"]==2211840'; then
        echo "ok   JSON output parses and carries the layout"; pass=$((pass + 1))
else
        echo "FAIL JSON output parses and carries the layout"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
