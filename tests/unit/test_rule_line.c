/*
 * test_rule_line.c: the trend rule's line weighted to its recent days
 * (`line_half_life_days`; rules/rule_fit.c, rules/rule_interval.c) and the
 * honesty of its interval: the weighted median; a weighted line follows the
 * pace the wear has now where a plain one averages every day since the
 * onset; every refit of the interval's simulated histories is weighted
 * exactly as the line it replicates (so the interval of a weighted line is
 * as wide as a weighted line is unsure, and holds the true date about as
 * often as it says); the noise behind it counts the effective days of the
 * weights, not the levels; the config key reaches the rule's fit (a knee
 * wear through rule_eval). Design in docs/prediction.md ("The date", "The
 * interval").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"
#include "tests/unit/t.h"

#include <stdint.h>

static double normal(uint64_t *s)
{
    double u = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void trend_cfg(rule_cfg_t *c)
{
    char err[128];

    rule_cfg_defaults(c, RULE_TREND);
    c->u.trend.limit = 4.5;
    T_CHECK_EQ_INT(rule_validate(c, err, sizeof(err)), 0);
}

/* n daily levels at t = 0.5, 1.5, ..: y = 1 + s t, plus AR(1) day-to-day
 * noise (rho, innovations sd) when sd > 0; no quiet days before them. */
static void levels(rule__data_t *d, int n, double s, double rho, double sd, uint64_t *rng)
{
    double x = 0;

    memset(d, 0, sizeof(*d));
    d->n = n;
    d->q = NAN;
    for (int i = 0; i < n; i++) {
        x = rho * x + sd * normal(rng);
        d->t[i] = i + 0.5;
        d->y[i] = 1 + s * d->t[i] + (i == 0 ? x / sqrt(1 - rho * rho) : x);
    }
    rule__data_prepare(d, 4.5);
}

T_TEST(weighted_median)
{
    double v[5] = {3, 1, 5, 2, 4}, w[5] = {1, 1, 10, 1, 1};
    double v2[4] = {4, 1, 3, 2}, w2[4] = {1, 1, 1, 1};
    double v3[6] = {2, 2, 2, 7, 7, 1}, w3[6] = {1, 1, 1, 1, 1, 4};
    double v4[6] = {2, 2, 2, 7, 7, 1}, w4[6] = {1, 1, 1, 1, 1, 5};

    T_CHECK_NEAR(rule__wmedian(v, w, 5), 5, 0);   /* the heavy one */
    T_CHECK_NEAR(rule__wmedian(v2, w2, 4), 2, 0); /* alike: the lower median */
    T_CHECK_NEAR(rule__wmedian(v3, w3, 6), 2, 0); /* ties: 4 of 9 on 1, the rest from 2 */
    T_CHECK_NEAR(rule__wmedian(v4, w4, 6), 1, 0); /* half the weight on 1 */
}

/* Wear that quickened: 0.02 a day for 20 days, then 0.1 a day for 10. The
 * plain Theil-Sen line takes the median of every pair's slope (most pairs
 * straddle the slow days); weighted to the recent days (half-life 7 days)
 * it follows the fast part more (the pairs across the knee still count). A replicate refitted on
 * data whose own discount is 0 still uses the line's (near's) discount. */
