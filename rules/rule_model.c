/*
 * rule_model.c: which curve a trend rule believes (rules/rule_int.h): with
 * model "auto", the line unless another shape is clearly better. Design and
 * measured results in docs/prediction.md.
 *
 * A curve with more parameters always fits the days it was fitted to at
 * least as well as a line, so "smaller residuals" is no test. Instead each
 * shape (exponential, knee) is judged by its gain: the share of the line's
 * squared residuals it does without. The same gain is measured on RULE__NULL
 * simulated lines: the fitted line plus this machine's own day-to-day noise
 * (rule_interval.c), refitted with every shape. That is what the extra
 * parameters buy by chance on data that truly is a line; a shape is
 * favoured only when its real gain exceeds the 90th percentile of those
 * (a parametric-bootstrap test: the extra parameters pay for themselves).
 * The model in use changes only after RULE__SWITCH_DAYS day closes in a
 * row favour another, so a day's wiggle does not swing the date. Auto judges
 * a curve only with 2 * min_days levels since the change; before, a line.
 */
#include "rules/rule_int.h"

#include <math.h>
#include <string.h>

/* Squared residuals of f over the levels y at d's days. */
static double sse_of(const rule__data_t *d, const double *y, const rule__fit_t *f)
{
    double sse = 0;

    for (int i = 0; i < d->n; i++) {
        double e = y[i] - rule__fit_at(f, d->t[i]);
        sse += e * e;
    }
    return sse;
}

/* The gains of the exponential and the knee over the line on levels y: the
 * share of the line's squared residuals each does without; -1 for a shape
 * that does not fit. */
static void gains_of(const rule_trend_cfg_t *c, const rule__data_t *d, const double *y,
                     double *work, rule__fit_t fits[3], double g[2])
{
    double sl;

    rule__fit(c, d, y, d->n, RULE_MODEL_LINEAR, NULL, work, &fits[0]);
    sl = sse_of(d, y, &fits[0]);
    for (int m = 0; m < 2; m++) {
        rule_trend_model_t model = m ? RULE_MODEL_KNEE : RULE_MODEL_EXP;
        if (rule__fit(c, d, y, d->n, model, NULL, work, &fits[m + 1]) != 0)
            g[m] = -1;
        else
            g[m] = sl > 0 ? 1 - sse_of(d, y, &fits[m + 1]) / sl : 0;
    }
}

/* Which shape today's test favours: the one whose gain exceeds what a line
 * gives it by chance by the most, else the line. */
static rule_trend_model_t favoured(const rule__choice_t *ch)
{
    double best = 0;
    rule_trend_model_t m = RULE_MODEL_LINEAR;

    for (int i = 0; i < 2; i++)
        if (ch->gain[i] - ch->chance[i] > best) {
            best = ch->gain[i] - ch->chance[i];
            m = i ? RULE_MODEL_KNEE : RULE_MODEL_EXP;
        }
    return m;
}

int rule__choose(const rule_trend_cfg_t *c, const rule__data_t *d, uint64_t seed, int prev,
                 int streak, rule__choice_t *ch, rule__fit_t *f)
{
    double work[RULE__PAIRS], base[RULE_TREND_MAX_DAYS], ys[RULE_TREND_MAX_DAYS];
    double nulls[2][RULE__NULL], g[2];
    uint64_t s = seed ^ 0x5851f42d4c957f2dULL;
    rule__fit_t fits[3], other[3];
    rule__noise_t nz;

    memset(ch, 0, sizeof(*ch));
    ch->gain[0] = ch->gain[1] = ch->chance[0] = ch->chance[1] = NAN;
    if (c->model != RULE_MODEL_AUTO) {
        ch->model = c->model;
        ch->why = RULE_WHY_CONFIGURED;
        return rule__fit(c, d, d->y, d->n, c->model, NULL, work, f);
    }
    ch->model = RULE_MODEL_LINEAR;
    ch->why = RULE_WHY_FEW_DAYS;
    if (d->n < 2 * c->min_days)
        return rule__fit(c, d, d->y, d->n, RULE_MODEL_LINEAR, NULL, work, f);
    gains_of(c, d, d->y, work, fits, ch->gain);
    *f = fits[0];
    /* What the shapes gain on lines with this machine's noise. */
    rule__noise_prepare(c, d, &fits[0], &nz);
    for (int i = 0; i < d->n; i++)
        base[i] = rule__fit_at(&fits[0], d->t[i]);
    for (int b = 0; b < RULE__NULL; b++) {
        rule__noise_draw(&nz, d, base, ys, &s);
        gains_of(c, d, ys, work, other, g);
        nulls[0][b] = g[0];
        nulls[1][b] = g[1];
    }
    for (int m = 0; m < 2; m++) {
        rule__sort(nulls[m], RULE__NULL);
        ch->chance[m] = rule__quantile(nulls[m], RULE__NULL, 0.9);
        if (ch->gain[m] < 0)
            ch->gain[m] = NAN; /* no such shape fits: never favoured */
    }
    /* The model in use changes only when the test has favoured another on
     * RULE__SWITCH_DAYS day closes in a row: a day's chance wiggle must not
     * swing the date (and, a curve's date being the earlier, open the order
     * on the one day the wiggle looked like a curve). */
    ch->favoured = favoured(ch);
    ch->model = prev == RULE_MODEL_EXP || prev == RULE_MODEL_KNEE ? (rule_trend_model_t)prev
                                                                  : RULE_MODEL_LINEAR;
    ch->streak = ch->favoured == ch->model ? 0 : streak + 1;
    if (ch->streak >= RULE__SWITCH_DAYS) {
        ch->model = ch->favoured;
        ch->streak = 0;
    }
    ch->why = ch->model == RULE_MODEL_LINEAR ? RULE_WHY_LINE_SUFFICES : RULE_WHY_CURVE_SIGNIFICANT;
    if (ch->model != RULE_MODEL_LINEAR) {
        int m = ch->model == RULE_MODEL_KNEE ? 2 : 1;
        if (isnan(ch->gain[m - 1])) {
            ch->model = RULE_MODEL_LINEAR; /* the shape in use no longer fits */
            ch->why = RULE_WHY_NO_CURVE;
        } else {
            *f = fits[m];
        }
    }
    return 0;
}
