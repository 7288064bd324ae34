# SPDX-License-Identifier: Apache-2.0
"""The ledger's disk full or read-only while plantroomd runs
(docs/operations.md, "When storage fails"), three real faults:

- SQLite's PRAGMA max_page_count at the file's size (the test-only pages
  file, docs/configuration.md "Test-only settings");
- as root, the state directory on a 4 MiB tmpfs filled to the last byte
  with dd;
- EROFS injected into the ledger thread's writes with strace for a window
  (Linux refuses to remount read-only under an open file).

During the fault: the gateway alarm storage.ledger is visible, telemetry
flows, a rule that fires reaches MQTT at once marked "durable": false, and
the RSS sampled every second stays flat. Afterwards, without a restart:
the alarm clears, every work order raised during the fault is in the
ledger once with its audit rows, and no change was published under two
event ids. Each scenario prints its figures (queue depth reached, RSS
before/during/after, time to recover). PLANTROOM_SOAK_S=<seconds> makes
the fault last that long (a soak: the fire zone flips all along).
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import make_config, wait_for
from storage_helpers import (FIRE_RULE, TOPIC_STATUS, ZONE_FIRE, ZONE_QUIET, RssSampler, alarm,
                             check_announced_once, events, ro, status, thread_tid)

SOAK_S = float(os.environ.get("PLANTROOM_SOAK_S", "0"))
# RSS may grow this much from before to during the fault (ASan's allocator
# keeps freed memory in quarantine: more room there).
RSS_SLACK_KB = 48 * 1024 if os.environ.get("ASAN_OPTIONS") else 12 * 1024


def with_fire_rule(cfg):
    cfg["rules"].append(dict(FIRE_RULE))


class Run:
    """One daemon, its subscriber, the simulator and the RSS sampler."""

    def __init__(self, tmp_path, broker, sim, subscriber, daemon):
        self.sub = subscriber("plantroom/#")
        self.sim = sim
        self.config = make_config(tmp_path, broker["port"], sim.port, with_fire_rule)
        self.d = daemon(self.config)
        wait_for(lambda: self.telemetry() > 0, 15, "telemetry")
        self.rss = RssSampler(self.d.proc.p.pid)
        self.flips = 0

    def telemetry(self):
        return len(self.sub.messages("/telemetry"))

    def flip(self):
        """The fire zone goes to alarm, or back: a work-order change."""
        self.flips += 1
        self.sim.set("fire-panel.zone_3", ZONE_FIRE if self.flips % 2 else ZONE_QUIET)

    def ledger_alarm(self):
        return alarm(status(self.config), "storage.ledger")


def drive_until_alarm(run, timeout=30):
    """Flip the fire zone until the ledger's writes fail (a write is what
    finds a full disk)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.flip()
        t = time.monotonic()
        while time.monotonic() - t < 0.6:
            if run.ledger_alarm():
                return
            time.sleep(0.1)
    pytest.fail("the ledger never said its storage failed")


