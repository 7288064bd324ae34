# SPDX-License-Identifier: Apache-2.0
"""deploy/demo.sh end to end, as a new user runs it (--quick, no pauses), on
free ports beside other tests: the bundled default config, a real
mosquitto, plantroom-sim, plantroomd and the SMS hook deploy/sms-print.sh.

Asserts on what the demo printed (every step's heading, the SMS lines, the
predicted date of the replayed month) and on what it left behind: the
ledger's orders of the lift, the fire zone, the pump and the tank with their
priorities, assignees and the acknowledgement in the audit trail, and the
SMS log (the director never told: the acknowledgement stopped the
escalation; the plumber's SMS, delivered after the director's deadline, is
the barrier that shows the notifier ran past it)."""
import datetime
import os
import re
import signal
import sqlite3
import subprocess

import pytest

from conftest import BIN, ROOT, binary, free_port

HEADINGS = [
    "=== 1/7 Live telemetry",
    "=== 2/7 Lift 1 vibration rising: a work order for the lift contractor, and an SMS",
    "=== 3/7 Fire alarm in zone 3: a critical order and an SMS at once",
    "=== 4/7 Pump 1 trips and the tank falls below its limit",
    "=== 5/7 Replay: a recorded month of lift vibration, and the preventive order it predicts",
    "=== 6/7 Energy: three weeks of the main meter replayed, and the night it wasted energy",
    "=== 7/7 KPIs and the monthly report",
]
FIRE_OFFICER, MANAGER, DIRECTOR = "+8613800000001", "+8613800000002", "+8613800000003"
LIFT_CONTRACTOR, PLUMBER = "+8613800000004", "+8613800000005"


