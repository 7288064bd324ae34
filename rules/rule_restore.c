/*
 * rule_restore.c: what the daemon does to a rule's state from outside its
 * samples (contract in rules/rule.h): reconcile the alarm with the work
 * orders the ledger holds (after a restart or a reload the state may be
 * older than the ledger), and bring a state saved by another run onto this
 * run's clocks. Design in docs/architecture.md, "Rules: state across
 * reloads and restarts" and "Time".
 *
 * Which times are which: the alarm's since, last update, clearing start and
 * last sample, a stale rule's last good and first sample, a rate's readings
 * and a trend's last sample are monotonic (they order samples and measure
 * durations); a trend's days, opening and predictions are wall-clock
 * (calendar). Pure and allocation-free.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "rules/rule_int.h"

#include <stdint.h>

int rule_reconcile(const rule_cfg_t *cfg, rule_state_t *st, int active, int64_t since_mono,
                   int64_t since_wall)
{
    rule_threshold_state_t *a = &st->alarm;

    if (cfg->kind == RULE_TREND) {
        if (!!active == !!st->u.trend.firing)
            return 0;
        st->u.trend.firing = active != 0;
        if (active)
            st->u.trend.opened_ms = since_wall;
        return 1;
    }
    if (active && a->st != RULE_ST_FIRING) {
        a->st = RULE_ST_FIRING;
        a->clearing = 0;
        a->clear_since_ms = 0;
        a->since_ms = since_mono;
        a->last_update_ms = since_mono;
        a->peak = cfg->alarm.limit;
        return 1;
    }
    if (!active && a->st == RULE_ST_FIRING) {
        a->st = RULE_ST_NORMAL;
        a->since_ms = 0;
        a->last_update_ms = 0;
        a->peak = 0;
        a->clearing = 0;
        a->clear_since_ms = 0;
        return 1;
    }
    return 0;
}

/* *v + shift, saturating, then at most now; *bounded set when it was past
 * now. A zero stays zero (it means "none"), and a time does not become
 * zero by the move. */
static void restore__move(int64_t *v, int64_t shift, int64_t now, int *bounded)
{
    int64_t x;

    if (*v == 0)
        return;
    if (__builtin_add_overflow(*v, shift, &x))
        x = shift > 0 ? INT64_MAX : INT64_MIN + 1;
    if (x > now) {
        x = now;
        *bounded = 1;
    }
    *v = x != 0 ? x : -1;
}

static int restore__trend(const rule_trend_cfg_t *c, rule_trend_state_t *t, int64_t shift,
                          int64_t now_mono, int64_t now_wall, int64_t max_future_ms)
{
    int64_t max_wall = now_wall + max_future_ms;
    int bounded = 0;

    if (t->samples > 0)
        restore__move(&t->last_ts_ms, shift, now_mono, &bounded);
    if (c->day_ms > 0 && t->day >= 0 && t->day > max_wall / c->day_ms) {
        rule__trend_forget_days(t);
        bounded = 1;
    }
    if (t->opened_ms > max_wall) {
        t->opened_ms = now_wall;
        bounded = 1;
    }
    return bounded;
}

int rule_rebase(const rule_cfg_t *cfg, rule_state_t *st, int64_t shift_ms, int64_t now_mono,
                int64_t now_wall, int64_t max_future_ms)
{
    rule_threshold_state_t *a = &st->alarm;
    int bounded = 0;

    if (cfg->kind == RULE_TREND)
        return restore__trend(&cfg->u.trend, &st->u.trend, shift_ms, now_mono, now_wall,
                              max_future_ms);
    if (a->st != RULE_ST_NORMAL)
        restore__move(&a->since_ms, shift_ms, now_mono, &bounded);
    if (a->st == RULE_ST_FIRING)
        restore__move(&a->last_update_ms, shift_ms, now_mono, &bounded);
    if (a->st == RULE_ST_FIRING && a->clearing)
        restore__move(&a->clear_since_ms, shift_ms, now_mono, &bounded);
    if (a->samples > 0)
        restore__move(&a->last_ts_ms, shift_ms, now_mono, &bounded);
    restore__move(&st->last_good_ms, shift_ms, now_mono, &bounded);
    restore__move(&st->first_ms, shift_ms, now_mono, &bounded);
    if (cfg->kind == RULE_RATE) {
        rule_rate_state_t *r = &st->u.rate;
        for (int i = 0; i < r->n && i < RULE_RATE_RING; i++) {
            int j = (r->head - r->n + i + 2 * RULE_RATE_RING) % RULE_RATE_RING;
            restore__move(&r->ts[j], shift_ms, now_mono, &bounded);
        }
    }
    return bounded;
}
