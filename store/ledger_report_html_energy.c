/*
 * ledger_report_html_energy.c: the sections of the HTML report about
 * measured values over time (ledger_report_int.h): 5. energy (each meter's
 * month against the previous month and a year before, kWh per day, the
 * anomalies raised) and 6. predictive maintenance (each preventive order's
 * prediction and its chart). They render the report's JSON only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include "gateway/base/gw_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- 5. energy --------------------------------------------------------------- */

/* One row of the month-against-month table. */
static void ledger__energy_row(gw_sbuf_t *b, const char *key, const char *label, double use,
                               double days, double with_data, double change)
{
    char kwh[48], cov[48], chg[32];

    if (isfinite(use)) {
        gw_svg_num(use, kwh, sizeof(kwh));
        strncat(kwh, " kWh", sizeof(kwh) - strlen(kwh) - 1);
    } else {
        snprintf(kwh, sizeof(kwh), "no data");
    }
    snprintf(cov, sizeof(cov), "%.0f of %.0f", with_data, days);
    snprintf(chg, sizeof(chg), isfinite(change) ? "%+.1f %%" : "-", change);
    ledger__h_tr(b, key);
    ledger__h_td(b, NULL, NULL, NAN, label);
    ledger__h_td(b, "n", "use", use, kwh);
    ledger__h_td(b, "n", "days_with_data", with_data, cov);
    ledger__h_td(b, isfinite(change) ? (change > 0 ? "n poor" : "n good") : "n", "change_pct",
                 change, chg);
    gw_sbuf_puts(b, "</tr>\n");
}

static void ledger__meter(gw_sbuf_t *b, const cJSON *e, const char *month)
{
    static const char *const cols[] = {"Month", "#Use", "#Days with readings",
                                       "#This month against it"};
    static const char *const cmp[][2] = {{"previous", "previous month"},
                                         {"last_year", "a year before"}};
    char name[64], label[96];

    gw_sbuf_puts(b, "<div class=\"card meter\" data-key=\"");
    gw_sbuf_escape(b, ledger__h_s(e, "device"));
    gw_sbuf_puts(b, "/");
    gw_sbuf_escape(b, ledger__h_s(e, "point"));
    gw_sbuf_puts(b, "\"><h3>");
    gw_sbuf_escape(b, ledger__h_s(e, "device"));
    gw_sbuf_puts(b, " &#183; ");
    gw_sbuf_escape(b, ledger__h_s(e, "point"));
    gw_sbuf_puts(b, "</h3>\n");
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    ledger__h_month_name(month, name, sizeof(name));
    snprintf(label, sizeof(label), "%s (this month)", name);
    ledger__energy_row(b, "current", label, ledger__h_n(e, "use"), ledger__h_n(e, "days"),
                       ledger__h_n(e, "days_with_data"), NAN);
    for (size_t i = 0; i < GW_ARRAY_SIZE(cmp); i++) {
        const cJSON *c = ledger__h_o(e, cmp[i][0]);
        ledger__h_month_name(ledger__h_s(c, "month"), name, sizeof(name));
        snprintf(label, sizeof(label), "%s (%s)", name, cmp[i][1]);
        ledger__energy_row(b, cmp[i][0], label, ledger__h_n(c, "use"), ledger__h_n(c, "days"),
                           ledger__h_n(c, "days_with_data"), ledger__h_n(c, "change_pct"));
    }
    ledger__h_table_end(b);
    ledger__chart_energy(b, e, month);
    gw_sbuf_puts(b, "</div>\n");
}

void ledger__sec_energy(gw_sbuf_t *b, const cJSON *r)
{
    static const char *const cols[] = {"#Order", "Opened", "Device", "Title",
                                       "#Value", "#Usual", "Status"};
    const cJSON *it;

    gw_sbuf_puts(b, "<section id=\"energy\"><h2>5. Energy</h2>\n"
                    "<p class=\"note\">Use per meter from its kWh counter (the rise of the"
                    " reading), per day of the month, against the previous month and the same"
                    " month a year before. A common target is 10 % less than a year before.</p>\n");
    if (cJSON_GetArraySize(ledger__h_o(r, "energy")) == 0)
        gw_sbuf_puts(b, "<p class=\"note\">No kWh meter readings this month.</p>\n");
    cJSON_ArrayForEach(it, ledger__h_o(r, "energy")) ledger__meter(b, it, ledger__h_s(r, "month"));
    gw_sbuf_puts(b, "<h3>Energy anomalies raised</h3>\n");
    if (cJSON_GetArraySize(ledger__h_o(r, "energy_anomalies")) == 0) {
        gw_sbuf_puts(b, "<p class=\"note\">None this month.</p></section>\n");
        return;
    }
    ledger__h_th(b, cols, GW_ARRAY_SIZE(cols));
    cJSON_ArrayForEach(it, ledger__h_o(r, "energy_anomalies"))
    {
        char num[24], when[32];
        snprintf(num, sizeof(num), "#%.0f", ledger__h_n(it, "number"));
        ledger__h_when(ledger__h_s(it, "opened_at"), when, sizeof(when), 1);
        ledger__h_tr(b, num);
        ledger__h_td(b, "n", "number", ledger__h_n(it, "number"), num);
        ledger__h_td(b, NULL, NULL, NAN, when);
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "device"));
        ledger__h_td(b, "t", NULL, NAN, ledger__h_s(it, "title"));
        ledger__h_tdn(b, "value", ledger__h_n(it, "value"), 1);
        ledger__h_tdn(b, "baseline", ledger__h_n(it, "baseline"), 1);
        ledger__h_td(b, NULL, NULL, NAN, ledger__h_s(it, "status"));
        gw_sbuf_puts(b, "</tr>\n");
    }
    ledger__h_table_end(b);
    gw_sbuf_puts(b, "</section>\n");
}

