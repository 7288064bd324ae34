# SPDX-License-Identifier: Apache-2.0
"""plantroomctl replay over a year of one-minute samples (525,600 rows).

The samples come from tests/gen/gen_samples.py with a known truth: a lift
machine healthy at 1.2 mm/s for 300 days, then wearing at 0.08 mm/s a day
until it crosses 4.5 mm/s (ISO 10816-1 class I, C/D). Replay must raise the
preventive work order at least 7 days ahead with a predicted date within 20%
of the true remaining time, and nothing in the healthy 300 days.
"""
import datetime
import json
import os
import subprocess
import sys

from conftest import ROOT, binary

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import gen_samples  # noqa: E402

DAY_MS = 86400000


def iso_ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def write_config(tmp_path):
    with open(os.path.join(ROOT, "deploy", "plantroom.json")) as f:
        cfg = json.load(f)
    cfg["profiles_dir"] = os.path.join(ROOT, "drivers", "profiles")
    cfg["state_dir"] = str(tmp_path / "state")
    cfg["rules"].append({"name": "vibration-trend", "device": "lift-1",
                         "point": "vibration_machine", "kind": "trend",
                         "iso10816": "10816-1:I"})
    cfg["rules"].append({"name": "lift-offline", "device": "lift-1",
                         "point": "vibration_machine", "kind": "stale", "after_ms": 300000})
    path = tmp_path / "plantroom.json"
    path.write_text(json.dumps(cfg))
    return path


def replay(config, samples, *extra):
    return subprocess.run([binary("plantroomctl"), "replay", "--config", str(config),
                           "--samples", str(samples), *extra],
                          capture_output=True, text=True, timeout=120)


def test_replay_year_predicts_wear(tmp_path):
    config = write_config(tmp_path)
    samples = tmp_path / "year.csv"
    gen_samples.main(["--days", "365", "--shape", "linear", "--base", "1.2", "--rate", "0.08",
                      "--onset-days", "300", "--noise", "0.15", "--seed", "3",
                      "--out", str(samples)])
    t0 = iso_ms("2026-01-01T00:00:00Z")
    truth = t0 + int((300 + (4.5 - 1.2) / 0.08) * DAY_MS)

    r = replay(config, samples, "--json")
    assert r.returncode == 0, r.stderr
    assert "525600 samples" in r.stderr
    acts = json.loads(r.stdout)
    trend = [a for a in acts if a["rule"] == "vibration-trend"]
    opens = [a for a in trend if a["action"] == "open"]
    assert len(opens) == 1
    o = opens[0]
    at = iso_ms(o["at"])
    assert o["work_type"] == "preventive" and o["kind"] == "trend"
    assert at >= t0 + 300 * DAY_MS  # nothing while healthy
    assert truth - at >= 7 * DAY_MS
    pred = o["evidence"]["prediction"]
    assert abs(iso_ms(pred["crossing"]) - truth) <= 0.2 * (truth - at)
    assert iso_ms(pred["interval"]["earliest"]) <= iso_ms(pred["crossing"])
    # Updates follow daily, and the priority rises as the date nears.
    prios = [a["priority"] for a in trend if a["action"] == "update"]
    assert prios and prios[-1] in ("high", "critical") and o["priority"] == "low"
    # Nothing else fires before the wear begins; the device never went silent.
    assert not [a for a in acts if iso_ms(a["at"]) < t0 + 300 * DAY_MS]
    assert not [a for a in acts if a["rule"] == "lift-offline"]


def test_replay_text_gaps_and_errors(tmp_path):
    config = write_config(tmp_path)
    samples = tmp_path / "gap.csv"
    # Epoch ms, a 10-minute silence of failed readings (empty values).
    rows = ["timestamp,device,point,value"]
    t = iso_ms("2026-03-01T00:00:00Z")
    for i in range(30):
        v = "" if 5 <= i < 16 else "1.2"
        rows.append(f"{t + i * 60000},lift-1,vibration_machine,{v}")
    rows.append("2026-03-01T00:30:00+08:00,lift-1,vibration_machine,1.2")  # older: ignored
    samples.write_text("\n".join(rows) + "\n")
    r = replay(config, samples)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines()
             if "lift-1/lift-offline" in x and " update " not in x]
    assert len(lines) == 2
    assert lines[0].startswith("2026-03-01T00:09:00.000Z  open")  # 5 min after the last good
    assert lines[1].startswith("2026-03-01T00:16:00.000Z  resolve")

    samples.write_text("timestamp,device,point,value\nnot,a,sample\n")
    r = replay(config, samples)
    assert r.returncode == 1 and "1 lines are not" in r.stderr
    r = replay(config, tmp_path / "missing.csv")
    assert r.returncode == 1
