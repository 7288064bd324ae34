# SPDX-License-Identifier: Apache-2.0
"""Hooks deliver: the fake SMS command gets `TEXT <phone> -text <message>`
with the alert JSON on stdin and in $PLANTROOM_ALERT; a storm folds into one
message per group member; a hook failing three times is delivered once;
a webhook POSTs JSON with bearer auth, or form fields with basic auth; a
provisional event and its committed copy make one SMS.
"""
import base64
import json
import os
import sqlite3

from conftest import wait_for
from hooks_helpers import (PHONES, Drive, FakeSms, Receiver, base_config, wo_event,
                           write_config)


def notifications(tmp_path):
    con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
    try:
        return con.execute("SELECT recipient, state, attempts FROM notifications"
                           " ORDER BY id").fetchall()
    finally:
        con.close()


def test_one_alert_one_sms_per_member(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms)
    env = dict(os.environ, PLANTROOM_MQTT_PASSWORD="hunter2")
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg), env=env)
    d.send({"event": wo_event(12, priority="high", device="lift-1",
                              title="电梯1 机房振动超过 4.5 mm/s")})
    wait_for(lambda: len(sms.messages()) == 2, 10, "two SMS")
    for name in ("alice", "bob"):
        texts = sms.to(PHONES[name])
        assert len(texts) == 1, name
        t = texts[0]
        assert "#12" in t and "HIGH" in t and "Tower A" in t and "电梯1" in t
    m = sms.messages()[0]
    assert m["argv"][0] == "TEXT" and m["argv"][2] == "-text"
    alert = json.loads(m["stdin"])
    assert alert == json.loads(m["env"])
    assert alert["alerts"][0]["number"] == 12 and alert["group"] == "oncall"
    assert "+86" not in m["stdin"]  # no phone numbers in the alert JSON
    assert m["mqtt_password"] is None  # the daemon's secrets stay with it
    # Phone numbers never reach the log; recipients are named.
    wait_for(lambda: "delivered to bob" in d.log() and "delivered to alice" in d.log(), 5,
             "deliveries logged")
    log = d.log()
    for p in PHONES.values():
        assert p not in log
    # Each delivery is recorded once; notify.db is written behind, so wait
    # for the records rather than read them at once.
    wait_for(lambda: [r[1] for r in notifications(tmp_path)] == ["sent", "sent"], 10,
             "both messages recorded sent")


def test_storm_of_100_alerts_folds_into_one_message_per_member(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=2500)
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send(*[{"event": wo_event(100 + i, device=f"lift-{1 + i % 4}")} for i in range(100)])
    wait_for(lambda: len(sms.messages()) >= 2, 15, "the grouped SMS")
    # Nothing more follows: one message per member of the one group.
    wait_for(lambda: "group oncall: 100 alerts" in d.log(), 5,
             "the group flushed once")
    d.settle()
    assert len(sms.messages()) == 2
    text = sms.to(PHONES["alice"])[0]
    assert text.startswith("[Tower] 100 alerts #100 #101")
    # 3 segments of GSM-7 at most: 3 x 153 characters.
    assert len(text) <= 3 * 153 and text.endswith("...")


def test_fails_three_times_then_delivered_exactly_once(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms)
    cfg["groups"][0]["members"] = ["alice"]
    sms.fail_next(3)
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send({"event": wo_event(7, priority="critical")})
    wait_for(lambda: sms.messages(), 15, "the SMS after three failures")
    d.settle()
    assert sms.failures() == 3
    assert len(sms.messages()) == 1
    wait_for(lambda: notifications(tmp_path) == [("alice", "sent", 4)], 10,
             "the message recorded sent after 4 attempts")
    assert d.log().count("retry in") == 3


