# SPDX-License-Identifier: Apache-2.0
"""NB-IoT uplinks over MQTT: CTWing and OneNET style reports into points.

Real mosquitto and plantroomd; the reports are published by the test as a
carrier platform would push them (../shared/domain/devices.md shapes).
"""
import json
import sqlite3
import time

import paho.mqtt.client as mqtt

from conftest import make_config, wait_for

DEV = "d01308047f864601a821e02dc328eab4"
# Reports are stamped by the device's clock, a little in the past: the
# gateway refuses reports older than time.max_age_s (7 days by default) and
# takes those from the future at their arrival (test_time_clock.py).
T0 = (int(time.time()) // 60 - 60) * 60000 + 123


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def ctwing(ts, volume=1234.567, leak=False, sn=-1, **extra):
    msg = {"upPacketSN": sn, "upDataSN": -1, "topic": "v1/up/ad", "timestamp": ts,
           "tenantId": "2000033827", "productId": "15045240", "deviceId": DEV,
           "protocol": "lwm2m", "messageType": "dataReport", "IMEI": "862592051651472",
           "payload": {"serviceId": "meterReading", "serviceData": {
               "cumulatedVolume_m3": volume, "leakSuspected": leak, "backFlow": False,
               "valveState": 1, "batteryVoltage": 3.55, "RSRP": -95, "SNR": 8}}}
    msg.update(extra)
    return msg


def nbiot_config(tmp_path, broker, sim):
    def mutate(cfg):
        cfg["mqtt"]["metrics_ms"] = 1000
        cfg["nbiot"] = {
            "topics": ["nbiot/ctwing/#", "nbiot/onenet"],
            "devices": [
                {"name": "water-1", "format": "ctwing", "id": DEV, "report_period_s": 3600,
                 "points": [
                     {"name": "volume", "unit": "m3",
                      "pointer": "/payload/serviceData/cumulatedVolume_m3"},
                     {"name": "leak", "pointer": "/payload/serviceData/leakSuspected"},
                     {"name": "battery", "unit": "V",
                      "pointer": "/payload/serviceData/batteryVoltage"}]},
                {"name": "temp-1", "format": "onenet", "id": "5551234",
                 "report_period_s": 2, "grace_s": 0,
                 "points": [{"name": "temperature", "unit": "degC", "path": "3303_0_5700"}]}]}
        # A flag, not a noisy value, from a meter that reports now and then:
        # the next report without the flag clears it (no clear delay).
        cfg["rules"].append({"name": "leak", "device": "water-1", "point": "leak",
                             "kind": "threshold", "above": 0.5, "hysteresis": 0, "for_ms": 0,
                             "clear_for_ms": 0,
                             "priority": "high", "title": "Water meter reports a leak"})
    return make_config(tmp_path, broker["port"], sim.port, mutate)


class Platform:
    """The carrier platform: publishes reports at QoS 1."""

    def __init__(self, port):
        self.c = mqtt.Client(client_id=f"platform-{time.monotonic_ns()}")
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, topic, payload):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        self.c.publish(topic, payload, qos=1).wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def telemetry(sub, dev):
    return sub.json_messages(f"devices/{dev}/telemetry")


def nbiot_metrics(sub, pred):
    return wait_for(lambda: [m["nbiot"] for m in sub.json_messages("test-site/metrics")
                             if pred(m["nbiot"])], 10, "nbiot metrics")[-1]


