# SPDX-License-Identifier: Apache-2.0
"""Sender identity enforced by the broker: a real mosquitto with a password
file and the ACL shipped in deploy/mosquitto/ (pattern write
plantroom/+/commands/%u/#). mallory cannot publish under alice's name:
the broker drops it and plantroomd never sees it; under her own name she
is not an allowed sender, so plantroomd refuses, audits and answers her
(only her: she cannot read alice's answers). alice's allowed verb works
and is audited with her broker identity."""
import glob
import json
import os
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import ROOT, Proc, ctl, free_port, make_config, wait_for, _can_connect

BASE = "plantroom/test-site"
USERS = {"plantroomd": "gw-secret-1", "alice": "alice-secret-2", "mallory": "mallory-secret-3"}


def acl_broker(tmp_path, procs):
    """mosquitto with the shipped fragment and ACL, users from USERS."""
    passwd = tmp_path / "plantroom.passwd"
    for i, (user, pw) in enumerate(USERS.items()):
        args = ["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) + [str(passwd), user, pw]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
    acl = tmp_path / "plantroom.acl"
    acl.write_text(open(os.path.join(ROOT, "deploy", "mosquitto", "plantroom.acl")).read())
    fragment = open(os.path.join(ROOT, "deploy", "mosquitto", "plantroom.conf")).read()
    fragment = fragment.replace("/etc/mosquitto/plantroom.passwd", str(passwd))
    fragment = fragment.replace("/etc/mosquitto/plantroom.acl", str(acl))
    port = free_port()
    user = "user root\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nlog_type all\n{user}{fragment}")
    procs.append(Proc("mosquitto", ["mosquitto", "-c", str(conf)], tmp_path / "mosquitto.log"))
    wait_for(lambda: _can_connect(port), 10, "mosquitto to listen")
    return port


class User:
    """A broker user (MQTT 5) recording what it receives."""

    def __init__(self, port, name, subscribe=None):
        self.name = name
        self.lock = threading.Lock()
        self.msgs = []
        self.ready = threading.Event()
        self.c = mqtt.Client(client_id=f"{name}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(name, USERS[name])
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.ready.set()
        if subscribe:
            self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(subscribe, qos=1)
        else:
            self.c.on_connect = lambda c, u, f, rc, p=None: self.ready.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(10), f"{name} could not connect"

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, json.loads(m.payload)))

    def received(self, suffix=""):
        with self.lock:
            return [(t, p) for t, p in self.msgs if t.endswith(suffix)]

    def command(self, sender, verb, payload):
        self.c.publish(f"{BASE}/commands/{sender}/{verb}", json.dumps(payload),
                       qos=1).wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_the_broker_enforces_who_sends_commands(tmp_path, procs, sim, daemon):
    port = acl_broker(tmp_path, procs)
    (tmp_path / "gw.pw").write_text(USERS["plantroomd"] + "\n")

    def mutate(cfg):
        cfg["mqtt"]["username"] = "plantroomd"
        cfg["mqtt"]["password_file"] = str(tmp_path / "gw.pw")
        cfg["mqtt"]["commands"] = {"enabled": True, "senders": [
            {"name": "alice", "allow": ["ack", "start", "resolve"]}]}
    d = daemon(make_config(tmp_path, port, sim.port, mutate))
    d.wait_log(f"subscribed to {BASE}/commands/#")
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")

    alice = User(port, "alice", f"{BASE}/responses/#")
    mallory = User(port, "mallory", f"{BASE}/responses/#")
    try:
        # mallory under alice's name: the broker refuses it (plantroomd never sees it)
        mallory.command("alice", "ack", {"id": "m1", "work_order": 1})
        # under her own name: not an allowed sender, refused and answered to her
        mallory.command("mallory", "ack", {"id": "m2", "work_order": 1})
        answer = wait_for(lambda: mallory.received("responses/mallory/ack"), 10, "mallory's answer")
        assert answer[0][1]["id"] == "m2" and "not authorized" in answer[0][1]["error"]
        # alice's allowed verb works
        alice.command("alice", "ack", {"id": "a1", "work_order": 1, "comment": "on my way"})
        a = wait_for(lambda: alice.received("responses/alice/ack"), 10, "alice's answer")
        assert a[0][1]["id"] == "a1" and a[0][1]["ok"] is True, a
        assert a[0][1]["result"]["work_order"]["status"] == "acknowledged"

        # mallory's forged command was published (PUBACKed) before alice's,
        # whose answer is in: it never reached plantroomd
        assert "(id m1)" not in d.log()
        broker_log = (tmp_path / "mosquitto.log").read_text()
        assert any("Denied PUBLISH from mallory" in line and f"{BASE}/commands/alice/ack" in line
                   for line in broker_log.splitlines()), broker_log[-2000:]
        assert "command ack (id a1) from alice" in d.log()
        # mallory read none of alice's answers
        assert all(t.endswith("responses/mallory/ack") for t, _ in mallory.received())
        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        rows = con.execute("SELECT actor, channel, action, detail FROM audit ORDER BY id").fetchall()
        con.close()
        acked = [r for r in rows if r[2] == "acknowledged"]
        assert [(r[0], r[1]) for r in acked] == [("alice", "mqtt")]
        assert acked[0][3] == "on my way"
        refused = [(r[0], json.loads(r[3])["id"]) for r in rows if r[2] == "command_refused"]
        assert refused == [("mallory", "m2")]
        assert not any('"m1"' in (r[3] or "") for r in rows)
        assert ctl(d.config, "audit", "verify").returncode == 0
    finally:
        alice.close()
        mallory.close()



