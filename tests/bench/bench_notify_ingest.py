#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_notify_ingest.py: how fast the notifier takes in a storm of
work-order events (one SQLite transaction each in notify.db, synchronous=FULL,
on the loop thread), against a baseline measured in the same run on the same
disk: the same number of bare fsync'd SQLite transactions from Python.

Usage: PLANTROOM_BIN=build/bin tests/bench/bench_notify_ingest.py [N]
Prints events/s of both and the notifier's cost per event.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
BIN = os.environ.get("PLANTROOM_BIN", os.path.join(ROOT, "build", "bin"))


def baseline(d, n):
    con = sqlite3.connect(os.path.join(d, "base.db"), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    t0 = time.monotonic()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", "x" * 200))
        con.execute("COMMIT")
    dt = time.monotonic() - t0
    con.close()
    return dt


def notifier(d, n):
    from hooks_helpers import base_config, wo_event

    class S:  # an exec hook that is never reached: the group waits long
        cmd = "/bin/true"
    cfg = base_config(type("P", (), {"__truediv__": lambda s, x: os.path.join(d, x)})(), S,
                      group_wait_ms=3600000)
    cfg["state_dir"] = os.path.join(d, "state")
    cfg["log"] = {"level": "notice"}
    path = os.path.join(d, "cfg.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)
    log = open(os.path.join(d, "drive.log"), "wb")
    p = subprocess.Popen([os.path.join(BIN, "plantroom-notify-drive"), "--config", path],
                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    lines = "".join(json.dumps({"event": wo_event(i + 1, device="lift-1")}) + "\n"
                    for i in range(n)).encode()
    db = os.path.join(d, "state", "notify.db")
    t0 = time.monotonic()
    p.stdin.write(lines)
    p.stdin.flush()
    while True:
        con = sqlite3.connect(db, timeout=5)
        k = con.execute("SELECT count(*) FROM seen").fetchone()[0]
        con.close()
        if k >= n:
            break
        time.sleep(0.01)
    dt = time.monotonic() - t0
    p.terminate()
    p.wait()
    return dt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        b = baseline(d, n)
        t = notifier(d, n)
    print(f"events: {n}")
    print(f"baseline (bare fsync'd SQLite transactions): {n / b:8.0f} /s  {b / n * 1e3:.3f} ms each")
    print(f"notifier ingest (event -> notify.db):       {n / t:8.0f} /s  {t / n * 1e3:.3f} ms each")
    print(f"ratio notifier/baseline time: {t / b:.2f}")


if __name__ == "__main__":
    main()
