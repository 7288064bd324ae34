/*
 * rule_fit.c: the trend rule's curves (rules/rule_int.h): a Theil-Sen line
 * through the daily levels (linear wear), an exponential y = floor +
 * exp(a + b t) (wear that accelerates; the floor configured or fitted by
 * least squares with the rate, never above the healthy level before the
 * change: wear adds to a healthy machine's vibration), two lines joined at a knee (wear that
 * changed pace), where a fitted curve reaches the limit, and the onset of a change. Which curve to
 * believe is rule_model.c's. Design in docs/prediction.md.
 *
 * Theil-Sen: the slope is the median of the pairwise slopes, the intercept
 * the median of y - slope * t; a day or two of odd levels (a stuck sensor,
 * a day of knocks) moves neither much. The pairwise 1 / (t_j - t_i) are
 * computed once per day close (rule__data_prepare) and the medians are
 * taken by selection, not sorting, because the interval and the model test
 * refit the curves hundreds of times (rule_interval.c, rule_model.c).
 * Weighted to the recent days (a discount per day, from line_half_life),
 * the medians are weighted medians, also by selection: the line follows the
 * pace the wear has now; a replicate of it is refitted with its weights.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hoare's selection: the k-th smallest of v[0..n) (reorders v). */
static double select_kth(double *v, int n, int k)
{
    int lo = 0, hi = n - 1;

    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double x = v[i];
                v[i++] = v[j];
                v[j--] = x;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

double rule__median(double *v, int n)
{
    double hi, lo;

    if (n <= 0)
        return 0;
    hi = select_kth(v, n, n / 2);
    if (n % 2)
        return hi;
    /* The lower middle is the largest of the part select left below. */
    lo = v[0];
    for (int i = 1; i < n / 2; i++)
        lo = v[i] > lo ? v[i] : lo;
    return 0.5 * (lo + hi);
}

void rule__data_prepare(rule__data_t *d, double limit)
{
    int p = 0;

    for (int j = 1; j < d->n; j++)
        for (int i = 0; i < j; i++)
            d->inv[p++] = 1.0 / (d->t[j] - d->t[i]);
    d->limit = limit;
}

double rule__wmedian(double *v, double *w, int n)
{
    double half = 0;
    int lo = 0, hi = n - 1;

    for (int i = 0; i < n; i++)
        half += 0.5 * w[i];
    /* Hoare's selection as in select_kth, the weights moved with the values;
     * the side that holds the half weight is kept (every value on the left
     * is at most every value on the right, so the order of ties is moot). */
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2], wl = 0, wm = 0;
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double x = v[i], xw = w[i];
                v[i] = v[j], w[i] = w[j];
                v[j] = x, w[j] = xw;
                i++, j--;
            }
        }
        for (int k = lo; k <= j; k++)
            wl += w[k];
        if (half <= wl) {
            hi = j;
            continue;
        }
        for (int k = j + 1; k < i; k++)
            wm += w[k]; /* between the two sides: the pivot's value */
        if (half <= wl + wm)
            return pivot;
        half -= wl + wm;
        lo = i;
    }
    return v[lo];
}

double rule__weights(const rule__data_t *d, int n, double disc, double *w)
{
    double s = 0, s2 = 0;

    for (int i = 0; i < n; i++) {
        w[i] = disc > 0 ? exp(-disc * (d->t[n - 1] - d->t[i])) : 1;
        s += w[i];
        s2 += w[i] * w[i];
    }
    return s2 > 0 ? s * s / s2 : 0;
}

/* Theil-Sen line through (t, y) of n >= 2 points with d's pair table; with
 * a discount, the medians are weighted: a pair of levels by sqrt(w_i w_j)
 * (its mean age), a level's intercept by w_i. */
static void ts_line(const rule__data_t *d, const double *y, int n, double disc, double *work,
                    double *a, double *b)
{
    int np = n * (n - 1) / 2, p = 0;
    double r[RULE_TREND_MAX_DAYS], w[RULE_TREND_MAX_DAYS], sw[RULE_TREND_MAX_DAYS];
    double pw[RULE__PAIRS];

    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++, p++)
            work[p] = (y[j] - y[i]) * d->inv[p];
    if (!(disc > 0)) {
        *b = rule__median(work, np);
        for (int i = 0; i < n; i++)
            r[i] = y[i] - *b * d->t[i];
        *a = rule__median(r, n);
        return;
    }
    rule__weights(d, n, disc, w);
    for (int i = 0; i < n; i++)
        sw[i] = sqrt(w[i]);
    p = 0;
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++)
            pw[p++] = sw[i] * sw[j];
    *b = rule__wmedian(work, pw, np);
    for (int i = 0; i < n; i++)
        r[i] = y[i] - *b * d->t[i];
    *a = rule__wmedian(r, w, n);
}

/* Least squares of y ~ phi + k * E over n points, E_i = exp(b * (t_i - tr)):
 * for a given rate b the floor phi and the scale k follow in closed form
 * (phi fixed when floor_set). Returns the squared residuals, HUGE_VAL when
 * k <= 0 (not a growing curve). */
