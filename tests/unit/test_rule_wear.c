/*
 * test_rule_wear.c: two trend rules of one lift sharing one preventive order
 * (rules/rule_wear.c, rules/rule.h "Wear"): machine vibration and motor
 * temperature, each a synthetic linear wear with noise (tests/gen/gen.h),
 * one reading a minute of each on a test clock. Whichever is predicted to
 * cross its limit first opens the one order and is named as its driver; the
 * other opening later is an update of the same order, not a second one; the
 * order resolves only when the last member has recovered; a member that
 * does not act is given the trend's own priority scale.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/gen/gen.h"
#include "tests/unit/t.h"

#include <stdio.h>

#define MIN_MS 60000LL
#define T0     (1767225600000LL) /* 2026-01-01T00:00:00Z */
#define VIB    0                 /* member index of the vibration trend */
#define TEMP   1                 /* ... of the motor temperature trend */

/* A member's signal: gen's wear, back to its base level from back_ms on
 * (0: never), as after a repair. */
typedef struct sig {
    gen_t g;
    int64_t back_ms;
} sig_t;

static double sig_value(sig_t *s, int64_t ts)
{
    double v = gen_value(&s->g, ts);
    return s->back_ms && ts >= s->back_ms ? v - (gen_truth(&s->g, ts) - s->g.base) : v;
}

typedef struct combo {
    rule_cfg_t cfg[2];
    rule_state_t st[2];
    int n[4];        /* the one order's actions by kind */
    int own_open[2]; /* each member's own OPEN actions */
    int64_t open_ts; /* the order's OPEN */
    int open_driver; /* its driver then */
    int64_t member_open_ts[2];
    int64_t resolve_ts;
    int driver_switches;
    int prio_checked, prio_wrong; /* a non-acting driver's priority vs its own */
    gw_priority_t own_prio[2];
    int64_t own_prio_day[2];
} combo_t;

static void combo_init(combo_t *c)
{
    char err[128];

    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 2; i++) {
        rule_cfg_defaults(&c->cfg[i], RULE_TREND);
        c->cfg[i].u.trend.limit = i == VIB ? 4.5 : 80; /* mm/s (zone D); degC */
        T_CHECK_EQ_INT(rule_validate(&c->cfg[i], err, sizeof(err)), 0);
        rule_init(&c->cfg[i], &c->st[i]);
    }
}

static void combo_act(combo_t *c, int i, const rule_action_t *a, int64_t ts)
{
    rule_wear_member_t m[2] = {{&c->cfg[0], &c->st[0]}, {&c->cfg[1], &c->st[1]}};
    rule_action_t out;
    int driver;
    rule_action_kind_t k = rule_wear_combine(m, 2, i, a, &out, &driver);

    if (a->kind == RULE_ACT_OPEN) {
        c->own_open[i]++;
        c->member_open_ts[i] = ts;
    }
    c->own_prio[i] = a->priority;
    c->own_prio_day[i] = ts / GEN_DAY_MS;
    T_CHECK(k == out.kind && k != RULE_ACT_NONE);
    T_CHECK(out.has_priority);
    c->n[k]++;
    if (k == RULE_ACT_OPEN) {
        c->open_ts = ts;
        c->open_driver = driver;
    }
    if (k == RULE_ACT_RESOLVE)
        c->resolve_ts = ts;
    if (k != RULE_ACT_RESOLVE && driver != i && c->own_prio_day[driver] == ts / GEN_DAY_MS) {
        c->prio_checked++;
        c->prio_wrong += out.priority != c->own_prio[driver];
    }
    if (k == RULE_ACT_UPDATE && driver != c->open_driver)
        c->driver_switches++;
}

static void combo_feed(combo_t *c, sig_t s[2], int64_t to)
{
    for (int64_t ts = T0; ts < to; ts += MIN_MS) {
        /* The temperature's reading first: on a day close, the vibration's
         * action then sees the temperature's fresh own priority. */
        for (int i = 1; i >= 0; i--) {
            gw_sample_t x = {.point_id = (uint32_t)i + 1,
                             .ts_ms = ts,
                             .value = sig_value(&s[i], ts),
                             .quality = GW_Q_GOOD,
                             .mono_ms = ts};
            rule_action_t a;
            if (rule_eval(&c->cfg[i], &c->st[i], &x, &a) != RULE_ACT_NONE)
                combo_act(c, i, &a, ts);
        }
    }
}

static sig_t wear(double base, double rate, int onset_day, double noise, uint64_t seed)
{
    sig_t s = {.g = {.shape = GEN_LINEAR,
                     .base = base,
                     .rate = rate,
                     .onset_ms = T0 + onset_day * GEN_DAY_MS,
                     .noise_sd = noise,
                     .rng = seed}};
    return s;
}

static double days(int64_t ms)
{
    return (double)ms / GEN_DAY_MS;
}

/* The motor warms faster than the machine wears: the order opens on the
 * temperature's earlier crossing and says so; the vibration opening its
 * own later is an update of the same order. */
