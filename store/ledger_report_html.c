/*
 * ledger_report_html.c: the monthly report as one self-contained HTML page
 * (store/ledger.h: ledger_report_html; the sections are described in
 * docs/operations.md, "Monthly report"). Inline CSS and inline SVG charts
 * (ledger_report_charts.c), no script, nothing fetched: it opens the same
 * from a mail, a file or a printer. The layout is one column that reflows
 * on a phone; print CSS keeps sections and charts on one page each.
 *
 * The page renders the report's JSON and computes no figure of its own:
 * every number shown is formatted from a JSON value, and the cells and
 * tiles that show one carry it as data-value (data-f names the field), so
 * that a test reads the page back and compares.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include "gateway/base/gw_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char ledger__css[] =
    ":root{--ink:#263238;--muted:#607d8b;--line:#dfe3e6;--ok:#2e7d32;--bad:#c62828;"
    "--warn:#ef6c00;--bg:#f5f7f8}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 'DejaVu Sans',Helvetica,Arial,sans-serif;color:var(--ink);"
    "background:#fff}"
    "main{max-width:980px;margin:0 auto;padding:18px}"
    "header{border-bottom:3px solid var(--ink);padding-bottom:8px;margin-bottom:14px}"
    "h1{font-size:25px;margin:0 0 2px}h2{font-size:19px;margin:30px 0 8px;padding-bottom:4px;"
    "border-bottom:1px solid var(--line)}h3{font-size:15px;margin:16px 0 4px}"
    ".site{font-size:17px;margin:0}.meta,.note{color:var(--muted);font-size:13px;margin:4px 0}"
    ".tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px}"
    ".tile{background:var(--bg);border-radius:6px;padding:10px 12px}"
    ".tile .v{font-size:26px;font-weight:bold;line-height:1.2}.tile .u{font-size:15px}.tile "
    ".l{font-size:13px;"
    "color:var(--muted)}.tile.ok .v{color:var(--ok)}.tile.bad .v{color:var(--bad)}"
    ".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:6px 22px}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:13.5px;"
    "margin:4px 0 8px}th{font-size:12px;color:var(--muted);font-weight:bold}"
    "th,td{padding:4px 6px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top;white-space:nowrap}td.t{white-space:normal;min-width:12em}.n{text-align:"
    "right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".good{color:var(--ok);font-weight:bold}.poor,.flag{color:var(--bad);font-weight:bold}"
    ".card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:10px 0}"
    ".card h3{margin-top:0}.facts{font-size:13.5px;margin:2px 0 6px}"
    "svg{display:block;margin:6px 0}footer{margin-top:30px;border-top:1px solid var(--line);"
    "color:var(--muted);font-size:12px}"
    "@media (max-width:600px){main{padding:10px}body{font-size:14px}h1{font-size:21px}"
    ".tile .v{font-size:22px}svg text{font-size:13px}}"
    "@media print{@page{size:A4;margin:13mm}body{font-size:10.5pt}main{max-width:none;"
    "padding:0}.scroll{overflow:visible}th,td{white-space:normal}h2{break-after:avoid}section,."
    "card,table,svg,.tile{break-inside:avoid}"
    "#energy,#predictive{break-before:page}}";

/* ---- header and summary --------------------------------------------------- */

