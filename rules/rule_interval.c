/*
 * rule_interval.c: how sure the trend rule is of its date (rules/rule_int.h):
 * the machine's day-to-day noise, simulated, and the interval of the
 * predicted crossing it gives. Design and measured coverage in
 * docs/prediction.md, and docs/prediction.md.
 *
 * The textbook interval of a line assumes independent residuals and a known
 * curve. Daily levels of a machine are neither: a warm week or a busy week
 * moves several days together (their levels are serially correlated), and an
 * exponential's floor and rate are themselves estimated. So the date's spread
 * is measured, not assumed, by a bootstrap:
 *
 *   1. the noise: the quiet days' levels before the change (the machine's own
 *      wander while healthy, 7 days or more), else the fit's residuals
 *      (scaled by sqrt(n / (n - p)): p parameters were fitted); scaled up to
 *      the residuals' spread when that is larger (a worn machine is often
 *      noisier). For a line weighted to its recent days, the residuals are
 *      weighted like it and n is the weights' effective number of days
 *      (sum w)^2 / sum w^2, in the sd, rho and its error and nu below;
 *   2. its lag-1 autocorrelation rho (corrected for its small-sample bias),
 *      and its innovations u_i = e_i - rho e_(i-1): an AR(1) sieve;
 *   3. each of RULE__BOOT replicates is the fitted curve plus a fresh noise
 *      path: a start drawn from the noise, then x_i = rho^g x_(i-1) + u*
 *      (g the days between two levels, u* an innovation drawn at random), so
 *      a replicate wanders as slowly as the machine does. The noise's sd and
 *      rho are themselves estimated from few days; each replicate draws its
 *      own (sd by the chi-square of nu = ne (1 - rho) / (1 + rho) effective
 *      days, rho by its standard error), as a t interval is wider than a
 *      normal one;
 *   4. each replicate is refitted with the same model and weights (an
 *      exponential also searches its rate and floor again, against a healthy
 *      level redrawn by the standard error of the quiet days' mean: its
 *      floor may not exceed it) and gives its own crossing date, or none;
 *      the interval is their (1 - conf) / 2 and (1 + conf) / 2
 *      quantiles; "latest" is beyond when more replicates than that never
 *      cross.
 *
 * The draws come from a xorshift generator seeded by the caller (per rule and
 * day), so a replay gives the same dates every time. Cost: RULE__BOOT fits
 * of at most 64 levels per day close of a trend that is predicting (none for
 * a healthy machine).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t rule__rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* A standard normal draw (Box-Muller). */
