/*
 * ledger_report_cells.c: what the HTML report's sections share
 * (ledger_report_int.h): reading the JSON, formatting durations, times and
 * month names, and writing table cells and summary tiles that carry the
 * figure they show as data-value (named by data-f), so that a test can read
 * the page back.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double ledger__h_n(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *ledger__h_s(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

    return s ? s : "";
}

const cJSON *ledger__h_o(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A duration in seconds for people: "42 min", "5.2 h", "3.1 d", "-". */
void ledger__h_dur(double s, char *buf, size_t len)
{
    if (!isfinite(s))
        snprintf(buf, len, "-");
    else if (s < 3600)
        snprintf(buf, len, "%.0f min", s / 60);
    else if (s < 72 * 3600)
        snprintf(buf, len, "%.1f h", s / 3600);
    else
        snprintf(buf, len, "%.1f d", s / 86400);
}

/* "2026-05-03 14:05" in local time from an ISO-8601 UTC text; "-". */
void ledger__h_when(const char *iso, char *buf, size_t len, int with_time)
{
    int64_t ms = ledger__parse_iso(iso);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!ms) {
        snprintf(buf, len, "-");
        return;
    }
    localtime_r(&t, &tm);
    strftime(buf, len, with_time ? "%Y-%m-%d %H:%M" : "%Y-%m-%d", &tm);
}

/* A table cell: text (escaped), with data-f / data-value when f is set. */
void ledger__h_td(gw_sbuf_t *b, const char *cls, const char *f, double v, const char *text)
{
    gw_sbuf_printf(b, "<td%s%s%s", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    if (f && isfinite(v))
        gw_sbuf_printf(b, " data-f=\"%s\" data-value=\"%.10g\"", f, v);
    else if (f)
        gw_sbuf_printf(b, " data-f=\"%s\" data-value=\"null\"", f);
    gw_sbuf_puts(b, ">");
    gw_sbuf_escape(b, text);
    gw_sbuf_puts(b, "</td>");
}

/* A number cell: the value as an integer or with one decimal. */
void ledger__h_tdn(gw_sbuf_t *b, const char *f, double v, int decimals)
{
    char t[48];

    if (!isfinite(v))
        snprintf(t, sizeof(t), "-");
    else
        snprintf(t, sizeof(t), "%.*f", decimals, v);
    ledger__h_td(b, "n", f, v, t);
}

void ledger__h_rate_td(gw_sbuf_t *b, const cJSON *g)
{
    double r = ledger__h_n(g, "on_time_rate");
    char t[32];

    snprintf(t, sizeof(t), isfinite(r) ? "%.1f %%" : "-", r * 100);
    ledger__h_td(b, isfinite(r) ? (r >= LEDGER__TARGET ? "n good" : "n poor") : "n", "on_time_rate",
                 r, t);
}

void ledger__h_tr(gw_sbuf_t *b, const char *key)
{
    gw_sbuf_puts(b, "<tr data-key=\"");
    gw_sbuf_escape(b, key);
    gw_sbuf_puts(b, "\">");
}

void ledger__h_th(gw_sbuf_t *b, const char *const *cols, size_t n)
{
    gw_sbuf_puts(b, "<div class=\"scroll\"><table><thead><tr>");
    for (size_t i = 0; i < n; i++)
        gw_sbuf_printf(b, "<th%s>%s</th>", cols[i][0] == '#' ? " class=\"n\"" : "",
                       cols[i] + (cols[i][0] == '#'));
    gw_sbuf_puts(b, "</tr></thead><tbody>\n");
}

void ledger__h_table_end(gw_sbuf_t *b)
{
    gw_sbuf_puts(b, "</tbody></table></div>\n");
}

void ledger__h_tile(gw_sbuf_t *b, const char *cls, const char *key, double v, const char *value,
                    const char *unit, const char *label)
{
    gw_sbuf_printf(b, "<div class=\"tile%s%s\" data-f=\"%s\" data-value=\"", cls ? " " : "",
                   cls ? cls : "", key);
    if (isfinite(v))
        gw_sbuf_printf(b, "%.10g\">", v);
    else
        gw_sbuf_puts(b, "null\">");
    gw_sbuf_puts(b, "<div class=\"v\">");
    gw_sbuf_escape(b, value);
    if (unit) {
        gw_sbuf_puts(b, "<span class=\"u\"> ");
        gw_sbuf_escape(b, unit);
        gw_sbuf_puts(b, "</span>");
    }
    gw_sbuf_puts(b, "</div><div class=\"l\">");
    gw_sbuf_escape(b, label);
    gw_sbuf_puts(b, "</div></div>\n");
}

/* "May 2026" from "2026-05". */
void ledger__h_month_name(const char *month, char *buf, size_t len)
{
    static const char *const names[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
    int y = 0, m = 0;

    if (sscanf(month, "%4d-%2d", &y, &m) == 2 && m >= 1 && m <= 12)
        snprintf(buf, len, "%s %d", names[m - 1], y);
    else
        snprintf(buf, len, "%s", month);
}