T_TEST(weighted_line_follows_the_recent_pace)
{
    rule_cfg_t c;
    rule__data_t d;
    rule__fit_t plain, recent, again;
    double work[RULE__PAIRS];
    uint64_t rng = 7;

    trend_cfg(&c);
    levels(&d, 30, 0, 0, 0, &rng);
    for (int i = 0; i < d.n; i++)
        d.y[i] = 1 + 0.02 * d.t[i] + (d.t[i] > 20 ? 0.08 * (d.t[i] - 20) : 0);
    T_CHECK_EQ_INT(rule__fit(&c.u.trend, &d, d.y, d.n, RULE_MODEL_LINEAR, NULL, work, &plain), 0);
    d.disc = log(2) / 7;
    T_CHECK_EQ_INT(rule__fit(&c.u.trend, &d, d.y, d.n, RULE_MODEL_LINEAR, NULL, work, &recent), 0);
    fprintf(stderr, "  slope per day: plain %.4f, half-life 7 days %.4f (now 0.1)\n", plain.b,
            recent.b);
    T_CHECK(plain.b < 0.035);
    T_CHECK(recent.b > 1.5 * plain.b);
    T_CHECK_NEAR(recent.disc, log(2) / 7, 1e-12);
    /* Nearer the latest level than the plain line. */
    T_CHECK(fabs(rule__fit_at(&recent, d.t[d.n - 1]) - d.y[d.n - 1]) <
            0.5 * fabs(rule__fit_at(&plain, d.t[d.n - 1]) - d.y[d.n - 1]));
    d.disc = 0;
    T_CHECK_EQ_INT(rule__fit(&c.u.trend, &d, d.y, d.n, RULE_MODEL_LINEAR, &recent, work, &again),
                   0);
    T_CHECK_NEAR(again.b, recent.b, 1e-12);
    T_CHECK_NEAR(again.a, recent.a, 1e-12);
}

/* The 80 % interval of the crossing of a linear wear (0.06 a day from 1,
 * the limit 4.5 crossed at day 58.3; 40 levels, AR(1) noise) by a line
 * weighted to its recent days (half-life 7 days), over 120 histories of
 * the noise: it holds the true date in 72-90 % of them (95 when measured),
 * and it is a quarter wider than the plain line's on the same histories (a
 * weighted line stands on fewer effective days; 1.37 times when measured).
 * With the simulated histories refitted by a plain line it was 1.17 times
 * as wide and held the truth 81 times (68 %). */
T_TEST(weighted_line_interval_is_honest)
{
    const double truth = 3.5 / 0.06;
    rule_cfg_t c;
    rule__data_t d;
    double work[RULE__PAIRS], w1 = 1, wsum[2] = {0, 0};
    int held[2] = {0, 0}, trials = 120;
    uint64_t rng = 11;

    trend_cfg(&c);
    for (int k = 0; k < trials; k++) {
        levels(&d, 40, 0.06, 0.5, 0.08, &rng);
        for (int m = 0; m < 2; m++) {
            rule__fit_t f;
            rule__interval_t iv;
            d.disc = m ? log(2) / 7 : 0;
            T_CHECK_EQ_INT(rule__fit(&c.u.trend, &d, d.y, d.n, RULE_MODEL_LINEAR, NULL, work, &f),
                           0);
            rule__interval(&c.u.trend, &d, &f, &w1, 1, 40, 1000 + (uint64_t)k, &iv);
            held[m] += iv.lo <= truth && truth <= iv.hi;
            wsum[m] += isfinite(iv.hi) ? iv.hi - iv.lo : 100;
        }
    }
    fprintf(stderr,
            "  80 %% interval over %d histories: plain line holds the truth %d times, mean width "
            "%.1f days; half-life 7 days %d times, %.1f days\n",
            trials, held[0], wsum[0] / trials, held[1], wsum[1] / trials);
    T_CHECK(held[1] >= 0.72 * trials && held[1] <= 0.90 * trials);
    T_CHECK(wsum[1] > 1.25 * wsum[0]);
}

/* The noise behind a weighted line's interval, from its residuals: its sd
 * weighted like the line (the recent days' noise, not the old days'), and
 * its degrees of freedom and the error of its day-to-day correlation from
 * the effective number of days of the weights, not the count of levels. */