def dynsec_broker(tmp_path, procs):
    """mosquitto with its dynamic-security plugin, which (unlike an
    acl_file) checks subscriptions: user gw may subscribe to plantroom/#
    and onenet/#, nothing else (the plugin's default denies)."""
    found = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + \
        glob.glob("/usr/lib/mosquitto_dynamic_security.so")
    if not found:
        pytest.fail("mosquitto_dynamic_security.so missing (Debian package mosquitto)")
    plugin = found[0]
    ds = tmp_path / "dynsec.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(ds), "gw", "gw-secret"],
                   check=True, capture_output=True, timeout=30)
    conf = json.loads(ds.read_text())
    conf["roles"].append({"rolename": "gateway", "acls": [
        {"acltype": "publishClientSend", "topic": "plantroom/#", "allow": True},
        {"acltype": "subscribePattern", "topic": "plantroom/#", "allow": True},
        {"acltype": "subscribePattern", "topic": "onenet/#", "allow": True}]})
    conf["clients"][0]["roles"] = [{"rolename": "gateway"}]
    ds.write_text(json.dumps(conf))
    port = free_port()
    user = "user root\n" if os.geteuid() == 0 else ""
    mconf = tmp_path / "mosquitto.conf"
    mconf.write_text(f"listener {port} 127.0.0.1\nlog_type all\n{user}plugin {plugin}\n"
                     f"plugin_opt_config_file {ds}\n")
    procs.append(Proc("mosquitto", ["mosquitto", "-c", str(mconf)], tmp_path / "mosquitto.log"))
    wait_for(lambda: _can_connect(port), 10, "mosquitto to listen")
    return port


def test_a_subscription_the_broker_refuses_is_visible(tmp_path, procs, sim, daemon):
    """The broker refuses one of the NB-IoT topics (SUBACK 0x80): plantroomd
    says so, naming the topic, in its log and status, and keeps the
    subscription it was granted."""
    port = dynsec_broker(tmp_path, procs)
    (tmp_path / "gw.pw").write_text("gw-secret\n")

    def mutate(cfg):
        cfg["mqtt"]["username"] = "gw"
        cfg["mqtt"]["password_file"] = str(tmp_path / "gw.pw")
        cfg["nbiot"] = {"topics": ["elsewhere/up", "onenet/up"], "devices": [
            {"name": "temp-1", "format": "onenet", "id": "5551234", "report_period_s": 3600,
             "points": [{"name": "temperature", "unit": "degC", "path": "3303_0_5700"}]}]}
    d = daemon(make_config(tmp_path, port, sim.port, mutate))
    d.wait_log("subscription to elsewhere/up failed: refused by the broker")
    d.wait_log("subscribed to onenet/up")
    assert "subscribed to elsewhere/up" not in d.log()
    st = json.loads(ctl(d.config, "status", "--json").stdout)
    subs = {s["topic"]: s for s in st["mqtt"]["subscriptions"]}
    assert subs["onenet/up"]["state"] == "granted" and subs["onenet/up"]["qos"] == 1, subs
    assert subs["elsewhere/up"]["state"] == "refused", subs
    assert "refused by the broker" in subs["elsewhere/up"]["error"]