static void ledger__header(gw_sbuf_t *b, const cJSON *r, const char *when)
{
    const cJSON *kpi = ledger__h_o(r, "kpi"), *site = ledger__h_o(r, "site");
    char from[32], to[32], gen[32], last[40];
    int64_t end = ledger__parse_iso(ledger__h_s(kpi, "to")) - 1;
    time_t t = (time_t)(end / 1000);
    struct tm tm;

    ledger__h_when(ledger__h_s(kpi, "from"), from, sizeof(from), 0);
    ledger__h_when(ledger__h_s(r, "generated_at"), gen, sizeof(gen), 1);
    localtime_r(&t, &tm);
    strftime(last, sizeof(last), "%Y-%m-%d", &tm);
    snprintf(to, sizeof(to), "%s", last);
    gw_sbuf_puts(b, "<header><h1>Maintenance report &#183; ");
    gw_sbuf_escape(b, when);
    gw_sbuf_puts(b, "</h1><p class=\"site\">");
    gw_sbuf_escape(b, ledger__h_s(site, "name"));
    if (strcmp(ledger__h_s(site, "name"), ledger__h_s(site, "id")) != 0) {
        gw_sbuf_puts(b, " <span class=\"note\">(");
        gw_sbuf_escape(b, ledger__h_s(site, "id"));
        gw_sbuf_puts(b, ")</span>");
    }
    gw_sbuf_printf(b,
                   "</p><p class=\"meta\">Work orders opened %s to %s &#183; generated %s (local"
                   " time) by plantroom</p></header>\n",
                   from, to, gen);
}

static void ledger__tiles(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *ov = ledger__h_o(ledger__h_o(r, "kpi"), "overall"),
                *sm = ledger__h_o(r, "summary");
    double rate = ledger__h_n(ov, "on_time_rate"), kwh = ledger__h_n(sm, "energy_kwh");
    double chg = ledger__h_n(sm, "energy_change_pct");
    char v[64], l[200], a[32], m[32];

    gw_sbuf_puts(b, "<section class=\"tiles\" id=\"summary\">\n");
    snprintf(v, sizeof(v), "%.0f", ledger__h_n(ov, "opened"));
    snprintf(l, sizeof(l), "work orders opened; %.0f closed, %.0f still open",
             ledger__h_n(ov, "closed"), ledger__h_n(ov, "still_open"));
    ledger__h_tile(b, NULL, "opened", ledger__h_n(ov, "opened"), v, NULL, l);
    snprintf(v, sizeof(v), isfinite(rate) ? "%.1f %%" : "-", rate * 100);
    snprintf(l, sizeof(l), "on time (target 98 %%): %.0f on time, %.0f late",
             ledger__h_n(ov, "on_time"), ledger__h_n(ov, "late"));
    ledger__h_tile(b,
                   !isfinite(rate)          ? NULL
                   : rate >= LEDGER__TARGET ? "ok"
                                            : "bad",
                   "on_time_rate", rate, v, NULL, l);
    ledger__h_dur(ledger__h_n(ov, "mean_time_to_acknowledge_s"), a, sizeof(a));
    ledger__h_dur(ledger__h_n(ov, "mean_time_to_resolve_s"), m, sizeof(m));
    snprintf(l, sizeof(l), "mean time to acknowledge; to resolve: %s", m);
    ledger__h_tile(b, NULL, "mean_time_to_acknowledge_s",
                   ledger__h_n(ov, "mean_time_to_acknowledge_s"), a, NULL, l);
    if (isfinite(kwh)) {
        gw_svg_num(kwh, v, sizeof(v));
        if (isfinite(chg))
            snprintf(l, sizeof(l), "energy, %.0f meter%s; %+.1f %% on a year before",
                     ledger__h_n(sm, "energy_meters"),
                     ledger__h_n(sm, "energy_meters") == 1 ? "" : "s", chg);
        else
            snprintf(l, sizeof(l), "energy, %.0f meter%s; a year before: no data",
                     ledger__h_n(sm, "energy_meters"),
                     ledger__h_n(sm, "energy_meters") == 1 ? "" : "s");
        ledger__h_tile(b, NULL, "energy_kwh", kwh, v, "kWh", l);
    }
    snprintf(v, sizeof(v), "%.0f", ledger__h_n(sm, "predictive"));
    ledger__h_tile(b, NULL, "predictive", ledger__h_n(sm, "predictive"), v, NULL,
                   "preventive orders with a predicted failure");
    gw_sbuf_puts(b, "</section>\n");
}

