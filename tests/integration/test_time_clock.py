# SPDX-License-Identifier: Apache-2.0
"""Two clocks: steps of the wall clock and timestamps from outside
(docs/architecture.md, "Time"; docs/operations.md, "Restarts, reloads and
clock steps").

The wall clock is stepped under a running daemon as NTP steps it, and only
the wall clock: libfaketime (Debian's faketime) with
FAKETIME_DONT_FAKE_MONOTONIC=1, its offset changed at run time through its
timestamp file (FAKETIME_NO_CACHE=1; libfaketime 0.9.10 also needs
FAKETIME_FORCE_MONOTONIC_FIX=0, or two threads spin). 8 h back, a fire zone
that goes to alarm still opens its work order at once (rules used to ignore
"older" samples until the clock caught up); 8 h forward during the hold of a
threshold with for_ms 20000, it does not fire before 20 s have passed. Both
steps are detected, logged and counted.

An NB-IoT report stamped in the year 2200, then a current one: the current
value is published and the rule fires, also after a restart.
"""
import glob
import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import Daemon, Proc, binary, ctl, make_config, wait_for
from test_mqtt_nbiot import Platform, ctwing, nbiot_config, telemetry

TOPIC_WO = "test-site/events/workorder"
HOUR_S = 3600
YEAR_2200_MS = 7258118400000


def libfaketime():
    libs = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    if not libs:
        pytest.fail("libfaketime not found: apt-get install faketime (deploy/deps.sh)")
    return libs[0]


class FakedDaemon(Daemon):
    """plantroomd with its wall clock (only) under the test's control."""

    def __init__(self, tmp_path, procs, config):
        self.config, self.tmp = config, tmp_path
        self.offset = tmp_path / "faketime.offset"
        self.step("+0")
        env = dict(os.environ, LD_PRELOAD=libfaketime(),
                   FAKETIME_TIMESTAMP_FILE=str(self.offset), FAKETIME_NO_CACHE="1",
                   FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_FORCE_MONOTONIC_FIX="0",
                   # under ASan, libfaketime is preloaded before the runtime
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        self.proc = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
                         tmp_path / "plantroomd.log", env=env)
        procs.append(self.proc)

    def step(self, offset):
        tmp = self.offset.with_suffix(".tmp")
        tmp.write_text(offset + "\n")
        os.replace(tmp, self.offset)


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def rule(st, device, name):
    return next(r for r in st["rules"] if r["device"] == device and r["name"] == name)


def polls(st, device):
    return next(d for d in st["devices"] if d["name"] == device)["polls"]


def orders(sub, device):
    return [e for e in sub.json_messages(TOPIC_WO) if e["work_order"]["device"] == device]


