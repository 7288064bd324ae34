#!/usr/bin/env bash
# deploy/demo.sh [--quick] [--no-build]: the whole job of plantroom in under
# two minutes, on the bundled default config (deploy/plantroom.json) and the
# building simulator: live telemetry; a lift's vibration rising to a work
# order and an SMS to the lift contractor; a fire alarm that is told at once
# and escalates until someone acknowledges it; a pump trip and a tank running
# low; a month of recorded vibration replayed into a preventive order with
# its predicted date; three weeks of the main meter replayed into an energy
# anomaly; the KPIs and the monthly report. docs/demo.md tells the
# story step by step and explains every rule.
#
# It installs what is missing (deploy/deps.sh) and builds into build/, then
# starts a local mosquitto (or uses one already on the port), plantroom-sim
# and plantroomd, and drives the simulator through its control file. SMS are
# "sent" by deploy/sms-print.sh, which prints them. Ctrl-C stops everything
# it started, at any step.
#
#   --quick, PLANTROOM_DEMO_QUICK=1     no pauses for reading, no live tail at the end
#   --no-build, PLANTROOM_DEMO_BUILD=0  skip deps.sh and the build
#   PLANTROOM_BIN                       where plantroomd, plantroomctl, plantroom-sim are
#                                       (default build/bin)
#   PLANTROOM_DEMO_DIR                  its files: config copy, state, logs (default build/demo)
#   PLANTROOM_DEMO_MQTT_PORT            the broker's port (default 1883)
#   PLANTROOM_DEMO_SIM_PORT             the simulator's port (default 1502)
#
# The demo runs plantroomd on a copy of the config with its ports, absolute
# paths and one change, printed when it starts: escalations after 8 s
# instead of 5 and 15 minutes, so that the story fits in two minutes.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=${PLANTROOM_DEMO_QUICK:-0}
BUILD=${PLANTROOM_DEMO_BUILD:-1}
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "demo: unknown option $arg (--quick, --no-build, --help)" >&2
      exit 2
      ;;
  esac
done
BIN=${PLANTROOM_BIN:-$ROOT/build/bin}
DEMO=${PLANTROOM_DEMO_DIR:-$ROOT/build/demo}
BROKER_PORT=${PLANTROOM_DEMO_MQTT_PORT:-1883}
SIM_PORT=${PLANTROOM_DEMO_SIM_PORT:-1502}
ESCALATE_MS=8000
SITE=demo-tower
PY=/usr/bin/python3
CFG=$DEMO/plantroom.json
STATE=$DEMO/state
SMS_LOG=$DEMO/sms.log
CONTROL=$DEMO/sim.control

if [ "$BUILD" = 1 ]; then
  ./deploy/deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
