# SPDX-License-Identifier: Apache-2.0
"""The Prometheus endpoint of a running plantroomd, checked by the real
tools and against what happened: `promtool check metrics` (Debian's
prometheus) passes on the real /metrics text; events_delivered_total counts
only work-order events (the broker's acknowledgements of telemetry are
counted under their own kind); the per-hook
delivery counters count the fake SMS command's real attempts; the NB-IoT
counters count one report of each outcome; the poll latency histogram is
cumulative and agrees with the poll counters; process_* come from /proc of
the daemon's pid; plantroom_build_info names the version; `plantroomctl
status` shows the same figures."""
import json
import os
import subprocess
import time
import urllib.request

import paho.mqtt.client as mqtt

from conftest import ctl, free_port, make_config, wait_for
from hooks_helpers import PHONES, FakeSms

EVENTS = "plantroom/test-site/events/"
NB_DEV = "d01308047f864601a821e02dc328eab4"


def ctwing(dev, ts_ms, sn):
    return json.dumps({"upPacketSN": sn, "upDataSN": -1, "timestamp": ts_ms, "deviceId": dev,
                       "messageType": "dataReport",
                       "payload": {"serviceId": "meterReading",
                                   "serviceData": {"cumulatedVolume_m3": 12.5}}})


def nbiot_send(port, payloads):
    """The carrier platform: each payload at QoS 1, in order."""
    c = mqtt.Client(client_id=f"platform-{time.monotonic_ns()}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for p in payloads:
            c.publish("nbiot/ctwing/up", p, qos=1).wait_for_publish()
    finally:
        c.loop_stop()
        c.disconnect()


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def parse(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).strip()


def event_ids(sub):
    """Distinct work-order events seen by the subscriber (QoS 1 may repeat)."""
    return {json.loads(p)["event_id"] for t, p in sub.messages() if t.startswith(EVENTS)}


def test_metrics_pass_promtool_and_mean_what_their_help_says(tmp_path, broker, sim, subscriber,
                                                             daemon):
    mport = free_port()
    sms = FakeSms(tmp_path)
    sms.fail_next(2)  # the first two attempts fail, the third goes through

    def mutate(cfg):
        cfg["metrics"] = {"enabled": True, "address": "127.0.0.1", "port": mport}
        cfg["hooks"] = [{"name": "sms", "kind": "exec", "backoff_ms": 50,
                         "argv": [str(sms.cmd), "TEXT", "{phone}", "-text", "{message}"]}]
        cfg["recipients"] = [{"name": "alice", "hook": "sms", "phone": PHONES["alice"]}]
        cfg["groups"] = [{"name": "lifts", "members": ["alice"], "group_wait_ms": 200}]
        cfg["routes"] = [{"categories": ["mechanical"], "groups": ["lifts"]}]
        cfg["nbiot"] = {"topics": ["nbiot/ctwing/#"], "devices": [
            {"name": "water-1", "format": "ctwing", "id": NB_DEV, "report_period_s": 3600,
             "points": [{"name": "volume", "unit": "m3",
                         "pointer": "/payload/serviceData/cumulatedVolume_m3"}]}]}

    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    sim.set("lift-2.vibration_machine", 2.0)
    d = daemon(config)
    d.wait_log("device meter-main online")

    # Telemetry and status flow, no work order yet: the broker's PUBACKs of
    # them are not work-order events.
    def flowing():
        m = parse(scrape(mport))
        acked = m.get('plantroom_mqtt_acknowledged_total{kind="telemetry"}', 0)
        return m if acked >= 5 and m["plantroom_mqtt_connected"] == 1 else None
    m0 = wait_for(flowing, 20, "telemetry and status acknowledged by the broker")
    assert m0["plantroom_mqtt_events_delivered_total"] == 0
    assert m0['plantroom_mqtt_acknowledged_total{kind="event"}'] == 0
    rc, out = promtool(scrape(mport))
    assert rc == 0, out

    # One work order opens, then three changes by plantroomctl: each is an
    # outbox event; the counter ends equal to the events the broker passed on.
    sim.set("lift-2.vibration_machine", 5.5)
    wait_for(lambda: len(event_ids(sub)) >= 1, 20, "the opening event")
    ctl(config, "workorders", "note", "1", "checked the guide rails")
    ctl(config, "workorders", "ack", "1", "--by", "bob")
    ctl(config, "workorders", "assign", "1", "carol")
    wait_for(lambda: len(event_ids(sub)) >= 4, 15, "four work-order events")

    def settled():
        m = parse(scrape(mport))
        n = len(event_ids(sub))
        return (m, n) if (m["plantroom_mqtt_events_delivered_total"] == n and
                          m["plantroom_outbox_inflight"] == 0) else None
    m1, n1 = wait_for(settled, 15, "events_delivered_total equal to the events received")
    # Barrier: telemetry keeps being acknowledged; the event count does not move.
    tel1 = m1['plantroom_mqtt_acknowledged_total{kind="telemetry"}']
    m2 = wait_for(lambda: (lambda m: m if m['plantroom_mqtt_acknowledged_total{kind="telemetry"}']
                           >= tel1 + 5 else None)(parse(scrape(mport))), 20,
                  "more telemetry acknowledged")
    assert m2["plantroom_mqtt_events_delivered_total"] == len(event_ids(sub))
    assert m2["plantroom_mqtt_events_delivered_total"] >= 4
    for kind in ("event", "telemetry"):
        assert m2[f'plantroom_mqtt_publish_failures_total{{kind="{kind}"}}'] == 0
    st = json.loads(ctl(config, "status", "--json").stdout)
    assert st["mqtt"]["events_delivered"] == m2["plantroom_mqtt_events_delivered_total"]
    assert st["mqtt"]["publish_failures"] == {"event": 0, "telemetry": 0}

    # The hook: two failed attempts, then one delivery, counted under its name.
    wait_for(lambda: len(sms.messages()) >= 1, 20, "the SMS delivered after two failures")
    m3 = wait_for(lambda: (lambda m: m if m['plantroom_hook_deliveries_total{hook="sms"}'] >= 1
                           else None)(parse(scrape(mport))), 10, "the delivery in the metrics")
    assert m3['plantroom_hook_failures_total{hook="sms"}'] == sms.failures() == 2

    # The poll latency histogram: cumulative, +Inf == count == polls.
    text = scrape(mport)
    m4 = parse(text)
    buckets = [(k, v) for k, v in m4.items()
               if k.startswith('plantroom_bus_poll_latency_seconds_bucket{bus="sim"')]
    assert len(buckets) >= 10
    values = [v for _, v in buckets]
    assert values == sorted(values)
    assert buckets[-1][0].endswith('le="+Inf"}')
    assert values[-1] == m4['plantroom_bus_poll_latency_seconds_count{bus="sim"}'] == \
        m4['plantroom_bus_polls_total{bus="sim"}']
    assert "plantroom_points_per_second" not in text
    assert m4["plantroom_points_read_total"] > 0

    # process_* are the daemon's own, from /proc/<pid>.
    fds = len(os.listdir(f"/proc/{d.proc.p.pid}/fd"))
    assert abs(m4["process_open_fds"] - fds) <= 3
    assert m4["process_max_fds"] >= m4["process_open_fds"] > 3
    assert m4["process_resident_memory_bytes"] > 1e6
    assert m4["process_virtual_memory_bytes"] >= m4["process_resident_memory_bytes"]
    assert m4["process_cpu_seconds_total"] >= 0
    assert abs(m4["process_start_time_seconds"] - time.time()) < 600
    assert any(k.startswith("plantroom_build_info{version=") for k in m4)

    # NB-IoT: one report, the same again, a malformed one, one for no
    # configured device: one of each outcome.
    d.wait_log("subscribed to nbiot/ctwing/#")  # the broker's SUBACK
    now = int(time.time() * 1000)
    nbiot_send(broker["port"], [ctwing(NB_DEV, now, 7), ctwing(NB_DEV, now, 7), b"not json",
                                ctwing("ffff0000", now, 1)])

    def nb_counted():
        m = parse(scrape(mport))
        total = sum(v for k, v in m.items() if k.startswith("plantroom_nbiot_reports_total"))
        return m if total >= 4 else None
    m5 = wait_for(nb_counted, 10, "four NB-IoT reports counted")
    for outcome in ("accepted", "duplicate", "rejected", "unknown_device"):
        assert m5[f'plantroom_nbiot_reports_total{{outcome="{outcome}"}}'] == 1, outcome
    assert m5['plantroom_nbiot_reports_total{outcome="too_old"}'] == 0

    # plantroomctl status shows the same figures.
    human = ctl(config, "status").stdout
    assert "mqtt publish failures: events 0, telemetry 0" in human
    assert f"events delivered {int(m2['plantroom_mqtt_events_delivered_total'])}," in human
    text = scrape(mport)

    rc, out = promtool(text)
    assert rc == 0, out
    print("promtool check metrics:", out or "(no problems)")
    if os.environ.get("PLANTROOM_METRICS_DUMP"):
        open(os.environ["PLANTROOM_METRICS_DUMP"], "w").write(text)
