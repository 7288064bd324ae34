#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Modbus benchmark: plantroomd polling K simulated devices x P points,
against a bare libmodbus loop doing the same reads, in the same run.

  tests/bench/bench_modbus.py --bin build-rel/bin [--devices 200] [--points 100]
                              [--buses 2] [--interval-ms 50] [--seconds 10] [--rounds 3]

Both sides read from plantroom-sim --bench K (one TCP port, unit ids 1..K,
P holding registers per device in one request). plantroomd runs with MQTT
disabled and log level warn, so what is measured is the Modbus path: bus
threads, queue, decoding every point, quality, rules. Points are counted by
the simulator (registers answered); CPU and peak RSS are read from /proc for
plantroomd and from getrusage for the bare loop (mb_bare). The bare loop runs
twice: at the gateway's pace (every device every interval: the same reads),
and flat out (no sleeping: the cheapest a read can be). Prints points/s,
CPU seconds per 1,000 points, peak RSS, and the gateway/bare CPU ratio.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time


def start_sim(bindir, tmp, k):
    port_file = os.path.join(tmp, "sim.port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(os.path.join(tmp, "sim.log"), "w")
    p = subprocess.Popen([os.path.join(bindir, "plantroom-sim"), "--port", "0", "--port-file",
                          port_file, "--bench", str(k)], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(port_file):
            return p, int(open(port_file).read())
        time.sleep(0.02)
    sys.exit("plantroom-sim did not start")


def sim_counters(p, tmp, n):
    """Ask the simulator for its counters (SIGUSR1); the n-th report."""
    p.send_signal(signal.SIGUSR1)
    for _ in range(200):
        found = re.findall(r"served (\d+) read requests, (\d+) registers",
                           open(os.path.join(tmp, "sim.log")).read())
        if len(found) >= n:
            return int(found[n - 1][1])
        time.sleep(0.01)
    sys.exit("plantroom-sim did not report")


def stop_sim(p, tmp):
    p.send_signal(signal.SIGTERM)
    p.wait(10)
    m = re.search(r"served (\d+) read requests, (\d+) registers",
                  open(os.path.join(tmp, "sim.log")).read())
    return int(m.group(1)), int(m.group(2))


def proc_cpu_rss(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    hwm = int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
    return cpu, hwm


def gateway(args, tmp):
    sim, port = start_sim(args.bin, tmp, args.devices)
    cfg = {
        "site": {"id": "bench"}, "log": {"level": "warn"}, "state_dir": os.path.join(tmp, "state"),
        "mqtt": {"enabled": False},
        "buses": [{"name": f"b{i}", "host": "127.0.0.1", "port": port, "timeout_ms": 1000}
                  for i in range(args.buses)],
        "devices": [{"name": f"dev-{u}", "bus": f"b{(u - 1) % args.buses}", "unit_id": u,
                     "interval_ms": args.interval_ms,
                     "points": [{"name": f"p{i}", "address": i} for i in range(args.points)]}
                    for u in range(1, args.devices + 1)],
        "rules": [],
    }
    path = os.path.join(tmp, "bench.json")
    json.dump(cfg, open(path, "w"))
    log = open(os.path.join(tmp, "plantroomd.log"), "w")
    d = subprocess.Popen([os.path.join(args.bin, "plantroomd"), "--config", path],
                         stdout=log, stderr=subprocess.STDOUT)
    # Measure a window after a warm-up second, so that loading a config of
    # K x P points is not counted as polling.
    time.sleep(1)
    cpu0, _ = proc_cpu_rss(d.pid)
    regs0, t0 = sim_counters(sim, tmp, 1), time.monotonic()
    time.sleep(args.seconds)
    cpu, rss = proc_cpu_rss(d.pid)
    regs, elapsed = sim_counters(sim, tmp, 2), time.monotonic() - t0
    d.send_signal(signal.SIGTERM)
    d.wait(20)
    stop_sim(sim, tmp)
    return {"points": regs - regs0, "seconds": elapsed, "cpu_s": cpu - cpu0, "rss_kb": rss}


def bare(args, tmp, interval_ms):
    sim, port = start_sim(args.bin, tmp, args.devices)
    out = subprocess.run([os.path.join(args.bin, "mb_bare"), "127.0.0.1", str(port),
                          str(args.devices), str(args.points), str(args.seconds),
                          str(args.buses), str(interval_ms)],
                         capture_output=True, text=True, check=True).stdout
    stop_sim(sim, tmp)
    r = json.loads(out)
    return {"points": r["points"], "seconds": float(r["seconds"]), "cpu_s": r["cpu_s"],
            "rss_kb": r["maxrss_kb"]}


def show(name, r):
    pps = r["points"] / r["seconds"]
    per_k = r["cpu_s"] / r["points"] * 1000 if r["points"] else float("nan")
    print(f"{name:10s} {pps:12,.0f} points/s  {per_k * 1000:8.3f} ms CPU/1000 points  "
          f"peak RSS {r['rss_kb'] / 1024:6.1f} MB  ({r['points']:,} points, "
          f"{r['cpu_s']:.2f} s CPU in {r['seconds']:.1f} s)")
    return per_k


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="directory with plantroomd, plantroom-sim, mb_bare")
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--buses", type=int, default=2)
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="gateway and paced bare loop alternate this many times; the median "
                         "ratio is reported (a 2-core box shares its CPUs with the simulator)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"K={args.devices} devices x P={args.points} points, {args.buses} buses, "
              f"interval {args.interval_ms} ms, {args.seconds:g} s each, {os.cpu_count()} CPUs")
        ratios = []
        for i in range(args.rounds):
            g = gateway(args, tmp)
            b = bare(args, tmp, args.interval_ms)
            print(f"round {i + 1}:")
            gk = show("plantroomd", g)
            bk = show("bare loop", b)
            ratios.append(gk / bk)
        f = bare(args, tmp, 0)
        fk = show("bare flat", f)
        ratios.sort()
        print(f"CPU per point, gateway / bare loop at the same pace: median "
              f"{ratios[len(ratios) // 2]:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        print(f"CPU per point, gateway (last round) / bare loop flat out: {gk / fk:.2f}")

if __name__ == "__main__":
    main()