/* ---- 1. work orders -------------------------------------------------------- */

static void ledger__sec_orders(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *kpi = ledger__h_o(r, "kpi"), *it;
    int nflag = 0;

    gw_sbuf_puts(b, "<section id=\"orders\"><h2>1. Work orders</h2>\n"
                    "<p class=\"note\">Orders opened this month and where they stand now: "
                    "closed, resolved (awaiting confirmation), still open, cancelled.</p>\n"
                    "<h3>By category</h3>\n");
    ledger__chart_status(b, ledger__h_o(kpi, "by_category"), "category", "Work orders by category",
                         0);
    gw_sbuf_puts(b, "<h3>By location (building / floor)</h3>\n");
    ledger__chart_status(b, ledger__h_o(kpi, "by_location"), "location", "Work orders by location",
                         1);
    gw_sbuf_puts(b, "<p class=\"note\">");
    cJSON_ArrayForEach(it, ledger__h_o(kpi, "by_location"))
    {
        if (!cJSON_IsTrue(ledger__h_o(it, "flagged")))
            continue;
        gw_sbuf_puts(b, nflag++ ? ", " : "<span class=\"flag\">Check for ageing equipment: ");
        gw_sbuf_escape(b, ledger__h_s(it, "location"));
        gw_sbuf_printf(b, " (%.0f orders, %.1fx the other areas)", ledger__h_n(it, "opened"),
                       ledger__h_n(it, "ratio"));
    }
    gw_sbuf_printf(b,
                   "%sAreas are flagged with at least %.0fx the median of the other areas"
                   " (and 3 orders or more); the median area had %.1f orders.",
                   nflag ? ".</span> " : "", ledger__h_n(kpi, "flag_ratio"),
                   ledger__h_n(kpi, "location_median"));
    gw_sbuf_puts(b, "</p>\n<p class=\"note\">Their status now:");
    nflag = 0;
    cJSON_ArrayForEach(it, ledger__h_o(r, "by_status"))
    {
        gw_sbuf_puts(b, nflag++ ? ", " : " ");
        gw_sbuf_escape(b, ledger__h_s(it, "status"));
        gw_sbuf_printf(b, " <b data-f=\"status.%s\" data-value=\"%.0f\">%.0f</b>",
                       ledger__h_s(it, "status"), ledger__h_n(it, "count"),
                       ledger__h_n(it, "count"));
    }
    gw_sbuf_puts(b, ".</p></section>\n");
}

/* ---- 2. timeliness ---------------------------------------------------------- */

static void ledger__kpi_row(gw_sbuf_t *b, const char *key, const char *label, const cJSON *g)
{
    char a[32], m[32];

    ledger__h_tr(b, key);
    ledger__h_td(b, NULL, NULL, NAN, label);
    ledger__h_tdn(b, "opened", ledger__h_n(g, "opened"), 0);
    ledger__h_tdn(b, "on_time", ledger__h_n(g, "on_time"), 0);
    ledger__h_tdn(b, "late", ledger__h_n(g, "late"), 0);
    ledger__h_rate_td(b, g);
    ledger__h_dur(ledger__h_n(g, "mean_time_to_acknowledge_s"), a, sizeof(a));
    ledger__h_td(b, "n", "mean_time_to_acknowledge_s", ledger__h_n(g, "mean_time_to_acknowledge_s"),
                 a);
    ledger__h_dur(ledger__h_n(g, "mean_time_to_resolve_s"), m, sizeof(m));
    ledger__h_td(b, "n", "mean_time_to_resolve_s", ledger__h_n(g, "mean_time_to_resolve_s"), m);
    gw_sbuf_puts(b, "</tr>\n");
}

