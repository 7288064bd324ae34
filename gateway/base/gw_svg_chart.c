/*
 * gw_svg_chart.c: the charts of gw_svg.h, drawn with its primitives:
 * horizontal stacked bars with a target line, columns over days, and the
 * frame of a plot over time. Layout constants are in user units; the <svg>
 * scales to its container, so they are proportions, not pixels.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CH__GRID  "#e0e0e0"
#define CH__AXIS  "#90a4ae"
#define CH__TEXT  "#37474f"
#define CH__MUTED "#78909c"
#define CH__RED   "#c62828"
#define CH__FONT  12.0
#define CH__SMALL 10.5

/* label cut to at most max bytes on a UTF-8 boundary, with an ellipsis. */
static const char *ch__cut(const char *label, char *buf, size_t len, size_t max)
{
    size_t n;

    if (!label)
        return "";
    n = strlen(label);
    if (n <= max || len < max + 4)
        return label;
    n = max;
    while (n > 0 && ((unsigned char)label[n] & 0xC0) == 0x80)
        n--;
    snprintf(buf, len, "%.*s\xe2\x80\xa6", (int)n, label);
    return buf;
}

static void ch__tick_label(double v, int percent, char *buf, size_t len)
{
    if (percent) {
        snprintf(buf, len, "%.0f %%", v * 100);
        return;
    }
    gw_svg_num(v, buf, len);
}

/* ---- horizontal bars ----------------------------------------------------- */

#define HB__LEFT  116.0
#define HB__RIGHT 114.0
#define HB__ROW   24.0
#define HB__BAR   14.0

static double hb__total(const gw_svg_hbars_t *c, const gw_svg_bar_t *bar)
{
    double t = 0;

    for (int s = 0; s < c->nseries; s++)
        t += isfinite(bar->v[s]) && bar->v[s] > 0 ? bar->v[s] : 0;
    return t;
}

static void hb__legend(gw_sbuf_t *b, const gw_svg_hbars_t *c, double w)
{
    double x = HB__LEFT;

    if (c->nseries < 2)
        return;
    for (int s = 0; s < c->nseries && x < w - 40; s++) {
        gw_svg_style_t sw = {.fill = c->series[s].color};
        gw_svg_rect(b, x, 6, 10, 10, &sw);
        gw_svg_text(b, x + 14, 15, "start", CH__SMALL, CH__TEXT, 0, c->series[s].name);
        x += 24 + 6.5 * (double)strlen(c->series[s].name);
    }
}

static void hb__row(gw_sbuf_t *b, const gw_svg_hbars_t *c, const gw_svg_bar_t *bar,
                    const gw_svg_scale_t *x, double y)
{
    char cut[96], val[32], note[48];
    double acc = 0, total = hb__total(c, bar);

    if (bar->flagged) {
        gw_svg_style_t mark = {
            .fill = CH__RED, .opacity = 0.12, .cls = "flag", .label = bar->label};
        gw_svg_rect(b, 2, y + 1, x->p1 + HB__RIGHT - 4, HB__ROW - 2, &mark);
    }
    gw_svg_text(b, HB__LEFT - 6, y + HB__ROW / 2 + 4, "end", CH__FONT,
                bar->flagged ? CH__RED : CH__TEXT, bar->flagged,
                ch__cut(bar->label, cut, sizeof(cut), 19));
    for (int s = 0; s < c->nseries; s++) {
        double v = isfinite(bar->v[s]) && bar->v[s] > 0 ? bar->v[s] : 0;
        double x0 = gw_svg_px(x, acc), x1 = gw_svg_px(x, acc + v);
        gw_svg_style_t st = {.fill =
                                 bar->color && c->nseries == 1 ? bar->color : c->series[s].color,
                             .cls = "bar",
                             .label = bar->label,
                             .series = c->series[s].name,
                             .value = val};
        snprintf(val, sizeof(val), "%.6g", isfinite(bar->v[s]) ? bar->v[s] : 0);
        gw_svg_rect(b, x0, y + (HB__ROW - HB__BAR) / 2, x1 - x0, HB__BAR, &st);
        acc += v;
    }
    if (bar->note)
        snprintf(note, sizeof(note), "%s", bar->note);
    else
        ch__tick_label(total, c->percent, note, sizeof(note));
    gw_svg_text(b, x->p1 + 8, y + HB__ROW / 2 + 4, "start", CH__FONT,
                bar->flagged ? CH__RED : CH__TEXT, bar->flagged, note);
}

