# SPDX-License-Identifier: Apache-2.0
"""Interop: plantroomd polls a pymodbus server (code we did not write) over
TCP and over RTU, and decodes every type in every byte order right."""
import json
import shutil
import socket
import struct
import sys

import pytest

from conftest import HERE, Proc, free_port, make_config, wait_for

ORDERS = ["ABCD", "CDAB", "BADC", "DCBA"]
# name, type, struct format, value, registers
VALUES = [
    ("int16", "h", -1234),
    ("uint16", "H", 54321),
    ("int32", "i", -123456789),
    ("uint32", "I", 3000000000),
    ("int64", "q", -1234567890123),
    ("uint64", "Q", 12345678901234567),
    ("float32", "f", -1234.5),
    ("float64", "d", 3.141592653589793),
]


def registers(fmt, value, order):
    """The value's big-endian bytes laid out as registers in an order."""
    b = struct.pack(">" + fmt, value)
    words = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def string_registers(text, nregs, order):
    b = text.encode().ljust(2 * nregs, b"\0")
    words = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def build():
    """The layout pymodbus serves, the points plantroomd reads, and what
    each point must decode to. DCBA points give no order: they take the
    device's byte_order."""
    hr, points, expect = {}, [], {}
    for oi, order in enumerate(ORDERS):
        addr = oi * 40
        for name, fmt, value in VALUES:
            regs = registers(fmt, value, order)
            for i, r in enumerate(regs):
                hr[str(addr + i)] = r
            pt = {"name": f"{name}_{order}", "address": addr, "type": name}
            if order != "DCBA":
                pt["order"] = order
            points.append(pt)
            expect[pt["name"]] = float(value) if name != "float32" else value
            addr += len(regs)
        for i, r in enumerate(string_registers("PLANTROOM", 5, order)):
            hr[str(addr + i)] = r
        pt = {"name": f"string_{order}", "address": addr, "type": "string", "length": 5}
        if order != "DCBA":
            pt["order"] = order
        points.append(pt)
        expect[pt["name"]] = "PLANTROOM"
    ir = {"0": 0x4321, "1": 0xFFFF}
    points += [
        {"name": "in_scaled", "address": "30001", "scale": 0.1, "offset": -5, "order": "ABCD"},
        {"name": "in_bits", "address": "30001", "bit": 4, "bits": 8, "order": "ABCD"},
        {"name": "in_swapped", "address": "30001"},  # the device's DCBA swaps the bytes
        {"name": "in_neg", "address": 1, "table": "input", "type": "int16"},
        {"name": "coil_on", "address": "00003"},
        {"name": "coil_off", "address": 3, "table": "coil", "type": "bool"},
        {"name": "di_on", "address": "10011"},
    ]
    expect.update({"in_scaled": 0x4321 * 0.1 - 5, "in_bits": 0x32, "in_swapped": 0x2143,
                   "in_neg": -1,
                   "coil_on": 1, "coil_off": 0, "di_on": 1})
    layout = {"hr": hr, "ir": ir, "co": {"2": 1}, "di": {"10": 1}}
    return layout, points, expect


def check(points_msg, expect):
    for name, want in expect.items():
        got = points_msg[name]
        assert got["quality"] == "good", (name, got)
        if isinstance(want, str):
            assert got["value"] == want, name
        else:
            assert got["value"] == pytest.approx(want, rel=1e-7, abs=1e-9), name


def run(tmp_path, procs, broker, subscriber, daemon, server_args, bus):
    layout, points, expect = build()
    lf = tmp_path / "layout.json"
    lf.write_text(json.dumps(layout))
    procs.append(Proc("pymodbus", [sys.executable, f"{HERE}/pymodbus_server.py", str(lf),
                                   *server_args], tmp_path / "pymodbus.log"))

    def mutate(cfg):
        cfg["buses"] = [bus]
        cfg["devices"] = [{"name": "pym", "bus": bus["name"], "unit_id": 1,
                           "byte_order": "DCBA", "interval_ms": 200, "points": points}]
        cfg["rules"] = []
    sub = subscriber("plantroom/#")
    daemon(make_config(tmp_path, broker["port"], 1, mutate))
    msg = wait_for(lambda: [m for m in sub.json_messages("devices/pym/telemetry")
                            if all(p["quality"] == "good" for p in m["points"].values())],
                   20, "good telemetry from the pymodbus device")[-1]
    check(msg["points"], expect)


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_pymodbus_tcp_every_type_and_order(tmp_path, procs, broker, subscriber, daemon):
    port = free_port()
    layout_bus = {"name": "pym", "type": "tcp", "host": "127.0.0.1", "port": port,
                  "timeout_ms": 500, "reconnect_max_ms": 300}
    run(tmp_path, procs, broker, subscriber, daemon, ["--tcp", str(port)], layout_bus)


def test_pymodbus_rtu_every_type_and_order(tmp_path, procs, broker, subscriber, daemon):
    if not shutil.which("socat"):
        pytest.skip("socat not installed")
    a, b = tmp_path / "srv.tty", tmp_path / "gw.tty"
    procs.append(Proc("socat", ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                      tmp_path / "socat.log"))
    wait_for(lambda: a.exists() and b.exists(), 10, "socat's pty pair")
    bus = {"name": "pym", "type": "rtu", "device": str(b), "baud": 19200, "timeout_ms": 500,
           "pause_ms": 5, "connect_pause_ms": 100, "reconnect_max_ms": 300}
    run(tmp_path, procs, broker, subscriber, daemon, ["--rtu", str(a)], bus)
