"""Commands over MQTT: parsed, authorized by config, answered on the
response topic with the request's correlation id. The daemon runs MQTT 5 so
that the sender's identity may also come as a user property.

An authorized work-order command changes the order through the ledger
thread and is audited with its sender and channel "mqtt"; a setpoint is
written to the device through its bus thread.
"""
import json
import sqlite3
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import make_config, wait_for

BASE = "plantroom/test-site"


def config(tmp_path, broker, sim):
    def mutate(cfg):
        cfg["mqtt"]["version"] = "5"
        cfg["mqtt"]["commands"] = {"enabled": True, "senders": [
            {"name": "alice", "allow": ["ack", "assign", "start", "resolve"]},
            {"name": "ops", "allow": ["setpoint"]}]}
    return make_config(tmp_path, broker["port"], sim.port, mutate)


class Commander:
    def __init__(self, port):
        self.c = mqtt.Client(client_id=f"cmd-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, verb, payload, user_from=None, retain=False):
        props = None
        if user_from:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("from", user_from)]
        if not isinstance(payload, (str, bytes)):
            payload = json.dumps(payload)
        self.c.publish(f"{BASE}/commands/{verb}", payload, qos=1, retain=retain,
                       properties=props).wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def answer(sub, verb, cid):
    def find():
        for m in sub.json_messages(f"responses/{verb}"):
            if m["id"] == cid:
                return m
        return None
    return wait_for(find, 10, f"the answer to {cid}")


def test_commands_are_authorized_and_answered(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber(f"{BASE}/responses/#")
    c = Commander(broker["port"])
    # a command left retained on the broker is not executed when the daemon
    # subscribes (it would run again on every connect)
    c.send("ack", {"id": "c0", "from": "alice", "work_order": 1}, retain=True)
    d = daemon(config(tmp_path, broker, sim))
    d.wait_log(f"subscribed to {BASE}/commands/+")
    try:
        d.wait_log("it is retained")
        # unknown sender, and a known sender outside its verbs: refused
        c.send("ack", {"id": "c1", "from": "mallory", "work_order": 1})
        a = answer(sub, "ack", "c1")
        assert a["ok"] is False and "not authorized" in a["error"] and "mallory" in a["error"]
        c.send("setpoint", {"id": "c2", "from": "alice", "device": "lift-1",
                            "point": "floor", "value": 3})
        a = answer(sub, "setpoint", "c2")
        assert a["ok"] is False and "not authorized" in a["error"]

        # malformed requests name the field
        c.send("assign", {"id": "c3", "from": "alice", "work_order": 1})
        assert '"assignee"' in answer(sub, "assign", "c3")["error"]
        c.send("resolve", {"from": "alice", "work_order": 1})
        assert '"id"' in answer(sub, "resolve", None)["error"]
        c.send("ack", "not json")
        c.send("reboot", {"id": "c4", "from": "alice"})
        assert "unknown command" in answer(sub, "reboot", None)["error"]
        c.send("setpoint", {"id": "c5", "from": "ops", "device": "lift-9", "point": "x",
                            "value": 1})
        assert 'no device named "lift-9"' in answer(sub, "setpoint", "c5")["error"]

        # an authorized sender, but no such work order: the ledger says so
        c.send("ack", {"id": "c6", "from": "alice", "work_order": 99})
        a = answer(sub, "ack", "c6")
        assert a["ok"] is False and "99" in a["error"], a
        # a setpoint to a read-only point: refused with the reason
        c.send("setpoint", {"id": "c6b", "from": "ops", "device": "meter-main",
                            "point": "voltage_l1", "value": 230})
        a = answer(sub, "setpoint", "c6b")
        assert a["ok"] is False and "read-only" in a["error"], a
        # a contradicting MQTT 5 user property is refused
        c.send("start", {"id": "c7", "from": "alice", "work_order": 7}, user_from="mallory")
        assert "differs" in answer(sub, "start", "c7")["error"]

        assert not [m for m in sub.json_messages("responses/ack") if m["id"] == "c0"]

        # nothing changed in the ledger; the daemon keeps serving
        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        assert con.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 0
        con.close()
        assert d.proc.alive()
        assert d.log().count("refused") >= 7
    finally:
        c.close()


def test_authorized_commands_change_the_work_order_and_are_audited(tmp_path, broker, sim,
                                                                  subscriber, daemon):
    sub = subscriber(f"{BASE}/#")
    d = daemon(config(tmp_path, broker, sim))
    d.wait_log(f"subscribed to {BASE}/commands/+")
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")
    c = Commander(broker["port"])
    try:
        c.send("ack", {"id": "a1", "from": "alice", "work_order": 1, "comment": "seen"})
        a = answer(sub, "ack", "a1")
        assert a["ok"] is True, a
        assert a["result"]["work_order"]["status"] == "acknowledged"
        assert a["result"]["work_order"]["number"] == 1
        # identity as an MQTT 5 user property
        c.send("assign", {"id": "a2", "work_order": "1", "assignee": "bob"}, user_from="alice")
        assert answer(sub, "assign", "a2")["ok"] is True
        c.send("start", {"id": "a3", "from": "alice", "work_order": 1})
        assert answer(sub, "start", "a3")["result"]["work_order"]["status"] == "in_progress"
        # a transition the life cycle forbids: refused with the ledger's reason
        c.send("ack", {"id": "a4", "from": "alice", "work_order": 1})
        a = answer(sub, "ack", "a4")
        assert a["ok"] is False and "not allowed" in a["error"], a
        c.send("resolve", {"id": "a5", "from": "alice", "work_order": 1})
        assert answer(sub, "resolve", "a5")["result"]["work_order"]["status"] == "resolved"
        # a setpoint: written to the pump drive through its bus, answered
        # when the device answered
        c.send("setpoint", {"id": "s1", "from": "ops", "device": "pump-1",
                            "point": "control_word", "value": 0x0476})
        a = answer(sub, "setpoint", "s1")
        assert a["ok"] is True, a
        assert "command setpoint (id s1) from ops: pump-1.control_word = 1142" in d.log()
        # the refused sender changes nothing
        c.send("resolve", {"id": "a6", "from": "mallory", "work_order": 1})
        assert "not authorized" in answer(sub, "resolve", "a6")["error"]

        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        rows = con.execute("SELECT actor, channel, to_status FROM audit WHERE actor = 'alice' "
                           "ORDER BY id").fetchall()
        status, assignee = con.execute(
            "SELECT status, assignee FROM work_orders").fetchone()
        assert not con.execute("SELECT count(*) FROM audit WHERE actor = 'mallory'").fetchone()[0]
        con.close()
        assert (status, assignee) == ("resolved", "bob")
        seq = [r[2] for r in rows if r[2]]
        seq = [x for i, x in enumerate(seq) if i == 0 or seq[i - 1] != x]
        assert seq == ["acknowledged", "in_progress", "resolved"], rows
        assert all(r[0] == "alice" and r[1] == "mqtt" for r in rows) and len(rows) == 4
        # and the changes went out as work-order events
        wait_for(lambda: len(sub.json_messages("events/workorder")) >= 5, 10, "the events")
    finally:
        c.close()


def test_commands_off_by_default(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber(f"{BASE}/responses/#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port))
    d.wait_log("connected to")
    c = Commander(broker["port"])
    try:
        c.send("ack", {"id": "x", "from": "alice", "work_order": 1})
        time.sleep(1)
        assert not sub.messages() and "subscribed to" not in d.log()
    finally:
        c.close()
