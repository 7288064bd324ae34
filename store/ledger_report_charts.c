/*
 * ledger_report_charts.c: the charts of the monthly report and of a
 * predictive order (ledger_report_int.h), drawn from the report's JSON
 * with the SVG writer (gateway/base/gw_svg.h). They compute no figure:
 * every value drawn is one of the JSON's, and each bar carries it as its
 * data-value, so that a test can read the chart back.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include "gateway/base/gw_svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CH__OK    "#2e7d32"
#define CH__OKLT  "#81c784"
#define CH__WARN  "#ef6c00"
#define CH__BAD   "#c62828"
#define CH__GREY  "#bdbdbd"
#define CH__BLUE  "#1565c0"
#define CH__TREND "#6a1b9a"
#define CH__MAX   64 /* rows a bar chart shows */

static double ch__num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *ch__str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

    return s ? s : "";
}

/* Opened, as closed + resolved (not closed) + still open + cancelled. */
void ledger__chart_status(gw_sbuf_t *b, const cJSON *groups, const char *key, const char *title,
                          int flag)
{
    static const gw_svg_series_t series[] = {{"closed", CH__OK},
                                             {"resolved", CH__OKLT},
                                             {"still open", CH__WARN},
                                             {"cancelled", CH__GREY}};
    gw_svg_bar_t bars[CH__MAX];
    char notes[CH__MAX][48];
    const cJSON *g;
    size_t n = 0;

    cJSON_ArrayForEach(g, groups)
    {
        double closed = ch__num(g, "closed"), resolved = ch__num(g, "resolved");
        double ratio = ch__num(g, "ratio");
        if (n == CH__MAX)
            break;
        memset(&bars[n], 0, sizeof(bars[n]));
        bars[n].label = *ch__str(g, key) ? ch__str(g, key) : "(none)";
        bars[n].v[0] = closed;
        bars[n].v[1] = resolved - closed;
        bars[n].v[2] = ch__num(g, "still_open");
        bars[n].v[3] = ch__num(g, "cancelled");
        bars[n].flagged = flag && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "flagged"));
        if (bars[n].flagged && isfinite(ratio))
            snprintf(notes[n], sizeof(notes[n]), "%.0f  (%.1fx)", ch__num(g, "opened"), ratio);
        else
            snprintf(notes[n], sizeof(notes[n]), "%.0f", ch__num(g, "opened"));
        bars[n].note = notes[n];
        n++;
    }
    gw_svg_hbars(b, &(gw_svg_hbars_t){.title = title,
                                      .series = series,
                                      .nseries = 4,
                                      .bars = bars,
                                      .nbars = n,
                                      .target = -1});
}

static void ch__rate_bar(gw_svg_bar_t *bar, const cJSON *g, const char *label, double target,
                         char *note, size_t len)
{
    double rate = ch__num(g, "on_time_rate");

    memset(bar, 0, sizeof(*bar));
    bar->label = label;
    bar->v[0] = rate;
    bar->color = rate >= target ? CH__OK : CH__BAD;
    snprintf(note, len, "%.1f %% (%.0f/%.0f)", rate * 100, ch__num(g, "on_time"),
             ch__num(g, "on_time") + ch__num(g, "late"));
    bar->note = note;
}

/* The on-time rate of all orders and of each category against the target. */
void ledger__chart_on_time(gw_sbuf_t *b, const cJSON *kpi, double target)
{
    static const gw_svg_series_t series[] = {{"on time", CH__OK}};
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(kpi, "overall"), *g;
    gw_svg_bar_t bars[CH__MAX];
    char notes[CH__MAX][48], tl[32];
    size_t n = 0;

    if (isfinite(ch__num(overall, "on_time_rate")))
        ch__rate_bar(&bars[n++], overall, "all orders", target, notes[0], sizeof(notes[0]));
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(kpi, "by_category"))
    {
        if (n == CH__MAX || !isfinite(ch__num(g, "on_time_rate")))
            continue;
        ch__rate_bar(&bars[n], g, *ch__str(g, "category") ? ch__str(g, "category") : "(none)",
                     target, notes[n], sizeof(notes[n]));
        n++;
    }
    snprintf(tl, sizeof(tl), "target %.0f %%", target * 100);
    gw_svg_hbars(b, &(gw_svg_hbars_t){.title = "On-time rate by category",
                                      .series = series,
                                      .nseries = 1,
                                      .bars = bars,
                                      .nbars = n,
                                      .percent = 1,
                                      .target = target,
                                      .target_label = tl});
}

