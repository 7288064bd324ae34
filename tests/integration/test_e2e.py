# SPDX-License-Identifier: Apache-2.0
"""End to end: the simulator's lift vibrates, plantroomd raises one work order.

Real mosquitto, real plantroom-sim over Modbus TCP, real plantroomd, real
SQLite ledger, an independent MQTT subscriber, and plantroomctl.
"""
import json
import signal
import sqlite3

from conftest import _can_connect, ctl, make_config, start_broker, wait_for

TOPIC_WO = "test-site/events/workorder"


def ledger_rows(path, sql, args=()):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def lift1_telemetry(sub):
    return [m for m in sub.json_messages("devices/lift-1/telemetry")]


def gw_status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def lift1_polls(config):
    return next(x for x in gw_status(config)["devices"] if x["name"] == "lift-1")["polls"]


def test_vibration_raises_one_work_order(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)

    # Healthy telemetry flows first: vibration near the simulator's 1.2 mm/s.
    t = wait_for(lambda: [m for m in lift1_telemetry(sub)
                          if m["points"]["vibration_machine"]["quality"] == "good"],
                 15, "good lift-1 telemetry")
    vib = t[-1]["points"]["vibration_machine"]
    assert 1.0 < vib["value"] < 1.4 and vib["unit"] == "mm/s"
    assert not sub.messages(TOPIC_WO)

    # Raise the machine vibration past 4.5 mm/s: one work order opens.
    sim.set("lift-1.vibration_machine", 5.2)
    ev = wait_for(lambda: sub.json_messages(TOPIC_WO), 15, "a work-order event")[0]
    assert ev["event"] == "opened"
    wo = ev["work_order"]
    assert wo["device"] == "lift-1" and wo["rule"] == "vibration-high"
    assert wo["status"] == "open" and wo["priority"] == "high"
    assert wo["evidence"]["value"] > 4.5
    assert wo["evidence"]["held_s"] >= 1.0

    rows = ledger_rows(d.ledger_path(),
                       "SELECT id, status, device, rule FROM work_orders")
    assert rows == [(wo["id"], "open", "lift-1", "vibration-high")]

    # The condition keeps holding for many more polls: still one order.
    # Barrier: ten more polls of lift-1 judged, the ledger's queue empty
    # (a second order would be written by now) and the outbox empty (its
    # event published and acknowledged by the broker).
    p = lift1_polls(config)
    wait_for(lambda: lift1_polls(config) >= p + 10, 20, "ten more polls of lift-1")
    wait_for(lambda: gw_status(config)["storage"]["ledger"]["queue_depth"] == 0, 10,
             "the ledger's queue to empty")
    wait_for(lambda: ledger_rows(d.ledger_path(), "SELECT count(*) FROM outbox")[0][0] == 0,
             5, "the outbox to empty")
    assert len(ledger_rows(d.ledger_path(), "SELECT id FROM work_orders")) == 1
    assert [e["event"] for e in sub.json_messages(TOPIC_WO)] == ["opened"]

    # plantroomctl shows it, as a table and as JSON.
    table = ctl(config, "workorders", "list").stdout
    assert "lift-1" in table and "vibration-high" in table and "open" in table
    listed = json.loads(ctl(config, "workorders", "list", "--json").stdout)
    assert len(listed) == 1
    for key in ("id", "status", "priority", "device", "rule", "title", "opened_at"):
        assert key in listed[0], key
    assert listed[0]["id"] == wo["id"]

    # Back to normal: the condition clears; the order stays for people to close.
    sim.set("lift-1.vibration_machine", 1.0)
    wait_for(lambda: len(sub.json_messages(TOPIC_WO)) >= 2, 15, "a cleared event")
    assert sub.json_messages(TOPIC_WO)[1]["event"] == "cleared"

    # It comes back while the order is still open: same order, two occurrences.
    sim.set("lift-1.vibration_machine", 6.0)
    wait_for(lambda: len(sub.json_messages(TOPIC_WO)) >= 3, 15, "a retriggered event")
    third = sub.json_messages(TOPIC_WO)[2]
    assert third["event"] == "retriggered"
    assert third["work_order"]["occurrences"] == 2
    assert len(ledger_rows(d.ledger_path(), "SELECT id FROM work_orders")) == 1

    # lift-2 stayed healthy: no order for it.
    assert not ledger_rows(d.ledger_path(),
                           "SELECT id FROM work_orders WHERE device = 'lift-2'")

    # Clean stop: exit 0, commits done, gateway says offline (retained).
    d.proc.signal(signal.SIGTERM)
    assert d.proc.wait(15) == 0
    log = d.log()
    assert "pending writes committed" in log
    status = [json.loads(p) for (t, p) in sub.messages("test-site/status")]
    assert status and status[-1]["status"] == "offline"


def test_event_waits_in_outbox_until_broker_returns(tmp_path, broker, sim, subscriber, daemon,
                                                   procs):
    """A work order opened while the broker is down is published once it is back."""
    port = broker["port"]
    # A persistent session: the broker keeps what arrives while the subscriber
    # itself is reconnecting.
    sub = subscriber("plantroom/#", client_id="outbox-test-sub")
    broker["proc"].stop()
    config = make_config(tmp_path, port, sim.port)
    sim.set("lift-1.vibration_machine", 5.5)
    d = daemon(config)
    d.wait_log("work order #1 opened")
    assert "mqtt: connect failed" in d.log()
    assert ledger_rows(d.ledger_path(), "SELECT count(*) FROM outbox")[0][0] == 1

    # The broker comes back on the same port; the daemon reconnects by itself.
    procs.append(start_broker(tmp_path, broker["conf"], "mosquitto2.log"))
    wait_for(lambda: _can_connect(port), 10, "the broker to come back")
    ev = wait_for(lambda: sub.json_messages(TOPIC_WO), 20, "the buffered event")
    assert len(ev) == 1
    assert ev[0]["event"] == "opened" and ev[0]["work_order"]["number"] == 1
    wait_for(lambda: ledger_rows(d.ledger_path(), "SELECT count(*) FROM outbox")[0][0] == 0,
             10, "the outbox to empty")
