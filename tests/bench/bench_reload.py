#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Reload benchmark: how long `plantroomctl reload` takes while every bus is
busy with silent devices (docs/performance.md, "Reload").

  tests/bench/bench_reload.py --bin build/bin [--buses 10] [--devices-per-bus 3]
                              [--timeout-ms 3000] [--reloads 3] [--settle-s 6]

Every device is unit 5 of one plantroom-sim ("pump-1") made silent by its
control file, so each bus thread spends its time inside requests that end
only at their response timeout, as buses with dead RTU devices and long
timeouts do. A reload must stop every bus thread; a bus thread sees the
stop only when its current request ends. Prints the seconds each reload
took (the plantroomctl call, start to answer). MQTT is disabled; the state
directory is a temporary one.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory of plantroomd, plantroomctl, plantroom-sim")
    ap.add_argument("--buses", type=int, default=10)
    ap.add_argument("--devices-per-bus", type=int, default=3)
    ap.add_argument("--timeout-ms", type=int, default=3000)
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--settle-s", type=float, default=6.0, help="seconds before each reload")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="plantroom-bench-reload-")
    with open(os.path.join(tmp, "sim.control"), "w") as f:
        f.write("pump-1.fault=silent\n")
    port_file = os.path.join(tmp, "sim.port")
    sim = subprocess.Popen([os.path.join(a.bin, "plantroom-sim"), "--port", "0", "--port-file",
                            port_file, "--control", os.path.join(tmp, "sim.control")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon = None
    try:
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            time.sleep(0.05)
        port = int(open(port_file).read())
        cfg = {"site": {"id": "bench"}, "state_dir": os.path.join(tmp, "state"),
               "profiles_dir": os.path.join(ROOT, "drivers", "profiles"),
               "log": {"level": "warn"}, "mqtt": {"enabled": False},
               "buses": [{"name": f"b{i}", "type": "tcp", "host": "127.0.0.1", "port": port,
                          "timeout_ms": a.timeout_ms} for i in range(a.buses)],
               "devices": [{"name": f"p{i}-{j}", "bus": f"b{i}", "unit_id": 5,
                            "profile": "pump_drive_abb", "interval_ms": 500,
                            "offline_after": 100}
                           for i in range(a.buses) for j in range(a.devices_per_bus)]}
        config = os.path.join(tmp, "plantroom.json")
        with open(config, "w") as f:
            json.dump(cfg, f)
        daemon = subprocess.Popen([os.path.join(a.bin, "plantroomd"), "--config", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = []
        for _ in range(a.reloads):
            time.sleep(a.settle_s)
            t = time.monotonic()
            r = subprocess.run([os.path.join(a.bin, "plantroomctl"), "--config", config, "reload"],
                               capture_output=True, text=True, timeout=600)
            took.append(time.monotonic() - t)
            if r.returncode != 0:
                print("reload failed:", r.stderr.strip(), file=sys.stderr)
                return 1
        print(f"{a.buses} buses x {a.devices_per_bus} silent devices, {a.timeout_ms} ms timeout: "
              "reload took " + ", ".join(f"{s:.2f}" for s in took) + " s")
        return 0
    finally:
        for p in (daemon, sim):
            if p:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
