# SPDX-License-Identifier: Apache-2.0
"""Modbus resilience against real faults of plantroom-sim (sim_control.h).

A silent device goes offline and comes back while its neighbour on the same
bus keeps getting good readings; a Modbus exception fails only the points of
its block and is named in telemetry; garbage and a dropped connection are
survived; the simulator killed and restarted is reconnected to.
"""
import signal
import time

from conftest import Proc, binary, make_config, wait_for

STATUS = "devices/{}/status"
TELE = "devices/{}/telemetry"


def fast_config(tmp_path, broker, sim, extra=None):
    def mutate(cfg):
        cfg["buses"][0]["timeout_ms"] = 300
        cfg["buses"][0]["reconnect_max_ms"] = 500
        for d in cfg["devices"]:
            d["offline_after"] = 2
            d["backoff_max_ms"] = 1000
        if extra:
            extra(cfg)
    return make_config(tmp_path, broker["port"], sim.port, mutate)


def statuses(sub, dev):
    return [m["status"] for m in sub.json_messages(STATUS.format(dev))]


def good(msg):
    return all(p["quality"] == "good" for p in msg["points"].values())


def tele(sub, dev, since=0):
    return sub.json_messages(TELE.format(dev))[since:]


def test_silent_device_offline_and_back_neighbour_unharmed(tmp_path, broker, sim, subscriber,
                                                           daemon):
    sub = subscriber("plantroom/#")
    d = daemon(fast_config(tmp_path, broker, sim))
    wait_for(lambda: "online" in statuses(sub, "lift-2"), 15, "lift-2 online")
    wait_for(lambda: [m for m in tele(sub, "lift-1") if good(m)], 10, "good lift-1 telemetry")

    sim.set("lift-2.fault", "silent")
    wait_for(lambda: statuses(sub, "lift-2")[-1:] == ["offline"], 15, "lift-2 offline")
    off = sub.json_messages(STATUS.format("lift-2"))[-1]
    assert "timed out" in off["error"]

    # While lift-2 is silent, lift-1 (same bus, same connection) keeps a
    # steady stream of good readings and never sees an error.
    n0 = len(tele(sub, "lift-1"))
    wait_for(lambda: len(tele(sub, "lift-1", n0)) >= 8, 10, "8 more lift-1 readings")
    during = tele(sub, "lift-1", n0)
    assert all(good(m) for m in during), during
    assert statuses(sub, "lift-1")[-1] == "online"
    # A timeout is not a link error: the connection was never dropped.
    log = d.log()
    assert "disconnected" not in log
    assert log.count("bus sim: connected to") == 1
    assert "probing with backoff" in log

    sim.set("lift-2.fault", "none")
    wait_for(lambda: statuses(sub, "lift-2")[-1:] == ["online"], 15, "lift-2 back online")
    wait_for(lambda: [m for m in tele(sub, "lift-2")[-3:] if good(m)], 10, "good lift-2 again")


def test_exception_fails_only_its_block(tmp_path, broker, sim, subscriber, daemon):
    def extra(cfg):
        # lift-1's map has 14 holding registers: 1000 is an illegal address,
        # read in a request of its own.
        lift1 = [d for d in cfg["devices"] if d["name"] == "lift-1"][0]
        lift1["points"] = [{"name": "beyond", "table": "holding", "address": 1000}]
    sub = subscriber("plantroom/#")
    daemon(fast_config(tmp_path, broker, sim, extra))
    m = wait_for(lambda: tele(sub, "lift-1"), 15, "lift-1 telemetry")[-1]
    pts = m["points"]
    assert pts["beyond"]["quality"] == "comm_error"
    assert pts["beyond"]["error"] == "illegal data address"
    assert pts["vibration_machine"]["quality"] == "good"
    assert pts["door_cycles"]["quality"] == "good"
    assert statuses(sub, "lift-1") == ["online"]

    # A device answering every request with an exception is online, its
    # points are comm_error with the exception's name.
    sim.set("lift-2.fault", "exception:6")
    wait_for(lambda: [x for x in tele(sub, "lift-2")
                      if x["points"]["floor"].get("error") == "server device busy"],
             10, "lift-2 telemetry naming the exception")
    assert "offline" not in statuses(sub, "lift-2")


