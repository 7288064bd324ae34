# SPDX-License-Identifier: Apache-2.0
"""notify.db when storage fails (docs/hooks.md, "When notify.db cannot be
written"; docs/operations.md, "Gateway alarms", storage.notify).

- A notify.db of random bytes at start is moved aside (kept, byte for
  byte), a fresh 0600 file is started, the alarm is raised, and alerts go
  out and are recorded.
- A file that turns to garbage while running is found by the check of the
  housekeeping (run again by a reload), moved aside, and the notifier's
  state written whole into a fresh file.
- A full disk (SQLite's writes failing, tests/hooks/fault_vfs.c): the SMS
  goes out at once from memory; the event is not answered (event_stored)
  until it is recorded, which happens by itself when the disk accepts
  writes again; the alarm is raised and cleared.
- Read-only for a long time: the changes waiting stay bounded by
  notify.queue_max (the whole state replaces them), and every event is
  recorded and answered once the disk is back.
- SIGKILL while nothing can be recorded: the event was never answered, so
  the ledger offers it again after the restart and the SMS goes out again
  (at least once).
- Real faults where the test runs as root: a tmpfs filled to the last byte,
  and EROFS injected into the store thread's writes with strace.
"""
import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import wait_for
from hooks_helpers import PHONES, Drive, FakeSms, base_config, wo_event, write_config

ALICE = PHONES["alice"]


def rows(tmp_path):
    con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
    try:
        return con.execute("SELECT recipient, state, attempts, message FROM notifications"
                           " ORDER BY id").fetchall()
    finally:
        con.close()


def sent_numbers(tmp_path):
    """Work-order numbers of the messages recorded as sent."""
    try:
        return {m.split("#", 1)[1].split()[0] for _, st, _, m in rows(tmp_path) if st == "sent"}
    except sqlite3.Error:
        return set()


def config(tmp_path, sms, **notify):
    cfg = base_config(tmp_path, sms, group_wait_ms=200)
    cfg["groups"][0]["members"] = ["alice"]
    if notify:
        cfg["notify"] = notify
    return write_config(tmp_path, cfg)


def test_random_bytes_at_start_are_moved_aside(tmp_path, procs):
    state = tmp_path / "state"
    state.mkdir()
    junk = os.urandom(64 * 1024)
    (state / "notify.db").write_bytes(junk)
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms))
    wait_for(lambda: "alarm storage.notify raised: notify.db corrupt: moved aside to "
             "notify.db.corrupt-" in d.log(), 5, "the alarm")
    moved = [p for p in state.iterdir() if p.name.startswith("notify.db.corrupt-")]
    assert len(moved) == 1 and moved[0].read_bytes() == junk  # the evidence, intact
    d.send({"event": wo_event(11, priority="high"), "outbox_id": 11})
    wait_for(lambda: sms.to(ALICE), 5, "the SMS")
    wait_for(lambda: d.stored() == [11], 5, "the event answered")
    wait_for(lambda: sent_numbers(tmp_path) == {"11"}, 5, "the message recorded")
    for name in ("notify.db", "notify.db-wal", "notify.db-shm"):
        assert (state / name).stat().st_mode & 0o777 == 0o600, name
    st = d.status()["notify"]
    assert st["store"] == "ok" and st["memory"]["alerts"] == 1
    assert "alarm storage.notify cleared" not in d.log()  # raised until a restart


