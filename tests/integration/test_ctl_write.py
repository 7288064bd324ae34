# SPDX-License-Identifier: Apache-2.0
"""plantroomctl write: a Modbus write through the running daemon's bus thread,
answered once the device answered, done as the caller's Unix user (the
control socket's SO_PEERCRED, not --by) and audited with the point's old
and new value. Only points that opt in ("write" in their profile or the
site config) are written, within their bounds: a read-only or unlisted
point, a value below min or above max, bits a control word may not set, a
huge number or NaN are refused with the reason and nothing reaches the bus
(the simulator's count of write requests does not move). Real simulator,
real daemon, real control socket, real ledger."""
import json
import pwd
import os
import socket
import sqlite3

from conftest import ctl, make_config, wait_for


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def point(st, device, name):
    dev = next(d for d in st["devices"] if d["name"] == device)
    return next(p for p in dev["points"] if p["name"] == name)


def audit_writes(d):
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    rows = con.execute("SELECT actor, channel, detail FROM audit WHERE action = 'write' "
                       "ORDER BY id").fetchall()
    con.close()
    return [(a, c, json.loads(t)) for a, c, t in rows]


def raw(sock, line):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock))
        s.sendall(line + b"\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data.decode().splitlines()[0])


def test_write_stops_and_starts_a_pump_and_is_audited(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("device pump-1 online")
    wait_for(lambda: (tmp_path / "state" / "control.sock").exists(), 15, "the control socket")
    me = pwd.getpwuid(os.geteuid()).pw_name
    before = point(status(config), "pump-1", "control_word")["value"]

    # Stop (ABB control word 0x0476), then run (0x047F); the drive's status
    # word follows, read back by the daemon's own polling. --by is only a
    # claim: the write is done and audited as the socket's Unix user.
    r = ctl(config, "write", "pump-1", "control_word", str(0x0476), "--by", "alice")
    assert f"wrote pump-1.control_word = 1142 (written, as {me})" in r.stdout
    wait_for(lambda: point(status(config), "pump-1", "control_word")["value"] == 0x0476, 10,
             "the control word to read back as written")
    assert f"write pump-1.control_word = 1142 by {me}: done" in d.log()
    r = ctl(config, "write", "pump-1", "control_word", str(0x047F), "--json")
    assert json.loads(r.stdout)["value"] == 0x047F
    assert sim.writes() == 2

    rows = wait_for(lambda: len(audit_writes(d)) >= 2 and audit_writes(d), 10, "audit rows")
    actor, channel, det = rows[0]
    assert (actor, channel) == (me, "control")
    assert det["device"] == "pump-1" and det["point"] == "control_word"
    assert det["new"] == 1142 and det["old"] == before and det["result"] == "done"
    assert det["uid"] == os.geteuid() and det["claimed_by"] == "alice"
    assert rows[1][2]["old"] == 1142 and rows[1][2]["new"] == 0x047F
    assert ctl(config, "audit", "verify").returncode == 0


def test_writes_outside_what_a_point_allows_are_refused_and_nothing_is_sent(tmp_path, broker,
                                                                            sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("device pump-1 online")
    sock = tmp_path / "state" / "control.sock"
    wait_for(sock.exists, 15, "the control socket")
    assert sim.writes() == 0

    refusals = [
        # a bit of the status word, an input register, a register no profile opens
        (("pump-1", "tripped", "1"), "bit field"),
        (("meter-main", "voltage_l1", "230"), "read-only"),
        (("pump-1", "current", "5"), "current is not writable"),
        # below min, above max (speed reference 0..100 %, pressure 0..10 bar)
        (("pump-1", "speed_reference", "-1"), "below the minimum 0"),
        (("pump-1", "speed_reference", "101"), "above the maximum 100"),
        (("pump-1", "pressure_setpoint", "1e300"), "above the maximum 10"),
        # the control word: only the bits the profile lists
        (("pump-1", "control_word", str(0x0800)), "sets bits outside the allowed"),
        (("pump-1", "control_word", "1e300"), "sets bits outside the allowed"),
        (("pump-9", "control_word", "1"), "pump-9"),
    ]
    for args, why in refusals:
        r = ctl(config, "write", *args, check=False)
        assert r.returncode == 1 and why in r.stderr, (args, r.stderr)
    # NaN and infinity are no JSON numbers: refused before the daemon
    r = ctl(config, "write", "pump-1", "pressure_setpoint", "nan", check=False)
    assert r.returncode == 2 and "VALUE must be a number" in r.stderr
    a = raw(sock, b'{"cmd":"write","device":"pump-1","point":"pressure_setpoint","value":NaN}')
    assert a["ok"] is False and "not JSON" in a["error"]
    a = raw(sock, b'{"cmd":"write","device":"pump-1","point":"pressure_setpoint","value":1e999}')
    assert a["ok"] is False and "not a finite number" in a["error"]

    # nothing reached the bus; a valid write after them is the first one
    ctl(config, "write", "pump-1", "pressure_setpoint", "4.5")
    assert sim.writes() == 1
    rows = wait_for(lambda: len(audit_writes(d)) >= 11 and audit_writes(d), 10, "audit rows")
    results = [r[2]["result"] for r in rows]
    assert results.count("refused") == 10 and results[-1] == "done", results
    assert all(r[1] == "control" and r[2]["error"] for r in rows if r[2]["result"] == "refused")
    assert d.proc.alive()
