/*
 * rule_model.c: which curve a trend rule believes (rules/rule_int.h): with
 * model "auto", the line unless another shape forecasts clearly better.
 * Design and measured results in docs/prediction.md.
 *
 * A curve with more parameters always fits the days it was fitted to at
 * least as well as a line, so "smaller residuals" is no test. The test is
 * out of sample, by rolling origin: each shape (line, exponential, knee) is
 * fitted to the first k daily levels only and forecasts the later ones, for
 * the latest RULE__OOS_ORIGINS (8) origins k (at least half the levels, all
 * but the last); its error is the sum of its misses. The latest origins
 * judge the shape the wear has now (a knee's second line is not in the
 * early origins, and a fit since the onset has many). A curve is favoured
 * only when it saves at least RULE__OOS_MARGIN (30 %) of the line's error:
 * its extra parameter must pay for itself in forecasts, not in fit. The
 * model in use changes after RULE__SWITCH_DAYS day closes favour another
 * (1: measured on the wear matrix, waiting 3 kept a shape the wear had
 * left and cost accuracy). Auto judges a curve only with RULE__CURVE_DAYS
 * (12) levels since the change; before, a line. A knee only days old is
 * judged again on the origins whose fit holds it and 3 levels after it
 * (the earlier origins could not forecast a change of pace that had not
 * happened yet), when its bend stands RULE__KNEE_BEND (15) times above the
 * quiet days' wander. The evidence's words for each reason are here too.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"

#include <math.h>
#include <string.h>

#define RULE__MIX 0.25 /* share of the replicates shared among the shapes */

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

/* Out-of-sample: rolling-origin forecasts. For each origin k of the
 * latest RULE__OOS_ORIGINS, from at least half the levels (and 6, a knee's
 * least) to all but one, each shape is
 * fitted to the first k levels and forecasts every later one; its error is
 * the sum of the absolute misses. g[m] is the share of the line's error the
 * exponential [0] and the knee [1] do without (negative: worse than the
 * line; NAN: the shape did not fit at some origin); ga[m] the same over
 * the origins with the levels from the knee kt on, and 3 after it, in
 * their fit (nafter of them; NAN when none). */
static void oos_gains(const rule_trend_cfg_t *c, const rule__data_t *d, double kt, double *work,
                      double g[2], double ga[2], int *nafter)
{
    static const rule_trend_model_t shape[3] = {RULE_MODEL_LINEAR, RULE_MODEL_EXP, RULE_MODEL_KNEE};
    double err[3] = {0, 0, 0}, after[3] = {0, 0, 0};
    int k0 = d->n / 2 > 6 ? d->n / 2 : 6, ki = d->n;
    if (d->n - RULE__OOS_ORIGINS > k0)
        k0 = d->n - RULE__OOS_ORIGINS;
    for (int i = 0; i < d->n; i++)
        if (d->t[i] > kt) {
            ki = i;
            break;
        }
    *nafter = 0;
    for (int k = k0; k < d->n; k++) {
        int post = k - 3 >= ki;
        *nafter += post;
        for (int m = 0; m < 3; m++) {
            rule__fit_t f;
            double e = 0;
            if (isnan(err[m]))
                continue;
            if (rule__fit(c, d, d->y, k, shape[m], NULL, work, &f) != 0) {
                err[m] = after[m] = NAN;
                continue;
            }
            for (int j = k; j < d->n; j++)
                e += fabs(d->y[j] - rule__fit_at(&f, d->t[j]));
            err[m] += e;
            after[m] += post ? e : 0;
        }
    }
    for (int m = 0; m < 2; m++) {
        g[m] = isnan(err[m + 1]) || k0 >= d->n ? NAN : err[0] > 0 ? 1 - err[m + 1] / err[0] : 0;
        ga[m] = isnan(after[m + 1]) || !*nafter ? NAN
                : after[0] > 0                  ? 1 - after[m + 1] / after[0]
                                                : 0;
    }
}

/* Which shape today's test favours: the one whose out-of-sample gain
 * exceeds the margin it must pay for its extra parameter by the most, else
 * the line; when both curves pass, the exponential only with a gain
 * RULE__EXP_EDGE over the knee's. */
