# SPDX-License-Identifier: Apache-2.0
"""Crash safety: SIGKILL plantroomd at random moments during a burst of rule
triggers, restart it, many times.

Real mosquitto, plantroom-sim, plantroomd and SQLite. Twelve rules with no
for-duration watch four vibration points that a thread flips above and
below their limits every ~100 ms; between kills plantroomctl cancels some
active orders so that new ones open. After every kill the ledger is read:
no work order committed before may be missing, and no fingerprint may have
two active orders. At the end a last daemon drains the outbox, and a
subscriber with a persistent session must have seen every event the ledger
ever announced (one per audit row, whose event_id it keeps) at least once;
every work order it heard opened is in the ledger.
"""
import json
import random
import signal
import sqlite3
import threading
import time

from conftest import ctl, make_config, wait_for

TOPIC_WO = "test-site/events/workorder"
POINTS = [("lift-1", "vibration_machine"), ("lift-1", "vibration_car"),
          ("lift-2", "vibration_machine"), ("lift-2", "vibration_car")]
KILLS = 20
BUDGET_S = 45  # the kill loop stops early past this, whatever the count


def ro(path, sql):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rules(cfg):
    cfg["rules"] = []
    for dev, point in POINTS:
        for limit in (2.0, 3.0, 4.0):
            cfg["rules"].append({
                "name": f"{point}-above-{int(limit)}", "device": dev, "point": point,
                "kind": "threshold", "above": limit, "hysteresis": 0.2, "for_ms": 0,
                "priority": "high", "category": "mechanical",
                "title": f"{dev} {point} above {limit}"})
    for d in cfg["devices"]:
        d["interval_ms"] = 50


class Flipper(threading.Thread):
    """Moves every point above or below all limits, at random, every ~100 ms."""

    def __init__(self, sim):
        super().__init__(daemon=True)
        self.sim = sim
        self.stop = threading.Event()
        self.rng = random.Random(6)

    def run(self):
        while not self.stop.is_set():
            for dev, point in POINTS[1:]:
                self.sim.values[f"{dev}.{point}"] = self.rng.choice((0.5, 5.0))
            dev, point = POINTS[0]
            self.sim.set(f"{dev}.{point}", self.rng.choice((0.5, 5.0)))  # writes them all
            time.sleep(self.rng.uniform(0.05, 0.15))


def test_sigkill_during_trigger_burst(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber(f"plantroom/{TOPIC_WO}", client_id="crash-test-subscriber")
    config = make_config(tmp_path, broker["port"], sim.port, rules)
    rng = random.Random(42)
    flipper = Flipper(sim)
    flipper.start()

    seen_ids = set()
    kills = 0
    t0 = time.monotonic()
    try:
        while kills < KILLS and time.monotonic() - t0 < BUDGET_S:
            d = daemon(config, log_name=f"plantroomd-{kills}.log")
            time.sleep(rng.uniform(0.3, 2.0))
            d.proc.signal(signal.SIGKILL)
            d.proc.wait(10)
            kills += 1
            if not d.ledger_path().exists():
                continue
            ids = {r[0] for r in ro(d.ledger_path(), "SELECT id FROM work_orders")}
            lost = seen_ids - ids
            assert not lost, f"kill {kills}: committed work orders lost: {sorted(lost)}"
            seen_ids = ids
            dup = ro(d.ledger_path(),
                     "SELECT fingerprint, count(*) FROM work_orders WHERE status IN"
                     " ('open','acknowledged','in_progress') GROUP BY fingerprint"
                     " HAVING count(*) > 1")
            assert not dup, f"kill {kills}: two active orders for {dup}"
            # People cancel a few, so that the next triggers open new orders.
            active = [r[0] for r in ro(d.ledger_path(),
                                       "SELECT number FROM work_orders WHERE status = 'open'"
                                       " ORDER BY number LIMIT 3")]
            for n in active:
                ctl(config, "workorders", "cancel", str(n), "--by", "crash-test")
    finally:
        flipper.stop.set()
        flipper.join()
    assert kills >= 10, f"only {kills} kills in {BUDGET_S} s"

    # Quiet the building: every point below every limit. A settling run
    # waits until the simulator serves the low values (so that the last run
    # fires no rule and writes no new event), then stops cleanly.
    for dev, point in POINTS:
        sim.values[f"{dev}.{point}"] = 0.5
    sim.set(f"{POINTS[0][0]}.{POINTS[0][1]}", 0.5)
    tele = subscriber("plantroom/test-site/devices/+/telemetry")
    d = daemon(config, log_name="plantroomd-settle.log")

    def quiet():
        last = {}
        for m in tele.json_messages("/telemetry"):
            for dev, point in POINTS:
                v = m["points"].get(point, {}) if m["device"] == dev else {}
                if v.get("quality") == "good":
                    last[(dev, point)] = v["value"]
        return len(last) == len(POINTS) and all(v < 1.0 for v in last.values())

    wait_for(quiet, 30, "telemetry below every limit")
    assert d.proc.stop() == 0

    # A last run drains the outbox.
    d = daemon(config, log_name="plantroomd-final.log")
    d.wait_log("connected to", 30)  # up, with its signal handlers, and publishing
    ledger = d.ledger_path()
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM outbox")[0][0] == 0, 30,
             "the outbox to empty")
    expected = {eid for (eid,) in ro(ledger, "SELECT event_id FROM audit")}
    assert None not in expected

    def received():
        return {e["event_id"] for e in sub.json_messages(TOPIC_WO)}

    wait_for(lambda: expected <= received(), 20, "every announced event at the subscriber")
    assert d.proc.stop() == 0

    ids = {r[0] for r in ro(ledger, "SELECT id FROM work_orders")}
    assert seen_ids <= ids
    heard_opened = {e["work_order"]["id"] for e in sub.json_messages(TOPIC_WO)
                    if e["event"] == "opened"}
    assert heard_opened <= ids, "an order announced as opened is not in the ledger"
    assert len(ids) >= 12, f"the burst opened only {len(ids)} orders"
    numbers = [r[0] for r in ro(ledger, "SELECT number FROM work_orders")]
    assert len(numbers) == len(set(numbers))
    assert ro(ledger, "SELECT count(*) FROM outbox")[0][0] == 0
    print(f"{kills} kills, {len(ids)} work orders, {len(expected)} events, "
          f"{len(sub.json_messages(TOPIC_WO))} received")
