# SPDX-License-Identifier: Apache-2.0
"""Signed commands, for brokers that cannot tie a topic to a user: a sender
with an HMAC key (mqtt.commands.senders[].hmac_key_file) must sign
topic + "\\n" + request with HMAC-SHA256, the request carrying its time and
a nonce. A valid signed command works; a forged one (another key, the
text changed, a signature moved to another verb's topic), a replay of a
good one, one outside the replay window and an unsigned one are refused,
answered and audited, and change nothing."""
import hashlib
import hmac
import json
import sqlite3
import subprocess
import time
import uuid

import paho.mqtt.client as mqtt

from conftest import binary, ctl, make_config, wait_for

BASE = "plantroom/test-site"
KEY = b"k3y-of-alice-0123456789abcdef"


def signed(sender, verb, req, key=KEY, topic_verb=None):
    """The signed payload of req for sender's verb topic (topic_verb: sign
    for another verb's topic, as a forger moving a signature would)."""
    topic = f"{BASE}/commands/{sender}/{topic_verb or verb}"
    msg = json.dumps(req, separators=(",", ":"))
    mac = hmac.new(key, topic.encode() + b"\n" + msg.encode(), hashlib.sha256).hexdigest()
    return json.dumps({"msg": msg, "hmac": mac})


def fresh(**fields):
    return dict(fields, ts=int(time.time() * 1000), nonce=uuid.uuid4().hex)


def refusals(d):
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    rows = con.execute("SELECT actor, detail FROM audit WHERE action = 'command_refused' "
                       "ORDER BY id").fetchall()
    con.close()
    return [(a, json.loads(t)) for a, t in rows]


def test_signed_commands_forgeries_and_replays(tmp_path, broker, sim, subscriber, daemon):
    (tmp_path / "alice.key").write_text(KEY.decode() + "\n")

    def mutate(cfg):
        cfg["mqtt"]["commands"] = {"enabled": True, "replay_window_s": 60, "senders": [
            {"name": "alice", "allow": ["ack", "start", "resolve"],
             "hmac_key_file": str(tmp_path / "alice.key")}]}
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    sub = subscriber(f"{BASE}/responses/#")
    d = daemon(config)
    d.wait_log(f"subscribed to {BASE}/commands/#")
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")
    c = mqtt.Client(client_id=f"forger-{time.monotonic_ns()}")
    c.connect("127.0.0.1", broker["port"])
    c.loop_start()

    def send(verb, payload):
        c.publish(f"{BASE}/commands/alice/{verb}", payload, qos=1).wait_for_publish()

    def answer(verb, cid):
        def find():
            return next((m for m in sub.json_messages(f"responses/alice/{verb}")
                         if m["id"] == cid), None)
        return wait_for(find, 10, f"the answer to {cid}")

    try:
        good = signed("alice", "ack", fresh(id="g1", work_order=1))
        send("ack", good)
        a = answer("ack", "g1")
        assert a["ok"] is True and a["result"]["work_order"]["status"] == "acknowledged", a
        assert "command ack (id g1) from alice (signed)" in d.log()

        send("ack", good)  # the very same message again
        wait_for(lambda: len(sub.json_messages("responses/alice/ack")) >= 2, 10, "the 2nd answer")
        assert sub.json_messages("responses/alice/ack")[1]["ok"] is False
        assert "a replay" in sub.json_messages("responses/alice/ack")[1]["error"]

        send("start", signed("alice", "start", fresh(id="f1", work_order=1), key=b"x" * 32))
        assert "signature does not match" in answer("start", "f1")["error"]
        tampered = json.loads(signed("alice", "start", fresh(id="f2", work_order=1)))
        tampered["msg"] = tampered["msg"].replace('"work_order":1', '"work_order":2')
        send("start", json.dumps(tampered))
        assert "signature does not match" in answer("start", "f2")["error"]
        # a signature for ack's topic, sent to resolve
        send("resolve", signed("alice", "resolve", fresh(id="f3", work_order=1), topic_verb="ack"))
        assert "signature does not match" in answer("resolve", "f3")["error"]
        # outside the replay window, and unsigned
        old = fresh(id="f4", work_order=1)
        old["ts"] -= 3600 * 1000
        send("start", signed("alice", "start", old))
        assert "outside the replay window" in answer("start", "f4")["error"]
        send("start", json.dumps({"id": "f5", "work_order": 1}))
        assert "must sign" in answer("start", "f5")["error"]

        # a fresh signed command still works, the refused ones changed nothing
        send("start", signed("alice", "start", fresh(id="g2", work_order=1)))
        assert answer("start", "g2")["result"]["work_order"]["status"] == "in_progress"
        rows = wait_for(lambda: len(refusals(d)) >= 6 and refusals(d), 10, "audited refusals")
        assert [r[1]["reason"] for r in rows] == ["replayed", "bad_signature", "bad_signature",
                                                 "bad_signature", "stale", "unsigned"]
        assert all(r[0] == "alice" for r in rows)
        con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
        assert con.execute("SELECT status FROM work_orders").fetchone()[0] == "in_progress"
        assert con.execute("SELECT count(*) FROM audit WHERE actor = 'alice' AND wo_id IS NOT "
                           "NULL").fetchone()[0] == 2
        con.close()
        assert ctl(config, "audit", "verify").returncode == 0
        assert KEY.decode() not in d.log()  # the key is never logged
    finally:
        c.loop_stop()
        c.disconnect()


def test_key_files_are_checked_at_load(tmp_path):
    (tmp_path / "short.key").write_text("tooshort\n")

    def mutate(cfg):
        cfg["mqtt"]["commands"] = {"enabled": True, "replay_window_s": 5, "senders": [
            {"name": "alice", "allow": ["ack"], "hmac_key_file": str(tmp_path / "none.key")},
            {"name": "bob", "allow": ["ack"], "hmac_key_file": str(tmp_path / "short.key")},
            {"name": "eve/x", "allow": ["ack"]}]}
    config = make_config(tmp_path, 1883, 1502, mutate)
    r = subprocess.run([binary("plantroomd"), "--check-config", str(config)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    for msg in ("mqtt.commands.senders[0].hmac_key_file: cannot read",
                "mqtt.commands.senders[1].hmac_key_file: ", "must be 16..128 bytes",
                "mqtt.commands.senders[2].name: must be a broker user name",
                "mqtt.commands.replay_window_s: must be at least 10"):
        assert msg in r.stderr, (msg, r.stderr)
    assert "tooshort" not in r.stderr
