#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_notify_tick.py: what the notifier's idle tick (every 200 ms) costs
with a large notify.db (docs/performance.md, "Hooks").

Builds a notify.db holding N open work orders, each told to a group (an
alert_groups row: repeats and escalations are judged on it every tick),
N * 4 sent notifications and N * 4 seen event ids, starts
plantroom-notify-drive on it and measures the CPU time the process uses
while it idles for a few seconds (nothing is due: repeats every 4 h). The
schema is the oldest notify.db has had, so the same script measures any
version (a newer one migrates the file at start).

Usage: PLANTROOM_BIN=build/bin tests/bench/bench_notify_tick.py [N] [SECONDS]
       (or --drive PATH to name the program)
Prints the CPU milliseconds per tick and the start time.
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
BIN = os.environ.get("PLANTROOM_BIN", os.path.join(ROOT, "build", "bin"))

SCHEMA = """
CREATE TABLE seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE alerts (wo_id TEXT PRIMARY KEY, number INTEGER, priority TEXT, category TEXT,
  device TEXT, rule TEXT, title TEXT, status TEXT, cleared INTEGER, opened_ms INTEGER);
CREATE TABLE batch (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, wo_id TEXT NOT NULL,
  kind TEXT NOT NULL, created_ms INTEGER NOT NULL, UNIQUE (grp, wo_id, kind));
CREATE TABLE alert_groups (wo_id TEXT NOT NULL, grp TEXT NOT NULL,
  first_sent_ms INTEGER NOT NULL, last_sent_ms INTEGER NOT NULL,
  escalated INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (wo_id, grp));
CREATE TABLE notifications (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, recipient TEXT NOT NULL,
  message TEXT NOT NULL, alert_json TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  sent_ms INTEGER, last_error TEXT);
CREATE INDEX notifications_due ON notifications (state, next_ms);
"""


def build_db(path, n):
    now = int(time.time() * 1000)
    con = sqlite3.connect(path)
    con.executescript("PRAGMA journal_mode=WAL;" + SCHEMA)
    con.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?)",
                    ((f"s:WO{i:07d}", i, "high", "mechanical", f"lift-{1 + i % 4}", f"r{i}",
                      f"Fault {i} vibration above limit", "open", 0, now) for i in range(n)))
    con.executemany("INSERT INTO alert_groups VALUES (?,?,?,?,0)",
                    ((f"s:WO{i:07d}", "oncall", now, now) for i in range(n)))
    con.executemany("INSERT INTO seen VALUES (?,?)",
                    ((f"s:WO{i:07d}#{k}", now) for i in range(n) for k in range(4)))
    msg = "[Tower] NEW HIGH #%d Fault vibration above limit @ Tower A R Machine room (lift-1)"
    con.executemany("INSERT INTO notifications (grp, recipient, message, alert_json, state,"
                    " attempts, next_ms, created_ms, sent_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                    (("oncall", "alice", msg % i, "{}", "sent", 1, now, now, now)
                     for i in range(n * 4)))
    con.commit()
    con.close()


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(d, drive, n, seconds):
    state = os.path.join(d, "state")
    os.makedirs(state)
    build_db(os.path.join(state, "notify.db"), n)
    cfg = {
        "site": {"id": "s", "name": "Tower"}, "log": {"level": "notice"}, "state_dir": state,
        "profiles_dir": os.path.join(ROOT, "drivers", "profiles"), "mqtt": {"enabled": False},
        "hooks": [{"name": "sms", "kind": "exec", "argv": ["/bin/true", "{phone}"]}],
        "recipients": [{"name": "alice", "hook": "sms", "phone": "+1"}],
        "groups": [{"name": "oncall", "members": ["alice"]}],
        "routes": [{"groups": ["oncall"]}],
    }
    path = os.path.join(d, "cfg.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)
    log_path = os.path.join(d, "drive.log")
    log = open(log_path, "wb")
    t0 = time.monotonic()
    p = subprocess.Popen([drive, "--config", path], stdin=subprocess.PIPE, stdout=log,
                         stderr=subprocess.STDOUT)
    while "drive: running" not in open(log_path, errors="replace").read():
        if p.poll() is not None:
            sys.exit("the drive stopped: " + open(log_path, errors="replace").read())
        time.sleep(0.01)
    started = time.monotonic() - t0
    time.sleep(1.0)  # past the first tick and the start's one-off work
    c0, w0 = cpu_s(p.pid), time.monotonic()
    time.sleep(seconds)
    c1, w1 = cpu_s(p.pid), time.monotonic()
    own = ""
    p.stdin.write(b'{"status": true}\n')  # newer drives say what their ticks took
    p.stdin.flush()
    time.sleep(0.5)
    for line in open(log_path, errors="replace"):
        if "drive: status " in line:
            st = json.loads(line.split("drive: status ", 1)[1]).get("notify", {})
            own = (f"; the notifier's own count: {st.get('tick_ms_avg', 0):.3f} ms average, "
                   f"{st.get('tick_ms_max', 0):.3f} ms the longest, over {st.get('ticks')} ticks")
    p.terminate()
    p.wait()
    ticks = (w1 - w0) / 0.2
    return started, (c1 - c0) / ticks * 1e3, (c1 - c0) / (w1 - w0) * 100, own


def main():
    args = sys.argv[1:]
    drive = os.path.join(BIN, "plantroom-notify-drive")
    if "--drive" in args:
        i = args.index("--drive")
        drive = args[i + 1]
        del args[i:i + 2]
    n = int(args[0]) if args else 5000
    seconds = float(args[1]) if len(args) > 1 else 10
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        started, per_tick, pct, own = run(d, drive, n, seconds)
    print(f"open work orders told: {n}; sent notifications and seen ids: {n * 4} each")
    print(f"start (load notify.db) until running: {started * 1e3:.0f} ms")
    print(f"idle tick: {per_tick:.3f} ms CPU per tick ({pct:.1f} % of a core){own}")


if __name__ == "__main__":
    main()