void ledger__chart_availability(gw_sbuf_t *b, const cJSON *availability)
{
    static const gw_svg_series_t series[] = {{"online", CH__OK}};
    gw_svg_bar_t bars[CH__MAX];
    char notes[CH__MAX][48];
    const cJSON *g;
    size_t n = 0;

    cJSON_ArrayForEach(g, availability)
    {
        double pct = ch__num(g, "online_pct"), outages = ch__num(g, "outages");
        if (n == CH__MAX || !isfinite(pct))
            continue;
        memset(&bars[n], 0, sizeof(bars[n]));
        bars[n].label = ch__str(g, "device");
        bars[n].v[0] = pct / 100.0;
        bars[n].color = pct >= 99 ? CH__OK : pct >= 95 ? CH__WARN : CH__BAD;
        if (outages > 0)
            snprintf(notes[n], sizeof(notes[n]), "%.1f %%, %.0f out.", pct, outages);
        else
            snprintf(notes[n], sizeof(notes[n]), "%.1f %%", pct);
        bars[n].note = notes[n];
        n++;
    }
    gw_svg_hbars(b, &(gw_svg_hbars_t){.title = "Online time per device",
                                      .series = series,
                                      .nseries = 1,
                                      .bars = bars,
                                      .nbars = n,
                                      .percent = 1,
                                      .target = -1});
}

/* kWh per day of one meter over month. */
void ledger__chart_energy(gw_sbuf_t *b, const cJSON *meter, const char *month)
{
    const cJSON *daily = cJSON_GetObjectItemCaseSensitive(meter, "daily");
    size_t n = (size_t)cJSON_GetArraySize(daily);
    double *v = calloc(n ? n : 1, sizeof(*v));
    char(*lab)[4] = calloc(n ? n : 1, sizeof(*lab)), (*key)[12] = calloc(n ? n : 1, sizeof(*key));
    const char **labels = calloc(n ? n : 1, sizeof(*labels)),
               **keys = calloc(n ? n : 1, sizeof(*keys));
    char title[200];

    if (v && lab && key && labels && keys) {
        for (size_t i = 0; i < n; i++) {
            const cJSON *d = cJSON_GetArrayItem(daily, (int)i);
            v[i] = cJSON_IsNumber(d) ? d->valuedouble : NAN;
            snprintf(lab[i], sizeof(lab[i]), "%zu", i + 1);
            snprintf(key[i], sizeof(key[i]), "%.7s-%02zu", month, i + 1);
            labels[i] = lab[i];
            keys[i] = key[i];
        }
        snprintf(title, sizeof(title), "kWh per day, %s %s", ch__str(meter, "device"),
                 ch__str(meter, "point"));
        gw_svg_columns(b, &(gw_svg_columns_t){.title = title,
                                              .unit = "kWh/day",
                                              .v = v,
                                              .labels = labels,
                                              .keys = keys,
                                              .n = n,
                                              .color = CH__BLUE,
                                              .label_every = n > 16 ? 2 : 1});
    } else {
        b->oom = 1;
    }
    free(v);
    free(lab);
    free(key);
    free(labels);
    free(keys);
}

/* ---- the trend of a predictive order ------------------------------------ */

#define TR__W 460.0
#define TR__H 230.0

