/*
 * test_rule_kinds.c: the rule kinds behind rule_eval (rules/rule_kinds.c):
 * a value flapping around a threshold raises one work order, not many; a
 * fire zone bit fires at once; a device that only answers with errors goes
 * stale; rate of change; a wrapping counter and its re-arm; the hour-of-week
 * energy baseline flags lighting at 02:00; bad quality never counts; the
 * learn hash keeps state across alarm-side parameter changes only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/gen/gen.h"
#include "tests/unit/t.h"

#define SEC     1000LL
#define MIN_MS  (60 * SEC)
#define HOUR_MS (60 * MIN_MS)
#define T0      (1767225600000LL) /* 2026-01-01T00:00:00Z, a Thursday */

typedef struct rig {
    rule_cfg_t c;
    rule_state_t st;
    rule_action_t last;
    int n[4];
} rig_t;

static void rig(rig_t *r, rule_kind_t kind)
{
    memset(r, 0, sizeof(*r));
    rule_cfg_defaults(&r->c, kind);
}

static void rig_ready(rig_t *r)
{
    char err[128];
    T_CHECK_EQ_INT(rule_validate(&r->c, err, sizeof(err)), 0);
    rule_init(&r->c, &r->st);
}

static rule_action_kind_t feed_q(rig_t *r, int64_t ts, double v, gw_quality_t q)
{
    gw_sample_t s = {.point_id = 1, .ts_ms = ts, .value = v, .quality = q, .mono_ms = ts};
    rule_action_t a;
    rule_action_kind_t k = rule_eval(&r->c, &r->st, &s, &a);
    r->n[k]++;
    if (k != RULE_ACT_NONE)
        r->last = a;
    return k;
}

static rule_action_kind_t feed(rig_t *r, int64_t ts, double v)
{
    return feed_q(r, ts, v, GW_Q_GOOD);
}

/* 4.5 +/- 0.2 noise right on a 4.5 limit, 1.0 hysteresis, 10 s for:
 * one OPEN while it flaps, one RESOLVE when it has settled low for the
 * default clear delay (a minute). */
T_TEST(flapping_one_order)
{
    rig_t r;
    gen_t g = {.shape = GEN_FLAT, .base = 4.5, .noise_sd = 0.2, .rng = 17};
    int64_t t = T0;

    rig(&r, RULE_THRESHOLD);
    r.c.alarm.limit = 4.5;
    r.c.alarm.hysteresis = 1.0;
    r.c.alarm.for_ms = 10 * SEC;
    rig_ready(&r);
    for (; t < T0 + 6 * HOUR_MS; t += 5 * SEC)
        feed(&r, t, gen_value(&g, t));
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
    for (int i = 0; i < 12; i++, t += 5 * SEC) /* 55 s: not yet */
        feed(&r, t, 2.0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
    feed(&r, t, 2.0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
}

/* A fire panel's zone word: bit 3 = zone 4 in alarm. Fires on the first
 * sample, clears when the bit clears; a comm error changes nothing. */
T_TEST(fire_zone_bit_at_once)
{
    rig_t r;

    rig(&r, RULE_STATE);
    r.c.u.state.use_bit = 1;
    r.c.u.state.bit = 3;
    rig_ready(&r);
    T_CHECK_EQ_INT(feed(&r, T0, 0x01), RULE_ACT_NONE); /* bit 0 only */
    T_CHECK_EQ_INT(feed(&r, T0 + SEC, 0x09), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.kind_of, RULE_STATE);
    T_CHECK_NEAR(r.last.value, 9, 0);
    T_CHECK_EQ_INT(feed_q(&r, T0 + 2 * SEC, 0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, T0 + 3 * SEC, 0x01), RULE_ACT_RESOLVE);
}

T_TEST(state_equals_and_invert)
{
    rig_t r;

    rig(&r, RULE_STATE);
    r.c.u.state.equals = 2; /* pump state 2 = tripped */
    rig_ready(&r);
    T_CHECK_EQ_INT(feed(&r, T0, 1), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, T0 + 1, 2), RULE_ACT_OPEN);
    rig(&r, RULE_STATE);
    r.c.u.state.equals = 1; /* a "healthy" line that must stay 1 */
    r.c.u.state.invert = 1;
    rig_ready(&r);
    T_CHECK_EQ_INT(feed(&r, T0, 1), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, T0 + 1, 0), RULE_ACT_OPEN);
    rig(&r, RULE_STATE);
    r.c.u.state.use_bit = 1;
    r.c.u.state.bit = 32;
    T_CHECK_EQ_INT(rule_validate(&r.c, NULL, 0), GW_EINVAL);
}

