# SPDX-License-Identifier: Apache-2.0
"""A stale rule sees a dead device: the daemon feeds every sample to the
rules, failed polls included (quality comm_error), so "no good sample for
N ms" fires while the device is silent, and only that rule fires."""
from conftest import make_config, wait_for

TOPIC_WO = "test-site/events/workorder"


def test_offline_device_opens_one_order(tmp_path, broker, sim, subscriber, daemon):
    def mutate(cfg):
        cfg["rules"].append({"name": "offline", "device": "lift-2", "point": "floor",
                             "kind": "stale", "after_ms": 1500, "category": "electrical",
                             "priority": "high"})
    sub = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port, mutate))
    wait_for(lambda: [m for m in sub.json_messages("devices/lift-2/telemetry")
                      if m["points"]["floor"]["quality"] == "good"], 15, "good lift-2 telemetry")
    assert not sub.messages(TOPIC_WO)

    sim.proc.stop()
    ev = wait_for(lambda: [e for e in sub.json_messages(TOPIC_WO)
                           if e["work_order"]["rule"] == "offline"], 15, "the offline order")
    wo = ev[0]["work_order"]
    assert ev[0]["event"] == "opened"
    assert wo["device"] == "lift-2" and wo["priority"] == "high"
    assert wo["category"] == "electrical" and wo["work_type"] == "corrective"
    assert wo["evidence"]["age_ms"] >= 1500
    assert wo["evidence"]["rule"] == {"kind": "stale", "after_ms": 1500, "for_ms": 0}
    # The failed polls hold nothing else: the other rules stay quiet.
    d.wait_log("device lift-2 offline")
    assert {e["work_order"]["rule"] for e in sub.json_messages(TOPIC_WO)} == {"offline"}
    assert d.proc.stop() == 0
