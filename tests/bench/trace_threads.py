#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""trace_threads.py: CPU per second of plantroomd's threads (the loop, the
bus threads, the ledger), polling only, of one build or two side by side.

    trace_threads.py --bin build-rel/bin [--before-bin OTHER/bin] [--seconds 130]
                     [--load 100x100@1000]

Each build polls its own plantroom-sim (--bin's) with the site of
bench_pipeline.py (MQTT off, 2 buses). Every second one line: per build the
ms of CPU its loop, bus threads and ledger thread spent in that second (from
/proc/PID/task/*/schedstat); at the end the mean of each. It shows what
happens when: the minute's rollup close (the ledger's seconds :01-:03), the
service's 5 s tick, wake-ups. docs/performance.md, "Polling only: the
ledger's minute close". Not a test: nothing is asserted.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pipeline as bp  # noqa: E402

KINDS = ("loop", "bus", "ledger")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--before-bin")
    ap.add_argument("--seconds", type=int, default=130)
    ap.add_argument("--load", default="100x100@1000")
    ap.add_argument("--buses", type=int, default=2)
    args = ap.parse_args()
    k, rest = args.load.split("x")
    p, iv = rest.split("@")
    load = (int(k), int(p), int(iv))
    builds = {"new": args.bin}
    if args.before_bin:
        builds["before"] = args.before_bin
    runs = {}
    try:
        for name, b in builds.items():
            tmp = tempfile.mkdtemp(prefix=f"trace-{name}-")
            sim = bp.Sim(args.bin, tmp, load[0])
            cfg = bp.config(args, tmp, load, sim.port, None)
            d = subprocess.Popen([os.path.join(b, "plantroomd"), "--config", cfg],
                                 stdout=open(os.path.join(tmp, "plantroomd.log"), "w"),
                                 stderr=subprocess.STDOUT)
            runs[name] = (sim, d)
        time.sleep(8)  # started, every device polled
        prev = {n: bp.threads(d.pid) for n, (s, d) in runs.items()}
        total = {n: dict.fromkeys(KINDS, 0.0) for n in runs}
        print("time  " + "  ".join(f"{n}: " + " ".join(f"{t:>6}" for t in KINDS) for n in runs))
        for _ in range(args.seconds):
            time.sleep(1)
            line = [time.strftime("%M:%S")]
            for n, (s, d) in runs.items():
                cur = bp.threads(d.pid)
                ms = [(cur.get(t, [0])[0] - prev[n].get(t, [0])[0]) / 1e6 for t in KINDS]
                for t, v in zip(KINDS, ms):
                    total[n][t] += v
                prev[n] = cur
                line.append(f"{n}: " + " ".join(f"{v:6.2f}" for v in ms))
            print("  ".join(line), flush=True)
        for n in runs:
            print(f"{n}, mean ms/s: " +
                  ", ".join(f"{t} {total[n][t] / args.seconds:.3f}" for t in KINDS))
    finally:
        for s, d in runs.values():
            d.send_signal(signal.SIGTERM)
            d.wait(30)
            s.stop()


if __name__ == "__main__":
    main()
