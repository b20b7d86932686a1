#!/usr/bin/env bash
# check-symbols.sh: the library exports exactly the symbols listed in the checked-in file (libdrm's ABI guard),
# every function its public header declares is among them, and (given a version node) every one of them carries
# that version (NAME@@NODE, from the version script generated from the same list: meson.build).
# Usage: check-symbols.sh LIBRARY SYMBOL_LIST [HEADER [VERSION_NODE]]
set -euo pipefail
lib=$1 list=$2 header=${3:-} node=${4:-}
# nm prints versioned names as NAME@@NODE (the default version) or NAME@NODE; the node's own symbol is type A.
versioned=$(nm -D --defined-only --with-symbol-versions "$lib" 2>/dev/null || nm -D --defined-only "$lib")
versioned=$(echo "$versioned" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | grep -v '^_' | sort)
actual=$(echo "$versioned" | sed 's/@.*//' | sort)
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort)
if [ "$actual" != "$expected" ]; then
        echo "exported symbols of $lib differ from $list (< listed, > exported):"
        diff <(echo "$expected") <(echo "$actual") || true
        exit 1
fi
if [ -n "$header" ]; then
        declared=$(grep -oE '\bsysmem_[a-z_]+\(' "$header" | tr -d '(' | sort -u)
        missing=$(comm -23 <(echo "$declared") <(echo "$actual"))
        if [ -n "$missing" ]; then
                echo "declared in $header but not exported: $missing"
                exit 1
        fi
fi
if [ -n "$node" ]; then
        unversioned=$(echo "$versioned" | grep -v "@@$node\$" || true)
        if [ -n "$unversioned" ]; then
                echo "exported without the default version $node:"
                echo "$unversioned"
                exit 1
        fi
        echo "$(echo "$actual" | wc -l) symbols, as listed, all $node"
        exit 0
fi
echo "$(echo "$actual" | wc -l) symbols, as listed"
