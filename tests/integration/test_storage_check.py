# SPDX-License-Identifier: Apache-2.0
"""The ledger's check (docs/architecture.md, "Damaged files"): PRAGMA
quick_check never runs in the daemon's start; it runs on a thread of its own
after an unclean stop (the open marker ledger.db.open left behind) and when
a batch meets a damaged page, while polling, rules, the ledger's commits and
MQTT go on. Observed through the status's storage.ledger figures
(checks_started, checks_done, check_result, checking) and the marker files
(the spool has its own, spool.db.open).
"""
import signal
import sqlite3
import time

import json

from conftest import ctl, make_config, wait_for
from storage_helpers import alarm, ro

TOPIC_WO = "events/workorder"


def status(config):
    """The status answer, or {} while the daemon does not answer yet."""
    r = ctl(config, "status", "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def fig(config):
    return status(config).get("storage", {}).get("ledger", {})


def polls(config, device="lift-1"):
    return next(d for d in status(config)["devices"] if d["name"] == device)["polls"]



def fast_vibration(cfg):
    for r in cfg["rules"]:
        if r["point"] == "vibration_machine" and r.get("kind", "threshold") == "threshold":
            r["for_ms"] = 0


def opened(sub, device):
    return [e for e in sub.json_messages(TOPIC_WO)
            if e["event"] == "opened" and e["work_order"]["device"] == device]


def kill(d):
    d.proc.p.send_signal(signal.SIGKILL)
    d.proc.wait(10)


def test_clean_stop_is_not_checked_an_unclean_one_is(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    marker = tmp_path / "state" / "ledger.db.open"
    d = daemon(config)
    d.wait_log("plantroomd running")
    assert marker.exists()  # open: written at start
    assert fig(config)["checks_started"] == 0  # a new file: nothing to check
    assert d.proc.stop() == 0
    assert not marker.exists()  # a clean stop removes it
    assert not (tmp_path / "state" / "spool.db.open").exists()  # the spool's, too

    # (1) after a clean stop: opened, not checked, for as long as it runs
    d = daemon(config, "plantroomd-2.log")
    d.wait_log("plantroomd running")
    n = polls(config)
    wait_for(lambda: polls(config) >= n + 10, 15, "10 more polls")
    f = fig(config)
    assert f["checks_started"] == 0 and f["check_result"] == "" and f["checking"] is False
    assert "quick_check" not in d.log()

    # (2) SIGKILL: the marker stays, and the next start checks the file
    kill(d)
    assert marker.exists() and (tmp_path / "state" / "spool.db.open").exists()
    d = daemon(config, "plantroomd-3.log")
    f = wait_for(lambda: (lambda f: f.get("checks_done", 0) >= 1 and f)(fig(config)), 15,
                 "the check after the kill")
    assert f["checks_started"] == 1 and f["check_result"] == "ok" and f["checking"] is False
    d.wait_log("ledger.db checked: sound")
    assert d.proc.stop() == 0
    assert not marker.exists()  # checked and closed cleanly


def test_monitoring_goes_on_while_a_large_ledger_is_checked(tmp_path, broker, sim, subscriber,
                                                             daemon, monkeypatch):
    """(3) A ledger of 300,000 minute rollups after SIGKILL. The check is
    held running by the test-only hold file (a barrier): while it runs,
    telemetry and a threshold rule's committed work order reach MQTT. A stop
    interrupts it and leaves the marker; the next start checks again, let
    go, and it ends sound."""
    hold = tmp_path / "hold-check"
    monkeypatch.setenv("PLANTROOM_TEST_LEDGER_CHECK_HOLD", str(hold))
    config = make_config(tmp_path, broker["port"], sim.port, fast_vibration)
    d = daemon(config)
    d.wait_log("plantroomd running")
    kill(d)
    t0 = (int(time.time()) // 3600 - 1) * 3600000  # within the retention
    db = sqlite3.connect(str(d.ledger_path()))
    db.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
               " WHERE i < 299999) INSERT INTO rollup_1m"
               " SELECT 'dev-' || (i / 100 % 200), 'p' || (i % 100),"
               " ?1 + (i / 20000) * 60000, 'C', 1, 2, 30, 20,"
               " ?1 + (i / 20000) * 60000 + 59000 FROM n", (t0,))
    db.commit()
    db.close()
    hold.write_text("")
    sub = subscriber("plantroom/#")
    d = daemon(config, "plantroomd-2.log")
    wait_for(lambda: fig(config).get("checking"), 15, "the check running")
    wait_for(lambda: sub.json_messages("devices/lift-1/telemetry"), 15, "telemetry")
    sim.set("lift-1.vibration_machine", 5.5)
    ev = wait_for(lambda: opened(sub, "lift-1"), 15, "lift-1's work order event")[0]
    assert ev.get("durable") is not False  # committed: the ledger works meanwhile
    f = fig(config)
    assert f["checking"] is True and f["checks_done"] == 0 and f["state"] == "ok"
    # a stop interrupts the check (within Proc.stop's 10 s, not after it)
    assert d.proc.stop() == 0
    assert "quick_check interrupted" in (tmp_path / "plantroomd-2.log").read_text()
    assert (tmp_path / "state" / "ledger.db.open").exists()
    # so the next start checks again; let go, it ends sound
    hold.unlink()
    d = daemon(config, "plantroomd-3.log")
    f = wait_for(lambda: (lambda f: f.get("checks_done", 0) >= 1 and f)(fig(config)), 30,
                 "the check's end")
    assert f["checks_started"] == 1 and f["check_result"] == "ok" and f["quarantined"] == 0
    assert alarm(status(config), "storage.ledger") is None
    assert ro(d.ledger_path(), "SELECT count(*) FROM rollup_1m")[0][0] >= 300000
    assert d.proc.stop() == 0
    assert not (tmp_path / "state" / "ledger.db.open").exists()


def damage_pages(path, table):
    """Random bytes over the root page of table and of its indexes (each a
    single page in a small ledger), as a failing card would return them."""
    db = sqlite3.connect(str(path))
    size = db.execute("PRAGMA page_size").fetchone()[0]
    roots = [r[0] for r in db.execute(
        "SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND rootpage > 0", (table,))]
    db.close()
    with open(path, "r+b") as f:
        for root in roots:
            f.seek((root - 1) * size)
            f.write(bytes((i * 37 + 11) & 0xff for i in range(size)))
    return path.read_bytes()


def test_damaged_after_a_clean_stop_is_found_when_read(tmp_path, broker, sim, subscriber,
                                                        daemon):
    """(4) The work orders' pages damaged while the daemon is stopped after a
    clean stop: no check at start, but the first batch that reads them
    (the rules' reconcile, a rule's trigger) meets the damage; the check
    confirms it, the file goes aside intact, the gateway alarm is raised,
    and a fresh ledger takes the work order; monitoring never stops."""
    config = make_config(tmp_path, broker["port"], sim.port, fast_vibration)
    ledger = tmp_path / "state" / "ledger.db"
    sub = subscriber("plantroom/#")
    d = daemon(config)
    d.wait_log("plantroomd running")
    sim.set("lift-1.vibration_machine", 5.5)
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM work_orders")[0][0] >= 1, 15,
             "lift-1's work order")
    audit = ro(ledger, "SELECT count(*) FROM audit")[0][0]
    sim.set("lift-1.vibration_machine", 1.0)
    assert d.proc.stop() == 0
    assert not (tmp_path / "state" / "ledger.db-wal").exists()
    damaged = damage_pages(ledger, "work_orders")
    # the operator's check finds it (exit 3), read-only
    r = ctl(config, "check", "--json", check=False)
    assert r.returncode == 3 and json.loads(r.stdout)["ok"] is False
    assert ledger.read_bytes() == damaged

    sim.set("lift-2.vibration_machine", 5.5)
    d = daemon(config, "plantroomd-2.log")
    # first the batch's failure (io-error: its ops wait), then the check's verdict
    st = wait_for(lambda: (lambda s: "corrupt" in (alarm(s, "storage.ledger") or {}).get(
        "detail", "") and s)(status(config)), 20, "the storage.ledger alarm: corrupt")
    f = st["storage"]["ledger"]
    assert f["quarantined"] == 1 and f["checks_started"] == 1 and f["check_result"] == "damaged"
    kept = list((tmp_path / "state").glob("ledger.db.corrupt-*"))
    kept = [k for k in kept if not k.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged  # the evidence, intact
    # what was committed elsewhere in it is still readable there
    assert ro(kept[0], "SELECT count(*) FROM audit")[0][0] == audit
    # monitoring went on: telemetry, and lift-2's order in the fresh ledger
    n = len(sub.json_messages("devices/lift-1/telemetry"))
    wait_for(lambda: len(sub.json_messages("devices/lift-1/telemetry")) > n + 5, 15,
             "telemetry after the damage")
    wait_for(lambda: ro(ledger, "SELECT count(*) FROM work_orders WHERE device = 'lift-2'"
                        " AND status = 'open'")[0][0] == 1, 15, "lift-2's order, fresh ledger")
    wait_for(lambda: opened(sub, "lift-2"), 15, "lift-2's event")
    assert ctl(config, "check", "--full").stdout.startswith(f"{ledger}: sound")
    assert d.proc.stop() == 0
