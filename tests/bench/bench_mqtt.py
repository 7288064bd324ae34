#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""MQTT benchmark: publish rate at QoS 0 and 1, and replay rate after an outage.

Starts its own mosquitto on a free loopback port. Prints, in one run:
  - bare paho MQTTAsync publish loop (baseline) vs plantroom's mq client,
    at QoS 0 and QoS 1 (bench_mqtt publish);
  - plantroomd replaying a spool filled with N telemetry messages
    (bench_mqtt fill) once the broker is reachable: at the default
    mqtt.buffer.replay_per_s (20000) and unthrottled; the time is taken from
    plantroomd's log ("replaying" .. "replay done"), and a QoS 1 subscriber
    checks that every message arrived.

Usage: tests/bench/bench_mqtt.py [--bin build/bin] [--n 100000] [--replay 50000]
"""
import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def start_broker(tmp):
    port = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    user = "user root\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                f"max_inflight_messages 0\n{user}")
    p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    wait(up, 10, "mosquitto")
    return p, port


def publish(bin_dir, port, n, qos, kind):
    out = subprocess.run([os.path.join(bin_dir, "bench_mqtt"), "publish",
                          f"tcp://127.0.0.1:{port}", str(n), str(qos), kind],
                         capture_output=True, text=True, timeout=300, check=True)
    return float(out.stdout)


def log_time(line):
    return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")


def replay(bin_dir, port, tmp, n, per_s):
    state = os.path.join(tmp, f"state-{per_s}")
    os.makedirs(state)
    topic = "plantroom/bench/devices/lift-1/telemetry"
    subprocess.run([os.path.join(bin_dir, "bench_mqtt"), "fill",
                    os.path.join(state, "spool.db"), str(n), topic], check=True)
    cfg = {"site": {"id": "bench"}, "state_dir": state, "log": {"level": "info"},
           "mqtt": {"uri": f"tcp://127.0.0.1:{port}",
                    "buffer": {"replay_per_s": per_s}}}
    path = os.path.join(tmp, f"bench-{per_s}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)

    got = [0]
    ready = threading.Event()
    sub = mqtt.Client(client_id=f"bench-sub-{per_s}")
    sub.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: ready.set()

    def on_message(c, u, m):
        got[0] += 1
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)

    log = os.path.join(tmp, f"plantroomd-{per_s}.log")
    with open(log, "w") as lf:
        d = subprocess.Popen([os.path.join(bin_dir, "plantroomd"), "--config", path],
                             stdout=lf, stderr=subprocess.STDOUT)
    try:
        wait(lambda: "replay done" in open(log).read(), 120, "the replay")
        wait(lambda: got[0] >= n, 60, f"the subscriber to get {n} messages (got {got[0]})")
    finally:
        d.terminate()
        d.wait(10)
        sub.loop_stop()
        sub.disconnect()
    lines = open(log).read().splitlines()
    start = next(log_time(x) for x in lines if "replaying" in x)
    end = next(log_time(x) for x in lines if "replay done" in x)
    secs = (end - start).total_seconds()
    return n / secs, got[0]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.path.join(here, "..", "..", "build", "bin"))
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--replay", type=int, default=50000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(tmp)
        try:
            print(f"publish {a.n} telemetry messages (~330 B) to mosquitto on loopback, msg/s:")
            for qos in (0, 1):
                raw = publish(a.bin, port, a.n, qos, "raw")
                mq = publish(a.bin, port, a.n, qos, "mq")
                print(f"  QoS {qos}: bare paho {raw:10.0f}   plantroom mq {mq:10.0f}"
                      f"   ({100 * mq / raw:.0f} % of baseline)")
            print(f"replay of {a.replay} spooled messages after an outage (QoS 1), msg/s:")
            for per_s in (20000, 1000000):
                rate, got = replay(a.bin, port, tmp, a.replay, per_s)
                label = "default replay_per_s 20000" if per_s == 20000 else "unthrottled"
                print(f"  {label:28s} {rate:10.0f}   (subscriber got {got})")
        finally:
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
