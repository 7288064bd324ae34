# SPDX-License-Identifier: Apache-2.0
"""plantroomctl changes work orders while plantroomd runs, and the daemon
publishes each change: real mosquitto, plantroom-sim, plantroomd, SQLite.

A work order opened by a rule goes through its whole life with plantroomctl
(ack, assign, start, note, resolve, close); each change is an audit row and
an outbox event that an independent MQTT subscriber receives. Bad input
exits 2 naming what is wrong. After close, the same fault opens a new order.
"""
import csv
import io
import json
import sqlite3
import subprocess
import time
from datetime import datetime

from conftest import binary, ctl, make_config, wait_for

TOPIC_WO = "test-site/events/workorder"


def rows(path, sql, args=()):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def events(sub):
    return sub.json_messages(TOPIC_WO)


def policy(cfg):
    cfg["ledger"]["sla_minutes"] = {"high": 60}
    cfg["ledger"]["routing"] = [
        {"building": "Tower B", "assignee": "nobody"},
        {"building": "Tower A", "floor": "R", "category": "mechanical",
         "assignee": "lift-contractor"},
    ]
    cfg["report"] = {"dir": "reports"}


def test_lifecycle_through_plantroomctl(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, policy)
    d = daemon(config)
    d.wait_log("connected to")

    sim.set("lift-1.vibration_machine", 5.2)
    ev = wait_for(lambda: events(sub), 20, "an opened event")[0]
    wo = ev["work_order"]
    assert ev["event"] == "opened" and ev["channel"] == "rule"
    assert (wo["building"], wo["floor"], wo["room"]) == ("Tower A", "R", "Lift machine room")
    assert wo["assignee"] == "lift-contractor"  # routed by area and skill
    assert wo["status"] == "open"
    due = datetime.fromisoformat(wo["due_at"].replace("Z", "+00:00"))
    opened = datetime.fromisoformat(wo["opened_at"].replace("Z", "+00:00"))
    assert (due - opened).total_seconds() == 3600  # ledger.sla_minutes.high = 60

    # Each change is published by the daemon: plantroomctl only wrote the ledger.
    steps = [("ack", [], "acknowledged"), ("assign", ["bob"], "assigned"),
             ("start", [], "started"), ("note", ["bearing replaced"], "noted"),
             ("resolve", [], "resolved"), ("close", [], "closed")]
    latencies = []
    for verb, extra, event in steps:
        r = ctl(config, "workorders", verb, str(wo["number"]), *extra, "--by", "alice", "--json")
        t_written = time.monotonic()
        assert json.loads(r.stdout)["number"] == wo["number"]
        got = wait_for(lambda: [e for e in events(sub) if e["event"] == event], 10,
                       f"the {event} event")[0]
        latencies.append(time.monotonic() - t_written)
        assert got["actor"] == "alice" and got["channel"] == "cli"
        assert got["work_order"]["id"] == wo["id"]
    print(f"plantroomctl change -> MQTT event: max {max(latencies):.3f} s")  # figure, not asserted
    last = [e for e in events(sub) if e["event"] == "closed"][0]["work_order"]
    assert last["status"] == "closed" and last["assignee"] == "bob"
    assert last["resolved_at"] and last["closed_at"]

    # Bad input: exit 2, a message naming the problem.
    r = ctl(config, "workorders", "ack", str(wo["number"]), check=False)
    assert r.returncode == 2 and "closed -> acknowledged is not allowed" in r.stderr
    r = ctl(config, "workorders", "start", "9999", check=False)
    assert r.returncode == 2 and "unknown work order 9999" in r.stderr
    r = ctl(config, "workorders", "list", "--status", "done", check=False)
    assert r.returncode == 2 and "unknown status 'done'" in r.stderr
    r = ctl(config, "workorders", "assign", str(wo["number"]), check=False)
    assert r.returncode == 2 and "needs an assignee" in r.stderr

    # show: the whole history, with who and through what.
    shown = json.loads(ctl(config, "workorders", "show", str(wo["number"]), "--json").stdout)
    actions = [(a["action"], a["actor"], a["channel"]) for a in shown["audit"]]
    assert actions[0] == ("opened", "rule", "rule")
    assert [a for a, _, _ in actions[1:]] == [e for _, _, e in steps]
    assert shown["notes"][0]["text"] == "bearing replaced"

    # The same fault after closing: a new order.
    sim.set("lift-1.vibration_machine", 1.0)
    d.wait_log("lift-1/vibration-high cleared", 20)  # no event: no active order to clear
    sim.set("lift-1.vibration_machine", 6.0)
    second = wait_for(lambda: [e for e in events(sub) if e["event"] == "opened"
                               and e["work_order"]["id"] != wo["id"]], 20, "a second order")[0]
    assert second["work_order"]["number"] == wo["number"] + 1

    # export, kpi, report, devices: all parse, all agree.
    exported = list(csv.DictReader(io.StringIO(ctl(config, "workorders", "export").stdout)))
    assert {e["number"] for e in exported} == {str(wo["number"]), str(wo["number"] + 1)}
    assert [e for e in exported if e["number"] == str(wo["number"])][0]["on_time"] == "yes"
    as_json = json.loads(ctl(config, "workorders", "export", "--format", "json").stdout)
    assert len(as_json) == 2
    kpi = json.loads(ctl(config, "kpi", "--from", "1d", "--json").stdout)
    assert kpi["overall"]["opened"] == 2 and kpi["overall"]["closed"] == 1
    assert kpi["overall"]["on_time"] == 1 and kpi["target_on_time_rate"] == 0.98
    month = time.strftime("%Y-%m")
    report = json.loads(ctl(config, "report", "--month", month, "--json").stdout)
    assert report["top_devices"][0]["device"] == "lift-1"
    assert "target 98 %" in ctl(config, "report", "--month", month).stdout
    r = ctl(config, "report", "--month", "2024-13", check=False)
    assert r.returncode == 2 and "bad month" in r.stderr
    devs = {x["name"]: x for x in json.loads(ctl(config, "devices", "--json").stdout)}
    assert devs["lift-1"]["status"] == "online" and devs["lift-1"]["status_since"]

    # Everything announced was delivered; at stop the open rollup buckets go in.
    wait_for(lambda: rows(d.ledger_path(), "SELECT count(*) FROM outbox")[0][0] == 0, 10,
             "the outbox to empty")
    assert d.proc.stop() == 0
    assert "pending writes committed" in open(d.proc.log_path).read()
    n = rows(d.ledger_path(),
             "SELECT count(*) FROM rollup_1m WHERE device = 'lift-1' AND point = "
             "'vibration_machine' AND count > 0 AND min <= max")[0][0]
    assert n >= 1
    devs = {x["name"]: x for x in json.loads(ctl(config, "devices", "--json").stdout)}
    assert devs["lift-1"]["last_seen"] is not None
    # The meter's kWh counters are in the month's energy figures.
    energy = json.loads(ctl(config, "report", "--month", month, "--json").stdout)["energy"]
    assert {(e["device"], e["unit"]) for e in energy} == {("meter-main", "kWh")}
    assert all(e["use"] >= 0 and e["last"] >= e["first"] for e in energy)


def test_ledger_config_errors_name_their_path(tmp_path):
    def bad(cfg):
        cfg["ledger"]["routing"] = [{"building": "A"}]
        cfg["ledger"]["sla_minutes"] = {"urgent": 5, "high": -1}
        cfg["ledger"]["audit_retention_days"] = 0
        cfg["report"] = {"directory": "x"}

    config = make_config(tmp_path, 1883, 1502, bad)
    r = subprocess.run([binary("plantroomd"), "--check-config", str(config)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    for path in ("ledger.routing[0].assignee", "ledger.sla_minutes.urgent",
                 "ledger.sla_minutes.high", "ledger.audit_retention_days", "report.directory"):
        assert path in r.stderr + r.stdout, path