def test_webhook_json_bearer_and_form_basic(tmp_path, procs):
    sms = FakeSms(tmp_path)
    rx = Receiver()
    try:
        (tmp_path / "token").write_text("s3cret-token\n")
        (tmp_path / "password").write_text("pw\n")
        cfg = base_config(tmp_path, sms)
        cfg["hooks"] += [
            {"name": "web", "kind": "webhook", "url": rx.url("/json"), "auth": "bearer",
             "secret_file": "token", "headers": {"X-Site": "{site}"}, "backoff_ms": 100},
            {"name": "twilio", "kind": "webhook", "url": rx.url("/form"), "format": "form",
             "auth": "basic", "username": "AC123", "secret_file": "password",
             "fields": {"To": "{phone}", "From": "+15550000", "Body": "{message}"},
             "max_segments": 1, "backoff_ms": 100},
        ]
        cfg["recipients"] += [{"name": "dash", "hook": "web", "phone": "+8613900000009"},
                              {"name": "dave", "hook": "twilio", "phone": "+8613900000004"}]
        cfg["groups"][0]["members"] = ["dash", "dave"]
        rx.statuses = [500]  # the first request fails: retried
        d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
        d.send({"event": wo_event(31, priority="high", title="Pump P2 dry run")})
        wait_for(lambda: len([r for r in rx.got() if r["status"] == 200]) == 2, 10,
                 "two successful webhook calls")
        ok = {r["path"]: r for r in rx.got() if r["status"] == 200}
        j = ok["/json"]
        assert j["headers"]["Authorization"] == "Bearer s3cret-token"
        assert j["headers"]["X-Site"] == "test-site"
        body = json.loads(j["body"])
        assert body["to"] == "+8613900000009" and "#31" in body["message"]
        assert body["alerts"][0]["title"] == "Pump P2 dry run"
        f = ok["/form"]
        assert f["headers"]["Authorization"] == "Basic " + base64.b64encode(b"AC123:pw").decode()
        from urllib.parse import parse_qs
        form = parse_qs(f["body"])
        assert form["To"] == ["+8613900000004"] and form["From"] == ["+15550000"]
        assert "#31" in form["Body"][0] and len(form["Body"][0]) <= 160
        log = d.log()
        assert "s3cret-token" not in log and "+86139" not in log
    finally:
        rx.close()


def test_world_readable_config_draws_a_warning(tmp_path, procs):
    sms = FakeSms(tmp_path)
    path = write_config(tmp_path, base_config(tmp_path, sms))
    os.chmod(path, 0o644)
    d = Drive(tmp_path, procs, path)
    wait_for(lambda: "readable by every user" in d.log(), 5, "the warning")


def test_webhook_over_tls_verifies_the_server(tmp_path, procs):
    sms = FakeSms(tmp_path)
    rx = Receiver(tls_dir=tmp_path)
    try:
        cfg = base_config(tmp_path, sms)
        cfg["hooks"] += [
            {"name": "trusted", "kind": "webhook", "url": rx.url("/ok"), "ca_file": str(rx.cert),
             "max_attempts": 1},
            {"name": "untrusted", "kind": "webhook", "url": rx.url("/bad"), "max_attempts": 1},
        ]
        cfg["recipients"] += [{"name": "t", "hook": "trusted", "phone": "+1"},
                              {"name": "u", "hook": "untrusted", "phone": "+2"}]
        cfg["groups"][0]["members"] = ["t", "u"]
        d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
        d.send({"event": wo_event(33, priority="high")})
        wait_for(lambda: "to u via untrusted" in d.log() and "delivered to t" in d.log(), 10,
                 "both outcomes")
        assert [r["path"] for r in rx.got()] == ["/ok"]
        assert "giving up after 1 attempts" in d.log()
        assert "127.0.0.1:" not in d.log().split("to u via untrusted")[1].split("\n")[0]
        wait_for(lambda: [r[1] for r in notifications(tmp_path)] == ["sent", "failed"], 10,
                 "the outcomes recorded (written behind)")
    finally:
        rx.close()


def test_provisional_event_and_its_committed_copy_make_one_sms(tmp_path, procs):
    """While the ledger cannot commit, it hands the notifier a provisional
    event ("durable": false, no outbox row); the committed copy that follows
    carries the same event_id and is not announced again, only answered."""
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    ev = wo_event(61, priority="critical", category="fire", title="Fire zone 3 alarm")
    d.send({"event": dict(ev, durable=False)})
    wait_for(lambda: sms.messages(), 5, "the SMS of the provisional event")
    d.send({"event": ev, "outbox_id": 61})
    wait_for(lambda: d.stored() == [61], 5, "the committed copy answered")
    d.settle()
    assert len(sms.messages()) == 1 and "#61" in sms.to(PHONES["alice"])[0]
    assert d.status()["notify"]["memory"]["seen"] == 1
