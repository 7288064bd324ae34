# SPDX-License-Identifier: Apache-2.0
"""Commands over MQTT: the sender is the topic's <sender> level (the broker
user, commands/<sender>/<verb>), authorized by config, answered on
responses/<sender>/<verb> with the request's correlation id. The daemon
runs MQTT 5, so that a user property "from" can be tried too: like the
payload's "from", it must name the topic's sender. Every refusal is
answered, logged and audited (action "command_refused"), and never acted
on; the old topic commands/<verb> is refused with a clear error.

An authorized work-order command changes the order through the ledger
thread and is audited with its sender and channel "mqtt"; a setpoint is
written to the device through its bus thread and audited with the old and
new value.
"""
import json
import sqlite3
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import ctl, make_config, wait_for

BASE = "plantroom/test-site"


def config(tmp_path, broker, sim):
    def mutate(cfg):
        cfg["mqtt"]["version"] = "5"
        cfg["mqtt"]["commands"] = {"enabled": True, "senders": [
            {"name": "alice", "allow": ["ack", "assign", "start", "resolve"]},
            {"name": "ops", "allow": ["setpoint"]}]}
    return make_config(tmp_path, broker["port"], sim.port, mutate)


class Commander:
    """A client publishing commands; on an open broker it may use any name
    (the broker's ACL is what stops that: test_mqtt_acl.py)."""

    def __init__(self, port):
        self.c = mqtt.Client(client_id=f"cmd-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, sender, verb, payload, user_from=None, retain=False, topic=None):
        props = None
        if user_from:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("from", user_from)]
        if not isinstance(payload, (str, bytes)):
            payload = json.dumps(payload)
        self.c.publish(topic or f"{BASE}/commands/{sender}/{verb}", payload, qos=1, retain=retain,
                       properties=props).wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def answer(sub, sender, verb, cid, error=None):
    """The answer with id cid (None: an answer without an id whose error
    holds error)."""
    def find():
        for m in sub.json_messages(f"responses/{sender}/{verb}"):
            if m["id"] == cid and (error is None or error in m.get("error", "")):
                return m
        return None
    return wait_for(find, 10, f"the answer to {cid or error}")


def refusals(d):
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    rows = con.execute("SELECT actor, channel, detail FROM audit WHERE action = "
                       "'command_refused' ORDER BY id").fetchall()
    con.close()
    return [(a, c, json.loads(t)) for a, c, t in rows]


