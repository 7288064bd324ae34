# SPDX-License-Identifier: Apache-2.0
"""Print plantroom telemetry messages (JSON, one per line on stdin) as one
short line each: device, time, then every point's value and unit. Used by
deploy/demo.sh; handy with mosquitto_sub -t 'plantroom/+/devices/+/telemetry'."""
import json
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: no traceback


def point(name, p):
    if p["value"] is None:
        return f"{name}=({p['quality']})"
    unit = " " + p["unit"] if p["unit"] else ""
    return f"{name}={p['value']:.10g}{unit}"


for line in sys.stdin:
    m = json.loads(line)
    pts = "  ".join(point(k, v) for k, v in m["points"].items())
    print(f"  {m['device']} {m['ts'][11:19]}  {pts}", flush=True)
