/*
 * gw_svg.c: the SVG primitives, scales and ticks (gw_svg.h); the charts
 * built on them are gw_svg_chart.c.
 *
 * Coordinates are written with one decimal: charts are a few hundred user
 * units wide, so a tenth is below what a screen or printer shows.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG__FONT "DejaVu Sans, Helvetica, Arial, sans-serif"

void gw_svg_open(gw_sbuf_t *b, double w, double h, double max_w, const char *cls, const char *title,
                 int standalone)
{
    if (standalone)
        gw_sbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    gw_sbuf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\""
                   " width=\"%.0f\" height=\"%.0f\" role=\"img\" font-family=\"" SVG__FONT "\"",
                   w, h, w, h);
    if (max_w > 0)
        gw_sbuf_printf(b, " style=\"width:100%%;max-width:%.0fpx;height:auto\"", max_w);
    if (cls) {
        gw_sbuf_puts(b, " class=\"");
        gw_sbuf_escape(b, cls);
        gw_sbuf_puts(b, "\"");
    }
    gw_sbuf_puts(b, ">");
    if (title) {
        gw_sbuf_puts(b, "<title>");
        gw_sbuf_escape(b, title);
        gw_sbuf_puts(b, "</title>");
    }
    gw_sbuf_puts(b, "\n");
}

void gw_svg_close(gw_sbuf_t *b)
{
    gw_sbuf_puts(b, "</svg>\n");
}

static void svg__attr(gw_sbuf_t *b, const char *name, const char *value)
{
    if (!value)
        return;
    gw_sbuf_printf(b, " %s=\"", name);
    gw_sbuf_escape(b, value);
    gw_sbuf_puts(b, "\"");
}

/* The style's attributes, then "/>". */
static void svg__style_end(gw_sbuf_t *b, const gw_svg_style_t *st)
{
    static const gw_svg_style_t none = {0};

    if (!st)
        st = &none;
    svg__attr(b, "fill", st->fill ? st->fill : "none");
    if (st->stroke) {
        svg__attr(b, "stroke", st->stroke);
        gw_sbuf_printf(b, " stroke-width=\"%.1f\"", st->width > 0 ? st->width : 1.0);
        svg__attr(b, "stroke-dasharray", st->dash);
    }
    if (st->opacity > 0)
        gw_sbuf_printf(b, " opacity=\"%.2f\"", st->opacity);
    svg__attr(b, "class", st->cls);
    svg__attr(b, "data-label", st->label);
    svg__attr(b, "data-series", st->series);
    svg__attr(b, "data-value", st->value);
    gw_sbuf_puts(b, "/>\n");
}

void gw_svg_rect(gw_sbuf_t *b, double x, double y, double w, double h, const gw_svg_style_t *st)
{
    gw_sbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x, y,
                   w > 0 ? w : 0, h > 0 ? h : 0);
    svg__style_end(b, st);
}

void gw_svg_line(gw_sbuf_t *b, double x1, double y1, double x2, double y2, const gw_svg_style_t *st)
{
    gw_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2);
    svg__style_end(b, st);
}

void gw_svg_circle(gw_sbuf_t *b, double cx, double cy, double r, const gw_svg_style_t *st)
{
    gw_sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", cx, cy, r);
    svg__style_end(b, st);
}

void gw_svg_path(gw_sbuf_t *b, const double *xy, size_t n, int closed, const gw_svg_style_t *st)
{
    int pen = 0, any = 0;

    gw_sbuf_puts(b, "<path d=\"");
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) {
            pen = 0;
            continue;
        }
        gw_sbuf_printf(b, "%s%c%.1f %.1f", any ? " " : "", pen ? 'L' : 'M', x, y);
        pen = any = 1;
    }
    if (closed && any)
        gw_sbuf_puts(b, " Z");
    gw_sbuf_puts(b, "\"");
    svg__style_end(b, st);
}

void gw_svg_text(gw_sbuf_t *b, double x, double y, const char *anchor, double size,
                 const char *fill, int bold, const char *text)
{
    gw_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\"", x, y, size);
    svg__attr(b, "text-anchor", anchor && strcmp(anchor, "start") != 0 ? anchor : NULL);
    svg__attr(b, "fill", fill ? fill : "#37474f");
    if (bold)
        gw_sbuf_puts(b, " font-weight=\"bold\"");
    gw_sbuf_puts(b, ">");
    gw_sbuf_escape(b, text);
    gw_sbuf_puts(b, "</text>\n");
}

/* ---- scales and ticks ---------------------------------------------------- */

double gw_svg_px(const gw_svg_scale_t *s, double v)
{
    if (s->d1 == s->d0)
        return s->p0;
    return s->p0 + (v - s->d0) * (s->p1 - s->p0) / (s->d1 - s->d0);
}

int gw_svg_ticks(double *lo, double *hi, int want, double *out, int max)
{
    double span, raw, mag, step, first, f;
    int n = 0;

    if (!isfinite(*lo) || !isfinite(*hi))
        *lo = 0, *hi = 1;
    if (*hi < *lo) {
        double t = *lo;
        *lo = *hi;
        *hi = t;
    }
    if (*hi == *lo)
        *hi = *lo + (*lo != 0 ? fabs(*lo) * 0.1 : 1);
    span = *hi - *lo;
    raw = span / (want > 1 ? want : 2);
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    first = floor(*lo / step) * step;
    *lo = first;
    *hi = ceil(*hi / step - 1e-9) * step;
    for (double t = first; t <= *hi + step * 1e-6 && n < max; t += step)
        out[n++] = fabs(t) < step * 1e-9 ? 0 : t;
    return n;
}

void gw_svg_num(double v, char *buf, size_t len)
{
    double a = fabs(v);

    if (!isfinite(v)) {
        snprintf(buf, len, "-");
    } else if (a >= 1000) {
        /* thousands separated by commas */
        char digits[64];
        size_t nd, o = 0;
        snprintf(digits, sizeof(digits), "%.0f", a);
        nd = strlen(digits);
        if (v < 0 && o + 1 < len)
            buf[o++] = '-';
        for (size_t i = 0; i < nd && o + 2 < len; i++) {
            if (i && (nd - i) % 3 == 0)
                buf[o++] = ',';
            buf[o++] = digits[i];
        }
        buf[o] = '\0';
    } else if (a >= 100 || v == floor(v)) {
        snprintf(buf, len, "%.0f", v);
    } else if (a >= 1) {
        snprintf(buf, len, "%.1f", v);
    } else {
        snprintf(buf, len, "%.2g", v);
    }
}