def test_commands_are_authorized_and_answered(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber(f"{BASE}/responses/#")
    c = Commander(broker["port"])
    # a command left retained on the broker is not executed when the daemon
    # subscribes (it would run again on every connect)
    c.send("alice", "ack", {"id": "c0", "work_order": 1}, retain=True)
    d = daemon(config(tmp_path, broker, sim))
    d.wait_log(f"subscribed to {BASE}/commands/#")
    try:
        d.wait_log("retained: a command left on the broker")
        # unknown sender, and a known sender outside its verbs: refused
        c.send("mallory", "ack", {"id": "c1", "work_order": 1})
        a = answer(sub, "mallory", "ack", "c1")
        assert a["ok"] is False and "not authorized" in a["error"] and "mallory" in a["error"]
        c.send("alice", "setpoint", {"id": "c2", "device": "lift-1", "point": "floor", "value": 3})
        a = answer(sub, "alice", "setpoint", "c2")
        assert a["ok"] is False and "not authorized" in a["error"]

        # malformed requests name the field
        c.send("alice", "assign", {"id": "c3", "work_order": 1})
        assert '"assignee"' in answer(sub, "alice", "assign", "c3")["error"]
        c.send("alice", "resolve", {"work_order": 1})
        answer(sub, "alice", "resolve", None, '"id"')
        c.send("alice", "ack", '{"id":"c3b","work_order":1} trailing')
        answer(sub, "alice", "ack", None, "trailing data")
        c.send("alice", "ack", '{"id":"c3c","work_order":' + "[" * 50 + "]" * 50 + "}")
        answer(sub, "alice", "ack", None, "nested deeper")
        c.send("alice", "ack", {"id": "c3d", "work_order": 1.5})
        assert "whole" in answer(sub, "alice", "ack", "c3d")["error"]
        c.send("alice", "reboot", {"id": "c4"})
        answer(sub, "alice", "reboot", None, "unknown command")
        c.send("ops", "setpoint", {"id": "c5", "device": "lift-9", "point": "x", "value": 1})
        assert 'no device named "lift-9"' in answer(sub, "ops", "setpoint", "c5")["error"]

        # the old topic, commands/<verb> with "from": refused, saying where to go
        c.send(None, None, {"id": "c5b", "from": "alice", "work_order": 1},
               topic=f"{BASE}/commands/ack")
        a = wait_for(lambda: sub.json_messages(f"{BASE}/responses/ack"), 10, "the old-topic answer")
        assert a[0]["ok"] is False and "commands/<sender>/<verb>" in a[0]["error"]

        # an authorized sender, but no such work order: the ledger says so
        c.send("alice", "ack", {"id": "c6", "work_order": 99})
        a = answer(sub, "alice", "ack", "c6")
        assert a["ok"] is False and "99" in a["error"], a
        # a setpoint to a read-only point: refused with the reason
        c.send("ops", "setpoint", {"id": "c6b", "device": "meter-main", "point": "voltage_l1",
                                   "value": 230})
        a = answer(sub, "ops", "setpoint", "c6b")
        assert a["ok"] is False and "read-only" in a["error"], a
        # "from" in the payload or as an MQTT 5 user property proves nothing:
        # naming anyone but the topic's sender is refused
        c.send("alice", "start", {"id": "c7", "work_order": 7}, user_from="mallory")
        assert "is not the sender" in answer(sub, "alice", "start", "c7")["error"]
        c.send("alice", "start", {"id": "c8", "from": "bob", "work_order": 7})
        assert "is not the sender" in answer(sub, "alice", "start", "c8")["error"]

        assert not [m for m in sub.json_messages("responses/alice/ack") if m["id"] == "c0"]

        # nothing changed in the ledger; every refusal is audited; the daemon keeps serving
        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        assert con.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 0
        con.close()
        rows = wait_for(lambda: len(refusals(d)) >= 13 and refusals(d), 10, "audited refusals")
        reasons = {r[2]["reason"] for r in rows}
        assert {"retained", "not_allowed", "bad_field", "bad_payload", "unknown_verb",
                "bad_topic", "refused"} <= reasons, reasons
        assert ("mallory", "mqtt") in {(r[0], r[1]) for r in rows}
        # the two setpoints refused by the write path are audited as writes
        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        writes = con.execute("SELECT actor, detail FROM audit WHERE action = 'write'").fetchall()
        con.close()
        assert [(a, json.loads(t)["result"]) for a, t in writes] == [("ops", "refused")] * 2
        assert d.proc.alive()
        assert ctl(d.config, "audit", "verify").returncode == 0
    finally:
        c.close()


def test_authorized_commands_change_the_work_order_and_are_audited(tmp_path, broker, sim,
                                                                  subscriber, daemon):
    sub = subscriber(f"{BASE}/#")
    d = daemon(config(tmp_path, broker, sim))
    d.wait_log(f"subscribed to {BASE}/commands/#")
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")
    c = Commander(broker["port"])
    try:
        c.send("alice", "ack", {"id": "a1", "work_order": 1, "comment": "seen"})
        a = answer(sub, "alice", "ack", "a1")
        assert a["ok"] is True, a
        assert a["result"]["work_order"]["status"] == "acknowledged"
        assert a["result"]["work_order"]["number"] == 1
        # a user property naming the same sender is fine
        c.send("alice", "assign", {"id": "a2", "work_order": "1", "assignee": "bob"},
               user_from="alice")
        assert answer(sub, "alice", "assign", "a2")["ok"] is True
        c.send("alice", "start", {"id": "a3", "work_order": 1})
        assert answer(sub, "alice", "start", "a3")["result"]["work_order"]["status"] == \
            "in_progress"
        # a transition the life cycle forbids: refused with the ledger's reason
        c.send("alice", "ack", {"id": "a4", "work_order": 1})
        a = answer(sub, "alice", "ack", "a4")
        assert a["ok"] is False and "not allowed" in a["error"], a
        c.send("alice", "resolve", {"id": "a5", "work_order": 1})
        assert answer(sub, "alice", "resolve", "a5")["result"]["work_order"]["status"] == \
            "resolved"
        # a setpoint: written to the pump drive through its bus, answered
        # when the device answered, audited with old and new value
        c.send("ops", "setpoint", {"id": "s1", "device": "pump-1", "point": "control_word",
                                   "value": 0x0476})
        a = answer(sub, "ops", "setpoint", "s1")
        assert a["ok"] is True, a
        assert "command setpoint (id s1) from ops: pump-1.control_word = 1142" in d.log()
        # the refused sender changes nothing
        c.send("mallory", "resolve", {"id": "a6", "work_order": 1})
        assert "not authorized" in answer(sub, "mallory", "resolve", "a6")["error"]

        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        rows = con.execute("SELECT actor, channel, to_status FROM audit WHERE actor = 'alice' "
                           "AND wo_id IS NOT NULL ORDER BY id").fetchall()
        status, assignee = con.execute(
            "SELECT status, assignee FROM work_orders").fetchone()
        writes = con.execute("SELECT actor, channel, detail FROM audit WHERE action = 'write'"
                             ).fetchall()
        con.close()
        assert (status, assignee) == ("resolved", "bob")
        seq = [r[2] for r in rows if r[2]]
        seq = [x for i, x in enumerate(seq) if i == 0 or seq[i - 1] != x]
        assert seq == ["acknowledged", "in_progress", "resolved"], rows
        assert all(r[0] == "alice" and r[1] == "mqtt" for r in rows) and len(rows) == 4
        assert len(writes) == 1 and writes[0][:2] == ("ops", "mqtt")
        det = json.loads(writes[0][2])
        assert det["result"] == "done" and det["new"] == 1142 and det["ref"] == "s1"
        assert "old" in det and det["signed"] is False
        # the refusals are audited too, with their sender
        rows = wait_for(lambda: len(refusals(d)) >= 2 and refusals(d), 10, "audited refusals")
        assert {r[0] for r in rows} == {"alice", "mallory"}
        # and the changes went out as work-order events
        wait_for(lambda: len(sub.json_messages("events/workorder")) >= 5, 10, "the events")
    finally:
        c.close()
    # the chain's head is published (retained) on every connect and daily:
    # after a restart it names the rows above, and the chain still holds it
    assert d.proc.stop() == 0
    d = daemon(d.config, "plantroomd-2.log")
    head = wait_for(lambda: [h for h in sub.json_messages("audit/head") if h["id"] > 0], 15,
                    "the audit head")[-1]
    assert head["rows"] >= 7 and len(head["hash"]) == 64 and head["site"] == "test-site"
    r = ctl(d.config, "audit", "verify", "--head", f"{head['id']}:{head['hash']}")
    assert r.returncode == 0 and "audit chain intact" in r.stdout, r.stdout + r.stderr


def test_commands_off_by_default(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber(f"{BASE}/responses/#")
    every = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], sim.port))
    # connected to the broker (not only its bus: "connected to" is both),
    # and subscribed to nothing: the status lists no subscription
    def connected():
        r = ctl(d.config, "status", "--json", check=False)  # (the socket may not be up yet)
        return r.returncode == 0 and json.loads(r.stdout)["mqtt"]["connected"] and \
            json.loads(r.stdout)
    st = wait_for(connected, 15, "the MQTT connection")
    assert st["mqtt"]["subscriptions"] == []
    c = Commander(broker["port"])
    try:
        c.send("alice", "ack", {"id": "x", "work_order": 1})
        # barrier: the broker routed the command (a listener got it), then
        # the daemon's loop published five more polls of lift-1 (an answer
        # would be there by now)
        wait_for(lambda: every.messages("commands/alice/ack"), 10, "the command on the broker")
        n = len(every.messages("devices/lift-1/telemetry"))
        wait_for(lambda: len(every.messages("devices/lift-1/telemetry")) >= n + 5, 20,
                 "five more lift-1 telemetry messages")
        assert not sub.messages() and "subscribed to" not in d.log()
    finally:
        c.close()
