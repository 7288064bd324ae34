/*
 * test_rule_trend.c: the predictive rule (RULE_TREND, rules/rule_trend.c) on
 * synthetic degradations with known truth (tests/gen/gen.h), one reading a
 * minute on a test clock (the samples' timestamps): a gradual degradation
 * opens a preventive order at least 7 days before the true crossing with a
 * predicted date within 20% of the true remaining time; 90 healthy noisy
 * days raise nothing; a step is seen by the change detector; the zone does
 * not flicker; the order resolves when the signal recovers; a level hovering
 * just under the limit keeps one order (hysteresis, clear_days); model auto
 * takes the line for linear wear.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/gen/gen.h"
#include "tests/unit/t.h"

#include <stdio.h>

#define MIN_MS 60000LL
#define T0     (1767225600000LL) /* 2026-01-01T00:00:00Z */

typedef struct run {
    int n[4];
    rule_action_t first_open, last;
    int64_t open_ts;
    gw_priority_t best_prio; /* highest (lowest number) priority asked */
    int zone_changes;
    int change_seen;
    int prev_z; /* zone + 1 of the previous reading, 0: none */
} run_t;

static void trend_cfg(rule_cfg_t *c)
{
    char err[128];

    rule_cfg_defaults(c, RULE_TREND);
    T_CHECK_EQ_INT(rule_iso10816_zones("10816-1:I", c->u.trend.zones), 0);
    c->u.trend.limit = c->u.trend.zones[2]; /* 4.5 mm/s: C/D */
    T_CHECK_EQ_INT(rule_validate(c, err, sizeof(err)), 0);
}

/* Feed gen from T0 for days at one reading a minute; stop early (after the
 * first action of kind stop_at, when not NONE). */
static void feed(const rule_cfg_t *c, rule_state_t *st, gen_t *g, int64_t from, int64_t to,
                 run_t *r)
{
    for (int64_t ts = from; ts < to; ts += MIN_MS) {
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = ts,
                         .value = gen_value(g, ts),
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_action_t a;
        rule_action_kind_t k = rule_eval(c, st, &s, &a);
        int z = rule_zone_of(c->u.trend.zones, st->u.trend.rsum / st->u.trend.rn);
        if (r->prev_z > 0 && z != r->prev_z - 1)
            r->zone_changes++;
        r->prev_z = z + 1;
        r->change_seen |= st->u.trend.change;
        if (k == RULE_ACT_NONE)
            continue;
        r->n[k]++;
        r->last = a;
        if (k == RULE_ACT_OPEN && r->n[k] == 1) {
            r->first_open = a;
            r->open_ts = ts;
            r->best_prio = a.priority;
        }
        if (a.has_priority && a.priority < r->best_prio && k != RULE_ACT_RESOLVE)
            r->best_prio = a.priority;
    }
}