static double normal(uint64_t *s)
{
    double u = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rule__quantile(const double *x, int m, double p)
{
    double h = p * (m - 1);
    int i = (int)floor(h);

    if (i >= m - 1)
        return x[m - 1];
    if (isinf(x[i + 1]))
        return h - i > 0 ? x[i + 1] : x[i];
    return x[i] + (h - i) * (x[i + 1] - x[i]);
}

void rule__sort(double *x, int m)
{
    qsort(x, (size_t)m, sizeof(*x), cmp_double);
}

double rule__lag1(const double *x, int n, double *sd)
{
    double num = 0, den = 0, r;

    for (int i = 0; i < n; i++) {
        den += x[i] * x[i];
        if (i + 1 < n)
            num += x[i] * x[i + 1];
    }
    *sd = n > 1 ? sqrt(den / (n - 1)) : 0;
    r = den > 0 ? num / den : 0;
    r += (1 + 3 * r) / n; /* the estimate is biased low by about that */
    return r < 0 ? 0 : r > 0.9 ? 0.9 : r;
}

/* Clip x[0..n) to its median +/- 2.5 robust sds (1.4826 * the median
 * absolute deviation) and centre it: a day of knocks or of a stuck sensor
 * is not the machine's wander, and must not widen every interval. */
static void winsorize(double *x, int n)
{
    double v[RULE_TREND_MAX_DAYS + RULE_TREND_QUIET], med, mad, mean = 0;

    if (n < 4)
        return;
    memcpy(v, x, sizeof(double) * (size_t)n);
    med = rule__median(v, n);
    for (int i = 0; i < n; i++)
        v[i] = fabs(x[i] - med);
    mad = 1.4826 * rule__median(v, n);
    for (int i = 0; i < n; i++) {
        x[i] = mad > 0 ? fmin(fmax(x[i], med - 2.5 * mad), med + 2.5 * mad) : x[i];
        mean += x[i] / n;
    }
    for (int i = 0; i < n; i++)
        x[i] -= mean;
}

/* Lag-1 autocorrelation of x[0..n) with weights w (a pair by sqrt(w_i
 * w_i+1)), corrected for its small-sample bias over neff effective levels
 * and bounded to [0, 0.9]; *sd the weighted standard deviation. */
static double lag1_w(const double *x, const double *w, int n, double neff, double *sd)
{
    double num = 0, den = 0, sw = 0, r;

    for (int i = 0; i < n; i++) {
        den += w[i] * x[i] * x[i];
        sw += w[i];
        if (i + 1 < n)
            num += sqrt(w[i] * w[i + 1]) * x[i] * x[i + 1];
    }
    *sd = sw > 0 && neff > 1 ? sqrt(den / sw * neff / (neff - 1)) : 0;
    r = den > 0 ? num / den : 0;
    r += (1 + 3 * r) / neff;
    return r < 0 ? 0 : r > 0.9 ? 0.9 : r;
}

void rule__noise_prepare(const rule_trend_cfg_t *c, const rule__data_t *d, const rule__fit_t *f,
                         rule__noise_t *nz)
{
    int n = d->n, p = f->model == RULE_MODEL_EXP && !c->floor_set ? 3 : 2;
    double r[RULE_TREND_MAX_DAYS] = {0}, w[RULE_TREND_MAX_DAYS], mean = 0, sw = 0;
    double rsd, qsd, k, um = 0, neff, scale;
    /* A line weighted to its recent days: its residuals by the same weights,
     * over the effective number of levels behind them. */
    double disc = f->model == RULE_MODEL_LINEAR ? f->disc : 0;

    neff = rule__weights(d, n, disc, w);
    scale = neff > p ? sqrt(neff / (neff - p)) : 1;
    for (int i = 0; i < n; i++) {
        r[i] = d->y[i] - rule__fit_at(f, d->t[i]);
        mean += w[i] * r[i];
        sw += w[i];
    }
    mean /= sw;
    for (int i = 0; i < n; i++)
        r[i] = (r[i] - mean) * scale;
    winsorize(r, n);
    if (disc > 0) {
        double usd;
        nz->rho = lag1_w(r, w, n, neff, &rsd);
        rule__lag1(r, n, &usd);
        for (int i = 0; i < n && usd > 0; i++)
            r[i] *= rsd / usd; /* the pool drawn from, at the weighted sd */
    } else {
        nz->rho = rule__lag1(r, n, &rsd);
    }
    nz->quiet = d->nquiet >= 7;
    if (!nz->quiet) {
        memcpy(nz->e, r, sizeof(double) * (size_t)n);
        nz->ne = n;
        nz->sd = rsd;
    } else {
        memcpy(nz->e, d->quiet, sizeof(double) * (size_t)d->nquiet);
        winsorize(nz->e, d->nquiet);
        nz->rho = rule__lag1(nz->e, d->nquiet, &qsd);
        k = qsd > 0 && rsd > qsd ? rsd / qsd : 1;
        for (int i = 0; i < d->nquiet; i++)
            nz->e[i] *= k;
        nz->ne = d->nquiet;
        nz->sd = qsd * k;
        neff = d->nquiet;
    }
    for (int i = 1; i < nz->ne; i++) {
        nz->u[i - 1] = nz->e[i] - nz->rho * nz->e[i - 1];
        um += nz->u[i - 1] / (nz->ne - 1);
    }
    for (int i = 0; i < nz->ne - 1; i++)
        nz->u[i] -= um;
    nz->nu = fmax(2, neff * (1 - nz->rho) / (1 + nz->rho));
    nz->rho_sd = sqrt((1 - nz->rho * nz->rho) / neff);
}

void rule__noise_draw(const rule__noise_t *nz, const rule__data_t *d, const double *base,
                      double *ys, uint64_t *rng)
{
    double z = normal(rng), w = 1 - 2 / (9 * nz->nu) + z * sqrt(2 / (9 * nz->nu));
    double r = nz->rho + nz->rho_sd * normal(rng), chi, scale, x;

    /* This replicate's sd and rho: sd * sqrt(nu / chi2_nu) (Wilson-Hilferty
     * for the chi-square), the innovations rescaled to keep it under r. */
    r = r < 0 ? 0 : r > 0.95 ? 0.95 : r;
    chi = sqrt(fmax(w * w * w, 0.05));
    scale = sqrt((1 - r * r) / (1 - nz->rho * nz->rho)) / chi;
    x = nz->e[rule__rand(rng) % (uint64_t)nz->ne] / chi;
    ys[0] = base[0] + x;
    for (int i = 1; i < d->n; i++) {
        double dec = pow(r, d->t[i] - d->t[i - 1]), gain = sqrt((1 - dec * dec) / (1 - r * r));
        if (nz->ne > 1)
            x = dec * x + gain * scale * nz->u[rule__rand(rng) % (uint64_t)(nz->ne - 1)];
        ys[i] = base[i] + x;
    }
}

/* reps replicates of curve f plus its noise into cross[*m..]; report: f's
 * noise figures go into iv. */
static void replicate(const rule_trend_cfg_t *c, const rule__data_t *d, const rule__fit_t *f,
                      int reps, int report, double tnow, uint64_t *s, double *cross, int *m,
                      rule__interval_t *iv)
{
    double base[RULE_TREND_MAX_DAYS], ys[RULE_TREND_MAX_DAYS], work[RULE__PAIRS];
    rule__noise_t nz;
    rule__fit_t g;
    double qsd;
    int anchored;

    rule__noise_prepare(c, d, f, &nz);
    anchored = f->model == RULE_MODEL_EXP && !c->floor_set && isfinite(d->q) && d->nquiet > 0;
    qsd = anchored ? nz.sd * sqrt((1 + nz.rho) / (1 - nz.rho) / d->nquiet) : 0;
    if (report) {
        iv->rho = nz.rho;
        iv->sd = nz.sd;
        iv->quiet = nz.quiet;
    }
    for (int i = 0; i < d->n; i++)
        base[i] = rule__fit_at(f, d->t[i]);
    for (int b = 0; b < reps; b++) {
        double dq = 0;
        rule__noise_draw(&nz, d, base, ys, s);
        if (anchored) {
            /* The healthy level is itself a mean of wandering days: the
             * replicate's is off by dq, its curve and levels with it. */
            dq = qsd * normal(s);
            for (int i = 0; i < d->n; i++)
                ys[i] -= dq;
        }
        if (rule__fit(c, d, ys, d->n, f->model, f, work, &g) != 0)
            continue; /* no growing curve through this replicate */
        cross[*m] = rule__fit_crossing(&g, d->limit - dq, tnow);
        iv->never += isinf(cross[*m]);
        (*m)++;
    }
}

void rule__interval(const rule_trend_cfg_t *c, const rule__data_t *d, const rule__fit_t *mix,
                    const double *w, int nmix, double tnow, uint64_t seed, rule__interval_t *iv)
{
    double cross[RULE__BOOT], alpha = (1 - c->confidence) / 2;
    uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ULL;
    int m = 0, left = RULE__BOOT;

    iv->never = 0;
    for (int k = nmix - 1; k >= 0; k--) { /* mix[0] last: it takes what is left */
        int reps = k ? (int)lround(w[k] * RULE__BOOT) : left;
        reps = reps > left ? left : reps;
        left -= reps;
        replicate(c, d, &mix[k], reps, k == 0, tnow, &s, cross, &m, iv);
    }
    iv->reps = m;
    if (m == 0) {
        iv->lo = iv->hi = INFINITY;
        return;
    }
    rule__sort(cross, m);
    iv->lo = rule__quantile(cross, m, alpha);
    iv->hi = rule__quantile(cross, m, 1 - alpha);
}
