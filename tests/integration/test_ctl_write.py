"""plantroomctl write: a Modbus write through the running daemon's bus thread,
answered once the device answered; refused with the reason for read-only or
unknown points. Real simulator, real daemon, real control socket."""
import json

from conftest import ctl, make_config, wait_for


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def point(st, device, name):
    dev = next(d for d in st["devices"] if d["name"] == device)
    return next(p for p in dev["points"] if p["name"] == name)


def test_write_stops_and_starts_a_pump_and_refuses_read_only(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("device pump-1 online")
    wait_for(lambda: (tmp_path / "state" / "control.sock").exists(), 15, "the control socket")

    # Stop (ABB control word 0x0476), then run (0x047F); the drive's status
    # word follows, read back by the daemon's own polling.
    r = ctl(config, "write", "pump-1", "control_word", str(0x0476), "--by", "alice")
    assert "wrote pump-1.control_word = 1142" in r.stdout
    wait_for(lambda: point(status(config), "pump-1", "control_word")["value"] == 0x0476, 10,
             "the control word to read back as written")
    assert "write pump-1.control_word = 1142 by alice: done" in d.log()
    r = ctl(config, "write", "pump-1", "control_word", str(0x047F), "--json")
    assert json.loads(r.stdout)["value"] == 0x047F

    # Read-only (a bit of the status word, an input register) and unknown.
    r = ctl(config, "write", "pump-1", "tripped", "1", check=False)
    assert r.returncode == 1 and "tripped cannot be written: it is a bit field" in r.stderr
    r = ctl(config, "write", "meter-main", "voltage_l1", "230", check=False)
    assert r.returncode == 1 and "read-only" in r.stderr
    r = ctl(config, "write", "pump-9", "control_word", "1", check=False)
    assert r.returncode == 1 and "pump-9" in r.stderr
    r = ctl(config, "write", "pump-1", "control_word", "fast", check=False)
    assert r.returncode == 2 and "VALUE must be a number" in r.stderr
    assert d.proc.alive()
