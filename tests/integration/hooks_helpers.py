# SPDX-License-Identifier: Apache-2.0
"""Helpers of the hook tests (test_hooks_*.py): a fake SMS command, a local
HTTP receiver, configs, and plantroom-notify-drive, the notifier fed
work-order events on its stdin. Deliveries are real: a child process per
message, a real HTTP request per webhook call.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from conftest import ROOT, Proc, binary, free_port, wait_for

FAKE_SMS = r'''#!/usr/bin/python3
# Fake gammu-smsd-inject: records its argv, stdin and $PLANTROOM_ALERT as one
# JSON line; fails while the "fail" counter file holds a positive number;
# after recording, sleeps while the "block" file exists (crash tests).
import fcntl, json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
fail = os.path.join(here, "fail")
# hooks run side by side: the counter is read and written under a lock, and
# replaced whole, so that no reader sees it empty (which read as 0)
with open(os.path.join(here, "fail.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    n = int(open(fail).read() or 0) if os.path.exists(fail) else 0
    if n > 0:
        with open(fail + ".new", "w") as f:
            f.write(str(n - 1))
        os.replace(fail + ".new", fail)
        with open(os.path.join(here, "failed.log"), "a") as f:
            f.write("x\n")
        sys.exit(3)
rec = {"argv": sys.argv[1:], "stdin": sys.stdin.read(),
       "env": os.environ.get("PLANTROOM_ALERT", ""),
       "mqtt_password": os.environ.get("PLANTROOM_MQTT_PASSWORD")}
with open(os.path.join(here, "sms.log"), "a") as f:
    f.write(json.dumps(rec) + "\n")
    f.flush()
    os.fsync(f.fileno())
while os.path.exists(os.path.join(here, "block")):
    time.sleep(0.05)
'''


class FakeSms:
    """A directory holding the fake command and what it received."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "sms"
        self.dir.mkdir()
        self.cmd = self.dir / "gammu-smsd-inject"
        self.cmd.write_text(FAKE_SMS)
        self.cmd.chmod(0o755)

    def fail_next(self, n):
        new = self.dir / "fail.test-new"  # replaced whole: never read half-written
        new.write_text(str(n))
        os.replace(new, self.dir / "fail")

    def failures(self):
        p = self.dir / "failed.log"
        return len(p.read_text().splitlines()) if p.exists() else 0

    def block(self, on=True):
        p = self.dir / "block"
        if on:
            p.write_text("1")
        elif p.exists():
            p.unlink()

    def messages(self):
        p = self.dir / "sms.log"
        if not p.exists():
            return []
        # a record being appended may be read half-written: whole lines only
        text = p.read_text()
        return [json.loads(l) for l in text[:text.rfind("\n") + 1].splitlines() if l.strip()]

    def to(self, phone):
        """Texts sent to phone: argv is TEXT <phone> -text <message>."""
        return [m["argv"][3] for m in self.messages() if m["argv"][1] == phone]


