"""Home Assistant discovery: retained sensor configs that point into the
telemetry JSON, announced on connect when enabled (and not otherwise)."""
import json
import os
import re

from conftest import make_config, wait_for


def configs(sub):
    return {t: json.loads(p) for (t, p) in sub.messages() if t.startswith("homeassistant/")}


def test_discovery_announces_every_point(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("#")

    def mutate(cfg):
        cfg["mqtt"]["homeassistant"] = {"enabled": True}
    d = daemon(make_config(tmp_path, broker["port"], sim.port, mutate))
    d.wait_log("Home Assistant discovery: ")
    n = int(re.search(r"Home Assistant discovery: (\d+) sensors", d.log()).group(1))
    cfg = json.loads(d.config.read_text())
    assert n >= 32 and n == sum(len(json.load(open(os.path.join(
        cfg["profiles_dir"], dv["profile"] + ".json")))["points"]) for dv in cfg["devices"])
    topic = "homeassistant/sensor/plantroom_test-site/lift-1_motor_temperature/config"
    c = wait_for(lambda: configs(sub).get(topic), 10, "lift-1's motor temperature config")
    wait_for(lambda: len(configs(sub)) == n, 10, f"{n} configs")
    assert c["state_topic"] == "plantroom/test-site/devices/lift-1/telemetry"
    assert c["unit_of_measurement"] == "°C" and c["device_class"] == "temperature"
    assert c["unique_id"] == "plantroom_test-site_lift-1_motor_temperature"
    assert c["device"]["identifiers"] == ["plantroom_test-site_lift-1"]
    assert [a["topic"] for a in c["availability"]] == [
        "plantroom/test-site/status", "plantroom/test-site/devices/lift-1/status"]
    # the template reads the value out of a real telemetry message
    point = re.fullmatch(r"\{\{ value_json\.points\['(.+)'\]\.value \}\}",
                         c["value_template"]).group(1)
    t = wait_for(lambda: [m for m in sub.json_messages("devices/lift-1/telemetry")
                          if m["points"][point]["quality"] == "good"], 10, "telemetry")[-1]
    assert 30 < t["points"][point]["value"] < 60
    # retained: a Home Assistant that starts later still sees them
    late = subscriber("homeassistant/#")
    wait_for(lambda: len(late.messages()) == n, 10, "retained configs for a late subscriber")


def test_discovery_off_by_default(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port))
    wait_for(lambda: sub.messages("devices/lift-1/telemetry"), 15, "telemetry")
    assert not configs(sub) and "Home Assistant" not in d.log()