/* Returns the model of the first order (rule_trend_model_t). */
static int check_degradation(gen_t *g, const char *what, double floor)
{
    rule_cfg_t c;
    rule_state_t st;
    run_t r = {0};
    int64_t truth, lead, predicted_left, true_left;

    trend_cfg(&c);
    if (floor > 0) {
        c.u.trend.model = RULE_MODEL_EXP;
        c.u.trend.floor_set = 1;
        c.u.trend.floor = floor;
    }
    rule_init(&c, &st);
    truth = gen_crossing(g, c.u.trend.limit);
    T_CHECK(truth > T0);
    feed(&c, &st, g, T0, truth, &r);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
    T_CHECK(r.n[RULE_ACT_UPDATE] >= 1);
    lead = truth - r.open_ts;
    predicted_left = r.first_open.predicted_ms - r.open_ts;
    true_left = truth - r.open_ts;
    fprintf(stderr,
            "  %s: opened %.1f days before the crossing; predicted %.1f days left (true %.1f), "
            "earliest %.1f, latest %.1f; slope %.3f/day; priority %s -> %s; model %s at the "
            "order, %s at the crossing\n",
            what, (double)lead / GEN_DAY_MS, (double)predicted_left / GEN_DAY_MS,
            (double)true_left / GEN_DAY_MS,
            (double)(r.first_open.predicted_lo_ms - r.open_ts) / GEN_DAY_MS,
            r.first_open.predicted_hi_ms
                ? (double)(r.first_open.predicted_hi_ms - r.open_ts) / GEN_DAY_MS
                : -1.0,
            r.first_open.slope_per_day, gw_priority_name(r.first_open.priority),
            gw_priority_name(r.best_prio), rule_model_name((rule_trend_model_t)r.first_open.model),
            rule_model_name((rule_trend_model_t)r.last.model));
    T_CHECK(lead >= 7 * GEN_DAY_MS);
    T_CHECK(r.first_open.predicted_ms > 0);
    T_CHECK(fabs((double)(predicted_left - true_left)) <= 0.2 * (double)true_left);
    /* The interval brackets the central date and the conservative date is first. */
    T_CHECK(r.first_open.predicted_lo_ms <= r.first_open.predicted_ms);
    T_CHECK(r.first_open.predicted_hi_ms == 0 ||
            r.first_open.predicted_hi_ms >= r.first_open.predicted_ms);
    T_CHECK_EQ_INT(r.first_open.kind_of, RULE_TREND);
    /* The evidence says how: a model, why, and a bootstrap behind the dates. */
    T_CHECK(r.first_open.model >= 0);
    T_CHECK(r.first_open.boot_reps > 0);
    /* Priority rises as the date nears. */
    T_CHECK(r.best_prio < r.first_open.priority);
    return r.first_open.model;
}

T_TEST(linear_degradation)
{
    gen_t g = {.shape = GEN_LINEAR,
               .base = 1.2,
               .rate = 0.08,
               .onset_ms = T0 + 20 * GEN_DAY_MS,
               .noise_sd = 0.15,
               .rng = 42,
               .daily_amp = 0.1};
    check_degradation(&g, "linear", 0);
}

/* central_horizon_days: the order waits for the central date to come within
 * it too, on noisy wear whose interval is wide, and still comes a week
 * ahead. */
T_TEST(central_horizon_gates_the_order)
{
    int64_t open_ts[2], truth = 0;
    double central_left = 0;

    for (int pass = 0; pass < 2; pass++) {
        gen_t g = {.shape = GEN_LINEAR,
                   .base = 1.2,
                   .rate = 0.06,
                   .onset_ms = T0 + 20 * GEN_DAY_MS,
                   .noise_sd = 0.3,
                   .rng = 7,
                   .daily_amp = 0.2};
        rule_cfg_t c;
        rule_state_t st;
        run_t r = {0};
        char err[128];

        trend_cfg(&c);
        c.u.trend.central_ms = pass ? 12 * GEN_DAY_MS : 0;
        T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
        rule_init(&c, &st);
        truth = gen_crossing(&g, c.u.trend.limit);
        feed(&c, &st, &g, T0, truth, &r);
        T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
        open_ts[pass] = r.open_ts;
        central_left = (double)(r.first_open.predicted_ms - r.open_ts) / GEN_DAY_MS;
        fprintf(stderr, "  central_horizon_days %d: opened %.1f days ahead, central %.1f days\n",
                pass ? 12 : 0, (double)(truth - r.open_ts) / GEN_DAY_MS, central_left);
    }
    T_CHECK(central_left <= 12.0 + 1e-6);
    T_CHECK(open_ts[1] > open_ts[0]);
    T_CHECK(truth - open_ts[1] >= 7 * GEN_DAY_MS);
}

