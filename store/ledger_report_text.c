/*
 * ledger_report_text.c: the KPIs and the monthly report as plain text for
 * people (store/ledger.h: ledger_kpi_text, ledger_report_text): a terminal,
 * a text mail part. It renders the report's JSON and computes nothing of
 * its own (ledger_report_int.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ledger__num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *ledger__str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

    return s ? s : "";
}

/* "12.5 h" or "-" for a duration in seconds (negative: none). */
static const char *ledger__dur(const cJSON *o, const char *key, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v))
        return "-";
    if (v->valuedouble < 3600)
        snprintf(buf, len, "%.1f min", v->valuedouble / 60.0);
    else
        snprintf(buf, len, "%.1f h", v->valuedouble / 3600.0);
    return buf;
}

static const char *ledger__rate(const cJSON *o, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "on_time_rate");

    if (!cJSON_IsNumber(v))
        return "-";
    snprintf(buf, len, "%.1f %%", v->valuedouble * 100.0);
    return buf;
}

static void ledger__kpi_line(gw_sbuf_t *b, const char *label, const cJSON *g)
{
    char r[16], a[24], m[24];

    gw_sbuf_printf(b, "  %-28.28s %6.0f %6.0f %6.0f %6.0f %8s %10s %10s%s\n", label,
                   ledger__num(g, "opened"), ledger__num(g, "resolved"), ledger__num(g, "closed"),
                   ledger__num(g, "still_open"), ledger__rate(g, r, sizeof(r)),
                   ledger__dur(g, "mean_time_to_acknowledge_s", a, sizeof(a)),
                   ledger__dur(g, "mean_time_to_resolve_s", m, sizeof(m)),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "flagged"))
                       ? "  << well above the other areas"
                       : "");
}

static void ledger__kpi_text(gw_sbuf_t *b, const cJSON *kpi)
{
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(kpi, "overall");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(overall, "on_time_rate");
    const cJSON *g;
    const char *groups[][2] = {{"by_category", "category"}, {"by_location", "location"}};

    gw_sbuf_printf(b, "Period %s .. %s\n", ledger__str(kpi, "from"), ledger__str(kpi, "to"));
    if (cJSON_IsNumber(rate))
        gw_sbuf_printf(b, "On-time rate %.1f %% (target 98 %%: %s); %.0f on time, %.0f late\n\n",
                       rate->valuedouble * 100.0,
                       rate->valuedouble >= LEDGER__TARGET ? "met" : "NOT met",
                       ledger__num(overall, "on_time"), ledger__num(overall, "late"));
    else
        gw_sbuf_printf(b, "On-time rate - (target 98 %%): no order due or resolved yet\n\n");
    gw_sbuf_printf(b, "  %-28s %6s %6s %6s %6s %8s %10s %10s\n", "", "OPENED", "RESOLV", "CLOSED",
                   "OPEN", "ON-TIME", "MTTA", "MTTR");
    ledger__kpi_line(b, "all", overall);
    for (size_t k = 0; k < GW_ARRAY_SIZE(groups); k++) {
        gw_sbuf_printf(b, " by %s\n", groups[k][1]);
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(kpi, groups[k][0]))
        {
            const char *name = ledger__str(g, groups[k][1]);
            ledger__kpi_line(b, *name ? name : "(none)", g);
        }
    }
}

char *ledger_kpi_text(const char *kpi_json)
{
    gw_sbuf_t b = {0};
    cJSON *kpi = cJSON_Parse(kpi_json ? kpi_json : "");

    if (!kpi)
        return NULL;
    ledger__kpi_text(&b, kpi);
    cJSON_Delete(kpi);
    return gw_sbuf_take(&b);
}

/* "+4.2 %", or "no data". */
static const char *ledger__change(const cJSON *cmp, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmp, "change_pct");

    if (!cJSON_IsNumber(v))
        return "no data";
    snprintf(buf, len, "%+.1f %%", v->valuedouble);
    return buf;
}

