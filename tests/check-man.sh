#!/usr/bin/env bash
# check-man.sh: a man page cannot silently rot away from its tool. Every long option that COMMAND --help
# prints (and, for a tool with "Commands:", every command and every long option of COMMAND SUB --help)
# must appear in PAGE; COMMAND --version must print the version the page's .TH line carries; and
# man(1), where installed, must render PAGE without a warning.
# Usage: check-man.sh PAGE COMMAND
set -euo pipefail
page=$1 cmd=$2
name=$(basename "$cmd")
status=0
# The page as text a reader searches: roff's \- is -, font escapes go.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\(em/-/g' "$page")

check_options() { # $1: what was asked, $2: its --help output
        local opt
        for opt in $(echo "$2" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
                # A here-string, not a pipe: grep -q stops reading early, and under pipefail the writer's
                # SIGPIPE would make a documented option look missing now and then.
                if ! grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" <<<"$text"; then
                        echo "$page: $opt (from '$1 --help') is not documented"
                        status=1
                fi
        done
}

help=$("$cmd" --help)
check_options "$name" "$help"
nopts=$(echo "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | wc -l)
# Commands, as the top-level help lists them: "  NAME  description" lines after "Commands:".
commands=$(echo "$help" | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z][a-z-]*)( |$).*/\1/p')
for sub in $commands; do
        if ! grep -qE "(^|[^a-z-])$sub([^a-z-]|\$)" <<<"$text"; then
                echo "$page: command '$sub' (from '$name --help') is not documented"
                status=1
        fi
        case $sub in help | version) continue ;; esac
        subhelp=$("$cmd" "$sub" --help)
        check_options "$name $sub" "$subhelp"
        nopts=$((nopts + $(echo "$subhelp" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | wc -l)))
done

want=$(sed -nE 's/^\.TH .*"[a-z]+ ([0-9][0-9.]*)".*/\1/p' "$page")
want=${want%%$'\n'*} # the first .TH line (no head(1): under pipefail its early exit can fail the pipe)
got=$("$cmd" --version)
if [ "$got" != "$name $want" ]; then
        echo "'$name --version' prints '$got'; $page says version '$want'"
        status=1
fi

if command -v man >/dev/null 2>&1; then
        warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null || echo "man exited with $?")
        if [ -n "$warnings" ]; then
                echo "man -l $page warns:"
                echo "$warnings"
                status=1
        fi
else
        echo "man is not installed: the rendering check is skipped (apt-get install man-db)"
fi
[ "$status" -eq 0 ] && echo "$page: $nopts options${commands:+ over the commands $(echo $commands)}, all documented; version $want"
exit "$status"
