# SPDX-License-Identifier: Apache-2.0
"""Liveness: a bus thread stuck in a driver call (gateway/core/core_live.c,
gateway/service/svc_sdnotify.c).

The simulator's "stall" fault answers a request with a frame that announces
250 data bytes and then sends one byte every 200 ms: libmodbus stays inside
one read for almost a minute, far past the bus's 300 ms timeout, as a
wedged USB-RS485 adapter does. The bus thread reports nothing more: every
device of the bus must go offline within the documented time (its poll
deadline: liveness.missed_polls intervals plus one timeout per device of
the bus and one for connecting), a stale rule must fire, the gateway alarm
thread.bus.sim must be raised, and systemd's watchdog must no longer be
fed (through the daemon's own sd_notify, NOTIFY_SOCKET pointing at a socket
of the test's own, WATCHDOG_USEC set). When the fault is lifted everything
comes back: pings, devices, the alarm cleared. A reload while the thread is
stuck does not wait for it: the thread is left behind (it frees itself when
its call returns) and a new one takes the bus.
"""
import json
import os
import re
import time

from conftest import Proc, binary, ctl, make_config, wait_for
from test_service_systemd import NotifySocket

TOPIC_WO = "test-site/events/workorder"
TIMEOUT_MS, INTERVAL_MS, MISSED = 300, 200, 3


def status(config):
    return json.loads(ctl(config, "status", "--json").stdout)


def device(st, name):
    return next(d for d in st["devices"] if d["name"] == name)


def test_a_stuck_bus_is_seen_and_stops_the_watchdog(tmp_path, broker, sim, subscriber, procs):
    def mutate(cfg):
        cfg["buses"][0]["timeout_ms"] = TIMEOUT_MS
        cfg["liveness"] = {"missed_polls": MISSED, "thread_stall_ms": 2000}
        cfg["rules"].append({"name": "lift-2-silent", "device": "lift-2",
                             "point": "vibration_machine", "kind": "stale", "after_ms": 3000,
                             "title": "Lift 2 sends no readings"})
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    cfg = json.loads(config.read_text())
    ndev = len(cfg["devices"])
    # the deadline of a device of the bus (docs/operations.md, "Liveness")
    deadline_s = (MISSED * INTERVAL_MS + TIMEOUT_MS * (ndev + 1)) / 1000.0
    sub = subscriber("plantroom/#")
    notify = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
    d = Proc("plantroomd", [binary("plantroomd"), "--config", str(config)],
             tmp_path / "plantroomd.log", env=env)
    procs.append(d)
    try:
        wait_for(lambda: notify.lines().count("WATCHDOG=1") >= 3, 20, "watchdog pings")
        wait_for(lambda: all(x["status"] == "online" for x in status(config)["devices"]), 20,
                 "every device online")

        # Wedge the bus: lift-1's next request never ends in time.
        sim.set("lift-1.fault", "stall")
        sim_log = tmp_path / "sim.log"
        wait_for(lambda: "stalling an answer" in sim_log.read_text(), 15, "the stall")
        t0 = time.monotonic()
        st = wait_for(lambda: (lambda s: all(x["status"] == "offline" for x in s["devices"])
                               and s)(status(config)), 30, "every device offline")
        offline_s = time.monotonic() - t0
        l2 = device(st, "lift-2")
        assert "reported no poll" in l2["last_error"] and l2["overdue"] is True
        # the daemon's own measure: how long its bus had been silent when it
        # declared the device offline (its deadline, plus at most the 250 ms
        # tick and the loop's lag)
        silent_s = float(re.search(r"device lift-2 offline: bus sim reported no poll for "
                                   r"([0-9.]+) s", d.output())[1])
        print(f"offline detection: {offline_s:.2f} s seen by the test, bus silent "
              f"{silent_s:.2f} s at the daemon's verdict (deadline {deadline_s:.2f} s)")
        assert deadline_s - 0.1 <= silent_s <= deadline_s + 1.5, (silent_s, deadline_s)
        assert offline_s <= deadline_s + 5, (offline_s, deadline_s)  # a loaded box's slack
        assert all(p["quality"] == "comm_error" for p in l2["points"])

        # The thread is stuck: alarm raised, the watchdog no longer fed.
        st = wait_for(lambda: (lambda s: any(a["key"] == "thread.bus.sim" for a in s["alarms"])
                               and s)(status(config)), 15, "alarm thread.bus.sim")
        assert st["health"] == "degraded"
        thr = next(t for t in st["threads"] if t["name"] == "bus.sim")
        assert thr["stuck"] is True
        pings = notify.lines().count("WATCHDOG=1")
        up = st["uptime_s"]
        # barrier: 3 s of the loop's own time (6 ping intervals) go by
        wait_for(lambda: status(config)["uptime_s"] >= up + 3, 15, "3 s of uptime")
        assert notify.lines().count("WATCHDOG=1") == pings
        assert "systemd watchdog not fed: thread bus.sim made no progress" in d.output()
        # the stale rule of lift-2 fired on the comm_error samples
        ev = wait_for(lambda: [e for e in sub.json_messages(TOPIC_WO)
                               if e["work_order"]["rule"] == "lift-2-silent"], 15,
                      "the stale rule's order")[0]
        assert ev["event"] == "opened"
        assert any(e["work_order"]["rule"] == "thread.bus.sim"
                   for e in sub.json_messages(TOPIC_WO))
        m = ctl(config, "status", "--json")  # the daemon answers meanwhile
        assert m.returncode == 0

        # A reload does not wait on the wedged thread (the stall lasts almost
        # a minute): the thread is left behind, counted, and a new one polls.
        r = ctl(config, "reload")
        assert r.returncode == 0, r.stderr
        assert "thread did not stop within" in d.output()
        st = status(config)
        assert st["threads_abandoned"] == 1

        # The adapter comes back: pings, devices and the alarm recover.
        sim.set("lift-1.fault", "none")
        wait_for(lambda: notify.lines().count("WATCHDOG=1") >= pings + 3, 20, "pings again")
        wait_for(lambda: all(x["status"] == "online" for x in status(config)["devices"]), 20,
                 "devices online again")
        st = status(config)
        assert not any(a["key"] == "thread.bus.sim" for a in st["alarms"])
        assert "gateway alarm thread.bus.sim cleared" in d.output()
        assert "systemd watchdog fed again" in d.output()
        b = next(x for x in st["buses"] if x["name"] == "sim")
        assert b["last_ok"] is not None and 0 <= b["last_ok_age_s"] < 5
    finally:
        notify.close()
