/*
 * test_rule_time.c: the rules on two clocks (rules/rule.h; docs/architecture.md,
 * "Time"). Samples carry a wall time and a monotonic time; these tests step
 * the wall clock as NTP does (the monotonic one goes on) and check that no
 * rule goes blind after a step back, that no hold is cut short by a step
 * forward, that ages and rates ignore steps, and the state's life outside
 * samples: reconciling with the ledger's active orders (rule_reconcile) and
 * bringing a saved state onto a new run's clocks (rule_rebase).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/unit/t.h"

#define SEC    1000LL
#define HOUR   (3600 * SEC)
#define DAY    (24 * HOUR)
#define WALL0  1796601600000LL /* 2026-12-06T00:00:00Z */
#define MONO0  5000000LL       /* some time after boot */
#define WALLST (8 * HOUR)      /* the step */

typedef struct rig {
    rule_cfg_t c;
    rule_state_t st;
    rule_action_t last;
    int n[4];
} rig_t;

static void rig(rig_t *r, rule_kind_t kind)
{
    *r = (rig_t){0};
    rule_cfg_defaults(&r->c, kind);
}

static void rig_ready(rig_t *r)
{
    char err[128];
    T_CHECK_EQ_INT(rule_validate(&r->c, err, sizeof(err)), 0);
    rule_init(&r->c, &r->st);
}

static rule_action_kind_t feed_q(rig_t *r, int64_t wall, int64_t mono, double v, gw_quality_t q)
{
    gw_sample_t s = {.point_id = 1, .ts_ms = wall, .value = v, .quality = q, .mono_ms = mono};
    rule_action_t a;
    rule_action_kind_t k = rule_eval(&r->c, &r->st, &s, &a);
    r->n[k]++;
    if (k != RULE_ACT_NONE)
        r->last = a;
    return k;
}

static rule_action_kind_t feed(rig_t *r, int64_t wall, int64_t mono, double v)
{
    return feed_q(r, wall, mono, v, GW_Q_GOOD);
}

/* 8 h back: a fire zone that goes to alarm after the step opens at once
 * (before, samples "older than the last one" were ignored until the wall
 * clock caught up). */
T_TEST(step_back_fire_zone_opens_at_once)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0;

    rig(&r, RULE_STATE);
    r.c.u.state.use_bit = 1;
    r.c.u.state.bit = 0;
    r.c.alarm.for_ms = 0;
    rig_ready(&r);
    for (int i = 0; i < 10; i++, m += SEC, w += SEC)
        T_CHECK(feed(&r, w, m, 0) == RULE_ACT_NONE);
    w -= WALLST;
    T_CHECK(feed(&r, w, m, 0) == RULE_ACT_NONE);
    m += SEC, w += SEC;
    T_CHECK(feed(&r, w, m, 1) == RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.ts_ms, w); /* stamped with the (stepped) wall time */
    T_CHECK_EQ_INT(r.last.held_ms, 0);
    m += SEC, w += SEC;
    T_CHECK(feed(&r, w, m, 0) == RULE_ACT_RESOLVE);
    /* A sample older on the monotonic clock is still ignored. */
    T_CHECK(feed(&r, w + HOUR, m - 1, 1) == RULE_ACT_NONE);
}

/* 8 h forward during the hold of a threshold with for_ms 20 s: it fires
 * 20 s of monotonic time after the condition began, not at the step. */
T_TEST(step_forward_does_not_cut_a_hold_short)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0, began_wall = WALL0;

    rig(&r, RULE_THRESHOLD);
    r.c.alarm.limit = 4.5;
    r.c.alarm.hysteresis = 0.5;
    r.c.alarm.for_ms = 20 * SEC;
    rig_ready(&r);
    T_CHECK(feed(&r, w, m, 6) == RULE_ACT_NONE); /* the condition begins */
    for (int i = 1; i < 20; i++) {
        m += SEC;
        w += i == 1 ? WALLST + SEC : SEC;
        T_CHECK(feed(&r, w, m, 6) == RULE_ACT_NONE);
    }
    m += SEC, w += SEC;
    T_CHECK(feed(&r, w, m, 6) == RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.held_ms, 20 * SEC);
    /* since is a wall time for people: the sample's wall time minus the hold */
    T_CHECK_EQ_INT(r.last.since_ms, w - 20 * SEC);
    T_CHECK(r.last.since_ms != began_wall); /* the step lies inside the hold */
    /* update_ms on the monotonic clock too: a step is not a minute */
    r.c.alarm.update_ms = 60 * SEC;
    m += SEC, w += 2 * WALLST;
    T_CHECK(feed(&r, w, m, 6) == RULE_ACT_NONE);
    m += 60 * SEC, w += 60 * SEC;
    T_CHECK(feed(&r, w, m, 6) == RULE_ACT_UPDATE);
}

/* A stale rule ages on the monotonic clock; a rate rule sees no rate in a
 * step. */
