# SPDX-License-Identifier: Apache-2.0
"""Modbus RTU over a socat pseudo-terminal pair: plantroom-sim serves the
building on one end (--rtu), plantroomd polls several unit ids on the other
end, one thread, one request at a time, with a pause between requests."""
import shutil

import pytest

from conftest import Proc, binary, free_port, make_config, wait_for


@pytest.fixture
def pty_pair(tmp_path, procs):
    if not shutil.which("socat"):
        pytest.skip("socat not installed")
    a, b = tmp_path / "sim.tty", tmp_path / "gw.tty"
    p = Proc("socat", ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
             tmp_path / "socat.log")
    procs.append(p)
    wait_for(lambda: a.exists() and b.exists(), 10, "socat's pty pair")
    return a, b


@pytest.fixture
def rtu_sim(tmp_path, procs, pty_pair):
    control = tmp_path / "sim.control"
    control.write_text("")
    port_file = tmp_path / "sim.port"
    p = Proc("plantroom-sim", [binary("plantroom-sim"), "--port", "0", "--port-file",
                               str(port_file), "--control", str(control),
                               "--rtu", str(pty_pair[0]), "--rtu-baud", "19200"],
             tmp_path / "sim.log")
    procs.append(p)
    wait_for(port_file.exists, 10, "plantroom-sim to start")
    return {"port": int(port_file.read_text()), "control": control, "tty": pty_pair[1]}


def good(m):
    return all(p["quality"] == "good" for p in m["points"].values())


def tele(sub, dev, since=0):
    return sub.json_messages(f"devices/{dev}/telemetry")[since:]


def test_rtu_polls_several_units_and_survives_a_silent_one(tmp_path, broker, rtu_sim,
                                                          subscriber, daemon):
    def mutate(cfg):
        cfg["buses"] = [{"name": "rs485", "type": "rtu", "device": str(rtu_sim["tty"]),
                         "baud": 19200, "parity": "none", "rs485": True, "timeout_ms": 300,
                         "pause_ms": 5, "connect_pause_ms": 50}]
        for d in cfg["devices"]:
            d["bus"] = "rs485"
            d["offline_after"] = 2
        cfg["devices"] = [d for d in cfg["devices"] if d["name"] in ("lift-1", "lift-2",
                                                                     "tank-1")]
    sub = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], rtu_sim["port"], mutate))
    for dev in ("lift-1", "lift-2", "tank-1"):
        wait_for(lambda: [m for m in tele(sub, dev) if good(m)], 15, f"good {dev} over RTU")
    tank = [m for m in tele(sub, "tank-1") if good(m)][-1]["points"]
    assert tank["range_full"]["value"] == 5.0 and tank["decimals"]["value"] == 2

    rtu_sim["control"].write_text("lift-2.fault=silent\n")
    wait_for(lambda: [m for m in sub.json_messages("devices/lift-2/status")
                      if m["status"] == "offline"], 15, "lift-2 offline")
    n = len(tele(sub, "lift-1"))
    wait_for(lambda: len(tele(sub, "lift-1", n)) >= 6, 10, "6 more lift-1 readings")
    assert all(good(m) for m in tele(sub, "lift-1", n))
    rtu_sim["control"].write_text("")
    wait_for(lambda: sub.json_messages("devices/lift-2/status")[-1]["status"] == "online", 15,
             "lift-2 online again")
    assert "cannot set RS-485 mode" not in d.log()  # a pty's ENOTTY is not an error


def test_rtu_over_tcp(tmp_path, broker, procs, subscriber, daemon):
    """RTU frames over a TCP connection, as a serial device server carries
    them: several unit ids on one connection, and a reconnection after the
    server goes away and comes back."""
    rtt = free_port()
    port_file = tmp_path / "sim.port"
    args = [binary("plantroom-sim"), "--port", "0", "--port-file", str(port_file),
            "--rtu-tcp", str(rtt)]
    p = Proc("plantroom-sim", args, tmp_path / "sim.log")
    procs.append(p)
    wait_for(port_file.exists, 10, "plantroom-sim to start")

    def mutate(cfg):
        cfg["buses"] = [{"name": "nport", "type": "rtu-tcp", "host": "127.0.0.1", "port": rtt,
                         "timeout_ms": 300, "reconnect_max_ms": 300}]
        for d in cfg["devices"]:
            d["bus"] = "nport"
        cfg["devices"] = [d for d in cfg["devices"] if d["name"] in ("lift-1", "tank-1")]
        cfg["rules"] = [r for r in cfg["rules"] if r["device"] == "lift-1"]
    sub = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], 1, mutate))
    for dev in ("lift-1", "tank-1"):
        wait_for(lambda: [m for m in tele(sub, dev) if good(m)], 15, f"good {dev} over RTU/TCP")
    assert "RTU over TCP" in d.log()

    p.stop()
    wait_for(lambda: sub.json_messages("devices/lift-1/status")[-1]["status"] == "offline", 15,
             "lift-1 offline")
    port_file.unlink()
    procs.append(Proc("plantroom-sim", args, tmp_path / "sim2.log"))
    wait_for(port_file.exists, 10, "plantroom-sim to start again")
    wait_for(lambda: sub.json_messages("devices/lift-1/status")[-1]["status"] == "online", 15,
             "lift-1 online again")


def test_rtu_serial_adapter_unplugged_and_back(tmp_path, broker, procs, subscriber, daemon):
    """The serial port disappears (socat, standing in for a USB adapter,
    is stopped) and comes back under the same name: the bus reopens it."""
    if not shutil.which("socat"):
        pytest.skip("socat not installed")
    a, b = tmp_path / "sim.tty", tmp_path / "gw.tty"

    def plug(n):
        s = Proc("socat", ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                 tmp_path / f"socat{n}.log")
        procs.append(s)
        wait_for(lambda: a.exists() and b.exists(), 10, "socat's pty pair")
        m = Proc("plantroom-sim", [binary("plantroom-sim"), "--port", "0", "--rtu", str(a)],
                 tmp_path / f"sim{n}.log")
        procs.append(m)
        wait_for(lambda: "rtu: serving" in m.output(), 10, "the simulator on the pty")
        return s, m

    socat, sim = plug(1)

    def mutate(cfg):
        cfg["buses"] = [{"name": "usb", "type": "rtu", "device": str(b), "timeout_ms": 300,
                         "reconnect_max_ms": 300}]
        cfg["devices"] = [dict(d, bus="usb", offline_after=2) for d in cfg["devices"]
                          if d["name"] == "lift-1"]
        cfg["rules"] = [r for r in cfg["rules"] if r["device"] == "lift-1"]
    sub = subscriber("plantroom/#")
    d = daemon(make_config(tmp_path, broker["port"], 1, mutate))
    wait_for(lambda: [m for m in tele(sub, "lift-1") if good(m)], 15, "good lift-1 over RTU")

    socat.stop()
    sim.stop()
    wait_for(lambda: sub.json_messages("devices/lift-1/status")[-1]["status"] == "offline", 15,
             "lift-1 offline")
    plug(2)
    wait_for(lambda: sub.json_messages("devices/lift-1/status")[-1]["status"] == "online", 20,
             "lift-1 online again")
    assert d.log().count("bus usb: connected to") >= 2
