#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_notify_growth.py: how large notify.db grows under its bounds
(docs/hooks.md, "Bounds"; docs/performance.md, "Hooks").

notify.db keeps at most notify.max_rows seen event ids, finished alerts
(with their groups) and sent or failed messages, purged daily (and at start
and on reload). This fills a file made by the notifier with rows of the
largest realistic size (a message of 3 SMS segments, 459 characters), a
full day's worth over the bound each round, lets the notifier purge it at
start, and prints the rows and the file's size after each round: the file
stops growing once the pages freed by a purge are reused.

Usage: PLANTROOM_BIN=build/bin tests/bench/bench_notify_growth.py [MAX_ROWS] [ROUNDS]
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


def start_stop(d, cfg_path):
    """Run the notifier until it has counted the file after its purge."""
    log_path = os.path.join(d, "drive.log")
    open(log_path, "w").close()
    p = subprocess.Popen([os.path.join(BIN, "plantroom-notify-drive"), "--config", cfg_path],
                         stdin=subprocess.PIPE, stdout=open(log_path, "ab"),
                         stderr=subprocess.STDOUT)
    counts = None
    for _ in range(600):
        p.stdin.write(b'{"status": true}\n')
        p.stdin.flush()
        time.sleep(0.1)
        for line in open(log_path, errors="replace"):
            if "drive: status " in line:
                st = json.loads(line.split("drive: status ", 1)[1])["notify"]
                counts = st.get("file") or counts
        if counts:
            break
    p.terminate()
    p.wait()
    return counts


def fill(db, base, n):
    now = int(time.time() * 1000)
    msg = ("[Demo Tower] 3 alerts #1201 #1202 #1203: NEW HIGH #1201 Lift 1 machine vibration "
           "above 4.5 mm/s @ Tower A R Lift machine room (lift-1); ").ljust(459, "x")
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO seen VALUES (?, ?)",
                    ((f"demo-tower:01JABCDEFGHJKMNPQRSTV{base + i:07d}#3", now)
                     for i in range(n)))
    con.executemany("INSERT INTO alerts (wo_id, number, priority, category, device, rule, title,"
                    " status, cleared, opened_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    ((f"demo-tower:01JABCDEFGHJKMNPQRSTV{base + i:07d}", base + i, "high",
                      "mechanical", "lift-1", "lift-1-vibration",
                      "Lift 1 machine vibration above 4.5 mm/s", "closed", 1, now, now)
                     for i in range(n)))
    con.executemany("INSERT INTO alert_groups VALUES (?, 'duty', ?, ?, 0)",
                    ((f"demo-tower:01JABCDEFGHJKMNPQRSTV{base + i:07d}", now, now)
                     for i in range(n)))
    con.executemany("INSERT INTO notifications (grp, recipient, message, alert_json, state,"
                    " attempts, next_ms, created_ms, sent_ms) VALUES"
                    " ('duty', 'wang', ?, '', 'sent', 1, ?, ?, ?)",
                    ((msg, now, now, now) for _ in range(n)))
    con.commit()
    con.close()


def main():
    max_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        state = os.path.join(d, "state")
        os.makedirs(state)
        cfg = {"site": {"id": "s"}, "log": {"level": "notice"}, "state_dir": state,
               "profiles_dir": os.path.join(ROOT, "drivers", "profiles"),
               "mqtt": {"enabled": False}, "notify": {"max_rows": max_rows}}
        cfg_path = os.path.join(d, "cfg.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        os.chmod(cfg_path, 0o600)
        db = os.path.join(state, "notify.db")
        start_stop(d, cfg_path)  # the notifier makes the file
        print(f"max_rows {max_rows}; each round adds {max_rows} rows to each table (sent "
              "messages of 459 characters), then the notifier purges at start")
        for r in range(rounds):
            fill(db, r * max_rows, max_rows)
            c = start_stop(d, cfg_path)
            size = os.path.getsize(db) + (os.path.getsize(db + "-wal")
                                          if os.path.exists(db + "-wal") else 0)
            print(f"round {r + 1}: rows seen {c['seen']}, alerts {c['alerts']}, alert_groups "
                  f"{c['alert_groups']}, notifications {c['notifications']}; purged "
                  f"{c['purged']}; file {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
