# SPDX-License-Identifier: Apache-2.0
"""Rule state survives a daemon restart (gateway/core/gw_rulestate.c).

A door-cycles counter rule (service every 1000 cycles) counts 600 cycles in
a first run and 500 in a second: only a daemon that kept its count across
the restart reaches 1100 and opens the preventive work order. A fresh count
would stand at 500 and raise nothing.
"""
import json
import os
import struct

from conftest import make_config, wait_for

TOPIC_WO = "test-site/events/workorder"


def door_cycles_seen(sub, value=None):
    return [m["points"]["door_cycles"]["value"]
            for m in sub.json_messages("devices/lift-1/telemetry")
            if m["points"]["door_cycles"]["quality"] == "good"
            and (value is None or m["points"]["door_cycles"]["value"] == value)]


def add_rules(cfg):
    cfg["rules"].append({"name": "door-service", "device": "lift-1", "point": "door_cycles",
                         "kind": "counter", "limit": 1000, "category": "mechanical",
                         "title": "Lift 1 door operator: service due (1000 cycles)"})
    cfg["rules"].append({"name": "vibration-trend", "device": "lift-1",
                         "point": "vibration_machine", "kind": "trend",
                         "iso10816": "10816-1:I", "learn_n": 5})
    cfg["rules_state"] = {"save_interval_s": 1}


def test_counter_survives_restart(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, add_rules)
    state = tmp_path / "state" / "rules.state"

    # Hold the counter where the simulated lift has it, then add 600 cycles.
    d = daemon(config)
    # (v0 + 5: above anything the lift may have counted meanwhile, so that the
    # hold is not read as a decrease, i.e. a wrap of the counter.)
    v0 = wait_for(lambda: door_cycles_seen(sub), 15, "door_cycles")[-1] + 5
    sim.set("lift-1.door_cycles", v0)
    wait_for(lambda: door_cycles_seen(sub, v0), 15, f"door_cycles {v0}")
    sim.set("lift-1.door_cycles", v0 + 600)
    wait_for(lambda: door_cycles_seen(sub, v0 + 600), 15, f"door_cycles {v0 + 600}")
    assert d.proc.stop() == 0
    log1 = (tmp_path / "plantroomd.log").read_text()
    assert "not loaded" not in log1
    assert state.exists() and not (tmp_path / "state" / "rules.state.new").exists()
    nrules = len(json.loads(config.read_text())["rules"])
    magic, version, count, _ = struct.unpack("=4sIII", state.read_bytes()[:16])
    assert magic == b"PRRS" and version == 3 and count == nrules
    assert not sub.messages(TOPIC_WO)

    d2 = daemon(config, "plantroomd2.log")
    d2.wait_log(f"{nrules} rules restored")
    sim.set("lift-1.door_cycles", v0 + 1100)
    ev = wait_for(lambda: [e for e in sub.json_messages(TOPIC_WO)
                           if e["work_order"]["rule"] == "door-service"], 15,
                  "the door-service work order")[0]
    wo = ev["work_order"]
    assert ev["event"] == "opened"
    assert wo["work_type"] == "preventive"
    assert 1100 <= wo["evidence"]["count"] <= 1130  # and the cycles before the hold
    assert wo["evidence"]["rule"]["kind"] == "counter"
    assert d2.proc.stop() == 0


def test_damaged_state_starts_fresh(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port, add_rules)
    os.makedirs(tmp_path / "state", exist_ok=True)
    (tmp_path / "state" / "rules.state").write_bytes(b"PRRS garbage")
    d = daemon(config)
    d.wait_log("rules start fresh")
    # The damaged file is kept aside as evidence, never overwritten...
    kept = wait_for(lambda: list((tmp_path / "state").glob("rules.state.corrupt-*")), 10,
                    "the damaged file moved aside")
    assert kept[0].read_bytes() == b"PRRS garbage"
    d.wait_log("gateway alarm storage.rules_state")
    # ...and the next save writes a good one in its place.
    wait_for(lambda: (tmp_path / "state" / "rules.state").exists()
             and (tmp_path / "state" / "rules.state").stat().st_size > 100, 10,
             "a new state file")
    assert d.proc.stop() == 0


def test_counter_survives_sigkill_after_a_periodic_save(tmp_path, broker, sim, subscriber,
                                                        daemon):
    """The periodic save (written off the loop thread) is enough: after a
    SIGKILL, the restarted daemon continues the count from the last save."""
    import signal
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, add_rules)
    state = tmp_path / "state" / "rules.state"
    d = daemon(config)
    v0 = wait_for(lambda: door_cycles_seen(sub), 15, "door_cycles")[-1] + 5
    sim.set("lift-1.door_cycles", v0)
    wait_for(lambda: door_cycles_seen(sub, v0), 15, f"door_cycles {v0}")
    sim.set("lift-1.door_cycles", v0 + 600)
    wait_for(lambda: door_cycles_seen(sub, v0 + 600), 15, f"door_cycles {v0 + 600}")
    # Two save intervals later the count is on disk; then no clean stop.
    saved = state.stat().st_mtime if state.exists() else 0
    wait_for(lambda: state.exists() and state.stat().st_mtime > saved, 10, "a periodic save")
    wait_for(lambda: state.exists() and state.stat().st_mtime > saved + 0.5, 10,
             "a second periodic save")
    d.proc.signal(signal.SIGKILL)
    d.proc.wait(10)
    d2 = daemon(config, "plantroomd2.log")
    d2.wait_log("rules restored")
    sim.set("lift-1.door_cycles", v0 + 1100)
    wait_for(lambda: [e for e in sub.json_messages(TOPIC_WO)
                      if e["work_order"]["rule"] == "door-service"], 15,
             "the door-service work order after the SIGKILL")
    assert d2.proc.stop() == 0
