# SPDX-License-Identifier: Apache-2.0
"""plantroomd under systemd: the unit verifies, and the daemon speaks the
notify protocol (READY=1 after the ledger is open, STATUS=, WATCHDOG=1 at
the interval systemd asks for, STOPPING=1) and takes its state directory
from $STATE_DIRECTORY. No systemd runs PID 1 in a test container, so the
notify socket here is a datagram socket of the test's own, which is all
sd_notify talks to."""
import configparser
import json
import os
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import BIN, ROOT, Proc, binary, ctl, make_config, wait_for

UNIT = os.path.join(ROOT, "deploy", "plantroomd.service")


def unit_for_this_build(tmp_path, extra=""):
    """The shipped unit with the binary of this build (verify checks that
    ExecStart exists)."""
    text = open(UNIT).read().replace("/usr/sbin/plantroomd", os.path.join(BIN, "plantroomd"))
    if extra:
        text = text.replace("[Service]\n", "[Service]\n" + extra + "\n", 1)
    path = tmp_path / "plantroomd.service"
    path.write_text(text)
    return path


def verify(path):
    exe = shutil.which("systemd-analyze")
    if not exe:
        pytest.fail("systemd-analyze not found: apt-get install systemd (deploy/deps.sh)")
    return subprocess.run([exe, "verify", str(path)], capture_output=True, text=True, timeout=60)


def test_unit_verifies_cleanly(tmp_path):
    r = verify(unit_for_this_build(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_verify_would_catch_a_broken_unit(tmp_path):
    r = verify(unit_for_this_build(tmp_path, extra="WatchdogSecs=30s"))
    assert "Unknown key" in r.stdout + r.stderr


def test_unit_runs_sandboxed_as_a_notify_service():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    # DeviceAllow repeats: keep the last, check the file text for all.
    unit.read(UNIT)
    s = unit["Service"]
    # ordered after NTP's first setting of the clock, when a waiter is enabled
    assert "time-sync.target" in unit["Unit"]["After"].split()
    assert s["Type"] == "notify"
    assert s["User"] == "plantroom" and s["StateDirectory"] == "plantroom"
    assert s["ProtectSystem"] == "strict" and s["NoNewPrivileges"] == "yes"
    assert s["PrivateTmp"] == "yes" and s["DevicePolicy"] == "closed"
    assert s["Restart"] == "on-failure" and s["WatchdogSec"]
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "/var/lib/plantroom" in s["ReadWritePaths"]
    text = open(UNIT).read()
    for dev in ("char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw"):
        assert f"DeviceAllow={dev}" in text


class NotifySocket:
    def __init__(self, path):
        self.path = str(path)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.s.settimeout(0.1)
        self.msgs = []

    def poll(self):
        while True:
            try:
                self.msgs.append(self.s.recv(4096).decode())
            except socket.timeout:
                return self.msgs

    def lines(self):
        return [l for m in self.poll() for l in m.split("\n") if l]

    def close(self):
        self.s.close()


def test_notify_ready_status_watchdog_and_state_directory(tmp_path, broker, sim, procs):
    # The file names a state_dir; systemd's $STATE_DIRECTORY wins over it.
    config = make_config(tmp_path, broker["port"], sim.port)
    notify = NotifySocket(tmp_path / "notify.sock")
    state = tmp_path / "systemd-state"
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000",
               STATE_DIRECTORY=str(state))
    env.pop("PLANTROOM_STATE_DIR", None)
    d = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
             tmp_path / "plantroomd.log", env=env)
    procs.append(d)
    try:
        wait_for(lambda: "READY=1" in notify.lines(), 15, "READY=1")
        # READY only once the ledger is open, in systemd's state directory.
        assert "ledger: opened " + str(state / "ledger.db") in d.output()
        assert (state / "ledger.db").exists()
        n_dev = len(json.loads(config.read_text())["devices"])
        wait_for(lambda: any(l.startswith(f"STATUS={n_dev}/{n_dev} devices online, broker connected")
                             for l in notify.lines()), 15, "STATUS= with every device online")
        # Pings at half the interval: about 5 a second.
        n = notify.lines().count("WATCHDOG=1")
        wait_for(lambda: notify.lines().count("WATCHDOG=1") >= n + 5, 10, "watchdog pings")
        assert "systemd watchdog: 400 ms, pinging every 200 ms" in d.output()
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0
        assert "STOPPING=1" in notify.lines()
    finally:
        notify.close()


def test_no_watchdog_pings_when_systemd_asks_for_none(tmp_path, broker, sim, procs):
    config = make_config(tmp_path, broker["port"], sim.port)
    notify = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    env.pop("WATCHDOG_USEC", None)
    d = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
             tmp_path / "plantroomd.log", env=env)
    procs.append(d)
    try:
        wait_for(lambda: "READY=1" in notify.lines(), 15, "READY=1")
        # barrier: 2 s of the loop's own uptime (a watchdog of any interval
        # systemd allows would have pinged by then)
        up = json.loads(ctl(config, "status", "--json").stdout)["uptime_s"]
        wait_for(lambda: json.loads(ctl(config, "status", "--json").stdout)["uptime_s"] >= up + 2,
                 15, "2 s more of uptime")
        assert "WATCHDOG=1" not in notify.lines()
    finally:
        notify.close()
