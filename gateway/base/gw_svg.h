/*
 * gw_svg.h: a small SVG writer for the charts of the reports
 * (docs/operations.md, "Monthly report"): no JavaScript, no fonts or
 * images fetched, one self-contained <svg> element of plain shapes with
 * presentation attributes, so that it shows the same in a browser, in a
 * printed PDF and inline in an HTML page.
 *
 * Two levels:
 *  - primitives: open/close, rect, line, circle, path, text, each with a
 *    style (fill, stroke, dash, class) and optional data-label/data-value
 *    attributes that name what a shape stands for (tests read them back);
 *  - charts: horizontal (stacked) bars with an optional target line,
 *    columns over a day axis, and the frame of an x/y plot over time
 *    (axes, grid, ticks) for the caller to draw its layers in.
 *
 * Everything is appended to a gw_sbuf_t; text is escaped here. Numbers that
 * are NaN mean "no data" where a chart says so. Pure: no I/O.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_SVG_H
#define PLANTROOM_GW_SVG_H

#include "gateway/base/gw_sbuf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- primitives ---------------------------------------------------------- */

typedef struct gw_svg_style {
    const char *fill;   /* NULL: "none" */
    const char *stroke; /* NULL: none */
    double width;       /* stroke width (0: 1) */
    const char *dash;   /* stroke-dasharray ("4 3"), NULL: solid */
    double opacity;     /* 0: opaque */
    const char *cls;    /* class attribute, NULL: none */
    const char *label;  /* data-label (escaped here), NULL: none */
    const char *value;  /* data-value, NULL: none */
    const char *series; /* data-series, NULL: none */
} gw_svg_style_t;

/* Open an <svg> of w x h user units that scales to the width of its
 * container (viewBox; at most max_w pixels wide, 0: no limit), with a
 * <title> (may be NULL) for screen readers. standalone adds the XML
 * declaration (a file of its own). cls may be NULL. */
void gw_svg_open(gw_sbuf_t *b, double w, double h, double max_w, const char *cls, const char *title,
                 int standalone);
void gw_svg_close(gw_sbuf_t *b);
void gw_svg_rect(gw_sbuf_t *b, double x, double y, double w, double h, const gw_svg_style_t *st);
void gw_svg_line(gw_sbuf_t *b, double x1, double y1, double x2, double y2,
                 const gw_svg_style_t *st);
void gw_svg_circle(gw_sbuf_t *b, double cx, double cy, double r, const gw_svg_style_t *st);
/* A path through n points xy[2i], xy[2i+1]; a point with a NaN coordinate
 * breaks the line (the next point starts a new piece). closed: a filled
 * shape (a band). */
void gw_svg_path(gw_sbuf_t *b, const double *xy, size_t n, int closed, const gw_svg_style_t *st);
/* Text at x, y (baseline); anchor "start", "middle" or "end"; size in user
 * units; fill NULL: dark grey. */
void gw_svg_text(gw_sbuf_t *b, double x, double y, const char *anchor, double size,
                 const char *fill, int bold, const char *text);

/* ---- scales and ticks ---------------------------------------------------- */

/* A linear map from data [d0, d1] to user units [p0, p1]. */
typedef struct gw_svg_scale {
    double d0, d1, p0, p1;
} gw_svg_scale_t;

double gw_svg_px(const gw_svg_scale_t *s, double v);
/* "Nice" ticks (steps of 1, 2 or 5 times a power of ten) covering
 * [*lo, *hi], about want of them; *lo and *hi are widened to the outer
 * ticks. Writes at most max values to out; returns how many. */
int gw_svg_ticks(double *lo, double *hi, int want, double *out, int max);
/* A number for a label: 1234 -> "1,234", 12.34 -> "12.3", 0.05 -> "0.05". */
void gw_svg_num(double v, char *buf, size_t len);

/* ---- charts -------------------------------------------------------------- */

#define GW_SVG_SERIES_MAX 4

typedef struct gw_svg_series {
    const char *name;  /* in the legend and data-series */
    const char *color; /* fill */
} gw_svg_series_t;

typedef struct gw_svg_bar {
    const char *label;           /* left of the bar */
    double v[GW_SVG_SERIES_MAX]; /* one stacked segment per series */
    const char *note;            /* right of the bar (NULL: the total) */
    int flagged;                 /* drawn with a red mark and bold label */
    const char *color;           /* one series: this bar's color (NULL: the series') */
} gw_svg_bar_t;

/* Horizontal bars, one row each, segments stacked left to right. With
 * percent the axis runs 0..100 % (values are fractions 0..1). target >= 0
 * draws a dashed vertical line there with target_label; its class is
 * "target" and data-value the target. Each segment is a rect of class
 * "bar" with data-label (the row), data-series and data-value. */
typedef struct gw_svg_hbars {
    const char *title;
    const gw_svg_series_t *series;
    int nseries;
    const gw_svg_bar_t *bars;
    size_t nbars;
    double max; /* axis end; <= 0: from the data */
    int percent;
    double target; /* < 0: none */
    const char *target_label;
    double width; /* user units (0: 440) */
} gw_svg_hbars_t;

void gw_svg_hbars(gw_sbuf_t *b, const gw_svg_hbars_t *c);

/* Columns, one per value (e.g. kWh per day), labelled below every
 * label_every columns (0: chosen); NaN: no data, drawn as a grey stub of
 * class "nodata". Each column is a rect of class "bar" with data-label
 * (keys[i]) and data-value. */
typedef struct gw_svg_columns {
    const char *title;
    const char *unit; /* on the y axis */
    const double *v;
    const char *const *labels; /* short, under the axis */
    const char *const *keys;   /* data-label of each column */
    size_t n;
    const char *color;
    double width, height; /* user units (0: 460 x 190) */
    int label_every;
} gw_svg_columns_t;

void gw_svg_columns(gw_sbuf_t *b, const gw_svg_columns_t *c);

/* The frame of a plot over time: x from x0_ms to x1_ms with a tick at
 * local midnight every few days (labelled "Jun 14"), y from y0 to y1
 * (widened to nice ticks) with grid lines and unit. gw_svg_plot_open draws
 * the frame into an open <svg> and fills in the scales for the layers. */
typedef struct gw_svg_plot {
    double width, height; /* user units (0: 460 x 220) */
    int64_t x0_ms, x1_ms;
    double y0, y1;
    const char *unit;
    gw_svg_scale_t x, y; /* filled by gw_svg_plot_open */
} gw_svg_plot_t;

void gw_svg_plot_open(gw_sbuf_t *b, gw_svg_plot_t *p);

#endif