def scribble(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(os.urandom(size))


def test_garbage_while_running_is_found_and_replaced(tmp_path, procs):
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms))
    d.send({"event": wo_event(12, priority="high"), "outbox_id": 12})
    wait_for(lambda: sent_numbers(tmp_path) == {"12"}, 8, "the first message recorded")
    state = tmp_path / "state"
    scribble(state / "notify.db")  # the card returns garbage
    scribble(state / "notify.db-wal")
    d.send({"reload": True})  # a reload runs the housekeeping: the check
    wait_for(lambda: "alarm storage.notify raised: notify.db corrupt" in d.log(), 8, "the alarm")
    assert any(p.name.startswith("notify.db.corrupt-") for p in state.iterdir())
    d.send({"event": wo_event(13, priority="high"), "outbox_id": 13})
    wait_for(lambda: len(sms.to(ALICE)) == 2, 8, "the next SMS")
    wait_for(lambda: 13 in d.stored(), 8, "the next event answered")
    # the fresh file holds the state written whole, and what came after
    wait_for(lambda: sent_numbers(tmp_path) == {"13"}, 8, "the fresh file")
    con = sqlite3.connect(state / "notify.db")
    assert con.execute("SELECT count(*) FROM alerts WHERE number IN (12, 13)").fetchone()[0] == 2
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_full_disk_sends_from_memory_and_records_later(tmp_path, procs):
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms))
    d.send({"fault": "full"})
    wait_for(lambda: "drive: fault full" in d.log(), 5, "the fault")
    t0 = time.monotonic()
    d.send({"event": wo_event(21, priority="critical", title="Fire pump failed"),
            "outbox_id": 21})
    wait_for(lambda: sms.to(ALICE), 5, "the SMS from memory")
    delay = time.monotonic() - t0
    assert "#21" in sms.to(ALICE)[0]
    wait_for(lambda: "alarm storage.notify raised: notify.db full" in d.log(), 5, "the alarm")
    st = d.status()["notify"]
    assert st["store"] == "full" and st["queue"] > 0 and st["write_failures"] > 0
    assert d.stored() == []  # not recorded: not answered
    d.send({"fault": "none"})
    wait_for(lambda: d.stored() == [21], 10, "the event answered once recorded")
    wait_for(lambda: "alarm storage.notify cleared" in d.log(), 5, "the alarm cleared")
    wait_for(lambda: sent_numbers(tmp_path) == {"21"}, 5, "the message recorded as sent")
    assert len(sms.to(ALICE)) == 1
    print(f"SMS {delay:.2f} s after the event with the disk full (group_wait 0.2 s)")


def test_read_only_for_long_stays_bounded_and_loses_nothing(tmp_path, procs):
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms, queue_max=40))
    d.send({"fault": "readonly"})
    wait_for(lambda: "drive: fault readonly" in d.log(), 5, "the fault")
    depths = []
    for k in range(15):  # 150 events, 10 a round
        d.send(*[{"event": wo_event(1000 + k * 10 + i, device=f"lift-{1 + i % 4}"),
                  "outbox_id": 1000 + k * 10 + i} for i in range(10)])
        st = d.status()["notify"]
        depths.append(st["queue"])
    wait_for(lambda: d.status()["notify"]["memory"]["seen"] == 150, 10, "every event taken in")
    st = d.status()["notify"]
    assert st["store"] == "read-only"
    # Bounded: past 40 changes the whole state replaces them, and behind that
    # image at most 40 more wait (plus what one loop iteration brings, 30
    # here); from then on it does not grow, however long the disk refuses.
    assert max(depths) <= 2 * 40 + 3 * 30 + 1, depths
    assert max(depths[5:]) <= max(depths[:6]), depths
    assert st["images"] >= 1
    assert "alarm storage.notify raised: notify.db read-only" in d.log()
    assert d.stored() == []
    d.send({"fault": "none"})
    wait_for(lambda: len(d.stored()) == 150, 15, "every event answered")
    assert sorted(d.stored()) == list(range(1000, 1150))
    con = sqlite3.connect(tmp_path / "state" / "notify.db")
    assert con.execute("SELECT count(*) FROM seen").fetchone()[0] == 150
    con.close()
    wait_for(lambda: d.status()["notify"]["queue"] == 0, 5, "nothing waiting")


def crash(d):
    os.killpg(d.p.p.pid, signal.SIGKILL)
    d.p.p.wait()