/* The vertical target line and its label above the rows. */
static void hb__target(gw_sbuf_t *b, const gw_svg_hbars_t *c, const gw_svg_scale_t *x, double y0,
                       double y1)
{
    char val[32];
    double tx = gw_svg_px(x, c->target);
    gw_svg_style_t st = {
        .stroke = "#263238", .width = 1.5, .dash = "5 3", .cls = "target", .value = val};

    snprintf(val, sizeof(val), "%.6g", c->target);
    gw_svg_line(b, tx, y0 - 4, tx, y1, &st);
    if (c->target_label)
        gw_svg_text(b, tx, y0 - 7, tx > x->p1 - 40 ? "end" : "middle", CH__SMALL, "#263238", 1,
                    c->target_label);
}

void gw_svg_hbars(gw_sbuf_t *b, const gw_svg_hbars_t *c)
{
    double w = c->width > 0 ? c->width : 440, top = c->nseries > 1 ? 24 : 8, ticks[16];
    double lo = 0, hi = c->max, h;
    gw_svg_scale_t x;
    int nt;

    if (c->target >= 0 && c->target_label)
        top += 14;
    if (c->percent)
        hi = 1;
    for (size_t i = 0; i < c->nbars; i++) /* the data may run past a given end */
        hi = fmax(hi, hb__total(c, &c->bars[i]));
    if (hi <= 0)
        hi = 1;
    nt = c->percent ? 5 : gw_svg_ticks(&lo, &hi, 4, ticks, 16);
    if (c->percent)
        for (int i = 0; i < 5; i++)
            ticks[i] = i * 0.25;
    x = (gw_svg_scale_t){lo, hi, HB__LEFT, w - HB__RIGHT};
    h = top + HB__ROW * (double)(c->nbars ? c->nbars : 1) + 22;
    gw_svg_open(b, w, h, w * 1.45, "chart hbars", c->title, 0);
    hb__legend(b, c, w);
    for (int i = 0; i < nt; i++) {
        char lab[32];
        double tx = gw_svg_px(&x, ticks[i]);
        gw_svg_style_t grid = {.stroke = i ? CH__GRID : CH__AXIS};
        gw_svg_line(b, tx, top, tx, h - 20, &grid);
        ch__tick_label(ticks[i], c->percent, lab, sizeof(lab));
        gw_svg_text(b, tx, h - 6, "middle", CH__SMALL, CH__MUTED, 0, lab);
    }
    if (c->nbars == 0)
        gw_svg_text(b, HB__LEFT + 8, top + HB__ROW / 2 + 4, "start", CH__FONT, CH__MUTED, 0,
                    "no work orders");
    for (size_t i = 0; i < c->nbars; i++)
        hb__row(b, c, &c->bars[i], &x, top + HB__ROW * (double)i);
    if (c->target >= 0)
        hb__target(b, c, &x, top, h - 20);
    gw_svg_close(b);
}

/* ---- columns ------------------------------------------------------------- */

#define CO__LEFT   48.0
#define CO__RIGHT  8.0
#define CO__TOP    24.0
#define CO__BOTTOM 22.0

static void co__yaxis(gw_sbuf_t *b, const gw_svg_columns_t *c, const gw_svg_scale_t *y,
                      const double *ticks, int nt, double w)
{
    for (int i = 0; i < nt; i++) {
        char lab[32];
        double ty = gw_svg_px(y, ticks[i]);
        gw_svg_style_t grid = {.stroke = i ? CH__GRID : CH__AXIS};
        gw_svg_line(b, CO__LEFT, ty, w - CO__RIGHT, ty, &grid);
        gw_svg_num(ticks[i], lab, sizeof(lab));
        gw_svg_text(b, CO__LEFT - 5, ty + 4, "end", CH__SMALL, CH__MUTED, 0, lab);
    }
    if (c->unit)
        gw_svg_text(b, 4, 11, "start", CH__SMALL, CH__MUTED, 1, c->unit);
}

