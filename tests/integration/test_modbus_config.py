# SPDX-License-Identifier: Apache-2.0
"""Modbus config: the request plan of a sparse map (plantroomd --print-plan),
and the bus/device/point keys' errors named by JSON path."""
import json
import subprocess

from conftest import binary, make_config


def run(*args):
    return subprocess.run([binary("plantroomd"), *args], capture_output=True, text=True,
                          timeout=30)


SPARSE = [
    {"name": "mode", "address": 0},
    {"name": "count", "address": 1, "type": "uint32"},
    {"name": "temp", "address": 10, "type": "float32"},      # gap 7 <= 8: joined
    {"name": "fire", "address": 30, "type": "bool", "bit": 11},  # gap 18: new request
    {"name": "event", "address": 30, "bit": 0, "bits": 8},   # same register, same request
    {"name": "status", "address": "40032"},                  # one-based: register 31
    {"name": "model", "address": 150, "type": "string", "length": 8},
    {"name": "volts", "address": "30001", "type": "float32"},  # input 0..1
    {"name": "amps", "address": 20, "table": "input", "type": "float32"},
    {"name": "run", "address": "00001"},                     # coil 0
    {"name": "trip", "address": 5, "table": "coil", "type": "bool"},
    {"name": "alarm", "address": 1000, "table": "discrete", "type": "bool"},
]

WIDE = [
    {"name": "a", "address": 400, "type": "string", "length": 100},  # 400..499
    {"name": "b", "address": 520},   # gap 20 <= 124, 400..520 = 121 registers: joined
    {"name": "c", "address": 530},   # 400..530 would be 131 > 125: new request
]


def sparse_config(tmp_path):
    def mutate(cfg):
        cfg["buses"].append({"name": "wide", "type": "tcp", "host": "127.0.0.1", "port": 1,
                             "max_gap": 124})
        cfg["devices"] = [
            {"name": "sparse", "bus": "sim", "unit_id": 9, "points": SPARSE},
            {"name": "wide", "bus": "wide", "unit_id": 1, "points": WIDE},
        ]
        cfg["rules"] = []
    return make_config(tmp_path, 1883, 1502, mutate)


def test_plan_for_a_sparse_map(tmp_path):
    r = run("--print-plan", "--config", str(sparse_config(tmp_path)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "device sparse bus sim unit 9: 7 requests, 33 words",
        "  coil start=0 count=6 points=run,trip",
        "  discrete start=1000 count=1 points=alarm",
        "  holding start=0 count=12 points=mode,count,temp",
        "  holding start=30 count=2 points=fire,event,status",
        "  holding start=150 count=8 points=model",
        "  input start=0 count=2 points=volts",
        "  input start=20 count=2 points=amps",
        "device wide bus wide unit 1: 2 requests, 122 words",
        "  holding start=400 count=121 points=a,b",
        "  holding start=530 count=1 points=c",
    ]


def test_bad_keys_are_named(tmp_path):
    def mutate(cfg):
        cfg["buses"].append({"name": "serial", "type": "rtu", "device": "/dev/ttyUSB0",
                             "parity": "mark", "stop_bits": 3, "host": "x"})
        cfg["buses"].append({"name": "bad", "type": "udp", "host": "x"})
        d0 = cfg["devices"][0]
        d0["byte_order"] = "ABDC"
        d0["retries"] = 9
        d0["points"] = [
            {"name": "lvl", "address": 4, "decimals_point": "nope"},
            {"name": "st", "address": "50001"},
            {"name": "s", "address": 7, "type": "string"},
        ]
    path = make_config(tmp_path, 1883, 1502, mutate)
    r = run("--check-config", str(path))
    assert r.returncode == 2
    for text in [
        'buses[1].parity: must be one of none, even, odd, got "mark"',
        "buses[1].stop_bits: must be at most 2, got 3",
        'buses[1].host: is for "tcp" buses',
        'buses[2].type: must be "tcp", "rtu" or "rtu-tcp", got "udp"',
        'devices[0].byte_order: must be one of ABCD, CDAB, BADC, DCBA, got "ABDC"',
        "devices[0].retries: must be at most 5, got 9",
        'devices[0].points["lvl"].decimals_point: "nope" is not another point',
        'devices[0].points[1].address: "50001" is not a one-based register number',
        "devices[0].points[2].length: is required for a string point",
    ]:
        assert text in r.stderr, (text, r.stderr)


def test_rtu_bus_and_device_keys_accepted(tmp_path):
    def mutate(cfg):
        cfg["buses"].append({"name": "serial", "type": "rtu", "device": "/dev/ttyUSB0",
                             "baud": 19200, "parity": "even", "data_bits": 8, "stop_bits": 1,
                             "rs485": True, "pause_ms": 20, "connect_pause_ms": 100})
        cfg["devices"].append({"name": "tank", "bus": "serial", "unit_id": 1,
                               "byte_order": "CDAB", "timeout_ms": 200, "retries": 2,
                               "offline_after": 2, "backoff_max_ms": 5000,
                               "points": [{"name": "x", "address": "40001"}]})
    r = run("--check-config", str(make_config(tmp_path, 1883, 1502, mutate)))
    assert r.returncode == 0, r.stderr
