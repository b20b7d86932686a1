#!/usr/bin/env bash
# test-sysmemctl-list.sh: `sysmemctl list` against a real sysmemd holding a known tree (sysmemctl-fixture.c).
# Usage: SYSMEMD=path/to/sysmemd test-sysmemctl-list.sh SYSMEMCTL FIXTURE
set -uo pipefail
ctl=$(realpath "$1")
fixture=$(realpath "$2")
: "${SYSMEMD:?SYSMEMD must name the daemon to test}"
pass=0 fail=0
tmp=$(mktemp -d)
sock=$tmp/sock
daemon_pid= fixture_pid=

cleanup() {
        exec 3>&- 2>/dev/null
        [ -n "$fixture_pid" ] && kill -KILL "$fixture_pid" 2>/dev/null
        [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; [ $# -gt 1 ] && echo "$2" | sed 's/^/    /'; fail=$((fail + 1)); }

# has NAME PATTERN TEXT: TEXT has a line matching the extended regex PATTERN.
has() { if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else bad "$1: output lacks /$2/" "$3"; fi; }
lacks() { if grep -Eq -- "$2" <<<"$3"; then bad "$1: output has /$2/" "$3"; else ok "$1"; fi; }

# run STATUS ARGS...: runs sysmemctl list ARGS, sets $out (stdout+stderr), checks the exit status.
run() {
        local want=$1
        shift
        out=$("$ctl" list "$@" 2>&1)
        local status=$?
        if [ "$status" -ne "$want" ]; then
                bad "list $*: exit status $status, expected $want" "$out"
                return 1
        fi
        return 0
}

"$SYSMEMD" --socket "$sock" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
if [ ! -S "$sock" ]; then
        echo "FAIL sysmemd did not create $sock"; cat "$tmp/daemon.log"; exit 1
fi

run 0 --socket "$sock" && has "an idle daemon lists nothing" '^no live collections$' "$out"

# 40 collections beyond the tree's two: more than one page (the daemon sends at most 32 per reply).
mkfifo "$tmp/in"
SYSMEM_SOCKET=$sock "$fixture" 40 <"$tmp/in" >"$tmp/fixture.out" 2>"$tmp/fixture.err" &
fixture_pid=$!
exec 3>"$tmp/in"
for _ in $(seq 200); do
        grep -q READY "$tmp/fixture.out" 2>/dev/null && break
        kill -0 "$fixture_pid" 2>/dev/null || break
        sleep 0.05
done
if ! grep -q READY "$tmp/fixture.out"; then
        echo "FAIL the fixture did not get ready"; cat "$tmp/fixture.err" "$tmp/daemon.log"; exit 1
fi

if run 0 --socket "$sock"; then
        text=$out
        has "collection line: id, name, state, age" '^collection 2 "frames": allocated, age [0-9.]+ (ms|s)$' "$text"
        has "buffers: count x size, allocated size, heap" \
                '^  buffers: 6 x 460800 bytes \(462848 allocated each\), heap system-ram$' "$text"
        has "image format and modifier by name" '^  image format: NV12, modifier LINEAR$' "$text"
        has "strong and weak counts" '^  nodes: 9 \(8 strong, 1 weak\)$' "$text"
        has "root: a bound collection with its memory" \
                '^    collection "camera" id 1 \[constraints-set allocated ready\] 2777088 bytes( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "dispensable child, one level down" \
                '^      collection "display" id 2 \[constraints-set allocated dispensable ready\] 2777088 bytes( pid [0-9]+ "[^"]*" uid [0-9]+)?$' \
                "$text"
        has "released token: an orphan, no memory" \
                '^      token "encoder" id 3 \[released orphaned allocated ready\]( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "group under the orphan" '^        group "encoder" id 3 \[allocated ready children-present\]( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "the chosen group child" \
                '^          collection "encoder-sw" id 5 \[constraints-set allocated ready\] 2777088 bytes( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        lacks "the child not chosen has failed and left" 'encoder-hw' "$text"
        has "weak participant" \
                '^      collection "monitor" id 6 \[constraints-set allocated weak weak-ok ready\] 2777088 bytes( pid [0-9]+ "[^"]*" uid [0-9]+)?$' \
                "$text"
        has "attached late joiner shares the buffers" \
                '^      collection "viewer" id 7 \[constraints-set allocated attached ready\] 2777088 bytes( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "attached subtree still waiting" \
                '^      collection "recorder" id 8 \[constraints-set attached ready\]( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "who last sent on a node (SCM_CREDENTIALS)" \
                '^    collection "camera" id 1 \[.*\] 2777088 bytes pid [0-9]+ "sysmemctl-fixtu" uid [0-9]+$' "$text"
        has "who created a collection (SO_PEERCRED)" '^  created by: pid [0-9]+ "sysmemctl-fixtu", uid [0-9]+$' "$text"
        has "its unbound duplicate" '^        token "spare" id 9 \[\]( pid [0-9]+ "[^"]*" uid [0-9]+)?$' "$text"
        has "second collection" '^  buffers: 2 x 65536 bytes \(65536 allocated each\), heap system-ram$' "$text"
        has "negotiating collections" '^collection 43 "pending-39": negotiating, age ' "$text"
        has "no buffers before allocation" '^  buffers: none yet$' "$text"
        has "memory per client: camera sums both collections" '^  "camera" +1 +2 +2 +2908160$' "$text"
        has "memory per client: display" '^  "display" +2 +1 +1 +2777088$' "$text"
        has "memory per client: the weak participant" '^  "monitor" +6 +1 +1 +2777088$' "$text"
        has "memory per client: token and group of one client" '^  "encoder" +3 +2 +1 +0$' "$text"
        has "memory per client: idle client across 40 collections" '^  "idle" +10 +40 +40 +0$' "$text"
        has "the daemon's total" '^total: sysmemd holds 2908160 bytes \(2\.8 MiB\) of buffers in 42 live collections$' \
                "$text"
        n=$(grep -c '^collection ' <<<"$text")
        if [ "$n" -eq 42 ]; then ok "every page was fetched (42 collections)"; else bad "42 collections, got $n"; fi
fi

# The same from $SYSMEM_SOCKET, without --socket.
if out=$(SYSMEM_SOCKET=$sock "$ctl" list 2>&1); then
        has "\$SYSMEM_SOCKET chooses the socket" '^collection 2 "frames"' "$out"
else
        bad "list with \$SYSMEM_SOCKET failed" "$out"
fi

if run 0 --json --socket "$sock"; then
        if python3 - "$out" <<'EOF'; then ok "JSON parses and has the right numbers"; else bad "JSON check" "$out"; fi
import json, sys
d = json.loads(sys.argv[1])
assert set(d) == {"collections", "clients", "total_bytes", "collection_count"}, d.keys()
assert d["collection_count"] == 42 == len(d["collections"]), d["collection_count"]
assert d["total_bytes"] == 6 * 462848 + 2 * 65536, d["total_bytes"]
ids = [c["id"] for c in d["collections"]]
assert ids == sorted(set(ids)), ids
cols = {c["name"]: c for c in d["collections"]}
assert set(cols) == {"frames", "scratch"} | {"pending-%d" % i for i in range(40)}, sorted(cols)
f = cols["frames"]
assert (f["state"], f["buffer_count"], f["size_bytes"], f["raw_vmo_size"], f["heap"]) == \
        ("allocated", 6, 460800, 462848, "system-ram"), f
assert (f["pixel_format"], f["pixel_format_modifier"]) == ("NV12", "LINEAR"), f
assert (f["strong_count"], f["weak_count"]) == (8, 1), f
nodes = {n["debug_name"]: n for n in f["nodes"]}
by_index = {n["index"]: n for n in f["nodes"]}
assert len(f["nodes"]) == 9 and "encoder-hw" not in nodes, sorted(nodes)
for n in f["nodes"]:
    # The tree is consistent: a parent is listed, one level up, before its children.
    if n["parent"] is None:
        assert n["depth"] == 0, n
    else:
        p = by_index[n["parent"]]
        assert n["depth"] == p["depth"] + 1 and f["nodes"].index(p) < f["nodes"].index(n), n
    gets = n["kind"] == "collection" and "allocated" in n["flags"]
    assert n["bytes"] == (6 * 462848 if gets else 0), n
def parent_name(name):
    return by_index[nodes[name]["parent"]]["debug_name"]
assert parent_name("encoder-sw") == "encoder" and by_index[nodes["encoder-sw"]["parent"]]["kind"] == "group"
assert parent_name("spare") == "recorder" and nodes["spare"]["kind"] == "token" and nodes["spare"]["flags"] == []
assert nodes["monitor"]["flags"] == ["constraints-set", "allocated", "weak", "weak-ok", "ready"], nodes["monitor"]
assert nodes["display"]["flags"] == ["constraints-set", "allocated", "dispensable", "ready"], nodes["display"]
assert "attached" in nodes["viewer"]["flags"] and "allocated" in nodes["viewer"]["flags"]
assert "attached" in nodes["recorder"]["flags"] and "allocated" not in nodes["recorder"]["flags"]
assert cols["scratch"]["pixel_format"] is None and cols["pending-0"]["state"] == "negotiating"
assert cols["pending-0"]["heap"] is None and cols["pending-0"]["buffer_count"] == 0
# clients: every node counted once, bytes summed per (name, id), the biggest first.
clients = {(c["debug_name"], c["debug_id"]): c for c in d["clients"]}
sums = {}
for c in d["collections"]:
    for n in c["nodes"]:
        k = (n["debug_name"], n["debug_id"])
        sums[k] = sums.get(k, 0) + n["bytes"]
assert {k: c["bytes"] for k, c in clients.items()} == sums, (clients, sums)
assert clients[("camera", 1)]["bytes"] == 6 * 462848 + 2 * 65536 and clients[("camera", 1)]["collections"] == 2
assert clients[("idle", 10)]["nodes"] == 40 and clients[("idle", 10)]["bytes"] == 0
b = [c["bytes"] for c in d["clients"]]
assert b == sorted(b, reverse=True), b
EOF
fi

# The fixture dies: every collection goes with it.
exec 3>&-
kill -KILL "$fixture_pid"
wait "$fixture_pid" 2>/dev/null
fixture_pid=
gone=
for _ in $(seq 100); do
        out=$("$ctl" list --socket "$sock" 2>&1)
        if grep -q '^no live collections$' <<<"$out"; then gone=1; break; fi
        sleep 0.05
done
if [ -n "$gone" ]; then ok "the collections go when their participants die"; else bad "collections left" "$out"; fi
has "and their memory with them" '^total: sysmemd holds 0 bytes \(0 B\) of buffers in 0 live collections$' "$out"
empty='import json, sys
d = json.loads(sys.argv[1])
assert d == {"collections": [], "clients": [], "total_bytes": 0, "collection_count": 0}, d'
if run 0 --json --socket "$sock"; then
        if python3 -c "$empty" "$out"; then ok "JSON of an empty daemon"; else bad "JSON of an empty daemon" "$out"; fi
fi

# Exit statuses: 3 when the daemon cannot be reached, with the socket named; 2 for usage errors.
run 3 --socket "$tmp/missing" &&
        has "a missing socket is named" "^sysmemctl: cannot reach sysmemd at $tmp/missing: No such file or directory$" \
                "$out"
: >"$tmp/plain-file"
run 3 --socket "$tmp/plain-file" && has "a file that is not a socket" "cannot reach sysmemd at $tmp/plain-file: " "$out"
out=$(env -u SYSMEM_SOCKET XDG_RUNTIME_DIR="$tmp/xdg" "$ctl" list 2>&1)
status=$?
if [ "$status" -eq 3 ]; then
        has "\$XDG_RUNTIME_DIR/sysmem-0 without \$SYSMEM_SOCKET" "cannot reach sysmemd at $tmp/xdg/sysmem-0 or /run/sysmem/socket: " "$out"
else
        bad "list with \$XDG_RUNTIME_DIR: exit status $status, expected 3" "$out"
fi
run 2 --bogus && ok "unknown option: exit 2"
run 2 extra && has "unexpected argument: exit 2" "unexpected argument 'extra'" "$out"
run 2 --socket "$tmp/$(printf 'x%.0s' $(seq 120))" && has "over-long socket path: exit 2" 'longer than' "$out"
run 0 --help && has "help names the exit statuses" '3 the daemon cannot be reached' "$out"

# The daemon must have survived all of it.
if kill -0 "$daemon_pid" 2>/dev/null; then
        ok "sysmemd still runs"
else
        bad "sysmemd died" "$(cat "$tmp/daemon.log")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