static rule_trend_model_t favoured(const rule__choice_t *ch)
{
    double best = 0;
    rule_trend_model_t m = RULE_MODEL_LINEAR;

    for (int i = 0; i < 2; i++)
        if (ch->gain[i] - ch->chance[i] > best) {
            best = ch->gain[i] - ch->chance[i];
            m = i ? RULE_MODEL_KNEE : RULE_MODEL_EXP;
        }
    /* Both pass, the exponential only a little better: the knee (its second
     * line is the pace the wear has now; the exponential bends to a knee's
     * levels as well and then dates it weeks early). */
    if (m == RULE_MODEL_EXP && rule__contested(ch) && ch->gain[0] - ch->gain[1] < RULE__EXP_EDGE)
        m = RULE_MODEL_KNEE;
    return m;
}

/* A knee the test over every origin misses because it is recent: at the
 * origins before it (or with fewer than 3 levels after it) no shape could
 * forecast the change of pace, and those origins dilute the knee's gain. 1
 * when, over the origins with the knee and 3 levels after it in the fit (at
 * least RULE__KNEE_ORIGINS of them), the knee k saves the margin of the
 * line's error, is no worse than the line over every origin, and its bend
 * (the second line's rise above the first's, by the latest level) is at
 * least RULE__KNEE_BEND times the day-to-day wander of the quiet days: a
 * knee plain in the data, not a steep second line made of a few noisy
 * levels. */
static int knee_since(const rule__choice_t *ch, const rule__data_t *d, const rule__fit_t *k)
{
    double ss = 0, sd;

    if (ch->nafter < RULE__KNEE_ORIGINS || !(ch->gain[1] > 0) ||
        !(ch->gain_after[1] > ch->chance[1]) || d->nquiet < 2)
        return 0;
    for (int i = 0; i < d->nquiet; i++)
        ss += d->quiet[i] * d->quiet[i];
    sd = sqrt(ss / (d->nquiet - 1));
    return k->k * (d->t[d->n - 1] - k->kt) > RULE__KNEE_BEND * sd;
}

/* The curves the interval draws from: the model in use f alone, or (mixed:
 * model_uncertainty) 3/4 of the replicates from f and 1/4 shared by every
 * shape auto judged (line, exponential, knee; f's own among them) in
 * inverse proportion to the 4th power of its out-of-sample error. A shape that forecast as well as
 * the one in use widens the interval as much as it disagrees with it; one that forecast badly
 * barely counts. */
static void mix_of(rule__choice_t *ch, const rule__fit_t fits[3], const rule__fit_t *f, int mixed)
{
    double inv[3], sum = 0;

    ch->mix[0] = *f;
    ch->w[0] = 1;
    ch->nmix = 1;
    if (!fits || !mixed)
        return;
    for (int m = 0; m < 3; m++) {
        double r = m == 0 ? 1 : 1 - ch->gain[m - 1];
        inv[m] = isfinite(r) && r > 0 ? 1 / (r * r * r * r) : 0;
        sum += inv[m];
    }
    ch->w[0] = 1 - RULE__MIX;
    for (int m = 0; m < 3; m++) {
        if (fits[m].model == f->model)
            ch->w[0] += RULE__MIX * inv[m] / sum;
        else if (inv[m] > 0) {
            ch->mix[ch->nmix] = fits[m];
            ch->w[ch->nmix++] = RULE__MIX * inv[m] / sum;
        }
    }
}

