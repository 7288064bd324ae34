#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_service.py: what watching plantroomd costs it.

Starts mosquitto, plantroom-sim and plantroomd (devices polled every 100 ms,
metrics on), then runs two phases of the same length:

  baseline: nobody asks anything;
  load:     two threads scrape /metrics and one asks `status` over the
            control socket, back to back, as fast as they are answered.

For each phase it prints the daemon's loop lag (from its 1 s timer, read
from the metrics once a second) and, under load, how fast scrapes and status
requests were answered. The HTTP thread reads a snapshot, so scraping should
not move the loop lag; status requests run on the loop, so they may.

    PLANTROOM_BIN=build/bin /usr/bin/python3 tests/bench/bench_service.py [SECONDS]
"""
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from conftest import Proc, binary, free_port, make_config  # noqa: E402


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def status(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b'{"cmd":"status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def lag_samples(port, seconds):
    """One loop-lag value per second (the daemon's own measurement)."""
    out = []
    for _ in range(seconds):
        time.sleep(1.0)
        out.append(scrape(port)["plantroom_loop_lag_seconds"] * 1000)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    tmp = Path(tempfile.mkdtemp(prefix="plantroom-bench-"))
    procs = []
    try:
        bport = free_port()
        conf = tmp / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(f"listener {bport} 127.0.0.1\nallow_anonymous true\n{user}")
        procs.append(Proc("mosquitto", ["mosquitto", "-c", str(conf)], tmp / "mosquitto.log"))
        (tmp / "sim.control").write_text("")
        procs.append(Proc("sim", [binary("plantroom-sim"), "--port", "0", "--port-file",
                                  str(tmp / "sim.port"), "--control", str(tmp / "sim.control")],
                          tmp / "sim.log"))
        while not (tmp / "sim.port").exists() or not (tmp / "sim.port").read_text().strip():
            time.sleep(0.05)
        mport = free_port()

        def mutate(cfg):
            cfg["metrics"] = {"enabled": True, "port": mport}
            for d in cfg["devices"]:
                d["interval_ms"] = 100
        config = make_config(tmp, bport, int((tmp / "sim.port").read_text()), mutate=mutate)
        procs.append(Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
                          tmp / "plantroomd.log"))
        sock = str(tmp / "state" / "control.sock")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if all(d["online"] for d in status(sock)["result"]["devices"]):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(2)

        base = lag_samples(mport, seconds)

        stop = threading.Event()
        scrapes, statuses = [], []

        def scraper():
            while not stop.is_set():
                t = time.perf_counter()
                scrape(mport)
                scrapes.append((time.perf_counter() - t) * 1000)

        def asker():
            while not stop.is_set():
                t = time.perf_counter()
                status(sock)
                statuses.append((time.perf_counter() - t) * 1000)
        threads = [threading.Thread(target=scraper), threading.Thread(target=scraper),
                   threading.Thread(target=asker)]
        for t in threads:
            t.start()
        m0, t0 = scrape(mport), time.monotonic()
        load = lag_samples(mport, seconds)
        stop.set()
        for t in threads:
            t.join()
        m = scrape(mport)
        points_per_s = (m["plantroom_points_read_total"] - m0["plantroom_points_read_total"]) / \
            (time.monotonic() - t0)

        print(f"plantroomd: 3 devices every 100 ms, {points_per_s:.0f} points/s")
        print(f"loop lag, baseline (idle), {seconds} s: mean {statistics.mean(base):.2f} ms, "
              f"max {max(base):.2f} ms")
        print(f"loop lag, under load,      {seconds} s: mean {statistics.mean(load):.2f} ms, "
              f"max {max(load):.2f} ms")
        print(f"/metrics scrapes: {len(scrapes)} ({len(scrapes) / seconds:.0f}/s), "
              f"p50 {pct(scrapes, 0.5):.2f} ms, p99 {pct(scrapes, 0.99):.2f} ms")
        print(f"status requests:  {len(statuses)} ({len(statuses) / seconds:.0f}/s), "
              f"p50 {pct(statuses, 0.5):.2f} ms, p99 {pct(statuses, 0.99):.2f} ms")
        polls = m['plantroom_bus_polls_total{bus="sim"}']
        errors = m['plantroom_bus_poll_errors_total{bus="sim"}']
        print(f"bus polls in all: {polls:.0f}, errors {errors:.0f}")
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