/* Plainly linear wear with model auto: the line, and the reason given. */
T_TEST(auto_takes_the_line_for_linear_wear)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        gen_t g = {.shape = GEN_LINEAR,
                   .base = 1.2,
                   .rate = 0.08,
                   .onset_ms = T0 + 20 * GEN_DAY_MS,
                   .noise_sd = 0.15,
                   .rng = seed * 7919,
                   .daily_amp = 0.1};
        rule_cfg_t c;
        rule_state_t st;
        run_t r = {0};

        trend_cfg(&c);
        rule_init(&c, &st);
        feed(&c, &st, &g, T0, gen_crossing(&g, c.u.trend.limit), &r);
        T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
        T_CHECK_EQ_INT(r.first_open.model, RULE_MODEL_LINEAR);
        T_CHECK(r.first_open.model_why == RULE_WHY_FEW_DAYS ||
                r.first_open.model_why == RULE_WHY_LINE_SUFFICES);
    }
}

T_TEST(exponential_degradation)
{
    gen_t g = {.shape = GEN_EXP,
               .base = 1.2,
               .rate = 0.09,
               .amp = 0.1,
               .onset_ms = T0 + 20 * GEN_DAY_MS,
               .noise_sd = 0.15,
               .rng = 7,
               .daily_amp = 0.1};
    /* The model y = floor + theta * exp(beta * t), with floor = base - amp. */
    check_degradation(&g, "exponential", g.base - g.amp);
}

/* The same wear with the defaults (model auto, floor fitted). */
T_TEST(exponential_defaults)
{
    gen_t g = {.shape = GEN_EXP,
               .base = 1.2,
               .rate = 0.09,
               .amp = 0.1,
               .onset_ms = T0 + 20 * GEN_DAY_MS,
               .noise_sd = 0.15,
               .rng = 7,
               .daily_amp = 0.1};
    /* auto took the curve: it forecast the later days better than a line */
    T_CHECK_EQ_INT(check_degradation(&g, "exponential, defaults", 0), RULE_MODEL_EXP);
}

T_TEST(slow_linear_degradation)
{
    gen_t g = {.shape = GEN_LINEAR,
               .base = 0.9,
               .rate = 0.04,
               .onset_ms = T0 + 10 * GEN_DAY_MS,
               .noise_sd = 0.3,
               .rng = 99};
    check_degradation(&g, "slow linear", 0);
}

T_TEST(healthy_90_days)
{
    gen_t g = {.shape = GEN_FLAT, .base = 1.3, .noise_sd = 0.25, .rng = 5, .daily_amp = 0.2};
    rule_cfg_t c;
    rule_state_t st;
    run_t r = {0};

    trend_cfg(&c);
    rule_init(&c, &st);
    feed(&c, &st, &g, T0, T0 + 90 * GEN_DAY_MS, &r);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN] + r.n[RULE_ACT_UPDATE] + r.n[RULE_ACT_RESOLVE], 0);
    T_CHECK_EQ_INT(st.u.trend.dn, c.u.trend.window_days);
    /* Smoothed over 10 readings, a 1.3 mm/s machine stays in zone B. */
    T_CHECK(r.zone_changes <= 2);
}

/* A step from zone B to zone C: the change detector sees it within an hour. */
T_TEST(step_change)
{
    gen_t g = {.shape = GEN_STEP,
               .base = 1.2,
               .amp = 1.5,
               .onset_ms = T0 + 10 * GEN_DAY_MS,
               .noise_sd = 0.15,
               .rng = 11};
    rule_cfg_t c;
    rule_state_t st;
    run_t r = {0};

    trend_cfg(&c);
    rule_init(&c, &st);
    feed(&c, &st, &g, T0, g.onset_ms, &r);
    /* A rare false alarm may happen on healthy data (it only lets the trend
     * be fitted, which then predicts nothing); no change is in progress. */
    T_CHECK_EQ_INT(st.u.trend.change, 0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 0);
    feed(&c, &st, &g, g.onset_ms, g.onset_ms + 60 * MIN_MS, &r);
    T_CHECK_EQ_INT(st.u.trend.change, 1);
    T_CHECK(st.u.trend.change_day >= 0);
    T_CHECK_EQ_INT(rule_zone_of(c.u.trend.zones, st.u.trend.rsum / st.u.trend.rn), 2);
}

