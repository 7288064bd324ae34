# SPDX-License-Identifier: Apache-2.0
"""Fixtures for plantroom's integration tests: real processes, no mocks.

Every test gets its own mosquitto broker on a free loopback port, its own
plantroom-sim (ephemeral port, read back from --port-file), its own SQLite
ledger in a temporary directory, and an independent MQTT subscriber
(paho-mqtt for Python). Every process a test starts is stopped at teardown,
also when the test fails.

PLANTROOM_BIN names the directory holding plantroomd, plantroomctl and
plantroom-sim (ctest sets it to <build>/bin).
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("PLANTROOM_BIN", os.path.join(ROOT, "build", "bin"))


def binary(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: build first or set PLANTROOM_BIN")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns a true value; fail naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, name, args, log_path, env=None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                  env=env, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout):
        return self.p.wait(timeout=timeout)

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=10):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


@pytest.fixture
def procs():
    """Register processes here; all are stopped at teardown."""
    started = []
    yield started
    for p in reversed(started):
        p.stop()


@pytest.fixture
def broker(tmp_path, procs):
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # Persistence on, so that a test can stop and restart the broker with a
    # subscriber's persistent session intact. As root, mosquitto would drop to
    # user "mosquitto", which cannot write the test's private directory.
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence true\npersistence_location {tmp_path}/\n{user}")
    p = Proc("mosquitto", ["mosquitto", "-c", str(conf)], tmp_path / "mosquitto.log")
    procs.append(p)
    wait_for(lambda: _can_connect(port), 10, "mosquitto to listen")
    return {"port": port, "proc": p, "conf": conf}


def start_broker(tmp_path, conf, log_name):
    """Start (or restart) mosquitto on an existing config."""
    return Proc("mosquitto", ["mosquitto", "-c", str(conf)], tmp_path / log_name)


def _can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Sim:
    def __init__(self, tmp_path, procs):
        self.control = tmp_path / "sim.control"
        self.control.write_text("")
        port_file = tmp_path / "sim.port"
        self.write_count = tmp_path / "sim.writes"
        self.proc = Proc("plantroom-sim",
                         [binary("plantroom-sim"), "--port", "0", "--port-file", str(port_file),
                          "--control", str(self.control), "--write-count", str(self.write_count)],
                         tmp_path / "sim.log")
        procs.append(self.proc)
        self.port = int(wait_for(lambda: port_file.exists() and port_file.read_text().strip(),
                                 10, "plantroom-sim to listen"))
        self.values = {}

    def writes(self):
        """Write requests the simulator received so far (any unit, any outcome)."""
        return int(wait_for(lambda: self.write_count.exists() and
                            self.write_count.read_text().strip(), 10, "the write count"))

    def set(self, key, value):
        """Set DEVICE.POINT to value (engineering units) while it runs."""
        self.values[key] = value
        text = "".join(f"{k}={v}\n" for k, v in self.values.items())
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.control)


@pytest.fixture
def sim(tmp_path, procs):
    return Sim(tmp_path, procs)


class Subscriber:
    """An independent MQTT client recording every message it receives."""

    def __init__(self, port, topic, client_id=None):
        self.lock = threading.Lock()
        self.msgs = []
        # A fixed client_id means a persistent session (clean_session False):
        # the broker keeps QoS 1 messages for it while it is away.
        persistent = client_id is not None
        self.c = mqtt.Client(client_id=client_id or f"test-sub-{os.getpid()}-{time.monotonic_ns()}",
                             clean_session=not persistent)
        self.c.reconnect_delay_set(min_delay=1, max_delay=1)
        self.c.on_message = self._on_message
        self.subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            pytest.fail("test subscriber could not subscribe")

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((msg.topic, msg.payload.decode("utf-8", "replace"), msg.retain))

    def messages(self, suffix=None):
        with self.lock:
            return [(t, p) for (t, p, r) in self.msgs if suffix is None or t.endswith(suffix)]

    def json_messages(self, suffix):
        return [json.loads(p) for (t, p) in self.messages(suffix)]

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def subscriber(broker):
    subs = []

    def make(topic="plantroom/#", port=None, client_id=None):
        s = Subscriber(port or broker["port"], topic, client_id)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.close()


def make_config(tmp_path, broker_port, sim_port, mutate=None):
    """The bundled default config, pointed at this test's broker and sim: its
    building and its first rules (the lifts'); each test adds what it checks.
    The default's other rules (fire, water, energy, stale) and its SMS hooks
    and routes are the demo's story, run by test_demo.py."""
    with open(os.path.join(ROOT, "deploy", "plantroom.json")) as f:
        cfg = json.load(f)
    base = {("lift-1", "vibration-high"), ("lift-2", "vibration-high"), ("lift-1", "motor-hot"),
            ("lift-1", "vibration-wear"), ("lift-1", "motor-temp-wear"),
            ("lift-1", "door-operator-service")}
    cfg["rules"] = [r for r in cfg["rules"] if (r["device"], r["name"]) in base]
    for key in ("hooks", "recipients", "groups", "routes", "quiet_hours", "inhibit_rules"):
        cfg.pop(key, None)
    cfg["site"]["id"] = "test-site"
    cfg["profiles_dir"] = os.path.join(ROOT, "drivers", "profiles")
    cfg["state_dir"] = str(tmp_path / "state")
    cfg["mqtt"]["uri"] = f"tcp://127.0.0.1:{broker_port}"
    cfg["mqtt"]["reconnect_min_ms"] = 200
    cfg["mqtt"]["reconnect_max_ms"] = 1000
    cfg["buses"][0]["port"] = sim_port
    for d in cfg["devices"]:
        d["interval_ms"] = 200
    for r in cfg["rules"]:
        if r["point"] == "vibration_machine" and r.get("kind", "threshold") == "threshold":
            r["for_ms"] = 1000
            r["clear_for_ms"] = 1000
    if mutate:
        mutate(cfg)
    path = tmp_path / "plantroom.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


class Daemon:
    def __init__(self, tmp_path, procs, config, log_name="plantroomd.log"):
        self.config = config
        self.tmp = tmp_path
        self.proc = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
                         tmp_path / log_name)
        procs.append(self.proc)

    def log(self):
        return self.proc.output()

    def wait_log(self, text, timeout=15):
        wait_for(lambda: text in self.log(), timeout, f"'{text}' in plantroomd's log")

    def ledger_path(self):
        return self.tmp / "state" / "ledger.db"


@pytest.fixture
def daemon(tmp_path, procs):
    def start(config, log_name="plantroomd.log"):
        return Daemon(tmp_path, procs, config, log_name)
    return start


def ctl(config, *args, check=True):
    """Run plantroomctl against a config; return CompletedProcess."""
    r = subprocess.run([binary("plantroomctl"), "--config", str(config), *args],
                       capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        pytest.fail(f"plantroomctl {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r