int rule__choose(const rule_trend_cfg_t *c, const rule__data_t *d, int prev, int streak,
                 rule__choice_t *ch, rule__fit_t *f)
{
    double work[RULE__PAIRS], g[2];
    rule__fit_t fits[3];
    int rc;

    memset(ch, 0, sizeof(*ch));
    ch->gain[0] = ch->gain[1] = ch->chance[0] = ch->chance[1] = NAN;
    if (c->model != RULE_MODEL_AUTO) {
        ch->model = c->model;
        ch->why = RULE_WHY_CONFIGURED;
        rc = rule__fit(c, d, d->y, d->n, c->model, NULL, work, f);
        mix_of(ch, NULL, f, 0);
        return rc;
    }
    ch->model = RULE_MODEL_LINEAR;
    ch->why = RULE_WHY_FEW_DAYS;
    if (d->n < RULE__CURVE_DAYS) {
        rc = rule__fit(c, d, d->y, d->n, RULE_MODEL_LINEAR, NULL, work, f);
        mix_of(ch, NULL, f, 0);
        return rc;
    }
    gains_of(c, d, d->y, work, fits, g);
    *f = fits[0];
    for (int m = 0; m < 3; m++) {
        ch->fitted[m] = m == 0 || g[m - 1] >= 0;
        if (ch->fitted[m])
            ch->fits[m] = fits[m]; /* a shape that did not fit left fits[m] unset */
    }
    oos_gains(c, d, ch->fitted[2] ? fits[2].kt : INFINITY, work, ch->gain, ch->gain_after,
              &ch->nafter);
    for (int m = 0; m < 2; m++) {
        ch->chance[m] = RULE__OOS_MARGIN;
        if (g[m] < 0)
            ch->gain[m] = NAN; /* no such shape fits the whole window */
    }
    /* The model in use changes only when the test has favoured another on
     * RULE__SWITCH_DAYS day closes in a row: a day's chance wiggle must not
     * swing the date (and, a curve's date being the earlier, open the order
     * on the one day the wiggle looked like a curve). */
    ch->favoured = favoured(ch);
    if (ch->favoured == RULE_MODEL_LINEAR && knee_since(ch, d, &fits[2]))
        ch->favoured = RULE_MODEL_KNEE;
    ch->model = prev == RULE_MODEL_EXP || prev == RULE_MODEL_KNEE ? (rule_trend_model_t)prev
                                                                  : RULE_MODEL_LINEAR;
    ch->streak = ch->favoured == ch->model ? 0 : streak + 1;
    if (ch->streak >= RULE__SWITCH_DAYS) {
        ch->model = ch->favoured;
        ch->streak = 0;
    }
    ch->why = ch->model == RULE_MODEL_LINEAR ? RULE_WHY_LINE_SUFFICES : RULE_WHY_CURVE_SIGNIFICANT;
    if (ch->model == RULE_MODEL_KNEE && !(ch->gain[1] > ch->chance[1]))
        ch->why = RULE_WHY_KNEE_SINCE;
    if (ch->model != RULE_MODEL_LINEAR) {
        int m = ch->model == RULE_MODEL_KNEE ? 2 : 1;
        if (isnan(ch->gain[m - 1])) {
            ch->model = RULE_MODEL_LINEAR; /* the shape in use no longer fits */
            ch->why = RULE_WHY_NO_CURVE;
        } else {
            *f = fits[m];
        }
    }
    mix_of(ch, fits, f, c->model_uncertainty);
    return 0;
}

void rule__choice_crossings(const rule__choice_t *ch, double limit, double tnow, double far,
                            double cross[3])
{
    for (int m = 0; m < 3; m++) {
        cross[m] = ch->fitted[m] ? rule__fit_crossing(&ch->fits[m], limit, tnow) : NAN;
        cross[m] = cross[m] > far ? INFINITY : cross[m];
    }
}

int rule__contested(const rule__choice_t *ch)
{
    return ch->gain[0] > ch->chance[0] && ch->gain[1] > ch->chance[1];
}

const char *rule_model_why_text(rule_model_why_t w)
{
    switch (w) {
    case RULE_WHY_CONFIGURED:
        return "configured";
    case RULE_WHY_FEW_DAYS:
        return "too few days since the change to judge a curve: a line";
    case RULE_WHY_LINE_SUFFICES:
        return "no other shape forecast the latest days 30 % better than a line: a line";
    case RULE_WHY_CURVE_SIGNIFICANT:
        return "this shape, fitted to the earlier days, forecast the latest ones at least "
               "30 % better than a line";
    case RULE_WHY_NO_CURVE:
        return "no growing exponential curve fits the levels: a line";
    case RULE_WHY_KNEE_SINCE:
        return "the knee is recent: fitted to the earlier days, it forecast the days since it "
               "bent at least 30 % better than a line, and its bend stands far above the "
               "day-to-day wander";
    }
    return "unknown";
}