/* Degrade until the order opens, then the machine is repaired: the
 * prediction stops (RESOLVE) once the trend no longer reaches the limit. */
T_TEST(recovery_resolves)
{
    gen_t g = {.shape = GEN_LINEAR,
               .base = 1.2,
               .rate = 0.1,
               .onset_ms = T0 + 10 * GEN_DAY_MS,
               .noise_sd = 0.15,
               .rng = 3};
    gen_t ok = {.shape = GEN_FLAT, .base = 1.2, .noise_sd = 0.15, .rng = 4};
    rule_cfg_t c;
    rule_state_t st;
    run_t r = {0};
    int64_t fix = T0 + 35 * GEN_DAY_MS;

    trend_cfg(&c);
    rule_init(&c, &st);
    feed(&c, &st, &g, T0, fix, &r);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    feed(&c, &st, &ok, fix, fix + 30 * GEN_DAY_MS, &r);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(st.u.trend.firing, 0);
}

/* Wear that stops just under the limit (4.499 against 4.5, noise 0.15)
 * and hovers there for 25 days: with the defaults (hysteresis 10 % of the
 * limit, clear_days 3) the one order stays open, at the limit, with no
 * resolve; with the old behaviour (no hysteresis, a single day resolves) the
 * same data resolves and reopens: what the hysteresis is for. Then a real
 * repair resolves it after clear_days recovered day closes. */
T_TEST(hovering_under_the_limit)
{
    for (int pass = 0; pass < 2; pass++) {
        gen_t g = {.shape = GEN_LINEAR,
                   .base = 1.2,
                   .rate = 0.1,
                   .onset_ms = T0 + 12 * GEN_DAY_MS,
                   .noise_sd = 0.15,
                   .rng = 21};
        gen_t flat = {
            .shape = GEN_FLAT, .base = 4.499, .noise_sd = 0.15, .rng = 22, .daily_amp = 0.1};
        gen_t ok = {.shape = GEN_FLAT, .base = 1.2, .noise_sd = 0.15, .rng = 23};
        int64_t top = g.onset_ms + (int64_t)((4.499 - 1.2) / 0.1 * GEN_DAY_MS);
        rule_cfg_t c;
        rule_state_t st;
        run_t r = {0};
        char err[128];

        trend_cfg(&c);
        if (pass) {
            c.u.trend.hysteresis = 0;
            c.u.trend.clear_days = 1;
            T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
        }
        rule_init(&c, &st);
        feed(&c, &st, &g, T0, top, &r);
        T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
        feed(&c, &st, &flat, top, top + 25 * GEN_DAY_MS, &r);
        fprintf(stderr, "  hysteresis %s: %d open, %d resolve while hovering\n",
                pass ? "0, clear_days 1" : "default", r.n[RULE_ACT_OPEN], r.n[RULE_ACT_RESOLVE]);
        if (pass) {
            T_CHECK(r.n[RULE_ACT_OPEN] >= 2); /* chatter without the hysteresis */
            continue;
        }
        T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
        T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
        T_CHECK_EQ_INT(r.last.kind, RULE_ACT_UPDATE);
        T_CHECK_EQ_INT(r.last.at_limit, 1);
        /* Repaired: 2 recovered day closes keep it, the 3rd resolves. */
        feed(&c, &st, &ok, top + 25 * GEN_DAY_MS, top + 27 * GEN_DAY_MS + MIN_MS, &r);
        T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
        feed(&c, &st, &ok, top + 27 * GEN_DAY_MS + MIN_MS, top + 31 * GEN_DAY_MS, &r);
        T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
        T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    }
}

/* Bad-quality samples are never readings. */
/* One wear case with a wandering day level (an AR(1) day effect of sd 0.15,
 * rho 0.7: load and weather move whole days), ten-minute readings, model
 * auto with the shapes' uncertainty in the interval, horizon 12 days (the
 * bundled lift rule). At each day close: the model in use and whether the
 * earliest date is within the horizon. An order opened below the limit must
 * come on a day close whose model is the one of the day close before, both
 * near; *flips counts the pairs of near day closes before it that changed
 * model (where the earliest date alone would have opened). Returns 1 when
 * an order opened. */
