# SPDX-License-Identifier: Apache-2.0
"""The monthly report as JSON, as an HTML page with charts, and the trend of
a predictive order as a picture (docs/operations.md, "Monthly report"), on
a ledger with a known month (plantroom-report-gen: work orders with chosen
SLA outcomes in five areas, a trend rule's preventive order, device events,
two years of a kWh meter):

- the JSON's figures are the truth the generator computed from its plan;
- every figure the page shows (tiles, tables, the charts' bars) is the
  JSON's, every chart is well-formed SVG with the expected bars and the
  98 % line at 98 % of the scale, and the page fetches nothing;
- `workorders show N --svg` draws the order's daily levels (the rollups'
  level of the last fitted day is the rule's own), the limit and the
  crossing;
- headless Chromium renders the page to a PNG and a PDF; the PNG and the
  page are kept in build/test-artefacts.
"""
import json
import math
import os
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from lxml import html as lhtml

from report_helpers import (MONTH, artefact_dir, ctl_ledger, generate, png_size, render)

SVG = "{http://www.w3.org/2000/svg}"
KPI_INTS = ("opened", "closed", "cancelled", "resolved", "still_open", "on_time", "late")
KPI_FLOATS = ("on_time_rate", "mean_time_to_acknowledge_s", "mean_time_to_resolve_s")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    truth = generate(d / "ledger.db", d / "truth.json")
    report = ctl_ledger(d / "ledger.db", "report", "--month", MONTH, "--json").stdout
    ctl_ledger(d / "ledger.db", "report", "--month", MONTH, "--html", str(d / "report.html"))
    return {"dir": d, "truth": truth, "r": json.loads(report),
            "html": (d / "report.html").read_text()}


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


def fnum(v):
    return None if v == "null" else float(v)


def check_kpi(got, want):
    for k in KPI_INTS:
        assert got[k] == want[k], k
    for k in KPI_FLOATS:
        assert close(got[k], want[k]), k


# ---- the JSON against the truth -------------------------------------------------

def test_json_figures_are_the_known_ones(made):
    r, t = made["r"], made["truth"]
    check_kpi(r["kpi"]["overall"], t["overall"])
    cats = {g["category"]: g for g in r["kpi"]["by_category"]}
    assert set(cats) == set(t["by_category"])
    for c, want in t["by_category"].items():
        check_kpi(cats[c], want)
    locs = {g["location"]: g for g in r["kpi"]["by_location"]}
    assert {k: v["opened"] for k, v in locs.items()} == \
        {k: v["opened"] for k, v in t["by_location"].items()}
    assert [k for k, v in locs.items() if v["flagged"]] == [t["flagged"]]
    # the worst late orders: every late one, latest first
    late = r["late_orders"]
    assert sorted(o["number"] for o in late) == sorted(t["late"])
    assert [o["late_by_s"] for o in late] == sorted((o["late_by_s"] for o in late), reverse=True)
    assert r["top_devices"][0] == {"device": "lift-1", "work_orders": 5, "occurrences": 5}
    assert r["top_devices"][1] == {"device": "lift-2", "work_orders": 4, "occurrences": 6}
    avail = {a["device"]: a for a in r["availability"]}
    for dev, want in t["availability"].items():
        assert close(avail[dev]["online_pct"], want["online_pct"]), dev
        assert avail[dev]["outages"] == want["outages"], dev
        assert close(avail[dev]["unknown_s"], want["unknown_s"]), dev
    assert sorted(a["number"] for a in r["energy_anomalies"]) == sorted(t["anomalies"])
    assert [p["number"] for p in r["predictive"]] == [t["predictive"]]


def test_json_energy_per_day_and_against_other_months(made):
    r, t = made["r"], made["truth"]
    meters = {f'{e["device"]}/{e["point"]}': e for e in r["energy"]}
    assert set(meters) == {"meter-main/energy_total", "meter-ahu/energy_import"}
    main, want = meters["meter-main/energy_total"], t["meter-main/energy_total"]
    assert close(main["use"], want["use"])
    assert all(close(a, b) for a, b in zip(main["daily"], want["daily"], strict=True))
    assert main["daily"][16] is None  # the 17th had no readings: counted on the 18th
    assert close(sum(d for d in main["daily"] if d), main["use"])
    assert close(main["previous"]["use"], want["previous"])
    assert close(main["last_year"]["use"], want["last_year"])
    assert close(main["last_year"]["change_pct"],
                 (want["use"] - want["last_year"]) / want["last_year"] * 100)
    assert main["last_year"]["change_pct"] < -10  # the site met a 10 % reduction
    ahu = meters["meter-ahu/energy_import"]
    assert close(ahu["use"], t["meter-ahu/energy_import"]["use"])
    for cmp in ("previous", "last_year"):  # installed this month: no data then
        assert ahu[cmp]["use"] is None and ahu[cmp]["change_pct"] is None


