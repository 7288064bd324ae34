# SPDX-License-Identifier: Apache-2.0
"""SIGHUP reloads (or keeps the running config and says why); SIGINT stops."""
import json
import signal

from conftest import make_config, wait_for


def test_sighup_applies_a_valid_config_and_keeps_running_on_a_bad_one(
        tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("device lift-1 online")

    # A valid change: lower lift-2's limit below its normal vibration.
    cfg = json.loads(config.read_text())
    cfg["rules"][1]["above"] = 0.5
    config.write_text(json.dumps(cfg))
    d.proc.signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    # The new limit is in force: lift-2 (0.8 mm/s) now opens a work order.
    d.wait_log("work order #1 opened", timeout=15)
    assert "device lift-2" in d.log().split("work order #1 opened")[1].splitlines()[0]

    # An invalid change: the running config stays, with the reason logged.
    cfg["devices"][0]["interval_ms"] = 5
    config.write_text(json.dumps(cfg))
    d.proc.signal(signal.SIGHUP)
    d.wait_log("keeping the running configuration")
    assert "devices[0].interval_ms: must be at least 50, got 5" in d.log()
    n = len(sub.messages("devices/lift-1/telemetry"))
    wait_for(lambda: len(sub.messages("devices/lift-1/telemetry")) > n + 3, 10,
             "telemetry to keep flowing after a refused reload")
    assert d.proc.alive()

    d.proc.signal(signal.SIGINT)
    assert d.proc.wait(15) == 0
    assert "SIGINT: stopping" in d.log()


def test_device_offline_when_simulator_dies(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port))
    d.wait_log("device lift-1 online")
    sim.proc.stop()
    d.wait_log("device lift-1 offline")
    st = wait_for(lambda: [json.loads(p) for (t, p) in sub.messages("devices/lift-1/status")
                           if json.loads(p)["status"] == "offline"], 10, "offline status")
    assert st[-1]["device"] == "lift-1"
    tel = sub.json_messages("devices/lift-1/telemetry")[-1]
    assert tel["points"]["vibration_machine"]["quality"] == "comm_error"
    assert tel["points"]["vibration_machine"]["value"] is None
