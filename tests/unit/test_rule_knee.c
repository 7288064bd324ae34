/*
 * test_rule_knee.c: a recent knee in the trend rule's model test
 * (rules/rule_model.c): a wear whose pace changed six days before is taken for
 * a knee when the knee, judged on the origins with the knee in their fit,
 * forecasts the days since it clearly better than a line and its bend stands
 * far above the day-to-day wander; the test over every origin alone (the
 * origins before the knee dilute its gain) keeps the line and dates the
 * crossing weeks late. Not at high wander, and not on a straight line.
 * Design in docs/prediction.md ("The date", "Why dates miss").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"
#include "tests/unit/t.h"

#include <stdint.h>

#define SEEDS 40

static double normal(uint64_t *s)
{
    double u = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = ((double)(rule__rand(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n daily levels at t = 0.5, 1.5, ..: 1.2 + 0.02 t, and after the knee
 * (after - 0.5 days before the latest; none when after is 0) 0.085 a day
 * more; AR(1) wander (0.7) of stationary sd sd; 14 quiet days before them
 * with the same wander around 1.2. */
static void knee_levels(rule__data_t *d, int n, int after, double sd, uint64_t *rng)
{
    double x = 0, kt = n - after;

    memset(d, 0, sizeof(*d));
    d->n = n;
    d->q = 1.2;
    d->nquiet = 14;
    for (int i = 0; i < 14 + n; i++) {
        x = 0.7 * x + sd * sqrt(1 - 0.49) * normal(rng);
        if (i < 14) {
            d->quiet[i] = x;
            continue;
        }
        d->t[i - 14] = i - 14 + 0.5;
        d->y[i - 14] = 1.2 + 0.02 * d->t[i - 14] + x +
                       (after && d->t[i - 14] > kt ? 0.085 * (d->t[i - 14] - kt) : 0);
    }
    rule__data_prepare(d, 4.5);
}

/* Over SEEDS machines: how many took the knee on the recent-knee test, how
 * many of those the test over every origin alone left to the line, and how
 * many of the knee's dates were within 20 % of the time left. */
static void run(int n, int after, double sd, int *since, int *diluted, int *within)
{
    rule_cfg_t c;
    char err[128];
    uint64_t rng = 0x6b6e6565;

    rule_cfg_defaults(&c, RULE_TREND);
    c.u.trend.limit = 4.5;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    *since = *diluted = *within = 0;
    for (int s = 0; s < SEEDS; s++) {
        rule__data_t d;
        rule__choice_t ch;
        rule__fit_t f;
        double tnow, truth, cross;

        knee_levels(&d, n, after, sd, &rng);
        T_CHECK_EQ_INT(rule__choose(&c.u.trend, &d, -1, 0, &ch, &f), 0);
        if (ch.why != RULE_WHY_KNEE_SINCE)
            continue;
        (*since)++;
        T_CHECK_EQ_INT(ch.model, RULE_MODEL_KNEE);
        *diluted += !(ch.gain[1] > ch.chance[1]);
        tnow = d.t[n - 1];
        truth = (4.5 - 1.2 + 0.085 * (n - after)) / (0.02 + 0.085);
        cross = rule__fit_crossing(&f, 4.5, tnow);
        *within += fabs(cross - truth) <= 0.2 * (truth - tnow);
        /* the line the test over every origin would have kept: weeks late */
        T_CHECK(rule__fit_crossing(&ch.fits[0], 4.5, tnow) - truth > 0.5 * (truth - tnow));
    }
}

T_TEST(recent_knee_at_low_wander)
{
    int since, diluted, within;

    run(16, 6, 0.02, &since, &diluted, &within);
    printf("  knee 6 days old, wander 0.02: recent-knee test %d of %d, every origin alone "
           "under its margin in %d, dated within 20 %% %d\n",
           since, SEEDS, diluted, within);
    T_CHECK(since >= SEEDS / 4);
    T_CHECK_EQ_INT(diluted, since); /* the every-origin test alone kept the line */
    T_CHECK(within >= since * 9 / 10);
}

T_TEST(no_recent_knee_at_high_wander)
{
    int since, diluted, within;

    run(16, 6, 0.10, &since, &diluted, &within);
    printf("  knee 6 days old, wander 0.10: recent-knee test %d of %d\n", since, SEEDS);
    T_CHECK_EQ_INT(since, 0);
}

T_TEST(no_recent_knee_on_a_line)
{
    int since, diluted, within;

    run(16, 0, 0.02, &since, &diluted, &within);
    printf("  straight line, wander 0.02: recent-knee test %d of %d\n", since, SEEDS);
    T_CHECK_EQ_INT(since, 0);
}

int main(void)
{
    T_RUN(recent_knee_at_low_wander);
    T_RUN(no_recent_knee_at_high_wander);
    T_RUN(no_recent_knee_on_a_line);
    return t_done();
}
