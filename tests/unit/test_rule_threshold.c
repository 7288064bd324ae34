/*
 * test_rule_threshold.c: unit tests of the threshold rule (rules/rule.h,
 * state machine described atop rules/rule_threshold.c): for/pending, the
 * hysteresis band, the clear delay (clear_for_ms), sample quality, below
 * rules, UPDATE throttling, ordering, config validation, and a randomized run
 * against an independent model.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/gen/gen.h"
#include "tests/unit/t.h"

#include <stdint.h>

#define SEC 1000
#define MIN (60 * SEC)

/* A rule under test and counts of what it emitted. */
typedef struct rig {
    rule_threshold_cfg_t cfg;
    rule_threshold_state_t st;
    rule_action_t last; /* the last action that was not NONE */
    int n[4];           /* actions emitted, by kind */
} rig_t;

static void rig_init(rig_t *r, int above, double limit, double hyst, int64_t for_ms,
                     int64_t update_ms)
{
    char err[128];

    *r = (rig_t){.cfg = {above, limit, hyst, for_ms, update_ms, 0}};
    T_CHECK_EQ_INT(rule_threshold_validate(&r->cfg, err, sizeof(err)), 0);
    rule_threshold_init(&r->st);
}

static rule_action_kind_t feed_q(rig_t *r, int64_t ts, double v, gw_quality_t q)
{
    gw_sample_t s = {.point_id = 7, .ts_ms = ts, .value = v, .quality = q, .mono_ms = ts};
    rule_action_t act = {.kind = RULE_ACT_NONE};
    rule_action_kind_t k = rule_threshold_eval(&r->cfg, &r->st, &s, &act);

    r->n[k]++;
    if (k != RULE_ACT_NONE) {
        T_CHECK_EQ_INT(act.kind, k);
        r->last = act;
    }
    return k;
}

static rule_action_kind_t feed(rig_t *r, int64_t ts, double v)
{
    return feed_q(r, ts, v, GW_Q_GOOD);
}

T_TEST(names)
{
    T_CHECK_STR(rule_action_name(RULE_ACT_NONE), "none");
    T_CHECK_STR(rule_action_name(RULE_ACT_OPEN), "open");
    T_CHECK_STR(rule_action_name(RULE_ACT_UPDATE), "update");
    T_CHECK_STR(rule_action_name(RULE_ACT_RESOLVE), "resolve");
    T_CHECK_STR(rule_action_name((rule_action_kind_t)42), "unknown");
    T_CHECK_STR(rule_state_name(RULE_ST_NORMAL), "normal");
    T_CHECK_STR(rule_state_name(RULE_ST_PENDING), "pending");
    T_CHECK_STR(rule_state_name(RULE_ST_FIRING), "firing");
    T_CHECK_STR(rule_state_name((rule_state_kind_t)-1), "unknown");
}

/* Above the limit for less than for_ms, then back: nothing. Held for for_ms:
 * one OPEN on the sample that completes the duration. */
T_TEST(for_duration)
{
    rig_t r;
    int64_t t;

    rig_init(&r, 1, 4.5, 0.3, 10 * SEC, 0);
    T_CHECK_EQ_INT(feed(&r, 0, 4.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 1 * SEC, 4.5), RULE_ACT_NONE); /* at the limit: not above */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    for (t = 2; t <= 11; t++) /* 9 s above: one short of for_ms */
        T_CHECK_EQ_INT(feed(&r, t * SEC, 6.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_PENDING);
    T_CHECK_EQ_INT(r.st.since_ms, 2 * SEC);
    T_CHECK_EQ_INT(feed(&r, 12 * SEC - 1, 6.0), RULE_ACT_NONE); /* 1 ms short */
    T_CHECK_EQ_INT(feed(&r, 12 * SEC - 1, 4.4), RULE_ACT_NONE); /* inside the band */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(feed(&r, 12 * SEC, 6.0), RULE_ACT_NONE); /* restarts, does not open */
    T_CHECK_EQ_INT(r.st.since_ms, 12 * SEC);

    /* Held from 20 s: values rise to a peak of 5.2 and fall back. */
    T_CHECK_EQ_INT(feed(&r, 13 * SEC, 4.0), RULE_ACT_NONE);
    {
        static const double v[] = {4.6, 4.8, 5.0, 5.2, 4.9, 4.7, 4.6, 4.6, 4.55, 4.6};
        for (t = 0; t < (int64_t)GW_ARRAY_SIZE(v); t++)
            T_CHECK_EQ_INT(feed(&r, (20 + t) * SEC, v[t]), RULE_ACT_NONE);
    }
    T_CHECK_EQ_INT(feed(&r, 30 * SEC, 4.51), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.ts_ms, 30 * SEC);
    T_CHECK_EQ_INT(r.last.since_ms, 20 * SEC);
    T_CHECK_EQ_INT(r.last.held_ms, 10 * SEC);
    T_CHECK_NEAR(r.last.peak, 5.2, 0);
    T_CHECK_NEAR(r.last.value, 4.51, 0);
    T_CHECK_NEAR(r.last.limit, 4.5, 0);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_FIRING);
    for (t = 31; t < 100; t++)
        feed(&r, t * SEC, 5.0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_UPDATE], 0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
}

