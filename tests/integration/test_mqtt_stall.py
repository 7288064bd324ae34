# SPDX-License-Identifier: Apache-2.0
"""A broker that stays connected but stops reading (docs/mqtt.md, "The
client's queue").

A real mosquitto of this test's own is stopped with SIGSTOP while plantroomd
publishes about 2 MB of telemetry a second (20 devices of 125 registers
every 100 ms, from a second simulator in bench mode): the TCP connection
stays up, the socket buffers fill, and from then on every message handed to
paho stays in paho's queue. plantroomd must bound that queue (its memory
stays flat over thousands of polls), put the telemetry it cannot hand over
into the store-and-forward buffer instead of skipping it, say so in its
status and raise the gateway alarm, keep the work-order event raised
meanwhile and deliver it once the broker reads again, and resume telemetry
by itself, the stall's included (replayed from the spool).
"""
import datetime
import json
import signal
import sqlite3
import time

from conftest import Proc, binary, ctl, make_config, wait_for

BULK = 20      # devices of the bench simulator
POINTS = 125   # registers each: one read, a message of about 10 kB
ALARM = "mqtt.not_reading"


class BenchSim:
    """plantroom-sim --bench N: plain devices, units 1..N."""

    def __init__(self, tmp_path, procs, n):
        port_file = tmp_path / "bench-sim.port"
        self.proc = Proc("plantroom-sim", [binary("plantroom-sim"), "--port", "0", "--port-file",
                                           str(port_file), "--bench", str(n)],
                         tmp_path / "bench-sim.log")
        procs.append(self.proc)
        self.port = int(wait_for(lambda: port_file.exists() and port_file.read_text().strip(),
                                 10, "the bench simulator to listen"))


def stall_config(tmp_path, broker, sim, bench):
    profile = tmp_path / "bulk.json"
    profile.write_text(json.dumps({"profile": "bulk", "points": [
        {"name": f"p{i}", "address": i} for i in range(POINTS)]}))

    def mutate(cfg):
        cfg["mqtt"]["telemetry"] = {"on_change": False}
        # paho's keepalive would end the connection after 2.5 of these
        # without a PINGRESP: long, so that the connection stays up
        cfg["mqtt"]["keepalive_s"] = 300
        # mqtt.queue_max_bytes: the default (512 KiB)
        cfg["buses"].append({"name": "bulk", "type": "tcp", "host": "127.0.0.1",
                             "port": bench.port, "timeout_ms": 1000})
        cfg["devices"] += [{"name": f"bulk-{u}", "bus": "bulk", "unit_id": u, "interval_ms": 100,
                            "profile": str(profile)} for u in range(1, BULK + 1)]
    return make_config(tmp_path, broker["port"], sim.port, mutate)


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def polls(st):
    return sum(d["polls"] for d in st["devices"])


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


def sanitized(pid):
    """ASan keeps freed memory in its quarantine: RSS says nothing there.
    GCC links its runtime (libasan.so), clang's is inside the program: both
    programs name __asan_init."""
    with open(f"/proc/{pid}/exe", "rb") as f:
        return b"__asan_init" in f.read()