static void ledger__energy_text(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *it;

    gw_sbuf_printf(b, "\nEnergy use per meter\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "energy"))
    {
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(it, "previous");
        const cJSON *ly = cJSON_GetObjectItemCaseSensitive(it, "last_year");
        char c1[24], c2[24];
        gw_sbuf_printf(b, "  %-20s %-20s %12.1f kWh (%.1f -> %.1f)\n", ledger__str(it, "device"),
                       ledger__str(it, "point"), ledger__num(it, "use"), ledger__num(it, "first"),
                       ledger__num(it, "last"));
        gw_sbuf_printf(b, "    against %s: %s; against %s: %s\n", ledger__str(prev, "month"),
                       ledger__change(prev, c1, sizeof(c1)), ledger__str(ly, "month"),
                       ledger__change(ly, c2, sizeof(c2)));
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "energy_anomalies")) gw_sbuf_printf(
        b, "  anomaly #%.0f %s: %s (%s)\n", ledger__num(it, "number"), ledger__str(it, "device"),
        ledger__str(it, "title"), ledger__str(it, "opened_at"));
}

static void ledger__lists_text(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *it;

    gw_sbuf_printf(b, "\nWorst late orders\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "late_orders"))
        gw_sbuf_printf(b, "  #%-5.0f %-9s %8.1f h late  %s (%s)\n", ledger__num(it, "number"),
                       ledger__str(it, "priority"), ledger__num(it, "late_by_s") / 3600.0,
                       ledger__str(it, "title"), ledger__str(it, "device"));
    gw_sbuf_printf(b, "\nTop devices by faults\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "top_devices")) gw_sbuf_printf(
        b, "  %-28s %4.0f work orders, %5.0f occurrences\n", ledger__str(it, "device"),
        ledger__num(it, "work_orders"), ledger__num(it, "occurrences"));
    gw_sbuf_printf(b, "\nDevice availability (online time)\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "availability"))
    {
        const cJSON *pct = cJSON_GetObjectItemCaseSensitive(it, "online_pct");
        char p[16] = "-";
        if (cJSON_IsNumber(pct))
            snprintf(p, sizeof(p), "%.2f %%", pct->valuedouble);
        gw_sbuf_printf(b, "  %-28s %9s  %.0f outages\n", ledger__str(it, "device"), p,
                       ledger__num(it, "outages"));
    }
}

static void ledger__predictive_text(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *it;

    gw_sbuf_printf(b, "\nPredictive maintenance\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "predictive")) gw_sbuf_printf(
        b, "  #%-5.0f %s (%s): limit %g %s, crossing %.10s (%.10s .. %.10s)\n",
        ledger__num(it, "number"), ledger__str(it, "title"), ledger__str(it, "device"),
        ledger__num(it, "limit"), ledger__str(it, "unit"), ledger__str(it, "crossing"),
        ledger__str(it, "earliest"), ledger__str(it, "latest"));
}

char *ledger_report_text(const char *report_json)
{
    gw_sbuf_t b = {0};
    cJSON *r = cJSON_Parse(report_json ? report_json : "");
    const cJSON *it;

    if (!r)
        return NULL;
    gw_sbuf_printf(&b, "Monthly maintenance report %s (generated %s)\n\n", ledger__str(r, "month"),
                   ledger__str(r, "generated_at"));
    ledger__kpi_text(&b, cJSON_GetObjectItemCaseSensitive(r, "kpi"));
    gw_sbuf_printf(&b, "\nWork orders by status\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "by_status"))
        gw_sbuf_printf(&b, "  %-14s %6.0f\n", ledger__str(it, "status"), ledger__num(it, "count"));
    ledger__lists_text(&b, r);
    ledger__energy_text(&b, r);
    ledger__predictive_text(&b, r);
    cJSON_Delete(r);
    return gw_sbuf_take(&b);
}
