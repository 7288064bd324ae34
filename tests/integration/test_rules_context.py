# SPDX-License-Identifier: Apache-2.0
"""A lift's preventive trend order shows the other signs of wear
(gateway/core/core_context.c): the traction motor's temperature and the door
operator's cycles since the last service, read by the same device.

The trend rule on the machine vibration runs with 1-second "days" and a limit
under the simulated level, so its first closed day is at the limit and opens
the order at once; its evidence must carry device_context with the latest
motor temperature (the value the simulator was told) and the door cycles
counted by the door-service counter rule, and the state of a second trend
rule on the motor temperature (its dates when it has them, its order).
"""
from conftest import make_config, wait_for

TOPIC_WO = "test-site/events/workorder"


def add_rules(cfg):
    cfg["rules"] = [r for r in cfg["rules"] if r.get("kind") != "trend"]
    cfg["rules"].append({"name": "door-service", "device": "lift-1", "point": "door_cycles",
                         "kind": "counter", "limit": 100000, "category": "mechanical",
                         "title": "Lift 1 door operator: service due"})
    cfg["rules"].append({"name": "vibration-wear-fast", "device": "lift-1",
                         "point": "vibration_machine", "kind": "trend", "limit": 0.05,
                         "day_ms": 1000, "learn_n": 3, "title": "Lift 1 vibration wear"})
    # A second trend on the motor temperature, with a limit far above: it
    # never opens, but its state is shown next to the vibration's.
    cfg["rules"].append({"name": "motor-temp-wear", "device": "lift-1",
                         "point": "motor_temperature", "kind": "trend", "limit": 500,
                         "day_ms": 1000, "learn_n": 3, "title": "Lift 1 motor temperature"})


def test_trend_order_shows_motor_temperature_and_door_cycles(tmp_path, broker, sim,
                                                             subscriber, daemon):
    sub = subscriber("plantroom/#")
    sim.set("lift-1.motor_temperature", 61)
    config = make_config(tmp_path, broker["port"], sim.port, add_rules)
    d = daemon(config)
    ev = wait_for(lambda: [e for e in sub.json_messages(TOPIC_WO)
                           if e["work_order"]["rule"] == "vibration-wear-fast"], 30,
                  "the trend work order")[0]
    ctx = ev["work_order"]["evidence"]["device_context"]
    assert "vibration_machine" not in ctx  # the order's own point is the evidence itself
    assert ctx["motor_temperature"]["rule"] == "motor-hot"
    assert ctx["motor_temperature"]["firing"] is False
    assert ctx["motor_temperature"]["trend_rule"] == "motor-temp-wear"
    assert ctx["motor_temperature"]["trend_order_open"] is False
    assert abs(ctx["motor_temperature"]["value"] - 61) < 1.0
    assert ctx["door_cycles"]["service_limit"] == 100000
    assert ctx["door_cycles"]["since_service"] >= 0
    assert d.proc.stop() == 0
