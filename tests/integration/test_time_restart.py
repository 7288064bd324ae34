# SPDX-License-Identifier: Apache-2.0
"""Restarts and reloads never silence an alarm (docs/operations.md, "Restarts,
reloads and clock steps").

A work order firing when plantroomd is killed (SIGKILL) must clear after the
restart once the condition is gone, and be retriggered when it comes back:
first with the rule state the daemon saved at the transition (no waiting for
the periodic save), then with no rule state at all (the rules learn of the
order from the ledger at start), and last across a reload that dropped and
brought back the rule. Real mosquitto, simulator, daemon and ledger; the
events are read by an independent subscriber.
"""
import signal

from conftest import ctl, make_config, wait_for

TOPIC_WO = "test-site/events/workorder"
RULE = ("lift-1", "vibration-high")


def events(sub):
    """The work-order events of lift-1/vibration-high, once each (a SIGKILL
    can make the daemon publish an event again: consumers dedupe by id)."""
    seen, out = set(), []
    for e in sub.json_messages(TOPIC_WO):
        wo = e["work_order"]
        if (wo["device"], wo["rule"]) != RULE or e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        out.append(e)
    return out


def wait_event(sub, n, name, what):
    """Wait for the n-th event (1-based) and check its name."""
    evs = wait_for(lambda: len(events(sub)) >= n and events(sub), 20, what)
    assert evs[n - 1]["event"] == name, [e["event"] for e in evs]
    return evs[n - 1]


def kill(d):
    d.proc.signal(signal.SIGKILL)
    d.proc.wait(10)


def test_kill_restart_and_reload_clear_and_retrigger(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    config = make_config(tmp_path, broker["port"], sim.port)
    state = tmp_path / "state" / "rules.state"

    # 1. The order opens; the transition saves the rule state at once (the
    #    periodic save is 300 s away); then the daemon dies.
    d = daemon(config)
    sim.set("lift-1.vibration_machine", 6.0)
    wo = wait_event(sub, 1, "opened", "the order to open")["work_order"]
    wait_for(lambda: state.exists(), 10, "rules.state written at the transition")
    kill(d)

    # 2. The condition went while it was down; restarted with its state, the
    #    rule clears the order within a few polls and retriggers it later.
    sim.set("lift-1.vibration_machine", 1.0)
    d = daemon(config, "plantroomd2.log")
    ev = wait_event(sub, 2, "cleared", "the order to clear after the restart")
    assert ev["work_order"]["id"] == wo["id"]
    assert "rules restored" in d.log()
    assert "its work order is active in the ledger" not in d.log()  # the state knew
    sim.set("lift-1.vibration_machine", 6.0)
    ev = wait_event(sub, 3, "retriggered", "the order to be retriggered")
    assert ev["work_order"]["id"] == wo["id"] and ev["work_order"]["occurrences"] == 2

    # 3. Killed again, and its rule state lost (as if saved before the order
    #    fired): the ledger tells the rule at start.
    kill(d)
    state.unlink()
    sim.set("lift-1.vibration_machine", 1.0)
    d = daemon(config, "plantroomd3.log")
    d.wait_log("lift-1/vibration-high: its work order is active in the ledger")
    ev = wait_event(sub, 4, "cleared", "the order to clear without rule state")
    assert ev["work_order"]["id"] == wo["id"]
    sim.set("lift-1.vibration_machine", 6.0)
    wait_event(sub, 5, "retriggered", "the order to be retriggered without rule state")

    # 4. A reload without the rule, the condition goes, a reload with the
    #    rule again (a fresh state): the ledger tells it, it clears, and a
    #    new condition retriggers the same order.
    text = config.read_text()
    mark = '"name": "vibration-high",\n      "device": "lift-1"'
    assert mark in text
    config.write_text(text.replace(mark, '"name": "vibration-off",\n      "device": "lift-1"', 1))
    assert ctl(config, "reload").returncode == 0
    sim.set("lift-1.vibration_machine", 1.0)
    config.write_text(text)
    assert ctl(config, "reload").returncode == 0
    ev = wait_event(sub, 6, "cleared", "the order to clear after the reload")
    assert ev["work_order"]["id"] == wo["id"]
    sim.set("lift-1.vibration_machine", 6.0)
    ev = wait_event(sub, 7, "retriggered", "the order to be retriggered after the reload")
    assert ev["work_order"]["occurrences"] == 4
    assert d.proc.stop() == 0
