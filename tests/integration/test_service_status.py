# SPDX-License-Identifier: Apache-2.0
"""plantroomd as a service: `plantroomctl status/reload/backup` over the
control socket, the Prometheus endpoint, and their figures checked against
what the simulator is doing."""
import json
import os
import signal
import sqlite3
import stat
import subprocess
import urllib.error
import urllib.request

from conftest import Proc, binary, ctl, free_port, make_config, wait_for


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


def status(config):
    r = ctl(config, "status", "--json")
    return json.loads(r.stdout)


def by_name(items, name):
    return next(i for i in items if i["name"] == name)


def point(st, device, name):
    return by_name(by_name(st["devices"], device)["points"], name)


def with_metrics(port):
    def mutate(cfg):
        cfg["metrics"] = {"enabled": True, "address": "127.0.0.1", "port": port}
    return mutate


def test_status_and_metrics_follow_the_simulator(tmp_path, broker, sim, daemon):
    mport = free_port()
    config = make_config(tmp_path, broker["port"], sim.port, mutate=with_metrics(mport))
    sim.set("lift-1.vibration_machine", 2.5)
    sim.set("lift-2.vibration_machine", 5.5)  # above 4.5 for 1 s: lift-2's rule fires
    d = daemon(config)
    d.wait_log("device meter-main online")

    def all_online_at_control_values():
        st = status(config)
        ok = all(dev["online"] for dev in st["devices"]) and st["mqtt"]["connected"]
        v1 = point(st, "lift-1", "vibration_machine")["value"]
        v2 = point(st, "lift-2", "vibration_machine")["value"]
        near = v1 is not None and v2 is not None and abs(v1 - 2.5) < 0.3 and abs(v2 - 5.5) < 0.3
        return st if ok and near else None
    st = wait_for(all_online_at_control_values, 15,
                  "every device online, the broker connected, values at the simulator's")
    assert st["site"] == "test-site"
    names = [dev["name"] for dev in json.loads(config.read_text())["devices"]]
    assert [dev["name"] for dev in st["devices"]] == names
    bus = by_name(st["buses"], "sim")
    assert bus["connected"] is True and bus["devices"] == len(names)
    assert bus["devices_online"] == len(names)
    assert bus["port"] == sim.port
    v1 = point(st, "lift-1", "vibration_machine")
    assert v1["quality"] == "good" and v1["unit"] == "mm/s"
    assert abs(v1["value"] - 2.5) < 0.3
    assert abs(point(st, "lift-2", "vibration_machine")["value"] - 5.5) < 0.3
    lift1 = by_name(st["devices"], "lift-1")
    assert lift1["polls"] > 0 and lift1["errors"] == 0 and lift1["last_poll"]

    # lift-2's rule fires, the ledger counts one open order.
    def fired():
        s = status(config)
        rule = next(r for r in s["rules"] if r["device"] == "lift-2")
        wo = s["ledger"]["work_orders"]
        return s if rule["state"] == "firing" and wo and wo["open"] == 1 else None
    st = wait_for(fired, 20, "lift-2's rule firing and one open work order")
    assert next(r for r in st["rules"] if r["device"] == "lift-1")["state"] == "normal"

    # The metrics endpoint agrees (its snapshot is at most a second old) and
    # its counters move.
    m1 = wait_for(lambda: (lambda m: m if m['plantroom_workorders{status="open"}'] == 1 else None)(
        metrics(mport)), 5, "the open work order in the metrics")
    assert m1['plantroom_device_online{device="lift-1",bus="sim"}'] == 1
    assert m1['plantroom_bus_connected{bus="sim"}'] == 1
    assert m1["plantroom_mqtt_connected"] == 1
    assert m1['plantroom_rule_firing{device="lift-2",rule="vibration-high"}'] == 1
    assert m1['plantroom_rule_firing{device="lift-1",rule="vibration-high"}'] == 0
    assert m1['plantroom_workorders{status="open"}'] == 1
    assert sum(v for k, v in m1.items() if k.startswith("plantroom_hook_deliveries_total")) == 0
    assert m1['plantroom_bus_poll_errors_total{bus="sim"}'] == 0
    assert m1["plantroom_mqtt_telemetry_published_total"] > 0
    assert m1['plantroom_bus_poll_latency_seconds_count{bus="sim"}'] == \
        m1['plantroom_bus_polls_total{bus="sim"}']
    polls_before = sum(dev["polls"] for dev in st["devices"])
    assert m1['plantroom_bus_polls_total{bus="sim"}'] >= polls_before
    m2 = wait_for(lambda: (lambda m: m if m['plantroom_bus_polls_total{bus="sim"}'] >
                           m1['plantroom_bus_polls_total{bus="sim"}'] else None)(metrics(mport)),
                  10, "bus polls to increase")
    assert m2["plantroom_points_read_total"] > m1["plantroom_points_read_total"]
    assert status(config)["loop"]["points_per_s"] > 0

    # The human form shows the same.
    text = ctl(config, "status").stdout
    assert "lift-2" in text and "firing" in text and "vibration_machine" in text

    # The simulator dies: devices go offline, errors count.
    sim.proc.stop()
    st = wait_for(lambda: (lambda s: s if not by_name(s["devices"], "lift-1")["online"] else None)(
        status(config)), 15, "lift-1 offline in status")
    lift1 = by_name(st["devices"], "lift-1")
    assert lift1["status"] == "offline" and lift1["errors"] > 0 and lift1["last_error"]
    assert point(st, "lift-1", "vibration_machine")["quality"] == "comm_error"
    assert point(st, "lift-1", "vibration_machine")["value"] is None
    m3 = wait_for(lambda: (lambda m: m if m['plantroom_device_online{device="lift-1",bus="sim"}']
                           == 0 else None)(metrics(mport)), 10, "lift-1 offline in metrics")
    assert m3['plantroom_bus_poll_errors_total{bus="sim"}'] > 0

    # Only /metrics is served.
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{mport}/", timeout=5)
        assert False, "/ should be 404"
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_reload_over_the_socket_keeps_log_level_and_reports_errors(tmp_path, broker, sim, procs):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = Proc("plantroomd", [binary("plantroomd"), "--config", str(config), "--log-level", "debug"],
             tmp_path / "plantroomd.log")
    procs.append(d)
    sock = tmp_path / "state" / "control.sock"
    wait_for(lambda: sock.exists(), 15, "the control socket")
    # bound first, then chmod'ed: wait for the mode rather than race it
    wait_for(lambda: stat.S_IMODE(os.stat(sock).st_mode) == 0o660, 10, "the socket's mode 0660")
    assert status(config)["log_level"] == "debug"

    cfg = json.loads(config.read_text())
    cfg["rules"][1]["above"] = 0.5
    cfg["metrics"] = {"enabled": True, "port": 9464}
    config.write_text(json.dumps(cfg))
    r = ctl(config, "reload")
    assert "reloaded" in r.stdout and f"{len(cfg['devices'])} devices" in r.stdout
    assert "configuration reloaded" in d.output()
    # Taken at start only, and it says so.
    assert "metrics settings changed: restart plantroomd to apply them" in d.output()
    assert "control settings changed" not in d.output()
    # --log-level from the command line survives the reload (file says info).
    assert status(config)["log_level"] == "debug"

    cfg["devices"][0]["interval_ms"] = 5
    config.write_text(json.dumps(cfg))
    r = ctl(config, "reload", "--json", check=False)
    assert r.returncode == 1
    assert "devices[0].interval_ms: must be at least 50, got 5" in r.stderr
    assert json.loads(r.stdout)["ok"] is False
    assert d.alive()
    # The same over SIGHUP, and the level still holds.
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.output().count("keeping the running configuration") >= 2, 10,
             "the SIGHUP reload to be refused")
    assert status(config)["log_level"] == "debug"