/* The y range: the daily levels, the curve and the limit, with a margin. */
static void tr__yrange(const cJSON *e, double *lo, double *hi)
{
    const cJSON *p;
    double limit = ch__num(e, "limit");

    *lo = limit;
    *hi = limit;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(e, "daily"))
    {
        double y = cJSON_GetNumberValue(cJSON_GetArrayItem(p, 1));
        *lo = isfinite(y) ? fmin(*lo, y) : *lo;
        *hi = isfinite(y) ? fmax(*hi, y) : *hi;
    }
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(e, "trend"))
    {
        double y = cJSON_GetNumberValue(cJSON_GetArrayItem(p, 1));
        *lo = isfinite(y) ? fmin(*lo, y) : *lo;
    }
    *hi += (*hi - *lo) * 0.12 + 1e-9;
    *lo = *lo > 0 && *lo - (*hi - *lo) * 0.1 < 0 ? 0 : *lo - (*hi - *lo) * 0.05;
}

/* The prediction band (clamped to the frame) and the fitted curve (cut where
 * it leaves the frame). */
static void tr__curve(gw_sbuf_t *b, const cJSON *e, const gw_svg_plot_t *p)
{
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(e, "trend");
    size_t n = (size_t)cJSON_GetArraySize(tr), k = 0;
    double *band = calloc(2 * n + 1, 2 * sizeof(double)), *line = calloc(n + 1, 2 * sizeof(double));

    for (size_t i = 0; band && line && i < n; i++) {
        const cJSON *pt = cJSON_GetArrayItem(tr, (int)i);
        double t = cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 0));
        double y = cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 1));
        const cJSON *lo = cJSON_GetArrayItem(pt, 2), *hi = cJSON_GetArrayItem(pt, 3);
        double x = gw_svg_px(&p->x, t);
        line[2 * i] = x;
        line[2 * i + 1] = y >= p->y0 && y <= p->y1 ? gw_svg_px(&p->y, y) : NAN;
        if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
            band[2 * k] = x;
            band[2 * k + 1] = gw_svg_px(&p->y, fmin(fmax(hi->valuedouble, p->y0), p->y1));
            band[2 * (2 * n - 1 - k)] = x;
            band[2 * (2 * n - 1 - k) + 1] =
                gw_svg_px(&p->y, fmin(fmax(lo->valuedouble, p->y0), p->y1));
            k++;
        }
    }
    if (band && line && k == n && n > 1)
        gw_svg_path(b, band, 2 * n, 1,
                    &(gw_svg_style_t){.fill = "#ce93d8", .opacity = 0.35, .cls = "band"});
    if (band && line && n > 1)
        gw_svg_path(b, line, n, 0,
                    &(gw_svg_style_t){.stroke = CH__TREND, .width = 2, .cls = "trend"});
    if (!band || !line)
        b->oom = 1;
    free(band);
    free(line);
}

static void tr__date(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, len, "%b %d", &tm);
}