T_TEST(ages_and_rates_ignore_steps)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0;

    rig(&r, RULE_STALE);
    r.c.u.stale.after_ms = 10 * SEC;
    rig_ready(&r);
    T_CHECK(feed(&r, w, m, 1) == RULE_ACT_NONE);
    m += SEC, w += WALLST; /* a big step forward: not an age */
    T_CHECK(feed_q(&r, w, m, 0, GW_Q_COMM_ERROR) == RULE_ACT_NONE);
    m += 8 * SEC, w -= 2 * WALLST; /* and back */
    T_CHECK(feed_q(&r, w, m, 0, GW_Q_COMM_ERROR) == RULE_ACT_NONE);
    m += SEC, w += SEC;
    T_CHECK(feed_q(&r, w, m, 0, GW_Q_COMM_ERROR) == RULE_ACT_OPEN);
    T_CHECK_EQ_INT(r.last.derived, 10 * SEC);

    rig(&r, RULE_RATE);
    r.c.alarm.limit = 1; /* per minute */
    r.c.u.rate.window_ms = 60 * SEC;
    rig_ready(&r);
    m = MONO0, w = WALL0;
    for (int i = 0; i < 120; i++, m += SEC, w += i == 60 ? HOUR : SEC)
        T_CHECK(feed(&r, w, m, 10 + i * 0.001) == RULE_ACT_NONE);
    T_CHECK(r.n[RULE_ACT_OPEN] == 0);
}

/* A trend keeps its days in order when the wall clock steps back: inside a
 * day the open day goes on; past it the days in the future are dropped and
 * it learns on. */
T_TEST(trend_days_survive_a_step_back)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0 + 12 * HOUR;

    rig(&r, RULE_TREND);
    r.c.u.trend.limit = 4.5;
    r.c.u.trend.learn_n = 10;
    rig_ready(&r);
    for (int i = 0; i < 5 * 24; i++, m += HOUR, w += HOUR)
        feed(&r, w, m, 1.0);
    T_CHECK_EQ_INT(r.st.u.trend.dn, 5);
    int64_t day = r.st.u.trend.day;
    feed(&r, w - WALLST, m, 1.0); /* back within the open day, or the one before */
    T_CHECK_EQ_INT(r.st.u.trend.day, day);
    T_CHECK_EQ_INT(r.st.u.trend.dn, 5);
    m += HOUR;
    feed(&r, w - 3 * DAY, m, 1.0); /* back three days: the later days are gone */
    T_CHECK_EQ_INT(r.st.u.trend.dn, 0);
    T_CHECK_EQ_INT(r.st.u.trend.day, day - 3);
    T_CHECK_EQ_INT(r.st.u.trend.learned, 10); /* the baseline stays */
    for (int i = 1; i < 3 * 24; i++)
        feed(&r, w - 3 * DAY + i * HOUR, m + i * HOUR, 1.0);
    T_CHECK(r.st.u.trend.dn >= 2);
}

/* The ledger holds an active order the state does not know (the state was
 * saved before it fired): the rule starts firing, clears it through its
 * normal logic, and a new OPEN follows when the condition returns. */
T_TEST(reconcile_with_an_active_order)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0;

    rig(&r, RULE_THRESHOLD);
    r.c.alarm.limit = 4.5;
    r.c.alarm.hysteresis = 0.5;
    r.c.alarm.for_ms = 5 * SEC;
    r.c.alarm.clear_for_ms = 0; /* clears on a sample: the clocks are the point here */
    rig_ready(&r);
    T_CHECK(feed(&r, w, m, 1) == RULE_ACT_NONE);
    T_CHECK_EQ_INT(rule_reconcile(&r.c, &r.st, 1, m - 30 * SEC, w - 30 * SEC), 1);
    T_CHECK_EQ_INT(r.st.alarm.st, RULE_ST_FIRING);
    T_CHECK_EQ_INT(rule_reconcile(&r.c, &r.st, 1, m, w), 0); /* already so */
    m += SEC, w += SEC;
    T_CHECK(feed(&r, w, m, 4.2) == RULE_ACT_NONE); /* inside the hysteresis */
    m += SEC, w += SEC;
    T_CHECK(feed(&r, w, m, 3.9) == RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.last.held_ms, 32 * SEC);
    for (int i = 0; i < 6; i++) {
        m += SEC, w += SEC;
        feed(&r, w, m, 6);
    }
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 1);

    /* Firing with no active order (it was never committed, or closed):
     * back to NORMAL without an action; a lasting condition opens again. */
    T_CHECK_EQ_INT(rule_reconcile(&r.c, &r.st, 0, 0, 0), 1);
    T_CHECK_EQ_INT(r.st.alarm.st, RULE_ST_NORMAL);
    for (int i = 0; i < 6; i++) {
        m += SEC, w += SEC;
        feed(&r, w, m, 6);
    }
    T_CHECK_EQ_INT(r.n[RULE_ACT_OPEN], 2);

    /* a trend: firing follows the order too */
    rig(&r, RULE_TREND);
    r.c.u.trend.limit = 4.5;
    rig_ready(&r);
    T_CHECK_EQ_INT(rule_reconcile(&r.c, &r.st, 1, m, w), 1);
    T_CHECK_EQ_INT(r.st.u.trend.firing, 1);
    T_CHECK_EQ_INT(r.st.u.trend.opened_ms, w);
    T_CHECK_EQ_INT(rule_reconcile(&r.c, &r.st, 0, m, w), 1);
    T_CHECK_EQ_INT(r.st.u.trend.firing, 0);
}