static double exp_at_rate(const rule_trend_cfg_t *c, const rule__data_t *d, const double *y, int n,
                          double b, double tr, double *phi, double *k)
{
    double e[RULE_TREND_MAX_DAYS], me = 0, my = 0, sxx = 0, sxy = 0, syy = 0, sse = 0;

    for (int i = 0; i < n; i++) {
        e[i] = exp(b * (d->t[i] - tr));
        me += e[i] / n;
        my += y[i] / n;
    }
    if (c->floor_set) {
        for (int i = 0; i < n; i++) {
            sxx += e[i] * e[i];
            sxy += e[i] * (y[i] - c->floor);
        }
        *phi = c->floor;
        *k = sxx > 0 ? sxy / sxx : 0;
        for (int i = 0; i < n; i++)
            sse += (y[i] - c->floor - *k * e[i]) * (y[i] - c->floor - *k * e[i]);
        return *k > 0 ? sse : HUGE_VAL;
    }
    for (int i = 0; i < n; i++) {
        sxx += (e[i] - me) * (e[i] - me);
        sxy += (e[i] - me) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (!(sxx > 0))
        return HUGE_VAL;
    *k = sxy / sxx;
    *phi = my - *k * me;
    if (isfinite(d->q) && *phi > d->q) {
        /* Wear adds to the healthy level: the floor is not above it. */
        sxx = sxy = 0;
        for (int i = 0; i < n; i++) {
            sxx += e[i] * e[i];
            sxy += e[i] * (y[i] - d->q);
        }
        *phi = d->q;
        *k = sxy / sxx;
        for (int i = 0; i < n; i++)
            sse += (y[i] - d->q - *k * e[i]) * (y[i] - d->q - *k * e[i]);
        return *k > 0 ? sse : HUGE_VAL;
    }
    return *k > 0 ? fmax(syy - *k * sxy, 0) : HUGE_VAL;
}

/* The exponential through the first n levels by least squares in y (a log
 * transform would blow up the noise of the levels near the floor): the
 * rate b is searched on a log grid in [lo, hi], then refined by golden
 * section between the best point's neighbours. Returns 0, or -1 when no
 * rate gives a growing curve. */
static int fit_exp(const rule_trend_cfg_t *c, const rule__data_t *d, const double *y, int n,
                   double lo, double hi, int steps, rule__fit_t *f)
{
    double tr = d->t[n - 1], best = HUGE_VAL, bb = 0, phi, k, l0 = log(lo), l1 = log(hi);
    double g = 0.3819660112501051, x0, x1, xa, xb, fa, fb, pa, ka, pb, kb;
    int at = -1;

    for (int i = 0; i < steps; i++) {
        double x = l0 + (l1 - l0) * i / (steps - 1),
               sse = exp_at_rate(c, d, y, n, exp(x), tr, &phi, &k);
        if (sse < best) {
            best = sse;
            at = i;
            bb = exp(x);
        }
    }
    if (at < 0)
        return -1;
    x0 = l0 + (l1 - l0) * (at > 0 ? at - 1 : 0) / (steps - 1);
    x1 = l0 + (l1 - l0) * (at < steps - 1 ? at + 1 : steps - 1) / (steps - 1);
    xa = x0 + g * (x1 - x0);
    xb = x1 - g * (x1 - x0);
    fa = exp_at_rate(c, d, y, n, exp(xa), tr, &pa, &ka);
    fb = exp_at_rate(c, d, y, n, exp(xb), tr, &pb, &kb);
    for (int it = 0; it < 14; it++) {
        if (fa < fb) {
            x1 = xb;
            xb = xa;
            fb = fa;
            xa = x0 + g * (x1 - x0);
            fa = exp_at_rate(c, d, y, n, exp(xa), tr, &pa, &ka);
        } else {
            x0 = xa;
            xa = xb;
            fa = fb;
            xb = x1 - g * (x1 - x0);
            fb = exp_at_rate(c, d, y, n, exp(xb), tr, &pb, &kb);
        }
    }
    if (fmin(fa, fb) < best)
        bb = exp(fa < fb ? xa : xb);
    exp_at_rate(c, d, y, n, bb, tr, &phi, &k);
    f->model = RULE_MODEL_EXP;
    f->b = bb;
    f->phi = phi;
    f->a = log(k) - bb * tr;
    return 0;
}

/* Least squares of y on (1, t, max(0, t - kt)) over n points; returns the
 * squared residuals (HUGE_VAL when singular) and the coefficients. */
static double knee_at(const rule__data_t *d, const double *y, int n, double kt, double *a,
                      double *b, double *k)
{
    double m[3][4] = {{0}}, sse = 0;

    for (int i = 0; i < n; i++) {
        double x[3] = {1, d->t[i], d->t[i] > kt ? d->t[i] - kt : 0};
        for (int r = 0; r < 3; r++) {
            for (int col = 0; col < 3; col++)
                m[r][col] += x[r] * x[col];
            m[r][3] += x[r] * y[i];
        }
    }
    /* Gauss-Jordan on the 3x3 normal equations. */
    for (int col = 0; col < 3; col++) {
        double pv = m[col][col];
        if (!(fabs(pv) > 1e-12))
            return HUGE_VAL;
        for (int j = col; j < 4; j++)
            m[col][j] /= pv;
        for (int r = 0; r < 3; r++) {
            double q = m[r][col];
            if (r == col)
                continue;
            for (int j = col; j < 4; j++)
                m[r][j] -= q * m[col][j];
        }
    }
    *a = m[0][3];
    *b = m[1][3];
    *k = m[2][3];
    for (int i = 0; i < n; i++) {
        double e = y[i] - *a - *b * d->t[i] - *k * (d->t[i] > kt ? d->t[i] - kt : 0);
        sse += e * e;
    }
    return sse;
}

/* Two lines joined at a knee: the knee is searched halfway between levels,
 * with at least 3 levels on each side (the second line is where the wear is
 * now). Returns 0, or -1 with fewer than 6 levels. */
static int fit_knee(const rule__data_t *d, const double *y, int n, rule__fit_t *f)
{
    double best = HUGE_VAL, a = 0, b = 0, k = 0;

    for (int i = 3; i + 3 <= n; i++) {
        double kt = 0.5 * (d->t[i - 1] + d->t[i]), sse = knee_at(d, y, n, kt, &a, &b, &k);
        if (sse < best) {
            best = sse;
            *f = (rule__fit_t){.model = RULE_MODEL_KNEE, .a = a, .b = b, .k = k, .kt = kt};
        }
    }
    return best < HUGE_VAL ? 0 : -1;
}

int rule__fit(const rule_trend_cfg_t *c, const rule__data_t *d, const double *y, int n,
              rule_trend_model_t model, const rule__fit_t *near, double *work, rule__fit_t *f)
{
    if (model == RULE_MODEL_LINEAR) {
        /* A replicate of a line is refitted with the line's own weights. */
        double disc = near && near->model == RULE_MODEL_LINEAR ? near->disc : d->disc;
        *f = (rule__fit_t){.model = RULE_MODEL_LINEAR, .disc = disc};
        ts_line(d, y, n, disc, work, &f->a, &f->b);
        return 0;
    }
    if (model == RULE_MODEL_KNEE)
        return fit_knee(d, y, n, f);
    if (near && near->model == RULE_MODEL_EXP)
        return fit_exp(c, d, y, n, near->b / 4, near->b * 4, 7, f);
    return fit_exp(c, d, y, n, RULE__RATE_MIN, RULE__RATE_MAX, 24, f);
}

double rule__fit_at(const rule__fit_t *f, double t)
{
    if (f->model == RULE_MODEL_EXP)
        return f->phi + exp(f->a + f->b * t);
    return f->a + f->b * t + (f->model == RULE_MODEL_KNEE && t > f->kt ? f->k * (t - f->kt) : 0);
}

double rule__fit_slope(const rule__fit_t *f, double t)
{
    if (f->model == RULE_MODEL_EXP)
        return f->b * exp(f->a + f->b * t);
    return f->b + (f->model == RULE_MODEL_KNEE && t > f->kt ? f->k : 0);
}

double rule__fit_crossing(const rule__fit_t *f, double limit, double tnow)
{
    double target = limit, t;

    if (rule__fit_at(f, tnow) >= limit)
        return tnow;
    if (f->model == RULE_MODEL_KNEE && tnow >= f->kt) {
        /* From now on it is the second line. */
        rule__fit_t g = {.model = RULE_MODEL_LINEAR, .a = f->a - f->k * f->kt, .b = f->b + f->k};
        return rule__fit_crossing(&g, limit, tnow);
    }
    if (!(f->b > 0))
        return INFINITY;
    if (f->model == RULE_MODEL_EXP) {
        if (!(limit > f->phi))
            return tnow;
        target = log(limit - f->phi);
    }
    t = (target - f->a) / f->b;
    return isfinite(t) ? fmax(t, tnow) : INFINITY;
}

int rule__onset(const rule__data_t *d, double q, int i0, int i1)
{
    double work[RULE__PAIRS], best = HUGE_VAL;
    int at = i1;

    for (int i = i0 < 0 ? 0 : i0; i <= i1 && i <= d->n - 3; i++) {
        rule__data_t tail; /* the levels from i on, for their own pair table */
        double a, b, cost = 0;

        tail.n = d->n - i;
        memcpy(tail.t, d->t + i, sizeof(double) * (size_t)tail.n);
        memcpy(tail.y, d->y + i, sizeof(double) * (size_t)tail.n);
        rule__data_prepare(&tail, d->limit);
        ts_line(&tail, tail.y, tail.n, 0, work, &a, &b);
        for (int k = 0; k < i; k++)
            cost += fabs(d->y[k] - q);
        for (int k = i; k < d->n; k++)
            cost += fabs(d->y[k] - a - b * d->t[k]);
        if (cost < best) {
            best = cost;
            at = i;
        }
    }
    return at;
}
