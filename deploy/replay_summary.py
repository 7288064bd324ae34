"""Summarise `plantroomctl replay --json` (the array on stdin) for a person:
for each preventive order the replay would open, when, the predicted date
the point reaches its limit (with its interval) and how many days ahead
that was, then how its priority rose with the daily updates. Used by
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
        ups = [a for a in acts if a["action"] == "update" and a["device"] == o["device"]
               and a["rule"] == o["rule"] and a["at"] > o["at"]]
        if ups:
            rises, prio = [], o["priority"]
            for a in ups:
                if a["priority"] != prio:
                    prio = a["priority"]
                    rises.append(f"{prio} from {a['at'][:10]}")
            print(f"    {len(ups)} daily updates to the end of the recording; priority "
                  f"{o['priority']}" + "".join(", " + r for r in rises))


main()