def test_json_prediction_from_the_evidence_and_the_rollups(made):
    p = made["r"]["predictive"][0]
    assert p["limit"] == 4.5 and p["unit"] == "mm/s" and p["status"] == "in_progress"
    assert p["earliest"] <= p["crossing"] <= p["latest"]
    assert p["model"] in ("linear", "exponential", "knee")
    # The rollups' level of the last day the rule closed is the rule's own.
    at_day = {d[0] // 86400000: d[1] for d in p["daily"]}
    at = datetime.fromisoformat(p["at"].replace("Z", "+00:00")).timestamp() * 1000
    assert close(at_day[int(at // 86400000) - 1], p["daily_level"], rel=1e-9)
    ys = [pt[1] for pt in p["trend"]]
    assert ys == sorted(ys) and ys[0] < 4.5 < ys[-1]  # the fit rises through the limit
    # the interval is the crossing date's (a bootstrap), not a band around the curve
    assert all(lo is None and hi is None for _, y, lo, hi in p["trend"])


# ---- the page against the JSON -----------------------------------------------------

def rows(doc, section):
    """{row key: {field: value}} of every table row in the section."""
    out = {}
    for tr in doc.xpath(f'//section[@id="{section}"]//tr[@data-key]'):
        out[tr.get("data-key")] = {td.get("data-f"): fnum(td.get("data-value"))
                                   for td in tr.xpath("./td[@data-f]")}
    return out


def test_html_figures_are_the_json_figures(made):
    r, doc = made["r"], lhtml.fromstring(made["html"])
    ov, sm = r["kpi"]["overall"], r["summary"]
    tiles = {t.get("data-f"): t for t in doc.xpath('//div[contains(@class, "tile")]')}
    assert fnum(tiles["opened"].get("data-value")) == ov["opened"]
    assert close(fnum(tiles["on_time_rate"].get("data-value")), ov["on_time_rate"])
    assert f'{ov["on_time_rate"] * 100:.1f} %' in tiles["on_time_rate"].text_content()
    assert "bad" in tiles["on_time_rate"].get("class")  # 77.8 % is below the target
    assert close(fnum(tiles["energy_kwh"].get("data-value")), sm["energy_kwh"])
    assert fnum(tiles["predictive"].get("data-value")) == sm["predictive"] == 1
    sla = rows(doc, "sla")
    for g in [dict(ov, category="")] + r["kpi"]["by_category"]:
        got = sla[g["category"]]
        for k in ("opened", "on_time", "late", *KPI_FLOATS):
            assert close(got[k], g[k]), (g["category"], k)
    late = [k for k in sla if k.startswith("#")]
    assert late == [f'#{o["number"]}' for o in r["late_orders"]]
    rep = rows(doc, "repeat")
    assert {d: (v["work_orders"], v["occurrences"]) for d, v in rep.items()} == \
        {t["device"]: (t["work_orders"], t["occurrences"]) for t in r["top_devices"]}
    av = rows(doc, "availability")
    for a in r["availability"]:
        assert close(av[a["device"]]["online_pct"], a["online_pct"])
        assert av[a["device"]]["outages"] == a["outages"]


def test_html_energy_and_predictions_are_the_json_figures(made):
    r, doc = made["r"], lhtml.fromstring(made["html"])
    for e in r["energy"]:
        card = doc.xpath(f'//div[@data-key="{e["device"]}/{e["point"]}"]')[0]
        got = {tr.get("data-key"): {td.get("data-f"): fnum(td.get("data-value"))
                                    for td in tr.xpath("./td[@data-f]")}
               for tr in card.xpath(".//tr[@data-key]")}
        assert close(got["current"]["use"], e["use"])
        for cmp in ("previous", "last_year"):
            assert close(got[cmp]["use"], e[cmp]["use"])
            assert close(got[cmp]["change_pct"], e[cmp]["change_pct"])
            if e[cmp]["use"] is None:
                assert "no data" in card.xpath(f'.//tr[@data-key="{cmp}"]')[0].text_content()
    for p in r["predictive"]:
        card = doc.xpath(f'//div[@data-key="#{p["number"]}"]')[0]
        assert card.xpath('.//*[@data-f="crossing"]')[0].get("data-value") == p["crossing"]
        assert card.xpath('.//*[@data-f="earliest"]')[0].get("data-value") == p["earliest"]
        assert fnum(card.xpath('.//*[@data-f="limit"]')[0].get("data-value")) == p["limit"]


def svgs(text):
    """Every <svg> of a page, parsed as XML (xml.etree): well-formed or fail."""
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", text, re.S)]


def chart(charts, title):
    found = [s for s in charts if s.findtext(f"{SVG}title") == title]
    assert len(found) == 1, title
    return found[0]


def bars(svg):
    return [(r.get("data-label"), r.get("data-series"), float(r.get("data-value")))
            for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_charts_parse_with_the_expected_bars_and_the_98_line(made):
    r, charts = made["r"], svgs(made["html"])
    assert len(charts) == 4 + len(r["energy"]) + len(r["predictive"])
    ontime = chart(charts, "On-time rate by category")
    want = {"all orders": r["kpi"]["overall"]["on_time_rate"]}
    want.update({g["category"]: g["on_time_rate"] for g in r["kpi"]["by_category"]})
    got = {label: v for label, _, v in bars(ontime)}
    assert got.keys() == want.keys() and all(close(got[k], want[k], 1e-5) for k in want)
    (target,) = [ln for ln in ontime.iter(f"{SVG}line") if ln.get("class") == "target"]
    assert float(target.get("data-value")) == 0.98
    # ... drawn at 98 % of the bars' scale
    full = [b for b in ontime.iter(f"{SVG}rect") if b.get("class") == "bar"]
    x0 = float(full[0].get("x"))
    scale = max(float(b.get("width")) / float(b.get("data-value")) for b in full)
    assert abs(float(target.get("x1")) - (x0 + 0.98 * scale)) < 0.5
    status = chart(charts, "Work orders by category")
    got = {(label, s): v for label, s, v in bars(status)}
    for g in r["kpi"]["by_category"]:
        c = g["category"]
        assert got[(c, "closed")] == g["closed"]
        assert got[(c, "resolved")] == g["resolved"] - g["closed"]
        assert got[(c, "still open")] == g["still_open"]
        assert got[(c, "cancelled")] == g["cancelled"]
    where = chart(charts, "Work orders by location")
    flags = [f.get("data-label") for f in where.iter(f"{SVG}rect") if f.get("class") == "flag"]
    assert flags == [g["location"] for g in r["kpi"]["by_location"] if g["flagged"]]


def test_energy_columns_are_the_days(made):
    r, charts = made["r"], svgs(made["html"])
    for e in r["energy"]:
        c = chart(charts, f'kWh per day, {e["device"]} {e["point"]}')
        cols = {label: v for label, _, v in bars(c)}
        nodata = [x.get("data-label") for x in c.iter(f"{SVG}rect")
                  if x.get("class") == "nodata"]
        for i, v in enumerate(e["daily"]):
            day = f"{MONTH}-{i + 1:02d}"
            if v is None:
                assert day in nodata and day not in cols
            else:
                assert close(cols[day], v, 1e-5)


def test_the_page_fetches_nothing_and_runs_nothing(made):
    text = made["html"]
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert " src=" not in text and "url(" not in text
    assert set(re.findall(r"https?://[^\"' )<]+", text)) == {"http://www.w3.org/2000/svg"}
    assert '<meta name="viewport"' in text and "@media print" in text


# ---- the trend as a picture ---------------------------------------------------------

def test_workorder_svg_draws_the_prediction(made):
    d, p = made["dir"], made["r"]["predictive"][0]
    out = d / "trend.svg"
    ctl_ledger(d / "ledger.db", "workorders", "show", str(p["number"]), "--svg", str(out))
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    (limit,) = [x for x in root.iter(f"{SVG}line") if x.get("class") == "limit"]
    assert float(limit.get("data-value")) == p["limit"]
    (cross,) = [x for x in root.iter(f"{SVG}circle") if x.get("class") == "crossing"]
    assert cross.get("data-value") == p["crossing"]
    points = [float(x.get("data-value")) for x in root.iter(f"{SVG}circle")
              if x.get("class") == "point"]
    assert len(points) == len(p["daily"])
    assert all(close(a, b[1], 1e-5) for a, b in zip(points, p["daily"]))
    assert [x for x in root.iter(f"{SVG}path") if x.get("class") == "trend"]
    # A corrective order has no trend to draw: a usage error naming it.
    r = ctl_ledger(d / "ledger.db", "workorders", "show", "1", "--svg", str(d / "x.svg"),
                   check=False)
    assert r.returncode == 2 and "not a predictive" in r.stderr and not (d / "x.svg").exists()


# ---- a browser -------------------------------------------------------------------------

def test_chromium_renders_the_page_to_png_and_pdf(made):
    d = made["dir"]
    page = d / "report.html"
    png, pdf = d / "report.png", d / "report.pdf"
    r = render(page, png, pdf, str(d / "chromium-profile"))
    assert r.returncode == 0, r.stderr
    assert "net::ERR" not in r.stderr and "Uncaught" not in r.stderr
    width, height = png_size(png)
    assert width == 1000 and height > 1000
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.count(b"/Type /Page") >= 2
    keep = artefact_dir()
    for f, name in ((png, f"report-{MONTH}.png"), (page, f"report-{MONTH}.html"),
                    (pdf, f"report-{MONTH}.pdf")):
        shutil.copyfile(f, os.path.join(keep, name))
