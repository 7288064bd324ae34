# SPDX-License-Identifier: Apache-2.0
"""The "rules" and "rules_state" config keys: every kind accepted, every
mistake named by its JSON path; fire rules default to critical emergency
work orders that open on the first sample (checked through replay)."""
import json
import subprocess

from conftest import binary, make_config

EXAMPLES = [
    {"name": "fault", "device": "lift-1", "point": "fault_code", "kind": "state",
     "bit": 3, "category": "fire"},
    {"name": "offline", "device": "lift-1", "point": "vibration_machine", "kind": "stale",
     "after_ms": 300000, "category": "electrical"},
    {"name": "temp-rise", "device": "lift-1", "point": "motor_temperature", "kind": "rate",
     "above": 2, "per": "minute", "window_ms": 300000},
    {"name": "door-service", "device": "lift-1", "point": "door_cycles", "kind": "counter",
     "limit": 100000},
    {"name": "night-power", "device": "meter-main", "point": "power_total", "kind": "anomaly",
     "min_delta": 5, "utc_offset_min": 480},
    {"name": "vibration-trend", "device": "lift-1", "point": "vibration_machine",
     "kind": "trend", "iso10816": "10816-1:I", "horizon_days": 10},
    {"name": "current-trend", "device": "lift-1", "point": "motor_current", "kind": "trend",
     "limit": 30, "model": "linear"},
]


def check(path):
    return subprocess.run([binary("plantroomd"), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_every_kind_is_accepted(tmp_path):
    def mutate(cfg):
        cfg["rules"] += EXAMPLES
        cfg["rules_state"] = {"path": "rules.state", "save_interval_s": 60}
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 0, r.stderr


def test_rule_mistakes_named_by_path(tmp_path):
    first = []

    def mutate(cfg):
        first.append(len(cfg["rules"]))  # the bad rules follow the bundled ones
        bad = [
            {"name": "a", "device": "lift-1", "point": "floor", "kind": "bogus"},
            {"name": "b", "device": "lift-1", "point": "door_cycles", "kind": "counter",
             "limit": 10, "below": 3},
            {"name": "c", "device": "lift-1", "point": "fault_code", "kind": "state"},
            {"name": "d", "device": "lift-1", "point": "vibration_machine", "kind": "trend"},
            {"name": "e", "device": "lift-1", "point": "vibration_machine", "kind": "trend",
             "iso10816": "10816-2:I"},
            {"name": "f", "device": "meter-main", "point": "power_total", "kind": "anomaly",
             "alpha": 1.5},
            {"name": "g", "device": "lift-1", "point": "motor_temperature", "kind": "rate",
             "above": 1, "per": "fortnight"},
            {"name": "h", "device": "lift-1", "point": "vibration_machine", "kind": "trend",
             "limit": 4.5, "min_days": 50},
            {"name": "i", "device": "lift-1", "point": "vibration_machine", "kind": "trend",
             "limit": 4.5, "line_half_life_days": 0.5},
        ]
        cfg["rules"] += bad
        cfg["rules_state"] = {"save_every": 5}
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    n = first[0]
    for text in [
        f'rules[{n + 0}].kind: must be one of threshold, state, stale, rate, counter, anomaly, trend, '
        'got "bogus"',
        f"rules[{n + 1}].below: unknown key",
        f'rules[{n + 2}]: a state rule needs exactly one of "equals" or "bit"',
        f'rules[{n + 3}]: a trend rule needs "limit" (or zones to take C/D from)',
        f"rules[{n + 4}].iso10816: must be one of",
        f"rules[{n + 5}]: alpha: must be in (0, 1), got 1.5",
        f'rules[{n + 6}].per: must be one of second, minute, hour, got "fortnight"',
        f"rules[{n + 7}]: min_days: must be 3..window_days (40), got 50",
        f"rules[{n + 8}]: line_half_life_days: must be 0 (off) or 1..365, got 0.5",
        "rules_state.save_every: unknown key",
    ]:
        assert text in r.stderr, f"missing: {text}\n{r.stderr}"


def test_fire_rule_is_critical_emergency_at_once(tmp_path):
    def mutate(cfg):
        cfg["rules"].append(EXAMPLES[0])
    config = make_config(tmp_path, 1883, 1502, mutate)
    samples = tmp_path / "fire.csv"
    samples.write_text("timestamp,device,point,value\n"
                       "2026-05-01T10:00:00Z,lift-1,fault_code,0\n"
                       "2026-05-01T10:00:01Z,lift-1,fault_code,8\n"
                       "2026-05-01T10:00:02Z,lift-1,fault_code,8\n")
    r = subprocess.run([binary("plantroomctl"), "replay", "--config", str(config),
                        "--samples", str(samples), "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    acts = [a for a in json.loads(r.stdout) if a["rule"] == "fault"]
    assert [a["action"] for a in acts] == ["open"]
    a = acts[0]
    assert a["at"] == "2026-05-01T10:00:01.000Z"
    assert a["priority"] == "critical" and a["work_type"] == "emergency"
    assert a["category"] == "fire" and a["evidence"]["rule"]["bit"] == 3
