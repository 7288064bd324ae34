# SPDX-License-Identifier: Apache-2.0
"""Routing decisions with real deliveries: quiet hours hold a minor alert
until they end and pass a fire alarm at once; an unacknowledged critical
escalates (an acknowledged one does not); a cleared order sends a resolve
notice; an offline device's alerts are muted; an open order is repeated;
routes pick groups by priority, category and building.
"""
import datetime
import time
from zoneinfo import ZoneInfo

from conftest import wait_for
from hooks_helpers import PHONES, Drive, FakeSms, base_config, wo_event, write_config

ALICE, CAROL = PHONES["alice"], PHONES["carol"]


def test_quiet_hours_hold_minor_and_pass_fire(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=300)
    cfg["groups"][0]["members"] = ["alice"]
    # Quiet hours from a minute ago until 6 s from now, in Shanghai time.
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.datetime.now(tz)
    end = now + datetime.timedelta(seconds=6)
    cfg["quiet_hours"] = {"start": (now - datetime.timedelta(minutes=1)).strftime("%H:%M:%S"),
                          "end": end.strftime("%H:%M:%S"), "tz": "Asia/Shanghai"}
    end_ts = end.replace(microsecond=0).timestamp()
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(41, priority="low", title="Stair light out")},
           {"event": wo_event(42, priority="high", category="fire", title="Fire alarm zone 3")})
    wait_for(lambda: sms.to(ALICE), 5, "the fire alarm during quiet hours")
    first = sms.to(ALICE)
    assert len(first) == 1 and "#42" in first[0] and "#41" not in first[0]
    assert time.time() < end_ts, "test too slow: quiet hours over before the check"
    # The minor alert comes once the quiet hours are over, not before.
    wait_for(lambda: len(sms.to(ALICE)) == 2, 10, "the held minor alert")
    assert time.time() >= end_ts - 0.5
    assert "#41" in sms.to(ALICE)[1] and "LOW" in sms.to(ALICE)[1]


def test_unacknowledged_critical_escalates(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200, escalate_after_ms=1500,
                      escalate_to="managers")
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(51, priority="critical", title="Lift 1 trapped passenger")},
           {"event": wo_event(52, priority="critical", device="lift-2", title="Lift 2 stuck")})
    wait_for(lambda: sms.to(ALICE), 5, "the first notice")
    assert "#51" in sms.to(ALICE)[0] and "#52" in sms.to(ALICE)[0]
    assert not sms.to(CAROL)
    # #52 is acknowledged (a work-order event whose status changed); #51 is not.
    d.send({"event": wo_event(52, event="acknowledged", priority="critical", device="lift-2",
                              status="acknowledged", title="Lift 2 stuck")})
    wait_for(lambda: sms.to(CAROL), 8, "the escalation to the managers")
    esc = sms.to(CAROL)[0]
    assert "ESCALATED" in esc and "#51" in esc and "#52" not in esc
    assert "not acknowledged" in d.log()
    # The clear of #51 tells both groups that were told.
    d.send({"event": wo_event(51, event="cleared", priority="critical",
                              title="Lift 1 trapped passenger")})
    wait_for(lambda: len(sms.to(CAROL)) == 2 and len(sms.to(ALICE)) == 2, 5, "resolve notices")
    assert "CLEARED" in sms.to(CAROL)[1] and "#51" in sms.to(ALICE)[1]
    assert len(sms.to(CAROL)) == 2


def test_offline_device_mutes_its_alerts(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=300)
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"offline": "lift-3", "value": 1},
           {"event": wo_event(61, device="lift-3", title="Door fault")},
           {"event": wo_event(62, device="lift-1", title="Brake worn")})
    wait_for(lambda: sms.to(ALICE), 5, "the notice")
    d.settle()
    texts = sms.to(ALICE)
    assert len(texts) == 1 and "#62" in texts[0] and "#61" not in texts[0]
    assert "#61 muted for group oncall: device lift-3 is offline" in d.log()


def test_open_order_is_repeated(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200, repeat_interval_ms=1500)
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(71, priority="high")})
    wait_for(lambda: len(sms.to(ALICE)) >= 2, 8, "a repeat")
    assert "STILL OPEN" in sms.to(ALICE)[1] and "#71" in sms.to(ALICE)[1]
    # Cleared: a resolve notice, then no more repeats.
    d.send({"event": wo_event(71, event="cleared", priority="high")})
    wait_for(lambda: any("CLEARED" in t for t in sms.to(ALICE)), 5, "the resolve notice")
    n = len(sms.to(ALICE))
    d.settle()  # 10 ticks: at least 2 s, longer than the 1.5 s repeat interval
    assert len(sms.to(ALICE)) == n


def test_routes_by_priority_category_and_building(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    cfg["groups"].append({"name": "tower-b", "members": ["bob"], "group_wait_ms": 200})
    cfg["routes"] = [
        {"categories": ["fire"], "groups": ["managers"], "continue": True},
        {"priorities": ["critical", "high"], "buildings": ["Tower B"], "groups": ["tower-b"]},
        {"groups": ["oncall"]},
    ]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(81, priority="high", device="lift-2")},   # Tower B
           {"event": wo_event(82, priority="low", device="lift-2")},    # Tower B, minor
           {"event": wo_event(83, priority="high", category="fire", device="lift-1")})
    wait_for(lambda: sms.to(PHONES["bob"]) and sms.to(ALICE) and sms.to(CAROL), 5,
             "three groups told")
    d.settle()
    bob, alice, carol = sms.to(PHONES["bob"]), sms.to(ALICE), sms.to(CAROL)
    assert len(bob) == 1 and "#81" in bob[0] and "#82" not in bob[0]
    assert len(alice) == 1 and "#82" in alice[0] and "#83" in alice[0] and "#81" not in alice[0]
    assert len(carol) == 1 and "#83" in carol[0] and "#8" not in carol[0].replace("#83", "")


def test_fire_panel_fault_mutes_its_zones(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=300)
    cfg["groups"][0]["members"] = ["alice"]
    # The panel's own zones (same device), and zone devices it feeds.
    cfg["inhibit_rules"] = [{"source_rules": ["panel-fault"]},
                            {"source_rules": ["panel-fault"], "source_devices": ["fire-1"],
                             "target_devices": ["zone-7"]}]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(101, priority="high", category="fire", device="fire-1",
                              rule="panel-fault", title="Fire panel fault")},
           {"event": wo_event(102, priority="high", category="fire", device="fire-1",
                              rule="zone-3-alarm", title="Zone 3 alarm")},
           {"event": wo_event(103, priority="high", category="fire", device="zone-7",
                              rule="smoke", title="Zone 7 smoke")},
           {"event": wo_event(104, device="lift-1", title="Brake worn")})
    wait_for(lambda: sms.to(ALICE), 5, "the notice")
    d.settle()
    texts = sms.to(ALICE)
    assert len(texts) == 1
    assert "#101" in texts[0] and "#104" in texts[0]
    assert "#102" not in texts[0] and "#103" not in texts[0]
    assert "#102 muted for group oncall: inhibited by #101 (panel-fault on fire-1)" in d.log()
