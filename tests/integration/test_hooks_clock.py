# SPDX-License-Identifier: Apache-2.0
"""The notifier's two clocks (docs/hooks.md, "Clocks"): waits run on the
monotonic clock, the wall clock only stamps records and judges quiet hours.

The wall clock is stepped as NTP steps it, under the running notifier,
with Debian's libfaketime: only the wall clock (FAKETIME_DONT_FAKE_MONOTONIC),
the offset changed at run time through its timestamp file
(FAKETIME_NO_CACHE); FAKETIME_FORCE_MONOTONIC_FIX=0, else libfaketime
0.9.10 spins two threads at 100 % CPU.

- 8 h back: a grouped SMS due 4 s after its order opened goes out 4 s after
  it opened (the delay is printed), and its record carries the stepped time.
- 8 h forward: no repeat and no escalation that was not due; the
  escalation comes when its 6 s have passed.
- Times stored in notify.db while the clock was 8 h ahead are re-anchored at
  start: a batch and a retry stamped in the future are due at once, not in
  8 hours.
- The notifier's objects call neither setenv nor tzset nor the C library's
  local time (quiet hours use gw_tz.c).
"""
import glob
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, wait_for
from hooks_helpers import PHONES, Drive, FakeSms, base_config, wo_event, write_config

ALICE, CAROL = PHONES["alice"], PHONES["carol"]
EIGHT_H_MS = 8 * 3600 * 1000


def libfaketime():
    libs = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    if not libs:
        pytest.skip("libfaketime is not installed (Debian package faketime)")
    return libs[0]


def faked(tmp_path):
    """The environment of a process whose wall clock the test steps through
    the returned file."""
    f = tmp_path / "faketime"
    f.write_text("+0\n")
    env = dict(os.environ, LD_PRELOAD=libfaketime(), FAKETIME_TIMESTAMP_FILE=str(f),
               FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
               FAKETIME_FORCE_MONOTONIC_FIX="0")
    # under AddressSanitizer the preloaded library comes before its runtime
    env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                  "verify_asan_link_order=0"]))
    return f, env


def ticks_pass(d, n):
    """A barrier: n more notifier ticks (200 ms each) have run."""
    t = d.status()["notify"]["ticks"]
    wait_for(lambda: d.status()["notify"]["ticks"] >= t + n, 30, f"{n} more ticks", 0.2)


def test_wall_clock_8h_back_grouped_sms_on_time(tmp_path, procs):
    f, env = faked(tmp_path)
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=4000)
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg), env=env)
    t0 = time.monotonic()
    d.send({"event": wo_event(71, priority="high", title="Fire zone 3 alarm")})
    wait_for(lambda: d.status()["notify"]["memory"]["batch"] == 1, 5, "the alert waiting")
    f.write_text("-8h\n")  # NTP steps the wall clock 8 h back
    wait_for(lambda: sms.to(ALICE), 15, "the grouped SMS")
    delay = time.monotonic() - t0
    assert 3.8 <= delay <= 4.0 + 3.0, delay
    print(f"grouped SMS (group_wait 4 s) went out {delay:.2f} s after its order opened, "
          "the wall clock stepped 8 h back meanwhile")
    # the step was real inside the process: the record carries the stepped time
    con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
    created = wait_for(lambda: con.execute("SELECT created_ms FROM notifications").fetchone(), 5,
                       "the message's record")[0]
    con.close()
    assert abs(created - (time.time() * 1000 - EIGHT_H_MS)) < 60000


def test_wall_clock_8h_forward_nothing_early(tmp_path, procs):
    f, env = faked(tmp_path)
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=200, repeat_interval_ms=12000,
                      escalate_after_ms=6000, escalate_to="managers")
    cfg["groups"][0]["members"] = ["alice"]
    d = Drive(tmp_path, procs, write_config(tmp_path, cfg), env=env)
    d.send({"event": wo_event(72, priority="critical", title="Lift 2 trapped passenger")})
    wait_for(lambda: sms.to(ALICE), 5, "the first notice")
    told = time.monotonic()
    f.write_text("+8h\n")  # NTP steps the wall clock 8 h forward
    ticks_pass(d, 15)  # 3 s of ticks on the stepped clock
    assert time.monotonic() - told < 5.5, "test too slow to judge 'early'"
    assert len(sms.to(ALICE)) == 1 and not sms.to(CAROL)  # no repeat, no escalation
    wait_for(lambda: sms.to(CAROL), 15, "the escalation when due")
    esc = time.monotonic() - told
    assert esc >= 5.8, esc
    assert "ESCALATED" in sms.to(CAROL)[0] and "#72" in sms.to(CAROL)[0]
    if time.monotonic() - told < 11.5:
        assert len(sms.to(ALICE)) == 1  # the repeat is not due yet either
    print(f"escalation {esc:.2f} s after the first notice (escalate_after 6 s), "
          "the wall clock stepped 8 h forward meanwhile")


def test_times_stored_ahead_are_due_at_restart(tmp_path, procs):
    sms = FakeSms(tmp_path)
    cfg = base_config(tmp_path, sms, group_wait_ms=60000)
    cfg["groups"][0]["members"] = ["alice"]
    cfg["hooks"][0].update(backoff_ms=60000, backoff_max_ms=120000)
    config = write_config(tmp_path, cfg)
    db = tmp_path / "state" / "notify.db"
    d = Drive(tmp_path, procs, config)
    d.send({"event": wo_event(73, priority="high")})
    wait_for(lambda: _count(db, "SELECT count(*) FROM batch") == 1, 5, "the batch recorded")
    d.stop()
    # Stored while the wall clock was 8 h ahead (set back since): due now.
    _exec(db, f"UPDATE batch SET created_ms = created_ms + {EIGHT_H_MS}")
    t0 = time.monotonic()
    d = Drive(tmp_path, procs, config, "drive2.log")
    wait_for(lambda: sms.to(ALICE), 10, "the SMS at once, not in a minute or 8 h")
    assert time.monotonic() - t0 < 10
    # A retry stamped 8 h ahead (more than backoff_max_ms) is due at once too.
    wait_for(lambda: _count(db, "SELECT count(*) FROM notifications WHERE state = 'sent'") == 1,
             5, "recorded")
    d.stop()
    _exec(db, "UPDATE notifications SET state = 'pending', attempts = 1,"
              f" next_ms = next_ms + {EIGHT_H_MS}")
    d = Drive(tmp_path, procs, config, "drive3.log")
    wait_for(lambda: len(sms.to(ALICE)) == 2, 10, "the retry at once")


def _count(db, sql):
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return None


def _exec(db, sql):
    con = sqlite3.connect(db, timeout=5)
    con.execute(sql)
    con.commit()
    con.close()


def test_notifier_never_touches_the_process_zone():
    objs = glob.glob(os.path.join(os.path.dirname(BIN), "gateway", "CMakeFiles",
                                  "plantroom_gateway.dir", "notify", "*.o"))
    assert len(objs) >= 10, objs
    out = subprocess.run(["nm", "-u", *objs], capture_output=True, text=True, check=True).stdout
    used = {l.split()[-1] for l in out.splitlines() if l.strip().startswith("U ")}
    for sym in ("setenv", "unsetenv", "putenv", "tzset", "localtime", "localtime_r", "mktime"):
        assert sym not in used, sym