static int same_model_case(gen_t *g, int *flips)
{
    const int64_t step = 10 * MIN_MS, horizon = 12 * GEN_DAY_MS;
    int prev_model = -1, prev_near = 0, opened = 0;
    int64_t last_pred = 0;
    double day_eff = 0;
    rule_cfg_t c;
    rule_state_t st;
    char err[128];

    trend_cfg(&c);
    c.u.trend.model_uncertainty = 1;
    c.u.trend.horizon_ms = horizon;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    rule_init(&c, &st);
    for (int64_t ts = T0; ts < T0 + 90 * GEN_DAY_MS && !opened; ts += step) {
        if (ts % GEN_DAY_MS == 0)
            day_eff = 0.7 * day_eff + 0.15 * sqrt(1 - 0.49) * gen_normal(g);
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = ts,
                         .value = gen_value(g, ts) + day_eff,
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_action_t a;
        rule_action_kind_t k = rule_eval(&c, &st, &s, &a);
        const rule_trend_state_t *t = &st.u.trend;
        if (t->last_pred_ms == last_pred)
            continue; /* no day close */
        last_pred = t->last_pred_ms;
        int near = t->model >= 0 && t->pred_lo != 0 && t->pred_lo - last_pred <= horizon;
        if (k == RULE_ACT_OPEN && !a.at_limit) {
            T_CHECK(near && prev_near);
            T_CHECK_EQ_INT(t->model, prev_model);
            opened = 1;
        } else if (near && prev_near && t->model != prev_model) {
            (*flips)++;
        }
        prev_model = t->model;
        prev_near = near;
    }
    return opened;
}

/* An order opens on two day closes in a row with the earliest date within
 * the horizon by the same model: a shape the model test takes up for a day
 * (and drops) does not open it with its early date. */
T_TEST(order_needs_two_days_of_the_same_model)
{
    int flips = 0, opened = 0;

    for (int i = 0; i < 12; i++) {
        gen_t g = {.shape = i % 2 ? GEN_EXP : GEN_LINEAR,
                   .base = 1.2,
                   .rate = i % 2 ? 0.07 : 0.09,
                   .amp = 0.1,
                   .onset_ms = T0 + 15 * GEN_DAY_MS,
                   .noise_sd = 0.3,
                   .rng = 101 + (uint64_t)i,
                   .daily_amp = 0.1};
        opened += same_model_case(&g, &flips);
    }
    fprintf(stderr,
            "  same model: %d of 12 orders opened, %d near day pairs changed model before\n",
            opened, flips);
    T_CHECK(opened >= 10);
    T_CHECK(flips >= 1); /* the rule was put to the test */
}

/* A knee from day 15: slope s1 a day, from knee_d days later s2. */
static double knee_at(int64_t ts, double knee_d, double s1, double s2)
{
    double d = (double)(ts - T0) / GEN_DAY_MS - 15;
    return d <= 0 ? 0 : d <= knee_d ? s1 * d : s1 * knee_d + s2 * (d - knee_d);
}

/* One wear case as in same_model_case plus a knee, to the first order:
 * *waited counts the day closes that had two near day closes of one model
 * and did not open (the model contested, the earliest date over 10 days
 * away); an order that opened on the second such day close must not have
 * been contested with that much time left, and its evidence dates the
 * crossing by each shape. Returns 1 when an order opened. */