/* A value flapping across the limit every second never holds for for_ms;
 * once firing, flapping inside the hysteresis band neither resolves nor
 * re-opens; only a drop past limit - hysteresis resolves, once. */
T_TEST(flapping)
{
    rig_t r;
    int64_t t;

    rig_init(&r, 1, 4.5, 0.3, 10 * SEC, 0);
    for (t = 0; t < 3600; t++) /* ends on 4.4 */
        feed(&r, t * SEC, t % 2 ? 4.4 : 4.6);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 0);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(r.st.samples, 3600);

    for (; t < 3611; t++) /* held above for 10 s */
        feed(&r, t * SEC, 4.7);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.last.ts_ms, 3610 * SEC);
    for (; t < 2 * 3600; t++) /* an hour of flapping inside the band */
        feed(&r, t * SEC, t % 2 ? 4.6 : 4.4);
    T_CHECK_EQ_INT(feed(&r, t++ * SEC, 4.21), RULE_ACT_NONE); /* just inside */
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_FIRING);

    T_CHECK_EQ_INT(feed(&r, t * SEC, 4.1), RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.last.since_ms, 3600 * SEC);
    T_CHECK_EQ_INT(r.last.held_ms, (t - 3600) * SEC);
    T_CHECK_NEAR(r.last.peak, 4.7, 0);
    T_CHECK_NEAR(r.last.value, 4.1, 0);
    for (t++; t < 3 * 3600; t++)
        feed(&r, t * SEC, 4.0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_UPDATE], 0);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
}

