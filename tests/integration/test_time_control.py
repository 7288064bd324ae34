# SPDX-License-Identifier: Apache-2.0
"""The control socket and reloads are re-entrancy safe (gateway/service/
svc_control.c, gateway/gw_reload.c).

Two control clients hammer the daemon with writes to a silent device (each
answered only when the device times out, or when a reload stops its bus)
and reloads, 50 rounds each, one client pipelining all its requests at
once and the other round by round, at the same time. A reload must never
run inside another (a write's answer arriving in a reload's drain used to
run the client's next line, a reload, inline: a use after free), every
request gets its one answer, and polling goes on. The ASan build runs the
same test (tests/run.sh).
"""
import json
import socket
import threading

from conftest import ctl, make_config, wait_for

ROUNDS = 50
WRITE = b'{"cmd":"write","device":"pump-1","point":"control_word","value":1142,"by":"t"}\n'
RELOAD = b'{"cmd":"reload"}\n'


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(str(path))
        self.buf = b""
        self.answers = []

    def read(self, n):
        """Read until n more answers (one JSON line each) arrived."""
        want = len(self.answers) + n
        while len(self.answers) < want:
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed after {len(self.answers)} answers")
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.answers.append(json.loads(line))

    def close(self):
        self.s.close()


def polls(config, device):
    st = json.loads(ctl(config, "status", "--json").stdout)
    return next(d for d in st["devices"] if d["name"] == device)["polls"]


def test_writes_and_reloads_from_two_clients(tmp_path, broker, sim, daemon):
    def mutate(cfg):
        for d in cfg["devices"]:
            if d["name"] == "pump-1":
                d["timeout_ms"] = 100  # a silent device costs a bus 100 ms a request
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    d = daemon(config)
    d.wait_log("device pump-1 online")
    sock = tmp_path / "state" / "control.sock"
    wait_for(lambda: sock.exists(), 15, "the control socket")
    sim.set("pump-1.fault", "silent")
    wait_for(lambda: ctl(config, "write", "pump-1", "control_word", "1142",
                         check=False).returncode != 0, 15, "pump-1 to fall silent")

    a, b = Client(sock), Client(sock)
    errors = []

    def pipelined():  # every request at once, then every answer
        try:
            a.s.sendall((WRITE + RELOAD) * ROUNDS)
            a.read(2 * ROUNDS)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client a: {e!r}")

    def stepwise():  # a write and a reload together, answered, then the next
        try:
            for _ in range(ROUNDS):
                b.s.sendall(WRITE + RELOAD)
                b.read(2)
        except Exception as e:  # noqa: BLE001
            errors.append(f"client b: {e!r}")

    threads = [threading.Thread(target=pipelined), threading.Thread(target=stepwise)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    a.close()
    b.close()
    assert not errors, errors
    assert d.proc.alive(), d.log()[-3000:]

    for c in (a, b):
        assert len(c.answers) == 2 * ROUNDS
        writes, reloads = c.answers[0::2], c.answers[1::2]
        # every reload applied (none ran inside another, none refused)
        assert all(r["ok"] and r["result"]["devices"] == 7 for r in reloads), reloads
        # every write answered: the device is silent, or its bus was stopped
        for w in writes:
            assert not w["ok"] and w["error"], w
    log = d.log()
    assert "AddressSanitizer" not in log and "reload refused" not in log
    assert log.count("configuration reloaded") == 2 * ROUNDS

    # Polling goes on after the storm.
    sim.set("pump-1.fault", "none")
    n = polls(config, "lift-1")
    wait_for(lambda: polls(config, "lift-1") >= n + 5, 15, "lift-1 polled again")
    assert d.proc.stop() == 0