static int contested_case(gen_t *g, double knee_d, double s1, double s2, int *waited)
{
    const int64_t step = 10 * MIN_MS;
    int64_t last_pred = 0;
    double day_eff = 0;
    rule_cfg_t c;
    rule_state_t st;
    char err[128];

    trend_cfg(&c);
    c.u.trend.model_uncertainty = 1;
    c.u.trend.horizon_ms = 12 * GEN_DAY_MS;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    rule_init(&c, &st);
    for (int64_t ts = T0; ts < T0 + 90 * GEN_DAY_MS; ts += step) {
        if (ts % GEN_DAY_MS == 0)
            day_eff = 0.7 * day_eff + 0.15 * sqrt(1 - 0.49) * gen_normal(g);
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = ts,
                         .value = gen_value(g, ts) + day_eff + knee_at(ts, knee_d, s1, s2),
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_action_t a;
        rule_action_kind_t k = rule_eval(&c, &st, &s, &a);
        const rule_trend_state_t *t = &st.u.trend;
        if (t->last_pred_ms == last_pred)
            continue; /* no day close */
        last_pred = t->last_pred_ms;
        if (!t->firing && t->soon_days >= 2)
            (*waited)++;
        if (k != RULE_ACT_OPEN)
            continue;
        int contested = a.model_gain[0] > a.model_chance[0] && a.model_gain[1] > a.model_chance[1];
        /* The evidence dates the crossing by every shape; the one in use is the date. */
        if (a.model_why == RULE_WHY_LINE_SUFFICES || a.model_why == RULE_WHY_CURVE_SIGNIFICANT) {
            int m = a.model == RULE_MODEL_EXP ? 1 : a.model == RULE_MODEL_KNEE ? 2 : 0;
            T_CHECK(a.model_cross_ms[m] == a.predicted_ms && a.model_cross_ms[0] != 0);
        }
        if (!a.at_limit && t->soon_days == 2)
            T_CHECK(!contested || a.predicted_lo_ms - last_pred <= 10 * GEN_DAY_MS);
        return 1;
    }
    return 0;
}

/* Both curves forecasting clearly better than the line (an accelerating
 * wear or a knee: the test cannot tell yet, and they date the crossing
 * weeks apart) hold the order one more day close while the earliest date
 * is more than 10 days away. */
T_TEST(contested_model_waits_a_day)
{
    int waited = 0, opened = 0;

    for (int i = 0; i < 12; i++) {
        gen_t g = {.shape = GEN_FLAT,
                   .base = 1.2,
                   .noise_sd = 0.3,
                   .rng = 301 + (uint64_t)i,
                   .daily_amp = 0.1};
        opened += contested_case(&g, 12 + i, 0.02 + 0.002 * i, 0.15, &waited);
    }
    fprintf(stderr, "  contested: %d of 12 orders opened, %d day closes waited\n", opened, waited);
    T_CHECK(opened >= 10);
    T_CHECK(waited >= 1); /* without the extra day, two near day closes always open */
}

/* Wear with a knee or accelerating, horizon a year (every day close after
 * the order is an update with the model test's figures): when both curves
 * pass the test, the exponential is taken only with a gain 0.08 over the
 * knee's. Counts the close calls the knee took into *close. */
static void close_call_case(gen_t *g, double knee_d, int *close)
{
    double day_eff = 0;
    rule_cfg_t c;
    rule_state_t st;
    char err[128];

    trend_cfg(&c);
    c.u.trend.horizon_ms = 365 * GEN_DAY_MS;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    rule_init(&c, &st);
    for (int64_t ts = T0; ts < T0 + 90 * GEN_DAY_MS; ts += 10 * MIN_MS) {
        if (ts % GEN_DAY_MS == 0)
            day_eff = 0.7 * day_eff + 0.15 * sqrt(1 - 0.49) * gen_normal(g);
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = ts,
                         .value = gen_value(g, ts) + day_eff +
                                  (knee_d > 0 ? knee_at(ts, knee_d, 0.02, 0.15) : 0),
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_action_t a;
        rule_action_kind_t k = rule_eval(&c, &st, &s, &a);
        if (k == RULE_ACT_NONE || a.model < 0 || a.at_limit || a.model_why == RULE_WHY_NO_CURVE)
            continue;
        double ge = a.model_gain[0] - a.model_chance[0], gk = a.model_gain[1] - a.model_chance[1];
        if (!(ge > 0 && gk > 0))
            continue;
        if (ge > gk && ge - gk < 0.08) {
            T_CHECK_EQ_INT(a.model, RULE_MODEL_KNEE);
            (*close)++;
        } else {
            T_CHECK_EQ_INT(a.model, ge > gk ? RULE_MODEL_EXP : RULE_MODEL_KNEE);
        }
    }
}