/* Interval, limit, crossing and the time of the prediction. */
static void tr__marks(gw_sbuf_t *b, const cJSON *e, const gw_svg_plot_t *p)
{
    int64_t lo = ledger__parse_iso(ch__str(e, "earliest")),
            hi = ledger__parse_iso(ch__str(e, "latest"));
    int64_t c = ledger__parse_iso(ch__str(e, "crossing")), at = ledger__parse_iso(ch__str(e, "at"));
    double limit = ch__num(e, "limit"), ly = gw_svg_px(&p->y, limit), top = p->y.p1;
    char lab[96], val[32];

    if (lo) {
        double x0 = gw_svg_px(&p->x, (double)lo);
        double x1 = hi ? gw_svg_px(&p->x, (double)hi) : p->x.p1;
        x1 = fmin(x1, p->x.p1);
        gw_svg_rect(b, x0, top, x1 - x0, p->y.p0 - top,
                    &(gw_svg_style_t){.fill = CH__BAD, .opacity = 0.10, .cls = "interval"});
    }
    if (at) {
        double x = gw_svg_px(&p->x, (double)at);
        gw_svg_line(b, x, top, x, p->y.p0, &(gw_svg_style_t){.stroke = "#90a4ae", .dash = "2 3"});
        gw_svg_text(b, x - 3, top + 10, "end", 10, "#78909c", 0, "prediction");
    }
    snprintf(val, sizeof(val), "%.6g", limit);
    gw_svg_line(b, p->x.p0, ly, p->x.p1, ly,
                &(gw_svg_style_t){
                    .stroke = CH__BAD, .width = 1.5, .dash = "6 3", .cls = "limit", .value = val});
    snprintf(lab, sizeof(lab), "limit %s %s", val, ch__str(e, "unit"));
    gw_svg_text(b, p->x.p0 + 4, ly - 4, "start", 10.5, CH__BAD, 1, lab);
    if (c) {
        double x = gw_svg_px(&p->x, (double)c);
        tr__date(c, lab, sizeof(lab));
        gw_svg_circle(b, x, ly, 4.5,
                      &(gw_svg_style_t){.fill = "#fff",
                                        .stroke = CH__BAD,
                                        .width = 2,
                                        .cls = "crossing",
                                        .value = ch__str(e, "crossing")});
        gw_svg_text(b, x, ly + 16, "middle", 10.5, CH__BAD, 1, lab);
    }
}

static void tr__points(gw_sbuf_t *b, const cJSON *e, const gw_svg_plot_t *p)
{
    const cJSON *pt;

    cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(e, "daily"))
    {
        double t = cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 0));
        double y = cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 1));
        char val[32], day[16];
        if (!isfinite(t) || !isfinite(y))
            continue;
        snprintf(val, sizeof(val), "%.6g", y);
        tr__date(ledger__to_i64(t, 0), day, sizeof(day));
        gw_svg_circle(
            b, gw_svg_px(&p->x, t), gw_svg_px(&p->y, y), 2.6,
            &(gw_svg_style_t){.fill = CH__BLUE, .cls = "point", .label = day, .value = val});
    }
}

void ledger__chart_trend(gw_sbuf_t *b, const cJSON *e, int standalone)
{
    const cJSON *chart = cJSON_GetObjectItemCaseSensitive(e, "chart");
    gw_svg_plot_t p = {.width = TR__W, .height = TR__H, .unit = ch__str(e, "unit")};
    double head = standalone ? 26 : 0;
    char title[300];

    p.x0_ms = ledger__to_i64(ch__num(chart, "from_ms"), 0);
    p.x1_ms = ledger__to_i64(ch__num(chart, "to_ms"), 0);
    tr__yrange(e, &p.y0, &p.y1);
    snprintf(title, sizeof(title), "#%.0f %s: daily level, fitted trend and limit",
             ch__num(e, "number"), ch__str(e, "title"));
    gw_svg_open(b, TR__W, TR__H + head, TR__W * 1.4, "chart trend", title, standalone);
    if (standalone) {
        gw_svg_rect(b, 0, 0, TR__W, TR__H + head, &(gw_svg_style_t){.fill = "#ffffff"});
        snprintf(title, sizeof(title), "#%.0f %s (%s)", ch__num(e, "number"), ch__str(e, "title"),
                 ch__str(e, "device"));
        gw_svg_text(b, 8, 17, "start", 13, "#263238", 1, title);
        gw_sbuf_printf(b, "<g transform=\"translate(0,%.0f)\">\n", head);
    }
    gw_svg_plot_open(b, &p);
    tr__marks(b, e, &p);
    tr__curve(b, e, &p);
    tr__points(b, e, &p);
    if (standalone)
        gw_sbuf_puts(b, "</g>\n");
    gw_svg_close(b);
}

char *ledger_trend_svg(const char *trend_json)
{
    gw_sbuf_t b = {0};
    cJSON *e = cJSON_Parse(trend_json ? trend_json : "");

    if (!e)
        return NULL;
    ledger__chart_trend(&b, e, 1);
    cJSON_Delete(e);
    return gw_sbuf_take(&b);
}