/* ---- 6. predictive maintenance ------------------------------------------------ */

/* A date of the prediction as a bold (or plain) figure with its value. */
static void ledger__pdate(gw_sbuf_t *b, const cJSON *e, const char *key, int with_time, int bold)
{
    const char *iso = ledger__h_s(e, key);
    char when[32];

    ledger__h_when(iso, when, sizeof(when), with_time);
    gw_sbuf_printf(b, "<%s data-f=\"%s\" data-value=\"%s\">%s</%s>", bold ? "b" : "span", key,
                   *iso ? iso : "null", *iso ? when : "later", bold ? "b" : "span");
}

static void ledger__prediction(gw_sbuf_t *b, const cJSON *e)
{
    double conf = ledger__h_n(e, "confidence"), slope = ledger__h_n(e, "slope_per_day");
    const char *unit = ledger__h_s(e, "unit");

    gw_sbuf_printf(b,
                   "<p class=\"facts\">Predicted to reach the limit of <b data-f=\"limit\""
                   " data-value=\"%.10g\">%g ",
                   ledger__h_n(e, "limit"), ledger__h_n(e, "limit"));
    gw_sbuf_escape(b, unit);
    gw_sbuf_puts(b, "</b> on ");
    ledger__pdate(b, e, "crossing", 0, 1);
    gw_sbuf_printf(b, " (%.0f %% interval: ", isfinite(conf) ? conf * 100 : 90.0);
    ledger__pdate(b, e, "earliest", 1, 0);
    gw_sbuf_puts(b, " to ");
    ledger__pdate(b, e, "latest", 1, 0);
    gw_sbuf_printf(b, "). Daily level %.2f ", ledger__h_n(e, "daily_level"));
    gw_sbuf_escape(b, unit);
    gw_sbuf_printf(b, ", %s %.3f ", slope >= 0 ? "rising" : "falling", fabs(slope));
    gw_sbuf_escape(b, unit);
    gw_sbuf_printf(b, " a day over the %.0f days fitted (%s model)", ledger__h_n(e, "days_fitted"),
                   *ledger__h_s(e, "model") ? ledger__h_s(e, "model") : "linear");
    if (*ledger__h_s(e, "zone"))
        gw_sbuf_printf(b, "; ISO 10816 zone %s", ledger__h_s(e, "zone"));
    gw_sbuf_puts(b, ". Status ");
    gw_sbuf_escape(b, ledger__h_s(e, "status"));
    gw_sbuf_puts(b, ", priority ");
    gw_sbuf_escape(b, ledger__h_s(e, "priority"));
    gw_sbuf_puts(b, ".</p>\n");
}

void ledger__sec_predictive(gw_sbuf_t *b, const cJSON *r)
{
    const cJSON *it;

    gw_sbuf_puts(b, "<section id=\"predictive\"><h2>6. Predictive maintenance</h2>\n"
                    "<p class=\"note\">Preventive orders opened or active this month. Dots: the"
                    " daily level; line: the fitted trend with its prediction band; red: the"
                    " limit and the interval in which the trend reaches it.</p>\n");
    if (cJSON_GetArraySize(ledger__h_o(r, "predictive")) == 0)
        gw_sbuf_puts(b, "<p class=\"note\">No predicted failure this month.</p>\n");
    cJSON_ArrayForEach(it, ledger__h_o(r, "predictive"))
    {
        gw_sbuf_printf(b, "<div class=\"card trend\" data-key=\"#%.0f\"><h3>#%.0f ",
                       ledger__h_n(it, "number"), ledger__h_n(it, "number"));
        gw_sbuf_escape(b, ledger__h_s(it, "title"));
        gw_sbuf_puts(b, " <span class=\"note\">(");
        gw_sbuf_escape(b, ledger__h_s(it, "device"));
        gw_sbuf_puts(b, ")</span></h3>\n");
        ledger__prediction(b, it);
        ledger__chart_trend(b, it, 0);
        gw_sbuf_puts(b, "</div>\n");
    }
    gw_sbuf_puts(b, "</section>\n");
}