static void ledger__late_table(gw_sbuf_t *b, const cJSON *late)
{
    static const char *const cols[] = {"#Order",   "Title", "Device",   "Location",
                                       "Priority", "Due",   "Resolved", "#Late by"};
    const cJSON *it;

    gw_sbuf_puts(b, "<h3>Worst late orders</h3>\n");
    if (cJSON_GetArraySize(late) == 0) {
        gw_sbuf_puts(b, "<p class=\"note\">No order was late.</p>\n");
        return;
    }
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    cJSON_ArrayForEach(it, late)
    {
        char num[24], due[32], res[32], by[32];
        snprintf(num, sizeof(num), "#%.0f", ledger__h_n(it, "number"));
        ledger__h_when(ledger__h_s(it, "due_at"), due, sizeof(due), 1);
        ledger__h_when(ledger__h_s(it, "resolved_at"), res, sizeof(res), 1);
        if (!cJSON_IsString(ledger__h_o(it, "resolved_at")))
            snprintf(res, sizeof(res), "not yet");
        ledger__h_dur(ledger__h_n(it, "late_by_s"), by, sizeof(by));
        ledger__h_tr(b, num);
        ledger__h_td(b, "n", "number", ledger__h_n(it, "number"), num);
        ledger__h_td(b, "t", NULL, NAN, ledger__h_s(it, "title"));
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "device"));
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "location"));
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "priority"));
        ledger__h_td(b, NULL, NULL, NAN, due);
        ledger__h_td(b, NULL, NULL, NAN, res);
        ledger__h_td(b, "n poor", "late_by_s", ledger__h_n(it, "late_by_s"), by);
        gw_sbuf_puts(b, "</tr>\n");
    }
    ledger__h_table_end(b);
}

static void ledger__sec_sla(gw_sbuf_t *b, const cJSON *r)
{
    static const char *const cols[] = {"Category",      "#Opened", "#On time", "#Late",
                                       "#On-time rate", "#MTTA",   "#MTTR"};
    const cJSON *kpi = ledger__h_o(r, "kpi"), *it;

    gw_sbuf_puts(b, "<section id=\"sla\"><h2>2. Timeliness against the SLA</h2>\n"
                    "<p class=\"note\">On time: resolved by the due time the SLA gave the order"
                    " when it opened. Late: resolved after it, or still unresolved past it."
                    " The line is the 98 % timeliness target.</p>\n");
    ledger__chart_on_time(b, kpi, ledger__h_n(kpi, "target_on_time_rate"));
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    ledger__kpi_row(b, "", "All orders", ledger__h_o(kpi, "overall"));
    cJSON_ArrayForEach(it, ledger__h_o(kpi, "by_category"))
        ledger__kpi_row(b, ledger__h_s(it, "category"),
                        *ledger__h_s(it, "category") ? ledger__h_s(it, "category") : "(none)", it);
    ledger__h_table_end(b);
    ledger__late_table(b, ledger__h_o(r, "late_orders"));
    gw_sbuf_puts(b, "</section>\n");
}

/* ---- 3. repeat offenders, 4. availability ------------------------------------ */

static void ledger__sec_repeat(gw_sbuf_t *b, const cJSON *r)
{
    static const char *const cols[] = {"Device", "#Work orders", "#Occurrences"};
    const cJSON *it;

    gw_sbuf_puts(b, "<section id=\"repeat\"><h2>3. Repeat offenders</h2>\n"
                    "<p class=\"note\">Devices with the most work orders opened this month;"
                    " occurrences count a fault that came back while its order was open.</p>\n");
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    cJSON_ArrayForEach(it, ledger__h_o(r, "top_devices"))
    {
        ledger__h_tr(b, ledger__h_s(it, "device"));
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "device"));
        ledger__h_tdn(b, "work_orders", ledger__h_n(it, "work_orders"), 0);
        ledger__h_tdn(b, "occurrences", ledger__h_n(it, "occurrences"), 0);
        gw_sbuf_puts(b, "</tr>\n");
    }
    ledger__h_table_end(b);
    gw_sbuf_puts(b, "</section>\n");
}

