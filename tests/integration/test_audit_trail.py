# SPDX-License-Identifier: Apache-2.0
"""The audit trail as a hash chain, against what sqlite3 can do to the file.
Rows written by a running daemon (a rule, plantroomctl, a write) verify
intact; each tampering with the sqlite3 shell - a row deleted, changed, two
rows swapped, the horizon moved ("UPDATE audit_horizon SET before_ts =
9999999999999; DELETE FROM audit") - makes plantroomctl audit verify exit 3
naming the row; the plain statements are refused by the triggers already.
A hash damaged under a running daemon stops no commit: an alarm names the
row once, and verify names that row alone.
A retention purge cuts the old end and verifies clean. Rows chained by an
independent implementation of the hash (Python's hashlib) verify too, so
the format is what docs/security.md says."""
import hashlib
import json
import shutil
import sqlite3
import subprocess
import time

from conftest import ctl, make_config, wait_for


def sh(db, sql, check=True):
    r = subprocess.run(["sqlite3", str(db), sql], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def verify(config, ledger, *extra):
    return ctl(config, "--ledger", str(ledger), "audit", "verify", *extra, check=False)


def row_hash(prev, row):
    """SHA-256(prev || each field length-prefixed), as store/ledger_audit.c."""
    h = hashlib.sha256(prev)
    for v in row:
        if v is None:
            h.update(b"\0")
        else:
            b = str(v).encode()
            h.update(b"\1" + len(b).to_bytes(4, "big") + b)
    return h.digest()


def populated(tmp_path, broker, sim, daemon):
    """A ledger with a work order acknowledged and started, and a write."""
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")
    ctl(config, "workorders", "ack", "1", "--by", "alice")
    ctl(config, "workorders", "start", "1", "--by", "alice")
    wait_for((tmp_path / "state" / "control.sock").exists, 10, "the control socket")
    ctl(config, "write", "pump-1", "speed_reference", "50")
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    wait_for(lambda: con.execute("SELECT count(*) FROM audit WHERE action = 'write'"
                                 ).fetchone()[0] == 1, 10, "the write's audit row")
    con.close()
    assert d.proc.stop() == 0
    return config, d.ledger_path()


def ids_by_action(ledger):
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    rows = con.execute("SELECT id, action FROM audit ORDER BY id").fetchall()
    con.close()
    return {a: i for i, a in rows}, rows


def test_tampering_with_sqlite3_is_found_and_named(tmp_path, broker, sim, daemon):
    config, ledger = populated(tmp_path, broker, sim, daemon)
    ids, rows = ids_by_action(ledger)
    for action in ("opened", "acknowledged", "started", "write"):
        assert action in ids, rows
    ack, started, write, last = ids["acknowledged"], ids["started"], ids["write"], rows[-1][0]
    r = verify(config, ledger, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] is True and rep["rows"] == len(rows) and rep["work_orders"] == 1
    head = f"{rep['head']['id']}:{rep['head']['hash']}"

    # the plain statements are refused: the horizon moves only with a purge
    r = sh(ledger, "UPDATE audit_horizon SET before_ts = 9999999999999; DELETE FROM audit",
           check=False)
    assert r.returncode != 0 and "audit horizon" in r.stderr
    assert sh(ledger, "SELECT count(*) FROM audit").stdout.strip() == str(len(rows))
    assert sh(ledger, f"DELETE FROM audit WHERE id = {ack}", check=False).returncode != 0
    assert sh(ledger, f"UPDATE audit SET actor = 'bob' WHERE id = {ack}",
              check=False).returncode != 0
    assert verify(config, ledger).returncode == 0

    drop = ("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
            " DROP TRIGGER audit_horizon_forward;")
    cases = [
        (f"DELETE FROM audit WHERE id = {ack}", "missing", ack),
        (f"UPDATE audit SET actor = 'bob' WHERE id = {ack}", "changed", ack),
        (f"UPDATE audit SET detail = '{{\"new\":100}}' WHERE id = {write}", "changed", write),
        (f"UPDATE audit SET id = -1 WHERE id = {ack}; UPDATE audit SET id = {ack} WHERE id = "
         f"{ack + 1}; UPDATE audit SET id = {ack + 1} WHERE id = -1", "changed", ack),
        ("UPDATE audit_horizon SET before_ts = 9999999999999; DELETE FROM audit",
         "horizon_moved", 1),
        ("UPDATE audit_horizon SET before_ts = 9999999999999, before_id = 99;"
         " DELETE FROM audit", "horizon_moved", 99),
        ("DELETE FROM audit", "work_order_rows_missing", 1),
        (f"DELETE FROM audit WHERE id >= {started}", "work_order_rows_missing", started),
    ]
    for i, (sql, problem, row) in enumerate(cases):
        copy = tmp_path / f"tampered-{i}.db"
        shutil.copy(ledger, copy)
        sh(copy, drop + sql)
        r = verify(config, copy)
        assert r.returncode == 3, (sql, rows, r.stdout, r.stderr)
        assert f"BROKEN at row {row} ({problem})" in r.stdout, (sql, rows, r.stdout)
        rep = json.loads(verify(config, copy, "--json").stdout)
        assert rep["ok"] is False and rep["problem"] == problem and rep["row"] == row
    # the last row deleted, when no work order's status points at it: only
    # the head published earlier shows it
    copy = tmp_path / "tail.db"
    shutil.copy(ledger, copy)
    sh(copy, drop + f"DELETE FROM audit WHERE id = {write}" if write == last else
       drop + f"DELETE FROM audit WHERE id > {started}")
    r = verify(config, copy, "--head", head)
    assert r.returncode == 3 and "(head_mismatch)" in r.stdout, (rows, r.stdout)


def test_a_retention_purge_verifies_clean(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("ledger: opened")
    assert d.proc.stop() == 0
    ledger = d.ledger_path()
    # Six rows chained by this test's own hash, five of them 200 days old.
    now = int(time.time() * 1000)
    prev = bytes(32)
    con = sqlite3.connect(str(ledger))
    for i in range(1, 7):
        ts = now - (200 if i < 6 else 1) * 86400 * 1000
        row = (i, None, ts, "ops", "control", "write", None, None, json.dumps({"n": i}))
        prev = row_hash(prev, row)
        con.execute("INSERT INTO audit (id, wo_id, ts, actor, channel, action, from_status,"
                    " to_status, detail, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    row + (prev.hex(),))
    con.commit()
    con.close()
    rep = json.loads(verify(config, ledger, "--json").stdout)
    assert rep["ok"] is True and rep["rows"] == 6 and rep["head"]["hash"] == prev.hex()

    # the daemon purges at start (audit_retention_days 180): rows 1..5 go
    d = daemon(config, "plantroomd-2.log")
    d.wait_log("retention: 5 old rows purged")
    r = verify(config, ledger, "--json")
    assert r.returncode == 0, r.stdout
    rep = json.loads(r.stdout)
    assert rep["first_id"] == 6 and rep["horizon"]["before_id"] == 6 and rep["rows"] == 2
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    action, detail = con.execute("SELECT action, detail FROM audit WHERE id = 7").fetchone()
    con.close()
    assert action == "purged"
    assert json.loads(detail)["before_id"] == 6 and json.loads(detail)["rows"] == 5


def test_a_damaged_audit_hash_stops_no_commit(tmp_path, broker, sim, daemon):
    """The newest audit row's hash damaged under a running daemon (the
    triggers left in place, as a bad page or a bit flip leaves them): the
    next work order is still opened, the gateway alarm storage.audit names
    the row once, and audit verify names that row and nothing else."""
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    sim.set("lift-1.vibration_machine", 5.5)
    d.wait_log("work order #1 opened")
    con = sqlite3.connect(str(d.ledger_path()), timeout=30, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    row = con.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("UPDATE audit SET hash = 'damaged' WHERE id = ?", (row,))
    con.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL"
                " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END")
    con.execute("COMMIT")
    con.close()

    sim.set("lift-2.vibration_machine", 5.5)
    d.wait_log("work order #2 opened", timeout=30)
    wait_for((tmp_path / "state" / "control.sock").exists, 10, "the control socket")
    st = {}

    def alarmed():
        st.update(json.loads(ctl(config, "status", "--json").stdout))
        return any(a["key"] == "storage.audit" for a in st["alarms"])
    wait_for(alarmed, 30, "the alarm storage.audit")
    alarm = [a for a in st["alarms"] if a["key"] == "storage.audit"][0]
    assert f"row {row} " in alarm["detail"], alarm
    assert st["storage"]["ledger"]["audit_break_row"] == row
    # more commits past the break (an ack, and its audit row as the barrier):
    # the break is told once, not at every commit
    ctl(config, "workorders", "ack", "2", "--by", "alice")
    ro = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    wait_for(lambda: ro.execute("SELECT count(*) FROM audit WHERE action = 'acknowledged'"
                                ).fetchone()[0] == 1, 30, "the ack's audit row")
    total = ro.execute("SELECT count(*) FROM audit").fetchone()[0]
    ro.close()
    st = json.loads(ctl(config, "status", "--json").stdout)
    assert st["storage"]["ledger"]["audit_breaks"] == 1, st["storage"]
    assert d.log().count(f"audit row {row} has no valid hash") == 1, d.log()
    assert d.log().count("gateway alarm storage.audit") == 1, d.log()

    r = verify(config, d.ledger_path())
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"BROKEN at row {row} (unhashed)" in r.stdout, r.stdout
    rep = json.loads(verify(config, d.ledger_path(), "--json").stdout)
    assert rep["problem"] == "unhashed" and rep["row"] == row, rep
    assert rep["breaks"] == [row] and rep["break_count"] == 1, rep
    assert rep["rows"] >= total > row, (rep, total)
    assert d.proc.stop() == 0