def scenario(run, fault_on, fault_off, expect_state, label):
    cfg = run.config
    wait_for(lambda: run.rss.count("before") >= 3, 15, "RSS before the fault")
    fault_on()
    run.rss.mark("during")
    drive_until_alarm(run)
    st = status(cfg)
    assert st["health"] == "degraded"
    assert st["storage"]["ledger"]["state"] == expect_state
    wait_for(lambda: any(alarm(m, "storage.ledger") for m in run.sub.json_messages(TOPIC_STATUS)),
             10, "the alarm in the retained gateway status")

    # A rule fires during the fault: it reaches MQTT at once, not durable.
    t_fire = time.monotonic()
    run.sim.set("lift-2.vibration_machine", 5.5)
    ev = wait_for(lambda: [e for e in events(run.sub) if e["work_order"]["device"] == "lift-2"
                           and e.get("durable") is False], 15, "lift-2's provisional event")[0]
    fire_s = time.monotonic() - t_fire
    assert ev["event"] == "opened" and ev["work_order"]["number"] is None
    # telemetry keeps flowing
    n = run.telemetry()
    wait_for(lambda: run.telemetry() >= n + 20, 15, "telemetry during the fault")
    soak_end = time.monotonic() + SOAK_S
    while time.monotonic() < soak_end:
        run.flip()
        time.sleep(0.5)
    wait_for(lambda: run.rss.count("during") >= 8, 30, "RSS during the fault")
    st = status(cfg)
    assert st["storage"]["ledger"]["state"] == expect_state
    assert st["storage"]["ledger"]["queue_depth"] > 0
    assert run.d.proc.alive()

    t_lift = time.monotonic()
    fault_off()
    run.rss.mark("after")
    wait_for(lambda: not run.ledger_alarm(), 30, "the alarm to clear")
    recover_s = time.monotonic() - t_lift
    st = wait_for(lambda: (lambda s: s["storage"]["ledger"]["queue_depth"] == 0 and s)(
        status(cfg)), 30, "nothing waiting")
    peak = st["storage"]["ledger"]["queue_peak"]
    wait_for(lambda: run.rss.count("after") >= 3, 15, "RSS after the fault")
    run.rss.stop()

    # Every order raised during the fault is in the ledger once, with its
    # audit rows, under the event id announced.
    ledger = run.d.ledger_path()
    rows = ro(ledger, "SELECT id FROM work_orders WHERE device = 'lift-2'")
    assert rows == [(ev["work_order"]["id"],)]
    assert ro(ledger, "SELECT action FROM audit WHERE event_id = ?", (ev["event_id"],)) == [
        ("opened",)]
    wait_for(lambda: any(e["event_id"] == ev["event_id"] and e.get("durable", True)
                         for e in events(run.sub)), 15, "lift-2's committed event")
    prov, committed = check_announced_once(events(run.sub))
    for e in prov:
        assert ro(ledger, "SELECT count(*) FROM audit WHERE event_id = ?",
                  (e["event_id"],)) == [(1,)]
    gw = ro(ledger, "SELECT cleared_at IS NOT NULL FROM work_orders WHERE device = 'gateway'"
            " AND rule = 'storage.ledger'")
    assert gw == [(1,)], "the gateway's work order, opened and cleared"
    assert ro(ledger, "PRAGMA integrity_check") == [("ok",)]

    rs = run.rss.summary()
    grow = rs["during"]["max_kb"] - rs["before"]["max_kb"]
    assert grow < RSS_SLACK_KB, f"RSS grew {grow} kB during the fault"
    print(f"\n{label}: state {expect_state}; queue depth reached {peak}; "
          f"{len(prov)} provisional events; lift-2 on MQTT {fire_s:.1f} s after the rule fired; "
          f"RSS kB before {rs['before']['max_kb']}, during max {rs['during']['max_kb']}, "
          f"after {rs['after']['max_kb']}; recovered {recover_s:.1f} s after the fault ended")


def test_ledger_full_max_page_count(tmp_path, broker, sim, subscriber, daemon, monkeypatch):
    pages = tmp_path / "pages"
    pages.write_text("0")
    monkeypatch.setenv("PLANTROOM_TEST_LEDGER_PAGES_FILE", str(pages))
    run = Run(tmp_path, broker, sim, subscriber, daemon)
    scenario(run, lambda: pages.write_text("1"), lambda: pages.write_text("0"), "full",
             "max_page_count")
    assert run.d.proc.stop() == 0


def _can_mount():
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return True


@pytest.mark.skipif(not _can_mount(), reason="mounting a tmpfs needs root")
def test_state_dir_on_a_full_tmpfs(tmp_path, broker, sim, subscriber, daemon):
    state = tmp_path / "state"
    state.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0750", "tmpfs", str(state)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    filler = state / "filler"
    run = None
    try:
        run = Run(tmp_path, broker, sim, subscriber, daemon)

        def fill():
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"],
                           capture_output=True)

        scenario(run, fill, lambda: filler.unlink(), "full", "tmpfs filled with dd")
        assert run.d.proc.stop() == 0
    finally:
        if run:
            run.d.proc.stop()
        subprocess.run(["umount", "-l", str(state)], capture_output=True)


