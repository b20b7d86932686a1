#!/usr/bin/env bash
# check-unit-security.sh: the generated system service stays hardened: `systemd-analyze security --offline=yes`
# must rate it OK or better (exposure below 5.0; docs/operations.md has the score and the directives).
# Exit 77 (SKIP) where systemd-analyze is missing or too old to review a unit file offline (systemd < 250).
# Usage: check-unit-security.sh UNIT_FILE
set -uo pipefail
unit=$1
if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "systemd-analyze is not installed: cannot rate $unit"
        exit 77
fi
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
        echo "systemd-analyze $(systemd-analyze --version | head -n 1) has no --offline: cannot rate $unit"
        exit 77
fi
out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
rc=$?
line=$(echo "$out" | grep 'Overall exposure level' | tail -n 1)
if [ -z "$line" ]; then
        echo "systemd-analyze security gave no rating (exit status $rc):"
        echo "$out"
        exit 1
fi
# "→ Overall exposure level for sysmemd.service: 0.8 SAFE 😀"
level=$(echo "$line" | sed -nE 's/.*: ([0-9.]+) ([A-Z]+).*/\1 \2/p')
echo "$unit: ${level:-?}"
case ${level#* } in
PERFECT | SAFE | OK) exit 0 ;;
*)
        echo "exposure is worse than OK; what is not restricted:"
        echo "$out" | grep -E '^✗|^\S*✗' || echo "$out"
        exit 1
        ;;
esac
