# SPDX-License-Identifier: Apache-2.0
"""A service counter re-arms when its work order is closed: after the
maintenance team closes the order (plantroomctl), the next limit's worth of
door cycles opens a new order. Without the re-arm the counter would stay
past its limit and never open another."""
import json

from conftest import ctl, make_config, wait_for


def orders(config):
    return json.loads(ctl(config, "workorders", "list", "--json").stdout)


def test_closing_the_order_rearms_the_counter(tmp_path, broker, sim, daemon):
    def mutate(cfg):
        cfg["rules"] = [{"name": "door-service", "device": "lift-1", "point": "door_cycles",
                         "kind": "counter", "limit": 10,
                         "title": "Lift 1 door operator: service due"}]
    config = make_config(tmp_path, broker["port"], sim.port, mutate)
    sim.set("lift-1.door_cycles", 1000)          # held still by the simulator
    d = daemon(config)
    d.wait_log("device lift-1 online")
    sim.set("lift-1.door_cycles", 1012)          # 12 cycles since armed: due
    first = wait_for(lambda: orders(config), 15, "the service work order")
    assert len(first) == 1 and first[0]["rule"] == "door-service"
    n = str(first[0]["number"])
    for verb in ("ack", "start", "resolve", "close"):
        ctl(config, "workorders", verb, n, "--by", "tech")
    d.wait_log("lift-1/door-service re-armed (work order closed)")

    sim.set("lift-1.door_cycles", 1018)          # 6 since the service: not yet
    sim.set("lift-1.door_cycles", 1025)          # 13 since: due again
    second = wait_for(lambda: [o for o in orders(config) if o["status"] == "open"], 15,
                      "a new service order after the re-arm")
    assert second[0]["number"] != first[0]["number"]
    assert len(orders(config)) == 2