/* Exactly limit - hysteresis resolves (the clear test is <=). */
T_TEST(resolve_boundary)
{
    rig_t r;

    rig_init(&r, 1, 10.0, 2.0, 0, 0);
    T_CHECK_EQ_INT(feed(&r, 0, 11.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(feed(&r, 1, 8.000001), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 2, 8.0), RULE_ACT_RESOLVE);
}

/* The clear delay: past the hysteresis at every good sample for
 * clear_for_ms before RESOLVE; a sample back inside the band cancels the
 * clearing (the same condition goes on: no RESOLVE, no new OPEN); bad
 * samples neither cancel nor complete it; the exact duration clears. */
T_TEST(clear_for_ms)
{
    rig_t r;

    rig_init(&r, 1, 4.5, 0.5, 0, 0);
    r.cfg.clear_for_ms = 60 * SEC;
    T_CHECK_EQ_INT(feed(&r, 0, 5.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(feed(&r, 10 * SEC, 3.9), RULE_ACT_NONE); /* past the band: clearing */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_FIRING);
    T_CHECK_EQ_INT(r.st.clearing, 1);
    T_CHECK_EQ_INT(r.st.clear_since_ms, 10 * SEC);
    T_CHECK_EQ_INT(feed(&r, 40 * SEC, 4.2), RULE_ACT_NONE); /* inside the band: cancelled */
    T_CHECK_EQ_INT(r.st.clearing, 0);
    T_CHECK_EQ_INT(feed(&r, 50 * SEC, 3.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.clear_since_ms, 50 * SEC);
    T_CHECK_EQ_INT(feed_q(&r, 80 * SEC, 9.0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 90 * SEC, NAN), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.clearing, 1);
    T_CHECK_EQ_INT(feed(&r, 110 * SEC - 1, 3.0), RULE_ACT_NONE); /* 1 ms short */
    T_CHECK_EQ_INT(feed(&r, 110 * SEC, 3.0), RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.last.held_ms, 110 * SEC);
    T_CHECK_NEAR(r.last.peak, 5.0, 0);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(r.st.clearing, 0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);

    /* No UPDATE while clearing; they resume once back in the band. */
    rig_init(&r, 1, 4.5, 0.5, 0, 10 * SEC);
    r.cfg.clear_for_ms = 60 * SEC;
    T_CHECK_EQ_INT(feed(&r, 0, 5.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(feed(&r, 20 * SEC, 3.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 30 * SEC, 3.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 40 * SEC, 4.4), RULE_ACT_UPDATE);

    /* Below rules mirror it: clears at >= limit + hysteresis, held. */
    rig_init(&r, 0, 10.0, 2.0, 0, 0);
    r.cfg.clear_for_ms = 5 * SEC;
    T_CHECK_EQ_INT(feed(&r, 0, 9.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(feed(&r, 1 * SEC, 12.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 3 * SEC, 11.9), RULE_ACT_NONE); /* in the band */
    T_CHECK_EQ_INT(feed(&r, 4 * SEC, 12.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 9 * SEC, 12.5), RULE_ACT_RESOLVE);

    /* A negative delay is refused, by name. */
    {
        char err[128];
        rule_threshold_cfg_t c = {1, 4.5, 0.5, 0, 0, -1};
        T_CHECK_EQ_INT(rule_threshold_validate(&c, err, sizeof(err)), GW_EINVAL);
        T_CHECK(strstr(err, "clear_for_ms") != NULL);
    }
}

/* The chatter of a threshold at its limit (10-minute samples hovering 0.02
 * above 4.5 with 0.2 noise, hysteresis 0.5, for 5 s, for 35 days): with
 * single-sample clears it clears and retriggers again and again, each a
 * work-order event; with the default clear delay (a minute: two samples on
 * the good side in a row) it is one firing condition all along. */
T_TEST(hovering_at_the_limit)
{
    for (int pass = 0; pass < 2; pass++) {
        gen_t g = {.shape = GEN_FLAT, .base = 4.52, .noise_sd = 0.2, .rng = 2024};
        rig_t r;

        rig_init(&r, 1, 4.5, 0.5, 5 * SEC, 0);
        r.cfg.clear_for_ms = pass ? 60 * SEC : 0;
        for (int64_t t = 0; t < 35LL * 24 * 60 * MIN; t += 10 * MIN)
            feed(&r, t, gen_value(&g, t));
        fprintf(stderr, "  clear_for_ms %d: %d open, %d resolve\n", pass ? 60000 : 0,
                r.n[RULE_ACT_OPEN], r.n[RULE_ACT_RESOLVE]);
        if (pass) {
            T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
            T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);
        } else {
            T_CHECK(r.n[RULE_ACT_OPEN] >= 10); /* what the delay is for */
        }
    }
}

/* Samples that are not good neither reset nor count toward the duration. */
T_TEST(quality_while_pending)
{
    rig_t r;
    int64_t t;

    rig_init(&r, 1, 4.5, 0.3, 10 * SEC, 0);
    T_CHECK_EQ_INT(feed(&r, 0, 5.0), RULE_ACT_NONE);
    for (t = 1; t < 20; t++) { /* a dead device for 19 s: zeros and stale copies */
        T_CHECK_EQ_INT(feed_q(&r, t * SEC, 0.0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed_q(&r, t * SEC, 5.0, GW_Q_STALE), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed_q(&r, t * SEC, 9.0, GW_Q_BAD_CONFIG), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed(&r, t * SEC, NAN), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed(&r, t * SEC, -INFINITY), RULE_ACT_NONE);
        T_CHECK_EQ_INT(r.st.st, RULE_ST_PENDING);
        T_CHECK_EQ_INT(r.st.since_ms, 0);
    }
    T_CHECK_EQ_INT(r.st.samples, 1);
    /* The next good reading on the firing side completes the duration. */
    T_CHECK_EQ_INT(feed(&r, 20 * SEC, 5.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.since_ms, 0);
    T_CHECK_EQ_INT(r.last.held_ms, 20 * SEC);

    /* Same gap, but the next good reading is below the limit: cancelled. */
    rig_init(&r, 1, 4.5, 0.3, 10 * SEC, 0);
    feed(&r, 0, 5.0);
    for (t = 1; t < 20; t++)
        feed_q(&r, t * SEC, 0.0, GW_Q_COMM_ERROR);
    T_CHECK_EQ_INT(feed(&r, 20 * SEC, 4.5), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(feed(&r, 25 * SEC, 5.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.since_ms, 25 * SEC);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 0);

    /* Neither does a bad sample start a condition, even far past the limit. */
    rig_init(&r, 1, 4.5, 0.3, 0, 0);
    T_CHECK_EQ_INT(feed_q(&r, 0, 99.0, GW_Q_STALE), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 0, INFINITY), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
}

/* A dead device reading 0 does not resolve a firing condition, nor update it. */
T_TEST(quality_while_firing)
{
    rig_t r;
    int64_t t;

    rig_init(&r, 1, 4.5, 0.3, 0, 1 * SEC);
    T_CHECK_EQ_INT(feed(&r, 0, 7.1), RULE_ACT_OPEN);
    for (t = 1; t < 100; t++) {
        T_CHECK_EQ_INT(feed_q(&r, t * SEC, 0.0, GW_Q_COMM_ERROR), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed_q(&r, t * SEC, 0.0, GW_Q_STALE), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed(&r, t * SEC, NAN), RULE_ACT_NONE);
        T_CHECK_EQ_INT(feed(&r, t * SEC, -INFINITY), RULE_ACT_NONE);
    }
    T_CHECK_EQ_INT(r.st.st, RULE_ST_FIRING);
    T_CHECK_NEAR(r.st.peak, 7.1, 0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_UPDATE], 0);
    T_CHECK_EQ_INT(feed(&r, 100 * SEC, 5.0), RULE_ACT_UPDATE);
    T_CHECK_EQ_INT(feed(&r, 101 * SEC, 0.0), RULE_ACT_RESOLVE);
}

/* Below rules mirror every comparison (a tank level under 10 %). */
T_TEST(below)
{
    rig_t r;

    rig_init(&r, 0, 10.0, 2.0, 5 * SEC, 0);
    T_CHECK_EQ_INT(feed(&r, 0, 12.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 1 * SEC, 10.0), RULE_ACT_NONE); /* at the limit: not below */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(feed(&r, 2 * SEC, 9.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 3 * SEC, 11.0), RULE_ACT_NONE); /* above: cancels */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_NORMAL);
    T_CHECK_EQ_INT(feed(&r, 4 * SEC, 9.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 5 * SEC, 7.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 6 * SEC, 8.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 9 * SEC, 9.5), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.since_ms, 4 * SEC);
    T_CHECK_EQ_INT(r.last.held_ms, 5 * SEC);
    T_CHECK_NEAR(r.last.peak, 7.0, 0); /* the minimum */
    T_CHECK_EQ_INT(feed(&r, 10 * SEC, 6.5), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 11 * SEC, 10.0), RULE_ACT_NONE); /* in the band */
    T_CHECK_EQ_INT(feed(&r, 12 * SEC, 11.99), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 13 * SEC, 12.0), RULE_ACT_RESOLVE);
    T_CHECK_NEAR(r.last.peak, 6.5, 0);
    T_CHECK_EQ_INT(r.last.held_ms, 9 * SEC);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 1);
}

/* for_ms == 0 opens on the first sample past the limit, and again after a
 * resolve. */
T_TEST(for_zero)
{
    rig_t r;

    rig_init(&r, 1, 80.0, 5.0, 0, 0);
    T_CHECK_EQ_INT(feed(&r, 1000, 79.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 2000, 81.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.since_ms, 2000);
    T_CHECK_EQ_INT(r.last.held_ms, 0);
    T_CHECK_NEAR(r.last.peak, 81.0, 0);
    T_CHECK_EQ_INT(feed(&r, 3000, 75.0), RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.last.held_ms, 1000);
    T_CHECK_EQ_INT(feed(&r, 4000, 80.5), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.since_ms, 4000);
    T_CHECK_NEAR(r.last.peak, 80.5, 0); /* the previous condition's peak is gone */
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 2);
}

/* UPDATE at most once per update_ms, measured from the last OPEN/UPDATE,
 * also while inside the band; never with update_ms == 0. */
T_TEST(update_throttle)
{
    rig_t r;
    int64_t t, prev;

    rig_init(&r, 1, 4.5, 0.3, 0, 1 * MIN);
    T_CHECK_EQ_INT(feed(&r, 0, 5.0), RULE_ACT_OPEN);
    prev = 0;
    for (t = 7 * SEC; t <= 10 * MIN; t += 7 * SEC) {
        double v = (t / SEC) % 3 == 0 ? 4.3 : 5.0 + t / (double)MIN; /* rises to 15 */
        rule_action_kind_t k = feed(&r, t, v);

        T_CHECK(k == RULE_ACT_NONE || k == RULE_ACT_UPDATE);
        if (k == RULE_ACT_UPDATE) {
            T_CHECK(t - prev >= 1 * MIN);
            T_CHECK(t - prev < 1 * MIN + 7 * SEC); /* the first sample once due */
            T_CHECK_EQ_INT(r.last.ts_ms, t);
            T_CHECK_EQ_INT(r.last.since_ms, 0);
            T_CHECK_EQ_INT(r.last.held_ms, t);
            T_CHECK(r.last.peak >= r.last.value);
            prev = t;
        }
    }
    T_CHECK_EQ_INT(r.n[RULE_ACT_UPDATE], 9); /* at 63, 126, ..., 567 s */
    T_CHECK_EQ_INT(r.last.ts_ms, 567 * SEC);
    T_CHECK_NEAR(r.st.peak, 5.0 + 595 * SEC / (double)MIN, 1e-9); /* max of the rise */
    T_CHECK_EQ_INT(r.n[RULE_ACT_RESOLVE], 0);

    /* An exact multiple is due (the test is >=). */
    rig_init(&r, 1, 4.5, 0.3, 0, 1 * MIN);
    T_CHECK_EQ_INT(feed(&r, 0, 5.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(feed(&r, 1 * MIN - 1, 5.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 1 * MIN, 4.4), RULE_ACT_UPDATE);
    T_CHECK_EQ_INT(feed(&r, 2 * MIN - 1, 5.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 2 * MIN, 5.0), RULE_ACT_UPDATE);

    rig_init(&r, 1, 4.5, 0.3, 0, 0);
    for (t = 0; t < 24 * 60; t++)
        feed(&r, t * MIN, 6.0);
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);
    T_CHECK_EQ_INT(r.n[RULE_ACT_UPDATE], 0);
}

/* A sample older than the last good one is ignored; an equal ts is taken. */
T_TEST(out_of_order)
{
    rig_t r;

    rig_init(&r, 1, 4.5, 0.3, 10 * SEC, 0);
    T_CHECK_EQ_INT(feed(&r, 10 * SEC, 5.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, 5 * SEC, 4.0), RULE_ACT_NONE); /* would cancel */
    T_CHECK_EQ_INT(r.st.st, RULE_ST_PENDING);
    T_CHECK_EQ_INT(r.st.since_ms, 10 * SEC);
    T_CHECK_EQ_INT(r.st.samples, 1);
    T_CHECK_EQ_INT(feed(&r, 21 * SEC, 5.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.held_ms, 11 * SEC);
    T_CHECK_EQ_INT(feed(&r, 20 * SEC, 1.0), RULE_ACT_NONE); /* would resolve */
    T_CHECK_EQ_INT(feed(&r, 21 * SEC - 1, 99.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.st, RULE_ST_FIRING);
    T_CHECK_NEAR(r.st.peak, 5.0, 0);
    T_CHECK_EQ_INT(feed(&r, 21 * SEC, 1.0), RULE_ACT_RESOLVE); /* same ts: taken */

    /* A bad sample does not move the clock: an older good one still counts. */
    rig_init(&r, 1, 4.5, 0.3, 0, 0);
    feed(&r, 10 * SEC, 1.0);
    feed_q(&r, 30 * SEC, 1.0, GW_Q_COMM_ERROR);
    T_CHECK_EQ_INT(feed(&r, 20 * SEC, 5.0), RULE_ACT_OPEN);
}

/* Timestamps far apart do not overflow the elapsed-time arithmetic. */
T_TEST(extreme_timestamps)
{
    rig_t r;

    rig_init(&r, 1, 0.0, 0.0, INT64_MAX, 1);
    T_CHECK_EQ_INT(feed(&r, INT64_MIN, 1.0), RULE_ACT_NONE);
    T_CHECK_EQ_INT(feed(&r, -2, 1.0), RULE_ACT_NONE); /* held INT64_MAX - 1 */
    T_CHECK_EQ_INT(feed(&r, -1, 1.0), RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.held_ms, INT64_MAX);
    T_CHECK_EQ_INT(feed(&r, INT64_MAX, 1.0), RULE_ACT_UPDATE);
    T_CHECK_EQ_INT(r.last.held_ms, INT64_MAX); /* saturated */
}

/* Each bad parameter is rejected, and the message names it and its value. */
T_TEST(validate)
{
    static const struct {
        rule_threshold_cfg_t cfg;
        const char *name;
        const char *value;
    } bad[] = {
        {{1, 4.5, -1, 0, 0, 0}, "hysteresis", "-1"},
        {{1, 4.5, NAN, 0, 0, 0}, "hysteresis", "nan"},
        {{1, 4.5, INFINITY, 0, 0, 0}, "hysteresis", "inf"},
        {{1, NAN, 0.3, 0, 0, 0}, "limit", "nan"},
        {{0, -INFINITY, 0.3, 0, 0, 0}, "limit", "-inf"},
        {{1, 4.5, 0.3, -1, 0, 0}, "for_ms", "-1"},
        {{1, 4.5, 0.3, INT64_MIN, 0, 0}, "for_ms", "-9223372036854775808"},
        {{1, 4.5, 0.3, 0, -5000, 0}, "update_ms", "-5000"},
        {{1, 4.5, 0.3, 0, 0, INT64_MIN}, "clear_for_ms", "-9223372036854775808"},
    };
    static const rule_threshold_cfg_t good[] = {
        {1, 4.5, 0.3, 10000, 300000, 60000},
        {0, -40.0, 0, 0, 0, 0},
        {7, 0, 1e300, INT64_MAX, INT64_MAX, INT64_MAX},
    };
    char err[128], tiny[4];
    size_t i;

    for (i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        T_CHECK_EQ_INT(rule_threshold_validate(&bad[i].cfg, err, sizeof(err)), GW_EINVAL);
        T_CHECK(strncmp(err, bad[i].name, strlen(bad[i].name)) == 0);
        T_CHECK(err[strlen(bad[i].name)] == ':');
        T_CHECK(strstr(err, bad[i].value) != NULL);
        T_CHECK_EQ_INT(rule_threshold_validate(&bad[i].cfg, NULL, 0), GW_EINVAL);
        T_CHECK_EQ_INT(rule_threshold_validate(&bad[i].cfg, tiny, sizeof(tiny)), GW_EINVAL);
        T_CHECK_EQ_INT(strlen(tiny), sizeof(tiny) - 1);
    }
    rule_threshold_validate(&bad[0].cfg, err, sizeof(err));
    T_CHECK_STR(err, "hysteresis: must be >= 0, got -1");
    for (i = 0; i < GW_ARRAY_SIZE(good); i++) {
        strcpy(err, "stale");
        T_CHECK_EQ_INT(rule_threshold_validate(&good[i], err, sizeof(err)), 0);
        T_CHECK_STR(err, "");
    }
}

/* xorshift64*: a fixed, portable sequence so that a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static double rng_unit(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* The fuzz test's model of a rule, kept in different terms: the start of
 * the current run of good samples on the firing side, and whether open. */
typedef struct model {
    int pending, open, clearing;
    int64_t since, last_emit, last_good_ts, clear_since;
    double peak;
    int seen_good;
} model_t;

static rule_action_kind_t model_eval(const rule_threshold_cfg_t *c, model_t *m,
                                     const gw_sample_t *s)
{
    int fire = c->above ? s->value > c->limit : s->value < c->limit;
    int clear =
        c->above ? s->value <= c->limit - c->hysteresis : s->value >= c->limit + c->hysteresis;

    if (s->quality != GW_Q_GOOD || isnan(s->value) || isinf(s->value))
        return RULE_ACT_NONE;
    if (m->seen_good && s->ts_ms < m->last_good_ts)
        return RULE_ACT_NONE;
    m->seen_good = 1;
    m->last_good_ts = s->ts_ms;
    if (m->open && clear) {
        if (!m->clearing)
            m->clear_since = s->ts_ms;
        m->clearing = 1;
        if (s->ts_ms - m->clear_since < c->clear_for_ms)
            return RULE_ACT_NONE;
        m->open = m->pending = m->clearing = 0;
        return RULE_ACT_RESOLVE;
    }
    m->clearing = 0;
    if (!m->open && !fire) {
        m->pending = 0;
        return RULE_ACT_NONE;
    }
    if (!m->open && !m->pending) {
        m->pending = 1;
        m->since = s->ts_ms;
        m->peak = s->value;
    }
    m->peak = c->above ? fmax(m->peak, s->value) : fmin(m->peak, s->value);
    if (!m->open && s->ts_ms - m->since >= c->for_ms) {
        m->open = 1;
        m->last_emit = s->ts_ms;
        return RULE_ACT_OPEN;
    }
    if (m->open && c->update_ms > 0 && s->ts_ms - m->last_emit >= c->update_ms) {
        m->last_emit = s->ts_ms;
        return RULE_ACT_UPDATE;
    }
    return RULE_ACT_NONE;
}

static int same_state(const rule_threshold_state_t *a, const rule_threshold_state_t *b)
{
    return a->st == b->st && a->since_ms == b->since_ms && a->last_update_ms == b->last_update_ms &&
           memcmp(&a->peak, &b->peak, sizeof(a->peak)) == 0 && a->samples == b->samples &&
           a->last_ts_ms == b->last_ts_ms;
}

/* A random sample near the limit: mostly good, some of bad quality, some not
 * finite, some exactly at the limit, some older than the one before. */
static gw_sample_t fuzz_sample(const rule_threshold_cfg_t *c, int64_t *ts, double *v)
{
    gw_sample_t s;

    if (rng() % 8 == 0)
        *ts -= (int64_t)(rng() % 5000);
    else
        *ts += (int64_t)(rng() % 3000);
    *v = c->limit + 0.9 * (*v - c->limit) + (rng_unit() - 0.5) * (1 + 2 * c->hysteresis);
    if (rng() % 64 == 0)
        *v = c->limit;
    s = (gw_sample_t){
        .point_id = 1, .ts_ms = *ts, .value = *v, .quality = GW_Q_GOOD, .mono_ms = *ts};
    switch (rng() % 16) {
    case 0:
        s.quality = (gw_quality_t)(1 + rng() % 3);
        if (rng() % 2)
            s.value = 0.0;
        break;
    case 1:
        s.value = rng() % 2 ? NAN : (rng() % 2 ? INFINITY : -INFINITY);
        break;
    }
    return s;
}

/* 1e6 random samples over 1000 random configs, checked against the model
 * and against the invariants: OPEN and RESOLVE alternate starting with OPEN,
 * UPDATE only in between and never closer than update_ms, evidence that
 * matches the sample and the condition. Stops at the first divergence. */
T_TEST(fuzz)
{
    int cfgi, i, diverged = 0;
    int n[4] = {0, 0, 0, 0};

    for (cfgi = 0; cfgi < 1000 && !diverged; cfgi++) {
        rule_threshold_cfg_t c;
        rule_threshold_state_t st;
        model_t m = {0};
        int64_t ts, last_emit = 0;
        double v;
        int open = 0;

        c.above = (int)(rng() % 2);
        c.limit = (rng_unit() - 0.5) * 20;
        c.hysteresis = rng() % 4 ? rng_unit() * 3 : 0;
        c.for_ms = rng() % 4 ? (int64_t)(rng() % 20000) : 0;
        c.update_ms = rng() % 3 ? (int64_t)(rng() % 30000) : 0;
        c.clear_for_ms = rng() % 2 ? (int64_t)(rng() % 10000) : 0;
        T_CHECK_EQ_INT(rule_threshold_validate(&c, NULL, 0), 0);
        rule_threshold_init(&st);
        ts = (int64_t)(rng() % 2000000000000ull) - 1000000000000ll;
        v = c.limit;

        for (i = 0; i < 1000; i++) {
            gw_sample_t s = fuzz_sample(&c, &ts, &v);
            rule_threshold_state_t before = st;
            rule_action_t act = {.kind = RULE_ACT_NONE};
            rule_action_kind_t k = rule_threshold_eval(&c, &st, &s, &act);
            rule_action_kind_t want = model_eval(&c, &m, &s);

            n[k]++;
            t_checks++;
            if (k != want || (k != RULE_ACT_NONE && act.kind != k)) {
                fprintf(stderr, "fuzz cfg %d sample %d: got %s, want %s\n", cfgi, i,
                        rule_action_name(k), rule_action_name(want));
                t_failures++;
                diverged = 1;
                break;
            }
            if (k == RULE_ACT_NONE) {
                if (s.quality != GW_Q_GOOD || !isfinite(s.value))
                    T_CHECK(same_state(&before, &st));
                continue;
            }
            /* The action sequence alone: OPEN (UPDATE*) RESOLVE, repeated. */
            T_CHECK(k == RULE_ACT_OPEN ? !open : open);
            if (k == RULE_ACT_UPDATE)
                T_CHECK(c.update_ms > 0 && act.ts_ms - last_emit >= c.update_ms);
            if (k != RULE_ACT_RESOLVE)
                last_emit = act.ts_ms;
            open = k != RULE_ACT_RESOLVE;
            T_CHECK_EQ_INT(st.st, open ? RULE_ST_FIRING : RULE_ST_NORMAL);
            /* Evidence. */
            T_CHECK(s.quality == GW_Q_GOOD && isfinite(s.value));
            T_CHECK_EQ_INT(act.ts_ms, s.ts_ms);
            T_CHECK(act.value == s.value);
            T_CHECK(act.limit == c.limit);
            T_CHECK(act.peak == m.peak);
            T_CHECK_EQ_INT(act.since_ms, m.since);
            T_CHECK_EQ_INT(act.held_ms, act.ts_ms - act.since_ms);
            T_CHECK(act.held_ms >= c.for_ms);
            T_CHECK(c.above ? act.peak > c.limit : act.peak < c.limit);
            if (k != RULE_ACT_RESOLVE)
                T_CHECK(c.above ? act.peak >= act.value : act.peak <= act.value);
        }
    }
    /* The run must have exercised every action, or it proves little. */
    fprintf(stderr, "fuzz: %d open, %d update, %d resolve\n", n[1], n[2], n[3]);
    T_CHECK(n[RULE_ACT_OPEN] > 1000 && n[RULE_ACT_UPDATE] > 1000 && n[RULE_ACT_RESOLVE] > 1000);
}

int main(void)
{
    T_RUN(names);
    T_RUN(for_duration);
    T_RUN(flapping);
    T_RUN(resolve_boundary);
    T_RUN(clear_for_ms);
    T_RUN(hovering_at_the_limit);
    T_RUN(quality_while_pending);
    T_RUN(quality_while_firing);
    T_RUN(below);
    T_RUN(for_zero);
    T_RUN(update_throttle);
    T_RUN(out_of_order);
    T_RUN(extreme_timestamps);
    T_RUN(validate);
    T_RUN(fuzz);
    return t_done();
}