/* A state saved by another run: its monotonic times move onto this run's
 * clock; one from the future (a report stamped 2200 before the bound, or a
 * file of the wall-clock era) is bounded by now, so the rule takes real
 * samples at once. */
T_TEST(rebase_moves_and_bounds_times)
{
    rig_t r;
    int64_t m = MONO0, w = WALL0, now = 100 * SEC, shift;

    rig(&r, RULE_THRESHOLD);
    r.c.alarm.limit = 4.5;
    r.c.alarm.for_ms = 5 * SEC;
    r.c.alarm.clear_for_ms = 0;
    rig_ready(&r);
    for (int i = 0; i < 10; i++, m += SEC, w += SEC)
        feed(&r, w, m, 6);
    T_CHECK_EQ_INT(r.st.alarm.st, RULE_ST_FIRING);
    /* saved at mono m; this run starts at mono now, 40 s later */
    shift = now - 40 * SEC - m;
    T_CHECK_EQ_INT(rule_rebase(&r.c, &r.st, shift, now, w + 40 * SEC, 300 * SEC), 0);
    T_CHECK_EQ_INT(r.st.alarm.last_ts_ms, now - 40 * SEC - SEC);
    T_CHECK_EQ_INT(r.st.alarm.since_ms, now - 40 * SEC - 10 * SEC);
    T_CHECK(feed(&r, w + 40 * SEC, now, 3) == RULE_ACT_RESOLVE);
    T_CHECK_EQ_INT(r.last.held_ms, 50 * SEC);

    /* the last sample's time lies in the future: bounded by now */
    r.st.alarm.last_ts_ms = 7258118400000LL; /* 2200, as a wall-clock state kept it */
    T_CHECK_EQ_INT(rule_rebase(&r.c, &r.st, 0, now + SEC, w, 300 * SEC), 1);
    T_CHECK_EQ_INT(r.st.alarm.last_ts_ms, now + SEC);
    T_CHECK(feed(&r, w + 41 * SEC, now + 2 * SEC, 6) == RULE_ACT_NONE);
    T_CHECK_EQ_INT(r.st.alarm.st, RULE_ST_PENDING); /* the sample was taken */

    /* a trend whose open day is in the future forgets its days */
    rig(&r, RULE_TREND);
    r.c.u.trend.limit = 4.5;
    rig_ready(&r);
    r.st.u.trend.day = 7258118400000LL / DAY;
    r.st.u.trend.dn = 3;
    r.st.u.trend.samples = 1;
    r.st.u.trend.last_ts_ms = 7258118400000LL;
    T_CHECK_EQ_INT(rule_rebase(&r.c, &r.st, 0, now, w, 300 * SEC), 1);
    T_CHECK_EQ_INT(r.st.u.trend.dn, 0);
    T_CHECK_EQ_INT(r.st.u.trend.day, -1);
    T_CHECK_EQ_INT(r.st.u.trend.last_ts_ms, now);

    /* a threshold clearing (past the band, waiting clear_for_ms) keeps its
     * clearing start on the new clock: the delay goes on, not over */
    rig(&r, RULE_THRESHOLD);
    r.c.alarm.limit = 4.5;
    rig_ready(&r);
    m = MONO0;
    feed(&r, w, m, 6);
    feed(&r, w + SEC, m + SEC, 3);
    T_CHECK_EQ_INT(r.st.alarm.clearing, 1);
    T_CHECK_EQ_INT(rule_rebase(&r.c, &r.st, now - m, now + SEC, w, 300 * SEC), 0);
    T_CHECK_EQ_INT(r.st.alarm.clear_since_ms, now + SEC);
    T_CHECK(feed(&r, w + 30 * SEC, now + 30 * SEC, 3) == RULE_ACT_NONE);
    T_CHECK(feed(&r, w + 61 * SEC, now + 61 * SEC, 3) == RULE_ACT_RESOLVE);
}

int main(void)
{
    T_RUN(step_back_fire_zone_opens_at_once);
    T_RUN(step_forward_does_not_cut_a_hold_short);
    T_RUN(ages_and_rates_ignore_steps);
    T_RUN(trend_days_survive_a_step_back);
    T_RUN(reconcile_with_an_active_order);
    T_RUN(rebase_moves_and_bounds_times);
    return t_done();
}
