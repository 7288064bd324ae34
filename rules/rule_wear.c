/*
 * rule_wear.c: one preventive order for several trends of one machine
 * (contract in rules/rule.h, "Wear"): what a trend rule published at its last
 * day close (rule_trend_outlook), and the combination of the members'
 * actions into the one order's (rule_wear_combine). Nothing is scored or
 * weighted: every member is judged by its own trend rule exactly as if it
 * were alone, and the order is open while any of them would be. Design in
 * docs/prediction.md, "Lifts: the other signs of wear". Pure: reads the
 * members' states, never writes them.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"

#include <math.h>
#include <string.h>

void rule_trend_outlook(const rule_cfg_t *cfg, const rule_state_t *st, rule_trend_outlook_t *o)
{
    const rule_trend_state_t *t = &st->u.trend;
    const rule_trend_cfg_t *c = &cfg->u.trend;

    memset(o, 0, sizeof(*o));
    o->level = NAN;
    o->model = -1;
    if (cfg->kind != RULE_TREND || st->kind != RULE_TREND)
        return;
    o->limit = c->limit;
    o->firing = t->firing;
    if (t->dn > 0 && t->dn <= RULE_TREND_MAX_DAYS && t->dhead >= 0 &&
        t->dhead < RULE_TREND_MAX_DAYS)
        o->level = t->days_y[(t->dhead - 1 + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS];
    o->at_limit = isfinite(o->level) &&
                  (t->firing ? o->level >= c->limit - c->hysteresis : o->level >= c->limit);
    o->crossing_ms = t->pred_c;
    o->earliest_ms = t->pred_lo;
    o->latest_ms = t->pred_hi;
    o->model = t->model;
    o->as_of_ms = t->last_pred_ms;
}

/* The trend's priority scale (rules/rule_trend.c: at the limit critical,
 * then by the days to the earliest date): for a member that did not act. */
static gw_priority_t wear__priority(const rule_trend_outlook_t *o, int64_t now_ms)
{
    double left;

    if (isfinite(o->level) && o->level >= o->limit)
        return GW_PRIO_CRITICAL;
    left = o->earliest_ms ? (double)(o->earliest_ms - now_ms) / 86400000.0 : 1e9;
    if (left > 7)
        return GW_PRIO_LOW;
    if (left > 3)
        return GW_PRIO_MEDIUM;
    return GW_PRIO_HIGH;
}

/* 1 when member x should drive rather than y: at its limit first, then the
 * earlier earliest date (none: last). */
static int wear__before(const rule_trend_outlook_t *x, const rule_trend_outlook_t *y)
{
    int64_t ex = x->earliest_ms ? x->earliest_ms : INT64_MAX;
    int64_t ey = y->earliest_ms ? y->earliest_ms : INT64_MAX;
    int lx = isfinite(x->level) && x->level >= x->limit;
    int ly = isfinite(y->level) && y->level >= y->limit;

    if (lx != ly)
        return lx;
    return ex < ey;
}

rule_action_kind_t rule_wear_combine(const rule_wear_member_t *m, int n, int acting,
                                     const rule_action_t *a, rule_action_t *out, int *driver)
{
    rule_trend_outlook_t o[RULE_WEAR_MAX];
    int others = 0, any = 0, d = -1;
    int before, after;

    n = n > RULE_WEAR_MAX ? RULE_WEAR_MAX : n;
    for (int i = 0; i < n; i++) {
        rule_trend_outlook(m[i].cfg, m[i].st, &o[i]);
        if (!o[i].firing)
            continue;
        any = 1;
        others |= i != acting;
        if (d < 0 || wear__before(&o[i], &o[d]))
            d = i;
    }
    /* Before this action the order was open when another member fired or
     * the acting one did (it only opens from not firing). */
    before = others || a->kind != RULE_ACT_OPEN;
    after = any;
    *out = *a;
    out->kind = !before && after   ? RULE_ACT_OPEN
                : before && !after ? RULE_ACT_RESOLVE
                                   : RULE_ACT_UPDATE;
    *driver = d >= 0 ? d : acting;
    out->has_priority = 1;
    if (*driver != acting)
        out->priority = wear__priority(&o[*driver], a->ts_ms);
    else if (!a->has_priority)
        out->priority = wear__priority(&o[acting], a->ts_ms);
    return out->kind;
}
