#!/usr/bin/env bash
# deploy/demo.sh: install what is missing, build, and run the demo: a local
# mosquitto on loopback, the building simulator, and plantroomd on the
# bundled default config (deploy/plantroom.json). It shows lift telemetry,
# raises lift-1's machine vibration past 4.5 mm/s, and shows the work order
# that plantroomd opens. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONFIG=deploy/plantroom.json
DEMO=$ROOT/build/demo
SITE=demo-tower
BROKER_PORT=1883
SIM_PORT=1502

./deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"

say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping what the demo started"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

rm -rf "$DEMO" && mkdir -p "$DEMO/state"

if listening $BROKER_PORT; then
  say "an MQTT broker already listens on 127.0.0.1:$BROKER_PORT: using it"
else
  say "starting mosquitto on 127.0.0.1:$BROKER_PORT"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' $BROKER_PORT >"$DEMO/mosquitto.conf"
  mosquitto -c "$DEMO/mosquitto.conf" >"$DEMO/mosquitto.log" 2>&1 &
  pids+=($!)
fi

if listening $SIM_PORT; then
  echo "demo: 127.0.0.1:$SIM_PORT is taken; stop what uses it (the simulator listens there)" >&2
  exit 1
fi
say "starting plantroom-sim (two lifts and an energy meter) on 127.0.0.1:$SIM_PORT"
: >"$DEMO/sim.control"
build/bin/plantroom-sim --port $SIM_PORT --control "$DEMO/sim.control" >"$DEMO/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do listening $SIM_PORT && listening $BROKER_PORT && break; sleep 0.1; done

say "starting plantroomd --config $CONFIG (ledger in $DEMO/state)"
build/bin/plantroomd --config $CONFIG --state-dir "$DEMO/state" 2> >(sed -u 's/^/  plantroomd | /' >&2) &
pids+=($!)

say "telemetry from lift-1 (plantroom/$SITE/devices/lift-1/telemetry), 3 messages:"
mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t "plantroom/$SITE/devices/lift-1/telemetry" -C 3 -W 30 |
  /usr/bin/python3 deploy/telemetry_summary.py

say "raising lift-1's machine vibration to 5.2 mm/s in the simulator (the rule: above 4.5 for 5 s)"
echo "lift-1.vibration_machine=5.2" >"$DEMO/sim.control"
mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t "plantroom/$SITE/events/workorder" -C 1 -W 60 |
  sed 's/^/  event | /'

say "plantroomctl workorders list"
build/bin/plantroomctl --config $CONFIG --state-dir "$DEMO/state" workorders list

MONTH=$(date +%Y-%m)
LAST=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m)
say "the monthly report as a page with charts (plantroomctl report --html)"
build/bin/plantroomctl --config $CONFIG --state-dir "$DEMO/state" report --month "$MONTH" \
  --html "$DEMO/report-$MONTH.html"
echo "  this month so far, from the demo ledger: $DEMO/report-$MONTH.html"
if [ -x build/bin/plantroom-report-gen ]; then
  # A ledger with a whole month behind it (generated, as the tests use it).
  build/bin/plantroom-report-gen --ledger "$DEMO/sample-ledger.db" --month "$LAST" \
    --site $SITE --site-name "Demo Tower" >/dev/null
  build/bin/plantroomctl --config $CONFIG --ledger "$DEMO/sample-ledger.db" report --month "$LAST" \
    --html "$DEMO/sample-report-$LAST.html"
  echo "  a month with history (generated): $DEMO/sample-report-$LAST.html"
fi
echo "  open it in a browser; print it to PDF from there"

say "running: live work-order events and device status follow; Ctrl-C stops the demo"
echo "  (in another terminal: build/bin/plantroomctl --config $CONFIG --state-dir $DEMO/state workorders list --json;"
echo "   lower the vibration with: echo lift-1.vibration_machine=1.0 > $DEMO/sim.control)"
mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -v -t "plantroom/$SITE/events/#" \
  -t "plantroom/$SITE/devices/+/status" > >(sed -u 's/^/  mqtt | /') &
pids+=($!)
wait
