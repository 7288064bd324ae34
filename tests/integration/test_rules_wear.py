# SPDX-License-Identifier: Apache-2.0
"""Two trends of one lift sharing one preventive order ("with",
docs/prediction.md "Lifts: the other signs of wear"), through
plantroomctl replay with a CSV of both points (and the door cycles): the
order opens on the earlier predicted crossing, names the trend that drives
it, shows both members' dates and the door operator's counter, and the
member trend opens no order of its own. In the daemon: one order in the
ledger, kept through a restart (the member's judgement is not reset by the
reconciliation with the ledger), and closing it re-arms every member. The
config mistakes of "with" are named by their key path."""
import datetime
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT, binary, ctl, make_config, wait_for

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import gen_samples  # noqa: E402

DAY_MS = 86400000
T0 = "2026-01-01T00:00:00Z"

TEMP_TREND = {"name": "motor-temp-wear", "device": "lift-1", "point": "motor_temperature",
              "kind": "trend", "limit": 80, "horizon_days": 15,
              "title": "Lift 1 traction motor temperature predicted to reach 80 degC"}
TITLES = {"vibration-wear": "Lift 1 machine vibration predicted to reach zone D (4.5 mm/s)",
          "motor-temp-wear": TEMP_TREND["title"]}


def iso_ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def check(path):
    return subprocess.run([binary("plantroomd"), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


def with_wear(cfg):
    """lift-1's wear rules as bundled (make_config keeps them), spelled out."""
    cfg["rules"] = [r for r in cfg["rules"] if r["name"] != "motor-temp-wear"]
    for r in cfg["rules"]:
        if (r["device"], r["name"]) == ("lift-1", "vibration-wear"):
            r["with"] = ["motor-temp-wear"]
    cfg["rules"].append(dict(TEMP_TREND))


def samples(tmp_path, vib_rate, temp_rate):
    """60 days every 5 minutes of both points, wearing from day 20, and the
    door operator's cycles (50 an hour), merged in time order."""
    v, t = tmp_path / "v.csv", tmp_path / "t.csv"
    common = ["--days", "60", "--step-s", "300", "--device", "lift-1", "--onset-days", "20",
              "--shape", "linear"]
    gen_samples.main(common + ["--point", "vibration_machine", "--base", "1.2", "--rate",
                               str(vib_rate), "--noise", "0.1", "--seed", "5", "--out", str(v)])
    gen_samples.main(common + ["--point", "motor_temperature", "--base", "50", "--rate",
                               str(temp_rate), "--noise", "1.0", "--seed", "6", "--out", str(t)])
    rows = v.read_text().splitlines()[1:] + t.read_text().splitlines()[1:]
    start = datetime.datetime.fromisoformat(T0.replace("Z", "+00:00"))
    for h in range(60 * 24):
        at = (start + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{at},lift-1,door_cycles,{50 * h}")
    rows.sort(key=lambda r: r.split(",", 1)[0])
    path = tmp_path / "both.csv"
    path.write_text("timestamp,device,point,value\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("case", ["temperature-first", "vibration-first"])
def test_replay_opens_on_the_earlier_trend(tmp_path, case):
    vib_rate, temp_rate = (0.04, 1.2) if case == "temperature-first" else (0.15, 0.3)
    truth = {"vibration-wear": iso_ms(T0) + int((20 + (4.5 - 1.2) / vib_rate) * DAY_MS),
             "motor-temp-wear": iso_ms(T0) + int((20 + (80 - 50) / temp_rate) * DAY_MS)}
    driver = min(truth, key=truth.get)
    config = make_config(tmp_path, 1883, 1502, with_wear)
    r = subprocess.run([binary("plantroomctl"), "replay", "--config", str(config),
                        "--samples", str(samples(tmp_path, vib_rate, temp_rate)), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    acts = json.loads(r.stdout)
    # The member trend raises nothing of its own: one order for the lift.
    assert not [a for a in acts if a["rule"] == "motor-temp-wear"]
    wear = [a for a in acts if a["rule"] == "vibration-wear"]
    opens = [a for a in wear if a["action"] == "open"]
    assert len(opens) == 1, [(a["at"], a["action"]) for a in wear]
    assert not [a for a in wear if a["action"] == "resolve"]
    o = opens[0]
    at = iso_ms(o["at"])
    # The order is the lead rule's; its title, the trend's that opened it.
    assert o["work_type"] == "preventive" and o["title"] == TITLES[driver]
    w = o["evidence"]["wear"]
    assert w["driven_by"] == driver and w["order_rule"] == "vibration-wear"
    assert w["driven_by_point"] == {"vibration-wear": "vibration_machine",
                                    "motor-temp-wear": "motor_temperature"}[driver]
    # Opened on the earlier crossing, at least a week ahead, nothing while healthy.
    assert at >= iso_ms(T0) + 20 * DAY_MS
    assert truth[driver] - at >= 7 * DAY_MS
    assert o["evidence"]["point"] == w["driven_by_point"]  # it was the driver's day close
    trends = {t["rule"]: t for t in w["trends"]}
    assert set(trends) == {"vibration-wear", "motor-temp-wear"}
    d = trends[driver]
    assert d["open"] and d["model"] in ("linear", "exponential", "knee")
    assert iso_ms(d["earliest"]) <= iso_ms(d["predicted_crossing"])
    assert abs(iso_ms(d["predicted_crossing"]) - truth[driver]) <= 0.2 * (truth[driver] - at)
    other = trends[next(n for n in trends if n != driver)]
    assert not other["open"]
    assert other["predicted_crossing"] is None or \
        iso_ms(other["predicted_crossing"]) > iso_ms(d["predicted_crossing"])
    counters = {c["rule"]: c for c in w["wear_counters"]}
    door = counters["door-operator-service"]
    assert door["point"] == "door_cycles" and door["service_limit"] == 100000
    assert 0 < door["since_service"] < 100000
    # Later updates of the one order keep naming a driver and both members.
    ups = [a for a in wear if a["action"] == "update"]
    assert ups and all(len(a["evidence"]["wear"]["trends"]) == 2 for a in ups)


def test_with_mistakes_named_by_path(tmp_path):
    first = []

    def trend(name, device="lift-1", point="vibration_machine", **kw):
        return {"name": name, "device": device, "point": point, "kind": "trend", "limit": 4.5,
                **kw}

    def mutate(cfg):
        first.append(len(cfg["rules"]))
        cfg["rules"] += [
            trend("wa", **{"with": ["nope"]}),
            trend("wb", **{"with": ["motor-hot"]}),
            trend("wc", **{"with": ["wl2"]}),
            trend("wl2", device="lift-2"),
            trend("wd", **{"with": ["we"]}),
            trend("we", **{"with": ["wd"]}),
            trend("wf", **{"with": ["wf"]}),
            {"name": "wg", "device": "lift-1", "point": "motor_temperature", "above": 90,
             "with": ["wa"]},
            trend("wh", **{"with": ["wi"]}),
            trend("wi"),
            trend("wj", **{"with": ["wi"]}),
            trend("wk", **{"with": ["wa"]}),
            trend("wm", **{"with": "wi"}),
        ]
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    n = first[0]
    for text in [
        f'rules[{n + 0}].with[0]: no rule "nope" on device "lift-1"',
        f'rules[{n + 1}].with[0]: rule "motor-hot" (rules[',
        "is a threshold rule: only trend rules combine",
        f'rules[{n + 2}].with[0]: rule "wl2" (rules[{n + 3}]) is on device "lift-2", not '
        '"lift-1": only the trends of one device share an order',
        f'rules[{n + 4}].with[0]: rules "wd" and "we" name each other in "with": a cycle',
        f'rules[{n + 5}].with[0]: rules "we" and "wd" name each other in "with": a cycle',
        f'rules[{n + 6}].with[0]: "wf" is this rule itself',
        f"rules[{n + 7}].with: unknown key",
        f'rules[{n + 10}].with[0]: rule "wi" is already in the "with" of rule "wh" '
        f'(rules[{n + 8}]): a trend shares one order',
        f'rules[{n + 11}].with[0]: rule "wa" (rules[{n + 0}]) has its own "with": combinations '
        "do not nest",
        f"rules[{n + 12}].with: must be an array of strings",
    ]:
        assert text in r.stderr, f"missing: {text}\n{r.stderr}"


def test_with_accepted(tmp_path):
    r = check(make_config(tmp_path, 1883, 1502, with_wear))
    assert r.returncode == 0, r.stderr


def ledger_rows(d):
    if not d.ledger_path().exists():
        return []
    db = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT number, rule, title, status, evidence, last_seen_at, "
                          "occurrences FROM work_orders ORDER BY number").fetchall()
    except sqlite3.OperationalError:
        return []  # the ledger is not created yet
    finally:
        db.close()


def test_daemon_one_order_restart_and_rearm(tmp_path, broker, sim, daemon):
    """1-second "days": the motor temperature's first closed day is at its
    limit (the simulator holds 61 degC against 30), so it opens an order at
    once; the vibration's limit is far above. First alone (its own order),
    then named in the vibration trend's "with" (the shared order)."""
    def rules(shared):
        def mutate(cfg):
            cfg["rules"] = [r for r in cfg["rules"] if r.get("kind") != "trend"]
            cfg["rules"] += [
                {"name": "wear", "device": "lift-1", "point": "vibration_machine",
                 "kind": "trend", "limit": 500, "day_ms": 1000, "learn_n": 3,
                 "title": "Lift 1 vibration wear", **({"with": ["temp-wear"]} if shared else {})},
                {"name": "temp-wear", "device": "lift-1", "point": "motor_temperature",
                 "kind": "trend", "limit": 30, "day_ms": 1000, "learn_n": 3,
                 "title": "Lift 1 motor temperature wear"}]
        return mutate
    sim.set("lift-1.motor_temperature", 61)
    config = make_config(tmp_path, broker["port"], sim.port, rules(False))
    d = daemon(config)
    wait_for(lambda: [r for r in ledger_rows(d) if r[1] == "temp-wear"], 30, "its own order")
    assert d.proc.stop() == 0

    # Now it shares "wear"'s order: its own is cleared, the shared one opens.
    config = make_config(tmp_path, broker["port"], sim.port, rules(True))
    d = daemon(config, "plantroomd-1.log")
    first = wait_for(lambda: [r for r in ledger_rows(d) if r[1] == "wear"], 30,
                     "the shared order")[0]
    d.wait_log("lift-1/temp-wear shares the order of wear now: its own order is cleared")
    assert first[2] == "Lift 1 motor temperature wear"
    w = json.loads(first[4])["wear"]
    assert w["driven_by"] == "temp-wear" and w["order_rule"] == "wear"
    assert {t["rule"]: t["open"] for t in w["trends"]} == {"wear": False, "temp-wear": True}
    # Barrier: three more "days" of updates of the shared order; the member's
    # own order stays cleared (no retrigger: its actions go to the shared one).
    wait_for(lambda: [r for r in ledger_rows(d) if r[1] == "wear" and r[5] >= first[5] + 3000],
             30, "three more days of updates")
    own = [r for r in ledger_rows(d) if r[1] == "temp-wear"]
    assert len(own) == 1 and own[0][6] == 1
    db = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True, timeout=10)
    assert db.execute("SELECT cleared_at FROM work_orders WHERE rule = 'temp-wear'").fetchone()[0]
    db.close()
    # The team closes the old order: that does not re-arm the member (only
    # the shared order's closing does).
    for verb in ("ack", "start", "resolve", "close"):
        ctl(config, "workorders", verb, str(own[0][0]), "--by", "tech")
    wait_for(lambda: [r for r in ledger_rows(d) if r[1] == "wear" and r[5] >= first[5] + 5000],
             30, "two more days of updates")
    assert "temp-wear re-armed" not in d.log()
    assert d.proc.stop() == 0

    # A restart: the ledger's active order is the member's too; it keeps firing.
    d = daemon(config, "plantroomd-2.log")
    d.wait_log("reconciled with the ledger")
    seen = next(r[5] for r in ledger_rows(d) if r[1] == "wear")
    wait_for(lambda: [r for r in ledger_rows(d) if r[1] == "wear" and r[5] >= seen + 3000], 30,
             "updates after the restart")
    assert "temp-wear: was firing with no active work order" not in d.log()
    st = {r["name"]: r for r in json.loads(ctl(config, "status", "--json").stdout)["rules"]
          if r["device"] == "lift-1" and r["kind"] == "trend"}
    assert st["temp-wear"]["state"] == "firing" and st["temp-wear"]["order_rule"] == "wear"
    assert "order_rule" not in st["wear"]
    rows = [r for r in ledger_rows(d) if r[3] != "closed"]
    assert len(rows) == 1 and rows[0][1] == "wear" and rows[0][6] == 1, rows  # one occurrence

    # Closing it (the lift was serviced) re-arms both trends: the motor,
    # still at 61 degC, opens a new order.
    n = str(rows[0][0])
    for verb in ("ack", "start", "resolve", "close"):
        ctl(config, "workorders", verb, n, "--by", "tech")
    d.wait_log("lift-1/wear re-armed (work order closed)")
    second = wait_for(lambda: [r for r in ledger_rows(d) if r[3] == "open"], 30,
                      "a new shared order after the re-arm")
    assert second[0][1] == "wear" and second[0][0] != rows[0][0]
    assert [r[1] for r in ledger_rows(d) if r[3] == "open"] == ["wear"]
    assert d.proc.stop() == 0
