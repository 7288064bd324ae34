# SPDX-License-Identifier: Apache-2.0
"""The mqtt and nbiot config sections: every error named by its JSON path."""
import json
import subprocess

from conftest import binary, make_config


def check(path):
    return subprocess.run([binary("plantroomd"), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_mqtt_and_nbiot_errors_name_their_path(tmp_path):
    def mutate(cfg):
        cfg["mqtt"]["version"] = "4"
        cfg["mqtt"]["tls"] = {"cert_file": "c.pem", "verfy": True}
        cfg["mqtt"]["telemetry"] = {"deadband": -1, "points": [
            {"device": "lift-9", "deadband": 1},
            {"device": "lift-1", "point": "nope"},
            {"device": "lift-1", "point": "floor", "heartbeat_ms": 5}]}
        cfg["mqtt"]["buffer"] = {"memory_messages": 0, "replay_per_s": 1}
        cfg["mqtt"]["commands"] = {"enabled": True, "senders": [
            {"name": "alice", "allow": ["ack", "reboot"]}, {"name": "bob", "allow": []}]}
        cfg["mqtt"]["homeassistant"] = {"prefix": "ha/#"}
        cfg["nbiot"] = {"devices": [
            {"name": "w1", "format": "lorawan", "id": "x", "points": [{"name": "v"}]},
            {"name": "w2", "format": "ctwing", "id": "y",
             "points": [{"name": "v", "pointer": "payload/v"}, {"name": "u", "path": "1_0_1"}]},
            {"name": "lift-1", "format": "onenet", "id": "z", "report_period_s": 0,
             "points": [{"name": "t", "path": "3303_0_5700"}]}]}
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    expected = [
        'mqtt.version: must be "3.1.1" or "5", got "4"',
        "mqtt.tls.verfy: unknown key",
        "mqtt.tls: cert_file and key_file go together",
        'mqtt.tls: given, but mqtt.uri ("tcp://127.0.0.1:1883") is not ssl:// or mqtts://',
        "mqtt.telemetry.deadband: must be at least 0, got -1",
        'mqtt.telemetry.points[0]: no device named "lift-9" in devices',
        'mqtt.telemetry.points[1]: device "lift-1" has no point "nope"',
        "mqtt.telemetry.points[2].heartbeat_ms: is per device",
        "mqtt.buffer.memory_messages: must be at least 1, got 0",
        "mqtt.buffer.replay_per_s: must be at least 10, got 1",
        'mqtt.commands.senders[0].allow: unknown verb "reboot"',
        "mqtt.commands.senders[1].allow: must be a non-empty array",
        "mqtt.homeassistant.prefix: must be a non-empty topic without '+' or '#'",
        "nbiot.topics: is required when there are nbiot devices",
        'nbiot.devices[0].format: must be "ctwing" or "onenet", got "lorawan"',
        "nbiot.devices[1].points[0].pointer: must be a JSON pointer starting with '/'",
        'nbiot.devices[1].points[1]: a ctwing device\'s points give "pointer"',
        "nbiot.devices[2].report_period_s: must be at least 1, got 0",
        'duplicate device name "lift-1"',
    ]
    for e in expected:
        assert e in r.stderr, (e, r.stderr)


def test_nbiot_devices_count_as_devices(tmp_path):
    def mutate(cfg):
        cfg["nbiot"] = {"topics": ["nb/#"], "devices": [
            {"name": "w1", "format": "ctwing", "id": "x",
             "points": [{"name": "v", "unit": "m3", "pointer": "/payload/v"}]}]}
        cfg["rules"].append({"name": "high", "device": "w1", "point": "v", "kind": "threshold",
                             "above": 5, "title": "w1 high"})
    path = make_config(tmp_path, 1883, 1502, mutate)
    r = check(path)
    assert r.returncode == 0, r.stderr
    n = len(json.loads(path.read_text())["devices"])
    assert f"{n + 1} devices" in r.stdout