/* Comm-error samples age the last good one: offline after 60 s, back on the
 * first good sample. */
T_TEST(stale_device)
{
    rig_t r;
    int64_t t;

    rig(&r, RULE_STALE);
    r.c.u.stale.after_ms = 60 * SEC;
    rig_ready(&r);
    T_CHECK_EQ_INT(feed(&r, T0, 1), RULE_ACT_NONE);
    for (t = T0 + 10 * SEC; t < T0 + 60 * SEC; t += 10 * SEC)
        T_CHECK_EQ_INT(feed_q(&r, t, 0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed_q(&r, T0 + 60 * SEC, 0, GW_Q_COMM_ERROR), RULE_ACT_OPEN);
    T_CHECK_NEAR(r.last.derived, 60000, 0);
    T_CHECK_EQ_INT(feed_q(&r, T0 + 70 * SEC, 0, GW_Q_STALE), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, T0 + 80 * SEC, 1), RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    /* A device that never answered goes stale after_ms after the first try. */
    rig(&r, RULE_STALE);
    r.c.u.stale.after_ms = 30 * SEC;
    rig_ready(&r);
    T_CHECK_EQ_INT(feed_q(&r, T0, 0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed_q(&r, T0 + 30 * SEC, 0, GW_Q_COMM_ERROR), RULE_ACT_OPEN);
}

/* Tank level falling faster than 2 %/min over 5 minutes (a burst pipe). */
T_TEST(rate_of_change)
{
    rig_t r;
    int64_t t = T0;
    double v = 80;

    rig(&r, RULE_RATE);
    r.c.u.rate.window_ms = 5 * MIN_MS;
    r.c.u.rate.per_ms = MIN_MS;
    r.c.alarm.above = 0;
    r.c.alarm.limit = -2;
    r.c.alarm.hysteresis = 1;
    rig_ready(&r);
    for (; t < T0 + 30 * MIN_MS; t += 10 * SEC, v -= 0.05) /* -0.3 %/min: fine */
        feed(&r, t, v);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 0);
    for (; t < T0 + 40 * MIN_MS; t += 10 * SEC, v -= 0.6) /* -3.6 %/min */
        feed(&r, t, v);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK(r.last.derived < -2);
    for (; t < T0 + 60 * MIN_MS; t += 10 * SEC) /* stopped falling */
        feed(&r, t, v);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
}

/* Door cycles on a uint32 counter that wraps: 100,000 cycles since service
 * fires; rule_rearm after the service starts again from zero. */
T_TEST(counter_wraps_and_rearms)
{
    rig_t r;
    double raw = 4294967296.0 - 50000;
    int64_t t = T0;

    rig(&r, RULE_COUNTER);
    r.c.alarm.limit = 100000;
    rig_ready(&r);
    for (int i = 0; i < 99; i++, t += MIN_MS) {
        raw += 1000;
        if (raw >= 4294967296.0)
            raw -= 4294967296.0; /* the device's register wraps */
        T_CHECK_EQ_INT(feed(&r, t, raw), RULE_ACT_NONE);
    }
    T_CHECK_NEAR(r.st.u.counter.acc, 98000, 1e-6);
    feed(&r, t += MIN_MS, raw += 1000);
    feed(&r, t += MIN_MS, raw += 1000);
    feed(&r, t += MIN_MS, raw += 1000);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_NEAR(r.last.derived, 100000 + 1000, 1e-6);
    rule_rearm(&r.c, &r.st); /* the work order was closed */
    T_CHECK_EQ_INT(r.st.alarm.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(feed(&r, t += MIN_MS, raw += 1000), RULE_ACT_NONE);
    T_CHECK_NEAR(r.st.u.counter.acc, 1000, 1e-6);
    /* A big decrease is a reset (a replaced controller), not a wrap. */
    feed(&r, t += MIN_MS, 500000);
    feed(&r, t += MIN_MS, 3);
    T_CHECK_NEAR(r.st.u.counter.acc, 1000 + (500000 - raw) + 3, 1e-6);
    /* Without wrap, a decrease is a counter reset. */
    rig(&r, RULE_COUNTER);
    r.c.u.counter.wrap = 0;
    r.c.alarm.limit = 10;
    rig_ready(&r);
    feed(&r, T0, 500);
    feed(&r, T0 + 1, 3);
    T_CHECK_NEAR(r.st.u.counter.acc, 3, 1e-9);
}

/* Office lighting: 2 kW at night, 20 kW in working hours on weekdays. Three
 * weeks learn; then one night it stays at 20 kW at 02:00: flagged once. */
T_TEST(energy_anomaly_night_lighting)
{
    rig_t r;
    gen_t g = {.shape = GEN_FLAT, .base = 0, .noise_sd = 0.3, .rng = 23};
    int64_t t, night = 0;

    rig(&r, RULE_ANOMALY);
    r.c.u.anomaly.min_delta = 3;
    r.c.alarm.for_ms = 15 * MIN_MS;
    r.c.alarm.update_ms = 0;
    rig_ready(&r);
    for (t = T0; t < T0 + 35 * GEN_DAY_MS; t += MIN_MS) {
        int64_t h = (t / HOUR_MS) % 24, wd = ((t / GEN_DAY_MS) + 4) % 7;
        double kw = (wd >= 1 && wd <= 5 && h >= 8 && h < 19) ? 20 : 2;
        if (t >= T0 + 28 * GEN_DAY_MS + 2 * HOUR_MS && t < T0 + 28 * GEN_DAY_MS + 4 * HOUR_MS) {
            kw = 20; /* left on, 02:00-04:00 */
            if (!night && r.n[RULE_ACT_OPEN])
                night = t;
        }
        feed(&r, t, kw + gen_value(&g, t));
    }
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
    T_CHECK(night > 0 && night <= T0 + 28 * GEN_DAY_MS + 2 * HOUR_MS + 16 * MIN_MS);
    T_CHECK(r.last.baseline < 3); /* the baseline stayed at night level */
}

T_TEST(learn_hash)
{
    rule_cfg_t a, b;

    rule_cfg_defaults(&a, RULE_TREND);
    a.u.trend.limit = 4.5;
    b = a;
    b.u.trend.limit = 7.1;
    b.u.trend.horizon_ms *= 2;
    T_CHECK(rule_learn_hash(&a) == rule_learn_hash(&b));
    b.u.trend.day_ms /= 2;
    T_CHECK(rule_learn_hash(&a) != rule_learn_hash(&b));
    rule_cfg_defaults(&b, RULE_THRESHOLD);
    T_CHECK(rule_learn_hash(&a) != rule_learn_hash(&b));
}

T_TEST(kind_names)
{
    rule_kind_t k;
    T_CHECK_EQ_INT(rule_kind_parse("anomaly", &k), 0);
    T_CHECK_EQ_INT(k, RULE_ANOMALY);
    T_CHECK_EQ_INT(rule_kind_parse("nope", &k), GW_EINVAL);
    T_CHECK_STR(rule_kind_name(RULE_TREND), "trend");
    T_CHECK_STR(rule_kind_name(RULE_KIND_COUNT), "unknown");
}

int main(void)
{
    T_RUN(flapping_one_order);
    T_RUN(fire_zone_bit_at_once);
    T_RUN(state_equals_and_invert);
    T_RUN(stale_device);
    T_RUN(rate_of_change);
    T_RUN(counter_wraps_and_rearms);
    T_RUN(energy_anomaly_night_lighting);
    T_RUN(learn_hash);
    T_RUN(kind_names);
    return t_done();
}