def utc(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    for name in ("plantroomd", "plantroomctl", "plantroom-sim"):
        binary(name)
    d = tmp_path_factory.mktemp("demo")
    # What a first run leaves behind in the same directory: its generated
    # month's ledger. A second run must make it again, not fail on it.
    last = (datetime.date.today().replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    subprocess.run([binary("plantroom-report-gen"), "--ledger", str(d / "sample-ledger.db"),
                    "--month", last, "--site", "demo-tower", "--site-name", "Demo Tower"],
                   check=True, capture_output=True)
    env = dict(os.environ, PLANTROOM_BIN=BIN, PLANTROOM_DEMO_DIR=str(d),
               PLANTROOM_DEMO_MQTT_PORT=str(free_port()), PLANTROOM_DEMO_SIM_PORT=str(free_port()))
    p = subprocess.Popen([os.path.join(ROOT, "deploy", "demo.sh"), "--quick", "--no-build"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)  # trapped like Ctrl-C: the demo stops its children
        out, _ = p.communicate(timeout=30)
        pytest.fail(f"the demo did not finish in 300 s:\n{out}")
    print(out)
    assert p.returncode == 0, out
    db = sqlite3.connect(str(d / "state" / "ledger.db"))
    try:
        orders = db.execute("SELECT number, id, device, rule, priority, status, category, "
                            "work_type, assignee FROM work_orders ORDER BY number").fetchall()
        audit = db.execute("SELECT wo_id, actor, action, from_status, to_status, channel "
                           "FROM audit ORDER BY id").fetchall()
    finally:
        db.close()
    return {"out": out, "dir": d, "orders": orders, "audit": audit,
            "sms": (d / "sms.log").read_text().splitlines()}


def test_every_step_in_order(demo):
    out = demo["out"]
    at = [out.find(h) for h in HEADINGS]
    assert all(i >= 0 for i in at), [h for h, i in zip(HEADINGS, at) if i < 0]
    assert at == sorted(at)
    assert "deploy/plantroom.json: ok: site demo-tower" in out
    assert re.search(r"lift-1 \d\d:\d\d:\d\d .*vibration_machine=[0-9.]+ mm/s", out)
    assert re.search(r"tank-1 \d\d:\d\d:\d\d .*level=[0-9.]+ m", out)
    assert "[demo] done in" in out and "stopping what the demo started" in out


def test_ledger_has_the_orders_of_the_story(demo):
    got = {(o[2], o[3]): o for o in demo["orders"]}
    expected = {
        ("lift-1", "vibration-high"): ("high", "open", "mechanical", "corrective",
                                       "lift-contractor"),
        ("fire-panel", "zone-3-alarm"): ("critical", "acknowledged", "fire", "emergency",
                                         "fire-contractor"),
        ("pump-1", "tripped"): ("high", "open", "plumbing", "corrective", "plumber"),
        ("tank-1", "level-low"): ("high", "open", "plumbing", "corrective", "plumber"),
    }
    assert set(got) == set(expected), demo["orders"]
    for key, want in expected.items():
        assert got[key][4:] == want, key
    fire_id = got[("fire-panel", "zone-3-alarm")][1]
    acks = [a for a in demo["audit"] if a[0] == fire_id and a[2] == "acknowledged"]
    assert acks == [(fire_id, "facility-manager", "acknowledged", "open", "acknowledged", "cli")]


def test_sms_reach_the_right_people(demo):
    nums = {(o[2], o[3]): o[0] for o in demo["orders"]}
    fire, lift = nums[("fire-panel", "zone-3-alarm")], nums[("lift-1", "vibration-high")]
    pump, tank = nums[("pump-1", "tripped")], nums[("tank-1", "level-low")]
    sms = demo["sms"]
    lines = [f"SMS to {LIFT_CONTRACTOR}: [Demo Tower] NEW HIGH #{lift} Lift 1 machine vibration",
             f"SMS to {FIRE_OFFICER}: [Demo Tower] NEW CRITICAL #{fire} Fire alarm: zone 3",
             f"SMS to {MANAGER}: [Demo Tower] ESCALATED CRITICAL #{fire} Fire alarm: zone 3"]
    for want in lines:
        assert [s for s in sms if s.startswith(want)], f"missing {want!r} in {sms}"
        assert "  >> " + want in demo["out"]  # and the demo showed it
    plumber = [s for s in sms if s.startswith(f"SMS to {PLUMBER}:")]
    assert plumber and all(f"#{n}" in " ".join(plumber) for n in (pump, tank)), sms
    assert "Tank 1 level below 1.0 m" in " ".join(plumber)
    # The escalation came after the first SMS, the plumber's after it: by then
    # the director's deadline (8 s after the manager was told) had passed.
    order = [next(i for i, s in enumerate(sms) if s.startswith(w)) for w in lines[1:]]
    assert order[0] < order[1] < sms.index(plumber[-1])
    assert not [s for s in sms if s.startswith(f"SMS to {DIRECTOR}:")], sms
    assert "no SMS to the director: the acknowledgement stopped the escalation" in demo["out"]
    # Both plumbing alerts come within the group's 10 s, so they are one SMS,
    # unless the machine is slow enough to split them.
    assert len(plumber) in (1, 2) and len(sms) == 3 + len(plumber), sms


def test_replay_predicts_the_wear_ahead(demo):
    out = demo["out"][demo["out"].find(HEADINGS[4]):demo["out"].find(HEADINGS[5])]
    m = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC  open  lift-1/vibration-wear  low preventive",
                  out)
    assert m, out
    opened = utc(m.group(1))
    m = re.search(r"predicted date (\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(\d+ % interval", out)
    assert m, out
    predicted = utc(m.group(1))
    # The recording: 1.2 mm/s, wearing from day 12 by 0.15 mm/s a day, so it
    # reaches 4.5 mm/s on day 12 + 22.
    truth = utc("2026-11-01 00:00") + datetime.timedelta(days=12 + (4.5 - 1.2) / 0.15)
    assert opened >= utc("2026-11-13 00:00")  # nothing while healthy
    assert truth - opened >= datetime.timedelta(days=7)
    assert abs(predicted - truth) <= 0.2 * (truth - opened)
    assert "replay: 43200 samples (0 for points without rules, 0 bad lines)" in out


def test_energy_anomaly_on_the_wasteful_night_only(demo):
    out = demo["out"][demo["out"].find(HEADINGS[5]):demo["out"].find(HEADINGS[6])]
    opens = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC  open  meter-main/power-anomaly  low", out)
    # The plant ran from 12:00 UTC (20:00 local) on the 19th: one order, after
    # the rule's 15 minutes, none in the two weeks and a half before.
    assert len(opens) == 1, out
    opened = utc(opens[0])
    assert utc("2026-11-19 12:00") < opened <= utc("2026-11-19 12:30")
    m = re.search(r"back to normal at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", out)
    assert m and utc("2026-11-19 23:00") <= utc(m.group(1)) <= utc("2026-11-19 23:30"), out
    assert "replay: 31680 samples (0 for points without rules, 0 bad lines)" in out


def test_kpi_and_report(demo):
    out = demo["out"][demo["out"].find(HEADINGS[-1]):]
    assert re.search(r"all\s+4\s+0\s+0", out), out
    for row in ("fire", "mechanical", "plumbing", "Tower A / G", "Tower A / B2", "Tower A / R"):
        assert row in out
    assert "Monthly maintenance report" in out
    assert re.search(r"acknowledged\s+1", out) and re.search(r"open\s+3", out)
    m = re.search(r"from the demo's ledger: (\S+\.html)", out)
    assert m, out
    with open(m.group(1), encoding="utf-8") as f:
        page = f.read()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