def test_wall_clock_steps_neither_blind_nor_hurry_the_rules(tmp_path, broker, sim, subscriber,
                                                           procs):
    def mutate(cfg):
        for r in cfg["rules"]:
            if r["device"] == "lift-2" and r["name"] == "vibration-high":
                r["for_ms"] = 20000
        cfg["rules"].append({"name": "fire-zone-3", "device": "fire-panel",
                             "point": "zone_3_fire", "kind": "state", "equals": 1,
                             "priority": "critical", "category": "fire",
                             "title": "Fire alarm, zone 3"})
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = FakedDaemon(tmp_path, procs, config)
    d.wait_log("device fire-panel online")
    wait_for(lambda: (tmp_path / "state" / "control.sock").exists(), 15, "the control socket")

    # 8 h back: detected, and a fire zone that goes to alarm opens at once.
    d.step("-8h")
    d.wait_log("the wall clock stepped -28")  # -28800 s, give or take a ms
    st = status(config)
    assert st["clock"]["steps"] == 1 and st["clock"]["last_step_s"] < -8 * HOUR_S + 60
    sim.set("fire-panel.zone_3", 0x0400 | 0x0800 | 0x21)
    ev = wait_for(lambda: orders(sub, "fire-panel"), 15, "the fire zone's work order")[0]
    assert ev["event"] == "opened" and ev["work_order"]["rule"] == "fire-zone-3"
    opened = time.mktime(time.strptime(ev["work_order"]["opened_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs((time.mktime(time.gmtime()) - opened) - 8 * HOUR_S) < 600  # stamped 8 h back

    # 8 h forward while lift-2's vibration is held (for_ms 20000).
    sim.set("lift-2.vibration_machine", 6.0)
    wait_for(lambda: rule(status(config), "lift-2", "vibration-high")["state"] == "pending", 15,
             "lift-2's condition pending")
    began = time.monotonic()
    d.step("+0")
    d.wait_log("the wall clock stepped +28")
    n = polls(status(config), "lift-2")
    # barrier: 25 more polls of lift-2 (5 s at 200 ms) after the step
    st = wait_for(lambda: (lambda s: polls(s, "lift-2") >= n + 25 and s)(status(config)), 30,
                  "25 more polls of lift-2")
    assert rule(st, "lift-2", "vibration-high")["state"] == "pending"
    assert not orders(sub, "lift-2")
    assert st["clock"]["steps"] == 2
    ev = wait_for(lambda: orders(sub, "lift-2"), 40, "lift-2's order after 20 s")[0]
    held = time.monotonic() - began
    assert ev["event"] == "opened" and ev["work_order"]["evidence"]["held_s"] >= 20
    assert held >= 19, held
    assert d.proc.stop() == 0

    # Both steps are in the audit trail, so a reader of the ledger sees why
    # its times jump (written before the daemon stopped: its ledger thread
    # drains at stop).
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    rows = [json.loads(r[0]) for r in con.execute(
        "SELECT detail FROM audit WHERE action = 'clock_step' ORDER BY id")]
    con.close()
    assert [r["step_s"] < -8 * HOUR_S + 60 for r in rows] == [True, False], rows
    assert rows[1]["step_s"] > 8 * HOUR_S - 60, rows
    assert rows[0]["to"] < rows[0]["from"] and rows[1]["from"] < rows[1]["to"], rows


def test_nbiot_report_from_2200_then_a_current_one(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = nbiot_config(tmp_path, broker, sim)
    d = daemon(config)
    d.wait_log("subscribed to nbiot/ctwing/#")
    p = Platform(broker["port"])

    def now_ms():
        return int(time.time() * 1000)

    def leak_orders():
        return [e for e in orders(sub, "water-1") if e["work_order"]["rule"] == "leak"]

    try:
        p.send("nbiot/ctwing/up", ctwing(YEAR_2200_MS, volume=10.0))
        t = wait_for(lambda: [t for t in telemetry(sub, "water-1")
                              if t["points"]["volume"]["value"] == 10.0], 10, "volume 10")[0]
        assert t["ts"] < "2100"  # taken at its arrival, not in 2200
        p.send("nbiot/ctwing/up", ctwing(now_ms(), volume=11.0, leak=True))
        # the current value is published as such (not "late") and the rule fires
        m = wait_for(lambda: [t for t in telemetry(sub, "water-1")
                              if t["points"]["volume"]["value"] == 11.0], 10, "volume 11")[0]
        assert not m.get("late")
        assert wait_for(leak_orders, 10, "the leak order")[0]["event"] == "opened"
        d.wait_log("ahead of the gateway's clock: taken at its arrival")
        # a report older than time.max_age_s is refused
        p.send("nbiot/ctwing/up", ctwing(now_ms() - 30 * 86400 * 1000, volume=9.0))
        d.wait_log("older than time.max_age_s")
        p.send("nbiot/ctwing/up", ctwing(now_ms(), volume=12.0, leak=False))
        wait_for(lambda: len(leak_orders()) >= 2, 10, "the leak order cleared")
        assert leak_orders()[1]["event"] == "cleared"

        # again from 2200, then a restart: the rule state does not keep the
        # future, the next current report counts.
        p.send("nbiot/ctwing/up", ctwing(YEAR_2200_MS + 1000, volume=13.0))
        wait_for(lambda: [t for t in telemetry(sub, "water-1")
                          if t["points"]["volume"]["value"] == 13.0], 10, "volume 13")
        assert d.proc.stop() == 0
        d = daemon(config, "plantroomd2.log")
        d.wait_log("subscribed to nbiot/ctwing/#")
        p.send("nbiot/ctwing/up", ctwing(now_ms(), volume=14.0, leak=True))
        wait_for(lambda: [t for t in telemetry(sub, "water-1")
                          if t["points"]["volume"]["value"] == 14.0 and not t.get("late")], 10,
                 "volume 14, published after the restart")
        ev = wait_for(lambda: len(leak_orders()) >= 3 and leak_orders(), 10,
                      "the leak retriggered after the restart")[2]
        assert ev["event"] == "retriggered"
        assert "held times in the future" not in d.log()
    finally:
        p.close()


def test_time_and_liveness_keys_are_checked(tmp_path):
    def bad(cfg):
        cfg["time"] = {"step_threshold_ms": 5, "max_future_s": -1, "max_age_s": "week",
                       "skew": 1}
        cfg["liveness"] = {"missed_polls": 0, "thread_stall_ms": 100}
    r = subprocess.run([binary("plantroomd"), "--check-config",
                        str(make_config(tmp_path, 1883, 1502, bad))],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    for msg in ("time.step_threshold_ms: ", "time.max_future_s: ", "time.max_age_s: ",
                "time.skew: unknown key", "liveness.missed_polls: ",
                "liveness.thread_stall_ms: "):
        assert msg in r.stderr, (msg, r.stderr)

    def good(cfg):
        cfg["time"] = {"step_threshold_ms": 2000, "max_future_s": 60, "max_age_s": 86400}
        cfg["liveness"] = {"missed_polls": 5, "thread_stall_ms": 30000}
    r = subprocess.run([binary("plantroomd"), "--check-config",
                        str(make_config(tmp_path, 1883, 1502, good))],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
