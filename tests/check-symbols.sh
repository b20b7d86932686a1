#!/usr/bin/env bash
# check-symbols.sh: the library exports exactly the symbols listed in the checked-in file (libdrm's ABI guard),
# and every function its public header declares is among them.
# Usage: check-symbols.sh LIBRARY SYMBOL_LIST [HEADER]
set -euo pipefail
lib=$1 list=$2 header=${3:-}
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | grep -v '^_' | sort)
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
echo "$(echo "$actual" | wc -l) symbols, as listed"