def lift_events_in_outbox(d):
    con = sqlite3.connect(f"file:{d.ledger_path()}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM outbox WHERE payload LIKE "
                           "'%\"device\":\"lift-1\"%'").fetchone()[0]
    finally:
        con.close()


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def gaps(stamps, most_s):
    """Consecutive time stamps (ISO 8601, sorted) more than most_s apart."""
    t = [datetime.datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ") for x in stamps]
    return [(stamps[i], stamps[i + 1]) for i in range(len(t) - 1)
            if (t[i + 1] - t[i]).total_seconds() > most_s]


def lift_events(sub):
    return [e for e in (json.loads(p) for t, p in sub.messages("events/workorder"))
            if e["work_order"]["device"] == "lift-1"]


def test_broker_not_reading_bounds_memory_and_recovers(tmp_path, broker, sim, daemon, procs,
                                                       subscriber):
    bench = BenchSim(tmp_path, procs, BULK)
    config = stall_config(tmp_path, broker, sim, bench)
    # persistent sessions: should their keep-alive give up on the stopped
    # broker, the broker still keeps the messages for them. lift-1's
    # telemetry on a subscriber of its own: the broker's queue for it stays
    # short when the stall's thousands of messages arrive at once.
    sub = subscriber("plantroom/#", client_id="stall-sub")
    lift = subscriber("plantroom/test-site/devices/lift-1/telemetry", client_id="stall-lift")
    d = daemon(config)
    pid = d.proc.p.pid
    wait_for(lambda: sub.messages("devices/bulk-1/telemetry"), 20, "live telemetry")
    st = status(config)
    q = st["mqtt"]["client_queue"]
    assert q["max_bytes"] == 524288  # the default
    max_bytes = q["max_bytes"]
    # warm: 1000 polls at this rate (the heap has its working size)
    p0 = polls(st)
    wait_for(lambda: polls(status(config)) >= p0 + 1000, 60, "1000 polls")
    base_kb = rss_anon_kb(pid)

    t_stop = iso_now()
    broker["proc"].signal(signal.SIGSTOP)
    try:
        # The socket buffers fill first; then telemetry waits, and goes to
        # the store-and-forward buffer once it waited half a poll interval.
        st = wait_for(lambda: (lambda s: s["mqtt"]["client_queue"]["telemetry_buffered"] > 0
                               and s)(status(config)), 90, "telemetry buffered")
        assert st["mqtt"]["connected"]
        assert st["mqtt"]["client_queue"]["state"].startswith(
            "broker not reading: "), st["mqtt"]["client_queue"]
        wait_for(lambda: any(a["key"] == ALARM for a in status(config)["alarms"]), 10,
                 "the gateway alarm")
        assert "mqtt: broker not reading: " in ctl(config, "status").stdout
        # An event raised meanwhile: committed to the outbox, not delivered.
        sim.set("lift-1.vibration_machine", 5.5)
        wait_for(lambda: lift_events_in_outbox(d) >= 1, 30, "the work order's event in the outbox")
        assert not lift_events(sub)
        # Memory stays flat while the broker does not read: 2000 polls (about
        # 20 MB of telemetry) after the first buffered message.
        st = status(config)
        p1, buffered1 = polls(st), st["mqtt"]["client_queue"]["telemetry_buffered"]
        peak_kb, peak_q = rss_anon_kb(pid), 0

        def polled_enough():
            nonlocal peak_kb, peak_q
            s = status(config)
            peak_kb = max(peak_kb, rss_anon_kb(pid))
            peak_q = max(peak_q, s["mqtt"]["client_queue"]["bytes"])
            return polls(s) >= p1 + 2000 and s

        st = wait_for(polled_enough, 90, "2000 polls with the broker stopped")
        assert st["mqtt"]["connected"] and st["mqtt"]["connects"] == 1
        q = st["mqtt"]["client_queue"]
        # buffered, not skipped: the spool holds them (a skip is a poll the
        # loop handled before the wait's deadline ran: rare, counted)
        assert q["telemetry_buffered"] >= buffered1 + 1000, q
        assert q["telemetry_skipped"] * 100 <= q["telemetry_buffered"], q
        assert st["mqtt"]["telemetry_buffer"]["spool"] >= 1000, st["mqtt"]["telemetry_buffer"]
        # what paho holds: the bound, one telemetry message past it, and the
        # few small publishes that are never held back (status, events)
        assert peak_q <= max_bytes + 65536, (peak_q, max_bytes)
        if not sanitized(pid):
            assert peak_kb - base_kb < 6 * 1024, (base_kb, peak_kb)
        t_cont = iso_now()
    finally:
        broker["proc"].signal(signal.SIGCONT)

    # The broker reads again: the event arrives, telemetry resumes, the
    # degraded mode ends by itself.
    events = wait_for(lambda: lift_events(sub), 60, "the work-order event")
    assert events[0]["event"] == "opened"
    st = wait_for(lambda: (lambda s: s["mqtt"]["client_queue"]["state"] == "ok" and s)(
        status(config)), 60, "the degraded mode to end")
    assert not any(a["key"] == ALARM for a in st["alarms"])
    assert st["mqtt"]["connects"] == 1  # the same connection throughout
    n = len(sub.messages("devices/bulk-1/telemetry"))
    wait_for(lambda: len(sub.messages("devices/bulk-1/telemetry")) >= n + 20, 30,
             "telemetry to resume")
    wait_for(lambda: [m for m in lift.json_messages("telemetry") if m["ts"] > t_cont], 30,
             "lift-1's telemetry after SIGCONT")
    # The stall's telemetry reached the broker: the buffer empties (replayed
    # while live telemetry goes on), and lift-1 (polled every 200 ms) has no
    # gap over the whole stall, most of it replayed from the spool.
    wait_for(lambda: (lambda b: b["spool"] + b["memory"] + b["spool_queue"] == 0)(
        status(config)["mqtt"]["telemetry_buffer"]), 120, "the buffer to empty")

    def stall_stamps():
        return [t_stop] + sorted({m["ts"] for m in lift.json_messages("telemetry")
                                  if t_stop <= m["ts"] <= t_cont}) + [t_cont]
    deadline = time.monotonic() + 30  # the last replayed messages on their way
    while time.monotonic() < deadline and gaps(stall_stamps(), 1.0):
        time.sleep(0.2)
    assert not gaps(stall_stamps(), 1.0), gaps(stall_stamps(), 1.0)
    assert any(m.get("replayed") for m in lift.json_messages("telemetry")
               if t_stop <= m["ts"] <= t_cont)
    assert "broker is not reading" in d.log() and "the broker reads again" in d.log()
