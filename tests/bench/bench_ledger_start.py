#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The ledger's start on a large file (docs/performance.md, "The ledger's
start"): how long plantroomd takes to be ready (READY=1 to systemd, logged
as "plantroomd running") and to poll, on a copy of a given ledger, after a
clean stop (no open marker) and after an unclean one (ledger.db.open left),
and when the background check ends.

  tests/bench/bench_ledger_start.py --bin build/bin [--before-bin OLD/bin]
                                    [--ledger FILE | --rows N] [--rounds 1]

--ledger: a ledger file (copied for every run and synced; the copy leaves
it in the page cache: warm-cache figures). --rows: make one first, from a ledger the
daemon creates, with N minute rollups inserted by sqlite3 (a recursive
CTE; about 1 GB per 24 million rows). The bundled config's first bus
against one plantroom-sim; MQTT disabled. Prints one line per run: side,
case, seconds to ready, to the first poll, and (after) to the check's end.
Wall times: on a loaded machine compare sides run together.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config(tmp, state, port):
    with open(os.path.join(ROOT, "deploy", "plantroom.json")) as f:
        cfg = json.load(f)
    for key in ("hooks", "recipients", "groups", "routes", "quiet_hours", "inhibit_rules"):
        cfg.pop(key, None)
    cfg["state_dir"] = state
    cfg["profiles_dir"] = os.path.join(ROOT, "drivers", "profiles")
    cfg["mqtt"]["enabled"] = False
    cfg["buses"] = cfg["buses"][:1]
    cfg["buses"][0]["port"] = port
    cfg["devices"] = [d for d in cfg["devices"] if d["bus"] == cfg["buses"][0]["name"]]
    names = {d["name"] for d in cfg["devices"]}
    cfg["rules"] = [r for r in cfg["rules"] if r["device"] in names]
    path = os.path.join(tmp, "plantroom.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def status(binp, cfg):
    r = subprocess.run([os.path.join(binp, "plantroomctl"), "--config", cfg, "status", "--json"],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def run(binp, cfg, state, ledger, unclean, timeout):
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    shutil.copyfile(ledger, os.path.join(state, "ledger.db"))
    if unclean:
        open(os.path.join(state, "ledger.db.open"), "w").close()
    os.sync()  # the copy's writeback must not fall into the start (an fsync waits for it)
    log = os.path.join(state, "..", "plantroomd.log")
    with open(log, "w") as out:
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(binp, "plantroomd"), "--config", cfg,
                              "--log-level", "info"], stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = wait(lambda: "plantroomd running" in open(log).read() and time.monotonic(),
                     timeout)
        polled = wait(lambda: (lambda s: s and any(d["polls"] > 0 for d in s["devices"])
                               and time.monotonic())(status(binp, cfg)), timeout)
        checked = None
        s = status(binp, cfg)
        if s and "checks_started" in s["storage"]["ledger"] and unclean:
            checked = wait(lambda: (lambda s: s and s["storage"]["ledger"]["checks_done"] >= 1
                                    and time.monotonic())(status(binp, cfg)), timeout)
        return [None if t is None else t - t0 for t in (ready, polled, checked)]
    finally:
        p.terminate()
        p.wait(60)


def make_ledger(binp, tmp, rows, port):
    state = os.path.join(tmp, "make")
    cfg = config(tmp, state, port)
    p = subprocess.Popen([os.path.join(binp, "plantroomd"), "--config", cfg],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(lambda: status(binp, cfg), 30)
    p.terminate()
    p.wait(60)
    path = os.path.join(state, "ledger.db")
    t0 = (int(time.time()) // 3600 - 1) * 3600000
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)"
               " INSERT INTO rollup_1m SELECT 'dev-' || (i / 100 % 200), 'p' || (i % 100),"
               " ?1 + (i / 20000) * 60000, 'C', 1, 2, 30, 20, ?1 + (i / 20000) * 60000 + 59000"
               " FROM n", (t0 - (rows // 20000) * 60000, rows - 1))
    db.commit()
    db.close()
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--before-bin")
    ap.add_argument("--ledger")
    ap.add_argument("--rows", type=int, default=2000000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--timeout-s", type=float, default=600)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="plantroom-bench-start-")
    port_file = os.path.join(tmp, "sim.port")
    sim = subprocess.Popen([os.path.join(a.bin, "plantroom-sim"), "--port", "0", "--port-file",
                            port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = int(wait(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 10))
        ledger = a.ledger or make_ledger(a.bin, tmp, a.rows, port)
        print(f"ledger {ledger}: {os.path.getsize(ledger) / 1e6:.0f} MB")
        sides = [("after", a.bin)] + ([("before", a.before_bin)] if a.before_bin else [])
        for rnd in range(a.rounds):
            for side, binp in sides:
                cfg = config(tmp, os.path.join(tmp, side), port)
                for unclean in (False, True):
                    r = run(binp, cfg, os.path.join(tmp, side), ledger, unclean, a.timeout_s)
                    f = ["-" if t is None else f"{t:.2f}" for t in r]
                    print(f"round {rnd + 1} {side:6} {'unclean' if unclean else 'clean  '}: "
                          f"ready {f[0]} s, first poll {f[1]} s, check ended {f[2]} s",
                          flush=True)
        return 0
    finally:
        sim.terminate()
        sim.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