def test_reports_map_to_points_with_their_own_time(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    d = daemon(nbiot_config(tmp_path, broker, sim))
    d.wait_log("subscribed to nbiot/onenet")
    p = Platform(broker["port"])
    try:
        # a good report: its values on the points, at the device's own time
        p.send("nbiot/ctwing/up", ctwing(T0 + 60000))
        m = wait_for(lambda: telemetry(sub, "water-1"), 10, "water-1 telemetry")[-1]
        assert m["ts"] == iso(T0 + 60000)
        assert m["points"]["volume"] == {"value": 1234.567, "unit": "m3", "quality": "good",
                                         "ts": iso(T0 + 60000)}
        assert m["points"]["leak"]["value"] == 0 and m["points"]["battery"]["value"] == 3.55

        # the same report again (redelivered by the platform): dropped
        p.send("nbiot/ctwing/up", ctwing(T0 + 60000))
        # a late report: older than what the points hold; published with its
        # own time, marked late, and the points keep the newer values
        p.send("nbiot/ctwing/up", ctwing(T0, volume=1200.0))
        late = wait_for(lambda: [t for t in telemetry(sub, "water-1") if t.get("late")], 10,
                        "the late report")
        assert late[0]["ts"] == iso(T0) and late[0]["points"]["volume"]["value"] == 1200.0
        nb = nbiot_metrics(sub, lambda n: n["late"] == 1)
        assert nb["duplicates"] == 1 and nb["accepted"] == 2 and nb["rejected"] == 0
        assert len(telemetry(sub, "water-1")) == 2

        # rules apply to NB-IoT points: a leak opens a work order
        p.send("nbiot/ctwing/up", ctwing(T0 + 120000, leak=True))
        d.wait_log("work order #1 opened")
        assert "device water-1, rule leak" in d.log()

        # OneNET LwM2M path message; then no report for its period: stale
        p.send("nbiot/onenet", {"type": 1, "dev_id": 5551234, "ds_id": "3303_0_5700",
                                "at": T0 + 5000, "value": 21.5})
        t = wait_for(lambda: telemetry(sub, "temp-1"), 10, "temp-1 telemetry")[0]
        assert t["points"]["temperature"]["value"] == 21.5
        assert t["points"]["temperature"]["ts"] == iso(T0 + 5000)
        st = wait_for(lambda: [json.loads(x) for (_, x) in sub.messages("temp-1/status")
                               if json.loads(x)["status"] == "offline"], 10, "temp-1 stale")
        assert "no report" in st[-1]["error"]
        stale = wait_for(lambda: [m for m in telemetry(sub, "temp-1")
                                  if m["points"]["temperature"]["quality"] == "stale"], 5,
                         "stale telemetry")
        assert stale[-1]["points"]["temperature"]["value"] is None

        # the platform says the meter went offline
        p.send("nbiot/ctwing/up", {"messageType": "deviceOnlineOfflineReport", "deviceId": DEV,
                                   "timestamp": T0 + 130000, "eventType": 0})
        wait_for(lambda: [x for (_, x) in sub.messages("water-1/status")
                          if json.loads(x)["status"] == "offline"], 10, "water-1 offline")
    finally:
        p.close()


MALFORMED = [
    b"",
    b"not json",
    b'{"messageType": "dataReport"',
    b"[1, 2, 3]",
    b'"a string"',
    b"42",
    b"null",
    {"foo": 1},
    ctwing(T0, messageType=5),
    {k: v for k, v in ctwing(T0).items() if k != "deviceId"},
    ctwing(T0, deviceId=""),
    {k: v for k, v in ctwing(T0).items() if k != "timestamp"},
    ctwing(T0, timestamp="yesterday"),
    ctwing(T0, timestamp=-5),
    ctwing(T0, timestamp=1.5),
    ctwing(T0, messageType="weirdReport"),
    ctwing(T0, payload="x"),
    ctwing(T0, volume="lots"),
    ctwing(T0, upPacketSN="7"),
    ctwing(T0, messageType="eventReport", eventType=9),
    {"type": 3, "dev_id": 5551234, "ds_id": "3303_0_5700", "at": T0, "value": 1},
    {"type": 1, "dev_id": 5551234, "at": T0, "value": 1},
    {"type": 1, "dev_id": 5551234, "ds_id": "3303_0_5700", "at": T0, "value": "hot"},
    {"type": 1, "dev_id": 5551234, "ds_id": "3303_0_5700", "value": 1},
    {"type": 1, "dev_id": [], "ds_id": "3303_0_5700", "at": T0, "value": 1},
    {"msg": 5},
]


def test_malformed_reports_are_rejected_and_counted(tmp_path, broker, sim, subscriber, daemon):
    assert len(MALFORMED) >= 20
    sub = subscriber("plantroom/#")
    d = daemon(nbiot_config(tmp_path, broker, sim))
    d.wait_log("subscribed to nbiot/onenet")
    p = Platform(broker["port"])
    try:
        for i, bad in enumerate(MALFORMED):
            p.send("nbiot/ctwing/up" if i % 2 else "nbiot/onenet", bad)
        nb = nbiot_metrics(sub, lambda n: n["rejected"] >= len(MALFORMED))
        assert nb["rejected"] == len(MALFORMED) and nb["accepted"] == 0
        rejects = [line for line in d.log().splitlines() if "rejected:" in line]
        assert len(rejects) == len(MALFORMED)
        # each reason names what is wrong
        for field in ("not JSON", "empty payload", "top level", "\"messageType\"",
                      "\"deviceId\"", "\"timestamp\"", "\"payload\"",
                      "/payload/serviceData/cumulatedVolume_m3", "\"upPacketSN\"",
                      "\"eventType\"", "\"type\"", "\"ds_id\"", "\"value\"", "\"at\"",
                      "\"dev_id\"", "\"msg\""):
            assert any(field in r for r in rejects), field
        # still serving: a good report maps, Modbus telemetry keeps flowing
        assert d.proc.alive()
        p.send("nbiot/ctwing/up", ctwing(T0 + 1))
        wait_for(lambda: telemetry(sub, "water-1"), 10, "water-1 telemetry after the rejects")
        n = len(telemetry(sub, "lift-1"))
        wait_for(lambda: len(telemetry(sub, "lift-1")) > n, 10, "lift-1 telemetry")
    finally:
        p.close()


def raw(obj):
    return json.dumps(obj).encode()


# Untrusted payloads of the kinds a fuzzer or a hostile platform sends, each
# with the reason it must be counted under (metrics "nbiot.rejected_by").
HOSTILE = [
    # one good report followed by garbage: cJSON alone would read the first
    (raw(ctwing(T0 + 5)) + b" {\"messageType\":\"dataReport\"}", "trailing_data"),
    (raw(ctwing(T0 + 6)) + b"\x00garbage", "trailing_data"),
    (raw({"type": 1, "dev_id": 5551234, "ds_id": "3303_0_5700", "at": T0, "value": 1}) + b"]",
     "trailing_data"),
    # integers that are fractions: eventType 0.5 would read as 0 (offline)
    (raw({"messageType": "deviceOnlineOfflineReport", "deviceId": DEV, "timestamp": T0 + 7,
          "eventType": 0.5}), "not_integer"),
    (raw(ctwing(T0 + 8, upPacketSN=3.25)), "not_integer"),
    (raw({"type": 2, "dev_id": 5551234, "at": T0, "status": 0.5}), "not_integer"),
    (raw(ctwing(T0 + 9.5)), "not_integer"),
    # huge numbers, before any cast
    (raw(ctwing(T0 + 10, upPacketSN=1e300)), "out_of_range"),
    (raw(ctwing(1e300)), "out_of_range"),
    (raw(ctwing(T0 + 11, volume=1e300)), "out_of_range"),
    (raw({"type": 1, "dev_id": 1e300, "ds_id": "3303_0_5700", "at": T0, "value": 1}),
     "out_of_range"),
    (raw({"messageType": "eventReport", "deviceId": DEV, "timestamp": T0 + 12,
          "eventType": 2 ** 40}), "out_of_range"),
    (b'{"type":1,"dev_id":5551234,"ds_id":"3303_0_5700","at":1,"value":1e999}', "out_of_range"),
    # deep nesting, refused before the parser recurses
    (b'{"messageType":"dataReport","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep"),
    (b"[" * 10000, "too_deep"),
    # too large
    (b'{"messageType":"dataReport","pad":"' + b"x" * 70000 + b'"}', "too_large"),
]


def test_hostile_payloads_are_refused_with_a_counted_reason(tmp_path, broker, sim, subscriber,
                                                            daemon):
    sub = subscriber("plantroom/#")
    d = daemon(nbiot_config(tmp_path, broker, sim))
    d.wait_log("subscribed to nbiot/onenet")
    p = Platform(broker["port"])
    want = {}
    try:
        for payload, reason in HOSTILE:
            p.send("nbiot/ctwing/up", payload)
            want[reason] = want.get(reason, 0) + 1
        nb = nbiot_metrics(sub, lambda n: n["rejected"] >= len(HOSTILE))
        assert nb["rejected"] == len(HOSTILE) and nb["accepted"] == 0, nb
        got = {k: v for k, v in nb["rejected_by"].items() if v}
        assert got == want, (got, want)
        # nothing of them reached a point; the device never went online
        assert not telemetry(sub, "water-1")
        assert d.proc.alive()
        p.send("nbiot/ctwing/up", ctwing(T0 + 100))
        wait_for(lambda: telemetry(sub, "water-1"), 10, "water-1 telemetry after the hostile ones")
    finally:
        p.close()
