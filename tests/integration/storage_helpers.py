# SPDX-License-Identifier: Apache-2.0
"""Helpers of the storage-fault tests (test_storage_*.py): the daemon's
status over the control socket, its gateway alarms, RSS sampled every
second from /proc, reads of the ledger with SQLite, and the rule that makes
a fire zone an alarm. Faults are real: random bytes in files, SQLite's
max_page_count, a full tmpfs, EROFS injected with strace.
"""
import json
import os
import sqlite3
import threading
import time

from conftest import ctl

TOPIC_WO = "test-site/events/workorder"
TOPIC_STATUS = "test-site/status"

# A fire panel zone in alarm: a state rule that fires at the first sample.
FIRE_RULE = {"name": "zone-3-fire", "device": "fire-panel", "point": "zone_3_fire",
             "kind": "state", "equals": 1, "priority": "critical", "category": "fire",
             "title": "Fire zone 3 in alarm"}
ZONE_FIRE = 0x0400 | 0x0800 | 0x21  # enabled, active, event 0x21
ZONE_QUIET = 0x0400


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def alarm(st, key):
    for a in st.get("alarms", []):
        if a["key"] == key:
            return a
    return None


def ro(path, sql, args=()):
    """Rows of sql on a fresh connection (the daemon may be writing)."""
    db = sqlite3.connect(str(path), timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """The RSS of pid, sampled every second in a thread; mark() names a
    phase so that samples can be split into before, during and after."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []  # (monotonic, phase, kB)
        self.phase = "before"
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.samples.append((time.monotonic(), self.phase, rss_kb(self.pid)))
            except OSError:
                return
            self.stop_ev.wait(1.0)

    def mark(self, phase):
        self.phase = phase

    def of(self, phase):
        return [kb for (_, p, kb) in self.samples if p == phase]

    def count(self, phase):
        return len(self.of(phase))

    def stop(self):
        self.stop_ev.set()
        self.t.join()

    def summary(self):
        out = {}
        for p in ("before", "during", "after"):
            v = self.of(p)
            if v:
                out[p] = {"min_kb": min(v), "max_kb": max(v), "n": len(v)}
        return out


def thread_tid(pid, name):
    """The id of pid's thread called name (pthread_setname_np), or None."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == name:
                    return int(tid)
        except OSError:
            continue
    return None


def events(sub):
    return sub.json_messages("/events/workorder")


def check_announced_once(evs, since_ts=""):
    """Every provisional event has a committed copy under the same id, and
    no change was published under two ids: a change is its work order, its
    event, its occurrences and its cleared_at."""
    by_change = {}
    committed = {}
    for e in evs:
        wo = e["work_order"]
        key = (wo["id"], e["event"], wo["occurrences"], wo["cleared_at"])
        by_change.setdefault(key, set()).add(e["event_id"])
        if e.get("durable", True):
            committed[e["event_id"]] = e
    twice = {k: v for k, v in by_change.items() if len(v) > 1}
    assert not twice, f"a change published under several event ids: {twice}"
    prov = [e for e in evs if e.get("durable") is False]
    missing = [e["event_id"] for e in prov if e["event_id"] not in committed]
    assert not missing, f"provisional events never committed: {missing}"
    return prov, committed
