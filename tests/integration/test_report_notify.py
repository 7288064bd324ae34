# SPDX-License-Identifier: Apache-2.0
"""The monthly report in the notifier (docs/hooks.md, "The monthly report"),
through plantroom-notify-drive (the real notifier, notify.db and hooks; the
report's outbox rows fed on its stdin with "channel": "report"):

- held by quiet hours (judged in their zone) until they end: the due time
  recorded in notify.db is the end of the quiet hours; the row is answered
  (event_stored) only once notify.db has the report: not while its writes
  fail, at once when they succeed again;
- offered again (an answer lost in a crash): ignored by its event id,
  answered again, no second message;
- a restart during the quiet hours keeps the hold (a due time hours ahead
  is not taken for a clock set back);
- outside quiet hours it goes at once, to the groups of the routes that
  list "report" only: the SMS is the one-line summary, stdin the report's
  JSON with its page, PLANTROOM_ALERT the same without text and page (a
  page larger than an environment variable may be);
- a report more than 28 days old, a malformed one, and a row of a channel
  the notifier does not know are answered and send nothing.
"""
import json
import sqlite3
from datetime import datetime, timedelta, timezone

from conftest import wait_for
from hooks_helpers import PHONES, Drive, FakeSms, base_config, write_config

CAROL = PHONES["carol"]


def config(tmp_path, sms, quiet=None):
    cfg = base_config(tmp_path, sms, group_wait_ms=0)
    cfg["log"] = {"level": "debug"}  # an offer seen again is logged at debug
    cfg["routes"] = [{"categories": ["report"], "groups": ["managers"]},
                     {"groups": ["oncall"]}]
    if quiet:
        cfg["quiet_hours"] = quiet
    return write_config(tmp_path, cfg)


def report_event(month="2026-05", ts=None, html_kb=1):
    """A report event as the ledger writes it to its outbox (channel
    "report"; store/ledger_report.c)."""
    ts = ts or datetime.now(timezone.utc)
    page = "<!DOCTYPE html><html><body>" + "x" * (html_kb * 1024) + "</body></html>"
    return {"v": 1, "event_id": f"report:{month}", "event": "report",
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "month": month,
            "site": "test-site", "site_name": "Tower",
            "subject": f"Monthly maintenance report {month} - Tower",
            "files": {e: f"/var/lib/plantroom/reports/report-{month}.{e}"
                      for e in ("html", "json", "txt")},
            "summary": {"opened": 19, "closed": 14, "still_open": 3, "late": 4,
                        "on_time_rate": 0.778, "target_met": False, "target": 0.98,
                        "energy_meters": 2, "energy_kwh": 20042.9},
            "text": f"Monthly maintenance report {month}\nOn-time rate 77.8 %\n",
            "html": page}


def report_rows(tmp_path):
    con = sqlite3.connect(tmp_path / "state" / "notify.db", timeout=5)
    try:
        return con.execute("SELECT recipient, state, attempts, next_ms FROM notifications"
                           " WHERE message LIKE '[Tower] REPORT %' ORDER BY id").fetchall()
    finally:
        con.close()


def quiet_now():
    """Quiet hours in UTC from an hour ago to two hours ahead (whole
    minutes), and the wall-clock ms at which they end."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    q = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "tz": "UTC"}
    return q, int(end.timestamp() * 1000)


def test_held_answered_after_commit_once_and_across_a_restart(tmp_path, procs):
    sms = FakeSms(tmp_path)
    quiet, end_ms = quiet_now()
    cfgpath = config(tmp_path, sms, quiet)
    d = Drive(tmp_path, procs, cfgpath)

    # notify.db refuses writes: the report is taken in, not answered.
    d.send({"fault": "full"})
    wait_for(lambda: "drive: fault full" in d.log(), 5, "the fault")
    d.send({"event": report_event(), "outbox_id": 7, "channel": "report"})
    wait_for(lambda: "report 2026-05 queued for carol (group managers): held by quiet hours"
             in d.log(), 5, "the report queued, held")
    wait_for(lambda: d.status()["notify"]["write_failures"] > 0, 10, "a write refused")
    assert d.stored() == []
    d.send({"fault": "none"})
    wait_for(lambda: d.stored() == [7], 10, "the row answered once recorded")
    rows = report_rows(tmp_path)
    assert rows == [("carol", "pending", 0, end_ms)]  # due when the quiet hours end

    # Offered again: ignored, answered again.
    d.send({"event": report_event(), "outbox_id": 8, "channel": "report"})
    wait_for(lambda: d.stored() == [7, 8], 10, "the offer answered again")
    assert "report 2026-05 offered again: already taken in" in d.log()
    assert d.log().count("report 2026-05 queued") == 1
    d.stop()

    # A restart in the night: still held (ten ticks as a barrier).
    d2 = Drive(tmp_path, procs, cfgpath, "drive2.log")
    wait_for(lambda: d2.status()["notify"]["ticks"] >= 10, 15, "ten ticks after the restart")
    assert sms.messages() == []
    assert report_rows(tmp_path) == [("carol", "pending", 0, end_ms)]
    d2.stop()


def test_sent_at_once_outside_quiet_hours_and_what_is_ignored(tmp_path, procs):
    sms = FakeSms(tmp_path)
    d = Drive(tmp_path, procs, config(tmp_path, sms))
    # a page of 200 KiB: more than an environment variable may hold
    d.send({"event": report_event(html_kb=200), "outbox_id": 11, "channel": "report"})
    msg = wait_for(lambda: sms.messages(), 10, "the report's SMS")[0]
    assert msg["argv"][1] == CAROL  # managers only: not the catch-all route's oncall
    assert msg["argv"][3].startswith("[Tower] REPORT 2026-05: 19 work orders, 77.8 % on time")
    doc = json.loads(msg["stdin"])
    assert doc["kind"] == "report" and doc["group"] == "managers"
    assert doc["report"]["month"] == "2026-05" and len(doc["report"]["html"]) > 200 * 1024
    env = json.loads(msg["env"])
    assert env["report"]["month"] == "2026-05"
    assert "html" not in env["report"] and "text" not in env["report"]
    wait_for(lambda: report_rows(tmp_path) and report_rows(tmp_path)[0][1] == "sent", 10,
             "recorded sent")
    assert 11 in d.stored()

    # Old news, malformed, a channel the notifier does not know: answered,
    # nothing sent.
    old = datetime.now(timezone.utc) - timedelta(days=40)
    d.send({"event": report_event("2026-03", ts=old), "outbox_id": 12, "channel": "report"})
    bad = report_event("2026-04")
    del bad["month"]
    d.send({"event": bad, "outbox_id": 13, "channel": "report"},
           {"event": {"v": 1, "event_id": "x:1"}, "outbox_id": 14, "channel": "other"})
    wait_for(lambda: d.stored() == [11, 12, 13, 14], 10, "every row answered")
    assert "report 2026-03 of " in d.log() and "is old news: not sent" in d.log()
    assert "ignoring a malformed report event" in d.log()
    t = d.status()["notify"]["ticks"]
    wait_for(lambda: d.status()["notify"]["ticks"] >= t + 5, 10, "five more ticks")
    assert len(sms.messages()) == 1 and len(report_rows(tmp_path)) == 1
    d.stop()
