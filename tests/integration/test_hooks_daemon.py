# SPDX-License-Identifier: Apache-2.0
"""plantroomd end to end: a lift's vibration opens a work order in the
ledger, the outbox event reaches the notifier, and the fake SMS command is
run once per group member with the work-order number in the text. Phone
numbers appear neither in the daemon's log nor in any MQTT payload. A
corrupt notify.db raises the gateway alarm storage.notify while monitoring
goes on.
"""
import json
import os
import signal
import urllib.request

from conftest import ctl, free_port, make_config, wait_for
from hooks_helpers import PHONES, FakeSms

TOPIC_WO = "test-site/events/workorder"


def test_vibration_work_order_reaches_the_phones(tmp_path, broker, sim, subscriber, daemon):
    sms = FakeSms(tmp_path)
    sub = subscriber("plantroom/#")

    def mutate(cfg):
        cfg["hooks"] = [{"name": "sms", "kind": "exec",
                         "argv": [str(sms.cmd), "TEXT", "{phone}", "-text", "{message}"]}]
        cfg["recipients"] = [{"name": n, "hook": "sms", "phone": PHONES[n]}
                             for n in ("alice", "bob")]
        cfg["groups"] = [{"name": "lifts", "members": ["alice", "bob"], "group_wait_ms": 500}]
        cfg["routes"] = [{"categories": ["mechanical"], "groups": ["lifts"]}]
        cfg["metrics"] = {"enabled": True, "address": "127.0.0.1", "port": mport}

    mport = free_port()
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    os.chmod(config, 0o644)  # readable by others: warned
    d = daemon(config)
    d.wait_log("readable by every user")
    sim.set("lift-1.vibration_machine", 5.2)
    ev = wait_for(lambda: sub.json_messages(TOPIC_WO), 15, "the work-order event")[0]
    number = ev["work_order"]["number"]
    wait_for(lambda: len(sms.messages()) == 2, 10, "one SMS per member")
    for n in ("alice", "bob"):
        (text,) = sms.to(PHONES[n])
        assert f"#{number}" in text and "HIGH" in text and "Tower A" in text
        assert "(lift-1)" in text
    d.wait_log("delivered to bob")
    d.wait_log("delivered to alice")
    log = d.log()
    payloads = "".join(p for _, p in sub.messages())
    for p in PHONES.values():
        assert p not in log and p not in payloads
    assert (tmp_path / "state" / "notify.db").exists()
    json.loads(sms.messages()[0]["stdin"])

    # SIGHUP with carol added: the next order reaches her too.
    cfg = json.loads(config.read_text())
    cfg["recipients"].append({"name": "carol", "hook": "sms", "phone": PHONES["carol"]})
    cfg["groups"][0]["members"].append("carol")
    config.write_text(json.dumps(cfg))
    d.proc.signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    sim.set("lift-2.vibration_machine", 5.5)
    wait_for(lambda: sms.to(PHONES["carol"]), 15, "carol told after the reload")
    (text,) = sms.to(PHONES["carol"])
    assert "(lift-2)" in text and f"#{number}" not in text
    # The three hooks run side by side: carol's may finish before alice's.
    wait_for(lambda: len(sms.to(PHONES["alice"])) == 2, 15, "alice told again after the reload")
    assert len(sms.to(PHONES["alice"])) == 2

    # The metrics count the deliveries (2 + 3 = 5 so far, none failed).
    def hook_metrics():
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
            text = r.read().decode()
        m = dict(l.rsplit(" ", 1) for l in text.splitlines() if l.startswith("plantroom_hook_"))
        return m if float(m.get('plantroom_hook_deliveries_total{hook="sms"}', 0)) >= 5 else None
    m = wait_for(hook_metrics, 10, "hook deliveries in the metrics")
    assert float(m['plantroom_hook_failures_total{hook="sms"}']) == 0


def test_corrupt_notify_db_raises_a_gateway_alarm_and_monitoring_goes_on(
        tmp_path, broker, sim, subscriber, daemon):
    """plantroomd with a notify.db of random bytes: it starts, polls and
    publishes; the file is kept aside; the gateway alarm storage.notify is in
    the status, the metrics and a work order of the gateway, which reaches
    the phone through a route for category "gateway"."""
    sms = FakeSms(tmp_path)
    sub = subscriber("plantroom/#")
    state = tmp_path / "state"
    state.mkdir()
    junk = os.urandom(32 * 1024)
    (state / "notify.db").write_bytes(junk)
    mport = free_port()

    def mutate(cfg):
        cfg["hooks"] = [{"name": "sms", "kind": "exec",
                         "argv": [str(sms.cmd), "TEXT", "{phone}", "-text", "{message}"]}]
        cfg["recipients"] = [{"name": "alice", "hook": "sms", "phone": PHONES["alice"]}]
        cfg["groups"] = [{"name": "admins", "members": ["alice"], "group_wait_ms": 200}]
        cfg["routes"] = [{"categories": ["gateway"], "groups": ["admins"]}]
        cfg["metrics"] = {"enabled": True, "address": "127.0.0.1", "port": mport}
        cfg["notify"] = {"retention_days": 10, "max_rows": 5000}

    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    d.wait_log("gateway alarm storage.notify")
    wait_for(lambda: sub.json_messages("devices/lift-1/telemetry"), 15, "telemetry published")
    moved = [p for p in state.iterdir() if p.name.startswith("notify.db.corrupt-")]
    assert len(moved) == 1 and moved[0].read_bytes() == junk
    st = json.loads(ctl(config, "status", "--json").stdout)
    assert st["health"] == "degraded"
    assert any(a["key"] == "storage.notify" and "corrupt" in a["detail"] for a in st["alarms"])
    assert st["notify"]["store"] == "ok" and st["notify"]["memory"]["max_rows"] == 5000
    assert "notify: notify.db ok; queue " in ctl(config, "status").stdout
    # the gateway's own work order reaches the phone through the routes
    wait_for(lambda: sms.to(PHONES["alice"]), 15, "the SMS about the gateway")
    assert "notify.db corrupt" in sms.to(PHONES["alice"])[0]

    def metrics():
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
            return r.read().decode()
    text = wait_for(lambda: (lambda t: t if "plantroom_notify_db_rows" in t else None)(metrics()),
                    10, "the notifier's metrics")
    assert 'plantroom_gateway_alarm{alarm="storage.notify"} 1' in text
    assert "plantroom_notify_store_ok 1" in text
    assert "plantroom_notify_queue_depth" in text
