#!/usr/bin/env bash
# check-symbols.sh: the library exports exactly the symbols listed in the checked-in file (libdrm's ABI guard).
# Usage: check-symbols.sh LIBRARY SYMBOL_LIST
set -euo pipefail
lib=$1 list=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | grep -v '^_' | sort)
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort)
if [ "$actual" != "$expected" ]; then
        echo "exported symbols of $lib differ from $list:"
        diff <(echo "$expected") <(echo "$actual") || true
        exit 1
fi
echo "$(echo "$actual" | wc -l) symbols, as listed"
