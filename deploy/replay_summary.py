# SPDX-License-Identifier: Apache-2.0
"""Summarise `plantroomctl replay --json` (the array on stdin) for a person:
for each work order the replay would open, when; for a trend, the predicted
date the point reaches its limit (with its interval), how many days ahead
that was, and how its priority rose with the daily updates; for an anomaly,
the value against its usual level and when it was back to normal. Used by
deploy/demo.sh; works on any replay output."""
import json
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: no traceback


def day(ts):
    return ts[:10] + " " + ts[11:16] + " UTC"


def main():
    acts = json.load(sys.stdin)
    opens = [a for a in acts if a["action"] == "open"]
    if not opens:
        print("  no work order would be opened")
    for o in opens:
        print(f"  {day(o['at'])}  open  {o['device']}/{o['rule']}  {o['priority']} "
              f"{o['work_type']}: {o['title']}")
        pred = (o.get("evidence") or {}).get("prediction")
        if pred:
            iv = pred.get("interval") or {}
            print(f"    predicted date {day(pred['crossing'])} "
                  f"({iv.get('confidence', 0) * 100:.0f} % interval {day(iv['earliest'])} to "
                  f"{day(iv['latest'])}), {pred['days_left']:.1f} days ahead")
        ev = o.get("evidence") or {}
        if o.get("kind") == "anomaly":
            unit = ev.get("unit", "")
            k = 1000.0 if unit == "W" else 1.0
            u = "kW" if unit == "W" else unit
            print(f"    {ev['value'] / k:.1f} {u} against a usual {ev['baseline'] / k:.1f} {u} "
                  f"(sigma {ev['baseline_sigma'] / k:.1f}) for this hour of the week, "
                  f"held {ev['held_s'] / 60:.0f} min")
        end = next((a for a in acts if a["action"] == "resolve" and a["device"] == o["device"]
                    and a["rule"] == o["rule"] and a["at"] > o["at"]), None)
        if end and o.get("kind") == "anomaly":
            print(f"    back to normal at {day(end['at'])}")
        ups = [a for a in acts if a["action"] == "update" and a["device"] == o["device"]
               and a["rule"] == o["rule"] and a["at"] > o["at"] and o.get("kind") == "trend"]
        if ups:
            rises, prio = [], o["priority"]
            for a in ups:
                if a["priority"] != prio:
                    prio = a["priority"]
                    rises.append(f"{prio} from {a['at'][:10]}")
            print(f"    {len(ups)} daily updates to the end of the recording; priority "
                  f"{o['priority']}" + "".join(", " + r for r in rises))


main()
