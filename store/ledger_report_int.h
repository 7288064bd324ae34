/*
 * ledger_report_int.h: what the files of the monthly report share, and
 * nobody else (the public side is store/ledger.h, "KPIs and the monthly
 * report"; the sections are described in docs/operations.md, "Monthly
 * report").
 *
 * One code path computes the figures: the report is a JSON object built by
 * ledger_report.c from the sections below; the text (ledger_report_text.c)
 * and the HTML page (ledger_report_html.c, charts in
 * ledger_report_charts.c) only render that JSON. The files call downwards
 * only, in this order:
 *   ledger_report.c          KPIs, the report object, writing it (+ outbox)
 *   ledger_report_sections.c areas flagged, late orders, availability,
 *                            energy anomalies
 *   ledger_report_energy.c   kWh per day, month against month
 *   ledger_report_trend.c    predictive orders: evidence, daily levels, fit
 *   ledger_report_util.c     months, times, queries into arrays, medians
 * and, without the ledger (rendering the JSON):
 *   ledger_report_text.c
 *   ledger_report_html.c         the page: header, summary, sections 1-4
 *   ledger_report_html_energy.c  sections 5 (energy) and 6 (predictive)
 *   ledger_report_cells.c        cells, tiles, formats of the sections
 *   ledger_report_charts.c       the SVG charts (gateway/base/gw_svg.h)
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_REPORT_INT_H
#define PLANTROOM_LEDGER_REPORT_INT_H

#include "store/ledger_int.h"
#include "gateway/base/gw_sbuf.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdint.h>

#define LEDGER__TARGET 0.98
#define LEDGER__DAY    (24LL * 3600 * 1000)

/* ---- ledger_report_util.c ------------------------------------------------ */

/* "YYYY-MM" delta months away from month (delta may be negative) into
 * out[8]. GW_EINVAL for a bad month. */
int ledger__month_shift(const char *month, int delta, char out[8]);
/* o[key] = the ISO-8601 UTC text of ms (null when ms is 0 and null0). */
void ledger__json_iso(cJSON *o, const char *key, int64_t ms, int null0);
/* Rows of sql (?1 from, ?2 to) as objects with names[i] for column i
 * ('#' prefix: a number, '?' prefix: a number or null) appended to arr. */
int ledger__query_array(ledger_t *lg, const char *sql, int64_t from, int64_t to,
                        const char *const *names, int ncols, cJSON *arr, char *err, size_t errlen);
/* The median of v[0..n) (sorted in place); 0 when n is 0. */
double ledger__median(double *v, size_t n);
/* v as a whole number (a time in ms, a count), or dflt when v is not a
 * finite number within +-9e15 (NaN, a missing field, a value from outside
 * that would overflow the cast). */
int64_t ledger__to_i64(double v, int64_t dflt);
/* Milliseconds of an ISO-8601 UTC text ("2026-05-03T08:00:00.000Z"), 0
 * when it is not one. */
int64_t ledger__parse_iso(const char *s);

/* ---- ledger_report_sections.c ------------------------------------------- */

/* Flag the areas of kpi.by_location with at least twice the median of the
 * other areas' orders (and 3 or more): "flagged", "ratio". */
void ledger__report_flag_areas(cJSON *kpi);
/* The worst late orders opened in [from, to) as of now (at most 10). */
int ledger__report_late(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr, char *err,
                        size_t errlen);
/* Online time per device in [from, min(to, now)) from device_events. */
int ledger__report_availability(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr,
                                char *err, size_t errlen);
/* Work orders of anomaly rules (energy) opened in [from, to). */
int ledger__report_anomalies(ledger_t *lg, int64_t from, int64_t to, cJSON *arr, char *err,
                             size_t errlen);

/* ---- ledger_report_energy.c ---------------------------------------------- */

/* Per kWh point with rollups in month: kWh per local day, the total, and
 * the previous month and the same month a year before. */
int ledger__report_energy(ledger_t *lg, const char *month, cJSON *arr, char *err, size_t errlen);

/* ---- ledger_report_trend.c ----------------------------------------------- */

/* The predictive (trend) orders opened or active in [from, to), each with
 * its chart data as of now. */
int ledger__report_predictive(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr,
                              char *err, size_t errlen);

/* ---- ledger_report_html_energy.c (no ledger) ----------------------------- */

/* Sections 5 (energy) and 6 (predictive maintenance) of the page. */
void ledger__sec_energy(gw_sbuf_t *b, const cJSON *r);
void ledger__sec_predictive(gw_sbuf_t *b, const cJSON *r);

/* ---- ledger_report_cells.c (no ledger) ----------------------------------- */

/* o[key] as a number (NaN when absent or not one), a string ("" when not
 * one), an item (NULL). */
double ledger__h_n(const cJSON *o, const char *key);
const char *ledger__h_s(const cJSON *o, const char *key);
const cJSON *ledger__h_o(const cJSON *o, const char *key);
/* A duration in seconds for people: "42 min", "5.2 h", "3.1 d", "-". */
void ledger__h_dur(double s, char *buf, size_t len);
/* "2026-05-03 14:05" (with_time) or "2026-05-03", local time, from an
 * ISO-8601 UTC text; "-" when it is not one. */
void ledger__h_when(const char *iso, char *buf, size_t len, int with_time);
/* "May 2026" from "2026-05". */
void ledger__h_month_name(const char *month, char *buf, size_t len);
/* Table parts: a cell (class cls; data-f f and data-value v when f is
 * set; text escaped), a number cell (decimals), an on-time rate cell, a row
 * with data-key, the head of a table (a column name starting with '#' is
 * numeric), its end. */
void ledger__h_td(gw_sbuf_t *b, const char *cls, const char *f, double v, const char *text);
void ledger__h_tdn(gw_sbuf_t *b, const char *f, double v, int decimals);
void ledger__h_rate_td(gw_sbuf_t *b, const cJSON *g);
void ledger__h_tr(gw_sbuf_t *b, const char *key);
void ledger__h_th(gw_sbuf_t *b, const char *const *cols, size_t n);
void ledger__h_table_end(gw_sbuf_t *b);
/* A summary tile: value (big) and its unit (smaller, NULL: none), label,
 * data-f key and data-value v. */
void ledger__h_tile(gw_sbuf_t *b, const char *cls, const char *key, double v, const char *value,
                    const char *unit, const char *label);

/* ---- ledger_report_charts.c (no ledger) ---------------------------------- */

/* The charts of the report, appended as inline <svg> elements. */
void ledger__chart_status(gw_sbuf_t *b, const cJSON *groups, const char *key, const char *title,
                          int flag);
void ledger__chart_on_time(gw_sbuf_t *b, const cJSON *kpi, double target);
void ledger__chart_availability(gw_sbuf_t *b, const cJSON *availability);
void ledger__chart_energy(gw_sbuf_t *b, const cJSON *meter, const char *month);
void ledger__chart_trend(gw_sbuf_t *b, const cJSON *entry, int standalone);

#endif
