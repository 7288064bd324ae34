# SPDX-License-Identifier: Apache-2.0
"""SIGKILL at random moments during a disk-full episode, 20 times
(docs/operations.md, "When storage fails").

The ledger is full (SQLite's max_page_count at the file's size, through
the test-only pages file) while a fire zone and a lift's vibration flip;
now and then the limit is lifted for a moment so that some of what waits is
committed, then the file is full again. plantroomd is killed at a random
moment of each run and started again. After every kill: PRAGMA
integrity_check is ok and nothing committed before is missing (work
orders, audit rows with their event ids). At the end the limit is lifted
and the last run commits what waits.
"""
import random
import signal
import threading
import time

from conftest import make_config, wait_for
from storage_helpers import FIRE_RULE, ZONE_FIRE, ZONE_QUIET, alarm, ro, status

KILLS = 20
BUDGET_S = 60  # the kill loop stops early past this, whatever the count


class Flipper(threading.Thread):
    """Flips the fire zone and lift-1's vibration every ~150 ms."""

    def __init__(self, sim):
        super().__init__(daemon=True)
        self.sim = sim
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            self.sim.values["lift-1.vibration_machine"] = 5.5 if i % 4 < 2 else 1.0
            self.sim.set("fire-panel.zone_3", ZONE_FIRE if i % 2 else ZONE_QUIET)
            self.stop.wait(random.uniform(0.1, 0.2))


def snapshot(ledger):
    return (set(r[0] for r in ro(ledger, "SELECT id FROM work_orders")),
            set(r[0] for r in ro(ledger, "SELECT event_id FROM audit")))


def test_sigkill_during_disk_full(tmp_path, broker, sim, daemon, monkeypatch):
    pages = tmp_path / "pages"
    pages.write_text("0")
    monkeypatch.setenv("PLANTROOM_TEST_LEDGER_PAGES_FILE", str(pages))

    def mutate(cfg):
        cfg["rules"].append(dict(FIRE_RULE))
        for r in cfg["rules"]:
            if r["point"] == "vibration_machine" and r.get("kind") == "threshold":
                r["for_ms"] = 0
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    d.wait_log("plantroomd running")
    ledger = d.ledger_path()
    flipper = Flipper(sim)
    flipper.start()
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM audit")[0][0] >= 4, 15, "some changes")
    orders, audit = snapshot(ledger)
    pages.write_text("1")  # full from now on
    rng = random.Random()
    kills = 0
    t0 = time.monotonic()
    try:
        while kills < KILLS and time.monotonic() - t0 < BUDGET_S:
            # a moment of space now and then: some of what waits commits
            pages.write_text("0" if kills % 5 == 4 else "1")
            time.sleep(rng.uniform(0.2, 1.5))
            d.proc.p.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            kills += 1
            assert ro(ledger, "PRAGMA integrity_check") == [("ok",)]
            now_orders, now_audit = snapshot(ledger)
            assert orders <= now_orders, "a committed work order is gone"
            assert audit <= now_audit, "a committed audit row is gone"
            orders, audit = now_orders, now_audit
            d = daemon(config, log_name=f"plantroomd-{kills}.log")
            d.wait_log("plantroomd running")
    finally:
        flipper.stop.set()
        flipper.join()
    assert kills >= 10, f"only {kills} kills in {BUDGET_S} s"

    pages.write_text("0")
    wait_for(lambda: not alarm(status(config), "storage.ledger")
             and status(config)["storage"]["ledger"]["queue_depth"] == 0, 30,
             "what waited committed")
    assert d.proc.stop() == 0
    assert ro(ledger, "PRAGMA integrity_check") == [("ok",)]
    final_orders, final_audit = snapshot(ledger)
    assert orders <= final_orders and audit <= final_audit
    assert None not in final_audit
    print(f"\n{kills} kills during a disk-full episode: {len(final_orders)} work orders, "
          f"{len(final_audit)} audit rows, integrity ok after each")