void gw_svg_columns(gw_sbuf_t *b, const gw_svg_columns_t *c)
{
    double w = c->width > 0 ? c->width : 460, h = c->height > 0 ? c->height : 190;
    double lo = 0, hi = 0, ticks[16], slot;
    gw_svg_scale_t y;
    int nt, every = c->label_every;

    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->v[i]))
            hi = fmax(hi, c->v[i]);
    nt = gw_svg_ticks(&lo, &hi, 4, ticks, 16);
    y = (gw_svg_scale_t){lo, hi, h - CO__BOTTOM, CO__TOP};
    slot = (w - CO__LEFT - CO__RIGHT) / (double)(c->n ? c->n : 1);
    if (every <= 0)
        every = (int)((c->n + 15) / 16);
    gw_svg_open(b, w, h, w * 1.4, "chart columns", c->title, 0);
    co__yaxis(b, c, &y, ticks, nt, w);
    for (size_t i = 0; i < c->n; i++) {
        char val[32];
        double x = CO__LEFT + slot * (double)i + slot * 0.125, base = gw_svg_px(&y, 0);
        int nodata = !isfinite(c->v[i]);
        gw_svg_style_t st = {.fill = nodata     ? "#cfd8dc"
                                     : c->color ? c->color
                                                : "#1565c0",
                             .cls = nodata ? "nodata" : "bar",
                             .label = c->keys ? c->keys[i] : NULL,
                             .value = nodata ? NULL : val};
        snprintf(val, sizeof(val), "%.6g", nodata ? 0 : c->v[i]);
        if (nodata)
            gw_svg_rect(b, x, base - 3, slot * 0.75, 3, &st);
        else
            gw_svg_rect(b, x, gw_svg_px(&y, c->v[i]), slot * 0.75, base - gw_svg_px(&y, c->v[i]),
                        &st);
        if (c->labels && (i % (size_t)every) == 0)
            gw_svg_text(b, x + slot * 0.375, h - 7, "middle", CH__SMALL, CH__MUTED, 0,
                        c->labels[i]);
    }
    gw_svg_close(b);
}

/* ---- the frame of a plot over time ------------------------------------- */

#define PL__LEFT   48.0
#define PL__RIGHT  14.0
#define PL__TOP    20.0
#define PL__BOTTOM 22.0
#define PL__DAY    86400000LL

/* Local midnight at or after ms. */
static int64_t pl__midnight_after(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if ((int64_t)t * 1000 < ms) {
        tm.tm_mday++;
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    return (int64_t)t * 1000;
}

static void pl__xaxis(gw_sbuf_t *b, const gw_svg_plot_t *p, double h)
{
    static const int steps[] = {1, 2, 3, 7, 14, 28, 56, 112};
    int64_t span_days = (p->x1_ms - p->x0_ms) / PL__DAY + 1, k = steps[0];
    int64_t t = pl__midnight_after(p->x0_ms);
    int n = 0;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && span_days / k > 7; i++)
        k = steps[i];
    for (; t <= p->x1_ms && n < 64; n++) {
        char lab[16];
        time_t s = (time_t)(t / 1000);
        struct tm tm;
        double tx = gw_svg_px(&p->x, (double)t);
        gw_svg_style_t grid = {.stroke = CH__GRID};
        localtime_r(&s, &tm);
        strftime(lab, sizeof(lab), "%b %d", &tm);
        gw_svg_line(b, tx, PL__TOP, tx, h - PL__BOTTOM, &grid);
        gw_svg_text(b, tx, h - 7, "middle", CH__SMALL, CH__MUTED, 0, lab);
        tm.tm_mday += (int)k;
        tm.tm_isdst = -1;
        t = (int64_t)mktime(&tm) * 1000;
    }
}

void gw_svg_plot_open(gw_sbuf_t *b, gw_svg_plot_t *p)
{
    double w = p->width > 0 ? p->width : 460, h = p->height > 0 ? p->height : 220;
    double lo = p->y0, hi = p->y1, ticks[16];
    int nt = gw_svg_ticks(&lo, &hi, 4, ticks, 16);

    p->width = w;
    p->height = h;
    p->x = (gw_svg_scale_t){(double)p->x0_ms, (double)p->x1_ms, PL__LEFT, w - PL__RIGHT};
    p->y = (gw_svg_scale_t){lo, hi, h - PL__BOTTOM, PL__TOP};
    p->y0 = lo;
    p->y1 = hi;
    pl__xaxis(b, p, h);
    for (int i = 0; i < nt; i++) {
        char lab[32];
        double ty = gw_svg_px(&p->y, ticks[i]);
        gw_svg_style_t grid = {.stroke = i ? CH__GRID : CH__AXIS};
        gw_svg_line(b, PL__LEFT, ty, w - PL__RIGHT, ty, &grid);
        gw_svg_num(ticks[i], lab, sizeof(lab));
        gw_svg_text(b, PL__LEFT - 5, ty + 4, "end", CH__SMALL, CH__MUTED, 0, lab);
    }
    if (p->unit)
        gw_svg_text(b, 4, 11, "start", CH__SMALL, CH__MUTED, 1, p->unit);
}