T_TEST(weighted_noise_counts_effective_days)
{
    rule_cfg_t c;
    rule__data_t d;
    rule__noise_t plain, recent;
    rule__fit_t f = {.model = RULE_MODEL_LINEAR, .a = 1, .b = 0.05};
    double w[RULE_TREND_MAX_DAYS], neff;
    uint64_t rng = 5;

    trend_cfg(&c);
    levels(&d, 40, 0.05, 0, 0, &rng);
    for (int i = 0; i < d.n; i++) /* noisy old days, calm recent ones */
        d.y[i] += (i < 20 ? 0.2 : 0.05) * normal(&rng);
    rule__noise_prepare(&c.u.trend, &d, &f, &plain);
    f.disc = log(2) / 7;
    rule__noise_prepare(&c.u.trend, &d, &f, &recent);
    neff = rule__weights(&d, d.n, f.disc, w);
    fprintf(stderr,
            "  noise: plain sd %.3f, nu %.1f; half-life 7 days sd %.3f, nu %.1f (%.1f effective "
            "days)\n",
            plain.sd, plain.nu, recent.sd, recent.nu, neff);
    T_CHECK(neff > 10 && neff < 25);
    T_CHECK(recent.sd < 0.75 * plain.sd);
    T_CHECK_NEAR(recent.nu, fmax(2, neff * (1 - recent.rho) / (1 + recent.rho)), 1e-9);
    T_CHECK_NEAR(recent.rho_sd, sqrt((1 - recent.rho * recent.rho) / neff), 1e-9);
    T_CHECK(recent.nu < 0.7 * plain.nu);
}

/* Through the rule (rule_eval, `line_half_life_days` in its config): a
 * machine healthy for 20 days, wearing 0.02 mm/s a day for 20, then 0.12
 * (crossing 4.5 on day 64.2), a reading every 10 minutes with noise, model
 * linear. Returns the slope of the line at the first order, and its date's
 * error in days into *err. */
static double knee_order(double half_life, double *err)
{
    const int64_t t0 = 1767225600000LL, step = 600000, day = 86400000;
    const double truth = 40 + 2.9 / 0.12;
    rule_cfg_t c;
    rule_state_t st;
    uint64_t rng = 99;
    char e[128];

    trend_cfg(&c);
    c.u.trend.model = RULE_MODEL_LINEAR;
    c.u.trend.line_half_life = half_life;
    T_CHECK_EQ_INT(rule_validate(&c, e, sizeof(e)), 0);
    rule_init(&c, &st);
    for (int64_t ts = t0; ts < t0 + 64 * day; ts += step) {
        double d = (double)(ts - t0) / day;
        double wear = d < 20 ? 0 : d < 40 ? 0.02 * (d - 20) : 0.4 + 0.12 * (d - 40);
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = ts,
                         .value = 1.2 + wear + 0.1 * normal(&rng),
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_action_t a;
        if (rule_eval(&c, &st, &s, &a) == RULE_ACT_OPEN) {
            *err = (double)(a.predicted_ms - t0) / day - truth;
            return a.slope_per_day;
        }
    }
    *err = NAN;
    return NAN;
}

/* The key reaches the fit: the same knee wear, the plain line and one with
 * a half-life of 7 days; the weighted line's slope at the order is nearer
 * the 0.12 a day the wear has then, and its date nearer the truth. */
T_TEST(half_life_reaches_the_rule)
{
    double e0, e7, b0 = knee_order(0, &e0), b7 = knee_order(7, &e7);

    fprintf(stderr,
            "  knee wear, model linear: slope at the order %.3f a day (date %+.1f days off) "
            "plain, %.3f (%+.1f) with a half-life of 7 days\n",
            b0, e0, b7, e7);
    T_CHECK(isfinite(b0) && isfinite(b7));
    T_CHECK(b7 > b0 + 0.01);
    T_CHECK(fabs(e7) < fabs(e0));
}

T_TEST(validate_half_life)
{
    rule_cfg_t c;
    char err[128];

    trend_cfg(&c);
    T_CHECK_NEAR(c.u.trend.line_half_life, 0, 0); /* off by default */
    c.u.trend.line_half_life = 23;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    c.u.trend.line_half_life = 0.5;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), GW_EINVAL);
    T_CHECK(strstr(err, "line_half_life_days") != NULL);
    c.u.trend.line_half_life = NAN;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), GW_EINVAL);
}

int main(void)
{
    T_RUN(weighted_median);
    T_RUN(weighted_line_follows_the_recent_pace);
    T_RUN(weighted_line_interval_is_honest);
    T_RUN(weighted_noise_counts_effective_days);
    T_RUN(half_life_reaches_the_rule);
    T_RUN(validate_half_life);
    return t_done();
}