fi

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
step() { printf '\n%s=== %s%s\n' "$B" "$*" "$N"; }
say() { printf '  %s\n' "$*"; }
pause() { [ "$QUICK" = 1 ] || sleep "${1:-3}"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
die() {
  echo "demo: $*" >&2
  exit 1
}
ctl() { "$BIN/plantroomctl" --config "$CFG" "$@"; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    printf '\n[demo] stopping what the demo started\n'
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      kill -TERM "${pids[i]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Set simulator values: each argument is DEVICE.POINT=VALUE; a later value of
# the same point replaces the earlier one. The file is replaced by rename.
declare -A SIMV=()
sim_set() {
  local kv
  for kv in "$@"; do SIMV[${kv%%=*}]=${kv#*=}; done
  : >"$CONTROL.tmp"
  for kv in "${!SIMV[@]}"; do echo "$kv=${SIMV[$kv]}" >>"$CONTROL.tmp"; done
  mv -f "$CONTROL.tmp" "$CONTROL"
}

# Wait up to TIMEOUT seconds for DEVICE's RULE to have an active work order;
# its number goes into ORDER. (No command substitution: a loop in a subshell
# would outlive Ctrl-C until its timeout.)
ORDER=""
wait_order() {
  local device=$1 rule=$2 timeout=$3
  local deadline=$((SECONDS + timeout))
  ORDER=""
  while ((SECONDS < deadline)); do
    ctl workorders list --json --active --device "$device" >"$DEMO/orders.json" 2>/dev/null || true
    ORDER=$($PY -c 'import json,sys; print(next((str(o["number"]) for o in json.load(open(sys.argv[1])) if o["rule"] == sys.argv[2]), ""))' "$DEMO/orders.json" "$rule" 2>/dev/null) || ORDER=""
    [ -n "$ORDER" ] && return 0
    sleep 0.3
  done
  die "no work order for $device/$rule within ${timeout}s (see $DEMO/plantroomd.log)"
}

# Print the SMS lines not shown yet.
SMS_SHOWN=0
show_sms() {
  local total
  total=$(wc -l <"$SMS_LOG")
  if ((total > SMS_SHOWN)); then
    sed -n "$((SMS_SHOWN + 1)),${total}p" "$SMS_LOG" | sed 's/^/  >> /'
    SMS_SHOWN=$total
  fi
}

# Wait up to TIMEOUT seconds for an SMS not shown yet that contains TEXT, then
# show the new ones.
wait_sms() {
  local text=$1 timeout=$2
  local deadline=$((SECONDS + timeout))
  while ! tail -n +$((SMS_SHOWN + 1)) "$SMS_LOG" | grep -qF -- "$text"; do
    ((SECONDS < deadline)) || die "no SMS with '$text' within ${timeout}s (see $DEMO/plantroomd.log)"
    sleep 0.2
  done
  show_sms
}

# ---- setup -------------------------------------------------------------
mkdir -p "$DEMO"
rm -rf "$STATE" "$SMS_LOG" "$CONTROL" "$DEMO"/*.log "$DEMO"/*.csv
: >"$CONTROL"
: >"$SMS_LOG"
printf '[demo] plantroom demo: files in %s\n' "$DEMO"
"$BIN/plantroomd" --check-config deploy/plantroom.json | sed 's/^/[demo] /'

# The demo's copy of the bundled config: its ports and absolute paths, and
# escalations shortened from minutes to seconds.
$PY - deploy/plantroom.json "$CFG" "$ROOT" "$STATE" "$BROKER_PORT" "$SIM_PORT" "$ESCALATE_MS" <<'EOF'
import json, os, sys
src, dst, root, state, broker, sim, esc = sys.argv[1:]
with open(src) as f:
    cfg = json.load(f)
cfg["profiles_dir"] = os.path.join(root, "drivers", "profiles")
cfg["state_dir"] = state
cfg["mqtt"]["uri"] = f"tcp://127.0.0.1:{broker}"
cfg["buses"][0]["port"] = int(sim)
for h in cfg.get("hooks", []):
    if h.get("argv", [""])[0] == "deploy/sms-print.sh":
        h["argv"][0] = os.path.join(root, "deploy", "sms-print.sh")
for g in cfg.get("groups", []):
    if g.get("escalate_after_ms"):
        g["escalate_after_ms"] = int(esc)
fd = os.open(dst + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(cfg, f, indent=2)
os.replace(dst + ".tmp", dst)
EOF
say "the demo's copy: $CFG (ports $BROKER_PORT and $SIM_PORT; critical orders escalate after $((ESCALATE_MS / 1000)) s instead of 5 and 15 min)"

if listening "$BROKER_PORT"; then
  say "an MQTT broker already listens on 127.0.0.1:$BROKER_PORT: using it"
else
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$BROKER_PORT" >"$DEMO/mosquitto.conf"
  mosquitto -c "$DEMO/mosquitto.conf" >"$DEMO/mosquitto.log" 2>&1 &
  pids+=($!)
  say "started mosquitto on 127.0.0.1:$BROKER_PORT"
fi
listening "$SIM_PORT" && die "127.0.0.1:$SIM_PORT is taken; stop what uses it or set PLANTROOM_DEMO_SIM_PORT"
"$BIN/plantroom-sim" --port "$SIM_PORT" --control "$CONTROL" >"$DEMO/sim.log" 2>&1 &
pids+=($!)
say "started plantroom-sim on 127.0.0.1:$SIM_PORT: two lifts, a meter, a fire panel, a tank, two pumps"
for _ in $(seq 100); do listening "$SIM_PORT" && listening "$BROKER_PORT" && break; sleep 0.1; done
PLANTROOM_SMS_LOG=$SMS_LOG "$BIN/plantroomd" --config "$CFG" >"$DEMO/plantroomd.log" 2>&1 &
pids+=($!)
say "started plantroomd (log $DEMO/plantroomd.log; SMS printed by deploy/sms-print.sh into $SMS_LOG)"
pause 2

# ---- 1 -----------------------------------------------------------------
step "1/7 Live telemetry: plantroomd polls every device and publishes its readings over MQTT"
say "mosquitto_sub -t 'plantroom/$SITE/devices/+/telemetry' (lift-1 and tank-1, 4 messages):"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "plantroom/$SITE/devices/lift-1/telemetry" \
  -t "plantroom/$SITE/devices/tank-1/telemetry" -C 4 -W 30 | $PY deploy/telemetry_summary.py ||
  die "no telemetry within 30 s (see $DEMO/plantroomd.log)"
pause 4

# ---- 2 -----------------------------------------------------------------
step "2/7 Lift 1 vibration rising: a work order for the lift contractor, and an SMS"
say "rule vibration-high: above 4.5 mm/s (ISO 10816 class I, zone D) held for 5 s"
for v in 2.8 3.9 5.2; do
  sim_set "lift-1.vibration_machine=$v"
  say "simulator: lift-1 machine vibration $v mm/s"
  sleep 1
done
wait_order lift-1 vibration-high 40
say "work order #$ORDER opened (plantroomctl workorders list --device lift-1):"
ctl workorders list --device lift-1 | sed 's/^/    /'
say "the lift contractor's group waits 5 s to gather other alerts into one SMS:"
wait_sms "Lift 1 machine vibration" 40
pause 4

# ---- 3 -----------------------------------------------------------------
step "3/7 Fire alarm in zone 3: a critical order and an SMS at once, escalated until someone acknowledges"
sim_set "fire-panel.zone_3=3105"
say "simulator: fire panel zone 3 in fire (word 0x0C21: enabled, active, event 0x21)"
wait_order fire-panel zone-3-alarm 30
n=$ORDER
say "work order #$n opened: critical, emergency, no hold time"
wait_sms "Fire alarm: zone 3" 30
say "nobody acknowledges; after $((ESCALATE_MS / 1000)) s the facility manager is told:"
wait_sms "ESCALATED" 40
escalated_at=$SECONDS
say "the facility manager acknowledges: plantroomctl workorders ack $n --by facility-manager"
ctl workorders ack "$n" --by facility-manager | sed 's/^/    /'
say "the facility manager's group would escalate to the director $((ESCALATE_MS / 1000)) s after it was told; waiting past that:"
while ((SECONDS < escalated_at + ESCALATE_MS / 1000 + 2)); do sleep 0.5; done
show_sms
if grep -q "^SMS to +8613800000003:" "$SMS_LOG"; then
  die "the director was told although the order was acknowledged"
fi
say "no SMS to the director: the acknowledgement stopped the escalation"
ctl workorders list --device fire-panel | sed 's/^/    /'
pause 4

# ---- 4 -----------------------------------------------------------------
step "4/7 Pump 1 trips and the tank falls below its limit"
say "rule level-low: below 1.0 m held for 10 s (the hold time), clears at 1.3 m (hysteresis)"
sim_set "tank-1.level=85"
say "simulator: tank-1 level 0.85 m"
sleep 4
sim_set "pump-1.status_word=11"
say "simulator: pump-1 status word 0x000B (tripped)"
wait_order tank-1 level-low 40
n=$ORDER
wait_order pump-1 tripped 20
say "work orders #$ORDER (pump-1 tripped) and #$n (tank-1 low), both high, for the plumber:"
ctl workorders list --active --category plumbing | sed 's/^/    /'
say "the plumbing group gathers the alerts of 10 s into one SMS:"
wait_sms "Tank 1 level below" 40
pause 4

# ---- 5 -----------------------------------------------------------------
step "5/7 Replay: a recorded month of lift vibration, and the preventive order it predicts"
$PY tests/gen/gen_samples.py --start 2026-11-01T00:00:00Z --days 30 --shape linear \
  --base 1.2 --rate 0.15 --onset-days 12 --noise 0.1 --seed 7 --out "$DEMO/lift-1-vibration-month.csv"
say "November 2026, one reading a minute (43,200): 1.2 mm/s, wearing from the 13th by 0.15 mm/s a day"
say "plantroomctl replay --config $CFG --samples $DEMO/lift-1-vibration-month.csv"
"$BIN/plantroomctl" replay --config "$CFG" --samples "$DEMO/lift-1-vibration-month.csv" --json \
  2>"$DEMO/replay.log" >"$DEMO/replay.json"
$PY deploy/replay_summary.py <"$DEMO/replay.json"
sed 's/^/  /' "$DEMO/replay.log"
pause 5

# ---- 6 -----------------------------------------------------------------
step "6/7 Energy: three weeks of the main meter replayed, and the night it wasted energy"
$PY deploy/meter_samples.py "$DEMO/meter-main-3-weeks.csv"
say "1-22 November 2026, one reading a minute (31,680): an office load, 9 kW at night, 35 kW on working days;"
say "on Thursday 19th the plant stays on from 20:00 to 07:00 local time (UTC+8)"
say "rule power-anomaly: 4 sigmas and 5 kW above the usual level of that hour of the week, held 15 min"
"$BIN/plantroomctl" replay --config "$CFG" --samples "$DEMO/meter-main-3-weeks.csv" --json \
  2>"$DEMO/replay-meter.log" >"$DEMO/replay-meter.json"
$PY deploy/replay_summary.py <"$DEMO/replay-meter.json"
sed 's/^/  /' "$DEMO/replay-meter.log"
say "a low order: held by quiet hours, the energy manager reads it at 07:00"
pause 4

# ---- 7 -----------------------------------------------------------------
step "7/7 KPIs and the monthly report"
say "plantroomctl kpi"
ctl kpi | sed 's/^/    /'
say "plantroomctl report --month $(date +%Y-%m)"
ctl report --month "$(date +%Y-%m)" | sed 's/^/    /'
MONTH=$(date +%Y-%m)
say "the same report as a page with charts: plantroomctl report --month $MONTH --html FILE"
ctl report --month "$MONTH" --html "$DEMO/report-$MONTH.html"
say "  this month so far, from the demo's ledger: $DEMO/report-$MONTH.html"
if [ -x "$BIN/plantroom-report-gen" ]; then
  # A ledger with a whole month behind it (generated, as the tests make it).
  LAST=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m)
  rm -f "$DEMO/sample-ledger.db" "$DEMO/sample-ledger.db-wal" "$DEMO/sample-ledger.db-shm"
  "$BIN/plantroom-report-gen" --ledger "$DEMO/sample-ledger.db" --month "$LAST" \
    --site "$SITE" --site-name "Demo Tower" >/dev/null
  "$BIN/plantroomctl" --config "$CFG" --ledger "$DEMO/sample-ledger.db" report --month "$LAST" \
    --html "$DEMO/sample-report-$LAST.html"
  say "  a month with history (generated): $DEMO/sample-report-$LAST.html"
fi
say "  open it in a browser (inline SVG, no scripts); print it to PDF from there"

printf '\n[demo] done in %d s. SMS sent: %d (%s)\n' "$SECONDS" "$(wc -l <"$SMS_LOG")" "$SMS_LOG"
if [ "$QUICK" = 1 ]; then
  exit 0
fi
say "still running: live work-order events follow; Ctrl-C stops the demo"
say "(in another terminal: $BIN/plantroomctl --config $CFG workorders list)"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "plantroom/$SITE/events/workorder" \
  > >(sed -u 's/^/  event | /') &
pids+=($!)
tail -n 0 -F "$SMS_LOG" 2>/dev/null > >(sed -u 's/^/  >> /') &
pids+=($!)
wait
