# SPDX-License-Identifier: Apache-2.0
"""The control socket's protocol spoken by hand, and the config of the
service parts (control, metrics) validated like the rest."""
import json
import socket
import subprocess

from conftest import Proc, binary, free_port, make_config, wait_for


def check_config(config):
    return subprocess.run([binary("plantroomd"), "--check-config", str(config)],
                          capture_output=True, text=True, timeout=30)


def test_service_sections_are_validated(tmp_path):
    def bad(cfg):
        cfg["metrics"] = {"enabled": True, "address": "0.0.0.0", "port": 70000, "bind": "x"}
        cfg["control"] = {"socket": "/tmp/" + "x" * 120, "group": "no-such-group-here"}
    config = make_config(tmp_path, 1883, 1502, mutate=bad)
    r = check_config(config)
    assert r.returncode == 2
    for msg in ('metrics.address: must be a loopback address (127.x.x.x or ::1), got "0.0.0.0"',
                "metrics.port: must be",
                "metrics.bind: unknown key",
                "control.socket: ",
                "a Unix socket path may have at most 107",
                'control.group: no group named "no-such-group-here"'):
        assert msg in r.stderr, (msg, r.stderr)

    def good(cfg):
        cfg["metrics"] = {"enabled": True, "address": "::1", "port": 9464}
        cfg["control"] = {"enabled": False}
    r = check_config(make_config(tmp_path, 1883, 1502, mutate=good))
    assert r.returncode == 0, r.stderr


def ask(sock_path, payload):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


def test_protocol_by_hand(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("device lift-1 online")
    sock = tmp_path / "state" / "control.sock"
    assert "control: listening on " + str(sock) in d.log()

    # Several requests in one write, answered in order, one line each.
    replies = ask(sock, b'{"cmd":"status"}\n\nnot json\n{"cmd":"nope"}\n{"cmd":"status"}\n')
    assert len(replies) == 4
    assert replies[0]["ok"] is True and replies[0]["result"]["site"] == "test-site"
    assert replies[1]["ok"] is False and replies[1]["error"].startswith(
        'a request is a JSON object with a string "cmd", on one line: not JSON')
    assert replies[2] == {"ok": False, "error": 'unknown command "nope" (status, reload, ping, write)'}
    assert replies[3]["ok"] is True
    # A deferred answer (ping after 300 ms) holds back the next ones: the
    # order of answers is the order of requests.
    replies = ask(sock, b'{"cmd":"ping","delay_ms":300}\n{"cmd":"status"}\n{"cmd":"ping"}\n'
                        b'{"cmd":"ping","delay_ms":-1}\n')
    assert [list(r.get("result", {"error": r.get("error")}))[0] for r in replies] == \
        ["pong", "version", "pong", "error"]
    assert replies[3]["error"] == "delay_ms: must be a number of milliseconds, 0..10000"
    # A client that leaves while its answer is deferred: the answer is dropped.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(b'{"cmd":"ping","delay_ms":200}\n{"cmd":"status"}\n')
    assert ask(sock, b'{"cmd":"ping","delay_ms":400}\n')[0]["result"] == {"pong": True}
    # A line past 64 KiB is refused and the connection ended.
    assert ask(sock, b'{"cmd":"status","pad":"' + b"x" * 70000 + b'"}\n') == \
        [{"ok": False, "error": "request line too long"}]
    # A request without its newline is not answered; the daemon stays up.
    assert ask(sock, b'{"cmd":"status"}') == []
    # One JSON value per line: trailing bytes and deep nesting are refused,
    # each naming why; the connection carries on.
    replies = ask(sock, b'{"cmd":"ping"} {"cmd":"reload"}\n{"cmd":"ping","x":' + b"[" * 100 +
                  b"]" * 100 + b'}\n{"cmd":"ping","x":[[[1]]]}\n')
    assert len(replies) == 3
    assert replies[0]["ok"] is False and "trailing data" in replies[0]["error"]
    assert replies[1]["ok"] is False and "nested deeper than 16" in replies[1]["error"]
    assert replies[2] == {"ok": True, "result": {"pong": True}}
    assert "reload requested" not in d.log()
    assert d.proc.alive()


def test_metrics_port_in_use_stops_the_start(tmp_path, broker, sim, procs):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        def metrics_on_taken_port(cfg):
            cfg["metrics"] = {"enabled": True, "port": port}
        config = make_config(tmp_path, broker["port"], sim.port, mutate=metrics_on_taken_port)
        d = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
                 tmp_path / "plantroomd.log")
        procs.append(d)
        assert d.wait(20) == 1
        assert f"metrics: cannot listen on 127.0.0.1 port {port}: Address already in use" \
            in d.output()
        # It cleaned up: no control socket left behind.
        assert not (tmp_path / "state" / "control.sock").exists()
    finally:
        holder.close()


def test_stale_socket_is_replaced(tmp_path, broker, sim, daemon):
    state = tmp_path / "state"
    state.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(state / "control.sock"))
    stale.close()  # the file stays, nobody listens: as after a crash
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    d.wait_log("control: listening on")
    reply = wait_for(lambda: ask(state / "control.sock", b'{"cmd":"status"}\n'), 10, "a reply")
    assert reply[0]["ok"] is True
    d.proc.stop()
    assert not (state / "control.sock").exists()


def test_client_that_leaves_without_reading_does_not_kill_the_daemon(tmp_path, sim, daemon):
    # MQTT off: nothing else in the process ignores SIGPIPE for us.
    def no_mqtt(cfg):
        cfg["mqtt"]["enabled"] = False
    config = make_config(tmp_path, 1883, sim.port, mutate=no_mqtt)
    d = daemon(config)
    d.wait_log("device lift-1 online")
    sock = str(tmp_path / "state" / "control.sock")
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.connect(sock)
        s.sendall(b'{"cmd":"status"}\n' * 20)
        s.close()
    def answered():
        try:
            return ask(tmp_path / "state" / "control.sock", b'{"cmd":"status"}\n')
        except BlockingIOError:  # the backlog is still full of the hung-up ones
            return None
    reply = wait_for(answered, 10, "an answer after the hung-up clients")
    assert reply[0]["ok"] is True
    assert d.proc.alive()
