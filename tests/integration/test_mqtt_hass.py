# SPDX-License-Identifier: Apache-2.0
"""Home Assistant discovery, checked against Home Assistant's own rules.

Real mosquitto, plant simulator and plantroomd with NB-IoT meters. Every
retained config is checked with ha_rules.py (tables copied from Home
Assistant core); every value template is rendered with jinja2 (Debian's
python3-jinja2, a sandbox with StrictUndefined as strict as Home Assistant's
own) against the real telemetry, late NB-IoT reports and telemetry replayed
after a broker outage; and Home Assistant's way of taking a state (an empty
render is ignored) is replayed over the messages in the order they arrived,
to show that a total_increasing sensor never goes back.
"""
import json
import os
import re
import threading
import time

import paho.mqtt.client as mqtt
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

import ha_rules
from conftest import ROOT, _can_connect, ctl, make_config, start_broker, wait_for
from test_mqtt_nbiot import DEV, T0, Platform, ctwing

ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
GAS = "5551234"


def render(template, payload):
    """Render a value_template the way Home Assistant's MQTT entities do."""
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    return ENV.from_string(template).render(value=payload, value_json=value_json)


class Recorder:
    """Persistent-session subscriber to everything, in arrival order."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.msgs = []
        self.ready = threading.Event()
        self.c = mqtt.Client(client_id=f"ha-{time.monotonic_ns()}", clean_session=False)
        self.c.reconnect_delay_set(min_delay=1, max_delay=1)
        self.c.on_message = self._on
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_connect = lambda c, u, f, rc: c.subscribe("#", qos=1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(10)

    def _on(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((msg.topic, msg.payload.decode()))

    def all(self):
        with self.lock:
            return list(self.msgs)

    def configs(self):
        return {t: json.loads(p) for (t, p) in self.all() if t.startswith("homeassistant/") and p}

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def ha_config(tmp_path, broker, sim):
    def mutate(cfg):
        cfg["mqtt"]["homeassistant"] = {"enabled": True}
        cfg["mqtt"]["telemetry"] = {"on_change": False}
        cfg["mqtt"]["buffer"] = {"flush_ms": 200}
        cfg["mqtt"]["commands"] = {"enabled": True, "senders": [
            {"name": "homeassistant", "allow": ["setpoint"]}]}
        # pump-2: its speed reference takes a list of values, and an on/off point
        pump2 = next(dv for dv in cfg["devices"] if dv["name"] == "pump-2")
        pump2["points"] = [{"name": "speed_reference", "write": {"values": [0, 25, 50, 100]}},
                           {"name": "run", "address": 0, "type": "bool", "write": True}]
        sd = "/payload/serviceData/"
        cfg["nbiot"] = {"topics": ["nbiot/ctwing/#"], "devices": [
            {"name": "water-1", "format": "ctwing", "id": DEV, "report_period_s": 3600,
             "points": [
                 {"name": "volume", "unit": "m3", "medium": "water",
                  "pointer": sd + "cumulatedVolume_m3"},
                 {"name": "leak", "type": "bool", "device_class": "moisture",
                  "pointer": sd + "leakSuspected"}]},
            {"name": "gas-1", "format": "ctwing", "id": GAS, "report_period_s": 3600,
             "points": [
                 {"name": "volume", "unit": "m3", "medium": "gas", "pointer": sd + "v"},
                 {"name": "flow", "unit": "m3/h", "pointer": sd + "f"},
                 {"name": "heat_wh", "unit": "Wh", "pointer": sd + "wh"},
                 {"name": "heat_mwh", "unit": "MWh", "pointer": sd + "mwh"},
                 {"name": "reactive", "unit": "kvarh", "pointer": sd + "kvarh"}]}]}
    return make_config(tmp_path, broker["port"], sim.port, mutate)


def profile_points(cfg):
    out = []
    for dv in cfg["devices"]:
        with open(os.path.join(cfg["profiles_dir"], dv["profile"] + ".json")) as f:
            out += [(dv["name"], dv["profile"], p) for p in json.load(f)["points"]]
    return out


def entity_rows(configs, cfg):
    """The table of docs/mqtt.md: one row per bundled profile point."""
    by_uid = {c["unique_id"]: (t.split("/")[1], c) for t, c in configs.items()}
    rows, seen = [], set()
    for dev, prof, p in profile_points(cfg):
        if (prof, p["name"]) in seen:
            continue
        seen.add((prof, p["name"]))
        kind, c = by_uid[f"plantroom_test-site_{dev}_{p['name']}"]
        cells = [prof, p["name"], kind, c.get("device_class", ""),
                 c.get("unit_of_measurement", ""), c.get("state_class", ""),
                 str(c.get("suggested_display_precision", ""))]
        rows.append("| " + " | ".join(f"`{x}`" if x else "" for x in cells) + " |")
    return rows


def docs_rows():
    text = open(os.path.join(ROOT, "docs", "mqtt.md"), encoding="utf-8").read()
    block = text.split("<!-- ha-entities -->")[1].split("<!-- /ha-entities -->")[0]
    return [ln.strip() for ln in block.splitlines() if ln.startswith("| `")]


def accepted_states(msgs, topic, template):
    """Home Assistant's state over time: each message rendered in arrival
    order; an empty render leaves the state as it was."""
    out = []
    for t, p in msgs:
        if t == topic:
            v = render(template, p)
            if v.strip():
                out.append(v)
    return out


def test_discovery_follows_home_assistant_rules(tmp_path, broker, sim, daemon, procs):
    rec = Recorder(broker["port"])
    platform = None
    try:
        d = daemon(ha_config(tmp_path, broker, sim))
        cfg = json.loads(d.config.read_text())
        d.wait_log("Home Assistant discovery: ")
        n = int(re.search(r"Home Assistant discovery: (\d+) entities", d.log()).group(1))
        assert n == len(profile_points(cfg)) + 2 + 5 + 1
        configs = wait_for(lambda: len(rec.configs()) == n + 1 and rec.configs(), 15,
                           f"{n} entity configs and the gateway's")

        # every config against Home Assistant's rules; via_device resolves
        ids = {i for c in configs.values() for i in c["device"]["identifiers"]}
        problems = [e for t, c in configs.items() for e in ha_rules.check_config(t, c, ids)]
        assert problems == []
        gw = configs["homeassistant/binary_sensor/plantroom_test-site/gateway/config"]
        assert gw["device"]["identifiers"] == ["plantroom_test-site"]
        assert gw["device_class"] == "connectivity" and "via_device" not in gw["device"]
        assert {c["device"].get("via_device") for c in configs.values() if c is not gw} == {
            "plantroom_test-site"}
        by = {c["unique_id"].removeprefix("plantroom_test-site_"): (t.split("/")[1], c)
              for t, c in configs.items()}

        # each on/off point is a binary_sensor with a device class (or none)
        bools = [f"{dv}_{p['name']}" for dv, _, p in profile_points(cfg) if p.get("type") == "bool"]
        assert len(bools) == 42
        assert {by[b][0] for b in bools} == {"binary_sensor"}
        assert by["fire-panel_zone_3_fire"][1]["device_class"] == "smoke"
        assert by["pump-2_tripped"][1]["device_class"] == "problem"
        assert by["water-1_leak"][1]["device_class"] == "moisture"

        def ent(key):
            c = by[key][1]
            return (by[key][0], c.get("device_class"), c.get("unit_of_measurement"),
                    c.get("state_class"), c.get("suggested_display_precision"))
        assert ent("lift-1_door_cycles") == ("sensor", None, None, "total_increasing", 0)
        assert ent("lift-1_trips") == ("sensor", None, None, "total_increasing", 0)
        assert ent("lift-1_run_hours") == ("sensor", "duration", "h", "total_increasing", 0)
        assert ent("lift-1_motor_temperature") == ("sensor", "temperature", "°C", "measurement",
                                                   1)
        assert ent("meter-main_voltage_l1") == ("sensor", "voltage", "V", "measurement", 1)
        assert ent("meter-main_import_energy") == ("sensor", "energy", "kWh", "total_increasing",
                                                   2)
        assert ent("water-1_volume")[1:3] == ("water", "m³")
        assert ent("gas-1_volume")[1:4] == ("gas", "m³", "total_increasing")
        assert ent("gas-1_flow")[1:4] == ("volume_flow_rate", "m³/h", "measurement")
        assert ent("gas-1_heat_wh")[1:3] == ("energy", "Wh")
        assert ent("gas-1_heat_mwh")[1:3] == ("energy", "MWh")
        assert ent("gas-1_reactive")[1:4] == ("reactive_energy", "kvarh", "total_increasing")
        meter = by["meter-main_voltage_l1"][1]["device"]
        assert (meter["manufacturer"], meter["model"]) == ("Eastron", "SDM630")
        lift = by["lift-1_floor"][1]["device"]
        assert "manufacturer" not in lift and lift["model"] == "elevator"
        assert lift["suggested_area"] == "Lift machine room"
        assert by["lift-1_floor"][1]["origin"]["name"] == "plantroom"
        # the table in docs/mqtt.md is what the gateway announces (HA_TABLE=file
        # writes the table as announced, to refresh the docs)
        rows = entity_rows(configs, cfg)
        if os.environ.get("HA_TABLE"):
            with open(os.environ["HA_TABLE"], "w", encoding="utf-8") as f:
                f.write("\n".join(rows) + "\n")
        assert rows == docs_rows()

        # templates against real telemetry: each renders its point's value
        live = {}
        for dev in cfg["devices"]:
            topic = f"plantroom/test-site/devices/{dev['name']}/telemetry"
            live[dev["name"]] = wait_for(
                lambda: [p for t, p in rec.all() if t == topic and all(
                    v["quality"] == "good" for v in json.loads(p)["points"].values())
                    and not json.loads(p).get("replayed")],
                15, f"good telemetry of {dev['name']}")[-1]
        # the broker has granted both subscriptions (SUBACK), so nothing sent is lost
        d.wait_log("subscribed to nbiot/ctwing/#")
        d.wait_log("subscribed to plantroom/test-site/commands/#")
        platform = Platform(broker["port"])
        platform.send("nbiot/ctwing/up", ctwing(T0 + 60000, volume=1250.5, leak=True))
        gas = ctwing(T0 + 60000, deviceId=GAS, IMEI="1")
        gas["payload"]["serviceData"] = {"v": 87.125, "f": 1.5, "wh": 1234, "mwh": 0.75,
                                         "kvarh": 12.5}
        platform.send("nbiot/ctwing/up", gas)
        for nb in ("water-1", "gas-1"):
            topic = f"plantroom/test-site/devices/{nb}/telemetry"
            live[nb] = wait_for(lambda: [p for t, p in rec.all() if t == topic], 10,
                                f"{nb} telemetry")[-1]
        for key, (kind, c) in by.items():
            if key == "gateway":
                continue
            dev = key.split("_")[0]
            point = json.loads(live[dev])["points"][key[len(dev) + 1:]]["value"]
            want = ("ON" if point else "OFF") if kind in ("binary_sensor", "switch") else str(point)
            assert render(c["value_template"], live[dev]) == want, key
        assert render(gw["value_template"], [p for t, p in rec.all()
                                             if t == "plantroom/test-site/status"][-1]) == "ON"

        # writable points: number, select and switch; their commands, rendered as
        # Home Assistant renders them and sent as its broker user, write the device
        topic = "plantroom/test-site/commands/homeassistant/setpoint"
        num, sel, sw = (by["pump-1_speed_reference"], by["pump-2_speed_reference"],
                        by["pump-2_run"])
        assert (num[0], num[1]["min"], num[1]["max"], num[1]["command_topic"]) == (
            "number", 0, 100, topic)
        assert (sel[0], sel[1]["options"]) == ("select", ["0", "25", "50", "100"])
        assert sw[0] == "switch" and by["pump-1_control_word"][0] == "number"
        assert by["pump-1_control_word"][1]["max"] == 0x4FF
        ha = mqtt.Client(client_id="homeassistant")
        ha.connect("127.0.0.1", broker["port"])
        ha.loop_start()
        try:
            for payload, dev, point, want in [
                    (ENV.from_string(num[1]["command_template"]).render(value=42.5),
                     "pump-1", "speed_reference", 42.5),
                    (ENV.from_string(sel[1]["command_template"]).render(value="50"),
                     "pump-2", "speed_reference", 50),
                    (sw[1]["payload_on"], "pump-2", "run", 1)]:
                ha.publish(topic, payload, qos=1).wait_for_publish()
                ttopic = f"plantroom/test-site/devices/{dev}/telemetry"
                last = wait_for(lambda: [p for t, p in rec.all() if t == ttopic and json.loads(
                    p)["points"][point]["value"] == want], 15, f"{dev} {point} = {want}")[-1]
                kind, c = by[f"{dev}_{point}"]
                assert render(c["value_template"], last) == ("ON" if kind == "switch"
                                                            else str(want))
            answers = wait_for(lambda: len(r := [
                json.loads(p) for t, p in rec.all()
                if t == "plantroom/test-site/responses/homeassistant/setpoint"]) == 3 and r,
                10, "three answers")
            assert all(a["ok"] for a in answers), answers
        finally:
            ha.loop_stop()
            ha.disconnect()

        # a late report carrying only the volume: rendered as nothing (no
        # UndefinedError for the leak), so the total never goes back
        late = ctwing(T0, volume=1200)
        late["payload"]["serviceData"] = {"cumulatedVolume_m3": 1200}
        platform.send("nbiot/ctwing/up", late)
        wtopic = "plantroom/test-site/devices/water-1/telemetry"
        lm = wait_for(lambda: [p for t, p in rec.all() if t == wtopic and '"late":true' in p],
                      10, "the late report")[-1]
        assert list(json.loads(lm)["points"]) == ["volume"]
        assert render(by["water-1_leak"][1]["value_template"], lm) == ""
        assert render(by["water-1_volume"][1]["value_template"], lm) == ""
        assert [v for v in accepted_states(rec.all(), wtopic,
                                           by["water-1_volume"][1]["value_template"])
                if v != "None"] == ["1250.5"]

        # an outage: telemetry buffered, replayed flagged after the broker is back;
        # door_cycles (total_increasing) is a, then b during the outage, then c
        dtopic = "plantroom/test-site/devices/lift-1/telemetry"

        def cycles():
            return [json.loads(p)["points"]["door_cycles"]["value"]
                    for t, p in rec.all() if t == dtopic]
        a = max(v for v in cycles() if v is not None) + 1000
        b, c = a + 1000, a + 2000
        sim.set("lift-1.door_cycles", a)
        wait_for(lambda: a in cycles(), 10, "door_cycles a")
        broker["proc"].stop()
        sim.set("lift-1.door_cycles", b)
        spool = tmp_path / "state" / "spool.db"
        wait_for(lambda: _spool_rows(spool) >= 10, 15, "buffered telemetry")
        # barrier: the daemon has read b (its telemetry is buffered in the
        # same turn); ten spooled rows alone may all be other devices'
        wait_for(lambda: _point_value(d.config, "lift-1", "door_cycles") == b, 15,
                 "lift-1's door_cycles b read")
        sim.set("lift-1.door_cycles", c)
        procs.append(start_broker(tmp_path, broker["conf"], "mosquitto2.log"))
        wait_for(lambda: _can_connect(broker["port"]), 10, "the broker to come back")
        wait_for(lambda: "replay done" in d.log(), 20, "the replay")
        # after the replay, each device's next reading goes out live whatever
        # changed, so Home Assistant learns c without waiting for a change
        wait_for(lambda: any(json.loads(p)["points"]["door_cycles"]["value"] == c
                             and not json.loads(p).get("replayed")
                             for t, p in rec.all() if t == dtopic), 15, "door_cycles c, live")
        replayed = [p for t, p in rec.all() if t == dtopic and json.loads(p).get("replayed")]
        assert any(json.loads(p)["points"]["door_cycles"]["value"] == b for p in replayed)
        tpl = by["lift-1_door_cycles"][1]["value_template"]
        assert {render(tpl, p) for p in replayed} == {""}
        # Home Assistant's state: a, then c; the replayed b never shows
        states = [float(v) for v in accepted_states(rec.all(), dtopic, tpl) if v != "None"]
        assert a in states and c in states and b not in states
        assert states == sorted(states)
    finally:
        if platform:
            platform.close()
        rec.close()


def _point_value(config, device, point):
    st = json.loads(ctl(config, "status", "--json").stdout)
    dev = next(x for x in st["devices"] if x["name"] == device)
    return next((p.get("value") for p in dev["points"] if p["name"] == point), None)


def _spool_rows(path):
    import sqlite3
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM msgs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_discovery_off_by_default(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port))
    wait_for(lambda: sub.messages("devices/lift-1/telemetry"), 15, "telemetry")
    assert not [t for t, p in sub.messages() if t.startswith("homeassistant/")]
    assert "Home Assistant" not in d.log()
