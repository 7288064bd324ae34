# SPDX-License-Identifier: Apache-2.0
"""Durability of notifications across a crash (docs/hooks.md, "Durability").

- SIGKILL after the hook delivered but before plantroom recorded it: the
  message is sent again after the restart (at least once), with the same
  work-order number in it so that a human sees it is the same alert.
- A message whose success was recorded is never sent again by a restart.
- A message queued but not yet sent when the process dies is sent after the
  restart (never lost).
- While notify.db is locked by another process, the SMS goes out from
  memory; the event is recorded (and its outbox row answered) once the
  lock is gone.
"""
import os
import signal
import sqlite3

from conftest import wait_for
from hooks_helpers import PHONES, Drive, FakeSms, base_config, wo_event, write_config

ALICE = PHONES["alice"]


def rows(tmp_path):
    con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
    try:
        return con.execute("SELECT recipient, state, attempts FROM notifications"
                           " ORDER BY id").fetchall()
    finally:
        con.close()


def crash(d):
    """SIGKILL the notifier and its children (the whole session), as a
    power cut would."""
    os.killpg(d.p.p.pid, signal.SIGKILL)
    d.p.p.wait()


def test_sigkill_between_send_and_record_sends_again(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    config = write_config(tmp_path, cfg)
    sms.block(True)  # the fake command records, then hangs: not yet "sent"
    d = Drive(tmp_path, procs, config)
    d.send({"event": wo_event(91, priority="critical", title="Pump room flooding")})
    wait_for(lambda: sms.to(ALICE), 5, "the SMS handed to the fake command")
    assert rows(tmp_path) == [("alice", "pending", 0)]
    crash(d)
    sms.block(False)

    d2 = Drive(tmp_path, procs, config, "drive2.log")
    wait_for(lambda: len(sms.to(ALICE)) == 2, 10, "the SMS sent again after the restart")
    first, again = sms.to(ALICE)
    assert first == again and "#91" in again
    wait_for(lambda: rows(tmp_path) == [("alice", "sent", 1)], 5, "success recorded")
    d2.stop()

    # Recorded: a third start sends nothing.
    d3 = Drive(tmp_path, procs, config, "drive3.log")
    d3.settle()
    assert len(sms.to(ALICE)) == 2
    d3.stop()


def test_queued_message_survives_a_crash(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    cfg["hooks"][0]["backoff_ms"] = 60000  # a failed try waits long
    config = write_config(tmp_path, cfg)
    sms.fail_next(1)
    d = Drive(tmp_path, procs, config)
    d.send({"event": wo_event(92, priority="high")})
    wait_for(lambda: rows(tmp_path) == [("alice", "pending", 1)], 5, "the first try failing")
    crash(d)
    # The retry is due in a minute; after the restart it is still pending
    # and goes out then. Make it due now, as if that minute had passed.
    con = sqlite3.connect(tmp_path / "state" / "notify.db")
    con.execute("UPDATE notifications SET next_ms = 0")
    con.commit()
    con.close()
    Drive(tmp_path, procs, config, "drive2.log")
    wait_for(lambda: sms.to(ALICE), 5, "the message after the restart")
    assert "#92" in sms.to(ALICE)[0]
    wait_for(lambda: rows(tmp_path) == [("alice", "sent", 2)], 5, "success recorded")


def test_event_taken_in_but_not_flushed_survives_a_crash(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=1500)
    cfg["groups"][0]["members"] = ["alice"]
    config = write_config(tmp_path, cfg)
    d = Drive(tmp_path, procs, config)
    ev = wo_event(93, priority="high")
    d.send({"event": ev})
    wait_for(lambda: _batched(tmp_path), 5, "the alert waiting in its group")
    crash(d)
    d2 = Drive(tmp_path, procs, config, "drive2.log")
    d2.send({"event": ev})  # offered again (the ledger re-posts its outbox): taken once
    wait_for(lambda: sms.to(ALICE), 8, "the message after the restart")
    d2.settle()
    assert len(sms.to(ALICE)) == 1 and "#93" in sms.to(ALICE)[0]


def _batched(tmp_path):
    try:
        con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
        try:
            return con.execute("SELECT count(*) FROM batch").fetchone()[0] == 1
        finally:
            con.close()
    except sqlite3.OperationalError:
        return False


def test_locked_notify_db_does_not_hold_the_sms(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    # Someone holds the write lock (sqlite3 by hand, a backup): the event
    # cannot be recorded. The SMS does not wait for the disk; the outbox
    # row is not answered until the event is recorded.
    con = sqlite3.connect(tmp_path / "state" / "notify.db", isolation_level=None, timeout=5)
    con.execute("BEGIN IMMEDIATE")
    d.send({"event": wo_event(94, priority="high"), "outbox_id": 94})
    wait_for(lambda: sms.to(ALICE), 8, "the SMS while notify.db is locked")
    assert "#94" in sms.to(ALICE)[0]
    wait_for(lambda: "delivered to alice" in d.log(), 5, "the delivery")
    assert "event_stored 94" not in d.log()
    assert con.execute("SELECT count(*) FROM notifications").fetchone()[0] == 0
    con.execute("COMMIT")
    con.close()
    wait_for(lambda: "event_stored 94" in d.log(), 10, "the event answered once recorded")
    wait_for(lambda: rows(tmp_path) == [("alice", "sent", 1)], 10, "the message recorded as sent")
    assert len(sms.to(ALICE)) == 1
    assert "alarm" not in d.log()  # a lock held briefly is no gateway alarm
