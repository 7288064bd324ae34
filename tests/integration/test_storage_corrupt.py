# SPDX-License-Identifier: Apache-2.0
"""Damaged state files at start (docs/operations.md, "When storage fails"):
each of ledger.db, spool.db and rules.state replaced by random bytes. The
daemon must poll the simulator and publish within 10 s, the gateway alarm
must be visible (plantroomctl status, the retained gateway status over
MQTT, a critical work order of the gateway in the new ledger), and the
damaged file must be kept, byte for byte, as NAME.corrupt-<UTC>. Also the
modes of the state files and directory.
"""
import json
import os
import stat
import time

import pytest

from conftest import make_config, wait_for
from storage_helpers import TOPIC_STATUS, alarm, ro, status

CASES = {
    "ledger.db": "storage.ledger",
    "spool.db": "storage.spool",
    "rules.state": "storage.rules_state",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_random_bytes_at_start(tmp_path, broker, sim, subscriber, daemon, name):
    key = CASES[name]
    state = tmp_path / "state"
    state.mkdir()
    junk = os.urandom(16384)
    (state / name).write_bytes(junk)
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port)
    t0 = time.monotonic()
    d = daemon(config)

    # polls the simulator and publishes its readings
    wait_for(lambda: sub.json_messages("devices/lift-1/telemetry"), 10, "telemetry")
    # the alarm: in status, in the retained gateway status
    st = wait_for(lambda: (lambda s: alarm(s, key) and s)(status(config)), 10, f"alarm {key}")
    assert st["health"] == "degraded"
    assert alarm(st, key)["priority"] == "critical"
    assert "corrupt" in alarm(st, key)["detail"]
    wait_for(lambda: any(alarm(m, key) for m in sub.json_messages(TOPIC_STATUS)), 10,
             "the alarm in the retained gateway status")
    elapsed = time.monotonic() - t0
    assert elapsed < 10, f"{elapsed:.1f} s to poll, publish and show the alarm"
    assert d.proc.alive()

    # the damaged file is kept, byte for byte
    kept = list(state.glob(f"{name}.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == junk

    # a critical work order of the gateway itself, in the (new) ledger
    def gateway_order():
        return ro(d.ledger_path(), "SELECT priority, category, status FROM work_orders"
                  " WHERE device = 'gateway' AND rule = ?", (key,))
    assert wait_for(gateway_order, 10, "the gateway's work order") == [
        ("critical", "gateway", "open")]
    wait_for(lambda: any(e["work_order"]["rule"] == key
                         for e in sub.json_messages("events/workorder")), 10,
             "the gateway's work order event")
    if name == "ledger.db":
        assert ro(d.ledger_path(), "PRAGMA integrity_check") == [("ok",)]
    assert d.proc.stop() == 0
    print(f"{name}: polled, published and alarmed within {elapsed:.1f} s")


def test_state_file_modes(tmp_path, broker, sim, subscriber, daemon):
    """ledger.db, spool.db, rules.state (and SQLite's -wal/-shm) are 0600,
    the state directory 0750, also when an older version left them wider."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    # a spool from a version that created it 0644
    import sqlite3
    db = sqlite3.connect(str(state / "spool.db"))
    db.execute("CREATE TABLE x(a)")
    db.close()
    os.chmod(state / "spool.db", 0o644)
    sub = subscriber("plantroom/#")

    def fast_save(cfg):
        cfg["rules_state"] = {"save_interval_s": 1}
    config = make_config(tmp_path, broker["port"], sim.port, fast_save)
    d = daemon(config)
    wait_for(lambda: sub.json_messages("devices/lift-1/telemetry"), 10, "telemetry")
    wait_for(lambda: (state / "rules.state").exists(), 10, "rules.state saved")
    assert d.proc.stop() == 0
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o750
    for f in state.iterdir():
        if f.name.startswith(("ledger.db", "spool.db", "rules.state", "notify.db")):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f"{f.name} is not 0600"