def _strace():
    return shutil.which("strace")


@pytest.mark.skipif(not _strace(), reason="strace is not installed (deploy/deps.sh)")
def test_ledger_read_only_injected(tmp_path, broker, sim, subscriber, daemon):
    run = Run(tmp_path, broker, sim, subscriber, daemon)
    tid = wait_for(lambda: thread_tid(run.d.proc.p.pid, "ledger"), 10, "the ledger thread")
    tracer = {}

    def on():
        # Only the ledger thread, and not write(2): libuv's wake-up of the
        # loop is a write to an eventfd, and libuv aborts when it fails.
        tracer["p"] = subprocess.Popen(
            ["strace", "-qq", "-o", "/dev/null", "-p", str(tid), "-e",
             "inject=pwrite64,pwritev,fsync,fdatasync,ftruncate,openat:error=EROFS"],
            stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        if tracer["p"].poll() is not None:
            pytest.skip(f"strace cannot attach: {tracer['p'].stderr.read().strip()}")

    def off():
        tracer["p"].send_signal(signal.SIGINT)  # detaches
        tracer["p"].wait(10)

    try:
        scenario(run, on, off, "read-only", "EROFS injected with strace")
    finally:
        if "p" in tracer and tracer["p"].poll() is None:
            tracer["p"].kill()
    assert run.d.proc.stop() == 0


@pytest.mark.skipif(SOAK_S <= 0, reason="a soak: set PLANTROOM_SOAK_S=<seconds>")
def test_soak_at_the_bound(tmp_path, broker, sim, subscriber, daemon, monkeypatch):
    """A long fault with the smallest bound (100 ops): the backlog reaches
    it, repeatable ops are dropped, work-order ops past it refused, all
    counted; the RSS of the second half of the fault is that of the first
    half; the daemon recovers by itself."""
    pages = tmp_path / "pages"
    pages.write_text("0")
    monkeypatch.setenv("PLANTROOM_TEST_LEDGER_PAGES_FILE", str(pages))

    def mutate(cfg):
        with_fire_rule(cfg)
        cfg["ledger"]["queue_max_ops"] = 100
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    wait_for(lambda: sub.messages("/telemetry"), 15, "telemetry")
    rss = RssSampler(d.proc.p.pid)
    wait_for(lambda: rss.count("before") >= 3, 15, "RSS before")
    pages.write_text("1")
    rss.mark("during")
    end = time.monotonic() + SOAK_S
    i = 0
    while time.monotonic() < end:
        i += 1
        sim.set("fire-panel.zone_3", ZONE_FIRE if i % 2 else ZONE_QUIET)
        time.sleep(0.25)
    st = status(config)["storage"]["ledger"]
    assert st["state"] == "full" and st["queue_peak"] <= 100 + 50
    half = rss.of("during")
    first, second = half[: len(half) // 2], half[len(half) // 2:]
    pages.write_text("0")
    t = time.monotonic()
    rss.mark("after")
    wait_for(lambda: not alarm(status(config), "storage.ledger"), 30, "the alarm to clear")
    recover_s = time.monotonic() - t
    wait_for(lambda: rss.count("after") >= 3, 15, "RSS after")
    rss.stop()
    assert d.proc.stop() == 0
    assert max(second) - max(first) < RSS_SLACK_KB / 4, (max(first), max(second))
    rs = rss.summary()
    print(f"\nsoak {SOAK_S:.0f} s at the bound: queue depth reached {st['queue_peak']} "
          f"(max {st['queue_max']}), dropped {st['dropped']} ops ({st['rollup_rows_dropped']} "
          f"rollup rows), refused {st['refused']}, coalesced {st['coalesced']}, provisional "
          f"{st['provisional_events']}; RSS kB before {rs['before']['max_kb']}, during first "
          f"half max {max(first)}, second half max {max(second)}, after "
          f"{rs['after']['max_kb']}; recovered {recover_s:.1f} s after the fault ended")