/* Both curves forecast clearly better than the line, the exponential only a
 * little better than the knee: the knee is believed (the exponential bends
 * to a knee's levels too, and then dates the crossing weeks early). */
T_TEST(knee_before_exponential_on_a_close_call)
{
    int close = 0;

    for (int i = 0; i < 16; i++) {
        gen_t g = {.shape = i % 2 ? GEN_EXP : GEN_FLAT,
                   .base = 1.2,
                   .rate = 0.06 + 0.002 * i,
                   .amp = 0.1,
                   .onset_ms = T0 + 15 * GEN_DAY_MS,
                   .noise_sd = 0.3,
                   .rng = 501 + (uint64_t)i,
                   .daily_amp = 0.1};
        close_call_case(&g, i % 2 ? 0 : 10 + i, &close);
    }
    fprintf(stderr, "  close calls between the curves the knee took: %d\n", close);
    T_CHECK(close >= 1); /* the rule was put to the test */
}

T_TEST(bad_quality_ignored)
{
    rule_cfg_t c;
    rule_state_t st;
    rule_action_t a;
    gw_sample_t s = {.ts_ms = T0, .value = 100, .quality = GW_Q_COMM_ERROR, .mono_ms = T0};

    trend_cfg(&c);
    rule_init(&c, &st);
    for (int i = 0; i < 10 * 1440; i++, s.ts_ms += MIN_MS, s.mono_ms += MIN_MS)
        T_CHECK(rule_eval(&c, &st, &s, &a) == RULE_ACT_NONE);
    T_CHECK_EQ_INT(st.u.trend.samples, 0);
    T_CHECK_EQ_INT(st.u.trend.dn, 0);
}

T_TEST(validate_and_zones)
{
    rule_cfg_t c;
    char err[128];
    double z[3];

    T_CHECK_EQ_INT(rule_iso10816_zones("10816-3:2:rigid", z), 0);
    T_CHECK_NEAR(z[0], 1.4, 1e-9);
    T_CHECK_NEAR(z[2], 4.5, 1e-9);
    T_CHECK_EQ_INT(rule_iso10816_zones("10816-1:V", z), GW_EINVAL);
    T_CHECK_EQ_INT(rule_zone_of(z, 0.5), 0);
    T_CHECK_EQ_INT(rule_zone_of(z, 1.4), 1);
    T_CHECK_EQ_INT(rule_zone_of(z, 3.0), 2);
    T_CHECK_EQ_INT(rule_zone_of(z, 9.0), 3);
    rule_cfg_defaults(&c, RULE_TREND);
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), GW_EINVAL); /* no limit */
    c.u.trend.limit = 4.5;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), 0);
    c.u.trend.min_days = 2;
    T_CHECK_EQ_INT(rule_validate(&c, err, sizeof(err)), GW_EINVAL);
    T_CHECK(strstr(err, "min_days") != NULL);
}

int main(void)
{
    T_RUN(linear_degradation);
    T_RUN(exponential_degradation);
    T_RUN(exponential_defaults);
    T_RUN(slow_linear_degradation);
    T_RUN(healthy_90_days);
    T_RUN(step_change);
    T_RUN(recovery_resolves);
    T_RUN(hovering_under_the_limit);
    T_RUN(auto_takes_the_line_for_linear_wear);
    T_RUN(central_horizon_gates_the_order);
    T_RUN(order_needs_two_days_of_the_same_model);
    T_RUN(contested_model_waits_a_day);
    T_RUN(knee_before_exponential_on_a_close_call);
    T_RUN(bad_quality_ignored);
    T_RUN(validate_and_zones);
    return t_done();
}
