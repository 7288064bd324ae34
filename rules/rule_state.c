/*
 * rule_state.c: whether a rule state could have been made by the rules
 * (rule.h, rule_state_valid). States are plain data copied into
 * rules.state and read back at start (gateway/core/gw_rulestate.c); a
 * record that passes the file's checksum but holds fields no rule would
 * write (a ring index outside its array, a count past its ring, a time
 * beyond any calendar) is refused here, so that no rule ever indexes out
 * of its arrays or overflows a time difference on it. Found by fuzzing
 * (tests/fuzz/fuzz_rulestate.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"

/* Times a rule keeps: ms since 1970, or small sentinels (0, -1), within
 * +-2^53 (year 287,000), so that differences of two never overflow. */
#define RULE__T_MAX 9007199254740992LL

static int rule__time_ok(int64_t t)
{
    return t >= -RULE__T_MAX && t <= RULE__T_MAX;
}

/* A day index (ts / day_ms) whose start, day * day_ms, is still a time. */
static int rule__day_ok(const rule_trend_cfg_t *c, int64_t day)
{
    int64_t max = RULE__T_MAX / (c->day_ms > 0 ? c->day_ms : 1) - 1;

    return day >= -max && day <= max;
}

static int rule__ring_ok(int head, int n, int size, int limit)
{
    return head >= 0 && head < size && n >= 0 && n <= size && n <= limit;
}

static int rule__alarm_ok(const rule_state_t *st)
{
    const rule_threshold_state_t *a = &st->alarm;

    return (a->st == RULE_ST_NORMAL || a->st == RULE_ST_PENDING || a->st == RULE_ST_FIRING) &&
           rule__time_ok(a->since_ms) && rule__time_ok(a->last_update_ms) &&
           rule__time_ok(a->last_ts_ms) && rule__time_ok(st->last_good_ms) &&
           rule__time_ok(st->first_ms) && (a->clearing == 0 || a->clearing == 1) &&
           rule__time_ok(a->clear_since_ms);
}

static int rule__rate_ok(const rule_rate_state_t *r)
{
    if (!rule__ring_ok(r->head, r->n, RULE_RATE_RING, RULE_RATE_RING))
        return 0;
    for (int i = 0; i < RULE_RATE_RING; i++) {
        if (!rule__time_ok(r->ts[i]))
            return 0;
    }
    return 1;
}

static int rule__trend_ok(const rule_trend_cfg_t *c, const rule_trend_state_t *t)
{
    if (!rule__ring_ok(t->rhead, t->rn, RULE_SMOOTH_MAX, c->smooth_n) ||
        !rule__ring_ok(t->dhead, t->dn, RULE_TREND_MAX_DAYS, c->window_days) || t->learned < 0 ||
        t->learned > RULE__T_MAX || t->day_n < 0 || t->day_n > RULE__T_MAX)
        return 0;
    if (!rule__time_ok(t->opened_ms) || !rule__time_ok(t->last_pred_ms) ||
        !rule__time_ok(t->pred_c) || !rule__time_ok(t->pred_lo) || !rule__time_ok(t->pred_hi) ||
        !rule__time_ok(t->last_ts_ms))
        return 0;
    /* the quiet days' ring, the readings-per-day ring, the model in use */
    if (!rule__ring_ok(t->qhead, t->qn, RULE_TREND_QUIET, RULE_TREND_QUIET) || t->seen_head < 0 ||
        t->seen_head >= 8 || t->model < -1 || t->model > RULE_MODEL_KNEE || t->day_seen < 0 ||
        t->day_seen > RULE__T_MAX || t->same_n < 0 || t->model_streak < 0 || t->recovered < 0 ||
        t->soon_days < 0 || t->calm_days < 0)
        return 0;
    /* day indices: a day times day_ms must still be a time */
    if (!rule__day_ok(c, t->day) || !rule__day_ok(c, t->change_day))
        return 0;
    for (int i = 0; i < RULE_TREND_MAX_DAYS; i++) {
        if (!rule__day_ok(c, t->days_t[i]))
            return 0;
    }
    for (int i = 0; i < RULE_TREND_QUIET; i++) {
        if (!rule__day_ok(c, t->quiet_t[i]))
            return 0;
    }
    return 1;
}

int rule_state_valid(const rule_cfg_t *cfg, const rule_state_t *st)
{
    if (st->kind != cfg->kind || !rule__alarm_ok(st))
        return 0;
    switch (cfg->kind) {
    case RULE_RATE:
        return rule__rate_ok(&st->u.rate);
    case RULE_TREND:
        return rule__trend_ok(&cfg->u.trend, &st->u.trend);
    default:
        return 1; /* no indices, no times but the alarm's */
    }
}
