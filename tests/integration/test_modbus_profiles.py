# SPDX-License-Identifier: Apache-2.0
"""The fire panel, pump drive and tank level profiles against plantroom-sim:
bit fields decoded into named points, a level scaled by its decimals
register, pump status bits that agree with the pump's speed."""
from conftest import make_config, wait_for


def latest(sub, dev, pred=lambda m: True):
    msgs = [m for m in sub.json_messages(f"devices/{dev}/telemetry") if pred(m)]
    return msgs[-1]["points"] if msgs else None


def val(pts, name):
    assert pts[name]["quality"] == "good", (name, pts[name])
    return pts[name]["value"]


def test_plant_profiles(tmp_path, broker, sim, subscriber, daemon):
    sub = subscriber("plantroom/#")
    daemon(make_config(tmp_path, broker["port"], sim.port))

    fire = wait_for(lambda: latest(sub, "fire-panel"), 15, "fire panel telemetry")
    for z in range(1, 8):
        assert val(fire, f"zone_{z}_fire") == 0 and val(fire, f"zone_{z}_trouble") == 0
        assert val(fire, f"zone_{z}_event") == 0
    assert val(fire, "zone_8_event") == 255  # not programmed
    assert val(fire, "panel_silenced") == 0

    tank = wait_for(lambda: latest(sub, "tank-1"), 15, "tank telemetry")
    assert val(tank, "decimals") == 2 and val(tank, "unit_code") == 7
    assert 0 <= val(tank, "level") <= 5.0
    assert val(tank, "range_full") == 5.0

    for name in ("pump-1", "pump-2"):
        p = wait_for(lambda: latest(sub, name), 15, f"{name} telemetry")
        assert val(p, "ready_on") == 1 and val(p, "tripped") == 0
        assert val(p, "at_reference") == (1 if val(p, "speed") > 0 else 0)
        assert (val(p, "current") > 10) == (val(p, "speed") > 0)

    # A fire in zone 3 (enabled, active, event 0x21); three decimals on the
    # transmitter: the level stays in metres.
    sim.set("fire-panel.zone_3", 0x0400 | 0x0800 | 0x21)
    sim.set("tank-1.decimals", 3)
    fire = wait_for(lambda: latest(sub, "fire-panel",
                                   lambda m: m["points"]["zone_3_fire"]["value"] == 1),
                    10, "zone 3 fire")
    assert val(fire, "zone_3_event") == 0x21 and val(fire, "zone_2_fire") == 0
    tank = wait_for(lambda: latest(sub, "tank-1",
                                   lambda m: m["points"]["decimals"]["value"] == 3),
                    10, "three decimals")
    assert 0 <= val(tank, "level") <= 5.0 and val(tank, "range_full") == 5.0