def test_sigkill_while_nothing_can_be_recorded_sends_again(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfgpath = config(tmp_path, sms)
    d = Drive(tmp_path, procs, cfgpath, args=("--fault", "io"))
    ev = wo_event(31, priority="critical", title="Tank overflow")
    d.send({"event": ev, "outbox_id": 31})
    wait_for(lambda: sms.to(ALICE), 5, "the SMS from memory")
    wait_for(lambda: "alarm storage.notify raised: notify.db" in d.log(), 5, "the alarm")
    assert d.stored() == []
    crash(d)
    # Never answered: the ledger keeps the row and offers it again.
    d2 = Drive(tmp_path, procs, cfgpath, "drive2.log")
    d2.send({"event": ev, "outbox_id": 31})
    wait_for(lambda: len(sms.to(ALICE)) == 2, 8, "the SMS again (at least once)")
    assert "#31" in sms.to(ALICE)[1]
    wait_for(lambda: d2.stored() == [31], 5, "answered once recorded")
    wait_for(lambda: sent_numbers(tmp_path) == {"31"}, 5, "recorded as sent")


def _root_or_skip():
    if os.geteuid() != 0:
        pytest.skip("needs root (mount a tmpfs, ptrace)")


def test_real_full_tmpfs(tmp_path, procs):
    _root_or_skip()
    state = tmp_path / "state"
    state.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0750", "tmpfs", str(state)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    d = None
    try:
        sms = FakeSms(tmp_path)
        d = Drive(tmp_path, procs, config(tmp_path, sms))
        d.send({"event": wo_event(41, priority="high"), "outbox_id": 41})
        wait_for(lambda: d.stored() == [41], 5, "the first event recorded")
        wait_for(lambda: sent_numbers(tmp_path) == {"41"}, 5, "the first SMS recorded")
        try:  # to the last byte
            with open(state / "fill", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
        d.send(*[{"event": wo_event(42 + i, priority="high", device=f"lift-{1 + i}"),
                  "outbox_id": 42 + i} for i in range(3)])
        wait_for(lambda: len(sms.to(ALICE)) == 2, 5, "the SMS with the disk full")
        assert "#42" in sms.to(ALICE)[1] and "#44" in sms.to(ALICE)[1]
        wait_for(lambda: "alarm storage.notify raised: notify.db full" in d.log(), 8, "the alarm")
        assert d.stored() == [41]
        (state / "fill").unlink()
        wait_for(lambda: d.stored() == [41, 42, 43, 44], 15, "recorded once there is room")
        wait_for(lambda: "alarm storage.notify cleared" in d.log(), 5, "the alarm cleared")
        wait_for(lambda: sent_numbers(tmp_path) == {"41", "42"}, 5, "the second SMS recorded")
    finally:
        if d:
            d.stop()
        subprocess.run(["umount", "-l", str(state)], capture_output=True)


def _store_thread(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "notify-store":
                return int(tid)
    return None


def test_real_erofs_injected_into_the_store_thread(tmp_path, procs):
    _root_or_skip()
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms))
    tid = wait_for(lambda: _store_thread(d.p.p.pid), 5, "the store thread")
    # Only the store thread's writes fail, as on a filesystem remounted
    # read-only under it (Linux refuses the remount while files are open).
    st = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-p", str(tid),
                           "-e", "trace=pwrite64,fsync,fdatasync,openat",
                           "-e", "inject=pwrite64,fsync,fdatasync,openat:error=EROFS"],
                          stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # attached
        d.send({"event": wo_event(51, priority="critical"), "outbox_id": 51})
        wait_for(lambda: sms.to(ALICE), 5, "the SMS from memory")
        wait_for(lambda: "alarm storage.notify raised: notify.db read-only" in d.log(), 8,
                 "the alarm")
        assert d.stored() == []
    finally:
        st.send_signal(signal.SIGINT)  # detach: the disk is back
        st.wait(timeout=10)
    wait_for(lambda: d.stored() == [51], 15, "recorded once the disk is back")
    wait_for(lambda: "alarm storage.notify cleared" in d.log(), 5, "the alarm cleared")
    wait_for(lambda: sent_numbers(tmp_path) == {"51"}, 5, "recorded as sent")


def test_bounds_of_event_ids_and_pending_messages(tmp_path, procs):
    """notify.max_rows bounds the event ids in memory and, after the purge
    (run by a reload), in the file; notify.max_pending gives the oldest
    pending message up when a hook has been failing for long."""
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=0)
    cfg["groups"][0]["members"] = ["alice"]
    cfg["hooks"][0].update(backoff_ms=600000, backoff_max_ms=600000, max_attempts=5)
    cfg["notify"] = {"max_rows": 100, "max_pending": 10}
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg))
    d.send(*[{"event": wo_event(2000 + i, device=f"lift-{1 + i % 4}")} for i in range(150)])
    wait_for(lambda: d.status()["notify"]["dropped"]["event_ids"] == 50, 10, "the oldest ids gone")
    assert d.status()["notify"]["memory"]["seen"] == 100
    d.send({"reload": True})  # the purge
    wait_for(lambda: d.status()["notify"].get("file", {}).get("seen") == 100, 10,
             "the file purged to 100 event ids")
    # Every message fails and waits 10 minutes to be tried again: past 10
    # pending, the oldest is given up.
    sms.fail_next(1000)
    for i in range(13):
        d.send({"event": wo_event(3000 + i, priority="high")})
        t = d.status()["notify"]["ticks"]  # one message a flush: a tick apart
        wait_for(lambda: d.status()["notify"]["ticks"] > t + 1, 10, "the next tick", 0.05)
    st = wait_for(lambda: (lambda s: s if s["dropped"]["messages"] >= 3 else None)(
        d.status()["notify"]), 10, "the oldest pending messages given up")
    assert st["memory"]["pending"] == 10
    assert "given up: more than 10 pending" in d.log()
