# SPDX-License-Identifier: Apache-2.0
"""plantroomd --check-config: every error named by its JSON path."""
import json
import os
import subprocess

from conftest import ROOT, binary, make_config


def check(path):
    return subprocess.run([binary("plantroomd"), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_bundled_default_is_valid():
    r = check(os.path.join(ROOT, "deploy", "plantroom.json"))
    assert r.returncode == 0, r.stderr
    assert "ok: site demo-tower" in r.stdout


def test_every_error_is_reported_with_its_path(tmp_path):
    def mutate(cfg):
        cfg["devices"][2]["interval_ms"] = 5
        cfg["devices"][1]["bus"] = "nowhere"
        cfg["devices"][0]["intervall_ms"] = 1000          # a typo: unknown key
        cfg["buses"][0]["port"] = 70000
        cfg["rules"][0]["point"] = "vibration_machin"
        cfg["rules"][1]["hysteresis"] = -1
        cfg["rules"][2]["priority"] = "urgent"
        cfg["mqtt"]["uri"] = "http://broker"
        del cfg["site"]["id"]
    path = make_config(tmp_path, 1883, 1502, mutate)
    r = check(path)
    assert r.returncode == 2
    expected = [
        "devices[2].interval_ms: must be at least 50, got 5",
        'devices[1].bus: no bus named "nowhere" in buses',
        "devices[0].intervall_ms: unknown key",
        "buses[0].port: must be at most 65535, got 70000",
        'rules[0].point: device "lift-1" has no point "vibration_machin"',
        "rules[1]: hysteresis: must be >= 0, got -1",
        'rules[2].priority: must be one of critical, high, medium, low, got "urgent"',
        "mqtt.uri: must start with tcp://",
        "site.id: is required",
    ]
    for e in expected:
        assert e in r.stderr, f"missing: {e}\n--- stderr:\n{r.stderr}"


def test_syntax_error_names_line_and_column(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{\n  "site": {"id": "x"},\n  "buses": [,]\n}\n')
    r = check(p)
    assert r.returncode == 2
    assert "JSON syntax error at line 3" in r.stderr


def test_missing_profile_and_bad_point_type(tmp_path):
    def mutate(cfg):
        cfg["devices"][0]["profile"] = "no_such_profile"
        cfg["devices"][1]["points"] = [{"name": "extra", "address": 99, "type": "int128"}]
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    assert "no_such_profile.json: cannot open" in r.stderr
    assert 'devices[1].points[0].type: must be one of bool' in r.stderr


def test_daemon_refuses_to_start_on_invalid_config(tmp_path):
    path = make_config(tmp_path, 1883, 1502,
                       lambda cfg: cfg["devices"][2].__setitem__("interval_ms", 5))
    r = subprocess.run([binary("plantroomd"), "--config", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "devices[2].interval_ms: must be at least 50, got 5" in r.stderr
    assert not (tmp_path / "state" / "ledger.db").exists()


def test_bad_command_line():
    r = subprocess.run([binary("plantroomd"), "--no-such-flag"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([binary("plantroomd")], capture_output=True, text=True)
    assert r.returncode == 2 and "--config FILE is required" in r.stderr


def test_storage_keys_are_checked(tmp_path):
    def mutate(cfg):
        cfg["ledger"]["queue_max_ops"] = 10
        cfg["ledger"]["outbox_retention_days"] = 0
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    assert "ledger.queue_max_ops: must be at least 100, got 10" in r.stderr, r.stderr
    assert "ledger.outbox_retention_days: must be at least 1, got 0" in r.stderr, r.stderr


def test_point_names_are_checked(tmp_path):
    """A point name with a space or a quote breaks topics and Home Assistant
    templates: refused, naming the profile file, the point and the rule."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "flow.json").write_text(json.dumps({"profile": "flow", "points": [
        {"name": "flow rate", "address": 0, "unit": "m3/h"},
        {"name": "total", "address": 1, "unit": "m3", "medium": "oil"}]}))

    def mutate(cfg):
        cfg["profiles_dir"] = str(profiles)
        cfg["devices"] = [{"name": "flow-1", "bus": cfg["buses"][0]["name"], "unit_id": 1,
                           "profile": "flow", "points": [{"name": "it's", "address": 2}]}]
        cfg["rules"] = []
        cfg["nbiot"] = {"topics": ["nb/#"], "devices": [
            {"name": "nb-1", "format": "ctwing", "id": "x",
             "points": [{"name": "a.b", "pointer": "/a"}]}]}
    r = check(make_config(tmp_path, 1883, 1502, mutate))
    assert r.returncode == 2
    assert (f'{profiles}/flow.json.points[0].name: point name "flow rate" has a space at '
            f'position 5') in r.stderr
    assert f'{profiles}/flow.json.points[1].medium: must be one of "water", "gas", got "oil"' in r.stderr
    assert 'devices[0].profile: profile "flow" could not be loaded' in r.stderr
    assert 'devices[0].points[0].name: point name "it\'s" has \'\'\' at position 3' in r.stderr
    assert 'nbiot.devices[0].points[0].name: point name "a.b" has \'.\' at position 2' in r.stderr
    assert '(docs/profiles.md, "Point names")' in r.stderr
