# SPDX-License-Identifier: Apache-2.0
"""An outbox row is deleted only when every consumer has it
(docs/architecture.md, "Durability order"): while notify.db cannot be
written (another process holds its write lock), MQTT publishes the event
and acknowledges it, but the row stays, acknowledged by MQTT only. The
notifier tries to deliver from memory (the SMS gateway fails here, so
nothing has gone out yet). After a SIGKILL and a restart with notify.db
writable again, the SMS still goes out to every member, and only then does
the row go. MQTT does not publish it again.
"""
import signal
import sqlite3

from conftest import make_config, wait_for
from hooks_helpers import PHONES, FakeSms
from storage_helpers import TOPIC_WO, ro, status


def test_sms_after_notify_db_could_not_store(tmp_path, broker, sim, subscriber, daemon):
    sms = FakeSms(tmp_path)
    sub = subscriber("plantroom/#")

    def mutate(cfg):
        cfg["hooks"] = [{"name": "sms", "kind": "exec",
                         "argv": [str(sms.cmd), "TEXT", "{phone}", "-text", "{message}"]}]
        cfg["recipients"] = [{"name": n, "hook": "sms", "phone": PHONES[n]}
                             for n in ("alice", "bob")]
        cfg["groups"] = [{"name": "lifts", "members": ["alice", "bob"], "group_wait_ms": 300}]
        cfg["routes"] = [{"categories": ["mechanical"], "groups": ["lifts"]}]
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    wait_for(lambda: sub.json_messages("devices/lift-1/telemetry"), 15, "telemetry")
    notify_db = tmp_path / "state" / "notify.db"
    ledger = d.ledger_path()

    # notify.db cannot be written: another process holds its write lock;
    # and the SMS gateway fails for now, so nothing is delivered before the kill
    sms.fail_next(1000)
    lock = sqlite3.connect(str(notify_db), timeout=5, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        sim.set("lift-1.vibration_machine", 5.2)
        ev = wait_for(lambda: sub.json_messages(TOPIC_WO), 15, "the work-order event")[0]
        wo = ev["work_order"]["id"]
        # MQTT has it (PUBACK), the notifier not: the row stays
        wait_for(lambda: ro(ledger, "SELECT acked FROM outbox WHERE key = ?", (wo,)) == [(1,)],
                 15, "the row acknowledged by MQTT only")
        # the notifier took the event into memory and tried to deliver it, to
        # each member: both hooks have ended (one still running at the kill
        # would outlive the daemon and send once fail_next(0) below allows it)
        wait_for(lambda: sms.failures() >= 2, 20, "a delivery attempt from memory to each")
        assert sms.messages() == []
        assert ro(ledger, "SELECT acked FROM outbox WHERE key = ?", (wo,)) == [(1,)]
        d.proc.p.send_signal(signal.SIGKILL)
        d.proc.wait(10)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    sms.fail_next(0)

    d = daemon(config, log_name="plantroomd-2.log")
    wait_for(lambda: len(sms.messages()) == 2, 60, "the SMS to both members after the restart")
    for n in ("alice", "bob"):
        (text,) = sms.to(PHONES[n])
        assert f"#{ev['work_order']['number']}" in text
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM outbox WHERE key = ?", (wo,)) == [(0,)],
             15, "the row gone once both consumers have it")
    assert [e["event_id"] for e in sub.json_messages(TOPIC_WO)] == [ev["event_id"]]
    assert d.proc.stop() == 0


def test_outbox_purged_by_age_without_mqtt(tmp_path, broker, sim, daemon):
    """With mqtt.enabled false nobody acknowledges for MQTT: rows older than
    ledger.outbox_retention_days are purged (daily, and at start), and
    counted."""
    def mutate(cfg):
        cfg["mqtt"]["enabled"] = False
        cfg["ledger"]["outbox_retention_days"] = 2
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    d.wait_log("plantroomd running")
    ledger = d.ledger_path()
    sim.set("lift-1.vibration_machine", 5.2)
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM outbox WHERE acked = 2")[0][0] >= 1, 15,
             "an event the notifier has and MQTT never will")
    sim.set("lift-1.vibration_machine", 1.0)
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM outbox WHERE acked = 2")[0][0] >= 2, 15,
             "its cleared event too")
    assert d.proc.stop() == 0
    n = ro(ledger, "SELECT count(*) FROM outbox")[0][0]
    db = sqlite3.connect(str(ledger))
    db.execute("UPDATE outbox SET created_at = created_at - 3 * 86400000")
    db.commit()
    db.close()
    d = daemon(config, log_name="plantroomd-2.log")
    d.wait_log("outbox events older than 2 days purged")
    st = status(config)
    assert st["storage"]["ledger"]["outbox_purged"] == n
    assert ro(ledger, "SELECT count(*) FROM outbox")[0][0] == 0
    assert d.proc.stop() == 0