class Receiver:
    """A local HTTP server recording POSTs; answers statuses from a list
    (then 200)."""

    def __init__(self, tls_dir=None):
        self.lock = threading.Lock()
        self.requests = []
        self.statuses = []
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with rec.lock:
                    code = rec.statuses.pop(0) if rec.statuses else 200
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body.decode(), "status": code})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.srv = HTTPServer(("127.0.0.1", self.port), H)
        self.scheme = "http"
        if tls_dir is not None:
            # A self-signed certificate for 127.0.0.1, made with openssl.
            self.cert = tls_dir / "cert.pem"
            key = tls_dir / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", str(key), "-out", str(self.cert), "-days", "1",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.cert), str(key))
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
            self.scheme = "https"
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def url(self, path="/hook"):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def got(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


PHONES = {"alice": "+8613800000001", "bob": "+8613800000002", "carol": "+8613800000003"}


def base_config(tmp_path, sms, **groups_kw):
    """A site with a few located devices (never polled by the driver), an
    exec hook on the fake SMS command, three recipients, two groups
    (oncall -> managers), one route for everything."""
    oncall = {"name": "oncall", "members": ["alice", "bob"], "group_wait_ms": 1000,
              "repeat_interval_ms": 0}
    oncall.update(groups_kw)
    return {
        "site": {"id": "test-site", "name": "Tower"},
        "log": {"level": "info"},
        "state_dir": str(tmp_path / "state"),
        "profiles_dir": os.path.join(ROOT, "drivers", "profiles"),
        "mqtt": {"enabled": False},
        "buses": [{"name": "sim", "type": "tcp", "host": "127.0.0.1", "port": 1}],
        "devices": [
            {"name": f"lift-{i}", "bus": "sim", "unit_id": i, "profile": "elevator",
             "location": {"building": "Tower A" if i % 2 else "Tower B", "floor": "R",
                          "room": "Machine room"}}
            for i in range(1, 5)
        ],
        "hooks": [{"name": "sms", "kind": "exec",
                   "argv": [str(sms.cmd), "TEXT", "{phone}", "-text", "{message}"],
                   "timeout_ms": 5000, "backoff_ms": 100, "backoff_max_ms": 400,
                   "max_segments": 3}],
        "recipients": [{"name": n, "hook": "sms", "phone": p, "min_interval_ms": 0}
                       for n, p in PHONES.items()],
        "groups": [oncall,
                   {"name": "managers", "members": ["carol"], "group_wait_ms": 0,
                    "repeat_interval_ms": 0}],
        "routes": [{"groups": ["oncall"]}],
    }


def write_config(tmp_path, cfg, name="plantroom.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg, indent=2))
    path.chmod(0o600)
    return path


_seq = [0]


def wo_event(number, event="opened", priority="medium", category="mechanical",
             device="lift-1", status="open", title=None, rule="r"):
    """A work-order event as the ledger writes it to its outbox."""
    _seq[0] += 1
    wo_id = f"test-site:WO{number:06d}"
    return {"v": 1, "event_id": f"{wo_id}#{_seq[0]}", "event": event,
            "ts": "2026-01-01T00:00:00.000Z",
            "work_order": {"id": wo_id, "number": number, "site": "test-site",
                           "status": status, "priority": priority, "device": device,
                           "rule": rule, "title": title or f"Fault {number}",
                           "category": category, "work_type": "corrective",
                           "evidence": {}, "occurrences": 1}}


class _StdinProc(Proc):
    """A Proc whose stdin is a pipe."""

    def __init__(self, name, args, log_path, env=None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True, env=env)


class Drive:
    """plantroom-notify-drive on a config; send() feeds it events (and
    faults, reloads, status requests: tests/hooks/notify_drive.c)."""

    def __init__(self, tmp_path, procs, config, log_name="drive.log", env=None, args=(),
                 prefix=()):
        self.p = _StdinProc("notify-drive",
                            [*prefix, binary("plantroom-notify-drive"), "--config", str(config),
                             *args],
                            tmp_path / log_name, env)
        procs.append(self.p)
        wait_for(lambda: "drive: running" in self.p.output(), 10, "notify-drive to start")

    def send(self, *objs):
        self.p.p.stdin.write("".join(json.dumps(o) + "\n" for o in objs).encode())
        self.p.p.stdin.flush()

    def log(self):
        return self.p.output()

    def status(self):
        """The notifier's status answer ({"notify": {...}}), asked for now."""
        before = self.log().count("drive: status ")
        self.send({"status": True})
        wait_for(lambda: self.log().count("drive: status ") > before, 10, "the status")
        line = [l for l in self.log().splitlines() if "drive: status " in l][-1]
        return json.loads(line.split("drive: status ", 1)[1])

    def settle(self, ticks=10):
        """The barrier before asserting that nothing more is sent: the
        notifier has ticked `ticks` more times (each tick sends what is due,
        flushes groups whose wait ended and schedules repeats; 10 ticks are
        at least 2 s) and holds no message waiting or in delivery (a message
        is pending until its hook has ended) and no alert waiting in a
        group."""
        t = self.status()["notify"]["ticks"]

        def quiet():
            n = self.status()["notify"]
            return (n["ticks"] >= t + ticks and n["memory"]["pending"] == 0
                    and n["memory"]["batch"] == 0)
        wait_for(quiet, 30, f"{ticks} more notifier ticks with nothing pending", 0.2)

    def stored(self):
        """Outbox ids the notifier answered with event_stored, in order."""
        return [int(l.rsplit(" ", 1)[1]) for l in self.log().splitlines()
                if "drive: event_stored " in l]

    def stop(self):
        return self.p.stop()

    def kill(self):
        self.p.p.kill()
        self.p.p.wait()