def test_backup_while_running_restores_to_a_readable_ledger(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    sim.set("lift-1.vibration_machine", 5.2)
    d = daemon(config)
    d.wait_log("work order #1 opened", timeout=20)

    backup = tmp_path / "backup" / "ledger-copy.db"
    backup.parent.mkdir()
    r = ctl(config, "backup", str(backup))
    assert "backed up" in r.stdout
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert not (tmp_path / "backup" / "ledger-copy.db.new").exists()
    # Self-contained: a plain file in rollback-journal mode, complete.
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # The copy reads like the live ledger.
    live = json.loads(ctl(config, "workorders", "list", "--json").stdout)
    copy = json.loads(ctl(config, "--ledger", str(backup), "workorders", "list", "--json").stdout)
    assert [w["id"] for w in copy] == [w["id"] for w in live]
    assert copy[0]["device"] == "lift-1" and copy[0]["status"] == "open"

    # Never overwrites.
    r = ctl(config, "backup", str(backup), check=False)
    assert r.returncode == 1 and "already exists" in r.stderr

    # Restore: stop, put the copy in place, start; the daemon carries on
    # with the same order (touched, not a second one).
    d.proc.stop()
    ledger = d.ledger_path()
    for suffix in ("", "-wal", "-shm"):
        p = ledger.with_name(ledger.name + suffix)
        if p.exists():
            p.unlink()
    ledger.write_bytes(backup.read_bytes())
    os.chmod(ledger, 0o600)
    d2 = daemon(config, log_name="plantroomd-2.log")
    d2.wait_log("device lift-1 online")
    wait_for(lambda: status(config)["ledger"]["work_orders"], 15, "ledger counts")
    st = status(config)
    assert st["ledger"]["work_orders"]["open"] == 1
    listed = json.loads(ctl(config, "workorders", "list", "--json").stdout)
    assert [w["id"] for w in listed] == [w["id"] for w in live]


def test_status_without_a_daemon_says_so(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"site": {"id": "x"}, "state_dir": str(tmp_path / "nostate")}))
    r = subprocess.run([binary("plantroomctl"), "--config", str(config), "status"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "cannot reach plantroomd at " + str(tmp_path / "nostate" / "control.sock") in r.stderr
    assert "is it running?" in r.stderr