static void ledger__sec_avail(gw_sbuf_t *b, const cJSON *r)
{
    static const char *const cols[] = {"Device", "#Online", "#Outages", "#Longest outage",
                                       "#Not known"};
    const cJSON *it;

    gw_sbuf_puts(b, "<section id=\"availability\"><h2>4. Device availability</h2>\n"
                    "<p class=\"note\">Share of the month each device answered its polls, from"
                    " its online/offline changes; time before its first change is not"
                    " known and not counted.</p>\n");
    ledger__chart_availability(b, ledger__h_o(r, "availability"));
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    cJSON_ArrayForEach(it, ledger__h_o(r, "availability"))
    {
        double pct = ledger__h_n(it, "online_pct");
        char p[32], lo[32], un[32];
        snprintf(p, sizeof(p), isfinite(pct) ? "%.2f %%" : "-", pct);
        /* none: "-" rather than "0 min" */
        ledger__h_dur(ledger__h_n(it, "outages") > 0 ? ledger__h_n(it, "longest_outage_s") : NAN,
                      lo, sizeof(lo));
        ledger__h_dur(ledger__h_n(it, "unknown_s") > 0 ? ledger__h_n(it, "unknown_s") : NAN, un,
                      sizeof(un));
        ledger__h_tr(b, ledger__h_s(it, "device"));
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "device"));
        ledger__h_td(b, isfinite(pct) && pct < 99 ? "n poor" : "n", "online_pct", pct, p);
        ledger__h_tdn(b, "outages", ledger__h_n(it, "outages"), 0);
        ledger__h_td(b, "n", "longest_outage_s", ledger__h_n(it, "longest_outage_s"), lo);
        ledger__h_td(b, "n", "unknown_s", ledger__h_n(it, "unknown_s"), un);
        gw_sbuf_puts(b, "</tr>\n");
    }
    ledger__h_table_end(b);
    gw_sbuf_puts(b, "</section>\n");
}

/* ---- the page ------------------------------------------------------------------- */

static const char ledger__footer[] =
    "<footer><p>Definitions. Work orders: those opened in the month, as they stand when the"
    " report was made. On time: resolved by the due time of its SLA; late: resolved after it or"
    " unresolved past it; cancelled orders and orders not yet due count neither way. MTTA and"
    " MTTR: mean time from opening to acknowledgement and to resolution. Energy: the rise of"
    " each kWh counter from the hourly rollups. Predictions: from the trend rule's evidence;"
    " the interval is the prediction interval of its fit. Details: docs/operations.md,"
    " \"Monthly report\".</p></footer>\n";

char *ledger_report_html(const char *report_json)
{
    gw_sbuf_t b = {0};
    cJSON *r = cJSON_Parse(report_json ? report_json : "");
    char when[48];

    if (!r || !cJSON_IsObject(ledger__h_o(r, "kpi"))) {
        cJSON_Delete(r);
        return NULL;
    }
    ledger__h_month_name(ledger__h_s(r, "month"), when, sizeof(when));
    gw_sbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>Maintenance report ");
    gw_sbuf_escape(&b, when);
    gw_sbuf_puts(&b, " - ");
    gw_sbuf_escape(&b, ledger__h_s(ledger__h_o(r, "site"), "name"));
    gw_sbuf_printf(&b, "</title>\n<style>%s</style></head>\n<body><main>\n", ledger__css);
    ledger__header(&b, r, when);
    ledger__tiles(&b, r);
    ledger__sec_orders(&b, r);
    ledger__sec_sla(&b, r);
    ledger__sec_repeat(&b, r);
    ledger__sec_avail(&b, r);
    ledger__sec_energy(&b, r);
    ledger__sec_predictive(&b, r);
    gw_sbuf_puts(&b, ledger__footer);
    gw_sbuf_puts(&b, "</main></body></html>\n");
    cJSON_Delete(r);
    return gw_sbuf_take(&b);
}