T_TEST(temperature_first)
{
    combo_t c;
    sig_t s[2] = {wear(1.2, 0.08, 20, 0.1, 11), wear(50, 1.2, 20, 1.0, 12)};
    int64_t t_vib = gen_crossing(&s[VIB].g, 4.5), t_temp = gen_crossing(&s[TEMP].g, 80);

    combo_init(&c);
    combo_feed(&c, s, t_vib - GEN_DAY_MS);
    fprintf(stderr,
            "  temperature first: order opened %.1f days before the temperature's crossing (day "
            "%.1f), %.1f before the vibration's; vibration's own opening %.1f days later; "
            "%d updates, driver switches %d\n",
            days(t_temp - c.open_ts), days(t_temp - T0), days(t_vib - c.open_ts),
            days(c.member_open_ts[VIB] - c.open_ts), c.n[RULE_ACT_UPDATE], c.driver_switches);
    T_CHECK(t_temp < t_vib - 10 * GEN_DAY_MS);
    T_CHECK_EQ_INT(c.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(c.n[RULE_ACT_RESOLVE], 0);
    T_CHECK_EQ_INT(c.open_driver, TEMP);
    T_CHECK(c.open_ts == c.member_open_ts[TEMP]);
    T_CHECK(t_temp - c.open_ts >= 7 * GEN_DAY_MS);
    T_CHECK(c.open_ts >= T0 + 20 * GEN_DAY_MS); /* nothing while healthy */
    /* Both members would have opened their own order: one order was raised. */
    T_CHECK_EQ_INT(c.own_open[TEMP], 1);
    T_CHECK_EQ_INT(c.own_open[VIB], 1);
    T_CHECK(c.member_open_ts[VIB] > c.open_ts);
    T_CHECK(c.prio_checked > 0);
    T_CHECK_EQ_INT(c.prio_wrong, 0);
}

/* The reverse: the machine wears fast, the motor warms slowly. */
T_TEST(vibration_first)
{
    combo_t c;
    sig_t s[2] = {wear(1.2, 0.15, 20, 0.1, 21), wear(50, 0.3, 20, 1.0, 22)};
    int64_t t_vib = gen_crossing(&s[VIB].g, 4.5), t_temp = gen_crossing(&s[TEMP].g, 80);

    combo_init(&c);
    combo_feed(&c, s, t_vib);
    fprintf(stderr,
            "  vibration first: order opened %.1f days before the vibration's crossing (day %.1f), "
            "%.1f before the temperature's\n",
            days(t_vib - c.open_ts), days(t_vib - T0), days(t_temp - c.open_ts));
    T_CHECK(t_vib < t_temp - 10 * GEN_DAY_MS);
    T_CHECK_EQ_INT(c.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(c.open_driver, VIB);
    T_CHECK(c.open_ts == c.member_open_ts[VIB]);
    T_CHECK(t_vib - c.open_ts >= 7 * GEN_DAY_MS);
    T_CHECK_EQ_INT(c.own_open[TEMP], 0);
    T_CHECK_EQ_INT(c.driver_switches, 0);
}

/* The temperature opens the order and then recovers (the fan was cleaned)
 * while the vibration has opened too: the order stays, now driven by the
 * vibration; it resolves when the vibration recovers as well. */
T_TEST(resolves_with_the_last)
{
    combo_t c;
    sig_t s[2] = {wear(1.2, 0.08, 20, 0.1, 31), wear(50, 1.2, 20, 1.0, 32)};
    int64_t t_vib = gen_crossing(&s[VIB].g, 4.5);

    s[TEMP].back_ms = t_vib - 9 * GEN_DAY_MS;
    s[VIB].back_ms = t_vib - 2 * GEN_DAY_MS;
    combo_init(&c);
    combo_feed(&c, s, t_vib + 12 * GEN_DAY_MS);
    fprintf(stderr,
            "  recovery: order opened day %.1f by %s, temperature back day %.1f, vibration back "
            "day %.1f, resolved day %.1f\n",
            days(c.open_ts - T0), c.open_driver == TEMP ? "temperature" : "vibration",
            days(s[TEMP].back_ms - T0), days(s[VIB].back_ms - T0),
            c.resolve_ts ? days(c.resolve_ts - T0) : -1.0);
    T_CHECK_EQ_INT(c.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(c.n[RULE_ACT_RESOLVE], 1);
    T_CHECK_EQ_INT(c.open_driver, TEMP);
    T_CHECK_EQ_INT(c.own_open[VIB], 1);
    T_CHECK(c.member_open_ts[VIB] < s[VIB].back_ms);
    T_CHECK(c.driver_switches > 0); /* the vibration drives once the motor is back */
    T_CHECK(c.resolve_ts > s[VIB].back_ms);
    T_CHECK(!c.st[VIB].u.trend.firing && !c.st[TEMP].u.trend.firing);
}

/* The outlook of a rule that is not a trend, or has seen nothing. */
T_TEST(outlook_empty)
{
    rule_cfg_t c;
    rule_state_t st;
    rule_trend_outlook_t o;

    rule_cfg_defaults(&c, RULE_COUNTER);
    rule_init(&c, &st);
    rule_trend_outlook(&c, &st, &o);
    T_CHECK(!o.firing && o.earliest_ms == 0 && o.model == -1 && isnan(o.level));
    rule_cfg_defaults(&c, RULE_TREND);
    rule_init(&c, &st);
    rule_trend_outlook(&c, &st, &o);
    T_CHECK(!o.firing && o.crossing_ms == 0 && o.model == -1 && isnan(o.level));
}

int main(void)
{
    T_RUN(temperature_first);
    T_RUN(vibration_first);
    T_RUN(resolves_with_the_last);
    T_RUN(outlook_empty);
    return t_done();
}
