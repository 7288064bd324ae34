# SPDX-License-Identifier: Apache-2.0
"""The MQTT session: TLS (test CA made here by openssl, client certificate
required by the broker), MQTT 5, and the password kept out of the log.

A mosquitto with two listeners: plain (for the test's subscriber) and TLS
(for plantroomd).
"""
import json
import os
import sqlite3
import subprocess

from conftest import Proc, _can_connect, ctl, free_port, make_config, wait_for


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A test CA, a server certificate for localhost and a client certificate."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=plantroom test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "plantroom-test-site")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *extra, cwd=d)
    # a second CA that signed nothing here
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=other CA", "-keyout", "other.key", "-out", "other.crt", cwd=d)


def tls_broker(tmp_path, procs):
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    plain, tls = free_port(), free_port()
    user = "user root\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "mosquitto-tls.conf"
    conf.write_text(f"{user}per_listener_settings false\nallow_anonymous true\n"
                    f"listener {plain} 127.0.0.1\n"
                    f"listener {tls} 127.0.0.1\ncafile {pki}/ca.crt\n"
                    f"certfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
                    "require_certificate true\n")
    procs.append(Proc("mosquitto", ["mosquitto", "-c", str(conf)], tmp_path / "mosq-tls.log"))
    wait_for(lambda: _can_connect(plain) and _can_connect(tls), 10, "mosquitto to listen")
    return pki, plain, tls


def test_tls_with_client_certificate(tmp_path, procs, sim, subscriber, daemon):
    pki, plain, tls = tls_broker(tmp_path, procs)
    sub = subscriber("plantroom/#", port=plain)

    def mutate(cfg):
        cfg["mqtt"]["uri"] = f"ssl://localhost:{tls}"
        cfg["mqtt"]["tls"] = {"ca_file": str(pki / "ca.crt"),
                              "cert_file": str(pki / "client.crt"),
                              "key_file": str(pki / "client.key")}
    d = daemon(make_config(tmp_path, plain, sim.port, mutate))
    status = wait_for(lambda: [json.loads(p) for (t, p) in sub.messages("test-site/status")],
                      15, "the gateway status over TLS")
    assert status[-1]["status"] == "online"
    wait_for(lambda: sub.messages("devices/lift-1/telemetry"), 15, "telemetry over TLS")
    assert "TLS" in d.log() and "Invalid (NULL) parameter" not in d.log()


def test_tls_with_the_wrong_ca_is_refused_and_logged_once(tmp_path, procs, sim, subscriber,
                                                          daemon):
    pki, plain, tls = tls_broker(tmp_path, procs)

    def mutate(cfg):
        cfg["mqtt"]["uri"] = f"ssl://localhost:{tls}"
        cfg["mqtt"]["tls"] = {"ca_file": str(pki / "other.crt"),
                              "cert_file": str(pki / "client.crt"),
                              "key_file": str(pki / "client.key")}
    d = daemon(make_config(tmp_path, plain, sim.port, mutate))
    wait_for(lambda: d.log().count("mqtt: connect failed") >= 1, 15, "a failed connect")
    # barrier: three more attempts fail (retries every 200 ms .. 1 s); only
    # the first of the outage warns
    wait_for(lambda: json.loads(ctl(d.config, "status", "--json").stdout)["mqtt"][
        "connect_failures"] >= 4, 20, "four failed connects in the status")
    assert d.proc.alive()
    assert d.log().count("warn   mqtt: conn") == 1
    assert "mqtt: mqtt:" not in d.log()


def test_mqtt5_session_delivers_events(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    secret = "s3cret-pass-word"
    pw = tmp_path / "mqtt.pass"
    pw.write_text(secret + "\n")

    def mutate(cfg):
        cfg["mqtt"]["version"] = "5"
        cfg["mqtt"]["username"] = "gw"
        cfg["mqtt"]["password_file"] = str(pw)
    d = daemon(make_config(tmp_path, broker["port"], sim.port, mutate))
    wait_for(lambda: sub.messages("test-site/status"), 15, "the gateway status over MQTT 5")
    sim.set("lift-1.vibration_machine", 5.5)
    ev = wait_for(lambda: [json.loads(p) for (t, p) in sub.messages("events/workorder")], 15,
                  "a work-order event over MQTT 5")
    assert ev[0]["event"] == "opened"
    # the PUBACK came back through the MQTT 5 callbacks: the outbox empties
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True)
    wait_for(lambda: con.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, 10,
             "the outbox to empty")
    con.close()
    assert "MQTT 5" in d.log()
    assert secret not in d.log()
