#!/bin/bash
# test_sim_mbpoll.sh: smoke test of plantroom-sim with mbpoll as the client.
#
# Starts the simulator on an ephemeral port (--port 0 --port-file) with a
# control file in a private temporary directory, then checks over the wire:
# lift-1's vibration_machine register sits near its default (120 raw), moves
# near 500 within 3 s of writing lift-1.vibration_machine=5.0 to the control
# file, while lift-2 (unit 2) keeps its own value; the meter's voltage_l1
# float is about 230 V; an unknown unit id gets exception 0x0B; a client that
# sends garbage is dropped without hurting the others; SIGTERM ends the
# simulator with status 0 (so leaks fail the test under ASan).
#
# Usage: test_sim_mbpoll.sh PATH/TO/plantroom-sim   (exit 77 = skipped)
# SPDX-License-Identifier: Apache-2.0
set -u

SIM=${1:?usage: test_sim_mbpoll.sh PATH/TO/plantroom-sim}
if ! command -v mbpoll >/dev/null 2>&1; then
    echo "SKIP: mbpoll not found (apt-get install mbpoll)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim_mbpoll.XXXXXX") || exit 1
sim_pid=
cleanup() {
    exec 4>&- 2>/dev/null
    if [ -n "$sim_pid" ]; then
        kill -TERM "$sim_pid" 2>/dev/null
        wait "$sim_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL: $*" >&2
    echo "--- simulator stderr:" >&2
    cat "$tmp/sim.err" >&2 2>/dev/null
    exit 1
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# mbval UNIT TYPE REF: print one value read with zero-based reference REF
# (-0) and big-endian word order for 32-bit types (-B, ABCD).
mbval() {
    local out
    out=$(mbpoll -m tcp -a "$1" -t "$2" -B -0 -r "$3" -c 1 -1 -o 1 -p "$port" 127.0.0.1 2>&1) || {
        echo "mbpoll -a $1 -t $2 -r $3 failed: $(printf '%s\n' "$out" | tail -n 2)" >&2
        return 1
    }
    printf '%s\n' "$out" | awk -v ref="[$3]:" '$1 == ref { print $2; found = 1 } END { exit !found }'
}

# near VALUE TARGET TOLERANCE
near() {
    awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { exit !(v >= t - d && v <= t + d) }'
}

# expect_near WHAT UNIT TYPE REF TARGET TOLERANCE
expect_near() {
    local v
    v=$(mbval "$2" "$3" "$4") || fail "$1: read failed"
    near "$v" "$5" "$6" || fail "$1 = $v, expected $5 +- $6"
    echo "ok: $1 = $v (expected $5 +- $6)"
}

# --- start the simulator ------------------------------------------------
echo "# plantroom-sim control file (test_sim_mbpoll.sh)" >"$tmp/control"
"$SIM" --port 0 --port-file "$tmp/port" --control "$tmp/control" \
    >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!

deadline=$(($(now_ms) + 10000))
while [ ! -s "$tmp/port" ]; do
    kill -0 "$sim_pid" 2>/dev/null || { wait "$sim_pid"; sim_pid=; fail "simulator exited early"; }
    [ "$(now_ms)" -lt "$deadline" ] || fail "no port file after 10 s"
    sleep 0.05
done
port=$(cat "$tmp/port")
case "$port" in
'' | *[!0-9]*) fail "port file holds '$port', not a port number" ;;
esac
grep -qx "plantroom-sim: listening on 127.0.0.1:$port" "$tmp/sim.out" ||
    fail "stdout lacks 'plantroom-sim: listening on 127.0.0.1:$port': $(cat "$tmp/sim.out")"
echo "ok: simulator listening on port $port"

# An idle client stays connected all along: it must not block anyone.
exec 4<>"/dev/tcp/127.0.0.1/$port" || fail "cannot open an idle connection"

# --- defaults -----------------------------------------------------------
expect_near "lift-1 vibration_machine raw (unit 1, 4x0010)" 1 4 10 120 6
expect_near "lift-1 vibration_car raw (unit 1, 4x0011)" 1 4 11 80 4
expect_near "lift-2 vibration_machine raw (unit 2, 4x0010)" 2 4 10 120 6
expect_near "meter-main voltage_l1 V (unit 3, 3x0000 float)" 3 3:float 0 230 10
expect_near "meter-main frequency Hz (unit 3, 3x0070 float)" 3 3:float 70 50 0.5

# --- a client sending garbage is dropped, the others carry on ------------
if exec 5<>"/dev/tcp/127.0.0.1/$port"; then
    printf '\377\377\000\001\377\377\001\003garbage garbage garbage\n' >&5
    exec 5>&-
fi
expect_near "lift-1 vibration_machine raw after a garbage client" 1 4 10 120 6

# --- unknown unit id: exception 0x0B -------------------------------------
out=$(mbpoll -m tcp -a 9 -t 4 -0 -r 0 -c 1 -1 -o 1 -p "$port" 127.0.0.1 2>&1) &&
    fail "unit 9 answered a read: $out"
printf '%s\n' "$out" | grep -qi "target device failed to respond" ||
    fail "unit 9: expected exception 0x0B (target device failed to respond), got: $out"
echo "ok: unknown unit 9 gets exception 0x0B"

# --- the control file raises lift-1's machine vibration ------------------
{
    echo "# raised by the test"
    echo "lift-1.vibration_machine=5.0"
    echo "lift-9.floor=3"
} >"$tmp/control.new"
mv "$tmp/control.new" "$tmp/control"
start=$(now_ms)
while :; do
    v=$(mbval 1 4 10) || fail "reading lift-1 vibration_machine after the control change"
    near "$v" 500 25 && break
    [ $(($(now_ms) - start)) -lt 3000 ] ||
        fail "lift-1 vibration_machine = $v 3 s after setting 5.0 mm/s, expected 500 +- 25"
    sleep 0.2
done
echo "ok: lift-1 vibration_machine raw = $v after $(($(now_ms) - start)) ms"
grep -q "control:3: 'lift-9.floor=3': unknown device 'lift-9'" "$tmp/sim.err" ||
    fail "no warning naming the bad control line 3"
echo "ok: bad control line 3 reported"

expect_near "lift-2 vibration_machine raw, unaffected by lift-1" 2 4 10 120 6
expect_near "lift-1 vibration_car raw, unaffected" 1 4 11 80 4

# --- SIGTERM: clean exit with status 0 ------------------------------------
exec 4>&-
kill -TERM "$sim_pid"
wait "$sim_pid"
rc=$?
sim_pid=
[ "$rc" -eq 0 ] || fail "simulator exited with status $rc after SIGTERM"
echo "ok: simulator stopped cleanly"
echo "PASS: sim_mbpoll"