def test_garbage_and_disconnect_are_survived(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    d = daemon(fast_config(tmp_path, broker, sim))
    wait_for(lambda: [m for m in tele(sub, "lift-2") if good(m)], 15, "good lift-2 telemetry")

    sim.set("lift-2.fault", "garbage")
    wait_for(lambda: statuses(sub, "lift-2")[-1:] == ["offline"], 15, "lift-2 offline (garbage)")
    sim.set("lift-2.fault", "none")
    n = len(tele(sub, "lift-2"))
    wait_for(lambda: [m for m in tele(sub, "lift-2", n) if good(m)], 15, "good lift-2 after garbage")

    sim.set("lift-2.fault", "disconnect")
    d.wait_log("disconnected")
    sim.set("lift-2.fault", "none")
    n = len(tele(sub, "lift-1"))
    wait_for(lambda: [m for m in tele(sub, "lift-1", n) if good(m)], 15, "good lift-1 after drops")
    n = len(tele(sub, "lift-2"))
    wait_for(lambda: [m for m in tele(sub, "lift-2", n) if good(m)], 15, "good lift-2 after drops")


def test_reconnect_after_simulator_restart(tmp_path, broker, sim, subscriber, daemon, procs):
    sub = subscriber("plantroom/#")
    d = daemon(fast_config(tmp_path, broker, sim))
    wait_for(lambda: [m for m in tele(sub, "lift-1") if good(m)], 15, "good lift-1 telemetry")

    sim.proc.p.send_signal(signal.SIGKILL)
    sim.proc.p.wait()
    wait_for(lambda: statuses(sub, "lift-1")[-1:] == ["offline"], 15, "lift-1 offline")
    time.sleep(0.5)  # a few reconnect attempts fail while the port is closed

    port_file = tmp_path / "sim2.port"
    p = Proc("plantroom-sim", [binary("plantroom-sim"), "--port", str(sim.port),
                                "--port-file", str(port_file)], tmp_path / "sim2.log")
    procs.append(p)
    wait_for(port_file.exists, 10, "the simulator to listen again")
    wait_for(lambda: statuses(sub, "lift-1")[-1:] == ["online"], 15, "lift-1 online again")
    n = len(tele(sub, "lift-2"))
    wait_for(lambda: [m for m in tele(sub, "lift-2", n) if good(m)], 10, "good lift-2 again")
    assert d.log().count("bus sim: connected to") >= 2


def test_late_answers_do_not_confuse_neighbours(tmp_path, broker, sim, subscriber, daemon):
    """lift-2 answers after 450 ms, past its 300 ms timeout: its late
    answers arrive while lift-1 is being read on the same connection. They
    must be flushed or caught by the transaction id, never decoded as
    lift-1's registers, and the connection stays up."""
    sub = subscriber("plantroom/#")
    d = daemon(fast_config(tmp_path, broker, sim))
    wait_for(lambda: [m for m in tele(sub, "lift-1") if good(m)], 15, "good lift-1 telemetry")
    sim.set("lift-2.fault", "slow:450")
    wait_for(lambda: statuses(sub, "lift-2")[-1:] == ["offline"], 15, "lift-2 offline (slow)")
    n = len(tele(sub, "lift-1"))
    wait_for(lambda: len(tele(sub, "lift-1", n)) >= 10, 15, "10 more lift-1 readings")
    for m in tele(sub, "lift-1", n):
        assert good(m), m
        assert m["points"]["run_hours"]["value"] >= 13210  # lift-1's counter, not lift-2's
    assert "disconnected" not in d.log()
    assert "Invalid data" not in d.log()
    sim.set("lift-2.fault", "none")
    wait_for(lambda: statuses(sub, "lift-2")[-1:] == ["online"], 15, "lift-2 back online")
